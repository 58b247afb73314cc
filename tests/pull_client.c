/* The nightly-pull suites' client: fixtures, libcurl requests signed as HQ, and their checks. */
#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "pull_client.h"

#define BODY_MAX (32 * 1024 * 1024)

const char *pc_tls_ca;    /* NULL: plain HTTP; else HTTPS trusting this CA file */
const char *pc_post_body; /* NULL: none; else sent as the request's body */

int64_t pc_wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Enrols f->t with a credential made here (so the test holds HQ's signing key). */
void pc_enrol_made(pc_fixture *f) {
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

void pc_serve(pc_fixture *f) {
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

int pc_setup(void **state) {
  pc_fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  f->dir = tt_tmpdir();
  f->t = tt_terminal(f->dir, f->path);
  pc_enrol_made(f);
  for (int i = 1; i <= PC_SALES; i++)
    TT_OK(f->t, tt_commit(f->t, (uint64_t)i, 1 + i % 4, NULL));
  pc_serve(f);
  *state = f;
  return 0;
}

int pc_teardown(void **state) {
  pc_fixture *f = *state;
  tg__pull_server_stop(f->server);
  tg__pull_store_close(f->store);
  tg_terminal_close(f->t);
  tt_rmtree(f->dir);
  free(f);
  return 0;
}

static size_t on_body(char *p, size_t size, size_t n, void *ctx) {
  pc_answer *a = ctx;
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
  pc_answer *a = ctx;
  header_value(p, size * n, "X-TG-MAC", a->mac, sizeof a->mac);
  header_value(p, size * n, "Content-Encoding", a->encoding, sizeof a->encoding);
  header_value(p, size * n, "Content-Type", a->type, sizeof a->type);
  return size * n;
}

/*
 * Sends method target to the server with Authorization auth (NULL: none) and
 * Accept-Encoding gzip when gzip. Fills *a (free a->body).
 */
void pc_send_raw(unsigned port, const char *method, const char *target, const char *auth, int gzip,
                 pc_answer *a) {
  char url[1024], header[512];
  struct curl_slist *h = NULL;
  memset(a, 0, sizeof *a);
  snprintf(url, sizeof url, "%s://127.0.0.1:%u%s", pc_tls_ca != NULL ? "https" : "http", port,
           target);
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
  if (pc_tls_ca != NULL)
    curl_easy_setopt(c, CURLOPT_CAINFO, pc_tls_ca);
  if (pc_post_body != NULL) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, pc_post_body);
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
void pc_send_signed_as(unsigned port, const unsigned char sk[64], const char *terminal,
                       int64_t time_ms, const char *method, const char *target, int gzip,
                       pc_answer *a) {
  char auth[TG__PULL_AUTH_MAX + 16];
  assert_true(tg__pull_sign(sk, "S1", terminal, method, target, time_ms, auth, sizeof auth) > 0);
  pc_send_raw(port, method, target, auth, gzip, a);
}

void pc_send_signed(pc_fixture *f, const char *target, int gzip, pc_answer *a) {
  pc_send_signed_as(f->port, f->hq_sk, "T1", pc_wall_ms(), "GET", target, gzip, a);
}

/* The answer's MAC verifies with the invite key HQ keeps for this terminal. */
void pc_assert_mac(const pc_fixture *f, const pc_answer *a) {
  unsigned char key[32];
  char mac[TG__PULL_MAC_TEXT];
  tg__cred_invite_key(f->cred.secret, key);
  tg__pull_mac(key, a->auth, a->body != NULL ? a->body : "", a->n, mac);
  if (strcmp(mac, a->mac) != 0)
    fail_msg("X-TG-MAC \"%s\" is not the terminal's MAC of the answer", a->mac);
}

int pc_expect_line(void *ctx, int64_t seq, const char *json, size_t len) {
  pc_expected *e = ctx;
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
void pc_expect_range(tg_terminal *t, int64_t from, int64_t to, char hex[65], tg__buf *lines) {
  pc_expected e;
  unsigned char d[32];
  memset(&e, 0, sizeof e);
  e.from = from;
  e.to = to;
  crypto_generichash_init(&e.h, NULL, 0, 32);
  TT_OK(t, tg_outbox_each(t, 0, 0, pc_expect_line, &e));
  assert_int_equal(e.n, to >= from ? to - from + 1 : 0);
  crypto_generichash_final(&e.h, d, 32);
  sodium_bin2hex(hex, 65, d, 32);
  if (lines != NULL)
    *lines = e.lines;
  else
    tg__buf_free(&e.lines);
}

/* Reads a manifest's fields; fails the test unless it has exactly the protocol's shape. */
void pc_read_manifest(const pc_answer *a, int64_t *epoch, int64_t *max_seq, int64_t *from,
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

/* Sends and checks the status and an {"error":...} body. */
void pc_expect_refusal(pc_fixture *f, const pc_answer *a, long status) {
  json_t *o = json_loadb(a->body, a->n, 0, NULL);
  if (a->status != status)
    fail_msg("expected %ld, got %ld: %.*s", status, a->status, (int)a->n, a->body);
  if (o == NULL || json_object_size(o) != 1 || !json_is_string(json_object_get(o, "error")))
    fail_msg("not {\"error\":...}: %.*s", (int)a->n, a->body);
  json_decref(o);
  (void)f;
}
