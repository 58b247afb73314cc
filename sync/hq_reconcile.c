/*
 * HQ's nightly reconciliation (docs/reconcile.md): one streamed pass over the
 * records finds coupons spent twice and flash sales sold past their lease,
 * and settles referral rebates and group-buy refunds as HQ coupons, each
 * stored once per source record so a rerun issues nothing new.
 */
#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "hq.h"
#include "pos.h"

#define DAY_MS (24 * 3600 * 1000LL)
#define SETTLE_VALID_MS (30 * DAY_MS) /* settlement coupons are good for 30 days */
#define LOOKBACK_MS (366 * DAY_MS)    /* the earliest record a rule reads: a year before to_ms */
#define STORES_MAX 4096               /* stores whose bundles are read */
#define ITEMS_MAX 4000000             /* entries of each in-memory list (coupon uses, ...) */
#define RECEIPT_LEN 48                /* TG_RECEIPT_MAX */

/* What reconciliation needs of a flash, group-buy or referral campaign of a store's newest
 * bundle. */
typedef struct {
  uint32_t id;
  tg__rule_type type;
  int64_t from_ms, until_ms, quota; /* quota: thousandths */
  char lease[TG_ID_MAX + 1];
  tg__group_tier tiers[TG__RULE_STEPS];
  int n_tiers, joined;
  int64_t rebate;  /* referral: the most a referrer earns for one referred sale */
  int64_t version; /* of the bundle it came from */
} rule_info;

typedef struct {
  char store[TG__SYNC_ID_MAX + 1];
  int64_t version; /* 0: no bundle */
  rule_info *rules;
  int n;
} store_info;

/* One coupon use: a sale's coupon entry or a redeem record. */
typedef struct {
  int64_t coupon, amount, epoch, seq, time_ms;
  char store[TG__SYNC_ID_MAX + 1], terminal[TG__SYNC_ID_MAX + 1], receipt[RECEIPT_LEN];
  int percent, in_period;
} use;

/* Flash thousandths one terminal sold under one campaign. */
typedef struct {
  char store[TG__SYNC_ID_MAX + 1], terminal[TG__SYNC_ID_MAX + 1];
  uint32_t campaign;
  int64_t qty;
} flash_sum;

/* A sale that may earn a settlement: a referral, or one group-buy line. */
typedef struct {
  char store[TG__SYNC_ID_MAX + 1], terminal[TG__SYNC_ID_MAX + 1], receipt[RECEIPT_LEN];
  int64_t epoch, seq, time_ms, member, amount, qty, price;
  uint32_t campaign;
} candidate;

/* A growing array of fixed-size items, at most ITEMS_MAX. */
typedef struct {
  void *v;
  size_t n, cap, size;
} list;

typedef struct {
  const tg__hq_backend *be;
  tg__hq_db *db;
  int64_t from_ms, to_ms, now_ms;
  store_info *stores;
  int n_stores;
  list uses, flash, referrals, group, refunded; /* refunded: receipts, RECEIPT_LEN each */
  size_t *slots, n_slots; /* flash's index: entry + 1, 0 empty */
  int64_t bad_version;    /* the last bundle version terminals would refuse */
  int64_t unreadable;
  int failed; /* out of memory or a list over ITEMS_MAX */
  void (*fn)(void *ctx, const tg__hq_finding *f);
  void *ctx;
  int n_operator;
} pass;

static void *list_add(pass *p, list *l) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 256;
    void *v = cap <= ITEMS_MAX ? realloc(l->v, cap * l->size) : NULL;
    if (v == NULL) {
      p->failed = 1;
      return NULL;
    }
    l->v = v;
    l->cap = cap;
  }
  void *item = (char *)l->v + l->n++ * l->size;
  memset(item, 0, l->size);
  return item;
}

static int64_t int_of(const json_t *o, const char *k) {
  const json_t *v = json_object_get(o, k);
  return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

static const char *text_of(const json_t *o, const char *k) {
  const char *z = json_string_value(json_object_get(o, k));
  return z != NULL ? z : "";
}

static void put(char *out, size_t n, const char *z) { snprintf(out, n, "%s", z); }

static void report(pass *p, const char *kind, int needs_operator, const char *store,
                   const char *terminal, const char *what) {
  tg__hq_finding f;
  memset(&f, 0, sizeof f);
  put(f.kind, sizeof f.kind, kind);
  f.needs_operator = needs_operator;
  put(f.store, sizeof f.store, store);
  put(f.terminal, sizeof f.terminal, terminal);
  put(f.what, sizeof f.what, what);
  p->n_operator += needs_operator != 0;
  p->fn(p->ctx, &f);
}

/* ----- The stores' newest bundles ------------------------------------------ */

static int cmp_store(const void *a, const void *b) {
  return strcmp(((const store_info *)a)->store, ((const store_info *)b)->store);
}

/* The store's entry; p->stores is kept sorted by store id. */
static const store_info *store_of(const pass *p, const char *store) {
  store_info key;
  if (p->n_stores == 0)
    return NULL;
  put(key.store, sizeof key.store, store);
  return bsearch(&key, p->stores, (size_t)p->n_stores, sizeof *p->stores, cmp_store);
}

static const rule_info *rule_of(const store_info *s, uint32_t id, tg__rule_type type) {
  for (int i = 0; s != NULL && i < s->n; i++)
    if (s->rules[i].id == id && s->rules[i].type == type)
      return &s->rules[i];
  return NULL;
}

/* Keeps the flash and group-buy campaigns of store's newest bundle; a bundle the terminals
 * would refuse is a finding. */
static int load_store(pass *p, const char *store, char *why, size_t cap) {
  if (store_of(p, store) != NULL)
    return TG__HQ_OK;
  if (p->n_stores == STORES_MAX) {
    snprintf(why, cap, "more than %d stores: reconcile fewer at a time", STORES_MAX);
    return TG__HQ_BAD;
  }
  store_info *s = &p->stores[p->n_stores++];
  memset(s, 0, sizeof *s);
  put(s->store, sizeof s->store, store);
  char sig[TG__BUNDLE_SIG_TEXT], reason[200] = "", what[256];
  char *body = NULL;
  size_t n = 0;
  int64_t version = 0;
  int rc = p->be->bundle_get(p->db, store, &version, &body, &n, sig, why, cap);
  if (rc == TG__HQ_NOTFOUND)
    return TG__HQ_OK;
  if (rc != TG__HQ_OK)
    return rc;
  for (int i = 0; i < p->n_stores - 1; i++) /* the all-stores bundle is read once */
    if (p->stores[i].version == version || (version == p->bad_version && version > 0)) {
      free(body);
      if (version == p->bad_version)
        return TG__HQ_OK;
      s->version = version;
      s->n = p->stores[i].n;
      if ((s->rules = malloc((size_t)(s->n ? s->n : 1) * sizeof *s->rules)) == NULL) {
        snprintf(why, cap, "out of memory reading bundle %lld", (long long)version);
        return TG__HQ_NOMEM;
      }
      if (s->n > 0)
        memcpy(s->rules, p->stores[i].rules, (size_t)s->n * sizeof *s->rules);
      return TG__HQ_OK;
    }
  tg__bundle *b = NULL;
  int prc = tg__bundle_parse(body, n, &b, reason, sizeof reason);
  free(body);
  if (prc == TG_ENOMEM) {
    snprintf(why, cap, "out of memory reading bundle %lld", (long long)version);
    return TG__HQ_NOMEM;
  }
  if (prc != 0) {
    snprintf(what, sizeof what, "bundle %lld for %s is refused by terminals, so its quotas are "
             "unknown: %.150s", (long long)version, store, reason);
    report(p, "bundle_unreadable", 1, store, "", what);
    p->bad_version = version;
    return TG__HQ_OK;
  }
  s->version = version;
  s->rules = calloc((size_t)(b->n_rules ? b->n_rules : 1), sizeof *s->rules);
  if (s->rules == NULL) {
    tg__bundle_free(b);
    snprintf(why, cap, "out of memory reading bundle %lld", (long long)version);
    return TG__HQ_NOMEM;
  }
  for (int i = 0; i < b->n_rules; i++) {
    const tg__rule *r = &b->rules[i];
    if (r->type != TG__RULE_FLASH && r->type != TG__RULE_GROUP_BUY &&
        r->type != TG__RULE_REFERRAL)
      continue;
    rule_info *o = &s->rules[s->n++];
    o->id = r->id;
    o->type = r->type;
    o->from_ms = r->from_ms;
    o->until_ms = r->until_ms;
    o->quota = r->quota;
    put(o->lease, sizeof o->lease, r->lease);
    memcpy(o->tiers, r->tiers, sizeof o->tiers);
    o->n_tiers = r->n_tiers;
    o->joined = r->joined;
    o->rebate = r->rebate;
    o->version = version;
  }
  tg__bundle_free(b);
  return TG__HQ_OK;
}

static void on_terminal(void *ctx, const tg__hq_terminal *t) {
  pass *p = ctx;
  if (p->n_stores > 0 && strcmp(p->stores[p->n_stores - 1].store, t->store) == 0)
    return; /* terminals come grouped by store */
  if (p->n_stores < STORES_MAX) {
    memset(&p->stores[p->n_stores], 0, sizeof p->stores[0]);
    put(p->stores[p->n_stores++].store, sizeof p->stores[0].store, t->store);
  } else {
    p->failed = 1;
  }
}

/* Lists the enrolled terminals' stores, then reads each store's newest bundle. */
static int load_stores(pass *p, char *why, size_t cap) {
  int rc = p->be->terminals(p->db, on_terminal, p, why, cap);
  if (rc != TG__HQ_OK)
    return rc;
  if (p->failed) {
    snprintf(why, cap, "more than %d stores: reconcile fewer at a time", STORES_MAX);
    return TG__HQ_BAD;
  }
  int n = p->n_stores;
  char(*names)[TG__SYNC_ID_MAX + 1] = malloc((size_t)(n ? n : 1) * sizeof *names);
  if (names == NULL) {
    snprintf(why, cap, "out of memory");
    return TG__HQ_NOMEM;
  }
  qsort(p->stores, (size_t)n, sizeof *p->stores, cmp_store); /* the back end's collation aside */
  for (int i = 0; i < n; i++)
    put(names[i], sizeof names[i], p->stores[i].store);
  p->n_stores = 0;
  for (int i = 0; i < n && rc == TG__HQ_OK; i++)
    rc = load_store(p, names[i], why, cap);
  free(names);
  return rc;
}

/* The group-buy campaigns this run settles: closed (until <= now) within [from_ms, to_ms]. */
static int group_closes(const pass *p, const rule_info *r) {
  return r->type == TG__RULE_GROUP_BUY && r->until_ms > 0 && r->until_ms <= p->now_ms &&
         r->until_ms >= p->from_ms && r->until_ms <= p->to_ms;
}

/* The earliest record time a rule needs: flash leases from their campaign's start, group
 * buys that close in the period from theirs, at most a year before to_ms. */
static int64_t scan_start(const pass *p) {
  int64_t start = p->from_ms;
  for (int i = 0; i < p->n_stores; i++)
    for (int j = 0; j < p->stores[i].n; j++) {
      const rule_info *r = &p->stores[i].rules[j];
      int flash = r->type == TG__RULE_FLASH && (r->until_ms == 0 || r->until_ms > p->from_ms);
      if ((flash || group_closes(p, r)) && r->from_ms > 0 && r->from_ms < start)
        start = r->from_ms;
    }
  return start < p->to_ms - LOOKBACK_MS ? p->to_ms - LOOKBACK_MS : start;
}

/* ----- The pass over the records ------------------------------------------ */

static void add_use(pass *p, const tg__hq_stored *rec, const char *receipt, int64_t coupon,
                    int64_t amount, int percent) {
  use *u = list_add(p, &p->uses);
  if (u == NULL)
    return;
  u->coupon = coupon;
  u->amount = amount;
  u->percent = percent;
  u->epoch = rec->epoch;
  u->seq = rec->seq;
  u->time_ms = rec->time_ms;
  u->in_period = rec->time_ms >= p->from_ms;
  put(u->store, sizeof u->store, rec->store);
  put(u->terminal, sizeof u->terminal, rec->terminal);
  put(u->receipt, sizeof u->receipt, receipt);
}

static uint64_t flash_hash(const char *store, const char *terminal, uint32_t campaign) {
  uint64_t h = 1469598103934665603ULL ^ campaign; /* FNV-1a, a separator between the parts */
  for (const unsigned char *z = (const unsigned char *)store; *z != '\0'; z++)
    h = (h ^ *z) * 1099511628211ULL;
  h = (h ^ 0xff) * 1099511628211ULL;
  for (const unsigned char *z = (const unsigned char *)terminal; *z != '\0'; z++)
    h = (h ^ *z) * 1099511628211ULL;
  return h;
}

/* The index slot (entry + 1, 0 empty) of a terminal's flash campaign, the index grown to
 * twice the entries; NULL out of memory. */
static size_t *flash_slot(pass *p, const char *store, const char *terminal, uint32_t campaign) {
  const flash_sum *f = p->flash.v;
  if ((p->flash.n + 1) * 2 > p->n_slots) {
    size_t n = p->n_slots ? p->n_slots * 2 : 256;
    size_t *slots = calloc(n, sizeof *slots);
    if (slots == NULL) {
      p->failed = 1;
      return NULL;
    }
    for (size_t i = 0; i < p->flash.n; i++) {
      size_t k = (size_t)(flash_hash(f[i].store, f[i].terminal, f[i].campaign) % n);
      while (slots[k] != 0)
        k = (k + 1) % n;
      slots[k] = i + 1;
    }
    free(p->slots);
    p->slots = slots;
    p->n_slots = n;
  }
  size_t k = (size_t)(flash_hash(store, terminal, campaign) % p->n_slots);
  for (; p->slots[k] != 0; k = (k + 1) % p->n_slots) {
    const flash_sum *e = &f[p->slots[k] - 1];
    if (e->campaign == campaign && strcmp(e->store, store) == 0 &&
        strcmp(e->terminal, terminal) == 0)
      break;
  }
  return &p->slots[k];
}

static void add_flash(pass *p, const tg__hq_stored *rec, uint32_t campaign, int64_t qty) {
  const rule_info *r = rule_of(store_of(p, rec->store), campaign, TG__RULE_FLASH);
  if (r == NULL || rec->time_ms < (r->from_ms > 0 ? r->from_ms : p->from_ms))
    return;
  size_t *slot = flash_slot(p, rec->store, rec->terminal, campaign);
  if (slot == NULL)
    return;
  if (*slot != 0) {
    ((flash_sum *)p->flash.v)[*slot - 1].qty += qty;
    return;
  }
  flash_sum *n = list_add(p, &p->flash);
  if (n == NULL)
    return;
  put(n->store, sizeof n->store, rec->store);
  put(n->terminal, sizeof n->terminal, rec->terminal);
  n->campaign = campaign;
  n->qty = qty;
  *slot = p->flash.n;
}

static candidate *add_candidate(pass *p, list *l, const tg__hq_stored *rec, const char *receipt,
                                uint32_t campaign, int64_t member) {
  candidate *c = list_add(p, l);
  if (c == NULL)
    return NULL;
  put(c->store, sizeof c->store, rec->store);
  put(c->terminal, sizeof c->terminal, rec->terminal);
  put(c->receipt, sizeof c->receipt, receipt);
  c->epoch = rec->epoch;
  c->seq = rec->seq;
  c->time_ms = rec->time_ms;
  c->campaign = campaign;
  c->member = member;
  return c;
}

static void read_sale(pass *p, const tg__hq_stored *rec, const json_t *o) {
  const char *receipt = text_of(o, "receipt");
  int64_t member = int_of(o, "member");
  int in_period = rec->time_ms >= p->from_ms;
  size_t i;
  const json_t *e;
  json_array_foreach(json_object_get(o, "promotions"), i, e) {
    const char *type = text_of(e, "type");
    int64_t campaign = int_of(e, "campaign"), qty = int_of(e, "qty_milli");
    if (campaign <= 0 || campaign > UINT32_MAX)
      continue;
    if (int_of(e, "coupon") > 0) {
      const json_t *single = json_object_get(e, "single_use"); /* absent: single use */
      if (!json_is_integer(single) || json_integer_value(single) != 0)
        add_use(p, rec, receipt, int_of(e, "coupon"), int_of(e, "amount"), 0);
    } else if (strcmp(type, "flash") == 0 && qty > 0) {
      add_flash(p, rec, (uint32_t)campaign, qty);
    } else if (strcmp(type, "group_buy") == 0 && qty > 0 && member > 0) {
      const rule_info *r = rule_of(store_of(p, rec->store), (uint32_t)campaign,
                                   TG__RULE_GROUP_BUY);
      candidate *c;
      if (r != NULL && group_closes(p, r) && rec->time_ms < r->until_ms &&
          (c = add_candidate(p, &p->group, rec, receipt, (uint32_t)campaign, member)) != NULL) {
        c->qty = qty;
        c->price = int_of(e, "price");
      }
    }
  }
  const json_t *ref = json_object_get(o, "referral");
  int64_t referrer = int_of(ref, "referrer"), rebate = int_of(ref, "rebate"),
          campaign = int_of(ref, "campaign");
  candidate *c;
  if (in_period && referrer > 0 && rebate > 0 && campaign > 0 && campaign <= UINT32_MAX &&
      (c = add_candidate(p, &p->referrals, rec, receipt, (uint32_t)campaign, referrer)) != NULL)
    c->amount = rebate;
}

static void on_record(void *ctx, const tg__hq_stored *rec) {
  pass *p = ctx;
  int sale = strcmp(rec->kind, "sale") == 0, redeem = strcmp(rec->kind, "redeem") == 0,
      refund = strcmp(rec->kind, "refund") == 0;
  if (p->failed || (!sale && !redeem && !refund))
    return;
  json_t *o = json_loadb(rec->body, rec->len, 0, NULL);
  if (!json_is_object(o)) {
    p->unreadable++;
  } else if (sale) {
    read_sale(p, rec, o);
  } else if (redeem && int_of(o, "coupon") > 0) {
    add_use(p, rec, "", int_of(o, "coupon"), int_of(o, "value"),
            strcmp(text_of(o, "value_kind"), "percent") == 0);
  } else if (refund && text_of(o, "original_receipt")[0] != '\0') {
    char *z = list_add(p, &p->refunded);
    if (z != NULL)
      put(z, RECEIPT_LEN, text_of(o, "original_receipt"));
  }
  json_decref(o);
}

/* ----- Findings ------------------------------------------------------------ */

static int cmp_use(const void *a, const void *b) {
  const use *x = a, *y = b;
  if (x->coupon != y->coupon)
    return x->coupon < y->coupon ? -1 : 1;
  return (x->time_ms > y->time_ms) - (x->time_ms < y->time_ms);
}

/* Appends ", " and z to what when it fits, else counts it in *left. */
static void append(char *what, size_t cap, const char *z, int *left) {
  size_t n = strlen(what);
  if (*left > 0 || n + strlen(z) + 2 >= cap - 20) {
    (*left)++;
    return;
  }
  snprintf(what + n, cap - n, "%s%s", n > 0 && what[n - 1] != ' ' ? ", " : "", z);
}

static void coupon_findings(pass *p) {
  use *u = p->uses.v;
  if (p->uses.n > 1)
    qsort(u, p->uses.n, sizeof *u, cmp_use);
  for (size_t i = 0; i < p->uses.n;) {
    size_t j = i;
    int in_period = 0;
    while (j < p->uses.n && u[j].coupon == u[i].coupon)
      in_period |= u[j++].in_period;
    if (j - i >= 2 && in_period) {
      char what[256], part[96];
      int left = 0;
      snprintf(what, sizeof what, "single-use coupon %lld redeemed %zu times: ",
               (long long)u[i].coupon, j - i);
      for (size_t k = i; k < j; k++) {
        if (u[k].receipt[0] != '\0')
          snprintf(part, sizeof part, "%s/%s receipt %s %lld%s", u[k].store, u[k].terminal,
                   u[k].receipt, (long long)u[k].amount, u[k].percent ? "bp" : "");
        else
          snprintf(part, sizeof part, "%s/%s redeem seq %lld %lld%s", u[k].store,
                   u[k].terminal, (long long)u[k].seq, (long long)u[k].amount,
                   u[k].percent ? "bp" : "");
        append(what, sizeof what, part, &left);
      }
      if (left > 0) {
        size_t n = strlen(what);
        snprintf(what + n, sizeof what - n, " and %d more", left);
      }
      int same_store = strcmp(u[i].store, u[j - 1].store) == 0;
      report(p, "coupon_reused", 1, same_store ? u[i].store : "", "", what);
    }
    i = j;
  }
}

static int cmp_flash(const void *a, const void *b) {
  const flash_sum *x = a, *y = b;
  int c = strcmp(x->store, y->store);
  if (c != 0)
    return c;
  if (x->campaign != y->campaign)
    return x->campaign < y->campaign ? -1 : 1;
  return strcmp(x->terminal, y->terminal);
}

/* Thousandths as units: 1500 -> "1.500". */
static void units(char *out, size_t cap, int64_t milli) {
  snprintf(out, cap, "%lld.%03lld", (long long)(milli / 1000), (long long)(milli % 1000));
}

static void flash_findings(pass *p) {
  flash_sum *f = p->flash.v;
  if (p->flash.n > 1)
    qsort(f, p->flash.n, sizeof *f, cmp_flash);
  for (size_t i = 0; i < p->flash.n;) {
    size_t j = i;
    int64_t sold = 0;
    while (j < p->flash.n && f[j].campaign == f[i].campaign && strcmp(f[j].store, f[i].store) == 0)
      sold += f[j++].qty;
    const rule_info *r = rule_of(store_of(p, f[i].store), f[i].campaign, TG__RULE_FLASH);
    if (r != NULL && sold > r->quota) {
      char what[256], a[32], b[32], c[32], part[64];
      int left = 0;
      units(a, sizeof a, sold);
      units(b, sizeof b, r->quota);
      units(c, sizeof c, sold - r->quota);
      snprintf(what, sizeof what, "flash campaign %u lease %s at %s: %s units sold, quota %s, "
               "%s over (bundle %lld):", f[i].campaign, r->lease[0] ? r->lease : "-", f[i].store,
               a, b, c, (long long)r->version);
      for (size_t k = i; k < j; k++) {
        units(a, sizeof a, f[k].qty);
        snprintf(part, sizeof part, " %s %s", f[k].terminal, a);
        append(what, sizeof what, part, &left);
      }
      report(p, "flash_over_quota", 1, f[i].store, j - i == 1 ? f[i].terminal : "", what);
    }
    i = j;
  }
}

/* ----- Settlements ---------------------------------------------------------- */

static int cmp_receipt(const void *a, const void *b) { return strcmp(a, b); }

static int refunded(const pass *p, const char *receipt) {
  return receipt[0] != '\0' && p->refunded.n > 0 &&
         bsearch(receipt, p->refunded.v, p->refunded.n, RECEIPT_LEN, cmp_receipt) != NULL;
}

/* Issues (once per rule, source record and campaign) a coupon of amount for member. */
static int settle(pass *p, const char *rule, const candidate *c, int64_t amount,
                  const unsigned char sk[64], const char *about, char *why, size_t cap) {
  tg__hq_settlement s;
  char what[256];
  memset(&s, 0, sizeof s);
  put(s.rule, sizeof s.rule, rule);
  put(s.store, sizeof s.store, c->store);
  put(s.terminal, sizeof s.terminal, c->terminal);
  s.epoch = c->epoch;
  s.seq = c->seq;
  s.campaign = c->campaign;
  s.member = c->member;
  s.amount = amount;
  s.made_ms = p->now_ms;
  if (amount > UINT32_MAX) {
    snprintf(what, sizeof what, "%s: %lld is more than a coupon carries (4294967295); settle "
             "member %lld by hand", about, (long long)amount, (long long)c->member);
    report(p, rule, 1, c->store, c->terminal, what);
    return TG__HQ_OK;
  }
  tg__hq_coupon k = {.campaign = c->campaign, .kind = TG__COUPON_AMOUNT,
                     .value = (uint32_t)amount, .from_ms = c->time_ms, /* earned then */
                     .until_ms = p->now_ms + SETTLE_VALID_MS, .single_use = 1};
  if (tg__hq_coupon_make(sk, &k, s.token, sizeof s.token) < 0) {
    snprintf(why, cap, "could not make the coupon for %s", about);
    return TG__HQ_BAD;
  }
  s.coupon = (int64_t)k.id;
  int added = 0, rc = p->be->settle_add(p->db, &s, &added, why, cap);
  if (rc != TG__HQ_OK)
    return rc;
  if (added)
    snprintf(what, sizeof what, "%s: coupon %lld for member %lld, %lld off, issued, waiting "
             "for the next bundle", about, (long long)s.coupon, (long long)s.member,
             (long long)s.amount);
  else if (s.bundle_version > 0)
    snprintf(what, sizeof what, "%s: coupon %lld for member %lld, %lld off, issued before, "
             "in bundle %lld", about, (long long)s.coupon, (long long)s.member,
             (long long)s.amount, (long long)s.bundle_version);
  else
    snprintf(what, sizeof what, "%s: coupon %lld for member %lld, %lld off, issued before, "
             "waiting for the next bundle", about, (long long)s.coupon, (long long)s.member,
             (long long)s.amount);
  report(p, rule, 0, c->store, c->terminal, what);
  return TG__HQ_OK;
}

static int referral_settlements(pass *p, const unsigned char sk[64], char *why, size_t cap) {
  const candidate *c = p->referrals.v;
  char about[128];
  int rc = TG__HQ_OK;
  for (size_t i = 0; i < p->referrals.n && rc == TG__HQ_OK; i++) {
    if (refunded(p, c[i].receipt)) {
      snprintf(about, sizeof about, "referred sale %s was refunded: member %lld earns no "
               "rebate (campaign %u)", c[i].receipt, (long long)c[i].member, c[i].campaign);
      report(p, "referral_refunded", 0, c[i].store, c[i].terminal, about);
      continue;
    }
    snprintf(about, sizeof about, "rebate of campaign %u for referred sale %s", c[i].campaign,
             c[i].receipt);
    const rule_info *r = rule_of(store_of(p, c[i].store), c[i].campaign, TG__RULE_REFERRAL);
    if (r == NULL || c[i].amount > r->rebate) { /* a record is no bound on what HQ pays */
      char what[256];
      if (r == NULL)
        snprintf(what, sizeof what, "%s: the record says %lld, but campaign %u is not in the "
                 "store's newest bundle to bound it; settle member %lld by hand", about,
                 (long long)c[i].amount, c[i].campaign, (long long)c[i].member);
      else
        snprintf(what, sizeof what, "%s: the record says %lld, more than the rebate %lld of "
                 "bundle %lld; settle member %lld by hand", about, (long long)c[i].amount,
                 (long long)r->rebate, (long long)r->version, (long long)c[i].member);
      report(p, "referral_rebate", 1, c[i].store, c[i].terminal, what);
      continue;
    }
    rc = settle(p, "referral_rebate", &c[i], c[i].amount, sk, about, why, cap);
  }
  return rc;
}

/* By store, campaign (ids are unique only within one bundle), then member. */
static int cmp_buyer(const void *a, const void *b) {
  const candidate *x = a, *y = b;
  int c = strcmp(x->store, y->store);
  if (c != 0)
    return c;
  if (x->campaign != y->campaign)
    return x->campaign < y->campaign ? -1 : 1;
  if (x->member != y->member)
    return x->member < y->member ? -1 : 1;
  return 0;
}

/* A store's group buy that closed: the size it reached and the final unit price. */
typedef struct {
  char store[TG__SYNC_ID_MAX + 1];
  uint32_t campaign;
  const rule_info *r;
  int64_t size, final;
} closing;

static int cmp_closing(const void *a, const void *b) {
  const closing *x = a, *y = b;
  int c = strcmp(x->store, y->store);
  if (c != 0)
    return c;
  return x->campaign != y->campaign ? (x->campaign < y->campaign ? -1 : 1) : 0;
}

/* The unit price of the tier with the largest size <= n, else the first tier's. */
static int64_t tier_price(const rule_info *r, int64_t n) {
  int64_t price = r->tiers[0].price;
  for (int i = 0; i < r->n_tiers; i++)
    if (r->tiers[i].size <= n)
      price = r->tiers[i].price;
  return price;
}

/* q thousandths at price, half-up to the minor unit, into *out; 0 on int64 overflow. */
static int at_price(int64_t q, int64_t price, int64_t *out) {
  int64_t v;
  if (__builtin_mul_overflow(q, price, &v) || __builtin_add_overflow(v, 500, &v))
    return 0;
  *out = v / 1000;
  return 1;
}

/* One closing per store and campaign of the candidates, sorted; its size counts the distinct
 * members whose sale was not refunded. *n_out entries; NULL out of memory. */
static closing *closings(const pass *p, size_t *n_out) {
  const candidate *c = p->group.v;
  size_t n = p->group.n, n_closed = 0;
  candidate *sorted = malloc((n ? n : 1) * sizeof *sorted);
  closing *out = malloc((n ? n : 1) * sizeof *out);
  if (sorted == NULL || out == NULL) {
    free(sorted);
    free(out);
    return NULL;
  }
  if (n > 0)
    memcpy(sorted, c, n * sizeof *c);
  if (n > 1)
    qsort(sorted, n, sizeof *sorted, cmp_buyer);
  for (size_t i = 0; i < n;) {
    size_t j = i;
    int64_t buyers = 0, last = 0;
    for (; j < n && sorted[j].campaign == sorted[i].campaign &&
           strcmp(sorted[j].store, sorted[i].store) == 0;
         j++)
      if (sorted[j].member != last && !refunded(p, sorted[j].receipt)) {
        buyers++;
        last = sorted[j].member;
      }
    closing *g = &out[n_closed++];
    put(g->store, sizeof g->store, sorted[i].store);
    g->campaign = sorted[i].campaign;
    g->r = rule_of(store_of(p, g->store), g->campaign, TG__RULE_GROUP_BUY); /* read_sale found it */
    g->size = buyers > g->r->joined ? buyers : g->r->joined;
    g->final = tier_price(g->r, g->size);
    i = j;
  }
  free(sorted);
  *n_out = n_closed;
  return out;
}

static int same_record(const candidate *x, const candidate *y) {
  return x->seq == y->seq && x->epoch == y->epoch && strcmp(x->store, y->store) == 0 &&
         strcmp(x->terminal, y->terminal) == 0;
}

/* Settles one sale's lines c[k..m) of the campaign of c[at] (its first line of it). */
static int settle_sale(pass *p, const closing *g, const candidate *c, size_t at, size_t m,
                       const unsigned char sk[64], char *why, size_t cap) {
  char about[160], what[256];
  int64_t refund = 0, paid = 0, owed = 0, ceiling = g->r->tiers[0].price;
  int bad = 0; /* a line above the first tier's price, or amounts past int64 */
  for (size_t i = at; i < m; i++) {
    if (c[i].campaign != c[at].campaign)
      continue;
    if (c[i].price > ceiling)
      bad = 1;
    else if (c[i].price > g->final &&
             (!at_price(c[i].qty, c[i].price, &paid) || !at_price(c[i].qty, g->final, &owed) ||
              __builtin_add_overflow(refund, paid - owed, &refund)))
      bad = 1;
  }
  if (bad) {
    snprintf(what, sizeof what, "group buy %u at %s: sale %s records a price above the first "
             "tier's %lld or amounts out of range; no coupon, settle member %lld by hand",
             c[at].campaign, c[at].store, c[at].receipt, (long long)ceiling,
             (long long)c[at].member);
    report(p, "group_buy_refund", 1, c[at].store, c[at].terminal, what);
    return TG__HQ_OK;
  }
  if (refund <= 0)
    return TG__HQ_OK;
  if (refunded(p, c[at].receipt)) {
    snprintf(about, sizeof about, "group buy %u closed at %lld members: sale %s was refunded, "
             "member %lld gets no difference", c[at].campaign, (long long)g->size, c[at].receipt,
             (long long)c[at].member);
    report(p, "group_buy_refunded", 0, c[at].store, c[at].terminal, about);
    return TG__HQ_OK;
  }
  snprintf(about, sizeof about, "group buy %u closed at %lld members (unit price %lld): "
           "difference for sale %s", c[at].campaign, (long long)g->size, (long long)g->final,
           c[at].receipt);
  return settle(p, "group_buy_refund", &c[at], refund, sk, about, why, cap);
}

static int group_settlements(pass *p, const unsigned char sk[64], char *why, size_t cap) {
  const candidate *c = p->group.v;
  size_t n = p->group.n, n_closed = 0;
  int rc = TG__HQ_OK;
  closing *closed = closings(p, &n_closed);
  if (closed == NULL) {
    snprintf(why, cap, "out of memory settling group buys");
    return TG__HQ_NOMEM;
  }
  /* each sale, in record order, gets one coupon per group-buy campaign of its store */
  for (size_t k = 0; k < n && rc == TG__HQ_OK;) {
    size_t m = k;
    while (m < n && same_record(&c[m], &c[k]))
      m++;
    for (size_t at = k; at < m && rc == TG__HQ_OK; at++) {
      size_t first = k;
      while (c[first].campaign != c[at].campaign)
        first++;
      if (first != at)
        continue; /* its campaign was settled with an earlier line */
      closing key;
      put(key.store, sizeof key.store, c[at].store);
      key.campaign = c[at].campaign;
      const closing *g = bsearch(&key, closed, n_closed, sizeof *closed, cmp_closing);
      rc = settle_sale(p, g, c, at, m, sk, why, cap);
    }
    k = m;
  }
  free(closed);
  return rc;
}

int tg__hq_reconcile(const tg__hq_backend *be, tg__hq_db *db, int64_t from_ms, int64_t to_ms,
                     int64_t now_ms, void (*fn)(void *ctx, const tg__hq_finding *f), void *ctx,
                     char *why, size_t cap) {
  unsigned char pk[32], sk[64];
  pass p;
  memset(&p, 0, sizeof p);
  p.be = be;
  p.db = db;
  p.from_ms = from_ms;
  p.to_ms = to_ms;
  p.now_ms = now_ms;
  p.fn = fn;
  p.ctx = ctx;
  p.uses.size = sizeof(use);
  p.flash.size = sizeof(flash_sum);
  p.referrals.size = p.group.size = sizeof(candidate);
  p.refunded.size = RECEIPT_LEN;
  int rc = TG__HQ_OK;
  if (from_ms >= to_ms || to_ms - from_ms > LOOKBACK_MS) {
    snprintf(why, cap, "the period must be 1 ms to 366 days long");
    return TG__HQ_BAD;
  }
  if ((p.stores = calloc(STORES_MAX, sizeof *p.stores)) == NULL) {
    snprintf(why, cap, "out of memory");
    return TG__HQ_NOMEM;
  }
  rc = be->signing_key(db, pk, sk, why, cap);
  if (rc == TG__HQ_OK)
    rc = load_stores(&p, why, cap);
  if (rc == TG__HQ_OK)
    rc = be->records(db, scan_start(&p), to_ms, on_record, &p, why, cap);
  if (rc == TG__HQ_OK && p.failed) {
    snprintf(why, cap, "out of memory (or over %d entries) while reading the records", ITEMS_MAX);
    rc = TG__HQ_NOMEM;
  }
  if (rc == TG__HQ_OK) {
    if (p.refunded.n > 1)
      qsort(p.refunded.v, p.refunded.n, RECEIPT_LEN, cmp_receipt);
    coupon_findings(&p);
    flash_findings(&p);
    rc = referral_settlements(&p, sk, why, cap);
  }
  if (rc == TG__HQ_OK)
    rc = group_settlements(&p, sk, why, cap);
  if (rc == TG__HQ_OK && p.unreadable > 0) {
    char what[256];
    snprintf(what, sizeof what, "%lld records could not be read as JSON and were left out",
             (long long)p.unreadable);
    report(&p, "unreadable_records", 1, "", "", what);
  }
  sodium_memzero(sk, sizeof sk);
  for (int i = 0; i < p.n_stores; i++)
    free(p.stores[i].rules);
  free(p.stores);
  free(p.uses.v);
  free(p.flash.v);
  free(p.slots);
  free(p.referrals.v);
  free(p.group.v);
  free(p.refunded.v);
  return rc;
}
