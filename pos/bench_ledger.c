/*
 * tillgroup bench ledger: sale commits measured side by side with the floor,
 * one durable single-row SQLite transaction per sale on the same disk.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pos.h"

typedef struct {
  double *ms; /* one latency per commit */
  int n;
  double total_ms;
} series;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted values. */
static double percentile(const double *sorted, int n, int pct) {
  int rank = (n * pct + 99) / 100;
  return n == 0 ? 0 : sorted[rank > 0 ? rank - 1 : 0];
}

/* Builds and commits one sale of n_lines lines. */
static int commit_one(tg_terminal *t, int i, int n_lines) {
  char uuid[TG_UUID_LEN + 1], sku[32], name[48];
  tg_sale *s;
  tg_totals tot;
  tg__uuid_random(uuid);
  int rc = tg_sale_begin(t, uuid, &s);
  for (int k = 0; rc == 0 && k < n_lines; k++) {
    snprintf(sku, sizeof sku, "690%010d", (i * 7 + k * 13) % 100000);
    snprintf(name, sizeof name, "Benchmark item %d", k);
    tg_line l = {sku, name, 1000 + (k % 3) * 500, 199 + k * 100, k == 1 ? 20 : 0};
    rc = tg_sale_add_line(s, &l);
  }
  if (rc == 0)
    rc = tg_sale_set_order_discount_percent(s, 500);
  if (rc == 0)
    rc = tg_sale_get_totals(s, &tot);
  if (rc == 0)
    rc = tg_sale_add_tender(s, TG_TENDER_CASH, tot.total + 100, NULL);
  if (rc == 0)
    rc = tg_sale_commit(s, NULL);
  tg_sale_free(s);
  return rc;
}

/* The floor: one durable single-row transaction per sale. */
typedef struct {
  sqlite3 *db;
  sqlite3_stmt *begin, *insert, *commit;
} floor_db;

static int floor_open(floor_db *f, const char *path) {
  if (sqlite3_open(path, &f->db) != SQLITE_OK ||
      sqlite3_exec(f->db,
                   "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
                   "CREATE TABLE IF NOT EXISTS sale(id INTEGER PRIMARY KEY, uuid BLOB, total INTEGER)",
                   NULL, NULL, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(f->db, "BEGIN IMMEDIATE", -1, &f->begin, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(f->db, "INSERT INTO sale(uuid, total) VALUES(randomblob(16), ?1)", -1,
                         &f->insert, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(f->db, "COMMIT", -1, &f->commit, NULL) != SQLITE_OK)
    return TG_EIO;
  return 0;
}

static int floor_commit(floor_db *f, int i) {
  sqlite3_bind_int64(f->insert, 1, 1000 + i);
  int ok = sqlite3_step(f->begin) == SQLITE_DONE && sqlite3_step(f->insert) == SQLITE_DONE &&
           sqlite3_step(f->commit) == SQLITE_DONE;
  sqlite3_reset(f->begin);
  sqlite3_reset(f->insert);
  sqlite3_reset(f->commit);
  return ok ? 0 : TG_EIO;
}

static void floor_close(floor_db *f) {
  sqlite3_finalize(f->begin);
  sqlite3_finalize(f->insert);
  sqlite3_finalize(f->commit);
  sqlite3_close(f->db);
}

/* Fills the ledger with n sales quickly: not durable per sale, same code path. */
static int preload(tg_terminal *t, int64_t n, int n_lines) {
  int rc = sqlite3_exec(t->db, "PRAGMA synchronous = OFF", NULL, NULL, NULL) == SQLITE_OK
               ? 0 : TG_EIO;
  for (int64_t done = 0; rc == 0 && done < n;) {
    if ((rc = tg__bulk_begin(t)) != 0)
      break;
    for (int64_t k = 0; rc == 0 && k < 20000 && done < n; k++, done++)
      rc = commit_one(t, (int)(done % 1000000), n_lines);
    int end = tg__bulk_end(t);
    rc = rc != 0 ? rc : end;
  }
  if (sqlite3_exec(t->db, "PRAGMA wal_checkpoint(TRUNCATE); PRAGMA synchronous = FULL", NULL,
                   NULL, NULL) != SQLITE_OK && rc == 0)
    rc = TG_EIO;
  return rc;
}

/* Peak resident set in KiB since the last reset, from /proc. */
static long peak_rss_kib(void) {
  char line[256];
  long kib = -1;
  FILE *f = fopen("/proc/self/status", "r");
  while (f != NULL && fgets(line, sizeof line, f) != NULL)
    if (sscanf(line, "VmHWM: %ld kB", &kib) == 1)
      break;
  if (f != NULL)
    fclose(f);
  return kib;
}

static void reset_peak_rss(void) {
  FILE *f = fopen("/proc/self/clear_refs", "w");
  if (f != NULL) {
    fputs("5", f);
    fclose(f);
  }
}

static void summarize(series *s, double *cps, double *p50, double *p99) {
  qsort(s->ms, (size_t)s->n, sizeof *s->ms, cmp_double);
  *cps = s->total_ms > 0 ? s->n / (s->total_ms / 1e3) : 0;
  *p50 = percentile(s->ms, s->n, 50);
  *p99 = percentile(s->ms, s->n, 99);
}

static const char bench_help[] =
    "usage: tillgroup bench ledger [--sales N] [--lines L] [--preload P] [--rounds R]\n"
    "                              [--dir DIR] [--json]\n"
    "Commits N sales of L lines (default 2000 x 5) into a fresh terminal database\n"
    "that first receives P sales (default 0), and N durable single-row SQLite\n"
    "transactions (the floor) in the same folder, interleaved in R rounds (default 10).\n"
    "Prints throughput, p50/p99 latency, their ratio and the peak RSS while committing.\n"
    "DIR defaults to a new folder under /var/tmp, removed afterwards.\n";

int tg__cmd_bench(int argc, char **argv, const char *db) {
  static const struct option opts[] = {
      {"sales", required_argument, NULL, 'n'}, {"lines", required_argument, NULL, 'l'},
      {"preload", required_argument, NULL, 'p'}, {"rounds", required_argument, NULL, 'r'},
      {"dir", required_argument, NULL, 'd'},   {"json", no_argument, NULL, 'j'},
      {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0}};
  int64_t sales = 2000, lines = 5, pre = 0, rounds = 10;
  const char *dir = NULL;
  char tmp[] = "/var/tmp/tillgroup-bench-XXXXXX", path[4096], fpath[4096], side[4200];
  int as_json = 0, o, rc;
  (void)db;
  if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
    return fputs(bench_help, stdout), TG_EXIT_OK;
  if (argc < 2 || strcmp(argv[1], "ledger") != 0)
    return tg__cli_usage("bench", "the benchmark here is 'ledger'");
  argc--, argv++;
  while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (o) {
    case 'n': sales = tg__cli_parse_int(optarg, 100000000); break;
    case 'l': lines = tg__cli_parse_int(optarg, TG_MAX_LINES); break;
    case 'p': pre = tg__cli_parse_int(optarg, 100000000); break;
    case 'r': rounds = tg__cli_parse_int(optarg, 1000); break;
    case 'd': dir = optarg; break;
    case 'j': as_json = 1; break;
    case 'h': return fputs(bench_help, stdout), TG_EXIT_OK;
    default: return tg__cli_usage("bench", "unknown option %s", argv[optind - 1]);
    }
  }
  if (sales < 1 || lines < 1 || pre < 0 || rounds < 1 || rounds > sales || optind != argc)
    return tg__cli_usage("bench", "--sales, --lines and --rounds take positive numbers");
  if (dir == NULL && (dir = mkdtemp(tmp)) == NULL)
    return tg__cli_error("bench", TG_ECANTOPEN, "could not make a folder under /var/tmp");
  snprintf(path, sizeof path, "%s/ledger.db", dir);
  snprintf(fpath, sizeof fpath, "%s/floor.db", dir);

  tg_terminal_config cfg = {"BENCH", "T1", "CNY", "UTC"};
  char detail[TG_DETAIL_MAX];
  tg_terminal *t = NULL;
  floor_db f = {0};
  series led = {0}, flo = {0};
  led.ms = malloc((size_t)sales * sizeof(double));
  flo.ms = malloc((size_t)sales * sizeof(double));
  rc = led.ms && flo.ms ? tg_terminal_init(path, &cfg, detail, sizeof detail) : TG_ENOMEM;
  if (rc == 0)
    rc = tg_terminal_open(path, &t);
  if (rc == 0 && pre > 0) {
    fprintf(stderr, "bench: preloading %lld sales...\n", (long long)pre);
    rc = preload(t, pre, (int)lines);
  }
  if (rc == 0)
    rc = floor_open(&f, fpath);
  reset_peak_rss();
  for (int64_t r = 0; rc == 0 && r < rounds; r++) {
    int64_t per = sales / rounds + (r < sales % rounds);
    for (int side_i = 0; side_i < 2 && rc == 0; side_i++) {
      int ledger_turn = (side_i + (int)r) % 2 == 0; /* alternate who goes first */
      for (int64_t i = 0; i < per && rc == 0; i++) {
        double t0 = now_ms();
        rc = ledger_turn ? commit_one(t, (int)(pre + led.n), (int)lines)
                         : floor_commit(&f, flo.n);
        double dt = now_ms() - t0;
        series *s = ledger_turn ? &led : &flo;
        s->ms[s->n++] = dt;
        s->total_ms += dt;
      }
    }
  }
  long rss = peak_rss_kib();
  if (rc != 0) {
    rc = tg__cli_error("bench", rc, t ? tg_last_detail(t) : detail);
  } else {
    double cps, p50, p99, fcps, fp50, fp99;
    summarize(&led, &cps, &p50, &p99);
    summarize(&flo, &fcps, &fp50, &fp99);
    printf(as_json ? "{\"sales\":%lld,\"lines\":%lld,\"preload\":%lld,\"rounds\":%lld,"
                     "\"commits_per_s\":%.1f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,"
                     "\"floor_commits_per_s\":%.1f,\"floor_p50_ms\":%.3f,\"floor_p99_ms\":%.3f,"
                     "\"ratio\":%.3f,\"rss_peak_kib\":%ld}\n"
                   : "sales %lld x %lld lines into a ledger of %lld sales, %lld rounds\n"
                     "ledger  %9.1f commits/s  p50 %.3f ms  p99 %.3f ms\n"
                     "floor   %9.1f commits/s  p50 %.3f ms  p99 %.3f ms\n"
                     "ratio   %.3f of the floor's throughput; peak RSS %ld KiB\n",
           (long long)sales, (long long)lines, (long long)pre, (long long)rounds, cps, p50, p99,
           fcps, fp50, fp99, fcps > 0 ? cps / fcps : 0, rss);
  }
  floor_close(&f);
  tg_terminal_close(t);
  free(led.ms);
  free(flo.ms);
  if (dir == tmp) { /* our own folder: leave nothing behind */
    const char *files[] = {path, fpath};
    for (int i = 0; i < 2; i++) {
      unlink(files[i]);
      snprintf(side, sizeof side, "%s-wal", files[i]);
      unlink(side);
      snprintf(side, sizeof side, "%s-shm", files[i]);
      unlink(side);
    }
    rmdir(dir);
  }
  return rc;
}
