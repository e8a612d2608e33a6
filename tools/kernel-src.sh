#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# Extract the few files Cell takes from Debian's linux-source tarball into a
# cache directory (default build/kernel-src), once:
#   kselftest_harness.h, kselftest.h   the test harness (selftests, lib tests),
#       with tools/kselftest-harness-filter.patch: -l, -f/-v/-t, -r filters
#   checkpatch.pl + its data files     make style
#
#   tools/kernel-src.sh [DIR]   prints DIR when the files are there
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$top/build/kernel-src}
stamp=$dir/.extracted
patchfile=$top/tools/kselftest-harness-filter.patch
# The stamp names the tarball and the patch, so a changed patch re-extracts.
want_patch="patch $(cksum <"$patchfile" | cut -d' ' -f1)"

if [ ! -f "$stamp" ] || ! grep -qx "$want_patch" "$stamp"; then
	"$top/tools/deps.sh" build
	tarball=$(ls /usr/src/linux-source-*.tar.xz 2>/dev/null | sort -V | tail -n 1)
	if [ -z "$tarball" ]; then
		echo "kernel-src.sh: no /usr/src/linux-source-*.tar.xz" >&2
		exit 1
	fi
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	tar -xJf "$tarball" -C "$tmp" --wildcards \
		'*/tools/testing/selftests/kselftest_harness.h' \
		'*/tools/testing/selftests/kselftest.h' \
		'*/scripts/checkpatch.pl' '*/scripts/spelling.txt' \
		'*/scripts/const_structs.checkpatch'
	src=$(echo "$tmp"/*)
	mkdir -p "$dir/include" "$dir/scripts"
	cp "$src"/tools/testing/selftests/kselftest_harness.h \
	   "$src"/tools/testing/selftests/kselftest.h "$dir/include/"
	cp "$src"/scripts/checkpatch.pl "$src"/scripts/spelling.txt \
	   "$src"/scripts/const_structs.checkpatch "$dir/scripts/"
	patch -s -d "$dir/include" -p1 <"$patchfile"
	{ basename "$tarball"; echo "$want_patch"; } >"$stamp"
fi
echo "$dir"
