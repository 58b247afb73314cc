/*
 * HQ's reconciliation on records made by real terminals (S1/T1, S1/T2,
 * S2/T1, each its own SQLite ledger under one bundle HQ published) and
 * stored through the real ingest, on SQLite, or on PostgreSQL when
 * TG_TEST_HQ names one (tests/run.sh). The tests run in order on one HQ.
 */
#include <jansson.h>
#include <libpq-fe.h>
#include <sodium.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "helpers.h"
#include "hq_process.h"
#include "hq.h"

#define HOUR_MS INT64_C(3600000)
#define DAY_MS (24 * HOUR_MS)

enum { S1T1, S1T2, S2T1, N_TERMINALS };

typedef struct {
  char *dir;
  char spec[4200];
  const tg__hq_backend *be;
  tg__hq_db *db;
  unsigned char hq_pk[32], hq_sk[64];
  tg_terminal *t[N_TERMINALS];
  char path[N_TERMINALS][4300];
  char bundle[8192];
  int64_t start_ms, close_ms; /* when the sales were made; when the group buy closes */
  char reused[2][TG_RECEIPT_MAX], refunded[TG_RECEIPT_MAX];
  uint64_t reused_coupon, redeemed_coupon;
} fixture;

static const char *const ids[N_TERMINALS][2] = {{"S1", "T1"}, {"S1", "T2"}, {"S2", "T1"}};

static void rfc3339(int64_t ms, char out[32]) {
  time_t s = (time_t)(ms / 1000);
  struct tm tm;
  gmtime_r(&s, &tm);
  strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The bundle for every store: HQ's member, referral and coupon keys; members 1001-1005; a
 * referral rebate of 8.00 (id 5); a group buy of TEA closing at close_ms (id 6: 2 members
 * 90.00, 3 members 85.00, 5 members 75.00, none joined yet); a flash sale of 6902 at 9.90 all
 * day with 3 units leased to each store (id 7); coupon campaign 12. */
static void make_bundle(fixture *f) {
  unsigned char cpk[32], csk[64];
  char hq[65], coupon[65], until[32];
  tg__hq_coupon_key(f->hq_sk, cpk, csk);
  sodium_bin2hex(hq, sizeof hq, f->hq_pk, 32);
  sodium_bin2hex(coupon, sizeof coupon, cpk, 32);
  rfc3339(f->close_ms, until);
  snprintf(f->bundle, sizeof f->bundle,
           "{\"format\":1,\"version\":1,\"store\":\"*\","
           "\"keys\":[{\"id\":1,\"role\":\"member\",\"public_key\":\"%s\"},"
           "{\"id\":1,\"role\":\"referral\",\"public_key\":\"%s\"},"
           "{\"id\":%d,\"role\":\"coupon\",\"public_key\":\"%s\"}],"
           "\"members\":[{\"id\":1001},{\"id\":1002},{\"id\":1003},{\"id\":1004},"
           "{\"id\":1005}],"
           "\"campaigns\":[{\"id\":5,\"type\":\"referral\",\"off\":500,\"rebate\":800},"
           "{\"id\":6,\"type\":\"group_buy\",\"group\":\"GB1\",\"sku\":\"TEA\",\"until\":\"%s\","
           "\"tiers\":[{\"size\":2,\"price\":9000},{\"size\":3,\"price\":8500},"
           "{\"size\":5,\"price\":7500}]},"
           "{\"id\":7,\"type\":\"flash\",\"sku\":\"6902\",\"price\":990,\"lease\":\"L1\","
           "\"quota\":3,\"windows\":[{\"days\":[\"mon\",\"tue\",\"wed\",\"thu\",\"fri\",\"sat\","
           "\"sun\"],\"from\":\"00:00\",\"to\":\"24:00\"}]},"
           "{\"id\":12,\"type\":\"coupon\",\"lease\":\"L2\",\"quota\":100}]}",
           hq, hq, TG__HQ_COUPON_KEY_ID, coupon, until);
  sodium_memzero(csk, sizeof csk);
}

static void member_code(const fixture *f, uint64_t id, char *out) {
  tg__token k = {.type = TG__TOKEN_MEMBER, .key_id = 1, .member_id = id,
                 .issued_ms = f->start_ms - HOUR_MS, .expires_ms = f->start_ms + DAY_MS};
  assert_true(tg__token_encode(&k, f->hq_sk, out, TG__TOKEN_TEXT_MAX + 1) > 0);
}

static void referral_code(const fixture *f, uint64_t id, char *out) {
  tg__token k = {.type = TG__TOKEN_REFERRAL, .key_id = 1, .member_id = id,
                 .issued_ms = f->start_ms - HOUR_MS, .expires_ms = f->start_ms + DAY_MS};
  assert_true(tg__token_encode(&k, f->hq_sk, out, TG__TOKEN_TEXT_MAX + 1) > 0);
}

/* A committed sale of one line (sku at price, qty thousandths) with codes scanned. */
static void sell(tg_terminal *t, uint64_t i, const char *sku, int64_t qty, int64_t price,
                 const char *const *codes, int n, char *receipt) {
  char uuid[TG_UUID_LEN + 1];
  tg_sale *s;
  tg_code c;
  tg_totals tot;
  tg_line line = {sku, "item", qty, price, 0, NULL};
  tt_uuid(i, uuid);
  TT_OK(t, tg_sale_begin(t, uuid, &s));
  TT_OK(t, tg_sale_add_line(s, &line));
  for (int k = 0; k < n; k++)
    TT_OK(t, tg_sale_apply_code(s, codes[k], strlen(codes[k]), &c));
  TT_OK(t, tg_sale_get_totals(s, &tot));
  TT_OK(t, tg_sale_add_tender(s, TG_TENDER_CASH, tot.total, NULL));
  TT_OK(t, tg_sale_commit(s, receipt));
  tg_sale_free(s);
}

/* Uploads every record of terminal i to HQ as one batch through the ingest uploads use. */
static void upload(fixture *f, int i) {
  sqlite3 *db;
  sqlite3_stmt *st;
  tg__buf text = {0};
  int64_t n = 0, epoch = 0;
  assert_int_equal(sqlite3_open_v2(f->path[i], &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_prepare_v2(db, "SELECT body FROM record ORDER BY seq", -1, &st, NULL),
                   SQLITE_OK);
  while (sqlite3_step(st) == SQLITE_ROW) {
    const char *body = (const char *)sqlite3_column_text(st, 0);
    if (n++ == 0) {
      json_t *o = json_loads(body, 0, NULL);
      epoch = json_integer_value(json_object_get(o, "epoch"));
      json_decref(o);
    }
    assert_int_equal(tg__buf_add(&text, body, strlen(body)), 0);
    assert_int_equal(tg__buf_add(&text, "\n", 1), 0);
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  char key[64], why[TG__HQ_WHY_MAX];
  tg__hq_key k;
  tg__hq_batch b;
  tg__hq_ack ack;
  snprintf(key, sizeof key, "%s-%s:%lld:1-%lld", ids[i][0], ids[i][1], (long long)epoch,
           (long long)n);
  assert_int_equal(tg__hq_key_parse(key, &k, why, sizeof why), TG__HQ_OK);
  char *z = malloc(text.n + 1);
  memcpy(z, text.p, text.n);
  if (tg__hq_batch_parse(z, text.n, &k, &b, why, sizeof why) != TG__HQ_OK)
    fail_msg("%s: %s", key, why);
  if (f->be->ingest(f->db, &b, tg__hq_now_ms(), &ack, why, sizeof why) != TG__HQ_OK)
    fail_msg("ingest %s: %s", key, why);
  assert_int_equal(ack.acked_through, n);
  assert_int_equal(ack.n_rejected, 0);
  tg__hq_ack_free(&ack);
  tg__hq_batch_free(&b);
  tg__buf_free(&text);
}

/* The day's trade at three terminals. */
static void trade(fixture *f) {
  char receipt[TG_RECEIPT_MAX], code[5][TG__TOKEN_TEXT_MAX + 1], token[TG__HQ_TOKEN_MAX];
  /* one single-use HQ coupon, 5.00 off, spent at S1 and, offline, again at S2 */
  tg__hq_coupon c = {.campaign = 12, .kind = TG__COUPON_AMOUNT, .value = 500,
                     .from_ms = f->start_ms - HOUR_MS, .until_ms = f->start_ms + DAY_MS,
                     .single_use = 1};
  assert_true(tg__hq_coupon_make(f->hq_sk, &c, token, sizeof token) > 0);
  f->reused_coupon = c.id;
  const char *coupon[] = {token};
  sell(f->t[S1T1], 1, "MILK", 1000, 2000, coupon, 1, f->reused[0]);
  sell(f->t[S2T1], 1, "MILK", 1000, 3000, coupon, 1, f->reused[1]);
  /* the flash sale: 3 units leased to S1, but each till sees only its own sales */
  sell(f->t[S1T1], 2, "6902", 2000, 1500, NULL, 0, receipt);
  sell(f->t[S1T2], 2, "6902", 2000, 1500, NULL, 0, receipt);
  sell(f->t[S2T1], 2, "6902", 1000, 1500, NULL, 0, receipt); /* S2 within its lease */
  /* a new buyer referred by member 1001 */
  referral_code(f, 1001, code[0]);
  const char *ref[] = {code[0]};
  sell(f->t[S1T1], 3, "MILK", 1000, 6000, ref, 1, receipt);
  /* three members join group buy 6 at S1's two tills, one at S2: each pays the first tier,
   * 90.00; each store's group is its own, so S1's reaches 3 and S2's 1 */
  member_code(f, 1002, code[1]);
  member_code(f, 1003, code[2]);
  member_code(f, 1004, code[3]);
  member_code(f, 1005, code[4]);
  const char *m2[] = {code[1]}, *m3[] = {code[2]}, *m4[] = {code[3]}, *m5[] = {code[4]};
  sell(f->t[S1T1], 4, "TEA", 2000, 10000, m2, 1, receipt);
  sell(f->t[S1T2], 4, "TEA", 1000, 10000, m3, 1, receipt);
  sell(f->t[S1T2], 8, "TEA", 1500, 10000, m5, 1, receipt);
  sell(f->t[S2T1], 4, "TEA", 1500, 10000, m4, 1, receipt);
  /* a second referred sale, refunded: it earns member 1002 nothing */
  referral_code(f, 1002, code[0]);
  sell(f->t[S2T1], 5, "MILK", 1000, 6000, ref, 1, f->refunded);
  tg_sale *r;
  char uuid[TG_UUID_LEN + 1];
  tt_uuid(6, uuid);
  TT_OK(f->t[S2T1], tg_refund_begin(f->t[S2T1], uuid, f->refunded, &r));
  TT_OK(f->t[S2T1], tg_refund_add_all(r));
  TT_OK(f->t[S2T1], tg_sale_commit(r, receipt));
  tg_sale_free(r);
  /* a coupon spent on a sale at S1/T1 and handed over again at S1/T2's counter */
  tg__hq_coupon g = {.campaign = 12, .kind = TG__COUPON_AMOUNT, .value = 300,
                     .from_ms = f->start_ms - HOUR_MS, .until_ms = f->start_ms + DAY_MS,
                     .single_use = 1};
  assert_true(tg__hq_coupon_make(f->hq_sk, &g, token, sizeof token) > 0);
  f->redeemed_coupon = g.id;
  sell(f->t[S1T1], 7, "MILK", 1000, 2000, coupon, 1, receipt);
  tg_code out;
  tt_uuid(7, uuid);
  TT_OK(f->t[S1T2], tg_coupon_redeem(f->t[S1T2], uuid, token, strlen(token), &out));
  for (int i = 0; i < N_TERMINALS; i++)
    upload(f, i);
}

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  char why[TG__HQ_WHY_MAX], dir[4200], detail[256], sig[TG__BUNDLE_SIG_TEXT];
  unsigned char hash[32] = {1}, key[32] = {2};
  f->dir = tt_tmpdir();
  tt_hq_spec(f->dir, f->spec, sizeof f->spec);
  f->be = tg__hq_backend_for(f->spec, why, sizeof why);
  assert_non_null(f->be);
  if (f->be->open(f->spec, &f->db, why, sizeof why) != TG__HQ_OK)
    fail_msg("open %s: %s", f->spec, why);
  assert_int_equal(f->be->signing_key(f->db, f->hq_pk, f->hq_sk, why, sizeof why), TG__HQ_OK);
  f->start_ms = tg__now_ms();
  f->close_ms = (f->start_ms / 60000 + 60) * 60000; /* an hour on, to the minute */
  make_bundle(f);
  tg__bundle_sig_make(f->hq_sk, f->bundle, strlen(f->bundle), sig);
  assert_int_equal(f->be->bundle_put(f->db, 1, "*", f->bundle, strlen(f->bundle), sig, why,
                                     sizeof why),
                   TG__HQ_OK);
  for (int i = 0; i < N_TERMINALS; i++) {
    tg_terminal_config cfg = {ids[i][0], ids[i][1], "CNY", "Asia/Shanghai"};
    snprintf(dir, sizeof dir, "%s/%s%s", f->dir, ids[i][0], ids[i][1]);
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(f->path[i], sizeof f->path[i], "%s/t.db", dir);
    if (tg_terminal_init(f->path[i], &cfg, detail, sizeof detail) != 0)
      fail_msg("init: %s", detail);
    TT_OK(NULL, tg_terminal_open(f->path[i], &f->t[i]));
    TT_OK(f->t[i], tg_bundle_apply(f->t[i], f->bundle, strlen(f->bundle)));
    assert_int_equal(f->be->enrol(f->db, ids[i][0], ids[i][1], hash, key, why, sizeof why),
                     TG__HQ_OK);
  }
  trade(f);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  for (int i = 0; i < N_TERMINALS; i++)
    tg_terminal_close(f->t[i]);
  f->be->close(f->db);
  tt_rmtree(f->dir);
  free(f);
  return 0;
}

#define FINDINGS_MAX 32

typedef struct {
  tg__hq_finding f[FINDINGS_MAX];
  int n;
} findings;

static void collect(void *ctx, const tg__hq_finding *f) {
  findings *all = ctx;
  assert_true(all->n < FINDINGS_MAX);
  all->f[all->n++] = *f;
}

static void reconcile(fixture *f, findings *out) {
  char why[TG__HQ_WHY_MAX];
  memset(out, 0, sizeof *out);
  /* the day of the sales, run after the group buy closed */
  if (tg__hq_reconcile(f->be, f->db, f->start_ms - HOUR_MS, f->start_ms + DAY_MS,
                       f->close_ms + 60000, collect, out, why, sizeof why) != TG__HQ_OK)
    fail_msg("reconcile: %s", why);
}

/* The findings of kind, in the order reported. */
static int of_kind(const findings *all, const char *kind, const tg__hq_finding **out, int max) {
  int n = 0;
  for (int i = 0; i < all->n; i++)
    if (strcmp(all->f[i].kind, kind) == 0 && n < max)
      out[n++] = &all->f[i];
  return n;
}

typedef struct {
  tg__hq_settlement s[FINDINGS_MAX];
  int n;
} pending;

static void on_pending(void *ctx, const tg__hq_settlement *s) {
  pending *p = ctx;
  assert_true(p->n < FINDINGS_MAX);
  p->s[p->n++] = *s;
}

static void list_pending(fixture *f, pending *p) {
  char why[TG__HQ_WHY_MAX];
  memset(p, 0, sizeof *p);
  assert_int_equal(f->be->settle_pending(f->db, "*", 100, on_pending, p, why, sizeof why),
                   TG__HQ_OK);
}

static const tg__hq_settlement *settlement_for(const pending *p, int64_t member) {
  for (int i = 0; i < p->n; i++)
    if (p->s[i].member == member)
      return &p->s[i];
  fail_msg("no settlement for member %lld", (long long)member);
  return NULL;
}

static void a_coupon_spent_at_two_stores_is_one_finding_naming_both(void **state) {
  fixture *f = *state;
  findings all;
  const tg__hq_finding *got[4];
  char coupon[32];
  reconcile(f, &all);
  assert_int_equal(of_kind(&all, "coupon_reused", got, 4), 2); /* ordered by coupon id */
  if (f->redeemed_coupon < f->reused_coupon) {
    const tg__hq_finding *x = got[0];
    got[0] = got[1];
    got[1] = x;
  }
  /* the other: spent on a sale at S1/T1, redeemed at S1/T2's counter */
  snprintf(coupon, sizeof coupon, "coupon %llu ", (unsigned long long)f->redeemed_coupon);
  assert_non_null(strstr(got[1]->what, coupon));
  assert_string_equal(got[1]->store, "S1");
  assert_non_null(strstr(got[1]->what, "S1/T1 receipt S1-T1-"));
  assert_non_null(strstr(got[1]->what, "S1/T2 redeem seq "));
  assert_non_null(strstr(got[1]->what, " 300"));
  assert_int_equal(got[0]->needs_operator, 1);
  assert_string_equal(got[0]->store, ""); /* two stores: chain-wide */
  snprintf(coupon, sizeof coupon, "coupon %llu ", (unsigned long long)f->reused_coupon);
  assert_non_null(strstr(got[0]->what, coupon));
  assert_non_null(strstr(got[0]->what, "2 times"));
  assert_non_null(strstr(got[0]->what, f->reused[0]));
  assert_non_null(strstr(got[0]->what, f->reused[1]));
  assert_non_null(strstr(got[0]->what, "S1/T1"));
  assert_non_null(strstr(got[0]->what, "S2/T1"));
  assert_non_null(strstr(got[0]->what, " 500")); /* what each use took off */
}

static void a_flash_sale_oversold_across_two_tills_names_the_overuse(void **state) {
  fixture *f = *state;
  findings all;
  const tg__hq_finding *got[4];
  reconcile(f, &all);
  assert_int_equal(of_kind(&all, "flash_over_quota", got, 4), 1); /* S2 sold within its lease */
  assert_int_equal(got[0]->needs_operator, 1);
  assert_string_equal(got[0]->store, "S1");
  assert_non_null(strstr(got[0]->what, "flash campaign 7 lease L1 at S1: 4.000 units sold, "
                                       "quota 3.000, 1.000 over"));
  assert_non_null(strstr(got[0]->what, "T1 2.000"));
  assert_non_null(strstr(got[0]->what, "T2 2.000"));
}

static void a_referral_earns_one_rebate_coupon_and_a_rerun_issues_nothing_new(void **state) {
  fixture *f = *state;
  findings all;
  const tg__hq_finding *got[4];
  pending before, after;
  reconcile(f, &all);
  assert_int_equal(of_kind(&all, "referral_rebate", got, 4), 1);
  assert_int_equal(got[0]->needs_operator, 0);
  assert_string_equal(got[0]->store, "S1");
  assert_string_equal(got[0]->terminal, "T1");
  assert_non_null(strstr(got[0]->what, "member 1001, 800 off"));
  assert_int_equal(of_kind(&all, "referral_refunded", got, 4), 1);
  assert_non_null(strstr(got[0]->what, f->refunded));
  assert_non_null(strstr(got[0]->what, "member 1002 earns no rebate"));
  assert_int_equal(got[0]->needs_operator, 0);
  list_pending(f, &before);
  const tg__hq_settlement *s = settlement_for(&before, 1001);
  assert_string_equal(s->rule, "referral_rebate");
  assert_int_equal(s->amount, 800);
  assert_int_equal(s->campaign, 5);
  assert_string_equal(s->state, "pending-bundle");
  /* the token is HQ's coupon: 8.00 off, campaign 5, single use, every store */
  unsigned char cpk[32], csk[64];
  tg__hq_coupon_key(f->hq_sk, cpk, csk);
  tg__token_key ring = {.id = TG__HQ_COUPON_KEY_ID, .role = TG__TOKEN_COUPON};
  memcpy(ring.key, cpk, 32);
  sodium_memzero(csk, sizeof csk);
  tg__token k;
  assert_int_equal(tg__token_decode(s->token, strlen(s->token), &ring, 1, &k), 0);
  assert_int_equal(k.coupon_id, (uint64_t)s->coupon);
  assert_int_equal(k.campaign_id, 5);
  assert_int_equal(k.value, 800);
  assert_int_equal(k.single_use, 1);
  assert_string_equal(k.store, "");
  /* again: the same findings, the same coupons, nothing new */
  reconcile(f, &all);
  assert_int_equal(of_kind(&all, "referral_rebate", got, 4), 1);
  assert_non_null(strstr(got[0]->what, "issued before"));
  list_pending(f, &after);
  assert_int_equal(after.n, before.n);
  for (int i = 0; i < after.n; i++) {
    assert_int_equal(after.s[i].coupon, before.s[i].coupon);
    assert_string_equal(after.s[i].token, before.s[i].token);
  }
}

static void a_group_buy_that_closed_cheaper_refunds_the_difference(void **state) {
  fixture *f = *state;
  findings all;
  const tg__hq_finding *got[4];
  pending p;
  reconcile(f, &all);
  /* 3 joined: 85.00 a unit; each paid 90.00 */
  assert_int_equal(of_kind(&all, "group_buy_refund", got, 4), 3);
  for (int i = 0; i < 3; i++) {
    assert_int_equal(got[i]->needs_operator, 0);
    assert_non_null(strstr(got[i]->what, "closed at 3 members (unit price 8500)"));
  }
  list_pending(f, &p);
  assert_int_equal(p.n, 4);
  assert_int_equal(settlement_for(&p, 1002)->amount, 1000); /* 2 units */
  assert_int_equal(settlement_for(&p, 1003)->amount, 500);  /* 1 unit */
  assert_int_equal(settlement_for(&p, 1005)->amount, 750);  /* 1.5: 135.00 - 127.50 */
  assert_string_equal(settlement_for(&p, 1005)->terminal, "T2");
  for (int i = 0; i < p.n; i++) /* S2's group of one paid the first tier's price */
    assert_int_not_equal(p.s[i].member, 1004);
  assert_string_equal(settlement_for(&p, 1002)->rule, "group_buy_refund");
  assert_int_equal(settlement_for(&p, 1002)->campaign, 6);
}

static void the_next_bundle_carries_the_pending_coupons_and_marks_them(void **state) {
  fixture *f = *state;
  char why[TG__HQ_WHY_MAX];
  int64_t coupons[TG__HQ_BUNDLE_COUPONS];
  int n = 0;
  pending p;
  /* a bundle for S2 carries only S2's: none */
  json_t *o = json_loads(f->bundle, 0, NULL);
  assert_int_equal(tg__hq_settle_embed(f->be, f->db, "S2", o, coupons, &n, why, sizeof why),
                   TG__HQ_OK);
  assert_int_equal(n, 0);
  assert_null(json_object_get(o, "coupons"));
  json_decref(o);
  /* S1's, each leased to the till of the sale it settles */
  o = json_loads(f->bundle, 0, NULL);
  assert_int_equal(tg__hq_settle_embed(f->be, f->db, "S1", o, coupons, &n, why, sizeof why),
                   TG__HQ_OK);
  assert_int_equal(n, 4);
  size_t i;
  json_t *c;
  json_array_foreach(json_object_get(o, "coupons"), i, c) {
    int64_t member = json_integer_value(json_object_get(c, "member"));
    assert_string_equal(json_string_value(json_object_get(c, "store")), "S1");
    assert_string_equal(json_string_value(json_object_get(c, "terminal")),
                        member == 1001 || member == 1002 ? "T1" : "T2");
  }
  json_decref(o);
  /* a bundle that cannot be stored (its version exists) marks nothing */
  assert_int_equal(f->be->bundle_put_settled(f->db, 1, "S2", "{}", 2, "x", coupons, n, why,
                                             sizeof why),
                   TG__HQ_REUSED);
  list_pending(f, &p);
  assert_int_equal(p.n, 4);
  /* bundle publish for every store, through the command */
  char path[4200], cmd[9000];
  snprintf(path, sizeof path, "%s/bundle.json", f->dir);
  FILE *w = fopen(path, "wb");
  assert_non_null(w);
  fputs(f->bundle, w);
  assert_int_equal(fclose(w), 0);
  const char *build = getenv("BUILD");
  f->be->close(f->db); /* the command opens the database itself */
  f->db = NULL;
  snprintf(cmd, sizeof cmd, "%s/tillgroup-hq --db '%s' bundle publish %s >/dev/null",
           build != NULL ? build : "build", f->spec, path);
  int st = system(cmd);
  assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  assert_int_equal(f->be->open(f->spec, &f->db, why, sizeof why), TG__HQ_OK);
  int64_t version;
  char *body, sig[TG__BUNDLE_SIG_TEXT];
  size_t len;
  assert_int_equal(f->be->bundle_get(f->db, "S1", &version, &body, &len, sig, why, sizeof why),
                   TG__HQ_OK);
  assert_int_equal(version, 2);
  o = json_loadb(body, len, 0, NULL);
  free(body);
  assert_int_equal(json_array_size(json_object_get(o, "coupons")), 4);
  json_decref(o);
  list_pending(f, &p);
  assert_int_equal(p.n, 0);
  /* a rerun sees them published in bundle 2 and issues nothing */
  findings all;
  const tg__hq_finding *got[4];
  reconcile(f, &all);
  assert_int_equal(of_kind(&all, "referral_rebate", got, 4), 1);
  assert_non_null(strstr(got[0]->what, "in bundle 2"));
  list_pending(f, &p);
  assert_int_equal(p.n, 0);
}

/* A sale of MILK at price with codes; returns its total after what it took off. */
static int64_t member_sale(fixture *f, int i, uint64_t n, const char *code, int64_t price,
                           int *n_coupons) {
  char uuid[TG_UUID_LEN + 1], receipt[TG_RECEIPT_MAX];
  tg_sale *s;
  tg_code c;
  tg_totals tot;
  tg_terminal *t = f->t[i];
  tg_line line = {"MILK", "milk", 1000, price, 0, NULL};
  tt_uuid(n, uuid);
  TT_OK(t, tg_sale_begin(t, uuid, &s));
  TT_OK(t, tg_sale_add_line(s, &line));
  TT_OK(t, tg_sale_apply_code(s, code, strlen(code), &c));
  *n_coupons = s->n_coupons;
  TT_OK(t, tg_sale_get_totals(s, &tot));
  TT_OK(t, tg_sale_add_tender(s, TG_TENDER_CASH, tot.total, NULL));
  TT_OK(t, tg_sale_commit(s, receipt));
  tg_sale_free(s);
  return tot.total;
}

static void a_till_takes_the_bundle_and_spends_the_rebate_once(void **state) {
  fixture *f = *state;
  char why[TG__HQ_WHY_MAX], sig[TG__BUNDLE_SIG_TEXT], *body, code[TG__TOKEN_TEXT_MAX + 1];
  int64_t version;
  size_t len;
  int n;
  assert_int_equal(f->be->bundle_get(f->db, "S1", &version, &body, &len, sig, why, sizeof why),
                   TG__HQ_OK);
  for (int i = 0; i < N_TERMINALS; i++) /* the all-stores bundle reaches every till */
    TT_OK(f->t[i], tg_bundle_apply(f->t[i], body, len));
  free(body);
  /* member 1001's 8.00 rebate is leased to S1/T1, the till of the referred sale: S1/T2 and
   * S2's T1, offline, leave it alone */
  member_code(f, 1001, code);
  assert_int_equal(member_sale(f, S1T2, 50, code, 3000, &n), 3000);
  assert_int_equal(n, 0);
  assert_int_equal(member_sale(f, S2T1, 50, code, 3000, &n), 3000);
  assert_int_equal(n, 0);
  /* at S1/T1 it comes off without being scanned */
  assert_int_equal(member_sale(f, S1T1, 50, code, 3000, &n), 3000 - 800);
  assert_int_equal(n, 1);
  /* and only once, wherever the member shops next */
  assert_int_equal(member_sale(f, S1T1, 51, code, 3000, &n), 3000);
  assert_int_equal(n, 0);
  assert_int_equal(member_sale(f, S1T2, 51, code, 3000, &n), 3000);
  assert_int_equal(n, 0);
  /* member 1003's group-buy difference, 5.00, waits at S1/T2 where they bought */
  member_code(f, 1003, code);
  assert_int_equal(member_sale(f, S1T1, 52, code, 3000, &n), 3000);
  assert_int_equal(member_sale(f, S1T2, 52, code, 3000, &n), 3000 - 500);
  /* and member 1005's, 7.50, there too */
  member_code(f, 1005, code);
  assert_int_equal(member_sale(f, S2T1, 53, code, 3000, &n), 3000);
  assert_int_equal(member_sale(f, S1T2, 53, code, 3000, &n), 3000 - 750);
}

static void the_command_exits_4_when_an_operator_must_look(void **state) {
  fixture *f = *state;
  char cmd[9000], day[16], out[4200];
  time_t now = (time_t)(f->start_ms / 1000);
  struct tm tm;
  localtime_r(&now, &tm); /* not exact: the period below spans the day either side */
  tm.tm_mday -= 1;
  mktime(&tm);
  strftime(day, sizeof day, "%Y-%m-%d", &tm);
  const char *build = getenv("BUILD");
  snprintf(out, sizeof out, "%s/findings.jsonl", f->dir);
  snprintf(cmd, sizeof cmd,
           "%s/tillgroup-hq --db '%s' reconcile --from %s --to 2199-01-01 --tz UTC --json >%s",
           build != NULL ? build : "build", f->spec, day, out);
  int st = system(cmd);
  assert_true(WIFEXITED(st));
  assert_int_equal(WEXITSTATUS(st), 2); /* more than 366 days */
  tm.tm_mday += 2;
  mktime(&tm);
  char to[16];
  strftime(to, sizeof to, "%Y-%m-%d", &tm);
  snprintf(cmd, sizeof cmd,
           "%s/tillgroup-hq --db '%s' reconcile --from %s --to %s --tz UTC --json >%s",
           build != NULL ? build : "build", f->spec, day, to, out);
  st = system(cmd);
  assert_true(WIFEXITED(st));
  assert_int_equal(WEXITSTATUS(st), 4);
  tg__buf b = {0};
  tt_slurp(out, &b);
  char *text = strndup((const char *)b.p, b.n);
  assert_non_null(strstr(text, "\"kind\":\"coupon_reused\""));
  assert_non_null(strstr(text, "\"kind\":\"flash_over_quota\""));
  assert_non_null(strstr(text, "\"needs_operator\":true"));
  int reused_by_reconcile = 0;
  for (const char *p = text; (p = strstr(p, "\"kind\":\"coupon_reused\"")) != NULL; p++)
    reused_by_reconcile++;
  free(text);
  tg__buf_free(&b);
  /* the nightly run reconciles its day too: the same findings are in its report */
  gmtime_r(&now, &tm);
  strftime(day, sizeof day, "%Y-%m-%d", &tm);
  snprintf(out, sizeof out, "%s/nightly.json", f->dir);
  snprintf(cmd, sizeof cmd,
           "%s/tillgroup-hq --db '%s' nightly --date %s --tz UTC --timeout 5 --json %s >/dev/null",
           build != NULL ? build : "build", f->spec, day, out);
  st = system(cmd);
  assert_true(WIFEXITED(st));
  assert_int_equal(WEXITSTATUS(st), 4);
  json_error_t err;
  json_t *report = json_load_file(out, 0, &err), *found;
  size_t i;
  int reused = 0;
  assert_non_null(report);
  json_array_foreach(json_object_get(report, "findings"), i, found)
    reused += strcmp(json_string_value(json_object_get(found, "kind")), "coupon_reused") == 0;
  assert_int_equal(reused, reused_by_reconcile);
  json_decref(report);
}

static void a_database_at_step_1_gains_the_settlement_table(void **state) {
  fixture *f = *state;
  char why[TG__HQ_WHY_MAX];
  pending p;
  f->be->close(f->db);
  f->db = NULL;
  tt_hq_schema_v1(f->spec); /* what a tillgroup-hq before groups made: step 1 only */
  if (f->be->open(f->spec, &f->db, why, sizeof why) != TG__HQ_OK)
    fail_msg("reopen: %s", why);
  list_pending(f, &p);
  assert_int_equal(p.n, 0);
  findings all; /* the settlements are issued afresh into the new table */
  reconcile(f, &all);
  list_pending(f, &p);
  assert_int_equal(p.n, 4);
}

static void a_bundle_terminals_would_refuse_is_for_an_operator(void **state) {
  fixture *f = *state;
  char why[TG__HQ_WHY_MAX];
  const char *bad = "{\"format\":1,\"version\":9,\"store\":\"S2\",\"colour\":1}";
  findings all;
  const tg__hq_finding *got[4];
  int64_t version;
  assert_int_equal(f->be->bundle_next(f->db, &version, why, sizeof why), TG__HQ_OK);
  assert_int_equal(f->be->bundle_put(f->db, version, "S2", bad, strlen(bad), "x", why,
                                     sizeof why),
                   TG__HQ_OK);
  reconcile(f, &all);
  assert_int_equal(of_kind(&all, "bundle_unreadable", got, 4), 1);
  assert_string_equal(got[0]->store, "S2");
  assert_int_equal(got[0]->needs_operator, 1);
  assert_non_null(strstr(got[0]->what, "unknown field \"colour\""));
  /* S2's flash sales are not judged without a readable lease; S1's still are */
  assert_int_equal(of_kind(&all, "flash_over_quota", got, 4), 1);
  assert_string_equal(got[0]->store, "S1");
}

/* ----- Crafted records: stores S3 and S4, each with its own bundle ------------------------ */

/* Enrols store/T1 (S0-S9) and stores the lines (the members after the identity and receipt
 * of seqs 1..n of epoch 1) through the ingest uploads use. */
static void craft(fixture *f, const char *store, const char *const *lines, int n) {
  char key[64], why[TG__HQ_WHY_MAX], line[1024];
  unsigned char hash[32] = {3}, invite[32] = {4};
  tg__buf text = {0};
  for (int i = 0; i < n; i++) {
    int len = snprintf(line, sizeof line,
                       "{\"store\":\"%s\",\"terminal\":\"T1\",\"epoch\":1,\"seq\":%d,"
                       "\"uuid\":\"6f1c0e2a-4b1d-4c8e-9a77-%c000000000%02d\",\"time_ms\":%lld,"
                       "\"currency\":\"CNY\",\"receipt\":\"%s-T1-%d\",%s}\n",
                       store, i + 1, store[1], i + 1, (long long)f->start_ms, store, i + 1,
                       lines[i]);
    assert_true(len > 0 && (size_t)len < sizeof line);
    assert_int_equal(tg__buf_add(&text, line, (size_t)len), 0);
  }
  assert_int_equal(f->be->enrol(f->db, store, "T1", hash, invite, why, sizeof why), TG__HQ_OK);
  tg__hq_key k;
  tg__hq_batch b;
  tg__hq_ack ack;
  snprintf(key, sizeof key, "%s-T1:1:1-%d", store, n);
  assert_int_equal(tg__hq_key_parse(key, &k, why, sizeof why), TG__HQ_OK);
  char *z = malloc(text.n + 1);
  memcpy(z, text.p, text.n);
  if (tg__hq_batch_parse(z, text.n, &k, &b, why, sizeof why) != TG__HQ_OK)
    fail_msg("%s: %s", key, why);
  if (f->be->ingest(f->db, &b, tg__hq_now_ms(), &ack, why, sizeof why) != TG__HQ_OK)
    fail_msg("ingest %s: %s", key, why);
  assert_int_equal(ack.acked_through, n);
  for (int i = 0; i < ack.n_rejected; i++)
    fail_msg("%s seq %lld: %s %s", key, (long long)ack.rejected[i].seq, ack.rejected[i].status,
             ack.rejected[i].reason);
  assert_int_equal(ack.n_rejected, 0);
  tg__hq_ack_free(&ack);
  tg__hq_batch_free(&b);
  tg__buf_free(&text);
}

/* A bundle of store alone: group buy 3 of TEA closing at close_ms (first tier 2 members at
 * first, then 3 members at third), with four also group buy 4 (the same), and referral
 * campaign 5 with a rebate of 8.00. */
static void store_bundle(fixture *f, const char *store, int64_t first, int64_t third, int four) {
  char why[TG__HQ_WHY_MAX], until[32], z[1024], gb4[300] = "";
  int64_t version;
  rfc3339(f->close_ms, until);
  if (four)
    snprintf(gb4, sizeof gb4,
             "{\"id\":4,\"type\":\"group_buy\",\"group\":\"GB4\",\"sku\":\"TEA\",\"until\":\"%s\","
             "\"tiers\":[{\"size\":2,\"price\":%lld},{\"size\":3,\"price\":%lld}]},",
             until, (long long)first, (long long)third);
  snprintf(z, sizeof z,
           "{\"format\":1,\"version\":1,\"store\":\"%s\",\"campaigns\":["
           "{\"id\":3,\"type\":\"group_buy\",\"group\":\"GB3\",\"sku\":\"TEA\",\"until\":\"%s\","
           "\"tiers\":[{\"size\":2,\"price\":%lld},{\"size\":3,\"price\":%lld}]},%s"
           "{\"id\":5,\"type\":\"referral\",\"off\":500,\"rebate\":800}]}",
           store, until, (long long)first, (long long)third, gb4);
  assert_int_equal(f->be->bundle_next(f->db, &version, why, sizeof why), TG__HQ_OK);
  assert_int_equal(f->be->bundle_put(f->db, version, store, z, strlen(z), "x", why, sizeof why),
                   TG__HQ_OK);
}

#define GROUP_BUY(campaign, member, qty, price)                                               \
  "\"kind\":\"sale\",\"total\":1,\"member\":" #member ",\"promotions\":[{\"type\":\"group_buy\"," \
  "\"campaign\":" #campaign ",\"qty_milli\":" #qty ",\"price\":" #price "}]"

/* The crafted trade, once: S3's group buy 4 (50.00, 40.00 from 3 members) with three buyers,
 * one refunded; S3's group buy 3 (same tiers) with two buyers, one line above the first
 * tier's price; S4's group buy 3 (90.00, 80.00) with three buyers and a line whose amounts
 * overflow; S3's referrals, one claiming more than the bundle's rebate. */
static void crafted_trade(fixture *f) {
  static int done;
  if (done++)
    return;
  store_bundle(f, "S3", 5000, 4000, 1);
  store_bundle(f, "S4", 9000, 8000, 0);
  const char *const s3[] = {
      GROUP_BUY(4, 2001, 1000, 5000),
      GROUP_BUY(4, 2002, 1000, 5000),
      GROUP_BUY(4, 2003, 1000, 5000),
      "\"kind\":\"refund\",\"total\":-5000,\"original_receipt\":\"S3-T1-3\"",
      GROUP_BUY(3, 2001, 1000, 1000000000000000000),
      "\"kind\":\"sale\",\"total\":1,\"promotions\":[],\"referral\":{\"referrer\":2005,"
      "\"campaign\":5,\"rebate\":1000000000000000000}",
      "\"kind\":\"sale\",\"total\":1,\"promotions\":[],\"referral\":{\"referrer\":2006,"
      "\"campaign\":5,\"rebate\":800}",
      GROUP_BUY(3, 2004, 1000, 5000),
  };
  const char *const s4[] = {
      GROUP_BUY(3, 3001, 1000, 9000),
      GROUP_BUY(3, 3002, 1000, 9000),
      GROUP_BUY(3, 3003, 2000, 9000),
      GROUP_BUY(3, 3001, 4000000000000000, 9000), /* 3.6e19 minor units: past int64 */
  };
  craft(f, "S3", s3, 8);
  craft(f, "S4", s4, 4);
}

static void each_store_settles_its_own_group_buy_under_its_own_rule(void **state) {
  fixture *f = *state;
  findings all;
  pending p;
  char why[TG__HQ_WHY_MAX];
  crafted_trade(f);
  reconcile(f, &all);
  /* S4: 3 members of S4, S4's tiers: 80.00; S3's buyers and rule play no part */
  memset(&p, 0, sizeof p);
  assert_int_equal(f->be->settle_pending(f->db, "S4", 100, on_pending, &p, why, sizeof why),
                   TG__HQ_OK);
  assert_int_equal(p.n, 3);
  assert_int_equal(settlement_for(&p, 3001)->amount, 1000);
  assert_int_equal(settlement_for(&p, 3002)->amount, 1000);
  assert_int_equal(settlement_for(&p, 3003)->amount, 2000);
  int n = 0;
  for (int i = 0; i < all.n; i++)
    if (strcmp(all.f[i].kind, "group_buy_refund") == 0 && strcmp(all.f[i].store, "S4") == 0 &&
        !all.f[i].needs_operator) {
      assert_non_null(strstr(all.f[i].what, "group buy 3 closed at 3 members (unit price 8000)"));
      n++;
    }
  assert_int_equal(n, 3);
}

static void a_refunded_buyer_does_not_count_toward_the_group(void **state) {
  fixture *f = *state;
  findings all;
  pending p;
  char why[TG__HQ_WHY_MAX];
  crafted_trade(f);
  reconcile(f, &all);
  /* S3's group buy 4: 2001 and 2002 remain (2003 refunded): 2 members, 50.00, no difference
   * for anyone (nor for group buy 3's two buyers) */
  memset(&p, 0, sizeof p);
  assert_int_equal(f->be->settle_pending(f->db, "S3", 100, on_pending, &p, why, sizeof why),
                   TG__HQ_OK);
  for (int i = 0; i < p.n; i++)
    assert_string_not_equal(p.s[i].rule, "group_buy_refund");
  for (int i = 0; i < all.n; i++)
    if (strcmp(all.f[i].store, "S3") == 0)
      assert_true(strcmp(all.f[i].kind, "group_buy_refunded") != 0 &&
                  (strcmp(all.f[i].kind, "group_buy_refund") != 0 || all.f[i].needs_operator));
}

static void amounts_past_the_bundle_or_int64_are_for_an_operator(void **state) {
  fixture *f = *state;
  findings all;
  pending p;
  char why[TG__HQ_WHY_MAX];
  crafted_trade(f);
  reconcile(f, &all);
  int price = 0, overflow = 0, rebate = 0;
  for (int i = 0; i < all.n; i++) {
    const tg__hq_finding *g = &all.f[i];
    if (!g->needs_operator)
      continue;
    if (strcmp(g->kind, "group_buy_refund") == 0 && strstr(g->what, "sale S3-T1-5 ") != NULL) {
      assert_non_null(strstr(g->what, "first tier's 5000"));
      price++;
    } else if (strcmp(g->kind, "group_buy_refund") == 0 &&
               strstr(g->what, "sale S4-T1-4 ") != NULL) {
      assert_non_null(strstr(g->what, "out of range"));
      overflow++;
    } else if (strcmp(g->kind, "referral_rebate") == 0 &&
               strstr(g->what, "sale S3-T1-6:") != NULL) {
      assert_non_null(strstr(g->what, "more than the rebate 800"));
      assert_non_null(strstr(g->what, "member 2005"));
      rebate++;
    }
  }
  assert_int_equal(price, 1);
  assert_int_equal(overflow, 1);
  assert_int_equal(rebate, 1);
  /* no coupon for them; the referral within the bundle's rebate is settled */
  memset(&p, 0, sizeof p);
  assert_int_equal(f->be->settle_pending(f->db, "S3", 100, on_pending, &p, why, sizeof why),
                   TG__HQ_OK);
  assert_int_equal(p.n, 1);
  assert_int_equal(settlement_for(&p, 2006)->amount, 800);
  memset(&p, 0, sizeof p);
  assert_int_equal(f->be->settle_pending(f->db, "S4", 100, on_pending, &p, why, sizeof why),
                   TG__HQ_OK);
  assert_int_equal(p.n, 3); /* 3001's first sale only */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(a_coupon_spent_at_two_stores_is_one_finding_naming_both),
      cmocka_unit_test(a_flash_sale_oversold_across_two_tills_names_the_overuse),
      cmocka_unit_test(a_referral_earns_one_rebate_coupon_and_a_rerun_issues_nothing_new),
      cmocka_unit_test(a_group_buy_that_closed_cheaper_refunds_the_difference),
      cmocka_unit_test(the_next_bundle_carries_the_pending_coupons_and_marks_them),
      cmocka_unit_test(a_till_takes_the_bundle_and_spends_the_rebate_once),
      cmocka_unit_test(the_command_exits_4_when_an_operator_must_look),
      cmocka_unit_test(a_database_at_step_1_gains_the_settlement_table),
      cmocka_unit_test(a_bundle_terminals_would_refuse_is_for_an_operator),
      cmocka_unit_test(each_store_settles_its_own_group_buy_under_its_own_rule),
      cmocka_unit_test(a_refunded_buyer_does_not_count_toward_the_group),
      cmocka_unit_test(amounts_past_the_bundle_or_int64_are_for_an_operator),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
