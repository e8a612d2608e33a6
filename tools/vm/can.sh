#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# tools/vm/can.sh: selftests/can/can_e2e_test on a real SocketCAN bus,
# vcan0 (CAN-FD MTU) in a qemu VM: the host kernel has no CAN, the
# Debian kernel's modules (can, can-raw, can-dev, vcan) load in the VM.
# celld listens on the same bus meanwhile (-o can.ifaces=vcan0,vcan1:
# its CAN_RAW socket, kernel filter and MTU check, userspace/celld/
# can_bus.c), and `cell ps -j` must then list the MCU node that served
# the test's calls; vcan1 is set to classic CAN (MTU 16), for which
# celld must warn.  celld and cell run dynamically linked: they and the
# libraries ldd names are copied into the initramfs at their paths.
# As tools/vm/run.sh: a busybox initramfs (build/vm-can/), the verdict
# from the guest's marker line; exits 0 on success, 1 on failure, 4 (skip,
# with the reason) without qemu, a kernel image or the CAN modules.
# Needs the host build (build/default: libcell_mcu_host.a, celld, cell).
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
for b in userspace/celld/celld userspace/cell/cell; do
	[ -x "$bld/$b" ] || fail "$bld/$b missing: build first (make all)"
done

mkdir -p "$out"
root=$out/initramfs
rm -rf "$root"
mkdir -p "$root/bin" "$root/mod" "$root/proc" "$root/sys" "$root/dev" "$root/tmp"
# The static test links libcell's core (every .c directly in lib/, as the
# "only the RPC" profile builds it) from source: the host's libcell.a also
# holds lib/quic/, and GnuTLS has no complete static form here (no
# libp11-kit.a).
# (not ring_module_off.c, the CELL_WITH_MODULE=OFF stand-in)
lib_srcs=
for f in "$top"/lib/*.c; do
	[ "${f##*/}" = ring_module_off.c ] || lib_srcs="$lib_srcs $f"
done
# shellcheck disable=SC2086 # one word per source file
gcc -static -O2 -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -I"$top/lib/include" \
	-I"$top/lib" -I"$top/uapi" -I"$top/mcu/include" -DCELL_MCU_MAX_PAYLOAD=640 \
	"$top/selftests/can/can_e2e_test.c" $lib_srcs "$bld/mcu/libcell_mcu_host.a" \
	-pthread -o "$root/bin/can_e2e_test" >"$out/build.log" 2>&1 ||
	{ tail -20 "$out/build.log" >&2; fail "can_e2e_test does not link statically (see $out/build.log)"; }
cp "$busybox" "$root/bin/busybox"
# celld and cell with every library the host's loader resolves for them.
for b in userspace/celld/celld userspace/cell/cell; do
	cp "$bld/$b" "$root/bin/" || fail "cannot copy $b"
	for lib in $(ldd "$bld/$b" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib" || fail "cannot copy $lib for $b"
		# The build's own (libcell) also where the loader looks by default:
		# a build under /tmp is hidden by the guest's tmpfs on /tmp.
		case $lib in
		/lib/* | /usr/lib/* | /lib64/*) ;;
		*) mkdir -p "$root/usr/lib/x86_64-linux-gnu" &&
			cp -L "$lib" "$root/usr/lib/x86_64-linux-gnu/" ;;
		esac
	done
done
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
ip link add dev vcan1 type vcan && ip link set vcan1 mtu 16 && ip link set vcan1 up || rc=1
ip link show vcan0 | sed 's/^/# /'
check() { # DESCRIPTION COMMAND...: one TAP line (numbered by the host)
	d=$1
	shift
	if "$@"; then echo "ok - $d"; else echo "not ok - $d"; rc=1; fi
}
mkdir -p /tmp/run
export CELL_RUNTIME_DIR=/tmp/run
/bin/celld -r /tmp/run -s /tmp/state -v -o discovery=off -o can.ifaces=vcan0,vcan1 \
	-o can.ttl=600 >/tmp/celld.log 2>&1 </dev/null &
celld=$!
# Wait for the line itself: celld binds nucleus.sock before it opens its
# CAN sockets, so the socket file alone raced the log (stop 25's CI).
i=0
while ! grep -q 'can: listening for announcements on vcan1' /tmp/celld.log &&
	[ $i -lt 300 ] && kill -0 $celld 2>/dev/null; do
	sleep 0.1
	i=$((i + 1))
done
check "celld: up with can.ifaces=vcan0,vcan1 (CAN_RAW sockets bound)" \
	grep -q 'can: listening for announcements on vcan1' /tmp/celld.log
check "celld: warns that vcan1 (MTU 16) is not CAN-FD" \
	grep -q 'can vcan1: MTU 16, not CAN-FD' /tmp/celld.log
/bin/can_e2e_test vcan0 </dev/null 2>&1
r=$?
[ $rc -eq 0 ] && rc=$r
# The MCU node (0x20, "echo", fingerprint 0x1122334455667788) announced
# every 100 ms while it served the calls above.
i=0
while [ $i -lt 50 ]; do
	/bin/cell ps -j >/tmp/ps.json 2>/tmp/ps.err && grep -q 'can:vcan0:0x20' /tmp/ps.json && break
	sleep 0.1
	i=$((i + 1))
done
tr '{' '\n' </tmp/ps.json | grep '"node":"can:' | sed 's/^/# ps: /'
sed 's/^/# ps stderr: /' /tmp/ps.err
check "celld: cell ps -j lists the MCU node that served, as can:vcan0:0x20 'echo', origin can" \
	sh -c "tr '{' '\\n' </tmp/ps.json | grep '\"name\":\"echo\"' | grep '\"node\":\"can:vcan0:0x20\"' |
		grep '\"fingerprint\":\"0x1122334455667788\"' | grep '\"origin\":\"can\"' |
		grep -q 'can://vcan0/0x20'"
check "celld: nothing listed on vcan1 (no frame crossed buses)" \
	sh -c "! grep -q 'can:vcan1:' /tmp/ps.json"
# The kernel filter: one receiver on vcan0 for announcements only
# (id 0x0c02ff00, mask of all but the source byte), and it matched.
sed 's/^/# rcvlist: /' /proc/net/can/rcvlist_fil
check "celld: its kernel filter (announcements, 0c02ff00) is on vcan0 and matched frames" \
	sh -c "grep -i 'vcan0.*c02ff00' /proc/net/can/rcvlist_fil | awk '{ if (\$(NF-1) + 0 > 0) f = 1 } END { exit !f }'"
check "celld: no segment reached it as a malformed announcement" \
	sh -c "! grep -q 'malformed announcement' /tmp/celld.log"
kill $celld
i=0
while kill -0 $celld 2>/dev/null && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
check "celld: leaves on SIGTERM" sh -c "! kill -0 $celld 2>/dev/null"
/bin/celld -r /tmp/run2 -s /tmp/state2 -o discovery=off -o can.ifaces=nosuch0 \
	>/tmp/celld2.log 2>&1 </dev/null &
bad=$!
i=0
while kill -0 $bad 2>/dev/null && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
check "celld: can.ifaces=nosuch0 refused at start, with the reason" \
	sh -c "! kill -0 $bad 2>/dev/null && grep -q 'can.ifaces: nosuch0: No such device' /tmp/celld2.log"
kill $bad 2>/dev/null
sed 's/^/# celld: /' /tmp/celld.log /tmp/celld2.log
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
# One TAP stream: can_e2e_test's lines and the guest's celld checks,
# numbered here, the plan last (as can_e2e_test prints it).
tr -d '\r' <"$console" | sed -n '/CELL-VM-BEGIN/,/^CELL-VM-END/p' | grep -av 'CELL-VM-' |
	awk 'BEGIN { print "TAP version 13" }
	     /^TAP version/ || /^1\.\.[0-9]+$/ { next }
	     /^(not )?ok / { no = $1 == "not"; sub(/^(not )?ok( [0-9]+)?( -)? ?/, "")
		printf "%sok %d %s\n", no ? "not " : "", ++n, $0; next }
	     { print }
	     END { printf "1..%d\n", n }' >"$out/guest.tap"
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
