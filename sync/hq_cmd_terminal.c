/* `tillgroup-hq terminal pull-url`: sets or clears where the nightly pull reaches a terminal. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "hq.h"

static const char terminal_help[] =
    "usage: tillgroup-hq terminal pull-url [--db SPEC] STORE TERMINAL URL\n"
    "       tillgroup-hq terminal pull-url [--db SPEC] STORE TERMINAL --none\n"
    "Sets (or clears) the URL where 'tillgroup-hq nightly' reaches the terminal's\n"
    "'tillgroup serve-sync': http:// or https://, a host and a port, nothing after\n"
    "(no user, path, query or fragment), at most 256 bytes. A terminal without one\n"
    "is reported as not reachable.\n";

static int none_opt(void *ctx, int o, const char *arg) {
  (void)arg;
  if (o == 'n')
    *(int *)ctx = 1;
  return -1;
}

int tg__hq_cmd_terminal(int argc, char **argv, const char *db) {
  static const struct option opts[] = {{"none", no_argument, NULL, 'n'}, {NULL, 0, NULL, 0}};
  int none = 0;
  char why[TG__HQ_WHY_MAX] = "";
  if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
    return tg__hq_help(terminal_help);
  if (argc < 2 || strcmp(argv[1], "pull-url") != 0)
    return tg__hq_usage("terminal", "the only terminal command is 'pull-url'");
  argc--;
  argv++;
  int code = tg__hq_read_options(argc, argv, "terminal", terminal_help, opts, &db, none_opt, &none);
  if (code >= 0)
    return code;
  if (argc - optind != 3 - none)
    return tg__hq_usage("terminal", "pull-url takes STORE TERMINAL and a URL or --none");
  const char *store = argv[optind], *terminal = argv[optind + 1];
  const char *url = none ? NULL : argv[optind + 2];
  if (!tg__hq_valid_id(store) || !tg__hq_valid_id(terminal))
    return tg__hq_usage("terminal", "STORE and TERMINAL are 1-12 characters A-Z 0-9");
  if (url != NULL && tg__hq_pull_url_check(url, why, sizeof why) != 0)
    return tg__hq_usage("terminal", "%s", why);
  const tg__hq_backend *be;
  tg__hq_db *h;
  if ((code = tg__hq_open_db("terminal", db, &be, &h)) != 0)
    return code;
  int rc = be->pull_url_set(h, store, terminal, url, why, sizeof why);
  if (rc != TG__HQ_OK)
    code = tg__hq_refused("terminal", rc, why);
  else if (url != NULL)
    printf("pull URL of %s-%s: %s\n", store, terminal, url);
  else
    printf("pull URL of %s-%s cleared\n", store, terminal);
  be->close(h);
  return code;
}
