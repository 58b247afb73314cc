#!/bin/sh
# Runs every test suite, each isolated with a timeout, and ends with one line
# "N passed, N failed[, N skipped]". Suites speak TAP (cmocka with
# CMOCKA_MESSAGE_OUTPUT=TAP, and the shell suites). Exits non-zero on any failure.
BUILD=${BUILD:-build}
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
  s=$(grep -cE '^ok [0-9]+.*# SKIP' "$log")
  p=$(($(grep -cE '^ok [0-9]+' "$log") - s))
  f=$(grep -cE '^not ok [0-9]+' "$log")
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
  case $t in *.log | *.o) continue ;; esac
  [ -x "$t" ] && suite "$(basename "$t")" "$t"
done
suite cli sh tests/cli.sh "$BUILD"
for f in "$BUILD"/fuzz/fuzz_*; do
  [ -x "$f" ] || continue
  n=$(basename "$f")
  suite "$n" sh -c "mkdir -p $BUILD/corpus/$n && $f -runs=$FUZZ_RUNS -max_len=65536 \
    $BUILD/corpus/$n tests/fuzz/corpus/$n && echo 'ok 1 - $n: $FUZZ_RUNS runs, no crash'"
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
