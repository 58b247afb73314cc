/*
 * Exact money arithmetic in int64 minor units. Products are formed in 128-bit
 * integers so nothing is lost before the single, documented rounding step.
 */
#include <assert.h>
#include <stdio.h>

#include "pos.h"

int tg__amount_add(int64_t *acc, int64_t v) {
  assert(v >= 0 && *acc >= 0);
  if (v > TG_MAX_AMOUNT - *acc)
    return TG_EOVERFLOW;
  *acc += v;
  return 0;
}

int tg__mul_div_half_up(int64_t a, int64_t b, int64_t d, int64_t *out) {
  assert(a >= 0 && b >= 0 && d > 0);
  /* half-up: floor(a*b/d + 1/2) = floor((2ab + d) / 2d) */
  __int128 q = ((__int128)a * b * 2 + d) / ((__int128)d * 2);
  if (q > TG_MAX_AMOUNT)
    return TG_EOVERFLOW;
  *out = (int64_t)q;
  return 0;
}

/* Whether weight i comes after weight j in the order "largest first, then
 * the earlier line". */
static int comes_after(const int64_t *w, int i, int j) {
  return w[i] < w[j] || (w[i] == w[j] && i > j);
}

void tg__allocate(int64_t amount, const int64_t *weights, int64_t *shares, int n) {
  int64_t sum = 0, rest = amount;
  int prev = -1;
  for (int i = 0; i < n; i++) {
    assert(weights[i] >= 0);
    sum += weights[i];
  }
  assert(amount >= 0 && amount <= sum);
  for (int i = 0; i < n; i++) {
    shares[i] = sum == 0 ? 0 : (int64_t)((__int128)amount * weights[i] / sum);
    rest -= shares[i];
  }
  /* 0 <= rest < n. It goes to the largest line; only a line too small to
   * take it (tiny lines, a discount near the total) passes some on to the
   * next largest. Total room is sum - (amount - rest) >= rest, so this ends. */
  while (rest > 0) {
    int next = -1;
    for (int i = 0; i < n; i++) {
      if (prev >= 0 && !comes_after(weights, i, prev))
        continue;
      if (next < 0 || comes_after(weights, next, i))
        next = i;
    }
    assert(next >= 0);
    int64_t room = weights[next] - shares[next];
    int64_t give = rest < room ? rest : room;
    shares[next] += give;
    rest -= give;
    prev = next;
  }
}

const char *tg__money_format(int64_t v, int exponent, char *buf) {
  uint64_t a = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v, scale = 1;
  for (int i = 0; i < exponent; i++)
    scale *= 10;
  if (exponent == 0)
    snprintf(buf, TG_MONEY_BUF, "%s%llu", v < 0 ? "-" : "", (unsigned long long)a);
  else
    snprintf(buf, TG_MONEY_BUF, "%s%llu.%0*llu", v < 0 ? "-" : "",
             (unsigned long long)(a / scale), exponent, (unsigned long long)(a % scale));
  return buf;
}

const char *tg__qty_format(int64_t v, char *buf) {
  int64_t whole = v / 1000, frac = v % 1000;
  if (frac == 0)
    snprintf(buf, 32, "%lld", (long long)whole);
  else if (frac % 100 == 0)
    snprintf(buf, 32, "%lld.%01lld", (long long)whole, (long long)(frac / 100));
  else if (frac % 10 == 0)
    snprintf(buf, 32, "%lld.%02lld", (long long)whole, (long long)(frac / 10));
  else
    snprintf(buf, 32, "%lld.%03lld", (long long)whole, (long long)frac);
  return buf;
}
