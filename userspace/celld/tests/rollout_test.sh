#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# rollout_test.sh BUILD_DIR TOP: `cell rollout` (Documentation/capsid.rst).  A
# capsid cell (swap_cell) serves a tissue load (swap_load ... tissue: round
# robin over every instance of the name, so a canary gets its share).  A
# canary that answers every 3rd call INTERNAL (--fail-every=3) is rolled
# back: the cell keeps its program and the canary is stopped.  A canary of
# the same program without errors is promoted: the cell is swapped to it
# (a new pid) and the canary is stopped.  From a directory: the example
# cell hello built with `cell build` runs; `cell rollout hello DIR` of a
# changed copy (a new DNA) builds it and promotes it (the cell's program is
# then the new DNA's binary).
# shellcheck disable=SC2034 # rc and out are read by the check strings (eval)
set -u
TOP=$(cd "$2" && pwd)
# shellcheck source=userspace/celld/tests/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=userspace/celld/tests/capsid_lib.sh
. "$(dirname "$0")/capsid_lib.sh"
capsid_begin "$1"
start_celld -S -o capsid.spawn=1
prog=$BIN/userspace/celld/celld_swap_cell
field() { cell ps -j "$1" | python3 -c "import json,sys; print(json.load(sys.stdin)[0]['$2'])"; }
running_canaries() { cell ps -j ro | python3 -c "import json,sys; print(sum(1 for c in json.load(sys.stdin) if '@' in c['name'] and c['state'] not in ('stopped', 'failed')))"; }

out=$(cell spawn ro --wait=10000 -o ro="$BIN" -- "$prog" ro)
check "a swap_cell cell is spawned and ready (got: $out)" '[[ "$out" == "ro: pid "*", ready" ]]'
"$BIN/userspace/celld/celld_swap_load" ro "$RUN/stop" 2 1 1 tissue >"$RUN/load.log" 2>&1 &
load_pid=$!
pids+=("$load_pid")
wait_for grep -q "swap_load: running" "$RUN/load.log"
pid=$(field ro pid)

out=$(cell rollout --window=3000 ro "$prog" ro --fail-every=3 2>&1); rc=$?
echo "$out" | sed 's/^/# /'
check "a canary that errors (every 3rd call) is rolled back (exit 1)" \
	'[ $rc = 1 ] && [[ "$out" == *"rolled back: canary error rate 3"*"% against 0.00%"* ]]'
check "the canary got calls and was stopped" \
	'[[ "$out" == *"canary ro@"*"stopped"* ]] && [ "$(running_canaries)" = 0 ]'
check "the cell keeps its program" '[ "$(field ro pid)" = "$pid" ] && [ "$(field ro state)" = ready ]'

out=$(cell rollout --window=3000 ro "$prog" ro 2>&1); rc=$?
echo "$out" | sed 's/^/# /'
check "a canary without errors is promoted (exit 0): the cell is swapped to it" \
	'[ $rc = 0 ] && [[ "$out" == *"promoted: swapped: pid "* ]] && [ "$(field ro pid)" != "$pid" ]'
check "and the canary is stopped" '[ "$(running_canaries)" = 0 ] && [ "$(field ro state)" = ready ]'

out=$(cell rollout --window=500 ro "$BIN/userspace/celld/celld_chain_cell" serve ro 2>&1); rc=$?
check "a canary of another fingerprint is rolled back" \
	'[ $rc = 1 ] && [[ "$out" == *"rolled back: the canary serves fingerprint"* ]]'
touch "$RUN/stop"
wait "$load_pid"
sed 's/^/# /' "$RUN/load.log"
check "the load kept being answered (tissue calls)" \
	'grep -qE "swap_load: calls [0-9]+ ok [1-9][0-9]* " "$RUN/load.log"'

# From a directory (the ribosome builds it; its DNA dir is given to the capsid).
export CELLC=$BIN/userspace/cellc/cellc CELL_CFLAGS="-I$TOP/lib/include -I$TOP/uapi"
export CELL_LIBS="-L$BIN/lib -lcell -Wl,-rpath,$BIN/lib" CELL_STATE_DIR=$RUN/state
unset CC CFLAGS CPPFLAGS LDFLAGS SOURCE_DATE_EPOCH
cp -r "$TOP/userspace/examples/hello" "$RUN/hello1"
bin1=$(cell build "$RUN/hello1" | sed -n 's/^hello: built [0-9a-f]* in [0-9]* ms: //p')
out=$(cell spawn hello --wait=10000 -o ro="$BIN" -o ro="$(dirname "$bin1")" -- "$bin1" hello 2>&1)
check "the example cell hello, built by cell build, is ready (got: $out)" '[[ "$out" == "hello: pid "*", ready" ]]'
cp -r "$RUN/hello1" "$RUN/hello2"
echo "/* version 2: a new DNA, the same schema */" >>"$RUN/hello2/hello_server.c"
out=$(cell rollout --window=500 --min-calls=0 hello "$RUN/hello2" hello 2>&1); rc=$?
echo "$out" | sed 's/^/# /'
bin2=$(echo "$out" | sed -n 's/^rollout: .* built into \(.*\)$/\1/p')
check "cell rollout hello DIR: built (a new DNA) and promoted" \
	'[ $rc = 0 ] && [ -n "$bin2" ] && [ "$bin2" != "$bin1" ] && [[ "$out" == *"promoted: swapped: "* ]]'
check "the cell runs the new DNA's binary" '[ "$(readlink "/proc/$(field hello pid)/exe")" = "$bin2" ]'
grep 'capsid \(ro\|hello\)' "$log" | sed 's/^/# /'
echo "1..$n"
exit "$fail"
