/* Barcode scanners: a USB HID boot keyboard read over libusb, or a keyboard-wedge scanner on stdin. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "drivers.h"

#define DEFAULT_GAP_MS 100
#define REPORT_LEN 8

struct tg__scanner {
  tg__usb_handle *usb; /* NULL: lines on stdin */
  tg__hid_scan hid;    /* USB: the scan being typed */
  int64_t listened_ms; /* USB: time spent waiting on the scanner, the clock gaps are measured on */
  char line[TG__SCAN_MAX]; /* stdin: the line being read */
  size_t n_line;
  int overflow, unprintable;
};

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int tg__scanner_open(const char *spec, int tab, int gap_ms, tg__scanner **out, char *why,
                     size_t cap) {
  tg__scanner *s;
  uint16_t vid = 0, pid = 0;
  int stdin_mode = spec != NULL && strcmp(spec, "stdin") == 0;
  *out = NULL;
  if (!stdin_mode && (spec == NULL || strncmp(spec, "usb", 3) != 0 ||
                      tg__usb_spec(spec + 3, &vid, &pid) != 0)) {
    snprintf(why, cap, "the scanner is usb, usb:VVVV:PPPP or stdin, not \"%.64s\"",
             spec != NULL ? spec : "");
    return TG__DRV_BAD;
  }
  if ((s = calloc(1, sizeof *s)) == NULL) {
    snprintf(why, cap, "out of memory");
    return TG__DRV_NOMEM;
  }
  tg__hid_scan_init(&s->hid, tab, gap_ms > 0 ? gap_ms : DEFAULT_GAP_MS);
  if (!stdin_mode) {
    int rc = tg__usb_open(TG__USB_SCANNER, vid, pid, &s->usb, NULL, why, cap);
    if (rc != TG__DRV_OK) {
      free(s);
      return rc;
    }
  }
  *out = s;
  return TG__DRV_OK;
}

/* Ends the stdin line: 1 with it in out, TG__SCAN_DROPPED, or 0 when empty. */
static int end_line(tg__scanner *s, char *out, size_t cap, char *why, size_t why_cap) {
  int rc = 0;
  if (s->overflow) {
    rc = TG__SCAN_DROPPED;
    snprintf(why, why_cap, "a scan longer than %d characters was dropped", TG__SCAN_MAX);
  } else if (s->unprintable) {
    rc = TG__SCAN_DROPPED;
    snprintf(why, why_cap, "a scan with a character that is not printable was dropped");
  } else if (s->n_line > 0 && s->n_line < cap) {
    memcpy(out, s->line, s->n_line);
    out[s->n_line] = '\0';
    rc = 1;
  }
  s->n_line = 0;
  s->overflow = s->unprintable = 0;
  return rc;
}

/* Reads stdin until a line ends or the deadline passes. */
static int read_stdin(tg__scanner *s, int64_t deadline, char *out, size_t cap, char *why,
                      size_t why_cap) {
  for (;;) {
    unsigned char c;
    int wait = (int)(deadline - now_ms());
    struct pollfd p = {STDIN_FILENO, POLLIN, 0};
    int ready = poll(&p, 1, wait > 0 ? wait : 0);
    if (ready < 0 && errno == EINTR)
      continue;
    if (ready == 0)
      return 0;
    ssize_t k = ready > 0 ? read(STDIN_FILENO, &c, 1) : -1;
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0) {
      snprintf(why, why_cap, "standard input ended");
      return TG__DRV_NODEV;
    }
    if (c == (s->hid.tab ? '\t' : '\n')) {
      int rc = end_line(s, out, cap, why, why_cap);
      if (rc != 0)
        return rc;
    } else if (c == '\r' && !s->hid.tab) {
      continue; /* CR LF */
    } else if (c < 0x20 || c > 0x7E) {
      s->unprintable = 1;
    } else if (s->n_line == TG__SCAN_MAX) {
      s->overflow = 1;
    } else {
      s->line[s->n_line++] = (char)c;
    }
  }
}

int tg__scanner_read(tg__scanner *s, int timeout_ms, char *out, size_t cap, char *why,
                     size_t why_cap) {
  int64_t deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
  if (s->usb == NULL)
    return read_stdin(s, deadline, out, cap, why, why_cap);
  for (;;) {
    unsigned char report[64];
    size_t got;
    int64_t left = deadline - now_ms();
    int wait = (int)(left < s->hid.gap_ms ? left : s->hid.gap_ms);
    int64_t start = now_ms();
    int rc = tg__usb_read(s->usb, report, sizeof report, wait > 0 ? wait : 1, &got, why, why_cap);
    s->listened_ms += now_ms() - start;
    if (rc == TG__DRV_TIMEOUT)
      got = 0;
    else if (rc != TG__DRV_OK)
      return rc;
    int done = got >= REPORT_LEN ? tg__hid_scan_feed(&s->hid, report, s->listened_ms, why, why_cap)
                                 : tg__hid_scan_idle(&s->hid, s->listened_ms, why, why_cap);
    if (done == 1) {
      if (s->hid.n >= cap) {
        snprintf(why, why_cap, "a scan of %zu characters did not fit the caller's buffer", s->hid.n);
        return TG__SCAN_DROPPED;
      }
      memcpy(out, s->hid.text, s->hid.n + 1);
      return 1;
    }
    if (done < 0)
      return TG__SCAN_DROPPED;
    if (now_ms() >= deadline)
      return 0;
  }
}

void tg__scanner_close(tg__scanner *s) {
  if (s == NULL)
    return;
  tg__usb_close(s->usb);
  free(s);
}
