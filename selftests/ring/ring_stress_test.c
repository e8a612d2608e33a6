// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Concurrency tests of the ring (also run under TSan): a producer thread
 * streams STRESS_MESSAGES messages of varied sizes through a 64 KiB ring
 * (so wrap, full and empty happen all the time) to a consumer thread that
 * checks each one arrives once, in order, intact; the same with waits that
 * always sleep, and with batches (cell_ring_commit_more(), a kick every
 * 16 messages: a full ring must kick before it waits); ping-pong over two
 * rings where every wait sleeps (a lost
 * wake shows as a stall of a whole wait slice); and a fast producer held
 * back by a slow consumer for a second.
 *
 * Both sides share one mapping (cell_ring_attach_mem) so that TSan sees
 * the producer's writes and the consumer's reads at the same addresses.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <cell/ring.h>
#include <cell/time.h>

#include "kselftest_harness.h"
#include "ring_common.h"

#ifndef STRESS_MESSAGES
#define STRESS_MESSAGES 1000000ULL
#endif
#define STRESS_RING	(64ULL * 1024)
#define STRESS_MAX	CELL_RING_RECORD_MAX(STRESS_RING)
#define STRESS_TIMEOUT	280 /* s: the harness's per-test alarm */
#define STRESS_DEADLINE (250 * CELL_NSEC_PER_SEC)

/* Mostly small, some medium, one in a thousand up to the maximum. */
static uint32_t stress_len(uint64_t i)
{
	uint64_t x = mix64(i * 0x632be59bd9b4e019ULL);

	if (x % 1000 == 0)
		return 16 + (uint32_t)((x >> 16) % (STRESS_MAX - 15));
	if (x & 0x10)
		return 16 + (uint32_t)((x >> 16) % 48);
	return 16 + (uint32_t)((x >> 16) % 400);
}

struct pair {
	struct cell_ring p, c;
};

static int pair_open(struct pair *pr, uint64_t size)
{
	int fd = cell_ring_create_memfd(size), rc;

	if (fd < 0)
		return fd;
	rc = cell_ring_attach(&pr->p, fd, CELL_ROLE_PRODUCER, size);
	if (rc) {
		close(fd);
		return rc;
	}
	rc = cell_ring_attach_mem(&pr->c, pr->p.map, pr->p.map_len, CELL_ROLE_CONSUMER, size);
	if (rc)
		cell_ring_detach(&pr->p);
	return rc;
}

static void pair_close(struct pair *pr)
{
	cell_ring_detach(&pr->c);
	cell_ring_detach(&pr->p);
}

struct producer {
	struct cell_ring *r;
	uint64_t count; /* UINT64_MAX: until @stop */
	uint64_t deadline;
	unsigned int batch; /* 0: cell_ring_commit() each; else a kick every @batch */
	int *stop;	    /* set by either side to end the run (a failure, or time is up) */
	/* Results. */
	uint64_t produced, full, err_index;
	int err, done;
};

static bool not_stopped(void *ctx)
{
	return !__atomic_load_n((int *)ctx, __ATOMIC_ACQUIRE);
}

static void *produce(void *arg)
{
	struct producer *pa = arg;
	uint64_t i;

	for (i = 0; i < pa->count; i++) {
		uint32_t len = stress_len(i);
		void *d;

		if (!not_stopped(pa->stop))
			break;
		d = cell_ring_reserve(pa->r, len);
		if (!d && errno == EAGAIN) {
			pa->full++;
			d = cell_ring_reserve_wait(pa->r, len, pa->deadline, not_stopped, pa->stop);
		}
		if (!d && errno == EPIPE)
			break; /* told to stop while waiting */
		if (!d) {
			pa->err = errno;
			pa->err_index = i;
			__atomic_store_n(pa->stop, 1, __ATOMIC_RELEASE);
			break;
		}
		msg_fill(d, len, i);
		if (pa->batch ? cell_ring_commit_more(pa->r, len) : cell_ring_commit(pa->r, len)) {
			pa->err = EINVAL;
			pa->err_index = i;
			break;
		}
		if (pa->batch && (i + 1) % pa->batch == 0)
			cell_ring_kick(pa->r);
	}
	cell_ring_kick(pa->r);
	pa->produced = i;
	__atomic_store_n(&pa->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* Consume @count messages; returns 0 or the index + 1 of the first bad one. */
static uint64_t consume(struct cell_ring *c, uint64_t count, uint64_t deadline, int *stop,
			uint64_t *empty, int *rc_out)
{
	struct cell_ring_view v;
	uint64_t pending_end = 0;

	for (uint64_t i = 0; i < count; i++) {
		int rc = cell_ring_read(c, &v);

		if (rc == -EAGAIN) {
			/* Never sleep on unreleased bytes: the producer may need them. */
			if (pending_end) {
				cell_ring_release(c, pending_end);
				pending_end = 0;
			}
			(*empty)++;
			rc = cell_ring_read_wait(c, &v, deadline, not_stopped, stop);
		}
		if (rc) {
			*rc_out = rc;
			return i + 1;
		}
		if (v.len != stress_len(i) || !msg_check(v.data, v.len, i))
			return i + 1;
		/* Release one by one or in batches of up to four. */
		pending_end = v.end;
		if (mix64(i) % 4 == 0) {
			cell_ring_release(c, pending_end);
			pending_end = 0;
		}
	}
	if (pending_end)
		cell_ring_release(c, pending_end);
	return 0;
}

FIXTURE(stream)
{
	struct pair pr;
};

FIXTURE_VARIANT(stream)
{
	uint64_t spin_ns; /* 0: adaptive default */
	uint64_t messages;
	unsigned int batch;
};

FIXTURE_VARIANT_ADD(stream, adaptive_spin){
	.spin_ns = 0,
	.messages = STRESS_MESSAGES,
};

FIXTURE_VARIANT_ADD(stream, always_sleep){
	.spin_ns = CELL_RING_SPIN_NONE,
	.messages = STRESS_MESSAGES / 10,
};

FIXTURE_VARIANT_ADD(stream, batched){
	.spin_ns = 0,
	.messages = STRESS_MESSAGES / 4,
	.batch = 16,
};

FIXTURE_VARIANT_ADD(stream, batched_always_sleep){
	.spin_ns = CELL_RING_SPIN_NONE,
	.messages = STRESS_MESSAGES / 10,
	.batch = 16,
};

FIXTURE_SETUP(stream)
{
	ASSERT_EQ(0, pair_open(&self->pr, STRESS_RING));
	if (variant->spin_ns) {
		self->pr.p.spin_ns = variant->spin_ns;
		self->pr.c.spin_ns = variant->spin_ns;
	}
}

FIXTURE_TEARDOWN(stream)
{
	pair_close(&self->pr);
}

TEST_F_TIMEOUT(stream, every_message_once_in_order_intact, STRESS_TIMEOUT)
{
	uint64_t t0 = cell_now_ns(), deadline = t0 + STRESS_DEADLINE, empty = 0, bad;
	int rc = 0, stop = 0;
	struct producer pa = {
		.r = &self->pr.p,
		.count = variant->messages,
		.deadline = deadline,
		.batch = variant->batch,
		.stop = &stop,
	};
	struct cell_ring_view v;
	pthread_t t;

	ASSERT_EQ(0, pthread_create(&t, NULL, produce, &pa));
	bad = consume(&self->pr.c, variant->messages, deadline, &stop, &empty, &rc);
	if (bad) {
		/* Stop the producer before reporting. */
		__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
		TH_LOG("message %llu bad (rc %d)", (unsigned long long)(bad - 1), rc);
	}
	ASSERT_EQ(0, pthread_join(t, NULL));
	if (pa.err)
		TH_LOG("producer failed at %llu", (unsigned long long)pa.err_index);
	ASSERT_EQ(0, bad);
	ASSERT_EQ(0, pa.err);
	ASSERT_EQ(variant->messages, pa.produced);
	ASSERT_EQ(-EAGAIN, cell_ring_read(&self->pr.c, &v));
	TH_LOG("%llu messages, %.1f MB, %.2f s; producer found the ring full %llu times, consumer "
	       "empty %llu times; spin budgets now %llu/%llu ns",
	       (unsigned long long)variant->messages, (double)self->pr.p.tail / 1e6,
	       (double)(cell_now_ns() - t0) / 1e9, (unsigned long long)pa.full,
	       (unsigned long long)empty, (unsigned long long)self->pr.p.spin_ns,
	       (unsigned long long)self->pr.c.spin_ns);
	ASSERT_LT(100 * STRESS_RING, self->pr.p.tail); /* a hundred laps at least */
}

/* ---- ping-pong: waits sleep (always_sleep: every one); a lost wake costs a slice */

#define PINGS	 20000
#define STALL_NS (10 * CELL_NSEC_PER_MSEC)

struct ponger {
	struct cell_ring *in, *out;
	uint64_t deadline;
	int err;
};

static void *pong(void *arg)
{
	struct ponger *pg = arg;
	struct cell_ring_view v;

	for (int i = 0; i < PINGS; i++) {
		uint64_t n;
		void *d;
		int rc = cell_ring_read_wait(pg->in, &v, pg->deadline, NULL, NULL);

		if (rc || v.len != 8) {
			pg->err = rc ? -rc : EPROTO;
			return NULL;
		}
		memcpy(&n, v.data, 8);
		cell_ring_release(pg->in, v.end);
		d = cell_ring_reserve_wait(pg->out, 8, pg->deadline, NULL, NULL);
		if (!d) {
			pg->err = errno;
			return NULL;
		}
		n++;
		memcpy(d, &n, 8);
		if (cell_ring_commit(pg->out, 8)) {
			pg->err = EINVAL;
			return NULL;
		}
	}
	return NULL;
}

TEST_F_TIMEOUT(stream, ping_pong_never_misses_a_wake, STRESS_TIMEOUT)
{
	struct pair back;
	struct ponger pg;
	struct cell_ring_view v;
	uint64_t t0 = cell_now_ns(), stalls = 0, worst = 0;
	pthread_t t;

	if (variant->batch)
		SKIP(return, "only the stream test batches (see the unbatched variant)");

	ASSERT_EQ(0, pair_open(&back, CELL_RING_MIN_DATA));
	if (variant->spin_ns)
		back.p.spin_ns = back.c.spin_ns = variant->spin_ns;
	pg = (struct ponger){ .in = &self->pr.c, .out = &back.p, .deadline = t0 + STRESS_DEADLINE };
	ASSERT_EQ(0, pthread_create(&t, NULL, pong, &pg));
	for (uint64_t i = 0; i < PINGS; i++) {
		uint64_t n, t1, dt;
		void *d = cell_ring_reserve_wait(&self->pr.p, 8, pg.deadline, NULL, NULL);

		ASSERT_NE(NULL, d);
		memcpy(d, &i, 8);
		t1 = cell_now_ns();
		ASSERT_EQ(0, cell_ring_commit(&self->pr.p, 8));
		ASSERT_EQ(0, cell_ring_read_wait(&back.c, &v, pg.deadline, NULL, NULL));
		dt = cell_now_ns() - t1;
		memcpy(&n, v.data, 8);
		ASSERT_EQ(i + 1, n);
		cell_ring_release(&back.c, v.end);
		if (dt > STALL_NS)
			stalls++;
		if (dt > worst)
			worst = dt;
	}
	ASSERT_EQ(0, pthread_join(t, NULL));
	ASSERT_EQ(0, pg.err);
	TH_LOG("%d round trips in %.2f s, %llu over %llu ms, worst %llu us", PINGS,
	       (double)(cell_now_ns() - t0) / 1e9, (unsigned long long)stalls,
	       (unsigned long long)(STALL_NS / CELL_NSEC_PER_MSEC),
	       (unsigned long long)worst / 1000);
	/* A lost wake stalls for a 20 ms slice; scheduling alone rarely does. */
	ASSERT_GT(PINGS / 100, stalls);
	pair_close(&back);
}

/* ---- backpressure ------------------------------------------------------- */

static uint64_t rss_bytes(void)
{
	unsigned long size = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f)
		return 0;
	if (fscanf(f, "%lu %lu", &size, &resident) != 2)
		resident = 0;
	fclose(f);
	return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

TEST_F_TIMEOUT(stream, slow_consumer_holds_back_a_fast_producer, STRESS_TIMEOUT)
{
	uint64_t t0 = cell_now_ns(), deadline = t0 + STRESS_DEADLINE, rss0 = 0, rss1, read = 0;
	int stop = 0;
	struct producer pa = {
		.r = &self->pr.p, .count = UINT64_MAX, .deadline = deadline, .stop = &stop
	};
	struct cell_ring_view v;
	struct timespec nap = { .tv_nsec = 1000000 };
	pthread_t t;

	if (variant->batch)
		SKIP(return, "only the stream test batches (see the unbatched variant)");

	ASSERT_EQ(0, pthread_create(&t, NULL, produce, &pa));
	for (;;) {
		uint64_t now = cell_now_ns();
		int rc;

		if (!rss0 && now - t0 > 200 * CELL_NSEC_PER_MSEC)
			rss0 = rss_bytes();
		if (now - t0 > CELL_NSEC_PER_SEC)
			__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
		rc = cell_ring_read_wait(&self->pr.c, &v, now + 50 * CELL_NSEC_PER_MSEC, NULL,
					 NULL);
		/* Nothing for 50 ms after the producer finished: all read. */
		if (rc == -ETIMEDOUT && __atomic_load_n(&pa.done, __ATOMIC_ACQUIRE))
			break;
		if (rc == -ETIMEDOUT)
			continue;
		ASSERT_EQ(0, rc);
		ASSERT_EQ(stress_len(read), v.len);
		ASSERT_TRUE(msg_check(v.data, v.len, read));
		read++;
		cell_ring_release(&self->pr.c, v.end);
		/* At most ~32 messages per millisecond. */
		if (read % 32 == 0)
			nanosleep(&nap, NULL);
	}
	rss1 = rss_bytes();
	ASSERT_EQ(0, pthread_join(t, NULL));
	ASSERT_EQ(0, pa.err);
	ASSERT_EQ(pa.produced, read);
	ASSERT_EQ(-EAGAIN, cell_ring_read(&self->pr.c, &v));
	TH_LOG("%llu messages in %.2f s, producer held back %llu times, RSS %llu -> %llu KiB",
	       (unsigned long long)read, (double)(cell_now_ns() - t0) / 1e9,
	       (unsigned long long)pa.full, (unsigned long long)rss0 / 1024,
	       (unsigned long long)rss1 / 1024);
	/* The producer outran the consumer and had to wait, over and over. */
	ASSERT_LT(100, pa.full);
	ASSERT_NE(0, rss0);
	ASSERT_GT(rss0 + 1024 * 1024, rss1);
}

TEST_HARNESS_MAIN
