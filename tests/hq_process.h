/* Child processes of the suites: tillgroup-hq and tillgroup commands run to
 * their end, and servers started until they print where they listen. */
#ifndef TG_TEST_HQ_PROCESS_H
#define TG_TEST_HQ_PROCESS_H

#include <stddef.h>
#include <sys/types.h>

/* The path of the built program name ("tillgroup", "tillgroup-hq") into
 * out[0..cap): $BUILD/name, or build/name when BUILD is not set. */
void tt_build_file(const char *name, char *out, size_t cap);

/* The HQ database spec of a suite into out[0..cap): $TG_TEST_HQ when set and
 * not empty (a libpq URI: tests/run.sh reruns HQ suites on PostgreSQL), else
 * "sqlite:DIR/hq.db". */
void tt_hq_spec(const char *dir, char *out, size_t cap);

/* Runs argv (argv[0] a path) and waits for it: stdin from in (NULL: empty),
 * stdout into out[0..cap) NUL-terminated, stderr appended to the file
 * dir/log. Returns its exit status, or -1 when it did not exit normally. */
int tt_process_run(const char *dir, const char *log, char *const argv[], const char *in,
                   char *out, size_t cap);

/* Starts argv (argv[0] a path), a server that prints "listening on HOST:PORT"
 * on stdout, its stderr appended to the file dir/log. Returns its pid and the
 * port in *port; fails the test (and kills the child) when that line does not
 * come within 10 s. Stop it with tt_process_stop(). */
pid_t tt_process_start(const char *dir, const char *log, char *const argv[], int *port);

/* Sends sig to pid and waits for it; does nothing when pid <= 0. */
void tt_process_stop(pid_t pid, int sig);

/* Runs `hq_bin enrol --db spec store terminal` (stderr into dir/log): the
 * credential line, without its newline, into cred[0..cap). Fails the test
 * unless it exits 0. */
void tt_hq_enrol(const char *dir, const char *log, const char *hq_bin, const char *spec,
                 const char *store, const char *terminal, char *cred, size_t cap);

#endif
