/*
 * The figures of `tillgroup-hq report`: one pass over the period's records,
 * each read with jansson, tallied per store and day, store and guide, and
 * campaign; member ids and coupon ids are kept in arrays and counted after a
 * sort, so memory grows with the sales that carry them, not with a hash per
 * customer. Days are store-local days in the zone the operator names.
 */
#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hq.h"

#define ZONEINFO "/usr/share/zoneinfo/"

/* A growing array of int64 ids. */
typedef struct {
  int64_t *v;
  size_t n, cap;
} ids;

typedef struct {
  tg__hq_report *r;
  ids members;      /* the member id of each member sale */
  ids anon_coupons; /* coupons issued on anonymous sales */
  ids redeemed;     /* coupons redeemed */
  int failed;       /* out of memory */
} pass;

static int ids_add(ids *a, int64_t v) {
  if (a->n == a->cap) {
    size_t cap = a->cap ? a->cap * 2 : 1024;
    int64_t *p = realloc(a->v, cap * sizeof *p);
    if (p == NULL)
      return -1;
    a->v = p;
    a->cap = cap;
  }
  a->v[a->n++] = v;
  return 0;
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

/* Sorts a ascending; an empty one has no array to hand qsort. */
static void ids_sort(ids *a) {
  if (a->n > 1)
    qsort(a->v, a->n, sizeof *a->v, cmp_i64);
}

static uint64_t hash_key(const char *const k[3]) {
  uint64_t h = 1469598103934665603ULL; /* FNV-1a, a separator between the parts */
  for (int i = 0; i < 3; i++) {
    for (const unsigned char *p = (const unsigned char *)k[i]; *p != '\0'; p++)
      h = (h ^ *p) * 1099511628211ULL;
    h = (h ^ 0xff) * 1099511628211ULL;
  }
  return h;
}

static int same_key(const tg__hq_report_row *row, const char *const k[3]) {
  for (int i = 0; i < 3; i++)
    if (strcmp(row->key[i], k[i]) != 0)
      return 0;
  return 1;
}

/* Doubles t's room and rebuilds its index. */
static int grow(tg__hq_report_table *t) {
  int cap = t->cap ? t->cap * 2 : 64;
  tg__hq_report_row *rows = realloc(t->rows, (size_t)cap * sizeof *rows);
  if (rows == NULL)
    return -1;
  t->rows = rows;
  int *slots = calloc((size_t)cap * 2, sizeof *slots);
  if (slots == NULL)
    return -1;
  free(t->slots);
  t->slots = slots;
  t->cap = cap;
  for (int i = 0; i < t->n; i++) {
    const char *k[3] = {rows[i].key[0], rows[i].key[1], rows[i].key[2]};
    size_t s = (size_t)(hash_key(k) % (uint64_t)(cap * 2));
    while (slots[s] != 0)
      s = (s + 1) % (size_t)(cap * 2);
    slots[s] = i + 1;
  }
  return 0;
}

/* The row of key k0, k1, k2 (each cut to fit), added zeroed when new; NULL when out of memory. */
static tg__hq_report_row *row_of(tg__hq_report_table *t, const char *k0, const char *k1,
                                 const char *k2) {
  char cut[3][48];
  snprintf(cut[0], sizeof cut[0], "%s", k0);
  snprintf(cut[1], sizeof cut[1], "%s", k1);
  snprintf(cut[2], sizeof cut[2], "%s", k2);
  const char *k[3] = {cut[0], cut[1], cut[2]};
  if (t->n == t->cap && grow(t) != 0)
    return NULL;
  size_t n_slots = (size_t)t->cap * 2, s = (size_t)(hash_key(k) % n_slots);
  for (; t->slots[s] != 0; s = (s + 1) % n_slots)
    if (same_key(&t->rows[t->slots[s] - 1], k))
      return &t->rows[t->slots[s] - 1];
  tg__hq_report_row *row = &t->rows[t->n];
  memset(row, 0, sizeof *row);
  memcpy(row->key, cut, sizeof cut);
  t->slots[s] = ++t->n;
  return row;
}

static int cmp_row(const void *a, const void *b) {
  const tg__hq_report_row *x = a, *y = b;
  for (int i = 0; i < 3; i++) {
    int c = strcmp(x->key[i], y->key[i]);
    if (c != 0)
      return c;
  }
  return 0;
}

/* Sorts t's rows by key; its index is dropped, as nothing is added after. */
static void table_sort(tg__hq_report_table *t) {
  if (t->n > 1)
    qsort(t->rows, (size_t)t->n, sizeof *t->rows, cmp_row);
  free(t->slots);
  t->slots = NULL;
}

static void table_free(tg__hq_report_table *t) {
  free(t->rows);
  free(t->slots);
  memset(t, 0, sizeof *t);
}

static int64_t int_of(const json_t *o, const char *k) {
  const json_t *v = json_object_get(o, k);
  return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

static const char *text_of(const json_t *o, const char *k) {
  const char *z = json_string_value(json_object_get(o, k));
  return z != NULL ? z : "";
}

/* The store-local day of time_ms, YYYY-MM-DD, in the zone already set with tzset(). */
static void day_of(int64_t time_ms, char day[11]) {
  time_t t = (time_t)(time_ms / 1000);
  struct tm tm;
  if (localtime_r(&t, &tm) == NULL || tm.tm_year < -1900 || tm.tm_year > 9999 - 1900) {
    snprintf(day, 11, "?");
    return;
  }
  strftime(day, 11, "%Y-%m-%d", &tm);
}

/* Tallies one sale's community figures: invites, coupons, members. */
static int tally_sale(pass *p, const tg__hq_stored *rec, const json_t *o) {
  tg__hq_report *r = p->r;
  char num[24];
  if (json_object_get(o, "invite") != NULL) {
    tg__hq_report_row *row = row_of(&r->invites, rec->store, text_of(o, "guide"), "");
    if (row == NULL)
      return -1;
    row->v[0]++;
  }
  int64_t member = int_of(o, "member");
  if (member > 0 && ids_add(&p->members, member) != 0)
    return -1;
  const json_t *issued = json_object_get(o, "coupon_issued");
  if (json_is_object(issued)) {
    snprintf(num, sizeof num, "%010lld", (long long)int_of(issued, "campaign"));
    tg__hq_report_row *row = row_of(&r->coupons, num, "", "");
    if (row == NULL)
      return -1;
    row->v[0]++;
    if (member <= 0 && ids_add(&p->anon_coupons, int_of(issued, "coupon")) != 0)
      return -1;
  }
  size_t i;
  const json_t *promo;
  json_array_foreach(json_object_get(o, "promotions"), i, promo) {
    int64_t coupon = int_of(promo, "coupon");
    if (coupon == 0)
      continue;
    snprintf(num, sizeof num, "%010lld", (long long)int_of(promo, "campaign"));
    tg__hq_report_row *row = row_of(&r->coupons, num, "", "");
    if (row == NULL || ids_add(&p->redeemed, coupon) != 0)
      return -1;
    row->v[1]++;
  }
  return 0;
}

static void on_record(void *ctx, const tg__hq_stored *rec) {
  pass *p = ctx;
  tg__hq_report *r = p->r;
  if (p->failed)
    return;
  r->records++;
  int sale = strcmp(rec->kind, "sale") == 0, refund = strcmp(rec->kind, "refund") == 0;
  if (!sale && !refund)
    return;
  json_t *o = json_loadb(rec->body, rec->len, 0, NULL);
  if (!json_is_object(o)) {
    r->unreadable++;
    json_decref(o);
    return;
  }
  char day[11];
  day_of(rec->time_ms, day);
  tg__hq_report_row *row = row_of(&r->days, rec->store, day, "");
  if (row == NULL) {
    p->failed = 1;
  } else {
    snprintf(row->currency, sizeof row->currency, "%s", text_of(o, "currency"));
    int64_t amount = rec->total < 0 ? -rec->total : rec->total;
    row->v[sale ? 0 : 1]++;
    row->v[2] += sale ? amount : -amount;
    if (sale && tally_sale(p, rec, o) != 0)
      p->failed = 1;
  }
  json_decref(o);
}

static void on_terminal(void *ctx, const tg__hq_terminal *t) {
  pass *p = ctx;
  tg__hq_report *r = p->r;
  tg__hq_terminal *more = realloc(r->terminals, (size_t)(r->n_terminals + 1) * sizeof *more);
  if (more == NULL) {
    p->failed = 1;
    return;
  }
  r->terminals = more;
  r->terminals[r->n_terminals++] = *t;
}

static void on_nightly(void *ctx, const tg__hq_nightly_row *row) {
  pass *p = ctx;
  tg__hq_report *r = p->r;
  tg__hq_nightly_row *more = realloc(r->nightly, (size_t)(r->n_nightly + 1) * sizeof *more);
  if (more == NULL) {
    p->failed = 1;
    return;
  }
  r->nightly = more;
  r->nightly[r->n_nightly++] = *row;
}

/* Counts the distinct values of sorted a seen at least twice into *twice; returns the distinct count. */
static int64_t distinct(const ids *a, int64_t *twice) {
  int64_t n = 0;
  *twice = 0;
  for (size_t i = 0; i < a->n;) {
    size_t j = i;
    while (j < a->n && a->v[j] == a->v[i])
      j++;
    n++;
    *twice += j - i >= 2;
    i = j;
  }
  return n;
}

/* How many distinct values of sorted a are in sorted b. */
static int64_t found_in(const ids *a, const ids *b) {
  int64_t n = 0;
  size_t j = 0;
  for (size_t i = 0; i < a->n; i++) {
    if (i > 0 && a->v[i] == a->v[i - 1])
      continue;
    while (j < b->n && b->v[j] < a->v[i])
      j++;
    n += j < b->n && b->v[j] == a->v[i];
  }
  return n;
}

/* Reads "YYYY-MM-DD" into *tm (midnight, local); -1 unless it is a real calendar day. */
static int parse_day(const char *z, struct tm *tm) {
  if (strlen(z) != 10 || z[4] != '-' || z[7] != '-')
    return -1;
  for (int i = 0; i < 10; i++)
    if (i != 4 && i != 7 && !isdigit((unsigned char)z[i]))
      return -1;
  memset(tm, 0, sizeof *tm);
  tm->tm_year = atoi(z) - 1900;
  tm->tm_mon = atoi(z + 5) - 1;
  tm->tm_mday = atoi(z + 8);
  tm->tm_isdst = -1;
  struct tm check = *tm;
  time_t t = timegm(&check); /* normalises 02-30 into March: then it was no day */
  if (t == (time_t)-1 || check.tm_mday != tm->tm_mday || check.tm_mon != tm->tm_mon ||
      tm->tm_year < 2000 - 1900 || tm->tm_year > 2199 - 1900)
    return -1;
  return 0;
}

/* 1 when tz names a zone of the system's tz database. */
static int zone_known(const char *tz) {
  char path[128];
  size_t n = strlen(tz);
  if (n == 0 || n >= 64 || tz[0] == '/' || strstr(tz, "..") != NULL)
    return 0;
  for (size_t i = 0; i < n; i++)
    if (!isalnum((unsigned char)tz[i]) && strchr("/_+-", tz[i]) == NULL)
      return 0;
  snprintf(path, sizeof path, ZONEINFO "%s", tz);
  return access(path, R_OK) == 0;
}

/* Puts zone tz in force for this process (it must be zone_known), keeping the old TZ in saved. */
static void zone_enter(const char *tz, char saved[128], int *had) {
  const char *was = getenv("TZ");
  *had = was != NULL;
  snprintf(saved, 128, "%s", was != NULL ? was : "");
  setenv("TZ", tz, 1);
  tzset();
}

/* Puts back the TZ zone_enter() saved. */
static void zone_leave(const char saved[128], int had) {
  if (had)
    setenv("TZ", saved, 1);
  else
    unsetenv("TZ");
  tzset();
}

/* Midnight starting the local day tm (tm_mday may run past the month's end), UTC ms. */
static int64_t midnight_ms(struct tm tm) {
  tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
  tm.tm_isdst = -1;
  return (int64_t)mktime(&tm) * 1000;
}

/* Fills r's period from the days from..to, with the zone tz already in force (tzset). */
static int period(tg__hq_report *r, const char *from, const char *to, const char *tz, char *why,
                  size_t cap) {
  struct tm a, b;
  if (parse_day(from, &a) != 0 || parse_day(to, &b) != 0) {
    snprintf(why, cap, "--from and --to are days as YYYY-MM-DD (2000-2199): got \"%.16s\", \"%.16s\"",
             from, to);
    return TG__HQ_BAD;
  }
  int64_t days = (timegm(&b) - timegm(&a)) / 86400 + 1;
  if (days < 1 || days > TG__HQ_REPORT_DAYS_MAX) {
    snprintf(why, cap, "--to must be on or after --from, at most %d days later",
             TG__HQ_REPORT_DAYS_MAX - 1);
    return TG__HQ_BAD;
  }
  snprintf(r->from, sizeof r->from, "%s", from);
  snprintf(r->to, sizeof r->to, "%s", to);
  snprintf(r->tz, sizeof r->tz, "%s", tz);
  r->from_ms = midnight_ms(a);
  b.tm_mday++;
  r->to_ms = midnight_ms(b);
  return TG__HQ_OK;
}

/* Takes the groups as they are now, for the groups section. */
static void on_group(void *ctx, const tg__hq_group *g) {
  pass *p = ctx;
  tg__hq_report *r = p->r;
  if (r->n_groups % 64 == 0) {
    tg__hq_group *gs = realloc(r->groups, sizeof *gs * (size_t)(r->n_groups + 64));
    int64_t *js = realloc(r->group_joins, sizeof *js * (size_t)(r->n_groups + 64));
    if (gs != NULL)
      r->groups = gs;
    if (js != NULL)
      r->group_joins = js;
    if (gs == NULL || js == NULL) {
      p->failed = 1;
      return;
    }
  }
  r->groups[r->n_groups] = *g;
  r->groups[r->n_groups].qr = NULL;
  r->group_joins[r->n_groups++] = 0;
}

/* Counts one join for its guide's invites row and its group. */
static void on_join(void *ctx, const tg__hq_join_row *j) {
  pass *p = ctx;
  tg__hq_report *r = p->r;
  tg__hq_report_row *row = NULL;
  size_t n = strlen(j->staff);
  /* The invite carries the guide's (else the cashier's) name cut to 16 bytes on a character
   * boundary: a name over 12 bytes may have been cut, so look for the guide it was cut from.
   * Shorter ones are whole: the hash finds them. */
  for (int i = 0; n > 12 && i < r->invites.n; i++)
    if (strcmp(r->invites.rows[i].key[0], j->store) == 0 &&
        strncmp(r->invites.rows[i].key[1], j->staff, n) == 0) {
      if (row == NULL || r->invites.rows[i].key[1][n] == '\0')
        row = &r->invites.rows[i]; /* the whole name wins over a longer one it starts */
      if (r->invites.rows[i].key[1][n] == '\0')
        break;
    }
  if (row == NULL && (row = row_of(&r->invites, j->store, j->staff, "")) == NULL) {
    p->failed = 1;
    return;
  }
  row->v[1]++;
  if (j->coupon_id != 0) { /* the welcome coupon HQ issued with the join */
    char num[24];
    snprintf(num, sizeof num, "%010lld", (long long)j->coupon_campaign);
    if ((row = row_of(&r->coupons, num, "", "")) == NULL) {
      p->failed = 1;
      return;
    }
    row->v[0]++;
  }
  for (int i = 0; i < r->n_groups; i++)
    if (r->groups[i].id == j->group_id) {
      r->group_joins[i]++;
      break;
    }
}

int tg__hq_report_build(const tg__hq_backend *be, tg__hq_db *db, const char *from,
                        const char *to, const char *tz, tg__hq_report *out, char *why,
                        size_t cap) {
  memset(out, 0, sizeof *out);
  char saved[128];
  int had;
  pass p = {out, {0}, {0}, {0}, 0};
  if (!zone_known(tz)) {
    snprintf(why, cap, "--tz: \"%.64s\" is not a time zone of this system (such as Asia/Shanghai)",
             tz);
    return TG__HQ_BAD;
  }
  zone_enter(tz, saved, &had); /* days are local to the zone for this report only */
  int rc = period(out, from, to, tz, why, cap);
  if (rc == TG__HQ_OK)
    rc = be->records(db, out->from_ms, out->to_ms, on_record, &p, why, cap);
  if (rc == TG__HQ_OK)
    rc = be->terminals(db, on_terminal, &p, why, cap);
  if (rc == TG__HQ_OK)
    rc = be->groups(db, NULL, on_group, &p, why, cap);
  if (rc == TG__HQ_OK && !p.failed)
    rc = be->joins(db, out->from_ms, out->to_ms, on_join, &p, why, cap);
  if (rc == TG__HQ_OK && !p.failed)
    rc = be->nightly_last(db, on_nightly, &p, why, cap);
  zone_leave(saved, had);
  if (rc == TG__HQ_OK && p.failed) {
    snprintf(why, cap, "out of memory while reading the records");
    rc = TG__HQ_NOMEM;
  }
  if (rc == TG__HQ_OK) {
    ids_sort(&p.members);
    ids_sort(&p.anon_coupons);
    ids_sort(&p.redeemed);
    out->members = distinct(&p.members, &out->members_repeat);
    int64_t unused;
    out->anon_issued = distinct(&p.anon_coupons, &unused);
    out->anon_redeemed = found_in(&p.anon_coupons, &p.redeemed);
    table_sort(&out->days);
    table_sort(&out->invites);
    table_sort(&out->coupons);
    out->made_ms = tg__hq_now_ms();
  }
  free(p.members.v);
  free(p.anon_coupons.v);
  free(p.redeemed.v);
  if (rc != TG__HQ_OK)
    tg__hq_report_free(out);
  return rc;
}

void tg__hq_report_free(tg__hq_report *r) {
  table_free(&r->days);
  table_free(&r->invites);
  table_free(&r->coupons);
  free(r->terminals);
  free(r->groups);
  free(r->group_joins);
  free(r->nightly);
  memset(r, 0, sizeof *r);
}

int tg__hq_days_ms(const char *from, const char *to, const char *tz, int64_t *from_ms,
                   int64_t *to_ms, char *why, size_t cap) {
  tg__hq_report r;
  char saved[128];
  int had;
  if (!zone_known(tz)) {
    snprintf(why, cap, "--tz: \"%.64s\" is not a time zone of this system (such as Asia/Shanghai)",
             tz);
    return TG__HQ_BAD;
  }
  memset(&r, 0, sizeof r);
  zone_enter(tz, saved, &had);
  int rc = period(&r, from, to, tz, why, cap);
  zone_leave(saved, had);
  *from_ms = r.from_ms;
  *to_ms = r.to_ms;
  return rc;
}

int tg__hq_local_day(const char *tz, int64_t ms, char out[11]) {
  char saved[128];
  int had;
  struct tm tm;
  time_t t = (time_t)(ms / 1000);
  if (!zone_known(tz))
    return -1;
  zone_enter(tz, saved, &had);
  int ok = localtime_r(&t, &tm) != NULL && strftime(out, 11, "%Y-%m-%d", &tm) == 10;
  zone_leave(saved, had);
  return ok ? 0 : -1;
}
