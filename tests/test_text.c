/* Text from outside: UTF-8, ids, UUIDs, receipt numbers and currency codes. */
#include <string.h>

#include "helpers.h"

static int valid(const char *s) { return tg__utf8_valid(s, strlen(s)); }

static void utf8_accepts_real_text(void **state) {
  (void)state;
  assert_true(valid("Organic Whole Milk 1L"));
  assert_true(valid("山东烟台红富士苹果（特级）约 2.5kg 装"));
  assert_true(valid("Coca-Cola 可口可乐 330ml×6"));
  assert_true(valid("caf\xc3\xa9 \xf0\x9f\x8d\x8e")); /* é and a 4-byte emoji */
  assert_true(valid(""));
}

static void utf8_refuses_bad_bytes(void **state) {
  (void)state;
  assert_false(valid("\x80"));             /* lone continuation */
  assert_false(valid("\xc0\xaf"));         /* overlong '/' */
  assert_false(valid("\xe0\x80\xaf"));     /* overlong 3-byte */
  assert_false(valid("\xf0\x80\x80\xaf")); /* overlong 4-byte */
  assert_false(valid("\xed\xa0\x80"));     /* UTF-16 surrogate */
  assert_false(valid("\xf4\x90\x80\x80")); /* above U+10FFFF */
  assert_false(valid("\xf5\x80\x80\x80"));
  assert_false(valid("\xe4\xb8"));         /* cut short */
  assert_false(valid("abc\xe4"));
  assert_false(valid("tab\there"));        /* control characters */
  assert_false(valid("line\nbreak"));
  assert_false(valid("esc\x1b[2J"));
  assert_false(valid("del\x7f"));
  assert_false(valid("\xc2\x85"));         /* C1 control NEL */
}

static void ids_are_short_upper_alnum(void **state) {
  (void)state;
  assert_true(tg__id_valid("S1"));
  assert_true(tg__id_valid("STORE0000001"));
  assert_false(tg__id_valid("STORE00000012")); /* 13 characters */
  assert_false(tg__id_valid(""));
  assert_false(tg__id_valid(NULL));
  assert_false(tg__id_valid("s1"));
  assert_false(tg__id_valid("S-1")); /* would break STORE-TERMINAL-N */
  assert_false(tg__id_valid("S 1"));
}

static void uuids_round_trip(void **state) {
  (void)state;
  unsigned char u[16];
  char back[TG_UUID_LEN + 1];
  assert_int_equal(tg__uuid_parse("123E4567-E89B-12D3-A456-426614174000", u), 0);
  tg__uuid_format(u, back);
  assert_string_equal(back, "123e4567-e89b-12d3-a456-426614174000");
  assert_int_equal(tg__uuid_parse("123e4567e89b12d3a456426614174000", u), TG_EUUID);
  assert_int_equal(tg__uuid_parse("123e4567-e89b-12d3-a456-42661417400", u), TG_EUUID);
  assert_int_equal(tg__uuid_parse("123e4567-e89b-12d3-a456-4266141740000", u), TG_EUUID);
  assert_int_equal(tg__uuid_parse("g23e4567-e89b-12d3-a456-426614174000", u), TG_EUUID);
  assert_int_equal(tg__uuid_parse(NULL, u), TG_EUUID);
  tg__uuid_random(back);
  assert_int_equal(tg__uuid_parse(back, u), 0);
  assert_int_equal(back[14], '4');
}

static void receipt_numbers_belong_to_this_terminal(void **state) {
  (void)state;
  char *dir = tt_tmpdir(), path[4096], out[TG_RECEIPT_MAX];
  tg_terminal *t = tt_terminal(dir, path);
  int64_t n = 0;
  tg__receipt_format(t, 42, out);
  assert_string_equal(out, "S1-T1-42");
  assert_int_equal(tg__receipt_parse(t, "S1-T1-42", &n), 0);
  assert_int_equal(n, 42);
  const char *bad[] = {"S1-T2-42", "S2-T1-42", "S1-T1-", "S1-T1-0", "S1-T1-4x2", "S1-T1--1",
                       "S1-T1-1234567890123456789", "", "S1T142", "S1-T1-42 ", "S1-T1-042"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_int_equal(tg__receipt_parse(t, bad[i], &n), TG_ENORECEIPT);
    assert_true(strlen(tg_last_detail(t)) > 0);
  }
  assert_int_equal(tg__receipt_parse(t, NULL, &n), TG_ENORECEIPT);
  tg_terminal_close(t);
  tt_rmtree(dir);
}

static void details_stay_one_line_of_utf8(void **state) {
  (void)state;
  char *dir = tt_tmpdir(), path[4096];
  tg_terminal *t = tt_terminal(dir, path);
  tg_sale *s;
  assert_int_equal(tg_sale_begin(t, "x\ny\x1b[2J", &s), TG_EUUID);
  const char *d = tg_last_detail(t);
  assert_null(strchr(d, '\n'));
  assert_null(strchr(d, '\x1b'));
  assert_true(tg__utf8_valid(d, strlen(d)));
  /* an echo cut inside a character does not leave half of it */
  assert_int_equal(tg_sale_begin(t, "一二三四五六七八九十一二三四五六七八九十", &s), TG_EUUID);
  d = tg_last_detail(t);
  assert_true(tg__utf8_valid(d, strlen(d)));
  tg_terminal_close(t);
  tt_rmtree(dir);
}

static void currencies_know_their_exponent(void **state) {
  (void)state;
  assert_int_equal(tg__currency_exponent("CNY"), 2);
  assert_int_equal(tg__currency_exponent("USD"), 2);
  assert_int_equal(tg__currency_exponent("JPY"), 0);
  assert_int_equal(tg__currency_exponent("KWD"), 3);
  assert_int_equal(tg__currency_exponent("CLF"), 4);
  assert_int_equal(tg__currency_exponent("XAU"), -1); /* no minor unit: not till money */
  assert_int_equal(tg__currency_exponent("cny"), -1);
  assert_int_equal(tg__currency_exponent("CNYY"), -1);
  assert_int_equal(tg__currency_exponent(""), -1);
  assert_int_equal(tg__currency_exponent(NULL), -1);
}

static void errors_have_names_and_sentences(void **state) {
  (void)state;
  assert_string_equal(tg_err_name(TG_EFULL), "TG_EFULL");
  assert_string_equal(tg_err_name(0), "TG_OK");
  assert_string_equal(tg_err_name(-9999), "TG_UNKNOWN");
  assert_string_equal(tg_strerror(-9999), "unknown error");
  for (int code = -1; code >= TG_EPRINTER; code--) {
    assert_true(strncmp(tg_err_name(code), "TG_E", 4) == 0);
    assert_true(strlen(tg_strerror(code)) > 8);
  }
  assert_string_equal(tg_tender_name(TG_TENDER_WALLET), "wallet");
  assert_int_equal(tg_tender_parse("points"), TG_TENDER_POINTS);
  assert_int_equal(tg_tender_parse("cheque"), TG_ETENDER);
  assert_null(tg_tender_name(0));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(utf8_accepts_real_text),
      cmocka_unit_test(utf8_refuses_bad_bytes),
      cmocka_unit_test(ids_are_short_upper_alnum),
      cmocka_unit_test(uuids_round_trip),
      cmocka_unit_test(receipt_numbers_belong_to_this_terminal),
      cmocka_unit_test(details_stay_one_line_of_utf8),
      cmocka_unit_test(currencies_know_their_exponent),
      cmocka_unit_test(errors_have_names_and_sentences),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
