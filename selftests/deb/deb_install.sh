#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# deb_install.sh DIR: install DIR/xfer/*.deb with dpkg -i in a throwaway
# root, use the packages there, purge them.  The root is the host's / as
# the lower layer of an overlay whose upper layer is a tmpfs, mounted in a
# private mount namespace: dpkg, its maintainer scripts and dkms change the
# overlay only, and the whole of it is gone when the namespace ends.
# DIR/xfer (hello.c, demo.cell, the .debs) is /x inside; each step leaves
# its exit status in /x/STEP.rc and its output in /x/STEP.log.
#
# deb_install.sh --can-run: print why it cannot run here, or nothing.
set -u
if [ "${1-}" = --can-run ]; then
	if [ "$(id -u)" -ne 0 ]; then echo "needs root (mount namespace, chroot)"
	elif ! grep -qw overlay /proc/filesystems; then echo "no overlayfs in this kernel"
	elif ! unshare -m true 2>/dev/null; then echo "unshare -m is refused here"
	fi
	exit 0
fi
dir=$1
mkdir -p "$dir/ovl" "$dir/newroot"
cat >"$dir/xfer/inside.sh" <<'INSIDE'
#!/bin/bash
# Runs as root, chrooted into the throwaway root.
step() { local name=$1; shift; "$@" >"/x/$name.log" 2>&1; echo $? >"/x/$name.rc"; }
export DEBIAN_FRONTEND=noninteractive PATH=/usr/sbin:/usr/bin:/sbin:/bin
cd /x || exit 1
ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
step install dpkg -i ./*.deb
step man sh -c 'MANWIDTH=80 man cell >/x/man.txt && grep -q "^NAME" /x/man.txt &&
	[ "$(wc -l </x/man.txt)" -gt 5 ] && head -5 /x/man.txt'
step build sh -c "cellc -o /x/demo.cell.h /x/demo.cell &&
	cc -std=c11 -Wall -Wextra -Werror -I/x /x/hello.c -o /x/hello \$(pkg-config --cflags --libs libcell) &&
	ldd /x/hello | grep libcell && ldd /x/hello | grep -Eq 'libcell.so.0 => (/usr)?/lib/$ma/libcell.so.0' &&
	/x/hello | grep unix"
# The postinst builds and installs cell.ko for each kernel whose headers are
# here (tools/deps.sh installs Debian's, the VM's kernel).
step dkms sh -c 'dkms status cell | grep -E "^cell/[^ ,]+, [^ ,]+, [^ ,]+: installed" &&
	ls /lib/modules/*/updates/dkms/cell.ko*'
step purge dpkg --purge cell-dkms celld cell-tools libcell-dev libcell0
step gone sh -c "left=\$(ls -d /usr/lib/$ma/libcell.so* /usr/include/cell /usr/bin/cellc \
	/usr/bin/cell /usr/sbin/celld /usr/src/cell-* /var/lib/dkms/cell \
	/lib/modules/*/updates/dkms/cell.ko* 2>/dev/null);
	[ -z \"\$left\" ] || { echo \"left behind: \$left\"; false; }"
INSIDE
# shellcheck disable=SC2016 # expanded by the inner bash
exec unshare -m --propagation private bash -euc '
	d=$1
	mount -t tmpfs -o size=2g,mode=0755 cell-deb-upper "$d/ovl"
	mkdir "$d/ovl/upper" "$d/ovl/work"
	mount -t overlay cell-deb-root -o "lowerdir=/,upperdir=$d/ovl/upper,workdir=$d/ovl/work" "$d/newroot"
	for m in proc sys dev; do mount --rbind "/$m" "$d/newroot/$m"; done
	mount -t tmpfs -o mode=1777 cell-deb-tmp "$d/newroot/tmp"
	mkdir -p "$d/newroot/x"
	mount --bind "$d/xfer" "$d/newroot/x"
	chroot "$d/newroot" /bin/bash /x/inside.sh
' deb_install "$dir"
