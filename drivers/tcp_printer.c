/* The network printer back end: raw TCP (port 9100), every connect, write and read under a timeout. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "drivers.h"

#define HOST_MAX 253
#define DEFAULT_PORT "9100"

typedef struct {
  tg__printer base;
  int fd;
} tcp_printer;

/* Waits until fd is ready for events or timeout_ms passes: 1 ready, 0 timeout, -1 error. */
static int wait_for(int fd, short events, int timeout_ms) {
  struct pollfd p = {fd, events, 0};
  int rc;
  do
    rc = poll(&p, 1, timeout_ms);
  while (rc < 0 && errno == EINTR);
  return rc;
}

static int tcp_write(tg__printer *p, const unsigned char *b, size_t n, size_t *sent, char *why,
                     size_t cap) {
  tcp_printer *t = (tcp_printer *)p;
  *sent = 0;
  while (*sent < n) {
    int ready = wait_for(t->fd, POLLOUT, p->timeout_ms);
    if (ready == 0) {
      snprintf(why, cap, "the network printer stopped taking data after %zu of %zu bytes", *sent,
               n);
      return TG__DRV_TIMEOUT;
    }
    ssize_t k = ready > 0 ? send(t->fd, b + *sent, n - *sent, MSG_NOSIGNAL) : -1;
    if (k < 0 && (errno == EAGAIN || errno == EINTR))
      continue;
    if (k <= 0) {
      snprintf(why, cap, "the network printer closed the connection after %zu of %zu bytes: %s",
               *sent, n, k < 0 ? strerror(errno) : "closed");
      return TG__DRV_NODEV;
    }
    *sent += (size_t)k;
  }
  return TG__DRV_OK;
}

static int tcp_read(tg__printer *p, unsigned char *b, size_t n, size_t *got, char *why,
                    size_t cap) {
  tcp_printer *t = (tcp_printer *)p;
  *got = 0;
  int ready = wait_for(t->fd, POLLIN, p->timeout_ms);
  if (ready == 0) {
    snprintf(why, cap, "the network printer did not answer");
    return TG__DRV_TIMEOUT;
  }
  ssize_t k = ready > 0 ? recv(t->fd, b, n, 0) : -1;
  if (k <= 0) {
    snprintf(why, cap, "the network printer closed the connection");
    return TG__DRV_NODEV;
  }
  *got = (size_t)k;
  return TG__DRV_OK;
}

static void tcp_close(tg__printer *p) {
  tcp_printer *t = (tcp_printer *)p;
  if (t->fd >= 0)
    close(t->fd);
  free(t);
}

static const tg__printer_ops tcp_ops = {tcp_write, tcp_read, tcp_close};

/* Splits "HOST[:PORT]" or "[V6]:PORT" into host and port; -1 when it is not one. */
static int split(const char *rest, char host[HOST_MAX + 1], char port[6]) {
  const char *colon, *h = rest;
  size_t n;
  if (*rest == '[') {
    const char *end = strchr(rest, ']');
    if (end == NULL)
      return -1;
    h = rest + 1;
    n = (size_t)(end - h);
    colon = end[1] == ':' ? end + 1 : (end[1] == '\0' ? NULL : end);
    if (colon == end)
      return -1;
  } else {
    colon = strchr(rest, ':');
    n = colon != NULL ? (size_t)(colon - rest) : strlen(rest);
  }
  if (n == 0 || n > HOST_MAX)
    return -1;
  memcpy(host, h, n);
  host[n] = '\0';
  if (strpbrk(host, "/?#@ ") != NULL)
    return -1;
  const char *p = colon != NULL ? colon + 1 : DEFAULT_PORT;
  size_t k = strlen(p);
  if (k == 0 || k > 5 || strspn(p, "0123456789") != k || strtol(p, NULL, 10) < 1 ||
      strtol(p, NULL, 10) > 65535)
    return -1;
  memcpy(port, p, k + 1);
  return 0;
}

/* Connects to one address within timeout_ms; the socket or -1 with errno. */
static int connect_one(const struct addrinfo *a, int timeout_ms) {
  int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
  if (fd < 0)
    return -1;
  if (connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
    int err = 0;
    socklen_t len = sizeof err;
    if (errno != EINPROGRESS)
      goto fail;
    int ready = wait_for(fd, POLLOUT, timeout_ms);
    if (ready <= 0) {
      errno = ready == 0 ? ETIMEDOUT : errno;
      goto fail;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
      errno = err != 0 ? err : errno;
      goto fail;
    }
  }
  return fd;
fail: {
  int saved = errno;
  close(fd);
  errno = saved;
  return -1;
}
}

int tg__tcp_printer_open(const char *rest, int timeout_ms, tg__printer **out, char *why,
                         size_t cap) {
  char host[HOST_MAX + 1], port[6];
  struct addrinfo hints = {0}, *res = NULL;
  tcp_printer *t;
  int fd = -1, err = 0;
  *out = NULL;
  if (split(rest, host, port) != 0) {
    snprintf(why, cap, "a network printer is tcp://HOST[:PORT] (port 1-65535), not tcp://%.64s",
             rest);
    return TG__DRV_BAD;
  }
  hints.ai_socktype = SOCK_STREAM;
  if ((err = getaddrinfo(host, port, &hints, &res)) != 0) {
    snprintf(why, cap, "cannot find the network printer %s: %s", host, gai_strerror(err));
    return TG__DRV_NODEV;
  }
  for (const struct addrinfo *a = res; a != NULL && fd < 0; a = a->ai_next)
    if ((fd = connect_one(a, timeout_ms)) < 0)
      err = errno;
  freeaddrinfo(res);
  if (fd < 0) {
    snprintf(why, cap, "cannot reach the network printer %s port %s: %s", host, port,
             strerror(err));
    return err == ETIMEDOUT ? TG__DRV_TIMEOUT : TG__DRV_NODEV;
  }
  if ((t = calloc(1, sizeof *t)) == NULL) {
    close(fd);
    snprintf(why, cap, "out of memory");
    return TG__DRV_NOMEM;
  }
  t->fd = fd;
  t->base.ops = &tcp_ops;
  t->base.timeout_ms = timeout_ms;
  snprintf(t->base.spec, sizeof t->base.spec, "tcp://%s:%s", host, port);
  *out = &t->base;
  return TG__DRV_OK;
}
