/* Product barcodes: check digits, UPC-E, AIM identifiers, Code 128, limits; cashier messages. */
#include <limits.h>
#include <string.h>

#include "helpers.h"

/* Classifies the NUL-terminated text and checks the kind and the data: the
 * text without its first skip characters on success, "" on failure. */
static void expect(const char *text, size_t skip, int kind) {
  char data[TG__BARCODE_MAX + 1];
  memset(data, 'X', sizeof data);
  int got = tg__barcode_classify(text, strlen(text), data);
  if (got != kind)
    fail_msg("\"%s\": got %s (%d), want %d", text, got < 0 ? tg_err_name(got) : "a kind", got,
             kind);
  assert_string_equal(data, kind > 0 ? text + skip : "");
}

/* Each digit of text raised by one (9 becomes 0) makes it a misread. */
static void every_changed_digit_is_a_misread(const char *text) {
  char copy[32];
  size_t n = strlen(text);
  assert_true(n < sizeof copy);
  for (size_t i = 0; i < n; i++) {
    memcpy(copy, text, n + 1);
    copy[i] = (char)('0' + (copy[i] - '0' + 1) % 10);
    expect(copy, 0, TG_ECHECKDIGIT);
  }
}

static void ean_and_upc_are_told_apart_by_length_and_check_digit(void **state) {
  static const struct {
    const char *text;
    int kind;
  } good[] = {
      {"4006381333931", TG__BARCODE_EAN13}, {"9787115428028", TG__BARCODE_EAN13}, /* an ISBN */
      {"6901234567892", TG__BARCODE_EAN13}, {"0036000291452", TG__BARCODE_EAN13},
      {"96385074", TG__BARCODE_EAN8},       {"40170725", TG__BARCODE_EAN8},
      {"036000291452", TG__BARCODE_UPCA},   {"012345678905", TG__BARCODE_UPCA},
  };
  (void)state;
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    expect(good[i].text, 0, good[i].kind);
    every_changed_digit_is_a_misread(good[i].text);
  }
  expect("21234567", 0, TG_ECHECKDIGIT); /* number system 2: no UPC-E, and no EAN-8 */
}

/* UPC-E with the UPC-A the GS1 rules expand it to, one for each form of the
 * last of its six digits. */
static const struct {
  const char *upce, *upca;
} upce[] = {
    {"04252614", "042100005264"}, /* 0-2: manufacturer d1 d2 d6 0 0, item 0 0 d3 d4 d5 */
    {"06543217", "065100004327"}, {"19876502", "198000007652"}, /* number system 1 */
    {"09876539", "098700000659"}, /* 3: manufacturer d1 d2 d3 0 0, item 0 0 0 d4 d5 */
    {"01234543", "012340000053"}, /* 4: manufacturer d1..d4 0, item 0 0 0 0 d5 */
    {"01234565", "012345000065"}, /* 5-9: manufacturer d1..d5, item 0 0 0 0 d6 */
};

static void upce_is_checked_against_its_expansion(void **state) {
  char text[16];
  (void)state;
  for (size_t i = 0; i < sizeof upce / sizeof upce[0]; i++) {
    const char *e = upce[i].upce, *a = upce[i].upca;
    expect(a, 0, TG__BARCODE_UPCA); /* the expansions in this table are right */
    assert_int_equal(e[7], a[11]);   /* UPC-E carries the check digit of its UPC-A */
    /* Under ]E0 only the check digit of the right expansion is taken. */
    for (char c = '0'; c <= '9'; c++) {
      memcpy(text, "]E0", 3);
      memcpy(text + 3, e, 7);
      text[10] = c;
      text[11] = '\0';
      expect(text, 3, c == a[11] ? TG__BARCODE_UPCE : TG_ECHECKDIGIT);
    }
    /* Without an identifier an 8-digit code valid as EAN-8 is EAN-8: so is
     * every UPC-E ending in 5-9, whose expansion weighs its digits as EAN-8 does. */
    expect(e, 0, e[6] >= '5' ? TG__BARCODE_EAN8 : TG__BARCODE_UPCE);
    every_changed_digit_is_a_misread(e);
  }
}

static void aim_identifiers_are_honoured_and_removed(void **state) {
  (void)state;
  expect("]E04006381333931", 3, TG__BARCODE_EAN13);
  expect("]E00036000291452", 3, TG__BARCODE_EAN13); /* 13 digits under ]E0 stay EAN-13 */
  expect("]E0036000291452", 3, TG__BARCODE_UPCA);
  expect("]E496385074", 3, TG__BARCODE_EAN8);
  /* An EAN identifier with the wrong check digit, length or characters is a misread. */
  expect("]E04006381333932", 3, TG_ECHECKDIGIT);
  expect("]E096385074", 3, TG_ECHECKDIGIT);   /* EAN-8 comes as ]E4 */
  expect("]E496385075", 3, TG_ECHECKDIGIT);
  expect("]E44006381333931", 3, TG_ECHECKDIGIT);
  expect("]E404252614", 3, TG_ECHECKDIGIT);   /* UPC-E comes as ]E0 */
  expect("]E012345", 3, TG_ECHECKDIGIT);
  expect("]E0ABC-123", 3, TG_ECHECKDIGIT);
  /* Code 128 data is taken as it is, even digits that fail an EAN check. */
  expect("]C1ABC-123", 3, TG__BARCODE_CODE128);
  expect("]C14006381333932", 3, TG__BARCODE_CODE128);
  expect("]C04006381333931", 3, TG__BARCODE_CODE128);
  expect("]C2A B", 3, TG__BARCODE_CODE128);
  expect("]C4]C1X", 3, TG__BARCODE_CODE128);
  expect("]C1]", 3, TG__BARCODE_CODE128);
  /* Add-ons, QR, Data Matrix, other symbologies and modifiers: no product barcode. */
  static const char *const unknown[] = {
      "]E112",       "]E212345",     "]E3400638133393112", "]Q1HC1:ABCDEF", "]d2010400638133393",
      "]A0CODE39",   "]I114006381333938", "]e00104006381333931", "]C3ABC", "]X0ABC",
      "]E0",         "]C1",
  };
  for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++)
    expect(unknown[i], 3, TG_EUNKNOWNCODE);
  /* ']' that starts no identifier is Code 128 data. */
  expect("]", 0, TG__BARCODE_CODE128);
  expect("]E", 0, TG__BARCODE_CODE128);
  expect("]1A", 0, TG__BARCODE_CODE128);
  expect("]E-0", 0, TG__BARCODE_CODE128);
}

static void other_printable_text_is_code128(void **state) {
  static const char *const code128[] = {
      "ABC-123", "HELLO WORLD 42", " A", "A ", "a b c", "~!@#$%^&*()_+{}|:\"<>?`-=[]\\;',./",
      "A", "7", "12345", "123456", "1234567" /* UPC-E without number system or check */,
      "12345678901234", "400638133393A", "4006381333931 ", " 96385074",
  };
  (void)state;
  for (size_t i = 0; i < sizeof code128 / sizeof code128[0]; i++)
    expect(code128[i], 0, TG__BARCODE_CODE128);
}

static void limits_and_bytes_outside_printable_ascii(void **state) {
  char text[TG__BARCODE_MAX + 8], data[TG__BARCODE_MAX + 1];
  (void)state;
  memset(text, 'A', sizeof text);
  text[TG__BARCODE_MAX] = '\0';
  expect(text, 0, TG__BARCODE_CODE128);
  assert_int_equal(strlen(text), TG__BARCODE_MAX);
  text[TG__BARCODE_MAX] = 'A';
  text[TG__BARCODE_MAX + 1] = '\0';
  expect(text, 0, TG_EUNKNOWNCODE);
  memset(text, 'A', sizeof text); /* the limit counts the data, not the AIM identifier */
  memcpy(text, "]C1", 3);
  text[3 + TG__BARCODE_MAX] = '\0';
  expect(text, 3, TG__BARCODE_CODE128);
  text[3 + TG__BARCODE_MAX] = 'A';
  text[3 + TG__BARCODE_MAX + 1] = '\0';
  expect(text, 3, TG_EUNKNOWNCODE);
  memset(text, '1', sizeof text); /* many digits are Code 128 up to the limit too */
  text[TG__BARCODE_MAX] = '\0';
  expect(text, 0, TG__BARCODE_CODE128);

  static const char *const unknown[] = {
      "", "\x01", "abc\r", "abc\n", "abc\t", "4006381333931\r\n", "\t96385074", "\x7f",
      "\xe7\x89\x9b\xe5\xa5\xb6" /* 牛奶 */, "caf\xc3\xa9", "\x1b[A", "]C1A\x1d" "10ABC",
  };
  for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++)
    expect(unknown[i], 0, TG_EUNKNOWNCODE);

  /* n bytes are read, no more and no less: an embedded NUL is no character,
   * and what follows n is not looked at. */
  memset(data, 'X', sizeof data);
  assert_int_equal(tg__barcode_classify("AB\0CD", 5, data), TG_EUNKNOWNCODE);
  assert_string_equal(data, "");
  assert_int_equal(tg__barcode_classify("4006381333931\0", 14, data), TG_EUNKNOWNCODE);
  assert_int_equal(tg__barcode_classify("4006381333931\r\nXYZ", 13, data), TG__BARCODE_EAN13);
  assert_string_equal(data, "4006381333931");
  assert_int_equal(tg__barcode_classify("]E496385074]E0", 11, data), TG__BARCODE_EAN8);
  assert_string_equal(data, "96385074");
  assert_int_equal(tg__barcode_classify(NULL, 0, data), TG_EUNKNOWNCODE);
  assert_string_equal(data, "");
}

static void barcode_kinds_have_names(void **state) {
  (void)state;
  assert_string_equal(tg__barcode_name(TG__BARCODE_EAN13), "ean13");
  assert_string_equal(tg__barcode_name(TG__BARCODE_EAN8), "ean8");
  assert_string_equal(tg__barcode_name(TG__BARCODE_UPCA), "upca");
  assert_string_equal(tg__barcode_name(TG__BARCODE_UPCE), "upce");
  assert_string_equal(tg__barcode_name(TG__BARCODE_CODE128), "code128");
  assert_null(tg__barcode_name((tg__barcode_kind)0));
  assert_null(tg__barcode_name((tg__barcode_kind)(TG__BARCODE_CODE128 + 1)));
}

/* ----- the cashier's messages ----- */

#define CODE(name, code, msg) TG_##name,
static const int codes[] = {TG_OK, TG_ERRNO_MAP(CODE)};
#undef CODE
enum { N_CODES = sizeof codes / sizeof codes[0] };

static int is_ascii(const char *s) {
  for (; *s != '\0'; s++)
    if ((unsigned char)*s >= 0x80)
      return 0;
  return 1;
}

static void every_code_has_its_own_message_in_both_languages(void **state) {
  const char *generic_en = tg_cashier_message(-9999, "en");
  const char *generic_zh = tg_cashier_message(-9999, "zh");
  (void)state;
  assert_true(N_CODES >= 1 - TG_EREFERRAL); /* 0 down to TG_EREFERRAL at least */
  for (int i = 0; i < N_CODES; i++) {
    int code = codes[i];
    const char *zh = tg_cashier_message(code, "zh"), *en = tg_cashier_message(code, "en");
    assert_non_null(zh);
    assert_non_null(en);
    if (strlen(zh) == 0 || strlen(en) == 0 || strlen(en) > 60)
      fail_msg("%s: en \"%s\" must be 1-60 characters, zh \"%s\" not empty", tg_err_name(code),
               en, zh);
    assert_true(tg__utf8_valid(zh, strlen(zh)));
    assert_true(tg__utf8_valid(en, strlen(en)));
    if (is_ascii(zh) || !is_ascii(en))
      fail_msg("%s: zh \"%s\" needs Chinese, en \"%s\" only ASCII", tg_err_name(code), zh, en);
    if (strcmp(en, generic_en) == 0 || strcmp(zh, generic_zh) == 0)
      fail_msg("%s has only the generic message", tg_err_name(code));
    /* anything but Chinese is English */
    assert_ptr_equal(tg_cashier_message(code, NULL), en);
    assert_ptr_equal(tg_cashier_message(code, ""), en);
    assert_ptr_equal(tg_cashier_message(code, "fr"), en);
    assert_ptr_equal(tg_cashier_message(code, "z"), en);
    assert_ptr_equal(tg_cashier_message(code, "zhx"), en);
    assert_ptr_equal(tg_cashier_message(code, "zh-CN"), zh);
    assert_ptr_equal(tg_cashier_message(code, "zh_CN.UTF-8"), zh);
    for (int j = 0; j < i; j++)
      if (strcmp(en, tg_cashier_message(codes[j], "en")) == 0 ||
          strcmp(zh, tg_cashier_message(codes[j], "zh")) == 0)
        fail_msg("%s and %s share a message", tg_err_name(code), tg_err_name(codes[j]));
  }
}

static void unknown_codes_get_a_generic_message(void **state) {
  const int unknown[] = {-9999, 5, 1, INT_MIN, INT_MAX, TG_EREFERRAL - 1000};
  const char *en = tg_cashier_message(-9999, "en"), *zh = tg_cashier_message(-9999, "zh");
  (void)state;
  assert_true(strlen(en) > 0 && is_ascii(en));
  assert_true(strlen(zh) > 0 && !is_ascii(zh) && tg__utf8_valid(zh, strlen(zh)));
  for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
    assert_string_equal(tg_cashier_message(unknown[i], "en"), en);
    assert_string_equal(tg_cashier_message(unknown[i], NULL), en);
    assert_string_equal(tg_cashier_message(unknown[i], "zh"), zh);
  }
}

/* The sentences say what to do: a few that matter most at the till. */
static void messages_tell_the_cashier_what_to_do(void **state) {
  static const struct {
    int code;
    const char *en_has, *zh_has;
  } said[] = {
      {TG_OK, "Done", "完成"},
      {TG_ETOKEN, "brighten", "调亮"},
      {TG_EINVITE, "WeChat", "微信"},
      {TG_ECHECKDIGIT, "scan it again", "重扫"},
      {TG_EUNKNOWNCODE, "barcode", "条码"},
      {TG_ELEASE, "sync", "同步"},
      {TG_EIO, "not saved", "未保存"},
      {TG_EFULL, "not saved", "未保存"},
      {TG_EIO, "supervisor", "主管"},
      {TG_EFULL, "supervisor", "主管"},
      {TG_ECORRUPT, "supervisor", "主管"},
      {TG_EWRONGSTORE, "another store", "其他门店"},
  };
  (void)state;
  /* the example of the public header */
  assert_string_equal(tg_cashier_message(TG_ESPENT, "zh"), "券已使用过，不能再用");
  assert_string_equal(tg_cashier_message(TG_ESPENT, "en"), "This coupon has already been used.");
  for (size_t i = 0; i < sizeof said / sizeof said[0]; i++) {
    const char *en = tg_cashier_message(said[i].code, "en");
    const char *zh = tg_cashier_message(said[i].code, "zh");
    if (strstr(en, said[i].en_has) == NULL || strstr(zh, said[i].zh_has) == NULL)
      fail_msg("%s: \"%s\" / \"%s\" should say \"%s\" / \"%s\"", tg_err_name(said[i].code), en,
               zh, said[i].en_has, said[i].zh_has);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(ean_and_upc_are_told_apart_by_length_and_check_digit),
      cmocka_unit_test(upce_is_checked_against_its_expansion),
      cmocka_unit_test(aim_identifiers_are_honoured_and_removed),
      cmocka_unit_test(other_printable_text_is_code128),
      cmocka_unit_test(limits_and_bytes_outside_printable_ascii),
      cmocka_unit_test(barcode_kinds_have_names),
      cmocka_unit_test(every_code_has_its_own_message_in_both_languages),
      cmocka_unit_test(unknown_codes_get_a_generic_message),
      cmocka_unit_test(messages_tell_the_cashier_what_to_do),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
