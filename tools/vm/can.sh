#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# tools/vm/can.sh: selftests/can/can_e2e_test on a real SocketCAN bus,
# vcan0 (CAN-FD MTU) in a qemu VM: the host kernel has no CAN, the
# Debian kernel's modules (can, can-raw, can-dev, vcan) load in the VM.
# As tools/vm/run.sh: a busybox initramfs (build/vm-can/), the verdict
# from the guest's marker line; exits 0 on success, 1 on failure, 4 (skip,
# with the reason) without qemu, a kernel image or the CAN modules.
# Needs the host build (build/default: libcell_mcu_host.a).
# Environment: VM_TIMEOUT (seconds, default 120).
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
out=$top/build/vm-can
bld=${CELL_BUILD:-$top/build/default}
timeout_s=${VM_TIMEOUT:-120}

skip() {
	echo "TAP version 13"
	echo "1..0 # SKIP vm-can: $*"
	exit 4
}
fail() {
	echo "TAP version 13"
	echo "1..1"
	echo "not ok 1 vm-can: $*"
	exit 1
}

qemu=$(command -v qemu-system-x86_64) || skip "no qemu-system-x86_64"
ver=$("$top/tools/vm/kver.sh") || skip "no /boot/vmlinuz-* with headers"
kernel=/boot/vmlinuz-$ver
[ -r "$kernel" ] || skip "$kernel is not readable"
busybox=/bin/busybox
if ! [ -x "$busybox" ] || ldd "$busybox" >/dev/null 2>&1; then
	skip "no static /bin/busybox (busybox-static)"
fi
mods=""
for m in net/can/can.ko net/can/can-raw.ko drivers/net/can/dev/can-dev.ko drivers/net/can/vcan.ko; do
	f=/lib/modules/$ver/kernel/$m
	[ -f "$f" ] || skip "no $f"
	mods="$mods $f"
done
[ -f "$bld/mcu/libcell_mcu_host.a" ] || fail "$bld/mcu/libcell_mcu_host.a missing: build first (make all)"

mkdir -p "$out"
root=$out/initramfs
rm -rf "$root"
mkdir -p "$root/bin" "$root/mod" "$root/proc" "$root/sys" "$root/dev" "$root/tmp"
# The static test links libcell's core (every .c directly in lib/, as the
# "only the RPC" profile builds it) from source: the host's libcell.a also
# holds lib/quic/, and GnuTLS has no complete static form here (no
# libp11-kit.a).
gcc -static -O2 -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -I"$top/lib/include" \
	-I"$top/lib" -I"$top/uapi" -I"$top/mcu/include" -DCELL_MCU_MAX_PAYLOAD=640 \
	"$top/selftests/can/can_e2e_test.c" "$top"/lib/*.c "$bld/mcu/libcell_mcu_host.a" \
	-pthread -o "$root/bin/can_e2e_test" >"$out/build.log" 2>&1 ||
	{ tail -20 "$out/build.log" >&2; fail "can_e2e_test does not link statically (see $out/build.log)"; }
cp "$busybox" "$root/bin/busybox"
# shellcheck disable=SC2086
cp $mods "$root/mod/"
cat >"$root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
dmesg -n 1
echo "CELL-VM-BEGIN"
rc=0
for m in can can-raw can-dev vcan; do insmod /mod/$m.ko || rc=1; done
ip link add dev vcan0 type vcan && ip link set vcan0 mtu 72 && ip link set vcan0 up || rc=1
ip link show vcan0 | sed 's/^/# /'
/bin/can_e2e_test vcan0 </dev/null 2>&1
r=$?
[ $rc -eq 0 ] && rc=$r
echo "CELL-VM-END rc=$rc"
poweroff -f
INIT
chmod 0755 "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$out/initramfs.gz" ||
	fail "cannot pack the initramfs"

console=$out/console.log
start=$(date +%s)
timeout --foreground -k 10 "$timeout_s" "$qemu" -accel "${VM_ACCEL:-tcg}" -cpu max -m 512 \
	-smp 2 -nic none -nographic -no-reboot -kernel "$kernel" -initrd "$out/initramfs.gz" \
	-append "console=ttyS0 quiet panic=-1 loglevel=1" >"$console" 2>&1 </dev/null
qrc=$?
secs=$(($(date +%s) - start))
tr -d '\r' <"$console" | sed -n '/CELL-VM-BEGIN/,/^CELL-VM-END/p' | grep -av 'CELL-VM-' \
	>"$out/guest.tap"
cat "$out/guest.tap"
result=$(tr -d '\r' <"$console" | grep -a '^CELL-VM-END rc=' | tail -n1)
echo "# vm-can: $ver, ${secs}s, qemu exit $qrc"
if [ -z "$result" ]; then
	echo "# vm-can: no result from the guest; console tail:"
	tr -d '\r' <"$console" | tail -30 | sed 's/^/# /'
	echo "not ok 1 vm-can: the guest finished and reported"
	exit 1
fi
[ "$result" = "CELL-VM-END rc=0" ] && grep -aq '^ok ' "$out/guest.tap" &&
	! grep -aq '^not ok' "$out/guest.tap"
