/*
 * Power-cut test: a child commits sales through a VFS that holds each write
 * to the ledger's files in the child's memory, as the OS page cache does,
 * until SQLite syncs that file, and is killed with SIGKILL (at a random
 * moment, or just as a sync begins), so that what was never synced vanishes
 * as in a power cut: every sale whose commit returned success must survive,
 * and under synchronous = NORMAL some must not.
 * TG_POWERCUT_KILLS sets the number of cuts (default 100).
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"

static uint64_t next_random(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

/* ----- the power-cut VFS: the child's memory is the page cache ----- */

enum { PC_PAGE = 4096 }; /* the OS page: what the cache holds and writes back whole */

/* The page cache of one durable file, shared by every handle to it in this
 * process as the OS shares it by inode. The real file is the disk. */
typedef struct pc_node pc_node;
struct pc_node {
  pc_node *next;        /* in pc.nodes while listed */
  char *path;
  int listed;           /* 0 once deleted: nothing more reaches its disk */
  int n_ref;            /* open handles */
  sqlite3_int64 size;   /* the size SQLite sees */
  sqlite3_int64 disk;   /* the real file's size */
  sqlite3_int64 keep;   /* real bytes still seen: below a pending truncation, <= size */
  unsigned char **page; /* dirty pages by index, NULL where clean */
  sqlite3_int64 n_page; /* length of page[] */
  long n_dirty;
};

/* Our file, with the real VFS's file right after it in the same allocation. */
typedef struct pc_file pc_file;
struct pc_file {
  sqlite3_file base;
  sqlite3_file *real;
  pc_node *node; /* NULL: not durable storage (temp files), passed straight through */
  pc_file *next; /* in pc.files while open, when node is set */
};

/* The VFS's state, in the child only. The child runs on one thread. */
static struct {
  sqlite3_vfs *real; /* the default VFS this one wraps */
  pc_node *nodes;
  pc_file *files;
  uint64_t rng;
  unsigned writeback;   /* 0, or a 1-in-N chance per write of an early write-back */
  long cut_at_sync;     /* 0, or the xSync call (1-based) at whose start the power goes */
  long syncs;           /* xSync calls on durable files */
  long closed_unsynced; /* files closed holding unsynced changes */
} pc;

/* Copies bytes [off, off + amt) of n as SQLite last wrote them into out:
 * dirty pages from memory, the rest from the real file below n->keep and
 * zeros above it. Requires off + amt <= n->size. */
static int view_read(const pc_node *n, sqlite3_file *real, unsigned char *out,
                     sqlite3_int64 amt, sqlite3_int64 off) {
  while (amt > 0) {
    sqlite3_int64 idx = off / PC_PAGE, in = off % PC_PAGE;
    sqlite3_int64 len = amt < PC_PAGE - in ? amt : PC_PAGE - in;
    if (idx < n->n_page && n->page[idx] != NULL) {
      memcpy(out, n->page[idx] + in, (size_t)len);
    } else {
      sqlite3_int64 on_disk = off >= n->keep ? 0 : n->keep - off < len ? n->keep - off : len;
      if (on_disk > 0) {
        int rc = real->pMethods->xRead(real, out, (int)on_disk, off);
        if (rc != SQLITE_OK && rc != SQLITE_IOERR_SHORT_READ) /* short reads are zero-filled */
          return rc;
      }
      memset(out + on_disk, 0, (size_t)(len - on_disk));
    }
    out += len;
    off += len;
    amt -= len;
  }
  return SQLITE_OK;
}

/* Makes page idx of n dirty, holding the file's current content, and sets
 * *out to it. SQLITE_IOERR_NOMEM if memory runs out. */
static int page_dirty(pc_node *n, sqlite3_file *real, sqlite3_int64 idx, unsigned char **out) {
  if (idx >= n->n_page) {
    sqlite3_int64 cap = n->n_page > 0 ? n->n_page : 16;
    while (cap <= idx)
      cap *= 2;
    unsigned char **pages = realloc(n->page, (size_t)cap * sizeof *pages);
    if (pages == NULL)
      return SQLITE_IOERR_NOMEM;
    for (sqlite3_int64 i = n->n_page; i < cap; i++)
      pages[i] = NULL;
    n->page = pages;
    n->n_page = cap;
  }
  if (n->page[idx] == NULL) {
    unsigned char *pg = calloc(1, PC_PAGE);
    sqlite3_int64 start = idx * PC_PAGE, valid = n->size - start;
    if (pg == NULL)
      return SQLITE_IOERR_NOMEM;
    int rc = valid > 0 ? view_read(n, real, pg, valid < PC_PAGE ? valid : PC_PAGE, start)
                       : SQLITE_OK;
    if (rc != SQLITE_OK) {
      free(pg);
      return rc;
    }
    n->page[idx] = pg;
    n->n_dirty++;
  }
  *out = n->page[idx];
  return SQLITE_OK;
}

/* Writes dirty page idx of n to the real file without a sync and drops it
 * from memory, as the OS writes a page back. Requires no pending truncation
 * (n->keep == n->disk). */
static int write_page(pc_node *n, sqlite3_file *real, sqlite3_int64 idx) {
  sqlite3_int64 start = idx * PC_PAGE, len = n->size - start;
  if (len > PC_PAGE)
    len = PC_PAGE;
  int rc = len > 0 ? real->pMethods->xWrite(real, n->page[idx], (int)len, start) : SQLITE_OK;
  if (rc != SQLITE_OK)
    return rc;
  free(n->page[idx]);
  n->page[idx] = NULL;
  n->n_dirty--;
  if (start + len > n->disk)
    n->disk = n->keep = start + len;
  return SQLITE_OK;
}

/* Makes the real file hold exactly what SQLite sees of n: the pending
 * truncation, then the dirty pages, then the size. Syncs nothing. */
static int node_flush(pc_node *n, sqlite3_file *real) {
  int rc = SQLITE_OK;
  if (n->keep < n->disk) {
    if ((rc = real->pMethods->xTruncate(real, n->keep)) != SQLITE_OK)
      return rc;
    n->disk = n->keep;
  }
  for (sqlite3_int64 idx = 0; rc == SQLITE_OK && idx < n->n_page; idx++)
    if (n->page[idx] != NULL)
      rc = write_page(n, real, idx);
  if (rc == SQLITE_OK && n->disk != n->size) { /* a truncation that grew the file */
    rc = real->pMethods->xTruncate(real, n->size);
    if (rc == SQLITE_OK)
      n->disk = n->keep = n->size;
  }
  return rc;
}

/* Writes back one dirty page of a random open file, early, out of order and
 * without a sync, as an OS flushing its cache in the background may: a power
 * cut then keeps some unsynced writes and not others. */
static int writeback_random(void) {
  int n_files = 0;
  for (pc_file *q = pc.files; q != NULL; q = q->next)
    n_files++;
  if (n_files == 0)
    return SQLITE_OK;
  pc_file *p = pc.files;
  for (int skip = (int)(next_random(&pc.rng) % (uint64_t)n_files); skip > 0; skip--)
    p = p->next;
  pc_node *n = p->node;
  if (n->n_dirty == 0 || n->keep != n->disk)
    return SQLITE_OK;
  sqlite3_int64 from = (sqlite3_int64)(next_random(&pc.rng) % (uint64_t)n->n_page);
  for (sqlite3_int64 i = 0; i < n->n_page; i++) {
    sqlite3_int64 idx = (from + i) % n->n_page;
    if (n->page[idx] != NULL)
      return write_page(n, p->real, idx);
  }
  return SQLITE_OK;
}

/* Removes n from pc.nodes if it is there. */
static void node_unlist(pc_node *n) {
  for (pc_node **pp = &pc.nodes; *pp != NULL; pp = &(*pp)->next)
    if (*pp == n) {
      *pp = n->next;
      break;
    }
  n->listed = 0;
}

/* Drops every dirty page of n, written or not. */
static void node_discard(pc_node *n) {
  for (sqlite3_int64 idx = 0; idx < n->n_page; idx++) {
    free(n->page[idx]);
    n->page[idx] = NULL;
  }
  n->n_dirty = 0;
}

/* Frees n, unlisted first. Accepts NULL. */
static void node_free(pc_node *n) {
  if (n == NULL)
    return;
  node_unlist(n);
  node_discard(n);
  free(n->page);
  free(n->path);
  free(n);
}

/* Joins p, just opened as name, to that file's page cache, making one from
 * the real file's size if p is its first handle. */
static int pc_attach(pc_file *p, const char *name) {
  pc_node *n = pc.nodes;
  while (n != NULL && strcmp(n->path, name) != 0)
    n = n->next;
  if (n == NULL) {
    n = calloc(1, sizeof *n);
    if (n == NULL || (n->path = strdup(name)) == NULL) {
      free(n);
      return SQLITE_NOMEM;
    }
    int rc = p->real->pMethods->xFileSize(p->real, &n->size);
    if (rc != SQLITE_OK) {
      node_free(n);
      return rc;
    }
    n->disk = n->keep = n->size;
    n->listed = 1;
    n->next = pc.nodes;
    pc.nodes = n;
  }
  n->n_ref++;
  p->node = n;
  p->next = pc.files;
  pc.files = p;
  return SQLITE_OK;
}

/* Dirty pages held over all files: what a power cut now would destroy. */
static long pc_dirty_pages(void) {
  long sum = 0;
  for (pc_node *n = pc.nodes; n != NULL; n = n->next)
    sum += n->n_dirty;
  return sum;
}

/* Writes every open file's cache to its real file without a sync: what the
 * OS does when a process dies and the machine stays up. */
static int pc_flush_all(void) {
  int rc = SQLITE_OK;
  for (pc_file *p = pc.files; rc == SQLITE_OK && p != NULL; p = p->next)
    rc = node_flush(p->node, p->real);
  return rc;
}

/* ----- sqlite3_io_methods ----- */

static sqlite3_file *real_of(sqlite3_file *f) { return ((pc_file *)f)->real; }

static int pc_close(sqlite3_file *f) {
  pc_file *p = (pc_file *)f;
  pc_node *n = p->node;
  int rc = SQLITE_OK, rc2 = SQLITE_OK;
  if (n != NULL) {
    for (pc_file **pp = &pc.files; *pp != NULL; pp = &(*pp)->next)
      if (*pp == p) {
        *pp = p->next;
        break;
      }
    /* Closing syncs nothing, but the OS keeps the file's cache and writes it
     * back later; here, at once. Counted: SQLite should leave nothing. */
    if (--n->n_ref == 0) {
      if (n->listed && (n->n_dirty > 0 || n->keep != n->disk || n->size != n->disk)) {
        pc.closed_unsynced++;
        rc = node_flush(n, p->real);
      }
      node_free(n);
    }
    p->node = NULL;
  }
  if (p->real->pMethods != NULL)
    rc2 = p->real->pMethods->xClose(p->real);
  return rc != SQLITE_OK ? rc : rc2;
}

static int pc_read(sqlite3_file *f, void *buf, int amt, sqlite3_int64 off) {
  pc_file *p = (pc_file *)f;
  pc_node *n = p->node;
  if (n == NULL)
    return p->real->pMethods->xRead(p->real, buf, amt, off);
  sqlite3_int64 avail = n->size - off;
  avail = avail < 0 ? 0 : avail > amt ? amt : avail;
  int rc = avail > 0 ? view_read(n, p->real, buf, avail, off) : SQLITE_OK;
  if (rc != SQLITE_OK)
    return rc;
  if (avail < amt) { /* as the unix VFS: zero-fill the rest, report a short read */
    memset((unsigned char *)buf + avail, 0, (size_t)(amt - avail));
    return SQLITE_IOERR_SHORT_READ;
  }
  return SQLITE_OK;
}

static int pc_write(sqlite3_file *f, const void *buf, int amt, sqlite3_int64 off) {
  pc_file *p = (pc_file *)f;
  pc_node *n = p->node;
  const unsigned char *z = buf;
  if (n == NULL)
    return p->real->pMethods->xWrite(p->real, buf, amt, off);
  for (int done = 0; done < amt;) {
    sqlite3_int64 at = off + done, in = at % PC_PAGE;
    int len = (int)(amt - done < PC_PAGE - in ? amt - done : PC_PAGE - in);
    unsigned char *pg;
    int rc = page_dirty(n, p->real, at / PC_PAGE, &pg);
    if (rc != SQLITE_OK)
      return rc;
    memcpy(pg + in, z + done, (size_t)len);
    if (at + len > n->size)
      n->size = at + len;
    done += len;
  }
  if (pc.writeback > 0 && next_random(&pc.rng) % pc.writeback == 0)
    return writeback_random();
  return SQLITE_OK;
}

/* Shrinking shows at once and reaches the disk at the next sync, before the
 * pages: until then a cut brings back the old size and bytes. */
static int pc_truncate(sqlite3_file *f, sqlite3_int64 size) {
  pc_file *p = (pc_file *)f;
  pc_node *n = p->node;
  if (n == NULL)
    return p->real->pMethods->xTruncate(p->real, size);
  if (size < n->size) {
    for (sqlite3_int64 idx = (size + PC_PAGE - 1) / PC_PAGE; idx < n->n_page; idx++)
      if (n->page[idx] != NULL) {
        free(n->page[idx]);
        n->page[idx] = NULL;
        n->n_dirty--;
      }
    sqlite3_int64 idx = size / PC_PAGE, in = size % PC_PAGE;
    if (in != 0 && idx < n->n_page && n->page[idx] != NULL) /* reads as zeros if regrown */
      memset(n->page[idx] + in, 0, (size_t)(PC_PAGE - in));
    if (size < n->keep)
      n->keep = size;
  }
  n->size = size;
  return SQLITE_OK;
}

/* The only way to the disk: this file's pending writes, then a real sync. */
static int pc_sync(sqlite3_file *f, int flags) {
  pc_file *p = (pc_file *)f;
  if (p->node != NULL) {
    if (++pc.syncs == pc.cut_at_sync)
      raise(SIGKILL); /* the cut, before anything pending reaches the disk */
    int rc = node_flush(p->node, p->real);
    if (rc != SQLITE_OK)
      return rc;
  }
  return p->real->pMethods->xSync(p->real, flags);
}

static int pc_file_size(sqlite3_file *f, sqlite3_int64 *size) {
  pc_file *p = (pc_file *)f;
  if (p->node == NULL)
    return p->real->pMethods->xFileSize(p->real, size);
  *size = p->node->size;
  return SQLITE_OK;
}

static int pc_lock(sqlite3_file *f, int level) {
  return real_of(f)->pMethods->xLock(real_of(f), level);
}

static int pc_unlock(sqlite3_file *f, int level) {
  return real_of(f)->pMethods->xUnlock(real_of(f), level);
}

static int pc_check_reserved(sqlite3_file *f, int *out) {
  return real_of(f)->pMethods->xCheckReservedLock(real_of(f), out);
}

static int pc_file_control(sqlite3_file *f, int op, void *arg) {
  /* A size hint may grow the real file outside a sync; it is only a hint. */
  if (op == SQLITE_FCNTL_SIZE_HINT && ((pc_file *)f)->node != NULL)
    return SQLITE_NOTFOUND;
  return real_of(f)->pMethods->xFileControl(real_of(f), op, arg);
}

static int pc_sector_size(sqlite3_file *f) { return real_of(f)->pMethods->xSectorSize(real_of(f)); }

/* Promises nothing beyond what the cache model keeps: a write never damages
 * bytes outside it (pages are written back whole, as they are), but no
 * atomic or sequential writes that would let SQLite skip a sync. */
static int pc_device(sqlite3_file *f) {
  return real_of(f)->pMethods->xDeviceCharacteristics(real_of(f)) &
         SQLITE_IOCAP_POWERSAFE_OVERWRITE;
}

/* The wal-index is shared memory, not storage: the first connection after
 * the cut finds no other and rebuilds it from the WAL on disk. */
static int pc_shm_map(sqlite3_file *f, int pg, int pgsz, int extend, void volatile **pp) {
  return real_of(f)->pMethods->xShmMap(real_of(f), pg, pgsz, extend, pp);
}

static int pc_shm_lock(sqlite3_file *f, int offset, int n, int flags) {
  return real_of(f)->pMethods->xShmLock(real_of(f), offset, n, flags);
}

static void pc_shm_barrier(sqlite3_file *f) { real_of(f)->pMethods->xShmBarrier(real_of(f)); }

static int pc_shm_unmap(sqlite3_file *f, int delete_flag) {
  return real_of(f)->pMethods->xShmUnmap(real_of(f), delete_flag);
}

/* Version 2 at most: without xFetch SQLite never maps the file, so every
 * read goes through the cache above. */
#define PC_METHODS(version, shm)                                                                \
  {                                                                                             \
    .iVersion = (version), .xClose = pc_close, .xRead = pc_read, .xWrite = pc_write,            \
    .xTruncate = pc_truncate, .xSync = pc_sync, .xFileSize = pc_file_size, .xLock = pc_lock,    \
    .xUnlock = pc_unlock, .xCheckReservedLock = pc_check_reserved,                              \
    .xFileControl = pc_file_control, .xSectorSize = pc_sector_size,                             \
    .xDeviceCharacteristics = pc_device, .xShmMap = (shm) ? pc_shm_map : NULL,                  \
    .xShmLock = (shm) ? pc_shm_lock : NULL, .xShmBarrier = (shm) ? pc_shm_barrier : NULL,       \
    .xShmUnmap = (shm) ? pc_shm_unmap : NULL                                                    \
  }
static const sqlite3_io_methods pc_methods[2] = {PC_METHODS(1, 0), PC_METHODS(2, 1)};

/* ----- sqlite3_vfs: xOpen and xDelete know the cache; the rest are the default's ----- */

static int v_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *file, int flags,
                  int *out_flags) {
  (void)vfs;
  pc_file *p = (pc_file *)file;
  p->real = (sqlite3_file *)(p + 1);
  p->real->pMethods = NULL;
  p->node = NULL;
  p->next = NULL;
  int rc = pc.real->xOpen(pc.real, name, p->real, flags, out_flags);
  const sqlite3_io_methods *m = p->real->pMethods;
  /* SQLite reads pMethods even after a failed open: NULL means "nothing to close". */
  file->pMethods = m == NULL ? NULL : &pc_methods[m->iVersion >= 2 ? 1 : 0];
  int durable = SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_WAL | SQLITE_OPEN_MAIN_JOURNAL |
                SQLITE_OPEN_SUPER_JOURNAL;
  if (rc == SQLITE_OK && name != NULL && (flags & durable) != 0 &&
      (flags & SQLITE_OPEN_DELETEONCLOSE) == 0)
    rc = pc_attach(p, name);
  return rc;
}

/* Unlinking drops the file's cache. Directory entries (the WAL made or
 * unlinked) are out of scope: they change on the real disk at once. */
static int v_delete(sqlite3_vfs *vfs, const char *name, int sync_dir) {
  (void)vfs;
  for (pc_node *n = pc.nodes; n != NULL; n = n->next)
    if (strcmp(n->path, name) == 0) {
      node_unlist(n);
      node_discard(n);
      break;
    }
  return pc.real->xDelete(pc.real, name, sync_dir);
}

static sqlite3_vfs pc_vfs;

/* How one child runs: what its VFS does and when the power goes. */
typedef struct {
  uint64_t seed;         /* drives the VFS's choices */
  unsigned writeback;    /* as pc.writeback */
  long cut_at_sync;      /* as pc.cut_at_sync */
  int weaken;            /* synchronous = NORMAL once the terminal is open */
  const char *extra_sql; /* run once the terminal is open, or NULL */
} child_plan;

/* Wraps the default VFS and makes the wrapper the default, so the terminal
 * opened next goes through it. For the child only: its memory is the page
 * cache that the kill destroys. Returns 0 or an SQLite error. */
static int pc_install(const child_plan *plan) {
  pc.real = tt_vfs_wrap(&pc_vfs, "powercut", (int)sizeof(pc_file), v_open, v_delete);
  if (pc.real == NULL)
    return SQLITE_ERROR;
  pc.rng = plan->seed | 1;
  pc.writeback = plan->writeback;
  pc.cut_at_sync = plan->cut_at_sync;
  return sqlite3_vfs_register(&pc_vfs, 1);
}

/* ----- the child: a terminal ringing up sales ----- */

enum { CHILD_OPEN = 2, CHILD_COMMIT = 3, CHILD_PIPE = 4, CHILD_VFS = 5, CHILD_PRAGMA = 6 };

/* Opens the terminal at path through the power-cut VFS as plan says; exits
 * on failure. */
static tg_terminal *child_open(const char *path, const child_plan *plan) {
  tg_terminal *t;
  if (pc_install(plan) != SQLITE_OK)
    _exit(CHILD_VFS);
  if (tg_terminal_open(path, &t) != 0)
    _exit(CHILD_OPEN);
  if (plan->weaken &&
      sqlite3_exec(t->db, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL) != SQLITE_OK)
    _exit(CHILD_PRAGMA);
  if (plan->extra_sql != NULL &&
      sqlite3_exec(t->db, plan->extra_sql, NULL, NULL, NULL) != SQLITE_OK)
    _exit(CHILD_PRAGMA);
  return t;
}

/* The child of a cut: commits sales from `from` on, acknowledging each on fd
 * only after its commit returned 0. Never returns. */
static void cut_child(const char *path, uint64_t from, int fd, const child_plan *plan) {
  tg_terminal *t = child_open(path, plan);
  for (uint64_t i = from;; i++) {
    if (tt_commit_quiet(t, i) != 0)
      _exit(CHILD_COMMIT);
    if (write(fd, &i, sizeof i) != sizeof i)
      _exit(CHILD_PIPE);
  }
}

/* Fails the test with the way child pid ended, reaping it. */
static void child_failed(pid_t pid, const char *when) {
  int status;
  kill(pid, SIGKILL);
  assert_int_equal(waitpid(pid, &status, 0), pid);
  if (WIFEXITED(status))
    fail_msg("%s: the child exited with status %d (%s)", when, WEXITSTATUS(status),
             WEXITSTATUS(status) == CHILD_COMMIT ? "a commit failed" : "see enum CHILD_*");
  fail_msg("%s: the child died of signal %d", when, WTERMSIG(status));
}

/* What a run of cuts saw. */
typedef struct {
  int cuts, after_ack, at_sync, with_writeback, with_checkpoints;
  uint64_t acked;  /* sales whose commit returned 0 */
  uint64_t lost;   /* of those, gone after their cut */
  int lost_cuts;   /* cuts that lost at least one */
} cut_tally;

/* Cuts the power under a child committing sales on a fresh terminal, cuts
 * times: a quarter at a random moment from the child's start, a quarter at
 * one once a commit has returned, half just as the child's Nth sync begins
 * (timed cuts mostly land in a sync, when nothing is pending any more);
 * half the cuts with early write-back; half with a checkpoint every few
 * commits, so that cuts land in checkpoints and WAL restarts too (the
 * default 1000 pages take ~250 commits). After each cut a
 * normal connection must find the ledger whole, nothing twice, what survived
 * a prefix of what was committed, and at most the one unacknowledged sale
 * more; losses are tallied in *out, and with weaken = 0 fail the test. */
static void power_cuts(int cuts, int weaken, cut_tally *out) {
  char *dir = tt_tmpdir(), path[4096];
  tg_terminal *t = tt_terminal(dir, path);
  tg_terminal_close(t); /* the child has the only connection */
  uint64_t seed = (uint64_t)time(NULL) * 2654435761u | 1, acked = 0;
  int full_every = cuts > 500 ? 25 : 1; /* a long run checks the whole ledger less often */
  memset(out, 0, sizeof *out);
  printf("# %s: seed %llu, %d cuts\n", weaken ? "synchronous = NORMAL" : "as configured",
         (unsigned long long)seed, cuts);
  for (int k = 0; k < cuts; k++) {
    int fds[2], status;
    int timed = k % 4 < 2, after_ack = k % 4 == 1;
    child_plan plan = {next_random(&seed), (k / 4) % 2 ? 4 : 0, 0, weaken,
                       (k / 8) % 2 ? "PRAGMA wal_autocheckpoint = 10" : NULL};
    if (!timed) /* under NORMAL syncs are ~250 commits apart: fewer, or the checks take long */
      plan.cut_at_sync = 1 + (long)(next_random(&seed) % (weaken ? 4 : 10));
    uint64_t i, round_from = acked + 1;
    assert_int_equal(pipe(fds), 0);
    fflush(stdout);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
      close(fds[0]);
      cut_child(path, round_from, fds[1], &plan);
    }
    close(fds[1]);
    if (after_ack) { /* else the cut may land while the child opens */
      if (read(fds[0], &i, sizeof i) != sizeof i) /* a commit has returned */
        child_failed(pid, "before the first acknowledgement");
      assert_int_equal(i, acked + 1);
      acked = i;
      out->after_ack++;
    }
    if (timed) {
      struct timespec delay = {0, (long)(next_random(&seed) % (after_ack ? 3000 : 12000)) * 1000};
      nanosleep(&delay, NULL);
      kill(pid, SIGKILL); /* the power cut: the child's page cache is gone */
    }
    out->at_sync += !timed;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
      fail_msg("cut %d: the child ended by itself (status %d, signal %d)", k,
               WIFEXITED(status) ? WEXITSTATUS(status) : -1,
               WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    while (read(fds[0], &i, sizeof i) == sizeof i) {
      assert_int_equal(i, acked + 1); /* commits are acknowledged in order */
      acked = i;
    }
    close(fds[0]);
    uint64_t lost = 0, first_lost = 0;
    for (uint64_t a = round_from; a <= acked; a++) {
      int n = tt_count_uuid(path, a);
      assert_true(n == 0 || n == 1); /* never twice */
      if (n == 0 && lost++ == 0)
        first_lost = a;
      if (n == 1 && lost > 0)
        fail_msg("cut %d: sale %llu survived but the earlier sale %llu did not", k,
                 (unsigned long long)a, (unsigned long long)first_lost);
    }
    if (lost > 0 && !weaken)
      fail_msg("cut %d%s%s%s: the power cut lost %llu of the %llu sales acknowledged since the "
               "last cut, from sale %llu on",
               k, timed ? "" : ", at a sync", plan.writeback ? ", early write-back" : "",
               plan.extra_sql ? ", frequent checkpoints" : "", (unsigned long long)lost,
               (unsigned long long)(acked + 1 - round_from), (unsigned long long)first_lost);
    out->lost += lost;
    out->lost_cuts += lost > 0;
    out->with_writeback += plan.writeback > 0;
    out->with_checkpoints += plan.extra_sql != NULL;
    if (k % full_every == 0 || k == cuts - 1) {
      /* integrity, gapless seq and receipt numbers, whole records */
      int64_t records = tt_check_ledger(path);
      int64_t present = (int64_t)(acked - out->lost);
      if (records != present && records != present + 1)
        fail_msg("cut %d: %lld records for %lld surviving acknowledged sales", k,
                 (long long)records, (long long)present);
    }
  }
  out->cuts = cuts;
  out->acked = acked;
  tt_rmtree(dir);
}

/* The positive count in environment variable name, or fallback if unset. */
static int env_count(const char *name, int fallback) {
  const char *z = getenv(name);
  if (z == NULL || *z == '\0')
    return fallback;
  char *end;
  errno = 0;
  long v = strtol(z, &end, 10);
  if (errno != 0 || *end != '\0' || v < 1 || v > 1000000)
    fail_msg("%s must be a count from 1 to 1000000, not '%s'", name, z);
  return (int)v;
}

static void power_cut_keeps_every_acknowledged_sale(void **state) {
  (void)state;
  cut_tally c;
  power_cuts(env_count("TG_POWERCUT_KILLS", 100), 0, &c);
  printf("# %d cuts (%d timed after an acknowledgement, %d as a sync began, %d with early "
         "write-back, %d with frequent checkpoints): %llu sales acknowledged, %llu lost\n",
         c.cuts, c.after_ack, c.at_sync, c.with_writeback, c.with_checkpoints,
         (unsigned long long)c.acked, (unsigned long long)c.lost);
  assert_int_equal(c.lost, 0);
  assert_true(c.acked > 0);
}

enum { WEAK_CUTS = 40 };

/* The proof that the cut is real: without a sync at each commit, sales whose
 * commit returned 0 must be lost at some cut, or the VFS kept what it must
 * not. */
static void power_cut_under_synchronous_normal_loses_sales(void **state) {
  (void)state;
  cut_tally c;
  power_cuts(WEAK_CUTS, 1, &c);
  printf("# synchronous = NORMAL: %d cuts, %llu sales acknowledged, %llu lost at %d cuts\n",
         c.cuts, (unsigned long long)c.acked, (unsigned long long)c.lost, c.lost_cuts);
  assert_true(c.lost_cuts > 0);
}

/* What a child of the no-cut test saw, sent to the parent. */
typedef struct {
  uint64_t committed;
  uint64_t unsynced;    /* commits that returned 0 with writes still unsynced */
  long dirty;           /* pages left unsynced at the end */
  long closed_unsynced; /* files closed holding unsynced changes */
  long syncs;
  int integrity_ok;     /* PRAGMA integrity_check through the VFS said ok */
} quiet_report;

/* The child of the no-cut test: commits n sales from `from` on through the
 * VFS, checks integrity through it, then either closes the terminal, or
 * (close_it = 0, under synchronous = NORMAL and a tiny cache so reads go
 * through the VFS) writes the cache back without a sync, as the OS does for
 * a process that dies while the machine stays up. Sends a quiet_report on fd
 * and exits without flushing anything else. Never returns. */
static void quiet_child(const char *path, uint64_t from, int n, int close_it, int fd) {
  quiet_report r;
  sqlite3_stmt *st;
  memset(&r, 0, sizeof r);
  child_plan plan = {1, 0, 0, !close_it, close_it ? NULL : "PRAGMA cache_size = 8"};
  tg_terminal *t = child_open(path, &plan);
  for (int i = 0; i < n; i++) {
    if (tt_commit_quiet(t, from + (uint64_t)i) != 0)
      _exit(CHILD_COMMIT);
    r.committed++;
    r.unsynced += pc_dirty_pages() > 0; /* a cut now would lose this sale */
  }
  if (sqlite3_prepare_v2(t->db, "PRAGMA integrity_check", -1, &st, NULL) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW)
    r.integrity_ok = strcmp((const char *)sqlite3_column_text(st, 0), "ok") == 0;
  sqlite3_finalize(st);
  if (close_it)
    tg_terminal_close(t);
  r.dirty = pc_dirty_pages();
  if (!close_it && pc_flush_all() != SQLITE_OK)
    _exit(CHILD_VFS);
  r.closed_unsynced = pc.closed_unsynced;
  r.syncs = pc.syncs;
  if (write(fd, &r, sizeof r) != sizeof r)
    _exit(CHILD_PIPE);
  _exit(0);
}

/* Runs quiet_child to its end and returns its report. */
static quiet_report run_quiet(const char *path, uint64_t from, int n, int close_it) {
  int fds[2], status;
  quiet_report r;
  assert_int_equal(pipe(fds), 0);
  fflush(stdout);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(fds[0]);
    quiet_child(path, from, n, close_it, fds[1]);
  }
  close(fds[1]);
  if (read(fds[0], &r, sizeof r) != sizeof r)
    child_failed(pid, "before its report");
  close(fds[0]);
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  assert_int_equal(r.committed, (uint64_t)n);
  assert_true(r.integrity_ok);
  return r;
}

enum { QUIET_SALES = 300, QUIET_NORMAL_SALES = 800 };

/* Without a cut the VFS loses nothing: a clean close leaves nothing unsynced
 * (so a cut just after it keeps every sale), and under NORMAL, with reads
 * through the cache and WAL restarts after checkpoints, what the cache holds
 * is exactly the committed ledger once written back. So the losses above
 * come from the cut alone. */
static void no_cut_loses_nothing(void **state) {
  (void)state;
  char *dir = tt_tmpdir(), path[4096];
  tg_terminal *t = tt_terminal(dir, path);
  tg_terminal_close(t);

  quiet_report r = run_quiet(path, 1, QUIET_SALES, 1);
  assert_int_equal(r.unsynced, 0); /* each commit returned with everything synced */
  assert_int_equal(r.closed_unsynced, 0);
  assert_int_equal(r.dirty, 0);
  assert_true(r.syncs >= QUIET_SALES); /* at least one per commit */
  for (uint64_t a = 1; a <= QUIET_SALES; a++)
    assert_int_equal(tt_count_uuid(path, a), 1);
  assert_int_equal(tt_check_ledger(path), QUIET_SALES);
  printf("# closed cleanly: %d sales, %ld syncs, no commit returned before its sync, nothing "
         "left unsynced\n",
         QUIET_SALES, r.syncs);

  r = run_quiet(path, QUIET_SALES + 1, QUIET_NORMAL_SALES, 0);
  assert_true(r.unsynced > 0); /* NORMAL left commits in the cache only */
  for (uint64_t a = 1; a <= QUIET_SALES + QUIET_NORMAL_SALES; a++)
    assert_int_equal(tt_count_uuid(path, a), 1);
  assert_int_equal(tt_check_ledger(path), QUIET_SALES + QUIET_NORMAL_SALES);
  printf("# synchronous = NORMAL, written back without a cut: %d sales, %ld syncs, %llu "
         "commits returned before their sync, %ld pages unsynced at the end\n",
         QUIET_NORMAL_SALES, r.syncs, (unsigned long long)r.unsynced, r.dirty);
  tt_rmtree(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(no_cut_loses_nothing),
      cmocka_unit_test(power_cut_keeps_every_acknowledged_sale),
      cmocka_unit_test(power_cut_under_synchronous_normal_loses_sales),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
