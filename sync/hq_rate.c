/* A token bucket per client address, in a bounded table: the join page's rate limit. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "hq.h"

#define PROBE 8 /* slots looked at per address; the least recently seen of them is reused */
#define TOKEN 60000LL /* units of one token: a minute's milliseconds */
#define ELAPSED_MAX (100LL * 86400000) /* ms of refill counted: with at most 10^6 a minute, a full bucket */

typedef struct {
  char key[TG__HQ_RATE_KEY_MAX + 1];
  int64_t units;   /* tokens held, in 1/60000 of a token: per_minute units refill each ms, exactly */
  int64_t last_ms;
} slot;

struct tg__hq_rate {
  pthread_mutex_t mu;
  int64_t per_minute, burst;
  size_t n;
  slot slots[];
};

tg__hq_rate *tg__hq_rate_new(int per_minute, int burst, size_t slots) {
  if (per_minute < 1 || burst < 1 || slots < PROBE || slots > (1u << 24))
    return NULL;
  tg__hq_rate *r = calloc(1, sizeof *r + slots * sizeof(slot));
  if (r == NULL)
    return NULL;
  pthread_mutex_init(&r->mu, NULL);
  r->per_minute = per_minute;
  r->burst = burst;
  r->n = slots;
  return r;
}

void tg__hq_rate_free(tg__hq_rate *r) {
  if (r == NULL)
    return;
  pthread_mutex_destroy(&r->mu);
  free(r);
}

int tg__hq_rate_allow(tg__hq_rate *r, const char *client, int64_t now_ms) {
  uint64_t h = 1469598103934665603ULL; /* FNV-1a */
  size_t n = strnlen(client, TG__HQ_RATE_KEY_MAX);
  for (size_t i = 0; i < n; i++)
    h = (h ^ (unsigned char)client[i]) * 1099511628211ULL;
  pthread_mutex_lock(&r->mu);
  slot *s = NULL, *oldest = NULL;
  for (size_t i = 0; i < PROBE && s == NULL; i++) {
    slot *c = &r->slots[(h + i) % r->n];
    if (c->key[0] != '\0' && strncmp(c->key, client, n) == 0 && c->key[n] == '\0')
      s = c;
    else if (oldest == NULL || c->last_ms < oldest->last_ms)
      oldest = c;
  }
  if (s == NULL) { /* a new address takes an empty or the stalest slot, with a full bucket */
    s = oldest;
    memcpy(s->key, client, n);
    s->key[n] = '\0';
    s->units = r->burst * TOKEN;
    s->last_ms = now_ms;
  }
  int64_t elapsed = now_ms > s->last_ms ? now_ms - s->last_ms : 0;
  if (elapsed > ELAPSED_MAX)
    elapsed = ELAPSED_MAX; /* the product below stays far inside int64 */
  s->units += elapsed * r->per_minute;
  if (s->units > r->burst * TOKEN)
    s->units = r->burst * TOKEN;
  s->last_ms = now_ms;
  int ok = s->units >= TOKEN;
  if (ok)
    s->units -= TOKEN;
  pthread_mutex_unlock(&r->mu);
  return ok;
}
