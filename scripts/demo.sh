#!/bin/sh
# make demo: one terminal's morning in a temporary folder: initialise, ring up
# sales (one retried by a host that crashed), void one, refund, print the
# receipt with its group invite (text, ESC/POS, PNG preview), show the queue,
# then drain it into a head office (tillgroup-hq on loopback) exactly once,
# answer HQ's nightly pull and make HQ's report.
set -eu
TG=${1:-build/tillgroup}
HQ=$(dirname "$TG")/tillgroup-hq
dir=$(mktemp -d /tmp/tillgroup-demo-XXXXXX)
hq_pid= pull_pid=
trap 'for p in $hq_pid $pull_pid; do kill "$p" 2>/dev/null; done; rm -rf "$dir"' EXIT
export TILLGROUP_DB="$dir/terminal.db"
if [ -t 1 ]; then bold='\033[1m' plain='\033[0m'; else bold='' plain=''; fi
step() { printf "\n${bold}\$ %s${plain}\n" "$*"; }

step tillgroup init --store S1 --terminal T1 --currency CNY --tz Asia/Shanghai
"$TG" init --store S1 --terminal T1 --currency CNY --tz Asia/Shanghai

milk='{"uuid":"6f1c0e2a-4b1d-4c8e-9a77-1b2c3d4e5f01",
 "lines":[{"sku":"6901234567892","name":"有机全脂牛奶 1L","qty":2,"unit_price":1290},
          {"sku":"2000000012346","name":"山东烟台红富士苹果","qty_milli":2500,"unit_price":798,"discount":50}],
 "order_discount":100, "cashier":"王芳", "guide":"G07",
 "tenders":[{"kind":"cash","amount":5000}]}'
step "tillgroup sale < milk-and-apples.json"
echo "$milk" | "$TG" sale
step "tillgroup sale < milk-and-apples.json   # the POS crashed and sends it again"
echo "$milk" | "$TG" sale

step "tillgroup sale --json < rice.json       # 10% off, paid by WeChat Pay"
echo '{"uuid":"6f1c0e2a-4b1d-4c8e-9a77-1b2c3d4e5f02",
 "lines":[{"sku":"6902345678901","name":"五常大米 5kg","qty":1,"unit_price":6900},
          {"sku":"6903456789012","name":"鸡蛋 30 枚","qty":1,"unit_price":2280}],
 "order_discount_bp":1000,
 "tenders":[{"kind":"wallet","amount":8262,"reference":"wx-4200001234"}]}' | "$TG" sale --json

step "tillgroup sale < short.json             # the customer is 1.00 short"
echo '{"uuid":"6f1c0e2a-4b1d-4c8e-9a77-1b2c3d4e5f03",
 "lines":[{"sku":"6904","name":"Coca-Cola 可口可乐 330ml×6","qty":1,"unit_price":1590}],
 "tenders":[{"kind":"cash","amount":1490}]}' | "$TG" sale || echo "(exit $?: refused, nothing recorded)"

step "tillgroup sale --void < short.json      # the customer leaves"
echo '{"uuid":"6f1c0e2a-4b1d-4c8e-9a77-1b2c3d4e5f03",
 "lines":[{"sku":"6904","name":"Coca-Cola 可口可乐 330ml×6","qty":1,"unit_price":1590}]}' |
  "$TG" sale --void

step "tillgroup refund S1-T1-1 --line 1:1 --uuid 6f1c0e2a-4b1d-4c8e-9a77-1b2c3d4e5f04"
"$TG" refund S1-T1-1 --line 1:1 --uuid 6f1c0e2a-4b1d-4c8e-9a77-1b2c3d4e5f04
step tillgroup show S1-T1-1
"$TG" show S1-T1-1
step "tillgroup receipt S1-T1-1 --invite HTTPS://HQ.EXAMPLE.COM/J/6BFOXN*TS6+H0V7LZ+DS3QI1B2   # 58 mm"
"$TG" receipt S1-T1-1 --invite 'HTTPS://HQ.EXAMPLE.COM/J/6BFOXN*TS6+H0V7LZ+DS3QI1B2'
step "tillgroup receipt S1-T1-1 --invite ... --format escpos -o receipt.bin; --format png -o receipt.png"
"$TG" receipt S1-T1-1 --invite 'HTTPS://HQ.EXAMPLE.COM/J/6BFOXN*TS6+H0V7LZ+DS3QI1B2' --format escpos \
  -o "$dir/receipt.bin"
"$TG" receipt S1-T1-1 --invite 'HTTPS://HQ.EXAMPLE.COM/J/6BFOXN*TS6+H0V7LZ+DS3QI1B2' --format png \
  -o "$dir/receipt.png"
echo "ESC/POS: $(wc -c <"$dir/receipt.bin") bytes for the printer; the preview's QR code reads:"
zbarimg -q "$dir/receipt.png" 2>/dev/null
mkdir -p build && cp "$dir/receipt.png" build/demo-receipt.png && echo "(preview kept in build/demo-receipt.png)"
step tillgroup status
"$TG" status
step "tillgroup export | cut -c1-110"
"$TG" export | cut -c1-110

export TILLGROUP_HQ_DB="sqlite:$dir/hq.db"
step "tillgroup-hq serve --listen 127.0.0.1:0 &      # head office, on SQLite"
"$HQ" serve --listen 127.0.0.1:0 >"$dir/hq.out" 2>"$dir/hq.log" &
hq_pid=$!
for _ in 1 2 3 4 5 6 7 8 9 10; do grep -q listening "$dir/hq.out" 2>/dev/null && break; sleep 0.5; done
cat "$dir/hq.out"
port=$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$dir/hq.out")
step "tillgroup-hq enrol S1 T1 | tillgroup enrol --hq http://127.0.0.1:$port"
"$HQ" enrol S1 T1 | "$TG" enrol --hq "http://127.0.0.1:$port"
step "tillgroup sync --once"
"$TG" sync --once
step "tillgroup sync --once                   # again: nothing new, nothing sent twice"
"$TG" sync --once
step "tillgroup-hq terminals"
"$HQ" terminals

step "tillgroup sale < tea.json                # sold after the last sync: the nightly pull fetches it"
echo '{"uuid":"6f1c0e2a-4b1d-4c8e-9a77-1b2c3d4e5f05",
 "lines":[{"sku":"6905","name":"西湖龙井 250g","qty":1,"unit_price":16800}],
 "tenders":[{"kind":"cash","amount":20000}]}' | "$TG" sale

step "tillgroup serve-sync --listen 127.0.0.1:0 &   # the terminal answers HQ's nightly pull"
"$TG" serve-sync --listen 127.0.0.1:0 >"$dir/pull.out" 2>"$dir/pull.log" &
pull_pid=$!
for _ in 1 2 3 4 5 6 7 8 9 10; do grep -q listening "$dir/pull.out" 2>/dev/null && break; sleep 0.5; done
cat "$dir/pull.out"
pull_port=$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$dir/pull.out")
step "tillgroup-hq terminal pull-url S1 T1 http://127.0.0.1:$pull_port"
"$HQ" terminal pull-url S1 T1 "http://127.0.0.1:$pull_port"
today=$(TZ=Asia/Shanghai date +%F)
step "tillgroup-hq nightly --date $today --json nightly.json --html nightly.html"
"$HQ" nightly --date "$today" --json "$dir/nightly.json" --html "$dir/nightly.html"
step "tillgroup-hq terminals                   # HQ holds the tea sale now, exactly once"
"$HQ" terminals
step "tillgroup-hq report --from $today --to $today -o report.html"
"$HQ" report --from "$today" --to "$today" -o "$dir/report.html"
cp "$dir/nightly.html" build/demo-nightly.html && cp "$dir/report.html" build/demo-report.html &&
  echo "(kept in build/demo-nightly.html and build/demo-report.html)"
