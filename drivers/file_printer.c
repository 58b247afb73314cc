/* The file printer back end: a device node such as /dev/usb/lp0, or a file the job is appended to. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drivers.h"

typedef struct {
  tg__printer base;
  int fd;
} file_printer;

static int file_write(tg__printer *p, const unsigned char *b, size_t n, size_t *sent, char *why,
                      size_t cap) {
  file_printer *f = (file_printer *)p;
  *sent = 0;
  while (*sent < n) {
    ssize_t k = write(f->fd, b + *sent, n - *sent);
    if (k < 0 && errno == EINTR)
      continue;
    if (k < 0 && errno == EAGAIN) { /* a device node that is not taking data */
      struct pollfd pf = {f->fd, POLLOUT, 0};
      if (poll(&pf, 1, p->timeout_ms) == 0) {
        snprintf(why, cap, "%s stopped taking data after %zu of %zu bytes", p->spec, *sent, n);
        return TG__DRV_TIMEOUT;
      }
      continue;
    }
    if (k <= 0) {
      int e = k < 0 ? errno : EIO;
      snprintf(why, cap, "cannot write to %s after %zu of %zu bytes: %s", p->spec, *sent, n,
               strerror(e));
      return e == ENODEV || e == ENXIO ? TG__DRV_NODEV : TG__DRV_IO;
    }
    *sent += (size_t)k;
  }
  return TG__DRV_OK;
}

static void file_close(tg__printer *p) {
  file_printer *f = (file_printer *)p;
  if (f->fd >= 0)
    close(f->fd);
  free(f);
}

static const tg__printer_ops file_ops = {file_write, NULL, file_close};

int tg__file_printer_open(const char *path, int timeout_ms, tg__printer **out, char *why,
                          size_t cap) {
  file_printer *f;
  *out = NULL;
  int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK | O_NOCTTY, 0644);
  if (fd < 0) {
    int e = errno;
    snprintf(why, cap, "cannot open the printer file %.200s: %s", path, strerror(e));
    return e == EACCES || e == EPERM ? TG__DRV_ACCESS : e == EBUSY ? TG__DRV_BUSY : TG__DRV_NODEV;
  }
  if ((f = calloc(1, sizeof *f)) == NULL) {
    close(fd);
    snprintf(why, cap, "out of memory");
    return TG__DRV_NOMEM;
  }
  f->fd = fd;
  f->base.ops = &file_ops;
  f->base.timeout_ms = timeout_ms;
  snprintf(f->base.spec, sizeof f->base.spec, "file:%s", path);
  *out = &f->base;
  return TG__DRV_OK;
}
