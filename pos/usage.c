/* What this terminal gave out offline: coupons redeemed, flash-sale units, points, coupons issued. */
#include <string.h>

#include "pos.h"

/* Steps a one-row query of id bound by the caller; *v is column 0 (0 when no row). */
static int query_int(tg_terminal *t, sqlite3_stmt *st, int64_t *v) {
  int rc = sqlite3_step(st);
  *v = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
  sqlite3_reset(st);
  return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : tg__db_fail(t, rc, "could not read usage");
}

/* Binds a u64 id, as SQLite's signed integer (ids are below 2^63 by the bundle's rules or
 * wrap consistently for tokens). */
static void bind_id(sqlite3_stmt *st, int i, uint64_t id) { sqlite3_bind_int64(st, i, (int64_t)id); }

#define STMT_OR_FAIL(st, id)                           \
  sqlite3_stmt *st = tg__stmt(t, id);                  \
  if (st == NULL)                                      \
  return tg__from_sqlite(sqlite3_errcode(t->db))

int tg__usage_coupon_blocked(tg_terminal *t, uint64_t coupon, int *spent) {
  int64_t v;
  int rc;
  STMT_OR_FAIL(st, TG__ST_SPENT_GET);
  bind_id(st, 1, coupon);
  if ((rc = query_int(t, st, &v)) != 0)
    return rc;
  *spent = v != 0;
  if (v != 0)
    return 1;
  STMT_OR_FAIL(rv, TG__ST_REVOKED_GET);
  bind_id(rv, 1, coupon);
  if ((rc = query_int(t, rv, &v)) != 0)
    return rc;
  return v != 0;
}

int tg__usage_spent_by(tg_terminal *t, uint64_t coupon, const unsigned char *uuid) {
  int64_t v;
  STMT_OR_FAIL(st, TG__ST_SPENT_BY);
  bind_id(st, 1, coupon);
  sqlite3_bind_blob(st, 2, uuid, 16, SQLITE_STATIC);
  int rc = query_int(t, st, &v);
  return rc != 0 ? rc : v != 0;
}

int tg__usage_coupon_count(tg_terminal *t, uint32_t campaign, const char *lease,
                           uint64_t member, int64_t *n) {
  STMT_OR_FAIL(st, member ? TG__ST_COUPON_COUNT_MEMBER : TG__ST_COUPON_COUNT);
  sqlite3_bind_int64(st, 1, campaign);
  sqlite3_bind_text(st, 2, lease, -1, SQLITE_STATIC);
  if (member)
    bind_id(st, 3, member);
  return query_int(t, st, n);
}

int tg__usage_flash(tg_terminal *t, uint32_t campaign, const char *lease, uint64_t member,
                    int64_t *qty_milli) {
  STMT_OR_FAIL(st, member ? TG__ST_FLASH_SUM_MEMBER : TG__ST_FLASH_SUM);
  sqlite3_bind_int64(st, 1, campaign);
  sqlite3_bind_text(st, 2, lease, -1, SQLITE_STATIC);
  if (member)
    bind_id(st, 3, member);
  return query_int(t, st, qty_milli);
}

int tg__usage_points(tg_terminal *t, uint64_t member, int64_t version, int64_t *points) {
  STMT_OR_FAIL(st, TG__ST_POINTS_SUM);
  bind_id(st, 1, member);
  sqlite3_bind_int64(st, 2, version);
  return query_int(t, st, points);
}

int tg__usage_issued(tg_terminal *t, uint64_t member, uint32_t campaign) {
  int64_t v;
  STMT_OR_FAIL(st, TG__ST_ISSUED_GET);
  bind_id(st, 1, member);
  sqlite3_bind_int64(st, 2, campaign);
  int rc = query_int(t, st, &v);
  return rc != 0 ? rc : v != 0;
}

int tg__usage_add_redemption(tg_terminal *t, const tg__token *coupon, const char *lease,
                             uint64_t member, int64_t seq) {
  STMT_OR_FAIL(st, TG__ST_REDEMPTION_INSERT);
  bind_id(st, 1, coupon->coupon_id);
  sqlite3_bind_int64(st, 2, coupon->campaign_id);
  bind_id(st, 3, member);
  sqlite3_bind_text(st, 4, lease, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 5, coupon->single_use);
  sqlite3_bind_int64(st, 6, seq);
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  if (rc == SQLITE_CONSTRAINT_UNIQUE)
    return tg__fail(t, TG_ESPENT, "coupon %llu was already used on this till",
                    (unsigned long long)coupon->coupon_id);
  return rc == SQLITE_DONE ? 0 : tg__db_fail(t, rc, "could not record the coupon's use");
}

int tg__usage_add_flash(tg_terminal *t, uint32_t campaign, const char *lease, uint64_t member,
                        int64_t qty_milli, int64_t seq) {
  STMT_OR_FAIL(st, TG__ST_FLASH_INSERT);
  sqlite3_bind_int64(st, 1, campaign);
  sqlite3_bind_text(st, 2, lease, -1, SQLITE_STATIC);
  bind_id(st, 3, member);
  sqlite3_bind_int64(st, 4, qty_milli);
  sqlite3_bind_int64(st, 5, seq);
  return tg__step_done(t, st, "could not record the flash sale");
}

int tg__usage_add_points(tg_terminal *t, uint64_t member, int64_t version, int64_t points,
                         int64_t seq) {
  STMT_OR_FAIL(st, TG__ST_POINTS_INSERT);
  bind_id(st, 1, member);
  sqlite3_bind_int64(st, 2, version);
  sqlite3_bind_int64(st, 3, points);
  sqlite3_bind_int64(st, 4, seq);
  return tg__step_done(t, st, "could not record the points spent");
}

int tg__usage_add_issued(tg_terminal *t, uint64_t coupon, uint32_t campaign, uint64_t member,
                         int64_t seq) {
  STMT_OR_FAIL(st, TG__ST_ISSUED_INSERT);
  bind_id(st, 1, coupon);
  sqlite3_bind_int64(st, 2, campaign);
  bind_id(st, 3, member);
  sqlite3_bind_int64(st, 4, seq);
  return tg__step_done(t, st, "could not record the coupon issued");
}
