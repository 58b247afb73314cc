/* The USB receipt printer back end: bulk OUT for the job, bulk IN for its status. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivers.h"

typedef struct {
  tg__printer base;
  tg__usb_handle *usb;
} usb_printer;

static int usb_write(tg__printer *p, const unsigned char *b, size_t n, size_t *sent, char *why,
                     size_t cap) {
  return tg__usb_write(((usb_printer *)p)->usb, b, n, p->timeout_ms, sent, why, cap);
}

static int usb_read(tg__printer *p, unsigned char *b, size_t n, size_t *got, char *why,
                    size_t cap) {
  return tg__usb_read(((usb_printer *)p)->usb, b, n, p->timeout_ms, got, why, cap);
}

static void usb_close(tg__printer *p) {
  tg__usb_close(((usb_printer *)p)->usb);
  free(p);
}

static const tg__printer_ops usb_ops = {usb_write, usb_read, usb_close};

int tg__usb_printer_open(const char *rest, int timeout_ms, tg__printer **out, char *why,
                         size_t cap) {
  uint16_t vid, pid;
  tg__usb_device found;
  usb_printer *u;
  *out = NULL;
  if (tg__usb_spec(rest, &vid, &pid) != 0) {
    snprintf(why, cap, "a USB printer is usb or usb:VVVV:PPPP (hex ids), not usb%.32s", rest);
    return TG__DRV_BAD;
  }
  if ((u = calloc(1, sizeof *u)) == NULL) {
    snprintf(why, cap, "out of memory");
    return TG__DRV_NOMEM;
  }
  int rc = tg__usb_open(TG__USB_PRINTER, vid, pid, &u->usb, &found, why, cap);
  if (rc != TG__DRV_OK) {
    free(u);
    return rc;
  }
  u->base.ops = &usb_ops;
  u->base.timeout_ms = timeout_ms;
  snprintf(u->base.spec, sizeof u->base.spec, "usb:%04x:%04x", found.vid, found.pid);
  memcpy(u->base.model, found.model, sizeof u->base.model);
  *out = &u->base;
  return TG__DRV_OK;
}
