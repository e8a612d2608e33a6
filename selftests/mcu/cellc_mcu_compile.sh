#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# cellc_mcu_compile.sh CELLC TOP CC CXX: every schema in the tree through
# cellc --mcu, compiled alone as freestanding C99 and C11 (pedantic), as
# C++17, and with arm-none-eabi-gcc for the Cortex-M3 when it is
# installed.  One TAP line per schema and compiler.  Schemas whose fixed
# parts outgrow the board's buffer must fail to compile with the
# generated static assertion, not compile silently: the buffer here is
# 32000 bytes, and a 640-byte build of all.cell must refuse.
set -u
cellc=$1 top=$2 cc=$3 cxx=$4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0 fail=0
ok() { n=$((n + 1)); echo "ok $n $*"; }
bad() { n=$((n + 1)); echo "not ok $n $*"; fail=1; }
inc=(-I"$top/mcu/include" -I"$top/uapi" -I"$tmp")
echo "TAP version 13"
arm=$(command -v arm-none-eabi-gcc || true)
[ -n "$arm" ] || echo "# arm-none-eabi-gcc not installed: host compilers only"
for schema in "$top"/selftests/cellc/*.cell "$top"/selftests/cellc/shapes/*.cell \
	"$top"/selftests/cellc/fp/base.cell "$top"/mcu/example/*.cell; do
	name=${schema#"$top"/}
	if ! "$cellc" --mcu -o "$tmp/s.mcu.h" "$schema" 2>"$tmp/err"; then
		bad "$name: cellc --mcu failed: $(head -1 "$tmp/err")"
		continue
	fi
	printf '#include "s.mcu.h"\nint cellc_mcu_compile_test;\n' >"$tmp/t.c"
	big=-DCELL_MCU_MAX_PAYLOAD=32000
	"$cc" -std=c99 -ffreestanding -Wall -Wextra -Werror $big "${inc[@]}" -c "$tmp/t.c" \
		-o "$tmp/t.o" 2>"$tmp/err" && ok "$name: C99" || bad "$name: C99: $(head -3 "$tmp/err")"
	"$cc" -std=c11 -pedantic -ffreestanding -Wall -Wextra -Werror $big "${inc[@]}" \
		-c "$tmp/t.c" -o "$tmp/t.o" 2>"$tmp/err" && ok "$name: C11 pedantic" ||
		bad "$name: C11 pedantic: $(head -3 "$tmp/err")"
	"$cxx" -x c++ -std=c++17 -Wall -Wextra -Werror $big "${inc[@]}" -c "$tmp/t.c" \
		-o "$tmp/t.o" 2>"$tmp/err" && ok "$name: C++17" || bad "$name: C++17: $(head -3 "$tmp/err")"
	if [ -n "$arm" ]; then
		"$arm" -std=c99 -mcpu=cortex-m3 -mthumb -Os -ffreestanding -Wall -Wextra -Werror \
			$big "${inc[@]}" -c "$tmp/t.c" -o "$tmp/t.o" 2>"$tmp/err" &&
			ok "$name: arm-none-eabi-gcc C99" ||
			bad "$name: arm-none-eabi-gcc C99: $(head -3 "$tmp/err")"
	fi
done
# A request too large for the board's buffer is a compile error.
"$cellc" --mcu -o "$tmp/s.mcu.h" "$top/selftests/cellc/all.cell"
if "$cc" -std=c11 -Wall -Wextra -DCELL_MCU_MAX_PAYLOAD=16 "${inc[@]}" -c "$tmp/t.c" \
	-o "$tmp/t.o" 2>"$tmp/err"; then
	bad "all.cell with a 16-byte buffer compiled"
else
	grep -q 'larger than CELL_MCU_MAX_PAYLOAD' "$tmp/err" &&
		ok "all.cell with a 16-byte buffer: refused by the generated assertion" ||
		bad "all.cell with a 16-byte buffer failed otherwise: $(head -3 "$tmp/err")"
fi
echo "1..$n"
exit $fail
