#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# evolution_test.sh BUILD_DIR: two schema versions of one cell side by side
# (issue 18; Documentation/capsid.rst, "Instances").  Version 1 of the
# test cell (evo_v1.cell) is spawned as evo; spawning the same program
# again is refused; a copy of it (another file, the same fingerprint) is
# started as evo@1 but refused once its PING shows the fingerprint; version 2
# (evo_v2.cell, another fingerprint) starts beside it as evo@1.  Each is
# published as a symlink RUNTIME_DIR/INSTANCE.sock; `cell ps` shows both
# fingerprints; an old client and a new client of evo call at the same
# time, each served by its own version (libcell picks the instance by
# fingerprint); once the old client is gone, evo is retired after
# retire_idle_s and its symlink removed, while evo@1 goes on serving.
# shellcheck disable=SC2034 # rc, out, ... are read by the check strings (eval)
set -u
# shellcheck source=userspace/celld/tests/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=userspace/celld/tests/capsid_lib.sh
. "$(dirname "$0")/capsid_lib.sh"
capsid_begin "$1"
start_celld -S -o capsid.spawn=1
v1=$BIN/userspace/celld/celld_evo_v1
v2=$BIN/userspace/celld/celld_evo_v2
fp_of() { sed -n 's/^#define EVO_FINGERPRINT \(0x[0-9a-f]*\)ULL$/\1/p' \
	"$BIN/userspace/celld/celld_evo_v$1.cellc/evo.cell.h"; }
# field NAME KEY: KEY of NAME's row in `cell ps -j` (empty if not listed).
field() { cell ps -j "$1" | python3 -c "
import json, sys
rows = [r for r in json.load(sys.stdin) if r['name'] == '$1']
print(rows[0]['$2'] if rows else '')"; }
state_is() { [ "$(field "$1" state)" = "$2" ]; }
# until_true SECONDS CMD...: polls CMD every 0.1 s for up to SECONDS.
until_true() {
	local end=$((SECONDS + $1))
	shift
	while [ $SECONDS -le $end ]; do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
	return 1
}

out=$(cell spawn evo -o ro="$BIN" --wait=5000 -- "$v1" serve evo 2>&1)
check "version 1 is spawned as evo (got: $out)" '[[ "$out" == "evo: pid "*", ready" ]]'
check "published as run/evo.sock -> capsid/evo/evo.sock" \
	'[ "$(readlink "$CELL_RUNTIME_DIR/evo.sock")" = capsid/evo/evo.sock ]'
out=$(cell spawn evo -o ro="$BIN" -- "$v1" serve evo 2>&1); rc=$?
check "the same program again is refused, as before (a hot swap is cell swap)" \
	'[ $rc -eq 1 ] && [[ "$out" == *"cell evo is supervised already (ready)"* ]]'
mkdir -p "$RUN/copy" && cp "$v1" "$RUN/copy/evo_v1" && chmod 755 "$RUN/copy"
out=$(cell spawn evo -o ro="$BIN" -o ro="$RUN/copy" --wait=5000 -- "$RUN/copy/evo_v1" serve evo 2>&1)
check "a copy of version 1 starts as evo@1 and is failed once its fingerprint is seen" \
	'[[ "$out" == *"evo@1 is failed"* ]] && state_is evo@1 failed && grep -q "capsid evo@1: refused: fingerprint $(fp_of 1) is evo.s already" "$log"'
check "and was never published" '[ ! -e "$CELL_RUNTIME_DIR/evo@1.sock" ]'

out=$(cell spawn evo -o ro="$BIN" -o retire_idle_s=3 --wait=5000 -- "$v2" serve evo 2>&1)
check "version 2 starts beside it as evo@1 (got: $out)" '[[ "$out" == "evo@1: pid "*", ready" ]]'
check "published as run/evo@1.sock -> capsid/evo@1/evo.sock" \
	'[ "$(readlink "$CELL_RUNTIME_DIR/evo@1.sock")" = "capsid/evo@1/evo.sock" ]'
fp1=$(field evo fingerprint)
fp2=$(field evo@1 fingerprint)
check "cell ps -j: evo has version 1's fingerprint ($fp1), evo@1 version 2's ($fp2)" \
	'[ "$fp1" = "$(fp_of 1)" ] && [ "$fp2" = "$(fp_of 2)" ] && [ "$fp1" != "$fp2" ]'
check "cell ps (table): both rows, ready, each with its fingerprint" \
	'cell ps | grep -qE "^evo +$fp1 .* ready " && cell ps | grep -qE "^evo@1 +$fp2 .* ready "'
check "each instance has its own log ring (cell logs evo, cell logs evo@1)" \
	'cell logs evo | grep -q "evo_cell v1: serving evo" && cell logs evo@1 | grep -q "evo_cell v2: serving evo" && ! cell logs evo | grep -q "evo_cell v2"'
out=$("$v1" call evo@1 0.2 2>&1); rc=$?
check "a version 1 client cannot call evo@1 by its name (the fingerprint is checked)" '[ $rc -ne 0 ]'

# Both clients name the cell "evo": libcell picks the instance with their fingerprint.
"$v1" call evo 4 >"$RUN/old.log" 2>&1 &
old=$!
"$v2" call evo 4 >"$RUN/new.log" 2>&1 &
new=$!
wait "$old"
rc_old=$?
wait "$new"
rc_new=$?
sed 's/^/# /' "$RUN/old.log" "$RUN/new.log"
check "an old client (v1) and a new client (v2) of evo for 4 s at once: each served by its version" \
	'[ $rc_old -eq 0 ] && [ $rc_new -eq 0 ] && grep -q " 0 answered by another version" "$RUN/old.log" && grep -q " 0 answered by another version" "$RUN/new.log"'
check "evo was not retired while its client was connected (4 s > retire_idle_s=3)" 'state_is evo ready'
t0=$SECONDS
check "with no client, evo is retired (stopped) after retire_idle_s" 'until_true 10 state_is evo stopped'
check "at least 2 s after its client left (got $((SECONDS - t0)) s)" '[ $((SECONDS - t0)) -ge 2 ]'
check "celld logs why" 'grep -q "capsid evo: retired: no client for 3 s, and evo@1 (fingerprint $fp2) is ready" "$log"'
check "its symlink is removed, evo@1's stays" \
	'[ ! -e "$CELL_RUNTIME_DIR/evo.sock" ] && [ ! -L "$CELL_RUNTIME_DIR/evo.sock" ] && [ -L "$CELL_RUNTIME_DIR/evo@1.sock" ]'
check "evo@1 still serves version 2 clients" '"$v2" call evo@1 0.3 >/dev/null 2>&1 && state_is evo@1 ready'
out=$(cell stop evo@1 2>&1)
check "cell stop evo@1: stopped, its symlink removed (got: $out)" \
	'[ "$out" = "evo@1: pid 0, stopped" ] && [ ! -L "$CELL_RUNTIME_DIR/evo@1.sock" ]'
capsid_end
