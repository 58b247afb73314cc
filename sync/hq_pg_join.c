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

static const char *i64(char *buf, int64_t v) {
  snprintf(buf, 24, "%lld", (long long)v);
  return buf;
}

static int64_t int_at(const PGresult *res, int row, int col) {
  return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

/*
 * Runs sql with text parameters, results in binary (text columns are their
 * bytes). 0 with *out, or an rc with why; *unique set when the failure was a
 * unique violation.
 */
static int q(PGconn *c, const char *sql, int n, const char *const *v, const int *len,
             const int *fmt, PGresult **out, int *unique, const char *what, char *why,
             size_t cap) {
  PGresult *res = PQexecParams(c, sql, n, NULL, v, len, fmt, 1);
  ExecStatusType s = res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR;
  if (unique != NULL)
    *unique = 0;
  if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) {
    if (out != NULL)
      *out = res;
    else
      PQclear(res);
    return TG__HQ_OK;
  }
  const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
  const char *msg = res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
  if (unique != NULL && state != NULL && strcmp(state, "23505") == 0)
    *unique = 1;
  if (msg == NULL)
    msg = PQerrorMessage(c);
  snprintf(why, cap, "%s: %.*s", what, (int)strcspn(msg, "\r\n"), msg);
  PQclear(res);
  return TG__HQ_DB;
}

static void rollback(PGconn *c) {
  if (PQtransactionStatus(c) != PQTRANS_IDLE)
    PQclear(PQexec(c, "ROLLBACK"));
}

static void text_at(const PGresult *res, int row, int col, char *out, size_t cap) {
  snprintf(out, cap, "%.*s", PQgetlength(res, row, col), PQgetvalue(res, row, col));
}

/* Fills g from GROUP_COLS at columns at..at+10; g->qr NULL, n_qr its size. */
static void group_row(const PGresult *res, int row, int at, tg__hq_group *g) {
  memset(g, 0, sizeof *g);
  g->id = int_at(res, row, at);
  text_at(res, row, at + 1, g->store, sizeof g->store);
  text_at(res, row, at + 2, g->name, sizeof g->name);
  text_at(res, row, at + 3, g->platform, sizeof g->platform);
  text_at(res, row, at + 4, g->link, sizeof g->link);
  g->n_qr = PQgetisnull(res, row, at + 5) ? 0 : (size_t)PQgetlength(res, row, at + 5);
  g->capacity = int_at(res, row, at + 6);
  g->joined = int_at(res, row, at + 7);
  g->expires_ms = int_at(res, row, at + 8);
  g->created_ms = int_at(res, row, at + 9);
  g->enabled = int_at(res, row, at + 10) != 0;
}

int tg__hq_pg_group_add(tg__hq_db *h, const tg__hq_group *g, int64_t *id, char *why, size_t cap) {
  char c[24], e[24], now[24];
  PGresult *res = NULL;
  PGconn *conn = tg__hq_pg_conn(h, why, cap);
  if (conn == NULL)
    return TG__HQ_DB;
  const char *v[8] = {g->store,           g->name,          g->platform, g->link,
                      (const char *)g->qr, i64(c, g->capacity), i64(e, g->expires_ms),
                      i64(now, tg__hq_now_ms())};
  const int len[8] = {0, 0, 0, 0, (int)g->n_qr, 0, 0, 0}, fmt[8] = {0, 0, 0, 0, 1, 0, 0, 0};
  int rc = q(conn,
             "INSERT INTO chat_group(store, name, platform, link, qr, capacity, expires_ms,"
             " created_ms) VALUES($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id::text",
             8, v, len, fmt, &res, NULL, "could not add the group", why, cap);
  if (rc != TG__HQ_OK)
    return rc;
  *id = int_at(res, 0, 0);
  PQclear(res);
  return TG__HQ_OK;
}

int tg__hq_pg_group_disable(tg__hq_db *h, int64_t id, char *why, size_t cap) {
  char g[24];
  PGresult *res = NULL;
  PGconn *conn = tg__hq_pg_conn(h, why, cap);
  if (conn == NULL)
    return TG__HQ_DB;
  const char *v[1] = {i64(g, id)};
  int rc = q(conn, "UPDATE chat_group SET enabled = false WHERE id = $1", 1, v, NULL, NULL, &res,
             NULL, "could not disable the group", why, cap);
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
  PGconn *conn = tg__hq_pg_conn(h, why, cap);
  if (conn == NULL)
    return TG__HQ_DB;
  const char *v[1] = {store};
  int rc = q(conn,
             "SELECT " GROUP_COLS " FROM chat_group g WHERE $1::text IS NULL OR g.store = $1"
             " ORDER BY g.store, g.id",
             1, v, NULL, NULL, &res, NULL, "could not list the groups", why, cap);
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

/* Reads the join of this invite by client (or by id when id > 0): 1 found, 0 not, or an rc. */
static int join_get(PGconn *c, const tg__hq_join_in *in, int64_t id, tg__hq_join_out *out,
                    char *why, size_t cap) {
  char r[24], is[24], ids[24];
  PGresult *res = NULL;
  const char *v[6] = {in->store,  in->terminal, i64(r, in->receipt_no), i64(is, in->issued_ms),
                      in->client, i64(ids, id)};
  int rc = q(c,
             "SELECT j.id::text, j.slot::text, j.joined_ms::text, j.coupon, j.coupon_id::text,"
             " j.seat::text, " GROUP_COLS
             " FROM group_join j JOIN chat_group g ON g.id = j.group_id WHERE"
             " ($6::bigint > 0 AND j.id = $6) OR ($6::bigint = 0 AND j.store = $1"
             " AND j.terminal = $2 AND j.receipt_no = $3 AND j.issued_ms = $4 AND j.client = $5)",
             6, v, NULL, NULL, &res, NULL, "could not read the joins", why, cap);
  if (rc != TG__HQ_OK)
    return rc;
  if (PQntuples(res) == 0) {
    PQclear(res);
    return 0;
  }
  out->id = int_at(res, 0, 0);
  out->slot = (int)int_at(res, 0, 1);
  out->joined_ms = int_at(res, 0, 2);
  text_at(res, 0, 3, out->coupon, sizeof out->coupon);
  out->coupon_id = (uint64_t)int_at(res, 0, 4);
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
static int join_once(PGconn *c, const tg__hq_join_in *in, tg__hq_join_out *out, int *retry,
                     char *why, size_t cap) {
  char r[24], is[24], now[24], g[24], slot[24], seat_s[24], cid[24], camp[24];
  PGresult *res = NULL;
  int unique = 0, rc;
  int64_t group = -1, seat = -1;
  *retry = 0;
  if ((rc = q(c, "BEGIN", 0, NULL, NULL, NULL, NULL, NULL, "could not start a transaction", why,
              cap)) != TG__HQ_OK)
    return rc;
  if ((rc = join_get(c, in, 0, out, why, cap)) < 0)
    goto fail;
  if (rc == 1) {
    out->again = 1;
    return q(c, "COMMIT", 0, NULL, NULL, NULL, NULL, NULL, "could not commit", why, cap);
  }
  const char *inv[4] = {in->store, in->terminal, i64(r, in->receipt_no), i64(is, in->issued_ms)};
  if ((rc = q(c,
              "SELECT count(*)::text FROM group_join WHERE store = $1 AND terminal = $2"
              " AND receipt_no = $3 AND issued_ms = $4",
              4, inv, NULL, NULL, &res, NULL, "could not count the joins", why, cap)) != TG__HQ_OK)
    goto fail;
  int64_t n_joins = int_at(res, 0, 0);
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
    const char *pick[2] = {in->store, i64(now, in->now_ms)};
    if ((rc = q(c,
                "SELECT id::text FROM chat_group WHERE store = $1 AND enabled AND"
                " joined < capacity AND (expires_ms = 0 OR expires_ms > $2) ORDER BY id LIMIT 1",
                2, pick, NULL, NULL, &res, NULL, "could not choose a group", why, cap)) !=
        TG__HQ_OK)
      goto fail;
    group = PQntuples(res) > 0 ? int_at(res, 0, 0) : -1;
    PQclear(res);
    res = NULL;
    if (group < 0)
      break;
    const char *take[1] = {i64(g, group)};
    if ((rc = q(c,
                "UPDATE chat_group SET joined = joined + 1 WHERE id = $1 AND enabled"
                " AND joined < capacity RETURNING joined::text",
                1, take, NULL, NULL, &res, NULL, "could not take a seat", why, cap)) != TG__HQ_OK)
      goto fail;
    seat = PQntuples(res) > 0 ? int_at(res, 0, 0) : -1;
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
                         i64(slot, n_joins + 1),
                         in->staff,
                         in->client,
                         g,
                         i64(seat_s, seat),
                         i64(cid, (int64_t)in->coupon_id),
                         in->coupon != NULL ? in->coupon : "",
                         now,
                         i64(camp, in->coupon_campaign)};
  rc = q(c,
         "INSERT INTO group_join(store, terminal, receipt_no, issued_ms, slot, staff, client,"
         " group_id, seat, coupon_id, coupon, joined_ms, coupon_campaign)"
         " VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id::text",
         13, ins, NULL, NULL, &res, &unique, "could not record the join", why, cap);
  if (rc != TG__HQ_OK) {
    *retry = unique; /* the same invite joined at the same moment: count again */
    goto fail;
  }
  int64_t id = int_at(res, 0, 0);
  PQclear(res);
  res = NULL;
  if ((rc = join_get(c, in, id, out, why, cap)) != 1) {
    if (rc == 0) {
      snprintf(why, cap, "the join just recorded could not be read back");
      rc = TG__HQ_DB;
    }
    goto fail;
  }
  if ((rc = q(c, "COMMIT", 0, NULL, NULL, NULL, NULL, &unique, "could not commit the join", why,
              cap)) != TG__HQ_OK) {
    *retry = unique;
    goto fail;
  }
  return TG__HQ_OK;
fail:
  PQclear(res);
  rollback(c);
  tg__hq_join_out_free(out);
  memset(out, 0, sizeof *out);
  return rc;
}

int tg__hq_pg_join(tg__hq_db *h, const tg__hq_join_in *in, tg__hq_join_out *out, char *why,
                   size_t cap) {
  int retry = 1, rc = TG__HQ_DB;
  memset(out, 0, sizeof *out);
  for (int i = 0; retry && i < RETRIES; i++) {
    PGconn *c = tg__hq_pg_conn(h, why, cap);
    if (c == NULL)
      return TG__HQ_DB;
    rc = join_once(c, in, out, &retry, why, cap);
  }
  return rc;
}

int tg__hq_pg_joins(tg__hq_db *h, int64_t from_ms, int64_t to_ms,
                    void (*fn)(void *ctx, const tg__hq_join_row *j), void *ctx, char *why,
                    size_t cap) {
  char lo[24], hi[24];
  PGresult *res = NULL;
  PGconn *conn = tg__hq_pg_conn(h, why, cap);
  if (conn == NULL)
    return TG__HQ_DB;
  const char *v[2] = {i64(lo, from_ms), i64(hi, to_ms)};
  int rc = q(conn,
             "SELECT store, terminal, staff, receipt_no::text, group_id::text, joined_ms::text,"
             " coupon_id::text, coupon_campaign::text FROM group_join"
             " WHERE joined_ms >= $1 AND joined_ms < $2"
             " ORDER BY joined_ms, id",
             2, v, NULL, NULL, &res, NULL, "could not read the joins", why, cap);
  if (rc != TG__HQ_OK)
    return rc;
  for (int i = 0; i < PQntuples(res); i++) {
    tg__hq_join_row j = {PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), PQgetvalue(res, i, 2),
                         int_at(res, i, 3),     int_at(res, i, 4),     int_at(res, i, 5),
                         (uint64_t)int_at(res, i, 6), (uint32_t)int_at(res, i, 7)};
    fn(ctx, &j);
  }
  PQclear(res);
  return TG__HQ_OK;
}
