/* Base45 (RFC 9285): binary tokens as QR alphanumeric-mode text. */
#include <string.h>

#include "pos.h"

static const char alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

size_t tg__base45_encode(const unsigned char *in, size_t n, char *out) {
  size_t o = 0;
  for (size_t i = 0; i + 1 < n; i += 2) {
    unsigned v = (unsigned)in[i] * 256 + in[i + 1];
    out[o++] = alphabet[v % 45];
    out[o++] = alphabet[v / 45 % 45];
    out[o++] = alphabet[v / 2025];
  }
  if (n % 2 == 1) {
    out[o++] = alphabet[in[n - 1] % 45];
    out[o++] = alphabet[in[n - 1] / 45];
  }
  out[o] = '\0';
  return o;
}

/* The value of Base45 character c, or -1. Upper case only, as RFC 9285 says. */
static int digit(char c) {
  const char *p = c != '\0' ? strchr(alphabet, c) : NULL;
  return p != NULL ? (int)(p - alphabet) : -1;
}

int tg__base45_decode(const char *in, size_t n, unsigned char *out, size_t *out_len) {
  size_t o = 0;
  if (n % 3 == 1)
    return -1; /* a lone character encodes nothing */
  for (size_t i = 0; i < n; i += 3) {
    int a = digit(in[i]), b = digit(in[i + 1]), c = i + 2 < n ? digit(in[i + 2]) : 0;
    unsigned v;
    if (a < 0 || b < 0 || c < 0)
      return -1;
    v = (unsigned)a + (unsigned)b * 45 + (unsigned)c * 2025;
    if (i + 2 < n) {
      if (v > 0xffff)
        return -1;
      out[o++] = (unsigned char)(v >> 8);
      out[o++] = (unsigned char)(v & 0xff);
    } else {
      if (v > 0xff)
        return -1;
      out[o++] = (unsigned char)v;
    }
  }
  *out_len = o;
  return 0;
}
