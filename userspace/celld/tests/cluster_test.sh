#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# Three celld in one Raft group (Documentation/raft.rst) on loopback
# ports, each with its own runtime and state directory: election, a write
# sent to a follower follows NOT_LEADER to the leader and is applied once,
# linearizable reads on every node, cas, kill -9 of the leader (a new one
# is elected and every acknowledged write is still there), the killed node
# rejoins from its log, and a node whose log was damaged refuses to start.
set -u
BIN=$1
. "$(dirname "$0")/lib.sh"
echo "TAP version 13"
echo "1..20"

base=$((20000 + RANDOM % 20000))
peers=""
for i in 1 2 3; do
	mkdir -p "$RUN/n$i/run" "$RUN/n$i/state"
	peers="$peers${peers:+,}$i@127.0.0.1:$((base + i))=unix:$RUN/n$i/run/nucleus.sock"
done
declare -A npid
start_node() {
	local i=$1
	"$BIN/userspace/celld/celld" -r "$RUN/n$i/run" -s "$RUN/n$i/state" -S -v \
		-o discovery=off -o cluster.id="$i" -o cluster.address="127.0.0.1:$((base + i))" \
		-o cluster.peers="$peers" -o cluster.election_ms=300 -o cluster.snapshot_every=64 \
		>>"$RUN/n$i.log" 2>&1 &
	npid[$i]=$!
	pids+=("${npid[$i]}")
}
on() { local i=$1; shift; CELL_RUNTIME_DIR=$RUN/n$i/run "$BIN/userspace/cell/cell" "$@"; }
state_of() { on "$1" cluster -j 2>/dev/null | python3 -c "import json,sys; print(json.load(sys.stdin)['state'])" 2>/dev/null; }
leader() {
	for i in 1 2 3; do
		[ -n "${down:-}" ] && [ "$i" = "$down" ] && continue
		[ "$(state_of "$i")" = leader ] && { echo "$i"; return 0; }
	done
	return 1
}
wait_leader() { for _ in $(seq 200); do L=$(leader) && return 0; sleep 0.05; done; return 1; }

for i in 1 2 3; do start_node "$i"; done
for i in 1 2 3; do wait_for test -S "$RUN/n$i/run/nucleus.sock"; done
check "three nodes elect a leader" wait_leader
F=$(( L % 3 + 1 ))
check "a put sent to follower $F is redirected to leader $L and applied" \
	"on $F kv put color blue"
check "every node reads it (linearizable read through the leader)" \
	"[ \"\$(on 1 kv get color)\" = blue ] && [ \"\$(on 2 kv get color)\" = blue ] && [ \"\$(on 3 kv get color)\" = blue ]"
on "$F" kv cas color red green; rc=$?
check "cas with the wrong old value: exit 3, value unchanged" \
	"[ $rc = 3 ] && [ \"\$(on $L kv get color)\" = blue ]"
check "cas with the right old value" "on $F kv cas color blue green && [ \"\$(on $L kv get color)\" = green ]"
on "$L" kv cas -a color x; rc=$?
check "cas -a on an existing key: exit 3" "[ $rc = 3 ]"
check "del, then get says not found (exit 3)" "on $F kv del color && ! on $L kv get color"
for k in $(seq 1 100); do on "$F" kv put "k$k" "v$k" >/dev/null || break; done
check "100 more writes (past two snapshots of 64 entries)" \
	"[ \"\$(on $L kv get k100)\" = v100 ]"

old=$L
kill -9 "${npid[$old]}"
down=$old
check "kill -9 of leader $old: a new leader is elected" "wait_leader && [ \"\$L\" != \"$old\" ]"
check "every acknowledged write survives on the new leader $L" \
	"[ \"\$(on $L kv get k1)\" = v1 ] && [ \"\$(on $L kv get k100)\" = v100 ]"
check "the two survivors take a write" "on $L kv put after kill"
start_node "$old"
down=""
wait_for test -S "$RUN/n$old/run/nucleus.sock"
ok=1
for _ in $(seq 100); do [ "$(on "$old" kv get after 2>/dev/null)" = kill ] && { ok=0; break; }; sleep 0.1; done
check "node $old restarts from its log and rejoins" "[ $ok = 0 ]"
[ $ok = 0 ] || tail -5 "$RUN/n$old.log" | sed 's/^/# /' 

# A damaged log: stop a follower, flip bytes inside its newest segment.
V=$(( L % 3 + 1 ))
kill "${npid[$V]}"; wait "${npid[$V]}" 2>/dev/null
seg=$(ls -t "$RUN/n$V/state/raft"/0* 2>/dev/null | head -1)
if [ -n "$seg" ]; then
	size=$(stat -c %s "$seg")
	printf '\xde\xad\xbe\xef\xde\xad\xbe\xef' | dd of="$seg" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
fi
: >"$RUN/n$V.log"
start_node "$V"
sleep 1.5
alive=0; kill -0 "${npid[$V]}" 2>/dev/null && alive=1
check "node $V with a damaged log refuses to start" "[ -n \"$seg\" ] && [ $alive = 0 ]"
check "and says which directory (log: $(tr '\n' ' ' <"$RUN/n$V.log" | cut -c1-160))" \
	"grep -q \"$RUN/n$V/state/raft\" \"$RUN/n$V.log\""

# A damaged snapshot: the third node (neither the leader nor V).
W=$(( 6 - L - V ))
kill "${npid[$W]}"; wait "${npid[$W]}" 2>/dev/null
snap=$(ls -t "$RUN/n$W/state/raft"/snapshot-* 2>/dev/null | grep -v '\.meta$' | head -1)
[ -n "$snap" ] && cp "$snap" "$RUN/snap.orig"
if [ -n "$snap" ]; then
	size=$(stat -c %s "$snap")
	printf '\xde\xad\xbe\xef' | dd of="$snap" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
fi
: >"$RUN/n$W.log"
start_node "$W"
sleep 1.5
alive=0; kill -0 "${npid[$W]}" 2>/dev/null && alive=1
check "node $W with bytes flipped in its snapshot refuses to start" "[ -n \"$snap\" ] && [ $alive = 0 ]"
check "and names the snapshot file (log: $(grep cluster "$RUN/n$W.log" | tr '\n' ' ' | cut -c1-220))" \
	"grep -q \"$(basename "${snap:-none}")\" \"$RUN/n$W.log\""
[ $alive = 1 ] && { kill "${npid[$W]}"; wait "${npid[$W]}" 2>/dev/null; }
if [ -n "$snap" ]; then
	head -c $(( $(stat -c %s "$RUN/snap.orig") / 2 )) "$RUN/snap.orig" >"$snap"
fi
: >"$RUN/n$W.log"
start_node "$W"
sleep 1.5
alive=0; kill -0 "${npid[$W]}" 2>/dev/null && alive=1
check "node $W with its snapshot truncated to half refuses to start" "[ -n \"$snap\" ] && [ $alive = 0 ]"
check "and names the snapshot file (log: $(grep cluster "$RUN/n$W.log" | tr '\n' ' ' | cut -c1-220))" \
	"grep -q \"$(basename "${snap:-none}")\" \"$RUN/n$W.log\""
[ $alive = 1 ] && { kill "${npid[$W]}"; wait "${npid[$W]}" 2>/dev/null; }

# A truncated log segment (the snapshot put back whole): W again.
[ -n "$snap" ] && cp "$RUN/snap.orig" "$snap"
seg=$(ls "$RUN/n$W/state/raft"/0*-0* 2>/dev/null | tail -1)
[ -n "$seg" ] && truncate -s $(( $(stat -c %s "$seg") / 2 )) "$seg"
: >"$RUN/n$W.log"
start_node "$W"
sleep 1.5
alive=0; kill -0 "${npid[$W]}" 2>/dev/null && alive=1
check "node $W with a log segment truncated to half refuses to start" "[ -n \"$seg\" ] && [ $alive = 0 ]"
check "and names the segment (log: $(grep cluster "$RUN/n$W.log" | tr '\n' ' ' | cut -c1-220))" \
	"grep -q \"$(basename "${seg:-none}")\" \"$RUN/n$W.log\""
stop_all
exit $fail
