#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR MIT
# c_client_test.sh PYTHON GENDIR CLIENT PYPATH: the C client against a Python cell.
set -u
py=$1 gen=$2 client=$3
export PYTHONPATH=$4
CELL_RUNTIME_DIR=$(mktemp -d)
export CELL_RUNTIME_DIR
trap 'kill $pid 2>/dev/null; rm -rf "$CELL_RUNTIME_DIR"' EXIT
"$py" "$(dirname "$0")/py_demo_server.py" "$gen" pydemo >/dev/null &
pid=$!
for _ in $(seq 200); do [ -S "$CELL_RUNTIME_DIR/pydemo.sock" ] && break; sleep 0.02; done
timeout 30 "$client" pydemo
