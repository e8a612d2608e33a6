// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * logring: a bounded ring of log records (logring.h).
 *
 * Layout: one buffer of @size bytes (a multiple of 8).  Records sit at
 * increasing positions (64-bit, never wrapping; the offset in the buffer
 * is pos % size), each a struct hdr and its line, padded to 8 bytes, never
 * split across the buffer's end: a record that would be is preceded by a
 * pad (a hdr with stream 0, or nothing when fewer than sizeof(struct hdr)
 * bytes are left) up to the end.  @head is the oldest record's position,
 * @tail where the next one goes; tail - head <= size always.  Adding
 * evicts from @head until the new record fits, so the writer never waits
 * and memory never grows.  Sequence numbers have no gap, so the reader
 * finds seq S by walking from @head (or from the last record a read
 * stopped at, the usual case of a follower asking for what is new).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "logring.h"

struct hdr {
	uint64_t seq;
	uint64_t time_ns;
	int32_t pid;
	uint32_t instance;
	uint32_t total; /* this record's bytes in the ring, header and padding included */
	uint16_t len;
	uint8_t stream; /* 0: a pad */
	uint8_t flags;
};

_Static_assert(sizeof(struct hdr) == 32, "logring record header: 32 bytes");

struct logring {
	uint8_t *data;
	uint32_t size, line_max;
	uint64_t head, tail; /* positions; tail - head <= size */
	uint64_t first_seq, next_seq;
	uint32_t records;
	uint64_t dropped, dropped_bytes, split;
	uint64_t hint_pos, hint_seq; /* a record a read visited, if still kept */
};

int logring_parse_size(const char *s, uint32_t *bytes)
{
	unsigned long long n, mult = 1;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno)
		return -ERANGE;
	if (*end == 'k' || *end == 'K')
		mult = 1ULL << 10, end++;
	else if (*end == 'm' || *end == 'M')
		mult = 1ULL << 20, end++;
	if (*end)
		return -EINVAL;
	if (n > LOGRING_MAX_SIZE || n * mult > LOGRING_MAX_SIZE || n * mult < LOGRING_MIN_SIZE)
		return -ERANGE;
	*bytes = (uint32_t)(n * mult);
	return 0;
}

struct logring *logring_new(uint32_t size)
{
	struct logring *r;

	if (!size)
		size = LOGRING_DEFAULT_SIZE;
	if (size < LOGRING_MIN_SIZE)
		size = LOGRING_MIN_SIZE;
	if (size > LOGRING_MAX_SIZE)
		size = LOGRING_MAX_SIZE;
	size &= ~7U;
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->data = malloc(size);
	if (!r->data) {
		free(r);
		return NULL;
	}
	r->size = size;
	r->line_max = size / 8 < LOGRING_LINE_MAX ? size / 8 : LOGRING_LINE_MAX;
	r->first_seq = r->next_seq = 1;
	return r;
}

void logring_free(struct logring *r)
{
	if (!r)
		return;
	free(r->data);
	free(r);
}

static uint32_t left_at(const struct logring *r, uint64_t pos)
{
	return r->size - (uint32_t)(pos % r->size);
}

static struct hdr *hdr_at(const struct logring *r, uint64_t pos)
{
	return (struct hdr *)(r->data + pos % r->size);
}

/* The position after the record (or pad) at @pos. */
static uint64_t next_pos(const struct logring *r, uint64_t pos)
{
	if (left_at(r, pos) < sizeof(struct hdr))
		return pos + left_at(r, pos);
	return pos + hdr_at(r, pos)->total;
}

static void evict_one(struct logring *r)
{
	if (left_at(r, r->head) >= sizeof(struct hdr) && hdr_at(r, r->head)->stream) {
		r->dropped++;
		r->dropped_bytes += hdr_at(r, r->head)->len;
		r->records--;
		r->first_seq++;
	}
	r->head = next_pos(r, r->head);
}

static void make_room(struct logring *r, uint32_t bytes)
{
	while (r->tail + bytes - r->head > r->size)
		evict_one(r);
}

uint64_t logring_add(struct logring *r, const struct logring_record *rec, const char *line,
		     size_t len)
{
	uint32_t need, gap;
	struct hdr *h;

	if (len > r->line_max)
		len = r->line_max;
	need = (uint32_t)((sizeof(struct hdr) + len + 7) & ~(size_t)7);
	gap = left_at(r, r->tail);
	if (gap < need) {
		make_room(r, gap);
		if (gap >= sizeof(struct hdr))
			*hdr_at(r, r->tail) = (struct hdr){ .total = gap };
		r->tail += gap;
	}
	make_room(r, need);
	h = hdr_at(r, r->tail);
	*h = (struct hdr){
		.seq = r->next_seq,
		.time_ns = rec->time_ns,
		.pid = rec->pid,
		.instance = rec->instance,
		.total = need,
		.len = (uint16_t)len,
		.stream = rec->stream ? rec->stream : LOGRING_STDOUT,
		.flags = rec->flags,
	};
	if (len)
		memcpy(h + 1, line, len);
	r->tail += need;
	r->records++;
	if (rec->flags & LOGRING_F_SPLIT)
		r->split++;
	return r->next_seq++;
}

/* The position of record @seq (first_seq <= seq < next_seq). */
static uint64_t find(const struct logring *r, uint64_t seq)
{
	uint64_t pos = r->head;

	if (r->hint_pos >= r->head && r->hint_pos < r->tail && r->hint_seq <= seq)
		pos = r->hint_pos;
	for (;;) {
		if (left_at(r, pos) >= sizeof(struct hdr)) {
			const struct hdr *h = hdr_at(r, pos);

			if (h->stream && h->seq == seq)
				return pos;
		}
		pos = next_pos(r, pos);
	}
}

uint32_t logring_read(struct logring *r, uint64_t after_seq, uint32_t last,
		      bool (*fn)(const struct logring_record *rec, void *ctx), void *ctx)
{
	uint64_t seq = after_seq + 1, pos;
	uint32_t n = 0;

	if (seq < r->first_seq)
		seq = r->first_seq;
	if (seq >= r->next_seq)
		return 0;
	if (last && r->next_seq - seq > last)
		seq = r->next_seq - last;
	for (pos = find(r, seq); pos < r->tail; pos = next_pos(r, pos)) {
		const struct hdr *h;
		struct logring_record rec;

		if (left_at(r, pos) < sizeof(struct hdr) || !hdr_at(r, pos)->stream)
			continue;
		h = hdr_at(r, pos);
		rec = (struct logring_record){
			.seq = h->seq,
			.time_ns = h->time_ns,
			.pid = h->pid,
			.instance = h->instance,
			.stream = h->stream,
			.flags = h->flags,
			.len = h->len,
			.line = (const char *)(h + 1),
		};
		r->hint_pos = pos;
		r->hint_seq = h->seq;
		n++;
		if (!fn(&rec, ctx))
			break;
	}
	return n;
}

void logring_stats(const struct logring *r, struct logring_stats *st)
{
	*st = (struct logring_stats){
		.first_seq = r->first_seq,
		.next_seq = r->next_seq,
		.dropped = r->dropped,
		.dropped_bytes = r->dropped_bytes,
		.split = r->split,
		.size = r->size,
		.used = (uint32_t)(r->tail - r->head),
		.records = r->records,
		.line_max = r->line_max,
	};
}

/* ---- streams: bytes from a pipe into records --------------------------- */

void logring_stream_init(struct logring_stream_state *s, struct logring *r, uint8_t stream,
			 pid_t pid, uint32_t instance)
{
	s->ring = r;
	s->stream = stream;
	s->pid = (int32_t)pid;
	s->instance = instance;
	s->npending = 0;
}

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* One record: the pending bytes followed by @n bytes of @buf. */
static void emit(struct logring_stream_state *s, const char *buf, uint32_t n, uint8_t flags,
		 uint64_t now)
{
	struct logring_record rec = {
		.time_ns = now,
		.pid = s->pid,
		.instance = s->instance,
		.stream = s->stream,
		.flags = flags,
	};

	if (!s->npending) {
		logring_add(s->ring, &rec, buf, n);
		return;
	}
	memcpy(s->pending + s->npending, buf, n); /* fits: callers cut at the line limit */
	logring_add(s->ring, &rec, s->pending, s->npending + n);
	s->npending = 0;
}

uint32_t logring_stream_feed(struct logring_stream_state *s, const char *buf, size_t n)
{
	uint32_t lmax = s->ring->line_max, added = 0;
	uint64_t now = realtime_ns();

	while (n) {
		const char *nl = memchr(buf, '\n', n);
		size_t seg = nl ? (size_t)(nl - buf) : n;
		uint32_t room = lmax - s->npending;

		if (seg > room) {
			/* Longer than a record: cut here, the rest follows. */
			emit(s, buf, room, LOGRING_F_SPLIT, now);
			buf += room;
			n -= room;
		} else if (nl) {
			emit(s, buf, (uint32_t)seg, 0, now);
			buf += seg + 1;
			n -= seg + 1;
		} else {
			memcpy(s->pending + s->npending, buf, seg);
			s->npending += (uint32_t)seg;
			break;
		}
		added++;
	}
	return added;
}

uint32_t logring_stream_end(struct logring_stream_state *s)
{
	if (!s->npending)
		return 0;
	emit(s, "", 0, LOGRING_F_NOEOL, realtime_ns());
	return 1;
}
