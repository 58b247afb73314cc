/* Plain-text output: the laid-out receipt as UTF-8 lines, for logs, e-mail and customer displays. */
#include <string.h>

#include "receipts.h"

typedef struct {
  tg__sink k;   /* first: the layout calls back with &k */
  tg__buf *out;
  int columns;
  int cjk;      /* Ambiguous characters take two cells */
} text;

/* A double-width row keeps its printed width: each cell is followed by a space. */
static int spaced(text *t, const char *s, size_t n) {
  int rc = 0;
  for (size_t i = 0, len; i < n && rc == 0; i += len) {
    uint32_t cp;
    int cells;
    if ((len = tg__utf8_decode(s + i, n - i, &cp)) == 0)
      return TG__EINVAL; /* the layout sends only valid UTF-8 */
    cells = tg__width(cp, t->cjk);
    rc = tg__buf_add(t->out, s + i, len);
    if (rc == 0 && i + len < n)
      rc = tg__buf_add(t->out, "  ", (size_t)cells);
  }
  return rc;
}

static int on_text(tg__sink *k, const char *s, size_t n, unsigned style) {
  text *t = (text *)k;
  int rc = style & TG__WIDE ? spaced(t, s, n) : tg__buf_add(t->out, s, n);
  return rc != 0 ? rc : tg__buf_add(t->out, "\n", 1);
}

/* A symbol's payload (printable ASCII) stands in for it: centred when it fits
 * on a line, else cut into lines as wide as the paper. */
static int centred(text *t, const char *data, size_t n) {
  static const char spaces[64] = "                                                               ";
  size_t width = (size_t)t->columns, pad = n < width ? (width - n) / 2 : 0;
  int rc = tg__buf_add(t->out, spaces, pad < sizeof spaces ? pad : sizeof spaces - 1);
  for (size_t i = 0; i < n && rc == 0; i += width)
    if ((rc = tg__buf_add(t->out, data + i, n - i < width ? n - i : width)) == 0)
      rc = tg__buf_add(t->out, "\n", 1);
  return rc;
}

static int on_qr(tg__sink *k, const char *data, size_t n, int module) {
  (void)module;
  return centred((text *)k, data, n);
}

static int on_barcode(tg__sink *k, const char *data, size_t n, int module) {
  (void)module;
  return centred((text *)k, data, n);
}

static int on_feed(tg__sink *k, int n) {
  int rc = 0;
  while (n-- > 0 && rc == 0)
    rc = tg__buf_add(((text *)k)->out, "\n", 1);
  return rc;
}

static int on_cut(tg__sink *k) {
  (void)k;
  return 0;
}

int tg__render_text(const tg__doc *doc, const tg__profile *p, tg__buf *out) {
  text t = {.k = {on_text, on_qr, on_barcode, on_feed, on_cut}, .out = out, .columns = p->columns};
  tg__charset cs;
  size_t start = out->n;
  int rc = tg__charset_init(&cs, p->encoding);
  if (rc == 0) {
    t.cjk = cs.cjk;
    rc = tg__layout(doc, p, &t.k);
  }
  if (rc != 0)
    out->n = start;
  return rc;
}
