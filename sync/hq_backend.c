/* Picks tillgroup-hq's storage back end from a --db spec, and frees what back ends return. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
