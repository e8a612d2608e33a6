#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# `cell top` in a detached tmux session: while a client keeps calling, the
# captured screen must show the header and a, b, c's method 1 with a rate;
# `cell top -j` must be JSON with rates.  SKIP if tmux is missing.
set -u
BIN=$1
# shellcheck source=userspace/celld/tests/lib.sh
. "$(dirname "$0")/lib.sh"
chain="$BIN/userspace/celld/celld_chain_cell"
echo "TAP version 13"
command -v tmux >/dev/null || { echo "1..0 # SKIP tmux not installed (Debian tmux)"; exit 4; }
start_celld -o discovery=off || { echo "1..0 # SKIP celld did not start"; exit 4; }
for pair in "c" "b c" "a b"; do
	set -- $pair
	"$chain" serve "$@" >>"$RUN/$1.log" 2>&1 &
	pids+=("$!")
	wait_for test -S "$CELL_RUNTIME_DIR/$1.sock"
done
wait_for ps_has a
( while :; do "$chain" call a 200 >/dev/null 2>&1 || break; sleep 0.05; done ) &
pids+=("$!")
sock="$RUN/tmux.sock"
tmux -S "$sock" new-session -d -s top -x 120 -y 30 \
	"env CELL_RUNTIME_DIR=$CELL_RUNTIME_DIR $BIN/userspace/cell/cell top -i 500"
# The screen, once it lists a, b and c's method 1 with a rate (top refreshes
# every 500 ms; under load the first rates can take a few refreshes).
all_listed() { (for c in a b c; do grep -Eq "^$c +1 +[0-9]+\.[0-9]" "$RUN/screen.txt" || exit 1; done); }
sleep 1
for _ in $(seq 40); do
	tmux -S "$sock" capture-pane -p -t top >"$RUN/screen.txt"
	all_listed && break
	sleep 0.25
done
sed 's/^/# /' "$RUN/screen.txt"
check "the screen has top's header and columns" \
	'grep -q "cell top" "$RUN/screen.txt" && grep -q "RATE/S" "$RUN/screen.txt" && grep -q "P99_US" "$RUN/screen.txt"'
check "a, b and c's method 1 are listed with a rate (within 11 s)" all_listed
sleep 1
tmux -S "$sock" capture-pane -p -t top >"$RUN/screen2.txt"
check "the screen refreshes (its clock moved)" \
	'[ "$(grep -o "[0-9][0-9]:[0-9][0-9]:[0-9][0-9]" "$RUN/screen.txt")" != "$(grep -o "[0-9][0-9]:[0-9][0-9]:[0-9][0-9]" "$RUN/screen2.txt")" ] ||
	 ! cmp -s "$RUN/screen.txt" "$RUN/screen2.txt"'
tmux -S "$sock" send-keys -t top q
sleep 0.5
check "q quits" '! tmux -S "$sock" has-session -t top 2>/dev/null'
tmux -S "$sock" kill-server 2>/dev/null
cell top -j -i 500 >"$RUN/top.json"
check "cell top -j: JSON with a's method 1, a rate > 0 and p99 >= p50" 'python3 - "$RUN/top.json" <<"PY"
import json, sys
t = json.load(open(sys.argv[1]))
cells = {c["name"]: c for c in t["cells"]}
m = [x for x in cells["a"]["methods"] if x["method"] == 1]
sys.exit(0 if m and m[0]["rate"] > 0 and m[0]["p99_ns"] >= m[0]["p50_ns"] > 0 and cells["c"]["up"] else 1)
PY'
echo "1..$n"
exit $fail
