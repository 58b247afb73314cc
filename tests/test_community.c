/* The community engine through the public API: bundle, scan routing, the bad-token table, invites, coupons, leases. */
#include <sodium.h>
#include <string.h>

#include "helpers.h"

#define HOUR_MS INT64_C(3600000)
#define DAY_MS (24 * HOUR_MS)

/* HQ's keys from the seeds of docs/tokens.md: member/referral key 1, coupon key 7. */
static unsigned char hq_pk[32], hq_sk[64], coupon_pk[32], coupon_sk[64];

static void make_keys(void) {
  unsigned char seed[32];
  for (int i = 0; i < 32; i++)
    seed[i] = (unsigned char)i;
  crypto_sign_seed_keypair(hq_pk, hq_sk, seed);
  seed[0] = 0xc0;
  crypto_sign_seed_keypair(coupon_pk, coupon_sk, seed);
}

/* A bundle for store S1 at version v: points, invites from 30.00, member 1234567 (tier 2,
 * lease 2000 points), new member 7654321, coupon 900002 revoked, coupon campaign 12 with a
 * lease of `lease` redemptions and 1 per member, a 10% dairy rule, a welcome coupon and a
 * referral campaign. */
static char *bundle(int version, const char *store, int lease) {
  static char z[4096];
  char h1[65], h2[65];
  sodium_bin2hex(h1, sizeof h1, hq_pk, 32);
  sodium_bin2hex(h2, sizeof h2, coupon_pk, 32);
  snprintf(z, sizeof z,
           "{\"format\":1,\"version\":%d,\"store\":\"%s\","
           "\"invite\":{\"min_spend\":3000,\"valid_days\":30,\"url\":\"HTTPS://HQ.EXAMPLE.COM/J/\"},"
           "\"points\":{\"point_value\":1,\"max_share_bp\":5000},"
           "\"keys\":[{\"id\":1,\"role\":\"member\",\"public_key\":\"%s\"},"
           "{\"id\":1,\"role\":\"referral\",\"public_key\":\"%s\"},"
           "{\"id\":7,\"role\":\"coupon\",\"public_key\":\"%s\"}],"
           "\"tiers\":[{\"tier\":2,\"name\":\"gold\",\"points_bp\":15000}],"
           "\"members\":[{\"id\":1234567,\"tier\":2,\"tags\":[\"vip\"],\"points_lease\":2000},"
           "{\"id\":7654321,\"tier\":0,\"new\":true}],"
           "\"revoked\":[900002],"
           "\"campaigns\":[{\"id\":1,\"type\":\"welcome\",\"name\":\"welcome\",\"coupon\":"
           "{\"kind\":\"amount\",\"value\":1000,\"min_spend\":5000,\"valid_days\":30}},"
           "{\"id\":3,\"type\":\"percent\",\"name\":\"dairy\",\"percent_bp\":1000,"
           "\"categories\":[\"dairy\"]},"
           "{\"id\":5,\"type\":\"referral\",\"off\":1000,\"min_spend\":5000,\"rebate\":800},"
           "{\"id\":12,\"type\":\"coupon\",\"name\":\"coupon\",\"lease\":\"L2\",\"quota\":%d,"
           "\"per_member\":1},{\"id\":9,\"type\":\"points\",\"per\":100,\"points\":1}]}",
           version, store, h1, h1, h2, lease);
  return z;
}

static int apply(tg_terminal *t, const char *json) { return tg_bundle_apply(t, json, strlen(json)); }

static int setup(void **state) {
  int rc = tt_setup(state);
  tt_fixture *f = *state;
  make_keys();
  return rc != 0 ? rc : apply(f->t, bundle(1, "S1", 100));
}

/* Tokens minted as HQ would, valid from an hour ago. */
static void member_code(uint64_t id, char *out) {
  int64_t now = tg__now_ms();
  tg__token k = {.type = TG__TOKEN_MEMBER, .key_id = 1, .member_id = id, .tier = 0,
                 .issued_ms = now - HOUR_MS, .expires_ms = now + DAY_MS};
  assert_true(tg__token_encode(&k, hq_sk, out, TG__TOKEN_TEXT_MAX + 1) > 0);
}

static tg__token coupon_token(uint64_t id) {
  int64_t now = tg__now_ms();
  return (tg__token){.type = TG__TOKEN_COUPON, .key_id = 7, .coupon_id = id, .campaign_id = 12,
                     .coupon_kind = TG__COUPON_AMOUNT, .value = 1000, .min_spend = 5000,
                     .issued_ms = now - HOUR_MS, .expires_ms = now + DAY_MS, .single_use = 1};
}

static void coupon_code(const tg__token *k, char *out) {
  assert_true(tg__token_encode(k, coupon_sk, out, TG__TOKEN_TEXT_MAX + 1) > 0);
}

/* A sale of milk (category dairy) worth amount, under uuid number i, with codes. */
static int sell(tg_terminal *t, uint64_t i, int64_t amount, const char *const *codes, int n,
                char *receipt) {
  char uuid[TG_UUID_LEN + 1];
  tg_sale *s;
  tg_code c;
  tg_totals tot;
  tg_line milk = {"6901", "milk", 1000, amount, 0, "dairy"};
  tt_uuid(i, uuid);
  int rc = tg_sale_begin(t, uuid, &s);
  if (rc == 0)
    rc = tg_sale_add_line(s, &milk);
  for (int k = 0; rc == 0 && k < n; k++)
    rc = tg_sale_apply_code(s, codes[k], strlen(codes[k]), &c);
  if (rc == 0)
    rc = tg_sale_get_totals(s, &tot);
  if (rc == 0)
    rc = tg_sale_add_tender(s, TG_TENDER_CASH, tot.total, NULL);
  if (rc == 0)
    rc = tg_sale_commit(s, receipt);
  tg_sale_free(s);
  return rc;
}

static void bad_tokens_are_refused_each_with_its_code(void **state) {
  tt_fixture *f = *state;
  char good[TG__TOKEN_TEXT_MAX + 1], text[TG__TOKEN_TEXT_MAX + 1], big[10241];
  unsigned char bin[TG__TOKEN_BINARY_MAX], other_pk[32], other_sk[64];
  size_t n;
  tg_code c;
  tg__token k = coupon_token(900001);
  coupon_code(&k, good);
  crypto_sign_keypair(other_pk, other_sk);
  struct {
    const char *what;
    char text[TG_CODE_MAX + 64];
    int code;
  } rows[24];
  int n_rows = 0;
#define ROW(w, c) (rows[n_rows].what = (w), rows[n_rows].code = (c), rows[n_rows++].text)
  tg__token_encode(&k, other_sk, ROW("forged signature", TG_EFORGED), sizeof rows[0].text);
  tg__base45_decode(good, strlen(good), bin, &n);
  bin[12] ^= 0x01;
  tg__base45_encode(bin, n, ROW("one flipped bit", TG_EFORGED));
  snprintf(ROW("truncated", TG_ETOKEN), sizeof rows[0].text, "%.*s", (int)strlen(good) - 3, good);
  snprintf(ROW("extended", TG_ETOKEN), sizeof rows[0].text, "%s000", good);
  tg__token wrong = k;
  wrong.key_id = 8;
  tg__token_encode(&wrong, coupon_sk, ROW("wrong key id", TG_EKEY), sizeof rows[0].text);
  tg__base45_decode(good, strlen(good), bin, &n);
  bin[0] = 2;
  tg__base45_encode(bin, n, ROW("unknown version", TG_EVERSION));
  tg__token old = k;
  old.issued_ms -= 3 * DAY_MS;
  old.expires_ms = tg__now_ms() - HOUR_MS;
  coupon_code(&old, ROW("expired", TG_EEXPIRED));
  tg__token early = k;
  early.issued_ms = tg__now_ms() + DAY_MS;
  early.expires_ms = early.issued_ms + DAY_MS;
  coupon_code(&early, ROW("not yet valid", TG_ENOTYET));
  tg__token elsewhere = k;
  memcpy(elsewhere.store, "S2", 3);
  coupon_code(&elsewhere, ROW("wrong store", TG_EWRONGSTORE));
  tg__token revoked = coupon_token(900002);
  coupon_code(&revoked, ROW("revoked", TG_EREVOKED));
  tg__token campaign = k;
  campaign.campaign_id = 99;
  coupon_code(&campaign, ROW("campaign not running", TG_ECAMPAIGN));
  snprintf(text, sizeof text, "%s", good);
  for (char *p = text; *p; p++)
    if (*p >= 'A' && *p <= 'Z')
      *p = (char)(*p - 'A' + 'a');
  snprintf(ROW("lower-case Base45", TG_ETOKEN), sizeof rows[0].text, "%s", text);
  snprintf(ROW("characters outside Base45", TG_ETOKEN), sizeof rows[0].text, "%.*s#%s", 10,
           good, good + 11);
  ROW("empty", TG_EUNKNOWNCODE)[0] = '\0';
  snprintf(ROW("EAN-13 misread", TG_ECHECKDIGIT), sizeof rows[0].text, "6901234567893");
  snprintf(ROW("a web address", TG_EUNKNOWNCODE), sizeof rows[0].text, "HTTPS://EXAMPLE.COM/X");
  uint64_t before = tt_fingerprint(f->path);
  for (int i = 0; i < n_rows; i++) {
    int rc = tg_code_read(f->t, rows[i].text, strlen(rows[i].text), &c);
    if (rc != rows[i].code)
      fail_msg("%s: %s, expected %s (%s)", rows[i].what, tg_err_name(rc),
               tg_err_name(rows[i].code), tg_last_detail(f->t));
    assert_true(strlen(tg_cashier_message(rc, "zh")) > 0);
  }
  memset(big, 'A', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  assert_int_equal(tg_code_read(f->t, big, strlen(big), &c), TG_EUNKNOWNCODE); /* 10 KB */
  assert_int_equal(tg_code_read(f->t, good, strlen(good), &c), 0);
  assert_int_equal(c.kind, TG_CODE_COUPON);
  assert_int_equal(tt_fingerprint(f->path), before); /* nothing recorded */
}

static void a_coupon_is_spent_once_and_a_retry_is_answered(void **state) {
  tt_fixture *f = *state;
  char code[TG__TOKEN_TEXT_MAX + 1], r1[TG_RECEIPT_MAX], r2[TG_RECEIPT_MAX];
  tg__token k = coupon_token(900001);
  const char *codes[] = {code};
  tg_code c;
  coupon_code(&k, code);
  TT_OK(f->t, sell(f->t, 1, 8000, codes, 1, r1));
  TT_OK(f->t, sell(f->t, 1, 8000, codes, 1, r2)); /* the same sale retried */
  assert_string_equal(r1, r2);
  uint64_t before = tt_fingerprint(f->path);
  assert_int_equal(sell(f->t, 2, 8000, codes, 1, r2), TG_ESPENT);
  assert_int_equal(tg_code_read(f->t, code, strlen(code), &c), TG_ESPENT);
  assert_int_equal(tt_fingerprint(f->path), before);
  tg_receipt *r;
  TT_OK(f->t, tg_receipt_load(f->t, r1, &r));
  assert_int_equal(r->totals.promotion, 800 + 1000); /* 10% dairy, then the coupon 10.00 */
  assert_int_equal(r->totals.total, 8000 - 1800);
  assert_int_equal(r->n_promotions, 2);
  assert_string_equal(r->promotions[1].name, "coupon");
  tg_receipt_free(r);
}

static void a_coupon_below_its_minimum_spend_is_refused(void **state) {
  tt_fixture *f = *state;
  char code[TG__TOKEN_TEXT_MAX + 1], receipt[TG_RECEIPT_MAX];
  tg__token k = coupon_token(900005);
  const char *codes[] = {code};
  coupon_code(&k, code);
  uint64_t before = tt_fingerprint(f->path);
  /* 55.00 less 10% is 49.50: below the coupon's 50.00 */
  assert_int_equal(sell(f->t, 3, 5500, codes, 1, receipt), TG_EMINSPEND);
  assert_int_equal(tt_fingerprint(f->path), before);
  TT_OK(f->t, sell(f->t, 3, 5600, codes, 1, receipt)); /* 50.40 */
}

static void the_lease_and_the_per_member_limit_hold(void **state) {
  tt_fixture *f = *state;
  char c1[TG__TOKEN_TEXT_MAX + 1], c2[TG__TOKEN_TEXT_MAX + 1], c3[TG__TOKEN_TEXT_MAX + 1];
  char member[TG__TOKEN_TEXT_MAX + 1], receipt[TG_RECEIPT_MAX];
  tg__token k1 = coupon_token(1), k2 = coupon_token(2), k3 = coupon_token(3);
  tg_code c;
  TT_OK(f->t, apply(f->t, bundle(2, "S1", 2))); /* two redemptions leased */
  coupon_code(&k1, c1);
  coupon_code(&k2, c2);
  coupon_code(&k3, c3);
  member_code(1234567, member);
  const char *first[] = {member, c1}, *second[] = {member, c2}, *third[] = {c2}, *fourth[] = {c3};
  TT_OK(f->t, sell(f->t, 10, 9000, first, 2, receipt));
  assert_int_equal(sell(f->t, 11, 9000, second, 2, receipt), TG_ELIMIT); /* 1 per member */
  TT_OK(f->t, sell(f->t, 12, 9000, third, 1, receipt));                 /* anyone else */
  assert_int_equal(sell(f->t, 13, 9000, fourth, 1, receipt), TG_ELEASE); /* lease used up */
  assert_int_equal(tg_code_read(f->t, c3, strlen(c3), &c), TG_ELEASE);
}

static void invites_go_only_to_buyers_over_the_threshold_without_a_member(void **state) {
  tt_fixture *f = *state;
  char member[TG__TOKEN_TEXT_MAX + 1], r1[TG_RECEIPT_MAX], r2[TG_RECEIPT_MAX],
      r3[TG_RECEIPT_MAX];
  const char *codes[] = {member};
  tg_receipt *r;
  tg_code c;
  member_code(1234567, member);
  TT_OK(f->t, sell(f->t, 20, 3000, NULL, 0, r1));   /* 27.00 after 10%: below 30.00 */
  TT_OK(f->t, sell(f->t, 21, 4000, NULL, 0, r2));   /* 36.00 */
  TT_OK(f->t, sell(f->t, 22, 9000, codes, 1, r3));  /* a member: no invite */
  TT_OK(f->t, tg_receipt_load(f->t, r1, &r));
  assert_string_equal(r->invite, "");
  tg_receipt_free(r);
  TT_OK(f->t, tg_receipt_load(f->t, r3, &r));
  assert_string_equal(r->invite, "");
  assert_int_equal(r->member, 1234567);
  assert_int_equal(r->points_earned, 81 * 15 / 10); /* 81.00 paid, gold x1.5 */
  tg_receipt_free(r);
  TT_OK(f->t, tg_receipt_load(f->t, r2, &r));
  assert_true(strlen(r->invite) > 40);
  assert_true(r->invite_expires_ms > tg__now_ms() + 29 * DAY_MS);
  /* HQ proves it with the terminal's secret; at the till it is for the phone */
  assert_int_equal(tg_code_read(f->t, r->invite, strlen(r->invite), &c), TG_EINVITE);
  assert_int_equal(c.kind, TG_CODE_INVITE);
  assert_string_equal(c.store, "S1");
  char url[256];
  TT_OK(f->t, tg__invite_url("HTTPS://HQ.EXAMPLE.COM/J/", r->invite, url, sizeof url));
  assert_int_equal(tg_code_read(f->t, url, strlen(url), &c), TG_EINVITE);
  assert_int_equal((int64_t)c.receipt_no, 2);
  tg_receipt_free(r);
}

static void a_new_member_gets_one_welcome_coupon_signed_by_this_till(void **state) {
  tt_fixture *f = *state;
  char member[TG__TOKEN_TEXT_MAX + 1], r1[TG_RECEIPT_MAX], r2[TG_RECEIPT_MAX];
  const char *codes[] = {member};
  tg_receipt *r;
  tg_code c;
  member_code(7654321, member);
  TT_OK(f->t, sell(f->t, 30, 2000, codes, 1, r1));
  TT_OK(f->t, sell(f->t, 31, 2000, codes, 1, r2));
  TT_OK(f->t, tg_receipt_load(f->t, r2, &r));
  assert_string_equal(r->coupon, ""); /* once per member */
  tg_receipt_free(r);
  TT_OK(f->t, tg_receipt_load(f->t, r1, &r));
  assert_true(strlen(r->coupon) > 40);
  assert_int_equal(r->coupon_value, 1000);
  assert_int_equal(r->coupon_min_spend, 5000);
  /* signed with the till's own key, which it accepts: redeemable by the welcome campaign's terms */
  TT_OK(f->t, tg_code_read(f->t, r->coupon, strlen(r->coupon), &c));
  assert_int_equal(c.kind, TG_CODE_COUPON);
  assert_int_equal(c.campaign, 1);
  char coupon[TG_CODE_MAX + 1], r3[TG_RECEIPT_MAX];
  snprintf(coupon, sizeof coupon, "%s", r->coupon);
  tg_receipt_free(r);
  const char *spend[] = {coupon};
  assert_int_equal(sell(f->t, 32, 5000, spend, 1, r3), TG_EMINSPEND); /* 45.00 after 10% */
  TT_OK(f->t, sell(f->t, 33, 6000, spend, 1, r3));
  TT_OK(f->t, tg_receipt_load(f->t, r3, &r));
  assert_int_equal(r->totals.total, 5400 - 1000);
  tg_receipt_free(r);
  assert_int_equal(sell(f->t, 34, 6000, spend, 1, r3), TG_ESPENT);
}

/* A welcome coupon as HQ's join page issues it (here with key 7) is redeemed once at the
 * till, and one promising more than the welcome campaign's terms is refused. */
static void a_welcome_coupon_from_hq_is_redeemed_by_its_campaigns_terms(void **state) {
  tt_fixture *f = *state;
  char good[TG__TOKEN_TEXT_MAX + 1], more[TG__TOKEN_TEXT_MAX + 1], lower[TG__TOKEN_TEXT_MAX + 1],
      receipt[TG_RECEIPT_MAX];
  tg_code c;
  tg__token k = coupon_token(910001);
  k.campaign_id = 1; /* the welcome campaign: 10.00 off from 50.00 */
  coupon_code(&k, good);
  k.coupon_id = 910002;
  k.value = 2000;
  coupon_code(&k, more);
  k.coupon_id = 910003;
  k.value = 1000;
  k.min_spend = 100;
  coupon_code(&k, lower);
  TT_OK(f->t, tg_code_read(f->t, good, strlen(good), &c));
  assert_int_equal(tg_code_read(f->t, more, strlen(more), &c), TG_ECAMPAIGN);
  assert_int_equal(tg_code_read(f->t, lower, strlen(lower), &c), TG_ECAMPAIGN);
  uint64_t before = tt_fingerprint(f->path);
  const char *bad[] = {more};
  assert_int_equal(sell(f->t, 50, 9000, bad, 1, receipt), TG_ECAMPAIGN);
  assert_int_equal(tt_fingerprint(f->path), before);
  const char *codes[] = {good};
  TT_OK(f->t, sell(f->t, 51, 9000, codes, 1, receipt));
  tg_receipt *r;
  TT_OK(f->t, tg_receipt_load(f->t, receipt, &r));
  assert_int_equal(r->totals.total, 9000 - 900 - 1000);
  tg_receipt_free(r);
  assert_int_equal(sell(f->t, 52, 9000, codes, 1, receipt), TG_ESPENT);
}

static void a_referral_is_for_a_new_buyer(void **state) {
  tt_fixture *f = *state;
  char ref[TG__TOKEN_TEXT_MAX + 1], member[TG__TOKEN_TEXT_MAX + 1], receipt[TG_RECEIPT_MAX];
  int64_t now = tg__now_ms();
  tg__token k = {.type = TG__TOKEN_REFERRAL, .key_id = 1, .member_id = 1234567,
                 .issued_ms = now - HOUR_MS, .expires_ms = now + DAY_MS};
  assert_true(tg__token_encode(&k, hq_sk, ref, sizeof ref) > 0);
  member_code(1234567, member);
  const char *with_member[] = {member, ref}, *alone[] = {ref};
  assert_int_equal(sell(f->t, 40, 9000, with_member, 2, receipt), TG_EREFERRAL);
  TT_OK(f->t, sell(f->t, 41, 9000, alone, 1, receipt));
  tg_receipt *r;
  TT_OK(f->t, tg_receipt_load(f->t, receipt, &r));
  assert_int_equal(r->totals.total, 9000 - 900 - 1000);
  tg_receipt_free(r);
}

static void points_pay_only_within_the_lease(void **state) {
  tt_fixture *f = *state;
  char member[TG__TOKEN_TEXT_MAX + 1], uuid[TG_UUID_LEN + 1], receipt[TG_RECEIPT_MAX];
  tg_line tea = {"TEA", "tea", 1000, 10000, 0, NULL};
  tg_sale *s;
  tg_code c;
  member_code(1234567, member);
  for (int round = 0; round < 2; round++) {
    tt_uuid(50 + (uint64_t)round, uuid);
    TT_OK(f->t, tg_sale_begin(f->t, uuid, &s));
    TT_OK(f->t, tg_sale_add_line(s, &tea));
    TT_OK(f->t, tg_sale_apply_code(s, member, strlen(member), &c));
    TT_OK(f->t, tg_sale_add_tender(s, TG_TENDER_POINTS, 1500, NULL));
    TT_OK(f->t, tg_sale_add_tender(s, TG_TENDER_CASH, 8500, NULL));
    int rc = tg_sale_commit(s, receipt);
    tg_sale_free(s);
    assert_int_equal(rc, round == 0 ? 0 : TG_ELEASE); /* 2000 leased: 1500, then 500 left */
  }
  TT_OK(f->t, tg_code_read(f->t, member, strlen(member), &c));
  assert_int_equal(c.points_available, 500);
}

static void a_bad_older_or_foreign_bundle_leaves_the_one_in_force(void **state) {
  tt_fixture *f = *state;
  tg_bundle_info in;
  uint64_t before = tt_fingerprint(f->path);
  assert_int_equal(apply(f->t, "{\"format\":1}"), TG_EBUNDLE);
  assert_int_equal(apply(f->t, bundle(1, "S2", 100)), TG_EBUNDLE);
  assert_non_null(strstr(tg_last_detail(f->t), "store S2"));
  TT_OK(f->t, apply(f->t, bundle(1, "S1", 100))); /* the one in force again: nothing changes */
  assert_int_equal(tt_fingerprint(f->path), before);
  TT_OK(f->t, apply(f->t, bundle(3, "*", 100)));
  assert_int_equal(apply(f->t, bundle(2, "S1", 100)), TG_EBUNDLE);
  assert_non_null(strstr(tg_last_detail(f->t), "older"));
  TT_OK(f->t, tg_bundle_get_info(f->t, &in));
  assert_int_equal(in.version, 3);
  assert_int_equal(in.n_members, 2);
  assert_int_equal(in.n_campaigns, 5);
}

static void a_coupon_redeemed_outside_a_sale_is_its_own_record(void **state) {
  tt_fixture *f = *state;
  char code[TG__TOKEN_TEXT_MAX + 1], uuid[TG_UUID_LEN + 1];
  tg__token k = coupon_token(777);
  tg_code c;
  tg_status st;
  coupon_code(&k, code);
  tt_uuid(60, uuid);
  TT_OK(f->t, tg_coupon_redeem(f->t, uuid, code, strlen(code), &c));
  TT_OK(f->t, tg_coupon_redeem(f->t, uuid, code, strlen(code), &c)); /* retried */
  TT_OK(f->t, tg_status_get(f->t, &st));
  assert_int_equal(st.last_seq, 1);
  tt_uuid(61, uuid);
  assert_int_equal(tg_coupon_redeem(f->t, uuid, code, strlen(code), &c), TG_ESPENT);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(bad_tokens_are_refused_each_with_its_code, setup, tt_teardown),
      cmocka_unit_test_setup_teardown(a_coupon_is_spent_once_and_a_retry_is_answered, setup, tt_teardown),
      cmocka_unit_test_setup_teardown(a_coupon_below_its_minimum_spend_is_refused, setup, tt_teardown),
      cmocka_unit_test_setup_teardown(the_lease_and_the_per_member_limit_hold, setup, tt_teardown),
      cmocka_unit_test_setup_teardown(invites_go_only_to_buyers_over_the_threshold_without_a_member, setup, tt_teardown),
      cmocka_unit_test_setup_teardown(a_new_member_gets_one_welcome_coupon_signed_by_this_till, setup, tt_teardown),
      cmocka_unit_test_setup_teardown(a_welcome_coupon_from_hq_is_redeemed_by_its_campaigns_terms, setup, tt_teardown),
      cmocka_unit_test_setup_teardown(a_referral_is_for_a_new_buyer, setup, tt_teardown),
      cmocka_unit_test_setup_teardown(points_pay_only_within_the_lease, setup, tt_teardown),
      cmocka_unit_test_setup_teardown(a_bad_older_or_foreign_bundle_leaves_the_one_in_force, setup, tt_teardown),
      cmocka_unit_test_setup_teardown(a_coupon_redeemed_outside_a_sale_is_its_own_record, setup, tt_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
