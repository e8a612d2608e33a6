#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# msg_vectors_test.sh TOOL TSV: the checked-in message vectors are what the
# C builders and validators produce today (regenerate with
# `msg_vectors emit > selftests/vectors/messages.tsv` after a deliberate change).
set -u
tool=$1
tsv=$2
echo "1..2"
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
if "$tool" emit >"$tmp" && cmp -s "$tmp" "$tsv"; then
	echo "ok 1 messages.tsv is what msg_vectors emit writes"
else
	echo "not ok 1 messages.tsv differs from msg_vectors emit"
	diff "$tsv" "$tmp" | head -20
fi
n=$(grep -vc '^#' "$tsv")
bad=$(grep -v '^#' "$tsv" | cut -f4 | grep -c '^bad$')
if [ "$n" -ge 100 ] && [ "$bad" -ge 30 ] && [ "$bad" -lt "$n" ]; then
	echo "ok 2 $n vectors, $bad of them refused"
else
	echo "not ok 2 $n vectors, $bad refused: too few of one kind"
fi
