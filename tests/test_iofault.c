/* I/O fault injection: each read, write, truncate, sync and size query of a
 * commit fails in turn, once or from then on, and the ledger stays whole. */
#include "helpers.h"

#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef enum { FAULT_IOERR, FAULT_FULL } fault_kind;

/* The injector's state. The suite runs on one thread. */
static struct {
  sqlite3_vfs *real; /* the default VFS this one wraps */
  int armed;
  fault_kind kind;
  int persistent;       /* fail every step from n on, not only step n */
  long n;               /* the first step that fails (1-based) */
  long steps;           /* steps counted since arming */
  long fired;           /* failures injected since arming */
  const char *first_op; /* the operation of the first injected failure */
} fault;

/* Our file, with the real VFS's file right after it in the same allocation. */
typedef struct {
  sqlite3_file base;
  sqlite3_file *real;
} fault_file;

static sqlite3_file *real_of(sqlite3_file *f) { return ((fault_file *)f)->real; }

/* Counts one I/O step named op. Returns the error to inject for it, or
 * SQLITE_OK to let it through: ioerr (the operation's own I/O error code)
 * under FAULT_IOERR, SQLITE_FULL under FAULT_FULL, which only writes meet. */
static int fault_step(const char *op, int ioerr, int is_write) {
  if (!fault.armed)
    return SQLITE_OK;
  long step = ++fault.steps;
  if (step < fault.n || (!fault.persistent && step > fault.n))
    return SQLITE_OK;
  if (fault.kind == FAULT_FULL && !is_write)
    return SQLITE_OK; /* a full disk still reads and syncs */
  if (fault.fired++ == 0)
    fault.first_op = op;
  return fault.kind == FAULT_FULL ? SQLITE_FULL : ioerr;
}

/* Starts counting steps from zero; step n (and, if persistent, every later
 * step) fails with kind. */
static void fault_arm(fault_kind kind, int persistent, long n) {
  fault.kind = kind;
  fault.persistent = persistent;
  fault.n = n;
  fault.steps = 0;
  fault.fired = 0;
  fault.first_op = "";
  fault.armed = 1;
}

/* Stops injecting; returns how many failures were injected since arming. */
static long fault_disarm(void) {
  fault.armed = 0;
  return fault.fired;
}

/* ----- sqlite3_io_methods: the counted steps, then plain forwarding ----- */

static int f_close(sqlite3_file *f) {
  sqlite3_file *r = real_of(f);
  return r->pMethods != NULL ? r->pMethods->xClose(r) : SQLITE_OK;
}

static int f_read(sqlite3_file *f, void *buf, int amt, sqlite3_int64 off) {
  int rc = fault_step("xRead", SQLITE_IOERR_READ, 0);
  return rc != SQLITE_OK ? rc : real_of(f)->pMethods->xRead(real_of(f), buf, amt, off);
}

static int f_write(sqlite3_file *f, const void *buf, int amt, sqlite3_int64 off) {
  int rc = fault_step("xWrite", SQLITE_IOERR_WRITE, 1);
  return rc != SQLITE_OK ? rc : real_of(f)->pMethods->xWrite(real_of(f), buf, amt, off);
}

static int f_truncate(sqlite3_file *f, sqlite3_int64 size) {
  int rc = fault_step("xTruncate", SQLITE_IOERR_TRUNCATE, 0);
  return rc != SQLITE_OK ? rc : real_of(f)->pMethods->xTruncate(real_of(f), size);
}

static int f_sync(sqlite3_file *f, int flags) {
  int rc = fault_step("xSync", SQLITE_IOERR_FSYNC, 0);
  return rc != SQLITE_OK ? rc : real_of(f)->pMethods->xSync(real_of(f), flags);
}

static int f_file_size(sqlite3_file *f, sqlite3_int64 *size) {
  int rc = fault_step("xFileSize", SQLITE_IOERR_FSTAT, 0);
  return rc != SQLITE_OK ? rc : real_of(f)->pMethods->xFileSize(real_of(f), size);
}

static int f_lock(sqlite3_file *f, int level) {
  return real_of(f)->pMethods->xLock(real_of(f), level);
}

static int f_unlock(sqlite3_file *f, int level) {
  return real_of(f)->pMethods->xUnlock(real_of(f), level);
}

static int f_check_reserved(sqlite3_file *f, int *out) {
  return real_of(f)->pMethods->xCheckReservedLock(real_of(f), out);
}

static int f_file_control(sqlite3_file *f, int op, void *arg) {
  return real_of(f)->pMethods->xFileControl(real_of(f), op, arg);
}

static int f_sector_size(sqlite3_file *f) { return real_of(f)->pMethods->xSectorSize(real_of(f)); }

static int f_device(sqlite3_file *f) {
  return real_of(f)->pMethods->xDeviceCharacteristics(real_of(f));
}

static int f_shm_map(sqlite3_file *f, int pg, int pgsz, int extend, void volatile **pp) {
  return real_of(f)->pMethods->xShmMap(real_of(f), pg, pgsz, extend, pp);
}

static int f_shm_lock(sqlite3_file *f, int offset, int n, int flags) {
  return real_of(f)->pMethods->xShmLock(real_of(f), offset, n, flags);
}

static void f_shm_barrier(sqlite3_file *f) { real_of(f)->pMethods->xShmBarrier(real_of(f)); }

static int f_shm_unmap(sqlite3_file *f, int delete_flag) {
  return real_of(f)->pMethods->xShmUnmap(real_of(f), delete_flag);
}

static int f_fetch(sqlite3_file *f, sqlite3_int64 off, int amt, void **pp) {
  return real_of(f)->pMethods->xFetch(real_of(f), off, amt, pp);
}

static int f_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p) {
  return real_of(f)->pMethods->xUnfetch(real_of(f), off, p);
}

/* One method table per io_methods version, so each file shows its real
 * file's version and SQLite never calls a method the real file lacks. */
#define FAULT_METHODS(version)                                                                     \
  {                                                                                                \
    .iVersion = (version), .xClose = f_close, .xRead = f_read, .xWrite = f_write,                  \
    .xTruncate = f_truncate, .xSync = f_sync, .xFileSize = f_file_size, .xLock = f_lock,           \
    .xUnlock = f_unlock, .xCheckReservedLock = f_check_reserved, .xFileControl = f_file_control,   \
    .xSectorSize = f_sector_size, .xDeviceCharacteristics = f_device, .xShmMap = f_shm_map,        \
    .xShmLock = f_shm_lock, .xShmBarrier = f_shm_barrier, .xShmUnmap = f_shm_unmap,                \
    .xFetch = f_fetch, .xUnfetch = f_unfetch                                                       \
  }
static const sqlite3_io_methods fault_methods[4] = {FAULT_METHODS(0), FAULT_METHODS(1),
                                                    FAULT_METHODS(2), FAULT_METHODS(3)};

/* ----- sqlite3_vfs: xOpen wraps the file, the rest forward ----- */

static int v_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *file, int flags,
                  int *out_flags) {
  (void)vfs;
  fault_file *f = (fault_file *)file;
  f->real = (sqlite3_file *)(f + 1);
  f->real->pMethods = NULL;
  int rc = fault.real->xOpen(fault.real, name, f->real, flags, out_flags);
  const sqlite3_io_methods *m = f->real->pMethods;
  /* SQLite reads pMethods even after a failed open: NULL means "nothing to close". */
  file->pMethods = m == NULL ? NULL : &fault_methods[m->iVersion > 3 ? 3 : m->iVersion];
  return rc;
}

static sqlite3_vfs fault_vfs;

/* Wraps the default VFS and makes the wrapper the default, so every
 * connection (the library's and the helpers') goes through it. Returns 0 or
 * an SQLite error. */
static int fault_install(void) {
  fault.real = tt_vfs_wrap(&fault_vfs, "iofault", (int)sizeof(fault_file), v_open, NULL);
  if (fault.real == NULL)
    return SQLITE_ERROR;
  return sqlite3_vfs_register(&fault_vfs, 1);
}

/* ----- the scenarios ----- */

enum { BASE_SALES = 3, FAILED = 100, NEXT = 200, RETRIED_REFUND = 300, MAX_STEPS = 2000 };

/* Makes a terminal in dir holding BASE_SALES committed sales of 5 lines, and
 * reopens it so the armed commit starts from a cold cache and a new WAL.
 * Copies the path into path (4096 bytes) and the first sale's receipt into
 * receipt; returns the open handle. */
static tg_terminal *base_ledger(const char *dir, char *path, char *receipt) {
  char r[TG_RECEIPT_MAX];
  tg_terminal *t = tt_terminal(dir, path);
  for (int i = 1; i <= BASE_SALES; i++)
    TT_OK(t, tt_commit(t, (uint64_t)i, 5, i == 1 ? receipt : r));
  tg_terminal_close(t);
  TT_OK(t, tg_terminal_open(path, &t));
  return t;
}

/* The record the armed commit writes, ready to commit: tt_sale(FAILED), or if
 * refund a full refund of receipt under uuid RETRIED_REFUND. */
static tg_sale *build(tg_terminal *t, int refund, const char *receipt) {
  char uuid[TG_UUID_LEN + 1];
  tg_sale *s;
  if (!refund)
    return tt_sale(t, FAILED, 5);
  tt_uuid(RETRIED_REFUND, uuid);
  TT_OK(t, tg_refund_begin(t, uuid, receipt, &s));
  TT_OK(t, tg_refund_add_all(s));
  return s;
}

/* Checks the code a commit returned after kind was injected. */
static void check_failure(fault_kind kind, int rc, tg_terminal *t) {
  if (kind == FAULT_IOERR) {
    /* Every injected code is an SQLITE_IOERR_*, which must reach the cashier
     * as "disk I/O error". Not EFULL, not ECORRUPT: nothing was damaged. */
    if (rc != TG_EIO)
      fail_msg("step %ld (%s): expected TG_EIO, got %s: %s", fault.n, fault.first_op,
               tg_err_name(rc), tg_last_detail(t));
  } else {
    /* Only writes fail, with SQLITE_FULL: the cashier must hear "disk full",
     * the one failure they can fix themselves. */
    if (rc != TG_EFULL)
      fail_msg("step %ld (%s): expected TG_EFULL, got %s: %s", fault.n, fault.first_op,
               tg_err_name(rc), tg_last_detail(t));
  }
  assert_true(tg_last_detail(t)[0] != '\0');
}

/* One step: commits a sale (or a refund) on a new ledger with step n
 * failing, then proves the ledger whole, the handle usable, and the record
 * retryable exactly once. Returns 1 if a fault fired, 0 if the commit was
 * over before step n. */
static int one_step(fault_kind kind, int persistent, int refund, long n) {
  char *dir = tt_tmpdir(), path[4096], sold[TG_RECEIPT_MAX], receipt[TG_RECEIPT_MAX];
  tg_terminal *t = base_ledger(dir, path, sold);
  uint64_t id = refund ? RETRIED_REFUND : FAILED;
  tg_sale *s = build(t, refund, sold);
  fault_arm(kind, persistent, n);
  int rc = tg_sale_commit(s, receipt);
  long fired = fault_disarm();
  tg_sale_free(s);
  if (fired > 0 && rc != 0)
    check_failure(kind, rc, t);
  else
    TT_OK(t, rc); /* SQLite got past the fault: then the record must be whole */
  /* While the process lives, a failed commit is invisible ("nothing is
   * written"); only a crash can bring it back (crash_after_each_failed_step). */
  int present = tt_count_uuid(path, id);
  assert_int_equal(present, rc == 0 ? 1 : 0);
  assert_int_equal(tt_check_ledger(path), BASE_SALES + present);
  /* the same handle goes on: a new sale, then the failed record again */
  TT_OK(t, tt_commit(t, NEXT, 5, receipt));
  if (tt_count_uuid(path, NEXT) != 1) /* visible outside: really committed */
    fail_msg("step %ld: the next commit returned %s but no other connection sees it "
             "(handle %s a transaction)",
             n, receipt, sqlite3_get_autocommit(t->db) ? "not in" : "still in");
  s = build(t, refund, sold);
  TT_OK(t, tg_sale_commit(s, receipt));
  tg_sale_free(s);
  assert_int_equal(tt_count_uuid(path, id), 1);
  assert_int_equal(tt_check_ledger(path), BASE_SALES + 2);
  /* and the file reopens whole once the handle has closed */
  tg_terminal_close(t);
  assert_int_equal(tt_check_ledger(path), BASE_SALES + 2);
  assert_int_equal(tt_count_uuid(path, id), 1);
  tt_rmtree(dir);
  return fired > 0;
}

/* Runs one_step for n = 1, 2, ... until the commit finishes with no fault
 * fired; returns at how many steps a fault fired. */
static long fault_loop(fault_kind kind, int persistent, int refund, const char *name) {
  long hits = 0, n;
  for (n = 1; n < MAX_STEPS; n++) {
    if (!one_step(kind, persistent, refund, n))
      break;
    hits++;
  }
  assert_true(n < MAX_STEPS);
  printf("# %s: faults injected at %ld steps of %ld\n", name, hits, fault.steps);
  return hits;
}

static void ioerr_once_each_step(void **state) {
  (void)state;
  assert_true(fault_loop(FAULT_IOERR, 0, 0, "sale, I/O error once") > 5);
}

static void ioerr_persistent_each_step(void **state) {
  (void)state;
  assert_true(fault_loop(FAULT_IOERR, 1, 0, "sale, I/O error from step N on") > 5);
}

static void disk_full_each_step(void **state) {
  (void)state;
  assert_true(fault_loop(FAULT_FULL, 1, 0, "sale, disk full from step N on") > 5);
}

static void refund_ioerr_persistent_each_step(void **state) {
  (void)state;
  assert_true(fault_loop(FAULT_IOERR, 1, 1, "refund, I/O error from step N on") > 5);
}

/* The sale of the crash test as host JSON, so a child can ring it up without
 * asserting: uuid tt_uuid(FAILED), 1.5 x 12.34 paid in cash. */
static const char crash_sale[] =
    "{\"uuid\": \"00000000-0000-4000-8000-000000000064\", \"lines\": [{\"sku\": "
    "\"6900000000001\", \"name\": \"商品\", \"qty_milli\": 1500, \"unit_price\": 1234}],"
    " \"tenders\": [{\"kind\": \"cash\", \"amount\": 1851}]}";

enum { CHILD_FIRED = 64, CHILD_SETUP = 255 };

/* In a child process: commits crash_sale on its own handle of path with
 * step n failing, and returns the exit status to die with, never closing
 * the handle: CHILD_FIRED if a fault fired, or'ed with the commit's code
 * negated; CHILD_SETUP if it could not get that far. */
static int crash_child(const char *path, int persistent, long n) {
  tg_terminal *t;
  tg_sale *s;
  char receipt[TG_RECEIPT_MAX];
  if (tg_terminal_open(path, &t) != 0 ||
      tg_sale_from_json(t, crash_sale, strlen(crash_sale), &s) != 0)
    return CHILD_SETUP;
  fault_arm(FAULT_IOERR, persistent, n);
  int rc = tg_sale_commit(s, receipt);
  return (fault_disarm() > 0 ? CHILD_FIRED : 0) | -rc;
}

/* Commits crash_sale on the handle t; returns the code. */
static int commit_crash_sale(tg_terminal *t) {
  tg_sale *s;
  char receipt[TG_RECEIPT_MAX];
  TT_OK(t, tg_sale_from_json(t, crash_sale, strlen(crash_sale), &s));
  int rc = tg_sale_commit(s, receipt);
  tg_sale_free(s);
  return rc;
}

/* For n = 1, 2, ...: a child commits with step n failing and is killed
 * (exits without closing) right after; the next open must find the ledger
 * whole, the sale absent or there once, and a retry must land exactly once.
 * Returns at how many steps a fault fired; *kept counts the failed commits
 * that recovery found written. */
static long crash_loop(int persistent, long *kept) {
  long hits = 0, n;
  *kept = 0;
  for (n = 1; n < MAX_STEPS; n++) {
    char *dir = tt_tmpdir(), path[4096], receipt[TG_RECEIPT_MAX];
    tg_terminal *t = base_ledger(dir, path, receipt);
    tg_terminal_close(t); /* the child has the only connection */
    fflush(stdout);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
      _exit(crash_child(path, persistent, n));
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) != CHILD_SETUP);
    int fired = WEXITSTATUS(status) & CHILD_FIRED, rc = -(WEXITSTATUS(status) & ~CHILD_FIRED);
    if (fired && rc != TG_EIO)
      fail_msg("step %ld: expected TG_EIO, got %s", n, tg_err_name(rc));
    if (!fired)
      assert_int_equal(rc, 0);
    /* The first connection after the crash recovers the WAL. When only the
     * commit's final fsync failed, the whole commit is already in the WAL
     * and recovery keeps it: the sale failed yet is there. That is why a
     * host retries under the same uuid, which must then land exactly once. */
    int present = tt_count_uuid(path, FAILED);
    assert_int_equal(tt_check_ledger(path), BASE_SALES + present);
    if (rc == 0)
      assert_int_equal(present, 1);
    else if (present)
      ++*kept;
    TT_OK(t, tg_terminal_open(path, &t));
    TT_OK(t, commit_crash_sale(t));
    TT_OK(t, tt_commit(t, NEXT, 5, receipt));
    tg_terminal_close(t);
    assert_int_equal(tt_count_uuid(path, FAILED), 1);
    assert_int_equal(tt_check_ledger(path), BASE_SALES + 2);
    tt_rmtree(dir);
    if (!fired)
      break;
    hits++;
  }
  assert_true(n < MAX_STEPS);
  return hits;
}

static void crash_after_each_failed_step(void **state) {
  (void)state;
  for (int persistent = 0; persistent <= 1; persistent++) {
    long kept, hits = crash_loop(persistent, &kept);
    printf("# killed after an I/O error %s: faults injected at %ld steps; "
           "recovery kept the failed sale at %ld of them\n",
           persistent ? "from step N on" : "once", hits, kept);
    assert_true(hits > 5);
  }
}

int main(void) {
  if (fault_install() != SQLITE_OK) {
    fprintf(stderr, "could not install the fault VFS\n");
    return 1;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(ioerr_once_each_step),
      cmocka_unit_test(ioerr_persistent_each_step),
      cmocka_unit_test(disk_full_each_step),
      cmocka_unit_test(refund_ioerr_persistent_each_step),
      cmocka_unit_test(crash_after_each_failed_step),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
