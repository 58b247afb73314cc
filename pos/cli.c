/* The tillgroup program: global options, command dispatch and shared helpers. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pos.h"

#define TG_VERSION "0.1.0"

typedef struct {
  const char *name;
  int (*run)(int argc, char **argv, const char *db);
  const char *summary;
} command;

static const command commands[] = {
    {"init", tg__cmd_init, "create this terminal's database"},
    {"sale", tg__cmd_sale, "commit (or void) a sale given as JSON on stdin"},
    {"show", tg__cmd_show, "show a committed sale or refund"},
    {"refund", tg__cmd_refund, "refund a receipt, fully or in part"},
    {"status", tg__cmd_status, "outbox depth, head office sync, dead letters, database size"},
    {"export", tg__cmd_export, "outbox records as JSON lines"},
    {"receipt", tg__cmd_receipt, "a receipt as ESC/POS bytes, plain text or a PNG preview"},
    {"bundle", tg__cmd_bundle, "apply or show the config bundle (campaigns, keys, members)"},
    {"scan", tg__cmd_scan, "what a scanned code is: product, member, coupon, referral, invite"},
    {"coupon", tg__cmd_coupon, "check a coupon, or redeem it outside a sale"},
    {"member", tg__cmd_member, "show the member behind a member code"},
    {"enrol", tg__cmd_enrol, "enrol this terminal at head office (credential on stdin)"},
    {"sync", tg__cmd_sync, "send the outbox to head office and fetch its config bundle"},
    {"serve-sync", tg__cmd_serve_sync, "answer head office's nightly pull (manifest, records)"},
    {"devices", tg__cmd_devices, "USB receipt printers and barcode scanners plugged in"},
    {"print", tg__cmd_print, "print a receipt, or the receipts waiting for the printer"},
    {"drawer", tg__cmd_drawer, "open the cash drawer wired to the printer"},
    {"bench", tg__cmd_bench, "benchmarks: the ledger, the receipt encoder, the scan, the sync"},
};
#define N_COMMANDS (int)(sizeof commands / sizeof commands[0])

static void print_help(FILE *f) {
  fprintf(f, "usage: tillgroup [--db PATH] COMMAND [OPTIONS]   (COMMAND --help for its options)\n\n"
             "commands:\n");
  for (int i = 0; i < N_COMMANDS; i++)
    fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
  fprintf(f, "\nThe database is --db PATH, else $TILLGROUP_DB, else ./tillgroup.db.\n"
             "Exit codes: 0 done, 1 input refused (nothing changed), 2 usage error,\n"
             "3 storage problem (cannot open, disk full, I/O error, newer database),\n"
             "4 head office unreachable or refusing this till (enrol, sync).\n");
}

int tg__cli_error(const char *cmd, int rc, const char *detail) {
  fprintf(stderr, "tillgroup %s: %s (%s)\n", cmd,
          detail != NULL && detail[0] ? detail : tg_strerror(rc), tg_err_name(rc));
  switch (rc) {
  case TG_OK:
    return TG_EXIT_OK;
  case TG_ENOMEM:
  case TG_EIO:
  case TG_EFULL:
  case TG_EBUSY:
  case TG_ECORRUPT:
  case TG_ENEWER:
  case TG_ENOTDB:
  case TG_ENOENT:
  case TG_ECANTOPEN:
    return TG_EXIT_STORAGE;
  case TG_EOFFLINE:
  case TG_EHQAUTH:
  case TG_EHQ:
    return TG_EXIT_HQ;
  case TG_EPRINTER:
    return TG_EXIT_PRINTER;
  default:
    return TG_EXIT_REFUSED;
  }
}

int tg__cli_usage(const char *cmd, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "tillgroup %s: ", cmd);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, " (see 'tillgroup %s --help')\n", cmd);
  return TG_EXIT_USAGE;
}

int tg__cli_open(const char *cmd, const char *db, tg_terminal **out) {
  int rc = tg_terminal_open(db, out);
  if (rc == 0)
    return 0;
  int code = tg__cli_error(cmd, rc, tg_last_detail(*out));
  tg_terminal_close(*out);
  *out = NULL;
  return code;
}

int64_t tg__cli_parse_milli(const char *s) {
  char whole[24];
  const char *dot = strchr(s, '.');
  size_t n = dot != NULL ? (size_t)(dot - s) : strlen(s);
  int64_t w, f = 0;
  if (n == 0 || n >= sizeof whole)
    return -1;
  memcpy(whole, s, n);
  whole[n] = '\0';
  if ((w = tg__parse_int(whole, TG_MAX_QTY_MILLI / 1000)) < 0)
    return -1;
  if (dot != NULL) {
    size_t places = strlen(dot + 1);
    if (places == 0 || places > 3 || (f = tg__parse_int(dot + 1, 999)) < 0)
      return -1;
    for (size_t i = places; i < 3; i++)
      f *= 10;
  }
  return w * 1000 + f;
}

const char *tg__cli_time(int64_t ms, const char *tz, char *buf) {
  return tg__time_format(ms, tz, "%Y-%m-%d %H:%M:%S", buf, 64);
}

int tg__cmd_bench(int argc, char **argv, const char *db) {
  (void)db;
  if (argc >= 2 && strcmp(argv[1], "ledger") == 0)
    return tg__bench_ledger(argc - 1, argv + 1);
  if (argc >= 2 && strcmp(argv[1], "receipt") == 0)
    return tg__bench_receipt(argc - 1, argv + 1);
  if (argc >= 2 && strcmp(argv[1], "scan") == 0)
    return tg__bench_scan(argc - 1, argv + 1);
  if (argc >= 2 && strcmp(argv[1], "sync") == 0)
    return tg__bench_sync(argc - 1, argv + 1);
  if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
    return puts("usage: tillgroup bench ledger|receipt|scan|sync [OPTIONS]   (bench NAME --help)"),
           TG_EXIT_OK;
  return tg__cli_usage("bench", "the benchmarks are 'ledger', 'receipt', 'scan' and 'sync'");
}

int main(int argc, char **argv) {
  const char *db = getenv("TILLGROUP_DB");
  int i = 1;
  if (db == NULL || db[0] == '\0')
    db = "tillgroup.db";
  for (; i < argc && argv[i][0] == '-'; i++) {
    if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
      db = argv[++i];
    } else if (strncmp(argv[i], "--db=", 5) == 0) {
      db = argv[i] + 5;
    } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      print_help(stdout);
      return TG_EXIT_OK;
    } else if (strcmp(argv[i], "--version") == 0) {
      printf("tillgroup %s (schema %d, SQLite %s)\n", TG_VERSION, TG_SCHEMA_VERSION,
             sqlite3_libversion());
      return TG_EXIT_OK;
    } else {
      fprintf(stderr, "tillgroup: unknown option %s (see 'tillgroup --help')\n", argv[i]);
      return TG_EXIT_USAGE;
    }
  }
  if (i == argc) {
    print_help(stderr);
    return TG_EXIT_USAGE;
  }
  if (strcmp(argv[i], "help") == 0) {
    print_help(stdout);
    return TG_EXIT_OK;
  }
  opterr = 0; /* commands report unknown options in their own one line */
  for (int c = 0; c < N_COMMANDS; c++)
    if (strcmp(argv[i], commands[c].name) == 0)
      return commands[c].run(argc - i, argv + i, db);
  fprintf(stderr, "tillgroup: unknown command '%s' (see 'tillgroup --help')\n", argv[i]);
  return TG_EXIT_USAGE;
}
