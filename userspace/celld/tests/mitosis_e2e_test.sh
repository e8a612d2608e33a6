#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# mitosis_e2e_test.sh BUILD_DIR: autoscaling end to end (issue 15;
# Documentation/capsid.rst, "Mitosis").  The test cell (evo_cell, version
# 1) is spawned with instances=1..3 and a target of 2 calls in flight per
# instance; a tissue load generator (lib/tissue.c) with 8 callers of a
# 20 ms method makes celld start evo@1 and evo@2, and the tissue spreads
# the calls over all three; with 1 caller left the two are retired again
# (SIGTERM) down to 1, and no call is lost: sent = answered, 0 failed.
# A fixed instances=3 starts three at once and cell stop stops them all;
# a `cell rollout` canary of a scaled cell does not scale on its own.
# Bounded: each phase waits at most 20 s.
# shellcheck disable=SC2034 # rc, out, ... are read by the check strings (eval)
set -u
# shellcheck source=userspace/celld/tests/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=userspace/celld/tests/capsid_lib.sh
. "$(dirname "$0")/capsid_lib.sh"
capsid_begin "$1"
start_celld -S -o capsid.spawn=1
v1=$BIN/userspace/celld/celld_evo_v1
# ready_count [NAME]: how many instances of NAME (NAME, NAME@K; default evo) are ready.
ready_count() { cell ps -j | python3 -c "
import json, re, sys
print(sum(1 for r in json.load(sys.stdin)
          if re.fullmatch(r'${1:-evo}(@[0-9]+)?', r['name']) and r['state'] == 'ready'))"; }
trio_ready() { [ "$(ready_count trio)" = 3 ]; }
most=0
# until_count SECONDS N: polls until N instances are ready; most = the most seen.
until_count() {
	local end=$((SECONDS + $1)) now
	while [ $SECONDS -le $end ]; do
		now=$(ready_count)
		[ "$now" -gt "$most" ] && most=$now
		[ "$now" = "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

out=$(cell spawn evo -o ro="$BIN" -o instances=1..3 -o scale_target_inflight=2 \
	-o scale_interval_ms=100 -o scale_up_after_ms=300 -o scale_down_after_ms=1000 \
	--wait=5000 -- "$v1" serve evo 2>&1)
check "spawned with instances=1..3: evo is ready (got: $out)" '[[ "$out" == "evo: pid "*", ready" ]]'
check "idle, it stays at 1 instance for 1.5 s" 'sleep 1.5; [ "$(ready_count)" = 1 ]'

"$v1" load evo 8 20 >"$RUN/load.log" 2>"$RUN/load.err" &
load=$!
pids+=("$load")
check "8 callers (16 calls in flight wanted): 1 -> 3 instances" 'until_count 20 3'
check "each ready instance is published (evo.sock, evo@1.sock, evo@2.sock)" \
	'[ -L "$CELL_RUNTIME_DIR/evo.sock" ] && [ -L "$CELL_RUNTIME_DIR/evo@1.sock" ] && [ -L "$CELL_RUNTIME_DIR/evo@2.sock" ]'
check "celld logs each step up" '[ "$(grep -c "capsid evo: mitosis: .*: one more" "$log")" = 2 ]'
check "never more than MAX (3) in 2 s at that load" 'until_count 2 4; [ "$most" = 3 ]'

kill -USR1 "$load"
check "1 caller left: back to 1 instance" 'until_count 20 1'
# line NUMBER of the first line of celld's log matching PATTERN.
line_of() { grep -n "$1" "$log" | head -1 | cut -d: -f1; }
check "celld logs each step down, the newest (evo@2) first" \
	'[ "$(grep -c "capsid evo: mitosis: .*: one fewer" "$log")" = 2 ] && [ "$(line_of "capsid evo@2: stopping")" -lt "$(line_of "capsid evo@1: stopping")" ]'
check "the retired instances are unpublished" \
	'[ ! -e "$CELL_RUNTIME_DIR/evo@1.sock" ] && [ ! -e "$CELL_RUNTIME_DIR/evo@2.sock" ] && [ -L "$CELL_RUNTIME_DIR/evo.sock" ]'
# rows NAME: the rows of NAME and its instances in cell ps.
rows() { cell ps -j | python3 -c "
import json, re, sys
print(' '.join(sorted(r['name'] for r in json.load(sys.stdin) if re.fullmatch(r'$1(@[0-9]+)?', r['name']))))"; }
only_evo() { [ "$(rows evo)" = evo ]; }
check "once they exited, cell ps lists evo alone; their log rings stay" \
	'wait_for only_evo && cell logs evo@2 | grep -q "serving evo"'
kill "$load"
wait "$load"
rc=$?
sed 's/^/# /' "$RUN/load.log"
head -5 "$RUN/load.err" | sed 's/^/# stderr: /'
check "no call lost: sent = answered, 0 failed (exit $rc)" \
	'[ $rc -eq 0 ] && grep -qE "^sent ([0-9]+) answered \1 failed 0$" "$RUN/load.log"'
check "the tissue spread calls over all three instances" \
	'grep -q "^evo: " "$RUN/load.log" && grep -q "^evo@1: " "$RUN/load.log" && grep -q "^evo@2: " "$RUN/load.log"'
out=$(cell stop evo 2>&1)
check "cell stop evo: stopped (got: $out)" '[ "$out" = "evo: pid 0, stopped" ]'
cell spawn trio -o ro="$BIN" -o instances=3 -- "$v1" serve trio >/dev/null
check "a fixed instances=3 (no target needed) runs trio, trio@1 and trio@2" 'wait_for trio_ready'
out=$(cell stop trio 2>&1)
check "cell stop trio stops the three" \
	'[ "$out" = "trio: pid 0, stopped" ] && wait_for eval "[ \"\$(ready_count trio)\" = 0 ]"'
cell spawn roll -o ro="$BIN" -o instances=2..3 -o scale_target_inflight=100 \
	-o scale_interval_ms=50 -- "$v1" serve roll >/dev/null
roll_two() { [ "$(ready_count roll)" = 2 ]; }
check "instances=2..3 starts two (roll, roll@1)" 'wait_for roll_two'
out=$(cell rollout --window=1000 roll "$v1" serve roll 2>&1)
echo "$out" | sed 's/^/# rollout: /'
check "cell rollout's canary (roll@2) is one instance: it scales nothing of its own" \
	'grep -q "capsid roll: canary roll@2 started" "$log" && ! grep -q "capsid roll@2: instances=" "$log" && ! grep -q "capsid roll@3" "$log"'
capsid_end
