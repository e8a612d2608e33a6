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
# Discovery on a port of this test's own (no other celld hears it), IPv4
# only: its celld_discovery_* families must be in the scrape too.
dport=$((20000 + ($$ % 10000) * 2))
start_celld -o discovery=auto -o discovery.port=$dport -o discovery.group6=off -o http=127.0.0.1:0 || { echo "1..0 # SKIP celld did not start"; exit 4; }
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
check "gauges: nothing in flight at a now, c has a client (b, or celld's collector)" \
	'grep -q "^cell_calls_in_flight{cell=\"a\"} 0$" "$RUN/scrape.txt" &&
	 grep -Eq "^cell_clients_connected{cell=\"c\"} [1-9][0-9]*$" "$RUN/scrape.txt"'
check "every cell up" 'grep -q "^cell_up{cell=\"a\"} 1$" "$RUN/scrape.txt" && grep -q "^cell_up{cell=\"c\"} 1$" "$RUN/scrape.txt"'
# Discovery: a junk datagram on the pheromone port and one on the ping
# port must move the drop counters (the BPF filter's or userspace's).
if grep -q "discovery: node" "$RUN/celld.log"; then
	python3 -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(b'CELP' + bytes(96), ('127.0.0.1', $dport))
s.sendto(b'CELV' + bytes(140), ('127.0.0.1', $dport + 1))"
	sleep 0.3
	get /metrics >"$RUN/scrape2.txt" 2>/dev/null
	if command -v promtool >/dev/null; then
		check "promtool accepts the scrape with the discovery families" \
			'promtool check metrics <"$RUN/scrape2.txt" >"$RUN/promtool2.out" 2>&1 || { sed "s/^/# /" "$RUN/promtool2.out"; false; }'
	fi
	check "discovery families with HELP and TYPE counter/gauge" 'python3 - "$RUN/scrape2.txt" <<"PY"
import sys
text = open(sys.argv[1]).read()
want = {"celld_discovery_received_total": "counter", "celld_discovery_accepted_total": "counter",
        "celld_discovery_dropped_total": "counter", "celld_discovery_malformed_total": "counter",
        "celld_discovery_bpf_dropped_total": "counter", "celld_discovery_pings_dropped_total": "counter",
        "celld_discovery_pongs_received_total": "counter", "celld_discovery_peers": "gauge",
        "celld_discovery_peer_rtt_seconds": "gauge", "celld_discovery_peer_rtt_samples_total": "counter",
        "celld_discovery_ping_rx_wait_seconds_total": "counter",
        "celld_discovery_pong_hold_seconds_total": "counter"}
bad = [f for f, t in want.items() if "# TYPE %s %s\n" % (f, t) not in text or "# HELP %s " % f not in text]
print("# missing:", bad) if bad else None
sys.exit(1 if bad else 0)
PY'
	val() { sed -n "s/^$1 //p" "$RUN/scrape2.txt"; }
	check "the junk pheromone counted (bad_length in userspace or BPF drop)" \
		'[ $(( $(val "celld_discovery_malformed_total{verdict=\"bad_length\"}") + $(val celld_discovery_bpf_dropped_total) )) -ge 1 ]'
	check "the junk ping counted (pings_dropped{reason=malformed} 1)" \
		'[ "$(val "celld_discovery_pings_dropped_total{reason=\"malformed\"}")" = 1 ]'
	check "cell peers -j says the same" 'cell peers -j | python3 -c "
import json, sys
d = json.load(sys.stdin)
sys.exit(0 if d[\"enabled\"] and d[\"counters\"][\"ping_bad_malformed\"] == 1 and len(d[\"node\"]) == 64 else 1)"'
else
	n=$((n + 1)); echo "ok $n discovery families # SKIP discovery did not start here: $(grep "discovery:" "$RUN/celld.log" | head -1)"
fi
get /healthz >"$RUN/health.txt" 2>"$RUN/health.status"
check "/healthz is 200 and lists a, b, c" \
	'grep -q "#status 200" "$RUN/health.status" && grep -q "^a ok" "$RUN/health.txt" && grep -q "^c ok" "$RUN/health.txt"'
get /nothing >/dev/null 2>"$RUN/nf.status"
check "another path is 404" 'grep -q "#status 404" "$RUN/nf.status"'
echo "1..$n"
exit $fail
