#!/bin/sh
# Runs every test suite, each isolated with a timeout, and ends with one line
# "N passed, N failed[, N skipped]". Suites speak TAP (cmocka with
# CMOCKA_MESSAGE_OUTPUT=TAP, and the shell suites). Exits non-zero on any failure.
BUILD=${BUILD:-build}
FUZZ_BUILD=${FUZZ_BUILD:-build/fuzz}
TIMEOUT=${TG_TEST_TIMEOUT:-600}
FUZZ_RUNS=${TG_FUZZ_RUNS:-20000}
# fontconfig keeps 288 bytes of its parsed configuration for the life of the process
export LSAN_OPTIONS="suppressions=$(pwd)/tests/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
logs=$BUILD/tests/logs
mkdir -p "$logs"
passed=0 failed=0 skipped=0 reasons=""

suite() { # name command...
  name=$1
  shift
  log=$logs/$name.log
  CMOCKA_MESSAGE_OUTPUT=TAP BUILD=$BUILD timeout "$TIMEOUT" "$@" >"$log" 2>&1
  rc=$?
  # cmocka's TAP writes a skip as "not ok N # SKIP": a skip, not a failure
  s=$(grep -cE '^(not )?ok [0-9]+.*# SKIP' "$log")
  p=$(grep -E '^ok [0-9]+' "$log" | grep -vc '# SKIP')
  f=$(grep -E '^not ok [0-9]+' "$log" | grep -vc '# SKIP')
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    f=1 # crashed or timed out before reporting
    echo "  $name exited with status $rc (124 = timeout after ${TIMEOUT}s)" >>"$log"
  fi
  passed=$((passed + p))
  failed=$((failed + f))
  skipped=$((skipped + s))
  if [ "$s" -gt 0 ]; then
    reasons="$reasons$(grep '^# skip reason:' "$log" | sed "s/^# skip reason:/  $name:/")
"
  fi
  printf '%-22s %4d passed, %d failed%s\n' "$name" "$p" "$f" "$([ "$s" -gt 0 ] && echo ", $s skipped")"
  if [ "$f" -gt 0 ]; then
    sed 's/^/    | /' "$log" | tail -n 60
  fi
}

for t in "$BUILD"/tests/test_*; do
  case $t in
  *.log | *.o) continue ;;
  # The USB suite runs against umockdev's emulated sysfs and device nodes, which
  # its preload library provides; under ASan that library comes before ASan's.
  */test_usb) [ -x "$t" ] && suite test_usb env \
    ASAN_OPTIONS="verify_asan_link_order=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}" umockdev-wrapper "$t" ;;
  *) [ -x "$t" ] && suite "$(basename "$t")" "$t" ;;
  esac
done
suite cli sh tests/cli.sh "$BUILD"
suite report_browser sh tests/report_browser.sh "$BUILD"
suite join_browser sh tests/join_browser.sh "$BUILD"
# The protocol suite and HQ's storage once more on PostgreSQL: a throwaway
# cluster made by pg_virtualenv (postgresql-common), removed when it returns.
for t in test_sync test_hq_store test_report test_join test_nightly test_reconcile; do
  [ -x "$BUILD/tests/$t" ] || continue
  suite "$t-postgresql" pg_virtualenv -t sh -c \
    "TG_TEST_HQ=postgresql:// TG_TEST_PG=postgresql:// $BUILD/tests/$t"
done
for f in "$FUZZ_BUILD"/fuzz_*; do
  [ -x "$f" ] || continue
  n=$(basename "$f")
  suite "$n" sh -c "mkdir -p $FUZZ_BUILD/corpus/$n && $f -runs=$FUZZ_RUNS -max_len=65536 \
    $FUZZ_BUILD/corpus/$n tests/fuzz/corpus/$n && echo 'ok 1 - $n: $FUZZ_RUNS runs, no crash'"
done

if [ -n "$reasons" ]; then
  echo "skipped:"
  printf '%s' "$reasons"
fi
if [ "$skipped" -gt 0 ]; then
  echo "$passed passed, $failed failed, $skipped skipped"
else
  echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
