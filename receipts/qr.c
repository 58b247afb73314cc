/* QR symbols for receipts, made with libqrencode at the smallest version that fits. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <qrencode.h>

#include "receipts.h"

static int ecc_level(char ecc, QRecLevel *level) {
  switch (ecc) {
  case 'L': *level = QR_ECLEVEL_L; return 0;
  case 'M': *level = QR_ECLEVEL_M; return 0;
  case 'Q': *level = QR_ECLEVEL_Q; return 0;
  case 'H': *level = QR_ECLEVEL_H; return 0;
  default: return TG__EINVAL;
  }
}

/*
 * Fills *out with the QR symbol of the n bytes at text (printable ASCII, 1 to
 * TG__QR_TEXT_MAX of them; text need not be NUL-terminated and is not kept)
 * at ECC level ecc ('L', 'M', 'Q' or 'H'), at the smallest version that holds
 * it; libqrencode splits the text into numeric, alphanumeric and byte
 * segments, case kept. Returns 0, TG__EINVAL for bad text, a bad level or
 * text too long for any version, or TG__ENOMEM; on failure *out is zeroed.
 * The caller frees out->modules with tg__qr_free().
 */
int tg__qr_make(const char *text, size_t n, char ecc, tg__qr *out) {
  QRecLevel level;
  QRcode *code = NULL;
  char *z = NULL;
  int rc;

  memset(out, 0, sizeof *out);
  if ((rc = ecc_level(ecc, &level)) != 0)
    goto fail;
  rc = TG__EINVAL;
  if (text == NULL || !tg__symbol_text(text, n, TG__QR_TEXT_MAX))
    goto fail;
  rc = TG__ENOMEM;
  if ((z = malloc(n + 1)) == NULL)
    goto fail;
  memcpy(z, text, n);
  z[n] = '\0';
  errno = 0;
  if ((code = QRcode_encodeString(z, 0, level, QR_MODE_8, 1)) == NULL) {
    rc = errno == ENOMEM ? TG__ENOMEM : TG__EINVAL; /* ERANGE: too long; EINVAL */
    goto fail;
  }
  size_t cells = (size_t)code->width * (size_t)code->width;
  if ((out->modules = malloc(cells)) == NULL)
    goto fail;
  for (size_t i = 0; i < cells; i++)
    out->modules[i] = code->data[i] & 1;
  out->version = code->version;
  out->width = code->width;
  QRcode_free(code);
  free(z);
  return 0;

fail:
  if (code != NULL)
    QRcode_free(code);
  free(z);
  return rc;
}

/* Frees the modules of q and zeroes it; q may be NULL or zeroed. */
void tg__qr_free(tg__qr *q) {
  if (q == NULL)
    return;
  free(q->modules);
  memset(q, 0, sizeof *q);
}
