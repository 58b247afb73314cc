/* Campaign rules at commit: the best combination of price, percent and order
 * rules for the customer, then scanned coupons, the referral and the welcome
 * coupon, as docs/campaigns.md describes. */
#include <assert.h>
#include <string.h>

#include "pos.h"

/* One way of combining the rules of steps 1-3: what it takes off each line
 * and the entries that say why. */
typedef struct {
  int64_t *off;                /* per line */
  tg__promo_applied *applied;  /* n_lines + n_rules entries at most */
  int n_applied;
  int64_t total;
} candidate;

/* The evaluation's working state; one allocation holds every array. */
typedef struct {
  const tg__promo_input *in;
  const tg__rule *rules;
  int n_rules, n_lines;
  int *order;                  /* rule indices by ascending id, then bundle order */
  int *active;                 /* per rule: running now for this sale */
  int *priced;                 /* per line: priced by a flash or group-buy rule */
  int64_t *base;               /* per line: gross less the host's own line discount */
  int64_t *left, *shares;      /* per line: scratch of one pro-rata allocation */
  int64_t *given;              /* per rule: thousandths a flash rule gave earlier lines */
  int64_t *used_store, *used_member; /* per rule: what in->used said; -1: not asked yet */
  candidate cand[2];
} eval;

static int min_int(int a, int b) { return a < b ? a : b; }

int tg__rule_active(const tg__rule *r, int64_t now_ms, uint64_t member) {
  if (r->from_ms != 0 && now_ms < r->from_ms)
    return 0;
  if (r->until_ms != 0 && now_ms >= r->until_ms)
    return 0;
  return !r->members_only || member != 0;
}

/* Whether a rule of this type takes part in steps 1-3. */
static int is_sale_rule(tg__rule_type type) {
  return type == TG__RULE_FLASH || type == TG__RULE_GROUP_BUY || type == TG__RULE_PERCENT ||
         type == TG__RULE_THRESHOLD || type == TG__RULE_FIXED;
}

/* Whether rule k belongs to the candidate "only k" (only >= 0) or, for only
 * < 0, to the candidate of every stackable rule. */
static int in_candidate(const eval *e, int k, int only) {
  const tg__rule *r = &e->rules[k];
  if (!e->active[k] || !is_sale_rule(r->type))
    return 0;
  return only >= 0 ? k == only : !r->exclusive;
}

/* A window belongs to the day it opens; one with to <= from runs past midnight. */
static int window_open(const tg__window *w, int day, int minute) {
  unsigned today = (w->days >> day) & 1u, yesterday = (w->days >> ((day + 6) % 7)) & 1u;
  if (w->to > w->from)
    return today && minute >= w->from && minute < w->to;
  return (today && minute >= w->from) || (yesterday && minute < w->to);
}

static int flash_open(const tg__rule *r, int day, int minute) {
  for (int j = 0; j < min_int(r->n_windows, TG__RULE_WINDOWS); j++)
    if (window_open(&r->windows[j], day, minute))
      return 1;
  return 0;
}

/* The rule's single SKU is the line's. */
static int sku_is(const tg__rule *r, const tg__line *l) {
  return r->n_skus >= 1 && r->skus != NULL && strcmp(r->skus[0], l->sku) == 0;
}

/* A percent rule covers the line by its SKU or its category. */
static int covers(const tg__rule *r, const tg__line *l) {
  for (int j = 0; r->skus != NULL && j < min_int(r->n_skus, TG__RULE_LIST); j++)
    if (strcmp(r->skus[j], l->sku) == 0)
      return 1;
  for (int j = 0; l->category != NULL && r->categories != NULL &&
                  j < min_int(r->n_categories, TG__RULE_LIST);
       j++)
    if (strcmp(r->categories[j], l->category) == 0)
      return 1;
  return 0;
}

/* The tier a buyer joining now pays: the largest size <= joined + 1, else the first. */
static const tg__group_tier *group_tier(const tg__rule *r) {
  const tg__group_tier *t = NULL;
  int64_t size = (int64_t)r->joined + 1;
  for (int j = 0; j < min_int(r->n_tiers, TG__RULE_STEPS); j++)
    if (r->tiers[j].size <= size && (t == NULL || r->tiers[j].size > t->size))
      t = &r->tiers[j];
  return t != NULL ? t : &r->tiers[0];
}

/* Asks in->used once per rule and question; a negative answer counts as 0. */
static int ask_used(eval *e, tg__usage what, int k, int64_t *slot) {
  const tg__promo_input *in = e->in;
  int64_t v = 0;
  if (*slot >= 0)
    return 0;
  assert(in->used != NULL); /* a bundle with flash rules needs the usage callback */
  int rc = in->used(in->used_ctx, what, &e->rules[k],
                    what == TG__USED_FLASH_MEMBER ? in->member : 0, &v);
  if (rc != 0)
    return rc;
  *slot = v < 0 ? 0 : v;
  return 0;
}

/* room - used - given, never below 0. */
static int64_t room_left(int64_t room, int64_t used, int64_t given) {
  room = used >= room ? 0 : room - used;
  return given >= room ? 0 : room - given;
}

/* Thousandths of a line of qty that flash rule k may still price. */
static int flash_room(eval *e, int k, int64_t qty, int64_t *q) {
  const tg__rule *r = &e->rules[k];
  int rc;
  *q = 0;
  if (r->quota <= 0)
    return 0;
  if ((rc = ask_used(e, TG__USED_FLASH_STORE, k, &e->used_store[k])) != 0)
    return rc;
  int64_t room = room_left(r->quota, e->used_store[k], e->given[k]);
  if (r->per_member > 0) {
    int64_t used = 0;
    if (e->in->member != 0) {
      if ((rc = ask_used(e, TG__USED_FLASH_MEMBER, k, &e->used_member[k])) != 0)
        return rc;
      used = e->used_member[k];
    }
    int64_t mine = room_left(r->per_member, used, e->given[k]);
    room = mine < room ? mine : room;
  }
  *q = qty < room ? qty : room;
  return 0;
}

/* The discount of q thousandths at price instead of unit, each rounded
 * half-up to the minor unit, capped at cap. */
static int price_off(int64_t q, int64_t unit, int64_t price, int64_t cap, int64_t *off) {
  int64_t at_unit, at_price;
  int rc = tg__mul_div_half_up(q, unit, 1000, &at_unit);
  if (rc == 0)
    rc = tg__mul_div_half_up(q, price, 1000, &at_price);
  if (rc != 0)
    return rc;
  *off = at_unit - at_price < cap ? at_unit - at_price : cap;
  return 0;
}

static void push(tg__promo_applied *applied, int *n, int cap, tg__promo_applied a) {
  assert(*n < cap);
  applied[(*n)++] = a;
}

/* Σ of what is left of every line after off. */
static int64_t remaining(const eval *e, const int64_t *off) {
  int64_t r = 0;
  for (int i = 0; i < e->n_lines; i++)
    r += e->base[i] - off[i]; /* bounded by Σ base, checked at the start */
  return r;
}

/* Takes amount (<= remaining) off the lines pro rata to what is left of each. */
static void spread(eval *e, int64_t *off, int64_t amount) {
  for (int i = 0; i < e->n_lines; i++)
    e->left[i] = e->base[i] - off[i];
  tg__allocate(amount, e->left, e->shares, e->n_lines);
  for (int i = 0; i < e->n_lines; i++)
    off[i] += e->shares[i];
}

/* Step 1: flash and group-buy prices, line by line. */
static int step_prices(eval *e, int only, candidate *c) {
  const tg__promo_input *in = e->in;
  int cap = e->n_lines + e->n_rules;
  for (int i = 0; i < e->n_lines; i++) {
    const tg__line *l = &in->lines[i];
    tg__promo_applied best = {0};
    int winner = -1;
    if (l->qty_milli <= 0)
      continue;
    for (int o = 0; o < e->n_rules; o++) {
      int k = e->order[o], rc, size = 0;
      const tg__rule *r = &e->rules[k];
      int64_t q, price, off;
      if (!in_candidate(e, k, only) || !sku_is(r, l))
        continue;
      if (r->type == TG__RULE_FLASH) {
        price = r->price;
        if (price < 0 || price >= l->unit_price ||
            !flash_open(r, in->local_day, in->local_minute))
          continue;
        if ((rc = flash_room(e, k, l->qty_milli, &q)) != 0)
          return rc;
        if (q <= 0)
          continue;
      } else if (r->type == TG__RULE_GROUP_BUY) {
        if (in->member == 0 || r->n_tiers < 1)
          continue;
        const tg__group_tier *t = group_tier(r);
        price = t->price;
        size = t->size;
        q = l->qty_milli;
        if (price < 0 || price >= l->unit_price)
          continue;
      } else {
        continue;
      }
      if ((rc = price_off(q, l->unit_price, price, e->base[i], &off)) != 0)
        return rc;
      if (winner < 0 || off > best.amount) { /* ascending ids: ties stay with the lower */
        winner = k;
        best = (tg__promo_applied){.campaign = r->id, .type = r->type, .amount = off,
                                   .line = i + 1, .qty_milli = q, .price = price,
                                   .group_size = size};
      }
    }
    if (winner < 0)
      continue;
    if (best.type == TG__RULE_FLASH)
      e->given[winner] += best.qty_milli;
    e->priced[i] = 1;
    c->off[i] += best.amount;
    push(c->applied, &c->n_applied, cap, best); /* kept even at 0: it sold qty at a price */
  }
  return 0;
}

/* Step 2: the single best percent rule of each line not priced in step 1. */
static int step_percent(eval *e, int only, candidate *c) {
  int cap = e->n_lines + e->n_rules;
  for (int i = 0; i < e->n_lines; i++) {
    const tg__line *l = &e->in->lines[i];
    int64_t rest = e->base[i] - c->off[i], best = 0;
    int winner = -1;
    if (e->priced[i] || rest <= 0)
      continue;
    for (int o = 0; o < e->n_rules; o++) {
      int k = e->order[o], rc;
      const tg__rule *r = &e->rules[k];
      int64_t off;
      if (r->type != TG__RULE_PERCENT || !in_candidate(e, k, only) || r->percent_bp <= 0 ||
          !covers(r, l))
        continue;
      if ((rc = tg__mul_div_half_up(rest, r->percent_bp, 10000, &off)) != 0)
        return rc;
      off = off < rest ? off : rest;
      if (off > best) {
        best = off;
        winner = k;
      }
    }
    if (winner < 0)
      continue;
    c->off[i] += best;
    push(c->applied, &c->n_applied, cap,
         (tg__promo_applied){.campaign = e->rules[winner].id, .type = TG__RULE_PERCENT,
                             .amount = best, .line = i + 1});
  }
  return 0;
}

/* Step 3: threshold and fixed rules in id order, each on what the earlier left. */
static void step_order(eval *e, int only, candidate *c) {
  int cap = e->n_lines + e->n_rules;
  for (int o = 0; o < e->n_rules; o++) {
    int k = e->order[o];
    const tg__rule *r = &e->rules[k];
    int64_t rest = remaining(e, c->off), off = -1;
    if (!in_candidate(e, k, only))
      continue;
    if (r->type == TG__RULE_THRESHOLD) {
      const tg__step *top = NULL;
      for (int j = 0; j < min_int(r->n_steps, TG__RULE_STEPS); j++)
        if (r->steps[j].spend <= rest && (top == NULL || r->steps[j].spend > top->spend))
          top = &r->steps[j];
      if (top != NULL)
        off = top->off;
    } else if (r->type == TG__RULE_FIXED) {
      if (rest >= r->min_spend)
        off = r->off;
    }
    if (off <= 0)
      continue;
    off = off < rest ? off : rest;
    if (off == 0)
      continue;
    spread(e, c->off, off);
    push(c->applied, &c->n_applied, cap,
         (tg__promo_applied){.campaign = r->id, .type = r->type, .amount = off});
  }
}

/* Steps 1-3 with the rules of one candidate (see in_candidate). */
static int run_candidate(eval *e, int only, candidate *c) {
  int rc;
  memset(c->off, 0, (size_t)e->n_lines * sizeof *c->off);
  memset(e->priced, 0, (size_t)e->n_lines * sizeof *e->priced);
  memset(e->given, 0, (size_t)e->n_rules * sizeof *e->given);
  c->n_applied = 0;
  if ((rc = step_prices(e, only, c)) != 0 || (rc = step_percent(e, only, c)) != 0)
    return rc;
  step_order(e, only, c);
  c->total = 0;
  for (int i = 0; i < e->n_lines; i++)
    c->total += c->off[i];
  return 0;
}

/* Carves the working arrays out of one block; NULL when out of memory. */
static void *eval_alloc(eval *e) {
  size_t n = (size_t)e->n_lines, r = (size_t)e->n_rules, cap = n + r;
  size_t size = 2 * cap * sizeof(tg__promo_applied) + (5 * n + 3 * r) * sizeof(int64_t) +
                (2 * r + n) * sizeof(int);
  unsigned char *p = tg__malloc(size), *at = p;
  if (p == NULL)
    return NULL;
  /* widest alignment first */
  e->cand[0].applied = (tg__promo_applied *)(void *)at, at += cap * sizeof(tg__promo_applied);
  e->cand[1].applied = (tg__promo_applied *)(void *)at, at += cap * sizeof(tg__promo_applied);
  int64_t *w = (int64_t *)(void *)at;
  e->base = w, w += n;
  e->left = w, w += n;
  e->shares = w, w += n;
  e->cand[0].off = w, w += n;
  e->cand[1].off = w, w += n;
  e->given = w, w += r;
  e->used_store = w, w += r;
  e->used_member = w, w += r;
  int *z = (int *)(void *)w;
  e->order = z, z += r;
  e->active = z, z += r;
  e->priced = z;
  return p;
}

/* Sorts rule indices by id, ties in bundle order (insertion sort: stable). */
static void sort_by_id(eval *e) {
  for (int k = 0; k < e->n_rules; k++) {
    int j = k;
    while (j > 0 && e->rules[e->order[j - 1]].id > e->rules[k].id) {
      e->order[j] = e->order[j - 1];
      j--;
    }
    e->order[j] = k;
  }
}

/* Step 4: scanned coupons in scan order. */
static int apply_coupons(eval *e, tg__promo_result *out, int cap) {
  const tg__promo_input *in = e->in;
  for (int j = 0; j < in->n_coupons; j++) {
    const tg__token *t = &in->coupons[j];
    int64_t rest = remaining(e, out->line_off), off;
    int rc;
    assert(t->type == TG__TOKEN_COUPON);
    if (rest < (int64_t)t->min_spend)
      return TG_EMINSPEND;
    if (t->coupon_kind == TG__COUPON_PERCENT) {
      if ((rc = tg__mul_div_half_up(rest, t->value, 10000, &off)) != 0)
        return rc;
    } else {
      assert(t->coupon_kind == TG__COUPON_AMOUNT);
      off = t->value;
    }
    off = off < rest ? off : rest;
    if (off > 0) /* a coupon that takes nothing off is still redeemed and recorded */
      spread(e, out->line_off, off);
    push(out->applied, &out->n_applied, cap,
         (tg__promo_applied){.campaign = t->campaign_id, .type = TG__RULE_COUPON,
                             .amount = off, .coupon = t->coupon_id});
  }
  return 0;
}

/* Step 5: the referee's discount of the first active referral rule. */
static int apply_referral(eval *e, tg__promo_result *out, int cap) {
  const tg__rule *r = NULL;
  for (int k = 0; k < e->n_rules && r == NULL; k++)
    if (e->active[k] && e->rules[k].type == TG__RULE_REFERRAL)
      r = &e->rules[k];
  if (r == NULL)
    return TG_ECAMPAIGN;
  int64_t rest = remaining(e, out->line_off);
  if (rest < r->min_spend)
    return TG_EMINSPEND;
  int64_t off = r->off < 0 ? 0 : r->off < rest ? r->off : rest;
  out->referral = r;
  if (off > 0) {
    spread(e, out->line_off, off);
    push(out->applied, &out->n_applied, cap,
         (tg__promo_applied){.campaign = r->id, .type = TG__RULE_REFERRAL, .amount = off});
  }
  return 0;
}

int tg__promo_evaluate(const tg__promo_input *in, tg__promo_result *out) {
  eval e = {0};
  void *block = NULL;
  int rc = 0, best = 0;
  int64_t sum = 0;
  assert(in != NULL && out != NULL && in->n_lines >= 0 && in->n_coupons >= 0);
  const tg__bundle *b = in->bundle;
  assert(in->n_lines == 0 || in->lines != NULL);
  assert(in->n_coupons == 0 || in->coupons != NULL);
  assert(in->local_day >= 0 && in->local_day <= 6);
  assert(in->local_minute >= 0 && in->local_minute <= 1439);
  memset(out, 0, sizeof *out);
  if (b == NULL && (in->n_coupons > 0 || in->referral != NULL))
    return TG_ECAMPAIGN;
  e.in = in;
  e.rules = b != NULL ? b->rules : NULL;
  e.n_rules = b != NULL ? b->n_rules : 0;
  e.n_lines = in->n_lines;
  assert(e.n_rules >= 0 && (e.n_rules == 0 || e.rules != NULL));
  int cap = e.n_rules + in->n_coupons + e.n_lines;
  out->line_off = tg__malloc((size_t)e.n_lines * sizeof *out->line_off);
  out->applied = tg__malloc((size_t)cap * sizeof *out->applied);
  block = eval_alloc(&e);
  if (out->line_off == NULL || out->applied == NULL || block == NULL) {
    rc = TG_ENOMEM;
    goto fail;
  }

  for (int i = 0; i < e.n_lines; i++) {
    const tg__line *l = &in->lines[i];
    int64_t gross = 0;
    if (l->qty_milli > 0 && l->unit_price > 0 &&
        (rc = tg__mul_div_half_up(l->qty_milli, l->unit_price, 1000, &gross)) != 0)
      goto fail;
    int64_t own = l->line_discount > 0 ? l->line_discount : 0;
    e.base[i] = own >= gross ? 0 : gross - own;
    if ((rc = tg__amount_add(&sum, e.base[i])) != 0)
      goto fail;
  }
  for (int k = 0; k < e.n_rules; k++) {
    e.active[k] = tg__rule_active(&e.rules[k], in->now_ms, in->member);
    e.used_store[k] = e.used_member[k] = -1;
  }
  sort_by_id(&e);

  /* Stacking: every stackable rule together, then each exclusive rule alone;
   * the largest total wins, ties to the stackable set, then the lowest id. */
  if ((rc = run_candidate(&e, -1, &e.cand[0])) != 0)
    goto fail;
  for (int o = 0; o < e.n_rules; o++) {
    int k = e.order[o];
    if (!e.active[k] || !e.rules[k].exclusive || !is_sale_rule(e.rules[k].type))
      continue;
    if ((rc = run_candidate(&e, k, &e.cand[1 - best])) != 0)
      goto fail;
    if (e.cand[1 - best].total > e.cand[best].total)
      best = 1 - best;
  }
  memcpy(out->line_off, e.cand[best].off, (size_t)e.n_lines * sizeof *out->line_off);
  memcpy(out->applied, e.cand[best].applied,
         (size_t)e.cand[best].n_applied * sizeof *out->applied);
  out->n_applied = e.cand[best].n_applied;

  if ((rc = apply_coupons(&e, out, cap)) != 0)
    goto fail;
  if (in->referral != NULL && (rc = apply_referral(&e, out, cap)) != 0)
    goto fail;
  if (in->member_new && in->member != 0)
    for (int k = 0; k < e.n_rules && out->welcome == NULL; k++)
      if (e.active[k] && e.rules[k].type == TG__RULE_WELCOME)
        out->welcome = &e.rules[k];
  for (int i = 0; i < e.n_lines; i++)
    out->total_off += out->line_off[i];
  tg__free(block);
  return 0;

fail:
  tg__free(block);
  tg__promo_result_free(out);
  return rc;
}

void tg__promo_result_free(tg__promo_result *r) {
  if (r == NULL)
    return;
  tg__free(r->line_off);
  tg__free(r->applied);
  memset(r, 0, sizeof *r);
}

/* The tier's points multiplier in basis points: 10000 when the bundle names none. */
static int64_t tier_bp(const tg__bundle *b, int tier) {
  for (int j = 0; j < min_int(b->n_tiers, TG__BUNDLE_TIERS); j++)
    if (b->tiers[j].tier == tier)
      return b->tiers[j].points_bp < 0 ? 0 : b->tiers[j].points_bp;
  return 10000;
}

int64_t tg__promo_points(const tg__bundle *b, int64_t now_ms, uint64_t member, int tier,
                         int64_t paid) {
  __int128 sum = 0;
  if (b == NULL || member == 0 || paid <= 0)
    return 0;
  int64_t bp = tier_bp(b, tier);
  for (int k = 0; k < b->n_rules; k++) {
    const tg__rule *r = &b->rules[k];
    if (r->type != TG__RULE_POINTS || r->per <= 0 || r->points <= 0 ||
        !tg__rule_active(r, now_ms, member))
      continue;
    __int128 earned = (__int128)(paid / r->per) * r->points; /* < 2^126 */
    if (bp > 0 && earned > (__int128)TG_MAX_AMOUNT * 10000)
      return TG_MAX_AMOUNT;
    sum += earned * bp / 10000; /* each rule rounded down */
    if (sum > TG_MAX_AMOUNT)
      return TG_MAX_AMOUNT;
  }
  return (int64_t)sum;
}
