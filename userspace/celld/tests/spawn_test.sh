#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# spawn_test.sh BUILD_DIR: `cell spawn` / `cell stop` and the supervisor's
# states (Documentation/capsid.rst).  A spawned demo server is starting,
# then ready once it answers PING, and serves the demo client; `cell ps`
# shows its state, restarts, uptime and pid; a kill -9 restarts it
# (--restart=always).  Readiness: a cell that never listens is stopped at
# ready_timeout_ms and counted as a failure until failed.  Graceful stop:
# a cell that exits on SIGTERM gets it (its handler leaves a file), one
# that ignores it is killed at the deadline; the same at celld's exit.
# Refusals: a second spawn of a live name, an unknown key, another uid.
# A spawned cell's output is in its log ring (`cell logs`).
# shellcheck disable=SC2034 # rc and out are read by the check strings (eval)
set -u
# shellcheck source=userspace/celld/tests/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=userspace/celld/tests/capsid_lib.sh
. "$(dirname "$0")/capsid_lib.sh"
capsid_begin "$1"
# Under umask 077 (a service's UMask=0077): the directories celld makes for
# its cells must still be traversable by the cells' uid (checks 2-4 failed).
mask=$(umask)
umask 077
start_celld -S -o capsid.spawn=1
umask "$mask"
server=$BIN/userspace/examples/demo_server
# field NAME KEY: KEY of NAME's row in `cell ps -j`.
field() { cell ps -j "$1" | python3 -c "import json,sys; print(json.load(sys.stdin)[0]['$2'])"; }
# A program of the sandbox's own /usr: sh scripts given with -c.
# Each says "up" in its data dir once its trap is set.
term_file='trap "echo term >got-term; exit 0" TERM; echo up >up; while :; do sleep 0.05; done'
deaf='trap "" TERM; echo up >up; while :; do sleep 0.05; done'
up() { wait_for test -s "$RUN/state/capsid/$1/up"; }

out=$(cell spawn demo --restart=always -o ro="$BIN" -o backoff_ms=50 -- "$server")
check "spawn answers at once: starting (got: $out)" '[[ "$out" == "demo: pid "[0-9]*", starting" ]]'
check "then ready, once it answers PING" 'wait_for eval "[ \"\$(field demo state)\" = ready ]"'
check "celld logs when it got ready" 'grep -q "capsid demo: ready after [0-9]* ms (PING [0-9]* us)" "$log"'
ours() {
	for p in $(pgrep -x demo_server); do
		tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null |
			grep -qx "CELL_RUNTIME_DIR=$CELL_RUNTIME_DIR/capsid/demo" && echo "$p"
	done
}
pid=$(ours | head -1)
check "cell ps -j: origin capsid, restarts 0, the program's pid ($pid)" \
	'[ "$(field demo origin)" = capsid ] && [ "$(field demo restarts)" = 0 ] && [ -n "$pid" ] && [ "$(field demo pid)" = "$pid" ]'
check "cell ps (table): STATE RESTARTS UPTIME columns" \
	'cell ps | grep -q "STATE *RESTARTS *UPTIME" && cell ps | grep -qE "^demo .* ready +0 +[0-9]+s"'
client() { CELL_RUNTIME_DIR=$CELL_RUNTIME_DIR/capsid/demo timeout 30 \
	"$BIN/userspace/examples/demo_client" -t 0.1 >"$RUN/client.log" 2>&1 &&
	grep -q "every call exactly once" "$RUN/client.log"; }
check "the spawned demo cell serves the demo client" client
out=$(cell spawn demo -o ro="$BIN" -- "$server" 2>&1); rc=$?
check "a second spawn of a live name is refused" \
	'[ $rc -eq 1 ] && [[ "$out" == *"INVALID_ARGUMENT: cell demo is supervised already (ready)"* ]]'
out=$(cell spawn odd -o colour=blue -- /bin/true 2>&1); rc=$?
check "an unknown -o key is refused" '[ $rc -eq 1 ] && [[ "$out" == *"unknown key colour"* ]]'
out=$(cell spawn big --restart=never -o ready=none -o memory_max=2147483648 -- /bin/true 2>&1)
check "memory_max above 1e9 bytes (2 GiB) is taken (got: $out)" '[[ "$out" == "big: pid "* ]]'
out=$(cell spawn odd -o max_restarts=-1 -- /bin/true 2>&1); rc=$?
check "a signed number is refused" '[ $rc -eq 1 ] && [[ "$out" == *"max_restarts=-1 is not a number"* ]]'
out=$(cell spawn many --restart=never -o ready=none -o instances=1..3 -o scale_target_inflight=4 \
	-- /bin/true 2>&1); rc=$?
check "an instance range with a target is taken (mitosis: celld_mitosis_e2e; got: $out)" \
	'[ $rc -eq 0 ] && [[ "$out" == "many: pid "* ]]'
out=$(cell spawn many -o instances=1..3 -- /bin/true 2>&1); rc=$?
check "an instance range without a target is refused" \
	'[ $rc -eq 1 ] && [[ "$out" == *"needs scale_target_inflight="* ]]'
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$BIN/userspace/cell/cell" \
	spawn intruder -- /bin/true 2>&1); rc=$?
check "another uid may not spawn: PERMISSION_DENIED (got: $out)" \
	'[ $rc -eq 1 ] && [[ "$out" == *PERMISSION_DENIED* ]]'
[ -n "$pid" ] && kill -9 "$pid"
check "kill -9: restarted (--restart=always), ready again, restarts 1" \
	'wait_for eval "[ \"\$(field demo state)\" = ready ] && [ \"\$(field demo restarts)\" = 1 ]"'
check "as a new process" '[ -n "$(ours)" ] && [ "$(ours | head -1)" != "$pid" ]'
out=$(cell stop demo); rc=$?
check "cell stop demo: stopped (got: $out)" '[ $rc -eq 0 ] && [ "$out" = "demo: pid 0, stopped" ]'
check "by SIGTERM: it exited by itself (status 0)" \
	'grep -q "capsid demo: stopped (exit status 0)" "$log" && cell logs demo | grep -q "server: stopped after"'
check "and is not restarted" 'sleep 0.3; [ -z "$(ours)" ] && [ "$(field demo state)" = stopped ]'

cell spawn polite -o ready=none -- /bin/sh -c "$term_file" >/dev/null
cell spawn deaf -o ready=none -o stop_timeout_ms=5000 -- /bin/sh -c "$deaf" >/dev/null
check "ready=none: ready at start" '[ "$(field polite state)" = ready ] && [ "$(field deaf state)" = ready ]'
up polite
up deaf
check "cell stop of a cell that exits on SIGTERM" 'cell stop polite >/dev/null'
check "its TERM handler ran (got-term in its data dir)" \
	'grep -qx term "$RUN/state/capsid/polite/got-term" && grep -q "capsid polite: stopped (exit status 0)" "$log"'
check "cell stop --timeout 300 of a cell that ignores SIGTERM" 'cell stop deaf --timeout 300 >/dev/null'
check "it is killed at the deadline" \
	'grep -q "capsid deaf: still running [0-9]* ms after SIGTERM: SIGKILL" "$log" && grep -q "capsid deaf: stopped (signal 9)" "$log"'
out=$(cell stop nosuch 2>&1); rc=$?
check "cell stop of no such cell: NOT_FOUND" '[ $rc -eq 1 ] && [[ "$out" == *NOT_FOUND* ]]'

out=$(cell spawn mute -o ready_timeout_ms=300 -o max_restarts=1 -o backoff_ms=50 -- /bin/sleep 100)
check "a cell that never listens is starting" '[[ "$out" == *", starting" ]]'
check "not ready in time: stopped, restarted once, then failed" \
	'wait_for eval "[ \"\$(field mute state)\" = failed ]"'
check "each time as a failure (never ready)" \
	'[ "$(grep -c "capsid mute: not ready within 300 ms" "$log")" = 2 ] && grep -q "capsid mute: exited (.*never ready); failed: 1 restarts within 60 s" "$log"'
check "cell ps: restarts 1, no pid, no uptime" \
	'[ "$(field mute restarts)" = 1 ] && [ "$(field mute pid)" = 0 ] && [ "$(field mute uptime_ms)" = 0 ]'
out=$(cell spawn mute --wait=3000 -o ro="$BIN" -- "$server" mute)
check "a failed name may be spawned again (--wait: ready)" '[[ "$out" == "mute: pid "*", ready" ]]'

cell spawn polite2 -o ready=none -- /bin/sh -c "$term_file" >/dev/null
cell spawn deaf2 -o ready=none -o stop_timeout_ms=300 -- /bin/sh -c "$deaf" >/dev/null
up polite2
up deaf2
kill "$celld_pid"
wait "$celld_pid"
check "celld's exit: SIGTERM to its cells (got-term)" 'grep -qx term "$RUN/state/capsid/polite2/got-term"'
check "and SIGKILL to one that ignores it" \
	'grep -q "capsid deaf2: still running [0-9]* ms after SIGTERM at celld.s exit: SIGKILL" "$log"'
check "no capsid (bwrap) of this test is left" 'sleep 0.1; ! pgrep -f "$RUN/state/capsid" >/dev/null'
grep 'capsid' "$log" | sed 's/^/# /'
echo "1..$n"
exit "$fail"
