/* Reads HQ's acknowledgement of an upload, refusing anything not exactly the protocol's shape. */
#include <assert.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sync.h"

#define SEQ_MAX (INT64_C(1) << 53) /* the protocol's largest seq: JSON numbers stay exact */

/* Writes a reason into why (which may be NULL) and returns -1. */
static int refuse(char *why, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int refuse(char *why, size_t cap, const char *fmt, ...) {
  if (why != NULL && cap > 0) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, cap, fmt, ap);
    va_end(ap);
  }
  return -1;
}

/* The value of key in o as an integer in lo..hi, or -1 with a reason. */
static int get_int(const json_t *o, const char *key, int64_t lo, int64_t hi, int64_t *out,
                   char *why, size_t cap) {
  const json_t *v = json_object_get(o, key);
  if (!json_is_integer(v))
    return refuse(why, cap, v == NULL ? "%s is missing" : "%s is not an integer", key);
  json_int_t i = json_integer_value(v);
  if (i < lo || i > hi)
    return refuse(why, cap, "%s %lld is outside %lld..%lld", key, (long long)i, (long long)lo,
                  (long long)hi);
  *out = (int64_t)i;
  return 0;
}

/*
 * Copies the UTF-8 text s[0..n) into out[0..cap), NUL-terminated: control
 * characters (C0, DEL, C1) and bytes of no valid character become '?', and
 * the text is cut before the first character that does not fit.
 */
static void copy_printable(const char *s, size_t n, char *out, size_t cap) {
  const unsigned char *u = (const unsigned char *)s;
  size_t i = 0, o = 0;
  while (i < n) {
    size_t len = u[i] < 0x80                    ? 1
                 : u[i] >= 0xc2 && u[i] <= 0xdf ? 2
                 : u[i] >= 0xe0 && u[i] <= 0xef ? 3
                 : u[i] >= 0xf0 && u[i] <= 0xf4 ? 4
                                                : 0;
    int ok = len > 0 && i + len <= n;
    for (size_t k = 1; ok && k < len; k++)
      ok = (u[i + k] & 0xc0) == 0x80;
    if (!ok)
      len = 1; /* a stray byte: one '?' for it */
    /* C0 controls, DEL and C1 controls become one '?' too */
    int keep = ok && !(u[i] < 0x20 || u[i] == 0x7f || (u[i] == 0xc2 && u[i + 1] < 0xa0));
    size_t w = keep ? len : 1;
    if (o + w >= cap)
      break;
    if (keep)
      memcpy(out + o, s + i, len);
    else
      out[o] = '?';
    o += w;
    i += len;
  }
  out[o] = '\0';
}

/* Reads the rejected array into out->rejected; -1 with a reason. */
static int read_rejected(const json_t *arr, int64_t from, int64_t to, tg__sync_ack *out, char *why,
                         size_t cap) {
  size_t n = json_array_size(arr);
  if (n == 0)
    return 0;
  if ((int64_t)n > to - from + 1)
    return refuse(why, cap, "%zu rejected records in a batch of %lld", n,
                  (long long)(to - from + 1));
  out->rejected = calloc(n, sizeof *out->rejected);
  if (out->rejected == NULL)
    return refuse(why, cap, "out of memory"); /* client.c tells this reason apart */
  for (size_t i = 0; i < n; i++) {
    const json_t *r = json_array_get(arr, i), *status, *reason;
    tg__sync_rejected *p = &out->rejected[i];
    int64_t hi = to < out->acked_through ? to : out->acked_through;
    if (!json_is_object(r) || json_object_size(r) != 3)
      return refuse(why, cap, "rejected[%zu] is not an object of seq, status and reason", i);
    if (get_int(r, "seq", from, hi, &p->seq, why, cap) != 0)
      return -1; /* outside the batch, or above acked_through */
    if (i > 0 && p->seq <= p[-1].seq)
      return refuse(why, cap, "rejected seq %lld repeats or is out of order", (long long)p->seq);
    status = json_object_get(r, "status");
    reason = json_object_get(r, "reason");
    if (!json_is_string(status) || (strcmp(json_string_value(status), "invalid") != 0 &&
                                    strcmp(json_string_value(status), "conflict") != 0))
      return refuse(why, cap, "rejected seq %lld: status is not \"invalid\" or \"conflict\"",
                    (long long)p->seq);
    if (!json_is_string(reason))
      return refuse(why, cap, "rejected seq %lld: reason is not a string", (long long)p->seq);
    snprintf(p->status, sizeof p->status, "%s", json_string_value(status));
    copy_printable(json_string_value(reason), json_string_length(reason), p->reason,
                   sizeof p->reason);
    out->n_rejected++;
  }
  return 0;
}

/* Reads the missing array into out->missing; -1 with a reason. */
static int read_missing(const json_t *arr, tg__sync_ack *out, char *why, size_t cap) {
  size_t n = json_array_size(arr);
  if (n > TG__SYNC_MISSING_MAX)
    return refuse(why, cap, "%zu missing ranges; at most %d", n, TG__SYNC_MISSING_MAX);
  for (size_t i = 0; i < n; i++) {
    const json_t *r = json_array_get(arr, i), *a = json_array_get(r, 0), *b = json_array_get(r, 1);
    if (!json_is_array(r) || json_array_size(r) != 2 || !json_is_integer(a) || !json_is_integer(b))
      return refuse(why, cap, "missing[%zu] is not a pair of integers", i);
    json_int_t lo = json_integer_value(a), hi = json_integer_value(b);
    /* gaps lie above what HQ holds through, in order, apart */
    int64_t floor = i == 0 ? out->acked_through : out->missing[i - 1][1];
    if (lo <= floor || lo > hi || hi > SEQ_MAX)
      return refuse(why, cap, "missing range [%lld, %lld] is out of range or order", (long long)lo,
                    (long long)hi);
    out->missing[i][0] = (int64_t)lo;
    out->missing[i][1] = (int64_t)hi;
    out->n_missing++;
  }
  return 0;
}

int tg__sync_ack_parse(const char *body, size_t n, int64_t from, int64_t to, tg__sync_ack *out,
                       char *why, size_t cap) {
  json_error_t err;
  json_t *root = NULL;
  const json_t *rejected, *missing;
  int rc = -1;
  assert(out != NULL && (body != NULL || n == 0));
  assert(from >= 1 && from <= to && to <= SEQ_MAX);
  memset(out, 0, sizeof *out);
  if (n > TG__SYNC_ACK_MAX) {
    refuse(why, cap, "%zu bytes; at most %d", n, TG__SYNC_ACK_MAX);
    goto fail;
  }
  root = json_loadb(body, n, JSON_REJECT_DUPLICATES, &err);
  if (root == NULL) {
    refuse(why, cap, "column %d: %s", err.column, err.text);
    goto fail;
  }
  rejected = json_object_get(root, "rejected");
  missing = json_object_get(root, "missing");
  if (!json_is_object(root) || json_object_size(root) != 3 || !json_is_array(rejected) ||
      !json_is_array(missing) || json_object_get(root, "acked_through") == NULL) {
    refuse(why, cap, "not an object of exactly acked_through, rejected and missing");
    goto fail;
  }
  if (get_int(root, "acked_through", 0, SEQ_MAX, &out->acked_through, why, cap) != 0 ||
      read_rejected(rejected, from, to, out, why, cap) != 0 ||
      read_missing(missing, out, why, cap) != 0)
    goto fail;
  rc = 0;
fail:
  json_decref(root);
  if (rc != 0)
    tg__sync_ack_free(out);
  return rc;
}

void tg__sync_ack_free(tg__sync_ack *ack) {
  if (ack == NULL)
    return;
  free(ack->rejected);
  memset(ack, 0, sizeof *ack);
}
