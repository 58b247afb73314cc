/* When to try HQ again: capped exponential backoff with full jitter, and never before Retry-After.
 */
#include <assert.h>

#include "sync.h"

#define BACKOFF_BASE_MS 500
#define BACKOFF_CAP_MS 60000
#define RETRY_AFTER_CAP_MS 3600000 /* HQ cannot park a terminal for more than an hour */

int64_t tg__sync_backoff_ms(int attempt, int64_t retry_after_ms, uint32_t random) {
  int64_t ceiling = BACKOFF_BASE_MS, wait;
  assert(attempt >= 1);
  for (int i = 1; i < attempt && ceiling < BACKOFF_CAP_MS; i++)
    ceiling *= 2;
  if (ceiling > BACKOFF_CAP_MS)
    ceiling = BACKOFF_CAP_MS;
  /* uniform over 0..ceiling: random scaled by (ceiling + 1) / 2^32 */
  wait = (int64_t)(((uint64_t)random * (uint64_t)(ceiling + 1)) >> 32);
  if (retry_after_ms > RETRY_AFTER_CAP_MS)
    retry_after_ms = RETRY_AFTER_CAP_MS;
  return wait > retry_after_ms ? wait : retry_after_ms;
}
