#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# caps_test.sh BUILD_DIR: celld keeps only the capabilities its modules need
# (caps.c).  For each module set, celld started as root has exactly the
# expected CapEff = CapPrm = CapBnd and nothing in CapInh / CapAmb
# (/proc/PID/status), says so in one log line and in `cell id -j`; a
# capability taken away with caps.deny makes the capsid module refuse to
# start cells (no cell runs as root instead).  Not root: SKIP.
set -u
BIN=$(cd "$1" && pwd)
# shellcheck source=userspace/celld/tests/lib.sh
. "$(dirname "$0")/lib.sh"
echo "TAP version 13"
if [ "$(id -u)" != 0 ]; then
	echo "1..0 # SKIP celld drops capabilities only as root (uid $(id -u))"
	exit 0
fi
# Capability numbers (linux/capability.h).
CHOWN=0 DAC_OVERRIDE=1 KILL=5 SETGID=6 SETUID=7 NET_BIND_SERVICE=10 NET_RAW=13
PERFMON=38 BPF=39
mask() { local m=0; for c in "$@"; do m=$((m | (1 << c))); done; printf '%016x' "$m"; }
status_of() { sed -n "s/^$2:\t//p" "/proc/$1/status"; }
log=$RUN/celld.log
# run_set NAME EXPECTED_MASK ARGS...: one celld with ARGS; its sets must be EXPECTED_MASK.
run_set() {
	local name=$1 want=$2
	shift 2
	: >"$log"
	start_celld "$@"
	local eff prm bnd inh amb
	eff=$(status_of "$celld_pid" CapEff)
	prm=$(status_of "$celld_pid" CapPrm)
	bnd=$(status_of "$celld_pid" CapBnd)
	inh=$(status_of "$celld_pid" CapInh)
	amb=$(status_of "$celld_pid" CapAmb)
	echo "# $name: CapEff $eff CapPrm $prm CapBnd $bnd CapInh $inh CapAmb $amb (want $want)"
	check "$name: effective = permitted = bounding = $want" \
		"[ '$eff' = '$want' ] && [ '$prm' = '$want' ] && [ '$bnd' = '$want' ]"
	check "$name: inheritable and ambient empty" \
		"[ '$inh' = 0000000000000000 ] && [ '$amb' = 0000000000000000 ]"
	grep 'capabilities: kept' "$log" | sed 's/^/# /'
}
stop_celld() { kill "$celld_pid"; wait "$celld_pid" 2>/dev/null; pids=(); }

run_set "no module" "$(mask)"
check "the log line says none was kept" 'grep -q "capabilities: kept none; every other one dropped" "$log"'
stop_celld

conf=$RUN/cells.d
mkdir -p "$conf"
run_set "capsid" "$(mask $CHOWN $DAC_OVERRIDE $KILL $SETGID $SETUID)" -o "capsid.dir=$conf"
check "the log line names each with its module" \
	'grep -q "kept cap_chown (capsid), cap_dac_override (capsid), cap_kill (capsid), cap_setgid (capsid), cap_setuid (capsid);" "$log"'
json=$(cell id -j -s "$RUN/state")
echo "# cell id -j: $json"
check "cell id -j lists what celld kept" \
	"echo '$json' | python3 -c 'import json,sys; j=json.load(sys.stdin); sys.exit(0 if j[\"capabilities\"]==[\"cap_chown\",\"cap_dac_override\",\"cap_kill\",\"cap_setgid\",\"cap_setuid\"] and j[\"celld_pid\"]==$celld_pid else 1)'"
stop_celld

if [ "$(cat /proc/sys/kernel/unprivileged_bpf_disabled)" != 0 ]; then
	run_set "discovery with its BPF filter" "$(mask $PERFMON $BPF)" -o discovery=on
	check "and the filter is attached with them" \
		'wait_for grep -q "BPF filter attached" "$log"'
	stop_celld
else
	check "discovery: unprivileged BPF is allowed here, no capability needed # SKIP" true
fi

low=$(($(cat /proc/sys/net/ipv4/ip_unprivileged_port_start) - 1))
if [ "$low" -gt 0 ] && [ -n "$(find "$BIN/userspace/celld" -name 'http.c.o' 2>/dev/null)" ]; then
	run_set "/metrics on port $low" "$(mask $NET_BIND_SERVICE)" -o "http=127.0.0.1:$low"
	check "and it serves there" \
		"wait_for python3 -c 'import urllib.request as u; u.urlopen(\"http://127.0.0.1:$low/metrics\", timeout=2).read()'"
	stop_celld
else
	check "no privileged port or no http module # SKIP" true
fi

run_set "caps.keep adds one" "$(mask $NET_RAW)" -o caps.keep=cap_net_raw
stop_celld

# A capability taken away: the capsid module refuses, no cell runs (as root or otherwise).
cat >"$conf/sleeper.conf" <<CONF
name=sleeper
exec=/usr/bin/sleep 30
restart=never
CONF
run_set "capsid without cap_setuid" "$(mask $CHOWN $DAC_OVERRIDE $KILL $SETGID)" \
	-o "capsid.dir=$conf" -o caps.deny=cap_setuid
check "capsid refuses, naming the capability" \
	'wait_for grep -q "capsid: capsid (cells run as uid 65534) needs cap_setuid, which celld does not keep" "$log"'
check "and starts no cell" 'grep -q "no cell of $conf is started" "$log" && ! grep -q "capsid sleeper: started" "$log" && [ ! -d "$CELL_RUNTIME_DIR/capsid/sleeper" ]'
grep 'capsid' "$log" | sed 's/^/# /'
stop_celld
echo "1..$n"
exit "$fail"
