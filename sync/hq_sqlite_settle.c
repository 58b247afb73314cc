/* tillgroup-hq's settlements in SQLite (schema step 4): HQ's coupons, then their bundle. */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "hq.h"

/* Binds the settlement's key (rule, source record, campaign) to ?1..?6. */
static void bind_key(sqlite3_stmt *st, const tg__hq_settlement *s) {
  sqlite3_bind_text(st, 1, s->rule, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, s->store, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, s->terminal, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 4, s->epoch);
  sqlite3_bind_int64(st, 5, s->seq);
  sqlite3_bind_int64(st, 6, s->campaign);
}

/* Reads the row already stored for s's key into s. */
static int settle_get(sqlite3 *db, tg__hq_settlement *s, char *why, size_t cap) {
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db,
                              "SELECT member, amount, coupon, token, made_ms, state, bundle_version"
                              " FROM settlement WHERE rule = ?1 AND store = ?2 AND terminal = ?3"
                              " AND epoch = ?4 AND seq = ?5 AND campaign = ?6",
                              -1, &st, NULL);
  if (rc != SQLITE_OK)
    return tg__hq_sqlite_fail(db, rc, "could not read the settlement", why, cap);
  bind_key(st, s);
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    s->member = sqlite3_column_int64(st, 0);
    s->amount = sqlite3_column_int64(st, 1);
    s->coupon = sqlite3_column_int64(st, 2);
    tg__hq_sqlite_text_at(st, 3, s->token, sizeof s->token);
    s->made_ms = sqlite3_column_int64(st, 4);
    tg__hq_sqlite_text_at(st, 5, s->state, sizeof s->state);
    s->bundle_version = sqlite3_column_int64(st, 6);
  }
  sqlite3_finalize(st);
  return rc == SQLITE_ROW ? TG__HQ_OK
                          : tg__hq_sqlite_fail(db, rc, "could not read the settlement", why, cap);
}

int tg__hq_sqlite_settle_add(tg__hq_db *h, tg__hq_settlement *s, int *added, char *why,
                             size_t cap) {
  sqlite3 *db = tg__hq_sqlite_conn(h);
  sqlite3_stmt *st = NULL;
  *added = 0;
  int rc = sqlite3_prepare_v2(db,
                              "INSERT INTO settlement(rule, store, terminal, epoch, seq, campaign,"
                              " member, amount, coupon, token, made_ms, state) VALUES(?1, ?2, ?3,"
                              " ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 'pending-bundle')"
                              " ON CONFLICT(rule, store, terminal, epoch, seq, campaign)"
                              " DO NOTHING",
                              -1, &st, NULL);
  if (rc != SQLITE_OK)
    return tg__hq_sqlite_fail(db, rc, "could not store the settlement", why, cap);
  bind_key(st, s);
  sqlite3_bind_int64(st, 7, s->member);
  sqlite3_bind_int64(st, 8, s->amount);
  sqlite3_bind_int64(st, 9, s->coupon);
  sqlite3_bind_text(st, 10, s->token, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 11, s->made_ms);
  rc = sqlite3_step(st);
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE)
    return tg__hq_sqlite_fail(db, rc, "could not store the settlement", why, cap);
  if (sqlite3_changes(db) != 1)
    return settle_get(db, s, why, cap);
  *added = 1;
  snprintf(s->state, sizeof s->state, "pending-bundle");
  s->bundle_version = 0;
  return TG__HQ_OK;
}

int tg__hq_sqlite_settle_pending(tg__hq_db *h, const char *store, int max,
                                 void (*fn)(void *ctx, const tg__hq_settlement *s), void *ctx,
                                 char *why, size_t cap) {
  sqlite3 *db = tg__hq_sqlite_conn(h);
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db,
                              "SELECT rule, store, terminal, epoch, seq, campaign, member, amount,"
                              " coupon, token, made_ms FROM settlement"
                              " WHERE state = 'pending-bundle' AND (?1 = '*' OR store = ?1)"
                              " ORDER BY made_ms, coupon LIMIT ?2",
                              -1, &st, NULL);
  if (rc != SQLITE_OK)
    return tg__hq_sqlite_fail(db, rc, "could not read the pending settlements", why, cap);
  sqlite3_bind_text(st, 1, store, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 2, max);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    tg__hq_settlement s;
    memset(&s, 0, sizeof s);
    tg__hq_sqlite_text_at(st, 0, s.rule, sizeof s.rule);
    tg__hq_sqlite_text_at(st, 1, s.store, sizeof s.store);
    tg__hq_sqlite_text_at(st, 2, s.terminal, sizeof s.terminal);
    s.epoch = sqlite3_column_int64(st, 3);
    s.seq = sqlite3_column_int64(st, 4);
    s.campaign = (uint32_t)sqlite3_column_int64(st, 5);
    s.member = sqlite3_column_int64(st, 6);
    s.amount = sqlite3_column_int64(st, 7);
    s.coupon = sqlite3_column_int64(st, 8);
    tg__hq_sqlite_text_at(st, 9, s.token, sizeof s.token);
    s.made_ms = sqlite3_column_int64(st, 10);
    snprintf(s.state, sizeof s.state, "pending-bundle");
    fn(ctx, &s);
  }
  sqlite3_finalize(st);
  return rc == SQLITE_DONE
             ? TG__HQ_OK
             : tg__hq_sqlite_fail(db, rc, "could not read the pending settlements", why, cap);
}

/* Marks the pending settlements of coupons[0..n_coupons) published in version. */
static int mark_published(sqlite3 *db, int64_t version, const int64_t *coupons, int n_coupons,
                          char *why, size_t cap) {
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db,
                              "UPDATE settlement SET state = 'published', bundle_version = ?2"
                              " WHERE coupon = ?1 AND state = 'pending-bundle'",
                              -1, &st, NULL);
  if (rc != SQLITE_OK)
    return tg__hq_sqlite_fail(db, rc, "could not mark the settlement published", why, cap);
  rc = SQLITE_DONE;
  for (int i = 0; i < n_coupons && rc == SQLITE_DONE; i++) {
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, coupons[i]);
    sqlite3_bind_int64(st, 2, version);
    rc = sqlite3_step(st);
  }
  sqlite3_finalize(st);
  return rc == SQLITE_DONE
             ? TG__HQ_OK
             : tg__hq_sqlite_fail(db, rc, "could not mark the settlement published", why, cap);
}

int tg__hq_sqlite_bundle_put_settled(tg__hq_db *h, int64_t version, const char *store,
                                     const char *body, size_t n, const char *sig,
                                     const int64_t *coupons, int n_coupons, char *why, size_t cap) {
  sqlite3 *db = tg__hq_sqlite_conn(h);
  int src = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
  if (src != SQLITE_OK)
    return tg__hq_sqlite_fail(db, src, "could not start a transaction", why, cap);
  /* bundle_put joins the transaction open here */
  int rc = tg__hq_sqlite.bundle_put(h, version, store, body, n, sig, why, cap);
  if (rc == TG__HQ_OK && n_coupons > 0)
    rc = mark_published(db, version, coupons, n_coupons, why, cap);
  if (rc == TG__HQ_OK && (src = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL)) != SQLITE_OK)
    rc = tg__hq_sqlite_fail(db, src, "could not commit the bundle", why, cap);
  if (rc != TG__HQ_OK && !sqlite3_get_autocommit(db))
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
  return rc;
}
