/* The terminal's SQLite file: settings, schema versions, statements and transactions. */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pos.h"

/* migrations[v] takes a database from schema version v to v + 1. */
static const char *const migrations[TG_SCHEMA_VERSION] = {
    "CREATE TABLE terminal("
    " id INTEGER PRIMARY KEY CHECK (id = 1),"
    " store_id TEXT NOT NULL, terminal_id TEXT NOT NULL,"
    " currency TEXT NOT NULL, tz TEXT NOT NULL,"
    " epoch INTEGER NOT NULL, created_ms INTEGER NOT NULL);"
    /* The terminal's counters, one row: the last seq written, the last
     * receipt number printed, the last seq HQ acknowledged. */
    "CREATE TABLE counter("
    " id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL,"
    " receipt INTEGER NOT NULL, acked INTEGER NOT NULL);"
    "INSERT INTO counter VALUES (1, 0, 0, 0);"
    /* The ledger is its own outbox: one row per record, its body the JSON
     * sent to HQ, seq dense and gapless from the counter above. */
    "CREATE TABLE record("
    " seq INTEGER PRIMARY KEY,"
    " kind TEXT NOT NULL CHECK (kind IN ('sale', 'refund', 'void')),"
    " uuid BLOB UNIQUE,"
    " receipt_no INTEGER UNIQUE,"
    " refund_of INTEGER,"
    " digest BLOB,"
    " time_ms INTEGER NOT NULL,"
    " body TEXT NOT NULL);"
    "CREATE INDEX record_refund_of ON record(refund_of) WHERE refund_of IS NOT NULL;",

    /* 1 -> 2: the community engine. The record table is rebuilt to take the
     * kind 'redeem' (a coupon redeemed outside a sale). */
    "CREATE TABLE record_v2("
    " seq INTEGER PRIMARY KEY,"
    " kind TEXT NOT NULL CHECK (kind IN ('sale', 'refund', 'void', 'redeem')),"
    " uuid BLOB UNIQUE,"
    " receipt_no INTEGER UNIQUE,"
    " refund_of INTEGER,"
    " digest BLOB,"
    " time_ms INTEGER NOT NULL,"
    " body TEXT NOT NULL);"
    "INSERT INTO record_v2 SELECT * FROM record;"
    "DROP TABLE record;"
    "ALTER TABLE record_v2 RENAME TO record;"
    "CREATE INDEX record_refund_of ON record(refund_of) WHERE refund_of IS NOT NULL;"
    /* The terminal's own secrets, one per role: 'I' the invite HMAC secret,
     * 'C' the Ed25519 key it signs coupons with (public is its public half). */
    "CREATE TABLE keyring(role TEXT PRIMARY KEY, id INTEGER NOT NULL,"
    " secret BLOB NOT NULL, public BLOB);"
    /* The config bundle in force: its rules as JSON without members and
     * revocations, which have tables of their own. */
    "CREATE TABLE bundle(id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL,"
    " store TEXT NOT NULL, applied_ms INTEGER NOT NULL, rules TEXT NOT NULL,"
    " members INTEGER NOT NULL, revoked INTEGER NOT NULL);"
    "CREATE TABLE member(id INTEGER PRIMARY KEY, tier INTEGER NOT NULL, tags TEXT NOT NULL,"
    " points_lease INTEGER NOT NULL, is_new INTEGER NOT NULL);"
    "CREATE TABLE revoked(coupon INTEGER PRIMARY KEY);"
    /* What this terminal gave out offline, each row written with the record
     * (seq) that did it: coupons redeemed (single-use ones at most once),
     * flash-sale units, points spent, coupons issued. */
    "CREATE TABLE redemption(coupon INTEGER NOT NULL, campaign INTEGER NOT NULL,"
    " member INTEGER NOT NULL, lease TEXT NOT NULL, single INTEGER NOT NULL,"
    " seq INTEGER NOT NULL);"
    "CREATE UNIQUE INDEX redemption_single ON redemption(coupon) WHERE single = 1;"
    "CREATE INDEX redemption_campaign ON redemption(campaign, lease, member);"
    "CREATE TABLE flash_use(campaign INTEGER NOT NULL, lease TEXT NOT NULL,"
    " member INTEGER NOT NULL, qty_milli INTEGER NOT NULL, seq INTEGER NOT NULL);"
    "CREATE INDEX flash_use_campaign ON flash_use(campaign, lease, member);"
    "CREATE TABLE points_use(member INTEGER NOT NULL, bundle INTEGER NOT NULL,"
    " points INTEGER NOT NULL, seq INTEGER NOT NULL);"
    "CREATE INDEX points_use_member ON points_use(member, bundle);"
    "CREATE TABLE issued(coupon INTEGER PRIMARY KEY, campaign INTEGER NOT NULL,"
    " member INTEGER NOT NULL, seq INTEGER NOT NULL);"
    "CREATE INDEX issued_member ON issued(member, campaign);",

    /* 2 -> 3: sync with HQ. The HQ this terminal is enrolled at, one row: its
     * URL and TLS settings, the enrolment secret and HQ's bundle key, the
     * bundle's ETag, and how the last exchanges went. The checkpoint stays
     * counter.acked. */
    "CREATE TABLE hq(id INTEGER PRIMARY KEY CHECK (id = 1), url TEXT NOT NULL,"
    " secret BLOB NOT NULL, hq_key BLOB NOT NULL, pinned_key TEXT, ca_file TEXT,"
    " cert_file TEXT, key_file TEXT, proxy TEXT, enrolled_ms INTEGER NOT NULL,"
    " bundle_etag TEXT, last_ok_ms INTEGER, last_error TEXT, last_error_ms INTEGER);"
    /* Records HQ acknowledged but would not count, with its status and reason:
     * kept, shown by 'tillgroup status', never sent again once acknowledged. */
    "CREATE TABLE dead_letter(seq INTEGER PRIMARY KEY, status TEXT NOT NULL,"
    " reason TEXT NOT NULL, time_ms INTEGER NOT NULL);",
    /* 3 -> 4: receipts to print. A job waits until a printer took all of it;
     * started says bytes of it reached a printer before, so it prints as a COPY. */
    "CREATE TABLE print_job(id INTEGER PRIMARY KEY, receipt_no INTEGER NOT NULL,"
    " copy INTEGER NOT NULL, started INTEGER NOT NULL DEFAULT 0,"
    " attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT, queued_ms INTEGER NOT NULL,"
    " printed_ms INTEGER);"
    "CREATE INDEX print_job_waiting ON print_job(id) WHERE printed_ms IS NULL;",
    /* 4 -> 5: coupons HQ settled for members (referral rebates, group-buy differences),
     * kept from the bundle that brought them until the member's code is scanned on a sale. */
    "CREATE TABLE member_coupon(coupon INTEGER PRIMARY KEY, member INTEGER NOT NULL,"
    " token TEXT NOT NULL, bundle INTEGER NOT NULL);"
    "CREATE INDEX member_coupon_member ON member_coupon(member);",
};

static const char *const stmt_sql[TG__ST_COUNT] = {
#define TG__STMT_SQL(name, sql) sql,
    TG__STMT_MAP(TG__STMT_SQL)
#undef TG__STMT_SQL
};

sqlite3_stmt *tg__stmt(tg_terminal *t, tg__stmt_id id) {
  sqlite3_stmt *st = t->stmt[id];
  if (st != NULL) {
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return st;
  }
  int rc = sqlite3_prepare_v3(t->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
  if (rc != SQLITE_OK) {
    tg__db_fail(t, rc, "could not prepare a statement");
    return NULL;
  }
  t->stmt[id] = st;
  return st;
}

void tg__stmt_finalize_all(tg_terminal *t) {
  for (int i = 0; i < TG__ST_COUNT; i++) {
    sqlite3_finalize(t->stmt[i]);
    t->stmt[i] = NULL;
  }
}

int tg__step_done(tg_terminal *t, sqlite3_stmt *st, const char *what) {
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  return rc == SQLITE_DONE ? 0 : tg__db_fail(t, rc, what);
}

/* Steps statement id, which returns no row, then resets it. */
static int step_done(tg_terminal *t, tg__stmt_id id, const char *what) {
  sqlite3_stmt *st = tg__stmt(t, id);
  return st == NULL ? tg__from_sqlite(sqlite3_errcode(t->db)) : tg__step_done(t, st, what);
}

int tg__txn_settle(tg_terminal *t) {
  if (t->bulk || sqlite3_get_autocommit(t->db))
    return 0;
  return step_done(t, TG__ST_ROLLBACK, "could not end an earlier failed transaction");
}

int tg__txn_begin(tg_terminal *t, int *nested) {
  /* Else a commit would only be a savepoint inside a dangling transaction. */
  int rc = tg__txn_settle(t);
  *nested = t->bulk;
  return rc != 0 ? rc
                 : step_done(t, *nested ? TG__ST_SAVEPOINT : TG__ST_BEGIN,
                             "could not start a transaction");
}

int tg__bulk_begin(tg_terminal *t) {
  assert(!t->bulk);
  int rc = step_done(t, TG__ST_BEGIN, "could not start a bulk transaction");
  t->bulk = rc == 0;
  return rc;
}

int tg__bulk_end(tg_terminal *t) {
  assert(t->bulk);
  t->bulk = 0;
  int rc = step_done(t, TG__ST_COMMIT, "could not commit a bulk transaction");
  if (rc != 0 && !sqlite3_get_autocommit(t->db))
    step_done(t, TG__ST_ROLLBACK, "rollback");
  return rc;
}

int tg__txn_commit(tg_terminal *t, int nested) {
  int rc = step_done(t, nested ? TG__ST_RELEASE : TG__ST_COMMIT, "could not commit");
  if (rc != 0)
    tg__txn_rollback(t, nested);
  return rc;
}

void tg__txn_rollback(tg_terminal *t, int nested) {
  char keep[TG_DETAIL_MAX];
  memcpy(keep, t->detail, sizeof keep);
  if (nested) {
    step_done(t, TG__ST_ROLLBACK_TO, "rollback");
    step_done(t, TG__ST_RELEASE, "rollback");
  } else if (!sqlite3_get_autocommit(t->db)) {
    step_done(t, TG__ST_ROLLBACK, "rollback");
  }
  memcpy(t->detail, keep, sizeof keep);
}

/* Reads the counter row. */
static int read_counters(tg_terminal *t, int64_t *seq, int64_t *receipt, int64_t *acked) {
  sqlite3_stmt *st = tg__stmt(t, TG__ST_COUNTER_GET);
  if (st == NULL)
    return tg__from_sqlite(sqlite3_errcode(t->db));
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    *seq = sqlite3_column_int64(st, 0);
    *receipt = sqlite3_column_int64(st, 1);
    *acked = sqlite3_column_int64(st, 2);
  }
  sqlite3_reset(st);
  if (rc == SQLITE_DONE)
    return tg__fail(t, TG_ECORRUPT, "the counter row is missing");
  return rc == SQLITE_ROW ? 0 : tg__db_fail(t, rc, "could not read the counters");
}

int tg__counter_next(tg_terminal *t, int with_receipt, int64_t *seq, int64_t *receipt_no) {
  int64_t acked;
  sqlite3_stmt *st = tg__stmt(t, TG__ST_COUNTER_RAISE);
  if (st == NULL)
    return tg__from_sqlite(sqlite3_errcode(t->db));
  sqlite3_bind_int(st, 1, with_receipt ? 1 : 0);
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  if (rc != SQLITE_DONE)
    return tg__db_fail(t, rc, "could not raise the counters");
  rc = read_counters(t, seq, receipt_no, &acked);
  if (!with_receipt)
    *receipt_no = 0;
  return rc;
}

int tg__counter_get(tg_terminal *t, int64_t *seq, int64_t *acked) {
  int64_t receipt;
  return read_counters(t, seq, &receipt, acked);
}

/* Reads the integer answer of a PRAGMA or query. */
static int pragma_int(tg_terminal *t, const char *sql, int *out) {
  sqlite3_stmt *st;
  int rc = sqlite3_prepare_v2(t->db, sql, -1, &st, NULL);
  if (rc == SQLITE_OK) {
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
      *out = sqlite3_column_int(st, 0);
      rc = SQLITE_OK;
    }
  }
  sqlite3_finalize(st);
  return rc == SQLITE_OK ? 0 : tg__db_fail(t, rc, "could not read the database header");
}

/* Makes the new file's directory entry durable too. */
static void sync_parent_dir(const char *path) {
  char copy[4096];
  if (snprintf(copy, sizeof copy, "%s", path) >= (int)sizeof copy)
    return;
  int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    fsync(fd);
    close(fd);
  }
}

/* Refuses a file this build must not touch: not tillgroup's, or newer. */
static int check_version(tg_terminal *t, const char *path, int *version) {
  int app_id = 0;
  int rc = pragma_int(t, "PRAGMA application_id", &app_id);
  if (rc == 0)
    rc = pragma_int(t, "PRAGMA user_version", version);
  if (rc != 0)
    return rc;
  int n_tables = 0;
  if (app_id == 0 && *version == 0 &&
      (rc = pragma_int(t, "SELECT count(*) FROM sqlite_schema", &n_tables)) != 0)
    return rc;
  if (app_id == 0 && *version == 0 && n_tables == 0)
    return tg__fail(t, TG_ENOTDB,
                    "%s holds no terminal (its 'tillgroup init' did not finish?): "
                    "remove it and run 'tillgroup init' again",
                    path);
  if (app_id != TG_APPLICATION_ID)
    return tg__fail(t, TG_ENOTDB, "%s is not a tillgroup terminal database; it was not changed",
                    path);
  if (*version > TG_SCHEMA_VERSION)
    return tg__fail(t, TG_ENEWER,
                    "%s has schema version %d but this tillgroup knows up to %d: "
                    "upgrade tillgroup; the file was not changed",
                    path, *version, TG_SCHEMA_VERSION);
  return 0;
}

/* Applies migrations from version `from` up to TG_SCHEMA_VERSION. Runs inside
 * the caller's transaction. */
static int migrate(tg_terminal *t, int from) {
  char sql[64];
  for (int v = from; v < TG_SCHEMA_VERSION; v++) {
    int rc = sqlite3_exec(t->db, migrations[v], NULL, NULL, NULL);
    if (rc != SQLITE_OK)
      return tg__db_fail(t, rc, "could not upgrade the database schema");
    if (v == 1 && (rc = tg__keyring_create(t)) != 0)
      return rc;
  }
  snprintf(sql, sizeof sql, "PRAGMA user_version = %d", TG_SCHEMA_VERSION);
  int rc = sqlite3_exec(t->db, sql, NULL, NULL, NULL);
  return rc == SQLITE_OK ? 0 : tg__db_fail(t, rc, "could not record the schema version");
}

/* Brings an older schema up to date in one transaction. */
static int upgrade(tg_terminal *t, const char *path) {
  int nested, version, rc = tg__txn_begin(t, &nested);
  if (rc != 0)
    return rc;
  rc = check_version(t, path, &version); /* another process may have upgraded */
  if (rc == 0 && version < TG_SCHEMA_VERSION)
    rc = migrate(t, version);
  if (rc != 0) {
    tg__txn_rollback(t, nested);
    return rc;
  }
  return tg__txn_commit(t, nested);
}

int tg__store_create_file(tg_terminal *t, const char *path) {
  int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    return tg__fail(t, errno == EEXIST ? TG_EEXIST : TG_ECANTOPEN, "%s: %s", path,
                    errno == EEXIST ? "a terminal database is already there"
                                    : strerror(errno));
  close(fd);
  sync_parent_dir(path);
  return 0;
}

int tg__store_open(tg_terminal *t, const char *path, int created) {
  struct stat sb;
  int version = TG_SCHEMA_VERSION, rc;
  if (stat(path, &sb) != 0)
    return tg__fail(t, errno == ENOENT ? TG_ENOENT : TG_ECANTOPEN, "%s: %s", path,
                    errno == ENOENT ? tg_strerror(TG_ENOENT) : strerror(errno));
  rc = sqlite3_open_v2(path, &t->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_EXRESCODE, NULL);
  if (rc != SQLITE_OK)
    return tg__db_fail(t, rc, path);
  sqlite3_busy_timeout(t->db, 5000);
  if (!created) {
    rc = check_version(t, path, &version);
    if (rc != 0)
      return rc;
  }
  rc = sqlite3_exec(t->db,
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
                    " PRAGMA foreign_keys = ON; PRAGMA trusted_schema = OFF;"
                    " PRAGMA cache_size = -2000;",
                    NULL, NULL, NULL);
  if (rc != SQLITE_OK)
    return tg__db_fail(t, rc, "could not configure the database");
  sqlite3_stmt *st;
  const unsigned char *mode = NULL;
  rc = sqlite3_prepare_v2(t->db, "PRAGMA journal_mode", -1, &st, NULL);
  if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW &&
      (mode = sqlite3_column_text(st, 0)) == NULL)
    rc = SQLITE_NOMEM;
  int wal = mode != NULL && strcmp((const char *)mode, "wal") == 0;
  sqlite3_finalize(st);
  if (rc != SQLITE_ROW)
    return tg__db_fail(t, rc, "could not read the journal mode");
  if (!wal)
    return tg__fail(t, TG_ECANTOPEN, "%s: the file system does not support WAL mode", path);
  /* Transaction control is prepared now, so a rollback never needs memory. */
  for (int id = TG__ST_BEGIN; id <= TG__ST_ROLLBACK_TO; id++)
    if (tg__stmt(t, (tg__stmt_id)id) == NULL)
      return tg__from_sqlite(sqlite3_errcode(t->db));
  if (!created && version < TG_SCHEMA_VERSION)
    return upgrade(t, path);
  return 0;
}

int tg__store_create(tg_terminal *t, const tg_terminal_config *cfg, int64_t epoch) {
  char sql[64];
  sqlite3_stmt *st = NULL;
  int nested, rc = tg__txn_begin(t, &nested);
  if (rc != 0)
    return rc;
  snprintf(sql, sizeof sql, "PRAGMA application_id = %d", TG_APPLICATION_ID);
  rc = sqlite3_exec(t->db, sql, NULL, NULL, NULL);
  if (rc != SQLITE_OK) {
    rc = tg__db_fail(t, rc, "could not mark the database");
    goto fail;
  }
  rc = migrate(t, 0);
  if (rc != 0)
    goto fail;
  rc = sqlite3_prepare_v2(t->db,
                          "INSERT INTO terminal(id, store_id, terminal_id, currency, tz,"
                          " epoch, created_ms) VALUES(1, ?1, ?2, ?3, ?4, ?5, ?6)",
                          -1, &st, NULL);
  if (rc == SQLITE_OK) {
    sqlite3_bind_text(st, 1, cfg->store_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, cfg->terminal_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, cfg->currency, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, cfg->tz, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, epoch);
    sqlite3_bind_int64(st, 6, tg__now_ms());
    rc = sqlite3_step(st);
    rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_OK) {
    rc = tg__db_fail(t, rc, "could not record the terminal");
    goto fail;
  }
  return tg__txn_commit(t, nested);
fail:
  tg__txn_rollback(t, nested);
  return rc;
}

int tg__store_load_info(tg_terminal *t) {
  sqlite3_stmt *st;
  tg_terminal_info *in = &t->info;
  int rc = sqlite3_prepare_v2(
      t->db, "SELECT store_id, terminal_id, currency, tz, epoch FROM terminal WHERE id = 1",
      -1, &st, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_step(st);
  if (rc != SQLITE_ROW) {
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? tg__fail(t, TG_ECORRUPT, "the terminal row is missing")
                             : tg__db_fail(t, rc, "could not read the terminal");
  }
  if (sqlite3_column_bytes(st, 0) > TG_ID_MAX || sqlite3_column_bytes(st, 1) > TG_ID_MAX ||
      sqlite3_column_bytes(st, 2) != 3 || sqlite3_column_bytes(st, 3) >= (int)sizeof in->tz) {
    sqlite3_finalize(st);
    return tg__fail(t, TG_ECORRUPT, "the terminal row holds values too long");
  }
  snprintf(in->store_id, sizeof in->store_id, "%s", (const char *)sqlite3_column_text(st, 0));
  snprintf(in->terminal_id, sizeof in->terminal_id, "%s",
           (const char *)sqlite3_column_text(st, 1));
  snprintf(in->currency, sizeof in->currency, "%s", (const char *)sqlite3_column_text(st, 2));
  snprintf(in->tz, sizeof in->tz, "%s", (const char *)sqlite3_column_text(st, 3));
  in->epoch = sqlite3_column_int64(st, 4);
  sqlite3_finalize(st);
  in->currency_exponent = tg__currency_exponent(in->currency);
  in->schema_version = TG_SCHEMA_VERSION;
  if (!tg__id_valid(in->store_id) || !tg__id_valid(in->terminal_id) ||
      in->currency_exponent < 0)
    return tg__fail(t, TG_ECORRUPT, "the terminal row holds invalid values");
  return 0;
}
