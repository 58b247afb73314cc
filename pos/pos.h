/* Contract between the files of pos/: the terminal handle, its store and money rules. */
#ifndef TG_POS_H
#define TG_POS_H

#include <sqlite3.h>
#include <stdarg.h>

#include "tillgroup.h"
#include "receipts.h"

#if !defined(__SIZEOF_INT128__)
#error "tillgroup needs a compiler with 128-bit integers for exact money arithmetic"
#endif

#define TG_SCHEMA_VERSION 5
#define TG_APPLICATION_ID 0x54474c31 /* "TGL1" in the SQLite header */
#define TG_DETAIL_MAX 256
#define TG_DIGEST_LEN 16
#define TG_JSON_MAX (1024 * 1024) /* largest sale JSON accepted from a host */
#define TG__NAME_MAX 64 /* bytes of UTF-8: campaign and tier names */

/* Prepared statements, made once per handle on first use (store.c); BEGIN
 * through ROLLBACK_TO, kept first, are made when the terminal is opened. */
#define TG__STMT_MAP(XX)                                                                  \
  XX(BEGIN, "BEGIN IMMEDIATE")                                                            \
  XX(COMMIT, "COMMIT")                                                                    \
  XX(ROLLBACK, "ROLLBACK")                                                                \
  XX(SAVEPOINT, "SAVEPOINT tg_nested")                                                    \
  XX(RELEASE, "RELEASE tg_nested")                                                        \
  XX(ROLLBACK_TO, "ROLLBACK TO tg_nested")                                                \
  XX(COUNTER_RAISE, "UPDATE counter SET seq = seq + 1, receipt = receipt + ?1 WHERE id = 1") \
  XX(COUNTER_GET, "SELECT seq, receipt, acked FROM counter WHERE id = 1")                 \
  XX(RECORD_BY_UUID,                                                                      \
     "SELECT kind, receipt_no, digest, refund_of FROM record WHERE uuid = ?1")            \
  XX(RECORD_BY_RECEIPT, "SELECT seq, kind FROM record WHERE receipt_no = ?1")             \
  XX(RECORD_INSERT,                                                                       \
     "INSERT INTO record(seq, kind, uuid, receipt_no, refund_of, digest, time_ms, body)"  \
     " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")                                           \
  XX(RECORD_BODY, "SELECT body, receipt_no FROM record WHERE seq = ?1")                   \
  XX(REFUNDS_OF, "SELECT body, uuid FROM record WHERE refund_of = ?1 ORDER BY seq")       \
  XX(OUTBOX_AFTER, "SELECT seq, body FROM record WHERE seq > ?1 ORDER BY seq LIMIT ?2")   \
  XX(OUTBOX_OLDEST, "SELECT seq, time_ms FROM record WHERE seq > ?1 ORDER BY seq LIMIT 1")  \
  XX(MEMBER_GET, "SELECT tier, tags, points_lease, is_new FROM member WHERE id = ?1")      \
  XX(REVOKED_GET, "SELECT 1 FROM revoked WHERE coupon = ?1")                             \
  XX(SPENT_BY, "SELECT 1 FROM redemption JOIN record USING (seq)"                          \
               " WHERE coupon = ?1 AND single = 1 AND record.uuid = ?2")                   \
  XX(SPENT_GET, "SELECT 1 FROM redemption WHERE coupon = ?1 AND single = 1")             \
  XX(COUPON_COUNT, "SELECT count(*) FROM redemption WHERE campaign = ?1 AND lease = ?2")  \
  XX(COUPON_COUNT_MEMBER,                                                                 \
     "SELECT count(*) FROM redemption WHERE campaign = ?1 AND lease = ?2 AND member = ?3") \
  XX(FLASH_SUM, "SELECT total(qty_milli) FROM flash_use WHERE campaign = ?1 AND lease = ?2") \
  XX(FLASH_SUM_MEMBER, "SELECT total(qty_milli) FROM flash_use"                           \
                       " WHERE campaign = ?1 AND lease = ?2 AND member = ?3")              \
  XX(POINTS_SUM, "SELECT total(points) FROM points_use WHERE member = ?1 AND bundle = ?2")  \
  XX(ISSUED_GET, "SELECT 1 FROM issued WHERE member = ?1 AND campaign = ?2")              \
  XX(REDEMPTION_INSERT, "INSERT INTO redemption(coupon, campaign, member, lease, single, seq)" \
                        " VALUES(?1, ?2, ?3, ?4, ?5, ?6)")                                 \
  XX(FLASH_INSERT, "INSERT INTO flash_use(campaign, lease, member, qty_milli, seq)"       \
                   " VALUES(?1, ?2, ?3, ?4, ?5)")                                          \
  XX(POINTS_INSERT, "INSERT INTO points_use(member, bundle, points, seq) VALUES(?1, ?2, ?3, ?4)") \
  XX(ISSUED_INSERT, "INSERT INTO issued(coupon, campaign, member, seq) VALUES(?1, ?2, ?3, ?4)") \
  XX(COUNTER_ACK, "UPDATE counter SET acked = ?1 WHERE id = 1")                           \
  XX(DEAD_LETTER_INSERT, "INSERT OR IGNORE INTO dead_letter(seq, status, reason, time_ms)"   \
                         " VALUES(?1, ?2, ?3, ?4)")                                        \
  XX(DEAD_LETTER_COUNT, "SELECT count(*) FROM dead_letter")                               \
  XX(HQ_GET, "SELECT url, last_ok_ms, last_error_ms, last_error FROM hq WHERE id = 1")    \
  XX(HQ_ACKED, "UPDATE hq SET last_ok_ms = ?1 WHERE id = 1")                              \
  XX(HQ_ERROR, "UPDATE hq SET last_error = ?1, last_error_ms = ?2 WHERE id = 1")        \
  XX(PRINT_ADD, "INSERT INTO print_job(receipt_no, copy, queued_ms) VALUES(?1, ?2, ?3)")  \
  XX(PRINT_NEXT, "SELECT id, receipt_no, copy, started FROM print_job"                   \
                 " WHERE printed_ms IS NULL ORDER BY id LIMIT 1")                        \
  XX(PRINT_TRY, "UPDATE print_job SET started = ?2, attempts = attempts + ?4,"           \
                " last_error = ?3 WHERE id = ?1")                                        \
  XX(PRINT_DONE, "UPDATE print_job SET printed_ms = ?2, last_error = NULL WHERE id = ?1") \
  XX(PRINT_WAITING, "SELECT count(*) FROM print_job WHERE printed_ms IS NULL")

typedef enum {
#define TG__STMT_ENUM(name, sql) TG__ST_##name,
  TG__STMT_MAP(TG__STMT_ENUM)
#undef TG__STMT_ENUM
  TG__ST_COUNT
} tg__stmt_id;

struct tg_terminal {
  sqlite3 *db;
  int bulk; /* inside tg__bulk_begin: commits are savepoints of one transaction */
  sqlite3_stmt *stmt[TG__ST_COUNT];
  tg_terminal_info info;
  char detail[TG_DETAIL_MAX];
  struct tg__bundle *bundle;   /* the bundle in force, read on first use; NULL: none */
  int bundle_loaded;
  struct tg__token_key *keys;  /* the bundle's keys and the terminal's own coupon key */
  int n_keys;
  void *zone;                  /* GTimeZone of info.tz, made on first use */
};

/* ----- error.c ----- */
/* Sets t's detail from fmt and returns code. t may be NULL. */
int tg__fail(tg_terminal *t, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Converts an SQLite result code to a tg code, sets the detail to
 * "<what>: <sqlite message>" and returns the tg code. */
int tg__db_fail(tg_terminal *t, int sqlite_rc, const char *what);
/* Maps an SQLite result code to a tg code without touching any detail. */
int tg__from_sqlite(int sqlite_rc);

/* ----- alloc.c: every allocation goes through SQLite's allocator, so that
 * SQLITE_CONFIG_MALLOC fault injection reaches tillgroup's own code too. ----- */
void *tg__malloc(size_t n);          /* NULL when out of memory */
void *tg__realloc(void *p, size_t n); /* NULL when out of memory; p untouched */
char *tg__strdup(const char *s);     /* NULL when out of memory */
void tg__free(void *p);              /* accepts NULL */

/* ----- text.c ----- */
/* The length (1-4) of the valid UTF-8 character that is no control character
 * at the start of s[0..n), or 0. */
size_t tg__utf8_char(const char *s, size_t n);
/* 1 if s[0..n) is valid UTF-8 with no control characters, else 0. */
int tg__utf8_valid(const char *s, size_t n);
/* Parses a non-negative decimal integer; -1 if invalid or over max. */
int64_t tg__parse_int(const char *s, int64_t max);
/* Replaces each byte of s that is not part of such a character with '?'. */
void tg__utf8_clean(char *s);
/* Checks one text input: present (unless may_be_empty), at most max bytes,
 * valid UTF-8. On refusal sets the detail "[line N ]<what> ..." (line 0: no
 * line) and returns its code. */
int tg__text_check(tg_terminal *t, int line, const char *what, const char *s, size_t max,
                   int may_be_empty);
/* 1 if id is 1..TG_ID_MAX characters of A-Z 0-9. */
int tg__id_valid(const char *id);
/* Parses canonical UUID text (either case) into 16 bytes; 0 or TG_EUUID. */
int tg__uuid_parse(const char *s, unsigned char out[16]);
/* Writes the lower-case canonical text of u into out. */
void tg__uuid_format(const unsigned char u[16], char out[TG_UUID_LEN + 1]);
/* Writes a new random version-4 UUID into out. */
void tg__uuid_random(char out[TG_UUID_LEN + 1]);

/* ----- currency.c ----- */
/* Minor-unit exponent of an ISO 4217 code (2 for "CNY"), or -1 if unknown. */
int tg__currency_exponent(const char *code);

/* ----- money.c: exact int64 arithmetic, bounded by TG_MAX_AMOUNT ----- */
/* *acc += v; TG_EOVERFLOW (acc untouched) if the sum leaves 0..TG_MAX_AMOUNT. */
int tg__amount_add(int64_t *acc, int64_t v);
/* *out = a * b / d rounded half-up, for 0 <= a, b < 2^62 (so 2ab + d fits in
 * 128 bits) and d > 0; TG_EOVERFLOW if the result exceeds TG_MAX_AMOUNT. */
int tg__mul_div_half_up(int64_t a, int64_t b, int64_t d, int64_t *out);
/* Spreads amount over n weights pro rata (shares rounded down), the remainder
 * on the largest weight (the first of equals), spilling to the next largest
 * only where a share would pass its weight. Requires 0 <= amount <= sum of
 * weights and weights >= 0; shares always sum to amount. */
void tg__allocate(int64_t amount, const int64_t *weights, int64_t *shares, int n);
/* Formats minor units as major units ("-12.34" for -1234 with exponent 2)
 * into buf (TG_MONEY_BUF bytes); returns buf. */
#define TG_MONEY_BUF 32
const char *tg__money_format(int64_t v, int exponent, char *buf);
/* Formats thousandths as a quantity ("1.5", "2", "0.25") into buf (32 bytes); returns buf. */
const char *tg__qty_format(int64_t v, char *buf);

/* ----- terminal.c ----- */
/* Wall-clock time in UTC milliseconds: recorded, never used for ordering. */
int64_t tg__now_ms(void);
/* A monotonic clock in milliseconds, for durations: never jumps with the wall clock. */
int64_t tg__mono_ms(void);

/* ----- store.c ----- */
/* Creates an empty file at path with mode 0600 and makes its directory entry
 * durable; TG_EEXIST (nothing touched) if something is there. */
int tg__store_create_file(tg_terminal *t, const char *path);
/* Opens the database at path and applies the connection settings; unless the
 * file was just created empty, refuses a foreign or newer file and upgrades an
 * older schema. On failure t->db may be set; tg_terminal_close() frees it. */
int tg__store_open(tg_terminal *t, const char *path, int created);
/* Creates the schema and the terminal row in a new database. */
int tg__store_create(tg_terminal *t, const tg_terminal_config *cfg, int64_t epoch);
/* Loads t->info from the database. */
int tg__store_load_info(tg_terminal *t);
/* The statement id, reset and unbound, ready to bind; NULL on failure with the
 * detail set (the caller returns tg__from_sqlite(sqlite3_errcode(t->db))). */
sqlite3_stmt *tg__stmt(tg_terminal *t, tg__stmt_id id);
/* Steps st, a statement that returns no row, and resets it: 0, or the error
 * with what as the detail. */
int tg__step_done(tg_terminal *t, sqlite3_stmt *st, const char *what);
/* Finalizes every prepared statement of t. */
void tg__stmt_finalize_all(tg_terminal *t);
/* Begins a write transaction, or inside tg__bulk_begin a savepoint (*nested
 * tells which, for the commit or rollback). A transaction left open by an
 * earlier failed rollback is rolled back first. */
int tg__txn_begin(tg_terminal *t, int *nested);
/* Rolls back a transaction left open by an earlier failed rollback, so that
 * neither a new transaction nor a read on t sees its changes. */
int tg__txn_settle(tg_terminal *t);
/* Commits what tg__txn_begin began; on failure everything is rolled back. */
int tg__txn_commit(tg_terminal *t, int nested);
/* Rolls back what tg__txn_begin began; keeps the detail already set. */
void tg__txn_rollback(tg_terminal *t, int nested);
/* Groups the following commits into one transaction, for loading many sales
 * fast (the benchmark's preload); nothing is durable before tg__bulk_end. */
int tg__bulk_begin(tg_terminal *t);
int tg__bulk_end(tg_terminal *t);
/* Inside a transaction, raises seq by one, and the receipt number too when
 * with_receipt (else *receipt_no is 0). */
int tg__counter_next(tg_terminal *t, int with_receipt, int64_t *seq, int64_t *receipt_no);
/* Reads the last seq written and the last seq HQ acknowledged. */
int tg__counter_get(tg_terminal *t, int64_t *seq, int64_t *acked);

/* ----- hq_enrol.c: the HQ this terminal is enrolled at (docs/sync-protocol.md) ----- */
#define TG__HQ_URL_MAX 512    /* bytes of HQ's base URL */
#define TG__HQ_PATH_MAX 4096  /* bytes of a CA, certificate or key file name */
#define TG__HQ_OPTION_MAX 512 /* bytes of a pinned key or a proxy URL */
/* 1 when url is https://HOST[:PORT][/PATH], or http:// to a loopback host
 * (localhost, 127.0.0.0/8, [::1]), at most TG__HQ_URL_MAX bytes, without user
 * information, spaces or control characters; else 0. */
int tg__hq_url_valid(const char *url);
/* Reads the enrolment: 1 and what HQ last said when enrolled, 0 when not,
 * or an error code. Any of the out pointers may be NULL; url gets at most
 * n_url - 1 bytes, last_error at most n_error - 1. */
int tg__hq_get(tg_terminal *t, char *url, size_t n_url, int64_t *last_ok_ms,
               int64_t *last_error_ms, char *last_error, size_t n_error);

/* ----- outbox.c ----- */
/*
 * Calls fn for each record after after_seq in seq order (at most limit; 0: all)
 * with its exact stored bytes -- the bytes every upload and every nightly
 * pull sends, each followed by "\n". Runs inside whatever transaction t is
 * in (tg_outbox_each settles one first). A non-zero return from fn stops the
 * walk and is returned; a body SQLite cannot hand over is TG_ENOMEM.
 */
int tg__outbox_lines(tg_terminal *t, int64_t after_seq, int64_t limit, tg_record_fn fn,
                     void *ctx);

/* ----- pull_source.c: the store as the nightly-pull server reads it ----- */
typedef struct tg__pull_store tg__pull_store;
/*
 * Opens the terminal database at path a second time, read-only
 * (SQLITE_OPEN_READONLY, query_only), for tillgroup serve-sync: serving never
 * holds a write lock, so it never blocks a sale. Refuses with
 * TG_ENOTENROLLED when the terminal is not enrolled. On 0, *out is ready;
 * free it with tg__pull_store_close(). On failure why holds one line.
 */
int tg__pull_store_open(const char *path, tg__pull_store **out, char *why, size_t cap);
/* Fills in cfg the identity and keys serving needs: store, terminal, HQ's key
 * from the credential, the invite key derived from its secret, and the
 * source (read in one snapshot per call; thread-safe) over s. */
struct tg__pull_server_config;
void tg__pull_store_config(tg__pull_store *s, struct tg__pull_server_config *cfg);
/* Closes the read-only connection and wipes the keys. Accepts NULL. */
void tg__pull_store_close(tg__pull_store *s);

/* ----- receipt.c ----- */
/* Formats "STORE-TERMINAL-n" for this terminal into out (TG_RECEIPT_MAX). */
void tg__receipt_format(const tg_terminal *t, int64_t n, char *out);
/* Parses a receipt number of this terminal into n; TG_ENORECEIPT otherwise. */
int tg__receipt_parse(tg_terminal *t, const char *receipt, int64_t *n);
/* Loads the sale, refund or void written under seq, with what was refunded of
 * each line of a sale, leaving out the refund whose uuid is exclude_uuid
 * (16 bytes, or NULL). Free with tg_receipt_free(). */
int tg__receipt_load_seq(tg_terminal *t, int64_t seq, const unsigned char *exclude_uuid,
                         tg_receipt **out);
/* Name of a record kind as stored ("sale", "refund", "void"); NULL if unknown. */
const char *tg__record_kind_name(tg_record_kind kind);
/* Parses a stored kind name; 0 if unknown. */
tg_record_kind tg__record_kind_parse(const char *name);

/* ----- base45.c: RFC 9285 ----- */
/* Encodes n bytes into out ((n + 1) / 2 * 3 + 1 bytes), NUL-terminated; returns the length. */
size_t tg__base45_encode(const unsigned char *in, size_t n, char *out);
/* Decodes n characters of upper-case Base45 into out (n / 3 * 2 + 1 bytes);
 * -1 for a character outside the alphabet, a value past a byte pair's range
 * or a dangling character. */
int tg__base45_decode(const char *in, size_t n, unsigned char *out, size_t *out_len);

/* ----- token.c: QR tokens (docs/tokens.md) ----- */
#define TG__TOKEN_BINARY_MAX 160  /* bytes before Base45: the longest layout is a coupon's 115 */
#define TG__TOKEN_TEXT_MAX 240    /* Base45 characters accepted; longer input is no token */
typedef enum {
  TG__TOKEN_INVITE = 'I',   /* on a receipt: HMAC-SHA256 with the terminal's enrolment secret */
  TG__TOKEN_MEMBER = 'M',   /* on a member's phone: Ed25519 by HQ */
  TG__TOKEN_COUPON = 'C',   /* Ed25519 by HQ or a terminal's coupon key */
  TG__TOKEN_REFERRAL = 'R'  /* a member's referral code: Ed25519 by HQ */
} tg__token_type;
enum { TG__COUPON_AMOUNT = 1, TG__COUPON_PERCENT = 2 };
typedef struct {
  tg__token_type type;
  uint16_t key_id;
  char store[TG_ID_MAX + 1];     /* invite: where it was printed; coupon: the only store, or "" */
  char terminal[TG_ID_MAX + 1];  /* invite */
  uint32_t receipt_no;           /* invite */
  char staff[17];                /* invite: the guide or cashier, at most 16 bytes of UTF-8 */
  int valid_days;                /* invite: 0-65535 */
  int64_t issued_ms;             /* all: from (UTC ms, whole minutes) */
  int64_t expires_ms;            /* all: until (an invite's is issued + valid_days) */
  uint64_t member_id;            /* member, referral */
  int tier;                      /* member: 0-255 */
  uint64_t coupon_id;            /* coupon */
  uint32_t campaign_id, value, min_spend; /* coupon: value in minor units or basis points */
  int coupon_kind;               /* coupon: TG__COUPON_AMOUNT or TG__COUPON_PERCENT */
  int single_use;                /* coupon: 0 or 1 */
} tg__token;
typedef struct tg__token_key {
  uint16_t id;
  char role;                     /* the token type the key may sign */
  unsigned char key[32];         /* 'I': the HMAC secret; else an Ed25519 public key */
} tg__token_key;
/* Writes token t as Base45 into out (out_len bytes, NUL-terminated) and
 * returns its length, or TG_ETOOLONG. secret is the 32-byte HMAC secret for
 * an invite, else a 64-byte Ed25519 secret key. Times are kept to the minute. */
int tg__token_encode(const tg__token *t, const unsigned char *secret, char *out, size_t out_len);
/* Reads n characters of a token and proves it with the key of its key id and
 * type among keys: 0, or TG_ETOKEN (not Base45, cut short, extended, unknown
 * type or layout), TG_EVERSION (a newer format), TG_EKEY (no such key for this
 * type) or TG_EFORGED (tag or signature wrong). Times and store are not judged. */
int tg__token_decode(const char *text, size_t n, const tg__token_key *keys, size_t n_keys,
                     tg__token *out);
/* Judges a proven token at now_ms for this store: 0, TG_ENOTYET, TG_EEXPIRED or
 * TG_EWRONGSTORE (a coupon for another store). */
int tg__token_check(const tg__token *t, int64_t now_ms, const char *store_id);

/* ----- sale.c: the in-memory sale, shared with commit.c and refund.c ----- */
typedef struct {
  char *sku;
  char *name;
  char *category;         /* NULL when the host named none */
  int64_t qty_milli;
  int64_t unit_price;
  int64_t line_discount;
  int64_t promotion;      /* computed: campaign rules and coupons */
  int64_t order_discount; /* computed */
  int64_t amount;         /* computed */
  int original_line;      /* refunds */
} tg__line;

typedef struct {
  tg_tender_kind kind;
  int64_t amount;
  char *reference; /* NULL when none */
} tg__tender;

/* A line of the receipt being refunded, with what was refunded before. */
typedef struct {
  char *sku;
  char *name;
  int64_t qty_milli;
  int64_t unit_price;
  int64_t amount;
  int64_t refunded_milli;
  int64_t refunded_amount;
} tg__refundable;

typedef enum { TG__SALE_OPEN, TG__SALE_DONE } tg__sale_state;
#define TG__SALE_COUPONS 8 /* coupons on one sale */

struct tg_sale {
  tg_terminal *t;
  tg_record_kind kind; /* SALE or REFUND while open */
  tg__sale_state state;
  unsigned char uuid[16];
  tg__line *lines;
  int n_lines;
  int cap_lines;
  int64_t subtotal; /* sales: of the lines added so far, bounded by TG_MAX_AMOUNT */
  int discount_is_percent;
  int64_t discount_amount;
  int64_t discount_bp;
  tg__tender tenders[TG_MAX_TENDERS];
  int n_tenders;
  char *cashier, *guide;     /* NULL when not named */
  /* codes applied with tg_sale_apply_code (sales only) */
  uint64_t member;           /* 0: none */
  int member_tier;
  int member_new;            /* the bundle lists the member as new */
  tg__token coupons[TG__SALE_COUPONS];
  int n_coupons;
  tg__token referral;
  int has_referral;
  /* what the commit gave out, for its record (sale_codes.c) */
  struct tg__promo_applied *applied; /* copies of the promotions applied, with the rule names */
  char (*applied_names)[TG__NAME_MAX + 1];
  int n_applied;
  int64_t bundle_version;    /* the bundle the sale was evaluated with; 0 none */
  int64_t points_earned;
  int64_t points_spent;      /* points the tenders spend, set by tg__sale_compute with tenders */
  char invite[TG__TOKEN_TEXT_MAX + 1]; /* "" none */
  int64_t invite_expires_ms;
  char issued[TG__TOKEN_TEXT_MAX + 1]; /* the welcome coupon issued, "" none */
  uint64_t issued_id;
  uint32_t issued_campaign;
  int64_t issued_expires_ms;
  int issued_percent;        /* its value is basis points */
  int64_t issued_value, issued_min_spend;
  uint32_t referral_campaign;
  int64_t referral_rebate;
  /* refunds only */
  int64_t original_seq;      /* the record of the sale refunded */
  int64_t original_no;       /* its receipt number */
  tg__refundable *refundable;
  int n_refundable;
};

/* Allocates an open sale of kind for t; TG_ENOMEM or TG_EUUID on failure. */
int tg__sale_new(tg_terminal *t, const char *uuid, tg_record_kind kind, tg_sale **out);
/* Appends a line whose fields are already validated (strings copied). */
int tg__sale_append(tg_sale *s, const tg__line *line);
/* Computes line amounts and totals. For a refund, amounts come from the
 * refundable lines loaded with it. with_tenders also checks the tenders. */
int tg__sale_compute(tg_sale *s, tg_totals *out, int with_tenders);
/* Digest of what the host asked for, to recognise a retried commit. */
void tg__sale_digest(const tg_sale *s, unsigned char out[TG_DIGEST_LEN]);

/* ----- refund.c ----- */
/* Reloads the refundable lines of s's original receipt: what was sold less
 * what other refunds returned (a retry of s itself is not "other", so it asks
 * for the same again). Called again inside the commit's transaction, so
 * concurrent refunds can never together return too much. */
int tg__refund_reload(tg_sale *s);

/* ----- record.c ----- */
/* Encodes the committed form of s (tenders as written, which for a refund
 * may be the implied cash tender; receipt "" for a void) as one line of JSON;
 * free *out with tg__free(). */
int tg__record_encode(const tg_sale *s, const tg_totals *tot, const tg__tender *tenders,
                      int n_tenders, int64_t seq, const char *receipt, int64_t time_ms,
                      char **out, size_t *len);
/* Decodes a stored record; refunded quantities are left 0. Free with
 * tg_receipt_free(). TG_ECORRUPT if the bytes are not a record. */
int tg__record_decode(tg_terminal *t, const char *body, size_t len, tg_receipt **out);
/* The stored bytes of record seq, and its receipt number (0 for a void) when
 * receipt_no is not NULL; free *out with tg__free(). */
int tg__record_body(tg_terminal *t, int64_t seq, char **out, size_t *len, int64_t *receipt_no);

/* ----- receipt_config.c: [printer] and [receipt] of tillgroup.ini ----- */
#define TG_RECEIPT_LINES 8 /* header or footer lines */
typedef struct {
  tg__profile printer;
  char header[TG_RECEIPT_LINES][TG_MAX_NAME + 1]; /* none: the store id is the header */
  int n_header;
  char footer[TG_RECEIPT_LINES][TG_MAX_NAME + 1];
  int n_footer;
  char lang[3];                          /* "zh", "en", or "" for zh when the currency is CNY */
  int invite;                            /* print the invite the receipt is given */
  char invite_caption[TG_MAX_NAME + 1];  /* "" for the language's default */
} tg__receipt_config;
/* Fills *c with the embedded defaults for 58 or 80 mm paper. */
void tg__receipt_config_default(tg__receipt_config *c, int paper_mm);
/* Reads the [printer] and [receipt] sections of the INI file at path over the
 * defaults (58 mm). On a bad file returns TG_ENOENT or TG_EINVAL with "PATH
 * line N: [section] key = value: use ..." in why, and *c holds the defaults. */
int tg__receipt_config_load(const char *path, tg__receipt_config *c, char *why, size_t why_len);

/* ----- print.c ----- */
/* The number of receipts waiting for a printer. */
int tg__print_waiting(tg_terminal *t, int64_t *n);
/* The ESC/POS bytes of this till's receipt n as it prints now under c, marked COPY when copy. */
int tg__print_render(tg_terminal *t, int64_t n, const tg__receipt_config *c, int copy,
                     tg__buf *out);

/* ----- receipt_doc.c: what a receipt shows, as a document to render ----- */
typedef struct tg__receipt_doc tg__receipt_doc;
/* Builds the document of committed receipt r: header, receipt number, time
 * (time_text, already in the store's zone), cashier and guide, items, totals, tenders, barcode,
 * the invite when invite_url is not NULL and c->invite, and the footer;
 * "COPY" on a reprint. Copies what it needs. TG_ENOMEM or 0. */
int tg__receipt_doc_from_record(const tg_receipt *r, const tg_terminal_info *info,
                                const tg__receipt_config *c, const char *time_text,
                                const char *invite_url, int copy, tg__receipt_doc **out);
/* Builds a document from a reference receipt in JSON (the format of
 * ../shared/bench/reference-receipt.json, described in docs/receipt-json.md)
 * and the printer profile it names. Refuses bad input with TG_EJSON or
 * TG_EINVAL and a one-line reason in why. */
int tg__receipt_doc_from_json(const char *json, size_t n, tg__receipt_doc **out, tg__profile *p,
                              char *why, size_t why_len);
/* 1 when receipts print in Chinese: [receipt] lang, else a store in CNY. */
int tg__receipt_zh(const tg__receipt_config *c, const tg_terminal_info *info);
/* The document of committed receipt ("STORE-TERMINAL-N") as it prints: its
 * time in the store's zone, the invite the sale was given (or invite when not
 * NULL), COPY when copy. TG_ENORECEIPT, TG_ENOMEM or 0. */
int tg__receipt_doc_load(tg_terminal *t, const char *receipt, const tg__receipt_config *c,
                         const char *invite, int copy, tg__receipt_doc **out);
/* The document to hand to tg__render_*(); valid until the doc is freed. */
const tg__doc *tg__receipt_doc_get(const tg__receipt_doc *d);
/* Frees a document. Accepts NULL. */
void tg__receipt_doc_free(tg__receipt_doc *d);

/* ----- file.c ----- */
/* Reads the whole file at path, at most max bytes, into *out (NUL-terminated,
 * *n bytes; free with free()). Else *out is NULL, why says "PATH: reason" and
 * the code is TG_ENOENT, TG_ECANTOPEN, TG_EIO, TG_ENOMEM or TG_ETOOLONG. */
int tg__file_read(const char *path, size_t max, char **out, size_t *n, char *why,
                  size_t why_len);

#include "community.h"

/* Exit codes of the tillgroup program. */
enum {
  TG_EXIT_OK = 0,
  TG_EXIT_REFUSED = 1,
  TG_EXIT_USAGE = 2,
  TG_EXIT_STORAGE = 3,
  TG_EXIT_HQ = 4, /* head office unreachable or refusing (enrol again, call support) */
  TG_EXIT_PRINTER = 5 /* the printer cannot print now: receipts wait for it */
};
/* Prints "tillgroup CMD: DETAIL (TG_NAME)" on stderr; returns the exit code for rc. */
int tg__cli_error(const char *cmd, int rc, const char *detail);
/* Prints "tillgroup CMD: MESSAGE" on stderr, the usage hint; returns TG_EXIT_USAGE. */
int tg__cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Opens the terminal at db or prints why not; returns 0 or an exit code. */
int tg__cli_open(const char *cmd, const char *db, tg_terminal **out);
/* Parses a decimal with at most 3 places ("1.5") into thousandths; -1 if invalid. */
int64_t tg__cli_parse_milli(const char *s);
/* Formats UTC milliseconds as local time in zone tz into buf (64 bytes). */
const char *tg__cli_time(int64_t ms, const char *tz, char *buf);

/* cli_*.c and bench_*.c: one function per command. */
int tg__cmd_init(int argc, char **argv, const char *db);
int tg__cmd_sale(int argc, char **argv, const char *db);
int tg__cmd_show(int argc, char **argv, const char *db);
int tg__cmd_refund(int argc, char **argv, const char *db);
int tg__cmd_status(int argc, char **argv, const char *db);
int tg__cmd_export(int argc, char **argv, const char *db);
int tg__cmd_bench(int argc, char **argv, const char *db);
int tg__cmd_receipt(int argc, char **argv, const char *db);
int tg__cmd_bundle(int argc, char **argv, const char *db);
int tg__cmd_scan(int argc, char **argv, const char *db);
int tg__cmd_coupon(int argc, char **argv, const char *db);
int tg__cmd_member(int argc, char **argv, const char *db);
int tg__cmd_enrol(int argc, char **argv, const char *db);
int tg__cmd_sync(int argc, char **argv, const char *db);
int tg__cmd_serve_sync(int argc, char **argv, const char *db);
int tg__cmd_devices(int argc, char **argv, const char *db);
int tg__cmd_print(int argc, char **argv, const char *db);
int tg__cmd_drawer(int argc, char **argv, const char *db);
/* scan --listen: argv[0] is "scan"; needs no database. */
int tg__cmd_scan_listen(int argc, char **argv);
/* bench_clock.c: what every benchmark measures with. */
/* A monotonic clock in milliseconds. */
double tg__bench_now_ms(void);
/* Sorts n values ascending. */
void tg__bench_sort(double *v, int n);
/* The nearest-rank percentile pct of n sorted values (0 when n is 0). */
double tg__bench_percentile(const double *sorted, int n, int pct);
/* The benchmarks, given argv from their name on. */
int tg__bench_ledger(int argc, char **argv);
int tg__bench_receipt(int argc, char **argv);
int tg__bench_scan(int argc, char **argv);
int tg__bench_sync(int argc, char **argv);
/* bench_ledger.c: fills the ledger with n sales of n_lines lines quickly (one
 * transaction per 20,000, not durable per sale), then makes it all durable. */
int tg__bench_preload(tg_terminal *t, int64_t n, int n_lines);


#endif /* TG_POS_H */
