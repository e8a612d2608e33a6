// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Tracing (cell/trace.h): the thread's current context, random ids, the
 * process's span ring and the SPANS encoding.
 *
 * Locking and memory ordering
 * ---------------------------
 * The current context is thread-local (initial-exec TLS: one load from
 * the thread pointer, so an untraced call pays next to nothing).
 *
 * The span ring (allocated on first use, pthread_once) takes no lock: a
 * writer claims index i with a relaxed fetch-add of @ring_written, marks
 * slot i % cap busy (seq = 2i + 1), stores the span's words, then
 * publishes seq = 2i + 2 with a release store; the words are stored with
 * release, so a reader that sees a word of a later writer also sees that
 * writer's odd seq.  A reader of index i loads seq with acquire, copies
 * the words with acquire loads (the second load of seq cannot move before
 * them), and keeps the copy only if seq was and still is 2i + 2: a slot
 * being written or overwritten is skipped, never torn.  Every slot word is
 * an atomic, so there is no data race (and no fence, which TSan cannot
 * follow).
 *
 * Span clock: servers time spans with the TSC on x86-64 when it is
 * invariant (16 ns a read here, against 47 ns for clock_gettime under
 * kvm-clock), else with CLOCK_MONOTONIC.  Raw ticks are stored; a reader
 * converts them to CLOCK_REALTIME nanoseconds with the ratio of ticks to
 * nanoseconds measured between the clock's first use and the read (at
 * least 10 ms apart), so no calibration loop runs up front.
 *
 * Ids come from a per-thread splitmix64 generator seeded once per thread
 * from getrandom() (then from the clock and the thread's address if that
 * fails): unique enough for trace ids, and no system call per span.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <cell/trace.h>
#include "le.h"
#include "rpc_internal.h"

__thread struct cell_trace_tls cell_trace_tls __attribute__((tls_model("initial-exec")));

static __thread uint64_t rng_state __attribute__((tls_model("initial-exec")));
static __thread bool rng_seeded __attribute__((tls_model("initial-exec")));

#define SPAN_WORDS ((sizeof(struct cell_span) + 7) / 8)

struct slot {
	_Atomic uint64_t seq; /* 2i + 1 while index i is written, 2i + 2 once it is */
	_Atomic uint64_t raw; /* start and duration are span clock ticks */
	_Atomic uint64_t w[SPAN_WORDS];
};

static pthread_once_t ring_once = PTHREAD_ONCE_INIT;
static struct slot *ring; /* ring_cap slots, or NULL if allocation failed */
static size_t ring_cap;
static _Atomic uint64_t ring_written; /* indices ever claimed */

/* The span clock's origin (set once, under ring_once). */
_Atomic int cell_span_clock_kind;
static bool clock_tsc;
static uint64_t origin_ticks, origin_mono, origin_real;

/* ---- context ---------------------------------------------------------- */

void cell_trace_set(const struct cell_trace_ctx *ctx)
{
	if (!ctx) {
		cell_trace_tls.active = false;
		return;
	}
	cell_trace_tls.ctx = *ctx;
	cell_trace_tls.active = true;
	cell_trace_tls.span_lazy = false; /* a server's span then gets its id at the end */
}

int cell_trace_current(struct cell_trace_ctx *out)
{
	if (!cell_trace_tls.active)
		return 0;
	*out = *cell_trace_ctx_now();
	return 1;
}

void cell_trace_make_span_id(void)
{
	cell_trace_span_id(cell_trace_tls.ctx.span_id);
	if (cell_trace_tls.span_out)
		memcpy(cell_trace_tls.span_out, cell_trace_tls.ctx.span_id,
		       sizeof(cell_trace_tls.ctx.span_id));
	cell_trace_tls.span_lazy = false;
}

static uint64_t splitmix64(void)
{
	uint64_t z;

	if (!rng_seeded) {
		struct timespec ts;

		if (getrandom(&rng_state, sizeof(rng_state), GRND_NONBLOCK) !=
		    (ssize_t)sizeof(rng_state)) {
			clock_gettime(CLOCK_MONOTONIC, &ts);
			rng_state = (uint64_t)ts.tv_nsec ^ (uint64_t)ts.tv_sec << 32 ^
				    (uint64_t)(uintptr_t)&rng_state;
		}
		rng_seeded = true;
	}
	z = (rng_state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void random_id(uint8_t *id, size_t n)
{
	bool zero = true;

	while (zero) {
		for (size_t i = 0; i < n; i += 8) {
			uint64_t v = splitmix64();

			memcpy(id + i, &v, n - i < 8 ? n - i : 8);
		}
		for (size_t i = 0; i < n; i++)
			zero = zero && !id[i];
	}
}

void cell_trace_span_id(uint8_t id[8])
{
	random_id(id, 8);
}

void cell_trace_start(unsigned int flags, struct cell_trace_ctx *out)
{
	struct cell_trace_ctx ctx;

	random_id(ctx.trace_id, sizeof(ctx.trace_id));
	random_id(ctx.span_id, sizeof(ctx.span_id));
	ctx.flags = (uint8_t)(flags & CELL_TRACE_FLAGS);
	cell_trace_set(&ctx);
	if (out)
		*out = ctx;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int cell_trace_id_parse(const char *hex, uint8_t *id, size_t n)
{
	uint8_t acc = 0;

	if (!hex || strlen(hex) != 2 * n)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		id[i] = (uint8_t)(hi << 4 | lo);
		acc |= id[i];
	}
	return acc ? 0 : -EINVAL;
}

void cell_trace_id_format(const uint8_t *id, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[id[i] >> 4];
		out[2 * i + 1] = digits[id[i] & 15];
	}
	out[2 * n] = '\0';
}

/* ---- the span clock --------------------------------------------------- */

#if defined(__x86_64__)
#include <cpuid.h>
#include <x86intrin.h>

static bool tsc_invariant(void)
{
	unsigned int a, b, c, d;

	if (!__get_cpuid(0x80000000, &a, &b, &c, &d) || a < 0x80000007)
		return false;
	__cpuid(0x80000007, a, b, c, d);
	return d & (1u << 8);
}

static inline uint64_t read_tsc(void)
{
	return __rdtsc();
}
#else
static bool tsc_invariant(void)
{
	return false;
}

static inline uint64_t read_tsc(void)
{
	return 0;
}
#endif

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * CELL_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static void ring_init(void)
{
	const char *env = getenv("CELL_TRACE_SPANS");
	unsigned long cap = CELL_TRACE_RING_DEFAULT;
	char *end;

	if (env && *env) {
		cap = strtoul(env, &end, 10);
		if (*end || !cap || cap > CELL_TRACE_RING_MAX)
			cap = CELL_TRACE_RING_DEFAULT;
	}
	ring = calloc(cap, sizeof(*ring));
	ring_cap = ring ? cap : 0;
	clock_tsc = tsc_invariant() && !getenv("CELL_TRACE_NO_TSC");
	origin_mono = cell_now_ns();
	origin_real = realtime_ns();
	origin_ticks = clock_tsc ? read_tsc() : origin_mono;
	/*
	 * Last, and released: a thread that sees the kind in cell_span_clock()
	 * reads the TSC without pthread_once, and its ticks must not precede
	 * origin_ticks (a start centuries away, found in review).
	 */
	atomic_store_explicit(&cell_span_clock_kind, clock_tsc ? 1 : 2, memory_order_release);
}

uint64_t cell_span_clock_slow(void)
{
	pthread_once(&ring_once, ring_init);
	return clock_tsc ? read_tsc() : cell_now_ns();
}

/* Nanoseconds per tick, measured over at least 10 ms since the origin. */
static double ns_per_tick(void)
{
	uint64_t mono, ticks;

	if (!clock_tsc)
		return 1.0;
	while ((mono = cell_now_ns()) - origin_mono < 10 * CELL_NSEC_PER_MSEC) {
		struct timespec ts = { 0, 1000000 };

		nanosleep(&ts, NULL);
	}
	ticks = read_tsc();
	return ticks > origin_ticks ? (double)(mono - origin_mono) / (double)(ticks - origin_ticks)
				    : 1.0;
}

/* ---- the span ring ---------------------------------------------------- */

static void ring_put(const struct cell_span *span, bool raw)
{
	uint64_t words[SPAN_WORDS] = { 0 }, i;
	struct slot *sl;

	pthread_once(&ring_once, ring_init);
	i = atomic_fetch_add_explicit(&ring_written, 1, memory_order_relaxed);
	if (!ring_cap)
		return; /* without a ring every span counts as dropped */
	memcpy(words, span, sizeof(*span));
	((struct cell_span *)words)->cell[CELL_NAME_MAX - 1] = '\0';
	sl = &ring[i % ring_cap];
	atomic_store_explicit(&sl->seq, 2 * i + 1, memory_order_relaxed);
	/* Release stores: a reader that sees one of them sees the odd seq too. */
	atomic_store_explicit(&sl->raw, raw, memory_order_release);
	for (size_t k = 0; k < SPAN_WORDS; k++)
		atomic_store_explicit(&sl->w[k], words[k], memory_order_release);
	atomic_store_explicit(&sl->seq, 2 * i + 2, memory_order_release);
}

void cell_span_record(const struct cell_span *span)
{
	ring_put(span, false);
}

void cell_span_record_raw(const struct cell_span *span)
{
	ring_put(span, true);
}

/* Copy index @i out; false if it is being written or was overwritten. */
static bool ring_get(uint64_t i, struct cell_span *out, bool *raw)
{
	uint64_t words[SPAN_WORDS];
	struct slot *sl = &ring[i % ring_cap];

	if (atomic_load_explicit(&sl->seq, memory_order_acquire) != 2 * i + 2)
		return false;
	/* Acquire loads: the second look at seq cannot move before them. */
	*raw = atomic_load_explicit(&sl->raw, memory_order_acquire);
	for (size_t k = 0; k < SPAN_WORDS; k++)
		words[k] = atomic_load_explicit(&sl->w[k], memory_order_acquire);
	if (atomic_load_explicit(&sl->seq, memory_order_relaxed) != 2 * i + 2)
		return false;
	memcpy(out, words, sizeof(*out));
	return true;
}

static bool span_matches(const struct cell_span *s, const uint8_t *trace_id, const char *cell)
{
	return (!trace_id || !memcmp(s->trace_id, trace_id, sizeof(s->trace_id))) &&
	       (!cell || !strcmp(s->cell, cell));
}

static void to_realtime(struct cell_span *s, double scale)
{
	/* Signed: a TSC read on another core may be a few ticks behind the origin. */
	int64_t ticks = (int64_t)(s->start_ns - origin_ticks);

	s->start_ns = origin_real + (uint64_t)(int64_t)((double)ticks * scale);
	s->duration_ns = (uint64_t)((double)s->duration_ns * scale);
}

size_t cell_spans_collect(struct cell_span *out, size_t cap, const uint8_t *trace_id,
			  const char *cell, uint64_t *dropped)
{
	uint64_t written, first, i;
	size_t matched = 0, copied = 0;
	double scale = 0;

	pthread_once(&ring_once, ring_init);
	written = atomic_load_explicit(&ring_written, memory_order_acquire);
	first = written > ring_cap ? written - ring_cap : 0;
	if (dropped)
		*dropped = first;
	/* Newest first, so that with more matches than @cap the newest are kept. */
	for (i = written; ring_cap && i > first; i--) {
		struct cell_span s;
		bool raw;

		if (!ring_get(i - 1, &s, &raw) || !span_matches(&s, trace_id, cell))
			continue;
		matched++;
		if (copied == cap)
			continue;
		if (raw) {
			if (!scale)
				scale = ns_per_tick();
			to_realtime(&s, scale);
		}
		out[copied++] = s;
	}
	for (size_t k = 0; k < copied / 2; k++) {
		struct cell_span t = out[k];

		out[k] = out[copied - 1 - k];
		out[copied - 1 - k] = t;
	}
	return matched;
}

void cell_spans_clear(void)
{
	pthread_once(&ring_once, ring_init);
	for (size_t k = 0; k < ring_cap; k++)
		atomic_store_explicit(&ring[k].seq, 0, memory_order_relaxed);
	atomic_store_explicit(&ring_written, 0, memory_order_release);
}

/* ---- SPANS encoding --------------------------------------------------- */

#define SPANS_HEAD sizeof(struct cell_spans_wire)
#define SPAN_BYTES sizeof(struct cell_span_wire)

size_t cell_spans_wire_size(size_t n)
{
	return SPANS_HEAD + n * SPAN_BYTES;
}

static void span_encode(const struct cell_span *s, uint8_t *p)
{
	memcpy(p, s->trace_id, 16);
	memcpy(p + 16, s->span_id, 8);
	memcpy(p + 24, s->parent_id, 8);
	cell_put_le64(p + 32, s->start_ns);
	cell_put_le64(p + 40, s->duration_ns);
	cell_put_le16(p + 48, s->method);
	cell_put_le16(p + 50, s->status);
	cell_put_le32(p + 52, 0);
	memset(p + 56, 0, CELL_NAME_MAX);
	memcpy(p + 56, s->cell, strnlen(s->cell, CELL_NAME_MAX - 1));
}

size_t cell_spans_encode(const struct cell_span *spans, size_t n, uint32_t dropped, void *buf,
			 size_t cap)
{
	uint8_t *p = buf;

	if (n > UINT32_MAX || cap < cell_spans_wire_size(n))
		return 0;
	cell_put_le32(p, CELL_SPANS_WIRE_MAGIC);
	cell_put_le16(p + 4, CELL_SPANS_WIRE_VERSION);
	cell_put_le16(p + 6, 0);
	cell_put_le32(p + 8, (uint32_t)n);
	cell_put_le32(p + 12, dropped);
	for (size_t i = 0; i < n; i++)
		span_encode(&spans[i], p + SPANS_HEAD + i * SPAN_BYTES);
	return cell_spans_wire_size(n);
}

/* A cell name field: 1..31 bytes of [a-z0-9_.@-], then NULs only. */
static bool name_ok(const uint8_t *name)
{
	size_t len = strnlen((const char *)name, CELL_NAME_MAX);

	if (!len || len == CELL_NAME_MAX || name[0] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		uint8_t c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
		      c == '@' || c == '-'))
			return false;
	}
	for (size_t i = len; i < CELL_NAME_MAX; i++)
		if (name[i])
			return false;
	return true;
}

static const char *span_decode(const uint8_t *p, struct cell_span *s)
{
	static const uint8_t zero[16];

	if (!memcmp(p, zero, 16))
		return "span with an all-zero trace id";
	if (!memcmp(p + 16, zero, 8))
		return "span with an all-zero span id";
	if (cell_get_le16(p + 50) >= CELL_STATUS_MAX)
		return "span with an unknown status";
	if (cell_get_le32(p + 52))
		return "span reserved field not zero";
	if (!name_ok(p + 56))
		return "span with a bad cell name";
	memcpy(s->trace_id, p, 16);
	memcpy(s->span_id, p + 16, 8);
	memcpy(s->parent_id, p + 24, 8);
	s->start_ns = cell_get_le64(p + 32);
	s->duration_ns = cell_get_le64(p + 40);
	s->method = cell_get_le16(p + 48);
	s->status = cell_get_le16(p + 50);
	memcpy(s->cell, p + 56, CELL_NAME_MAX);
	return NULL;
}

static const char *spans_head_check(const uint8_t *p, size_t len, uint32_t *count)
{
	if (len < SPANS_HEAD)
		return "spans answer shorter than its 16-byte header";
	if (cell_get_le32(p) != CELL_SPANS_WIRE_MAGIC)
		return "spans answer magic is not \"CSPN\"";
	if (cell_get_le16(p + 4) != CELL_SPANS_WIRE_VERSION)
		return "spans answer version is not 1";
	if (cell_get_le16(p + 6))
		return "spans answer reserved field not zero";
	*count = cell_get_le32(p + 8);
	if ((len - SPANS_HEAD) / SPAN_BYTES != *count || (len - SPANS_HEAD) % SPAN_BYTES)
		return "spans answer length does not match its count";
	return NULL;
}

int cell_spans_decode(const void *buf, size_t len, struct cell_span **out, size_t *n,
		      uint32_t *dropped, const char **why)
{
	const uint8_t *p = buf;
	struct cell_span *spans = NULL;
	const char *bad;
	uint32_t count = 0;

	*out = NULL;
	*n = 0;
	bad = spans_head_check(p, len, &count);
	if (bad)
		goto fail;
	if (count) {
		spans = calloc(count, sizeof(*spans));
		if (!spans)
			return -ENOMEM;
	}
	for (uint32_t i = 0; i < count; i++) {
		bad = span_decode(p + SPANS_HEAD + (size_t)i * SPAN_BYTES, &spans[i]);
		if (bad)
			goto fail;
	}
	if (dropped)
		*dropped = cell_get_le32(p + 12);
	*out = spans;
	*n = count;
	if (why)
		*why = NULL;
	return 0;
fail:
	free(spans);
	if (why)
		*why = bad;
	return -EBADMSG;
}
