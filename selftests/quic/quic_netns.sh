#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# QUIC between "hosts" in network namespaces (selftests/quic/quic_peer is
# both ends).  Three namespaces, unique per run:
#   C (client) 10.78.0.1 --veth-- S (server) 10.78.0.2          two hosts
#   C 10.78.1.1 --veth-- R (relay) 10.78.1.2 / 10.78.2.1 --veth-- S 10.78.2.2
# Two hosts: calls across the veth, pipelined calls, unknown keys refused
# both ways (PERMISSION_DENIED = EACCES, a log line naming the key),
# a call after the connection died idle connects again, kill -9 of either
# side noticed by the other within 1 s (the idle timeout
# is 600 ms here: QUIC notices a silent peer by it; figure printed).
# Three hosts: clients in C and in R call S at once; and C calls S through
# R's lossy relay (lossy_relay.py: drops, duplicates and reorders 1 % and
# 5 % of datagrams each way, delays 1-3 ms): every call completes exactly
# once or fails with a status, none hangs (counted by both ends).
# Needs root and `ip netns`: SKIPs visibly otherwise.  TAP.
#   quic_netns.sh BUILD_DIR
BIN=$1
PEER=$BIN/selftests/quic/quic_peer
HERE=$(cd "$(dirname "$0")" && pwd)
ID=$(printf 'q%x%02x' $$ $((RANDOM % 256)))
C=${ID}c R=${ID}r S=${ID}s
RUN=$(mktemp -d /tmp/quic-netns.XXXXXX)
IDLE=600
pids=()
n=0
fail=0
T_START=$(date +%s%N)

check() {
	n=$((n + 1))
	if eval "$2"; then echo "ok $n $1"; else echo "not ok $n $1"; fail=1; fi
}
cleanup() {
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	for ns in "$C" "$R" "$S"; do ip netns del "$ns" 2>/dev/null; done
	[ -n "${KEEP:-}" ] && echo "# kept $RUN" || rm -rf "$RUN"
}
trap cleanup EXIT
skip() { echo "1..0 # SKIP $*"; exit 0; }
[ "$(id -u)" -eq 0 ] || skip "needs root (CAP_NET_ADMIN for network namespaces)"
command -v ip >/dev/null || skip "no ip(8) (Debian iproute2)"
command -v python3 >/dev/null || skip "no python3 for the relay"
[ -x "$PEER" ] || skip "$PEER not built"
ip netns add "$C" 2>/dev/null || skip "ip netns add fails here: $(ip netns add "$C" 2>&1)"
ip netns add "$R" && ip netns add "$S" || exit 1
# link NS1 ADDR1 NS2 ADDR2 NAME: a veth pair between two namespaces.
link() {
	ip link add "$5a" netns "$1" type veth peer name "$5b" netns "$3" &&
		ip -n "$1" addr add "$2/24" dev "$5a" && ip -n "$3" addr add "$4/24" dev "$5b" &&
		ip -n "$1" link set "$5a" up && ip -n "$3" link set "$5b" up
}
link "$C" 10.78.0.1 "$S" 10.78.0.2 "${ID}0" && link "$C" 10.78.1.1 "$R" 10.78.1.2 "${ID}1" &&
	link "$R" 10.78.2.1 "$S" 10.78.2.2 "${ID}2" || exit 1
for ns in "$C" "$R" "$S"; do ip -n "$ns" link set lo up; done
now_ns() { date +%s%N; }
# client NS TARGET KEY PEERS IDLE MODE ARGS...: one client run, bounded.
client() {
	local ns=$1 target=$2 key=$3 peers=$4 idle=$5
	shift 5
	ip netns exec "$ns" timeout 25 "$PEER" client "quic://$target" "$RUN/$key.key" \
		"$RUN/$peers" "$idle" "$@"
}
field() { sed -n "s/.*$1=\([0-9]*\).*/\1/p" <<<"$2"; }
echo "1..15"

ckey=$("$PEER" keygen "$RUN/client.key")
skey=$("$PEER" keygen "$RUN/server.key")
"$PEER" keygen "$RUN/stranger.key" >/dev/null
hex() { od -An -tx1 -v -j32 "$RUN/$1.key" | tr -d ' \n'; }
echo "$ckey client" >"$RUN/server.peers"
echo "$skey server" >"$RUN/client.peers"
echo "$(hex stranger) someone else" >"$RUN/wrong.peers"

# start_server: the server in S on every address, port 4433.
start_server() {
	QUIC_PEER_LOG=1 ip netns exec "$S" "$PEER" server 0.0.0.0:4433 "$RUN/server.key" \
		"$RUN/server.peers" $IDLE >"$RUN/server$1.out" 2>"$RUN/server$1.err" &
	spid=$!
	pids+=("$spid")
	for _ in $(seq 50); do grep -q '^port' "$RUN/server$1.out" && return 0; sleep 0.1; done
	return 1
}
check "server listens in its namespace" "start_server 1"

out=$(client "$C" 10.78.0.2:4433 client client.peers $IDLE calls 200 64)
check "two hosts: 200 calls of 64 B across the veth: $out" '[[ "$out" == "done ok=200 failed=0 wrong=0 dup=0 "* ]]'
out=$(client "$C" 10.78.0.2:4433 client client.peers $IDLE calls 50 65536)
check "two hosts: 50 calls of 64 KiB: $out" '[[ "$out" == "done ok=50 failed=0 wrong=0 dup=0 "* ]]'
out=$(client "$C" 10.78.0.2:4433 client client.peers $IDLE par 2000 64 128)
check "two hosts: 2000 calls, 128 in flight: $out" '[[ "$out" == "done ok=2000 failed=0 wrong=0 dup=0 "* ]]'

out=$(QUIC_PEER_LOG=1 client "$C" 10.78.0.2:4433 client client.peers $IDLE idle 1500 2>"$RUN/idle.err")
check "two hosts: a call after 1.5 s of silence (idle timeout $IDLE ms) connects again by itself: $out" \
	'[ "$out" = "idle OK OK" ] && grep -q "connecting again" "$RUN/idle.err"'

# Three hosts: C (direct) and R (its own veth to S) at once.
client "$C" 10.78.0.2:4433 client client.peers $IDLE par 1000 256 64 >"$RUN/three-c.out" &
p1=$!
client "$R" 10.78.2.2:4433 client client.peers $IDLE par 1000 256 64 >"$RUN/three-r.out" &
p2=$!
wait $p1 $p2
o1=$(cat "$RUN/three-c.out") o2=$(cat "$RUN/three-r.out")
check "three hosts: clients in C and R call S at once: C: $o1; R: $o2" \
	'[[ "$o1" == "done ok=1000 failed=0 wrong=0 dup=0 "* && "$o2" == "done ok=1000 failed=0 wrong=0 dup=0 "* ]]'

out=$(QUIC_PEER_LOG=1 client "$C" 10.78.0.2:4433 stranger client.peers $IDLE refused 2>/dev/null)
check "unknown client key refused with PERMISSION_DENIED (EACCES): $out; the server's log names the key" \
	'[[ "$out" == refused* ]] && grep -q "unknown key $(hex stranger)" "$RUN/server1.err"'
out=$(QUIC_PEER_LOG=1 client "$C" 10.78.0.2:4433 client wrong.peers $IDLE refused 2>"$RUN/wrong.err")
check "unknown server key refused by the client: $out; its log names the key" \
	'[[ "$out" == refused* ]] && grep -q "unknown key $skey" "$RUN/wrong.err"'

# kill -9 of the client: the server drops the connection within 1 s.
QUIC_PEER_LOG=1 ip netns exec "$C" "$PEER" client quic://10.78.0.2:4433 "$RUN/client.key" \
	"$RUN/client.peers" $IDLE loop >"$RUN/loop1.out" 2>"$RUN/loop1.err" &
cpid=$!
pids+=("$cpid")
for _ in $(seq 50); do grep -q ready "$RUN/loop1.out" && break; sleep 0.1; done
sleep 0.3
t0=$(now_ns)
kill -9 "$cpid"
wait "$cpid" 2>/dev/null
t1=0
for _ in $(seq 30); do
	t1=$(awk -v t0="$t0" '$1 == "conns" && $2 == 0 && $3 > t0 { print $3; exit }' "$RUN/server1.out")
	[ -n "$t1" ] && break
	sleep 0.1
done
ms=$(( (${t1:-0} - t0) / 1000000 ))
check "kill -9 of the client: the server dropped it after $ms ms (<= 1000; idle timeout $IDLE ms)" \
	'[ -n "$t1" ] && [ "$ms" -le 1000 ] && grep -q ready "$RUN/loop1.out"'

# kill -9 of the server: the client's call fails within 1 s.
QUIC_PEER_LOG=1 ip netns exec "$C" "$PEER" client quic://10.78.0.2:4433 "$RUN/client.key" \
	"$RUN/client.peers" $IDLE loop >"$RUN/loop2.out" 2>"$RUN/loop2.err" &
cpid=$!
pids+=("$cpid")
for _ in $(seq 50); do grep -q ready "$RUN/loop2.out" && break; sleep 0.1; done
sleep 0.3
t0=$(now_ns)
kill -9 "$spid"
wait "$spid" 2>/dev/null
for _ in $(seq 30); do grep -q failed "$RUN/loop2.out" && break; sleep 0.1; done
read -r _ st t1 < <(grep failed "$RUN/loop2.out")
ms=$(( (${t1:-0} - t0) / 1000000 ))
check "kill -9 of the server: the client's call failed (${st:-nothing}) after $ms ms (<= 1000)" \
	'[ -n "$t1" ] && [ "$t1" -gt "$t0" ] && [ "$ms" -le 1000 ] && [ "$st" = UNAVAILABLE ]'

# Through R's lossy relay (10.78.1.2:5000 -> 10.78.2.2:4433).
start_server 2 || echo "# the server did not start again"
seed=7
for loss in 0.01 0.05; do
	for mode in "calls 300 64" "par 1000 64 32"; do
		seed=$((seed + 1))
		ip netns exec "$R" python3 "$HERE/lossy_relay.py" 10.78.1.2:5000 10.78.2.2:4433 \
			$loss 2 $seed >"$RUN/relay.out" 2>"$RUN/relay.err" &
		rpid=$!
		pids+=("$rpid")
		for _ in $(seq 50); do grep -q ready "$RUN/relay.out" && break; sleep 0.1; done
		set -- $mode
		total=$2
		out=$(client "$C" 10.78.1.2:5000 client client.peers 3000 $mode)
		rc=$?
		kill "$rpid"
		wait "$rpid" 2>/dev/null
		rel=$(tail -1 "$RUN/relay.err")
		ok=$(field ok "$out") failed=$(field failed "$out")
		check "three hosts, relay $loss drop/dup/reorder + 1-3 ms, $1 $2 (${4:-1} in flight): each once or a status, none hung: $out ($rel)" \
			'[ $rc -eq 0 ] && [[ "$out" == *"wrong=0 dup=0"* ]] && [ $((ok + failed)) -eq $total ] &&
			[[ "$rel" =~ drop=[1-9] && "$rel" =~ dup=[1-9] && "$rel" =~ reorder=[1-9] ]]'
	done
done
secs=$(( ($(date +%s%N) - T_START) / 1000000000 ))
check "whole test took $secs s (< 60)" '[ "$secs" -lt 60 ]'
exit $fail
