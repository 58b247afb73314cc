/* tillgroup-hq's storage in PostgreSQL (libpq): schema, COPY-staged uploads, terminals, bundles. */
#include <assert.h>
#include <libpq-fe.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hq.h"

#define HQ_APPLICATION "tillgroup-hq"
#define HQ_LOCK_ID "1413957681"                   /* pg_advisory_xact_lock key: "TGH1" */

/* Says whose the database is and the schema step it is at; made before step 1. */
static const char meta_sql[] = "CREATE TABLE hq_meta(id int PRIMARY KEY CHECK (id = 1),"
                               " application text NOT NULL, version int NOT NULL)";

/*
 * The schema as the steps that built it, the same list in the same order as
 * hq_sqlite.c's: a database at version v has had steps 1..v applied. Step 1:
 * sync (uploads, terminals, bundles); mark.updated_ms tells a terminal's latest epoch.
 */
static const char *const schema_steps[] = {
    "CREATE TABLE IF NOT EXISTS terminal(store text NOT NULL, terminal text NOT NULL,"
    " auth_hash bytea NOT NULL, invite_key bytea NOT NULL, enabled boolean NOT NULL,"
    " enrolled_ms bigint NOT NULL, last_seen_ms bigint NOT NULL DEFAULT 0,"
    " PRIMARY KEY(store, terminal));"
    "CREATE TABLE IF NOT EXISTS record(store text NOT NULL, terminal text NOT NULL,"
    " epoch bigint NOT NULL, seq bigint NOT NULL, kind text NOT NULL, uuid text,"
    " time_ms bigint NOT NULL, total bigint NOT NULL, body text NOT NULL,"
    " received_ms bigint NOT NULL, PRIMARY KEY(store, terminal, epoch, seq));"
    "CREATE TABLE IF NOT EXISTS dead_letter(store text NOT NULL, terminal text NOT NULL,"
    " epoch bigint NOT NULL, seq bigint NOT NULL, status text NOT NULL, reason text NOT NULL,"
    " body text NOT NULL, received_ms bigint NOT NULL, PRIMARY KEY(store, terminal, epoch, seq));"
    "CREATE TABLE IF NOT EXISTS mark(store text NOT NULL, terminal text NOT NULL,"
    " epoch bigint NOT NULL, acked_through bigint NOT NULL, updated_ms bigint NOT NULL,"
    " PRIMARY KEY(store, terminal, epoch));"
    "CREATE TABLE IF NOT EXISTS idem(store text NOT NULL, terminal text NOT NULL,"
    " key text NOT NULL, digest bytea NOT NULL, received_ms bigint NOT NULL,"
    " PRIMARY KEY(store, terminal, key));"
    "CREATE TABLE IF NOT EXISTS bundle(version bigint PRIMARY KEY, store text NOT NULL,"
    " body bytea NOT NULL, signature text NOT NULL, published_ms bigint NOT NULL);"
    "CREATE INDEX IF NOT EXISTS bundle_store ON bundle(store, version);"
    "CREATE TABLE IF NOT EXISTS hq_key(id int PRIMARY KEY CHECK (id = 1),"
    " public bytea NOT NULL, secret bytea NOT NULL);",
    /* Step 4 (reconcile): settlement coupons HQ issued, one per rule, source record and campaign. */
    "CREATE TABLE IF NOT EXISTS settlement(rule text NOT NULL, store text NOT NULL,"
    " terminal text NOT NULL, epoch bigint NOT NULL, seq bigint NOT NULL,"
    " campaign bigint NOT NULL, member bigint NOT NULL, amount bigint NOT NULL,"
    " coupon bigint NOT NULL UNIQUE, token text NOT NULL, made_ms bigint NOT NULL,"
    " state text NOT NULL CHECK (state IN ('pending-bundle', 'published')),"
    " bundle_version bigint NOT NULL DEFAULT 0,"
    " PRIMARY KEY(rule, store, terminal, epoch, seq, campaign));"
    "CREATE INDEX IF NOT EXISTS settlement_pending ON settlement(state, store, made_ms);",
};
#define HQ_SCHEMA_VERSION ((int)(sizeof schema_steps / sizeof schema_steps[0]))

/* HQ's table names: present without hq_meta, they belong to another program. */
#define HQ_TABLES "'terminal','record','dead_letter','mark','idem','bundle','hq_key','settlement'"

/* One upload's records, COPY'd in; emptied at every commit or rollback. */
static const char staging_sql[] =
    "CREATE TEMP TABLE IF NOT EXISTS tg_staging(seq bigint NOT NULL, kind text, uuid text,"
    " time_ms bigint, total bigint, body text NOT NULL, status text, reason text)"
    " ON COMMIT DELETE ROWS";

static const char copy_sql[] =
    "COPY tg_staging(seq, kind, uuid, time_ms, total, body, status, reason) FROM STDIN";

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

/* Each terminal with its most recently uploaded epoch's mark. */
static const char terminals_sql[] =
    "SELECT t.store, t.terminal, t.enabled::int, t.enrolled_ms, t.last_seen_ms,"
    " coalesce(m.epoch, 0), coalesce(m.acked_through, 0),"
    " (SELECT count(*) FROM record r WHERE r.store = t.store AND r.terminal = t.terminal"
    "  AND r.epoch = m.epoch AND r.seq > m.acked_through),"
    " (SELECT count(*) FROM dead_letter d WHERE d.store = t.store AND d.terminal = t.terminal)"
    " FROM terminal t LEFT JOIN mark m ON m.store = t.store AND m.terminal = t.terminal"
    " AND m.epoch = (SELECT epoch FROM mark l WHERE l.store = t.store"
    "  AND l.terminal = t.terminal ORDER BY updated_ms DESC, epoch DESC LIMIT 1)"
    " ORDER BY t.store, t.terminal";

static const char records_sql[] =
    "SELECT store, terminal, kind, epoch, seq, time_ms, total, body FROM record"
    " WHERE time_ms >= $1 AND time_ms < $2 ORDER BY time_ms, store, terminal, epoch, seq";

struct tg__hq_db {
  PGconn *conn;
  int staging; /* tg_staging exists in this session */
};

/* Formats v as a text parameter into buf (24 bytes) and returns buf. */
static const char *i64(char *buf, int64_t v) {
  snprintf(buf, 24, "%lld", (long long)v);
  return buf;
}

static int64_t int_at(const PGresult *res, int row, int col) {
  return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

/* Writes "<what>: <first line of msg>" into why. */
static void first_line(char *why, size_t cap, const char *what, const char *msg) {
  size_t n = strcspn(msg, "\r\n");
  snprintf(why, cap, "%s: %.*s", what, (int)n, msg);
}

/*
 * Checks res; on failure writes "<what>: <PostgreSQL's reason>" into why,
 * clears res and returns TG__HQ_DB (TG__HQ_NOMEM when libpq ran out).
 */
static int check(tg__hq_db *h, PGresult *res, const char *what, char *why, size_t cap) {
  ExecStatusType s = res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR;
  if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK || s == PGRES_COPY_IN)
    return TG__HQ_OK;
  const char *msg = res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
  if (msg == NULL)
    msg = PQerrorMessage(h->conn);
  first_line(why, cap, what, msg[0] != '\0' ? msg : "no answer");
  int rc = res == NULL && strstr(msg, "out of memory") != NULL ? TG__HQ_NOMEM : TG__HQ_DB;
  PQclear(res);
  return rc;
}

/* 1 when res failed with SQLSTATE state. */
static int sqlstate_is(const PGresult *res, const char *state) {
  const char *s = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
  return s != NULL && strcmp(s, state) == 0;
}

/* Runs sql (no parameters) and checks it. */
static int exec(tg__hq_db *h, const char *sql, const char *what, char *why, size_t cap) {
  PGresult *res = PQexec(h->conn, sql);
  int rc = check(h, res, what, why, cap);
  if (rc == TG__HQ_OK)
    PQclear(res);
  return rc;
}

/* Ends a failed transaction, keeping the reason already in why. */
static void rollback(tg__hq_db *h) {
  if (PQtransactionStatus(h->conn) != PQTRANS_IDLE)
    PQclear(PQexec(h->conn, "ROLLBACK"));
}

/* Reconnects a connection that broke (PostgreSQL restarted) and ends a transaction left open. */
static int ready(tg__hq_db *h, char *why, size_t cap) {
  if (PQstatus(h->conn) != CONNECTION_OK) {
    PQreset(h->conn);
    h->staging = 0;
    if (PQstatus(h->conn) != CONNECTION_OK) {
      first_line(why, cap, "could not reconnect to PostgreSQL", PQerrorMessage(h->conn));
      return TG__HQ_DB;
    }
  }
  rollback(h);
  return TG__HQ_OK;
}

/* Replaces each occurrence of secret[0..n) in why with "***". */
static void redact(char *why, size_t cap, const char *secret, size_t n) {
  char *p = why;
  if (n == 0)
    return;
  while (*p != '\0') {
    if (strncmp(p, secret, n) != 0) {
      p++;
      continue;
    }
    size_t at = (size_t)(p - why), tail = strlen(p + n);
    if (at + 3 + tail >= cap) /* cut the tail to keep "***" and the NUL */
      tail = cap > at + 4 ? cap - at - 4 : 0;
    if (at + 4 > cap) {
      *p = '\0';
      return;
    }
    memmove(p + 3, p + n, tail);
    p[3 + tail] = '\0';
    memcpy(p, "***", 3);
    p += 3;
  }
}

/* Removes from why any password spec carries, however libpq echoed it. */
static void redact_spec(char *why, size_t cap, const char *spec) {
  char *err = NULL;
  PQconninfoOption *opts = PQconninfoParse(spec, &err);
  for (PQconninfoOption *o = opts; o != NULL && o->keyword != NULL; o++)
    if (strcmp(o->keyword, "password") == 0 && o->val != NULL)
      redact(why, cap, o->val, strlen(o->val));
  PQconninfoFree(opts);
  PQfreemem(err);
  /* the raw (maybe percent-encoded) forms: user:PASSWORD@ and password=PASSWORD */
  const char *s = strstr(spec, "://");
  if (s != NULL) {
    s += 3;
    size_t n_auth = strcspn(s, "/?#");
    const char *at = NULL;
    for (size_t i = 0; i < n_auth; i++)
      if (s[i] == '@')
        at = s + i;
    const char *colon = at != NULL ? memchr(s, ':', (size_t)(at - s)) : NULL;
    if (colon != NULL)
      redact(why, cap, colon + 1, (size_t)(at - colon - 1));
  }
  for (const char *p = spec; (p = strstr(p, "password=")) != NULL;) {
    p += 9;
    redact(why, cap, p, strcspn(p, "& \t"));
  }
}

static void quiet(void *arg, const char *message) {
  (void)arg;
  (void)message; /* NOTICEs such as "relation already exists, skipping" are not for operators */
}

/* Applies schema steps at..HQ_SCHEMA_VERSION-1 and records the version, inside the caller's transaction. */
static int apply_steps(tg__hq_db *h, int at, char *why, size_t cap) {
  char sql[192];
  int rc = TG__HQ_OK;
  for (int i = at; i < HQ_SCHEMA_VERSION && rc == TG__HQ_OK; i++)
    rc = exec(h, schema_steps[i], "could not bring the schema up to date", why, cap);
  snprintf(sql, sizeof sql,
           "INSERT INTO hq_meta(id, application, version) VALUES(1, '" HQ_APPLICATION "', %d)"
           " ON CONFLICT (id) DO UPDATE SET version = excluded.version",
           HQ_SCHEMA_VERSION);
  return rc == TG__HQ_OK ? exec(h, sql, "could not record the schema version", why, cap) : rc;
}

/*
 * Creates the schema and HQ's signing key, or brings the one there up to
 * HQ_SCHEMA_VERSION; one session at a time.
 */
static int schema(tg__hq_db *h, char *why, size_t cap) {
  unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
  PGresult *res = NULL;
  int rc = exec(h, "BEGIN", "could not start a transaction", why, cap);
  if (rc == TG__HQ_OK)
    rc = exec(h, "SELECT pg_advisory_xact_lock(" HQ_LOCK_ID ")", "could not lock the schema", why,
              cap);
  if (rc != TG__HQ_OK)
    goto fail;
  res = PQexec(h->conn, "SELECT to_regclass('hq_meta') IS NOT NULL, (SELECT string_agg(t, ', ')"
                        " FROM unnest(array[" HQ_TABLES "]) t WHERE to_regclass(t) IS NOT NULL)");
  if ((rc = check(h, res, "could not read the schema", why, cap)) != TG__HQ_OK) {
    res = NULL; /* check() cleared it */
    goto fail;
  }
  int has_meta = PQgetvalue(res, 0, 0)[0] == 't';
  if (!has_meta && !PQgetisnull(res, 0, 1)) {
    snprintf(why, cap,
             "this database has tables named like tillgroup-hq's (%.80s) that are not "
             "tillgroup-hq's; use another database. Nothing was changed",
             PQgetvalue(res, 0, 1));
    rc = TG__HQ_DB;
    goto fail;
  }
  PQclear(res);
  res = NULL;
  if (has_meta) {
    res = PQexec(h->conn, "SELECT application, version FROM hq_meta WHERE id = 1");
    if ((rc = check(h, res, "could not read the schema version", why, cap)) != TG__HQ_OK) {
      res = NULL;
      goto fail;
    }
    if (PQntuples(res) != 1 || strcmp(PQgetvalue(res, 0, 0), HQ_APPLICATION) != 0) {
      snprintf(why, cap, "this database is not tillgroup-hq's; nothing was changed");
      rc = TG__HQ_DB;
      goto fail;
    }
    int64_t version = int_at(res, 0, 1);
    if (version > HQ_SCHEMA_VERSION || version < 1) {
      snprintf(why, cap,
               "the database has schema version %lld but this tillgroup-hq knows 1 to %d: "
               "upgrade tillgroup-hq; nothing was changed",
               (long long)version, HQ_SCHEMA_VERSION);
      rc = TG__HQ_DB;
      goto fail;
    }
    PQclear(res);
    res = NULL;
    if (version < HQ_SCHEMA_VERSION && (rc = apply_steps(h, (int)version, why, cap)) != TG__HQ_OK)
      goto fail;
    return exec(h, "COMMIT", "could not commit the schema", why, cap);
  }
  if ((rc = exec(h, meta_sql, "could not create the schema", why, cap)) != TG__HQ_OK ||
      (rc = apply_steps(h, 0, why, cap)) != TG__HQ_OK)
    goto fail;
  crypto_sign_keypair(pk, sk);
  const char *v[2] = {(const char *)pk, (const char *)sk};
  const int len[2] = {sizeof pk, sizeof sk}, fmt[2] = {1, 1};
  res = PQexecParams(h->conn, "INSERT INTO hq_key(id, public, secret) VALUES(1, $1, $2)", 2, NULL,
                     v, len, fmt, 0);
  sodium_memzero(sk, sizeof sk);
  if ((rc = check(h, res, "could not store HQ's signing key", why, cap)) != TG__HQ_OK) {
    res = NULL;
    goto fail;
  }
  PQclear(res);
  return exec(h, "COMMIT", "could not commit the new schema", why, cap);
fail:
  PQclear(res);
  rollback(h);
  return rc;
}

static void hq_close(tg__hq_db *h) {
  if (h == NULL)
    return;
  PQfinish(h->conn);
  free(h);
}

/*
 * Opens a libpq URI ("postgresql://..." or "postgres://...", PG* variables
 * filling what it leaves out), creating the schema and HQ's key on first use.
 * Never puts the URI's password in why.
 */
static int hq_open(const char *spec, tg__hq_db **out, char *why, size_t cap) {
  static const char *const keys[] = {"dbname", "client_encoding", "fallback_application_name",
                                     NULL};
  const char *vals[] = {spec, "UTF8", HQ_APPLICATION, NULL};
  int rc;
  *out = NULL;
  if (sodium_init() < 0) {
    snprintf(why, cap, "libsodium could not start");
    return TG__HQ_DB;
  }
  tg__hq_db *h = calloc(1, sizeof *h);
  if (h == NULL) {
    snprintf(why, cap, "out of memory");
    return TG__HQ_NOMEM;
  }
  h->conn = PQconnectdbParams(keys, vals, 1);
  if (h->conn == NULL) {
    snprintf(why, cap, "out of memory");
    rc = TG__HQ_NOMEM;
    goto fail;
  }
  if (PQstatus(h->conn) != CONNECTION_OK) {
    first_line(why, cap, "could not connect to PostgreSQL", PQerrorMessage(h->conn));
    redact_spec(why, cap, spec);
    rc = TG__HQ_DB;
    goto fail;
  }
  PQsetNoticeProcessor(h->conn, quiet, NULL);
  if ((rc = schema(h, why, cap)) != TG__HQ_OK)
    goto fail;
  *out = h;
  return TG__HQ_OK;
fail:
  hq_close(h);
  return rc;
}

static int hq_health(tg__hq_db *h, char *why, size_t cap) {
  int rc = ready(h, why, cap);
  return rc != TG__HQ_OK ? rc : exec(h, "SELECT 1", "the database does not answer", why, cap);
}

static int hq_signing_key(tg__hq_db *h, unsigned char pk[32], unsigned char sk[64], char *why,
                          size_t cap) {
  int rc = ready(h, why, cap);
  if (rc != TG__HQ_OK)
    return rc;
  PGresult *res = PQexecParams(h->conn, "SELECT public, secret FROM hq_key WHERE id = 1", 0, NULL,
                               NULL, NULL, NULL, 1);
  if ((rc = check(h, res, "could not read HQ's signing key", why, cap)) != TG__HQ_OK)
    return rc;
  if (PQntuples(res) == 1 && PQgetlength(res, 0, 0) == 32 && PQgetlength(res, 0, 1) == 64) {
    memcpy(pk, PQgetvalue(res, 0, 0), 32);
    memcpy(sk, PQgetvalue(res, 0, 1), 64);
  } else {
    snprintf(why, cap, "HQ's signing key is missing or damaged in the database");
    rc = TG__HQ_DB;
  }
  PQclear(res);
  return rc;
}

static int hq_enrol(tg__hq_db *h, const char *store, const char *terminal,
                    const unsigned char auth_hash[32], const unsigned char invite_key[32],
                    char *why, size_t cap) {
  char now[24];
  const char *v[5] = {store, terminal, (const char *)auth_hash, (const char *)invite_key,
                      i64(now, tg__hq_now_ms())};
  const int len[5] = {0, 0, 32, 32, 0}, fmt[5] = {0, 0, 1, 1, 0};
  int rc = ready(h, why, cap);
  if (rc != TG__HQ_OK)
    return rc;
  PGresult *res = PQexecParams(
      h->conn,
      "INSERT INTO terminal(store, terminal, auth_hash, invite_key, enabled, enrolled_ms)"
      " VALUES($1, $2, $3, $4, true, $5) ON CONFLICT (store, terminal) DO UPDATE SET"
      " auth_hash = EXCLUDED.auth_hash, invite_key = EXCLUDED.invite_key, enabled = true,"
      " enrolled_ms = EXCLUDED.enrolled_ms",
      5, NULL, v, len, fmt, 0);
  if ((rc = check(h, res, "could not enrol the terminal", why, cap)) == TG__HQ_OK)
    PQclear(res);
  return rc;
}

static int hq_set_enabled(tg__hq_db *h, const char *store, const char *terminal, int enabled,
                          char *why, size_t cap) {
  const char *v[3] = {store, terminal, enabled ? "true" : "false"};
  int rc = ready(h, why, cap);
  if (rc != TG__HQ_OK)
    return rc;
  PGresult *res =
      PQexecParams(h->conn, "UPDATE terminal SET enabled = $3 WHERE store = $1 AND terminal = $2",
                   3, NULL, v, NULL, NULL, 0);
  if ((rc = check(h, res, "could not change the terminal", why, cap)) != TG__HQ_OK)
    return rc;
  if (strcmp(PQcmdTuples(res), "0") == 0) {
    snprintf(why, cap, "terminal %s-%s is not enrolled", store, terminal);
    rc = TG__HQ_NOTFOUND;
  }
  PQclear(res);
  return rc;
}

static int hq_auth_get(tg__hq_db *h, const char *store, const char *terminal,
                       unsigned char auth_hash[32], int *enabled, char *why, size_t cap) {
  const char *v[2] = {store, terminal};
  int rc = ready(h, why, cap);
  if (rc != TG__HQ_OK)
    return rc;
  PGresult *res = PQexecParams(h->conn,
                               "SELECT auth_hash, enabled::int::text FROM terminal"
                               " WHERE store = $1 AND terminal = $2",
                               2, NULL, v, NULL, NULL, 1);
  if ((rc = check(h, res, "could not read the terminal", why, cap)) != TG__HQ_OK)
    return rc;
  if (PQntuples(res) == 0) {
    snprintf(why, cap, "terminal %s-%s is not enrolled", store, terminal);
    rc = TG__HQ_NOTFOUND;
  } else if (PQgetlength(res, 0, 0) != 32) {
    snprintf(why, cap, "terminal %s-%s has a damaged credential hash", store, terminal);
    rc = TG__HQ_DB;
  } else {
    memcpy(auth_hash, PQgetvalue(res, 0, 0), 32);
    *enabled = strcmp(PQgetvalue(res, 0, 1), "0") != 0;
  }
  PQclear(res);
  return rc;
}

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
  char buf[24];
  size_t n = strlen(i64(buf, v));
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

/* Sends rows[0..n) through COPY into tg_staging. */
static int copy_in(tg__hq_db *h, const char *rows, size_t n, char *why, size_t cap) {
  PGresult *res = PQexec(h->conn, copy_sql);
  int rc = check(h, res, "could not stage the records", why, cap);
  if (rc != TG__HQ_OK)
    return rc;
  PQclear(res);
  const size_t chunk = 256 * 1024;
  int ok = 1;
  for (size_t at = 0; ok && at < n; at += chunk)
    ok = PQputCopyData(h->conn, rows + at, (int)(n - at < chunk ? n - at : chunk)) == 1;
  if (PQputCopyEnd(h->conn, ok ? NULL : "the upload could not be sent") != 1)
    ok = 0;
  res = PQgetResult(h->conn);
  rc = check(h, res, "could not stage the records", why, cap);
  if (rc == TG__HQ_OK)
    PQclear(res);
  while ((res = PQgetResult(h->conn)) != NULL)
    PQclear(res);
  if (rc == TG__HQ_OK && !ok) {
    first_line(why, cap, "could not stage the records", PQerrorMessage(h->conn));
    rc = TG__HQ_DB;
  }
  return rc;
}

/* Records the Idempotency-Key; TG__HQ_REUSED when it came before with another digest. */
static int idem_check(tg__hq_db *h, const char *const ids[3], const tg__hq_batch *b,
                      const char *key, const char *now, char *why, size_t cap) {
  const char *v[5] = {ids[0], ids[1], key, (const char *)b->digest, now};
  const int len[5] = {0, 0, 0, sizeof b->digest, 0}, fmt[5] = {0, 0, 0, 1, 0};
  PGresult *res =
      PQexecParams(h->conn,
                   "WITH ins AS (INSERT INTO idem(store, terminal, key, digest, received_ms)"
                   " VALUES($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING digest)"
                   " SELECT digest FROM ins UNION ALL"
                   " SELECT digest FROM idem WHERE store = $1 AND terminal = $2 AND key = $3",
                   5, NULL, v, len, fmt, 1);
  int rc = check(h, res, "could not record the Idempotency-Key", why, cap);
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

/* One statement of the ingest whose result is only checked. */
static int run(tg__hq_db *h, const char *sql, int n, const char *const *v, const char *what,
               PGresult **keep, char *why, size_t cap) {
  PGresult *res = PQexecParams(h->conn, sql, n, NULL, v, NULL, NULL, 0);
  int rc = check(h, res, what, why, cap);
  if (rc == TG__HQ_OK && keep != NULL)
    *keep = res;
  else if (rc == TG__HQ_OK)
    PQclear(res);
  return rc;
}

static int hq_ingest(tg__hq_db *h, const tg__hq_batch *b, int64_t now_ms, tg__hq_ack *ack,
                     char *why, size_t cap) {
  const tg__hq_key *k = &b->key;
  char key[96], e[24], now[24], lo[24], hi[24], base_s[24], lim[24];
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
  const char *ids[6] = {k->store,         k->terminal,      i64(e, k->epoch),
                        i64(now, now_ms), i64(lo, k->from), i64(hi, k->to)};
  int rc = ready(h, why, cap);
  if (rc != TG__HQ_OK)
    return rc;
  if (!h->staging) {
    if ((rc = exec(h, staging_sql, "could not make the staging table", why, cap)) != TG__HQ_OK)
      return rc;
    h->staging = 1;
  }
  if ((rc = copy_rows(b, &rows, &n_rows, why, cap)) != TG__HQ_OK)
    return rc;
  if ((rej = malloc(sizeof *rej * (size_t)(b->n > 0 ? b->n : 1))) == NULL) {
    free(rows);
    snprintf(why, cap, "out of memory");
    return TG__HQ_NOMEM;
  }
  if ((rc = exec(h, "BEGIN", "could not start a transaction", why, cap)) != TG__HQ_OK)
    goto fail;
  /* Locks the terminal's row: its uploads are ingested one at a time. */
  const char *touch[3] = {k->store, k->terminal, now};
  if ((rc = run(h, "UPDATE terminal SET last_seen_ms = $3 WHERE store = $1 AND terminal = $2", 3,
                touch, "could not update the terminal", &res, why, cap)) != TG__HQ_OK)
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
  if ((rc = run(h,
                "INSERT INTO mark(store, terminal, epoch, acked_through, updated_ms)"
                " VALUES($1, $2, $3, 0, $4) ON CONFLICT (store, terminal, epoch) DO UPDATE SET"
                " updated_ms = EXCLUDED.updated_ms RETURNING acked_through",
                4, ids, "could not read the mark", &res, why, cap)) != TG__HQ_OK)
    goto fail;
  acked = int_at(res, 0, 0);
  PQclear(res);
  res = NULL;
  if ((rc = copy_in(h, rows, n_rows, why, cap)) != TG__HQ_OK ||
      (rc = run(h, merge_sql, 6, ids, "could not store the records", &res, why, cap)) != TG__HQ_OK)
    goto fail;
  /* conflicts come back in seq order, as the batch's records are */
  for (int i = 0, c = 0; i < b->n; i++) {
    const tg__hq_record *r = &b->records[i];
    while (c < PQntuples(res) && int_at(res, c, 0) < r->seq)
      c++;
    if (r->reject_status != NULL)
      tg__hq_rejected_set(&rej[n_rej++], r->seq, r->reject_status, r->reason);
    else if (c < PQntuples(res) && int_at(res, c, 0) == r->seq)
      tg__hq_rejected_set(&rej[n_rej++], r->seq, "conflict",
                   "this seq was received before with other content; HQ keeps the first");
  }
  PQclear(res);
  res = NULL;
  /* Every seq from..to is held now: the mark crosses the batch if it reaches it. */
  int64_t base = k->from <= acked + 1 && k->to > acked ? k->to : acked;
  const char *iv[5] = {k->store, k->terminal, e, i64(base_s, base), i64(lim, TG__HQ_RUNS_MAX)};
  if ((rc = run(h, islands_sql, 5, iv, "could not read the held records", &res, why, cap)) !=
      TG__HQ_OK)
    goto fail;
  for (n_isl = 0; n_isl < PQntuples(res) && n_isl < TG__HQ_RUNS_MAX; n_isl++) {
    isl[n_isl][0] = int_at(res, n_isl, 0);
    isl[n_isl][1] = int_at(res, n_isl, 1);
  }
  PQclear(res);
  res = NULL;
  out.acked_through = tg__hq_mark_walk(base, isl, n_isl, &out);
  if (out.acked_through != acked) {
    char a[24];
    const char *mv[4] = {k->store, k->terminal, e, i64(a, out.acked_through)};
    if ((rc = run(h,
                  "UPDATE mark SET acked_through = $4"
                  " WHERE store = $1 AND terminal = $2 AND epoch = $3",
                  4, mv, "could not move the mark", NULL, why, cap)) != TG__HQ_OK)
      goto fail;
  }
  if ((rc = exec(h, "COMMIT", "could not commit the upload", why, cap)) != TG__HQ_OK)
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
  rollback(h);
  free(rows);
  free(rej);
  return rc;
}

static int hq_bundle_next(tg__hq_db *h, int64_t *version, char *why, size_t cap) {
  PGresult *res = NULL;
  int rc = ready(h, why, cap);
  if (rc == TG__HQ_OK)
    rc = run(h, "SELECT coalesce(max(version), 0) + 1 FROM bundle", 0, NULL,
             "could not read the bundle versions", &res, why, cap);
  if (rc == TG__HQ_OK) {
    *version = int_at(res, 0, 0);
    PQclear(res);
  }
  return rc;
}

/* Inserts a bundle, inside whatever transaction is open. */
static int bundle_insert(tg__hq_db *h, int64_t version, const char *store, const char *body,
                         size_t n, const char *sig, char *why, size_t cap) {
  char ver[24], now[24];
  if (n > (size_t)TG__SYNC_BUNDLE_MAX) {
    snprintf(why, cap, "the bundle is over %d bytes", TG__SYNC_BUNDLE_MAX);
    return TG__HQ_BAD;
  }
  const char *v[5] = {i64(ver, version), store, n > 0 ? body : "", sig, i64(now, tg__hq_now_ms())};
  const int len[5] = {0, 0, (int)n, 0, 0}, fmt[5] = {0, 0, 1, 0, 0};
  int rc;
  PGresult *res = PQexecParams(h->conn,
                               "INSERT INTO bundle(version, store, body, signature, published_ms)"
                               " VALUES($1, $2, $3, $4, $5)",
                               5, NULL, v, len, fmt, 0);
  if (sqlstate_is(res, "23505")) { /* unique_violation */
    PQclear(res);
    snprintf(why, cap, "bundle version %lld is already published", (long long)version);
    return TG__HQ_REUSED;
  }
  if ((rc = check(h, res, "could not store the bundle", why, cap)) == TG__HQ_OK)
    PQclear(res);
  return rc;
}

static int hq_bundle_put(tg__hq_db *h, int64_t version, const char *store, const char *body,
                         size_t n, const char *sig, char *why, size_t cap) {
  int rc = ready(h, why, cap);
  return rc == TG__HQ_OK ? bundle_insert(h, version, store, body, n, sig, why, cap) : rc;
}

static int hq_bundle_get(tg__hq_db *h, const char *store, int64_t *version, char **body, size_t *n,
                         char sig[TG__BUNDLE_SIG_TEXT], char *why, size_t cap) {
  const char *v[1] = {store};
  *body = NULL;
  *n = 0;
  int rc = ready(h, why, cap);
  if (rc != TG__HQ_OK)
    return rc;
  PGresult *res = PQexecParams(h->conn,
                               "SELECT version::text, body, signature FROM bundle"
                               " WHERE store IN ($1, '*') ORDER BY version DESC LIMIT 1",
                               1, NULL, v, NULL, NULL, 1);
  if ((rc = check(h, res, "could not read the bundle", why, cap)) != TG__HQ_OK)
    return rc;
  if (PQntuples(res) == 0) {
    snprintf(why, cap, "no bundle is published for store %s", store);
    rc = TG__HQ_NOTFOUND;
  } else if (PQgetlength(res, 0, 2) >= TG__BUNDLE_SIG_TEXT) {
    snprintf(why, cap, "the stored bundle signature is damaged");
    rc = TG__HQ_DB;
  } else {
    size_t len = (size_t)PQgetlength(res, 0, 1);
    char *z = malloc(len + 1);
    if (z == NULL) {
      snprintf(why, cap, "out of memory");
      rc = TG__HQ_NOMEM;
    } else {
      memcpy(z, PQgetvalue(res, 0, 1), len);
      z[len] = '\0';
      memcpy(sig, PQgetvalue(res, 0, 2), (size_t)PQgetlength(res, 0, 2) + 1);
      *version = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
      *body = z;
      *n = len;
    }
  }
  PQclear(res);
  return rc;
}

static int hq_terminals(tg__hq_db *h, void (*fn)(void *ctx, const tg__hq_terminal *t), void *ctx,
                        char *why, size_t cap) {
  PGresult *res = NULL;
  int rc = ready(h, why, cap);
  if (rc == TG__HQ_OK)
    rc = run(h, terminals_sql, 0, NULL, "could not list the terminals", &res, why, cap);
  if (rc != TG__HQ_OK)
    return rc;
  for (int i = 0; i < PQntuples(res); i++) {
    tg__hq_terminal t;
    memset(&t, 0, sizeof t);
    snprintf(t.store, sizeof t.store, "%s", PQgetvalue(res, i, 0));
    snprintf(t.terminal, sizeof t.terminal, "%s", PQgetvalue(res, i, 1));
    t.enabled = int_at(res, i, 2) != 0;
    t.enrolled_ms = int_at(res, i, 3);
    t.last_seen_ms = int_at(res, i, 4);
    t.epoch = int_at(res, i, 5);
    t.acked_through = int_at(res, i, 6);
    t.held = int_at(res, i, 7);
    t.dead_letters = int_at(res, i, 8);
    fn(ctx, &t);
  }
  PQclear(res);
  return TG__HQ_OK;
}

/* Streams the rows one at a time (libpq's single-row mode), so a month of records is never in memory at once. */
static int hq_records(tg__hq_db *h, int64_t from_ms, int64_t to_ms,
                      void (*fn)(void *ctx, const tg__hq_stored *r), void *ctx, char *why,
                      size_t cap) {
  char lo[24], hi[24];
  const char *v[2] = {i64(lo, from_ms), i64(hi, to_ms)};
  int rc = ready(h, why, cap);
  if (rc != TG__HQ_OK)
    return rc;
  if (!PQsendQueryParams(h->conn, records_sql, 2, NULL, v, NULL, NULL, 0) ||
      !PQsetSingleRowMode(h->conn))
    return check(h, NULL, "could not read the records", why, cap);
  PGresult *res;
  while ((res = PQgetResult(h->conn)) != NULL) {
    if (rc == TG__HQ_OK && PQresultStatus(res) == PGRES_SINGLE_TUPLE) {
      tg__hq_stored r = {PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2),
                         int_at(res, 0, 3),     int_at(res, 0, 4),     int_at(res, 0, 5),
                         int_at(res, 0, 6),     PQgetvalue(res, 0, 7),
                         (size_t)PQgetlength(res, 0, 7)};
      fn(ctx, &r);
      PQclear(res);
    } else if (rc == TG__HQ_OK) {
      rc = check(h, res, "could not read the records", why, cap); /* frees res on failure */
      if (rc == TG__HQ_OK)
        PQclear(res);
    } else {
      PQclear(res); /* drain what is left after a failure */
    }
  }
  return rc;
}

/* Reads the settlement in columns c.. of row (SETTLEMENT_COLUMNS' order). */
static void settlement_at(const PGresult *res, int row, int c, tg__hq_settlement *s) {
  snprintf(s->rule, sizeof s->rule, "%s", PQgetvalue(res, row, c + 0));
  snprintf(s->store, sizeof s->store, "%s", PQgetvalue(res, row, c + 1));
  snprintf(s->terminal, sizeof s->terminal, "%s", PQgetvalue(res, row, c + 2));
  s->epoch = int_at(res, row, c + 3);
  s->seq = int_at(res, row, c + 4);
  s->campaign = (uint32_t)int_at(res, row, c + 5);
  s->member = int_at(res, row, c + 6);
  s->amount = int_at(res, row, c + 7);
  s->coupon = int_at(res, row, c + 8);
  snprintf(s->token, sizeof s->token, "%s", PQgetvalue(res, row, c + 9));
  s->made_ms = int_at(res, row, c + 10);
  snprintf(s->state, sizeof s->state, "%s", PQgetvalue(res, row, c + 11));
  s->bundle_version = int_at(res, row, c + 12);
}

#define SETTLEMENT_COLUMNS                                                                         \
  "rule, store, terminal, epoch, seq, campaign, member, amount, coupon, token, made_ms, state,"     \
  " bundle_version"

/* Inserts s, or answers the row already there for its rule, source record and campaign. */
static int hq_settle_add(tg__hq_db *h, tg__hq_settlement *s, int *added, char *why, size_t cap) {
  char b[8][24];
  const char *v[11] = {s->rule, s->store, s->terminal, i64(b[0], s->epoch), i64(b[1], s->seq),
                       i64(b[2], s->campaign), i64(b[3], s->member), i64(b[4], s->amount),
                       i64(b[5], s->coupon), s->token, i64(b[6], s->made_ms)};
  PGresult *res = NULL;
  *added = 0;
  int rc = ready(h, why, cap);
  if (rc == TG__HQ_OK)
    rc = run(h,
             "WITH n AS (INSERT INTO settlement(rule, store, terminal, epoch, seq, campaign,"
             " member, amount, coupon, token, made_ms, state) VALUES($1, $2, $3, $4, $5, $6,"
             " $7, $8, $9, $10, $11, 'pending-bundle') ON CONFLICT (rule, store, terminal,"
             " epoch, seq, campaign) DO NOTHING RETURNING " SETTLEMENT_COLUMNS ")"
             " SELECT 1, " SETTLEMENT_COLUMNS " FROM n UNION ALL SELECT 0, " SETTLEMENT_COLUMNS
             " FROM settlement WHERE rule = $1 AND store = $2 AND terminal = $3 AND epoch = $4"
             " AND seq = $5 AND campaign = $6",
             11, v, "could not store the settlement", &res, why, cap);
  if (rc != TG__HQ_OK)
    return rc;
  if (PQntuples(res) < 1) {
    snprintf(why, cap, "the settlement was neither stored nor found");
    rc = TG__HQ_DB;
  } else {
    /* the inserted row is not yet visible to the second SELECT: one row either way */
    *added = int_at(res, 0, 0) == 1;
    settlement_at(res, 0, 1, s);
  }
  PQclear(res);
  return rc;
}

static int hq_settle_pending(tg__hq_db *h, const char *store, int max,
                             void (*fn)(void *ctx, const tg__hq_settlement *s), void *ctx,
                             char *why, size_t cap) {
  char lim[24];
  const char *v[2] = {store, i64(lim, max)};
  PGresult *res = NULL;
  int rc = ready(h, why, cap);
  if (rc == TG__HQ_OK)
    rc = run(h,
             "SELECT " SETTLEMENT_COLUMNS " FROM settlement WHERE state = 'pending-bundle'"
             " AND ($1 = '*' OR store = $1) ORDER BY made_ms, coupon LIMIT $2",
             2, v, "could not read the pending settlements", &res, why, cap);
  if (rc != TG__HQ_OK)
    return rc;
  for (int i = 0; i < PQntuples(res); i++) {
    tg__hq_settlement s;
    memset(&s, 0, sizeof s);
    settlement_at(res, i, 0, &s);
    fn(ctx, &s);
  }
  PQclear(res);
  return TG__HQ_OK;
}

static int hq_bundle_put_settled(tg__hq_db *h, int64_t version, const char *store,
                                 const char *body, size_t n, const char *sig,
                                 const int64_t *coupons, int n_coupons, char *why, size_t cap) {
  char ver[24], *ids = malloc((size_t)n_coupons * 21 + 3); /* "{1,2,...}" */
  size_t at = 0;
  if (ids == NULL) {
    snprintf(why, cap, "out of memory");
    return TG__HQ_NOMEM;
  }
  ids[at++] = '{';
  for (int i = 0; i < n_coupons; i++)
    at += (size_t)snprintf(ids + at, 22, "%s%lld", i > 0 ? "," : "", (long long)coupons[i]);
  ids[at++] = '}';
  ids[at] = '\0';
  const char *v[2] = {ids, i64(ver, version)};
  int rc = ready(h, why, cap);
  if (rc == TG__HQ_OK)
    rc = exec(h, "BEGIN", "could not start a transaction", why, cap);
  if (rc == TG__HQ_OK)
    rc = bundle_insert(h, version, store, body, n, sig, why, cap);
  if (rc == TG__HQ_OK && n_coupons > 0)
    rc = run(h,
             "UPDATE settlement SET state = 'published', bundle_version = $2"
             " WHERE coupon = ANY($1::bigint[]) AND state = 'pending-bundle'",
             2, v, "could not mark the settlements published", NULL, why, cap);
  if (rc == TG__HQ_OK)
    rc = exec(h, "COMMIT", "could not commit the bundle", why, cap);
  if (rc != TG__HQ_OK)
    rollback(h);
  free(ids);
  return rc;
}

/* The PostgreSQL back end (hq.h): one libpq connection per tg__hq_db. */
const tg__hq_backend tg__hq_postgres = {
    .name = "postgresql",
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
    .settle_add = hq_settle_add,
    .settle_pending = hq_settle_pending,
    .bundle_put_settled = hq_bundle_put_settled,
};
