/* Error codes, their sentences, and conversion of SQLite failures into them. */
#include <stdio.h>

#include "pos.h"

const char *tg_strerror(int code) {
  switch (code) {
  case TG_OK:
    return "success";
#define TG__ERR_MSG(name, val, msg) \
  case TG_##name:                   \
    return msg;
    TG_ERRNO_MAP(TG__ERR_MSG)
#undef TG__ERR_MSG
  }
  return "unknown error";
}

const char *tg_err_name(int code) {
  switch (code) {
  case TG_OK:
    return "TG_OK";
#define TG__ERR_NAME(name, val, msg) \
  case TG_##name:                    \
    return "TG_" #name;
    TG_ERRNO_MAP(TG__ERR_NAME)
#undef TG__ERR_NAME
  }
  return "TG_UNKNOWN";
}

int tg__fail(tg_terminal *t, int code, const char *fmt, ...) {
  if (t != NULL) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->detail, sizeof t->detail, fmt, ap);
    va_end(ap);
    tg__utf8_clean(t->detail); /* input echoed in it stays one line of UTF-8 */
  }
  return code;
}

int tg__from_sqlite(int sqlite_rc) {
  switch (sqlite_rc & 0xff) {
  case SQLITE_OK:
    return TG_OK;
  case SQLITE_NOMEM:
    return TG_ENOMEM;
  case SQLITE_FULL:
    return TG_EFULL;
  case SQLITE_BUSY:
  case SQLITE_LOCKED:
    return TG_EBUSY;
  case SQLITE_CORRUPT:
    return TG_ECORRUPT;
  case SQLITE_NOTADB:
    return TG_ENOTDB;
  case SQLITE_CANTOPEN:
  case SQLITE_READONLY:
  case SQLITE_PERM:
    return TG_ECANTOPEN;
  case SQLITE_CONSTRAINT:
  case SQLITE_MISMATCH:
    return TG_ECORRUPT; /* only a damaged ledger breaks its own constraints */
  case SQLITE_IOERR:
    return sqlite_rc == SQLITE_IOERR_NOMEM ? TG_ENOMEM : TG_EIO;
  default:
    return TG_EIO;
  }
}

int tg__db_fail(tg_terminal *t, int sqlite_rc, const char *what) {
  int code = tg__from_sqlite(sqlite_rc);
  const char *msg = (t != NULL && t->db != NULL) ? sqlite3_errmsg(t->db)
                                                 : sqlite3_errstr(sqlite_rc);
  return tg__fail(t, code, "%s: %s (%s)", what, tg_strerror(code), msg);
}
