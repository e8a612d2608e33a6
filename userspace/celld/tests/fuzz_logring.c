// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Fuzz target of the log ring's line splitter (logring_stream_feed): the
 * bytes are what a cell writes to its stdout, in pieces whose sizes the
 * first input byte seeds.  Checked, else abort():
 *  - in a ring large enough to keep everything, the records put back
 *    together (a newline after each that is neither split nor NOEOL) give
 *    the input exactly, no record is longer than the line limit, and only
 *    a record of exactly the limit is split;
 *  - in the smallest ring, it never holds more than its size, kept and
 *    dropped records add up, and a read returns consecutive seqs.
 */
#include <stdlib.h>
#include <string.h>

#include "logring.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct check {
	uint8_t *out;
	size_t len, cap;
	uint32_t line_max;
	uint64_t next_seq;
};

static bool rebuild(const struct logring_record *rec, void *ctx)
{
	struct check *c = ctx;

	if (rec->len > c->line_max || ((rec->flags & LOGRING_F_SPLIT) && rec->len != c->line_max))
		abort();
	if (c->len + rec->len + 1 > c->cap)
		abort();
	memcpy(c->out + c->len, rec->line, rec->len);
	c->len += rec->len;
	if (!(rec->flags & (LOGRING_F_SPLIT | LOGRING_F_NOEOL)))
		c->out[c->len++] = '\n';
	return true;
}

static bool consecutive(const struct logring_record *rec, void *ctx)
{
	struct check *c = ctx;

	if (c->next_seq && rec->seq != c->next_seq)
		abort();
	c->next_seq = rec->seq + 1;
	return true;
}

static void feed(struct logring *r, const uint8_t *data, size_t size, unsigned int seed)
{
	static struct logring_stream_state s;

	logring_stream_init(&s, r, LOGRING_STDOUT, 1, 1);
	for (size_t at = 0; at < size;) {
		size_t piece = 1 + (seed = seed * 1103515245u + 12345u) % 5000;

		if (piece > size - at)
			piece = size - at;
		logring_stream_feed(&s, (const char *)data + at, piece);
		at += piece;
	}
	logring_stream_end(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct logring *big, *small;
	struct logring_stats st;
	struct check c = { 0 };
	unsigned int seed;

	if (!size)
		return 0;
	seed = data[0];
	data++;
	size--;
	/*
	 * A record takes at most 39 bytes of ring more than its line, and
	 * holds at least one input byte: this ring never wraps.
	 */
	big = logring_new(size > (LOGRING_MAX_SIZE - LOGRING_MIN_SIZE) / 48
				  ? LOGRING_MAX_SIZE
				  : (uint32_t)(48 * size + LOGRING_MIN_SIZE));
	small = logring_new(LOGRING_MIN_SIZE);
	c.cap = size + 1;
	c.out = malloc(c.cap);
	if (!big || !small || !c.out)
		abort();
	feed(big, data, size, seed);
	logring_stats(big, &st);
	if (st.dropped)
		abort();
	c.line_max = st.line_max;
	logring_read(big, 0, 0, rebuild, &c);
	if (c.len != size || memcmp(c.out, data, size))
		abort();
	feed(small, data, size, seed);
	logring_stats(small, &st);
	if (st.used > st.size || st.records + st.dropped != st.next_seq - 1 ||
	    st.first_seq != st.dropped + 1)
		abort();
	if (logring_read(small, 0, 0, consecutive, &c) != st.records)
		abort();
	free(c.out);
	logring_free(small);
	logring_free(big);
	return 0;
}
