/* The config bundle in force: applied in one transaction, read back on first use. */
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pos.h"

void tg__bundle_unload(tg_terminal *t) {
  tg__bundle_free(t->bundle);
  tg__free(t->keys);
  t->bundle = NULL;
  t->keys = NULL;
  t->n_keys = 0;
  t->bundle_loaded = 0;
}

/* The bundle's JSON without its members, revocations and coupons, which have tables. */
static int rules_text(tg_terminal *t, const char *json, size_t len, char **out) {
  json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL);
  *out = NULL;
  if (root != NULL) {
    json_object_del(root, "members");
    json_object_del(root, "revoked");
    json_object_del(root, "coupons"); /* kept in member_coupon */
    *out = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
  }
  return *out != NULL ? 0 : tg__fail(t, TG_ENOMEM, "%s", tg_strerror(TG_ENOMEM));
}

/* Runs one statement of SQL text without parameters. */
static int exec(tg_terminal *t, const char *sql) {
  int rc = sqlite3_exec(t->db, sql, NULL, NULL, NULL);
  return rc == SQLITE_OK ? 0 : tg__db_fail(t, rc, "could not apply the bundle");
}

static int store_people(tg_terminal *t, const tg__bundle *b) {
  sqlite3_stmt *st = NULL;
  int rc = exec(t, "DELETE FROM member");
  if (rc == 0)
    rc = exec(t, "DELETE FROM revoked");
  if (rc != 0)
    return rc;
  rc = sqlite3_prepare_v2(t->db,
                          "INSERT INTO member(id, tier, tags, points_lease, is_new)"
                          " VALUES(?1, ?2, ?3, ?4, ?5)",
                          -1, &st, NULL);
  for (int i = 0; rc == SQLITE_OK && i < b->n_members; i++) {
    const tg__member *m = &b->members[i];
    sqlite3_bind_int64(st, 1, (int64_t)m->id);
    sqlite3_bind_int(st, 2, m->tier);
    sqlite3_bind_text(st, 3, m->tags, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, m->points_lease);
    sqlite3_bind_int(st, 5, m->is_new);
    rc = sqlite3_step(st);
    rc = rc == SQLITE_DONE ? sqlite3_reset(st) : rc;
  }
  sqlite3_finalize(st);
  st = NULL;
  if (rc == SQLITE_OK)
    rc = sqlite3_prepare_v2(t->db, "INSERT OR IGNORE INTO revoked(coupon) VALUES(?1)", -1, &st,
                            NULL);
  for (int i = 0; rc == SQLITE_OK && i < b->n_revoked; i++) {
    sqlite3_bind_int64(st, 1, (int64_t)b->revoked[i]);
    rc = sqlite3_step(st);
    rc = rc == SQLITE_DONE ? sqlite3_reset(st) : rc;
  }
  sqlite3_finalize(st);
  return rc == SQLITE_OK ? 0 : tg__db_fail(t, rc, "could not store the bundle's members");
}

static int store_bundle(tg_terminal *t, const tg__bundle *b, const char *rules) {
  sqlite3_stmt *st;
  int rc = sqlite3_prepare_v2(t->db,
                              "INSERT OR REPLACE INTO bundle(id, version, store, applied_ms,"
                              " rules, members, revoked) VALUES(1, ?1, ?2, ?3, ?4, ?5, ?6)",
                              -1, &st, NULL);
  if (rc == SQLITE_OK) {
    sqlite3_bind_int64(st, 1, b->version);
    sqlite3_bind_text(st, 2, b->store, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, tg__now_ms());
    sqlite3_bind_text(st, 4, rules, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 5, b->n_members);
    sqlite3_bind_int(st, 6, b->n_revoked);
    rc = sqlite3_step(st);
    rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
  }
  sqlite3_finalize(st);
  return rc == SQLITE_OK ? 0 : tg__db_fail(t, rc, "could not store the bundle");
}

/* The version of the bundle in force, 0 when none. */
static int version_in_force(tg_terminal *t, int64_t *version) {
  sqlite3_stmt *st;
  int rc = sqlite3_prepare_v2(t->db, "SELECT version FROM bundle WHERE id = 1", -1, &st, NULL);
  *version = 0;
  if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
    *version = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0
                                               : tg__db_fail(t, rc, "could not read the bundle");
}

int tg_bundle_apply(tg_terminal *t, const char *json, size_t len) {
  char why[TG_DETAIL_MAX], *rules = NULL;
  tg__bundle *b = NULL;
  int64_t current;
  int nested, rc = tg__bundle_parse(json, len, &b, why, sizeof why);
  if (rc != 0)
    return tg__fail(t, rc, "%s", rc == TG_EBUNDLE ? why : tg_strerror(rc));
  if (strcmp(b->store, "*") != 0 && strcmp(b->store, t->info.store_id) != 0) {
    rc = tg__fail(t, TG_EBUNDLE, "bundle version %lld is for store %s; this is store %s",
                  (long long)b->version, b->store, t->info.store_id);
    goto done;
  }
  if ((rc = rules_text(t, json, len, &rules)) != 0 || (rc = tg__txn_begin(t, &nested)) != 0)
    goto done;
  if ((rc = version_in_force(t, &current)) == 0 && b->version < current)
    rc = tg__fail(t, TG_EBUNDLE, "bundle version %lld is older than version %lld in force",
                  (long long)b->version, (long long)current);
  if (rc == 0 && b->version > current &&
      ((rc = store_people(t, b)) != 0 || (rc = tg__bundle_coupons_store(t, b)) != 0 ||
       (rc = store_bundle(t, b, rules)) != 0))
    tg__txn_rollback(t, nested);
  else if (rc != 0)
    tg__txn_rollback(t, nested);
  else
    rc = tg__txn_commit(t, nested);
  if (rc == 0)
    tg__bundle_unload(t); /* read afresh on next use, without the members */
done:
  free(rules);
  tg__bundle_free(b);
  return rc;
}

/* Reads the bundle row and the keys into t. */
static int load(tg_terminal *t) {
  sqlite3_stmt *st;
  char why[TG_DETAIL_MAX];
  int n = 0, rc = sqlite3_prepare_v2(t->db, "SELECT rules FROM bundle WHERE id = 1", -1, &st, NULL);
  if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    rc = tg__bundle_parse((const char *)sqlite3_column_text(st, 0),
                          (size_t)sqlite3_column_bytes(st, 0), &t->bundle, why, sizeof why);
    sqlite3_finalize(st);
    if (rc != 0)
      return tg__fail(t, rc == TG_EBUNDLE ? TG_ECORRUPT : rc, "the stored bundle: %s", why);
  } else {
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
      return tg__db_fail(t, rc, "could not read the bundle");
  }
  n = t->bundle != NULL ? t->bundle->n_keys : 0;
  if ((t->keys = tg__malloc((size_t)(n + 2) * sizeof *t->keys)) == NULL)
    return tg__fail(t, TG_ENOMEM, "%s", tg_strerror(TG_ENOMEM));
  if (n > 0)
    memcpy(t->keys, t->bundle->keys, (size_t)n * sizeof *t->keys);
  /* its own coupons, and its own invites (to recognise one shown at the till) */
  t->keys[n].role = TG__TOKEN_COUPON;
  t->keys[n + 1].role = TG__TOKEN_INVITE;
  if ((rc = tg__keyring_get(t, TG__TOKEN_COUPON, &t->keys[n].id, NULL,
                            crypto_sign_SECRETKEYBYTES, t->keys[n].key)) != 0 ||
      (rc = tg__keyring_get(t, TG__TOKEN_INVITE, &t->keys[n + 1].id, t->keys[n + 1].key, 32,
                            NULL)) != 0)
    return rc;
  t->n_keys = n + 2;
  t->bundle_loaded = 1;
  return 0;
}

int tg__bundle_current(tg_terminal *t, const tg__bundle **out) {
  int rc = 0;
  if (!t->bundle_loaded && (rc = load(t)) != 0)
    tg__bundle_unload(t);
  *out = t->bundle;
  return rc;
}

int tg__keys_current(tg_terminal *t, const tg__token_key **keys, int *n) {
  const tg__bundle *b;
  int rc = tg__bundle_current(t, &b);
  *keys = t->keys;
  *n = t->n_keys;
  return rc;
}

int tg__member_find(tg_terminal *t, uint64_t id, tg__member *out) {
  sqlite3_stmt *st = tg__stmt(t, TG__ST_MEMBER_GET);
  if (st == NULL)
    return tg__from_sqlite(sqlite3_errcode(t->db));
  sqlite3_bind_int64(st, 1, (int64_t)id);
  int rc = sqlite3_step(st);
  memset(out, 0, sizeof *out);
  if (rc == SQLITE_ROW) {
    out->id = id;
    out->tier = sqlite3_column_int(st, 0);
    snprintf(out->tags, sizeof out->tags, "%s", (const char *)sqlite3_column_text(st, 1));
    out->points_lease = sqlite3_column_int64(st, 2);
    out->is_new = sqlite3_column_int(st, 3);
  }
  sqlite3_reset(st);
  if (rc == SQLITE_ROW)
    return 1;
  return rc == SQLITE_DONE ? 0 : tg__db_fail(t, rc, "could not look the member up");
}

int tg_bundle_get_info(tg_terminal *t, tg_bundle_info *out) {
  const tg__bundle *b;
  sqlite3_stmt *st;
  int rc = tg__bundle_current(t, &b);
  memset(out, 0, sizeof *out);
  if (rc != 0 || b == NULL)
    return rc;
  rc = sqlite3_prepare_v2(t->db, "SELECT applied_ms, members, revoked FROM bundle WHERE id = 1",
                          -1, &st, NULL);
  if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    out->applied_ms = sqlite3_column_int64(st, 0);
    out->n_members = sqlite3_column_int64(st, 1);
    out->n_revoked = sqlite3_column_int64(st, 2);
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_ROW)
    return tg__db_fail(t, rc, "could not read the bundle");
  out->version = b->version;
  snprintf(out->store, sizeof out->store, "%s", b->store);
  out->n_campaigns = b->n_rules;
  out->n_keys = b->n_keys;
  out->invites = b->invites;
  out->invite_min_spend = b->invite_min_spend;
  out->invite_days = b->invite_days;
  return 0;
}
