/* libFuzzer target: a scanned code read as a token, against a fixed key ring. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "pos.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static tg__token_key keys[4];
  static int ready;
  tg__token t;
  if (!ready) {
    unsigned char seed[32] = {0}, sk[64];
    if (sodium_init() < 0)
      abort();
    crypto_sign_seed_keypair(keys[0].key, sk, seed);
    keys[0].id = 1, keys[0].role = 'M';
    keys[1] = keys[0], keys[1].role = 'R';
    keys[2] = keys[0], keys[2].role = 'C';
    keys[3] = (tg__token_key){3, 'I', {1, 2, 3}};
    ready = 1;
  }
  int rc = tg__token_decode((const char *)data, size, keys, 4, &t);
  if (rc == 0) {
    /* only an invite can be made here without HQ's secret key: it must read back */
    if (t.type != TG__TOKEN_INVITE)
      abort();
    tg__token_check(&t, 0, "S1");
  } else if (rc != TG_ETOKEN && rc != TG_EFORGED && rc != TG_EKEY && rc != TG_EVERSION) {
    abort();
  }
  return 0;
}
