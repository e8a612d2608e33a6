#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# logs_test.sh BUILD_DIR: the log rings of supervised cells and `cell logs`
# (Documentation/capsid.rst, "Logs").  Both streams captured; -n; -j is
# JSON; -f sees lines written later and ends on SIGINT and SIGTERM; a line
# longer than the limit split; an unknown cell NOT_FOUND; the records of
# each restarted instance, and of a name spawned again; a cell spewing 50 MB into a 64k ring: celld's
# RSS stays bounded, every line is kept or counted as dropped, and celld
# answers meanwhile.
set -u
# shellcheck source=userspace/celld/tests/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=userspace/celld/tests/capsid_lib.sh
. "$(dirname "$0")/capsid_lib.sh"
capsid_begin "$1"
conf=$RUN/cells.d
mkdir -p "$conf"
# talk: three lines on each stream, a 10000-byte line, then waits in its
# data directory (its cwd) for "go" and says "after go".
cat >"$RUN/talk.sh" <<'SH'
#!/bin/sh
for i in 1 2 3; do echo "out $i"; echo "err $i" >&2; done
head -c 10000 /dev/zero | tr '\0' x; echo
echo ready
while [ ! -e go ]; do sleep 0.05; done
echo "after go"
exec sleep 1000
SH
# flaky: one line per run, then fails; 3 runs in all.
printf '#!/bin/sh\necho "run of flaky"\nexit 1\n' >"$RUN/flaky.sh"
# spew: waits for "go", then writes 50000000 bytes: 781250 lines of 64 bytes.
cat >"$RUN/spew.sh" <<'SH'
#!/bin/sh
while [ ! -e go ]; do sleep 0.05; done
yes 'spew spew spew spew spew spew spew spew spew spew spew 01234567' | head -c 50000000
SH
chmod 755 "$RUN"/*.sh
for c in talk flaky spew; do
	{
		echo "name=$c"
		echo "exec=$RUN/$c.sh"
		echo "ro=$RUN/$c.sh"
		echo "ready=none" # no PING: they serve nothing
	} >"$conf/$c.conf"
done
printf 'restart=never\n' >>"$conf/talk.conf"
printf 'restart=on-failure\nmax_restarts=2\nbackoff_ms=50\n' >>"$conf/flaky.conf"
printf 'restart=never\nlog_size=64k\n' >>"$conf/spew.conf"
printf 'name=badlog\nexec=/usr/bin/true\nlog_size=1g\n' >"$conf/badlog.conf"
start_celld -o "capsid.dir=$conf"
data=$RUN/state/capsid
out=$RUN/out
ready() { cell logs talk | grep -q " ready$"; }
check "talk is ready" 'wait_for ready'
cell logs talk >"$out.text" 2>"$out.err"
check "text: every line TIME STREAM LINE" \
	'[ -s "$out.text" ] && ! grep -Evq "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{6}Z (stdout|stderr)\+? " "$out.text"'
check "stdout captured" 'grep -q " stdout out 2$" "$out.text"'
check "stderr captured" 'grep -q " stderr err 3$" "$out.text"'
cell logs talk -j >"$out.json"
check "-j: every line is a JSON object" \
	'python3 -c "import json,sys; [json.loads(l) for l in open(sys.argv[1])]" "$out.json"'
streams() {
	python3 - "$out.json" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
got = [(r["stream"], r["line"]) for r in recs if r["line"].startswith(("out", "err"))]
want = [("stdout", "out %d" % i) for i in (1, 2, 3)] + [("stderr", "err %d" % i) for i in (1, 2, 3)]
assert sorted(got) == sorted(want), got
seqs = [r["seq"] for r in recs]
assert seqs == list(range(1, len(recs) + 1)), seqs
assert all(r["instance"] == 1 and r["pid"] > 0 for r in recs)
PY
}
check "-j: both streams, seqs 1.., instance 1" streams
split() {
	python3 - "$out.json" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
xs = [r for r in recs if r["line"].startswith("x")]
assert "".join(r["line"] for r in xs) == "x" * 10000, len(xs)
assert [r["split"] for r in xs] == [True, True, False], [len(r["line"]) for r in xs]
assert len(xs[0]["line"]) == 4096
PY
}
check "a 10000-byte line: records of 4096, 4096, 1808, split marked" split
check "text marks the split records stdout+" '[ "$(grep -c " stdout+ x" "$out.text")" = 2 ]'
check "-n 2: the newest two" \
	'[ "$(cell logs talk -n 2 | cut -d" " -f2-)" = "$(tail -n 2 "$out.text" | cut -d" " -f2-)" ]'
check "-n 1 -j: one record" '[ "$(cell logs talk -n 1 -j | wc -l)" = 1 ]'
check "an unknown cell: NOT_FOUND, exit 1" \
	'! cell logs nosuch 2>"$out.nf" && grep -q "NOT_FOUND" "$out.nf"'
check "a bad log_size is refused" 'grep -q "badlog.conf: log_size=1g: a size from 16k to 64M" "$log"'

# -f: sees "after go", written after it started; ends on SIGINT with 0.
"$BIN/userspace/cell/cell" logs talk -f -n 1 >"$out.f" 2>&1 &
fpid=$!
pids+=("$fpid")
check "-f -n 1 prints the newest line" 'wait_for grep -q " ready$" "$out.f"'
touch "$data/talk/go"
check "-f sees a line written later" 'wait_for grep -q " stdout after go$" "$out.f"'
check "-f printed only from the newest on" '[ "$(wc -l <"$out.f")" = 2 ]'
kill -INT "$fpid"
wait "$fpid"
st=$?
check "-f ends on SIGINT with status 0 (got $st)" '[ "$st" = 0 ]'
"$BIN/userspace/cell/cell" logs talk -f -n 0 -j >"$out.f0" 2>&1 &
fpid=$!
pids+=("$fpid")
sleep 0.5
kill -TERM "$fpid"
wait "$fpid"
st=$?
check "-f -n 0 prints nothing old, ends on SIGTERM with 0 (got $st)" '[ "$st" = 0 ] && [ ! -s "$out.f0" ]'

# Restarts: the ring keeps every instance's lines with its pid.
check "flaky failed after 2 restarts" 'wait_for grep -q "capsid flaky: exited (exit status 1); failed" "$log"'
instances() {
	cell logs flaky -j | python3 -c '
import json, sys
recs = [json.loads(l) for l in sys.stdin]
assert [r["line"] for r in recs] == ["run of flaky"] * 3, recs
assert [r["instance"] for r in recs] == [1, 2, 3], recs
assert len({r["pid"] for r in recs}) == 3, recs'
}
check "three runs of flaky: instances 1 2 3, three pids" instances

# `cell spawn` of a name again: the same ring, the next instance.
exited_since() { tail -n +"$1" "$log" | grep -q "capsid again: exited (exit status 0)"; }
respawn() {
	cell spawn again --restart=never -o ready=none -- /bin/sh -c "echo $1" >/dev/null &&
		wait_for exited_since "$2"
}
check "cell spawn: a cell that says first" 'respawn first 1'
# shellcheck disable=SC2034 # read by the check string (eval)
lines=$(wc -l <"$log")
check "spawned again under the same name: says second" 'respawn second "$((lines + 1))"'
again() {
	cell logs again -j | python3 -c '
import json, sys
recs = [json.loads(l) for l in sys.stdin]
assert [(r["line"], r["instance"]) for r in recs] == [("first", 1), ("second", 2)], recs'
}
check "its ring kept both: first (instance 1), second (instance 2)" again

# A spew of 50 MB into a 64k ring.
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$celld_pid/status"; }
rss0=$(rss)
touch "$data/spew/go"
t0=$(date +%s%N)
answered=0
while ! grep -q "capsid spew: exited" "$log"; do
	if timeout 5 "$BIN/userspace/cell/cell" logs spew -n 1 >/dev/null 2>&1; then
		answered=$((answered + 1))
	fi
	[ $(($(date +%s%N) - t0)) -gt 60000000000 ] && break
done
t1=$(date +%s%N)
rss1=$(rss)
echo "# spew: 50000000 bytes in $(((t1 - t0) / 1000000)) ms; celld VmRSS ${rss0} kB -> ${rss1} kB; $answered answers during it"
check "the spew cell exited" 'grep -q "capsid spew: exited (exit status 0)" "$log"'
check "celld answered cell logs while the cell spewed ($answered times)" '[ "$answered" -ge 1 ]'
check "celld's RSS grew by less than 4 MiB (${rss0} -> ${rss1} kB)" '[ $((rss1 - rss0)) -lt 4096 ]'
cell logs spew -j >"$out.spew" 2>"$out.spew.err"
spewcount() {
	# Every line the cell wrote is in the ring or counted as dropped.
	python3 - "$out.spew" "$out.spew.err" <<'PY'
import json, re, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
err = open(sys.argv[2]).read()
assert all(r["stream"] == "stdout" for r in recs), [r for r in recs if r["stream"] != "stdout"]
m = re.search(r"(\d+) older records \((\d+) bytes\) were dropped: the ring \(65536 bytes\) wrapped", err)
assert m, err
dropped = int(m.group(1))
lines = 50000000 // 64
assert dropped + len(recs) == lines, (dropped, len(recs), lines)
assert lines == 781250
assert recs[-1]["seq"] == lines and recs[-1]["eol"], recs[-1]
assert [r["seq"] for r in recs] == list(range(lines - len(recs) + 1, lines + 1))
assert sum((32 + len(r["line"]) + 7) // 8 * 8 for r in recs) <= 65536
print("# spew: %d records kept, %d dropped (%s bytes)" % (len(recs), dropped, m.group(2)))
PY
}
check "all 781250 lines kept or counted dropped; the ring holds at most 64k" spewcount
check "celld still answers" 'cell ps >/dev/null'
stop_all
echo "1..$n"
exit "$fail"
