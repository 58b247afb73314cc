/*
 * Crash test: a child commits sales in a loop and is killed with SIGKILL at a
 * random moment, again and again: half the time at any moment from its start
 * (opening, WAL recovery), half the time once its commits are running. After
 * each kill the ledger must be intact, every sale whose commit returned
 * success there exactly once, seq gapless, and no sale partial.
 * TG_CRASH_KILLS sets the count (make soak).
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"

/* The child: commit sales from `from` on, acknowledging each on fd after its
 * commit returned. Never returns. */
static void child(const char *path, uint64_t from, int fd) {
  tg_terminal *t;
  if (tg_terminal_open(path, &t) != 0)
    _exit(2);
  for (uint64_t i = from;; i++) {
    if (tt_commit_quiet(t, i) != 0)
      _exit(3);
    if (write(fd, &i, sizeof i) != sizeof i)
      _exit(4);
  }
}

static uint64_t next_random(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

static void sigkill_never_loses_or_doubles_a_sale(void **state) {
  (void)state;
  const char *env = getenv("TG_CRASH_KILLS");
  int kills = env != NULL ? (int)strtol(env, NULL, 10) : 200;
  int full_every = kills > 500 ? 25 : 1; /* the soak checks the whole ledger less often */
  char *dir = tt_tmpdir(), path[4096];
  tg_terminal *t = tt_terminal(dir, path);
  tg_terminal_close(t);
  uint64_t seed = (uint64_t)time(NULL) | 1, acked = 0;
  int killed_mid_run = 0, landed_among_commits = 0;
  assert_true(kills > 0);
  printf("# seed %llu, %d kills\n", (unsigned long long)seed, kills);
  for (int k = 0; k < kills; k++) {
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
      close(fds[0]);
      child(path, acked + 1, fds[1]);
    }
    close(fds[1]);
    uint64_t i, round_from = acked + 1;
    int among_commits = k % 2; /* else the kill may land in open or WAL recovery */
    if (among_commits) {
      assert_int_equal(read(fds[0], &i, sizeof i), sizeof i); /* a commit has returned */
      assert_int_equal(i, acked + 1);
      acked = i;
      landed_among_commits++;
    }
    struct timespec delay = {0, (long)(next_random(&seed) % (among_commits ? 3000 : 12000)) * 1000};
    nanosleep(&delay, NULL);
    kill(pid, SIGKILL);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status))
      killed_mid_run++;
    else
      fail_msg("the child stopped by itself with status %d", WEXITSTATUS(status));
    ssize_t n;
    while ((n = read(fds[0], &i, sizeof i)) == sizeof i) {
      assert_int_equal(i, acked + 1); /* commits are acknowledged in order */
      acked = i;
    }
    close(fds[0]);
    /* every sale acknowledged in this round is there exactly once */
    for (uint64_t a = round_from; a <= acked; a++)
      assert_int_equal(tt_count_uuid(path, a), 1);
    if (k % full_every == 0 || k == kills - 1) {
      /* integrity, gapless seq and receipt numbers, whole records */
      int64_t records = tt_check_ledger(path);
      /* nothing lost, nothing doubled: the acknowledged sales, plus at most
       * the one whose acknowledgement the kill cut off */
      assert_true(records == (int64_t)acked || records == (int64_t)acked + 1);
    }
  }
  for (uint64_t a = 1; a <= acked; a++)
    assert_int_equal(tt_count_uuid(path, a), 1);
  printf("# %d kills (%d among running commits), %llu sales acknowledged\n", killed_mid_run,
         landed_among_commits, (unsigned long long)acked);
  assert_int_equal(killed_mid_run, kills);
  tt_rmtree(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(sigkill_never_loses_or_doubles_a_sale),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
