/* Settlement coupons HQ sends in a bundle for members: read strictly, kept by the one till
 * each is leased to, found by member. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "pos.h"

#define ID53_MAX ((INT64_C(1) << 53) - 1)

/* Writes "coupons[i][.key]: message" into why and returns TG_EBUNDLE. */
static int refuse(char *why, size_t why_len, size_t i, const char *key, const char *msg) {
  if (why != NULL && why_len > 0)
    snprintf(why, why_len, "coupons[%zu]%s%s: %s", i, key != NULL ? "." : "",
             key != NULL ? key : "", msg);
  return TG_EBUNDLE;
}

static int read_one(json_t *o, size_t i, const tg__bundle *b, tg__bundle_coupon *c, char *why,
                    size_t why_len) {
  char msg[160];
  const char *key;
  json_t *v;
  if (!json_is_object(o))
    return refuse(why, why_len, i, NULL,
                  "must be an object {\"member\", \"store\", \"terminal\", \"token\"}");
  json_object_foreach(o, key, v) {
    if (strcmp(key, "member") != 0 && strcmp(key, "token") != 0 && strcmp(key, "store") != 0 &&
        strcmp(key, "terminal") != 0) {
      char shown[41];
      snprintf(shown, sizeof shown, "%s", key);
      tg__utf8_clean(shown);
      snprintf(msg, sizeof msg, "unknown field \"%s\"", shown);
      return refuse(why, why_len, i, NULL, msg);
    }
  }
  json_t *member = json_object_get(o, "member"), *token = json_object_get(o, "token");
  if (member == NULL)
    return refuse(why, why_len, i, NULL, "\"member\" is missing");
  if (!json_is_integer(member) || json_integer_value(member) < 1 ||
      json_integer_value(member) > ID53_MAX)
    return refuse(why, why_len, i, "member", "must be a member id, 1..9007199254740991");
  static const char *const lease[] = {"store", "terminal"};
  for (int k = 0; k < 2; k++) { /* the one till that applies it */
    json_t *id = json_object_get(o, lease[k]);
    if (id == NULL) {
      snprintf(msg, sizeof msg, "\"%s\" is missing", lease[k]);
      return refuse(why, why_len, i, NULL, msg);
    }
    if (!json_is_string(id) || json_string_length(id) > TG_ID_MAX ||
        strlen(json_string_value(id)) != json_string_length(id) ||
        !tg__id_valid(json_string_value(id)))
      return refuse(why, why_len, i, lease[k], "must be an id of 1-12 characters A-Z 0-9");
    snprintf(k == 0 ? c->store : c->terminal, TG_ID_MAX + 1, "%s", json_string_value(id));
  }
  if (token == NULL)
    return refuse(why, why_len, i, NULL, "\"token\" is missing");
  size_t n = json_string_length(token);
  if (!json_is_string(token) || n == 0 || n > TG__TOKEN_TEXT_MAX)
    return refuse(why, why_len, i, "token", "must be a coupon code of 1-240 characters");
  tg__token k;
  int rc = tg__token_decode(json_string_value(token), n, b->keys, (size_t)b->n_keys, &k);
  if (rc != 0 || k.type != TG__TOKEN_COUPON) {
    snprintf(msg, sizeof msg, "is not a coupon proven by the bundle's coupon keys (%s)",
             rc != 0 ? tg_strerror(rc) : "another kind of code");
    return refuse(why, why_len, i, "token", msg);
  }
  c->member = (uint64_t)json_integer_value(member);
  c->coupon = k.coupon_id;
  memcpy(c->token, json_string_value(token), n + 1);
  return 0;
}

int tg__bundle_coupons_read(json_t *a, tg__bundle *b, char *why, size_t why_len) {
  size_t n = json_array_size(a), i;
  json_t *o;
  int rc;
  if (n == 0)
    return 0;
  if (n > TG__BUNDLE_COUPONS)
    return refuse(why, why_len, n - 1, NULL, "too many coupons in one bundle");
  if ((b->coupons = tg__malloc(n * sizeof *b->coupons)) == NULL) {
    if (why != NULL && why_len > 0)
      snprintf(why, why_len, "out of memory reading the bundle");
    return TG_ENOMEM;
  }
  json_array_foreach(a, i, o) {
    if ((rc = read_one(o, i, b, &b->coupons[i], why, why_len)) != 0)
      return rc;
    b->n_coupons = (int)i + 1;
  }
  return 0;
}

int tg__bundle_coupons_store(tg_terminal *t, const tg__bundle *b) {
  sqlite3_stmt *st = NULL;
  int rc = SQLITE_OK;
  if (b->n_coupons == 0)
    return 0;
  rc = sqlite3_prepare_v2(t->db,
                          "INSERT OR IGNORE INTO member_coupon(coupon, member, token, bundle)"
                          " VALUES(?1, ?2, ?3, ?4)",
                          -1, &st, NULL);
  for (int i = 0; rc == SQLITE_OK && i < b->n_coupons; i++) {
    if (strcmp(b->coupons[i].store, t->info.store_id) != 0 ||
        strcmp(b->coupons[i].terminal, t->info.terminal_id) != 0)
      continue; /* leased to another till, which alone applies it */
    sqlite3_bind_int64(st, 1, (int64_t)b->coupons[i].coupon);
    sqlite3_bind_int64(st, 2, (int64_t)b->coupons[i].member);
    sqlite3_bind_text(st, 3, b->coupons[i].token, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, b->version);
    rc = sqlite3_step(st);
    rc = rc == SQLITE_DONE ? sqlite3_reset(st) : rc;
  }
  sqlite3_finalize(st);
  return rc == SQLITE_OK ? 0 : tg__db_fail(t, rc, "could not keep the bundle's member coupons");
}

int tg__member_coupons(tg_terminal *t, uint64_t member, const unsigned char *uuid,
                       char (*tokens)[TG__TOKEN_TEXT_MAX + 1], int max, int *n) {
  sqlite3_stmt *st = NULL;
  *n = 0;
  /* not those another record spent here already (a retry of the sale that spent one sees it) */
  int rc = sqlite3_prepare_v2(t->db,
                              "SELECT token FROM member_coupon m WHERE member = ?1 AND NOT EXISTS"
                              " (SELECT 1 FROM redemption r JOIN record c ON c.seq = r.seq"
                              "  WHERE r.coupon = m.coupon AND c.uuid IS NOT ?3)"
                              " ORDER BY bundle, coupon LIMIT ?2",
                              -1, &st, NULL);
  if (rc == SQLITE_OK) {
    sqlite3_bind_int64(st, 1, (int64_t)member);
    sqlite3_bind_int(st, 2, max);
    sqlite3_bind_blob(st, 3, uuid, 16, SQLITE_STATIC);
  }
  while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    const unsigned char *z = sqlite3_column_text(st, 0);
    snprintf(tokens[(*n)++], TG__TOKEN_TEXT_MAX + 1, "%s", z != NULL ? (const char *)z : "");
    rc = SQLITE_OK;
  }
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? 0 : tg__db_fail(t, rc, "could not read the member's coupons");
}
