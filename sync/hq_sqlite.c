/* tillgroup-hq's storage in one SQLite file ("sqlite:PATH"): schema, uploads, terminals, bundles.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hq.h"

#define HQ_APPLICATION_ID 0x54474831 /* "TGH1" in the file header */

/*
 * The schema as the steps that built it: a database at version v has had
 * steps 1..v applied (user_version). Steps are only ever appended, and the
 * same list in the same order stands in hq_pg.c. Step 1: sync (uploads,
 * terminals, bundles); mark.updated_ms tells which epoch is a terminal's latest.
 * Step 3: nightly pull (terminal.pull_url, nightly).
 */
static const char *const schema_steps[] = {
    "CREATE TABLE terminal(store TEXT NOT NULL, terminal TEXT NOT NULL,"
    " auth_hash BLOB NOT NULL, invite_key BLOB NOT NULL, enabled INTEGER NOT NULL,"
    " enrolled_ms INTEGER NOT NULL, last_seen_ms INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY(store, terminal)) WITHOUT ROWID;"
    "CREATE TABLE record(store TEXT NOT NULL, terminal TEXT NOT NULL, epoch INTEGER NOT NULL,"
    " seq INTEGER NOT NULL, kind TEXT NOT NULL, uuid TEXT, time_ms INTEGER NOT NULL,"
    " total INTEGER NOT NULL, body TEXT NOT NULL, received_ms INTEGER NOT NULL,"
    " PRIMARY KEY(store, terminal, epoch, seq));"
    "CREATE TABLE dead_letter(store TEXT NOT NULL, terminal TEXT NOT NULL,"
    " epoch INTEGER NOT NULL, seq INTEGER NOT NULL, status TEXT NOT NULL, reason TEXT NOT NULL,"
    " body TEXT NOT NULL, received_ms INTEGER NOT NULL,"
    " PRIMARY KEY(store, terminal, epoch, seq));"
    "CREATE TABLE mark(store TEXT NOT NULL, terminal TEXT NOT NULL, epoch INTEGER NOT NULL,"
    " acked_through INTEGER NOT NULL, updated_ms INTEGER NOT NULL,"
    " PRIMARY KEY(store, terminal, epoch)) WITHOUT ROWID;"
    "CREATE TABLE idem(store TEXT NOT NULL, terminal TEXT NOT NULL, key TEXT NOT NULL,"
    " digest BLOB NOT NULL, received_ms INTEGER NOT NULL,"
    " PRIMARY KEY(store, terminal, key)) WITHOUT ROWID;"
    "CREATE TABLE bundle(version INTEGER PRIMARY KEY, store TEXT NOT NULL, body BLOB NOT NULL,"
    " signature TEXT NOT NULL, published_ms INTEGER NOT NULL);"
    "CREATE INDEX bundle_store ON bundle(store, version);"
    "CREATE TABLE hq_key(id INTEGER PRIMARY KEY CHECK (id = 1), public BLOB NOT NULL,"
    " secret BLOB NOT NULL);",
    /* Step 2: join (groups and the joins of the join page). A group's seats
     * are numbered; UNIQUE(group_id, seat) and the CHECK keep it within its
     * capacity, UNIQUE(invite, slot) an invite within its join limit. */
    "CREATE TABLE chat_group(id INTEGER PRIMARY KEY, store TEXT NOT NULL, name TEXT NOT NULL,"
    " platform TEXT NOT NULL, link TEXT NOT NULL, qr BLOB,"
    " capacity INTEGER NOT NULL CHECK (capacity BETWEEN 1 AND 100000),"
    " joined INTEGER NOT NULL DEFAULT 0, expires_ms INTEGER NOT NULL DEFAULT 0,"
    " enabled INTEGER NOT NULL DEFAULT 1, created_ms INTEGER NOT NULL,"
    " CHECK (joined BETWEEN 0 AND capacity));"
    "CREATE INDEX chat_group_store ON chat_group(store, id);"
    "CREATE TABLE group_join(id INTEGER PRIMARY KEY, store TEXT NOT NULL,"
    " terminal TEXT NOT NULL, receipt_no INTEGER NOT NULL, issued_ms INTEGER NOT NULL,"
    " slot INTEGER NOT NULL CHECK (slot >= 1), staff TEXT NOT NULL, client TEXT NOT NULL,"
    " group_id INTEGER NOT NULL REFERENCES chat_group(id), seat INTEGER NOT NULL,"
    " coupon_id INTEGER NOT NULL DEFAULT 0, coupon_campaign INTEGER NOT NULL DEFAULT 0,"
    " coupon TEXT NOT NULL DEFAULT '',"
    " joined_ms INTEGER NOT NULL, UNIQUE(store, terminal, receipt_no, issued_ms, slot),"
    " UNIQUE(group_id, seat));"
    "CREATE INDEX group_join_time ON group_join(joined_ms);"
    "CREATE INDEX group_join_client ON group_join(store, client);",
    /* Step 3: nightly pull: where HQ reaches each terminal, and each night's result. */
    "ALTER TABLE terminal ADD COLUMN pull_url TEXT;"
    "CREATE TABLE nightly(store TEXT NOT NULL, terminal TEXT NOT NULL, date TEXT NOT NULL,"
    " run_ms INTEGER NOT NULL, reachable INTEGER NOT NULL, needs_operator INTEGER NOT NULL,"
    " epoch INTEGER NOT NULL, max_seq INTEGER NOT NULL, count_before INTEGER NOT NULL,"
    " count_after INTEGER NOT NULL, fetched INTEGER NOT NULL, flags TEXT NOT NULL,"
    " PRIMARY KEY(store, terminal, date)) WITHOUT ROWID;",
    /* Step 4 (reconcile): settlement coupons HQ issued, one per rule, source record and campaign. */
    "CREATE TABLE settlement(rule TEXT NOT NULL, store TEXT NOT NULL, terminal TEXT NOT NULL,"
    " epoch INTEGER NOT NULL, seq INTEGER NOT NULL, campaign INTEGER NOT NULL,"
    " member INTEGER NOT NULL, amount INTEGER NOT NULL, coupon INTEGER NOT NULL UNIQUE,"
    " token TEXT NOT NULL, made_ms INTEGER NOT NULL, state TEXT NOT NULL"
    " CHECK (state IN ('pending-bundle', 'published')),"
    " bundle_version INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY(rule, store, terminal, epoch, seq, campaign));"
    "CREATE INDEX settlement_pending ON settlement(state, store, made_ms);",
};
#define HQ_SCHEMA_VERSION ((int)(sizeof schema_steps / sizeof schema_steps[0]))

#define HQ_STMT_MAP(XX)                                                                            \
  XX(BEGIN, "BEGIN IMMEDIATE")                                                                     \
  XX(COMMIT, "COMMIT")                                                                             \
  XX(ROLLBACK, "ROLLBACK")                                                                         \
  XX(HEALTH, "SELECT 1")                                                                           \
  XX(KEY_GET, "SELECT public, secret FROM hq_key WHERE id = 1")                                    \
  XX(ENROL, "INSERT INTO terminal(store, terminal, auth_hash, invite_key, enabled, enrolled_ms)"   \
            " VALUES(?1, ?2, ?3, ?4, 1, ?5) ON CONFLICT DO UPDATE SET"                             \
            " auth_hash = excluded.auth_hash, invite_key = excluded.invite_key, enabled = 1,"      \
            " enrolled_ms = excluded.enrolled_ms")                                                 \
  XX(ENABLE, "UPDATE terminal SET enabled = ?3 WHERE store = ?1 AND terminal = ?2")                \
  XX(AUTH_GET, "SELECT auth_hash, enabled FROM terminal WHERE store = ?1 AND terminal = ?2")       \
  XX(TOUCH, "UPDATE terminal SET last_seen_ms = ?3 WHERE store = ?1 AND terminal = ?2")            \
  XX(IDEM_ADD, "INSERT INTO idem(store, terminal, key, digest, received_ms)"                       \
               " VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING")                               \
  XX(IDEM_GET, "SELECT digest FROM idem WHERE store = ?1 AND terminal = ?2 AND key = ?3")          \
  XX(MARK_GET, "INSERT INTO mark(store, terminal, epoch, acked_through, updated_ms)"               \
               " VALUES(?1, ?2, ?3, 0, ?4) ON CONFLICT DO UPDATE SET"                              \
               " updated_ms = excluded.updated_ms RETURNING acked_through")                        \
  XX(MARK_SET, "UPDATE mark SET acked_through = ?4"                                                \
               " WHERE store = ?1 AND terminal = ?2 AND epoch = ?3")                               \
  XX(RECORD_ADD, "INSERT INTO record(store, terminal, epoch, seq, kind, uuid, time_ms, total,"     \
                 " body, received_ms) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"             \
                 " ON CONFLICT DO NOTHING")                                                        \
  XX(RECORD_BODY, "SELECT body FROM record"                                                        \
                  " WHERE store = ?1 AND terminal = ?2 AND epoch = ?3 AND seq = ?4")               \
  XX(DEAD_ADD, "INSERT INTO dead_letter(store, terminal, epoch, seq, status, reason, body,"        \
               " received_ms) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT DO NOTHING")      \
  /* Runs of contiguous seqs held above ?4, lowest first. */                                       \
  XX(ISLANDS, "SELECT min(seq), max(seq) FROM (SELECT seq, seq - row_number() OVER"                \
              " (ORDER BY seq) AS g FROM (SELECT seq FROM record WHERE store = ?1 AND"             \
              " terminal = ?2 AND epoch = ?3 AND seq > ?4 UNION SELECT seq FROM dead_letter"       \
              " WHERE store = ?1 AND terminal = ?2 AND epoch = ?3 AND seq > ?4))"                  \
              " GROUP BY g ORDER BY 1 LIMIT ?5")                                                   \
  XX(BUNDLE_NEXT, "SELECT coalesce(max(version), 0) + 1 FROM bundle")                              \
  XX(BUNDLE_PUT, "INSERT INTO bundle(version, store, body, signature, published_ms)"               \
                 " VALUES(?1, ?2, ?3, ?4, ?5)")                                                    \
  XX(BUNDLE_GET, "SELECT version, body, signature FROM bundle WHERE store IN (?1, '*')"            \
                 " ORDER BY version DESC LIMIT 1")                                                 \
  /* Each terminal with its most recently uploaded epoch's mark. */                                \
  XX(TERMINALS,                                                                                    \
     "SELECT t.store, t.terminal, t.enabled, t.enrolled_ms, t.last_seen_ms,"                       \
     " coalesce(m.epoch, 0), coalesce(m.acked_through, 0),"                                        \
     " (SELECT count(*) FROM record r WHERE r.store = t.store AND r.terminal = t.terminal"         \
     "  AND r.epoch = m.epoch AND r.seq > m.acked_through),"                                       \
     " (SELECT count(*) FROM dead_letter d WHERE d.store = t.store"                                \
     "  AND d.terminal = t.terminal)"                                                              \
     " FROM terminal t LEFT JOIN mark m ON m.store = t.store AND m.terminal = t.terminal"          \
     " AND m.epoch = (SELECT epoch FROM mark l WHERE l.store = t.store"                            \
     "  AND l.terminal = t.terminal ORDER BY updated_ms DESC, epoch DESC LIMIT 1)"                 \
     " ORDER BY t.store, t.terminal")                                                              \
  XX(RECORDS,                                                                                      \
     "SELECT store, terminal, kind, epoch, seq, time_ms, total, body FROM record"                  \
     " WHERE time_ms >= ?1 AND time_ms < ?2 ORDER BY time_ms, store, terminal, epoch, seq")
typedef enum {
#define HQ_STMT_ID(name, sql) ST_##name,
  HQ_STMT_MAP(HQ_STMT_ID)
#undef HQ_STMT_ID
      ST_COUNT
} stmt_id;

static const char *const stmt_sql[ST_COUNT] = {
#define HQ_STMT_SQL(name, sql) sql,
    HQ_STMT_MAP(HQ_STMT_SQL)
#undef HQ_STMT_SQL
};

struct tg__hq_db {
  sqlite3 *db;
  sqlite3_stmt *stmt[ST_COUNT]; /* prepared on first use, kept until close */
};

int tg__hq_sqlite_fail(sqlite3 *db, int rc, const char *what, char *why, size_t cap) {
  if (why != NULL && cap > 0)
    snprintf(why, cap, "%s: %s", what, db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  return (rc & 0xff) == SQLITE_NOMEM ? TG__HQ_NOMEM : TG__HQ_DB;
}

/* tg__hq_sqlite_fail with h's connection. */
static int db_fail(tg__hq_db *h, int rc, const char *what, char *why, size_t cap) {
  return tg__hq_sqlite_fail(h != NULL ? h->db : NULL, rc, what, why, cap);
}

/* The statement id, reset with no bindings; NULL with why filled when it cannot be prepared. */
static sqlite3_stmt *stmt(tg__hq_db *h, stmt_id id, char *why, size_t cap) {
  sqlite3_stmt *st = h->stmt[id];
  if (st != NULL) {
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return st;
  }
  int rc = sqlite3_prepare_v3(h->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
  if (rc != SQLITE_OK) {
    db_fail(h, rc, "could not prepare a statement", why, cap);
    return NULL;
  }
  h->stmt[id] = st;
  return st;
}

/* The rc of a failed stmt() call. */
static int stmt_rc(tg__hq_db *h) {
  return (sqlite3_errcode(h->db) & 0xff) == SQLITE_NOMEM ? TG__HQ_NOMEM : TG__HQ_DB;
}

/* Steps a statement that returns no row and resets it. */
static int step_done(tg__hq_db *h, sqlite3_stmt *st, const char *what, char *why, size_t cap) {
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  return rc == SQLITE_DONE ? TG__HQ_OK : db_fail(h, rc, what, why, cap);
}

static int exec_id(tg__hq_db *h, stmt_id id, const char *what, char *why, size_t cap) {
  sqlite3_stmt *st = stmt(h, id, why, cap);
  return st == NULL ? stmt_rc(h) : step_done(h, st, what, why, cap);
}

/* Ends a failed transaction, keeping the reason already in why. */
static void rollback(tg__hq_db *h) {
  if (!sqlite3_get_autocommit(h->db))
    sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
}

static void bind_ids(sqlite3_stmt *st, const char *store, const char *terminal) {
  sqlite3_bind_text(st, 1, store, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, terminal, -1, SQLITE_STATIC);
}

void tg__hq_sqlite_text_at(sqlite3_stmt *st, int col, char *out, size_t cap) {
  const unsigned char *z = sqlite3_column_text(st, col);
  snprintf(out, cap, "%s", z != NULL ? (const char *)z : "");
}

int tg__hq_sqlite_terminal_set(tg__hq_db *h, sqlite3_stmt *st, const char *store,
                               const char *terminal, char *why, size_t cap) {
  bind_ids(st, store, terminal);
  int rc = step_done(h, st, "could not change the terminal", why, cap);
  if (rc == TG__HQ_OK && sqlite3_changes(h->db) == 0) {
    snprintf(why, cap, "terminal %s-%s is not enrolled", store, terminal);
    return TG__HQ_NOTFOUND;
  }
  return rc;
}

/*
 * Refuses a file that is not HQ's or is newer than this build; *version is
 * the schema step it is at (0 when the file is empty).
 */
static int check_header(tg__hq_db *h, const char *path, int *at, char *why, size_t cap) {
  int app_id = 0, version = 0, n_tables = 0;
  sqlite3_stmt *st = NULL;
  /* one statement, so one snapshot: another connection may be creating the schema */
  int rc = sqlite3_prepare_v2(h->db,
                              "SELECT (SELECT application_id FROM pragma_application_id),"
                              " (SELECT user_version FROM pragma_user_version),"
                              " (SELECT count(*) FROM sqlite_schema)",
                              -1, &st, NULL);
  if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    app_id = sqlite3_column_int(st, 0);
    version = sqlite3_column_int(st, 1);
    n_tables = sqlite3_column_int(st, 2);
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_ROW)
    return db_fail(h, rc, "could not read the database header", why, cap);
  *at = 0;
  if (app_id == 0 && version == 0 && n_tables == 0)
    return TG__HQ_OK;
  if (app_id != HQ_APPLICATION_ID) {
    snprintf(why, cap, "%s is not a tillgroup-hq database; it was not changed", path);
    return TG__HQ_DB;
  }
  if (version > HQ_SCHEMA_VERSION) {
    snprintf(why, cap,
             "%s has schema version %d but this tillgroup-hq knows up to %d: upgrade "
             "tillgroup-hq; the file was not changed",
             path, version, HQ_SCHEMA_VERSION);
    return TG__HQ_DB;
  }
  if (version < 1) {
    snprintf(why, cap, "%s is a tillgroup-hq database without a schema: remove it", path);
    return TG__HQ_DB;
  }
  *at = version;
  return TG__HQ_OK;
}

/*
 * Brings the schema from the step it is at up to HQ_SCHEMA_VERSION in one
 * transaction, making HQ's signing key with a new file, unless another
 * connection just did.
 */
static int upgrade_schema(tg__hq_db *h, const char *path, char *why, size_t cap) {
  unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
  char sql[96];
  sqlite3_stmt *st = NULL;
  int at = 0, src = SQLITE_OK, rc = exec_id(h, ST_BEGIN, "could not start a transaction", why, cap);
  if (rc != TG__HQ_OK)
    return rc;
  rc = check_header(h, path, &at, why, cap); /* again, now that we hold the write lock */
  if (rc != TG__HQ_OK || at == HQ_SCHEMA_VERSION)
    goto done;
  snprintf(sql, sizeof sql, "PRAGMA application_id = %d; PRAGMA user_version = %d;",
           HQ_APPLICATION_ID, HQ_SCHEMA_VERSION);
  for (int i = at; i < HQ_SCHEMA_VERSION && src == SQLITE_OK; i++)
    src = sqlite3_exec(h->db, schema_steps[i], NULL, NULL, NULL);
  if (src == SQLITE_OK)
    src = sqlite3_exec(h->db, sql, NULL, NULL, NULL);
  if (src != SQLITE_OK) {
    rc = db_fail(h, src, "could not bring the schema up to date", why, cap);
    goto done;
  }
  if (at > 0)
    goto done;
  crypto_sign_keypair(pk, sk);
  src = sqlite3_prepare_v2(h->db, "INSERT INTO hq_key(id, public, secret) VALUES(1, ?1, ?2)", -1,
                           &st, NULL);
  if (src == SQLITE_OK) {
    sqlite3_bind_blob(st, 1, pk, sizeof pk, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, sk, sizeof sk, SQLITE_STATIC);
    src = sqlite3_step(st);
  }
  sqlite3_finalize(st);
  sodium_memzero(sk, sizeof sk);
  if (src != SQLITE_DONE)
    rc = db_fail(h, src, "could not store HQ's signing key", why, cap);
done:
  if (rc == TG__HQ_OK)
    return exec_id(h, ST_COMMIT, "could not commit the schema", why, cap);
  rollback(h);
  return rc;
}

static void hq_close(tg__hq_db *h) {
  if (h == NULL)
    return;
  for (int i = 0; i < ST_COUNT; i++)
    sqlite3_finalize(h->stmt[i]);
  sqlite3_close_v2(h->db);
  free(h);
}

/*
 * Opens "sqlite:PATH", creating the file (mode 0600), its schema and HQ's
 * key on first use. Refuses another program's database or a newer schema
 * without changing it.
 */
static int hq_open(const char *spec, tg__hq_db **out, char *why, size_t cap) {
  const char *path = strncmp(spec, "sqlite:", 7) == 0 ? spec + 7 : spec;
  int at = 0, rc;
  *out = NULL;
  if (path[0] == '\0') {
    snprintf(why, cap, "the database is sqlite:PATH; the path is missing");
    return TG__HQ_DB;
  }
  if (sodium_init() < 0) {
    snprintf(why, cap, "libsodium could not start");
    return TG__HQ_DB;
  }
  /* Only a file this call creates is closed here: closing a descriptor of a
   * file another connection of this process has open would drop its POSIX
   * locks, and another process could then take the live WAL as abandoned. */
  int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0 && errno != EEXIST) {
    snprintf(why, cap, "%s: %s", path, strerror(errno));
    return TG__HQ_DB;
  }
  if (fd >= 0)
    close(fd);
  tg__hq_db *h = calloc(1, sizeof *h);
  if (h == NULL) {
    snprintf(why, cap, "out of memory");
    return TG__HQ_NOMEM;
  }
  int src = sqlite3_open_v2(path, &h->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_EXRESCODE, NULL);
  if (src != SQLITE_OK) {
    rc = db_fail(h, src, path, why, cap);
    goto fail;
  }
  sqlite3_busy_timeout(h->db, 5000);
  rc = check_header(h, path, &at, why, cap); /* before any pragma writes to the file */
  if (rc != TG__HQ_OK)
    goto fail;
  src = sqlite3_exec(h->db,
                     "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
                     " PRAGMA foreign_keys = ON; PRAGMA trusted_schema = OFF;",
                     NULL, NULL, NULL);
  if (src != SQLITE_OK) {
    rc = db_fail(h, src, "could not configure the database", why, cap);
    goto fail;
  }
  int wal = 0;
  sqlite3_stmt *st = NULL;
  src = sqlite3_prepare_v2(h->db, "PRAGMA journal_mode", -1, &st, NULL);
  if (src == SQLITE_OK && (src = sqlite3_step(st)) == SQLITE_ROW) {
    const unsigned char *mode = sqlite3_column_text(st, 0);
    wal = mode != NULL && strcmp((const char *)mode, "wal") == 0;
  }
  sqlite3_finalize(st);
  if (src != SQLITE_ROW) {
    rc = db_fail(h, src, "could not read the journal mode", why, cap);
    goto fail;
  }
  if (!wal) {
    snprintf(why, cap, "%s: the file system does not support WAL mode", path);
    rc = TG__HQ_DB;
    goto fail;
  }
  if (at < HQ_SCHEMA_VERSION && (rc = upgrade_schema(h, path, why, cap)) != TG__HQ_OK)
    goto fail;
  *out = h;
  return TG__HQ_OK;
fail:
  hq_close(h);
  return rc;
}

static int hq_health(tg__hq_db *h, char *why, size_t cap) {
  sqlite3_stmt *st = stmt(h, ST_HEALTH, why, cap);
  if (st == NULL)
    return stmt_rc(h);
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  return rc == SQLITE_ROW ? TG__HQ_OK : db_fail(h, rc, "the database does not answer", why, cap);
}

static int hq_signing_key(tg__hq_db *h, unsigned char pk[32], unsigned char sk[64], char *why,
                          size_t cap) {
  sqlite3_stmt *st = stmt(h, ST_KEY_GET, why, cap);
  if (st == NULL)
    return stmt_rc(h);
  int rc = sqlite3_step(st), out = TG__HQ_OK;
  if (rc == SQLITE_ROW && sqlite3_column_bytes(st, 0) == 32 && sqlite3_column_bytes(st, 1) == 64) {
    memcpy(pk, sqlite3_column_blob(st, 0), 32);
    memcpy(sk, sqlite3_column_blob(st, 1), 64);
  } else if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
    snprintf(why, cap, "HQ's signing key is missing or damaged in the database");
    out = TG__HQ_DB;
  } else {
    out = db_fail(h, rc, "could not read HQ's signing key", why, cap);
  }
  sqlite3_reset(st);
  return out;
}

static int hq_enrol(tg__hq_db *h, const char *store, const char *terminal,
                    const unsigned char auth_hash[32], const unsigned char invite_key[32],
                    char *why, size_t cap) {
  sqlite3_stmt *st = stmt(h, ST_ENROL, why, cap);
  if (st == NULL)
    return stmt_rc(h);
  bind_ids(st, store, terminal);
  sqlite3_bind_blob(st, 3, auth_hash, 32, SQLITE_STATIC);
  sqlite3_bind_blob(st, 4, invite_key, 32, SQLITE_STATIC);
  sqlite3_bind_int64(st, 5, tg__hq_now_ms());
  return step_done(h, st, "could not enrol the terminal", why, cap);
}

static int hq_set_enabled(tg__hq_db *h, const char *store, const char *terminal, int enabled,
                          char *why, size_t cap) {
  sqlite3_stmt *st = stmt(h, ST_ENABLE, why, cap);
  if (st == NULL)
    return stmt_rc(h);
  sqlite3_bind_int(st, 3, enabled ? 1 : 0);
  return tg__hq_sqlite_terminal_set(h, st, store, terminal, why, cap);
}

static int hq_auth_get(tg__hq_db *h, const char *store, const char *terminal,
                       unsigned char auth_hash[32], int *enabled, char *why, size_t cap) {
  sqlite3_stmt *st = stmt(h, ST_AUTH_GET, why, cap);
  if (st == NULL)
    return stmt_rc(h);
  bind_ids(st, store, terminal);
  int rc = sqlite3_step(st), out = TG__HQ_OK;
  if (rc == SQLITE_ROW && sqlite3_column_bytes(st, 0) == 32) {
    memcpy(auth_hash, sqlite3_column_blob(st, 0), 32);
    *enabled = sqlite3_column_int(st, 1) != 0;
  } else if (rc == SQLITE_ROW) {
    snprintf(why, cap, "terminal %s-%s has a damaged credential hash", store, terminal);
    out = TG__HQ_DB;
  } else if (rc == SQLITE_DONE) {
    snprintf(why, cap, "terminal %s-%s is not enrolled", store, terminal);
    out = TG__HQ_NOTFOUND;
  } else {
    out = db_fail(h, rc, "could not read the terminal", why, cap);
  }
  sqlite3_reset(st);
  return out;
}

/* Reads the runs of seqs held above base (at most TG__HQ_RUNS_MAX) into isl. */
static int islands(tg__hq_db *h, const tg__hq_key *k, int64_t base, int64_t isl[][2], int *n,
                   char *why, size_t cap) {
  sqlite3_stmt *st = stmt(h, ST_ISLANDS, why, cap);
  if (st == NULL)
    return stmt_rc(h);
  bind_ids(st, k->store, k->terminal);
  sqlite3_bind_int64(st, 3, k->epoch);
  sqlite3_bind_int64(st, 4, base);
  sqlite3_bind_int(st, 5, TG__HQ_RUNS_MAX);
  int rc;
  *n = 0;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW && *n < TG__HQ_RUNS_MAX) {
    isl[*n][0] = sqlite3_column_int64(st, 0);
    isl[*n][1] = sqlite3_column_int64(st, 1);
    (*n)++;
  }
  sqlite3_reset(st);
  return rc == SQLITE_DONE || rc == SQLITE_ROW
             ? TG__HQ_OK
             : db_fail(h, rc, "could not read the held records", why, cap);
}

/* Checks the batch's key against the one stored: TG__HQ_REUSED when its digest differs. */
static int idem_check(tg__hq_db *h, const tg__hq_batch *b, const char *key, int64_t now_ms,
                      char *why, size_t cap) {
  const tg__hq_key *k = &b->key;
  sqlite3_stmt *st = stmt(h, ST_IDEM_ADD, why, cap);
  if (st == NULL)
    return stmt_rc(h);
  bind_ids(st, k->store, k->terminal);
  sqlite3_bind_text(st, 3, key, -1, SQLITE_STATIC);
  sqlite3_bind_blob(st, 4, b->digest, sizeof b->digest, SQLITE_STATIC);
  sqlite3_bind_int64(st, 5, now_ms);
  int rc = step_done(h, st, "could not record the Idempotency-Key", why, cap);
  if (rc != TG__HQ_OK || sqlite3_changes(h->db) == 1)
    return rc;
  if ((st = stmt(h, ST_IDEM_GET, why, cap)) == NULL)
    return stmt_rc(h);
  bind_ids(st, k->store, k->terminal);
  sqlite3_bind_text(st, 3, key, -1, SQLITE_STATIC);
  int src = sqlite3_step(st);
  if (src != SQLITE_ROW) {
    rc = db_fail(h, src, "could not read the Idempotency-Key", why, cap);
  } else if (sqlite3_column_bytes(st, 0) != (int)sizeof b->digest ||
             memcmp(sqlite3_column_blob(st, 0), b->digest, sizeof b->digest) != 0) {
    snprintf(why, cap, "Idempotency-Key %s was used before with a different body", key);
    rc = TG__HQ_REUSED;
  }
  sqlite3_reset(st);
  return rc;
}

/* Stores one accepted record; *conflict when its seq is held with other bytes. */
static int record_add(tg__hq_db *h, const tg__hq_key *k, const tg__hq_record *r, int64_t now_ms,
                      int *conflict, char *why, size_t cap) {
  sqlite3_stmt *st = stmt(h, ST_RECORD_ADD, why, cap);
  if (st == NULL)
    return stmt_rc(h);
  bind_ids(st, k->store, k->terminal);
  sqlite3_bind_int64(st, 3, k->epoch);
  sqlite3_bind_int64(st, 4, r->seq);
  sqlite3_bind_text(st, 5, r->kind, -1, SQLITE_STATIC);
  if (r->uuid[0] != '\0')
    sqlite3_bind_text(st, 6, r->uuid, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 7, r->time_ms);
  sqlite3_bind_int64(st, 8, r->total);
  sqlite3_bind_text64(st, 9, r->body, r->len, SQLITE_STATIC, SQLITE_UTF8);
  sqlite3_bind_int64(st, 10, now_ms);
  int rc = step_done(h, st, "could not store a record", why, cap);
  *conflict = 0;
  if (rc != TG__HQ_OK || sqlite3_changes(h->db) == 1)
    return rc;
  if ((st = stmt(h, ST_RECORD_BODY, why, cap)) == NULL)
    return stmt_rc(h);
  bind_ids(st, k->store, k->terminal);
  sqlite3_bind_int64(st, 3, k->epoch);
  sqlite3_bind_int64(st, 4, r->seq);
  int src = sqlite3_step(st);
  if (src == SQLITE_ROW) {
    const void *p = sqlite3_column_blob(st, 0);
    size_t n = (size_t)sqlite3_column_bytes(st, 0);
    *conflict = n != r->len || (n > 0 && memcmp(p, r->body, n) != 0);
  } else {
    rc = db_fail(h, src, "could not read a stored record", why, cap);
  }
  sqlite3_reset(st);
  return rc;
}

static int dead_add(tg__hq_db *h, const tg__hq_key *k, const tg__hq_record *r, int64_t now_ms,
                    char *why, size_t cap) {
  sqlite3_stmt *st = stmt(h, ST_DEAD_ADD, why, cap);
  if (st == NULL)
    return stmt_rc(h);
  bind_ids(st, k->store, k->terminal);
  sqlite3_bind_int64(st, 3, k->epoch);
  sqlite3_bind_int64(st, 4, r->seq);
  sqlite3_bind_text(st, 5, r->reject_status, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 6, r->reason, -1, SQLITE_STATIC);
  sqlite3_bind_text64(st, 7, r->body, r->len, SQLITE_STATIC, SQLITE_UTF8);
  sqlite3_bind_int64(st, 8, now_ms);
  return step_done(h, st, "could not store a dead letter", why, cap);
}

/* Reads and touches the mark of the batch's epoch. */
static int mark_get(tg__hq_db *h, const tg__hq_key *k, int64_t now_ms, int64_t *acked, char *why,
                    size_t cap) {
  sqlite3_stmt *st = stmt(h, ST_MARK_GET, why, cap);
  if (st == NULL)
    return stmt_rc(h);
  bind_ids(st, k->store, k->terminal);
  sqlite3_bind_int64(st, 3, k->epoch);
  sqlite3_bind_int64(st, 4, now_ms);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW)
    *acked = sqlite3_column_int64(st, 0);
  sqlite3_reset(st);
  return rc == SQLITE_ROW ? TG__HQ_OK : db_fail(h, rc, "could not read the mark", why, cap);
}

static int hq_ingest(tg__hq_db *h, const tg__hq_batch *b, int64_t now_ms, tg__hq_ack *ack,
                     char *why, size_t cap) {
  const tg__hq_key *k = &b->key;
  char key[96];
  int64_t acked = 0, isl[TG__HQ_RUNS_MAX][2];
  int n_isl = 0, n_rej = 0, rc;
  sqlite3_stmt *st;
  tg__hq_ack out;
  assert(b->n == k->to - k->from + 1);
  memset(ack, 0, sizeof *ack);
  memset(&out, 0, sizeof out);
  snprintf(key, sizeof key, "%s-%s:%lld:%lld-%lld", k->store, k->terminal, (long long)k->epoch,
           (long long)k->from, (long long)k->to);
  tg__sync_rejected *rej = malloc(sizeof *rej * (size_t)(b->n > 0 ? b->n : 1));
  if (rej == NULL) {
    snprintf(why, cap, "out of memory");
    return TG__HQ_NOMEM;
  }
  rc = exec_id(h, ST_BEGIN, "could not start a transaction", why, cap);
  if (rc != TG__HQ_OK)
    goto fail;
  if ((st = stmt(h, ST_TOUCH, why, cap)) == NULL) {
    rc = stmt_rc(h);
    goto fail;
  }
  bind_ids(st, k->store, k->terminal);
  sqlite3_bind_int64(st, 3, now_ms);
  if ((rc = step_done(h, st, "could not update the terminal", why, cap)) != TG__HQ_OK)
    goto fail;
  if (sqlite3_changes(h->db) == 0) {
    snprintf(why, cap, "terminal %s-%s is not enrolled", k->store, k->terminal);
    rc = TG__HQ_NOTFOUND;
    goto fail;
  }
  if ((rc = idem_check(h, b, key, now_ms, why, cap)) != TG__HQ_OK ||
      (rc = mark_get(h, k, now_ms, &acked, why, cap)) != TG__HQ_OK)
    goto fail;
  for (int i = 0; i < b->n; i++) {
    const tg__hq_record *r = &b->records[i];
    int conflict = 0;
    if (r->reject_status != NULL) {
      rc = dead_add(h, k, r, now_ms, why, cap);
      tg__hq_rejected_set(&rej[n_rej++], r->seq, r->reject_status, r->reason);
    } else {
      rc = record_add(h, k, r, now_ms, &conflict, why, cap);
      if (conflict)
        tg__hq_rejected_set(&rej[n_rej++], r->seq, "conflict",
                     "this seq was received before with other content; HQ keeps the first");
    }
    if (rc != TG__HQ_OK)
      goto fail;
  }
  /* Every seq from..to is held now: the mark crosses the batch if it reaches it. */
  int64_t base = k->from <= acked + 1 && k->to > acked ? k->to : acked;
  if ((rc = islands(h, k, base, isl, &n_isl, why, cap)) != TG__HQ_OK)
    goto fail;
  out.acked_through = tg__hq_mark_walk(base, isl, n_isl, &out);
  if (out.acked_through != acked) {
    if ((st = stmt(h, ST_MARK_SET, why, cap)) == NULL) {
      rc = stmt_rc(h);
      goto fail;
    }
    bind_ids(st, k->store, k->terminal);
    sqlite3_bind_int64(st, 3, k->epoch);
    sqlite3_bind_int64(st, 4, out.acked_through);
    if ((rc = step_done(h, st, "could not move the mark", why, cap)) != TG__HQ_OK)
      goto fail;
  }
  if ((rc = exec_id(h, ST_COMMIT, "could not commit the upload", why, cap)) != TG__HQ_OK)
    goto fail;
  *ack = out;
  if (n_rej > 0) {
    ack->rejected = rej;
    ack->n_rejected = n_rej;
  } else {
    free(rej);
  }
  return TG__HQ_OK;
fail:
  rollback(h);
  free(rej);
  return rc;
}

static int hq_bundle_next(tg__hq_db *h, int64_t *version, char *why, size_t cap) {
  sqlite3_stmt *st = stmt(h, ST_BUNDLE_NEXT, why, cap);
  if (st == NULL)
    return stmt_rc(h);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW)
    *version = sqlite3_column_int64(st, 0);
  sqlite3_reset(st);
  return rc == SQLITE_ROW ? TG__HQ_OK
                          : db_fail(h, rc, "could not read the bundle versions", why, cap);
}

static int hq_bundle_put(tg__hq_db *h, int64_t version, const char *store, const char *body,
                         size_t n, const char *sig, char *why, size_t cap) {
  sqlite3_stmt *st = stmt(h, ST_BUNDLE_PUT, why, cap);
  if (n > (size_t)TG__SYNC_BUNDLE_MAX) {
    snprintf(why, cap, "the bundle is over %d bytes", TG__SYNC_BUNDLE_MAX);
    return TG__HQ_BAD;
  }
  if (st == NULL)
    return stmt_rc(h);
  sqlite3_bind_int64(st, 1, version);
  sqlite3_bind_text(st, 2, store, -1, SQLITE_STATIC);
  sqlite3_bind_blob64(st, 3, n > 0 ? body : "", n, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, sig, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 5, tg__hq_now_ms());
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  if (rc == SQLITE_DONE)
    return TG__HQ_OK;
  if ((sqlite3_extended_errcode(h->db) & 0xff) == SQLITE_CONSTRAINT) {
    snprintf(why, cap, "bundle version %lld is already published", (long long)version);
    return TG__HQ_REUSED;
  }
  return db_fail(h, rc, "could not store the bundle", why, cap);
}

static int hq_bundle_get(tg__hq_db *h, const char *store, int64_t *version, char **body, size_t *n,
                         char sig[TG__BUNDLE_SIG_TEXT], char *why, size_t cap) {
  sqlite3_stmt *st = stmt(h, ST_BUNDLE_GET, why, cap);
  *body = NULL;
  *n = 0;
  if (st == NULL)
    return stmt_rc(h);
  sqlite3_bind_text(st, 1, store, -1, SQLITE_STATIC);
  int src = sqlite3_step(st), rc = TG__HQ_OK;
  if (src == SQLITE_DONE) {
    snprintf(why, cap, "no bundle is published for store %s", store);
    rc = TG__HQ_NOTFOUND;
  } else if (src != SQLITE_ROW) {
    rc = db_fail(h, src, "could not read the bundle", why, cap);
  } else {
    const void *p = sqlite3_column_blob(st, 1);
    size_t len = (size_t)sqlite3_column_bytes(st, 1);
    const unsigned char *s = sqlite3_column_text(st, 2);
    size_t n_sig = (size_t)sqlite3_column_bytes(st, 2);
    char *z = malloc(len + 1);
    if (z == NULL || (len > 0 && p == NULL) || s == NULL) {
      free(z);
      snprintf(why, cap, "out of memory");
      rc = TG__HQ_NOMEM;
    } else if (n_sig >= TG__BUNDLE_SIG_TEXT) {
      free(z);
      snprintf(why, cap, "the stored bundle signature is damaged");
      rc = TG__HQ_DB;
    } else {
      if (len > 0)
        memcpy(z, p, len);
      z[len] = '\0';
      memcpy(sig, s, n_sig + 1);
      *version = sqlite3_column_int64(st, 0);
      *body = z;
      *n = len;
    }
  }
  sqlite3_reset(st);
  return rc;
}

static int hq_terminals(tg__hq_db *h, void (*fn)(void *ctx, const tg__hq_terminal *t), void *ctx,
                        char *why, size_t cap) {
  sqlite3_stmt *st = stmt(h, ST_TERMINALS, why, cap);
  if (st == NULL)
    return stmt_rc(h);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    tg__hq_terminal t;
    memset(&t, 0, sizeof t);
    snprintf(t.store, sizeof t.store, "%s", (const char *)sqlite3_column_text(st, 0));
    snprintf(t.terminal, sizeof t.terminal, "%s", (const char *)sqlite3_column_text(st, 1));
    t.enabled = sqlite3_column_int(st, 2) != 0;
    t.enrolled_ms = sqlite3_column_int64(st, 3);
    t.last_seen_ms = sqlite3_column_int64(st, 4);
    t.epoch = sqlite3_column_int64(st, 5);
    t.acked_through = sqlite3_column_int64(st, 6);
    t.held = sqlite3_column_int64(st, 7);
    t.dead_letters = sqlite3_column_int64(st, 8);
    fn(ctx, &t);
  }
  sqlite3_reset(st);
  return rc == SQLITE_DONE ? TG__HQ_OK : db_fail(h, rc, "could not list the terminals", why, cap);
}

static int hq_records(tg__hq_db *h, int64_t from_ms, int64_t to_ms,
                      void (*fn)(void *ctx, const tg__hq_stored *r), void *ctx, char *why,
                      size_t cap) {
  sqlite3_stmt *st = stmt(h, ST_RECORDS, why, cap);
  if (st == NULL)
    return stmt_rc(h);
  sqlite3_bind_int64(st, 1, from_ms);
  sqlite3_bind_int64(st, 2, to_ms);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    tg__hq_stored r = {(const char *)sqlite3_column_text(st, 0),
                       (const char *)sqlite3_column_text(st, 1),
                       (const char *)sqlite3_column_text(st, 2),
                       sqlite3_column_int64(st, 3),
                       sqlite3_column_int64(st, 4),
                       sqlite3_column_int64(st, 5),
                       sqlite3_column_int64(st, 6),
                       (const char *)sqlite3_column_text(st, 7),
                       (size_t)sqlite3_column_bytes(st, 7)};
    fn(ctx, &r);
  }
  sqlite3_reset(st);
  return rc == SQLITE_DONE ? TG__HQ_OK : db_fail(h, rc, "could not read the records", why, cap);
}

static int hq_bundle_version(tg__hq_db *h, const char *store, int64_t *version, char *why,
                             size_t cap) {
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(h->db,
                              "SELECT max(version) FROM bundle WHERE store IN (?1, '*')", -1, &st,
                              NULL),
      out = TG__HQ_OK;
  if (rc != SQLITE_OK)
    return db_fail(h, rc, "could not read the bundle versions", why, cap);
  sqlite3_bind_text(st, 1, store, -1, SQLITE_STATIC);
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
    *version = sqlite3_column_int64(st, 0);
  } else if (rc == SQLITE_ROW) {
    snprintf(why, cap, "no bundle is published for store %s", store);
    out = TG__HQ_NOTFOUND;
  } else {
    out = db_fail(h, rc, "could not read the bundle versions", why, cap);
  }
  sqlite3_finalize(st);
  return out;
}

struct sqlite3 *tg__hq_sqlite_conn(tg__hq_db *h) {
  return h->db;
}

/* The SQLite back end (hq.h): one connection per tg__hq_db. */
const tg__hq_backend tg__hq_sqlite = {
    .name = "sqlite",
    .open = hq_open,
    .close = hq_close,
    .health = hq_health,
    .signing_key = hq_signing_key,
    .enrol = hq_enrol,
    .set_enabled = hq_set_enabled,
    .auth_get = hq_auth_get,
    .ingest = hq_ingest,
    .bundle_next = hq_bundle_next,
    .bundle_put = hq_bundle_put,
    .bundle_get = hq_bundle_get,
    .terminals = hq_terminals,
    .records = hq_records,
    .bundle_version = hq_bundle_version,
    .group_add = tg__hq_sqlite_group_add,
    .group_disable = tg__hq_sqlite_group_disable,
    .groups = tg__hq_sqlite_groups,
    .join = tg__hq_sqlite_join,
    .joins = tg__hq_sqlite_joins,
    .terminal_get = tg__hq_sqlite_terminal_get,
    .pull_url_set = tg__hq_sqlite_pull_url_set,
    .held = tg__hq_sqlite_held,
    .nightly_put = tg__hq_sqlite_nightly_put,
    .nightly_last = tg__hq_sqlite_nightly_last,
    .settle_add = tg__hq_sqlite_settle_add,
    .settle_pending = tg__hq_sqlite_settle_pending,
    .bundle_put_settled = tg__hq_sqlite_bundle_put_settled,
};
