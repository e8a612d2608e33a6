#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# from_running_test.sh CELLC DEMO_SERVER HOSTILE_SERVER DEMO_CELL: cellc
# --from-running in TAP.
#  - from the running demo cell, every output (C, --mcu, --lang=python,
#    --canonical, --fingerprint) is byte for byte what the file gives;
#  - --pin: the right fingerprint passes, another fails with both named;
#  - an absent cell (no socket, stale socket) fails clearly; NAME@<this
#    host>, NAME@localhost and NAME@N (instance N) work;
#  - NAME@NODE through a fake celld nucleus (fake_nucleus): the header from
#    the node's quic:// endpoint (a demo cell with a key of ours) is the
#    file's; the node's key is pinned (another node's id is refused), the
#    announced fingerprint must be served; no celld, no such node, an
#    ambiguous prefix, a node not announcing NAME, no quic:// endpoint, a
#    malformed answer and --pin fail clearly (the QUIC cases SKIP without
#    QUIC or python3-cryptography, which makes the key); this node's own id
#    (discovery's answer) is the local cell;
#  - quic://host:port (a cell on another machine, here on loopback): the
#    same outputs, --pin, nobody answering, a bad address, an unknown key,
#    and hostile cells over QUIC (SKIP when libcell has no QUIC);
#  - hostile servers (garbage, non-UTF-8, 2 MiB, fingerprint other than
#    WELCOME's, no schema) fail with exit 1, a clear message, no crash and
#    no output file.
set -u
cellc=$1
demo_server=$2
hostile=$3
demo_cell=$4
fake_nucleus=$5
tmp=$(mktemp -d)
export CELL_RUNTIME_DIR=$tmp/run CELL_NO_REGISTER=1
mkdir -p "$CELL_RUNTIME_DIR"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
n=0
failed=0

ok() {
	n=$((n + 1))
	echo "ok $n $1"
}

not_ok() {
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n $1"
}

check() { # description command...
	local what=$1
	shift
	if "$@"; then ok "$what"; else not_ok "$what"; fi
}

# same_output WHAT ARGS SOURCE [VAR=VALUE...]: `cellc ARGS --from-running SOURCE`
# (with the VARs set) prints what `cellc ARGS` prints for demo.cell, byte for
# byte, and not nothing; the check is named WHAT and ARGS.
same_output() {
	local what="$1 ${2:-(C header)}: the file's output, byte for byte" args=$2 src=$3
	shift 3
	# shellcheck disable=SC2086 # word splitting of $args intended
	if (cd "$(dirname "$demo_cell")" && "$cellc" $args "$(basename "$demo_cell")") \
		>"$tmp/file.out" 2>"$tmp/err" &&
		env "$@" "$cellc" $args --from-running "$src" >"$tmp/live.out" 2>>"$tmp/err" &&
		cmp -s "$tmp/file.out" "$tmp/live.out" && [ -s "$tmp/live.out" ]; then
		ok "$what"
	else
		not_ok "$what"
		sed 's/^/# /' "$tmp/err"
	fi
}

wait_sock() { # NAME: its socket appears within 5 s
	for _ in $(seq 100); do
		[ -S "$CELL_RUNTIME_DIR/$1.sock" ] && return 0
		sleep 0.05
	done
	echo "# $1 did not start"
	return 1
}

# fails_with DESCRIPTION PATTERN cellc-args...: exit 1, PATTERN in stderr,
# nothing written to $tmp/out.
fails_with() {
	local what=$1 pattern=$2 rc=0
	shift 2
	rm -f "$tmp/out"
	timeout 20 "$cellc" -o "$tmp/out" "$@" 2>"$tmp/err" >/dev/null || rc=$?
	if [ "$rc" = 1 ] && grep -q -- "$pattern" "$tmp/err" && [ ! -e "$tmp/out" ]; then
		ok "$what"; [ -n "${VERBOSE:-}" ] && sed "s/^/#   /" "$tmp/err"
	else
		not_ok "$what"
		echo "# exit $rc, stderr: $(cat "$tmp/err")"
	fi
}

"$demo_server" demo >"$tmp/demo.log" 2>&1 &
pids+=($!)
wait_sock demo || exit 1

same() { # description args...: --from-running demo ARGS == file ARGS
	local what=$1
	shift
	(cd "$(dirname "$demo_cell")" && "$cellc" "$@" "$(basename "$demo_cell")") \
		>"$tmp/file.out" 2>"$tmp/err" &&
		"$cellc" "$@" --from-running demo >"$tmp/live.out" 2>>"$tmp/err" &&
		cmp -s "$tmp/file.out" "$tmp/live.out"
	if [ $? = 0 ] && [ -s "$tmp/live.out" ]; then ok "$what"; else
		not_ok "$what"
		sed 's/^/# /' "$tmp/err"
	fi
}
same "C header from the running cell is the file's, byte for byte"
same "--lang=c likewise" --lang=c
same "--mcu likewise" --mcu
same "--lang=python likewise" --lang=python
same "--canonical likewise" --canonical
same "--fingerprint likewise" --fingerprint
check "-o writes the same header as from the file" \
	eval '"$cellc" -o "$tmp/a.h" --from-running demo && "$cellc" -o "$tmp/b.h" "$demo_cell" &&
	      cmp -s "$tmp/a.h" "$tmp/b.h"'

fp=$("$cellc" --fingerprint "$demo_cell")
check "--pin with the cell's fingerprint passes" \
	eval '"$cellc" --from-running demo --pin "$fp" >/dev/null'
fails_with "--pin with another fingerprint fails, naming both" \
	"fingerprint $fp, pinned 0x00000000deadbeef" --from-running demo --pin 0xdeadbeef
fails_with "--pin that is not a fingerprint fails" "not a fingerprint" \
	--from-running demo --pin banana

fails_with "absent cell: name and runtime dir named" \
	"no running cell 'nope': $CELL_RUNTIME_DIR/nope.sock does not exist (runtime dir $CELL_RUNTIME_DIR" \
	--from-running nope
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); s.bind(sys.argv[1])' \
	"$CELL_RUNTIME_DIR/stale.sock"
fails_with "stale socket: nobody serves it" "no running cell 'stale': nobody serves" \
	--from-running stale
fails_with "NAME@NODE: a node that is neither this host nor a hex id" \
	"no such node 'no-such-node': not this machine's host name, and not a node id" \
	--from-running demo@no-such-node
fails_with "NAME@NODE without celld: no nucleus, said so" \
	"no celld: $CELL_RUNTIME_DIR/nucleus.sock does not exist" --from-running demo@2f9c
check "NAME@localhost is this machine" eval '"$cellc" --from-running demo@localhost >/dev/null'
check "NAME@\$(hostname) is this machine" \
	eval '"$cellc" --from-running "demo@$(hostname)" >/dev/null'

"$demo_server" demo@3 >"$tmp/demo3.log" 2>&1 &
pids+=($!)
# Its socket exists from bind() on, before listen(): wait for its line instead.
listening() { # LOG: the server said it listens, within 5 s
	for _ in $(seq 100); do grep -q "^server: listening" "$1" && return 0; sleep 0.05; done
	return 1
}
if listening "$tmp/demo3.log"; then
	check "NAME@N is instance N of NAME, a local cell" \
		eval '"$cellc" --from-running demo@3 --fingerprint | grep -qx "$fp"'
else
	not_ok "NAME@N is instance N of NAME, a local cell"
fi

"$cellc" --canonical "$demo_cell" >"$tmp/demo.canon"
for mode in garbage nonutf8 oversized otherfp none; do
	"$hostile" "h_$mode" "$mode" "$tmp/demo.canon" >"$tmp/h_$mode.log" 2>&1 &
	pids+=($!)
done
for mode in garbage nonutf8 oversized otherfp none; do wait_sock "h_$mode" || exit 1; done
fails_with "garbage schema text: not a valid schema" "answered method 0 with text that is not a valid schema" \
	--from-running h_garbage
fails_with "non-UTF-8 schema text refused, byte named" "schema text is not UTF-8 (byte 8 is 0xff)" \
	--from-running h_nonutf8
fails_with "2 MiB schema text refused" "cell 'h_oversized': .*SCHEMA\|more than" \
	--from-running h_oversized
fails_with "schema text whose fingerprint differs from WELCOME's" \
	"but it claims 0x1122334455667788 in WELCOME" --from-running h_otherfp
fails_with "a cell without schema text" "serves no schema text" --from-running h_none
fails_with "a hostile cell with --lang=python as well" "not UTF-8" --lang=python \
	--from-running h_nonutf8
alive=0
for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=$((alive + 1)); done
check "every cell still runs after all that (${#pids[@]})" test "$alive" = "${#pids[@]}"
check "the demo cell still serves" eval '"$cellc" --from-running demo >/dev/null'

# A cell on another machine, by its QUIC address (cell/quic.h), on loopback.
# Fresh identities (empty state dir); no known-peers file: every key accepted.
quic_port() { # LOG PATTERN: the port its server printed within 5 s
	for _ in $(seq 100); do
		sed -n "s/$2//p" "$1" | grep . && return 0
		sleep 0.05
	done
	return 1
}
export CELL_STATE_DIR=$tmp/state
mkdir -p "$CELL_STATE_DIR"
unset CELL_KNOWN_PEERS
CELL_DEMO_QUIC=127.0.0.1:0 "$demo_server" qdemo >"$tmp/qdemo.log" 2>&1 &
pids+=($!)
qport=$(quic_port "$tmp/qdemo.log" '^server: quic port ')
if [ -z "$qport" ] && grep -q "without QUIC" "$tmp/qdemo.log"; then
	n=$((n + 1))
	echo "ok $n # SKIP quic:// cases: libcell built without QUIC (CELL_WITH_QUIC=OFF)"
elif [ -z "$qport" ]; then
	not_ok "demo_server serves over QUIC"
	sed 's/^/# /' "$tmp/qdemo.log"
else
	q=quic://127.0.0.1:$qport
	for args in "" "--lang=python" "--lang=go" "--canonical" "--fingerprint"; do
		same_output "--from-running $q" "$args" "$q"
	done
	check "quic:// with --pin of the cell's fingerprint passes" \
		eval '"$cellc" --from-running "$q" --pin "$fp" >/dev/null'
	fails_with "quic:// with another --pin fails, naming both" \
		"cell at $q has fingerprint $fp, pinned 0x00000000deadbeef" \
		--from-running "$q" --pin 0xdeadbeef
	# A UDP port nobody serves: bound and kept by a process of ours, never answering.
	python3 -c 'import socket,sys,time; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1], flush=True); time.sleep(60)' \
		>"$tmp/udp.port" &
	pids+=($!)
	for _ in $(seq 100); do [ -s "$tmp/udp.port" ] && break; sleep 0.05; done
	fails_with "quic:// nobody answers: a clear error within the step timeout" \
		"cannot reach the cell at quic://127.0.0.1:$(cat "$tmp/udp.port"): .*no handshake" \
		--from-running "quic://127.0.0.1:$(cat "$tmp/udp.port")"
	fails_with "quic:// bad address" "cannot reach the cell at quic://no such host: .*not host:port" \
		--from-running "quic://no such host"
	echo "0000000000000000000000000000000000000000000000000000000000000000 other" \
		>"$tmp/peers"
	CELL_KNOWN_PEERS=$tmp/peers fails_with "quic:// server key not in CELL_KNOWN_PEERS: refused" \
		"cannot reach the cell at $q: .*key not admitted" --from-running "$q"
	for mode in garbage otherfp none; do
		CELL_DEMO_QUIC=127.0.0.1:0 "$hostile" "qh_$mode" "$mode" "$tmp/demo.canon" \
			>"$tmp/qh_$mode.log" 2>&1 &
		pids+=($!)
	done
	for mode in garbage otherfp none; do
		eval "qh_$mode=quic://127.0.0.1:\$(quic_port \"\$tmp/qh_\$mode.log\" '^port ')"
	done
	# shellcheck disable=SC2154 # qh_* set by eval above
	{
		fails_with "quic:// garbage schema text: not a valid schema" \
			"answered method 0 with text that is not a valid schema" \
			--from-running "$qh_garbage"
		fails_with "quic:// schema text whose fingerprint differs from the claimed one" \
			"but it claims 0x1122334455667788 in its refusal of fingerprint 0" \
			--from-running "$qh_otherfp"
		fails_with "quic:// a cell without schema text" "serves no schema text" \
			--from-running "$qh_none"
	}
	check "the QUIC demo cell still serves" eval '"$cellc" --from-running "$q" >/dev/null'
fi

# NAME@NODE through a fake nucleus, each in a runtime dir of its own.
nucleus() { # DIR MODE ROW...: a fake nucleus serving DIR
	local dir=$1
	shift
	mkdir -p "$dir"
	CELL_RUNTIME_DIR=$dir "$fake_nucleus" "$@" >"$dir.log" 2>&1 &
	pids+=($!)
	for _ in $(seq 100); do grep -q ready "$dir.log" && return 0; sleep 0.05; done
	return 1
}
hex() { printf "%s%0$((64 - ${#1}))d" "$1" 0; }
rows=("demo/$(hex aa11)/$fp/udp://192.0.2.1:7000" "orders/$(hex bb22)/0x1/quic://192.0.2.1:1"
	"demo/$(hex ab33)/$fp/quic://192.0.2.1:2" "demo/$(hex ab44)/$fp/quic://192.0.2.1:3")
nucleus "$tmp/nuc" ok "${rows[@]}" || not_ok "fake nucleus starts"
at() { CELL_RUNTIME_DIR=$tmp/nuc fails_with "$@"; }
at "NAME@NODE: an id prefix no node has" \
	"no such node 'ee': no node celld knows of.*nodes known: $(hex aa11)" --from-running demo@ee
at "NAME@NODE: a prefix two nodes serving NAME share is ambiguous" \
	"node 'ab' is ambiguous: nodes $(hex ab33) and $(hex ab44) both serve 'demo'" \
	--from-running demo@ab
at "NAME@NODE: a node that does not announce NAME, with what it announces" \
	"node $(hex bb22) does not announce a cell 'demo' (it announces: orders)" \
	--from-running demo@bb22
at "NAME@NODE: a node announcing NAME without a quic:// endpoint (no axon)" \
	"cell 'demo' on node $(hex aa11) has no quic:// endpoint" --from-running demo@AA11
at "NAME@NODE: --pin against the announced fingerprint" \
	"cell 'demo' on node $(hex aa11) has fingerprint $fp, pinned 0x00000000deadbeef" \
	--from-running demo@aa11 --pin 0xdeadbeef
nucleus "$tmp/nucbad" garbage "demo/$(hex aa11)/$fp/quic://192.0.2.1:2" ||
	not_ok "fake nucleus starts"
CELL_RUNTIME_DIR=$tmp/nucbad fails_with "NAME@NODE: a malformed answer from celld is refused" \
	"celld answered list with a malformed cell_list: cell_list.cells" --from-running demo@aa11

# The quic:// part: a demo cell with a key of ours, so that its node id is known.
mkdir -p "$tmp/nstate"
key=$(python3 - "$tmp/nstate/node.key" 2>/dev/null <<'EOF'
import os, sys
from cryptography.hazmat.primitives import serialization as s
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
k = Ed25519PrivateKey.generate()
seed = k.private_bytes(s.Encoding.Raw, s.PrivateFormat.Raw, s.NoEncryption())
pub = k.public_key().public_bytes(s.Encoding.Raw, s.PublicFormat.Raw)
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
os.write(fd, seed + pub)
print(pub.hex())
EOF
)
if [ -z "$key" ]; then
	n=$((n + 1))
	echo "ok $n # SKIP NAME@NODE over QUIC: no python3-cryptography to make a node key"
elif [ -z "${qport:-}" ]; then
	n=$((n + 1))
	echo "ok $n # SKIP NAME@NODE over QUIC: no QUIC (see above)"
else
	CELL_STATE_DIR=$tmp/nstate CELL_DEMO_QUIC=127.0.0.1:0 "$demo_server" ndemo \
		>"$tmp/ndemo.log" 2>&1 &
	pids+=($!)
	nport=$(quic_port "$tmp/ndemo.log" '^server: quic port ')
	nq=quic://127.0.0.1:$nport
	nucleus "$tmp/nucq" ok "demo/$key/$fp/$nq" "demo/$(hex cc55)/$fp/$nq" ||
		not_ok "fake nucleus starts"
	nucleus "$tmp/nuclie" ok "demo/$key/0x1234/$nq" || not_ok "fake nucleus starts"
	for args in "" "--lang=go" "--fingerprint"; do
		same_output "--from-running demo@NODE" "$args" "demo@${key:0:8}" \
			CELL_RUNTIME_DIR="$tmp/nucq"
	done
	# An id that starts with 7 decimal digits is a node, not an instance number.
	CELL_RUNTIME_DIR=$tmp/nucq fails_with "NAME@NODE: 7 decimal digits are a node id prefix" \
		"no such node '1234567'" --from-running demo@1234567
	check "NAME@NODE: the whole id, upper case, and --pin of its fingerprint" \
		eval 'CELL_RUNTIME_DIR=$tmp/nucq "$cellc" --from-running "demo@${key^^}" --pin "$fp" >/dev/null'
	CELL_RUNTIME_DIR=$tmp/nucq fails_with \
		"NAME@NODE: the endpoint must present the node's key (another node's id refused)" \
		"cannot reach the cell at $nq: .*key not admitted" --from-running demo@cc55
	CELL_RUNTIME_DIR=$tmp/nuclie fails_with \
		"NAME@NODE: a served fingerprint other than the announced one is refused" \
		"$nq answers with fingerprint $fp, but the node announces 0x0000000000001234" \
		--from-running "demo@${key:0:7}"
fi

# This node by its own id (discovery's answer), beside the local demo cell.
nucleus "$CELL_RUNTIME_DIR" ok "self=$(hex 5e1f)" "demo/$(hex 5e2a)/$fp/quic://192.0.2.1:2" ||
	not_ok "fake nucleus starts"
check "NAME@NODE: this node's own id is the local cell" \
	eval '"$cellc" --from-running demo@5E1F --fingerprint | grep -qx "$fp"'
fails_with "NAME@NODE: a prefix of this node's id and another's is ambiguous" \
	"node '5e' is ambiguous: this node ($(hex 5e1f)) and node $(hex 5e2a)" --from-running demo@5e
nucleus "$tmp/nucstats" badstats "self=$(hex 5e1f)" || not_ok "fake nucleus starts"
CELL_RUNTIME_DIR=$tmp/nucstats fails_with "NAME@NODE: a malformed discovery answer is refused" \
	"celld answered discovery with a malformed discovery_stats: discovery_stats.node" \
	--from-running demo@5e1f

rc=0
"$cellc" --pin 0x1 "$demo_cell" >/dev/null 2>&1 || rc=$?
check "--pin without --from-running is a usage error" test "$rc" = 2
rc=0
"$cellc" --from-running demo "$demo_cell" >/dev/null 2>&1 || rc=$?
check "a file and --from-running together is a usage error" test "$rc" = 2

echo "1..$n"
[ "$failed" = 0 ]
