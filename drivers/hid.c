/* USB HID boot-keyboard reports from a barcode scanner assembled into scans (US layout). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "drivers.h"

#define KEY_ENTER 0x28
#define KEY_TAB 0x2B
#define KEYPAD_ENTER 0x58
#define ROLLOVER 0x01             /* ErrorRollOver: too many keys held, the report means nothing */
#define SHIFT_MASK (0x02 | 0x20)  /* left and right shift in the modifier byte */

/* Usages 0x1E..0x38 (digits, then space and punctuation), plain and shifted. */
static const char rows[2][28] = {"1234567890\0\0\0\0 -=[]\\\0;'`,./",
                                 "!@#$%^&*()\0\0\0\0 _+{}|\0:\"~<>?"};
/* Keypad usages 0x54..0x63, the same shifted or not (Num Lock on). */
static const char keypad[] = "/*-+\0" "1234567890.";

char tg__hid_ascii(unsigned char usage, int shift) {
  if (usage >= 0x04 && usage <= 0x1D)
    return (char)((shift ? 'A' : 'a') + (usage - 0x04));
  if (usage >= 0x1E && usage <= 0x38)
    return rows[shift != 0][usage - 0x1E];
  if (usage >= 0x54 && usage <= 0x63)
    return keypad[usage - 0x54];
  return 0;
}

static int say(char *why, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int say(char *why, size_t cap, const char *fmt, ...) {
  if (why != NULL && cap > 0) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, cap, fmt, ap);
    va_end(ap);
  }
  return -1;
}

static void restart(tg__hid_scan *s) {
  s->n_part = 0;
  s->overflow = 0;
  s->unmapped = 0;
  s->crowded = 0;
}

void tg__hid_scan_init(tg__hid_scan *s, int tab, int gap_ms) {
  memset(s, 0, sizeof *s);
  s->tab = tab != 0;
  s->gap_ms = gap_ms;
}

static int typing(const tg__hid_scan *s) {
  return s->n_part > 0 || s->overflow || s->unmapped || s->crowded;
}

/* Ends the scan being typed; 1 when it is kept as s->text, -1 when dropped, 0 when empty. */
static int finish(tg__hid_scan *s, char *why, size_t cap) {
  int rc = 0;
  if (s->crowded)
    rc = say(why, cap, "two scans came in one keyboard report and the second was dropped: "
                       "scan it again");
  else if (s->overflow)
    rc = say(why, cap, "a scan longer than %d characters was dropped", TG__SCAN_MAX);
  else if (s->unmapped)
    rc = say(why, cap, "a scan with a key that is not a printable character was dropped: "
                       "set the scanner to a US keyboard layout");
  else if (s->n_part > 0) {
    memcpy(s->text, s->part, s->n_part);
    s->n = s->n_part;
    s->text[s->n] = '\0';
    rc = 1;
  }
  restart(s);
  return rc;
}

int tg__hid_scan_idle(tg__hid_scan *s, int64_t now_ms, char *why, size_t cap) {
  if (!typing(s) || now_ms - s->last_ms <= s->gap_ms)
    return 0;
  if (s->crowded || s->overflow || s->unmapped)
    return finish(s, why, cap); /* dropped anyway: say the first reason */
  size_t n = s->n_part;
  restart(s);
  return say(why, cap, "a scan stopped after %zu characters and was dropped: scan it again", n);
}

int tg__hid_scan_feed(tg__hid_scan *s, const unsigned char report[8], int64_t now_ms, char *why,
                      size_t cap) {
  const unsigned char *keys = report + 2;
  int shift = (report[0] & SHIFT_MASK) != 0, rc = 0;
  if (keys[0] == ROLLOVER)
    return 0;
  for (int i = 0; i < 6; i++) {
    unsigned char k = keys[i];
    if (k == 0 || memchr(s->keys, k, sizeof s->keys) != NULL || k >= 0xE0) /* none, held, modifier */
      continue;
    if (rc == 0 && tg__hid_scan_idle(s, now_ms, why, cap) != 0)
      rc = -1;
    s->last_ms = now_ms;
    if (s->tab ? k == KEY_TAB : (k == KEY_ENTER || k == KEYPAD_ENTER)) {
      if (rc != 0)
        s->crowded = 1; /* this report already has its outcome: the next scan goes */
      else
        rc = finish(s, why, cap);
      continue;
    }
    char c = tg__hid_ascii(k, shift);
    if (c == 0)
      s->unmapped = 1;
    else if (s->n_part == TG__SCAN_MAX)
      s->overflow = 1;
    else
      s->part[s->n_part++] = c;
  }
  memcpy(s->keys, keys, sizeof s->keys);
  return rc;
}
