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
# A hung engine must fail the test with the node's log, not wait for CTest's timeout.
status=0
out=$(timeout 120 "$tmp/build/example-engine" "$tmp/run") || status=$?
exec 3>&-
node_status=0
wait "$node_pid" || node_status=$?
node_pid=
mismatch() { printf 'examples: %s\nengine (exit %s):\n%s\nnode (exit %s):\n' "$1" "$status" "$out" "$node_status" >&2; cat "$tmp/node.log" >&2; exit 1; }
[ "$status" = 0 ] || mismatch "the engine failed"
[ "$node_status" = 0 ] || mismatch "the node did not exit 0 after stdin closed"
# The transcript, line by line. Progress arrives every 50 ms while the engine reacts, so a few steps may pass
# between a command and its effect; what must hold: steps in order, none while paused, the job goes on one
# step after the pause, and stops at the cancel.
awk '
  function bad(why) { print "line " NR " (" $0 "): " why > "/dev/stderr"; failed = 1; exit 1 }
  { before = prev; prev = $0 }
  NR == 1 { if ($0 != "submit: ok, accepted job-1") bad("expected the job accepted"); next }
  NR == 2 { if ($0 != "train.stream: open") bad("expected the stream open"); next }
  /^progress [0-9]+\/100 / {
    split($2, n, "/"); step = n[1] + 0; state = $3
    if (done) bad("progress after the stream closed")
    if (state == "running") {
      if (paused && !resumed) bad("a step while paused")
      if (step != last + 1) bad("expected step " last + 1)
      if (cancelled) ran_after_cancel++
      last = step
    } else if (state == "paused") {
      if (!pause_sent || paused || step != last) bad("paused without a pause, twice, or not at the last step")
      paused = 1
    } else if (state == "cancelled") {
      if (!cancelled || step != last) bad("cancelled without a cancel, or not at the last step")
      done_cancel = 1
    } else bad("unexpected state")
    next
  }
  $0 == "pause: sent" { if (last != 3 || pause_sent) bad("pause expected once, after step 3"); pause_sent = 1; next }
  $0 == "resume: sent" { if (!paused || resumed || before !~ /paused$/) bad("resume expected right after paused"); resumed = 1; next }
  $0 == "cancel: sent" { if (last != 10 || !resumed) bad("cancel expected after step 10"); cancelled = 1; next }
  $0 == "train.stream: closed ok" { if (!done_cancel) bad("closed before the job was cancelled"); done = 1; next }
  /^fetch: verified [0-9]+ bytes$/ { if (!done || $3 != 614400) bad("expected 614400 bytes after the stream"); fetched = 1; next }
  $0 == "close: ok, 0 streams cut" { if (!fetched) bad("closed before the fetch"); closed = 1; next }
  { bad("unexpected line") }
  END { if (!failed && !closed) { print "the transcript ends early" > "/dev/stderr"; exit 1 } }
' <<<"$out" || mismatch "unexpected transcript"
grep -q "train.stream [0-9]* closed: finished" "$tmp/node.log" || mismatch "the node did not see train.stream finish"
echo "examples: job accepted, $(grep -c 'running$' <<<"$out") steps with a pause, cancelled, 614400 bytes fetched, closed"
