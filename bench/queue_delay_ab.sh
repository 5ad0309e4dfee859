#!/usr/bin/env bash
# bench/queue_delay_ab.sh: A/B of delay-limited credit (SessionLimits::queue_delay_target, p2p-probe bench
# --queue-delay-ms) through the WAN emulator at 100 MiB/s: bulk rate at 100 ms RTT (256 MiB) and 1 KiB round
# trips idle and under load at 50 ms RTT (bench/run row (g)), with the rule off (0) and at 5 ms, two rounds.
# Needs the release build (bench/run builds it). docs/performance.md, "Delay-limited credit".
#   bench/queue_delay_ab.sh
set -euo pipefail
b=$(cd "$(dirname "$0")/.." && pwd)/build/release; node=$b/tools/p2p-node probe=$b/tools/p2p-probe wan=$b/tools/cyxp2p-wan-proxy
tmp=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf $tmp' EXIT
"$node" init --identity "$tmp/id" --node-id bench-node > /dev/null
"$probe" key new --alg EdDSA --kid bench --out "$tmp/cs.jwk" > /dev/null
"$probe" token mint --key "$tmp/cs.jwk" --sub bench --node-id bench-node --scope content:read --ttl 3600 > "$tmp/token"
mkdir -p "$tmp/serve"
openssl enc -aes-128-ctr -K 000102030405060708090a0b0c0d0e0f -iv 0 -nosalt -in <(head -c $((256<<20)) /dev/zero) -out "$tmp/serve/data.bin" 2>/dev/null
head -c 1024 "$tmp/serve/data.bin" > "$tmp/serve/rtt.bin"
"$node" run --identity "$tmp/id" --keys "$tmp/cs.jwks" --listen 127.0.0.1:0 --threads 2 --requests-per-peer 1000000/1000000 --requests-per-method 1000000/1000000 --serve "$tmp/serve" > $tmp/node.log 2>&1 &
for _ in $(seq 300); do grep -q '^ready' $tmp/node.log 2>/dev/null && break; sleep 0.1; done
port=$(sed -n 's/^listening 127.0.0.1://p' $tmp/node.log); pin=$(sed -n 's/^pin //p' $tmp/node.log)
cid=$(sed -n 's/^serving \([^ ]*\) data.bin/\1/p' $tmp/node.log); rcid=$(sed -n 's/^serving \([^ ]*\) rtt.bin/\1/p' $tmp/node.log)
c=(--pin "$pin" --token "$tmp/token" --node-id bench-node)
wanp() { "$wan" --connect 127.0.0.1:$port --delay-ms $1 --rate-mibps 100 > $tmp/wan.log 2>&1 & wpid=$!; for _ in $(seq 100); do grep -q '^ready' $tmp/wan.log 2>/dev/null && break; sleep 0.05; done; wport=$(sed -n 's/^listening 127.0.0.1://p' $tmp/wan.log); }
for round in 1 2; do
 for q in 0 5; do
  wanp 50; r=$("$probe" bench 127.0.0.1:$wport "${c[@]}" --cid $cid --bytes $((256<<20)) --queue-delay-ms $q --json | jq -c '{q:'$q',rtt:100,mib:.mib_per_s}'); echo "$r"; kill $wpid; wait $wpid 2>/dev/null || true
  wanp 25; r=$("$probe" bench 127.0.0.1:$wport "${c[@]}" --cid $cid --latency --rtt-cid $rcid --probes 50 --queue-delay-ms $q --json | jq -c '{q:'$q',rtt:50,bulk:.bulk_mib_per_s,i50:(.idle_rtt_us_p50/1000),i99:(.idle_rtt_us_p99/1000),l50:(.loaded_rtt_us_p50/1000),l99:(.loaded_rtt_us_p99/1000),cuts:.delay_cuts}'); echo "$r"; kill $wpid; wait $wpid 2>/dev/null || true
 done
done
