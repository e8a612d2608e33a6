/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * Metrics: per-method call counts, counts by status and latency histograms.
 *
 * Recording is lock-free and wait-free once a method has been seen: a few
 * relaxed atomic additions, no locks, no system calls, safe from any number
 * of threads.  Readers take a snapshot (a private copy) and query that.
 *
 * Latency histograms are log-linear ("HDR-style"): values 0..15 ns have one
 * bucket each; every power-of-two range [2^k, 2^(k+1)) for k = 4..36 is
 * split into 16 equal buckets; values of 2^37 ns (about 137 s) and more
 * fall into one overflow bucket.  A quantile is reported as the middle of
 * the bucket that holds it, so for any value below 2^37 ns:
 *
 *     |reported - exact| <= exact / 32      (relative error <= 3.125 %)
 *
 * where "exact" is the nearest-rank quantile of the recorded values (the
 * value at rank ceil(q * count), 1-based).  Values under 16 ns are exact.
 * A quantile in the overflow bucket is reported as the largest value seen.
 */
#ifndef CELL_METRICS_H
#define CELL_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <linux/cell.h>
#include <cell/api.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Relative error bound of cell_hist_quantile(), as a fraction (1/32). */
#define CELL_HIST_REL_ERROR (1.0 / 32)
/* Values at or above this many ns land in the overflow bucket. */
#define CELL_HIST_MAX_TRACKED (UINT64_C(1) << 37)

/* A latency histogram; live (recording) or frozen (inside a snapshot). */
struct cell_hist;
/* The metrics of one endpoint: a histogram and counters per method id. */
struct cell_metrics;
/* A private, consistent-per-counter copy of a struct cell_metrics. */
struct cell_metrics_snapshot;
/* One method's figures inside a snapshot. */
struct cell_method_stats;

/* ---- histograms ------------------------------------------------------ */

/**
 * cell_hist_new() - an empty histogram, for callers that measure something
 * other than RPC methods (benchmarks, the demo).  Free with cell_hist_free().
 * Return: the histogram, or NULL with errno = ENOMEM.
 */
LIBCELL_API struct cell_hist *cell_hist_new(void);

/* cell_hist_free() - free a histogram from cell_hist_new(); NULL is a no-op. */
LIBCELL_API void cell_hist_free(struct cell_hist *hist);

/**
 * cell_hist_record() - count one value of @ns nanoseconds.  Lock-free and
 * safe from any number of threads at once.
 */
LIBCELL_API void cell_hist_record(struct cell_hist *hist, uint64_t ns);

/**
 * cell_hist_reset() - forget every value.  Values recorded concurrently are
 * either forgotten or kept whole, never half counted.
 */
LIBCELL_API void cell_hist_reset(struct cell_hist *hist);

/**
 * cell_hist_count() - number of values recorded (the sum of the buckets).
 */
LIBCELL_API uint64_t cell_hist_count(const struct cell_hist *hist);

/* Sum of the values recorded (wraps after 584 years of nanoseconds). */
LIBCELL_API uint64_t cell_hist_sum(const struct cell_hist *hist);

/* Smallest and largest value recorded, 0 if none; mean rounded down. */
LIBCELL_API uint64_t cell_hist_min(const struct cell_hist *hist);
LIBCELL_API uint64_t cell_hist_max(const struct cell_hist *hist);
LIBCELL_API uint64_t cell_hist_mean(const struct cell_hist *hist);

/**
 * cell_hist_quantile() - the value at quantile @q (0 <= q <= 1, e.g. 0.5,
 * 0.99, 0.999) within CELL_HIST_REL_ERROR of the exact nearest-rank value.
 * On a live histogram being written to, the answer is that of some set of
 * values between the ones recorded before the call and those recorded by
 * its end.
 * Return: the value in ns, 0 for an empty histogram or a @q outside [0, 1].
 */
LIBCELL_API uint64_t cell_hist_quantile(const struct cell_hist *hist, double q);

/* Summary of one histogram, filled by cell_hist_summarize(). */
struct cell_hist_summary {
	uint64_t count;
	uint64_t min, max, mean;
	uint64_t p50, p90, p99, p999;
};

/* cell_hist_summarize() - count, min, max, mean and usual quantiles at once. */
LIBCELL_API void cell_hist_summarize(const struct cell_hist *hist, struct cell_hist_summary *out);

/* Number of buckets in every histogram (the overflow bucket is the last). */
LIBCELL_API unsigned int cell_hist_bucket_count(void);

/**
 * cell_hist_bucket() - bucket @i: the values it holds are [*@lo, *@hi]
 * (inclusive; the overflow bucket has *@hi = UINT64_MAX).
 * Return: the bucket's count, 0 if @i is out of range (then *@lo = *@hi = 0).
 */
LIBCELL_API uint64_t cell_hist_bucket(const struct cell_hist *hist, unsigned int i, uint64_t *lo,
				      uint64_t *hi);

/* ---- per-method metrics ---------------------------------------------- */

struct cell_metrics_opts {
	size_t sz; /* sizeof(struct cell_metrics_opts) */
};

/**
 * cell_metrics_new() - an empty set of metrics.  @opts may be NULL.
 * Return: the metrics, or NULL with errno (ENOMEM, EINVAL for a bad @opts).
 */
LIBCELL_API struct cell_metrics *cell_metrics_new(const struct cell_metrics_opts *opts);

/**
 * cell_metrics_free() - free @m; no thread may be recording into it any
 * more.  NULL is a no-op.
 */
LIBCELL_API void cell_metrics_free(struct cell_metrics *m);

/**
 * cell_metrics_record() - count one finished call of @method that ended
 * with @status after @latency_ns nanoseconds (all calls, errors included,
 * go into the method's latency histogram).  A status outside enum
 * cell_status is counted as CELL_STATUS_MAX ("unknown status").
 *
 * Lock-free, safe from any number of threads.  The first call for a method
 * allocates its counters (about 18 KiB: four stripes); if that allocation fails the call
 * is counted in cell_metrics_snapshot_dropped() instead.  A NULL @m is a
 * no-op, so callers need not test for "metrics off".
 */
LIBCELL_API void cell_metrics_record(struct cell_metrics *m, uint16_t method,
				     enum cell_status status, uint64_t latency_ns);

/**
 * cell_metrics_reset() - set every counter and histogram to zero.  Methods
 * seen so far stay listed (with zero calls).  A call recorded concurrently
 * is either forgotten or kept, per counter.
 */
LIBCELL_API void cell_metrics_reset(struct cell_metrics *m);

/*
 * Gauges: levels a server keeps in its metrics (cell_server_opts.metrics)
 * beside the counters, for autoscaling.  Not reset by
 * cell_metrics_reset() or CELL_METRICS_SNAPSHOT_RESET: they are levels.
 */
enum cell_metrics_gauge {
	/*
	 * Calls the server has taken in (read from the ring or socket, or
	 * from QUIC) whose handler has not returned yet, one-way ones
	 * included.  Requests still waiting in a ring are not counted.
	 */
	CELL_METRICS_INFLIGHT = 0,
	/*
	 * Local connections past the handshake (QUIC peers are not counted);
	 * in a METRICS answer, the asking connection is one of them.
	 */
	CELL_METRICS_CLIENTS = 1,
	CELL_METRICS_GAUGES /* how many there are */
};

/**
 * cell_metrics_gauge_add() - add @delta (negative to take away) to @gauge
 * of @m.  Lock-free; a NULL @m is a no-op.  libcell's server does this
 * itself for the metrics it is given; this is for servers of other kinds.
 */
LIBCELL_API void cell_metrics_gauge_add(struct cell_metrics *m, enum cell_metrics_gauge gauge,
					int64_t delta);

/* Flags of cell_metrics_snapshot(). */
enum cell_metrics_snapshot_flags {
	/*
	 * Zero each counter in the same atomic step that reads it: with a
	 * series of snapshots every recorded call is counted in exactly one.
	 */
	CELL_METRICS_SNAPSHOT_RESET = 1u << 0,
	/*
	 * Leave the gauges out (cell_metrics_snapshot_gauge() says -ENODATA),
	 * so that cell_metrics_encode() writes a version 1 answer.
	 */
	CELL_METRICS_SNAPSHOT_NO_GAUGES = 1u << 1,
};

/**
 * cell_metrics_snapshot() - copy @m's counters into a new snapshot the
 * caller owns (free with cell_metrics_snapshot_free()).  Each counter is
 * read atomically; counters of one call recorded during the snapshot may be
 * seen partly.  A method's calls are the sum of its counts by status, and
 * its histogram count is the sum of its buckets, so each is self-consistent.
 * Return: the snapshot, or NULL with errno (ENOMEM, EINVAL for bad @flags).
 */
LIBCELL_API struct cell_metrics_snapshot *cell_metrics_snapshot(struct cell_metrics *m,
								unsigned int flags);

/* cell_metrics_snapshot_free() - free a snapshot; NULL is a no-op. */
LIBCELL_API void cell_metrics_snapshot_free(struct cell_metrics_snapshot *snap);

/* Number of methods in @snap (those ever recorded), in increasing id order. */
LIBCELL_API size_t cell_metrics_snapshot_count(const struct cell_metrics_snapshot *snap);

/**
 * cell_metrics_snapshot_method() - the @i-th method (0-based, by increasing
 * id) in @snap.  Valid until the snapshot is freed.
 * Return: its stats, or NULL if @i >= cell_metrics_snapshot_count().
 */
LIBCELL_API const struct cell_method_stats *
cell_metrics_snapshot_method(const struct cell_metrics_snapshot *snap, size_t i);

/* cell_metrics_snapshot_find() - stats of @method, NULL if never recorded. */
LIBCELL_API const struct cell_method_stats *
cell_metrics_snapshot_find(const struct cell_metrics_snapshot *snap, uint16_t method);

/* Calls not counted because their method's counters could not be allocated. */
LIBCELL_API uint64_t cell_metrics_snapshot_dropped(const struct cell_metrics_snapshot *snap);

/**
 * cell_metrics_snapshot_gauge() - the level of @gauge when @snap was taken.
 * Return: 0 with *@value set; -ENODATA (*@value = 0) when @snap has no
 * gauges: decoded from a version 1 answer (an older server), or taken with
 * CELL_METRICS_SNAPSHOT_NO_GAUGES; -EINVAL for an unknown @gauge.
 */
LIBCELL_API CELL_MUST_CHECK int
cell_metrics_snapshot_gauge(const struct cell_metrics_snapshot *snap, enum cell_metrics_gauge gauge,
			    uint64_t *value);

LIBCELL_API uint16_t cell_method_stats_method(const struct cell_method_stats *st);
/* All calls of the method (every status). */
LIBCELL_API uint64_t cell_method_stats_calls(const struct cell_method_stats *st);
/* Calls whose status was not CELL_STATUS_OK. */
LIBCELL_API uint64_t cell_method_stats_errors(const struct cell_method_stats *st);
/* Calls that ended with @status; CELL_STATUS_MAX counts unknown codes. */
LIBCELL_API uint64_t cell_method_stats_status(const struct cell_method_stats *st,
					      enum cell_status status);
/* The method's latency histogram (frozen), valid as long as the snapshot. */
LIBCELL_API const struct cell_hist *cell_method_stats_latency(const struct cell_method_stats *st);

/* ---- dumping ---------------------------------------------------------- */

enum cell_metrics_format {
	CELL_METRICS_TEXT = 0, /* one line per method, for people */
	CELL_METRICS_JSON = 1, /* one JSON object, for programs */
};

struct cell_metrics_dump_opts {
	size_t sz; /* sizeof(struct cell_metrics_dump_opts) */
	enum cell_metrics_format format;
	/*
	 * Name of a method id, or NULL to print the number.  The name is
	 * escaped in JSON, so any bytes are safe.
	 */
	const char *(*method_name)(uint16_t method, void *ctx);
	void *ctx;
	/* JSON only: also list the non-empty buckets as [lo, hi, count]. */
	int buckets;
};

/**
 * cell_metrics_dump() - @snap as text or JSON (see @opts; NULL means text,
 * numeric method ids).  Text columns: method, calls, errors, p50, p99,
 * p999, max (ns), then "STATUS=n" for each non-zero error status.
 * Return: a NUL-terminated string the caller frees with free(), or NULL
 * with errno (ENOMEM, EINVAL).
 */
LIBCELL_API char *cell_metrics_dump(const struct cell_metrics_snapshot *snap,
				    const struct cell_metrics_dump_opts *opts);

/* ---- collection (CELL_METHOD_METRICS) --------------------------------- */

/* Bytes of @snap as a METRICS answer (struct cell_metrics_wire ...). */
LIBCELL_API size_t cell_metrics_wire_size(const struct cell_metrics_snapshot *snap);

/**
 * cell_metrics_encode() - @snap as a METRICS answer into @buf (@cap bytes);
 * only non-empty histogram buckets travel.  Version 2 (with the gauges)
 * when @snap has gauges, else version 1 (<linux/cell.h>).
 * Return: bytes written, or 0 if @cap < cell_metrics_wire_size() or @snap
 * has more than 65535 methods.
 */
LIBCELL_API size_t cell_metrics_encode(const struct cell_metrics_snapshot *snap, void *buf,
				       size_t cap);

/**
 * cell_metrics_decode() - parse a METRICS answer of @len bytes from an
 * untrusted peer into a new snapshot (*@out, free with
 * cell_metrics_snapshot_free()) that the snapshot and histogram queries
 * read like a local one.  Checks magic, version (1, or 2 with gauges),
 * reserved fields, the histogram layout, method order, bucket indices and
 * order, counts that overflow, and that the length is exact.
 * @why: may be NULL; on -EBADMSG says which rule failed.
 * Return: 0, -EBADMSG, or -ENOMEM.
 */
LIBCELL_API CELL_MUST_CHECK int cell_metrics_decode(const void *buf, size_t len,
						    struct cell_metrics_snapshot **out,
						    const char **why);

struct cell_client; /* cell/rpc.h */

/**
 * cell_client_metrics() - ask the server of @c for its metrics
 * (CELL_METHOD_METRICS, asking for version 2) and decode them into *@out;
 * an older server's answer has no gauges (cell_metrics_snapshot_gauge()).
 * Return: the call's status (NOT_FOUND: the server keeps no metrics;
 * BAD_MESSAGE: the answer did not parse, cell_last_error() says why).
 */
LIBCELL_API enum cell_status
cell_client_metrics(struct cell_client *c, struct cell_metrics_snapshot **out, uint64_t deadline);

#ifdef __cplusplus
}
#endif

#endif /* CELL_METRICS_H */
