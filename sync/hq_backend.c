/* Picks tillgroup-hq's storage back end from a --db spec; what both back ends share. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hq.h"

const tg__hq_backend *tg__hq_backend_for(const char *spec, char *why, size_t cap) {
  if (spec != NULL && strncmp(spec, "sqlite:", 7) == 0 && spec[7] != '\0')
    return &tg__hq_sqlite;
  if (spec != NULL &&
      (strncmp(spec, "postgresql://", 13) == 0 || strncmp(spec, "postgres://", 11) == 0))
    return &tg__hq_postgres;
  if (why != NULL && cap > 0)
    snprintf(why, cap,
             "the database is sqlite:PATH or postgresql://USER@HOST/NAME "
             "(a libpq URI), not this");
  return NULL;
}

void tg__hq_ack_free(tg__hq_ack *ack) {
  if (ack == NULL)
    return;
  free(ack->rejected);
  ack->rejected = NULL;
  ack->n_rejected = 0;
}

int64_t tg__hq_mark_walk(int64_t base, int64_t runs[][2], int n, tg__hq_ack *ack) {
  int i = 0;
  if (n > 0 && runs[0][0] == base + 1)
    base = runs[i++][1];
  for (int64_t prev = base; i < n && ack->n_missing < TG__SYNC_MISSING_MAX; i++) {
    ack->missing[ack->n_missing][0] = prev + 1;
    ack->missing[ack->n_missing][1] = runs[i][0] - 1;
    ack->n_missing++;
    prev = runs[i][1];
  }
  return base;
}

void tg__hq_rejected_set(tg__sync_rejected *r, int64_t seq, const char *status,
                         const char *reason) {
  r->seq = seq;
  snprintf(r->status, sizeof r->status, "%s", status);
  snprintf(r->reason, sizeof r->reason, "%s", reason);
}

int64_t tg__hq_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
