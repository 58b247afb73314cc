/* `tillgroup-hq nightly`: pulls every terminal, writes the JSON and HTML report, exits 4 for an operator. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hq.h"

static const char nightly_help[] =
    "usage: tillgroup-hq nightly [--db SPEC] [--date YYYY-MM-DD] [--json FILE] [--html FILE]\n"
    "                            [--tz ZONE] [--timeout SECONDS]\n"
    "Pulls each enabled terminal's manifest from its pull URL ('tillgroup-hq terminal\n"
    "pull-url'), compares it with the records HQ holds, fetches missing records and\n"
    "stores them as an upload would be, names records that differ (HQ keeps its own),\n"
    "and keeps each terminal's result under the date (default: yesterday in ZONE,\n"
    "default Asia/Shanghai). Writes a JSON report and a self-contained HTML page when\n"
    "asked, and a summary on stdout. --timeout bounds each terminal (default 60 s).\n"
    "Exit codes: 0 all well, 4 something needs an operator (a terminal unreachable,\n"
    "refused, disagreeing or still missing records), 1 a report file could not be\n"
    "written, 2 usage, 3 storage.\n";

typedef struct {
  const char *date, *json, *html, *tz;
  int64_t timeout_s;
} nightly_opts;

static int nightly_opt(void *ctx, int o, const char *arg) {
  nightly_opts *n = ctx;
  switch (o) {
  case 'D': n->date = arg; break;
  case 'j': n->json = arg; break;
  case 'H': n->html = arg; break;
  case 'z': n->tz = arg; break;
  case 't':
    if ((n->timeout_s = tg__hq_parse_int(arg, 3600)) < 1)
      return tg__hq_usage("nightly", "--timeout takes 1 to 3600 seconds");
    break;
  }
  return -1;
}

/* 1 when z is YYYY-MM-DD of a real day. */
static int valid_date(const char *z) {
  struct tm tm;
  memset(&tm, 0, sizeof tm);
  if (strlen(z) != 10 || z[4] != '-' || z[7] != '-')
    return 0;
  for (int i = 0; i < 10; i++)
    if (i != 4 && i != 7 && !isdigit((unsigned char)z[i]))
      return 0;
  tm.tm_year = (int)strtol(z, NULL, 10) - 1900;
  tm.tm_mon = (int)strtol(z + 5, NULL, 10) - 1;
  tm.tm_mday = (int)strtol(z + 8, NULL, 10);
  struct tm check = tm;
  if (timegm(&check) == (time_t)-1 || check.tm_mday != tm.tm_mday || check.tm_mon != tm.tm_mon)
    return 0;
  return tm.tm_year >= 100 && tm.tm_year < 300;
}

/*
 * In zone tz: yesterday into out (11 bytes) unless out is NULL, and unless day
 * is NULL the UTC ms bounds of that store-local day. -1 when tz is not a zone
 * of this system.
 */
static int in_zone(const char *tz, char *out, const char *day, int64_t *from_ms, int64_t *to_ms) {
  char path[128];
  size_t n = strlen(tz);
  if (n == 0 || n >= 64 || tz[0] == '/' || strstr(tz, "..") != NULL)
    return -1;
  for (size_t i = 0; i < n; i++)
    if (!isalnum((unsigned char)tz[i]) && strchr("/_+-", tz[i]) == NULL)
      return -1;
  snprintf(path, sizeof path, "/usr/share/zoneinfo/%s", tz);
  if (access(path, R_OK) != 0)
    return -1;
  const char *was = getenv("TZ");
  char saved[128] = "";
  if (was != NULL)
    snprintf(saved, sizeof saved, "%s", was);
  setenv("TZ", tz, 1);
  tzset();
  time_t t = time(NULL) - 24 * 3600;
  struct tm tm;
  int rc = localtime_r(&t, &tm) != NULL ? 0 : -1;
  if (rc == 0 && out != NULL && strftime(out, 11, "%Y-%m-%d", &tm) != 10)
    rc = -1;
  if (rc == 0 && day != NULL) { /* midnight to midnight of day, store-local */
    memset(&tm, 0, sizeof tm);
    tm.tm_year = (int)strtol(day, NULL, 10) - 1900;
    tm.tm_mon = (int)strtol(day + 5, NULL, 10) - 1;
    tm.tm_mday = (int)strtol(day + 8, NULL, 10);
    tm.tm_isdst = -1;
    struct tm next = tm;
    next.tm_mday++;
    *from_ms = (int64_t)mktime(&tm) * 1000;
    *to_ms = (int64_t)mktime(&next) * 1000;
  }
  if (was != NULL)
    setenv("TZ", saved, 1);
  else
    unsetenv("TZ");
  tzset();
  return rc;
}

/* Writes r to path with fn; 0, or -1 after saying why. */
static int write_file(const char *path, const tg__hq_nightly *r,
                      int (*fn)(const tg__hq_nightly *, FILE *)) {
  FILE *f = fopen(path, "w");
  if (f == NULL) {
    fprintf(stderr, "tillgroup-hq nightly: cannot write %s: %s\n", path, strerror(errno));
    return -1;
  }
  int rc = fn(r, f);
  if (fclose(f) != 0 || rc != 0) {
    fprintf(stderr, "tillgroup-hq nightly: could not write all of %s\n", path);
    return -1;
  }
  return 0;
}

int tg__hq_cmd_nightly(int argc, char **argv, const char *db) {
  static const struct option opts[] = {{"date", required_argument, NULL, 'D'},
                                       {"json", required_argument, NULL, 'j'},
                                       {"html", required_argument, NULL, 'H'},
                                       {"tz", required_argument, NULL, 'z'},
                                       {"timeout", required_argument, NULL, 't'},
                                       {NULL, 0, NULL, 0}};
  nightly_opts n = {NULL, NULL, NULL, "Asia/Shanghai", 60};
  char date[11], why[TG__HQ_WHY_MAX] = "";
  int code = tg__hq_read_options(argc, argv, "nightly", nightly_help, opts, &db, nightly_opt, &n);
  if (code >= 0)
    return code;
  if (optind != argc)
    return tg__hq_usage("nightly", "takes no arguments");
  if (in_zone(n.tz, date, NULL, NULL, NULL) != 0)
    return tg__hq_usage("nightly", "--tz: \"%.64s\" is not a time zone of this system", n.tz);
  if (n.date != NULL && !valid_date(n.date))
    return tg__hq_usage("nightly", "--date takes YYYY-MM-DD");
  if (n.date != NULL)
    snprintf(date, sizeof date, "%s", n.date);
  const tg__hq_backend *be;
  tg__hq_db *h;
  if ((code = tg__hq_open_db("nightly", db, &be, &h)) != 0)
    return code;
  tg__hq_nightly_options o = {date, n.tz, tg__hq_now_ms(), n.timeout_s * 1000, 5000, 0};
  tg__hq_nightly r;
  int64_t day_from_ms = 0, day_to_ms = 0;
  int rc = tg__hq_nightly_run(be, h, &o, &r, why, sizeof why);
  if (rc == TG__HQ_OK)
    in_zone(n.tz, NULL, date, &day_from_ms, &day_to_ms);
  /*
   * Reconciliation goes here, while h is open, appending to r.findings:
   *   rc = tg__hq_reconcile(be, h, day_from_ms, day_to_ms, o.now_ms, on_finding, &r, why,
   *                         sizeof why);
   * with on_finding calling tg__hq_nightly_add_finding(ctx, f->kind, f->needs_operator,
   * f->store, f->terminal, f->what).
   */
  (void)day_from_ms;
  (void)day_to_ms;
  be->close(h);
  if (rc != TG__HQ_OK) {
    tg__hq_nightly_free(&r);
    return tg__hq_refused("nightly", rc, why);
  }
  int64_t fetched = 0;
  int flagged = 0;
  for (int i = 0; i < r.n_terminals; i++) {
    const tg__hq_nightly_terminal *t = &r.terminals[i];
    fetched += t->fetched;
    if (t->flags & TG__HQ_NF_OPERATOR)
      flagged++;
    if (t->flags != 0)
      printf("%s-%s: %s\n", t->store, t->terminal, t->why);
  }
  printf("nightly %s: %d terminal(s), %d need an operator, %lld record(s) fetched\n", date,
         r.n_terminals, flagged, (long long)fetched);
  code = tg__hq_nightly_needs_operator(&r) ? TG__HQ_EXIT_OPERATOR : TG__HQ_EXIT_DONE;
  int failed = n.json != NULL && write_file(n.json, &r, tg__hq_nightly_json) != 0;
  failed |= n.html != NULL && write_file(n.html, &r, tg__hq_nightly_html) != 0;
  if (failed && code == TG__HQ_EXIT_DONE)
    code = TG__HQ_EXIT_REFUSED;
  tg__hq_nightly_free(&r);
  fflush(stdout);
  return code;
}
