/* What a nightly pull request asks for, from its method, target and Accept-Encoding alone. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "sync.h"

static void refuse(tg__pull_request *out, unsigned status, const char *why) {
  out->status = status;
  snprintf(out->why, sizeof out->why, "%s", why);
}

/* Reads "from=A&to=B" in either order into out; 0, or -1 with out refused as 422. */
static int read_query(const char *q, tg__pull_request *out) {
  int seen_from = 0, seen_to = 0;
  for (;;) {
    size_t n = strcspn(q, "&");
    const char *eq = memchr(q, '=', n);
    size_t name = eq != NULL ? (size_t)(eq - q) : n;
    int is_from = name == 4 && memcmp(q, "from", 4) == 0;
    int is_to = name == 2 && memcmp(q, "to", 2) == 0;
    if (!is_from && !is_to)
      return refuse(out, 422, "the only query parameters are from and to"), -1;
    if ((is_from && seen_from) || (is_to && seen_to))
      return refuse(out, 422, is_from ? "from is given twice" : "to is given twice"), -1;
    int64_t v = eq != NULL ? tg__pull_decimal(eq + 1, n - name - 1) : -1;
    if (v < 0)
      return refuse(out, 422,
                    is_from ? "from is not a decimal 1..2^53 without sign or leading zero"
                            : "to is not a decimal 1..2^53 without sign or leading zero"),
             -1;
    if (is_from) {
      seen_from = 1;
      out->from = v;
    } else {
      seen_to = 1;
      out->to = v;
    }
    if (q[n] == '\0')
      break;
    q += n + 1;
  }
  if (!seen_from || !seen_to)
    return refuse(out, 422, "give both from and to"), -1;
  return 0;
}

void tg__pull_request_decide(const char *method, const char *target, tg__pull_request *out) {
  memset(out, 0, sizeof *out);
  if (method == NULL || target == NULL) {
    refuse(out, 400, "no method or target");
    return;
  }
  if (strcmp(method, "HEAD") == 0)
    out->head = 1;
  else if (strcmp(method, "GET") != 0) {
    refuse(out, 405, "method not allowed: use GET");
    return;
  }
  if (strnlen(target, TG__PULL_TARGET_MAX + 1) > TG__PULL_TARGET_MAX) {
    refuse(out, 414, "the target is over 512 bytes");
    return;
  }
  size_t n_path = strcspn(target, "?");
  if (n_path == 12 && memcmp(target, "/v1/manifest", 12) == 0)
    out->route = TG__PULL_MANIFEST;
  else if (n_path == 11 && memcmp(target, "/v1/records", 11) == 0)
    out->route = TG__PULL_RECORDS;
  else {
    refuse(out, 404, "no such path: use /v1/manifest or /v1/records");
    return;
  }
  if (target[n_path] == '\0') {
    if (out->route == TG__PULL_RECORDS)
      refuse(out, 422, "give both from and to");
    return;
  }
  if (read_query(target + n_path + 1, out) != 0)
    return;
  out->has_range = 1;
  if (out->from > out->to) {
    refuse(out, 422, "from is above to");
    return;
  }
  if (out->route == TG__PULL_RECORDS && out->to - out->from >= TG__SYNC_BATCH_RECORDS) {
    refuse(out, 422, "at most 10000 records per request");
    return;
  }
}

/* Whether c ends a token of Accept-Encoding. */
static int token_end(char c) { return c == '\0' || c == ',' || c == ';' || c == ' ' || c == '\t'; }

/* Reads a q-value "0", "0.x", "1", "1.0" at z; 1 when above zero. Anything else counts as 1. */
static int q_positive(const char *z, const char *end) {
  if (z >= end || *z != '0')
    return 1;
  for (z++; z < end && (*z == '.' || *z == '0'); z++)
    ;
  return z < end && *z >= '1' && *z <= '9';
}

int tg__pull_accepts_gzip(const char *accept_encoding) {
  if (accept_encoding == NULL)
    return 0;
  const char *p = accept_encoding;
  const char *end = p + strnlen(p, TG__PULL_ACCEPT_MAX);
  int gzip = 0, star = -1; /* star: -1 not named, else whether it allows */
  while (p < end) {
    /* one item: "coding [; q=V]" up to the next comma; every pass moves p forward */
    const char *comma = memchr(p, ',', (size_t)(end - p));
    const char *item_end = comma != NULL ? comma : end;
    while (p < item_end && (*p == ' ' || *p == '\t'))
      p++;
    const char *name = p;
    while (p < item_end && !token_end(*p))
      p++;
    size_t n = (size_t)(p - name);
    int allowed = 1;
    const char *semi = memchr(p, ';', (size_t)(item_end - p));
    if (semi != NULL) {
      const char *q = semi + 1;
      while (q < item_end && (*q == ' ' || *q == '\t'))
        q++;
      if (item_end - q >= 2 && (q[0] == 'q' || q[0] == 'Q') && q[1] == '=')
        allowed = q_positive(q + 2, item_end);
    }
    if ((n == 4 && strncasecmp(name, "gzip", 4) == 0) ||
        (n == 6 && strncasecmp(name, "x-gzip", 6) == 0))
      gzip = allowed ? 1 : -1;
    else if (n == 1 && name[0] == '*')
      star = allowed;
    p = item_end + (comma != NULL);
  }
  if (gzip != 0)
    return gzip > 0;
  return star > 0;
}
