/*
 * tillgroup-hq nightly against real terminals (the pos library), each served
 * by a test pull endpoint (tests/pull_peer.c) on loopback: HQ compares
 * manifests, fetches what it lacks through the upload's ingest, flags the
 * unreachable, the refused and the disagreeing, and a rerun is a no-op. HQ
 * runs on SQLite, or on PostgreSQL when TG_TEST_HQ names one (tests/run.sh).
 */
#include <jansson.h>
#include <sodium.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"
#include "hq.h"
#include "hq_process.h"
#include "pull_peer.h"

#define TERMS 3
#define DATE "2026-12-07"

typedef struct {
  char store[TG_ID_MAX + 1];
  char path[4200];
  tg_terminal *t;
  int64_t epoch;
  unsigned char invite_key[32];
  pp_peer *peer;
} term;

typedef struct {
  char *dir;
  char spec[4200], hq_bin[4096], json[4200], html[4200];
  const tg__hq_backend *be;
  tg__hq_db *db;
  unsigned char hq_pk[32];
  term term[TERMS];
  int n;
} fixture;

static int n_stores; /* each terminal its own store, so one PostgreSQL serves the suite */

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  char why[TG__HQ_WHY_MAX];
  unsigned char sk[64];
  f->dir = tt_tmpdir();
  tt_build_file("tillgroup-hq", f->hq_bin, sizeof f->hq_bin);
  tt_hq_spec(f->dir, f->spec, sizeof f->spec);
  snprintf(f->json, sizeof f->json, "%s/nightly.json", f->dir);
  snprintf(f->html, sizeof f->html, "%s/nightly.html", f->dir);
  f->be = tg__hq_backend_for(f->spec, why, sizeof why);
  assert_non_null(f->be);
  if (f->be->open(f->spec, &f->db, why, sizeof why) != TG__HQ_OK)
    fail_msg("open %s: %s", f->spec, why);
  assert_int_equal(f->be->signing_key(f->db, f->hq_pk, sk, why, sizeof why), TG__HQ_OK);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  char why[TG__HQ_WHY_MAX];
  for (int i = 0; i < f->n; i++) {
    pp_stop(f->term[i].peer);
    tg_terminal_close(f->term[i].t);
    /* later tests on the same PostgreSQL see it as disabled, which needs no operator */
    f->be->set_enabled(f->db, f->term[i].store, "T1", 0, why, sizeof why);
  }
  f->be->close(f->db);
  tt_rmtree(f->dir);
  free(f);
  return 0;
}

/* A new terminal STORE-T1 enrolled at HQ with a fresh invite key. */
static term *term_new(fixture *f) {
  char why[TG__HQ_WHY_MAX], detail[256];
  unsigned char hash[32];
  assert_true(f->n < TERMS);
  term *t = &f->term[f->n++];
  char store[32], path[4200];
  snprintf(store, sizeof store, "N%dS%d", (int)(getpid() % 100000), ++n_stores);
  assert_true(strlen(store) <= TG_ID_MAX);
  memcpy(t->store, store, strlen(store) + 1);
  snprintf(path, sizeof path, "%s/%s.db", f->dir, store);
  memcpy(t->path, path, sizeof t->path);
  tg_terminal_config cfg = {t->store, "T1", "CNY", "Asia/Shanghai"};
  if (tg_terminal_init(t->path, &cfg, detail, sizeof detail) != 0)
    fail_msg("init: %s", detail);
  TT_OK(t->t, tg_terminal_open(t->path, &t->t));
  tg_terminal_info info;
  TT_OK(t->t, tg_terminal_get_info(t->t, &info));
  t->epoch = info.epoch;
  randombytes_buf(hash, sizeof hash);
  randombytes_buf(t->invite_key, sizeof t->invite_key);
  assert_int_equal(f->be->enrol(f->db, t->store, "T1", hash, t->invite_key, why, sizeof why),
                   TG__HQ_OK);
  return t;
}

static void sell(term *t, uint64_t from, int n) {
  for (int i = 0; i < n; i++)
    TT_OK(t->t, tt_commit_quiet(t->t, from + (uint64_t)i));
}

typedef struct {
  tg__buf text;
  int64_t to;
} lines;

static int add_line(void *ctx, int64_t seq, const char *json, size_t len) {
  lines *l = ctx;
  if (seq > l->to)
    return 1;
  assert_int_equal(tg__buf_add(&l->text, json, len), 0);
  assert_int_equal(tg__buf_add(&l->text, "\n", 1), 0);
  return 0;
}

/* Stores seqs from..to at HQ as an upload would. */
static void upload(fixture *f, term *t, int64_t from, int64_t to) {
  char key[96], why[TG__HQ_WHY_MAX];
  tg__hq_key k;
  tg__hq_batch b;
  tg__hq_ack ack;
  lines l = {{0}, to};
  tg_outbox_each(t->t, from - 1, 0, add_line, &l);
  snprintf(key, sizeof key, "%s-T1:%lld:%lld-%lld", t->store, (long long)t->epoch,
           (long long)from, (long long)to);
  assert_int_equal(tg__hq_key_parse(key, &k, why, sizeof why), TG__HQ_OK);
  char *text = malloc(l.text.n + 1);
  memcpy(text, l.text.p, l.text.n);
  if (tg__hq_batch_parse(text, l.text.n, &k, &b, why, sizeof why) != TG__HQ_OK)
    fail_msg("%s: %s", key, why);
  if (f->be->ingest(f->db, &b, tg__hq_now_ms(), &ack, why, sizeof why) != TG__HQ_OK)
    fail_msg("ingest %s: %s", key, why);
  tg__hq_ack_free(&ack);
  tg__hq_batch_free(&b);
  tg__buf_free(&l.text);
}

/* Starts t's pull endpoint and sets its URL at HQ. */
static void serve(fixture *f, term *t) {
  char url[64], why[TG__HQ_WHY_MAX];
  t->peer = pp_start(t->t, t->store, "T1", t->epoch, f->hq_pk, t->invite_key);
  assert_non_null(t->peer);
  snprintf(url, sizeof url, "http://127.0.0.1:%d", pp_port(t->peer));
  assert_int_equal(f->be->pull_url_set(f->db, t->store, "T1", url, why, sizeof why), TG__HQ_OK);
}

/* Runs argv with stdout into out (NUL-terminated); the exit status. */
static int run(fixture *f, char *const argv[], char *out, size_t cap) {
  return tt_process_run(f->dir, "cmd.log", argv, NULL, out, cap);
}

/* tillgroup-hq nightly; its exit status, the JSON report in *report (json_decref). */
static int nightly(fixture *f, json_t **report) {
  char out[8192];
  char *argv[] = {f->hq_bin, "nightly", "--db", f->spec, "--date", DATE, "--json", f->json,
                  "--html", f->html, "--timeout", "2", NULL};
  int code = run(f, argv, out, sizeof out);
  json_error_t err;
  *report = json_load_file(f->json, JSON_REJECT_DUPLICATES, &err);
  if (*report == NULL)
    fail_msg("exit %d, no JSON report: %s; stdout: %s", code, err.text, out);
  return code;
}

/* The report's entry of t. */
static json_t *entry(json_t *report, const term *t) {
  json_t *a = json_object_get(report, "terminals"), *e;
  size_t i;
  json_array_foreach(a, i, e) {
    if (strcmp(json_string_value(json_object_get(e, "store")), t->store) == 0)
      return e;
  }
  fail_msg("%s is not in the report", t->store);
  return NULL;
}

static json_int_t num(json_t *e, const char *name) {
  json_t *v = json_object_get(e, name);
  assert_true(json_is_integer(v));
  return json_integer_value(v);
}

static int has_flag(json_t *e, const char *name) {
  json_t *v;
  size_t i;
  json_array_foreach(json_object_get(e, "flags"), i, v) {
    if (strcmp(json_string_value(v), name) == 0)
      return 1;
  }
  return 0;
}

typedef struct {
  term *t;
  int64_t n, next;
  const char *why;
} held_check;

typedef struct {
  char *body;
  size_t n;
} one;

static int fetch_one(void *ctx, int64_t seq, const char *json, size_t len) {
  one *o = ctx;
  (void)seq;
  o->body = malloc(len + 1);
  memcpy(o->body, json, len);
  o->n = len;
  return 1;
}

static void on_held(void *ctx, int64_t seq, const char *body, size_t n) {
  held_check *c = ctx;
  one o = {NULL, 0};
  c->n++;
  if (c->why != NULL)
    return;
  if (seq != c->next++) {
    c->why = "a seq is missing or repeated";
    return;
  }
  tg_outbox_each(c->t->t, seq - 1, 1, fetch_one, &o);
  if (o.n != n || memcmp(o.body, body, n) != 0)
    c->why = "a record's bytes differ from the terminal's";
  free(o.body);
}

/* HQ holds each of t's records exactly once, byte for byte. */
static void assert_hq_holds_all(fixture *f, term *t) {
  char why[TG__HQ_WHY_MAX];
  tg_status st;
  TT_OK(t->t, tg_status_get(t->t, &st));
  held_check c = {t, 0, 1, NULL};
  assert_int_equal(f->be->held(f->db, t->store, "T1", t->epoch, 1, INT64_C(1) << 53, on_held, &c,
                               why, sizeof why),
                   TG__HQ_OK);
  if (c.why != NULL)
    fail_msg("%s: %s (seq %lld)", t->store, c.why, (long long)c.next - 1);
  assert_int_equal(c.n, st.last_seq);
}

/* The page names no address and runs nothing. */
static void assert_html_self_contained(fixture *f) {
  tg__buf b = {0};
  tt_slurp(f->html, &b);
  assert_int_equal(tg__buf_add(&b, "", 1), 0);
  assert_non_null(strstr((const char *)b.p, "<table>"));
  assert_null(strstr((const char *)b.p, "http://"));
  assert_null(strstr((const char *)b.p, "https://"));
  assert_null(strstr((const char *)b.p, "<script"));
  assert_null(strstr((const char *)b.p, " src="));
  tg__buf_free(&b);
}

/* ----- The tests ---------------------------------------------------------- */

static void terminals_in_agreement_need_nothing(void **state) {
  fixture *f = *state;
  term *a = term_new(f), *b = term_new(f);
  sell(a, 1, 12);
  sell(b, 100, 7);
  upload(f, a, 1, 12);
  upload(f, b, 1, 7);
  serve(f, a);
  serve(f, b);
  json_t *r;
  assert_int_equal(nightly(f, &r), 0);
  json_t *e = entry(r, a);
  assert_true(json_is_true(json_object_get(e, "reachable")));
  assert_int_equal(num(e, "max_seq"), 12);
  assert_int_equal(num(e, "count_before"), 12);
  assert_int_equal(num(e, "fetched"), 0);
  assert_int_equal(json_array_size(json_object_get(e, "flags")), 0);
  assert_int_equal(num(entry(r, b), "count_after"), 7);
  assert_int_equal(pp_record_requests(a->peer) + pp_record_requests(b->peer), 0);
  assert_true(json_is_false(json_object_get(r, "needs_operator")));
  assert_true(json_is_array(json_object_get(r, "findings")));
  assert_int_equal(json_array_size(json_object_get(r, "findings")), 0);
  json_decref(r);
  assert_html_self_contained(f);
}

static void a_missed_range_is_fetched_once_and_a_rerun_is_a_no_op(void **state) {
  fixture *f = *state;
  term *a = term_new(f);
  sell(a, 1, 30);
  upload(f, a, 1, 10);
  upload(f, a, 21, 25); /* held above a gap */
  sell(a, 31, 15);      /* never uploaded */
  serve(f, a);
  json_t *r;
  assert_int_equal(nightly(f, &r), 0);
  json_t *e = entry(r, a);
  assert_int_equal(num(e, "max_seq"), 45);
  assert_int_equal(num(e, "count_before"), 15);
  assert_int_equal(num(e, "count_after"), 45);
  assert_int_equal(num(e, "fetched"), 30);
  json_t *ranges = json_object_get(e, "fetched_ranges");
  assert_int_equal(json_array_size(ranges), 2);
  assert_int_equal(num(json_array_get(ranges, 0), "from"), 11);
  assert_int_equal(num(json_array_get(ranges, 0), "to"), 20);
  assert_int_equal(num(json_array_get(ranges, 1), "from"), 26);
  assert_int_equal(num(json_array_get(ranges, 1), "to"), 45);
  json_decref(r);
  assert_hq_holds_all(f, a);
  /* again: nothing to fetch, nothing changes */
  int fetches = pp_record_requests(a->peer);
  assert_int_equal(nightly(f, &r), 0);
  e = entry(r, a);
  assert_int_equal(num(e, "fetched"), 0);
  assert_int_equal(num(e, "count_before"), 45);
  json_decref(r);
  assert_int_equal(pp_record_requests(a->peer), fetches);
  assert_hq_holds_all(f, a);
  /* tillgroup-hq terminals shows the last nightly pull */
  char out[8192], want[128];
  char *argv[] = {f->hq_bin, "terminals", "--db", f->spec, "--json", NULL};
  assert_int_equal(run(f, argv, out, sizeof out), 0);
  snprintf(want, sizeof want,
           "\"store\":\"%s\",\"terminal\":\"T1\",\"enabled\":true,\"epoch\":%lld,"
           "\"acked_through\":45,",
           a->store, (long long)a->epoch);
  const char *line = strstr(out, want);
  assert_non_null(line);
  const char *end = strchr(line, '\n');
  assert_non_null(end);
  const char *night = strstr(line, "\"last_nightly\":{\"date\":\"" DATE "\",\"needs_operator\":false}}");
  assert_true(night != NULL && night < end);
}

static void missing_records_are_fetched_in_chunks(void **state) {
  fixture *f = *state;
  char why[TG__HQ_WHY_MAX];
  term *a = term_new(f);
  sell(a, 1, 40);
  upload(f, a, 1, 3);
  upload(f, a, 20, 22);
  serve(f, a);
  tg__hq_nightly_options o = {DATE, "Asia/Shanghai", tg__hq_now_ms(), 10000, 2000, 7};
  tg__hq_nightly r;
  assert_int_equal(tg__hq_nightly_run(f->be, f->db, &o, &r, why, sizeof why), TG__HQ_OK);
  const tg__hq_nightly_terminal *t = NULL;
  for (int i = 0; i < r.n_terminals; i++)
    if (strcmp(r.terminals[i].store, a->store) == 0)
      t = &r.terminals[i];
  assert_non_null(t);
  assert_int_equal(t->flags, 0);
  assert_int_equal(t->fetched, 34);
  assert_int_equal(t->n_ranges, 2); /* adjacent chunks reported as one range */
  assert_int_equal(t->ranges[0][0], 4);
  assert_int_equal(t->ranges[0][1], 19);
  assert_int_equal(t->ranges[1][0], 23);
  assert_int_equal(t->ranges[1][1], 40);
  /* 4-19 in 3 requests of at most 7, 23-40 in 3 */
  assert_int_equal(pp_record_requests(a->peer), 6);
  assert_false(tg__hq_nightly_needs_operator(&r));
  /* a finding appended by another check (reconciliation) needs an operator and is rendered */
  tg__hq_finding found = {.kind = "coupon_reused", .needs_operator = 1, .terminal = "T1",
                      .what = "campaign 7: 3 uses over the lease <b>"};
  snprintf(found.store, sizeof found.store, "%s", a->store);
  assert_int_equal(tg__hq_nightly_add_finding(&r, &found), 0);
  assert_true(tg__hq_nightly_needs_operator(&r));
  char *text = NULL;
  size_t n = 0;
  FILE *mf = open_memstream(&text, &n);
  assert_int_equal(tg__hq_nightly_json(&r, mf), 0);
  fclose(mf);
  json_error_t err;
  json_t *j = json_loads(text, 0, &err);
  assert_non_null(j);
  json_t *finding = json_array_get(json_object_get(j, "findings"), 0);
  assert_string_equal(json_string_value(json_object_get(finding, "kind")), "coupon_reused");
  assert_true(json_is_true(json_object_get(finding, "needs_operator")));
  assert_true(json_is_true(json_object_get(j, "needs_operator")));
  json_decref(j);
  free(text);
  mf = open_memstream(&text, &n);
  assert_int_equal(tg__hq_nightly_html(&r, mf), 0);
  fclose(mf);
  assert_non_null(strstr(text, "lease &lt;b&gt;"));
  free(text);
  tg__hq_nightly_free(&r);
  assert_hq_holds_all(f, a);
}

static void an_offline_terminal_is_flagged_and_the_others_go_on(void **state) {
  fixture *f = *state;
  term *off = term_new(f), *on = term_new(f);
  sell(off, 1, 5);
  sell(on, 1, 9);
  upload(f, on, 1, 4);
  serve(f, off);
  serve(f, on);
  pp_stop(off->peer); /* its URL now leads nowhere */
  off->peer = NULL;
  json_t *r;
  assert_int_equal(nightly(f, &r), TG__HQ_EXIT_OPERATOR);
  json_t *e = entry(r, off);
  assert_true(json_is_false(json_object_get(e, "reachable")));
  assert_true(has_flag(e, "unreachable"));
  assert_int_equal(strncmp(json_string_value(json_object_get(e, "why")), "not reachable: ", 15), 0);
  assert_true(json_is_true(json_object_get(e, "needs_operator")));
  e = entry(r, on);
  assert_int_equal(num(e, "fetched"), 5);
  assert_int_equal(json_array_size(json_object_get(e, "flags")), 0);
  assert_true(json_is_true(json_object_get(r, "needs_operator")));
  json_decref(r);
  assert_hq_holds_all(f, on);
}

static void a_stalled_terminal_times_out(void **state) {
  fixture *f = *state;
  term *a = term_new(f);
  sell(a, 1, 3);
  serve(f, a);
  pp_misbehave(a->peer, PP_STALL, 0);
  json_t *r;
  assert_int_equal(nightly(f, &r), TG__HQ_EXIT_OPERATOR);
  assert_true(has_flag(entry(r, a), "unreachable"));
  json_decref(r);
}

static void a_terminal_refusing_hqs_signature_is_flagged_with_its_reason(void **state) {
  fixture *f = *state;
  char url[64], why[TG__HQ_WHY_MAX];
  unsigned char other[32];
  term *a = term_new(f);
  sell(a, 1, 2);
  randombytes_buf(other, sizeof other); /* it trusts another HQ's key */
  a->peer = pp_start(a->t, a->store, "T1", a->epoch, other, a->invite_key);
  assert_non_null(a->peer);
  snprintf(url, sizeof url, "http://127.0.0.1:%d/", pp_port(a->peer));
  assert_int_equal(f->be->pull_url_set(f->db, a->store, "T1", url, why, sizeof why), TG__HQ_OK);
  json_t *r;
  assert_int_equal(nightly(f, &r), TG__HQ_EXIT_OPERATOR);
  json_t *e = entry(r, a);
  assert_true(has_flag(e, "unreachable"));
  assert_non_null(strstr(json_string_value(json_object_get(e, "why")), "answered 401: signature"));
  json_decref(r);
}

static void an_answer_with_a_wrong_mac_is_refused(void **state) {
  fixture *f = *state;
  term *a = term_new(f);
  sell(a, 1, 8);
  upload(f, a, 1, 3);
  serve(f, a);
  pp_misbehave(a->peer, PP_WRONG_MAC, 0);
  json_t *r;
  assert_int_equal(nightly(f, &r), TG__HQ_EXIT_OPERATOR);
  json_t *e = entry(r, a);
  assert_true(has_flag(e, "answer refused"));
  assert_non_null(strstr(json_string_value(json_object_get(e, "why")),
                         "answer not from the terminal"));
  assert_int_equal(num(e, "fetched"), 0);
  json_decref(r);
  assert_int_equal(pp_record_requests(a->peer), 0); /* the manifest was refused first */
  char why[TG__HQ_WHY_MAX];
  held_check c = {a, 0, 1, NULL};
  assert_int_equal(f->be->held(f->db, a->store, "T1", a->epoch, 1, 100, on_held, &c, why,
                               sizeof why),
                   TG__HQ_OK);
  assert_int_equal(c.n, 3); /* nothing stored */
}

static void an_altered_record_is_named_and_hq_keeps_its_own(void **state) {
  fixture *f = *state;
  term *a = term_new(f);
  sell(a, 1, 20);
  upload(f, a, 1, 20);
  serve(f, a);
  pp_misbehave(a->peer, PP_ALTER, 7);
  json_t *r;
  assert_int_equal(nightly(f, &r), TG__HQ_EXIT_OPERATOR);
  json_t *e = entry(r, a);
  assert_true(has_flag(e, "disagree"));
  json_t *d = json_object_get(e, "disagree");
  assert_int_equal(json_array_size(d), 1);
  assert_int_equal(json_integer_value(json_array_get(d, 0)), 7);
  assert_int_equal(num(e, "fetched"), 0);
  json_decref(r);
  assert_hq_holds_all(f, a); /* byte for byte the terminal's original */
}

static void records_hq_holds_above_the_terminals_max_seq_are_flagged(void **state) {
  fixture *f = *state;
  term *a = term_new(f);
  sell(a, 1, 10);
  upload(f, a, 1, 10);
  serve(f, a);
  pp_misbehave(a->peer, PP_TRUNCATE, 6);
  json_t *r;
  assert_int_equal(nightly(f, &r), TG__HQ_EXIT_OPERATOR);
  json_t *e = entry(r, a);
  assert_true(has_flag(e, "disagree"));
  assert_int_equal(num(e, "max_seq"), 6);
  assert_int_equal(json_integer_value(json_array_get(json_object_get(e, "disagree"), 0)), 7);
  assert_non_null(strstr(json_string_value(json_object_get(e, "why")), "above the terminal's"));
  json_decref(r);
  assert_hq_holds_all(f, a); /* nothing removed */
}

static void a_terminal_without_a_pull_url_is_flagged(void **state) {
  fixture *f = *state;
  term *a = term_new(f), *b = term_new(f);
  sell(a, 1, 2);
  serve(f, a);
  json_t *r;
  assert_int_equal(nightly(f, &r), TG__HQ_EXIT_OPERATOR);
  json_t *e = entry(r, b);
  assert_true(has_flag(e, "no pull URL"));
  assert_string_equal(json_string_value(json_object_get(e, "why")), "not reachable: no pull URL");
  assert_int_equal(json_array_size(json_object_get(entry(r, a), "flags")), 0);
  json_decref(r);
  assert_html_self_contained(f);
  /* the report's sync health shows each terminal's last nightly pull */
  tg__hq_report rep;
  char why[TG__HQ_WHY_MAX], *page = NULL;
  size_t n_page = 0;
  assert_int_equal(tg__hq_report_build(f->be, f->db, DATE, DATE, "Asia/Shanghai", &rep, why,
                                       sizeof why),
                   TG__HQ_OK);
  int seen = 0;
  for (int i = 0; i < rep.n_nightly; i++) {
    const tg__hq_nightly_row *n = &rep.nightly[i];
    if (strcmp(n->store, b->store) == 0) {
      seen++;
      assert_string_equal(n->date, DATE);
      assert_true(n->needs_operator);
      assert_false(n->reachable);
      assert_string_equal(n->flags, "no pull URL: not reachable: no pull URL");
    } else if (strcmp(n->store, a->store) == 0) {
      seen++;
      assert_false(n->needs_operator);
      assert_int_equal(n->max_seq, 2);
      assert_int_equal(n->fetched, 2);
      assert_string_equal(n->flags, "");
    }
  }
  assert_int_equal(seen, 2);
  FILE *mf = open_memstream(&page, &n_page);
  assert_int_equal(tg__hq_report_html(&rep, mf), 0);
  fclose(mf);
  assert_non_null(strstr(page, "last nightly pull"));
  assert_non_null(strstr(page, DATE " all well"));
  assert_non_null(strstr(page, DATE " no pull URL"));
  free(page);
  tg__hq_report_free(&rep);
}

static void another_epoch_is_compared_on_the_terminals_and_said(void **state) {
  fixture *f = *state;
  term *a = term_new(f);
  sell(a, 1, 4);
  upload(f, a, 1, 4);
  serve(f, a);
  pp_misbehave(a->peer, PP_OTHER_EPOCH, 0);
  json_t *r;
  nightly(f, &r);
  json_t *e = entry(r, a);
  assert_true(has_flag(e, "epoch changed"));
  assert_int_equal(num(e, "epoch"), a->epoch + 1);
  assert_int_equal(num(e, "hq_epoch"), a->epoch);
  /* HQ holds nothing of that epoch, and the records it is sent carry the old one: refused */
  assert_true(has_flag(e, "bad answer"));
  assert_int_equal(num(e, "fetched"), 0);
  json_decref(r);
}

static void pull_urls_are_checked_set_and_cleared(void **state) {
  fixture *f = *state;
  char out[1024], why[TG__HQ_WHY_MAX];
  term *a = term_new(f);
  static const char *const bad[] = {"ftp://10.0.0.5:21", "http://u:p@10.0.0.5:8787",
                                    "http://10.0.0.5:8787/v1", "http://10.0.0.5:8787/?x=1",
                                    "http://10.0.0.5:8787/#f", "http://", "10.0.0.5"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char *argv[] = {f->hq_bin, "terminal", "pull-url", "--db", f->spec, a->store, "T1",
                    (char *)bad[i], NULL};
    if (run(f, argv, out, sizeof out) != TG__HQ_EXIT_USAGE)
      fail_msg("%s was accepted", bad[i]);
  }
  char long_url[300];
  memset(long_url, 'a', sizeof long_url - 1);
  memcpy(long_url, "http://", 7);
  long_url[sizeof long_url - 1] = '\0';
  assert_int_equal(tg__hq_pull_url_check(long_url, why, sizeof why), -1);
  char *set[] = {f->hq_bin, "terminal", "pull-url", "--db", f->spec, a->store, "T1",
                 "https://till-3.store.example:8787", NULL};
  assert_int_equal(run(f, set, out, sizeof out), 0);
  tg__hq_terminal_ref pt;
  assert_int_equal(f->be->terminal_get(f->db, a->store, "T1", &pt, why, sizeof why), TG__HQ_OK);
  assert_string_equal(pt.url, "https://till-3.store.example:8787");
  assert_memory_equal(pt.invite_key, a->invite_key, 32);
  char *clear[] = {f->hq_bin, "terminal", "pull-url", "--db", f->spec, a->store, "T1", "--none",
                   NULL};
  assert_int_equal(run(f, clear, out, sizeof out), 0);
  assert_int_equal(f->be->terminal_get(f->db, a->store, "T1", &pt, why, sizeof why), TG__HQ_OK);
  assert_string_equal(pt.url, "");
  char *nobody[] = {f->hq_bin, "terminal", "pull-url", "--db", f->spec, "NOSUCH", "T1",
                    "http://127.0.0.1:1", NULL};
  assert_int_equal(run(f, nobody, out, sizeof out), TG__HQ_EXIT_REFUSED);
  /* enrol --pull-url */
  char store[16];
  snprintf(store, sizeof store, "N%dE", (int)(getpid() % 100000));
  char *enrol[] = {f->hq_bin, "enrol", "--db", f->spec, "--pull-url", "http://192.0.2.7:8787",
                   store, "T1", NULL};
  assert_int_equal(run(f, enrol, out, sizeof out), 0);
  assert_int_equal(strncmp(out, "tg1.", 4), 0);
  assert_int_equal(f->be->terminal_get(f->db, store, "T1", &pt, why, sizeof why), TG__HQ_OK);
  assert_string_equal(pt.url, "http://192.0.2.7:8787");
  f->be->set_enabled(f->db, store, "T1", 0, why, sizeof why);
  char *enrol_bad[] = {f->hq_bin, "enrol", "--db", f->spec, "--pull-url", "http://h/?q",
                       store, "T2", NULL};
  assert_int_equal(run(f, enrol_bad, out, sizeof out), TG__HQ_EXIT_USAGE);
}

static void the_manifest_is_read_strictly(void **state) {
  (void)state;
  char why[TG__HQ_WHY_MAX];
  tg__hq_manifest m;
  static const char good[] =
      "{\"store\":\"S1\",\"terminal\":\"T1\",\"epoch\":5,\"max_seq\":3,\"from\":1,\"to\":3,"
      "\"count\":3,\"digest\":\"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"}";
  assert_int_equal(tg__hq_manifest_parse(good, strlen(good), &m, why, sizeof why), 0);
  assert_int_equal(m.max_seq, 3);
  assert_int_equal(m.digest[1], 0x11);
  static const char empty[] =
      "{\"store\":\"S1\",\"terminal\":\"T1\",\"epoch\":5,\"max_seq\":0,\"from\":1,\"to\":0,"
      "\"count\":0,\"digest\":\"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"}";
  assert_int_equal(tg__hq_manifest_parse(empty, strlen(empty), &m, why, sizeof why), 0);
  static const char *const bad[] = {
      /* count does not fit */
      "{\"store\":\"S1\",\"terminal\":\"T1\",\"epoch\":5,\"max_seq\":3,\"from\":1,\"to\":3,"
      "\"count\":2,\"digest\":\"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"}",
      /* upper-case hex */
      "{\"store\":\"S1\",\"terminal\":\"T1\",\"epoch\":5,\"max_seq\":3,\"from\":1,\"to\":3,"
      "\"count\":3,\"digest\":\"00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff\"}",
      /* a ninth member */
      "{\"store\":\"S1\",\"terminal\":\"T1\",\"epoch\":5,\"max_seq\":3,\"from\":1,\"to\":3,"
      "\"count\":3,\"digest\":\"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\","
      "\"x\":1}",
      /* duplicate */
      "{\"store\":\"S1\",\"store\":\"S1\",\"epoch\":5,\"max_seq\":3,\"from\":1,\"to\":3,"
      "\"count\":3,\"digest\":\"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"}",
      /* to past max_seq */
      "{\"store\":\"S1\",\"terminal\":\"T1\",\"epoch\":5,\"max_seq\":3,\"from\":1,\"to\":4,"
      "\"count\":4,\"digest\":\"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"}",
      /* epoch 0, a real */
      "{\"store\":\"S1\",\"terminal\":\"T1\",\"epoch\":0,\"max_seq\":3,\"from\":1,\"to\":3,"
      "\"count\":3,\"digest\":\"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"}",
      "{\"store\":\"S1\",\"terminal\":\"T1\",\"epoch\":5,\"max_seq\":3.0,\"from\":1,\"to\":3,"
      "\"count\":3,\"digest\":\"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"}",
      /* a lower-case id */
      "{\"store\":\"s1\",\"terminal\":\"T1\",\"epoch\":5,\"max_seq\":3,\"from\":1,\"to\":3,"
      "\"count\":3,\"digest\":\"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"}",
      "[]", "", "{\"store\":\"S1\"}",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    if (tg__hq_manifest_parse(bad[i], strlen(bad[i]), &m, why, sizeof why) == 0)
      fail_msg("accepted: %s", bad[i]);
  char big[TG__HQ_MANIFEST_MAX + 2];
  memset(big, ' ', sizeof big);
  assert_int_equal(tg__hq_manifest_parse(big, sizeof big, &m, why, sizeof why), -1);
}

/* A database made before step 3 (its tables and version removed again) is brought up to date. */
static void a_version_1_database_is_upgraded(void **state) {
  fixture *f = *state;
  char why[TG__HQ_WHY_MAX];
  f->be->close(f->db);
  f->db = NULL;
  tt_hq_schema_v1(f->spec);
  if (f->be->open(f->spec, &f->db, why, sizeof why) != TG__HQ_OK)
    fail_msg("reopen: %s", why);
  term *a = term_new(f);
  serve(f, a);
  json_t *r;
  assert_int_equal(nightly(f, &r), 0);
  json_decref(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(the_manifest_is_read_strictly),
      cmocka_unit_test_setup_teardown(terminals_in_agreement_need_nothing, setup, teardown),
      cmocka_unit_test_setup_teardown(a_missed_range_is_fetched_once_and_a_rerun_is_a_no_op, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(missing_records_are_fetched_in_chunks, setup, teardown),
      cmocka_unit_test_setup_teardown(an_offline_terminal_is_flagged_and_the_others_go_on, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(a_stalled_terminal_times_out, setup, teardown),
      cmocka_unit_test_setup_teardown(a_terminal_refusing_hqs_signature_is_flagged_with_its_reason,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(an_answer_with_a_wrong_mac_is_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(an_altered_record_is_named_and_hq_keeps_its_own, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(records_hq_holds_above_the_terminals_max_seq_are_flagged,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(a_terminal_without_a_pull_url_is_flagged, setup, teardown),
      cmocka_unit_test_setup_teardown(another_epoch_is_compared_on_the_terminals_and_said, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(pull_urls_are_checked_set_and_cleared, setup, teardown),
      cmocka_unit_test_setup_teardown(a_version_1_database_is_upgraded, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
