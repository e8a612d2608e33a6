#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# Memory of both QUIC ends under load stays within the configured window
# (selftests/quic/quic_peer, server and client as two processes on
# 127.0.0.1; no root needed).  The connection window is W = 4 MiB on both
# sides (QUIC_PEER_MAX_DATA).  RSS from /proc/self/status (VmRSS, VmHWM),
# read by each process itself (the server answers its own on method 6).
#   1. 10,000 streams (calls of 64 B, 128 in flight at once).
#   2. 1 MiB requests, 16 in flight (4x the window): N of them, N bounded
#      by time (QUIC_MEM_MIB, default 300, not 10,000: at the ~90 MB/s
#      this transport does here with 16 in flight, 10,000 take 2 minutes).
#   3. 300 one-way messages of 1 MiB (QUIC_MEM_SENDS), max_inflight 16:
#      a one-way message holds a slot of the ended-calls budget (as large
#      as max_inflight) until its stream closes, so a sender cannot pile up
#      more than 16 of them.
# The client runs with max_inflight = the number in flight, so the
# transport's guarantee is 2 x that x the size (calls + ended calls'
# unclosed streams); the bound asserted is the tighter one measured.
# Bounds asserted (kB):
#   server VmHWM growth        <= W + SLACK
#   client VmHWM growth        <= W + SLACK + its own request buffers
#                                 (in flight x size: the application's)
#   leak (run 1): VmRSS after all - VmRSS half-way <= 1 MiB, both sides
#   (runs 2 and 3: a leak of a message each would break the HWM bounds;
#   their instant RSS swings by megabytes with the 1 MiB buffers alive)
# SLACK = 3 MiB: TLS, ngtcp2 state, allocator arenas (the 10,000-stream
# run grows each side by well under 1 MiB; the server's HWM grows by about
# W + 0.2 MiB in run 2, where without the window it would hold 16 MiB).  TAP.
# QUIC_MEM_TIMEOUT (default 50 s) bounds each client run; make bench-axon-memory
# runs the 10,000 x 1 MiB version (tools/bench/axon.mk).
#   quic_memory.sh BUILD_DIR
PEER=$1/selftests/quic/quic_peer
W=$((4 << 20))
SLACK_KB=$((3 << 10))
LEAK_KB=1024
MIB=${QUIC_MEM_MIB:-300}
SENDS=${QUIC_MEM_SENDS:-300}
RUN=$(mktemp -d /tmp/quic-mem.XXXXXX)
spid=
n=0
fail=0
cleanup() {
	[ -n "$spid" ] && kill -9 "$spid" 2>/dev/null && wait "$spid" 2>/dev/null
	rm -rf "$RUN"
}
trap cleanup EXIT
[ -x "$PEER" ] || { echo "1..0 # SKIP $PEER not built"; exit 0; }
check() {
	n=$((n + 1))
	if eval "$2"; then echo "ok $n $1"; else echo "not ok $n $1"; fail=1; fi
}
export QUIC_PEER_MAX_DATA=$W
"$PEER" keygen "$RUN/k" >/dev/null
# start: a fresh server per run (its VmHWM starts low each time).
start() {
	[ -n "$spid" ] && kill -9 "$spid" 2>/dev/null && wait "$spid" 2>/dev/null
	"$PEER" server 127.0.0.1:0 "$RUN/k" - 5000 >"$RUN/server.out" 2>"$RUN/server.err" &
	spid=$!
	for _ in $(seq 50); do grep -q '^port' "$RUN/server.out" && break; sleep 0.1; done
	port=$(awk '$1 == "port" { print $2 }' "$RUN/server.out")
}
start
echo "1..12"
check "server listens on 127.0.0.1:${port:-none}" '[ -n "$port" ]'

# run NAME MODE N SIZE K: one client; sets c0 c1 c2 s0 s1 s2 (RSS) ch0 ch1 sh0 sh1 (HWM), done.
run() {
	local out
	start
	out=$(timeout "${QUIC_MEM_TIMEOUT:-50}" "$PEER" client "quic://127.0.0.1:$port" "$RUN/k" - 5000 "$2" "$3" "$4" "$5")
	echo "# $1: $(tr '\n' ' ' <<<"$out")"
	for v in c0 c1 c2 s0 s1 s2 ch0 ch1 sh0 sh1; do
		printf -v "$v" '%s' "$(sed -n "s/^rss.* $v=\([0-9]*\).*/\1/p" <<<"$out")"
	done
	done=$(grep '^done' <<<"$out")
}
bounds() { # NAME N OWN_KB
	local sg=$((sh1 - sh0)) cg=$((ch1 - ch0)) own=$3 total=$2
	check "$1: all $2 calls OK: $done" '[[ "$done" == "done ok=$total failed=0 wrong=0 "* ]]'
	check "$1: server VmHWM grew $sg kB (<= window $((W >> 10)) + $SLACK_KB kB)" \
		'[ -n "$sh1" ] && [ "$sg" -le $(( (W >> 10) + SLACK_KB )) ]'
	check "$1: client VmHWM grew $cg kB (<= window + $SLACK_KB + own buffers $own kB)" \
		'[ -n "$ch1" ] && [ "$cg" -le $(( (W >> 10) + SLACK_KB + own )) ]'
}
leak() {
	check "$1: no leak: VmRSS half-way -> end: client $c1 -> $c2 kB, server $s1 -> $s2 kB (<= +$LEAK_KB)" \
		'[ -n "$s2" ] && [ $((c2 - c1)) -le $LEAK_KB ] && [ $((s2 - s1)) -le $LEAK_KB ]'
}
run "10000 streams" sink 10000 64 128
bounds "10000 streams of 64 B, 128 in flight" 10000 $((128 * 64 / 1024))
leak "10000 streams"
run "$MIB x 1 MiB" sink "$MIB" 1048576 16
short=""
[ "$MIB" -lt 10000 ] && short=" (not 10000: time-bounded; make bench-axon-memory runs 10000)"
bounds "$MIB x 1 MiB, 16 in flight$short" "$MIB" $((16 * 1024))
run "$SENDS one-way x 1 MiB" send "$SENDS" 1048576 16
bounds "$SENDS one-way messages of 1 MiB, at most 16 unclosed (max_inflight)" "$SENDS" $((16 * 1024))
# max_inflight 1, one call after the other: the previous call's stream may
# still be open (its last bytes unacknowledged); the next call waits for it
# instead of failing with RESOURCE_EXHAUSTED.
run "32 x 1 MiB, max_inflight 1" sink 32 1048576 1
check "32 x 1 MiB one after the other with max_inflight 1: all OK: $done" \
	'[[ "$done" == "done ok=32 failed=0 wrong=0 "* ]]'
exit $fail
