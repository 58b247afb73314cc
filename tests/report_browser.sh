#!/bin/sh
# tillgroup-hq report in a real browser: headless Chromium renders the HTML at
# desktop size from a file URL (nothing fetched), its DOM must hold the
# charts, and the screenshot must be the page, not a blank one. TAP output.
BUILD=${1:-build}
HQ=$BUILD/tillgroup-hq
dir=$(mktemp -d /tmp/tg-report-XXXXXX)
trap 'rm -rf "$dir"' EXIT
export TILLGROUP_HQ_DB="sqlite:$dir/hq.db"
. "$(dirname "$0")/chromium.sh"

echo "1..6"
for s in 1 2 3 4; do # four Shanghai days of two stores: sales, invites, coupons, members
  t=$((1795140000000 + (s - 1) * 86400000))
  printf '{"store":"S1","terminal":"T1","epoch":1,"seq":%d,"kind":"sale","uuid":"6f1c0e2a-4b1d-4c8e-9a77-1b2c3d4e5f0%d","time_ms":%d,"currency":"CNY","total":%d,"guide":"G0%d","member":100%d,"invite":"X","promotions":[{"campaign":1,"coupon":50%d}],"coupon_issued":{"coupon":60%d,"campaign":1}}\n' \
    "$s" "$s" "$t" $((s * 1500)) $((s % 2)) $((s % 3)) "$s" "$s" >>"$dir/s1.ndjson"
  printf '{"store":"S2","terminal":"T1","epoch":1,"seq":%d,"kind":"sale","uuid":"6f1c0e2a-4b1d-4c8e-9a77-1b2c3d4e5f1%d","time_ms":%d,"currency":"CNY","total":%d,"guide":"店员甲","invite":"X","promotions":[]}\n' \
    "$s" "$s" $((t + 3600000)) $((s * 900)) >>"$dir/s2.ndjson"
done
"$HQ" enrol S1 T1 >/dev/null && "$HQ" enrol S2 T1 >/dev/null
check "records load into HQ" "$HQ" load "$dir/s1.ndjson"
"$HQ" load "$dir/s2.ndjson" >/dev/null
check "report writes the page" "$HQ" report --from 2026-11-20 --to 2026-11-23 -o "$dir/report.html"
browser 800,1400 --dump-dom "file://$dir/report.html" >"$dir/dom.html"
check "Chromium's DOM holds the five sections" test "$(grep -c '<h2>' "$dir/dom.html")" -ge 5
check "the charts are drawn (SVG bars)" test "$(grep -o '<rect' "$dir/dom.html" | wc -l)" -ge 12
browser 800,1400 --screenshot="$dir/report.png" "file://$dir/report.html" >/dev/null
blank_screenshot 800,1400
check "the screenshot is 800x1400" test "$(png_size "$dir/report.png")" = 800x1400
# a blank page compresses to a few KB; the rendered report to many times that
check "the screenshot shows the page, not a blank one" \
  test "$(wc -c <"$dir/report.png")" -gt $((4 * $(wc -c <"$dir/blank.png")))
exit $failed
