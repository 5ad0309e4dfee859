#!/usr/bin/env bash
# bench/multisrc.sh: issue 18's multi-source target. Two p2p-node processes serve the same file, each behind
# its own cyxp2p-wan-proxy paced to RATE MiB/s (half of a link) with ONE_WAY_MS of delay each way; a
# verified `p2p-probe fetch --sources` of the file from one of them, then from both.   target >= 1.7x
# Not part of the test suite (it measures time).
#   bench/multisrc.sh [--build DIR] [--mib N] [--rate MIBPS] [--delay-ms N]
#   defaults: build/dev, 64 MiB, 20 MiB/s per source, 10 ms each way
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build/dev mib=64 rate=20 delay=10
while [[ $# -gt 0 ]]; do
  case $1 in
    --build) build=$2; shift 2 ;;
    --mib) mib=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --delay-ms) delay=$2; shift 2 ;;
    *) echo "usage: bench/multisrc.sh [--build DIR] [--mib N] [--rate MIBPS] [--delay-ms N]" >&2; exit 2 ;;
  esac
done
node=$build/tools/p2p-node probe=$build/tools/p2p-probe wan=$build/tools/cyxp2p-wan-proxy
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2> /dev/null || true; done; wait 2> /dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT

wait_line() { # LOG PREFIX -> rest of the line
  for _ in $(seq 200); do
    local v
    if v=$(grep -m1 "^$2" "$1" 2> /dev/null); then echo "${v#"$2"}"; return; fi
    sleep 0.05
  done
  cat "$1" >&2; echo "no '$2' in $1" >&2; exit 1
}

"$probe" key new --alg EdDSA --kid bench --out "$tmp/cs.jwk" > /dev/null
openssl enc -aes-128-ctr -K 000102030405060708090a0b0c0d0e0f -iv 0 -nosalt \
  -in <(head -c $((mib << 20)) /dev/zero) -out "$tmp/data.bin" 2> /dev/null
cid=$("$probe" cid "$tmp/data.bin")
sources=()
for n in a b; do
  mkdir -p "$tmp/$n/serve"
  cp "$tmp/data.bin" "$tmp/$n/serve/data.bin"
  "$node" init --identity "$tmp/$n/id" --node-id "node-$n" > /dev/null
  "$probe" token mint --key "$tmp/cs.jwk" --sub bench --node-id "node-$n" --scope content:read --ttl 3600 \
    > "$tmp/$n/token"
  "$node" run --identity "$tmp/$n/id" --keys "$tmp/cs.jwks" --listen 127.0.0.1:0 --serve "$tmp/$n/serve" \
    > "$tmp/$n/log" 2>&1 &
  pids+=($!)
  wait_line "$tmp/$n/log" ready > /dev/null
  port=$(wait_line "$tmp/$n/log" "listening 127.0.0.1:")
  pin=$(wait_line "$tmp/$n/log" "pin ")
  "$wan" --connect "127.0.0.1:$port" --delay-ms "$delay" --rate-mibps "$rate" > "$tmp/$n/wan.log" 2>&1 &
  pids+=($!)
  wait_line "$tmp/$n/wan.log" ready > /dev/null
  wport=$(wait_line "$tmp/$n/wan.log" "listening 127.0.0.1:")
  sources+=("{\"address\": \"127.0.0.1:$wport\", \"pin\": \"$pin\", \"token_file\": \"$tmp/$n/token\"}")
done
echo "[${sources[0]}]" > "$tmp/one.json"
echo "[${sources[0]}, ${sources[1]}]" > "$tmp/two.json"

fetch() { # SOURCES -> MiB/s
  rm -f "$tmp/out.bin"
  "$probe" fetch "$cid" -o "$tmp/out.bin" --sources "$1" --json | sed -n 's/.*"mib_per_s": *\([0-9.]*\).*/\1/p'
  cmp -s "$tmp/out.bin" "$tmp/data.bin" || { echo "output differs" >&2; exit 1; }
}
one=$(fetch "$tmp/one.json")
two=$(fetch "$tmp/two.json")
ratio=$(awk -v a="$two" -v b="$one" 'BEGIN { printf "%.2f", a / b }')
printf '%-44s %10s %10s %8s %s\n' "multi-source fetch (${mib} MiB, ${rate} MiB/s, ${delay} ms)" "one" "two" "ratio" "target"
printf '%-44s %10s %10s %8s %s\n' "  MiB/s" "$one" "$two" "${ratio}x" ">= 1.7x"
