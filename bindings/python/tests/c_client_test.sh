#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR MIT
# c_client_test.sh PYTHON GENDIR CLIENT PYPATH [CELLC DEMO_CELL]: the C client
# against a Python cell; with cellc, the schema the other way as well:
# cellc --from-running on the Python cell generates, for every output, what
# demo.cell gives, byte for byte.
set -u
py=$1 gen=$2 client=$3
export PYTHONPATH=$4
cellc=${5:-} demo_cell=${6:-}
CELL_RUNTIME_DIR=$(mktemp -d)
export CELL_RUNTIME_DIR
trap 'kill $pid 2>/dev/null; rm -rf "$CELL_RUNTIME_DIR"' EXIT
"$py" "$(dirname "$0")/py_demo_server.py" "$gen" pydemo >/dev/null &
pid=$!
for _ in $(seq 500); do [ -S "$CELL_RUNTIME_DIR/pydemo.sock" ] && break; sleep 0.02; done
rc=0
out=$(timeout 30 "$client" pydemo) || rc=$?
grep -v '^1\.\.' <<<"$out"
n=$(grep -c '^\(not \)\?ok ' <<<"$out")
[ -z "$cellc" ] && { echo "1..$n"; exit "$rc"; }
for args in "" --lang=python --lang=go --mcu --canonical --fingerprint; do
	n=$((n + 1))
	what="cellc ${args:-(C header)} --from-running on the Python cell: demo.cell's output"
	# shellcheck disable=SC2086 # word splitting of $args intended
	if (cd "$(dirname "$demo_cell")" && "$cellc" $args "$(basename "$demo_cell")") \
		>"$CELL_RUNTIME_DIR/file.out" 2>&1 &&
		"$cellc" $args --from-running pydemo >"$CELL_RUNTIME_DIR/live.out" \
			2>"$CELL_RUNTIME_DIR/err" &&
		[ -s "$CELL_RUNTIME_DIR/live.out" ] &&
		cmp -s "$CELL_RUNTIME_DIR/file.out" "$CELL_RUNTIME_DIR/live.out"; then
		echo "ok $n $what"
	else
		echo "not ok $n $what"
		sed 's/^/# /' "$CELL_RUNTIME_DIR/err"
		rc=1
	fi
done
echo "1..$n"
exit "$rc"
