/* Sales from the host POS's JSON: what is accepted, and each refusal with its own code. */
#include <string.h>

#include "helpers.h"

static tg_terminal *t;
static char *dir, path[4096];

static int setup(void **state) {
  (void)state;
  dir = tt_tmpdir();
  t = tt_terminal(dir, path);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  tg_terminal_close(t);
  tt_rmtree(dir);
  return 0;
}

#define UUID "\"uuid\":\"9f0c0000-0000-4000-8000-000000000001\""

static int from_json(const char *json, tg_totals *tot) {
  tg_sale *s = NULL;
  int rc = tg_sale_from_json(t, json, strlen(json), &s);
  if (rc == 0) {
    TT_OK(t, tg_sale_get_totals(s, tot));
    tg_sale_free(s);
  } else {
    assert_null(s);
    assert_true(strlen(tg_last_detail(t)) > 0);
  }
  return rc;
}

static void accepts_a_whole_sale(void **state) {
  (void)state;
  tg_totals tot;
  TT_OK(t, from_json("{" UUID ",\"lines\":[{\"sku\":\"6901\",\"name\":\"牛奶\",\"qty\":2,"
                     "\"unit_price\":1290},{\"sku\":\"2001\",\"name\":\"苹果\",\"qty_milli\":2500,"
                     "\"unit_price\":798,\"discount\":50}],\"order_discount\":100,"
                     "\"tenders\":[{\"kind\":\"cash\",\"amount\":5000},"
                     "{\"kind\":\"card\",\"amount\":1,\"reference\":\"A1\"}]}",
                     &tot));
  assert_int_equal(tot.total, 4425);
  assert_int_equal(tot.tendered, 5001);
  TT_OK(t, from_json("{" UUID ",\"lines\":[{\"sku\":\"1\",\"name\":\"x\",\"qty\":1,"
                     "\"unit_price\":1000}],\"order_discount_bp\":1500,"
                     "\"cashier\":\"王芳\",\"guide\":\"G07\"}",
                     &tot));
  assert_int_equal(tot.order_discount, 150);
}

static void commit_from_json_is_idempotent(void **state) {
  (void)state;
  const char *json = "{" UUID ",\"lines\":[{\"sku\":\"1\",\"name\":\"x\",\"qty\":3,"
                     "\"unit_price\":100}],\"tenders\":[{\"kind\":\"cash\",\"amount\":300}]}";
  char a[TG_RECEIPT_MAX], b[TG_RECEIPT_MAX];
  tg_sale *s;
  TT_OK(t, tg_sale_from_json(t, json, strlen(json), &s));
  TT_OK(t, tg_sale_commit(s, a));
  tg_sale_free(s);
  TT_OK(t, tg_sale_from_json(t, json, strlen(json), &s));
  TT_OK(t, tg_sale_commit(s, b));
  tg_sale_free(s);
  assert_string_equal(a, b);
}

static void refuses_each_bad_input(void **state) {
  (void)state;
  tg_totals tot;
  const char *line = "{\"sku\":\"1\",\"name\":\"x\",\"qty\":1,\"unit_price\":100}";
  char buf[1024];
  struct {
    const char *json;
    int code;
  } cases[] = {
      {"", TG_EJSON},
      {"{", TG_EJSON},
      {"[]", TG_EJSON},
      {"{\"lines\":[]}", TG_EJSON},                                  /* no uuid */
      {"{\"uuid\":42,\"lines\":[]}", TG_EJSON},
      {"{\"uuid\":\"nope\",\"lines\":[]}", TG_EUUID},
      {"{" UUID "}", TG_EJSON},                                     /* no lines */
      {"{" UUID ",\"lines\":{}}", TG_EJSON},
      {"{" UUID ",\"lines\":[],\"extra\":1}", TG_EJSON},            /* unknown field */
      {"{" UUID "," UUID ",\"lines\":[]}", TG_EJSON},               /* duplicate key */
      {"{" UUID ",\"lines\":[42]}", TG_EJSON},
      {"{" UUID ",\"lines\":[{\"sku\":\"1\",\"name\":\"x\",\"qty\":1.5,\"unit_price\":1}]}",
       TG_EJSON},                                                   /* fractions refused */
      {"{" UUID ",\"lines\":[{\"sku\":\"1\",\"name\":\"x\",\"qty\":1,\"unit_price\":1.99}]}",
       TG_EJSON},
      {"{" UUID ",\"lines\":[{\"sku\":\"1\",\"name\":\"x\",\"qty\":1,\"qty_milli\":1000,"
       "\"unit_price\":1}]}",
       TG_EJSON},                                                   /* both quantities */
      {"{" UUID ",\"lines\":[{\"sku\":\"1\",\"name\":\"x\",\"unit_price\":1}]}", TG_EJSON},
      {"{" UUID ",\"lines\":[{\"sku\":\"1\",\"name\":\"x\",\"qty\":-1,\"unit_price\":1}]}",
       TG_EQTY},
      {"{" UUID ",\"lines\":[{\"sku\":\"1\",\"name\":\"x\",\"qty\":9999999999,\"unit_price\":1}]}",
       TG_EQTY},
      {"{" UUID ",\"lines\":[{\"sku\":\"1\",\"name\":\"x\",\"qty\":1,\"unit_price\":-1}]}",
       TG_EPRICE},
      {"{" UUID ",\"lines\":[{\"sku\":1,\"name\":\"x\",\"qty\":1,\"unit_price\":1}]}", TG_EJSON},
      {"{" UUID ",\"lines\":[{\"sku\":\"1\",\"name\":\"\\u0007\",\"qty\":1,\"unit_price\":1}]}",
       TG_EUTF8},
      {"{" UUID ",\"lines\":[{\"sku\":\"1\",\"name\":\"a\\u0000b\",\"qty\":1,\"unit_price\":1}]}",
       TG_EJSON},                                                   /* NUL inside text */
      {"{" UUID ",\"lines\":[{\"sku\":\"1\",\"name\":\"\xff\",\"qty\":1,\"unit_price\":1}]}",
       TG_EJSON},                                                   /* not UTF-8 at all */
      {"{" UUID ",\"lines\":[],\"order_discount\":1,\"order_discount_bp\":1}", TG_EJSON},
      {"{" UUID ",\"lines\":[],\"order_discount_bp\":10001}", TG_EDISCOUNT},
      {"{" UUID ",\"lines\":[],\"cashier\":7}", TG_EJSON},
      {"{" UUID ",\"lines\":[],\"guide\":\"a\\u0007\"}", TG_EUTF8},
      {"{" UUID ",\"lines\":[],\"order_discount\":-1}", TG_EPRICE},
      {"{" UUID ",\"lines\":[],\"tenders\":[{\"kind\":\"cheque\",\"amount\":1}]}", TG_ETENDER},
      {"{" UUID ",\"lines\":[],\"tenders\":[{\"kind\":\"cash\",\"amount\":0}]}", TG_ETENDER},
      {"{" UUID ",\"lines\":[],\"tenders\":[{\"kind\":\"cash\"}]}", TG_EJSON},
      {"{" UUID ",\"lines\":[],\"tenders\":{}}", TG_EJSON},
  };
  uint64_t before = tt_fingerprint(path);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int rc = from_json(cases[i].json, &tot);
    if (rc != cases[i].code)
      fail_msg("case %zu: %s: got %s (%s), want %s", i, cases[i].json, tg_err_name(rc),
               tg_last_detail(t), tg_err_name(cases[i].code));
  }
  /* a line refused deep inside names its place */
  snprintf(buf, sizeof buf, "{" UUID ",\"lines\":[%s,%s,{\"sku\":\"1\",\"name\":\"x\",\"qty\":1,"
           "\"unit_price\":\"1\"}]}", line, line);
  assert_int_equal(from_json(buf, &tot), TG_EJSON);
  assert_non_null(strstr(tg_last_detail(t), "lines[2]: \"unit_price\""));
  assert_int_equal(tt_fingerprint(path), before);
}

static void refuses_oversized_input(void **state) {
  (void)state;
  size_t n = TG_JSON_MAX + 1;
  char *big = malloc(n);
  memset(big, ' ', n);
  tg_sale *s;
  assert_int_equal(tg_sale_from_json(t, big, n, &s), TG_EJSON);
  assert_non_null(strstr(tg_last_detail(t), "at most"));
  free(big);
  /* 501 lines */
  size_t cap = 64 * 1024, len = 0;
  char *many = malloc(cap);
  len += (size_t)snprintf(many + len, cap - len, "{" UUID ",\"lines\":[");
  for (int i = 0; i <= TG_MAX_LINES; i++)
    len += (size_t)snprintf(many + len, cap - len, "%s{\"sku\":\"1\",\"name\":\"x\",\"qty\":1,"
                            "\"unit_price\":1}", i ? "," : "");
  snprintf(many + len, cap - len, "]}");
  assert_int_equal(tg_sale_from_json(t, many, strlen(many), &s), TG_ETOOMANY);
  free(many);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(accepts_a_whole_sale),
      cmocka_unit_test(commit_from_json_is_idempotent),
      cmocka_unit_test(refuses_each_bad_input),
      cmocka_unit_test(refuses_oversized_input),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
