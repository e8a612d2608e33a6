#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# capsid_demo_test.sh BUILD_DIR: the demo server cell in a capsid serves the
# demo client on the host (SHM rings through the bound socket dir), every
# call exactly once; then the client's 32-byte p50 against a sandboxed and
# an unsandboxed server, alternated three times, printed with the ratio
# (for information: the demo's calls sleep on futexes; the SHM spin
# comparison is `make bench-capsid`, Documentation/capsid.rst).
set -u
BIN=$(cd "$1" && pwd)
# shellcheck source=userspace/celld/tests/lib.sh
. "$(dirname "$0")/lib.sh"
echo "TAP version 13"
run=$BIN/userspace/celld/capsid_run
server=$BIN/userspace/examples/demo_server
client=$BIN/userspace/examples/demo_client
# shellcheck source=userspace/celld/tests/capsid_lib.sh
. "$(dirname "$0")/capsid_lib.sh"
capsid_require
mkdir -p "$RUN/sock" "$RUN/data" "$RUN/plain"
"$run" -r "$BIN" demo "$RUN/sock" "$RUN/data" -- "$server" >"$RUN/sandboxed.log" 2>&1 &
pids+=($!)
CELL_RUNTIME_DIR=$RUN/plain "$server" >"$RUN/plain.log" 2>&1 &
pids+=($!)
check "the sandboxed demo server listens in its socket dir" 'wait_for test -S "$RUN/sock/demo.sock"'
[ -S "$RUN/sock/demo.sock" ] || sed 's/^/# sandboxed: /' "$RUN/sandboxed.log"
check "the plain demo server listens" 'wait_for test -S "$RUN/plain/demo.sock"'
CELL_RUNTIME_DIR=$RUN/sock timeout 60 "$client" -t 0.3 >"$RUN/client.log" 2>&1
check "the demo client's calls to the sandboxed server all answered exactly once" \
	'grep -q "every call exactly once" "$RUN/client.log"'
check "over shared memory (path shm-memfd)" 'grep -q "path: shm-memfd" "$RUN/client.log"'
check "the sandboxed server runs as an unprivileged uid" \
	'[ -S "$RUN/sock/demo.sock" ] && [ "$(stat -c %u "$RUN/sock/demo.sock")" != 0 ]'
p50() { awk '$1 == 32 { print $3 }' "$1"; }
ratios=""
for i in 1 2 3; do
	CELL_RUNTIME_DIR=$RUN/plain timeout 60 "$client" -t 0.5 >"$RUN/p.log" 2>&1
	CELL_RUNTIME_DIR=$RUN/sock timeout 60 "$client" -t 0.5 >"$RUN/s.log" 2>&1
	p=$(p50 "$RUN/p.log")
	s=$(p50 "$RUN/s.log")
	r=$(awk -v s="$s" -v p="$p" 'BEGIN { if (p > 0) printf "%.3f", s / p }')
	echo "# round $i: 32 B p50 plain $p us, sandboxed $s us, ratio $r"
	[ -n "$p" ] && [ -n "$s" ] && ratios="$ratios $r"
done
# shellcheck disable=SC2086 # one ratio per word
med=$(printf '%s\n' $ratios | sort -n | sed -n 2p)
echo "# capsid: demo client 32 B p50 sandboxed/plain, median of 3 rounds: $med"
check "three paired rounds measured" '[ -n "$med" ]'
# A caller cell given the demo server's socket (peer=) reaches it again
# after the server restarts: the socket's directory is bound, not the
# socket's inode (DIR/demo/demo.sock, the supervisor's layout, and
# DIR/demo@1/demo.sock, an instance's).
caller_py='
import os, socket, sys, time
def connect():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        s.connect(sys.argv[1])
        return "ok"
    except OSError as e:
        return "failed: " + e.strerror
    finally:
        s.close()
print("connect 1", connect(), flush=True)
for _ in range(400):
    if os.path.exists(sys.argv[2]):
        break
    time.sleep(0.05)
print("connect 2", connect(), flush=True)
'
# peer_restart DIRNAME: the caller given peers/DIRNAME/demo.sock, across a restart of that peer.
peer_restart() {
	local dir=$RUN/peers/$1 caller=$RUN/caller-$1 peer=$RUN/peers/$1/demo.sock
	mkdir -p "$dir" "$RUN/peer-data" "$caller-sock" "$caller-data"
	"$run" -r "$BIN" demo "$dir" "$RUN/peer-data" -- "$server" >"$RUN/peer1.log" 2>&1 &
	peer_pid=$!
	pids+=($!)
	wait_for accepts "$peer"
	"$run" -p "$peer" caller "$caller-sock" "$caller-data" -- \
		/usr/bin/python3 -c "$caller_py" "$peer" "$caller-data/restarted" >"$caller.log" 2>&1 &
	caller_pid=$!
	pids+=($!)
	wait_for grep -q "connect 1" "$caller.log"
	check "a caller cell reaches the peer it was given ($1/demo.sock)" 'grep -q "connect 1 ok" "$caller.log"'
	kill "$peer_pid"
	wait "$peer_pid" 2>/dev/null
	rm -f "$peer" # the killed server's file: wait for the new one's
	"$run" -r "$BIN" demo "$dir" "$RUN/peer-data" -- "$server" >"$RUN/peer2.log" 2>&1 &
	peer_pid=$!
	pids+=($!)
	wait_for accepts "$peer" # listening, not only bound (the mid-stop CI's refusal)
	touch "$caller-data/restarted"
	wait "$caller_pid" 2>/dev/null
	check "and reaches it again after the peer restarted (a new socket at the same path)" \
		'grep -q "connect 2 ok" "$caller.log" || { sed "s/^/# caller: /" "$caller.log"; false; }'
	kill "$peer_pid"
	wait "$peer_pid" 2>/dev/null
}
peer_restart demo
peer_restart demo@1
echo "1..$n"
exit $fail
