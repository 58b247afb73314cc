/* Refunds: full and partial, exact cumulative rounding, never more than was sold. */
#include <string.h>

#include "helpers.h"

typedef tt_fixture fixture;

/* Sells 3 x 0.34 with 0.02 off (1.00 for three) and 1.5 kg at 10.00/kg: S1-T1-1. */
static void sell_thirds(fixture *f) {
  tg_sale *s;
  TT_OK(f->t, tg_sale_begin(f->t, "aaaaaaaa-0000-4000-8000-000000000001", &s));
  tg_line thirds = {"300", "three for one", 3000, 34, 2, NULL};
  tg_line cheese = {"400", "cheese", 1500, 1000, 0, NULL};
  TT_OK(f->t, tg_sale_add_line(s, &thirds));
  TT_OK(f->t, tg_sale_add_line(s, &cheese));
  TT_OK(f->t, tg_sale_add_tender(s, TG_TENDER_CARD, 1600, NULL));
  TT_OK(f->t, tg_sale_commit(s, NULL));
  tg_sale_free(s);
}

/* Refunds qty_milli of line under uuid number i; returns the refund's total or a code. */
static int64_t refund(fixture *f, uint64_t i, int line, int64_t qty_milli) {
  char uuid[TG_UUID_LEN + 1], receipt[TG_RECEIPT_MAX];
  tg_sale *r;
  tg_receipt *rec;
  tt_uuid(1000 + i, uuid);
  int rc = tg_refund_begin(f->t, uuid, "S1-T1-1", &r);
  if (rc != 0)
    return rc;
  rc = line > 0 ? tg_refund_add_line(r, line, qty_milli) : tg_refund_add_all(r);
  if (rc == 0)
    rc = tg_sale_commit(r, receipt);
  tg_sale_free(r);
  if (rc != 0)
    return rc;
  TT_OK(f->t, tg_receipt_load(f->t, receipt, &rec));
  int64_t total = rec->totals.total;
  assert_int_equal(rec->kind, TG_RECORD_REFUND);
  assert_string_equal(rec->original_receipt, "S1-T1-1");
  tg_receipt_free(rec);
  return total;
}

static void full_refund_returns_the_total(void **state) {
  fixture *f = *state;
  sell_thirds(f);
  assert_int_equal(refund(f, 1, 0, 0), 1600);
  uint64_t before = tt_fingerprint(f->path);
  assert_int_equal(refund(f, 2, 0, 0), TG_EOVERREFUND);
  assert_int_equal(refund(f, 3, 1, 1), TG_EOVERREFUND);
  assert_int_equal(tt_fingerprint(f->path), before);
  assert_int_equal(tt_check_ledger(f->path), 2);
}

static void partial_refunds_add_up_exactly(void **state) {
  fixture *f = *state;
  sell_thirds(f);
  /* 1.00 paid for 3: refunds of one each give 0.33, 0.34, 0.33 */
  assert_int_equal(refund(f, 1, 1, 1000), 33);
  assert_int_equal(refund(f, 2, 1, 1000), 34);
  assert_int_equal(refund(f, 3, 1, 1000), 33);
  assert_int_equal(refund(f, 4, 1, 1), TG_EOVERREFUND);
  /* weighed goods in grams: 0.5 kg then the rest */
  assert_int_equal(refund(f, 5, 2, 500), 500);
  assert_int_equal(refund(f, 6, 2, 1001), TG_EOVERREFUND);
  assert_int_equal(refund(f, 7, 2, 1000), 1000);
  tg_receipt *r;
  TT_OK(f->t, tg_receipt_load(f->t, "S1-T1-1", &r));
  assert_int_equal(r->lines[0].refunded_milli, 3000);
  assert_int_equal(r->lines[0].refunded_amount, 100);
  assert_int_equal(r->lines[1].refunded_milli, 1500);
  assert_int_equal(r->lines[1].refunded_amount, 1500);
  tg_receipt_free(r);
  assert_int_equal(tt_check_ledger(f->path), 6);
}

static void refund_tenders_must_match(void **state) {
  fixture *f = *state;
  char receipt[TG_RECEIPT_MAX];
  tg_sale *r;
  sell_thirds(f);
  uint64_t before = tt_fingerprint(f->path);
  TT_OK(f->t, tg_refund_begin(f->t, "bbbbbbbb-0000-4000-8000-000000000001", "S1-T1-1", &r));
  TT_OK(f->t, tg_refund_add_line(r, 2, 1500));
  TT_OK(f->t, tg_sale_add_tender(r, TG_TENDER_CARD, 1000, NULL));
  assert_int_equal(tg_sale_commit(r, NULL), TG_ETENDER);
  assert_int_equal(tt_fingerprint(f->path), before);
  TT_OK(f->t, tg_sale_add_tender(r, TG_TENDER_CASH, 500, NULL));
  TT_OK(f->t, tg_sale_commit(r, receipt));
  assert_string_equal(receipt, "S1-T1-2");
  tg_sale_free(r);
  tg_receipt *rec;
  TT_OK(f->t, tg_receipt_load(f->t, receipt, &rec));
  assert_int_equal(rec->n_tenders, 2);
  assert_int_equal(rec->tenders[0].kind, TG_TENDER_CARD);
  assert_int_equal(rec->lines[0].original_line, 2);
  tg_receipt_free(rec);
}

static void unknown_receipts_and_lines_are_refused(void **state) {
  fixture *f = *state;
  tg_sale *r = NULL;
  const char *uuid = "cccccccc-0000-4000-8000-000000000001";
  sell_thirds(f);
  uint64_t before = tt_fingerprint(f->path);
  assert_int_equal(tg_refund_begin(f->t, uuid, "S1-T1-2", &r), TG_ENORECEIPT);
  assert_null(r);
  assert_int_equal(tg_refund_begin(f->t, uuid, "S2-T1-1", &r), TG_ENORECEIPT);
  assert_non_null(strstr(tg_last_detail(f->t), "not from this terminal"));
  assert_int_equal(tg_refund_begin(f->t, uuid, "garbage", &r), TG_ENORECEIPT);
  assert_int_equal(tg_refund_begin(f->t, "not-a-uuid", "S1-T1-1", &r), TG_EUUID);
  TT_OK(f->t, tg_refund_begin(f->t, uuid, "S1-T1-1", &r));
  assert_int_equal(tg_refund_add_line(r, 0, 1000), TG_ELINE);
  assert_int_equal(tg_refund_add_line(r, 3, 1000), TG_ELINE);
  assert_int_equal(tg_refund_add_line(r, 1, 0), TG_EQTY);
  assert_int_equal(tg_refund_add_line(r, 1, -1000), TG_EQTY);
  assert_int_equal(tg_refund_add_line(r, 1, 3001), TG_EOVERREFUND);
  TT_OK(f->t, tg_refund_add_line(r, 1, 2000));
  assert_int_equal(tg_refund_add_line(r, 1, 1001), TG_EOVERREFUND); /* counts this refund too */
  tg_line l = {"1", "x", 1000, 1, 0, NULL};
  assert_int_equal(tg_sale_add_line(r, &l), TG_EINVAL);
  assert_int_equal(tg_sale_set_order_discount(r, 1), TG_EINVAL);
  assert_int_equal(tg_sale_void(r), TG_EINVAL);
  assert_int_equal(tt_fingerprint(f->path), before);
  TT_OK(f->t, tg_sale_commit(r, NULL));
  tg_sale_free(r);
  /* a refund cannot itself be refunded */
  assert_int_equal(tg_refund_begin(f->t, "cccccccc-0000-4000-8000-000000000002", "S1-T1-2", &r),
                   TG_ENORECEIPT);
  assert_non_null(strstr(tg_last_detail(f->t), "refund"));
  /* an empty refund */
  TT_OK(f->t, tg_refund_begin(f->t, "cccccccc-0000-4000-8000-000000000003", "S1-T1-1", &r));
  assert_int_equal(tg_sale_commit(r, NULL), TG_EEMPTY);
  tg_sale_free(r);
}

static void retried_refund_is_written_once(void **state) {
  fixture *f = *state;
  char first[TG_RECEIPT_MAX], again[TG_RECEIPT_MAX];
  const char *uuid = "dddddddd-0000-4000-8000-000000000001";
  tg_sale *r;
  sell_thirds(f);
  TT_OK(f->t, tg_refund_begin(f->t, uuid, "S1-T1-1", &r));
  TT_OK(f->t, tg_refund_add_all(r));
  TT_OK(f->t, tg_sale_commit(r, first));
  tg_sale_free(r);
  uint64_t before = tt_fingerprint(f->path);
  /* the host crashed before it saw the answer and sends the same refund again */
  TT_OK(f->t, tg_refund_begin(f->t, uuid, "S1-T1-1", &r));
  TT_OK(f->t, tg_refund_add_all(r));
  TT_OK(f->t, tg_sale_commit(r, again));
  tg_sale_free(r);
  assert_string_equal(first, again);
  assert_int_equal(tt_fingerprint(f->path), before);
  /* the same id for a sale is refused */
  tg_sale *s;
  TT_OK(f->t, tg_sale_begin(f->t, uuid, &s));
  tg_line l = {"1", "x", 1000, 1, 0, NULL};
  TT_OK(f->t, tg_sale_add_line(s, &l));
  TT_OK(f->t, tg_sale_add_tender(s, TG_TENDER_CASH, 1, NULL));
  assert_int_equal(tg_sale_commit(s, NULL), TG_EREUSED);
  tg_sale_free(s);
  assert_int_equal(tt_fingerprint(f->path), before);
}

/* The first attempt landed (its answer was lost: a failed final sync, a crash)
 * and the host retries the same refund on another handle: it gets the first
 * refund's number, not a refusal. */
static void retried_refund_after_it_landed_returns_its_number(void **state) {
  fixture *f = *state;
  const char *uuid = "dddddddd-0000-4000-8000-000000000002";
  char first[TG_RECEIPT_MAX], again[TG_RECEIPT_MAX];
  tg_terminal *t2;
  tg_sale *a, *b;
  sell_thirds(f);
  TT_OK(t2, tg_terminal_open(f->path, &t2));
  TT_OK(f->t, tg_refund_begin(f->t, uuid, "S1-T1-1", &a));
  TT_OK(t2, tg_refund_begin(t2, uuid, "S1-T1-1", &b));
  TT_OK(f->t, tg_refund_add_all(a));
  TT_OK(t2, tg_refund_add_all(b));
  TT_OK(f->t, tg_sale_commit(a, first));
  uint64_t before = tt_fingerprint(f->path);
  TT_OK(t2, tg_sale_commit(b, again));
  assert_string_equal(first, again);
  assert_int_equal(tt_fingerprint(f->path), before);
  tg_sale_free(a);
  tg_sale_free(b);
  tg_terminal_close(t2);
}

/* A refund id used again for other lines is refused, not answered with the
 * first refund (the host would pay out for lines the ledger never records). */
static void reused_refund_id_with_other_lines_is_refused(void **state) {
  fixture *f = *state;
  const char *uuid = "dddddddd-0000-4000-8000-000000000003";
  tg_sale *r;
  sell_thirds(f);
  TT_OK(f->t, tg_refund_begin(f->t, uuid, "S1-T1-1", &r));
  TT_OK(f->t, tg_refund_add_line(r, 1, 1000));
  TT_OK(f->t, tg_sale_commit(r, NULL));
  tg_sale_free(r);
  uint64_t before = tt_fingerprint(f->path);
  TT_OK(f->t, tg_refund_begin(f->t, uuid, "S1-T1-1", &r));
  TT_OK(f->t, tg_refund_add_line(r, 2, 1500));
  assert_int_equal(tg_refund_add_line(r, 99, 1000), TG_ELINE); /* still validated */
  assert_int_equal(tg_sale_commit(r, NULL), TG_EREUSED);
  assert_non_null(strstr(tg_last_detail(f->t), "S1-T1-2"));
  tg_sale_free(r);
  assert_int_equal(tt_fingerprint(f->path), before);
  tg_receipt *rec;
  TT_OK(f->t, tg_receipt_load(f->t, "S1-T1-1", &rec));
  assert_int_equal(rec->lines[1].refunded_milli, 0);
  tg_receipt_free(rec);
}

static void two_processes_cannot_refund_twice(void **state) {
  fixture *f = *state;
  tg_terminal *t2;
  tg_sale *a, *b;
  sell_thirds(f);
  TT_OK(t2, tg_terminal_open(f->path, &t2));
  /* both tills look at the receipt before either commits */
  TT_OK(f->t, tg_refund_begin(f->t, "eeeeeeee-0000-4000-8000-000000000001", "S1-T1-1", &a));
  TT_OK(t2, tg_refund_begin(t2, "eeeeeeee-0000-4000-8000-000000000002", "S1-T1-1", &b));
  TT_OK(f->t, tg_refund_add_all(a));
  TT_OK(t2, tg_refund_add_all(b));
  TT_OK(f->t, tg_sale_commit(a, NULL));
  assert_int_equal(tg_sale_commit(b, NULL), TG_EOVERREFUND);
  tg_sale_free(a);
  tg_sale_free(b);
  tg_terminal_close(t2);
  assert_int_equal(tt_check_ledger(f->path), 2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(full_refund_returns_the_total, tt_setup, tt_teardown),
      cmocka_unit_test_setup_teardown(partial_refunds_add_up_exactly, tt_setup, tt_teardown),
      cmocka_unit_test_setup_teardown(refund_tenders_must_match, tt_setup, tt_teardown),
      cmocka_unit_test_setup_teardown(unknown_receipts_and_lines_are_refused, tt_setup, tt_teardown),
      cmocka_unit_test_setup_teardown(retried_refund_is_written_once, tt_setup, tt_teardown),
      cmocka_unit_test_setup_teardown(retried_refund_after_it_landed_returns_its_number, tt_setup,
                                      tt_teardown),
      cmocka_unit_test_setup_teardown(reused_refund_id_with_other_lines_is_refused, tt_setup,
                                      tt_teardown),
      cmocka_unit_test_setup_teardown(two_processes_cannot_refund_twice, tt_setup, tt_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
