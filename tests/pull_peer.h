/*
 * A terminal's pull endpoint for tests (docs/sync-protocol.md, "Nightly
 * pull"), on 127.0.0.1: answers HQ's signed GET /v1/manifest and
 * /v1/records from a snapshot of a real terminal's records, MACs its
 * answers, and can be told to misbehave. Stands in for `tillgroup serve-sync`.
 */
#ifndef TG_TEST_PULL_PEER_H
#define TG_TEST_PULL_PEER_H

#include <stdint.h>

#include "tillgroup.h"

typedef struct pp_peer pp_peer;

typedef enum {
  PP_OK = 0,
  PP_DROP,        /* closes every connection without an answer */
  PP_STALL,       /* waits 3 s before each answer */
  PP_WRONG_MAC,   /* MACs with another key */
  PP_ALTER,       /* serves record seq (pp_misbehave's) with one byte changed */
  PP_OTHER_EPOCH, /* says its epoch is one more than the records' */
  PP_TRUNCATE,    /* serves only seqs 1..seq, as a terminal restored from a backup would */
} pp_mode;

/*
 * Serves t's records as they are now (copied) as store-terminal of epoch,
 * accepting HQ's signatures under hq_pk and MACing with invite_key. NULL when
 * it cannot start. Stop with pp_stop().
 */
pp_peer *pp_start(tg_terminal *t, const char *store, const char *terminal, int64_t epoch,
                  const unsigned char hq_pk[32], const unsigned char invite_key[32]);
int pp_port(const pp_peer *p);
void pp_misbehave(pp_peer *p, pp_mode mode, int64_t seq);
/* Requests answered so far: all, and those for /v1/records. */
int pp_requests(const pp_peer *p);
int pp_record_requests(const pp_peer *p);
void pp_stop(pp_peer *p);

#endif
