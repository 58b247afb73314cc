/*
 * libFuzzer target: the nightly pull's manifest reader never crashes, and
 * what it accepts holds together (ids valid, count = to - from + 1, to <=
 * max_seq) and reads the same again from its own rendering.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hq.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  tg__hq_manifest m, again;
  char why[TG__HQ_WHY_MAX], text[512], hex[65];
  if (tg__hq_manifest_parse((const char *)data, size, &m, why, sizeof why) != 0)
    return 0;
  if (size > TG__HQ_MANIFEST_MAX || !tg__hq_valid_id(m.store) || !tg__hq_valid_id(m.terminal) ||
      m.count != m.to - m.from + 1 || m.to > m.max_seq || m.from < 1 || m.epoch < 1)
    abort();
  for (int i = 0; i < 32; i++)
    snprintf(hex + 2 * i, 3, "%02x", m.digest[i]);
  int n = snprintf(text, sizeof text,
                   "{\"store\":\"%s\",\"terminal\":\"%s\",\"epoch\":%" PRId64
                   ",\"max_seq\":%" PRId64 ",\"from\":%" PRId64 ",\"to\":%" PRId64
                   ",\"count\":%" PRId64 ",\"digest\":\"%s\"}",
                   m.store, m.terminal, m.epoch, m.max_seq, m.from, m.to, m.count, hex);
  if (n <= 0 || tg__hq_manifest_parse(text, (size_t)n, &again, why, sizeof why) != 0 ||
      memcmp(&m, &again, sizeof m) != 0)
    abort();
  return 0;
}
