/*
 * tillgroup bench sync: a terminal with N queued sales drains into tillgroup-hq
 * on loopback, beside the floor: the same rows loaded straight into the same
 * HQ database in large transactions (tillgroup-hq load), in the same run.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pos.h"

typedef struct {
  char dir[PATH_MAX];
  char spec[PATH_MAX + 16];
  char hq_bin[PATH_MAX];
  char cli_bin[PATH_MAX];
  char terminal_db[PATH_MAX + 8];
  pid_t hq;
} bench;

/* The program named name beside this one (build/tillgroup -> build/tillgroup-hq). */
static int sibling(const char *name, char *out, size_t cap) {
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0)
    return -1;
  self[n] = '\0';
  char *slash = strrchr(self, '/');
  *slash = '\0';
  int len = snprintf(out, cap, "%s/%s", self, name);
  return len > 0 && (size_t)len < cap && access(out, X_OK) == 0 ? 0 : -1;
}

/*
 * Runs argv to its end with stdout into out[0..cap) and stderr into the
 * bench's log; *ru gets its resource use. Returns the exit status, -1 if it
 * did not exit.
 */
static int run(const bench *b, char *const argv[], char *out, size_t cap, struct rusage *ru) {
  int fd[2];
  if (pipe(fd) != 0)
    return -1;
  pid_t pid = fork();
  if (pid == 0) {
    char log[PATH_MAX + 16];
    snprintf(log, sizeof log, "%s/bench.log", b->dir);
    dup2(fd[1], 1);
    if (freopen(log, "a", stderr) == NULL)
      _exit(126);
    close(fd[0]);
    execv(argv[0], argv);
    _exit(127);
  }
  close(fd[1]);
  size_t n = 0;
  ssize_t r;
  char sink[4096];
  while ((r = read(fd[0], n + 1 < cap ? out + n : sink,
                   n + 1 < cap ? cap - 1 - n : sizeof sink)) > 0)
    if (n + 1 < cap)
      n += (size_t)r; /* the rest is drained, so the child never blocks on a full pipe */
  out[n] = '\0';
  close(fd[0]);
  int status;
  struct rusage ignored;
  if (pid < 0 || wait4(pid, &status, 0, ru != NULL ? ru : &ignored) < 0)
    return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Starts tillgroup-hq serve on a free loopback port; returns the port, or -1. */
static int hq_start(bench *b) {
  int fd[2];
  if (pipe(fd) != 0)
    return -1;
  b->hq = fork();
  if (b->hq == 0) {
    char log[PATH_MAX + 16];
    snprintf(log, sizeof log, "%s/hq.log", b->dir);
    dup2(fd[1], 1);
    if (freopen(log, "a", stderr) == NULL)
      _exit(126);
    close(fd[0]);
    execl(b->hq_bin, b->hq_bin, "serve", "--db", b->spec, "--listen", "127.0.0.1:0",
          (char *)NULL);
    _exit(127);
  }
  close(fd[1]);
  char line[128];
  size_t n = 0;
  struct pollfd pfd = {fd[0], POLLIN, 0};
  while (n + 1 < sizeof line && memchr(line, '\n', n) == NULL && poll(&pfd, 1, 30000) > 0) {
    ssize_t r = read(fd[0], line + n, sizeof line - 1 - n);
    if (r <= 0)
      break;
    n += (size_t)r;
  }
  line[n] = '\0';
  close(fd[0]);
  const char *colon = strrchr(line, ':');
  return strncmp(line, "listening on ", 13) == 0 && colon != NULL
             ? (int)strtol(colon + 1, NULL, 10)
             : -1;
}

typedef struct {
  FILE *out;
  int64_t epoch;
  char from[32], to[32];
  size_t n_from;
} floor_file;

/* Writes a record with the next epoch: the same row, another key, for the floor. */
static int write_floor_line(void *ctx, int64_t seq, const char *json, size_t len) {
  floor_file *f = ctx;
  (void)seq;
  const char *at = strstr(json, f->from);
  if (at == NULL || (size_t)(at - json) > len)
    return TG_ECORRUPT;
  size_t head = (size_t)(at - json);
  if (fwrite(json, 1, head, f->out) != head || fputs(f->to, f->out) < 0 ||
      fwrite(at + f->n_from, 1, len - head - f->n_from, f->out) != len - head - f->n_from ||
      fputc('\n', f->out) == EOF)
    return TG_EIO;
  return 0;
}

static int usage_fail(const char *why) { return tg__cli_usage("bench sync", "%s", why); }

static void cleanup(bench *b) {
  if (b->hq > 0) {
    kill(b->hq, SIGTERM);
    waitpid(b->hq, NULL, 0);
  }
  char cmd[PATH_MAX + 16];
  static const char *const files[] = {"t.db", "t.db-wal", "t.db-shm", "t.db-sync.lock",
                                      "hq.db", "hq.db-wal", "hq.db-shm", "floor.ndjson",
                                      "bench.log", "hq.log"};
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    snprintf(cmd, sizeof cmd, "%s/%s", b->dir, files[i]);
    unlink(cmd);
  }
  rmdir(b->dir);
}

/* The bytes in 'tillgroup sync's summary: "sent N records (B bytes) in ...". */
static int64_t summary_bytes(const char *summary) {
  const char *open = strchr(summary, '(');
  return open != NULL ? strtoll(open + 1, NULL, 10) : -1;
}

int tg__bench_sync(int argc, char **argv) {
  static const char help[] =
      "usage: tillgroup bench sync [--records N] [--lines L] [--hq sqlite|postgresql]\n"
      "                            [--hq-db CONNINFO] [--json]\n"
      "A terminal with N queued sales of L lines (default 100000 x 5) drains into\n"
      "tillgroup-hq on loopback ('tillgroup sync --once', gzip batches over HTTP).\n"
      "Beside it, the floor: the same rows loaded straight into the same HQ database\n"
      "in large transactions ('tillgroup-hq load'). Prints records/s of both, their\n"
      "ratio, bytes on the wire per record and the terminal's peak RSS.\n"
      "--hq postgresql uses --hq-db, else libpq's environment (PGHOST, PGPORT, ...):\n"
      "run it under pg_virtualenv for a throwaway server.\n";
  static const struct option opts[] = {
      {"records", required_argument, NULL, 'n'}, {"lines", required_argument, NULL, 'l'},
      {"hq", required_argument, NULL, 'q'},      {"hq-db", required_argument, NULL, 'd'},
      {"json", no_argument, NULL, 'j'},          {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  int64_t records = 100000, lines = 5;
  const char *hq = "sqlite", *conninfo = "postgresql://";
  int json = 0, c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (c) {
    case 'n': records = tg__parse_int(optarg, 100000000); break;
    case 'l': lines = tg__parse_int(optarg, TG_MAX_LINES); break;
    case 'q': hq = optarg; break;
    case 'd': conninfo = optarg; break;
    case 'j': json = 1; break;
    case 'h': return fputs(help, stdout), TG_EXIT_OK;
    default: return usage_fail("unknown option");
    }
  }
  if (records < 1 || lines < 1)
    return usage_fail("--records and --lines take a positive whole number");
  if (strcmp(hq, "sqlite") != 0 && strcmp(hq, "postgresql") != 0)
    return usage_fail("--hq is sqlite or postgresql");

  bench b;
  memset(&b, 0, sizeof b);
  const char *tmp = getenv("TMPDIR");
  snprintf(b.dir, sizeof b.dir, "%s/tillgroup-bench-sync-XXXXXX", tmp != NULL ? tmp : "/tmp");
  if (sibling("tillgroup-hq", b.hq_bin, sizeof b.hq_bin) != 0 ||
      sibling("tillgroup", b.cli_bin, sizeof b.cli_bin) != 0) {
    fprintf(stderr, "tillgroup bench sync: tillgroup-hq is not beside this program: run 'make'\n");
    return TG_EXIT_USAGE;
  }
  if (mkdtemp(b.dir) == NULL) {
    fprintf(stderr, "tillgroup bench sync: cannot make a folder in %s: %s\n",
            tmp != NULL ? tmp : "/tmp", strerror(errno));
    return TG_EXIT_STORAGE;
  }
  if (strcmp(hq, "sqlite") == 0)
    snprintf(b.spec, sizeof b.spec, "sqlite:%s/hq.db", b.dir);
  else
    snprintf(b.spec, sizeof b.spec, "%s", conninfo);

  /* A terminal of its own store (HQ may be a PostgreSQL kept between runs). */
  char store[TG_ID_MAX + 1], detail[256], out[1024];
  snprintf(store, sizeof store, "B%u", (unsigned)(getpid() % 100000000));
  snprintf(b.terminal_db, sizeof b.terminal_db, "%s/t.db", b.dir);
  tg_terminal_config cfg = {store, "T1", "CNY", "Asia/Shanghai"};
  tg_terminal *t = NULL;
  int rc = tg_terminal_init(b.terminal_db, &cfg, detail, sizeof detail);
  if (rc == 0)
    rc = tg_terminal_open(b.terminal_db, &t);
  if (rc == 0)
    rc = tg__bench_preload(t, records, (int)lines);

  /* The floor's file: every record once more under the next epoch. */
  floor_file ff = {NULL, 0, "", "", 0};
  char floor_path[PATH_MAX + 16];
  snprintf(floor_path, sizeof floor_path, "%s/floor.ndjson", b.dir);
  tg_terminal_info info;
  if (rc == 0 && (rc = tg_terminal_get_info(t, &info)) == 0) {
    ff.epoch = info.epoch;
    snprintf(ff.from, sizeof ff.from, "\"epoch\":%lld,", (long long)ff.epoch);
    snprintf(ff.to, sizeof ff.to, "\"epoch\":%lld,", (long long)ff.epoch + 1);
    ff.n_from = strlen(ff.from);
    ff.out = fopen(floor_path, "w");
    rc = ff.out == NULL ? TG_EIO : tg_outbox_each(t, 0, 0, write_floor_line, &ff);
    if (ff.out != NULL && fclose(ff.out) != 0 && rc == 0)
      rc = TG_EIO;
  }
  if (rc != 0) {
    int code = tg__cli_error("bench sync", rc, t != NULL ? tg_last_detail(t) : detail);
    tg_terminal_close(t);
    cleanup(&b);
    return code;
  }

  int port = hq_start(&b);
  double floor_ms = 0, sync_ms = 0;
  struct rusage ru;
  int64_t bytes = -1;
  const char *failed = port < 0 ? "tillgroup-hq did not start" : NULL;
  if (failed == NULL) {
    char *enrol[] = {b.hq_bin, "enrol", "--db", b.spec, store, "T1", NULL};
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    tg_hq_config hq_cfg = {url, out, NULL, NULL, NULL, NULL, NULL};
    if (run(&b, enrol, out, sizeof out, NULL) != 0 || tg_hq_enrol(t, &hq_cfg) != 0)
      failed = "enrolling the bench terminal failed";
  }
  if (failed == NULL) {
    char *load[] = {b.hq_bin, "load", "--db", b.spec, floor_path, NULL};
    double t0 = tg__bench_now_ms();
    failed = run(&b, load, out, sizeof out, NULL) != 0 ? "tillgroup-hq load failed" : NULL;
    floor_ms = tg__bench_now_ms() - t0;
  }
  tg_terminal_close(t); /* the sync runs as its own process: its RSS is the terminal's */
  if (failed == NULL) {
    char *sync[] = {b.cli_bin, "--db", b.terminal_db, "sync", "--once", NULL};
    double t0 = tg__bench_now_ms();
    failed = run(&b, sync, out, sizeof out, &ru) != 0 ? "tillgroup sync failed" : NULL;
    sync_ms = tg__bench_now_ms() - t0;
    bytes = summary_bytes(out);
  }
  if (failed != NULL) {
    fprintf(stderr, "tillgroup bench sync: %s (logs kept in %s)\n", failed, b.dir);
    if (b.hq > 0)
      kill(b.hq, SIGTERM), waitpid(b.hq, NULL, 0);
    return TG_EXIT_REFUSED;
  }
  cleanup(&b);

  double rps = records / (sync_ms / 1e3), floor_rps = records / (floor_ms / 1e3);
  double per_record = bytes >= 0 ? (double)bytes / (double)records : -1;
  double rss_mb = ru.ru_maxrss / 1024.0;
  if (json)
    printf("{\"benchmark\":\"sync\",\"hq\":\"%s\",\"records\":%lld,\"lines\":%lld,"
           "\"records_per_s\":%.0f,\"floor_records_per_s\":%.0f,\"ratio_to_floor\":%.3f,"
           "\"bytes_per_record\":%.1f,\"peak_rss_mb\":%.1f}\n",
           hq, (long long)records, (long long)lines, rps, floor_rps, rps / floor_rps,
           per_record, rss_mb);
  else
    printf("sync of %lld records (%lld lines each) into HQ on %s\n"
           "  drained     %10.0f records/s\n"
           "  floor       %10.0f records/s (same rows loaded straight into HQ's database)\n"
           "  ratio       %10.3f\n"
           "  on the wire %10.1f bytes/record (gzip request bodies)\n"
           "  peak RSS    %10.1f MB (the terminal's sync process)\n",
           (long long)records, (long long)lines, hq, rps, floor_rps, rps / floor_rps,
           per_record, rss_mb);
  return TG_EXIT_OK;
}
