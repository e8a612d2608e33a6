# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# make bench, the fan-in part (issue 17): one server thread serving 1000
# connected clients against the same server serving one (p99 RTT ratio,
# target <= 5x), the server's memory per connection against the two rings
# (target <= 1.05x), and the calls each client got under load (fairness);
# memfd rings and the unix path (tools/bench/fanin.c, method in
# Documentation/benchmarks.rst).  About 20 s on 2 CPUs.
#
#   make bench-fanin BENCH_FANIN_ARGS='-n 1000 -r 3 -b memfd'   (see fanin -h)

BENCH_PARTS += bench-fanin
BENCH_FANIN_ARGS ?=

.PHONY: bench-fanin
bench-fanin: build-default
	@mkdir -p $(BUILD)/bench/results
	$(CC) -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -I$(TOP)/lib/include \
		-I$(TOP)/uapi -o $(BUILD)/bench/fanin $(TOP)/tools/bench/fanin.c \
		-L$(BUILD)/default/lib -Wl,-rpath,$(BUILD)/default/lib -lcell -lpthread
	$(BUILD)/bench/fanin -o $(BUILD)/bench/results/fanin.csv $(BENCH_FANIN_ARGS)
