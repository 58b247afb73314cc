/* tillgroup receipt: a committed receipt (or a reference receipt in JSON) as ESC/POS, text or PNG. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pos.h"

#define JSON_MAX (4 << 20) /* a reference receipt of 500 long lines is well under this */

static const char receipt_help[] =
    "usage: tillgroup [--db PATH] receipt RECEIPT [--format escpos|text|png] [-o FILE]\n"
    "                 [--paper 58|80] [--config FILE] [--invite URL] [--copy]\n"
    "       tillgroup receipt --json FILE [--format ...] [-o FILE] [--paper 58|80]\n"
    "Renders committed receipt RECEIPT for the printer: escpos is the exact bytes\n"
    "for the printer, text the same layout as UTF-8 (the default), png a preview at\n"
    "printer resolution. --config reads [printer] and [receipt] from an INI file\n"
    "(else $TILLGROUP_CONFIG, else the embedded defaults: 58 mm, GB18030, native QR);\n"
    "--paper overrides its paper. --invite prints an invite QR of URL, --copy marks\n"
    "a reprint. --json renders a reference receipt (../shared/bench format) instead.\n"
    "Binary output is not written to a terminal: give -o FILE or redirect.\n";

/* Renders in the named format; TG_EINVAL for an unknown one. */
static int render(const char *format, const tg__doc *doc, const tg__profile *p, tg__buf *out) {
  if (strcmp(format, "escpos") == 0)
    return tg__render_escpos(doc, p, out);
  if (strcmp(format, "text") == 0)
    return tg__render_text(doc, p, out);
  return tg__render_png(doc, p, out);
}

static int write_out(const char *path, const tg__buf *b) {
  FILE *f = path != NULL ? fopen(path, "wb") : stdout;
  int ok;
  if (f == NULL)
    return tg__cli_error("receipt", TG_ECANTOPEN, strerror(errno));
  ok = fwrite(b->p, 1, b->n, f) == b->n;
  ok = (path != NULL ? fclose(f) : fflush(f)) == 0 && ok;
  return ok ? TG_EXIT_OK : tg__cli_error("receipt", TG_EIO, "could not write the output");
}

/* The document of a committed receipt, with the terminal's settings. */
static int ledger_doc(const char *db, const char *number, const tg__receipt_config *c,
                      const char *invite, int copy, tg__receipt_doc **doc) {
  tg_terminal *t;
  int code = tg__cli_open("receipt", db, &t), rc;
  if (code != 0)
    return code;
  if ((rc = tg__receipt_doc_load(t, number, c, invite, copy, doc)) != 0)
    code = tg__cli_error("receipt", rc, tg_last_detail(t));
  tg_terminal_close(t);
  return code;
}

int tg__cmd_receipt(int argc, char **argv, const char *db) {
  static const struct option opts[] = {
      {"format", required_argument, NULL, 'f'}, {"paper", required_argument, NULL, 'p'},
      {"config", required_argument, NULL, 'c'}, {"invite", required_argument, NULL, 'i'},
      {"copy", no_argument, NULL, 'C'},         {"json", required_argument, NULL, 'j'},
      {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
  const char *format = "text", *out = NULL, *config = getenv("TILLGROUP_CONFIG"), *invite = NULL,
             *json = NULL;
  int paper = 0, copy = 0, o, code, rc;
  tg__receipt_config c;
  tg__receipt_doc *doc = NULL;
  tg__buf buf = {0};
  char why[256];
  while ((o = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
    switch (o) {
    case 'f': format = optarg; break;
    case 'o': out = optarg; break;
    case 'p': paper = (int)tg__parse_int(optarg, 80); break;
    case 'c': config = optarg; break;
    case 'i': invite = optarg; break;
    case 'C': copy = 1; break;
    case 'j': json = optarg; break;
    case 'h': return fputs(receipt_help, stdout), TG_EXIT_OK;
    default: return tg__cli_usage("receipt", "unknown option %s", argv[optind - 1]);
    }
  }
  if (strcmp(format, "escpos") != 0 && strcmp(format, "text") != 0 && strcmp(format, "png") != 0)
    return tg__cli_usage("receipt", "--format is escpos, text or png");
  if (paper != 0 && paper != 58 && paper != 80)
    return tg__cli_usage("receipt", "--paper is 58 or 80");
  if (json != NULL ? optind != argc : optind + 1 != argc)
    return tg__cli_usage("receipt", "give one receipt number, or --json FILE");
  if (out == NULL && strcmp(format, "text") != 0 && isatty(STDOUT_FILENO))
    return tg__cli_usage("receipt", "%s output is binary: give -o FILE or redirect", format);
  if (invite != NULL && !tg__symbol_text(invite, strlen(invite), TG__QR_TEXT_MAX))
    return tg__cli_usage("receipt", "--invite takes a URL of printable ASCII, at most %d bytes",
                         TG__QR_TEXT_MAX);
  if (config != NULL && config[0] != '\0') {
    if ((rc = tg__receipt_config_load(config, &c, why, sizeof why)) != 0)
      return tg__cli_error("receipt", rc, why);
  } else {
    tg__receipt_config_default(&c, 58);
  }
  if (json != NULL) {
    size_t n;
    char *text;
    if ((rc = tg__file_read(json, JSON_MAX, &text, &n, why, sizeof why)) != 0)
      return tg__cli_error("receipt", rc, why);
    rc = tg__receipt_doc_from_json(text, n, &doc, &c.printer, why, sizeof why);
    free(text);
    if (rc != 0)
      return tg__cli_error("receipt", rc, why);
  } else if ((code = ledger_doc(db, argv[optind], &c, invite, copy, &doc)) != 0) {
    return code;
  }
  if (paper != 0) { /* the paper's width in dots and columns */
    tg__profile sized;
    tg__profile_default(&sized, paper);
    c.printer.dots = sized.dots;
    c.printer.columns = sized.columns;
  }
  rc = render(format, tg__receipt_doc_get(doc), &c.printer, &buf);
  if (rc != 0)
    code = tg__cli_error("receipt", rc, rc == TG_EINVAL ? "a QR payload or the printer's "
                                                          "encoding cannot be printed"
                                                        : NULL);
  else
    code = write_out(out, &buf);
  tg__buf_free(&buf);
  tg__receipt_doc_free(doc);
  return code;
}
