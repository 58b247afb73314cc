#!/bin/sh
# The join page on a phone: a terminal sells, its receipt's invite QR is read
# back from the receipt image, and headless Chromium at phone size (390x844)
# opens that URL on a real tillgroup-hq on loopback. The screenshot must be
# the page (not blank), the group QR on it must decode to the configured
# link, and the coupon QR to a welcome coupon the till accepts. TAP output.
BUILD=${1:-build}
HQ=$BUILD/tillgroup-hq
TG=$BUILD/tillgroup
dir=$(mktemp -d /tmp/tg-join-XXXXXX)
hq_pid=
trap '[ -n "$hq_pid" ] && kill "$hq_pid" 2>/dev/null; [ -n "$KEEP" ] || rm -rf "$dir"' EXIT
export TILLGROUP_HQ_DB="sqlite:$dir/hq.db"
export TILLGROUP_DB="$dir/t.db"
LINK="https://work.weixin.qq.com/gm/JOINTEST42"
. "$(dirname "$0")/chromium.sh"

echo "1..10"
# HQ on a free loopback port, stopped by the trap (and by timeout at the latest)
timeout 300 "$HQ" serve --listen 127.0.0.1:0 >"$dir/hq.out" 2>"$dir/hq.log" &
hq_pid=$!
for _ in $(seq 100); do grep -q listening "$dir/hq.out" 2>/dev/null && break; sleep 0.1; done
port=$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$dir/hq.out")
check "tillgroup-hq listens on loopback" test -n "$port"
"$HQ" enrol S1 T1 >"$dir/cred"
"$TG" init --store S1 --terminal T1 --currency CNY --tz Asia/Shanghai >/dev/null
"$TG" enrol --hq "http://127.0.0.1:$port" <"$dir/cred" >/dev/null
check "a group is added" "$HQ" group add --store S1 --platform wecom --name "门店一群" --link "$LINK"
printf '{"format":1,"version":1,"store":"S1","invite":{"min_spend":3000,"valid_days":30,"url":"HTTP://127.0.0.1:%s/J/"},"campaigns":[{"id":1,"type":"welcome","name":"welcome","coupon":{"kind":"amount","value":1000,"min_spend":5000,"valid_days":30}}]}' \
  "$port" >"$dir/bundle.json"
"$HQ" bundle publish --store S1 "$dir/bundle.json" >/dev/null
check "the terminal syncs the bundle" "$TG" sync --once
printf '{"uuid":"6f1c0e2a-4b1d-4c8e-9a77-1b2c3d4e5f01","guide":"G07","lines":[{"sku":"1","name":"tea","qty":1,"unit_price":9000}],"tenders":[{"kind":"cash","amount":9000}]}' \
  | "$TG" sale >/dev/null
"$TG" receipt S1-T1-1 --format png -o "$dir/receipt.png"
url=$(zbarimg --raw -q "$dir/receipt.png" 2>/dev/null | grep '^HTTP://' | head -n 1)
check "the receipt's QR holds the invite URL" test -n "$url"
browser 390,844 --screenshot="$dir/page.png" "$url" >/dev/null
blank_screenshot 390,844
check "the screenshot is phone-sized (390x844)" test "$(png_size "$dir/page.png")" = 390x844
check "the screenshot shows the page, not a blank one" \
  test "$(wc -c <"$dir/page.png")" -gt $((3 * $(wc -c <"$dir/blank.png")))
zbarimg --raw -q "$dir/page.png" >"$dir/page.txt" 2>/dev/null
check "the group QR on the phone's screen decodes to the configured link" grep -qx "$LINK" "$dir/page.txt"
# the whole page at phone width: the coupon's QR below the group's
browser 390,1800 --screenshot="$dir/tall.png" "$url" >/dev/null
zbarimg --raw -q "$dir/tall.png" 2>/dev/null | grep -v '^https://' >"$dir/coupon.txt"
coupon=$(head -n 1 "$dir/coupon.txt")
check "the coupon QR decodes to a coupon HQ recorded with the join" \
  test "$(sqlite3 "$dir/hq.db" "SELECT count(*) FROM group_join WHERE coupon = '$coupon'")" = 1
check "the till proves the coupon offline" "$TG" coupon check "$coupon"
check "two phones took two seats" sh -c "'$HQ' group list --store S1 | grep -q ' 2/200 '"
exit $failed
