/* `tillgroup-hq reconcile`: runs the reconciliation over store-local days and prints its findings. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hq.h"


static const char reconcile_help[] =
    "usage: tillgroup-hq reconcile [--db SPEC] --from YYYY-MM-DD --to YYYY-MM-DD\n"
    "                              [--tz ZONE] [--json]\n"
    "Reads the records of the store-local days from..to (at most 366) and reports:\n"
    "single-use coupons redeemed more than once, flash sales sold past the quota\n"
    "leased in the stores' newest bundles, and the settlements it issues as HQ\n"
    "coupons (referral rebates, group-buy differences), each once per sale however\n"
    "often it runs; the next `bundle publish` carries them to the terminals.\n"
    "One line per finding, or one JSON object per line with --json. ZONE defaults\n"
    "to Asia/Shanghai. Exit 0 when nothing needs an operator, 4 when something does\n"
    "(docs/reconcile.md).\n";

typedef struct {
  const char *from, *to, *tz;
  int json, failed;
} reconcile_args;

static int reconcile_opt(void *ctx, int o, const char *arg) {
  reconcile_args *a = ctx;
  if (o == 'f')
    a->from = arg;
  else if (o == 't')
    a->to = arg;
  else if (o == 'z')
    a->tz = arg;
  else if (o == 'j')
    a->json = 1;
  return -1;
}

static void print_finding(void *ctx, const tg__hq_finding *f) {
  reconcile_args *a = ctx;
  if (!a->json) {
    char where[32];
    snprintf(where, sizeof where, "%s%s%s", f->store[0] ? f->store : "*",
             f->terminal[0] ? "/" : "", f->terminal);
    printf("%-8s %-18s %-14s %s\n", f->needs_operator ? "OPERATOR" : "settled", f->kind, where,
           f->what);
    return;
  }
  json_t *o = json_pack("{s:s, s:b, s:s, s:s, s:s}", "kind", f->kind, "needs_operator",
                        f->needs_operator, "store", f->store, "terminal", f->terminal, "what",
                        f->what);
  char *z = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
  if (z != NULL)
    printf("%s\n", z);
  else
    a->failed = 1;
  free(z);
  json_decref(o);
}

typedef struct {
  reconcile_args *a;
  int n, n_operator;
} counter;

static void on_finding(void *ctx, const tg__hq_finding *f) {
  counter *c = ctx;
  c->n++;
  c->n_operator += f->needs_operator != 0;
  print_finding(c->a, f);
}

int tg__hq_cmd_reconcile(int argc, char **argv, const char *db) {
  static const struct option opts[] = {{"from", required_argument, NULL, 'f'},
                                       {"to", required_argument, NULL, 't'},
                                       {"tz", required_argument, NULL, 'z'},
                                       {"json", no_argument, NULL, 'j'},
                                       {NULL, 0, NULL, 0}};
  reconcile_args a = {NULL, NULL, "Asia/Shanghai", 0, 0};
  int code = tg__hq_read_options(argc, argv, "reconcile", reconcile_help, opts, &db,
                                 reconcile_opt, &a);
  if (code >= 0)
    return code;
  if (optind != argc)
    return tg__hq_usage("reconcile", "takes no arguments");
  if (a.from == NULL || a.to == NULL)
    return tg__hq_usage("reconcile", "--from and --to are required");
  char why[TG__HQ_WHY_MAX] = "";
  int64_t from_ms, to_ms;
  int rc = tg__hq_days_ms(a.from, a.to, a.tz, &from_ms, &to_ms, why, sizeof why);
  if (rc != TG__HQ_OK)
    return tg__hq_usage("reconcile", "%s", why);
  const tg__hq_backend *be;
  tg__hq_db *h;
  if ((code = tg__hq_open_db("reconcile", db, &be, &h)) != 0)
    return code;
  counter c = {&a, 0, 0};
  rc = tg__hq_reconcile(be, h, from_ms, to_ms, tg__hq_now_ms(), on_finding, &c, why, sizeof why);
  be->close(h);
  if (rc != TG__HQ_OK)
    return tg__hq_refused("reconcile", rc, why);
  if (fflush(stdout) != 0 || a.failed) {
    fprintf(stderr, "tillgroup-hq reconcile: could not write the findings\n");
    return TG__HQ_EXIT_REFUSED;
  }
  if (!a.json)
    fprintf(stderr, "tillgroup-hq reconcile: %s..%s: %d findings, %d for an operator\n", a.from,
            a.to, c.n, c.n_operator);
  return c.n_operator > 0 ? TG__HQ_EXIT_OPERATOR : TG__HQ_EXIT_DONE;
}
