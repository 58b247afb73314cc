/* The config bundle HQ sends a terminal, read strictly (docs/bundle.md). */
#include <glib.h>
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pos.h"

#define FORMAT 1
#define ID53_MAX ((INT64_C(1) << 53) - 1) /* ids JSON carries exactly as numbers */
#define TAG_MAX 32                        /* bytes of one member tag */
#define INT_FIELD_MAX INT32_MAX           /* counts stored as int */
#define UNITS_MAX (TG_MAX_AMOUNT / 1000)  /* whole units kept in thousandths */
#define POINTS_MAX 1000000                /* points earned per step of a points rule */
#define WHERE_MAX 96                      /* "campaigns[255] (id 4294967295).windows[7]" */

static const char *const TYPE_NAMES[] = {NULL,    "welcome",   "threshold", "percent", "fixed",
                                         "referral", "group_buy", "flash",  "coupon",  "points"};
static const char *const DAY_NAMES[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

/* Where a refusal is written. */
typedef struct {
  char *why;
  size_t why_len;
} reader;

/* Writes "WHERE[.KEY]: MESSAGE" into the reason and returns TG_EBUNDLE. where
 * "" is the top level; with no key either the field is the bundle itself. */
static int fail(reader *r, const char *where, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(reader *r, const char *where, const char *key, const char *fmt, ...) {
  char msg[224];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (r->why != NULL && r->why_len > 0) {
    if (key == NULL)
      snprintf(r->why, r->why_len, "%s: %s", where[0] != '\0' ? where : "bundle", msg);
    else if (where[0] != '\0')
      snprintf(r->why, r->why_len, "%s.%s: %s", where, key, msg);
    else
      snprintf(r->why, r->why_len, "%s: %s", key, msg);
    tg__utf8_clean(r->why); /* one line of text, whatever jansson quoted */
  }
  return TG_EBUNDLE;
}

static int nomem(reader *r) {
  if (r->why != NULL && r->why_len > 0)
    snprintf(r->why, r->why_len, "out of memory reading the bundle");
  return TG_ENOMEM;
}

/* A copy of z fit to quote in a one-line reason: at most 40 bytes, bytes
 * outside printable ASCII shown as '?', "..." when cut. Returns out. */
static const char *show(const char *z, char out[48]) {
  size_t i = 0;
  for (; z[i] != '\0' && i < 40; i++)
    out[i] = z[i] >= 0x20 && z[i] < 0x7f ? z[i] : '?';
  memcpy(out + i, z[i] != '\0' ? "..." : "", z[i] != '\0' ? 4 : 1);
  return out;
}

/* What v is, in words, for "must be X, not Y". */
static const char *kind_of(const json_t *v) {
  static const char *const kinds[] = {"an object", "an array",   "text", "a whole number",
                                      "a number with a fraction", "true/false", "true/false",
                                      "null"};
  unsigned k = (unsigned)json_typeof(v);
  return k < sizeof kinds / sizeof kinds[0] ? kinds[k] : "something else";
}

/* ----- Typed fields --------------------------------------------------- */

/* Refuses any key of o not in allowed or more (each NULL-terminated; more may
 * be NULL); hint follows the reason. */
static int only_keys(reader *r, json_t *o, const char *where, const char *const *allowed,
                     const char *const *more, const char *hint) {
  const char *key;
  json_t *v;
  char q[48];
  json_object_foreach(o, key, v) {
    int known = 0;
    for (const char *const *a = allowed; *a != NULL && !known; a++)
      known = strcmp(key, *a) == 0;
    for (const char *const *a = more; a != NULL && *a != NULL && !known; a++)
      known = strcmp(key, *a) == 0;
    if (!known)
      return fail(r, where, NULL, "unknown field \"%s\"%s", show(key, q), hint);
  }
  return 0;
}

/* Checks that v is an integer within lo..hi and stores it in *out. */
static int int_value(reader *r, json_t *v, const char *where, const char *key, int64_t lo,
                     int64_t hi, int64_t *out) {
  char q[48];
  if (json_is_real(v))
    return fail(r, where, key, "must be a whole number, not %g", json_real_value(v));
  if (json_is_string(v))
    return fail(r, where, key, "must be a number, not the text \"%s\"",
                show(json_string_value(v), q));
  if (!json_is_integer(v))
    return fail(r, where, key, "must be a whole number, not %s", kind_of(v));
  long long x = json_integer_value(v);
  if (x < 0 && lo >= 0)
    return fail(r, where, key, "must not be negative (%lld)", x);
  if (x > hi && hi == TG_MAX_AMOUNT)
    return fail(r, where, key, "%lld is more than the largest amount, %lld", x, (long long)hi);
  if (x < lo || x > hi)
    return fail(r, where, key, "%lld is not within %lld..%lld", x, (long long)lo, (long long)hi);
  *out = x;
  return 0;
}

/* Reads integer key of o within lo..hi; when absent, dflt unless required. */
static int get_int(reader *r, json_t *o, const char *where, const char *key, int required,
                   int64_t dflt, int64_t lo, int64_t hi, int64_t *out) {
  json_t *v = json_object_get(o, key);
  if (v != NULL)
    return int_value(r, v, where, key, lo, hi, out);
  if (required)
    return fail(r, where, NULL, "\"%s\" is missing", key);
  *out = dflt;
  return 0;
}

/* The same for an int field. */
static int get_small(reader *r, json_t *o, const char *where, const char *key, int required,
                     int dflt, int lo, int hi, int *out) {
  int64_t x;
  int rc = get_int(r, o, where, key, required, dflt, lo, hi, &x);
  if (rc == 0)
    *out = (int)x;
  return rc;
}

/* Checks that v is text of min..max bytes of UTF-8 without control characters. */
static int str_value(reader *r, json_t *v, const char *where, const char *key, size_t min,
                     size_t max, const char **z, size_t *n) {
  if (!json_is_string(v))
    return fail(r, where, key, "must be text, not %s", kind_of(v));
  *z = json_string_value(v);
  *n = json_string_length(v);
  if (*n < min)
    return fail(r, where, key, *n == 0 ? "must not be empty" : "is too short");
  if (*n > max)
    return fail(r, where, key, "is %zu bytes; at most %zu are allowed", *n, max);
  if (!tg__utf8_valid(*z, *n))
    return fail(r, where, key, "is not valid UTF-8 text without control characters");
  return 0;
}

/* Reads text key of o (see str_value); *z is NULL when absent and optional. */
static int get_str(reader *r, json_t *o, const char *where, const char *key, int required,
                   size_t min, size_t max, const char **z, size_t *n) {
  json_t *v = json_object_get(o, key);
  *z = NULL;
  *n = 0;
  if (v != NULL)
    return str_value(r, v, where, key, min, max, z, n);
  return required ? fail(r, where, NULL, "\"%s\" is missing", key) : 0;
}

/* Reads text key of o into out (max + 1 bytes); "" when absent and optional. */
static int get_text(reader *r, json_t *o, const char *where, const char *key, int required,
                    size_t max, char *out) {
  const char *z;
  size_t n;
  int rc = get_str(r, o, where, key, required, 0, max, &z, &n);
  if (rc == 0)
    memcpy(out, z != NULL ? z : "", n + 1);
  return rc;
}

/* Reads an id of A-Z 0-9 (tg__id_valid) into out (TG_ID_MAX + 1 bytes). */
static int get_id(reader *r, json_t *o, const char *where, const char *key, char *out) {
  const char *z;
  size_t n;
  char q[48];
  int rc = get_str(r, o, where, key, 1, 1, 1024, &z, &n);
  if (rc == 0 && !tg__id_valid(z))
    return fail(r, where, key, "\"%s\" is not an id of 1-%d characters A-Z 0-9", show(z, q),
                TG_ID_MAX);
  if (rc == 0)
    memcpy(out, z, n + 1);
  return rc;
}

static int get_bool(reader *r, json_t *o, const char *where, const char *key, int *out) {
  json_t *v = json_object_get(o, key);
  *out = 0;
  if (v == NULL)
    return 0;
  if (!json_is_boolean(v))
    return fail(r, where, key, "must be true or false, not %s", kind_of(v));
  *out = json_is_true(v);
  return 0;
}

/* Reads array key of o with min..max entries; *a is NULL when absent and optional. */
static int get_array(reader *r, json_t *o, const char *where, const char *key, int required,
                     size_t min, size_t max, json_t **a) {
  json_t *v = json_object_get(o, key);
  *a = NULL;
  if (v == NULL)
    return required ? fail(r, where, NULL, "\"%s\" is missing", key) : 0;
  if (!json_is_array(v))
    return fail(r, where, key, "must be an array, not %s", kind_of(v));
  size_t n = json_array_size(v);
  if (n > max)
    return fail(r, where, key, "has %zu entries; at most %zu are allowed", n, max);
  if (n < min)
    return min == 1 ? fail(r, where, key, "must not be empty")
                    : fail(r, where, key, "needs at least %zu entries", min);
  *a = v;
  return 0;
}

/* Reads object key of o; *obj is NULL when absent and optional. */
static int get_object(reader *r, json_t *o, const char *where, const char *key, int required,
                      json_t **obj) {
  json_t *v = json_object_get(o, key);
  *obj = NULL;
  if (v == NULL)
    return required ? fail(r, where, NULL, "\"%s\" is missing", key) : 0;
  if (!json_is_object(v))
    return fail(r, where, key, "must be an object, not %s", kind_of(v));
  *obj = v;
  return 0;
}

/* Writes the path of a field into out (WHERE_MAX bytes), cut if it must be. */
static void path(char *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void path(char *out, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(out, WHERE_MAX, fmt, ap);
  va_end(ap);
}

/* Checks that entry i of array key is an object and names it in where. */
static int entry(reader *r, json_t *v, const char *parent, const char *key, size_t i,
                 char where[WHERE_MAX]) {
  path(where, "%s%s%s[%zu]", parent, parent[0] != '\0' ? "." : "", key, i);
  return json_is_object(v) ? 0 : fail(r, where, NULL, "must be an object, not %s", kind_of(v));
}

/* ----- Times ----------------------------------------------------------- */

/* 1 if z looks like RFC 3339 with a zone offset, -1 if only the offset is
 * missing, else 0. */
static int rfc3339_shape(const char *z, size_t n) {
  static const char pattern[] = "dddd-dd-ddTdd:dd:dd";
  size_t i = 0, k;
  for (; pattern[i] != '\0'; i++) {
    if (i >= n)
      return 0;
    if (pattern[i] == 'd' ? z[i] < '0' || z[i] > '9' : z[i] != pattern[i])
      return 0;
  }
  if (i < n && z[i] == '.') {
    for (k = ++i; i < n && z[i] >= '0' && z[i] <= '9'; i++)
      ;
    if (i == k || i - k > 9)
      return 0;
  }
  if (i == n)
    return -1;
  if (z[i] == 'Z')
    return i + 1 == n;
  if ((z[i] != '+' && z[i] != '-') || n - i != 6)
    return 0;
  for (k = 1; k < 6; k++)
    if (k == 3 ? z[i + k] != ':' : z[i + k] < '0' || z[i + k] > '9')
      return 0;
  return 1;
}

/* Reads an RFC 3339 time with a zone offset as UTC ms; 0 when absent. */
static int get_time(reader *r, json_t *o, const char *where, const char *key, int64_t *ms) {
  const char *z;
  size_t n;
  char q[48];
  int rc = get_str(r, o, where, key, 0, 1, 64, &z, &n);
  *ms = 0;
  if (rc != 0 || z == NULL)
    return rc;
  int shape = rfc3339_shape(z, n);
  if (shape < 0)
    return fail(r, where, key, "\"%s\" has no zone offset: add one, e.g. +08:00 (Z for UTC)",
                show(z, q));
  GDateTime *dt = shape > 0 ? g_date_time_new_from_iso8601(z, NULL) : NULL;
  if (dt == NULL)
    return fail(r, where, key,
                "\"%s\" is not a time like 2026-11-01T00:00:00+08:00 (RFC 3339 with a zone "
                "offset)",
                show(z, q));
  *ms = (int64_t)g_date_time_to_unix(dt) * 1000 + g_date_time_get_microsecond(dt) / 1000;
  g_date_time_unref(dt);
  if (*ms <= 0)
    return fail(r, where, key, "\"%s\" is not after 1970-01-01T00:00:00Z", show(z, q));
  return 0;
}

/* Minutes of "HH:MM", 00:00..24:00, or -1. */
static int hhmm(const char *z, size_t n) {
  for (size_t i = 0; i < 5 && i < n; i++)
    if (i == 2 ? z[i] != ':' : z[i] < '0' || z[i] > '9')
      return -1;
  if (n != 5)
    return -1;
  int h = (z[0] - '0') * 10 + z[1] - '0', m = (z[3] - '0') * 10 + z[4] - '0';
  if (m > 59 || h > 24 || (h == 24 && m != 0))
    return -1;
  return h * 60 + m;
}

/* Reads a time of day of a window: from 00:00..23:59, to 00:01..24:00. */
static int get_minute(reader *r, json_t *o, const char *where, const char *key, int is_to,
                      int *out) {
  const char *z;
  size_t n;
  char q[48];
  int rc = get_str(r, o, where, key, 1, 1, 64, &z, &n);
  if (rc != 0)
    return rc;
  *out = hhmm(z, n);
  if (*out < 0)
    return fail(r, where, key, "\"%s\" is not a time HH:MM (00:00 to 24:00)", show(z, q));
  if (!is_to && *out == 24 * 60)
    return fail(r, where, key, "\"24:00\" can only end a window: start it at \"00:00\"");
  if (is_to && *out == 0)
    return fail(r, where, key, "\"00:00\" cannot end a window: write \"24:00\" for midnight");
  return 0;
}

/* ----- Top-level parts ------------------------------------------------- */

static int url_char(char c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
         (c != '\0' && strchr(" $%*+-./:", c) != NULL);
}

static int read_invite(reader *r, json_t *o, tg__bundle *b) {
  static const char *const keys[] = {"min_spend", "valid_days", "url", NULL};
  const char *z;
  size_t n;
  char q[48];
  int rc;
  int64_t days;
  if ((rc = only_keys(r, o, "invite", keys, NULL, "")) != 0 ||
      (rc = get_int(r, o, "invite", "min_spend", 1, 0, 0, TG_MAX_AMOUNT,
                    &b->invite_min_spend)) != 0 ||
      (rc = get_int(r, o, "invite", "valid_days", 1, 0, 1, 365, &days)) != 0 ||
      (rc = get_str(r, o, "invite", "url", 1, 1, TG__URL_MAX, &z, &n)) != 0)
    return rc;
  show(z, q);
  for (size_t i = 0; i < n; i++) {
    if (z[i] >= 'a' && z[i] <= 'z')
      return fail(r, "invite", "url",
                  "\"%s\" has lower-case letters: write it in upper case so the QR code stays "
                  "in alphanumeric mode",
                  q);
    if (!url_char(z[i]))
      return fail(r, "invite", "url",
                  "\"%s\" holds byte 0x%02x, which a QR code's alphanumeric mode cannot hold "
                  "(use 0-9 A-Z space $ %% * + - . / :)",
                  q, (unsigned)(unsigned char)z[i]);
  }
  size_t scheme = strncmp(z, "HTTPS://", 8) == 0 ? 8 : strncmp(z, "HTTP://", 7) == 0 ? 7 : 0;
  if (scheme == 0)
    return fail(r, "invite", "url", "\"%s\" must start with HTTPS:// or HTTP://", q);
  if (n < scheme + 2 || z[scheme] == '/')
    return fail(r, "invite", "url", "\"%s\" names no host", q);
  if (z[n - 1] != '/')
    return fail(r, "invite", "url", "\"%s\" must end in \"/\": the invite token follows it", q);
  memcpy(b->invite_url, z, n + 1);
  b->invite_days = (int)days;
  b->invites = 1;
  return 0;
}

static int read_points(reader *r, json_t *o, tg__bundle *b) {
  static const char *const keys[] = {"point_value", "max_share_bp", NULL};
  int rc = only_keys(r, o, "points", keys, NULL, "");
  if (rc == 0)
    rc = get_int(r, o, "points", "point_value", 1, 0, 1, 1000000, &b->point_value);
  if (rc == 0)
    rc = get_int(r, o, "points", "max_share_bp", 1, 0, 0, 10000, &b->points_max_bp);
  return rc;
}

static int hex_digit(char c) {
  return c >= '0' && c <= '9' ? c - '0'
         : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                : -1;
}

static int read_key(reader *r, json_t *o, const char *where, tg__bundle *b) {
  static const char *const keys[] = {"id", "role", "public_key", NULL};
  tg__token_key *k = &b->keys[b->n_keys];
  const char *role, *hex;
  size_t n_role, n_hex;
  char q[48];
  int64_t id;
  int rc;
  if ((rc = only_keys(r, o, where, keys, NULL, "")) != 0 ||
      (rc = get_int(r, o, where, "id", 1, 0, 0, UINT16_MAX, &id)) != 0 ||
      (rc = get_str(r, o, where, "role", 1, 1, 64, &role, &n_role)) != 0 ||
      (rc = get_str(r, o, where, "public_key", 1, 0, 1024, &hex, &n_hex)) != 0)
    return rc;
  if (strcmp(role, "member") == 0)
    k->role = TG__TOKEN_MEMBER;
  else if (strcmp(role, "coupon") == 0)
    k->role = TG__TOKEN_COUPON;
  else if (strcmp(role, "referral") == 0)
    k->role = TG__TOKEN_REFERRAL;
  else if (strcmp(role, "invite") == 0)
    return fail(r, where, "role",
                "\"invite\" is refused: invite secrets never travel in bundles (each terminal "
                "keeps its own)");
  else
    return fail(r, where, "role", "\"%s\" is not member, coupon or referral", show(role, q));
  if (n_hex != 64)
    return fail(r, where, "public_key", "must be 64 hex digits (32 bytes), not %zu characters",
                n_hex);
  for (size_t i = 0; i < 32; i++) {
    int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return fail(r, where, "public_key",
                  "must be 64 hex digits; character %zu is not 0-9, a-f or A-F",
                  hi < 0 ? 2 * i + 1 : 2 * i + 2);
    k->key[i] = (unsigned char)(hi * 16 + lo);
  }
  if (!crypto_core_ed25519_is_valid_point(k->key))
    return fail(r, where, "public_key", "is not a usable Ed25519 public key");
  k->id = (uint16_t)id;
  for (int i = 0; i < b->n_keys; i++)
    if (b->keys[i].id == k->id && b->keys[i].role == k->role)
      return fail(r, where, NULL, "key %u for role %s is already given by keys[%d]",
                  (unsigned)k->id, role, i);
  b->n_keys++;
  return 0;
}

static int read_tier(reader *r, json_t *o, const char *where, tg__bundle *b) {
  static const char *const keys[] = {"tier", "name", "points_bp", NULL};
  tg__tier *t = &b->tiers[b->n_tiers];
  int rc;
  if ((rc = only_keys(r, o, where, keys, NULL, "")) != 0 ||
      (rc = get_small(r, o, where, "tier", 1, 0, 0, TG__BUNDLE_TIERS - 1, &t->tier)) != 0 ||
      (rc = get_text(r, o, where, "name", 0, TG__NAME_MAX, t->name)) != 0 ||
      (rc = get_int(r, o, where, "points_bp", 1, 0, 0, 100000, &t->points_bp)) != 0)
    return rc;
  for (int i = 0; i < b->n_tiers; i++)
    if (b->tiers[i].tier == t->tier)
      return fail(r, where, NULL, "tier %d is already given by tiers[%d]", t->tier, i);
  b->n_tiers++;
  return 0;
}

static int tag_valid(const char *z, size_t n) {
  if (n == 0 || n > TAG_MAX)
    return 0;
  for (size_t i = 0; i < n; i++)
    if (!((z[i] >= 'a' && z[i] <= 'z') || (z[i] >= '0' && z[i] <= '9') || z[i] == '_' ||
          z[i] == '-'))
      return 0;
  return 1;
}

static int read_member(reader *r, json_t *o, const char *where, tg__member *m) {
  static const char *const keys[] = {"id", "tier", "tags", "points_lease", "new", NULL};
  static const char privacy[] =
      ": a bundle carries no personal data (names and phone numbers stay at HQ)";
  json_t *tags, *v;
  int64_t id;
  size_t i, len = 0, n;
  const char *z;
  char q[48], tw[WHERE_MAX];
  int rc;
  if ((rc = only_keys(r, o, where, keys, NULL, privacy)) != 0 ||
      (rc = get_int(r, o, where, "id", 1, 0, 1, ID53_MAX, &id)) != 0 ||
      (rc = get_small(r, o, where, "tier", 0, 0, 0, TG__BUNDLE_TIERS - 1, &m->tier)) != 0 ||
      (rc = get_int(r, o, where, "points_lease", 0, 0, 0, TG_MAX_AMOUNT, &m->points_lease)) !=
          0 ||
      (rc = get_bool(r, o, where, "new", &m->is_new)) != 0 ||
      (rc = get_array(r, o, where, "tags", 0, 0, TG__TAGS_MAX, &tags)) != 0)
    return rc;
  m->id = (uint64_t)id;
  m->tags[0] = '\0';
  json_array_foreach(tags, i, v) {
    path(tw, "%s.tags[%zu]", where, i);
    if ((rc = str_value(r, v, tw, NULL, 1, TG__TAGS_MAX, &z, &n)) != 0)
      return rc;
    if (!tag_valid(z, n))
      return fail(r, tw, NULL, "\"%s\" is not a tag of 1-%d characters a-z 0-9 _ -", show(z, q),
                  TAG_MAX);
    if (len + (len > 0) + n > TG__TAGS_MAX)
      return fail(r, where, "tags", "joined with commas are more than %d bytes", TG__TAGS_MAX);
    if (len > 0)
      m->tags[len++] = ',';
    memcpy(m->tags + len, z, n + 1);
    len += n;
  }
  return 0;
}

static int cmp_member(const void *a, const void *b) {
  uint64_t x = ((const tg__member *)a)->id, y = ((const tg__member *)b)->id;
  return (x > y) - (x < y);
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

static int read_members(reader *r, json_t *a, tg__bundle *b) {
  json_t *v;
  size_t i;
  char where[WHERE_MAX];
  int rc;
  if (json_array_size(a) == 0)
    return 0;
  b->members = tg__malloc(json_array_size(a) * sizeof *b->members);
  if (b->members == NULL)
    return nomem(r);
  json_array_foreach(a, i, v) {
    if ((rc = entry(r, v, "", "members", i, where)) != 0 ||
        (rc = read_member(r, v, where, &b->members[i])) != 0)
      return rc;
    b->n_members++;
  }
  qsort(b->members, (size_t)b->n_members, sizeof *b->members, cmp_member);
  for (int k = 1; k < b->n_members; k++)
    if (b->members[k].id == b->members[k - 1].id)
      return fail(r, "members", NULL, "member %llu is listed twice",
                  (unsigned long long)b->members[k].id);
  return 0;
}

static int read_revoked(reader *r, json_t *a, tg__bundle *b) {
  json_t *v;
  size_t i;
  char where[WHERE_MAX];
  int64_t id;
  int rc, n = 0;
  if (json_array_size(a) == 0)
    return 0;
  b->revoked = tg__malloc(json_array_size(a) * sizeof *b->revoked);
  if (b->revoked == NULL)
    return nomem(r);
  json_array_foreach(a, i, v) {
    path(where, "revoked[%zu]", i);
    if ((rc = int_value(r, v, where, NULL, 1, ID53_MAX, &id)) != 0)
      return rc;
    b->revoked[i] = (uint64_t)id;
  }
  qsort(b->revoked, json_array_size(a), sizeof *b->revoked, cmp_u64);
  for (i = 0; i < json_array_size(a); i++)
    if (n == 0 || b->revoked[n - 1] != b->revoked[i])
      b->revoked[n++] = b->revoked[i];
  b->n_revoked = n;
  return 0;
}

/* ----- Campaigns ------------------------------------------------------- */

/* Reads SKUs or categories (key) of a rule into a new array. */
static int read_list(reader *r, json_t *o, const char *where, const char *key,
                     char (**out)[TG_MAX_SKU + 1], int *n) {
  json_t *a, *v;
  size_t i, len;
  const char *z;
  char w[WHERE_MAX];
  int rc = get_array(r, o, where, key, 0, 0, TG__RULE_LIST, &a);
  if (rc != 0 || a == NULL || json_array_size(a) == 0)
    return rc;
  *out = tg__malloc(json_array_size(a) * sizeof **out);
  if (*out == NULL)
    return nomem(r);
  json_array_foreach(a, i, v) {
    path(w, "%s.%s[%zu]", where, key, i);
    if ((rc = str_value(r, v, w, NULL, 1, TG_MAX_SKU, &z, &len)) != 0)
      return rc;
    memcpy((*out)[i], z, len + 1);
    (*n)++;
  }
  return 0;
}

/* Reads the one SKU of a flash or group-buy rule as skus[0]. */
static int read_sku(reader *r, json_t *o, const char *where, tg__rule *rule) {
  const char *z;
  size_t n;
  int rc = get_str(r, o, where, "sku", 1, 1, TG_MAX_SKU, &z, &n);
  if (rc != 0)
    return rc;
  rule->skus = tg__malloc(sizeof *rule->skus);
  if (rule->skus == NULL)
    return nomem(r);
  memcpy(rule->skus[0], z, n + 1);
  rule->n_skus = 1;
  return 0;
}

static int read_welcome(reader *r, json_t *o, const char *where, tg__rule *rule) {
  static const char *const keys[] = {"kind", "value", "min_spend", "valid_days", NULL};
  char w[WHERE_MAX];
  json_t *c;
  const char *kind;
  size_t n;
  char q[48];
  int64_t days;
  int rc = get_object(r, o, where, "coupon", 1, &c);
  path(w, "%s.coupon", where);
  if (rc != 0 || (rc = only_keys(r, c, w, keys, NULL, "")) != 0 ||
      (rc = get_str(r, c, w, "kind", 1, 1, 64, &kind, &n)) != 0)
    return rc;
  if (strcmp(kind, "amount") == 0)
    rule->coupon_kind = TG__COUPON_AMOUNT;
  else if (strcmp(kind, "percent") == 0)
    rule->coupon_kind = TG__COUPON_PERCENT;
  else
    return fail(r, w, "kind", "\"%s\" is not amount or percent", show(kind, q));
  if ((rc = get_int(r, c, w, "value", 1, 0, 1,
                    rule->coupon_kind == TG__COUPON_AMOUNT ? UINT32_MAX : 10000,
                    &rule->coupon_value)) != 0 ||
      (rc = get_int(r, c, w, "min_spend", 0, 0, 0, UINT32_MAX, &rule->coupon_min_spend)) != 0 ||
      (rc = get_int(r, c, w, "valid_days", 1, 0, 1, 3650, &days)) != 0)
    return rc;
  rule->coupon_days = (int)days;
  return 0;
}

static int read_threshold(reader *r, json_t *o, const char *where, tg__rule *rule) {
  static const char *const keys[] = {"spend", "off", NULL};
  json_t *a, *v;
  size_t i;
  char w[WHERE_MAX];
  int rc = get_array(r, o, where, "steps", 1, 1, TG__RULE_STEPS, &a);
  if (rc != 0)
    return rc;
  json_array_foreach(a, i, v) {
    tg__step *s = &rule->steps[i];
    if ((rc = entry(r, v, where, "steps", i, w)) != 0 ||
        (rc = only_keys(r, v, w, keys, NULL, "")) != 0 ||
        (rc = get_int(r, v, w, "spend", 1, 0, 1, TG_MAX_AMOUNT, &s->spend)) != 0 ||
        (rc = get_int(r, v, w, "off", 1, 0, 1, TG_MAX_AMOUNT, &s->off)) != 0)
      return rc;
    if (s->off > s->spend)
      return fail(r, w, NULL, "off %lld is more than spend %lld", (long long)s->off,
                  (long long)s->spend);
    if (i > 0 && s->spend <= s[-1].spend)
      return fail(r, w, NULL, "spend must rise from step to step (%lld after %lld)",
                  (long long)s->spend, (long long)s[-1].spend);
    if (i > 0 && s->off < s[-1].off)
      return fail(r, w, NULL, "off must not fall from step to step (%lld after %lld)",
                  (long long)s->off, (long long)s[-1].off);
    rule->n_steps++;
  }
  return 0;
}

static int read_percent(reader *r, json_t *o, const char *where, tg__rule *rule) {
  int rc = get_int(r, o, where, "percent_bp", 1, 0, 1, 10000, &rule->percent_bp);
  if (rc == 0)
    rc = read_list(r, o, where, "skus", &rule->skus, &rule->n_skus);
  if (rc == 0)
    rc = read_list(r, o, where, "categories", &rule->categories, &rule->n_categories);
  if (rc == 0 && rule->n_skus + rule->n_categories == 0)
    return fail(r, where, NULL, "name the lines it covers in \"skus\" or \"categories\"");
  return rc;
}

static int read_group_buy(reader *r, json_t *o, const char *where, tg__rule *rule) {
  static const char *const keys[] = {"size", "price", NULL};
  json_t *a, *v;
  size_t i;
  char w[WHERE_MAX];
  int rc;
  if ((rc = get_id(r, o, where, "group", rule->group)) != 0 ||
      (rc = read_sku(r, o, where, rule)) != 0 ||
      (rc = get_small(r, o, where, "joined", 0, 0, 0, INT_FIELD_MAX, &rule->joined)) != 0 ||
      (rc = get_array(r, o, where, "tiers", 1, 1, TG__RULE_STEPS, &a)) != 0)
    return rc;
  json_array_foreach(a, i, v) {
    tg__group_tier *t = &rule->tiers[i];
    if ((rc = entry(r, v, where, "tiers", i, w)) != 0 ||
        (rc = only_keys(r, v, w, keys, NULL, "")) != 0 ||
        (rc = get_small(r, v, w, "size", 1, 0, 2, INT_FIELD_MAX, &t->size)) != 0 ||
        (rc = get_int(r, v, w, "price", 1, 0, 0, TG_MAX_AMOUNT, &t->price)) != 0)
      return rc;
    if (i > 0 && t->size <= t[-1].size)
      return fail(r, w, NULL, "size must rise from tier to tier (%d after %d)", t->size,
                  t[-1].size);
    if (i > 0 && t->price >= t[-1].price)
      return fail(r, w, NULL, "price must fall as the group grows (%lld after %lld)",
                  (long long)t->price, (long long)t[-1].price);
    rule->n_tiers++;
  }
  return 0;
}

static int read_window(reader *r, json_t *o, const char *where, tg__window *win) {
  static const char *const keys[] = {"days", "from", "to", NULL};
  json_t *a, *v;
  size_t i, n;
  const char *z;
  char w[WHERE_MAX], q[48];
  int rc;
  if ((rc = only_keys(r, o, where, keys, NULL, "")) != 0 ||
      (rc = get_array(r, o, where, "days", 1, 1, 7, &a)) != 0)
    return rc;
  win->days = 0;
  json_array_foreach(a, i, v) {
    unsigned day = 7;
    path(w, "%s.days[%zu]", where, i);
    if ((rc = str_value(r, v, w, NULL, 1, 64, &z, &n)) != 0)
      return rc;
    for (unsigned d = 0; d < 7 && day == 7; d++)
      if (strcmp(z, DAY_NAMES[d]) == 0)
        day = d;
    if (day == 7)
      return fail(r, w, NULL, "\"%s\" is not a day: mon, tue, wed, thu, fri, sat or sun",
                  show(z, q));
    if (win->days & (1u << day))
      return fail(r, w, NULL, "\"%s\" is repeated", DAY_NAMES[day]);
    win->days |= 1u << day;
  }
  if ((rc = get_minute(r, o, where, "from", 0, &win->from)) != 0 ||
      (rc = get_minute(r, o, where, "to", 1, &win->to)) != 0)
    return rc;
  if (win->from == win->to)
    return fail(r, where, NULL, "\"from\" and \"to\" are the same time: the window is empty");
  return 0;
}

static int read_flash(reader *r, json_t *o, const char *where, tg__rule *rule) {
  json_t *a, *v;
  size_t i;
  char w[WHERE_MAX];
  int rc;
  if ((rc = read_sku(r, o, where, rule)) != 0 ||
      (rc = get_int(r, o, where, "price", 1, 0, 0, TG_MAX_AMOUNT, &rule->price)) != 0 ||
      (rc = get_array(r, o, where, "windows", 1, 1, TG__RULE_WINDOWS, &a)) != 0)
    return rc;
  json_array_foreach(a, i, v) {
    if ((rc = entry(r, v, where, "windows", i, w)) != 0 ||
        (rc = read_window(r, v, w, &rule->windows[i])) != 0)
      return rc;
    rule->n_windows++;
  }
  if ((rc = get_id(r, o, where, "lease", rule->lease)) != 0 ||
      (rc = get_int(r, o, where, "quota", 1, 0, 0, UNITS_MAX, &rule->quota)) != 0 ||
      (rc = get_int(r, o, where, "per_member", 0, 0, 0, UNITS_MAX, &rule->per_member)) != 0)
    return rc;
  rule->quota *= 1000;
  rule->per_member *= 1000;
  return 0;
}

static int read_rule_fields(reader *r, json_t *o, const char *where, tg__rule *rule) {
  switch (rule->type) {
  case TG__RULE_WELCOME:
    return read_welcome(r, o, where, rule);
  case TG__RULE_THRESHOLD:
    return read_threshold(r, o, where, rule);
  case TG__RULE_PERCENT:
    return read_percent(r, o, where, rule);
  case TG__RULE_FIXED: {
    int rc = get_int(r, o, where, "off", 1, 0, 1, TG_MAX_AMOUNT, &rule->off);
    return rc ? rc : get_int(r, o, where, "min_spend", 0, 0, 0, TG_MAX_AMOUNT, &rule->min_spend);
  }
  case TG__RULE_REFERRAL: {
    int rc = get_int(r, o, where, "off", 1, 0, 0, TG_MAX_AMOUNT, &rule->off);
    if (rc == 0)
      rc = get_int(r, o, where, "min_spend", 0, 0, 0, TG_MAX_AMOUNT, &rule->min_spend);
    return rc ? rc : get_int(r, o, where, "rebate", 0, 0, 0, TG_MAX_AMOUNT, &rule->rebate);
  }
  case TG__RULE_GROUP_BUY:
    return read_group_buy(r, o, where, rule);
  case TG__RULE_FLASH:
    return read_flash(r, o, where, rule);
  case TG__RULE_COUPON: {
    int rc = get_id(r, o, where, "lease", rule->lease);
    if (rc == 0)
      rc = get_int(r, o, where, "quota", 1, 0, 0, UNITS_MAX, &rule->quota);
    return rc ? rc : get_int(r, o, where, "per_member", 0, 0, 0, UNITS_MAX, &rule->per_member);
  }
  case TG__RULE_POINTS: {
    int rc = get_int(r, o, where, "per", 1, 0, 1, TG_MAX_AMOUNT, &rule->per);
    return rc ? rc : get_int(r, o, where, "points", 1, 0, 1, POINTS_MAX, &rule->points);
  }
  }
  return fail(r, where, NULL, "unknown type");
}

/* The fields each type takes besides the common ones. */
static const char *const *type_keys(tg__rule_type type) {
  static const char *const welcome[] = {"coupon", NULL};
  static const char *const threshold[] = {"steps", NULL};
  static const char *const percent[] = {"percent_bp", "skus", "categories", NULL};
  static const char *const fixed[] = {"off", "min_spend", NULL};
  static const char *const referral[] = {"off", "min_spend", "rebate", NULL};
  static const char *const group_buy[] = {"group", "sku", "joined", "tiers", NULL};
  static const char *const flash[] = {"sku",   "price", "windows", "lease",
                                      "quota", "per_member", NULL};
  static const char *const coupon[] = {"lease", "quota", "per_member", NULL};
  static const char *const points[] = {"per", "points", NULL};
  static const char *const *const all[] = {NULL,     welcome,   threshold, percent, fixed,
                                           referral, group_buy, flash,     coupon,  points};
  return all[type];
}

static int read_rule(reader *r, json_t *o, size_t i, tg__bundle *b, tg__rule *rule) {
  static const char *const common[] = {"id",   "type",  "name", "exclusive", "members_only",
                                       "from", "until", NULL};
  char where[WHERE_MAX], hint[WHERE_MAX], q[48];
  const char *type;
  size_t n;
  int64_t id;
  int rc;
  if ((rc = entry(r, o, "", "campaigns", i, where)) != 0 ||
      (rc = get_int(r, o, where, "id", 1, 0, 1, UINT32_MAX, &id)) != 0)
    return rc;
  path(where, "campaigns[%zu] (id %lld)", i, (long long)id);
  rule->id = (uint32_t)id;
  for (int k = 0; k < b->n_rules - 1; k++)
    if (b->rules[k].id == rule->id)
      return fail(r, where, NULL, "id %lld is already used by campaigns[%d]", (long long)id, k);
  if ((rc = get_str(r, o, where, "type", 1, 1, 64, &type, &n)) != 0)
    return rc;
  for (int t = TG__RULE_WELCOME; t <= TG__RULE_POINTS; t++)
    if (strcmp(type, TYPE_NAMES[t]) == 0)
      rule->type = (tg__rule_type)t;
  if (rule->type == 0)
    return fail(r, where, "type",
                "\"%s\" is not a campaign type (welcome, threshold, percent, fixed, referral, "
                "group_buy, flash, coupon or points)",
                show(type, q));
  path(hint, " for a %s campaign", type);
  if ((rc = only_keys(r, o, where, common, type_keys(rule->type), hint)) != 0 ||
      (rc = get_text(r, o, where, "name", 0, TG__NAME_MAX, rule->name)) != 0 ||
      (rc = get_bool(r, o, where, "exclusive", &rule->exclusive)) != 0 ||
      (rc = get_bool(r, o, where, "members_only", &rule->members_only)) != 0 ||
      (rc = get_time(r, o, where, "from", &rule->from_ms)) != 0 ||
      (rc = get_time(r, o, where, "until", &rule->until_ms)) != 0)
    return rc;
  if (rule->from_ms != 0 && rule->until_ms != 0 && rule->until_ms <= rule->from_ms)
    return fail(r, where, "until", "must be later than \"from\"");
  return read_rule_fields(r, o, where, rule);
}

static int read_rules(reader *r, json_t *a, tg__bundle *b) {
  json_t *v;
  size_t i;
  int rc;
  if (json_array_size(a) == 0)
    return 0;
  b->rules = tg__malloc(json_array_size(a) * sizeof *b->rules);
  if (b->rules == NULL)
    return nomem(r);
  memset(b->rules, 0, json_array_size(a) * sizeof *b->rules);
  json_array_foreach(a, i, v) {
    b->n_rules++; /* counted before it is read, so that a failure frees its lists */
    if ((rc = read_rule(r, v, i, b, &b->rules[i])) != 0)
      return rc;
  }
  return 0;
}

/* ----- The bundle ------------------------------------------------------ */

static int read_bundle(reader *r, json_t *root, tg__bundle *b) {
  static const char *const keys[] = {"format", "version", "store",   "invite",  "points",
                                     "keys",   "tiers",   "members", "revoked", "campaigns",
                                     "coupons", NULL};
  json_t *o, *a, *v;
  const char *store;
  size_t i, n;
  char where[WHERE_MAX], q[48];
  int64_t format;
  int rc;
  json_t *f = json_object_get(root, "format");
  if (f == NULL)
    return fail(r, "", NULL, "\"format\" is missing");
  if ((rc = int_value(r, f, "", "format", INT64_MIN, INT64_MAX, &format)) != 0)
    return rc;
  if (format > FORMAT)
    return fail(r, "", NULL, "format %lld is newer than this tillgroup reads: update tillgroup",
                (long long)format);
  if (format != FORMAT)
    return fail(r, "", "format", "%lld is not a bundle format (this tillgroup reads %d)",
                (long long)format, FORMAT);
  if ((rc = only_keys(r, root, "", keys, NULL, "")) != 0 ||
      (rc = get_int(r, root, "", "version", 1, 0, 1, ID53_MAX, &b->version)) != 0 ||
      (rc = get_str(r, root, "", "store", 1, 1, 1024, &store, &n)) != 0)
    return rc;
  if (strcmp(store, "*") != 0 && !tg__id_valid(store))
    return fail(r, "", "store",
                "\"%s\" is not a store id (1-%d characters A-Z 0-9) or \"*\" for every store",
                show(store, q), TG_ID_MAX);
  memcpy(b->store, store, n + 1);

  if ((rc = get_object(r, root, "", "invite", 0, &o)) != 0 ||
      (o != NULL && (rc = read_invite(r, o, b)) != 0) ||
      (rc = get_object(r, root, "", "points", 0, &o)) != 0 ||
      (o != NULL && (rc = read_points(r, o, b)) != 0))
    return rc;

  if ((rc = get_array(r, root, "", "keys", 0, 0, TG__BUNDLE_KEYS, &a)) != 0)
    return rc;
  json_array_foreach(a, i, v) if ((rc = entry(r, v, "", "keys", i, where)) != 0 ||
                                  (rc = read_key(r, v, where, b)) != 0) return rc;
  if ((rc = get_array(r, root, "", "tiers", 0, 0, TG__BUNDLE_TIERS, &a)) != 0)
    return rc;
  json_array_foreach(a, i, v) if ((rc = entry(r, v, "", "tiers", i, where)) != 0 ||
                                  (rc = read_tier(r, v, where, b)) != 0) return rc;

  if ((rc = get_array(r, root, "", "members", 0, 0, TG__BUNDLE_MEMBERS, &a)) != 0 ||
      (a != NULL && (rc = read_members(r, a, b)) != 0) ||
      (rc = get_array(r, root, "", "revoked", 0, 0, TG__BUNDLE_REVOKED, &a)) != 0 ||
      (a != NULL && (rc = read_revoked(r, a, b)) != 0) ||
      (rc = get_array(r, root, "", "campaigns", 0, 0, TG__BUNDLE_RULES, &a)) != 0 ||
      (a != NULL && (rc = read_rules(r, a, b)) != 0) ||
      (rc = get_array(r, root, "", "coupons", 0, 0, TG__BUNDLE_COUPONS, &a)) != 0 ||
      (a != NULL && (rc = tg__bundle_coupons_read(a, b, r->why, r->why_len)) != 0))
    return rc;
  return 0;
}

int tg__bundle_parse(const char *json, size_t n, tg__bundle **out, char *why, size_t why_len) {
  reader r = {why, why_len};
  json_error_t err;
  json_t *root;
  tg__bundle *b;
  int rc;
  *out = NULL;
  if (why != NULL && why_len > 0)
    why[0] = '\0';
  if (n > TG__BUNDLE_MAX)
    return fail(&r, "", NULL, "%zu bytes; at most %d are accepted", n, TG__BUNDLE_MAX);
  if (sodium_init() < 0)
    return fail(&r, "", NULL, "libsodium cannot start, so keys cannot be checked");
  root = json_loadb(json, n, JSON_REJECT_DUPLICATES, &err);
  if (root == NULL) {
    /* jansson leaves the text empty when it cannot even start (out of memory) */
    if (json_error_code(&err) == json_error_out_of_memory || err.text[0] == '\0')
      return nomem(&r);
    return fail(&r, "", NULL, "not JSON: line %d column %d: %s", err.line, err.column,
                err.text);
  }
  if (!json_is_object(root)) {
    rc = fail(&r, "", NULL, "must be a JSON object, not %s", kind_of(root));
    json_decref(root);
    return rc;
  }
  b = tg__malloc(sizeof *b);
  if (b == NULL) {
    json_decref(root);
    return nomem(&r);
  }
  memset(b, 0, sizeof *b);
  rc = read_bundle(&r, root, b);
  json_decref(root);
  if (rc != 0) {
    tg__bundle_free(b);
    return rc;
  }
  *out = b;
  return 0;
}

void tg__bundle_free(tg__bundle *b) {
  if (b == NULL)
    return;
  for (int i = 0; i < b->n_rules; i++) {
    tg__free(b->rules[i].skus);
    tg__free(b->rules[i].categories);
  }
  tg__free(b->rules);
  tg__free(b->members);
  tg__free(b->revoked);
  tg__free(b->coupons);
  tg__free(b);
}

const tg__rule *tg__bundle_rule(const tg__bundle *b, uint32_t id) {
  for (int i = 0; b != NULL && i < b->n_rules; i++)
    if (b->rules[i].id == id)
      return &b->rules[i];
  return NULL;
}

int64_t tg__bundle_tier_bp(const tg__bundle *b, int tier) {
  for (int i = 0; b != NULL && i < b->n_tiers; i++)
    if (b->tiers[i].tier == tier)
      return b->tiers[i].points_bp;
  return 10000;
}

const char *tg__rule_type_name(tg__rule_type type) {
  return type >= TG__RULE_WELCOME && type <= TG__RULE_POINTS ? TYPE_NAMES[type] : NULL;
}
