#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# axon_test.sh BUILD: path selection SHM -> Unix -> QUIC through celld.
# Two celld in network namespaces (discovery on a bridge, -o axon=on).
# Node 2 serves "orders"; its celld exports it over QUIC and announces the
# port.  On node 1, `axon_cell call orders` (connect by name, no target)
# goes in turn to: the remote instance over QUIC (no local one), a local
# instance with rings (shm-memfd), a local unix-only instance (unix), the
# remote one again once the local one is gone, and fails once node 2's
# instance is gone too.  Each choice's reason is checked in libcell's log.
# Root + netns, else SKIP.
BIN=$1
HERE=$(dirname "$0")
# shellcheck source=userspace/celld/tests/netns_lib.sh
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
AX=$BIN/userspace/celld/celld_axon_cell
echo "TAP version 13"
netns_setup 2 || { echo "Bail out! netns setup failed"; exit 1; }
start_axon_nodes 2
serve() { # serve NODE TAG [unix]: a cell "orders" (pid in $srv; ip and env exec, so $! is it)
	ip netns exec "${NS}n$1" env CELL_RUNTIME_DIR="$RUN/n$1/run" "$AX" serve orders "$2" $3 \
		>>"$RUN/serve-$1.log" 2>&1 &
	srv=$!
	other_pids+=("$srv")
}
call() { on 1 timeout 10 "$AX" call orders 5 >"$RUN/call.out" 2>&1; echo "rc=$?" >>"$RUN/call.out"; cat "$RUN/call.out" >>"$RUN/calls.log"; }
has() { grep -q -- "$1" "$RUN/call.out"; }
stop() { kill "$1"; wait "$1" 2>/dev/null; }

serve 2 node2
srv2=$srv
pub() { [ -s "$RUN/n1/run/axon/orders" ]; }
check "node 2's celld exports orders over QUIC" 'wait_until 10 grep -q "orders exported on quic://0.0.0.0:4433" "$RUN/n2/celld.log"'
check "node 1's celld publishes the remote instance (run/axon/orders)" 'wait_until 10 pub'
check "its endpoint is node 2's address and port" 'grep -q "^quic://10.77.0.2:4433 " "$RUN/n1/run/axon/orders"'
t0=$(date +%s%N)
call
t1=$(date +%s%N)
check "no local instance: path quic, node 2 answers 5 of 5" 'has "path=quic answer=node2 ok=5"'
check "the reason is logged (no local instance, remote endpoint, from celld)" 'has "log: cell orders: path quic (no local instance: .*quic://10.77.0.2:4433"'
echo "# remote connect + 5 calls: $(((t1 - t0) / 1000000)) ms (incl. process start)"

serve 1 node1
loc=$srv
wait_until 5 test -S "$RUN/n1/run/orders.sock"
call
check "a local instance appears: path shm-memfd, node 1 answers" 'has "path=shm-memfd answer=node1 ok=5"'
check "the reason is logged (local instance, rings)" 'has "log: cell orders: path shm-memfd (local instance; shared-memory rings)"'
stop "$loc"
wait_until 5 test ! -S "$RUN/n1/run/orders.sock"

serve 1 node1unix unix
loc=$srv
wait_until 5 test -S "$RUN/n1/run/orders.sock"
call
check "a local unix-only instance: path unix" 'has "path=unix answer=node1unix ok=5"'
check "the reason is logged (no rings agreed)" 'has "log: cell orders: path unix (local instance; no shared-memory rings"'
stop "$loc"
wait_until 5 test ! -S "$RUN/n1/run/orders.sock"

call
check "the local instance goes: path quic again, node 2 answers" 'has "path=quic answer=node2 ok=5"'

stop "$srv2"
gone() { [ ! -e "$RUN/n1/run/axon/orders" ]; }
check "node 2's instance goes: node 1 unpublishes it" 'wait_until 10 gone'
check "node 2's celld stops exporting it" 'grep -q "orders no longer exported" "$RUN/n2/celld.log"'
call
check "no instance anywhere: connect fails" 'has "^connect: " && has "rc=2"'
echo "1..$n"
exit $fail
