# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# make bench, the discovery part: convergence time of pheromone discovery
# for 20 celld in network namespaces (userspace/celld/tests/discovery_bench.sh;
# root + ip netns, else it says SKIP).
#
#   make bench-discovery BENCH_DISCOVERY_ARGS='20 5'   (nodes, runs)

BENCH_PARTS += bench-discovery
BENCH_DISCOVERY_ARGS ?= 20 5

.PHONY: bench-discovery
bench-discovery: build-default
	@$(TOP)/userspace/celld/tests/discovery_bench.sh $(BUILD)/default $(BENCH_DISCOVERY_ARGS)
