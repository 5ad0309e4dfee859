#!/usr/bin/env bash
# A/B of the engine's receive side through the WAN emulator: two p2p-probe builds (OLD, and this tree's
# release build) fetch the same file from one p2p-node, one after the other, next to a plain TLS 1.3 stream
# through the same emulator settings. The node and the emulator are this tree's release build.
#   bench/wan_ab.sh OLD_P2P_PROBE [--mib N] [--rate MIBPS] [--rtts "50 100"] [--rounds N]
# e.g. keep a copy of build/release/tools/p2p-probe before a change, rebuild, then run this with the copy.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
[[ $# -ge 1 && -x $1 ]] || { echo "usage: bench/wan_ab.sh OLD_P2P_PROBE [--mib N] [--rate MIBPS] [--rtts \"50 100\"] [--rounds N]" >&2; exit 2; }
old=$1; shift
mib=64 rate=100 rtts="50 100" rounds=2
while [[ $# -gt 0 ]]; do
  case $1 in
    --mib) mib=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --rtts) rtts=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    *) echo "bench/wan_ab.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
b=$root/build/release
node=$b/tools/p2p-node wan=$b/tools/cyxp2p-wan-proxy baseline=$b/bench/baseline_tls new=$b/tools/p2p-probe
for x in "$node" "$wan" "$baseline" "$new"; do
  [[ -x $x ]] || { echo "bench/wan_ab.sh: $x missing: cmake --build --preset release" >&2; exit 2; }
done
tmp=$(mktemp -d)
out=/dev/shm/wan-ab.$$
[[ -d /dev/shm && -w /dev/shm ]] || out=$tmp/fetched
cleanup() { kill $(jobs -p) 2> /dev/null || true; wait 2> /dev/null || true; rm -rf "$tmp" "$out"; }
trap cleanup EXIT
"$node" init --identity "$tmp/id" --node-id bench-node > /dev/null
"$new" key new --alg EdDSA --kid bench --out "$tmp/cs.jwk" > /dev/null
"$new" token mint --key "$tmp/cs.jwk" --sub bench --node-id bench-node --scope content:read --ttl 3600 > "$tmp/token"
mkdir -p "$tmp/serve"
openssl enc -aes-128-ctr -K 0f0e0d0c0b0a09080706050403020100 -iv 0 -nosalt \
  -in <(head -c $((mib << 20)) /dev/zero) -out "$tmp/serve/wan.bin" 2> /dev/null
"$node" run --identity "$tmp/id" --keys "$tmp/cs.jwk" --listen 127.0.0.1:0 --threads 2 --serve "$tmp/serve" \
  --requests-per-peer 1000000/1000000 > "$tmp/node.log" 2>&1 &
for _ in $(seq 300); do grep -q '^ready' "$tmp/node.log" && break; sleep 0.1; done
grep -q '^ready' "$tmp/node.log" || { cat "$tmp/node.log"; exit 1; }
port=$(sed -n 's/^listening 127.0.0.1://p' "$tmp/node.log")
pin=$(sed -n 's/^pin //p' "$tmp/node.log")
cid=$(sed -n 's/^serving \([^ ]*\) wan.bin/\1/p' "$tmp/node.log")
wan_start() {
  "$wan" --connect "127.0.0.1:$1" --delay-ms "$2" --rate-mibps "$rate" > "$tmp/wan.log" 2>&1 &
  wpid=$!
  for _ in $(seq 100); do grep -q '^ready' "$tmp/wan.log" && break; sleep 0.05; done
  wport=$(sed -n 's/^listening 127.0.0.1://p' "$tmp/wan.log")
}
wan_stop() { kill "$wpid" 2> /dev/null || true; wait "$wpid" 2> /dev/null || true; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
echo "rtt_ms probe mib_per_s window_ramp_rtts   ($mib MiB, $rate MiB/s)"
for rtt in $rtts; do
  for _ in $(seq "$rounds"); do
    for which in old new; do
      wan_start "$port" "$(echo "$rtt / 2" | bc -l)"
      j=$("${!which}" fetch "127.0.0.1:$wport" "$cid" -o "$out" --pin "$pin" --token "$tmp/token" \
        --node-id bench-node --json)
      cmp -s "$tmp/serve/wan.bin" "$out" || { echo "fetched file differs" >&2; exit 1; }
      rm -f "$out"
      wan_stop
      echo "$rtt $which $(jq -r '.mib_per_s' <<< "$j") $(jq -r '.flow.window_ramp_rtts // "n/a"' <<< "$j")"
    done
    bport=$(free_port)
    wan_start "$bport" "$(echo "$rtt / 2" | bc -l)"
    echo "$rtt plain-tls $("$baseline" bulk --bytes $((mib << 20)) --identity "$tmp/id" --listen-port "$bport" \
      --connect-port "$wport" | jq -r '.mib_per_s') -"
    wan_stop
  done
done
