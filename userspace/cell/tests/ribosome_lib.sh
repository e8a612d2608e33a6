# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# For the ribosome's tests (build_test.sh, add_test.sh), after
# userspace/celld/tests/lib.sh, with BIN (the build dir) and TOP (the
# source tree) absolute:
#   ribosome_begin PLAN
#                     the TAP header and plan (1..PLAN); the environment a
#                     cell is built in (CELLC, CELL_CFLAGS, CELL_LIBS of this
#                     tree; CC, CFLAGS, ... and SOURCE_DATE_EPOCH unset), the
#                     state dir $RUN/state (CELL_STATE_DIR), and git with
#                     HOME=$RUN/home, no system config and a test identity.
#   ribosome_fixture DIR
#                     DIR: the example cell (userspace/examples/hello) as a
#                     git repository of its own, one commit at a fixed date.
ribosome_begin() {
	echo "TAP version 13"
	echo "1..$1"
	export CELLC=$BIN/userspace/cellc/cellc CELL_CFLAGS="-I$TOP/lib/include -I$TOP/uapi"
	export CELL_LIBS="-L$BIN/lib -lcell -Wl,-rpath,$BIN/lib"
	export CELL_STATE_DIR=$RUN/state
	unset CC CFLAGS CPPFLAGS LDFLAGS SOURCE_DATE_EPOCH
	export GIT_CONFIG_NOSYSTEM=1 HOME=$RUN/home
	mkdir -p "$HOME"
	git config --global user.name ribosome-test
	git config --global user.email test@cell.invalid
	git config --global init.defaultBranch main
}
ribosome_fixture() {
	mkdir -p "$1"
	cp "$TOP"/userspace/examples/hello/* "$1/"
	git -C "$1" init -q
	git -C "$1" add .
	GIT_COMMITTER_DATE="2026-01-02T03:04:05Z" git -C "$1" commit -q -m hello \
		--date="2026-01-02T03:04:05Z"
}
