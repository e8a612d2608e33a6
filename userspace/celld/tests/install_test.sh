#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# install_test.sh BUILD: `cmake --install` (what `make install` runs) into a
# staging DESTDIR puts celld, cell, celld.service and celld.socket in place,
# the unit starts the installed celld, and the socket unit binds the
# nucleus socket for it.
BIN=$1
echo "TAP version 13"
echo "1..7"
fail=0
n=0
check() { n=$((n + 1)); if eval "$2"; then echo "ok $n $1"; else echo "not ok $n $1"; fail=1; fi; }
stage=$(mktemp -d /tmp/celld-install.XXXXXX)
trap 'rm -rf "$stage"' EXIT
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$BIN/CMakeCache.txt")
unitdir=$(sed -n 's/^CELLD_UNIT_DIR:[A-Z]*=//p' "$BIN/CMakeCache.txt")
case $unitdir in /*) ;; *) unitdir=$prefix/$unitdir ;; esac
DESTDIR=$stage cmake --install "$BIN" >"$stage.log" 2>&1
check "cmake --install succeeds" '[ $? -eq 0 ]'
check "celld is installed in sbin" '[ -x "$stage$prefix/sbin/celld" ]'
check "cell is installed in bin" '[ -x "$stage$prefix/bin/cell" ]'
unit=$stage$unitdir/celld.service
check "celld.service is installed" '[ -f "$unit" ]'
check "the unit starts the installed celld" \
	'grep -qx "ExecStart=$prefix/sbin/celld" "$unit" && grep -q "^WantedBy=multi-user.target" "$unit"'
sock=$stage$unitdir/celld.socket
check "celld.socket is installed beside it" '[ -f "$sock" ]'
check "the socket unit listens on the nucleus socket (seqpacket) for celld.service" \
	'grep -qx "ListenSequentialPacket=%t/cell/nucleus.sock" "$sock" && grep -qx "Service=celld.service" "$sock" && grep -qx "FileDescriptorName=nucleus" "$sock"'
rm -f "$stage.log"
exit $fail
