#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# deb_test.sh TOP HELLO.c SCHEMA: dpkg-buildpackage -us -uc -b on a copy of
# the tree (tracked and new files, no build/), the .debs unpacked with
# dpkg -x into a scratch root, an out-of-tree program built against
# libcell-dev with pkg-config and the packaged cellc, and run against the
# packaged libcell.so.0.  lintian's findings are printed as comments
# (# lintian: ...); an E: finding fails the test.  Then the .debs are
# installed for real, maintainer scripts and all, by dpkg in a throwaway
# root (deb_install.sh: the host's / under an overlay whose upper layer is a
# tmpfs, in a private mount namespace), used there (man cell, pkg-config,
# dkms status) and purged.
TOP=$1 HELLO=$2 SCHEMA=$3
echo "TAP version 13"
for t in dpkg-buildpackage dh dh_dkms lintian git; do
	command -v $t >/dev/null || { echo "1..0 # SKIP no $t (tools/deps.sh release)"; exit 4; }
done
echo "1..13"
fail=0
n=0
check() { rc=$?; n=$((n + 1)); if eval "$2"; then echo "ok $n $1"; else echo "not ok $n $1"; fail=1; fi; }
ver=$(dpkg-parsechangelog -l "$TOP/debian/changelog" -S Version)
s=$(mktemp -d /tmp/cell-deb.XXXXXX)
trap 'rm -rf "$s"' EXIT
src=$s/cell-$ver
mkdir -p "$src"
git -C "$TOP" ls-files -co --exclude-standard | grep -v '^build/' |
	(cd "$TOP" && tar -cf - -T -) | tar -xf - -C "$src"
start=$(date +%s)
(cd "$src" && DEB_BUILD_OPTIONS="nocheck noautodbgsym" nice dpkg-buildpackage -us -uc -b -j2) >"$s/build.log" 2>&1
build_rc=$?
secs=$(($(date +%s) - start))
check "dpkg-buildpackage -us -uc -b ($secs s)" '[ $build_rc -eq 0 ] || { tail -40 "$s/build.log" | sed "s/^/# /"; false; }'
arch=$(dpkg --print-architecture)
want="libcell0_${ver}_$arch libcell-dev_${ver}_$arch cell-tools_${ver}_$arch celld_${ver}_$arch cell-dkms_${ver}_all"
missing=""
for p in $want; do [ -f "$s/$p.deb" ] || missing="$missing $p"; done
echo "# built: $(cd "$s" && ls ./*.deb 2>/dev/null | tr '\n' ' ')"
check "libcell0, libcell-dev, cell-tools, celld, cell-dkms built" '[ -z "$missing" ] || { echo "# missing:$missing"; false; }'
root=$s/root
for d in "$s"/*.deb; do dpkg -x "$d" "$root"; done
ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
check "contents: libcell.so.0, headers, .pc, cellc, celld + unit, dkms source, man pages" \
	'[ -L "$root/usr/lib/$ma/libcell.so.0" ] && [ -f "$root/usr/include/cell/rpc.h" ] &&
	 [ -f "$root/usr/lib/$ma/pkgconfig/libcell.pc" ] && [ -x "$root/usr/bin/cellc" ] &&
	 [ -x "$root/usr/sbin/celld" ] && [ -f "$root/lib/systemd/system/celld.service" ] &&
	 [ -f "$root/usr/src/cell-$ver/dkms.conf" ] && [ -f "$root/usr/src/cell-$ver/module/main.c" ] &&
	 [ -f "$root/usr/share/man/man1/cell.1.gz" ] && [ -f "$root/usr/share/man/man3/libcell.3.gz" ]'
# libcell.pc from the scratch root first, its prefix moved there; what it
# requires (Requires.private: ngtcp2, gnutls) from the system's .pc files,
# as libcell-dev's Depends would bring them.
export PKG_CONFIG_PATH=$root/usr/lib/$ma/pkgconfig
pkg-config() { command pkg-config --define-variable=prefix="$root/usr" "$@"; }
flags=$(pkg-config --cflags --libs libcell 2>&1)
echo "# pkg-config --cflags --libs libcell: $flags"
LD_LIBRARY_PATH=$root/usr/lib/$ma "$root/usr/bin/cellc" -o "$s/demo.cell.h" "$SCHEMA" &&
	cc -std=c11 -Wall -Wextra -Werror -I"$s" "$HELLO" -o "$s/hello" $flags >"$s/cc.log" 2>&1
check "a program builds against libcell-dev with pkg-config and the packaged cellc" \
	'[ $rc -eq 0 ] || { sed "s/^/# /" "$s/cc.log"; false; }'
out=$(LD_LIBRARY_PATH=$root/usr/lib/$ma "$s/hello" 2>&1)
echo "# $out"
check "it runs against the packaged libcell.so.0" \
	'LD_LIBRARY_PATH=$root/usr/lib/$ma ldd "$s/hello" | grep -q "libcell.so.0 => $root" && grep -q unix <<<"$out"'
MANWIDTH=80 man -l "$root/usr/share/man/man1/cell.1.gz" >"$s/man.txt" 2>&1
check "man -l renders the packaged cell(1)" '[ $rc -eq 0 ] && [ "$(wc -l <"$s/man.txt")" -gt 5 ]'
lintian --tag-display-limit 0 --display-info "$s"/*.changes >"$s/lintian.log" 2>&1
sed 's/^/# lintian: /' "$s/lintian.log"
check "lintian: no E: findings" '! grep -q "^E: " "$s/lintian.log"'
steps="install:dpkg -i of the five .debs runs their maintainer scripts
man:man cell works after the install
build:cellc, pkg-config and cc from the installed packages build a program that runs
dkms:the cell-dkms postinst built and installed cell.ko with dkms
purge:dpkg --purge runs the removal scripts and succeeds
gone:after the purge no file of the packages and no dkms entry is left"
why=$("$(dirname "$0")/deb_install.sh" --can-run 2>&1)
if [ -n "$why" ]; then
	while IFS=: read -r _ text; do
		n=$((n + 1)); echo "ok $n $text # SKIP $why"
	done <<<"$steps"
	exit $fail
fi
x=$s/xfer
mkdir -p "$x"
cp "$s"/*.deb "$x/" && cp "$HELLO" "$x/hello.c" && cp "$SCHEMA" "$x/demo.cell"
start=$(date +%s)
"$(dirname "$0")/deb_install.sh" "$s" >"$s/install.log" 2>&1
install_rc=$?
echo "# throwaway-root install, use and purge: $(($(date +%s) - start)) s, rc $install_rc"
while IFS=: read -r step text; do
	check "$text" '[ "$(cat "$x/$step.rc" 2>/dev/null)" = 0 ] ||
		{ sed "s/^/# /" "$s/install.log" "$x/$step.log" 2>/dev/null | tail -30; false; }'
done <<<"$steps"
sed -n 's/^/# dkms: /p' "$x/dkms.log" 2>/dev/null
exit $fail
