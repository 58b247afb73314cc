/* The enrolment credential: its text form, the bearer token, and the keys derived from the secret.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "sync.h"

#define B64 sodium_base64_VARIANT_URLSAFE_NO_PADDING
#define B64_32 43 /* characters of 32 bytes in base64url without padding */

/* 1-12 characters A-Z 0-9, as pos checks store and terminal ids. */
static int id_valid(const char *z, size_t n) {
  if (n < 1 || n > TG__SYNC_ID_MAX)
    return 0;
  for (size_t i = 0; i < n; i++)
    if (!((z[i] >= 'A' && z[i] <= 'Z') || (z[i] >= '0' && z[i] <= '9')))
      return 0;
  return 1;
}

/* Decodes exactly 32 bytes of base64url from z[0..n). */
static int key_decode(const char *z, size_t n, unsigned char out[32]) {
  size_t got;
  const char *end;
  return n == B64_32 && sodium_base642bin(out, 32, z, n, NULL, &got, &end, B64) == 0 && got == 32 &&
                 end == z + n
             ? 0
             : -1;
}

/* Splits z[0..n) at '.' into at most max fields; returns how many. */
static int split(const char *z, size_t n, const char **field, size_t *len, int max) {
  int k = 0;
  const char *start = z;
  for (size_t i = 0; i <= n; i++) {
    if (i == n || z[i] == '.') {
      if (k == max)
        return max + 1;
      field[k] = start;
      len[k++] = (size_t)(z + i - start);
      start = z + i + 1;
    }
  }
  return k;
}

static int why_set(char *why, size_t cap, const char *reason) {
  if (why != NULL && cap > 0)
    snprintf(why, cap, "%s", reason);
  return -1;
}

int tg__cred_parse(const char *z, size_t n, tg__cred *out, char *why, size_t cap) {
  const char *f[5];
  size_t len[5];
  memset(out, 0, sizeof *out);
  while (n > 0 && (z[0] == ' ' || z[0] == '\t' || z[0] == '\r' || z[0] == '\n'))
    z++, n--;
  while (n > 0 && (z[n - 1] == ' ' || z[n - 1] == '\t' || z[n - 1] == '\r' || z[n - 1] == '\n'))
    n--;
  if (n > TG__CRED_TEXT_MAX)
    return why_set(why, cap, "credential is too long: copy exactly the line tillgroup-hq printed");
  if (split(z, n, f, len, 5) != 5 || len[0] != 3 || memcmp(f[0], "tg1", 3) != 0)
    return why_set(why, cap,
                   "not a tillgroup credential: it has the form tg1.STORE.TERMINAL.SECRET.KEY");
  if (!id_valid(f[1], len[1]) || !id_valid(f[2], len[2]))
    return why_set(why, cap, "credential's store or terminal is not 1-12 characters A-Z 0-9");
  if (key_decode(f[3], len[3], out->secret) != 0 || key_decode(f[4], len[4], out->hq_key) != 0) {
    sodium_memzero(out, sizeof *out);
    return why_set(why, cap, "credential's secret or HQ key is damaged: copy the whole line again");
  }
  memcpy(out->store, f[1], len[1]);
  memcpy(out->terminal, f[2], len[2]);
  return 0;
}

int tg__cred_format(const tg__cred *c, char *out, size_t cap) {
  char secret[B64_32 + 1], key[B64_32 + 1];
  sodium_bin2base64(secret, sizeof secret, c->secret, sizeof c->secret, B64);
  sodium_bin2base64(key, sizeof key, c->hq_key, sizeof c->hq_key, B64);
  int len = snprintf(out, cap, "tg1.%s.%s.%s.%s", c->store, c->terminal, secret, key);
  sodium_memzero(secret, sizeof secret);
  return len < 0 || (size_t)len >= cap ? -1 : len;
}

void tg__cred_auth_hash(const unsigned char secret[TG__CRED_SECRET], unsigned char out[32]) {
  crypto_generichash(out, 32, secret, TG__CRED_SECRET, NULL, 0);
}

void tg__cred_invite_key(const unsigned char secret[TG__CRED_SECRET], unsigned char out[32]) {
  crypto_kdf_derive_from_key(out, 32, 1, "tginvite", secret);
}

int tg__cred_bearer(const tg__cred *c, char *out, size_t cap) {
  char secret[B64_32 + 1];
  sodium_bin2base64(secret, sizeof secret, c->secret, sizeof c->secret, B64);
  int len = snprintf(out, cap, "Bearer %s.%s.%s", c->store, c->terminal, secret);
  sodium_memzero(secret, sizeof secret);
  return len < 0 || (size_t)len >= cap ? -1 : len;
}

int tg__cred_bearer_parse(const char *z, char store[TG__SYNC_ID_MAX + 1],
                          char terminal[TG__SYNC_ID_MAX + 1],
                          unsigned char secret[TG__CRED_SECRET]) {
  const char *f[3];
  size_t len[3];
  size_t n = strnlen(z, TG__CRED_TEXT_MAX + 1);
  if (n > TG__CRED_TEXT_MAX || split(z, n, f, len, 3) != 3 || !id_valid(f[0], len[0]) ||
      !id_valid(f[1], len[1]) || key_decode(f[2], len[2], secret) != 0)
    return -1;
  memcpy(store, f[0], len[0]);
  store[len[0]] = '\0';
  memcpy(terminal, f[1], len[1]);
  terminal[len[1]] = '\0';
  return 0;
}
