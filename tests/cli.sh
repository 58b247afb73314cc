#!/bin/sh
# The tillgroup program end to end, as TAP: exit codes, one-line errors,
# help on every command, the example program, exported symbols and install.
BUILD=${1:-build}
SANITIZE=${SANITIZE:-}   # the sanitizers the build under test was made with
SAN_FLAGS=${SAN_FLAGS:-}
TG="$PWD/$BUILD/tillgroup"
dir=$(mktemp -d /tmp/tillgroup-cli-XXXXXX)
trap 'rm -rf "$dir"' EXIT
export TILLGROUP_DB="$dir/t.db"
n=0

ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $1"; shift; for l in "$@"; do echo "# $l"; done; }
# check NAME COMMAND...: passes when the command succeeds
check() { name=$1; shift; if out=$("$@" 2>&1); then ok "$name"; else not_ok "$name" "$out"; fi; }
# expect_exit NAME CODE ERROR-NAME COMMAND...: exit code CODE, one stderr line naming ERROR-NAME
expect_exit() {
  name=$1 code=$2 err=$3; shift 3
  "$@" >"$dir/out" 2>"$dir/err" </dev/null
  rc=$?
  lines=$(wc -l <"$dir/err")
  if [ "$rc" -eq "$code" ] && [ "$lines" -eq 1 ] && grep -q -- "$err" "$dir/err"; then
    ok "$name"
  else
    not_ok "$name" "exit $rc (want $code), stderr:" "$(cat "$dir/err")"
  fi
}

sale='{"uuid":"11111111-2222-4333-8444-555555555555","lines":[{"sku":"6901","name":"有机全脂牛奶 1L","qty":2,"unit_price":1290},{"sku":"2001","name":"苹果","qty_milli":2500,"unit_price":798,"discount":50}],"order_discount":100,"tenders":[{"kind":"cash","amount":5000}]}'

check "--help" sh -c "$TG --help | grep -q 'usage: tillgroup'"
for c in init sale show refund status export receipt bench bundle scan coupon member enrol sync serve-sync devices print drawer; do
  check "$c --help" sh -c "$TG $c --help | grep -q 'usage: tillgroup'"
done
check "--version" sh -c "$TG --version | grep -q 'schema'"
expect_exit "unknown command is a usage error" 2 "unknown command" "$TG" fly
expect_exit "unknown option is a usage error" 2 "unknown option" "$TG" status --fast
expect_exit "a missing database says to run init" 3 "TG_ENOENT" "$TG" status
expect_exit "init needs --store" 2 "required" "$TG" init --terminal T1
expect_exit "init refuses a bad store id" 1 "TG_EID" "$TG" init --store s-1 --terminal T1
expect_exit "init refuses an unknown currency" 1 "TG_ECURRENCY" "$TG" init --store S1 --terminal T1 --currency RMB
check "init" "$TG" init --store S1 --terminal T1
check "the database is private (0600)" sh -c "[ \$(stat -c %a '$dir/t.db') = 600 ]"
expect_exit "init refuses an existing terminal" 1 "TG_EEXIST" "$TG" init --store S1 --terminal T1

check "sale prints the receipt number" sh -c "echo '$sale' | $TG sale | grep -qx S1-T1-1"
check "the same sale again prints the same receipt" sh -c "echo '$sale' | $TG sale | grep -qx S1-T1-1"
check "sale --json prints the record" sh -c "echo '$sale' | $TG sale --json | jq -e '.receipt == \"S1-T1-1\" and .total == 4425 and .change == 575'"
expect_exit "malformed JSON is refused" 1 "TG_EJSON" sh -c "echo '{\"uuid\":' | $TG sale"
expect_exit "a short payment is refused" 1 "TG_ESHORT" sh -c "echo '$sale' | sed 's/11111111-2222/21111111-2222/; s/5000/100/' | $TG sale"
expect_exit "more than 1 MiB on stdin is refused" 1 "TG_EJSON" sh -c "head -c 1048600 /dev/zero | tr '\\0' ' ' | $TG sale"
check "sale --void records a void" sh -c "echo '$sale' | sed 's/11111111-2222/31111111-2222/' | $TG sale --void | grep -qx voided"

check "print to a file printer: the receipt's exact ESC/POS bytes" sh -c "$TG print S1-T1-1 --printer file:$dir/lp0 | grep -qx 'printed 1 receipt on file:$dir/lp0' && $TG receipt S1-T1-1 --format escpos | cmp -s - $dir/lp0"
expect_exit "print refuses a malformed printer" 1 "TG_EINVAL" "$TG" print S1-T1-1 --printer lpt1
check "a refused printer left the receipt waiting" sh -c "$TG status --json | jq -e '.print_waiting == 1'"
check "an unreachable printer: exit 5 and the receipt waits" sh -c "$TG print --printer tcp://127.0.0.1:1 --timeout 500 | grep -q '^1 receipt waiting: '; test \$? -eq 0 && { $TG print --printer tcp://127.0.0.1:1 --timeout 500 >/dev/null; test \$? -eq 5; }"
check "it prints once the printer is there" sh -c "$TG print --printer file:$dir/lp1 && $TG status --json | jq -e '.print_waiting == 0' && test -s $dir/lp1"
check "drawer kick to a file printer is ESC p 0 25 250" sh -c "$TG drawer --printer file:$dir/drawer && printf '\\033p\\000\\031\\372' | cmp -s - $dir/drawer"
check "scan --listen --scanner stdin prints each scan" sh -c "printf 'ABC\\n4006381333931\\n' | timeout 10 $TG scan --listen --scanner stdin | tr '\\n' , | grep -qx 'ABC,4006381333931,'"
expect_exit "scan --listen refuses an unknown scanner" 2 "usb, usb:VVVV:PPPP or stdin" "$TG" scan --listen --scanner com1
check "show" sh -c "$TG show S1-T1-1 | grep -q '44.25 CNY'"
check "show --json" sh -c "$TG show S1-T1-1 --json | jq -e '.lines[1].amount == 1903'"
expect_exit "show of an unknown receipt" 1 "TG_ENORECEIPT" "$TG" show S1-T1-99
expect_exit "show needs a receipt" 2 "receipt" "$TG" show

R1=41111111-2222-4333-8444-555555555551
check "refund one unit" sh -c "$TG refund S1-T1-1 --line 1:1 --uuid $R1 | grep -qx S1-T1-2"
check "the same refund command again returns the same refund" sh -c "$TG refund S1-T1-1 --line 1:1 --uuid $R1 | grep -qx S1-T1-2"
expect_exit "the same refund id for other lines is refused" 1 "TG_EREUSED" "$TG" refund S1-T1-1 --line 2 --uuid $R1
check "refund the rest" sh -c "$TG refund S1-T1-1 --all --new --json | jq -e '.total == 3164 and .original_receipt == \"S1-T1-1\"'"
expect_exit "refund beyond what was sold" 1 "TG_EOVERREFUND" "$TG" refund S1-T1-1 --line 2:0.001 --new
expect_exit "refund with a bad quantity" 2 "quantity" "$TG" refund S1-T1-1 --line 1:abc --new
expect_exit "refund needs --all or --line" 2 "--all" "$TG" refund S1-T1-1 --new
expect_exit "refund needs --uuid or --new" 2 "--uuid" "$TG" refund S1-T1-1 --all

check "status" sh -c "$TG status | grep -q '4 records waiting'"
check "status --json" sh -c "$TG status --json | jq -e '.depth == 4 and .last_seq == 4 and .oldest_unsent_seq == 1 and .db_bytes > 0'"
check "export writes every record in seq order" sh -c "$TG export | jq -e -s 'map(.kind) == [\"sale\", \"void\", \"refund\", \"refund\"] and map(.seq) == [1, 2, 3, 4]'"
check "export --since --limit" sh -c "$TG export --since 1 --limit 2 | jq -e -s 'map(.seq) == [2, 3]'"
expect_exit "export --since needs a number" 2 "record number" "$TG" export --since -1

# Head office: enrolment refusals, sync without HQ, and what status shows
sdb="$dir/s.db"
A43=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA # 32 zero bytes in base64url
check "init a terminal for sync" "$TG" --db "$sdb" init --store S1 --terminal T1
check "status before enrolment says so" sh -c "$TG --db '$sdb' status | grep -q 'not enrolled'"
check "status --json before enrolment" sh -c "$TG --db '$sdb' status --json | jq -e '.enrolled == false and .hq_url == \"\" and .dead_letters == 0 and .last_sync_ms == 0 and .last_error == \"\"'"
expect_exit "sync before enrolment" 1 "TG_ENOTENROLLED" "$TG" --db "$sdb" sync --once
expect_exit "enrol needs --hq" 2 "--hq" "$TG" --db "$sdb" enrol
expect_exit "serve-sync needs --listen" 2 "--listen" "$TG" --db "$sdb" serve-sync
expect_exit "serve-sync --threads is 1 to 16" 2 "--threads" "$TG" --db "$sdb" serve-sync --listen 127.0.0.1:0 --threads 0
expect_exit "serve-sync wants --tls-key with --tls-cert" 2 "together" "$TG" --db "$sdb" serve-sync --listen 127.0.0.1:0 --tls-cert c.pem
expect_exit "serve-sync takes no arguments" 2 "unexpected" "$TG" --db "$sdb" serve-sync --listen 127.0.0.1:0 extra
expect_exit "serve-sync before enrolment" 1 "TG_ENOTENROLLED" "$TG" --db "$sdb" serve-sync --listen 127.0.0.1:0
expect_exit "enrol takes the credential from stdin only" 2 "stdin" "$TG" --db "$sdb" enrol --hq https://hq.example.com "tg1.S1.T1.$A43.$A43"
expect_exit "enrol with nothing on stdin" 1 "TG_ECREDENTIAL" "$TG" --db "$sdb" enrol --hq https://hq.example.com
expect_exit "enrol refuses a damaged credential" 1 "TG_ECREDENTIAL" sh -c "echo 'tg1.S1.T1.abc.def' | $TG --db '$sdb' enrol --hq https://hq.example.com"
expect_exit "enrol refuses another terminal's credential" 1 "credential is for S2-T9; this till is S1-T1" sh -c "echo 'tg1.S2.T9.$A43.$A43' | $TG --db '$sdb' enrol --hq https://hq.example.com"
expect_exit "enrol refuses plain http to another machine" 1 "TG_EINVAL" sh -c "echo 'tg1.S1.T1.$A43.$A43' | $TG --db '$sdb' enrol --hq http://hq.example.com"
expect_exit "enrol refuses more than 1 KiB on stdin" 1 "1 KiB" sh -c "head -c 2000 /dev/zero | tr '\\0' A | $TG --db '$sdb' enrol --hq https://hq.example.com"
expect_exit "enrol wants --cert with --key" 2 "together" "$TG" --db "$sdb" enrol --hq https://hq.example.com --cert c.pem
check "status after refusals: still not enrolled" sh -c "$TG --db '$sdb' status --json | jq -e '.enrolled == false'"
check "enrol" sh -c "echo 'tg1.S1.T1.$A43.$A43' | $TG --db '$sdb' enrol --hq http://127.0.0.1:1 | grep -qx 'enrolled S1-T1 at http://127.0.0.1:1'"
expect_exit "serve-sync refuses an address that is not one" 1 "HOST:PORT" "$TG" --db "$sdb" serve-sync --listen localhost:0
expect_exit "sync --poll takes seconds" 2 "--poll" "$TG" --db "$sdb" sync --poll 0
expect_exit "sync to an HQ that does not answer gives up (exit 4)" 4 "TG_EOFFLINE" "$TG" --db "$sdb" sync --once --give-up 1
check "sync prints its summary even when it gives up" sh -c "$TG --db '$sdb' sync --once --give-up 1 2>/dev/null | grep -q '^sent .* records (.* bytes) in .* s; acked through 0; 0 dead letters\$'"
check "status shows HQ and the last error" sh -c "$TG --db '$sdb' status | grep -q '^hq  *http://127.0.0.1:1' && $TG --db '$sdb' status | grep -q '^error  *.*: '"
check "status --json after a failed sync" sh -c "$TG --db '$sdb' status --json | jq -e '.enrolled == true and .hq_url == \"http://127.0.0.1:1\" and .last_error_ms > 0 and (.last_error | length) > 0 and .last_sync_ms == 0'"

check "bench ledger --json" sh -c "$TG bench ledger --sales 40 --rounds 2 --dir '$dir' --json | jq -e 'has(\"commits_per_s\") and has(\"p50_ms\") and has(\"p99_ms\") and has(\"floor_commits_per_s\") and has(\"floor_p99_ms\") and .ratio > 0'"

# receipts
check "receipt as text" sh -c "$TG receipt S1-T1-1 | grep -q 'S1-T1-1' && $TG receipt S1-T1-1 | grep -q '有机全脂牛奶 1L'"
check "receipt as ESC/POS starts with ESC @ and ends with a partial cut" sh -c "
  $TG receipt S1-T1-1 --format escpos -o '$dir/r.bin' && [ \"\$(head -c 2 '$dir/r.bin' | od -An -tx1 | tr -d ' ')\" = 1b40 ] &&
  [ \"\$(tail -c 4 '$dir/r.bin' | od -An -tx1 | tr -d ' ')\" = 1d564200 ]"
check "receipt --invite as PNG: zbarimg reads the invite back" sh -c "
  $TG receipt S1-T1-1 --copy --invite HTTPS://HQ.EXAMPLE.COM/J/ABC --format png -o '$dir/r.png' &&
  zbarimg -q '$dir/r.png' | grep -qx 'QR-Code:HTTPS://HQ.EXAMPLE.COM/J/ABC'"
check "receipt --json renders a reference receipt like its golden file" sh -c "
  $TG receipt --json tests/receipts/reference-receipt.json | cmp -s - tests/golden/receipts/reference-receipt.txt"
printf '[printer]\npaper = 80\ncolour = red\n' >"$dir/bad.ini"
expect_exit "receipt names a bad configuration key and its line" 1 "line 3: \\[printer\\] colour: unknown key" "$TG" receipt S1-T1-1 --config "$dir/bad.ini"
printf '[printer]\npaper = 80\n[receipt]\nheader = 幸福里店\nheader = 徐汇区幸福路 88 号\nlang = en\n' >"$dir/good.ini"
check "receipt follows the configuration" sh -c "TILLGROUP_CONFIG='$dir/good.ini' $TG receipt S1-T1-1 | grep -q '徐汇区幸福路 88 号' &&
  [ \"\$(TILLGROUP_CONFIG='$dir/good.ini' $TG receipt S1-T1-1 | awk '{ if (length > m) m = length } END { print m }')\" -gt 32 ]"
expect_exit "receipt refuses an unknown receipt" 1 "TG_ENORECEIPT" "$TG" receipt S1-T1-99
expect_exit "receipt --paper is 58 or 80" 2 "58 or 80" "$TG" receipt S1-T1-1 --paper 99
expect_exit "receipt --invite must be printable ASCII" 2 "printable ASCII" "$TG" receipt S1-T1-1 --invite "https://例子.com"
printf '{"paper_mm":58,"currency":"CNY","items":[{"name":"a","qty":-1,"line_total":1}]}' >"$dir/bad.json"
expect_exit "receipt --json says what is wrong in the file" 1 "items\\[0\\].qty" "$TG" receipt --json "$dir/bad.json"
check "bench receipt --json" sh -c "$TG bench receipt --receipt tests/receipts/reference-receipt.json --n 50 --qr raster --json | jq -e '.receipts_per_s > 0 and .bytes > 1000 and .qr == \"raster\"'"
expect_exit "bench refuses a --dir it cannot hold" 2 "longer" "$TG" bench ledger --dir "/tmp/$(printf '%5000s' | tr ' ' x)"
check "the example program" sh -c "$BUILD/tests/example '$dir/example.db' | grep -qx 'sale S1-T1-1: total 3677, change 1323'"
check "the shared library exports only tg_ names" sh -c "
  syms=\$(nm -D --defined-only $BUILD/libtillgroup.so.0 | awk '{print \$3}')
  [ -n \"\$syms\" ] && ! echo \"\$syms\" | grep -v '^tg_' && echo \"\$syms\" | grep -qx tg_sale_commit"
check "make install, then build the example with pkg-config" sh -c "
  make -s install BUILD=$BUILD SANITIZE=$SANITIZE PREFIX=/usr DESTDIR='$dir/root' >/dev/null &&
  for f in usr/bin/tillgroup usr/include/tillgroup.h usr/lib/libtillgroup.a usr/lib/libtillgroup.so.0 \
           usr/lib/pkgconfig/tillgroup.pc usr/share/man/man1/tillgroup.1; do
    [ -e '$dir/root/'\$f ] || { echo missing \$f; exit 1; }
  done &&
  make -s install BUILD=$BUILD SANITIZE=$SANITIZE PREFIX='$dir/prefix' >/dev/null &&
  PKG_CONFIG_PATH='$dir/prefix/lib/pkgconfig' cc $SAN_FLAGS -o '$dir/ex' tests/example.c \
    \$(PKG_CONFIG_PATH='$dir/prefix/lib/pkgconfig' pkg-config --cflags --libs tillgroup) &&
  LD_LIBRARY_PATH='$dir/prefix/lib' '$dir/ex' '$dir/ex.db' | grep -q 'refund S1-T1-2'"
check "the man page names every command" sh -c "for c in init sale show refund status export receipt bench bundle scan coupon member enrol sync; do grep -q \"^\\.B \$c\\|^\\.SS \$c\" docs/tillgroup.1 || { echo \$c; exit 1; }; done"
check "the man page describes serve-sync" grep -q "^\\.SS serve\\\\-sync " docs/tillgroup.1

# The community engine: the bundle, scan routing, refusals with the cashier's words
cdb="$dir/c.db"
check "init a terminal for the bundle" "$TG" --db "$cdb" init --store S1 --terminal T1
expect_exit "scan before any bundle: a member code's key is unknown" 1 "TG_EKEY" \
  "$TG" --db "$cdb" scan 'I70100W620000007H223HA10/6AI105 AJXNX5LUTCEDFOKLIME6LAV4FN42WP3.65XM67*FZ972SDA8VZLBP4BL-7IL1/55JKQIZ5E%CP*I509NX00.FT*RS5CO/0J5A'
check "bundle apply" sh -c "$TG --db '$cdb' bundle apply tests/bundles/store-s1.json | grep -q 'version 1 in force'"
check "bundle show --json" sh -c "$TG --db '$cdb' bundle show --json | jq -e '.version == 1 and .members == 2 and .campaigns == 9'"
expect_exit "a bundle that is not JSON is refused" 1 "TG_EBUNDLE" "$TG" --db "$cdb" bundle apply tests/cli.sh
check "the bundle in force stays" sh -c "$TG --db '$cdb' bundle show --json | jq -e '.version == 1'"
check "scan a product barcode" sh -c "$TG --db '$cdb' scan 6901234567892 | grep -qx 'product ean13 6901234567892'"
expect_exit "scan a misread EAN-13" 1 "TG_ECHECKDIGIT" "$TG" --db "$cdb" scan 6901234567893
check "a refusal prints the cashier's sentence in Chinese" sh -c "$TG --db '$cdb' scan --lang zh 6901234567893 2>/dev/null | grep -q '重扫'"
expect_exit "an invite at the till is for the phone" 1 "TG_EINVITE" "$TG" --db "$cdb" scan 'HTTPS://HQ.EXAMPLE.COM/J/E70300%24N2CNABD0Y860000E5::8+.6U:68MAY+3UYKJQKWFHJ$VD%20UYOSCQJD4'
expect_exit "coupon redeem needs --uuid" 2 "redeem" "$TG" --db "$cdb" coupon redeem X
expect_exit "member show of a product code" 1 "not a member" "$TG" --db "$cdb" member show 6901234567892
check "bench scan --json" sh -c "$TG bench scan --members 200 --spent 500 --n 200 --json | jq -e '.p50_ms > 0 and .p99_ms >= .p50_ms and .verify_p50_ms > 0'"
echo "1..$n"
