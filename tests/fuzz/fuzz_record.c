/* libFuzzer target: stored record bytes and receipt numbers, as read back from a file. */
#include <stdlib.h>
#include <string.h>

#include "pos.h"
#include "terminal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  tg_terminal *t = fuzz_terminal();
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
