/* gzip bodies with zlib: deterministic compression, and decompression that refuses bombs. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "sync.h"

#define GZIP_WINDOW (15 + 16) /* 32 KiB window, gzip wrapper */

int tg__gzip(const void *in, size_t n, unsigned char **out, size_t *n_out) {
  z_stream z;
  memset(&z, 0, sizeof z);
  *out = NULL;
  *n_out = 0;
  if (n > UINT32_MAX / 2)
    return -1;
  /* deflateInit2 leaves the header's time and name empty: equal input, equal bytes */
  if (deflateInit2(&z, 1, Z_DEFLATED, GZIP_WINDOW, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return -1;
  uLong cap = deflateBound(&z, (uLong)n);
  unsigned char *buf = malloc(cap);
  if (buf == NULL) {
    deflateEnd(&z);
    return -1;
  }
  z.next_in = (Bytef *)(uintptr_t)in;
  z.avail_in = (uInt)n;
  z.next_out = buf;
  z.avail_out = (uInt)cap;
  int rc = deflate(&z, Z_FINISH);
  size_t done = (size_t)z.total_out;
  deflateEnd(&z);
  if (rc != Z_STREAM_END) { /* deflateBound is enough for one call: only memory fails */
    free(buf);
    return -1;
  }
  *out = buf;
  *n_out = done;
  return 0;
}

tg__gunzip_result tg__gunzip(const void *in, size_t n, size_t max_out, size_t max_ratio,
                             unsigned char **out, size_t *n_out) {
  *out = NULL;
  *n_out = 0;
  if (n > UINT32_MAX / 2)
    return TG__GUNZIP_TOO_BIG;
  size_t limit = max_out;
  if (max_ratio > 0 && n <= limit / max_ratio)
    limit = n * max_ratio;
  z_stream z;
  memset(&z, 0, sizeof z);
  int rc = inflateInit2(&z, GZIP_WINDOW);
  if (rc != Z_OK)
    return rc == Z_MEM_ERROR ? TG__GUNZIP_NOMEM : TG__GUNZIP_BAD;
  size_t cap = n < 4096 ? 16384 : n * 4, len = 0;
  if (cap > limit + 1)
    cap = limit + 1;
  unsigned char *buf = malloc(cap + 1);
  tg__gunzip_result result = TG__GUNZIP_OK;
  if (buf == NULL) {
    inflateEnd(&z);
    return TG__GUNZIP_NOMEM;
  }
  z.next_in = (Bytef *)(uintptr_t)in;
  z.avail_in = (uInt)n;
  for (;;) {
    if (len == cap) {
      if (cap > limit) { /* one byte past the limit came out */
        result = TG__GUNZIP_TOO_BIG;
        break;
      }
      size_t grow = cap * 2 > limit + 1 ? limit + 1 : cap * 2;
      unsigned char *p = realloc(buf, grow + 1);
      if (p == NULL) {
        result = TG__GUNZIP_NOMEM;
        break;
      }
      buf = p;
      cap = grow;
    }
    z.next_out = buf + len;
    z.avail_out = (uInt)(cap - len);
    rc = inflate(&z, Z_NO_FLUSH);
    len = cap - z.avail_out;
    if (rc == Z_STREAM_END) {
      if (len > limit)
        result = TG__GUNZIP_TOO_BIG;
      else if (z.avail_in != 0) /* a second member or trailing bytes */
        result = TG__GUNZIP_BAD;
      break;
    }
    if (rc == Z_MEM_ERROR) {
      result = TG__GUNZIP_NOMEM;
      break;
    }
    if (rc != Z_OK && !(rc == Z_BUF_ERROR && z.avail_out == 0)) {
      result = TG__GUNZIP_BAD; /* damaged data, or the input ended mid-stream */
      break;
    }
  }
  inflateEnd(&z);
  if (result != TG__GUNZIP_OK) {
    free(buf);
    return result;
  }
  buf[len] = '\0';
  *out = buf;
  *n_out = len;
  return TG__GUNZIP_OK;
}
