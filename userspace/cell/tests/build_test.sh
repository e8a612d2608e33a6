#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# build_test.sh BUILD TOP: `cell dna` and `cell build` (Documentation/ribosome.rst)
# on a fixture git repository made from userspace/examples/hello.  Two
# `git clone`s in two directories give the same DNA and, built into two
# caches, byte-identical binaries, with make and with CMake; a changed
# compiler flag (conf or $CFLAGS), source byte, schema field or deps= line
# changes the DNA, a schema comment does not; deps= versions come from dpkg
# or pkg-config, an unknown one is refused; a libcell header or cellc's
# output changes it, cellc's binary does not; source_date_epoch= is used; a second build is a cache hit that runs nothing;
# a failing build and bad recipes are refused clearly.  In the sandbox the
# build sees no network, writes nothing outside its directory, and sees
# nothing of /run, of the cells' runtime directory (a socket there) or of
# the state directory (a node.key there), nor an fd its caller left open.  The state dir is
# $RUN/state* (CELL_STATE_DIR or -s), never the user's.
# shellcheck disable=SC2034 # out and rc are read by the check strings (eval)
set -u
BIN=$(cd "$1" && pwd)
TOP=$(cd "$2" && pwd)
# shellcheck source=userspace/celld/tests/lib.sh
. "$TOP/userspace/celld/tests/lib.sh"
# shellcheck source=userspace/cell/tests/ribosome_lib.sh
. "$TOP/userspace/cell/tests/ribosome_lib.sh"
ribosome_begin 31

# The fixture: the example cell as a repository of its own, one commit.
repo=$RUN/fixture
ribosome_fixture "$repo"
git clone -q "file://$repo" "$RUN/one/hello"
git clone -q "$repo" "$RUN/elsewhere/deeper/hello"
a=$RUN/one/hello
b=$RUN/elsewhere/deeper/hello

dna() { cell dna "$1" | head -1 | cut -d' ' -f1; }
dna_a=$(dna "$a")
check "cell dna: a 64-digit SHA-256 ($dna_a)" '[[ "$dna_a" =~ ^[0-9a-f]{64}$ ]]'
check "two clones in two directories: the same DNA" '[ "$(dna "$b")" = "$dna_a" ]'
out=$(cell dna "$a")
check "cell dna lists each input with its hash: sources, schema, compiler, flags, epoch" \
	'for k in "file   [0-9a-f]{64}  hello_server.c" "schema [0-9a-f]{64}  hello.cell: canonical text, fingerprint 0x" "cc     [0-9a-f]{64}  --version: " "cc     [0-9a-f]{64}  -dumpfullversion: " "flags  [0-9a-f]{64}  cflags: -O2 -g" "SOURCE_DATE_EPOCH: 1767323045 \(from git\)"; do echo "$out" | grep -qE "$k" || exit 1; done'
check "cell dna -j: the same DNA as JSON" \
	'[ "$(cell dna -j "$a" | python3 -c "import json,sys; print(json.load(sys.stdin)[\"dna\"])")" = "$dna_a" ]'

# Two builds, two caches: the same binary, byte for byte.
out=$(cell build -j "$a"); rc=$?
bin_a=$(echo "$out" | python3 -c "import json,sys; print(json.load(sys.stdin)['binary'])" 2>/dev/null)
check "cell build (make): built into STATE/ribosome/<DNA>/hello" \
	'[ $rc -eq 0 ] && [ "$bin_a" = "$RUN/state/ribosome/$dna_a/hello" ] && [ -x "$bin_a" ]'
out=$(cell build -s "$RUN/state2" "$b"); rc=$?
check "the other clone, another cache (-s): built, not cached (got: $out)" \
	'[ $rc -eq 0 ] && [[ "$out" == "hello: built $dna_a in "* ]]'
check "the two binaries are byte-identical (cmp)" \
	'cmp "$bin_a" "$RUN/state2/ribosome/$dna_a/hello"'
check "no build path in the binary" '! grep -qa "$RUN" "$bin_a"'
check "names/hello points at the build" '[ "$(readlink "$RUN/state/ribosome/names/hello")" = "../$dna_a" ]'

# A cache hit runs nothing: the binary stays the same file, no build.log is rewritten.
before=$(stat -c '%i %Y' "$bin_a" "$RUN/state/ribosome/$dna_a/build.log")
out=$(cell build "$a"); rc=$?
check "a second build of the same DNA is a cache hit (got: $out)" \
	'[ $rc -eq 0 ] && [[ "$out" == "hello: cached $dna_a in "* ]] && [ "$(stat -c "%i %Y" "$bin_a" "$RUN/state/ribosome/$dna_a/build.log")" = "$before" ]'

# What changes the DNA, and what does not.
sed -i 's/^cflags=-O2 -g$/cflags=-O1 -g/' "$b/cell.conf"
check "one compiler flag changed in cell.conf: another DNA" '[ "$(dna "$b")" != "$dna_a" ]'
git -C "$b" checkout -q cell.conf
check "CFLAGS in the environment: another DNA" '[ "$(CFLAGS=-DX=1 dna "$b")" != "$dna_a" ]'
printf ' ' >>"$b/hello_server.c"
check "one source byte more: another DNA" '[ "$(dna "$b")" != "$dna_a" ]'
git -C "$b" checkout -q hello_server.c
sed -i '1i // a comment' "$b/hello.cell"
check "a comment in the schema: the same DNA (canonical text)" '[ "$(dna "$b")" = "$dna_a" ]'
sed -i 's/string text;/string text; u32 n;/' "$b/hello.cell"
check "a field more in the schema: another DNA" '[ "$(dna "$b")" != "$dna_a" ]'
git -C "$b" checkout -q hello.cell
echo "deps=libc6-dev,gnutls" >>"$b/cell.conf"
out=$(cell dna "$b")
libc=$(dpkg-query -W -f='${Version}' libc6-dev 2>/dev/null)
check "deps=: dpkg's version of libc6-dev, pkg-config's of gnutls, in the DNA" \
	'[ -n "$libc" ] && echo "$out" | grep -qE "^  dep    [0-9a-f]{64}  libc6-dev: dpkg " && echo "$out" | grep -qF "libc6-dev: dpkg $libc" && echo "$out" | grep -qF "gnutls: pkg-config $(pkg-config --modversion gnutls)" && [ "$(dna "$b")" != "$dna_a" ]'
git -C "$b" checkout -q cell.conf
echo "deps=no-such-package-anywhere" >>"$b/cell.conf"
out=$(cell dna "$b" 2>&1); rc=$?
check "a dependency neither dpkg nor pkg-config knows is refused" \
	'[ $rc -eq 1 ] && [[ "$out" == *"deps: no-such-package-anywhere: neither dpkg nor pkg-config knows it"* ]]'
git -C "$b" checkout -q cell.conf
# libcell's headers and cellc's output count; cellc's binary does not.
mkdir -p "$RUN/inc/cell" "$RUN/inc/linux"
cp "$TOP"/lib/include/cell/*.h "$RUN/inc/cell/"
cp "$TOP/uapi/linux/cell.h" "$RUN/inc/linux/"
inc_dna=$(CELL_CFLAGS="-I$RUN/inc" dna "$b")
echo "/* one more line */" >>"$RUN/inc/cell/rpc.h"
check "a changed libcell header: another DNA" \
	'[ -n "$inc_dna" ] && [ "$(CELL_CFLAGS="-I$RUN/inc" dna "$b")" != "$inc_dna" ] && cell dna "$b" | grep -qE "^  header [0-9a-f]{64}  cell/rpc.h: "'
printf '#!/bin/sh\nexec "%s" "$@"\n' "$CELLC" >"$RUN/cellc-same"
printf '#!/bin/sh\n"%s" "$@" && echo "/* more */"\n' "$CELLC" >"$RUN/cellc-more"
chmod +x "$RUN/cellc-same" "$RUN/cellc-more"
check "another cellc binary writing the same header: the same DNA" \
	'[ "$(CELLC=$RUN/cellc-same dna "$b")" = "$dna_a" ]'
check "a cellc writing another header: another DNA" \
	'[ "$(CELLC=$RUN/cellc-more dna "$b")" != "$dna_a" ]'
echo "source_date_epoch=12345" >>"$b/cell.conf"
check "source_date_epoch= in cell.conf wins over git's" \
	'cell dna "$b" | grep -q "SOURCE_DATE_EPOCH: 12345 (from cell.conf)"'
git -C "$b" checkout -q cell.conf

# CMake, in both clones: the same binary again.
for d in "$a" "$b"; do
	sed -i 's/^build=make$/build=cmake/; s|^output=hello_server$|output=build/hello_server|' "$d/cell.conf"
done
out=$(cell build "$a"); rc=$?
out2=$(cell build -s "$RUN/state2" "$b")
dna_c=$(dna "$a")
check "build=cmake: another DNA, built in both clones, byte-identical (got: $out)" \
	'[ $rc -eq 0 ] && [ "$dna_c" != "$dna_a" ] && [[ "$out2" == "hello: built $dna_c "* ]] && cmp "$RUN/state/ribosome/$dna_c/hello" "$RUN/state2/ribosome/$dna_c/hello"'

# The sandbox: no network, nothing written outside the build directory.
esc=/var/tmp/cell-build-escape.$$
cat >"$b/cell.conf" <<EOF
name=boxed
schema=hello.cell
sources=*.c
build=python3 -c "import socket; print(sorted(n for i, n in socket.if_nameindex()))" >ifaces; touch $esc $b/escaped; true
output=ifaces
EOF
out=$(cell build -j "$b" 2>&1); rc=$?
if [[ "$out" == *'"sandbox":true'* ]]; then
	ifaces=$(cat "$RUN/state/ribosome/$(dna "$b")/boxed" 2>/dev/null)
	check "the build sees no network interface but lo (got: $ifaces)" '[ $rc -eq 0 ] && [ "$ifaces" = "['"'"'lo'"'"']" ]'
	check "the build cannot write outside its directory ($esc, the tree)" '[ ! -e "$esc" ] && [ ! -e "$b/escaped" ]'
else
	n=$((n + 2))
	echo "ok $((n - 1)) the build sees no network interface but lo # SKIP no sandbox: $out"
	echo "ok $n the build cannot write outside its directory # SKIP no sandbox"
fi
rm -f "$esc" "$b/escaped"
git -C "$b" checkout -q cell.conf

# What a build must not reach: sockets (connect() works on a read-only bind) and secrets.
mkdir -p "$RUN/rt"
python3 -c 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$RUN/rt/nucleus.sock"
echo "secret-node-key" >"$RUN/state/node.key"
chmod 600 "$RUN/state/node.key"
cat >"$b/cell.conf" <<EOF
name=peek
schema=hello.cell
sources=*.c
build={ echo "run: \$(ls -A /run | wc -l)"; ls -A $RUN/rt; cat $RUN/state/node.key; if (true <&9); then echo fd9-open; fi; } >seen 2>/dev/null; true
output=seen
EOF
out=$(CELL_RUNTIME_DIR=$RUN/rt cell build -j "$b" 2>&1 9<"$RUN/state"); rc=$?
if [[ "$out" == *'"sandbox":true'* ]]; then
	seen=$(cat "$RUN/state/ribosome/$(dna "$b")/peek" 2>/dev/null)
	check "the build sees an empty /run and no socket of the runtime dir (got: $seen)" \
		'[ $rc -eq 0 ] && [[ "$seen" == "run: 0"* ]] && [[ "$seen" != *nucleus.sock* ]]'
	check "the build cannot read the state dir's node.key" \
		'[ $rc -eq 0 ] && [ -n "$seen" ] && [[ "$seen" != *secret-node-key* ]]'
	check "an fd the caller left open (9, a directory) is not open in the build" \
		'[ $rc -eq 0 ] && [ -n "$seen" ] && [[ "$seen" != *fd9-open* ]]'
else
	n=$((n + 3))
	echo "ok $((n - 2)) the build sees an empty /run # SKIP no sandbox: $out"
	echo "ok $((n - 1)) the build cannot read the state dir's node.key # SKIP no sandbox"
	echo "ok $n an fd the caller left open is not open in the build # SKIP no sandbox"
fi
rm -f "$RUN/state/node.key"
git -C "$b" checkout -q cell.conf

# Refusals.
sed -i 's/^build=cmake$/build=false/' "$a/cell.conf"
out=$(cell build "$a" 2>&1); rc=$?
check "a failing build: exit 1, its status and log, nothing cached" \
	'[ $rc -eq 1 ] && [[ "$out" == *"the build failed (exit status 1)"* ]] && [ -z "$(ls "$RUN/state/ribosome/tmp")" ]'
printf 'name=x\nschema=../etc/passwd\nsources=*.c\nbuild=make\noutput=x\n' >"$a/cell.conf"
out=$(cell dna "$a" 2>&1); rc=$?
check "a schema path out of the tree is refused (got: $out)" \
	'[ $rc -eq 1 ] && [[ "$out" == *"line 2: schema=../etc/passwd: a path inside the tree is needed"* ]]'
mkdir "$RUN/outside"
cp "$a/hello.cell" "$RUN/outside/"
ln -s ../../outside "$a/lnk"
printf 'name=x\nschema=lnk/hello.cell\nsources=*.c\nbuild=make\noutput=x\n' >"$a/cell.conf"
out=$(cell dna "$a" 2>&1); rc=$?
check "a schema reached through a symlink out of the tree is refused (got: $out)" \
	'[ $rc -eq 1 ] && [[ "$out" == *"lnk/hello.cell: leads out of the tree (a symlink)"* ]]'
printf 'name=x\ncolour=blue\n' >"$a/cell.conf"
out=$(cell dna "$a" 2>&1); rc=$?
check "an unknown key is refused (got: $out)" '[ $rc -eq 1 ] && [[ "$out" == *"line 2: unknown key colour"* ]]'
exit $fail
