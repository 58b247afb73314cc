/*
 * libFuzzer target: the join page's reading of outside input without a
 * server — the path after /J/ percent-decoded and read as an invite (peeked,
 * then proven with a fixed key), and the Accept-Language header — with the
 * properties each must keep.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "hq.h"
#include "pos.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static tg__token_key key = {3, 'I', {0}}; /* docs/tokens.md's invite secret a0 a1 ... bf */
  if (key.key[0] == 0)
    for (int i = 0; i < 32; i++)
      key.key[i] = (unsigned char)(0xa0 + i);
  char token[TG__TOKEN_TEXT_MAX + 1], store[TG__SYNC_ID_MAX + 1], terminal[TG__SYNC_ID_MAX + 1];
  char *z = malloc(size + 1);
  tg__token t;
  if (z == NULL)
    return 0;
  memcpy(z, data, size);
  z[size] = '\0';
  /* percent-decoding: bounded, printable ASCII out, never longer than in */
  int n = tg__hq_percent_decode(z, size, token, sizeof token);
  if (n >= 0) {
    if ((size_t)n > size || (size_t)n >= sizeof token || token[n] != '\0')
      abort();
    for (int i = 0; i < n; i++)
      if (token[i] < 0x20 || token[i] >= 0x7f)
        abort();
    if (tg__hq_invite_peek(token, (size_t)n, store, terminal) == 0 &&
        (!tg__hq_valid_id(store) || !tg__hq_valid_id(terminal)))
      abort();
    int rc = tg__token_decode(token, (size_t)n, &key, 1, &t);
    if (rc == 0 && (t.type != TG__TOKEN_INVITE || tg__hq_invite_peek(token, (size_t)n, store,
                                                                      terminal) != 0 ||
                    strcmp(store, t.store) != 0 || strcmp(terminal, t.terminal) != 0))
      abort(); /* a proven invite names the store and terminal its key was found by */
    if (rc == 0)
      tg__token_check(&t, 0, t.store);
  }
  /* Accept-Language: one of the two languages, whatever the header */
  int lang = tg__hq_join_lang(z);
  if (lang != TG__HQ_LANG_ZH && lang != TG__HQ_LANG_EN)
    abort();
  (void)tg__hq_join_client_ok(z);
  free(z);
  return 0;
}
