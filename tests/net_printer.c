/* A network receipt printer on loopback for the tests: records jobs, answers DLE EOT, misbehaves on request. */
#include "net_printer.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define RECEIVED_MAX (32u << 20)

struct tt_net_printer {
  int listener, stop_pipe[2];
  pthread_t thread;
  pthread_mutex_t lock;
  char spec[64];
  tt_net_mode mode;
  size_t after;
  unsigned char status[5];
  unsigned char *got;
  size_t n_got;
};

static void keep(tt_net_printer *p, unsigned char c) {
  if (p->n_got < RECEIVED_MAX)
    p->got[p->n_got++] = c;
}

/*
 * Reads b[0..n) as a printer does: DLE EOT n (state 1 after DLE, 2 after DLE
 * EOT) is a status request, answered unless silent and not kept as job data.
 */
static void take(tt_net_printer *p, int fd, const unsigned char *b, size_t n, int *state) {
  pthread_mutex_lock(&p->lock);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = b[i];
    if (*state == 2 && c >= 1 && c <= 4) {
      *state = 0;
      if (p->mode != TT_NET_SILENT)
        (void)!send(fd, &p->status[c], 1, MSG_NOSIGNAL);
      continue;
    }
    if (*state == 1 && c == 0x04) {
      *state = 2;
      continue;
    }
    if (*state >= 1) /* what looked like a request was data */
      keep(p, 0x10);
    if (*state == 2)
      keep(p, 0x04);
    *state = c == 0x10;
    if (c != 0x10)
      keep(p, c);
  }
  pthread_mutex_unlock(&p->lock);
}

/* Serves one connection until it closes, the mode ends it, or the printer stops. */
static void serve(tt_net_printer *p, int fd) {
  unsigned char buf[4096];
  size_t read_bytes = 0;
  int state = 0;
  for (;;) {
    pthread_mutex_lock(&p->lock);
    tt_net_mode mode = p->mode;
    size_t after = p->after;
    pthread_mutex_unlock(&p->lock);
    struct pollfd f[2] = {{fd, mode == TT_NET_STALL ? 0 : POLLIN, 0},
                          {p->stop_pipe[0], POLLIN, 0}};
    if (poll(f, 2, 50) < 0 || f[1].revents != 0)
      return;
    if (f[0].revents == 0)
      continue;
    size_t want = sizeof buf;
    if (mode == TT_NET_CLOSE && after - read_bytes < want)
      want = after - read_bytes;
    ssize_t k = want > 0 ? recv(fd, buf, want, 0) : 0;
    if (k <= 0)
      return;
    read_bytes += (size_t)k;
    take(p, fd, buf, (size_t)k, &state);
    if (mode == TT_NET_CLOSE && read_bytes >= after)
      return;
  }
}

static void *run(void *arg) {
  tt_net_printer *p = arg;
  for (;;) {
    struct pollfd f[2] = {{p->listener, POLLIN, 0}, {p->stop_pipe[0], POLLIN, 0}};
    if (poll(f, 2, -1) < 0 || f[1].revents != 0)
      return NULL;
    int fd = accept(p->listener, NULL, NULL);
    if (fd < 0)
      continue;
    serve(p, fd);
    close(fd);
  }
}

tt_net_printer *tt_net_printer_start(void) {
  tt_net_printer *p = calloc(1, sizeof *p);
  struct sockaddr_in a = {0};
  socklen_t len = sizeof a;
  if (p == NULL || (p->got = malloc(RECEIVED_MAX)) == NULL)
    goto fail;
  p->listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (p->listener < 0 || bind(p->listener, (struct sockaddr *)&a, sizeof a) != 0 ||
      listen(p->listener, 4) != 0 || getsockname(p->listener, (struct sockaddr *)&a, &len) != 0 ||
      pipe(p->stop_pipe) != 0)
    goto fail;
  snprintf(p->spec, sizeof p->spec, "tcp://127.0.0.1:%d", ntohs(a.sin_port));
  memset(p->status, 0x12, sizeof p->status);
  pthread_mutex_init(&p->lock, NULL);
  if (pthread_create(&p->thread, NULL, run, p) != 0)
    goto fail;
  return p;
fail:
  if (p != NULL)
    free(p->got);
  free(p);
  return NULL;
}

void tt_net_printer_stop(tt_net_printer *p) {
  if (p == NULL)
    return;
  (void)!write(p->stop_pipe[1], "x", 1);
  pthread_join(p->thread, NULL);
  close(p->listener);
  close(p->stop_pipe[0]);
  close(p->stop_pipe[1]);
  pthread_mutex_destroy(&p->lock);
  free(p->got);
  free(p);
}

const char *tt_net_printer_spec(const tt_net_printer *p) { return p->spec; }

void tt_net_printer_mode(tt_net_printer *p, tt_net_mode mode, size_t after) {
  pthread_mutex_lock(&p->lock);
  p->mode = mode;
  p->after = after;
  pthread_mutex_unlock(&p->lock);
}

void tt_net_printer_status(tt_net_printer *p, int n, unsigned char status) {
  pthread_mutex_lock(&p->lock);
  p->status[n] = status;
  pthread_mutex_unlock(&p->lock);
}

size_t tt_net_printer_received(tt_net_printer *p, unsigned char *out, size_t cap) {
  pthread_mutex_lock(&p->lock);
  size_t n = p->n_got;
  if (out != NULL)
    memcpy(out, p->got, n < cap ? n : cap);
  pthread_mutex_unlock(&p->lock);
  return n;
}

void tt_net_printer_clear(tt_net_printer *p) {
  pthread_mutex_lock(&p->lock);
  p->n_got = 0;
  pthread_mutex_unlock(&p->lock);
}
