/* Allocation failure injection: each allocation of opening, ringing up and
 * committing fails in turn, once or from then on, and nothing crashes, leaks
 * or breaks the ledger. */
#include "helpers.h"

#include <stdio.h>
#include <string.h>

enum { N_LINES = 5, NEXT_BASE = 1000000, REFUND_BASE = 2000000, MAX_STEPS = 20000 };

/* Rings up and commits the same request as tt_commit(t, i, N_LINES) through
 * the public API, stopping at the first failure, which it returns (0 when
 * committed). Unlike tt_sale it asserts nothing, so allocation failures can
 * surface anywhere. The sale is always freed. */
static int ring_up(tg_terminal *t, uint64_t i) {
  char uuid[TG_UUID_LEN + 1], sku[32], name[64], receipt[TG_RECEIPT_MAX];
  tg_sale *s = NULL;
  tg_totals tot;
  tt_uuid(i, uuid);
  int rc = tg_sale_begin(t, uuid, &s);
  for (int k = 0; rc == 0 && k < N_LINES; k++) {
    /* the same lines as tt_sale, so a retry is the same request */
    snprintf(sku, sizeof sku, "69%011llu", (unsigned long long)(i * 31 + (uint64_t)k));
    snprintf(name, sizeof name, "商品 item %d of sale %llu", k, (unsigned long long)i);
    tg_line l = {sku, name, 1000 + (int64_t)((i + (uint64_t)k) % 5) * 250,
                 99 + (int64_t)((i * 7 + (uint64_t)k * 13) % 2000), k == 0 ? 10 : 0, NULL};
    rc = tg_sale_add_line(s, &l);
  }
  if (rc == 0)
    rc = tg_sale_set_order_discount(s, (int64_t)(i % 7));
  if (rc == 0)
    rc = tg_sale_get_totals(s, &tot);
  if (rc == 0 && tot.total > 0)
    rc = tg_sale_add_tender(s, TG_TENDER_CASH, tot.total, NULL);
  if (rc == 0)
    rc = tg_sale_commit(s, receipt);
  tg_sale_free(s);
  return rc;
}

/* The refund of sale i's receipt, under uuid REFUND_BASE + i. Rings it up
 * and commits it like ring_up: returns the first failure, 0 when committed.
 * The refund is always freed. */
static int refund_all(tg_terminal *t, uint64_t i, const char *receipt) {
  char uuid[TG_UUID_LEN + 1], out[TG_RECEIPT_MAX];
  tg_sale *r = NULL;
  tt_uuid(REFUND_BASE + i, uuid);
  int rc = tg_refund_begin(t, uuid, receipt, &r);
  if (rc == 0)
    rc = tg_refund_add_all(r);
  if (rc == 0)
    rc = tg_sale_commit(r, out);
  tg_sale_free(r);
  return rc;
}

/* Checks the outcome of an armed call that returned rc after fired
 * injected failures at allocation n. */
static void check_outcome(tg_terminal *t, long n, long fired, int rc) {
  /* SQLite reports a failed allocation as SQLITE_NOMEM, the unix VFS as
   * SQLITE_NOMEM or SQLITE_IOERR_NOMEM, and tillgroup maps all of them to
   * TG_ENOMEM. Any other code would send the cashier after the disk. */
  if (fired == 0)
    TT_OK(t, rc);
  else if (rc != 0 && rc != TG_ENOMEM)
    fail_msg("allocation %ld: expected TG_ENOMEM, got %s: %s", n, tg_err_name(rc),
             tg_last_detail(t));
  if (rc != 0)
    assert_true(tg_last_detail(t)[0] != '\0');
}

/* One step: on a fresh handle of the ledger at path, rings up sale i (or,
 * if refund, a full refund of sale i, committed first) with allocation n
 * failing, then proves the ledger whole, the handle usable and the record
 * retryable exactly once. Returns 1 if a failure was injected. */
static int one_step(const char *path, int persistent, int refund, long n, uint64_t i) {
  tg_terminal *t;
  char receipt[TG_RECEIPT_MAX], sold[TG_RECEIPT_MAX];
  uint64_t id = refund ? REFUND_BASE + i : i;
  TT_OK(t, tg_terminal_open(path, &t));
  if (refund)
    TT_OK(t, tt_commit(t, i, N_LINES, sold));
  int64_t before = tt_check_ledger(path);
  tt_mem_arm(persistent, n);
  int rc = refund ? refund_all(t, i, sold) : ring_up(t, i);
  long fired = tt_mem_disarm();
  check_outcome(t, n, fired, rc);
  int present = tt_count_uuid(path, id);
  assert_int_equal(present, rc == 0 ? 1 : 0);
  assert_int_equal(tt_check_ledger(path), before + present);
  /* the same handle goes on: a new sale, then the failed record again */
  TT_OK(t, tt_commit(t, NEXT_BASE + i, N_LINES, receipt));
  if (tt_count_uuid(path, NEXT_BASE + i) != 1) /* visible outside: really committed */
    fail_msg("allocation %ld: the next commit returned %s but no other connection sees it "
             "(handle %s a transaction)",
             n, receipt, sqlite3_get_autocommit(t->db) ? "not in" : "still in");
  TT_OK(t, refund ? refund_all(t, i, sold) : tt_commit(t, i, N_LINES, receipt));
  assert_int_equal(tt_count_uuid(path, id), 1);
  assert_int_equal(tt_check_ledger(path), before + 2);
  tg_terminal_close(t);
  return fired > 0;
}

/* Runs one_step for n = 1, 2, ... until the record commits with no failure
 * injected; returns at how many allocations a failure was injected. A new
 * ledger every 50 steps keeps tt_check_ledger quick. */
static long alloc_loop(int persistent, int refund, const char *name) {
  char *dir = NULL, path[4096];
  long hits = 0, n;
  for (n = 1; n < MAX_STEPS; n++) {
    if ((n - 1) % 50 == 0) {
      if (dir != NULL)
        tt_rmtree(dir);
      dir = tt_tmpdir();
      tg_terminal_close(tt_terminal(dir, path));
    }
    if (!one_step(path, persistent, refund, n, (uint64_t)n))
      break;
    hits++;
  }
  tt_rmtree(dir);
  assert_true(n < MAX_STEPS);
  printf("# %s: failures injected at %ld allocations of %ld\n", name, hits, tt_mem_calls());
  return hits;
}

static void commit_fails_once_at_each_allocation(void **state) {
  (void)state;
  assert_true(alloc_loop(0, 0, "sale, allocation fails once") > 20);
}

static void commit_fails_from_each_allocation_on(void **state) {
  (void)state;
  assert_true(alloc_loop(1, 0, "sale, allocations fail from N on") > 20);
}

static void refund_fails_once_at_each_allocation(void **state) {
  (void)state;
  assert_true(alloc_loop(0, 1, "refund, allocation fails once") > 20);
}

/* Opening a terminal with allocation n failing, once or from then on:
 * TG_ENOMEM or a working handle, and nothing leaked either way. */
static void open_fails_at_each_allocation(void **state) {
  (void)state;
  char *dir = tt_tmpdir(), path[4096], receipt[TG_RECEIPT_MAX];
  tg_terminal_close(tt_terminal(dir, path));
  for (int persistent = 0; persistent <= 1; persistent++) {
    long hits = 0, n;
    for (n = 1; n < MAX_STEPS; n++) {
      tg_terminal *t;
      tt_mem_arm(persistent, n);
      int rc = tg_terminal_open(path, &t);
      long fired = tt_mem_disarm();
      if (t == NULL) /* only when the handle itself could not be allocated */
        assert_int_equal(rc, TG_ENOMEM);
      else
        check_outcome(t, n, fired, rc);
      if (rc == 0) { /* a handle that opened must work */
        TT_OK(t, tt_commit(t, (uint64_t)(persistent * MAX_STEPS + n), N_LINES, receipt));
        assert_int_equal(tt_count_uuid(path, (uint64_t)(persistent * MAX_STEPS + n)), 1);
      }
      tg_terminal_close(t);
      tt_check_ledger(path);
      if (fired == 0)
        break;
      hits++;
    }
    assert_true(n < MAX_STEPS);
    printf("# open, allocation%s: failures injected at %ld allocations of %ld\n",
           persistent ? "s fail from N on" : " fails once", hits, tt_mem_calls());
    assert_true(hits > 20);
  }
  tt_rmtree(dir);
}

int main(void) {
  /* before anything initialises SQLite */
  int rc = tt_mem_install();
  if (rc != SQLITE_OK) {
    fprintf(stderr, "could not install the allocator: %s\n", sqlite3_errstr(rc));
    return 1;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(commit_fails_once_at_each_allocation),
      cmocka_unit_test(commit_fails_from_each_allocation_on),
      cmocka_unit_test(refund_fails_once_at_each_allocation),
      cmocka_unit_test(open_fails_at_each_allocation),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
