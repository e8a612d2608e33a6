/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * The parsers of kv.c for bytes that come from celld (fuzz_cell_kv_answer).
 */
#ifndef CELL_KV_INTERNAL_H
#define CELL_KV_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

struct cell_kv_answer_view {
	uint8_t outcome, found;
	uint64_t revision;
	const uint8_t *value; /* into the answer */
	uint32_t value_len;
};

/*
 * cell_kv_parse_answer() - check a kv_answer of @len bytes at @data (8-byte
 * aligned): the fixed part, outcome and found in range, the value inside
 * the message, after the fixed part, at most CELL_KV_VALUE_MAX.
 * Return: 0 with @a filled, or -EBADMSG.
 */
int cell_kv_parse_answer(const void *data, uint32_t len, struct cell_kv_answer_view *a);

/*
 * cell_kv_parse_hint() - the runtime directory of the leader named by a
 * NOT_LEADER detail "leader ID RAFT_ADDRESS unix:/DIR/nucleus.sock" into
 * @dir (@cap bytes, NUL-terminated).
 * Return: 0, -EBADMSG (not a hint), -ENOENT (no leader known, or an
 * endpoint that is not a local nucleus socket), -ENAMETOOLONG.
 */
int cell_kv_parse_hint(const char *detail, uint32_t len, char *dir, size_t cap);

#endif /* CELL_KV_INTERNAL_H */
