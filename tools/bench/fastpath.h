/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/*
 * make bench: round-trip time of Cell's fast paths against raw baselines,
 * on two pinned threads and on two pinned processes.  See
 * Documentation/benchmarks.rst for the method.
 *
 * A row is one way of doing a round trip.  The harness (fastpath.c)
 * prepares it, starts its peer (a thread pinned to CPU 1, or a forked
 * process pinned to CPU 1) which serves until told to stop, connects the
 * measuring side (pinned to CPU 0) and times round trips one by one.
 */
#ifndef CELL_BENCH_FASTPATH_H
#define CELL_BENCH_FASTPATH_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Request and response payload bytes of the rows that carry one. */
#define BENCH_PAYLOAD 32U

/* CPUs of the measuring side and of the peer. */
#define BENCH_CPU_PING 0
#define BENCH_CPU_PONG 1

enum bench_mode {
	BENCH_THREADS = 0,
	BENCH_PROCESSES = 1,
};

/* What the measuring side knows of a running row. */
struct bench_link {
	enum bench_mode mode;
	pid_t pid;	  /* BENCH_PROCESSES: the peer */
	pthread_t thread; /* BENCH_THREADS: the peer */
	void *ctx;
};

struct bench_row {
	int id; /* 1..6, as in the table */
	const char *name;
	/* Sleeping rows are slower: fewer samples per run. */
	bool sleeping;
	/* Before the peer starts (shared memory, sockets): a context, or NULL. */
	void *(*prepare)(enum bench_mode mode);
	/*
	 * The peer: serve round trips until stopped.  Write one byte to
	 * @ready_fd once the measuring side may connect.  Return 0 on a clean
	 * stop, -1 after printing why it failed.
	 */
	int (*serve)(void *ctx, enum bench_mode mode, int ready_fd);
	/* Measuring side, once the peer is ready: 0, or -1 after printing why. */
	int (*connect)(struct bench_link *l);
	/* One round trip: 0, or -1 after printing why. */
	int (*roundtrip)(void *ctx);
	/* Name of the path the round trips took ("raw", "shm-memfd", ...). */
	const char *(*path)(void *ctx);
	/* Whether the path is the one the row is about (e.g. not unix for SHM). */
	bool (*path_ok)(void *ctx);
	/*
	 * Optional: the share (0..1) of this run's round trips in which the
	 * measuring side really slept in the kernel; NULL when unknown.
	 */
	double (*slept)(void *ctx);
	/* Ask the peer to stop (the harness then joins or reaps it). */
	void (*stop)(struct bench_link *l);
	/* After the peer is gone; frees the context.  Must accept a failed connect. */
	void (*destroy)(struct bench_link *l);
};

/* Rows 1-3 (fastpath_raw.c). */
extern const struct bench_row bench_raw_rows[3];

/*
 * Rows 4-6 (fastpath_cell.c), built only when libcell has the RPC client
 * and server; bench_cell_rows_n is 0 otherwise.
 */
extern const struct bench_row bench_cell_rows[];
extern const unsigned int bench_cell_rows_n;

/* Pause inside a spin loop (the same hint Cell's rings use). */
static inline void bench_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#else
	__asm__ __volatile__("" ::: "memory");
#endif
}

/* Signal readiness on @fd: 0 or -1 (printed). */
int bench_ready(int fd);

#endif /* CELL_BENCH_FASTPATH_H */
