/* Whole files from outside (configuration, reference receipts), read with a size cap. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pos.h"

int tg__file_read(const char *path, size_t max, char **out, size_t *n, char *why,
                  size_t why_len) {
  FILE *f = fopen(path, "rb");
  char *buf;
  int rc = 0;
  *out = NULL;
  if (f == NULL) {
    snprintf(why, why_len, "%s: %s", path, strerror(errno));
    return errno == ENOENT ? TG_ENOENT : TG_ECANTOPEN;
  }
  if ((buf = malloc(max + 1)) == NULL) {
    snprintf(why, why_len, "%s: out of memory", path);
    rc = TG_ENOMEM;
  } else if ((*n = fread(buf, 1, max + 1, f)) > max || ferror(f)) {
    snprintf(why, why_len, "%s: %s", path, ferror(f) ? "cannot read" : "larger than allowed");
    rc = ferror(f) ? TG_EIO : TG_ETOOLONG;
    free(buf);
  } else {
    buf[*n] = '\0';
    *out = buf;
  }
  fclose(f);
  return rc;
}
