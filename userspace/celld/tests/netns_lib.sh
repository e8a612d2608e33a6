# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# Network namespaces for the discovery tests: N node namespaces, each with
# one veth into a hub namespace where a bridge joins them (10.77.0.I/24 for
# node I, 10.77.0.254 the hub's own address on the bridge), and a celld per
# node.  Everything made here is removed on EXIT (trap), also on failure.
#   BIN=<build dir>; . netns_lib.sh; netns_require; netns_setup N; start_node I [ARGS]
# Needs root and `ip netns`; netns_require SKIPs visibly otherwise.
NS=cd$$
RUN=$(mktemp -d /tmp/celld-netns.XXXXXX)
node_pids=()
other_pids=()
nodes=0
n=0
fail=0
# shellcheck disable=SC2034 # fail is the test's exit status
check() {
	n=$((n + 1))
	if eval "$2"; then echo "ok $n $1"; else echo "not ok $n $1"; fail=1; fi
}
netns_cleanup() {
	for p in "${node_pids[@]}" "${other_pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${node_pids[@]}" "${other_pids[@]}"; do wait "$p" 2>/dev/null; done
	for i in $(seq "$nodes"); do ip netns del "${NS}n$i" 2>/dev/null; done
	ip netns del "${NS}hub" 2>/dev/null
	[ -n "${KEEP:-}" ] || rm -rf "$RUN"
}
trap netns_cleanup EXIT
netns_require() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "1..0 # SKIP needs root (network namespaces)"
		exit 0
	fi
	if ! ip netns add "${NS}probe" 2>/dev/null; then
		echo "1..0 # SKIP ip netns add fails here"
		exit 0
	fi
	ip netns del "${NS}probe"
	command -v python3 >/dev/null || { echo "1..0 # SKIP no python3"; exit 0; }
}
# hub: in the hub namespace
hub() { ip netns exec "${NS}hub" "$@"; }
netns_setup() {
	local i
	ip netns add "${NS}hub" || return 1
	hub ip link set lo up
	hub ip link add br0 type bridge mcast_snooping 0 || return 1
	hub ip addr add 10.77.0.254/24 dev br0
	hub ip link set br0 up
	hub ip route add 224.0.0.0/4 dev br0
	for i in $(seq "$1"); do
		ip netns add "${NS}n$i" || return 1
		nodes=$i
		hub ip link add "h$i" type veth peer name "v$i" netns "${NS}n$i" || return 1
		hub ip link set "h$i" master br0 up
		ip -n "${NS}n$i" link set lo up
		ip -n "${NS}n$i" addr add "10.77.0.$i/24" dev "v$i"
		ip -n "${NS}n$i" link set "v$i" up
		ip -n "${NS}n$i" route add 224.0.0.0/4 dev "v$i"
		mkdir -p "$RUN/n$i/run"
	done
}
# start_node I [ARGS]: celld of node I (log $RUN/nI/celld.log, stats $RUN/nI/stats).
start_node() {
	local i=$1
	shift
	ip netns exec "${NS}n$i" "$BIN/userspace/celld/celld" -S -r "$RUN/n$i/run" -s "$RUN/n$i/state" \
		-o discovery=on -o discovery.group6=off -o "discovery.iface4=10.77.0.$i" \
		-o "discovery.stats=$RUN/n$i/stats" "$@" >>"$RUN/n$i/celld.log" 2>&1 &
	node_pids[$i]=$!
}
# start_axon_nodes N: nodes 1..N with axon on (QUIC on UDP 4433..4436), by
# start_node as the test has it (a test may define its own), then up to 10 s
# each until its log says its nucleus is up.
start_axon_nodes() {
	local i
	for i in $(seq "$1"); do
		start_node "$i" -o discovery.interval_ms=200 -o axon=on -o axon.port=4433 -o axon.ports=4
	done
	for i in $(seq "$1"); do wait_until 10 grep -q "nucleus at" "$RUN/n$i/celld.log"; done
}
# on I CMD...: CMD in node I's namespace, with its CELL_RUNTIME_DIR and CELL_STATE_DIR.
on() { local i=$1; shift; ip netns exec "${NS}n$i" env CELL_RUNTIME_DIR="$RUN/n$i/run" CELL_STATE_DIR="$RUN/n$i/state" "$@"; }
# stat I KEY: a counter of node I's stats file (0 when absent).
stat() { awk -v k="$2" '$1 == k { print $2; f = 1 } END { if (!f) print 0 }' "$RUN/n$1/stats" 2>/dev/null || echo 0; }
# wait_until SECONDS CMD...: poll every 0.1 s.
wait_until() {
	local t=$1 i
	shift
	for i in $(seq $((t * 10))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
	return 1
}
node_key() { od -An -tx1 -v "$RUN/n$1/state/node.pub" | tr -d ' \n'; }
