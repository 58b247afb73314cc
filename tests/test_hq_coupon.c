/* HQ's coupons: signed with a key derived from HQ's, proven by that key alone, fields kept. */
#include <sodium.h>
#include <string.h>

#include "helpers.h"
#include "hq.h"

static const int64_t T0 = INT64_C(1795339380000); /* 2026-11-22T12:03:00Z */

static void hq_coupon_is_proven_by_hqs_coupon_key_only(void **state) {
  unsigned char hq_pk[32], hq_sk[64], pk[32], sk[64], pk2[32];
  char text[TG__TOKEN_TEXT_MAX + 1];
  (void)state;
  crypto_sign_keypair(hq_pk, hq_sk);
  tg__hq_coupon c = {.campaign = 12, .kind = TG__COUPON_AMOUNT, .value = 1000, .min_spend = 5000,
                     .from_ms = T0, .until_ms = T0 + 30 * 86400000LL, .store = "S1",
                     .single_use = 1};
  int n = tg__hq_coupon_make(hq_sk, &c, text, sizeof text);
  assert_true(n > 0 && (size_t)n == strlen(text));
  assert_true(c.id > 0 && c.id < (UINT64_C(1) << 53));
  tg__hq_coupon_key(hq_sk, pk, sk);
  tg__hq_coupon_key(hq_sk, pk2, sk);
  assert_memory_equal(pk, pk2, 32); /* derived, not random */
  assert_memory_not_equal(pk, hq_pk, 32);
  tg__token_key keys[2] = {{TG__HQ_COUPON_KEY_ID, TG__TOKEN_COUPON, {0}},
                           {TG__HQ_COUPON_KEY_ID, TG__TOKEN_MEMBER, {0}}};
  memcpy(keys[0].key, pk, 32);
  memcpy(keys[1].key, hq_pk, 32);
  tg__token t;
  assert_int_equal(tg__token_decode(text, (size_t)n, keys, 2, &t), 0);
  assert_int_equal(t.type, TG__TOKEN_COUPON);
  assert_int_equal(t.coupon_id, c.id);
  assert_int_equal(t.campaign_id, 12);
  assert_int_equal(t.value, 1000);
  assert_int_equal(t.min_spend, 5000);
  assert_int_equal(t.issued_ms, T0);
  assert_int_equal(t.expires_ms, T0 + 30 * 86400000LL);
  assert_string_equal(t.store, "S1");
  assert_int_equal(t.single_use, 1);
  /* HQ's own key (or another HQ's coupon key) does not prove it */
  memcpy(keys[0].key, hq_pk, 32);
  assert_int_equal(tg__token_decode(text, (size_t)n, keys, 2, &t), TG_EFORGED);
  /* a given id is kept; a percent over 100 % and an empty validity are refused */
  c.id = 77;
  assert_true(tg__hq_coupon_make(hq_sk, &c, text, sizeof text) > 0);
  assert_int_equal(c.id, 77);
  tg__hq_coupon bad = c;
  bad.kind = TG__COUPON_PERCENT;
  bad.value = 10001;
  assert_int_equal(tg__hq_coupon_make(hq_sk, &bad, text, sizeof text), -1);
  bad = c;
  bad.until_ms = bad.from_ms;
  assert_int_equal(tg__hq_coupon_make(hq_sk, &bad, text, sizeof text), -1);
  assert_int_equal(tg__hq_coupon_make(hq_sk, &c, text, 20), -1); /* does not fit */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(hq_coupon_is_proven_by_hqs_coupon_key_only),
  };
  if (sodium_init() < 0)
    return 1;
  return cmocka_run_group_tests(tests, NULL, NULL);
}
