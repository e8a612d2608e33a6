#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# Print the newest kernel version that has both an image in /boot and a
# build tree (Debian's linux-image-* and linux-headers-* of one ABI), e.g.
# 6.1.0-56-amd64.  Exits 1, printing nothing, when there is none.
set -u
for img in $(ls /boot/vmlinuz-* 2>/dev/null | sort -rV); do
	ver=${img#/boot/vmlinuz-}
	if [ -f "/usr/src/linux-headers-$ver/Makefile" ] ||
	   [ -f "/lib/modules/$ver/build/Makefile" ]; then
		echo "$ver"
		exit 0
	fi
done
exit 1
