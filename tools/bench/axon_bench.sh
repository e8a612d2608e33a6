#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# make bench-axon: tools/bench/axon_bench between two network namespaces
# joined by a veth pair (server 10.79.0.2, client 10.79.0.1; names unique
# per run, removed on exit).  Without root or `ip netns` it runs over
# 127.0.0.1 instead and says so on its first line.
#   axon_bench.sh AXON_BENCH_BINARY [client args: -n N -r ROUNDS]
BIN=$1
shift
ID=$(printf 'ab%x%02x' $$ $((RANDOM % 256)))
C=${ID}c S=${ID}s
spid=
cleanup() {
	[ -n "$spid" ] && kill "$spid" 2>/dev/null && wait "$spid" 2>/dev/null
	ip netns del "$C" 2>/dev/null
	ip netns del "$S" 2>/dev/null
}
trap cleanup EXIT
addr=127.0.0.1
why=""
if [ "$(id -u)" -ne 0 ]; then
	why="not root"
elif ! command -v ip >/dev/null; then
	why="no ip(8)"
elif ! ip netns add "$C" 2>/dev/null || ! ip netns add "$S"; then
	why="ip netns add fails"
elif ip link add "${ID}a" netns "$C" type veth peer name "${ID}b" netns "$S" &&
	ip -n "$C" addr add 10.79.0.1/24 dev "${ID}a" && ip -n "$S" addr add 10.79.0.2/24 dev "${ID}b" &&
	ip -n "$C" link set "${ID}a" up && ip -n "$S" link set "${ID}b" up &&
	ip -n "$C" link set lo up && ip -n "$S" link set lo up; then
	addr=10.79.0.2
else
	why="veth setup failed"
fi
if [ -n "$why" ]; then
	echo "axon bench: over 127.0.0.1, not between namespaces ($why)"
	srv=() cli=()
else
	echo "axon bench: two network namespaces joined by veth (client 10.79.0.1, server $addr)"
	srv=(ip netns exec "$S") cli=(ip netns exec "$C")
fi
out=$(mktemp)
"${srv[@]}" "$BIN" server "$addr" 47300 >"$out" 2>&1 &
spid=$!
for _ in $(seq 50); do grep -q ready "$out" && break; sleep 0.1; done
grep -q ready "$out" || { cat "$out"; rm -f "$out"; exit 1; }
rm -f "$out"
echo "command: $0 $BIN $*"
"${cli[@]}" "$BIN" client "$addr" 47300 "$@"
