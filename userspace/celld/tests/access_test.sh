#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# access_test.sh BUILD_DIR: access control on the nucleus (access.c), from
# real capsids under celld's supervisor.  Host cells "friend" and "victim";
# sandboxed cells (access_cell):
#   probe    given friend's socket: its own name and friend are allowed,
#            victim, kv, cluster, ... are PERMISSION_DENIED;
#   granted  the same with grant=cluster,list: those two succeed;
#   flood    nucleus_rate=50, nucleus_burst=20, calls as fast as answered;
#   polite   100 calls 10 ms apart while flood floods: all succeed.
# A host client's calls during the flood all succeed, and a host process
# of the cells' uid (65534) outside any capsid is not trusted.
set -u
# shellcheck source=userspace/celld/tests/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=userspace/celld/tests/capsid_lib.sh
. "$(dirname "$0")/capsid_lib.sh"
capsid_begin "$1"
AC=$BIN/userspace/celld/celld_access_cell
conf=$RUN/cells.d
mkdir -p "$conf"
R=$CELL_RUNTIME_DIR
cat >"$conf/probe.conf" <<CONF
name=probe
exec=$AC probe probe friend victim $R
ro=$BIN
peer=$R/friend.sock
restart=never
CONF
cat >"$conf/granted.conf" <<CONF
name=granted
exec=$AC probe granted friend victim $R
ro=$BIN
peer=$R/friend.sock
grant=cluster,list
restart=never
CONF
cat >"$conf/flood.conf" <<CONF
name=flood
exec=$AC flood flood 3
ro=$BIN
nucleus_rate=50
nucleus_burst=20
restart=never
CONF
cat >"$conf/polite.conf" <<CONF
name=polite
exec=$AC polite polite 100 10
ro=$BIN
restart=never
CONF
cat >"$conf/handoff.conf" <<CONF
name=handoff
exec=$AC handoff victim
ro=$BIN
peer=$R/friend.sock
restart=never
CONF
printf 'name=badgrant\nexec=/usr/bin/true\ngrant=kv,nosuch\n' >"$conf/badgrant.conf"
printf 'name=allgrant\nexec=/usr/bin/true\ngrant=spawn,stop,logs,swap\nrestart=never\n' \
	>"$conf/allgrant.conf"
# The host cells first (celld's scan finds them): a capsid is given friend's socket at its start.
start_cell friend
start_cell victim
start_celld -o "capsid.dir=$conf"
data=$RUN/state/capsid
check "the probe cell wrote its results" 'wait_for grep -qx done "$data/probe/probe.out"'
check "the granted cell wrote its results" 'wait_for grep -qx done "$data/granted/probe.out"'
sed 's/^/# probe: /' "$data/probe/probe.out"
p() { grep -q "^$1=$2" "$data/probe/probe.out"; }
g() { grep -q "^$1=$2" "$data/granted/probe.out"; }
check "probe: enroll of its own name succeeds" 'p enroll_self OK'
check "probe: enroll of another name is PERMISSION_DENIED" \
	'p enroll_other "PERMISSION_DENIED: cell .probe. may enroll only itself, not .victim."'
check "probe: withdraw of another cell is PERMISSION_DENIED" 'p withdraw_victim PERMISSION_DENIED'
check "probe: lookup of itself succeeds" 'p lookup_self OK'
check "probe: lookup of the peer its conf names succeeds" 'p lookup_peer OK'
check "probe: lookup of a cell it was not given is PERMISSION_DENIED" \
	'p lookup_victim "PERMISSION_DENIED: cell .probe. may look up only itself and the cells its conf gives it"'
check "probe: list answers only itself and its peer" \
	'grep -Eq "^list_all=OK total 2 names( probe| friend){2}$" "$data/probe/probe.out"'
check "probe: list of another cell is PERMISSION_DENIED" 'p list_victim PERMISSION_DENIED'
for m in kv cluster discovery spans; do
	check "probe: $m is PERMISSION_DENIED (not granted)" \
		"p $m 'PERMISSION_DENIED: cell .probe. is not granted nucleus method $m'"
done
check "probe: ping succeeds" 'p ping OK'
check "probe: withdraw of its own name succeeds" 'p withdraw_self OK'
check "probe: another cell's socket it was not given cannot be opened" \
	'p open_victim_socket "No such file or directory"'
check "granted: cluster (granted) succeeds" 'g cluster OK'
check "granted: list (granted) shows every cell" \
	'grep -Eq "^list_all=OK total [0-9]+ names.* victim" "$data/granted/probe.out"'
check "granted: kv (not granted) is still PERMISSION_DENIED" 'g kv PERMISSION_DENIED'
check "a bad grant= is refused with its reason" \
	'grep -q "badgrant.conf: grant=kv,nosuch: nosuch is no nucleus method" "$log"'
check "grant= names every method a cell may be granted, swap too" \
	'wait_for grep -q "capsid allgrant: " "$log" && ! grep -q "allgrant.conf: grant=" "$log"'

# The flood, a sandboxed polite cell and a host client at the same time.
check "the flood started" 'wait_for test -e "$data/flood/flood.started"'
host_ok=0
for _ in $(seq 20); do
	"$BIN/userspace/celld/celld_enroll_tool" --lookup friend >/dev/null 2>&1 && host_ok=$((host_ok + 1))
	sleep 0.02
done
check "the flood finished" 'for _ in 1 2; do wait_for grep -qx done "$data/flood/flood.out" && break; done'
check "the polite cell finished" 'wait_for grep -qx done "$data/polite/polite.out"'
fl=$(grep '^ok=' "$data/flood/flood.out")
po=$(grep '^ok=' "$data/polite/polite.out")
echo "# flood: $fl"
echo "# polite: $po"
echo "# host client during the flood: $host_ok of 20 lookups answered OK"
val() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
f_ok=$(val "$fl" ok) f_ex=$(val "$fl" exhausted) f_other=$(val "$fl" other)
f_start=$(val "$fl" start) f_end=$(val "$fl" end)
# shellcheck disable=SC2034 # read by the check strings (eval)
p_ok=$(val "$po" ok) p_other=$(val "$po" other) p_start=$(val "$po" start) p_end=$(val "$po" end)
# At most burst + rate x seconds (+ 10 % for the interval's edges) got through.
f_max=$(((20 + 50 * (f_end - f_start) / 1000000000) * 11 / 10))
echo "# flood: ${f_ok:-?} served (at most $f_max allowed), ${f_ex:-?} RESOURCE_EXHAUSTED, ${f_other:-?} other"
check "the flooding cell is cut to its rate: $f_ok <= $f_max served" '[ "${f_ok:-999999}" -le "$f_max" ] && [ "$f_ok" -ge 20 ]'
check "and the rest is RESOURCE_EXHAUSTED (${f_ex:-0} calls), nothing else" \
	'[ "${f_ex:-0}" -gt "$f_ok" ] && [ "${f_other:-1}" = 0 ]'
check "the polite cell ran during the flood" '[ "$p_start" -lt "$f_end" ] && [ "$p_end" -gt "$f_start" ]'
check "the polite cell's 100 calls all succeeded" '[ "$p_ok" = 100 ] && [ "$p_other" = 0 ]'
check "the host client's 20 calls during the flood all succeeded" '[ "$host_ok" = 20 ]'
check "celld sums the refusals up in its log" \
	'grep -q "access: cell flood: [0-9]* call(s) over its nucleus rate (50/s, burst 20)" "$log"'
# A host process of the cells' uid, in no capsid: not trusted.
nobody=$(setpriv --reuid 65534 --regid 65534 --clear-groups \
	"$BIN/userspace/celld/celld_enroll_tool" --lookup friend 2>&1)
echo "# uid 65534 outside a capsid: $nobody"
check "a uid-65534 process outside any capsid is PERMISSION_DENIED" \
	'echo "$nobody" | grep -q "PERMISSION_DENIED: not trusted: uid 65534 is the sandboxed cells. uid"'
# A connection handed on by a process that then exited, before its first call.
# Whether celld saw the connecting process gone (not trusted) or a zombie still in
# the capsid (the cell itself), the call must not get a host caller's rights.
check "handoff: a cell's connection outliving its connecting process gets no host rights" \
	'wait_for grep -qx done "$data/handoff/handoff.out" && grep -Eq "^handoff_lookup=PERMISSION_DENIED: (not trusted: the process that connected \(pid [0-9]+, uid 65534\) is gone|cell .handoff. may look up only)" "$data/handoff/handoff.out"'
mkdir -p "$RUN/host"
(cd "$RUN/host" && "$AC" handoff victim)
check "handoff: a host caller's (uid 0) is still served" \
	'wait_for grep -qx done "$RUN/host/handoff.out" && grep -qx "handoff_lookup=OK" "$RUN/host/handoff.out"'
sed 's/^/# handoff: /' "$data/handoff/handoff.out" "$RUN/host/handoff.out"
check "the nucleus socket's mount point is removed with the cell" \
	'wait_for test ! -e "$R/capsid/probe/nucleus.sock"'
grep -E 'access|capsid (probe|flood)' "$log" | sed 's/^/# /'
stop_all
# Host callers are limited only when asked: one bucket per uid.
start_cell friend
start_celld -o nucleus.rate=20 -o nucleus.burst=5
served=0 limited=0 t0=$(date +%s%N)
for _ in $(seq 40); do
	out=$("$BIN/userspace/celld/celld_enroll_tool" --lookup friend 2>&1)
	case $out in
	pid*) served=$((served + 1)) ;;
	*"RESOURCE_EXHAUSTED: uid 0 is over the nucleus rate limit (20 calls/s, burst 5)"*) limited=$((limited + 1)) ;;
	esac
done
ms=$((($(date +%s%N) - t0) / 1000000))
h_max=$((5 + 20 * ms / 1000 + 2)) # tokens accrue only within the measured interval
echo "# -o nucleus.rate=20 -o nucleus.burst=5: 40 host lookups in $ms ms: $served served (at most $h_max), $limited RESOURCE_EXHAUSTED"
check "-o nucleus.rate limits a host uid: $served of 40 served, the rest RESOURCE_EXHAUSTED" \
	'[ "$served" -ge 5 ] && [ "$served" -le "$h_max" ] && [ $((served + limited)) = 40 ]'
stop_all
echo "1..$n"
exit "$fail"
