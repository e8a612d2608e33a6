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
