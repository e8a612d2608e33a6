#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# size-report.sh SIZE LIBCELL_MCU.A MAP ELF [MAP ELF...]
#
# Prints .text/.data/.bss of: every object of the port (all functions,
# before the linker drops unused ones), then for each firmware what the
# port's objects occupy in it (input sections from libcell_mcu.a kept by
# --gc-sections, from the link map) and the whole image.
size=$1 lib=$2
shift 2
echo "== cell-mcu size report (arm-none-eabi, -Os, Cortex-M3)"
echo "-- libcell_mcu.a, every function:"
"$size" -t "$lib" | sed 's/^/   /'
# CAN-FD: the framing (can_seg) against its budget, the rest beside it.
sh "$(dirname "$0")/can-budget.sh" "$size" "$lib" || true
while [ $# -ge 2 ]; do
	map=$1 elf=$2
	shift 2
	awk -v name="$(basename "$elf")" '
	/^Linker script and memory map/ { on = 1; next }
	!on { next }
	/^ \.[A-Za-z_.]+/ {
		sec = $1
		if (NF >= 4 && $2 ~ /^0x/) { add(sec, $3, $4); sec = "" }
		next
	}
	sec != "" && $1 ~ /^0x/ && NF >= 3 { add(sec, $2, $3); sec = ""; next }
	{ sec = "" }
	function add(s, sz, obj,   n) {
		if (obj !~ /libcell_mcu(_min)?\.a/) return
		n = strtonum(sz)
		if (s ~ /^\.(text|rodata)/) text += n
		else if (s ~ /^\.data/) data += n
		else if (s ~ /^\.bss/ || s ~ /^COMMON/) bss += n
	}
	END {
		printf "-- %s: the port as linked (wire + COBS + CRC + dispatch; .rodata counted as text): text %d data %d bss %d\n", name, text, data, bss
	}' "$map"
	echo "-- $(basename "$elf"): whole firmware:"
	"$size" "$elf" | sed 's/^/   /'
done
