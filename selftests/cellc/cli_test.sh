#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# cli_test.sh CELLC DIR: cellc as a program, in TAP.
#  - every bad/<name>.cell fails with exit code 1, prints exactly
#    bad/<name>.err (file:line:column: error: message) and writes no header;
#  - fp/: formatting and comments leave the fingerprint alone, every change
#    of meaning moves it; the canonical text and fingerprint of fp/base.cell
#    are pinned (changing them breaks every deployed peer);
#  - the canonical text is a fixed point; usage errors exit with 2.
set -u
cellc=$1
dir=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
failed=0

ok() {
	n=$((n + 1))
	echo "ok $n $1"
}

not_ok() {
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n $1"
}

check() { # description command...
	local what=$1
	shift
	if "$@"; then ok "$what"; else not_ok "$what"; fi
}

cd "$dir/bad" || exit 1
for src in *.cell; do
	name=${src%.cell}
	rc=0
	"$cellc" -o "$tmp/$name.h" "$src" 2>"$tmp/$name.err" >/dev/null || rc=$?
	if [ "$rc" -ne 1 ]; then
		not_ok "bad/$name: exit code $rc, not 1"
	elif [ -e "$tmp/$name.h" ] || [ -e "$tmp/$name.h.tmp" ]; then
		not_ok "bad/$name: a header was written"
	elif ! diff -u "$name.err" "$tmp/$name.err" >"$tmp/$name.diff"; then
		sed 's/^/# /' "$tmp/$name.diff"
		not_ok "bad/$name: messages differ from $name.err"
	else
		ok "bad/$name"
	fi
done

cd "$dir/fp" || exit 1
fp() { "$cellc" --fingerprint "$1"; }
base=$(fp base.cell)
check "fp: fingerprint of base.cell is pinned" [ "$base" = "$(cat base.fingerprint)" ]
"$cellc" --canonical base.cell >"$tmp/base.canonical"
check "fp: canonical text of base.cell is pinned" cmp -s base.canonical "$tmp/base.canonical"
check "fp: reformatted.cell (comments, CRLF, hex ids) has the same fingerprint" \
	[ "$(fp reformatted.cell)" = "$base" ]
"$cellc" --canonical reformatted.cell >"$tmp/reformatted.canonical"
check "fp: reformatted.cell has the same canonical text" \
	cmp -s base.canonical "$tmp/reformatted.canonical"
seen="$base"
for changed in changed_*.cell; do
	f=$(fp "$changed")
	case " $seen " in
	*" $f "*) not_ok "fp: $changed has a fingerprint seen before ($f)" ;;
	*) ok "fp: $changed moves the fingerprint" ;;
	esac
	seen="$seen $f"
done
cp base.canonical "$tmp/again.cell"
"$cellc" --canonical "$tmp/again.cell" >"$tmp/again.canonical"
check "fp: the canonical text is its own canonical text" cmp -s base.canonical "$tmp/again.canonical"
"$cellc" -o "$tmp/fp.cell.h" base.cell
check "fp: the header carries the fingerprint" \
	grep -q "#define FP_FINGERPRINT ${base}ULL" "$tmp/fp.cell.h"
"$cellc" base.cell >"$tmp/stdout.h"
check "fp: without -o the header goes to stdout" cmp -s "$tmp/fp.cell.h" "$tmp/stdout.h"

rc=0
"$cellc" 2>/dev/null || rc=$?
check "usage: no file exits with 2" [ "$rc" -eq 2 ]
rc=0
"$cellc" --bogus base.cell 2>/dev/null || rc=$?
check "usage: unknown option exits with 2" [ "$rc" -eq 2 ]
rc=0
"$cellc" "$tmp/missing.cell" 2>/dev/null || rc=$?
check "usage: a missing file exits with 2" [ "$rc" -eq 2 ]

echo "1..$n"
[ "$failed" -eq 0 ]
