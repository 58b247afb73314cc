/* libFuzzer target: the nightly-pull request decision and the Accept-Encoding reader.
 * The first byte picks the method; the rest up to a NUL is the target, what follows it the
 * Accept-Encoding value. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sync.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Whether the decision's reason is one printable line. */
static int printable(const char *z) {
  for (; *z; z++)
    if ((unsigned char)*z < 0x20 || *z == 0x7f)
      return 0;
  return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char *const methods[] = {"GET", "HEAD", "POST", "get", "PUT", ""};
  tg__pull_request r;
  if (size < 1)
    return 0;
  char *text = malloc(size);
  if (text == NULL)
    return 0;
  memcpy(text, data + 1, size - 1);
  text[size - 1] = '\0';
  const char *target = text;
  size_t n_target = strlen(target);
  const char *accept = n_target + 1 < size ? text + n_target + 1 : NULL;
  const char *method = methods[data[0] % (sizeof methods / sizeof methods[0])];
  tg__pull_request_decide(method, target, &r);
  if (r.status == 0) {
    /* what is let through: a GET or HEAD of one of the two paths, within bounds */
    if ((strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) ||
        n_target > TG__PULL_TARGET_MAX ||
        (r.route != TG__PULL_MANIFEST && r.route != TG__PULL_RECORDS))
      abort();
    if (r.route == TG__PULL_RECORDS && !r.has_range)
      abort();
    if (r.has_range && (r.from < 1 || r.to < r.from || r.to > TG__PULL_SEQ_MAX))
      abort();
    if (r.route == TG__PULL_RECORDS && r.to - r.from + 1 > TG__SYNC_BATCH_RECORDS)
      abort();
    if (strncmp(target, r.route == TG__PULL_MANIFEST ? "/v1/manifest" : "/v1/records",
                r.route == TG__PULL_MANIFEST ? 12 : 11) != 0)
      abort();
  } else if ((r.status != 400 && r.status != 404 && r.status != 405 && r.status != 414 &&
              r.status != 422) ||
             r.why[0] == '\0' || !printable(r.why)) {
    abort();
  }
  int gzip = tg__pull_accepts_gzip(accept);
  if (gzip != 0 && gzip != 1)
    abort();
  free(text);
  return 0;
}
