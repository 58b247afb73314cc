/* HQ's Ed25519 signature over a config bundle's exact bytes, as base64url text. */
#include <sodium.h>
#include <string.h>

#include "sync.h"

#define CONTEXT "TGB1" /* keeps bundle signatures apart from anything else HQ's key signs */
#define B64 sodium_base64_VARIANT_URLSAFE_NO_PADDING

/* Feeds the signed message, "TGB1" then the body, to a multi-part Ed25519 state. */
static void absorb(crypto_sign_state *st, const void *body, size_t n) {
  crypto_sign_init(st);
  crypto_sign_update(st, (const unsigned char *)CONTEXT, sizeof CONTEXT - 1);
  crypto_sign_update(st, body, n);
}

void tg__bundle_sig_make(const unsigned char sk[64], const void *body, size_t n,
                         char sig[TG__BUNDLE_SIG_TEXT]) {
  crypto_sign_state st;
  unsigned char raw[crypto_sign_BYTES];
  absorb(&st, body, n);
  crypto_sign_final_create(&st, raw, NULL, sk);
  sodium_bin2base64(sig, TG__BUNDLE_SIG_TEXT, raw, sizeof raw, B64);
}

int tg__bundle_sig_check(const unsigned char hq_key[32], const void *body, size_t n,
                         const char *sig) {
  unsigned char raw[crypto_sign_BYTES];
  size_t got;
  const char *end;
  size_t len = strnlen(sig, TG__BUNDLE_SIG_TEXT);
  if (len >= TG__BUNDLE_SIG_TEXT ||
      sodium_base642bin(raw, sizeof raw, sig, len, NULL, &got, &end, B64) != 0 ||
      got != sizeof raw || end != sig + len)
    return -1;
  crypto_sign_state st;
  absorb(&st, body, n);
  return crypto_sign_final_verify(&st, raw, (unsigned char *)hq_key) == 0 ? 0 : -1;
}
