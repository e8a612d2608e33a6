/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/*
 * logring: a bounded ring of log records, one per supervised cell (its
 * stdout and stderr, read by celld).  Plain memory, no I/O, no loop: the
 * supervisor feeds it bytes read from the cell's pipes (logs.c), the
 * nucleus method "logs" reads it, and tests drive it directly.
 *
 * The ring holds whole records in one allocation of a fixed size.  A new
 * record that does not fit evicts the oldest ones; those are counted
 * (dropped) and never block the writer.  Records are numbered from 1 with
 * no gap, so a reader that remembers the last sequence number it saw asks
 * for what came after and learns how many it missed.  Lines longer than
 * the ring's line limit are cut into several records, each but the last
 * marked LOGRING_F_SPLIT.
 *
 * Single-threaded: celld's loop owns every ring.
 */
#ifndef CELLD_LOGRING_H
#define CELLD_LOGRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define LOGRING_DEFAULT_SIZE (256U << 10) /* log_size= when not given */
#define LOGRING_MIN_SIZE     (16U << 10)
#define LOGRING_MAX_SIZE     (64U << 20)
#define LOGRING_LINE_MAX     4096U /* longer lines are split (at most size/8) */

enum logring_stream {
	LOGRING_STDOUT = 1,
	LOGRING_STDERR = 2,
};

/* The record's line goes on in the next record of its stream and instance. */
#define LOGRING_F_SPLIT 1U
/* The stream ended without a newline after this line. */
#define LOGRING_F_NOEOL 2U

/* One record as a reader sees it. */
struct logring_record {
	uint64_t seq;	   /* 1, 2, 3, ... in the order they were added */
	uint64_t time_ns;  /* CLOCK_REALTIME when celld read the line */
	int32_t pid;	   /* the process whose pipe it came from (the cell's bwrap) */
	uint32_t instance; /* 1 for the cell's first start, +1 for each restart */
	uint8_t stream;	   /* enum logring_stream */
	uint8_t flags;	   /* LOGRING_F_* */
	uint16_t len;
	const char *line; /* @len bytes, no newline; valid until the next add */
};

struct logring_stats {
	uint64_t first_seq;	/* oldest record kept (next_seq when empty) */
	uint64_t next_seq;	/* the number the next record gets */
	uint64_t dropped;	/* records evicted because the ring wrapped */
	uint64_t dropped_bytes; /* their line bytes */
	uint64_t split;		/* records cut from over-long lines */
	uint32_t size;		/* the ring's bytes */
	uint32_t used;		/* bytes the kept records take */
	uint32_t records;	/* records kept */
	uint32_t line_max;	/* longest record line */
};

struct logring;

/*
 * logring_parse_size() - "65536", "64k", "4M" (powers of 1024) into
 * bytes, within LOGRING_MIN_SIZE..LOGRING_MAX_SIZE.  Return: 0, or
 * -EINVAL (not a size) or -ERANGE (outside the bounds).
 */
__attribute__((warn_unused_result)) int logring_parse_size(const char *s, uint32_t *bytes);

/*
 * logring_new() - a ring of @size bytes (clamped to the bounds; 0: the
 * default).  Return: the ring, or NULL with errno set (ENOMEM).
 */
struct logring *logring_new(uint32_t size);
void logring_free(struct logring *r);

/*
 * logring_add() - append one record (@len bytes of @line; longer than the
 * line limit is cut to it).  Evicts the oldest records as needed.  Return:
 * the new record's sequence number.
 */
uint64_t logring_add(struct logring *r, const struct logring_record *rec, const char *line,
		     size_t len);

/*
 * logring_read() - call @fn for the records with seq > @after_seq, oldest
 * first; with @last > 0 only the newest @last of them.  Stops early when
 * @fn returns false.  Return: the number of records passed to @fn.  The
 * record's line points into the ring: do not add while reading.
 */
uint32_t logring_read(struct logring *r, uint64_t after_seq, uint32_t last,
		      bool (*fn)(const struct logring_record *rec, void *ctx), void *ctx);

void logring_stats(const struct logring *r, struct logring_stats *st);

/*
 * A stream being read: bytes in, records out.  One per pipe: the partial
 * line waits here until its newline, the pipe's end or the line limit.
 */
struct logring_stream_state {
	struct logring *ring;
	int32_t pid;
	uint32_t instance;
	uint8_t stream;
	uint32_t npending;
	char pending[LOGRING_LINE_MAX];
};

/* logring_stream_init() - @s reads @stream of @pid (@instance) into @r. */
void logring_stream_init(struct logring_stream_state *s, struct logring *r, uint8_t stream,
			 pid_t pid, uint32_t instance);

/*
 * logring_stream_feed() - @n bytes as read from the pipe: each complete
 * line becomes a record (a trailing '\r' is kept, NUL bytes too); a line
 * reaching the limit is cut (LOGRING_F_SPLIT).  Return: records added.
 */
uint32_t logring_stream_feed(struct logring_stream_state *s, const char *buf, size_t n);

/* logring_stream_end() - the pipe closed: a pending partial line becomes a record (NOEOL). */
uint32_t logring_stream_end(struct logring_stream_state *s);

#endif /* CELLD_LOGRING_H */
