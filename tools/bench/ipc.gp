# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# Round-trip p50 by message size, one line per case, log-log; drawn by
# make bench-ipc from the ipc-plot.dat that build/bench/ipc writes (one
# block per case: a title line, then "size p50_ns p99_ns" lines).
#
#   gnuplot -e "data='build/bench/results/ipc-plot.dat'; out='ipc.png'" tools/bench/ipc.gp

if (!exists("data")) data = 'ipc-plot.dat'
if (!exists("out")) out = 'ipc.png'

set terminal pngcairo size 1280,800 enhanced font ",11"
set output out
set title "Round trip, p50 (median over rounds), by message size: client and server in two pinned processes"
set logscale xy
set xlabel "message size, each way (bytes)"
set ylabel "round-trip time p50 (ns)"
set xtics ("64 B" 64, "1 KiB" 1024, "64 KiB" 65536, "1 MiB" 1048576)
set format y "10^{%L}"
set grid xtics ytics mytics
set key outside right top box
set xrange [40:1.6e6]

stats data using 1 nooutput
plot for [i=0:STATS_blocks-1] data index i using 1:2 with linespoints lw 2 pt (i % 13) + 1 title columnheader(1)
