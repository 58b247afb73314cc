/* The outbox: records in seq order as committed, and the queue's and the sync's status. */
#include <string.h>
#include <sys/stat.h>

#include "pos.h"

int tg__outbox_lines(tg_terminal *t, int64_t after_seq, int64_t limit, tg_record_fn fn,
                     void *ctx) {
  int rc = 0, step = SQLITE_DONE;
  sqlite3_stmt *st = tg__stmt(t, TG__ST_OUTBOX_AFTER);
  if (st == NULL)
    return tg__from_sqlite(sqlite3_errcode(t->db));
  sqlite3_bind_int64(st, 1, after_seq);
  sqlite3_bind_int64(st, 2, limit > 0 ? limit : INT64_MAX);
  while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
    const char *body = (const char *)sqlite3_column_text(st, 1);
    size_t len = (size_t)sqlite3_column_bytes(st, 1);
    rc = body == NULL ? tg__fail(t, TG_ENOMEM, "%s", tg_strerror(TG_ENOMEM))
                      : fn(ctx, sqlite3_column_int64(st, 0), body, len);
  }
  sqlite3_reset(st);
  if (rc == 0 && step != SQLITE_DONE)
    return tg__db_fail(t, step, "could not read the outbox");
  return rc;
}

int tg_outbox_each(tg_terminal *t, int64_t after_seq, int64_t limit, tg_record_fn fn,
                   void *ctx) {
  int rc = tg__txn_settle(t);
  return rc != 0 ? rc : tg__outbox_lines(t, after_seq, limit, fn, ctx);
}

static int64_t file_size(const char *path) {
  struct stat sb;
  return path != NULL && stat(path, &sb) == 0 ? (int64_t)sb.st_size : 0;
}

int tg_status_get(tg_terminal *t, tg_status *out) {
  int rc;
  memset(out, 0, sizeof *out);
  if ((rc = tg__txn_settle(t)) != 0 ||
      (rc = tg__counter_get(t, &out->last_seq, &out->acked_through)) != 0)
    return rc;
  out->depth = out->last_seq - out->acked_through;
  sqlite3_stmt *st = tg__stmt(t, TG__ST_OUTBOX_OLDEST);
  if (st == NULL)
    return tg__from_sqlite(sqlite3_errcode(t->db));
  sqlite3_bind_int64(st, 1, out->acked_through);
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    out->oldest_unsent_seq = sqlite3_column_int64(st, 0);
    out->oldest_unsent_ms = sqlite3_column_int64(st, 1);
    rc = SQLITE_DONE;
  }
  sqlite3_reset(st);
  if (rc != SQLITE_DONE)
    return tg__db_fail(t, rc, "could not read the outbox");
  st = tg__stmt(t, TG__ST_DEAD_LETTER_COUNT);
  if (st == NULL)
    return tg__from_sqlite(sqlite3_errcode(t->db));
  if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    out->dead_letters = sqlite3_column_int64(st, 0);
    rc = SQLITE_DONE;
  }
  sqlite3_reset(st);
  if (rc != SQLITE_DONE)
    return tg__db_fail(t, rc, "could not count the dead letters");
  if ((rc = tg__print_waiting(t, &out->print_waiting)) != 0)
    return rc;
  rc = tg__hq_get(t, NULL, 0, &out->last_sync_ms, &out->last_error_ms, out->last_error,
                  sizeof out->last_error);
  if (rc < 0)
    return rc;
  out->enrolled = rc;
  sqlite3_filename db = sqlite3_db_filename(t->db, "main");
  out->db_bytes = file_size(db) + file_size(sqlite3_filename_wal(db));
  return 0;
}
