#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# axon_ratelimit_test.sh BUILD: celld attaches cell-ratelimit's per-IP
# limiter to its QUIC ports (-o axon.ratelimit=DEV, the port set).  Three
# celld in network namespaces: node 2 exports "orders" over QUIC with the
# limiter on its veth; node 1 floods node 2's QUIC port with UDP junk from
# one address while node 3 (a polite peer) calls orders over QUIC: every
# polite call succeeds and the flood is cut to the limit.  The limiter is
# detached when celld stops.  Root + netns + BTF, else SKIP.
BIN=$1
HERE=$(dirname "$0")
. "$HERE/netns_lib.sh"
# netns_lib's start_node, but with celld's scan on: a cell whose registration
# timed out on a loaded machine is still found in the runtime directory.
start_node() {
	local i=$1
	shift
	ip netns exec "${NS}n$i" "$BIN/userspace/celld/celld" -r "$RUN/n$i/run" -s "$RUN/n$i/state" \
		-o discovery=on -o discovery.group6=off -o "discovery.iface4=10.77.0.$i" \
		-o "discovery.stats=$RUN/n$i/stats" "$@" >>"$RUN/n$i/celld.log" 2>&1 &
	node_pids[$i]=$!
}
netns_require
RL=$BIN/bpf/cell-ratelimit
TR=$BIN/bpf/crl_traffic
AX=$BIN/userspace/celld/celld_axon_cell
[ -x "$RL" ] && [ -x "$TR" ] || { echo "1..0 # SKIP cell-ratelimit not built (no BPF toolchain)"; exit 0; }
[ -r /sys/kernel/btf/vmlinux ] || { echo "1..0 # SKIP no kernel BTF (/sys/kernel/btf/vmlinux)"; exit 0; }
echo "TAP version 13"
netns_setup 3 || { echo "Bail out! netns setup failed"; exit 1; }
RATE=2000 BURST=500 SECS=3
start_node 1 -o discovery.interval_ms=200
start_node 2 -o discovery.interval_ms=200 -o axon=on -o axon.port=4433 -o axon.ports=4 \
	-o axon.ratelimit=v2 -o axon.ratelimit.rate=$RATE -o axon.ratelimit.burst=$BURST \
	-o axon.ratelimit.mode=skb -o "axon.ratelimit.tool=$RL"
start_node 3 -o discovery.interval_ms=200 -o axon.import=1
for i in 1 2 3; do wait_until 10 grep -q "nucleus at" "$RUN/n$i/celld.log"; done
check "node 2's celld attaches the limiter to its QUIC ports" 'wait_until 10 grep -q "rate limiter on v2: $RATE packets/s, burst $BURST per source address, UDP ports 4433..4436" "$RUN/n2/celld.log"'
ip netns exec "${NS}n2" env CELL_RUNTIME_DIR="$RUN/n2/run" "$AX" serve orders node2 >"$RUN/serve.log" 2>&1 &
other_pids+=($!)
check "node 3 learns node 2's QUIC endpoint" 'wait_until 10 test -s "$RUN/n3/run/axon/orders"'
# The flood: one source address, far above the limit, for SECS seconds.
ip netns exec "${NS}n1" "$TR" send 10.77.0.2 4433 $SECS 40000 200 >"$RUN/flood.log" 2>&1 &
flood=$!
other_pids+=("$flood")
sleep 0.5
t0=$(date +%s%N)
ip netns exec "${NS}n3" env CELL_RUNTIME_DIR="$RUN/n3/run" CELL_STATE_DIR="$RUN/n3/state" \
	timeout 20 "$AX" call orders 200 >"$RUN/polite.out" 2>&1
prc=$?
t1=$(date +%s%N)
check "the polite peer's 200 calls all succeed over QUIC during the flood" '[ $prc = 0 ] && grep -q "path=quic answer=node2 ok=200" "$RUN/polite.out"'
echo "# polite: 200 calls (connect included) in $(((t1 - t0) / 1000000)) ms during the flood"
wait "$flood"
ip netns exec "${NS}n2" "$RL" stats --dev v2 --peer 10.77.0.1 >"$RUN/stats1.txt" 2>&1
ip netns exec "${NS}n2" "$RL" stats --dev v2 --peer 10.77.0.3 >"$RUN/stats3.txt" 2>&1
sent=$(awk '/sent/ { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+$/) { print $i; exit } }' "$RUN/flood.log")
num() { awk -v k="$2" '{ for (i = 1; i < NF; i++) if ($i == k) { gsub(/[^0-9]/, "", $(i + 1)); print $(i + 1); exit } }' "$1"; }
fpass=$(num "$RUN/stats1.txt" passed_pkts)
fdrop=$(num "$RUN/stats1.txt" dropped_pkts)
pdrop=$(num "$RUN/stats3.txt" dropped_pkts)
echo "# flood: sent ${sent:-?}, passed ${fpass:-?}, dropped ${fdrop:-?}; polite peer dropped ${pdrop:-?}"
sed 's/^/# /' "$RUN/stats1.txt" "$RUN/stats3.txt"
check "the flood is cut: most of it dropped" '[ -n "$fdrop" ] && [ -n "$fpass" ] && [ "$fdrop" -gt $((fpass * 4)) ]'
check "the flood passes at about the limit (rate x (time + 1 s) + burst + 20%)" '[ -n "$fpass" ] && [ "$fpass" -le $(((RATE * (SECS + 1) + BURST) * 12 / 10)) ]'
check "nothing of the polite peer is dropped" '[ "${pdrop:-x}" = 0 ]'
kill "${node_pids[2]}"
wait "${node_pids[2]}" 2>/dev/null
check "celld detaches the limiter when it stops" 'grep -q "rate limiter on v2 detached" "$RUN/n2/celld.log" && ! ip netns exec "${NS}n2" "$RL" stats --dev v2 >/dev/null 2>&1'
echo "1..$n"
exit $fail
