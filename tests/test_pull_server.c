/*
 * The terminal's nightly-pull endpoint: a real terminal store served on
 * loopback, read by a real libcurl client signing as HQ. Manifests and
 * records must be the uploader's exact bytes, every answer MAC'd with the
 * key HQ holds, every refusal its own status with nothing changed, and
 * answers consistent while sales are committed at the same time. The
 * command and the comparison with HQ's stored records: test_pull_serve.c.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pull_client.h"

#define CONCURRENT 50

static void a_manifest_names_every_record_with_the_uploaders_digest(void **state) {
  pc_fixture *f = *state;
  pc_answer a;
  int64_t epoch, max_seq, from, to, count;
  char digest[65], want[65];
  tg_terminal_info info;
  TT_OK(f->t, tg_terminal_get_info(f->t, &info));
  pc_send_signed(f, "/v1/manifest", 0, &a);
  assert_int_equal(a.status, 200);
  assert_string_equal(a.type, "application/json");
  pc_assert_mac(f, &a);
  pc_read_manifest(&a, &epoch, &max_seq, &from, &to, &count, digest);
  pc_expect_range(f->t, 1, PC_SALES, want, NULL);
  assert_int_equal(epoch, info.epoch);
  assert_int_equal(max_seq, PC_SALES);
  assert_int_equal(from, 1);
  assert_int_equal(to, PC_SALES);
  assert_int_equal(count, PC_SALES);
  assert_string_equal(digest, want);
  free(a.body);
  /* a range */
  pc_send_signed(f, "/v1/manifest?from=7&to=19", 0, &a);
  assert_int_equal(a.status, 200);
  pc_assert_mac(f, &a);
  pc_read_manifest(&a, &epoch, &max_seq, &from, &to, &count, digest);
  pc_expect_range(f->t, 7, 19, want, NULL);
  assert_int_equal(from, 7);
  assert_int_equal(to, 19);
  assert_int_equal(count, 13);
  assert_int_equal(max_seq, PC_SALES);
  assert_string_equal(digest, want);
  free(a.body);
  pc_send_signed(f, "/v1/manifest?to=40&from=40", 0, &a); /* either order, one record */
  assert_int_equal(a.status, 200);
  pc_read_manifest(&a, &epoch, &max_seq, &from, &to, &count, digest);
  pc_expect_range(f->t, 40, 40, want, NULL);
  assert_int_equal(count, 1);
  assert_string_equal(digest, want);
  free(a.body);
}

static void records_are_the_uploaders_bytes_plain_and_gzip(void **state) {
  pc_fixture *f = *state;
  pc_answer a;
  tg__buf want;
  char hex[65];
  pc_expect_range(f->t, 3, 31, hex, &want);
  pc_send_signed(f, "/v1/records?from=3&to=31", 0, &a);
  assert_int_equal(a.status, 200);
  assert_string_equal(a.type, "application/x-ndjson");
  assert_string_equal(a.encoding, "");
  pc_assert_mac(f, &a);
  assert_int_equal(a.n, want.n);
  assert_memory_equal(a.body, want.p, want.n);
  free(a.body);
  pc_send_signed(f, "/v1/records?from=3&to=31", 1, &a);
  assert_int_equal(a.status, 200);
  assert_string_equal(a.encoding, "gzip");
  pc_assert_mac(f, &a); /* over the gzip bytes as sent */
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
  pc_send_signed_as(f->port, f->hq_sk, "T1", pc_wall_ms(), "HEAD", "/v1/records?from=1&to=2", 0,
                    &a);
  assert_int_equal(a.status, 200);
  assert_int_equal(a.n, 0);
  free(a.body);
}

static void an_empty_store_has_an_empty_manifest(void **state) {
  pc_fixture *f = *state;
  pc_answer a;
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
  pc_enrol_made(f);
  pc_serve(f);
  pc_send_signed(f, "/v1/manifest", 0, &a);
  assert_int_equal(a.status, 200);
  pc_assert_mac(f, &a);
  pc_read_manifest(&a, &epoch, &max_seq, &from, &to, &count, digest);
  crypto_generichash(d, 32, NULL, 0, NULL, 0);
  sodium_bin2hex(want, sizeof want, d, 32);
  assert_int_equal(max_seq, 0);
  assert_int_equal(from, 1);
  assert_int_equal(to, 0);
  assert_int_equal(count, 0);
  assert_string_equal(digest, want);
  free(a.body);
  pc_send_signed(f, "/v1/records?from=1&to=1", 0, &a);
  assert_int_equal(a.status, 422);
  free(a.body);
}

static void every_refusal_has_its_status_and_changes_nothing(void **state) {
  pc_fixture *f = *state;
  pc_answer a;
  unsigned char other_pk[32], other_sk[64];
  char auth[TG__PULL_AUTH_MAX + 16], long_target[TG__PULL_TARGET_MAX + 64];
  uint64_t before = tt_fingerprint(f->path);
  crypto_sign_keypair(other_pk, other_sk);
  /* 401: no signature, a broken one, another terminal's, a stale one, another key's */
  pc_send_raw(f->port, "GET", "/v1/manifest", NULL, 0, &a);
  pc_expect_refusal(f, &a, 401);
  free(a.body);
  assert_true(tg__pull_sign(f->hq_sk, "S1", "T1", "GET", "/v1/manifest", pc_wall_ms(), auth,
                            sizeof auth) > 0);
  auth[strlen(auth) - 3] = auth[strlen(auth) - 3] == 'A' ? 'B' : 'A';
  pc_send_raw(f->port, "GET", "/v1/manifest", auth, 0, &a);
  pc_expect_refusal(f, &a, 401);
  free(a.body);
  pc_send_raw(f->port, "GET", "/v1/manifest", "Bearer S1.T1.abc", 0, &a);
  pc_expect_refusal(f, &a, 401);
  free(a.body);
  pc_send_signed_as(f->port, f->hq_sk, "T2", pc_wall_ms(), "GET", "/v1/manifest", 0, &a);
  pc_expect_refusal(f, &a, 401);
  free(a.body);
  pc_send_signed_as(f->port, f->hq_sk, "T1", pc_wall_ms() - 6 * 60 * 1000, "GET", "/v1/manifest", 0,
                    &a);
  pc_expect_refusal(f, &a, 401);
  free(a.body);
  pc_send_signed_as(f->port, other_sk, "T1", pc_wall_ms(), "GET", "/v1/manifest", 0, &a);
  pc_expect_refusal(f, &a, 401);
  free(a.body);
  /* a signature for another target does not carry over */
  assert_true(tg__pull_sign(f->hq_sk, "S1", "T1", "GET", "/v1/records?from=1&to=2", pc_wall_ms(),
                            auth, sizeof auth) > 0);
  pc_send_raw(f->port, "GET", "/v1/records?from=1&to=3", auth, 0, &a);
  pc_expect_refusal(f, &a, 401);
  free(a.body);
  /* 404, 405 */
  pc_send_signed(f, "/v1/other", 0, &a);
  pc_expect_refusal(f, &a, 404);
  free(a.body);
  pc_send_signed(f, "/v1/manifest/", 0, &a);
  pc_expect_refusal(f, &a, 404);
  free(a.body);
  pc_send_signed_as(f->port, f->hq_sk, "T1", pc_wall_ms(), "POST", "/v1/records?from=1&to=2", 0,
                    &a);
  pc_expect_refusal(f, &a, 405);
  free(a.body);
  pc_post_body = "{}"; /* with a body too: still 405, and a GET with a body is 400 */
  pc_send_signed_as(f->port, f->hq_sk, "T1", pc_wall_ms(), "POST", "/v1/records?from=1&to=2", 0,
                    &a);
  pc_expect_refusal(f, &a, 405);
  free(a.body);
  pc_send_signed_as(f->port, f->hq_sk, "T1", pc_wall_ms(), "PUT", "/v1/manifest", 0, &a);
  pc_expect_refusal(f, &a, 405);
  free(a.body);
  pc_send_signed_as(f->port, f->hq_sk, "T1", pc_wall_ms(), "GET", "/v1/manifest", 0, &a);
  pc_expect_refusal(f, &a, 400);
  free(a.body);
  pc_post_body = NULL;
  pc_send_signed_as(f->port, f->hq_sk, "T1", pc_wall_ms(), "DELETE", "/v1/manifest", 0, &a);
  pc_expect_refusal(f, &a, 405);
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
    pc_send_signed(f, bad[i], 0, &a);
    if (a.status != 422)
      fail_msg("%s: pc_expected 422, got %ld", bad[i], a.status);
    pc_expect_refusal(f, &a, 422);
    pc_assert_mac(f, &a); /* authenticated: HQ can trust the refusal too */
    free(a.body);
  }
  /* 414: a target over 512 bytes */
  size_t n = (size_t)snprintf(long_target, sizeof long_target, "/v1/manifest?from=1&to=2");
  while (n < TG__PULL_TARGET_MAX + 8)
    long_target[n++] = 'x';
  long_target[n] = '\0';
  pc_send_raw(f->port, "GET", long_target, "TG-HQ S1.T1.1.x", 0, &a);
  pc_expect_refusal(f, &a, 414);
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
  pc_fixture *f = *state;
  tg__pull_server_config cfg;
  tg__pull_server *server = NULL;
  char why[256];
  pc_answer a;
  int mode = 0;
  memset(&cfg, 0, sizeof cfg);
  tg__pull_store_config(f->store, &cfg);
  cfg.listen = "127.0.0.1:0";
  cfg.source.ctx = &mode;
  cfg.source.read = broken_read;
  assert_int_equal(tg__pull_server_start(&cfg, &server, why, sizeof why), 0);
  unsigned port = tg__pull_server_port(server);
  for (mode = 0; mode < 2; mode++) {
    pc_send_signed_as(port, f->hq_sk, "T1", pc_wall_ms(), "GET", "/v1/manifest", 0, &a);
    pc_expect_refusal(f, &a, 503);
    pc_assert_mac(f, &a);
    assert_null(strstr(a.body, "disk")); /* the store's own words stay in the log */
    free(a.body);
    pc_send_signed_as(port, f->hq_sk, "T1", pc_wall_ms(), "GET", "/v1/records?from=1&to=4", 0, &a);
    pc_expect_refusal(f, &a, 503);
    free(a.body);
  }
  tg__pull_server_stop(server);
}

static void https_serves_the_same_answers(void **state) {
  pc_fixture *f = *state;
  char cmd[13000], cert[4200], key[4200], why[256];
  tg__pull_server_config cfg;
  tg__pull_server *server = NULL;
  pc_answer a;
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
  pc_tls_ca = cert;
  pc_send_signed_as(tg__pull_server_port(server), f->hq_sk, "T1", pc_wall_ms(), "GET",
                    "/v1/records?from=1&to=5", 1, &a);
  pc_tls_ca = NULL;
  tg__pull_server_stop(server);
  assert_int_equal(a.status, 200);
  assert_string_equal(a.encoding, "gzip");
  pc_assert_mac(f, &a);
  free(a.body);
  /* a key file that is not there is refused before anything listens */
  cfg.tls_key = "/nonexistent/key.pem";
  assert_int_equal(tg__pull_server_start(&cfg, &server, why, sizeof why), -1);
  assert_non_null(strstr(why, "/nonexistent/key.pem"));
}

/* Every allocation of opening the store and of a read fails in turn: an error, never a crash or a
 * leak, and the next try works. */
static void allocation_failures_are_errors(void **state) {
  pc_fixture *f = *state;
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
      pc_expected e;
      memset(&e, 0, sizeof e);
      e.from = 1;
      e.to = 3;
      crypto_generichash_init(&e.h, NULL, 0, 32);
      tg__pull_server_config cfg;
      memset(&cfg, 0, sizeof cfg);
      tg__pull_store_config(ps, &cfg);
      tt_mem_arm(0, n);
      rc = cfg.source.read(cfg.source.ctx, 1, 3, &epoch, &max_seq, pc_expect_line, &e, why,
                           sizeof why);
      fired += tt_mem_disarm();
      tg__buf_free(&e.lines);
      assert_true(rc == TG__PULL_READ_OK || rc == TG__PULL_READ_UNREADABLE ||
                  rc == TG__PULL_READ_NOMEM);
      if (rc == TG__PULL_READ_OK && (max_seq != PC_SALES || e.n != 3))
        fail_msg("allocation %ld: max_seq %lld, %lld records", n, (long long)max_seq,
                 (long long)e.n);
    }
    tg__pull_store_close(ps);
    n++;
  } while (fired > 0 && n < 2000);
  assert_true(fired == 0);
}

/* A client that opens a connection and says nothing, or half a request, is cut off. */
static void an_idle_connection_is_closed(void **state) {
  pc_fixture *f = *state;
  tg__pull_server_config cfg;
  tg__pull_server *server = NULL;
  char why[256], buf[256];
  memset(&cfg, 0, sizeof cfg);
  tg__pull_store_config(f->store, &cfg);
  cfg.listen = "127.0.0.1:0";
  cfg.timeout_s = 1;
  assert_int_equal(tg__pull_server_start(&cfg, &server, why, sizeof why), 0);
  struct sockaddr_in addr = {0};
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)tg__pull_server_port(server));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (int half = 0; half < 2; half++) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&addr, sizeof addr), 0);
    if (half)
      assert_int_equal(write(fd, "GET /v1/manifest HTTP/1.1\r\nHost: x\r\n", 37), 37);
    int64_t t0 = pc_wall_ms();
    struct pollfd pfd = {fd, POLLIN, 0};
    assert_int_equal(poll(&pfd, 1, 10000), 1);
    assert_true(read(fd, buf, sizeof buf) <= 0); /* closed, nothing answered */
    assert_true(pc_wall_ms() - t0 < 5000);
    close(fd);
  }
  tg__pull_server_stop(server);
}

/* ----- Answers while sales are committed ----------------------------------- */

typedef struct {
  pc_fixture *f;
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
  pc_answer a;
  char target[128];
  if (p->i % 2 == 0)
    snprintf(target, sizeof target, "/v1/manifest");
  else if (p->i % 4 == 1)
    snprintf(target, sizeof target, "/v1/records?from=%d&to=%d", 1 + p->i % 10, PC_SALES);
  else
    snprintf(target, sizeof target, "/v1/manifest?from=%d&to=%d", 1 + p->i % 10, PC_SALES);
  char auth[TG__PULL_AUTH_MAX + 16];
  tg__pull_sign(p->f->hq_sk, "S1", "T1", "GET", target, pc_wall_ms(), auth, sizeof auth);
  pc_send_raw(p->f->port, "GET", target, auth, p->i % 3 == 0, &a);
  p->status = a.status;
  unsigned char key[32];
  char mac[TG__PULL_MAC_TEXT];
  tg__cred_invite_key(p->f->cred.secret, key);
  tg__pull_mac(key, auth, a.body != NULL ? a.body : "", a.n, mac);
  p->mac_ok = strcmp(mac, a.mac) == 0;
  if (p->i % 4 == 1) {
    p->from = 1 + p->i % 10;
    p->to = PC_SALES;
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
  pc_fixture *f = *state;
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
      pc_expect_range(f->t, p[i].from, p[i].to, want, &lines);
      assert_int_equal(p[i].body.n, lines.n);
      assert_memory_equal(p[i].body.p, lines.p, lines.n);
      tg__buf_free(&lines);
      tg__buf_free(&p[i].body);
      continue;
    }
    /* records never change once written: the digest of what it named is computed now */
    assert_true(p[i].max_seq >= PC_SALES && p[i].max_seq <= PC_SALES + s.committed);
    assert_int_equal(p[i].count, p[i].to - p[i].from + 1);
    if (p[i].i % 2 == 0) {
      assert_int_equal(p[i].from, 1);
      assert_int_equal(p[i].to, p[i].max_seq);
    }
    pc_expect_range(f->t, p[i].from, p[i].to, want, NULL);
    assert_string_equal(p[i].digest, want);
  }
  free(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(accept_encoding_is_read_as_written),
      cmocka_unit_test(the_request_decision_needs_no_socket),
      cmocka_unit_test_setup_teardown(a_manifest_names_every_record_with_the_uploaders_digest,
                                      pc_setup, pc_teardown),
      cmocka_unit_test_setup_teardown(records_are_the_uploaders_bytes_plain_and_gzip, pc_setup,
                                      pc_teardown),
      cmocka_unit_test_setup_teardown(an_empty_store_has_an_empty_manifest, pc_setup, pc_teardown),
      cmocka_unit_test_setup_teardown(every_refusal_has_its_status_and_changes_nothing, pc_setup,
                                      pc_teardown),
      cmocka_unit_test_setup_teardown(an_unreadable_store_answers_503, pc_setup, pc_teardown),
      cmocka_unit_test_setup_teardown(https_serves_the_same_answers, pc_setup, pc_teardown),
      cmocka_unit_test_setup_teardown(an_idle_connection_is_closed, pc_setup, pc_teardown),
      cmocka_unit_test_setup_teardown(allocation_failures_are_errors, pc_setup, pc_teardown),
      cmocka_unit_test_setup_teardown(fifty_answers_stay_consistent_while_sales_commit, pc_setup,
                                      pc_teardown),
  };
  signal(SIGPIPE, SIG_IGN);
  if (tt_mem_install() != 0 || sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
    return 1;
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  curl_global_cleanup();
  return rc;
}
