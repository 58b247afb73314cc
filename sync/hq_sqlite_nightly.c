/* tillgroup-hq's nightly pull in SQLite (schema step 3): pull URLs, held records, results. */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "hq.h"

int tg__hq_sqlite_terminal_get(tg__hq_db *h, const char *store, const char *terminal,
                               tg__hq_terminal_ref *out, char *why, size_t cap) {
  sqlite3 *db = tg__hq_sqlite_conn(h);
  sqlite3_stmt *st = NULL;
  memset(out, 0, sizeof *out);
  int rc = sqlite3_prepare_v2(db,
                              "SELECT coalesce(pull_url, ''), invite_key, enabled FROM terminal"
                              " WHERE store = ?1 AND terminal = ?2",
                              -1, &st, NULL),
      res = TG__HQ_OK;
  if (rc != SQLITE_OK)
    return tg__hq_sqlite_fail(db, rc, "could not read the terminal", why, cap);
  sqlite3_bind_text(st, 1, store, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, terminal, -1, SQLITE_STATIC);
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW && sqlite3_column_bytes(st, 1) == 32 &&
      sqlite3_column_bytes(st, 0) <= TG__HQ_PULL_URL_MAX) {
    snprintf(out->url, sizeof out->url, "%s", (const char *)sqlite3_column_text(st, 0));
    memcpy(out->invite_key, sqlite3_column_blob(st, 1), 32);
    out->enabled = sqlite3_column_int(st, 2) != 0;
  } else if (rc == SQLITE_ROW) {
    snprintf(why, cap, "terminal %s-%s has a damaged invite key or pull URL", store, terminal);
    res = TG__HQ_DB;
  } else if (rc == SQLITE_DONE) {
    snprintf(why, cap, "terminal %s-%s is not enrolled", store, terminal);
    res = TG__HQ_NOTFOUND;
  } else {
    res = tg__hq_sqlite_fail(db, rc, "could not read the terminal", why, cap);
  }
  sqlite3_finalize(st);
  return res;
}

int tg__hq_sqlite_pull_url_set(tg__hq_db *h, const char *store, const char *terminal,
                               const char *url, char *why, size_t cap) {
  sqlite3 *db = tg__hq_sqlite_conn(h);
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(
      db, "UPDATE terminal SET pull_url = ?3 WHERE store = ?1 AND terminal = ?2", -1, &st, NULL);
  if (rc != SQLITE_OK)
    return tg__hq_sqlite_fail(db, rc, "could not change the terminal", why, cap);
  if (url != NULL)
    sqlite3_bind_text(st, 3, url, -1, SQLITE_STATIC);
  rc = tg__hq_sqlite_terminal_set(h, st, store, terminal, why, cap);
  sqlite3_finalize(st);
  return rc;
}

int tg__hq_sqlite_held(tg__hq_db *h, const char *store, const char *terminal, int64_t epoch,
                       int64_t from, int64_t to,
                       void (*fn)(void *ctx, int64_t seq, const char *body, size_t n), void *ctx,
                       char *why, size_t cap) {
  sqlite3 *db = tg__hq_sqlite_conn(h);
  sqlite3_stmt *st = NULL;
  /* stored and dead-lettered seqs of ?4..?5, the stored body when both */
  int rc = sqlite3_prepare_v2(db,
                              "SELECT seq, body FROM record WHERE store = ?1 AND terminal = ?2"
                              " AND epoch = ?3 AND seq BETWEEN ?4 AND ?5 UNION ALL"
                              " SELECT seq, body FROM dead_letter d WHERE store = ?1"
                              " AND terminal = ?2 AND epoch = ?3 AND seq BETWEEN ?4 AND ?5"
                              " AND NOT EXISTS (SELECT 1 FROM record r WHERE r.store = d.store"
                              " AND r.terminal = d.terminal AND r.epoch = d.epoch"
                              " AND r.seq = d.seq) ORDER BY 1",
                              -1, &st, NULL);
  if (rc != SQLITE_OK)
    return tg__hq_sqlite_fail(db, rc, "could not read the held records", why, cap);
  sqlite3_bind_text(st, 1, store, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, terminal, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, epoch);
  sqlite3_bind_int64(st, 4, from);
  sqlite3_bind_int64(st, 5, to);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char *body = (const char *)sqlite3_column_blob(st, 1);
    fn(ctx, sqlite3_column_int64(st, 0), body != NULL ? body : "",
       (size_t)sqlite3_column_bytes(st, 1));
  }
  sqlite3_finalize(st);
  return rc == SQLITE_DONE
             ? TG__HQ_OK
             : tg__hq_sqlite_fail(db, rc, "could not read the held records", why, cap);
}

int tg__hq_sqlite_nightly_put(tg__hq_db *h, const tg__hq_nightly_row *r, char *why, size_t cap) {
  sqlite3 *db = tg__hq_sqlite_conn(h);
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(
      db,
      "INSERT INTO nightly(store, terminal, date, run_ms, reachable, needs_operator, epoch,"
      " max_seq, count_before, count_after, fetched, flags)"
      " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
      " ON CONFLICT DO UPDATE SET run_ms = excluded.run_ms, reachable = excluded.reachable,"
      " needs_operator = excluded.needs_operator, epoch = excluded.epoch,"
      " max_seq = excluded.max_seq, count_before = excluded.count_before,"
      " count_after = excluded.count_after, fetched = excluded.fetched, flags = excluded.flags",
      -1, &st, NULL);
  if (rc != SQLITE_OK)
    return tg__hq_sqlite_fail(db, rc, "could not store the nightly result", why, cap);
  sqlite3_bind_text(st, 1, r->store, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, r->terminal, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, r->date, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 4, r->run_ms);
  sqlite3_bind_int(st, 5, r->reachable ? 1 : 0);
  sqlite3_bind_int(st, 6, r->needs_operator ? 1 : 0);
  sqlite3_bind_int64(st, 7, r->epoch);
  sqlite3_bind_int64(st, 8, r->max_seq);
  sqlite3_bind_int64(st, 9, r->count_before);
  sqlite3_bind_int64(st, 10, r->count_after);
  sqlite3_bind_int64(st, 11, r->fetched);
  sqlite3_bind_text(st, 12, r->flags, -1, SQLITE_STATIC);
  rc = sqlite3_step(st);
  sqlite3_finalize(st);
  return rc == SQLITE_DONE
             ? TG__HQ_OK
             : tg__hq_sqlite_fail(db, rc, "could not store the nightly result", why, cap);
}

int tg__hq_sqlite_nightly_last(tg__hq_db *h, void (*fn)(void *ctx, const tg__hq_nightly_row *row),
                               void *ctx, char *why, size_t cap) {
  sqlite3 *db = tg__hq_sqlite_conn(h);
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db,
                              "SELECT store, terminal, date, run_ms, reachable, needs_operator,"
                              " epoch, max_seq, count_before, count_after, fetched, flags"
                              " FROM (SELECT *, row_number() OVER (PARTITION BY store, terminal"
                              " ORDER BY run_ms DESC, date DESC) AS k FROM nightly) WHERE k = 1"
                              " ORDER BY store, terminal",
                              -1, &st, NULL);
  if (rc != SQLITE_OK)
    return tg__hq_sqlite_fail(db, rc, "could not read the nightly results", why, cap);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    tg__hq_nightly_row r;
    memset(&r, 0, sizeof r);
    tg__hq_sqlite_text_at(st, 0, r.store, sizeof r.store);
    tg__hq_sqlite_text_at(st, 1, r.terminal, sizeof r.terminal);
    tg__hq_sqlite_text_at(st, 2, r.date, sizeof r.date);
    r.run_ms = sqlite3_column_int64(st, 3);
    r.reachable = sqlite3_column_int(st, 4) != 0;
    r.needs_operator = sqlite3_column_int(st, 5) != 0;
    r.epoch = sqlite3_column_int64(st, 6);
    r.max_seq = sqlite3_column_int64(st, 7);
    r.count_before = sqlite3_column_int64(st, 8);
    r.count_after = sqlite3_column_int64(st, 9);
    r.fetched = sqlite3_column_int64(st, 10);
    tg__hq_sqlite_text_at(st, 11, r.flags, sizeof r.flags);
    fn(ctx, &r);
  }
  sqlite3_finalize(st);
  return rc == SQLITE_DONE
             ? TG__HQ_OK
             : tg__hq_sqlite_fail(db, rc, "could not read the nightly results", why, cap);
}
