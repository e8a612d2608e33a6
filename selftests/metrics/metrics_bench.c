// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * metrics_bench [threads] [calls]: the cost of cell_metrics_record() when
 * @threads threads record the same method at once (the worst case for
 * sharing), and of one snapshot.  A measurement, not a test: it never fails
 * on a number.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <cell/metrics.h>

static struct cell_metrics *metrics;
static long calls = 20000000;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *record_calls(void *arg)
{
	(void)arg;
	for (long i = 0; i < calls; i++)
		cell_metrics_record(metrics, 1, CELL_STATUS_OK, 500 + (uint64_t)(i & 1023));
	return NULL;
}

int main(int argc, char **argv)
{
	int threads = argc > 1 ? atoi(argv[1]) : 2;
	struct cell_metrics_snapshot *snap;
	pthread_t tid[64];
	uint64_t start, recorded;

	if (argc > 2)
		calls = atol(argv[2]);
	if (threads < 1 || threads > 64 || calls < 1) {
		fprintf(stderr, "usage: metrics_bench [threads 1..64] [calls per thread]\n");
		return 2;
	}
	metrics = cell_metrics_new(NULL);
	if (!metrics)
		return 1;
	start = now_ns();
	for (int i = 0; i < threads; i++)
		if (pthread_create(&tid[i], NULL, record_calls, NULL))
			return 1;
	for (int i = 0; i < threads; i++)
		pthread_join(tid[i], NULL);
	printf("record: %d threads on one method: %.1f ns per call per thread\n", threads,
	       (double)(now_ns() - start) / (double)calls);
	start = now_ns();
	snap = cell_metrics_snapshot(metrics, 0);
	if (!snap)
		return 1;
	printf("snapshot of 1 method: %.1f us\n", (double)(now_ns() - start) / 1000);
	recorded = cell_method_stats_calls(cell_metrics_snapshot_find(snap, 1));
	printf("calls counted: %llu of %llu\n", (unsigned long long)recorded,
	       (unsigned long long)threads * (unsigned long long)calls);
	cell_metrics_snapshot_free(snap);
	cell_metrics_free(metrics);
	return recorded == (uint64_t)threads * (uint64_t)calls ? 0 : 1;
}
