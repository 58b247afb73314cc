/* Settlement coupons into the next bundle: `bundle publish` carries a store's pending ones. */
#include <jansson.h>
#include <string.h>

#include "hq.h"

typedef struct {
  json_t *coupons;
  int64_t *ids;
  int n, max, failed;
} embed;

static void on_pending(void *ctx, const tg__hq_settlement *s) {
  embed *e = ctx;
  if (e->failed || e->n >= e->max)
    return;
  /* leased to the till of the sale it settles: tills offline cannot share who spent it */
  json_t *c = json_pack("{s:I, s:s, s:s, s:s}", "member", (json_int_t)s->member, "store",
                        s->store, "terminal", s->terminal, "token", s->token);
  if (c == NULL || json_array_append_new(e->coupons, c) != 0) {
    e->failed = 1;
    return;
  }
  e->ids[e->n++] = s->coupon;
}

int tg__hq_settle_embed(const tg__hq_backend *be, tg__hq_db *db, const char *store,
                        json_t *bundle, int64_t *ids, int *n, char *why, size_t cap) {
  json_t *coupons = json_object_get(bundle, "coupons");
  *n = 0;
  if (coupons == NULL && json_object_set_new(bundle, "coupons", coupons = json_array()) != 0) {
    snprintf(why, cap, "out of memory adding the settlement coupons");
    return TG__HQ_NOMEM;
  }
  if (!json_is_array(coupons)) {
    snprintf(why, cap, "\"coupons\" of the bundle file must be an array");
    return TG__HQ_BAD;
  }
  size_t there = json_array_size(coupons);
  if (there >= TG__HQ_BUNDLE_COUPONS)
    return TG__HQ_OK; /* full: the pending ones wait for the next bundle */
  embed e = {coupons, ids, 0, TG__HQ_BUNDLE_COUPONS - (int)there, 0};
  int rc = be->settle_pending(db, store, e.max, on_pending, &e, why, cap);
  if (rc == TG__HQ_OK && e.failed) {
    snprintf(why, cap, "out of memory adding the settlement coupons");
    rc = TG__HQ_NOMEM;
  }
  if (json_array_size(coupons) == 0)
    json_object_del(bundle, "coupons"); /* a bundle without coupons stays as it was written */
  *n = e.n;
  return rc;
}
