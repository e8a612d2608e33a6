#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# ps_test.sh BUILD: celld + two cells (one registers, one is found by the
# runtime directory scan) + `cell ps -j`, checked as JSON; a cell's death
# removes its entry; `cell schema` answers method 0.
BIN=$1
. "$(dirname "$0")/lib.sh"
echo "TAP version 13"
echo "1..18"
start_celld
check "celld serves nucleus.sock" '[ -S "$CELL_RUNTIME_DIR/nucleus.sock" ]'
start_cell alpha
alpha=$last_pid
start_cell beta CELL_NO_REGISTER=1
wait_for ps_has alpha
wait_for ps_has beta
out=$(cell ps -j)
check "cell ps -j is valid JSON" 'echo "$out" | python3 -m json.tool >/dev/null'
check "both cells are listed with pid, path, node, rtt_us, health" 'echo "$out" | python3 -c "
import json, sys
cells = {c[\"name\"]: c for c in json.load(sys.stdin)}
a, b = cells[\"alpha\"], cells[\"beta\"]
assert a[\"pid\"] == $alpha and a[\"origin\"] == \"registered\", a
assert b[\"origin\"] == \"scan\", b
for c in (a, b):
    assert c[\"fingerprint\"] == \"0xbc05e159db6acc7a\" and c[\"local\"] and c[\"node\"] == \"\"
    assert c[\"path\"].endswith(c[\"name\"] + \".sock\") and c[\"health\"] == \"ok\"
    assert isinstance(c[\"rtt_us\"], int)
"'
check "cells celld does not supervise: state \"\", restarts 0, uptime_ms 0" 'echo "$out" | python3 -c "
import json, sys
for c in json.load(sys.stdin):
    assert c[\"state\"] == \"\" and c[\"restarts\"] == 0 and c[\"uptime_ms\"] == 0, c
"'
check "the table's header names STATE, RESTARTS, UPTIME" \
	'[[ "$(cell ps | head -1)" == *" STATE"*" RESTARTS"*" UPTIME" ]]'
check "cell ps (table) has a header and both rows" \
	'[ "$(cell ps | grep -cE "^(NAME|alpha|beta) ")" -eq 3 ]'
check "cell schema alpha prints the demo schema" 'cell schema alpha | grep -q "^service demo {"'
check "cell schema -j is JSON with the fingerprint" \
	'cell schema -j beta | python3 -c "import json,sys; assert json.load(sys.stdin)[\"fingerprint\"]==\"0xbc05e159db6acc7a\""'
check "cell schema of no cell fails" '! cell schema nosuch 2>/dev/null'
out=$("$BIN/userspace/celld/celld_enroll_tool" alpha 1 0 /nonexistent/alpha.sock 2>&1); rc=$?
check "another process cannot take a live cell's name (same uid)" \
	'[ $rc -eq 1 ] && [[ "$out" == *"INVALID_ARGUMENT: cell name '"'"'alpha'"'"' is served by pid $alpha"* ]]'
out=$("$BIN/userspace/celld/celld_enroll_tool" gamma 1 0 "$CELL_RUNTIME_DIR/alpha.sock" 2>&1); rc=$?
check "a registration cannot point at another process's socket" \
	'[ $rc -eq 1 ] && [[ "$out" == *"alpha.sock is served by pid $alpha, not by the registering pid"* ]]'
check "and the entry still names the cell" \
	'cell ps -j alpha | python3 -c "import json,sys; assert json.load(sys.stdin)[0][\"pid\"]==$alpha"'
tool=$BIN/userspace/celld/celld_enroll_tool
out=$("$tool" --lookup alpha)
check "lookup gives pid, fingerprint and the schema text" \
	'[[ "$out" == "pid $alpha fingerprint 0xbc05e159db6acc7a schema "[1-9]* ]]'
out=$("$tool" --lookup nosuch); rc=$?
check "lookup of no cell: NOT_FOUND" '[ $rc -eq 1 ] && [[ "$out" == *NOT_FOUND* ]]'
check "the owner may withdraw a name" '[ "$("$tool" --withdraw beta)" = withdrawn ] && ! ps_has beta'
out=$("$tool" --withdraw beta); rc=$?
check "withdrawing it again: NOT_FOUND" '[ $rc -eq 1 ] && [[ "$out" == *NOT_FOUND* ]]'
kill "$alpha"
wait "$alpha" 2>/dev/null
check "a dead cell's entry vanishes" 'wait_for eval "! ps_has alpha"'
kill "$celld_pid"
wait "$celld_pid" 2>/dev/null
out=$(cell ps 2>&1)
check "cell ps without celld says so" '[[ "$out" == *"is celld running?"* ]]'
[ $fail -eq 0 ] || cat "$RUN/celld.log"
exit $fail
