#!/usr/bin/env bash
# Builds the Debian package from this build directory (cpack -G DEB), unpacks it into a scratch root with
# dpkg-deb -x and checks it as an operator would use it: its metadata, its files, the systemd unit
# (systemd-analyze verify and security against the unpacked root), the packaged node.conf, and the
# packaged tools running a node and a probe against each other.
set -euo pipefail
build_dir=$1 version=$2  # the project's version: the package's and the tools' --version
# A sanitizer build's runtime makes calls of its own, and LeakSanitizer refuses to run under ptrace: the
# system-call check below is for the binaries as they ship, so it is skipped in asan/tsan builds.
sanitize=${CYXP2P_SANITIZE:-}
tmp=$(mktemp -d)
node_pid= p2p_node_pid=  # the background job (strace when traced) and p2p-node itself
cleanup() {
  # strace detaches when killed and leaves its tracee running: stop p2p-node itself first.
  [ -z "$p2p_node_pid" ] && [ -n "$node_pid" ] && p2p_node_pid=$(pgrep -P "$node_pid")
  [ -n "$p2p_node_pid" ] && kill "$p2p_node_pid" 2>/dev/null
  [ -n "$node_pid" ] && kill "$node_pid" 2>/dev/null && wait "$node_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
die() { echo "package: $*" >&2; exit 1; }
# traced NAME COMMAND...: runs COMMAND, recording its system calls in $tmp/trace/NAME.
traced() {
  local name=$1
  shift
  # exec: in a background job or $(...), the job's pid is then strace's (or the command's itself).
  if [ -n "$sanitize" ]; then exec "$@"; else exec strace -f -qq -o "$tmp/trace/$name" "$@"; fi
}
for tool in cpack dpkg-deb dpkg-shlibdeps systemd-analyze strace curl; do
  command -v "$tool" >/dev/null || die "$tool is missing (scripts/setup installs it)"
done

cpack --config "$build_dir/CPackConfig.cmake" -G DEB -B "$tmp/cpack" >"$tmp/cpack.log" 2>&1 ||
  { cat "$tmp/cpack.log" >&2; die "cpack failed"; }
debs=("$tmp"/cpack/*.deb)
[ "${#debs[@]}" -eq 1 ] && [ -f "${debs[0]}" ] || die "expected one .deb, got: ${debs[*]}"
deb=${debs[0]}

# --- metadata: Depends derived from the binaries, node.conf a conffile ---------------------------------
field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = cyxp2p ] || die "Package: $(field Package)"
depends=$(field Depends)
for lib in libc6 libssl3 libsodium23 libstdc++6; do
  grep -q "\b$lib\b" <<<"$depends" || die "Depends lacks $lib: $depends"
done
dpkg-deb -e "$deb" "$tmp/control"
[ "$(cat "$tmp/control/conffiles")" = /etc/cyxp2p/node.conf ] || die "conffiles: $(cat "$tmp/control/conffiles")"

# --- files ------------------------------------------------------------------------------------------------
root=$tmp/root
dpkg-deb -x "$deb" "$root"
for f in usr/bin/p2p-node usr/bin/p2p-probe usr/lib/systemd/system/p2p-node.service etc/cyxp2p/node.conf \
  usr/include/cyxp2p/net/engine.hpp usr/include/cyxp2p/pinning/pin_set.hpp \
  usr/share/doc/cyxp2p/operations.md; do
  [ -e "$root/$f" ] || die "missing /$f"
done
[ -n "$(find "$root/usr/lib" -path '*/cmake/cyxp2p/cyxp2pConfig.cmake')" ] || die "no cyxp2pConfig.cmake"
# The package owns only its own directories' contents: no file outside /usr and /etc/cyxp2p.
stray=$(cd "$root" && find . -type f ! -path './usr/*' ! -path './etc/cyxp2p/*')
[ -z "$stray" ] || die "files outside /usr and /etc/cyxp2p: $stray"

# --- the systemd unit, against the unpacked root -----------------------------------------------------------
# verify resolves ExecStart= in the root and needs the targets the unit names; it exits 0 on warnings
# (an unknown directive, a bad value), so any output is a failure.
mkdir -p "$root/usr/lib/systemd/system"
cp /usr/lib/systemd/system/*.target "$root/usr/lib/systemd/system/"
mkdir -p "$root/bin"
cp /bin/kill "$root/bin/kill"  # what ExecReload= runs (procps)
verify=$(systemd-analyze verify --root="$root" p2p-node.service 2>&1) || die "systemd-analyze verify: $verify"
[ -z "$verify" ] || die "systemd-analyze verify: $verify"
# Exposure 1.4 today ("OK"); more than 1.5 means a hardening directive was lost.
systemd-analyze security --offline=yes --no-pager --root="$root" --threshold=15 p2p-node.service \
  >"$tmp/security" 2>&1 || { cat "$tmp/security" >&2; die "unit exposure above 1.5"; }
unit=$root/usr/lib/systemd/system/p2p-node.service
for line in 'ExecReload=/bin/kill -HUP $MAINPID' 'CapabilityBoundingSet=' 'DynamicUser=yes' \
  'ProtectSystem=strict' 'SystemCallFilter=@system-service' 'ExecStart=/usr/bin/p2p-node run --config /etc/cyxp2p/node.conf'; do
  grep -qxF "$line" "$unit" || die "the unit lacks '$line'"
done

# --- the tools, run from the unpacked root -----------------------------------------------------------------
node=$root/usr/bin/p2p-node probe=$root/usr/bin/p2p-probe
"$node" --version | grep -q "p2p-node $version" || die "p2p-node --version: $("$node" --version)"
"$probe" --version | grep -q "p2p-probe $version" || die "p2p-probe --version: $("$probe" --version)"
[ "$(field Version)" = "$version" ] || die "Version: $(field Version), project $version"

# The unit's ExecStartPre: creates the identity once (in the StateDirectory= systemd creates), then keeps
# it. Traced, with the node below: every system call it makes must pass the unit's SystemCallFilter=.
mkdir "$tmp/state" "$tmp/trace"
first=$(traced init1 "$node" init --identity "$tmp/state/identity" --if-missing)
again=$(traced init2 "$node" init --identity "$tmp/state/identity" --if-missing)
[ "$first" = "$again" ] || die "init --if-missing changed the identity: '$first' then '$again'"
"$probe" key new --alg EdDSA --kid cs --out "$tmp/cs.jwk" >/dev/null

# node.conf: every setting of `run --help` is there, commented, with the default `run` prints; uncommented,
# each of those lines parses (strictly) to that same default.
conf=$root/etc/cyxp2p/node.conf
check() { "$node" run --config "$1" --identity "$tmp/state/identity" --keys "$tmp/cs.jwks" --print-config; }
printed=$(check "$conf") || die "p2p-node run --config node.conf --print-config failed"
help_names=$("$node" run --help | sed -n 's/^  --\([a-z0-9-]*\) .*/\1/p' | grep -vxE 'config|print-config|json|help')
[ -n "$help_names" ] || die "no settings in p2p-node run --help"
for name in $help_names; do
  grep -qE "^#?$name =" "$conf" || die "node.conf lacks $name"
done
[ "$(grep -cE '^#?[a-z0-9-]+ =' "$conf")" -eq "$(wc -w <<<"$help_names")" ] || die "node.conf and run --help differ"
grep -qx 'identity = /var/lib/cyxp2p/identity' "$conf" || die "node.conf: identity is not the StateDirectory"
grep -qx 'keys = /etc/cyxp2p/jwks.json' "$conf" || die "node.conf: keys is not /etc/cyxp2p/jwks.json"
sed -E 's/^#([a-z0-9-]+ =)/\1/' "$conf" >"$tmp/all.conf"
all=$(check "$tmp/all.conf") || die "node.conf with every default uncommented does not parse"
[ "$all" = "$printed" ] || die "a commented default in node.conf is not the default: $(diff <(echo "$printed") <(echo "$all"))"

# A node from the package, as the unit runs it (the packaged node.conf; serving, metrics, audit in the
# logs directory), serves the packaged probe: a connect, a verified fetch, a scrape; then SIGTERM drains.
mkdir "$tmp/serve" "$tmp/logs"
head -c 700000 /dev/urandom >"$tmp/serve/model.bin"
traced run "$node" run --config "$conf" --identity "$tmp/state/identity" \
  --keys "$tmp/cs.jwks" --listen 127.0.0.1:0 --serve "$tmp/serve" --metrics 127.0.0.1:0 \
  --audit "$tmp/logs/audit.jsonl" >"$tmp/node.log" 2>&1 &
node_pid=$!
for _ in $(seq 300); do grep -q '^ready' "$tmp/node.log" 2>/dev/null && break; sleep 0.1; done
grep -q '^ready' "$tmp/node.log" || die "the packaged node did not start: $(cat "$tmp/node.log")"
p2p_node_pid=$node_pid
[ -n "$sanitize" ] || p2p_node_pid=$(pgrep -P "$node_pid")
[ -n "$p2p_node_pid" ] || die "cannot find p2p-node under strace"
port=$(sed -n 's/^listening .*:\([0-9]*\)$/\1/p' "$tmp/node.log")
metrics=$(sed -n 's|^metrics \(http://.*\)$|\1|p' "$tmp/node.log")
cid=$(sed -n 's/^serving \([^ ]*\) model.bin$/\1/p' "$tmp/node.log")
node_id=$(sed -n 's/^node_id //p' <<<"$first")
pin=$(sed -n 's/^pin //p' <<<"$first")
"$probe" token mint --key "$tmp/cs.jwk" --sub operator --node-id "$node_id" >"$tmp/token"
"$probe" connect "127.0.0.1:$port" --pin "$pin" --token "$tmp/token" >"$tmp/connect.log" 2>&1 ||
  die "packaged p2p-probe connect failed: $(cat "$tmp/connect.log")"
"$probe" fetch "127.0.0.1:$port" "$cid" -o "$tmp/fetched.bin" --pin "$pin" --token "$tmp/token" \
  >"$tmp/fetch.log" 2>&1 || die "packaged p2p-probe fetch failed: $(cat "$tmp/fetch.log")"
cmp -s "$tmp/serve/model.bin" "$tmp/fetched.bin" || die "the fetched file differs from the served one"
curl -fsS -o "$tmp/metrics" "$metrics" || die "GET $metrics failed"
grep -q '^cyxp2p_build_info{version="'"$version"'"' "$tmp/metrics" || die "no build_info at $metrics"
# SIGTERM to p2p-node itself (strace's child when traced), as systemd's KillSignal= sends it.
kill -TERM "$p2p_node_pid"
wait "$node_pid" || die "the packaged node did not stop cleanly on SIGTERM: $(cat "$tmp/node.log")"
node_pid= p2p_node_pid=
grep -q '"content_served"' "$tmp/logs/audit.jsonl" || die "no content_served event in the audit file"

# The calls traced above against the unit's filter, as systemd resolves it: the allow list's groups
# (SystemCallFilter=@system-service) minus the deny list's (SystemCallFilter=~@privileged @resources).
expand() {
  local item
  for item in "$@"; do
    case $item in
      @*) expand $(systemd-analyze syscall-filter "$item" | sed -n 's/^    \([^#][^ ]*\)$/\1/p') ;;
      *) echo "$item" ;;
    esac
  done
}
allow=$(sed -n 's/^SystemCallFilter=\([^~].*\)$/\1/p' "$unit")
deny=$(sed -n 's/^SystemCallFilter=~\(.*\)$/\1/p' "$unit")
[ -n "$allow" ] && [ -n "$deny" ] || die "the unit's SystemCallFilter= lines changed; update this test"
comm -23 <(expand $allow | sort -u) <(expand $deny | sort -u) >"$tmp/allowed"
if [ -z "$sanitize" ]; then
  sed -nE 's/^[0-9]+ +([a-z0-9_]+)\(.*/\1/p' "$tmp"/trace/* | sort -u >"$tmp/used"
  [ "$(wc -l <"$tmp/used")" -gt 30 ] || die "strace saw only $(wc -l <"$tmp/used") system calls"
  blocked=$(comm -23 "$tmp/used" "$tmp/allowed")
  [ -z "$blocked" ] || die "p2p-node makes system calls the unit's SystemCallFilter= refuses: $blocked"
  calls="$(wc -l <"$tmp/used") system calls, all in the unit's filter"
else
  calls="system calls not checked ($sanitize build)"
fi
# --- install, upgrade, remove, purge with dpkg in the scratch root (no maintainer scripts run) --------------
# An operator's edit of node.conf survives an upgrade whose node.conf changed too (the new one is kept
# beside it as node.conf.dpkg-dist); remove keeps the conffile, purge deletes it.
dpkg_root=$tmp/dpkg-root
mkdir -p "$dpkg_root/var/lib/dpkg/info" "$dpkg_root/var/lib/dpkg/updates" "$dpkg_root/var/lib/dpkg/triggers"
touch "$dpkg_root/var/lib/dpkg/status" "$dpkg_root/var/lib/dpkg/available"
dpkg_() { dpkg --root="$dpkg_root" --log=/dev/null --force-depends "$@" >>"$tmp/dpkg.log" 2>&1 ||
  die "dpkg $*: $(tail -5 "$tmp/dpkg.log")"; }
dpkg_ -i "$deb"
installed_conf=$dpkg_root/etc/cyxp2p/node.conf
cmp -s "$installed_conf" "$conf" || die "dpkg -i did not install node.conf"
sed -i 's/^#listen = .*/listen = 0.0.0.0:7400/' "$installed_conf"
dpkg-deb -R "$deb" "$tmp/next"
sed -i "s/^Version: .*/Version: $version.1/" "$tmp/next/DEBIAN/control"
echo '# a setting the next version adds' >>"$tmp/next/etc/cyxp2p/node.conf"
(cd "$tmp/next" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | xargs -0 md5sum >DEBIAN/md5sums)
dpkg-deb -b -Znone --root-owner-group "$tmp/next" "$tmp/next.deb" >/dev/null  # no xz: it is thrown away
dpkg_ --force-confold -i "$tmp/next.deb"
[ "$(dpkg-query --admindir="$dpkg_root/var/lib/dpkg" -W -f='${Version}' cyxp2p)" = "$version.1" ] ||
  die "the upgrade did not install"
grep -qx 'listen = 0.0.0.0:7400' "$installed_conf" || die "the upgrade replaced the operator's node.conf"
grep -q 'a setting the next version adds' "$installed_conf.dpkg-dist" || die "no node.conf.dpkg-dist after upgrade"
dpkg_ -r cyxp2p
[ ! -e "$dpkg_root/usr/bin/p2p-node" ] && [ -f "$installed_conf" ] || die "remove: binaries left or node.conf gone"
dpkg_ -P cyxp2p
[ ! -e "$installed_conf" ] || die "purge left node.conf"

echo "package: $(basename "$deb") ($(du -k "$deb" | cut -f1) KiB), Depends: $depends;" \
  "$calls; $(tail -1 "$tmp/security")"
