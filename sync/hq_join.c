/* The join page's decision: read the invite from the URL, prove it, choose a group with room, issue the welcome coupon. */
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hq.h"
#include "pos.h"

#define CLOCK_SKEW_MS (10 * 60000LL) /* a till's clock this far ahead still gives good invites */
#define GROUPS_SCANNED 256           /* groups of one store looked at for warnings */
#define LANG_ITEMS_MAX 32            /* Accept-Language entries read */
#define LANG_HEADER_MAX 1024         /* bytes of Accept-Language read */
#define WELCOME_MAX 8                /* welcome campaigns of one bundle kept */
#define CACHE_SLOTS 64               /* stores whose parsed bundle is kept */

static int hex(int c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                      : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                                             : -1;
}

int tg__hq_percent_decode(const char *z, size_t n, char *out, size_t cap) {
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    int c = (unsigned char)z[i];
    if (c == '%') {
      if (i + 2 >= n)
        return -1; /* a dangling escape */
      int a = hex((unsigned char)z[i + 1]), b = hex((unsigned char)z[i + 2]);
      if (a < 0 || b < 0)
        return -1;
      c = a * 16 + b;
      i += 2;
    }
    if (c < 0x20 || c >= 0x7f)
      return -1; /* tokens are Base45: printable ASCII only, never NUL or a control */
    if (k + 1 >= cap)
      return -1;
    out[k++] = (char)c;
  }
  if (cap == 0)
    return -1;
  out[k] = '\0';
  return (int)k;
}

/* The q-value at z ("q=0.8"), in thousandths; -1 when it is not one. */
static int qvalue(const char *z, size_t n) {
  size_t i = 0;
  while (i < n && (z[i] == ' ' || z[i] == '\t'))
    i++;
  if (n - i < 3 || (z[i] != 'q' && z[i] != 'Q') || z[i + 1] != '=')
    return -1;
  i += 2;
  if (z[i] != '0' && z[i] != '1')
    return -1;
  int q = (z[i] - '0') * 1000, scale = 100;
  i++;
  if (i < n && z[i] == '.') {
    for (i++; i < n && z[i] >= '0' && z[i] <= '9' && scale > 0; i++, scale /= 10)
      q += (z[i] - '0') * scale;
  }
  while (i < n && (z[i] == ' ' || z[i] == '\t'))
    i++;
  return i == n && q <= 1000 ? q : -1;
}

int tg__hq_join_lang(const char *z) {
  int best_q = -1, best_zh = 1, items = 0;
  if (z == NULL)
    return TG__HQ_LANG_ZH;
  size_t n = strnlen(z, LANG_HEADER_MAX), at = 0;
  while (at < n && items < LANG_ITEMS_MAX) {
    size_t end = at;
    while (end < n && z[end] != ',')
      end++;
    size_t semi = at;
    while (semi < end && z[semi] != ';')
      semi++;
    size_t a = at, b = semi;
    while (a < b && (z[a] == ' ' || z[a] == '\t'))
      a++;
    while (b > a && (z[b - 1] == ' ' || z[b - 1] == '\t'))
      b--;
    int q = semi < end ? qvalue(z + semi + 1, end - semi - 1) : 1000;
    if (b > a && q > best_q) { /* the first of equal weights wins */
      best_q = q;
      best_zh = (b - a >= 2 && (z[a] == 'z' || z[a] == 'Z') && (z[a + 1] == 'h' || z[a + 1] == 'H') &&
                 (b - a == 2 || z[a + 2] == '-')) ||
                (b - a == 1 && z[a] == '*');
    }
    items++;
    at = end + 1;
  }
  return best_q <= 0 ? TG__HQ_LANG_ZH : best_zh ? TG__HQ_LANG_ZH : TG__HQ_LANG_EN;
}

int tg__hq_invite_peek(const char *token, size_t n, char store[TG__SYNC_ID_MAX + 1],
                       char terminal[TG__SYNC_ID_MAX + 1]) {
  unsigned char bin[TG__TOKEN_BINARY_MAX];
  size_t len = 0;
  if (n == 0 || n > TG__TOKEN_TEXT_MAX || tg__base45_decode(token, n, bin, &len) != 0 || len < 7 ||
      bin[1] != TG__TOKEN_INVITE)
    return -1;
  size_t at = 5, n_store = bin[at++];
  if (n_store == 0 || n_store > TG__SYNC_ID_MAX || at + n_store + 1 > len)
    return -1;
  memcpy(store, bin + at, n_store);
  store[n_store] = '\0';
  at += n_store;
  size_t n_term = bin[at++];
  if (n_term == 0 || n_term > TG__SYNC_ID_MAX || at + n_term > len)
    return -1;
  memcpy(terminal, bin + at, n_term);
  terminal[n_term] = '\0';
  return tg__hq_valid_id(store) && tg__hq_valid_id(terminal) ? 0 : -1;
}

int tg__hq_join_client_ok(const char *z) {
  size_t n = 0;
  if (z == NULL)
    return 0;
  for (; z[n] != '\0'; n++)
    if (n >= TG__HQ_CLIENT_MAX || !((z[n] >= '0' && z[n] <= '9') || (z[n] >= 'a' && z[n] <= 'f')))
      return 0;
  return n == TG__HQ_CLIENT_MAX;
}

/* A bundle's welcome campaigns, as the join page needs them. */
typedef struct {
  char store[TG__SYNC_ID_MAX + 1];
  int64_t version;                /* 0: an empty slot */
  int64_t used_ms;                /* for reuse of the stalest slot */
  int n;
  struct {
    uint32_t id;
    int kind, days;
    int64_t value, min_spend, from_ms, until_ms;
  } w[WELCOME_MAX];
  char bad[160];                  /* why the bundle did not read; "" it did */
} welcome_set;

/* Parsed bundles by store and version: a join reads one small row, not the bundle, while
 * the store's bundle stays the same. */
static struct {
  pthread_mutex_t mu;
  welcome_set slot[CACHE_SLOTS];
} cache = {PTHREAD_MUTEX_INITIALIZER, {{"", 0, 0, 0, {{0, 0, 0, 0, 0, 0, 0}}, ""}}};

/* Reads bundle version of store into *out (its welcome campaigns, or why it does not read). */
static int welcome_read(const tg__hq_backend *be, tg__hq_db *db, const char *store,
                        int64_t version, welcome_set *out, char *why, size_t why_cap) {
  char sig[TG__BUNDLE_SIG_TEXT];
  int64_t got = 0;
  char *body = NULL;
  size_t n = 0;
  tg__bundle *b = NULL;
  memset(out, 0, sizeof *out);
  int rc = be->bundle_get(db, store, &got, &body, &n, sig, why, why_cap);
  if (rc != TG__HQ_OK)
    return rc;
  int brc = tg__bundle_parse(body, n, &b, out->bad, sizeof out->bad);
  free(body);
  if (brc == TG_ENOMEM) {
    snprintf(why, why_cap, "out of memory reading store %s's bundle", store);
    return TG__HQ_NOMEM;
  }
  snprintf(out->store, sizeof out->store, "%s", store);
  out->version = got > 0 ? got : version;
  for (int i = 0; brc == 0 && i < b->n_rules && out->n < WELCOME_MAX; i++) {
    const tg__rule *r = &b->rules[i];
    if (r->type != TG__RULE_WELCOME)
      continue;
    out->w[out->n].id = r->id;
    out->w[out->n].kind = r->coupon_kind;
    out->w[out->n].days = r->coupon_days;
    out->w[out->n].value = r->coupon_value;
    out->w[out->n].min_spend = r->coupon_min_spend;
    out->w[out->n].from_ms = r->from_ms;
    out->w[out->n++].until_ms = r->until_ms;
  }
  if (brc != 0 && out->bad[0] == '\0')
    snprintf(out->bad, sizeof out->bad, "it does not read");
  tg__bundle_free(b);
  return TG__HQ_OK;
}

/* The welcome campaigns of store's newest bundle into *out, through the cache. 0, NOTFOUND or an rc. */
static int welcome_get(const tg__hq_backend *be, tg__hq_db *db, const char *store,
                       int64_t now_ms, welcome_set *out, char *why, size_t why_cap) {
  int64_t version = 0;
  int rc = be->bundle_version(db, store, &version, why, why_cap);
  if (rc != TG__HQ_OK)
    return rc;
  welcome_set *hit = NULL, *stalest = &cache.slot[0];
  pthread_mutex_lock(&cache.mu);
  for (int i = 0; i < CACHE_SLOTS && hit == NULL; i++) {
    welcome_set *s = &cache.slot[i];
    if (s->version == version && strcmp(s->store, store) == 0)
      hit = s;
    else if (s->used_ms < stalest->used_ms)
      stalest = s;
  }
  if (hit != NULL) {
    hit->used_ms = now_ms;
    *out = *hit;
  }
  pthread_mutex_unlock(&cache.mu);
  if (hit != NULL)
    return TG__HQ_OK;
  if ((rc = welcome_read(be, db, store, version, out, why, why_cap)) != TG__HQ_OK)
    return rc;
  out->used_ms = now_ms;
  pthread_mutex_lock(&cache.mu);
  *stalest = *out; /* another thread may have filled it meanwhile: the same content */
  pthread_mutex_unlock(&cache.mu);
  return TG__HQ_OK;
}

/*
 * The welcome campaign of the newest bundle for store (the first welcome
 * campaign running now, read as tills read bundles) as a coupon HQ signs.
 * 0 none, 1 made, or an rc. A bundle that does not read gives no coupon and
 * says why in warn.
 */
static int welcome_coupon(const tg__hq_backend *be, tg__hq_db *db, const char *store,
                          int64_t now_ms, char *text, size_t cap, uint64_t *id,
                          uint32_t *campaign, char *warn, size_t warn_cap, char *why,
                          size_t why_cap) {
  unsigned char pk[32], sk[64];
  welcome_set ws;
  int rc = welcome_get(be, db, store, now_ms, &ws, why, why_cap);
  if (rc == TG__HQ_NOTFOUND)
    return 0;
  if (rc != TG__HQ_OK)
    return rc;
  if (ws.bad[0] != '\0') {
    snprintf(warn, warn_cap, "store %s's bundle %lld does not read, so joins get no welcome "
             "coupon: %.150s", store, (long long)ws.version, ws.bad);
    return 0;
  }
  int k_at = -1;
  for (int i = 0; i < ws.n && k_at < 0; i++)
    if ((ws.w[i].from_ms == 0 || ws.w[i].from_ms <= now_ms) &&
        (ws.w[i].until_ms == 0 || now_ms < ws.w[i].until_ms))
      k_at = i;
  if (k_at < 0)
    return 0; /* no welcome campaign running: no coupon */
  tg__hq_coupon k = {.campaign = ws.w[k_at].id,
                     .kind = ws.w[k_at].kind,
                     .value = (uint32_t)ws.w[k_at].value,
                     .min_spend = (uint32_t)ws.w[k_at].min_spend,
                     .from_ms = now_ms,
                     .until_ms = now_ms + (int64_t)ws.w[k_at].days * 86400000,
                     .single_use = 1};
  snprintf(k.store, sizeof k.store, "%s", store);
  if ((rc = be->signing_key(db, pk, sk, why, why_cap)) != TG__HQ_OK)
    return rc;
  int len = tg__hq_coupon_make(sk, &k, text, cap);
  sodium_memzero(sk, sizeof sk);
  if (len < 0) {
    snprintf(why, why_cap, "store %s's welcome coupon could not be signed", store);
    return TG__HQ_BAD;
  }
  *id = k.id;
  *campaign = k.campaign;
  return 1;
}

typedef struct {
  tg__hq_group g[GROUPS_SCANNED];
  int n;
} group_list;

static void keep_group(void *ctx, const tg__hq_group *g) {
  group_list *l = ctx;
  if (l->n < GROUPS_SCANNED) {
    l->g[l->n] = *g;
    l->g[l->n++].qr = NULL;
  }
}

/* Reads the terms of the join's coupon back from its token, proven with HQ's coupon key, for
 * the page to say them (a reload shows the coupon stored with the join). */
static void coupon_terms(const tg__hq_backend *be, tg__hq_db *db, tg__hq_join_result *r) {
  unsigned char hq_pk[32], hq_sk[64], sk[64];
  char why[TG__HQ_WHY_MAX];
  tg__token_key key = {.id = TG__HQ_COUPON_KEY_ID, .role = TG__TOKEN_COUPON};
  tg__token t;
  if (be->signing_key(db, hq_pk, hq_sk, why, sizeof why) != TG__HQ_OK)
    return;
  tg__hq_coupon_key(hq_sk, key.key, sk);
  sodium_memzero(hq_sk, sizeof hq_sk);
  sodium_memzero(sk, sizeof sk);
  if (tg__token_decode(r->join.coupon, strlen(r->join.coupon), &key, 1, &t) != 0)
    return;
  r->coupon_kind = t.coupon_kind;
  r->coupon_value = t.value;
  r->coupon_min_spend = t.min_spend;
  r->coupon_until_ms = t.expires_ms;
}

/* Fills r as a refusal and returns its status. */
static unsigned refuse(tg__hq_join_result *r, unsigned status, const char *problem) {
  r->status = status;
  r->problem = problem;
  return status;
}

unsigned tg__hq_join_decide(const tg__hq_backend *be, tg__hq_db *db, const char *path_token,
                            const char *cookie, int64_t now_ms, tg__hq_join_result *r) {
  char token[TG__TOKEN_TEXT_MAX + 1], coupon[256] = "";
  tg__hq_join_in in;
  tg__token_key key = {.id = 1, .role = TG__TOKEN_INVITE};
  tg__token t;
  int enabled = 0;
  uint64_t coupon_id = 0;
  memset(r, 0, sizeof *r);
  memset(&in, 0, sizeof in);
  size_t n_path = strnlen(path_token, TG__HQ_JOIN_PATH_MAX + 1);
  int n = n_path > TG__HQ_JOIN_PATH_MAX
              ? -1
              : tg__hq_percent_decode(path_token, n_path, token, sizeof token);
  if (n <= 0 || tg__hq_invite_peek(token, (size_t)n, in.store, in.terminal) != 0) {
    snprintf(r->why, sizeof r->why, "not an invite");
    return refuse(r, 400, "malformed");
  }
  tg__hq_terminal_ref ref;
  int rc = be->terminal_get(db, in.store, in.terminal, &ref, r->why, sizeof r->why);
  memcpy(key.key, ref.invite_key, sizeof key.key);
  sodium_memzero(ref.invite_key, sizeof ref.invite_key);
  enabled = ref.enabled;
  if (rc == TG__HQ_NOTFOUND)
    return refuse(r, 404, "unknown");
  if (rc != TG__HQ_OK)
    return refuse(r, 503, "unavailable");
  int trc = tg__token_decode(token, (size_t)n, &key, 1, &t);
  sodium_memzero(key.key, sizeof key.key);
  if (trc == TG_EFORGED || trc == TG_EKEY) {
    snprintf(r->why, sizeof r->why, "invite of %s-%s: forged or altered", in.store, in.terminal);
    return refuse(r, 403, "forged");
  }
  if (trc != 0) {
    snprintf(r->why, sizeof r->why, "invite of %s-%s: %s", in.store, in.terminal, tg_err_name(trc));
    return refuse(r, 400, "malformed");
  }
  if (!enabled) {
    snprintf(r->why, sizeof r->why, "terminal %s-%s is disabled", in.store, in.terminal);
    return refuse(r, 403, "forged");
  }
  trc = tg__token_check(&t, now_ms, t.store);
  if (trc == TG_ENOTYET && t.issued_ms - now_ms <= CLOCK_SKEW_MS)
    trc = 0;
  if (trc == TG_EEXPIRED) {
    snprintf(r->why, sizeof r->why, "invite %s-%s-%u expired", t.store, t.terminal, t.receipt_no);
    return refuse(r, 410, "expired");
  }
  if (trc != 0) {
    snprintf(r->why, sizeof r->why, "invite %s-%s-%u is not valid yet", t.store, t.terminal,
             t.receipt_no);
    return refuse(r, 400, "malformed");
  }
  in.receipt_no = t.receipt_no;
  in.issued_ms = t.issued_ms;
  snprintf(in.staff, sizeof in.staff, "%s", t.staff);
  in.limit = TG__HQ_JOIN_LIMIT;
  in.now_ms = now_ms;
  if (tg__hq_join_client_ok(cookie)) {
    snprintf(r->client, sizeof r->client, "%s", cookie);
  } else {
    unsigned char raw[TG__HQ_CLIENT_MAX / 2];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(r->client, sizeof r->client, raw, sizeof raw);
    r->new_client = 1;
  }
  snprintf(in.client, sizeof in.client, "%s", r->client);
  char warn[TG__HQ_WHY_MAX] = "";
  rc = welcome_coupon(be, db, in.store, now_ms, coupon, sizeof coupon, &coupon_id,
                      &in.coupon_campaign, warn,
                      sizeof warn, r->why, sizeof r->why);
  if (rc < 0)
    return refuse(r, 503, "unavailable");
  in.coupon = coupon;
  in.coupon_id = coupon_id;
  rc = be->join(db, &in, &r->join, r->why, sizeof r->why);
  if (rc == TG__HQ_GONE)
    return refuse(r, 410, "used");
  if (rc == TG__HQ_FULL)
    return refuse(r, 503, "full");
  if (rc != TG__HQ_OK)
    return refuse(r, 503, "unavailable");
  if (r->join.coupon[0] != '\0')
    coupon_terms(be, db, r);
  snprintf(r->why, sizeof r->why, "%s %s-%s-%lld slot %d into group %lld%s", r->join.again ? "again" : "joined",
           in.store, in.terminal, (long long)in.receipt_no, r->join.slot,
           (long long)r->join.group.id, r->join.coupon[0] ? " with a welcome coupon" : "");
  group_list *l = calloc(1, sizeof *l);
  if (l != NULL && be->groups(db, in.store, keep_group, l, r->warning, sizeof r->warning) == TG__HQ_OK)
    tg__hq_group_warnings(l->g, l->n, in.store, now_ms, r->warning, sizeof r->warning);
  else
    r->warning[0] = '\0';
  free(l);
  if (warn[0] != '\0') {
    size_t at = strlen(r->warning);
    snprintf(r->warning + at, sizeof r->warning - at, "%s%s", at > 0 ? "; " : "", warn);
  }
  r->status = 200;
  return 200;
}

void tg__hq_join_result_free(tg__hq_join_result *r) {
  if (r != NULL)
    tg__hq_join_out_free(&r->join);
}
