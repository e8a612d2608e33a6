# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# make bench, the capsid part (issue 15): SHM spin round trips to the same
# echo cell spawned by celld in a capsid and run plain, paired rounds, the
# median ratio sandboxed/plain against the 1.05 bound
# (tools/bench/capsid_bench.sh; SKIP where no capsid can run).
#
#   make bench-capsid BENCH_CAPSID_ARGS='9 200000'   (rounds, calls per round)

BENCH_PARTS += bench-capsid
BENCH_CAPSID_ARGS ?= 9 200000

.PHONY: bench-capsid
bench-capsid: build-default
	@mkdir -p $(BUILD)/bench
	$(CC) -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -I$(TOP)/lib/include \
		-I$(TOP)/uapi -o $(BUILD)/bench/capsid_bench $(TOP)/tools/bench/capsid_bench.c \
		-L$(BUILD)/default/lib -Wl,-rpath,$(BUILD)/default/lib -lcell
	@$(TOP)/tools/bench/capsid_bench.sh $(BUILD)/default $(BUILD)/bench/capsid_bench \
		$(BENCH_CAPSID_ARGS)
