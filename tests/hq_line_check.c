/* Checks HQ's one-pass line reader against jansson, the JSON reader it must agree with. */
#include "hq_line_check.h"

#include <jansson.h>
#include <string.h>

#include "hq.h"

static const char *const names[TG__HQ_MEMBERS] = {"store", "terminal", "epoch", "seq",
                                                  "kind",  "uuid",     "time_ms", "total"};

/* NULL when the reader's member m is what jansson holds in v (NULL: absent). */
static const char *member_differs(const tg__hq_member *m, const json_t *v) {
  if (v == NULL)
    return m->type == TG__HQ_ABSENT ? NULL : "a member jansson lacks was read";
  if (json_is_string(v)) {
    size_t len = json_string_length(v), kept = len < TG__HQ_TEXT_MAX ? len : TG__HQ_TEXT_MAX;
    if (m->type != TG__HQ_STRING || m->len != len)
      return "a string member has another type or length";
    if (memcmp(m->text, json_string_value(v), kept) != 0 || m->text[kept] != '\0')
      return "a string member has other bytes";
    return NULL;
  }
  if (json_is_integer(v))
    return m->type == TG__HQ_INTEGER && m->integer == json_integer_value(v)
               ? NULL
               : "an integer member has another type or value";
  return m->type == TG__HQ_OTHER ? NULL : "a member that is not a string or integer was read as one";
}

const char *tt_hq_line_disagreement(const char *z, size_t n) {
  tg__hq_member m[TG__HQ_MEMBERS];
  char why[TG__HQ_WHY_MAX];
  int rc = tg__hq_line_read(z, n, m, why, sizeof why);
  if (memchr(z, '\0', n) != NULL) /* jansson skips one after a number or a word */
    return rc == 0 ? "the reader accepted a NUL byte" : NULL;
  json_t *strict = json_loadb(z, n, JSON_REJECT_DUPLICATES, NULL);
  json_t *loose = strict != NULL ? json_incref(strict) : json_loadb(z, n, 0, NULL);
  const char *differs = NULL;
  if (!json_is_object(loose)) {
    if (rc == 0)
      differs = "the reader accepted what jansson refuses or is not an object";
  } else if (rc != 0) {
    if (strict != NULL)
      differs = "the reader refused an object jansson reads";
    else if (strstr(why, "appears twice") == NULL)
      differs = "the reader refused an object with duplicate keys for another reason";
  } else {
    for (int i = 0; i < TG__HQ_MEMBERS && differs == NULL; i++)
      differs = member_differs(&m[i], json_object_get(loose, names[i]));
  }
  json_decref(strict);
  json_decref(loose);
  return differs;
}
