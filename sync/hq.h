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
  TG__HQ_GONE = -8,      /* 410: an invite whose joins are used up */
  TG__HQ_FULL = -9,      /* 503: no enabled group of the store has room */
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

/* ----- Groups and joins (schema step 2; docs/join.md) --------------------- */

#define TG__HQ_GROUP_NAME_MAX 64     /* bytes of UTF-8 */
#define TG__HQ_GROUP_LINK_MAX 512    /* an https join link */
#define TG__HQ_GROUP_QR_MAX (256 * 1024) /* a group's QR image, PNG */
#define TG__HQ_GROUP_CAPACITY_MAX 100000
#define TG__HQ_CLIENT_MAX 32         /* the join cookie's value: 32 hex digits */

/* A chat group customers join from the join page. */
typedef struct {
  int64_t id;                       /* given by group_add */
  char store[TG__SYNC_ID_MAX + 1];
  char name[TG__HQ_GROUP_NAME_MAX + 1];
  char platform[12];                /* wecom, wechat, whatsapp, telegram, line, url */
  char link[TG__HQ_GROUP_LINK_MAX + 1]; /* "" none */
  const unsigned char *qr;          /* PNG bytes or NULL; owner as the call says */
  size_t n_qr;
  int64_t capacity, joined;
  int64_t expires_ms;               /* the group QR's expiry, UTC; 0 never */
  int64_t created_ms;
  int enabled;
} tg__hq_group;

/* One join as the join page asks to record it. */
typedef struct {
  char store[TG__SYNC_ID_MAX + 1], terminal[TG__SYNC_ID_MAX + 1];
  int64_t receipt_no, issued_ms;    /* with store and terminal: which invite */
  char staff[17];                   /* the guide or cashier on the invite */
  char client[TG__HQ_CLIENT_MAX + 1]; /* the browser's join cookie */
  int limit;                        /* joins one invite gives at most */
  int64_t now_ms;
  const char *coupon;               /* the welcome coupon token to keep with a new join, or "" */
  uint64_t coupon_id;
  uint32_t coupon_campaign;         /* its welcome campaign; 0 with no coupon */
} tg__hq_join_in;

/* What a join recorded, or the earlier join of the same invite and client. */
typedef struct {
  int again;                        /* 1: the same client joined at this store before */
  int slot;                         /* 1..limit: which of the invite's joins */
  int64_t id, joined_ms;
  tg__hq_group group;               /* group.qr malloc'd (free()), or NULL */
  char coupon[256];                 /* "" none */
  uint64_t coupon_id;
} tg__hq_join_out;

/* One recorded join as reports read it. */
typedef struct {
  const char *store, *terminal, *staff;
  int64_t receipt_no, group_id, time_ms;
  uint64_t coupon_id;      /* 0: no coupon */
  uint32_t coupon_campaign;
} tg__hq_join_row;

#define TG__HQ_GROUP_EXPIRY_WARN_MS (2 * 86400000LL) /* a group QR expiring this soon is warned */

/* 1 when z is one of wecom, wechat, whatsapp, telegram, line, url (hq_group.c). */
int tg__hq_group_platform_ok(const char *z);
/* A group's capacity when none is given: 200 for wecom (scan-to-join stops there), else 500. */
int64_t tg__hq_group_default_capacity(const char *platform);
/* 1 when z is a join link HQ may send customers to: https://HOST..., at most
 * TG__HQ_GROUP_LINK_MAX bytes, no space, control character, quote or angle bracket; else 0 with why. */
int tg__hq_group_link_ok(const char *z, char *why, size_t cap);
/* 1 when p[0..n) is a PNG (its signature) of at most TG__HQ_GROUP_QR_MAX bytes; else 0 with why. */
int tg__hq_group_qr_ok(const unsigned char *p, size_t n, char *why, size_t cap);
/*
 * The warnings for store among groups g[0..n) at now_ms: every active
 * (enabled, QR not expired) group at least 90% full, no active group, or a
 * group QR expiring within TG__HQ_GROUP_EXPIRY_WARN_MS. Writes them as one
 * line into out (cut to cap) and returns how many; 0 means none.
 */
int tg__hq_group_warnings(const tg__hq_group *g, int n, const char *store, int64_t now_ms,
                          char *out, size_t cap);

#define TG__HQ_PULL_URL_MAX 256 /* bytes of a terminal's pull URL */

/* What HQ keeps to check a terminal's invites and reach it for the nightly pull. */
typedef struct {
  char url[TG__HQ_PULL_URL_MAX + 1]; /* "" when none is set */
  unsigned char invite_key[32];      /* proves its invites; keys the MAC on its pull answers */
  int enabled;
} tg__hq_terminal_ref;

/* One terminal's result of one nightly run (table nightly, one per terminal and date). */
typedef struct {
  char store[TG__SYNC_ID_MAX + 1];
  char terminal[TG__SYNC_ID_MAX + 1];
  char date[11];          /* YYYY-MM-DD, the run's label */
  int64_t run_ms;         /* when it ran */
  int reachable, needs_operator;
  int64_t epoch, max_seq; /* the terminal's manifest; 0 when unreachable */
  int64_t count_before, count_after, fetched;
  char flags[TG__HQ_WHY_MAX]; /* "" all well, else the flags, comma-separated, and why */
} tg__hq_nightly_row;
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
  /* The version bundle_get would answer for store, reading nothing else; TG__HQ_NOTFOUND. */
  int (*bundle_version)(tg__hq_db *db, const char *store, int64_t *version, char *why,
                        size_t cap);
  /* Adds a group (g->qr copied), enabled, none joined; sets *id. */
  int (*group_add)(tg__hq_db *db, const tg__hq_group *g, int64_t *id, char *why, size_t cap);
  /* Disables group id (it takes no more joins); TG__HQ_NOTFOUND when there is none. */
  int (*group_disable)(tg__hq_db *db, int64_t id, char *why, size_t cap);
  /*
   * Calls fn for each group of store (NULL: every store) ordered by store and
   * id, with qr NULL but n_qr its size.
   */
  int (*groups)(tg__hq_db *db, const char *store, void (*fn)(void *ctx, const tg__hq_group *g),
                void *ctx, char *why, size_t cap);
  /*
   * Records one join in one transaction, concurrent-safe: when in->client
   * joined at in->store before (with any invite), answers its first join
   * (again = 1, nothing recorded); else TG__HQ_GONE when the invite has in->limit joins; else
   * takes a seat in the store's first enabled group (by id) with room whose
   * QR has not expired (TG__HQ_FULL when none) and records the join with
   * in->coupon. A group never holds more joins than its capacity; an invite
   * never more than limit (UNIQUE(invite, slot)). Free out with tg__hq_join_out_free().
   */
  int (*join)(tg__hq_db *db, const tg__hq_join_in *in, tg__hq_join_out *out, char *why,
              size_t cap);
  /* Calls fn for each join with from_ms <= time < to_ms, ordered by time. */
  int (*joins)(tg__hq_db *db, int64_t from_ms, int64_t to_ms,
               void (*fn)(void *ctx, const tg__hq_join_row *j), void *ctx, char *why, size_t cap);
  /* ----- nightly pull (schema step 3) ----- */
  /* A terminal's pull URL, invite key and whether enabled; TG__HQ_NOTFOUND when unknown. */
  int (*terminal_get)(tg__hq_db *db, const char *store, const char *terminal,
                      tg__hq_terminal_ref *out, char *why, size_t cap);
  /* Sets (url, already checked by tg__hq_pull_url_check) or clears (NULL) the pull URL. */
  int (*pull_url_set)(tg__hq_db *db, const char *store, const char *terminal, const char *url,
                      char *why, size_t cap);
  /*
   * Calls fn for each seq from..to of the terminal's epoch that HQ holds,
   * stored or dead-lettered (the stored body when both), in seq order, with
   * its exact bytes; streaming: memory does not grow with the number of records.
   */
  int (*held)(tg__hq_db *db, const char *store, const char *terminal, int64_t epoch, int64_t from,
              int64_t to, void (*fn)(void *ctx, int64_t seq, const char *body, size_t n),
              void *ctx, char *why, size_t cap);
  /* Stores (replacing the one of the same terminal and date) one nightly result. */
  int (*nightly_put)(tg__hq_db *db, const tg__hq_nightly_row *row, char *why, size_t cap);
  /* Calls fn with each terminal's latest nightly result, ordered by store and terminal. */
  int (*nightly_last)(tg__hq_db *db, void (*fn)(void *ctx, const tg__hq_nightly_row *row),
                      void *ctx, char *why, size_t cap);
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

/* Frees what join filled. Accepts a zeroed out. */
void tg__hq_join_out_free(tg__hq_join_out *out);

/* ----- Back ends split over files (hq_sqlite*.c, hq_pg*.c) ---------------- */

struct sqlite3;
struct sqlite3_stmt;
struct pg_result;

/* The SQLite connection of h (hq_sqlite.c), for the back end's other files. */
struct sqlite3 *tg__hq_sqlite_conn(tg__hq_db *h);
/*
 * Writes "<what>: <SQLite's message>" (db's, or rc's when db is NULL) into
 * why and returns the matching tg__hq_rc: TG__HQ_NOMEM or TG__HQ_DB.
 */
int tg__hq_sqlite_fail(struct sqlite3 *db, int rc, const char *what, char *why, size_t cap);
/* Copies column col of st's row into out (cap bytes, cut to fit; "" for NULL). */
void tg__hq_sqlite_text_at(struct sqlite3_stmt *st, int col, char *out, size_t cap);
/*
 * Steps st, an UPDATE of one terminal whose ?1 and ?2 it binds to store and
 * terminal (the caller bound the rest), and resets it. TG__HQ_NOTFOUND
 * with why when no such terminal is enrolled.
 */
int tg__hq_sqlite_terminal_set(tg__hq_db *h, struct sqlite3_stmt *st, const char *store,
                               const char *terminal, char *why, size_t cap);

/* PostgreSQL (hq_pg.c): TG__HQ_PG_INT bytes hold any int64 as decimal text and its NUL. */
#define TG__HQ_PG_INT 24
/* Formats v as a decimal text parameter into buf (TG__HQ_PG_INT bytes) and returns buf. */
const char *tg__hq_pg_i64(char *buf, int64_t v);
/* Column col of row as an int64 (the column holds decimal text). */
int64_t tg__hq_pg_int_at(const struct pg_result *res, int row, int col);
/*
 * Reconnects h's connection if it broke (PostgreSQL restarted) and ends a
 * transaction left open: call first in every operation, never inside its
 * transaction. TG__HQ_OK or TG__HQ_DB with why.
 */
int tg__hq_pg_ready(tg__hq_db *h, char *why, size_t cap);
/*
 * Checks res; on failure writes "<what>: <PostgreSQL's reason>" into why,
 * clears res and returns TG__HQ_DB (TG__HQ_NOMEM when libpq ran out). On
 * success res stays the caller's to PQclear.
 */
int tg__hq_pg_check(tg__hq_db *h, struct pg_result *res, const char *what, char *why, size_t cap);
/* Runs sql (no parameters: BEGIN, COMMIT) and checks it. */
int tg__hq_pg_exec(tg__hq_db *h, const char *sql, const char *what, char *why, size_t cap);
/* Ends a failed transaction, keeping the reason already in why. */
void tg__hq_pg_rollback(tg__hq_db *h);
/*
 * Runs sql with n text parameters v[0..n), results in text, and checks it.
 * On success *keep holds the result (the caller PQclears it), or it is
 * cleared when keep is NULL; on failure nothing is kept and why says why.
 */
int tg__hq_pg_run(tg__hq_db *h, const char *sql, int n, const char *const *v, const char *what,
                  struct pg_result **keep, char *why, size_t cap);
/*
 * tg__hq_pg_run with binary parameters where fmt[i] is 1 (len[i] bytes;
 * len and fmt NULL when all are text) and results in binary (a text
 * column's bytes as stored). *unique (when not NULL) is set to 1 when the
 * failure was a unique violation, else 0.
 */
int tg__hq_pg_run_binary(tg__hq_db *h, const char *sql, int n, const char *const *v, const int *len,
                         const int *fmt, const char *what, struct pg_result **keep, int *unique,
                         char *why, size_t cap);
/*
 * Runs sql with n text parameters and calls row(ctx, res) for each row, res
 * holding that one row at index 0 (libpq's single-row mode: memory does not
 * grow with the rows). Calls tg__hq_pg_ready itself.
 */
int tg__hq_pg_stream(tg__hq_db *h, const char *sql, int n, const char *const *v, const char *what,
                     void (*row)(void *ctx, const struct pg_result *res), void *ctx, char *why,
                     size_t cap);
/*
 * Runs sql, an UPDATE of one terminal whose parameters v[0..n) start with
 * store and terminal. TG__HQ_NOTFOUND with why when no such terminal is
 * enrolled. Calls tg__hq_pg_ready itself.
 */
int tg__hq_pg_terminal_set(tg__hq_db *h, const char *sql, int n, const char *const *v, char *why,
                           size_t cap);
/* Makes this session's staging table tg_staging unless made; call outside a transaction. */
int tg__hq_pg_staging(tg__hq_db *h, char *why, size_t cap);
/* Sends rows[0..n), COPY text rows, into tg_staging inside the caller's transaction. */
int tg__hq_pg_copy_in(tg__hq_db *h, const char *rows, size_t n, char *why, size_t cap);
/* Inserts a bundle inside the transaction the caller opened; TG__HQ_REUSED when its version is
 * taken. */
int tg__hq_pg_bundle_insert(tg__hq_db *h, int64_t version, const char *store, const char *body,
                            size_t n, const char *sig, char *why, size_t cap);

/*
 * The operations of the backend table that live in their own files, per
 * back end: groups and joins (hq_sqlite_join.c, hq_pg_join.c), the
 * nightly pull (hq_sqlite_nightly.c, hq_pg_nightly.c), settlements
 * (hq_sqlite_settle.c, hq_pg_settle.c) and PostgreSQL's COPY-staged
 * uploads (hq_pg_ingest.c; SQLite's stay with its statement cache). Each is
 * the tg__hq_backend member of its name.
 */
int tg__hq_sqlite_group_add(tg__hq_db *db, const tg__hq_group *g, int64_t *id, char *why,
                            size_t cap);
int tg__hq_sqlite_group_disable(tg__hq_db *db, int64_t id, char *why, size_t cap);
int tg__hq_sqlite_groups(tg__hq_db *db, const char *store,
                         void (*fn)(void *ctx, const tg__hq_group *g), void *ctx, char *why,
                         size_t cap);
int tg__hq_sqlite_join(tg__hq_db *db, const tg__hq_join_in *in, tg__hq_join_out *out, char *why,
                       size_t cap);
int tg__hq_sqlite_joins(tg__hq_db *db, int64_t from_ms, int64_t to_ms,
                        void (*fn)(void *ctx, const tg__hq_join_row *j), void *ctx, char *why,
                        size_t cap);
int tg__hq_sqlite_terminal_get(tg__hq_db *db, const char *store, const char *terminal,
                               tg__hq_terminal_ref *out, char *why, size_t cap);
int tg__hq_sqlite_pull_url_set(tg__hq_db *db, const char *store, const char *terminal,
                               const char *url, char *why, size_t cap);
int tg__hq_sqlite_held(tg__hq_db *db, const char *store, const char *terminal, int64_t epoch,
                       int64_t from, int64_t to,
                       void (*fn)(void *ctx, int64_t seq, const char *body, size_t n), void *ctx,
                       char *why, size_t cap);
int tg__hq_sqlite_nightly_put(tg__hq_db *db, const tg__hq_nightly_row *r, char *why, size_t cap);
int tg__hq_sqlite_nightly_last(tg__hq_db *db, void (*fn)(void *ctx, const tg__hq_nightly_row *row),
                               void *ctx, char *why, size_t cap);
int tg__hq_sqlite_settle_add(tg__hq_db *db, tg__hq_settlement *s, int *added, char *why,
                             size_t cap);
int tg__hq_sqlite_settle_pending(tg__hq_db *db, const char *store, int max,
                                 void (*fn)(void *ctx, const tg__hq_settlement *s), void *ctx,
                                 char *why, size_t cap);
int tg__hq_sqlite_bundle_put_settled(tg__hq_db *db, int64_t version, const char *store,
                                     const char *body, size_t n, const char *sig,
                                     const int64_t *coupons, int n_coupons, char *why, size_t cap);
int tg__hq_pg_ingest(tg__hq_db *db, const tg__hq_batch *b, int64_t now_ms, tg__hq_ack *ack,
                     char *why, size_t cap);
int tg__hq_pg_group_add(tg__hq_db *db, const tg__hq_group *g, int64_t *id, char *why, size_t cap);
int tg__hq_pg_group_disable(tg__hq_db *db, int64_t id, char *why, size_t cap);
int tg__hq_pg_groups(tg__hq_db *db, const char *store, void (*fn)(void *ctx, const tg__hq_group *g),
                     void *ctx, char *why, size_t cap);
int tg__hq_pg_join(tg__hq_db *db, const tg__hq_join_in *in, tg__hq_join_out *out, char *why,
                   size_t cap);
int tg__hq_pg_joins(tg__hq_db *db, int64_t from_ms, int64_t to_ms,
                    void (*fn)(void *ctx, const tg__hq_join_row *j), void *ctx, char *why,
                    size_t cap);
int tg__hq_pg_terminal_get(tg__hq_db *db, const char *store, const char *terminal,
                           tg__hq_terminal_ref *out, char *why, size_t cap);
int tg__hq_pg_pull_url_set(tg__hq_db *db, const char *store, const char *terminal, const char *url,
                           char *why, size_t cap);
int tg__hq_pg_held(tg__hq_db *db, const char *store, const char *terminal, int64_t epoch,
                   int64_t from, int64_t to,
                   void (*fn)(void *ctx, int64_t seq, const char *body, size_t n), void *ctx,
                   char *why, size_t cap);
int tg__hq_pg_nightly_put(tg__hq_db *db, const tg__hq_nightly_row *r, char *why, size_t cap);
int tg__hq_pg_nightly_last(tg__hq_db *db, void (*fn)(void *ctx, const tg__hq_nightly_row *row),
                           void *ctx, char *why, size_t cap);
int tg__hq_pg_settle_add(tg__hq_db *db, tg__hq_settlement *s, int *added, char *why, size_t cap);
int tg__hq_pg_settle_pending(tg__hq_db *db, const char *store, int max,
                             void (*fn)(void *ctx, const tg__hq_settlement *s), void *ctx,
                             char *why, size_t cap);
int tg__hq_pg_bundle_put_settled(tg__hq_db *db, int64_t version, const char *store,
                                 const char *body, size_t n, const char *sig,
                                 const int64_t *coupons, int n_coupons, char *why, size_t cap);

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

/* ----- HTML pages' shared pieces (hq_html.c) ------------------------------ */

/* Writes z (NUL-terminated UTF-8) to f with < > & " ' as HTML entities, safe in text and in
 * quoted attributes. */
void tg__hq_html_esc(FILE *f, const char *z);
/* Writes an operator page's start to f, up to and including "<body>\n": English, mobile
 * viewport, title (escaped here), and the shared inline CSS (body at most max_width_px wide,
 * headings, right-aligned bordered tables) followed by css (the page's own rules, written as
 * is). */
void tg__hq_html_head(FILE *f, const char *title, int max_width_px, const char *css);
#define TG__HQ_HTML_TIME_MAX 32
/* When a page was made, for its reader: ms (Unix time) as "YYYY-MM-DD HH:MM UTC" in out, or
 * "" when it cannot be shown. */
void tg__hq_html_time(int64_t ms, char out[TG__HQ_HTML_TIME_MAX]);

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
  /* store, guide ("" none): invites printed in the period, joins recorded in it (the
   * guide or cashier the invite carries, its first 16 bytes, matched to the guide) */
  tg__hq_report_table invites;
  tg__hq_report_table coupons; /* campaign: coupons issued, redeemed */
  /* repurchase: customers known by member id, those with 2+ sales in the period */
  int64_t members, members_repeat;
  /* anonymous buyers, followed by the coupon their sale issued: issued, redeemed in the period */
  int64_t anon_issued, anon_redeemed;
  tg__hq_terminal *terminals; /* sync health, ordered by store and terminal */
  int n_terminals;
  tg__hq_group *groups;        /* every group as it is now (qr NULL), by store and id */
  int64_t *group_joins;        /* per group: joins recorded in the period */
  int n_groups;
  tg__hq_nightly_row *nightly; /* each terminal's last nightly pull, same order; not all have one */
  int n_nightly;
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

/* ----- The join page (hq_join.c decides, hq_join_page.c renders; docs/join.md) */

#define TG__HQ_JOIN_LIMIT 3       /* joins one invite gives: a family at one receipt */
#define TG__HQ_JOIN_COOKIE "tg_join" /* the cookie that tells a reload from another phone */
#define TG__HQ_JOIN_COOKIE_DAYS 400   /* how long a browser keeps it */
#define TG__HQ_JOIN_PATH_MAX 720  /* bytes after /J/ read: a 240-character token, all escaped */
enum { TG__HQ_LANG_EN = 0, TG__HQ_LANG_ZH = 1 };

/*
 * Percent-decodes z[0..n) into out[0..cap) (NUL-terminated) and returns the
 * length; -1 for a dangling or non-hex escape, a control or non-ASCII byte
 * (decoded or not), or when it does not fit. Safe on any input.
 */
int tg__hq_percent_decode(const char *z, size_t n, char *out, size_t cap);
/*
 * The page's language for an Accept-Language header (NULL: none): the entry
 * of highest q-value (the first of equals) decides, Chinese for zh, zh-* and
 * *, English for any other; no header or nothing acceptable gives Chinese.
 * Reads at most 1024 bytes and 32 entries.
 */
int tg__hq_join_lang(const char *accept_language);
/* Reads an invite token's store and terminal without proving it (to find its key): 0 or -1. */
int tg__hq_invite_peek(const char *token, size_t n, char store[TG__SYNC_ID_MAX + 1],
                       char terminal[TG__SYNC_ID_MAX + 1]);
/* 1 when z is a join cookie value HQ gives: 32 lowercase hex digits. */
int tg__hq_join_client_ok(const char *z);

/* What the join page answers. */
typedef struct {
  unsigned status;   /* 200 joined; else 400, 403, 404, 410, 503 (docs/join.md) */
  const char *problem; /* NULL when joined; else malformed, forged, unknown, expired, used, full, unavailable */
  tg__hq_join_out join; /* status 200 */
  char client[TG__HQ_CLIENT_MAX + 1]; /* the join cookie: the request's, or a new one */
  int new_client;
  char warning[TG__HQ_WHY_MAX]; /* operators' warnings for the store after this join; "" none */
  /* the coupon's terms as its token carries them (join.coupon proven with HQ's coupon key) */
  int coupon_kind;              /* 0 none, 1 amount off, 2 percent off in basis points */
  int64_t coupon_value, coupon_min_spend, coupon_until_ms;
  char why[TG__HQ_WHY_MAX];     /* for the log: never a secret */
} tg__hq_join_result;

/*
 * Decides GET /J/<path_token>: percent-decodes it, proves the invite with its
 * terminal's invite key, judges its time, issues the welcome coupon of the
 * newest bundle of its store (if any) and records the join through be->join
 * with cookie (NULL or invalid: a new client id). A refusal records nothing.
 * Returns r->status. Free r with tg__hq_join_result_free().
 */
unsigned tg__hq_join_decide(const tg__hq_backend *be, tg__hq_db *db, const char *path_token,
                            const char *cookie, int64_t now_ms, tg__hq_join_result *r);
void tg__hq_join_result_free(tg__hq_join_result *r);
/*
 * The page for r in lang (TG__HQ_LANG_*): one self-contained phone-sized
 * HTML document (inline CSS and SVG, data: images; no script, no fetch).
 * Returns it malloc'd (free()) with its length in *n, or NULL out of memory.
 */
char *tg__hq_join_page(const tg__hq_join_result *r, int lang, size_t *n);

/* ----- The join page's rate limit (hq_rate.c) ----------------------------- */

#define TG__HQ_RATE_KEY_MAX 48 /* a client address as text (an IPv6 /64 at most) */
#define TG__HQ_JOIN_RATE 10    /* join page requests per minute and client address */
#define TG__HQ_JOIN_BURST 20   /* requests a client address may make at once */
#define TG__HQ_RATE_SLOTS 65536 /* addresses tracked; the stalest is forgotten first */
typedef struct tg__hq_rate tg__hq_rate;
/* A table of token buckets (per_minute refill, burst deep) for slots addresses; NULL out of memory. */
tg__hq_rate *tg__hq_rate_new(int per_minute, int burst, size_t slots);
void tg__hq_rate_free(tg__hq_rate *r);
/* Takes a token for client at now_ms: 1 allowed, 0 over the limit. Thread-safe. */
int tg__hq_rate_allow(tg__hq_rate *r, const char *client, int64_t now_ms);

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

/* One thing reconciliation found (docs/reconcile.md). */
typedef struct {
  char kind[24];      /* "coupon_reused", "flash_over_quota", "referral_rebate", ... */
  int needs_operator; /* 1: an operator must look; 0: settled automatically */
  char store[TG__SYNC_ID_MAX + 1], terminal[TG__SYNC_ID_MAX + 1]; /* where ("" chain-wide) */
  char what[256];     /* one line an operator reads: who, where, how much, which coupon */
} tg__hq_finding;
/*
 * Reads the records with from_ms <= time_ms < to_ms (and whatever earlier
 * records a rule needs), reports each finding through fn, and issues
 * settlement coupons idempotently: a rerun over the same period issues
 * nothing new. TG__HQ_OK, or the back end's error with why.
 */
int tg__hq_reconcile(const tg__hq_backend *be, tg__hq_db *db, int64_t from_ms, int64_t to_ms,
                     int64_t now_ms, void (*fn)(void *ctx, const tg__hq_finding *f), void *ctx,
                     char *why, size_t cap);

#define TG__HQ_BUNDLE_COUPONS 10000 /* settlement coupons one bundle carries at most */
struct json_t;
/*
 * Adds up to TG__HQ_BUNDLE_COUPONS pending settlement coupons of store (all
 * stores for "*") to bundle (a jansson object) as
 * "coupons":[{"member":ID,"store":"S1","terminal":"T1","token":"..."}], each
 * leased to the till of the sale it settles, keeping coupons already there.
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
/* The store-local day (YYYY-MM-DD) of the instant ms in zone tz. 0, or -1 when tz is no zone. */
int tg__hq_local_day(const char *tz, int64_t ms, char out[11]);

/* ----- Command-line plumbing shared by the commands (hq_cli.c) ------------ */

/* tillgroup-hq's exit codes. */
enum {
  TG__HQ_EXIT_DONE = 0,
  TG__HQ_EXIT_REFUSED = 1, /* refused, nothing changed */
  TG__HQ_EXIT_USAGE = 2,
  TG__HQ_EXIT_STORAGE = 3, /* cannot open or write the database */
  TG__HQ_EXIT_OPERATOR = 4, /* nightly, reconcile: something needs an operator */
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

/* ----- Commands in their own files --------------------------------------- */

/* tillgroup-hq group add|list|disable (hq_cmd_group.c): returns the exit code. */
int tg__hq_cmd_group(int argc, char **argv, const char *db);
/* ----- Nightly pull (docs/sync-protocol.md, "Nightly pull (HQ side)") ---- */

#define TG__HQ_MANIFEST_MAX 4096     /* bytes of a manifest answer HQ reads */
#define TG__HQ_NIGHTLY_RANGES_MAX 64 /* fetched ranges one terminal's report lists */
#define TG__HQ_NIGHTLY_SEQS_MAX 32   /* disagreeing seqs one terminal's report names */

/*
 * Checks a terminal's pull URL (hq_pull_url.c): http or https, a host, an
 * optional port, at most TG__HQ_PULL_URL_MAX bytes, no user or password, no
 * query or fragment. 0, or -1 with why.
 */
int tg__hq_pull_url_check(const char *url, char *why, size_t cap);

/* A terminal's manifest: its current epoch and a digest of seqs from..to. */
typedef struct {
  char store[TG__SYNC_ID_MAX + 1];
  char terminal[TG__SYNC_ID_MAX + 1];
  int64_t epoch, max_seq, from, to, count;
  unsigned char digest[32]; /* BLAKE2b-256 of each record's bytes and "\n", from..to */
} tg__hq_manifest;

/*
 * Reads z[0..n) (at most TG__HQ_MANIFEST_MAX bytes; no network, so fuzzable)
 * as exactly {"store","terminal","epoch","max_seq","from","to","count",
 * "digest"}, no other member, no duplicate: ids of 1-12 A-Z 0-9, epoch
 * 1..2^53, seqs 0..2^53 with from >= 1, to <= max_seq and count = to-from+1
 * (from 1, to 0, count 0 when nothing), digest 64 lowercase hex digits
 * (hq_manifest.c). 0, or -1 with why. Allocates only inside jansson.
 */
int tg__hq_manifest_parse(const char *z, size_t n, tg__hq_manifest *out, char *why, size_t cap);

/* One terminal's pull client (hq_pull.c): libcurl, one kept-alive connection. */
typedef struct tg__hq_pull tg__hq_pull;

/* What a pull request came to. */
enum {
  TG__HQ_PULL_OK = 0,
  TG__HQ_PULL_UNREACHABLE = -1, /* no connection, timed out, or an answer other than 200 */
  TG__HQ_PULL_REFUSED = -2,     /* X-TG-MAC missing or not the terminal's: not from it */
  TG__HQ_PULL_BAD = -3,         /* over its bound, bad gzip */
  TG__HQ_PULL_NOMEM = -4,
};

/*
 * A client of the terminal store-terminal at url (checked by
 * tg__hq_pull_url_check), signing with hq_sk and checking answers with
 * invite_key (both copied). Every request fails once deadline_ms (UTC ms)
 * has passed; connecting takes at most connect_ms. Free with
 * tg__hq_pull_close().
 */
int tg__hq_pull_open(const char *url, const char *store, const char *terminal,
                     const unsigned char hq_sk[64], const unsigned char invite_key[32],
                     int64_t deadline_ms, long connect_ms, tg__hq_pull **out, char *why,
                     size_t cap);
/*
 * GETs target (path and query) signed with tg__pull_sign, accepting gzip.
 * On TG__HQ_PULL_OK, *body (malloc'd, NUL-terminated; the caller frees it)
 * holds the answer decoded, at most max bytes (gzip also bounded by
 * TG__SYNC_RATIO_MAX), its MAC checked. Else a TG__HQ_PULL_* with why.
 */
int tg__hq_pull_get(tg__hq_pull *p, const char *target, size_t max, char **body, size_t *n,
                    char *why, size_t cap);
/* Accepts NULL. */
void tg__hq_pull_close(tg__hq_pull *p);

/* Flags on one terminal's result; those in TG__HQ_NF_OPERATOR need an operator. */
enum {
  TG__HQ_NF_NO_URL = 1 << 0,      /* not reachable: no pull URL */
  TG__HQ_NF_UNREACHABLE = 1 << 1, /* no answer, or an error answer */
  TG__HQ_NF_REFUSED = 1 << 2,     /* answer not from the terminal (MAC) */
  TG__HQ_NF_BAD_ANSWER = 1 << 3,  /* a manifest or records that do not read */
  TG__HQ_NF_MISSING = 1 << 4,     /* seqs the terminal has that HQ still lacks */
  TG__HQ_NF_DISAGREE = 1 << 5,    /* records HQ holds differ from the terminal's */
  TG__HQ_NF_EPOCH = 1 << 6,       /* the terminal's epoch is not HQ's latest (information) */
  TG__HQ_NF_DISABLED = 1 << 7,    /* disabled at HQ: not pulled (information) */
  TG__HQ_NF_STORAGE = 1 << 8,     /* HQ's database failed for this terminal */
};
#define TG__HQ_NF_OPERATOR (~(TG__HQ_NF_EPOCH | TG__HQ_NF_DISABLED))
/* The flag's name in reports ("unreachable"), or NULL past the last. */
const char *tg__hq_nightly_flag_name(int bit);

typedef struct {
  char store[TG__SYNC_ID_MAX + 1];
  char terminal[TG__SYNC_ID_MAX + 1];
  int reachable;
  int64_t epoch, max_seq; /* the terminal's; 0 when unreachable */
  int64_t hq_epoch;       /* HQ's latest epoch before the run, 0 none */
  int64_t count_before, count_after; /* HQ's held records of epoch, 1..max_seq */
  int64_t fetched;        /* records fetched and ingested */
  int64_t ranges[TG__HQ_NIGHTLY_RANGES_MAX][2]; /* fetched ranges, from-to */
  int n_ranges;
  int64_t disagree[TG__HQ_NIGHTLY_SEQS_MAX]; /* seqs whose bytes differ */
  int n_disagree;
  int requests;           /* HTTP requests sent to it */
  unsigned flags;         /* TG__HQ_NF_* */
  char why[TG__HQ_WHY_MAX]; /* what went wrong, "" when nothing */
} tg__hq_nightly_terminal;

typedef struct {
  char date[11];
  char tz[64];
  int64_t run_ms;
  tg__hq_nightly_terminal *terminals; /* ordered by store and terminal */
  int n_terminals;
  tg__hq_finding *findings;           /* reconciliation's, in the order appended */
  int n_findings, cap_findings;
} tg__hq_nightly;

typedef struct {
  const char *date;   /* YYYY-MM-DD, labels the run and its rows in table nightly */
  const char *tz;     /* for the report only */
  int64_t now_ms;     /* signatures' time */
  int64_t timeout_ms; /* per terminal, all its requests together (0: 60 s) */
  long connect_ms;    /* per connection (0: 5 s) */
  int64_t chunk;      /* records per /v1/records request, 1..TG__SYNC_BATCH_RECORDS (0: the most) */
} tg__hq_nightly_options;

/*
 * Pulls each enrolled terminal one after another (hq_nightly.c): manifest,
 * compare with what HQ holds, fetch missing seqs through
 * tg__hq_batch_parse() and be->ingest(), bisect disagreements with ranged
 * manifests (never overwriting HQ's records), and store each result in
 * table nightly. A terminal's failure is flagged in its entry; the others go
 * on. Returns TG__HQ_OK with *out filled (free with tg__hq_nightly_free()),
 * or a back end error when the terminals cannot even be listed.
 */
int tg__hq_nightly_run(const tg__hq_backend *be, tg__hq_db *db, const tg__hq_nightly_options *o,
                       tg__hq_nightly *out, char *why, size_t cap);
/* Appends a copy of finding f to r. 0, or -1 out of memory. */
int tg__hq_nightly_add_finding(tg__hq_nightly *r, const tg__hq_finding *f);
/* 1 when a terminal or a finding needs an operator. */
int tg__hq_nightly_needs_operator(const tg__hq_nightly *r);
/* Accepts a zeroed report. */
void tg__hq_nightly_free(tg__hq_nightly *r);
/* Writes r as JSON (hq_nightly_out.c). 0 or -1. */
int tg__hq_nightly_json(const tg__hq_nightly *r, FILE *f);
/* Writes r as one self-contained HTML page, the report's style, no scripts. 0 or -1. */
int tg__hq_nightly_html(const tg__hq_nightly *r, FILE *f);

/* tillgroup-hq nightly (hq_cmd_nightly.c) and terminal pull-url (hq_cmd_terminal.c). */
int tg__hq_cmd_nightly(int argc, char **argv, const char *db);
int tg__hq_cmd_terminal(int argc, char **argv, const char *db);
/* tillgroup-hq reconcile (hq_cmd_reconcile.c): exit 0, or 4 when a finding needs an operator. */
int tg__hq_cmd_reconcile(int argc, char **argv, const char *db);

/* ----- The HTTP service (hq_http.c) --------------------------------------- */

typedef struct {
  const char *db_spec;
  const char *listen;    /* "127.0.0.1:PORT"; PORT 0 picks a free one */
  const char *tls_cert;  /* both or neither: PEM files */
  const char *tls_key;
  int threads;           /* 0: 2 */
  int join_rate, join_burst; /* 0: TG__HQ_JOIN_RATE, TG__HQ_JOIN_BURST */
  int trust_forwarded;   /* 1: the join page limits by X-Forwarded-For's last address */
} tg__hq_serve_config;

/*
 * Serves until SIGINT or SIGTERM. Prints "listening on HOST:PORT" (the port
 * really bound) on stdout once ready, then logs one line per request on
 * stderr (never a credential). Returns 0 after a clean stop, else 1 with the
 * reason on stderr.
 */
int tg__hq_serve(const tg__hq_serve_config *cfg);

#endif
