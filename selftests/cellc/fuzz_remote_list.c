// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Fuzz target for celld's cell_list answer as cellc decodes it for
 * --from-running NAME@node (userspace/cellc/remote_list.c).  Besides "no
 * crash, no out-of-bounds read": an accepted message gives rows whose every
 * text lies inside the message and keeps the decoder's promises (name at
 * most 32 bytes without NUL, node lower-case hex, 1..16 printable uris),
 * and no more rows than the message has room for.  A violated property
 * aborts.  The same input is also decoded as celld's discovery_stats
 * (remote_stats_node(): this node's id).  Seeds:
 * selftests/fuzz/corpus/cellc_remote_list (remote_list_seeds).
 */
#include <stdlib.h>
#include <string.h>

#include "remote_list.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void inside(const uint8_t *data, size_t size, struct remote_text t, uint32_t max)
{
	if (t.len > max ||
	    (t.len && ((const uint8_t *)t.p < data || (const uint8_t *)t.p + t.len > data + size)))
		abort();
}

/* The same bytes as celld's discovery_stats answer (remote_stats_node()). */
static void stats(const uint8_t *data, size_t size)
{
	struct remote_text node;
	const char *why;

	if (remote_stats_node(data, size, &node, &why)) {
		if (!why || node.len)
			abort();
		return;
	}
	inside(data, size, node, REMOTE_NODE_MAX);
	for (uint32_t k = 0; k < node.len; k++)
		if (!node.p[k] || !strchr("0123456789abcdef", node.p[k]))
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct remote_row *rows;
	const char *why;
	uint32_t n;

	stats(data, size);
	if (remote_list_decode(data, size, &rows, &n, &why)) {
		if (rows || n || !why)
			abort();
		return 0;
	}
	if ((uint64_t)n * REMOTE_CELL_INFO_SIZE > size)
		abort();
	for (uint32_t i = 0; i < n; i++) {
		const struct remote_row *r = &rows[i];

		inside(data, size, r->name, REMOTE_NAME_MAX);
		inside(data, size, r->node, REMOTE_NODE_MAX);
		if (memchr(r->name.p ? r->name.p : "", 0, r->name.len) ||
		    r->nendpoints > REMOTE_ENDPOINTS_MAX)
			abort();
		for (uint32_t k = 0; k < r->node.len; k++)
			if (!strchr("0123456789abcdef", r->node.p[k]) || !r->node.p[k])
				abort();
		for (uint32_t e = 0; e < r->nendpoints; e++) {
			inside(data, size, r->uri[e], REMOTE_URI_MAX);
			if (!r->uri[e].len)
				abort();
			for (uint32_t k = 0; k < r->uri[e].len; k++)
				if (r->uri[e].p[k] <= 0x20 || r->uri[e].p[k] >= 0x7f)
					abort();
		}
	}
	free(rows);
	return 0;
}
