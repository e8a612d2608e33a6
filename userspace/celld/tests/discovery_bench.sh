#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# discovery_bench.sh BUILD [NODES] [RUNS]: discovery convergence time.
# NODES (20) celld in network namespaces on one bridge, started together
# with the default announcement interval; the time from the first start
# until every node has every other node in its peer table (the stats file of
# -o discovery.stats, rewritten within 20 ms of a new peer; polled every 10 ms).
# RUNS (5) runs, fresh processes each; prints each and the median.
BIN=$1
N=${2:-20}
RUNS=${3:-5}
HERE=$(dirname "$0")
. "$HERE/netns_lib.sh"
if [ "$(id -u)" -ne 0 ] || ! ip netns add "${NS}probe" 2>/dev/null; then
	echo "bench-discovery: SKIP (needs root and ip netns)"
	exit 0
fi
ip netns del "${NS}probe"
netns_setup "$N" || { echo "bench-discovery: netns setup failed"; exit 1; }
# converged T0_NS: poll every node's stats file (rewritten within 20 ms of a
# new peer) every 10 ms until each has N-1 peers; print ms since T0_NS.
converged() {
	python3 - "$1" "$RUN" "$N" <<'PY'
import sys, time
t0, run, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
def peers(i):
    try:
        for l in open("%s/n%d/stats" % (run, i)):
            if l.startswith("peers "):
                return int(l.split()[1])
    except OSError:
        pass
    return 0
while True:
    if all(peers(i) == n - 1 for i in range(1, n + 1)):
        print((time.time_ns() - t0) // 1000000)
        break
    if time.time_ns() - t0 > 30e9:
        print("timeout")
        break
    time.sleep(0.01)
PY
}
times=()
for r in $(seq "$RUNS"); do
	t0=$(date +%s%N)
	for i in $(seq "$N"); do rm -f "$RUN/n$i/stats"; start_node "$i"; done
	started=$((($(date +%s%N) - t0) / 1000000))
	ms=$(converged "$t0")
	if [ "$ms" = timeout ]; then
		echo "bench-discovery: run $r: not converged after 30 s"
		exit 1
	fi
	times+=("$ms")
	echo "bench-discovery: run $r: $N nodes converged in $ms ms (the last celld was launched at $started ms)"
	for p in "${node_pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${node_pids[@]}"; do wait "$p" 2>/dev/null; done
	node_pids=()
done
med=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
echo "bench-discovery: $N nodes, default interval (2 s): convergence median $med ms over $RUNS runs (${times[*]}); from the first celld's start, incl. starting $N processes"
