/* libFuzzer target: the receipt layout with arbitrary text, numbers and printer profiles. */
#include <stdlib.h>
#include <string.h>

#include "escpos_check.h"
#include "receipts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FIELDS 24

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char *const encodings[] = {"gb18030", "cp437", "cp850", "cp852",
                                          "cp858",   "cp866", "cp1252"};
  char *copy, *f[FIELDS] = {0};
  size_t n = 0;
  tg__profile p;
  if (size < 6)
    return 0;
  /* six bytes of profile, then NUL-separated text fields */
  tg__profile_default(&p, 58);
  p.dots = 192 + 8 * (data[0] % 81);
  p.columns = 16 + data[1] % (p.dots / 12 - 15);
  p.qr = data[2] & 1 ? TG__QR_RASTER : TG__QR_NATIVE;
  p.qr_module = 1 + data[2] / 16;
  p.qr_ecc = "LMQH"[data[3] % 4];
  strcpy(p.encoding, encodings[data[4] % 7]);
  p.cut = (tg__cut_mode)(data[5] % 3);
  p.barcode = data[5] >> 7;
  if (tg__profile_check(&p, (char[64]){0}, 64) != 0)
    abort();
  copy = malloc(size - 6 + 1);
  memcpy(copy, data + 6, size - 6);
  copy[size - 6] = '\0';
  for (char *s = copy; n < FIELDS && s <= copy + (size - 6); s += strlen(s) + 1)
    f[n++] = s;
  tg__doc_item items[4];
  tg__doc_row rows[3];
  tg__doc_coupon coupon = {f[16], f[17], f[18], f[19]};
  const char *header[2] = {f[0] ? f[0] : "", f[1] ? f[1] : ""};
  for (int i = 0; i < 4; i++)
    items[i] = (tg__doc_item){f[2 + i], f[6 + i % 2], f[8 + i % 3], i == 3 ? f[11] : NULL};
  for (int i = 0; i < 3; i++)
    rows[i] = (tg__doc_row){f[12 + i % 2], f[14 + i % 2], i == 2};
  tg__doc d = {.banner = f[20], .header = header, .n_header = 2, .meta = rows, .n_meta = 2,
               .items = items, .n_items = 4, .totals = rows, .n_totals = 3,
               .barcode = f[21], .coupons = f[16] ? &coupon : NULL, .n_coupons = f[16] ? 1 : 0,
               .invite_caption = f[22], .invite_url = f[23], .footer = header, .n_footer = 2};
  tg__buf text = {0}, esc = {0};
  tt_escpos walk;
  int rt = tg__render_text(&d, &p, &text), re = tg__render_escpos(&d, &p, &esc);
  if (rt != re)
    abort(); /* both outputs accept or refuse the same document */
  if (rt == 0) {
    if (tt_text_walk(text.p, text.n, &p) != 0 || tt_escpos_walk(esc.p, esc.n, &p, &walk) != 0)
      abort();
  }
  tg__buf_free(&text);
  tg__buf_free(&esc);
  free(copy);
  return 0;
}
