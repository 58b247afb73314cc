/* The print queue: receipts wait in the store until a printer has taken all of them; the drawer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivers.h"
#include "pos.h"

#define DRAWER_KICK "\x1b\x70\x00\x19\xfa" /* ESC p: pin 2, 50 ms on, 500 ms off */

/* The receipt settings o names: its file, else $TILLGROUP_CONFIG, else the defaults. */
static int print_config(tg_terminal *t, const tg_print_options *o, tg__receipt_config *c) {
  const char *path = o != NULL && o->config != NULL ? o->config : getenv("TILLGROUP_CONFIG");
  char why[TG_DETAIL_MAX];
  if (path == NULL || path[0] == '\0') {
    tg__receipt_config_default(c, 58);
    return 0;
  }
  int rc = tg__receipt_config_load(path, c, why, sizeof why);
  return rc != 0 ? tg__fail(t, rc, "%s", why) : 0;
}

/* Opens the printer o names; on failure the detail says why in the cashier's words. */
static int open_printer(tg_terminal *t, const tg_print_options *o, tg__printer **p) {
  char why[TG__DRV_WHY_MAX];
  const char *spec = o != NULL && o->printer != NULL ? o->printer : "usb";
  int rc = tg__printer_open(spec, o != NULL ? o->timeout_ms : 0, p, why, sizeof why);
  if (rc == TG__DRV_BAD)
    return tg__fail(t, TG_EINVAL, "%s", why);
  return rc != TG__DRV_OK ? tg__fail(t, TG_EPRINTER, "%s", why) : 0;
}

/*
 * Asks the printer whether it can print. 0 when it can or cannot say (a
 * file); TG_EPRINTER with its words when paper, cover or power stop it.
 */
static int ready(tg_terminal *t, tg__printer *p, int zh) {
  tg__status st;
  char why[TG__DRV_WHY_MAX];
  int rc = tg__printer_status(p, &st, why, sizeof why);
  if (rc == TG__DRV_UNSUPPORTED)
    return 0;
  if (rc != TG__DRV_OK)
    return tg__fail(t, TG_EPRINTER, "%s", why);
  const char *blocker = tg__status_blocker(&st, zh);
  return blocker != NULL ? tg__fail(t, TG_EPRINTER, "%s", blocker) : 0;
}

int tg__print_waiting(tg_terminal *t, int64_t *n) {
  sqlite3_stmt *st = tg__stmt(t, TG__ST_PRINT_WAITING);
  int rc;
  *n = 0;
  if (st == NULL)
    return tg__from_sqlite(sqlite3_errcode(t->db));
  if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    *n = sqlite3_column_int64(st, 0);
    rc = SQLITE_DONE;
  }
  sqlite3_reset(st);
  return rc == SQLITE_DONE ? 0 : tg__db_fail(t, rc, "could not count the receipts to print");
}

int tg_print_enqueue(tg_terminal *t, const char *receipt, int copy, int64_t *job) {
  int64_t n;
  int rc = tg__receipt_parse(t, receipt, &n);
  sqlite3_stmt *st;
  if (job != NULL)
    *job = 0;
  if (rc != 0)
    return rc;
  if ((st = tg__stmt(t, TG__ST_RECORD_BY_RECEIPT)) == NULL)
    return tg__from_sqlite(sqlite3_errcode(t->db));
  sqlite3_bind_int64(st, 1, n);
  rc = sqlite3_step(st);
  sqlite3_reset(st);
  if (rc == SQLITE_DONE)
    return tg__fail(t, TG_ENORECEIPT, "no receipt %s on this till", receipt);
  if (rc != SQLITE_ROW)
    return tg__db_fail(t, rc, "could not look the receipt up");
  if ((st = tg__stmt(t, TG__ST_PRINT_ADD)) == NULL)
    return tg__from_sqlite(sqlite3_errcode(t->db));
  sqlite3_bind_int64(st, 1, n);
  sqlite3_bind_int(st, 2, copy != 0);
  sqlite3_bind_int64(st, 3, tg__now_ms());
  if ((rc = tg__step_done(t, st, "could not queue the receipt for printing")) != 0)
    return rc;
  if (job != NULL)
    *job = sqlite3_last_insert_rowid(t->db);
  return 0;
}

/* The next waiting job; 0 with *id 0 when none waits. */
static int next_job(tg_terminal *t, int64_t *id, int64_t *receipt_no, int *copy, int *started) {
  sqlite3_stmt *st = tg__stmt(t, TG__ST_PRINT_NEXT);
  int rc;
  *id = 0;
  if (st == NULL)
    return tg__from_sqlite(sqlite3_errcode(t->db));
  if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    *id = sqlite3_column_int64(st, 0);
    *receipt_no = sqlite3_column_int64(st, 1);
    *copy = sqlite3_column_int(st, 2);
    *started = sqlite3_column_int(st, 3);
    rc = SQLITE_DONE;
  }
  sqlite3_reset(st);
  return rc == SQLITE_DONE ? 0 : tg__db_fail(t, rc, "could not read the print queue");
}

/*
 * Records what became of a try at job: whether bytes of it have reached a
 * printer, and why it failed (NULL: not yet known); new_try counts the try.
 */
static int mark_try(tg_terminal *t, int64_t id, int started, const char *error, int new_try) {
  sqlite3_stmt *st = tg__stmt(t, TG__ST_PRINT_TRY);
  if (st == NULL)
    return tg__from_sqlite(sqlite3_errcode(t->db));
  sqlite3_bind_int64(st, 1, id);
  sqlite3_bind_int(st, 2, started);
  sqlite3_bind_int(st, 4, new_try);
  if (error != NULL)
    sqlite3_bind_text(st, 3, error, -1, SQLITE_TRANSIENT);
  else
    sqlite3_bind_null(st, 3);
  return tg__step_done(t, st, "could not record the print attempt");
}

static int mark_done(tg_terminal *t, int64_t id) {
  sqlite3_stmt *st = tg__stmt(t, TG__ST_PRINT_DONE);
  if (st == NULL)
    return tg__from_sqlite(sqlite3_errcode(t->db));
  sqlite3_bind_int64(st, 1, id);
  sqlite3_bind_int64(st, 2, tg__now_ms());
  return tg__step_done(t, st, "could not record the printed receipt");
}

/*
 * Leaves job waiting with the detail as its reason; TG_EPRINTER, or a storage
 * error. new_try: the try was not counted yet (it stopped before any byte).
 */
static int held(tg_terminal *t, int64_t id, int started, int new_try) {
  char why[TG_DETAIL_MAX];
  snprintf(why, sizeof why, "%s", tg_last_detail(t));
  int rc = mark_try(t, id, started, why, new_try);
  return rc != 0 ? rc : tg__fail(t, TG_EPRINTER, "%s", why);
}

int tg__print_render(tg_terminal *t, int64_t n, const tg__receipt_config *c, int copy,
                     tg__buf *out) {
  char receipt[TG_RECEIPT_MAX];
  tg__receipt_doc *doc;
  tg__receipt_format(t, n, receipt);
  int rc = tg__receipt_doc_load(t, receipt, c, NULL, copy, &doc);
  if (rc != 0)
    return rc;
  rc = tg__render_escpos(tg__receipt_doc_get(doc), &c->printer, out);
  tg__receipt_doc_free(doc);
  return rc != 0 ? tg__fail(t, rc, "receipt %s cannot be laid out for this printer", receipt) : 0;
}

/*
 * Prints one job: the printer must be ready before and after (paper that ran
 * out in the middle shows after). The job is marked started before its first
 * byte goes, so that a crash mid-job reprints it as a COPY.
 */
static int print_job(tg_terminal *t, tg__printer *p, const tg__receipt_config *c, int64_t id,
                     int64_t n, int copy, int started) {
  tg__buf buf = {0};
  size_t sent = 0;
  char why[TG__DRV_WHY_MAX];
  int zh = tg__receipt_zh(c, &t->info), rc;
  if ((rc = tg__print_render(t, n, c, copy || started, &buf)) != 0)
    return rc;
  if ((rc = ready(t, p, zh)) != 0) {
    rc = held(t, id, started, 1);
    goto done;
  }
  if ((rc = mark_try(t, id, 1, NULL, 1)) != 0)
    goto done;
  int drv = tg__printer_write(p, buf.p, buf.n, &sent, why, sizeof why);
  if (drv != TG__DRV_OK) {
    tg__fail(t, TG_EPRINTER, "%s", why);
    rc = held(t, id, started || sent > 0, 0);
  } else if ((rc = ready(t, p, zh)) != 0) { /* paper ran out or the cover opened mid-job */
    rc = held(t, id, 1, 0);
  } else {
    rc = mark_done(t, id);
  }
done:
  tg__buf_free(&buf);
  return rc;
}

int tg_print_pending(tg_terminal *t, const tg_print_options *o, tg_print_result *out) {
  tg__receipt_config c;
  tg__printer *p = NULL;
  int64_t id = 0, n;
  int copy, started, rc;
  memset(out, 0, sizeof *out);
  rc = print_config(t, o, &c);
  if (rc == 0 && (rc = next_job(t, &id, &n, &copy, &started)) == 0 && id != 0 &&
      (rc = open_printer(t, o, &p)) == 0)
    snprintf(out->printer, sizeof out->printer, "%s", tg__printer_spec(p));
  while (rc == 0 && id != 0) {
    if ((rc = print_job(t, p, &c, id, n, copy, started)) == 0) {
      out->printed++;
      rc = next_job(t, &id, &n, &copy, &started);
    }
  }
  tg__printer_close(p);
  if (tg__print_waiting(t, &out->waiting) != 0 && rc == 0)
    rc = TG_EIO;
  return rc;
}

int tg_drawer_open(tg_terminal *t, const tg_print_options *o) {
  tg__printer *p;
  size_t sent;
  char why[TG__DRV_WHY_MAX];
  int rc = open_printer(t, o, &p);
  if (rc != 0)
    return rc;
  if (tg__printer_write(p, DRAWER_KICK, sizeof DRAWER_KICK - 1, &sent, why, sizeof why) != 0)
    rc = tg__fail(t, TG_EPRINTER, "the drawer did not open: %s", why);
  tg__printer_close(p);
  return rc;
}
