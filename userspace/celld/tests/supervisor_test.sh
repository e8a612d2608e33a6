#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# supervisor_test.sh BUILD_DIR: celld's capsid module (-o capsid.dir=DIR).
# A crash loop backs off (delays doubling) and ends "failed"; restart=never
# leaves an exited cell alone; a demo server cell killed with SIGKILL is
# started again and serves the demo client both times.
set -u
# shellcheck source=userspace/celld/tests/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=userspace/celld/tests/capsid_lib.sh
. "$(dirname "$0")/capsid_lib.sh"
capsid_begin "$1"
conf=$RUN/cells.d
mkdir -p "$conf"
printf '#!/bin/sh\nexit 3\n' >"$RUN/crash.sh"
chmod 755 "$RUN/crash.sh"
cat >"$conf/crash.conf" <<CONF
name=crash
exec=$RUN/crash.sh
ro=$RUN/crash.sh
restart=on-failure
max_restarts=3
window_s=60
backoff_ms=100
CONF
cat >"$conf/once.conf" <<CONF
name=once
exec=/usr/bin/true
restart=never
CONF
cat >"$conf/demo.conf" <<CONF
name=demo
exec=$BIN/userspace/examples/demo_server
ro=$BIN
restart=always
backoff_ms=50
CONF
printf 'name=bad cell\nexec=relative/path\n' >"$conf/bad.conf"
start_celld -o "capsid.dir=$conf"
# shellcheck disable=SC2034 # read by the check strings (eval)
sock=$CELL_RUNTIME_DIR/capsid/demo/demo.sock
check "the demo cell listens in its socket dir" 'wait_for test -S "$sock"'
client() { CELL_RUNTIME_DIR=$CELL_RUNTIME_DIR/capsid/demo timeout 30 \
	"$BIN/userspace/examples/demo_client" -t 0.1 >"$RUN/client.log" 2>&1 &&
	grep -q "every call exactly once" "$RUN/client.log"; }
check "the demo client's calls to it all answered once" client
check "a crash loop ends failed after max_restarts" \
	'wait_for grep -q "capsid crash: exited (exit status 3); failed: 3 restarts within 60 s" "$log"'
delays=$(sed -n 's/.*capsid crash: exited (exit status 3).*restart [0-9] of 3 in \([0-9]*\) ms/\1/p' "$log" | tr '\n' ' ')
echo "# crash loop delays (ms): $delays"
check "its delays double: 100 200 400" '[ "$delays" = "100 200 400 " ]'
check "restart=never: an exit is left alone" \
	'grep -q "capsid once: exited (exit status 0) after [0-9]* ms; restart=never: not restarted" "$log"'
check "a bad conf is refused with reasons" \
	'grep -q "bad.conf: name= missing or not a cell name" "$log" && grep -q "bad.conf: exec= needs an absolute program path" "$log"'
# This test's sandboxed demo server: the one whose CELL_RUNTIME_DIR is its dir.
ours() {
	for p in $(pgrep -x demo_server); do
		tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null |
			grep -qx "CELL_RUNTIME_DIR=$CELL_RUNTIME_DIR/capsid/demo" && echo "$p"
	done
}
pid=$(ours | head -1)
check "the demo server runs (pid ${pid:-none})" '[ -n "$pid" ]'
# What the supervisor started is confined, not merely run: seccomp filter
# mode, no_new_privs, no capabilities, and (celld as root) uid 65534.
status() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$pid/status" 2>/dev/null; }
check "it runs under a seccomp filter with no_new_privs and no capabilities" \
	'[ "$(status Seccomp)" = 2 ] && [ "$(status NoNewPrivs)" = 1 ] &&
	 [ "$(status CapEff)" = 0000000000000000 ] && [ "$(status CapBnd)" = 0000000000000000 ]'
check "as an unprivileged uid when celld is root" \
	'[ "$(id -u)" != 0 ] || [ "$(status Uid)" = 65534 ]'
check "in namespaces of its own (pid, mount, net)" \
	'(for ns in pid mnt net; do [ "$(readlink "/proc/$pid/ns/$ns")" != "$(readlink "/proc/self/ns/$ns")" ] || exit 1; done)'
[ -n "$pid" ] && kill -9 "$pid"
check "SIGKILL of the demo cell: it is restarted" \
	'wait_for grep -q "capsid demo: exited (exit status 137\|signal 9).*restart 1 of 5 in 50 ms" "$log"'
check "and it listens again" 'wait_for test -S "$sock" && wait_for client'
check "a new process (not pid $pid)" '[ -n "$(ours)" ] && [ "$(ours | head -1)" != "$pid" ]'
# A restart that fails before bwrap runs (its data dir made a symlink,
# which the chown refuses) goes by the restart policy, and the cell is back
# once the dir is.
data=$RUN/state/capsid/demo
mv "$data" "$data.away" && ln -s "$data.away" "$data"
pid=$(ours | head -1)
[ -n "$pid" ] && kill -9 "$pid"
check "a restart failing before bwrap runs is retried by the policy" \
	'wait_for grep -q "capsid demo: exited (not started: .*) after 0 ms; restart [0-9] of 5" "$log"'
rm -f "$data" && mv "$data.away" "$data"
running() { [ -n "$(ours)" ]; }
check "and the cell is started again once its dir is back" 'wait_for running && wait_for client'
stop_all
check "celld's exit took the cells with it" 'sleep 0.2; [ -z "$(ours)" ]'
grep 'capsid' "$log" | sed 's/^/# /'
echo "1..$n"
exit "$fail"
