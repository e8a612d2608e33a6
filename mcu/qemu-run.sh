#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# Runs the Cortex-M3 firmware in qemu-system-arm (lm3s6965evb); prints TAP.
#
#   qemu-run.sh vectors VECTORS.ELF
#	the on-target vector test: its TAP comes over semihosting, and qemu's
#	exit code (semihosting SYS_EXIT) says whether it passed.
#   qemu-run.sh e2e SENSOR.ELF UART_E2E_TEST
#	boots the example firmware with UART0 on a TCP socket, runs the host
#	client (libcell's UART transport) against it, then checks that the
#	firmware ended cleanly after the client's GOODBYE and what it printed.
#
# Exits 4 (skip) only when qemu-system-arm is not installed.
set -u
mode=$1
elf=$2
if ! command -v qemu-system-arm >/dev/null 2>&1; then
	echo "1..0 # SKIP qemu-system-arm is not installed (tools/deps.sh mcu)"
	exit 4
fi
if [ ! -f "$elf" ]; then
	echo "not ok 1 firmware $elf was not built"
	echo "1..1"
	exit 1
fi
QEMU=(qemu-system-arm -M lm3s6965evb -nographic -semihosting -monitor none -kernel "$elf")

if [ "$mode" = vectors ]; then
	timeout 60 "${QEMU[@]}" -serial null 2>&1 | grep -av 'Timer with period zero'
	exit "${PIPESTATUS[0]}"
fi

client=$3
dir=$(mktemp -d)
trap 'rm -rf "$dir"; [ -n "${qpid:-}" ] && kill "$qpid" 2>/dev/null' EXIT
# A free port: qemu refuses one in use, then another is tried.
for try in 1 2 3 4 5 6 7 8; do
	port=$((30000 + (RANDOM % 30000)))
	timeout 300 "${QEMU[@]}" -serial "tcp:127.0.0.1:$port,server=on,wait=on,nodelay=on" \
		>"$dir/console" 2>&1 &
	qpid=$!
	for _ in $(seq 100); do
		grep -aq 'waiting for connection' "$dir/console" && break
		kill -0 "$qpid" 2>/dev/null || break
		sleep 0.05
	done
	kill -0 "$qpid" 2>/dev/null && break
	wait "$qpid" 2>/dev/null
	qpid=
done
if [ -z "$qpid" ]; then
	echo "not ok 1 qemu-system-arm did not start:"
	sed 's/^/# /' "$dir/console"
	echo "1..1"
	exit 1
fi

start=$(date +%s%N)
timeout 120 "$client" "tcp:127.0.0.1:$port" >"$dir/client.tap" 2>&1
crc=$?
elapsed=$((($(date +%s%N) - start) / 1000000))
# The firmware exits (semihosting) once it has answered GOODBYE.
for _ in $(seq 100); do
	kill -0 "$qpid" 2>/dev/null || break
	sleep 0.05
done
if kill -0 "$qpid" 2>/dev/null; then
	kill "$qpid"
	qrc=timeout
else
	wait "$qpid"
	qrc=$?
fi
qpid=

grep -av '^1\.\.' "$dir/client.tap"
n=$(grep -acE '^(not )?ok [0-9]+' "$dir/client.tap")
fail=0
check() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then echo "ok $n $2"; else echo "not ok $n $2"; fail=1; fi
}
[ "$crc" = 0 ]; check $? "host client exited 0 (exit $crc)"
[ "$qrc" = 0 ]; check $? "firmware ended cleanly after GOODBYE (qemu exit $qrc)"
grep -aq '^cell-mcu: serving sensor 0x' "$dir/console"; check $? "firmware booted and said so on the semihosting console"
grep -aq '^cell-mcu: goodbye; frames=' "$dir/console"; check $? "firmware printed its counters on the way out"
echo "# firmware console:"
grep -av 'Timer with period zero\|waiting for connection' "$dir/console" | sed 's/^/#   /'
echo "# qemu boot + client run: $elapsed ms"
echo "1..$n"
[ "$fail" = 0 ] && [ "$crc" = 0 ]
