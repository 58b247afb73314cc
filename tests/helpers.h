/* Shared helpers of the test suites: temporary terminals, sales, ledger checks. */
#ifndef TG_TEST_HELPERS_H
#define TG_TEST_HELPERS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
/* cmocka after the headers it needs */
#include <cmocka.h>

#include "pos.h"
#include "tillgroup.h"

/* Skips the running test and prints why, for the summary. */
#define TT_SKIP(reason)                           \
  do {                                            \
    printf("# skip reason: %s\n", reason);        \
    skip();                                       \
  } while (0)

/* Asserts that rc is 0, printing the handle's detail if not. */
#define TT_OK(t, rc)                                                            \
  do {                                                                          \
    int tt_rc_ = (rc);                                                          \
    if (tt_rc_ != 0)                                                            \
      fail_msg("%s: %s", tg_err_name(tt_rc_), tg_last_detail(t));               \
  } while (0)

/* A fresh terminal in its own folder, for cmocka setup and teardown:
 * tt_setup() puts a tt_fixture in *state, tt_teardown() removes it all. */
typedef struct {
  char *dir;
  char path[4096];
  tg_terminal *t;
} tt_fixture;
int tt_setup(void **state);
int tt_teardown(void **state);

/* A new empty folder; free with tt_rmtree(). */
char *tt_tmpdir(void);
/* Removes dir and the files in it, and frees it. */
void tt_rmtree(char *dir);
/* Appends all of the file at path to b; fails the test when it cannot be read. */
void tt_slurp(const char *path, tg__buf *b);
/* Initialises terminal S1-T1 (CNY, Asia/Shanghai) at dir/t.db, copies the path
 * into path (4096 bytes) and returns it open. */
tg_terminal *tt_terminal(const char *dir, char *path);
/* The UUID numbered i: 00000000-0000-4000-8000-<i as 12 hex digits>. */
void tt_uuid(uint64_t i, char out[TG_UUID_LEN + 1]);
/* A sale numbered i with n_lines lines whose content depends only on i, and
 * an exact cash tender: the same i always makes the same request. */
tg_sale *tt_sale(tg_terminal *t, uint64_t i, int n_lines);
/* Commits sale i (1 to 6 lines, content fixed by i) without cmocka, for code
 * that runs in a forked child: 0 or the error code. */
int tt_commit_quiet(tg_terminal *t, uint64_t i);
/* Makes *vfs a copy of the default VFS named name whose files are extra
 * bytes larger (for a wrapper's own state before the real file) and that
 * opens and deletes with x_open and x_delete (NULL: the default's own); every
 * other method is the default's, which reads only what the copy keeps.
 * Returns the default VFS, for the wrapper to call, or NULL. */
sqlite3_vfs *tt_vfs_wrap(sqlite3_vfs *vfs, const char *name, int extra,
                         int (*x_open)(sqlite3_vfs *, sqlite3_filename, sqlite3_file *, int,
                                       int *),
                         int (*x_delete)(sqlite3_vfs *, const char *, int));
/* Commits tt_sale(t, i, n_lines) and returns 0 or the error code. */
int tt_commit(tg_terminal *t, uint64_t i, int n_lines, char receipt[TG_RECEIPT_MAX]);
/* Checks every ledger invariant of the database at path through its own
 * connection (integrity, gapless seq and receipt numbers, each record whole
 * and summing exactly, refunds within what was sold); fails the test on any
 * violation. Returns the number of records. */
int64_t tt_check_ledger(const char *path);
/* A fingerprint of everything the ledger holds, to show a refused input
 * changed nothing. */
uint64_t tt_fingerprint(const char *path);
/* Counts records whose uuid is tt_uuid(i). */
int tt_count_uuid(const char *path, uint64_t i);

/* Allocation failure injection through SQLite's allocator, which tg__malloc
 * uses: install once before anything initialises SQLite (0 or an SQLite
 * error); arm to fail the nth allocation counted from now (and, if
 * persistent, every later one); disarm to stop, returning how many failures
 * were injected. jansson keeps malloc: its lexer drops a byte when growing a
 * buffer fails, which no caller can tell from good input. One thread only. */
int tt_mem_install(void);
void tt_mem_arm(int persistent, long n);
long tt_mem_disarm(void);
/* Allocations counted since the last arming. */
long tt_mem_calls(void);

/*
 * Takes the closed HQ database spec ("sqlite:PATH" or a libpq URI) back to
 * schema version 1, as one made before groups and joins, the nightly pull
 * and settlements: drops what steps 2 and later made, keeping step 1's data.
 * Fails the test when it cannot.
 */
void tt_hq_schema_v1(const char *spec);

#endif
