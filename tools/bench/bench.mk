# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# make bench: the fast-path round-trip benchmark (tools/bench/fastpath*.c,
# method in Documentation/benchmarks.rst).  Built with cc against
# build/default's libcell.so; the Cell rows (4-6) are compiled in only when
# that library has the RPC client and server, otherwise the bench says
# "cell rows: not built yet (...)" and measures the raw baselines alone.
#
#   make bench BENCH_FASTPATH_ARGS='-r 3 -m threads'   (see fastpath -h)

BENCH_PARTS += bench-fastpath

BENCH_FP_SRC  := $(TOP)/tools/bench
BENCH_FP_OUT  := $(BUILD)/bench
BENCH_FP_LIB  := $(BUILD)/default/lib
BENCH_FP_SYMS := cell_client_connect cell_client_call cell_client_free cell_client_path \
	cell_client_path_kind cell_server_new cell_server_handle cell_server_run \
	cell_server_stop cell_server_free cell_reply_send cell_last_error
BENCH_FP_CFLAGS := -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror \
	-I$(TOP)/lib/include -I$(TOP)/uapi
BENCH_FASTPATH_ARGS ?=

.PHONY: bench-fastpath
bench-fastpath: build-default
	@mkdir -p $(BENCH_FP_OUT)
	@have=$$(nm -D --defined-only $(BENCH_FP_LIB)/libcell.so 2>/dev/null \
		| awk '{ sub(/@.*/, "", $$3); print $$3 }'); \
	missing=""; \
	for s in $(BENCH_FP_SYMS); do \
		printf '%s\n' "$$have" | grep -qx "$$s" || missing="$$missing $$s"; \
	done; \
	if [ -z "$$missing" ]; then \
		cell="-DBENCH_CELL $(BENCH_FP_SRC)/fastpath_cell.c -L$(BENCH_FP_LIB) \
			-Wl,-rpath,$(BENCH_FP_LIB) -lcell"; why=""; \
	elif [ ! -e $(BENCH_FP_LIB)/libcell.so ]; then cell=""; \
		why="$(BENCH_FP_LIB)/libcell.so missing"; \
	elif [ ! -e $(TOP)/lib/client.c ]; then cell=""; why="lib/client.c missing"; \
	elif [ ! -e $(TOP)/lib/server.c ]; then cell=""; why="lib/server.c missing"; \
	else cell=""; why="libcell.so lacks$$missing"; fi; \
	$(CC) $(BENCH_FP_CFLAGS) -o $(BENCH_FP_OUT)/fastpath $(BENCH_FP_SRC)/fastpath.c \
		$(BENCH_FP_SRC)/fastpath_raw.c $$cell -lpthread -lm && \
	$(BENCH_FP_OUT)/fastpath -o $(BENCH_FP_OUT)/fastpath.csv \
		$${why:+-C "$$why"} $(BENCH_FASTPATH_ARGS)

# make bench, part two: Cell beside its floors and the peers a user would
# pick (tools/bench/ipc*.c, ipc_grpc.cc), every case as two pinned
# processes at 64 B, 1 KiB, 64 KiB and 1 MiB; table, CSV and a gnuplot PNG
# under build/bench/results/.  A peer whose library or tool is missing is
# not compiled in, and the run says "<peer>: not available on this machine:
# <reason>".  Method in Documentation/benchmarks.rst.
#
#   make bench-ipc BENCH_IPC_ARGS='-r 5 -k cell,floor'   (see ipc -h)

BENCH_PARTS += bench-ipc

BENCH_IPC_OUT := $(BUILD)/bench/results
BENCH_IPC_ARGS ?=
BENCH_IOX_INC := /usr/include/iceoryx/v2.0.3
CXX ?= g++

.PHONY: bench-ipc
bench-ipc: build-default
	@mkdir -p $(BENCH_FP_OUT) $(BENCH_IPC_OUT)
	@set -e; src=$(BENCH_FP_SRC); out=$(BENCH_FP_OUT); \
	cflags="$(BENCH_FP_CFLAGS)"; objs=""; libs=""; unavail=""; link="$(CC)"; \
	cc_one() { $(CC) $$cflags $$2 -c -o $$out/$$1.o $$src/$$1.c; objs="$$objs $$out/$$1.o"; }; \
	cc_one ipc; cc_one ipc_raw; \
	if nm -D --defined-only $(BENCH_FP_LIB)/libcell.so 2>/dev/null | grep -q ' cell_server_run'; then \
		cc_one ipc_cell; libs="$$libs -L$(BENCH_FP_LIB) -Wl,-rpath,$(BENCH_FP_LIB) -lcell"; \
	else unavail="$$unavail|Cell: $(BENCH_FP_LIB)/libcell.so lacks the RPC client and server"; fi; \
	if pkg-config --exists libzmq; then \
		cc_one ipc_zmq "$$(pkg-config --cflags libzmq)"; libs="$$libs $$(pkg-config --libs libzmq)"; \
	else unavail="$$unavail|ZeroMQ: libzmq not found (Debian libzmq3-dev)"; fi; \
	if [ -e /usr/include/nng/nng.h ]; then \
		cc_one ipc_nng; libs="$$libs -lnng"; \
	else unavail="$$unavail|NNG: nng/nng.h not found (Debian libnng-dev)"; fi; \
	if [ -e $(BENCH_IOX_INC)/iceoryx_binding_c/client.h ] && command -v iox-roudi >/dev/null; then \
		cc_one ipc_iox "-I$(BENCH_IOX_INC) -DBENCH_IOX_ROUDI=\"$$(command -v iox-roudi)\""; \
		libs="$$libs -liceoryx_binding_c -liceoryx_posh -liceoryx_hoofs -liceoryx_platform -lstdc++"; \
	else unavail="$$unavail|iceoryx: the 2.0 C binding or iox-roudi not found (Debian libiceoryx-binding-c-dev, iceoryx)"; fi; \
	if pkg-config --exists grpc++ && command -v $(CXX) >/dev/null; then \
		$(CXX) -std=c++17 -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE $$(pkg-config --cflags grpc++) \
			-c -o $$out/ipc_grpc.o $$src/ipc_grpc.cc; objs="$$objs $$out/ipc_grpc.o"; \
		libs="$$libs $$(pkg-config --libs grpc++)"; link="$(CXX)"; \
	else unavail="$$unavail|gRPC: grpc++ or a C++ compiler not found (Debian libgrpc++-dev, g++)"; fi; \
	$$link -o $$out/ipc $$objs $$libs -lpthread -lm; \
	set --; IFS='|'; for u in $$unavail; do [ -n "$$u" ] && set -- "$$@" -u "$$u"; done; unset IFS; \
	rc=0; $$out/ipc -o $(BENCH_IPC_OUT) "$$@" $(BENCH_IPC_ARGS) || rc=$$?; \
	if command -v gnuplot >/dev/null; then \
		gnuplot -e "dir='$(BENCH_IPC_OUT)'" \
			$$src/ipc.gp && echo "plot: $(BENCH_IPC_OUT)/ipc.png"; \
	else echo "plot: not drawn: gnuplot not found (Debian gnuplot-nox)"; fi; \
	exit $$rc
