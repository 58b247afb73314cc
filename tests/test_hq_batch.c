/* HQ's reading of uploads: Idempotency-Keys and batch bodies, every refusal the protocol lists. */
#include <sodium.h>
#include <string.h>

#include "helpers.h"
#include "hq.h"

#define UUID(i) "00000000-0000-4000-8000-00000000000" #i

/* A sale record line of S1-T1 epoch 1 (no newline). */
static void sale_line(char *out, size_t cap, int64_t seq) {
  snprintf(out, cap,
           "{\"store\":\"S1\",\"terminal\":\"T1\",\"epoch\":1,\"seq\":%lld,\"kind\":\"sale\","
           "\"uuid\":\"00000000-0000-4000-8000-%012lld\",\"time_ms\":1700000000000,"
           "\"total\":1290,\"lines\":[]}",
           (long long)seq, (long long)seq);
}

/* A malloc'd body of the given lines, each followed by '\n'. */
static char *body_of(const char *const *lines, int n, size_t *len) {
  size_t total = 0;
  for (int i = 0; i < n; i++)
    total += strlen(lines[i]) + 1;
  char *z = malloc(total + 1), *p = z;
  assert_non_null(z);
  for (int i = 0; i < n; i++) {
    size_t k = strlen(lines[i]);
    memcpy(p, lines[i], k);
    p[k] = '\n';
    p += k + 1;
  }
  *p = '\0';
  *len = total;
  return z;
}

static tg__hq_key key_of(int64_t from, int64_t to) {
  tg__hq_key k;
  memset(&k, 0, sizeof k);
  memcpy(k.store, "S1", 3);
  memcpy(k.terminal, "T1", 3);
  k.epoch = 1;
  k.from = from;
  k.to = to;
  return k;
}

/* Parses lines as the upload of from..to and returns the result code; why gets the reason. */
static int parse_lines(const char *const *lines, int n, int64_t from, int64_t to, tg__hq_batch *b,
                       char *why, size_t cap) {
  size_t len;
  char *z = body_of(lines, n, &len);
  tg__hq_key k = key_of(from, to);
  return tg__hq_batch_parse(z, len, &k, b, why, cap);
}

/* Expects parse_lines to fail with rc and a reason containing part. */
static void expect_refusal(const char *const *lines, int n, int64_t from, int64_t to, int rc,
                           const char *part) {
  tg__hq_batch b;
  char why[TG__HQ_WHY_MAX] = "";
  int got = parse_lines(lines, n, from, to, &b, why, sizeof why);
  if (got != rc || strstr(why, part) == NULL)
    fail_msg("expected %d with '%s', got %d: %s", rc, part, got, why);
  assert_null(b.records);
  assert_null(b.text);
  tg__hq_batch_free(&b);
}

static void key_reads_the_protocol_form(void **state) {
  (void)state;
  tg__hq_key k;
  char why[TG__HQ_WHY_MAX];
  assert_int_equal(tg__hq_key_parse("S1-T1:3:1-10000", &k, why, sizeof why), TG__HQ_OK);
  assert_string_equal(k.store, "S1");
  assert_string_equal(k.terminal, "T1");
  assert_int_equal(k.epoch, 3);
  assert_int_equal(k.from, 1);
  assert_int_equal(k.to, 10000);
  assert_int_equal(tg__hq_key_parse("ABCDEFGHIJKL-0123456789AB:9007199254740992:"
                                    "9007199254740992-9007199254740992",
                                    &k, why, sizeof why),
                   TG__HQ_OK);
  assert_string_equal(k.store, "ABCDEFGHIJKL");
  assert_int_equal(k.epoch, (int64_t)1 << 53);
  assert_int_equal(k.from, (int64_t)1 << 53);
}

static void key_refuses_malformed_as_400(void **state) {
  (void)state;
  static const char *const bad[] = {"",
                                    "S1T1:1:1-2",
                                    "S1-T1:1:1",
                                    "S1-T1:1:1-",
                                    "S1-T1::1-2",
                                    "s1-T1:1:1-2",
                                    "S1-T1:1:1-2 ",
                                    " S1-T1:1:1-2",
                                    "S1-T1:+1:1-2",
                                    "S1-T1:-1:1-2",
                                    "S1-T1:1:01-2",
                                    "ABCDEFGHIJKLM-T1:1:1-2",
                                    "S1-:1:1-2",
                                    "-T1:1:1-2",
                                    "S1-T1:1:1-2:3",
                                    "S1-T1:1:1--2",
                                    "S1-T1:1.0:1-2",
                                    "S1_T1:1:1-2",
                                    "S1-T1:1:1-2\n",
                                    "S1-T1:0x1:1-2"};
  tg__hq_key k;
  char why[TG__HQ_WHY_MAX];
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    why[0] = '\0';
    if (tg__hq_key_parse(bad[i], &k, why, sizeof why) != TG__HQ_BAD)
      fail_msg("key '%s' was not refused as malformed", bad[i]);
    assert_true(why[0] != '\0');
  }
  assert_int_equal(tg__hq_key_parse(NULL, &k, why, sizeof why), TG__HQ_BAD);
  char longkey[300];
  memset(longkey, '9', sizeof longkey - 1);
  memcpy(longkey, "S1-T1:1:1-", 10);
  longkey[sizeof longkey - 1] = '\0';
  assert_int_equal(tg__hq_key_parse(longkey, &k, why, sizeof why), TG__HQ_BAD);
}

static void key_refuses_out_of_range_as_422(void **state) {
  (void)state;
  static const char *const range[] = {"S1-T1:1:0-5",                /* FROM < 1 */
                                      "S1-T1:1:5-4",                /* TO < FROM */
                                      "S1-T1:1:1-10001",            /* over 10,000 records */
                                      "S1-T1:1:1-9007199254740993", /* over 2^53 */
                                      "S1-T1:1:9007199254740993-9007199254740993",
                                      "S1-T1:0:1-2",                          /* epoch 0 */
                                      "S1-T1:9007199254740993:1-2",           /* epoch over 2^53 */
                                      "S1-T1:1:1-99999999999999999999999999", /* far past int64 */
                                      "S1-T1:0:0-0"};
  tg__hq_key k;
  char why[TG__HQ_WHY_MAX];
  for (size_t i = 0; i < sizeof range / sizeof range[0]; i++) {
    why[0] = '\0';
    if (tg__hq_key_parse(range[i], &k, why, sizeof why) != TG__HQ_RANGE)
      fail_msg("key '%s' was not refused as out of range", range[i]);
    assert_true(why[0] != '\0');
    /* the ids stay readable, so HQ can answer 403 first for another terminal's key */
    assert_string_equal(k.store, "S1");
    assert_string_equal(k.terminal, "T1");
  }
  assert_int_equal(tg__hq_key_parse("S1-T1:1:5-10004", &k, why, sizeof why), TG__HQ_OK);
  assert_int_equal(tg__hq_key_parse("S1-T1:1:5-10005", &k, why, sizeof why), TG__HQ_RANGE);
}

static void batch_points_into_the_text(void **state) {
  (void)state;
  char l1[512], l2[512], l3[512], why[TG__HQ_WHY_MAX];
  sale_line(l1, sizeof l1, 7);
  sale_line(l2, sizeof l2, 8);
  snprintf(l3, sizeof l3,
           "{\"store\":\"S1\",\"terminal\":\"T1\",\"epoch\":1,\"seq\":9,\"kind\":\"redeem\","
           "\"uuid\":\"%s\",\"time_ms\":5,\"coupon\":12}",
           UUID(9));
  const char *const lines[] = {l1, l2, l3};
  size_t len;
  char *z = body_of(lines, 3, &len);
  tg__hq_key k = key_of(7, 9);
  tg__hq_batch b;
  assert_int_equal(tg__hq_batch_parse(z, len, &k, &b, why, sizeof why), TG__HQ_OK);
  assert_ptr_equal(b.text, z);
  assert_int_equal(b.n_text, len);
  assert_int_equal(b.n, 3);
  assert_int_equal(b.key.from, 7);
  assert_ptr_equal(b.records[0].body, z);
  assert_int_equal(b.records[0].len, strlen(l1));
  assert_ptr_equal(b.records[1].body, z + strlen(l1) + 1);
  assert_int_equal(b.records[1].len, strlen(l2));
  assert_ptr_equal(b.records[2].body, z + strlen(l1) + strlen(l2) + 2);
  assert_int_equal(b.records[2].len, strlen(l3));
  assert_memory_equal(b.records[2].body, l3, strlen(l3));
  for (int i = 0; i < 3; i++) {
    assert_int_equal(b.records[i].seq, 7 + i);
    assert_null(b.records[i].reject_status);
  }
  assert_string_equal(b.records[0].kind, "sale");
  assert_string_equal(b.records[0].uuid, "00000000-0000-4000-8000-000000000007");
  assert_int_equal(b.records[0].time_ms, 1700000000000LL);
  assert_int_equal(b.records[0].total, 1290);
  assert_string_equal(b.records[2].kind, "redeem");
  assert_int_equal(b.records[2].total, 0);
  assert_int_equal(b.records[2].time_ms, 5);
  unsigned char digest[32];
  crypto_generichash(digest, sizeof digest, (const unsigned char *)z, len, NULL, 0);
  assert_memory_equal(b.digest, digest, 32);
  tg__hq_batch_free(&b);
  assert_null(b.text);
  tg__hq_batch_free(&b); /* twice, and zeroed, is harmless */
  tg__hq_batch_free(NULL);
}

static void digest_is_the_bytes(void **state) {
  (void)state;
  char l1[512], why[TG__HQ_WHY_MAX];
  sale_line(l1, sizeof l1, 1);
  const char *const lines[] = {l1};
  tg__hq_batch a, b, c;
  assert_int_equal(parse_lines(lines, 1, 1, 1, &a, why, sizeof why), TG__HQ_OK);
  assert_int_equal(parse_lines(lines, 1, 1, 1, &b, why, sizeof why), TG__HQ_OK);
  assert_memory_equal(a.digest, b.digest, 32);
  /* the same record with one more space is other bytes, so another digest */
  char spaced[520];
  snprintf(spaced, sizeof spaced, "{ %s", l1 + 1);
  const char *const other[] = {spaced};
  assert_int_equal(parse_lines(other, 1, 1, 1, &c, why, sizeof why), TG__HQ_OK);
  assert_memory_not_equal(a.digest, c.digest, 32);
  /* a known value: BLAKE2b-256 of "" differs from both */
  unsigned char empty[32];
  crypto_generichash(empty, sizeof empty, NULL, 0, NULL, 0);
  assert_memory_not_equal(a.digest, empty, 32);
  tg__hq_batch_free(&a);
  tg__hq_batch_free(&b);
  tg__hq_batch_free(&c);
}

static void batch_refuses_bad_lines_as_400(void **state) {
  (void)state;
  char ok[512];
  sale_line(ok, sizeof ok, 1);
  static const char *const bad[] = {
      "not json",
      "[1,2,3]",
      "\"a string\"",
      "",
      "{\"store\":\"S1\",\"terminal\":\"T1\",\"epoch\":1}",
      "{\"store\":\"S1\",\"terminal\":\"T1\",\"seq\":2}",
      "{\"terminal\":\"T1\",\"epoch\":1,\"seq\":2}",
      "{\"store\":\"S1\",\"epoch\":1,\"seq\":2}",
      "{\"store\":1,\"terminal\":\"T1\",\"epoch\":1,\"seq\":2}",
      "{\"store\":\"S1\",\"terminal\":\"T1\",\"epoch\":\"1\",\"seq\":2}",
      "{\"store\":\"S1\",\"terminal\":\"T1\",\"epoch\":1,\"seq\":2.0}",
      "{\"store\":\"S1\",\"terminal\":\"T1\",\"epoch\":1,\"seq\":2} trailing",
      "{\"store\":\"S1\",\"store\":\"S1\",\"terminal\":\"T1\",\"epoch\":1,\"seq\":2}",
      "{\"store\":\"S1\",\"terminal\":\"T1\",\"epoch\":1,\"seq\":2",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    const char *const lines[] = {ok, bad[i]};
    expect_refusal(lines, 2, 1, 2, TG__HQ_BAD, "line 2");
  }
  /* a body without its final newline */
  tg__hq_batch b;
  char why[TG__HQ_WHY_MAX];
  char *z = strdup(ok);
  tg__hq_key k = key_of(1, 1);
  assert_int_equal(tg__hq_batch_parse(z, strlen(z), &k, &b, why, sizeof why), TG__HQ_BAD);
  assert_non_null(strstr(why, "newline"));
  tg__hq_batch_free(&b);
  /* a NUL byte inside a line */
  size_t len;
  const char *const one[] = {ok};
  z = body_of(one, 1, &len);
  z[10] = '\0';
  assert_int_equal(tg__hq_batch_parse(z, len, &k, &b, why, sizeof why), TG__HQ_BAD);
  tg__hq_batch_free(&b);
}

static void batch_refuses_another_terminal_as_403(void **state) {
  (void)state;
  char l1[512];
  sale_line(l1, sizeof l1, 1);
  static const char *const other[] = {
      "{\"store\":\"S2\",\"terminal\":\"T1\",\"epoch\":1,\"seq\":2,\"kind\":\"sale\"}",
      "{\"store\":\"S1\",\"terminal\":\"T2\",\"epoch\":1,\"seq\":2,\"kind\":\"sale\"}",
      "{\"store\":\"s1\",\"terminal\":\"T1\",\"epoch\":1,\"seq\":2,\"kind\":\"sale\"}",
  };
  for (size_t i = 0; i < sizeof other / sizeof other[0]; i++) {
    const char *const lines[] = {l1, other[i]};
    expect_refusal(lines, 2, 1, 2, TG__HQ_FORBIDDEN, "another store or terminal");
  }
  /* 403 wins over a 422 on an earlier line, and a 400 on a later line over both */
  const char *const mixed[] = {"{\"store\":\"S1\",\"terminal\":\"T1\",\"epoch\":1,\"seq\":5}",
                               "{\"store\":\"S9\",\"terminal\":\"T1\",\"epoch\":1,\"seq\":2}"};
  expect_refusal(mixed, 2, 1, 2, TG__HQ_FORBIDDEN, "line 2");
  const char *const worse[] = {mixed[0], mixed[1], "oops"};
  expect_refusal(worse, 3, 1, 3, TG__HQ_BAD, "line 3");
}

static void batch_refuses_count_order_epoch_as_422(void **state) {
  (void)state;
  char l1[512], l2[512], l3[512];
  sale_line(l1, sizeof l1, 1);
  sale_line(l2, sizeof l2, 2);
  sale_line(l3, sizeof l3, 3);
  const char *const two[] = {l1, l2};
  expect_refusal(two, 2, 1, 3, TG__HQ_RANGE, "holds 2 records, the key 3");
  const char *const three[] = {l1, l2, l3};
  expect_refusal(three, 3, 1, 2, TG__HQ_RANGE, "more than the key's 2");
  const char *const swapped[] = {l2, l1};
  expect_refusal(swapped, 2, 1, 2, TG__HQ_RANGE, "seq 2 where 1 belongs");
  const char *const repeated[] = {l1, l1};
  expect_refusal(repeated, 2, 1, 2, TG__HQ_RANGE, "seq 1 where 2 belongs");
  const char *const shifted[] = {l2, l3};
  expect_refusal(shifted, 2, 1, 2, TG__HQ_RANGE, "line 1");
  const char *const epoch2[] = {
      l1, "{\"store\":\"S1\",\"terminal\":\"T1\",\"epoch\":2,\"seq\":2,\"kind\":\"sale\"}"};
  expect_refusal(epoch2, 2, 1, 2, TG__HQ_RANGE, "epoch 2");
  /* an empty body */
  tg__hq_batch b;
  char why[TG__HQ_WHY_MAX];
  tg__hq_key k = key_of(1, 1);
  assert_int_equal(tg__hq_batch_parse(NULL, 0, &k, &b, why, sizeof why), TG__HQ_RANGE);
  tg__hq_batch_free(&b);
  /* a key the parser would never pass: more than 10,000 records */
  k = key_of(1, 10001);
  char *z = strdup("x\n");
  assert_int_equal(tg__hq_batch_parse(z, 2, &k, &b, why, sizeof why), TG__HQ_RANGE);
  tg__hq_batch_free(&b);
}

/* One line with the identity of seq 1 and the given content; expects "invalid" with why. */
static void expect_invalid(const char *content, const char *reason) {
  char line[1024], why[TG__HQ_WHY_MAX];
  snprintf(line, sizeof line, "{\"store\":\"S1\",\"terminal\":\"T1\",\"epoch\":1,\"seq\":1%s}",
           content);
  const char *const lines[] = {line};
  tg__hq_batch b;
  int rc = parse_lines(lines, 1, 1, 1, &b, why, sizeof why);
  if (rc != TG__HQ_OK)
    fail_msg("'%s' refused the batch: %s", content, why);
  assert_int_equal(b.n, 1);
  if (b.records[0].reject_status == NULL)
    fail_msg("'%s' was accepted", content);
  assert_string_equal(b.records[0].reject_status, "invalid");
  if (strstr(b.records[0].reason, reason) == NULL)
    fail_msg("'%s': reason '%s' lacks '%s'", content, b.records[0].reason, reason);
  assert_string_equal(b.records[0].kind, "");
  assert_ptr_equal(b.records[0].body, b.text);
  assert_int_equal(b.records[0].len, strlen(line));
  tg__hq_batch_free(&b);
}

#define GOOD_UUID ",\"uuid\":\"" UUID(1) "\""

static void content_problems_are_invalid_records(void **state) {
  (void)state;
  expect_invalid(GOOD_UUID ",\"time_ms\":1,\"total\":1", "kind is missing");
  expect_invalid(",\"kind\":\"gift\"" GOOD_UUID ",\"time_ms\":1,\"total\":1", "kind is not");
  expect_invalid(",\"kind\":7" GOOD_UUID ",\"time_ms\":1,\"total\":1", "kind is not");
  expect_invalid(",\"kind\":\"SALE\"" GOOD_UUID ",\"time_ms\":1,\"total\":1", "kind is not");
  expect_invalid(",\"kind\":\"sale\",\"time_ms\":1,\"total\":1", "uuid is missing");
  expect_invalid(",\"kind\":\"refund\",\"time_ms\":1,\"total\":1", "uuid is missing");
  expect_invalid(",\"kind\":\"void\",\"time_ms\":1,\"total\":0", "uuid is missing");
  expect_invalid(",\"kind\":\"sale\",\"uuid\":\"abc\",\"time_ms\":1,\"total\":1", "uuid is not");
  expect_invalid(",\"kind\":\"sale\",\"uuid\":12,\"time_ms\":1,\"total\":1", "uuid is not");
  expect_invalid(",\"kind\":\"sale\",\"uuid\":\"00000000-0000-4000-8000-00000000000g\","
                 "\"time_ms\":1,\"total\":1",
                 "uuid is not");
  expect_invalid(",\"kind\":\"sale\",\"uuid\":\"00000000-0000-4000-8000-0000000000001\","
                 "\"time_ms\":1,\"total\":1",
                 "uuid is not");
  expect_invalid(",\"kind\":\"redeem\",\"uuid\":null,\"time_ms\":1", "uuid is not");
  expect_invalid(",\"kind\":\"sale\"" GOOD_UUID ",\"total\":1", "time_ms");
  expect_invalid(",\"kind\":\"sale\"" GOOD_UUID ",\"time_ms\":-1,\"total\":1", "time_ms");
  expect_invalid(",\"kind\":\"sale\"" GOOD_UUID ",\"time_ms\":1.5,\"total\":1", "time_ms");
  expect_invalid(",\"kind\":\"sale\"" GOOD_UUID ",\"time_ms\":\"1\",\"total\":1", "time_ms");
  expect_invalid(",\"kind\":\"sale\"" GOOD_UUID ",\"time_ms\":1", "total is not an integer");
  expect_invalid(",\"kind\":\"sale\"" GOOD_UUID ",\"time_ms\":1,\"total\":12.5",
                 "total is not an integer");
  expect_invalid(",\"kind\":\"refund\"" GOOD_UUID ",\"time_ms\":1,\"total\":\"-5\"",
                 "total is not an integer");
}

static void content_that_is_right_is_accepted(void **state) {
  (void)state;
  char why[TG__HQ_WHY_MAX];
  const char *const lines[] = {
      "{\"store\":\"S1\",\"terminal\":\"T1\",\"epoch\":1,\"seq\":1,\"kind\":\"refund\",\"uuid\":"
      "\"ABCDEF00-0000-4000-8000-000000000001\",\"time_ms\":0,\"total\":-500}",
      "{\"store\":\"S1\",\"terminal\":\"T1\",\"epoch\":1,\"seq\":2,\"kind\":\"void\",\"uuid\":"
      "\"" UUID(2) "\",\"time_ms\":3,\"total\":0}",
      "{\"store\":\"S1\",\"terminal\":\"T1\",\"epoch\":1,\"seq\":3,\"kind\":\"redeem\","
      "\"time_ms\":4}",
      /* key order is the record's own; nothing is re-encoded */
      "{\"time_ms\":9,\"seq\":4,\"total\":1,\"uuid\":\"" UUID(
          4) "\",\"kind\":\"sale\","
             "\"epoch\":1,\"terminal\":\"T1\",\"store\":\"S1\"}",
  };
  tg__hq_batch b;
  assert_int_equal(parse_lines(lines, 4, 1, 4, &b, why, sizeof why), TG__HQ_OK);
  for (int i = 0; i < 4; i++) {
    if (b.records[i].reject_status != NULL)
      fail_msg("record %d: %s", i + 1, b.records[i].reason);
    assert_int_equal(b.records[i].len, strlen(lines[i]));
    assert_memory_equal(b.records[i].body, lines[i], strlen(lines[i]));
  }
  assert_string_equal(b.records[0].kind, "refund");
  assert_int_equal(b.records[0].total, -500);
  assert_string_equal(b.records[0].uuid, "ABCDEF00-0000-4000-8000-000000000001");
  assert_string_equal(b.records[2].kind, "redeem");
  assert_string_equal(b.records[2].uuid, "");
  assert_int_equal(b.records[3].time_ms, 9);
  tg__hq_batch_free(&b);
}

/* A mix of accepted and invalid records in one batch keeps both, in order. */
static void invalid_records_do_not_refuse_the_batch(void **state) {
  (void)state;
  char l1[512], l3[512], why[TG__HQ_WHY_MAX];
  sale_line(l1, sizeof l1, 41);
  sale_line(l3, sizeof l3, 43);
  const char *const lines[] = {
      l1,
      "{\"store\":\"S1\",\"terminal\":\"T1\",\"epoch\":1,\"seq\":42,\"kind\":\"sale\",\"uuid\":"
      "\"" UUID(2) "\",\"time_ms\":1,\"total\":\"12.90\"}",
      l3};
  tg__hq_batch b;
  assert_int_equal(parse_lines(lines, 3, 41, 43, &b, why, sizeof why), TG__HQ_OK);
  assert_null(b.records[0].reject_status);
  assert_string_equal(b.records[1].reject_status, "invalid");
  assert_string_equal(b.records[1].reason, "total is not an integer");
  assert_int_equal(b.records[1].seq, 42);
  assert_null(b.records[2].reject_status);
  tg__hq_batch_free(&b);
}

/* The largest batch the protocol allows parses, and one record more is refused. */
static void ten_thousand_records(void **state) {
  (void)state;
  size_t cap = 10001 * 300, n = 0;
  char *z = malloc(cap), why[TG__HQ_WHY_MAX];
  assert_non_null(z);
  for (int64_t s = 100; s < 100 + 10000; s++) {
    sale_line(z + n, cap - n, s);
    n += strlen(z + n);
    z[n++] = '\n';
  }
  char *copy = malloc(n);
  assert_non_null(copy);
  memcpy(copy, z, n);
  tg__hq_key k = key_of(100, 100 + 9999);
  tg__hq_batch b;
  assert_int_equal(tg__hq_batch_parse(z, n, &k, &b, why, sizeof why), TG__HQ_OK);
  assert_int_equal(b.n, 10000);
  assert_int_equal(b.records[9999].seq, 10099);
  assert_ptr_equal(b.records[9999].body + b.records[9999].len + 1, b.text + n);
  tg__hq_batch_free(&b);
  k = key_of(100, 100 + 9998);
  assert_int_equal(tg__hq_batch_parse(copy, n, &k, &b, why, sizeof why), TG__HQ_RANGE);
  tg__hq_batch_free(&b);
}

int main(void) {
  if (sodium_init() < 0)
    return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(key_reads_the_protocol_form),
      cmocka_unit_test(key_refuses_malformed_as_400),
      cmocka_unit_test(key_refuses_out_of_range_as_422),
      cmocka_unit_test(batch_points_into_the_text),
      cmocka_unit_test(digest_is_the_bytes),
      cmocka_unit_test(batch_refuses_bad_lines_as_400),
      cmocka_unit_test(batch_refuses_another_terminal_as_403),
      cmocka_unit_test(batch_refuses_count_order_epoch_as_422),
      cmocka_unit_test(content_problems_are_invalid_records),
      cmocka_unit_test(content_that_is_right_is_accepted),
      cmocka_unit_test(invalid_records_do_not_refuse_the_batch),
      cmocka_unit_test(ten_thousand_records),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
