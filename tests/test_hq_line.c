/* HQ's one-pass reader of upload lines: what it keeps, what it refuses, and agreement with jansson. */
#include <string.h>

#include "helpers.h"
#include "hq.h"
#include "hq_line_check.h"

/* One line and what the reader must answer: accepted (1) or refused (0). */
typedef struct {
  const char *z;
  size_t n; /* 0: strlen(z) */
  int accepted;
} line_case;

#define LINE(text, ok) {text, sizeof text - 1, ok}

static const line_case cases[] = {
    LINE("{}", 1),
    LINE(" \t{ }\r ", 1),
    LINE("{\"a\":[1,-0,0.5,-1.5e-3,1E+2,true,false,null,{},[],\"x\"]}", 1),
    LINE("{\"\\u0073tore\":\"S\\u0031\"}", 1),
    LINE("{\"x\":\"\\ud83d\\ude00 \\u4e2d \xe4\xb8\xad \xf0\x9f\x98\x80 \\\"\\\\\\/\\b\\f\\n\\r\\t\"}", 1),
    LINE("{\"seq\":9223372036854775807,\"epoch\":-9223372036854775808}", 1),
    LINE("{\"x\":1e308,\"y\":1e-400,\"z\":-0.0}", 1),
    LINE("{\"a\":1,\"a\":2}", 1), /* a duplicate key HQ does not read is kept as written */
    LINE("{\"uuid\":\"0123456789012345678901234567890123456789-and-more\"}", 1),
    LINE("{\"total\":12.0,\"kind\":[],\"time_ms\":\"1\"}", 1),
    LINE("", 0),
    LINE("[]", 0),
    LINE("1", 0),
    LINE("\"s\"", 0),
    LINE("{}x", 0),
    LINE("{}{}", 0),
    LINE("{\"a\":1,}", 0),
    LINE("{\"a\" 1}", 0),
    LINE("{a:1}", 0),
    LINE("{'a':1}", 0),
    LINE("{\"a\":1", 0),
    LINE("{\"a\":[1,]}", 0),
    LINE("{\"a\":[,1]}", 0),
    LINE("{\"a\":True}", 0),
    LINE("{\"a\":nul}", 0),
    LINE("{\"a\":truex}", 0),
    LINE("{\"a\":01}", 0),
    LINE("{\"a\":1.}", 0),
    LINE("{\"a\":.5}", 0),
    LINE("{\"a\":+1}", 0),
    LINE("{\"a\":-}", 0),
    LINE("{\"a\":1e}", 0),
    LINE("{\"a\":1e+}", 0),
    LINE("{\"a\":0x10}", 0),
    LINE("{\"seq\":9223372036854775808}", 0),
    LINE("{\"seq\":-9223372036854775809}", 0),
    LINE("{\"a\":1e309}", 0),
    LINE("{\"a\":-1e309}", 0),
    LINE("{\"a\":\"\\u0000\"}", 0),
    LINE("{\"\\u0000\":1}", 0),
    LINE("{\"a\":\"\\ud800\"}", 0),
    LINE("{\"a\":\"\\udc00\"}", 0),
    LINE("{\"a\":\"\\ud800\\u0041\"}", 0),
    LINE("{\"a\":\"\\x41\"}", 0),
    LINE("{\"a\":\"\\u12g4\"}", 0),
    LINE("{\"a\":\"\\u12\"}", 0),
    LINE("{\"a\":\"\x01\"}", 0),
    LINE("{\"a\":\"\t\"}", 0),
    LINE("{\"a\":\"\xc0\x80\"}", 0),
    LINE("{\"a\":\"\xed\xa0\x80\"}", 0),
    LINE("{\"a\":\"\xf4\x90\x80\x80\"}", 0),
    LINE("{\"a\":\"\x80\"}", 0),
    LINE("{\"a\":\"\xe4\xb8\"}", 0),
    LINE("{\"a\":\"\xff\"}", 0),
    LINE("{\"a\":1}\0", 0),
    LINE("{\"a\":[2\0,true\0]}", 0), /* jansson 2.14 skips these NULs; RFC 8259 has none */
    LINE("{\"a\":\"x\0\"}", 0),
    LINE("{\"a\":\"unclosed}", 0),
    LINE("{\"seq\":1,\"seq\":1}", 0),
    LINE("{\"s\\u0065q\":1,\"seq\":2}", 0),
    LINE("{\"kind\":\"sale\",\"x\":{},\"kind\":\"void\"}", 0),
};

/* Every case is answered as listed, and as jansson would. */
static void cases_agree_with_jansson(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    tg__hq_member m[TG__HQ_MEMBERS];
    char why[TG__HQ_WHY_MAX] = "";
    int rc = tg__hq_line_read(cases[i].z, cases[i].n, m, why, sizeof why);
    if ((rc == 0) != cases[i].accepted)
      fail_msg("case %zu (%.60s): rc %d, %s", i, cases[i].z, rc, why);
    if (rc != 0 && strncmp(why, "byte ", 5) != 0)
      fail_msg("case %zu: the reason does not say where: %s", i, why);
    const char *differs = tt_hq_line_disagreement(cases[i].z, cases[i].n);
    if (differs != NULL)
      fail_msg("case %zu (%.60s): %s", i, cases[i].z, differs);
  }
}

/* The members of a sale line, with their types and values. */
static void members_of_a_sale(void **state) {
  static const char z[] =
      "{\"store\":\"S1\",\"terminal\":\"T1\",\"epoch\":3,\"seq\":42,\"kind\":\"sale\","
      "\"uuid\":\"00000000-0000-4000-8000-000000000042\",\"time_ms\":1700000000000,"
      "\"total\":-1290,\"lines\":[{\"seq\":7,\"kind\":\"x\"}]}";
  tg__hq_member m[TG__HQ_MEMBERS];
  (void)state;
  assert_int_equal(tg__hq_line_read(z, sizeof z - 1, m, NULL, 0), 0);
  assert_int_equal(m[TG__HQ_M_STORE].type, TG__HQ_STRING);
  assert_string_equal(m[TG__HQ_M_STORE].text, "S1");
  assert_string_equal(m[TG__HQ_M_TERMINAL].text, "T1");
  assert_int_equal(m[TG__HQ_M_EPOCH].integer, 3);
  assert_int_equal(m[TG__HQ_M_SEQ].integer, 42); /* not the nested line's seq */
  assert_string_equal(m[TG__HQ_M_KIND].text, "sale");
  assert_int_equal(m[TG__HQ_M_UUID].len, 36);
  assert_string_equal(m[TG__HQ_M_UUID].text, "00000000-0000-4000-8000-000000000042");
  assert_int_equal(m[TG__HQ_M_TIME_MS].integer, 1700000000000);
  assert_int_equal(m[TG__HQ_M_TOTAL].type, TG__HQ_INTEGER);
  assert_int_equal(m[TG__HQ_M_TOTAL].integer, -1290);
}

/* A long string member keeps its first bytes and its whole length. */
static void long_strings_are_cut_but_measured(void **state) {
  static const char z[] = "{\"store\":\"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefgh\"}";
  tg__hq_member m[TG__HQ_MEMBERS];
  (void)state;
  assert_int_equal(tg__hq_line_read(z, sizeof z - 1, m, NULL, 0), 0);
  assert_int_equal(m[TG__HQ_M_STORE].len, 44);
  assert_int_equal(strlen(m[TG__HQ_M_STORE].text), TG__HQ_TEXT_MAX);
  assert_memory_equal(m[TG__HQ_M_STORE].text, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abc", 39);
}

/* {"x": [[[...]]]} with the given number of arrays; malloc'd. */
static char *nested(int arrays, const char *inner, size_t *n) {
  size_t k = strlen(inner), len = 6 + 2 * (size_t)arrays + k + 1;
  char *z = malloc(len + 1), *p = z;
  assert_non_null(z);
  p += sprintf(p, "{\"x\":");
  memset(p, '[', (size_t)arrays);
  p += arrays;
  memcpy(p, inner, k);
  p += k;
  memset(p, ']', (size_t)arrays);
  p += arrays;
  *p++ = '}';
  *p = '\0';
  *n = (size_t)(p - z);
  return z;
}

/* 2048 values open at once are read, 2049 refused, as jansson does. */
static void nesting_stops_where_jansson_does(void **state) {
  static const struct {
    int arrays;
    const char *inner;
    int accepted;
  } depth[] = {{2047, "", 1}, {2046, "1", 1}, {2047, "1", 0}, {2048, "", 0}, {100000, "", 0}};
  (void)state;
  for (size_t i = 0; i < sizeof depth / sizeof depth[0]; i++) {
    size_t n;
    char *z = nested(depth[i].arrays, depth[i].inner, &n), why[TG__HQ_WHY_MAX];
    tg__hq_member m[TG__HQ_MEMBERS];
    int rc = tg__hq_line_read(z, n, m, why, sizeof why);
    if ((rc == 0) != depth[i].accepted)
      fail_msg("%d arrays around \"%s\": rc %d %s", depth[i].arrays, depth[i].inner, rc, why);
    const char *differs = tt_hq_line_disagreement(z, n);
    if (differs != NULL)
      fail_msg("%d arrays: %s", depth[i].arrays, differs);
    free(z);
  }
}

/* The reader stops at n: a line cut anywhere is refused, never read past. */
static void every_cut_of_a_line_is_refused(void **state) {
  static const char z[] =
      "{\"store\":\"S1\",\"seq\":12,\"total\":1.5e3,\"x\":[true,null,\"\\u4e2d\xe4\xb8\xad\"]}";
  (void)state;
  for (size_t n = 0; n < sizeof z - 1; n++) {
    char *cut = malloc(n + 1); /* exactly n bytes readable, plus one for a zero-size malloc */
    tg__hq_member m[TG__HQ_MEMBERS];
    assert_non_null(cut);
    memcpy(cut, z, n);
    assert_int_not_equal(tg__hq_line_read(cut, n, m, NULL, 0), 0);
    free(cut);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(cases_agree_with_jansson),
      cmocka_unit_test(members_of_a_sale),
      cmocka_unit_test(long_strings_are_cut_but_measured),
      cmocka_unit_test(nesting_stops_where_jansson_does),
      cmocka_unit_test(every_cut_of_a_line_is_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
