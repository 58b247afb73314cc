/* Contract of the community engine in pos/: the config bundle, campaign
 * rules, product barcodes and the cashier's messages. Included by pos.h. */
#ifndef TG_COMMUNITY_H
#define TG_COMMUNITY_H

#include <stdint.h>

/* ----- bundle.c: the config bundle HQ sends (docs/bundle.md) ----- */
#define TG__BUNDLE_MAX (16 * 1024 * 1024) /* bytes of bundle JSON */
#define TG__BUNDLE_RULES 256              /* campaigns in one bundle */
#define TG__BUNDLE_KEYS 64
#define TG__BUNDLE_TIERS 16               /* member tiers 0..15 */
#define TG__BUNDLE_MEMBERS 500000
#define TG__BUNDLE_REVOKED 1000000
#define TG__RULE_LIST 64                  /* SKUs or categories one rule names */
#define TG__RULE_STEPS 8                  /* thresholds of 满减, tiers of a group-buy */
#define TG__RULE_WINDOWS 8                /* time windows of a flash sale */
#define TG__TAGS_MAX 128                  /* bytes: a member's tags, comma-separated */
#define TG__URL_MAX 128                   /* the invite URL prefix */
#define TG__BUNDLE_COUPONS 10000          /* settlement coupons HQ sends to members in one bundle */
#define TG__SETTLEMENT_KEY_ID 0x4851      /* HQ's coupon key id (sync/hq.h TG__HQ_COUPON_KEY_ID) */

typedef enum {
  TG__RULE_WELCOME = 1, /* a new member's first purchase issues a coupon */
  TG__RULE_THRESHOLD,   /* spend-X-save-Y, several steps (满减) */
  TG__RULE_PERCENT,     /* percent off SKUs or categories */
  TG__RULE_FIXED,       /* a fixed amount off the order */
  TG__RULE_REFERRAL,    /* a new buyer with a member's referral code */
  TG__RULE_GROUP_BUY,   /* a SKU at the group's current tier price */
  TG__RULE_FLASH,       /* a SKU at a price inside time windows, with a quota */
  TG__RULE_COUPON,      /* conditions on redeeming coupons of this campaign */
  TG__RULE_POINTS       /* points earned per amount spent */
} tg__rule_type;

typedef struct {
  int64_t spend, off; /* a subtotal of at least spend takes off off */
} tg__step;

typedef struct {
  int size;      /* members in the group */
  int64_t price; /* unit price at that size */
} tg__group_tier;

typedef struct {
  unsigned days; /* bit 0 Monday .. bit 6 Sunday: the day the window opens */
  int from, to;  /* minutes of the local day, from 0..1439, to 1..1440; to <= from runs past
                    midnight into the next day */
} tg__window;

typedef struct {
  uint32_t id; /* > 0, unique in the bundle: the campaign id on coupons and records */
  tg__rule_type type;
  char name[TG__NAME_MAX + 1]; /* printed on the receipt */
  int exclusive;               /* 1: combines with no other rule (best for the customer wins) */
  int members_only;            /* 1: applies only when a member is on the sale */
  int64_t from_ms, until_ms;   /* active in [from, until), UTC ms; 0 = unbounded */
  char (*skus)[TG_MAX_SKU + 1]; /* percent: lines it covers (with categories); flash,
                                   group_buy: exactly one */
  int n_skus;
  char (*categories)[TG_MAX_SKU + 1];
  int n_categories;
  int64_t percent_bp;          /* percent: 1..10000 */
  int64_t off;                 /* fixed: amount off; referral: the referee's amount off */
  int64_t min_spend;           /* fixed, referral: spend needed */
  tg__step steps[TG__RULE_STEPS]; /* threshold: ascending spend */
  int n_steps;
  tg__group_tier tiers[TG__RULE_STEPS]; /* group_buy: ascending size, descending price */
  int n_tiers;
  int joined;                  /* group_buy: members in the group when HQ made the bundle */
  char group[TG_ID_MAX + 1];   /* group_buy: the group-buy id, A-Z 0-9 */
  int64_t price;               /* flash: unit price inside a window */
  tg__window windows[TG__RULE_WINDOWS]; /* flash: in the store's time zone */
  int n_windows;
  char lease[TG_ID_MAX + 1];   /* flash, coupon: the lease quota belongs to ("" none) */
  int64_t quota;               /* flash: thousandths of a unit leased to this store;
                                  coupon: redemptions leased; 0 = none left */
  int64_t per_member;          /* flash: thousandths per member; coupon: redemptions per
                                  member; 0 = no limit */
  int64_t rebate;              /* referral: what the referrer earns, settled by HQ */
  int coupon_kind;             /* welcome: TG__COUPON_AMOUNT or TG__COUPON_PERCENT */
  int64_t coupon_value;        /* welcome: minor units or basis points */
  int64_t coupon_min_spend;    /* welcome */
  int coupon_days;             /* welcome: 1..3650 days valid */
  int64_t per, points;         /* points: `points` points per `per` minor units paid */
} tg__rule;

typedef struct {
  int tier;                    /* 0..TG__BUNDLE_TIERS-1 */
  char name[TG__NAME_MAX + 1];
  int64_t points_bp;           /* points multiplier: 10000 = x1 */
} tg__tier;

typedef struct {
  uint64_t id;                 /* > 0 */
  int tier;
  char tags[TG__TAGS_MAX + 1]; /* "vip,tea"; tags are 1-32 of a-z 0-9 _ - */
  int64_t points_lease;        /* points this member may spend offline on this terminal */
  int is_new;                  /* joined and not yet bought: earns the welcome coupon */
} tg__member;

/* A coupon HQ settled for a member (a referral rebate, a group-buy difference), waiting for
 * the member's code to be scanned on a sale. */
typedef struct {
  uint64_t member;                     /* 1..2^53-1 */
  uint64_t coupon;                     /* the token's coupon id */
  char token[TG__TOKEN_TEXT_MAX + 1];  /* Base45, proven by the bundle's coupon keys */
  char store[TG_ID_MAX + 1];           /* the one till it is leased to: only that one applies */
  char terminal[TG_ID_MAX + 1];        /* it (tills offline cannot share who spent it) */
} tg__bundle_coupon;

typedef struct tg__bundle {
  int64_t version;             /* > 0; a terminal takes only a newer version */
  char store[TG_ID_MAX + 1];   /* the store it is for, or "*" for every store */
  int invites;                 /* 1: receipts of qualifying sales carry an invite */
  int64_t invite_min_spend;    /* a sale's total must reach this */
  int invite_days;             /* 1..365 */
  char invite_url[TG__URL_MAX + 1]; /* "HTTPS://HQ.EXAMPLE.COM/J/": upper case, alphanumeric
                                       mode characters only, ends in '/' */
  int64_t point_value;         /* minor units one point pays; 0: points cannot pay */
  int64_t points_max_bp;       /* share of a sale points may pay, 0..10000 */
  tg__token_key keys[TG__BUNDLE_KEYS]; /* public keys of roles M, C, R (never I) */
  int n_keys;
  tg__tier tiers[TG__BUNDLE_TIERS];
  int n_tiers;
  tg__rule *rules;             /* in the bundle's order */
  int n_rules;
  tg__member *members;         /* ascending id */
  int n_members;
  uint64_t *revoked;           /* coupon ids, ascending */
  int n_revoked;
  tg__bundle_coupon *coupons;  /* in the bundle's order */
  int n_coupons;
} tg__bundle;

/* Parses and validates bundle JSON (at most TG__BUNDLE_MAX bytes). On success
 * *out is a bundle to free with tg__bundle_free(); on refusal returns
 * TG_EBUNDLE (or TG_ENOMEM), *out is NULL and why holds one line naming the
 * field and the problem, e.g. "campaigns[3].steps[1]: spend must rise". */
int tg__bundle_parse(const char *json, size_t n, tg__bundle **out, char *why, size_t why_len);
/* Frees a bundle. Accepts NULL. */
void tg__bundle_free(tg__bundle *b);
/* The rule with id, or NULL. */
const tg__rule *tg__bundle_rule(const tg__bundle *b, uint32_t id);
/* The points multiplier of tier in basis points (10000 when the bundle names none). */
int64_t tg__bundle_tier_bp(const tg__bundle *b, int tier);
/* The name of a rule type as written in bundles ("threshold"), or NULL. */
const char *tg__rule_type_name(tg__rule_type type);

/* ----- promo.c: campaign rules evaluated at commit (docs/campaigns.md) ----- */

/* What the database says has been used so far, asked for by the evaluation. */
typedef enum {
  TG__USED_FLASH_STORE = 1, /* thousandths sold at a flash price under the rule's lease */
  TG__USED_FLASH_MEMBER     /* thousandths this member bought at the flash price, same lease */
} tg__usage;
/* Sets *out to what was used; returns 0 or an error code (which the
 * evaluation returns as it is). */
typedef int (*tg__usage_fn)(void *ctx, tg__usage what, const tg__rule *rule, uint64_t member,
                            int64_t *out);

typedef struct {
  const tg__bundle *bundle;     /* NULL: no rules apply */
  const tg__line *lines;        /* sku, category, qty_milli, unit_price, line_discount */
  int n_lines;
  int64_t now_ms;               /* UTC */
  int local_day;                /* in the store's zone: 0 Monday .. 6 Sunday */
  int local_minute;             /* 0..1439 */
  uint64_t member;              /* 0: no member on the sale */
  int tier;                     /* the member's tier */
  int member_new;               /* the member is new: welcome rules apply */
  const tg__token *coupons;     /* scanned coupons, proven and judged for time and store */
  int n_coupons;
  const tg__token *referral;    /* a scanned referral code, or NULL */
  tg__usage_fn used;
  void *used_ctx;
} tg__promo_input;

typedef struct tg__promo_applied {
  uint32_t campaign;            /* the rule's id, or a coupon's campaign */
  tg__rule_type type;
  int64_t amount;               /* the discount it gave (>= 0) */
  int line;                     /* flash, group_buy, percent on one line: 1-based; else 0 */
  int64_t qty_milli;            /* flash, group_buy: thousandths at the rule's price */
  int64_t price;                /* flash, group_buy: the unit price charged */
  int group_size;               /* group_buy: the tier charged */
  uint64_t coupon;              /* a redeemed coupon's id, else 0 */
} tg__promo_applied;

typedef struct {
  int64_t *line_off;            /* n_lines discounts, each <= the line after its own discount */
  int64_t total_off;            /* their sum */
  tg__promo_applied *applied;   /* in evaluation order */
  int n_applied;
  const tg__rule *welcome;      /* the welcome rule whose coupon this sale issues, or NULL */
  const tg__rule *referral;     /* the referral rule applied, or NULL */
} tg__promo_result;

/* 1 when rule r is active at now_ms (from <= now < until, 0 unbounded) for a
 * sale with member (0: none; a members-only rule needs one), else 0. */
int tg__rule_active(const tg__rule *r, int64_t now_ms, uint64_t member);
/* Evaluates every rule of in->bundle against the sale in in, in the order and
 * with the stacking documented in docs/campaigns.md, then the scanned coupons.
 * Deterministic: the same input gives the same result. On success fills *out
 * (free with tg__promo_result_free()). Returns 0, TG_ENOMEM, TG_EMINSPEND (a
 * coupon's or the referral's minimum spend is not reached after the rules),
 * or what in->used returned; on failure *out holds nothing to free. */
int tg__promo_evaluate(const tg__promo_input *in, tg__promo_result *out);
/* Frees what tg__promo_evaluate() filled in. Accepts a zeroed result. */
void tg__promo_result_free(tg__promo_result *r);
/* Points a member of tier earns for paying paid (minor units, after every
 * discount and without what points paid) under the bundle's active points
 * rules at now_ms: for each, floor(paid / per) * points, times the tier's
 * multiplier in basis points, rounded down; summed. 0 when member is 0. */
int64_t tg__promo_points(const tg__bundle *b, int64_t now_ms, uint64_t member, int tier,
                         int64_t paid);

/* ----- barcode.c: product barcodes as scanners send them ----- */
typedef enum {
  TG__BARCODE_EAN13 = 1,
  TG__BARCODE_EAN8,
  TG__BARCODE_UPCA,
  TG__BARCODE_UPCE,
  TG__BARCODE_CODE128
} tg__barcode_kind;
#define TG__BARCODE_MAX TG_PRODUCT_MAX /* characters of Code 128 data accepted as a product code */
/* Classifies a scan as a product barcode: digits with a valid EAN-13, EAN-8,
 * UPC-A or UPC-E check digit, or other printable ASCII of at most
 * TG__BARCODE_MAX characters (Code 128). An AIM symbology identifier (]E0,
 * ]E4, ]C0, ]C1 ...) is honoured and removed. Copies the data without the
 * identifier to data (TG__BARCODE_MAX + 1 bytes). Returns the kind, or
 * TG_ECHECKDIGIT (an EAN/UPC length of digits whose check digit is wrong),
 * or TG_EUNKNOWNCODE (no product barcode). */
int tg__barcode_classify(const char *text, size_t n, char *data);
/* "ean13", "ean8", "upca", "upce", "code128"; NULL for anything else. */
const char *tg__barcode_name(tg__barcode_kind kind);

/* ----- keyring.c ----- */
/* Makes the terminal's own secrets inside the caller's transaction: a random
 * invite HMAC secret (key id 1) and an Ed25519 coupon key (an id in
 * 0x8000..0xffff; HQ's keys use the lower half). */
int tg__keyring_create(tg_terminal *t);
/* Reads the terminal's key of role ('I' or 'C'): its id, n_secret bytes of
 * secret (32 for 'I', 64 for 'C'; NULL to skip) and for 'C' the public key
 * (32 bytes, or NULL). */
int tg__keyring_get(tg_terminal *t, char role, uint16_t *id, unsigned char *secret,
                    size_t n_secret, unsigned char *pub);

/* ----- bundle_store.c: the bundle in force ----- */
/* The bundle in force, read from the database on first use and kept on t
 * until another is applied (*out NULL when none was ever applied). */
int tg__bundle_current(tg_terminal *t, const tg__bundle **out);
/* The keys that prove scanned tokens: the bundle's and the terminal's own
 * coupon key. Valid until the next bundle is applied. */
int tg__keys_current(tg_terminal *t, const tg__token_key **keys, int *n);
/* Looks member id up among the bundle's members: 1 and *out filled, 0 when
 * the bundle does not list it, or an error code. */
int tg__member_find(tg_terminal *t, uint64_t id, tg__member *out);
/* Frees what t keeps of the bundle. */
void tg__bundle_unload(tg_terminal *t);

/* ----- bundle_coupons.c: settlement coupons HQ sends to members ----- */
struct json_t;
/* Reads the bundle's "coupons" array a (at most TG__BUNDLE_COUPONS entries of
 * {"member", "store", "terminal", "token"}, no other key; store and terminal
 * ids; each token a coupon proven by b's keys, which must be read already)
 * into b. 0, TG_EBUNDLE with why, or TG_ENOMEM. */
int tg__bundle_coupons_read(struct json_t *a, tg__bundle *b, char *why, size_t why_len);
/* Keeps those of b's coupons leased to this terminal (its store and terminal id) in its
 * database (inside the caller's transaction), ignoring the others; a coupon already kept
 * from an earlier bundle is kept once. */
int tg__bundle_coupons_store(tg_terminal *t, const tg__bundle *b);
/* Copies the tokens of at most max coupons waiting for member (oldest first; none that a
 * record other than the sale with uuid, 16 bytes, spent) into tokens[i]
 * (TG__TOKEN_TEXT_MAX + 1 bytes each) and sets *n. 0 or an error code. */
int tg__member_coupons(tg_terminal *t, uint64_t member, const unsigned char *uuid,
                       char (*tokens)[TG__TOKEN_TEXT_MAX + 1], int max, int *n);

/* ----- usage.c: what this terminal gave out offline ----- */
/* 1 when coupon id is revoked by the bundle or already spent here as single
 * use (*spent says which: 1 spent, 0 revoked), 0 when neither, or an error. */
int tg__usage_coupon_blocked(tg_terminal *t, uint64_t coupon, int *spent);
/* 1 when the record with uuid (16 bytes) spent coupon, 0 if not, or an error. */
int tg__usage_spent_by(tg_terminal *t, uint64_t coupon, const unsigned char *uuid);
/* Redemptions of campaign under lease, by member (0: by anyone). */
int tg__usage_coupon_count(tg_terminal *t, uint32_t campaign, const char *lease,
                           uint64_t member, int64_t *n);
/* Thousandths sold at the flash price of campaign under lease, by member (0: by anyone). */
int tg__usage_flash(tg_terminal *t, uint32_t campaign, const char *lease, uint64_t member,
                    int64_t *qty_milli);
/* Points member spent here under bundle version. */
int tg__usage_points(tg_terminal *t, uint64_t member, int64_t version, int64_t *points);
/* 1 when this terminal already issued campaign's coupon to member, 0 if not, or an error. */
int tg__usage_issued(tg_terminal *t, uint64_t member, uint32_t campaign);
/* Rows written with record seq, inside the caller's transaction. A second
 * single-use redemption of one coupon is TG_ESPENT. */
int tg__usage_add_redemption(tg_terminal *t, const tg__token *coupon, const char *lease,
                             uint64_t member, int64_t seq);
int tg__usage_add_flash(tg_terminal *t, uint32_t campaign, const char *lease, uint64_t member,
                        int64_t qty_milli, int64_t seq);
int tg__usage_add_points(tg_terminal *t, uint64_t member, int64_t version, int64_t points,
                         int64_t seq);
int tg__usage_add_issued(tg_terminal *t, uint64_t coupon, uint32_t campaign, uint64_t member,
                         int64_t seq);

/* ----- clock.c ----- */
/* The local weekday (0 Monday .. 6 Sunday) and minute of the day (0..1439)
 * of UTC ms in the terminal's time zone. */
int tg__local_time(tg_terminal *t, int64_t ms, int *day, int *minute);
/* Formats UTC ms as local time in zone tz with strftime-like fmt (GLib's
 * g_date_time_format) into buf (n bytes); "N ms" if the zone or time is
 * unknown. Returns buf. */
const char *tg__time_format(int64_t ms, const char *tz, const char *fmt, char *buf, size_t n);
/* Frees the zone t keeps. */
void tg__clock_unload(tg_terminal *t);

/* ----- code.c: scan routing ----- */
/* tg_code_read(), also returning the proven token in *token (zeroed for a
 * product) when token is not NULL. */
int tg__code_read(tg_terminal *t, const char *text, size_t len, tg_code *out, tg__token *token);
/* Writes the URL an invite token is printed as: the bundle's URL prefix and
 * the token with ' ', '%' and '/' percent-encoded (docs/tokens.md) into out
 * (n bytes). TG_ETOOLONG if it does not fit. */
int tg__invite_url(const char *prefix, const char *token, char *out, size_t n);
/* Judges a coupon token against its campaign's rule and this terminal's
 * usage for member (0: none yet): TG_ECAMPAIGN, TG_EREVOKED, TG_ESPENT,
 * TG_ELEASE, TG_ELIMIT or 0; *rule is the campaign's rule. */
int tg__coupon_judge(tg_terminal *t, const tg__token *coupon, uint64_t member,
                     const tg__rule **rule);

/* ----- sale_codes.c: the community side of a sale ----- */
/* Evaluates the bundle's rules and the sale's codes over its lines (whose
 * bases are already known), sets each line's promotion and *promotion, and
 * keeps what was applied for the record. */
int tg__sale_promote(tg_sale *s, int64_t *promotion);
/* Checks points tenders against the member, the bundle and the member's
 * lease; *points is the number of points they spend. */
int tg__sale_points_check(tg_sale *s, const tg_totals *tot, int64_t *points);
/* Inside the commit's transaction, once seq and the receipt number are known,
 * and after tg__sale_compute() with tenders judged the sale in the same
 * transaction (setting s->points_spent): spends the coupons, records flash
 * units and points, and writes the invite and the welcome coupon the sale
 * earns into s for its record. */
int tg__sale_community_write(tg_sale *s, const tg_totals *tot, int64_t seq, int64_t receipt_no,
                             int64_t now);
/* Frees what tg__sale_promote kept. */
void tg__sale_forget_promotions(tg_sale *s);

#endif /* TG_COMMUNITY_H */
