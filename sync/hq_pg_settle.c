/* tillgroup-hq's settlements in PostgreSQL (schema step 4): HQ's coupons, then their bundle. */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hq.h"

/* Reads the settlement in columns c.. of row (SETTLEMENT_COLUMNS' order). */
static void settlement_at(const PGresult *res, int row, int c, tg__hq_settlement *s) {
  snprintf(s->rule, sizeof s->rule, "%s", PQgetvalue(res, row, c + 0));
  snprintf(s->store, sizeof s->store, "%s", PQgetvalue(res, row, c + 1));
  snprintf(s->terminal, sizeof s->terminal, "%s", PQgetvalue(res, row, c + 2));
  s->epoch = tg__hq_pg_int_at(res, row, c + 3);
  s->seq = tg__hq_pg_int_at(res, row, c + 4);
  s->campaign = (uint32_t)tg__hq_pg_int_at(res, row, c + 5);
  s->member = tg__hq_pg_int_at(res, row, c + 6);
  s->amount = tg__hq_pg_int_at(res, row, c + 7);
  s->coupon = tg__hq_pg_int_at(res, row, c + 8);
  snprintf(s->token, sizeof s->token, "%s", PQgetvalue(res, row, c + 9));
  s->made_ms = tg__hq_pg_int_at(res, row, c + 10);
  snprintf(s->state, sizeof s->state, "%s", PQgetvalue(res, row, c + 11));
  s->bundle_version = tg__hq_pg_int_at(res, row, c + 12);
}

#define SETTLEMENT_COLUMNS                                                                         \
  "rule, store, terminal, epoch, seq, campaign, member, amount, coupon, token, made_ms, state,"    \
  " bundle_version"

/* Inserts s, or answers the row already there for its rule, source record and campaign. */
int tg__hq_pg_settle_add(tg__hq_db *h, tg__hq_settlement *s, int *added, char *why, size_t cap) {
  char b[8][TG__HQ_PG_INT];
  const char *v[11] = {s->rule,
                       s->store,
                       s->terminal,
                       tg__hq_pg_i64(b[0], s->epoch),
                       tg__hq_pg_i64(b[1], s->seq),
                       tg__hq_pg_i64(b[2], s->campaign),
                       tg__hq_pg_i64(b[3], s->member),
                       tg__hq_pg_i64(b[4], s->amount),
                       tg__hq_pg_i64(b[5], s->coupon),
                       s->token,
                       tg__hq_pg_i64(b[6], s->made_ms)};
  PGresult *res = NULL;
  *added = 0;
  int rc = tg__hq_pg_ready(h, why, cap);
  if (rc == TG__HQ_OK)
    rc = tg__hq_pg_run(
        h,
        "WITH n AS (INSERT INTO settlement(rule, store, terminal, epoch, seq, campaign,"
        " member, amount, coupon, token, made_ms, state) VALUES($1, $2, $3, $4, $5, $6,"
        " $7, $8, $9, $10, $11, 'pending-bundle') ON CONFLICT (rule, store, terminal,"
        " epoch, seq, campaign) DO NOTHING RETURNING " SETTLEMENT_COLUMNS ")"
        " SELECT 1, " SETTLEMENT_COLUMNS " FROM n UNION ALL SELECT 0, " SETTLEMENT_COLUMNS
        " FROM settlement WHERE rule = $1 AND store = $2 AND terminal = $3 AND epoch = $4"
        " AND seq = $5 AND campaign = $6",
        11, v, "could not store the settlement", &res, why, cap);
  if (rc != TG__HQ_OK)
    return rc;
  if (PQntuples(res) < 1) {
    snprintf(why, cap, "the settlement was neither stored nor found");
    rc = TG__HQ_DB;
  } else {
    /* the inserted row is not yet visible to the second SELECT: one row either way */
    *added = tg__hq_pg_int_at(res, 0, 0) == 1;
    settlement_at(res, 0, 1, s);
  }
  PQclear(res);
  return rc;
}

int tg__hq_pg_settle_pending(tg__hq_db *h, const char *store, int max,
                             void (*fn)(void *ctx, const tg__hq_settlement *s), void *ctx,
                             char *why, size_t cap) {
  char lim[TG__HQ_PG_INT];
  const char *v[2] = {store, tg__hq_pg_i64(lim, max)};
  PGresult *res = NULL;
  int rc = tg__hq_pg_ready(h, why, cap);
  if (rc == TG__HQ_OK)
    rc =
        tg__hq_pg_run(h,
                      "SELECT " SETTLEMENT_COLUMNS " FROM settlement WHERE state = 'pending-bundle'"
                      " AND ($1 = '*' OR store = $1) ORDER BY made_ms, coupon LIMIT $2",
                      2, v, "could not read the pending settlements", &res, why, cap);
  if (rc != TG__HQ_OK)
    return rc;
  for (int i = 0; i < PQntuples(res); i++) {
    tg__hq_settlement s;
    memset(&s, 0, sizeof s);
    settlement_at(res, i, 0, &s);
    fn(ctx, &s);
  }
  PQclear(res);
  return TG__HQ_OK;
}

int tg__hq_pg_bundle_put_settled(tg__hq_db *h, int64_t version, const char *store, const char *body,
                                 size_t n, const char *sig, const int64_t *coupons, int n_coupons,
                                 char *why, size_t cap) {
  char ver[TG__HQ_PG_INT], *ids = malloc((size_t)n_coupons * 21 + 3); /* "{1,2,...}" */
  size_t at = 0;
  if (ids == NULL) {
    snprintf(why, cap, "out of memory");
    return TG__HQ_NOMEM;
  }
  ids[at++] = '{';
  for (int i = 0; i < n_coupons; i++)
    at += (size_t)snprintf(ids + at, 22, "%s%lld", i > 0 ? "," : "", (long long)coupons[i]);
  ids[at++] = '}';
  ids[at] = '\0';
  const char *v[2] = {ids, tg__hq_pg_i64(ver, version)};
  int rc = tg__hq_pg_ready(h, why, cap);
  if (rc == TG__HQ_OK)
    rc = tg__hq_pg_exec(h, "BEGIN", "could not start a transaction", why, cap);
  if (rc == TG__HQ_OK)
    rc = tg__hq_pg_bundle_insert(h, version, store, body, n, sig, why, cap);
  if (rc == TG__HQ_OK && n_coupons > 0)
    rc = tg__hq_pg_run(h,
                       "UPDATE settlement SET state = 'published', bundle_version = $2"
                       " WHERE coupon = ANY($1::bigint[]) AND state = 'pending-bundle'",
                       2, v, "could not mark the settlements published", NULL, why, cap);
  if (rc == TG__HQ_OK)
    rc = tg__hq_pg_exec(h, "COMMIT", "could not commit the bundle", why, cap);
  if (rc != TG__HQ_OK)
    tg__hq_pg_rollback(h);
  free(ids);
  return rc;
}
