#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# tools/vm/run.sh [TEST...]: cell.ko's tests in a qemu VM.
#
# Builds cell.ko against the newest installed linux-image's headers
# (tools/vm/kver.sh) and selftests/module/*_test.c statically, packs them
# with busybox-static into a small initramfs (cached under build/vm/),
# boots /boot/vmlinuz-<ver> under qemu (software emulation; VM_ACCEL=kvm
# where KVM works), and prints the guest's TAP.  The verdict
# comes from the marker line the guest's /init prints, never from qemu's
# exit code.  Exits 0 when everything passed, 1 on any failure, 4 (skip,
# with the reason) when this machine lacks qemu, a kernel image or
# busybox-static.  TEST names (e.g. abi_test) run a subset.
#
# Environment: VM_TIMEOUT (seconds, default 600), VM_MEM (MiB, default
# 1024), VM_KEEP=1 keeps the console log in build/vm/console.log,
# VM_SOURCES (files) runs those programs instead of selftests/module/.
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
out=$top/build/vm
timeout_s=${VM_TIMEOUT:-600}
mem=${VM_MEM:-1024}

skip() {
	echo "TAP version 13"
	echo "1..0 # SKIP vm: $*"
	echo "vm-check: SKIPPED: $*" >&2
	exit 4
}
fail() {
	echo "TAP version 13"
	echo "1..1"
	echo "not ok 1 vm: $*"
	exit 1
}

qemu=$(command -v qemu-system-x86_64) || skip "no qemu-system-x86_64 (apt-get install qemu-system-x86)"
ver=$("$top/tools/vm/kver.sh") || skip "no /boot/vmlinuz-* with matching linux-headers (apt-get install linux-image-amd64 linux-headers-amd64)"
kernel=/boot/vmlinuz-$ver
[ -r "$kernel" ] || skip "$kernel is not readable"
busybox=/bin/busybox
if ! [ -x "$busybox" ] || ldd "$busybox" >/dev/null 2>&1; then
	skip "no static /bin/busybox (apt-get install busybox-static)"
fi
command -v cpio >/dev/null || skip "no cpio"
kdir=/usr/src/linux-headers-$ver
[ -f "$kdir/Makefile" ] || kdir=/lib/modules/$ver/build

mkdir -p "$out"
log=$out/build.log
: >"$log"

# cell.ko, against the image's own headers.
make -C "$kdir" M="$top/module" W=1 modules >>"$log" 2>&1 ||
	{ tail -30 "$log" >&2; fail "cell.ko does not build against $ver (see $log)"; }

# The selftests, static, with the kernel's kselftest harness.
ksrc=$("$top/tools/kernel-src.sh" 2>>"$log") || fail "no kselftest harness (tools/kernel-src.sh)"
root=$out/initramfs
rm -rf "$root"
mkdir -p "$root/bin" "$root/tests" "$root/proc" "$root/sys" "$root/dev"
# libcell's core, static, for the tests to link: every .c directly in lib/
# (what the "only the RPC" profile builds) and the MCU port's CAN code it
# shares.  An archive: each test takes the objects it needs, so no test
# keeps a list of libcell's files (such lists broke whenever lib/ grew).
core=$out/libcell_core.a
# (ring_module_off.c is the CELL_WITH_MODULE=OFF stand-in: never with the module.)
core_srcs="$top/mcu/src/can_seg.c $top/mcu/src/can_announce.c"
for f in "$top"/lib/*.c; do
	[ "${f##*/}" = ring_module_off.c ] || core_srcs="$core_srcs $f"
done
stale=0
for f in $core_srcs "$top"/lib/*.h "$top"/lib/include/cell/*.h "$top"/mcu/include/*.h \
	"$top/uapi/linux/cell.h"; do
	if ! [ "$core" -nt "$f" ]; then stale=1; fi
done
if [ $stale -eq 1 ]; then
	rm -rf "$out/core" "$core"
	mkdir -p "$out/core"
	for f in $core_srcs; do
		gcc -c -O2 -g -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -I"$top/lib/include" \
			-I"$top/lib" -I"$top/uapi" -iquote "$top/mcu/include" -pthread "$f" \
			-o "$out/core/$(basename "$f" .c).o" >>"$log" 2>&1 ||
			{ tail -30 "$log" >&2; fail "$f does not build for the VM (see $log)"; }
	done
	ar rcs "$core" "$out"/core/*.o || fail "cannot make $core"
fi
# VM_SOURCES: other programs to run instead of the tests (make bench-vm).
for src in ${VM_SOURCES:-"$top"/selftests/module/*_test.c}; do
	name=$(basename "$src" .c)
	if [ $# -gt 0 ] && ! printf '%s\n' "$@" | grep -qx "$name"; then
		continue
	fi
	bin=$out/bin/$name
	mkdir -p "$out/bin"
	deps="$src $top/selftests/module/cell_module.h $top/uapi/linux/cell.h $core"
	stale=0
	for f in $deps; do
		if [ -f "$f" ] && ! [ "$bin" -nt "$f" ]; then stale=1; fi
	done
	if [ $stale -eq 1 ]; then
		gcc -static -O2 -g -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror \
			-Wno-unused-parameter -isystem "$ksrc/include" -I"$top/uapi" \
			-I"$top/selftests/module" -I"$top/lib/include" -I"$top/lib" -pthread \
			"$src" "$core" -lm -o "$bin" >>"$log" 2>&1 ||
			{ tail -30 "$log" >&2; fail "$name does not build (see $log)"; }
	fi
	cp "$bin" "$root/tests/"
done
# `cell rings` (userspace/cell), static with libnl, for cli_test.
cellbin=$out/bin/cell
if [ -f /usr/lib/x86_64-linux-gnu/libnl-genl-3.a ]; then
	stale=0
	for f in "$top"/userspace/cell/*.[ch] "$top/uapi/linux/cell.h"; do
		if ! [ "$cellbin" -nt "$f" ]; then stale=1; fi
	done
	if [ $stale -eq 1 ]; then
		gcc -static -O2 -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -I"$top/uapi" \
			-I/usr/include/libnl3 -DCELL_CLI_RINGS_ONLY "$top"/userspace/cell/main.c \
			"$top"/userspace/cell/rings.c -lnl-genl-3 -lnl-3 \
			-pthread -lm -o "$cellbin" >>"$log" 2>&1 ||
			{ tail -30 "$log" >&2; fail "userspace/cell does not build statically (see $log)"; }
	fi
	cp "$cellbin" "$root/bin/cell"
fi
cp "$busybox" "$root/bin/busybox"
cp "$top/module/cell.ko" "$root/cell.ko"
install -m 0755 "$top/tools/vm/init.sh" "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$out/initramfs.gz" ||
	fail "cannot pack the initramfs"

# TCG unless asked: a /dev/kvm inside another VM may be there and not work.
accel=${VM_ACCEL:-tcg}
cmdline="console=ttyS0 quiet panic=-1 loglevel=1"
[ $# -gt 0 ] && cmdline="$cmdline cell.tests=$(IFS=,; echo "$*")"
console=$out/console.log
start=$(date +%s)
timeout --foreground -k 10 "$timeout_s" "$qemu" -accel "$accel" -cpu max -m "$mem" -smp 2 \
	-nic none -nographic -no-reboot -kernel "$kernel" -initrd "$out/initramfs.gz" \
	-append "$cmdline" >"$console" 2>&1 </dev/null
qrc=$?
secs=$(($(date +%s) - start))

# The guest's output between the markers, without the console's CRs.
tr -d '\r' <"$console" | sed -n '/CELL-VM-BEGIN/,/^CELL-VM-END/p' |
	grep -av 'CELL-VM-' >"$out/guest.tap"
cat "$out/guest.tap"
result=$(tr -d '\r' <"$console" | grep -a '^CELL-VM-END rc=' | tail -n1)
echo "# vm: $ver, $accel, ${secs}s, qemu exit $qrc"
if [ -z "$result" ]; then
	echo "# vm: no result from the guest (timeout after ${timeout_s}s, panic or crash); console tail:"
	tr -d '\r' <"$console" | tail -40 | sed 's/^/# /'
	echo "not ok 1 vm: the guest finished and reported"
	exit 1
fi
if [ "$result" != "CELL-VM-END rc=0" ] || grep -aq '^not ok' "$out/guest.tap" ||
   ! grep -aq '^ok ' "$out/guest.tap"; then
	exit 1
fi
exit 0
