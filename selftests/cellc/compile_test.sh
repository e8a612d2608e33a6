#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# compile_test.sh CELLC TOP CC CXX: every schema in the tree (*.cell under
# selftests/ and userspace/, but not the deliberately bad ones nor the
# fuzz seeds) compiles with cellc, and its header compiles on its own --
# first and only include -- as C11 and as C++17 with -Wall -Wextra
# -Werror -pedantic and a few more warnings, with gcc and clang when both
# are there; all headers together in one file too (their shared part is
# guarded).  TAP.
set -u
cellc=$1
top=$2
cc=$3
cxx=$4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
failed=0
inc=(-I"$tmp" -I"$top/lib/include" -I"$top/uapi")
warn=(-Wall -Wextra -Werror -pedantic -Wshadow -Wcast-align -Wpointer-arith -Wundef
      -Wwrite-strings -Wmissing-declarations -Wconversion -Wsign-conversion)
cwarn=(-Wstrict-prototypes -Wmissing-prototypes -Wold-style-definition)

result() { # rc description
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n $2"
	else
		failed=$((failed + 1))
		echo "not ok $n $2"
	fi
}

compilers=("$cc" "$cxx")
command -v clang >/dev/null && compilers+=(clang)
command -v clang++ >/dev/null && compilers+=(clang++)

compile() { # compiler source
	case $1 in
	*++*) "$1" -std=c++17 "${warn[@]}" "${inc[@]}" -x c++ -c "$2" -o "$tmp/out.o" ;;
	*) "$1" -std=c11 "${warn[@]}" "${cwarn[@]}" "${inc[@]}" -x c -c "$2" -o "$tmp/out.o" ;;
	esac
}

mapfile -t schemas < <(find "$top/selftests" "$top/userspace" -name '*.cell' \
	-not -path '*/bad/*' -not -path '*/fuzz/corpus/*' | sort)
all="$tmp/all_headers.c"
: >"$all"
for src in "${schemas[@]}"; do
	rel=${src#"$top"/}
	name=$(sed -n 's/^[ \t]*schema[ \t]\+\([a-z][a-z0-9_]*\).*/\1/p' "$src" | head -1)
	if ! "$cellc" -o "$tmp/$name.cell.h" "$src" 2>"$tmp/err"; then
		sed 's/^/# /' "$tmp/err"
		result 1 "$rel: cellc"
		continue
	fi
	printf '#include "%s.cell.h"\n' "$name" >"$tmp/one.c"
	printf '#include "%s.cell.h"\n' "$name" >>"$all"
	for c in "${compilers[@]}"; do
		compile "$c" "$tmp/one.c" 2>"$tmp/err"
		rc=$?
		head -20 "$tmp/err" | sed 's/^/# /'
		result $rc "$rel: header alone, $(basename "$c")"
	done
done
for c in "${compilers[@]}"; do
	compile "$c" "$all" 2>"$tmp/err"
	rc=$?
	head -20 "$tmp/err" | sed 's/^/# /'
	result $rc "all headers in one file, $(basename "$c")"
done
echo "1..$n"
[ "$failed" -eq 0 ]
