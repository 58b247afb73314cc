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

typedef struct {
  tg__hq_nightly *report;
  int lost; /* findings memory could not hold */
} findings;

/* Adds a reconciliation finding to the nightly report. */
static void on_finding(void *ctx, const tg__hq_finding *f) {
  findings *k = ctx;
  k->lost += tg__hq_nightly_add_finding(k->report, f) != 0;
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
  if (n.date != NULL)
    snprintf(date, sizeof date, "%s", n.date);
  else if (tg__hq_local_day(n.tz, tg__hq_now_ms() - 86400000, date) != 0)
    return tg__hq_usage("nightly", "--tz: \"%.64s\" is not a time zone of this system", n.tz);
  int64_t day_from_ms, day_to_ms;
  if (tg__hq_days_ms(date, date, n.tz, &day_from_ms, &day_to_ms, why, sizeof why) != TG__HQ_OK)
    return tg__hq_usage("nightly", "%s", why);
  const tg__hq_backend *be;
  tg__hq_db *h;
  if ((code = tg__hq_open_db("nightly", db, &be, &h)) != 0)
    return code;
  tg__hq_nightly_options o = {date, n.tz, tg__hq_now_ms(), n.timeout_s * 1000, 5000, 0};
  tg__hq_nightly r;
  findings k = {&r, 0};
  int rc = tg__hq_nightly_run(be, h, &o, &r, why, sizeof why);
  /* the night's records are complete now: reconcile the day across every store */
  if (rc == TG__HQ_OK)
    rc = tg__hq_reconcile(be, h, day_from_ms, day_to_ms, o.now_ms, on_finding, &k, why,
                          sizeof why);
  if (rc == TG__HQ_OK && k.lost > 0) {
    snprintf(why, sizeof why, "out of memory: %d reconciliation finding(s) not kept", k.lost);
    rc = TG__HQ_NOMEM;
  }
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
