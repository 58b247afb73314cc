/* A sale being rung up: lines, discounts and tenders held in memory until commit. */
#include <sodium.h>
#include <string.h>

#include "pos.h"

static const char *const tender_names[] = {NULL, "cash", "card", "wallet", "coupon", "points"};
#define N_TENDER_NAMES (int)(sizeof tender_names / sizeof tender_names[0])

const char *tg_tender_name(tg_tender_kind kind) {
  return (int)kind > 0 && (int)kind < N_TENDER_NAMES ? tender_names[kind] : NULL;
}

int tg_tender_parse(const char *name) {
  for (int k = 1; name != NULL && k < N_TENDER_NAMES; k++)
    if (strcmp(name, tender_names[k]) == 0)
      return k;
  return TG_ETENDER;
}

int tg__sale_new(tg_terminal *t, const char *uuid, tg_record_kind kind, tg_sale **out) {
  unsigned char u[16];
  *out = NULL;
  if (tg__uuid_parse(uuid, u) != 0)
    return tg__fail(t, TG_EUUID, "sale id '%.40s' is not a UUID like "
                    "123e4567-e89b-12d3-a456-426614174000", uuid ? uuid : "");
  tg_sale *s = tg__malloc(sizeof *s);
  if (s == NULL)
    return tg__fail(t, TG_ENOMEM, "%s", tg_strerror(TG_ENOMEM));
  memset(s, 0, sizeof *s);
  s->t = t;
  s->kind = kind;
  memcpy(s->uuid, u, sizeof u);
  *out = s;
  return 0;
}

int tg_sale_begin(tg_terminal *t, const char *uuid, tg_sale **out) {
  return tg__sale_new(t, uuid, TG_RECORD_SALE, out);
}

int tg__sale_append(tg_sale *s, const tg__line *line) {
  if (s->n_lines == s->cap_lines) {
    int cap = s->cap_lines ? s->cap_lines * 2 : 8;
    tg__line *p = tg__realloc(s->lines, (size_t)cap * sizeof *p);
    if (p == NULL)
      return tg__fail(s->t, TG_ENOMEM, "%s", tg_strerror(TG_ENOMEM));
    s->lines = p;
    s->cap_lines = cap;
  }
  tg__line *l = &s->lines[s->n_lines];
  *l = *line;
  l->sku = tg__strdup(line->sku);
  l->name = tg__strdup(line->name);
  l->category = line->category != NULL ? tg__strdup(line->category) : NULL;
  if (l->sku == NULL || l->name == NULL || (line->category != NULL && l->category == NULL)) {
    tg__free(l->sku);
    tg__free(l->name);
    tg__free(l->category);
    return tg__fail(s->t, TG_ENOMEM, "%s", tg_strerror(TG_ENOMEM));
  }
  s->n_lines++;
  return 0;
}

/* An amount in the terminal's currency, for messages. */
static const char *money(const tg_terminal *t, int64_t v, char *buf) {
  return tg__money_format(v, t->info.currency_exponent, buf);
}

/* The line's amount before any discount: qty x price, rounded half-up. */
static int line_gross(const tg__line *l, int64_t *out) {
  return tg__mul_div_half_up(l->qty_milli, l->unit_price, 1000, out);
}

int tg_sale_add_line(tg_sale *s, const tg_line *in) {
  char m1[TG_MONEY_BUF], m2[TG_MONEY_BUF];
  tg_terminal *t = s->t;
  int no = s->n_lines + 1, rc;
  int64_t gross, subtotal = s->subtotal;
  if (s->state != TG__SALE_OPEN)
    return tg__fail(t, TG_ESTATE, "%s", tg_strerror(TG_ESTATE));
  if (s->kind != TG_RECORD_SALE)
    return tg__fail(t, TG_EINVAL, "a refund takes lines of its receipt (tg_refund_add_line)");
  if (s->n_lines >= TG_MAX_LINES)
    return tg__fail(t, TG_ETOOMANY, "a sale holds at most %d lines", TG_MAX_LINES);
  if ((rc = tg__text_check(t, no, "SKU", in->sku, TG_MAX_SKU, 0)) != 0 ||
      (rc = tg__text_check(t, no, "name", in->name, TG_MAX_NAME, 0)) != 0 ||
      (in->category != NULL &&
       (rc = tg__text_check(t, no, "category", in->category, TG_MAX_SKU, 0)) != 0))
    return rc;
  if (in->qty_milli <= 0 || in->qty_milli > TG_MAX_QTY_MILLI)
    return tg__fail(t, TG_EQTY,
                    "line %d: quantity %lld thousandths is not within 1..%lld", no,
                    (long long)in->qty_milli, (long long)TG_MAX_QTY_MILLI);
  if (in->unit_price < 0 || in->discount < 0)
    return tg__fail(t, TG_EPRICE, "line %d: price and discount must not be negative", no);
  if (in->unit_price > TG_MAX_AMOUNT)
    return tg__fail(t, TG_EOVERFLOW, "line %d: unit price is over %lld", no,
                    (long long)TG_MAX_AMOUNT);
  tg__line l = {.sku = (char *)in->sku, .name = (char *)in->name,
                .category = (char *)in->category, .qty_milli = in->qty_milli,
                .unit_price = in->unit_price, .line_discount = in->discount};
  if (line_gross(&l, &gross) != 0)
    return tg__fail(t, TG_EOVERFLOW, "line %d: quantity x price is over %lld", no,
                    (long long)TG_MAX_AMOUNT);
  if (in->discount > gross)
    return tg__fail(t, TG_EDISCOUNT, "line %d: discount %s is more than the line's %s", no,
                    money(t, in->discount, m1), money(t, gross, m2));
  if (tg__amount_add(&subtotal, gross - in->discount) != 0)
    return tg__fail(t, TG_EOVERFLOW, "line %d: the sale total would be over %lld", no,
                    (long long)TG_MAX_AMOUNT);
  if ((rc = tg__sale_append(s, &l)) == 0)
    s->subtotal = subtotal;
  return rc;
}

int tg_sale_set_staff(tg_sale *s, const char *cashier, const char *guide) {
  char *c = NULL, *g = NULL;
  int rc;
  if (s->state != TG__SALE_OPEN)
    return tg__fail(s->t, TG_ESTATE, "%s", tg_strerror(TG_ESTATE));
  if ((rc = tg__text_check(s->t, 0, "cashier", cashier, TG_MAX_STAFF, 1)) != 0 ||
      (rc = tg__text_check(s->t, 0, "guide", guide, TG_MAX_STAFF, 1)) != 0)
    return rc;
  if ((cashier != NULL && cashier[0] && (c = tg__strdup(cashier)) == NULL) ||
      (guide != NULL && guide[0] && (g = tg__strdup(guide)) == NULL)) {
    tg__free(c);
    return tg__fail(s->t, TG_ENOMEM, "%s", tg_strerror(TG_ENOMEM));
  }
  tg__free(s->cashier);
  tg__free(s->guide);
  s->cashier = c;
  s->guide = g;
  return 0;
}

int tg_sale_set_order_discount(tg_sale *s, int64_t amount) {
  if (s->state != TG__SALE_OPEN)
    return tg__fail(s->t, TG_ESTATE, "%s", tg_strerror(TG_ESTATE));
  if (s->kind != TG_RECORD_SALE)
    return tg__fail(s->t, TG_EINVAL, "a refund has no order discount of its own");
  if (amount < 0)
    return tg__fail(s->t, TG_EPRICE, "order discount must not be negative");
  if (amount > TG_MAX_AMOUNT)
    return tg__fail(s->t, TG_EOVERFLOW, "order discount is over %lld", (long long)TG_MAX_AMOUNT);
  s->discount_is_percent = 0;
  s->discount_amount = amount;
  s->discount_bp = 0;
  return 0;
}

int tg_sale_set_order_discount_percent(tg_sale *s, int64_t basis_points) {
  if (s->state != TG__SALE_OPEN)
    return tg__fail(s->t, TG_ESTATE, "%s", tg_strerror(TG_ESTATE));
  if (s->kind != TG_RECORD_SALE)
    return tg__fail(s->t, TG_EINVAL, "a refund has no order discount of its own");
  if (basis_points < 0 || basis_points > 10000)
    return tg__fail(s->t, TG_EDISCOUNT,
                    "order discount of %lld basis points is not within 0..10000 (0-100%%)",
                    (long long)basis_points);
  s->discount_is_percent = 1;
  s->discount_amount = 0;
  s->discount_bp = basis_points;
  return 0;
}

int tg_sale_add_tender(tg_sale *s, tg_tender_kind kind, int64_t amount, const char *reference) {
  tg_terminal *t = s->t;
  int64_t sum = 0;
  int rc;
  if (s->state != TG__SALE_OPEN)
    return tg__fail(t, TG_ESTATE, "%s", tg_strerror(TG_ESTATE));
  if (tg_tender_name(kind) == NULL)
    return tg__fail(t, TG_ETENDER, "tender kind %d is not cash, card, wallet, coupon or points",
                    (int)kind);
  if (amount <= 0)
    return tg__fail(t, TG_ETENDER, "a %s tender must be a positive amount", tg_tender_name(kind));
  if (s->n_tenders >= TG_MAX_TENDERS)
    return tg__fail(t, TG_ETOOMANY, "a sale takes at most %d tenders", TG_MAX_TENDERS);
  if ((rc = tg__text_check(t, 0, "tender reference", reference, TG_MAX_REFERENCE, 1)) != 0)
    return rc;
  for (int i = 0; i < s->n_tenders; i++)
    tg__amount_add(&sum, s->tenders[i].amount);
  if (amount > TG_MAX_AMOUNT || tg__amount_add(&sum, amount) != 0)
    return tg__fail(t, TG_EOVERFLOW, "tenders would be over %lld", (long long)TG_MAX_AMOUNT);
  char *ref = NULL;
  if (reference != NULL && reference[0] != '\0' && (ref = tg__strdup(reference)) == NULL)
    return tg__fail(t, TG_ENOMEM, "%s", tg_strerror(TG_ENOMEM));
  s->tenders[s->n_tenders++] = (tg__tender){kind, amount, ref};
  return 0;
}

/* Line amounts and the order discount of a sale. */
static int compute_sale_lines(tg_sale *s, tg_totals *tot) {
  int64_t nets_fixed[64], shares_fixed[64];
  int64_t *nets = nets_fixed, *shares = shares_fixed;
  int rc = 0;
  if (s->n_lines > 64) {
    nets = tg__malloc((size_t)s->n_lines * sizeof *nets);
    shares = tg__malloc((size_t)s->n_lines * sizeof *shares);
    if (nets == NULL || shares == NULL) {
      rc = tg__fail(s->t, TG_ENOMEM, "%s", tg_strerror(TG_ENOMEM));
      goto done;
    }
  }
  for (int i = 0; i < s->n_lines; i++) {
    int64_t gross;
    line_gross(&s->lines[i], &gross); /* bounded when the line was added */
    nets[i] = gross - s->lines[i].line_discount;
    tg__amount_add(&tot->subtotal, nets[i]);
  }
  if (s->kind == TG_RECORD_SALE && (rc = tg__sale_promote(s, &tot->promotion)) != 0)
    goto done;
  for (int i = 0; i < s->n_lines; i++)
    nets[i] -= s->lines[i].promotion;
  int64_t after = tot->subtotal - tot->promotion; /* the order discount applies to this */
  if (s->discount_is_percent)
    tg__mul_div_half_up(after, s->discount_bp, 10000, &tot->order_discount);
  else
    tot->order_discount = s->discount_amount;
  if (tot->order_discount > after) {
    char m1[TG_MONEY_BUF], m2[TG_MONEY_BUF];
    rc = tg__fail(s->t, TG_EDISCOUNT, "order discount %s is more than the subtotal %s",
                  money(s->t, tot->order_discount, m1), money(s->t, after, m2));
    goto done;
  }
  tg__allocate(tot->order_discount, nets, shares, s->n_lines);
  for (int i = 0; i < s->n_lines; i++) {
    s->lines[i].order_discount = shares[i];
    s->lines[i].amount = nets[i] - shares[i];
  }
  tot->total = after - tot->order_discount;
done:
  if (nets != nets_fixed)
    tg__free(nets);
  if (shares != shares_fixed)
    tg__free(shares);
  return rc;
}

/* Refund amounts: each line returns its share of what was paid for it, with
 * cumulative rounding so that refunding everything returns exactly the paid
 * amount, however it was split. */
static int compute_refund_lines(tg_sale *s, tg_totals *tot) {
  for (int i = 0; i < s->n_lines; i++) {
    tg__line *l = &s->lines[i];
    const tg__refundable *o = &s->refundable[l->original_line - 1];
    int64_t after = o->refunded_milli + l->qty_milli, upto;
    if (after > o->qty_milli)
      return tg__fail(s->t, TG_EOVERREFUND,
                      "line %d: refunding %lld thousandths but only %lld of %lld remain",
                      l->original_line, (long long)l->qty_milli,
                      (long long)(o->qty_milli - o->refunded_milli), (long long)o->qty_milli);
    tg__mul_div_half_up(o->amount, after, o->qty_milli, &upto);
    l->amount = upto - o->refunded_amount;
    l->line_discount = 0;
    l->order_discount = 0;
    tg__amount_add(&tot->subtotal, l->amount);
  }
  tot->total = tot->subtotal;
  return 0;
}

int tg__sale_compute(tg_sale *s, tg_totals *tot, int with_tenders) {
  char m1[TG_MONEY_BUF], m2[TG_MONEY_BUF], m3[TG_MONEY_BUF];
  int64_t cash = 0;
  int rc;
  memset(tot, 0, sizeof *tot);
  if (s->n_lines == 0)
    return tg__fail(s->t, TG_EEMPTY, "%s", tg_strerror(TG_EEMPTY));
  rc = s->kind == TG_RECORD_REFUND ? compute_refund_lines(s, tot) : compute_sale_lines(s, tot);
  if (rc != 0)
    return rc;
  for (int i = 0; i < s->n_tenders; i++) {
    tg__amount_add(&tot->tendered, s->tenders[i].amount); /* bounded when added */
    if (s->tenders[i].kind == TG_TENDER_CASH)
      cash += s->tenders[i].amount;
  }
  if (s->kind == TG_RECORD_REFUND) {
    if (s->n_tenders == 0)
      tot->tendered = tot->total; /* all back in cash */
    else if (with_tenders && tot->tendered != tot->total)
      return tg__fail(s->t, TG_ETENDER, "refund tenders add up to %s, not the refund's %s",
                      money(s->t, tot->tendered, m1), money(s->t, tot->total, m2));
    return 0;
  }
  if (with_tenders && tot->tendered < tot->total)
    return tg__fail(s->t, TG_ESHORT, "tenders %s are short of the total %s by %s",
                    money(s->t, tot->tendered, m1), money(s->t, tot->total, m2),
                    money(s->t, tot->total - tot->tendered, m3));
  if (with_tenders && tot->tendered - cash > tot->total)
    return tg__fail(s->t, TG_ETENDER,
                    "non-cash tenders %s exceed the total %s: change is given only from cash",
                    money(s->t, tot->tendered - cash, m1), money(s->t, tot->total, m2));
  if (with_tenders && (rc = tg__sale_points_check(s, tot, &s->points_spent)) != 0)
    return rc;
  tot->change = tot->tendered > tot->total ? tot->tendered - tot->total : 0;
  return 0;
}

int tg_sale_get_totals(tg_sale *s, tg_totals *out) { return tg__sale_compute(s, out, 0); }

static void hash_i64(crypto_generichash_state *h, int64_t v) {
  unsigned char b[8];
  for (int i = 0; i < 8; i++)
    b[i] = (unsigned char)((uint64_t)v >> (8 * i));
  crypto_generichash_update(h, b, sizeof b);
}

static void hash_str(crypto_generichash_state *h, const char *z) {
  size_t n = z != NULL ? strlen(z) : 0;
  hash_i64(h, (int64_t)n);
  crypto_generichash_update(h, (const unsigned char *)z, n);
}

void tg__sale_digest(const tg_sale *s, unsigned char out[TG_DIGEST_LEN]) {
  crypto_generichash_state h;
  crypto_generichash_init(&h, NULL, 0, TG_DIGEST_LEN);
  hash_i64(&h, s->kind);
  hash_i64(&h, s->original_no);
  hash_i64(&h, s->n_lines);
  for (int i = 0; i < s->n_lines; i++) {
    const tg__line *l = &s->lines[i];
    hash_str(&h, l->sku);
    hash_str(&h, l->name);
    hash_i64(&h, l->qty_milli);
    hash_i64(&h, l->unit_price);
    hash_i64(&h, l->line_discount);
    hash_i64(&h, l->original_line);
  }
  hash_i64(&h, s->discount_is_percent);
  hash_i64(&h, s->discount_amount);
  hash_i64(&h, s->discount_bp);
  hash_i64(&h, s->n_tenders);
  for (int i = 0; i < s->n_tenders; i++) {
    hash_i64(&h, s->tenders[i].kind);
    hash_i64(&h, s->tenders[i].amount);
    hash_str(&h, s->tenders[i].reference);
  }
  if (s->cashier != NULL || s->guide != NULL) { /* absent from sales made before staff existed */
    hash_str(&h, s->cashier);
    hash_str(&h, s->guide);
  }
  if (s->member != 0 || s->n_coupons > 0 || s->has_referral) { /* likewise codes */
    hash_i64(&h, (int64_t)s->member);
    hash_i64(&h, s->n_coupons);
    for (int i = 0; i < s->n_coupons; i++)
      hash_i64(&h, (int64_t)s->coupons[i].coupon_id);
    hash_i64(&h, s->has_referral ? (int64_t)s->referral.member_id : 0);
  }
  for (int i = 0; i < s->n_lines; i++)
    if (s->lines[i].category != NULL) { /* likewise categories */
      hash_i64(&h, i);
      hash_str(&h, s->lines[i].category);
    }
  crypto_generichash_final(&h, out, TG_DIGEST_LEN);
}

void tg_sale_free(tg_sale *s) {
  if (s == NULL)
    return;
  for (int i = 0; i < s->n_lines; i++) {
    tg__free(s->lines[i].sku);
    tg__free(s->lines[i].name);
    tg__free(s->lines[i].category);
  }
  tg__free(s->lines);
  tg__sale_forget_promotions(s);
  for (int i = 0; i < s->n_tenders; i++)
    tg__free(s->tenders[i].reference);
  tg__free(s->cashier);
  tg__free(s->guide);
  for (int i = 0; i < s->n_refundable; i++) {
    tg__free(s->refundable[i].sku);
    tg__free(s->refundable[i].name);
  }
  tg__free(s->refundable);
  tg__free(s);
}
