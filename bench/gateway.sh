#!/usr/bin/env bash
# bench/gateway.sh: issue 18's gateway target. p2p-node serves a MIB MiB file (--serve, imported by
# reference) and its trustless gateway on loopback; `curl -o /dev/null` of /ipfs/CID?format=car, with 1 and
# with PARALLEL concurrent curls, best of 3 each; the CAR is saved once and checked (p2p-probe car verify
# --root CID). Then Debian's nginx, started here (`nginx -p TMP -c TMP/nginx.conf`, sendfile on), serves that
# same CAR as a static file and is curled the same way.                        target: gateway >= 0.5x nginx
# Builds nothing (bench/run builds the release preset; or cmake --build --preset release --target p2p-node
# p2p-probe). Needs nginx (scripts/setup --bench) and curl. Not part of the test suite (it measures time).
#   bench/gateway.sh [--build DIR] [--mib N] [--parallel N]
#   defaults: build/release, 256 MiB, 4 concurrent curls
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build/release mib=256 parallel=4
while [[ $# -gt 0 ]]; do
  case $1 in
    --build) build=$2; shift 2 ;;
    --mib) mib=$2; shift 2 ;;
    --parallel) parallel=$2; shift 2 ;;
    *) echo "usage: bench/gateway.sh [--build DIR] [--mib N] [--parallel N]" >&2; exit 2 ;;
  esac
done
node=$build/tools/p2p-node probe=$build/tools/p2p-probe
for t in "$node" "$probe"; do
  [[ -x $t ]] || { echo "bench/gateway.sh: $t is missing: build it first (cmake --build --preset release --target p2p-node p2p-probe) or pass --build DIR" >&2; exit 2; }
done
nginx=$(command -v nginx || echo /usr/sbin/nginx)
[[ -x $nginx ]] || { echo "bench/gateway.sh: nginx is not installed: run scripts/setup --bench (apt nginx-light)" >&2; exit 2; }
command -v curl > /dev/null || { echo "bench/gateway.sh: curl is not installed: run scripts/setup" >&2; exit 2; }

tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2> /dev/null || true; done; wait 2> /dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT

wait_line() { # LOG PREFIX -> rest of the line
  for _ in $(seq 600); do
    local v
    if v=$(grep -m1 "^$2" "$1" 2> /dev/null); then echo "${v#"$2"}"; return; fi
    sleep 0.05
  done
  cat "$1" >&2; echo "no '$2' in $1" >&2; exit 1
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_listen() { for _ in $(seq 100); do ss -ltn "sport = :$1" | grep -q LISTEN && return 0; sleep 0.05; done; return 1; }
now() { date +%s.%N; }

# N concurrent `curl -o /dev/null` of URL, each of which must receive exactly BYTES bytes with status 200;
# prints the aggregate MiB/s (N x BYTES over the wall-clock time of all N), the best of 3 runs: other jobs on a
# shared machine only ever make a run slower.
fetch_best() { # URL N BYTES
  local best=0
  for _ in 1 2 3; do
    local t0 t1 i rate curls=()
    t0=$(now)
    for i in $(seq "$2"); do
      curl -s -o /dev/null -w '%{http_code} %{size_download}\n' "$1" > "$tmp/curl.$i" &
      curls+=($!)
    done
    wait "${curls[@]}" || true  # each curl's status and size are checked below
    t1=$(now)
    for i in $(seq "$2"); do
      [[ $(cat "$tmp/curl.$i") == "200 $3" ]] || { echo "curl $1: got '$(cat "$tmp/curl.$i")', expected '200 $3'" >&2; exit 1; }
    done
    rate=$(awk -v n="$2" -v b="$3" -v a="$t0" -v z="$t1" 'BEGIN { printf "%.1f", n * b / 1048576 / (z - a) }')
    best=$(awk -v a="$best" -v b="$rate" 'BEGIN { print (b > a) ? b : a }')
  done
  echo "$best"
}

echo "== setup: ${mib} MiB file, p2p-node with --serve and --gateway on loopback"
mkdir -p "$tmp/serve" "$tmp/www"
openssl enc -aes-128-ctr -K 000102030405060708090a0b0c0d0e0f -iv 0 -nosalt \
  -in <(head -c $((mib << 20)) /dev/zero) -out "$tmp/serve/data.bin" 2> /dev/null
"$node" init --identity "$tmp/id" --node-id bench-gateway > /dev/null
"$probe" key new --alg EdDSA --kid bench --out "$tmp/cs.jwk" > /dev/null
"$node" run --identity "$tmp/id" --keys "$tmp/cs.jwks" --listen 127.0.0.1:0 --serve "$tmp/serve" \
  --gateway 127.0.0.1:0 > "$tmp/node.log" 2>&1 &
pids+=($!)
wait_line "$tmp/node.log" ready > /dev/null
gw=$(wait_line "$tmp/node.log" "gateway ")
cid=$(wait_line "$tmp/node.log" "serving " | cut -d' ' -f1)
url="${gw}${cid}?format=car"

# The reference CAR: fetched once, verified against the CID the node printed, then served by nginx.
curl -sf -o "$tmp/www/data.car" "$url"
"$probe" car verify "$tmp/www/data.car" --root "$cid" --json > "$tmp/verify.txt" ||
  { cat "$tmp/verify.txt" >&2; echo "the gateway's CAR does not verify" >&2; exit 1; }
car_bytes=$(stat -c %s "$tmp/www/data.car")
cat "$tmp/serve/data.bin" "$tmp/www/data.car" > /dev/null  # both in the page cache before timing

# nginx's workers run as nobody when started by root: they need to reach the CAR (mktemp -d is 0700).
chmod o+x "$tmp" "$tmp/www" && chmod o+r "$tmp/www/data.car"
port=$(free_port)
mkdir -p "$tmp/nginx"
cat > "$tmp/nginx/nginx.conf" << EOF
# Debian's defaults where they matter (worker_processes auto, sendfile on, tcp_nopush on); every path in TMP.
daemon off;
worker_processes auto;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log;
events { worker_connections 256; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  types { application/vnd.ipld.car car; }
  client_body_temp_path $tmp/nginx/body;
  proxy_temp_path $tmp/nginx/proxy;
  fastcgi_temp_path $tmp/nginx/fastcgi;
  uwsgi_temp_path $tmp/nginx/uwsgi;
  scgi_temp_path $tmp/nginx/scgi;
  server {
    listen 127.0.0.1:$port;
    root $tmp/www;
  }
}
EOF
"$nginx" -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -e "$tmp/nginx/error.log" > "$tmp/nginx/stdout" 2>&1 &
pids+=($!)
wait_listen "$port" || { cat "$tmp/nginx/stdout" "$tmp/nginx/error.log" >&2; echo "nginx did not start" >&2; exit 1; }
ngx_url="http://127.0.0.1:$port/data.car"

echo "== CAR of ${mib} MiB ($car_bytes bytes, $(jq -r .blocks "$tmp/verify.txt") blocks, verified): gateway, then nginx"
g1=$(fetch_best "$url" 1 "$car_bytes")
n1=$(fetch_best "$ngx_url" 1 "$car_bytes")
gp=$(fetch_best "$url" "$parallel" "$car_bytes")
np=$(fetch_best "$ngx_url" "$parallel" "$car_bytes")
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
verdict() { awk -v r="$1" 'BEGIN { print (r >= 0.5) ? "met" : "MISSED" }'; }
r1=$(ratio "$g1" "$n1") rp=$(ratio "$gp" "$np")
printf '%-36s %12s %12s %8s %-8s %s\n' "gateway CAR (${mib} MiB), MiB/s" "p2p-node" "nginx" "ratio" "target" "verdict"
printf '%-36s %12s %12s %8s %-8s %s\n' "  1 curl" "$g1" "$n1" "${r1}x" ">= 0.5x" "$(verdict "$r1")"
printf '%-36s %12s %12s %8s %-8s %s\n' "  $parallel concurrent curls (aggregate)" "$gp" "$np" "${rp}x" ">= 0.5x" "$(verdict "$rp")"
