/* libFuzzer target: HQ's acknowledgement of an upload; the first two bytes pick the batch. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sync.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  tg__sync_ack ack;
  char why[256];
  if (size < 2)
    return 0;
  int64_t from = 1 + data[0] % 16, to = from + data[1] % 16;
  if (tg__sync_ack_parse((const char *)data + 2, size - 2, from, to, &ack, why, sizeof why) != 0) {
    if (why[0] == '\0' || ack.rejected != NULL || ack.n_rejected != 0 || ack.n_missing != 0)
      abort(); /* a refusal says why and leaves nothing to free */
    return 0;
  }
  /* what the parser accepts, the caller may trust without checking again */
  if (ack.acked_through < 0 || ack.acked_through > (INT64_C(1) << 53) || ack.n_rejected < 0 ||
      ack.n_rejected > to - from + 1 || ack.n_missing < 0 || ack.n_missing > TG__SYNC_MISSING_MAX)
    abort();
  for (int i = 0; i < ack.n_rejected; i++) {
    const tg__sync_rejected *r = &ack.rejected[i];
    if (r->seq < from || r->seq > to || r->seq > ack.acked_through ||
        (i > 0 && r->seq <= r[-1].seq) ||
        (strcmp(r->status, "invalid") != 0 && strcmp(r->status, "conflict") != 0) ||
        strnlen(r->reason, sizeof r->reason) >= sizeof r->reason)
      abort();
    for (const unsigned char *p = (const unsigned char *)r->reason; *p; p++)
      if (*p < 0x20 || *p == 0x7f)
        abort();
  }
  for (int i = 0; i < ack.n_missing; i++)
    if (ack.missing[i][0] <= (i ? ack.missing[i - 1][1] : ack.acked_through) ||
        ack.missing[i][0] > ack.missing[i][1])
      abort();
  tg__sync_ack_free(&ack);
  return 0;
}
