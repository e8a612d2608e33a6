# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# make bench, the bindings part: round trip p50/p99 of the Python and Go
# clients (SHM and unix paths) against the C demo server, beside the C client
# (demo_client, 1 s) and Python gRPC (python3-grpcio, unix socket, same
# payload size), and the ratio Python gRPC / Python Cell (goal >= 10).

BENCH_PARTS += bench-bindings
PY3 ?= $(shell [ -x /usr/bin/python3 ] && echo /usr/bin/python3 || command -v python3)
GO_BIN ?= $(shell [ -x /usr/lib/go-1.19/bin/go ] && echo /usr/lib/go-1.19/bin/go || command -v go)

.PHONY: bench-bindings
bench-bindings: build-default
	@dir=$$(mktemp -d); export CELL_RUNTIME_DIR=$$dir; \
	$(BUILD)/default/userspace/examples/demo_server benchpy >/dev/null 2>&1 & pid=$$!; \
	sleep 0.3; \
	PYTHONPATH=$(TOP)/bindings/python $(PY3) $(TOP)/bindings/python/tests/rtt.py \
		$(BUILD)/default/bindings/gen benchpy 20000 | tee $$dir/py.txt; \
	if [ -n "$(GO_BIN)" ]; then \
		$(TOP)/bindings/go/tests/go_test.sh $(GO_BIN) $(TOP)/bindings/go \
			$(BUILD)/default/bindings/gen $(BUILD)/default/bindings/go rtt benchpy 20000 \
			| tee $$dir/go.txt; \
	else echo "go client: SKIP (golang-go not installed)"; fi; \
	$(BUILD)/default/userspace/examples/demo_client -n benchpy -t 1 | grep -E 'path|^ +32 ' \
		| tee $$dir/c.txt; \
	if [ -s $$dir/go.txt ]; then \
		awk '/^go .*shm-memfd/ { g = $$7 } /^go .*unix/ { u = $$7 } /^ +32 / { c = $$3 } END { \
			printf "ratio go shm / C shm p50: %.1fx; go unix / go shm p50: %.1fx\n", \
				g / c, u / g }' $$dir/go.txt $$dir/c.txt; \
	fi; \
	kill $$pid; wait $$pid 2>/dev/null; \
	if $(PY3) -c 'import grpc' 2>/dev/null; then \
		$(PY3) $(TOP)/bindings/python/tests/grpc_rtt.py 5000 | tee $$dir/grpc.txt; \
		awk '/shm-memfd/ { c = $$7 } /grpc/ { g = $$8 } END { \
			printf "ratio python grpc / python cell shm p50: %.1fx (goal >= 10)\n", g / c }' \
			$$dir/py.txt $$dir/grpc.txt; \
	else echo "python gRPC: SKIP (python3-grpcio not installed)"; fi; \
	rm -rf $$dir
