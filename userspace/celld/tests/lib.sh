# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# Shared by celld's shell tests: TAP helpers, a celld in a temporary runtime
# directory, and cleanup of every process a test started (by pid).
#   BIN=<build dir>; start_celld [ARGS]; start_cell NAME [ENV...]; stop_all
pids=()
n=0
fail=0
check() {
	n=$((n + 1))
	if eval "$2"; then echo "ok $n $1"; else echo "not ok $n $1"; fail=1; fi
}
stop_all() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	pids=()
}
cleanup() {
	stop_all
	[ -n "${RUN:-}" ] && rm -rf "$RUN"
}
trap cleanup EXIT
RUN=$(mktemp -d /tmp/celld-test.XXXXXX)
export CELL_RUNTIME_DIR=$RUN/run
mkdir -p "$CELL_RUNTIME_DIR"
# wait_for CMD...: up to 5 s until CMD succeeds.
# wait_for CMD...: poll CMD every 50 ms until it succeeds, for at most 15 s
# of wall-clock time (not a count of tries: under load each try itself
# takes long, and 100 tries of a slow command overran ctest's timeout).
wait_for() {
	local end=$((SECONDS + 15))
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		[ "$SECONDS" -ge "$end" ] && return 1
		sleep 0.05
	done
}
# accepts PATH: a SEQPACKET connect to PATH succeeds.  A socket file exists
# from the server's bind(), before its listen(): a test that waits only for
# the file can connect in between and be refused (seen under load).
accepts() {
	python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(sys.argv[1])' "$1"
}
start_celld() {
	"$BIN/userspace/celld/celld" -r "$CELL_RUNTIME_DIR" -s "$RUN/state" -v -o discovery=off "$@" \
		>>"$RUN/celld.log" 2>&1 &
	celld_pid=$!
	pids+=("$celld_pid")
	wait_for test -S "$CELL_RUNTIME_DIR/nucleus.sock"
}
# start_cell NAME [VAR=VALUE...]: a demo_server cell named NAME.
start_cell() {
	local name=$1
	shift
	env "$@" "$BIN/userspace/examples/demo_server" "$name" >>"$RUN/$name.log" 2>&1 &
	last_pid=$!
	pids+=("$last_pid")
	wait_for test -S "$CELL_RUNTIME_DIR/$name.sock"
}
cell() { "$BIN/userspace/cell/cell" "$@"; }
# ps_has NAME: `cell ps -j` lists NAME.
ps_has() { cell ps -j | python3 -c "import json,sys; sys.exit(0 if any(c['name']=='$1' for c in json.load(sys.stdin)) else 1)"; }
