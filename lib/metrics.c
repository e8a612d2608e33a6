// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Metrics: per-method counters and log-linear latency histograms.
 *
 * Locking and memory ordering
 * ---------------------------
 * There are no locks.  Every counter is a 64-bit C11 atomic updated with
 * relaxed read-modify-write operations: a count needs atomicity, not order,
 * and each counter is exact on its own.  Nothing promises that the counters
 * of one call (its status count, its bucket, the sum) are seen together; a
 * snapshot therefore derives each total from the counters it adds up
 * (calls = sum over statuses, histogram count = sum over buckets) so every
 * figure it reports is consistent with its own parts.
 *
 * Method records are found through a two-level table indexed by the 16-bit
 * method id (256 pages of 256 slots).  A page or record is allocated on the
 * first call of a method and published with a release compare-and-swap of
 * its slot; lookups read slots with acquire loads, which pairs with that
 * release so a reader sees the initialised record (min = UINT64_MAX).  A
 * thread that loses the race frees its copy and uses the winner's.  Slots
 * are never cleared before cell_metrics_free(), which must not race with
 * recording.
 *
 * cell_metrics_snapshot(..., RESET) reads each counter with an atomic
 * exchange against zero, so across a series of such snapshots every
 * increment is seen exactly once.
 *
 * Gauges (calls in flight, clients) are levels, not counts: relaxed signed
 * additions, the in-flight one striped like the method counters (a server
 * thread adds and takes away on its own stripe, so a stripe may go below
 * zero while the sum cannot); a snapshot adds them up and never resets
 * them.  A sum read while calls start and end is some level between.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cell/metrics.h>
#include <cell/wire.h>
#include "le.h"
#include "opts.h"

/*
 * Buckets: [0, 16) one per value; then for k = 4..36 the range
 * [2^k, 2^(k+1)) in SUB_COUNT buckets of 2^(k-4); then the overflow.
 */
#define SUB_BITS   4
#define SUB_COUNT  (1u << SUB_BITS)
#define MIN_EXP	   SUB_BITS
#define MAX_EXP	   36
#define OVERFLOW   (SUB_COUNT + (MAX_EXP - MIN_EXP + 1) * SUB_COUNT)
#define NBUCKETS   (OVERFLOW + 1)
#define NSTATUS	   (CELL_STATUS_MAX + 1)
#define PAGE_BITS  8
#define PAGE_SLOTS (1u << PAGE_BITS)
#define NPAGES	   (65536u / PAGE_SLOTS)
#define STRIPES	   4
#define RELAXED	   memory_order_relaxed

_Static_assert(CELL_HIST_MAX_TRACKED == UINT64_C(1) << (MAX_EXP + 1), "overflow bound");

struct cell_hist {
	_Atomic uint64_t bucket[NBUCKETS];
	_Atomic uint64_t sum; /* wraps after 584 years of summed latency */
	_Atomic uint64_t min; /* UINT64_MAX while empty */
	_Atomic uint64_t max;
};

/*
 * One method's counters, in STRIPES copies on separate cache lines: each
 * recording thread sticks to one stripe, so threads calling the same method
 * do not bounce one line between cores.  Readers add the stripes up.
 */
struct stripe {
	_Alignas(64) _Atomic uint64_t status[NSTATUS]; /* [CELL_STATUS_MAX]: unknown codes */
	struct cell_hist latency;
};

struct method_rec {
	struct stripe stripe[STRIPES];
};

struct method_page {
	_Atomic(struct method_rec *) rec[PAGE_SLOTS];
};

struct gauge_stripe {
	_Alignas(64) _Atomic int64_t inflight;
};

struct cell_metrics {
	_Atomic(struct method_page *) page[NPAGES];
	_Atomic uint64_t dropped;
	_Atomic int64_t clients;
	struct gauge_stripe gauge[STRIPES];
};

struct cell_method_stats {
	uint16_t method;
	uint64_t calls;
	uint64_t errors;
	uint64_t status[NSTATUS];
	struct cell_hist latency;
};

struct cell_metrics_snapshot {
	size_t count;
	uint64_t dropped;
	bool have_gauges; /* false: a version 1 answer, or left out */
	uint64_t gauge[CELL_METRICS_GAUGES];
	struct cell_method_stats stats[];
};

/* ---- histograms ------------------------------------------------------ */

static unsigned int bucket_index(uint64_t v)
{
	unsigned int k;

	if (v < SUB_COUNT)
		return (unsigned int)v;
	if (v >= CELL_HIST_MAX_TRACKED)
		return OVERFLOW;
	k = 63 - (unsigned int)__builtin_clzll(v);
	return SUB_COUNT + (k - MIN_EXP) * SUB_COUNT +
	       (unsigned int)((v >> (k - SUB_BITS)) & (SUB_COUNT - 1));
}

/* Inclusive bounds of bucket @i (< NBUCKETS). */
static void bucket_bounds(unsigned int i, uint64_t *lo, uint64_t *hi)
{
	unsigned int k, sub;

	if (i < SUB_COUNT) {
		*lo = *hi = i;
		return;
	}
	if (i == OVERFLOW) {
		*lo = CELL_HIST_MAX_TRACKED;
		*hi = UINT64_MAX;
		return;
	}
	k = (i - SUB_COUNT) / SUB_COUNT + MIN_EXP;
	sub = (i - SUB_COUNT) % SUB_COUNT;
	*lo = (uint64_t)(SUB_COUNT + sub) << (k - SUB_BITS);
	*hi = *lo + (UINT64_C(1) << (k - SUB_BITS)) - 1;
}

static void hist_init(struct cell_hist *h)
{
	for (unsigned int i = 0; i < NBUCKETS; i++)
		atomic_init(&h->bucket[i], 0);
	atomic_init(&h->sum, 0);
	atomic_init(&h->min, UINT64_MAX);
	atomic_init(&h->max, 0);
}

struct cell_hist *cell_hist_new(void)
{
	struct cell_hist *h = malloc(sizeof(*h));

	if (!h) {
		errno = ENOMEM;
		return NULL;
	}
	hist_init(h);
	return h;
}

void cell_hist_free(struct cell_hist *hist)
{
	free(hist);
}

void cell_hist_record(struct cell_hist *h, uint64_t ns)
{
	uint64_t cur;

	atomic_fetch_add_explicit(&h->bucket[bucket_index(ns)], 1, RELAXED);
	atomic_fetch_add_explicit(&h->sum, ns, RELAXED);
	cur = atomic_load_explicit(&h->min, RELAXED);
	while (ns < cur &&
	       !atomic_compare_exchange_weak_explicit(&h->min, &cur, ns, RELAXED, RELAXED))
		;
	cur = atomic_load_explicit(&h->max, RELAXED);
	while (ns > cur &&
	       !atomic_compare_exchange_weak_explicit(&h->max, &cur, ns, RELAXED, RELAXED))
		;
}

/* Read (and with @take, zero) one counter of a live histogram. */
static uint64_t take_or_load(_Atomic uint64_t *p, bool take, uint64_t empty)
{
	return take ? atomic_exchange_explicit(p, empty, RELAXED)
		    : atomic_load_explicit(p, RELAXED);
}

/*
 * Add @src's counters into @dst, a private histogram that only this thread
 * sees; with @take, zero @src's counters in the same atomic step.
 */
static void hist_merge(struct cell_hist *dst, struct cell_hist *src, bool take)
{
	uint64_t min = take_or_load(&src->min, take, UINT64_MAX);
	uint64_t max = take_or_load(&src->max, take, 0);

	for (unsigned int i = 0; i < NBUCKETS; i++)
		atomic_store_explicit(&dst->bucket[i],
				      atomic_load_explicit(&dst->bucket[i], RELAXED) +
					      take_or_load(&src->bucket[i], take, 0),
				      RELAXED);
	atomic_store_explicit(&dst->sum,
			      atomic_load_explicit(&dst->sum, RELAXED) +
				      take_or_load(&src->sum, take, 0),
			      RELAXED);
	if (min < atomic_load_explicit(&dst->min, RELAXED))
		atomic_store_explicit(&dst->min, min, RELAXED);
	if (max > atomic_load_explicit(&dst->max, RELAXED))
		atomic_store_explicit(&dst->max, max, RELAXED);
}

void cell_hist_reset(struct cell_hist *h)
{
	for (unsigned int i = 0; i < NBUCKETS; i++)
		atomic_store_explicit(&h->bucket[i], 0, RELAXED);
	atomic_store_explicit(&h->sum, 0, RELAXED);
	atomic_store_explicit(&h->min, UINT64_MAX, RELAXED);
	atomic_store_explicit(&h->max, 0, RELAXED);
}

static uint64_t load(const _Atomic uint64_t *p)
{
	/* C11 atomic loads take a non-const pointer; reading does not write. */
	return atomic_load_explicit((_Atomic uint64_t *)p, RELAXED);
}

/* Copy the buckets once so a live histogram is read at one moment each. */
static uint64_t copy_buckets(const struct cell_hist *h, uint64_t *out)
{
	uint64_t total = 0;

	for (unsigned int i = 0; i < NBUCKETS; i++) {
		out[i] = load(&h->bucket[i]);
		total += out[i];
	}
	return total;
}

uint64_t cell_hist_count(const struct cell_hist *h)
{
	uint64_t buckets[NBUCKETS];

	return copy_buckets(h, buckets);
}

uint64_t cell_hist_sum(const struct cell_hist *h)
{
	return load(&h->sum);
}

uint64_t cell_hist_min(const struct cell_hist *h)
{
	uint64_t min = load(&h->min);

	return min == UINT64_MAX && load(&h->max) == 0 ? 0 : min;
}

uint64_t cell_hist_max(const struct cell_hist *h)
{
	return load(&h->max);
}

uint64_t cell_hist_mean(const struct cell_hist *h)
{
	uint64_t n = cell_hist_count(h);

	return n ? load(&h->sum) / n : 0;
}

/* 1-based nearest rank of quantile @q among @total values. */
static uint64_t nearest_rank(double q, uint64_t total)
{
	double exact = q * (double)total;
	uint64_t rank = (uint64_t)exact;

	if ((double)rank < exact)
		rank++;
	if (rank < 1)
		rank = 1;
	return rank > total ? total : rank;
}

/*
 * The reported value of bucket @i: its middle (the largest value seen for
 * the overflow bucket), kept within the smallest and largest values seen.
 * The exact quantile lies in both the bucket and [min, max], so the clamp
 * only brings the answer closer to it.
 */
static uint64_t bucket_value(const struct cell_hist *h, unsigned int i)
{
	uint64_t lo, hi, mid, min = load(&h->min), max = load(&h->max);

	bucket_bounds(i, &lo, &hi);
	mid = i == OVERFLOW ? max : lo + (hi - lo) / 2;
	if (min > max) /* emptied by a concurrent reset: no clamp */
		return mid < lo ? lo : mid;
	if (mid > max)
		mid = max;
	if (mid < min)
		mid = min;
	return mid < lo ? lo : mid > hi ? hi : mid;
}

static uint64_t quantile_of(const struct cell_hist *h, const uint64_t *buckets, uint64_t total,
			    double q)
{
	uint64_t rank, seen = 0;

	if (!total || !(q >= 0.0 && q <= 1.0))
		return 0;
	rank = nearest_rank(q, total);
	for (unsigned int i = 0; i < NBUCKETS; i++) {
		seen += buckets[i];
		if (seen >= rank)
			return bucket_value(h, i);
	}
	return 0; /* not reached: seen == total >= rank at the end */
}

uint64_t cell_hist_quantile(const struct cell_hist *h, double q)
{
	uint64_t buckets[NBUCKETS];
	uint64_t total = copy_buckets(h, buckets);

	return quantile_of(h, buckets, total, q);
}

void cell_hist_summarize(const struct cell_hist *h, struct cell_hist_summary *out)
{
	uint64_t buckets[NBUCKETS];
	uint64_t total = copy_buckets(h, buckets);

	out->count = total;
	out->min = total ? cell_hist_min(h) : 0;
	out->max = total ? cell_hist_max(h) : 0;
	out->mean = total ? load(&h->sum) / total : 0;
	out->p50 = quantile_of(h, buckets, total, 0.5);
	out->p90 = quantile_of(h, buckets, total, 0.9);
	out->p99 = quantile_of(h, buckets, total, 0.99);
	out->p999 = quantile_of(h, buckets, total, 0.999);
}

unsigned int cell_hist_bucket_count(void)
{
	return NBUCKETS;
}

uint64_t cell_hist_bucket(const struct cell_hist *h, unsigned int i, uint64_t *lo, uint64_t *hi)
{
	if (i >= NBUCKETS) {
		*lo = *hi = 0;
		return 0;
	}
	bucket_bounds(i, lo, hi);
	return load(&h->bucket[i]);
}

/* ---- per-method metrics ---------------------------------------------- */

struct cell_metrics *cell_metrics_new(const struct cell_metrics_opts *opts)
{
	struct cell_metrics_opts o = { .sz = sizeof(o) };
	struct cell_metrics *m;

	if (cell_opts_copy(&o, sizeof(o), opts, "cell_metrics_opts")) {
		errno = EINVAL;
		return NULL;
	}
	m = aligned_alloc(_Alignof(struct cell_metrics), sizeof(*m));
	if (!m) {
		errno = ENOMEM;
		return NULL;
	}
	memset(m, 0, sizeof(*m));
	for (unsigned int i = 0; i < NPAGES; i++)
		atomic_init(&m->page[i], NULL);
	atomic_init(&m->dropped, 0);
	atomic_init(&m->clients, 0);
	for (unsigned int i = 0; i < STRIPES; i++)
		atomic_init(&m->gauge[i].inflight, 0);
	return m;
}

void cell_metrics_free(struct cell_metrics *m)
{
	if (!m)
		return;
	for (unsigned int p = 0; p < NPAGES; p++) {
		struct method_page *page = atomic_load_explicit(&m->page[p], RELAXED);

		if (!page)
			continue;
		for (unsigned int s = 0; s < PAGE_SLOTS; s++)
			free(atomic_load_explicit(&page->rec[s], RELAXED));
		free(page);
	}
	free(m);
}

static struct method_page *page_alloc(void)
{
	struct method_page *page = malloc(sizeof(*page));

	if (page)
		for (unsigned int s = 0; s < PAGE_SLOTS; s++)
			atomic_init(&page->rec[s], NULL);
	return page;
}

static struct method_rec *rec_alloc(void)
{
	struct method_rec *rec = aligned_alloc(_Alignof(struct method_rec), sizeof(*rec));

	if (!rec)
		return NULL;
	for (unsigned int i = 0; i < STRIPES; i++) {
		for (unsigned int s = 0; s < NSTATUS; s++)
			atomic_init(&rec->stripe[i].status[s], 0);
		hist_init(&rec->stripe[i].latency);
	}
	return rec;
}

/* Slot @slot's page, allocated and published on first use; NULL on ENOMEM. */
static struct method_page *page_get(struct cell_metrics *m, unsigned int slot)
{
	struct method_page *page = atomic_load_explicit(&m->page[slot], memory_order_acquire);
	struct method_page *fresh;

	if (page)
		return page;
	fresh = page_alloc();
	if (!fresh)
		return NULL;
	if (atomic_compare_exchange_strong_explicit(&m->page[slot], &page, fresh,
						    memory_order_acq_rel, memory_order_acquire))
		return fresh;
	free(fresh); /* another thread published first; @page is theirs */
	return page;
}

static struct method_rec *rec_get(struct cell_metrics *m, uint16_t method)
{
	struct method_page *page = page_get(m, method >> PAGE_BITS);
	_Atomic(struct method_rec *) *slot;
	struct method_rec *rec, *fresh;

	if (!page)
		return NULL;
	slot = &page->rec[method & (PAGE_SLOTS - 1)];
	rec = atomic_load_explicit(slot, memory_order_acquire);
	if (rec)
		return rec;
	fresh = rec_alloc();
	if (!fresh)
		return NULL;
	if (atomic_compare_exchange_strong_explicit(slot, &rec, fresh, memory_order_acq_rel,
						    memory_order_acquire))
		return fresh;
	free(fresh);
	return rec;
}

/* This thread's stripe: threads are dealt stripes in turn on first use. */
static unsigned int my_stripe(void)
{
	static atomic_uint next_stripe;
	static _Thread_local unsigned int stripe; /* stripe + 1; 0 = not dealt */

	if (!stripe)
		stripe = atomic_fetch_add_explicit(&next_stripe, 1, RELAXED) % STRIPES + 1;
	return stripe - 1;
}

void cell_metrics_record(struct cell_metrics *m, uint16_t method, enum cell_status status,
			 uint64_t latency_ns)
{
	struct method_rec *rec;
	struct stripe *stripe;
	unsigned int s = (unsigned int)status;

	if (!m)
		return;
	rec = rec_get(m, method);
	if (!rec) {
		atomic_fetch_add_explicit(&m->dropped, 1, RELAXED);
		return;
	}
	stripe = &rec->stripe[my_stripe()];
	atomic_fetch_add_explicit(&stripe->status[s < CELL_STATUS_MAX ? s : CELL_STATUS_MAX], 1,
				  RELAXED);
	cell_hist_record(&stripe->latency, latency_ns);
}

void cell_metrics_gauge_add(struct cell_metrics *m, enum cell_metrics_gauge gauge, int64_t delta)
{
	if (!m)
		return;
	if (gauge == CELL_METRICS_INFLIGHT)
		atomic_fetch_add_explicit(&m->gauge[my_stripe()].inflight, delta, RELAXED);
	else if (gauge == CELL_METRICS_CLIENTS)
		atomic_fetch_add_explicit(&m->clients, delta, RELAXED);
}

/* A gauge's level: the sum of its stripes, never below 0. */
static uint64_t gauge_level(struct cell_metrics *m, enum cell_metrics_gauge gauge)
{
	int64_t sum = 0;

	if (gauge == CELL_METRICS_CLIENTS)
		sum = atomic_load_explicit(&m->clients, RELAXED);
	else
		for (unsigned int i = 0; i < STRIPES; i++)
			sum += atomic_load_explicit(&m->gauge[i].inflight, RELAXED);
	return sum > 0 ? (uint64_t)sum : 0;
}

/* The record of @method if it was ever recorded (acquire pairs with rec_get). */
static struct method_rec *rec_find(struct cell_metrics *m, unsigned int method)
{
	struct method_page *page =
		atomic_load_explicit(&m->page[method >> PAGE_BITS], memory_order_acquire);

	if (!page)
		return NULL;
	return atomic_load_explicit(&page->rec[method & (PAGE_SLOTS - 1)], memory_order_acquire);
}

void cell_metrics_reset(struct cell_metrics *m)
{
	if (!m)
		return;
	for (unsigned int id = 0; id < 65536; id++) {
		struct method_rec *rec = rec_find(m, id);

		if (!rec)
			continue;
		for (unsigned int i = 0; i < STRIPES; i++) {
			for (unsigned int s = 0; s < NSTATUS; s++)
				atomic_store_explicit(&rec->stripe[i].status[s], 0, RELAXED);
			cell_hist_reset(&rec->stripe[i].latency);
		}
	}
	atomic_store_explicit(&m->dropped, 0, RELAXED);
}

static size_t count_methods(struct cell_metrics *m)
{
	size_t n = 0;

	for (unsigned int id = 0; id < 65536; id++)
		n += rec_find(m, id) != NULL;
	return n;
}

static void stats_fill(struct cell_method_stats *st, uint16_t id, struct method_rec *rec, bool take)
{
	st->method = id;
	st->calls = 0;
	memset(st->status, 0, sizeof(st->status));
	hist_init(&st->latency);
	for (unsigned int i = 0; i < STRIPES; i++) {
		for (unsigned int s = 0; s < NSTATUS; s++)
			st->status[s] += take_or_load(&rec->stripe[i].status[s], take, 0);
		hist_merge(&st->latency, &rec->stripe[i].latency, take);
	}
	for (unsigned int s = 0; s < NSTATUS; s++)
		st->calls += st->status[s];
	st->errors = st->calls - st->status[CELL_STATUS_OK];
}

struct cell_metrics_snapshot *cell_metrics_snapshot(struct cell_metrics *m, unsigned int flags)
{
	const unsigned int known = CELL_METRICS_SNAPSHOT_RESET | CELL_METRICS_SNAPSHOT_NO_GAUGES;
	bool take = flags & CELL_METRICS_SNAPSHOT_RESET;
	struct cell_metrics_snapshot *snap;
	size_t n, cap;

	if (!m || (flags & ~known)) {
		errno = EINVAL;
		return NULL;
	}
	/* Methods first seen after the count wait for the next snapshot. */
	cap = count_methods(m);
	snap = malloc(sizeof(*snap) + cap * sizeof(snap->stats[0]));
	if (!snap) {
		errno = ENOMEM;
		return NULL;
	}
	n = 0;
	for (unsigned int id = 0; id < 65536 && n < cap; id++) {
		struct method_rec *rec = rec_find(m, id);

		if (rec)
			stats_fill(&snap->stats[n++], (uint16_t)id, rec, take);
	}
	snap->count = n;
	snap->dropped = take ? atomic_exchange_explicit(&m->dropped, 0, RELAXED)
			     : atomic_load_explicit(&m->dropped, RELAXED);
	snap->have_gauges = !(flags & CELL_METRICS_SNAPSHOT_NO_GAUGES);
	for (unsigned int g = 0; g < CELL_METRICS_GAUGES; g++)
		snap->gauge[g] = snap->have_gauges ? gauge_level(m, g) : 0;
	return snap;
}

void cell_metrics_snapshot_free(struct cell_metrics_snapshot *snap)
{
	free(snap);
}

size_t cell_metrics_snapshot_count(const struct cell_metrics_snapshot *snap)
{
	return snap->count;
}

const struct cell_method_stats *
cell_metrics_snapshot_method(const struct cell_metrics_snapshot *snap, size_t i)
{
	return i < snap->count ? &snap->stats[i] : NULL;
}

const struct cell_method_stats *cell_metrics_snapshot_find(const struct cell_metrics_snapshot *snap,
							   uint16_t method)
{
	size_t lo = 0, hi = snap->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (snap->stats[mid].method == method)
			return &snap->stats[mid];
		if (snap->stats[mid].method < method)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

uint64_t cell_metrics_snapshot_dropped(const struct cell_metrics_snapshot *snap)
{
	return snap->dropped;
}

int cell_metrics_snapshot_gauge(const struct cell_metrics_snapshot *snap,
				enum cell_metrics_gauge gauge, uint64_t *value)
{
	*value = 0;
	if ((unsigned int)gauge >= CELL_METRICS_GAUGES)
		return -EINVAL;
	if (!snap->have_gauges)
		return -ENODATA;
	*value = snap->gauge[gauge];
	return 0;
}

uint16_t cell_method_stats_method(const struct cell_method_stats *st)
{
	return st->method;
}

uint64_t cell_method_stats_calls(const struct cell_method_stats *st)
{
	return st->calls;
}

uint64_t cell_method_stats_errors(const struct cell_method_stats *st)
{
	return st->errors;
}

uint64_t cell_method_stats_status(const struct cell_method_stats *st, enum cell_status status)
{
	unsigned int s = (unsigned int)status;

	return s < NSTATUS ? st->status[s] : 0;
}

const struct cell_hist *cell_method_stats_latency(const struct cell_method_stats *st)
{
	return &st->latency;
}

/* ---- dumping ---------------------------------------------------------- */

/* A growing string; @failed sticks once an allocation or format fails. */
struct strbuf {
	char *buf;
	size_t len, cap;
	bool failed;
};

__attribute__((format(printf, 2, 3))) static void sb_printf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (sb->failed)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(sb->buf + sb->len, sb->cap - sb->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			sb->failed = true;
			return;
		}
		if ((size_t)n < sb->cap - sb->len)
			break;
		size_t cap = (sb->cap + (size_t)n + 1) * 2;
		char *grown = realloc(sb->buf, cap);

		if (!grown) {
			sb->failed = true;
			return;
		}
		sb->buf = grown;
		sb->cap = cap;
	}
	sb->len += (size_t)n;
}

/* Length of the valid UTF-8 sequence at @s (of @n bytes), 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	size_t len;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates and code points past U+10FFFF. */
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* @name as a JSON string: escapes, and U+FFFD for bytes that are not UTF-8. */
static void sb_json_string(struct strbuf *sb, const char *name)
{
	const unsigned char *s = (const unsigned char *)name;
	size_t n = strlen(name);

	sb_printf(sb, "\"");
	while (n) {
		size_t len = utf8_seq(s, n);

		if (!len) {
			sb_printf(sb, "\\ufffd");
			len = 1;
		} else if (*s == '"' || *s == '\\') {
			sb_printf(sb, "\\%c", *s);
		} else if (*s < 0x20 || *s == 0x7f) {
			sb_printf(sb, "\\u%04x", *s);
		} else {
			sb_printf(sb, "%.*s", (int)len, (const char *)s);
		}
		s += len;
		n -= len;
	}
	sb_printf(sb, "\"");
}

/* @name for the text dump: printable ASCII, anything else as \xNN. */
static void sb_text_name(struct strbuf *sb, const char *name)
{
	for (const unsigned char *s = (const unsigned char *)name; *s; s++) {
		if (*s > 0x20 && *s < 0x7f && *s != '\\')
			sb_printf(sb, "%c", *s);
		else
			sb_printf(sb, "\\x%02x", *s);
	}
}

static const char *method_name(const struct cell_metrics_dump_opts *o, uint16_t method)
{
	return o->method_name ? o->method_name(method, o->ctx) : NULL;
}

static void dump_text_method(struct strbuf *sb, const struct cell_method_stats *st,
			     const struct cell_metrics_dump_opts *o)
{
	const char *name = method_name(o, st->method);
	struct cell_hist_summary sum;

	if (name)
		sb_text_name(sb, name);
	else
		sb_printf(sb, "%u", st->method);
	cell_hist_summarize(&st->latency, &sum);
	sb_printf(sb, " calls=%llu errors=%llu p50=%llu p99=%llu p999=%llu max=%llu",
		  (unsigned long long)st->calls, (unsigned long long)st->errors,
		  (unsigned long long)sum.p50, (unsigned long long)sum.p99,
		  (unsigned long long)sum.p999, (unsigned long long)sum.max);
	for (unsigned int s = 1; s < NSTATUS; s++)
		if (st->status[s])
			sb_printf(sb, " %s=%llu", cell_status_name((enum cell_status)s),
				  (unsigned long long)st->status[s]);
	sb_printf(sb, "\n");
}

static void dump_json_hist(struct strbuf *sb, const struct cell_hist *h, bool buckets)
{
	struct cell_hist_summary s;
	const char *sep = "";

	cell_hist_summarize(h, &s);
	sb_printf(sb,
		  "{\"count\":%llu,\"min\":%llu,\"max\":%llu,\"mean\":%llu,\"p50\":%llu,"
		  "\"p90\":%llu,\"p99\":%llu,\"p999\":%llu",
		  (unsigned long long)s.count, (unsigned long long)s.min, (unsigned long long)s.max,
		  (unsigned long long)s.mean, (unsigned long long)s.p50, (unsigned long long)s.p90,
		  (unsigned long long)s.p99, (unsigned long long)s.p999);
	if (buckets) {
		sb_printf(sb, ",\"buckets\":[");
		for (unsigned int i = 0; i < NBUCKETS; i++) {
			uint64_t lo, hi, n = cell_hist_bucket(h, i, &lo, &hi);

			if (!n)
				continue;
			sb_printf(sb, "%s[%llu,%llu,%llu]", sep, (unsigned long long)lo,
				  (unsigned long long)hi, (unsigned long long)n);
			sep = ",";
		}
		sb_printf(sb, "]");
	}
	sb_printf(sb, "}");
}

static void dump_json_method(struct strbuf *sb, const struct cell_method_stats *st,
			     const struct cell_metrics_dump_opts *o)
{
	const char *name = method_name(o, st->method);
	const char *sep = "";

	sb_printf(sb, "{\"method\":%u", st->method);
	if (name) {
		sb_printf(sb, ",\"name\":");
		sb_json_string(sb, name);
	}
	sb_printf(sb, ",\"calls\":%llu,\"errors\":%llu,\"status\":{", (unsigned long long)st->calls,
		  (unsigned long long)st->errors);
	for (unsigned int s = 0; s < NSTATUS; s++) {
		if (!st->status[s])
			continue;
		sb_printf(sb, "%s\"%s\":%llu", sep, cell_status_name((enum cell_status)s),
			  (unsigned long long)st->status[s]);
		sep = ",";
	}
	sb_printf(sb, "},\"latency_ns\":");
	dump_json_hist(sb, &st->latency, o->buckets);
	sb_printf(sb, "}");
}

char *cell_metrics_dump(const struct cell_metrics_snapshot *snap,
			const struct cell_metrics_dump_opts *opts)
{
	struct cell_metrics_dump_opts o = { .sz = sizeof(o) };
	struct strbuf sb = { 0 };
	bool json;

	if (cell_opts_copy(&o, sizeof(o), opts, "cell_metrics_dump_opts")) {
		errno = EINVAL;
		return NULL;
	}
	if (!snap || (o.format != CELL_METRICS_TEXT && o.format != CELL_METRICS_JSON)) {
		errno = EINVAL;
		return NULL;
	}
	json = o.format == CELL_METRICS_JSON;
	sb.cap = 256;
	sb.buf = malloc(sb.cap);
	if (!sb.buf) {
		errno = ENOMEM;
		return NULL;
	}
	sb.buf[0] = '\0';
	if (json)
		sb_printf(&sb, "{\"dropped\":%llu,\"methods\":[",
			  (unsigned long long)snap->dropped);
	for (size_t i = 0; i < snap->count; i++) {
		if (json && i)
			sb_printf(&sb, ",");
		if (json)
			dump_json_method(&sb, &snap->stats[i], &o);
		else
			dump_text_method(&sb, &snap->stats[i], &o);
	}
	if (json)
		sb_printf(&sb, "]}\n");
	else if (snap->dropped)
		sb_printf(&sb, "dropped=%llu\n", (unsigned long long)snap->dropped);
	if (sb.failed) {
		free(sb.buf);
		errno = ENOMEM;
		return NULL;
	}
	return sb.buf;
}

/* ---- METRICS encoding ------------------------------------------------- */

_Static_assert(NSTATUS == CELL_METRICS_WIRE_STATUS, "status counts on the wire");

#define WIRE_HEAD   sizeof(struct cell_metrics_wire)
#define WIRE_METHOD sizeof(struct cell_metrics_wire_method)
#define WIRE_BUCKET sizeof(struct cell_metrics_wire_bucket)
#define WIRE_GAUGES sizeof(struct cell_metrics_wire_gauges)

_Static_assert(WIRE_GAUGES == 8 * CELL_METRICS_GAUGES, "one __u64 per gauge on the wire");

static unsigned int nonempty_buckets(const struct cell_hist *h)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < NBUCKETS; i++)
		n += load(&h->bucket[i]) != 0;
	return n;
}

size_t cell_metrics_wire_size(const struct cell_metrics_snapshot *snap)
{
	size_t n = WIRE_HEAD + (snap->have_gauges ? WIRE_GAUGES : 0);

	for (size_t i = 0; i < snap->count; i++)
		n += WIRE_METHOD + WIRE_BUCKET * nonempty_buckets(&snap->stats[i].latency);
	return n;
}

static uint8_t *method_encode(const struct cell_method_stats *st, uint8_t *p)
{
	const struct cell_hist *h = &st->latency;
	uint64_t min = load(&h->min);
	unsigned int nb = 0;
	uint8_t *b = p + WIRE_METHOD;

	for (unsigned int i = 0; i < NBUCKETS; i++) {
		uint64_t count = load(&h->bucket[i]);

		if (!count)
			continue;
		cell_put_le32(b, i);
		cell_put_le32(b + 4, 0);
		cell_put_le64(b + 8, count);
		b += WIRE_BUCKET;
		nb++;
	}
	cell_put_le16(p, st->method);
	cell_put_le16(p + 2, (uint16_t)nb);
	cell_put_le32(p + 4, 0);
	for (unsigned int s = 0; s < NSTATUS; s++)
		cell_put_le64(p + 8 + 8 * s, st->status[s]);
	cell_put_le64(p + 136, load(&h->sum));
	cell_put_le64(p + 144, min == UINT64_MAX ? 0 : min);
	cell_put_le64(p + 152, load(&h->max));
	return b;
}

size_t cell_metrics_encode(const struct cell_metrics_snapshot *snap, void *buf, size_t cap)
{
	size_t need = cell_metrics_wire_size(snap);
	uint8_t *p = buf;

	if (cap < need || snap->count > UINT16_MAX)
		return 0;
	cell_put_le32(p, CELL_METRICS_WIRE_MAGIC);
	cell_put_le16(p + 4, snap->have_gauges ? CELL_METRICS_WIRE_VERSION_GAUGES
					       : CELL_METRICS_WIRE_VERSION);
	cell_put_le16(p + 6, (uint16_t)snap->count);
	cell_put_le64(p + 8, snap->dropped);
	cell_put_le32(p + 16, NBUCKETS);
	cell_put_le32(p + 20, 0);
	p += WIRE_HEAD;
	if (snap->have_gauges) {
		cell_put_le64(p, snap->gauge[CELL_METRICS_INFLIGHT]);
		cell_put_le64(p + 8, snap->gauge[CELL_METRICS_CLIENTS]);
		p += WIRE_GAUGES;
	}
	for (size_t i = 0; i < snap->count; i++)
		p = method_encode(&snap->stats[i], p);
	return need;
}

/* One method entry at @p (@left bytes) into @st; *@used: bytes it took. */
static const char *method_decode(const uint8_t *p, size_t left, int prev,
				 struct cell_method_stats *st, size_t *used)
{
	unsigned int nb, last = 0;
	uint64_t min, max, total = 0;

	if (left < WIRE_METHOD)
		return "metrics answer truncated in a method entry";
	st->method = cell_get_le16(p);
	nb = cell_get_le16(p + 2);
	if ((int)st->method <= prev)
		return "metrics methods not in strictly increasing order";
	if (cell_get_le32(p + 4))
		return "metrics method reserved field not zero";
	if (nb > NBUCKETS || left - WIRE_METHOD < (size_t)nb * WIRE_BUCKET)
		return "metrics answer truncated in a method's buckets";
	hist_init(&st->latency);
	st->calls = 0;
	for (unsigned int s = 0; s < NSTATUS; s++) {
		st->status[s] = cell_get_le64(p + 8 + 8 * s);
		if (st->calls + st->status[s] < st->calls)
			return "metrics call counts overflow";
		st->calls += st->status[s];
	}
	st->errors = st->calls - st->status[CELL_STATUS_OK];
	min = cell_get_le64(p + 144);
	max = cell_get_le64(p + 152);
	for (unsigned int j = 0; j < nb; j++) {
		const uint8_t *b = p + WIRE_METHOD + (size_t)j * WIRE_BUCKET;
		uint32_t idx = cell_get_le32(b);
		uint64_t count = cell_get_le64(b + 8);

		if (idx >= NBUCKETS || (j && idx <= last))
			return "metrics bucket index out of range or out of order";
		if (cell_get_le32(b + 4) || !count)
			return "metrics bucket with a reserved field or a zero count";
		if (total + count < total)
			return "metrics bucket counts overflow";
		total += count;
		last = idx;
		atomic_init(&st->latency.bucket[idx], count);
	}
	if (total && min > max)
		return "metrics histogram min above max";
	if (!total && (min || max || cell_get_le64(p + 136)))
		return "metrics empty histogram with a sum, min or max";
	atomic_init(&st->latency.sum, cell_get_le64(p + 136));
	atomic_init(&st->latency.min, total ? min : UINT64_MAX);
	atomic_init(&st->latency.max, total ? max : 0);
	*used = WIRE_METHOD + (size_t)nb * WIRE_BUCKET;
	return NULL;
}

/* The header (and gauges); *@head: their bytes (24, or 40 for version 2). */
static const char *metrics_head_check(const uint8_t *p, size_t len, size_t *head)
{
	unsigned int version;

	if (len < WIRE_HEAD)
		return "metrics answer shorter than its 24-byte header";
	if (cell_get_le32(p) != CELL_METRICS_WIRE_MAGIC)
		return "metrics answer magic is not \"CELM\"";
	version = cell_get_le16(p + 4);
	if (version != CELL_METRICS_WIRE_VERSION && version != CELL_METRICS_WIRE_VERSION_GAUGES)
		return "metrics answer version is neither 1 nor 2";
	if (cell_get_le32(p + 16) != NBUCKETS)
		return "metrics histogram layout differs (bucket count)";
	if (cell_get_le32(p + 20))
		return "metrics answer reserved field not zero";
	*head = WIRE_HEAD + (version == CELL_METRICS_WIRE_VERSION_GAUGES ? WIRE_GAUGES : 0);
	if (len < *head)
		return "metrics answer truncated in its gauges";
	/* Every method entry takes WIRE_METHOD bytes at least. */
	if ((len - *head) / WIRE_METHOD < cell_get_le16(p + 6))
		return "metrics answer shorter than its method count";
	return NULL;
}

int cell_metrics_decode(const void *buf, size_t len, struct cell_metrics_snapshot **out,
			const char **why)
{
	const uint8_t *p = buf;
	struct cell_metrics_snapshot *snap = NULL;
	const char *bad;
	size_t count, off = 0, used;
	int prev = -1;

	*out = NULL;
	bad = metrics_head_check(p, len, &off);
	if (bad)
		goto fail;
	count = cell_get_le16(p + 6);
	snap = malloc(sizeof(*snap) + count * sizeof(snap->stats[0]));
	if (!snap)
		return -ENOMEM;
	snap->count = count;
	snap->dropped = cell_get_le64(p + 8);
	snap->have_gauges = off > WIRE_HEAD;
	snap->gauge[CELL_METRICS_INFLIGHT] = snap->have_gauges ? cell_get_le64(p + WIRE_HEAD) : 0;
	snap->gauge[CELL_METRICS_CLIENTS] = snap->have_gauges ? cell_get_le64(p + WIRE_HEAD + 8)
							      : 0;
	for (size_t i = 0; i < count; i++) {
		bad = method_decode(p + off, len - off, prev, &snap->stats[i], &used);
		if (bad)
			goto fail;
		prev = snap->stats[i].method;
		off += used;
	}
	if (off != len) {
		bad = "metrics answer has bytes after its last method";
		goto fail;
	}
	*out = snap;
	if (why)
		*why = NULL;
	return 0;
fail:
	free(snap);
	if (why)
		*why = bad;
	return -EBADMSG;
}
