/* HQ's signature on nightly pull requests: made by HQ, checked by the terminal, every refusal. */
#include <sodium.h>
#include <string.h>

#include "helpers.h"
#include "sync.h"

static const int64_t NOW = INT64_C(1795339380000);

static void a_signed_pull_is_accepted_and_every_change_refused(void **state) {
  unsigned char pk[32], sk[64], other_pk[32], other_sk[64];
  char h[256], bad[320], why[128];
  (void)state;
  crypto_sign_keypair(pk, sk);
  crypto_sign_keypair(other_pk, other_sk);
  const char *target = "/v1/records?from=5&to=9";
  int n = tg__pull_sign(sk, "S1", "T1", "GET", target, NOW, h, sizeof h);
  assert_true(n > 0 && (size_t)n == strlen(h));
  assert_int_equal(tg__pull_check(pk, "S1", "T1", "GET", target, h, NOW + 60000, why, sizeof why), 0);
  /* another target, method, terminal, key; no header; another scheme */
  assert_int_equal(tg__pull_check(pk, "S1", "T1", "GET", "/v1/records?from=1&to=9", h, NOW, why,
                                  sizeof why), -1);
  assert_string_equal(why, "the signature is not HQ's");
  assert_int_equal(tg__pull_check(pk, "S1", "T1", "POST", target, h, NOW, why, sizeof why), -1);
  assert_int_equal(tg__pull_check(pk, "S1", "T2", "GET", target, h, NOW, why, sizeof why), -1);
  assert_string_equal(why, "the signature is not for S1-T2");
  assert_int_equal(tg__pull_check(other_pk, "S1", "T1", "GET", target, h, NOW, why, sizeof why), -1);
  assert_int_equal(tg__pull_check(pk, "S1", "T1", "GET", target, NULL, NOW, why, sizeof why), -1);
  assert_non_null(strstr(why, "only HQ may pull"));
  snprintf(bad, sizeof bad, "Bearer %s", h + 6);
  assert_int_equal(tg__pull_check(pk, "S1", "T1", "GET", target, bad, NOW, why, sizeof why), -1);
  /* the clock: 5 minutes either way, not more */
  assert_int_equal(tg__pull_check(pk, "S1", "T1", "GET", target, h, NOW + TG__PULL_SKEW_MS, why,
                                  sizeof why), 0);
  assert_int_equal(tg__pull_check(pk, "S1", "T1", "GET", target, h, NOW + TG__PULL_SKEW_MS + 1,
                                  why, sizeof why), -1);
  assert_int_equal(tg__pull_check(pk, "S1", "T1", "GET", target, h, NOW - TG__PULL_SKEW_MS - 1,
                                  why, sizeof why), -1);
  /* a changed time, a non-canonical last character, a cut signature, a leading zero */
  strcpy(bad, h);
  char *t = strstr(bad, ".1795339380000.");
  assert_non_null(t);
  t[13] = '1';
  assert_int_equal(tg__pull_check(pk, "S1", "T1", "GET", target, bad, NOW, why, sizeof why), -1);
  strcpy(bad, h);
  char *last = bad + strlen(bad) - 1;
  *last = *last == 'A' ? 'B' : (char)(*last ^ 1); /* the spare bits of the last character */
  assert_int_equal(tg__pull_check(pk, "S1", "T1", "GET", target, bad, NOW, why, sizeof why), -1);
  strcpy(bad, h);
  bad[strlen(bad) - 1] = '\0';
  assert_int_equal(tg__pull_check(pk, "S1", "T1", "GET", target, bad, NOW, why, sizeof why), -1);
  assert_string_equal(why, "the TG-HQ signature is malformed");
  snprintf(bad, sizeof bad, "TG-HQ S1.T1.0%s", strstr(h, ".1795") + 1);
  assert_int_equal(tg__pull_check(pk, "S1", "T1", "GET", target, bad, NOW, why, sizeof why), -1);
  /* a target too long to sign is refused by both */
  char longer[TG__PULL_TARGET_MAX + 2];
  memset(longer, 'a', sizeof longer - 1);
  longer[sizeof longer - 1] = '\0';
  assert_int_equal(tg__pull_sign(sk, "S1", "T1", "GET", longer, NOW, h, sizeof h), -1);
  assert_int_equal(tg__pull_sign(sk, "S1", "T1", "GET", target, NOW, h, 40), -1);
}

static void an_answer_mac_binds_the_request_and_the_body(void **state) {
  unsigned char k1[32], k2[32];
  char a[TG__PULL_MAC_TEXT], b[TG__PULL_MAC_TEXT];
  (void)state;
  memset(k1, 1, sizeof k1);
  memset(k2, 2, sizeof k2);
  tg__pull_mac(k1, "TG-HQ S1.T1.1.x", "{}\n", 3, a);
  assert_int_equal(strlen(a), TG__PULL_MAC_TEXT - 1);
  tg__pull_mac(k1, "TG-HQ S1.T1.1.x", "{}\n", 3, b);
  assert_string_equal(a, b);
  tg__pull_mac(k2, "TG-HQ S1.T1.1.x", "{}\n", 3, b);
  assert_string_not_equal(a, b);
  tg__pull_mac(k1, "TG-HQ S1.T1.2.x", "{}\n", 3, b);
  assert_string_not_equal(a, b);
  tg__pull_mac(k1, "TG-HQ S1.T1.1.x", "{} ", 3, b);
  assert_string_not_equal(a, b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(a_signed_pull_is_accepted_and_every_change_refused),
      cmocka_unit_test(an_answer_mac_binds_the_request_and_the_body),
  };
  if (sodium_init() < 0)
    return 1;
  return cmocka_run_group_tests(tests, NULL, NULL);
}
