/*
 * The USB drivers and the print queue through the real libusb code path,
 * against the emulated bus of usb_mock.c. Runs under umockdev-wrapper (run.sh
 * does that); without it every test skips with the reason.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "drivers.h"
#include "helpers.h"
#include "pos.h"
#include "usb_mock.h"

#define EPSON 0x04b8, 0x0202
#define EPSON_ID "MFG:EPSON;CMD:ESC/POS;MDL:TM-T20II;CLS:PRINTER;"
#define SCANNER 0x05e0, 0x1200
#define STATUS_QUERY "\x10\x04\x01\x10\x04\x02\x10\x04\x04" /* what tg__printer_status asks */
#define PAPER_END 0x72                                      /* DLE EOT 4: bits 5-6 */
#define COVER_OPEN 0x16                                     /* DLE EOT 2: bit 2 */

typedef struct {
  tt_usb_mock *bus;
  char *dir;
  tg_terminal *t;
  tg__scanner *scanner; /* closed by the teardown, so a failed test leaves no claim behind */
} fixture;

static int setup(void **state) {
  char why[256];
  fixture *f = calloc(1, sizeof *f);
  f->bus = tt_usb_mock_new(why, sizeof why);
  if (f->bus == NULL) {
    free(f);
    *state = NULL;
    printf("# skip reason: %s\n", why);
    return 0;
  }
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  if (f == NULL)
    return 0;
  if (f->t != NULL)
    tg_terminal_close(f->t);
  tg__scanner_close(f->scanner);
  if (f->dir != NULL)
    tt_rmtree(f->dir);
  tt_usb_mock_free(f->bus);
  free(f);
  return 0;
}

#define BUS_OR_SKIP(f)                                                                             \
  fixture *f = *state;                                                                             \
  if (f == NULL)                                                                                   \
    skip();

static tg_terminal *terminal(fixture *f) {
  char path[1024];
  f->dir = tt_tmpdir();
  f->t = tt_terminal(f->dir, path);
  return f->t;
}

/* Reads a whole file into b. */
/* What the printer received, checked to be status query, job, status query; the job goes to job. */
static void job_of(tt_usb_dev *d, tg__buf *job) {
  size_t n = tt_usb_printer_received(d, NULL, 0), q = sizeof STATUS_QUERY - 1;
  unsigned char *got = malloc(n + 1);
  tt_usb_printer_received(d, got, n);
  assert_true(n >= 2 * q);
  assert_memory_equal(got, STATUS_QUERY, q);
  assert_memory_equal(got + n - q, STATUS_QUERY, q);
  assert_int_equal(tg__buf_add(job, got + q, n - 2 * q), 0);
  free(got);
}

/* The bytes receipt n of t prints as, COPY or not. */
static void rendered(tg_terminal *t, int64_t n, int copy, tg__buf *out) {
  tg__receipt_config c;
  tg__receipt_config_default(&c, 58);
  assert_int_equal(tg__print_render(t, n, &c, copy, out), 0);
}

static int64_t ms_since(const struct timespec *t0) {
  struct timespec t1;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  return (int64_t)(t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

static void devices_are_found_and_malformed_ones_skipped(void **state) {
  BUS_OR_SKIP(f);
  /* a device descriptor only; a configuration whose interface is cut off; one whose
   * descriptor lengths are zero; and a vendor-class printer of a vendor not on the list */
  static const unsigned char lone[18] = {18, 1, 0, 2, 0, 0, 0, 64, 0x34, 0x12, 0x01, 0x00, 0, 1};
  static const unsigned char cut[31] = {18, 1, 0, 2, 0, 0, 0, 64, 0x35, 0x12, 1, 0, 0, 1, 0, 0, 0,
                                        1,  9, 2, 32, 0, 1, 1, 0, 0xC0, 50, 9, 4, 0, 0};
  static const unsigned char zero[36] = {18, 1, 0, 2, 0, 0, 0, 64, 0x36, 0x12, 1, 0, 0, 1, 0, 0,
                                         0,  1, 9, 2, 36, 0, 1, 1, 0, 0xC0, 50, 0, 0, 0, 0, 0,
                                         0,  0, 0, 0};
  static const unsigned char vendor[50] = {
      18, 1, 0, 2, 0, 0, 0, 64, 0xe6, 0x0f, 0x11, 0x08, 0, 1, 0, 0, 0, 1,   /* 0fe6:0811 */
      9,  2, 32, 0, 1, 1, 0, 0xC0, 50,                                          /* config */
      9,  4, 0, 0, 2, 0xff, 0, 0, 0,                                            /* vendor class */
      7,  5, 0x01, 2, 64, 0, 0, 7, 5, 0x82, 2, 64, 0, 0};
  tt_usb_mock_add_raw(f->bus, lone, sizeof lone);
  tt_usb_mock_add_raw(f->bus, cut, sizeof cut);
  tt_usb_mock_add_raw(f->bus, zero, sizeof zero);
  tt_usb_mock_add_raw(f->bus, vendor, 50);
  tt_usb_mock_add_printer(f->bus, EPSON, EPSON_ID);
  tt_usb_mock_add_scanner(f->bus, SCANNER);

  tg__usb_device d[8];
  int n = -1;
  char why[TG__DRV_WHY_MAX];
  unsetenv("TILLGROUP_USB_PRINTERS");
  assert_int_equal(tg__usb_list(d, 8, &n, why, sizeof why), 0);
  assert_int_equal(n, 2);
  int printer = d[0].kind == TG__USB_PRINTER ? 0 : 1;
  assert_int_equal(d[printer].kind, TG__USB_PRINTER);
  assert_int_equal(d[printer].vid, 0x04b8);
  assert_int_equal(d[printer].pid, 0x0202);
  assert_string_equal(d[printer].model, "TM-T20II");
  assert_int_equal(d[1 - printer].kind, TG__USB_SCANNER);
  assert_int_equal(d[1 - printer].vid, 0x05e0);

  /* the configurable list makes the vendor-class one a printer too */
  setenv("TILLGROUP_USB_PRINTERS", "0fe6:0811,zz,1", 1);
  assert_int_equal(tg__usb_list(d, 8, &n, why, sizeof why), 0);
  unsetenv("TILLGROUP_USB_PRINTERS");
  assert_int_equal(n, 3);
  int seen = 0;
  for (int i = 0; i < n; i++)
    seen |= d[i].vid == 0x0fe6 && d[i].pid == 0x0811 && d[i].kind == TG__USB_PRINTER;
  assert_true(seen);
}

/* Sends the golden receipt name through the first USB printer; it must arrive byte for byte. */
static void print_golden(tt_usb_dev *d, const char *name) {
  char path[256];
  tg__buf ref = {0};
  snprintf(path, sizeof path, "tests/golden/receipts/%s.escpos", name);
  tt_slurp(path, &ref);
  tt_usb_printer_clear(d);

  tg__printer *p;
  char why[TG__DRV_WHY_MAX];
  size_t sent = 0;
  assert_int_equal(tg__printer_open("usb", 1000, &p, why, sizeof why), TG__DRV_OK);
  assert_true(tt_usb_dev_detached(d)); /* usblp let go of it */
  assert_string_equal(tg__printer_model(p), "TM-T20II");
  assert_string_equal(tg__printer_spec(p), "usb:04b8:0202");
  assert_int_equal(tg__printer_write(p, ref.p, ref.n, &sent, why, sizeof why), TG__DRV_OK);
  assert_int_equal(sent, ref.n);
  tg__printer_close(p);
  assert_false(tt_usb_dev_detached(d)); /* and has it back */

  unsigned char *got = malloc(ref.n + 1);
  assert_int_equal(tt_usb_printer_received(d, got, ref.n + 1), ref.n);
  assert_memory_equal(got, ref.p, ref.n);
  free(got);
  tg__buf_free(&ref);
}

static void reference_receipt_reaches_the_printer_byte_for_byte(void **state) {
  BUS_OR_SKIP(f);
  tt_usb_dev *d = tt_usb_mock_add_printer(f->bus, EPSON, EPSON_ID);
  print_golden(d, "reference-receipt");
  print_golden(d, "reference-receipt-zh");
  print_golden(d, "reference-receipt.raster"); /* 8.6 KB: three bulk chunks */
}

static void status_is_read_over_bulk_in(void **state) {
  BUS_OR_SKIP(f);
  tt_usb_dev *d = tt_usb_mock_add_printer(f->bus, EPSON, EPSON_ID);
  tg__printer *p;
  tg__status st;
  char why[TG__DRV_WHY_MAX];
  assert_int_equal(tg__printer_open("usb:04b8:0202", 1000, &p, why, sizeof why), TG__DRV_OK);
  assert_int_equal(tg__printer_status(p, &st, why, sizeof why), TG__DRV_OK);
  assert_null(tg__status_blocker(&st, 0));
  tt_usb_printer_set_status(d, 4, 0x1E); /* near end: still prints */
  tt_usb_printer_set_status(d, 1, 0x16); /* drawer open */
  assert_int_equal(tg__printer_status(p, &st, why, sizeof why), TG__DRV_OK);
  assert_true(st.paper_near_end);
  assert_true(st.drawer_open);
  assert_null(tg__status_blocker(&st, 0));
  tt_usb_printer_set_status(d, 4, PAPER_END);
  assert_int_equal(tg__printer_status(p, &st, why, sizeof why), TG__DRV_OK);
  assert_string_equal(tg__status_blocker(&st, 0), "paper out: load a new roll");
  tt_usb_printer_set_status(d, 1, 0xFF); /* not a status byte */
  assert_int_equal(tg__printer_status(p, &st, why, sizeof why), TG__DRV_BAD);
  tg__printer_close(p);
  /* a printer on another vendor:product is not this one */
  assert_int_equal(tg__printer_open("usb:04b8:0e15", 1000, &p, why, sizeof why), TG__DRV_NODEV);
  assert_non_null(strstr(why, "04b8:0e15"));
}

static void write_and_read_timeouts_are_bounded(void **state) {
  BUS_OR_SKIP(f);
  tt_usb_dev *d = tt_usb_mock_add_printer(f->bus, EPSON, EPSON_ID);
  unsigned char job[10000];
  memset(job, 'x', sizeof job);
  tg__printer *p;
  tg__status st;
  char why[TG__DRV_WHY_MAX];
  size_t sent = 0;
  struct timespec t0;
  assert_int_equal(tg__printer_open("usb", 200, &p, why, sizeof why), TG__DRV_OK);
  tt_usb_printer_fault(d, TT_USB_STALL_OUT, 5000); /* takes 5,000 bytes, then no more */
  clock_gettime(CLOCK_MONOTONIC, &t0);
  assert_int_equal(tg__printer_write(p, job, sizeof job, &sent, why, sizeof why), TG__DRV_TIMEOUT);
  assert_true(ms_since(&t0) < 3000);
  assert_int_equal(sent, 5000); /* the partial chunk counted, the stalled one not */
  assert_non_null(strstr(why, "stopped taking data after 5000 of 10000 bytes"));
  assert_int_equal(tt_usb_printer_received(d, NULL, 0), 5000);

  tt_usb_printer_fault(d, TT_USB_SILENT_IN, 0);
  clock_gettime(CLOCK_MONOTONIC, &t0);
  assert_int_equal(tg__printer_status(p, &st, why, sizeof why), TG__DRV_TIMEOUT);
  assert_true(ms_since(&t0) < 3000);
  tg__printer_close(p);
}

/* A terminal with one committed sale queued for printing; its receipt number in *n. */
static void one_sale_queued(fixture *f, int64_t *n) {
  char receipt[TG_RECEIPT_MAX];
  tg_terminal *t = terminal(f);
  assert_int_equal(tt_commit(t, 1, 3, receipt), 0);
  assert_int_equal(tg_print_enqueue(t, receipt, 0, NULL), 0);
  assert_int_equal(tg__receipt_parse(t, receipt, n), 0);
}

static void queue_prints_a_sale_on_usb(void **state) {
  BUS_OR_SKIP(f);
  tt_usb_dev *d = tt_usb_mock_add_printer(f->bus, EPSON, EPSON_ID);
  int64_t n;
  one_sale_queued(f, &n);
  tg_print_options o = {.printer = "usb", .timeout_ms = 1000};
  tg_print_result r;
  assert_int_equal(tg_print_pending(f->t, &o, &r), 0);
  assert_int_equal(r.printed, 1);
  assert_int_equal(r.waiting, 0);
  assert_string_equal(r.printer, "usb:04b8:0202");
  tg__buf job = {0}, want = {0};
  job_of(d, &job);
  rendered(f->t, n, 0, &want);
  assert_int_equal(job.n, want.n);
  assert_memory_equal(job.p, want.p, want.n);
  tg__buf_free(&job);
  tg__buf_free(&want);
}

/* Paper end or cover open: nothing of the job is sent; it prints, not as a copy, once cleared. */
static void held_until_cleared(fixture *f, int n_status, unsigned char status, const char *words) {
  tt_usb_dev *d = tt_usb_mock_add_printer(f->bus, EPSON, EPSON_ID);
  int64_t n;
  one_sale_queued(f, &n);
  tt_usb_printer_set_status(d, n_status, status);
  tg_print_options o = {.printer = "usb", .timeout_ms = 1000};
  tg_print_result r;
  assert_int_equal(tg_print_pending(f->t, &o, &r), TG_EPRINTER);
  assert_string_equal(tg_last_detail(f->t), words);
  assert_int_equal(r.printed, 0);
  assert_int_equal(r.waiting, 1);
  assert_int_equal(tt_usb_printer_received(d, NULL, 0), sizeof STATUS_QUERY - 1); /* asked, no job */
  tg_status s;
  assert_int_equal(tg_status_get(f->t, &s), 0);
  assert_int_equal(s.print_waiting, 1);

  tt_usb_printer_set_status(d, n_status, 0x12);
  tt_usb_printer_clear(d);
  assert_int_equal(tg_print_pending(f->t, &o, &r), 0);
  assert_int_equal(r.printed, 1);
  assert_int_equal(r.waiting, 0);
  tg__buf job = {0}, want = {0};
  job_of(d, &job);
  rendered(f->t, n, 0, &want); /* no byte went before: an original, not a copy */
  assert_int_equal(job.n, want.n);
  assert_memory_equal(job.p, want.p, want.n);
  tg__buf_free(&job);
  tg__buf_free(&want);
}

static void paper_end_holds_the_job(void **state) {
  BUS_OR_SKIP(f);
  held_until_cleared(f, 4, PAPER_END, "打印机缺纸：请装入新纸卷"); /* a CNY store: Chinese */
}

static void cover_open_holds_the_job(void **state) {
  BUS_OR_SKIP(f);
  held_until_cleared(f, 2, COVER_OPEN, "打印机盖未关：请合上打印机盖");
}

static void unplugged_mid_job_reprints_as_copy_after_replug(void **state) {
  BUS_OR_SKIP(f);
  tt_usb_dev *d = tt_usb_mock_add_printer(f->bus, EPSON, EPSON_ID);
  int64_t n;
  one_sale_queued(f, &n);
  tt_usb_printer_fault(d, TT_USB_UNPLUG_OUT, 300);
  tg_print_options o = {.printer = "usb", .timeout_ms = 1000};
  tg_print_result r;
  assert_int_equal(tg_print_pending(f->t, &o, &r), TG_EPRINTER);
  assert_non_null(strstr(tg_last_detail(f->t), "unplugged"));
  assert_int_equal(r.waiting, 1);
  assert_int_equal(tt_usb_printer_received(d, NULL, 0), 300);

  /* while it is out, the queue waits and says so */
  assert_int_equal(tg_print_pending(f->t, &o, &r), TG_EPRINTER);
  assert_non_null(strstr(tg_last_detail(f->t), "no USB receipt printer"));
  assert_int_equal(r.waiting, 1);

  /* a sale goes through meanwhile */
  char receipt[TG_RECEIPT_MAX];
  assert_int_equal(tt_commit(f->t, 2, 1, receipt), 0);

  tt_usb_dev *back = tt_usb_mock_add_printer(f->bus, EPSON, EPSON_ID);
  assert_int_equal(tg_print_pending(f->t, &o, &r), 0);
  assert_int_equal(r.printed, 1);
  tg__buf job = {0}, want = {0};
  job_of(back, &job);
  rendered(f->t, n, 1, &want); /* marked COPY / 补打 */
  assert_int_equal(job.n, want.n);
  assert_memory_equal(job.p, want.p, want.n);
  tg__buf_free(&job);
  tg__buf_free(&want);
}

static void drawer_kick_goes_to_the_usb_printer(void **state) {
  BUS_OR_SKIP(f);
  tt_usb_dev *d = tt_usb_mock_add_printer(f->bus, EPSON, EPSON_ID);
  terminal(f);
  tg_print_options o = {.printer = "usb", .timeout_ms = 1000};
  assert_int_equal(tg_drawer_open(f->t, &o), 0);
  unsigned char got[16];
  assert_int_equal(tt_usb_printer_received(d, got, sizeof got), 5);
  assert_memory_equal(got, "\x1b\x70\x00\x19\xfa", 5);
}

/* Types text on the emulated scanner: a press and a release report per key, then end (0: none). */
static void type_on(tt_usb_dev *d, const char *text, unsigned char end) {
  unsigned char r[8];
  for (const char *p = text; *p != '\0'; p++) {
    memset(r, 0, 8);
    for (int u = 0x04; u <= 0x38 && r[2] == 0; u++)
      for (int s = 0; s <= 1 && r[2] == 0; s++)
        if (tg__hid_ascii((unsigned char)u, s) == *p) {
          r[0] = s ? 0x02 : 0;
          r[2] = (unsigned char)u;
        }
    assert_int_not_equal(r[2], 0);
    tt_usb_scanner_feed(d, r);
    memset(r, 0, 8);
    tt_usb_scanner_feed(d, r);
  }
  memset(r, 0, 8);
  r[2] = end;
  tt_usb_scanner_feed(d, r);
  r[2] = 0;
  tt_usb_scanner_feed(d, r);
}

/*
 * Reads the next scan, which must be want. The emulated bus takes a few
 * milliseconds a report, so a long scan can outlast one read: a timeout
 * only means it is still coming, up to half a minute.
 */
static void read_scan(tg__scanner *s, const char *want) {
  char got[TG__SCAN_MAX + 1], why[TG__DRV_WHY_MAX];
  int rc = 0;
  for (int i = 0; i < 15 && rc == 0; i++)
    rc = tg__scanner_read(s, 2000, got, sizeof got, why, sizeof why);
  assert_int_equal(rc, 1);
  assert_string_equal(got, want);
}

static void scanner_reports_become_scans(void **state) {
  BUS_OR_SKIP(f);
  tt_usb_dev *d = tt_usb_mock_add_scanner(f->bus, SCANNER);
  tt_usb_mock_add_printer(f->bus, EPSON, EPSON_ID); /* not a scanner, though on the bus */
  char why[TG__DRV_WHY_MAX], got[TG__SCAN_MAX + 1];
  assert_int_equal(tg__scanner_open("usb", 0, 100, &f->scanner, why, sizeof why), TG__DRV_OK);
  assert_true(tt_usb_dev_detached(d)); /* usbhid let go of it */

  /* nothing scanned: a bounded wait */
  assert_int_equal(tg__scanner_read(f->scanner, 100, got, sizeof got, why, sizeof why), 0);

  type_on(d, "4006381333931", 0x28);
  read_scan(f->scanner, "4006381333931");
  /* a long Base45 token as a member code QR carries it */
  char token[1200];
  for (size_t i = 0; i < sizeof token - 1; i++)
    token[i] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"[i % 45];
  token[sizeof token - 1] = '\0';
  type_on(d, token, 0x28);
  read_scan(f->scanner, token);
  type_on(d, "Hello, World! ~{}|\"<>?", 0x58); /* keypad Enter */
  read_scan(f->scanner, "Hello, World! ~{}|\"<>?");

  /* repeated reports while a key is held, and two keys new in one report */
  static const unsigned char rep[][8] = {{0, 0, 0x04}, {0, 0, 0x04}, {0, 0, 0x04, 0x05},
                                         {0, 0, 0x05}, {0, 0, 0x01, 0x01, 0x01}, {0},
                                         {0, 0, 0x28}, {0}};
  for (size_t i = 0; i < sizeof rep / sizeof rep[0]; i++)
    tt_usb_scanner_feed(d, rep[i]);
  read_scan(f->scanner, "ab");

  /* a scan cut off mid-way is dropped, and the next one reads */
  static const unsigned char half[][8] = {{0, 0, 0x1e}, {0}, {0, 0, 0x1f}, {0}};
  for (size_t i = 0; i < 4; i++)
    tt_usb_scanner_feed(d, half[i]);
  assert_int_equal(tg__scanner_read(f->scanner, 2000, got, sizeof got, why, sizeof why),
                   TG__SCAN_DROPPED);
  assert_non_null(strstr(why, "stopped after 2 characters"));
  type_on(d, "123", 0x28);
  read_scan(f->scanner, "123");

  /* unplugged: the read says so; plugged back, it opens again */
  tt_usb_mock_remove(f->bus, d);
  assert_int_equal(tg__scanner_read(f->scanner, 1000, got, sizeof got, why, sizeof why),
                   TG__DRV_NODEV);
  tg__scanner_close(f->scanner);
  f->scanner = NULL;
  tt_usb_dev *again = tt_usb_mock_add_scanner(f->bus, SCANNER);
  assert_int_equal(tg__scanner_open("usb:05e0:1200", 1, 1000, &f->scanner, why, sizeof why),
                   TG__DRV_OK);
  /* a caller busy elsewhere between reads for longer than the gap does not cut the scan */
  type_on(again, "TAB-", 0);
  assert_int_equal(tg__scanner_read(f->scanner, 100, got, sizeof got, why, sizeof why), 0);
  struct timespec busy = {1, 500 * 1000000L};
  nanosleep(&busy, NULL);
  type_on(again, "ENDED", 0x2B);
  read_scan(f->scanner, "TAB-ENDED");
  tg__scanner_close(f->scanner);
  f->scanner = NULL;
  assert_false(tt_usb_dev_detached(again));
}

/* Plugs the Epson printer in 300 ms from now. */
static void *plug_in_later(void *arg) {
  fixture *f = arg;
  struct timespec ts = {0, 300 * 1000000L};
  nanosleep(&ts, NULL);
  return tt_usb_mock_add_printer(f->bus, EPSON, EPSON_ID);
}

/* Runs the tillgroup CLI with args; its standard output goes to out. Returns its exit status. */
static int cli(const char *args, char *out, size_t cap) {
  char cmd[1024];
  const char *build = getenv("BUILD");
  snprintf(cmd, sizeof cmd, "%s/tillgroup %s", build != NULL ? build : "build", args);
  FILE *p = popen(cmd, "r");
  assert_non_null(p);
  size_t n = fread(out, 1, cap - 1, p);
  out[n] = '\0';
  int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void cli_lists_prints_and_listens_on_usb(void **state) {
  BUS_OR_SKIP(f);
  tt_usb_dev *printer = tt_usb_mock_add_printer(f->bus, EPSON, EPSON_ID);
  tt_usb_dev *scanner = tt_usb_mock_add_scanner(f->bus, SCANNER);
  char out[4096], args[2200], receipt[TG_RECEIPT_MAX], path[1024];
  int64_t n;
  assert_int_equal(cli("devices --json", out, sizeof out), 0);
  assert_non_null(strstr(out, "{\"kind\":\"printer\",\"spec\":\"usb:04b8:0202\""));
  assert_non_null(strstr(out, "\"model\":\"TM-T20II\""));
  assert_non_null(strstr(out, "{\"kind\":\"scanner\",\"spec\":\"usb:05e0:1200\""));

  /* print RECEIPT from the terminal's store: the same bytes the queue renders */
  f->dir = tt_tmpdir();
  f->t = tt_terminal(f->dir, path);
  assert_int_equal(tt_commit(f->t, 1, 2, receipt), 0);
  assert_int_equal(tg__receipt_parse(f->t, receipt, &n), 0);
  snprintf(args, sizeof args, "--db %s print %s --printer usb:04b8:0202", path, receipt);
  assert_int_equal(cli(args, out, sizeof out), 0);
  assert_non_null(strstr(out, "printed 1 receipt on usb:04b8:0202"));
  tg__buf job = {0}, want = {0};
  job_of(printer, &job);
  rendered(f->t, n, 0, &want);
  assert_int_equal(job.n, want.n);
  assert_memory_equal(job.p, want.p, want.n);
  tg__buf_free(&job);
  tg__buf_free(&want);

  /* unplugged: print --wait holds the receipt and prints it as soon as the printer is back */
  tt_usb_mock_remove(f->bus, printer);
  assert_int_equal(tt_commit(f->t, 2, 1, receipt), 0);
  assert_int_equal(tg__receipt_parse(f->t, receipt, &n), 0);
  snprintf(args, sizeof args, "--db %s print %s --wait 0", path, receipt);
  assert_int_equal(cli(args, out, sizeof out), 5);
  assert_non_null(strstr(out, "1 receipt waiting: no USB receipt printer is plugged in"));
  pthread_t th;
  void *back;
  struct timespec t0;
  assert_int_equal(pthread_create(&th, NULL, plug_in_later, f), 0);
  clock_gettime(CLOCK_MONOTONIC, &t0);
  snprintf(args, sizeof args, "--db %s print --wait 30", path);
  assert_int_equal(cli(args, out, sizeof out), 0);
  assert_true(ms_since(&t0) < 20000);
  pthread_join(th, &back);
  job_of(back, &job);
  rendered(f->t, n, 0, &want);
  assert_int_equal(job.n, want.n);
  assert_memory_equal(job.p, want.p, want.n);
  tg__buf_free(&job);
  tg__buf_free(&want);

  /* scan --listen prints what the scanner types */
  type_on(scanner, "4006381333931", 0x28);
  type_on(scanner, "M1:ABC", 0x28);
  assert_int_equal(cli("scan --listen --count 2 --seconds 20", out, sizeof out), 0);
  assert_string_equal(out, "4006381333931\nM1:ABC\n");
}

static void a_replugged_printer_is_noticed_at_once(void **state) {
  BUS_OR_SKIP(f);
  char why[TG__DRV_WHY_MAX];
  struct timespec t0;
  /* nobody comes: the wait ends at its timeout */
  clock_gettime(CLOCK_MONOTONIC, &t0);
  assert_int_equal(tg__usb_wait_arrival(TG__USB_PRINTER, 0, 0, 400, why, sizeof why), 0);
  assert_true(ms_since(&t0) >= 350);
  /* a scanner is not the printer waited for, and one already there is no arrival */
  tt_usb_mock_add_scanner(f->bus, SCANNER);
  tt_usb_dev *old = tt_usb_mock_add_printer(f->bus, 0x0416, 0x5011, "MDL:XP-58;");
  assert_int_equal(tg__usb_wait_arrival(TG__USB_PRINTER, 0, 0, 400, why, sizeof why), 0);
  tt_usb_mock_remove(f->bus, old);
  /* plugged in while waiting: noticed long before the timeout */
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, plug_in_later, f), 0);
  clock_gettime(CLOCK_MONOTONIC, &t0);
  assert_int_equal(tg__usb_wait_arrival(TG__USB_PRINTER, 0x04b8, 0, 10000, why, sizeof why), 1);
  assert_true(ms_since(&t0) < 5000);
  pthread_join(th, NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(devices_are_found_and_malformed_ones_skipped, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(reference_receipt_reaches_the_printer_byte_for_byte, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(status_is_read_over_bulk_in, setup, teardown),
      cmocka_unit_test_setup_teardown(write_and_read_timeouts_are_bounded, setup, teardown),
      cmocka_unit_test_setup_teardown(queue_prints_a_sale_on_usb, setup, teardown),
      cmocka_unit_test_setup_teardown(paper_end_holds_the_job, setup, teardown),
      cmocka_unit_test_setup_teardown(cover_open_holds_the_job, setup, teardown),
      cmocka_unit_test_setup_teardown(unplugged_mid_job_reprints_as_copy_after_replug, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(drawer_kick_goes_to_the_usb_printer, setup, teardown),
      cmocka_unit_test_setup_teardown(scanner_reports_become_scans, setup, teardown),
      cmocka_unit_test_setup_teardown(a_replugged_printer_is_noticed_at_once, setup, teardown),
      cmocka_unit_test_setup_teardown(cli_lists_prints_and_listens_on_usb, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
