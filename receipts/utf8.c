/* UTF-8 decoding and encoding, and display width from the Unicode tables. */
#include "receipts.h"

#include "width_table.h"

size_t tg__utf8_decode(const char *s, size_t n, uint32_t *cp) {
  const unsigned char *p = (const unsigned char *)s;
  uint32_t c;
  size_t len;
  if (n == 0)
    return 0;
  c = p[0];
  if (c < 0x80) {
    *cp = c;
    return 1;
  }
  if (c >= 0xc2 && c <= 0xdf) {
    len = 2;
    c &= 0x1f;
  } else if (c >= 0xe0 && c <= 0xef) {
    len = 3;
    c &= 0x0f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    len = 4;
    c &= 0x07;
  } else {
    return 0; /* continuation byte, overlong lead, or beyond U+10FFFF */
  }
  if (n < len)
    return 0;
  for (size_t k = 1; k < len; k++) {
    if ((p[k] & 0xc0) != 0x80)
      return 0;
    c = (c << 6) | (p[k] & 0x3f);
  }
  if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10ffff)))
    return 0; /* overlong */
  if (c >= 0xd800 && c <= 0xdfff)
    return 0; /* surrogates */
  *cp = c;
  return len;
}

size_t tg__utf8_encode(uint32_t cp, char out[4]) {
  if (cp < 0x80) {
    out[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    out[0] = (char)(0xc0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3f));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = (char)(0xe0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[2] = (char)(0x80 | (cp & 0x3f));
    return 3;
  }
  out[0] = (char)(0xf0 | (cp >> 18));
  out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
  out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
  out[3] = (char)(0x80 | (cp & 0x3f));
  return 4;
}

int tg__symbol_text(const char *s, size_t n, size_t max) {
  if (n == 0 || n > max)
    return 0;
  for (size_t i = 0; i < n; i++)
    if (s[i] < 0x20 || s[i] > 0x7e)
      return 0;
  return 1;
}

static int in_table(uint32_t cp, const struct tg__range *r, size_t n) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (cp > r[mid].hi)
      lo = mid + 1;
    else if (cp < r[mid].lo)
      hi = mid;
    else
      return 1;
  }
  return 0;
}

#define IN(cp, table) in_table(cp, table, sizeof table / sizeof table[0])

int tg__width(uint32_t cp, int ambiguous_wide) {
  if (cp >= 0x20 && cp < 0x7f)
    return 1;
  if (cp >= 0x4e00 && cp <= 0x9fff)
    return 2; /* CJK Unified Ideographs, all Wide: most of a Chinese receipt */
  if (IN(cp, tg__zero_width))
    return 0;
  if (IN(cp, tg__wide))
    return 2;
  if (ambiguous_wide && IN(cp, tg__ambiguous))
    return 2;
  return 1;
}
