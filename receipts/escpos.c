/* ESC/POS output: the exact bytes a receipt printer is sent for a laid-out receipt. */
#include <string.h>

#include "receipts.h"

#define ESC 0x1b
#define GS 0x1d
#define FS 0x1c

typedef struct {
  tg__sink k;             /* first: the layout calls back with &k */
  tg__buf *out;
  const tg__profile *p;
  tg__charset cs;
  unsigned style;         /* what the printer is set to now */
  int chinese;            /* inside FS & */
} escpos;

static int put(escpos *e, const void *p, size_t n) { return tg__buf_add(e->out, p, n); }

static int set_style(escpos *e, unsigned style) {
  int rc = 0;
  if ((style & TG__BOLD) != (e->style & TG__BOLD)) {
    unsigned char cmd[] = {ESC, 'E', style & TG__BOLD ? 1 : 0};
    rc = put(e, cmd, sizeof cmd);
  }
  if (rc == 0 && (style & (TG__WIDE | TG__TALL)) != (e->style & (TG__WIDE | TG__TALL))) {
    unsigned char cmd[] = {GS, '!', (style & TG__WIDE ? 0x10 : 0) | (style & TG__TALL ? 0x01 : 0)};
    rc = put(e, cmd, sizeof cmd);
  }
  e->style = style;
  return rc;
}

static int chinese_mode(escpos *e, int on) {
  unsigned char cmd[] = {FS, on ? '&' : '.'};
  if (e->chinese == on)
    return 0;
  e->chinese = on;
  return put(e, cmd, sizeof cmd);
}

static int on_text(tg__sink *k, const char *s, size_t n, unsigned style) {
  escpos *e = (escpos *)k;
  int rc = set_style(e, style);
  for (size_t i = 0; i < n && rc == 0;) {
    size_t run = 0, len;
    uint32_t cp;
    unsigned char enc[4];
    int m;
    while (i + run < n && (unsigned char)s[i + run] < 0x80)
      run++;
    if (run > 0) {
      if ((rc = chinese_mode(e, 0)) == 0)
        rc = put(e, s + i, run);
      i += run;
      continue;
    }
    /* The layout sends only characters the printer prints; '?' guards the rest. */
    len = tg__utf8_decode(s + i, n - i, &cp);
    m = len > 0 ? tg__charset_encode(&e->cs, cp, enc) : 0;
    if (m < 0)
      return m;
    if (m == 0) {
      enc[0] = '?';
      m = 1;
    }
    if ((rc = chinese_mode(e, m == 2)) == 0)
      rc = put(e, enc, (size_t)m);
    i += len > 0 ? len : 1;
  }
  if (rc == 0)
    rc = chinese_mode(e, 0);
  return rc != 0 ? rc : put(e, "\n", 1);
}

static int align_center(escpos *e, int on) {
  unsigned char cmd[] = {ESC, 'a', on ? 1 : 0};
  return put(e, cmd, sizeof cmd);
}

/* GS ( k: the printer draws the symbol (model 2). */
static int qr_native(escpos *e, const char *data, size_t n, int module) {
  static const char levels[] = "LMQH";
  size_t len = n + 3;
  unsigned char model[] = {GS, '(', 'k', 4, 0, 49, 65, 50, 0};
  unsigned char size[] = {GS, '(', 'k', 3, 0, 49, 67, (unsigned char)module};
  unsigned char ecc[] = {GS, '(', 'k', 3, 0, 49, 69,
                         (unsigned char)(48 + (strchr(levels, e->p->qr_ecc) - levels))};
  unsigned char store[] = {GS, '(', 'k', (unsigned char)(len & 0xff), (unsigned char)(len >> 8),
                           49, 80, 48};
  unsigned char print[] = {GS, '(', 'k', 3, 0, 49, 81, 48};
  int rc;
  if ((rc = put(e, model, sizeof model)) != 0 || (rc = put(e, size, sizeof size)) != 0 ||
      (rc = put(e, ecc, sizeof ecc)) != 0 || (rc = put(e, store, sizeof store)) != 0 ||
      (rc = put(e, data, n)) != 0)
    return rc;
  return put(e, print, sizeof print);
}

/* GS v 0: the symbol made here with libqrencode, sent as a raster image. */
static int qr_raster(escpos *e, const char *data, size_t n, int module) {
  tg__qr q;
  int rc = tg__qr_make(data, n, e->p->qr_ecc, &q), side, xb;
  unsigned char line[104];
  if (rc != 0)
    return rc;
  module = tg__qr_module_fit(q.width + 2 * TG__QR_QUIET, module, e->p->dots);
  side = (q.width + 2 * TG__QR_QUIET) * module;
  xb = (side + 7) / 8;
  unsigned char head[] = {GS, 'v', '0', 0, (unsigned char)(xb & 0xff), (unsigned char)(xb >> 8),
                          (unsigned char)(side & 0xff), (unsigned char)(side >> 8)};
  rc = put(e, head, sizeof head);
  /* one dot row per module row, sent module times; the quiet zone stays white */
  for (int my = -TG__QR_QUIET; my < q.width + TG__QR_QUIET && rc == 0; my++) {
    memset(line, 0, (size_t)xb);
    for (int mx = 0; my >= 0 && my < q.width && mx < q.width; mx++)
      if (q.modules[my * q.width + mx])
        for (int x = (mx + TG__QR_QUIET) * module, end = x + module; x < end; x++)
          line[x / 8] |= (unsigned char)(0x80 >> (x % 8));
    for (int k = 0; k < module && rc == 0; k++)
      rc = put(e, line, (size_t)xb);
  }
  tg__qr_free(&q);
  return rc;
}

static int on_qr(tg__sink *k, const char *data, size_t n, int module) {
  escpos *e = (escpos *)k;
  int rc = align_center(e, 1);
  if (rc == 0)
    rc = e->p->qr == TG__QR_NATIVE ? qr_native(e, data, n, module)
                                   : qr_raster(e, data, n, module);
  return rc != 0 ? rc : align_center(e, 0);
}

/* GS k 73: Code 128; the printer adds the check symbol. */
static int on_barcode(tg__sink *k, const char *data, size_t n, int module) {
  escpos *e = (escpos *)k;
  unsigned char bars[TG__CODE128_MODULES_MAX];
  char sym[TG__CODE128_ESCPOS_MAX];
  size_t len = 0;
  int rc;
  if (tg__code128(data, n, bars, sym, &len) == 0)
    return TG__EINVAL;
  unsigned char head[] = {GS, 'h', TG__BARCODE_HEIGHT, GS, 'w', (unsigned char)module, GS, 'H', 0,
                          GS, 'k', 73, (unsigned char)len};
  if ((rc = align_center(e, 1)) != 0 || (rc = put(e, head, sizeof head)) != 0 ||
      (rc = put(e, sym, len)) != 0)
    return rc;
  return align_center(e, 0);
}

static int on_feed(tg__sink *k, int n) {
  unsigned char cmd[] = {ESC, 'd', (unsigned char)(n > 255 ? 255 : n)};
  return put((escpos *)k, cmd, sizeof cmd);
}

static int on_cut(tg__sink *k) {
  escpos *e = (escpos *)k;
  unsigned char cmd[] = {GS, 'V', e->p->cut == TG__CUT_FULL ? 65 : 66, 0};
  int rc = set_style(e, 0);
  return rc != 0 || e->p->cut == TG__CUT_NONE ? rc : put(e, cmd, sizeof cmd);
}

int tg__render_escpos(const tg__doc *doc, const tg__profile *p, tg__buf *out) {
  escpos e = {.k = {on_text, on_qr, on_barcode, on_feed, on_cut}, .out = out, .p = p};
  unsigned char init[] = {ESC, '@', FS, '.', ESC, 't', 0};
  size_t start = out->n;
  int rc;
  if (tg__charset_init(&e.cs, p->encoding) != 0)
    return TG__EINVAL;
  /* Leave Chinese mode, which some printers start in, and pick the code page. */
  init[6] = (unsigned char)(e.cs.esc_t < 0 ? 0 : e.cs.esc_t);
  rc = put(&e, init, e.cs.esc_t < 0 ? 4 : sizeof init);
  if (rc == 0)
    rc = tg__layout(doc, p, &e.k);
  tg__charset_close(&e.cs);
  if (rc != 0)
    out->n = start;
  return rc;
}

int tg__escpos_drawer(tg__buf *out, int pin, int on_ms, int off_ms) {
  unsigned char cmd[] = {ESC, 'p', (unsigned char)(pin ? 1 : 0),
                         (unsigned char)((on_ms > 510 ? 510 : on_ms < 2 ? 2 : on_ms + 1) / 2),
                         (unsigned char)((off_ms > 510 ? 510 : off_ms < 2 ? 2 : off_ms + 1) / 2)};
  return tg__buf_add(out, cmd, sizeof cmd);
}
