// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * The raw baselines: the floor each of Cell's paths is measured against.
 *
 *  1. cache-line ping-pong: two 64-bit atomics, each on its own 128-byte
 *     block of shared memory; each side spins (with a pause) on its word.
 *  2. futex ping-pong: two 32-bit words; each side stores a sequence
 *     number, always calls FUTEX_WAKE, then FUTEX_WAITs (no spinning) until
 *     the answer comes.  Shared (not PRIVATE) futexes, as for rings in
 *     memfds mapped by two processes.
 *  3. SOCK_SEQPACKET ping-pong: a socketpair; a 32-byte message each way
 *     with write(2) and read(2), blocking.
 *
 * The shared memory is an anonymous MAP_SHARED mapping made before the
 * peer starts, so it is shared by a forked peer as well as by a thread.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fastpath.h"

/* ---- 1. cache-line ping-pong ---------------------------------------------- */

#define CL_STOP UINT64_MAX

struct cl_shared {
	_Alignas(128) _Atomic uint64_t ping;
	_Alignas(128) _Atomic uint64_t pong;
};

struct cl_ctx {
	struct cl_shared *sh; /* MAP_SHARED */
	uint64_t seq;
};

static void *map_shared(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("bench: mmap");
		return NULL;
	}
	memset(p, 0, len);
	return p;
}

static void *cl_prepare(enum bench_mode mode)
{
	struct cl_ctx *c = calloc(1, sizeof(*c));

	(void)mode;
	if (!c)
		return NULL;
	c->sh = map_shared(sizeof(*c->sh));
	if (!c->sh) {
		free(c);
		return NULL;
	}
	return c;
}

static int cl_serve(void *ctx, enum bench_mode mode, int ready_fd)
{
	/* A local copy: the context shares a cache line with the other side's seq. */
	struct cl_shared *sh = ((struct cl_ctx *)ctx)->sh;
	uint64_t last = 0, v;

	(void)mode;
	if (bench_ready(ready_fd))
		return -1;
	for (;;) {
		while ((v = atomic_load_explicit(&sh->ping, memory_order_acquire)) == last)
			bench_cpu_relax();
		if (v == CL_STOP)
			return 0;
		last = v;
		atomic_store_explicit(&sh->pong, v, memory_order_release);
	}
}

static int cl_connect(struct bench_link *l)
{
	(void)l;
	return 0;
}

static int cl_roundtrip(void *ctx)
{
	struct cl_ctx *c = ctx;
	uint64_t seq = ++c->seq;

	atomic_store_explicit(&c->sh->ping, seq, memory_order_release);
	while (atomic_load_explicit(&c->sh->pong, memory_order_acquire) != seq)
		bench_cpu_relax();
	return 0;
}

static void cl_stop(struct bench_link *l)
{
	struct cl_ctx *c = l->ctx;

	atomic_store_explicit(&c->sh->ping, CL_STOP, memory_order_release);
}

static void cl_destroy(struct bench_link *l)
{
	struct cl_ctx *c = l->ctx;

	munmap(c->sh, sizeof(*c->sh));
	free(c);
}

/* ---- 2. futex ping-pong --------------------------------------------------- */

struct fx_shared {
	_Alignas(128) _Atomic uint32_t ping;
	_Alignas(128) _Atomic uint32_t pong;
	_Alignas(128) _Atomic uint32_t stop;
};

struct fx_ctx {
	struct fx_shared *sh;
	uint32_t seq;
	uint64_t trips, sleeps; /* measuring side */
};

static long futex(_Atomic uint32_t *word, int op, uint32_t val)
{
	return syscall(SYS_futex, (uint32_t *)word, op, val, NULL, NULL, 0);
}

/*
 * Sleep until *@word is no longer @old (spurious wakes loop).  Return the
 * number of times FUTEX_WAIT really slept (0 if the value had already
 * changed), or -1.
 */
static int fx_wait_change(_Atomic uint32_t *word, uint32_t old)
{
	int slept = 0;

	while (atomic_load_explicit(word, memory_order_acquire) == old) {
		if (!futex(word, FUTEX_WAIT, old))
			slept++;
		else if (errno != EAGAIN && errno != EINTR) {
			perror("bench: FUTEX_WAIT");
			return -1;
		}
	}
	return slept;
}

static int fx_post(_Atomic uint32_t *word, uint32_t val)
{
	atomic_store_explicit(word, val, memory_order_release);
	if (futex(word, FUTEX_WAKE, INT_MAX) < 0) {
		perror("bench: FUTEX_WAKE");
		return -1;
	}
	return 0;
}

static void *fx_prepare(enum bench_mode mode)
{
	struct fx_ctx *c = calloc(1, sizeof(*c));

	(void)mode;
	if (!c)
		return NULL;
	c->sh = map_shared(sizeof(*c->sh));
	if (!c->sh) {
		free(c);
		return NULL;
	}
	return c;
}

static int fx_serve(void *ctx, enum bench_mode mode, int ready_fd)
{
	/* A local copy: the context shares a cache line with the other side's seq. */
	struct fx_shared *sh = ((struct fx_ctx *)ctx)->sh;
	uint32_t last = 0;

	(void)mode;
	if (bench_ready(ready_fd))
		return -1;
	for (;;) {
		if (fx_wait_change(&sh->ping, last) < 0)
			return -1;
		if (atomic_load_explicit(&sh->stop, memory_order_acquire))
			return 0;
		last = atomic_load_explicit(&sh->ping, memory_order_acquire);
		if (fx_post(&sh->pong, last))
			return -1;
	}
}

static int fx_connect(struct bench_link *l)
{
	(void)l;
	return 0;
}

static int fx_roundtrip(void *ctx)
{
	struct fx_ctx *c = ctx;
	uint32_t prev = c->seq;
	int slept;

	c->seq = prev + 1 ? prev + 1 : 1;
	if (fx_post(&c->sh->ping, c->seq))
		return -1;
	slept = fx_wait_change(&c->sh->pong, prev);
	if (slept < 0)
		return -1;
	c->trips++;
	c->sleeps += slept > 0;
	return 0;
}

static double fx_slept(void *ctx)
{
	struct fx_ctx *c = ctx;

	return c->trips ? (double)c->sleeps / (double)c->trips : 0;
}

static void fx_stop(struct bench_link *l)
{
	struct fx_ctx *c = l->ctx;

	atomic_store_explicit(&c->sh->stop, 1, memory_order_release);
	c->seq = c->seq + 1 ? c->seq + 1 : 1;
	(void)fx_post(&c->sh->ping, c->seq);
}

static void fx_destroy(struct bench_link *l)
{
	struct fx_ctx *c = l->ctx;

	munmap(c->sh, sizeof(*c->sh));
	free(c);
}

/* ---- 3. SOCK_SEQPACKET ping-pong ------------------------------------------ */

struct sp_ctx {
	int fd[2]; /* [0]: measuring side, [1]: peer */
	unsigned char buf[BENCH_PAYLOAD];
};

static void *sp_prepare(enum bench_mode mode)
{
	struct sp_ctx *c = calloc(1, sizeof(*c));

	(void)mode;
	if (!c)
		return NULL;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, c->fd)) {
		perror("bench: socketpair");
		free(c);
		return NULL;
	}
	memset(c->buf, 0x5a, sizeof(c->buf));
	return c;
}

static int sp_serve(void *ctx, enum bench_mode mode, int ready_fd)
{
	struct sp_ctx *c = ctx;
	/* A local copy: the context shares a cache line with the other side's buffer. */
	int fd = c->fd[1];
	unsigned char buf[BENCH_PAYLOAD];
	ssize_t n;

	if (mode == BENCH_PROCESSES)
		close(c->fd[0]);
	if (bench_ready(ready_fd))
		return -1;
	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n == 0)
			return 0;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("bench: read (peer)");
			return -1;
		}
		if (write(fd, buf, (size_t)n) != n) {
			perror("bench: write (peer)");
			return -1;
		}
	}
}

static int sp_connect(struct bench_link *l)
{
	struct sp_ctx *c = l->ctx;

	if (l->mode == BENCH_PROCESSES) {
		close(c->fd[1]);
		c->fd[1] = -1;
	}
	return 0;
}

static int sp_roundtrip(void *ctx)
{
	struct sp_ctx *c = ctx;
	ssize_t n;

	if (write(c->fd[0], c->buf, sizeof(c->buf)) != (ssize_t)sizeof(c->buf)) {
		perror("bench: write");
		return -1;
	}
	do
		n = read(c->fd[0], c->buf, sizeof(c->buf));
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(c->buf)) {
		fprintf(stderr, "bench: read: %zd bytes (%s)\n", n, n < 0 ? strerror(errno) : "");
		return -1;
	}
	return 0;
}

static void sp_stop(struct bench_link *l)
{
	struct sp_ctx *c = l->ctx;

	shutdown(c->fd[0], SHUT_WR);
}

static void sp_destroy(struct bench_link *l)
{
	struct sp_ctx *c = l->ctx;

	close(c->fd[0]);
	if (c->fd[1] >= 0)
		close(c->fd[1]);
	free(c);
}

/* ---- rows ----------------------------------------------------------------- */

static const char *raw_path(void *ctx)
{
	(void)ctx;
	return "raw";
}

static bool raw_path_ok(void *ctx)
{
	(void)ctx;
	return true;
}

const struct bench_row bench_raw_rows[3] = {
	{
		.id = 1,
		.name = "cache-line ping-pong (spin)",
		.prepare = cl_prepare,
		.serve = cl_serve,
		.connect = cl_connect,
		.roundtrip = cl_roundtrip,
		.path = raw_path,
		.path_ok = raw_path_ok,
		.stop = cl_stop,
		.destroy = cl_destroy,
	},
	{
		.id = 2,
		.name = "futex ping-pong (sleep)",
		.sleeping = true,
		.prepare = fx_prepare,
		.serve = fx_serve,
		.connect = fx_connect,
		.roundtrip = fx_roundtrip,
		.path = raw_path,
		.path_ok = raw_path_ok,
		.slept = fx_slept,
		.stop = fx_stop,
		.destroy = fx_destroy,
	},
	{
		.id = 3,
		.name = "SOCK_SEQPACKET ping-pong",
		.sleeping = true,
		.prepare = sp_prepare,
		.serve = sp_serve,
		.connect = sp_connect,
		.roundtrip = sp_roundtrip,
		.path = raw_path,
		.path_ok = raw_path_ok,
		.stop = sp_stop,
		.destroy = sp_destroy,
	},
};
