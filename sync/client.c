/* The store's client of HQ: uploads and bundle fetches over one kept-alive libcurl connection. */
#include <assert.h>
#include <curl/curl.h>
#include <inttypes.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sync.h"

#define URL_MAX 2048
#define TIMEOUT_MS 300000L        /* a backstop over the low-speed limit: no exchange outlives it */
#define ERROR_KEEP 4096           /* bytes of a non-200 answer kept to read HQ's {"error":...} */
#define REASON_KEEP 160           /* bytes of HQ's error text put in a detail */
#define NOMEM_WHY "out of memory" /* what tg__sync_ack_parse says when an allocation fails */

/* What one response delivered to the callbacks. */
typedef struct {
  char *p; /* body bytes kept, NUL-terminated when not NULL */
  size_t n, alloc, max;
  int64_t got; /* body bytes that arrived, kept or not */
  int over;    /* a 200 body passed max: the transfer was stopped */
  int cut;     /* an error body passed ERROR_KEEP: the transfer was stopped */
  int nomem;
  int64_t retry_after_ms;
  char etag[TG__SYNC_ETAG_MAX];
  char signature[TG__BUNDLE_SIG_TEXT];
} rx;

struct tg__sync_client {
  CURL *easy;
  tg__cred cred;
  char *url;     /* base URL without trailing '/' */
  char *req_url; /* base plus a path, rebuilt per request */
  size_t req_cap;
  rx rx;
  char errbuf[CURL_ERROR_SIZE];
};

/* 1 if id is 1..TG__SYNC_ID_MAX characters of A-Z 0-9: it goes into headers as it is. */
static int id_ok(const char *id) {
  size_t n = strnlen(id, TG__SYNC_ID_MAX + 1);
  if (n == 0 || n > TG__SYNC_ID_MAX)
    return 0;
  for (size_t i = 0; i < n; i++)
    if (!((id[i] >= 'A' && id[i] <= 'Z') || (id[i] >= '0' && id[i] <= '9')))
      return 0;
  return 1;
}

/* Copies s[0..n) into out[0..cap) as printable ASCII ('?' for anything else). */
static void copy_ascii(const char *s, size_t n, char *out, size_t cap) {
  size_t i;
  for (i = 0; i < n && i + 1 < cap; i++)
    out[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
  if (cap > 0)
    out[i] = '\0';
}

static int is_loopback(const char *host) {
  return strcasecmp(host, "localhost") == 0 || strcmp(host, "127.0.0.1") == 0 ||
         strcmp(host, "[::1]") == 0;
}

/* Checks cfg->url (scheme, host, nothing after the path); 0, -1 with why, or -2. */
static int check_url(const char *url, int *is_http, char *why, size_t cap) {
  CURLU *u = curl_url();
  char *scheme = NULL, *host = NULL, *user = NULL, *password = NULL, *query = NULL,
       *fragment = NULL;
  int rc = -1;
  if (u == NULL)
    return -2;
  CURLUcode uc = curl_url_set(u, CURLUPART_URL, url, 0);
  if (uc == CURLUE_OUT_OF_MEMORY) {
    rc = -2;
    goto fail;
  }
  if (uc != CURLUE_OK) {
    snprintf(why, cap, "HQ URL is not a URL: %s", curl_url_strerror(uc));
    goto fail;
  }
  if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
    snprintf(why, cap, "HQ URL needs a scheme and a host");
    goto fail;
  }
  curl_url_get(u, CURLUPART_USER, &user, 0);
  curl_url_get(u, CURLUPART_PASSWORD, &password, 0);
  curl_url_get(u, CURLUPART_QUERY, &query, 0);
  curl_url_get(u, CURLUPART_FRAGMENT, &fragment, 0);
  if (user != NULL || password != NULL) {
    snprintf(why, cap,
             "HQ URL must not carry a user or password: the credential identifies the till");
    goto fail;
  }
  if (query != NULL || fragment != NULL) {
    snprintf(why, cap, "HQ URL must end at its path: no '?' or '#'");
    goto fail;
  }
  *is_http = strcmp(scheme, "http") == 0;
  if (!*is_http && strcmp(scheme, "https") != 0) {
    snprintf(why, cap, "HQ URL must start with https://");
    goto fail;
  }
  if (*is_http && !is_loopback(host)) {
    snprintf(why, cap,
             "http:// is only for a loopback HQ (127.0.0.1, ::1, localhost): use https://");
    goto fail;
  }
  rc = 0;
fail:
  curl_free(scheme);
  curl_free(host);
  curl_free(user);
  curl_free(password);
  curl_free(query);
  curl_free(fragment);
  curl_url_cleanup(u);
  return rc;
}

/* Keeps the body within its cap (r->max for a 200, ERROR_KEEP else); a short return stops it. */
static size_t on_body(char *data, size_t size, size_t nmemb, void *ctx) {
  tg__sync_client *c = ctx;
  rx *r = &c->rx;
  size_t n = size * nmemb;
  long status = 0;
  r->got += (int64_t)n;
  curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status);
  size_t max = status == 200 ? r->max : ERROR_KEEP;
  if (n > max - r->n) {
    if (status == 200)
      r->over = 1;
    else
      r->cut = 1; /* enough of an error to read why; the status decides */
    return 0;
  }
  if (r->n + n + 1 > r->alloc) {
    size_t want = r->alloc < 16384 ? 16384 : r->alloc;
    while (want < r->n + n + 1)
      want = want > (max + 1) / 2 ? max + 1 : want * 2;
    char *p = realloc(r->p, want);
    if (p == NULL) {
      r->nomem = 1;
      return 0;
    }
    r->p = p;
    r->alloc = want;
  }
  memcpy(r->p + r->n, data, n);
  r->n += n;
  r->p[r->n] = '\0';
  return n;
}

/* Copies a header's value v[0..n), trimmed, into out[0..cap); "" when it does not fit. */
static void header_value(const char *v, size_t n, char *out, size_t cap) {
  while (n > 0 && (*v == ' ' || *v == '\t'))
    v++, n--;
  while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r' || v[n - 1] == '\n'))
    n--;
  out[0] = '\0';
  if (n >= cap)
    return;
  for (size_t i = 0; i < n; i++)
    if (v[i] < 0x20 || v[i] >= 0x7f)
      return;
  memcpy(out, v, n);
  out[n] = '\0';
}

/* 1 if line[0..n) is header name: (any case), with *value after the colon. */
static int header_is(const char *line, size_t n, const char *name, const char **value,
                     size_t *n_value) {
  size_t k = strlen(name);
  if (n <= k || line[k] != ':' || strncasecmp(line, name, k) != 0)
    return 0;
  *value = line + k + 1;
  *n_value = n - k - 1;
  return 1;
}

/* Reads Retry-After, ETag and Tillgroup-Signature; a status line starts a new answer. */
static size_t on_header(char *line, size_t size, size_t nmemb, void *ctx) {
  rx *r = &((tg__sync_client *)ctx)->rx;
  size_t n = size * nmemb, nv;
  const char *v;
  char text[32];
  if (n >= 5 && strncmp(line, "HTTP/", 5) == 0) {
    r->retry_after_ms = 0;
    r->etag[0] = r->signature[0] = '\0';
  } else if (header_is(line, n, "Retry-After", &v, &nv)) {
    header_value(v, nv, text, sizeof text);
    int64_t s = 0;
    for (const char *p = text; *p; p++) {
      if (*p < '0' || *p > '9') {
        s = 0; /* an HTTP-date: the backoff alone decides */
        break;
      }
      if (s < INT64_C(1000000000))
        s = s * 10 + (*p - '0');
    }
    r->retry_after_ms = s * 1000;
  } else if (header_is(line, n, "ETag", &v, &nv)) {
    header_value(v, nv, r->etag, sizeof r->etag);
  } else if (header_is(line, n, "Tillgroup-Signature", &v, &nv)) {
    header_value(v, nv, r->signature, sizeof r->signature);
  }
  return n;
}

/* Sets an option; a failure leaves rc -2 (out of memory) or -1 with why naming what. */
#define SET_AS(opt, val, what)                                                                     \
  do {                                                                                             \
    CURLcode cc_ = curl_easy_setopt(c->easy, opt, val);                                            \
    if (cc_ != CURLE_OK) {                                                                         \
      rc = cc_ == CURLE_OUT_OF_MEMORY ? -2 : -1;                                                   \
      snprintf(why, cap, "%s is not supported here: %s", what, curl_easy_strerror(cc_));           \
      goto fail;                                                                                   \
    }                                                                                              \
  } while (0)
#define SET(opt, val) SET_AS(opt, val, #opt)

int tg__sync_client_new(const tg__sync_config *cfg, tg__sync_client **out, char *why, size_t cap) {
  tg__sync_client *c = NULL;
  char bearer[256];
  size_t n;
  int rc = -1, is_http = 0;
  assert(cfg != NULL && out != NULL && why != NULL && cap > 0);
  *out = NULL;
  why[0] = '\0';
  if (cfg->url == NULL || (n = strlen(cfg->url)) == 0 || n > URL_MAX) {
    snprintf(why, cap, "HQ URL is missing or longer than %d bytes", URL_MAX);
    return -1;
  }
  if (cfg->cred == NULL || !id_ok(cfg->cred->store) || !id_ok(cfg->cred->terminal) ||
      tg__cred_bearer(cfg->cred, bearer, sizeof bearer) < 0) {
    snprintf(why, cap, "no usable enrolment credential");
    return -1;
  }
  sodium_memzero(bearer, sizeof bearer);
  if ((cfg->cert_file == NULL) != (cfg->key_file == NULL)) {
    snprintf(why, cap, "a client certificate needs both its certificate and its key file");
    return -1;
  }
  /* counted: each free undoes one; thread-safe only if curl has CURL_VERSION_THREADSAFE */
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    snprintf(why, cap, "libcurl cannot start");
    return -2;
  }
  c = calloc(1, sizeof *c);
  if (c == NULL) {
    rc = -2;
    goto fail;
  }
  c->cred = *cfg->cred;
  if ((rc = check_url(cfg->url, &is_http, why, cap)) != 0)
    goto fail;
  rc = -1;
  while (n > 0 && cfg->url[n - 1] == '/')
    n--;
  c->req_cap = n + 32;
  c->url = malloc(n + 1);
  c->req_url = malloc(c->req_cap);
  c->easy = curl_easy_init();
  if (c->url == NULL || c->req_url == NULL || c->easy == NULL) {
    rc = -2;
    goto fail;
  }
  memcpy(c->url, cfg->url, n);
  c->url[n] = '\0';

  SET(CURLOPT_NOSIGNAL, 1L);
  SET(CURLOPT_ERRORBUFFER, c->errbuf);
  SET(CURLOPT_PROTOCOLS_STR, is_http ? "http" : "https");
  SET(CURLOPT_REDIR_PROTOCOLS_STR, is_http ? "http" : "https");
  SET(CURLOPT_FOLLOWLOCATION, 0L);
  SET(CURLOPT_SSL_VERIFYPEER, 1L);
  SET(CURLOPT_SSL_VERIFYHOST, 2L);
  SET(CURLOPT_CONNECTTIMEOUT_MS, cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms : 10000L);
  SET(CURLOPT_LOW_SPEED_LIMIT, 64L);
  SET(CURLOPT_LOW_SPEED_TIME, cfg->low_speed_s > 0 ? cfg->low_speed_s : 30L);
  SET(CURLOPT_TIMEOUT_MS, TIMEOUT_MS);
  SET(CURLOPT_TCP_KEEPALIVE, 1L);
  SET(CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
  SET(CURLOPT_USERAGENT, "tillgroup-sync/1");
  SET(CURLOPT_WRITEFUNCTION, on_body);
  SET(CURLOPT_WRITEDATA, c);
  SET(CURLOPT_HEADERFUNCTION, on_header);
  SET(CURLOPT_HEADERDATA, c);
  if (cfg->proxy != NULL)
    SET(CURLOPT_PROXY, cfg->proxy);
  else if (is_http)
    SET(CURLOPT_NOPROXY, "*"); /* a loopback HQ in clear text never goes through a proxy */
  if (cfg->pinned_key != NULL)
    SET_AS(CURLOPT_PINNEDPUBLICKEY, cfg->pinned_key, "pinning HQ's key");
  if (cfg->ca_file != NULL)
    SET_AS(CURLOPT_CAINFO, cfg->ca_file, "a CA file");
  if (cfg->cert_file != NULL) {
    SET_AS(CURLOPT_SSLCERT, cfg->cert_file, "a client certificate");
    SET_AS(CURLOPT_SSLKEY, cfg->key_file, "a client key");
  }
  *out = c;
  return 0;
fail:
  if (rc == -2)
    snprintf(why, cap, "out of memory");
  tg__sync_client_free(c);
  if (c == NULL)
    curl_global_cleanup();
  return rc;
}

void tg__sync_client_free(tg__sync_client *c) {
  if (c == NULL)
    return;
  curl_easy_cleanup(c->easy);
  free(c->rx.p);
  free(c->url);
  free(c->req_url);
  sodium_memzero(&c->cred, sizeof c->cred);
  free(c);
  curl_global_cleanup();
}

/* HQ's {"error":"..."} text in an error answer, as printable ASCII; "" when there is none. */
static void hq_reason(const rx *r, char out[REASON_KEEP]) {
  json_t *root = r->n > 0 ? json_loadb(r->p, r->n, 0, NULL) : NULL;
  const json_t *e = json_object_get(root, "error");
  out[0] = '\0';
  if (json_is_string(e))
    copy_ascii(json_string_value(e), json_string_length(e), out, REASON_KEEP);
  json_decref(root);
}

/* Maps an answer other than 200 to a result, with a detail naming what was asked. */
static tg__sync_result by_status(const rx *r, long status, const char *what, tg__sync_exchange *x) {
  char reason[REASON_KEEP];
  hq_reason(r, reason);
  const char *sep = reason[0] ? ": " : "";
  if (status == 413) {
    snprintf(x->detail, sizeof x->detail, "HQ finds the %s too large (413)%s%s", what, sep, reason);
    return TG__SYNC_TOO_LARGE;
  }
  if (status == 401 || status == 403) {
    snprintf(x->detail, sizeof x->detail, "HQ refused this till's credential (%ld)%s%s", status,
             sep, reason);
    return TG__SYNC_AUTH;
  }
  if (status >= 400 && status < 500 && status != 408 && status != 429) {
    snprintf(x->detail, sizeof x->detail, "HQ refused the %s (%ld)%s%s", what, status, sep, reason);
    return TG__SYNC_REFUSED;
  }
  snprintf(x->detail, sizeof x->detail, "HQ answered the %s with %ld%s%s; will retry", what, status,
           sep, reason);
  return TG__SYNC_RETRY;
}

/*
 * Runs one request to base URL + path with headers h (and, when post is not
 * NULL, n_post body bytes POSTed). Fills x's numbers and, on a transport
 * failure, its detail. Returns 0 with *status set, RETRY or NOMEM.
 */
static tg__sync_result perform(tg__sync_client *c, const char *path, struct curl_slist *h,
                               const void *post, size_t n_post, size_t max, tg__sync_exchange *x,
                               long *status) {
  curl_off_t up = 0;
  rx *r = &c->rx;
  free(r->p);
  memset(r, 0, sizeof *r);
  r->max = max;
  c->errbuf[0] = '\0';
  snprintf(c->req_url, c->req_cap, "%s%s", c->url, path);
  CURLcode cc = curl_easy_setopt(c->easy, CURLOPT_URL, c->req_url);
  if (cc == CURLE_OK)
    cc = curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, h);
  if (cc == CURLE_OK && post != NULL) {
    cc = curl_easy_setopt(c->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)n_post);
    if (cc == CURLE_OK)
      cc = curl_easy_setopt(c->easy, CURLOPT_POSTFIELDS, post);
  } else if (cc == CURLE_OK) {
    cc = curl_easy_setopt(c->easy, CURLOPT_HTTPGET, 1L);
  }
  if (cc == CURLE_OK)
    cc = curl_easy_perform(c->easy);
  /* the handle must not keep pointers to the caller's body or our headers */
  curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, NULL);
  curl_easy_setopt(c->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)-1);
  curl_easy_setopt(c->easy, CURLOPT_POSTFIELDS, NULL);
  curl_easy_setopt(c->easy, CURLOPT_HTTPGET, 1L);
  curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, status);
  curl_easy_getinfo(c->easy, CURLINFO_SIZE_UPLOAD_T, &up);
  x->http_status = *status;
  x->retry_after_ms = r->retry_after_ms;
  x->bytes_up = (int64_t)up;
  x->bytes_down = r->got;
  if (r->nomem || cc == CURLE_OUT_OF_MEMORY) {
    snprintf(x->detail, sizeof x->detail, "out of memory reading HQ's answer");
    return TG__SYNC_NOMEM;
  }
  if (r->over) {
    snprintf(x->detail, sizeof x->detail, "HQ's answer is over %zu bytes; will retry", r->max);
    return TG__SYNC_RETRY;
  }
  if (cc != CURLE_OK && !(r->cut && *status != 0)) {
    snprintf(x->detail, sizeof x->detail, "no answer from HQ: %.200s",
             c->errbuf[0] ? c->errbuf : curl_easy_strerror(cc));
    return TG__SYNC_RETRY;
  }
  return TG__SYNC_OK;
}

/* Appends "name: value" to *h; 0, or -1 when memory runs out (then *h is freed). */
static int add_header(struct curl_slist **h, const char *line) {
  struct curl_slist *p = curl_slist_append(*h, line);
  if (p == NULL) {
    curl_slist_free_all(*h);
    *h = NULL;
    return -1;
  }
  *h = p;
  return 0;
}

/* Wipes and frees a header list that held the bearer. */
static void free_headers(struct curl_slist *h) {
  for (struct curl_slist *p = h; p != NULL; p = p->next)
    sodium_memzero(p->data, strlen(p->data));
  curl_slist_free_all(h);
}

/* The headers of every request: the bearer, and no Expect. NULL when memory runs out. */
static struct curl_slist *base_headers(const tg__sync_client *c) {
  struct curl_slist *h = NULL;
  char line[320];
  memcpy(line, "Authorization: ", 15);
  int n = tg__cred_bearer(&c->cred, line + 15, sizeof line - 15);
  assert(n > 0); /* checked when the client was made */
  (void)n;
  if (add_header(&h, line) != 0 || add_header(&h, "Expect:") != 0)
    h = NULL;
  sodium_memzero(line, sizeof line);
  return h;
}

/* Replaces every copy of the client's secret in the detail (an HQ echoing the bearer) with '*'. */
static void redact(const tg__sync_client *c, tg__sync_exchange *x) {
  char bearer[256], *secret, *p;
  if (tg__cred_bearer(&c->cred, bearer, sizeof bearer) < 0)
    return;
  secret = strrchr(bearer, '.');
  if (secret != NULL && secret[1] != '\0') {
    secret++;
    size_t k = strlen(secret);
    while ((p = strstr(x->detail, secret)) != NULL)
      memset(p, '*', k);
  }
  sodium_memzero(bearer, sizeof bearer);
}

tg__sync_result tg__sync_upload(tg__sync_client *c, int64_t epoch, int64_t from, int64_t to,
                                const char *body, size_t n, tg__sync_ack *ack,
                                tg__sync_exchange *x) {
  struct curl_slist *h = NULL;
  unsigned char *gz = NULL;
  size_t n_gz = 0;
  char key[128], why[TG__SYNC_DETAIL_MAX];
  long status = 0;
  tg__sync_result rc = TG__SYNC_NOMEM;
  assert(c != NULL && ack != NULL && x != NULL && (body != NULL || n == 0));
  assert(epoch >= 1 && from >= 1 && from <= to);
  memset(x, 0, sizeof *x);
  memset(ack, 0, sizeof *ack);
  snprintf(key, sizeof key, "Idempotency-Key: %s-%s:%" PRId64 ":%" PRId64 "-%" PRId64,
           c->cred.store, c->cred.terminal, epoch, from, to);
  if (tg__gzip(body, n, &gz, &n_gz) != 0 || (h = base_headers(c)) == NULL ||
      add_header(&h, key) != 0 || add_header(&h, "Content-Type: application/x-ndjson") != 0 ||
      add_header(&h, "Content-Encoding: gzip") != 0) {
    snprintf(x->detail, sizeof x->detail, "out of memory preparing the upload");
    goto done;
  }
  rc = perform(c, "/v1/records", h, gz, n_gz, TG__SYNC_ACK_MAX, x, &status);
  if (rc != TG__SYNC_OK)
    goto done;
  if (status != 200) {
    rc = by_status(&c->rx, status, "upload", x);
    goto done;
  }
  if (tg__sync_ack_parse(c->rx.p ? c->rx.p : "", c->rx.n, from, to, ack, why, sizeof why) != 0) {
    /* the parser's only failure that is no fault of HQ's answer */
    rc = strcmp(why, NOMEM_WHY) == 0 ? TG__SYNC_NOMEM : TG__SYNC_RETRY;
    snprintf(x->detail, sizeof x->detail, "garbled acknowledgement: %.200s", why);
    goto done;
  }
done:
  free_headers(h);
  free(gz);
  redact(c, x);
  return rc;
}

tg__sync_result tg__sync_bundle_fetch(tg__sync_client *c, const char *etag, tg__sync_bundle *out,
                                      tg__sync_exchange *x) {
  struct curl_slist *h;
  char line[32 + TG__SYNC_ETAG_MAX], clean[TG__SYNC_ETAG_MAX];
  long status = 0;
  tg__sync_result rc = TG__SYNC_NOMEM;
  assert(c != NULL && out != NULL && x != NULL);
  memset(x, 0, sizeof *x);
  memset(out, 0, sizeof *out);
  h = base_headers(c);
  /* an etag that could not have come from HQ is not sent: the whole bundle comes instead */
  if (h != NULL && etag != NULL && etag[0] != '\0' && strlen(etag) < sizeof clean) {
    header_value(etag, strlen(etag), clean, sizeof clean);
    if (strcmp(clean, etag) == 0) {
      snprintf(line, sizeof line, "If-None-Match: %s", etag);
      if (add_header(&h, line) != 0)
        h = NULL;
    }
  }
  if (h == NULL) {
    snprintf(x->detail, sizeof x->detail, "out of memory preparing the bundle request");
    goto done;
  }
  rc = perform(c, "/v1/bundle", h, NULL, 0, TG__SYNC_BUNDLE_MAX, x, &status);
  if (rc != TG__SYNC_OK)
    goto done;
  if (status == 304 || status == 404) {
    out->not_modified = 1;
    goto done;
  }
  if (status != 200) {
    rc = by_status(&c->rx, status, "bundle request", x);
    goto done;
  }
  if (c->rx.etag[0] == '\0' || c->rx.signature[0] == '\0') {
    snprintf(x->detail, sizeof x->detail, "HQ sent a bundle without a usable %s header",
             c->rx.etag[0] == '\0' ? "ETag" : "Tillgroup-Signature");
    rc = TG__SYNC_REFUSED;
    goto done;
  }
  if (c->rx.p == NULL && (c->rx.p = calloc(1, 1)) == NULL) { /* an empty body is still a body */
    snprintf(x->detail, sizeof x->detail, "out of memory reading the bundle");
    rc = TG__SYNC_NOMEM;
    goto done;
  }
  memcpy(out->etag, c->rx.etag, sizeof out->etag);
  memcpy(out->signature, c->rx.signature, sizeof out->signature);
  out->body = c->rx.p; /* ownership passes to the caller */
  out->n = c->rx.n;
  c->rx.p = NULL;
  memset(&c->rx, 0, sizeof c->rx);
done:
  free_headers(h);
  redact(c, x);
  return rc;
}
