/* Shared helpers of the test suites. */
#include "helpers.h"

#include <dirent.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *tt_tmpdir(void) {
  const char *base = getenv("TMPDIR");
  char tmpl[4096];
  snprintf(tmpl, sizeof tmpl, "%s/tillgroup-test-XXXXXX", base ? base : "/tmp");
  char *dir = mkdtemp(tmpl);
  assert_non_null(dir);
  return strdup(dir);
}

void tt_rmtree(char *dir) {
  DIR *d = opendir(dir);
  struct dirent *e;
  char path[4400];
  while (d != NULL && (e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    unlink(path);
  }
  if (d != NULL)
    closedir(d);
  rmdir(dir);
  free(dir);
}

tg_terminal *tt_terminal(const char *dir, char *path) {
  tg_terminal_config cfg = {"S1", "T1", "CNY", "Asia/Shanghai"};
  char detail[256];
  tg_terminal *t;
  snprintf(path, 4096, "%s/t.db", dir);
  int rc = tg_terminal_init(path, &cfg, detail, sizeof detail);
  if (rc != 0)
    fail_msg("init: %s", detail);
  rc = tg_terminal_open(path, &t);
  TT_OK(t, rc);
  return t;
}

int tt_setup(void **state) {
  tt_fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  f->dir = tt_tmpdir();
  f->t = tt_terminal(f->dir, f->path);
  *state = f;
  return 0;
}

int tt_teardown(void **state) {
  tt_fixture *f = *state;
  tg_terminal_close(f->t);
  tt_rmtree(f->dir);
  free(f);
  return 0;
}

void tt_uuid(uint64_t i, char out[TG_UUID_LEN + 1]) {
  snprintf(out, TG_UUID_LEN + 1, "00000000-0000-4000-8000-%012llx", (unsigned long long)i);
}

tg_sale *tt_sale(tg_terminal *t, uint64_t i, int n_lines) {
  char uuid[TG_UUID_LEN + 1], sku[32], name[64];
  tg_sale *s;
  tg_totals tot;
  tt_uuid(i, uuid);
  TT_OK(t, tg_sale_begin(t, uuid, &s));
  for (int k = 0; k < n_lines; k++) {
    snprintf(sku, sizeof sku, "69%011llu", (unsigned long long)(i * 31 + (uint64_t)k));
    snprintf(name, sizeof name, "商品 item %d of sale %llu", k, (unsigned long long)i);
    tg_line l = {sku, name, 1000 + (int64_t)((i + (uint64_t)k) % 5) * 250,
                 99 + (int64_t)((i * 7 + (uint64_t)k * 13) % 2000), k == 0 ? 10 : 0, NULL};
    TT_OK(t, tg_sale_add_line(s, &l));
  }
  TT_OK(t, tg_sale_set_order_discount(s, (int64_t)(i % 7)));
  TT_OK(t, tg_sale_get_totals(s, &tot));
  if (tot.total > 0)
    TT_OK(t, tg_sale_add_tender(s, TG_TENDER_CASH, tot.total, NULL));
  return s;
}

int tt_commit_quiet(tg_terminal *t, uint64_t i) {
  char uuid[TG_UUID_LEN + 1], name[48];
  tg_sale *s;
  tg_totals tot;
  tt_uuid(i, uuid);
  int rc = tg_sale_begin(t, uuid, &s);
  for (int k = 0; rc == 0 && k < 1 + (int)(i % 6); k++) {
    snprintf(name, sizeof name, "商品 %d / sale %llu", k, (unsigned long long)i);
    tg_line l = {"690001", name, 1000 + k * 250, 100 + (int64_t)(i % 900), k ? 0 : 5, NULL};
    rc = tg_sale_add_line(s, &l);
  }
  if (rc == 0)
    rc = tg_sale_set_order_discount(s, (int64_t)(i % 11));
  if (rc == 0)
    rc = tg_sale_get_totals(s, &tot);
  if (rc == 0)
    rc = tg_sale_add_tender(s, TG_TENDER_CASH, tot.total + 50, NULL);
  if (rc == 0)
    rc = tg_sale_commit(s, NULL);
  tg_sale_free(s);
  return rc;
}

sqlite3_vfs *tt_vfs_wrap(sqlite3_vfs *vfs, const char *name, int extra,
                         int (*x_open)(sqlite3_vfs *, sqlite3_filename, sqlite3_file *, int,
                                       int *),
                         int (*x_delete)(sqlite3_vfs *, const char *, int)) {
  sqlite3_vfs *real = sqlite3_vfs_find(NULL);
  if (real == NULL)
    return NULL;
  *vfs = *real;
  vfs->pNext = NULL;
  vfs->zName = name;
  vfs->szOsFile = extra + real->szOsFile;
  vfs->xOpen = x_open;
  if (x_delete != NULL)
    vfs->xDelete = x_delete;
  return real;
}

int tt_commit(tg_terminal *t, uint64_t i, int n_lines, char receipt[TG_RECEIPT_MAX]) {
  tg_sale *s = tt_sale(t, i, n_lines);
  int rc = tg_sale_commit(s, receipt);
  tg_sale_free(s);
  return rc;
}

static int64_t query_int(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st;
  int64_t v = -1;
  assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
  if (sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

static json_int_t get_i(json_t *o, const char *key) {
  json_t *v = json_object_get(o, key);
  if (!json_is_integer(v))
    fail_msg("record field %s is missing", key);
  return json_integer_value(v);
}

/* Checks one record body against its row and the money rules. */
static void check_record(sqlite3_stmt *st, json_int_t *refunded, size_t n_refunded) {
  int64_t seq = sqlite3_column_int64(st, 0);
  const char *kind = (const char *)sqlite3_column_text(st, 1);
  json_error_t err;
  json_t *o = json_loads((const char *)sqlite3_column_text(st, 2), 0, &err);
  if (o == NULL)
    fail_msg("record %lld: body is not JSON: %s", (long long)seq, err.text);
  assert_int_equal(get_i(o, "seq"), seq);
  assert_string_equal(json_string_value(json_object_get(o, "kind")), kind);
  json_t *lines = json_object_get(o, "lines"), *tenders = json_object_get(o, "tenders"), *v;
  size_t i;
  json_int_t sum = 0, paid = 0;
  assert_true(json_array_size(lines) >= 1);
  json_array_foreach(lines, i, v) {
    assert_int_equal(get_i(v, "line"), (json_int_t)i + 1);
    assert_true(get_i(v, "amount") >= 0);
    sum += get_i(v, "amount");
    if (strcmp(kind, "refund") == 0 && refunded != NULL) {
      json_int_t ol = get_i(v, "original_line");
      assert_true(ol >= 1 && (size_t)ol <= n_refunded);
      refunded[ol - 1] += get_i(v, "qty_milli");
    }
  }
  json_array_foreach(tenders, i, v) paid += get_i(v, "amount");
  if (sum != get_i(o, "total"))
    fail_msg("record %lld: lines sum to %lld, total is %lld", (long long)seq, (long long)sum,
             (long long)get_i(o, "total"));
  assert_int_equal(get_i(o, "subtotal") - get_i(o, "order_discount"), get_i(o, "total"));
  assert_int_equal(paid, get_i(o, "tendered"));
  if (strcmp(kind, "void") != 0)
    assert_int_equal(get_i(o, "tendered") - get_i(o, "change"), get_i(o, "total"));
  json_decref(o);
}

int64_t tt_check_ledger(const char *path) {
  sqlite3 *db;
  sqlite3_stmt *st, *orig;
  assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
  sqlite3_finalize(st);
  int64_t n = query_int(db, "SELECT count(*) FROM record");
  assert_int_equal(query_int(db, "SELECT seq FROM counter"), n);
  assert_int_equal(query_int(db, "SELECT coalesce(max(seq), 0) FROM record"), n);
  int64_t receipts = query_int(db, "SELECT count(receipt_no) FROM record");
  assert_int_equal(query_int(db, "SELECT receipt FROM counter"), receipts);
  assert_int_equal(query_int(db, "SELECT coalesce(max(receipt_no), 0) FROM record"), receipts);
  /* every record whole; refunds never above what was sold */
  assert_int_equal(sqlite3_prepare_v2(db, "SELECT seq, kind, body FROM record ORDER BY seq", -1,
                                      &st, NULL),
                   SQLITE_OK);
  while (sqlite3_step(st) == SQLITE_ROW)
    check_record(st, NULL, 0);
  sqlite3_finalize(st);
  assert_int_equal(sqlite3_prepare_v2(db,
                                      "SELECT body, receipt_no FROM record WHERE kind = 'sale'"
                                      " AND receipt_no IN (SELECT refund_of FROM record)",
                                      -1, &orig, NULL),
                   SQLITE_OK);
  while (sqlite3_step(orig) == SQLITE_ROW) {
    json_t *o = json_loads((const char *)sqlite3_column_text(orig, 0), 0, NULL), *v;
    json_t *lines = json_object_get(o, "lines");
    size_t n_lines = json_array_size(lines), i;
    json_int_t *refunded = calloc(n_lines, sizeof *refunded);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT seq, kind, body FROM record WHERE refund_of = ?1",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_int64(st, 1, sqlite3_column_int64(orig, 1));
    while (sqlite3_step(st) == SQLITE_ROW)
      check_record(st, refunded, n_lines);
    sqlite3_finalize(st);
    json_array_foreach(lines, i, v) assert_true(refunded[i] <= get_i(v, "qty_milli"));
    free(refunded);
    json_decref(o);
  }
  sqlite3_finalize(orig);
  sqlite3_close(db);
  return n;
}

uint64_t tt_fingerprint(const char *path) {
  sqlite3 *db;
  sqlite3_stmt *st;
  uint64_t h = 1469598103934665603ULL;
  assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_prepare_v2(db,
                                      "SELECT seq || kind || coalesce(receipt_no, '') || body"
                                      " FROM record UNION ALL SELECT seq || '/' || receipt || '/' || acked FROM counter",
                                      -1, &st, NULL),
                   SQLITE_OK);
  while (sqlite3_step(st) == SQLITE_ROW) {
    const unsigned char *z = sqlite3_column_text(st, 0);
    for (int i = 0; i < sqlite3_column_bytes(st, 0); i++)
      h = (h ^ z[i]) * 1099511628211ULL;
    h = (h ^ 0xff) * 1099511628211ULL;
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return h;
}

int tt_count_uuid(const char *path, uint64_t i) {
  sqlite3 *db;
  sqlite3_stmt *st;
  char uuid[TG_UUID_LEN + 1];
  unsigned char u[16];
  tt_uuid(i, uuid);
  assert_int_equal(tg__uuid_parse(uuid, u), 0);
  assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM record WHERE uuid = ?1", -1, &st,
                                      NULL),
                   SQLITE_OK);
  sqlite3_bind_blob(st, 1, u, 16, SQLITE_STATIC);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  int n = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return n;
}

/* ----- Allocation failure injection ----- */

static struct {
  sqlite3_mem_methods orig; /* SQLite's allocator, which does the work */
  int armed;
  int persistent; /* fail every allocation from n on, not only the nth */
  long n;         /* the first allocation that fails (1-based) */
  long calls;     /* allocations counted since arming */
  long fired;     /* failures injected since arming */
} mem;

/* Counts one allocation; 1 if it must fail. */
static int mem_fail(void) {
  if (!mem.armed)
    return 0;
  long call = ++mem.calls;
  if (call < mem.n || (!mem.persistent && call > mem.n))
    return 0;
  mem.fired++;
  return 1;
}

static void *m_malloc(int n) { return mem_fail() ? NULL : mem.orig.xMalloc(n); }
static void m_free(void *p) { mem.orig.xFree(p); }
static void *m_realloc(void *p, int n) { return mem_fail() ? NULL : mem.orig.xRealloc(p, n); }
static int m_size(void *p) { return mem.orig.xSize(p); }
static int m_roundup(int n) { return mem.orig.xRoundup(n); }
static int m_init(void *app) {
  (void)app;
  return mem.orig.xInit(mem.orig.pAppData);
}
static void m_shutdown(void *app) {
  (void)app;
  mem.orig.xShutdown(mem.orig.pAppData);
}

int tt_mem_install(void) {
  static const sqlite3_mem_methods wrap = {.xMalloc = m_malloc,
                                           .xFree = m_free,
                                           .xRealloc = m_realloc,
                                           .xSize = m_size,
                                           .xRoundup = m_roundup,
                                           .xInit = m_init,
                                           .xShutdown = m_shutdown,
                                           .pAppData = NULL};
  int rc = sqlite3_config(SQLITE_CONFIG_GETMALLOC, &mem.orig);
  return rc != SQLITE_OK ? rc : sqlite3_config(SQLITE_CONFIG_MALLOC, &wrap);
}

void tt_mem_arm(int persistent, long n) {
  mem.persistent = persistent;
  mem.n = n;
  mem.calls = 0;
  mem.fired = 0;
  mem.armed = 1;
}

long tt_mem_disarm(void) {
  mem.armed = 0;
  return mem.fired;
}

long tt_mem_calls(void) { return mem.calls; }

void tt_slurp(const char *path, tg__buf *b) {
  FILE *fp = fopen(path, "rb");
  char chunk[65536];
  size_t n;
  if (fp == NULL)
    fail_msg("cannot read %s", path);
  while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0)
    assert_int_equal(tg__buf_add(b, chunk, n), 0);
  fclose(fp);
}

void tt_hq_schema_v1(const char *spec) {
  /* every object of schema steps 2 and later, newest first */
  static const char drop[] = "DROP TABLE IF EXISTS settlement; DROP TABLE IF EXISTS nightly;"
                             " ALTER TABLE terminal DROP COLUMN pull_url;"
                             " DROP TABLE IF EXISTS group_join; DROP TABLE IF EXISTS chat_group;";
  char sql[512];
  if (strncmp(spec, "sqlite:", 7) == 0) {
    sqlite3 *db = NULL;
    snprintf(sql, sizeof sql, "%s PRAGMA user_version = 1;", drop);
    if (sqlite3_open(spec + 7, &db) != SQLITE_OK || sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
      fail_msg("back to schema version 1: %s", sqlite3_errmsg(db));
    sqlite3_close(db);
    return;
  }
  snprintf(sql, sizeof sql, "%s UPDATE hq_meta SET version = 1", drop);
  PGconn *pg = PQconnectdb(spec);
  PGresult *res = PQexec(pg, sql);
  if (PQresultStatus(res) != PGRES_COMMAND_OK)
    fail_msg("back to schema version 1: %s", PQerrorMessage(pg));
  PQclear(res);
  PQfinish(pg);
}
