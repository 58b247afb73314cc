/*
 * The terminal's nightly-pull endpoint: a real terminal store served on
 * loopback, read by a real libcurl client signing as HQ. Manifests and
 * records must be the uploader's exact bytes, every answer MAC'd with the
 * key HQ holds, every refusal its own status with nothing changed, and
 * answers consistent while sales are committed at the same time.
 */
#include <curl/curl.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"
#include "hq.h"
#include "sync.h"

#define SALES 40
#define CONCURRENT 50
#define BODY_MAX (32 * 1024 * 1024)

typedef struct {
  char *dir;
  char path[4096];
  tg_terminal *t;
  tg__cred cred;
  unsigned char hq_pk[32], hq_sk[64];
  tg__pull_store *store;
  tg__pull_server *server;
  unsigned port;
} fixture;

static const char *tls_ca;    /* NULL: plain HTTP; else HTTPS trusting this CA file */
static const char *post_body; /* NULL: none; else sent as the request's body */

/* One answer as the client received it. */
typedef struct {
  long status;
  char *body;
  size_t n;
  char mac[128];
  char encoding[32];
  char type[64];
  char auth[TG__PULL_AUTH_MAX + 16]; /* the Authorization sent, "" none */
} answer;

static int64_t wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Enrols f->t with a credential made here (so the test holds HQ's signing key). */
static void enrol_made(fixture *f) {
  char text[TG__CRED_TEXT_MAX];
  memset(&f->cred, 0, sizeof f->cred);
  snprintf(f->cred.store, sizeof f->cred.store, "S1");
  snprintf(f->cred.terminal, sizeof f->cred.terminal, "T1");
  randombytes_buf(f->cred.secret, sizeof f->cred.secret);
  crypto_sign_keypair(f->hq_pk, f->hq_sk);
  memcpy(f->cred.hq_key, f->hq_pk, 32);
  assert_true(tg__cred_format(&f->cred, text, sizeof text) > 0);
  tg_hq_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.url = "http://127.0.0.1:1";
  cfg.credential = text;
  TT_OK(f->t, tg_hq_enrol(f->t, &cfg));
}

static void serve(fixture *f) {
  tg__pull_server_config cfg;
  char why[256] = "";
  memset(&cfg, 0, sizeof cfg);
  if (tg__pull_store_open(f->path, &f->store, why, sizeof why) != 0)
    fail_msg("pull store: %s", why);
  tg__pull_store_config(f->store, &cfg);
  cfg.listen = "127.0.0.1:0";
  cfg.threads = 4;
  if (tg__pull_server_start(&cfg, &f->server, why, sizeof why) != 0)
    fail_msg("pull server: %s", why);
  f->port = tg__pull_server_port(f->server);
  assert_true(f->port > 0);
}

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  f->dir = tt_tmpdir();
  f->t = tt_terminal(f->dir, f->path);
  enrol_made(f);
  for (int i = 1; i <= SALES; i++)
    TT_OK(f->t, tt_commit(f->t, (uint64_t)i, 1 + i % 4, NULL));
  serve(f);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  tg__pull_server_stop(f->server);
  tg__pull_store_close(f->store);
  tg_terminal_close(f->t);
  tt_rmtree(f->dir);
  free(f);
  return 0;
}

static size_t on_body(char *p, size_t size, size_t n, void *ctx) {
  answer *a = ctx;
  size_t len = size * n;
  if (a->n + len > BODY_MAX)
    return 0;
  char *q = realloc(a->body, a->n + len + 1);
  if (q == NULL)
    return 0;
  memcpy(q + a->n, p, len);
  a->body = q;
  a->n += len;
  a->body[a->n] = '\0';
  return len;
}

/* Copies the value of header name (case-insensitive) from line into out. */
static void header_value(const char *line, size_t len, const char *name, char *out, size_t cap) {
  size_t n = strlen(name);
  if (len <= n + 1 || strncasecmp(line, name, n) != 0 || line[n] != ':')
    return;
  const char *v = line + n + 1;
  while (*v == ' ')
    v++;
  size_t m = (size_t)(line + len - v);
  while (m > 0 && (v[m - 1] == '\r' || v[m - 1] == '\n'))
    m--;
  snprintf(out, cap, "%.*s", (int)m, v);
}

static size_t on_header(char *p, size_t size, size_t n, void *ctx) {
  answer *a = ctx;
  header_value(p, size * n, "X-TG-MAC", a->mac, sizeof a->mac);
  header_value(p, size * n, "Content-Encoding", a->encoding, sizeof a->encoding);
  header_value(p, size * n, "Content-Type", a->type, sizeof a->type);
  return size * n;
}

/*
 * Sends method target to the server with Authorization auth (NULL: none) and
 * Accept-Encoding gzip when gzip. Fills *a (free a->body).
 */
static void send_raw(unsigned port, const char *method, const char *target, const char *auth,
                     int gzip, answer *a) {
  char url[1024], header[512];
  struct curl_slist *h = NULL;
  memset(a, 0, sizeof *a);
  snprintf(url, sizeof url, "%s://127.0.0.1:%u%s", tls_ca != NULL ? "https" : "http", port, target);
  if (auth != NULL) {
    snprintf(a->auth, sizeof a->auth, "%s", auth);
    snprintf(header, sizeof header, "Authorization: %s", auth);
    h = curl_slist_append(h, header);
  }
  h = curl_slist_append(h, gzip ? "Accept-Encoding: gzip" : "Accept-Encoding: identity");
  CURL *c = curl_easy_init();
  assert_non_null(c);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, a);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, a);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
  if (tls_ca != NULL)
    curl_easy_setopt(c, CURLOPT_CAINFO, tls_ca);
  if (post_body != NULL) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, post_body);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  } else if (strcmp(method, "POST") == 0) {
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
  } else if (strcmp(method, "HEAD") == 0) {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (strcmp(method, "GET") != 0) {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  }
  CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK)
    fail_msg("%s %s: %s", method, target, curl_easy_strerror(rc));
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a->status);
  curl_easy_cleanup(c);
  curl_slist_free_all(h);
}

/* Signs as HQ with sk for store-terminal at time_ms, then sends. */
static void send_signed_as(unsigned port, const unsigned char sk[64], const char *terminal,
                           int64_t time_ms, const char *method, const char *target, int gzip,
                           answer *a) {
  char auth[TG__PULL_AUTH_MAX + 16];
  assert_true(tg__pull_sign(sk, "S1", terminal, method, target, time_ms, auth, sizeof auth) > 0);
  send_raw(port, method, target, auth, gzip, a);
}

static void send_signed(fixture *f, const char *target, int gzip, answer *a) {
  send_signed_as(f->port, f->hq_sk, "T1", wall_ms(), "GET", target, gzip, a);
}

/* The answer's MAC verifies with the invite key HQ keeps for this terminal. */
static void assert_mac(const fixture *f, const answer *a) {
  unsigned char key[32];
  char mac[TG__PULL_MAC_TEXT];
  tg__cred_invite_key(f->cred.secret, key);
  tg__pull_mac(key, a->auth, a->body != NULL ? a->body : "", a->n, mac);
  if (strcmp(mac, a->mac) != 0)
    fail_msg("X-TG-MAC \"%s\" is not the terminal's MAC of the answer", a->mac);
}

typedef struct {
  crypto_generichash_state h;
  tg__buf lines;
  int64_t from, to, n;
} expected;

static int expect_line(void *ctx, int64_t seq, const char *json, size_t len) {
  expected *e = ctx;
  if (seq < e->from || seq > e->to)
    return 0;
  crypto_generichash_update(&e->h, (const unsigned char *)json, len);
  crypto_generichash_update(&e->h, (const unsigned char *)"\n", 1);
  tg__buf_add(&e->lines, json, len);
  tg__buf_add(&e->lines, "\n", 1);
  e->n++;
  return 0;
}

/* What the uploader sends for from..to, read independently through the public export. */
static void expect_range(tg_terminal *t, int64_t from, int64_t to, char hex[65], tg__buf *lines) {
  expected e;
  unsigned char d[32];
  memset(&e, 0, sizeof e);
  e.from = from;
  e.to = to;
  crypto_generichash_init(&e.h, NULL, 0, 32);
  TT_OK(t, tg_outbox_each(t, 0, 0, expect_line, &e));
  assert_int_equal(e.n, to >= from ? to - from + 1 : 0);
  crypto_generichash_final(&e.h, d, 32);
  sodium_bin2hex(hex, 65, d, 32);
  if (lines != NULL)
    *lines = e.lines;
  else
    tg__buf_free(&e.lines);
}

/* Reads a manifest's fields; fails the test unless it has exactly the protocol's shape. */
static void read_manifest(const answer *a, int64_t *epoch, int64_t *max_seq, int64_t *from,
                          int64_t *to, int64_t *count, char digest[65]) {
  json_error_t err;
  json_t *o = json_loadb(a->body, a->n, 0, &err);
  const char *store, *terminal, *d;
  json_int_t e, m, fr, t, c;
  if (o == NULL || json_object_size(o) != 8 ||
      json_unpack(o, "{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:s}", "store", &store, "terminal",
                  &terminal, "epoch", &e, "max_seq", &m, "from", &fr, "to", &t, "count", &c,
                  "digest", &d) != 0)
    fail_msg("not a manifest: %.*s", (int)a->n, a->body);
  assert_string_equal(store, "S1");
  assert_string_equal(terminal, "T1");
  assert_int_equal(strlen(d), 64);
  snprintf(digest, 65, "%s", d);
  *epoch = e;
  *max_seq = m;
  *from = fr;
  *to = t;
  *count = c;
  json_decref(o);
}

static void a_manifest_names_every_record_with_the_uploaders_digest(void **state) {
  fixture *f = *state;
  answer a;
  int64_t epoch, max_seq, from, to, count;
  char digest[65], want[65];
  tg_terminal_info info;
  TT_OK(f->t, tg_terminal_get_info(f->t, &info));
  send_signed(f, "/v1/manifest", 0, &a);
  assert_int_equal(a.status, 200);
  assert_string_equal(a.type, "application/json");
  assert_mac(f, &a);
  read_manifest(&a, &epoch, &max_seq, &from, &to, &count, digest);
  expect_range(f->t, 1, SALES, want, NULL);
  assert_int_equal(epoch, info.epoch);
  assert_int_equal(max_seq, SALES);
  assert_int_equal(from, 1);
  assert_int_equal(to, SALES);
  assert_int_equal(count, SALES);
  assert_string_equal(digest, want);
  free(a.body);
  /* a range */
  send_signed(f, "/v1/manifest?from=7&to=19", 0, &a);
  assert_int_equal(a.status, 200);
  assert_mac(f, &a);
  read_manifest(&a, &epoch, &max_seq, &from, &to, &count, digest);
  expect_range(f->t, 7, 19, want, NULL);
  assert_int_equal(from, 7);
  assert_int_equal(to, 19);
  assert_int_equal(count, 13);
  assert_int_equal(max_seq, SALES);
  assert_string_equal(digest, want);
  free(a.body);
  send_signed(f, "/v1/manifest?to=40&from=40", 0, &a); /* either order, one record */
  assert_int_equal(a.status, 200);
  read_manifest(&a, &epoch, &max_seq, &from, &to, &count, digest);
  expect_range(f->t, 40, 40, want, NULL);
  assert_int_equal(count, 1);
  assert_string_equal(digest, want);
  free(a.body);
}

static void records_are_the_uploaders_bytes_plain_and_gzip(void **state) {
  fixture *f = *state;
  answer a;
  tg__buf want;
  char hex[65];
  expect_range(f->t, 3, 31, hex, &want);
  send_signed(f, "/v1/records?from=3&to=31", 0, &a);
  assert_int_equal(a.status, 200);
  assert_string_equal(a.type, "application/x-ndjson");
  assert_string_equal(a.encoding, "");
  assert_mac(f, &a);
  assert_int_equal(a.n, want.n);
  assert_memory_equal(a.body, want.p, want.n);
  free(a.body);
  send_signed(f, "/v1/records?from=3&to=31", 1, &a);
  assert_int_equal(a.status, 200);
  assert_string_equal(a.encoding, "gzip");
  assert_mac(f, &a); /* over the gzip bytes as sent */
  unsigned char *text = NULL;
  size_t n_text = 0;
  assert_int_equal(
      tg__gunzip(a.body, a.n, TG__SYNC_INFLATED_MAX, TG__SYNC_RATIO_MAX, &text, &n_text),
      TG__GUNZIP_OK);
  assert_int_equal(n_text, want.n);
  assert_memory_equal(text, want.p, want.n);
  free(text);
  free(a.body);
  tg__buf_free(&want);
  /* HEAD: the headers of a GET, no body */
  send_signed_as(f->port, f->hq_sk, "T1", wall_ms(), "HEAD", "/v1/records?from=1&to=2", 0, &a);
  assert_int_equal(a.status, 200);
  assert_int_equal(a.n, 0);
  free(a.body);
}

static void an_empty_store_has_an_empty_manifest(void **state) {
  fixture *f = *state;
  answer a;
  int64_t epoch, max_seq, from, to, count;
  char digest[65], want[65];
  unsigned char d[32];
  /* a second terminal, enrolled, no sale yet */
  tg__pull_server_stop(f->server);
  tg__pull_store_close(f->store);
  tg_terminal_close(f->t);
  tt_rmtree(f->dir);
  f->dir = tt_tmpdir();
  f->t = tt_terminal(f->dir, f->path);
  enrol_made(f);
  serve(f);
  send_signed(f, "/v1/manifest", 0, &a);
  assert_int_equal(a.status, 200);
  assert_mac(f, &a);
  read_manifest(&a, &epoch, &max_seq, &from, &to, &count, digest);
  crypto_generichash(d, 32, NULL, 0, NULL, 0);
  sodium_bin2hex(want, sizeof want, d, 32);
  assert_int_equal(max_seq, 0);
  assert_int_equal(from, 1);
  assert_int_equal(to, 0);
  assert_int_equal(count, 0);
  assert_string_equal(digest, want);
  free(a.body);
  send_signed(f, "/v1/records?from=1&to=1", 0, &a);
  assert_int_equal(a.status, 422);
  free(a.body);
}

/* Sends and checks the status and an {"error":...} body. */
static void expect_refusal(fixture *f, const answer *a, long status) {
  json_t *o = json_loadb(a->body, a->n, 0, NULL);
  if (a->status != status)
    fail_msg("expected %ld, got %ld: %.*s", status, a->status, (int)a->n, a->body);
  if (o == NULL || json_object_size(o) != 1 || !json_is_string(json_object_get(o, "error")))
    fail_msg("not {\"error\":...}: %.*s", (int)a->n, a->body);
  json_decref(o);
  (void)f;
}

static void every_refusal_has_its_status_and_changes_nothing(void **state) {
  fixture *f = *state;
  answer a;
  unsigned char other_pk[32], other_sk[64];
  char auth[TG__PULL_AUTH_MAX + 16], long_target[TG__PULL_TARGET_MAX + 64];
  uint64_t before = tt_fingerprint(f->path);
  crypto_sign_keypair(other_pk, other_sk);
  /* 401: no signature, a broken one, another terminal's, a stale one, another key's */
  send_raw(f->port, "GET", "/v1/manifest", NULL, 0, &a);
  expect_refusal(f, &a, 401);
  free(a.body);
  assert_true(
      tg__pull_sign(f->hq_sk, "S1", "T1", "GET", "/v1/manifest", wall_ms(), auth, sizeof auth) > 0);
  auth[strlen(auth) - 3] = auth[strlen(auth) - 3] == 'A' ? 'B' : 'A';
  send_raw(f->port, "GET", "/v1/manifest", auth, 0, &a);
  expect_refusal(f, &a, 401);
  free(a.body);
  send_raw(f->port, "GET", "/v1/manifest", "Bearer S1.T1.abc", 0, &a);
  expect_refusal(f, &a, 401);
  free(a.body);
  send_signed_as(f->port, f->hq_sk, "T2", wall_ms(), "GET", "/v1/manifest", 0, &a);
  expect_refusal(f, &a, 401);
  free(a.body);
  send_signed_as(f->port, f->hq_sk, "T1", wall_ms() - 6 * 60 * 1000, "GET", "/v1/manifest", 0, &a);
  expect_refusal(f, &a, 401);
  free(a.body);
  send_signed_as(f->port, other_sk, "T1", wall_ms(), "GET", "/v1/manifest", 0, &a);
  expect_refusal(f, &a, 401);
  free(a.body);
  /* a signature for another target does not carry over */
  assert_true(tg__pull_sign(f->hq_sk, "S1", "T1", "GET", "/v1/records?from=1&to=2", wall_ms(), auth,
                            sizeof auth) > 0);
  send_raw(f->port, "GET", "/v1/records?from=1&to=3", auth, 0, &a);
  expect_refusal(f, &a, 401);
  free(a.body);
  /* 404, 405 */
  send_signed(f, "/v1/other", 0, &a);
  expect_refusal(f, &a, 404);
  free(a.body);
  send_signed(f, "/v1/manifest/", 0, &a);
  expect_refusal(f, &a, 404);
  free(a.body);
  send_signed_as(f->port, f->hq_sk, "T1", wall_ms(), "POST", "/v1/records?from=1&to=2", 0, &a);
  expect_refusal(f, &a, 405);
  free(a.body);
  post_body = "{}"; /* with a body too: still 405, and a GET with a body is 400 */
  send_signed_as(f->port, f->hq_sk, "T1", wall_ms(), "POST", "/v1/records?from=1&to=2", 0, &a);
  expect_refusal(f, &a, 405);
  free(a.body);
  send_signed_as(f->port, f->hq_sk, "T1", wall_ms(), "PUT", "/v1/manifest", 0, &a);
  expect_refusal(f, &a, 405);
  free(a.body);
  send_signed_as(f->port, f->hq_sk, "T1", wall_ms(), "GET", "/v1/manifest", 0, &a);
  expect_refusal(f, &a, 400);
  free(a.body);
  post_body = NULL;
  send_signed_as(f->port, f->hq_sk, "T1", wall_ms(), "DELETE", "/v1/manifest", 0, &a);
  expect_refusal(f, &a, 405);
  free(a.body);
  /* 422: every bad query, signed as HQ would */
  static const char *const bad[] = {
      "/v1/records?from=0&to=3",
      "/v1/records?from=-1&to=3",
      "/v1/records?from=01&to=3",
      "/v1/records?from=1e3&to=2000",
      "/v1/records?from=5&to=4",
      "/v1/records?from=1&to=41",
      "/v1/records?from=1&to=10001",
      "/v1/records?from=1&from=1&to=2",
      "/v1/records?from=1&to=2&x=1",
      "/v1/records?from=1",
      "/v1/records",
      "/v1/records?",
      "/v1/records?from=1&to=2&",
      "/v1/records?from=+1&to=2",
      "/v1/records?from=1&to=9007199254740993",
      "/v1/manifest?from=1&to=41",
      "/v1/manifest?from=2",
      "/v1/manifest?from=3&to=2",
      "/v1/manifest?page=1",
      "/v1/records?from=%31&to=2",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    send_signed(f, bad[i], 0, &a);
    if (a.status != 422)
      fail_msg("%s: expected 422, got %ld", bad[i], a.status);
    expect_refusal(f, &a, 422);
    assert_mac(f, &a); /* authenticated: HQ can trust the refusal too */
    free(a.body);
  }
  /* 414: a target over 512 bytes */
  size_t n = (size_t)snprintf(long_target, sizeof long_target, "/v1/manifest?from=1&to=2");
  while (n < TG__PULL_TARGET_MAX + 8)
    long_target[n++] = 'x';
  long_target[n] = '\0';
  send_raw(f->port, "GET", long_target, "TG-HQ S1.T1.1.x", 0, &a);
  expect_refusal(f, &a, 414);
  free(a.body);
  assert_true(tt_fingerprint(f->path) == before);
}

static void accept_encoding_is_read_as_written(void **state) {
  (void)state;
  assert_true(tg__pull_accepts_gzip("gzip"));
  assert_true(tg__pull_accepts_gzip("deflate, gzip;q=0.5"));
  assert_true(tg__pull_accepts_gzip(" , ,GZIP"));
  assert_true(tg__pull_accepts_gzip("x-gzip"));
  assert_true(tg__pull_accepts_gzip("br;q=1, *"));
  assert_false(tg__pull_accepts_gzip(NULL));
  assert_false(tg__pull_accepts_gzip(""));
  assert_false(tg__pull_accepts_gzip(",,,,"));
  assert_false(tg__pull_accepts_gzip("identity"));
  assert_false(tg__pull_accepts_gzip("gzip;q=0"));
  assert_false(tg__pull_accepts_gzip("gzip;q=0.000, *"));
  assert_false(tg__pull_accepts_gzip("*;q=0"));
  assert_false(tg__pull_accepts_gzip("gzipx, xgzip"));
  assert_false(tg__pull_accepts_gzip("*, gzip;q=0"));
}

static void the_request_decision_needs_no_socket(void **state) {
  tg__pull_request r;
  (void)state;
  tg__pull_request_decide("GET", "/v1/manifest", &r);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.route, TG__PULL_MANIFEST);
  assert_false(r.has_range);
  tg__pull_request_decide("GET", "/v1/records?from=9007199254740992&to=9007199254740992", &r);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.route, TG__PULL_RECORDS);
  assert_int_equal(r.from, INT64_C(9007199254740992));
  tg__pull_request_decide("GET", "/v1/records?from=1&to=10000", &r);
  assert_int_equal(r.status, 0);
  tg__pull_request_decide("GET", "/v1/records?from=1&to=10001", &r);
  assert_int_equal(r.status, 422);
  tg__pull_request_decide("HEAD", "/v1/manifest?from=1&to=2", &r);
  assert_int_equal(r.status, 0);
  assert_true(r.head);
  tg__pull_request_decide("PUT", "/v1/manifest", &r);
  assert_int_equal(r.status, 405);
  tg__pull_request_decide("GET", "v1/manifest", &r);
  assert_int_equal(r.status, 404);
  tg__pull_request_decide("GET", "/v1/records?to=&from=1", &r);
  assert_int_equal(r.status, 422);
  tg__pull_request_decide("GET", "/v1/records?=1&to=2", &r);
  assert_int_equal(r.status, 422);
}

/* A store that cannot be read, or one that skips a seq: the server must say 503, never guess. */
static int broken_read(void *ctx, int64_t from, int64_t to, int64_t *epoch, int64_t *max_seq,
                       tg__pull_line_fn line, void *arg, char *why, size_t cap) {
  const int *mode = ctx;
  *epoch = 1;
  *max_seq = 10;
  if (*mode == 0) {
    snprintf(why, cap, "disk I/O error");
    return TG__PULL_READ_UNREADABLE;
  }
  (void)to;
  for (int64_t seq = from < 1 ? 1 : from; seq <= 10; seq += 2) /* every other record */
    if (line(arg, seq, "{}", 2) != 0)
      return 0;
  return 0;
}

static void an_unreadable_store_answers_503(void **state) {
  fixture *f = *state;
  tg__pull_server_config cfg;
  tg__pull_server *server = NULL;
  char why[256];
  answer a;
  int mode = 0;
  memset(&cfg, 0, sizeof cfg);
  tg__pull_store_config(f->store, &cfg);
  cfg.listen = "127.0.0.1:0";
  cfg.source.ctx = &mode;
  cfg.source.read = broken_read;
  assert_int_equal(tg__pull_server_start(&cfg, &server, why, sizeof why), 0);
  unsigned port = tg__pull_server_port(server);
  for (mode = 0; mode < 2; mode++) {
    send_signed_as(port, f->hq_sk, "T1", wall_ms(), "GET", "/v1/manifest", 0, &a);
    expect_refusal(f, &a, 503);
    assert_mac(f, &a);
    assert_null(strstr(a.body, "disk")); /* the store's own words stay in the log */
    free(a.body);
    send_signed_as(port, f->hq_sk, "T1", wall_ms(), "GET", "/v1/records?from=1&to=4", 0, &a);
    expect_refusal(f, &a, 503);
    free(a.body);
  }
  tg__pull_server_stop(server);
}

static void https_serves_the_same_answers(void **state) {
  fixture *f = *state;
  char cmd[13000], cert[4200], key[4200], why[256];
  tg__pull_server_config cfg;
  tg__pull_server *server = NULL;
  answer a;
  snprintf(cert, sizeof cert, "%s/cert.pem", f->dir);
  snprintf(key, sizeof key, "%s/key.pem", f->dir);
  snprintf(cmd, sizeof cmd,
           "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 "
           "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -keyout '%s' -out '%s' "
           ">/dev/null 2>&1",
           key, cert);
  if (system(cmd) != 0) {
    TT_SKIP("openssl could not make a test certificate");
    return;
  }
  memset(&cfg, 0, sizeof cfg);
  tg__pull_store_config(f->store, &cfg);
  cfg.listen = "127.0.0.1:0";
  cfg.tls_cert = cert;
  cfg.tls_key = key;
  if (tg__pull_server_start(&cfg, &server, why, sizeof why) != 0)
    fail_msg("TLS server: %s", why);
  tls_ca = cert;
  send_signed_as(tg__pull_server_port(server), f->hq_sk, "T1", wall_ms(), "GET",
                 "/v1/records?from=1&to=5", 1, &a);
  tls_ca = NULL;
  tg__pull_server_stop(server);
  assert_int_equal(a.status, 200);
  assert_string_equal(a.encoding, "gzip");
  assert_mac(f, &a);
  free(a.body);
  /* a key file that is not there is refused before anything listens */
  cfg.tls_key = "/nonexistent/key.pem";
  assert_int_equal(tg__pull_server_start(&cfg, &server, why, sizeof why), -1);
  assert_non_null(strstr(why, "/nonexistent/key.pem"));
}

/* Every allocation of opening the store and of a read fails in turn: an error, never a crash or a
 * leak, and the next try works. */
static void allocation_failures_are_errors(void **state) {
  fixture *f = *state;
  char why[256];
  long n = 1, fired;
  do {
    tg__pull_store *ps = NULL;
    why[0] = '\0';
    tt_mem_arm(0, n);
    int rc = tg__pull_store_open(f->path, &ps, why, sizeof why);
    fired = tt_mem_disarm();
    /* SQLite survives some failed allocations (benign ones): then the store must work */
    if (rc != 0 && why[0] == '\0')
      fail_msg("allocation %ld: refused without a reason", n);
    if (rc == 0) {
      int64_t epoch, max_seq;
      expected e;
      memset(&e, 0, sizeof e);
      e.from = 1;
      e.to = 3;
      crypto_generichash_init(&e.h, NULL, 0, 32);
      tg__pull_server_config cfg;
      memset(&cfg, 0, sizeof cfg);
      tg__pull_store_config(ps, &cfg);
      tt_mem_arm(0, n);
      rc =
          cfg.source.read(cfg.source.ctx, 1, 3, &epoch, &max_seq, expect_line, &e, why, sizeof why);
      fired += tt_mem_disarm();
      tg__buf_free(&e.lines);
      assert_true(rc == TG__PULL_READ_OK || rc == TG__PULL_READ_UNREADABLE ||
                  rc == TG__PULL_READ_NOMEM);
      if (rc == TG__PULL_READ_OK && (max_seq != SALES || e.n != 3))
        fail_msg("allocation %ld: max_seq %lld, %lld records", n, (long long)max_seq,
                 (long long)e.n);
    }
    tg__pull_store_close(ps);
    n++;
  } while (fired > 0 && n < 2000);
  assert_true(fired == 0);
}

/* ----- Answers while sales are committed ----------------------------------- */

typedef struct {
  fixture *f;
  int i;
  int64_t from, to, max_seq, count;
  char digest[65];
  tg__buf body;
  long status;
  int mac_ok;
} pull;

typedef struct {
  const char *path;
  volatile int stop;
  int committed;
  int rc;
} seller;

static void *sell_on(void *arg) {
  seller *s = arg;
  tg_terminal *t = NULL;
  s->rc = tg_terminal_open(s->path, &t);
  for (int i = 0; s->rc == 0 && !s->stop && i < 400; i++) {
    s->rc = tt_commit_quiet(t, (uint64_t)(1000 + i));
    if (s->rc == 0)
      s->committed++;
  }
  tg_terminal_close(t);
  return NULL;
}

static void *pull_on(void *arg) {
  pull *p = arg;
  answer a;
  char target[128];
  if (p->i % 2 == 0)
    snprintf(target, sizeof target, "/v1/manifest");
  else if (p->i % 4 == 1)
    snprintf(target, sizeof target, "/v1/records?from=%d&to=%d", 1 + p->i % 10, SALES);
  else
    snprintf(target, sizeof target, "/v1/manifest?from=%d&to=%d", 1 + p->i % 10, SALES);
  char auth[TG__PULL_AUTH_MAX + 16];
  tg__pull_sign(p->f->hq_sk, "S1", "T1", "GET", target, wall_ms(), auth, sizeof auth);
  send_raw(p->f->port, "GET", target, auth, p->i % 3 == 0, &a);
  p->status = a.status;
  unsigned char key[32];
  char mac[TG__PULL_MAC_TEXT];
  tg__cred_invite_key(p->f->cred.secret, key);
  tg__pull_mac(key, auth, a.body != NULL ? a.body : "", a.n, mac);
  p->mac_ok = strcmp(mac, a.mac) == 0;
  if (p->i % 4 == 1) {
    p->from = 1 + p->i % 10;
    p->to = SALES;
    if (strcmp(a.encoding, "gzip") == 0) {
      unsigned char *text = NULL;
      size_t n = 0;
      if (tg__gunzip(a.body, a.n, TG__SYNC_INFLATED_MAX, TG__SYNC_RATIO_MAX, &text, &n) == 0)
        tg__buf_add(&p->body, text, n);
      free(text);
    } else if (a.body != NULL) {
      tg__buf_add(&p->body, a.body, a.n);
    }
  } else if (a.status == 200) {
    json_t *o = json_loadb(a.body, a.n, 0, NULL);
    const char *d = "";
    json_int_t fr = 0, t = 0, m = 0, c = -1;
    json_unpack(o, "{s:I, s:I, s:I, s:I, s:s}", "from", &fr, "to", &t, "max_seq", &m, "count", &c,
                "digest", &d);
    p->from = fr;
    p->to = t;
    p->max_seq = m;
    p->count = c;
    snprintf(p->digest, sizeof p->digest, "%s", d);
    json_decref(o);
  }
  free(a.body);
  return NULL;
}

static void fifty_answers_stay_consistent_while_sales_commit(void **state) {
  fixture *f = *state;
  pthread_t seller_thread, threads[CONCURRENT];
  seller s = {f->path, 0, 0, 0};
  pull *p = calloc(CONCURRENT, sizeof *p);
  assert_non_null(p);
  assert_int_equal(pthread_create(&seller_thread, NULL, sell_on, &s), 0);
  for (int i = 0; i < CONCURRENT; i++) {
    p[i].f = f;
    p[i].i = i;
    assert_int_equal(pthread_create(&threads[i], NULL, pull_on, &p[i]), 0);
  }
  for (int i = 0; i < CONCURRENT; i++)
    pthread_join(threads[i], NULL);
  s.stop = 1;
  pthread_join(seller_thread, NULL);
  assert_int_equal(s.rc, 0);
  assert_true(s.committed > 0);
  tt_check_ledger(f->path);
  for (int i = 0; i < CONCURRENT; i++) {
    char want[65];
    tg__buf lines;
    if (p[i].status != 200)
      fail_msg("request %d answered %ld", i, p[i].status);
    assert_true(p[i].mac_ok);
    if (p[i].i % 4 == 1) {
      expect_range(f->t, p[i].from, p[i].to, want, &lines);
      assert_int_equal(p[i].body.n, lines.n);
      assert_memory_equal(p[i].body.p, lines.p, lines.n);
      tg__buf_free(&lines);
      tg__buf_free(&p[i].body);
      continue;
    }
    /* records never change once written: the digest of what it named is computed now */
    assert_true(p[i].max_seq >= SALES && p[i].max_seq <= SALES + s.committed);
    assert_int_equal(p[i].count, p[i].to - p[i].from + 1);
    if (p[i].i % 2 == 0) {
      assert_int_equal(p[i].from, 1);
      assert_int_equal(p[i].to, p[i].max_seq);
    }
    expect_range(f->t, p[i].from, p[i].to, want, NULL);
    assert_string_equal(p[i].digest, want);
  }
  free(p);
}

/* ----- The manifest against what HQ stored from a real upload -------------- */

/* Starts build/tillgroup-hq serve on dir/hq.db; returns its pid and port. */
static pid_t start_process(const char *dir, char *const argv[], unsigned *port) {
  int pipefd[2];
  assert_int_equal(pipe(pipefd), 0);
  pid_t pid = fork();
  if (pid == 0) {
    char log[4200];
    snprintf(log, sizeof log, "%s/proc.log", dir);
    int err = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
    dup2(pipefd[1], 1);
    if (err >= 0)
      dup2(err, 2);
    close(pipefd[0]);
    execv(argv[0], argv);
    _exit(127);
  }
  close(pipefd[1]);
  char line[256];
  size_t n = 0;
  struct pollfd pfd = {pipefd[0], POLLIN, 0};
  while (n + 1 < sizeof line && memchr(line, '\n', n) == NULL && poll(&pfd, 1, 10000) > 0) {
    ssize_t r = read(pipefd[0], line + n, sizeof line - 1 - n);
    if (r <= 0)
      break;
    n += (size_t)r;
  }
  line[n] = '\0';
  close(pipefd[0]);
  const char *colon = strrchr(line, ':');
  if (strncmp(line, "listening on ", 13) != 0 || colon == NULL) {
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    fail_msg("%s did not start: \"%s\" (see %s/proc.log)", argv[0], line, dir);
  }
  *port = (unsigned)strtoul(colon + 1, NULL, 10);
  return pid;
}

/* Runs argv with stdin from in (NULL: none) and stdout into out; its exit status. */
static int run_process(const char *dir, char *const argv[], const char *in, char *out, size_t cap) {
  int o[2], i[2];
  assert_int_equal(pipe(o), 0);
  assert_int_equal(pipe(i), 0);
  pid_t pid = fork();
  if (pid == 0) {
    char log[4200];
    snprintf(log, sizeof log, "%s/proc.log", dir);
    int err = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
    dup2(o[1], 1);
    dup2(i[0], 0);
    if (err >= 0)
      dup2(err, 2);
    close(o[0]);
    close(i[1]);
    execv(argv[0], argv);
    _exit(127);
  }
  close(o[1]);
  close(i[0]);
  if (in != NULL && write(i[1], in, strlen(in)) < 0)
    fail_msg("write to child");
  close(i[1]);
  size_t n = 0;
  ssize_t r;
  while (n + 1 < cap && (r = read(o[0], out + n, cap - 1 - n)) > 0)
    n += (size_t)r;
  out[n] = '\0';
  close(o[0]);
  int status;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

typedef struct {
  crypto_generichash_state h;
  int64_t n;
} hq_digest;

static void the_manifest_digest_is_what_hq_stored_from_the_upload(void **state) {
  fixture *f = *state;
  const char *build = getenv("BUILD");
  char hq_bin[4096], spec[4200], cred[256], why[256] = "", url[64], want[65], digest[65];
  unsigned hq_port;
  snprintf(hq_bin, sizeof hq_bin, "%s/tillgroup-hq", build != NULL ? build : "build");
  snprintf(spec, sizeof spec, "sqlite:%s/hq.db", f->dir);
  char *enrol[] = {hq_bin, "enrol", "--db", spec, "S1", "T1", NULL};
  assert_int_equal(run_process(f->dir, enrol, NULL, cred, sizeof cred), 0);
  cred[strcspn(cred, "\n")] = '\0';
  char *serve_argv[] = {hq_bin, "serve", "--db", spec, "--listen", "127.0.0.1:0", NULL};
  pid_t hq = start_process(f->dir, serve_argv, &hq_port);
  /* the terminal enrolled at this HQ uploads everything */
  snprintf(url, sizeof url, "http://127.0.0.1:%u", hq_port);
  tg_hq_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.url = url;
  cfg.credential = cred;
  TT_OK(f->t, tg_hq_enrol(f->t, &cfg));
  tg_sync_options opt;
  memset(&opt, 0, sizeof opt);
  opt.once = 1;
  int rc = tg_sync_run(f->t, &opt);
  kill(hq, SIGTERM);
  waitpid(hq, NULL, 0);
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
  assert_int_equal(h.n, SALES);
  /* serve again with the new enrolment */
  tg__pull_server_stop(f->server);
  tg__pull_store_close(f->store);
  serve(f);
  answer a;
  int64_t epoch, max_seq, from, to, count;
  send_signed_as(f->port, sk, "T1", wall_ms(), "GET", "/v1/manifest", 0, &a);
  assert_int_equal(a.status, 200);
  read_manifest(&a, &epoch, &max_seq, &from, &to, &count, digest);
  assert_int_equal(count, SALES);
  assert_string_equal(digest, want);
  /* the MAC verifies with the invite key HQ keeps for the terminal */
  tg__cred parsed;
  assert_int_equal(tg__cred_parse(cred, strlen(cred), &parsed, why, sizeof why), 0);
  memcpy(f->cred.secret, parsed.secret, sizeof parsed.secret);
  assert_mac(f, &a);
  free(a.body);
  /* the old key no longer pulls */
  send_signed(f, "/v1/manifest", 0, &a);
  assert_int_equal(a.status, 401);
  free(a.body);
  sodium_memzero(sk, sizeof sk);
}

/* ----- The command ---------------------------------------------------------- */

static void the_command_serves_until_sigterm_and_refuses_unenrolled_tills(void **state) {
  fixture *f = *state;
  const char *build = getenv("BUILD");
  char cli[4096], out[512], path2[4200];
  unsigned port;
  snprintf(cli, sizeof cli, "%s/tillgroup", build != NULL ? build : "build");
  char *argv[] = {cli,           "--db",      f->path, "serve-sync", "--listen",
                  "127.0.0.1:0", "--threads", "2",     NULL};
  pid_t pid = start_process(f->dir, argv, &port);
  answer a;
  send_signed_as(port, f->hq_sk, "T1", wall_ms(), "GET", "/v1/manifest?from=1&to=2", 0, &a);
  assert_int_equal(a.status, 200);
  assert_mac(f, &a);
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
  assert_int_equal(run_process(f->dir, argv2, NULL, out, sizeof out), 1);
  assert_string_equal(out, "");
  char *argv3[] = {cli, "--db", f->path, "serve-sync", NULL};
  assert_int_equal(run_process(f->dir, argv3, NULL, out, sizeof out), 2);
  char *argv4[] = {cli, "--db", f->path, "serve-sync", "--listen", "example:80", NULL};
  assert_int_equal(run_process(f->dir, argv4, NULL, out, sizeof out), 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(accept_encoding_is_read_as_written),
      cmocka_unit_test(the_request_decision_needs_no_socket),
      cmocka_unit_test_setup_teardown(a_manifest_names_every_record_with_the_uploaders_digest,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(records_are_the_uploaders_bytes_plain_and_gzip, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(an_empty_store_has_an_empty_manifest, setup, teardown),
      cmocka_unit_test_setup_teardown(every_refusal_has_its_status_and_changes_nothing, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(an_unreadable_store_answers_503, setup, teardown),
      cmocka_unit_test_setup_teardown(https_serves_the_same_answers, setup, teardown),
      cmocka_unit_test_setup_teardown(allocation_failures_are_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(fifty_answers_stay_consistent_while_sales_commit, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(the_manifest_digest_is_what_hq_stored_from_the_upload, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(the_command_serves_until_sigterm_and_refuses_unenrolled_tills,
                                      setup, teardown),
  };
  signal(SIGPIPE, SIG_IGN);
  if (tt_mem_install() != 0 || sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
    return 1;
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  curl_global_cleanup();
  return rc;
}
