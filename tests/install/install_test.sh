#!/usr/bin/env bash
# Installs the build into a temporary prefix, builds examples/ against it with find_package(cyxp2p) as
# another project would, and runs the example node and engine against each other.
set -euo pipefail
build_dir=$1 source_dir=$2
tmp=$(mktemp -d)
node_pid=
cleanup() { [ -n "$node_pid" ] && kill "$node_pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
cmake --install "$build_dir" --prefix "$tmp/prefix" >/dev/null
test -f "$tmp/prefix/include/cyxp2p/pinning/pin_set.hpp"
test -f "$tmp/prefix/include/cyxp2p/net/engine.hpp"
test -f "$tmp/prefix/lib/cmake/cyxp2p/cyxp2pConfig.cmake"
# Headers only, in the tree's include root and once installed: public ones, detail/ and the impl/*.hpp
# template bodies they include; no impl/*.cpp, no CMakeLists.txt, no tests (docs/building.md).
test -f "$tmp/prefix/include/cyxp2p/net/impl/engine.hpp"
test -f "$tmp/prefix/include/cyxp2p/auth/detail/crypto.hpp"
for root in "$tmp/prefix/include/cyxp2p" "$build_dir/include/cyxp2p"; do
  stray=$(find -L "$root" -type f ! -name '*.hpp')
  [ -z "$stray" ] || { echo "not a header under $root: $stray" >&2; exit 1; }
  [ ! -e "$root/tests" ] || { echo "$root/tests is includable" >&2; exit 1; }
done
extra=()
[ -n "${CYXP2P_SANITIZE:-}" ] && extra=(-DCMAKE_CXX_FLAGS="-fsanitize=$CYXP2P_SANITIZE" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=$CYXP2P_SANITIZE")
cmake -S "$source_dir/examples" -B "$tmp/build" -G Ninja -DCMAKE_PREFIX_PATH="$tmp/prefix" "${extra[@]}" >/dev/null
cmake --build "$tmp/build" >/dev/null
mkdir "$tmp/run"
mkfifo "$tmp/stdin"
"$tmp/build/example-node" "$tmp/run" < "$tmp/stdin" > "$tmp/node.log" 2>&1 &
node_pid=$!
exec 3> "$tmp/stdin"   # keeps the node's stdin open until we close it
for _ in $(seq 300); do grep -q ready "$tmp/node.log" 2>/dev/null && break; sleep 0.1; done
out=$("$tmp/build/example-engine" "$tmp/run")
exec 3>&-
wait "$node_pid"
node_pid=
case "$out" in "node says: accepted job-1") echo "examples: $out" ;; *) echo "unexpected: $out" >&2; cat "$tmp/node.log" >&2; exit 1 ;; esac
