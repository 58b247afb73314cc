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

/* The SKUs and names a host would send, made before any clock starts. */
#define N_ITEMS 64
static char item_sku[N_ITEMS][16], item_name[N_ITEMS][32];

static void make_items(void) {
  for (int k = 0; k < N_ITEMS; k++) {
    snprintf(item_sku[k], sizeof item_sku[k], "690%010d", k * 7919 % 100000);
    snprintf(item_name[k], sizeof item_name[k], "Benchmark item %d", k);
  }
}

/* Builds and commits one sale of n_lines lines, as a host would. */
static int commit_one(tg_terminal *t, int i, int n_lines) {
  char uuid[TG_UUID_LEN + 1];
  tg_sale *s;
  tg_totals tot;
  tg__uuid_random(uuid);
  int rc = tg_sale_begin(t, uuid, &s);
  for (int k = 0; rc == 0 && k < n_lines; k++) {
    int item = (i * 7 + k * 13) % N_ITEMS;
    tg_line l = {item_sku[item], item_name[item], 1000 + (k % 3) * 500, 199 + k * 100,
                 k == 1 ? 20 : 0, NULL};
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

/*
 * A reference measured beside the ledger: plain SQL in one durable
 * transaction per sale (WAL, synchronous=FULL), on the same disk.
 */
typedef struct {
  const char *file;
  const char *schema;
  const char *steps[3]; /* between BEGIN IMMEDIATE and COMMIT; ?1 is the body size */
} reference;

/* The floor: the least any durable sale can cost, one small row. */
static const reference floor_ref = {
    "floor.db", "CREATE TABLE sale(id INTEGER PRIMARY KEY, uuid BLOB, total INTEGER)",
    {"INSERT INTO sale(uuid, total) VALUES(randomblob(16), 1000)"}};

/* The writes the ledger's design requires, done by hand: its own seq and
 * receipt counters, one record row of the same size with a unique uuid and a
 * unique receipt number. Ledger / writes is tillgroup's own overhead. */
static const reference writes_ref = {
    "writes.db",
    "CREATE TABLE counter(id INTEGER PRIMARY KEY, seq INTEGER, receipt INTEGER);"
    "INSERT INTO counter VALUES (1, 0, 0);"
    "CREATE TABLE record(seq INTEGER PRIMARY KEY, uuid BLOB UNIQUE, receipt_no INTEGER UNIQUE,"
    " body BLOB)",
    {"UPDATE counter SET seq = seq + 1, receipt = receipt + 1 WHERE id = 1",
     "INSERT INTO record SELECT seq, randomblob(16), receipt, zeroblob(?1) FROM counter"}};

typedef struct {
  sqlite3 *db;
  sqlite3_stmt *st[5]; /* BEGIN, the steps, COMMIT */
  int n;
  int created; /* its files are ours to remove */
} reference_db;

static int reference_open(reference_db *r, const reference *ref, const char *dir, int body) {
  char path[4200];
  snprintf(path, sizeof path, "%s/%s", dir, ref->file);
  if (access(path, F_OK) == 0)
    return TG_EEXIST; /* someone else's file: leave it alone */
  r->created = 1;
  if (sqlite3_open(path, &r->db) != SQLITE_OK ||
      sqlite3_exec(r->db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL", NULL, NULL,
                   NULL) != SQLITE_OK ||
      sqlite3_exec(r->db, ref->schema, NULL, NULL, NULL) != SQLITE_OK)
    return TG_EIO;
  const char *sql[5] = {"BEGIN IMMEDIATE"};
  int n = 1;
  for (int i = 0; i < 3 && ref->steps[i] != NULL; i++)
    sql[n++] = ref->steps[i];
  sql[n++] = "COMMIT";
  for (r->n = 0; r->n < n; r->n++) {
    if (sqlite3_prepare_v2(r->db, sql[r->n], -1, &r->st[r->n], NULL) != SQLITE_OK)
      return TG_EIO;
    if (sqlite3_bind_parameter_count(r->st[r->n]) == 1)
      sqlite3_bind_int(r->st[r->n], 1, body);
  }
  return 0;
}

static int reference_commit(reference_db *r) {
  int ok = 1;
  for (int i = 0; i < r->n; i++) {
    ok = ok && sqlite3_step(r->st[i]) == SQLITE_DONE;
    sqlite3_reset(r->st[i]);
  }
  return ok ? 0 : TG_EIO;
}

static void reference_close(reference_db *r, const reference *ref, const char *dir) {
  char path[4200];
  for (int i = 0; i < r->n; i++)
    sqlite3_finalize(r->st[i]);
  sqlite3_close(r->db);
  const char *suffix[] = {"", "-wal", "-shm"};
  for (int i = 0; r->created && i < 3; i++) {
    snprintf(path, sizeof path, "%s/%s%s", dir, ref->file, suffix[i]);
    unlink(path);
  }
}

int tg__bench_preload(tg_terminal *t, int64_t n, int n_lines) {
  make_items();
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
  /* Durable before the clock starts: otherwise the kernel is still writing
   * the preload back while the commits are timed. */
  if (sqlite3_exec(t->db, "PRAGMA synchronous = FULL; PRAGMA wal_checkpoint(TRUNCATE)", NULL,
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
  tg__bench_sort(s->ms, s->n);
  *cps = s->total_ms > 0 ? s->n / (s->total_ms / 1e3) : 0;
  *p50 = tg__bench_percentile(s->ms, s->n, 50);
  *p99 = tg__bench_percentile(s->ms, s->n, 99);
}

static const char bench_help[] =
    "usage: tillgroup bench ledger [--sales N] [--lines L] [--preload P] [--rounds R]\n"
    "                              [--dir DIR] [--json]\n"
    "Commits N sales of L lines (default 2000 x 5) into a fresh terminal database\n"
    "that first receives P sales (default 0). In the same folder and run, interleaved\n"
    "in R rounds (default 10), it measures two references of N durable transactions:\n"
    "the floor (one small row each) and the ledger's required writes done in plain\n"
    "SQL (counters, one record row with unique uuid and receipt number).\n"
    "The references start empty whatever P is: they measure the disk, not a size.\n"
    "Prints throughput, p50/p99 latency, ratios and the peak RSS while committing.\n"
    "DIR defaults to a new folder under /var/tmp, removed afterwards.\n";

enum { LEDGER, FLOOR, WRITES, N_SERIES };

int tg__bench_ledger(int argc, char **argv) {
  static const struct option opts[] = {
      {"sales", required_argument, NULL, 'n'}, {"lines", required_argument, NULL, 'l'},
      {"preload", required_argument, NULL, 'p'}, {"rounds", required_argument, NULL, 'r'},
      {"dir", required_argument, NULL, 'd'},   {"json", no_argument, NULL, 'j'},
      {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0}};
  int64_t sales = 2000, lines = 5, pre = 0, rounds = 10;
  const char *dir = NULL;
  char tmp[] = "/var/tmp/tillgroup-bench-XXXXXX", path[4096], side[4200];
  int as_json = 0, o, rc;
  while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (o) {
    case 'n': sales = tg__parse_int(optarg, 100000000); break;
    case 'l': lines = tg__parse_int(optarg, TG_MAX_LINES); break;
    case 'p': pre = tg__parse_int(optarg, 100000000); break;
    case 'r': rounds = tg__parse_int(optarg, 1000); break;
    case 'd': dir = optarg; break;
    case 'j': as_json = 1; break;
    case 'h': return fputs(bench_help, stdout), TG_EXIT_OK;
    default: return tg__cli_usage("bench", "unknown option %s", argv[optind - 1]);
    }
  }
  if (sales < 1 || lines < 1 || pre < 0 || rounds < 1 || rounds > sales || optind != argc)
    return tg__cli_usage("bench", "--sales, --lines and --rounds take positive numbers");
  if (dir != NULL && strlen(dir) > sizeof path - 64)
    return tg__cli_usage("bench", "--dir is longer than %zu bytes", sizeof path - 64);
  if (dir == NULL && (dir = mkdtemp(tmp)) == NULL)
    return tg__cli_error("bench", TG_ECANTOPEN, "could not make a folder under /var/tmp");
  snprintf(path, sizeof path, "%s/ledger.db", dir);
  make_items();

  tg_terminal_config cfg = {"BENCH", "T1", "CNY", "UTC"};
  char detail[TG_DETAIL_MAX] = "";
  tg_terminal *t = NULL;
  reference_db refs[N_SERIES] = {{0}};
  const reference *ref_of[N_SERIES] = {NULL, &floor_ref, &writes_ref};
  series s[N_SERIES] = {{0}};
  for (int k = 0; k < N_SERIES; k++)
    s[k].ms = malloc((size_t)sales * sizeof(double));
  rc = s[LEDGER].ms && s[FLOOR].ms && s[WRITES].ms
           ? tg_terminal_init(path, &cfg, detail, sizeof detail)
           : TG_ENOMEM;
  if (rc == 0)
    rc = tg_terminal_open(path, &t);
  if (rc == 0 && pre > 0) {
    fprintf(stderr, "bench: preloading %lld sales...\n", (long long)pre);
    rc = tg__bench_preload(t, pre, (int)lines);
  }
  /* One untimed sale gives the record size the writes reference copies. */
  int body = 0;
  if (rc == 0 && (rc = commit_one(t, (int)pre, (int)lines)) == 0) {
    char *z;
    size_t len;
    if ((rc = tg__record_body(t, pre + 1, &z, &len, NULL)) == 0)
      body = (int)len;
    tg__free(z);
  }
  for (int k = FLOOR; rc == 0 && k < N_SERIES; k++)
    if ((rc = reference_open(&refs[k], ref_of[k], dir, body)) == TG_EEXIST)
      snprintf(detail, sizeof detail, "%s/%s is already there", dir, ref_of[k]->file);
  reset_peak_rss();
  for (int64_t r = 0; rc == 0 && r < rounds; r++) {
    int64_t per = sales / rounds + (r < sales % rounds);
    for (int turn = 0; turn < N_SERIES && rc == 0; turn++) {
      int k = (turn + (int)r) % N_SERIES; /* rotate who goes first */
      for (int64_t i = 0; i < per && rc == 0; i++) {
        double t0 = tg__bench_now_ms();
        rc = k == LEDGER ? commit_one(t, (int)(pre + 1 + s[k].n), (int)lines)
                         : reference_commit(&refs[k]);
        double dt = tg__bench_now_ms() - t0;
        s[k].ms[s[k].n++] = dt;
        s[k].total_ms += dt;
      }
    }
  }
  long rss = peak_rss_kib();
  if (rc != 0) {
    rc = tg__cli_error("bench", rc, detail[0] ? detail : tg_last_detail(t));
  } else {
    double cps[N_SERIES], p50[N_SERIES], p99[N_SERIES];
    for (int k = 0; k < N_SERIES; k++)
      summarize(&s[k], &cps[k], &p50[k], &p99[k]);
    double ratio = cps[LEDGER] / cps[FLOOR], writes_ratio = cps[WRITES] / cps[FLOOR];
    double overhead = cps[LEDGER] / cps[WRITES];
    if (as_json)
      printf("{\"sales\":%lld,\"lines\":%lld,\"preload\":%lld,\"rounds\":%lld,"
             "\"record_bytes\":%d,\"commits_per_s\":%.1f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,"
             "\"floor_commits_per_s\":%.1f,\"floor_p50_ms\":%.3f,\"floor_p99_ms\":%.3f,"
             "\"writes_commits_per_s\":%.1f,\"writes_p50_ms\":%.3f,\"writes_p99_ms\":%.3f,"
             "\"ratio\":%.3f,\"writes_ratio\":%.3f,\"ledger_to_writes\":%.3f,"
             "\"rss_peak_kib\":%ld}\n",
             (long long)sales, (long long)lines, (long long)pre, (long long)rounds, body,
             cps[LEDGER], p50[LEDGER], p99[LEDGER], cps[FLOOR], p50[FLOOR], p99[FLOOR],
             cps[WRITES], p50[WRITES], p99[WRITES], ratio, writes_ratio, overhead, rss);
    else
      printf("%lld sales x %lld lines (records of %d bytes) into a ledger of %lld, %lld rounds\n"
             "ledger  %9.1f commits/s  p50 %.3f ms  p99 %.3f ms\n"
             "floor   %9.1f commits/s  p50 %.3f ms  p99 %.3f ms\n"
             "writes  %9.1f commits/s  p50 %.3f ms  p99 %.3f ms\n"
             "ledger/floor %.3f   writes/floor %.3f   ledger/writes %.3f   peak RSS %ld KiB\n",
             (long long)sales, (long long)lines, body, (long long)pre, (long long)rounds,
             cps[LEDGER], p50[LEDGER], p99[LEDGER], cps[FLOOR], p50[FLOOR], p99[FLOOR],
             cps[WRITES], p50[WRITES], p99[WRITES], ratio, writes_ratio, overhead, rss);
  }
  for (int k = FLOOR; k < N_SERIES; k++)
    reference_close(&refs[k], ref_of[k], dir);
  tg_terminal_close(t);
  for (int k = 0; k < N_SERIES; k++)
    free(s[k].ms);
  if (dir == tmp) { /* our own folder: leave nothing behind */
    const char *suffix[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
      snprintf(side, sizeof side, "%s%s", path, suffix[i]);
      unlink(side);
    }
    rmdir(dir);
  }
  return rc;
}
