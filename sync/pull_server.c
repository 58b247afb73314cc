/* The terminal's nightly-pull endpoint (libmicrohttpd): HQ's signed reads of the manifest and
 * records. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "sync.h"

#define THREADS_DEFAULT 2
#define THREADS_MAX 16
#define CONNECTIONS_MAX 64      /* open connections; more are refused at accept */
#define TIMEOUT_S 30            /* idle connection */
#define CONN_MEMORY (32 * 1024) /* headers and read buffer of one connection */
#define LOG_TARGET_MAX 96
#define FIRST_CAP (64 * 1024)
#define TOO_BIG 1 /* a line callback's result: the body would pass TG__PULL_BODY_MAX */
#define GAP 2     /* a line callback's result: the store skipped a seq */

struct tg__pull_server {
  struct MHD_Daemon *d;
  tg__pull_server_config cfg;
  char listen[64];
  char *cert, *key; /* PEM text, kept while the daemon runs */
};

/* One request, from its first line to its log line. */
typedef struct {
  struct timespec t0;
  char target[TG__PULL_TARGET_MAX + 1]; /* as sent; "" with too_long when it did not fit */
  int too_long;
  char method[12];
  unsigned status;
  int64_t records;
  int answered;
  char why[TG__PULL_WHY_MAX];
} request;

/* The digest of a manifest and the body of records, filled line by line. */
typedef struct {
  crypto_generichash_state hash;
  int digest; /* 1: hash the lines; 0: copy them into p */
  char *p;
  size_t n, cap;
  int64_t next; /* the seq expected next */
  int64_t count;
} reading;

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int on_line(void *arg, int64_t seq, const char *body, size_t n) {
  reading *r = arg;
  if (seq != r->next)
    return GAP;
  r->next++;
  r->count++;
  if (r->digest) {
    crypto_generichash_update(&r->hash, (const unsigned char *)body, n);
    crypto_generichash_update(&r->hash, (const unsigned char *)"\n", 1);
    return 0;
  }
  if (n + 1 > TG__PULL_BODY_MAX - r->n)
    return TOO_BIG;
  if (r->n + n + 1 > r->cap) {
    size_t cap = r->cap ? r->cap : FIRST_CAP;
    while (cap < r->n + n + 1)
      cap *= 2;
    char *p = realloc(r->p, cap);
    if (p == NULL)
      return TG__PULL_READ_NOMEM;
    r->p = p;
    r->cap = cap;
  }
  memcpy(r->p + r->n, body, n);
  r->p[r->n + n] = '\n';
  r->n += n + 1;
  return 0;
}

/* Queues body[0..n) (taken: freed here) with status, its type and, when auth
 * is not NULL, the MAC over the bytes sent; MHD_NO (the connection closes)
 * when it cannot. */
static enum MHD_Result send_body(struct MHD_Connection *c, const tg__pull_server *s, request *rq,
                                 unsigned status, const char *type, char *body, size_t n, int gzip,
                                 const char *auth) {
  char mac[TG__PULL_MAC_TEXT];
  if (gzip) {
    unsigned char *z = NULL;
    size_t n_z = 0;
    if (tg__gzip(body, n, &z, &n_z) != 0) {
      free(body);
      return MHD_NO;
    }
    free(body);
    body = (char *)z;
    n = n_z;
  }
  struct MHD_Response *resp = MHD_create_response_from_buffer(n, body, MHD_RESPMEM_MUST_FREE);
  if (resp == NULL) {
    free(body);
    return MHD_NO;
  }
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
  if (gzip)
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
  if (status == MHD_HTTP_OK)
    MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
  if (auth != NULL) {
    tg__pull_mac(s->cfg.invite_key, auth, body, n, mac);
    MHD_add_response_header(resp, "X-TG-MAC", mac);
  }
  if (status == MHD_HTTP_UNAUTHORIZED)
    MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "TG-HQ");
  if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
  if (status == MHD_HTTP_SERVICE_UNAVAILABLE)
    MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "60");
  enum MHD_Result r = MHD_queue_response(c, status, resp);
  MHD_destroy_response(resp);
  if (r == MHD_YES)
    rq->status = status;
  return r;
}

/* Answers {"error":"why"} (why cut to one printable line), with the MAC when auth is given. */
static enum MHD_Result send_error(struct MHD_Connection *c, const tg__pull_server *s, request *rq,
                                  unsigned status, const char *why, const char *auth) {
  tg__http_printable(why, rq->why, sizeof rq->why);
  json_t *o = json_pack("{s:s}", "error", rq->why);
  char *text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
  json_decref(o);
  if (text == NULL)
    return MHD_NO;
  return send_body(c, s, rq, status, "application/json", text, strlen(text), 0, auth);
}

/* The manifest of from..to (or of everything, without a range) in one snapshot. */
static enum MHD_Result manifest(struct MHD_Connection *c, const tg__pull_server *s, request *rq,
                                const tg__pull_request *pr, const char *auth) {
  reading r;
  unsigned char digest[32];
  char hex[65], why[TG__PULL_WHY_MAX] = "", line[TG__PULL_WHY_MAX + 64];
  int64_t epoch = 0, max_seq = 0, from = pr->has_range ? pr->from : 1;
  memset(&r, 0, sizeof r);
  r.digest = 1;
  r.next = from;
  crypto_generichash_init(&r.hash, NULL, 0, sizeof digest);
  int rc = s->cfg.source.read(s->cfg.source.ctx, from, pr->has_range ? pr->to : -1, &epoch,
                              &max_seq, on_line, &r, why, sizeof why);
  int64_t to = pr->has_range ? pr->to : max_seq;
  if (rc == TG__PULL_READ_RANGE) {
    snprintf(line, sizeof line, "to is above this terminal's last record %" PRId64, max_seq);
    return send_error(c, s, rq, 422, line, auth);
  }
  if (rc == 0 && r.count != to - from + 1)
    rc = GAP;
  if (rc != 0) {
    fprintf(stderr, "tillgroup serve-sync: the store cannot be read: %s\n",
            rc == GAP ? "a record is missing" : why);
    return send_error(c, s, rq, MHD_HTTP_SERVICE_UNAVAILABLE,
                      "this terminal's store cannot be read now; retry later", auth);
  }
  crypto_generichash_final(&r.hash, digest, sizeof digest);
  sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
  char *body = malloc(512);
  if (body == NULL)
    return MHD_NO;
  int n =
      snprintf(body, 512,
               "{\"store\":\"%s\",\"terminal\":\"%s\",\"epoch\":%" PRId64 ",\"max_seq\":%" PRId64
               ",\"from\":%" PRId64 ",\"to\":%" PRId64 ",\"count\":%" PRId64 ",\"digest\":\"%s\"}",
               s->cfg.store, s->cfg.terminal, epoch, max_seq, from, to, r.count, hex);
  rq->records = r.count;
  return send_body(c, s, rq, MHD_HTTP_OK, "application/json", body, (size_t)n, 0, auth);
}

/* Records from..to as the uploader sends them, gzip when the client takes it. */
static enum MHD_Result records(struct MHD_Connection *c, const tg__pull_server *s, request *rq,
                               const tg__pull_request *pr, const char *auth) {
  reading r;
  char why[TG__PULL_WHY_MAX] = "", line[TG__PULL_WHY_MAX + 64];
  int64_t epoch = 0, max_seq = 0;
  memset(&r, 0, sizeof r);
  r.next = pr->from;
  int rc = s->cfg.source.read(s->cfg.source.ctx, pr->from, pr->to, &epoch, &max_seq, on_line, &r,
                              why, sizeof why);
  if (rc == 0 && r.count != pr->to - pr->from + 1)
    rc = GAP;
  if (rc != 0)
    free(r.p);
  if (rc == TG__PULL_READ_RANGE) {
    snprintf(line, sizeof line, "to is above this terminal's last record %" PRId64, max_seq);
    return send_error(c, s, rq, 422, line, auth);
  }
  if (rc == TOO_BIG)
    return send_error(c, s, rq, 422, "the records are over 16 MiB: ask for fewer", auth);
  if (rc == TG__PULL_READ_NOMEM)
    return send_error(c, s, rq, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory; retry later", auth);
  if (rc != 0) {
    fprintf(stderr, "tillgroup serve-sync: the store cannot be read: %s\n",
            rc == GAP ? "a record is missing" : why);
    return send_error(c, s, rq, MHD_HTTP_SERVICE_UNAVAILABLE,
                      "this terminal's store cannot be read now; retry later", auth);
  }
  rq->records = r.count;
  const char *ae = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT_ENCODING);
  if (r.p == NULL && (r.p = malloc(1)) == NULL)
    return MHD_NO;
  return send_body(c, s, rq, MHD_HTTP_OK, "application/x-ndjson", r.p, r.n,
                   tg__pull_accepts_gzip(ae), auth);
}

/* Whether the request announces a body (a pull request has none). */
static int has_body(struct MHD_Connection *c) {
  const char *z = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
  return (z != NULL && strcmp(z, "0") != 0) ||
         MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL;
}

/* The whole request is in: decide, authenticate, answer. */
static enum MHD_Result answer(struct MHD_Connection *c, const tg__pull_server *s, request *rq,
                              const char *method) {
  tg__pull_request pr;
  char why[TG__PULL_WHY_MAX] = "";
  tg__pull_request_decide(method, rq->too_long ? NULL : rq->target, &pr);
  if (rq->too_long) {
    pr.status = 414;
    snprintf(pr.why, sizeof pr.why, "the target is over 512 bytes");
  }
  if (pr.status == 405 || pr.status == 414 || pr.status == 404 || pr.status == 400)
    return send_error(c, s, rq, pr.status, pr.why, NULL);
  const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
  if (tg__pull_check(s->cfg.hq_key, s->cfg.store, s->cfg.terminal, method, rq->target, auth,
                     now_ms(), why, sizeof why) != 0)
    return send_error(c, s, rq, MHD_HTTP_UNAUTHORIZED, why, NULL);
  if (pr.status != 0)
    return send_error(c, s, rq, pr.status, pr.why, auth);
  return pr.route == TG__PULL_MANIFEST ? manifest(c, s, rq, &pr, auth)
                                       : records(c, s, rq, &pr, auth);
}

/*
 * MHD calls this once the headers are in and once more when the request is
 * complete; a GET is answered on the second call, so the connection stays
 * open for HQ's next request. A request with a body is refused at once (and
 * the connection closes after the answer).
 */
static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *data,
                              size_t *n_data, void **con_cls) {
  const tg__pull_server *s = cls;
  request *rq = *con_cls;
  (void)url;
  (void)version;
  (void)data;
  if (rq == NULL)
    return MHD_NO; /* the URI callback could not allocate */
  if (rq->answered)
    return MHD_NO; /* no body is read after an answer */
  if (rq->method[0] == '\0') {
    tg__http_printable(method, rq->method, sizeof rq->method);
    if (has_body(c)) { /* refused at once, with the reason a bodiless request would get first */
      tg__pull_request pr;
      rq->answered = 1;
      tg__pull_request_decide(method, rq->too_long ? NULL : rq->target, &pr);
      if (rq->too_long)
        return send_error(c, s, rq, 414, "the target is over 512 bytes", NULL);
      if (pr.status == 405 || pr.status == 404)
        return send_error(c, s, rq, pr.status, pr.why, NULL);
      return send_error(c, s, rq, MHD_HTTP_BAD_REQUEST, "a pull request has no body", NULL);
    }
    return MHD_YES;
  }
  if (*n_data > 0)
    return MHD_NO;
  rq->answered = 1;
  return answer(c, s, rq, method);
}

/* The raw target, as sent (MHD hands the handler an unescaped path without the query). */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c) {
  (void)cls;
  (void)c;
  request *rq = calloc(1, sizeof *rq);
  if (rq == NULL)
    return NULL;
  clock_gettime(CLOCK_MONOTONIC, &rq->t0);
  size_t n = strnlen(uri, TG__PULL_TARGET_MAX + 1);
  if (n > TG__PULL_TARGET_MAX)
    rq->too_long = 1;
  else
    memcpy(rq->target, uri, n + 1);
  return rq;
}

/* Logs the request in one line (never a header's value) and frees its state. */
static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe) {
  (void)cls;
  (void)c;
  request *rq = *con_cls;
  if (rq == NULL)
    return;
  char when[TG__HTTP_WHEN_MAX], records[24] = "-", target[LOG_TARGET_MAX];
  int64_t ms = tg__http_log_stamp(&rq->t0, when);
  if (rq->records > 0)
    snprintf(records, sizeof records, "%lld", (long long)rq->records);
  tg__http_printable(rq->too_long ? "(over 512 bytes)" : rq->target, target, sizeof target);
  fprintf(stderr, "%s %s %s %u %s %lldms%s%s%s%s\n", when, rq->method[0] ? rq->method : "-", target,
          rq->status, records, (long long)ms, rq->why[0] ? " \"" : "", rq->why,
          rq->why[0] ? "\"" : "",
          toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (connection ended early)");
  free(rq);
  *con_cls = NULL;
}

int tg__pull_server_start(const tg__pull_server_config *cfg, tg__pull_server **out, char *why,
                          size_t cap) {
  struct sockaddr_storage addr;
  char *cert = NULL, *key = NULL;
  int v6 = 0, rc = -1;
  unsigned threads = cfg->threads <= 0            ? THREADS_DEFAULT
                     : cfg->threads > THREADS_MAX ? THREADS_MAX
                                                  : (unsigned)cfg->threads;
  tg__pull_server *s = NULL;
  *out = NULL;
  if (tg__http_listen_addr(cfg->listen, &addr, &v6, why, cap) != 0 ||
      tg__http_tls_load(cfg->tls_cert, cfg->tls_key, &cert, &key, why, cap) != 0)
    goto done;
  if ((s = calloc(1, sizeof *s)) == NULL) {
    snprintf(why, cap, "out of memory");
    goto done;
  }
  s->cfg = *cfg;
  snprintf(s->listen, sizeof s->listen, "%s", cfg->listen);
  s->cfg.listen = s->listen;
  s->cfg.tls_cert = s->cfg.tls_key = NULL;
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG |
                   (v6 ? MHD_USE_IPv6 : 0) | (cert != NULL ? MHD_USE_TLS : 0);
  s->d = MHD_start_daemon(
      flags, 0, NULL, NULL, handle, s, MHD_OPTION_EXTERNAL_LOGGER, tg__http_mhd_log,
      (void *)"tillgroup serve-sync",
      MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_THREAD_POOL_SIZE,
      threads > 1 ? threads : 0, MHD_OPTION_CONNECTION_TIMEOUT,
      (unsigned)(cfg->timeout_s > 0 ? cfg->timeout_s : TIMEOUT_S), MHD_OPTION_CONNECTION_LIMIT,
      (unsigned)CONNECTIONS_MAX, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY,
      MHD_OPTION_URI_LOG_CALLBACK, on_uri, NULL, MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
      cert != NULL ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, cert, MHD_OPTION_HTTPS_MEM_KEY,
      key, MHD_OPTION_END);
  if (s->d == NULL) {
    snprintf(why, cap, "cannot listen on %s: %s", cfg->listen,
             errno != 0 ? strerror(errno) : "refused");
    goto done;
  }
  s->cert = cert;
  s->key = key;
  cert = key = NULL;
  *out = s;
  s = NULL;
  rc = 0;
done:
  if (s != NULL) {
    sodium_memzero(s, sizeof *s);
    free(s);
  }
  if (key != NULL)
    sodium_memzero(key, strlen(key));
  free(cert);
  free(key);
  return rc;
}

unsigned tg__pull_server_port(const tg__pull_server *s) {
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
  return info != NULL ? (unsigned)info->port : 0u;
}

void tg__pull_server_stop(tg__pull_server *s) {
  if (s == NULL)
    return;
  MHD_stop_daemon(s->d);
  if (s->key != NULL)
    sodium_memzero(s->key, strlen(s->key));
  free(s->cert);
  free(s->key);
  sodium_memzero(s, sizeof *s);
  free(s);
}
