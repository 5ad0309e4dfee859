#!/usr/bin/env bash
# Import throughput of `p2p-probe cid` next to sha256sum (SHA-256's speed on this CPU) and the JS
# importer (ipfs-unixfs-importer 15 on Node), on one generated file, in one run. Prints ratios. Debian's
# sha256sum does not use SHA-NI, so `openssl dgst -sha256` is listed too: it is the real ceiling.
#   bench/content_import.sh [BUILD_DIR] [SIZE_MIB]     (defaults: build/h-content-rel, 256)
# BUILD_DIR must be a Release build with p2p-probe; tests/interop/node_modules must be installed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build/h-content-rel}
mib=${2:-256}
probe=$build/tools/p2p-probe
[[ -x $probe ]] || { echo "no $probe: build p2p-probe (Release) first" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
file=$tmp/data.bin
# Deterministic, incompressible content: AES-CTR keystream of a fixed key.
openssl enc -aes-128-ctr -K 000102030405060708090a0b0c0d0e0f -iv 0 -nosalt -in <(head -c $((mib << 20)) /dev/zero) \
  -out "$file" 2>/dev/null
cat "$file" > /dev/null  # warm the page cache so every tool reads from memory

# Best of 3 wall-clock runs, in seconds.
best() {
  local b=""
  for _ in 1 2 3; do
    local t0 t1 d
    t0=$(date +%s.%N); "$@" > "$tmp/out" ; t1=$(date +%s.%N)
    d=$(echo "$t1 - $t0" | bc -l)
    if [[ -z $b ]] || (( $(echo "$d < $b" | bc -l) )); then b=$d; fi
  done
  echo "$b"
}

sha=$(best sha256sum "$file")
ossl=$(best openssl dgst -sha256 "$file")
v0=$(best "$probe" cid "$file");            cid_v0=$(cat "$tmp/out")
v1=$(best "$probe" cid --cid-version 1 "$file"); cid_v1=$(cat "$tmp/out")
echo "[{\"file\":\"$file\",\"cidVersion\":0,\"rawLeaves\":false,\"chunkSize\":262144,\"maxLinks\":174}]" > "$tmp/jobs.json"
t0=$(date +%s.%N); js_cid=$(node "$root/tests/interop/content_interop.mjs" cids "$tmp/jobs.json"); t1=$(date +%s.%N)
js=$(echo "$t1 - $t0" | bc -l)

[[ $js_cid == "[\"$cid_v0\"]" ]] || { echo "CID mismatch: ours $cid_v0, JS $js_cid" >&2; exit 1; }
rate() { echo "scale=0; $mib / $1" | bc -l; }
printf '%-34s %8s %10s %s\n' "tool ($mib MiB, page cache warm)" "seconds" "MiB/s" "vs sha256sum"
printf '%-34s %8.3f %10s %s\n' "sha256sum" "$sha" "$(rate "$sha")" "1.00x"
printf '%-34s %8.3f %10s %.2fx\n' "openssl dgst -sha256 (SHA-NI)" "$ossl" "$(rate "$ossl")" "$(echo "$sha / $ossl" | bc -l)"
printf '%-34s %8.3f %10s %.2fx\n' "p2p-probe cid (CIDv0, kubo default)" "$v0" "$(rate "$v0")" "$(echo "$sha / $v0" | bc -l)"
printf '%-34s %8.3f %10s %.2fx\n' "p2p-probe cid --cid-version 1" "$v1" "$(rate "$v1")" "$(echo "$sha / $v1" | bc -l)"
printf '%-34s %8.3f %10s %.2fx\n' "ipfs-unixfs-importer (node $(node --version))" "$js" "$(rate "$js")" "$(echo "$sha / $js" | bc -l)"
printf 'p2p-probe cid: %.2fx of openssl dgst (CIDv0), %.2fx (CIDv1); %.1fx faster than the JS importer\n' \
  "$(echo "$ossl / $v0" | bc -l)" "$(echo "$ossl / $v1" | bc -l)" "$(echo "$js / $v0" | bc -l)"
echo "CID $cid_v0 (the JS importer computed the same)"
