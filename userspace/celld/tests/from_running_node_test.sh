#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# from_running_node_test.sh BUILD DEMO_CELL: cellc --from-running NAME@NODE
# across two celld in network namespaces (discovery on a bridge, -o
# axon=on, as axon_test.sh).  Node 2 serves the demo cell; its celld exports
# it over QUIC and announces it.  On node 1, cellc asks its celld which node
# has that id prefix, pulls the schema from node 2's QUIC endpoint and must
# generate exactly what demo.cell gives; an unknown node, a cell node 2
# does not serve, a wrong --pin and a node 1 without celld fail clearly;
# node 1's own id means node 1's (absent) demo cell.
# Root + netns, else SKIP.
BIN=$1
DEMO_CELL=$2
HERE=$(dirname "$0")
# shellcheck source=userspace/celld/tests/netns_lib.sh
. "$HERE/netns_lib.sh"
CELLC=$BIN/userspace/cellc/cellc
DEMO=$BIN/userspace/examples/demo_server
netns_require
[ -x "$CELLC" ] && [ -x "$DEMO" ] || { echo "1..0 # SKIP cellc or demo_server not built"; exit 0; }
echo "TAP version 13"
netns_setup 2 || { echo "Bail out! netns setup failed"; exit 1; }
start_axon_nodes 2
ip netns exec "${NS}n2" env CELL_RUNTIME_DIR="$RUN/n2/run" "$DEMO" demo >"$RUN/demo.log" 2>&1 &
other_pids+=($!)
pub() { [ -s "$RUN/n1/run/axon/demo" ]; }
if ! wait_until 15 pub; then
	echo "not ok 1 node 1's celld learns node 2's demo cell over QUIC (run/axon/demo)"
	sed 's/^/# /' "$RUN/n2/celld.log" | grep -i "axon\|quic" | head -5
	if grep -q "without QUIC\|not supported" "$RUN/n2/celld.log"; then
		echo "1..0 # SKIP libcell or celld without QUIC"
		exit 0
	fi
	echo "1..1"
	exit 1
fi
check "node 1's celld learns node 2's demo cell over QUIC (run/axon/demo)" true
id2=$(node_key 2)
id1=$(node_key 1)
pfx=${id2:0:12}
# An id prefix neither node has: a letter (a lone decimal digit would be an
# instance number) that neither id starts with.
for d in a b c d e f; do
	[ "${id2:0:1}" = "$d" ] || [ "${id1:0:1}" = "$d" ] || { other=$d; break; }
done
run() { # NODE ARGS...: cellc on NODE, stderr in $RUN/err, exit code in $RUN/rc
	local i=$1
	shift
	on "$i" timeout 20 "$CELLC" "$@" 2>"$RUN/err"
	echo $? >"$RUN/rc"
}
failed_with() { [ "$(cat "$RUN/rc")" = 1 ] && grep -q -- "$1" "$RUN/err"; }
(cd "$(dirname "$DEMO_CELL")" && "$CELLC" "$(basename "$DEMO_CELL")") >"$RUN/file.h"
t0=$(date +%s%N)
run 1 --from-running "demo@$pfx" >"$RUN/live.h"
t1=$(date +%s%N)
echo "# cellc --from-running demo@NODE: $(((t1 - t0) / 1000000)) ms (celld asked, 2 QUIC handshakes, incl. process start)"
check "cellc --from-running demo@<node 2's id prefix> on node 1: demo.cell's header, byte for byte" \
	'[ -s "$RUN/live.h" ] && cmp -s "$RUN/file.h" "$RUN/live.h" || { sed "s/^/# /" "$RUN/err"; false; }'
fp=$("$CELLC" --fingerprint "$DEMO_CELL")
run 1 --from-running "demo@$id2" --fingerprint --pin "$fp" >"$RUN/fp"
check "the whole id with --pin of demo.cell's fingerprint: that fingerprint" \
	'grep -qx "$fp" "$RUN/fp" || { sed "s/^/# /" "$RUN/err"; false; }'
run 1 --from-running "demo@$pfx" --pin 0xdeadbeef >/dev/null
check "a wrong --pin: refused, naming both" \
	'failed_with "cell '"'"'demo'"'"' on node $id2 has fingerprint $fp, pinned 0x00000000deadbeef"'
run 1 --from-running "demo@$other" >/dev/null
check "an id prefix no node has: no such node" 'failed_with "no such node '"'"'$other'"'"'"'
run 1 --from-running "nope@$pfx" >/dev/null
check "a cell node 2 does not serve: node named, what it announces listed" \
	'failed_with "node $id2 does not announce a cell '"'"'nope'"'"' (it announces: .*demo"'
run 1 --from-running "demo@${id1:0:12}" >/dev/null
check "node 1's own id is this machine: the local cell, which node 1 does not run" \
	'failed_with "no running cell '"'"'demo'"'"': $RUN/n1/run/demo.sock does not exist"'
mkdir -p "$RUN/empty"
ip netns exec "${NS}n1" env CELL_RUNTIME_DIR="$RUN/empty" timeout 20 "$CELLC" \
	--from-running "demo@$pfx" >/dev/null 2>"$RUN/err"
echo $? >"$RUN/rc"
check "no celld on this side: said so" 'failed_with "no celld: $RUN/empty/nucleus.sock does not exist"'
echo "1..$n"
exit $fail
