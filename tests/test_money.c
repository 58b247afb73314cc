/* Money rules: half-up rounding, pro-rata allocation with the remainder on the largest line. */
#include "helpers.h"

static int64_t mdh(int64_t a, int64_t b, int64_t d) {
  int64_t v = -1;
  assert_int_equal(tg__mul_div_half_up(a, b, d, &v), 0);
  return v;
}

static void rounding_is_half_up(void **state) {
  (void)state;
  assert_int_equal(mdh(1500, 199, 1000), 299);  /* 298.5 -> 299 */
  assert_int_equal(mdh(1499, 199, 1000), 298);  /* 298.301 -> 298 */
  assert_int_equal(mdh(2500, 1, 1000), 3);      /* 2.5 -> 3 */
  assert_int_equal(mdh(2499, 1, 1000), 2);      /* 2.499 -> 2 */
  assert_int_equal(mdh(1234, 1990, 1000), 2456); /* 1.234 kg at 19.90/kg = 24.5566 */
  assert_int_equal(mdh(4525, 1000, 10000), 453); /* 10% of 45.25 = 4.525 -> 4.53 */
  assert_int_equal(mdh(1, 1, 3), 0);             /* 0.33 */
  assert_int_equal(mdh(2, 1, 3), 1);             /* 0.67 */
  assert_int_equal(mdh(0, 999, 7), 0);
}

static void rounding_refuses_overflow(void **state) {
  (void)state;
  int64_t v = 42;
  assert_int_equal(tg__mul_div_half_up(TG_MAX_QTY_MILLI, TG_MAX_AMOUNT, 1000, &v), TG_EOVERFLOW);
  assert_int_equal(v, 42);
  /* exact at the limit: products beyond int64 are formed in 128 bits */
  assert_int_equal(mdh(TG_MAX_AMOUNT, 1000000, 1000000), TG_MAX_AMOUNT);
  assert_int_equal(tg__mul_div_half_up(TG_MAX_AMOUNT, 1000001, 1000000, &v), TG_EOVERFLOW);
}

static void amount_add_is_bounded(void **state) {
  (void)state;
  int64_t acc = TG_MAX_AMOUNT - 5;
  assert_int_equal(tg__amount_add(&acc, 5), 0);
  assert_int_equal(acc, TG_MAX_AMOUNT);
  assert_int_equal(tg__amount_add(&acc, 1), TG_EOVERFLOW);
  assert_int_equal(acc, TG_MAX_AMOUNT);
}

static void allocation_worked_examples(void **state) {
  (void)state;
  int64_t shares[4];
  /* 1.00 off lines of 25.80 and 19.45: 0.57 + 0.42 = 0.99, remainder 0.01 to the larger */
  int64_t w1[] = {2580, 1945};
  tg__allocate(100, w1, shares, 2);
  assert_int_equal(shares[0], 58);
  assert_int_equal(shares[1], 42);
  /* 10.00 off 3 x 33.33: 3.33 each, remainder 0.01 to the first of equals */
  int64_t w2[] = {3333, 3333, 3333};
  tg__allocate(1000, w2, shares, 3);
  assert_int_equal(shares[0], 334);
  assert_int_equal(shares[1], 333);
  assert_int_equal(shares[2], 333);
  /* the largest line is not the first */
  int64_t w3[] = {100, 700, 200};
  tg__allocate(11, w3, shares, 3);
  assert_int_equal(shares[0], 1);
  assert_int_equal(shares[1], 8); /* 7.7 -> 7, plus the remainder 1 */
  assert_int_equal(shares[2], 2);
  /* tiny lines: the remainder spills past a line that cannot take it */
  int64_t w4[] = {1, 1, 1};
  tg__allocate(2, w4, shares, 3);
  assert_int_equal(shares[0], 1);
  assert_int_equal(shares[1], 1);
  assert_int_equal(shares[2], 0);
  /* the whole amount off */
  int64_t w5[] = {5, 0, 7, 3};
  tg__allocate(15, w5, shares, 4);
  assert_int_equal(shares[0], 5);
  assert_int_equal(shares[1], 0);
  assert_int_equal(shares[2], 7);
  assert_int_equal(shares[3], 3);
  /* nothing off */
  tg__allocate(0, w5, shares, 4);
  for (int i = 0; i < 4; i++)
    assert_int_equal(shares[i], 0);
}

/* xorshift: the same cases on every run */
static uint64_t next_random(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

static void allocation_always_sums_exactly(void **state) {
  (void)state;
  uint64_t seed = 0x9e3779b97f4a7c15ULL;
  int64_t w[60], shares[60];
  for (int round = 0; round < 20000; round++) {
    int n = 1 + (int)(next_random(&seed) % 60), largest = 0;
    int64_t sum = 0, given = 0;
    for (int i = 0; i < n; i++) {
      w[i] = (int64_t)(next_random(&seed) % (round % 3 == 0 ? 5 : 100000));
      sum += w[i];
      if (w[i] > w[largest])
        largest = i;
    }
    int64_t amount = sum == 0 ? 0 : (int64_t)(next_random(&seed) % (uint64_t)(sum + 1));
    tg__allocate(amount, w, shares, n);
    for (int i = 0; i < n; i++) {
      assert_true(shares[i] >= 0 && shares[i] <= w[i]);
      int64_t floor_share = sum == 0 ? 0 : (int64_t)((__int128)amount * w[i] / sum);
      /* only the largest line takes more than its pro-rata share, unless it was full */
      if (i != largest && shares[i] != floor_share)
        assert_int_equal(shares[largest], w[largest]);
      given += shares[i];
    }
    assert_int_equal(given, amount);
  }
}

static void money_formats_by_currency(void **state) {
  (void)state;
  char buf[TG_MONEY_BUF];
  assert_string_equal(tg__money_format(4425, 2, buf), "44.25");
  assert_string_equal(tg__money_format(5, 2, buf), "0.05");
  assert_string_equal(tg__money_format(-100, 2, buf), "-1.00");
  assert_string_equal(tg__money_format(1500, 0, buf), "1500");   /* JPY */
  assert_string_equal(tg__money_format(1234, 3, buf), "1.234");  /* KWD */
  assert_string_equal(tg__money_format(INT64_MIN, 2, buf), "-92233720368547758.08");
  assert_string_equal(tg__money_format(TG_MAX_AMOUNT, 2, buf), "10000000000000.00");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(rounding_is_half_up),
      cmocka_unit_test(rounding_refuses_overflow),
      cmocka_unit_test(amount_add_is_bounded),
      cmocka_unit_test(allocation_worked_examples),
      cmocka_unit_test(allocation_always_sums_exactly),
      cmocka_unit_test(money_formats_by_currency),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
