#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# install_test.sh BUILD SRCDIR SCHEMA: install BUILD (under its configured
# prefix, as make install does) into a scratch DESTDIR and use only what
# landed there.
BIN=$1 SRC=$2 SCHEMA=$3
echo "TAP version 13"
echo "1..11"
fail=0
n=0
# check DESC EXPR: EXPR may test $rc, the status of the command before.
check() { rc=$?; n=$((n + 1)); if eval "$2"; then echo "ok $n $1"; else echo "not ok $n $1"; fail=1; fi; }
stage=$(mktemp -d /tmp/cell-install.XXXXXX)
trap 'rm -rf "$stage"' EXIT
root=$stage/root
P=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$BIN/CMakeCache.txt")
DESTDIR=$root cmake --install "$BIN" >"$stage/install.log" 2>&1
check "cmake --install into DESTDIR (prefix $P)" '[ $rc -eq 0 ] || { sed "s/^/# /" "$stage/install.log"; false; }'
libdir=$(sed -n 's/^CMAKE_INSTALL_LIBDIR:[A-Z]*=//p' "$BIN/CMakeCache.txt")
libdir=${libdir:-lib}
so=$(ls "$root$P/$libdir"/libcell.so.0.* 2>/dev/null | head -n 1)
check "libcell.so.0.*, libcell.a, libcell.pc installed" \
	'[ -n "$so" ] && [ -f "$root$P/$libdir/libcell.a" ] && [ -f "$root$P/$libdir/pkgconfig/libcell.pc" ]'
soname=$(objdump -p "$so" 2>/dev/null | awk '/SONAME/ {print $2}')
echo "# soname $soname"
check "soname is libcell.so.0" '[ "$soname" = libcell.so.0 ]'
nver=$(objdump -T "$so" | grep -c 'LIBCELL_0\.1 ')
echo "# $nver symbols in version node LIBCELL_0.1"
check "exports carry version node LIBCELL_0.1" '[ "$nver" -gt 50 ]'
check "headers in include/cell and include/linux" \
	'[ -f "$root$P/include/cell/rpc.h" ] && [ -f "$root$P/include/linux/cell.h" ]'
check "cellc installed" '[ -x "$root$P/bin/cellc" ]'

# libcell.pc from the scratch root first, its prefix moved there; what it
# requires (Requires.private: ngtcp2, gnutls) from the system's .pc files.
export PKG_CONFIG_PATH=$root$P/$libdir/pkgconfig
pkg-config() { command pkg-config --define-variable=prefix="$root$P" "$@"; }
flags=$(pkg-config --cflags --libs libcell 2>&1)
echo "# pkg-config --cflags --libs libcell: $flags"
"$root$P/bin/cellc" -o "$stage/demo.cell.h" "$SCHEMA" &&
	cc -std=c11 -Wall -Wextra -Werror -I"$stage" "$SRC/hello.c" -o "$stage/hello" $flags \
		>"$stage/cc.log" 2>&1
check "an out-of-tree program builds with pkg-config and the installed cellc" \
	'[ $rc -eq 0 ] || { sed "s/^/# /" "$stage/cc.log"; false; }'
out=$(LD_LIBRARY_PATH=$root$P/$libdir "$stage/hello" 2>&1)
echo "# $out"
check "it runs against the installed libcell.so.0" \
	'LD_LIBRARY_PATH=$root$P/$libdir ldd "$stage/hello" | grep -q "libcell.so.0 => $root" && grep -q unix <<<"$out"'

# libcell.a with its Libs.private and its Requires.private's libraries (as
# shared libraries: gnutls's own static chain is not all packaged here).
req=$(pkg-config --print-requires-private libcell | tr "\n" " ")
priv=$(sed -n 's/^Libs.private: //p' "$root$P/$libdir/pkgconfig/libcell.pc")
sflags="$priv ${req:+$(pkg-config --libs $req)}"
echo "# libcell.a + Libs.private + Requires.private ($req): $sflags"
cc -std=c11 -Wall -Wextra -Werror -I"$stage" $(pkg-config --cflags libcell) "$SRC/hello.c" \
	-o "$stage/hello_static" "$root$P/$libdir/libcell.a" $sflags >"$stage/ccs.log" 2>&1 &&
	! ldd "$stage/hello_static" | grep -q libcell && "$stage/hello_static" | grep -q unix
check "libcell.a links with the .pc's private flags and runs" \
	'[ $rc -eq 0 ] || { sed "s/^/# /" "$stage/ccs.log"; false; }'

# The CMake package: find_package(Cell) and cell_schema() from the root.
mkdir -p "$stage/cm"
cat >"$stage/cm/CMakeLists.txt" <<CM
cmake_minimum_required(VERSION 3.18)
project(hello C)
find_package(Cell 0.1 REQUIRED)
add_executable(hello $SRC/hello.c)
target_link_libraries(hello PRIVATE Cell::cell)
cell_schema(hello $SCHEMA)
CM
{ cmake -S "$stage/cm" -B "$stage/cm/b" -DCMAKE_PREFIX_PATH="$root$P" &&
	cmake --build "$stage/cm/b"; } >"$stage/cm.log" 2>&1
check "find_package(Cell) + cell_schema() build it too" \
	'[ $rc -eq 0 ] || { tail -20 "$stage/cm.log" | sed "s/^/# /"; false; }'

# Every man page renders.
pages=$(find "$root$P/share/man" -type f 2>/dev/null | sort)
echo "# man pages: $(echo "$pages" | sed "s|$root||" | tr '\n' ' ')"
bad=""
for p in $pages; do
	txt=$(MANWIDTH=80 man -l "$p" 2>&1 >/dev/null)
	[ -z "$txt" ] && [ "$(MANWIDTH=80 man -l "$p" 2>/dev/null | wc -l)" -gt 5 ] || bad="$bad $(basename "$p")"
done
# (Not `exit` inside check's eval: that would end the script before its line.)
absent=""
for m in man1/cell.1 man1/cellc.1 man8/celld.8 man3/libcell.3 man3/cell_rpc.h.3; do
	[ -f "$root$P/share/man/$m" ] || absent="$absent $m"
done
[ -n "$absent" ] && echo "# not installed:$absent"
check "cell.1, cellc.1, celld.8, libcell.3 and the header pages render with man -l" \
	'[ -z "$bad" ] && [ -z "$absent" ]'
[ -n "$bad" ] && echo "# did not render:$bad"
exit $fail
