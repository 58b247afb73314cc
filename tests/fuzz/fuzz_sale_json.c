/* libFuzzer target: a host POS's sale JSON, parsed, validated and totalled. */
#include <stdlib.h>

#include "tillgroup.h"
#include "terminal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  tg_sale *s = NULL;
  tg_totals tot;
  if (tg_sale_from_json(fuzz_terminal(), (const char *)data, size, &s) == 0) {
    if (tg_sale_get_totals(s, &tot) == 0 && tot.total != tot.subtotal - tot.order_discount)
      abort(); /* the lines must always sum to the total */
    tg_sale_free(s);
  } else if (s != NULL) {
    abort(); /* a refused input allocates nothing */
  }
  return 0;
}
