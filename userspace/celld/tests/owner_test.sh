#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# owner_test.sh BUILD: a name registered by one uid cannot be taken by
# another (celld checks SO_PEERCRED, not the request): the other uid gets
# PERMISSION_DENIED naming the owner; a free name it may take; the name
# nucleus (celld's own) nobody may register: the axon would export it and
# its proxy call the real nucleus as celld.  Needs root
# and setpriv to run as nobody; else SKIP.
# shellcheck disable=SC2034 # out and rc are read by the check strings (eval)
BIN=$1
# shellcheck source=userspace/celld/tests/lib.sh
. "$(dirname "$0")/lib.sh"
tool=$BIN/userspace/celld/celld_enroll_tool
echo "TAP version 13"
if [ "$(id -u)" -ne 0 ] || ! command -v setpriv >/dev/null || ! id nobody >/dev/null 2>&1; then
	echo "1..0 # SKIP needs root, setpriv and a user nobody"
	exit 4
fi
echo "1..6"
chmod 0755 "$RUN"
chmod 1777 "$CELL_RUNTIME_DIR"
start_celld
start_cell owned
wait_for ps_has owned
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups env CELL_RUNTIME_DIR="$CELL_RUNTIME_DIR" "$@"; }
out=$(as_nobody "$tool" owned 1 0 /nonexistent/owned.sock 2>&1); rc=$?
echo "# $out"
check "uid nobody cannot take root's name" '[ $rc -eq 1 ]'
check "the error names the status and the owner" \
	'[[ "$out" == *"PERMISSION_DENIED"*"registered by uid 0"* ]]'
check "the owner keeps the entry" \
	'cell ps -j owned | python3 -c "import json,sys; c=json.load(sys.stdin); assert c[0][\"uid\"]==0 and c[0][\"pid\"]=='$last_pid'"'
as_nobody "$tool" free-name 1 10 >"$RUN/nobody.out" 2>&1 &
pids+=("$!")
wait_for ps_has free-name
check "uid nobody may register a free name, listed with its uid" \
	'cell ps -j free-name | python3 -c "import json,sys,pwd; assert json.load(sys.stdin)[0][\"uid\"]==pwd.getpwnam(\"nobody\").pw_uid"'
out=$("$tool" free-name 2>&1); rc=$?
check "and root cannot take nobody's name either" '[ $rc -eq 1 ] && [[ "$out" == *PERMISSION_DENIED* ]]'
out=$(as_nobody "$tool" nucleus 1 0 /nonexistent/nucleus.sock 2>&1); rc=$?
check "uid nobody cannot register the name nucleus, celld's own (got: $out)" \
	'[ $rc -eq 1 ] && [[ "$out" == *"refused nucleus: INVALID_ARGUMENT"*"celld'"'"'s own"* ]]'
[ $fail -eq 0 ] || tail -20 "$RUN/celld.log"
exit $fail
