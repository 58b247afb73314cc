/* tillgroup-hq's groups and joins in PostgreSQL (schema step 2): row locks keep seats exact. */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hq.h"

#define GROUP_COLS                                                                                 \
  "g.id::text, g.store, g.name, g.platform, g.link, g.qr, g.capacity::text, g.joined::text,"      \
  " g.expires_ms::text, g.created_ms::text, g.enabled::int::text"
#define RETRIES 16    /* a join that lost a race for the same invite's slot starts again */
#define SEAT_TRIES 1000 /* a group filled between choosing it and taking its seat: choose again */

static void text_at(const PGresult *res, int row, int col, char *out, size_t cap) {
  snprintf(out, cap, "%.*s", PQgetlength(res, row, col), PQgetvalue(res, row, col));
}

/* Fills g from GROUP_COLS at columns at..at+10; g->qr NULL, n_qr its size. */
static void group_row(const PGresult *res, int row, int at, tg__hq_group *g) {
  memset(g, 0, sizeof *g);
  g->id = tg__hq_pg_int_at(res, row, at);
  text_at(res, row, at + 1, g->store, sizeof g->store);
  text_at(res, row, at + 2, g->name, sizeof g->name);
  text_at(res, row, at + 3, g->platform, sizeof g->platform);
  text_at(res, row, at + 4, g->link, sizeof g->link);
  g->n_qr = PQgetisnull(res, row, at + 5) ? 0 : (size_t)PQgetlength(res, row, at + 5);
  g->capacity = tg__hq_pg_int_at(res, row, at + 6);
  g->joined = tg__hq_pg_int_at(res, row, at + 7);
  g->expires_ms = tg__hq_pg_int_at(res, row, at + 8);
  g->created_ms = tg__hq_pg_int_at(res, row, at + 9);
  g->enabled = tg__hq_pg_int_at(res, row, at + 10) != 0;
}

int tg__hq_pg_group_add(tg__hq_db *h, const tg__hq_group *g, int64_t *id, char *why, size_t cap) {
  char c[TG__HQ_PG_INT], e[TG__HQ_PG_INT], now[TG__HQ_PG_INT];
  PGresult *res = NULL;
  int rc = tg__hq_pg_ready(h, why, cap);
  if (rc != TG__HQ_OK)
    return rc;
  const char *v[8] = {g->store,
                      g->name,
                      g->platform,
                      g->link,
                      (const char *)g->qr,
                      tg__hq_pg_i64(c, g->capacity),
                      tg__hq_pg_i64(e, g->expires_ms),
                      tg__hq_pg_i64(now, tg__hq_now_ms())};
  const int len[8] = {0, 0, 0, 0, (int)g->n_qr, 0, 0, 0}, fmt[8] = {0, 0, 0, 0, 1, 0, 0, 0};
  rc = tg__hq_pg_run_binary(
      h,
      "INSERT INTO chat_group(store, name, platform, link, qr, capacity, expires_ms,"
      " created_ms) VALUES($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id::text",
      8, v, len, fmt, "could not add the group", &res, NULL, why, cap);
  if (rc != TG__HQ_OK)
    return rc;
  *id = tg__hq_pg_int_at(res, 0, 0);
  PQclear(res);
  return TG__HQ_OK;
}

int tg__hq_pg_group_disable(tg__hq_db *h, int64_t id, char *why, size_t cap) {
  char g[TG__HQ_PG_INT];
  PGresult *res = NULL;
  int rc = tg__hq_pg_ready(h, why, cap);
  if (rc != TG__HQ_OK)
    return rc;
  const char *v[1] = {tg__hq_pg_i64(g, id)};
  rc = tg__hq_pg_run(h, "UPDATE chat_group SET enabled = false WHERE id = $1", 1, v,
                     "could not disable the group", &res, why, cap);
  if (rc != TG__HQ_OK)
    return rc;
  if (strcmp(PQcmdTuples(res), "0") == 0) {
    snprintf(why, cap, "there is no group %lld", (long long)id);
    rc = TG__HQ_NOTFOUND;
  }
  PQclear(res);
  return rc;
}

int tg__hq_pg_groups(tg__hq_db *h, const char *store, void (*fn)(void *ctx, const tg__hq_group *g),
                     void *ctx, char *why, size_t cap) {
  PGresult *res = NULL;
  int rc = tg__hq_pg_ready(h, why, cap);
  if (rc != TG__HQ_OK)
    return rc;
  const char *v[1] = {store};
  rc = tg__hq_pg_run_binary(h,
                            "SELECT " GROUP_COLS
                            " FROM chat_group g WHERE $1::text IS NULL OR g.store = $1"
                            " ORDER BY g.store, g.id",
                            1, v, NULL, NULL, "could not list the groups", &res, NULL, why, cap);
  if (rc != TG__HQ_OK)
    return rc;
  for (int i = 0; i < PQntuples(res); i++) {
    tg__hq_group g;
    group_row(res, i, 0, &g);
    fn(ctx, &g);
  }
  PQclear(res);
  return TG__HQ_OK;
}

/*
 * Reads into out the client's first join at the invite's store (or the join
 * id when id > 0): 1 found, 0 not, or an rc. A phone that joined once is
 * shown that join again from any later receipt: one seat, one welcome coupon.
 */
static int join_get(tg__hq_db *h, const tg__hq_join_in *in, int64_t id, tg__hq_join_out *out,
                    char *why, size_t cap) {
  char ids[TG__HQ_PG_INT];
  PGresult *res = NULL;
  const char *v[3] = {in->store, in->client, tg__hq_pg_i64(ids, id)};
  int rc = tg__hq_pg_run_binary(
      h,
      "SELECT j.id::text, j.slot::text, j.joined_ms::text, j.coupon, j.coupon_id::text,"
      " j.seat::text, " GROUP_COLS " FROM group_join j JOIN chat_group g ON g.id = j.group_id WHERE"
      " ($3::bigint > 0 AND j.id = $3) OR ($3::bigint = 0 AND j.store = $1 AND j.client = $2)"
      " ORDER BY j.id LIMIT 1",
      3, v, NULL, NULL, "could not read the joins", &res, NULL, why, cap);
  if (rc != TG__HQ_OK)
    return rc;
  if (PQntuples(res) == 0) {
    PQclear(res);
    return 0;
  }
  out->id = tg__hq_pg_int_at(res, 0, 0);
  out->slot = (int)tg__hq_pg_int_at(res, 0, 1);
  out->joined_ms = tg__hq_pg_int_at(res, 0, 2);
  text_at(res, 0, 3, out->coupon, sizeof out->coupon);
  out->coupon_id = (uint64_t)tg__hq_pg_int_at(res, 0, 4);
  group_row(res, 0, 6, &out->group);
  if (out->group.n_qr > 0) {
    unsigned char *p = malloc(out->group.n_qr);
    if (p == NULL) {
      PQclear(res);
      snprintf(why, cap, "out of memory");
      return TG__HQ_NOMEM;
    }
    memcpy(p, PQgetvalue(res, 0, 11), out->group.n_qr);
    out->group.qr = p;
  }
  PQclear(res);
  return 1;
}

/* One attempt at a join in its own transaction; *retry when it lost a race for the invite's slot. */
static int join_once(tg__hq_db *h, const tg__hq_join_in *in, tg__hq_join_out *out, int *retry,
                     char *why, size_t cap) {
  char r[TG__HQ_PG_INT], is[TG__HQ_PG_INT], now[TG__HQ_PG_INT], g[TG__HQ_PG_INT],
      slot[TG__HQ_PG_INT], seat_s[TG__HQ_PG_INT], cid[TG__HQ_PG_INT], camp[TG__HQ_PG_INT];
  PGresult *res = NULL;
  int unique = 0, rc;
  int64_t group = -1, seat = -1;
  *retry = 0;
  if ((rc = tg__hq_pg_exec(h, "BEGIN", "could not start a transaction", why, cap)) != TG__HQ_OK)
    return rc;
  if ((rc = join_get(h, in, 0, out, why, cap)) < 0)
    goto fail;
  if (rc == 1) {
    out->again = 1;
    return tg__hq_pg_exec(h, "COMMIT", "could not commit", why, cap);
  }
  const char *inv[4] = {in->store, in->terminal, tg__hq_pg_i64(r, in->receipt_no),
                        tg__hq_pg_i64(is, in->issued_ms)};
  if ((rc = tg__hq_pg_run(h,
                          "SELECT count(*)::text FROM group_join WHERE store = $1 AND terminal = $2"
                          " AND receipt_no = $3 AND issued_ms = $4",
                          4, inv, "could not count the joins", &res, why, cap)) != TG__HQ_OK)
    goto fail;
  int64_t n_joins = tg__hq_pg_int_at(res, 0, 0);
  PQclear(res);
  res = NULL;
  if (n_joins >= in->limit) {
    snprintf(why, cap, "invite %s-%s-%lld has been used for %lld joins (the limit)", in->store,
             in->terminal, (long long)in->receipt_no, (long long)n_joins);
    rc = TG__HQ_GONE;
    goto fail;
  }
  /* Each statement sees what committed before it (READ COMMITTED): a group
   * another join filled meanwhile is passed over and the next one chosen. */
  for (int tries = 0; seat < 0 && tries < SEAT_TRIES; tries++) {
    const char *pick[2] = {in->store, tg__hq_pg_i64(now, in->now_ms)};
    if ((rc = tg__hq_pg_run(
             h,
             "SELECT id::text FROM chat_group WHERE store = $1 AND enabled AND"
             " joined < capacity AND (expires_ms = 0 OR expires_ms > $2) ORDER BY id LIMIT 1",
             2, pick, "could not choose a group", &res, why, cap)) != TG__HQ_OK)
      goto fail;
    group = PQntuples(res) > 0 ? tg__hq_pg_int_at(res, 0, 0) : -1;
    PQclear(res);
    res = NULL;
    if (group < 0)
      break;
    const char *take[1] = {tg__hq_pg_i64(g, group)};
    if ((rc = tg__hq_pg_run(h,
                            "UPDATE chat_group SET joined = joined + 1 WHERE id = $1 AND enabled"
                            " AND joined < capacity RETURNING joined::text",
                            1, take, "could not take a seat", &res, why, cap)) != TG__HQ_OK)
      goto fail;
    seat = PQntuples(res) > 0 ? tg__hq_pg_int_at(res, 0, 0) : -1;
    PQclear(res);
    res = NULL;
  }
  if (seat < 0) {
    snprintf(why, cap, "store %s has no enabled group with room", in->store);
    rc = TG__HQ_FULL;
    goto fail;
  }
  const char *ins[13] = {in->store,
                         in->terminal,
                         r,
                         is,
                         tg__hq_pg_i64(slot, n_joins + 1),
                         in->staff,
                         in->client,
                         g,
                         tg__hq_pg_i64(seat_s, seat),
                         tg__hq_pg_i64(cid, (int64_t)in->coupon_id),
                         in->coupon != NULL ? in->coupon : "",
                         now,
                         tg__hq_pg_i64(camp, in->coupon_campaign)};
  rc = tg__hq_pg_run_binary(
      h,
      "INSERT INTO group_join(store, terminal, receipt_no, issued_ms, slot, staff, client,"
      " group_id, seat, coupon_id, coupon, joined_ms, coupon_campaign)"
      " VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id::text",
      13, ins, NULL, NULL, "could not record the join", &res, &unique, why, cap);
  if (rc != TG__HQ_OK) {
    *retry = unique; /* the same invite joined at the same moment: count again */
    goto fail;
  }
  int64_t id = tg__hq_pg_int_at(res, 0, 0);
  PQclear(res);
  res = NULL;
  if ((rc = join_get(h, in, id, out, why, cap)) != 1) {
    if (rc == 0) {
      snprintf(why, cap, "the join just recorded could not be read back");
      rc = TG__HQ_DB;
    }
    goto fail;
  }
  if ((rc = tg__hq_pg_run_binary(h, "COMMIT", 0, NULL, NULL, NULL, "could not commit the join",
                                 NULL, &unique, why, cap)) != TG__HQ_OK) {
    *retry = unique;
    goto fail;
  }
  return TG__HQ_OK;
fail:
  PQclear(res);
  tg__hq_pg_rollback(h);
  tg__hq_join_out_free(out);
  memset(out, 0, sizeof *out);
  return rc;
}

int tg__hq_pg_join(tg__hq_db *h, const tg__hq_join_in *in, tg__hq_join_out *out, char *why,
                   size_t cap) {
  int retry = 1, rc = TG__HQ_DB;
  memset(out, 0, sizeof *out);
  for (int i = 0; retry && i < RETRIES; i++) {
    if ((rc = tg__hq_pg_ready(h, why, cap)) != TG__HQ_OK)
      return rc;
    rc = join_once(h, in, out, &retry, why, cap);
  }
  return rc;
}

int tg__hq_pg_joins(tg__hq_db *h, int64_t from_ms, int64_t to_ms,
                    void (*fn)(void *ctx, const tg__hq_join_row *j), void *ctx, char *why,
                    size_t cap) {
  char lo[TG__HQ_PG_INT], hi[TG__HQ_PG_INT];
  PGresult *res = NULL;
  int rc = tg__hq_pg_ready(h, why, cap);
  if (rc != TG__HQ_OK)
    return rc;
  const char *v[2] = {tg__hq_pg_i64(lo, from_ms), tg__hq_pg_i64(hi, to_ms)};
  rc = tg__hq_pg_run(
      h,
      "SELECT store, terminal, staff, receipt_no::text, group_id::text, joined_ms::text,"
      " coupon_id::text, coupon_campaign::text FROM group_join"
      " WHERE joined_ms >= $1 AND joined_ms < $2"
      " ORDER BY joined_ms, id",
      2, v, "could not read the joins", &res, why, cap);
  if (rc != TG__HQ_OK)
    return rc;
  for (int i = 0; i < PQntuples(res); i++) {
    tg__hq_join_row j = {PQgetvalue(res, i, 0),
                         PQgetvalue(res, i, 1),
                         PQgetvalue(res, i, 2),
                         tg__hq_pg_int_at(res, i, 3),
                         tg__hq_pg_int_at(res, i, 4),
                         tg__hq_pg_int_at(res, i, 5),
                         (uint64_t)tg__hq_pg_int_at(res, i, 6),
                         (uint32_t)tg__hq_pg_int_at(res, i, 7)};
    fn(ctx, &j);
  }
  PQclear(res);
  return TG__HQ_OK;
}
