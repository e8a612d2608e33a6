# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# For the tests of sandboxed cells, after lib.sh or netns_lib.sh (BIN, RUN):
#   capsid_require    SKIP (TAP, exit 0) with bwrap's reason unless a capsid
#                     starts here; leaves RUN traversable for uid 65534.
# After lib.sh only (the usual set-up of a capsid test of one celld):
#   capsid_begin BUILD_DIR
#                     BIN (BUILD_DIR made absolute), the TAP header,
#                     capsid_require, and log = the file start_celld writes.
#   capsid_end        the last check of such a test: celld stopped, no capsid
#                     (bwrap) of the test is left; then celld's capsid lines
#                     as TAP comments, the plan, and the exit status.
capsid_begin() {
	BIN=$(cd "$1" && pwd)
	echo "TAP version 13"
	capsid_require
	# shellcheck disable=SC2034 # read by the test that sourced this file
	log=$RUN/celld.log
}
# shellcheck disable=SC2154 # celld_pid, n and fail are lib.sh's
capsid_end() {
	kill "$celld_pid"
	wait "$celld_pid"
	check "no capsid of this test is left" 'sleep 0.1; ! pgrep -f "$RUN/state/capsid" >/dev/null'
	grep 'capsid' "$log" | sed 's/^/# /'
	echo "1..$n"
	exit "$fail"
}
capsid_require() {
	local why
	chmod 755 "$RUN"
	mkdir -p "$RUN/probe-sock" "$RUN/probe-data"
	if ! why=$("$BIN/userspace/celld/capsid_run" probe "$RUN/probe-sock" "$RUN/probe-data" -- \
		/usr/bin/true 2>&1); then
		echo "1..0 # SKIP capsid: cannot start one here: $why"
		exit 0
	fi
}
