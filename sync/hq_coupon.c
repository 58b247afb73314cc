/* HQ's coupons: the key that signs them and the tokens HQ issues (welcome at join, settlements). */
#include <sodium.h>
#include <string.h>

#include "hq.h"
#include "pos.h"

void tg__hq_coupon_key(const unsigned char hq_sk[64], unsigned char pk[32], unsigned char sk[64]) {
  static const unsigned char context[] = "tillgroup-hq coupon key v1";
  unsigned char seed[crypto_sign_SEEDBYTES];
  /* hq_sk's first 32 bytes are its seed: a keyed hash of it is a seed no one else can make */
  crypto_generichash(seed, sizeof seed, context, sizeof context - 1, hq_sk, crypto_sign_SEEDBYTES);
  crypto_sign_seed_keypair(pk, sk, seed);
  sodium_memzero(seed, sizeof seed);
}

int tg__hq_coupon_make(const unsigned char hq_sk[64], tg__hq_coupon *c, char *out, size_t cap) {
  unsigned char pk[32], sk[64];
  if ((c->kind != TG__COUPON_AMOUNT && c->kind != TG__COUPON_PERCENT) ||
      (c->kind == TG__COUPON_PERCENT && c->value > 10000) || c->from_ms >= c->until_ms)
    return -1;
  if (c->id == 0) {
    randombytes_buf(&c->id, sizeof c->id);
    c->id = (c->id & ((UINT64_C(1) << 53) - 1)) | 1; /* JSON-safe, never 0 */
  }
  tg__token t = {.type = TG__TOKEN_COUPON, .key_id = TG__HQ_COUPON_KEY_ID, .coupon_id = c->id,
                 .campaign_id = c->campaign, .coupon_kind = c->kind, .value = c->value,
                 .min_spend = c->min_spend, .issued_ms = c->from_ms, .expires_ms = c->until_ms,
                 .single_use = c->single_use != 0};
  memcpy(t.store, c->store, sizeof t.store);
  tg__hq_coupon_key(hq_sk, pk, sk);
  int n = tg__token_encode(&t, sk, out, cap);
  sodium_memzero(sk, sizeof sk);
  return n < 0 ? -1 : n;
}
