/* What the terminal and HQ share: gzip with bomb limits, the credential, bundle signatures. */
#include <sodium.h>
#include <string.h>
#include <zlib.h>

#include "helpers.h"
#include "sync.h"

static void gzip_round_trips_and_is_deterministic(void **state) {
  (void)state;
  char text[20000];
  for (size_t i = 0; i < sizeof text; i++)
    text[i] = (char)('a' + (i * 7 + i / 13) % 26);
  unsigned char *z1, *z2, *back;
  size_t n1, n2, n_back;
  assert_int_equal(tg__gzip(text, sizeof text, &z1, &n1), 0);
  assert_int_equal(tg__gzip(text, sizeof text, &z2, &n2), 0);
  assert_int_equal(n1, n2);
  assert_memory_equal(z1, z2, n1);
  assert_int_equal(z1[0], 0x1f); /* a gzip member */
  assert_int_equal(z1[1], 0x8b);
  assert_int_equal(tg__gunzip(z1, n1, sizeof text, 0, &back, &n_back), TG__GUNZIP_OK);
  assert_int_equal(n_back, sizeof text);
  assert_memory_equal(back, text, sizeof text);
  assert_int_equal(back[n_back], '\0');
  free(back);
  /* an empty body is still one member */
  unsigned char *e;
  size_t n_e;
  assert_int_equal(tg__gzip("", 0, &e, &n_e), 0);
  assert_int_equal(tg__gunzip(e, n_e, 10, 0, &back, &n_back), TG__GUNZIP_OK);
  assert_int_equal(n_back, 0);
  free(back);
  free(e);
  free(z1);
  free(z2);
}

static void gunzip_refuses_bombs_damage_and_trailing_bytes(void **state) {
  (void)state;
  size_t big = 8 * 1024 * 1024;
  char *zeros = calloc(1, big);
  unsigned char *z, *out = (unsigned char *)"untouched";
  size_t n, n_out = 99;
  assert_non_null(zeros);
  assert_int_equal(tg__gzip(zeros, big, &z, &n), 0);
  assert_true(n < big / 200); /* zeros compress 229:1 at level 1: past the 200:1 limit */
  /* over the ratio, over the absolute size, and just within both */
  assert_int_equal(tg__gunzip(z, n, big, 200, &out, &n_out), TG__GUNZIP_TOO_BIG);
  assert_null(out);
  assert_int_equal(n_out, 0);
  assert_int_equal(tg__gunzip(z, n, big - 1, 0, &out, &n_out), TG__GUNZIP_TOO_BIG);
  assert_int_equal(tg__gunzip(z, n, big, 0, &out, &n_out), TG__GUNZIP_OK);
  assert_int_equal(n_out, big);
  free(out);
  /* every truncation is refused */
  for (size_t cut = 0; cut < n; cut += 1 + cut / 4)
    assert_int_equal(tg__gunzip(z, cut, big, 0, &out, &n_out), TG__GUNZIP_BAD);
  /* a flipped byte in the data (random bytes: zeros survive a changed
   * match distance) or in the CRC trailer */
  unsigned char noise[4096], *zn;
  size_t n_zn;
  randombytes_buf(noise, sizeof noise);
  assert_int_equal(tg__gzip(noise, sizeof noise, &zn, &n_zn), 0);
  zn[n_zn / 2] ^= 0x55;
  assert_int_equal(tg__gunzip(zn, n_zn, big, 0, &out, &n_out), TG__GUNZIP_BAD);
  free(zn);
  z[n - 6] ^= 0x01;
  assert_int_equal(tg__gunzip(z, n, big, 0, &out, &n_out), TG__GUNZIP_BAD);
  z[n - 6] ^= 0x01;
  /* bytes after the member */
  unsigned char *longer = malloc(n + 1);
  memcpy(longer, z, n);
  longer[n] = 'x';
  assert_int_equal(tg__gunzip(longer, n + 1, big, 0, &out, &n_out), TG__GUNZIP_BAD);
  /* not gzip at all */
  assert_int_equal(tg__gunzip("{\"a\":1}", 7, big, 0, &out, &n_out), TG__GUNZIP_BAD);
  free(longer);
  free(z);
  free(zeros);
}

static void a_credential_round_trips_and_damage_is_refused(void **state) {
  (void)state;
  tg__cred c, back;
  char text[TG__CRED_TEXT_MAX], why[TG__SYNC_DETAIL_MAX];
  memset(&c, 0, sizeof c);
  memcpy(c.store, "S1", 3);
  memcpy(c.terminal, "T12345678901", 13);
  randombytes_buf(c.secret, sizeof c.secret);
  randombytes_buf(c.hq_key, sizeof c.hq_key);
  int len = tg__cred_format(&c, text, sizeof text);
  assert_true(len > 0 && len < TG__CRED_TEXT_MAX);
  char padded[TG__CRED_TEXT_MAX + 8];
  snprintf(padded, sizeof padded, "  %s\r\n", text);
  assert_int_equal(tg__cred_parse(padded, strlen(padded), &back, why, sizeof why), 0);
  assert_memory_equal(&back, &c, sizeof c);

  const char *bad[] = {"", "tg1", "tg2.S1.T1.x.y", "tg1.s1.T1.x.y", "tg1.S1..x.y",
                       "tg1.S1.T1234567890123.x.y", "tg1.S1.T1.short.short"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    why[0] = '\0';
    assert_int_equal(tg__cred_parse(bad[i], strlen(bad[i]), &back, why, sizeof why), -1);
    assert_true(strlen(why) > 10);
  }
  /* one character changed in the secret, one dropped, one added, an extra field */
  char copy[TG__CRED_TEXT_MAX + 8];
  size_t secret_at = strlen("tg1.S1.T12345678901.");
  memcpy(copy, text, (size_t)len + 1);
  copy[secret_at + 42] = '!';
  assert_int_equal(tg__cred_parse(copy, strlen(copy), &back, why, sizeof why), -1);
  memmove(copy + secret_at, text + secret_at + 1, (size_t)len - secret_at);
  assert_int_equal(tg__cred_parse(copy, strlen(copy), &back, why, sizeof why), -1);
  snprintf(copy, sizeof copy, "%s.x", text);
  assert_int_equal(tg__cred_parse(copy, strlen(copy), &back, why, sizeof why), -1);

  /* the bearer carries the identity and the secret, and nothing else */
  char bearer[TG__CRED_TEXT_MAX], store[13], terminal[13];
  unsigned char secret[32];
  assert_true(tg__cred_bearer(&c, bearer, sizeof bearer) > 0);
  assert_memory_equal(bearer, "Bearer S1.T12345678901.", 23);
  assert_int_equal(tg__cred_bearer_parse(bearer + 7, store, terminal, secret), 0);
  assert_string_equal(store, "S1");
  assert_string_equal(terminal, "T12345678901");
  assert_memory_equal(secret, c.secret, 32);
  assert_int_equal(tg__cred_bearer_parse("S1.T1", store, terminal, secret), -1);
  assert_int_equal(tg__cred_bearer_parse(text, store, terminal, secret), -1);

  /* the derived keys differ from the secret and from each other */
  unsigned char auth[32], invite[32];
  tg__cred_auth_hash(c.secret, auth);
  tg__cred_invite_key(c.secret, invite);
  assert_memory_not_equal(auth, invite, 32);
  assert_memory_not_equal(auth, c.secret, 32);
  assert_memory_not_equal(invite, c.secret, 32);
}

static void a_bundle_signature_checks_only_the_signed_bytes(void **state) {
  (void)state;
  unsigned char pk[32], sk[64], other_pk[32], other_sk[64];
  crypto_sign_keypair(pk, sk);
  crypto_sign_keypair(other_pk, other_sk);
  const char body[] = "{\"format\":1,\"version\":7,\"store\":\"*\"}";
  char sig[TG__BUNDLE_SIG_TEXT];
  tg__bundle_sig_make(sk, body, strlen(body), sig);
  assert_int_equal(tg__bundle_sig_check(pk, body, strlen(body), sig), 0);
  assert_int_equal(tg__bundle_sig_check(other_pk, body, strlen(body), sig), -1);
  char altered[sizeof body];
  memcpy(altered, body, sizeof body);
  altered[24] = '8';
  assert_int_equal(tg__bundle_sig_check(pk, altered, strlen(altered), sig), -1);
  assert_int_equal(tg__bundle_sig_check(pk, body, strlen(body) - 1, sig), -1);
  char bad_sig[TG__BUNDLE_SIG_TEXT];
  memcpy(bad_sig, sig, sizeof sig);
  bad_sig[10] = bad_sig[10] == 'A' ? 'B' : 'A';
  assert_int_equal(tg__bundle_sig_check(pk, body, strlen(body), bad_sig), -1);
  assert_int_equal(tg__bundle_sig_check(pk, body, strlen(body), ""), -1);
  assert_int_equal(tg__bundle_sig_check(pk, body, strlen(body), "!!!!"), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(gzip_round_trips_and_is_deterministic),
      cmocka_unit_test(gunzip_refuses_bombs_damage_and_trailing_bytes),
      cmocka_unit_test(a_credential_round_trips_and_damage_is_refused),
      cmocka_unit_test(a_bundle_signature_checks_only_the_signed_bytes),
  };
  if (sodium_init() < 0)
    return 1;
  return cmocka_run_group_tests(tests, NULL, NULL);
}
