/* Writing a sale, refund or void with its outbox record in one durable transaction. */
#include <string.h>

#include "pos.h"

/* What the database already holds under this uuid. */
typedef struct {
  int found;
  tg_record_kind kind;
  int64_t receipt_no;
  int same_request;
} prior_use;

static int find_prior(tg_sale *s, const unsigned char digest[TG_DIGEST_LEN], prior_use *p) {
  tg_terminal *t = s->t;
  sqlite3_stmt *st = tg__stmt(t, TG__ST_RECORD_BY_UUID);
  memset(p, 0, sizeof *p);
  if (st == NULL)
    return tg__from_sqlite(sqlite3_errcode(t->db));
  sqlite3_bind_blob(st, 1, s->uuid, sizeof s->uuid, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    p->found = 1;
    p->kind = tg__record_kind_parse((const char *)sqlite3_column_text(st, 0));
    p->receipt_no = sqlite3_column_int64(st, 1);
    p->same_request = sqlite3_column_bytes(st, 2) == TG_DIGEST_LEN &&
                      memcmp(sqlite3_column_blob(st, 2), digest, TG_DIGEST_LEN) == 0;
    rc = SQLITE_DONE;
  }
  sqlite3_reset(st);
  return rc == SQLITE_DONE ? 0 : tg__db_fail(t, rc, "could not look up the sale id");
}

/* Writes the record row: the sale, its outbox entry and its body at once.
 * Sets *duplicate when the uuid is already in the ledger. */
static int insert_record(tg_sale *s, const tg_totals *tot,
                         const unsigned char digest[TG_DIGEST_LEN], char *receipt,
                         int *duplicate) {
  tg_terminal *t = s->t;
  int64_t seq, receipt_no, now = tg__now_ms();
  char number[TG_RECEIPT_MAX] = "", *body;
  size_t len;
  /* A refund without tenders goes back in cash; a void was never paid. */
  tg__tender implied = {TG_TENDER_CASH, tot->total, NULL};
  const tg__tender *tenders = s->tenders;
  int n_tenders = s->kind == TG_RECORD_VOID ? 0 : s->n_tenders;
  if (s->kind == TG_RECORD_REFUND && n_tenders == 0 && tot->total > 0) {
    tenders = &implied;
    n_tenders = 1;
  }
  int rc = tg__counter_next(t, s->kind != TG_RECORD_VOID, &seq, &receipt_no);
  if (rc != 0 || (rc = tg__sale_community_write(s, tot, seq, receipt_no, now)) != 0)
    return rc;
  if (receipt_no > 0)
    tg__receipt_format(t, receipt_no, number);
  if ((rc = tg__record_encode(s, tot, tenders, n_tenders, seq, number, now, &body, &len)) != 0)
    return rc;
  sqlite3_stmt *st = tg__stmt(t, TG__ST_RECORD_INSERT);
  if (st == NULL) {
    tg__free(body);
    return tg__from_sqlite(sqlite3_errcode(t->db));
  }
  sqlite3_bind_int64(st, 1, seq);
  sqlite3_bind_text(st, 2, tg__record_kind_name(s->kind), -1, SQLITE_STATIC);
  sqlite3_bind_blob(st, 3, s->uuid, sizeof s->uuid, SQLITE_STATIC);
  if (receipt_no > 0)
    sqlite3_bind_int64(st, 4, receipt_no);
  if (s->original_no > 0)
    sqlite3_bind_int64(st, 5, s->original_no);
  sqlite3_bind_blob(st, 6, digest, TG_DIGEST_LEN, SQLITE_STATIC);
  sqlite3_bind_int64(st, 7, now);
  sqlite3_bind_text(st, 8, body, (int)len, SQLITE_STATIC);
  rc = sqlite3_step(st);
  sqlite3_reset(st);
  tg__free(body);
  *duplicate = rc == SQLITE_CONSTRAINT_UNIQUE;
  if (rc != SQLITE_DONE)
    return tg__db_fail(t, rc, "could not write the record");
  if (receipt != NULL && receipt_no > 0)
    memcpy(receipt, number, TG_RECEIPT_MAX);
  return 0;
}

/* The answer to a uuid that is already in the database. */
static int answer_prior(tg_sale *s, const prior_use *p, char *receipt) {
  tg_terminal *t = s->t;
  char prior[TG_RECEIPT_MAX] = "";
  if (p->receipt_no > 0)
    tg__receipt_format(t, p->receipt_no, prior);
  if (p->kind == TG_RECORD_VOID && s->kind != TG_RECORD_VOID)
    return tg__fail(t, TG_EVOIDED, "this sale id was voided; ring the sale up under a new id");
  if (p->kind == TG_RECORD_SALE && s->kind == TG_RECORD_VOID)
    return tg__fail(t, TG_ESTATE, "this sale was already committed as %s: refund it instead",
                    prior);
  if (p->kind != s->kind || !p->same_request)
    return tg__fail(t, TG_EREUSED, "this sale id was already used for %s%s",
                    prior[0] ? "receipt " : "a different record", prior);
  if (receipt != NULL)
    memcpy(receipt, prior, TG_RECEIPT_MAX);
  s->state = TG__SALE_DONE;
  return 0;
}

/* Writes s, whose totals tot were computed from it, as one record with a
 * receipt number unless it is a void. The uuid's uniqueness is left to its
 * index: only when the index refuses the row is the earlier use looked up,
 * so a plain sale costs no extra search. */
static int write_sale(tg_sale *s, tg_totals *tot, char *receipt) {
  tg_terminal *t = s->t;
  unsigned char digest[TG_DIGEST_LEN];
  prior_use prior;
  int nested, duplicate = 0, rc;

  tg__sale_digest(s, digest);
  if ((rc = tg__txn_begin(t, &nested)) != 0)
    return rc;
  /* A refund, or a sale under a bundle (which spends coupons, quotas and
   * leases), is checked again inside the transaction; a retry of it is
   * answered first, as the first commit already spent what it used. */
  if (s->kind == TG_RECORD_REFUND || (s->kind == TG_RECORD_SALE && t->bundle != NULL)) {
    if ((rc = find_prior(s, digest, &prior)) != 0)
      goto fail;
    if (prior.found) {
      tg__txn_rollback(t, nested);
      return answer_prior(s, &prior, receipt);
    }
    if ((s->kind == TG_RECORD_REFUND && (rc = tg__refund_reload(s)) != 0) ||
        (rc = tg__sale_compute(s, tot, 1)) != 0)
      goto fail;
  }
  if ((rc = insert_record(s, tot, digest, receipt, &duplicate)) != 0)
    goto fail;
  if ((rc = tg__txn_commit(t, nested)) != 0)
    return rc;
  s->state = TG__SALE_DONE;
  return 0;
fail:
  tg__txn_rollback(t, nested);
  if (!duplicate)
    return rc;
  if ((rc = find_prior(s, digest, &prior)) != 0)
    return rc;
  return prior.found ? answer_prior(s, &prior, receipt)
                     : tg__fail(t, TG_ECORRUPT, "the sale id index disagrees with the ledger");
}

int tg_sale_commit(tg_sale *s, char receipt[TG_RECEIPT_MAX]) {
  tg_totals tot;
  int rc;
  if (s->state != TG__SALE_OPEN)
    return tg__fail(s->t, TG_ESTATE, "%s", tg_strerror(TG_ESTATE));
  const tg__bundle *b;
  if ((rc = tg__bundle_current(s->t, &b)) != 0)
    return rc;
  /* Refuse bad input before touching the database -- but a sale under a
   * bundle is judged inside the transaction, after a retry is answered. */
  if ((b == NULL || s->kind != TG_RECORD_SALE) && (rc = tg__sale_compute(s, &tot, 1)) != 0)
    return rc;
  return write_sale(s, &tot, receipt);
}

int tg_sale_void(tg_sale *s) {
  tg_totals tot;
  if (s->state != TG__SALE_OPEN)
    return tg__fail(s->t, TG_ESTATE, "%s", tg_strerror(TG_ESTATE));
  if (s->kind != TG_RECORD_SALE)
    return tg__fail(s->t, TG_EINVAL, "an uncommitted refund needs no void: free it");
  if (s->n_lines == 0) {
    s->state = TG__SALE_DONE;
    return 0;
  }
  /* The record keeps what was rung up; discounts and tenders no longer apply. */
  int is_percent = s->discount_is_percent;
  int64_t amount = s->discount_amount, bp = s->discount_bp;
  s->kind = TG_RECORD_VOID;
  s->discount_is_percent = 0;
  s->discount_amount = s->discount_bp = 0;
  int rc = tg__sale_compute(s, &tot, 0);
  if (rc == 0) {
    tot.tendered = tot.change = 0;
    rc = write_sale(s, &tot, NULL);
  }
  if (rc != 0) { /* still the open sale it was */
    s->kind = TG_RECORD_SALE;
    s->discount_is_percent = is_percent;
    s->discount_amount = amount;
    s->discount_bp = bp;
  }
  return rc;
}
