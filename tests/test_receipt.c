/* Receipts: golden ESC/POS and text, QR codes read back by zbarimg, widths, refusals. */
#define _GNU_SOURCE /* memmem */
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "escpos_check.h"
#include "helpers.h"

/* Fixtures in tests/receipts/, golden output in tests/golden/receipts/.
 * TG_UPDATE_GOLDEN=1 rewrites the golden files instead of comparing. */
static const char *const fixtures[] = {
    "reference-receipt", "reference-receipt-zh", "mixed", "long-name", "emoji", "zero-width",
    "rtl",               "empty",                "lines-500", "huge",  "cp437",
};

static char *slurp(const char *path, size_t *n) {
  char *s, why[300];
  if (tg__file_read(path, 8 << 20, &s, n, why, sizeof why) != 0)
    fail_msg("%s", why);
  return s;
}

static tg__receipt_doc *load_fixture(const char *name, tg__profile *p) {
  char path[256], why[256];
  size_t n;
  tg__receipt_doc *doc;
  snprintf(path, sizeof path, "tests/receipts/%s.json", name);
  char *json = slurp(path, &n);
  int rc = tg__receipt_doc_from_json(json, n, &doc, p, why, sizeof why);
  free(json);
  if (rc != 0)
    fail_msg("%s: %s", path, why);
  return doc;
}

static void write_file(const char *path, const void *p, size_t n) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(p, 1, n, f), n);
  assert_int_equal(fclose(f), 0);
}

static void golden(const char *name, const char *ext, const tg__buf *b) {
  char path[256];
  size_t n;
  snprintf(path, sizeof path, "tests/golden/receipts/%s.%s", name, ext);
  if (getenv("TG_UPDATE_GOLDEN") != NULL) {
    write_file(path, b->p, b->n);
    return;
  }
  char *want = slurp(path, &n);
  if (n != b->n || memcmp(want, b->p, n) != 0) {
    char got[300];
    snprintf(got, sizeof got, "build/%s.%s", name, ext);
    write_file(got, b->p, b->n);
    free(want);
    fail_msg("%s differs from %s (%zu vs %zu bytes)", got, path, b->n, n);
  }
  free(want);
}

static void goldens_match(void **state) {
  (void)state;
  for (size_t f = 0; f < sizeof fixtures / sizeof fixtures[0]; f++) {
    tg__profile p;
    tg__receipt_doc *doc = load_fixture(fixtures[f], &p);
    tg__buf esc = {0}, text = {0};
    tt_escpos walk;
    assert_int_equal(tg__render_escpos(tg__receipt_doc_get(doc), &p, &esc), 0);
    assert_int_equal(tg__render_text(tg__receipt_doc_get(doc), &p, &text), 0);
    if (tt_escpos_walk(esc.p, esc.n, &p, &walk) != 0)
      fail_msg("%s: %s", fixtures[f], walk.error);
    assert_int_equal(walk.cuts, p.cut == TG__CUT_NONE ? 0 : 1);
    assert_int_equal(tt_text_walk(text.p, text.n, &p), 0);
    golden(fixtures[f], "escpos", &esc);
    golden(fixtures[f], "txt", &text);
    if (f < 2) { /* the reference receipts with their QR sent as an image too */
      p.qr = TG__QR_RASTER;
      esc.n = 0;
      assert_int_equal(tg__render_escpos(tg__receipt_doc_get(doc), &p, &esc), 0);
      golden(fixtures[f], "raster.escpos", &esc);
    }
    tg__buf_free(&esc);
    tg__buf_free(&text);
    tg__receipt_doc_free(doc);
  }
}

/* What zbarimg reads in the image at path ("" if nothing), one symbol a line. */
static void zbar(const char *path, char *out, size_t len) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "zbarimg -q %s 2>/dev/null", path);
  FILE *f = popen(cmd, "r");
  assert_non_null(f);
  size_t n = fread(out, 1, len - 1, f);
  out[n] = '\0';
  pclose(f);
}

/* zbarimg comes with zbar-tools, which scripts/deps.sh installs. */
#define NEED_ZBAR()                                                                      \
  do {                                                                                   \
    if (access("/usr/bin/zbarimg", X_OK) != 0)                                           \
      TT_SKIP("zbarimg is missing: install zbar-tools (scripts/deps.sh does)");          \
  } while (0)

static void raster_qr_in_the_stream_decodes(void **state) {
  (void)state;
  NEED_ZBAR();
  for (int f = 0; f < 2; f++) {
    tg__profile p;
    tg__receipt_doc *doc = load_fixture(fixtures[f], &p);
    tg__buf esc = {0};
    tt_escpos walk;
    char *dir = tt_tmpdir(), path[4200], got[1024], want[1100];
    p.qr = TG__QR_RASTER;
    assert_int_equal(tg__render_escpos(tg__receipt_doc_get(doc), &p, &esc), 0);
    assert_int_equal(tt_escpos_walk(esc.p, esc.n, &p, &walk), 0);
    assert_non_null(walk.raster);
    assert_int_equal(walk.qr_native, 0);
    /* GS v 0 rows are PBM rows: 1 is a black dot, most significant bit first */
    snprintf(path, sizeof path, "%s/qr.pbm", dir);
    FILE *pbm = fopen(path, "wb");
    assert_non_null(pbm);
    fprintf(pbm, "P4\n%d %d\n", walk.raster_width_bytes * 8, walk.raster_height);
    fwrite(walk.raster, (size_t)walk.raster_width_bytes, (size_t)walk.raster_height, pbm);
    fclose(pbm);
    zbar(path, got, sizeof got);
    snprintf(want, sizeof want, "QR-Code:%s\n", tg__receipt_doc_get(doc)->invite_url);
    assert_string_equal(got, want);
    tt_rmtree(dir);
    tg__buf_free(&esc);
    tg__receipt_doc_free(doc);
  }
}

static void native_qr_carries_the_url(void **state) {
  tg__profile p;
  tg__receipt_doc *doc = load_fixture("reference-receipt", &p);
  tg__buf esc = {0};
  tt_escpos walk;
  const char *url = tg__receipt_doc_get(doc)->invite_url;
  (void)state;
  assert_int_equal(tg__render_escpos(tg__receipt_doc_get(doc), &p, &esc), 0);
  assert_int_equal(tt_escpos_walk(esc.p, esc.n, &p, &walk), 0);
  assert_int_equal(walk.qr_native, 1);
  assert_null(walk.raster);
  assert_int_equal(walk.qr_len, strlen(url));
  assert_memory_equal(walk.qr_data, url, walk.qr_len);
  /* model 2, module 6, ECC M */
  assert_non_null(memmem(esc.p, esc.n, "\x1d(k\x04\x00\x31\x41\x32\x00", 9));
  assert_non_null(memmem(esc.p, esc.n, "\x1d(k\x03\x00\x31\x43\x06", 8));
  assert_non_null(memmem(esc.p, esc.n, "\x1d(k\x03\x00\x31\x45\x31", 8));
  tg__buf_free(&esc);
  tg__receipt_doc_free(doc);
}

static void png_preview_decodes(void **state) {
  char *dir = tt_tmpdir(), path[4200], got[2048];
  (void)state;
  NEED_ZBAR();
  for (int f = 0; f < 3; f++) {
    tg__profile p;
    tg__receipt_doc *doc = load_fixture(fixtures[f], &p);
    const tg__doc *d = tg__receipt_doc_get(doc);
    tg__buf png = {0};
    char want[1100];
    assert_int_equal(tg__render_png(d, &p, &png), 0);
    assert_memory_equal(png.p, "\x89PNG", 4);
    snprintf(path, sizeof path, "%s/%s.png", dir, fixtures[f]);
    write_file(path, png.p, png.n);
    zbar(path, got, sizeof got);
    snprintf(want, sizeof want, "QR-Code:%s\n", d->invite_url);
    assert_non_null(strstr(got, want));
    if (d->barcode != NULL) { /* the mixed receipt: barcode and coupon too */
      snprintf(want, sizeof want, "CODE-128:%s\n", d->barcode);
      assert_non_null(strstr(got, want));
      snprintf(want, sizeof want, "QR-Code:%s\n", d->coupons[0].qr);
      assert_non_null(strstr(got, want));
    }
    if (f == 1)
      golden(fixtures[f], "png", &png);
    tg__buf_free(&png);
    tg__receipt_doc_free(doc);
  }
  tt_rmtree(dir);
}

static void invalid_utf8_is_replaced(void **state) {
  static const char *const bad[] = {"\xff\xfe milk", "trunc\xe4\xb8", "over\xc0\xaflong",
                                    "sur\xed\xa0\x80rogate", "ctl\x01\x1b@\x1d" "V", "\xe4"};
  tg__doc_item items[6];
  tg__doc_row total = {"\x80total", "1.00", 1};
  const char *header[] = {"\xf5\xf6\xf7 store \xe4\xb8\xad"};
  tg__doc d = {.header = header, .n_header = 1, .items = items, .n_items = 6, .totals = &total,
               .n_totals = 1, .invite_caption = "cap\xfftion"};
  tg__profile p;
  (void)state;
  for (int i = 0; i < 6; i++)
    items[i] = (tg__doc_item){bad[i], "1", "1.00", bad[(i + 1) % 6]};
  for (int paper = 58; paper <= 80; paper += 22) {
    tg__profile_default(&p, paper);
    for (int enc = 0; enc < 2; enc++) {
      tg__buf text = {0}, esc = {0};
      tt_escpos walk;
      snprintf(p.encoding, sizeof p.encoding, "%s", enc ? "cp858" : "gb18030");
      assert_int_equal(tg__render_text(&d, &p, &text), 0);
      assert_int_equal(tg__render_escpos(&d, &p, &esc), 0);
      assert_int_equal(tt_text_walk(text.p, text.n, &p), 0);
      assert_non_null(memmem(text.p, text.n, "? milk", 6));
      assert_null(memmem(text.p, text.n, "\x1b", 1)); /* no control reaches the printer */
      assert_int_equal(tt_escpos_walk(esc.p, esc.n, &p, &walk), 0);
      tg__buf_free(&text);
      tg__buf_free(&esc);
    }
  }
}

/* A sink that keeps the module size the layout chose for each QR. */
typedef struct {
  tg__sink k;
  int module, qrs;
} qr_probe;
static int probe_text(tg__sink *k, const char *s, size_t n, unsigned style) {
  (void)k, (void)s, (void)n, (void)style;
  return 0;
}
static int probe_qr(tg__sink *k, const char *data, size_t n, int module) {
  (void)data, (void)n;
  ((qr_probe *)k)->module = module;
  ((qr_probe *)k)->qrs++;
  return 0;
}
static int probe_barcode(tg__sink *k, const char *d, size_t n, int m) {
  (void)k, (void)d, (void)n, (void)m;
  return 0;
}
static int probe_feed(tg__sink *k, int n) {
  (void)k, (void)n;
  return 0;
}
static int probe_cut(tg__sink *k) {
  (void)k;
  return 0;
}

static void invite_fits_version_6_with_5_dot_modules(void **state) {
  char url[128] = "HTTPS://HQ.EXAMPLE.COM/J/";
  static const char b45[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ$%*+-./:";
  tg__doc d = {.invite_url = url};
  qr_probe probe = {{probe_text, probe_qr, probe_barcode, probe_feed, probe_cut}, 0, 0};
  tg__profile p;
  tg__qr q;
  (void)state;
  for (size_t i = strlen(url); i < 100; i++)
    url[i] = b45[(i * 7) % (sizeof b45 - 1)];
  url[100] = '\0';
  tg__profile_default(&p, 58);
  p.qr_module = 5;
  assert_int_equal(tg__layout(&d, &p, &probe.k), 0);
  assert_int_equal(probe.qrs, 1);
  assert_int_equal(probe.module, 5);
  assert_true(tg__qr_version_for(url, 100, 'M', 0) <= 6); /* even in byte mode */
  assert_int_equal(tg__qr_make(url, 100, 'M', &q), 0);
  assert_true(q.version <= 6);
  assert_true((q.width + 2 * TG__QR_QUIET) * 5 <= p.dots);
  tg__qr_free(&q);
  /* a symbol too large for the paper at the profile's module size gets smaller modules */
  p.qr_module = 16;
  assert_int_equal(tg__layout(&d, &p, &probe.k), 0);
  int side = 17 + 4 * tg__qr_version_for(url, 100, 'M', 0) + 2 * TG__QR_QUIET;
  assert_true(probe.module < 16 && side * probe.module <= p.dots &&
              side * (probe.module + 1) > p.dots);
}

static void qr_size_estimate_matches_libqrencode(void **state) {
  char text[700];
  (void)state;
  for (int alnum = 0; alnum < 2; alnum++)
    for (const char *e = "LMQH"; *e; e++)
      for (size_t n = 1; n < sizeof text; n += 13) {
        tg__qr q;
        for (size_t i = 0; i < n; i++)
          text[i] = alnum ? "ABC123$%*+-./: "[i % 15] : "abcdefghijklmnopqrstuvwxyz"[i % 26];
        int v = tg__qr_version_for(text, n, *e, 1), rc = tg__qr_make(text, n, *e, &q);
        if (v == 0) {
          assert_int_not_equal(rc, 0);
          continue;
        }
        assert_int_equal(rc, 0);
        if (q.version != v)
          fail_msg("%s %c n=%zu: estimate %d, libqrencode %d", alnum ? "alnum" : "bytes", *e, n,
                   v, q.version);
        tg__qr_free(&q);
      }
}

static void width_table_is_current(void **state) {
  (void)state;
  if (access("/usr/share/unicode/EastAsianWidth.txt", R_OK) != 0)
    TT_SKIP("Debian unicode-data is not installed (scripts/deps.sh installs it)");
  assert_int_equal(system("sh scripts/gen-width-table.sh | cmp -s - receipts/width_table.h"), 0);
}

static void widths_and_printer_bytes(void **state) {
  tg__charset gb, cp;
  unsigned char b[4];
  (void)state;
  assert_int_equal(tg__width('A', 1), 1);
  assert_int_equal(tg__width(0x4e2d, 0), 2);     /* 中 */
  assert_int_equal(tg__width(0xd7, 0), 1);       /* × is ambiguous */
  assert_int_equal(tg__width(0xd7, 1), 2);
  assert_int_equal(tg__width(0x301, 1), 0);      /* combining acute */
  assert_int_equal(tg__width(0x200b, 1), 0);     /* zero-width space */
  assert_int_equal(tg__width(0x1f600, 0), 2);    /* emoji */
  assert_int_equal(tg__width(0xff01, 0), 2);     /* fullwidth ! */
  assert_int_equal(tg__charset_init(&gb, "gb18030"), 0);
  assert_int_equal(tg__charset_init(&cp, "cp437"), 0);
  assert_int_equal(tg__charset_init(&cp, "ebcdic"), TG__EINVAL);
  assert_int_equal(tg__charset_init(&cp, "cp437"), 0);
  assert_int_equal(tg__charset_encode(&gb, 0x4e2d, b), 2);
  assert_memory_equal(b, "\xd6\xd0", 2);
  assert_int_equal(tg__charset_encode(&gb, 0x1f600, b), 0); /* four bytes: not in the font */
  assert_int_equal(tg__charset_encode(&gb, 0xd7, b), 2);
  assert_int_equal(tg__charset_encode(&cp, 0xe9, b), 1);
  assert_int_equal(b[0], 0x82);
  assert_int_equal(tg__charset_encode(&cp, 0x4e2d, b), 0);
  assert_int_equal(tg__charset_encode(&cp, 0x20ac, b), 0);  /* no euro in CP437 */
  tg__charset_close(&gb);
  tg__charset_close(&cp);
}

static void drawer_pulse_bytes(void **state) {
  tg__buf b = {0};
  (void)state;
  assert_int_equal(tg__escpos_drawer(&b, 0, 100, 500), 0);
  assert_int_equal(tg__escpos_drawer(&b, 1, 1, 9999), 0);
  assert_int_equal(b.n, 10);
  assert_memory_equal(b.p, "\x1bp\x00\x32\xfa\x1bp\x01\x01\xff", 10);
  tg__buf_free(&b);
}

static void refused_json(const char *json, const char *why_part) {
  tg__receipt_doc *doc = (tg__receipt_doc *)1;
  tg__profile p;
  char why[256] = "";
  int rc = tg__receipt_doc_from_json(json, strlen(json), &doc, &p, why, sizeof why);
  assert_true(rc == TG_EINVAL || rc == TG_EJSON);
  assert_null(doc);
  if (strstr(why, why_part) == NULL)
    fail_msg("%s: \"%s\" does not say \"%s\"", json, why, why_part);
}

static void bad_reference_json_is_refused(void **state) {
#define OK_HEAD "{\"paper_mm\":58,\"currency\":\"CNY\","
  (void)state;
  refused_json("{", "not JSON");
  refused_json("[]", "receipt");
  refused_json(OK_HEAD "\"colour\":1}", "unknown field \"colour\"");
  refused_json("{\"paper_mm\":57,\"currency\":\"CNY\"}", "paper_mm: 58 or 80");
  refused_json(OK_HEAD "\"currency\":\"CNY\"}", "not JSON"); /* duplicate key */
  refused_json("{\"paper_mm\":58,\"currency\":\"XXX\"}", "currency");
  refused_json(OK_HEAD "\"items\":[{\"name\":\"a\",\"qty\":-1,\"line_total\":1}]}",
               "items[0].qty");
  refused_json(OK_HEAD "\"items\":[{\"name\":\"a\",\"qty\":1,\"line_total\":1000000000000001}]}",
               "items[0].line_total");
  refused_json(OK_HEAD "\"items\":[{\"name\":\"a\\u0000b\",\"qty\":1,\"line_total\":1}]}",
               "\\u0000 is not allowed");
  refused_json(OK_HEAD "\"qr\":{\"text\":\"x\",\"model\":1,\"module_dots\":6,\"ecc\":\"M\"}}",
               "qr.model");
  refused_json(OK_HEAD "\"qr\":{\"text\":\"x\",\"model\":2,\"module_dots\":6,\"ecc\":\"Z\"}}",
               "qr.ecc");
  refused_json(OK_HEAD "\"encoding\":\"utf-8\"}", "encoding");
  refused_json(OK_HEAD "\"header\":[1]}", "header[0]");
  /* 501 items */
  size_t cap = 64 + 501 * 40, n;
  char *big = malloc(cap);
  n = (size_t)snprintf(big, cap, OK_HEAD "\"items\":[");
  for (int i = 0; i < 501; i++)
    n += (size_t)snprintf(big + n, cap - n, "%s{\"name\":\"a\",\"qty\":1,\"line_total\":1}",
                          i ? "," : "");
  snprintf(big + n, cap - n, "]}");
  refused_json(big, "items: an array of at most 500");
  free(big);
#undef OK_HEAD
}

static void ledger_receipts_render(void **state) {
  tt_fixture *fx = *state;
  tg_terminal *t = fx->t;
  tg_sale *s;
  tg_receipt *r;
  tg__receipt_doc *doc;
  tg__receipt_config c;
  tg__buf text = {0}, esc = {0};
  char no[TG_RECEIPT_MAX], uuid[TG_UUID_LEN + 1];
  tt_escpos walk;
  tt_uuid(1, uuid);
  TT_OK(t, tg_sale_begin(t, uuid, &s));
  TT_OK(t, tg_sale_add_line(s, &(tg_line){"6901", "有机全脂牛奶 1L", 2000, 1290, 100, NULL}));
  TT_OK(t, tg_sale_add_line(s, &(tg_line){"6902", "Bananas 香蕉", 1500, 600, 0, NULL}));
  TT_OK(t, tg_sale_set_order_discount(s, 200));
  TT_OK(t, tg_sale_add_tender(s, TG_TENDER_CASH, 5000, NULL));
  TT_OK(t, tg_sale_set_staff(s, "王芳", "G07"));
  TT_OK(t, tg_sale_commit(s, no));
  tg_sale_free(s);
  TT_OK(t, tg_receipt_load(t, no, &r));
  tg__receipt_config_default(&c, 58);
  TT_OK(t, tg__receipt_doc_from_record(r, &t->info, &c, "2026-11-22 14:03:05",
                                       "HTTPS://HQ.EXAMPLE.COM/J/ABC", 1, &doc));
  assert_int_equal(tg__render_text(tg__receipt_doc_get(doc), &c.printer, &text), 0);
  assert_int_equal(tg__render_escpos(tg__receipt_doc_get(doc), &c.printer, &esc), 0);
  assert_int_equal(text.n < 4096, 1);
  tg__buf_add(&text, "", 1);
  const char *out = (const char *)text.p;
  /* 2 x 12.90 - 1.00 = 24.80 and 1.5 x 6.00 = 9.00; 33.80 - 2.00 = 31.80; change 18.20 */
  /* double-width rows ("补打", "实付 31.80") are spaced out to their printed width */
  const char *want[] = {"补  打", "门  店", "S1-T1-1", "2026-11-22 14:03:05", "收银员", "王芳", "导购", "G07", "25.80", "优惠 -1.00",
                        "1.5", "9.00", "小计", "33.80", "整单优惠", "-2.00", "实  付", "3 1 . 8 0",
                        "现金", "50.00", "找零", "18.20", "扫码加入门店福利群",
                        "HTTPS://HQ.EXAMPLE.COM/J/ABC"};
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
    if (strstr(out, want[i]) == NULL)
      fail_msg("\"%s\" missing from:\n%s", want[i], out);
  assert_int_equal(tt_escpos_walk(esc.p, esc.n, &c.printer, &walk), 0);
  assert_int_equal(walk.barcodes, 1);
  assert_int_equal(walk.qr_native, 1);
  tg__receipt_doc_free(doc);
  /* no invite when the configuration says so */
  c.invite = 0;
  memcpy(c.lang, "en", 3);
  text.n = 0;
  TT_OK(t, tg__receipt_doc_from_record(r, &t->info, &c, "now", "HTTPS://X/J/1", 0, &doc));
  assert_int_equal(tg__render_text(tg__receipt_doc_get(doc), &c.printer, &text), 0);
  tg__buf_add(&text, "", 1);
  assert_null(strstr((const char *)text.p, "HTTPS://X/J/1"));
  assert_null(strstr((const char *)text.p, "COPY"));
  assert_non_null(strstr((const char *)text.p, "T O T A L"));
  assert_non_null(strstr((const char *)text.p, "Change"));
  tg__receipt_doc_free(doc);
  tg_receipt_free(r);
  tg__buf_free(&text);
  tg__buf_free(&esc);
}

static void config_file_is_checked(void **state) {
  char *dir = tt_tmpdir(), path[4200], why[256];
  tg__receipt_config c;
  (void)state;
  snprintf(path, sizeof path, "%s/tillgroup.ini", dir);
  FILE *f = fopen(path, "w");
  fputs("[printer]\npaper = 80\nqr = raster\nqr_ecc = Q\nencoding = cp858\ncut = full\n"
        "[receipt]\nheader = 幸福里店\nheader = Happy Lane\nfooter = 谢谢\nlang = en\n"
        "invite = no\n[daemon]\nanything = later\n", f);
  fclose(f);
  assert_int_equal(tg__receipt_config_load(path, &c, why, sizeof why), 0);
  assert_int_equal(c.printer.dots, 576);
  assert_int_equal(c.printer.columns, 48);
  assert_int_equal(c.printer.qr, TG__QR_RASTER);
  assert_int_equal(c.printer.qr_ecc, 'Q');
  assert_string_equal(c.printer.encoding, "cp858");
  assert_int_equal(c.printer.cut, TG__CUT_FULL);
  assert_int_equal(c.n_header, 2);
  assert_string_equal(c.header[1], "Happy Lane");
  assert_int_equal(c.invite, 0);
  char long_line[300];
  snprintf(long_line, sizeof long_line, "[receipt]\nheader = %0199d\n", 7);
  const char *const bad[][2] = {
      {"[printer]\npaper = 80\nqr_module = 20\n",
       "line 3: [printer] qr_module = 20: use dots per QR module, 1 to 16"},
      {"[printer]\ncolour = red\n", "line 2: [printer] colour: unknown key"},
      {"[receipt]\nlang = fr\n", "[receipt] lang = fr: use zh or en"},
      {"[printer]\ndots = 576\ncolumns = 60\n", "printer columns 60: use 16 to 48"},
      {"[printer]\nno equals sign\n", "line 2: not KEY = VALUE"},
      {"[printer]\nqr_module = 20\ncolour = red\n", "line 2: [printer] qr_module = 20"},
      {long_line, "line 2: longer than 198 bytes"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    f = fopen(path, "w");
    fputs(bad[i][0], f);
    fclose(f);
    assert_int_equal(tg__receipt_config_load(path, &c, why, sizeof why), TG_EINVAL);
    if (strstr(why, bad[i][1]) == NULL)
      fail_msg("\"%s\" does not say \"%s\"", why, bad[i][1]);
    assert_int_equal(c.printer.dots, 384); /* the defaults, not half a file */
  }
  snprintf(path, sizeof path, "%s/missing.ini", dir);
  assert_int_equal(tg__receipt_config_load(path, &c, why, sizeof why), TG_ENOENT);
  tt_rmtree(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(goldens_match),
      cmocka_unit_test(raster_qr_in_the_stream_decodes),
      cmocka_unit_test(native_qr_carries_the_url),
      cmocka_unit_test(png_preview_decodes),
      cmocka_unit_test(invalid_utf8_is_replaced),
      cmocka_unit_test(invite_fits_version_6_with_5_dot_modules),
      cmocka_unit_test(qr_size_estimate_matches_libqrencode),
      cmocka_unit_test(width_table_is_current),
      cmocka_unit_test(widths_and_printer_bytes),
      cmocka_unit_test(drawer_pulse_bytes),
      cmocka_unit_test(bad_reference_json_is_refused),
      cmocka_unit_test_setup_teardown(ledger_receipts_render, tt_setup, tt_teardown),
      cmocka_unit_test(config_file_is_checked),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
