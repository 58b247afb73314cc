/* Child processes of the suites: run to their end, or started as servers. */
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
/* cmocka after the headers it needs */
#include <cmocka.h>

#include "hq_process.h"

void tt_build_file(const char *name, char *out, size_t cap) {
  const char *build = getenv("BUILD");
  snprintf(out, cap, "%s/%s", build != NULL ? build : "build", name);
}

void tt_hq_spec(const char *dir, char *out, size_t cap) {
  const char *pg = getenv("TG_TEST_HQ");
  if (pg != NULL && pg[0] != '\0')
    snprintf(out, cap, "%s", pg);
  else
    snprintf(out, cap, "sqlite:%s/hq.db", dir);
}

/* In the child: stdout to out_fd, stdin from in_fd (-1: unchanged), stderr
 * appended to dir/log; then argv. Never returns. */
static void exec_child(const char *dir, const char *log, char *const argv[], int out_fd,
                       int in_fd) {
  char path[4300];
  snprintf(path, sizeof path, "%s/%s", dir, log);
  int err = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
  dup2(out_fd, 1);
  if (in_fd >= 0)
    dup2(in_fd, 0);
  if (err >= 0)
    dup2(err, 2);
  execv(argv[0], argv);
  _exit(127);
}

int tt_process_run(const char *dir, const char *log, char *const argv[], const char *in,
                   char *out, size_t cap) {
  int o[2], i[2];
  assert_int_equal(pipe(o), 0);
  assert_int_equal(pipe(i), 0);
  pid_t pid = fork();
  if (pid == 0) {
    close(o[0]);
    close(i[1]);
    exec_child(dir, log, argv, o[1], i[0]);
  }
  close(o[1]);
  close(i[0]);
  if (in != NULL && write(i[1], in, strlen(in)) < 0)
    fail_msg("write to child");
  close(i[1]);
  size_t n = 0;
  ssize_t r;
  while (n + 1 < cap && (r = read(o[0], out + n, cap - 1 - n)) > 0)
    n += (size_t)r;
  out[n] = '\0';
  close(o[0]);
  int status;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

pid_t tt_process_start(const char *dir, const char *log, char *const argv[], int *port) {
  int pipefd[2];
  assert_int_equal(pipe(pipefd), 0);
  pid_t pid = fork();
  if (pid == 0) {
    close(pipefd[0]);
    exec_child(dir, log, argv, pipefd[1], -1);
  }
  close(pipefd[1]);
  char line[256];
  size_t n = 0;
  struct pollfd pfd = {pipefd[0], POLLIN, 0};
  while (n + 1 < sizeof line && memchr(line, '\n', n) == NULL && poll(&pfd, 1, 10000) > 0) {
    ssize_t r = read(pipefd[0], line + n, sizeof line - 1 - n);
    if (r <= 0)
      break;
    n += (size_t)r;
  }
  line[n] = '\0';
  close(pipefd[0]);
  const char *colon = strrchr(line, ':');
  if (strncmp(line, "listening on ", 13) != 0 || colon == NULL) {
    tt_process_stop(pid, SIGKILL);
    fail_msg("%s did not start: \"%s\" (see %s/%s)", argv[0], line, dir, log);
  }
  *port = (int)strtol(colon + 1, NULL, 10);
  return pid;
}

void tt_process_stop(pid_t pid, int sig) {
  if (pid <= 0)
    return;
  kill(pid, sig);
  waitpid(pid, NULL, 0);
}

void tt_hq_enrol(const char *dir, const char *log, const char *hq_bin, const char *spec,
                 const char *store, const char *terminal, char *cred, size_t cap) {
  char *argv[] = {(char *)hq_bin, "enrol", "--db", (char *)spec, (char *)store, (char *)terminal,
                  NULL};
  int rc = tt_process_run(dir, log, argv, NULL, cred, cap);
  if (rc != 0)
    fail_msg("tillgroup-hq enrol %s %s exited with %d (see %s/%s)", store, terminal, rc, dir, log);
  cred[strcspn(cred, "\n")] = '\0';
}
