/*
 * The nightly pull end to end: the manifest a terminal serves against what a
 * real tillgroup-hq stored from its upload, and the tillgroup serve-sync
 * command as a process (serves, logs, stops on SIGTERM, refuses a till not
 * enrolled).
 */
#include <curl/curl.h>
#include <signal.h>
#include <sodium.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/wait.h>

#include "hq.h"
#include "hq_process.h"
#include "pull_client.h"

typedef struct {
  crypto_generichash_state h;
  int64_t n;
} hq_digest;

static void the_manifest_digest_is_what_hq_stored_from_the_upload(void **state) {
  pc_fixture *f = *state;
  char hq_bin[4096], spec[4200], cred[256], why[256] = "", url[64], want[65], digest[65];
  int hq_port;
  tt_build_file("tillgroup-hq", hq_bin, sizeof hq_bin);
  snprintf(spec, sizeof spec, "sqlite:%s/hq.db", f->dir);
  tt_hq_enrol(f->dir, "proc.log", hq_bin, spec, "S1", "T1", cred, sizeof cred);
  char *serve_argv[] = {hq_bin, "serve", "--db", spec, "--listen", "127.0.0.1:0", NULL};
  pid_t hq = tt_process_start(f->dir, "proc.log", serve_argv, &hq_port);
  /* the terminal enrolled at this HQ uploads everything */
  snprintf(url, sizeof url, "http://127.0.0.1:%d", hq_port);
  tg_hq_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.url = url;
  cfg.credential = cred;
  TT_OK(f->t, tg_hq_enrol(f->t, &cfg));
  tg_sync_options opt;
  memset(&opt, 0, sizeof opt);
  opt.once = 1;
  int rc = tg_sync_run(f->t, &opt);
  tt_process_stop(hq, SIGTERM);
  TT_OK(f->t, rc);
  /* HQ's own key signs the pull; its stored bodies give the digest */
  const tg__hq_backend *be = tg__hq_backend_for(spec, why, sizeof why);
  tg__hq_db *db = NULL;
  unsigned char pk[32], sk[64];
  assert_non_null(be);
  assert_int_equal(be->open(spec, &db, why, sizeof why), TG__HQ_OK);
  assert_int_equal(be->signing_key(db, pk, sk, why, sizeof why), TG__HQ_OK);
  be->close(db);
  sqlite3 *s;
  sqlite3_stmt *st;
  hq_digest h;
  unsigned char d[32];
  crypto_generichash_init(&h.h, NULL, 0, 32);
  h.n = 0;
  assert_int_equal(sqlite3_open_v2(spec + 7, &s, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_prepare_v2(s,
                                      "SELECT body FROM record WHERE store = 'S1' AND terminal = "
                                      "'T1' ORDER BY seq",
                                      -1, &st, NULL),
                   SQLITE_OK);
  while (sqlite3_step(st) == SQLITE_ROW) {
    crypto_generichash_update(&h.h, sqlite3_column_blob(st, 0),
                              (size_t)sqlite3_column_bytes(st, 0));
    crypto_generichash_update(&h.h, (const unsigned char *)"\n", 1);
    h.n++;
  }
  sqlite3_finalize(st);
  sqlite3_close(s);
  crypto_generichash_final(&h.h, d, 32);
  sodium_bin2hex(want, sizeof want, d, 32);
  assert_int_equal(h.n, PC_SALES);
  /* serve again with the new enrolment */
  tg__pull_server_stop(f->server);
  tg__pull_store_close(f->store);
  pc_serve(f);
  pc_answer a;
  int64_t epoch, max_seq, from, to, count;
  pc_send_signed_as(f->port, sk, "T1", pc_wall_ms(), "GET", "/v1/manifest", 0, &a);
  assert_int_equal(a.status, 200);
  pc_read_manifest(&a, &epoch, &max_seq, &from, &to, &count, digest);
  assert_int_equal(count, PC_SALES);
  assert_string_equal(digest, want);
  /* the MAC verifies with the invite key HQ keeps for the terminal */
  tg__cred parsed;
  assert_int_equal(tg__cred_parse(cred, strlen(cred), &parsed, why, sizeof why), 0);
  memcpy(f->cred.secret, parsed.secret, sizeof parsed.secret);
  pc_assert_mac(f, &a);
  free(a.body);
  /* the old key no longer pulls */
  pc_send_signed(f, "/v1/manifest", 0, &a);
  assert_int_equal(a.status, 401);
  free(a.body);
  sodium_memzero(sk, sizeof sk);
}

/* ----- The command ---------------------------------------------------------- */

static void the_command_serves_until_sigterm_and_refuses_unenrolled_tills(void **state) {
  pc_fixture *f = *state;
  char cli[4096], out[512], path2[4200];
  int port;
  tt_build_file("tillgroup", cli, sizeof cli);
  char *argv[] = {cli,           "--db",      f->path, "serve-sync", "--listen",
                  "127.0.0.1:0", "--threads", "2",     NULL};
  pid_t pid = tt_process_start(f->dir, "proc.log", argv, &port);
  pc_answer a;
  pc_send_signed_as(port, f->hq_sk, "T1", pc_wall_ms(), "GET", "/v1/manifest?from=1&to=2", 0, &a);
  assert_int_equal(a.status, 200);
  pc_assert_mac(f, &a);
  free(a.body);
  a.body = NULL;
  int status = 0;
  kill(pid, SIGTERM);
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
  /* one line for the request, one for the stop; never the signature */
  char log_path[4200];
  tg__buf log = {0};
  snprintf(log_path, sizeof log_path, "%s/proc.log", f->dir);
  tt_slurp(log_path, &log);
  tg__buf_add(&log, "", 1);
  assert_non_null(strstr((char *)log.p, " GET /v1/manifest?from=1&to=2 200 2 "));
  assert_non_null(strstr((char *)log.p, "SIGTERM: stopping"));
  assert_null(strstr((char *)log.p, strrchr(a.auth, '.') + 1));
  assert_null(strstr((char *)log.p, "TG-HQ"));
  tg__buf_free(&log);
  /* a till not enrolled: refused with a reason, nothing served */
  snprintf(path2, sizeof path2, "%s/t2.db", f->dir);
  tg_terminal_config cfg = {"S1", "T2", "CNY", "Asia/Shanghai"};
  char detail[256];
  assert_int_equal(tg_terminal_init(path2, &cfg, detail, sizeof detail), 0);
  char *argv2[] = {cli, "--db", path2, "serve-sync", "--listen", "127.0.0.1:0", NULL};
  assert_int_equal(tt_process_run(f->dir, "proc.log", argv2, NULL, out, sizeof out), 1);
  assert_string_equal(out, "");
  char *argv3[] = {cli, "--db", f->path, "serve-sync", NULL};
  assert_int_equal(tt_process_run(f->dir, "proc.log", argv3, NULL, out, sizeof out), 2);
  char *argv4[] = {cli, "--db", f->path, "serve-sync", "--listen", "example:80", NULL};
  assert_int_equal(tt_process_run(f->dir, "proc.log", argv4, NULL, out, sizeof out), 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(the_manifest_digest_is_what_hq_stored_from_the_upload,
                                      pc_setup, pc_teardown),
      cmocka_unit_test_setup_teardown(the_command_serves_until_sigterm_and_refuses_unenrolled_tills,
                                      pc_setup, pc_teardown),
  };
  signal(SIGPIPE, SIG_IGN);
  if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
    return 1;
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  curl_global_cleanup();
  return rc;
}
