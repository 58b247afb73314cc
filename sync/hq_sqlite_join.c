/* tillgroup-hq's groups and joins in SQLite (schema step 2): one writer at a time, so seats are exact. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hq.h"

#define GROUP_COLS                                                                                 \
  "g.id, g.store, g.name, g.platform, g.link, g.qr, g.capacity, g.joined, g.expires_ms,"          \
  " g.created_ms, g.enabled"

/* Fills g from GROUP_COLS starting at column 0; g->qr stays NULL, n_qr its size. */
static void group_row(sqlite3_stmt *st, tg__hq_group *g) {
  memset(g, 0, sizeof *g);
  g->id = sqlite3_column_int64(st, 0);
  tg__hq_sqlite_text_at(st, 1, g->store, sizeof g->store);
  tg__hq_sqlite_text_at(st, 2, g->name, sizeof g->name);
  tg__hq_sqlite_text_at(st, 3, g->platform, sizeof g->platform);
  tg__hq_sqlite_text_at(st, 4, g->link, sizeof g->link);
  g->n_qr = (size_t)sqlite3_column_bytes(st, 5);
  g->capacity = sqlite3_column_int64(st, 6);
  g->joined = sqlite3_column_int64(st, 7);
  g->expires_ms = sqlite3_column_int64(st, 8);
  g->created_ms = sqlite3_column_int64(st, 9);
  g->enabled = sqlite3_column_int(st, 10) != 0;
}

int tg__hq_sqlite_group_add(tg__hq_db *h, const tg__hq_group *g, int64_t *id, char *why,
                            size_t cap) {
  sqlite3 *db = tg__hq_sqlite_conn(h);
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db,
                              "INSERT INTO chat_group(store, name, platform, link, qr, capacity,"
                              " expires_ms, created_ms) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                              -1, &st, NULL);
  if (rc != SQLITE_OK)
    return tg__hq_sqlite_fail(db, rc, "could not add the group", why, cap);
  sqlite3_bind_text(st, 1, g->store, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, g->name, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, g->platform, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, g->link, -1, SQLITE_STATIC);
  if (g->qr != NULL)
    sqlite3_bind_blob64(st, 5, g->qr, g->n_qr, SQLITE_STATIC);
  sqlite3_bind_int64(st, 6, g->capacity);
  sqlite3_bind_int64(st, 7, g->expires_ms);
  sqlite3_bind_int64(st, 8, tg__hq_now_ms());
  rc = sqlite3_step(st);
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE)
    return tg__hq_sqlite_fail(db, rc, "could not add the group", why, cap);
  *id = sqlite3_last_insert_rowid(db);
  return TG__HQ_OK;
}

int tg__hq_sqlite_group_disable(tg__hq_db *h, int64_t id, char *why, size_t cap) {
  sqlite3 *db = tg__hq_sqlite_conn(h);
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db, "UPDATE chat_group SET enabled = 0 WHERE id = ?1", -1, &st, NULL);
  if (rc != SQLITE_OK)
    return tg__hq_sqlite_fail(db, rc, "could not disable the group", why, cap);
  sqlite3_bind_int64(st, 1, id);
  rc = sqlite3_step(st);
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE)
    return tg__hq_sqlite_fail(db, rc, "could not disable the group", why, cap);
  if (sqlite3_changes(db) == 0) {
    snprintf(why, cap, "there is no group %lld", (long long)id);
    return TG__HQ_NOTFOUND;
  }
  return TG__HQ_OK;
}

int tg__hq_sqlite_groups(tg__hq_db *h, const char *store,
                         void (*fn)(void *ctx, const tg__hq_group *g), void *ctx, char *why,
                         size_t cap) {
  sqlite3 *db = tg__hq_sqlite_conn(h);
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db,
                              "SELECT " GROUP_COLS " FROM chat_group g"
                              " WHERE ?1 IS NULL OR g.store = ?1 ORDER BY g.store, g.id",
                              -1, &st, NULL);
  if (rc != SQLITE_OK)
    return tg__hq_sqlite_fail(db, rc, "could not list the groups", why, cap);
  if (store != NULL)
    sqlite3_bind_text(st, 1, store, -1, SQLITE_STATIC);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    tg__hq_group g;
    group_row(st, &g);
    fn(ctx, &g);
  }
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? TG__HQ_OK
                           : tg__hq_sqlite_fail(db, rc, "could not list the groups", why, cap);
}

void tg__hq_join_out_free(tg__hq_join_out *out) {
  if (out == NULL)
    return;
  free((void *)out->group.qr);
  out->group.qr = NULL;
}

/* Copies the group columns (from col 6 on) and the join's own into out; malloc's the QR. */
static int join_row(sqlite3_stmt *st, tg__hq_join_out *out, char *why, size_t cap) {
  out->id = sqlite3_column_int64(st, 0);
  out->slot = sqlite3_column_int(st, 1);
  out->joined_ms = sqlite3_column_int64(st, 2);
  tg__hq_sqlite_text_at(st, 3, out->coupon, sizeof out->coupon);
  out->coupon_id = (uint64_t)sqlite3_column_int64(st, 4);
  /* column 5 is the seat; the group's from 6 */
  tg__hq_group *g = &out->group;
  memset(g, 0, sizeof *g);
  g->id = sqlite3_column_int64(st, 6);
  tg__hq_sqlite_text_at(st, 7, g->store, sizeof g->store);
  tg__hq_sqlite_text_at(st, 8, g->name, sizeof g->name);
  tg__hq_sqlite_text_at(st, 9, g->platform, sizeof g->platform);
  tg__hq_sqlite_text_at(st, 10, g->link, sizeof g->link);
  g->capacity = sqlite3_column_int64(st, 12);
  g->joined = sqlite3_column_int64(st, 13);
  g->expires_ms = sqlite3_column_int64(st, 14);
  g->created_ms = sqlite3_column_int64(st, 15);
  g->enabled = sqlite3_column_int(st, 16) != 0;
  size_t n = (size_t)sqlite3_column_bytes(st, 11);
  if (n > 0) {
    unsigned char *p = malloc(n);
    if (p == NULL) {
      snprintf(why, cap, "out of memory");
      return TG__HQ_NOMEM;
    }
    memcpy(p, sqlite3_column_blob(st, 11), n);
    g->qr = p;
    g->n_qr = n;
  }
  return TG__HQ_OK;
}

/* Binds the invite (store, terminal, receipt, issue time) to ?1..?4. */
static void bind_invite(sqlite3_stmt *st, const tg__hq_join_in *in) {
  sqlite3_bind_text(st, 1, in->store, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, in->terminal, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, in->receipt_no);
  sqlite3_bind_int64(st, 4, in->issued_ms);
}

/*
 * Reads into out the client's first join at the invite's store (or the join
 * id when id > 0): 1 found, 0 not, or an rc. A phone that joined once is
 * shown that join again from any later receipt: one seat, one welcome coupon.
 */
static int join_get(sqlite3 *db, const tg__hq_join_in *in, int64_t id, tg__hq_join_out *out,
                    char *why, size_t cap) {
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(
      db,
      "SELECT j.id, j.slot, j.joined_ms, j.coupon, j.coupon_id, j.seat, " GROUP_COLS
      " FROM group_join j JOIN chat_group g ON g.id = j.group_id WHERE"
      " (?6 > 0 AND j.id = ?6) OR (?6 = 0 AND j.store = ?1 AND j.client = ?5)"
      " ORDER BY j.id LIMIT 1",
      -1, &st, NULL);
  if (rc != SQLITE_OK)
    return tg__hq_sqlite_fail(db, rc, "could not read the joins", why, cap);
  bind_invite(st, in);
  sqlite3_bind_text(st, 5, in->client, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 6, id);
  rc = sqlite3_step(st);
  int out_rc = rc == SQLITE_ROW ? join_row(st, out, why, cap) == TG__HQ_OK ? 1 : TG__HQ_NOMEM
               : rc == SQLITE_DONE
                   ? 0
                   : tg__hq_sqlite_fail(db, rc, "could not read the joins", why, cap);
  sqlite3_finalize(st);
  return out_rc;
}

/* Runs sql with text parameters ?1, ?2 (when not NULL) and int64 ones ?3.. from v[0..n); *got is the first column of its first row (or -1 none). */
static int one_int(sqlite3 *db, const char *sql, const int64_t *v, int n, const char *text1,
                   const char *text2, int64_t *got, char *why, size_t cap) {
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
  if (rc != SQLITE_OK)
    return tg__hq_sqlite_fail(db, rc, "could not read the groups", why, cap);
  if (text1 != NULL)
    sqlite3_bind_text(st, 1, text1, -1, SQLITE_STATIC);
  if (text2 != NULL)
    sqlite3_bind_text(st, 2, text2, -1, SQLITE_STATIC);
  for (int i = 0; i < n; i++)
    sqlite3_bind_int64(st, 3 + i, v[i]);
  rc = sqlite3_step(st);
  *got = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
  if (rc == SQLITE_ROW)
    rc = sqlite3_step(st); /* to the end: an UPDATE ... RETURNING finishes its work */
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? TG__HQ_OK
                           : tg__hq_sqlite_fail(db, rc, "could not choose a group", why, cap);
}

int tg__hq_sqlite_join(tg__hq_db *h, const tg__hq_join_in *in, tg__hq_join_out *out, char *why,
                       size_t cap) {
  sqlite3 *db = tg__hq_sqlite_conn(h);
  sqlite3_stmt *st = NULL;
  int64_t n_joins = 0, group = -1, seat = -1, id = 0;
  memset(out, 0, sizeof *out);
  int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
  if (rc != SQLITE_OK)
    return tg__hq_sqlite_fail(db, rc, "could not start a transaction", why, cap);
  if ((rc = join_get(db, in, 0, out, why, cap)) < 0)
    goto fail;
  if (rc == 1) {
    out->again = 1;
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    return TG__HQ_OK;
  }
  int64_t inv[2] = {in->receipt_no, in->issued_ms};
  if ((rc = one_int(db,
                    "SELECT count(*) FROM group_join WHERE store = ?1 AND terminal = ?2"
                    " AND receipt_no = ?3 AND issued_ms = ?4",
                    inv, 2, in->store, in->terminal, &n_joins, why, cap)) != TG__HQ_OK)
    goto fail;
  if (n_joins >= in->limit) {
    snprintf(why, cap, "invite %s-%s-%lld has been used for %lld joins (the limit)", in->store,
             in->terminal, (long long)in->receipt_no, (long long)n_joins);
    rc = TG__HQ_GONE;
    goto fail;
  }
  int64_t now[1] = {in->now_ms};
  if ((rc = one_int(db,
                    "SELECT id FROM chat_group WHERE store = ?1 AND enabled = 1"
                    " AND joined < capacity AND (expires_ms = 0 OR expires_ms > ?3)"
                    " ORDER BY id LIMIT 1",
                    now, 1, in->store, NULL, &group, why, cap)) != TG__HQ_OK)
    goto fail;
  if (group < 0) {
    snprintf(why, cap, "store %s has no enabled group with room", in->store);
    rc = TG__HQ_FULL;
    goto fail;
  }
  int64_t gid[1] = {group};
  if ((rc = one_int(db,
                    "UPDATE chat_group SET joined = joined + 1"
                    " WHERE id = ?3 AND joined < capacity RETURNING joined",
                    gid, 1, NULL, NULL, &seat, why, cap)) != TG__HQ_OK)
    goto fail;
  if (seat < 0) { /* cannot happen under BEGIN IMMEDIATE; refuse rather than overfill */
    snprintf(why, cap, "store %s has no enabled group with room", in->store);
    rc = TG__HQ_FULL;
    goto fail;
  }
  rc = sqlite3_prepare_v2(db,
                          "INSERT INTO group_join(store, terminal, receipt_no, issued_ms, slot,"
                          " staff, client, group_id, seat, coupon_id, coupon, joined_ms,"
                          " coupon_campaign)"
                          " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                          -1, &st, NULL);
  if (rc != SQLITE_OK) {
    rc = tg__hq_sqlite_fail(db, rc, "could not record the join", why, cap);
    goto fail;
  }
  bind_invite(st, in);
  sqlite3_bind_int64(st, 5, n_joins + 1);
  sqlite3_bind_text(st, 6, in->staff, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 7, in->client, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 8, group);
  sqlite3_bind_int64(st, 9, seat);
  sqlite3_bind_int64(st, 10, (int64_t)in->coupon_id);
  sqlite3_bind_text(st, 11, in->coupon != NULL ? in->coupon : "", -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 12, in->now_ms);
  sqlite3_bind_int64(st, 13, in->coupon_campaign);
  rc = sqlite3_step(st);
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) {
    rc = tg__hq_sqlite_fail(db, rc, "could not record the join", why, cap);
    goto fail;
  }
  id = sqlite3_last_insert_rowid(db);
  if ((rc = join_get(db, in, id, out, why, cap)) != 1) {
    if (rc == 0) {
      snprintf(why, cap, "the join just recorded could not be read back");
      rc = TG__HQ_DB;
    }
    goto fail;
  }
  if ((rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL)) != SQLITE_OK) {
    rc = tg__hq_sqlite_fail(db, rc, "could not commit the join", why, cap);
    goto fail;
  }
  return TG__HQ_OK;
fail:
  if (!sqlite3_get_autocommit(db))
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
  tg__hq_join_out_free(out);
  memset(out, 0, sizeof *out);
  return rc;
}

int tg__hq_sqlite_joins(tg__hq_db *h, int64_t from_ms, int64_t to_ms,
                        void (*fn)(void *ctx, const tg__hq_join_row *j), void *ctx, char *why,
                        size_t cap) {
  sqlite3 *db = tg__hq_sqlite_conn(h);
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db,
                              "SELECT store, terminal, staff, receipt_no, group_id, joined_ms,"
                              " coupon_id, coupon_campaign FROM group_join"
                              " WHERE joined_ms >= ?1 AND joined_ms < ?2"
                              " ORDER BY joined_ms, id",
                              -1, &st, NULL);
  if (rc != SQLITE_OK)
    return tg__hq_sqlite_fail(db, rc, "could not read the joins", why, cap);
  sqlite3_bind_int64(st, 1, from_ms);
  sqlite3_bind_int64(st, 2, to_ms);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    tg__hq_join_row j = {(const char *)sqlite3_column_text(st, 0),
                         (const char *)sqlite3_column_text(st, 1),
                         (const char *)sqlite3_column_text(st, 2),
                         sqlite3_column_int64(st, 3),
                         sqlite3_column_int64(st, 4),
                         sqlite3_column_int64(st, 5),
                         (uint64_t)sqlite3_column_int64(st, 6),
                         (uint32_t)sqlite3_column_int64(st, 7)};
    fn(ctx, &j);
  }
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? TG__HQ_OK
                           : tg__hq_sqlite_fail(db, rc, "could not read the joins", why, cap);
}
