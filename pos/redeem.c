/* A coupon redeemed outside a sale (a gift handed over at the counter), as its own outbox record. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "pos.h"

/* What identifies the request: the coupon, so a retry under the uuid matches. */
static void digest_of(const tg__token *k, unsigned char out[TG_DIGEST_LEN]) {
  crypto_generichash(out, TG_DIGEST_LEN, (const unsigned char *)&k->coupon_id,
                     sizeof k->coupon_id, NULL, 0);
}

/* 1 when uuid already holds this redemption, 0 when it is free, or an error. */
static int prior(tg_terminal *t, const unsigned char uuid[16], const unsigned char *digest) {
  sqlite3_stmt *st = tg__stmt(t, TG__ST_RECORD_BY_UUID);
  if (st == NULL)
    return tg__from_sqlite(sqlite3_errcode(t->db));
  sqlite3_bind_blob(st, 1, uuid, 16, SQLITE_STATIC);
  int rc = sqlite3_step(st), same = 0;
  if (rc == SQLITE_ROW)
    same = strcmp((const char *)sqlite3_column_text(st, 0), "redeem") == 0 &&
           sqlite3_column_bytes(st, 2) == TG_DIGEST_LEN &&
           memcmp(sqlite3_column_blob(st, 2), digest, TG_DIGEST_LEN) == 0;
  sqlite3_reset(st);
  if (rc == SQLITE_ROW)
    return same ? 1 : tg__fail(t, TG_EREUSED, "this id was already used for another record");
  return rc == SQLITE_DONE ? 0 : tg__db_fail(t, rc, "could not look up the id");
}

static int write_redemption(tg_terminal *t, const unsigned char uuid[16], const tg__token *k,
                 const unsigned char *digest, int64_t version) {
  const tg__rule *rule;
  char body[512], text[TG_UUID_LEN + 1];
  int64_t seq, none, now = tg__now_ms();
  int rc = tg__coupon_judge(t, k, 0, &rule);
  if (rc != 0 || (rc = tg__counter_next(t, 0, &seq, &none)) != 0 ||
      (rc = tg__usage_add_redemption(t, k, rule->lease, 0, seq)) != 0)
    return rc;
  tg__uuid_format(uuid, text);
  snprintf(body, sizeof body,
           "{\"store\":\"%s\",\"terminal\":\"%s\",\"epoch\":%lld,\"seq\":%lld,\"kind\":\"redeem\","
           "\"uuid\":\"%s\",\"time_ms\":%lld,\"coupon\":%llu,\"campaign\":%u,\"value_kind\":"
           "\"%s\",\"value\":%u,\"bundle\":%lld}",
           t->info.store_id, t->info.terminal_id, (long long)t->info.epoch, (long long)seq, text,
           (long long)now, (unsigned long long)k->coupon_id, k->campaign_id,
           k->coupon_kind == TG__COUPON_PERCENT ? "percent" : "amount", k->value,
           (long long)version);
  sqlite3_stmt *st = tg__stmt(t, TG__ST_RECORD_INSERT);
  if (st == NULL)
    return tg__from_sqlite(sqlite3_errcode(t->db));
  sqlite3_bind_int64(st, 1, seq);
  sqlite3_bind_text(st, 2, "redeem", -1, SQLITE_STATIC);
  sqlite3_bind_blob(st, 3, uuid, 16, SQLITE_STATIC);
  sqlite3_bind_blob(st, 6, digest, TG_DIGEST_LEN, SQLITE_STATIC);
  sqlite3_bind_int64(st, 7, now);
  sqlite3_bind_text(st, 8, body, -1, SQLITE_STATIC);
  return tg__step_done(t, st, "could not write the redemption");
}

int tg_coupon_redeem(tg_terminal *t, const char *uuid, const char *text, size_t len,
                     tg_code *out) {
  const tg__bundle *b;
  unsigned char u[16], digest[TG_DIGEST_LEN];
  tg__token k;
  int nested, rc;
  if (tg__uuid_parse(uuid, u) != 0)
    return tg__fail(t, TG_EUUID, "redemption id '%.40s' is not a UUID", uuid ? uuid : "");
  rc = tg__code_read(t, text, len, out, &k);
  if (out->kind != TG_CODE_COUPON)
    return rc != 0 ? rc
                   : tg__fail(t, TG_EINVAL, "not a coupon: a %s code",
                              out->kind == TG_CODE_PRODUCT ? "product" : "member or referral");
  if (rc != 0 && rc != TG_ESPENT) /* a retry finds its own coupon spent */
    return rc;
  digest_of(&k, digest);
  if ((rc = tg__txn_begin(t, &nested)) != 0)
    return rc;
  if ((rc = prior(t, u, digest)) == 0 && (rc = tg__bundle_current(t, &b)) == 0)
    rc = write_redemption(t, u, &k, digest, b->version);
  if (rc != 0) { /* 1: this uuid already redeemed this coupon */
    tg__txn_rollback(t, nested);
    return rc < 0 ? rc : 0;
  }
  return tg__txn_commit(t, nested);
}
