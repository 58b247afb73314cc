/* Checks HQ's one-pass line reader against jansson, the JSON reader it must agree with. */
#ifndef TG_TESTS_HQ_LINE_CHECK_H
#define TG_TESTS_HQ_LINE_CHECK_H

#include <stddef.h>

/*
 * Reads z[0..n) with tg__hq_line_read() and with jansson's json_loadb() and
 * returns NULL when they agree, else a static sentence saying how they
 * differ. They agree when: jansson reads an object without duplicate keys,
 * and the reader accepts it with each member's type and value as jansson has
 * it; jansson refuses the text or reads something other than an object, and
 * the reader refuses it too; jansson reads an object only when duplicate keys
 * are allowed, and the reader either accepts it (with the values jansson
 * kept) or refuses it for one of its own members appearing twice. A text
 * with a NUL byte must be refused: RFC 8259 has no place for one, while
 * jansson 2.14 skips a NUL that follows a number or a word.
 */
const char *tt_hq_line_disagreement(const char *z, size_t n);

#endif
