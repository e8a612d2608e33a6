/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/*
 * make bench, part two: Cell beside the floors under it and the peers a
 * user would pick instead (iceoryx, gRPC, ZeroMQ, NNG, plain sockets), in
 * one run, at fixed message sizes.  See Documentation/benchmarks.rst.
 *
 * A case is one way of moving a request and its echo (or, for streaming
 * cases, one-way messages).  For every run of a case at a size the harness
 * (ipc.c) forks a server process pinned to CPU 1, waits until it says
 * ready, then forks a client process pinned to CPU 0 that connects, warms
 * up, times calls one by one, then measures sustained calls/s, and writes
 * its figures into shared memory.  Both processes are fresh for every run,
 * so no library keeps state (threads, a runtime name) across cases.
 */
#ifndef CELL_BENCH_IPC_H
#define CELL_BENCH_IPC_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Case flags. */
#define IPC_STREAM 0x1 /* one-way messages: no RTT, messages/s only */

struct ipc_case {
	const char *key;  /* CSV and plot id, e.g. "cell-shm-spin" */
	const char *name; /* table */
	const char *kind; /* "floor", "cell" or "peer" */
	unsigned int flags;
	/*
	 * Optional: whether the case can run at @size on this machine: 0, or
	 * -1 with the reason in @why.  Runs in the harness process.
	 */
	int (*avail)(size_t size, char *why, size_t cap);
	/* Harness process, before the forks: a context (shared memory...) or NULL. */
	void *(*prepare)(size_t size);
	/*
	 * Server process: serve until ipc_stopping (SIGTERM) is set; write a
	 * byte with ipc_ready(@ready_fd) once clients may connect.  Return 0,
	 * or -1 after printing why.
	 */
	int (*serve)(void *ctx, int ready_fd);
	/* Optional, server process, from the SIGTERM handler (async-signal-safe). */
	void (*on_term)(void *ctx);
	/* Client process: connect; 0 or -1 after printing why. */
	int (*connect)(void *ctx);
	/* Client: one round trip of @size bytes each way, echo checked.  NULL for streams. */
	int (*call)(void *ctx);
	/*
	 * Client: @n calls pipelined ipc_depth(size) deep (a multiple of it),
	 * or for streams @n one-way messages followed by a wait until the
	 * server has consumed them all.  NULL: @n calls one after another.
	 */
	int (*burst)(void *ctx, unsigned int n);
	/* Optional, client: the path taken ("shm-memfd", "ipc", ...). */
	const char *(*path)(void *ctx);
	/* Optional, client, after measuring. */
	void (*disconnect)(void *ctx);
	/* Harness, after both processes are gone; must accept any state. */
	void (*destroy)(void *ctx);
};

/* The cases of one system, with what it needs started first. */
struct ipc_case_list {
	const char *system; /* "ZeroMQ", ... as named in "not available" lines */
	const struct ipc_case *cases;
	unsigned int n;
	/* Optional, harness: start what the cases need (iox-roudi); 0 or -1 + why. */
	int (*setup)(char *why, size_t cap);
	/* Optional, harness: stop it again. */
	void (*teardown)(void);
};

/* Set by SIGTERM in the server process. */
extern volatile sig_atomic_t ipc_stopping;

/* Calls kept in flight by burst(): 16 for small messages, fewer for large. */
unsigned int ipc_depth(size_t size);

/* Signal readiness on @fd: 0 or -1 (printed). */
int ipc_ready(int fd);

/*
 * Payload helpers: every request carries its sequence number in its
 * first 8 bytes (the rest a fixed pattern) and every echo is checked.
 */
void ipc_fill(void *buf, size_t size, uint64_t seq);
int ipc_check(const void *buf, size_t len, size_t size, uint64_t seq, const char *who);
uint64_t ipc_seq_of(const void *buf);

/* Pause inside a spin loop. */
static inline void ipc_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#else
	__asm__ __volatile__("" ::: "memory");
#endif
}

/*
 * The cases of each file.  A file whose library is missing is not linked:
 * its list is then a null weak symbol and the harness prints the reason
 * given with -u.
 */
#define IPC_WEAK __attribute__((weak))
extern const struct ipc_case_list ipc_raw_cases;
extern IPC_WEAK const struct ipc_case_list ipc_cell_cases;
extern IPC_WEAK const struct ipc_case_list ipc_zmq_cases;
extern IPC_WEAK const struct ipc_case_list ipc_nng_cases;
extern IPC_WEAK const struct ipc_case_list ipc_iox_cases;
extern IPC_WEAK const struct ipc_case_list ipc_grpc_cases;

#endif /* CELL_BENCH_IPC_H */
