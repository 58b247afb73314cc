/* tillgroup serve-sync: answers HQ's nightly pull (manifest and records) until SIGINT or SIGTERM.
 */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "pos.h"
#include "sync.h"

#define THREADS_MAX 16

static const char serve_help[] =
    "usage: tillgroup [--db PATH] serve-sync --listen HOST:PORT [--tls-cert FILE --tls-key FILE]\n"
    "                 [--threads N]\n"
    "Serves HQ's nightly pull on HOST:PORT (an IPv4 address or [IPv6]; port 0 picks a free\n"
    "one, printed as 'listening on HOST:PORT'): GET /v1/manifest and GET\n"
    "/v1/records?from=A&to=B, read-only. Every request must carry HQ's signature\n"
    "(Authorization: TG-HQ ..., checked with HQ's key from the enrolment) and every\n"
    "answer carries X-TG-MAC, so plain HTTP on the store network is safe; --tls-cert and\n"
    "--tls-key (PEM) serve HTTPS instead. --threads: 1-16 (default 2). Sales go on while\n"
    "it serves: it reads the database through a read-only connection. Stops on SIGINT or\n"
    "SIGTERM. The terminal must be enrolled ('tillgroup enrol') first.\n";

int tg__cmd_serve_sync(int argc, char **argv, const char *db) {
  static const struct option opts[] = {
      {"listen", required_argument, NULL, 'l'},  {"tls-cert", required_argument, NULL, 'c'},
      {"tls-key", required_argument, NULL, 'k'}, {"threads", required_argument, NULL, 't'},
      {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
  tg__pull_server_config cfg;
  tg__pull_store *store = NULL;
  tg__pull_server *server = NULL;
  tg_terminal *t = NULL;
  char why[TG_DETAIL_MAX] = "";
  sigset_t stop, old;
  int o, code, sig = 0;
  int64_t threads = 0;
  memset(&cfg, 0, sizeof cfg);
  while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (o) {
    case 'l': cfg.listen = optarg; break;
    case 'c': cfg.tls_cert = optarg; break;
    case 'k': cfg.tls_key = optarg; break;
    case 't':
      if ((threads = tg__parse_int(optarg, THREADS_MAX)) < 1)
        return tg__cli_usage("serve-sync", "--threads is 1 to %d, not %s", THREADS_MAX, optarg);
      break;
    case 'h': fputs(serve_help, stdout); return TG_EXIT_OK;
    default: return tg__cli_usage("serve-sync", "unknown option %s", argv[optind - 1]);
    }
  }
  if (cfg.listen == NULL)
    return tg__cli_usage("serve-sync", "--listen HOST:PORT is required");
  if (optind != argc)
    return tg__cli_usage("serve-sync", "unexpected argument %s", argv[optind]);
  if ((cfg.tls_cert == NULL) != (cfg.tls_key == NULL))
    return tg__cli_usage("serve-sync", "--tls-cert and --tls-key go together");
  cfg.threads = (int)threads;
  /* opened once as usual: a database from an older version is upgraded here, not by the reader */
  if ((code = tg__cli_open("serve-sync", db, &t)) != 0)
    return code;
  tg_terminal_close(t);
  int rc = tg__pull_store_open(db, &store, why, sizeof why);
  if (rc != 0)
    return tg__cli_error("serve-sync", rc, why);
  tg__pull_store_config(store, &cfg);
  /* the server's threads inherit the blocked signals; only sigwait() sees them */
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, &old);
  signal(SIGPIPE, SIG_IGN);
  if (tg__pull_server_start(&cfg, &server, why, sizeof why) != 0) {
    fprintf(stderr, "tillgroup serve-sync: %s\n", why);
    code = TG_EXIT_REFUSED;
    goto done;
  }
  char host[64];
  size_t n = (size_t)(strrchr(cfg.listen, ':') - cfg.listen);
  snprintf(host, sizeof host, "%.*s", (int)n, cfg.listen);
  printf("listening on %s:%u\n", host, tg__pull_server_port(server));
  fflush(stdout);
  while (sigwait(&stop, &sig) != 0 || (sig != SIGINT && sig != SIGTERM))
    ;
  fprintf(stderr, "tillgroup serve-sync: %s: stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
  tg__pull_server_stop(server);
  code = TG_EXIT_OK;
done:
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  sodium_memzero(&cfg, sizeof cfg);
  tg__pull_store_close(store);
  return code;
}
