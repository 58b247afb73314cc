/* tillgroup-hq's uploads in PostgreSQL: a batch COPY'd into staging, stored, its mark moved. */
#include <assert.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hq.h"

/* Stores the staged records and dead letters; answers the seqs held with other bytes. */
static const char merge_sql[] =
    "WITH r AS (INSERT INTO record(store, terminal, epoch, seq, kind, uuid, time_ms, total,"
    "  body, received_ms)"
    " SELECT $1, $2, $3, seq, kind, uuid, time_ms, total, body, $4 FROM tg_staging"
    "  WHERE status IS NULL ON CONFLICT DO NOTHING),"
    " d AS (INSERT INTO dead_letter(store, terminal, epoch, seq, status, reason, body,"
    "  received_ms)"
    " SELECT $1, $2, $3, seq, status, reason, body, $4 FROM tg_staging"
    "  WHERE status IS NOT NULL ON CONFLICT DO NOTHING)"
    " SELECT s.seq FROM tg_staging s JOIN record o ON o.store = $1 AND o.terminal = $2"
    "  AND o.epoch = $3 AND o.seq = s.seq"
    " WHERE s.status IS NULL AND o.seq BETWEEN $5 AND $6 AND o.body <> s.body ORDER BY s.seq";

/* Runs of contiguous seqs held above $4, lowest first. */
static const char islands_sql[] =
    "SELECT min(seq), max(seq) FROM (SELECT seq, seq - row_number() OVER (ORDER BY seq) AS g"
    " FROM (SELECT seq FROM record WHERE store = $1 AND terminal = $2 AND epoch = $3"
    " AND seq > $4 UNION SELECT seq FROM dead_letter WHERE store = $1 AND terminal = $2"
    " AND epoch = $3 AND seq > $4) h) i GROUP BY g ORDER BY 1 LIMIT $5";

/* Writes s[0..n) in COPY text format (backslash, tab, newline and CR escaped); returns the end. */
static char *copy_text(char *p, const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    switch (c) {
    case '\\':
      *p++ = '\\';
      *p++ = '\\';
      break;
    case '\t':
      *p++ = '\\';
      *p++ = 't';
      break;
    case '\n':
      *p++ = '\\';
      *p++ = 'n';
      break;
    case '\r':
      *p++ = '\\';
      *p++ = 'r';
      break;
    default:
      *p++ = c;
    }
  }
  return p;
}

/* A text field, or \N when z is NULL or empty; then a tab, or a newline at the row's end. */
static char *copy_field(char *p, const char *z, size_t n, char end) {
  if (z == NULL || n == 0) {
    memcpy(p, "\\N", 2);
    p += 2;
  } else {
    p = copy_text(p, z, n);
  }
  *p++ = end;
  return p;
}

static char *copy_int(char *p, int64_t v) {
  char buf[TG__HQ_PG_INT];
  size_t n = strlen(tg__hq_pg_i64(buf, v));
  memcpy(p, buf, n);
  p[n] = '\t';
  return p + n + 1;
}

/*
 * The batch's records as COPY rows into *out (malloc'd; free()). TG__HQ_BAD
 * for a NUL byte, which PostgreSQL text cannot hold.
 */
static int copy_rows(const tg__hq_batch *b, char **out, size_t *n_out, char *why, size_t cap) {
  size_t n = 0;
  for (int i = 0; i < b->n; i++) {
    const tg__hq_record *r = &b->records[i];
    if (memchr(r->body, '\0', r->len) != NULL) {
      snprintf(why, cap, "record %lld holds a NUL byte", (long long)r->seq);
      return TG__HQ_BAD;
    }
    size_t n_status = r->reject_status != NULL ? strlen(r->reject_status) : 0;
    n += 2 * (r->len + sizeof r->kind + sizeof r->uuid + sizeof r->reason + n_status) + 4 * 24 + 32;
  }
  char *z = malloc(n + 1), *p = z;
  if (z == NULL) {
    snprintf(why, cap, "out of memory");
    return TG__HQ_NOMEM;
  }
  for (int i = 0; i < b->n; i++) {
    const tg__hq_record *r = &b->records[i];
    const char *status = r->reject_status;
    p = copy_int(p, r->seq);
    if (status == NULL) {
      p = copy_field(p, r->kind, strlen(r->kind), '\t');
      p = copy_field(p, r->uuid, strlen(r->uuid), '\t');
      p = copy_int(p, r->time_ms);
      p = copy_int(p, r->total);
    } else {
      memcpy(p, "\\N\t\\N\t\\N\t\\N\t", 12);
      p += 12;
    }
    p = copy_text(p, r->body, r->len);
    *p++ = '\t';
    if (status == NULL) {
      memcpy(p, "\\N\t\\N\n", 6);
      p += 6;
    } else {
      p = copy_field(p, status, strlen(status), '\t');
      p = copy_text(p, r->reason, strnlen(r->reason, sizeof r->reason));
      *p++ = '\n';
    }
  }
  *out = z;
  *n_out = (size_t)(p - z);
  return TG__HQ_OK;
}

/* Records the Idempotency-Key; TG__HQ_REUSED when it came before with another digest. */
static int idem_check(tg__hq_db *h, const char *const ids[3], const tg__hq_batch *b,
                      const char *key, const char *now, char *why, size_t cap) {
  const char *v[5] = {ids[0], ids[1], key, (const char *)b->digest, now};
  const int len[5] = {0, 0, 0, sizeof b->digest, 0}, fmt[5] = {0, 0, 0, 1, 0};
  PGresult *res = NULL;
  int rc = tg__hq_pg_run_binary(
      h,
      "WITH ins AS (INSERT INTO idem(store, terminal, key, digest, received_ms)"
      " VALUES($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING digest)"
      " SELECT digest FROM ins UNION ALL"
      " SELECT digest FROM idem WHERE store = $1 AND terminal = $2 AND key = $3",
      5, v, len, fmt, "could not record the Idempotency-Key", &res, NULL, why, cap);
  if (rc != TG__HQ_OK)
    return rc;
  if (PQntuples(res) < 1 || PQgetlength(res, 0, 0) != (int)sizeof b->digest ||
      memcmp(PQgetvalue(res, 0, 0), b->digest, sizeof b->digest) != 0) {
    snprintf(why, cap, "Idempotency-Key %s was used before with a different body", key);
    rc = TG__HQ_REUSED;
  }
  PQclear(res);
  return rc;
}

int tg__hq_pg_ingest(tg__hq_db *h, const tg__hq_batch *b, int64_t now_ms, tg__hq_ack *ack,
                     char *why, size_t cap) {
  const tg__hq_key *k = &b->key;
  char key[96], e[TG__HQ_PG_INT], now[TG__HQ_PG_INT], lo[TG__HQ_PG_INT], hi[TG__HQ_PG_INT],
      base_s[TG__HQ_PG_INT], lim[TG__HQ_PG_INT];
  int64_t acked = 0, isl[TG__HQ_RUNS_MAX][2];
  int n_isl = 0, n_rej = 0;
  char *rows = NULL;
  size_t n_rows = 0;
  PGresult *res = NULL;
  tg__hq_ack out;
  tg__sync_rejected *rej = NULL;
  assert(b->n == k->to - k->from + 1);
  memset(ack, 0, sizeof *ack);
  memset(&out, 0, sizeof out);
  snprintf(key, sizeof key, "%s-%s:%lld:%lld-%lld", k->store, k->terminal, (long long)k->epoch,
           (long long)k->from, (long long)k->to);
  const char *ids[6] = {k->store,
                        k->terminal,
                        tg__hq_pg_i64(e, k->epoch),
                        tg__hq_pg_i64(now, now_ms),
                        tg__hq_pg_i64(lo, k->from),
                        tg__hq_pg_i64(hi, k->to)};
  int rc = tg__hq_pg_ready(h, why, cap);
  if (rc != TG__HQ_OK)
    return rc;
  if ((rc = tg__hq_pg_staging(h, why, cap)) != TG__HQ_OK)
    return rc;
  if ((rc = copy_rows(b, &rows, &n_rows, why, cap)) != TG__HQ_OK)
    return rc;
  if ((rej = malloc(sizeof *rej * (size_t)(b->n > 0 ? b->n : 1))) == NULL) {
    free(rows);
    snprintf(why, cap, "out of memory");
    return TG__HQ_NOMEM;
  }
  if ((rc = tg__hq_pg_exec(h, "BEGIN", "could not start a transaction", why, cap)) != TG__HQ_OK)
    goto fail;
  /* Locks the terminal's row: its uploads are ingested one at a time. */
  const char *touch[3] = {k->store, k->terminal, now};
  if ((rc = tg__hq_pg_run(
           h, "UPDATE terminal SET last_seen_ms = $3 WHERE store = $1 AND terminal = $2", 3, touch,
           "could not update the terminal", &res, why, cap)) != TG__HQ_OK)
    goto fail;
  if (strcmp(PQcmdTuples(res), "0") == 0) {
    snprintf(why, cap, "terminal %s-%s is not enrolled", k->store, k->terminal);
    rc = TG__HQ_NOTFOUND;
    goto fail;
  }
  PQclear(res);
  res = NULL;
  if ((rc = idem_check(h, ids, b, key, now, why, cap)) != TG__HQ_OK)
    goto fail;
  if ((rc = tg__hq_pg_run(
           h,
           "INSERT INTO mark(store, terminal, epoch, acked_through, updated_ms)"
           " VALUES($1, $2, $3, 0, $4) ON CONFLICT (store, terminal, epoch) DO UPDATE SET"
           " updated_ms = EXCLUDED.updated_ms RETURNING acked_through",
           4, ids, "could not read the mark", &res, why, cap)) != TG__HQ_OK)
    goto fail;
  acked = tg__hq_pg_int_at(res, 0, 0);
  PQclear(res);
  res = NULL;
  if ((rc = tg__hq_pg_copy_in(h, rows, n_rows, why, cap)) != TG__HQ_OK ||
      (rc = tg__hq_pg_run(h, merge_sql, 6, ids, "could not store the records", &res, why, cap)) !=
          TG__HQ_OK)
    goto fail;
  /* conflicts come back in seq order, as the batch's records are */
  for (int i = 0, c = 0; i < b->n; i++) {
    const tg__hq_record *r = &b->records[i];
    while (c < PQntuples(res) && tg__hq_pg_int_at(res, c, 0) < r->seq)
      c++;
    if (r->reject_status != NULL)
      tg__hq_rejected_set(&rej[n_rej++], r->seq, r->reject_status, r->reason);
    else if (c < PQntuples(res) && tg__hq_pg_int_at(res, c, 0) == r->seq)
      tg__hq_rejected_set(&rej[n_rej++], r->seq, "conflict",
                          "this seq was received before with other content; HQ keeps the first");
  }
  PQclear(res);
  res = NULL;
  /* Every seq from..to is held now: the mark crosses the batch if it reaches it. */
  int64_t base = k->from <= acked + 1 && k->to > acked ? k->to : acked;
  const char *iv[5] = {k->store, k->terminal, e, tg__hq_pg_i64(base_s, base),
                       tg__hq_pg_i64(lim, TG__HQ_RUNS_MAX)};
  if ((rc = tg__hq_pg_run(h, islands_sql, 5, iv, "could not read the held records", &res, why,
                          cap)) != TG__HQ_OK)
    goto fail;
  for (n_isl = 0; n_isl < PQntuples(res) && n_isl < TG__HQ_RUNS_MAX; n_isl++) {
    isl[n_isl][0] = tg__hq_pg_int_at(res, n_isl, 0);
    isl[n_isl][1] = tg__hq_pg_int_at(res, n_isl, 1);
  }
  PQclear(res);
  res = NULL;
  out.acked_through = tg__hq_mark_walk(base, isl, n_isl, &out);
  if (out.acked_through != acked) {
    char a[TG__HQ_PG_INT];
    const char *mv[4] = {k->store, k->terminal, e, tg__hq_pg_i64(a, out.acked_through)};
    if ((rc = tg__hq_pg_run(h,
                            "UPDATE mark SET acked_through = $4"
                            " WHERE store = $1 AND terminal = $2 AND epoch = $3",
                            4, mv, "could not move the mark", NULL, why, cap)) != TG__HQ_OK)
      goto fail;
  }
  if ((rc = tg__hq_pg_exec(h, "COMMIT", "could not commit the upload", why, cap)) != TG__HQ_OK)
    goto fail;
  free(rows);
  *ack = out;
  if (n_rej > 0) {
    ack->rejected = rej;
    ack->n_rejected = n_rej;
  } else {
    free(rej);
  }
  return TG__HQ_OK;
fail:
  PQclear(res);
  tg__hq_pg_rollback(h);
  free(rows);
  free(rej);
  return rc;
}
