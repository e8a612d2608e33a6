/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/*
 * Time stamps and sorting helpers shared by the benchmarks (fastpath.c,
 * ipc.c): rdtsc on x86-64 calibrated against CLOCK_MONOTONIC, else
 * clock_gettime; comparison functions for qsort().
 */
#ifndef CELL_BENCH_TICKS_H
#define CELL_BENCH_TICKS_H

#include <stdint.h>
#include <time.h>

#if defined(__x86_64__)
#define TIMER_NAME "rdtsc"
static inline uint64_t ticks_begin(void)
{
	uint32_t lo, hi;

	__asm__ __volatile__("lfence\n\trdtsc" : "=a"(lo), "=d"(hi)::"memory");
	return (uint64_t)hi << 32 | lo;
}

static inline uint64_t ticks_end(void)
{
	uint32_t lo, hi, aux;

	__asm__ __volatile__("rdtscp\n\tlfence" : "=a"(lo), "=d"(hi), "=c"(aux)::"memory");
	return (uint64_t)hi << 32 | lo;
}
#else
#define TIMER_NAME "clock_gettime"
static inline uint64_t ticks_begin(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static inline uint64_t ticks_end(void)
{
	return ticks_begin();
}
#endif

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static double ns_per_tick = 1.0;

/* Ticks against CLOCK_MONOTONIC over ~50 ms (1.0 for clock_gettime). */
static void calibrate(void)
{
#if defined(__x86_64__)
	uint64_t n0, n1, t0, t1;

	n0 = mono_ns();
	t0 = ticks_begin();
	do
		n1 = mono_ns();
	while (n1 - n0 < 50000000ULL);
	t1 = ticks_end();
	ns_per_tick = (double)(n1 - n0) / (double)(t1 - t0);
#endif
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

#endif /* CELL_BENCH_TICKS_H */
