#!/usr/bin/env bash
# Installs the build into a temporary prefix and builds + runs a consumer that uses find_package(cyxp2p).
set -euo pipefail
build_dir=$1 source_dir=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build_dir" --prefix "$tmp/prefix" >/dev/null
test -f "$tmp/prefix/include/cyxp2p/pinning/pin_set.hpp"
test -f "$tmp/prefix/lib/cmake/cyxp2p/cyxp2pConfig.cmake"
extra=()
[ -n "${CYXP2P_SANITIZE:-}" ] && extra=(-DCMAKE_CXX_FLAGS="-fsanitize=$CYXP2P_SANITIZE" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=$CYXP2P_SANITIZE")
cmake -S "$source_dir/tests/install/consumer" -B "$tmp/build" -G Ninja -DCMAKE_PREFIX_PATH="$tmp/prefix" "${extra[@]}" >/dev/null
cmake --build "$tmp/build" >/dev/null
out=$("$tmp/build/consumer")
case "$out" in sha256//*) echo "consumer printed $out" ;; *) echo "unexpected output: $out" >&2; exit 1 ;; esac
