// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Unit tests of the SPSC ring (lib/ring.c): records in and out, wrap-around
 * without splitting, a full ring, sizes, forged shared memory on either
 * side, attach checks, waits (deadline, liveness, futex and eventfd wakes)
 * and a producer in another process.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cell/ring.h>
#include <cell/time.h>

#include "kselftest_harness.h"
#include "ring_common.h"

#define SIZE	 4096ULL
#define MAX_REC	 CELL_RING_RECORD_MAX(SIZE)
#define MAP_LEN	 (CELL_RING_OFF_DATA + SIZE)
#define NO_ALIVE NULL, NULL

/* Both sides of a fresh ring, each with its own mapping, and a raw mapping. */
FIXTURE(ring)
{
	struct cell_ring p, c;
	uint8_t *m; /* the test's own view of the shared pages */
	int fd;
};

static struct cell_ring_producer *prod_page(uint8_t *m)
{
	return (struct cell_ring_producer *)(m + CELL_RING_OFF_PRODUCER);
}

static struct cell_ring_consumer *cons_page(uint8_t *m)
{
	return (struct cell_ring_consumer *)(m + CELL_RING_OFF_CONSUMER);
}

static struct cell_ring_record *rec_at(uint8_t *m, uint64_t pos)
{
	return (struct cell_ring_record *)(m + CELL_RING_OFF_DATA + (pos & (SIZE - 1)));
}

static uint8_t *map_fd(int fd)
{
	void *m = mmap(NULL, MAP_LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	return m == MAP_FAILED ? NULL : m;
}

FIXTURE_SETUP(ring)
{
	self->fd = cell_ring_create_memfd(SIZE);
	ASSERT_LE(0, self->fd);
	self->m = map_fd(self->fd);
	ASSERT_NE(NULL, self->m);
	ASSERT_EQ(0, cell_ring_attach(&self->p, dup(self->fd), CELL_ROLE_PRODUCER, SIZE));
	ASSERT_EQ(0, cell_ring_attach(&self->c, dup(self->fd), CELL_ROLE_CONSUMER, 0));
}

FIXTURE_TEARDOWN(ring)
{
	cell_ring_detach(&self->p);
	cell_ring_detach(&self->c);
	munmap(self->m, MAP_LEN);
	close(self->fd);
}

/* Reserve, fill as message @index, commit. Returns 0 or errno. */
static int put(struct cell_ring *p, uint32_t len, uint64_t index)
{
	void *d;

	if (len < sizeof(struct msg_head))
		return EDOM; /* a test bug: no room for the message head */
	d = cell_ring_reserve(p, len);
	if (!d)
		return errno;
	msg_fill(d, len, index);
	return cell_ring_commit(p, len) ? EINVAL : 0;
}

/* Read one record and check it is message @index of @len bytes. */
static int get(struct cell_ring *c, uint32_t len, uint64_t index, struct cell_ring_view *v)
{
	int rc = cell_ring_read(c, v);

	if (rc)
		return rc;
	if (v->len != len || !msg_check(v->data, v->len, index))
		return -EILSEQ;
	return 0;
}

/* The view lies in the data area, aligned, and does not cross its end. */
static bool view_in_bounds(const struct cell_ring *c, const struct cell_ring_view *v)
{
	const uint8_t *d = v->data;

	return !((uintptr_t)d & 7) && d >= c->data + 8 && d + v->len <= c->data + c->size;
}

TEST_F(ring, basics)
{
	struct cell_ring_view v;
	uint8_t *d;

	ASSERT_EQ(-EAGAIN, cell_ring_read(&self->c, &v));
	ASSERT_FALSE(cell_ring_pending(&self->c));
	d = cell_ring_reserve(&self->p, 100);
	ASSERT_NE(NULL, d);
	ASSERT_EQ(0, (uintptr_t)d & 7);
	ASSERT_EQ(self->p.data + 8, d);
	msg_fill(d, 100, 1);
	/* Not visible before commit. */
	ASSERT_EQ(-EAGAIN, cell_ring_read(&self->c, &v));
	ASSERT_EQ(0, cell_ring_commit(&self->p, 100));
	ASSERT_EQ(112, prod_page(self->m)->position);
	ASSERT_EQ(100, rec_at(self->m, 0)->len);
	ASSERT_EQ(0, rec_at(self->m, 0)->seq);
	ASSERT_TRUE(cell_ring_pending(&self->c));
	ASSERT_EQ(0, get(&self->c, 100, 1, &v));
	ASSERT_EQ(112, v.end);
	ASSERT_TRUE(view_in_bounds(&self->c, &v));
	ASSERT_EQ(-EAGAIN, cell_ring_read(&self->c, &v));
	ASSERT_EQ(0, cons_page(self->m)->position);
	cell_ring_release(&self->c, 112);
	ASSERT_EQ(112, cons_page(self->m)->position);
	/* Releasing the same or an earlier end again changes nothing. */
	cell_ring_release(&self->c, 112);
	cell_ring_release(&self->c, 8);
	ASSERT_EQ(112, cons_page(self->m)->position);
	/* Nor does an end not read yet, or one inside a record. */
	ASSERT_EQ(0, put(&self->p, 16, 2));
	cell_ring_release(&self->c, 112 + 24);
	ASSERT_EQ(112, cons_page(self->m)->position);
	ASSERT_EQ(0, get(&self->c, 16, 2, &v));
	ASSERT_EQ(136, v.end);
	cell_ring_release(&self->c, 132);
	ASSERT_EQ(112, cons_page(self->m)->position);
	cell_ring_release(&self->c, v.end);
	ASSERT_EQ(136, cons_page(self->m)->position);
	/* The seq of each record is its own position. */
	ASSERT_EQ(112, rec_at(self->m, 112)->seq);
}

TEST_F(ring, records_stay_until_released_in_order)
{
	struct cell_ring_view v[5];

	for (int i = 0; i < 5; i++)
		ASSERT_EQ(0, put(&self->p, 40 + i, i));
	for (int i = 0; i < 5; i++)
		ASSERT_EQ(0, get(&self->c, 40 + i, i, &v[i]));
	/* All five are still intact in place; release two at once. */
	for (int i = 0; i < 5; i++)
		ASSERT_TRUE(msg_check(v[i].data, v[i].len, i));
	cell_ring_release(&self->c, v[1].end);
	ASSERT_EQ(v[1].end, cons_page(self->m)->position);
	cell_ring_release(&self->c, v[0].end); /* earlier: no-op */
	ASSERT_EQ(v[1].end, cons_page(self->m)->position);
	cell_ring_release(&self->c, v[4].end);
	ASSERT_EQ(v[4].end, cons_page(self->m)->position);
}

TEST_F(ring, reservation_rules)
{
	struct cell_ring_view v;
	void *d;

	d = cell_ring_reserve(&self->p, 10);
	ASSERT_NE(NULL, d);
	errno = 0;
	ASSERT_EQ(NULL, cell_ring_reserve(&self->p, 10));
	ASSERT_EQ(EBUSY, errno);
	ASSERT_EQ(-EINVAL, cell_ring_commit(&self->p, 11));
	ASSERT_EQ(0, cell_ring_commit(&self->p, 10));
	ASSERT_EQ(-EINVAL, cell_ring_commit(&self->p, 0));
	/* Commit fewer bytes than reserved, and an empty record. */
	ASSERT_NE(NULL, cell_ring_reserve(&self->p, 200));
	ASSERT_EQ(0, cell_ring_commit(&self->p, 3));
	ASSERT_NE(NULL, cell_ring_reserve(&self->p, 0));
	ASSERT_EQ(0, cell_ring_commit(&self->p, 0));
	ASSERT_EQ(0, cell_ring_read(&self->c, &v));
	ASSERT_EQ(10, v.len);
	ASSERT_EQ(0, cell_ring_read(&self->c, &v));
	ASSERT_EQ(3, v.len);
	ASSERT_EQ(24 + 16, v.end);
	ASSERT_EQ(0, cell_ring_read(&self->c, &v));
	ASSERT_EQ(0, v.len);
	ASSERT_EQ(40 + 8, v.end);
	ASSERT_EQ(-EAGAIN, cell_ring_read(&self->c, &v));
	/* Each side refuses the other's calls. */
	errno = 0;
	ASSERT_EQ(NULL, cell_ring_reserve(&self->c, 8));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(-EINVAL, cell_ring_read(&self->p, &v));
}

/* Reserve, fill as message @index, commit without waking. Returns 0 or errno. */
static int put_more(struct cell_ring *p, uint32_t len, uint64_t index)
{
	void *d = cell_ring_reserve(p, len);

	if (!d)
		return errno;
	msg_fill(d, len, index);
	return cell_ring_commit_more(p, len) ? EINVAL : 0;
}

TEST_F(ring, a_batch_wakes_a_sleeping_consumer_once_at_the_kick)
{
	uint32_t *wake = &prod_page(self->m)->wake, wake0 = *wake;
	struct cell_ring_view v;

	/* The consumer is asleep: its flag is what the producer looks at. */
	cons_page(self->m)->waiting = 1;
	for (int i = 0; i < 5; i++)
		ASSERT_EQ(0, put_more(&self->p, 100, i));
	/* Written, not published: no tail store, nobody woken. */
	ASSERT_EQ(0, prod_page(self->m)->position);
	ASSERT_EQ(wake0, *wake);
	ASSERT_FALSE(cell_ring_pending(&self->c));
	ASSERT_EQ(-EAGAIN, cell_ring_read(&self->c, &v));
	cell_ring_kick(&self->p);
	ASSERT_EQ(5 * 112, prod_page(self->m)->position); /* the whole batch at once */
	ASSERT_EQ(wake0 + 1, *wake);
	cell_ring_kick(&self->p); /* nothing new: no second wake */
	ASSERT_EQ(wake0 + 1, *wake);
	/* A plain commit wakes by itself and leaves nothing to kick. */
	ASSERT_EQ(0, put(&self->p, 100, 5));
	ASSERT_EQ(wake0 + 2, *wake);
	cell_ring_kick(&self->p);
	ASSERT_EQ(wake0 + 2, *wake);
	for (int i = 0; i < 6; i++) {
		ASSERT_EQ(0, get(&self->c, 100, i, &v));
		cell_ring_release(&self->c, v.end);
	}
	/* The producer's flush kicks too (detach flushes). */
	ASSERT_EQ(0, put_more(&self->p, 100, 6));
	cell_ring_flush(&self->p);
	ASSERT_EQ(wake0 + 3, *wake);
	cons_page(self->m)->waiting = 0;
}

TEST_F(ring, a_producer_waiting_for_room_first_wakes_the_consumer_of_its_batch)
{
	uint32_t *wake = &prod_page(self->m)->wake, wake0 = *wake;
	struct cell_ring_view v;
	int n = 0;

	cons_page(self->m)->waiting = 1; /* asleep, never woken by the batch so far */
	while (put_more(&self->p, 500, n) == 0)
		n++;
	ASSERT_LT(2, n);
	ASSERT_EQ(wake0, *wake);
	/* Full: waiting for room without waking it would wait for nobody. */
	self->p.spin_ns = CELL_RING_SPIN_NONE;
	errno = 0;
	ASSERT_EQ(NULL, cell_ring_reserve_wait(&self->p, 500, cell_deadline_in_ms(5), NO_ALIVE));
	ASSERT_EQ(ETIMEDOUT, errno);
	ASSERT_EQ(wake0 + 1, *wake);
	/* The same for a producer about to sleep in epoll. */
	for (int i = 0; i < n; i++) {
		ASSERT_EQ(0, get(&self->c, 500, i, &v));
		cell_ring_release(&self->c, v.end);
	}
	cell_ring_flush(&self->c);
	for (int i = 0; put_more(&self->p, 500, n + i) == 0; i++)
		;
	ASSERT_EQ(wake0 + 1, *wake);
	ASSERT_TRUE(cell_ring_prepare_sleep_room(&self->p, 500));
	ASSERT_EQ(wake0 + 2, *wake);
	cell_ring_end_sleep(&self->p);
	cons_page(self->m)->waiting = 0;
}

TEST_F(ring, abort)
{
	struct cell_ring_view v;
	uint8_t *d, *d2;

	d = cell_ring_reserve(&self->p, 50);
	ASSERT_NE(NULL, d);
	memset(d, 0xab, 50);
	cell_ring_abort(&self->p);
	ASSERT_EQ(0, prod_page(self->m)->position);
	ASSERT_EQ(-EAGAIN, cell_ring_read(&self->c, &v));
	ASSERT_EQ(-EINVAL, cell_ring_commit(&self->p, 0));
	d2 = cell_ring_reserve(&self->p, 60);
	ASSERT_EQ(d, d2);
	msg_fill(d2, 60, 9);
	ASSERT_EQ(0, cell_ring_commit(&self->p, 60));
	ASSERT_EQ(0, get(&self->c, 60, 9, &v));
	cell_ring_release(&self->c, v.end);

	/* An aborted reservation that had wrapped leaves no WRAP behind. */
	while (self->p.tail % SIZE < SIZE - 64) {
		ASSERT_EQ(0, put(&self->p, 16, 1));
		ASSERT_EQ(0, get(&self->c, 16, 1, &v));
		cell_ring_release(&self->c, v.end);
	}
	ASSERT_NE(NULL, cell_ring_reserve(&self->p, 500)); /* wraps */
	ASSERT_EQ(CELL_RECORD_WRAP, rec_at(self->m, self->p.tail)->len);
	cell_ring_abort(&self->p);
	ASSERT_EQ(0, put(&self->p, 16, 2)); /* fits before the end */
	ASSERT_EQ(0, get(&self->c, 16, 2, &v));
	ASSERT_EQ(-EAGAIN, cell_ring_read(&self->c, &v));
}

TEST_F(ring, exact_fit_and_wrap)
{
	struct cell_ring_view v;
	uint64_t pos, total;

	/* Bring the tail to 64 bytes before the end. */
	while (self->p.tail < SIZE - 64) {
		ASSERT_EQ(0, put(&self->p, 24, 0));
		ASSERT_EQ(0, get(&self->c, 24, 0, &v));
		cell_ring_release(&self->c, v.end);
	}
	ASSERT_EQ(SIZE - 64, self->p.tail);
	/* 56 bytes + header end exactly at the end: no WRAP. */
	ASSERT_EQ(0, put(&self->p, 56, 1));
	ASSERT_EQ(SIZE, prod_page(self->m)->position);
	ASSERT_EQ(0, get(&self->c, 56, 1, &v));
	ASSERT_EQ(SIZE, v.end);
	ASSERT_TRUE(view_in_bounds(&self->c, &v));
	cell_ring_release(&self->c, v.end);
	/* Next record starts at offset 0 of the next lap, seq = its position. */
	ASSERT_EQ(0, put(&self->p, 24, 2));
	ASSERT_EQ(SIZE, rec_at(self->m, 0)->seq);
	ASSERT_EQ(0, get(&self->c, 24, 2, &v));
	cell_ring_release(&self->c, v.end);
	/* Bring the tail to 32 before the end, then a 40-byte record wraps. */
	while (self->p.tail % SIZE < SIZE - 32) {
		ASSERT_EQ(0, put(&self->p, 24, 3));
		ASSERT_EQ(0, get(&self->c, 24, 3, &v));
		cell_ring_release(&self->c, v.end);
	}
	pos = self->p.tail;
	ASSERT_EQ(SIZE - 32, pos % SIZE);
	ASSERT_EQ(0, put(&self->p, 40, 4));
	total = 8 + 40;
	ASSERT_EQ(CELL_RECORD_WRAP, rec_at(self->m, pos)->len);
	ASSERT_EQ((uint32_t)pos, rec_at(self->m, pos)->seq);
	ASSERT_EQ(pos + 32 + total, prod_page(self->m)->position);
	ASSERT_EQ((uint32_t)(pos + 32), rec_at(self->m, pos + 32)->seq);
	ASSERT_EQ(0, get(&self->c, 40, 4, &v));
	ASSERT_EQ(self->c.data + 8, (const uint8_t *)v.data);
	ASSERT_EQ(pos + 32 + total, v.end);
	ASSERT_EQ(-EAGAIN, cell_ring_read(&self->c, &v));
}

/* Random sizes (small, large, max), random batches: every record whole, in order. */
TEST_F(ring, wrap_around_many_sizes)
{
	struct rng rng = { 42 };
	uint64_t next_put = 0, next_get = 0, wraps = 0;
	uint32_t lens[256];
	const uint8_t *last = NULL;
	struct cell_ring_view v;

	for (int round = 0; round < 60000; round++) {
		int n = 1 + (int)(rng_next(&rng) % 8);

		for (int i = 0; i < n && next_put - next_get < 256; i++) {
			uint64_t x = rng_next(&rng);
			uint32_t len;

			switch (x % 5) {
			case 0:
				len = 16 + (uint32_t)(x >> 8) % 48;
				break;
			case 1:
				len = 16 + (uint32_t)(x >> 8) % (MAX_REC - 15);
				break;
			case 2:
				len = MAX_REC - (uint32_t)(x >> 8) % 16;
				break;
			default:
				len = 16 + (uint32_t)(x >> 8) % 400;
				break;
			}
			int rc = put(&self->p, len, next_put);

			if (rc == EAGAIN)
				break;
			ASSERT_EQ(0, rc);
			lens[next_put % 256] = len;
			next_put++;
		}
		n = (int)(rng_next(&rng) % 8);
		for (int i = 0; i < n && next_get < next_put; i++) {
			ASSERT_EQ(0, get(&self->c, lens[next_get % 256], next_get, &v));
			ASSERT_TRUE(view_in_bounds(&self->c, &v));
			if (last && (const uint8_t *)v.data < last)
				wraps++;
			last = v.data;
			next_get++;
			/* Release sometimes every record, sometimes in batches. */
			if (rng_next(&rng) % 3)
				cell_ring_release(&self->c, v.end);
		}
		if (next_get == next_put && next_get)
			cell_ring_release(&self->c, self->c.read_pos);
	}
	while (next_get < next_put) {
		ASSERT_EQ(0, get(&self->c, lens[next_get % 256], next_get, &v));
		next_get++;
	}
	ASSERT_EQ(-EAGAIN, cell_ring_read(&self->c, &v));
	TH_LOG("%llu records, %llu laps", (unsigned long long)next_put, (unsigned long long)wraps);
	ASSERT_LT(10000, wraps);
}

TEST_F(ring, full_ring_never_overwrites)
{
	struct cell_ring_view v[64];
	uint64_t n = 0;
	int rc;

	while ((rc = put(&self->p, 100, n)) == 0)
		n++;
	ASSERT_EQ(EAGAIN, rc);
	/* 112 bytes each: 36 fit in 4096 (4032), the 37th does not. */
	ASSERT_EQ(SIZE / 112, n);
	ASSERT_LE(prod_page(self->m)->position, SIZE);
	for (uint64_t i = 0; i < n; i++)
		ASSERT_EQ(0, get(&self->c, 100, i, &v[i]));
	/* Read but not released: the producer still may not touch them. */
	for (uint32_t len = 0; len <= MAX_REC; len += 8) {
		void *d = cell_ring_reserve(&self->p, len);

		if (d) {
			/* Only the space that was never used may be granted. */
			ASSERT_LE(8 + len, SIZE - 112 * n);
			memset(d, 0xee, len);
			cell_ring_abort(&self->p);
		} else {
			ASSERT_EQ(EAGAIN, errno);
		}
	}
	for (uint64_t i = 0; i < n; i++)
		ASSERT_TRUE(msg_check(v[i].data, v[i].len, i));
	/* Releasing one record frees exactly its bytes. */
	cell_ring_release(&self->c, v[0].end);
	ASSERT_EQ(0, put(&self->p, 100, n));
	ASSERT_EQ(EAGAIN, put(&self->p, 100, n + 1));
	for (uint64_t i = 1; i < n; i++)
		ASSERT_TRUE(msg_check(v[i].data, v[i].len, i));
	/* Release all: a maximal record fits again. */
	cell_ring_release(&self->c, v[n - 1].end);
	ASSERT_EQ(0, get(&self->c, 100, n, &v[0]));
	cell_ring_release(&self->c, v[0].end);
	ASSERT_EQ(0, put(&self->p, MAX_REC, 7));
	ASSERT_EQ(0, get(&self->c, MAX_REC, 7, &v[0]));
}

TEST_F(ring, record_size_limits)
{
	struct cell_ring_view v;

	ASSERT_EQ(2040, MAX_REC);
	errno = 0;
	ASSERT_EQ(NULL, cell_ring_reserve(&self->p, MAX_REC + 1));
	ASSERT_EQ(EMSGSIZE, errno);
	errno = 0;
	ASSERT_EQ(NULL, cell_ring_reserve(&self->p, UINT32_MAX));
	ASSERT_EQ(EMSGSIZE, errno);
	errno = 0;
	ASSERT_EQ(NULL, cell_ring_reserve(&self->p, CELL_RECORD_WRAP - 1));
	ASSERT_EQ(EMSGSIZE, errno);
	/* A maximal record fits into an empty ring whatever the tail's offset. */
	for (uint32_t filler = 0; filler < SIZE; filler += 8) {
		ASSERT_EQ(0, put(&self->p, 16 + filler % 512, filler));
		ASSERT_EQ(0, get(&self->c, 16 + filler % 512, filler, &v));
		cell_ring_release(&self->c, v.end);
		ASSERT_EQ(0, put(&self->p, MAX_REC, filler + 1));
		ASSERT_EQ(0, get(&self->c, MAX_REC, filler + 1, &v));
		ASSERT_TRUE(view_in_bounds(&self->c, &v));
		cell_ring_release(&self->c, v.end);
	}
}

TEST(record_max_of_a_large_ring)
{
	const uint64_t size = 1 << 16;
	struct cell_ring p, c;
	struct cell_ring_view v;
	int fd = cell_ring_create_memfd(size);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, cell_ring_attach(&p, fd, CELL_ROLE_PRODUCER, size));
	ASSERT_EQ(0, cell_ring_attach_mem(&c, p.map, p.map_len, CELL_ROLE_CONSUMER, size));
	ASSERT_EQ(32760, CELL_RING_RECORD_MAX(size));
	for (int i = 0; i < 100; i++) {
		ASSERT_EQ(0, put(&p, 32760 - (i % 3) * 8, i));
		ASSERT_EQ(0, get(&c, 32760 - (i % 3) * 8, i, &v));
		cell_ring_release(&c, v.end);
	}
	errno = 0;
	ASSERT_EQ(NULL, cell_ring_reserve(&p, 32761));
	ASSERT_EQ(EMSGSIZE, errno);
	cell_ring_detach(&c);
	cell_ring_detach(&p);
}

/* ---- a hostile consumer: impossible heads ------------------------------ */

TEST_F(ring, producer_rejects_impossible_heads)
{
	static const struct {
		const char *what;
		bool from_cache; /* relative to the head seen last, else to the tail */
		int64_t delta;
	} cases[] = {
		{ "ahead of the tail", false, 8 },
		{ "more than a ring behind", false, -(int64_t)SIZE - 8 },
		{ "misaligned", false, -4 },
		{ "went back", true, -8 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cell_ring p, c;
		struct cell_ring_view v;
		uint64_t n = 0;

		TH_LOG("head %s", cases[i].what);
		ASSERT_EQ(0, cell_ring_attach_mem(&p, self->m, MAP_LEN, CELL_ROLE_PRODUCER, 0));
		ASSERT_EQ(0, cell_ring_attach_mem(&c, self->m, MAP_LEN, CELL_ROLE_CONSUMER, 0));
		/*
		 * One lap in and out (the producer's cached head stays behind),
		 * then fill: the producer reads head 4096 and stops at tail 8128
		 * (4032 bytes used, 64 free: each case fails one check only).
		 */
		for (int k = 0; k < 32; k++) {
			ASSERT_EQ(0, put(&p, 120, n));
			ASSERT_EQ(0, get(&c, 120, n++, &v));
			cell_ring_release(&c, v.end);
		}
		while (put(&p, 100, n) == 0)
			n++;
		ASSERT_EQ(SIZE, p.head_cache);
		ASSERT_EQ(SIZE + 36 * 112, p.tail);
		cons_page(self->m)->position =
			(cases[i].from_cache ? p.head_cache : p.tail) + (uint64_t)cases[i].delta;
		errno = 0;
		ASSERT_EQ(NULL, cell_ring_reserve(&p, 100));
		ASSERT_EQ(EBADMSG, errno);
		ASSERT_TRUE(p.broken);
		/* Broken for good, even once the head looks sane again. */
		cons_page(self->m)->position = p.tail;
		errno = 0;
		ASSERT_EQ(NULL, cell_ring_reserve(&p, 8));
		ASSERT_EQ(EBADMSG, errno);
		errno = 0;
		ASSERT_EQ(NULL, cell_ring_reserve_wait(&p, 8, CELL_DEADLINE_NONE, NO_ALIVE));
		ASSERT_EQ(EBADMSG, errno);
		cell_ring_detach(&p);
		cell_ring_detach(&c);
		/* Reset the image for the next case. */
		memset(self->m + CELL_RING_OFF_PRODUCER, 0, CELL_RING_PAGE * 2 + SIZE);
	}
}

/* ---- a hostile producer: forged records and positions ------------------ */

struct forged_case {
	const char *what;
	/* Build the image before the consumer attaches (positions, records). */
	void (*build)(uint8_t *m);
	/* Records read fine before the forgery shows. */
	int good_reads;
	/* Scribble after attaching and after the good reads (may be NULL). */
	void (*scribble)(uint8_t *m);
};

static void set_positions(uint8_t *m, uint64_t tail, uint64_t head)
{
	prod_page(m)->position = tail;
	cons_page(m)->position = head;
}

static void set_rec(uint8_t *m, uint64_t pos, uint32_t len, uint32_t seq)
{
	rec_at(m, pos)->len = len;
	rec_at(m, pos)->seq = seq;
}

/* Two good records of 16 bytes at 0 and 24, tail 48. */
static void two_good(uint8_t *m)
{
	set_rec(m, 0, 16, 0);
	set_rec(m, 24, 16, 24);
	set_positions(m, 48, 0);
}

static void tail_beyond_ring(uint8_t *m)
{
	prod_page(m)->position = 48 + SIZE;
}

static void tail_behind_read(uint8_t *m)
{
	prod_page(m)->position = 16;
}

/* Three good records of 16 bytes at 0, 24 and 48, tail 72. */
static void three_good(uint8_t *m)
{
	two_good(m);
	set_rec(m, 48, 16, 48);
	set_positions(m, 72, 0);
}

static void tail_went_back(uint8_t *m)
{
	/* A record boundary ahead of the read position (24), but behind 72 seen before. */
	prod_page(m)->position = 48;
}

static void tail_misaligned(uint8_t *m)
{
	prod_page(m)->position = 52;
}

static void stale_seq(uint8_t *m)
{
	/* A record of the previous lap at this place. */
	set_rec(m, 0, 16, (uint32_t)(0 - SIZE));
	set_positions(m, 24, 0);
}

static void future_seq(uint8_t *m)
{
	set_rec(m, 0, 16, SIZE);
	set_positions(m, 24, 0);
}

static void torn_len_beyond_tail(uint8_t *m)
{
	set_rec(m, 0, 100, 0);
	set_positions(m, 16, 0);
}

static void len_above_max(uint8_t *m)
{
	set_rec(m, 0, MAX_REC + 8, 0);
	set_positions(m, SIZE, 0);
}

static void crosses_end(uint8_t *m)
{
	uint64_t at = SIZE - 16;

	set_rec(m, at, 100, (uint32_t)at);
	set_positions(m, at + 112, at);
}

static void wrap_at_zero(uint8_t *m)
{
	set_rec(m, 0, CELL_RECORD_WRAP, 0);
	set_positions(m, 16, 0);
}

static void wrap_alone(uint8_t *m)
{
	uint64_t at = 2 * SIZE - 16;

	set_rec(m, at, CELL_RECORD_WRAP, (uint32_t)at);
	set_positions(m, 2 * SIZE, at);
}

static void wrap_then_wrap(uint8_t *m)
{
	uint64_t at = 2 * SIZE - 16;

	set_rec(m, at, CELL_RECORD_WRAP, (uint32_t)at);
	set_rec(m, 2 * SIZE, CELL_RECORD_WRAP, (uint32_t)(2 * SIZE));
	set_positions(m, 2 * SIZE + 16, at);
}

static void wrap_past_tail(uint8_t *m)
{
	uint64_t at = 2 * SIZE - 16;

	/* The WRAP skips past the tail; a well-formed record waits beyond it. */
	set_rec(m, at, CELL_RECORD_WRAP, (uint32_t)at);
	set_rec(m, 2 * SIZE, 8, (uint32_t)(2 * SIZE));
	set_positions(m, at + 8, at);
}

static void wrap_bad_seq(uint8_t *m)
{
	uint64_t at = 2 * SIZE - 16;

	set_rec(m, at, CELL_RECORD_WRAP, (uint32_t)at + 8);
	set_rec(m, 2 * SIZE, 8, (uint32_t)(2 * SIZE));
	set_positions(m, 2 * SIZE + 16, at);
}

static void stale_after_wrap(uint8_t *m)
{
	uint64_t at = 2 * SIZE - 16;

	set_rec(m, at, CELL_RECORD_WRAP, (uint32_t)at);
	set_rec(m, 2 * SIZE, 8, (uint32_t)SIZE); /* last lap's record */
	set_positions(m, 2 * SIZE + 16, at);
}

/* Controls: the same shapes, done right, read fine. */
static void good_wrap(uint8_t *m)
{
	uint64_t at = 2 * SIZE - 16;

	set_rec(m, at, CELL_RECORD_WRAP, (uint32_t)at);
	set_rec(m, 2 * SIZE, 8, (uint32_t)(2 * SIZE));
	set_positions(m, 2 * SIZE + 16, at);
}

static void good_at_end(uint8_t *m)
{
	uint64_t at = SIZE - 16;

	set_rec(m, at, 8, (uint32_t)at);
	set_positions(m, at + 16, at);
}

static void overwrite_second(uint8_t *m)
{
	/* After the first read, the producer rewrites a published record. */
	set_rec(m, 24, 16, 25);
}

static const struct forged_case forged[] = {
	{ "tail beyond one ring", two_good, 1, tail_beyond_ring },
	{ "tail behind the read position", two_good, 1, tail_behind_read },
	{ "tail went back", three_good, 1, tail_went_back },
	{ "tail misaligned", two_good, 1, tail_misaligned },
	{ "stale seq (previous lap)", stale_seq, 0, NULL },
	{ "future seq", future_seq, 0, NULL },
	{ "torn: length past the tail", torn_len_beyond_tail, 0, NULL },
	{ "length above the maximum", len_above_max, 0, NULL },
	{ "record crosses the end", crosses_end, 0, NULL },
	{ "WRAP at offset 0", wrap_at_zero, 0, NULL },
	{ "WRAP without a record", wrap_alone, 0, NULL },
	{ "WRAP then WRAP", wrap_then_wrap, 0, NULL },
	{ "WRAP past the tail", wrap_past_tail, 0, NULL },
	{ "WRAP with a wrong seq", wrap_bad_seq, 0, NULL },
	{ "stale record after a WRAP", stale_after_wrap, 0, NULL },
	{ "published record rewritten", two_good, 1, overwrite_second },
};

TEST(consumer_rejects_forged_images)
{
	for (size_t i = 0; i < sizeof(forged) / sizeof(forged[0]); i++) {
		struct cell_ring c;
		struct cell_ring_view v;
		int fd = cell_ring_create_memfd(SIZE);
		uint8_t *m;

		TH_LOG("case: %s", forged[i].what);
		ASSERT_LE(0, fd);
		m = map_fd(fd);
		ASSERT_NE(NULL, m);
		forged[i].build(m);
		ASSERT_EQ(0, cell_ring_attach(&c, fd, CELL_ROLE_CONSUMER, SIZE));
		for (int k = 0; k < forged[i].good_reads; k++)
			ASSERT_EQ(0, cell_ring_read(&c, &v));
		if (forged[i].scribble)
			forged[i].scribble(m);
		ASSERT_EQ(-EBADMSG, cell_ring_read(&c, &v));
		ASSERT_TRUE(c.broken);
		/* For good: even a sane image now, and waits fail at once too. */
		set_positions(m, c.read_pos, c.read_pos);
		ASSERT_EQ(-EBADMSG, cell_ring_read(&c, &v));
		ASSERT_EQ(-EBADMSG, cell_ring_read_wait(&c, &v, CELL_DEADLINE_NONE, NO_ALIVE));
		ASSERT_TRUE(cell_ring_pending(&c));
		ASSERT_FALSE(cell_ring_prepare_sleep(&c));
		cell_ring_detach(&c);
		munmap(m, MAP_LEN);
	}
}

TEST(consumer_reads_hand_made_wraps)
{
	void (*build[])(uint8_t * m) = { good_wrap, good_at_end, two_good };
	uint32_t want[] = { 8, 8, 16 };

	for (size_t i = 0; i < 3; i++) {
		struct cell_ring c;
		struct cell_ring_view v;
		int fd = cell_ring_create_memfd(SIZE);
		uint8_t *m = map_fd(fd);

		ASSERT_NE(NULL, m);
		build[i](m);
		ASSERT_EQ(0, cell_ring_attach(&c, fd, CELL_ROLE_CONSUMER, SIZE));
		ASSERT_EQ(0, cell_ring_read(&c, &v));
		ASSERT_EQ(want[i], v.len);
		ASSERT_TRUE(view_in_bounds(&c, &v));
		ASSERT_EQ(i == 2 ? 48 : v.end, prod_page(m)->position);
		cell_ring_release(&c, v.end);
		ASSERT_EQ(v.end, cons_page(m)->position);
		cell_ring_detach(&c);
		munmap(m, MAP_LEN);
	}
}

/* ---- create and attach ------------------------------------------------- */

TEST(create_memfd)
{
	static const uint64_t bad[] = { 0, 8, 2048, 4095, 4097, 3 * 4096, 1ULL << 31, UINT64_MAX };
	struct stat st;
	int fd;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ASSERT_EQ(-EINVAL, cell_ring_create_memfd(bad[i]));
	fd = cell_ring_create_memfd(1 << 14);
	ASSERT_LE(0, fd);
	ASSERT_EQ(F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL, fcntl(fd, F_GET_SEALS));
	ASSERT_EQ(FD_CLOEXEC, fcntl(fd, F_GETFD));
	ASSERT_EQ(0, fstat(fd, &st));
	ASSERT_EQ(CELL_RING_OFF_DATA + (1 << 14), st.st_size);
	ASSERT_EQ(-1, ftruncate(fd, 4096));
	ASSERT_EQ(EPERM, errno);
	{
		struct cell_ring_geometry g;

		ASSERT_EQ(sizeof(g), pread(fd, &g, sizeof(g), 0));
		ASSERT_EQ(CELL_RING_MAGIC, g.magic);
		ASSERT_EQ(CELL_ABI_VERSION, g.abi_version);
		ASSERT_EQ(sizeof(g), g.geometry_size);
		ASSERT_EQ(CELL_RING_PAGE, g.page_size);
		ASSERT_EQ(1 << 14, g.data_size);
		ASSERT_EQ(CELL_RING_OFF_PRODUCER, g.producer_offset);
		ASSERT_EQ(CELL_RING_OFF_CONSUMER, g.consumer_offset);
		ASSERT_EQ(CELL_RING_OFF_DATA, g.data_offset);
	}
	close(fd);
}

static bool fd_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

/* Attach @fd as consumer: must fail with @want and leave @fd open. */
static int attach_fails(int fd, uint64_t expect, int want)
{
	struct cell_ring r;
	int rc = cell_ring_attach(&r, fd, CELL_ROLE_CONSUMER, expect);

	if (rc == 0)
		cell_ring_detach(&r);
	if (rc != want || !fd_open(fd))
		return rc ? rc : 1;
	return 0;
}

static void pwrite_at(int fd, const void *p, size_t n, off_t at)
{
	if (pwrite(fd, p, n, at) != (ssize_t)n)
		abort();
}

TEST(attach_rejects_bad_geometry)
{
	static const struct {
		const char *what;
		size_t off, width;
		uint64_t value;
	} cases[] = {
#define G(field) \
	offsetof(struct cell_ring_geometry, field), sizeof(((struct cell_ring_geometry *)0)->field)
		{ "magic", G(magic), 0x474e5244 },
		{ "abi_version", G(abi_version), CELL_ABI_VERSION + 1 },
		{ "geometry_size", G(geometry_size), sizeof(struct cell_ring_geometry) + 8 },
		{ "unknown flag", G(flags), 2 },
		{ "page_size", G(page_size), 8192 },
		{ "data_size not a power of two", G(data_size), SIZE + 8 },
		{ "data_size below minimum", G(data_size), 2048 },
		{ "data_size above maximum", G(data_size), 1ULL << 31 },
		{ "data_size larger than the file", G(data_size), SIZE * 2 },
		{ "data_size zero", G(data_size), 0 },
		{ "producer_offset", G(producer_offset), CELL_RING_OFF_CONSUMER },
		{ "consumer_offset", G(consumer_offset), CELL_RING_OFF_PRODUCER },
		{ "data_offset", G(data_offset), CELL_RING_OFF_DATA + CELL_RING_PAGE },
		{ "reserved", G(reserved[3]), 1 },
#undef G
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int fd = cell_ring_create_memfd(SIZE);
		uint64_t v = cases[i].value;

		TH_LOG("geometry: %s", cases[i].what);
		ASSERT_LE(0, fd);
		pwrite_at(fd, &v, cases[i].width, (off_t)cases[i].off); /* little endian */
		ASSERT_EQ(0, attach_fails(fd, 0, -EBADMSG));
		close(fd);
	}
	/* The module flag and a ring id are fine. */
	{
		int fd = cell_ring_create_memfd(SIZE);
		uint32_t flags = CELL_RING_GEOM_MODULE;
		uint64_t id = 77;
		struct cell_ring r;

		pwrite_at(fd, &flags, 4, offsetof(struct cell_ring_geometry, flags));
		pwrite_at(fd, &id, 8, offsetof(struct cell_ring_geometry, ring_id));
		ASSERT_EQ(0, cell_ring_attach(&r, fd, CELL_ROLE_CONSUMER, SIZE));
		cell_ring_detach(&r);
		ASSERT_FALSE(fd_open(fd)); /* owned on success */
	}
}

TEST(attach_checks_size_role_and_positions)
{
	int fd = cell_ring_create_memfd(SIZE);
	struct cell_ring r;
	uint8_t *m;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, attach_fails(fd, SIZE * 2, -EBADMSG));
	ASSERT_EQ(-EINVAL, cell_ring_attach(&r, fd, 0, 0));
	ASSERT_EQ(-EINVAL, cell_ring_attach(&r, fd, 3, 0));
	ASSERT_TRUE(fd_open(fd));
	m = map_fd(fd);
	ASSERT_NE(NULL, m);
	set_positions(m, 8, 16); /* head ahead of tail */
	ASSERT_EQ(0, attach_fails(fd, 0, -EBADMSG));
	set_positions(m, 2 * SIZE + 8, SIZE); /* more than a ring apart */
	ASSERT_EQ(0, attach_fails(fd, 0, -EBADMSG));
	set_positions(m, 20, 0); /* misaligned */
	ASSERT_EQ(0, attach_fails(fd, 0, -EBADMSG));
	set_positions(m, 2 * SIZE, SIZE); /* full, mid-life: fine */
	ASSERT_EQ(0, cell_ring_attach(&r, dup(fd), CELL_ROLE_PRODUCER, SIZE));
	ASSERT_EQ(2 * SIZE, r.tail);
	ASSERT_EQ(SIZE, r.head_cache);
	errno = 0;
	ASSERT_EQ(NULL, cell_ring_reserve(&r, 0));
	ASSERT_EQ(EAGAIN, errno);
	cell_ring_detach(&r);
	/* attach_mem: too short a mapping. */
	ASSERT_EQ(-EBADMSG, cell_ring_attach_mem(&r, m, CELL_RING_OFF_DATA + SIZE / 2,
						 CELL_ROLE_CONSUMER, 0));
	ASSERT_EQ(-EBADMSG, cell_ring_attach_mem(&r, m, CELL_RING_PAGE, CELL_ROLE_CONSUMER, 0));
	munmap(m, MAP_LEN);
	close(fd);
}

/* A memfd with a valid geometry and @seals, @file_size bytes long. */
static int raw_memfd(off_t file_size, uint64_t data_size, int seals)
{
	struct cell_ring_geometry g = {
		.magic = CELL_RING_MAGIC,
		.abi_version = CELL_ABI_VERSION,
		.geometry_size = sizeof(g),
		.page_size = CELL_RING_PAGE,
		.data_size = data_size,
		.producer_offset = CELL_RING_OFF_PRODUCER,
		.consumer_offset = CELL_RING_OFF_CONSUMER,
		.data_offset = CELL_RING_OFF_DATA,
	};
	int fd = memfd_create("test-ring", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0 || ftruncate(fd, file_size) < 0)
		abort();
	if (file_size >= (off_t)sizeof(g))
		pwrite_at(fd, &g, sizeof(g), 0);
	if (seals && fcntl(fd, F_ADD_SEALS, seals) < 0)
		abort();
	return fd;
}

TEST(attach_checks_the_file)
{
	const int both = F_SEAL_SHRINK | F_SEAL_GROW;
	struct cell_ring r;
	char path[] = "/tmp/cell-ring-test-XXXXXX";
	int fd;

	/* Control: SHRINK|GROW is enough. */
	fd = raw_memfd(MAP_LEN, SIZE, both);
	ASSERT_EQ(0, cell_ring_attach(&r, fd, CELL_ROLE_PRODUCER, SIZE));
	cell_ring_detach(&r);
	/* Unsealed, or sealed against one of the two only. */
	static const int weak[] = { 0, F_SEAL_SHRINK, F_SEAL_GROW, F_SEAL_WRITE | F_SEAL_GROW };

	for (size_t i = 0; i < sizeof(weak) / sizeof(weak[0]); i++) {
		fd = raw_memfd(MAP_LEN, SIZE, weak[i]);
		ASSERT_EQ(0, attach_fails(fd, 0, -EBADMSG));
		close(fd);
	}
	/* Shorter than the geometry says, or than the pages. */
	fd = raw_memfd(MAP_LEN, SIZE * 2, both);
	ASSERT_EQ(0, attach_fails(fd, 0, -EBADMSG));
	close(fd);
	fd = raw_memfd(CELL_RING_OFF_DATA, SIZE, both);
	ASSERT_EQ(0, attach_fails(fd, 0, -EBADMSG));
	close(fd);
	fd = raw_memfd(100, SIZE, both);
	ASSERT_EQ(0, attach_fails(fd, 0, -EBADMSG));
	close(fd);
	fd = raw_memfd(0, SIZE, both);
	ASSERT_EQ(0, attach_fails(fd, 0, -EBADMSG));
	close(fd);
	/* Longer than needed is fine. */
	fd = raw_memfd(MAP_LEN + 3 * CELL_RING_PAGE, SIZE, both);
	ASSERT_EQ(0, cell_ring_attach(&r, fd, CELL_ROLE_CONSUMER, SIZE));
	cell_ring_detach(&r);
	/* A regular file: no seals to speak of. */
	fd = mkstemp(path);
	ASSERT_LE(0, fd);
	unlink(path);
	ASSERT_EQ(0, ftruncate(fd, MAP_LEN));
	ASSERT_EQ(0, attach_fails(fd, 0, -EBADMSG));
	close(fd);
	/* A pipe. */
	{
		int pfd[2];

		ASSERT_EQ(0, pipe(pfd));
		ASSERT_EQ(0, attach_fails(pfd[0], 0, -EBADMSG));
		close(pfd[0]);
		close(pfd[1]);
	}
	/* Character devices pass the seal check, then need a ring geometry. */
	fd = open("/dev/zero", O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, attach_fails(fd, 0, -EBADMSG));
	close(fd);
	fd = open("/dev/null", O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, attach_fails(fd, 0, -ENODEV));
	close(fd);
	ASSERT_EQ(-EBADF, cell_ring_attach(&r, 999, CELL_ROLE_CONSUMER, 0));
}

TEST(detach_is_safe_and_closes)
{
	struct cell_ring r;
	int fd = cell_ring_create_memfd(SIZE), keep0 = fcntl(0, F_GETFD);

	memset(&r, 0, sizeof(r));
	cell_ring_detach(&r); /* zeroed: must not close fd 0 */
	ASSERT_EQ(keep0, fcntl(0, F_GETFD));
	ASSERT_EQ(0, cell_ring_attach(&r, fd, CELL_ROLE_CONSUMER, 0));
	cell_ring_detach(&r);
	ASSERT_FALSE(fd_open(fd));
	ASSERT_EQ(-1, r.fd);
	ASSERT_EQ(NULL, r.map);
	cell_ring_detach(&r);
	/* attach_mem leaves the mapping to its owner. */
	fd = cell_ring_create_memfd(SIZE);
	{
		uint8_t *m = map_fd(fd);

		ASSERT_EQ(0, cell_ring_attach_mem(&r, m, MAP_LEN, CELL_ROLE_PRODUCER, 0));
		cell_ring_detach(&r);
		ASSERT_TRUE(fd_open(fd));
		ASSERT_EQ(CELL_RING_MAGIC, ((struct cell_ring_geometry *)m)->magic);
		munmap(m, MAP_LEN);
	}
	close(fd);
}

TEST_F(ring, attach_mid_life_continues)
{
	struct cell_ring_view v;

	for (int i = 0; i < 3; i++)
		ASSERT_EQ(0, put(&self->p, 32, i));
	ASSERT_EQ(0, get(&self->c, 32, 0, &v));
	cell_ring_release(&self->c, v.end);
	ASSERT_EQ(0, get(&self->c, 32, 1, &v)); /* read, not released */
	cell_ring_detach(&self->c);
	cell_ring_detach(&self->p);
	ASSERT_EQ(0, cell_ring_attach(&self->c, dup(self->fd), CELL_ROLE_CONSUMER, SIZE));
	ASSERT_EQ(0, cell_ring_attach(&self->p, dup(self->fd), CELL_ROLE_PRODUCER, SIZE));
	ASSERT_EQ(0, get(&self->c, 32, 1, &v));
	ASSERT_EQ(0, get(&self->c, 32, 2, &v));
	ASSERT_EQ(-EAGAIN, cell_ring_read(&self->c, &v));
	ASSERT_EQ(0, put(&self->p, 32, 3));
	ASSERT_EQ(0, get(&self->c, 32, 3, &v));
}

/* ---- waiting ----------------------------------------------------------- */

#define TOLERANCE_NS (150 * CELL_NSEC_PER_MSEC)

struct alive_log {
	int calls;
	int false_after; /* alive() turns false on this call (0: never) */
	uint64_t last, max_gap;
};

static bool alive_cb(void *ctx)
{
	struct alive_log *a = ctx;
	uint64_t now = cell_now_ns();

	if (a->calls && now - a->last > a->max_gap)
		a->max_gap = now - a->last;
	a->last = now;
	a->calls++;
	return !a->false_after || a->calls < a->false_after;
}

TEST_F(ring, read_wait_times_out)
{
	struct cell_ring_view v;
	struct alive_log a = { 0 };
	uint64_t t0 = cell_now_ns(), dt;

	ASSERT_EQ(-ETIMEDOUT,
		  cell_ring_read_wait(&self->c, &v, t0 + 120 * CELL_NSEC_PER_MSEC, alive_cb, &a));
	dt = cell_now_ns() - t0;
	TH_LOG("waited %llu us, alive() called %d times, max gap %llu us",
	       (unsigned long long)dt / 1000, a.calls, (unsigned long long)a.max_gap / 1000);
	ASSERT_LE(120 * CELL_NSEC_PER_MSEC, dt);
	ASSERT_GT(120 * CELL_NSEC_PER_MSEC + TOLERANCE_NS, dt);
	/*
	 * Slices of 20 ms: the wait was sliced (at least two checks), and no two
	 * checks were more than a slice (plus scheduling delay) apart.  The count
	 * itself is not asserted: one late wakeup under load merges slices (4
	 * checks in 121 ms, a 44 ms gap, in a loaded CI run).
	 */
	ASSERT_LE(2, a.calls);
	ASSERT_GT(CELL_RING_WAIT_SLICE_NS + TOLERANCE_NS, a.max_gap);
	ASSERT_EQ(0, cons_page(self->m)->waiting);
	/* A deadline already past: no wait at all. */
	t0 = cell_now_ns();
	ASSERT_EQ(-ETIMEDOUT, cell_ring_read_wait(&self->c, &v, t0 - 1, NO_ALIVE));
	ASSERT_GT(20 * CELL_NSEC_PER_MSEC, cell_now_ns() - t0);
	/* Data there: a past deadline still reads it. */
	ASSERT_EQ(0, put(&self->p, 16, 5));
	ASSERT_EQ(0, cell_ring_read_wait(&self->c, &v, 0, NO_ALIVE));
	ASSERT_EQ(16, v.len);
}

TEST_F(ring, reserve_wait_times_out)
{
	uint64_t t0, dt;
	int n = 0;

	while (put(&self->p, 500, n) == 0)
		n++;
	self->p.spin_ns = CELL_RING_SPIN_NONE;
	t0 = cell_now_ns();
	errno = 0;
	ASSERT_EQ(NULL,
		  cell_ring_reserve_wait(&self->p, 500, t0 + 60 * CELL_NSEC_PER_MSEC, NO_ALIVE));
	ASSERT_EQ(ETIMEDOUT, errno);
	dt = cell_now_ns() - t0;
	ASSERT_LE(60 * CELL_NSEC_PER_MSEC, dt);
	ASSERT_GT(60 * CELL_NSEC_PER_MSEC + TOLERANCE_NS, dt);
	ASSERT_EQ(0, prod_page(self->m)->waiting);
	ASSERT_EQ(CELL_RING_SPIN_NONE, self->p.spin_ns); /* never adapted */
	/* Too large never waits. */
	errno = 0;
	ASSERT_EQ(NULL,
		  cell_ring_reserve_wait(&self->p, MAX_REC + 1, CELL_DEADLINE_NONE, NO_ALIVE));
	ASSERT_EQ(EMSGSIZE, errno);
}

TEST_F(ring, dead_peer_ends_waits_with_epipe)
{
	struct cell_ring_view v;
	struct alive_log a = { .false_after = 1 };
	uint64_t t0 = cell_now_ns();
	int n = 0;

	ASSERT_EQ(-EPIPE, cell_ring_read_wait(&self->c, &v, CELL_DEADLINE_NONE, alive_cb, &a));
	ASSERT_EQ(1, a.calls);
	ASSERT_GT(20 * CELL_NSEC_PER_MSEC, cell_now_ns() - t0);
	ASSERT_EQ(0, cons_page(self->m)->waiting);
	/* Dies later: after three checks, i.e. two slices. */
	a = (struct alive_log){ .false_after = 3 };
	t0 = cell_now_ns();
	ASSERT_EQ(-EPIPE, cell_ring_read_wait(&self->c, &v, CELL_DEADLINE_NONE, alive_cb, &a));
	ASSERT_EQ(3, a.calls);
	ASSERT_LE(2 * CELL_RING_WAIT_SLICE_NS, cell_now_ns() - t0);
	/* Producer side. */
	while (put(&self->p, 500, n) == 0)
		n++;
	a = (struct alive_log){ .false_after = 2 };
	errno = 0;
	ASSERT_EQ(NULL, cell_ring_reserve_wait(&self->p, 500, CELL_DEADLINE_NONE, alive_cb, &a));
	ASSERT_EQ(EPIPE, errno);
	ASSERT_EQ(2, a.calls);
	ASSERT_EQ(0, prod_page(self->m)->waiting);
}

struct waiter {
	struct cell_ring *r;
	uint32_t len;
	uint64_t deadline;
	int rc;
	struct cell_ring_view v;
	void *p;
	int err;
	volatile int *stop;
};

static void *read_waiter(void *arg)
{
	struct waiter *w = arg;

	w->rc = cell_ring_read_wait(w->r, &w->v, w->deadline, NULL, NULL);
	return NULL;
}

static void *reserve_waiter(void *arg)
{
	struct waiter *w = arg;

	w->p = cell_ring_reserve_wait(w->r, w->len, w->deadline, NULL, NULL);
	w->err = w->p ? 0 : errno;
	return NULL;
}

/* Wait until the 32-bit flag at @flag is set (1 s at most). */
static bool flag_set_soon(uint32_t *flag)
{
	uint64_t end = cell_now_ns() + CELL_NSEC_PER_SEC;

	while (!__atomic_load_n(flag, __ATOMIC_ACQUIRE)) {
		if (cell_now_ns() > end)
			return false;
		usleep(200);
	}
	return true;
}

TEST_F(ring, commit_wakes_a_sleeping_reader)
{
	struct waiter w = { .r = &self->c, .deadline = cell_deadline_in_ms(5000) };
	uint32_t wake0 = prod_page(self->m)->wake;
	pthread_t t;

	self->c.spin_ns = CELL_RING_SPIN_NONE;
	ASSERT_EQ(0, pthread_create(&t, NULL, read_waiter, &w));
	ASSERT_TRUE(flag_set_soon(&cons_page(self->m)->waiting));
	ASSERT_EQ(0, put(&self->p, 64, 1));
	ASSERT_EQ(0, pthread_join(t, NULL));
	ASSERT_EQ(0, w.rc);
	ASSERT_TRUE(msg_check(w.v.data, w.v.len, 1));
	/* The commit saw the flag and bumped the word the reader slept on. */
	ASSERT_EQ(wake0 + 1, prod_page(self->m)->wake);
	ASSERT_EQ(0, cons_page(self->m)->waiting);
	/* No sleeper, no bump. */
	ASSERT_EQ(0, put(&self->p, 64, 2));
	ASSERT_EQ(wake0 + 1, prod_page(self->m)->wake);
}

TEST_F(ring, release_wakes_a_sleeping_producer)
{
	struct waiter w = { .r = &self->p, .len = 500, .deadline = cell_deadline_in_ms(5000) };
	uint32_t wake0 = cons_page(self->m)->wake;
	struct cell_ring_view v;
	pthread_t t;
	int n = 0;

	while (put(&self->p, 500, n) == 0)
		n++;
	self->p.spin_ns = CELL_RING_SPIN_NONE;
	ASSERT_EQ(0, pthread_create(&t, NULL, reserve_waiter, &w));
	ASSERT_TRUE(flag_set_soon(&prod_page(self->m)->waiting));
	ASSERT_EQ(0, get(&self->c, 500, 0, &v));
	cell_ring_release(&self->c, v.end);
	ASSERT_EQ(0, pthread_join(t, NULL));
	ASSERT_NE(NULL, w.p);
	ASSERT_EQ(wake0 + 1, cons_page(self->m)->wake);
	ASSERT_EQ(0, prod_page(self->m)->waiting);
	msg_fill(w.p, 500, n);
	ASSERT_EQ(0, cell_ring_commit(&self->p, 500));
	for (int i = 1; i <= n; i++) {
		ASSERT_EQ(0, get(&self->c, 500, i, &v));
		cell_ring_release(&self->c, v.end);
	}
}

static uint64_t efd_take(int efd)
{
	uint64_t n = 0;

	if (read(efd, &n, sizeof(n)) != sizeof(n))
		return 0;
	return n;
}

TEST_F(ring, wake_fd_for_a_consumer_in_epoll)
{
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	uint32_t wake0 = prod_page(self->m)->wake;
	struct cell_ring_view v;

	ASSERT_LE(0, efd);
	cell_ring_set_wake_fd(&self->p, efd);
	ASSERT_TRUE(cell_ring_prepare_sleep(&self->c));
	ASSERT_EQ(1, cons_page(self->m)->waiting);
	ASSERT_EQ(0, put(&self->p, 24, 1));
	ASSERT_EQ(1, efd_take(efd));
	ASSERT_EQ(wake0 + 1, prod_page(self->m)->wake);
	cell_ring_end_sleep(&self->c);
	ASSERT_EQ(0, cons_page(self->m)->waiting);
	/* Pending now: preparing to sleep says no and leaves the flag clear. */
	ASSERT_TRUE(cell_ring_pending(&self->c));
	ASSERT_FALSE(cell_ring_prepare_sleep(&self->c));
	ASSERT_EQ(0, cons_page(self->m)->waiting);
	ASSERT_EQ(0, get(&self->c, 24, 1, &v));
	ASSERT_FALSE(cell_ring_pending(&self->c));
	/* Nobody asleep: the producer writes nothing. */
	ASSERT_EQ(0, put(&self->p, 24, 2));
	ASSERT_EQ(0, efd_take(efd));
	ASSERT_EQ(EAGAIN, errno);
	close(efd);
}

TEST_F(ring, wake_fd_for_a_producer)
{
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	struct waiter w = { .r = &self->p, .len = 500, .deadline = cell_deadline_in_ms(5000) };
	struct cell_ring_view v;
	struct pollfd pfd = { .fd = efd, .events = POLLIN };
	pthread_t t;
	int n = 0;

	ASSERT_LE(0, efd);
	cell_ring_set_wake_fd(&self->c, efd);
	while (put(&self->p, 500, n) == 0)
		n++;
	self->p.spin_ns = CELL_RING_SPIN_NONE;
	ASSERT_EQ(0, pthread_create(&t, NULL, reserve_waiter, &w));
	ASSERT_TRUE(flag_set_soon(&prod_page(self->m)->waiting));
	ASSERT_EQ(0, get(&self->c, 500, 0, &v));
	cell_ring_release(&self->c, v.end);
	ASSERT_EQ(1, poll(&pfd, 1, 1000));
	ASSERT_EQ(1, efd_take(efd));
	/* Not futex-woken, the producer still finds the space at its next slice. */
	ASSERT_EQ(0, pthread_join(t, NULL));
	ASSERT_NE(NULL, w.p);
	close(efd);
}

static bool not_stopped(void *ctx)
{
	return !__atomic_load_n((int *)ctx, __ATOMIC_ACQUIRE);
}

struct stoppable {
	struct cell_ring *r;
	int stop;
	int rc;
	uint64_t woke_at;
};

static void *stoppable_reader(void *arg)
{
	struct stoppable *s = arg;
	struct cell_ring_view v;

	s->rc = cell_ring_read_wait(s->r, &v, CELL_DEADLINE_NONE, not_stopped, &s->stop);
	s->woke_at = cell_now_ns();
	return NULL;
}

TEST_F(ring, wake_all_lets_a_waiter_see_peer_death)
{
	struct stoppable s = { .r = &self->c };
	uint64_t t0;
	uint32_t pw = prod_page(self->m)->wake, cw = cons_page(self->m)->wake;
	pthread_t t;

	self->c.spin_ns = CELL_RING_SPIN_NONE;
	ASSERT_EQ(0, pthread_create(&t, NULL, stoppable_reader, &s));
	ASSERT_TRUE(flag_set_soon(&cons_page(self->m)->waiting));
	__atomic_store_n(&s.stop, 1, __ATOMIC_RELEASE);
	t0 = cell_now_ns();
	cell_ring_wake_all(&self->c);
	ASSERT_EQ(0, pthread_join(t, NULL));
	ASSERT_EQ(-EPIPE, s.rc);
	TH_LOG("the waiter left %llu us after wake_all",
	       (unsigned long long)(s.woke_at - t0) / 1000);
	ASSERT_EQ(pw + 1, prod_page(self->m)->wake);
	ASSERT_EQ(cw + 1, cons_page(self->m)->wake);
	ASSERT_EQ(0, cons_page(self->m)->waiting);
}

/* ---- another process ---------------------------------------------------- */

#define XPROC_MESSAGES 200000

static pid_t parent;

static bool parent_alive(void *ctx)
{
	(void)ctx;
	return getppid() == parent;
}

static bool child_alive(void *ctx)
{
	return kill(*(pid_t *)ctx, 0) == 0 && waitpid(*(pid_t *)ctx, NULL, WNOHANG) == 0;
}

static uint32_t xproc_len(uint64_t i)
{
	uint64_t x = mix64(i);

	return 16 + (uint32_t)(x % (x & 0x100 ? 1500 : 100));
}

/* Child: produce @count messages (or die after @die_after), exit status. */
static int xproc_produce(int fd, uint64_t count, uint64_t die_after)
{
	struct cell_ring p;

	if (cell_ring_attach(&p, fd, CELL_ROLE_PRODUCER, SIZE))
		return 10;
	for (uint64_t i = 0; i < count; i++) {
		uint32_t len = xproc_len(i);
		void *d;

		if (i == die_after)
			_exit(0);
		d = cell_ring_reserve_wait(&p, len, cell_deadline_in_ms(10000), parent_alive, NULL);
		if (!d)
			return 11;
		msg_fill(d, len, i);
		if (cell_ring_commit(&p, len))
			return 12;
	}
	cell_ring_detach(&p);
	return 0;
}

TEST(another_process_produces)
{
	int fd = cell_ring_create_memfd(SIZE), status;
	struct cell_ring c;
	struct cell_ring_view v;
	pid_t pid;

	ASSERT_LE(0, fd);
	parent = getpid();
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(xproc_produce(fd, XPROC_MESSAGES, UINT64_MAX));
	ASSERT_EQ(0, cell_ring_attach(&c, fd, CELL_ROLE_CONSUMER, SIZE));
	for (uint64_t i = 0; i < XPROC_MESSAGES; i++) {
		ASSERT_EQ(0, cell_ring_read_wait(&c, &v, cell_deadline_in_ms(10000), child_alive,
						 &pid));
		ASSERT_EQ(xproc_len(i), v.len);
		ASSERT_TRUE(msg_check(v.data, v.len, i));
		cell_ring_release(&c, v.end);
	}
	ASSERT_EQ(-EAGAIN, cell_ring_read(&c, &v));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
	cell_ring_detach(&c);
}

TEST(another_process_dies)
{
	int fd = cell_ring_create_memfd(SIZE);
	struct cell_ring c;
	struct cell_ring_view v;
	uint64_t i = 0;
	pid_t pid;
	int rc;

	ASSERT_LE(0, fd);
	parent = getpid();
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(xproc_produce(fd, XPROC_MESSAGES, 5000));
	ASSERT_EQ(0, cell_ring_attach(&c, fd, CELL_ROLE_CONSUMER, SIZE));
	while ((rc = cell_ring_read_wait(&c, &v, cell_deadline_in_ms(10000), child_alive, &pid)) ==
	       0) {
		ASSERT_TRUE(msg_check(v.data, v.len, i));
		i++;
		cell_ring_release(&c, v.end);
	}
	ASSERT_EQ(-EPIPE, rc);
	ASSERT_EQ(5000, i);
	cell_ring_detach(&c);
}

TEST_HARNESS_MAIN
