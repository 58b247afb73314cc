/* PNG previews of receipts at printer resolution, drawn with cairo and pango like the paper. */
#include <stdlib.h>
#include <string.h>

#include <cairo.h>
#include <pango/pangocairo.h>

#include "receipts.h"

#define MARGIN 16     /* paper shown beyond the printable width, and above the first row */
#define CELL_W 12     /* Font A cell, in dots */
#define BASELINE 20   /* from the top of the 24-dot cell */
#define PITCH 30      /* line pitch of a normal row, and of a fed line */
#define TALL_PITCH 54 /* a double-height row: 48 dots of cell and the same gap */
#define CUT_H 24      /* paper around the dashed cut line, which is at its middle */
#define DASH 8        /* the cut line: DASH dots drawn, then GAP dots blank */
#define GAP 4
#define MAX_SIDE 32767 /* cairo's limit for an image surface */
#define FONT_PX 22
/* The Mono face has half-width Latin letters, as Font A prints them; both are
 * the same file of fonts-wqy-microhei. */
#define FONT_FAMILY "WenQuanYi Micro Hei Mono,WenQuanYi Micro Hei"

typedef enum { ROW_TEXT, ROW_QR, ROW_BARCODE, ROW_FEED, ROW_CUT } row_kind;

typedef struct {
  row_kind kind;
  int height;            /* dots of paper the row takes */
  unsigned style;        /* text: TG__BOLD, TG__WIDE, TG__TALL */
  char *z;               /* text: a copy of the row's UTF-8 */
  size_t n;              /* text: bytes at z; barcode: modules at bars */
  tg__qr qr;             /* qr: the symbol */
  int module;            /* qr: dots per module; barcode: dots per module */
  unsigned char *bars;   /* barcode: one entry per module */
} row;

/* A sink that keeps the rows, to draw them once the height is known. */
typedef struct {
  tg__sink sink; /* first, so that a tg__sink * is a recorder * */
  const tg__profile *p;
  row *rows;
  size_t n, cap;
  long height; /* sum of the rows' heights */
} recorder;

static void row_free(row *w) {
  free(w->z);
  free(w->bars);
  tg__qr_free(&w->qr);
}

/* Appends *w, whose memory the recorder then owns (freed here on failure). */
static int push(recorder *r, row *w) {
  if (r->height + w->height > MAX_SIDE - 2 * MARGIN)
    goto fail; /* taller than cairo can draw */
  if (r->n == r->cap) {
    size_t cap = r->cap ? 2 * r->cap : 64;
    row *rows = realloc(r->rows, cap * sizeof *rows);
    if (rows == NULL)
      goto fail;
    r->rows = rows;
    r->cap = cap;
  }
  r->rows[r->n++] = *w;
  r->height += w->height;
  return 0;

fail:
  row_free(w);
  return TG__ENOMEM;
}

static int rec_text(tg__sink *k, const char *s, size_t n, unsigned style) {
  row w = {.kind = ROW_TEXT, .style = style, .n = n};
  w.height = style & TG__TALL ? TALL_PITCH : PITCH;
  if ((w.z = malloc(n + 1)) == NULL)
    return TG__ENOMEM;
  memcpy(w.z, s, n);
  w.z[n] = '\0';
  return push((recorder *)k, &w);
}

static int rec_qr(tg__sink *k, const char *data, size_t n, int module) {
  recorder *r = (recorder *)k;
  row w = {.kind = ROW_QR, .module = module > 0 ? module : 1};
  int rc = tg__qr_make(data, n, r->p->qr_ecc, &w.qr);
  if (rc != 0)
    return rc;
  int side = w.qr.width + 2 * TG__QR_QUIET;
  w.module = tg__qr_module_fit(side, w.module, r->p->dots); /* as escpos.c's raster QR */
  w.height = side * w.module;
  return push(r, &w);
}

static int rec_barcode(tg__sink *k, const char *data, size_t n, int module) {
  recorder *r = (recorder *)k;
  unsigned char bars[TG__CODE128_MODULES_MAX];
  size_t m = tg__code128(data, n, bars, NULL, NULL);
  row w = {.kind = ROW_BARCODE, .n = m, .height = TG__BARCODE_HEIGHT,
           .module = module > 0 ? module : 1};
  if (m == 0)
    return TG__EINVAL;
  if ((w.bars = malloc(m)) == NULL)
    return TG__ENOMEM;
  memcpy(w.bars, bars, m);
  return push(r, &w);
}

static int rec_feed(tg__sink *k, int n) {
  row w = {.kind = ROW_FEED};
  if (n <= 0)
    return 0;
  w.height = n > MAX_SIDE / PITCH ? MAX_SIDE : n * PITCH;
  return push((recorder *)k, &w);
}

static int rec_cut(tg__sink *k) {
  recorder *r = (recorder *)k;
  row w = {.kind = r->p->cut == TG__CUT_NONE ? ROW_FEED : ROW_CUT, .height = CUT_H};
  return push(r, &w);
}

/* Draws one character (len bytes at s) in a box of cells cells at x, y. */
static void draw_char(cairo_t *cr, PangoLayout *lo, const char *s, size_t len, int cells,
                      double x, double y, int xs, int ys) {
  PangoRectangle logical;
  double box = cells * CELL_W, k = 1;
  pango_layout_set_text(lo, s, (int)len);
  pango_layout_get_extents(lo, NULL, &logical);
  double w = (double)logical.width / PANGO_SCALE;
  double base = (double)pango_layout_get_baseline(lo) / PANGO_SCALE;
  if (w > box)
    k = box / w; /* narrow a glyph wider than its cells rather than overlap the next */
  cairo_save(cr);
  cairo_translate(cr, x + (box - w * k) / 2 * xs, y);
  cairo_scale(cr, xs * k, ys);
  cairo_move_to(cr, 0, BASELINE - base);
  pango_cairo_show_layout(cr, lo);
  cairo_restore(cr);
}

/* Draws a text row at y: each character at its own column, as the printer does. */
static void draw_text(cairo_t *cr, PangoLayout *lo, const PangoFontDescription *regular,
                      const PangoFontDescription *bold, const row *w, int y,
                      int ambiguous_wide) {
  int xs = w->style & TG__WIDE ? 2 : 1, ys = w->style & TG__TALL ? 2 : 1, col = 0;
  pango_layout_set_font_description(lo, w->style & TG__BOLD ? bold : regular);
  for (size_t i = 0; i < w->n;) {
    uint32_t cp = '?';
    const char *s = w->z + i;
    size_t len = tg__utf8_decode(s, w->n - i, &cp);
    if (len == 0) { /* the layout sends valid UTF-8; show anything else as '?' */
      s = "?";
      len = 1;
      cp = '?';
      i += 1;
    } else {
      i += len;
    }
    int cells = tg__width(cp, ambiguous_wide);
    if (cells == 0)
      continue;
    if (cp != ' ')
      draw_char(cr, lo, s, len, cells, MARGIN + col * CELL_W * xs, y, xs, ys);
    col += cells;
  }
}

/* Fills each run of dark modules of a line as one rectangle of module dots per module. */
static void draw_runs(cairo_t *cr, const unsigned char *line, int n, int x, int y, int module,
                      int height) {
  for (int i = 0; i < n;) {
    int j = i;
    while (j < n && line[j])
      j++;
    if (j > i)
      cairo_rectangle(cr, x + i * module, y, (j - i) * module, height);
    i = j + 1;
  }
}

static void draw_qr(cairo_t *cr, const row *w, int dots, int y) {
  int side = (w->qr.width + 2 * TG__QR_QUIET) * w->module;
  int x0 = MARGIN + (dots - side) / 2 + TG__QR_QUIET * w->module;
  int y0 = y + TG__QR_QUIET * w->module;
  for (int r = 0; r < w->qr.width; r++)
    draw_runs(cr, w->qr.modules + r * w->qr.width, w->qr.width, x0, y0 + r * w->module,
              w->module, w->module);
  cairo_fill(cr);
}

static void draw_barcode(cairo_t *cr, const row *w, int dots, int y) {
  int x0 = MARGIN + (dots - (int)w->n * w->module) / 2;
  draw_runs(cr, w->bars, (int)w->n, x0, y, w->module, TG__BARCODE_HEIGHT);
  cairo_fill(cr);
}

static void draw_cut(cairo_t *cr, int width, int y) {
  cairo_set_source_rgb(cr, 0.5, 0.5, 0.5);
  for (int x = 0; x < width; x += DASH + GAP)
    cairo_rectangle(cr, x, y + CUT_H / 2, x + DASH <= width ? DASH : width - x, 1);
  cairo_fill(cr);
  cairo_set_source_rgb(cr, 0, 0, 0);
}

/* Draws the recorded rows into cr, an image width × height, and returns 0 or TG__ENOMEM. */
static int draw(const recorder *r, cairo_t *cr, int width) {
  PangoFontMap *map = NULL;
  PangoContext *ctx = NULL;
  PangoLayout *lo = NULL;
  PangoFontDescription *regular = NULL, *bold = NULL;
  cairo_font_options_t *opt = NULL;
  tg__charset cs;
  int ambiguous_wide = tg__charset_init(&cs, r->p->encoding) == 0 && cs.cjk;
  int y = MARGIN, rc = TG__ENOMEM;

  /* The font map is this preview's own, so nothing lingers between renders.
   * Fixed font options: the same PNG on every machine with the same fonts. */
  map = pango_cairo_font_map_new();
  ctx = pango_font_map_create_context(map);
  opt = cairo_font_options_create();
  if (cairo_font_options_status(opt) != CAIRO_STATUS_SUCCESS)
    goto fail;
  cairo_font_options_set_antialias(opt, CAIRO_ANTIALIAS_GRAY);
  cairo_font_options_set_hint_style(opt, CAIRO_HINT_STYLE_NONE);
  cairo_font_options_set_hint_metrics(opt, CAIRO_HINT_METRICS_OFF);
  pango_cairo_context_set_font_options(ctx, opt);
  lo = pango_layout_new(ctx);
  regular = pango_font_description_new();
  pango_font_description_set_family(regular, FONT_FAMILY);
  pango_font_description_set_absolute_size(regular, FONT_PX * PANGO_SCALE);
  bold = pango_font_description_copy(regular);
  pango_font_description_set_weight(bold, PANGO_WEIGHT_BOLD);

  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);
  cairo_set_source_rgb(cr, 0, 0, 0);
  for (size_t i = 0; i < r->n; i++) {
    const row *w = &r->rows[i];
    cairo_set_antialias(cr, w->kind == ROW_TEXT ? CAIRO_ANTIALIAS_GRAY : CAIRO_ANTIALIAS_NONE);
    if (w->kind == ROW_TEXT)
      draw_text(cr, lo, regular, bold, w, y, ambiguous_wide);
    else if (w->kind == ROW_QR)
      draw_qr(cr, w, r->p->dots, y);
    else if (w->kind == ROW_BARCODE)
      draw_barcode(cr, w, r->p->dots, y);
    else if (w->kind == ROW_CUT)
      draw_cut(cr, width, y);
    y += w->height;
  }
  if (cairo_status(cr) == CAIRO_STATUS_SUCCESS)
    rc = 0;

fail:
  pango_font_description_free(bold);
  pango_font_description_free(regular);
  if (lo != NULL)
    g_object_unref(lo);
  cairo_font_options_destroy(opt);
  g_object_unref(ctx);
  g_object_unref(map);
  return rc;
}

static cairo_status_t write_png(void *closure, const unsigned char *data, unsigned int n) {
  return tg__buf_add(closure, data, n) == 0 ? CAIRO_STATUS_SUCCESS : CAIRO_STATUS_WRITE_ERROR;
}

/*
 * Renders doc for p as a PNG preview appended to *out: one pixel per printer
 * dot, p->dots wide plus MARGIN of paper each side, black on white. Text is
 * drawn character by character on the 12 × 24 dot grid of Font A (30-dot line
 * pitch), QR and Code 128 symbols pixel-exact, a cut as a dashed grey line.
 * Returns 0; TG__ENOMEM when memory runs out or the receipt is taller than
 * cairo can draw (32767 dots); or TG__EINVAL when the profile's encoding
 * cannot be opened or a QR payload does not fit a symbol. On failure *out
 * holds what it held before. Does not keep doc or p.
 */
int tg__render_png(const tg__doc *doc, const tg__profile *p, tg__buf *out) {
  recorder r = {
      .sink = {.text = rec_text, .qr = rec_qr, .barcode = rec_barcode, .feed = rec_feed,
               .cut = rec_cut},
      .p = p,
  };
  cairo_surface_t *surface = NULL;
  cairo_t *cr = NULL;
  size_t n0 = out->n;
  int width = p->dots + 2 * MARGIN, rc;
  long height;

  if ((rc = tg__layout(doc, p, &r.sink)) != 0)
    goto fail;
  height = MARGIN + r.height;
  if (r.n == 0 || r.rows[r.n - 1].kind != ROW_CUT)
    height += MARGIN; /* paper after the last row; a cut ends the image itself */
  rc = TG__ENOMEM;
  surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, (int)height);
  cr = cairo_create(surface);
  if (cairo_status(cr) != CAIRO_STATUS_SUCCESS)
    goto fail;
  if ((rc = draw(&r, cr, width)) != 0)
    goto fail;
  cairo_surface_flush(surface);
  if (cairo_surface_write_to_png_stream(surface, write_png, out) != CAIRO_STATUS_SUCCESS) {
    rc = TG__ENOMEM;
    goto fail;
  }
  rc = 0;

fail:
  if (rc != 0)
    out->n = n0;
  cairo_destroy(cr);
  cairo_surface_destroy(surface);
  for (size_t i = 0; i < r.n; i++)
    row_free(&r.rows[i]);
  free(r.rows);
  return rc;
}
