// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Concurrency tests of lib/metrics.c (also run under TSan): many threads
 * record at once, into methods that do not exist yet, while a reader takes
 * resetting snapshots; every call must be counted exactly once.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cell/metrics.h>

#include "kselftest_harness.h"

#define WRITERS	 6
#define CALLS	 100000
#define METHODS	 40
#define NSTATUS	 (CELL_STATUS_MAX + 1)
#define NBUCKETS 545

/* What call @i of writer @t records: spread over pages, statuses, buckets. */
static uint16_t call_method(int t, int i)
{
	return (uint16_t)(((i * 7 + t) % METHODS) * 1637);
}

static enum cell_status call_status(int t, int i)
{
	return (enum cell_status)((i + t) % 17); /* 15 and 16 are unknown codes */
}

static uint64_t call_latency(int t, int i)
{
	return ((uint64_t)(i + 1) * 2654435761u * (uint64_t)(t + 1)) % 50000000000ULL;
}

struct totals {
	uint64_t status[METHODS][NSTATUS];
	uint64_t bucket[METHODS][NBUCKETS];
};

struct status_totals {
	uint64_t status[METHODS][NSTATUS];
};

struct shared {
	struct cell_metrics *m;
	atomic_int ready;
	atomic_int writers_left;
	struct totals seen;
	int snapshots;
	int gauge_bad; /* snapshots whose in-flight level was above WRITERS */
};

struct writer {
	struct shared *sh;
	int id;
};

static int method_slot(uint16_t method)
{
	return method / 1637;
}

static void *writer_main(void *arg)
{
	struct writer *w = arg;

	/* Start together so the first calls race to allocate each method. */
	atomic_fetch_add(&w->sh->ready, 1);
	while (atomic_load(&w->sh->ready) < WRITERS)
		;
	for (int i = 0; i < CALLS; i++) {
		/* As a server thread does: in flight around the call. */
		cell_metrics_gauge_add(w->sh->m, CELL_METRICS_INFLIGHT, 1);
		cell_metrics_record(w->sh->m, call_method(w->id, i), call_status(w->id, i),
				    call_latency(w->id, i));
		cell_metrics_gauge_add(w->sh->m, CELL_METRICS_INFLIGHT, -1);
	}
	atomic_fetch_sub(&w->sh->writers_left, 1);
	return NULL;
}

/* Add one resetting snapshot to @sh->seen; return 0 or -1 on ENOMEM. */
static int collect(struct shared *sh)
{
	struct cell_metrics_snapshot *snap =
		cell_metrics_snapshot(sh->m, CELL_METRICS_SNAPSHOT_RESET);
	uint64_t inflight;

	if (!snap)
		return -1;
	for (size_t i = 0; i < cell_metrics_snapshot_count(snap); i++) {
		const struct cell_method_stats *st = cell_metrics_snapshot_method(snap, i);
		const struct cell_hist *h = cell_method_stats_latency(st);
		int slot = method_slot(cell_method_stats_method(st));
		uint64_t lo, hi;

		for (int s = 0; s < NSTATUS; s++)
			sh->seen.status[slot][s] +=
				cell_method_stats_status(st, (enum cell_status)s);
		for (unsigned int b = 0; b < NBUCKETS; b++)
			sh->seen.bucket[slot][b] += cell_hist_bucket(h, b, &lo, &hi);
		/* Read a quantile of the frozen copy while writers run. */
		(void)cell_hist_quantile(h, 0.99);
	}
	sh->snapshots++;
	if (cell_metrics_snapshot_gauge(snap, CELL_METRICS_INFLIGHT, &inflight) ||
	    inflight > WRITERS)
		sh->gauge_bad++;
	cell_metrics_snapshot_free(snap);
	return 0;
}

static void *reader_main(void *arg)
{
	struct shared *sh = arg;

	while (atomic_load(&sh->writers_left) > 0)
		if (collect(sh))
			return (void *)1;
	return NULL;
}

TEST(concurrent_recording_counted_exactly_once_across_resetting_snapshots)
{
	static struct shared sh;
	static struct status_totals want;
	struct writer w[WRITERS];
	pthread_t tid[WRITERS], reader;
	struct cell_hist *expected[METHODS];
	void *reader_rc;

	memset(&sh, 0, sizeof(sh));
	memset(&want, 0, sizeof(want));
	sh.m = cell_metrics_new(NULL);
	ASSERT_NE(NULL, sh.m);
	atomic_store(&sh.writers_left, WRITERS);
	ASSERT_EQ(0, pthread_create(&reader, NULL, reader_main, &sh));
	for (int t = 0; t < WRITERS; t++) {
		w[t] = (struct writer){ .sh = &sh, .id = t };
		ASSERT_EQ(0, pthread_create(&tid[t], NULL, writer_main, &w[t]));
	}
	for (int t = 0; t < WRITERS; t++)
		ASSERT_EQ(0, pthread_join(tid[t], NULL));
	ASSERT_EQ(0, pthread_join(reader, &reader_rc));
	ASSERT_EQ(NULL, reader_rc);
	ASSERT_EQ(0, collect(&sh)); /* what the reader had not taken yet */
	TH_LOG("%d resetting snapshots while %d threads recorded %d calls each", sh.snapshots,
	       WRITERS, CALLS);
	/* The in-flight level: never above one call per thread, 0 at the end. */
	EXPECT_EQ(0, sh.gauge_bad);
	{
		struct cell_metrics_snapshot *snap = cell_metrics_snapshot(sh.m, 0);
		uint64_t inflight = 1;

		ASSERT_NE(NULL, snap);
		EXPECT_EQ(0, cell_metrics_snapshot_gauge(snap, CELL_METRICS_INFLIGHT, &inflight));
		EXPECT_EQ(0, inflight);
		cell_metrics_snapshot_free(snap);
	}

	/* The expected totals, recomputed one call at a time. */
	for (int slot = 0; slot < METHODS; slot++) {
		expected[slot] = cell_hist_new();
		ASSERT_NE(NULL, expected[slot]);
	}
	for (int t = 0; t < WRITERS; t++) {
		for (int i = 0; i < CALLS; i++) {
			int slot = method_slot(call_method(t, i));
			int s = call_status(t, i);

			want.status[slot][s < CELL_STATUS_MAX ? s : CELL_STATUS_MAX]++;
			cell_hist_record(expected[slot], call_latency(t, i));
		}
	}
	for (int slot = 0; slot < METHODS; slot++) {
		uint64_t lo, hi;

		for (int s = 0; s < NSTATUS; s++) {
			ASSERT_EQ(want.status[slot][s], sh.seen.status[slot][s])
			TH_LOG("method slot %d status %d", slot, s);
		}
		for (int b = 0; b < NBUCKETS; b++) {
			ASSERT_EQ(cell_hist_bucket(expected[slot], b, &lo, &hi),
				  sh.seen.bucket[slot][b])
			TH_LOG("method slot %d bucket %d", slot, b);
		}
		cell_hist_free(expected[slot]);
	}
	cell_metrics_free(sh.m);
}

struct hist_writer {
	struct cell_hist *h;
	int id;
};

static void *hist_writer_main(void *arg)
{
	struct hist_writer *w = arg;

	for (int i = 0; i < CALLS; i++)
		cell_hist_record(w->h, (uint64_t)(w->id * CALLS + i));
	return NULL;
}

TEST(concurrent_histogram_keeps_every_value_and_exact_extremes)
{
	struct cell_hist *h = cell_hist_new();
	struct hist_writer w[WRITERS];
	pthread_t tid[WRITERS];
	struct cell_hist_summary s;
	uint64_t n = (uint64_t)WRITERS * CALLS;

	for (int t = 0; t < WRITERS; t++) {
		w[t] = (struct hist_writer){ .h = h, .id = t };
		ASSERT_EQ(0, pthread_create(&tid[t], NULL, hist_writer_main, &w[t]));
	}
	/* Live reads while writing must be safe (TSan checks the races). */
	for (int i = 0; i < 50; i++)
		(void)cell_hist_quantile(h, 0.5);
	for (int t = 0; t < WRITERS; t++)
		ASSERT_EQ(0, pthread_join(tid[t], NULL));
	cell_hist_summarize(h, &s);
	ASSERT_EQ(n, s.count);
	ASSERT_EQ(0, s.min);
	ASSERT_EQ(n - 1, s.max);
	ASSERT_EQ((n - 1) / 2, s.mean);
	ASSERT_LE(s.p50 > n / 2 ? s.p50 - n / 2 : n / 2 - s.p50, n / 2 / 32);
	cell_hist_free(h);
}

TEST_HARNESS_MAIN
