/* HQ's reading of one upload line: a JSON check in one pass that keeps only the members HQ uses. */
#define _GNU_SOURCE /* strtod_l, newlocale */
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hq.h"

#define DEPTH_MAX 2048 /* jansson's JSON_PARSER_MAX_DEPTH: values open at once */
#define NAME_MAX_LEN 8 /* "terminal", the longest member name */

static const char *const member_names[TG__HQ_MEMBERS] = {
    "store", "terminal", "epoch", "seq", "kind", "uuid", "time_ms", "total"};

typedef struct {
  const unsigned char *z;
  size_t n, at;
  char *why;
  size_t cap;
} scan;

static int bad(scan *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(scan *s, const char *fmt, ...) {
  if (s->why != NULL && s->cap > 0) {
    int k = snprintf(s->why, s->cap, "byte %zu: ", s->at + 1);
    if (k >= 0 && (size_t)k < s->cap) {
      va_list ap;
      va_start(ap, fmt);
      vsnprintf(s->why + k, s->cap - (size_t)k, fmt, ap);
      va_end(ap);
    }
  }
  return -1;
}

static void skip_space(scan *s) {
  while (s->at < s->n) {
    unsigned char c = s->z[s->at];
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
      return;
    s->at++;
  }
}

/* The next byte, or -1 at the end. */
static int peek(const scan *s) { return s->at < s->n ? s->z[s->at] : -1; }

static int hex_value(int c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* Reads the four hex digits of a \u escape at s->at; -1 when they are not. */
static long read_hex4(scan *s) {
  long v = 0;
  if (s->n - s->at < 4)
    return -1;
  for (int i = 0; i < 4; i++) {
    int h = hex_value(s->z[s->at + (size_t)i]);
    if (h < 0)
      return -1;
    v = v * 16 + h;
  }
  s->at += 4;
  return v;
}

/* Length of the UTF-8 sequence at z[0..n) (2-4), or 0 when it is not one
 * (overlong, a surrogate, past U+10FFFF, cut short). */
static size_t utf8_length(const unsigned char *z, size_t n) {
  unsigned char c = z[0];
  size_t len;
  unsigned long u;
  if (c >= 0xC2 && c <= 0xDF)
    len = 2, u = c & 0x1F;
  else if (c >= 0xE0 && c <= 0xEF)
    len = 3, u = c & 0x0F;
  else if (c >= 0xF0 && c <= 0xF4)
    len = 4, u = c & 0x07;
  else
    return 0;
  if (n < len)
    return 0;
  for (size_t i = 1; i < len; i++) {
    if ((z[i] & 0xC0) != 0x80)
      return 0;
    u = (u << 6) | (z[i] & 0x3F);
  }
  if ((len == 3 && (u < 0x800 || (u >= 0xD800 && u <= 0xDFFF))) ||
      (len == 4 && (u < 0x10000 || u > 0x10FFFF)))
    return 0;
  return len;
}

/* Appends bytes to out (cap bytes plus a NUL) while there is room; *len counts them all. */
static void keep(char *out, size_t cap, size_t *len, const void *p, size_t k) {
  if (out != NULL && *len < cap)
    memcpy(out + *len, p, k < cap - *len ? k : cap - *len);
  *len += k;
}

static size_t utf8_encode(unsigned long u, char b[4]) {
  if (u < 0x80) {
    b[0] = (char)u;
    return 1;
  }
  if (u < 0x800) {
    b[0] = (char)(0xC0 | (u >> 6));
    b[1] = (char)(0x80 | (u & 0x3F));
    return 2;
  }
  if (u < 0x10000) {
    b[0] = (char)(0xE0 | (u >> 12));
    b[1] = (char)(0x80 | ((u >> 6) & 0x3F));
    b[2] = (char)(0x80 | (u & 0x3F));
    return 3;
  }
  b[0] = (char)(0xF0 | (u >> 18));
  b[1] = (char)(0x80 | ((u >> 12) & 0x3F));
  b[2] = (char)(0x80 | ((u >> 6) & 0x3F));
  b[3] = (char)(0x80 | (u & 0x3F));
  return 4;
}

/*
 * Checks the string whose opening quote is at s->at and moves past its
 * closing one. When out is not NULL, its first cap bytes unescaped go there,
 * NUL-terminated; *len is its whole unescaped length.
 */
static int read_string(scan *s, char *out, size_t cap, size_t *len) {
  *len = 0;
  s->at++;
  for (;;) {
    size_t start = s->at;
    while (s->at < s->n) { /* the plain run: printable ASCII other than " and \ */
      unsigned char c = s->z[s->at];
      if (c < 0x20 || c == '"' || c == '\\' || c >= 0x80)
        break;
      s->at++;
    }
    keep(out, cap, len, s->z + start, s->at - start);
    if (s->at == s->n)
      return bad(s, "a string is not closed");
    unsigned char c = s->z[s->at];
    if (c == '"') {
      s->at++;
      break;
    }
    if (c < 0x20)
      return bad(s, "a control character in a string");
    if (c >= 0x80) {
      size_t k = utf8_length(s->z + s->at, s->n - s->at);
      if (k == 0)
        return bad(s, "not UTF-8");
      keep(out, cap, len, s->z + s->at, k);
      s->at += k;
      continue;
    }
    s->at++; /* the backslash */
    int e = peek(s);
    static const char plain[] = "\"\\/bfnrt", meant[] = "\"\\/\b\f\n\r\t";
    const char *p = e > 0 ? strchr(plain, e) : NULL;
    if (p != NULL) {
      keep(out, cap, len, &meant[p - plain], 1);
      s->at++;
      continue;
    }
    if (e != 'u')
      return bad(s, "an escape that JSON does not have");
    s->at++;
    long u = read_hex4(s);
    if (u < 0)
      return bad(s, "\\u without four hex digits");
    if (u >= 0xD800 && u <= 0xDBFF) {
      long low;
      if (s->n - s->at < 2 || s->z[s->at] != '\\' || s->z[s->at + 1] != 'u')
        return bad(s, "a high surrogate without its low one");
      s->at += 2;
      if ((low = read_hex4(s)) < 0)
        return bad(s, "\\u without four hex digits");
      if (low < 0xDC00 || low > 0xDFFF)
        return bad(s, "a high surrogate without its low one");
      u = 0x10000 + ((u - 0xD800) << 10) + (low - 0xDC00);
    } else if (u >= 0xDC00 && u <= 0xDFFF) {
      return bad(s, "a low surrogate alone");
    } else if (u == 0) {
      return bad(s, "\\u0000 in a string");
    }
    char b[4];
    keep(out, cap, len, b, utf8_encode((unsigned long)u, b));
  }
  if (out != NULL)
    out[*len < cap ? *len : cap] = '\0';
  return 0;
}

static locale_t c_locale;
static void make_c_locale(void) { c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0); }

/*
 * Checks the number at s->at and moves past it. An integer is read into
 * *integer and *is_integer set; a real is only checked for overflow, as
 * jansson refuses one that does not fit a double.
 */
static int read_number(scan *s, int64_t *integer, int *is_integer) {
  size_t start = s->at;
  int negative = peek(s) == '-';
  uint64_t v = 0, limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
  int overflow = 0;
  if (negative)
    s->at++;
  int c = peek(s);
  if (c < '0' || c > '9')
    return bad(s, "a number without digits");
  if (c == '0') {
    s->at++;
    if ((c = peek(s)) >= '0' && c <= '9')
      return bad(s, "a number with a leading zero");
  } else {
    while ((c = peek(s)) >= '0' && c <= '9') {
      unsigned d = (unsigned)(c - '0');
      if (v > (limit - d) / 10)
        overflow = 1;
      else
        v = v * 10 + d;
      s->at++;
    }
  }
  if (c != '.' && c != 'e' && c != 'E') {
    if (overflow)
      return bad(s, "an integer beyond 64 bits");
    *integer = negative ? (int64_t)(0 - v) : (int64_t)v;
    *is_integer = 1;
    return 0;
  }
  if (c == '.') {
    s->at++;
    if ((c = peek(s)) < '0' || c > '9')
      return bad(s, "a fraction without digits");
    while ((c = peek(s)) >= '0' && c <= '9')
      s->at++;
  }
  if (c == 'e' || c == 'E') {
    s->at++;
    if ((c = peek(s)) == '+' || c == '-')
      s->at++;
    if ((c = peek(s)) < '0' || c > '9')
      return bad(s, "an exponent without digits");
    while ((c = peek(s)) >= '0' && c <= '9')
      s->at++;
  }
  *is_integer = 0;
  if (s->at == s->n) /* a line cannot end in a number; strtod must not read past it */
    return bad(s, "the line ends inside a value");
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, make_c_locale);
  if (c_locale == (locale_t)0)
    return bad(s, "out of memory reading a number");
  errno = 0; /* the next byte ends the number for strtod as for JSON */
  double d = strtod_l((const char *)s->z + start, NULL, c_locale);
  if (errno == ERANGE && isinf(d))
    return bad(s, "a number too large for a double");
  return 0;
}

/* Reads true, false or null: the run of letters must be one of them. */
static int read_word(scan *s) {
  size_t start = s->at;
  while (s->at < s->n && ((s->z[s->at] >= 'a' && s->z[s->at] <= 'z') ||
                          (s->z[s->at] >= 'A' && s->z[s->at] <= 'Z')))
    s->at++;
  size_t k = s->at - start;
  const char *w = (const char *)s->z + start;
  if ((k == 4 && (memcmp(w, "true", 4) == 0 || memcmp(w, "null", 4) == 0)) ||
      (k == 5 && memcmp(w, "false", 5) == 0))
    return 0;
  s->at = start;
  return bad(s, "not a JSON value");
}

/* The member index a top-level key names, or -1. */
static int member_of(const char *key, size_t len) {
  if (len > NAME_MAX_LEN)
    return -1;
  for (int i = 0; i < TG__HQ_MEMBERS; i++)
    if (strlen(member_names[i]) == len && memcmp(member_names[i], key, len) == 0)
      return i;
  return -1;
}

int tg__hq_line_read(const char *z, size_t n, tg__hq_member m[TG__HQ_MEMBERS], char *why,
                     size_t cap) {
  scan s = {(const unsigned char *)z, n, 0, why, cap};
  unsigned char is_object[DEPTH_MAX]; /* per open container: 1 an object, 0 an array */
  int depth = 0, member = -1;
  memset(m, 0, TG__HQ_MEMBERS * sizeof *m);
  skip_space(&s);
  if (peek(&s) != '{')
    return bad(&s, "not a JSON object");
  for (;;) { /* here a value starts, inside depth containers */
    tg__hq_member *into = member >= 0 ? &m[member] : NULL;
    int c = peek(&s), done = 0;
    member = -1;
    if (depth + 1 > DEPTH_MAX)
      return bad(&s, "values nested more than %d deep", DEPTH_MAX);
    if (c == '{' || c == '[') {
      s.at++;
      skip_space(&s);
      if (into != NULL)
        into->type = TG__HQ_OTHER;
      if (peek(&s) == (c == '{' ? '}' : ']')) {
        s.at++;
        done = 1;
      } else {
        is_object[depth++] = c == '{';
      }
    } else if (c == '"') {
      size_t len;
      if (read_string(&s, into != NULL ? into->text : NULL, TG__HQ_TEXT_MAX, &len) != 0)
        return -1;
      if (into != NULL)
        into->type = TG__HQ_STRING, into->len = len;
      done = 1;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      int64_t v = 0;
      int is_integer = 0;
      if (read_number(&s, &v, &is_integer) != 0)
        return -1;
      if (into != NULL) {
        into->type = is_integer ? TG__HQ_INTEGER : TG__HQ_OTHER;
        into->integer = v;
      }
      done = 1;
    } else {
      if (read_word(&s) != 0)
        return -1;
      if (into != NULL)
        into->type = TG__HQ_OTHER;
      done = 1;
    }
    /* after a complete value: close containers, or find where the next one starts */
    for (;;) {
      skip_space(&s);
      if (done) {
        if (depth == 0) {
          if (s.at != s.n)
            return bad(&s, "more after the object");
          return 0;
        }
        c = peek(&s);
        if (c == (is_object[depth - 1] ? '}' : ']')) {
          s.at++;
          depth--;
          continue;
        }
        if (c != ',')
          return bad(&s, "expected ',' or the container's end");
        s.at++;
        skip_space(&s);
      }
      if (is_object[depth - 1]) { /* a key, then ':' */
        char key[NAME_MAX_LEN + 1];
        size_t len;
        if (peek(&s) != '"')
          return bad(&s, "expected a key in quotes");
        if (read_string(&s, depth == 1 ? key : NULL, NAME_MAX_LEN, &len) != 0)
          return -1;
        if (depth == 1 && (member = member_of(key, len)) >= 0 && m[member].type != TG__HQ_ABSENT)
          return bad(&s, "\"%s\" appears twice", member_names[member]);
        skip_space(&s);
        if (peek(&s) != ':')
          return bad(&s, "expected ':' after a key");
        s.at++;
        skip_space(&s);
      }
      break;
    }
  }
}
