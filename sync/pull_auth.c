/* HQ's signature on a nightly pull request, made by HQ and checked by the terminal it reads. */
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "sync.h"

#define B64 sodium_base64_VARIANT_URLSAFE_NO_PADDING
#define SIG_B64 86 /* characters of a 64-byte signature in base64url without padding */

/* The signed message: "TGP1\n" METHOD "\n" TARGET "\n" STORE "\n" TERMINAL "\n" TIME_MS. */
static int message(char *out, size_t cap, const char *method, const char *target,
                   const char *store, const char *terminal, int64_t time_ms) {
  int n = snprintf(out, cap, "TGP1\n%s\n%s\n%s\n%s\n%" PRId64, method, target, store, terminal,
                   time_ms);
  return n < 0 || (size_t)n >= cap ? -1 : n;
}

int tg__pull_sign(const unsigned char hq_sk[64], const char *store, const char *terminal,
                  const char *method, const char *target, int64_t now_ms, char *out, size_t cap) {
  char msg[TG__PULL_TARGET_MAX + 96], sig_text[SIG_B64 + 1];
  unsigned char sig[crypto_sign_BYTES];
  if (strlen(target) > TG__PULL_TARGET_MAX)
    return -1;
  int n = message(msg, sizeof msg, method, target, store, terminal, now_ms);
  if (n < 0)
    return -1;
  crypto_sign_detached(sig, NULL, (const unsigned char *)msg, (size_t)n, hq_sk);
  sodium_bin2base64(sig_text, sizeof sig_text, sig, sizeof sig, B64);
  n = snprintf(out, cap, "TG-HQ %s.%s.%" PRId64 ".%s", store, terminal, now_ms, sig_text);
  return n < 0 || (size_t)n >= cap ? -1 : n;
}

int64_t tg__pull_decimal(const char *z, size_t n) {
  int64_t v = 0;
  if (n == 0 || n > 16 || z[0] == '0')
    return -1;
  for (size_t i = 0; i < n; i++) {
    if (z[i] < '0' || z[i] > '9')
      return -1;
    v = v * 10 + (z[i] - '0');
  }
  return v <= TG__PULL_SEQ_MAX ? v : -1;
}

int tg__pull_check(const unsigned char hq_key[32], const char *store, const char *terminal,
                   const char *method, const char *target, const char *header, int64_t now_ms,
                   char *why, size_t cap) {
  char msg[TG__PULL_TARGET_MAX + 96], again[SIG_B64 + 1];
  unsigned char sig[crypto_sign_BYTES];
  size_t n_store = strlen(store), n_terminal = strlen(terminal), got;
  int64_t time_ms;
  const char *end;
  if (header == NULL || strncmp(header, "TG-HQ ", 6) != 0) {
    snprintf(why, cap, "no TG-HQ signature: only HQ may pull this terminal's records");
    return -1;
  }
  const char *p = header + 6, *dot;
  if (strlen(p) > TG__PULL_AUTH_MAX || strncmp(p, store, n_store) != 0 || p[n_store] != '.' ||
      strncmp(p + n_store + 1, terminal, n_terminal) != 0 || p[n_store + 1 + n_terminal] != '.') {
    snprintf(why, cap, "the signature is not for %s-%s", store, terminal);
    return -1;
  }
  p += n_store + n_terminal + 2;
  if ((dot = strchr(p, '.')) == NULL || (time_ms = tg__pull_decimal(p, (size_t)(dot - p))) < 0 ||
      strlen(dot + 1) != SIG_B64 ||
      sodium_base642bin(sig, sizeof sig, dot + 1, SIG_B64, NULL, &got, &end, B64) != 0 ||
      got != sizeof sig) {
    snprintf(why, cap, "the TG-HQ signature is malformed");
    return -1;
  }
  /* one text per signature: base64url's spare bits in the last character must be zero */
  sodium_bin2base64(again, sizeof again, sig, sizeof sig, B64);
  if (strcmp(again, dot + 1) != 0) {
    snprintf(why, cap, "the TG-HQ signature is malformed");
    return -1;
  }
  if (time_ms < now_ms - TG__PULL_SKEW_MS || time_ms > now_ms + TG__PULL_SKEW_MS) {
    snprintf(why, cap, "the signature's time is more than 5 minutes from this terminal's clock");
    return -1;
  }
  int n = strlen(target) > TG__PULL_TARGET_MAX
              ? -1
              : message(msg, sizeof msg, method, target, store, terminal, time_ms);
  if (n < 0 || crypto_sign_verify_detached(sig, (const unsigned char *)msg, (size_t)n, hq_key) != 0) {
    snprintf(why, cap, "the signature is not HQ's");
    return -1;
  }
  return 0;
}

void tg__pull_mac(const unsigned char invite_key[32], const char *authorization, const void *body,
                  size_t n, char out[TG__PULL_MAC_TEXT]) {
  static const unsigned char context[] = "tillgroup pull answer v1";
  unsigned char key[crypto_auth_hmacsha256_KEYBYTES], mac[crypto_auth_hmacsha256_BYTES];
  unsigned char digest[32];
  crypto_auth_hmacsha256_state st;
  /* its own key, so an answer's MAC can never pass for an invite's tag */
  crypto_generichash(key, sizeof key, context, sizeof context - 1, invite_key, 32);
  crypto_generichash(digest, sizeof digest, body, n, NULL, 0);
  crypto_auth_hmacsha256_init(&st, key, sizeof key);
  crypto_auth_hmacsha256_update(&st, (const unsigned char *)authorization, strlen(authorization));
  crypto_auth_hmacsha256_update(&st, (const unsigned char *)"\n", 1);
  crypto_auth_hmacsha256_update(&st, digest, sizeof digest);
  crypto_auth_hmacsha256_final(&st, mac);
  sodium_memzero(key, sizeof key);
  sodium_bin2base64(out, TG__PULL_MAC_TEXT, mac, sizeof mac, B64);
}
