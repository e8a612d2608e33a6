#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# call_test.sh BUILD: `cell call` on the demo schema (userspace/examples):
# the request is built from JSON through the schema the cell serves, the
# response printed as JSON; bad JSON, unknown fields, out-of-range values
# and unknown methods are refused clearly; errors print status names.
BIN=$1
. "$(dirname "$0")/../../celld/tests/lib.sh"
echo "TAP version 13"
echo "1..12"
start_cell demo
out=$(cell call demo echo '{"seq": 42, "data": "hello"}')
check "echo: the response as JSON, the same fields back" \
	'echo "$out" | python3 -c "import json,sys; assert json.load(sys.stdin)=={\"seq\":42,\"data\":\"hello\"}"'
out=$(cell call -j demo echo '{"seq": 18446744073709551615, "data": [0, 255, 10]}')
check "-j: one line; u64 max and binary bytes survive" \
	'[ "$out" = "{\"seq\":18446744073709551615,\"data\":[0,255,10]}" ]'
out=$(cell call demo 2 '{}')
check "a method by id (2: stats) counts the two echo calls" \
	'echo "$out" | python3 -c "import json,sys; assert json.load(sys.stdin)[\"calls\"]==2"'
check "the request defaults to {}" 'cell call demo stats >/dev/null'
err=$(cell call demo echo '{"seq": 1,' 2>&1); rc=$?
check "bad JSON is refused with its position" '[ $rc -eq 1 ] && [[ "$err" == *"bad JSON: line 1, column 11"* ]]'
err=$(cell call demo echo '{"seq": 1} x' 2>&1)
check "trailing text is refused" '[[ "$err" == *"unexpected text after the value"* ]]'
err=$(cell call demo echo '{"sequence": 1}' 2>&1)
check "an unknown field is refused: INVALID_ARGUMENT" \
	'[[ "$err" == *"INVALID_ARGUMENT: request: struct blob has no field \"sequence\""* ]]'
err=$(cell call demo echo '{"seq": -1}' 2>&1)
check "a value out of range is refused" '[[ "$err" == *"seq: -1 does not fit u64"* ]]'
err=$(cell call demo echo '{"data": {"x": 1}}' 2>&1)
check "a wrong type is refused" '[[ "$err" == *"data: expected a string or an array of bytes, found object"* ]]'
err=$(cell call demo nosuch 2>&1)
check "an unknown method: UNKNOWN_METHOD" '[[ "$err" == *"demo.nosuch: UNKNOWN_METHOD"* ]]'
out=$(cell call -j nocell echo 2>/dev/null); rc=$?
check "no such cell: UNAVAILABLE, as JSON with -j" \
	'[ $rc -eq 1 ] && echo "$out" | python3 -c "import json,sys; assert json.load(sys.stdin)[\"status\"]==\"UNAVAILABLE\""'
check "usage errors exit 2" 'cell call demo >/dev/null 2>&1; [ $? -eq 2 ]'
exit $fail
