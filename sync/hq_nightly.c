/*
 * `tillgroup-hq nightly`'s work: for each enrolled terminal, its manifest
 * compared with what HQ holds, missing seqs fetched and stored through the
 * upload's own ingest, disagreements named by bisection, results kept.
 */
#include <inttypes.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hq.h"

#define HOLES_MAX 256        /* holes one scan remembers; the rest wait for the next pass */
#define PASSES_MAX 4         /* scan-and-fetch passes per terminal */
#define BISECT_REQUESTS 96   /* ranged manifests one terminal's bisection may ask for */
#define TIMEOUT_MS 60000     /* a terminal's requests together, by default */
#define SEQ_MAX (INT64_C(1) << 53)

static const char *const flag_names[] = {"no pull URL", "unreachable",   "answer refused",
                                         "bad answer",  "missing",       "disagree",
                                         "epoch changed", "disabled",    "storage"};

const char *tg__hq_nightly_flag_name(int bit) {
  return bit >= 0 && bit < (int)(sizeof flag_names / sizeof flag_names[0]) ? flag_names[bit]
                                                                           : NULL;
}

/* HQ's side of a range: count and digest of what it holds, and the holes. */
typedef struct {
  crypto_generichash_state h;
  int64_t count, next;
  int64_t holes[HOLES_MAX][2];
  int n_holes;
} scan;

typedef struct {
  const tg__hq_backend *be;
  tg__hq_db *db;
  const tg__hq_nightly_options *o;
  tg__hq_nightly_terminal *t;
  tg__hq_pull *pull;
  int64_t epoch; /* of the first manifest; every later answer must have it */
  int bisect_left;
} job;

/* Sets a flag and, when none is there yet, the reason. */
static void flag(tg__hq_nightly_terminal *t, unsigned bit, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void flag(tg__hq_nightly_terminal *t, unsigned bit, const char *fmt, ...) {
  t->flags |= bit;
  if (t->why[0] != '\0')
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(t->why, sizeof t->why, fmt, ap);
  va_end(ap);
  for (char *p = t->why; *p != '\0'; p++) /* a terminal's words reach JSON and HTML */
    if (*p < 0x20 || *p >= 0x7f)
      *p = '?';
}

static void add_hole(scan *s, int64_t a, int64_t b) {
  if (s->n_holes < HOLES_MAX) {
    s->holes[s->n_holes][0] = a;
    s->holes[s->n_holes][1] = b;
    s->n_holes++;
  }
}

static void on_held(void *ctx, int64_t seq, const char *body, size_t n) {
  scan *s = ctx;
  if (seq < s->next)
    return; /* not expected: the back end gives each seq once, ascending */
  if (seq > s->next)
    add_hole(s, s->next, seq - 1);
  crypto_generichash_update(&s->h, (const unsigned char *)body, n);
  crypto_generichash_update(&s->h, (const unsigned char *)"\n", 1);
  s->count++;
  s->next = seq + 1;
}

/* Scans HQ's records from..to of the job's epoch into *s and digest. */
static int hq_scan(job *j, int64_t from, int64_t to, scan *s, unsigned char digest[32]) {
  char why[TG__HQ_WHY_MAX] = "";
  crypto_generichash_init(&s->h, NULL, 0, 32);
  s->count = 0;
  s->next = from;
  s->n_holes = 0;
  int rc = to >= from ? j->be->held(j->db, j->t->store, j->t->terminal, j->epoch, from, to,
                                    on_held, s, why, sizeof why)
                      : TG__HQ_OK;
  if (rc != TG__HQ_OK) {
    flag(j->t, TG__HQ_NF_STORAGE, "HQ's database: %s", why);
    return -1;
  }
  if (s->next <= to)
    add_hole(s, s->next, to);
  crypto_generichash_final(&s->h, digest, 32);
  return 0;
}

/* Flags a failed pull request; -1. */
static int pull_failed(job *j, int rc, const char *why) {
  unsigned bit = rc == TG__HQ_PULL_UNREACHABLE ? TG__HQ_NF_UNREACHABLE
                 : rc == TG__HQ_PULL_REFUSED   ? TG__HQ_NF_REFUSED
                                               : TG__HQ_NF_BAD_ANSWER;
  flag(j->t, bit, "%s%s", rc == TG__HQ_PULL_UNREACHABLE ? "not reachable: " : "", why);
  return -1;
}

/* The manifest of from..to (0, 0: the whole current epoch). 0, or -1 flagged. */
static int manifest(job *j, int64_t from, int64_t to, tg__hq_manifest *m) {
  char target[96], why[TG__HQ_WHY_MAX] = "", *body = NULL;
  size_t n = 0;
  if (from == 0)
    snprintf(target, sizeof target, "/v1/manifest");
  else
    snprintf(target, sizeof target, "/v1/manifest?from=%" PRId64 "&to=%" PRId64, from, to);
  j->t->requests++;
  int rc = tg__hq_pull_get(j->pull, target, TG__HQ_MANIFEST_MAX, &body, &n, why, sizeof why);
  if (rc != TG__HQ_PULL_OK)
    return pull_failed(j, rc, why);
  rc = tg__hq_manifest_parse(body, n, m, why, sizeof why);
  free(body);
  if (rc != 0) {
    flag(j->t, TG__HQ_NF_BAD_ANSWER, "%s: %s", target, why);
    return -1;
  }
  if (strcmp(m->store, j->t->store) != 0 || strcmp(m->terminal, j->t->terminal) != 0) {
    flag(j->t, TG__HQ_NF_BAD_ANSWER, "%s: the manifest is %s-%s's", target, m->store,
         m->terminal);
    return -1;
  }
  if (from != 0 && (m->from != from || m->to != to || m->epoch != j->epoch)) {
    flag(j->t, TG__HQ_NF_BAD_ANSWER,
         "%s: the manifest covers %" PRId64 "-%" PRId64 " of epoch %" PRId64, target, m->from,
         m->to, m->epoch);
    return -1;
  }
  return 0;
}

static void add_disagree(tg__hq_nightly_terminal *t, int64_t seq) {
  for (int i = 0; i < t->n_disagree; i++)
    if (t->disagree[i] == seq)
      return;
  if (t->n_disagree < TG__HQ_NIGHTLY_SEQS_MAX)
    t->disagree[t->n_disagree++] = seq;
}

/* Fetches seqs a..b (at most TG__SYNC_BATCH_RECORDS) and ingests them as an upload would be. */
static int fetch(job *j, int64_t a, int64_t b) {
  char target[96], why[TG__HQ_WHY_MAX] = "", *body = NULL;
  size_t n = 0;
  tg__hq_key k;
  tg__hq_batch batch;
  tg__hq_ack ack;
  memset(&batch, 0, sizeof batch);
  memset(&ack, 0, sizeof ack);
  snprintf(target, sizeof target, "/v1/records?from=%" PRId64 "&to=%" PRId64, a, b);
  j->t->requests++;
  int rc = tg__hq_pull_get(j->pull, target, TG__SYNC_INFLATED_MAX, &body, &n, why, sizeof why);
  if (rc != TG__HQ_PULL_OK)
    return pull_failed(j, rc, why);
  memset(&k, 0, sizeof k);
  memcpy(k.store, j->t->store, sizeof k.store);
  memcpy(k.terminal, j->t->terminal, sizeof k.terminal);
  k.epoch = j->epoch;
  k.from = a;
  k.to = b;
  rc = tg__hq_batch_parse(body, n, &k, &batch, why, sizeof why); /* owns body now */
  if (rc != TG__HQ_OK) {
    flag(j->t, TG__HQ_NF_BAD_ANSWER, "%s: %s", target, why);
    tg__hq_batch_free(&batch);
    return -1;
  }
  rc = j->be->ingest(j->db, &batch, tg__hq_now_ms(), &ack, why, sizeof why);
  tg__hq_batch_free(&batch);
  if (rc != TG__HQ_OK) {
    flag(j->t, rc == TG__HQ_REUSED ? TG__HQ_NF_DISAGREE : TG__HQ_NF_STORAGE, "%s: %s", target,
         why);
    return -1;
  }
  for (int i = 0; i < ack.n_rejected; i++)
    if (strcmp(ack.rejected[i].status, "conflict") == 0) {
      add_disagree(j->t, ack.rejected[i].seq);
      flag(j->t, TG__HQ_NF_DISAGREE, "seq %" PRId64 ": HQ holds other bytes than the terminal",
           ack.rejected[i].seq);
    }
  tg__hq_ack_free(&ack);
  tg__hq_nightly_terminal *t = j->t;
  if (t->n_ranges > 0 && t->ranges[t->n_ranges - 1][1] + 1 == a)
    t->ranges[t->n_ranges - 1][1] = b;
  else if (t->n_ranges < TG__HQ_NIGHTLY_RANGES_MAX) {
    t->ranges[t->n_ranges][0] = a;
    t->ranges[t->n_ranges][1] = b;
    t->n_ranges++;
  }
  t->fetched += b - a + 1;
  return 0;
}

/* Names the seqs of lo..hi, whose digests differ, where HQ and the terminal disagree. */
static int bisect(job *j, int64_t lo, int64_t hi) {
  if (lo == hi) {
    add_disagree(j->t, lo);
    return 0;
  }
  int64_t mid = lo + (hi - lo) / 2, half[2][2] = {{lo, mid}, {mid + 1, hi}};
  for (int i = 0; i < 2; i++) {
    tg__hq_manifest m;
    unsigned char d[32];
    scan *s = malloc(sizeof *s);
    if (j->bisect_left-- <= 0 || j->t->n_disagree >= TG__HQ_NIGHTLY_SEQS_MAX || s == NULL) {
      free(s);
      return -1; /* enough named for an operator to start with */
    }
    int rc = manifest(j, half[i][0], half[i][1], &m);
    if (rc == 0)
      rc = hq_scan(j, half[i][0], half[i][1], s, d);
    free(s);
    if (rc != 0)
      return -2;
    if (memcmp(d, m.digest, 32) != 0 && (rc = bisect(j, half[i][0], half[i][1])) != 0)
      return rc;
  }
  return 0;
}

/* Fetches the holes s found, chunked; 0, or -1 flagged. */
static int fetch_holes(job *j, const scan *s) {
  int64_t chunk = j->o->chunk > 0 && j->o->chunk < TG__SYNC_BATCH_RECORDS ? j->o->chunk
                                                                          : TG__SYNC_BATCH_RECORDS;
  for (int i = 0; i < s->n_holes; i++)
    for (int64_t a = s->holes[i][0]; a <= s->holes[i][1]; a += chunk) {
      int64_t b = a + chunk - 1;
      if (fetch(j, a, b < s->holes[i][1] ? b : s->holes[i][1]) != 0)
        return -1;
    }
  return 0;
}

/* One reachable terminal: compare, fetch, bisect. */
static void pull_terminal(job *j) {
  tg__hq_nightly_terminal *t = j->t;
  tg__hq_manifest m;
  unsigned char d[32], d_above[32];
  scan *s = malloc(sizeof *s), above;
  if (s == NULL) {
    flag(t, TG__HQ_NF_STORAGE, "out of memory");
    return;
  }
  if (manifest(j, 0, 0, &m) != 0)
    goto done;
  t->reachable = 1;
  t->epoch = j->epoch = m.epoch;
  t->max_seq = m.max_seq;
  if (t->hq_epoch != 0 && t->hq_epoch != m.epoch)
    flag(t, TG__HQ_NF_EPOCH,
         "the terminal is on epoch %" PRId64 ", HQ last received epoch %" PRId64
         "; compared on the terminal's",
         m.epoch, t->hq_epoch);
  if (hq_scan(j, 1, m.max_seq, s, d) != 0)
    goto done;
  t->count_before = s->count;
  for (int pass = 0; pass < PASSES_MAX && s->n_holes > 0; pass++)
    if (fetch_holes(j, s) != 0 || hq_scan(j, 1, m.max_seq, s, d) != 0)
      break;
  if (hq_scan(j, 1, m.max_seq, s, d) != 0)
    goto done;
  t->count_after = s->count;
  if (hq_scan(j, m.max_seq + 1, SEQ_MAX, &above, d_above) != 0)
    goto done;
  if (above.count > 0) { /* or the terminal sold and uploaded since: ask once more */
    tg__hq_manifest again;
    if (manifest(j, 0, 0, &again) != 0)
      goto done;
    if (again.epoch == m.epoch && again.max_seq > m.max_seq &&
        hq_scan(j, again.max_seq + 1, SEQ_MAX, &above, d_above) != 0)
      goto done;
  }
  if (above.count > 0) {
    add_disagree(t, m.max_seq + 1);
    flag(t, TG__HQ_NF_DISAGREE,
         "HQ holds %" PRId64 " record(s) of epoch %" PRId64 " above the terminal's max_seq %"
         PRId64 ": restored from a backup without a new epoch?",
         above.count, m.epoch, m.max_seq);
  }
  if (s->count < m.max_seq) {
    flag(t, TG__HQ_NF_MISSING,
         "HQ still lacks %" PRId64 " of the terminal's %" PRId64 " records (first %" PRId64
         "-%" PRId64 ")",
         m.max_seq - s->count, m.max_seq, s->n_holes > 0 ? s->holes[0][0] : 0,
         s->n_holes > 0 ? s->holes[0][1] : 0);
  } else if (memcmp(d, m.digest, 32) != 0) {
    int rc = bisect(j, 1, m.max_seq);
    flag(t, TG__HQ_NF_DISAGREE,
         "HQ holds every seq but %d record(s) differ from the terminal's%s; HQ kept its own",
         t->n_disagree, rc == -1 ? " (and maybe more)" : "");
  }
done:
  free(s);
}

typedef struct {
  tg__hq_nightly_terminal *a;
  int n, cap, nomem;
} listing;

static void on_terminal(void *ctx, const tg__hq_terminal *src) {
  listing *l = ctx;
  if (l->nomem)
    return;
  if (l->n == l->cap) {
    int cap = l->cap ? l->cap * 2 : 16;
    tg__hq_nightly_terminal *p = realloc(l->a, sizeof *p * (size_t)cap);
    if (p == NULL) {
      l->nomem = 1;
      return;
    }
    l->a = p;
    l->cap = cap;
  }
  tg__hq_nightly_terminal *t = &l->a[l->n++];
  memset(t, 0, sizeof *t);
  memcpy(t->store, src->store, sizeof t->store);
  memcpy(t->terminal, src->terminal, sizeof t->terminal);
  t->hq_epoch = src->epoch;
}

/* Stores t's result under the run's date. */
static void keep(const tg__hq_backend *be, tg__hq_db *db, const tg__hq_nightly *r,
                 tg__hq_nightly_terminal *t) {
  tg__hq_nightly_row row;
  char why[TG__HQ_WHY_MAX] = "";
  size_t at = 0;
  memset(&row, 0, sizeof row);
  memcpy(row.store, t->store, sizeof row.store);
  memcpy(row.terminal, t->terminal, sizeof row.terminal);
  memcpy(row.date, r->date, sizeof row.date);
  row.run_ms = r->run_ms;
  row.reachable = t->reachable;
  row.needs_operator = (t->flags & TG__HQ_NF_OPERATOR) != 0;
  row.epoch = t->epoch;
  row.max_seq = t->max_seq;
  row.count_before = t->count_before;
  row.count_after = t->count_after;
  row.fetched = t->fetched;
  for (int b = 0; tg__hq_nightly_flag_name(b) != NULL && at < sizeof row.flags; b++)
    if (t->flags & (1u << b)) {
      int k = snprintf(row.flags + at, sizeof row.flags - at, "%s%s", at ? ", " : "",
                       tg__hq_nightly_flag_name(b));
      at += k > 0 ? (size_t)k : 0;
    }
  if (t->why[0] != '\0' && at < sizeof row.flags)
    snprintf(row.flags + at, sizeof row.flags - at, ": %.*s", (int)(sizeof row.flags - at),
             t->why);
  if (be->nightly_put(db, &row, why, sizeof why) != TG__HQ_OK)
    flag(t, TG__HQ_NF_STORAGE, "could not keep the result: %s", why);
}

int tg__hq_nightly_run(const tg__hq_backend *be, tg__hq_db *db, const tg__hq_nightly_options *o,
                       tg__hq_nightly *out, char *why, size_t cap) {
  unsigned char pk[32], sk[64];
  listing l = {NULL, 0, 0, 0};
  memset(out, 0, sizeof *out);
  snprintf(out->date, sizeof out->date, "%s", o->date);
  snprintf(out->tz, sizeof out->tz, "%s", o->tz != NULL ? o->tz : "");
  out->run_ms = o->now_ms;
  int rc = be->signing_key(db, pk, sk, why, cap);
  if (rc == TG__HQ_OK)
    rc = be->terminals(db, on_terminal, &l, why, cap);
  if (rc == TG__HQ_OK && l.nomem) {
    snprintf(why, cap, "out of memory");
    rc = TG__HQ_NOMEM;
  }
  if (rc != TG__HQ_OK) {
    free(l.a);
    sodium_memzero(sk, sizeof sk);
    return rc;
  }
  out->terminals = l.a;
  out->n_terminals = l.n;
  for (int i = 0; i < l.n; i++) {
    tg__hq_nightly_terminal *t = &l.a[i];
    tg__hq_terminal_ref target;
    char w[TG__HQ_WHY_MAX] = "";
    job j = {be, db, o, t, NULL, 0, BISECT_REQUESTS};
    if ((rc = be->terminal_get(db, t->store, t->terminal, &target, w, sizeof w)) != TG__HQ_OK)
      flag(t, TG__HQ_NF_STORAGE, "HQ's database: %s", w);
    else if (!target.enabled)
      flag(t, TG__HQ_NF_DISABLED, "disabled at HQ: not pulled");
    else if (target.url[0] == '\0')
      flag(t, TG__HQ_NF_NO_URL, "not reachable: no pull URL");
    else if ((rc = tg__hq_pull_open(target.url, t->store, t->terminal, sk, target.invite_key,
                                    tg__hq_now_ms() + (o->timeout_ms > 0 ? o->timeout_ms
                                                                         : TIMEOUT_MS),
                                    o->connect_ms, &j.pull, w, sizeof w)) != TG__HQ_PULL_OK)
      flag(t, TG__HQ_NF_BAD_ANSWER, "%s", w);
    else
      pull_terminal(&j);
    tg__hq_pull_close(j.pull);
    sodium_memzero(&target, sizeof target);
    keep(be, db, out, t);
  }
  sodium_memzero(sk, sizeof sk);
  return TG__HQ_OK;
}

int tg__hq_nightly_add_finding(tg__hq_nightly *r, const tg__hq_finding *f) {
  if (r->n_findings == r->cap_findings) {
    int cap = r->cap_findings ? r->cap_findings * 2 : 16;
    tg__hq_finding *p = realloc(r->findings, sizeof *p * (size_t)cap);
    if (p == NULL)
      return -1;
    r->findings = p;
    r->cap_findings = cap;
  }
  r->findings[r->n_findings++] = *f;
  return 0;
}

int tg__hq_nightly_needs_operator(const tg__hq_nightly *r) {
  for (int i = 0; i < r->n_terminals; i++)
    if (r->terminals[i].flags & TG__HQ_NF_OPERATOR)
      return 1;
  for (int i = 0; i < r->n_findings; i++)
    if (r->findings[i].needs_operator)
      return 1;
  return 0;
}

void tg__hq_nightly_free(tg__hq_nightly *r) {
  if (r == NULL)
    return;
  free(r->terminals);
  free(r->findings);
  memset(r, 0, sizeof *r);
}
