#!/bin/sh
# Receipt encoding benchmark: tillgroup against three JavaScript ESC/POS
# encoders, interleaved round by round on the same receipt. See README.md.
# Usage (from the repo root):
#   sh tests/bench/receipt.sh TILLGROUP_BINARY [RECEIPT_JSON] [N] [ROUNDS]
set -eu

die() {
  echo "receipt.sh: $*" >&2
  exit 1
}

[ $# -ge 1 ] || die "usage: sh tests/bench/receipt.sh TILLGROUP_BINARY [RECEIPT_JSON] [N] [ROUNDS]"
tg=$1
receipt=${2:-../shared/bench/reference-receipt.json}
n=${3:-2000}
rounds=${4:-5}
bench=$(dirname -- "$0")

[ -x "$tg" ] || die "$tg is not an executable"
[ -r "$receipt" ] || die "cannot read the receipt $receipt"
case $n:$rounds in
  *[!0-9:]* | :* | *: | 0* | *:0*) die "N and ROUNDS must be positive integers" ;;
esac
command -v jq >/dev/null || die "jq is needed: apt-get install jq"
need_node="Node.js and npm are needed for the peer encoders: apt-get install nodejs npm"
if [ ! -d "$bench/node_modules" ]; then
  command -v npm >/dev/null || die "$need_node"
  echo "installing the peer encoders into $bench/node_modules" >&2
  npm ci --prefix "$bench" --no-audit --no-fund >&2
fi
command -v node >/dev/null || die "$need_node"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
results=$tmp/results.jsonl
tg_version=$("$tg" --version 2>/dev/null | awk 'NR == 1 { print $2 }') || true
[ -n "$tg_version" ] || tg_version=unknown

# One tillgroup run: check its single JSON line, tag it like a peer line.
run_tillgroup() {
  out=$("$tg" bench receipt --receipt "$receipt" --n "$n" --qr "$1" --json) ||
    die "tillgroup bench receipt --qr $1 failed"
  [ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] ||
    die "tillgroup bench receipt --qr $1 printed more than one line"
  printf '%s\n' "$out" |
    jq -ce --arg qr "$1" --arg v "$tg_version" --argjson n "$n" --argjson round "$2" '
    select(.bench == "receipt" and .qr == $qr and .n == $n
           and (.receipts_per_s | type) == "number")
    | {encoder: ("tillgroup " + .qr), version: $v, round: $round, n, seconds,
       receipts_per_s, bytes}' >>"$results" 2>/dev/null ||
    die "unexpected output from tillgroup bench receipt --qr $1: $out"
}

round=1
while [ "$round" -le "$rounds" ]; do
  echo "round $round/$rounds (N=$n)" >&2
  run_tillgroup native "$round"
  run_tillgroup raster "$round"
  out=$(node "$bench/peers.js" "$receipt" "$n" 1) || die "peers.js failed"
  [ "$(printf '%s\n' "$out" | wc -l)" -eq 3 ] || die "peers.js printed an unexpected output: $out"
  printf '%s\n' "$out" | jq -c --argjson round "$round" '.round = $round' >>"$results"
  round=$((round + 1))
done

# Medians per encoder and the ratios, each as tillgroup over the other
# (native_over_this: how many times faster tillgroup native is); peers are
# sorted fastest first.
summary=$(jq -s --arg receipt "$receipt" --argjson n "$n" --argjson rounds "$rounds" '
  def median: sort | if length % 2 == 1 then .[length / 2 | floor]
                     else (.[length / 2 - 1] + .[length / 2]) / 2 end;
  def r2: . * 100 | round / 100;
  (group_by(.encoder) | map({encoder: .[0].encoder, version: .[0].version,
     median_receipts_per_s: (map(.receipts_per_s) | median | round), bytes: .[0].bytes})) as $all
  | ($all | map(select(.encoder == "tillgroup native"))[0].median_receipts_per_s) as $native
  | ($all | map(select(.encoder == "tillgroup raster"))[0].median_receipts_per_s) as $raster
  | ($all | map(select(.encoder | startswith("tillgroup ") | not))
     | sort_by(-.median_receipts_per_s)) as $peers
  | ($peers | map(select(.encoder == "receiptline"))[0].median_receipts_per_s) as $rl
  | {bench: "receipt-peers", receipt: $receipt, n: $n, rounds: $rounds,
     encoders: ([$all[] | select(.encoder == "tillgroup native")]
                + [$all[] | select(.encoder == "tillgroup raster")] + $peers
                | map(.native_over_this = ($native / .median_receipts_per_s | r2))),
     ratios: {native_vs_fastest_peer: ($native / $peers[0].median_receipts_per_s | r2),
              fastest_peer: $peers[0].encoder,
              native_vs_fastest_peer_target: 20,
              raster_vs_receiptline: ($raster / $rl | r2),
              raster_vs_receiptline_target: 10}}' "$results")

echo
printf '%-40s %-9s %14s %9s %12s\n' encoder version "median rcpt/s" bytes "native/this"
printf '%s\n' "$summary" | jq -r '.encoders[]
  | [.encoder, .version, .median_receipts_per_s, .bytes, .native_over_this] | @tsv' |
  while IFS='	' read -r enc ver rps bytes vs; do
    printf '%-40s %-9s %14s %9s %12s\n' "$enc" "$ver" "$rps" "$bytes" "${vs}x"
  done
echo
printf '%s\n' "$summary" | jq -r '.ratios as $r
  | def verdict(t): if . >= t then "met" else "MISSED" end;
    "tillgroup native / fastest peer (\($r.fastest_peer)): \($r.native_vs_fastest_peer)x" +
      " (target >= \($r.native_vs_fastest_peer_target): \($r.native_vs_fastest_peer | verdict($r.native_vs_fastest_peer_target)))",
    "tillgroup raster / receiptline: \($r.raster_vs_receiptline)x" +
      " (target >= \($r.raster_vs_receiptline_target): \($r.raster_vs_receiptline | verdict($r.raster_vs_receiptline_target)))"'
echo
printf '%s\n' "$summary" | jq -c .
