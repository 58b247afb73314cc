/* libFuzzer target: HQ's reading of an upload, its Idempotency-Key and its JSON lines. */
#include <stdlib.h>
#include <string.h>

#include "hq.h"

#define KEY_TEXT_MAX 256

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Checks what a parsed batch promises; aborts when it does not hold. */
static void check_batch(const tg__hq_batch *b, const tg__hq_key *key) {
  if (b->n != key->to - key->from + 1 || b->records == NULL || b->text == NULL)
    abort();
  for (int i = 0; i < b->n; i++) {
    const tg__hq_record *r = &b->records[i];
    if (r->seq != key->from + i || r->body < b->text || r->body + r->len >= b->text + b->n_text ||
        r->body[r->len] != '\n' || memchr(r->body, '\n', r->len) != NULL)
      abort();
    if (r->reject_status != NULL &&
        (strcmp(r->reject_status, "invalid") != 0 || r->reason[0] == '\0' || r->kind[0] != '\0'))
      abort();
    if (r->reject_status == NULL && (r->kind[0] == '\0' || r->time_ms < 0))
      abort();
    if (memchr(r->uuid, '\0', sizeof r->uuid) == NULL ||
        memchr(r->kind, '\0', sizeof r->kind) == NULL)
      abort();
  }
}

/*
 * Byte 0 picks the key: with its top bit set, the key is the text up to the
 * first '\n' (the Idempotency-Key parser's own input); otherwise it is
 * S1-T1:1:FROM-TO with FROM 1 + byte 1 % 8 and 1 + byte 0 % 16 records. The
 * rest is the decompressed body.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char text[KEY_TEXT_MAX + 1], why[TG__HQ_WHY_MAX];
  tg__hq_key key;
  tg__hq_batch b;
  size_t at;
  if (size < 2)
    return 0;
  if (data[0] & 0x80) {
    const uint8_t *nl = memchr(data + 1, '\n', size - 1);
    size_t n = nl != NULL ? (size_t)(nl - data - 1) : size - 1;
    if (n > KEY_TEXT_MAX)
      n = KEY_TEXT_MAX;
    memcpy(text, data + 1, n);
    text[n] = '\0';
    int rc = tg__hq_key_parse(text, &key, why, sizeof why);
    if (rc != TG__HQ_OK && rc != TG__HQ_BAD && rc != TG__HQ_RANGE)
      abort();
    if (rc == TG__HQ_OK && (key.from < 1 || key.to < key.from ||
                            key.to - key.from >= TG__SYNC_BATCH_RECORDS || key.epoch < 1))
      abort();
    if (rc != TG__HQ_OK)
      return 0;
    at = nl != NULL ? (size_t)(nl - data) + 1 : size;
  } else {
    memset(&key, 0, sizeof key);
    memcpy(key.store, "S1", 3);
    memcpy(key.terminal, "T1", 3);
    key.epoch = 1;
    key.from = 1 + data[1] % 8;
    key.to = key.from + data[0] % 16;
    at = 2;
  }
  char *body = malloc(size - at + 1);
  if (body == NULL)
    return 0;
  memcpy(body, data + at, size - at);
  int rc = tg__hq_batch_parse(body, size - at, &key, &b, why, sizeof why);
  if (rc == TG__HQ_OK)
    check_batch(&b, &key);
  else if (b.text != NULL || b.records != NULL || why[0] == '\0')
    abort();
  tg__hq_batch_free(&b);
  return 0;
}
