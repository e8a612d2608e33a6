// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Fuzz target for libcell's parsers of celld's kv answers (lib/kv.c): the
 * kv_answer message and the NOT_LEADER detail naming the leader.  The
 * first byte picks the parser.  Beyond "no crash": an accepted value lies
 * inside the message after its fixed part; an accepted hint is a
 * NUL-terminated absolute path that fits.
 */
#include <stdlib.h>
#include <string.h>

#include "kv_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint64_t buf[(70u << 10) / 8];
	struct cell_kv_answer_view a;
	char dir[64];

	if (!size || size - 1 > sizeof(buf))
		return 0;
	memcpy(buf, data + 1, size - 1);
	if (data[0] & 1) {
		if (!cell_kv_parse_answer(buf, (uint32_t)(size - 1), &a) && a.value_len &&
		    (a.value < (const uint8_t *)buf + 24 ||
		     a.value + a.value_len > (const uint8_t *)buf + size - 1))
			abort();
	} else if (!cell_kv_parse_hint((const char *)buf, (uint32_t)(size - 1), dir, sizeof(dir))) {
		if (dir[0] != '/' || strlen(dir) >= sizeof(dir))
			abort();
	}
	return 0;
}
