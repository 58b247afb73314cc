/* Validation of text from outside: UTF-8, ids and UUIDs. */
#include <sodium.h>
#include <string.h>

#include "pos.h"
#include "receipts.h"

size_t tg__utf8_char(const char *s, size_t n) {
  uint32_t cp;
  size_t len = tg__utf8_decode(s, n, &cp);
  if (len == 0 || cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f))
    return 0; /* C0 and C1 controls, DEL */
  return len;
}

int tg__utf8_valid(const char *s, size_t n) {
  for (size_t i = 0, len; i < n; i += len)
    if ((len = tg__utf8_char(s + i, n - i)) == 0)
      return 0;
  return 1;
}

void tg__utf8_clean(char *s) {
  size_t n = strlen(s);
  for (size_t i = 0, len; i < n; i += len)
    if ((len = tg__utf8_char(s + i, n - i)) == 0) {
      s[i] = '?';
      len = 1;
    }
}

/* Refuses a text input: "[line N ]what reason". */
static int refuse(tg_terminal *t, int code, int line, const char *what, const char *reason) {
  if (line > 0)
    return tg__fail(t, code, "line %d %s %s", line, what, reason);
  return tg__fail(t, code, "%s %s", what, reason);
}

int tg__text_check(tg_terminal *t, int line, const char *what, const char *s, size_t max,
                   int may_be_empty) {
  char reason[48];
  size_t n;
  if (s == NULL || s[0] == '\0')
    return may_be_empty ? 0 : refuse(t, TG_EINVAL, line, what, "is missing");
  n = strnlen(s, max + 1);
  if (n > max) {
    snprintf(reason, sizeof reason, "is longer than %zu bytes", max);
    return refuse(t, TG_ETOOLONG, line, what, reason);
  }
  if (!tg__utf8_valid(s, n))
    return refuse(t, TG_EUTF8, line, what, "is not valid UTF-8 or holds control characters");
  return 0;
}

int tg__id_valid(const char *id) {
  size_t n;
  if (id == NULL)
    return 0;
  n = strnlen(id, TG_ID_MAX + 1);
  if (n == 0 || n > TG_ID_MAX)
    return 0;
  for (size_t i = 0; i < n; i++) {
    char c = id[i];
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
      return 0;
  }
  return 1;
}

static int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

int tg__uuid_parse(const char *s, unsigned char out[16]) {
  int k = 0;
  if (s == NULL || strnlen(s, TG_UUID_LEN + 1) != TG_UUID_LEN)
    return TG_EUUID;
  for (int i = 0; i < TG_UUID_LEN;) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i] != '-')
        return TG_EUUID;
      i++;
      continue;
    }
    int hi = hex_value(s[i]), lo = hex_value(s[i + 1]);
    if (hi < 0 || lo < 0)
      return TG_EUUID;
    out[k++] = (unsigned char)(hi << 4 | lo);
    i += 2;
  }
  return 0;
}

void tg__uuid_format(const unsigned char u[16], char out[TG_UUID_LEN + 1]) {
  static const char digits[] = "0123456789abcdef";
  int k = 0;
  for (int i = 0; i < 16; i++) {
    if (i == 4 || i == 6 || i == 8 || i == 10)
      out[k++] = '-';
    out[k++] = digits[u[i] >> 4];
    out[k++] = digits[u[i] & 15];
  }
  out[k] = '\0';
}

void tg__uuid_random(char out[TG_UUID_LEN + 1]) {
  unsigned char u[16];
  randombytes_buf(u, sizeof u);
  u[6] = (unsigned char)((u[6] & 0x0f) | 0x40); /* version 4 */
  u[8] = (unsigned char)((u[8] & 0x3f) | 0x80); /* RFC 4122 variant */
  tg__uuid_format(u, out);
}

int64_t tg__parse_int(const char *s, int64_t max) {
  int64_t v = 0;
  if (s == NULL || *s == '\0')
    return -1;
  for (; *s; s++) {
    if (*s < '0' || *s > '9' || v > (max - (*s - '0')) / 10)
      return -1;
    v = v * 10 + (*s - '0');
  }
  return v;
}
