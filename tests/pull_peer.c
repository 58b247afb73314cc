/* A test terminal's pull endpoint over libmicrohttpd; see pull_peer.h. */
#include "pull_peer.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sync.h"

struct pp_peer {
  struct MHD_Daemon *d;
  int port;
  char store[16], terminal[16];
  int64_t epoch;
  unsigned char hq_pk[32], invite_key[32];
  char **body; /* body[i] is seq i + 1 */
  size_t *len;
  int64_t n;
  _Atomic int mode;
  _Atomic int64_t seq;
  atomic_int requests, record_requests;
};

static int copy_record(void *ctx, int64_t seq, const char *json, size_t len) {
  pp_peer *p = ctx;
  if (seq != p->n + 1)
    return -1;
  char **b = realloc(p->body, sizeof *b * (size_t)(p->n + 1));
  if (b == NULL)
    return -1;
  p->body = b;
  size_t *l = realloc(p->len, sizeof *l * (size_t)(p->n + 1));
  if (l == NULL)
    return -1;
  p->len = l;
  if ((p->body[p->n] = malloc(len + 1)) == NULL)
    return -1;
  memcpy(p->body[p->n], json, len);
  p->body[p->n][len] = '\0';
  p->len[p->n] = len;
  p->n++;
  return 0;
}

/* The bytes of seq as served (altered when told). */
static void record_bytes(pp_peer *p, int64_t seq, char *scratch, const char **z, size_t *n) {
  *z = p->body[seq - 1];
  *n = p->len[seq - 1];
  if (atomic_load(&p->mode) == PP_ALTER && atomic_load(&p->seq) == seq) {
    memcpy(scratch, *z, *n);
    /* a digit of the total or time: still a record of this terminal and seq */
    char *d = strstr(scratch, "\"time_ms\":");
    if (d != NULL)
      d[10] = d[10] == '9' ? '8' : (char)(d[10] + 1);
    *z = scratch;
  }
}

/* Reads "from=A&to=B" (or nothing); 0, or -1. */
static int range(const char *q, int64_t *from, int64_t *to) {
  if (q == NULL)
    return 1;
  if (strncmp(q, "from=", 5) != 0)
    return -1;
  const char *amp = strchr(q, '&');
  if (amp == NULL || strncmp(amp, "&to=", 4) != 0)
    return -1;
  *from = tg__pull_decimal(q + 5, (size_t)(amp - q - 5));
  *to = tg__pull_decimal(amp + 4, strlen(amp + 4));
  return *from > 0 && *to > 0 ? 0 : -1;
}

static enum MHD_Result answer(pp_peer *p, struct MHD_Connection *c, unsigned status,
                              const char *auth, void *body, size_t n, const char *type,
                              int gzip) {
  char mac[TG__PULL_MAC_TEXT];
  unsigned char other[32];
  struct MHD_Response *r = MHD_create_response_from_buffer(n, body, MHD_RESPMEM_MUST_FREE);
  if (r == NULL) {
    free(body);
    return MHD_NO;
  }
  MHD_add_response_header(r, "Content-Type", type);
  if (gzip)
    MHD_add_response_header(r, "Content-Encoding", "gzip");
  if (status == 200) {
    memcpy(other, p->invite_key, 32);
    if (atomic_load(&p->mode) == PP_WRONG_MAC)
      other[0] ^= 1;
    tg__pull_mac(other, auth, body, n, mac);
    MHD_add_response_header(r, "X-TG-MAC", mac);
  }
  enum MHD_Result rc = MHD_queue_response(c, status, r);
  MHD_destroy_response(r);
  return rc;
}

static enum MHD_Result error(pp_peer *p, struct MHD_Connection *c, unsigned status,
                             const char *why) {
  char *z = malloc(256);
  if (z == NULL)
    return MHD_NO;
  int n = snprintf(z, 256, "{\"error\":\"%s\"}", why);
  return answer(p, c, status, "", z, (size_t)n, "application/json", 0);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_size, void **con_cls) {
  pp_peer *p = cls;
  const char *target = *con_cls; /* the raw URI, kept by on_uri */
  char why[256], hex[65];
  int64_t max = p->n;
  if (atomic_load(&p->mode) == PP_TRUNCATE && atomic_load(&p->seq) < max)
    max = atomic_load(&p->seq);
  int64_t from = 1, to = max;
  (void)version;
  (void)upload_data;
  (void)upload_size;
  (void)url;
  if (atomic_load(&p->mode) == PP_DROP)
    return MHD_NO;
  if (atomic_load(&p->mode) == PP_STALL)
    sleep(3);
  atomic_fetch_add(&p->requests, 1);
  if (strcmp(method, "GET") != 0)
    return error(p, c, 405, "GET only");
  const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
  if (target == NULL || tg__pull_check(p->hq_pk, p->store, p->terminal, "GET", target, auth,
                                       (int64_t)time(NULL) * 1000, why, sizeof why) != 0)
    return error(p, c, 401, "signature");
  const char *q = strchr(target, '?');
  size_t n_path = q != NULL ? (size_t)(q - target) : strlen(target);
  int ranged = range(q != NULL ? q + 1 : NULL, &from, &to);
  if (ranged < 0 || (ranged == 0 && (from > to || to > max)))
    return error(p, c, 422, "bad range");
  char *scratch = malloc(1 << 16);
  if (scratch == NULL)
    return MHD_NO;
  enum MHD_Result rc;
  if (n_path == 12 && strncmp(target, "/v1/manifest", 12) == 0) {
    unsigned char d[32];
    crypto_generichash_state h;
    crypto_generichash_init(&h, NULL, 0, 32);
    if (max == 0 && ranged)
      to = 0;
    for (int64_t s = from; s <= to; s++) {
      const char *z;
      size_t n;
      record_bytes(p, s, scratch, &z, &n);
      crypto_generichash_update(&h, (const unsigned char *)z, n);
      crypto_generichash_update(&h, (const unsigned char *)"\n", 1);
    }
    crypto_generichash_final(&h, d, 32);
    sodium_bin2hex(hex, sizeof hex, d, 32);
    char *body = malloc(512);
    int64_t epoch = p->epoch + (atomic_load(&p->mode) == PP_OTHER_EPOCH);
    int n = snprintf(body, 512,
                     "{\"store\":\"%s\",\"terminal\":\"%s\",\"epoch\":%lld,\"max_seq\":%lld,"
                     "\"from\":%lld,\"to\":%lld,\"count\":%lld,\"digest\":\"%s\"}",
                     p->store, p->terminal, (long long)epoch, (long long)max, (long long)from,
                     (long long)to, (long long)(to - from + 1), hex);
    rc = answer(p, c, 200, auth, body, (size_t)n, "application/json", 0);
  } else if (n_path == 11 && strncmp(target, "/v1/records", 11) == 0 && ranged == 0) {
    atomic_fetch_add(&p->record_requests, 1);
    size_t cap = 0, at = 0;
    for (int64_t s = from; s <= to; s++)
      cap += p->len[s - 1] + 1;
    char *body = malloc(cap + 1);
    for (int64_t s = from; body != NULL && s <= to; s++) {
      const char *z;
      size_t n;
      record_bytes(p, s, scratch, &z, &n);
      memcpy(body + at, z, n);
      body[at + n] = '\n';
      at += n + 1;
    }
    const char *ae = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept-Encoding");
    unsigned char *gz = NULL;
    size_t n_gz = 0;
    if (body != NULL && ae != NULL && strstr(ae, "gzip") != NULL &&
        tg__gzip(body, at, &gz, &n_gz) == 0) {
      free(body);
      rc = answer(p, c, 200, auth, gz, n_gz, "application/x-ndjson", 1);
    } else {
      rc = body != NULL ? answer(p, c, 200, auth, body, at, "application/x-ndjson", 0) : MHD_NO;
    }
  } else {
    rc = error(p, c, 404, "unknown path");
  }
  free(scratch);
  return rc;
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c) {
  (void)cls;
  (void)c;
  return strdup(uri);
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls,
                    enum MHD_RequestTerminationCode toe) {
  (void)cls;
  (void)c;
  (void)toe;
  free(*con_cls);
  *con_cls = NULL;
}

pp_peer *pp_start(tg_terminal *t, const char *store, const char *terminal, int64_t epoch,
                  const unsigned char hq_pk[32], const unsigned char invite_key[32]) {
  pp_peer *p = calloc(1, sizeof *p);
  struct sockaddr_in sa;
  if (p == NULL)
    return NULL;
  snprintf(p->store, sizeof p->store, "%s", store);
  snprintf(p->terminal, sizeof p->terminal, "%s", terminal);
  p->epoch = epoch;
  memcpy(p->hq_pk, hq_pk, 32);
  memcpy(p->invite_key, invite_key, 32);
  if (tg_outbox_each(t, 0, 0, copy_record, p) != 0)
    goto fail;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  p->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, on_request, p,
                          MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                          MHD_OPTION_URI_LOG_CALLBACK, on_uri, NULL, MHD_OPTION_NOTIFY_COMPLETED,
                          on_done, NULL, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
                          MHD_OPTION_END);
  if (p->d == NULL)
    goto fail;
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(p->d, MHD_DAEMON_INFO_BIND_PORT);
  if (info == NULL)
    goto fail;
  p->port = info->port;
  return p;
fail:
  pp_stop(p);
  return NULL;
}

int pp_port(const pp_peer *p) {
  return p->port;
}

void pp_misbehave(pp_peer *p, pp_mode mode, int64_t seq) {
  atomic_store(&p->seq, seq);
  atomic_store(&p->mode, (int)mode);
}

int pp_requests(const pp_peer *p) {
  return atomic_load(&p->requests);
}

int pp_record_requests(const pp_peer *p) {
  return atomic_load(&p->record_requests);
}

void pp_stop(pp_peer *p) {
  if (p == NULL)
    return;
  if (p->d != NULL)
    MHD_stop_daemon(p->d);
  for (int64_t i = 0; i < p->n; i++)
    free(p->body[i]);
  free(p->body);
  free(p->len);
  free(p);
}
