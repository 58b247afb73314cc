/* Creating, opening and closing a terminal database handle. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pos.h"

int64_t tg__now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t tg__mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* An IANA zone name that exists in the system's zone database. */
static int tz_valid(const char *tz) {
  const char *dir = getenv("TZDIR");
  char path[512];
  struct stat sb;
  size_t n = strnlen(tz, 64);
  if (n == 0 || n >= 64 || tz[0] == '/' || strstr(tz, "..") != NULL)
    return 0;
  for (size_t i = 0; i < n; i++) {
    char c = tz[i];
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
          c == '/' || c == '_' || c == '-' || c == '+'))
      return 0;
  }
  snprintf(path, sizeof path, "%s/%s", dir != NULL ? dir : "/usr/share/zoneinfo", tz);
  return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

static int check_config(tg_terminal *t, const tg_terminal_config *c) {
  if (!tg__id_valid(c->store_id))
    return tg__fail(t, TG_EID, "store id '%.32s': %s", c->store_id ? c->store_id : "",
                    tg_strerror(TG_EID));
  if (!tg__id_valid(c->terminal_id))
    return tg__fail(t, TG_EID, "terminal id '%.32s': %s",
                    c->terminal_id ? c->terminal_id : "", tg_strerror(TG_EID));
  if (tg__currency_exponent(c->currency) < 0)
    return tg__fail(t, TG_ECURRENCY, "currency '%.16s' is not an ISO 4217 code such as CNY",
                    c->currency);
  if (!tz_valid(c->tz))
    return tg__fail(t, TG_ETZ, "time zone '%.64s' is not in the zone database (e.g. Asia/Shanghai)",
                    c->tz);
  return 0;
}

static void close_db(tg_terminal *t) {
  tg__bundle_unload(t);
  tg__clock_unload(t);
  tg__stmt_finalize_all(t);
  sqlite3_close(t->db);
  t->db = NULL;
}

int tg_terminal_init(const char *path, const tg_terminal_config *cfg, char *detail,
                     size_t detail_len) {
  tg_terminal t;
  tg_terminal_config c;
  uint64_t epoch = 0;
  int rc;
  memset(&t, 0, sizeof t);
  if (path == NULL || cfg == NULL) {
    rc = tg__fail(&t, TG_EINVAL, "no path or configuration given");
    goto done;
  }
  c = *cfg;
  if (c.currency == NULL)
    c.currency = "CNY";
  if (c.tz == NULL)
    c.tz = "Asia/Shanghai";
  rc = check_config(&t, &c);
  if (rc != 0)
    goto done;
  if (sodium_init() < 0) {
    rc = tg__fail(&t, TG_EIO, "the random number generator could not start");
    goto done;
  }
  while (epoch == 0) { /* JSON-safe, never 0 */
    randombytes_buf(&epoch, sizeof epoch);
    epoch &= (UINT64_C(1) << 53) - 1;
  }
  rc = tg__store_create_file(&t, path);
  if (rc != 0)
    goto done;
  rc = tg__store_open(&t, path, 1);
  if (rc == 0)
    rc = tg__store_create(&t, &c, (int64_t)epoch);
  close_db(&t);
  if (rc != 0) { /* leave nothing behind */
    char side[4096];
    unlink(path);
    if (snprintf(side, sizeof side, "%s-wal", path) < (int)sizeof side)
      unlink(side);
    if (snprintf(side, sizeof side, "%s-shm", path) < (int)sizeof side)
      unlink(side);
  }
done:
  if (detail != NULL && detail_len > 0)
    snprintf(detail, detail_len, "%s", t.detail);
  return rc;
}

int tg_terminal_open(const char *path, tg_terminal **out) {
  tg_terminal *t = tg__malloc(sizeof *t);
  int rc;
  *out = t;
  if (t == NULL)
    return TG_ENOMEM;
  memset(t, 0, sizeof *t);
  if (path == NULL)
    return tg__fail(t, TG_EINVAL, "no database path given");
  if (sodium_init() < 0)
    return tg__fail(t, TG_EIO, "the random number generator could not start");
  rc = tg__store_open(t, path, 0);
  if (rc == 0)
    rc = tg__store_load_info(t);
  return rc;
}

void tg_terminal_close(tg_terminal *t) {
  if (t == NULL)
    return;
  close_db(t);
  tg__free(t);
}

const char *tg_last_detail(const tg_terminal *t) { return t != NULL ? t->detail : ""; }

int tg_terminal_get_info(tg_terminal *t, tg_terminal_info *out) {
  *out = t->info;
  return 0;
}
