/* tillgroup-hq's command-line plumbing shared by its commands: options, exit codes, files. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hq.h"

#define HELP_OPTION                                                                                \
  { "help", no_argument, NULL, 'h' }
#define DB_OPTION                                                                                  \
  { "db", required_argument, NULL, 'd' }

int tg__hq_help(const char *text) {
  fputs(text, stdout);
  return TG__HQ_EXIT_DONE;
}

int tg__hq_usage(const char *cmd, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "tillgroup-hq %s: ", cmd);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, " (see 'tillgroup-hq %s --help')\n", cmd);
  return TG__HQ_EXIT_USAGE;
}

/* Prints why for a failed tg__hq_rc and returns the exit code it means. */
int tg__hq_refused(const char *cmd, int rc, const char *why) {
  fprintf(stderr, "tillgroup-hq %s: %s\n", cmd, why[0] ? why : "failed");
  return rc == TG__HQ_DB || rc == TG__HQ_NOMEM ? TG__HQ_EXIT_STORAGE : TG__HQ_EXIT_REFUSED;
}

/* Opens the database spec names; 0, or the exit code after saying why. */
int tg__hq_open_db(const char *cmd, const char *spec, const tg__hq_backend **be, tg__hq_db **db) {
  char why[TG__HQ_WHY_MAX] = "";
  if ((*be = tg__hq_backend_for(spec, why, sizeof why)) == NULL)
    return tg__hq_usage(cmd, "--db: %s", why);
  if ((*be)->open(spec, db, why, sizeof why) != TG__HQ_OK) {
    fprintf(stderr, "tillgroup-hq %s: %s\n", cmd, why[0] ? why : "cannot open the database");
    return TG__HQ_EXIT_STORAGE;
  }
  return 0;
}

int tg__hq_valid_id(const char *z) {
  size_t n = 0;
  for (; (z[n] >= 'A' && z[n] <= 'Z') || (z[n] >= '0' && z[n] <= '9'); n++)
    if (n == TG__SYNC_ID_MAX)
      return 0;
  return n > 0 && z[n] == '\0';
}

/* A decimal number 0..max, or -1. */
int64_t tg__hq_parse_int(const char *z, int64_t max) {
  int64_t v = 0;
  if (*z == '\0')
    return -1;
  for (; *z >= '0' && *z <= '9'; z++)
    if ((v = v * 10 + (*z - '0')) > max)
      return -1;
  return *z == '\0' ? v : -1;
}

int tg__hq_read_options(int argc, char **argv, const char *cmd, const char *help_text,
                        const struct option *extra, const char **db, tg__hq_opt_fn on_opt, void *ctx) {
  struct option opts[12];
  int n = 0, o, rc;
  for (; extra != NULL && extra[n].name != NULL && n < 9; n++)
    opts[n] = extra[n];
  opts[n++] = (struct option)DB_OPTION;
  opts[n++] = (struct option)HELP_OPTION;
  opts[n] = (struct option){NULL, 0, NULL, 0};
  while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    if (o == 'h')
      return tg__hq_help(help_text);
    if (o == 'd')
      *db = optarg;
    else if (o == '?' || on_opt == NULL)
      return tg__hq_usage(cmd, "unknown option %s", argv[optind - 1]);
    else if ((rc = on_opt(ctx, o, optarg)) >= 0)
      return rc;
  }
  return -1;
}

/* Reads all of path (at most max bytes) into a NUL-terminated buffer; NULL with why. */
char *tg__hq_read_file(const char *path, size_t max, size_t *n, char *why, size_t cap) {
  FILE *f = fopen(path, "rb");
  char *buf = NULL;
  size_t size = 0, got;
  *n = 0;
  if (f == NULL) {
    snprintf(why, cap, "cannot open %s: %s", path, strerror(errno));
    return NULL;
  }
  for (;;) {
    if (*n == size) {
      size_t grow = size ? size * 2 : 64 * 1024;
      grow = grow > max + 1 ? max + 1 : grow; /* one byte past max tells it is too big */
      char *p = realloc(buf, grow + 1);
      if (p == NULL) {
        snprintf(why, cap, "out of memory reading %s", path);
        goto fail;
      }
      buf = p;
      size = grow;
    }
    if ((got = fread(buf + *n, 1, size - *n, f)) == 0)
      break;
    if ((*n += got) > max) {
      snprintf(why, cap, "%s is larger than %zu MiB", path, max >> 20);
      goto fail;
    }
  }
  if (ferror(f)) {
    snprintf(why, cap, "cannot read %s", path);
    goto fail;
  }
  fclose(f);
  buf[*n] = '\0';
  return buf;
fail:
  fclose(f);
  free(buf);
  return NULL;
}

