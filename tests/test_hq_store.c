/* HQ's storage back ends: the same cases against SQLite, or PostgreSQL when TG_TEST_PG names one. */
#include <libpq-fe.h>
#include <pthread.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"
#include "hq.h"

typedef struct {
  const tg__hq_backend *be;
  int pg;
} variant;

static const variant v_sqlite = {&tg__hq_sqlite, 0}, v_pg = {&tg__hq_postgres, 1};

typedef struct {
  const variant *v;
  const tg__hq_backend *be;
  tg__hq_db *db;
  char spec[1024];
  char *dir;       /* SQLite: the folder of the database */
  char dbname[64]; /* PostgreSQL: the scratch database, dropped at teardown */
  char why[TG__HQ_WHY_MAX];
} fixture;

/* ----- Direct access to the database, to check what a back end stored ----- */

/* The first column of sql's first row (malloc'd) through a connection of its own, or NULL. */
static char *query1(const fixture *fx, const char *sql) {
  char *out = NULL;
  if (fx->v->pg) {
    PGconn *c = PQconnectdb(fx->spec);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PGresult *res = PQexec(c, sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK && PQresultStatus(res) != PGRES_COMMAND_OK)
      fail_msg("%s: %s", sql, PQresultErrorMessage(res));
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0 && !PQgetisnull(res, 0, 0))
      out = strdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    PQfinish(c);
    return out;
  }
  sqlite3 *db;
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_open_v2(fx->spec + 7, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
    fail_msg("%s: %s", sql, sqlite3_errmsg(db));
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
    out = strdup((const char *)sqlite3_column_text(st, 0));
  else if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    fail_msg("%s: %s", sql, sqlite3_errmsg(db));
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

static int64_t count(const fixture *fx, const char *table) {
  char sql[128];
  snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
  char *z = query1(fx, sql);
  assert_non_null(z);
  int64_t n = strtoll(z, NULL, 10);
  free(z);
  return n;
}

/* ----- Fixtures: a fresh database per case ----- */

static void quiet(void *arg, const char *message) {
  (void)arg;
  (void)message; /* "database ... does not exist, skipping" */
}

static int pg_admin(const char *sql) {
  PGconn *c = PQconnectdb(getenv("TG_TEST_PG"));
  int ok = PQstatus(c) == CONNECTION_OK;
  PQsetNoticeProcessor(c, quiet, NULL);
  if (!ok)
    print_error("TG_TEST_PG: %s", PQerrorMessage(c));
  PGresult *res = ok ? PQexec(c, sql) : NULL;
  if (ok && PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK) {
    print_error("%s: %s", sql, PQresultErrorMessage(res));
    ok = 0;
  }
  PQclear(res);
  PQfinish(c);
  return ok ? 0 : -1;
}

/* Makes fx->spec name an empty database (file or PostgreSQL database). */
static void fresh_spec(fixture *fx) {
  if (!fx->v->pg) {
    static int n;
    snprintf(fx->spec, sizeof fx->spec, "sqlite:%s/hq%d.db", fx->dir, ++n);
    return;
  }
  static int n;
  char sql[128];
  const char *base = getenv("TG_TEST_PG");
  if (fx->dbname[0] != '\0') {
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", fx->dbname);
    assert_int_equal(pg_admin(sql), 0);
  }
  snprintf(fx->dbname, sizeof fx->dbname, "tghq_test_%d_%d", (int)getpid(), ++n);
  snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", fx->dbname);
  assert_int_equal(pg_admin(sql), 0);
  snprintf(sql, sizeof sql, "CREATE DATABASE %s", fx->dbname);
  assert_int_equal(pg_admin(sql), 0);
  snprintf(fx->spec, sizeof fx->spec, "%s%sdbname=%s", base, strchr(base, '?') ? "&" : "?",
           fx->dbname);
}

static int setup(void **state) {
  fixture *fx = calloc(1, sizeof *fx);
  assert_non_null(fx);
  fx->v = *state;
  fx->be = fx->v->be;
  *state = fx;
  if (!fx->v->pg)
    fx->dir = tt_tmpdir();
  fresh_spec(fx);
  if (fx->be->open(fx->spec, &fx->db, fx->why, sizeof fx->why) != TG__HQ_OK)
    fail_msg("open %s: %s", fx->be->name, fx->why);
  return 0;
}

static int teardown(void **state) {
  fixture *fx = *state;
  if (fx->db != NULL)
    fx->be->close(fx->db);
  if (fx->dir != NULL)
    tt_rmtree(fx->dir);
  if (fx->dbname[0] != '\0') {
    char sql[128];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", fx->dbname);
    pg_admin(sql);
  }
  free(fx);
  return 0;
}

#define OK(fx, call)                                                                        \
  do {                                                                                      \
    int ok_rc_ = (call);                                                                    \
    if (ok_rc_ != TG__HQ_OK)                                                                \
      fail_msg("%s: %s returned %d: %s", (fx)->be->name, #call, ok_rc_, (fx)->why);         \
  } while (0)

/* ----- Batches built by hand, as hq_batch.c would parse them ----- */

/* Records from..to of a terminal's epoch; tag changes every body; seq `invalid` is rejected. */
static void batch_make(tg__hq_batch *b, const char *store, const char *terminal, int64_t epoch,
                       int64_t from, int64_t to, const char *tag, int64_t invalid) {
  size_t cap = (size_t)(to - from + 1) * 512, n = 0;
  memset(b, 0, sizeof *b);
  snprintf(b->key.store, sizeof b->key.store, "%s", store);
  snprintf(b->key.terminal, sizeof b->key.terminal, "%s", terminal);
  b->key.epoch = epoch;
  b->key.from = from;
  b->key.to = to;
  b->n = (int)(to - from + 1);
  b->text = malloc(cap);
  b->records = calloc((size_t)b->n, sizeof *b->records);
  assert_non_null(b->text);
  assert_non_null(b->records);
  size_t *at = calloc((size_t)b->n, sizeof *at);
  assert_non_null(at);
  for (int i = 0; i < b->n; i++) {
    tg__hq_record *r = &b->records[i];
    int64_t seq = from + i;
    r->seq = seq;
    at[i] = n;
    /* a tab and a CR between tokens, escapes and UTF-8: COPY must keep every byte */
    int w = snprintf(b->text + n, cap - n,
                     "{\"store\":\"%s\",\"terminal\":\"%s\",\"epoch\":%lld,\"seq\":%lld,"
                     "\"kind\":\"sale\",\"uuid\":\"00000000-0000-4000-8000-%012lld\","
                     "\"time_ms\":%lld,\t\"total\":%lld,\r\"note\":\"%s \\\\ \\\" \\t "
                     "\xe6\x94\xb6\xe6\x8d\xae\"}",
                     store, terminal, (long long)epoch, (long long)seq, (long long)seq,
                     (long long)(1700000000000 + seq), (long long)(seq * 100), tag);
    assert_true(w > 0 && (size_t)w < cap - n - 1);
    r->len = (size_t)w;
    n += (size_t)w;
    b->text[n++] = '\n';
    if (seq == invalid) {
      r->reject_status = "invalid";
      snprintf(r->reason, sizeof r->reason, "total is not an integer\t(\\%s)", tag);
    } else {
      snprintf(r->kind, sizeof r->kind, "sale");
      snprintf(r->uuid, sizeof r->uuid, "00000000-0000-4000-8000-%012llu",
               (unsigned long long)seq % 1000000000000ULL);
      r->time_ms = 1700000000000 + seq;
      r->total = seq * 100;
    }
  }
  for (int i = 0; i < b->n; i++)
    b->records[i].body = b->text + at[i];
  free(at);
  b->n_text = n;
  crypto_generichash(b->digest, sizeof b->digest, (const unsigned char *)b->text, n, NULL, 0);
}

static void batch_done(tg__hq_batch *b) {
  free(b->text);
  free(b->records);
}

static void ack_done(tg__hq_ack *a) { free(a->rejected); }

static void enrol(fixture *fx, const char *store, const char *terminal) {
  unsigned char hash[32], key[32];
  memset(hash, store[1], sizeof hash);
  memset(key, terminal[1], sizeof key);
  OK(fx, fx->be->enrol(fx->db, store, terminal, hash, key, fx->why, sizeof fx->why));
}

/* Ingests records from..to of S1-T1 (epoch 7) and returns acked_through; fills *a if asked. */
static int64_t put(fixture *fx, int64_t from, int64_t to, const char *tag, int64_t invalid,
                   int64_t now, tg__hq_ack *a) {
  tg__hq_batch b;
  tg__hq_ack mine;
  batch_make(&b, "S1", "T1", 7, from, to, tag, invalid);
  OK(fx, fx->be->ingest(fx->db, &b, now, a ? a : &mine, fx->why, sizeof fx->why));
  batch_done(&b);
  int64_t acked = (a ? a : &mine)->acked_through;
  if (a == NULL)
    ack_done(&mine);
  return acked;
}

static void assert_missing(const tg__hq_ack *a, int n, const int64_t (*want)[2]) {
  assert_int_equal(a->n_missing, n);
  for (int i = 0; i < n; i++) {
    assert_int_equal(a->missing[i][0], want[i][0]);
    assert_int_equal(a->missing[i][1], want[i][1]);
  }
}

/* The body stored for seq of S1-T1 epoch 7 (malloc'd), or NULL. */
static char *stored_body(const fixture *fx, const char *table, int64_t seq) {
  char sql[200];
  snprintf(sql, sizeof sql,
           "SELECT body FROM %s WHERE store = 'S1' AND terminal = 'T1' AND epoch = 7 AND seq = %lld",
           table, (long long)seq);
  return query1(fx, sql);
}

/* ----- Terminals listing ----- */

typedef struct {
  tg__hq_terminal t[8];
  int n;
} listing;

static void collect(void *ctx, const tg__hq_terminal *t) {
  listing *l = ctx;
  assert_true(l->n < 8);
  l->t[l->n++] = *t;
}

static listing list(fixture *fx) {
  listing l;
  memset(&l, 0, sizeof l);
  OK(fx, fx->be->terminals(fx->db, collect, &l, fx->why, sizeof fx->why));
  return l;
}

/* ----- Cases ----- */

static void enrol_and_auth(void **state) {
  fixture *fx = *state;
  const tg__hq_backend *be = fx->be;
  unsigned char h1[32], h2[32], k[32], got[32], pk[32], sk[64], pk2[32], sk2[64], derived[32];
  int enabled = -1;
  memset(h1, 0xa1, sizeof h1);
  memset(h2, 0xb2, sizeof h2);
  memset(k, 0x33, sizeof k);
  OK(fx, be->health(fx->db, fx->why, sizeof fx->why));
  assert_int_equal(be->auth_get(fx->db, "S1", "T1", got, &enabled, fx->why, sizeof fx->why),
                   TG__HQ_NOTFOUND);
  OK(fx, be->enrol(fx->db, "S1", "T1", h1, k, fx->why, sizeof fx->why));
  OK(fx, be->auth_get(fx->db, "S1", "T1", got, &enabled, fx->why, sizeof fx->why));
  assert_memory_equal(got, h1, 32);
  assert_int_equal(enabled, 1);
  OK(fx, be->set_enabled(fx->db, "S1", "T1", 0, fx->why, sizeof fx->why));
  OK(fx, be->auth_get(fx->db, "S1", "T1", got, &enabled, fx->why, sizeof fx->why));
  assert_int_equal(enabled, 0);
  assert_int_equal(be->set_enabled(fx->db, "S9", "T9", 1, fx->why, sizeof fx->why),
                   TG__HQ_NOTFOUND);
  assert_non_null(strstr(fx->why, "S9-T9"));
  /* re-enrolling replaces the hash and enables the terminal */
  OK(fx, be->enrol(fx->db, "S1", "T1", h2, k, fx->why, sizeof fx->why));
  OK(fx, be->auth_get(fx->db, "S1", "T1", got, &enabled, fx->why, sizeof fx->why));
  assert_memory_equal(got, h2, 32);
  assert_int_equal(enabled, 1);
  assert_int_equal(count(fx, "terminal"), 1);
  /* HQ's key is a real Ed25519 pair, kept across opens */
  OK(fx, be->signing_key(fx->db, pk, sk, fx->why, sizeof fx->why));
  crypto_sign_ed25519_sk_to_pk(derived, sk);
  assert_memory_equal(derived, pk, 32);
  be->close(fx->db);
  fx->db = NULL;
  OK(fx, be->open(fx->spec, &fx->db, fx->why, sizeof fx->why));
  OK(fx, be->signing_key(fx->db, pk2, sk2, fx->why, sizeof fx->why));
  assert_memory_equal(pk, pk2, 32);
  assert_memory_equal(sk, sk2, 64);
  OK(fx, be->auth_get(fx->db, "S1", "T1", got, &enabled, fx->why, sizeof fx->why));
  assert_memory_equal(got, h2, 32);
}

static void ingest_in_order(void **state) {
  fixture *fx = *state;
  tg__hq_ack a;
  tg__hq_batch b;
  enrol(fx, "S1", "T1");
  assert_int_equal(put(fx, 1, 3, "a", 0, 1000, &a), 3);
  assert_int_equal(a.n_rejected, 0);
  assert_null(a.rejected);
  assert_int_equal(a.n_missing, 0);
  ack_done(&a);
  assert_int_equal(put(fx, 4, 6, "a", 0, 2000, &a), 6);
  assert_int_equal(a.n_rejected + a.n_missing, 0);
  ack_done(&a);
  assert_int_equal(count(fx, "record"), 6);
  assert_int_equal(count(fx, "dead_letter"), 0);
  /* stored byte for byte: tab, CR, backslashes and UTF-8 included */
  batch_make(&b, "S1", "T1", 7, 4, 6, "a", 0);
  char *z = stored_body(fx, "record", 5);
  assert_non_null(z);
  assert_int_equal(strlen(z), b.records[1].len);
  assert_memory_equal(z, b.records[1].body, b.records[1].len);
  free(z);
  batch_done(&b);
  z = query1(fx, "SELECT kind || ' ' || uuid || ' ' || time_ms || ' ' || total FROM record"
                 " WHERE seq = 5");
  assert_string_equal(z, "sale 00000000-0000-4000-8000-000000000005 1700000000005 500");
  free(z);
  listing l = list(fx);
  assert_int_equal(l.n, 1);
  assert_int_equal(l.t[0].last_seen_ms, 2000);
  assert_int_equal(l.t[0].acked_through, 6);
  assert_int_equal(l.t[0].held, 0);
}

static void same_batch_twice(void **state) {
  fixture *fx = *state;
  tg__hq_ack a1, a2;
  enrol(fx, "S1", "T1");
  assert_int_equal(put(fx, 1, 4, "a", 3, 1000, &a1), 4);
  assert_int_equal(put(fx, 1, 4, "a", 3, 2000, &a2), 4);
  assert_int_equal(a1.n_rejected, 1);
  assert_int_equal(a2.n_rejected, 1);
  assert_int_equal(a1.rejected[0].seq, a2.rejected[0].seq);
  assert_string_equal(a1.rejected[0].status, a2.rejected[0].status);
  assert_string_equal(a1.rejected[0].reason, a2.rejected[0].reason);
  assert_int_equal(a1.n_missing + a2.n_missing, 0);
  ack_done(&a1);
  ack_done(&a2);
  assert_int_equal(count(fx, "record"), 3);
  assert_int_equal(count(fx, "dead_letter"), 1);
  assert_int_equal(count(fx, "idem"), 1);
}

static void same_key_other_body(void **state) {
  fixture *fx = *state;
  tg__hq_ack a;
  tg__hq_batch b;
  enrol(fx, "S1", "T1");
  assert_int_equal(put(fx, 1, 3, "a", 0, 1000, NULL), 3);
  batch_make(&b, "S1", "T1", 7, 1, 3, "b", 2);
  assert_int_equal(fx->be->ingest(fx->db, &b, 5000, &a, fx->why, sizeof fx->why),
                   TG__HQ_REUSED);
  assert_null(a.rejected);
  assert_non_null(strstr(fx->why, "S1-T1:7:1-3"));
  batch_done(&b);
  /* nothing stored, not even the time it was seen */
  assert_int_equal(count(fx, "record"), 3);
  assert_int_equal(count(fx, "dead_letter"), 0);
  char *z = stored_body(fx, "record", 2);
  assert_non_null(strstr(z, "\"note\":\"a "));
  free(z);
  listing l = list(fx);
  assert_int_equal(l.t[0].last_seen_ms, 1000);
  /* the connection is usable afterwards */
  assert_int_equal(put(fx, 4, 4, "a", 0, 6000, NULL), 4);
}

static void gap_is_held(void **state) {
  fixture *fx = *state;
  tg__hq_ack a;
  enrol(fx, "S1", "T1");
  assert_int_equal(put(fx, 4, 6, "a", 0, 1000, &a), 0);
  assert_missing(&a, 1, (const int64_t[][2]){{1, 3}});
  ack_done(&a);
  listing l = list(fx);
  assert_int_equal(l.t[0].held, 3);
  assert_int_equal(put(fx, 8, 9, "a", 0, 2000, &a), 0);
  assert_missing(&a, 2, (const int64_t[][2]){{1, 3}, {7, 7}});
  ack_done(&a);
  assert_int_equal(put(fx, 1, 3, "a", 0, 3000, &a), 6);
  assert_missing(&a, 1, (const int64_t[][2]){{7, 7}});
  ack_done(&a);
  assert_int_equal(put(fx, 7, 7, "a", 0, 4000, &a), 9);
  assert_int_equal(a.n_missing, 0);
  ack_done(&a);
  l = list(fx);
  assert_int_equal(l.t[0].acked_through, 9);
  assert_int_equal(l.t[0].held, 0);
  assert_int_equal(count(fx, "record"), 9);
}

static void missing_is_capped(void **state) {
  fixture *fx = *state;
  tg__hq_ack a;
  enrol(fx, "S1", "T1");
  for (int64_t s = 2; s <= 2 * (TG__SYNC_MISSING_MAX + 6); s += 2)
    assert_int_equal(put(fx, s, s, "a", 0, 1000, NULL), 0);
  assert_int_equal(put(fx, 1, 1, "a", 0, 2000, &a), 2);
  assert_int_equal(a.n_missing, TG__SYNC_MISSING_MAX);
  assert_int_equal(a.missing[0][0], 3);
  assert_int_equal(a.missing[TG__SYNC_MISSING_MAX - 1][0], 2 * TG__SYNC_MISSING_MAX + 1);
  ack_done(&a);
}

static void conflicting_body(void **state) {
  fixture *fx = *state;
  tg__hq_ack a, again;
  enrol(fx, "S1", "T1");
  assert_int_equal(put(fx, 1, 3, "a", 0, 1000, NULL), 3);
  assert_int_equal(put(fx, 2, 4, "b", 0, 2000, &a), 4);
  assert_int_equal(a.n_rejected, 2);
  assert_int_equal(a.rejected[0].seq, 2);
  assert_int_equal(a.rejected[1].seq, 3);
  assert_string_equal(a.rejected[0].status, "conflict");
  assert_true(strlen(a.rejected[0].reason) > 0);
  assert_int_equal(put(fx, 2, 4, "b", 0, 3000, &again), 4);
  assert_int_equal(again.n_rejected, 2);
  assert_int_equal(again.rejected[1].seq, 3);
  ack_done(&a);
  ack_done(&again);
  char *z = stored_body(fx, "record", 2);
  assert_non_null(strstr(z, "\"note\":\"a "));
  free(z);
  z = stored_body(fx, "record", 4);
  assert_non_null(strstr(z, "\"note\":\"b "));
  free(z);
  assert_int_equal(count(fx, "record"), 4);
  assert_int_equal(count(fx, "dead_letter"), 0);
}

static void invalid_is_dead_lettered(void **state) {
  fixture *fx = *state;
  tg__hq_ack a;
  enrol(fx, "S1", "T1");
  assert_int_equal(put(fx, 1, 3, "a", 2, 1000, &a), 3);
  assert_int_equal(a.n_rejected, 1);
  assert_int_equal(a.rejected[0].seq, 2);
  assert_string_equal(a.rejected[0].status, "invalid");
  assert_string_equal(a.rejected[0].reason, "total is not an integer\t(\\a)");
  ack_done(&a);
  assert_int_equal(count(fx, "record"), 2);
  assert_int_equal(count(fx, "dead_letter"), 1);
  char *z = query1(fx, "SELECT status || '|' || reason FROM dead_letter WHERE seq = 2");
  assert_string_equal(z, "invalid|total is not an integer\t(\\a)");
  free(z);
  z = stored_body(fx, "dead_letter", 2);
  assert_non_null(strstr(z, "\"seq\":2,"));
  free(z);
  /* a dead letter above a gap is held like a record, and the mark walks over it */
  assert_int_equal(put(fx, 5, 5, "a", 5, 2000, &a), 3);
  assert_missing(&a, 1, (const int64_t[][2]){{4, 4}});
  ack_done(&a);
  assert_int_equal(put(fx, 4, 4, "a", 0, 3000, &a), 5);
  assert_int_equal(a.n_rejected, 0);
  ack_done(&a);
  listing l = list(fx);
  assert_int_equal(l.t[0].dead_letters, 2);
  assert_int_equal(l.t[0].acked_through, 5);
}

static void unknown_terminal(void **state) {
  fixture *fx = *state;
  tg__hq_ack a;
  tg__hq_batch b;
  batch_make(&b, "S1", "T1", 7, 1, 2, "a", 0);
  assert_int_equal(fx->be->ingest(fx->db, &b, 1000, &a, fx->why, sizeof fx->why),
                   TG__HQ_NOTFOUND);
  batch_done(&b);
  assert_int_equal(count(fx, "record"), 0);
  assert_int_equal(count(fx, "idem"), 0);
  assert_int_equal(count(fx, "mark"), 0);
}

static void bundles(void **state) {
  fixture *fx = *state;
  const tg__hq_backend *be = fx->be;
  int64_t v = 0;
  char *body = NULL, sig[TG__BUNDLE_SIG_TEXT];
  size_t n = 0;
  const char all[] = "{\"all\":1}", own[] = "{\"own\":\"\\u00e9\"}\0tail";
  assert_int_equal(be->bundle_get(fx->db, "S1", &v, &body, &n, sig, fx->why, sizeof fx->why),
                   TG__HQ_NOTFOUND);
  assert_null(body);
  OK(fx, be->bundle_next(fx->db, &v, fx->why, sizeof fx->why));
  assert_int_equal(v, 1);
  OK(fx, be->bundle_put(fx->db, 1, "*", all, strlen(all), "sig-one", fx->why, sizeof fx->why));
  OK(fx, be->bundle_put(fx->db, 2, "S2", all, strlen(all), "sig-two", fx->why, sizeof fx->why));
  OK(fx, be->bundle_get(fx->db, "S1", &v, &body, &n, sig, fx->why, sizeof fx->why));
  assert_int_equal(v, 1); /* S2's own bundle is not S1's */
  assert_string_equal(sig, "sig-one");
  assert_int_equal(n, strlen(all));
  assert_memory_equal(body, all, n);
  free(body);
  OK(fx, be->bundle_put(fx->db, 3, "S1", own, sizeof own - 1, "sig-three", fx->why,
                        sizeof fx->why));
  OK(fx, be->bundle_get(fx->db, "S1", &v, &body, &n, sig, fx->why, sizeof fx->why));
  assert_int_equal(v, 3);
  assert_int_equal(n, sizeof own - 1); /* every byte, the NUL inside too */
  assert_memory_equal(body, own, n);
  assert_int_equal(body[n], '\0');
  free(body);
  OK(fx, be->bundle_get(fx->db, "S2", &v, &body, &n, sig, fx->why, sizeof fx->why));
  assert_int_equal(v, 2);
  free(body);
  assert_int_equal(be->bundle_put(fx->db, 3, "*", all, strlen(all), "x", fx->why,
                                  sizeof fx->why),
                   TG__HQ_REUSED);
  OK(fx, be->bundle_next(fx->db, &v, fx->why, sizeof fx->why));
  assert_int_equal(v, 4);
  OK(fx, be->bundle_put(fx->db, 4, "*", all, strlen(all), "sig-four", fx->why, sizeof fx->why));
  OK(fx, be->bundle_get(fx->db, "S1", &v, &body, &n, sig, fx->why, sizeof fx->why));
  assert_int_equal(v, 4); /* a newer all-stores bundle wins over the store's own */
  assert_string_equal(sig, "sig-four");
  free(body);
}

static void terminals_listing(void **state) {
  fixture *fx = *state;
  tg__hq_batch b;
  tg__hq_ack a;
  enrol(fx, "S2", "T1");
  enrol(fx, "S1", "T2");
  enrol(fx, "S1", "T1");
  OK(fx, fx->be->set_enabled(fx->db, "S1", "T2", 0, fx->why, sizeof fx->why));
  assert_int_equal(put(fx, 1, 2, "a", 2, 1000, NULL), 2);
  assert_int_equal(put(fx, 5, 7, "a", 0, 2000, NULL), 2);
  batch_make(&b, "S2", "T1", 9, 1, 1, "a", 0);
  OK(fx, fx->be->ingest(fx->db, &b, 3000, &a, fx->why, sizeof fx->why));
  ack_done(&a);
  batch_done(&b);
  listing l = list(fx);
  assert_int_equal(l.n, 3);
  assert_string_equal(l.t[0].store, "S1");
  assert_string_equal(l.t[0].terminal, "T1");
  assert_int_equal(l.t[0].enabled, 1);
  assert_true(l.t[0].enrolled_ms > 1600000000000);
  assert_int_equal(l.t[0].last_seen_ms, 2000);
  assert_int_equal(l.t[0].epoch, 7);
  assert_int_equal(l.t[0].acked_through, 2);
  assert_int_equal(l.t[0].held, 3);
  assert_int_equal(l.t[0].dead_letters, 1);
  assert_string_equal(l.t[1].terminal, "T2");
  assert_int_equal(l.t[1].enabled, 0);
  assert_int_equal(l.t[1].epoch, 0);
  assert_int_equal(l.t[1].last_seen_ms, 0);
  assert_int_equal(l.t[1].held + l.t[1].dead_letters + l.t[1].acked_through, 0);
  assert_string_equal(l.t[2].store, "S2");
  assert_int_equal(l.t[2].epoch, 9);
  assert_int_equal(l.t[2].acked_through, 1);
}

static void epochs_are_independent(void **state) {
  fixture *fx = *state;
  tg__hq_batch b;
  tg__hq_ack a;
  enrol(fx, "S1", "T1");
  assert_int_equal(put(fx, 1, 3, "a", 0, 1000, NULL), 3);
  /* a restored terminal starts again at 1 in a new epoch: nothing is a duplicate */
  batch_make(&b, "S1", "T1", 8, 1, 2, "a", 0);
  OK(fx, fx->be->ingest(fx->db, &b, 2000, &a, fx->why, sizeof fx->why));
  assert_int_equal(a.acked_through, 2);
  assert_int_equal(a.n_rejected + a.n_missing, 0);
  ack_done(&a);
  batch_done(&b);
  listing l = list(fx);
  assert_int_equal(l.t[0].epoch, 8);
  assert_int_equal(l.t[0].acked_through, 2);
  /* epoch 7 goes on where it was */
  assert_int_equal(put(fx, 4, 4, "a", 0, 3000, NULL), 4);
  l = list(fx);
  assert_int_equal(l.t[0].epoch, 7);
  assert_int_equal(l.t[0].acked_through, 4);
  assert_int_equal(count(fx, "record"), 6);
  assert_int_equal(count(fx, "mark"), 2);
}

static void refuses_foreign_and_newer(void **state) {
  fixture *fx = *state;
  const tg__hq_backend *be = fx->be;
  tg__hq_db *other = NULL;
  /* a newer schema */
  fx->be->close(fx->db);
  fx->db = NULL;
  free(query1(fx, fx->v->pg ? "UPDATE hq_meta SET version = 99" : "PRAGMA user_version = 99"));
  assert_int_equal(be->open(fx->spec, &other, fx->why, sizeof fx->why), TG__HQ_DB);
  assert_null(other);
  assert_non_null(strstr(fx->why, "99"));
  /* another program's database, left untouched */
  fresh_spec(fx);
  if (!fx->v->pg) {
    sqlite3 *db;
    assert_int_equal(sqlite3_open(fx->spec + 7, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "CREATE TABLE record(x)", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
  } else {
    free(query1(fx, "CREATE TABLE record(x int)"));
  }
  assert_int_equal(be->open(fx->spec, &other, fx->why, sizeof fx->why), TG__HQ_DB);
  assert_non_null(strstr(fx->why, "not"));
  assert_int_equal(count(fx, "record"), 0);
  char *z = query1(fx, fx->v->pg ? "SELECT count(*) FROM pg_tables WHERE tablename = 'mark'"
                                 : "SELECT count(*) FROM sqlite_schema WHERE name = 'mark'");
  assert_string_equal(z, "0");
  free(z);
  /* the fixture reopens a fresh database for teardown's sake */
  fresh_spec(fx);
  OK(fx, be->open(fx->spec, &fx->db, fx->why, sizeof fx->why));
}

/* A database made at schema version 1 (before groups and joins) is brought up to date on
 * open, keeping what it held; groups and joins then work with their limits. */
static void version_1_upgrades_to_joins(void **state) {
  fixture *fx = *state;
  enrol(fx, "S1", "T1");
  fx->be->close(fx->db);
  fx->db = NULL;
  tt_hq_schema_v1(fx->spec);
  OK(fx, fx->be->open(fx->spec, &fx->db, fx->why, sizeof fx->why));
  char *z = query1(fx, fx->v->pg ? "SELECT version FROM hq_meta" : "PRAGMA user_version");
  assert_string_equal(z, "4");
  free(z);
  assert_int_equal(count(fx, "terminal"), 1);
  tg__hq_terminal_ref ref;
  OK(fx, fx->be->terminal_get(fx->db, "S1", "T1", &ref, fx->why, sizeof fx->why));
  assert_true(ref.enabled);
  assert_int_equal(fx->be->terminal_get(fx->db, "S1", "T9", &ref, fx->why, sizeof fx->why),
                   TG__HQ_NOTFOUND);
  tg__hq_group g = {.store = "S1", .name = "G", .platform = "wecom",
                    .link = "https://example.com/g", .capacity = 2};
  int64_t id = 0;
  OK(fx, fx->be->group_add(fx->db, &g, &id, fx->why, sizeof fx->why));
  tg__hq_join_in in = {.store = "S1", .terminal = "T1", .receipt_no = 7, .issued_ms = 1000,
                       .staff = "G07", .client = "c1", .limit = 2, .now_ms = 5000,
                       .coupon = "", .coupon_id = 0};
  tg__hq_join_out out;
  OK(fx, fx->be->join(fx->db, &in, &out, fx->why, sizeof fx->why));
  assert_int_equal(out.again, 0);
  assert_int_equal(out.slot, 1);
  assert_int_equal(out.group.id, id);
  tg__hq_join_out_free(&out);
  OK(fx, fx->be->join(fx->db, &in, &out, fx->why, sizeof fx->why)); /* the same client: again */
  assert_int_equal(out.again, 1);
  tg__hq_join_out_free(&out);
  snprintf(in.client, sizeof in.client, "c2");
  OK(fx, fx->be->join(fx->db, &in, &out, fx->why, sizeof fx->why));
  assert_int_equal(out.slot, 2);
  tg__hq_join_out_free(&out);
  snprintf(in.client, sizeof in.client, "c3");
  assert_int_equal(fx->be->join(fx->db, &in, &out, fx->why, sizeof fx->why), TG__HQ_GONE);
  in.receipt_no = 8;
  assert_int_equal(fx->be->join(fx->db, &in, &out, fx->why, sizeof fx->why), TG__HQ_FULL);
  assert_int_equal(count(fx, "group_join"), 2);
  OK(fx, fx->be->group_disable(fx->db, id, fx->why, sizeof fx->why));
  assert_int_equal(fx->be->group_disable(fx->db, id + 100, fx->why, sizeof fx->why),
                   TG__HQ_NOTFOUND);
}

typedef struct {
  const fixture *fx;
  tg__hq_db *db;
  int rc;
  char why[TG__HQ_WHY_MAX];
} opener;

static void *open_one(void *arg) {
  opener *o = arg;
  o->rc = o->fx->be->open(o->fx->spec, &o->db, o->why, sizeof o->why);
  return NULL;
}

static void first_open_races(void **state) {
  fixture *fx = *state;
  opener o[4];
  pthread_t th[4];
  fx->be->close(fx->db);
  fx->db = NULL;
  fresh_spec(fx);
  for (int i = 0; i < 4; i++) {
    memset(&o[i], 0, sizeof o[i]);
    o[i].fx = fx;
    assert_int_equal(pthread_create(&th[i], NULL, open_one, &o[i]), 0);
  }
  for (int i = 0; i < 4; i++)
    assert_int_equal(pthread_join(th[i], NULL), 0);
  unsigned char pk[4][32], sk[64];
  for (int i = 0; i < 4; i++) {
    if (o[i].rc != TG__HQ_OK)
      fail_msg("opener %d: %s", i, o[i].why);
    OK(fx, fx->be->signing_key(o[i].db, pk[i], sk, fx->why, sizeof fx->why));
    assert_memory_equal(pk[i], pk[0], 32);
    fx->be->close(o[i].db);
  }
  assert_int_equal(count(fx, "hq_key"), 1);
  OK(fx, fx->be->open(fx->spec, &fx->db, fx->why, sizeof fx->why));
}

static void pg_reconnects(void **state) {
  fixture *fx = *state;
  char sql[200];
  enrol(fx, "S1", "T1");
  assert_int_equal(put(fx, 1, 2, "a", 0, 1000, NULL), 2);
  /* as if PostgreSQL restarted: the session and its staging table are gone */
  snprintf(sql, sizeof sql,
           "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '%s'",
           fx->dbname);
  assert_int_equal(pg_admin(sql), 0);
  int rc = fx->be->health(fx->db, fx->why, sizeof fx->why);
  assert_true(rc == TG__HQ_OK || rc == TG__HQ_DB); /* the loss shows on first use */
  OK(fx, fx->be->health(fx->db, fx->why, sizeof fx->why));
  assert_int_equal(put(fx, 3, 4, "a", 0, 2000, NULL), 4);
  assert_int_equal(count(fx, "record"), 4);
}

static void sqlite_file_settings(void **state) {
  fixture *fx = *state;
  struct stat sb;
  char side[1100], spec[1200];
  enrol(fx, "S1", "T1");
  assert_int_equal(stat(fx->spec + 7, &sb), 0);
  assert_int_equal(sb.st_mode & 0777, 0600);
  snprintf(side, sizeof side, "%s-wal", fx->spec + 7);
  assert_int_equal(stat(side, &sb), 0);
  assert_int_equal(sb.st_mode & 0777, 0600);
  char *z = query1(fx, "PRAGMA journal_mode");
  assert_string_equal(z, "wal");
  free(z);
  z = query1(fx, "PRAGMA application_id");
  assert_string_equal(z, "1413957681"); /* 'TGH1' */
  free(z);
  z = query1(fx, "PRAGMA user_version");
  assert_string_equal(z, "4");
  free(z);
  /* a file that is not SQLite is refused unchanged */
  tg__hq_db *other = NULL;
  snprintf(side, sizeof side, "%s/notes.txt", fx->dir);
  FILE *f = fopen(side, "w");
  assert_non_null(f);
  fputs("not a database, but long enough to look like one to nobody at all.\n", f);
  fclose(f);
  snprintf(spec, sizeof spec, "sqlite:%s", side);
  assert_int_equal(fx->be->open(spec, &other, fx->why, sizeof fx->why), TG__HQ_DB);
  assert_null(other);
}

static void pg_password_never_shown(void **state) {
  (void)state;
  static const char *const specs[] = {
      "postgresql://hq:Pw0rdXYZ@127.0.0.1:1/hq?connect_timeout=2",
      "postgresql://hq:Pw0rdXYZ@127.0.0.1:notaport/hq",
      "postgresql://127.0.0.1:1/hq?password=Pw0rdXYZ&connect_timeout=2",
      "postgresql://127.0.0.1/hq?password=Pw0rdXYZ&nosuchoption=1",
  };
  for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
    tg__hq_db *db = NULL;
    char why[TG__HQ_WHY_MAX];
    assert_int_equal(tg__hq_postgres.open(specs[i], &db, why, sizeof why), TG__HQ_DB);
    assert_null(db);
    assert_true(strlen(why) > 10);
    assert_null(strchr(why, '\n'));
    if (strstr(why, "Pw0rdXYZ") != NULL)
      fail_msg("the password is in: %s", why);
  }
}

#define CASE(v, f) {#v "_" #f, f, setup, teardown, (void *)&v_##v}
#define CASES(v)                                                                            \
  CASE(v, enrol_and_auth), CASE(v, ingest_in_order), CASE(v, same_batch_twice),            \
      CASE(v, same_key_other_body), CASE(v, gap_is_held), CASE(v, missing_is_capped),       \
      CASE(v, conflicting_body), CASE(v, invalid_is_dead_lettered),                         \
      CASE(v, unknown_terminal), CASE(v, bundles), CASE(v, terminals_listing),              \
      CASE(v, epochs_are_independent), CASE(v, refuses_foreign_and_newer),                  \
      CASE(v, first_open_races), CASE(v, version_1_upgrades_to_joins)

int main(void) {
  const struct CMUnitTest on_sqlite[] = {
      CASES(sqlite),
      CASE(sqlite, sqlite_file_settings),
      cmocka_unit_test(pg_password_never_shown),
  };
  const struct CMUnitTest on_pg[] = {
      CASES(pg),
      CASE(pg, pg_reconnects),
  };
  if (sodium_init() < 0)
    return 1;
  /* tests/run.sh runs this once plainly and once under pg_virtualenv with TG_TEST_PG */
  const char *pg = getenv("TG_TEST_PG");
  if (pg != NULL && pg[0] != '\0')
    return cmocka_run_group_tests(on_pg, NULL, NULL);
  return cmocka_run_group_tests(on_sqlite, NULL, NULL);
}
