/* Sales: totals, change, idempotent commit, voids, and every refused input changing nothing. */
#include <string.h>

#include "helpers.h"

typedef tt_fixture fixture;

static const char *U1 = "11111111-2222-4333-8444-555555555555";

/* The milk-and-apples sale of the README. */
static tg_sale *milk_and_apples(tg_terminal *t, const char *uuid) {
  tg_sale *s;
  TT_OK(t, tg_sale_begin(t, uuid, &s));
  tg_line milk = {"6901", "有机全脂牛奶 1L", 2000, 1290, 0, NULL};
  tg_line apples = {"2001", "苹果", 2500, 798, 50, NULL}; /* 2.5 kg */
  TT_OK(t, tg_sale_add_line(s, &milk));
  TT_OK(t, tg_sale_add_line(s, &apples));
  TT_OK(t, tg_sale_set_order_discount(s, 100));
  return s;
}

static void commit_computes_exact_totals(void **state) {
  fixture *f = *state;
  tg_sale *s = milk_and_apples(f->t, U1);
  tg_totals tot;
  char receipt[TG_RECEIPT_MAX];
  TT_OK(f->t, tg_sale_add_tender(s, TG_TENDER_CASH, 5000, NULL));
  TT_OK(f->t, tg_sale_get_totals(s, &tot));
  assert_int_equal(tot.subtotal, 4525); /* 25.80 + (19.95 - 0.50) */
  assert_int_equal(tot.order_discount, 100);
  assert_int_equal(tot.total, 4425);
  assert_int_equal(tot.change, 575);
  TT_OK(f->t, tg_sale_commit(s, receipt));
  assert_string_equal(receipt, "S1-T1-1");
  tg_sale_free(s);

  tg_receipt *r;
  TT_OK(f->t, tg_receipt_load(f->t, "S1-T1-1", &r));
  assert_int_equal(r->kind, TG_RECORD_SALE);
  assert_int_equal(r->seq, 1);
  assert_string_equal(r->uuid, U1);
  assert_int_equal(r->n_lines, 2);
  assert_int_equal(r->lines[0].order_discount, 58); /* 0.57 + the remainder */
  assert_int_equal(r->lines[0].amount, 2522);
  assert_int_equal(r->lines[1].line_discount, 50);
  assert_int_equal(r->lines[1].order_discount, 42);
  assert_int_equal(r->lines[1].amount, 1903);
  assert_string_equal(r->lines[1].name, "苹果");
  assert_int_equal(r->lines[1].qty_milli, 2500);
  assert_int_equal(r->totals.total, 4425);
  assert_int_equal(r->totals.tendered, 5000);
  assert_int_equal(r->totals.change, 575);
  assert_int_equal(r->n_tenders, 1);
  assert_int_equal(r->tenders[0].kind, TG_TENDER_CASH);
  tg_receipt_free(r);
  assert_int_equal(tt_check_ledger(f->path), 1);
}

static void receipt_numbers_count_up(void **state) {
  fixture *f = *state;
  char receipt[TG_RECEIPT_MAX], want[TG_RECEIPT_MAX];
  for (int i = 1; i <= 30; i++) {
    TT_OK(f->t, tt_commit(f->t, (uint64_t)i, 1 + i % 4, receipt));
    snprintf(want, sizeof want, "S1-T1-%d", i);
    assert_string_equal(receipt, want);
  }
  assert_int_equal(tt_check_ledger(f->path), 30);
}

static void percent_discount_rounds_half_up(void **state) {
  fixture *f = *state;
  tg_sale *s = milk_and_apples(f->t, U1);
  tg_totals tot;
  TT_OK(f->t, tg_sale_set_order_discount_percent(s, 1000)); /* replaces the 1.00 */
  TT_OK(f->t, tg_sale_get_totals(s, &tot));
  assert_int_equal(tot.order_discount, 453); /* 10% of 45.25 = 4.525 */
  assert_int_equal(tot.total, 4072);
  TT_OK(f->t, tg_sale_set_order_discount_percent(s, 10000)); /* everything free */
  TT_OK(f->t, tg_sale_get_totals(s, &tot));
  assert_int_equal(tot.total, 0);
  TT_OK(f->t, tg_sale_commit(s, NULL)); /* nothing to pay, no tender needed */
  tg_sale_free(s);
  assert_int_equal(tt_check_ledger(f->path), 1);
}

static void change_comes_only_from_cash(void **state) {
  fixture *f = *state;
  tg_sale *s = milk_and_apples(f->t, U1);
  tg_totals tot;
  TT_OK(f->t, tg_sale_add_tender(s, TG_TENDER_CARD, 4000, "AUTH123"));
  TT_OK(f->t, tg_sale_add_tender(s, TG_TENDER_CASH, 1000, NULL));
  TT_OK(f->t, tg_sale_commit(s, NULL));
  TT_OK(f->t, tg_sale_get_totals(s, &tot));
  assert_int_equal(tot.change, 575);
  tg_sale_free(s);
  tg_receipt *r;
  TT_OK(f->t, tg_receipt_load(f->t, "S1-T1-1", &r));
  assert_int_equal(r->n_tenders, 2);
  assert_string_equal(r->tenders[0].reference, "AUTH123");
  assert_int_equal(r->totals.change, 575);
  tg_receipt_free(r);
}

static void retried_commit_returns_the_first_receipt(void **state) {
  fixture *f = *state;
  char first[TG_RECEIPT_MAX], again[TG_RECEIPT_MAX];
  TT_OK(f->t, tt_commit(f->t, 7, 3, first));
  TT_OK(f->t, tt_commit(f->t, 8, 3, NULL));
  uint64_t before = tt_fingerprint(f->path);
  /* a host that crashed after commit retries with the same id and content */
  TT_OK(f->t, tt_commit(f->t, 7, 3, again));
  assert_string_equal(first, again);
  assert_int_equal(tt_fingerprint(f->path), before);
  /* a retry through a new handle (another process) behaves the same */
  tg_terminal *t2;
  TT_OK(t2, tg_terminal_open(f->path, &t2));
  TT_OK(t2, tt_commit(t2, 7, 3, again));
  assert_string_equal(first, again);
  tg_terminal_close(t2);
  assert_int_equal(tt_fingerprint(f->path), before);
  assert_int_equal(tt_count_uuid(f->path, 7), 1);
}

static void reused_id_with_other_content_is_refused(void **state) {
  fixture *f = *state;
  char uuid[TG_UUID_LEN + 1];
  TT_OK(f->t, tt_commit(f->t, 7, 3, NULL));
  uint64_t before = tt_fingerprint(f->path);
  tt_uuid(7, uuid);
  tg_sale *s = milk_and_apples(f->t, uuid);
  TT_OK(f->t, tg_sale_add_tender(s, TG_TENDER_CASH, 5000, NULL));
  assert_int_equal(tg_sale_commit(s, NULL), TG_EREUSED);
  assert_non_null(strstr(tg_last_detail(f->t), "S1-T1-1"));
  tg_sale_free(s);
  assert_int_equal(tt_fingerprint(f->path), before);
}

static void staff_are_recorded_and_belong_to_the_request(void **state) {
  fixture *f = *state;
  char no[TG_RECEIPT_MAX], again[TG_RECEIPT_MAX], long_name[TG_MAX_STAFF + 2];
  tg_receipt *r;
  tg_sale *s = milk_and_apples(f->t, U1);
  TT_OK(f->t, tg_sale_add_tender(s, TG_TENDER_CASH, 5000, NULL));
  memset(long_name, 'x', sizeof long_name - 1);
  long_name[sizeof long_name - 1] = '\0';
  TT_OK(f->t, tg_sale_set_staff(s, "王芳", "G07"));
  /* refused names change nothing */
  assert_int_equal(tg_sale_set_staff(s, long_name, NULL), TG_ETOOLONG);
  assert_int_equal(tg_sale_set_staff(s, "Li\nLei", NULL), TG_EUTF8);
  assert_non_null(strstr(tg_last_detail(f->t), "cashier"));
  TT_OK(f->t, tg_sale_commit(s, no));
  tg_sale_free(s);
  TT_OK(f->t, tg_receipt_load(f->t, no, &r));
  assert_string_equal(r->cashier, "王芳");
  assert_string_equal(r->guide, "G07");
  tg_receipt_free(r);
  /* the same request again returns the receipt; other staff under that id is another request */
  s = milk_and_apples(f->t, U1);
  TT_OK(f->t, tg_sale_add_tender(s, TG_TENDER_CASH, 5000, NULL));
  TT_OK(f->t, tg_sale_set_staff(s, "王芳", "G07"));
  TT_OK(f->t, tg_sale_commit(s, again));
  assert_string_equal(no, again);
  tg_sale_free(s);
  s = milk_and_apples(f->t, U1);
  TT_OK(f->t, tg_sale_add_tender(s, TG_TENDER_CASH, 5000, NULL));
  TT_OK(f->t, tg_sale_set_staff(s, "李雷", "G07"));
  assert_int_equal(tg_sale_commit(s, again), TG_EREUSED);
  tg_sale_free(s);
  /* a sale without staff reads back with none */
  TT_OK(f->t, tt_commit(f->t, 9, 2, no));
  TT_OK(f->t, tg_receipt_load(f->t, no, &r));
  assert_string_equal(r->cashier, "");
  assert_string_equal(r->guide, "");
  tg_receipt_free(r);
}

static void void_records_what_was_rung_up(void **state) {
  fixture *f = *state;
  tg_sale *s = milk_and_apples(f->t, U1);
  TT_OK(f->t, tg_sale_add_tender(s, TG_TENDER_CASH, 5000, NULL));
  TT_OK(f->t, tg_sale_void(s));
  assert_int_equal(tg_sale_commit(s, NULL), TG_ESTATE);
  tg_sale_free(s);
  assert_int_equal(tt_check_ledger(f->path), 1);
  /* the void has an outbox record but no receipt number */
  char receipt[TG_RECEIPT_MAX];
  TT_OK(f->t, tt_commit(f->t, 2, 1, receipt));
  assert_string_equal(receipt, "S1-T1-1");
  tg_status st;
  TT_OK(f->t, tg_status_get(f->t, &st));
  assert_int_equal(st.last_seq, 2);
  /* the same sale id cannot be committed after its void; a retried void is fine */
  uint64_t before = tt_fingerprint(f->path);
  s = milk_and_apples(f->t, U1);
  TT_OK(f->t, tg_sale_add_tender(s, TG_TENDER_CASH, 5000, NULL));
  assert_int_equal(tg_sale_commit(s, NULL), TG_EVOIDED);
  TT_OK(f->t, tg_sale_void(s));
  tg_sale_free(s);
  assert_int_equal(tt_fingerprint(f->path), before);
  /* a committed sale cannot be voided */
  s = tt_sale(f->t, 2, 1);
  assert_int_equal(tg_sale_void(s), TG_ESTATE);
  assert_non_null(strstr(tg_last_detail(f->t), "refund"));
  tg_sale_free(s);
  /* an empty cart voids without a record */
  TT_OK(f->t, tg_sale_begin(f->t, "22222222-2222-4333-8444-555555555555", &s));
  TT_OK(f->t, tg_sale_void(s));
  tg_sale_free(s);
  assert_int_equal(tt_fingerprint(f->path), before);
}

/* Expects a refused line: the specific code, a reason, and no change. */
static void refuse_line(fixture *f, tg_line l, int code) {
  tg_sale *s;
  TT_OK(f->t, tg_sale_begin(f->t, U1, &s));
  tg_line ok = {"1", "ok", 1000, 100, 0, NULL};
  TT_OK(f->t, tg_sale_add_line(s, &ok));
  assert_int_equal(tg_sale_add_line(s, &l), code);
  assert_true(strlen(tg_last_detail(f->t)) > 0);
  tg_totals tot;
  TT_OK(f->t, tg_sale_get_totals(s, &tot));
  assert_int_equal(tot.subtotal, 100); /* the refused line is not in the sale */
  tg_sale_free(s);
}

static void bad_lines_are_refused(void **state) {
  fixture *f = *state;
  char long_name[TG_MAX_NAME + 2];
  memset(long_name, 'x', sizeof long_name - 1);
  long_name[sizeof long_name - 1] = '\0';
  uint64_t before = tt_fingerprint(f->path);
  refuse_line(f, (tg_line){"1", "milk", 0, 100, 0, NULL}, TG_EQTY);
  refuse_line(f, (tg_line){"1", "milk", -1000, 100, 0, NULL}, TG_EQTY);
  refuse_line(f, (tg_line){"1", "milk", TG_MAX_QTY_MILLI + 1, 1, 0, NULL}, TG_EQTY);
  refuse_line(f, (tg_line){"1", "milk", 1000, -1, 0, NULL}, TG_EPRICE);
  refuse_line(f, (tg_line){"1", "milk", 1000, 100, -1, NULL}, TG_EPRICE);
  refuse_line(f, (tg_line){"1", "milk", 1000, TG_MAX_AMOUNT + 1, 0, NULL}, TG_EOVERFLOW);
  refuse_line(f, (tg_line){"1", "milk", TG_MAX_QTY_MILLI, TG_MAX_AMOUNT, 0, NULL}, TG_EOVERFLOW);
  refuse_line(f, (tg_line){"1", "milk", 1000, 100, 101, NULL}, TG_EDISCOUNT);
  refuse_line(f, (tg_line){"1", "bad \xff byte", 1000, 100, 0, NULL}, TG_EUTF8);
  refuse_line(f, (tg_line){"1", "new\nline", 1000, 100, 0, NULL}, TG_EUTF8);
  refuse_line(f, (tg_line){"\xe4\xb8", "milk", 1000, 100, 0, NULL}, TG_EUTF8);
  refuse_line(f, (tg_line){"1", long_name, 1000, 100, 0, NULL}, TG_ETOOLONG);
  refuse_line(f, (tg_line){"1", "", 1000, 100, 0, NULL}, TG_EINVAL);
  refuse_line(f, (tg_line){NULL, "milk", 1000, 100, 0, NULL}, TG_EINVAL);
  assert_int_equal(tt_fingerprint(f->path), before);
}

static void sale_total_cannot_overflow(void **state) {
  fixture *f = *state;
  tg_sale *s;
  TT_OK(f->t, tg_sale_begin(f->t, U1, &s));
  tg_line big = {"1", "gold bar", 1000, TG_MAX_AMOUNT / 2, 0, NULL};
  TT_OK(f->t, tg_sale_add_line(s, &big));
  TT_OK(f->t, tg_sale_add_line(s, &big));
  assert_int_equal(tg_sale_add_line(s, &big), TG_EOVERFLOW);
  TT_OK(f->t, tg_sale_add_tender(s, TG_TENDER_CASH, TG_MAX_AMOUNT, NULL));
  assert_int_equal(tg_sale_add_tender(s, TG_TENDER_CASH, 1, NULL), TG_EOVERFLOW);
  tg_sale_free(s);
}

static void too_many_lines_and_tenders_are_refused(void **state) {
  fixture *f = *state;
  tg_sale *s;
  tg_line l = {"1", "gum", 1000, 1, 0, NULL};
  TT_OK(f->t, tg_sale_begin(f->t, U1, &s));
  for (int i = 0; i < TG_MAX_LINES; i++)
    TT_OK(f->t, tg_sale_add_line(s, &l));
  assert_int_equal(tg_sale_add_line(s, &l), TG_ETOOMANY);
  for (int i = 0; i < TG_MAX_TENDERS - 1; i++)
    TT_OK(f->t, tg_sale_add_tender(s, TG_TENDER_COUPON, 1, NULL));
  TT_OK(f->t, tg_sale_add_tender(s, TG_TENDER_CASH, TG_MAX_LINES - TG_MAX_TENDERS + 1, NULL));
  assert_int_equal(tg_sale_add_tender(s, TG_TENDER_CASH, 1, NULL), TG_ETOOMANY);
  /* a full sale still commits: 500 lines, 16 tenders */
  char receipt[TG_RECEIPT_MAX];
  TT_OK(f->t, tg_sale_commit(s, receipt));
  tg_sale_free(s);
  assert_int_equal(tt_check_ledger(f->path), 1);
}

static void bad_commits_are_refused(void **state) {
  fixture *f = *state;
  uint64_t before = tt_fingerprint(f->path);
  tg_sale *s;
  /* an empty sale */
  TT_OK(f->t, tg_sale_begin(f->t, U1, &s));
  assert_int_equal(tg_sale_commit(s, NULL), TG_EEMPTY);
  tg_sale_free(s);
  /* tenders short of the total */
  s = milk_and_apples(f->t, U1);
  TT_OK(f->t, tg_sale_add_tender(s, TG_TENDER_CASH, 4424, NULL));
  assert_int_equal(tg_sale_commit(s, NULL), TG_ESHORT);
  assert_non_null(strstr(tg_last_detail(f->t), "short"));
  /* ...and the same sale commits once it is paid */
  TT_OK(f->t, tg_sale_add_tender(s, TG_TENDER_WALLET, 1, "wx-1"));
  tg_sale_free(s);
  /* change from a card */
  s = milk_and_apples(f->t, U1);
  TT_OK(f->t, tg_sale_add_tender(s, TG_TENDER_CARD, 5000, NULL));
  assert_int_equal(tg_sale_commit(s, NULL), TG_ETENDER);
  tg_sale_free(s);
  /* an order discount larger than the subtotal */
  s = milk_and_apples(f->t, U1);
  TT_OK(f->t, tg_sale_set_order_discount(s, 4526));
  assert_int_equal(tg_sale_commit(s, NULL), TG_EDISCOUNT);
  assert_int_equal(tg_sale_set_order_discount(s, -1), TG_EPRICE);
  assert_int_equal(tg_sale_set_order_discount_percent(s, 10001), TG_EDISCOUNT);
  assert_int_equal(tg_sale_set_order_discount_percent(s, -1), TG_EDISCOUNT);
  /* bad tenders */
  assert_int_equal(tg_sale_add_tender(s, TG_TENDER_CASH, 0, NULL), TG_ETENDER);
  assert_int_equal(tg_sale_add_tender(s, TG_TENDER_CASH, -5, NULL), TG_ETENDER);
  assert_int_equal(tg_sale_add_tender(s, (tg_tender_kind)99, 5, NULL), TG_ETENDER);
  assert_int_equal(tg_sale_add_tender(s, TG_TENDER_CARD, 5, "bad\xc0\xafref"), TG_EUTF8);
  tg_sale_free(s);
  /* ids that are not UUIDs */
  assert_int_equal(tg_sale_begin(f->t, "sale-42", &s), TG_EUUID);
  assert_null(s);
  assert_int_equal(tg_sale_begin(f->t, NULL, &s), TG_EUUID);
  assert_int_equal(tt_fingerprint(f->path), before);
}

static void committed_sale_is_closed(void **state) {
  fixture *f = *state;
  tg_sale *s = tt_sale(f->t, 1, 2);
  tg_line l = {"1", "late", 1000, 1, 0, NULL};
  TT_OK(f->t, tg_sale_commit(s, NULL));
  assert_int_equal(tg_sale_commit(s, NULL), TG_ESTATE);
  assert_int_equal(tg_sale_add_line(s, &l), TG_ESTATE);
  assert_int_equal(tg_sale_add_tender(s, TG_TENDER_CASH, 1, NULL), TG_ESTATE);
  assert_int_equal(tg_sale_set_order_discount(s, 1), TG_ESTATE);
  tg_sale_free(s);
  tg_sale_free(NULL);
  tg_terminal_close(NULL);
  tg_receipt_free(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(commit_computes_exact_totals, tt_setup, tt_teardown),
      cmocka_unit_test_setup_teardown(receipt_numbers_count_up, tt_setup, tt_teardown),
      cmocka_unit_test_setup_teardown(percent_discount_rounds_half_up, tt_setup, tt_teardown),
      cmocka_unit_test_setup_teardown(change_comes_only_from_cash, tt_setup, tt_teardown),
      cmocka_unit_test_setup_teardown(retried_commit_returns_the_first_receipt, tt_setup, tt_teardown),
      cmocka_unit_test_setup_teardown(reused_id_with_other_content_is_refused, tt_setup, tt_teardown),
      cmocka_unit_test_setup_teardown(staff_are_recorded_and_belong_to_the_request, tt_setup,
                                      tt_teardown),
      cmocka_unit_test_setup_teardown(void_records_what_was_rung_up, tt_setup, tt_teardown),
      cmocka_unit_test_setup_teardown(bad_lines_are_refused, tt_setup, tt_teardown),
      cmocka_unit_test_setup_teardown(sale_total_cannot_overflow, tt_setup, tt_teardown),
      cmocka_unit_test_setup_teardown(too_many_lines_and_tenders_are_refused, tt_setup, tt_teardown),
      cmocka_unit_test_setup_teardown(bad_commits_are_refused, tt_setup, tt_teardown),
      cmocka_unit_test_setup_teardown(committed_sale_is_closed, tt_setup, tt_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
