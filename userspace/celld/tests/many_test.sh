#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# many_test.sh BUILD: 10,000 registrations from one process are all listed,
# and all vanish when that process dies (one pidfd for the lot).
BIN=$1
. "$(dirname "$0")/lib.sh"
tool=$BIN/userspace/celld/celld_enroll_tool
echo "TAP version 13"
echo "1..5"
# The span collector (spanstore.c) asks every registered cell once a second,
# synchronously on the loop: 10,000 cells without sockets keep the loop busy
# and `cell ps` times out.  This test is about the registry: collector off.
start_celld -o collect.spans_ms=0
"$tool" many 10000 30 >"$RUN/tool.out" 2>&1 &
tool_pid=$!
pids+=("$tool_pid")
wait_for grep -q enrolled "$RUN/tool.out"
check "10,000 registrations accepted" 'grep -q "^enrolled 10000 in" "$RUN/tool.out"'
echo "# $(cat "$RUN/tool.out")"
t0=$(date +%s%N)
count=$(cell ps -j | python3 -c "import json,sys; print(sum(1 for c in json.load(sys.stdin) if c['name'].startswith('many-')))")
t1=$(date +%s%N)
echo "# cell ps -j of 10,000 cells: $(((t1 - t0) / 1000000)) ms"
check "cell ps -j lists all 10,000" '[ "$count" = 10000 ]'
check "a name filter finds one of them" \
	'[ "$(cell ps -j many-04242 | python3 -c "import json,sys; print(len(json.load(sys.stdin)))")" = 1 ]'
check "celld holds one pidfd for them, not 10,000" \
	'[ "$(ls /proc/$celld_pid/fd | wc -l)" -lt 100 ]'
kill "$tool_pid"
wait "$tool_pid" 2>/dev/null
check "they vanish when the process dies" \
	'wait_for eval "[ \"\$(cell ps -j | python3 -c \"import json,sys; print(len(json.load(sys.stdin)))\")\" = 0 ]"'
[ $fail -eq 0 ] || tail -20 "$RUN/celld.log"
exit $fail
