/* The clock and percentiles every benchmark measures with. */
#include <stdlib.h>
#include <time.h>

#include "pos.h"

double tg__bench_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

void tg__bench_sort(double *v, int n) { qsort(v, (size_t)n, sizeof *v, cmp_double); }

double tg__bench_percentile(const double *sorted, int n, int pct) {
  int rank = (n * pct + 99) / 100;
  return n == 0 ? 0 : sorted[rank > 0 ? rank - 1 : 0];
}
