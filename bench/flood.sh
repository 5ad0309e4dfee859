#!/usr/bin/env bash
# bench/flood.sh: what a connection flood costs an honest engine (issue 21), on loopback. Starts p2p-node with
# its default limits, fetches a file with p2p-probe (best of 3) alone, then again while a flooder holds
# --flood connections open from many loopback networks (127.20.0.0/14: 50 addresses per /24), each silent,
# a 5-byte TLS record header, or 64 random bytes, and replaces every one the node closes at once. Reports:
#   fetch time under the flood / alone                                           target <= 1.2x
# FLOOD_RATE=N replaces at most N closed connections a second (default 0: at once, a churn flood that
# costs the node and the flooder as much CPU as they get).
#   honest connects that succeed under the flood (p2p-probe connect, 20 tries)  target 20/20
#   node resident memory alone and under the flood, and per flood connection
#   the node's pre-auth metrics (evictions, refusals, ClientHello timeouts, audit events suppressed)
# Not part of the test suite.
#   bench/flood.sh [--mib N] [--flood N] [--build DIR] [-- P2P-NODE-FLAGS...]   defaults: 64 MiB, 2000, build/release
# e.g. `-- --evict-oldest-handshake 0 --max-handshakes-per-network 256 --client-hello-timeout-ms 10000` is the
# node before issue 21.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mib=64 flood=2000 build=$root/build/release node_flags=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --) shift; node_flags=("$@"); break ;;
    --mib) mib=$2; shift 2 ;;
    --flood) flood=$2; shift 2 ;;
    --build) build=$(cd "$2" && pwd); shift 2 ;;
    *) echo "usage: bench/flood.sh [--mib N] [--flood N] [--build DIR] [-- P2P-NODE-FLAGS...]" >&2; exit 2 ;;
  esac
done
if [[ ! -x $build/tools/p2p-node || ! -x $build/tools/p2p-probe ]]; then
  echo "== building the release preset"
  cmake --preset release > /dev/null
  cmake --build --preset release -j 2 --target p2p-node p2p-probe | tail -1
fi
probe=$build/tools/p2p-probe node=$build/tools/p2p-node

tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2> /dev/null || true; done
  wait 2> /dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)"

now() { date +%s.%N; }
calc() { echo "scale=6; $*" | bc -l; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
metric() { curl -s "http://$metrics/metrics" | awk -v m="cyxp2p_node_$1" '$1 == m {print $2}'; }

echo "== setup: identity, token, ${mib} MiB file"
"$node" init --identity "$tmp/id" --node-id flood-node > /dev/null
"$probe" key new --alg EdDSA --kid bench --out "$tmp/cs.jwk" > /dev/null
jwks=$tmp/cs.jwks  # written beside the private JWK
"$probe" token mint --key "$tmp/cs.jwk" --sub honest --node-id flood-node --scope content:read --ttl 3600 > "$tmp/token"
mkdir -p "$tmp/serve"
file=$tmp/serve/data.bin
openssl enc -aes-128-ctr -K 000102030405060708090a0b0c0d0e0f -iv 0 -nosalt \
  -in <(head -c $((mib << 20)) /dev/zero) -out "$file" 2> /dev/null

metrics_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
metrics=127.0.0.1:$metrics_port
log=$tmp/node.log
"$node" run --identity "$tmp/id" --keys "$jwks" --listen 127.0.0.1:0 --threads 2 --serve "$tmp/serve" \
  --metrics "$metrics" --audit "$tmp/audit.jsonl" "${node_flags[@]}" > "$log" 2>&1 &
node_pid=$!; pids+=("$node_pid")
for _ in $(seq 600); do grep -q '^ready' "$log" 2> /dev/null && break; sleep 0.1; done
grep -q '^ready' "$log" || { cat "$log"; echo "node did not start" >&2; exit 1; }
port=$(sed -n 's/^listening 127.0.0.1://p' "$log")
pin=$(sed -n 's/^pin //p' "$log")
cid=$(sed -n 's/^serving \([^ ]*\) data.bin/\1/p' "$log")
target=127.0.0.1:$port
common=(--pin "$pin" --token "$tmp/token" --node-id flood-node)

fetch_best() { # prints the best of 3 fetch times in seconds; fails if a fetch fails or differs
  local best="" out=$tmp/fetched.bin
  for _ in 1 2 3; do
    rm -f "$out"
    local t0 t1 d; t0=$(now)
    "$probe" fetch "$target" "$cid" -o "$out" "${common[@]}" > /dev/null 2> "$tmp/fetch.err" ||
      return 1
    t1=$(now); d=$(calc "$t1 - $t0")
    cmp -s "$file" "$out" || { echo "fetched file differs" >&2; return 1; }
    if [[ -z $best ]] || (( $(echo "$d < $best" | bc -l) )); then best=$d; fi
  done
  echo "$best"
}
connects() { # honest connects out of 20, 4 a second: under the per-address new-connection rate (5/s)
  local ok=0
  for _ in $(seq 20); do
    "$probe" connect "$target" "${common[@]}" > /dev/null 2>&1 && ok=$((ok + 1))
    sleep 0.25
  done
  echo "$ok"
}

echo "== alone"
rss_idle=$(rss_kib "$node_pid")
alone=$(fetch_best)
connects_alone=$(connects)
rss_alone=$(rss_kib "$node_pid")

echo "== under a flood of $flood held connections"
cat > "$tmp/flooder.py" <<'PY'
import os, random, selectors, socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
rng = random.Random(7)
def source(i):  # 50 addresses per /24, from 127.20.0.0 on
    net = i // 50
    return "127.%d.%d.%d" % (20 + net // 250, net % 250, 1 + i % 50)
sel = selectors.DefaultSelector()  # epoll: thousands of sockets
def dial(i):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind((source(i), 0))
        s.connect(("127.0.0.1", port))
        kind = i % 3
        if kind == 1: s.send(b"\x16\x03\x01\x02\x00")
        elif kind == 2: s.send(bytes(rng.getrandbits(8) for _ in range(64)))
    except OSError:
        s.close()
        return False
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ, i)
    return True
opened = sum(dial(i) for i in range(n))
print("open", len(sel.get_map()), "total", opened, flush=True)
stop = time.time() + float(os.environ.get("FLOOD_SECONDS", "600"))
rate = float(os.environ.get("FLOOD_RATE", "0"))  # replacements per second; 0: at once, as fast as we can
last = time.time()
budget, budget_t, closed = 0.0, time.time(), []
while time.time() < stop:
    for key, _ in sel.select(0.01):
        s, i = key.fileobj, key.data
        try:
            if s.recv(4096): continue
        except (BlockingIOError, InterruptedError):
            continue
        except OSError:
            pass
        sel.unregister(s); s.close()
        closed.append(i)
    now = time.time()
    budget = min(budget + (now - budget_t) * rate, max(rate, 1.0)) if rate > 0 else len(closed)
    budget_t = now
    while closed and budget >= 1:
        opened += dial(closed.pop(0))  # the same address again
        budget -= 1
    if time.time() - last >= 1:
        last = time.time()
        print("open", len(sel.get_map()), "total", opened, flush=True)
PY
python3 "$tmp/flooder.py" "$port" "$flood" > "$tmp/flood.log" 2>&1 &
flood_pid=$!; pids+=("$flood_pid")
for _ in $(seq 300); do grep -q '^open' "$tmp/flood.log" 2> /dev/null && break; sleep 0.1; done
sleep 2
rss_flood=$(rss_kib "$node_pid")
under=$(fetch_best) || under=failed
connects_flood=$(connects)
rss_flood_end=$(rss_kib "$node_pid")
held=$(tail -1 "$tmp/flood.log")
inflight=$(metric handshakes_in_progress)
kill "$flood_pid" 2> /dev/null || true

ratio=failed
[[ $under != failed ]] && ratio=$(calc "$under / $alone")
per_conn=$(calc "(($rss_flood > $rss_flood_end) * $rss_flood + ($rss_flood <= $rss_flood_end) * $rss_flood_end - $rss_alone) / $flood")
printf '\n%-44s %s\n' "measure" "value"
printf '%-44s %.3f s\n' "fetch ${mib} MiB alone (best of 3)" "$alone"
if [[ $under == failed ]]; then
  printf '%-44s %s\n' "fetch ${mib} MiB under the flood (best of 3)" "FAILED: $(tail -2 "$tmp/fetch.err" | tr '\n' ' ')"
  printf '%-44s %s\n' "ratio" "failed (target <= 1.2x)"
else
  printf '%-44s %.3f s\n' "fetch ${mib} MiB under the flood (best of 3)" "$under"
  printf '%-44s %.2fx (target <= 1.2x)\n' "ratio" "$ratio"
fi
printf '%-44s %s/20 alone, %s/20 under the flood\n' "honest connects" "$connects_alone" "$connects_flood"
printf '%-44s %s KiB idle, %s KiB after fetches\n' "node RSS alone" "$rss_idle" "$rss_alone"
printf '%-44s %s KiB at start, %s KiB at end\n' "node RSS under the flood" "$rss_flood" "$rss_flood_end"
printf '%-44s %.1f KiB\n' "node RSS per flood connection" "$per_conn"
printf '%-44s %s (%s)\n' "flooder" "$held" "pre-auth in progress at the end: $inflight"
for m in connections_evicted_total connections_refused_total client_hello_timeouts_total tls_failures_total \
  handshakes_ok_total audit_events_suppressed_total; do
  printf '%-44s %s\n' "$m" "$(metric "$m")"
done
printf '%-44s %s lines\n' "audit log" "$(wc -l < "$tmp/audit.jsonl")"
