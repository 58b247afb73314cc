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
  XX(EWRONGSTORE, -39, "code is for another store")                              \
  XX(ESPENT, -40, "coupon was already used")                                      \
  XX(EREVOKED, -41, "coupon was withdrawn by head office")                        \
  XX(ELEASE, -42, "this till's offline allowance is used up: it renews when the till syncs") \
  XX(EMINSPEND, -43, "the sale does not reach the minimum spend for this offer")  \
  XX(ELIMIT, -44, "the member has reached the limit for this offer")             \
  XX(ECAMPAIGN, -45, "this offer is not running at this store now")             \
  XX(EBUNDLE, -46, "config bundle refused: the previous one stays in force")     \
  XX(EUNKNOWNCODE, -47, "unknown code")                                          \
  XX(ECHECKDIGIT, -48, "barcode misread (check digit wrong): scan it again")      \
  XX(EINVITE, -49, "this code is for the customer's phone camera, not the till")  \
  XX(EMEMBER, -50, "the sale already has a member, or needs one for this")       \
  XX(EREFERRAL, -51, "a referral code counts only on a new buyer's purchase")      \
  XX(ENOTENROLLED, -52, "this till is not enrolled at head office: run 'tillgroup enrol'") \
  XX(EOFFLINE, -53, "head office cannot be reached: sales are kept and sent later") \
  XX(EHQAUTH, -54, "head office refused this till's credential: enrol it again")  \
  XX(EHQ, -55, "head office refused the upload: call support with the detail")    \
  XX(ESYNCING, -56, "another sync is already running for this till")             \
  XX(ECREDENTIAL, -57, "enrolment credential is damaged or mistyped")                 \
  XX(EPRINTER, -58, "the printer cannot print now: the receipt waits and prints when it is back")

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
/*
 * Returns a static sentence for the cashier about code, in lang ("zh" or "en";
 * anything else is English): what to tell the customer or do next, e.g. for
 * TG_ESPENT "券已使用过，不能再用" / "This coupon has already been used."
 */
TG_EXTERN const char *tg_cashier_message(int code, const char *lang);

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
#define TG_CODE_MAX 240                 /* characters of a scanned code; longer is unknown */
#define TG_PRODUCT_MAX 48               /* characters of a product barcode's data */

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
  const char *category;   /* for campaign rules; NULL or 1..TG_MAX_SKU bytes */
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
  int64_t total;           /* sum of line amounts */
  int64_t tendered;
  int64_t change;          /* given back in cash */
  int64_t promotion;       /* campaign rules and coupons, before the order discount:
                              total = subtotal - promotion - order_discount */
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

typedef enum {
  TG_RECORD_SALE = 1,
  TG_RECORD_REFUND,
  TG_RECORD_VOID,
  TG_RECORD_REDEEM /* a coupon redeemed outside a sale (tg_coupon_redeem) */
} tg_record_kind;

typedef struct {
  int line_no;
  const char *sku;
  const char *name;
  int64_t qty_milli;
  int64_t unit_price;
  int64_t line_discount;
  int64_t promotion;      /* campaign rules and coupons on this line */
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
  uint32_t campaign;
  const char *name;       /* the campaign's name, "" when it has none */
  int64_t amount;         /* off the sale */
} tg_receipt_promotion;

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
  uint64_t member;                       /* 0 when no member code was scanned */
  int n_promotions;
  tg_receipt_promotion *promotions;
  int64_t points_earned, points_spent;
  char invite[TG_CODE_MAX + 1];          /* the invite token printed, "" none */
  int64_t invite_expires_ms;
  char coupon[TG_CODE_MAX + 1];          /* a coupon token the sale issued, "" none */
  int64_t coupon_value;                  /* its amount off, or basis points when coupon_percent */
  int coupon_percent;
  int64_t coupon_min_spend;
  int64_t coupon_expires_ms;
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
  int enrolled;             /* 1 once 'tillgroup enrol' has run */
  int64_t dead_letters;     /* records HQ rejected, kept in the dead-letter table */
  int64_t last_sync_ms;     /* last upload HQ acknowledged, UTC ms; 0 never */
  int64_t last_error_ms;    /* last failed exchange with HQ, UTC ms; 0 none */
  char last_error[160];     /* its one-line reason, "" none */
  int64_t print_waiting;    /* receipts waiting for the printer */
} tg_status;

/* Fills *out with the outbox queue's state and the database's size on disk. */
TG_EXTERN int tg_status_get(tg_terminal *t, tg_status *out);

/* ----- Printing -------------------------------------------------------- */

typedef struct {
  const char *printer; /* "usb" (NULL: the first receipt printer), "usb:VVVV:PPPP",
                          "tcp://HOST[:PORT]" (raw, port 9100) or "file:PATH" */
  const char *config;  /* INI file with [printer] and [receipt]; NULL: $TILLGROUP_CONFIG,
                          else the embedded defaults (58 mm, GB18030) */
  int timeout_ms;      /* bounds connecting, each write and each status read; 0: 5000 */
} tg_print_options;

typedef struct {
  int printed;       /* receipts this call printed */
  int64_t waiting;   /* receipts still waiting for the printer */
  char printer[96];  /* the printer used, as "usb:04b8:0202"; "" when none was opened */
} tg_print_result;

/*
 * Queues committed receipt ("STORE-TERMINAL-N") for printing, marked
 * COPY/补打 when copy. The job is stored durably before this returns; nothing
 * is sent until tg_print_pending(). *job (may be NULL) gets its id.
 * TG_ENORECEIPT for a receipt this till did not print.
 */
TG_EXTERN int tg_print_enqueue(tg_terminal *t, const char *receipt, int copy, int64_t *job);
/*
 * Prints the waiting receipts, oldest first, on the printer o names (o may be
 * NULL). A printer that can report its status is asked before and after each
 * receipt: paper out, cover open, a jammed cutter or offline leave it
 * waiting. A receipt of which some bytes reached the printer (unplugged,
 * timed out, paper ran out mid-way) waits and prints again marked COPY.
 * Returns 0 when nothing waits; TG_EPRINTER, with what the cashier must do in
 * tg_last_detail(), when receipts still wait (sales are never affected);
 * TG_EINVAL for a malformed printer name or configuration file, TG_ENOENT
 * when that file is missing. out->waiting is filled in every case.
 */
TG_EXTERN int tg_print_pending(tg_terminal *t, const tg_print_options *o, tg_print_result *out);
/* Opens the cash drawer wired to the printer o names (ESC p, pin 2). TG_EPRINTER when it cannot. */
TG_EXTERN int tg_drawer_open(tg_terminal *t, const tg_print_options *o);

/*
 * Calls fn for each outbox record with seq > after_seq in seq order, at most
 * limit records (0 = all), with the record as one line of JSON exactly as it
 * was committed (valid only during the call; fn must not use t). A non-zero
 * return from fn stops the walk and is returned.
 */
typedef int (*tg_record_fn)(void *ctx, int64_t seq, const char *json, size_t len);
TG_EXTERN int tg_outbox_each(tg_terminal *t, int64_t after_seq, int64_t limit,
                             tg_record_fn fn, void *ctx);

/* ----- Sync with HQ (docs/sync-protocol.md) ---------------------------- */

typedef struct {
  const char *url;        /* HQ base URL, https://host[:port]; http:// only to loopback */
  const char *credential; /* the line 'tillgroup-hq enrol' printed for this terminal */
  const char *pinned_key; /* NULL, or "sha256//BASE64" of HQ's TLS public key */
  const char *ca_file;    /* NULL: the system's certificate authorities */
  const char *cert_file;  /* NULL, or a client certificate (PEM) ... */
  const char *key_file;   /* ... and its key */
  const char *proxy;      /* NULL: https_proxy / no_proxy from the environment */
} tg_hq_config;

/*
 * Enrols this terminal at HQ: stores the URL, the TLS settings and the
 * credential (whose store and terminal must be this terminal's, else
 * TG_ECREDENTIAL), and re-keys invites with the key HQ derives from it.
 * Enrolling again replaces all of it. Nothing is sent; the next sync is
 * the first contact. Copies every string.
 */
TG_EXTERN int tg_hq_enrol(tg_terminal *t, const tg_hq_config *cfg);

typedef struct {
  int64_t last_seq;       /* highest seq written when the sync began */
  int64_t acked_through;  /* HQ's acknowledgement so far */
  int64_t records_sent;   /* in this run, retries included */
  int64_t bytes_sent;     /* request bodies on the wire (gzip) in this run */
  int64_t elapsed_ms;     /* since the run began */
  int64_t dead_letters;   /* rejected by HQ, in all */
  int waiting_ms;         /* > 0: backing off before a retry for this long */
} tg_sync_progress;

typedef void (*tg_sync_progress_fn)(void *ctx, const tg_sync_progress *p);

typedef struct {
  int once;                    /* 1: send what is queued, fetch the bundle, return */
  int64_t give_up_ms;          /* once: stop retrying after this long offline (0: 60 s) */
  int64_t poll_ms;             /* not once: wait between passes (0: 30 s) */
  int stall_s;                 /* an exchange under 64 bytes/s this long is retried (0: 30 s) */
  tg_sync_progress_fn progress; /* NULL, or called after each exchange and each wait */
  void *ctx;
  volatile int *stop;          /* NULL, or set non-zero (a signal handler may) to stop soon */
} tg_sync_options;

/*
 * Sends the outbox to HQ, one uploader per database (a second one gets
 * TG_ESYNCING): contiguous batches from the checkpoint, the checkpoint moved
 * only by HQ's acknowledgement, records HQ rejects kept as dead letters;
 * then fetches the config bundle and applies it if HQ's signature checks.
 * Transient failures are retried with backoff. Returns 0 when the queue was
 * drained (once) or when stopped; TG_ENOTENROLLED, TG_EOFFLINE (gave up),
 * TG_EHQAUTH, TG_EHQ, TG_EBUNDLE (bad bundle refused; the previous stays)
 * otherwise, with the detail. A bundle that failed does not stop uploads.
 */
TG_EXTERN int tg_sync_run(tg_terminal *t, const tg_sync_options *opt);

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

/* ----- Community: bundle, scanned codes, members and coupons ---------- */

/*
 * Applies a config bundle from HQ (JSON, docs/bundle.md; at most 16 MiB): its
 * campaigns, keys, member tiers and offline leases, members and revoked
 * coupons replace the previous bundle's in one transaction. Refused with
 * TG_EBUNDLE and the reason in tg_last_detail() when it is invalid, for
 * another store, or not newer than the bundle in force, which then stays.
 * Applying the bundle in force again changes nothing and returns 0.
 */
TG_EXTERN int tg_bundle_apply(tg_terminal *t, const char *json, size_t len);

typedef struct {
  int64_t version;      /* 0: no bundle applied yet */
  char store[TG_ID_MAX + 1]; /* the store it names, or "*" */
  int64_t applied_ms;
  int n_campaigns;
  int64_t n_members;
  int64_t n_revoked;
  int n_keys;
  int invites;          /* 1: qualifying sales print an invite */
  int64_t invite_min_spend;
  int invite_days;
} tg_bundle_info;

/* Describes the bundle in force (version 0 when none). */
TG_EXTERN int tg_bundle_get_info(tg_terminal *t, tg_bundle_info *out);

typedef enum {
  TG_CODE_PRODUCT = 1, /* a product barcode: for the host POS to look up */
  TG_CODE_MEMBER,      /* a member's code from their phone */
  TG_CODE_COUPON,      /* a coupon, printed or on a phone */
  TG_CODE_REFERRAL,    /* a member's referral code, shown by a new buyer */
  TG_CODE_INVITE       /* a receipt's group invite: for the customer's phone camera */
} tg_code_kind;

typedef struct {
  tg_code_kind kind;        /* 0 when the code was not recognised */
  char product[TG_PRODUCT_MAX + 1]; /* product: the barcode data, without an AIM prefix */
  const char *symbology;    /* product: "ean13", "ean8", "upca", "upce", "code128" */
  uint64_t member;          /* member; referral: the referrer */
  int tier;                 /* member: tier from the bundle (else the code's) */
  char tags[129];           /* member: tags from the bundle, "vip,tea"; "" when none */
  int64_t points_available; /* member: points spendable offline on this terminal now */
  uint64_t coupon;          /* coupon: its id */
  uint32_t campaign;        /* coupon: its campaign */
  int percent;              /* coupon: 1 when value is basis points, 0 minor units */
  int64_t value;            /* coupon: amount off, or basis points off */
  int64_t min_spend;        /* coupon */
  int single_use;           /* coupon */
  char store[TG_ID_MAX + 1]; /* invite: where it was printed */
  char terminal[TG_ID_MAX + 1];
  int64_t receipt_no;       /* invite */
  int64_t expires_ms;       /* member, coupon, referral, invite: UTC ms */
} tg_code;

/*
 * Reads a scanned code (len bytes; a trailing CR, LF or Tab is ignored) and
 * says what it is, proving tokens with the bundle's keys and judging them now:
 * 0 with out->kind a product, member, coupon or referral; else a refusal code
 * with out->kind set when it was recognised -- TG_EINVITE for an invite (kind
 * TG_CODE_INVITE), TG_ETOKEN, TG_EFORGED, TG_EKEY, TG_EVERSION, TG_EEXPIRED,
 * TG_ENOTYET, TG_EWRONGSTORE, TG_ESPENT, TG_EREVOKED, TG_ELEASE,
 * TG_ECAMPAIGN, TG_ECHECKDIGIT or TG_EUNKNOWNCODE -- and tg_last_detail()
 * says why. Records nothing. tg_cashier_message() gives the cashier's words.
 */
TG_EXTERN int tg_code_read(tg_terminal *t, const char *text, size_t len, tg_code *out);

/*
 * Reads a scanned code as tg_code_read() does and applies it to the open
 * sale: a member is attached (one per sale), a coupon added (at most 8, each
 * once; its minimum spend and the member's limit judged now and again at
 * commit), a referral code taken (only on a sale without a member). A
 * product code is only returned, for the host to add its line. A refused
 * code changes nothing. Codes are part of the request: a retried commit
 * must apply the same codes.
 */
TG_EXTERN int tg_sale_apply_code(tg_sale *s, const char *text, size_t len, tg_code *out);

/* Takes every code applied to the open sale off it again. */
TG_EXTERN int tg_sale_clear_codes(tg_sale *s);

/*
 * Redeems a coupon outside a sale (a gift handed over at the counter) under
 * the host's uuid, as its own outbox record. Same checks as a scan, and a
 * single-use coupon is spent; retrying the uuid returns 0 and writes nothing.
 */
TG_EXTERN int tg_coupon_redeem(tg_terminal *t, const char *uuid, const char *text, size_t len,
                               tg_code *out);

#ifdef __cplusplus
}
#endif
#endif /* TILLGROUP_H */
