#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# size_report.sh PROFILE LIBCELL.SO LIBCELL.MAP: the size of libcell.so and
# its exports, as TAP.  Fails when an export is named by no version node
# of libcell.map (LIBCELL_UNLISTED only keeps such a symbol linking).
set -u
prof=$1 so=$2 map=$3
echo "TAP version 13"
echo "1..2"
bytes=$(stat -L -c %s "$so")
read -r text data bss _ < <(size "$so" | tail -n 1)
exports=$(nm -D --defined-only "$so" | awk '$2 ~ /[TDBR]/ {print $3}' | grep -v '^LIBCELL' | sed 's/@.*//' | sort -u)
nexp=$(grep -c . <<<"$exports")
echo "# profile $prof: libcell.so $bytes bytes on disk; text $text data $data bss $bss; $nexp exported symbols"
echo "# soname: $(objdump -p "$so" | awk '/SONAME/ {print $2}')"
echo "ok 1 size report ($prof: text $text bytes, $nexp exports)"
listed=$(grep -oE '\bcell_[a-z0-9_]+;' "$map" | tr -d ';' | sort -u)
unlisted=$(comm -23 <(echo "$exports") <(echo "$listed"))
if [ -z "$unlisted" ]; then
	echo "ok 2 every export has a version node in libcell.map"
else
	echo "not ok 2 exports missing from libcell.map (add them to its newest node): $(echo $unlisted)"
fi
