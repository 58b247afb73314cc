/* What a receipt shows: a committed sale, or a reference receipt in JSON, as a document to render. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "pos.h"
#include "community.h"

#define META_MAX 8
#define ROWS_MAX 16
#define PROMOTION_ROWS 10 /* more promotions than this print as one row */
#define COUPONS_MAX 4

struct tg__receipt_doc {
  tg__doc doc;
  const char *header[TG_RECEIPT_LINES], *footer[TG_RECEIPT_LINES];
  tg__doc_row meta[META_MAX], totals[ROWS_MAX], payments[TG_MAX_TENDERS + 1];
  tg__doc_coupon coupons[COUPONS_MAX];
  tg__doc_item *items;
  char **strs;                /* every string the document owns */
  size_t n_strs, cap_strs;
  int nomem;
};

/* Labels in the receipt's language: English, Chinese. */
enum { L_STORE, L_RECEIPT, L_ORIGINAL, L_TIME, L_CASHIER, L_GUIDE, L_SUBTOTAL, L_DISCOUNT, L_ORDER_DISCOUNT, L_TOTAL,
       L_REFUND_TOTAL, L_CHANGE, L_REFUND, L_COPY, L_INVITE, L_PROMOTIONS, L_POINTS, L_COUPON,
       L_ANY_SPEND, L_N };
static const char *const labels[L_N][2] = {
    [L_STORE] = {"Store", "门店"},
    [L_RECEIPT] = {"Receipt", "单号"},
    [L_ORIGINAL] = {"Refund of", "原单号"},
    [L_TIME] = {"Time", "时间"},
    [L_CASHIER] = {"Cashier", "收银员"},
    [L_GUIDE] = {"Guide", "导购"},
    [L_SUBTOTAL] = {"Subtotal", "小计"},
    [L_DISCOUNT] = {"Discount", "优惠"},
    [L_ORDER_DISCOUNT] = {"Order discount", "整单优惠"},
    [L_TOTAL] = {"TOTAL", "实付"},
    [L_REFUND_TOTAL] = {"REFUND", "退款"},
    [L_CHANGE] = {"Change", "找零"},
    [L_REFUND] = {"REFUND", "退货"},
    [L_COPY] = {"COPY", "补打"},
    [L_INVITE] = {"Scan to join our store group", "扫码加入门店福利群"},
    [L_PROMOTIONS] = {"Promotions", "活动优惠"},
    [L_POINTS] = {"Points earned", "本单积分"},
    [L_COUPON] = {"COUPON", "优惠券"},
    [L_ANY_SPEND] = {"On any purchase", "无门槛"},
};
/* Tender names by tg_tender_kind, English and Chinese. */
static const char *const tenders[][2] = {
    {"Tender", "支付"},   {"Cash", "现金"},     {"Card", "银行卡"},
    {"Wallet", "移动支付"}, {"Coupon", "优惠券"}, {"Points", "积分"},
};

static tg__receipt_doc *doc_new(void) {
  tg__receipt_doc *d = tg__malloc(sizeof *d);
  if (d != NULL) {
    memset(d, 0, sizeof *d);
    d->doc.header = d->header;
    d->doc.footer = d->footer;
    d->doc.meta = d->meta;
    d->doc.totals = d->totals;
    d->doc.payments = d->payments;
    d->doc.coupons = d->coupons;
  }
  return d;
}

void tg__receipt_doc_free(tg__receipt_doc *d) {
  if (d == NULL)
    return;
  for (size_t i = 0; i < d->n_strs; i++)
    tg__free(d->strs[i]);
  tg__free(d->strs);
  tg__free(d->items);
  tg__free(d);
}

const tg__doc *tg__receipt_doc_get(const tg__receipt_doc *d) { return &d->doc; }

/* A copy of s the document owns; NULL (and d->nomem) when out of memory. */
static const char *keep(tg__receipt_doc *d, const char *s) {
  char *copy;
  if (d->n_strs == d->cap_strs) {
    size_t cap = d->cap_strs ? 2 * d->cap_strs : 32;
    char **strs = tg__realloc(d->strs, cap * sizeof *strs);
    if (strs == NULL)
      return d->nomem = 1, NULL;
    d->strs = strs;
    d->cap_strs = cap;
  }
  if ((copy = tg__strdup(s)) == NULL)
    return d->nomem = 1, NULL;
  return d->strs[d->n_strs++] = copy;
}

static const char *keep_money(tg__receipt_doc *d, int64_t v, int exponent) {
  char buf[TG_MONEY_BUF];
  return keep(d, tg__money_format(v, exponent, buf));
}

/* "label -1.00" for notes under an item. */
static const char *keep_note(tg__receipt_doc *d, const char *label, int64_t v, int exponent) {
  char money[TG_MONEY_BUF], buf[TG_MONEY_BUF + 64];
  snprintf(buf, sizeof buf, "%s %s", label, tg__money_format(-v, exponent, money));
  return keep(d, buf);
}

static void add_row(tg__doc_row *rows, size_t *n, const char *label, const char *amount,
                    int emphasis) {
  rows[*n].label = label;
  rows[*n].amount = amount;
  rows[*n].emphasis = emphasis;
  (*n)++;
}

/* The coupon the sale issued, as a QR with its terms. */
static void add_coupon(tg__receipt_doc *d, const tg_receipt *r, const tg_terminal_info *info,
                       int zh) {
  char value[TG_MONEY_BUF + 32], text[TG_MONEY_BUF + 64], date[64];
  tg__doc_coupon *c = &d->coupons[d->doc.n_coupons++];
  int x = info->currency_exponent;
  if (r->coupon_percent)
    snprintf(value, sizeof value, zh ? "%lld.%02lld%% 折扣" : "%lld.%02lld%% off",
             (long long)(r->coupon_value / 100), (long long)(r->coupon_value % 100));
  else
    snprintf(value, sizeof value, zh ? "立减 %s" : "%s off",
             tg__money_format(r->coupon_value, x, text));
  snprintf(text, sizeof text, "%s %s", labels[L_COUPON][zh], value);
  c->qr = keep(d, r->coupon);
  c->title = keep(d, text);
  if (r->coupon_min_spend > 0) {
    char m[TG_MONEY_BUF];
    snprintf(text, sizeof text, zh ? "满%s可用" : "On a spend of %s or more",
             tg__money_format(r->coupon_min_spend, x, m));
    c->terms = keep(d, text);
  } else {
    c->terms = labels[L_ANY_SPEND][zh];
  }
  tg__time_format(r->coupon_expires_ms, info->tz, "%Y-%m-%d %H:%M", date, sizeof date);
  snprintf(text, sizeof text, zh ? "有效期至 %s" : "Valid until %s", date);
  c->expires = keep(d, text);
}

int tg__receipt_zh(const tg__receipt_config *c, const tg_terminal_info *info) {
  return c->lang[0] ? strcmp(c->lang, "zh") == 0 : strcmp(info->currency, "CNY") == 0;
}

int tg__receipt_doc_from_record(const tg_receipt *r, const tg_terminal_info *info,
                                const tg__receipt_config *c, const char *time_text,
                                const char *invite_url, int copy, tg__receipt_doc **out) {
  tg__receipt_doc *d = doc_new();
  int zh = tg__receipt_zh(c, info);
  int x = info->currency_exponent, refund = r->kind == TG_RECORD_REFUND;
  char buf[TG_MONEY_BUF + 64];
  tg__doc *doc;
#define L(k) labels[k][zh]
  *out = NULL;
  if (d == NULL)
    return TG_ENOMEM;
  doc = &d->doc;
  if (copy || refund) {
    snprintf(buf, sizeof buf, "%s%s%s", refund ? L(L_REFUND) : "", copy && refund ? " " : "",
             copy ? L(L_COPY) : "");
    doc->banner = keep(d, buf);
  }
  for (int i = 0; i < c->n_header; i++)
    d->header[doc->n_header++] = keep(d, c->header[i]);
  if (c->n_header == 0) {
    snprintf(buf, sizeof buf, "%s %s", L(L_STORE), info->store_id);
    d->header[doc->n_header++] = keep(d, buf);
  }
  add_row(d->meta, &doc->n_meta, L(L_RECEIPT), keep(d, r->receipt), 0);
  if (refund)
    add_row(d->meta, &doc->n_meta, L(L_ORIGINAL), keep(d, r->original_receipt), 0);
  add_row(d->meta, &doc->n_meta, L(L_TIME), keep(d, time_text), 0);
  if (r->cashier[0] != '\0')
    add_row(d->meta, &doc->n_meta, L(L_CASHIER), keep(d, r->cashier), 0);
  if (r->guide[0] != '\0')
    add_row(d->meta, &doc->n_meta, L(L_GUIDE), keep(d, r->guide), 0);
  if (r->n_lines > 0 && (d->items = tg__malloc((size_t)r->n_lines * sizeof *d->items)) == NULL)
    d->nomem = 1;
  for (int i = 0; d->items != NULL && i < r->n_lines; i++) {
    const tg_receipt_line *l = &r->lines[i];
    tg__doc_item *it = &d->items[doc->n_items++];
    it->name = keep(d, l->name);
    it->qty = keep(d, tg__qty_format(l->qty_milli, buf));
    /* the line before discounts; the order discount shows in the totals */
    it->amount =
        keep_money(d, l->amount + l->order_discount + l->promotion + l->line_discount, x);
    it->note = l->line_discount > 0 ? keep_note(d, L(L_DISCOUNT), l->line_discount, x) : NULL;
  }
  doc->items = d->items;
  if (r->totals.order_discount > 0 || !refund)
    add_row(d->totals, &doc->n_totals, L(L_SUBTOTAL), keep_money(d, r->totals.subtotal, x), 0);
  for (int i = 0; i < r->n_promotions && r->n_promotions <= PROMOTION_ROWS; i++)
    add_row(d->totals, &doc->n_totals,
            r->promotions[i].name[0] ? keep(d, r->promotions[i].name) : L(L_DISCOUNT),
            keep_money(d, -r->promotions[i].amount, x), 0);
  if (r->n_promotions > PROMOTION_ROWS)
    add_row(d->totals, &doc->n_totals, L(L_PROMOTIONS), keep_money(d, -r->totals.promotion, x), 0);
  if (r->totals.order_discount > 0)
    add_row(d->totals, &doc->n_totals, L(L_ORDER_DISCOUNT),
            keep_money(d, -r->totals.order_discount, x), 0);
  add_row(d->totals, &doc->n_totals, refund ? L(L_REFUND_TOTAL) : L(L_TOTAL),
          keep_money(d, r->totals.total, x), 1);
  for (int i = 0; i < r->n_tenders; i++) {
    const tg_receipt_tender *t = &r->tenders[i];
    const char *name = tenders[t->kind >= 1 && t->kind <= 5 ? t->kind : 0][zh];
    if (t->reference[0] != '\0') {
      snprintf(buf, sizeof buf, "%s %s", name, t->reference);
      name = buf;
    }
    add_row(d->payments, &doc->n_payments, keep(d, name), keep_money(d, t->amount, x), 0);
  }
  if (r->totals.change > 0)
    add_row(d->payments, &doc->n_payments, L(L_CHANGE), keep_money(d, r->totals.change, x), 0);
  if (r->points_earned > 0) {
    snprintf(buf, sizeof buf, "+%lld", (long long)r->points_earned);
    add_row(d->payments, &doc->n_payments, L(L_POINTS), keep(d, buf), 0);
  }
  doc->barcode = d->meta[0].amount;
  if (r->coupon[0] != '\0')
    add_coupon(d, r, info, zh);
  if (invite_url != NULL && c->invite) {
    doc->invite_caption = c->invite_caption[0] ? keep(d, c->invite_caption) : L(L_INVITE);
    doc->invite_url = keep(d, invite_url);
  }
  for (int i = 0; i < c->n_footer; i++)
    d->footer[doc->n_footer++] = keep(d, c->footer[i]);
#undef L
  if (d->nomem) {
    tg__receipt_doc_free(d);
    return TG_ENOMEM;
  }
  *out = d;
  return 0;
}

/* ----- Reference receipts in JSON ---------------------------------------- */

typedef struct {
  tg__receipt_doc *d;
  int exponent;
  char *why;
  size_t why_len;
} reading;

static int bad(reading *g, const char *path, const char *expected) {
  snprintf(g->why, g->why_len, "%s: %s expected", path, expected);
  return TG_EINVAL;
}

/* The text of v if it is a string of at most TG_MAX_NAME bytes without NUL, else NULL. */
static const char *json_text(json_t *v) {
  if (!json_is_string(v) || json_string_length(v) > TG_MAX_NAME ||
      strlen(json_string_value(v)) != json_string_length(v))
    return NULL;
  return json_string_value(v);
}

/* A text field of at most TG_MAX_NAME bytes without NUL; NULL if absent and optional. */
static int text_field(reading *g, json_t *obj, const char *key, const char *path, int required,
                      const char **out) {
  json_t *v = json_object_get(obj, key);
  char where[64];
  snprintf(where, sizeof where, "%s%s%s", path, path[0] ? "." : "", key);
  *out = NULL;
  if (v == NULL && !required)
    return 0;
  if (json_text(v) == NULL)
    return bad(g, where, "text of at most 256 bytes");
  *out = keep(g->d, json_text(v));
  return g->d->nomem ? TG_ENOMEM : 0;
}

static int int_field(reading *g, json_t *obj, const char *key, const char *path, int64_t lo,
                     int64_t hi, int64_t *out) {
  json_t *v = json_object_get(obj, key);
  char where[64], range[96];
  snprintf(where, sizeof where, "%s%s%s", path, path[0] ? "." : "", key);
  if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
    snprintf(range, sizeof range, "an integer from %lld to %lld", (long long)lo, (long long)hi);
    return bad(g, where, range);
  }
  *out = json_integer_value(v);
  return 0;
}

static int money_field(reading *g, json_t *obj, const char *key, const char *path,
                       const char **out) {
  int64_t v;
  int rc = int_field(g, obj, key, path, -TG_MAX_AMOUNT, TG_MAX_AMOUNT, &v);
  if (rc == 0 && (*out = keep_money(g->d, v, g->exponent)) == NULL)
    rc = TG_ENOMEM;
  return rc;
}

/* Checks that obj is an object whose keys are all in the space-separated list. */
static int only_keys(reading *g, json_t *obj, const char *path, const char *keys) {
  const char *key;
  json_t *v;
  if (!json_is_object(obj))
    return bad(g, path[0] ? path : "receipt", "an object");
  json_object_foreach(obj, key, v) {
    const char *at = strstr(keys, key);
    size_t n = strlen(key);
    if (at == NULL || (at != keys && at[-1] != ' ') || (at[n] != ' ' && at[n] != '\0')) {
      snprintf(g->why, g->why_len, "%s: unknown field \"%.40s\"", path[0] ? path : "receipt", key);
      tg__utf8_clean(g->why);
      return TG_EINVAL;
    }
    (void)v;
  }
  return 0;
}

/* An optional array of at most max entries; *n 0 when absent. */
static int array_field(reading *g, json_t *obj, const char *key, size_t max, json_t **out) {
  char expected[48];
  *out = json_object_get(obj, key);
  if (*out == NULL)
    return 0;
  snprintf(expected, sizeof expected, "an array of at most %zu entries", max);
  if (!json_is_array(*out) || json_array_size(*out) > max)
    return bad(g, key, expected);
  return 0;
}

static int lines_field(reading *g, json_t *root, const char *key, const char **lines, size_t *n) {
  json_t *a, *v;
  size_t i;
  int rc = array_field(g, root, key, TG_RECEIPT_LINES, &a);
  json_array_foreach(a, i, v) {
    char where[32];
    snprintf(where, sizeof where, "%s[%zu]", key, i);
    if (rc != 0)
      break;
    if (json_text(v) == NULL)
      return bad(g, where, "text of at most 256 bytes");
    if ((lines[(*n)++] = keep(g->d, json_text(v))) == NULL)
      return TG_ENOMEM;
  }
  return rc;
}

static int rows_field(reading *g, json_t *root, const char *key, const char *value_key,
                      int money, tg__doc_row *rows, size_t *n) {
  json_t *a, *v;
  size_t i;
  int rc = array_field(g, root, key, ROWS_MAX, &a);
  json_array_foreach(a, i, v) {
    char where[32];
    snprintf(where, sizeof where, "%s[%zu]", key, i);
    if (rc != 0 || (rc = only_keys(g, v, where, money ? "label amount" : "label value")) != 0 ||
        (rc = text_field(g, v, "label", where, 1, &rows[*n].label)) != 0 ||
        (rc = money ? money_field(g, v, value_key, where, &rows[*n].amount)
                    : text_field(g, v, value_key, where, 1, &rows[*n].amount)) != 0)
      return rc;
    (*n)++;
  }
  return rc;
}

static int items_field(reading *g, json_t *root) {
  tg__receipt_doc *d = g->d;
  json_t *a, *v;
  size_t i;
  int rc = array_field(g, root, "items", TG_MAX_LINES, &a);
  if (rc != 0 || a == NULL || json_array_size(a) == 0)
    return rc;
  if ((d->items = tg__malloc(json_array_size(a) * sizeof *d->items)) == NULL)
    return TG_ENOMEM;
  d->doc.items = d->items;
  json_array_foreach(a, i, v) {
    tg__doc_item *it = &d->items[i];
    char where[32], qty[32];
    int64_t n;
    snprintf(where, sizeof where, "items[%zu]", i);
    if ((rc = only_keys(g, v, where, "name qty line_total note")) != 0 ||
        (rc = text_field(g, v, "name", where, 1, &it->name)) != 0 ||
        (rc = int_field(g, v, "qty", where, 0, TG_MAX_QTY_MILLI / 1000, &n)) != 0 ||
        (rc = money_field(g, v, "line_total", where, &it->amount)) != 0 ||
        (rc = text_field(g, v, "note", where, 0, &it->note)) != 0)
      return rc;
    snprintf(qty, sizeof qty, "%lld", (long long)n);
    if ((it->qty = keep(d, qty)) == NULL)
      return TG_ENOMEM;
    d->doc.n_items++;
  }
  return 0;
}

static int coupons_field(reading *g, json_t *root) {
  json_t *a, *v;
  size_t i;
  int rc = array_field(g, root, "coupons", COUPONS_MAX, &a);
  json_array_foreach(a, i, v) {
    tg__doc_coupon *cp = &g->d->coupons[i];
    char where[32];
    snprintf(where, sizeof where, "coupons[%zu]", i);
    if (rc != 0 || (rc = only_keys(g, v, where, "qr title terms expires")) != 0 ||
        (rc = text_field(g, v, "qr", where, 1, &cp->qr)) != 0 ||
        (rc = text_field(g, v, "title", where, 1, &cp->title)) != 0 ||
        (rc = text_field(g, v, "terms", where, 0, &cp->terms)) != 0 ||
        (rc = text_field(g, v, "expires", where, 0, &cp->expires)) != 0)
      return rc;
    g->d->doc.n_coupons++;
  }
  return rc;
}

/* The printer settings a reference receipt names: paper, columns, QR, cut, encoding. */
static int profile_fields(reading *g, json_t *root, tg__profile *p) {
  json_t *qr = json_object_get(root, "qr");
  const char *s;
  int64_t n;
  int rc;
  if ((rc = int_field(g, root, "paper_mm", "", 0, 1000, &n)) != 0)
    return rc;
  if (n != 58 && n != 80)
    return bad(g, "paper_mm", "58 or 80");
  tg__profile_default(p, (int)n);
  if (json_object_get(root, "columns") != NULL) {
    if ((rc = int_field(g, root, "columns", "", 16, p->dots / 12, &n)) != 0)
      return rc;
    p->columns = (int)n;
  }
  if ((rc = text_field(g, root, "encoding", "", 0, &s)) != 0)
    return rc;
  if (s != NULL && (strlen(s) >= sizeof p->encoding ||
                    tg__encoding_lookup(s, &(int){0}, &(const char *){NULL}) != 0))
    return bad(g, "encoding", TG__ENCODINGS);
  if (s != NULL)
    memcpy(p->encoding, s, strlen(s) + 1);
  if ((rc = text_field(g, root, "cut", "", 0, &s)) != 0)
    return rc;
  if (s != NULL && strcmp(s, "partial") != 0 && strcmp(s, "full") != 0 && strcmp(s, "none") != 0)
    return bad(g, "cut", "partial, full or none");
  if (s != NULL)
    p->cut = s[0] == 'p' ? TG__CUT_PARTIAL : s[0] == 'f' ? TG__CUT_FULL : TG__CUT_NONE;
  if (qr == NULL)
    return 0;
  if ((rc = only_keys(g, qr, "qr", "text model module_dots ecc")) != 0 ||
      (rc = int_field(g, qr, "model", "qr", 2, 2, &n)) != 0 ||
      (rc = int_field(g, qr, "module_dots", "qr", 1, 16, &n)) != 0)
    return rc;
  p->qr_module = (int)n;
  if ((rc = text_field(g, qr, "ecc", "qr", 1, &s)) != 0)
    return rc;
  if (strlen(s) != 1 || strchr("LMQH", s[0]) == NULL)
    return bad(g, "qr.ecc", "L, M, Q or H");
  p->qr_ecc = s[0];
  return 0;
}

static int read_doc(reading *g, json_t *root, tg__profile *p) {
  tg__receipt_doc *d = g->d;
  tg__doc *doc = &d->doc;
  json_t *qr = json_object_get(root, "qr");
  const char *currency;
  int rc;
  if ((rc = only_keys(g, root, "", "about paper_mm columns currency encoding banner header meta "
                                   "items totals payments barcode coupons caption qr footer "
                                   "cut")) != 0 ||
      (rc = profile_fields(g, root, p)) != 0 ||
      (rc = text_field(g, root, "currency", "", 1, &currency)) != 0)
    return rc;
  if ((g->exponent = tg__currency_exponent(currency)) < 0)
    return bad(g, "currency", "an ISO 4217 code such as CNY or USD");
  if ((rc = text_field(g, root, "banner", "", 0, &doc->banner)) != 0 ||
      (rc = lines_field(g, root, "header", d->header, &doc->n_header)) != 0 ||
      (rc = rows_field(g, root, "meta", "value", 0, d->meta, &doc->n_meta)) != 0 ||
      (rc = items_field(g, root)) != 0 ||
      (rc = rows_field(g, root, "totals", "amount", 1, d->totals, &doc->n_totals)) != 0 ||
      (rc = rows_field(g, root, "payments", "amount", 1, d->payments, &doc->n_payments)) != 0 ||
      (rc = text_field(g, root, "barcode", "", 0, &doc->barcode)) != 0 ||
      (rc = coupons_field(g, root)) != 0 ||
      (rc = text_field(g, root, "caption", "", 0, &doc->invite_caption)) != 0 ||
      (rc = lines_field(g, root, "footer", d->footer, &doc->n_footer)) != 0)
    return rc;
  if (doc->n_totals > 0)
    d->totals[doc->n_totals - 1].emphasis = 1; /* the amount to pay */
  if (qr != NULL && (rc = text_field(g, qr, "text", "qr", 1, &doc->invite_url)) != 0)
    return rc;
  return 0;
}

int tg__receipt_doc_from_json(const char *json, size_t n, tg__receipt_doc **out, tg__profile *p,
                              char *why, size_t why_len) {
  json_error_t err;
  json_t *root = json_loadb(json, n, JSON_REJECT_DUPLICATES, &err);
  reading g = {.why = why, .why_len = why_len};
  int rc;
  *out = NULL;
  if (root == NULL) {
    snprintf(why, why_len, "not JSON: %s at line %d", err.text, err.line);
    tg__utf8_clean(why);
    return TG_EJSON;
  }
  if ((g.d = doc_new()) == NULL) {
    json_decref(root);
    return TG_ENOMEM;
  }
  rc = read_doc(&g, root, p);
  json_decref(root);
  if (rc == 0 && g.d->nomem)
    rc = TG_ENOMEM;
  if (rc != 0) {
    tg__receipt_doc_free(g.d);
    return rc;
  }
  *out = g.d;
  return 0;
}

/* The URL of the invite the sale was given, under the bundle's URL prefix; NULL when none. */
static int printed_invite(tg_terminal *t, const tg_receipt *r, char *url, size_t n,
                          const char **out) {
  const tg__bundle *b;
  int rc = tg__bundle_current(t, &b);
  *out = NULL;
  if (rc != 0 || r->invite[0] == '\0' || b == NULL || !b->invites)
    return rc;
  if ((rc = tg__invite_url(b->invite_url, r->invite, url, n)) != 0)
    return tg__fail(t, rc, "the invite's URL is longer than a receipt QR takes");
  *out = url;
  return 0;
}

int tg__receipt_doc_load(tg_terminal *t, const char *receipt, const tg__receipt_config *c,
                         const char *invite, int copy, tg__receipt_doc **out) {
  tg_receipt *r = NULL;
  char when[64], url[TG__QR_TEXT_MAX + 1];
  int rc = tg_receipt_load(t, receipt, &r);
  *out = NULL;
  if (rc == 0 && invite == NULL)
    rc = printed_invite(t, r, url, sizeof url, &invite);
  if (rc == 0) {
    tg__time_format(r->time_ms, t->info.tz, "%Y-%m-%d %H:%M:%S", when, sizeof when);
    rc = tg__receipt_doc_from_record(r, &t->info, c, when, invite, copy, out);
    if (rc != 0)
      rc = tg__fail(t, rc, "out of memory building the receipt");
  }
  tg_receipt_free(r);
  return rc;
}
