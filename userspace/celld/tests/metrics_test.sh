#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# celld's Prometheus exposition: a celld with -o http=127.0.0.1:0, three
# chain cells, some calls; the scrape of /metrics must pass `promtool check
# metrics` (SKIP of that case if promtool is missing) and hold the
# _bucket/_sum/_count and counters of each cell's methods; /healthz is 200.
set -u
BIN=$1
. "$(dirname "$0")/lib.sh"
chain="$BIN/userspace/celld/celld_chain_cell"
echo "TAP version 13"
start_celld -o discovery=off -o http=127.0.0.1:0 || { echo "1..0 # SKIP celld did not start"; exit 4; }
for pair in "c" "b c" "a b"; do
	set -- $pair
	"$chain" serve "$@" >>"$RUN/$1.log" 2>&1 &
	pids+=("$!")
	wait_for test -S "$CELL_RUNTIME_DIR/$1.sock"
done
wait_for ps_has a
port=""
for _ in $(seq 50); do
	port=$(sed -n 's/.*http: listening on .*:\([0-9]*\) .*/\1/p' "$RUN/celld.log" | tail -1)
	[ -n "$port" ] && break
	sleep 0.1
done
check "celld serves HTTP (port ${port:-none})" '[ -n "$port" ] && [ "$port" != 0 ]'
"$chain" call a 25 >/dev/null
get() { python3 -c "
import sys, urllib.request, urllib.error
try:
    r = urllib.request.urlopen('http://127.0.0.1:$port$1', timeout=5)
    sys.stdout.write(r.read().decode()); print('#status', r.status, file=sys.stderr)
except urllib.error.HTTPError as e:
    sys.stdout.write(e.read().decode()); print('#status', e.code, file=sys.stderr)
"; }
get /metrics >"$RUN/scrape.txt" 2>"$RUN/scrape.status"
check "GET /metrics answers 200" 'grep -q "#status 200" "$RUN/scrape.status"'
if command -v promtool >/dev/null; then
	check "promtool check metrics accepts the scrape" \
		'promtool check metrics <"$RUN/scrape.txt" >"$RUN/promtool.out" 2>&1 || { sed "s/^/# /" "$RUN/promtool.out"; false; }'
else
	n=$((n + 1)); echo "ok $n promtool check metrics # SKIP promtool not installed (Debian prometheus)"
fi
check "a's method 1: 25 calls in the +Inf bucket and _count" \
	'grep -q "^cell_call_duration_seconds_bucket{cell=\"a\",method=\"1\",le=\"+Inf\"} 25$" "$RUN/scrape.txt" &&
	 grep -q "^cell_call_duration_seconds_count{cell=\"a\",method=\"1\"} 25$" "$RUN/scrape.txt"'
check "c was called through b: 25 calls" \
	'grep -q "^cell_calls_total{cell=\"c\",method=\"1\"} 25$" "$RUN/scrape.txt"'
check "a's method 2 errors counted (2 NOT_FOUND)" \
	'grep -q "^cell_errors_total{cell=\"a\",method=\"2\"} 2$" "$RUN/scrape.txt"'
check "_sum and le buckets present, cumulative" 'python3 - "$RUN/scrape.txt" <<"PY"
import re, sys
rows = [l for l in open(sys.argv[1]) if l.startswith("cell_call_duration_seconds_bucket{cell=\"a\",method=\"1\"")]
counts = [int(l.split()[-1]) for l in rows]
sums = [l for l in open(sys.argv[1]) if l.startswith("cell_call_duration_seconds_sum{cell=\"a\",method=\"1\"}")]
sys.exit(0 if len(rows) > 10 and counts == sorted(counts) and counts[-1] == 25 and sums and float(sums[0].split()[-1]) > 0 else 1)
PY'
check "every cell up" 'grep -q "^cell_up{cell=\"a\"} 1$" "$RUN/scrape.txt" && grep -q "^cell_up{cell=\"c\"} 1$" "$RUN/scrape.txt"'
get /healthz >"$RUN/health.txt" 2>"$RUN/health.status"
check "/healthz is 200 and lists a, b, c" \
	'grep -q "#status 200" "$RUN/health.status" && grep -q "^a ok" "$RUN/health.txt" && grep -q "^c ok" "$RUN/health.txt"'
get /nothing >/dev/null 2>"$RUN/nf.status"
check "another path is 404" 'grep -q "#status 404" "$RUN/nf.status"'
echo "1..$n"
exit $fail
