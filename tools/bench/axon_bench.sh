#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# make bench-axon: tools/bench/axon_bench between two network namespaces
# joined by a veth pair (server 10.79.0.2, client 10.79.0.1; names unique
# per run, removed on exit).  Without root or `ip netns` it runs over
# 127.0.0.1 instead and says so on its first line.
# With AXON_GRPC=PATH (tools/bench/axon_grpc.cc, built when Debian's
# libgrpc++-dev is there) gRPC over TCP+TLS is measured next, between the
# same namespaces, and compared with Cell QUIC at 64 B and 64 KiB.
#   axon_bench.sh AXON_BENCH_BINARY [client args: -n N -r ROUNDS]
BIN=$1
shift
ID=$(printf 'ab%x%02x' $$ $((RANDOM % 256)))
C=${ID}c S=${ID}s
spid=
gpid=
tmp=$(mktemp -d)
cleanup() {
	[ -n "$spid" ] && kill "$spid" 2>/dev/null && wait "$spid" 2>/dev/null
	[ -n "$gpid" ] && kill "$gpid" 2>/dev/null && wait "$gpid" 2>/dev/null
	rm -rf "$tmp"
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
"${cli[@]}" "$BIN" client "$addr" 47300 "$@" | tee "$tmp/cell.txt"
[ "${PIPESTATUS[0]}" -eq 0 ] || exit 1

# The gRPC row: Cell QUIC's p50 from the run above against gRPC's, per size.
if [ -z "$AXON_GRPC" ]; then
	echo "gRPC over TCP+TLS: not measured (${AXON_GRPC_WHY:-AXON_GRPC not set})"
	exit 0
fi
"${srv[@]}" "$AXON_GRPC" server "$addr" 47310 "$tmp/grpc.pem" >"$tmp/grpc.out" 2>&1 &
gpid=$!
for _ in $(seq 100); do grep -q ready "$tmp/grpc.out" && break; sleep 0.1; done
grep -q ready "$tmp/grpc.out" || { cat "$tmp/grpc.out"; exit 1; }
"${cli[@]}" "$AXON_GRPC" client "$addr" 47310 "$tmp/grpc.pem" "$@" >"$tmp/grpc.txt" || exit 1
echo "gRPC C++ $(pkg-config --modversion grpc++ 2>/dev/null) unary over TCP+TLS (generic API, raw bytes, one call at a time; run after the rows above, not interleaved):"
for size in 64 65536; do
	read -r _ _ gp50 gp99 < <(grep "^grpc-tls $size " "$tmp/grpc.txt")
	qp50=$(awk -v s="$size" '$1 == "RTT" && $2 == s { on = 1; next }
		on && /Cell QUIC/ { print $3; exit }' "$tmp/cell.txt")
	[ -n "$gp50" ] && [ -n "$qp50" ] || { echo "gRPC row: no figure for $size B"; exit 1; }
	awk -v s="$size" -v g="$gp50" -v g99="$gp99" -v q="$qp50" 'BEGIN {
		r = q / g
		printf "  RTT p50 %5d B: gRPC %.1f us (p99 %.1f), Cell QUIC %.1f us: QUIC / gRPC = %.2fx", s, g, g99, q, r
		if (s == 64) printf "  %s (goal < 1.0x)", r < 1.0 ? "goal met" : "goal MISSED"
		printf "\n" }'
done
