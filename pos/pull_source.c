/* The terminal's store as the nightly pull reads it: a read-only connection, one snapshot per
 * answer. */
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "pos.h"
#include "sync.h"

#define BUSY_MS 5000 /* a checkpoint may hold the WAL index briefly */
#define STOP 1       /* the line callback asked to stop: its own result is kept */

struct tg__pull_store {
  tg_terminal *t; /* its connection is read-only; used under mu by one thread at a time */
  pthread_mutex_t mu;
  sqlite3_stmt *epoch;
  unsigned char hq_key[TG__CRED_KEY];
  unsigned char invite_key[32];
};

/* Hands each record to the server's callback, keeping its result apart from the store's codes. */
typedef struct {
  tg__pull_line_fn line;
  void *arg;
  int result;
} passing;

static int pass_line(void *ctx, int64_t seq, const char *json, size_t len) {
  passing *p = ctx;
  p->result = p->line(p->arg, seq, json, len);
  return p->result != 0 ? STOP : 0;
}

/* The current epoch: read in the snapshot, since a restore may have changed it. */
static int read_epoch(tg__pull_store *s, int64_t *epoch) {
  sqlite3_reset(s->epoch);
  int rc = sqlite3_step(s->epoch);
  if (rc == SQLITE_ROW)
    *epoch = sqlite3_column_int64(s->epoch, 0);
  sqlite3_reset(s->epoch);
  return rc == SQLITE_ROW ? 0
                          : tg__db_fail(s->t, rc == SQLITE_DONE ? SQLITE_CORRUPT : rc,
                                        "could not read the terminal's epoch");
}

/* tg__pull_source.read over the store (sync.h): everything between BEGIN and its end is one
 * snapshot. */
static int store_read(void *ctx, int64_t from, int64_t to, int64_t *epoch, int64_t *max_seq,
                      tg__pull_line_fn line, void *arg, char *why, size_t cap) {
  tg__pull_store *s = ctx;
  tg_terminal *t = s->t;
  passing p = {line, arg, 0};
  int64_t acked;
  int rc, result = TG__PULL_READ_OK;
  pthread_mutex_lock(&s->mu);
  rc = sqlite3_exec(t->db, "BEGIN", NULL, NULL, NULL);
  if (rc != SQLITE_OK)
    rc = tg__db_fail(t, rc, "could not begin a read");
  if (rc == 0 && (rc = read_epoch(s, epoch)) == 0)
    rc = tg__counter_get(t, max_seq, &acked);
  if (rc == 0) {
    if (to < 0)
      to = *max_seq;
    if (to > *max_seq)
      result = TG__PULL_READ_RANGE;
    else if (from >= 1 && to >= from)
      rc = tg__outbox_lines(t, from - 1, to - from + 1, pass_line, &p);
  }
  if (rc == STOP)
    result = p.result;
  else if (rc == TG_ENOMEM)
    result = TG__PULL_READ_NOMEM;
  else if (rc != 0)
    result = TG__PULL_READ_UNREADABLE;
  if (result == TG__PULL_READ_UNREADABLE)
    snprintf(why, cap, "%s", t->detail);
  if (!sqlite3_get_autocommit(t->db))
    sqlite3_exec(t->db, "ROLLBACK", NULL, NULL, NULL); /* a read: nothing to keep */
  pthread_mutex_unlock(&s->mu);
  return result;
}

/* Reads the enrolment's keys; TG_ENOTENROLLED when there is none. */
static int read_enrolment(tg__pull_store *s) {
  tg_terminal *t = s->t;
  sqlite3_stmt *st;
  int rc = sqlite3_prepare_v2(t->db, "SELECT secret, hq_key FROM hq WHERE id = 1", -1, &st, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_step(st);
  if (rc == SQLITE_DONE) {
    rc = tg__fail(t, TG_ENOTENROLLED,
                  "this till is not enrolled: HQ cannot sign requests to it yet; run 'tillgroup "
                  "enrol --hq URL' with the credential 'tillgroup-hq enrol %s %s' printed",
                  t->info.store_id, t->info.terminal_id);
  } else if (rc != SQLITE_ROW) {
    rc = tg__db_fail(t, rc, "could not read the enrolment");
  } else if (sqlite3_column_bytes(st, 0) != TG__CRED_SECRET ||
             sqlite3_column_bytes(st, 1) != TG__CRED_KEY) {
    rc = tg__fail(t, TG_ECORRUPT, "the enrolment is damaged: run 'tillgroup enrol' again");
  } else {
    unsigned char secret[TG__CRED_SECRET];
    memcpy(secret, sqlite3_column_blob(st, 0), sizeof secret);
    memcpy(s->hq_key, sqlite3_column_blob(st, 1), sizeof s->hq_key);
    tg__cred_invite_key(secret, s->invite_key);
    sodium_memzero(secret, sizeof secret);
    rc = 0;
  }
  sqlite3_finalize(st);
  return rc;
}

/* Refuses a file that is not a terminal database of this version (it is never upgraded here). */
static int check_schema(tg_terminal *t) {
  sqlite3_stmt *st;
  int64_t app = 0, version = 0;
  int rc = sqlite3_prepare_v2(t->db, "SELECT * FROM pragma_application_id, pragma_user_version", -1,
                              &st, NULL);
  if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    app = sqlite3_column_int64(st, 0);
    version = sqlite3_column_int64(st, 1);
    rc = SQLITE_OK;
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_OK)
    return tg__db_fail(t, rc, "could not read the database");
  if (app != TG_APPLICATION_ID)
    return tg__fail(t, TG_ENOTDB, "this is not a tillgroup terminal database");
  if (version != TG_SCHEMA_VERSION)
    return tg__fail(t, version > TG_SCHEMA_VERSION ? TG_ENEWER : TG_EINVAL,
                    "the database is at schema %lld, this program reads %d: run any tillgroup "
                    "command on it once (it upgrades), or use the matching version",
                    (long long)version, TG_SCHEMA_VERSION);
  return 0;
}

int tg__pull_store_open(const char *path, tg__pull_store **out, char *why, size_t cap) {
  tg__pull_store *s = tg__malloc(sizeof *s);
  tg_terminal *t = tg__malloc(sizeof *t);
  int rc;
  *out = NULL;
  if (s == NULL || t == NULL) {
    tg__free(s);
    tg__free(t);
    snprintf(why, cap, "%s", tg_strerror(TG_ENOMEM));
    return TG_ENOMEM;
  }
  memset(s, 0, sizeof *s);
  memset(t, 0, sizeof *t);
  s->t = t;
  pthread_mutex_init(&s->mu, NULL);
  if (sodium_init() < 0) {
    rc = tg__fail(t, TG_EIO, "the random number generator could not start");
    goto fail;
  }
  rc = sqlite3_open_v2(path, &t->db, SQLITE_OPEN_READONLY, NULL);
  if (rc != SQLITE_OK) {
    rc = tg__db_fail(t, rc, "could not open the database read-only");
    goto fail;
  }
  sqlite3_busy_timeout(t->db, BUSY_MS);
  if ((rc = sqlite3_exec(t->db, "PRAGMA query_only = 1", NULL, NULL, NULL)) != SQLITE_OK) {
    rc = tg__db_fail(t, rc, "could not make the connection read-only");
    goto fail;
  }
  if ((rc = check_schema(t)) != 0 || (rc = tg__store_load_info(t)) != 0 ||
      (rc = read_enrolment(s)) != 0)
    goto fail;
  rc = sqlite3_prepare_v2(t->db, "SELECT epoch FROM terminal WHERE id = 1", -1, &s->epoch, NULL);
  if (rc != SQLITE_OK) {
    rc = tg__db_fail(t, rc, "could not prepare a read");
    goto fail;
  }
  *out = s;
  return 0;
fail:
  snprintf(why, cap, "%s", t->detail[0] ? t->detail : tg_strerror(rc));
  tg__pull_store_close(s);
  return rc;
}

void tg__pull_store_config(tg__pull_store *s, struct tg__pull_server_config *cfg) {
  snprintf(cfg->store, sizeof cfg->store, "%s", s->t->info.store_id);
  snprintf(cfg->terminal, sizeof cfg->terminal, "%s", s->t->info.terminal_id);
  memcpy(cfg->hq_key, s->hq_key, sizeof cfg->hq_key);
  memcpy(cfg->invite_key, s->invite_key, sizeof cfg->invite_key);
  cfg->source.ctx = s;
  cfg->source.read = store_read;
}

void tg__pull_store_close(tg__pull_store *s) {
  if (s == NULL)
    return;
  sqlite3_finalize(s->epoch);
  tg_terminal_close(s->t);
  pthread_mutex_destroy(&s->mu);
  sodium_memzero(s, sizeof *s);
  tg__free(s);
}
