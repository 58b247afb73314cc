/* libFuzzer target: HQ's one-pass reader of an upload line must agree with jansson on every input. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "hq_line_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *differs = tt_hq_line_disagreement((const char *)data, size);
  if (differs != NULL) {
    fprintf(stderr, "fuzz_hq_line: %s\n", differs);
    abort();
  }
  return 0;
}
