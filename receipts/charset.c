/* What a printer can print: Unicode to GB18030 or a single-byte code page, via iconv. */
#include <errno.h>
#include <iconv.h>
#include <string.h>

#include "receipts.h"

int tg__charset_init(tg__charset *c, const char *encoding) {
  c->cd = NULL;
  c->failed = 0;
  memset(c->seen, 0, sizeof c->seen);
  if (tg__encoding_lookup(encoding, &c->esc_t, &c->iconv_name) != 0)
    return TG__EINVAL;
  c->cjk = c->esc_t < 0;
  return 0;
}

void tg__charset_close(tg__charset *c) {
  if (c->cd != NULL)
    iconv_close((iconv_t)c->cd);
  c->cd = NULL;
}

int tg__charset_encode(tg__charset *c, uint32_t cp, unsigned char out[4]) {
  char in[4], *pin = in, *pout = (char *)out;
  size_t nin, nout = 4, n;
  int cells = tg__width(cp, c->cjk);
  if (cp >= 0x20 && cp < 0x7f) {
    out[0] = (unsigned char)cp;
    return 1;
  }
  if (cp < 0xa0 || cells == 0)
    return 0; /* controls and zero-width characters print nothing */
  if ((cp >= 0xe000 && cp <= 0xf8ff) || cp >= 0xf0000)
    return 0; /* private use: GB18030's user-defined area holds the printer's own glyphs */
  if (c->failed)
    return c->failed;
  if (c->seen[cp % 64].cp == cp) {
    memcpy(out, c->seen[cp % 64].b, 2);
    return c->seen[cp % 64].n;
  }
  if (c->cd == NULL) {
    iconv_t cd = iconv_open(c->iconv_name, "UTF-8");
    if (cd == (iconv_t)-1)
      return c->failed = errno == EINVAL ? TG__EINVAL : TG__ENOMEM;
    c->cd = cd;
  }
  nin = tg__utf8_encode(cp, in);
  /* a count of irreversible conversions (a substitute character) is a refusal too */
  if (iconv((iconv_t)c->cd, &pin, &nin, &pout, &nout) != 0) {
    iconv((iconv_t)c->cd, NULL, NULL, NULL, NULL); /* reset after a refusal */
    nout = 4;
  }
  n = 4 - nout;
  /* One byte is one cell; in GB18030 two bytes are one full-width cell pair,
   * four bytes are past what printer fonts hold. */
  if (c->cjk ? (n != 2 || cells != 2) : (n != 1 || cells != 1))
    n = 0;
  if (n == 0)
    out[0] = out[1] = 0;
  c->seen[cp % 64].cp = cp;
  c->seen[cp % 64].n = (unsigned char)n;
  memcpy(c->seen[cp % 64].b, out, 2);
  return (int)n;
}
