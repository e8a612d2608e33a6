# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# make bench, the bindings part: round trip p50/p99 of the Python client
# (SHM and unix paths) against the C demo server, beside the C client
# (demo_client, 1 s) and Python gRPC (python3-grpcio, unix socket, same
# payload size), and the ratio Python gRPC / Python Cell (goal >= 10).

BENCH_PARTS += bench-bindings
PY3 ?= $(shell [ -x /usr/bin/python3 ] && echo /usr/bin/python3 || command -v python3)

.PHONY: bench-bindings
bench-bindings: build-default
	@dir=$$(mktemp -d); export CELL_RUNTIME_DIR=$$dir; \
	$(BUILD)/default/userspace/examples/demo_server benchpy >/dev/null 2>&1 & pid=$$!; \
	sleep 0.3; \
	PYTHONPATH=$(TOP)/bindings/python $(PY3) $(TOP)/bindings/python/tests/rtt.py \
		$(BUILD)/default/bindings/gen benchpy 20000 | tee $$dir/py.txt; \
	$(BUILD)/default/userspace/examples/demo_client -n benchpy -t 1 | grep -E 'path|^ +32 '; \
	kill $$pid; wait $$pid 2>/dev/null; \
	if $(PY3) -c 'import grpc' 2>/dev/null; then \
		$(PY3) $(TOP)/bindings/python/tests/grpc_rtt.py 5000 | tee $$dir/grpc.txt; \
		awk '/shm-memfd/ { c = $$7 } /grpc/ { g = $$8 } END { \
			printf "ratio python grpc / python cell shm p50: %.1fx (goal >= 10)\n", g / c }' \
			$$dir/py.txt $$dir/grpc.txt; \
	else echo "python gRPC: SKIP (python3-grpcio not installed)"; fi; \
	rm -rf $$dir
