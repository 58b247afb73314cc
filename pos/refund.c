/* Refunds: lines of a committed receipt given back, never more than was sold. */
#include <string.h>

#include "pos.h"

int tg__refund_reload(tg_sale *s) {
  tg_receipt *r;
  int rc = tg__receipt_load_seq(s->t, s->original_seq, s->uuid, &r);
  if (rc != 0)
    return rc;
  tg__refundable *rows = tg__malloc((size_t)r->n_lines * sizeof *rows);
  int n = 0;
  for (; rows != NULL && n < r->n_lines; n++) {
    const tg_receipt_line *l = &r->lines[n];
    rows[n] = (tg__refundable){tg__strdup(l->sku), tg__strdup(l->name), l->qty_milli,
                               l->unit_price, l->amount, l->refunded_milli, l->refunded_amount};
    if (rows[n].sku == NULL || rows[n].name == NULL) {
      n++;
      rc = TG_ENOMEM;
      break;
    }
  }
  tg_receipt_free(r);
  if (rows == NULL || rc != 0) {
    for (int i = 0; rows != NULL && i < n; i++) {
      tg__free(rows[i].sku);
      tg__free(rows[i].name);
    }
    tg__free(rows);
    return tg__fail(s->t, TG_ENOMEM, "%s", tg_strerror(TG_ENOMEM));
  }
  for (int i = 0; i < s->n_refundable; i++) {
    tg__free(s->refundable[i].sku);
    tg__free(s->refundable[i].name);
  }
  tg__free(s->refundable);
  s->refundable = rows;
  s->n_refundable = n;
  return 0;
}

int tg_refund_begin(tg_terminal *t, const char *uuid, const char *receipt, tg_sale **out) {
  tg_sale *s = NULL;
  int64_t n;
  int rc = tg__receipt_parse(t, receipt, &n);
  *out = NULL;
  if (rc != 0 || (rc = tg__txn_settle(t)) != 0)
    return rc;
  rc = tg__sale_new(t, uuid, TG_RECORD_REFUND, &s);
  if (rc != 0)
    return rc;
  sqlite3_stmt *st = tg__stmt(t, TG__ST_RECORD_BY_RECEIPT);
  if (st == NULL) {
    rc = tg__from_sqlite(sqlite3_errcode(t->db));
    goto fail;
  }
  sqlite3_bind_int64(st, 1, n);
  rc = sqlite3_step(st);
  tg_record_kind kind =
      rc == SQLITE_ROW ? tg__record_kind_parse((const char *)sqlite3_column_text(st, 1)) : 0;
  if (kind == TG_RECORD_SALE) {
    s->original_seq = sqlite3_column_int64(st, 0);
    s->original_no = n;
    rc = 0;
  } else if (rc == SQLITE_ROW && kind == 0) {
    rc = tg__fail(t, TG_ENOMEM, "%s", tg_strerror(TG_ENOMEM)); /* the only way to lose it */
  } else if (rc == SQLITE_ROW) {
    rc = tg__fail(t, TG_ENORECEIPT, "%s is a refund: refund the original sale", receipt);
  } else if (rc == SQLITE_DONE) {
    rc = tg__fail(t, TG_ENORECEIPT, "receipt %s was not sold on this terminal", receipt);
  } else {
    rc = tg__db_fail(t, rc, "could not look up the receipt");
  }
  sqlite3_reset(st);
  if (rc == 0)
    rc = tg__refund_reload(s);
  if (rc != 0)
    goto fail;
  *out = s;
  return 0;
fail:
  tg_sale_free(s);
  return rc;
}

/* The line of this refund that returns original line `no`, or NULL. */
static tg__line *refund_line(tg_sale *r, int no) {
  for (int i = 0; i < r->n_lines; i++)
    if (r->lines[i].original_line == no)
      return &r->lines[i];
  return NULL;
}

/* Whether lines may be added to r: 0, or the code that says why not. */
static int refund_open(tg_sale *r) {
  if (r->state != TG__SALE_OPEN)
    return tg__fail(r->t, TG_ESTATE, "%s", tg_strerror(TG_ESTATE));
  if (r->kind != TG_RECORD_REFUND)
    return tg__fail(r->t, TG_EINVAL, "not a refund: use tg_refund_begin");
  return 0;
}

int tg_refund_add_line(tg_sale *r, int line_no, int64_t qty_milli) {
  tg_terminal *t = r->t;
  int rc = refund_open(r);
  if (rc != 0)
    return rc;
  if (line_no < 1 || line_no > r->n_refundable)
    return tg__fail(t, TG_ELINE, "the receipt has no line %d (it has %d)", line_no,
                    r->n_refundable);
  if (qty_milli <= 0 || qty_milli > TG_MAX_QTY_MILLI)
    return tg__fail(t, TG_EQTY, "line %d: refund quantity must be positive", line_no);
  const tg__refundable *o = &r->refundable[line_no - 1];
  tg__line *have = refund_line(r, line_no);
  int64_t already = have != NULL ? have->qty_milli : 0;
  if (o->refunded_milli + already + qty_milli > o->qty_milli)
    return tg__fail(t, TG_EOVERREFUND,
                    "line %d: %lld thousandths can still be refunded, not %lld", line_no,
                    (long long)(o->qty_milli - o->refunded_milli - already),
                    (long long)qty_milli);
  if (have != NULL) {
    have->qty_milli += qty_milli;
    return 0;
  }
  tg__line l = {.sku = o->sku, .name = o->name, .qty_milli = qty_milli,
                .unit_price = o->unit_price, .original_line = line_no};
  return tg__sale_append(r, &l);
}

int tg_refund_add_all(tg_sale *r) {
  int rc = refund_open(r);
  if (rc != 0)
    return rc;
  for (int no = 1; no <= r->n_refundable; no++) {
    const tg__refundable *o = &r->refundable[no - 1];
    const tg__line *have = refund_line(r, no);
    int64_t left = o->qty_milli - o->refunded_milli - (have != NULL ? have->qty_milli : 0);
    if (left > 0) {
      if ((rc = tg_refund_add_line(r, no, left)) != 0)
        return rc;
    }
  }
  if (r->n_lines == 0)
    return tg__fail(r->t, TG_EOVERREFUND, "everything on this receipt was already refunded");
  return 0;
}
