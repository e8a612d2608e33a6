# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# make bench, the tracing part: tools/bench/trace_overhead.c measures the
# SHM spin round trip untraced, with an unsampled and with a sampled trace
# context, interleaved in one process pair, and prints medians, ratios and
# the verdict (goals: sampled <= 1.05, unsampled 1.00).
#
#   make bench-trace BENCH_TRACE_ARGS='-r 21 -n 50000'

BENCH_PARTS += bench-trace
BENCH_TRACE_ARGS ?=

.PHONY: bench-trace
bench-trace: build-default
	@mkdir -p $(BUILD)/bench
	@$(CC) -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -I$(TOP)/lib/include \
		-I$(TOP)/uapi -o $(BUILD)/bench/trace_overhead $(TOP)/tools/bench/trace_overhead.c \
		-L$(BUILD)/default/lib -Wl,-rpath,$(BUILD)/default/lib -lcell -lpthread
	@$(BUILD)/bench/trace_overhead $(BENCH_TRACE_ARGS)
