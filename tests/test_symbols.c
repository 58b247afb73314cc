/* QR and Code 128 symbols and the PNG preview: sizes, refusals, ESC/POS bytes, scans by zbarimg. */
#include <string.h>

#include <cairo.h>

#include "helpers.h"
#include "receipts.h"

#define QR_PX 6    /* pixels per QR module in the test images */
#define BAR_PX 2   /* pixels per Code 128 module */
#define BAR_H 60   /* bar height in pixels */
#define BAR_QUIET 20
#define SCAN_MAX 4096 /* bytes of zbarimg output kept */

/* 95 printable ASCII characters, 0x20..0x7e. */
static void printable(char out[96]) {
  for (int i = 0; i < 95; i++)
    out[i] = (char)(0x20 + i);
  out[95] = '\0';
}

/* The invite URL of the product requirement: 25 + 75 = 100 characters of the
 * QR alphanumeric set. */
static void invite_url(char out[101]) {
  static const char b45[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ$%*+-./:";
  memcpy(out, "HTTPS://HQ.EXAMPLE.COM/J/", 25);
  for (int i = 0; i < 75; i++)
    out[25 + i] = b45[(i * 7 + 3) % (int)(sizeof b45 - 1)];
  out[100] = '\0';
}

/* Skips the test when zbarimg is missing. */
static int have_zbarimg(void) {
  FILE *f = popen("zbarimg --version 2>/dev/null", "r");
  char line[64];
  int ok = f != NULL && fgets(line, sizeof line, f) != NULL;
  if (f != NULL)
    ok = pclose(f) == 0 && ok;
  return ok;
}

/* Scans the PNG at path with zbarimg into got (every symbol found, one a
 * line, without the last newline) and returns zbarimg's exit status. */
static int scan(const char *path, char got[SCAN_MAX]) {
  char cmd[4200];
  size_t n = 0, r;
  snprintf(cmd, sizeof cmd, "zbarimg --raw -q '%s' 2>/dev/null", path);
  FILE *f = popen(cmd, "r");
  assert_non_null(f);
  while (n < SCAN_MAX - 1 && (r = fread(got + n, 1, SCAN_MAX - 1 - n, f)) > 0)
    n += r;
  int status = pclose(f);
  got[n] = '\0';
  if (n > 0 && got[n - 1] == '\n')
    got[--n] = '\0';
  return status;
}

/* Scans the PNG at path with zbarimg and fails unless it holds exactly want. */
static void assert_scans_as(const char *path, const char *want) {
  char got[SCAN_MAX];
  int status = scan(path, got);
  if (status != 0 || strcmp(got, want) != 0)
    fail_msg("zbarimg status %d read \"%s\", want \"%s\"", status, got, want);
}

/* A white image surface with a black painting context; antialiasing off so
 * every rectangle at integer coordinates is pixel-exact. */
static cairo_t *white_canvas(int w, int h) {
  cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
  cairo_t *cr = cairo_create(s);
  cairo_surface_destroy(s);
  assert_int_equal(cairo_status(cr), CAIRO_STATUS_SUCCESS);
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);
  cairo_set_source_rgb(cr, 0, 0, 0);
  cairo_set_antialias(cr, CAIRO_ANTIALIAS_NONE);
  return cr;
}

static void save(cairo_t *cr, const char *path) {
  cairo_fill(cr);
  assert_int_equal(cairo_surface_write_to_png(cairo_get_target(cr), path),
                   CAIRO_STATUS_SUCCESS);
  cairo_destroy(cr);
}

static void qr_scan(const char *dir, const char *text) {
  tg__qr q;
  char path[4096];
  assert_int_equal(tg__qr_make(text, strlen(text), 'M', &q), 0);
  int side = (q.width + 2 * TG__QR_QUIET) * QR_PX;
  cairo_t *cr = white_canvas(side, side);
  for (int y = 0; y < q.width; y++)
    for (int x = 0; x < q.width; x++)
      if (q.modules[y * q.width + x])
        cairo_rectangle(cr, (TG__QR_QUIET + x) * QR_PX, (TG__QR_QUIET + y) * QR_PX, QR_PX,
                        QR_PX);
  snprintf(path, sizeof path, "%s/qr.png", dir);
  save(cr, path);
  tg__qr_free(&q);
  assert_scans_as(path, text);
}

static void bars_scan(const char *dir, const char *text) {
  unsigned char bars[TG__CODE128_MODULES_MAX];
  char path[4096];
  size_t m = tg__code128(text, strlen(text), bars, NULL, NULL);
  assert_true(m > 0);
  assert_int_equal((m - 13) % 11, 0);
  cairo_t *cr = white_canvas((int)m * BAR_PX + 2 * BAR_QUIET, BAR_H + 2 * BAR_QUIET);
  for (size_t i = 0; i < m; i++)
    if (bars[i])
      cairo_rectangle(cr, BAR_QUIET + (int)i * BAR_PX, BAR_QUIET, BAR_PX, BAR_H);
  snprintf(path, sizeof path, "%s/bars.png", dir);
  save(cr, path);
  assert_scans_as(path, text);
}

static void qr_invite_fits_version_6_at_m(void **state) {
  (void)state;
  char url[101];
  tg__qr q;
  invite_url(url);
  assert_int_equal(tg__qr_make(url, 100, 'M', &q), 0);
  assert_in_range(q.version, 1, 6); /* alphanumeric mode: version 5 */
  int upper = q.version;
  assert_int_equal(q.width, 17 + 4 * q.version);
  for (int i = 0; i < q.width * q.width; i++)
    assert_in_range(q.modules[i], 0, 1);
  /* the finder pattern's corner is dark, the separator next to it light */
  assert_int_equal(q.modules[0], 1);
  assert_int_equal(q.modules[7], 0);
  tg__qr_free(&q);
  assert_null(q.modules);
  tg__qr_free(&q); /* twice, and NULL: both harmless */
  tg__qr_free(NULL);
  /* the same URL in lower case needs byte mode for its letters: a bigger symbol */
  for (int i = 0; i < 100; i++)
    if (url[i] >= 'A' && url[i] <= 'Z')
      url[i] = (char)(url[i] - 'A' + 'a');
  assert_int_equal(tg__qr_make(url, 100, 'M', &q), 0);
  assert_true(q.version > upper);
  tg__qr_free(&q);
}

static void qr_refuses_bad_input(void **state) {
  (void)state;
  char *big = malloc(TG__QR_TEXT_MAX + 1);
  tg__qr q;
  assert_non_null(big);
  memset(big, 'A', TG__QR_TEXT_MAX + 1);
  assert_int_equal(tg__qr_make(big, TG__QR_TEXT_MAX + 1, 'L', &q), TG__EINVAL);
  assert_null(q.modules);
  assert_int_equal(tg__qr_make(big, TG__QR_TEXT_MAX, 'L', &q), 0); /* the maximum fits */
  tg__qr_free(&q);
  /* the longest payload fits at every level, even in byte mode (version 40-H holds 1273) */
  memset(big, 'a', TG__QR_TEXT_MAX);
  assert_int_equal(tg__qr_make(big, TG__QR_TEXT_MAX, 'H', &q), 0);
  assert_true(q.version <= 40 && q.version >= 36);
  tg__qr_free(&q);
  free(big);
  assert_int_equal(tg__qr_make("caf\xc3\xa9", 5, 'M', &q), TG__EINVAL);
  assert_int_equal(tg__qr_make("line\nbreak", 10, 'M', &q), TG__EINVAL);
  assert_int_equal(tg__qr_make("del\x7f", 4, 'M', &q), TG__EINVAL);
  assert_int_equal(tg__qr_make("a\0b", 3, 'M', &q), TG__EINVAL);
  assert_int_equal(tg__qr_make("", 0, 'M', &q), TG__EINVAL);
  assert_int_equal(tg__qr_make("ABC", 3, 'X', &q), TG__EINVAL);
  assert_int_equal(tg__qr_make("ABC", 3, 'm', &q), TG__EINVAL);
  assert_int_equal(tg__qr_make("ABC", 3, '\0', &q), TG__EINVAL);
  assert_null(q.modules);
  /* n bytes are read, not up to a NUL */
  assert_int_equal(tg__qr_make("ABCDEF", 3, 'H', &q), 0);
  tg__qr_free(&q);
}

static void qr_scans_back(void **state) {
  (void)state;
  if (!have_zbarimg())
    TT_SKIP("zbarimg (zbar-tools) is not installed");
  char *dir = tt_tmpdir(), url[101];
  invite_url(url);
  qr_scan(dir, url);
  qr_scan(dir, "https://hq.example.com/j/aZ09-_~?x=1&y=%20");
  qr_scan(dir, "S1-T1-123456");
  tt_rmtree(dir);
}

static void code128_scans_back(void **state) {
  (void)state;
  if (!have_zbarimg())
    TT_SKIP("zbarimg (zbar-tools) is not installed");
  char *dir = tt_tmpdir(), all[96], chunk[TG__CODE128_MAX + 1];
  const char *texts[] = {"S1-T1-1", "STORE12-T01-123456", "A1234567B", "12345", "{weird}",
                         "1", "12", "123", "1234", "X12Y", "12345678901234567890",
                         "{{{", "A 12345 B 678901 C"};
  for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
    bars_scan(dir, texts[i]);
  printable(all);
  for (int i = 0; i < 95; i += TG__CODE128_MAX) {
    int n = 95 - i < TG__CODE128_MAX ? 95 - i : TG__CODE128_MAX;
    memcpy(chunk, all + i, (size_t)n);
    chunk[n] = '\0';
    bars_scan(dir, chunk);
  }
  /* every code set C value: "00".."99" in chunks of 24 pairs */
  for (int v = 0; v < 100; v += 24) {
    int n = 0;
    for (int k = v; k < v + 24 && k < 100; k++) {
      chunk[n++] = (char)('0' + k / 10);
      chunk[n++] = (char)('0' + k % 10);
    }
    chunk[n] = '\0';
    bars_scan(dir, chunk);
  }
  tt_rmtree(dir);
}

static void code128_escpos_bytes(void **state) {
  (void)state;
  unsigned char bars[TG__CODE128_MODULES_MAX];
  char e[TG__CODE128_ESCPOS_MAX];
  size_t n = 99;
  /* "S1-T1-" in B, then 12 34 56 as three code C values */
  static const unsigned char want[] = {0x7b, 0x42, 'S', '1', '-', 'T', '1', '-',
                                       0x7b, 0x43, 12,   34,  56};
  /* Start B, 6 B characters, Code C, 3 pairs, check, stop */
  size_t m = tg__code128("S1-T1-123456", 12, bars, e, &n);
  assert_int_equal(m, 11 * 12 + 13);
  assert_int_equal(n, sizeof want);
  assert_memory_equal(e, want, sizeof want);
  /* the check symbol: (104 + 1*51 + 2*17 + 3*13 + 4*52 + 5*17 + 6*13 + 7*99
   *                    + 8*12 + 9*34 + 10*56) % 103 = 2254 % 103 = 91 */
  static const unsigned char check91[11] = {1, 1, 1, 1, 0, 1, 1, 0, 1, 1, 0}; /* 412121 */
  assert_memory_equal(bars + 11 * 11, check91, 11);
  static const unsigned char stop[13] = {1, 1, 0, 0, 0, 1, 1, 1, 0, 1, 0, 1, 1};
  assert_memory_equal(bars + 11 * 12, stop, 13);
  static const unsigned char start_b[11] = {1, 1, 0, 1, 0, 0, 1, 0, 0, 0, 0}; /* 211214 */
  assert_memory_equal(bars, start_b, 11);

  /* all digits, odd: start in C, the last digit in B (ISO/IEC 15417 annex E) */
  static const unsigned char odd[] = {0x7b, 0x43, 12, 34, 0x7b, 0x42, '5'};
  assert_int_equal(tg__code128("12345", 5, bars, e, &n), 11 * 6 + 13);
  assert_int_equal(n, sizeof odd);
  assert_memory_equal(e, odd, sizeof odd);
  /* a literal '{' is doubled */
  static const unsigned char brace[] = {0x7b, 0x42, 0x7b, 0x7b, 'a', 0x7b, 0x7b};
  assert_int_equal(tg__code128("{a{", 3, bars, e, &n), 11 * 5 + 13);
  assert_int_equal(n, sizeof brace);
  assert_memory_equal(e, brace, sizeof brace);
  /* short digit runs inside text stay in B */
  assert_int_equal(tg__code128("A1234B", 6, bars, e, &n), 11 * 8 + 13);
  assert_int_equal(n, 8);
  assert_memory_equal(e, "{BA1234B", 8);
  /* escpos may be NULL */
  assert_int_equal(tg__code128("A1234B", 6, bars, NULL, NULL), 11 * 8 + 13);
}

static void code128_refusals(void **state) {
  (void)state;
  unsigned char bars[TG__CODE128_MODULES_MAX];
  char e[TG__CODE128_ESCPOS_MAX], max[TG__CODE128_MAX + 1];
  size_t n = 0;
  assert_int_equal(tg__code128("", 0, bars, e, &n), 0);
  memset(max, '{', sizeof max); /* the longest ESC/POS data: every '{' doubled */
  assert_int_equal(tg__code128(max, TG__CODE128_MAX + 1, bars, e, &n), 0);
  assert_int_equal(tg__code128(max, TG__CODE128_MAX, bars, e, &n),
                   11 * (TG__CODE128_MAX + 2) + 13);
  assert_int_equal(n, 2 + 2 * TG__CODE128_MAX);
  assert_true(n <= TG__CODE128_ESCPOS_MAX);
  assert_int_equal(tg__code128("caf\xc3\xa9", 5, bars, e, &n), 0);
  assert_int_equal(tg__code128("tab\t", 4, bars, e, &n), 0);
  assert_int_equal(tg__code128("del\x7f", 4, bars, e, &n), 0);
  assert_int_equal(tg__code128("a\0b", 3, bars, e, &n), 0);
}

/* A receipt with every kind of row: headings, CJK, items, a barcode, a coupon
 * QR and an invite QR. */
static const char *const png_header[] = {"山东烟台红富士苹果店", "Tel 021-1234 5678"};
static const tg__doc_row png_meta[] = {{"Receipt", "S1-T1-123456", 0}};
static const tg__doc_item png_items[] = {
    {"苹果（特级）约 2.5kg 装", "2", "25.00", NULL},
    {"Coca-Cola 可口可乐 330ml×6", "1", "19.90", "Discount -1.00"},
};
static const tg__doc_row png_totals[] = {{"TOTAL", "44.90", 1}};
static const tg__doc_coupon png_coupon[] = {{"CPN-2026-ABCDEF", "COUPON 10.00 off", NULL, NULL}};
static const char *const png_footer[] = {"Thank you 谢谢惠顾"};
#define PNG_INVITE "HTTPS://HQ.EXAMPLE.COM/J/6BFR5KW:QZ8X$%*+-./:0123456789ABCDEFGHIJKLMNOP"

static tg__doc png_doc(void) {
  tg__doc d = {.banner = "COPY", .header = png_header, .n_header = 2, .meta = png_meta,
               .n_meta = 1, .items = png_items, .n_items = 2, .totals = png_totals,
               .n_totals = 1, .barcode = "S1-T1-123456", .coupons = png_coupon,
               .n_coupons = 1, .invite_caption = "Join us", .invite_url = PNG_INVITE,
               .footer = png_footer, .n_footer = 1};
  return d;
}

typedef struct {
  const unsigned char *p;
  size_t n, at;
} reader;

static cairo_status_t read_png(void *closure, unsigned char *data, unsigned int n) {
  reader *r = closure;
  if (r->n - r->at < n)
    return CAIRO_STATUS_READ_ERROR;
  memcpy(data, r->p + r->at, n);
  r->at += n;
  return CAIRO_STATUS_SUCCESS;
}

static void png_preview_scans_and_fits_the_paper(void **state) {
  (void)state;
  if (!have_zbarimg())
    TT_SKIP("zbarimg (zbar-tools) is not installed");
  char *dir = tt_tmpdir(), path[4096], got[SCAN_MAX];
  tg__doc d = png_doc();
  for (int mm = 58; mm <= 80; mm += 22) {
    tg__profile p;
    tg__buf out = {0};
    tg__profile_default(&p, mm);
    assert_int_equal(tg__buf_add(&out, "keep", 4), 0);
    assert_int_equal(tg__render_png(&d, &p, &out), 0);
    assert_memory_equal(out.p, "keep", 4); /* appended after what out held */
    assert_memory_equal(out.p + 4, "\x89PNG\r\n\x1a\n", 8);

    /* one pixel per dot: the printable width and 16 px of paper each side */
    reader png = {.p = out.p + 4, .n = out.n - 4};
    cairo_surface_t *img = cairo_image_surface_create_from_png_stream(read_png, &png);
    assert_int_equal(cairo_surface_status(img), CAIRO_STATUS_SUCCESS);
    assert_int_equal(cairo_image_surface_get_width(img), p.dots + 32);
    assert_true(cairo_image_surface_get_height(img) > 1000);
    /* no ink outside the printable width (the grey cut line excepted) */
    cairo_surface_flush(img);
    const unsigned char *px = cairo_image_surface_get_data(img);
    int stride = cairo_image_surface_get_stride(img), h = cairo_image_surface_get_height(img);
    for (int y = 0; y < h; y++)
      for (int x = 0; x < p.dots + 32; x++) {
        uint32_t rgb = *(const uint32_t *)(px + (size_t)y * (size_t)stride + 4 * (size_t)x);
        if ((x < 16 || x >= 16 + p.dots) && (rgb & 0xff) < 0x40)
          fail_msg("ink at x=%d y=%d outside the %d printable dots", x, y, p.dots);
      }
    cairo_surface_destroy(img);

    snprintf(path, sizeof path, "%s/receipt.png", dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(out.p + 4, 1, out.n - 4, f), out.n - 4);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(scan(path, got), 0);
    if (strstr(got, PNG_INVITE) == NULL || strstr(got, "CPN-2026-ABCDEF") == NULL ||
        strstr(got, "S1-T1-123456") == NULL)
      fail_msg("%d mm: zbarimg read \"%s\"", mm, got);

    /* a QR payload that is not printable ASCII: refused, out as it was */
    tg__doc bad = d;
    bad.invite_url = "https://hq.example.com/j/\xe4\xb8\x80";
    size_t n = out.n;
    assert_int_equal(tg__render_png(&bad, &p, &out), TG__EINVAL);
    assert_int_equal(out.n, n);
    tg__buf_free(&out);
  }
  tt_rmtree(dir);
}

static void png_preview_is_the_same_every_time(void **state) {
  (void)state;
  tg__doc d = png_doc();
  tg__profile p;
  tg__buf a = {0}, b = {0};
  tg__profile_default(&p, 58);
  assert_int_equal(tg__render_png(&d, &p, &a), 0);
  assert_int_equal(tg__render_png(&d, &p, &b), 0);
  assert_int_equal(a.n, b.n);
  assert_memory_equal(a.p, b.p, a.n);
  tg__buf_free(&a);
  tg__buf_free(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(qr_invite_fits_version_6_at_m),
      cmocka_unit_test(qr_refuses_bad_input),
      cmocka_unit_test(qr_scans_back),
      cmocka_unit_test(code128_escpos_bytes),
      cmocka_unit_test(code128_refusals),
      cmocka_unit_test(code128_scans_back),
      cmocka_unit_test(png_preview_scans_and_fits_the_paper),
      cmocka_unit_test(png_preview_is_the_same_every_time),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
