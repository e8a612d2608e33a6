// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Fuzz target for the cluster state's two parsers of foreign bytes (kv.c):
 * the command decoder (commands arrive from clients through the leader and
 * from the log on disk) and the snapshot restore (from disk and from the
 * leader's InstallSnapshot).  The first byte picks the parser.  Properties
 * beyond "no crash": an accepted command re-encodes to the same bytes, and
 * a refused snapshot leaves the state as it was.
 */
#include <stdlib.h>
#include <string.h>

#include "kv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t again[KV_CMD_MAX];
	static struct kv_state *s;
	struct kv_result res;
	struct kv_cmd cmd;

	if (!s)
		s = kv_state_new(&(struct kv_limits){ .max_keys = 64, .max_bytes = 1 << 16 });
	if (!s || !size)
		return 0;
	if (data[0] & 1) {
		uint64_t before = kv_state_digest(s);

		if (kv_state_restore(s, data + 1, size - 1, NULL) && kv_state_digest(s) != before)
			abort();
		return 0;
	}
	if (kv_cmd_decode(data + 1, size - 1, &cmd, NULL))
		return 0;
	if (kv_cmd_encode(&cmd, again, sizeof(again)) != size - 1 ||
	    memcmp(again, data + 1, size - 1))
		abort();
	if (kv_state_apply(s, &cmd, kv_state_applied(s) + 1, &res) == 0 && res.outcome > KV_INVALID)
		abort();
	return 0;
}
