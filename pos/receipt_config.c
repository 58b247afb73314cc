/* Receipt and printer settings: embedded defaults, and the [printer] and [receipt] sections of tillgroup.ini. */
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pos.h"

void tg__receipt_config_default(tg__receipt_config *c, int paper_mm) {
  memset(c, 0, sizeof *c);
  tg__profile_default(&c->printer, paper_mm);
  c->invite = 1;
}

typedef struct {
  tg__receipt_config *c;
  int paper_set, dots_set, columns_set;
  char why[192];
} reader;

static int yes_no(const char *v, int *out) {
  if (strcmp(v, "yes") == 0 || strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
    return *out = 1, 0;
  if (strcmp(v, "no") == 0 || strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
    return *out = 0, 0;
  return -1;
}

static int number(const char *v, int lo, int hi, int *out) {
  int64_t n = tg__parse_int(v, hi);
  if (n < lo)
    return -1;
  *out = (int)n;
  return 0;
}

/* A text setting: UTF-8 without control characters, at most TG_MAX_NAME bytes. */
static int text(const char *v, char *out) {
  size_t n = strlen(v);
  if (n > TG_MAX_NAME || !tg__utf8_valid(v, n))
    return -1;
  memcpy(out, v, n + 1);
  return 0;
}

static int lines(const char *v, char (*out)[TG_MAX_NAME + 1], int *n) {
  if (*n == TG_RECEIPT_LINES || text(v, out[*n]) != 0)
    return -1;
  (*n)++;
  return 0;
}

/* Applies one key; on a bad value says which values are allowed. */
static int apply(reader *r, const char *section, const char *key, const char *v) {
  tg__receipt_config *c = r->c;
  tg__profile *p = &c->printer;
  const char *hint = NULL;
  int n;
#define KEY(s, k) (strcmp(section, s) == 0 && strcmp(key, k) == 0)
  if (KEY("printer", "paper")) {
    if (number(v, 58, 80, &n) != 0 || (n != 58 && n != 80))
      hint = "58 or 80";
    else
      r->paper_set = n;
  } else if (KEY("printer", "dots")) {
    if (number(v, 192, 832, &p->dots) != 0)
      hint = "printable dots across the paper, 192 to 832";
    r->dots_set = 1;
  } else if (KEY("printer", "columns")) {
    if (number(v, 16, 69, &p->columns) != 0)
      hint = "Font A characters per line, 16 to dots / 12";
    r->columns_set = 1;
  } else if (KEY("printer", "encoding")) {
    int esc_t;
    const char *iconv_name;
    if (strlen(v) >= sizeof p->encoding || tg__encoding_lookup(v, &esc_t, &iconv_name) != 0)
      hint = TG__ENCODINGS;
    else
      memcpy(p->encoding, v, strlen(v) + 1);
  } else if (KEY("printer", "qr")) {
    if (strcmp(v, "native") == 0)
      p->qr = TG__QR_NATIVE;
    else if (strcmp(v, "raster") == 0)
      p->qr = TG__QR_RASTER;
    else
      hint = "native (GS ( k) or raster (GS v 0)";
  } else if (KEY("printer", "qr_module")) {
    if (number(v, 1, 16, &p->qr_module) != 0)
      hint = "dots per QR module, 1 to 16";
  } else if (KEY("printer", "qr_ecc")) {
    if (strlen(v) != 1 || strchr("LMQH", v[0]) == NULL)
      hint = "L, M, Q or H";
    else
      p->qr_ecc = v[0];
  } else if (KEY("printer", "cut")) {
    if (strcmp(v, "partial") == 0)
      p->cut = TG__CUT_PARTIAL;
    else if (strcmp(v, "full") == 0)
      p->cut = TG__CUT_FULL;
    else if (strcmp(v, "none") == 0)
      p->cut = TG__CUT_NONE;
    else
      hint = "partial, full or none";
  } else if (KEY("printer", "barcode")) {
    if (yes_no(v, &p->barcode) != 0)
      hint = "yes or no";
  } else if (KEY("receipt", "header")) {
    if (lines(v, c->header, &c->n_header) != 0)
      hint = "at most 8 lines of UTF-8 text, 256 bytes each";
  } else if (KEY("receipt", "footer")) {
    if (lines(v, c->footer, &c->n_footer) != 0)
      hint = "at most 8 lines of UTF-8 text, 256 bytes each";
  } else if (KEY("receipt", "lang")) {
    if (strcmp(v, "zh") != 0 && strcmp(v, "en") != 0)
      hint = "zh or en";
    else
      memcpy(c->lang, v, 3);
  } else if (KEY("receipt", "invite")) {
    if (yes_no(v, &c->invite) != 0)
      hint = "yes or no";
  } else if (KEY("receipt", "invite_caption")) {
    if (text(v, c->invite_caption) != 0)
      hint = "UTF-8 text of at most 256 bytes";
  } else if (strcmp(section, "printer") == 0 || strcmp(section, "receipt") == 0) {
    snprintf(r->why, sizeof r->why, "[%s] %s: unknown key", section, key);
    return -1;
  } else {
    return 0; /* other sections belong to other parts of tillgroup */
  }
#undef KEY
  if (hint == NULL)
    return 0;
  snprintf(r->why, sizeof r->why, "[%s] %s = %.40s: use %s", section, key, v, hint);
  tg__utf8_clean(r->why);
  return -1;
}

static int on_key(void *user, const char *section, const char *key, const char *value) {
  reader *r = user;
  if (r->why[0] != '\0')
    return 1; /* inih goes on after an error: the first one is the one to tell */
  return apply(r, section, key, value) == 0;
}

/* Debian's libinih reads lines of fewer than 200 bytes and would split longer
 * ones silently; such a line is refused here with its number instead (the
 * message says 198). */
#define INI_LINE_MAX 198
#define INI_FILE_MAX (64 << 10)

/* Reads the file at path into *out (free with free()), or says why not:
 * TG_ENOENT, TG_ENOMEM, or TG_EINVAL (unreadable, over 64 KiB, a NUL byte, a
 * line too long). */
static int read_ini(const char *path, char **out, char *why, size_t why_len) {
  size_t n, line = 1, col = 0;
  const char *bad = NULL;
  int rc = tg__file_read(path, INI_FILE_MAX, out, &n, why, why_len);
  if (rc != 0)
    return rc == TG_ENOENT || rc == TG_ENOMEM ? rc : TG_EINVAL;
  for (size_t i = 0; i < n && bad == NULL; i++, col++) {
    if ((*out)[i] == '\0')
      bad = "a NUL byte";
    else if ((*out)[i] == '\n')
      line++, col = (size_t)-1;
    else if (col >= INI_LINE_MAX)
      bad = "longer than 198 bytes";
  }
  if (bad == NULL)
    return 0;
  snprintf(why, why_len, "%s line %zu: %s", path, line, bad);
  free(*out);
  *out = NULL;
  return TG_EINVAL;
}

int tg__receipt_config_load(const char *path, tg__receipt_config *c, char *why, size_t why_len) {
  reader r = {.c = c};
  char *text;
  int line = read_ini(path, &text, why, why_len);
  tg__receipt_config_default(c, 58);
  if (line != 0)
    return line;
  line = ini_parse_string(text, on_key, &r);
  free(text);
  if (line == 0 && r.paper_set) { /* paper sets dots and columns unless they are given */
    tg__profile paper;
    tg__profile_default(&paper, r.paper_set);
    if (!r.dots_set)
      c->printer.dots = paper.dots;
    if (!r.columns_set)
      c->printer.columns = c->printer.dots / 12;
  } else if (line == 0 && r.dots_set && !r.columns_set) {
    c->printer.columns = c->printer.dots / 12;
  }
  if (line == 0 && tg__profile_check(&c->printer, r.why, sizeof r.why) != 0)
    line = -2;
  if (line == 0)
    return 0;
  if (line > 0)
    snprintf(why, why_len, "%s line %d: %s", path, line, r.why[0] ? r.why : "not KEY = VALUE");
  else
    snprintf(why, why_len, "%s: %s", path, line == -1 ? "cannot read" : r.why);
  tg__receipt_config_default(c, 58);
  return TG_EINVAL;
}
