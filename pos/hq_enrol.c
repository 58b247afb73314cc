/* Enrolment at HQ: its URL and TLS settings, the credential, and the invite key derived from it. */
#include <assert.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "pos.h"
#include "sync.h"

#define CREDENTIAL_MAX 1024 /* bytes of credential text taken, whitespace included */
#define INVITE_KEY_ID 1     /* as keyring.c: HQ finds the key by store and terminal */

/* 1 when host[0..n) is localhost, [::1] or a dotted quad in 127.0.0.0/8. */
static int is_loopback(const char *host, size_t n) {
  int dots = 0, digits = 0, value = 0;
  if (n == 9 && strncasecmp(host, "localhost", 9) == 0)
    return 1;
  if (n == 5 && memcmp(host, "[::1]", 5) == 0)
    return 1;
  if (n < 7 || memcmp(host, "127.", 4) != 0)
    return 0;
  for (size_t i = 0; i < n; i++) {
    char c = host[i];
    if (c >= '0' && c <= '9') {
      value = value * 10 + (c - '0');
      if (++digits > 3 || value > 255)
        return 0;
    } else if (c == '.' && digits > 0) {
      dots++;
      digits = 0;
      value = 0;
    } else {
      return 0;
    }
  }
  return dots == 3 && digits > 0;
}

/* 1 when p[0..n) is a host name, an IPv4 address or a bracketed IPv6 address. */
static int host_valid(const char *p, size_t n) {
  int v6 = n >= 2 && p[0] == '[' && p[n - 1] == ']';
  if (n == 0 || n > 255)
    return 0;
  for (size_t i = v6 ? 1 : 0; i < (v6 ? n - 1 : n); i++) {
    char c = p[i];
    int ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
             (v6 ? c == ':' || c == '.' : c == '.' || c == '-');
    if (!ok)
      return 0;
  }
  return 1;
}

int tg__hq_url_valid(const char *url) {
  size_t n = url != NULL ? strnlen(url, TG__HQ_URL_MAX + 1) : 0;
  const char *host, *end, *host_end;
  int https;
  if (n == 0 || n > TG__HQ_URL_MAX)
    return 0;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)url[i] <= 0x20 || (unsigned char)url[i] >= 0x7f)
      return 0;
  https = strncmp(url, "https://", 8) == 0;
  if (!https && strncmp(url, "http://", 7) != 0)
    return 0;
  host = url + (https ? 8 : 7);
  end = host + strcspn(host, "/?#");
  if (strpbrk(host, "?#@\\") != NULL) /* a base URL: no query, fragment or user */
    return 0;
  if (*host == '[') {
    const char *bracket = memchr(host, ']', (size_t)(end - host));
    if (bracket == NULL)
      return 0;
    host_end = bracket + 1;
  } else {
    host_end = memchr(host, ':', (size_t)(end - host));
    if (host_end == NULL)
      host_end = end;
  }
  if (!host_valid(host, (size_t)(host_end - host)))
    return 0;
  if (host_end < end) { /* ":PORT" */
    char port[8];
    size_t n_port = (size_t)(end - host_end) - 1;
    if (*host_end != ':' || n_port == 0 || n_port >= sizeof port)
      return 0;
    memcpy(port, host_end + 1, n_port);
    port[n_port] = '\0';
    int64_t v = tg__parse_int(port, 65535);
    if (v < 1)
      return 0;
  }
  return https || is_loopback(host, (size_t)(host_end - host));
}

/* Refuses settings that cannot be right before anything is stored. */
static int check_config(tg_terminal *t, const tg_hq_config *cfg) {
  int rc;
  if (cfg->url == NULL || cfg->url[0] == '\0')
    return tg__fail(t, TG_EINVAL, "no HQ URL given: use https://HOST[:PORT]");
  if (!tg__hq_url_valid(cfg->url))
    return tg__fail(t, TG_EINVAL,
                    "HQ URL '%.80s' is not https://HOST[:PORT][/PATH] (http:// only to this "
                    "machine: localhost, 127.0.0.1, [::1]; at most %d bytes)",
                    cfg->url, TG__HQ_URL_MAX);
  if ((rc = tg__text_check(t, 0, "pinned key", cfg->pinned_key, TG__HQ_OPTION_MAX, 1)) != 0 ||
      (rc = tg__text_check(t, 0, "CA file", cfg->ca_file, TG__HQ_PATH_MAX, 1)) != 0 ||
      (rc = tg__text_check(t, 0, "certificate file", cfg->cert_file, TG__HQ_PATH_MAX, 1)) != 0 ||
      (rc = tg__text_check(t, 0, "key file", cfg->key_file, TG__HQ_PATH_MAX, 1)) != 0 ||
      (rc = tg__text_check(t, 0, "proxy", cfg->proxy, TG__HQ_OPTION_MAX, 1)) != 0)
    return rc;
  if (cfg->pinned_key != NULL && cfg->pinned_key[0] != '\0' &&
      (strncmp(cfg->pinned_key, "sha256//", 8) != 0 || cfg->pinned_key[8] == '\0'))
    return tg__fail(t, TG_EINVAL, "pinned key must be sha256//BASE64 of HQ's public key");
  if ((cfg->cert_file != NULL && cfg->cert_file[0]) != (cfg->key_file != NULL && cfg->key_file[0]))
    return tg__fail(t, TG_EINVAL, "a client certificate needs its key, and a key its certificate");
  return 0;
}

/* Binds s at i, or NULL when s is NULL or empty. */
static void bind_optional(sqlite3_stmt *st, int i, const char *s) {
  if (s != NULL && s[0] != '\0')
    sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
  else
    sqlite3_bind_null(st, i);
}

/* Writes the hq row, keeping when the last upload was acknowledged. */
static int store_hq(tg_terminal *t, const tg_hq_config *cfg, const tg__cred *cred) {
  sqlite3_stmt *st;
  int rc = sqlite3_prepare_v2(
      t->db,
      "INSERT INTO hq(id, url, secret, hq_key, pinned_key, ca_file, cert_file, key_file, proxy,"
      " enrolled_ms) VALUES(1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
      " ON CONFLICT(id) DO UPDATE SET url = ?1, secret = ?2, hq_key = ?3, pinned_key = ?4,"
      " ca_file = ?5, cert_file = ?6, key_file = ?7, proxy = ?8, enrolled_ms = ?9,"
      " bundle_etag = NULL, last_error = NULL, last_error_ms = NULL",
      -1, &st, NULL);
  if (rc == SQLITE_OK) {
    sqlite3_bind_text(st, 1, cfg->url, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, cred->secret, sizeof cred->secret, SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, cred->hq_key, sizeof cred->hq_key, SQLITE_STATIC);
    bind_optional(st, 4, cfg->pinned_key);
    bind_optional(st, 5, cfg->ca_file);
    bind_optional(st, 6, cfg->cert_file);
    bind_optional(st, 7, cfg->key_file);
    bind_optional(st, 8, cfg->proxy);
    sqlite3_bind_int64(st, 9, tg__now_ms());
    rc = sqlite3_step(st);
    rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
  }
  sqlite3_finalize(st);
  return rc == SQLITE_OK ? 0 : tg__db_fail(t, rc, "could not store the enrolment");
}

/* Replaces the invite secret with the key HQ derives from the credential. */
static int rekey_invites(tg_terminal *t, const unsigned char key[32]) {
  sqlite3_stmt *st;
  char role[2] = {TG__TOKEN_INVITE, '\0'};
  int rc = sqlite3_prepare_v2(t->db, "UPDATE keyring SET id = ?1, secret = ?2 WHERE role = ?3",
                              -1, &st, NULL);
  if (rc == SQLITE_OK) {
    sqlite3_bind_int(st, 1, INVITE_KEY_ID);
    sqlite3_bind_blob(st, 2, key, 32, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, role, 1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_OK)
    return tg__db_fail(t, rc, "could not re-key the invites");
  return sqlite3_changes(t->db) == 1 ? 0
                                     : tg__fail(t, TG_ECORRUPT, "the terminal has no invite key");
}

int tg_hq_enrol(tg_terminal *t, const tg_hq_config *cfg) {
  tg__cred cred;
  unsigned char invite[32];
  char why[TG_DETAIL_MAX];
  size_t n;
  int nested, rc;
  assert(t != NULL && cfg != NULL);
  memset(&cred, 0, sizeof cred);
  if ((rc = check_config(t, cfg)) != 0)
    return rc;
  n = cfg->credential != NULL ? strnlen(cfg->credential, CREDENTIAL_MAX + 1) : 0;
  if (n == 0)
    return tg__fail(t, TG_ECREDENTIAL,
                    "no credential given: paste the line 'tillgroup-hq enrol' printed");
  if (n > CREDENTIAL_MAX)
    return tg__fail(t, TG_ECREDENTIAL, "the credential is longer than %d bytes: paste one line",
                    CREDENTIAL_MAX);
  if (tg__cred_parse(cfg->credential, n, &cred, why, sizeof why) != 0) {
    rc = tg__fail(t, TG_ECREDENTIAL, "credential: %s", why);
    goto done;
  }
  if (strcmp(cred.store, t->info.store_id) != 0 ||
      strcmp(cred.terminal, t->info.terminal_id) != 0) {
    rc = tg__fail(t, TG_ECREDENTIAL, "credential is for %s-%s; this till is %s-%s", cred.store,
                  cred.terminal, t->info.store_id, t->info.terminal_id);
    goto done;
  }
  tg__cred_invite_key(cred.secret, invite);
  if ((rc = tg__txn_begin(t, &nested)) != 0)
    goto done;
  if ((rc = store_hq(t, cfg, &cred)) == 0 && (rc = rekey_invites(t, invite)) == 0)
    rc = tg__txn_commit(t, nested);
  else
    tg__txn_rollback(t, nested);
  tg__bundle_unload(t); /* it keeps the invite key it read */
done:
  sodium_memzero(&cred, sizeof cred);
  sodium_memzero(invite, sizeof invite);
  return rc;
}

/* Copies column i of st (text) into out[0..n), cut to fit; "" for NULL. */
static void column_copy(sqlite3_stmt *st, int i, char *out, size_t n) {
  const unsigned char *z = sqlite3_column_text(st, i);
  if (out != NULL && n > 0) {
    snprintf(out, n, "%s", z != NULL ? (const char *)z : "");
    tg__utf8_clean(out);
  }
}

int tg__hq_get(tg_terminal *t, char *url, size_t n_url, int64_t *last_ok_ms,
               int64_t *last_error_ms, char *last_error, size_t n_error) {
  sqlite3_stmt *st = tg__stmt(t, TG__ST_HQ_GET);
  if (st == NULL)
    return tg__from_sqlite(sqlite3_errcode(t->db));
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    column_copy(st, 0, url, n_url);
    if (last_ok_ms != NULL)
      *last_ok_ms = sqlite3_column_int64(st, 1);
    if (last_error_ms != NULL)
      *last_error_ms = sqlite3_column_int64(st, 2);
    column_copy(st, 3, last_error, n_error);
  }
  sqlite3_reset(st);
  if (rc == SQLITE_ROW)
    return 1;
  if (rc != SQLITE_DONE)
    return tg__db_fail(t, rc, "could not read the enrolment");
  if (url != NULL && n_url > 0)
    url[0] = '\0';
  if (last_ok_ms != NULL)
    *last_ok_ms = 0;
  if (last_error_ms != NULL)
    *last_error_ms = 0;
  if (last_error != NULL && n_error > 0)
    last_error[0] = '\0';
  return 0;
}
