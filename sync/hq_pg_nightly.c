/* tillgroup-hq's nightly pull in PostgreSQL (schema step 3): pull URLs, held records, results. */
#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>

#include "hq.h"

int tg__hq_pg_terminal_get(tg__hq_db *h, const char *store, const char *terminal,
                           tg__hq_terminal_ref *out, char *why, size_t cap) {
  const char *v[2] = {store, terminal};
  PGresult *res = NULL;
  memset(out, 0, sizeof *out);
  int rc = tg__hq_pg_ready(h, why, cap);
  if (rc == TG__HQ_OK)
    rc =
        tg__hq_pg_run_binary(h,
                             "SELECT coalesce(pull_url, ''), invite_key, enabled::int::text"
                             " FROM terminal WHERE store = $1 AND terminal = $2",
                             2, v, NULL, NULL, "could not read the terminal", &res, NULL, why, cap);
  if (rc != TG__HQ_OK)
    return rc;
  if (PQntuples(res) == 0) {
    snprintf(why, cap, "terminal %s-%s is not enrolled", store, terminal);
    rc = TG__HQ_NOTFOUND;
  } else if (PQgetlength(res, 0, 1) != 32 || PQgetlength(res, 0, 0) > TG__HQ_PULL_URL_MAX) {
    snprintf(why, cap, "terminal %s-%s has a damaged invite key or pull URL", store, terminal);
    rc = TG__HQ_DB;
  } else {
    memcpy(out->url, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
    memcpy(out->invite_key, PQgetvalue(res, 0, 1), 32);
    out->enabled = strcmp(PQgetvalue(res, 0, 2), "0") != 0;
  }
  PQclear(res);
  return rc;
}

int tg__hq_pg_pull_url_set(tg__hq_db *h, const char *store, const char *terminal, const char *url,
                           char *why, size_t cap) {
  const char *v[3] = {store, terminal, url};
  return tg__hq_pg_terminal_set(
      h, "UPDATE terminal SET pull_url = $3 WHERE store = $1 AND terminal = $2", 3, v, why, cap);
}

struct held_ctx {
  void (*fn)(void *ctx, int64_t seq, const char *body, size_t n);
  void *ctx;
};

static void held_row(void *arg, const PGresult *res) {
  const struct held_ctx *c = arg;
  c->fn(c->ctx, tg__hq_pg_int_at(res, 0, 0), PQgetvalue(res, 0, 1), (size_t)PQgetlength(res, 0, 1));
}

/* Streams the rows one at a time: memory does not grow with the range. */
int tg__hq_pg_held(tg__hq_db *h, const char *store, const char *terminal, int64_t epoch,
                   int64_t from, int64_t to,
                   void (*fn)(void *ctx, int64_t seq, const char *body, size_t n), void *ctx,
                   char *why, size_t cap) {
  char e[TG__HQ_PG_INT], lo[TG__HQ_PG_INT], hi[TG__HQ_PG_INT];
  const char *v[5] = {store, terminal, tg__hq_pg_i64(e, epoch), tg__hq_pg_i64(lo, from),
                      tg__hq_pg_i64(hi, to)};
  struct held_ctx c = {fn, ctx};
  return tg__hq_pg_stream(h,
                          "SELECT seq, body FROM record WHERE store = $1 AND terminal = $2"
                          " AND epoch = $3 AND seq BETWEEN $4 AND $5 UNION ALL"
                          " SELECT seq, body FROM dead_letter d WHERE store = $1"
                          " AND terminal = $2 AND epoch = $3 AND seq BETWEEN $4 AND $5"
                          " AND NOT EXISTS (SELECT 1 FROM record r WHERE r.store = d.store"
                          " AND r.terminal = d.terminal AND r.epoch = d.epoch AND r.seq = d.seq)"
                          " ORDER BY 1",
                          5, v, "could not read the held records", held_row, &c, why, cap);
}

int tg__hq_pg_nightly_put(tg__hq_db *h, const tg__hq_nightly_row *r, char *why, size_t cap) {
  char b[6][TG__HQ_PG_INT];
  const char *v[12] = {r->store,
                       r->terminal,
                       r->date,
                       tg__hq_pg_i64(b[0], r->run_ms),
                       r->reachable ? "true" : "false",
                       r->needs_operator ? "true" : "false",
                       tg__hq_pg_i64(b[1], r->epoch),
                       tg__hq_pg_i64(b[2], r->max_seq),
                       tg__hq_pg_i64(b[3], r->count_before),
                       tg__hq_pg_i64(b[4], r->count_after),
                       tg__hq_pg_i64(b[5], r->fetched),
                       r->flags};
  int rc = tg__hq_pg_ready(h, why, cap);
  if (rc == TG__HQ_OK)
    rc =
        tg__hq_pg_run(h,
                      "INSERT INTO nightly(store, terminal, date, run_ms, reachable,"
                      " needs_operator, epoch, max_seq, count_before, count_after, fetched,"
                      " flags) VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
                      " ON CONFLICT (store, terminal, date) DO UPDATE SET run_ms = EXCLUDED.run_ms,"
                      " reachable = EXCLUDED.reachable, needs_operator = EXCLUDED.needs_operator,"
                      " epoch = EXCLUDED.epoch, max_seq = EXCLUDED.max_seq,"
                      " count_before = EXCLUDED.count_before, count_after = EXCLUDED.count_after,"
                      " fetched = EXCLUDED.fetched, flags = EXCLUDED.flags",
                      12, v, "could not store the nightly result", NULL, why, cap);
  return rc;
}

int tg__hq_pg_nightly_last(tg__hq_db *h, void (*fn)(void *ctx, const tg__hq_nightly_row *row),
                           void *ctx, char *why, size_t cap) {
  PGresult *res = NULL;
  int rc = tg__hq_pg_ready(h, why, cap);
  if (rc == TG__HQ_OK)
    rc = tg__hq_pg_run(h,
                       "SELECT store, terminal, date, run_ms, reachable::int, needs_operator::int,"
                       " epoch, max_seq, count_before, count_after, fetched, flags FROM (SELECT *,"
                       " row_number() OVER (PARTITION BY store, terminal"
                       " ORDER BY run_ms DESC, date DESC) AS k FROM nightly) n WHERE k = 1"
                       " ORDER BY store, terminal",
                       0, NULL, "could not read the nightly results", &res, why, cap);
  if (rc != TG__HQ_OK)
    return rc;
  for (int i = 0; i < PQntuples(res); i++) {
    tg__hq_nightly_row r;
    memset(&r, 0, sizeof r);
    snprintf(r.store, sizeof r.store, "%s", PQgetvalue(res, i, 0));
    snprintf(r.terminal, sizeof r.terminal, "%s", PQgetvalue(res, i, 1));
    snprintf(r.date, sizeof r.date, "%s", PQgetvalue(res, i, 2));
    r.run_ms = tg__hq_pg_int_at(res, i, 3);
    r.reachable = tg__hq_pg_int_at(res, i, 4) != 0;
    r.needs_operator = tg__hq_pg_int_at(res, i, 5) != 0;
    r.epoch = tg__hq_pg_int_at(res, i, 6);
    r.max_seq = tg__hq_pg_int_at(res, i, 7);
    r.count_before = tg__hq_pg_int_at(res, i, 8);
    r.count_after = tg__hq_pg_int_at(res, i, 9);
    r.fetched = tg__hq_pg_int_at(res, i, 10);
    snprintf(r.flags, sizeof r.flags, "%s", PQgetvalue(res, i, 11));
    fn(ctx, &r);
  }
  PQclear(res);
  return TG__HQ_OK;
}
