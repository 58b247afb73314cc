/* Reads a terminal's manifest answer strictly: exactly its eight members, each in range. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "hq.h"

#define SEQ_MAX (INT64_C(1) << 53)

static int id_member(json_t *o, const char *name, char *out, char *why, size_t cap) {
  json_t *v = json_object_get(o, name);
  const char *z = json_is_string(v) ? json_string_value(v) : NULL;
  if (z == NULL || strlen(z) != json_string_length(v) || !tg__hq_valid_id(z)) {
    snprintf(why, cap, "manifest: \"%s\" is not 1-12 characters A-Z 0-9", name);
    return -1;
  }
  memcpy(out, z, strlen(z) + 1);
  return 0;
}

static int int_member(json_t *o, const char *name, int64_t min, int64_t *out, char *why,
                      size_t cap) {
  json_t *v = json_object_get(o, name);
  if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > SEQ_MAX) {
    snprintf(why, cap, "manifest: \"%s\" is not an integer %lld..2^53", name, (long long)min);
    return -1;
  }
  *out = json_integer_value(v);
  return 0;
}

static int hex_digit(char c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int tg__hq_manifest_parse(const char *z, size_t n, tg__hq_manifest *out, char *why, size_t cap) {
  json_error_t err;
  json_t *o = NULL;
  int rc = -1;
  memset(out, 0, sizeof *out);
  if (n > TG__HQ_MANIFEST_MAX) {
    snprintf(why, cap, "manifest: longer than %d bytes", TG__HQ_MANIFEST_MAX);
    return -1;
  }
  o = json_loadb(z, n, JSON_REJECT_DUPLICATES, &err);
  if (o == NULL) {
    snprintf(why, cap, "manifest: not JSON: %.120s", err.text);
    return -1;
  }
  if (!json_is_object(o) || json_object_size(o) != 8) {
    snprintf(why, cap, "manifest: not an object of exactly store, terminal, epoch, max_seq, from,"
                       " to, count, digest");
    goto done;
  }
  if (id_member(o, "store", out->store, why, cap) != 0 ||
      id_member(o, "terminal", out->terminal, why, cap) != 0 ||
      int_member(o, "epoch", 1, &out->epoch, why, cap) != 0 ||
      int_member(o, "max_seq", 0, &out->max_seq, why, cap) != 0 ||
      int_member(o, "from", 1, &out->from, why, cap) != 0 ||
      int_member(o, "to", 0, &out->to, why, cap) != 0 ||
      int_member(o, "count", 0, &out->count, why, cap) != 0)
    goto done;
  json_t *d = json_object_get(o, "digest");
  const char *hex = json_is_string(d) ? json_string_value(d) : NULL;
  if (hex == NULL || json_string_length(d) != 64) {
    snprintf(why, cap, "manifest: \"digest\" is not 64 lowercase hex digits");
    goto done;
  }
  for (int i = 0; i < 32; i++) {
    int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      snprintf(why, cap, "manifest: \"digest\" is not 64 lowercase hex digits");
      goto done;
    }
    out->digest[i] = (unsigned char)(hi << 4 | lo);
  }
  if (out->to > out->max_seq || (out->to < out->from && !(out->from == 1 && out->to == 0)) ||
      out->count != out->to - out->from + 1) {
    snprintf(why, cap, "manifest: from %lld, to %lld, count %lld do not fit max_seq %lld",
             (long long)out->from, (long long)out->to, (long long)out->count,
             (long long)out->max_seq);
    goto done;
  }
  rc = 0;
done:
  json_decref(o);
  return rc;
}
