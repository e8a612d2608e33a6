#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# /init of the VM's initramfs (tools/vm/run.sh): load cell.ko, run every
# program in /tests (kselftest TAP), check the kernel log for oopses,
# warnings and lockdep splats, unload, and report between marker lines
# that run.sh reads off the serial console.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /tmp && mount -t tmpfs tmp /tmp
mount -t cgroup2 none /sys/fs/cgroup # for the memory cgroup charge test
dmesg -n 1 # keep kernel messages off the console; checked below

rc=0
echo "CELL-VM-BEGIN"
n=0
res=""
step() { # step NAME RC
	n=$((n + 1))
	if [ "$2" -eq 0 ]; then res="$res|ok $n vm: $1"; else res="$res|not ok $n vm: $1"; rc=1; fi
}

insmod /cell.ko
step "insmod cell.ko" $?
[ -c /dev/cell ]
step "/dev/cell exists" $?

filter=$(sed -n 's/.*cell.tests=\([^ ]*\).*/\1/p' /proc/cmdline)
for t in /tests/*; do
	name=${t##*/}
	case ",$filter," in ,,|*,"$name",*) ;; *) continue ;; esac
	"$t" </dev/null 2>&1
	r=$?
	echo "CELL-VM-EXIT $name $r"
	if [ "$r" -ne 0 ] && [ "$r" -ne 4 ]; then rc=1; fi
	case $r in 0 | 4) step "$name exited $r" 0 ;; *) step "$name exited $r" 1 ;; esac
done

# Any oops, WARN, BUG, lockdep report or sanitizer finding fails the run.
bad='Oops|WARNING:|BUG:|Call Trace|general protection|lockdep|possible recursive locking|circular locking|UBSAN|KASAN|kmemleak|stack-protector|RCU stall|hung_task'
if dmesg | grep -E "$bad" >/tmp/bad; then
	step "kernel log free of oops/WARN/BUG/lockdep" 1
	echo "# kernel log:"
	dmesg | tail -80 | sed 's/^/# /'
else
	step "kernel log free of oops/WARN/BUG/lockdep" 0
fi
rmmod cell
step "rmmod cell (no ring, file or mapping left)" $?

echo "TAP version 13"
echo "1..$n"
echo "$res" | tr '|' '\n' | sed '/^$/d'
echo "CELL-VM-END rc=$rc"
poweroff -f
