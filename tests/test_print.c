/* The print queue on file and network printers: exact bytes, COPY after a cut job, sales go on. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "drivers.h"
#include "helpers.h"
#include "net_printer.h"

#define NET_TIMEOUT_MS 2000   /* a printer on loopback that answers does so at once */
#define STALL_TIMEOUT_MS 300  /* for the printers that never answer */
#define STATUS_ROUND 9        /* DLE EOT 1, 2 and 4 before a job: 3 bytes each */
#define DRAWER_KICK "\x1b\x70\x00\x19\xfa" /* ESC p, pin 2, 50 ms on, 500 ms off */
#define PATH_CAP 4200         /* a fixture folder (4096) and a file name */
#define SPEC_CAP (PATH_CAP + 8) /* "file:" and the path */

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The ESC/POS bytes receipt prints as under the default settings, marked COPY when copy. */
static void render(tg_terminal *t, const char *receipt, int copy, tg__buf *out) {
  tg__receipt_config c;
  int64_t n;
  out->n = 0;
  TT_OK(t, tg__receipt_parse(t, receipt, &n));
  tg__receipt_config_default(&c, 58);
  TT_OK(t, tg__print_render(t, n, &c, copy, out));
  assert_true(out->n > 0);
}

/* The words a cashier gets for st on this till's receipts. */
static const char *blocker_words(tg_terminal *t, const tg__status *st) {
  tg__receipt_config c;
  tg__receipt_config_default(&c, 58);
  return tg__status_blocker(st, tg__receipt_zh(&c, &t->info));
}

/* Fails unless got[0..n) is exactly want. */
static void same_bytes(const char *what, const unsigned char *got, size_t n, const tg__buf *want) {
  if (n != want->n || memcmp(got, want->p, n) != 0) {
    size_t i = 0;
    while (i < n && i < want->n && got[i] == want->p[i])
      i++;
    fail_msg("%s: %zu bytes, want %zu; first difference at byte %zu", what, n, want->n, i);
  }
}

/* Fails unless the file at path holds exactly want. */
static void file_is(const char *path, const tg__buf *want) {
  char *s, why[300];
  size_t n;
  if (tg__file_read(path, 8 << 20, &s, &n, why, sizeof why) != 0)
    fail_msg("%s", why);
  same_bytes(path, (const unsigned char *)s, n, want);
  free(s);
}

/* Fails unless the network printer has received exactly want since it was last cleared. */
static void net_got(tt_net_printer *np, const tg__buf *want) {
  size_t cap = want->n + 4096;
  unsigned char *got = malloc(cap);
  assert_non_null(got);
  size_t n = tt_net_printer_received(np, got, cap);
  same_bytes("network printer", got, n < cap ? n : cap, want);
  free(got);
}

/* One pass on o prints receipt (marked COPY when copy) onto np byte for byte, and nothing waits. */
static void prints_exactly(tg_terminal *t, const tg_print_options *o, tt_net_printer *np,
                           const char *receipt, int copy) {
  tg_print_result res;
  tg__buf want = {0};
  TT_OK(t, tg_print_pending(t, o, &res));
  assert_int_equal(res.printed, 1);
  assert_int_equal(res.waiting, 0);
  render(t, receipt, copy, &want);
  net_got(np, &want);
  tg__buf_free(&want);
}

static int64_t waiting(tg_terminal *t) {
  tg_status st;
  TT_OK(t, tg_status_get(t, &st));
  return st.print_waiting;
}

/* One row of print_job as the store holds it. */
typedef struct {
  int64_t receipt_no;
  int copy, started, attempts, printed;
  char last_error[TG_DETAIL_MAX]; /* "" when NULL */
  int has_error;
} job_row;

static void job(tg_terminal *t, int64_t id, job_row *out) {
  sqlite3_stmt *st;
  memset(out, 0, sizeof *out);
  assert_int_equal(sqlite3_prepare_v2(t->db,
                                      "SELECT receipt_no, copy, started, attempts, last_error,"
                                      " printed_ms IS NOT NULL FROM print_job WHERE id = ?1",
                                      -1, &st, NULL),
                   SQLITE_OK);
  sqlite3_bind_int64(st, 1, id);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  out->receipt_no = sqlite3_column_int64(st, 0);
  out->copy = sqlite3_column_int(st, 1);
  out->started = sqlite3_column_int(st, 2);
  out->attempts = sqlite3_column_int(st, 3);
  out->has_error = sqlite3_column_type(st, 4) != SQLITE_NULL;
  if (out->has_error)
    snprintf(out->last_error, sizeof out->last_error, "%s", sqlite3_column_text(st, 4));
  out->printed = sqlite3_column_int(st, 5);
  sqlite3_finalize(st);
}

/* Everything the print queue holds, as text, to show a refused call changed nothing. */
static char *queue_dump(tg_terminal *t) {
  sqlite3_stmt *st;
  char *s;
  assert_int_equal(sqlite3_prepare_v2(t->db,
                                      "SELECT coalesce(group_concat(id || ',' || receipt_no || ','"
                                      " || copy || ',' || started || ',' || attempts || ','"
                                      " || coalesce(last_error, '-') || ',' || queued_ms || ','"
                                      " || coalesce(printed_ms, '-'), ';'), '') FROM"
                                      " (SELECT * FROM print_job ORDER BY id)",
                                      -1, &st, NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  s = strdup((const char *)sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  assert_non_null(s);
  return s;
}

/* Commits sale i (3 lines) and queues its receipt; *id gets the job. */
static void sell_and_queue(tg_terminal *t, uint64_t i, char receipt[TG_RECEIPT_MAX], int64_t *id) {
  TT_OK(t, tt_commit(t, i, 3, receipt));
  TT_OK(t, tg_print_enqueue(t, receipt, 0, id));
  assert_true(*id > 0);
}

/* "file:DIR/name" into spec and the path into path. */
static void file_printer(const tt_fixture *fx, const char *name, char spec[SPEC_CAP],
                         char path[PATH_CAP]) {
  snprintf(path, PATH_CAP, "%.4096s/%.64s", fx->dir, name);
  snprintf(spec, SPEC_CAP, "file:%s", path);
}

/* A receipt queued for a file printer prints as its exact bytes, once; a copy asked is marked. */
static void a_queued_receipt_prints_once_on_a_file_printer(void **state) {
  tt_fixture *fx = *state;
  tg_terminal *t = fx->t;
  char receipt[TG_RECEIPT_MAX], spec[SPEC_CAP], path[PATH_CAP];
  int64_t id, id2;
  tg_print_result res;
  tg__buf want = {0}, copy = {0};
  job_row row;
  file_printer(fx, "lp0", spec, path);
  tg_print_options o = {spec, NULL, 0};
  /* nothing queued: nothing printed, no printer opened, no file made */
  TT_OK(t, tg_print_pending(t, &o, &res));
  assert_int_equal(res.printed, 0);
  assert_int_equal(res.waiting, 0);
  assert_string_equal(res.printer, "");
  assert_int_equal(access(path, F_OK), -1);
  sell_and_queue(t, 1, receipt, &id);
  assert_int_equal(waiting(t), 1);
  job(t, id, &row);
  assert_int_equal(row.copy, 0);
  assert_int_equal(row.started, 0);
  assert_int_equal(row.attempts, 0);
  assert_false(row.printed);
  TT_OK(t, tg_print_pending(t, &o, &res));
  assert_int_equal(res.printed, 1);
  assert_int_equal(res.waiting, 0);
  assert_string_equal(res.printer, spec);
  assert_int_equal(waiting(t), 0);
  render(t, receipt, 0, &want);
  render(t, receipt, 1, &copy);
  assert_true(want.n != copy.n || memcmp(want.p, copy.p, want.n) != 0); /* the mark shows */
  file_is(path, &want);
  job(t, id, &row);
  assert_true(row.printed);
  assert_false(row.has_error);
  assert_int_equal(row.started, 1);
  /* a second pass has nothing to print */
  TT_OK(t, tg_print_pending(t, &o, &res));
  assert_int_equal(res.printed, 0);
  assert_int_equal(res.waiting, 0);
  file_is(path, &want);
  /* a reprint asked for prints marked COPY after it */
  TT_OK(t, tg_print_enqueue(t, receipt, 1, &id2));
  assert_true(id2 > id);
  job(t, id2, &row);
  assert_int_equal(row.copy, 1);
  assert_int_equal(waiting(t), 1);
  TT_OK(t, tg_print_pending(t, &o, &res));
  assert_int_equal(res.printed, 1);
  TT_OK(t, tg__buf_add(&want, copy.p, copy.n));
  file_is(path, &want);
  tg__buf_free(&want);
  tg__buf_free(&copy);
}

/* Status answers that stop a printer: the receipt waits unsent, then prints whole, unmarked. */
static void a_held_printer_gets_no_bytes_and_prints_the_original_later(void **state) {
  tt_fixture *fx = *state;
  tg_terminal *t = fx->t;
  static const struct {
    const char *what;
    unsigned char b[5]; /* the answer to DLE EOT n, 1..4 */
  } cases[] = {
      {"paper end", {0, 0x12, 0x12, 0x12, 0x72}},
      {"paper end stop", {0, 0x12, 0x32, 0x12, 0x12}},
      {"cover open", {0, 0x12, 0x16, 0x12, 0x12}},
      {"offline", {0, 0x1A, 0x12, 0x12, 0x12}},
      {"cutter jammed", {0, 0x12, 0x52, 0x1A, 0x12}},
  };
  tt_net_printer *np = tt_net_printer_start();
  assert_non_null(np);
  tg_print_options o = {tt_net_printer_spec(np), NULL, NET_TIMEOUT_MS};
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    char receipt[TG_RECEIPT_MAX];
    int64_t id;
    tg_print_result res;
    tg__status st;
    tg__buf want = {0};
    tg_receipt *r;
    job_row row;
    memset(&st, 0, sizeof st);
    for (int n = 1; n <= 4; n++) {
      tt_net_printer_status(np, n, cases[k].b[n]);
      assert_int_equal(tg__status_decode(n, cases[k].b[n], &st), 0);
    }
    const char *words = blocker_words(t, &st);
    assert_non_null(words);
    tt_net_printer_clear(np);
    sell_and_queue(t, 10 + k, receipt, &id);
    assert_int_equal(tg_print_pending(t, &o, &res), TG_EPRINTER);
    assert_int_equal(res.printed, 0);
    assert_int_equal(res.waiting, 1);
    assert_string_equal(res.printer, tt_net_printer_spec(np));
    if (strcmp(tg_last_detail(t), words) != 0)
      fail_msg("%s: detail \"%s\", want \"%s\"", cases[k].what, tg_last_detail(t), words);
    if (k == 0) /* a till in CNY tells its cashier in Chinese */
      assert_non_null(strstr(tg_last_detail(t), "缺纸"));
    assert_int_equal(tt_net_printer_received(np, NULL, 0), 0); /* status requests only */
    job(t, id, &row);
    assert_int_equal(row.started, 0);
    assert_int_equal(row.attempts, 1);
    assert_false(row.printed);
    assert_string_equal(row.last_error, words);
    /* the sale is committed whatever the printer says */
    TT_OK(t, tg_receipt_load(t, receipt, &r));
    assert_string_equal(r->receipt, receipt);
    tg_receipt_free(r);
    assert_int_equal(tt_check_ledger(fx->path), (int64_t)k + 1);
    /* the cashier fixes it: printed whole, never marked COPY */
    for (int n = 1; n <= 4; n++)
      tt_net_printer_status(np, n, 0x12);
    prints_exactly(t, &o, np, receipt, 0);
    job(t, id, &row);
    assert_true(row.printed);
    assert_false(row.has_error);
    tg__buf_free(&want);
  }
  /* paper near its end and an open drawer do not stop a receipt */
  char receipt[TG_RECEIPT_MAX];
  int64_t id;
  tt_net_printer_status(np, 1, 0x16);
  tt_net_printer_status(np, 4, 0x1E);
  tt_net_printer_clear(np);
  sell_and_queue(t, 20, receipt, &id);
  prints_exactly(t, &o, np, receipt, 0);
  tt_net_printer_stop(np);
}

/* A printer that drops the connection mid-job: the job waits started, then prints as COPY. */
static void a_job_cut_mid_way_prints_again_as_copy(void **state) {
  tt_fixture *fx = *state;
  tg_terminal *t = fx->t;
  char receipt[TG_RECEIPT_MAX];
  int64_t id;
  tg_print_result res;
  tg__buf want = {0}, copy = {0};
  unsigned char got[200];
  job_row row;
  tt_net_printer *np = tt_net_printer_start();
  assert_non_null(np);
  tg_print_options o = {tt_net_printer_spec(np), NULL, NET_TIMEOUT_MS};
  sell_and_queue(t, 1, receipt, &id);
  render(t, receipt, 0, &want);
  render(t, receipt, 1, &copy);
  assert_true(want.n > 100);
  tt_net_printer_mode(np, TT_NET_CLOSE, STATUS_ROUND + 100);
  assert_int_equal(tg_print_pending(t, &o, &res), TG_EPRINTER);
  assert_int_equal(res.printed, 0);
  assert_int_equal(res.waiting, 1);
  /* the printer took the first 100 bytes of the original */
  assert_int_equal(tt_net_printer_received(np, got, sizeof got), 100);
  assert_memory_equal(got, want.p, 100);
  job(t, id, &row);
  assert_int_equal(row.started, 1);
  assert_false(row.printed);
  assert_true(row.has_error);
  assert_string_equal(row.last_error, tg_last_detail(t));
  assert_non_null(strstr(row.last_error, "closed the connection"));
  assert_int_equal(waiting(t), 1);
  /* back: the whole receipt again, marked COPY */
  tt_net_printer_mode(np, TT_NET_OK, 0);
  tt_net_printer_clear(np);
  TT_OK(t, tg_print_pending(t, &o, &res));
  assert_int_equal(res.printed, 1);
  assert_int_equal(res.waiting, 0);
  net_got(np, &copy);
  job(t, id, &row);
  assert_true(row.printed);
  assert_false(row.has_error);
  tt_net_printer_stop(np);
  tg__buf_free(&want);
  tg__buf_free(&copy);
}

/*
 * A printer on loopback that answers its status requests from a script, in
 * turn, and leaves every request after the script unanswered: for a printer
 * whose state changes at a known point of a job (paper runs out while it
 * prints, it stops answering once it has the job). It takes one connection.
 */
typedef struct {
  int listener, stop[2];
  char spec[64];
  pthread_t thread;
  const unsigned char *answers;
  size_t n_answers;
  size_t n_job; /* job bytes read (requests left out); read it after scripted_stop() */
} scripted;

static void *scripted_run(void *arg) {
  scripted *s = arg;
  struct pollfd f[2] = {{s->listener, POLLIN, 0}, {s->stop[0], POLLIN, 0}};
  if (poll(f, 2, 10000) <= 0 || f[1].revents != 0)
    return NULL;
  int fd = accept(s->listener, NULL, NULL), state = 0; /* 1 after DLE, 2 after DLE EOT */
  size_t asked = 0;
  f[0].fd = fd;
  while (fd >= 0 && poll(f, 2, 10000) > 0 && f[1].revents == 0) {
    unsigned char b[4096];
    ssize_t k = recv(fd, b, sizeof b, 0);
    if (k <= 0)
      break;
    for (ssize_t i = 0; i < k; i++) {
      if (state == 2 && b[i] >= 1 && b[i] <= 4) {
        if (asked < s->n_answers)
          (void)!send(fd, &s->answers[asked], 1, MSG_NOSIGNAL);
        asked++;
        state = 0;
      } else if (state == 1 && b[i] == 0x04) {
        state = 2;
      } else {
        s->n_job += (size_t)state + (b[i] != 0x10);
        state = b[i] == 0x10;
      }
    }
  }
  if (fd >= 0)
    close(fd);
  return NULL;
}

static void scripted_start(scripted *s, const unsigned char *answers, size_t n) {
  struct sockaddr_in a = {0};
  socklen_t len = sizeof a;
  memset(s, 0, sizeof *s);
  s->answers = answers;
  s->n_answers = n;
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  s->listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_true(s->listener >= 0);
  assert_int_equal(bind(s->listener, (struct sockaddr *)&a, sizeof a), 0);
  assert_int_equal(listen(s->listener, 1), 0);
  assert_int_equal(getsockname(s->listener, (struct sockaddr *)&a, &len), 0);
  assert_int_equal(pipe(s->stop), 0);
  snprintf(s->spec, sizeof s->spec, "tcp://127.0.0.1:%d", ntohs(a.sin_port));
  assert_int_equal(pthread_create(&s->thread, NULL, scripted_run, s), 0);
}

static void scripted_stop(scripted *s) {
  (void)!write(s->stop[1], "x", 1);
  pthread_join(s->thread, NULL);
  close(s->listener);
  close(s->stop[0]);
  close(s->stop[1]);
}

/* Paper runs out while a receipt prints: all of it went, it waits, then prints again as COPY. */
static void paper_running_out_mid_job_reprints_as_copy(void **state) {
  tt_fixture *fx = *state;
  tg_terminal *t = fx->t;
  /* DLE EOT 1, 2, 4 before the job all clear; after it, 1 and 2 clear, 4 paper end */
  static const unsigned char answers[] = {0x12, 0x12, 0x12, 0x12, 0x12, 0x72};
  char receipt[TG_RECEIPT_MAX];
  int64_t id;
  tg_print_result res;
  tg__buf want = {0};
  tg__status st;
  job_row row;
  scripted s;
  sell_and_queue(t, 1, receipt, &id);
  render(t, receipt, 0, &want);
  scripted_start(&s, answers, sizeof answers);
  tg_print_options so = {s.spec, NULL, NET_TIMEOUT_MS};
  assert_int_equal(tg_print_pending(t, &so, &res), TG_EPRINTER);
  scripted_stop(&s);
  assert_int_equal(res.printed, 0);
  assert_int_equal(res.waiting, 1);
  assert_int_equal(s.n_job, want.n); /* the whole receipt went before the paper ran out */
  memset(&st, 0, sizeof st);
  assert_int_equal(tg__status_decode(4, 0x72, &st), 0);
  assert_string_equal(tg_last_detail(t), blocker_words(t, &st));
  job(t, id, &row);
  assert_int_equal(row.started, 1);
  assert_false(row.printed);
  assert_string_equal(row.last_error, blocker_words(t, &st));
  /* a new roll: the receipt again, marked COPY */
  tt_net_printer *np = tt_net_printer_start();
  assert_non_null(np);
  tg_print_options o = {tt_net_printer_spec(np), NULL, NET_TIMEOUT_MS};
  prints_exactly(t, &o, np, receipt, 1);
  tt_net_printer_stop(np);
  tg__buf_free(&want);
}

/* print_job.attempts counts the tries at a job: one per pass that tried it. */
static void each_try_at_a_job_counts_once(void **state) {
  tt_fixture *fx = *state;
  tg_terminal *t = fx->t;
  static const unsigned char answers[] = {0x12, 0x12, 0x12, 0x12, 0x12, 0x72};
  char receipt[TG_RECEIPT_MAX];
  int64_t id;
  tg_print_result res;
  job_row row;
  scripted s;
  sell_and_queue(t, 1, receipt, &id);
  /* held before the job: one try */
  tt_net_printer *np = tt_net_printer_start();
  assert_non_null(np);
  tt_net_printer_status(np, 2, 0x16);
  tg_print_options o = {tt_net_printer_spec(np), NULL, NET_TIMEOUT_MS};
  assert_int_equal(tg_print_pending(t, &o, &res), TG_EPRINTER);
  tt_net_printer_stop(np);
  job(t, id, &row);
  assert_int_equal(row.attempts, 1);
  /* the paper runs out while it prints: a second try */
  scripted_start(&s, answers, sizeof answers);
  tg_print_options so = {s.spec, NULL, NET_TIMEOUT_MS};
  assert_int_equal(tg_print_pending(t, &so, &res), TG_EPRINTER);
  scripted_stop(&s);
  job(t, id, &row);
  assert_int_equal(row.started, 1);
  assert_int_equal(row.attempts, 2);
}

/* A printer that stops reading: the call returns within its timeout and the receipt waits. */
static void a_stalled_printer_is_given_up_on_in_time(void **state) {
  tt_fixture *fx = *state;
  tg_terminal *t = fx->t;
  char receipt[TG_RECEIPT_MAX], receipt2[TG_RECEIPT_MAX];
  int64_t id, id2, t0;
  tg_print_result res;
  tg__buf want = {0};
  job_row row;
  tt_net_printer *np = tt_net_printer_start();
  assert_non_null(np);
  /* stalled from the start: the status request goes unanswered, nothing of the job is sent */
  tt_net_printer_mode(np, TT_NET_STALL, 0);
  tg_print_options o = {tt_net_printer_spec(np), NULL, STALL_TIMEOUT_MS};
  sell_and_queue(t, 1, receipt, &id);
  t0 = mono_ms();
  assert_int_equal(tg_print_pending(t, &o, &res), TG_EPRINTER);
  int64_t took = mono_ms() - t0;
  if (took < STALL_TIMEOUT_MS - 50 || took > 5 * STALL_TIMEOUT_MS)
    fail_msg("gave up after %lld ms, timeout %d ms", (long long)took, STALL_TIMEOUT_MS);
  assert_int_equal(res.printed, 0);
  assert_int_equal(res.waiting, 1);
  assert_int_equal(tt_net_printer_received(np, NULL, 0), 0);
  job(t, id, &row);
  assert_int_equal(row.started, 0);
  assert_string_equal(row.last_error, "the network printer did not answer");
  /* nothing reached the printer, so the receipt is no copy when it prints */
  tt_net_printer_mode(np, TT_NET_OK, 0);
  tt_net_printer_clear(np);
  o.timeout_ms = NET_TIMEOUT_MS;
  prints_exactly(t, &o, np, receipt, 0);
  /* answers before the job, then never again: started, so it prints again as COPY */
  static const unsigned char before_job[] = {0x12, 0x12, 0x12};
  scripted s;
  scripted_start(&s, before_job, sizeof before_job);
  sell_and_queue(t, 2, receipt2, &id2);
  tg_print_options so = {s.spec, NULL, STALL_TIMEOUT_MS};
  t0 = mono_ms();
  assert_int_equal(tg_print_pending(t, &so, &res), TG_EPRINTER);
  took = mono_ms() - t0;
  if (took < STALL_TIMEOUT_MS - 50 || took > 5 * STALL_TIMEOUT_MS)
    fail_msg("gave up after %lld ms, timeout %d ms", (long long)took, STALL_TIMEOUT_MS);
  assert_int_equal(res.waiting, 1);
  scripted_stop(&s);
  render(t, receipt2, 0, &want);
  assert_int_equal(s.n_job, want.n);
  job(t, id2, &row);
  assert_int_equal(row.started, 1);
  assert_false(row.printed);
  assert_string_equal(row.last_error, "the network printer did not answer");
  tt_net_printer_clear(np);
  prints_exactly(t, &o, np, receipt2, 1);
  tt_net_printer_stop(np);
  tg__buf_free(&want);
}

/* The queue is in the store: a restart keeps a waiting job, and whether it had started. */
static void waiting_jobs_survive_a_restart(void **state) {
  tt_fixture *fx = *state;
  char receipt[TG_RECEIPT_MAX], receipt2[TG_RECEIPT_MAX], spec[SPEC_CAP], path[PATH_CAP];
  int64_t id, id2;
  tg_print_result res;
  tg__buf want = {0}, copy = {0};
  job_row row;
  tt_net_printer *np = tt_net_printer_start();
  assert_non_null(np);
  sell_and_queue(fx->t, 1, receipt, &id);
  sell_and_queue(fx->t, 2, receipt2, &id2);
  /* the second is cut mid-way: the first prints, the second waits started */
  render(fx->t, receipt, 0, &want);
  /* status, the first job, status after it, status before the second, 50 bytes of it */
  tt_net_printer_mode(np, TT_NET_CLOSE, STATUS_ROUND + want.n + 2 * STATUS_ROUND + 50);
  tg_print_options no = {tt_net_printer_spec(np), NULL, NET_TIMEOUT_MS};
  assert_int_equal(tg_print_pending(fx->t, &no, &res), TG_EPRINTER);
  assert_int_equal(res.printed, 1);
  assert_int_equal(res.waiting, 1);
  tt_net_printer_stop(np);
  job(fx->t, id2, &row);
  assert_int_equal(row.started, 1);
  /* restart, and a receipt queued just before it */
  char receipt3[TG_RECEIPT_MAX];
  int64_t id3;
  sell_and_queue(fx->t, 3, receipt3, &id3);
  tg_terminal_close(fx->t);
  fx->t = NULL;
  TT_OK(fx->t, tg_terminal_open(fx->path, &fx->t));
  tg_terminal *t = fx->t;
  assert_int_equal(waiting(t), 2);
  job(t, id3, &row);
  assert_int_equal(row.started, 0);
  assert_false(row.printed);
  file_printer(fx, "lp0", spec, path);
  tg_print_options o = {spec, NULL, 0};
  TT_OK(t, tg_print_pending(t, &o, &res));
  assert_int_equal(res.printed, 2);
  assert_int_equal(res.waiting, 0);
  render(t, receipt2, 1, &copy);
  render(t, receipt3, 0, &want);
  TT_OK(t, tg__buf_add(&copy, want.p, want.n));
  file_is(path, &copy);
  tg__buf_free(&want);
  tg__buf_free(&copy);
}

/* A printer nobody answers on never stops a sale; what waits prints later in receipt order. */
static void sales_go_on_while_the_printer_is_unreachable(void **state) {
  tt_fixture *fx = *state;
  tg_terminal *t = fx->t;
  char receipt[2][TG_RECEIPT_MAX], unreachable[64], spec[SPEC_CAP], path[PATH_CAP];
  int64_t id[2];
  tg_print_result res;
  tg__buf want = {0}, b = {0};
  job_row row;
  /* a loopback port nobody listens on */
  struct sockaddr_in a = {0};
  socklen_t len = sizeof a;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_true(fd >= 0);
  assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
  assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
  close(fd);
  snprintf(unreachable, sizeof unreachable, "tcp://127.0.0.1:%d", ntohs(a.sin_port));
  tg_print_options o = {unreachable, NULL, NET_TIMEOUT_MS};
  for (int i = 0; i < 2; i++) {
    sell_and_queue(t, (uint64_t)i + 1, receipt[i], &id[i]);
    int64_t t0 = mono_ms();
    assert_int_equal(tg_print_pending(t, &o, &res), TG_EPRINTER);
    assert_true(mono_ms() - t0 < NET_TIMEOUT_MS);
    assert_int_equal(res.printed, 0);
    assert_int_equal(res.waiting, i + 1);
    assert_string_equal(res.printer, "");
    assert_non_null(strstr(tg_last_detail(t), "cannot reach"));
    assert_int_equal(tt_check_ledger(fx->path), i + 1);
  }
  for (int i = 0; i < 2; i++) {
    job(t, id[i], &row);
    assert_int_equal(row.started, 0);
    assert_false(row.printed);
  }
  file_printer(fx, "lp0", spec, path);
  o.printer = spec;
  TT_OK(t, tg_print_pending(t, &o, &res));
  assert_int_equal(res.printed, 2);
  assert_int_equal(res.waiting, 0);
  for (int i = 0; i < 2; i++) {
    render(t, receipt[i], 0, &b);
    TT_OK(t, tg__buf_add(&want, b.p, b.n));
  }
  file_is(path, &want);
  tg__buf_free(&want);
  tg__buf_free(&b);
}

/* The drawer kick is ESC p on pin 2, and nothing else; the queue is left alone. */
static void the_drawer_kick_is_exactly_esc_p(void **state) {
  tt_fixture *fx = *state;
  tg_terminal *t = fx->t;
  char receipt[TG_RECEIPT_MAX], spec[SPEC_CAP], path[PATH_CAP];
  int64_t id;
  tg__buf want = {0};
  unsigned char got[16];
  file_printer(fx, "lp0", spec, path);
  sell_and_queue(t, 1, receipt, &id);
  tg_print_options o = {spec, NULL, 0};
  TT_OK(t, tg_drawer_open(t, &o));
  TT_OK(t, tg__buf_add(&want, DRAWER_KICK, 5));
  file_is(path, &want);
  TT_OK(t, tg_drawer_open(t, &o));
  TT_OK(t, tg__buf_add(&want, DRAWER_KICK, 5));
  file_is(path, &want);
  assert_int_equal(waiting(t), 1);
  /* on a network printer too */
  tt_net_printer *np = tt_net_printer_start();
  assert_non_null(np);
  tg_print_options no = {tt_net_printer_spec(np), NULL, NET_TIMEOUT_MS};
  TT_OK(t, tg_drawer_open(t, &no));
  /* the printer thread may still be reading: wait for it, boundedly */
  for (int64_t t0 = mono_ms(); tt_net_printer_received(np, NULL, 0) < 5 && mono_ms() - t0 < 2000;)
    usleep(1000);
  assert_int_equal(tt_net_printer_received(np, got, sizeof got), 5);
  assert_memory_equal(got, DRAWER_KICK, 5);
  char gone[64];
  snprintf(gone, sizeof gone, "%s", tt_net_printer_spec(np));
  tt_net_printer_stop(np);
  no.printer = gone;
  assert_int_equal(tg_drawer_open(t, &no), TG_EPRINTER);
  assert_non_null(strstr(tg_last_detail(t), "cannot reach"));
  assert_int_equal(waiting(t), 1);
  tg__buf_free(&want);
}

/* Malformed printer names and settings are refused as such and leave the queue as it was. */
static void bad_printer_names_are_refused_and_change_nothing(void **state) {
  tt_fixture *fx = *state;
  tg_terminal *t = fx->t;
  static const char *const bad[] = {
      "",           "lpt1",     "usb:",        "usb:04b8",          "usb:zz:01",
      "tcp://",     "tcp://host:0", "tcp://host:99999", "tcp://h:9100/x", "tcp://[::1",
      "file:",      "serial:/dev/ttyS0", "FILE:/tmp/x"};
  char receipt[TG_RECEIPT_MAX];
  int64_t id;
  tg_print_result res;
  sell_and_queue(t, 1, receipt, &id);
  uint64_t ledger = tt_fingerprint(fx->path);
  char *before = queue_dump(t);
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    tg_print_options o = {bad[i], NULL, 100};
    int rc = tg_print_pending(t, &o, &res);
    if (rc != TG_EINVAL)
      fail_msg("\"%s\": %s, want TG_EINVAL", bad[i], tg_err_name(rc));
    assert_true(tg_last_detail(t)[0] != '\0');
    assert_int_equal(res.printed, 0);
    assert_int_equal(res.waiting, 1);
    assert_string_equal(res.printer, "");
    assert_int_equal(tg_drawer_open(t, &o), TG_EINVAL);
    char *now = queue_dump(t);
    assert_string_equal(now, before);
    free(now);
  }
  /* settings that are not there (the file reader's TG_ENOENT), or malformed */
  char spec[SPEC_CAP], path[PATH_CAP], ini[PATH_CAP];
  file_printer(fx, "lp0", spec, path);
  snprintf(ini, sizeof ini, "%.4096s/no-such.ini", fx->dir);
  tg_print_options o = {spec, ini, 0};
  assert_int_equal(tg_print_pending(t, &o, &res), TG_ENOENT);
  assert_int_equal(res.printed, 0);
  assert_int_equal(res.waiting, 1); /* told even when nothing could be tried */
  assert_non_null(strstr(tg_last_detail(t), "no-such.ini"));
  snprintf(ini, sizeof ini, "%.4096s/bad.ini", fx->dir);
  FILE *f = fopen(ini, "w");
  assert_non_null(f);
  fputs("[printer]\nnot a setting\n", f);
  assert_int_equal(fclose(f), 0);
  assert_int_equal(tg_print_pending(t, &o, &res), TG_EINVAL);
  assert_int_equal(res.printed, 0);
  assert_int_equal(res.waiting, 1);
  assert_non_null(strstr(tg_last_detail(t), "bad.ini line 2"));
  assert_int_equal(access(path, F_OK), -1);
  char *now = queue_dump(t);
  assert_string_equal(now, before);
  free(now);
  assert_int_equal(waiting(t), 1);
  /* receipts this till did not print are not queued */
  static const char *const unknown[] = {"", "S1-T1-2", "S1-T1-0", "S2-T1-1", "S1-T1-1x"};
  for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
    int64_t none = -1;
    assert_int_equal(tg_print_enqueue(t, unknown[i], 0, &none), TG_ENORECEIPT);
    assert_int_equal(none, 0);
  }
  now = queue_dump(t);
  assert_string_equal(now, before);
  free(now);
  assert_int_equal(tt_fingerprint(fx->path), ledger);
  free(before);
}

int main(void) {
  unsetenv("TILLGROUP_CONFIG"); /* the embedded defaults, which render() uses too */
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(a_queued_receipt_prints_once_on_a_file_printer, tt_setup,
                                      tt_teardown),
      cmocka_unit_test_setup_teardown(a_held_printer_gets_no_bytes_and_prints_the_original_later,
                                      tt_setup, tt_teardown),
      cmocka_unit_test_setup_teardown(a_job_cut_mid_way_prints_again_as_copy, tt_setup,
                                      tt_teardown),
      cmocka_unit_test_setup_teardown(paper_running_out_mid_job_reprints_as_copy, tt_setup,
                                      tt_teardown),
      cmocka_unit_test_setup_teardown(each_try_at_a_job_counts_once, tt_setup, tt_teardown),
      cmocka_unit_test_setup_teardown(a_stalled_printer_is_given_up_on_in_time, tt_setup,
                                      tt_teardown),
      cmocka_unit_test_setup_teardown(waiting_jobs_survive_a_restart, tt_setup, tt_teardown),
      cmocka_unit_test_setup_teardown(sales_go_on_while_the_printer_is_unreachable, tt_setup,
                                      tt_teardown),
      cmocka_unit_test_setup_teardown(the_drawer_kick_is_exactly_esc_p, tt_setup, tt_teardown),
      cmocka_unit_test_setup_teardown(bad_printer_names_are_refused_and_change_nothing, tt_setup,
                                      tt_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
