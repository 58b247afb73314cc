/* An independent reader of the ESC/POS tillgroup writes, for tests and fuzzing. */
#include "escpos_check.h"

#include <stdio.h>
#include <string.h>

static int fail(tt_escpos *o, size_t at, const char *why) {
  snprintf(o->error, sizeof o->error, "at byte %zu: %s", at, why);
  return -1;
}

int tt_escpos_walk(const unsigned char *p, size_t n, const tg__profile *profile, tt_escpos *o) {
  int kanji = 0, wide = 0, cells = 0, columns = profile->columns, esc_t;
  const char *iconv_name;
  size_t i = 0;
  memset(o, 0, sizeof *o);
  if (tg__encoding_lookup(profile->encoding, &esc_t, &iconv_name) != 0)
    return fail(o, 0, "unknown encoding in the profile");
#define NEED(k)                                                                          \
  do {                                                                                   \
    if (n - i < (size_t)(k))                                                             \
      return fail(o, i, "command cut short");                                           \
  } while (0)
  while (i < n) {
    unsigned char b = p[i];
    if (b == '\n') {
      if (cells > columns)
        return fail(o, i, "line wider than the paper");
      if (cells > o->widest)
        o->widest = cells;
      o->lines++;
      cells = 0;
      i++;
    } else if (b == 0x1b) {
      NEED(2);
      switch (p[i + 1]) {
      case '@':
        if (i != 0)
          return fail(o, i, "ESC @ after the start: a reset inside the receipt");
        i += 2;
        break;
      case 't':
        NEED(3);
        if (esc_t < 0 || p[i + 2] != esc_t)
          return fail(o, i, "ESC t other than the profile's code page");
        i += 3;
        break;
      case 'E': case 'a': case 'd': NEED(3); i += 3; break;
      case 'p': NEED(5); i += 5; break;
      default: return fail(o, i, "unknown ESC command");
      }
    } else if (b == 0x1c) {
      NEED(2);
      if (p[i + 1] == '&' && esc_t >= 0)
        return fail(o, i, "Chinese mode on a code page printer");
      if (p[i + 1] == '&')
        kanji = 1;
      else if (p[i + 1] == '.')
        kanji = 0;
      else
        return fail(o, i, "unknown FS command");
      i += 2;
    } else if (b == 0x1d) {
      NEED(3);
      switch (p[i + 1]) {
      case '!': wide = (p[i + 2] & 0x70) != 0; i += 3; break;
      case 'h': case 'w': case 'H': i += 3; break;
      case 'V':
        if (n - i != 4)
          return fail(o, i, "a cut before the end");
        o->cuts++;
        i += 4;
        break;
      case 'k':
        NEED(4);
        if (p[i + 2] != 73)
          return fail(o, i, "barcode other than Code 128");
        NEED(4 + (size_t)p[i + 3]);
        o->barcodes++;
        i += 4 + p[i + 3];
        break;
      case '(': {
        size_t len;
        NEED(5);
        len = p[i + 3] | (size_t)p[i + 4] << 8;
        NEED(5 + len);
        if (p[i + 2] != 'k' || len < 3 || p[i + 5] != 49)
          return fail(o, i, "GS ( other than a QR code");
        if (p[i + 6] == 80) {
          o->qr_data = p + i + 8;
          o->qr_len = len - 3;
        } else if (p[i + 6] == 81) {
          o->qr_native++;
        }
        i += 5 + len;
        break;
      }
      case 'v': {
        size_t xb, y;
        NEED(8);
        xb = p[i + 4] | (size_t)p[i + 5] << 8;
        y = p[i + 6] | (size_t)p[i + 7] << 8;
        if (p[i + 2] != '0' || xb == 0 || y == 0)
          return fail(o, i, "bad GS v 0 header");
        NEED(8 + xb * y);
        if (o->raster == NULL) {
          o->raster = p + i + 8;
          o->raster_width_bytes = (int)xb;
          o->raster_height = (int)y;
        }
        i += 8 + xb * y;
        break;
      }
      default: return fail(o, i, "unknown GS command");
      }
    } else if (b < 0x20 || b == 0x7f) {
      return fail(o, i, "stray control byte");
    } else if (b >= 0x80 && esc_t < 0 && !kanji) {
      return fail(o, i, "a byte past ASCII outside Chinese mode");
    } else if (b >= 0x80 && kanji) {
      if (n - i < 2 || p[i + 1] < 0x40 || p[i + 1] == 0x7f || p[i + 1] == 0xff || b == 0xff)
        return fail(o, i, "not a two-byte GB18030 character in Chinese mode");
      cells += wide ? 4 : 2;
      i += 2;
    } else {
      cells += wide ? 2 : 1;
      i++;
    }
  }
#undef NEED
  if (cells > 0)
    return fail(o, n, "text after the last line feed");
  return 0;
}

int tt_text_walk(const unsigned char *p, size_t n, const tg__profile *profile) {
  int cjk = strcmp(profile->encoding, "gb18030") == 0;
  size_t i = 0;
  while (i < n) {
    int cells = 0;
    while (i < n && p[i] != '\n') {
      uint32_t cp;
      size_t len = tg__utf8_decode((const char *)p + i, n - i, &cp);
      if (len == 0)
        return -1;
      cells += tg__width(cp, cjk);
      i += len;
    }
    if (cells > profile->columns)
      return -1;
    i++;
  }
  return 0;
}
