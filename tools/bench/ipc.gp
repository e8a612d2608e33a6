# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# Round-trip p50 by message size, one line per case, log-log; drawn by
# make bench-ipc from what build/bench/ipc writes: ipc-plot.dat (one block
# per case: a title line, then "size p50_ns p99_ns" lines) and
# ipc-plot.styles (a line type per block: floors dashed grey, Cell thick,
# peers thin).
#
#   gnuplot -e "dir='build/bench/results'" tools/bench/ipc.gp

if (!exists("dir")) dir = '.'
data = dir . '/ipc-plot.dat'

set terminal pngcairo size 1400,860 font ",11" noenhanced
set output dir . '/ipc.png'
set title "Round trip p50 (median over rounds) by message size; client and server in two processes pinned to CPUs 0 and 1"
set logscale xy
set xlabel "message size, each way"
set ylabel "round-trip time, p50 (ns)"
set xtics ("64 B" 64, "1 KiB" 1024, "64 KiB" 65536, "1 MiB" 1048576)
set ytics ("100 ns" 100, "1 us" 1000, "10 us" 1e4, "100 us" 1e5, "1 ms" 1e6, "10 ms" 1e7, "100 ms" 1e8, "1 s" 1e9)
set grid xtics ytics mytics
set key outside right top box
set xrange [40:1.6e6]
set yrange [50:*]
load dir . '/ipc-plot.styles'

stats data using 1 nooutput
plot for [i=0:STATS_blocks-1] data index i using 1:2 with linespoints lt (i + 1) title columnheader(1)
