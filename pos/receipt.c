/* Receipt numbers and reading committed sales, refunds and voids back. */
#include <stdio.h>
#include <string.h>

#include "pos.h"

static const char *const kind_names[] = {NULL, "sale", "refund", "void", "redeem"};

const char *tg__record_kind_name(tg_record_kind kind) {
  return kind >= TG_RECORD_SALE && kind <= TG_RECORD_REDEEM ? kind_names[kind] : NULL;
}

tg_record_kind tg__record_kind_parse(const char *name) {
  for (int k = TG_RECORD_SALE; name != NULL && k <= TG_RECORD_REDEEM; k++)
    if (strcmp(name, kind_names[k]) == 0)
      return (tg_record_kind)k;
  return 0;
}

void tg__receipt_format(const tg_terminal *t, int64_t n, char *out) {
  snprintf(out, TG_RECEIPT_MAX, "%s-%s-%lld", t->info.store_id, t->info.terminal_id,
           (long long)n);
}

int tg__receipt_parse(tg_terminal *t, const char *receipt, int64_t *n) {
  char prefix[TG_RECEIPT_MAX];
  size_t len = receipt != NULL ? strnlen(receipt, TG_RECEIPT_MAX) : 0;
  int np = snprintf(prefix, sizeof prefix, "%s-%s-", t->info.store_id, t->info.terminal_id);
  if (len == 0 || len >= TG_RECEIPT_MAX || !tg__utf8_valid(receipt, len))
    return tg__fail(t, TG_ENORECEIPT, "a receipt number looks like %s1", prefix);
  if (strncmp(receipt, prefix, (size_t)np) != 0)
    return tg__fail(t, TG_ENORECEIPT, "receipt %s is not from this terminal (%s…)", receipt,
                    prefix);
  const char *p = receipt + np;
  int64_t v = 0;
  int digits = 0;
  for (; *p >= '0' && *p <= '9' && digits < 18; p++, digits++)
    v = v * 10 + (*p - '0');
  if (*p != '\0' || digits == 0 || receipt[np] == '0')
    return tg__fail(t, TG_ENORECEIPT, "receipt %s: expected %sN with N a number", receipt,
                    prefix);
  *n = v;
  return 0;
}

void tg_receipt_free(tg_receipt *r) {
  if (r == NULL)
    return;
  for (int i = 0; r->lines != NULL && i < r->n_lines; i++) {
    tg__free((char *)r->lines[i].sku);
    tg__free((char *)r->lines[i].name);
  }
  tg__free(r->lines);
  for (int i = 0; r->tenders != NULL && i < r->n_tenders; i++)
    tg__free((char *)r->tenders[i].reference);
  tg__free(r->tenders);
  for (int i = 0; i < r->n_promotions; i++)
    tg__free((char *)r->promotions[i].name);
  tg__free(r->promotions);
  tg__free(r);
}

int tg__record_body(tg_terminal *t, int64_t seq, char **out, size_t *len, int64_t *receipt_no) {
  sqlite3_stmt *st = tg__stmt(t, TG__ST_RECORD_BODY);
  const unsigned char *body;
  *out = NULL;
  if (st == NULL)
    return tg__from_sqlite(sqlite3_errcode(t->db));
  sqlite3_bind_int64(st, 1, seq);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW && (body = sqlite3_column_text(st, 0)) != NULL) {
    *len = (size_t)sqlite3_column_bytes(st, 0);
    if ((*out = tg__malloc(*len + 1)) != NULL)
      memcpy(*out, body, *len + 1);
    if (receipt_no != NULL)
      *receipt_no = sqlite3_column_int64(st, 1);
  }
  sqlite3_reset(st);
  if (rc == SQLITE_DONE)
    return tg__fail(t, TG_ENORECEIPT, "no record %lld", (long long)seq);
  if (rc != SQLITE_ROW)
    return tg__db_fail(t, rc, "could not read the record");
  return *out != NULL ? 0 : tg__fail(t, TG_ENOMEM, "%s", tg_strerror(TG_ENOMEM));
}

/* Adds to sale r what its refunds gave back, but for the refund exclude_uuid. */
static int add_refunds(tg_terminal *t, int64_t receipt_no, const unsigned char *exclude_uuid,
                       tg_receipt *r) {
  sqlite3_stmt *st = tg__stmt(t, TG__ST_REFUNDS_OF);
  int rc, code = 0;
  if (st == NULL)
    return tg__from_sqlite(sqlite3_errcode(t->db));
  sqlite3_bind_int64(st, 1, receipt_no);
  while (code == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char *body = (const char *)sqlite3_column_text(st, 0);
    tg_receipt *refund;
    if (exclude_uuid != NULL && sqlite3_column_bytes(st, 1) == 16 &&
        memcmp(sqlite3_column_blob(st, 1), exclude_uuid, 16) == 0)
      continue;
    if (body == NULL) {
      code = tg__fail(t, TG_ENOMEM, "%s", tg_strerror(TG_ENOMEM));
      break;
    }
    if ((code = tg__record_decode(t, body, (size_t)sqlite3_column_bytes(st, 0), &refund)) != 0)
      break;
    for (int i = 0; code == 0 && i < refund->n_lines; i++) {
      const tg_receipt_line *l = &refund->lines[i];
      tg_receipt_line *sold = l->original_line >= 1 && l->original_line <= r->n_lines
                                  ? &r->lines[l->original_line - 1]
                                  : NULL;
      /* decoded values are bounded, so these sums cannot overflow */
      if (sold == NULL || (sold->refunded_milli += l->qty_milli) > sold->qty_milli ||
          (sold->refunded_amount += l->amount) > sold->amount)
        code = tg__fail(t, TG_ECORRUPT, "the refunds of %s do not match its lines", r->receipt);
    }
    tg_receipt_free(refund);
  }
  sqlite3_reset(st);
  if (code != 0)
    return code;
  return rc == SQLITE_DONE ? 0 : tg__db_fail(t, rc, "could not read the refunds");
}

int tg__receipt_load_seq(tg_terminal *t, int64_t seq, const unsigned char *exclude_uuid,
                         tg_receipt **out) {
  char *body;
  size_t len;
  int64_t receipt_no = 0;
  int rc = tg__record_body(t, seq, &body, &len, &receipt_no);
  *out = NULL;
  if (rc != 0)
    return rc;
  rc = tg__record_decode(t, body, len, out);
  tg__free(body);
  if (rc == 0 && (*out)->kind == TG_RECORD_SALE)
    rc = add_refunds(t, receipt_no, exclude_uuid, *out);
  if (rc != 0) {
    tg_receipt_free(*out);
    *out = NULL;
  }
  return rc;
}

int tg_receipt_load(tg_terminal *t, const char *receipt, tg_receipt **out) {
  int64_t n;
  int rc = tg__receipt_parse(t, receipt, &n);
  *out = NULL;
  if (rc != 0 || (rc = tg__txn_settle(t)) != 0)
    return rc;
  sqlite3_stmt *st = tg__stmt(t, TG__ST_RECORD_BY_RECEIPT);
  if (st == NULL)
    return tg__from_sqlite(sqlite3_errcode(t->db));
  sqlite3_bind_int64(st, 1, n);
  rc = sqlite3_step(st);
  int64_t seq = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
  sqlite3_reset(st);
  if (rc == SQLITE_DONE)
    return tg__fail(t, TG_ENORECEIPT, "receipt %s was not issued on this terminal", receipt);
  if (rc != SQLITE_ROW)
    return tg__db_fail(t, rc, "could not look up the receipt");
  return tg__receipt_load_seq(t, seq, NULL, out);
}
