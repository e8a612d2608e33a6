#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# swap_test.sh BUILD_DIR: `cell swap` (Documentation/capsid.rst).  A capsid
# cell (swap_cell, the demo schema's echo) is swapped 20 times while
# swap_load runs against it (4 threads on 2 reconnecting clients, 4 calls
# pipelined each, nothing retried): every swap is made, no call fails, and
# the 21 programs' answered counts add up to the load's calls (each call
# answered once, by one program).  Each new program takes the listening
# socket from the old by SCM_RIGHTS (the socket file keeps its inode), and
# one whose old program cannot give it (no key) renames its socket over the
# cell's instead, under load too.  The same load across 5 swaps of a cell
# whose program does not drain (--no-drain: SIGTERM stops it at once) must
# lose calls: the test can fail.  A swap to a program of another
# fingerprint is refused and the cell keeps its program; one to another
# binary of the same fingerprint (demo_server) is made.
# shellcheck disable=SC2034 # rc and out are read by the check strings (eval)
set -u
# shellcheck source=userspace/celld/tests/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=userspace/celld/tests/capsid_lib.sh
. "$(dirname "$0")/capsid_lib.sh"
capsid_begin "$1"
start_celld -S -o capsid.spawn=1
prog=$BIN/userspace/celld/celld_swap_cell
load=$BIN/userspace/celld/celld_swap_load
field() { cell ps -j "$1" | python3 -c "import json,sys; print(json.load(sys.stdin)[0]['$2'])"; }
# answered NAME: the sum of "swap_cell: answered N calls" in NAME's log, and how many said it.
answered() { cell logs "$1" | awk '/swap_cell: answered/ { s += $5; k++ } END { print s + 0, k + 0 }'; }

# run_load NAME SWAPS [ARGS...]: swap_load against NAME while SWAPS swaps to $prog NAME ARGS.
run_load() {
	local name=$1 swaps=$2 i
	shift 2
	rm -f "$RUN/stop-$name"
	CELL_RUNTIME_DIR=$CELL_RUNTIME_DIR/capsid/$name "$load" "$name" "$RUN/stop-$name" 4 2 4 \
		>"$RUN/load-$name.log" 2>&1 &
	load_pid=$!
	pids+=("$load_pid")
	wait_for grep -q "swap_load: running" "$RUN/load-$name.log"
	swapped=0
	for i in $(seq "$swaps"); do
		cell swap --wait=20000 "$name" "$prog" "$name" "$@" >>"$RUN/swaps-$name.log" 2>&1 &&
			swapped=$((swapped + 1))
	done
	touch "$RUN/stop-$name"
	wait "$load_pid"
	load_rc=$?
	sed 's/^/# /' "$RUN/load-$name.log"
	sort "$RUN/swaps-$name.log" | uniq -c | sed -n 's/^/# /; 1,5p'
}

out=$(cell spawn sw --wait=10000 -o ro="$BIN" -o stop_timeout_ms=8000 -- "$prog" sw)
check "a swap_cell cell is spawned and ready (got: $out)" '[[ "$out" == "sw: pid "*", ready" ]]'
inode=$(stat -c %i "$CELL_RUNTIME_DIR/capsid/sw/sw.sock")
run_load sw 20
check "20 swaps under load, each made (cell swap: swapped)" \
	'[ "$swapped" = 20 ] && [ "$(grep -c ": pid [0-9]*, swapped: pid [0-9]* -> pid [0-9]*, listening socket handed over (SCM_RIGHTS); the old one exited (exit status 0)" "$RUN/swaps-sw.log")" = 20 ]'
calls=$(sed -n 's/^swap_load: calls \([0-9]*\) ok \([0-9]*\) failed 0 wrong 0$/\2/p' "$RUN/load-sw.log")
check "no call failed across the 20 swaps ($calls calls, all answered rightly)" \
	'[ "$load_rc" = 0 ] && [ -n "$calls" ] && [ "$calls" -gt 0 ]'
check "cell ps: sw ready, restarts 0, after 20 swaps" \
	'[ "$(field sw state)" = ready ] && [ "$(field sw restarts)" = 0 ]'
check "each old program drained and exited by itself (status 0), none was killed" \
	'grep -q "capsid sw: swapped after" "$log" && [ "$(grep -c "capsid sw: the old program exited (exit status 0) after its drain" "$log")" = 20 ]'
check "the cell's socket file is the one the first program bound (inode $inode): each new program took its listening socket" \
	'[ "$(stat -c %i "$CELL_RUNTIME_DIR/capsid/sw/sw.sock")" = "$inode" ]'
last=$(sed -n 's/.* -> pid \([0-9]*\), .*/\1/p' "$RUN/swaps-sw.log" | tail -1)
check "cell ps names the last program's pid ($last; got $(field sw pid))" '[ "$(field sw pid)" = "$last" ]'
cell stop sw >/dev/null
read -r sum progs < <(answered sw)
check "the 21 programs answered $sum calls in all: each call once ($calls by the load)" \
	'[ "$progs" = 21 ] && [ "$sum" = "$calls" ]'
last=$(cell logs sw | awk '/swap_cell: answered/ { k = $5 } END { print k + 0 }')
check "the last program served the load too ($last calls): clients reconnected each time" \
	'[ "$last" -gt 0 ]'
check "no staging directory is left" \
	'[ -d "$CELL_RUNTIME_DIR/capsid/.swap" ] && [ -z "$(ls -A "$CELL_RUNTIME_DIR/capsid/.swap")" ]'

out=$(cell spawn nd --wait=10000 -o ro="$BIN" -- "$prog" nd --no-drain)
run_load nd 5 --no-drain
failed=$(sed -n 's/^swap_load: calls [0-9]* ok [0-9]* failed \([0-9]*\) wrong [0-9]*$/\1/p' "$RUN/load-nd.log")
check "without the drain (--no-drain) calls fail across 5 swaps ($failed failed): the test can fail" \
	'[ "$load_rc" != 0 ] && [ -n "$failed" ] && [ "$failed" -gt 0 ]'
cell stop nd >/dev/null

# Each swap with a read-only path of its own (as each rollout of a DIR
# adds its new DNA dir): the paths of earlier swaps are dropped, so that
# the 17th is not refused for more than 16 ro= paths.
out=$(cell spawn rp --wait=10000 -o ro="$BIN" -- "$prog" rp)
made=0
for d in $(ls -d /usr/share/doc/*/ | head -20); do
	cell swap --wait=20000 -o ro="${d%/}" rp "$prog" rp >>"$RUN/swaps-rp.log" 2>&1 && made=$((made + 1))
done
check "20 swaps, each with another ro= path, are all made ($made; the earlier swaps' paths dropped)" \
	'[ "$made" = 20 ] && [ "$(field rp state)" = ready ]'
cell stop rp >/dev/null

out=$(cell spawn fp --wait=10000 -o ro="$BIN" -- "$prog" fp)
pid=$(field fp pid)
out=$(cell swap fp "$BIN/userspace/celld/celld_chain_cell" serve fp 2>&1); rc=$?
check "a swap to another fingerprint is refused (got: $out)" \
	'[ $rc = 1 ] && [[ "$out" == *"refused: the new program answers fingerprint 0x"* ]]'
check "and the cell keeps its program" '[ "$(field fp pid)" = "$pid" ] && [ "$(field fp state)" = ready ]'
out=$(cell swap fp "$BIN/userspace/examples/demo_server" fp 2>&1); rc=$?
check "a swap to another binary of the same fingerprint (demo_server) is made (got: rc $rc, $out; pid $(field fp pid) was $pid)" \
	'[ $rc = 0 ] && [[ "$out" == *"swapped: "* ]] && [ "$(field fp pid)" != "$pid" ]'
check "which then serves the demo client" \
	'CELL_RUNTIME_DIR=$CELL_RUNTIME_DIR/capsid/fp timeout 30 "$BIN/userspace/examples/demo_client" -n fp -t 0.1 >"$RUN/client.log" 2>&1'

# A program whose server cannot hand its socket over (no key: as one that
# knows no hand-over) is swapped all the same: the new program's socket is
# renamed over its own, under load, no call failing.
out=$(cell spawn nk --wait=10000 -o ro="$BIN" -o stop_timeout_ms=8000 -- "$prog" nk --no-key)
run_load nk 3
check "a program without a hand-over key is swapped by the rename, then by hand-overs (got: $(tail -1 "$RUN/swaps-nk.log"))" \
	'[ "$swapped" = 3 ] && [ "$(grep -c "swapped: pid [0-9]* -> pid [0-9]*, listening socket handed over" "$RUN/swaps-nk.log")" = 2 ] && [ "$(grep -c "swapped: pid [0-9]* -> pid [0-9]*, its socket renamed over the cell'"'"'s" "$RUN/swaps-nk.log")" = 1 ]'
check "and no call failed" '[ "$load_rc" = 0 ] && grep -q " failed 0 wrong 0$" "$RUN/load-nk.log"'
cell stop nk >/dev/null
out=$(cell swap fp /bin/true 2>&1); rc=$?
check "a program outside the capsid's paths is refused" '[ $rc = 1 ] && [[ "$out" == *"not in the cell"* ]]'
out=$(cell swap nosuch "$prog" x 2>&1); rc=$?
check "a swap of no such cell: NOT_FOUND" '[ $rc = 1 ] && [[ "$out" == *NOT_FOUND* ]]'
out=$(cell spawn nr --wait=10000 -o ro="$BIN" -o ready_timeout_ms=500 -- "$prog" nr)
pid=$(field nr pid)
out=$(cell swap nr /usr/bin/sleep 100 2>&1); rc=$?
check "a swap to a program that never answers PING fails at ready_timeout_ms (got: $out)" \
	'[ $rc = 1 ] && [[ "$out" == *"failed: the new program was not ready within 500 ms"* ]]'
check "and the cell keeps its program, ready" '[ "$(field nr pid)" = "$pid" ] && [ "$(field nr state)" = ready ]'
out=$(cell swap --wait=100 nr /usr/bin/sleep 100 2>&1); rc=$?
check "a swap under way is said so when the wait ends first (got: $out)" \
	'[ $rc = 1 ] && [[ "$out" == *"still swapping: pid "* ]]'
out=$(cell swap nr "$prog" nr 2>&1); rc=$?
check "a second swap while one is under way is refused" '[ $rc = 1 ] && [[ "$out" == *"UNAVAILABLE: swapping: "* ]]'
kill "$celld_pid"
wait "$celld_pid"
check "celld's exit kills a swap's new program too: no capsid of this test is left" \
	'grep -q "capsid nr: celld.s exit: the swap.s other process (pid [0-9]*) killed" "$log" && sleep 0.1 && ! pgrep -f "$RUN/state/capsid" >/dev/null'
grep 'capsid \(sw\|nd\|fp\|nr\)' "$log" | grep -v "swapped after\|after its drain\|swap to .* asked\|started, pid" | sed 's/^/# /'
echo "1..$n"
exit "$fail"
