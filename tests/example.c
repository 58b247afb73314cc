/*
 * The README's example: a host POS records a sale and a partial refund through
 * tillgroup's public API only. Usage: example DATABASE-PATH
 */
#include <stdio.h>

#include <tillgroup.h>

/* Prints why a call failed and returns 1. */
static int fail(tg_terminal *t, const char *what, int rc) {
  fprintf(stderr, "%s: %s (%s)\n", what, tg_last_detail(t), tg_err_name(rc));
  return 1;
}

int main(int argc, char **argv) {
  tg_terminal_config cfg = {.store_id = "S1", .terminal_id = "T1", .currency = "CNY",
                            .tz = "Asia/Shanghai"};
  char detail[256], receipt[TG_RECEIPT_MAX], refund_no[TG_RECEIPT_MAX];
  tg_terminal *t;
  tg_sale *sale, *refund;
  tg_totals totals;
  int rc;

  if (argc != 2)
    return fprintf(stderr, "usage: example DATABASE-PATH\n"), 2;
  if ((rc = tg_terminal_init(argv[1], &cfg, detail, sizeof detail)) != 0)
    return fprintf(stderr, "init: %s (%s)\n", detail, tg_err_name(rc)), 1;
  if ((rc = tg_terminal_open(argv[1], &t)) != 0)
    return fail(t, "open", rc);

  /* Ring up: two litres of milk and 1.5 kg of apples, 1.00 off the order. */
  tg_line milk = {.sku = "6901", .name = "有机全脂牛奶 1L", .qty_milli = 2000, .unit_price = 1290};
  tg_line apples = {.sku = "2001", .name = "苹果", .qty_milli = 1500, .unit_price = 798};
  if ((rc = tg_sale_begin(t, "9f0c2d4e-1a2b-4c3d-8e4f-5a6b7c8d9e0f", &sale)) != 0 ||
      (rc = tg_sale_add_line(sale, &milk)) != 0 || (rc = tg_sale_add_line(sale, &apples)) != 0 ||
      (rc = tg_sale_set_order_discount(sale, 100)) != 0 ||
      (rc = tg_sale_add_tender(sale, TG_TENDER_CASH, 5000, NULL)) != 0 ||
      (rc = tg_sale_commit(sale, receipt)) != 0 || (rc = tg_sale_get_totals(sale, &totals)) != 0)
    return fail(t, "sale", rc);
  tg_sale_free(sale);
  printf("sale %s: total %lld, change %lld\n", receipt, (long long)totals.total,
         (long long)totals.change);

  /* The customer brings one litre of milk back. */
  if ((rc = tg_refund_begin(t, "9f0c2d4e-1a2b-4c3d-8e4f-5a6b7c8d9e10", receipt, &refund)) != 0 ||
      (rc = tg_refund_add_line(refund, 1, 1000)) != 0 ||
      (rc = tg_sale_commit(refund, refund_no)) != 0 ||
      (rc = tg_sale_get_totals(refund, &totals)) != 0)
    return fail(t, "refund", rc);
  tg_sale_free(refund);
  printf("refund %s: %lld back in cash\n", refund_no, (long long)totals.total);

  tg_status st;
  if ((rc = tg_status_get(t, &st)) != 0)
    return fail(t, "status", rc);
  printf("outbox: %lld records waiting for HQ\n", (long long)st.depth);
  tg_terminal_close(t);
  return 0;
}
