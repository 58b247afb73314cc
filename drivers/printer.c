/* Receipt printers behind one interface: opening by spec, writing, and asking DLE EOT status. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "drivers.h"

#define STATUS_READ_MAX 16 /* a status answer is one byte; stray ones before it are skipped */

static int say(int rc, char *why, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int say(int rc, char *why, size_t cap, const char *fmt, ...) {
  if (why != NULL && cap > 0) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, cap, fmt, ap);
    va_end(ap);
  }
  return rc;
}

int tg__printer_open(const char *spec, int timeout_ms, tg__printer **out, char *why, size_t cap) {
  *out = NULL;
  if (timeout_ms <= 0)
    timeout_ms = TG__DRV_TIMEOUT_MS;
  if (spec == NULL || strnlen(spec, TG__DRV_SPEC_MAX) == TG__DRV_SPEC_MAX)
    return say(TG__DRV_BAD, why, cap, "the printer is missing or its name is too long");
  if (strncmp(spec, "usb", 3) == 0 && (spec[3] == '\0' || spec[3] == ':'))
    return tg__usb_printer_open(spec + 3, timeout_ms, out, why, cap);
  if (strncmp(spec, "tcp://", 6) == 0)
    return tg__tcp_printer_open(spec + 6, timeout_ms, out, why, cap);
  if (strncmp(spec, "file:", 5) == 0 && spec[5] != '\0')
    return tg__file_printer_open(spec + 5, timeout_ms, out, why, cap);
  return say(TG__DRV_BAD, why, cap,
             "the printer is usb, usb:VVVV:PPPP, tcp://HOST[:PORT] or file:PATH, not \"%.64s\"",
             spec);
}

int tg__printer_write(tg__printer *p, const void *b, size_t n, size_t *sent, char *why,
                      size_t cap) {
  return p->ops->write(p, b, n, sent, why, cap);
}

/* Sends DLE EOT n and reads its answer into st. */
static int ask(tg__printer *p, int n, tg__status *st, char *why, size_t cap) {
  unsigned char req[3] = {0x10, 0x04, (unsigned char)n}, got[STATUS_READ_MAX];
  size_t sent, k = 0;
  int rc = p->ops->write(p, req, sizeof req, &sent, why, cap);
  if (rc != TG__DRV_OK)
    return rc;
  if ((rc = p->ops->read(p, got, sizeof got, &k, why, cap)) != TG__DRV_OK)
    return rc;
  if (k == 0)
    return say(TG__DRV_TIMEOUT, why, cap, "the printer did not answer its status request");
  if (tg__status_decode(n, got[k - 1], st) != TG__DRV_OK)
    return say(TG__DRV_BAD, why, cap, "the printer answered DLE EOT %d with 0x%02x, not a status",
               n, got[k - 1]);
  return TG__DRV_OK;
}

int tg__printer_status(tg__printer *p, tg__status *st, char *why, size_t cap) {
  static const int order[] = {1, 2, 4};
  memset(st, 0, sizeof *st);
  if (p->ops->read == NULL)
    return say(TG__DRV_UNSUPPORTED, why, cap, "%s cannot report its status", p->spec);
  for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
    int rc = ask(p, order[i], st, why, cap);
    if (rc != TG__DRV_OK)
      return rc;
  }
  return st->error ? ask(p, 3, st, why, cap) : TG__DRV_OK;
}

const char *tg__printer_model(const tg__printer *p) { return p->model; }

const char *tg__printer_spec(const tg__printer *p) { return p->spec; }

void tg__printer_close(tg__printer *p) {
  if (p != NULL)
    p->ops->close(p);
}
