/* The nightly-pull suites' client: a served terminal, requests signed as HQ, answers checked. */
#ifndef TG_TEST_PULL_CLIENT_H
#define TG_TEST_PULL_CLIENT_H

#include <sodium.h>
#include <stdint.h>
#include <sys/types.h>

#include "helpers.h"
#include "sync.h"

#define PC_SALES 40 /* sales each fixture's terminal holds */

/* A terminal S1-T1 with PC_SALES sales, enrolled with a credential made by the test (which
 * holds HQ's signing key hq_sk), served on 127.0.0.1:port. */
typedef struct {
  char *dir;
  char path[4096];
  tg_terminal *t;
  tg__cred cred;
  unsigned char hq_pk[32], hq_sk[64];
  tg__pull_store *store;
  tg__pull_server *server;
  unsigned port;
} pc_fixture;

/* One answer as the client received it. */
typedef struct {
  long status;
  char *body;
  size_t n;
  char mac[128];
  char encoding[32];
  char type[64];
  char auth[TG__PULL_AUTH_MAX + 16]; /* the Authorization sent, "" none */
} pc_answer;

/* The digest and lines of records from..to, filled by pc_expect_line. */
typedef struct {
  crypto_generichash_state h;
  tg__buf lines;
  int64_t from, to, n;
} pc_expected;

extern const char *pc_tls_ca;    /* NULL: plain HTTP; else HTTPS trusting this CA file */
extern const char *pc_post_body; /* NULL: none; else sent as the request's body */

/* UTC milliseconds now, as HQ's signature carries them. */
int64_t pc_wall_ms(void);

/* Enrols f->t with a credential made here (so the test holds HQ's signing key). */
void pc_enrol_made(pc_fixture *f);

/* Opens f's store read-only and serves it on 127.0.0.1 (a free port, in f->port). */
void pc_serve(pc_fixture *f);

/* cmocka setup and teardown of a pc_fixture in *state. */
int pc_setup(void **state);
int pc_teardown(void **state);

/*
 * Sends method target to the server with Authorization auth (NULL: none) and
 * Accept-Encoding gzip when gzip. Fills *a (free a->body).
 */
void pc_send_raw(unsigned port, const char *method, const char *target, const char *auth, int gzip,
                 pc_answer *a);

/* Signs as HQ with sk for store-terminal at time_ms, then sends. */
void pc_send_signed_as(unsigned port, const unsigned char sk[64], const char *terminal,
                       int64_t time_ms, const char *method, const char *target, int gzip,
                       pc_answer *a);

/* A GET of target signed now with f's HQ key. */
void pc_send_signed(pc_fixture *f, const char *target, int gzip, pc_answer *a);

/* The answer's MAC verifies with the invite key HQ keeps for this terminal. */
void pc_assert_mac(const pc_fixture *f, const pc_answer *a);

/* A tg_record_fn adding records in ctx's (a pc_expected) from..to to its digest and lines. */
int pc_expect_line(void *ctx, int64_t seq, const char *json, size_t len);

/* What the uploader sends for from..to, read independently through the public export. */
void pc_expect_range(tg_terminal *t, int64_t from, int64_t to, char hex[65], tg__buf *lines);

/* Reads a manifest's fields; fails the test unless it has exactly the protocol's shape. */
void pc_read_manifest(const pc_answer *a, int64_t *epoch, int64_t *max_seq, int64_t *from,
                      int64_t *to, int64_t *count, char digest[65]);

/* Sends and checks the status and an {"error":...} body. */
void pc_expect_refusal(pc_fixture *f, const pc_answer *a, long status);

#endif
