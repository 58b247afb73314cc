/* A loopback HTTP/1.1 proxy for the sync tests: forwards to HQ, and fails on purpose where told. */
#include "hq_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define HEAD_MAX 16384
#define BODY_MAX (8 * 1024 * 1024)
#define PLAN_MAX 32
#define WAIT_MS 15000 /* longest the proxy waits on anyone: every test stays bounded */

struct tp_proxy {
  int listen_fd;
  int port;
  pthread_t thread;
  pthread_mutex_t mu;
  int upstream; /* guarded by mu, as are the fields below */
  tp_action plan[PLAN_MAX];
  int n_plan, next;
  int posts, forwarded;
  void (*kill)(void *ctx);
  void *kill_ctx;
  volatile int stop;
};

typedef struct {
  char *data; /* head and body, as received */
  size_t n, head_len, body_len;
} message;

/* Waits until fd is readable; 0 ready, -1 timeout or stop. */
static int wait_readable(tp_proxy *p, int fd, int ms) {
  struct pollfd pfd = {fd, POLLIN, 0};
  for (int waited = 0; waited < ms && !p->stop; waited += 100)
    if (poll(&pfd, 1, 100) > 0)
      return 0;
  return -1;
}

static int send_all(int fd, const char *z, size_t n) {
  while (n > 0) {
    ssize_t w = send(fd, z, n, MSG_NOSIGNAL);
    if (w <= 0)
      return -1;
    z += w;
    n -= (size_t)w;
  }
  return 0;
}

/* The Content-Length of a head, 0 when absent. */
static size_t content_length(const char *head, size_t n) {
  for (size_t i = 0; i + 16 < n; i++)
    if ((i == 0 || head[i - 1] == '\n') && strncasecmp(head + i, "content-length:", 15) == 0)
      return (size_t)strtoull(head + i + 15, NULL, 10);
  return 0;
}

/* Reads one HTTP message (head, then a Content-Length body) from fd. 0, or -1 closed/timeout. */
static int read_message(tp_proxy *p, int fd, message *m) {
  memset(m, 0, sizeof *m);
  size_t cap = HEAD_MAX;
  m->data = malloc(cap + 1);
  if (m->data == NULL)
    return -1;
  for (;;) {
    if (m->head_len == 0 && m->n >= 4) {
      m->data[m->n] = '\0';
      char *end = strstr(m->data, "\r\n\r\n");
      if (end != NULL) {
        m->head_len = (size_t)(end + 4 - m->data);
        m->body_len = content_length(m->data, m->head_len);
        if (m->body_len > BODY_MAX)
          return -1;
        if (m->head_len + m->body_len > cap) {
          char *grown = realloc(m->data, m->head_len + m->body_len + 1);
          if (grown == NULL)
            return -1;
          m->data = grown;
          cap = m->head_len + m->body_len;
        }
      } else if (m->n == cap) {
        return -1;
      }
    }
    if (m->head_len > 0 && m->n >= m->head_len + m->body_len)
      return 0;
    if (wait_readable(p, fd, WAIT_MS) != 0)
      return -1;
    size_t want = m->head_len > 0 ? m->head_len + m->body_len - m->n : cap - m->n;
    ssize_t r = recv(fd, m->data + m->n, want, 0);
    if (r <= 0)
      return -1;
    m->n += (size_t)r;
  }
}

static int connect_upstream(tp_proxy *p) {
  pthread_mutex_lock(&p->mu);
  int port = p->upstream;
  pthread_mutex_unlock(&p->mu);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    close(fd);
    fd = -1;
  }
  return fd;
}

/* Sends the request to HQ on a fresh connection and reads its answer (POSTs
 * that got one are counted). 0 or -1. */
static int forward(tp_proxy *p, const message *req, message *answer) {
  int fd = connect_upstream(p);
  memset(answer, 0, sizeof *answer);
  if (fd < 0)
    return -1;
  int rc = send_all(fd, req->data, req->n) == 0 ? read_message(p, fd, answer) : -1;
  close(fd);
  if (rc == 0 && strncmp(req->data, "POST ", 5) == 0) {
    pthread_mutex_lock(&p->mu);
    p->forwarded++;
    pthread_mutex_unlock(&p->mu);
  }
  return rc;
}

/* Holds fd silent until its peer gives up and closes (or WAIT_MS passes). */
static void stall(tp_proxy *p, int fd) {
  char sink[512];
  while (wait_readable(p, fd, WAIT_MS) == 0 && recv(fd, sink, sizeof sink, 0) > 0)
    ;
}

static tp_action next_action(tp_proxy *p, const message *req) {
  tp_action a = TP_PASS;
  if (strncmp(req->data, "POST ", 5) != 0)
    return a;
  pthread_mutex_lock(&p->mu);
  p->posts++;
  if (p->next < p->n_plan)
    a = p->plan[p->next++];
  pthread_mutex_unlock(&p->mu);
  return a;
}

/* Serves one request on client fd; returns 0 to keep the connection, -1 to close it. */
static int serve_one(tp_proxy *p, int fd) {
  message req, answer;
  memset(&answer, 0, sizeof answer);
  if (read_message(p, fd, &req) != 0) {
    free(req.data);
    return -1;
  }
  tp_action a = next_action(p, &req);
  int keep = -1;
  static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\n"
                             "Content-Type: application/json\r\nContent-Length: 16\r\n\r\n"
                             "{\"error\":\"busy\"}";
  static const char broken[] = "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n";
  switch (a) {
  case TP_503:
    keep = send_all(fd, busy, sizeof busy - 1);
    break;
  case TP_500:
    keep = send_all(fd, broken, sizeof broken - 1);
    break;
  case TP_CLOSE_MID_BODY:
  case TP_STALL:
    if (a == TP_STALL)
      stall(p, fd);
    break;
  case TP_KILL_HQ: {
    int up = connect_upstream(p);
    if (up >= 0) {
      send_all(up, req.data, req.head_len + req.body_len / 2);
      usleep(100 * 1000);
    }
    pthread_mutex_lock(&p->mu);
    void (*kill_fn)(void *) = p->kill;
    void *ctx = p->kill_ctx;
    pthread_mutex_unlock(&p->mu);
    if (kill_fn != NULL)
      kill_fn(ctx);
    if (up >= 0)
      close(up);
    break;
  }
  case TP_TWICE:
    if (forward(p, &req, &answer) == 0) {
      free(answer.data);
      if (forward(p, &req, &answer) == 0)
        keep = send_all(fd, answer.data, answer.n);
    }
    break;
  case TP_PASS:
  case TP_STALL_AFTER:
  case TP_DROP_ANSWER:
  case TP_TRUNCATE_ANSWER:
  case TP_GARBLE_ANSWER:
    if (forward(p, &req, &answer) != 0)
      break;
    if (a == TP_PASS)
      keep = send_all(fd, answer.data, answer.n);
    else if (a == TP_STALL_AFTER)
      stall(p, fd);
    else if (a == TP_TRUNCATE_ANSWER)
      send_all(fd, answer.data, answer.head_len + answer.body_len / 2);
    else if (a == TP_GARBLE_ANSWER) {
      for (size_t i = answer.head_len; i < answer.n; i++)
        answer.data[i] = (char)(answer.data[i] ^ 0x5a);
      keep = send_all(fd, answer.data, answer.n);
    }
    break;
  }
  free(req.data);
  free(answer.data);
  return keep;
}

static void *run(void *arg) {
  tp_proxy *p = arg;
  while (!p->stop) {
    if (wait_readable(p, p->listen_fd, 1000) != 0)
      continue;
    int fd = accept(p->listen_fd, NULL, NULL);
    if (fd < 0)
      continue;
    while (!p->stop && serve_one(p, fd) == 0)
      ;
    close(fd);
  }
  return NULL;
}

tp_proxy *tp_start(int upstream_port) {
  tp_proxy *p = calloc(1, sizeof *p);
  if (p == NULL)
    return NULL;
  p->upstream = upstream_port;
  pthread_mutex_init(&p->mu, NULL);
  struct sockaddr_in a = {.sin_family = AF_INET};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  p->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
  if (p->listen_fd < 0 || bind(p->listen_fd, (struct sockaddr *)&a, sizeof a) != 0 ||
      listen(p->listen_fd, 8) != 0 ||
      getsockname(p->listen_fd, (struct sockaddr *)&a, &len) != 0 ||
      pthread_create(&p->thread, NULL, run, p) != 0) {
    if (p->listen_fd >= 0)
      close(p->listen_fd);
    pthread_mutex_destroy(&p->mu);
    free(p);
    return NULL;
  }
  p->port = ntohs(a.sin_port);
  return p;
}

int tp_port(const tp_proxy *p) { return p->port; }

void tp_set_upstream(tp_proxy *p, int port) {
  pthread_mutex_lock(&p->mu);
  p->upstream = port;
  pthread_mutex_unlock(&p->mu);
}

void tp_plan(tp_proxy *p, const tp_action *plan, int n) {
  pthread_mutex_lock(&p->mu);
  p->n_plan = n < PLAN_MAX ? n : PLAN_MAX;
  memcpy(p->plan, plan, (size_t)p->n_plan * sizeof *plan);
  p->next = 0;
  pthread_mutex_unlock(&p->mu);
}

void tp_on_kill(tp_proxy *p, void (*fn)(void *ctx), void *ctx) {
  pthread_mutex_lock(&p->mu);
  p->kill = fn;
  p->kill_ctx = ctx;
  pthread_mutex_unlock(&p->mu);
}

int tp_posts(const tp_proxy *p) {
  pthread_mutex_lock((pthread_mutex_t *)&p->mu);
  int n = p->posts;
  pthread_mutex_unlock((pthread_mutex_t *)&p->mu);
  return n;
}

int tp_forwarded(const tp_proxy *p) {
  pthread_mutex_lock((pthread_mutex_t *)&p->mu);
  int n = p->forwarded;
  pthread_mutex_unlock((pthread_mutex_t *)&p->mu);
  return n;
}

void tp_stop(tp_proxy *p) {
  if (p == NULL)
    return;
  p->stop = 1;
  pthread_join(p->thread, NULL);
  close(p->listen_fd);
  pthread_mutex_destroy(&p->mu);
  free(p);
}
