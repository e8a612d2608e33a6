#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# rings_test.sh CELL: `cell rings` where cell.ko is not loaded (the host;
# the VM runs selftests/module/cli_test.c with the module).
cell=$1
echo "TAP version 13"
if [ -d /sys/module/cell ]; then
	echo "1..0 # SKIP cell.ko is loaded here: selftests/module/cli_test.c covers it"
	exit 4
fi
echo "1..4"
n=0
check() { n=$((n + 1)); if eval "$2"; then echo "ok $n $1"; else echo "not ok $n $1"; fail=1; fi; }
fail=0
out=$("$cell" rings 2>&1); rc=$?
check "cell rings exits 2 without the module" '[ $rc -eq 2 ]'
check "and says why" 'echo "$out" | grep -q "is cell.ko loaded"'
"$cell" rings --bogus >/dev/null 2>&1; rc=$?
check "unknown option: usage, exit 2" '[ $rc -eq 2 ]'
help=$("$cell" rings --help); rc=$?
check "--help names --watch, exit 0" '[ $rc -eq 0 ] && echo "$help" | grep -q -- --watch'
exit $fail
