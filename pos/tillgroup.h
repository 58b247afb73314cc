/* tillgroup public API: a durable checkout ledger for in-store terminals. */
#ifndef TILLGROUP_H
#define TILLGROUP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define TG_EXTERN __attribute__((visibility("default")))
#else
#define TG_EXTERN
#endif

/*
 * Errors. Every function returns 0 or one of these negative codes; the
 * handle's tg_last_detail() adds a one-line reason a cashier can act on.
 * Codes are only ever added, never renumbered.
 */
#define TG_ERRNO_MAP(XX)                                                          \
  XX(EINVAL, -1, "invalid argument")                                             \
  XX(ENOMEM, -2, "out of memory")                                                \
  XX(EIO, -3, "disk I/O error: the record was not saved")                        \
  XX(EFULL, -4, "disk full: free space on the terminal; the record was not saved") \
  XX(EBUSY, -5, "terminal database is busy: another program holds it")           \
  XX(ECORRUPT, -6, "terminal database is damaged: restore it from backup")       \
  XX(ENEWER, -7, "terminal database was written by a newer tillgroup: upgrade")  \
  XX(ENOTDB, -8, "file is not a tillgroup terminal database")                    \
  XX(ENOENT, -9, "terminal database not found: run 'tillgroup init' first")      \
  XX(EEXIST, -10, "terminal database already exists")                           \
  XX(ECANTOPEN, -11, "cannot open the terminal database file")                  \
  XX(ESTATE, -12, "sale is already committed or voided")                        \
  XX(EQTY, -13, "quantity must be positive and within limits")                  \
  XX(EPRICE, -14, "price or amount must not be negative")                        \
  XX(EOVERFLOW, -15, "amount too large")                                         \
  XX(EEMPTY, -16, "sale has no lines")                                           \
  XX(ESHORT, -17, "tenders are short of the total")                              \
  XX(ECURRENCY, -18, "unknown currency code")                                    \
  XX(EUTF8, -19, "text is not valid UTF-8 or holds control characters")          \
  XX(ETOOLONG, -20, "text too long")                                             \
  XX(ETOOMANY, -21, "too many lines or tenders")                                 \
  XX(ENORECEIPT, -22, "unknown receipt")                                         \
  XX(EOVERREFUND, -23, "refund exceeds what was sold")                           \
  XX(EDISCOUNT, -24, "discount exceeds the amount it applies to")                \
  XX(ETENDER, -25, "invalid tender")                                             \
  XX(EUUID, -26, "sale id is not a UUID")                                        \
  XX(EREUSED, -27, "sale id was already used for a different sale")             \
  XX(EID, -28, "store or terminal id must be 1-12 characters A-Z, 0-9")          \
  XX(ETZ, -29, "unknown time zone")                                              \
  XX(EJSON, -30, "malformed sale JSON")                                          \
  XX(EVOIDED, -31, "sale was voided")                                            \
  XX(ELINE, -32, "no such line on the original receipt")                       \
  XX(ETOKEN, -33, "not a tillgroup code: damaged, cut short or mistyped")         \
  XX(EFORGED, -34, "code does not match its signature: altered or forged")        \
  XX(EKEY, -35, "code was signed with a key this terminal does not accept")      \
  XX(EVERSION, -36, "code is of a newer format: update tillgroup")              \
  XX(EEXPIRED, -37, "code has expired")                                          \
  XX(ENOTYET, -38, "code is not valid yet")                                       \
  XX(EWRONGSTORE, -39, "code is for another store")

typedef enum {
  TG_OK = 0,
#define TG__ERR_ENUM(name, code, msg) TG_##name = code,
  TG_ERRNO_MAP(TG__ERR_ENUM)
#undef TG__ERR_ENUM
} tg_errno;

/* Returns a static English sentence for code; "unknown error" if none. */
TG_EXTERN const char *tg_strerror(int code);
/* Returns the static name of code ("TG_EFULL"); "TG_UNKNOWN" if none. */
TG_EXTERN const char *tg_err_name(int code);

/* Limits on every input. Larger input is refused, never truncated. */
#define TG_ID_MAX 12                    /* store/terminal id, A-Z 0-9 */
#define TG_RECEIPT_MAX 48               /* buffer for "STORE-TERMINAL-N" */
#define TG_UUID_LEN 36                  /* canonical 8-4-4-4-12 text */
#define TG_MAX_LINES 500                /* lines per sale */
#define TG_MAX_TENDERS 16               /* tenders per sale */
#define TG_MAX_SKU 64                   /* bytes of UTF-8 */
#define TG_MAX_NAME 256                 /* bytes of UTF-8 */
#define TG_MAX_STAFF 64                 /* bytes of UTF-8: a cashier's or guide's name or id */
#define TG_MAX_REFERENCE 64             /* bytes of UTF-8 (card auth, coupon id) */
#define TG_MAX_QTY_MILLI 1000000000LL   /* 1,000,000 units */
#define TG_MAX_AMOUNT 1000000000000000LL /* 10^15 minor units */

/*
 * A terminal: one SQLite database (WAL, synchronous=FULL, mode 0600) holding
 * this terminal's ledger and its outbox. A handle is used by one thread at a
 * time; several processes may open the same file.
 */
typedef struct tg_terminal tg_terminal;

typedef struct {
  const char *store_id;    /* 1-12 of A-Z 0-9 */
  const char *terminal_id; /* 1-12 of A-Z 0-9 */
  const char *currency;    /* ISO 4217, e.g. "CNY"; NULL means "CNY" */
  const char *tz;          /* IANA zone, e.g. "Asia/Shanghai"; NULL means that */
} tg_terminal_config;

/*
 * Creates a new terminal database at path with a fresh random epoch. Refuses
 * an existing file (TG_EEXIST). If detail is not NULL, a one-line reason for
 * a failure is written there (at most detail_len bytes, NUL-terminated).
 * Nothing is left on disk on failure.
 */
TG_EXTERN int tg_terminal_init(const char *path, const tg_terminal_config *cfg,
                               char *detail, size_t detail_len);

/*
 * Opens an existing terminal database and upgrades its schema if it is older.
 * On success *out is a handle to close with tg_terminal_close(). On failure
 * *out is still set to a handle (or NULL when out of memory) whose
 * tg_last_detail() tells why; close it too.
 */
TG_EXTERN int tg_terminal_open(const char *path, tg_terminal **out);

/* Closes the handle. Open sales must have been freed. Accepts NULL. */
TG_EXTERN void tg_terminal_close(tg_terminal *t);

/*
 * The one-line reason for the last failure on this handle (or on any sale
 * begun from it). The string belongs to the handle and is overwritten by the
 * next failing call. Never NULL; "" if nothing failed.
 */
TG_EXTERN const char *tg_last_detail(const tg_terminal *t);

typedef struct {
  char store_id[TG_ID_MAX + 1];
  char terminal_id[TG_ID_MAX + 1];
  char currency[4];
  int currency_exponent; /* minor units per major: 10^exponent */
  char tz[64];
  int64_t epoch;         /* changes when a terminal is re-imaged */
  int schema_version;
} tg_terminal_info;

/* Fills *out with the terminal's identity. */
TG_EXTERN int tg_terminal_get_info(tg_terminal *t, tg_terminal_info *out);

/* ----- Sales ----------------------------------------------------------- */

/*
 * A sale being rung up, or a refund being prepared; it lives in memory until
 * tg_sale_commit() or tg_sale_void() writes it, and is freed with
 * tg_sale_free() in every case.
 */
typedef struct tg_sale tg_sale;

typedef struct {
  const char *sku;        /* SKU, PLU or barcode; 1..TG_MAX_SKU bytes */
  const char *name;       /* 1..TG_MAX_NAME bytes */
  int64_t qty_milli;      /* quantity in thousandths: 1500 = 1.5 kg */
  int64_t unit_price;     /* minor units per whole unit */
  int64_t discount;       /* line discount in minor units, 0..line amount */
} tg_line;

typedef enum {
  TG_TENDER_CASH = 1,
  TG_TENDER_CARD,
  TG_TENDER_WALLET, /* mobile wallet: WeChat Pay, Alipay, ... */
  TG_TENDER_COUPON,
  TG_TENDER_POINTS
} tg_tender_kind;

/* Returns "cash", "card", ...; NULL for an unknown kind. */
TG_EXTERN const char *tg_tender_name(tg_tender_kind kind);
/* Parses "cash", "card", ...; returns the kind or TG_ETENDER. */
TG_EXTERN int tg_tender_parse(const char *name);

typedef struct {
  int64_t subtotal;        /* sum of lines after line discounts */
  int64_t order_discount;  /* spread over the lines */
  int64_t total;           /* subtotal - order_discount = sum of line amounts */
  int64_t tendered;
  int64_t change;          /* given back in cash */
} tg_totals;

/*
 * Begins a sale. uuid is the host POS's own id for it (canonical UUID text,
 * copied): committing the same uuid again returns the first receipt number and
 * writes nothing. On success *out must be freed with tg_sale_free().
 */
TG_EXTERN int tg_sale_begin(tg_terminal *t, const char *uuid, tg_sale **out);

/* Adds a line (strings copied). Refused lines change nothing. */
TG_EXTERN int tg_sale_add_line(tg_sale *s, const tg_line *line);

/*
 * Sets the order discount in minor units, or in basis points of the subtotal
 * (1000 = 10%, rounded half-up). The later call replaces the earlier.
 */
TG_EXTERN int tg_sale_set_order_discount(tg_sale *s, int64_t amount);
TG_EXTERN int tg_sale_set_order_discount_percent(tg_sale *s, int64_t basis_points);

/*
 * Names who rang up the sale (cashier) and the shop guide credited with it
 * (guide), each a name or staff id of at most TG_MAX_STAFF bytes of UTF-8, or
 * NULL for none (copied). They are printed on the receipt and recorded for HQ,
 * and belong to the request: a retry must name the same people. The later
 * call replaces the earlier; a refused call changes nothing.
 */
TG_EXTERN int tg_sale_set_staff(tg_sale *s, const char *cashier, const char *guide);

/* Adds a tender (reference copied; may be NULL). Amount must be positive. */
TG_EXTERN int tg_sale_add_tender(tg_sale *s, tg_tender_kind kind, int64_t amount,
                                 const char *reference);

/* Computes the totals the commit would write, without writing anything. */
TG_EXTERN int tg_sale_get_totals(tg_sale *s, tg_totals *out);

/*
 * Writes the sale, its lines, tenders and outbox record in one durable
 * transaction and copies "STORE-TERMINAL-N" into receipt (TG_RECEIPT_MAX
 * bytes, or NULL). When this returns 0 the sale survives power loss. When it
 * fails the sale is not in the ledger -- except after an I/O error on the
 * final sync, when the disk may hold it after all: so on any failure retry
 * under the same uuid (here or after a restart), which returns the receipt
 * number if the sale was recorded and records it if not. Never re-ring a
 * failed sale under a new uuid.
 */
TG_EXTERN int tg_sale_commit(tg_sale *s, char receipt[TG_RECEIPT_MAX]);

/*
 * Records that the sale was abandoned before commit (its lines, for audit)
 * with an outbox record and no receipt number. A sale with no lines records
 * nothing.
 */
TG_EXTERN int tg_sale_void(tg_sale *s);

/* Frees a sale, committed or not. Accepts NULL. */
TG_EXTERN void tg_sale_free(tg_sale *s);

/* ----- Refunds --------------------------------------------------------- */

/*
 * Begins a refund of the sale printed as receipt ("STORE-TERMINAL-N") under
 * the host's own uuid. Add lines with tg_refund_add_line() or
 * tg_refund_add_all(), optionally tenders (default: all in cash), then
 * tg_sale_commit(). A refund can never return more of a line than was sold,
 * across all refunds of that receipt.
 */
TG_EXTERN int tg_refund_begin(tg_terminal *t, const char *uuid, const char *receipt,
                              tg_sale **out);
/* Refunds qty_milli of the original line line_no (1-based). */
TG_EXTERN int tg_refund_add_line(tg_sale *r, int line_no, int64_t qty_milli);
/* Refunds everything of the original receipt not yet refunded. */
TG_EXTERN int tg_refund_add_all(tg_sale *r);

/* ----- Reading back ---------------------------------------------------- */

typedef enum { TG_RECORD_SALE = 1, TG_RECORD_REFUND, TG_RECORD_VOID } tg_record_kind;

typedef struct {
  int line_no;
  const char *sku;
  const char *name;
  int64_t qty_milli;
  int64_t unit_price;
  int64_t line_discount;
  int64_t order_discount; /* this line's share of the order discount */
  int64_t amount;         /* what the line costs (or refunds) */
  int original_line;      /* refunds: the line refunded; else 0 */
  int64_t refunded_milli; /* sales: quantity refunded so far */
  int64_t refunded_amount; /* sales: money refunded so far for this line */
} tg_receipt_line;

typedef struct {
  tg_tender_kind kind;
  int64_t amount;
  const char *reference; /* "" when none */
} tg_receipt_tender;

typedef struct {
  tg_record_kind kind;
  int64_t seq;
  char receipt[TG_RECEIPT_MAX];          /* "" for a void */
  char original_receipt[TG_RECEIPT_MAX]; /* refunds only, else "" */
  char uuid[TG_UUID_LEN + 1];
  int64_t time_ms;                       /* UTC milliseconds */
  tg_totals totals;
  int n_lines;
  tg_receipt_line *lines;
  int n_tenders;
  tg_receipt_tender *tenders;
  char cashier[TG_MAX_STAFF + 1];        /* "" when the sale named none */
  char guide[TG_MAX_STAFF + 1];
} tg_receipt;

/* Loads a committed sale or refund by receipt number. Free with tg_receipt_free(). */
TG_EXTERN int tg_receipt_load(tg_terminal *t, const char *receipt, tg_receipt **out);
/* Frees what tg_receipt_load() returned. Accepts NULL. */
TG_EXTERN void tg_receipt_free(tg_receipt *r);

/* ----- Outbox ---------------------------------------------------------- */

typedef struct {
  int64_t last_seq;         /* highest seq written */
  int64_t acked_through;    /* highest seq HQ has acknowledged */
  int64_t depth;            /* records waiting to be sent */
  int64_t oldest_unsent_seq; /* 0 when the queue is empty */
  int64_t oldest_unsent_ms;  /* its time, UTC ms; 0 when empty */
  int64_t db_bytes;         /* database plus its WAL on disk */
} tg_status;

/* Fills *out with the outbox queue's state and the database's size on disk. */
TG_EXTERN int tg_status_get(tg_terminal *t, tg_status *out);

/*
 * Calls fn for each outbox record with seq > after_seq in seq order, at most
 * limit records (0 = all), with the record as one line of JSON exactly as it
 * was committed (valid only during the call; fn must not use t). A non-zero
 * return from fn stops the walk and is returned.
 */
typedef int (*tg_record_fn)(void *ctx, int64_t seq, const char *json, size_t len);
TG_EXTERN int tg_outbox_each(tg_terminal *t, int64_t after_seq, int64_t limit,
                             tg_record_fn fn, void *ctx);

/* ----- Host POS JSON --------------------------------------------------- */

/*
 * Builds an uncommitted sale from the host POS's JSON (at most 1 MiB):
 *   {"uuid": "…", "lines": [{"sku","name","qty" | "qty_milli","unit_price",
 *    "discount"?}], "order_discount"? | "order_discount_bp"?,
 *    "tenders"?: [{"kind","amount","reference"?}]}
 * Amounts are integers in minor units; fractions are refused. On success
 * *out must be freed with tg_sale_free(); on failure nothing is allocated.
 */
TG_EXTERN int tg_sale_from_json(tg_terminal *t, const char *json, size_t len,
                                tg_sale **out);

#ifdef __cplusplus
}
#endif
#endif /* TILLGROUP_H */
