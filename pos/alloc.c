/* Memory for tillgroup's own data, taken from SQLite's allocator. */
#include <string.h>

#include "pos.h"

void *tg__malloc(size_t n) { return sqlite3_malloc64(n == 0 ? 1 : n); }

void *tg__realloc(void *p, size_t n) { return sqlite3_realloc64(p, n == 0 ? 1 : n); }

char *tg__strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *z = tg__malloc(n);
  if (z != NULL)
    memcpy(z, s, n);
  return z;
}

void tg__free(void *p) { sqlite3_free(p); }
