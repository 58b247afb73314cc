/* Printer profiles: paper defaults, the encodings a printer may use, and checks. */
#include <stdio.h>
#include <string.h>

#include "receipts.h"

/* ESC t numbers as Epson's ESC/POS numbers its code pages. */
static const struct {
  const char *name, *iconv;
  int esc_t;
} encodings[] = {
    {"gb18030", "GB18030", -1}, {"cp437", "CP437", 0},    {"cp850", "CP850", 2},
    {"cp1252", "CP1252", 16},   {"cp866", "CP866", 17},   {"cp852", "CP852", 18},
    {"cp858", "CP858", 19},
};

int tg__encoding_lookup(const char *name, int *esc_t, const char **iconv_name) {
  for (size_t i = 0; i < sizeof encodings / sizeof encodings[0]; i++)
    if (strcmp(name, encodings[i].name) == 0) {
      *esc_t = encodings[i].esc_t;
      *iconv_name = encodings[i].iconv;
      return 0;
    }
  return -1;
}

void tg__profile_default(tg__profile *p, int paper_mm) {
  memset(p, 0, sizeof *p);
  p->dots = paper_mm == 80 ? 576 : 384;
  p->columns = p->dots / 12;
  p->qr = TG__QR_NATIVE;
  p->qr_module = 6;
  p->qr_ecc = 'M';
  memcpy(p->encoding, "gb18030", sizeof "gb18030");
  p->cut = TG__CUT_PARTIAL;
  p->barcode = 1;
}

int tg__profile_check(const tg__profile *p, char *why, size_t why_len) {
  int esc_t;
  const char *iconv_name;
  if (p->dots < 192 || p->dots > 832 || p->dots % 8 != 0)
    snprintf(why, why_len, "printer dots %d: use a multiple of 8 from 192 to 832", p->dots);
  else if (p->columns < 16 || p->columns > p->dots / 12)
    snprintf(why, why_len, "printer columns %d: use 16 to %d for %d dots (12 dots each)",
             p->columns, p->dots / 12, p->dots);
  else if (p->qr_module < 1 || p->qr_module > 16)
    snprintf(why, why_len, "QR module size %d: use 1 to 16 dots", p->qr_module);
  else if (!strchr("LMQH", p->qr_ecc) || p->qr_ecc == '\0')
    snprintf(why, why_len, "QR error correction '%c': use L, M, Q or H", p->qr_ecc);
  else if (memchr(p->encoding, '\0', sizeof p->encoding) == NULL ||
           tg__encoding_lookup(p->encoding, &esc_t, &iconv_name) != 0)
    snprintf(why, why_len, "printer encoding: use " TG__ENCODINGS);
  else
    return 0;
  return -1;
}
