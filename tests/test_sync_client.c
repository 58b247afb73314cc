/* The store's sync client: HQ's acknowledgement read strictly, the retry schedule, and uploads and
 * bundle fetches against a real loopback HTTP server. */
#include <arpa/inet.h>
#include <limits.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"
#include "sync.h"

/* ----- the acknowledgement ---------------------------------------------- */

/* Parses the NUL-terminated json as the answer to from..to; fails the test if it is refused. */
static void accept_ack(const char *json, int64_t from, int64_t to, tg__sync_ack *ack) {
  char why[256] = "";
  if (tg__sync_ack_parse(json, strlen(json), from, to, ack, why, sizeof why) != 0)
    fail_msg("refused %s: %s", json, why);
}

/* Parses n bytes as the answer to from..to: it must be refused with a reason and leave ack empty.
 */
static void refuse_ack(const char *json, size_t n, int64_t from, int64_t to) {
  tg__sync_ack ack;
  char why[256] = "";
  memset(&ack, 0x5a, sizeof ack);
  if (tg__sync_ack_parse(json, n, from, to, &ack, why, sizeof why) != -1)
    fail_msg("accepted %.*s", (int)(n < 200 ? n : 200), json);
  assert_true(why[0] != '\0');
  assert_null(ack.rejected);
  assert_int_equal(ack.n_rejected, 0);
  assert_int_equal(ack.n_missing, 0);
  assert_int_equal(ack.acked_through, 0);
  tg__sync_ack_free(&ack);
}
#define REFUSE(json, from, to) refuse_ack(json, strlen(json), from, to)

static void good_acknowledgements_are_read(void **state) {
  tg__sync_ack ack;
  (void)state;
  accept_ack("{\"acked_through\":10,\"rejected\":[],\"missing\":[]}", 1, 10, &ack);
  assert_int_equal(ack.acked_through, 10);
  tg__sync_ack_free(&ack);
  /* HQ already held more (a batch a killed uploader sent was bigger) */
  accept_ack("{\"acked_through\":5000,\"rejected\":[],\"missing\":[]}", 1, 10, &ack);
  assert_int_equal(ack.acked_through, 5000);
  assert_int_equal(ack.n_rejected, 0);
  assert_null(ack.rejected);
  assert_int_equal(ack.n_missing, 0);
  tg__sync_ack_free(&ack);

  /* any key order, white space; HQ holds nothing yet */
  accept_ack(" {\"missing\" : [ ],\n\"rejected\":[], \"acked_through\": 0 } ", 1, 3, &ack);
  assert_int_equal(ack.acked_through, 0);
  tg__sync_ack_free(&ack);

  /* rejections within the batch, up to acked_through; gaps above it */
  accept_ack("{\"acked_through\":1234,\"rejected\":["
             "{\"seq\":1200,\"status\":\"invalid\",\"reason\":\"total is not an integer\"},"
             "{\"reason\":\"other bytes\",\"seq\":1234,\"status\":\"conflict\"}],"
             "\"missing\":[[1236,1236],[1240,1299]]}",
             1001, 1300, &ack);
  assert_int_equal(ack.acked_through, 1234);
  assert_int_equal(ack.n_rejected, 2);
  assert_int_equal(ack.rejected[0].seq, 1200);
  assert_string_equal(ack.rejected[0].status, "invalid");
  assert_string_equal(ack.rejected[0].reason, "total is not an integer");
  assert_int_equal(ack.rejected[1].seq, 1234);
  assert_string_equal(ack.rejected[1].status, "conflict");
  assert_int_equal(ack.n_missing, 2);
  assert_int_equal(ack.missing[0][0], 1236);
  assert_int_equal(ack.missing[0][1], 1236);
  assert_int_equal(ack.missing[1][0], 1240);
  assert_int_equal(ack.missing[1][1], 1299);
  tg__sync_ack_free(&ack);

  /* HQ restored from a backup: acked_through below the batch; gaps may lie above it */
  accept_ack("{\"acked_through\":3,\"rejected\":[],\"missing\":[[4,99],[200,300]]}", 100, 120,
             &ack);
  assert_int_equal(ack.acked_through, 3);
  assert_int_equal(ack.n_missing, 2);
  tg__sync_ack_free(&ack);

  /* 64 ranges exactly */
  char big[4096];
  size_t n =
      (size_t)snprintf(big, sizeof big, "{\"acked_through\":0,\"rejected\":[],\"missing\":[");
  for (int i = 0; i < TG__SYNC_MISSING_MAX; i++)
    n += (size_t)snprintf(big + n, sizeof big - n, "%s[%d,%d]", i ? "," : "", 2 * i + 1, 2 * i + 1);
  snprintf(big + n, sizeof big - n, "]}");
  accept_ack(big, 1, 1, &ack);
  assert_int_equal(ack.n_missing, TG__SYNC_MISSING_MAX);
  assert_int_equal(ack.missing[63][0], 127);
  tg__sync_ack_free(&ack);

  /* a rejection for every record of the batch */
  accept_ack(
      "{\"acked_through\":2,\"rejected\":[{\"seq\":1,\"status\":\"invalid\",\"reason\":\"\"},"
      "{\"seq\":2,\"status\":\"invalid\",\"reason\":\"x\"}],\"missing\":[]}",
      1, 2, &ack);
  assert_int_equal(ack.n_rejected, 2);
  assert_string_equal(ack.rejected[0].reason, "");
  tg__sync_ack_free(&ack);

  tg__sync_ack_free(NULL);
  tg__sync_ack_free(&ack); /* a zeroed ack */
}

static void rejection_reasons_are_printable_and_cut_on_a_character(void **state) {
  tg__sync_ack ack;
  char json[2048];
  (void)state;
  /* controls (C0, DEL, C1 U+0085) become '?', other text stays */
  accept_ack(
      "{\"acked_through\":1,\"rejected\":[{\"seq\":1,\"status\":\"invalid\","
      "\"reason\":\"a\\nb\\u0007c\\u007fd\\u0085e \xe6\x80\xbb\xe9\xa2\x9d\"}],\"missing\":[]}",
      1, 1, &ack);
  assert_string_equal(ack.rejected[0].reason, "a?b?c?d?e \xe6\x80\xbb\xe9\xa2\x9d");
  tg__sync_ack_free(&ack);

  /* 100 three-byte characters: 53 fit in 159 bytes, and no half character follows */
  size_t n =
      (size_t)snprintf(json, sizeof json,
                       "{\"acked_through\":1,\"rejected\":[{\"seq\":1,\"status\":\"invalid\","
                       "\"reason\":\"");
  for (int i = 0; i < 100; i++)
    n += (size_t)snprintf(json + n, sizeof json - n, "\xe9\x87\x91");
  snprintf(json + n, sizeof json - n, "\"}],\"missing\":[]}");
  accept_ack(json, 1, 1, &ack);
  assert_int_equal(strlen(ack.rejected[0].reason), 159);
  assert_memory_equal(ack.rejected[0].reason + 156, "\xe9\x87\x91", 3);
  tg__sync_ack_free(&ack);

  /* one byte more: a four-byte character no longer fits whole after 158 bytes */
  n = (size_t)snprintf(json, sizeof json,
                       "{\"acked_through\":1,\"rejected\":[{\"seq\":1,\"status\":\"invalid\","
                       "\"reason\":\"");
  for (int i = 0; i < 158; i++)
    json[n++] = 'a';
  n += (size_t)snprintf(json + n, sizeof json - n, "\xf0\x9f\x98\x80tail\"}],\"missing\":[]}");
  accept_ack(json, 1, 1, &ack);
  assert_int_equal(strlen(ack.rejected[0].reason), 158);
  tg__sync_ack_free(&ack);
}

static void acknowledgements_not_of_the_protocol_shape_are_refused(void **state) {
  (void)state;
  /* not an object, not JSON, trailing bytes */
  REFUSE("", 1, 10);
  REFUSE("[]", 1, 10);
  REFUSE("null", 1, 10);
  REFUSE("10", 1, 10);
  REFUSE("\"ok\"", 1, 10);
  REFUSE("<html>502 Bad Gateway</html>", 1, 10);
  REFUSE("{\"acked_through\":10,\"rejected\":[],\"missing\":[]}x", 1, 10);
  REFUSE("{\"acked_through\":10,\"rejected\":[],\"missing\":[]}{}", 1, 10);
  REFUSE("{\"acked_through\":10,\"rejected\":[],\"missing\":[]", 1, 10);
  refuse_ack("{\"acked_through\":10,\"rejected\":[],\"missing\":[]}\0", 49, 1, 10);
  /* keys missing, extra, repeated */
  REFUSE("{\"acked_through\":10,\"rejected\":[]}", 1, 10);
  REFUSE("{\"acked_through\":10,\"missing\":[]}", 1, 10);
  REFUSE("{\"rejected\":[],\"missing\":[]}", 1, 10);
  REFUSE("{\"acked_through\":10,\"rejected\":[],\"missing\":[],\"note\":1}", 1, 10);
  REFUSE("{\"acked_through\":10,\"rejected\":[],\"missing\":[],\"missing\":[]}", 1, 10);
  REFUSE("{\"acked_through\":10,\"rejected\":[],\"rejected\":[]}", 1, 10);
  /* acked_through of the wrong type or out of 0..to */
  REFUSE("{\"acked_through\":\"10\",\"rejected\":[],\"missing\":[]}", 1, 10);
  REFUSE("{\"acked_through\":10.0,\"rejected\":[],\"missing\":[]}", 1, 10);
  REFUSE("{\"acked_through\":1e1,\"rejected\":[],\"missing\":[]}", 1, 10);
  REFUSE("{\"acked_through\":null,\"rejected\":[],\"missing\":[]}", 1, 10);
  REFUSE("{\"acked_through\":true,\"rejected\":[],\"missing\":[]}", 1, 10);
  REFUSE("{\"acked_through\":-1,\"rejected\":[],\"missing\":[]}", 1, 10);
  REFUSE("{\"acked_through\":9007199254740993,\"rejected\":[],\"missing\":[]}", 1, 10);
  REFUSE("{\"acked_through\":99999999999999999999,\"rejected\":[],\"missing\":[]}", 1, 10);
  /* rejected and missing of the wrong type */
  REFUSE("{\"acked_through\":10,\"rejected\":{},\"missing\":[]}", 1, 10);
  REFUSE("{\"acked_through\":10,\"rejected\":null,\"missing\":[]}", 1, 10);
  REFUSE("{\"acked_through\":10,\"rejected\":[],\"missing\":{}}", 1, 10);
  REFUSE("{\"acked_through\":10,\"rejected\":[],\"missing\":\"\"}", 1, 10);
}

#define REJ(seq, status) "{\"seq\":" #seq ",\"status\":\"" status "\",\"reason\":\"r\"}"
#define ACK(acked, rejected, missing)                                                              \
  "{\"acked_through\":" #acked ",\"rejected\":[" rejected "],\"missing\":[" missing "]}"

static void rejections_and_gaps_out_of_range_are_refused(void **state) {
  (void)state;
  REFUSE(ACK(10, REJ(4, "invalid"), ""), 5, 10);                        /* below the batch */
  REFUSE(ACK(10, REJ(11, "invalid"), ""), 5, 10);                       /* above the batch */
  REFUSE(ACK(6, REJ(7, "invalid"), ""), 5, 10);                         /* above acked_through */
  REFUSE(ACK(10, REJ(7, "invalid") "," REJ(6, "invalid"), ""), 5, 10);  /* out of order */
  REFUSE(ACK(10, REJ(7, "invalid") "," REJ(7, "conflict"), ""), 5, 10); /* repeated */
  REFUSE(ACK(2, REJ(1, "invalid") "," REJ(2, "invalid") "," REJ(2, "invalid"), ""), 1, 2);
  REFUSE(ACK(10, REJ(7, "dropped"), ""), 5, 10);
  REFUSE(ACK(10, REJ(7, "Invalid"), ""), 5, 10);
  REFUSE(ACK(10, REJ("7", "invalid"), ""), 5, 10);
  REFUSE(ACK(10, "{\"seq\":7,\"status\":\"invalid\"}", ""), 5, 10);
  REFUSE(ACK(10, "{\"seq\":7,\"status\":\"invalid\",\"reason\":null}", ""), 5, 10);
  REFUSE(ACK(10, "{\"seq\":7,\"status\":1,\"reason\":\"r\"}", ""), 5, 10);
  REFUSE(ACK(10, "{\"seq\":7,\"status\":\"invalid\",\"reason\":\"r\",\"x\":0}", ""), 5, 10);
  REFUSE(ACK(10, "7", ""), 5, 10);
  REFUSE(ACK(10, "[7,\"invalid\",\"r\"]", ""), 5, 10);
  /* gaps: a pair of integers 1 <= a <= b, above acked_through, in order and apart */
  REFUSE(ACK(0, "", "[0,0]"), 1, 10);
  REFUSE(ACK(5, "", "[5,6]"), 1, 10);
  REFUSE(ACK(5, "", "[8,7]"), 1, 10);
  REFUSE(ACK(5, "", "[7]"), 1, 10);
  REFUSE(ACK(5, "", "[7,8,9]"), 1, 10);
  REFUSE(ACK(5, "", "[7,\"8\"]"), 1, 10);
  REFUSE(ACK(5, "", "[7,8.5]"), 1, 10);
  REFUSE(ACK(5, "", "7"), 1, 10);
  REFUSE(ACK(5, "", "[9,9],[7,7]"), 1, 10);
  REFUSE(ACK(5, "", "[7,9],[9,12]"), 1, 10);
  REFUSE(ACK(5, "", "[7,9007199254740993]"), 1, 10);

  /* 65 ranges */
  char big[4096];
  size_t n =
      (size_t)snprintf(big, sizeof big, "{\"acked_through\":0,\"rejected\":[],\"missing\":[");
  for (int i = 0; i <= TG__SYNC_MISSING_MAX; i++)
    n += (size_t)snprintf(big + n, sizeof big - n, "%s[%d,%d]", i ? "," : "", 2 * i + 1, 2 * i + 1);
  n += (size_t)snprintf(big + n, sizeof big - n, "]}");
  refuse_ack(big, n, 1, 1);

  /* over 256 KiB, even when it is well formed (white space) */
  size_t huge = TG__SYNC_ACK_MAX + 1;
  char *p = malloc(huge);
  assert_non_null(p);
  const char *ack = ACK(1, "", "");
  memset(p, ' ', huge);
  memcpy(p, ack, strlen(ack));
  refuse_ack(p, huge, 1, 1);
  free(p);
}

/* ----- the retry schedule ----------------------------------------------- */

static void backoff_grows_to_its_cap_with_full_jitter(void **state) {
  (void)state;
  int64_t ceiling = 500;
  for (int attempt = 1; attempt <= 12; attempt++) {
    assert_int_equal(tg__sync_backoff_ms(attempt, 0, 0), 0);
    assert_int_equal(tg__sync_backoff_ms(attempt, 0, UINT32_MAX), ceiling);
    int64_t mid = tg__sync_backoff_ms(attempt, 0, UINT32_C(1) << 31);
    assert_true(mid >= ceiling / 2 - 1 && mid <= ceiling / 2 + 1);
    ceiling = ceiling * 2 > 60000 ? 60000 : ceiling * 2;
  }
  assert_int_equal(tg__sync_backoff_ms(1, 0, UINT32_MAX), 500);
  assert_int_equal(tg__sync_backoff_ms(2, 0, UINT32_MAX), 1000);
  assert_int_equal(tg__sync_backoff_ms(7, 0, UINT32_MAX), 32000);
  assert_int_equal(tg__sync_backoff_ms(8, 0, UINT32_MAX), 60000);
  assert_int_equal(tg__sync_backoff_ms(INT_MAX, 0, UINT32_MAX), 60000);
  /* every value stays within 0..ceiling */
  uint32_t r = 12345;
  for (int i = 0; i < 10000; i++) {
    r = r * 1664525u + 1013904223u;
    int64_t w = tg__sync_backoff_ms(1 + i % 10, 0, r);
    assert_true(w >= 0 && w <= 60000);
  }
}

static void backoff_waits_at_least_what_retry_after_says_up_to_an_hour(void **state) {
  (void)state;
  assert_int_equal(tg__sync_backoff_ms(1, 7000, 0), 7000);
  assert_int_equal(tg__sync_backoff_ms(1, 7000, UINT32_MAX), 7000);
  assert_int_equal(tg__sync_backoff_ms(10, 7000, UINT32_MAX), 60000); /* the jitter is longer */
  assert_int_equal(tg__sync_backoff_ms(1, INT64_C(7200000), 0), 3600000);
  assert_int_equal(tg__sync_backoff_ms(1, INT64_MAX, UINT32_MAX), 3600000);
  assert_int_equal(tg__sync_backoff_ms(1, -5, 0), 0);
}

/* ----- a loopback HQ ------------------------------------------------------ */

typedef struct {
  struct MHD_Daemon *d;
  uint16_t port;
  /* what to answer */
  unsigned status;
  const char *body;
  const char *retry_after, *etag, *signature;
  int echo_auth; /* answer {"error":"bad <Authorization>"} */
  int stall;     /* send a byte of the body, then nothing until released */
  atomic_int released;
  /* what came */
  atomic_int connections, requests;
  char method[8], url[256], auth[256], key[128], ctype[64], cenc[32], expect[32], inm[96];
  unsigned char *got;
  size_t n_got;
} hq;

static void copy_header(struct MHD_Connection *conn, const char *name, char *out, size_t cap) {
  const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
  snprintf(out, cap, "%s", v ? v : "");
}

static ssize_t stall_body(void *cls, uint64_t pos, char *buf, size_t max) {
  hq *s = cls;
  (void)max;
  if (pos == 0) {
    buf[0] = '{';
    return 1;
  }
  for (int i = 0; i < 1000 && !atomic_load(&s->released); i++)
    usleep(10000); /* at most 10 s */
  return MHD_CONTENT_READER_END_WITH_ERROR;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *n_upload, void **req) {
  hq *s = cls;
  struct MHD_Response *r;
  char echo[400];
  (void)version;
  if (*req == NULL) { /* the headers: note them, then take the body */
    *req = s;
    atomic_fetch_add(&s->requests, 1);
    snprintf(s->method, sizeof s->method, "%s", method);
    snprintf(s->url, sizeof s->url, "%s", url);
    copy_header(conn, "Authorization", s->auth, sizeof s->auth);
    copy_header(conn, "Idempotency-Key", s->key, sizeof s->key);
    copy_header(conn, "Content-Type", s->ctype, sizeof s->ctype);
    copy_header(conn, "Content-Encoding", s->cenc, sizeof s->cenc);
    copy_header(conn, "Expect", s->expect, sizeof s->expect);
    copy_header(conn, "If-None-Match", s->inm, sizeof s->inm);
    free(s->got);
    s->got = NULL;
    s->n_got = 0;
    return MHD_YES;
  }
  if (*n_upload > 0) {
    unsigned char *p = realloc(s->got, s->n_got + *n_upload);
    if (p == NULL)
      return MHD_NO;
    memcpy(p + s->n_got, upload, *n_upload);
    s->got = p;
    s->n_got += *n_upload;
    *n_upload = 0;
    return MHD_YES;
  }
  if (s->stall) {
    r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64, stall_body, s, NULL);
  } else if (s->echo_auth) {
    snprintf(echo, sizeof echo, "{\"error\":\"bad %s\"}", s->auth);
    r = MHD_create_response_from_buffer(strlen(echo), echo, MHD_RESPMEM_MUST_COPY);
  } else {
    const char *body = s->body ? s->body : "";
    r = MHD_create_response_from_buffer(strlen(body), (void *)(uintptr_t)body,
                                        MHD_RESPMEM_PERSISTENT);
  }
  if (r == NULL)
    return MHD_NO;
  if (s->retry_after)
    MHD_add_response_header(r, "Retry-After", s->retry_after);
  if (s->etag)
    MHD_add_response_header(r, "ETag", s->etag);
  if (s->signature)
    MHD_add_response_header(r, "Tillgroup-Signature", s->signature);
  enum MHD_Result rc = MHD_queue_response(conn, s->status, r);
  MHD_destroy_response(r);
  return rc;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_ctx,
                          enum MHD_ConnectionNotificationCode code) {
  hq *s = cls;
  (void)conn;
  (void)socket_ctx;
  if (code == MHD_CONNECTION_NOTIFY_STARTED)
    atomic_fetch_add(&s->connections, 1);
}

static int hq_start(void **state) {
  hq *s = calloc(1, sizeof *s);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (s == NULL)
    return -1;
  s->status = 200;
  s->d =
      MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, on_request, s,
                       MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_NOTIFY_CONNECTION,
                       on_connection, s, MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
  if (s->d == NULL) {
    free(s);
    return -1;
  }
  s->port = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT)->port;
  *state = s;
  return 0;
}

static int hq_stop(void **state) {
  hq *s = *state;
  atomic_store(&s->released, 1);
  MHD_stop_daemon(s->d);
  free(s->got);
  free(s);
  return 0;
}

/* The test credential: S1-T1 with the secret 0, 1, ... 31. */
static tg__cred cred(void) {
  tg__cred c;
  memset(&c, 0, sizeof c);
  snprintf(c.store, sizeof c.store, "S1");
  snprintf(c.terminal, sizeof c.terminal, "T1");
  for (int i = 0; i < TG__CRED_SECRET; i++)
    c.secret[i] = (unsigned char)i;
  return c;
}

/* A client of HQ at url (NULL: the loopback HQ's root), failing the test if it cannot be made. */
static tg__sync_client *client(const hq *s, const char *url, long low_speed_s) {
  tg__cred cr = cred();
  char base[128], why[256] = "";
  tg__sync_client *c = NULL;
  snprintf(base, sizeof base, "http://127.0.0.1:%u", (unsigned)(s ? s->port : 1));
  tg__sync_config cfg = {
      .url = url ? url : base, .cred = &cr, .connect_timeout_ms = 2000, .low_speed_s = low_speed_s};
  if (tg__sync_client_new(&cfg, &c, why, sizeof why) != 0)
    fail_msg("client for %s: %s", cfg.url, why);
  return c;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char BATCH[] =
    "{\"store\":\"S1\",\"terminal\":\"T1\",\"epoch\":3,\"seq\":5,\"kind\":\"sale\"}\n"
    "{\"store\":\"S1\",\"terminal\":\"T1\",\"epoch\":3,\"seq\":6,\"kind\":\"sale\"}\n"
    "{\"store\":\"S1\",\"terminal\":\"T1\",\"epoch\":3,\"seq\":7,\"kind\":\"refund\"}\n";

/* Uploads BATCH as seqs 5..7 of epoch 3. */
static tg__sync_result upload(tg__sync_client *c, tg__sync_ack *ack, tg__sync_exchange *x) {
  return tg__sync_upload(c, 3, 5, 7, BATCH, strlen(BATCH), ack, x);
}

/* Checks that the server received exactly body[0..n) as gzip. */
static void got_gzip_of(const hq *s, const char *body, size_t n) {
  unsigned char *plain = NULL;
  size_t n_plain = 0;
  assert_int_equal(
      tg__gunzip(s->got, s->n_got, TG__SYNC_INFLATED_MAX, TG__SYNC_RATIO_MAX, &plain, &n_plain),
      TG__GUNZIP_OK);
  assert_int_equal(n_plain, n);
  assert_memory_equal(plain, body, n);
  free(plain);
}

/* ----- the client ---------------------------------------------------------- */

static void an_upload_is_gzip_with_its_key_and_bearer(void **state) {
  hq *s = *state;
  tg__cred cr = cred();
  tg__sync_ack ack;
  tg__sync_exchange x;
  char bearer[256], url[128];
  unsigned char *gz;
  size_t n_gz;
  s->body = "{\"acked_through\":7,\"rejected\":[{\"seq\":6,\"status\":\"invalid\",\"reason\":\"no "
            "total\"}],\"missing\":[]}";
  /* a path prefix, and a trailing slash that is not doubled */
  snprintf(url, sizeof url, "http://127.0.0.1:%u/hq/", (unsigned)s->port);
  tg__sync_client *c = client(s, url, 0);
  assert_int_equal(upload(c, &ack, &x), TG__SYNC_OK);
  assert_string_equal(s->method, "POST");
  assert_string_equal(s->url, "/hq/v1/records");
  assert_true(tg__cred_bearer(&cr, bearer, sizeof bearer) > 0);
  assert_string_equal(s->auth, bearer);
  assert_string_equal(s->key, "S1-T1:3:5-7");
  assert_string_equal(s->ctype, "application/x-ndjson");
  assert_string_equal(s->cenc, "gzip");
  got_gzip_of(s, BATCH, strlen(BATCH));
  /* the same batch is always the same bytes */
  assert_int_equal(tg__gzip(BATCH, strlen(BATCH), &gz, &n_gz), 0);
  assert_int_equal(s->n_got, n_gz);
  assert_memory_equal(s->got, gz, n_gz);
  free(gz);
  assert_int_equal(x.http_status, 200);
  assert_int_equal(x.bytes_up, (int64_t)n_gz);
  assert_int_equal(x.bytes_down, (int64_t)strlen(s->body));
  assert_int_equal(x.retry_after_ms, 0);
  assert_int_equal(ack.acked_through, 7);
  assert_int_equal(ack.n_rejected, 1);
  assert_int_equal(ack.rejected[0].seq, 6);
  assert_string_equal(ack.rejected[0].reason, "no total");
  tg__sync_ack_free(&ack);
  tg__sync_client_free(c);
}

static void a_large_upload_arrives_whole_without_expect_100(void **state) {
  hq *s = *state;
  tg__sync_ack ack;
  tg__sync_exchange x;
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  /* 1.5 MB of lines that barely compress: over curl's 1 MiB Expect threshold even as gzip */
  size_t n = 1500000;
  char *body = malloc(n);
  assert_non_null(body);
  uint32_t r = 1;
  for (size_t i = 0; i < n; i++) {
    r ^= r << 13, r ^= r >> 17, r ^= r << 5;
    body[i] = (i + 1) % 100 == 0 ? '\n' : alphabet[r & 63];
  }
  s->body = "{\"acked_through\":15000,\"rejected\":[],\"missing\":[]}";
  tg__sync_client *c = client(s, NULL, 0);
  assert_int_equal(tg__sync_upload(c, 1, 1, 15000, body, n, &ack, &x), TG__SYNC_OK);
  assert_string_equal(s->expect, "");
  assert_true(x.bytes_up > 1024 * 1024);
  assert_int_equal(x.bytes_up, (int64_t)s->n_got);
  got_gzip_of(s, body, n);
  assert_int_equal(ack.acked_through, 15000);
  tg__sync_ack_free(&ack);
  tg__sync_client_free(c);
  free(body);
}

static void one_connection_serves_many_requests(void **state) {
  hq *s = *state;
  tg__sync_ack ack;
  tg__sync_exchange x;
  tg__sync_bundle b;
  s->body = "{\"acked_through\":7,\"rejected\":[],\"missing\":[]}";
  tg__sync_client *c = client(s, NULL, 0);
  for (int i = 0; i < 3; i++) {
    assert_int_equal(upload(c, &ack, &x), TG__SYNC_OK);
    tg__sync_ack_free(&ack);
  }
  s->status = 304;
  s->body = NULL;
  assert_int_equal(tg__sync_bundle_fetch(c, "\"7\"", &b, &x), TG__SYNC_OK);
  assert_true(b.not_modified);
  s->status = 200;
  s->body = "{\"acked_through\":7,\"rejected\":[],\"missing\":[]}";
  assert_int_equal(upload(c, &ack, &x), TG__SYNC_OK);
  tg__sync_ack_free(&ack);
  assert_int_equal(atomic_load(&s->requests), 5);
  assert_int_equal(atomic_load(&s->connections), 1);
  tg__sync_client_free(c);
}

static void each_answer_maps_to_its_result(void **state) {
  hq *s = *state;
  static const struct {
    unsigned status;
    const char *body, *retry_after;
    tg__sync_result want;
    int64_t retry_after_ms;
    const char *detail; /* found in x.detail */
  } cases[] = {
      {503, "{\"error\":\"database unavailable\"}", "7", TG__SYNC_RETRY, 7000,
       "database unavailable"},
      {503, "", "Wed, 21 Oct 2037 07:28:00 GMT", TG__SYNC_RETRY, 0, "503"},
      {500, "<html>oops</html>", NULL, TG__SYNC_RETRY, 0, "500"},
      {502, "", " 12 ", TG__SYNC_RETRY, 12000, "502"},
      {429, "", "120", TG__SYNC_RETRY, 120000, "429"},
      {408, "", NULL, TG__SYNC_RETRY, 0, "408"},
      {413, "{\"error\":\"body over 4 MiB\"}", NULL, TG__SYNC_TOO_LARGE, 0, "over 4 MiB"},
      {401, "{\"error\":\"unknown terminal\"}", NULL, TG__SYNC_AUTH, 0, "401"},
      {403, "", NULL, TG__SYNC_AUTH, 0, "403"},
      {400, "{\"error\":\"x\"}", NULL, TG__SYNC_REFUSED, 0, ": x"},
      {400, "{\"error\":\"line 2\\nis\\u0001bad\"}", NULL, TG__SYNC_REFUSED, 0, "line 2?is?bad"},
      {409, "{\"error\":\"key reused with another body\"}", NULL, TG__SYNC_REFUSED, 0, "reused"},
      {422, "not json", NULL, TG__SYNC_REFUSED, 0, "422"},
      {415, "", NULL, TG__SYNC_REFUSED, 0, "415"},
      {302, "", NULL, TG__SYNC_RETRY, 0, "302"},
      {204, "", NULL, TG__SYNC_RETRY, 0, "204"},
      {201, "{\"acked_through\":7,\"rejected\":[],\"missing\":[]}", NULL, TG__SYNC_RETRY, 0, "201"},
      {200, "{\"acked_through\":7,", NULL, TG__SYNC_RETRY, 0, "garbled acknowledgement: "},
      {200, "", NULL, TG__SYNC_RETRY, 0, "garbled acknowledgement: "},
      {200, "{\"acked_through\":-8,\"rejected\":[],\"missing\":[]}", NULL, TG__SYNC_RETRY, 0,
       "garbled acknowledgement: acked_through -8"},
  };
  tg__sync_client *c = client(s, NULL, 0);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    tg__sync_ack ack;
    tg__sync_exchange x;
    s->status = cases[i].status;
    s->body = cases[i].body;
    s->retry_after = cases[i].retry_after;
    tg__sync_result rc = upload(c, &ack, &x);
    if (rc != cases[i].want || strstr(x.detail, cases[i].detail) == NULL)
      fail_msg("%u %s: got %d \"%s\"", cases[i].status, cases[i].body, rc, x.detail);
    assert_int_equal(x.http_status, cases[i].status);
    assert_int_equal(x.retry_after_ms, cases[i].retry_after_ms);
    assert_int_equal(x.bytes_down, (int64_t)strlen(cases[i].body));
    assert_true(x.bytes_up > 0);
    assert_null(ack.rejected);
    assert_int_equal(ack.n_missing, 0);
    got_gzip_of(s, BATCH, strlen(BATCH)); /* each retry is the same request */
  }
  tg__sync_client_free(c);
}

static void the_secret_never_reaches_the_detail(void **state) {
  hq *s = *state;
  tg__cred cr = cred();
  tg__sync_ack ack;
  tg__sync_exchange x;
  char bearer[256];
  assert_true(tg__cred_bearer(&cr, bearer, sizeof bearer) > 0);
  const char *secret = strrchr(bearer, '.') + 1;
  tg__sync_client *c = client(s, NULL, 0);
  s->echo_auth = 1;
  int statuses[] = {401, 400, 503};
  for (int i = 0; i < 3; i++) {
    s->status = (unsigned)statuses[i];
    assert_int_not_equal(upload(c, &ack, &x), TG__SYNC_OK);
    assert_non_null(strstr(x.detail, "bad Bearer S1.T1."));
    assert_null(strstr(x.detail, secret));
  }
  tg__sync_client_free(c);
}

static void an_answer_over_its_cap_is_no_answer(void **state) {
  hq *s = *state;
  tg__sync_ack ack;
  tg__sync_exchange x;
  char *big = malloc(TG__SYNC_ACK_MAX + 2);
  assert_non_null(big);
  memset(big, ' ', TG__SYNC_ACK_MAX + 1);
  big[TG__SYNC_ACK_MAX + 1] = '\0';
  s->body = big;
  tg__sync_client *c = client(s, NULL, 0);
  assert_int_equal(upload(c, &ack, &x), TG__SYNC_RETRY);
  assert_non_null(strstr(x.detail, "over"));
  assert_true(x.bytes_down <= TG__SYNC_ACK_MAX + 1);
  /* a large error body is cut, but its status still counts */
  s->status = 413;
  assert_int_equal(upload(c, &ack, &x), TG__SYNC_TOO_LARGE);
  s->status = 200;
  s->body = "{\"acked_through\":7,\"rejected\":[],\"missing\":[]}";
  assert_int_equal(upload(c, &ack, &x), TG__SYNC_OK); /* and the client still works */
  tg__sync_ack_free(&ack);
  tg__sync_client_free(c);
  free(big);
}

/* A loopback port nothing listens on (bound, then closed). */
static uint16_t closed_port(void) {
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
  socklen_t len = sizeof sa;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(fd >= 0);
  assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
  assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
  close(fd);
  return ntohs(sa.sin_port);
}

static void a_refused_connection_is_retried(void **state) {
  tg__sync_ack ack;
  tg__sync_exchange x;
  tg__sync_bundle b;
  char url[64];
  (void)state;
  snprintf(url, sizeof url, "http://127.0.0.1:%u", (unsigned)closed_port());
  tg__sync_client *c = client(NULL, url, 0);
  double t0 = now_s();
  assert_int_equal(upload(c, &ack, &x), TG__SYNC_RETRY);
  assert_true(now_s() - t0 < 3);
  assert_int_equal(x.http_status, 0);
  assert_int_equal(x.bytes_up, 0);
  assert_int_equal(x.bytes_down, 0);
  assert_non_null(strstr(x.detail, "no answer from HQ"));
  assert_int_equal(tg__sync_bundle_fetch(c, NULL, &b, &x), TG__SYNC_RETRY);
  assert_null(b.body);
  assert_false(b.not_modified);
  tg__sync_client_free(c);
}

static void a_server_that_never_answers_is_left_within_the_low_speed_time(void **state) {
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
  socklen_t len = sizeof sa;
  tg__sync_ack ack;
  tg__sync_exchange x;
  char url[64];
  (void)state;
  /* listening, so the connection opens and the request goes out, but never accepted */
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(fd >= 0);
  assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
  assert_int_equal(listen(fd, 4), 0);
  assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
  snprintf(url, sizeof url, "http://127.0.0.1:%u", (unsigned)ntohs(sa.sin_port));
  tg__sync_client *c = client(NULL, url, 1);
  double t0 = now_s();
  assert_int_equal(upload(c, &ack, &x), TG__SYNC_RETRY);
  double took = now_s() - t0;
  if (!(took >= 0.9 && took < 8)) /* curl averages speed over up to 5 s, the request included */
    fail_msg("took %.2f s", took);
  assert_int_equal(x.http_status, 0);
  assert_non_null(strstr(x.detail, "no answer from HQ"));
  tg__sync_client_free(c);
  close(fd);
}

static void a_server_that_stalls_mid_answer_is_left_within_the_low_speed_time(void **state) {
  hq *s = *state;
  tg__sync_ack ack;
  tg__sync_exchange x;
  s->stall = 1;
  tg__sync_client *c = client(s, NULL, 1);
  double t0 = now_s();
  assert_int_equal(upload(c, &ack, &x), TG__SYNC_RETRY);
  double took = now_s() - t0;
  atomic_store(&s->released, 1);
  if (!(took >= 0.9 && took < 8)) /* curl averages speed over up to 5 s, the request included */
    fail_msg("took %.2f s", took);
  assert_null(ack.rejected);
  assert_non_null(strstr(x.detail, "no answer from HQ"));
  tg__sync_client_free(c);
}

static void bundles_come_with_etag_and_signature_or_not_at_all(void **state) {
  hq *s = *state;
  tg__sync_bundle b;
  tg__sync_exchange x;
  static const char sig[] =
      "c2lnbmF0dXJlIG9mIHRoZSBidW5kbGUgYnkgSFEncyBrZXkgLSBzaXh0eSBmb3VyIGJ5dGVzIGxvbmcgISEhIQ";
  tg__sync_client *c = client(s, NULL, 0);
  s->body = "{\"version\":8,\"store\":\"*\"}";
  s->etag = "\"8\"";
  s->signature = sig;
  assert_int_equal(tg__sync_bundle_fetch(c, "\"7\"", &b, &x), TG__SYNC_OK);
  assert_string_equal(s->method, "GET");
  assert_string_equal(s->url, "/v1/bundle");
  assert_string_equal(s->inm, "\"7\"");
  assert_int_equal(s->n_got, 0);
  assert_non_null(strstr(s->auth, "Bearer S1.T1."));
  assert_false(b.not_modified);
  assert_string_equal(b.etag, "\"8\"");
  assert_string_equal(b.signature, sig);
  assert_int_equal(b.n, strlen(s->body));
  assert_string_equal(b.body, s->body);
  assert_int_equal(x.http_status, 200);
  assert_int_equal(x.bytes_down, (int64_t)b.n);
  free(b.body);

  /* no etag: no If-None-Match; an etag that could smuggle a header is not sent either */
  assert_int_equal(tg__sync_bundle_fetch(c, NULL, &b, &x), TG__SYNC_OK);
  assert_string_equal(s->inm, "");
  free(b.body);
  assert_int_equal(tg__sync_bundle_fetch(c, "", &b, &x), TG__SYNC_OK);
  assert_string_equal(s->inm, "");
  free(b.body);
  assert_int_equal(tg__sync_bundle_fetch(c, "\"7\"\r\nX-Evil: 1", &b, &x), TG__SYNC_OK);
  assert_string_equal(s->inm, "");
  free(b.body);

  /* current, or nothing published */
  s->status = 304;
  s->body = NULL;
  assert_int_equal(tg__sync_bundle_fetch(c, "\"8\"", &b, &x), TG__SYNC_OK);
  assert_true(b.not_modified);
  assert_null(b.body);
  assert_int_equal(x.http_status, 304);
  s->status = 404;
  s->body = "{\"error\":\"no bundle published\"}";
  assert_int_equal(tg__sync_bundle_fetch(c, NULL, &b, &x), TG__SYNC_OK);
  assert_true(b.not_modified);
  assert_null(b.body);

  /* a bundle without its ETag or signature is refused */
  s->status = 200;
  s->body = "{\"version\":8}";
  s->signature = NULL;
  assert_int_equal(tg__sync_bundle_fetch(c, NULL, &b, &x), TG__SYNC_REFUSED);
  assert_non_null(strstr(x.detail, "Tillgroup-Signature"));
  assert_null(b.body);
  s->signature = sig;
  s->etag = NULL;
  assert_int_equal(tg__sync_bundle_fetch(c, NULL, &b, &x), TG__SYNC_REFUSED);
  assert_non_null(strstr(x.detail, "ETag"));
  assert_null(b.body);

  /* statuses as for uploads */
  s->etag = "\"8\"";
  s->status = 401;
  assert_int_equal(tg__sync_bundle_fetch(c, NULL, &b, &x), TG__SYNC_AUTH);
  s->status = 503;
  s->retry_after = "3";
  assert_int_equal(tg__sync_bundle_fetch(c, NULL, &b, &x), TG__SYNC_RETRY);
  assert_int_equal(x.retry_after_ms, 3000);
  s->status = 400;
  assert_int_equal(tg__sync_bundle_fetch(c, NULL, &b, &x), TG__SYNC_REFUSED);
  assert_null(b.body);
  tg__sync_client_free(c);
}

/* tg__sync_client_new must answer rc for url, with a reason when it refuses. */
static void made(const char *url, int rc) {
  tg__cred cr = cred();
  tg__sync_config cfg = {.url = url, .cred = &cr};
  tg__sync_client *c = (tg__sync_client *)(uintptr_t)1; /* a failure must reset it to NULL */
  char why[256] = "";
  int got = tg__sync_client_new(&cfg, &c, why, sizeof why);
  if (got != rc)
    fail_msg("%s: got %d (%s)", url ? url : "NULL", got, why);
  if (rc == 0) {
    assert_non_null(c);
  } else {
    assert_null(c);
    assert_true(why[0] != '\0');
  }
  tg__sync_client_free(c);
}

static void only_https_or_a_loopback_http_url_is_accepted(void **state) {
  (void)state;
  made("https://hq.example.com", 0);
  made("https://hq.example.com:8443/tillgroup/", 0);
  made("HTTPS://HQ.EXAMPLE.COM", 0);
  made("https://192.0.2.7", 0);
  made("http://127.0.0.1:8080", 0);
  made("http://[::1]:8080/", 0);
  made("http://localhost", 0);
  made("http://LocalHost:9/x", 0);
  made("http://hq.example.com", -1);
  made("http://192.0.2.7", -1);
  made("http://127.0.0.2", -1);
  made("http://localhost.example.com", -1);
  made("http://127.0.0.1@hq.example.com", -1);
  made("ftp://hq.example.com", -1);
  made("file:///etc/passwd", -1);
  made("hq.example.com", -1);
  made("https://user:pw@hq.example.com", -1);
  made("https://hq.example.com/?x=1", -1);
  made("https://hq.example.com/#x", -1);
  made("https://hq example.com", -1);
  made("", -1);
  made(NULL, -1);

  /* the credential goes into headers: its ids must be ids */
  tg__cred cr = cred();
  tg__sync_config cfg = {.url = "https://hq.example.com", .cred = &cr};
  tg__sync_client *c;
  char why[256];
  snprintf(cr.store, sizeof cr.store, "S1\r\nX");
  assert_int_equal(tg__sync_client_new(&cfg, &c, why, sizeof why), -1);
  cfg.cred = NULL;
  assert_int_equal(tg__sync_client_new(&cfg, &c, why, sizeof why), -1);
  /* a client certificate needs its key */
  cr = cred();
  cfg.cred = &cr;
  cfg.cert_file = "client.pem";
  assert_int_equal(tg__sync_client_new(&cfg, &c, why, sizeof why), -1);
  assert_non_null(strstr(why, "key"));
  cfg.key_file = "client.key";
  cfg.pinned_key = "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
  cfg.proxy = "http://proxy.example.com:3128";
  assert_int_equal(tg__sync_client_new(&cfg, &c, why, sizeof why), 0);
  tg__sync_client_free(c);
  tg__sync_client_free(NULL);
}

static void https_to_a_plain_http_server_fails_and_is_retried(void **state) {
  hq *s = *state;
  tg__sync_ack ack;
  tg__sync_exchange x;
  char url[64];
  snprintf(url, sizeof url, "https://127.0.0.1:%u", (unsigned)s->port);
  tg__sync_client *c = client(s, url, 1);
  double t0 = now_s();
  assert_int_equal(upload(c, &ack, &x), TG__SYNC_RETRY);
  assert_true(now_s() - t0 < 4);
  assert_int_equal(x.http_status, 0);
  assert_non_null(strstr(x.detail, "no answer from HQ"));
  tg__sync_client_free(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(good_acknowledgements_are_read),
      cmocka_unit_test(rejection_reasons_are_printable_and_cut_on_a_character),
      cmocka_unit_test(acknowledgements_not_of_the_protocol_shape_are_refused),
      cmocka_unit_test(rejections_and_gaps_out_of_range_are_refused),
      cmocka_unit_test(backoff_grows_to_its_cap_with_full_jitter),
      cmocka_unit_test(backoff_waits_at_least_what_retry_after_says_up_to_an_hour),
      cmocka_unit_test_setup_teardown(an_upload_is_gzip_with_its_key_and_bearer, hq_start, hq_stop),
      cmocka_unit_test_setup_teardown(a_large_upload_arrives_whole_without_expect_100, hq_start,
                                      hq_stop),
      cmocka_unit_test_setup_teardown(one_connection_serves_many_requests, hq_start, hq_stop),
      cmocka_unit_test_setup_teardown(each_answer_maps_to_its_result, hq_start, hq_stop),
      cmocka_unit_test_setup_teardown(the_secret_never_reaches_the_detail, hq_start, hq_stop),
      cmocka_unit_test_setup_teardown(an_answer_over_its_cap_is_no_answer, hq_start, hq_stop),
      cmocka_unit_test(a_refused_connection_is_retried),
      cmocka_unit_test(a_server_that_never_answers_is_left_within_the_low_speed_time),
      cmocka_unit_test_setup_teardown(
          a_server_that_stalls_mid_answer_is_left_within_the_low_speed_time, hq_start, hq_stop),
      cmocka_unit_test_setup_teardown(bundles_come_with_etag_and_signature_or_not_at_all, hq_start,
                                      hq_stop),
      cmocka_unit_test(only_https_or_a_loopback_http_url_is_accepted),
      cmocka_unit_test_setup_teardown(https_to_a_plain_http_server_fails_and_is_retried, hq_start,
                                      hq_stop),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
