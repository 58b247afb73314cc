/* HQ's reading of an upload: the Idempotency-Key and the body's JSON lines, checked against it. */
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hq.h"

#define SEQ_MAX ((int64_t)1 << 53) /* epochs and seqs are 1..2^53 */
#define KEY_MAX 128                /* far above the longest well-formed key */

static int fail(int rc, char *why, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(int rc, char *why, size_t cap, const char *fmt, ...) {
  va_list ap;
  if (why != NULL && cap > 0) {
    va_start(ap, fmt);
    vsnprintf(why, cap, fmt, ap);
    va_end(ap);
  }
  return rc;
}

/* Reads 1-12 of A-Z 0-9 from *pz into out, up to the first byte that is not one. */
static int read_id(const char **pz, char out[TG__SYNC_ID_MAX + 1]) {
  const char *z = *pz;
  size_t n = 0;
  while ((z[n] >= 'A' && z[n] <= 'Z') || (z[n] >= '0' && z[n] <= '9')) {
    if (n == TG__SYNC_ID_MAX)
      return -1;
    out[n] = z[n];
    n++;
  }
  if (n == 0)
    return -1;
  out[n] = '\0';
  *pz = z + n;
  return 0;
}

/* Reads decimal digits without a leading zero (a lone "0" is allowed) from
 * *pz; a value past 2^53 reads as SEQ_MAX + 1 so that it fails the range
 * check, not the syntax check. */
static int read_number(const char **pz, int64_t *out) {
  const char *z = *pz;
  int64_t v = 0;
  size_t n = 0;
  while (z[n] >= '0' && z[n] <= '9') {
    if (v <= SEQ_MAX)
      v = v * 10 + (z[n] - '0');
    n++;
  }
  if (n == 0 || (n > 1 && z[0] == '0'))
    return -1;
  *out = v > SEQ_MAX ? SEQ_MAX + 1 : v;
  *pz = z + n;
  return 0;
}

/*
 * As hq.h says. On TG__HQ_RANGE the key's store and terminal are filled too,
 * so that the caller can answer 403 for another terminal's key first, as the
 * protocol orders its checks.
 */
int tg__hq_key_parse(const char *z, tg__hq_key *out, char *why, size_t cap) {
  memset(out, 0, sizeof *out);
  if (z == NULL)
    return fail(TG__HQ_BAD, why, cap, "Idempotency-Key is missing");
  if (strnlen(z, KEY_MAX + 1) > KEY_MAX)
    return fail(TG__HQ_BAD, why, cap, "Idempotency-Key is longer than %d bytes", KEY_MAX);
  const char *p = z;
  if (read_id(&p, out->store) != 0 || *p++ != '-' || read_id(&p, out->terminal) != 0 ||
      *p++ != ':' || read_number(&p, &out->epoch) != 0 || *p++ != ':' ||
      read_number(&p, &out->from) != 0 || *p++ != '-' || read_number(&p, &out->to) != 0 ||
      *p != '\0') {
    memset(out, 0, sizeof *out);
    return fail(TG__HQ_BAD, why, cap,
                "Idempotency-Key is not STORE-TERMINAL:EPOCH:FROM-TO (ids 1-12 of A-Z 0-9, "
                "decimal numbers)");
  }
  if (out->epoch < 1 || out->epoch > SEQ_MAX)
    return fail(TG__HQ_RANGE, why, cap, "epoch is not within 1..2^53");
  if (out->from < 1 || out->from > SEQ_MAX || out->to > SEQ_MAX)
    return fail(TG__HQ_RANGE, why, cap, "seqs are not within 1..2^53");
  if (out->to < out->from)
    return fail(TG__HQ_RANGE, why, cap, "the range ends before it starts");
  if (out->to - out->from >= TG__SYNC_BATCH_RECORDS)
    return fail(TG__HQ_RANGE, why, cap, "the range holds more than %d records",
                TG__SYNC_BATCH_RECORDS);
  return TG__HQ_OK;
}

static int is_uuid(const char *z, size_t n) {
  if (n != 36)
    return 0;
  for (size_t i = 0; i < n; i++) {
    char c = z[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-')
        return 0;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
      return 0;
    }
  }
  return 1;
}

/* Checks what HQ stores of a record whose identity is right; on a problem
 * marks it "invalid" with the reason. */
static void check_content(const tg__hq_member m[TG__HQ_MEMBERS], tg__hq_record *r) {
  const tg__hq_member *kind = &m[TG__HQ_M_KIND], *uuid = &m[TG__HQ_M_UUID];
  const tg__hq_member *time = &m[TG__HQ_M_TIME_MS], *total = &m[TG__HQ_M_TOTAL];
  const char *why = NULL, *k = kind->type == TG__HQ_STRING ? kind->text : "";
  int is_redeem = strcmp(k, "redeem") == 0;
  if (kind->type == TG__HQ_ABSENT)
    why = "kind is missing";
  else if (!is_redeem && strcmp(k, "sale") != 0 && strcmp(k, "refund") != 0 &&
           strcmp(k, "void") != 0)
    why = "kind is not sale, refund, void or redeem";
  else if (uuid->type == TG__HQ_ABSENT && !is_redeem)
    why = "uuid is missing";
  else if (uuid->type != TG__HQ_ABSENT &&
           (uuid->type != TG__HQ_STRING || !is_uuid(uuid->text, uuid->len)))
    why = "uuid is not a 36-character UUID string";
  else if (time->type != TG__HQ_INTEGER || time->integer < 0)
    why = "time_ms is not a non-negative integer";
  else if (!is_redeem && total->type != TG__HQ_INTEGER)
    why = "total is not an integer";
  if (why != NULL) {
    r->reject_status = "invalid";
    snprintf(r->reason, sizeof r->reason, "%s", why);
    return;
  }
  memcpy(r->kind, k, strlen(k) + 1); /* one of the four kinds: it fits */
  if (uuid->type == TG__HQ_STRING)
    memcpy(r->uuid, uuid->text, 37);
  r->time_ms = time->integer;
  r->total = is_redeem ? 0 : total->integer;
}

/* 1 when the member is the string z. */
static int is_text(const tg__hq_member *m, const char *z) {
  return m->type == TG__HQ_STRING && m->len <= TG__HQ_TEXT_MAX && strcmp(m->text, z) == 0;
}

/* The first problem of each class, so that the answer follows the protocol's
 * order (400 before 403 before 422) whatever line each is on. */
typedef struct {
  int rc;
  char why[TG__HQ_WHY_MAX];
} problem;

static void note(problem *p, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void note(problem *p, int rc, const char *fmt, ...) {
  va_list ap;
  if (p->rc != TG__HQ_OK)
    return;
  p->rc = rc;
  va_start(ap, fmt);
  vsnprintf(p->why, sizeof p->why, fmt, ap);
  va_end(ap);
}

int tg__hq_batch_parse(char *text, size_t n, const tg__hq_key *key, tg__hq_batch *out, char *why,
                       size_t cap) {
  problem forbidden = {0}, range = {0};
  int64_t count = key->to - key->from + 1, k = 0;
  memset(out, 0, sizeof *out);
  out->key = *key;
  out->text = text;
  out->n_text = n;
  if (count < 1 || count > TG__SYNC_BATCH_RECORDS) {
    tg__hq_batch_free(out);
    return fail(TG__HQ_RANGE, why, cap, "the key's range is not 1..%d records",
                TG__SYNC_BATCH_RECORDS);
  }
  if ((out->records = calloc((size_t)count, sizeof *out->records)) == NULL) {
    tg__hq_batch_free(out);
    return fail(TG__HQ_NOMEM, why, cap, "out of memory reading the upload");
  }
  crypto_generichash(out->digest, sizeof out->digest, (const unsigned char *)text, n, NULL, 0);
  if (n > 0 && text[n - 1] != '\n') {
    tg__hq_batch_free(out);
    return fail(TG__HQ_BAD, why, cap, "the body does not end with a newline");
  }
  for (size_t at = 0; at < n; k++) {
    const char *line = text + at, *nl = memchr(line, '\n', n - at);
    size_t len = (size_t)(nl - line); /* nl is never NULL: the body ends with '\n' */
    tg__hq_member m[TG__HQ_MEMBERS];
    char err[TG__HQ_WHY_MAX / 2];
    at += len + 1;
    if (tg__hq_line_read(line, len, m, err, sizeof err) != 0) {
      tg__hq_batch_free(out);
      return fail(TG__HQ_BAD, why, cap, "line %lld is not a record's JSON: %s", (long long)k + 1,
                  err);
    }
    const tg__hq_member *je = &m[TG__HQ_M_EPOCH], *jq = &m[TG__HQ_M_SEQ];
    if (m[TG__HQ_M_STORE].type != TG__HQ_STRING || m[TG__HQ_M_TERMINAL].type != TG__HQ_STRING ||
        je->type != TG__HQ_INTEGER || jq->type != TG__HQ_INTEGER) {
      tg__hq_batch_free(out);
      return fail(TG__HQ_BAD, why, cap,
                  "line %lld lacks a string store and terminal or an integer epoch and seq",
                  (long long)k + 1);
    }
    int64_t seq = jq->integer;
    if (!is_text(&m[TG__HQ_M_STORE], key->store) || !is_text(&m[TG__HQ_M_TERMINAL], key->terminal))
      note(&forbidden, TG__HQ_FORBIDDEN, "line %lld is a record of another store or terminal",
           (long long)k + 1);
    else if (k >= count)
      note(&range, TG__HQ_RANGE, "the body holds more than the key's %lld records",
           (long long)count);
    else if (je->integer != key->epoch)
      note(&range, TG__HQ_RANGE, "line %lld is of epoch %lld, not the key's %lld", (long long)k + 1,
           (long long)je->integer, (long long)key->epoch);
    else if (seq != key->from + k)
      note(&range, TG__HQ_RANGE, "line %lld has seq %lld where %lld belongs", (long long)k + 1,
           (long long)seq, (long long)(key->from + k));
    if (k < count && forbidden.rc == TG__HQ_OK && range.rc == TG__HQ_OK) {
      tg__hq_record *r = &out->records[k];
      r->seq = seq;
      r->body = line;
      r->len = len;
      check_content(m, r);
    }
  }
  if (k < count)
    note(&range, TG__HQ_RANGE, "the body holds %lld records, the key %lld", (long long)k,
         (long long)count);
  const problem *p = forbidden.rc != TG__HQ_OK ? &forbidden : &range;
  if (p->rc != TG__HQ_OK) {
    tg__hq_batch_free(out);
    return fail(p->rc, why, cap, "%s", p->why);
  }
  out->n = (int)count;
  return TG__HQ_OK;
}

void tg__hq_batch_free(tg__hq_batch *b) {
  if (b == NULL)
    return;
  free(b->text);
  free(b->records);
  b->text = NULL;
  b->records = NULL;
  b->n_text = 0;
  b->n = 0;
}
