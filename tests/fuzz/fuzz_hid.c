/*
 * libFuzzer target: boot-keyboard reports from a barcode scanner assembled
 * into scans. The first byte picks the terminator (bit 0: Tab), whether the
 * rest is text to type (bit 1) and how (bits 2-5, see typed()); the second
 * is the gap in ms that cuts a scan. Reports: each a byte of ms since the last then 8
 * bytes, 0xFF instead of the ms byte meaning 200 ms of silence (idle). Text:
 * its printable bytes typed key by key, then the terminator: the scan must
 * come back as typed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "drivers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define KEY_ENTER 0x28
#define KEY_TAB 0x2B
#define KEYPAD_ENTER 0x58
#define IDLE 0xFF

static unsigned char usage_of[128], shift_of[128]; /* a key that types each printable byte */

static int printable(int c) { return c >= 0x20 && c <= 0x7E; }

/* What tg__hid_ascii says of every usage: printable or nothing, and every printable reachable. */
static void check_ascii(void) {
  for (int u = 0; u < 256; u++)
    for (int shift = 0; shift <= 1; shift++) {
      char c = tg__hid_ascii((unsigned char)u, shift);
      if (c != 0 && !printable((unsigned char)c))
        abort();
      if ((u < 0x04 || u == KEY_ENTER || u == KEY_TAB || u == KEYPAD_ENTER || u >= 0xE0) && c != 0)
        abort(); /* no key, error codes, terminators and modifiers type nothing */
      if (u >= 0x04 && u <= 0x1D && c != (shift ? 'A' : 'a') + (u - 0x04))
        abort();
      if (u >= 0x54 && u <= 0x63 && c != tg__hid_ascii((unsigned char)u, !shift))
        abort(); /* the keypad ignores shift */
      if (c != 0 && u <= 0x38 && usage_of[(unsigned char)c] == 0) {
        usage_of[(unsigned char)c] = (unsigned char)u;
        shift_of[(unsigned char)c] = (unsigned char)shift;
      }
    }
  for (int c = 0x20; c <= 0x7E; c++)
    if (usage_of[c] == 0)
      abort();
}

/* The invariants of the assembler after any call. */
static void check_state(const tg__hid_scan *s) {
  if (s->n_part > TG__SCAN_MAX || s->n > TG__SCAN_MAX || s->text[s->n] != '\0' ||
      strlen(s->text) != s->n)
    abort();
  for (size_t i = 0; i < s->n_part; i++)
    if (!printable((unsigned char)s->part[i]))
      abort();
}

/* A completed scan: 1..TG__SCAN_MAX printable bytes, no terminator among them. */
static void check_scan(const tg__hid_scan *s) {
  if (s->n < 1)
    abort();
  for (size_t i = 0; i < s->n; i++)
    if (!printable((unsigned char)s->text[i]))
      abort();
}

static int feed(tg__hid_scan *s, const unsigned char r[8], int64_t now) {
  char why[TG__DRV_WHY_MAX] = "", before[TG__SCAN_MAX + 1];
  size_t n_before = s->n;
  memcpy(before, s->text, n_before + 1);
  int rc = tg__hid_scan_feed(s, r, now, why, sizeof why);
  check_state(s);
  if (rc == 1)
    check_scan(s);
  else if (s->n != n_before || memcmp(before, s->text, n_before + 1) != 0)
    abort(); /* the last scan stays until the next completes */
  if (rc == -1 && why[0] == '\0')
    abort();
  if (rc < -1 || rc > 1 || s->last_ms > now)
    abort();
  if (r[2] != 0x01 && memcmp(s->keys, r + 2, 6) != 0)
    abort(); /* the keys of every report but ErrorRollOver are the ones held next */
  return rc;
}

/* Arbitrary reports and silences. */
static void reports(tg__hid_scan *s, const uint8_t *p, size_t n) {
  int64_t now = 1000;
  while (n > 0) {
    if (p[0] == IDLE) {
      char why[TG__DRV_WHY_MAX] = "";
      int typing = s->n_part > 0 || s->overflow || s->unmapped || s->crowded;
      now += 200;
      int rc = tg__hid_scan_idle(s, now, why, sizeof why);
      check_state(s);
      if (rc != 0 && (rc != -1 || !typing || why[0] == '\0' || s->n_part != 0 || s->overflow ||
                      s->unmapped || s->crowded))
        abort();
      if (rc == 0 && typing && now - s->last_ms > s->gap_ms)
        abort(); /* a scan that paused too long is dropped */
      p++, n--;
      continue;
    }
    if (n < 9)
      break;
    now += p[0];
    feed(s, p + 1, now);
    p += 9, n -= 9;
  }
}

/* Sends a report of shift and keys k0, k1 (0: none), which must type nothing new. */
static void press(tg__hid_scan *s, int64_t *now, unsigned char mods, unsigned char k0,
                  unsigned char k1, unsigned char held[2]) {
  unsigned char r[8] = {mods, 0, k0, k1, 0, 0, 0, 0};
  if (feed(s, r, ++*now) != 0)
    abort();
  held[0] = k0, held[1] = k1;
}

/*
 * Printable text typed as a scanner does: each key pressed then released, or
 * (rolled) the next key pressed while the last is still held, a key pressed
 * again only once it was let go; then the terminator. It comes back whole,
 * or dropped when longer than TG__SCAN_MAX. With a function key (F1) typed
 * half-way it is dropped; with a pause longer than the gap before its last
 * character it is cut there and only that character comes back.
 */
static void typed(tg__hid_scan *s, int how, const uint8_t *p, size_t n) {
  unsigned char held[2] = {0, 0}, prev = 0, r[8] = {0};
  unsigned char end = s->tab ? KEY_TAB : (how & 2) ? KEYPAD_ENTER : KEY_ENTER;
  int64_t now = 1000;
  size_t total = 0, seen = 0, k = 0, last = 0;
  int rolled = how & 1, f1 = (how & 4) != 0, pause = !f1 && (how & 8) != 0, rc;
  for (size_t i = 0; i < n; i++)
    if (printable(p[i]))
      total++, last = i;
  pause = pause && total >= 2;
  for (size_t i = 0; i < n; i++) {
    if (!printable(p[i]))
      continue;
    unsigned char u = usage_of[p[i]];
    unsigned char mods = shift_of[p[i]] ? (k % 2 ? 0x20 : 0x02) : 0; /* left and right shift */
    if (f1 && seen++ == total / 2) {
      press(s, &now, 0, 0, 0, held);
      press(s, &now, 0, 0x3A, 0, held);
      prev = 0x3A;
    }
    if (pause && i == last) {
      press(s, &now, 0, 0, 0, held);
      memset(r, 0, sizeof r);
      r[0] = mods, r[2] = u;
      now += s->gap_ms;
      if (feed(s, r, ++now) != -1 || s->n_part != 1 || s->part[0] != (char)p[i])
        abort(); /* what came before was cut off; this key begins a new scan */
      held[0] = u, held[1] = 0;
      k = 1;
      break;
    }
    if (rolled && prev != 0 && u != prev) {
      if (u == held[0] || u == held[1])
        press(s, &now, 0, prev, 0, held); /* let go of u first */
      press(s, &now, mods, prev, u, held);
    } else {
      if (prev != 0)
        press(s, &now, 0, 0, 0, held);
      press(s, &now, mods, u, 0, held);
    }
    prev = u;
    if (k < TG__SCAN_MAX + 1)
      k++;
  }
  if (f1 && total == 0)
    press(s, &now, 0, 0x3A, 0, held);
  press(s, &now, 0, 0, 0, held);
  memset(r, 0, sizeof r);
  r[2] = end;
  rc = feed(s, r, ++now);
  if (f1) {
    if (rc != -1)
      abort();
    return;
  }
  if ((k == 0 && rc != 0) || (k > TG__SCAN_MAX && rc != -1))
    abort();
  if (k >= 1 && k <= TG__SCAN_MAX) {
    if (rc != 1 || s->n != k)
      abort();
    for (size_t i = pause ? last : 0, j = 0; i < n; i++)
      if (printable(p[i]) && s->text[j++] != (char)p[i])
        abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int ready;
  static tg__hid_scan s; /* 8 KiB: not on the stack */
  if (!ready) {
    check_ascii();
    ready = 1;
  }
  if (size < 2)
    return 0;
  int gap = data[1] < 2 ? 2 : data[1];
  tg__hid_scan_init(&s, data[0] & 1, gap);
  if (s.tab != (data[0] & 1) || s.gap_ms != gap || s.n != 0 || s.n_part != 0 || s.text[0] != '\0')
    abort();
  if (data[0] & 2)
    typed(&s, (data[0] >> 2) & 15, data + 2, size - 2);
  else
    reports(&s, data + 2, size - 2);
  return 0;
}
