/*
 * The protocol suite: a terminal syncing to a real tillgroup-hq on loopback,
 * through a proxy that injects the network's faults. After every fault, HQ
 * must hold exactly the terminal's records: none lost, none twice, no gaps.
 * HQ runs on SQLite, or on PostgreSQL when TG_TEST_HQ names one (tests/run.sh
 * runs the suite a second time under pg_virtualenv).
 */
#include <errno.h>
#include <libpq-fe.h>
#include <signal.h>
#include <sodium.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"
#include "hq_process.h"
#include "hq_proxy.h"
#include "sync.h"

typedef struct {
  char *dir;
  char spec[4200];     /* HQ's --db */
  char hq_bin[4096];   /* build/tillgroup-hq */
  char cli_bin[4096];  /* build/tillgroup */
  pid_t hq_pid;
  int hq_port;
  tp_proxy *proxy;
  char store[TG_ID_MAX + 1];
  char path[4096]; /* the terminal's database */
  tg_terminal *t;
  int64_t epoch;
  char cred[TG__CRED_TEXT_MAX + 2]; /* the terminal's, as enrolled */
} fixture;

static int n_stores; /* each test its own store, so one PostgreSQL serves the suite */

/* Runs argv with stdout into out[0..cap) (NUL-terminated) and stderr into dir/cmd.log. Exit status. */
static int run(fixture *f, char *const argv[], char *out, size_t cap) {
  return tt_process_run(f->dir, "cmd.log", argv, NULL, out, cap);
}

/* Starts tillgroup-hq serve on a free port; fails the test if it is not listening in 10 s. */
static void hq_start(fixture *f) {
  char *argv[] = {f->hq_bin, "serve", "--db", f->spec, "--listen", "127.0.0.1:0", NULL};
  f->hq_pid = tt_process_start(f->dir, "hq.log", argv, &f->hq_port);
}

static void hq_kill(fixture *f) {
  tt_process_stop(f->hq_pid, SIGKILL);
  f->hq_pid = 0;
}

/* The proxy's kill hook: HQ dies mid-request and comes back on a new port. */
static void hq_restart(void *ctx) {
  fixture *f = ctx;
  hq_kill(f);
  hq_start(f);
  tp_set_upstream(f->proxy, f->hq_port);
}

/* Enrols store-terminal at HQ; returns the credential line in cred. */
static void hq_enrol(fixture *f, const char *store, const char *terminal, char *cred, size_t cap) {
  tt_hq_enrol(f->dir, "cmd.log", f->hq_bin, f->spec, store, terminal, cred, cap);
}

/* The terminal's HQ settings, through the proxy. */
static int terminal_enrol(fixture *f, const char *cred) {
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d", tp_port(f->proxy));
  tg_hq_config cfg = {url, cred, NULL, NULL, NULL, NULL, NULL};
  return tg_hq_enrol(f->t, &cfg);
}

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  f->dir = tt_tmpdir();
  tt_build_file("tillgroup-hq", f->hq_bin, sizeof f->hq_bin);
  tt_build_file("tillgroup", f->cli_bin, sizeof f->cli_bin);
  tt_hq_spec(f->dir, f->spec, sizeof f->spec);
  char store[32];
  snprintf(store, sizeof store, "P%dN%d", (int)(getpid() % 100000), ++n_stores);
  assert_true(strlen(store) <= TG_ID_MAX);
  memcpy(f->store, store, strlen(store) + 1);
  tg_terminal_config cfg = {f->store, "T1", "CNY", "Asia/Shanghai"};
  char detail[256];
  snprintf(f->path, sizeof f->path, "%s/t.db", f->dir);
  if (tg_terminal_init(f->path, &cfg, detail, sizeof detail) != 0)
    fail_msg("init: %s", detail);
  TT_OK(f->t, tg_terminal_open(f->path, &f->t));
  tg_terminal_info info;
  TT_OK(f->t, tg_terminal_get_info(f->t, &info));
  f->epoch = info.epoch;
  hq_start(f);
  f->proxy = tp_start(f->hq_port);
  assert_non_null(f->proxy);
  tp_on_kill(f->proxy, hq_restart, f);
  hq_enrol(f, f->store, "T1", f->cred, sizeof f->cred);
  TT_OK(f->t, terminal_enrol(f, f->cred));
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  tp_stop(f->proxy);
  hq_kill(f);
  tg_terminal_close(f->t);
  tt_rmtree(f->dir);
  free(f);
  return 0;
}

static void sell(fixture *f, uint64_t from, int n) {
  for (int i = 0; i < n; i++)
    TT_OK(f->t, tt_commit_quiet(f->t, from + (uint64_t)i));
}

/* One sync pass with short timeouts, so a stalled answer costs a second. */
static int sync_once(fixture *f) {
  tg_sync_options o = {.once = 1, .give_up_ms = 30000, .stall_s = 1};
  return tg_sync_run(f->t, &o);
}

/* ----- Reading HQ's database directly ------------------------------------- */

typedef void (*row_fn)(void *ctx, int64_t seq, const char *body, size_t n);

/* Runs sql (parameters $1.. / ?1.. bound to params as text) on HQ's database; calls fn per row of (int, text). */
static void hq_query(fixture *f, const char *sql, const char *const *params, int n_params,
                     row_fn fn, void *ctx) {
  if (strncmp(f->spec, "sqlite:", 7) == 0) {
    sqlite3 *db;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open_v2(f->spec + 7, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
      fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    for (int i = 0; i < n_params; i++)
      sqlite3_bind_text(st, i + 1, params[i], -1, SQLITE_STATIC);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
      if (fn != NULL)
        fn(ctx, sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1),
           (size_t)sqlite3_column_bytes(st, 1));
    assert_int_equal(rc, SQLITE_DONE);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return;
  }
  PGconn *pg = PQconnectdb(f->spec);
  assert_int_equal(PQstatus(pg), CONNECTION_OK);
  PGresult *r = PQexecParams(pg, sql, n_params, NULL, params, NULL, NULL, 0);
  ExecStatusType s = PQresultStatus(r);
  if (s != PGRES_TUPLES_OK && s != PGRES_COMMAND_OK)
    fail_msg("%s: %s", sql, PQerrorMessage(pg));
  for (int i = 0; fn != NULL && i < PQntuples(r); i++)
    fn(ctx, strtoll(PQgetvalue(r, i, 0), NULL, 10), PQgetvalue(r, i, 1),
       (size_t)PQgetlength(r, i, 1));
  PQclear(r);
  PQfinish(pg);
}

/* SQL for either back end: ?1 in SQLite is $1 in PostgreSQL. */
static const char *sql_for(fixture *f, const char *sqlite, const char *pg) {
  return strncmp(f->spec, "sqlite:", 7) == 0 ? sqlite : pg;
}

typedef struct {
  tg_terminal *t;
  int64_t n, next_seq;
  const char *why;
  int64_t dead_seq; /* a seq HQ holds as a dead letter instead, 0 none */
} compare;

typedef struct {
  int64_t seq;
  char *body;
  size_t n;
} one_record;

static int fetch_record(void *ctx, int64_t seq, const char *json, size_t len) {
  one_record *r = ctx;
  r->seq = seq;
  r->body = malloc(len + 1);
  memcpy(r->body, json, len);
  r->body[len] = '\0';
  r->n = len;
  return 1; /* one is enough */
}

static void compare_row(void *ctx, int64_t seq, const char *body, size_t n) {
  compare *c = ctx;
  c->n++;
  if (c->why != NULL)
    return;
  if (c->next_seq == c->dead_seq)
    c->next_seq++;
  if (seq != c->next_seq) {
    c->why = "a seq is missing or repeated";
    return;
  }
  one_record r = {0, NULL, 0};
  tg_outbox_each(c->t, seq - 1, 1, fetch_record, &r);
  if (r.seq != seq || r.n != n || memcmp(r.body, body, n) != 0)
    c->why = "a record's bytes differ from the terminal's";
  free(r.body);
  c->next_seq++;
}

/*
 * HQ holds exactly the terminal's records: seqs 1..last once each, byte for
 * byte, except dead_seq (0: none) which it keeps as a dead letter; and the
 * terminal knows it.
 */
static void assert_exactly_once(fixture *f, int64_t dead_seq) {
  int64_t dead = dead_seq != 0;
  tg_status st;
  TT_OK(f->t, tg_status_get(f->t, &st));
  assert_int_equal(st.depth, 0);
  assert_int_equal(st.acked_through, st.last_seq);
  assert_int_equal(st.dead_letters, dead);
  char epoch[32];
  snprintf(epoch, sizeof epoch, "%lld", (long long)f->epoch);
  const char *params[] = {f->store, "T1", epoch};
  compare c = {f->t, 0, 1, NULL, dead_seq};
  hq_query(f,
           sql_for(f,
                   "SELECT seq, body FROM record WHERE store = ?1 AND terminal = ?2"
                   " AND epoch = ?3 ORDER BY seq",
                   "SELECT seq, body FROM record WHERE store = $1 AND terminal = $2"
                   " AND epoch = $3::bigint ORDER BY seq"),
           params, 3, compare_row, &c);
  if (c.why != NULL)
    fail_msg("HQ: %s (record %lld)", c.why, (long long)c.next_seq);
  assert_int_equal(c.n + dead, st.last_seq);
}

/* ----- The tests ---------------------------------------------------------- */

static void a_queue_drains_in_order_and_a_second_sync_sends_nothing(void **state) {
  fixture *f = *state;
  sell(f, 1, 40);
  TT_OK(f->t, sync_once(f));
  assert_exactly_once(f, 0);
  int posts = tp_posts(f->proxy);
  TT_OK(f->t, sync_once(f));
  assert_int_equal(tp_posts(f->proxy), posts); /* nothing queued, nothing sent */
  sell(f, 41, 25);
  TT_OK(f->t, sync_once(f));
  assert_exactly_once(f, 0);
  tg_status st;
  TT_OK(f->t, tg_status_get(f->t, &st));
  assert_true(st.enrolled);
  assert_true(st.last_sync_ms > 0);
}

static void errors_and_closed_connections_are_retried_until_hq_commits(void **state) {
  fixture *f = *state;
  sell(f, 1, 30);
  const tp_action plan[] = {TP_503, TP_500, TP_CLOSE_MID_BODY, TP_STALL};
  tp_plan(f->proxy, plan, 4);
  TT_OK(f->t, sync_once(f));
  assert_int_equal(tp_posts(f->proxy), 5);
  assert_int_equal(tp_forwarded(f->proxy), 1); /* only the last attempt reached HQ */
  assert_exactly_once(f, 0);
}

static void lost_cut_garbled_or_stalled_answers_never_count_twice(void **state) {
  fixture *f = *state;
  sell(f, 1, 30);
  /* each of these reaches HQ, which commits, and the terminal never hears so */
  const tp_action plan[] = {TP_DROP_ANSWER, TP_TRUNCATE_ANSWER, TP_GARBLE_ANSWER,
                            TP_STALL_AFTER, TP_TWICE};
  tp_plan(f->proxy, plan, 5);
  TT_OK(f->t, sync_once(f));
  assert_int_equal(tp_posts(f->proxy), 5);
  assert_int_equal(tp_forwarded(f->proxy), 6);
  assert_exactly_once(f, 0);
}

static void hq_killed_mid_batch_and_restarted_loses_nothing(void **state) {
  fixture *f = *state;
  sell(f, 1, 60);
  const tp_action plan[] = {TP_KILL_HQ, TP_STALL_AFTER, TP_KILL_HQ};
  tp_plan(f->proxy, plan, 3);
  TT_OK(f->t, sync_once(f));
  assert_exactly_once(f, 0);
}

static void a_terminal_killed_mid_upload_resumes_without_duplicates(void **state) {
  fixture *f = *state;
  sell(f, 1, 50);
  const tp_action plan[] = {TP_STALL_AFTER};
  tp_plan(f->proxy, plan, 1);
  pid_t pid = fork();
  if (pid == 0) {
    execl(f->cli_bin, f->cli_bin, "--db", f->path, "sync", "--once", (char *)NULL);
    _exit(127);
  }
  for (int i = 0; i < 200 && tp_forwarded(f->proxy) < 1; i++)
    usleep(50 * 1000);
  assert_int_equal(tp_forwarded(f->proxy), 1); /* HQ committed; the answer is held */
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  tg_status st;
  TT_OK(f->t, tg_status_get(f->t, &st));
  assert_int_equal(st.acked_through, 0); /* the terminal never heard the answer */
  TT_OK(f->t, sync_once(f)); /* the killed uploader's lock went with it */
  assert_exactly_once(f, 0);
}

/* Builds the upload body of seqs from..to from the terminal's outbox. */
static size_t batch_body(fixture *f, int64_t from, int64_t to, char *body, size_t cap) {
  size_t n = 0;
  for (int64_t seq = from; seq <= to; seq++) {
    one_record r = {0, NULL, 0};
    assert_int_equal(tg_outbox_each(f->t, seq - 1, 1, fetch_record, &r), 1);
    assert_true(n + r.n + 1 < cap);
    memcpy(body + n, r.body, r.n);
    n += r.n;
    body[n++] = '\n';
    free(r.body);
  }
  return n;
}

static tg__sync_client *client_for(fixture *f, const char *cred) {
  char why[256], url[64];
  tg__cred c;
  assert_int_equal(tg__cred_parse(cred, strlen(cred), &c, why, sizeof why), 0);
  snprintf(url, sizeof url, "http://127.0.0.1:%d", f->hq_port);
  tg__sync_config cfg = {.url = url, .cred = &c};
  tg__sync_client *client;
  assert_int_equal(tg__sync_client_new(&cfg, &client, why, sizeof why), 0);
  return client;
}

static void records_above_a_gap_are_held_and_the_gap_reported(void **state) {
  fixture *f = *state;
  sell(f, 1, 20);
  /* an upload of 11..20 alone, as after HQ lost 1..10 */
  char body[65536];
  size_t n = batch_body(f, 11, 20, body, sizeof body);
  tg__sync_client *client = client_for(f, f->cred);
  tg__sync_ack ack;
  tg__sync_exchange x;
  assert_int_equal(tg__sync_upload(client, f->epoch, 11, 20, body, n, &ack, &x), TG__SYNC_OK);
  assert_int_equal(ack.acked_through, 0);
  assert_int_equal(ack.n_rejected, 0);
  assert_int_equal(ack.n_missing, 1);
  assert_int_equal(ack.missing[0][0], 1);
  assert_int_equal(ack.missing[0][1], 10);
  tg__sync_ack_free(&ack);
  tg__sync_client_free(client);
  /* the terminal sends from its checkpoint; HQ's mark walks over what it held */
  TT_OK(f->t, sync_once(f));
  assert_exactly_once(f, 0);
}

static void an_answer_beyond_the_batch_is_understood(void **state) {
  fixture *f = *state;
  sell(f, 1, 300); /* more than the terminal's first 64 KiB batch */
  /* a bigger batch than the terminal will start with reached HQ, as when an
   * uploader was killed before it heard the answer */
  static char body[1 << 20];
  size_t n = batch_body(f, 1, 300, body, sizeof body);
  assert_true(n > 64 * 1024);
  tg__sync_client *client = client_for(f, f->cred);
  tg__sync_ack ack;
  tg__sync_exchange x;
  assert_int_equal(tg__sync_upload(client, f->epoch, 1, 300, body, n, &ack, &x), TG__SYNC_OK);
  assert_int_equal(ack.acked_through, 300);
  tg__sync_ack_free(&ack);
  tg__sync_client_free(client);
  TT_OK(f->t, sync_once(f));
  assert_exactly_once(f, 0);
}

static void a_record_hq_rejects_is_kept_as_a_dead_letter_and_does_not_block(void **state) {
  fixture *f = *state;
  sell(f, 1, 10);
  /* damage record 4 as a bug would: HQ finds no total in it */
  sqlite3 *db;
  assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
  assert_int_equal(sqlite3_exec(db,
                                "UPDATE record SET body = replace(body, '\"total\":', "
                                "'\"totl\":') WHERE seq = 4",
                                NULL, NULL, NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_changes(db), 1);
  sqlite3_close(db);
  TT_OK(f->t, sync_once(f));
  assert_exactly_once(f, 4);
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
  assert_int_equal(sqlite3_prepare_v2(db, "SELECT seq, status, reason FROM dead_letter", -1, &st,
                                      NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_int_equal(sqlite3_column_int64(st, 0), 4);
  assert_string_equal((const char *)sqlite3_column_text(st, 1), "invalid");
  assert_non_null(strstr((const char *)sqlite3_column_text(st, 2), "total"));
  sqlite3_finalize(st);
  sqlite3_close(db);
  /* HQ keeps it too */
  char epoch[32];
  snprintf(epoch, sizeof epoch, "%lld", (long long)f->epoch);
  const char *params[] = {f->store, epoch};
  compare c = {f->t, 0, 4, NULL, 0};
  hq_query(f,
           sql_for(f, "SELECT seq, body FROM dead_letter WHERE store = ?1 AND epoch = ?2",
                   "SELECT seq, body FROM dead_letter WHERE store = $1 AND epoch = $2::bigint"),
           params, 2, compare_row, &c);
  assert_int_equal(c.n, 1);
  assert_null(c.why);
}

static void a_wrong_or_disabled_credential_is_refused_and_nothing_moves(void **state) {
  fixture *f = *state;
  sell(f, 1, 5);
  char cred[TG__CRED_TEXT_MAX + 2], why[256];
  hq_enrol(f, f->store, "T1", cred, sizeof cred); /* HQ now expects the new secret */
  tg__cred c;
  assert_int_equal(tg__cred_parse(cred, strlen(cred), &c, why, sizeof why), 0);
  c.secret[0] ^= 1;
  char wrong[TG__CRED_TEXT_MAX];
  assert_true(tg__cred_format(&c, wrong, sizeof wrong) > 0);
  TT_OK(f->t, terminal_enrol(f, wrong));
  assert_int_equal(sync_once(f), TG_EHQAUTH);
  tg_status st;
  TT_OK(f->t, tg_status_get(f->t, &st));
  assert_int_equal(st.acked_through, 0);
  assert_true(st.last_error[0] != '\0');
  char secret_text[64];
  sodium_bin2base64(secret_text, sizeof secret_text, c.secret, 32,
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  assert_null(strstr(st.last_error, secret_text + 1)); /* no secret in what operators see */
  /* the right one works; disabled, it is refused again */
  TT_OK(f->t, terminal_enrol(f, cred));
  char out[256];
  char *disable[] = {f->hq_bin, "disable", "--db", f->spec, f->store, "T1", NULL};
  assert_int_equal(run(f, disable, out, sizeof out), 0);
  assert_int_equal(sync_once(f), TG_EHQAUTH);
  char *enable[] = {f->hq_bin, "enable", "--db", f->spec, f->store, "T1", NULL};
  assert_int_equal(run(f, enable, out, sizeof out), 0);
  TT_OK(f->t, sync_once(f));
  assert_exactly_once(f, 0);
}

static void another_terminals_records_and_a_changed_replay_are_refused(void **state) {
  fixture *f = *state;
  sell(f, 1, 6);
  char cred_t1[TG__CRED_TEXT_MAX + 2], cred_t2[TG__CRED_TEXT_MAX + 2], body[65536];
  hq_enrol(f, f->store, "T1", cred_t1, sizeof cred_t1);
  hq_enrol(f, f->store, "T2", cred_t2, sizeof cred_t2);
  size_t n = batch_body(f, 1, 6, body, sizeof body);
  tg__sync_ack ack;
  tg__sync_exchange x;
  /* T2's credential carrying T1's records */
  tg__sync_client *t2 = client_for(f, cred_t2);
  assert_int_equal(tg__sync_upload(t2, f->epoch, 1, 6, body, n, &ack, &x), TG__SYNC_AUTH);
  assert_int_equal(x.http_status, 403);
  tg__sync_client_free(t2);
  /* T1 uploads 1..6, then replays the key with a changed body */
  tg__sync_client *t1 = client_for(f, cred_t1);
  assert_int_equal(tg__sync_upload(t1, f->epoch, 1, 6, body, n, &ack, &x), TG__SYNC_OK);
  assert_int_equal(ack.acked_through, 6);
  tg__sync_ack_free(&ack);
  char *total = strstr(body, "\"total\":");
  assert_non_null(total);
  total[8] = total[8] == '9' ? '8' : '9';
  assert_int_equal(tg__sync_upload(t1, f->epoch, 1, 6, body, n, &ack, &x), TG__SYNC_REFUSED);
  assert_int_equal(x.http_status, 409);
  tg__sync_client_free(t1);
  /* HQ still holds the originals: the terminal's sync agrees byte for byte */
  TT_OK(f->t, terminal_enrol(f, cred_t1));
  TT_OK(f->t, sync_once(f));
  assert_exactly_once(f, 0);
}

static void a_signed_bundle_is_applied_and_a_tampered_one_refused(void **state) {
  fixture *f = *state;
  char out[512], file[4200];
  snprintf(file, sizeof file, "%s/bundle.json", f->dir);
  size_t n;
  char *json, why[256];
  assert_int_equal(tg__file_read("tests/bundles/store-s1.json", 1 << 20, &json, &n, why,
                                 sizeof why),
                   0);
  FILE *fp = fopen(file, "w");
  fwrite(json, 1, n, fp);
  fclose(fp);
  free(json);
  char *publish[] = {f->hq_bin, "bundle", "publish", "--db", f->spec, "--store", f->store, file,
                     NULL};
  assert_int_equal(run(f, publish, out, sizeof out), 0);
  TT_OK(f->t, sync_once(f));
  tg_bundle_info info;
  TT_OK(f->t, tg_bundle_get_info(f->t, &info));
  assert_true(info.version >= 1);
  assert_string_equal(info.store, f->store);
  int64_t applied = info.version;
  /* the next one is changed at HQ after signing: the terminal keeps the old */
  assert_int_equal(run(f, publish, out, sizeof out), 0);
  hq_query(f,
           sql_for(f, "UPDATE bundle SET body = replace(body, '\"format\":1', '\"format\": 1')",
                   "UPDATE bundle SET body = convert_to(replace(convert_from(body, 'UTF8'),"
                   " '\"format\":1', '\"format\": 1'), 'UTF8')"),
           NULL, 0, NULL, NULL);
  assert_int_equal(sync_once(f), TG_EBUNDLE);
  TT_OK(f->t, tg_bundle_get_info(f->t, &info));
  assert_int_equal(info.version, applied);
}

static void an_unreachable_hq_is_reported_and_the_queue_kept(void **state) {
  fixture *f = *state;
  sell(f, 1, 3);
  hq_kill(f);
  tg_sync_options o = {.once = 1, .give_up_ms = 1500, .stall_s = 1};
  assert_int_equal(tg_sync_run(f->t, &o), TG_EOFFLINE);
  tg_status st;
  TT_OK(f->t, tg_status_get(f->t, &st));
  assert_int_equal(st.depth, 3);
  assert_true(st.last_error_ms > 0);
  assert_true(st.last_error[0] != '\0');
  hq_start(f);
  tp_set_upstream(f->proxy, f->hq_port);
  TT_OK(f->t, sync_once(f));
  assert_exactly_once(f, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(a_queue_drains_in_order_and_a_second_sync_sends_nothing,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(errors_and_closed_connections_are_retried_until_hq_commits,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(lost_cut_garbled_or_stalled_answers_never_count_twice,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(hq_killed_mid_batch_and_restarted_loses_nothing, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(a_terminal_killed_mid_upload_resumes_without_duplicates,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(records_above_a_gap_are_held_and_the_gap_reported, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(an_answer_beyond_the_batch_is_understood, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(
          a_record_hq_rejects_is_kept_as_a_dead_letter_and_does_not_block, setup, teardown),
      cmocka_unit_test_setup_teardown(
          a_wrong_or_disabled_credential_is_refused_and_nothing_moves, setup, teardown),
      cmocka_unit_test_setup_teardown(
          another_terminals_records_and_a_changed_replay_are_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(a_signed_bundle_is_applied_and_a_tampered_one_refused,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(an_unreachable_hq_is_reported_and_the_queue_kept, setup,
                                      teardown),
  };
  signal(SIGPIPE, SIG_IGN);
  if (sodium_init() < 0)
    return 1;
  return cmocka_run_group_tests(tests, NULL, NULL);
}
