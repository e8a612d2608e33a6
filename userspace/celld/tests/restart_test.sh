#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# restart_test.sh BUILD: celld killed (-9) and started again under live
# cells: the new celld finds every cell by scanning the runtime directory
# (probing each: pid, uid, fingerprint, schema text), also one that started
# while no celld ran; nothing the first celld listed is lost.
BIN=$1
. "$(dirname "$0")/lib.sh"
echo "TAP version 13"
echo "1..7"
fields='import json,sys
for c in sorted(json.load(sys.stdin), key=lambda c: c["name"]):
    print(c["name"], c["fingerprint"], c["pid"], c["uid"], c["path"], c["node"], ",".join(c["endpoints"]))'
start_celld
start_cell one
start_cell two CELL_NO_REGISTER=1
wait_for ps_has one
wait_for ps_has two
before=$(cell ps -j | python3 -c "$fields")
kill -9 "$celld_pid"
wait "$celld_pid" 2>/dev/null
start_cell three
start_celld
wait_for ps_has three
after=$(cell ps -j | python3 -c "$fields")
check "the restarted celld lists the cells started before it" \
	'[ "$(echo "$after" | grep -v "^three ")" = "$before" ]'
echo "$before" | sed 's/^/# before: /'
echo "$after" | sed 's/^/# after:  /'
check "and the one started while celld was down" 'echo "$after" | grep -q "^three 0xbc05e159db6acc7a "'
check "the schema text is known again (lookup through the nucleus)" \
	'cell schema one | grep -q "^schema demo;"'
start_cell four
check "a cell started after the restart registers" 'wait_for ps_has four'
check "exactly four cells, no duplicates" \
	'[ "$(cell ps -j | python3 -c "import json,sys; print(len(json.load(sys.stdin)))")" = 4 ]'
# A hung celld (stopped) costs a starting server a bounded delay, no more.
kill -STOP "$celld_pid"
t0=$(date +%s%N)
start_cell five
t1=$(date +%s%N)
kill -CONT "$celld_pid"
ms=$(((t1 - t0) / 1000000))
echo "# a server started in $ms ms while celld was stopped"
check "a stopped celld delays a starting server by less than 2 s" '[ -S "$CELL_RUNTIME_DIR/five.sock" ] && [ $ms -lt 2000 ]'
check "and the resumed celld lists it (scan)" 'wait_for ps_has five'
[ $fail -eq 0 ] || cat "$RUN/celld.log"
exit $fail
