#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# tools/demo.sh BUILD_DIR [SECONDS]: the main job behind `make demo`.
#
# Starts the example server cell and a client in separate processes, shows
# which path the connection took and the round-trip figures, then does the
# same on the unix path (CELL_RING_BACKEND=unix) and stops the server with
# SIGTERM.  When run as root it runs the whole job again as the
# unprivileged user nobody (runtime directory /tmp/cell-65534), since Cell
# must not need privileges.  Exits non-zero if any step fails.
set -eu

build=$1
seconds=${2:-1}
examples=$build/userspace/examples
name=demo-$$

die() { echo "demo: $*" >&2; exit 1; }

[ -x "$examples/demo_server" ] && [ -x "$examples/demo_client" ] ||
	die "$examples: demo programs not built"

# run_demo PREFIX...: the job, with each program started through PREFIX.
run_demo() {
	"$@" "$server" "$name" &
	pid=$!
	trap 'kill $pid 2>/dev/null || true' EXIT INT TERM
	# The server prints its socket path once it listens; give it 5 s.
	i=0
	until "$@" "$client" -n "$name" -t 0 >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt 50 ] || die "server did not come up"
		kill -0 $pid 2>/dev/null || die "server exited early"
		sleep 0.1
	done
	echo "--- best path available (CELL_RING_BACKEND unset)"
	"$@" "$client" -n "$name" -t "$seconds" || die "client failed"
	echo "--- unix path (CELL_RING_BACKEND=unix)"
	CELL_RING_BACKEND=unix "$@" "$client" -n "$name" -t "$seconds" ||
		die "client failed on the unix path"
	kill -TERM $pid
	wait $pid || die "server did not stop cleanly"
	trap - EXIT INT TERM
}

server=$examples/demo_server
client=$examples/demo_client
echo "=== demo as $(id -un) (uid $(id -u))"
run_demo env

if [ "$(id -u)" = 0 ]; then
	if ! command -v setpriv >/dev/null; then
		echo "=== unprivileged run skipped: setpriv not found"
		exit 0
	fi
	# A copy nobody can read, wherever the build tree lives.
	tmp=$(mktemp -d /tmp/cell-demo.XXXXXX)
	trap 'rm -rf "$tmp"' EXIT
	cp "$examples/demo_server" "$examples/demo_client" "$tmp/"
	cp -P "$build"/lib/libcell.so* "$tmp/"
	chmod -R a+rX "$tmp"
	server=$tmp/demo_server
	client=$tmp/demo_client
	echo "=== demo as nobody (uid 65534), runtime dir from the defaults"
	run_demo setpriv --reuid=65534 --regid=65534 --clear-groups \
		env -u XDG_RUNTIME_DIR -u CELL_RUNTIME_DIR LD_LIBRARY_PATH="$tmp"
	rm -rf "$tmp"
	trap - EXIT
fi
echo "=== demo: done"
