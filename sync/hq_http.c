/* tillgroup-hq's HTTP service (libmicrohttpd): authentication, uploads, bundles and health. */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "hq.h"

#define THREADS_DEFAULT 2
#define THREADS_MAX 64
#define POOL_MAX (THREADS_MAX + 8)          /* idle database handles kept */
#define TIMEOUT_S 60                        /* idle connection */
#define CONN_MEMORY (128 * 1024)            /* headers and read buffer of one connection */
#define DISCARD_MAX (4 * TG__SYNC_BODY_MAX) /* chunked body read past the cap before closing */
#define LOG_PATH_MAX 96

/* Database handles for the request threads: a handle is used by one thread
 * at a time, taken from the idle list or opened when none is idle. */
typedef struct {
  const tg__hq_backend *be;
  const char *spec;
  pthread_mutex_t mu;
  tg__hq_db *idle[POOL_MAX];
  int n_idle;
} pool;

enum { ROUTE_RECORDS = 1, ROUTE_BUNDLE, ROUTE_HEALTH, ROUTE_JOIN };

/* One request's state, from its headers to its log line. */
typedef struct {
  struct timespec t0;
  char method[12];
  char path[LOG_PATH_MAX];
  char who[2 * TG__SYNC_ID_MAX + 2]; /* STORE-TERMINAL once authenticated */
  unsigned status;
  int64_t records;
  int route;
  tg__hq_key key;
  int gzip;
  unsigned char *body;
  size_t n, cap;
  size_t discarded;         /* bytes past TG__SYNC_BODY_MAX, read and dropped */
  char why[TG__HQ_WHY_MAX]; /* the reason of an error answer, for the log */
} request;

static pool db_pool;
static tg__hq_rate *join_rate;  /* the join page's limit per client address */
static int trust_forwarded;     /* X-Forwarded-For names the client (behind a proxy HQ trusts) */
static int serving_tls;         /* cookies go out Secure */

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static tg__hq_db *pool_take(pool *p, char *why, size_t cap) {
  tg__hq_db *db = NULL;
  pthread_mutex_lock(&p->mu);
  if (p->n_idle > 0)
    db = p->idle[--p->n_idle];
  pthread_mutex_unlock(&p->mu);
  if (db == NULL && p->be->open(p->spec, &db, why, cap) != TG__HQ_OK)
    db = NULL;
  return db;
}

/* Returns a handle after use; one whose database failed (rc TG__HQ_DB) is
 * closed instead, so that the next request opens a fresh connection. */
static void pool_give(pool *p, tg__hq_db *db, int rc) {
  if (db == NULL)
    return;
  pthread_mutex_lock(&p->mu);
  if (rc != TG__HQ_DB && p->n_idle < POOL_MAX) {
    p->idle[p->n_idle++] = db;
    db = NULL;
  }
  pthread_mutex_unlock(&p->mu);
  if (db != NULL)
    p->be->close(db);
}

static void pool_close(pool *p) {
  while (p->n_idle > 0)
    p->be->close(p->idle[--p->n_idle]);
}

static unsigned status_of(int rc) {
  switch (rc) {
  case TG__HQ_OK:
    return MHD_HTTP_OK;
  case TG__HQ_BAD:
    return MHD_HTTP_BAD_REQUEST;
  case TG__HQ_FORBIDDEN:
    return MHD_HTTP_FORBIDDEN;
  case TG__HQ_RANGE:
    return MHD_HTTP_UNPROCESSABLE_CONTENT;
  case TG__HQ_REUSED:
    return MHD_HTTP_CONFLICT;
  case TG__HQ_NOTFOUND:
    return MHD_HTTP_NOT_FOUND;
  default:
    return MHD_HTTP_SERVICE_UNAVAILABLE;
  }
}

/* Queues resp (destroying it) with status; MHD_NO (the connection closes) when resp is NULL. */
static enum MHD_Result send_response(struct MHD_Connection *c, request *rq, unsigned status,
                                     struct MHD_Response *resp, int is_json) {
  if (resp == NULL)
    return MHD_NO;
  if (is_json)
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
  if (status == MHD_HTTP_SERVICE_UNAVAILABLE)
    MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
  if (status == MHD_HTTP_UNAUTHORIZED)
    MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
  if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW,
                            rq->route == ROUTE_RECORDS ? "POST" : "GET");
  enum MHD_Result r = MHD_queue_response(c, status, resp);
  MHD_destroy_response(resp);
  if (r == MHD_YES)
    rq->status = status;
  return r;
}

/* Answers {"error":"why"}; the text is cut to one printable line. */
static enum MHD_Result send_error(struct MHD_Connection *c, request *rq, unsigned status,
                                  const char *why) {
  char out[2 * TG__HQ_WHY_MAX + 32];
  tg__http_printable(why, rq->why, sizeof rq->why);
  /* the database's own words (hosts, paths) go to the log, not to clients */
  const char *line = status == MHD_HTTP_SERVICE_UNAVAILABLE
                         ? "HQ's database is unavailable; retry later"
                         : rq->why;
  json_t *o = json_pack("{s:s}", "error", line);
  size_t n = o != NULL ? json_dumpb(o, out, sizeof out, JSON_COMPACT) : 0;
  json_decref(o);
  if (n == 0 || n > sizeof out) {
    static const char oom[] = "{\"error\":\"out of memory\"}";
    n = sizeof oom - 1;
    memcpy(out, oom, sizeof oom);
  }
  return send_response(c, rq, status,
                       MHD_create_response_from_buffer(n, out, MHD_RESPMEM_MUST_COPY), 1);
}

static enum MHD_Result send_json(struct MHD_Connection *c, request *rq, unsigned status,
                                 json_t *o) {
  char *text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
  json_decref(o);
  if (text == NULL)
    return send_error(c, rq, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
  struct MHD_Response *resp =
      MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
  if (resp == NULL)
    free(text);
  return send_response(c, rq, status, resp, 1);
}

/*
 * Checks the bearer against the stored hash. Returns 0 and fills store and
 * terminal, or the HTTP status to answer with a reason in why.
 */
static unsigned authenticate(struct MHD_Connection *c, tg__hq_db *db, char *store, char *terminal,
                             char *why, size_t cap) {
  const char *z = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
  unsigned char secret[TG__CRED_SECRET], stored[32], got[32];
  int enabled = 0;
  if (z == NULL || strncasecmp(z, "Bearer ", 7) != 0) {
    snprintf(why, cap, "no Bearer credential");
    return MHD_HTTP_UNAUTHORIZED;
  }
  for (z += 7; *z == ' '; z++)
    ;
  if (tg__cred_bearer_parse(z, store, terminal, secret) != 0) {
    snprintf(why, cap, "the credential is not STORE.TERMINAL.SECRET");
    return MHD_HTTP_UNAUTHORIZED;
  }
  int rc = db_pool.be->auth_get(db, store, terminal, stored, &enabled, why, cap);
  tg__cred_auth_hash(secret, got);
  sodium_memzero(secret, sizeof secret);
  if (rc == TG__HQ_NOTFOUND || (rc == TG__HQ_OK && !enabled) ||
      (rc == TG__HQ_OK && sodium_memcmp(got, stored, sizeof got) != 0)) {
    snprintf(why, cap, "the credential is unknown, wrong or disabled");
    return MHD_HTTP_UNAUTHORIZED;
  }
  if (rc != TG__HQ_OK)
    return status_of(rc);
  return 0;
}

/* Authenticates the request with a handle of the pool; 0 or the status it answered with. */
static unsigned check_credential(struct MHD_Connection *c, request *rq, char *store, char *terminal,
                                 enum MHD_Result *result) {
  char why[TG__HQ_WHY_MAX] = "";
  tg__hq_db *db = pool_take(&db_pool, why, sizeof why);
  unsigned st = db == NULL ? MHD_HTTP_SERVICE_UNAVAILABLE
                           : authenticate(c, db, store, terminal, why, sizeof why);
  pool_give(&db_pool, db, st == MHD_HTTP_SERVICE_UNAVAILABLE ? TG__HQ_DB : TG__HQ_OK);
  if (st != 0) {
    *result = send_error(c, rq, st, why);
    return st;
  }
  snprintf(rq->who, sizeof rq->who, "%s-%s", store, terminal);
  return 0;
}

/* Reads a Content-Length; -1 when absent or not a number. */
static int64_t content_length(struct MHD_Connection *c) {
  const char *z = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
  int64_t v = 0;
  if (z == NULL || *z == '\0')
    return -1;
  for (; *z >= '0' && *z <= '9'; z++)
    if ((v = v * 10 + (*z - '0')) > (int64_t)1 << 40)
      return (int64_t)1 << 40;
  return *z == '\0' ? v : -1;
}

/* The checks an upload's headers allow, in the protocol's order; MHD_YES to read the body. */
static enum MHD_Result upload_start(struct MHD_Connection *c, request *rq) {
  char store[TG__SYNC_ID_MAX + 1], terminal[TG__SYNC_ID_MAX + 1], why[TG__HQ_WHY_MAX];
  enum MHD_Result result = MHD_NO;
  if (check_credential(c, rq, store, terminal, &result) != 0)
    return result;
  const char *z = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Idempotency-Key");
  int rc = tg__hq_key_parse(z, &rq->key, why, sizeof why);
  if (rc == TG__HQ_BAD)
    return send_error(c, rq, MHD_HTTP_BAD_REQUEST, why);
  if (strcmp(rq->key.store, store) != 0 || strcmp(rq->key.terminal, terminal) != 0)
    return send_error(c, rq, MHD_HTTP_FORBIDDEN, "the Idempotency-Key names another terminal");
  if (rc != TG__HQ_OK)
    return send_error(c, rq, status_of(rc), why);
  rq->records = rq->key.to - rq->key.from + 1;
  int64_t length = content_length(c);
  if (length > TG__SYNC_BODY_MAX)
    return send_error(c, rq, MHD_HTTP_CONTENT_TOO_LARGE, "the body is over 4 MiB");
  z = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_ENCODING);
  if (z != NULL && strcasecmp(z, "gzip") == 0)
    rq->gzip = 1;
  else if (z != NULL && z[0] != '\0' && strcasecmp(z, "identity") != 0)
    return send_error(c, rq, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
                      "Content-Encoding is neither gzip nor none");
  if (length > 0) {
    if ((rq->body = malloc((size_t)length)) == NULL)
      return send_error(c, rq, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
    rq->cap = (size_t)length;
  }
  return MHD_YES;
}

/* Takes a piece of the body: kept up to TG__SYNC_BODY_MAX, dropped past it. */
static enum MHD_Result upload_data(request *rq, const char *data, size_t n) {
  if (rq->discarded > 0 || n > TG__SYNC_BODY_MAX - rq->n) {
    free(rq->body);
    rq->body = NULL;
    rq->cap = 0;
    rq->discarded += n;
    if (rq->discarded <= DISCARD_MAX)
      return MHD_YES;
    rq->status = MHD_HTTP_CONTENT_TOO_LARGE; /* for the log: the connection closes unanswered */
    snprintf(rq->why, sizeof rq->why, "a chunked body far over 4 MiB");
    return MHD_NO;
  }
  if (rq->n + n > rq->cap) {
    size_t cap = rq->cap ? rq->cap : 64 * 1024;
    while (cap < rq->n + n)
      cap *= 2;
    if (cap > TG__SYNC_BODY_MAX)
      cap = TG__SYNC_BODY_MAX;
    unsigned char *p = realloc(rq->body, cap);
    if (p == NULL)
      return MHD_NO; /* nowhere to answer from mid-body: the client retries */
    rq->body = p;
    rq->cap = cap;
  }
  memcpy(rq->body + rq->n, data, n);
  rq->n += n;
  return MHD_YES;
}

static json_t *ack_json(const tg__hq_ack *ack) {
  json_t *o = json_object(), *rejected = json_array(), *missing = json_array();
  if (o == NULL || rejected == NULL || missing == NULL ||
      json_object_set_new(o, "acked_through", json_integer(ack->acked_through)) != 0)
    goto fail;
  for (int i = 0; i < ack->n_rejected; i++) {
    const tg__sync_rejected *r = &ack->rejected[i];
    char status[TG__SYNC_STATUS_MAX], reason[TG__SYNC_REASON_MAX];
    tg__http_printable(r->status, status, sizeof status);
    tg__http_printable(r->reason, reason, sizeof reason);
    if (json_array_append_new(rejected, json_pack("{s:I, s:s, s:s}", "seq", (json_int_t)r->seq,
                                                  "status", status, "reason", reason)) != 0)
      goto fail;
  }
  for (int i = 0; i < ack->n_missing && i < TG__SYNC_MISSING_MAX; i++)
    if (json_array_append_new(missing, json_pack("[I, I]", (json_int_t)ack->missing[i][0],
                                                 (json_int_t)ack->missing[i][1])) != 0)
      goto fail;
  if (json_object_set(o, "rejected", rejected) != 0 || json_object_set(o, "missing", missing) != 0)
    goto fail;
  json_decref(rejected);
  json_decref(missing);
  return o;
fail:
  json_decref(o);
  json_decref(rejected);
  json_decref(missing);
  return NULL;
}

/* The whole body is in: decompress, parse, store, acknowledge. */
static enum MHD_Result upload_finish(struct MHD_Connection *c, request *rq) {
  char why[TG__HQ_WHY_MAX] = "";
  unsigned char *text = NULL;
  size_t n_text = 0;
  if (rq->discarded > 0)
    return send_error(c, rq, MHD_HTTP_CONTENT_TOO_LARGE, "the body is over 4 MiB");
  if (rq->gzip) {
    tg__gunzip_result g =
        tg__gunzip(rq->body, rq->n, TG__SYNC_INFLATED_MAX, TG__SYNC_RATIO_MAX, &text, &n_text);
    free(rq->body);
    rq->body = NULL;
    if (g == TG__GUNZIP_TOO_BIG)
      return send_error(c, rq, MHD_HTTP_CONTENT_TOO_LARGE,
                        "the body decompresses to over 16 MiB or over 200 times its size");
    if (g == TG__GUNZIP_BAD)
      return send_error(c, rq, MHD_HTTP_BAD_REQUEST, "the body is not one intact gzip member");
    if (g != TG__GUNZIP_OK)
      return send_error(c, rq, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
  } else {
    text = rq->body;
    n_text = rq->n;
    rq->body = NULL;
  }
  tg__hq_batch b;
  int rc = tg__hq_batch_parse((char *)text, n_text, &rq->key, &b, why, sizeof why);
  if (rc != TG__HQ_OK) {
    tg__hq_batch_free(&b);
    return send_error(c, rq, status_of(rc), why);
  }
  tg__hq_ack ack = {0};
  tg__hq_db *db = pool_take(&db_pool, why, sizeof why);
  rc = db == NULL ? TG__HQ_DB : db_pool.be->ingest(db, &b, now_ms(), &ack, why, sizeof why);
  pool_give(&db_pool, db, rc);
  tg__hq_batch_free(&b);
  if (rc != TG__HQ_OK) {
    tg__hq_ack_free(&ack);
    return send_error(c, rq, status_of(rc), why);
  }
  json_t *o = ack_json(&ack);
  tg__hq_ack_free(&ack);
  return send_json(c, rq, MHD_HTTP_OK, o);
}

static enum MHD_Result bundle_get(struct MHD_Connection *c, request *rq) {
  char store[TG__SYNC_ID_MAX + 1], terminal[TG__SYNC_ID_MAX + 1], why[TG__HQ_WHY_MAX] = "";
  char sig[TG__BUNDLE_SIG_TEXT], etag[32];
  enum MHD_Result result = MHD_NO;
  if (check_credential(c, rq, store, terminal, &result) != 0)
    return result;
  int64_t version = 0;
  char *body = NULL;
  size_t n = 0;
  tg__hq_db *db = pool_take(&db_pool, why, sizeof why);
  int rc = db == NULL
               ? TG__HQ_DB
               : db_pool.be->bundle_get(db, store, &version, &body, &n, sig, why, sizeof why);
  pool_give(&db_pool, db, rc);
  if (rc == TG__HQ_NOTFOUND)
    return send_error(c, rq, MHD_HTTP_NOT_FOUND, "no bundle is published for this store");
  if (rc != TG__HQ_OK)
    return send_error(c, rq, status_of(rc), why);
  snprintf(etag, sizeof etag, "\"%lld\"", (long long)version);
  const char *inm = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
  struct MHD_Response *resp;
  unsigned status = MHD_HTTP_OK;
  if (inm != NULL && strcmp(inm, etag) == 0) {
    free(body);
    status = MHD_HTTP_NOT_MODIFIED;
    resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
  } else {
    resp = MHD_create_response_from_buffer(n, body, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL)
      free(body);
    else
      MHD_add_response_header(resp, "Tillgroup-Signature", sig);
  }
  if (resp != NULL)
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
  return send_response(c, rq, status, resp, status == MHD_HTTP_OK);
}

static enum MHD_Result health(struct MHD_Connection *c, request *rq) {
  char why[TG__HQ_WHY_MAX] = "";
  tg__hq_db *db = pool_take(&db_pool, why, sizeof why);
  int rc = db == NULL ? TG__HQ_DB : db_pool.be->health(db, why, sizeof why);
  pool_give(&db_pool, db, rc);
  if (rc != TG__HQ_OK)
    return send_error(c, rq, MHD_HTTP_SERVICE_UNAVAILABLE, why);
  return send_json(c, rq, MHD_HTTP_OK,
                   json_pack("{s:s, s:s}", "status", "ok", "db", db_pool.be->name));
}

/*
 * The rate limit's key for an address: an IPv4 address whole, an IPv6
 * address by its /64 (one host can take any address of its /64, so a
 * finer key would give it a fresh bucket per request).
 */
static void rate_key(int family, const void *bin, char out[TG__HQ_RATE_KEY_MAX + 1]) {
  unsigned char prefix[16];
  if (family == AF_INET) {
    inet_ntop(AF_INET, bin, out, TG__HQ_RATE_KEY_MAX + 1);
    return;
  }
  memcpy(prefix, bin, 8);
  memset(prefix + 8, 0, 8);
  char text[INET6_ADDRSTRLEN];
  inet_ntop(AF_INET6, prefix, text, sizeof text);
  snprintf(out, TG__HQ_RATE_KEY_MAX + 1, "%s/64", text);
}

/* The client's rate-limit key: from the peer's address, or X-Forwarded-For's last when trusted. */
static void client_address(struct MHD_Connection *c, char out[TG__HQ_RATE_KEY_MAX + 1]) {
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  unsigned char bin[16];
  snprintf(out, TG__HQ_RATE_KEY_MAX + 1, "?");
  if (trust_forwarded) {
    const char *z = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Forwarded-For");
    const char *last = z != NULL ? strrchr(z, ',') : NULL;
    last = last != NULL ? last + 1 : z;
    while (last != NULL && *last == ' ')
      last++;
    char addr[INET6_ADDRSTRLEN];
    size_t n = last != NULL ? strcspn(last, " ") : 0;
    if (n > 0 && n < sizeof addr) {
      memcpy(addr, last, n);
      addr[n] = '\0';
      if (inet_pton(AF_INET, addr, bin) == 1)
        return rate_key(AF_INET, bin, out);
      if (inet_pton(AF_INET6, addr, bin) == 1)
        return rate_key(AF_INET6, bin, out);
    }
  }
  if (ci == NULL || ci->client_addr == NULL)
    return;
  if (ci->client_addr->sa_family == AF_INET)
    rate_key(AF_INET, &((const struct sockaddr_in *)(const void *)ci->client_addr)->sin_addr, out);
  else if (ci->client_addr->sa_family == AF_INET6)
    rate_key(AF_INET6, &((const struct sockaddr_in6 *)(const void *)ci->client_addr)->sin6_addr,
             out);
}

/* GET /J/<token>: the join page (hq_join.c decides, hq_join_page.c renders). */
static enum MHD_Result join_page(struct MHD_Connection *c, request *rq, const char *url) {
  char addr[TG__HQ_RATE_KEY_MAX + 1], why[TG__HQ_WHY_MAX] = "", cookie[160];
  tg__hq_join_result r;
  int lang = tg__hq_join_lang(
      MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT_LANGUAGE));
  client_address(c, addr);
  memset(&r, 0, sizeof r);
  if (!tg__hq_rate_allow(join_rate, addr, now_ms())) {
    r.status = MHD_HTTP_TOO_MANY_REQUESTS;
    r.problem = "limited";
    snprintf(r.why, sizeof r.why, "%s is over the join page's rate limit", addr);
  } else {
    tg__hq_db *db = pool_take(&db_pool, why, sizeof why);
    if (db == NULL) {
      r.status = MHD_HTTP_SERVICE_UNAVAILABLE;
      r.problem = "unavailable";
      snprintf(r.why, sizeof r.why, "%s", why);
    } else {
      tg__hq_join_decide(db_pool.be, db, url + 3,
                         MHD_lookup_connection_value(c, MHD_COOKIE_KIND, TG__HQ_JOIN_COOKIE),
                         now_ms(), &r);
      pool_give(&db_pool, db, strcmp(r.problem != NULL ? r.problem : "", "unavailable") == 0
                                  ? TG__HQ_DB
                                  : TG__HQ_OK);
    }
  }
  tg__http_printable(r.why, rq->why, sizeof rq->why);
  if (r.warning[0] != '\0') { /* once per join while it lasts: operators read the log */
    char w[TG__HQ_WHY_MAX];
    tg__http_printable(r.warning, w, sizeof w);
    fprintf(stderr, "tillgroup-hq: warning: %s\n", w);
  }
  size_t n = 0;
  char *html = tg__hq_join_page(&r, lang, &n);
  unsigned status = r.status;
  tg__hq_join_result_free(&r);
  if (html == NULL)
    return send_error(c, rq, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
  struct MHD_Response *resp = MHD_create_response_from_buffer(n, html, MHD_RESPMEM_MUST_FREE);
  if (resp == NULL) {
    free(html);
    return MHD_NO;
  }
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/html; charset=utf-8");
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
  MHD_add_response_header(resp, "Content-Security-Policy",
                          "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
                          "base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
  MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
  MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
  MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Accept-Language, Cookie");
  if (status == MHD_HTTP_TOO_MANY_REQUESTS)
    MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "60");
  if (status == MHD_HTTP_OK && r.new_client) {
    snprintf(cookie, sizeof cookie, "%s=%s; Path=/; Max-Age=%d; HttpOnly; SameSite=Lax%s",
             TG__HQ_JOIN_COOKIE, r.client, TG__HQ_JOIN_COOKIE_DAYS * 86400,
             serving_tls ? "; Secure" : "");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_SET_COOKIE, cookie);
  }
  enum MHD_Result res = MHD_queue_response(c, status, resp);
  MHD_destroy_response(resp);
  if (res == MHD_YES)
    rq->status = status;
  return res;
}

/* libmicrohttpd leaves the path as sent: the join page percent-decodes its token itself, bounded. */
static size_t keep_escapes(void *cls, struct MHD_Connection *c, char *s) {
  (void)cls;
  (void)c;
  return strlen(s);
}

/* Whether the request announces a body (a GET normally has none). */
static int has_body(struct MHD_Connection *c) {
  return content_length(c) > 0 ||
         MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL;
}

/* Answers a GET whose request has been read whole. */
static enum MHD_Result answer_get(struct MHD_Connection *c, request *rq, const char *url) {
  return rq->route == ROUTE_HEALTH ? health(c, rq)
         : rq->route == ROUTE_JOIN ? join_page(c, rq, url)
                                   : bundle_get(c, rq);
}

/*
 * MHD calls this once the headers are in, once per piece of the body, and
 * once more when the request is complete. An answer queued on the first call
 * closes the connection after it (MHD discards the unread request), so
 * answers that can wait for the whole request wait, and the connection stays
 * open for the terminal's next batch.
 */
static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *data,
                              size_t *n_data, void **con_cls) {
  (void)cls;
  (void)version;
  request *rq = *con_cls;
  if (rq == NULL) {
    if ((rq = calloc(1, sizeof *rq)) == NULL)
      return MHD_NO;
    *con_cls = rq;
    clock_gettime(CLOCK_MONOTONIC, &rq->t0);
    tg__http_printable(method, rq->method, sizeof rq->method);
    tg__http_printable(url, rq->path, sizeof rq->path);
    rq->route = strcmp(url, "/v1/records") == 0  ? ROUTE_RECORDS
                : strcmp(url, "/v1/bundle") == 0 ? ROUTE_BUNDLE
                : strcmp(url, "/v1/health") == 0 ? ROUTE_HEALTH
                : strncmp(url, "/J/", 3) == 0 || strncmp(url, "/j/", 3) == 0 ? ROUTE_JOIN
                                                 : 0;
    int post = rq->route == ROUTE_RECORDS;
    if (rq->route == ROUTE_JOIN) /* an invite is good for joins: the log keeps its length only */
      snprintf(rq->path, sizeof rq->path, "%.3s<%zu bytes>", url, strlen(url) - 3);
    if (rq->route == 0)
      return send_error(c, rq, MHD_HTTP_NOT_FOUND, "no such path");
    if (strcmp(method, post ? MHD_HTTP_METHOD_POST : MHD_HTTP_METHOD_GET) != 0)
      return send_error(c, rq, MHD_HTTP_METHOD_NOT_ALLOWED,
                        post ? "method not allowed: use POST" : "method not allowed: use GET");
    if (post)
      return upload_start(c, rq);
    return has_body(c) ? answer_get(c, rq, url) : MHD_YES;
  }
  if (rq->route != ROUTE_RECORDS)
    return *n_data > 0 ? MHD_NO : answer_get(c, rq, url);
  if (*n_data > 0) {
    size_t n = *n_data;
    *n_data = 0;
    return upload_data(rq, data, n);
  }
  return upload_finish(c, rq);
}

/* Logs the request in one line (never a header's value) and frees its state. */
static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe) {
  (void)cls;
  (void)c;
  request *rq = *con_cls;
  if (rq == NULL)
    return;
  char when[TG__HTTP_WHEN_MAX], records[24] = "-";
  int64_t ms = tg__http_log_stamp(&rq->t0, when);
  if (rq->records > 0)
    snprintf(records, sizeof records, "%lld", (long long)rq->records);
  fprintf(stderr, "%s %s %s %u %s %s %lldms%s%s%s%s\n", when, rq->method, rq->path, rq->status,
          rq->who[0] ? rq->who : "-", records, (long long)ms, rq->why[0] ? " \"" : "", rq->why,
          rq->why[0] ? "\"" : "",
          toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (connection ended early)");
  free(rq->body);
  free(rq);
  *con_cls = NULL;
}

int tg__hq_serve(const tg__hq_serve_config *cfg) {
  char why[TG__HQ_WHY_MAX] = "", *cert = NULL, *key = NULL;
  struct sockaddr_storage addr;
  struct MHD_Daemon *d = NULL;
  tg__hq_db *first = NULL;
  sigset_t stop, old;
  int v6 = 0, sig = 0, code = 1;
  unsigned threads = cfg->threads <= 0            ? THREADS_DEFAULT
                     : cfg->threads > THREADS_MAX ? THREADS_MAX
                                                  : (unsigned)cfg->threads;
  memset(&db_pool, 0, sizeof db_pool);
  if ((db_pool.be = tg__hq_backend_for(cfg->db_spec, why, sizeof why)) == NULL)
    return fprintf(stderr, "tillgroup-hq serve: %s\n", why), 1;
  db_pool.spec = cfg->db_spec;
  if (tg__http_listen_addr(cfg->listen, &addr, &v6, why, sizeof why) != 0 ||
      tg__http_tls_load(cfg->tls_cert, cfg->tls_key, &cert, &key, why, sizeof why) != 0) {
    fprintf(stderr, "tillgroup-hq serve: %s\n", why);
    goto done;
  }
  trust_forwarded = cfg->trust_forwarded;
  serving_tls = cert != NULL;
  join_rate = tg__hq_rate_new(cfg->join_rate > 0 ? cfg->join_rate : TG__HQ_JOIN_RATE,
                              cfg->join_burst > 0 ? cfg->join_burst : TG__HQ_JOIN_BURST,
                              TG__HQ_RATE_SLOTS);
  if (join_rate == NULL) {
    fprintf(stderr, "tillgroup-hq serve: out of memory\n");
    goto done;
  }
  pthread_mutex_init(&db_pool.mu, NULL);
  if (db_pool.be->open(cfg->db_spec, &first, why, sizeof why) != TG__HQ_OK) {
    fprintf(stderr, "tillgroup-hq serve: %s\n", why);
    goto done_pool;
  }
  pool_give(&db_pool, first, TG__HQ_OK);
  /* The daemon's threads inherit the blocked signals; only sigwait() sees them. */
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, &old);
  signal(SIGPIPE, SIG_IGN);
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG |
                   (v6 ? MHD_USE_IPv6 : 0) | (cert != NULL ? MHD_USE_TLS : 0);
  d = MHD_start_daemon(
      flags, 0, NULL, NULL, handle, NULL, MHD_OPTION_EXTERNAL_LOGGER, tg__http_mhd_log,
      (void *)"tillgroup-hq",
      MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_THREAD_POOL_SIZE,
      threads > 1 ? threads : 0, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)TIMEOUT_S,
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY, MHD_OPTION_NOTIFY_COMPLETED,
      completed, NULL, MHD_OPTION_UNESCAPE_CALLBACK, keep_escapes, NULL,
      cert != NULL ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, cert,
      MHD_OPTION_HTTPS_MEM_KEY, key, MHD_OPTION_END);
  if (d == NULL) {
    fprintf(stderr, "tillgroup-hq serve: cannot listen on %s\n", cfg->listen);
    goto done_mask;
  }
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
  char host[64];
  size_t n = (size_t)(strrchr(cfg->listen, ':') - cfg->listen);
  snprintf(host, sizeof host, "%.*s", (int)n, cfg->listen);
  printf("listening on %s:%u\n", host, info != NULL ? (unsigned)info->port : 0u);
  fflush(stdout);
  while (sigwait(&stop, &sig) != 0 || (sig != SIGINT && sig != SIGTERM))
    ;
  fprintf(stderr, "tillgroup-hq: %s: stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
  MHD_stop_daemon(d);
  code = 0;
done_mask:
  pthread_sigmask(SIG_SETMASK, &old, NULL);
done_pool:
  pool_close(&db_pool);
  pthread_mutex_destroy(&db_pool.mu);
done:
  tg__hq_rate_free(join_rate);
  join_rate = NULL;
  if (key != NULL)
    sodium_memzero(key, strlen(key));
  free(cert);
  free(key);
  return code;
}
