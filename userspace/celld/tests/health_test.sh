#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# Health of local cells: celld's collector PINGs every local cell each
# round (-o collect.spans_ms); a cell that stops answering (SIGSTOP) turns
# "unreachable" in `cell ps -j`, and "ok" again once it answers (SIGCONT).
set -u
BIN=$1
. "$(dirname "$0")/lib.sh"
echo "TAP version 13"
start_celld -o collect.spans_ms=200 -o collect.timeout_ms=500 ||
	{ echo "1..0 # SKIP celld did not start"; exit 4; }
start_cell alpha
start_cell beta
health() { cell ps -j | python3 -c "
import json, sys
c = [x for x in json.load(sys.stdin) if x['name'] == '$1']
sys.exit(0 if c and c[0]['health'] == '$2' else 1)"; }
# wait_health NAME STATE: up to 10 s.
wait_health() { for _ in $(seq 100); do health "$1" "$2" && return 0; sleep 0.1; done; return 1; }
check "alpha and beta are ok" 'wait_health alpha ok && wait_health beta ok'
alpha_pid=$(cell ps -j | python3 -c "import json, sys; print([x['pid'] for x in json.load(sys.stdin) if x['name'] == 'alpha'][0])")
kill -STOP "$alpha_pid"
t0=$(date +%s%N)
check "alpha stopped (SIGSTOP): unreachable within 10 s" 'wait_health alpha unreachable'
echo "# turned unreachable after $(( ($(date +%s%N) - t0) / 1000000 )) ms"
check "beta still ok" 'health beta ok'
check "alpha still listed (a stopped cell is not a dead one)" 'cell ps -j | grep -q "\"alpha\""'
kill -CONT "$alpha_pid"
check "alpha answers again (SIGCONT): ok" 'wait_health alpha ok'
kill "$alpha_pid" 2>/dev/null
echo "1..$n"
exit $fail
