/* The drivers without USB: DLE EOT status, HID scan assembly, the network and file printers. */
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "drivers.h"
#include "helpers.h"
#include "net_printer.h"

/* A boot-keyboard report: modifiers and up to six keys. */
static void report(unsigned char r[8], unsigned char mods, unsigned char k0, unsigned char k1) {
  memset(r, 0, 8);
  r[0] = mods;
  r[2] = k0;
  r[3] = k1;
}

#define SHIFT 0x02
#define ENTER 0x28
#define TAB 0x2B

/* The usage and shift that type c on a US keyboard; usage 0 when none does. */
static unsigned char usage_of(char c, int *shift) {
  for (int u = 0x04; u <= 0x38; u++)
    for (int s = 0; s <= 1; s++)
      if (tg__hid_ascii((unsigned char)u, s) == c) {
        *shift = s;
        return (unsigned char)u;
      }
  return 0;
}

/*
 * Types text as a scanner does: each key pressed then released, one report
 * each, 2 ms apart from *now, then the terminator. Returns the last result.
 */
static int type(tg__hid_scan *s, const char *text, unsigned char end, int64_t *now, char *why) {
  unsigned char r[8];
  int rc = 0;
  for (const char *p = text; *p != '\0'; p++) {
    int shift = 0;
    unsigned char u = usage_of(*p, &shift);
    assert_int_not_equal(u, 0);
    report(r, shift ? SHIFT : 0, u, 0);
    assert_int_equal(tg__hid_scan_feed(s, r, *now += 2, why, TG__DRV_WHY_MAX), 0);
    report(r, 0, 0, 0);
    assert_int_equal(tg__hid_scan_feed(s, r, *now += 2, why, TG__DRV_WHY_MAX), 0);
  }
  report(r, 0, end, 0);
  rc = tg__hid_scan_feed(s, r, *now += 2, why, TG__DRV_WHY_MAX);
  report(r, 0, 0, 0);
  assert_int_equal(tg__hid_scan_feed(s, r, *now += 2, why, TG__DRV_WHY_MAX), 0);
  return rc;
}

static void status_bytes_read_as_epson_documents_them(void **state) {
  (void)state;
  tg__status st;
  memset(&st, 0, sizeof st);
  /* all clear: 0x12 for each request */
  for (int n = 1; n <= 4; n++)
    assert_int_equal(tg__status_decode(n, 0x12, &st), TG__DRV_OK);
  assert_int_equal(st.known, 0xF);
  assert_null(tg__status_blocker(&st, 0));
  /* n=4 0x72: paper end (bits 5-6); 0x1E: near end only */
  memset(&st, 0, sizeof st);
  assert_int_equal(tg__status_decode(4, 0x1E, &st), TG__DRV_OK);
  assert_true(st.paper_near_end);
  assert_false(st.paper_end);
  assert_null(tg__status_blocker(&st, 0)); /* near end still prints */
  assert_int_equal(tg__status_decode(4, 0x72, &st), TG__DRV_OK);
  assert_true(st.paper_end);
  assert_string_equal(tg__status_blocker(&st, 0), "paper out: load a new roll");
  assert_non_null(strstr(tg__status_blocker(&st, 1), "缺纸"));
  /* n=2 0x16: cover open; n=1 0x1A: offline; n=1 0x16: drawer open */
  memset(&st, 0, sizeof st);
  assert_int_equal(tg__status_decode(2, 0x16, &st), TG__DRV_OK);
  assert_true(st.cover_open);
  assert_string_equal(tg__status_blocker(&st, 0), "printer cover open: close it");
  memset(&st, 0, sizeof st);
  assert_int_equal(tg__status_decode(1, 0x1A, &st), TG__DRV_OK);
  assert_true(st.offline);
  assert_non_null(strstr(tg__status_blocker(&st, 0), "offline"));
  memset(&st, 0, sizeof st);
  assert_int_equal(tg__status_decode(1, 0x16, &st), TG__DRV_OK);
  assert_true(st.drawer_open);
  assert_null(tg__status_blocker(&st, 0));
  /* n=3 0x1A: autocutter error */
  memset(&st, 0, sizeof st);
  assert_int_equal(tg__status_decode(3, 0x1A, &st), TG__DRV_OK);
  assert_true(st.cutter_error);
  assert_non_null(strstr(tg__status_blocker(&st, 0), "cutter"));
  /* not status bytes: fixed bits wrong, or n out of range */
  static const unsigned char bad[] = {0x00, 0xFF, 0x13, 0x02, 0x10, 0x92, 'A'};
  for (size_t i = 0; i < sizeof bad; i++)
    assert_int_equal(tg__status_decode(1, bad[i], &st), TG__DRV_BAD);
  assert_int_equal(tg__status_decode(0, 0x12, &st), TG__DRV_BAD);
  assert_int_equal(tg__status_decode(5, 0x12, &st), TG__DRV_BAD);
}

static void scans_of_codes_people_scan(void **state) {
  (void)state;
  tg__hid_scan s;
  char why[TG__DRV_WHY_MAX];
  int64_t now = 1000;
  tg__hid_scan_init(&s, 0, 100);
  assert_int_equal(type(&s, "6901234567892", ENTER, &now, why), 1);
  assert_string_equal(s.text, "6901234567892");
  /* a long Base45 token, as an invite or coupon QR carries it */
  static const char base45[] = "HTTPS://HQ.EXAMPLE.COM/J/6BFOXN*TS0BI$ZD4N9:9S6RCVN5+O30K3/XIV0W23NTDEWDL";
  assert_int_equal(type(&s, base45, ENTER, &now, why), 1);
  assert_string_equal(s.text, base45);
  /* upper and lower case and every symbol of the US layout */
  static const char mixed[] = "aZ09 !@#$%^&*()-_=+[]{}\\|;:'\",.<>/?`~";
  assert_int_equal(type(&s, mixed, ENTER, &now, why), 1);
  assert_string_equal(s.text, mixed);
  /* a Tab-terminated scanner: Enter is then not a character */
  tg__hid_scan_init(&s, 1, 100);
  assert_int_equal(type(&s, "ABC-123", TAB, &now, why), 1);
  assert_string_equal(s.text, "ABC-123");
  /* keypad digits and keypad Enter */
  tg__hid_scan_init(&s, 0, 100);
  unsigned char r[8];
  report(r, 0, 0x59, 0); /* keypad 1 */
  assert_int_equal(tg__hid_scan_feed(&s, r, now += 2, why, sizeof why), 0);
  report(r, 0, 0x62, 0); /* keypad 0, while 1 is released in the same report */
  assert_int_equal(tg__hid_scan_feed(&s, r, now += 2, why, sizeof why), 0);
  report(r, 0, 0x58, 0); /* keypad Enter */
  assert_int_equal(tg__hid_scan_feed(&s, r, now += 2, why, sizeof why), 1);
  assert_string_equal(s.text, "10");
}

static void repeated_rollover_and_held_keys_count_once(void **state) {
  (void)state;
  tg__hid_scan s;
  char why[TG__DRV_WHY_MAX];
  unsigned char r[8];
  int64_t now = 1000;
  tg__hid_scan_init(&s, 0, 100);
  report(r, 0, 0x04, 0); /* a */
  assert_int_equal(tg__hid_scan_feed(&s, r, now += 2, why, sizeof why), 0);
  assert_int_equal(tg__hid_scan_feed(&s, r, now += 2, why, sizeof why), 0); /* the same again */
  report(r, 0, 0x04, 0x05); /* a still held, b pressed: rollover */
  assert_int_equal(tg__hid_scan_feed(&s, r, now += 2, why, sizeof why), 0);
  memset(r + 2, 0x01, 6); /* ErrorRollOver: means nothing */
  assert_int_equal(tg__hid_scan_feed(&s, r, now += 2, why, sizeof why), 0);
  report(r, 0, 0x05, 0x06); /* b held, c pressed */
  assert_int_equal(tg__hid_scan_feed(&s, r, now += 2, why, sizeof why), 0);
  report(r, 0, 0x06, 0x04); /* c held, a again */
  assert_int_equal(tg__hid_scan_feed(&s, r, now += 2, why, sizeof why), 0);
  report(r, 0, 0, 0);
  assert_int_equal(tg__hid_scan_feed(&s, r, now += 2, why, sizeof why), 0);
  report(r, 0, ENTER, 0);
  assert_int_equal(tg__hid_scan_feed(&s, r, now += 2, why, sizeof why), 1);
  assert_string_equal(s.text, "abca");
  /* a terminator on its own is no scan */
  report(r, 0, 0, 0);
  assert_int_equal(tg__hid_scan_feed(&s, r, now += 2, why, sizeof why), 0);
  report(r, 0, ENTER, 0);
  assert_int_equal(tg__hid_scan_feed(&s, r, now += 2, why, sizeof why), 0);
}

static void bad_scans_are_dropped_with_a_reason(void **state) {
  (void)state;
  tg__hid_scan s;
  char why[TG__DRV_WHY_MAX];
  unsigned char r[8];
  int64_t now = 1000;
  tg__hid_scan_init(&s, 0, 100);
  /* cut off mid-way: the next key comes after the gap */
  report(r, 0, 0x1E, 0);
  assert_int_equal(tg__hid_scan_feed(&s, r, now += 2, why, sizeof why), 0);
  report(r, 0, 0, 0);
  assert_int_equal(tg__hid_scan_feed(&s, r, now += 2, why, sizeof why), 0);
  report(r, 0, 0x1F, 0);
  assert_int_equal(tg__hid_scan_feed(&s, r, now += 500, why, sizeof why), -1);
  assert_non_null(strstr(why, "stopped after 1"));
  report(r, 0, 0, 0);
  assert_int_equal(tg__hid_scan_feed(&s, r, now += 2, why, sizeof why), 0);
  report(r, 0, ENTER, 0); /* the key after the gap began a new scan: "2" */
  assert_int_equal(tg__hid_scan_feed(&s, r, now += 2, why, sizeof why), 1);
  assert_string_equal(s.text, "2");
  /* cut off with nothing after it: found idle */
  report(r, 0, 0x20, 0);
  assert_int_equal(tg__hid_scan_feed(&s, r, now += 2, why, sizeof why), 0);
  assert_int_equal(tg__hid_scan_idle(&s, now + 50, why, sizeof why), 0);
  assert_int_equal(tg__hid_scan_idle(&s, now + 101, why, sizeof why), -1);
  assert_int_equal(tg__hid_scan_idle(&s, now + 500, why, sizeof why), 0); /* dropped once */
  /* an unmapped key (F1) drops the scan at its end */
  report(r, 0, 0x3A, 0);
  assert_int_equal(tg__hid_scan_feed(&s, r, now += 600, why, sizeof why), 0);
  report(r, 0, ENTER, 0);
  assert_int_equal(tg__hid_scan_feed(&s, r, now += 2, why, sizeof why), -1);
  assert_non_null(strstr(why, "not a printable"));
  /* over 4,096 characters: dropped; the next scan is whole */
  tg__hid_scan_init(&s, 0, 100);
  for (int i = 0; i < TG__SCAN_MAX + 10; i++) {
    report(r, 0, (unsigned char)(0x04 + i % 2), 0); /* a, b, a, ...: each a new key */
    assert_int_equal(tg__hid_scan_feed(&s, r, now += 1, why, sizeof why), 0);
  }
  report(r, 0, ENTER, 0);
  assert_int_equal(tg__hid_scan_feed(&s, r, now += 1, why, sizeof why), -1);
  assert_non_null(strstr(why, "longer than 4096"));
  assert_int_equal(type(&s, "OK", ENTER, &now, why), 1);
  assert_string_equal(s.text, "OK");
  /* two scans in one report: the first is kept, the second dropped with its reason */
  static const unsigned char two[8] = {0, 0, 0x1E, ENTER, 0x1F, 0x58};
  assert_int_equal(tg__hid_scan_feed(&s, two, now += 2, why, sizeof why), 1);
  assert_string_equal(s.text, "1");
  assert_int_equal(tg__hid_scan_idle(&s, now + 101, why, sizeof why), -1);
  assert_non_null(strstr(why, "two scans came in one keyboard report"));
  assert_string_equal(s.text, "1");
  assert_int_equal(type(&s, "3", ENTER, &now, why), 1); /* and the next one is whole */
  assert_string_equal(s.text, "3");
}

static void printer_specs_are_checked(void **state) {
  (void)state;
  static const char *const bad[] = {"", "lpt1", "usb:", "usb:04b8", "usb:zz:01", "usb:04b8:0",
                                    "usb:104b8:0202", "tcp://", "tcp://host:0", "tcp://host:99999",
                                    "tcp://host:9100/x", "tcp://[::1", "file:", "serial:/dev/ttyS0"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    tg__printer *p = NULL;
    char why[TG__DRV_WHY_MAX] = "";
    assert_int_equal(tg__printer_open(bad[i], 100, &p, why, sizeof why), TG__DRV_BAD);
    assert_null(p);
    assert_true(why[0] != '\0');
  }
  tg__scanner *s = NULL;
  char why[TG__DRV_WHY_MAX];
  assert_int_equal(tg__scanner_open("keyboard", 0, 0, &s, why, sizeof why), TG__DRV_BAD);
  assert_null(s);
}

static void the_network_printer_gets_the_bytes_and_answers_status(void **state) {
  (void)state;
  tt_net_printer *np = tt_net_printer_start();
  tg__printer *p;
  tg__status st;
  char why[TG__DRV_WHY_MAX];
  unsigned char job[100000], got[100000];
  size_t sent;
  assert_non_null(np);
  for (size_t i = 0; i < sizeof job; i++)
    job[i] = (unsigned char)(i % 251 == 16 ? 'x' : i % 251); /* no DLE: it would be a request */
  assert_int_equal(tg__printer_open(tt_net_printer_spec(np), 2000, &p, why, sizeof why), 0);
  assert_string_equal(tg__printer_spec(p), tt_net_printer_spec(np));
  assert_int_equal(tg__printer_write(p, job, sizeof job, &sent, why, sizeof why), 0);
  assert_int_equal(sent, sizeof job);
  assert_int_equal(tg__printer_status(p, &st, why, sizeof why), 0);
  assert_int_equal(st.known, 0xB); /* 1, 2 and 4; 3 only after an error */
  assert_null(tg__status_blocker(&st, 0));
  tt_net_printer_status(np, 4, 0x72);
  assert_int_equal(tg__printer_status(p, &st, why, sizeof why), 0);
  assert_string_equal(tg__status_blocker(&st, 0), "paper out: load a new roll");
  assert_int_equal(tt_net_printer_received(np, got, sizeof got), sizeof job);
  assert_memory_equal(got, job, sizeof job);
  /* a printer that does not answer its status request */
  tt_net_printer_mode(np, TT_NET_SILENT, 0);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  tg__printer_close(p);
  assert_int_equal(tg__printer_open(tt_net_printer_spec(np), 300, &p, why, sizeof why), 0);
  assert_int_equal(tg__printer_status(p, &st, why, sizeof why), TG__DRV_TIMEOUT);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  assert_true(t1.tv_sec - t0.tv_sec < 5);
  tg__printer_close(p);
  tt_net_printer_stop(np);
}

static void the_network_printer_that_stalls_or_closes_mid_job(void **state) {
  (void)state;
  tt_net_printer *np = tt_net_printer_start();
  tg__printer *p;
  char why[TG__DRV_WHY_MAX];
  size_t n = 16u << 20, sent;
  unsigned char *job = calloc(1, n);
  assert_non_null(np);
  assert_non_null(job);
  /* stalls: the socket fills up and the write times out, saying how far it got */
  tt_net_printer_mode(np, TT_NET_STALL, 0);
  assert_int_equal(tg__printer_open(tt_net_printer_spec(np), 300, &p, why, sizeof why), 0);
  assert_int_equal(tg__printer_write(p, job, n, &sent, why, sizeof why), TG__DRV_TIMEOUT);
  assert_true(sent < n);
  assert_non_null(strstr(why, "stopped taking data"));
  tg__printer_close(p);
  /* closes after 10,000 bytes: the connection is gone */
  tt_net_printer_mode(np, TT_NET_CLOSE, 10000);
  assert_int_equal(tg__printer_open(tt_net_printer_spec(np), 2000, &p, why, sizeof why), 0);
  assert_int_equal(tg__printer_write(p, job, n, &sent, why, sizeof why), TG__DRV_NODEV);
  assert_true(sent < n);
  tg__printer_close(p);
  /* nobody listening */
  char spec[64];
  snprintf(spec, sizeof spec, "%s", tt_net_printer_spec(np));
  tt_net_printer_stop(np);
  assert_int_equal(tg__printer_open(spec, 300, &p, why, sizeof why), TG__DRV_NODEV);
  assert_non_null(strstr(why, "cannot reach"));
  free(job);
}

static void the_file_printer_appends_and_cannot_answer(void **state) {
  (void)state;
  char dir[] = "/tmp/tg-drivers-XXXXXX", path[128], spec[160], why[TG__DRV_WHY_MAX];
  tg__printer *p;
  tg__status st;
  size_t sent;
  assert_non_null(mkdtemp(dir));
  snprintf(path, sizeof path, "%s/lp0", dir);
  snprintf(spec, sizeof spec, "file:%s", path);
  for (int i = 0; i < 2; i++) {
    assert_int_equal(tg__printer_open(spec, 0, &p, why, sizeof why), 0);
    assert_int_equal(tg__printer_write(p, "job\n", 4, &sent, why, sizeof why), 0);
    assert_int_equal(tg__printer_status(p, &st, why, sizeof why), TG__DRV_UNSUPPORTED);
    tg__printer_close(p);
  }
  struct stat sb;
  assert_int_equal(stat(path, &sb), 0);
  assert_int_equal(sb.st_size, 8);
  snprintf(spec, sizeof spec, "file:%s/no/such/dir/lp0", dir);
  assert_int_equal(tg__printer_open(spec, 0, &p, why, sizeof why), TG__DRV_NODEV);
  assert_non_null(strstr(why, "cannot open"));
  unlink(path);
  rmdir(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(status_bytes_read_as_epson_documents_them),
      cmocka_unit_test(scans_of_codes_people_scan),
      cmocka_unit_test(repeated_rollover_and_held_keys_count_once),
      cmocka_unit_test(bad_scans_are_dropped_with_a_reason),
      cmocka_unit_test(printer_specs_are_checked),
      cmocka_unit_test(the_network_printer_gets_the_bytes_and_answers_status),
      cmocka_unit_test(the_network_printer_that_stalls_or_closes_mid_job),
      cmocka_unit_test(the_file_printer_appends_and_cannot_answer),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
