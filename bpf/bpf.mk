# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# BPF: the rate limiter and the pheromone filter (Documentation/bpf.rst).
#
#   make check-bpf   root tests: BPF_PROG_TEST_RUN units, the live socket
#                    test and the rate limiter on veth pairs in namespaces
#                    (each SKIPs with the reason when BPF cannot run here)
#   make bench-bpf   XDP limiter against an nftables per-source meter
#                    (BENCH_BPF_SECONDS per run, default 2; median of 3)
#
# The programs, skeletons and tools are built by cmake (bpf/bpf.cmake) in
# build/default; the userspace unit tests run with ctest as usual.

CHECK_PARTS += check-bpf
BENCH_PARTS += bench-bpf
BENCH_BPF_SECONDS ?= 2

.PHONY: check-bpf bench-bpf
check-bpf:
	@$(DEPS) bpf
	@$(MAKE) --no-print-directory build-default
	@$(TOP)/bpf/check.sh $(BUILD)/default $(TAP_DIR)

bench-bpf:
	@$(DEPS) bpf
	@$(MAKE) --no-print-directory build-default
	@$(TOP)/bpf/bench.sh $(BUILD)/default $(BENCH_BPF_SECONDS)
