# The browser suites' shared shell, sourced with $dir set (a temporary folder
# the suite removes): TAP checks, bounded headless Chromium, PNG sizes.
n=0 failed=0
check() { # description, then a command that must succeed
  n=$((n + 1))
  d=$1
  shift
  if "$@" >/dev/null 2>&1; then echo "ok $n - $d"; else echo "not ok $n - $d"; failed=1; fi
}
browser() { # window size, then chromium's other arguments; bounded, sandbox-less (root in CI)
  size=$1
  shift
  timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync --hide-scrollbars \
    --user-data-dir="$(mktemp -d "$dir/chrome-XXXXXX")" --window-size="$size" "$@" 2>/dev/null
}
blank_screenshot() { # window size: a blank page's screenshot in $dir/blank.png, for comparison
  printf '<!DOCTYPE html><title>blank</title>' >"$dir/blank.html"
  browser "$1" --screenshot="$dir/blank.png" "file://$dir/blank.html" >/dev/null
}
# bytes 16..23 of a PNG are its width and height, big-endian
png_size() { od -An -tu1 -j16 -N8 "$1" | awk '{print $1*16777216+$2*65536+$3*256+$4 "x" $5*16777216+$6*65536+$7*256+$8}'; }
