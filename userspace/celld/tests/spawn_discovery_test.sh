#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# spawn_discovery_test.sh BUILD: discovery announces a supervised cell only
# while it is ready (celld_entry_serving()).  Two celld in network
# namespaces; node 1 spawns a demo server (ready) and a cell that never
# listens (starting).  Node 2 lists the ready one, never the starting one,
# and drops the ready one once node 1 stops it (a withdraw).  Root + netns
# + a working capsid, else SKIP.
BIN=$(cd "$1" && pwd)
HERE=$(dirname "$0")
# shellcheck source=userspace/celld/tests/netns_lib.sh
. "$HERE/netns_lib.sh"
netns_require
# shellcheck source=userspace/celld/tests/capsid_lib.sh
. "$(dirname "$0")/capsid_lib.sh"
capsid_require
echo "TAP version 13"
netns_setup 2 || { echo "Bail out! netns setup failed"; exit 1; }
start_node 1 -o discovery.interval_ms=300 -o capsid.spawn=1
start_node 2 -o discovery.interval_ms=300
peers_all() { [ "$(stat 1 peers)" = 1 ] && [ "$(stat 2 peers)" = 1 ]; }
check "the two nodes see each other" 'wait_until 10 peers_all'
c1() { CELL_RUNTIME_DIR=$RUN/n1/run "$BIN/userspace/cell/cell" "$@"; }
k1=$(node_key 1)
# remote NAME: node 2 lists NAME of node 1.
remote() {
	CELL_RUNTIME_DIR=$RUN/n2/run "$BIN/userspace/cell/cell" ps -j -r | python3 -c "
import json, sys
sys.exit(0 if any(x['name'] == '$1' and x['node'] == '$k1' for x in json.load(sys.stdin)) else 1)"
}
out=$(c1 spawn shown -o ro="$BIN" --wait=10000 -- "$BIN/userspace/examples/demo_server" shown)
check "node 1 spawned a ready demo server (got: $out)" '[[ "$out" == *", ready" ]]'
out=$(c1 spawn hidden -o ready_timeout_ms=60000 -- /bin/sleep 100)
check "and a cell that stays starting (got: $out)" '[[ "$out" == *", starting" ]]'
check "node 2 lists the ready cell" 'wait_until 10 remote shown'
sleep 1 # three more announcement intervals
check "but not the starting one" '! remote hidden'
check "node 1 stops the ready cell" 'c1 stop shown >/dev/null'
check "node 2 drops it (withdrawn when it stopped being ready)" 'wait_until 10 eval "! remote shown"'
c1 stop hidden --timeout 500 >/dev/null
echo "1..$n"
exit "$fail"
