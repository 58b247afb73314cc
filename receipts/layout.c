/* Receipt layout: a document and a printer profile become printed rows of character cells. */
#include <assert.h>
#include <string.h>

#include "receipts.h"

#define ROW_MAX 512         /* bytes of a row: at most 92 cells of at most 3 bytes */
#define NAME_MIN 10         /* narrowest name column before items stack their money below */
#define BARCODE_MODULE 2    /* the thinnest bar most scanners read off thermal paper */

typedef struct {
  const tg__profile *p;
  tg__sink *k;
  tg__charset cs;
  int err;                  /* the first error met while reading text */
} ctx;

/* One printable character: its bytes (UTF-8) and cells; cells 0 means "skip". */
typedef struct {
  char b[4];
  size_t n;                 /* bytes consumed from the source */
  size_t len;               /* bytes in b */
  int cells;
  uint32_t cp;              /* what was read: a line may break beside an ideograph */
} glyph;

typedef struct {
  char b[ROW_MAX];
  size_t n;
  int cells;
} row;

typedef enum { LEFT, CENTER, RIGHT } align;

/* Reads the character at s as the printer will print it: invalid bytes,
 * controls and characters outside the printer's set become '?', tabs and line
 * breaks a space, and zero-width characters nothing. */
static void next_glyph(ctx *c, const char *s, size_t n, glyph *g) {
  uint32_t cp;
  unsigned char enc[4];
  int r;
  unsigned char b = (unsigned char)s[0];
  g->cells = 1;
  g->len = 1;
  if (b >= 0x20 && b < 0x7f) { /* the common case */
    g->b[0] = (char)b;
    g->n = 1;
    g->cp = b;
    return;
  }
  g->b[0] = '?';
  if ((g->n = tg__utf8_decode(s, n, &cp)) == 0) {
    g->n = 1;
    g->cp = '?';
    return;
  }
  g->cp = cp;
  if (cp == '\t' || cp == '\n' || cp == '\r') {
    g->b[0] = ' ';
    return;
  }
  if ((g->cells = tg__width(cp, c->cs.cjk)) == 0)
    return; /* combining marks, joiners, direction marks: nothing to print */
  r = tg__charset_encode(&c->cs, cp, enc);
  if (r > 0) {
    memcpy(g->b, s, g->n);
    g->len = g->n;
    return;
  }
  if (r < 0 && c->err == 0)
    c->err = r;
  g->cells = 1; /* '?' */
}

static size_t len_of(const char *s) { return s != NULL ? strlen(s) : 0; }

/* Cells s takes, stopping once past limit. */
static int measure(ctx *c, const char *s, size_t n, int limit) {
  int cells = 0;
  glyph g;
  for (size_t i = 0; i < n && cells <= limit; i += g.n) {
    next_glyph(c, s + i, n - i, &g);
    cells += g.cells;
  }
  return cells;
}

/* Ideographs and other East Asian wide characters: a line may break beside them. */
static int breaks_beside(const glyph *g) { return g->cells == 2 && tg__width(g->cp, 0) == 2; }

/* Punctuation that may not start a line (it stays with the text before it),
 * and punctuation that may not end one: a simple form of kinsoku shori. */
static int no_start(uint32_t cp) {
  static const uint32_t closing[] = {0x3001, 0x3002, 0xff0c, 0xff0e, 0xff1a, 0xff1b, 0xff01,
                                     0xff1f, 0xff09, 0x300d, 0x300f, 0x3011, 0x3015, 0x3009,
                                     0x300b, 0x2026, 0x30fc, 0xff5e};
  for (size_t i = 0; i < sizeof closing / sizeof closing[0]; i++)
    if (cp == closing[i])
      return 1;
  return 0;
}
static int no_end(uint32_t cp) {
  return cp == 0xff08 || cp == 0x300c || cp == 0x300e || cp == 0x3010 || cp == 0x3014 ||
         cp == 0x3008 || cp == 0x300a;
}

/* How many bytes of s[0..n) go on a line of width cells: as many characters as
 * fit, broken after a space or beside an ideograph when the text goes on, but
 * not before closing or after opening punctuation. */
static size_t fit(ctx *c, const char *s, size_t n, int width) {
  size_t i = 0, brk = 0;
  int cells = 0;
  glyph g, prev = {.cells = 0};
  while (i < n) {
    next_glyph(c, s + i, n - i, &g);
    if (cells + g.cells > width) { /* width >= 8, so the first glyph always fits */
      if (g.b[0] == ' ' ||
          ((breaks_beside(&g) || breaks_beside(&prev)) && !no_start(g.cp) && !no_end(prev.cp)))
        return i;
      return brk > 0 ? brk : i;
    }
    /* a break before this glyph, judged with its neighbours */
    if (i > 0 && (breaks_beside(&g) || breaks_beside(&prev)) && !no_start(g.cp) &&
        !no_end(prev.cp) && g.b[0] != ' ')
      brk = i;
    cells += g.cells;
    i += g.n;
    if (g.b[0] == ' ')
      brk = i;
    if (g.cells > 0)
      prev = g;
  }
  return n;
}

static void row_spaces(row *r, int k) {
  assert(k >= 0 && r->n + (size_t)k <= ROW_MAX);
  memset(r->b + r->n, ' ', (size_t)k);
  r->n += (size_t)k;
  r->cells += k;
}

/* Appends the printable form of s[0..n), which the caller has measured. */
static void row_text(ctx *c, row *r, const char *s, size_t n) {
  glyph g;
  for (size_t i = 0; i < n; i += g.n) {
    next_glyph(c, s + i, n - i, &g);
    if (g.cells == 0)
      continue;
    assert(r->n + g.len <= ROW_MAX);
    memcpy(r->b + r->n, g.b, g.len);
    r->n += g.len;
    r->cells += g.cells;
  }
}

static int emit(ctx *c, row *r, unsigned style) {
  while (r->n > 0 && r->b[r->n - 1] == ' ') {
    r->n--;
    r->cells--;
  }
  assert(r->cells <= (style & TG__WIDE ? c->p->columns / 2 : c->p->columns));
  return c->k->text(c->k, r->b, r->n, style);
}

static size_t skip_spaces(const char *s, size_t n, size_t i) {
  while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
    i++;
  return i;
}

/* Writes s wrapped to the line width, each line aligned; indent cells on the
 * left. Text with nothing to print (empty, spaces) still makes one blank row. */
static int put_text(ctx *c, const char *s, align a, unsigned style, int indent) {
  int width = (style & TG__WIDE ? c->p->columns / 2 : c->p->columns) - indent, rc, rows = 0;
  size_t n = len_of(s), i = 0;
  while ((i = skip_spaces(s, n, i)) < n) {
    size_t take = fit(c, s + i, n - i, width), shown = take;
    while (shown > 0 && s[i + shown - 1] == ' ')
      shown--; /* the space a line breaks after is not part of its width */
    int cells = measure(c, s + i, shown, width);
    row r = {.n = 0};
    row_spaces(&r, indent + (a == CENTER ? (width - cells) / 2 : a == RIGHT ? width - cells : 0));
    row_text(c, &r, s + i, shown);
    if ((rc = emit(c, &r, style)) != 0)
      return rc;
    rows++;
    i += take;
  }
  return rows > 0 ? 0 : emit(c, &(row){.n = 0}, style);
}

static int put_rule(ctx *c) {
  row r = {.n = 0};
  memset(r.b, '-', (size_t)c->p->columns);
  r.n = (size_t)(r.cells = c->p->columns);
  return emit(c, &r, 0);
}

/* Label on the left and value on the right of one row; when they do not fit
 * together, the label wraps and the value goes right-aligned below it. */
static int put_pair(ctx *c, const char *label, const char *value, int emphasis) {
  size_t nl = len_of(label), nv = len_of(value);
  int half = c->p->columns / 2;
  int wl = measure(c, label, nl, c->p->columns), wv = measure(c, value, nv, c->p->columns);
  unsigned style = emphasis ? TG__BOLD | TG__TALL : 0;
  int width = c->p->columns, rc;
  row r = {.n = 0};
  if (emphasis && wl + 1 + wv <= half) {
    style |= TG__WIDE;
    width = half;
  }
  if (wl + 1 + wv <= width) {
    row_text(c, &r, label, nl);
    row_spaces(&r, width - wl - wv);
    row_text(c, &r, value, nv);
    return emit(c, &r, style);
  }
  if ((rc = put_text(c, label, LEFT, style, 0)) != 0)
    return rc;
  return put_text(c, value, RIGHT, style, 0);
}

/* Items: names wrap under themselves in the first column while quantity and
 * money stay right-aligned in theirs. When the money is so wide that the name
 * column would be narrower than NAME_MIN, or a quantity or amount is wider than
 * its column, the item's name takes whole rows and its numbers follow. */
static int put_items(ctx *c, const tg__doc *d) {
  int cols = c->p->columns, wq = 0, wa = 0, rc;
  for (size_t i = 0; i < d->n_items; i++) {
    int q = measure(c, d->items[i].qty, len_of(d->items[i].qty), cols);
    int a = measure(c, d->items[i].amount, len_of(d->items[i].amount), cols);
    if (q <= cols / 4 && q > wq)
      wq = q;
    if (a <= cols / 2 && a > wa)
      wa = a;
  }
  int wn = cols - wa - 1 - (wq > 0 ? wq + 1 : 0);
  int columns = wn >= NAME_MIN;
  for (size_t i = 0; i < d->n_items; i++) {
    const tg__doc_item *it = &d->items[i];
    size_t nn = len_of(it->name), nq = len_of(it->qty), na = len_of(it->amount);
    int q = measure(c, it->qty, nq, cols), a = measure(c, it->amount, na, cols);
    if (!columns || q > wq || a > wa) {
      if ((rc = put_text(c, it->name, LEFT, 0, 0)) != 0 ||
          (rc = put_pair(c, it->qty, it->amount, 0)) != 0)
        return rc;
    } else {
      const char *name = it->name != NULL ? it->name : "";
      size_t at = skip_spaces(name, nn, 0), take = fit(c, name + at, nn - at, wn);
      int w = measure(c, name + at, take, wn);
      row r = {.n = 0};
      row_text(c, &r, name + at, take);
      row_spaces(&r, wn - w + 1 + (wq > 0 ? wq - q : 0));
      row_text(c, &r, it->qty, nq);
      row_spaces(&r, (wq > 0 ? 1 : 0) + wa - a);
      row_text(c, &r, it->amount, na);
      if ((rc = emit(c, &r, 0)) != 0)
        return rc;
      for (at = skip_spaces(name, nn, at + take); at < nn;
           at = skip_spaces(name, nn, at + take)) {
        row rest = {.n = 0};
        take = fit(c, name + at, nn - at, wn);
        row_text(c, &rest, name + at, take);
        if ((rc = emit(c, &rest, 0)) != 0)
          return rc;
      }
    }
    if (it->note != NULL && (rc = put_text(c, it->note, LEFT, 0, 2)) != 0)
      return rc;
  }
  return 0;
}

/* A QR symbol with the profile's module size, smaller if the paper needs it.
 * A printer's own encoder is assumed to use byte mode: its symbol may be larger. */
static int put_qr(ctx *c, const char *text) {
  size_t n = len_of(text);
  int any_mode = c->p->qr == TG__QR_RASTER, v;
  if (!tg__symbol_text(text, n, TG__QR_TEXT_MAX) ||
      (v = tg__qr_version_for(text, n, c->p->qr_ecc, any_mode)) == 0)
    return TG__EINVAL;
  return c->k->qr(c->k, text, n,
                  tg__qr_module_fit(17 + 4 * v + 2 * TG__QR_QUIET, c->p->qr_module, c->p->dots));
}

/* The receipt number as Code 128, left out when it would not fit the paper. */
static int put_barcode(ctx *c, const char *data) {
  unsigned char bars[TG__CODE128_MODULES_MAX];
  size_t n = len_of(data), modules = tg__code128(data, n, bars, NULL, NULL);
  if (modules == 0 || (modules + 2 * TG__BARCODE_QUIET) * BARCODE_MODULE > (size_t)c->p->dots)
    return 0;
  return c->k->barcode(c->k, data, n, BARCODE_MODULE);
}

static int put_lines(ctx *c, const char *const *lines, size_t n) {
  int rc = 0;
  for (size_t i = 0; i < n && rc == 0; i++)
    rc = put_text(c, lines[i], CENTER, 0, 0);
  return rc;
}

static int put_rows(ctx *c, const tg__doc_row *rows, size_t n) {
  int rc = 0;
  for (size_t i = 0; i < n && rc == 0; i++)
    rc = put_pair(c, rows[i].label, rows[i].amount, rows[i].emphasis);
  return rc;
}

/* A centred heading: bold and double size when it fits on one line at double width. */
static int put_heading(ctx *c, const char *s) {
  unsigned style = TG__BOLD | TG__TALL;
  if (measure(c, s, len_of(s), c->p->columns) <= c->p->columns / 2)
    style |= TG__WIDE;
  return put_text(c, s, CENTER, style, 0);
}

static int put_coupon(ctx *c, const tg__doc_coupon *cp) {
  int rc;
  if ((rc = put_rule(c)) != 0 || (rc = put_text(c, cp->title, CENTER, TG__BOLD, 0)) != 0 ||
      (rc = put_qr(c, cp->qr)) != 0)
    return rc;
  if (cp->terms != NULL && (rc = put_text(c, cp->terms, LEFT, 0, 0)) != 0)
    return rc;
  if (cp->expires != NULL && (rc = put_text(c, cp->expires, CENTER, 0, 0)) != 0)
    return rc;
  return 0;
}

static int layout(ctx *c, const tg__doc *d) {
  int rc = 0;
#define STEP(call)                                                                       \
  do {                                                                                   \
    if ((rc = (call)) != 0)                                                              \
      return rc;                                                                         \
  } while (0)
  if (d->banner != NULL)
    STEP(put_heading(c, d->banner));
  if (d->n_header > 0) {
    STEP(put_heading(c, d->header[0]));
    STEP(put_lines(c, d->header + 1, d->n_header - 1));
  }
  if (d->n_meta > 0) {
    STEP(put_rule(c));
    STEP(put_rows(c, d->meta, d->n_meta));
  }
  STEP(put_rule(c));
  STEP(put_items(c, d));
  STEP(put_rule(c));
  STEP(put_rows(c, d->totals, d->n_totals));
  STEP(put_rows(c, d->payments, d->n_payments));
  if (d->barcode != NULL && c->p->barcode) {
    STEP(c->k->feed(c->k, 1));
    STEP(put_barcode(c, d->barcode));
  }
  for (size_t i = 0; i < d->n_coupons; i++)
    STEP(put_coupon(c, &d->coupons[i]));
  if (d->invite_url != NULL) {
    STEP(put_rule(c));
    if (d->invite_caption != NULL)
      STEP(put_text(c, d->invite_caption, CENTER, TG__BOLD, 0));
    STEP(put_qr(c, d->invite_url));
  }
  if (d->n_footer > 0) {
    STEP(c->k->feed(c->k, 1));
    STEP(put_lines(c, d->footer, d->n_footer));
  }
  STEP(c->k->feed(c->k, 1));
  return c->k->cut(c->k);
#undef STEP
}

int tg__layout(const tg__doc *doc, const tg__profile *p, tg__sink *k) {
  ctx c = {.p = p, .k = k};
  int rc;
  assert(p->columns >= 16 && p->columns <= p->dots / 12); /* tg__profile_check() */
  if (tg__charset_init(&c.cs, p->encoding) != 0)
    return TG__EINVAL;
  rc = layout(&c, doc);
  tg__charset_close(&c.cs);
  return rc != 0 ? rc : c.err;
}
