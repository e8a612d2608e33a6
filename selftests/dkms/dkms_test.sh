#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# dkms_test.sh TOP VERSION: what the cell-dkms package ships (dkms.conf,
# Kbuild, module/, uapi/) copied as /usr/src/cell-VERSION would be, then
# dkms add, build and install against the newest kernel that has headers,
# and the installed cell.ko loaded in a qemu VM of that kernel (insmod,
# /dev/cell, rmmod; SKIP without qemu or busybox-static). The module's own
# tests run in make vm-check.
# Every dkms tree is a scratch directory: nothing under /var/lib/dkms,
# /usr/src or /lib/modules is touched (the MOK signing key too).
TOP=$1 VER=$2
echo "TAP version 13"
skip() { echo "1..0 # SKIP $1"; exit 4; }
command -v dkms >/dev/null || skip "no dkms (tools/deps.sh release)"
kver=$("$TOP/tools/vm/kver.sh") || skip "no linux-image with linux-headers (tools/deps.sh kernel)"
echo "1..8"
fail=0
n=0
check() { rc=$?; n=$((n + 1)); if eval "$2"; then echo "ok $n $1"; else echo "not ok $n $1"; fail=1; fi; }
s=$(mktemp -d /tmp/cell-dkms.XXXXXX)
trap 'rm -rf "$s"' EXIT
mkdir -p "$s/src/cell-$VER" "$s/tree" "$s/inst/$kver"
# The DKMS source: exactly what debian/cell-dkms.install lists.
cp -r "$TOP/dkms.conf" "$TOP/Kbuild" "$TOP/module" "$TOP/uapi" "$s/src/cell-$VER/"
rm -f "$s/src/cell-$VER/module/"*.o "$s/src/cell-$VER/module/"*.ko "$s/src/cell-$VER/module/"*.mod*
confver=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$TOP/dkms.conf")
check "dkms.conf PACKAGE_VERSION ($confver) is the project version ($VER)" '[ "$confver" = "$VER" ]'
# prepare_signing takes these from the environment when framework.conf
# leaves them unset: the key dkms generates stays in the scratch.
export mok_signing_key=$s/mok.key mok_certificate=$s/mok.pub
d=(--sourcetree "$s/src" --dkmstree "$s/tree" --installtree "$s/inst")
dkms add -m cell -v "$VER" "${d[@]}" >"$s/add.log" 2>&1
check "dkms add cell/$VER" '[ $rc -eq 0 ] || { sed "s/^/# /" "$s/add.log"; false; }'
start=$(date +%s)
nice dkms build -m cell -v "$VER" -k "$kver" "${d[@]}" >"$s/build.log" 2>&1
check "dkms build cell/$VER -k $kver ($(($(date +%s) - start)) s)" \
	'[ $rc -eq 0 ] || { sed "s/^/# /" "$s/build.log"; cat "$s/tree/cell/$VER/build/make.log" 2>/dev/null | tail -30 | sed "s/^/# /"; false; }'
ko=$(find "$s/tree/cell/$VER/$kver" -name 'cell.ko*' 2>/dev/null | head -n 1)
vm=$(modinfo -F vermagic "$ko" 2>/dev/null)
echo "# $ko: vermagic $vm"
check "cell.ko built for $kver" '[ -n "$ko" ] && [ "${vm%% *}" = "$kver" ]'
check "cell.ko is signed with the scratch key" \
	'[ -f "$s/mok.pub" ] && [ -n "$(modinfo -F signer "$ko" 2>/dev/null)" ]'
dkms install -m cell -v "$VER" -k "$kver" --no-depmod "${d[@]}" >"$s/install.log" 2>&1
inst=$(find "$s/inst" -name 'cell.ko*' 2>/dev/null | head -n 1)
echo "# installed: ${inst#"$s/inst/"}"
check "dkms install puts cell.ko under the install tree" \
	'[ $rc -eq 0 ] && [ -n "$inst" ] || { sed "s/^/# /" "$s/install.log"; false; }'
st=$(dkms status -m cell -v "$VER" "${d[@]}" 2>&1)
echo "# dkms status: $st"
check "dkms status says installed" 'grep -q "$kver.*installed" <<<"$st"'

# Load what dkms installed, in a VM of that kernel (this host cannot).
busybox=/bin/busybox
if ! command -v qemu-system-x86_64 >/dev/null || ! command -v cpio >/dev/null ||
   ! [ -r "/boot/vmlinuz-$kver" ] || ! [ -x "$busybox" ] || ldd "$busybox" >/dev/null 2>&1; then
	echo "ok 8 # SKIP no qemu-system-x86, cpio, static busybox or readable /boot/vmlinuz-$kver (tools/deps.sh kernel)"
	exit $fail
fi
r=$s/initramfs
mkdir -p "$r/bin" "$r/proc" "$r/sys" "$r/dev"
cp "$busybox" "$r/bin/busybox"
cp "$inst" "$r/cell.ko"
cat >"$r/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
dmesg -n 1
echo CELL-DKMS-BEGIN
insmod /cell.ko; echo "insmod $?"
[ -c /dev/cell ]; echo "devcell $?"
grep -q '^cell ' /proc/modules; echo "listed $?"
rmmod cell; echo "rmmod $?"
dmesg | grep -E 'BUG|Oops|WARNING|general protection' | sed 's/^/dmesg: /'
echo CELL-DKMS-END
poweroff -f
INIT
chmod +x "$r/init"
(cd "$r" && find . | cpio -o -H newc --quiet | gzip -1) >"$s/initramfs.gz"
start=$(date +%s)
timeout --foreground -k 5 240 qemu-system-x86_64 -accel tcg -m 256 -smp 1 -nic none -nographic \
	-no-reboot -kernel "/boot/vmlinuz-$kver" -initrd "$s/initramfs.gz" \
	-append "console=ttyS0 quiet panic=-1 loglevel=1" >"$s/console.log" 2>&1 </dev/null
g=$(tr -d '\r' <"$s/console.log" | sed -n '/CELL-DKMS-BEGIN/,/CELL-DKMS-END/p' | grep -a -v 'CELL-DKMS-')
echo "$g" | sed 's/^/# guest: /'
loaded=1
for k in insmod devcell listed rmmod; do grep -qx "$k 0" <<<"$g" || loaded=0; done
grep -q 'BUG\|Oops\|WARNING\|general protection' <<<"$g" && loaded=0
check "the dkms-installed cell.ko loads in a qemu VM of $kver: insmod, /dev/cell, rmmod ($(($(date +%s) - start)) s)" \
	'[ $loaded -eq 1 ] || { tr -d "\r" <"$s/console.log" | tail -20 | sed "s/^/# console: /"; false; }'
exit $fail
