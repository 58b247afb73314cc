/* The terminal store: SQLite settings, file mode, identity, and files it must refuse untouched. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"

static int64_t pragma(tg_terminal *t, const char *sql) {
  sqlite3_stmt *st;
  int64_t v = -1;
  assert_int_equal(sqlite3_prepare_v2(t->db, sql, -1, &st, NULL), SQLITE_OK);
  if (sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

/* FNV-1a of a file's bytes, to prove it was not touched. */
static uint64_t file_hash(const char *path) {
  FILE *f = fopen(path, "rb");
  uint64_t h = 1469598103934665603ULL;
  int c;
  assert_non_null(f);
  while ((c = fgetc(f)) != EOF)
    h = (h ^ (unsigned)c) * 1099511628211ULL;
  fclose(f);
  return h;
}

static int file_mode(const char *path) {
  struct stat sb;
  assert_int_equal(stat(path, &sb), 0);
  return sb.st_mode & 0777;
}

static void settings_are_durable(void **state) {
  (void)state;
  char *dir = tt_tmpdir(), path[4096], side[4200], receipt[TG_RECEIPT_MAX];
  tg_terminal *t = tt_terminal(dir, path);
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_prepare_v2(t->db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
  sqlite3_finalize(st);
  assert_int_equal(pragma(t, "PRAGMA synchronous"), 2); /* FULL */
  assert_int_equal(pragma(t, "PRAGMA foreign_keys"), 1);
  assert_true(pragma(t, "PRAGMA busy_timeout") >= 1000);
  assert_int_equal(pragma(t, "PRAGMA user_version"), TG_SCHEMA_VERSION);
  assert_int_equal(pragma(t, "PRAGMA application_id"), TG_APPLICATION_ID);
  TT_OK(t, tt_commit(t, 1, 2, receipt));
  /* the database and its WAL are private to the terminal's user */
  assert_int_equal(file_mode(path), 0600);
  snprintf(side, sizeof side, "%s-wal", path);
  assert_int_equal(file_mode(side), 0600);
  tg_terminal_close(t);
  tt_rmtree(dir);
}

static void identity_is_kept(void **state) {
  (void)state;
  char *dir = tt_tmpdir(), path[4096], path2[4200], receipt[TG_RECEIPT_MAX];
  tg_terminal *t = tt_terminal(dir, path);
  tg_terminal_info a, b;
  TT_OK(t, tg_terminal_get_info(t, &a));
  assert_string_equal(a.store_id, "S1");
  assert_string_equal(a.terminal_id, "T1");
  assert_string_equal(a.currency, "CNY");
  assert_int_equal(a.currency_exponent, 2);
  assert_string_equal(a.tz, "Asia/Shanghai");
  assert_true(a.epoch > 0 && a.epoch < (INT64_C(1) << 53));
  TT_OK(t, tt_commit(t, 1, 1, receipt));
  tg_terminal_close(t);
  /* reopening keeps identity and counters */
  TT_OK(t, tg_terminal_open(path, &t));
  TT_OK(t, tg_terminal_get_info(t, &b));
  assert_int_equal(a.epoch, b.epoch);
  TT_OK(t, tt_commit(t, 2, 1, receipt));
  assert_string_equal(receipt, "S1-T1-2");
  tg_terminal_close(t);
  /* a re-imaged terminal gets a new epoch */
  tg_terminal_config cfg = {"S1", "T1", NULL, NULL};
  snprintf(path2, sizeof path2, "%s/again.db", dir);
  assert_int_equal(tg_terminal_init(path2, &cfg, NULL, 0), 0);
  TT_OK(t, tg_terminal_open(path2, &t));
  TT_OK(t, tg_terminal_get_info(t, &b));
  assert_true(a.epoch != b.epoch);
  assert_string_equal(b.currency, "CNY"); /* the defaults */
  assert_string_equal(b.tz, "Asia/Shanghai");
  tg_terminal_close(t);
  tt_rmtree(dir);
}

static void init_refuses_bad_config_and_leaves_nothing(void **state) {
  (void)state;
  char *dir = tt_tmpdir(), path[4096], detail[256];
  struct {
    tg_terminal_config cfg;
    int code;
  } cases[] = {
      {{"s1", "T1", "CNY", "UTC"}, TG_EID},
      {{"S1", "T-1", "CNY", "UTC"}, TG_EID},
      {{"", "T1", "CNY", "UTC"}, TG_EID},
      {{NULL, "T1", "CNY", "UTC"}, TG_EID},
      {{"S1", "TERMINAL00001", "CNY", "UTC"}, TG_EID},
      {{"S1", "T1", "RMB", "UTC"}, TG_ECURRENCY},
      {{"S1", "T1", "cny", "UTC"}, TG_ECURRENCY},
      {{"S1", "T1", "CNY", "Mars/Olympus"}, TG_ETZ},
      {{"S1", "T1", "CNY", "../../etc/passwd"}, TG_ETZ},
      {{"S1", "T1", "CNY", "/etc/localtime"}, TG_ETZ},
  };
  snprintf(path, sizeof path, "%s/t.db", dir);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    detail[0] = '\0';
    assert_int_equal(tg_terminal_init(path, &cases[i].cfg, detail, sizeof detail), cases[i].code);
    assert_true(strlen(detail) > 0);
    assert_int_equal(access(path, F_OK), -1);
  }
  tt_rmtree(dir);
}

static void init_refuses_an_existing_file(void **state) {
  (void)state;
  char *dir = tt_tmpdir(), path[4096], detail[256];
  tg_terminal *t = tt_terminal(dir, path);
  char receipt[TG_RECEIPT_MAX];
  TT_OK(t, tt_commit(t, 1, 1, receipt));
  tg_terminal_close(t);
  uint64_t before = file_hash(path);
  tg_terminal_config cfg = {"S9", "T9", "USD", "UTC"};
  assert_int_equal(tg_terminal_init(path, &cfg, detail, sizeof detail), TG_EEXIST);
  assert_non_null(strstr(detail, "already"));
  assert_int_equal(file_hash(path), before);
  assert_int_equal(tt_check_ledger(path), 1);
  tt_rmtree(dir);
}

static void open_refuses_missing_and_foreign_files(void **state) {
  (void)state;
  char *dir = tt_tmpdir(), path[4096];
  tg_terminal *t;
  snprintf(path, sizeof path, "%s/none.db", dir);
  assert_int_equal(tg_terminal_open(path, &t), TG_ENOENT);
  assert_non_null(strstr(tg_last_detail(t), "tillgroup init"));
  tg_terminal_close(t);
  assert_int_equal(access(path, F_OK), -1); /* not created by open */

  /* a text file */
  snprintf(path, sizeof path, "%s/notes.txt", dir);
  FILE *f = fopen(path, "w");
  fputs("this is not a database, but it is long enough to have a header............"
        "..........................................................................", f);
  fclose(f);
  uint64_t before = file_hash(path);
  assert_int_equal(tg_terminal_open(path, &t), TG_ENOTDB);
  tg_terminal_close(t);
  assert_int_equal(file_hash(path), before);

  /* another program's SQLite database: refused, and not switched to WAL */
  sqlite3 *db;
  snprintf(path, sizeof path, "%s/other.db", dir);
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  assert_int_equal(sqlite3_exec(db, "CREATE TABLE x(y); INSERT INTO x VALUES (1)", 0, 0, 0),
                   SQLITE_OK);
  sqlite3_close(db);
  before = file_hash(path);
  assert_int_equal(tg_terminal_open(path, &t), TG_ENOTDB);
  assert_non_null(strstr(tg_last_detail(t), "not changed"));
  tg_terminal_close(t);
  assert_int_equal(file_hash(path), before);

  /* an empty file left by an interrupted init */
  snprintf(path, sizeof path, "%s/empty.db", dir);
  close(open(path, O_CREAT | O_WRONLY, 0600));
  assert_int_equal(tg_terminal_open(path, &t), TG_ENOTDB);
  assert_non_null(strstr(tg_last_detail(t), "init"));
  tg_terminal_close(t);
  tt_rmtree(dir);
}

static void open_refuses_a_newer_schema_untouched(void **state) {
  (void)state;
  char *dir = tt_tmpdir(), path[4096], receipt[TG_RECEIPT_MAX];
  tg_terminal *t = tt_terminal(dir, path);
  TT_OK(t, tt_commit(t, 1, 3, receipt));
  char sql[64];
  snprintf(sql, sizeof sql, "PRAGMA user_version = %d", TG_SCHEMA_VERSION + 1);
  assert_int_equal(sqlite3_exec(t->db, sql, 0, 0, 0), SQLITE_OK);
  tg_terminal_close(t);
  uint64_t before = file_hash(path);
  assert_int_equal(tg_terminal_open(path, &t), TG_ENEWER);
  assert_non_null(strstr(tg_last_detail(t), "upgrade tillgroup"));
  assert_non_null(strstr(tg_last_detail(t), "not changed"));
  tg_terminal_close(t);
  assert_int_equal(file_hash(path), before);
  tt_rmtree(dir);
}

static void open_cannot_use_a_missing_folder(void **state) {
  (void)state;
  tg_terminal_config cfg = {"S1", "T1", NULL, NULL};
  char detail[256];
  assert_int_equal(tg_terminal_init("/nonexistent-folder/t.db", &cfg, detail, sizeof detail),
                   TG_ECANTOPEN);
  assert_non_null(strstr(detail, "/nonexistent-folder/t.db"));
}

/* A rollback that failed (out of memory, I/O) can leave the handle inside a
 * transaction; the next commit must still be durable on its own. */
static void a_dangling_transaction_is_not_inherited(void **state) {
  (void)state;
  char *dir = tt_tmpdir(), path[4096], receipt[TG_RECEIPT_MAX];
  tg_terminal *t = tt_terminal(dir, path);
  assert_int_equal(sqlite3_exec(t->db, "BEGIN; UPDATE counter SET seq = 99",
                                0, 0, 0),
                   SQLITE_OK);
  TT_OK(t, tt_commit(t, 1, 2, receipt));
  assert_string_equal(receipt, "S1-T1-1");
  assert_int_equal(tt_count_uuid(path, 1), 1); /* seen through another connection */
  assert_int_equal(tt_check_ledger(path), 1);  /* and the stray change was undone */
  tg_terminal_close(t);
  tt_rmtree(dir);
}

/* Damage one stored value with SQL; the ledger must refuse it, not trust it. */
static void damage(const char *path, const char *sql) {
  sqlite3 *db;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  if (sqlite3_exec(db, sql, 0, 0, 0) != SQLITE_OK)
    fail_msg("%s: %s", sql, sqlite3_errmsg(db));
  sqlite3_close(db);
}

static void damaged_records_are_refused(void **state) {
  (void)state;
  const char *edits[] = {
      "UPDATE record SET body = json_set(body, '$.lines[0].amount', -100) WHERE seq = 1",
      "UPDATE record SET body = json_set(body, '$.lines[0].qty_milli', 0) WHERE seq = 1",
      "UPDATE record SET body = json_set(body, '$.lines[0].name', 'a' || char(10) || 'b')"
      " WHERE seq = 1",
      "UPDATE record SET body = json_set(body, '$.total', 1) WHERE seq = 1",
      "UPDATE record SET body = '{\"seq\":1' WHERE seq = 1",
      /* a refund claiming more than was sold */
      "UPDATE record SET body = json_set(body, '$.lines[0].qty_milli', 999999) WHERE seq = 2",
      "UPDATE record SET body = json_set(body, '$.lines[0].original_line', 7) WHERE seq = 2",
  };
  for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
    char *dir = tt_tmpdir(), path[4096];
    tg_terminal *t = tt_terminal(dir, path);
    tg_sale *r;
    tg_receipt *rec;
    TT_OK(t, tt_commit(t, 1, 3, NULL));
    TT_OK(t, tg_refund_begin(t, "eeeeeeee-0000-4000-8000-00000000000f", "S1-T1-1", &r));
    TT_OK(t, tg_refund_add_line(r, 1, 1));
    TT_OK(t, tg_sale_commit(r, NULL));
    tg_sale_free(r);
    damage(path, edits[i]);
    assert_int_equal(tg_receipt_load(t, "S1-T1-1", &rec), TG_ECORRUPT);
    assert_null(rec);
    assert_int_equal(tg_refund_begin(t, "eeeeeeee-0000-4000-8000-00000000001f", "S1-T1-1", &r),
                     TG_ECORRUPT);
    tg_terminal_close(t);
    tt_rmtree(dir);
  }
}

static void damaged_terminal_row_is_refused(void **state) {
  (void)state;
  char *dir = tt_tmpdir(), path[4096];
  tg_terminal *t = tt_terminal(dir, path);
  tg_terminal_close(t);
  damage(path, "UPDATE terminal SET store_id = 'S1XXXXXXXXXXXXXX'");
  assert_int_equal(tg_terminal_open(path, &t), TG_ECORRUPT);
  tg_terminal_close(t);
  tt_rmtree(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(settings_are_durable),
      cmocka_unit_test(identity_is_kept),
      cmocka_unit_test(init_refuses_bad_config_and_leaves_nothing),
      cmocka_unit_test(init_refuses_an_existing_file),
      cmocka_unit_test(open_refuses_missing_and_foreign_files),
      cmocka_unit_test(open_refuses_a_newer_schema_untouched),
      cmocka_unit_test(open_cannot_use_a_missing_folder),
      cmocka_unit_test(a_dangling_transaction_is_not_inherited),
      cmocka_unit_test(damaged_records_are_refused),
      cmocka_unit_test(damaged_terminal_row_is_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
