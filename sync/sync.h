/*
 * The sync folder's contract: the store side of the store<->HQ protocol
 * (docs/sync-protocol.md) and the pieces HQ shares with it. The client knows
 * nothing of pos's internals: pos hands it bytes and reads back answers.
 *
 * Names: tg__sync_* for the client, tg__gzip/tg__gunzip, tg__cred_* for the
 * enrolment credential, tg__bundle_sig_* for bundle signatures.
 */
#ifndef TG_SYNC_H
#define TG_SYNC_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* ----- Limits (the protocol's; HQ enforces the same numbers) ------------ */

#define TG__SYNC_BATCH_BYTES (1024 * 1024)       /* uncompressed body of one upload */
#define TG__SYNC_BATCH_RECORDS 10000             /* records in one upload */
#define TG__SYNC_BODY_MAX (4 * 1024 * 1024)      /* compressed body HQ accepts */
#define TG__SYNC_INFLATED_MAX (16 * 1024 * 1024) /* decompressed body HQ accepts */
#define TG__SYNC_RATIO_MAX 200                   /* decompressed / compressed, gzip bombs */
#define TG__SYNC_ACK_MAX (256 * 1024)            /* acknowledgement body the client reads */
#define TG__SYNC_MISSING_MAX 64                  /* missing ranges in one acknowledgement */
#define TG__SYNC_REASON_MAX 160                  /* reason text of a rejected record, bytes */
#define TG__SYNC_STATUS_MAX 16                   /* "invalid", "conflict" */
#define TG__SYNC_BUNDLE_MAX (16 * 1024 * 1024)   /* bundle body the client reads */
#define TG__SYNC_DETAIL_MAX 256                  /* one-line detail of an exchange */
#define TG__SYNC_ETAG_MAX 64
#define TG__SYNC_ID_MAX 12 /* store and terminal ids: 1-12 of A-Z 0-9 */

/* ----- gzip (zlib) -------------------------------------------------------- */

/*
 * Compresses in[0..n) as one gzip member at level 1 (the terminal's
 * compression is on the drain's critical path; level 6 costs a third of the
 * rate for 60 bytes a sale record instead of 70). On 0, *out (malloc'd; the
 * caller frees it) holds *n_out bytes. Returns -1 only when memory runs out.
 * The same input always gives the same bytes (no name, no time in the header).
 */
int tg__gzip(const void *in, size_t n, unsigned char **out, size_t *n_out);

typedef enum {
  TG__GUNZIP_OK = 0,
  TG__GUNZIP_BAD = -1,     /* not gzip, damaged, truncated, or bytes after the member */
  TG__GUNZIP_TOO_BIG = -2, /* output over max_out, or over max_ratio times the input */
  TG__GUNZIP_NOMEM = -3,
} tg__gunzip_result;

/*
 * Decompresses one gzip member from in[0..n), refusing to produce more than
 * max_out bytes or more than max_ratio * n bytes (stops as soon as either is
 * passed, so a bomb costs at most max_out bytes of memory). On OK, *out
 * (malloc'd, NUL-terminated after *n_out bytes; the caller frees it) holds
 * the data.
 */
tg__gunzip_result tg__gunzip(const void *in, size_t n, size_t max_out, size_t max_ratio,
                             unsigned char **out, size_t *n_out);

/* ----- Enrolment credential ------------------------------------------------ */

#define TG__CRED_SECRET 32 /* bytes of the terminal's enrolment secret */
#define TG__CRED_KEY 32    /* HQ's Ed25519 public key */
#define TG__CRED_TEXT_MAX 160

typedef struct {
  char store[TG__SYNC_ID_MAX + 1];
  char terminal[TG__SYNC_ID_MAX + 1];
  unsigned char secret[TG__CRED_SECRET];
  unsigned char hq_key[TG__CRED_KEY]; /* verifies config bundles */
} tg__cred;

/*
 * Reads a credential "tg1.STORE.TERMINAL.SECRET.HQKEY" (base64url without
 * padding; surrounding whitespace ignored) from z[0..n). Returns 0, or -1
 * with a one-line reason in why[0..cap) when it is not one.
 */
int tg__cred_parse(const char *z, size_t n, tg__cred *out, char *why, size_t cap);
/* Writes c as text into out[0..cap) (TG__CRED_TEXT_MAX is enough). Returns its length, or -1. */
int tg__cred_format(const tg__cred *c, char *out, size_t cap);
/* What HQ keeps instead of the secret, to check a bearer: BLAKE2b-256 of it. */
void tg__cred_auth_hash(const unsigned char secret[TG__CRED_SECRET], unsigned char out[32]);
/* The terminal's invite HMAC key, derived from the secret; HQ keeps it for the join page. */
void tg__cred_invite_key(const unsigned char secret[TG__CRED_SECRET], unsigned char out[32]);
/*
 * The Authorization header value "Bearer STORE.TERMINAL.SECRET" into
 * out[0..cap). Returns its length, or -1. Never log it.
 */
int tg__cred_bearer(const tg__cred *c, char *out, size_t cap);
/*
 * Reads a bearer token (the part after "Bearer ") into store, terminal and
 * secret. Returns 0, or -1 when it is not one. Nothing is logged.
 */
int tg__cred_bearer_parse(const char *z, char store[TG__SYNC_ID_MAX + 1],
                          char terminal[TG__SYNC_ID_MAX + 1],
                          unsigned char secret[TG__CRED_SECRET]);

/* ----- Bundle signatures (Ed25519 over "TGB1" || body) -------------------- */

#define TG__BUNDLE_SIG_TEXT 88 /* base64url of 64 bytes, plus NUL */

/* Signs body with HQ's secret key; writes base64url text into sig. */
void tg__bundle_sig_make(const unsigned char sk[64], const void *body, size_t n,
                         char sig[TG__BUNDLE_SIG_TEXT]);
/* Returns 0 when sig is HQ's signature of body under hq_key, else -1. */
int tg__bundle_sig_check(const unsigned char hq_key[32], const void *body, size_t n,
                         const char *sig);

/* ----- HQ's signature on a pull request (pull_auth.c) ---------------------- */

#define TG__PULL_TARGET_MAX 512              /* path and query of a pull request, bytes */
#define TG__PULL_AUTH_MAX 192                /* the Authorization value after "TG-HQ " */
#define TG__PULL_SKEW_MS (5 * 60 * 1000)     /* clocks of HQ and terminal may differ this much */

/*
 * HQ signs each nightly pull request it sends a terminal (docs/sync-protocol.md,
 * "Nightly pull"): Ed25519 with HQ's key over
 * "TGP1\n" METHOD "\n" TARGET "\n" STORE "\n" TERMINAL "\n" TIME_MS, where
 * TARGET is the path and query exactly as sent. Writes the Authorization
 * value "TG-HQ STORE.TERMINAL.TIME_MS.SIG" (SIG base64url, no padding) into
 * out[0..cap) and returns its length, or -1 when it does not fit.
 */
int tg__pull_sign(const unsigned char hq_sk[64], const char *store, const char *terminal,
                  const char *method, const char *target, int64_t now_ms, char *out, size_t cap);
/*
 * Checks header (the Authorization value, or NULL) on a request of method
 * and target to the terminal store-terminal: HQ's signature under hq_key
 * (from the terminal's credential), for this terminal, within
 * TG__PULL_SKEW_MS of now_ms. Returns 0, or -1 with one line in why. The
 * requests are read-only, so a replay inside the window reveals nothing new.
 */
int tg__pull_check(const unsigned char hq_key[32], const char *store, const char *terminal,
                   const char *method, const char *target, const char *header, int64_t now_ms,
                   char *why, size_t cap);
/*
 * Reads z[0..n) (not NUL-terminated) as the pull protocol's numbers are
 * written, a decimal 1..2^53 without sign or leading zero (sequence
 * numbers, TIME_MS of the signature): its value, or -1 when it is not one.
 */
int64_t tg__pull_decimal(const char *z, size_t n);

#define TG__PULL_MAC_TEXT 44 /* base64url of a 32-byte HMAC, plus NUL */

/*
 * The terminal's MAC on its answer to a pull request, sent as the header
 * "X-TG-MAC: <text>" so HQ can trust records fetched over plain HTTP on the
 * store network: HMAC-SHA256, keyed with a key derived from the terminal's
 * invite key (tg__cred_invite_key; HQ keeps it from enrolment), over the
 * request's Authorization value (which binds method, target, terminal and
 * time), "\n" and the BLAKE2b-256 of the body[0..n) as sent (after any
 * Content-Encoding). HQ recomputes it and refuses an answer whose MAC differs.
 */
void tg__pull_mac(const unsigned char invite_key[32], const char *authorization, const void *body,
                  size_t n, char out[TG__PULL_MAC_TEXT]);

/* ----- Serving HTTP with libmicrohttpd (http_serve.c): the pull endpoint's and HQ's --- */

struct sockaddr_storage;
struct timespec;

#define TG__HTTP_WHEN_MAX 32 /* "YYYY-MM-DDTHH:MM:SSZ" and its NUL, with room */


/* Copies z (NULL: "") into out[0..cap), cut to fit, with every byte outside
 * printable ASCII as '?': a client's text must not forge log lines. */
void tg__http_printable(const char *z, char *out, size_t cap);
/* For a request's log line: the wall time now as UTC "YYYY-MM-DDTHH:MM:SSZ"
 * into when, and returns the milliseconds since t0 (CLOCK_MONOTONIC, taken
 * when the request began). */
int64_t tg__http_log_stamp(const struct timespec *t0, char when[TG__HTTP_WHEN_MAX]);
/* libmicrohttpd's MHD_OPTION_EXTERNAL_LOGGER: writes the message as one line
 * "CLS: message" to stderr, where cls is the program's name (a string). */
void tg__http_mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Reads listen, "A.B.C.D:PORT" or "[V6]:PORT" (port 0: any free one), into
 * addr and *v6 (1 for IPv6, for MHD_USE_IPv6). Returns 0, or -1 with one line
 * for the operator in why[0..cap). */
int tg__http_listen_addr(const char *listen, struct sockaddr_storage *addr, int *v6, char *why,
                         size_t cap);
/* The --tls-cert and --tls-key files (both NULL: plain HTTP, *cert = *key =
 * NULL) as NUL-terminated PEM text of at most 1 MiB each, for
 * MHD_OPTION_HTTPS_MEM_CERT/KEY. Returns 0 with both set (free both; zero
 * the key's bytes first), or -1 with nothing to free and one line in
 * why[0..cap): one file without the other, no TLS in libmicrohttpd, a file
 * unreadable, empty or too big. */
int tg__http_tls_load(const char *cert_path, const char *key_path, char **cert, char **key,
                      char *why, size_t cap);

/* ----- The terminal's nightly-pull endpoint (pull_request.c, pull_server.c) - */

#define TG__PULL_ACCEPT_MAX 256    /* bytes of Accept-Encoding read; the rest is ignored */
#define TG__PULL_WHY_MAX 160       /* one-line reason of a refused request */
#define TG__PULL_BODY_MAX TG__SYNC_INFLATED_MAX /* records body, uncompressed */
#define TG__PULL_SEQ_MAX (INT64_C(1) << 53)

typedef enum { TG__PULL_MANIFEST = 1, TG__PULL_RECORDS = 2 } tg__pull_route;

/* What a request asks for, decided from its method and target alone. */
typedef struct {
  unsigned status;   /* 0: go on (authenticate, then answer); else the HTTP status to answer */
  tg__pull_route route;
  int head;          /* HEAD: answer as GET, without the body */
  int has_range;     /* from and to were given */
  int64_t from, to;  /* when has_range */
  char why[TG__PULL_WHY_MAX]; /* when status != 0: one printable line for {"error":...} */
} tg__pull_request;

/*
 * Decides a pull request from its method and target (path and query exactly
 * as sent, NUL-terminated), without sockets or clocks: 405 for a method
 * other than GET or HEAD, 414 for a target over TG__PULL_TARGET_MAX bytes,
 * 404 for a path other than /v1/manifest and /v1/records, 422 for a query
 * that is not exactly "from=A&to=B" or "to=B&from=A" (A, B decimal 1..2^53
 * without sign or leading zero; /v1/manifest may have no query at all), for
 * from > to, and for /v1/records over TG__SYNC_BATCH_RECORDS records.
 * The checks against the store (to > max_seq) come later. Always fills *out.
 */
void tg__pull_request_decide(const char *method, const char *target, tg__pull_request *out);
/*
 * 1 when an Accept-Encoding value (NULL: none) lets the answer be gzip:
 * "gzip", "x-gzip" or "*" with a q-value above 0. Reads at most
 * TG__PULL_ACCEPT_MAX bytes; blank and unknown items are skipped.
 */
int tg__pull_accepts_gzip(const char *accept_encoding);

/* Called for each record from..to ascending with its exact stored bytes (no "\n"); 0 to go on. */
typedef int (*tg__pull_line_fn)(void *arg, int64_t seq, const char *body, size_t n);

typedef enum {
  TG__PULL_READ_OK = 0,
  TG__PULL_READ_RANGE = -1,      /* to > max_seq: nothing was passed to line */
  TG__PULL_READ_UNREADABLE = -2, /* the store cannot be read now (why says why) */
  TG__PULL_READ_NOMEM = -3,
} tg__pull_read_result;

/*
 * The terminal's store as the pull server sees it (pos implements it over
 * its own database). read() works in ONE read snapshot: it sets *epoch (the
 * current one) and *max_seq (the last seq written), then, when from >= 1,
 * calls line() for every record from..to ascending (to < 0: through
 * max_seq; from = 1, to = 0: none). A line() result other than 0 ends the
 * read and is returned. Called from several threads at once.
 */
typedef struct {
  void *ctx;
  int (*read)(void *ctx, int64_t from, int64_t to, int64_t *epoch, int64_t *max_seq,
              tg__pull_line_fn line, void *arg, char *why, size_t cap);
} tg__pull_source;

typedef struct tg__pull_server_config {
  const char *listen;   /* "A.B.C.D:PORT" or "[V6]:PORT"; port 0 picks a free one */
  const char *tls_cert; /* NULL: plain HTTP; else PEM files, with tls_key */
  const char *tls_key;
  int threads;          /* 0: 2 */
  int timeout_s;        /* a connection idle this long is closed; 0: 30 */
  char store[TG__SYNC_ID_MAX + 1];
  char terminal[TG__SYNC_ID_MAX + 1];
  unsigned char hq_key[TG__CRED_KEY];  /* checks HQ's signature (tg__pull_check) */
  unsigned char invite_key[32];        /* keys the answers' MAC (tg__pull_mac) */
  tg__pull_source source;              /* must outlive the server */
} tg__pull_server_config;

typedef struct tg__pull_server tg__pull_server;

/*
 * Starts serving GET /v1/manifest and /v1/records (docs/sync-protocol.md,
 * "Nightly pull") on its own threads. Copies cfg (not what source.ctx points
 * to). Returns 0 and *out, or -1 with one line in why (bad address, TLS files
 * unreadable, cannot listen). Logs one line per request on stderr, never a
 * secret. Stop with tg__pull_server_stop().
 */
int tg__pull_server_start(const tg__pull_server_config *cfg, tg__pull_server **out, char *why,
                          size_t cap);
/* The TCP port the server listens on (the real one when 0 was asked). */
unsigned tg__pull_server_port(const tg__pull_server *s);
/* Stops the server, waits for its threads and frees it; its key copies are wiped. Accepts NULL. */
void tg__pull_server_stop(tg__pull_server *s);

/* ----- The acknowledgement ------------------------------------------------ */

typedef struct {
  int64_t seq;
  char status[TG__SYNC_STATUS_MAX]; /* "invalid" or "conflict" */
  char reason[TG__SYNC_REASON_MAX]; /* printable UTF-8, cut to fit */
} tg__sync_rejected;

typedef struct {
  int64_t acked_through; /* HQ holds every record of this epoch up to here */
  tg__sync_rejected *rejected; /* malloc'd, n_rejected entries, seq ascending */
  int n_rejected;
  int64_t missing[TG__SYNC_MISSING_MAX][2]; /* ranges HQ lacks below what it holds */
  int n_missing;
} tg__sync_ack;

/*
 * Parses HQ's answer to an upload of seqs from..to:
 * {"acked_through":N,"rejected":[{"seq":S,"status":"...","reason":"..."}],"missing":[[a,b]]}.
 * Refuses (returns -1 with a reason in why) anything not exactly that shape:
 * acked_through outside 0..2^53 (it may pass to: HQ may hold more than this
 * batch), a rejected seq outside from..to or above
 * acked_through, repeated or unordered seqs, more than to-from+1 rejections,
 * over TG__SYNC_ACK_MAX bytes. On 0, free *out with tg__sync_ack_free().
 */
int tg__sync_ack_parse(const char *body, size_t n, int64_t from, int64_t to, tg__sync_ack *out,
                       char *why, size_t cap);
/* Frees what tg__sync_ack_parse() filled. Accepts NULL and a zeroed ack. */
void tg__sync_ack_free(tg__sync_ack *ack);

/* ----- Retry schedule ----------------------------------------------------- */

/*
 * How long to wait before retry number attempt (1, 2, ...): exponential from
 * 500 ms doubling to a cap of 60 s, with full jitter from random (any 32 bits),
 * and never less than retry_after_ms when HQ sent Retry-After (capped at 1 h).
 */
int64_t tg__sync_backoff_ms(int attempt, int64_t retry_after_ms, uint32_t random);

/* ----- The HTTP client (libcurl) ----------------------------------------- */

typedef struct {
  const char *url;        /* HQ base URL: https://host[:port][/prefix]; http:// only to loopback */
  const tg__cred *cred;   /* copied */
  const char *pinned_key; /* NULL, or "sha256//BASE64" of HQ's public key */
  const char *ca_file;    /* NULL: the system's CAs */
  const char *cert_file;  /* NULL, or a client certificate (PEM) with key_file */
  const char *key_file;
  const char *proxy;      /* NULL: libcurl reads https_proxy/no_proxy from the environment */
  long connect_timeout_ms; /* 0: 10 s */
  long low_speed_s;        /* 0: 30 s under 64 bytes/s and the request fails */
} tg__sync_config;

typedef struct tg__sync_client tg__sync_client;

typedef enum {
  TG__SYNC_OK = 0,        /* HQ answered as the protocol says */
  TG__SYNC_RETRY = -1,    /* transient: network, timeout, 408, 429, 5xx, garbled answer */
  TG__SYNC_TOO_LARGE = -2, /* 413: send fewer records */
  TG__SYNC_AUTH = -3,     /* 401 or 403: the credential is refused */
  TG__SYNC_REFUSED = -4,  /* another 4xx: the request is wrong; detail says why */
  TG__SYNC_NOMEM = -5,
} tg__sync_result;

/* What one exchange did, for the caller's status and progress. */
typedef struct {
  long http_status;                    /* 0 when no answer came */
  int64_t retry_after_ms;              /* from Retry-After, 0 when absent */
  int64_t bytes_up;                    /* request body bytes on the wire */
  int64_t bytes_down;                  /* response body bytes */
  char detail[TG__SYNC_DETAIL_MAX];    /* one line: what went wrong; no secrets */
} tg__sync_exchange;

/*
 * Makes a client with one reused connection. Copies everything in cfg.
 * Returns 0, -1 (bad cfg: detail in why) or -2 (out of memory).
 * Free with tg__sync_client_free().
 */
int tg__sync_client_new(const tg__sync_config *cfg, tg__sync_client **out, char *why,
                        size_t cap);
/* Frees a client and closes its connection. Accepts NULL. */
void tg__sync_client_free(tg__sync_client *c);

/*
 * Uploads records from..to of epoch (body: their JSON lines, each ending
 * in '\n', uncompressed) as one gzip POST to /v1/records with
 * Idempotency-Key "STORE-TERMINAL:epoch:from-to". One attempt: the caller
 * retries. On TG__SYNC_OK, *ack is filled (free with tg__sync_ack_free).
 * *x is always filled.
 */
tg__sync_result tg__sync_upload(tg__sync_client *c, int64_t epoch, int64_t from, int64_t to,
                                const char *body, size_t n, tg__sync_ack *ack,
                                tg__sync_exchange *x);

typedef struct {
  int not_modified;                 /* 304: the bundle in force is current */
  char etag[TG__SYNC_ETAG_MAX];     /* as HQ sent it, quotes included */
  char signature[TG__BUNDLE_SIG_TEXT];
  char *body;                       /* malloc'd, NUL-terminated; NULL when not_modified */
  size_t n;
} tg__sync_bundle;

/*
 * Fetches this terminal's config bundle: GET /v1/bundle with If-None-Match
 * etag (NULL or "" for none). 404 (nothing published) is OK with
 * not_modified set. The signature is not checked here: the caller checks it
 * with the HQ key it trusts. Free body with free().
 */
tg__sync_result tg__sync_bundle_fetch(tg__sync_client *c, const char *etag, tg__sync_bundle *out,
                                      tg__sync_exchange *x);

#endif
