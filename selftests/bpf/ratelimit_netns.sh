#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# tools/cell-ratelimit run the way a user runs it in a namespace:
# `ip netns exec NS cell-ratelimit ...`, every command its own process with
# a private mount namespace and a fresh /sys (no bpffs, nothing pinned).
# The limiter must stay attached after attach exits, a later `ip netns
# exec` must find it by the interface (stats, set, detach), and the port
# set must limit only the listed UDP port.
#
#   R (receiver, 10.202.1.1) --ra/pa-- A (flooding peer, 10.202.1.2)
#
#   ratelimit_netns.sh TOOL TRAFFIC     (TOOL: cell-ratelimit, TRAFFIC: crl_traffic)
#
# Prints TAP; exits 4 (skip) with the reason when it cannot run here.
set -u
tool=$1
traffic=$2
rate=500
burst=50
tol=5 # percent
n=0
failed=0
R=crln-r-$$ A=crln-a-$$
# Only reachable when the tool runs outside `ip netns exec`; never used here.
export CELL_RATELIMIT_PIN=/sys/fs/bpf/cell-ratelimit-netns-$$
recv_pids=()

skip() {
	echo "1..0 # SKIP $*"
	exit 4
}
ok() { # ok COND-STATUS DESCRIPTION
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else
		echo "not ok $n - $2"
		failed=$((failed + 1))
	fi
}
cleanup() {
	local p
	for p in "${recv_pids[@]}"; do kill "$p" 2>/dev/null; done
	ip netns exec $R "$tool" detach ra >/dev/null 2>&1
	ip netns del $A 2>/dev/null
	ip netns del $R 2>/dev/null
	rm -rf "$CELL_RATELIMIT_PIN" "${tmp:-}"
}

[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces, BPF)"
[ -r /sys/kernel/btf/vmlinux ] || skip "no kernel BTF"
command -v ip >/dev/null || skip "no iproute2 (tools/deps.sh bpf)"
[ -x "$tool" ] && [ -x "$traffic" ] || skip "tool or traffic helper not built"
trap cleanup EXIT
trap 'exit 1' INT TERM
ip netns add $R && ip netns add $A || skip "cannot create network namespaces"
tmp=$(mktemp -d)

ip -n $R link set lo up &&
	ip link add ra netns $R type veth peer name pa netns $A &&
	ip -n $R addr add 10.202.1.1/24 dev ra &&
	ip -n $A addr add 10.202.1.2/24 dev pa &&
	ip -n $R link set ra up && ip -n $A link set pa up
ok $? "namespaces and a veth pair set up"

rl() { ip netns exec $R "$tool" "$@"; }
start_recv() { # start_recv PORT OUTFILE
	ip netns exec $R "$traffic" recv "$1" >"$2" &
	recv_pids+=($!)
	for _ in $(seq 200); do grep -q ready "$2" 2>/dev/null && return; sleep 0.05; done
	echo "# receiver on port $1 did not start in 10 s"
}
# stop_recv OUTFILE: sets $got, the datagrams the last receiver counted
stop_recv() {
	kill "${recv_pids[-1]}"
	wait "${recv_pids[-1]}" 2>/dev/null
	got=$(awk '$1 == "received" { print $2; found = 1 } END { if (!found) print -1 }' "$1")
}
within() { awk -v g="$1" -v e="$2" -v t=$tol 'BEGIN { d = g - e; if (d < 0) d = -d; exit !(d <= e * t / 100) }'; }
# flood_through PORT SECONDS PPS: sets $got (received in R), $sent, $secs
flood_through() {
	start_recv "$1" "$tmp/recv.$1"
	read -r _ sent _ secs < <(ip netns exec $A "$traffic" send 10.202.1.1 "$1" "$2" "$3")
	sleep 0.2
	stop_recv "$tmp/recv.$1"
}
xdp_on_ra() { ip -n $R link show ra | grep -q 'prog/xdp'; }

out=$(rl attach ra --rate $rate --burst $burst --port 5001 2>&1)
ok $? "ip netns exec: attach ra --port 5001: $out"
xdp_on_ra
ok $? "the XDP program is still on ra after the command exited"

sleep 0.2 # a full bucket
flood_through 5001 1 0
expect=$(awk -v r=$rate -v s="$secs" -v b=$burst 'BEGIN { printf "%d", r * s + b }')
within "$got" "$expect"
ok $? "UDP flood to the listed port 5001: $got of $sent received, expected $expect ±$tol%"

flood_through 5002 0.5 4000
[ "$got" -eq "$sent" ]
ok $? "UDP to port 5002 (not in the port set) is not limited: $got of $sent received"

out=$(rl stats 2>&1)
rc=$?
[ $rc -eq 0 ] && grep -q '^config: rate 500 pps, burst 50, listed ports only' <<<"$out" &&
	grep -q '^10.202.1.2 ' <<<"$out"
ok $? "a second ip netns exec: stats finds it by the interface: $(head -1 <<<"$out")"

out=$(rl stats --dev ra --peer 10.202.1.2 2>&1)
dropped=$(awk '{ for (i = 1; i < NF; i++) if ($i == "dropped_pkts") print $(i + 1) }' <<<"$out")
[ "${dropped:-0}" -gt 1000 ]
ok $? "stats --dev ra --peer: $out"

rl set --rate 2000 >/dev/null && rl stats | grep -q '^config: rate 2000 pps'
ok $? "set --rate 2000 from a third ip netns exec takes effect"

out=$(rl attach ra 2>&1)
[ $? -ne 0 ] && [[ $out == *"already attached"* ]]
ok $? "attach twice is refused across commands: $out"

out=$(rl detach ra 2>&1)
[ $? -eq 0 ] && ! xdp_on_ra
ok $? "ip netns exec: detach ra finds it by the interface and removes it: $out"

out=$(rl attach ra --mode tc --rate $rate --burst $burst 2>&1) &&
	tc -n $R filter show dev ra ingress | grep -q crl_tc
ok $? "TC mode: the filter outlives the command: $out"
sleep 0.2
flood_through 5003 1 0
expect=$(awk -v r=$rate -v s="$secs" -v b=$burst 'BEGIN { printf "%d", r * s + b }')
within "$got" "$expect"
ok $? "TC: UDP flood (every port): $got of $sent received, expected $expect ±$tol%"
out=$(rl detach ra 2>&1)
[ $? -eq 0 ] && ! tc -n $R qdisc show dev ra | grep -q clsact
ok $? "TC detach removes the filter and the clsact it created: $out"

out=$(rl detach ra 2>&1)
[ $? -ne 0 ] && [[ $out == *"not attached"* ]]
ok $? "detach twice: $out"
out=$(rl stats 2>&1)
[ $? -ne 0 ] && [[ $out == *"not attached"* ]]
ok $? "stats with nothing attached says so: $out"
echo "1..$n"
[ $failed -eq 0 ]
