/* Campaign rules at commit: every rule type with exact amounts, stacking,
 * flash windows and quotas, group-buy tiers, coupons, referral, welcome,
 * points, and allocation failures (the worked examples of docs/campaigns.md). */
#include <string.h>

#include "helpers.h"

static const int64_t NOW = INT64_C(1795339380000); /* 2026-11-22T12:03:00Z */
enum { MON, TUE, WED, THU, FRI, SAT, SUN };
#define DAY(d) (1u << (d))
#define HM(h, m) ((h) * 60 + (m))
#define MEMBER UINT64_C(77)

typedef char sku_t[TG_MAX_SKU + 1];
static sku_t SKU_A[] = {"A"}, SKU_F[] = {"F"}, SKU_G[] = {"G"}, CAT_TEA[] = {"tea"};

/* What the fake database says was used, and what it was asked. */
typedef struct {
  int64_t store, member;
  int n_store, n_member;
  uint64_t asked_member;
  int fail; /* returned instead of an answer when not 0 */
} usage;

static int fake_used(void *ctx, tg__usage what, const tg__rule *r, uint64_t member,
                     int64_t *out) {
  usage *u = ctx;
  (void)r;
  if (u->fail != 0)
    return u->fail;
  if (what == TG__USED_FLASH_STORE) {
    u->n_store++;
    *out = u->store;
  } else {
    u->n_member++;
    u->asked_member = member;
    *out = u->member;
  }
  return 0;
}

/* A sale under test: its bundle, lines, coupons and usage. */
typedef struct {
  tg__rule rules[16];
  int n_rules;
  tg__bundle b;
  tg__line lines[8];
  int n_lines;
  tg__token coupons[4];
  int n_coupons;
  usage used;
  tg__promo_input in;
  int no_bundle;
} sale;

/* A sale on Thursday at 12:00 local, without a member. */
static void sale_init(sale *s) {
  memset(s, 0, sizeof *s);
  s->in.now_ms = NOW;
  s->in.local_day = THU;
  s->in.local_minute = HM(12, 0);
}

static tg__rule *add_rule(sale *s, uint32_t id, tg__rule_type type) {
  assert_true(s->n_rules < 16);
  tg__rule *r = &s->rules[s->n_rules++];
  memset(r, 0, sizeof *r);
  r->id = id;
  r->type = type;
  snprintf(r->name, sizeof r->name, "rule %u", id);
  return r;
}

static tg__rule *add_percent(sale *s, uint32_t id, int64_t bp, sku_t *skus, int n_skus,
                             sku_t *cats, int n_cats) {
  tg__rule *r = add_rule(s, id, TG__RULE_PERCENT);
  r->percent_bp = bp;
  r->skus = skus;
  r->n_skus = n_skus;
  r->categories = cats;
  r->n_categories = n_cats;
  return r;
}

/* A flash sale of SKU F at price inside one window. */
static tg__rule *add_flash(sale *s, uint32_t id, int64_t price, unsigned days, int from, int to,
                           int64_t quota, int64_t per_member) {
  tg__rule *r = add_rule(s, id, TG__RULE_FLASH);
  r->skus = SKU_F;
  r->n_skus = 1;
  r->price = price;
  r->windows[0] = (tg__window){days, from, to};
  r->n_windows = 1;
  r->quota = quota;
  r->per_member = per_member;
  snprintf(r->lease, sizeof r->lease, "L%u", id);
  return r;
}

/* A group buy of SKU G: 2 members 8.00, 3 members 7.00, 5 members 6.00. */
static tg__rule *add_group(sale *s, uint32_t id, int joined, sku_t *sku) {
  tg__rule *r = add_rule(s, id, TG__RULE_GROUP_BUY);
  r->skus = sku;
  r->n_skus = 1;
  r->tiers[0] = (tg__group_tier){2, 800};
  r->tiers[1] = (tg__group_tier){3, 700};
  r->tiers[2] = (tg__group_tier){5, 600};
  r->n_tiers = 3;
  r->joined = joined;
  snprintf(r->group, sizeof r->group, "G%u", id);
  return r;
}

static tg__rule *add_fixed(sale *s, uint32_t id, int64_t off, int64_t min_spend) {
  tg__rule *r = add_rule(s, id, TG__RULE_FIXED);
  r->off = off;
  r->min_spend = min_spend;
  return r;
}

/* Spend 100.00 save 10.00, 200.00 save 25.00, 300.00 save 40.00. */
static tg__rule *add_threshold(sale *s, uint32_t id) {
  tg__rule *r = add_rule(s, id, TG__RULE_THRESHOLD);
  r->steps[0] = (tg__step){10000, 1000};
  r->steps[1] = (tg__step){20000, 2500};
  r->steps[2] = (tg__step){30000, 4000};
  r->n_steps = 3;
  return r;
}

static void add_line(sale *s, const char *sku, const char *category, int64_t qty_milli,
                     int64_t unit_price, int64_t line_discount) {
  assert_true(s->n_lines < 8);
  s->lines[s->n_lines++] = (tg__line){.sku = (char *)sku, .name = (char *)sku,
                                      .category = (char *)category, .qty_milli = qty_milli,
                                      .unit_price = unit_price, .line_discount = line_discount};
}

static void add_coupon(sale *s, uint64_t id, uint32_t campaign, int kind, uint32_t value,
                       uint32_t min_spend) {
  assert_true(s->n_coupons < 4);
  s->coupons[s->n_coupons++] = (tg__token){
      .type = TG__TOKEN_COUPON, .key_id = 7, .coupon_id = id, .campaign_id = campaign,
      .coupon_kind = kind, .value = value, .min_spend = min_spend, .issued_ms = NOW,
      .expires_ms = NOW + 86400000, .single_use = 1};
}

static const tg__promo_input *input(sale *s) {
  s->b.version = 1;
  s->b.rules = s->rules;
  s->b.n_rules = s->n_rules;
  s->in.bundle = s->no_bundle ? NULL : &s->b;
  s->in.lines = s->lines;
  s->in.n_lines = s->n_lines;
  s->in.coupons = s->coupons;
  s->in.n_coupons = s->n_coupons;
  s->in.used = fake_used;
  s->in.used_ctx = &s->used;
  return &s->in;
}

static void assert_zeroed(const tg__promo_result *r) {
  assert_null(r->line_off);
  assert_null(r->applied);
  assert_int_equal(r->n_applied, 0);
  assert_int_equal(r->total_off, 0);
  assert_null(r->welcome);
  assert_null(r->referral);
}

static void assert_same(const tg__promo_result *a, const tg__promo_result *b, int n_lines) {
  assert_int_equal(a->total_off, b->total_off);
  assert_memory_equal(a->line_off, b->line_off, (size_t)n_lines * sizeof *a->line_off);
  assert_int_equal(a->n_applied, b->n_applied);
  for (int j = 0; j < a->n_applied; j++) {
    const tg__promo_applied *x = &a->applied[j], *y = &b->applied[j];
    assert_int_equal(x->campaign, y->campaign);
    assert_int_equal(x->type, y->type);
    assert_int_equal(x->amount, y->amount);
    assert_int_equal(x->line, y->line);
    assert_int_equal(x->qty_milli, y->qty_milli);
    assert_int_equal(x->price, y->price);
    assert_int_equal(x->group_size, y->group_size);
    assert_int_equal(x->coupon, y->coupon);
  }
  assert_ptr_equal(a->welcome, b->welcome);
  assert_ptr_equal(a->referral, b->referral);
}

/* Evaluates s and checks what every result keeps: each line's discount
 * within the line, Σ line_off == total_off == Σ applied, no empty entry
 * but a flash or group-buy quantity, and the same result a second time. */
static int evaluate(sale *s, tg__promo_result *out) {
  const tg__promo_input *in = input(s);
  int rc = tg__promo_evaluate(in, out);
  if (rc != 0) {
    assert_zeroed(out);
    return rc;
  }
  int64_t sum = 0, applied = 0, per_line[8] = {0};
  for (int i = 0; i < s->n_lines; i++) {
    int64_t gross;
    assert_int_equal(tg__mul_div_half_up(s->lines[i].qty_milli, s->lines[i].unit_price, 1000,
                                         &gross), 0);
    assert_true(out->line_off[i] >= 0);
    assert_true(out->line_off[i] <= gross - s->lines[i].line_discount);
    sum += out->line_off[i];
  }
  assert_int_equal(sum, out->total_off);
  for (int j = 0; j < out->n_applied; j++) {
    const tg__promo_applied *a = &out->applied[j];
    assert_true(a->amount >= 0);
    if (a->amount == 0)
      assert_true(((a->type == TG__RULE_FLASH || a->type == TG__RULE_GROUP_BUY) &&
                   a->qty_milli > 0) ||
                  (a->type == TG__RULE_COUPON && a->coupon != 0));
    assert_true(a->line >= 0 && a->line <= s->n_lines);
    if (a->line > 0)
      per_line[a->line - 1] += a->amount;
    applied += a->amount;
  }
  assert_int_equal(applied, out->total_off);
  for (int i = 0; i < s->n_lines; i++)
    assert_true(per_line[i] <= out->line_off[i]);
  /* deterministic; the usage counts stay those of the first evaluation */
  usage kept = s->used;
  tg__promo_result again;
  assert_int_equal(tg__promo_evaluate(in, &again), 0);
  assert_same(out, &again, s->n_lines);
  tg__promo_result_free(&again);
  s->used = kept;
  return 0;
}

static void expect_entry(const tg__promo_applied *a, uint32_t campaign, tg__rule_type type,
                         int64_t amount, int line) {
  assert_int_equal(a->campaign, campaign);
  assert_int_equal(a->type, type);
  assert_int_equal(a->amount, amount);
  assert_int_equal(a->line, line);
}

/* Evaluates s, expecting success, and returns the total taken off. */
static int64_t total_of(sale *s) {
  tg__promo_result r;
  assert_int_equal(evaluate(s, &r), 0);
  int64_t total = r.total_off;
  tg__promo_result_free(&r);
  return total;
}

/* 10% per line, rounded half-up per line: 12.34 -> 1.23; 1.5 x 8.23 =
 * 12.345, rounded to 12.35 first -> 1.235 -> 1.24; 12.35 less the host's
 * 0.10 = 12.25 -> 1.225 -> 1.23. */
static void percent_rounds_half_up_per_line(void **state) {
  (void)state;
  sale s;
  tg__promo_result r;
  sale_init(&s);
  add_percent(&s, 1, 1000, SKU_A, 1, CAT_TEA, 1);
  add_line(&s, "A", NULL, 1000, 1234, 0);
  add_line(&s, "B", "tea", 1500, 823, 0);
  add_line(&s, "C", NULL, 1000, 5000, 0);
  add_line(&s, "A", "soap", 1000, 1235, 10);
  assert_int_equal(evaluate(&s, &r), 0);
  assert_int_equal(r.line_off[0], 123);
  assert_int_equal(r.line_off[1], 124);
  assert_int_equal(r.line_off[2], 0);
  assert_int_equal(r.line_off[3], 123);
  assert_int_equal(r.total_off, 370);
  assert_int_equal(r.n_applied, 3);
  expect_entry(&r.applied[0], 1, TG__RULE_PERCENT, 123, 1);
  expect_entry(&r.applied[1], 1, TG__RULE_PERCENT, 124, 2);
  expect_entry(&r.applied[2], 1, TG__RULE_PERCENT, 123, 4);
  tg__promo_result_free(&r);
  tg__promo_result_free(&r); /* a freed result is zeroed: freeing again is harmless */
}

/* One percent rule per line, the best; equal discounts go to the lower id. */
static void percent_takes_the_best_rule_ties_to_the_lower_id(void **state) {
  (void)state;
  sale s;
  tg__promo_result r;
  sale_init(&s);
  add_percent(&s, 5, 1000, SKU_A, 1, NULL, 0);
  add_percent(&s, 4, 1500, SKU_A, 1, NULL, 0);
  add_percent(&s, 3, 1500, NULL, 0, CAT_TEA, 1);
  add_line(&s, "A", "tea", 1000, 1000, 0); /* 4 and 3 both 1.50: 3 */
  add_line(&s, "A", NULL, 1000, 1000, 0);  /* 5 1.00, 4 1.50: 4 */
  add_line(&s, "Z", "tea", 2000, 1000, 0); /* 3 only */
  assert_int_equal(evaluate(&s, &r), 0);
  assert_int_equal(r.total_off, 150 + 150 + 300);
  assert_int_equal(r.n_applied, 3);
  expect_entry(&r.applied[0], 3, TG__RULE_PERCENT, 150, 1);
  expect_entry(&r.applied[1], 4, TG__RULE_PERCENT, 150, 2);
  expect_entry(&r.applied[2], 3, TG__RULE_PERCENT, 300, 3);
  tg__promo_result_free(&r);
}

/* The highest step reached: exactly at a step, one cent below, none. */
static void threshold_takes_the_highest_step_reached(void **state) {
  (void)state;
  static const int64_t cases[][2] = {{9999, 0},     {10000, 1000}, {19999, 1000},
                                     {20000, 2500}, {29999, 2500}, {30000, 4000},
                                     {35000, 4000}};
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    sale s;
    tg__promo_result r;
    sale_init(&s);
    add_threshold(&s, 7);
    add_line(&s, "A", NULL, 1000, cases[k][0], 0);
    assert_int_equal(evaluate(&s, &r), 0);
    assert_int_equal(r.total_off, cases[k][1]);
    assert_int_equal(r.n_applied, cases[k][1] > 0 ? 1 : 0);
    if (cases[k][1] > 0)
      expect_entry(&r.applied[0], 7, TG__RULE_THRESHOLD, cases[k][1], 0);
    tg__promo_result_free(&r);
  }
}

/* An order rule is spread pro rata; the remainder goes to the largest line. */
static void order_rules_are_spread_pro_rata(void **state) {
  (void)state;
  sale s;
  tg__promo_result r;
  sale_init(&s);
  add_threshold(&s, 7);
  add_line(&s, "A", NULL, 1000, 12000, 0);
  add_line(&s, "B", NULL, 1000, 8000, 0);
  assert_int_equal(evaluate(&s, &r), 0);
  assert_int_equal(r.line_off[0], 1500);
  assert_int_equal(r.line_off[1], 1000);
  tg__promo_result_free(&r);

  sale_init(&s);
  add_threshold(&s, 7);
  add_line(&s, "A", NULL, 1000, 3333, 0);
  add_line(&s, "B", NULL, 1000, 3333, 0);
  add_line(&s, "C", NULL, 1000, 3334, 0);
  assert_int_equal(evaluate(&s, &r), 0);
  assert_int_equal(r.line_off[0], 333);
  assert_int_equal(r.line_off[1], 333);
  assert_int_equal(r.line_off[2], 334);
  tg__promo_result_free(&r);
}

/* Fixed: at min_spend it applies, one cent below it does not; never more than R. */
static void fixed_needs_min_spend_and_is_capped(void **state) {
  (void)state;
  sale s;
  sale_init(&s);
  add_fixed(&s, 8, 500, 5000);
  add_line(&s, "A", NULL, 1000, 5000, 0);
  assert_int_equal(total_of(&s), 500);
  s.lines[0].unit_price = 4999;
  assert_int_equal(total_of(&s), 0);
  s.lines[0].unit_price = 5010;
  s.lines[0].line_discount = 11; /* the host's own discount counts: 49.99 */
  assert_int_equal(total_of(&s), 0);

  sale_init(&s);
  add_fixed(&s, 9, 800, 0);
  add_line(&s, "A", NULL, 1000, 300, 0);
  assert_int_equal(total_of(&s), 300);
}

/* Percent first, then the order rules in id order (not bundle order), each
 * on what the earlier left: fixed 10 (1.00 from 99.50) sees 100.00, the
 * threshold 20 then sees 99.00 and takes its 90.00 step. */
static void order_rules_run_in_id_order_after_percent(void **state) {
  (void)state;
  sale s;
  tg__promo_result r;
  sale_init(&s);
  tg__rule *t = add_rule(&s, 20, TG__RULE_THRESHOLD);
  t->steps[0] = (tg__step){9000, 500};
  t->steps[1] = (tg__step){10000, 1000};
  t->n_steps = 2;
  add_fixed(&s, 10, 100, 9950);
  add_percent(&s, 30, 1000, SKU_A, 1, NULL, 0);
  add_line(&s, "A", NULL, 1000, 10000, 0);
  add_line(&s, "B", NULL, 1000, 1000, 0);
  assert_int_equal(evaluate(&s, &r), 0);
  assert_int_equal(r.n_applied, 3);
  expect_entry(&r.applied[0], 30, TG__RULE_PERCENT, 1000, 1);
  expect_entry(&r.applied[1], 10, TG__RULE_FIXED, 100, 0);
  expect_entry(&r.applied[2], 20, TG__RULE_THRESHOLD, 500, 0);
  assert_int_equal(r.line_off[0], 1000 + 90 + 450);
  assert_int_equal(r.line_off[1], 10 + 50);
  assert_int_equal(r.total_off, 1600);
  tg__promo_result_free(&r);
}

/* Stacking: the stackable set against each exclusive rule alone. */
static void exclusive_rules_stand_alone_best_for_the_customer(void **state) {
  (void)state;
  static const struct {
    int64_t excl_off;      /* the exclusive fixed rule's amount */
    uint32_t want;         /* the campaign of the one entry */
    int64_t total;
  } cases[] = {{1500, 2, 1500}, {900, 1, 1000}, {1000, 1, 1000}};
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    sale s;
    tg__promo_result r;
    sale_init(&s);
    add_percent(&s, 1, 1000, SKU_A, 1, NULL, 0); /* stackable: 10.00 */
    add_fixed(&s, 2, cases[k].excl_off, 0)->exclusive = 1;
    add_line(&s, "A", NULL, 1000, 10000, 0);
    assert_int_equal(evaluate(&s, &r), 0);
    assert_int_equal(r.total_off, cases[k].total);
    assert_int_equal(r.n_applied, 1); /* never both */
    assert_int_equal(r.applied[0].campaign, cases[k].want);
    tg__promo_result_free(&r);
  }

  /* stackable rules add up and beat an exclusive rule worth more than each */
  sale s;
  tg__promo_result r;
  sale_init(&s);
  add_percent(&s, 1, 1000, SKU_A, 1, NULL, 0); /* 10.00 */
  add_fixed(&s, 3, 600, 0);                    /* 6.00 more */
  add_fixed(&s, 2, 1500, 0)->exclusive = 1;
  add_line(&s, "A", NULL, 1000, 10000, 0);
  assert_int_equal(evaluate(&s, &r), 0);
  assert_int_equal(r.total_off, 1600);
  assert_int_equal(r.n_applied, 2);
  tg__promo_result_free(&r);

  /* two exclusive rules worth the same: the lower id */
  sale_init(&s);
  add_fixed(&s, 9, 1500, 0)->exclusive = 1;
  add_fixed(&s, 4, 1500, 0)->exclusive = 1;
  add_line(&s, "A", NULL, 1000, 10000, 0);
  assert_int_equal(evaluate(&s, &r), 0);
  assert_int_equal(r.n_applied, 1);
  expect_entry(&r.applied[0], 4, TG__RULE_FIXED, 1500, 0);
  tg__promo_result_free(&r);

  /* an exclusive rule that has ended takes no part */
  sale_init(&s);
  add_percent(&s, 1, 1000, SKU_A, 1, NULL, 0);
  add_fixed(&s, 2, 5000, 0)->exclusive = 1;
  s.rules[1].until_ms = NOW;
  add_line(&s, "A", NULL, 1000, 10000, 0);
  assert_int_equal(evaluate(&s, &r), 0);
  assert_int_equal(r.n_applied, 1);
  expect_entry(&r.applied[0], 1, TG__RULE_PERCENT, 1000, 1);
  tg__promo_result_free(&r);
}

/* Active in [from_ms, until_ms); members_only needs a member. */
static void rules_run_only_while_active(void **state) {
  (void)state;
  sale s;
  sale_init(&s);
  tg__rule *p = add_percent(&s, 1, 1000, SKU_A, 1, NULL, 0);
  add_line(&s, "A", NULL, 1000, 10000, 0);
  p->from_ms = NOW;
  assert_int_equal(total_of(&s), 1000);
  p->from_ms = NOW + 1;
  assert_int_equal(total_of(&s), 0);
  p->from_ms = 0;
  p->until_ms = NOW + 1;
  assert_int_equal(total_of(&s), 1000);
  p->until_ms = NOW;
  assert_int_equal(total_of(&s), 0);
  p->until_ms = 0;
  p->members_only = 1;
  assert_int_equal(total_of(&s), 0);
  s.in.member = MEMBER;
  assert_int_equal(total_of(&s), 1000);
}

/* A flash window 20:00-20:30 on Thursdays: 20:00 and 20:29 in, 20:30 and
 * 19:59 out, and Friday out. A priced line takes no percent rule. */
static void flash_window_edges(void **state) {
  (void)state;
  static const struct {
    int day, minute, in;
  } cases[] = {{THU, HM(20, 0), 1},  {THU, HM(20, 29), 1}, {THU, HM(20, 30), 0},
               {THU, HM(19, 59), 0}, {FRI, HM(20, 0), 0}};
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    sale s;
    tg__promo_result r;
    sale_init(&s);
    add_flash(&s, 11, 500, DAY(THU), HM(20, 0), HM(20, 30), 100000, 0);
    add_percent(&s, 12, 1000, SKU_F, 1, NULL, 0);
    add_line(&s, "F", NULL, 2000, 1000, 0);
    s.in.local_day = cases[k].day;
    s.in.local_minute = cases[k].minute;
    assert_int_equal(evaluate(&s, &r), 0);
    assert_int_equal(r.n_applied, 1);
    if (cases[k].in) {
      expect_entry(&r.applied[0], 11, TG__RULE_FLASH, 1000, 1);
      assert_int_equal(r.applied[0].qty_milli, 2000);
      assert_int_equal(r.applied[0].price, 500);
      assert_int_equal(s.used.n_store, 1);
    } else {
      expect_entry(&r.applied[0], 12, TG__RULE_PERCENT, 200, 1);
      assert_int_equal(s.used.n_store, 0); /* asked only when needed */
    }
    tg__promo_result_free(&r);
  }
}

/* 23:30-00:30 opened on Thursdays belongs to Thursday. */
static void flash_window_across_midnight(void **state) {
  (void)state;
  static const struct {
    int day, minute, in;
  } cases[] = {{THU, HM(23, 45), 1}, {FRI, HM(0, 15), 1}, {SAT, HM(0, 15), 0},
               {THU, HM(0, 15), 0},  {THU, HM(23, 29), 0}, {FRI, HM(0, 30), 0},
               {THU, HM(23, 30), 1}, {FRI, HM(0, 29), 1}, {FRI, HM(23, 45), 0}};
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    sale s;
    sale_init(&s);
    add_flash(&s, 11, 500, DAY(THU), HM(23, 30), HM(0, 30), 100000, 0);
    add_line(&s, "F", NULL, 1000, 1000, 0);
    s.in.local_day = cases[k].day;
    s.in.local_minute = cases[k].minute;
    if (total_of(&s) != (cases[k].in ? 500 : 0))
      fail_msg("day %d minute %d: expected %s the window", cases[k].day, cases[k].minute,
               cases[k].in ? "inside" : "outside");
  }
  /* a Sunday window runs into Monday */
  sale s;
  sale_init(&s);
  add_flash(&s, 11, 500, DAY(SUN), HM(23, 0), HM(1, 0), 100000, 0);
  add_line(&s, "F", NULL, 1000, 1000, 0);
  s.in.local_day = MON;
  s.in.local_minute = HM(0, 59);
  assert_int_equal(total_of(&s), 500);
}

/* Quota 3 units, 1.5 used: line 1 (2.5) gets 1.5 at 6.00 and 1 at 10.00;
 * line 2 gets none, so it takes the percent rule. */
static void flash_quota_runs_out_mid_line(void **state) {
  (void)state;
  sale s;
  tg__promo_result r;
  sale_init(&s);
  add_flash(&s, 11, 600, DAY(THU), 0, 1440, 3000, 0);
  add_percent(&s, 12, 1000, SKU_F, 1, NULL, 0);
  add_line(&s, "F", NULL, 2500, 1000, 0);
  add_line(&s, "F", NULL, 1000, 1000, 0);
  s.used.store = 1500;
  assert_int_equal(evaluate(&s, &r), 0);
  assert_int_equal(r.n_applied, 2);
  expect_entry(&r.applied[0], 11, TG__RULE_FLASH, 600, 1);
  assert_int_equal(r.applied[0].qty_milli, 1500);
  assert_int_equal(r.applied[0].price, 600);
  expect_entry(&r.applied[1], 12, TG__RULE_PERCENT, 100, 2);
  assert_int_equal(r.line_off[0], 600);
  assert_int_equal(r.line_off[1], 100);
  assert_int_equal(s.used.n_store, 1); /* once per rule */
  assert_int_equal(s.used.n_member, 0);
  tg__promo_result_free(&r);

  /* rounding: 1.234 x 9.99 = 12.32766 -> 12.33, 1.234 x 5.55 = 6.8487 -> 6.85 */
  sale_init(&s);
  add_flash(&s, 11, 555, DAY(THU), 0, 1440, 1234, 0);
  add_line(&s, "F", NULL, 2000, 999, 0);
  assert_int_equal(evaluate(&s, &r), 0);
  assert_int_equal(r.n_applied, 1);
  expect_entry(&r.applied[0], 11, TG__RULE_FLASH, 1233 - 685, 1);
  assert_int_equal(r.applied[0].qty_milli, 1234);
  tg__promo_result_free(&r);

  /* nothing left: no quota is never asked about; used past the quota gives none */
  sale_init(&s);
  add_flash(&s, 11, 600, DAY(THU), 0, 1440, 0, 0);
  add_line(&s, "F", NULL, 1000, 1000, 0);
  assert_int_equal(total_of(&s), 0);
  assert_int_equal(s.used.n_store, 0);
  s.rules[0].quota = 3000;
  s.used.store = 5000;
  assert_int_equal(total_of(&s), 0);
  assert_int_equal(s.used.n_store, 1);
}

/* 2 units per member: a member who bought 0.5 gets 1.5 more; without a
 * member the limit holds for this sale alone, over its lines. */
static void flash_per_member_limit(void **state) {
  (void)state;
  sale s;
  tg__promo_result r;
  sale_init(&s);
  add_flash(&s, 11, 600, DAY(THU), 0, 1440, 100000, 2000);
  add_line(&s, "F", NULL, 3000, 1000, 0);
  s.in.member = MEMBER;
  s.used.member = 500;
  assert_int_equal(evaluate(&s, &r), 0);
  assert_int_equal(r.n_applied, 1);
  expect_entry(&r.applied[0], 11, TG__RULE_FLASH, 600, 1);
  assert_int_equal(r.applied[0].qty_milli, 1500);
  assert_int_equal(s.used.n_store, 1);
  assert_int_equal(s.used.n_member, 1);
  assert_int_equal(s.used.asked_member, MEMBER);
  tg__promo_result_free(&r);

  sale_init(&s);
  add_flash(&s, 11, 600, DAY(THU), 0, 1440, 100000, 2000);
  add_line(&s, "F", NULL, 1500, 1000, 0);
  add_line(&s, "F", NULL, 1000, 1000, 0);
  s.used.member = 999999; /* never asked: no member */
  assert_int_equal(evaluate(&s, &r), 0);
  assert_int_equal(r.n_applied, 2);
  expect_entry(&r.applied[0], 11, TG__RULE_FLASH, 600, 1);
  assert_int_equal(r.applied[0].qty_milli, 1500);
  expect_entry(&r.applied[1], 11, TG__RULE_FLASH, 200, 2);
  assert_int_equal(r.applied[1].qty_milli, 500);
  assert_int_equal(s.used.n_member, 0);
  tg__promo_result_free(&r);
}

/* Tiers 2: 8.00, 3: 7.00, 5: 6.00; this buyer joins, so joined + 1 counts. */
static void group_buy_picks_the_tier_the_buyer_reaches(void **state) {
  (void)state;
  static const struct {
    int joined, size;
    int64_t price;
  } cases[] = {{0, 2, 800}, {1, 2, 800}, {2, 3, 700}, {4, 5, 600}, {10, 5, 600}};
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    sale s;
    tg__promo_result r;
    sale_init(&s);
    add_group(&s, 21, cases[k].joined, SKU_G);
    add_line(&s, "G", NULL, 2000, 1000, 0);
    s.in.member = MEMBER;
    assert_int_equal(evaluate(&s, &r), 0);
    assert_int_equal(r.n_applied, 1);
    expect_entry(&r.applied[0], 21, TG__RULE_GROUP_BUY, 2000 - 2 * cases[k].price, 1);
    assert_int_equal(r.applied[0].qty_milli, 2000);
    assert_int_equal(r.applied[0].price, cases[k].price);
    assert_int_equal(r.applied[0].group_size, cases[k].size);
    tg__promo_result_free(&r);
  }
  /* no member: no one to send the group's refund coupon to */
  sale s;
  sale_init(&s);
  add_group(&s, 21, 4, SKU_G);
  add_line(&s, "G", NULL, 2000, 1000, 0);
  assert_int_equal(total_of(&s), 0);
}

/* A flash and a group buy on one line: the larger discount, ties to the lower id. */
static void flash_and_group_buy_compete_per_line(void **state) {
  (void)state;
  static const struct {
    int joined;
    int64_t flash_price;
    uint32_t want;
    int64_t off;
  } cases[] = {{2, 650, 30, 350}, {4, 650, 31, 400}, {4, 600, 30, 400}};
  static sku_t sku_g[] = {"G"};
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    sale s;
    tg__promo_result r;
    sale_init(&s);
    add_group(&s, 31, cases[k].joined, sku_g);
    tg__rule *f = add_flash(&s, 30, cases[k].flash_price, DAY(THU), 0, 1440, 100000, 0);
    f->skus = sku_g;
    add_line(&s, "G", NULL, 1000, 1000, 0);
    s.in.member = MEMBER;
    assert_int_equal(evaluate(&s, &r), 0);
    assert_int_equal(r.n_applied, 1);
    expect_entry(&r.applied[0], cases[k].want, cases[k].want == 30 ? TG__RULE_FLASH
                                                                   : TG__RULE_GROUP_BUY,
                 cases[k].off, 1);
    tg__promo_result_free(&r);
  }
}

/* Coupons after the rules, in scan order, each on what is left. */
static void coupons_apply_after_rules_in_scan_order(void **state) {
  (void)state;
  sale s;
  tg__promo_result r;
  sale_init(&s);
  add_percent(&s, 1, 1000, SKU_A, 1, NULL, 0); /* 100.00 -> 90.00 */
  add_line(&s, "A", NULL, 1000, 10000, 0);
  add_coupon(&s, 900001, 12, TG__COUPON_AMOUNT, 1000, 9000);  /* 10.00 -> 80.00 */
  add_coupon(&s, 900002, 13, TG__COUPON_PERCENT, 1250, 8000); /* 12.5% -> 70.00 */
  assert_int_equal(evaluate(&s, &r), 0);
  assert_int_equal(r.n_applied, 3);
  expect_entry(&r.applied[1], 12, TG__RULE_COUPON, 1000, 0);
  assert_int_equal(r.applied[1].coupon, 900001);
  expect_entry(&r.applied[2], 13, TG__RULE_COUPON, 1000, 0);
  assert_int_equal(r.applied[2].coupon, 900002);
  assert_int_equal(r.total_off, 3000);
  tg__promo_result_free(&r);

  /* minimum spend judged after the rules, and after the coupons before it */
  s.coupons[0].min_spend = 9001;
  assert_int_equal(evaluate(&s, &r), TG_EMINSPEND);
  s.coupons[0].min_spend = 9000;
  s.coupons[1].min_spend = 8001;
  assert_int_equal(evaluate(&s, &r), TG_EMINSPEND);

  /* an amount beyond what is left takes what is left; percent rounds half-up */
  sale_init(&s);
  add_line(&s, "A", NULL, 1000, 1234, 0);
  add_coupon(&s, 900003, 14, TG__COUPON_PERCENT, 500, 0); /* 61.7 -> 62 */
  add_coupon(&s, 900004, 15, TG__COUPON_AMOUNT, 99999, 0);
  assert_int_equal(evaluate(&s, &r), 0);
  assert_int_equal(r.n_applied, 2);
  expect_entry(&r.applied[0], 14, TG__RULE_COUPON, 62, 0);
  expect_entry(&r.applied[1], 15, TG__RULE_COUPON, 1172, 0);
  assert_int_equal(r.line_off[0], 1234);
  tg__promo_result_free(&r);

  /* coupons stack with an exclusive rule */
  sale_init(&s);
  add_fixed(&s, 2, 1500, 0)->exclusive = 1;
  add_line(&s, "A", NULL, 1000, 10000, 0);
  add_coupon(&s, 900005, 16, TG__COUPON_AMOUNT, 500, 0);
  assert_int_equal(total_of(&s), 2000);
}

/* The first active referral rule in bundle order, after rules and coupons. */
static void referral_needs_an_active_rule(void **state) {
  (void)state;
  sale s;
  tg__promo_result r;
  tg__token ref = {.type = TG__TOKEN_REFERRAL, .key_id = 1, .member_id = 1234567};
  sale_init(&s);
  add_rule(&s, 39, TG__RULE_REFERRAL)->from_ms = NOW + 1; /* not yet */
  tg__rule *live = add_rule(&s, 40, TG__RULE_REFERRAL);
  live->off = 800;
  live->min_spend = 5000;
  add_rule(&s, 38, TG__RULE_REFERRAL)->off = 300;
  add_line(&s, "A", NULL, 1000, 6000, 0);
  s.in.referral = &ref;
  assert_int_equal(evaluate(&s, &r), 0);
  assert_ptr_equal(r.referral, &s.rules[1]);
  assert_int_equal(r.n_applied, 1);
  expect_entry(&r.applied[0], 40, TG__RULE_REFERRAL, 800, 0);
  tg__promo_result_free(&r);

  s.lines[0].unit_price = 4999;
  assert_int_equal(evaluate(&s, &r), TG_EMINSPEND);

  s.lines[0].unit_price = 6000;
  s.rules[1].until_ms = NOW;
  s.rules[2].until_ms = NOW;
  assert_int_equal(evaluate(&s, &r), TG_ECAMPAIGN);

  s.in.referral = NULL; /* no code scanned: no referral */
  assert_int_equal(evaluate(&s, &r), 0);
  assert_null(r.referral);
  assert_int_equal(r.total_off, 0);
  tg__promo_result_free(&r);
}

/* A new member's sale names the first active welcome rule; it gives nothing itself. */
static void welcome_goes_to_a_new_member(void **state) {
  (void)state;
  sale s;
  tg__promo_result r;
  sale_init(&s);
  add_rule(&s, 49, TG__RULE_WELCOME)->until_ms = NOW;
  add_rule(&s, 51, TG__RULE_WELCOME);
  add_rule(&s, 50, TG__RULE_WELCOME);
  add_line(&s, "A", NULL, 1000, 1000, 0);
  s.in.member = MEMBER;
  s.in.member_new = 1;
  assert_int_equal(evaluate(&s, &r), 0);
  assert_ptr_equal(r.welcome, &s.rules[1]);
  assert_int_equal(r.total_off, 0);
  assert_int_equal(r.n_applied, 0);
  tg__promo_result_free(&r);
  s.in.member_new = 0;
  assert_int_equal(evaluate(&s, &r), 0);
  assert_null(r.welcome);
  tg__promo_result_free(&r);
  s.in.member_new = 1;
  s.in.member = 0;
  assert_int_equal(evaluate(&s, &r), 0);
  assert_null(r.welcome);
  tg__promo_result_free(&r);
}

/* Per rule: floor(paid / per) x points x tier multiplier, rounded down. */
static void points_round_down_per_rule_with_the_tier(void **state) {
  (void)state;
  sale s;
  sale_init(&s);
  tg__rule *p = add_rule(&s, 60, TG__RULE_POINTS);
  p->per = 100;
  p->points = 1;
  p = add_rule(&s, 61, TG__RULE_POINTS);
  p->per = 1000;
  p->points = 5;
  p = add_rule(&s, 62, TG__RULE_POINTS);
  p->per = 1;
  p->points = 1000;
  p->until_ms = NOW;
  input(&s);
  s.b.tiers[0] = (tg__tier){.tier = 1, .name = "silver", .points_bp = 15000};
  s.b.tiers[1] = (tg__tier){.tier = 2, .name = "gold", .points_bp = 12500};
  s.b.n_tiers = 2;
  /* 123.45 paid: 123 x 1 and 12 x 5 */
  assert_int_equal(tg__promo_points(&s.b, NOW, MEMBER, 0, 12345), 123 + 60);
  assert_int_equal(tg__promo_points(&s.b, NOW, MEMBER, 1, 12345), 184 + 90);  /* 184.5 */
  assert_int_equal(tg__promo_points(&s.b, NOW, MEMBER, 2, 12345), 153 + 75);  /* 153.75 */
  assert_int_equal(tg__promo_points(&s.b, NOW, MEMBER, 2, 99), 0);
  assert_int_equal(tg__promo_points(&s.b, NOW, 0, 2, 12345), 0);
  assert_int_equal(tg__promo_points(NULL, NOW, MEMBER, 2, 12345), 0);
  s.rules[1].from_ms = NOW + 1;
  assert_int_equal(tg__promo_points(&s.b, NOW, MEMBER, 1, 12345), 184);
}

/* The usage callback's error comes back as it is, with nothing to free. */
static void usage_error_is_returned(void **state) {
  (void)state;
  sale s;
  tg__promo_result r;
  sale_init(&s);
  add_flash(&s, 11, 600, DAY(THU), 0, 1440, 3000, 0);
  add_line(&s, "F", NULL, 1000, 1000, 0);
  s.used.fail = TG_EIO;
  assert_int_equal(evaluate(&s, &r), TG_EIO);
  s.used.fail = 0;
  s.rules[0].per_member = 1000;
  s.in.member = MEMBER;
  s.used.fail = TG_EBUSY;
  assert_int_equal(evaluate(&s, &r), TG_EBUSY);
}

/* Whatever the rules say, no line loses more than is left of it. */
static void line_off_never_exceeds_the_line(void **state) {
  (void)state;
  sale s;
  tg__promo_result r;
  sale_init(&s);
  add_flash(&s, 11, 500, DAY(THU), 0, 1440, 100000, 0);
  add_fixed(&s, 12, 100000, 0);
  add_line(&s, "F", NULL, 1000, 1000, 900); /* 1.00 left: the flash gives 1.00 of 5.00 */
  add_line(&s, "F", NULL, 1000, 1000, 1000); /* nothing left: the flash still sells 1 */
  add_line(&s, "A", NULL, 1000, 700, 0);
  add_coupon(&s, 900001, 12, TG__COUPON_AMOUNT, 5000, 0);
  assert_int_equal(evaluate(&s, &r), 0);
  assert_int_equal(r.n_applied, 4);
  expect_entry(&r.applied[0], 11, TG__RULE_FLASH, 100, 1);
  expect_entry(&r.applied[1], 11, TG__RULE_FLASH, 0, 2);
  assert_int_equal(r.applied[1].qty_milli, 1000);
  expect_entry(&r.applied[2], 12, TG__RULE_FIXED, 700, 0);
  assert_int_equal(r.line_off[0], 100);
  assert_int_equal(r.line_off[1], 0);
  assert_int_equal(r.line_off[2], 700);
  assert_int_equal(r.total_off, 800); /* the coupon found nothing left: recorded at 0 */
  assert_int_equal(r.applied[3].coupon, 900001);
  assert_int_equal(r.applied[3].amount, 0);
  tg__promo_result_free(&r);
}

/* Without a bundle nothing applies; a coupon or referral then has no campaign. */
static void no_bundle_no_rules(void **state) {
  (void)state;
  sale s;
  tg__promo_result r;
  tg__token ref = {.type = TG__TOKEN_REFERRAL, .key_id = 1, .member_id = 1};
  sale_init(&s);
  s.no_bundle = 1;
  add_line(&s, "A", NULL, 1000, 1000, 0);
  assert_int_equal(evaluate(&s, &r), 0);
  assert_non_null(r.line_off);
  assert_int_equal(r.line_off[0], 0);
  assert_int_equal(r.n_applied, 0);
  tg__promo_result_free(&r);
  add_coupon(&s, 900001, 12, TG__COUPON_AMOUNT, 100, 0);
  assert_int_equal(evaluate(&s, &r), TG_ECAMPAIGN);
  s.n_coupons = 0;
  s.in.referral = &ref;
  assert_int_equal(evaluate(&s, &r), TG_ECAMPAIGN);
  /* an empty sale evaluates too */
  sale_init(&s);
  add_percent(&s, 1, 1000, SKU_A, 1, NULL, 0);
  assert_int_equal(evaluate(&s, &r), 0);
  assert_int_equal(r.total_off, 0);
  tg__promo_result_free(&r);
}

/* A busy sale: every rule type at once. */
static void mixed_sale(sale *s) {
  sale_init(s);
  add_flash(s, 11, 600, DAY(THU), HM(11, 0), HM(13, 0), 2500, 1500);
  add_group(s, 21, 2, SKU_G);
  add_percent(s, 1, 1000, SKU_A, 1, CAT_TEA, 1);
  add_percent(s, 3, 1250, NULL, 0, CAT_TEA, 1)->members_only = 1;
  add_threshold(s, 7);
  add_fixed(s, 8, 300, 5000);
  add_fixed(s, 2, 2000, 0)->exclusive = 1;
  add_rule(s, 40, TG__RULE_REFERRAL)->off = 500;
  add_rule(s, 50, TG__RULE_WELCOME);
  add_line(s, "F", NULL, 1750, 1000, 0);
  add_line(s, "G", "toys", 1000, 1000, 0);
  add_line(s, "A", "tea", 3000, 4567, 100);
  add_line(s, "B", "tea", 1250, 333, 0);
  add_line(s, "F", NULL, 1000, 1000, 0);
  add_coupon(s, 900001, 12, TG__COUPON_PERCENT, 333, 1000);
  add_coupon(s, 900002, 13, TG__COUPON_AMOUNT, 777, 0);
  s->in.member = MEMBER;
  s->in.member_new = 1;
  s->used.store = 200;
  s->used.member = 100;
}

/* F: 1.4 of 1.75 at 6.00 (quota 2.5 - 0.2 used, member 1.5 - 0.1 used) = 5.60;
 * G: joined 2 + 1 -> 7.00, 3.00 off; A: 137.01 - 1.00 = 136.01, the members'
 * 12.5% beats 10%: 17.00125 -> 17.00; B: 1.25 x 3.33 = 4.1625 -> 4.16, 12.5%
 * = 0.52; the second F: no room left, 10.00. R = 11.90 + 7.00 + 119.01 +
 * 3.64 + 10.00 = 151.55: threshold step 100.00 -> 10.00, R = 141.55, fixed
 * 3.00, R = 138.55. S = 5.60 + 3.00 + 17.00 + 0.52 + 10.00 + 3.00 = 39.12
 * beats the exclusive 20.00. Coupon 3.33% of 138.55 = 4.613715 -> 4.61, then
 * 7.77, then the referral 5.00: 39.12 + 4.61 + 7.77 + 5.00 = 56.50. */
static void a_busy_sale_adds_up(void **state) {
  (void)state;
  sale s;
  tg__promo_result r;
  tg__token ref = {.type = TG__TOKEN_REFERRAL, .key_id = 1, .member_id = 1};
  mixed_sale(&s);
  s.in.referral = &ref;
  assert_int_equal(evaluate(&s, &r), 0);
  assert_int_equal(r.n_applied, 9);
  expect_entry(&r.applied[0], 11, TG__RULE_FLASH, 560, 1);
  assert_int_equal(r.applied[0].qty_milli, 1400);
  expect_entry(&r.applied[1], 21, TG__RULE_GROUP_BUY, 300, 2);
  assert_int_equal(r.applied[1].group_size, 3);
  expect_entry(&r.applied[2], 3, TG__RULE_PERCENT, 1700, 3);
  expect_entry(&r.applied[3], 3, TG__RULE_PERCENT, 52, 4);
  expect_entry(&r.applied[4], 7, TG__RULE_THRESHOLD, 1000, 0);
  expect_entry(&r.applied[5], 8, TG__RULE_FIXED, 300, 0);
  expect_entry(&r.applied[6], 12, TG__RULE_COUPON, 461, 0);
  expect_entry(&r.applied[7], 13, TG__RULE_COUPON, 777, 0);
  expect_entry(&r.applied[8], 40, TG__RULE_REFERRAL, 500, 0);
  assert_int_equal(r.total_off, 5650);
  assert_ptr_equal(r.welcome, &s.rules[8]);
  assert_ptr_equal(r.referral, &s.rules[7]);
  assert_int_equal(s.used.n_store, 1);
  assert_int_equal(s.used.n_member, 1);
  tg__promo_result_free(&r);
}

/* Each allocation of an evaluation fails in turn: TG_ENOMEM, nothing left
 * to free (ASan's leak check), and the same input then evaluates. */
static void evaluation_survives_allocation_failure(void **state) {
  (void)state;
  sale s;
  tg__promo_result want, r;
  tg__token ref = {.type = TG__TOKEN_REFERRAL, .key_id = 1, .member_id = 1};
  mixed_sale(&s);
  s.in.referral = &ref;
  const tg__promo_input *in = input(&s);
  assert_int_equal(tg__promo_evaluate(in, &want), 0);
  long n, hits = 0;
  for (n = 1; n < 100; n++) {
    tt_mem_arm(0, n);
    int rc = tg__promo_evaluate(in, &r);
    if (tt_mem_disarm() == 0) {
      assert_int_equal(rc, 0);
      assert_same(&r, &want, s.n_lines);
      tg__promo_result_free(&r);
      break;
    }
    hits++;
    assert_int_equal(rc, TG_ENOMEM);
    assert_zeroed(&r);
  }
  printf("# evaluation: failures injected at %ld allocations\n", hits);
  assert_int_equal(hits, 3); /* line_off, applied and the working arrays */
  tg__promo_result_free(&want);
}

int main(void) {
  /* before anything initialises SQLite */
  if (tt_mem_install() != SQLITE_OK) {
    fprintf(stderr, "could not install the allocator\n");
    return 1;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(percent_rounds_half_up_per_line),
      cmocka_unit_test(percent_takes_the_best_rule_ties_to_the_lower_id),
      cmocka_unit_test(threshold_takes_the_highest_step_reached),
      cmocka_unit_test(order_rules_are_spread_pro_rata),
      cmocka_unit_test(fixed_needs_min_spend_and_is_capped),
      cmocka_unit_test(order_rules_run_in_id_order_after_percent),
      cmocka_unit_test(exclusive_rules_stand_alone_best_for_the_customer),
      cmocka_unit_test(rules_run_only_while_active),
      cmocka_unit_test(flash_window_edges),
      cmocka_unit_test(flash_window_across_midnight),
      cmocka_unit_test(flash_quota_runs_out_mid_line),
      cmocka_unit_test(flash_per_member_limit),
      cmocka_unit_test(group_buy_picks_the_tier_the_buyer_reaches),
      cmocka_unit_test(flash_and_group_buy_compete_per_line),
      cmocka_unit_test(coupons_apply_after_rules_in_scan_order),
      cmocka_unit_test(referral_needs_an_active_rule),
      cmocka_unit_test(welcome_goes_to_a_new_member),
      cmocka_unit_test(points_round_down_per_rule_with_the_tier),
      cmocka_unit_test(usage_error_is_returned),
      cmocka_unit_test(line_off_never_exceeds_the_line),
      cmocka_unit_test(no_bundle_no_rules),
      cmocka_unit_test(a_busy_sale_adds_up),
      cmocka_unit_test(evaluation_survives_allocation_failure),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
