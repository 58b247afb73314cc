/*
 * The record format: a committed sale, refund or void as the exact JSON bytes
 * HQ receives. Records are written once and never re-encoded, so a retried
 * upload and the nightly digest see the same bytes whatever version runs.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "pos.h"

#define RECORD_MAX (4 * 1024 * 1024) /* far above TG_MAX_LINES of the longest text */

typedef struct {
  char *p;
  size_t n, cap;
  int failed;
} buf;

static void put(buf *b, const char *z, size_t n) {
  if (b->failed)
    return;
  if (b->n + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 2048; /* a five-line sale is about 1 KB */
    while (cap < b->n + n + 1)
      cap *= 2;
    char *p = cap <= RECORD_MAX ? tg__realloc(b->p, cap) : NULL;
    if (p == NULL) {
      b->failed = 1;
      return;
    }
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->n, z, n);
  b->n += n;
  b->p[b->n] = '\0';
}

static void put_z(buf *b, const char *z) { put(b, z, strlen(z)); }

/* A JSON string. Input is valid UTF-8 without control characters (checked
 * when it entered), so only the quote and the backslash need escaping. */
static void put_str(buf *b, const char *z) {
  put(b, "\"", 1);
  for (size_t n; z[n = strcspn(z, "\"\\")] != '\0'; z += n + 1) {
    put(b, z, n);
    put(b, z[n] == '"' ? "\\\"" : "\\\\", 2);
  }
  put_z(b, z);
  put(b, "\"", 1);
}

/* "key":v, -- digits written by hand: this runs ~40 times a sale. */
static void put_int(buf *b, const char *key, int64_t v) {
  char num[24];
  char *p = num + sizeof num;
  uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
  *--p = ',';
  do
    *--p = (char)('0' + u % 10);
  while ((u /= 10) != 0);
  if (v < 0)
    *--p = '-';
  put(b, "\"", 1);
  put_z(b, key);
  put(b, "\":", 2);
  put(b, p, (size_t)(num + sizeof num - p));
}

static void put_text(buf *b, const char *key, const char *z) {
  put_z(b, "\"");
  put_z(b, key);
  put_z(b, "\":");
  put_str(b, z);
  put_z(b, ",");
}

/* Replaces the trailing comma of an object or array with its closing mark. */
static void close_with(buf *b, char mark) {
  if (!b->failed && b->n > 0 && b->p[b->n - 1] == ',')
    b->p[b->n - 1] = mark;
  else
    put(b, &mark, 1);
}

/* What the community engine gave and took on a sale; nothing for a sale without a bundle. */
static void put_community(buf *b, const tg_sale *s) {
  if (s->bundle_version == 0 || s->kind != TG_RECORD_SALE)
    return;
  put_z(b, "\"promotions\":[");
  for (int i = 0; i < s->n_applied; i++) {
    const tg__promo_applied *a = &s->applied[i];
    put_z(b, "{");
    put_int(b, "campaign", a->campaign);
    put_text(b, "type", tg__rule_type_name(a->type));
    put_text(b, "name", s->applied_names[i]);
    put_int(b, "amount", a->amount);
    if (a->line > 0)
      put_int(b, "line", a->line);
    if (a->qty_milli > 0) {
      put_int(b, "qty_milli", a->qty_milli);
      put_int(b, "price", a->price);
    }
    if (a->group_size > 0)
      put_int(b, "group_size", a->group_size);
    if (a->coupon != 0)
      put_int(b, "coupon", (int64_t)a->coupon);
    close_with(b, '}');
    put_z(b, ",");
  }
  close_with(b, ']');
  put_z(b, ",");
  put_int(b, "points_earned", s->points_earned);
  put_int(b, "points_spent", s->points_spent);
  if (s->invite[0] != '\0') {
    put_text(b, "invite", s->invite);
    put_int(b, "invite_expires_ms", s->invite_expires_ms);
  }
  if (s->issued[0] != '\0') {
    put_z(b, "\"coupon_issued\":{");
    put_int(b, "coupon", (int64_t)s->issued_id);
    put_int(b, "campaign", s->issued_campaign);
    put_text(b, "token", s->issued);
    put_text(b, "kind", s->issued_percent ? "percent" : "amount");
    put_int(b, "value", s->issued_value);
    put_int(b, "min_spend", s->issued_min_spend);
    put_int(b, "expires_ms", s->issued_expires_ms);
    close_with(b, '}');
    put_z(b, ",");
  }
  if (s->referral_campaign != 0) {
    put_z(b, "\"referral\":{");
    put_int(b, "referrer", (int64_t)s->referral.member_id);
    put_int(b, "campaign", s->referral_campaign);
    put_int(b, "rebate", s->referral_rebate);
    close_with(b, '}');
    put_z(b, ",");
  }
  put_int(b, "bundle", s->bundle_version);
}

int tg__record_encode(const tg_sale *s, const tg_totals *tot, const tg__tender *tenders,
                      int n_tenders, int64_t seq, const char *receipt, int64_t time_ms,
                      char **out, size_t *len) {
  const tg_terminal_info *in = &s->t->info;
  char uuid[TG_UUID_LEN + 1], original[TG_RECEIPT_MAX];
  buf b = {0};
  tg__uuid_format(s->uuid, uuid);
  put_z(&b, "{");
  put_text(&b, "store", in->store_id);
  put_text(&b, "terminal", in->terminal_id);
  put_int(&b, "epoch", in->epoch);
  put_int(&b, "seq", seq);
  put_text(&b, "kind", tg__record_kind_name(s->kind));
  put_text(&b, "uuid", uuid);
  put_int(&b, "time_ms", time_ms);
  put_text(&b, "currency", in->currency);
  if (receipt[0] != '\0')
    put_text(&b, "receipt", receipt);
  if (s->original_no > 0) {
    tg__receipt_format(s->t, s->original_no, original);
    put_text(&b, "original_receipt", original);
  }
  if (s->cashier != NULL)
    put_text(&b, "cashier", s->cashier);
  if (s->guide != NULL)
    put_text(&b, "guide", s->guide);
  if (s->member != 0) {
    put_int(&b, "member", (int64_t)s->member);
    put_int(&b, "member_tier", s->member_tier);
  }
  put_z(&b, "\"lines\":[");
  for (int i = 0; i < s->n_lines; i++) {
    const tg__line *l = &s->lines[i];
    put_z(&b, "{");
    put_int(&b, "line", i + 1);
    put_text(&b, "sku", l->sku);
    put_text(&b, "name", l->name);
    put_int(&b, "qty_milli", l->qty_milli);
    put_int(&b, "unit_price", l->unit_price);
    if (l->category != NULL)
      put_text(&b, "category", l->category);
    put_int(&b, "line_discount", l->line_discount);
    if (tot->promotion > 0)
      put_int(&b, "promotion", l->promotion);
    put_int(&b, "order_discount", l->order_discount);
    put_int(&b, "amount", l->amount);
    if (l->original_line > 0)
      put_int(&b, "original_line", l->original_line);
    close_with(&b, '}');
    put_z(&b, ",");
  }
  close_with(&b, ']');
  put_z(&b, ",");
  put_int(&b, "subtotal", tot->subtotal);
  if (tot->promotion > 0)
    put_int(&b, "promotion", tot->promotion);
  put_int(&b, "order_discount", tot->order_discount);
  put_int(&b, "total", tot->total);
  put_z(&b, "\"tenders\":[");
  for (int i = 0; i < n_tenders; i++) {
    put_z(&b, "{");
    put_text(&b, "kind", tg_tender_name(tenders[i].kind));
    put_int(&b, "amount", tenders[i].amount);
    if (tenders[i].reference != NULL)
      put_text(&b, "reference", tenders[i].reference);
    close_with(&b, '}');
    put_z(&b, ",");
  }
  close_with(&b, ']');
  put_z(&b, ",");
  put_int(&b, "tendered", tot->tendered);
  put_int(&b, "change", tot->change);
  put_community(&b, s);
  close_with(&b, '}');
  if (b.failed) {
    tg__free(b.p);
    return tg__fail(s->t, TG_ENOMEM, "%s", tg_strerror(TG_ENOMEM));
  }
  *out = b.p;
  *len = b.n;
  return 0;
}

/* Whether v lies in lo..hi. */
static int in_range(json_int_t v, json_int_t lo, json_int_t hi) { return v >= lo && v <= hi; }

/* Whether z is text a record may hold: at most max bytes of clean UTF-8. */
static int good_text(const char *z, size_t max) {
  size_t n = strlen(z);
  return n <= max && tg__utf8_valid(z, n);
}

static int decode_lines(json_t *lines, tg_receipt *r) {
  size_t n = json_array_size(lines), i;
  json_t *o;
  if (n < 1 || n > TG_MAX_LINES)
    return TG_ECORRUPT;
  r->lines = tg__malloc(n * sizeof *r->lines);
  if (r->lines == NULL)
    return TG_ENOMEM;
  memset(r->lines, 0, n * sizeof *r->lines);
  json_array_foreach(lines, i, o) {
    tg_receipt_line *l = &r->lines[i];
    const char *sku, *name;
    json_int_t qty, price, ld, od, amount, promo = 0;
    if (json_unpack(o, "{s:i, s:s, s:s, s:I, s:I, s:I, s?I, s:I, s:I, s?i}", "line",
                    &l->line_no, "sku", &sku, "name", &name, "qty_milli", &qty, "unit_price",
                    &price, "line_discount", &ld, "promotion", &promo, "order_discount", &od,
                    "amount", &amount, "original_line", &l->original_line) != 0 ||
        !in_range(promo, 0, TG_MAX_AMOUNT) ||
        l->line_no != (int)i + 1 || !good_text(sku, TG_MAX_SKU) ||
        !good_text(name, TG_MAX_NAME) || !in_range(qty, 1, TG_MAX_QTY_MILLI) ||
        !in_range(price, 0, TG_MAX_AMOUNT) || !in_range(ld, 0, TG_MAX_AMOUNT) ||
        !in_range(od, 0, TG_MAX_AMOUNT) || !in_range(amount, 0, TG_MAX_AMOUNT) ||
        !in_range(l->original_line, 0, TG_MAX_LINES))
      return TG_ECORRUPT;
    r->n_lines = (int)i + 1; /* from here on, tg_receipt_free frees this line */
    l->sku = tg__strdup(sku);
    l->name = tg__strdup(name);
    if (l->sku == NULL || l->name == NULL)
      return TG_ENOMEM;
    l->qty_milli = qty;
    l->unit_price = price;
    l->line_discount = ld;
    l->promotion = promo;
    l->order_discount = od;
    l->amount = amount;
  }
  return 0;
}

static int decode_tenders(json_t *tenders, tg_receipt *r) {
  size_t n = json_array_size(tenders), i;
  json_t *o;
  if (n > TG_MAX_TENDERS)
    return TG_ECORRUPT;
  r->tenders = tg__malloc((n ? n : 1) * sizeof *r->tenders);
  if (r->tenders == NULL)
    return TG_ENOMEM;
  json_array_foreach(tenders, i, o) {
    tg_receipt_tender *d = &r->tenders[i];
    const char *kind, *ref = "";
    json_int_t amount;
    if (json_unpack(o, "{s:s, s:I, s?s}", "kind", &kind, "amount", &amount, "reference",
                    &ref) != 0 ||
        tg_tender_parse(kind) < 0 || !in_range(amount, 1, TG_MAX_AMOUNT) ||
        !good_text(ref, TG_MAX_REFERENCE))
      return TG_ECORRUPT;
    d->kind = (tg_tender_kind)tg_tender_parse(kind);
    d->amount = amount;
    d->reference = tg__strdup(ref);
    if (d->reference == NULL)
      return TG_ENOMEM;
    r->n_tenders = (int)i + 1;
  }
  return 0;
}

/* The promotions, points, invite and coupon a sale's record carries. */
static int decode_community(json_t *root, tg_receipt *r) {
  json_t *promos = json_object_get(root, "promotions"), *o;
  const char *invite = "", *token = "", *kind = "amount";
  json_int_t member = 0, earned = 0, spent = 0, invite_exp = 0, value = 0, min = 0, exp = 0;
  size_t i, n = json_array_size(promos);
  if (json_unpack(root, "{s?I, s?I, s?I, s?s, s?I, s?{s:s, s:s, s:I, s:I, s:I}}", "member",
                  &member, "points_earned", &earned, "points_spent", &spent, "invite", &invite,
                  "invite_expires_ms", &invite_exp, "coupon_issued", "token", &token, "kind",
                  &kind, "value", &value, "min_spend", &min, "expires_ms", &exp) != 0 ||
      member < 0 || earned < 0 || spent < 0 || strlen(invite) > TG_CODE_MAX ||
      strlen(token) > TG_CODE_MAX || n > TG_MAX_LINES + TG__BUNDLE_RULES + TG__SALE_COUPONS)
    return TG_ECORRUPT;
  r->member = (uint64_t)member;
  r->points_earned = earned;
  r->points_spent = spent;
  memcpy(r->invite, invite, strlen(invite) + 1);
  r->invite_expires_ms = invite_exp;
  memcpy(r->coupon, token, strlen(token) + 1);
  r->coupon_percent = strcmp(kind, "percent") == 0;
  r->coupon_value = value;
  r->coupon_min_spend = min;
  r->coupon_expires_ms = exp;
  if (n == 0)
    return 0;
  if ((r->promotions = tg__malloc(n * sizeof *r->promotions)) == NULL)
    return TG_ENOMEM;
  json_array_foreach(promos, i, o) {
    tg_receipt_promotion *p = &r->promotions[i];
    const char *name;
    json_int_t campaign, amount;
    if (json_unpack(o, "{s:I, s:s, s:I}", "campaign", &campaign, "name", &name, "amount",
                    &amount) != 0 ||
        !in_range(campaign, 0, UINT32_MAX) || !good_text(name, TG__NAME_MAX) ||
        !in_range(amount, 0, TG_MAX_AMOUNT))
      return TG_ECORRUPT;
    if ((p->name = tg__strdup(name)) == NULL)
      return TG_ENOMEM;
    p->campaign = (uint32_t)campaign;
    p->amount = amount;
    r->n_promotions = (int)i + 1;
  }
  return 0;
}

int tg__record_decode(tg_terminal *t, const char *body, size_t len, tg_receipt **out) {
  json_t *root = json_loadb(body, len, 0, NULL), *lines, *tenders;
  const char *kind, *uuid, *receipt = "", *original = "", *cashier = "", *guide = "";
  json_int_t seq, time_ms, sub, disc, total, tendered, change, promo = 0;
  tg_receipt *r = tg__malloc(sizeof *r);
  int rc = TG_ECORRUPT;
  *out = NULL;
  if (r == NULL) {
    json_decref(root);
    return tg__fail(t, TG_ENOMEM, "%s", tg_strerror(TG_ENOMEM));
  }
  memset(r, 0, sizeof *r);
  if (root != NULL &&
      json_unpack(root,
                  "{s:I, s:s, s:s, s:I, s?s, s?s, s?s, s?s, s:o, s:I, s?I, s:I, s:I, s:o, s:I, s:I}",
                  "seq", &seq, "kind", &kind, "uuid", &uuid, "time_ms", &time_ms, "receipt",
                  &receipt, "original_receipt", &original, "cashier", &cashier, "guide", &guide,
                  "lines", &lines, "subtotal", &sub, "promotion", &promo,
                  "order_discount", &disc, "total", &total, "tenders", &tenders, "tendered",
                  &tendered, "change", &change) == 0 &&
      (r->kind = tg__record_kind_parse(kind)) != 0 && strlen(uuid) == TG_UUID_LEN &&
      strlen(receipt) < TG_RECEIPT_MAX && strlen(original) < TG_RECEIPT_MAX &&
      good_text(cashier, TG_MAX_STAFF) && good_text(guide, TG_MAX_STAFF) &&
      in_range(seq, 1, INT64_MAX) && in_range(sub, 0, TG_MAX_AMOUNT) &&
      in_range(promo, 0, sub) && in_range(disc, 0, sub - promo) && total == sub - promo - disc &&
      in_range(tendered, 0, TG_MAX_AMOUNT) &&
      in_range(change, 0, tendered)) {
    r->seq = seq;
    memcpy(r->uuid, uuid, TG_UUID_LEN + 1);
    memcpy(r->receipt, receipt, strlen(receipt) + 1);
    memcpy(r->original_receipt, original, strlen(original) + 1);
    memcpy(r->cashier, cashier, strlen(cashier) + 1);
    memcpy(r->guide, guide, strlen(guide) + 1);
    r->time_ms = time_ms;
    r->totals = (tg_totals){sub, disc, total, tendered, change, promo};
    rc = decode_lines(lines, r);
    if (rc == 0)
      rc = decode_tenders(tenders, r);
    if (rc == 0)
      rc = decode_community(root, r);
  }
  json_decref(root);
  if (rc != 0) {
    tg_receipt_free(r);
    return rc == TG_ENOMEM ? tg__fail(t, rc, "%s", tg_strerror(rc))
                           : tg__fail(t, rc, "a stored record is damaged");
  }
  *out = r;
  return 0;
}
