/* The terminal the fuzz targets work against. */
#include "terminal.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

tg_terminal *fuzz_terminal(void) {
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
