/*
 * libFuzzer target: a printer's answers to DLE EOT read into its status.
 * Every byte is first decoded alone for each n (all 256, once); then the
 * input, in pairs of bytes (which request, n = first % 7 - 1, so -1..5; then
 * the answer), builds up one status the way a status round does, with the
 * words for what stops the printer checked at each step.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "drivers.h"
#include "pos.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define BIT(b, k) (((b) >> (k)) & 1)

static int is_status(unsigned char b) { return (b & 0x93) == 0x12; }

static int blocked(const tg__status *st) {
  return st->paper_end || st->paper_end_stop || st->cover_open || st->cutter_error ||
         st->error || st->offline;
}

/* The words for st: there exactly when something stops the printer, in English and Chinese. */
static void check_blocker(const tg__status *st) {
  const char *en = tg__status_blocker(st, 0), *zh = tg__status_blocker(st, 1);
  if (!blocked(st)) {
    if (en != NULL || zh != NULL)
      abort(); /* near end of paper and an open drawer still print */
    return;
  }
  if (en == NULL || zh == NULL || en[0] == '\0' || zh[0] == '\0' || strcmp(en, zh) == 0 ||
      !tg__utf8_valid(en, strlen(en)) || !tg__utf8_valid(zh, strlen(zh)) ||
      strlen(en) >= TG__DRV_WHY_MAX || strlen(zh) >= TG__DRV_WHY_MAX)
    abort();
  for (const unsigned char *p = (const unsigned char *)en; *p; p++)
    if (*p < 0x20 || *p > 0x7E)
      abort(); /* English is plain ASCII */
  int wide = 0;
  for (const unsigned char *p = (const unsigned char *)zh; *p; p++)
    wide |= *p >= 0x80;
  if (!wide)
    abort();
  /* paper before anything else: it is what the cashier can fix */
  if ((st->paper_end || st->paper_end_stop) && strstr(en, "paper out") == NULL)
    abort();
}

/* Decodes byte as the answer to DLE EOT n into st and checks it changed only what n reports. */
static void decode(int n, unsigned char byte, tg__status *st) {
  tg__status was = *st;
  int rc = tg__status_decode(n, byte, st);
  if (n < 1 || n > 4 || !is_status(byte)) {
    if (rc != TG__DRV_BAD || memcmp(&was, st, sizeof was) != 0)
      abort(); /* refused, untouched */
    return;
  }
  if (rc != TG__DRV_OK || st->known != (was.known | 1u << (n - 1)))
    abort();
  tg__status want = was;
  want.known = st->known;
  switch (n) {
  case 1:
    want.drawer_open = BIT(byte, 2);
    want.offline = BIT(byte, 3);
    break;
  case 2:
    want.cover_open = BIT(byte, 2);
    want.paper_end_stop = BIT(byte, 5);
    want.error = was.error || BIT(byte, 6);
    break;
  case 3:
    want.cutter_error = BIT(byte, 3);
    want.error = was.error || BIT(byte, 3) || BIT(byte, 5) || BIT(byte, 6);
    break;
  default:
    want.paper_near_end = BIT(byte, 2) || BIT(byte, 3);
    want.paper_end = BIT(byte, 5) || BIT(byte, 6);
    break;
  }
  if (memcmp(&want, st, sizeof want) != 0)
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int ready;
  tg__status st;
  if (!ready) { /* every byte alone, for every n: 1..4 and some no printer answers */
    for (int n = -1; n <= 5; n++)
      for (int b = 0; b < 256; b++) {
        memset(&st, 0, sizeof st);
        decode(n, (unsigned char)b, &st);
        check_blocker(&st);
      }
    ready = 1;
  }
  /* one status built up, as a round of requests and answers does */
  memset(&st, 0, sizeof st);
  for (size_t i = 0; i + 1 < size; i += 2) {
    decode((int)(data[i] % 7) - 1, data[i + 1], &st);
    check_blocker(&st);
  }
  return 0;
}
