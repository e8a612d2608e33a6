#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# libc_only.sh FILE...: the rpc profile links libc only.  Prints each
# file's ldd as TAP comments; a file that needs any library other than
# libc, the dynamic loader, the vDSO (and libcell.so.0 itself) fails.
set -u
echo "TAP version 13"
echo "1..$#"
n=0
fail=0
for f in "$@"; do
	n=$((n + 1))
	out=$(ldd "$f" 2>&1)
	sed 's/^/# /' <<<"$out"
	extra=$(grep -vE '^\s*(linux-vdso\.so|libc\.so\.6|libcell\.so\.0 =>|/lib64/ld-linux|/lib/ld-linux|statically linked)' <<<"$out" || true)
	if [ -z "$extra" ]; then
		echo "ok $n $(basename "$f") links libc only"
	else
		echo "not ok $n $(basename "$f") links more than libc: $(echo $extra)"
		fail=1
	fi
done
exit $fail
