#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# capsid_bench.sh BUILD_DIR BENCH_BIN [ROUNDS] [CALLS]: `make bench-capsid`.
# The same echo cell (capsid_bench serve) twice: spawned by celld in a
# capsid (`cell spawn`: bwrap, seccomp filter, rlimits, uid 65534) and
# plain on the host; each pinned to CPU 1, the client to CPU 0.  ROUNDS
# (default 9) paired rounds, the order alternating, of CALLS (default
# 200000) 32-byte SHM spin round trips each; prints every round's medians,
# the median of each side and the median of the paired ratios
# sandboxed/plain (the issue's bound: 1.05).  SKIPs where no capsid can run.
set -u
BUILD=$(cd "$1" && pwd)
BENCH=$2
ROUNDS=${3:-9}
CALLS=${4:-200000}
cell() { "$BUILD/userspace/cell/cell" "$@"; }
RUN=$(mktemp -d /tmp/capsid-bench.XXXXXX)
pids=()
cleanup() {
	[ -S "$RUN/run/nucleus.sock" ] && CELL_RUNTIME_DIR=$RUN/run cell stop capbench >/dev/null 2>&1
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$RUN"
}
trap cleanup EXIT
chmod 755 "$RUN"
mkdir -p "$RUN/run" "$RUN/plain" "$RUN/probe-sock" "$RUN/probe-data"
if ! why=$("$BUILD/userspace/celld/capsid_run" probe "$RUN/probe-sock" "$RUN/probe-data" -- \
	/usr/bin/true 2>&1); then
	echo "bench-capsid: SKIP: cannot start a capsid here: $why"
	exit 0
fi
"$BUILD/userspace/celld/celld" -r "$RUN/run" -s "$RUN/state" -S -o discovery=off \
	-o capsid.spawn=1 >"$RUN/celld.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -S "$RUN/run/nucleus.sock" ] && break; sleep 0.05; done
export CELL_RUNTIME_DIR=$RUN/run
lib=$(dirname "$(readlink -f "$BUILD/lib/libcell.so")")
if ! cell spawn capbench --restart=never -o ro="$(dirname "$BENCH")" -o ro="$lib" --wait=10000 \
	-- "$BENCH" serve capbench 1 >/dev/null; then
	echo "bench-capsid: the sandboxed server did not get ready:"
	sed 's/^/  /' "$RUN/celld.log"
	exit 1
fi
CELL_RUNTIME_DIR=$RUN/plain "$BENCH" serve capbench 1 >"$RUN/plain.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -S "$RUN/plain/capbench.sock" ] && break; sleep 0.05; done
sandboxed_dir=$RUN/run/capsid/capbench
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }
one() { "$BENCH" client "$1" capbench "$CALLS" 0 | awk '{ print $2 }'; }
echo "bench-capsid: $ROUNDS rounds of $CALLS calls of 32 B, SHM spin (memfd, adaptive spin)," \
	"server on CPU 1, client on CPU 0"
: >"$RUN/p" && : >"$RUN/s" && : >"$RUN/r"
for i in $(seq "$ROUNDS"); do
	if [ $((i % 2)) -eq 1 ]; then p=$(one "$RUN/plain"); s=$(one "$sandboxed_dir")
	else s=$(one "$sandboxed_dir"); p=$(one "$RUN/plain"); fi
	if [ -z "$p" ] || [ -z "$s" ]; then echo "bench-capsid: round $i failed"; exit 1; fi
	r=$(awk -v s="$s" -v p="$p" 'BEGIN { printf "%.3f", s / p }')
	echo "  round $i: plain $p ns, sandboxed $s ns, ratio $r"
	echo "$p" >>"$RUN/p"; echo "$s" >>"$RUN/s"; echo "$r" >>"$RUN/r"
done
mp=$(median <"$RUN/p")
ms=$(median <"$RUN/s")
mr=$(median <"$RUN/r")
verdict=$(awk -v r="$mr" 'BEGIN { print (r <= 1.05 ? "within" : "ABOVE") }')
echo "bench-capsid: median RTT plain $mp ns, sandboxed $ms ns;" \
	"median paired ratio sandboxed/plain $mr ($verdict the 1.05 bound)"
