/* libFuzzer target: stored record bytes and receipt numbers, as read back from a file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pos.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static tg_terminal *terminal(void) {
  static tg_terminal *t;
  if (t == NULL) {
    char dir[] = "/tmp/tillgroup-fuzz-XXXXXX", path[64];
    tg_terminal_config cfg = {"S1", "T1", "CNY", "UTC"};
    if (mkdtemp(dir) == NULL)
      abort();
    snprintf(path, sizeof path, "%s/t.db", dir);
    if (tg_terminal_init(path, &cfg, NULL, 0) != 0 || tg_terminal_open(path, &t) != 0)
      abort();
  }
  return t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  tg_terminal *t = terminal();
  tg_receipt *r = NULL;
  char receipt[TG_RECEIPT_MAX + 8];
  int64_t n;
  if (tg__record_decode(t, (const char *)data, size, &r) == 0) {
    if (r->n_lines < 1 || r->lines == NULL)
      abort();
    tg_receipt_free(r);
  }
  size_t k = size < sizeof receipt - 1 ? size : sizeof receipt - 1;
  memcpy(receipt, data, k);
  receipt[k] = '\0';
  if (tg__receipt_parse(t, receipt, &n) == 0 && n <= 0)
    abort();
  return 0;
}
