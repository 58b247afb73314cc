/* The terminal's side of sync that needs no HQ: enrolment, status, the lock, refusals, schema 3. */
#include <fcntl.h>
#include <sodium.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"
#include "sync.h"

#define CLOSED_PORT_URL "http://127.0.0.1:1" /* nothing listens: connection refused at once */

/* A credential for store/terminal with a random secret and HQ key, as text in out. */
static void make_credential(const char *store, const char *terminal, tg__cred *c,
                            char out[TG__CRED_TEXT_MAX]) {
  unsigned char sk[crypto_sign_SECRETKEYBYTES];
  memset(c, 0, sizeof *c);
  snprintf(c->store, sizeof c->store, "%s", store);
  snprintf(c->terminal, sizeof c->terminal, "%s", terminal);
  randombytes_buf(c->secret, sizeof c->secret);
  crypto_sign_keypair(c->hq_key, sk);
  assert_true(tg__cred_format(c, out, TG__CRED_TEXT_MAX) > 0);
}

static int enrol(tg_terminal *t, const char *url, const char *credential) {
  tg_hq_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.url = url;
  cfg.credential = credential;
  return tg_hq_enrol(t, &cfg);
}

/* The invite key the terminal signs with now, and its id. */
static void invite_key(tg_terminal *t, unsigned char key[32], uint16_t *id) {
  TT_OK(t, tg__keyring_get(t, TG__TOKEN_INVITE, id, key, 32, NULL));
}

static int64_t query_int(tg_terminal *t, const char *sql) {
  sqlite3_stmt *st;
  int64_t v = -1;
  assert_int_equal(sqlite3_prepare_v2(t->db, sql, -1, &st, NULL), SQLITE_OK);
  if (sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

static void enrol_stores_hq_and_rekeys_invites(void **state) {
  tt_fixture *f = *state;
  tg__cred c;
  char text[TG__CRED_TEXT_MAX], url[TG__HQ_URL_MAX + 1];
  unsigned char before[32], after[32], want[32];
  const tg__token_key *keys;
  uint16_t id;
  int n;
  tg_status st;
  invite_key(f->t, before, &id);
  TT_OK(f->t, tg__keys_current(f->t, &keys, &n)); /* cached: must be dropped by the enrolment */
  TT_OK(f->t, tg_status_get(f->t, &st));
  assert_int_equal(st.enrolled, 0);
  make_credential("S1", "T1", &c, text);
  TT_OK(f->t, enrol(f->t, "https://hq.example.com:8443/chain", text));
  TT_OK(f->t, tg_status_get(f->t, &st));
  assert_int_equal(st.enrolled, 1);
  assert_int_equal(st.last_sync_ms, 0);
  assert_int_equal(st.last_error_ms, 0);
  assert_string_equal(st.last_error, "");
  assert_int_equal(tg__hq_get(f->t, url, sizeof url, NULL, NULL, NULL, 0), 1);
  assert_string_equal(url, "https://hq.example.com:8443/chain");
  /* invites now carry HQ's derived key, under the same role and id 1 */
  invite_key(f->t, after, &id);
  tg__cred_invite_key(c.secret, want);
  assert_int_equal(id, 1);
  assert_memory_equal(after, want, 32);
  assert_memory_not_equal(after, before, 32);
  TT_OK(f->t, tg__keys_current(f->t, &keys, &n));
  int found = 0;
  for (int i = 0; i < n; i++)
    if (keys[i].role == TG__TOKEN_INVITE && memcmp(keys[i].key, want, 32) == 0)
      found = 1;
  assert_true(found);
  /* the secret and HQ's key are kept for sync */
  assert_int_equal(query_int(f->t, "SELECT length(secret) + length(hq_key) FROM hq"), 64);
}

static void enrol_refuses_a_damaged_credential(void **state) {
  tt_fixture *f = *state;
  tg__cred c;
  char text[TG__CRED_TEXT_MAX];
  unsigned char before[32], after[32];
  uint16_t id;
  tg_status st;
  invite_key(f->t, before, &id);
  make_credential("S1", "T1", &c, text);
  text[strlen(text) - 1] = '\0'; /* HQ's key cut short by a character */
  const char *bad[] = {text, "tg1.S1.T1", "", "tg2.S1.T1.AAAA.BBBB", "not a credential"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_int_equal(enrol(f->t, "https://hq.example.com", bad[i]), TG_ECREDENTIAL);
    assert_true(strlen(tg_last_detail(f->t)) > 10);
    assert_null(strchr(tg_last_detail(f->t), '\n'));
    TT_OK(f->t, tg_status_get(f->t, &st));
    assert_int_equal(st.enrolled, 0);
  }
  invite_key(f->t, after, &id);
  assert_memory_equal(after, before, 32);
  /* over 1 KiB is refused before it is parsed */
  char *big = malloc(2000);
  assert_non_null(big);
  memset(big, 'A', 1999);
  big[1999] = '\0';
  assert_int_equal(enrol(f->t, "https://hq.example.com", big), TG_ECREDENTIAL);
  free(big);
}

static void enrol_refuses_another_terminals_credential(void **state) {
  tt_fixture *f = *state;
  tg__cred c;
  char text[TG__CRED_TEXT_MAX];
  tg_status st;
  make_credential("S2", "T9", &c, text);
  assert_int_equal(enrol(f->t, "https://hq.example.com", text), TG_ECREDENTIAL);
  assert_string_equal(tg_last_detail(f->t), "credential is for S2-T9; this till is S1-T1");
  make_credential("S1", "T2", &c, text);
  assert_int_equal(enrol(f->t, "https://hq.example.com", text), TG_ECREDENTIAL);
  TT_OK(f->t, tg_status_get(f->t, &st));
  assert_int_equal(st.enrolled, 0);
}

static void hq_urls_are_https_or_loopback(void **state) {
  tt_fixture *f = *state;
  tg__cred c;
  char text[TG__CRED_TEXT_MAX], longest[TG__HQ_URL_MAX + 2];
  (void)state;
  const char *good[] = {"https://hq.example.com", "https://hq.example.com:8443/",
                        "https://10.0.0.5/chain/v", "https://[2001:db8::1]:443",
                        "http://127.0.0.1:8080", "http://localhost", "http://[::1]:9000/",
                        "http://127.1.2.3"};
  const char *bad[] = {"http://hq.example.com", "http://10.0.0.5:8080", "ftp://hq",
                       "https://", "https:///x", "hq.example.com", "https://user@hq.example.com",
                       "http://127.0.0.1@evil.example.com", "http://127.0.0.1.evil.example.com",
                       "http://128.0.0.1", "http://127.0.0.256", "https://hq:99999",
                       "https://hq:0", "https://hq:", "https://h q", "https://hq/?x=1",
                       "https://hq/#f", "HTTP://127.0.0.1", "http://[::2]", "https://hq\n",
                       "http://localhost.evil.example.com", "https://[::1"};
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
    if (!tg__hq_url_valid(good[i]))
      fail_msg("refused %s", good[i]);
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    if (tg__hq_url_valid(bad[i]))
      fail_msg("accepted %s", bad[i]);
  memcpy(longest, "https://h/", 10);
  memset(longest + 10, 'a', TG__HQ_URL_MAX - 10);
  longest[TG__HQ_URL_MAX] = '\0';
  assert_true(tg__hq_url_valid(longest));
  longest[TG__HQ_URL_MAX] = 'a';
  longest[TG__HQ_URL_MAX + 1] = '\0';
  assert_false(tg__hq_url_valid(longest));
  assert_false(tg__hq_url_valid(NULL));
  make_credential("S1", "T1", &c, text);
  assert_int_equal(enrol(f->t, "http://hq.example.com", text), TG_EINVAL);
  assert_non_null(strstr(tg_last_detail(f->t), "http:// only to this machine"));
  tg_hq_config cfg = {.url = "https://hq", .credential = text, .cert_file = "c.pem"};
  assert_int_equal(tg_hq_enrol(f->t, &cfg), TG_EINVAL); /* a certificate without its key */
  cfg.cert_file = NULL;
  cfg.pinned_key = "md5//abc";
  assert_int_equal(tg_hq_enrol(f->t, &cfg), TG_EINVAL);
  cfg.pinned_key = "sha256//YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXoxMjM0NTY=";
  cfg.ca_file = "/etc/ssl/ca.pem";
  TT_OK(f->t, tg_hq_enrol(f->t, &cfg));
}

static void enrolling_again_replaces_it(void **state) {
  tt_fixture *f = *state;
  tg__cred c1, c2;
  char t1[TG__CRED_TEXT_MAX], t2[TG__CRED_TEXT_MAX], url[TG__HQ_URL_MAX + 1];
  unsigned char key[32], want[32];
  uint16_t id;
  make_credential("S1", "T1", &c1, t1);
  make_credential("S1", "T1", &c2, t2);
  TT_OK(f->t, enrol(f->t, "https://old.example.com", t1));
  assert_int_equal(sqlite3_exec(f->t->db,
                                "UPDATE hq SET bundle_etag = '\"7\"', last_ok_ms = 1234,"
                                " last_error = 'HQ answered 503', last_error_ms = 99",
                                NULL, NULL, NULL),
                   SQLITE_OK);
  TT_OK(f->t, enrol(f->t, "https://new.example.com", t2));
  assert_int_equal(tg__hq_get(f->t, url, sizeof url, NULL, NULL, NULL, 0), 1);
  assert_string_equal(url, "https://new.example.com");
  assert_int_equal(query_int(f->t, "SELECT count(*) FROM hq"), 1);
  assert_int_equal(query_int(f->t, "SELECT bundle_etag IS NULL AND last_error IS NULL FROM hq"),
                   1);
  assert_int_equal(query_int(f->t, "SELECT last_ok_ms FROM hq"), 1234);
  invite_key(f->t, key, &id);
  tg__cred_invite_key(c2.secret, want);
  assert_memory_equal(key, want, 32);
  assert_int_equal(query_int(f->t, "SELECT count(*) FROM keyring WHERE role = 'I'"), 1);
}

static void status_shows_sync_state(void **state) {
  tt_fixture *f = *state;
  tg__cred c;
  char text[TG__CRED_TEXT_MAX], receipt[TG_RECEIPT_MAX];
  tg_status st;
  make_credential("S1", "T1", &c, text);
  TT_OK(f->t, enrol(f->t, "https://hq.example.com", text));
  for (uint64_t i = 1; i <= 3; i++)
    TT_OK(f->t, tt_commit(f->t, i, 2, receipt));
  assert_int_equal(sqlite3_exec(f->t->db,
                                "INSERT INTO dead_letter VALUES (1, 'invalid', 'total is not an"
                                " integer', 5), (2, 'conflict', 'other bytes', 6);"
                                "UPDATE counter SET acked = 2;"
                                "UPDATE hq SET last_ok_ms = 1700000000000,"
                                " last_error = 'HQ answered 503: database busy',"
                                " last_error_ms = 1700000001000",
                                NULL, NULL, NULL),
                   SQLITE_OK);
  TT_OK(f->t, tg_status_get(f->t, &st));
  assert_int_equal(st.enrolled, 1);
  assert_int_equal(st.dead_letters, 2);
  assert_int_equal(st.last_sync_ms, 1700000000000LL);
  assert_int_equal(st.last_error_ms, 1700000001000LL);
  assert_string_equal(st.last_error, "HQ answered 503: database busy");
  assert_int_equal(st.depth, 1);
  assert_int_equal(st.oldest_unsent_seq, 3);
}

static void sync_needs_an_enrolment(void **state) {
  tt_fixture *f = *state;
  tg_sync_options opt = {.once = 1};
  assert_int_equal(tg_sync_run(f->t, &opt), TG_ENOTENROLLED);
  assert_non_null(strstr(tg_last_detail(f->t), "tillgroup enrol"));
}

/* Opens and locks the sync lock beside the database, as another uploader would. */
static int lock_as_another_sync(const char *db) {
  char path[4200];
  snprintf(path, sizeof path, "%s-sync.lock", db);
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  assert_true(fd >= 0);
  assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
  return fd;
}

static void one_sync_per_database(void **state) {
  tt_fixture *f = *state;
  tg__cred c;
  char text[TG__CRED_TEXT_MAX], path[4200];
  struct stat sb;
  tg_sync_options opt = {.once = 1, .give_up_ms = 200};
  make_credential("S1", "T1", &c, text);
  TT_OK(f->t, enrol(f->t, CLOSED_PORT_URL, text));
  int fd = lock_as_another_sync(f->path);
  assert_int_equal(tg_sync_run(f->t, &opt), TG_ESYNCING);
  assert_non_null(strstr(tg_last_detail(f->t), "sync.lock"));
  /* the database itself is not locked: sales go on */
  char receipt[TG_RECEIPT_MAX];
  TT_OK(f->t, tt_commit(f->t, 1, 1, receipt));
  close(fd);
  assert_int_equal(tg_sync_run(f->t, &opt), TG_EOFFLINE); /* the lock is free again */
  snprintf(path, sizeof path, "%s-sync.lock", f->path);
  assert_int_equal(stat(path, &sb), 0);
  assert_int_equal(sb.st_mode & 0777, 0600);
}

typedef struct {
  int calls, waits;
  int64_t last_seq, acked;
  volatile int *stop;
} watch;

static void on_progress(void *ctx, const tg_sync_progress *p) {
  watch *w = ctx;
  w->calls++;
  w->last_seq = p->last_seq;
  w->acked = p->acked_through;
  if (p->waiting_ms > 0 && ++w->waits == 2 && w->stop != NULL)
    *w->stop = 1;
}

static void an_unreachable_hq_is_retried_then_given_up(void **state) {
  tt_fixture *f = *state;
  tg__cred c;
  char text[TG__CRED_TEXT_MAX], receipt[TG_RECEIPT_MAX];
  watch w = {0};
  tg_sync_options opt = {.once = 1, .give_up_ms = 1500, .progress = on_progress, .ctx = &w};
  tg_status st;
  make_credential("S1", "T1", &c, text);
  TT_OK(f->t, enrol(f->t, CLOSED_PORT_URL, text));
  for (uint64_t i = 1; i <= 5; i++)
    TT_OK(f->t, tt_commit(f->t, i, 3, receipt));
  uint64_t before = tt_fingerprint(f->path);
  int64_t began = tg__mono_ms();
  assert_int_equal(tg_sync_run(f->t, &opt), TG_EOFFLINE);
  int64_t took = tg__mono_ms() - began;
  assert_true(took >= 1500 && took < 10000);
  assert_non_null(strstr(tg_last_detail(f->t), "gave up"));
  assert_true(w.waits >= 1);
  assert_int_equal(w.last_seq, 5);
  assert_int_equal(w.acked, 0);
  /* nothing moved; the failure is on record for the operator */
  TT_OK(f->t, tg_status_get(f->t, &st));
  assert_int_equal(st.acked_through, 0);
  assert_int_equal(st.depth, 5);
  assert_true(st.last_error_ms > 0);
  assert_true(strlen(st.last_error) > 0);
  assert_null(strstr(st.last_error, text + 10)); /* never the secret */
  assert_int_equal(st.last_sync_ms, 0);
  assert_int_equal(tt_fingerprint(f->path), before);
}

static void a_stop_request_ends_a_running_sync(void **state) {
  tt_fixture *f = *state;
  tg__cred c;
  char text[TG__CRED_TEXT_MAX], receipt[TG_RECEIPT_MAX];
  volatile int stop = 0;
  watch w = {.stop = &stop};
  tg_sync_options opt = {.progress = on_progress, .ctx = &w, .stop = &stop};
  make_credential("S1", "T1", &c, text);
  TT_OK(f->t, enrol(f->t, CLOSED_PORT_URL, text));
  TT_OK(f->t, tt_commit(f->t, 1, 1, receipt));
  int64_t began = tg__mono_ms();
  assert_int_equal(tg_sync_run(f->t, &opt), 0); /* runs until stopped, not offline */
  assert_true(tg__mono_ms() - began < 15000);
  assert_int_equal(w.waits, 2);
  stop = 1; /* set before it starts: returns at once */
  assert_int_equal(tg_sync_run(f->t, &opt), 0);
}

static void a_version_2_database_is_upgraded_whole(void **state) {
  (void)state;
  char *dir = tt_tmpdir(), path[4096], receipt[TG_RECEIPT_MAX];
  tg_terminal *t = tt_terminal(dir, path);
  tg_status st;
  for (uint64_t i = 1; i <= 4; i++)
    TT_OK(t, tt_commit(t, i, 1 + (int)i, receipt));
  assert_int_equal(sqlite3_exec(t->db, "UPDATE counter SET acked = 1", NULL, NULL, NULL),
                   SQLITE_OK);
  /* back to schema 2: what a terminal of the previous release holds */
  assert_int_equal(sqlite3_exec(t->db,
                                "DROP TABLE hq; DROP TABLE dead_letter; DROP TABLE print_job;"
                                " DROP TABLE member_coupon; PRAGMA user_version = 2",
                                NULL, NULL, NULL),
                   SQLITE_OK);
  tg_terminal_close(t);
  uint64_t before = tt_fingerprint(path);
  TT_OK(t, tg_terminal_open(path, &t));
  assert_int_equal(query_int(t, "PRAGMA user_version"), TG_SCHEMA_VERSION);
  assert_int_equal(query_int(t, "SELECT count(*) FROM sqlite_schema WHERE name IN"
                                " ('hq', 'dead_letter', 'print_job')"),
                   3);
  TT_OK(t, tg_status_get(t, &st));
  assert_int_equal(st.enrolled, 0);
  assert_int_equal(st.dead_letters, 0);
  assert_int_equal(st.last_seq, 4);
  assert_int_equal(st.acked_through, 1);
  tg_terminal_close(t);
  assert_int_equal(tt_fingerprint(path), before);
  assert_int_equal(tt_check_ledger(path), 4);
  /* and it works as a current terminal: enrol, then commit */
  TT_OK(t, tg_terminal_open(path, &t));
  tg__cred c;
  char text[TG__CRED_TEXT_MAX];
  make_credential("S1", "T1", &c, text);
  TT_OK(t, enrol(t, "https://hq.example.com", text));
  TT_OK(t, tt_commit(t, 5, 2, receipt));
  assert_string_equal(receipt, "S1-T1-5");
  tg_terminal_close(t);
  tt_rmtree(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(enrol_stores_hq_and_rekeys_invites, tt_setup, tt_teardown),
      cmocka_unit_test_setup_teardown(enrol_refuses_a_damaged_credential, tt_setup, tt_teardown),
      cmocka_unit_test_setup_teardown(enrol_refuses_another_terminals_credential, tt_setup,
                                      tt_teardown),
      cmocka_unit_test_setup_teardown(hq_urls_are_https_or_loopback, tt_setup, tt_teardown),
      cmocka_unit_test_setup_teardown(enrolling_again_replaces_it, tt_setup, tt_teardown),
      cmocka_unit_test_setup_teardown(status_shows_sync_state, tt_setup, tt_teardown),
      cmocka_unit_test_setup_teardown(sync_needs_an_enrolment, tt_setup, tt_teardown),
      cmocka_unit_test_setup_teardown(one_sync_per_database, tt_setup, tt_teardown),
      cmocka_unit_test_setup_teardown(an_unreachable_hq_is_retried_then_given_up, tt_setup,
                                      tt_teardown),
      cmocka_unit_test_setup_teardown(a_stop_request_ends_a_running_sync, tt_setup, tt_teardown),
      cmocka_unit_test(a_version_2_database_is_upgraded_whole),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
