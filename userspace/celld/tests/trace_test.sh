#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# A trace across three cells: A calls B calls C (chain_cell, three
# processes registered with one celld).  One sampled call into A (and
# two of a method that fails); then `cell trace -j ID` must give spans
# whose parent links form A -> B -> C under the caller's root, and the
# text form the same tree.
set -u
BIN=$1
. "$(dirname "$0")/lib.sh"
chain="$BIN/userspace/celld/celld_chain_cell"
echo "TAP version 13"
start_celld -o discovery=off || { echo "1..0 # SKIP celld did not start"; exit 4; }
for pair in "c" "b c" "a b"; do
	set -- $pair
	"$chain" serve "$@" >>"$RUN/$1.log" 2>&1 &
	pids+=("$!")
	[ "$1" = c ] && cpid=$!
	wait_for test -S "$CELL_RUNTIME_DIR/$1.sock"
done
wait_for ps_has c && wait_for ps_has b && wait_for ps_has a
check "three chain cells registered with celld" 'ps_has a && ps_has b && ps_has c'

id=$("$chain" call a 1 -t)
check "a traced call through a, b and c" '[ ${#id} -eq 32 ]'
# The span of each cell is recorded once its answer is out: poll briefly.
for _ in $(seq 50); do
	cell trace -j "$id" >"$RUN/trace.json" 2>"$RUN/trace.err" &&
		python3 -c "import json,sys; sys.exit(0 if json.load(open('$RUN/trace.json'))['count']>=5 else 1)" 2>/dev/null && break
	sleep 0.1
done
check "cell trace -j finds the trace" 'python3 -m json.tool "$RUN/trace.json" >/dev/null'
check "parent links root -> a -> b -> c; a's two failed calls are roots too" 'python3 - "$RUN/trace.json" "$id" <<"PY"
import json, sys
t = json.load(open(sys.argv[1]))
spans = {s["cell"]: s for s in t["spans"] if s["method"] == 1}
failed = [s for s in t["spans"] if s["method"] == 2]
ok = (t["trace_id"] == sys.argv[2] and t["count"] == 5 and sorted(spans) == ["a", "b", "c"]
      and len(failed) == 2 and all(s["status"] == "NOT_FOUND" and s["cell"] == "a" and s["depth"] == 0
                                   and s["parent_id"] == spans["a"]["parent_id"] for s in failed)
      and spans["b"]["parent_id"] == spans["a"]["span_id"]
      and spans["c"]["parent_id"] == spans["b"]["span_id"]
      and spans["a"]["parent_id"] not in (spans["b"]["span_id"], spans["c"]["span_id"])
      and [spans[c]["depth"] for c in "abc"] == [0, 1, 2]
      and all(s["status"] == "OK" for s in spans.values()))
if not ok:
    print("# " + json.dumps(t), file=sys.stderr)
sys.exit(0 if ok else 1)
PY'
cell trace "$id" >"$RUN/trace.txt"
sed 's/^/# /' "$RUN/trace.txt"
check "the text tree indents b under a and c under b" \
	'grep -q "^a " "$RUN/trace.txt" && grep -q "^  b " "$RUN/trace.txt" && grep -q "^    c " "$RUN/trace.txt"'
# celld keeps what it collected: the trace outlives cell c's process.
kill "$cpid"
wait_for sh -c "! ps_has c" 2>/dev/null || true
check "c's span is still in celld's store after c exited" \
	'cell trace -j "$id" | python3 -c "import json,sys; t=json.load(sys.stdin); sys.exit(0 if t[\"count\"]==5 and any(s[\"cell\"]==\"c\" for s in t[\"spans\"]) else 1)"'
check "an unknown trace is a clear failure" \
	'! cell trace 0123456789abcdef0123456789abcdef 2>"$RUN/none.err" && grep -q "no span" "$RUN/none.err"'
check "a malformed trace id is a usage error" \
	'cell trace xyz 2>/dev/null; [ $? -eq 2 ]'
echo "1..$n"
exit $fail
