/* libFuzzer target: a host POS's sale JSON, parsed, validated and totalled. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "tillgroup.h"

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
  tg_sale *s = NULL;
  tg_totals tot;
  if (tg_sale_from_json(terminal(), (const char *)data, size, &s) == 0) {
    if (tg_sale_get_totals(s, &tot) == 0 && tot.total != tot.subtotal - tot.order_discount)
      abort(); /* the lines must always sum to the total */
    tg_sale_free(s);
  } else if (s != NULL) {
    abort(); /* a refused input allocates nothing */
  }
  return 0;
}
