# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# make demo: build, then tools/demo.sh runs the example server and client
# cells (userspace/examples/) and prints the path and round-trip figures.
#   make demo DEMO_SECONDS=3   (seconds per payload size, default 1)

PART_TARGETS += demo
DEMO_SECONDS ?= 1

.PHONY: demo
demo: deps
	@$(MAKE) --no-print-directory build-default
	@$(TOP)/tools/demo.sh $(BUILD)/default $(DEMO_SECONDS)

# The long nemesis of celld's Raft group (Documentation/raft.rst):
# make nemesis [MINUTES=10] [NODES=3|5]
MINUTES ?= 10
NODES ?= 3
.PHONY: nemesis
nemesis: all
	python3 $(TOP)/userspace/celld/tests/nemesis.py $(BUILD)/default \
		--seconds $$(($(MINUTES) * 60)) --nodes $(NODES) --clients 4

# make bench, the Raft part (Documentation/raft.rst): committed writes/s,
# p50/p99 through cell_kv_put on 3 celld in network namespaces, and p99
# with async / sync / no snapshots (same run, same state, 3 rounds).
BENCH_PARTS += bench-raft
.PHONY: bench-raft
bench-raft: build-default
	python3 $(TOP)/userspace/celld/tests/kv_bench.py $(BUILD)/default --seconds 8 --threads 8 --reps 3
