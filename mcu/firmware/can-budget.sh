#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# can-budget.sh SIZE LIBCELL_MCU.A|CAN_SEG.O: the CAN-FD framing's .text
# against its budget (issue 20: <= 600 B on Cortex-M3).  Counted: every
# function of can_seg.o, the framing both ends share (segmenter,
# reassembler with all its checks, CAN-FD length rounding, slot init and
# release).  Not counted: the MCU CAN server glue and its serve order
# (can.o) and the announcement (can_announce.o), printed beside it.
# Prints one line; exit 1 when over the budget, 2 when nothing to count.
size=$1 obj=$2
budget=${CELL_CAN_BUDGET:-600} # override only to see the check fail
"$size" "$obj" | awk -F'\t' -v budget="$budget" '
	$6 ~ /(^|\/)can_seg\.(c\.)?o(bj)?( |$)/ { seg = $1 + 0; found = 1 }
	$6 ~ /(^|\/)can(_announce)?\.(c\.)?o(bj)?( |$)/ { rest += $1; others = 1 }
	END {
		if (!found) {
			print "-- CAN-FD framing: can_seg.o not found"
			exit 2
		}
		printf "-- CAN-FD framing (can_seg.o: segment + reassemble): text %d B, budget %d B: %s", \
			seg, budget, seg <= budget ? sprintf("within, %d B to spare", budget - seg) : \
			sprintf("OVER by %d B", seg - budget)
		if (others)
			printf "; CAN server + serve order + announce (can.o, can_announce.o): text %d B", rest
		printf "\n"
		exit seg <= budget ? 0 : 1
	}'
