/* The community side of a sale: codes applied to it, campaign rules at compute, what a commit gives out. */
#include <sodium.h>
#include <string.h>

#include "pos.h"

#define DAY_MS (INT64_C(24) * 60 * 60 * 1000)
#define STAFF_ON_INVITE 16 /* bytes of UTF-8 an invite carries of the guide's name */

/* Judges the coupons and referral on s against its current lines; a sale
 * without lines is judged at commit. */
static int check_spend(tg_sale *s) {
  tg_totals tot;
  int rc = tg__sale_compute(s, &tot, 0);
  return rc == TG_EEMPTY ? 0 : rc;
}

static int apply_coupon(tg_sale *s, const tg__token *k);

/* 1 for an error of the terminal itself (memory, disk, database), not of a code. */
static int terminal_error(int rc) { return rc <= TG_ENOMEM && rc >= TG_ECANTOPEN; }

/* Applies the coupons HQ settled for the member just put on s, as if scanned; one the sale
 * cannot take (spent, expired, wrong store, too many, minimum spend) is left waiting. */
static int apply_waiting(tg_sale *s) {
  char tokens[TG__SALE_COUPONS][TG__TOKEN_TEXT_MAX + 1];
  tg_code c;
  tg__token k;
  int n, before = s->n_coupons, rc = tg__member_coupons(s->t, s->member, s->uuid, tokens,
                                                        TG__SALE_COUPONS, &n);
  for (int i = 0; rc == 0 && i < n && s->n_coupons < TG__SALE_COUPONS; i++) {
    rc = tg__code_read(s->t, tokens[i], strlen(tokens[i]), &c, &k);
    if (rc == TG_ESPENT && tg__usage_spent_by(s->t, k.coupon_id, s->uuid) == 1)
      s->coupons[s->n_coupons++] = k; /* a retry of the sale that spent it: commit answers it */
    else if (rc == 0 && c.kind == TG_CODE_COUPON)
      rc = apply_coupon(s, &k);
    if (!terminal_error(rc))
      rc = 0;
  }
  if (rc != 0) { /* as before the member was scanned */
    s->n_coupons = before;
    s->member = 0;
    s->member_tier = s->member_new = 0;
  }
  return rc;
}

static int apply_member(tg_sale *s, const tg_code *c) {
  tg_terminal *t = s->t;
  const tg__rule *rule;
  tg__member m;
  int rc;
  if (s->member == c->member)
    return 0;
  if (s->member != 0)
    return tg__fail(t, TG_EMEMBER, "member %llu is already on this sale",
                    (unsigned long long)s->member);
  if (s->has_referral)
    return tg__fail(t, TG_EREFERRAL,
                    "this sale carries a referral code, which is for new buyers: a member "
                    "cannot add one");
  for (int i = 0; i < s->n_coupons; i++)
    if ((rc = tg__coupon_judge(t, &s->coupons[i], c->member, &rule)) != 0 &&
        !(rc == TG_ESPENT && tg__usage_spent_by(t, s->coupons[i].coupon_id, s->uuid) == 1))
      return rc;
  if ((rc = tg__member_find(t, c->member, &m)) < 0)
    return rc;
  s->member = c->member;
  s->member_tier = c->tier;
  s->member_new = rc == 1 && m.is_new;
  return apply_waiting(s);
}

static int apply_coupon(tg_sale *s, const tg__token *k) {
  tg_terminal *t = s->t;
  const tg__rule *rule;
  int rc;
  if (s->n_coupons >= TG__SALE_COUPONS)
    return tg__fail(t, TG_ETOOMANY, "a sale takes at most %d coupons", TG__SALE_COUPONS);
  for (int i = 0; i < s->n_coupons; i++)
    if (s->coupons[i].coupon_id == k->coupon_id)
      return tg__fail(t, TG_ESPENT, "coupon %llu is already on this sale",
                      (unsigned long long)k->coupon_id);
  if (s->member != 0 && (rc = tg__coupon_judge(t, k, s->member, &rule)) != 0)
    return rc;
  s->coupons[s->n_coupons++] = *k;
  if ((rc = check_spend(s)) != 0)
    s->n_coupons--;
  return rc;
}

static int apply_referral(tg_sale *s, const tg__token *k) {
  int rc;
  if (s->member != 0 || s->has_referral)
    return tg__fail(s->t, TG_EREFERRAL, "%s",
                    s->member ? "a referral code is for a new buyer; this sale has a member"
                              : "this sale already has a referral code");
  s->referral = *k;
  s->has_referral = 1;
  if ((rc = check_spend(s)) != 0)
    s->has_referral = 0;
  return rc;
}

int tg_sale_apply_code(tg_sale *s, const char *text, size_t len, tg_code *out) {
  tg__token k;
  int rc;
  if (s->state != TG__SALE_OPEN)
    return tg__fail(s->t, TG_ESTATE, "%s", tg_strerror(TG_ESTATE));
  if (s->kind != TG_RECORD_SALE)
    return tg__fail(s->t, TG_EINVAL, "codes apply to sales, not refunds");
  rc = tg__code_read(s->t, text, len, out, &k);
  if (rc == TG_ESPENT && s->n_coupons < TG__SALE_COUPONS &&
      tg__usage_spent_by(s->t, k.coupon_id, s->uuid) == 1) {
    s->coupons[s->n_coupons++] = k; /* a retry of the sale that spent it: commit answers it */
    return 0;
  }
  if (rc != 0)
    return rc;
  switch (out->kind) {
  case TG_CODE_MEMBER: return apply_member(s, out);
  case TG_CODE_COUPON: return apply_coupon(s, &k);
  case TG_CODE_REFERRAL: return apply_referral(s, &k);
  default: return 0; /* a product: the host adds its line */
  }
}

int tg_sale_clear_codes(tg_sale *s) {
  if (s->state != TG__SALE_OPEN)
    return tg__fail(s->t, TG_ESTATE, "%s", tg_strerror(TG_ESTATE));
  s->member = 0;
  s->member_tier = s->member_new = 0;
  s->n_coupons = 0;
  s->has_referral = 0;
  return 0;
}

/* The flash-sale usage the evaluation asks for. */
static int flash_used(void *ctx, tg__usage what, const tg__rule *r, uint64_t member,
                      int64_t *out) {
  tg_sale *s = ctx;
  return tg__usage_flash(s->t, r->id, r->lease, what == TG__USED_FLASH_MEMBER ? member : 0, out);
}

void tg__sale_forget_promotions(tg_sale *s) {
  tg__free(s->applied);
  tg__free(s->applied_names);
  s->applied = NULL;
  s->applied_names = NULL;
  s->n_applied = 0;
  s->bundle_version = 0;
  s->issued_campaign = s->referral_campaign = 0;
  s->referral_rebate = 0;
}

/* Keeps what the evaluation applied, with the names to print, for the record. */
static int keep_result(tg_sale *s, const tg__bundle *b, const tg__promo_result *r) {
  if (r->n_applied > 0) {
    s->applied = tg__malloc((size_t)r->n_applied * sizeof *s->applied);
    s->applied_names = tg__malloc((size_t)r->n_applied * sizeof *s->applied_names);
    if (s->applied == NULL || s->applied_names == NULL)
      return tg__fail(s->t, TG_ENOMEM, "%s", tg_strerror(TG_ENOMEM));
    memcpy(s->applied, r->applied, (size_t)r->n_applied * sizeof *s->applied);
    for (int i = 0; i < r->n_applied; i++) {
      const tg__rule *rule = tg__bundle_rule(b, r->applied[i].campaign);
      memcpy(s->applied_names[i], rule != NULL ? rule->name : "", sizeof s->applied_names[i]);
    }
    s->n_applied = r->n_applied;
  }
  s->bundle_version = b->version;
  s->issued_campaign = r->welcome != NULL ? r->welcome->id : 0;
  if (r->referral != NULL) {
    s->referral_campaign = r->referral->id;
    s->referral_rebate = r->referral->rebate;
  }
  return 0;
}

int tg__sale_promote(tg_sale *s, int64_t *promotion) {
  tg_terminal *t = s->t;
  const tg__bundle *b;
  tg__promo_result res;
  int day, minute, rc = tg__bundle_current(t, &b);
  int64_t now = tg__now_ms();
  tg__sale_forget_promotions(s);
  *promotion = 0;
  for (int i = 0; i < s->n_lines; i++)
    s->lines[i].promotion = 0;
  if (rc != 0 || (b == NULL && s->n_coupons == 0 && !s->has_referral))
    return rc;
  if (b == NULL)
    return tg__fail(t, TG_ECAMPAIGN, "no config bundle is applied: codes cannot be honoured");
  if ((rc = tg__local_time(t, now, &day, &minute)) != 0)
    return rc;
  tg__promo_input in = {b, s->lines, s->n_lines, now, day, minute, s->member, s->member_tier,
                        s->member_new, s->coupons, s->n_coupons,
                        s->has_referral ? &s->referral : NULL, flash_used, s};
  rc = tg__promo_evaluate(&in, &res);
  if (rc == TG_EMINSPEND)
    return tg__fail(t, rc, "a coupon or referral code on this sale needs a higher spend after "
                           "promotions: add items or remove the codes");
  if (rc == TG_ECAMPAIGN)
    return tg__fail(t, rc, "no referral campaign is running at this store now");
  if (rc != 0)
    return rc == TG_ENOMEM ? tg__fail(t, rc, "%s", tg_strerror(rc)) : rc;
  for (int i = 0; i < s->n_lines; i++)
    s->lines[i].promotion = res.line_off[i];
  *promotion = res.total_off;
  rc = keep_result(s, b, &res);
  tg__promo_result_free(&res);
  if (rc != 0)
    tg__sale_forget_promotions(s);
  return rc;
}

int tg__sale_points_check(tg_sale *s, const tg_totals *tot, int64_t *points) {
  char m1[TG_MONEY_BUF], m2[TG_MONEY_BUF];
  tg_terminal *t = s->t;
  const tg__bundle *b;
  tg__member m;
  int64_t paid = 0, used = 0;
  int x = t->info.currency_exponent, rc;
  *points = 0;
  for (int i = 0; i < s->n_tenders; i++)
    if (s->tenders[i].kind == TG_TENDER_POINTS)
      paid += s->tenders[i].amount; /* bounded when added */
  if (paid == 0)
    return 0;
  if (s->member == 0)
    return tg__fail(t, TG_EMEMBER, "points can pay only once the member's code is scanned");
  if ((rc = tg__bundle_current(t, &b)) != 0)
    return rc;
  if (b == NULL || b->point_value == 0)
    return tg__fail(t, TG_ECAMPAIGN, "this store does not take points as payment");
  if (paid % b->point_value != 0)
    return tg__fail(t, TG_ETENDER, "points pay in steps of %s",
                    tg__money_format(b->point_value, x, m1));
  /* paid * 10000 stays below 2^63: paid <= 10^15 */
  if (paid > tot->total || (__int128)paid * 10000 > (__int128)tot->total * b->points_max_bp)
    return tg__fail(t, TG_ELIMIT, "points may pay at most %lld.%02lld%% of a sale: %s here",
                    (long long)(b->points_max_bp / 100), (long long)(b->points_max_bp % 100),
                    tg__money_format(tot->total * b->points_max_bp / 10000, x, m2));
  *points = paid / b->point_value;
  if ((rc = tg__member_find(t, s->member, &m)) < 0 ||
      (rc == 1 && (rc = tg__usage_points(t, s->member, b->version, &used)) != 0))
    return rc;
  if (*points > m.points_lease - used)
    return tg__fail(t, TG_ELEASE, "member %llu may spend %lld more points on this till offline",
                    (unsigned long long)s->member,
                    (long long)(m.points_lease > used ? m.points_lease - used : 0));
  return 0;
}

/* The guide's (else the cashier's) name cut to what an invite carries, on a character boundary. */
static void staff_for_invite(const tg_sale *s, char *out) {
  const char *z = s->guide != NULL ? s->guide : s->cashier != NULL ? s->cashier : "";
  size_t n = 0, k, len = strlen(z);
  while (n < len && (k = tg__utf8_char(z + n, len - n)) > 0 && n + k <= STAFF_ON_INVITE)
    n += k;
  memcpy(out, z, n);
  out[n] = '\0';
}

static int write_invite(tg_sale *s, const tg__bundle *b, int64_t receipt_no, int64_t now) {
  tg_terminal *t = s->t;
  unsigned char secret[32];
  tg__token k = {.type = TG__TOKEN_INVITE, .receipt_no = (uint32_t)receipt_no,
                 .valid_days = b->invite_days, .issued_ms = now};
  int rc = tg__keyring_get(t, TG__TOKEN_INVITE, &k.key_id, secret, sizeof secret, NULL);
  if (rc != 0)
    return rc;
  memcpy(k.store, t->info.store_id, sizeof k.store);
  memcpy(k.terminal, t->info.terminal_id, sizeof k.terminal);
  staff_for_invite(s, k.staff);
  rc = tg__token_encode(&k, secret, s->invite, sizeof s->invite);
  sodium_memzero(secret, sizeof secret);
  if (rc < 0)
    return tg__fail(t, rc, "could not write the invite");
  s->invite_expires_ms = now - now % 60000 + (int64_t)b->invite_days * DAY_MS;
  return 0;
}

static int write_welcome(tg_sale *s, const tg__rule *r, int64_t seq, int64_t now) {
  tg_terminal *t = s->t;
  unsigned char sk[crypto_sign_SECRETKEYBYTES];
  tg__token k = {.type = TG__TOKEN_COUPON, .campaign_id = r->id, .coupon_kind = r->coupon_kind,
                 .value = (uint32_t)r->coupon_value, .min_spend = (uint32_t)r->coupon_min_spend,
                 .issued_ms = now, .expires_ms = now + (int64_t)r->coupon_days * DAY_MS,
                 .single_use = 1};
  int rc = tg__usage_issued(t, s->member, r->id);
  if (rc != 0)
    return rc < 0 ? rc : 0; /* this member had theirs here already */
  if ((rc = tg__keyring_get(t, TG__TOKEN_COUPON, &k.key_id, sk, sizeof sk, NULL)) != 0)
    return rc;
  randombytes_buf(&k.coupon_id, sizeof k.coupon_id);
  k.coupon_id = (k.coupon_id & ((UINT64_C(1) << 53) - 1)) | 1; /* JSON-safe, never 0 */
  rc = tg__token_encode(&k, sk, s->issued, sizeof s->issued);
  sodium_memzero(sk, sizeof sk);
  if (rc < 0)
    return tg__fail(t, rc, "could not write the welcome coupon");
  s->issued_id = k.coupon_id;
  s->issued_percent = k.coupon_kind == TG__COUPON_PERCENT;
  s->issued_value = k.value;
  s->issued_min_spend = k.min_spend;
  s->issued_expires_ms = k.expires_ms - k.expires_ms % 60000;
  return tg__usage_add_issued(t, k.coupon_id, r->id, s->member, seq);
}

int tg__sale_community_write(tg_sale *s, const tg_totals *tot, int64_t seq, int64_t receipt_no,
                             int64_t now) {
  tg_terminal *t = s->t;
  const tg__bundle *b;
  const tg__rule *rule;
  int64_t points_paid = 0;
  int rc = tg__bundle_current(t, &b);
  s->invite[0] = s->issued[0] = '\0';
  s->points_earned = 0;
  if (rc != 0 || b == NULL || s->kind != TG_RECORD_SALE)
    return rc;
  for (int i = 0; i < s->n_coupons; i++)
    if ((rc = tg__coupon_judge(t, &s->coupons[i], s->member, &rule)) != 0 ||
        (rc = tg__usage_add_redemption(t, &s->coupons[i], rule->lease, s->member, seq)) != 0)
      return rc;
  for (int i = 0; i < s->n_applied; i++)
    if (s->applied[i].type == TG__RULE_FLASH && s->applied[i].qty_milli > 0 &&
        (rule = tg__bundle_rule(b, s->applied[i].campaign)) != NULL &&
        (rc = tg__usage_add_flash(t, rule->id, rule->lease, s->member, s->applied[i].qty_milli,
                                  seq)) != 0)
      return rc;
  if (s->points_spent > 0) { /* judged by the compute inside this transaction */
    points_paid = s->points_spent * b->point_value;
    if ((rc = tg__usage_add_points(t, s->member, b->version, s->points_spent, seq)) != 0)
      return rc;
  }
  s->points_earned = tg__promo_points(b, now, s->member, s->member_tier, tot->total - points_paid);
  if (b->invites && s->member == 0 && tot->total >= b->invite_min_spend &&
      (rc = write_invite(s, b, receipt_no, now)) != 0)
    return rc;
  if (s->issued_campaign != 0 && s->member != 0 &&
      (rule = tg__bundle_rule(b, s->issued_campaign)) != NULL &&
      (rc = write_welcome(s, rule, seq, now)) != 0)
    return rc;
  return 0;
}
