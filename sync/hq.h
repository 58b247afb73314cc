/*
 * tillgroup-hq's contract between its files: upload parsing, the storage
 * back ends (SQLite, PostgreSQL) behind one table of operations, and the
 * HTTP service. docs/sync-protocol.md is the protocol these implement.
 */
#ifndef TG_HQ_H
#define TG_HQ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sync.h"

#define TG__HQ_WHY_MAX 256 /* one-line reasons returned to clients and operators */

/* Outcomes shared by parsing and storage; each maps to one HTTP status. */
typedef enum {
  TG__HQ_OK = 0,
  TG__HQ_BAD = -1,       /* 400: malformed body, wrong types, missing identity fields */
  TG__HQ_FORBIDDEN = -2, /* 403: a record or key of another terminal */
  TG__HQ_RANGE = -3,     /* 422: seqs out of range, count or order wrong, epoch mismatch */
  TG__HQ_REUSED = -4,    /* 409: this Idempotency-Key came before with another body */
  TG__HQ_DB = -5,        /* 503: the database failed; nothing stored, retry */
  TG__HQ_NOMEM = -6,     /* 503 */
  TG__HQ_NOTFOUND = -7,  /* 404 */
} tg__hq_rc;

/* ----- One upload line (hq_line.c) ---------------------------------------- */

/* The top-level members of a record that HQ reads, in this order. */
enum {
  TG__HQ_M_STORE,
  TG__HQ_M_TERMINAL,
  TG__HQ_M_EPOCH,
  TG__HQ_M_SEQ,
  TG__HQ_M_KIND,
  TG__HQ_M_UUID,
  TG__HQ_M_TIME_MS,
  TG__HQ_M_TOTAL,
  TG__HQ_MEMBERS
};

typedef enum {
  TG__HQ_ABSENT = 0,
  TG__HQ_STRING,
  TG__HQ_INTEGER, /* a number without fraction or exponent, within int64 */
  TG__HQ_OTHER    /* a real, true, false, null, an object or an array */
} tg__hq_type;

#define TG__HQ_TEXT_MAX 39 /* string bytes a member keeps: a UUID is 36 */

typedef struct {
  tg__hq_type type;
  int64_t integer; /* TG__HQ_INTEGER */
  size_t len;      /* TG__HQ_STRING: its length unescaped, may exceed TG__HQ_TEXT_MAX */
  char text[TG__HQ_TEXT_MAX + 1]; /* its first bytes unescaped, NUL-terminated (no NUL inside) */
} tg__hq_member;

/*
 * Reads z[0..n) as one JSON object without building it: checks the whole
 * text as jansson's json_loadb() would (RFC 8259; UTF-8 without surrogates
 * or overlong forms; no NUL in strings; integers within int64; reals that do
 * not overflow a double; at most 2048 nested values; nothing but whitespace
 * after the object) and fills m[] with the object's own members named in
 * TG__HQ_M_* (absent ones zeroed). One of those names twice in the object is
 * refused as ambiguous; other duplicate keys are kept as written. Returns 0,
 * or -1 with why ("byte N: what").  Allocates nothing; safe in any thread.
 */
int tg__hq_line_read(const char *z, size_t n, tg__hq_member m[TG__HQ_MEMBERS], char *why,
                     size_t cap);

/* ----- Upload parsing (hq_batch.c) ---------------------------------------- */

typedef struct {
  char store[TG__SYNC_ID_MAX + 1];
  char terminal[TG__SYNC_ID_MAX + 1];
  int64_t epoch, from, to;
} tg__hq_key;

typedef struct {
  int64_t seq;
  const char *body; /* the record's exact JSON bytes, inside the batch's text */
  size_t len;
  char kind[8];     /* sale, refund, void, redeem; "" when rejected */
  char uuid[37];    /* "" when the record has none */
  int64_t time_ms;
  int64_t total;    /* 0 for a redeem */
  /* NULL when accepted; else "invalid" and why HQ will not count it */
  const char *reject_status;
  char reason[TG__SYNC_REASON_MAX];
} tg__hq_record;

typedef struct {
  tg__hq_key key;
  char *text;             /* the decompressed body, owned */
  size_t n_text;
  tg__hq_record *records; /* key.to - key.from + 1 of them, in seq order; owned */
  int n;
  unsigned char digest[32]; /* BLAKE2b-256 of the decompressed body */
} tg__hq_batch;

/*
 * Reads "STORE-TERMINAL:epoch:from-to" (epoch and seqs 1..2^53, from <= to,
 * at most TG__SYNC_BATCH_RECORDS). Returns TG__HQ_OK, TG__HQ_BAD or
 * TG__HQ_RANGE with why.
 */
int tg__hq_key_parse(const char *z, tg__hq_key *out, char *why, size_t cap);

/*
 * Takes text (decompressed, malloc'd; ownership passes to out even on
 * failure) as the upload of key: exactly to-from+1 JSON lines, line k holding
 * store, terminal, epoch and seq = from+k as the key says. A line that is not
 * a JSON object or lacks those four is TG__HQ_BAD; another terminal's store
 * or terminal is TG__HQ_FORBIDDEN; a wrong count, seq or epoch TG__HQ_RANGE.
 * A record whose identity is right but whose content is not (kind, uuid,
 * time_ms, total missing or of the wrong type) is accepted into the batch
 * with reject_status "invalid" and a reason. Free with tg__hq_batch_free().
 */
int tg__hq_batch_parse(char *text, size_t n, const tg__hq_key *key, tg__hq_batch *out,
                       char *why, size_t cap);
/* Frees what tg__hq_batch_parse() filled. Accepts a zeroed batch. */
void tg__hq_batch_free(tg__hq_batch *b);

/* ----- Storage ------------------------------------------------------------ */

typedef struct tg__hq_db tg__hq_db;

/* What an upload left HQ holding for that terminal and epoch. */
typedef struct {
  int64_t acked_through; /* every seq 1..acked_through is stored (or dead-lettered) */
  int64_t missing[TG__SYNC_MISSING_MAX][2]; /* gaps below the highest held seq */
  int n_missing;
  /* per record of the batch, in order: NULL stored, else "invalid" or "conflict" */
  tg__sync_rejected *rejected; /* malloc'd; free() */
  int n_rejected;
} tg__hq_ack;

typedef struct {
  char store[TG__SYNC_ID_MAX + 1];
  char terminal[TG__SYNC_ID_MAX + 1];
  int enabled;
  int64_t enrolled_ms, last_seen_ms;
  int64_t epoch;          /* the latest epoch seen, 0 before any upload */
  int64_t acked_through;  /* of that epoch */
  int64_t held;           /* records stored above the gap */
  int64_t dead_letters;   /* of every epoch */
} tg__hq_terminal;

/* One stored record as reports read it; the strings live until the callback returns. */
typedef struct {
  const char *store, *terminal, *kind;
  int64_t epoch, seq, time_ms, total;
  const char *body; /* the record's exact JSON bytes, len of them, not NUL-terminated */
  size_t len;
} tg__hq_stored;

#define TG__HQ_TOKEN_MAX 241 /* a coupon token's Base45 text and its NUL */

/*
 * One settlement coupon HQ issued (hq_reconcile.c): the rule and the source
 * record it settles (UNIQUE together, so a rerun issues nothing twice), the
 * member it is for and the coupon. state is "pending-bundle" until a bundle
 * carries it, then "published" with that bundle's version.
 */
typedef struct {
  char rule[24];                   /* "referral_rebate", "group_buy_refund" */
  char store[TG__SYNC_ID_MAX + 1]; /* the source record's terminal */
  char terminal[TG__SYNC_ID_MAX + 1];
  int64_t epoch, seq;
  uint32_t campaign;               /* the campaign settled; also the coupon's campaign */
  int64_t member;                  /* who receives the coupon */
  int64_t amount;                  /* minor units off */
  int64_t coupon;                  /* the coupon id */
  char token[TG__HQ_TOKEN_MAX];    /* Base45 */
  int64_t made_ms;
  char state[16];                  /* "pending-bundle" or "published" */
  int64_t bundle_version;          /* 0 while pending */
} tg__hq_settlement;

/* One back end: each function returns a tg__hq_rc and writes a reason into why. */
typedef struct {
  const char *name; /* "sqlite", "postgresql" */
  /* Opens (creating the schema and HQ's signing key on first use) what spec names. */
  int (*open)(const char *spec, tg__hq_db **out, char *why, size_t cap);
  void (*close)(tg__hq_db *db);
  /* Answers a cheap query; TG__HQ_DB when the database does not. */
  int (*health)(tg__hq_db *db, char *why, size_t cap);
  /* HQ's Ed25519 key pair, made on first open and kept in the database. */
  int (*signing_key)(tg__hq_db *db, unsigned char pk[32], unsigned char sk[64], char *why,
                     size_t cap);
  /* Adds or re-enrols (replacing its hashes, enabling it) a terminal. */
  int (*enrol)(tg__hq_db *db, const char *store, const char *terminal,
               const unsigned char auth_hash[32], const unsigned char invite_key[32], char *why,
               size_t cap);
  /* Enables or disables a terminal; TG__HQ_NOTFOUND when it was never enrolled. */
  int (*set_enabled)(tg__hq_db *db, const char *store, const char *terminal, int enabled,
                     char *why, size_t cap);
  /* The stored auth hash and whether enabled; TG__HQ_NOTFOUND when unknown. */
  int (*auth_get)(tg__hq_db *db, const char *store, const char *terminal,
                  unsigned char auth_hash[32], int *enabled, char *why, size_t cap);
  /*
   * Stores an upload in one transaction: the Idempotency-Key with the body's
   * digest (the same key with another digest is TG__HQ_REUSED and stores
   * nothing), accepted records into record (a seq already held with the same
   * bytes is a no-op; with other bytes it is rejected "conflict"), rejected
   * ones into dead_letter, then the terminal's high-water mark walked up
   * over every contiguous seq held. Fills *ack after the commit.
   */
  int (*ingest)(tg__hq_db *db, const tg__hq_batch *b, int64_t now_ms, tg__hq_ack *ack,
                char *why, size_t cap);
  /* The next bundle version (one more than any published). */
  int (*bundle_next)(tg__hq_db *db, int64_t *version, char *why, size_t cap);
  /* Stores a signed bundle for store (or "*"); TG__HQ_REUSED when the version exists. */
  int (*bundle_put)(tg__hq_db *db, int64_t version, const char *store, const char *body,
                    size_t n, const char *sig, char *why, size_t cap);
  /*
   * The newest bundle for store: its own or the all-stores one, whichever is
   * newer. *body malloc'd (free()). TG__HQ_NOTFOUND when none.
   */
  int (*bundle_get)(tg__hq_db *db, const char *store, int64_t *version, char **body, size_t *n,
                    char sig[TG__BUNDLE_SIG_TEXT], char *why, size_t cap);
  /* Calls fn for each enrolled terminal, ordered by store and terminal. */
  int (*terminals)(tg__hq_db *db, void (*fn)(void *ctx, const tg__hq_terminal *t), void *ctx,
                   char *why, size_t cap);
  /*
   * Calls fn for each stored record (not the dead letters) with
   * from_ms <= time_ms < to_ms, ordered by time, streaming: memory does not
   * grow with the number of records.
   */
  int (*records)(tg__hq_db *db, int64_t from_ms, int64_t to_ms,
                 void (*fn)(void *ctx, const tg__hq_stored *r), void *ctx, char *why, size_t cap);
  /*
   * Stores s (state pending-bundle) unless a settlement of the same rule,
   * source record and campaign exists: then *added is 0 and s is
   * overwritten with the stored one (its coupon, token, state, version).
   */
  int (*settle_add)(tg__hq_db *db, tg__hq_settlement *s, int *added, char *why, size_t cap);
  /*
   * Calls fn for at most max pending settlements whose source store is
   * store (every store for "*"), oldest first.
   */
  int (*settle_pending)(tg__hq_db *db, const char *store, int max,
                        void (*fn)(void *ctx, const tg__hq_settlement *s), void *ctx, char *why,
                        size_t cap);
  /*
   * bundle_put, and marking the pending settlements of coupons[0..n_coupons)
   * published in that version, in one transaction: both or neither.
   */
  int (*bundle_put_settled)(tg__hq_db *db, int64_t version, const char *store, const char *body,
                            size_t n, const char *sig, const int64_t *coupons, int n_coupons,
                            char *why, size_t cap);
} tg__hq_backend;

extern const tg__hq_backend tg__hq_sqlite;   /* hq_sqlite.c: "sqlite:PATH" */
extern const tg__hq_backend tg__hq_postgres; /* hq_pg.c: "postgresql://..." or "postgres://..." */

/* The back end a --db spec names, or NULL (why says the accepted forms). */
const tg__hq_backend *tg__hq_backend_for(const char *spec, char *why, size_t cap);
/* Frees what ingest filled. Accepts a zeroed ack. */
void tg__hq_ack_free(tg__hq_ack *ack);

/* ----- Shared by the back ends (hq_backend.c) ----------------------------- */

#define TG__HQ_RUNS_MAX (TG__SYNC_MISSING_MAX + 1) /* runs held above a mark that fill an ack */

/*
 * Given the runs [a, b] of seqs held above the mark base, ascending (at most
 * TG__HQ_RUNS_MAX), returns the new mark (over the first run when it starts
 * at base + 1) and appends the gaps below the other runs to ack->missing.
 */
int64_t tg__hq_mark_walk(int64_t base, int64_t runs[][2], int n, tg__hq_ack *ack);
/* Fills one rejected entry, cutting status and reason to fit. */
void tg__hq_rejected_set(tg__sync_rejected *r, int64_t seq, const char *status,
                         const char *reason);
/* The wall clock, UTC milliseconds: when HQ received or published something. */
int64_t tg__hq_now_ms(void);

/* ----- Reports (hq_report.c builds; hq_report_html.c, hq_report_csv.c render) */

#define TG__HQ_REPORT_DAYS_MAX 366 /* the longest period one report covers */

/* One row of a report table: a key of up to three parts and its figures. */
typedef struct {
  char key[3][48];
  char currency[4]; /* of the money figures; "" when the row has none */
  int64_t v[3];
} tg__hq_report_row;

/* Rows found by key through a hash index; sorted by key once the report is built. */
typedef struct {
  tg__hq_report_row *rows;
  int n, cap;
  int *slots; /* row index + 1, 0 empty; cap * 2 of them */
} tg__hq_report_table;

typedef struct {
  char from[11], to[11], tz[64]; /* the period: store-local days, inclusive */
  int64_t from_ms, to_ms, made_ms;
  int64_t records, unreadable; /* records read; those whose JSON could not be read */
  tg__hq_report_table days;    /* store, day: sales, refunds, net minor units (sales - refunds) */
  tg__hq_report_table invites; /* store, guide ("" none): invites printed, joined */
  tg__hq_report_table coupons; /* campaign: coupons issued, redeemed */
  /* repurchase: customers known by member id, those with 2+ sales in the period */
  int64_t members, members_repeat;
  /* anonymous buyers, followed by the coupon their sale issued: issued, redeemed in the period */
  int64_t anon_issued, anon_redeemed;
  tg__hq_terminal *terminals; /* sync health, ordered by store and terminal */
  int n_terminals;
} tg__hq_report;

/*
 * Reads every record of the store-local days from..to (YYYY-MM-DD, at most
 * TG__HQ_REPORT_DAYS_MAX days) in time zone tz (an IANA name such as
 * Asia/Shanghai) and the terminals' sync state from db, and fills *out.
 * Money is summed per store in the store's currency; nothing is converted.
 * Returns TG__HQ_OK, TG__HQ_BAD for a bad period or zone (why says which),
 * or the back end's error. Free with tg__hq_report_free().
 */
int tg__hq_report_build(const tg__hq_backend *be, tg__hq_db *db, const char *from,
                        const char *to, const char *tz, tg__hq_report *out, char *why,
                        size_t cap);
void tg__hq_report_free(tg__hq_report *r);
/* Writes r as one self-contained HTML page (inline CSS and SVG charts, no scripts). 0 or -1. */
int tg__hq_report_html(const tg__hq_report *r, FILE *f);
/* Writes r's figures as CSV: section,key1,key2,key3,metric,value. 0 or -1. */
int tg__hq_report_csv(const tg__hq_report *r, FILE *f);

/* ----- HQ's coupons (hq_coupon.c) ---------------------------------------- */

/* The key id of coupons HQ signs: below 0x8000, where terminals' own coupon keys never are. */
#define TG__HQ_COUPON_KEY_ID 0x4851 /* "HQ" */

/*
 * HQ's coupon key pair, derived from HQ's signing key (hq_sk, as
 * signing_key returns it), so it needs no storage and survives nothing HQ's
 * key does not. Every bundle HQ publishes lists pk as role "coupon", id
 * TG__HQ_COUPON_KEY_ID, so terminals prove HQ's coupons offline.
 */
void tg__hq_coupon_key(const unsigned char hq_sk[64], unsigned char pk[32], unsigned char sk[64]);
/* A coupon HQ issues, as printed into its token (docs/tokens.md). */
typedef struct {
  uint64_t id;           /* 0: tg__hq_coupon_make picks a random one (53 bits, never 0) */
  uint32_t campaign;
  int kind;              /* 1 amount off in minor units, 2 percent off in basis points */
  uint32_t value, min_spend;
  int64_t from_ms, until_ms; /* UTC, kept to the minute */
  char store[TG__SYNC_ID_MAX + 1]; /* the only store it is good at, "" every store */
  int single_use;
} tg__hq_coupon;
/*
 * Signs c with HQ's coupon key (setting c->id when it was 0) and writes the
 * Base45 token into out[0..cap) (241 bytes are enough). Returns its length,
 * or -1 when it does not fit or c's fields are out of range.
 */
int tg__hq_coupon_make(const unsigned char hq_sk[64], tg__hq_coupon *c, char *out, size_t cap);

/* ----- Reconciliation and settlements (hq_reconcile.c, hq_settle_bundle.c) -- */

typedef struct {
  char kind[24];        /* "coupon_reused", "flash_over_quota", "referral_rebate", "group_buy_refund", ... */
  int needs_operator;   /* 1: an operator must look; 0: settled automatically */
  char store[13], terminal[13]; /* where ("" when chain-wide) */
  char what[256];       /* one line an operator reads: who, where, how much, which coupon */
} tg__hq_finding;
/* Reads the records with from_ms <= time_ms < to_ms (and whatever earlier records a rule needs), reports each finding through fn, and issues settlement coupons (idempotently: a rerun over the same period issues nothing new). */
int tg__hq_reconcile(const tg__hq_backend *be, tg__hq_db *db, int64_t from_ms, int64_t to_ms, int64_t now_ms, void (*fn)(void *ctx, const tg__hq_finding *f), void *ctx, char *why, size_t cap);

#define TG__HQ_BUNDLE_COUPONS 10000 /* settlement coupons one bundle carries at most */
struct json_t;
/*
 * Adds up to TG__HQ_BUNDLE_COUPONS pending settlement coupons of store (all
 * stores for "*") to bundle (a jansson object) as
 * "coupons":[{"member":ID,"token":"..."}], keeping coupons already there.
 * Fills ids[0..*n) with their coupon ids (ids holds TG__HQ_BUNDLE_COUPONS)
 * for be->bundle_put_settled(). TG__HQ_OK or an error.
 */
int tg__hq_settle_embed(const tg__hq_backend *be, tg__hq_db *db, const char *store,
                        struct json_t *bundle, int64_t *ids, int *n, char *why, size_t cap);
/*
 * The UTC milliseconds of the store-local days from..to (YYYY-MM-DD,
 * inclusive, at most TG__HQ_REPORT_DAYS_MAX days) in zone tz: [*from_ms, *to_ms).
 * TG__HQ_OK or TG__HQ_BAD with why.
 */
int tg__hq_days_ms(const char *from, const char *to, const char *tz, int64_t *from_ms,
                   int64_t *to_ms, char *why, size_t cap);

/* ----- Command-line plumbing shared by the commands (hq_cli.c) ------------ */

/* tillgroup-hq's exit codes; a command that finds work for an operator adds its own above 3. */
enum {
  TG__HQ_EXIT_DONE = 0,
  TG__HQ_EXIT_REFUSED = 1, /* refused, nothing changed */
  TG__HQ_EXIT_USAGE = 2,
  TG__HQ_EXIT_STORAGE = 3, /* cannot open or write the database */
};

struct option;
/* Prints text on stdout; returns TG__HQ_EXIT_DONE. */
int tg__hq_help(const char *text);
/* Prints "tillgroup-hq CMD: <message> (see ...--help)" on stderr; returns TG__HQ_EXIT_USAGE. */
int tg__hq_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints why for a failed tg__hq_rc on stderr and returns the exit code it means. */
int tg__hq_refused(const char *cmd, int rc, const char *why);
/* Opens the database spec names: 0, or the exit code after saying why. Close with (*be)->close. */
int tg__hq_open_db(const char *cmd, const char *spec, const tg__hq_backend **be, tg__hq_db **db);
/* 1 when z is a store or terminal id: 1-12 of A-Z 0-9. */
int tg__hq_valid_id(const char *z);
/* A decimal number 0..max, or -1. */
int64_t tg__hq_parse_int(const char *z, int64_t max);
/* Called for each of a command's own options; returns -1 to go on, or an exit code. */
typedef int (*tg__hq_opt_fn)(void *ctx, int o, const char *arg);
/*
 * Reads the options every command shares (--db, --help) plus those in extra
 * (at most 9, NULL-terminated), calling on_opt for the latter. Returns -1 to
 * go on (optind at the first argument), or the exit code.
 */
int tg__hq_read_options(int argc, char **argv, const char *cmd, const char *help_text,
                        const struct option *extra, const char **db, tg__hq_opt_fn on_opt,
                        void *ctx);
/*
 * Reads all of path (at most max bytes) into a malloc'd NUL-terminated buffer
 * (the caller frees it) of *n bytes; NULL with why when it cannot.
 */
char *tg__hq_read_file(const char *path, size_t max, size_t *n, char *why, size_t cap);

/* tillgroup-hq reconcile (hq_cmd_reconcile.c): exit 0, or 4 when a finding needs an operator. */
int tg__hq_cmd_reconcile(int argc, char **argv, const char *db);

/* ----- The HTTP service (hq_http.c) --------------------------------------- */

typedef struct {
  const char *db_spec;
  const char *listen;    /* "127.0.0.1:PORT"; PORT 0 picks a free one */
  const char *tls_cert;  /* both or neither: PEM files */
  const char *tls_key;
  int threads;           /* 0: 2 */
} tg__hq_serve_config;

/*
 * Serves until SIGINT or SIGTERM. Prints "listening on HOST:PORT" (the port
 * really bound) on stdout once ready, then logs one line per request on
 * stderr (never a credential). Returns 0 after a clean stop, else 1 with the
 * reason on stderr.
 */
int tg__hq_serve(const tg__hq_serve_config *cfg);

#endif
