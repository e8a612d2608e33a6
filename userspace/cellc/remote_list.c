// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * celld's list query and cell_list answer, by hand (remote_list.h).
 *
 * Every span is checked as the generated validators check it: empty means
 * off = 0, otherwise it lies in the tail (off >= the root's fixed size,
 * off + len x element size <= the message's length, in 64 bits) and a
 * vector's off is a multiple of its element's alignment.  The bytes of
 * every span followed count against the tail's length, so a message whose
 * spans overlap cannot make the walk longer than linear.  Values are read
 * with memcpy (little-endian hosts only, as the generated code).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "remote_list.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the wire is little-endian");

struct reader {
	const unsigned char *m;
	size_t len;
	uint32_t fixed;	 /* the root's fixed size: where the tail starts */
	uint64_t budget; /* tail bytes not yet spent on spans */
	const char *why;
};

static uint32_t get32(const struct reader *r, uint64_t at)
{
	uint32_t v;

	memcpy(&v, r->m + at, sizeof(v));
	return v;
}

static uint64_t get64(const struct reader *r, uint64_t at)
{
	uint64_t v;

	memcpy(&v, r->m + at, sizeof(v));
	return v;
}

static bool refuse(struct reader *r, const char *why)
{
	r->why = why;
	return false;
}

/*
 * The span at @at (its struct lies inside the message: checked by the
 * caller) of @count elements of @size bytes aligned to @align: *@off set.
 */
static bool span(struct reader *r, uint64_t at, uint32_t size, uint32_t align, uint32_t *off,
		 uint32_t *count, const char *why)
{
	uint64_t bytes;

	*off = get32(r, at);
	*count = get32(r, at + 4);
	if (!*count)
		return *off == 0 || refuse(r, why);
	bytes = (uint64_t)*count * size;
	if (*off < r->fixed || *off % align || *off + bytes > r->len)
		return refuse(r, why);
	if (bytes > r->budget)
		return refuse(r, "cell_list: spans add up to more than the message");
	r->budget -= bytes;
	return true;
}

/* A string span at @at whose bytes all pass @ok, at most @max of them. */
static bool text(struct reader *r, uint64_t at, uint32_t max, bool (*ok)(unsigned char),
		 struct remote_text *t, const char *why)
{
	uint32_t off, len;

	if (!span(r, at, 1, 1, &off, &len, why))
		return false;
	if (len > max)
		return refuse(r, why);
	for (uint32_t i = 0; i < len; i++)
		if (!ok(r->m[off + i]))
			return refuse(r, why);
	t->p = (const char *)r->m + off;
	t->len = len;
	return true;
}

static bool name_byte(unsigned char c)
{
	return c != 0;
}

static bool hex_byte(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static bool uri_byte(unsigned char c)
{
	return c > 0x20 && c < 0x7f;
}

/* One cell_info at @at (inside the message). */
static bool row(struct reader *r, uint64_t at, struct remote_row *out)
{
	uint32_t off, count;

	memset(out, 0, sizeof(*out));
	if (!text(r, at + REMOTE_CELL_INFO_NAME, REMOTE_NAME_MAX, name_byte, &out->name,
		  "cell_info.name: out of bounds, longer than 32 bytes or with a NUL") ||
	    !text(r, at + REMOTE_CELL_INFO_NODE, REMOTE_NODE_MAX, hex_byte, &out->node,
		  "cell_info.node: out of bounds, longer than 79 bytes or not lower-case hex") ||
	    !span(r, at + REMOTE_CELL_INFO_ENDPOINTS, REMOTE_ENDPOINT_SIZE, REMOTE_ENDPOINT_ALIGN,
		  &off, &count, "cell_info.endpoints: offset or length out of bounds"))
		return false;
	if (count > REMOTE_ENDPOINTS_MAX)
		return refuse(r, "cell_info.endpoints: more than 16");
	out->fingerprint = get64(r, at + REMOTE_CELL_INFO_FP);
	out->nendpoints = count;
	for (uint32_t i = 0; i < count; i++) {
		if (!text(r, (uint64_t)off + (uint64_t)i * REMOTE_ENDPOINT_SIZE, REMOTE_URI_MAX,
			  uri_byte, &out->uri[i],
			  "endpoint.uri: out of bounds, longer than 255 bytes or not printable "
			  "ASCII without spaces"))
			return false;
		if (!out->uri[i].len)
			return refuse(r, "endpoint.uri: empty");
	}
	return true;
}

int remote_list_decode(const void *msg, size_t len, struct remote_row **rows, uint32_t *n,
		       const char **why)
{
	struct reader r = { .m = msg, .len = len, .fixed = REMOTE_CELL_LIST_SIZE };
	struct remote_row *out = NULL;
	uint32_t off, count;

	*rows = NULL;
	*n = 0;
	*why = NULL;
	if (len < REMOTE_CELL_LIST_SIZE || len > REMOTE_LIST_MAX) {
		*why = "cell_list: shorter than its fixed part or longer than 16 MiB";
		return -EBADMSG;
	}
	r.budget = len - REMOTE_CELL_LIST_SIZE;
	if (!span(&r, 0, REMOTE_CELL_INFO_SIZE, REMOTE_CELL_INFO_ALIGN, &off, &count,
		  "cell_list.cells: offset or length out of bounds"))
		goto out_bad;
	if (count) {
		out = calloc(count, sizeof(*out));
		if (!out)
			return -ENOMEM;
	}
	for (uint32_t i = 0; i < count; i++)
		if (!row(&r, (uint64_t)off + (uint64_t)i * REMOTE_CELL_INFO_SIZE, &out[i]))
			goto out_bad;
	*rows = out;
	*n = count;
	return 0;
out_bad:
	free(out);
	*why = r.why;
	return -EBADMSG;
}

size_t remote_query_encode(void *buf, size_t cap, const char *name, uint32_t flags)
{
	size_t len = strlen(name);
	unsigned char *p = buf;
	uint32_t v[3] = { len ? REMOTE_QUERY_SIZE : 0, (uint32_t)len, flags };

	if (len > REMOTE_NAME_MAX || cap < REMOTE_QUERY_SIZE + len)
		return 0;
	memcpy(p, v, sizeof(v));
	memcpy(p + REMOTE_QUERY_SIZE, name, len);
	return REMOTE_QUERY_SIZE + len;
}

int remote_stats_node(const void *msg, size_t len, struct remote_text *node, const char **why)
{
	struct reader r = { .m = msg, .len = len, .fixed = REMOTE_DISCOVERY_STATS_SIZE };

	node->p = NULL;
	node->len = 0;
	*why = NULL;
	if (len < REMOTE_DISCOVERY_STATS_SIZE || len > REMOTE_LIST_MAX) {
		*why = "discovery_stats: shorter than its fixed part or longer than 16 MiB";
		return -EBADMSG;
	}
	r.budget = len - REMOTE_DISCOVERY_STATS_SIZE;
	if (!text(&r, 0, REMOTE_NODE_MAX, hex_byte, node,
		  "discovery_stats.node: out of bounds, longer than 79 bytes or not lower-case "
		  "hex")) {
		*why = r.why;
		return -EBADMSG;
	}
	return 0;
}
