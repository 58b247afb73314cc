/* A growing byte buffer for rendered output. */
#include <stdlib.h>
#include <string.h>

#include "receipts.h"

int tg__buf_add(tg__buf *b, const void *p, size_t n) {
  if (n > b->cap - b->n) {
    size_t cap = b->cap ? b->cap : 1024;
    unsigned char *q;
    while (cap - b->n < n) {
      if (cap > SIZE_MAX / 2)
        return TG__ENOMEM;
      cap *= 2;
    }
    if ((q = realloc(b->p, cap)) == NULL)
      return TG__ENOMEM;
    b->p = q;
    b->cap = cap;
  }
  if (n > 0)
    memcpy(b->p + b->n, p, n);
  b->n += n;
  return 0;
}

void tg__buf_free(tg__buf *b) {
  free(b->p);
  b->p = NULL;
  b->n = b->cap = 0;
}
