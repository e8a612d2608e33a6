// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * The floors and plain sockets, at every message size.
 *
 *  floor-shm-spin     shared-memory ping-pong, spinning: the client copies
 *                     the request into a shared buffer and publishes a
 *                     sequence number (release); the server, spinning
 *                     with pause, copies the request into the shared
 *                     response buffer and publishes; the client copies
 *                     the response out.  Three copies, as a Cell call with
 *                     cell_client_call() and cell_reply_send().  At 64 B
 *                     this is the cache-line ping-pong.
 *  floor-futex        the same with FUTEX_WAKE/FUTEX_WAIT instead of
 *                     spinning (shared futexes, never spinning).
 *  floor-seqpacket    AF_UNIX SOCK_SEQPACKET socketpair, one datagram each
 *                     way, blocking write/read.
 *  unix-stream        AF_UNIX SOCK_STREAM socketpair, the plain socket a
 *                     user would write by hand (fixed-size messages).
 *  floor-spsc-ring    one-way streaming through a single-producer
 *                     single-consumer ring of fixed slots (the size rounded
 *                     up to 64 bytes, a power of two of them) in shared
 *                     memory: the producer copies each message into a slot
 *                     and publishes its head after each message, the
 *                     consumer checks each sequence number in place and
 *                     publishes its tail once per pass.  Per message, as
 *                     cell_client_send() must (it has no flush).
 *  floor-spsc-batch   the same ring, the head published every RING_BATCH
 *                     messages (and before the producer waits, and at the
 *                     end of a burst): what batching buys, for information.
 *
 * Shared memory is an anonymous MAP_SHARED mapping made before the fork.
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

#include "ipc.h"

#define STOP_SEQ UINT64_MAX

static void *map_shared(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("bench: mmap");
		return NULL;
	}
	return p;
}

/* ---- shared-memory ping-pong (spin and futex) ----------------------------- */

struct pp_hdr {
	_Alignas(128) _Atomic uint32_t ping;
	_Alignas(128) _Atomic uint32_t pong;
	_Alignas(128) unsigned char data[]; /* request, then response (each size, 128-aligned) */
};

struct pp_ctx {
	struct pp_hdr *sh;
	size_t size, slot, maplen;
	uint32_t seq;
	unsigned char *buf; /* client: request source and response destination */
};

static size_t round128(size_t n)
{
	return (n + 127) & ~(size_t)127;
}

static void *pp_prepare(size_t size)
{
	struct pp_ctx *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->size = size;
	c->slot = round128(size);
	c->maplen = sizeof(struct pp_hdr) + 2 * c->slot;
	c->sh = map_shared(c->maplen);
	if (!c->sh) {
		free(c);
		return NULL;
	}
	return c;
}

static long futex(_Atomic uint32_t *word, int op, uint32_t val)
{
	return syscall(SYS_futex, (uint32_t *)word, op, val, NULL, NULL, 0);
}

/* Wait until *@word != @old: spin, or sleep on the futex.  0, or -1 when stopping. */
static int pp_wait(_Atomic uint32_t *word, uint32_t old, bool sleep, bool server)
{
	while (atomic_load_explicit(word, memory_order_acquire) == old) {
		if (server && ipc_stopping)
			return -1;
		if (!sleep) {
			ipc_relax();
			continue;
		}
		if (futex(word, FUTEX_WAIT, old) && errno != EAGAIN && errno != EINTR) {
			perror("bench: FUTEX_WAIT");
			return -1;
		}
	}
	return 0;
}

static void pp_post(_Atomic uint32_t *word, uint32_t v, bool sleep)
{
	atomic_store_explicit(word, v, memory_order_release);
	if (sleep)
		futex(word, FUTEX_WAKE, INT_MAX);
}

static int pp_serve(void *ctx, int ready_fd, bool sleep)
{
	/* Local copies: the context shares a cache line with the client's seq. */
	struct pp_ctx *c = ctx;
	struct pp_hdr *sh = c->sh;
	size_t size = c->size, slot = c->slot;
	uint32_t last = 0;

	if (ipc_ready(ready_fd))
		return -1;
	for (;;) {
		if (pp_wait(&sh->ping, last, sleep, true))
			return ipc_stopping ? 0 : -1;
		last = atomic_load_explicit(&sh->ping, memory_order_acquire);
		memcpy(sh->data + slot, sh->data, size);
		pp_post(&sh->pong, last, sleep);
	}
}

static int pp_serve_spin(void *ctx, int ready_fd)
{
	return pp_serve(ctx, ready_fd, false);
}

static int pp_serve_futex(void *ctx, int ready_fd)
{
	return pp_serve(ctx, ready_fd, true);
}

static int pp_connect(void *ctx)
{
	struct pp_ctx *c = ctx;

	c->buf = calloc(1, c->size);
	if (!c->buf) {
		perror("bench");
		return -1;
	}
	memset(c->buf, 0x5a, c->size);
	return 0;
}

static int pp_call(void *ctx, bool sleep)
{
	struct pp_ctx *c = ctx;
	uint32_t prev = c->seq;

	c->seq = prev + 1 ? prev + 1 : 1;
	ipc_fill(c->buf, c->size, c->seq);
	memcpy(c->sh->data, c->buf, c->size);
	pp_post(&c->sh->ping, c->seq, sleep);
	if (pp_wait(&c->sh->pong, prev, sleep, false))
		return -1;
	memcpy(c->buf, c->sh->data + c->slot, c->size);
	return ipc_check(c->buf, c->size, c->size, c->seq, "shm ping-pong");
}

static int pp_call_spin(void *ctx)
{
	return pp_call(ctx, false);
}

static int pp_call_futex(void *ctx)
{
	return pp_call(ctx, true);
}

static void pp_destroy(void *ctx)
{
	struct pp_ctx *c = ctx;

	munmap(c->sh, c->maplen);
	free(c->buf);
	free(c);
}

/* ---- sockets (SOCK_SEQPACKET and SOCK_STREAM) ----------------------------- */

struct sk_ctx {
	int type;
	int fd[2]; /* [0]: client, [1]: server */
	size_t size;
	unsigned char *buf;
	uint64_t seq;
};

/* Send buffers that hold a few messages: SO_SNDBUFFORCE if allowed, else SO_SNDBUF. */
static void sk_buffers(int fd, size_t size)
{
	int want = (int)(4 * size + 65536);

	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &want, sizeof(want)))
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &want, sizeof(want));
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof(want)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof(want));
}

static void *sk_prepare(size_t size, int type)
{
	struct sk_ctx *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->type = type;
	c->size = size;
	c->buf = malloc(size);
	if (!c->buf || socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, c->fd)) {
		perror("bench: socketpair");
		free(c->buf);
		free(c);
		return NULL;
	}
	sk_buffers(c->fd[0], size);
	sk_buffers(c->fd[1], size);
	memset(c->buf, 0x5a, size);
	return c;
}

static void *seq_prepare(size_t size)
{
	return sk_prepare(size, SOCK_SEQPACKET);
}

static void *stream_prepare(size_t size)
{
	return sk_prepare(size, SOCK_STREAM);
}

/* A datagram of @size bytes must fit the send buffer the kernel grants. */
static int seq_avail(size_t size, char *why, size_t cap)
{
	struct sk_ctx *c = sk_prepare(size, SOCK_SEQPACKET);
	int sndbuf = 0, rc = 0;
	socklen_t len = sizeof(sndbuf);

	if (!c) {
		snprintf(why, cap, "socketpair failed");
		return -1;
	}
	getsockopt(c->fd[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, &len);
	if (send(c->fd[0], c->buf, size, MSG_DONTWAIT) != (ssize_t)size) {
		snprintf(why, cap,
			 "a %zu-byte datagram exceeds the send buffer the kernel grants (%d "
			 "bytes; net.core.wmem_max, or root for SO_SNDBUFFORCE)",
			 size, sndbuf);
		rc = -1;
	}
	close(c->fd[0]);
	close(c->fd[1]);
	free(c->buf);
	free(c);
	return rc;
}

/* Read exactly @n bytes (a stream) or one datagram of @n bytes. */
static int sk_read(const struct sk_ctx *c, int fd, unsigned char *buf, size_t n, bool server)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, buf + got, n - got);

		if (r == 0)
			return 1; /* peer closed */
		if (r < 0) {
			if (errno == EINTR) {
				if (server && ipc_stopping)
					return 1;
				continue;
			}
			perror("bench: read");
			return -1;
		}
		got += (size_t)r;
		if (c->type == SOCK_SEQPACKET && got != n) {
			fprintf(stderr, "bench: datagram of %zd bytes, expected %zu\n", r, n);
			return -1;
		}
	}
	return 0;
}

static int sk_write(int fd, const unsigned char *buf, size_t n)
{
	size_t put = 0;

	while (put < n) {
		ssize_t w = write(fd, buf + put, n - put);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			perror("bench: write");
			return -1;
		}
		put += (size_t)w;
	}
	return 0;
}

static int sk_serve(void *ctx, int ready_fd)
{
	struct sk_ctx *c = ctx;
	int fd = c->fd[1], r;

	close(c->fd[0]);
	if (ipc_ready(ready_fd))
		return -1;
	for (;;) {
		r = sk_read(c, fd, c->buf, c->size, true);
		if (r)
			return r > 0 ? 0 : -1;
		if (sk_write(fd, c->buf, c->size))
			return ipc_stopping ? 0 : -1;
	}
}

static int sk_connect(void *ctx)
{
	struct sk_ctx *c = ctx;

	close(c->fd[1]);
	c->fd[1] = -1;
	return 0;
}

static int sk_call(void *ctx)
{
	struct sk_ctx *c = ctx;

	ipc_fill(c->buf, c->size, ++c->seq);
	if (sk_write(c->fd[0], c->buf, c->size) || sk_read(c, c->fd[0], c->buf, c->size, false))
		return -1;
	return ipc_check(c->buf, c->size, c->size, c->seq, "socket");
}

static int sk_burst(void *ctx, unsigned int n)
{
	struct sk_ctx *c = ctx;
	unsigned int depth = ipc_depth(c->size);

	for (unsigned int i = 0; i < n; i += depth) {
		uint64_t first = c->seq + 1;

		for (unsigned int k = 0; k < depth; k++) {
			ipc_fill(c->buf, c->size, ++c->seq);
			if (sk_write(c->fd[0], c->buf, c->size))
				return -1;
		}
		for (unsigned int k = 0; k < depth; k++)
			if (sk_read(c, c->fd[0], c->buf, c->size, false) ||
			    ipc_check(c->buf, c->size, c->size, first + k, "socket"))
				return -1;
	}
	return 0;
}

static void sk_destroy(void *ctx)
{
	struct sk_ctx *c = ctx;

	close(c->fd[0]);
	if (c->fd[1] >= 0)
		close(c->fd[1]);
	free(c->buf);
	free(c);
}

/* ---- SPSC ring (streaming) ------------------------------------------------ */

#define RING_BYTES (4U << 20)
#define RING_BATCH 16U

struct ring_hdr {
	_Alignas(128) _Atomic uint64_t head; /* producer: messages written */
	_Alignas(128) _Atomic uint64_t tail; /* consumer: messages consumed */
	_Alignas(128) _Atomic uint32_t bad;  /* consumer saw a wrong sequence number */
	_Alignas(128) unsigned char slots[];
};

struct ring_ctx {
	struct ring_hdr *sh;
	size_t size, slot, maplen;
	uint64_t nslots;
	uint64_t head;	    /* producer's copy */
	unsigned int batch; /* publish the head every @batch messages */
	unsigned char *src;
};

static void *ring_prepare(size_t size, unsigned int batch)
{
	struct ring_ctx *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->batch = batch;
	c->size = size;
	c->slot = (size + 63) & ~(size_t)63;
	/* A power of two of slots, at least 4. */
	for (c->nslots = 4; c->nslots * 2 * c->slot <= RING_BYTES; c->nslots *= 2)
		;
	c->maplen = sizeof(struct ring_hdr) + c->nslots * c->slot;
	c->sh = map_shared(c->maplen);
	if (!c->sh) {
		free(c);
		return NULL;
	}
	return c;
}

static void *ring_prepare_one(size_t size)
{
	return ring_prepare(size, 1);
}

static void *ring_prepare_batch(size_t size)
{
	return ring_prepare(size, RING_BATCH);
}

static int ring_serve(void *ctx, int ready_fd)
{
	struct ring_ctx *c = ctx;
	struct ring_hdr *sh = c->sh;
	uint64_t tail = 0, mask = c->nslots - 1;
	size_t slot = c->slot;

	if (ipc_ready(ready_fd))
		return -1;
	for (;;) {
		uint64_t head = atomic_load_explicit(&sh->head, memory_order_acquire);

		if (head == tail) {
			if (ipc_stopping)
				return 0;
			ipc_relax();
			continue;
		}
		for (; tail < head; tail++)
			if (ipc_seq_of(sh->slots + (tail & mask) * slot) != tail + 1)
				atomic_store_explicit(&sh->bad, 1, memory_order_relaxed);
		atomic_store_explicit(&sh->tail, tail, memory_order_release);
	}
}

static int ring_connect(void *ctx)
{
	struct ring_ctx *c = ctx;

	c->src = malloc(c->size);
	if (!c->src) {
		perror("bench");
		return -1;
	}
	memset(c->src, 0x5a, c->size);
	return 0;
}

static int ring_burst(void *ctx, unsigned int n)
{
	struct ring_ctx *c = ctx;
	struct ring_hdr *sh = c->sh;
	uint64_t end = c->head + n, tail = atomic_load_explicit(&sh->tail, memory_order_acquire);

	while (c->head < end) {
		if (c->head - tail >= c->nslots) {
			/* Full: publish what is written, then wait for room. */
			atomic_store_explicit(&sh->head, c->head, memory_order_release);
			do {
				ipc_relax();
				tail = atomic_load_explicit(&sh->tail, memory_order_acquire);
			} while (c->head - tail >= c->nslots);
		}
		ipc_fill(c->src, c->size, c->head + 1);
		memcpy(sh->slots + (c->head & (c->nslots - 1)) * c->slot, c->src, c->size);
		c->head++;
		if (!(c->head % c->batch) || c->head == end)
			atomic_store_explicit(&sh->head, c->head, memory_order_release);
	}
	while (atomic_load_explicit(&sh->tail, memory_order_acquire) != end)
		ipc_relax();
	if (atomic_load_explicit(&sh->bad, memory_order_relaxed)) {
		fprintf(stderr, "bench: spsc ring: the consumer saw a wrong sequence number\n");
		return -1;
	}
	return 0;
}

static void ring_destroy(void *ctx)
{
	struct ring_ctx *c = ctx;

	munmap(c->sh, c->maplen);
	free(c->src);
	free(c);
}

/* ---- the cases ------------------------------------------------------------ */

static const struct ipc_case raw_cases[] = {
	{
		.key = "floor-shm-spin",
		.name = "shm ping-pong, spin (floor)",
		.kind = "floor",
		.prepare = pp_prepare,
		.serve = pp_serve_spin,
		.connect = pp_connect,
		.call = pp_call_spin,
		.destroy = pp_destroy,
	},
	{
		.key = "floor-futex",
		.name = "shm ping-pong, futex (floor)",
		.kind = "floor",
		.prepare = pp_prepare,
		.serve = pp_serve_futex,
		.connect = pp_connect,
		.call = pp_call_futex,
		.destroy = pp_destroy,
	},
	{
		.key = "floor-seqpacket",
		.name = "SOCK_SEQPACKET ping-pong (floor)",
		.kind = "floor",
		.avail = seq_avail,
		.prepare = seq_prepare,
		.serve = sk_serve,
		.connect = sk_connect,
		.call = sk_call,
		.burst = sk_burst,
		.destroy = sk_destroy,
	},
	{
		.key = "floor-spsc-ring",
		.name = "SPSC ring, one-way (floor)",
		.kind = "floor",
		.flags = IPC_STREAM,
		.prepare = ring_prepare_one,
		.serve = ring_serve,
		.connect = ring_connect,
		.burst = ring_burst,
		.destroy = ring_destroy,
	},
	{
		.key = "floor-spsc-batch",
		.name = "SPSC ring, one-way, batched publish (floor)",
		.kind = "floor",
		.flags = IPC_STREAM,
		.prepare = ring_prepare_batch,
		.serve = ring_serve,
		.connect = ring_connect,
		.burst = ring_burst,
		.destroy = ring_destroy,
	},
	{
		.key = "unix-stream",
		.name = "plain unix stream socket",
		.kind = "peer",
		.prepare = stream_prepare,
		.serve = sk_serve,
		.connect = sk_connect,
		.call = sk_call,
		.burst = sk_burst,
		.destroy = sk_destroy,
	},
};

const struct ipc_case_list ipc_raw_cases = {
	.system = "raw",
	.cases = raw_cases,
	.n = sizeof(raw_cases) / sizeof(raw_cases[0]),
};
