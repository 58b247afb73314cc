/* The terminal's own secrets: the invite HMAC secret and the key it signs coupons with. */
#include <sodium.h>
#include <string.h>

#include "pos.h"

#define INVITE_KEY_ID 1 /* HQ finds the secret by the store and terminal on the invite */

/* Inserts one keyring row. */
static int insert_key(tg_terminal *t, char role, unsigned id, const unsigned char *secret,
                      size_t n_secret, const unsigned char *pub, size_t n_pub) {
  sqlite3_stmt *st;
  int rc = sqlite3_prepare_v2(t->db,
                              "INSERT INTO keyring(role, id, secret, public) VALUES(?1, ?2, ?3, ?4)",
                              -1, &st, NULL);
  if (rc == SQLITE_OK) {
    char z[2] = {role, '\0'};
    sqlite3_bind_text(st, 1, z, 1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 2, (int)id);
    sqlite3_bind_blob(st, 3, secret, (int)n_secret, SQLITE_STATIC);
    if (pub != NULL)
      sqlite3_bind_blob(st, 4, pub, (int)n_pub, SQLITE_STATIC);
    rc = sqlite3_step(st);
    rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
  }
  sqlite3_finalize(st);
  return rc == SQLITE_OK ? 0 : tg__db_fail(t, rc, "could not store the terminal's keys");
}

int tg__keyring_create(tg_terminal *t) {
  unsigned char invite[32], pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
  uint16_t id;
  int rc;
  randombytes_buf(invite, sizeof invite);
  crypto_sign_keypair(pk, sk);
  randombytes_buf(&id, sizeof id);
  id |= 0x8000; /* terminal coupon keys live in the upper half; HQ's below */
  rc = insert_key(t, TG__TOKEN_INVITE, INVITE_KEY_ID, invite, sizeof invite, NULL, 0);
  if (rc == 0)
    rc = insert_key(t, TG__TOKEN_COUPON, id, sk, sizeof sk, pk, sizeof pk);
  sodium_memzero(invite, sizeof invite);
  sodium_memzero(sk, sizeof sk);
  return rc;
}

int tg__keyring_get(tg_terminal *t, char role, uint16_t *id, unsigned char *secret,
                    size_t n_secret, unsigned char *pub) {
  sqlite3_stmt *st;
  char z[2] = {role, '\0'};
  int rc = sqlite3_prepare_v2(t->db, "SELECT id, secret, public FROM keyring WHERE role = ?1",
                              -1, &st, NULL);
  if (rc == SQLITE_OK) {
    sqlite3_bind_text(st, 1, z, 1, SQLITE_STATIC);
    rc = sqlite3_step(st);
  }
  if (rc == SQLITE_ROW) {
    if ((size_t)sqlite3_column_bytes(st, 1) != n_secret ||
        (pub != NULL && sqlite3_column_bytes(st, 2) != crypto_sign_PUBLICKEYBYTES)) {
      sqlite3_finalize(st);
      return tg__fail(t, TG_ECORRUPT, "the terminal's '%c' key is damaged", role);
    }
    *id = (uint16_t)sqlite3_column_int(st, 0);
    if (secret != NULL)
      memcpy(secret, sqlite3_column_blob(st, 1), n_secret);
    if (pub != NULL)
      memcpy(pub, sqlite3_column_blob(st, 2), crypto_sign_PUBLICKEYBYTES);
    sqlite3_finalize(st);
    return 0;
  }
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? tg__fail(t, TG_ECORRUPT, "the terminal has no '%c' key", role)
                           : tg__db_fail(t, rc, "could not read the terminal's keys");
}
