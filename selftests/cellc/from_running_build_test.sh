#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# from_running_build_test.sh BIN TOP: the schema of a running cell pulled at
# build time, in TAP.  With the demo cell running:
#  - a scratch prefix laid out as `cmake --install` does (bin/cellc,
#    lib/libcell.so, include/, lib/cmake/Cell/ from cmake/CellConfig.cmake.in
#    and cmake/Cellc.cmake), then userspace/examples/from-running built with
#    find_package(Cell) + cell_schema_from_running(): the client calls the
#    cell; the right PIN builds, another PIN fails the build with cellc's
#    message, an absent cell fails it; LANG python and go pull too;
#  - the Makefile example likewise (build, wrong PIN, absent cell).
set -u
BIN=$1
TOP=$2
tmp=$(mktemp -d)
export CELL_RUNTIME_DIR=$tmp/run CELL_NO_REGISTER=1
mkdir -p "$CELL_RUNTIME_DIR"
server_pid=
cleanup() {
	[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
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
check() { # description shell-condition [log]
	if eval "$2"; then ok "$1"; else
		not_ok "$1"
		[ -n "${3:-}" ] && [ -f "$3" ] && tail -20 "$3" | sed 's/^/# /'
	fi
}

cellc=$BIN/userspace/cellc/cellc
example=$TOP/userspace/examples/from-running
"$BIN/userspace/examples/demo_server" demo >"$tmp/demo.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do [ -S "$CELL_RUNTIME_DIR/demo.sock" ] && break; sleep 0.05; done
fp=$("$cellc" --fingerprint "$TOP/userspace/examples/demo.cell")
(cd "$TOP/userspace/examples" && "$cellc" demo.cell) >"$tmp/demo.cell.h"

# The prefix, as cmake --install lays it out (CellInstall.cmake).
P=$tmp/prefix
mkdir -p "$P/bin" "$P/lib/cmake/Cell" "$P/include/cell" "$P/include/linux"
ln -s "$cellc" "$P/bin/cellc"
cp -P "$BIN"/lib/libcell.so* "$P/lib/"
cp "$TOP"/lib/include/cell/*.h "$P/include/cell/"
cp "$TOP/uapi/linux/cell.h" "$P/include/linux/"
sed -e 's|@CELL_REL_PREFIX@|../../..|' -e 's|@CMAKE_INSTALL_BINDIR@|bin|' \
	-e 's|@CMAKE_INSTALL_LIBDIR@|lib|' -e 's|@CMAKE_INSTALL_INCLUDEDIR@|include|' \
	"$TOP/cmake/CellConfig.cmake.in" >"$P/lib/cmake/Cell/CellConfig.cmake"
cp "$TOP/cmake/Cellc.cmake" "$P/lib/cmake/Cell/"

cm() { # build-dir log cmake-args...: configure and build the CMake example
	local b=$1 log=$2
	shift 2
	{ cmake -S "$example" -B "$b" -DCMAKE_PREFIX_PATH="$P" "$@" &&
		cmake --build "$b"; } >"$log" 2>&1
}
cm "$tmp/cm" "$tmp/cm.log"
check "CMake: cell_schema_from_running() builds the client" '[ -x "$tmp/cm/stats_client" ]' "$tmp/cm.log"
check "CMake: the pulled header is the file's, byte for byte" \
	'cmp -s "$tmp/cm/gen/demo.cell.h" "$tmp/demo.cell.h"'
check "CMake: the client calls the running cell" \
	'LD_LIBRARY_PATH=$P/lib "$tmp/cm/stats_client" demo | grep -q "^calls "'
touch -d '2000-01-01' "$tmp/cm/gen/demo.cell.h"
cmake --build "$tmp/cm" >"$tmp/cm2.log" 2>&1
check "CMake: a rebuild asks again, leaves an unchanged header alone" \
	'grep -q "from-running demo" "$tmp/cm2.log" && [ "$(stat -c %Y "$tmp/cm/gen/demo.cell.h")" -lt 1000000000 ]' \
	"$tmp/cm2.log"
cm "$tmp/cm-pin" "$tmp/cm-pin.log" -DPIN="$fp"
check "CMake: PIN of the cell's fingerprint builds" '[ -x "$tmp/cm-pin/stats_client" ]' "$tmp/cm-pin.log"
rc=0
cm "$tmp/cm-bad" "$tmp/cm-bad.log" -DPIN=0x0123456789abcdef || rc=$?
check "CMake: another PIN fails the build with the clear message" \
	'[ $rc != 0 ] && grep -q "has fingerprint $fp, pinned 0x0123456789abcdef" "$tmp/cm-bad.log" &&
	 [ ! -e "$tmp/cm-bad/stats_client" ]' "$tmp/cm-bad.log"
rc=0
cm "$tmp/cm-nope" "$tmp/cm-nope.log" -DCELL=nope || rc=$?
check "CMake: an absent cell fails the build, naming it and the runtime dir" \
	'[ $rc != 0 ] && grep -q "no running cell .nope.: $CELL_RUNTIME_DIR/nope.sock does not exist" "$tmp/cm-nope.log"' \
	"$tmp/cm-nope.log"
for lang in python go; do
	mkdir -p "$tmp/$lang"
	cat >"$tmp/$lang/CMakeLists.txt" <<EOT
cmake_minimum_required(VERSION 3.18)
project(pull_$lang NONE)
find_package(Cell REQUIRED)
cell_schema_from_running(demo \${CMAKE_BINARY_DIR}/gen LANG $lang)
EOT
	{ cmake -S "$tmp/$lang" -B "$tmp/$lang/b" -DCMAKE_PREFIX_PATH="$P" &&
		cmake --build "$tmp/$lang/b"; } >"$tmp/$lang.log" 2>&1
	ext=$lang
	[ $lang = python ] && ext=py
	(cd "$TOP/userspace/examples" && "$cellc" --lang=$lang demo.cell) >"$tmp/demo_cell.$ext"
	check "CMake: LANG $lang pulls demo_cell.$ext, the file's byte for byte" \
		'cmp -s "$tmp/$lang/b/gen/demo_cell.$ext" "$tmp/demo_cell.$ext"' "$tmp/$lang.log"
done

mk() { # out-dir log make-args...: the Makefile example against the build tree
	local o=$1 log=$2
	shift 2
	make -C "$example" O="$o" CELLC="$cellc" CELL_CFLAGS="-I$P/include" \
		CELL_LIBS="-L$P/lib -lcell -Wl,-rpath,$P/lib" "$@" >"$log" 2>&1
}
mk "$tmp/mk" "$tmp/mk.log"
check "Makefile: builds the client from the running cell" '[ -x "$tmp/mk/stats_client" ]' "$tmp/mk.log"
check "Makefile: the client calls the running cell" '"$tmp/mk/stats_client" demo | grep -q "^calls "'
check "Makefile: the pulled header is the file's, byte for byte" \
	'cmp -s "$tmp/mk/demo.cell.h" "$tmp/demo.cell.h"'
rc=0
mk "$tmp/mk-bad" "$tmp/mk-bad.log" PIN=0x0123456789abcdef || rc=$?
check "Makefile: another PIN fails the build with the clear message" \
	'[ $rc != 0 ] && grep -q "pinned 0x0123456789abcdef: its schema changed" "$tmp/mk-bad.log" &&
	 [ ! -e "$tmp/mk-bad/stats_client" ]' "$tmp/mk-bad.log"
rc=0
mk "$tmp/mk-nope" "$tmp/mk-nope.log" CELL=nope || rc=$?
check "Makefile: an absent cell fails the build clearly" \
	'[ $rc != 0 ] && grep -q "no running cell .nope." "$tmp/mk-nope.log"' "$tmp/mk-nope.log"

echo "1..$n"
[ "$failed" = 0 ]
