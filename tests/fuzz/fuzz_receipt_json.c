/* libFuzzer target: a reference receipt in JSON, read, laid out and encoded. */
#include <stdlib.h>

#include "escpos_check.h"
#include "pos.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  tg__receipt_doc *doc = NULL;
  tg__profile p;
  char why[256];
  tg__buf esc = {0};
  tt_escpos walk;
  if (tg__receipt_doc_from_json((const char *)data, size, &doc, &p, why, sizeof why) != 0) {
    if (doc != NULL || why[0] == '\0')
      abort(); /* a refusal says why and keeps nothing */
    return 0;
  }
  int rc = tg__render_escpos(tg__receipt_doc_get(doc), &p, &esc);
  if (rc == 0 && tt_escpos_walk(esc.p, esc.n, &p, &walk) != 0)
    abort();
  tg__buf_free(&esc);
  tg__receipt_doc_free(doc);
  return 0;
}
