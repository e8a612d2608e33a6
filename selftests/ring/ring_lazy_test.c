// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Lazy release (struct cell_ring.lazy_release): the consumer's head goes
 * out only when an eighth of the ring is pending, when the producer waits
 * for room, before the consumer sleeps, at cell_ring_flush() and at
 * detach, and a producer that waits for room always gets it.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include <cell/ring.h>
#include <cell/time.h>

#include "kselftest_harness.h"

#define SIZE 4096ULL /* an eighth: 512 bytes */

FIXTURE(lazy)
{
	int fd;
	struct cell_ring p, c;
};

FIXTURE_SETUP(lazy)
{
	self->fd = cell_ring_create_memfd(SIZE);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, cell_ring_attach(&self->p, dup(self->fd), CELL_ROLE_PRODUCER, SIZE));
	ASSERT_EQ(0, cell_ring_attach(&self->c, dup(self->fd), CELL_ROLE_CONSUMER, SIZE));
	self->c.lazy_release = true;
}

FIXTURE_TEARDOWN(lazy)
{
	cell_ring_detach(&self->p);
	cell_ring_detach(&self->c);
	close(self->fd);
}

/* Put one record of @len bytes and read it back; returns its end. */
static uint64_t cycle(struct cell_ring *p, struct cell_ring *c, uint32_t len)
{
	struct cell_ring_view v;
	void *d = cell_ring_reserve(p, len);

	if (!d || cell_ring_commit(p, len) || cell_ring_read(c, &v))
		return 0;
	return v.end;
}

static uint64_t head(const struct cell_ring *r)
{
	return __atomic_load_n(&r->consumer->position, __ATOMIC_ACQUIRE);
}

TEST_F(lazy, head_goes_out_at_an_eighth)
{
	uint64_t end = 0, released = 0;

	/* 56-byte records: the head stays until 512 bytes are pending. */
	while (released < SIZE / 8) {
		end = cycle(&self->p, &self->c, 48);
		ASSERT_NE(0, end);
		cell_ring_release(&self->c, end);
		released = end;
		if (released < SIZE / 8)
			ASSERT_EQ(0, head(&self->c));
	}
	ASSERT_EQ(end, head(&self->c));
}

TEST_F(lazy, flush_and_detach_publish)
{
	uint64_t end = cycle(&self->p, &self->c, 100);

	ASSERT_NE(0, end);
	cell_ring_release(&self->c, end);
	ASSERT_EQ(0, head(&self->c));
	cell_ring_flush(&self->c);
	ASSERT_EQ(end, head(&self->c));
	end = cycle(&self->p, &self->c, 100);
	cell_ring_release(&self->c, end);
	ASSERT_EQ(end - 112, head(&self->c));
	cell_ring_detach(&self->c);
	ASSERT_EQ(end, head(&self->p));
}

TEST_F(lazy, prepare_sleep_publishes)
{
	uint64_t end = cycle(&self->p, &self->c, 100);

	cell_ring_release(&self->c, end);
	ASSERT_EQ(0, head(&self->c));
	ASSERT_TRUE(cell_ring_prepare_sleep(&self->c));
	ASSERT_EQ(end, head(&self->c));
	cell_ring_end_sleep(&self->c);
}

struct waiter {
	struct cell_ring *p;
	int err;
};

static void *reserve_small(void *arg)
{
	struct waiter *w = arg;
	void *d = cell_ring_reserve_wait(w->p, 8, cell_deadline_in_ms(5000), NULL, NULL);

	w->err = d ? cell_ring_commit(w->p, 8) : errno;
	return NULL;
}

/* A producer waiting for room gets a release far below an eighth at once. */
TEST_F(lazy, waiting_producer_gets_the_room)
{
	struct waiter w = { .p = &self->p };
	struct cell_ring_view v, first = { 0 };
	uint64_t t0;
	pthread_t t;
	int n = 0;

	/* Fill the ring with 16-byte records and read them all. */
	while (cell_ring_reserve(&self->p, 8)) {
		ASSERT_EQ(0, cell_ring_commit(&self->p, 8));
		ASSERT_EQ(0, cell_ring_read(&self->c, &v));
		if (!n++)
			first = v;
	}
	ASSERT_EQ(EAGAIN, errno);
	ASSERT_EQ(16, first.end);
	ASSERT_EQ(0, pthread_create(&t, NULL, reserve_small, &w));
	usleep(50 * 1000); /* the producer is asleep, its flag set */
	t0 = cell_now_ns();
	cell_ring_release(&self->c, first.end); /* 16 bytes */
	pthread_join(t, NULL);
	EXPECT_EQ(0, w.err);
	EXPECT_EQ(16, head(&self->c));
	EXPECT_LT(cell_now_ns() - t0, 100 * CELL_NSEC_PER_MSEC);
}

/* Producer side of sleeping elsewhere (a server parking its answers). */
TEST_F(lazy, room_and_producer_sleep)
{
	uint32_t big = CELL_RING_RECORD_MAX(SIZE);
	struct cell_ring_view v;

	self->c.lazy_release = false;
	/* Two maximal records fill the ring exactly. */
	for (int i = 0; i < 2; i++) {
		ASSERT_TRUE(cell_ring_has_room(&self->p, big));
		ASSERT_NE(NULL, cell_ring_reserve(&self->p, big));
		ASSERT_EQ(0, cell_ring_commit(&self->p, big));
	}
	ASSERT_FALSE(cell_ring_has_room(&self->p, big));
	ASSERT_FALSE(cell_ring_has_room(&self->p, 8));
	/* No room: the flag is set for the consumer to see. */
	ASSERT_TRUE(cell_ring_prepare_sleep_room(&self->p, big));
	ASSERT_EQ(1, self->p.producer->waiting);
	ASSERT_EQ(0, cell_ring_read(&self->c, &v));
	cell_ring_release(&self->c, v.end);
	ASSERT_TRUE(cell_ring_has_room(&self->p, big));
	cell_ring_end_sleep(&self->p);
	ASSERT_EQ(0, self->p.producer->waiting);
	/* Room already: no sleep, flag left clear. */
	ASSERT_FALSE(cell_ring_prepare_sleep_room(&self->p, big));
	ASSERT_EQ(0, self->p.producer->waiting);
}

TEST_HARNESS_MAIN
