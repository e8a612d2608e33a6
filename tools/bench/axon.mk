# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# make bench, the axon part: Cell over QUIC against raw UDP ping-pong and
# TCP + TLS 1.3 ping-pong (GnuTLS), and gRPC C++ over TCP+TLS (axon_grpc.cc),
# in the same run, between two network
# namespaces (tools/bench/axon_bench.c, axon_bench.sh; root + ip netns,
# else over 127.0.0.1 and it says so).  Output also in
# build/bench/results/axon.txt.
#
#   make bench-axon BENCH_AXON_ARGS='-n 2000 -r 5'   (echoes per row, rounds)

BENCH_PARTS += bench-axon
BENCH_AXON_ARGS ?= -n 2000 -r 5

.PHONY: bench-axon
bench-axon: build-default
	@mkdir -p $(BUILD)/bench/results
	@if ! nm -D --defined-only $(BENCH_FP_LIB)/libcell.so 2>/dev/null | grep -q ' cell_server_listen_quic'; then \
		echo "bench-axon: not built: $(BENCH_FP_LIB)/libcell.so lacks QUIC (CELL_WITH_QUIC)"; exit 0; fi; \
	$(CC) $(BENCH_FP_CFLAGS) -o $(BUILD)/bench/axon_bench $(TOP)/tools/bench/axon_bench.c \
		-L$(BENCH_FP_LIB) -Wl,-rpath,$(BENCH_FP_LIB) -lcell \
		$$(pkg-config --cflags --libs gnutls) -lpthread || exit 1; \
	if pkg-config --exists grpc++ && command -v $(CXX) >/dev/null; then \
		$(CXX) -std=c++17 -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE \
			$$(pkg-config --cflags grpc++ gnutls) -o $(BUILD)/bench/axon_grpc \
			$(TOP)/tools/bench/axon_grpc.cc $$(pkg-config --libs grpc++ gnutls) -lpthread || exit 1; \
		export AXON_GRPC=$(BUILD)/bench/axon_grpc; \
	else export AXON_GRPC_WHY="grpc++ or a C++ compiler not found (Debian libgrpc++-dev, g++)"; fi; \
	$(TOP)/tools/bench/axon_bench.sh $(BUILD)/bench/axon_bench $(BENCH_AXON_ARGS) \
		> $(BUILD)/bench/results/axon.txt; rc=$$?; cat $(BUILD)/bench/results/axon.txt; exit $$rc

# The issue's full memory figure: 10,000 x 1 MiB requests and 10,000 one-way
# messages of 1 MiB through one QUIC connection (make check's quic_memory
# runs 300 of each for time), with the same RSS bounds asserted.
#   make bench-axon-memory BENCH_AXON_MIB=10000
BENCH_PARTS += bench-axon-memory
BENCH_AXON_MIB ?= 10000

.PHONY: bench-axon-memory
bench-axon-memory: build-default
	@mkdir -p $(BUILD)/bench/results
	@QUIC_MEM_MIB=$(BENCH_AXON_MIB) QUIC_MEM_SENDS=$(BENCH_AXON_MIB) QUIC_MEM_TIMEOUT=900 \
		$(TOP)/selftests/quic/quic_memory.sh $(BUILD)/default \
		> $(BUILD)/bench/results/axon-memory.txt; rc=$$?; \
	cat $(BUILD)/bench/results/axon-memory.txt; exit $$rc
