// SPDX-License-Identifier: GPL-2.0-only
/*
 * cell.ko under abuse: threads creating, opening, mapping, waiting, waking,
 * polling and closing the same rings at once for a bounded time, then a
 * storm of at least a million random ioctl/mmap/close calls.  The kernel
 * must survive (the VM runner fails the run on any oops, WARN or lockdep
 * report in dmesg) and unreclaimable slab must come back to its baseline
 * once every fd is closed.
 *
 * RACE_SECONDS and STORM_CALLS in the environment override the defaults.
 */
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "cell_module.h"
#include "kselftest_harness.h"

#define SLOTS	   16
#define THREADS	   4
#define SLAB_SLACK 1024 /* KiB of unrelated slab churn tolerated */

static atomic_int prod_slot[SLOTS];
static atomic_int cons_slot[SLOTS];
static atomic_int stop;
static atomic_long calls;
static int dev_fd;
static uint8_t *edge; /* a page followed by a PROT_NONE one */

static uint64_t rnd(uint64_t *s)
{
	/* xorshift64* */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

static long env_long(const char *name, long dflt)
{
	const char *v = getenv(name);

	return v && *v ? strtol(v, NULL, 10) : dflt;
}

static void put_slot(atomic_int *slot, int fd)
{
	int old = atomic_exchange(slot, fd);

	if (old >= 0)
		close(old);
}

static void close_all(void)
{
	int i;

	for (i = 0; i < SLOTS; i++) {
		put_slot(&prod_slot[i], -1);
		put_slot(&cons_slot[i], -1);
	}
}

static void *racer(void *arg)
{
	uint64_t s = (uintptr_t)arg * 0x9e3779b97f4a7c15ULL + 1;

	while (!atomic_load(&stop)) {
		uint64_t r = rnd(&s);
		int k = (int)(r % SLOTS);
		int pfd = atomic_load(&prod_slot[k]);
		int cfd = atomic_load(&cons_slot[k]);
		int any = (r >> 8) & 1 ? pfd : cfd;
		void *p;

		switch ((r >> 16) % 8) {
		case 0:
			put_slot(&prod_slot[k],
				 ring_create(dev_fd, CELL_RING_MIN_DATA << ((r >> 24) % 4), NULL));
			break;
		case 1:
			if (pfd >= 0)
				put_slot(&cons_slot[k], ring_open(pfd));
			break;
		case 2:
			if (any < 0)
				break;
			p = ring_map(any, ((r >> 24) % 4) * PG, PG, PROT_READ);
			if (p) {
				(void)*(volatile uint8_t *)p;
				munmap(p, PG);
			}
			break;
		case 3:
			if (any >= 0)
				ring_wait(any, 1 + ((r >> 24) & 1), 0, 1000000, 0);
			break;
		case 4:
			if (any >= 0)
				ring_wake(any, 1 + ((r >> 24) & 1), 0, NULL);
			break;
		case 5:
			put_slot((r >> 24) & 1 ? &prod_slot[k] : &cons_slot[k], -1);
			break;
		case 6:
			if (any >= 0) {
				struct pollfd pf = { .fd = any, .events = POLLIN | POLLOUT };

				poll(&pf, 1, (r >> 24) & 1);
			}
			break;
		default: {
			struct cell_ring_info info;

			if (any >= 0)
				ring_info(any, &info);
			break;
		}
		}
		atomic_fetch_add(&calls, 1);
	}
	return NULL;
}

static void settle(void)
{
	/* Files are freed after RCU grace periods: give them time. */
	int i;

	for (i = 0; i < 10; i++)
		usleep(100 * 1000);
}

FIXTURE(race)
{
	long slab0;
};

FIXTURE_SETUP(race)
{
	int i;

	dev_fd = cell_dev();
	if (dev_fd < 0)
		SKIP(return, "no " DEV_CELL ": %s", strerror(-dev_fd));
	for (i = 0; i < SLOTS; i++) {
		atomic_store(&prod_slot[i], -1);
		atomic_store(&cons_slot[i], -1);
	}
	/* Warm the caches once so that the baseline is a fair one. */
	close(ring_create(dev_fd, CELL_RING_MIN_DATA, NULL));
	settle();
	self->slab0 = slab_unreclaimable_kib();
	ASSERT_LT(0, self->slab0);
}

FIXTURE_TEARDOWN(race)
{
	if (dev_fd >= 0)
		close(dev_fd);
}

static void check_slab(struct __test_metadata *_metadata, long slab0)
{
	long slab1;

	close_all();
	settle();
	slab1 = slab_unreclaimable_kib();
	TH_LOG("SUnreclaim before %ld KiB, after %ld KiB", slab0, slab1);
	EXPECT_GT(slab0 + SLAB_SLACK, slab1);
}

TEST_F_TIMEOUT(race, threads, 120)
{
	long seconds = env_long("RACE_SECONDS", 5);
	pthread_t t[THREADS];
	int i;

	atomic_store(&stop, 0);
	atomic_store(&calls, 0);
	for (i = 0; i < THREADS; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, racer, (void *)(uintptr_t)(i + 1)));
	sleep((unsigned int)seconds);
	atomic_store(&stop, 1);
	for (i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	TH_LOG("%ld operations in %ld s on %d threads", atomic_load(&calls), seconds, THREADS);
	check_slab(_metadata, self->slab0);
}

/* ---- random storm ------------------------------------------------------ */

static const uint32_t sizes[] = {
	0,
	4,
	sizeof(struct cell_ring_create),
	sizeof(struct cell_ring_open),
	sizeof(struct cell_ring_wait),
	sizeof(struct cell_ring_wake),
	sizeof(struct cell_ring_info),
	sizeof(struct cell_version),
	64,
	4096,
	4097,
	0xffffffff,
};

/* One random ioctl on a random fd; new fds it returns join the pool. */
static void storm_ioctl(uint64_t *s, int fd)
{
	union {
		uint64_t q[64];
		uint32_t w[128];
		int32_t s[128];
	} buf;
	unsigned int nr, type, dir, i;
	void *arg = &buf;
	uint64_t r = rnd(s);
	unsigned long cmd;

	for (i = 0; i < 64; i++)
		buf.q[i] = (r & 3) ? 0 : rnd(s); /* mostly zero: reach deeper than the checks */
	nr = (r >> 2) % 9;
	type = (r >> 6) % 16 ? CELL_IOC_MAGIC : (unsigned int)(r >> 10) & 0xff;
	dir = (r >> 18) & 3;
	cmd = _IOC(dir, type, nr, (r >> 20) & 0xff);
	buf.w[0] = sizes[(r >> 28) % (sizeof(sizes) / sizeof(sizes[0]))];
	buf.w[1] = (r >> 32) % 8 ? (uint32_t)(r >> 36) % 4 : (uint32_t)rnd(s);
	if (nr == _IOC_NR(CELL_IOC_RING_CREATE))
		buf.q[1] = (r >> 40) % 4 ? CELL_RING_MIN_DATA << ((r >> 42) % 5) : rnd(s);
	if (nr == _IOC_NR(CELL_IOC_RING_WAIT)) {
		/* Never sleep long: relative, at most 100 us, or an absolute past. */
		buf.q[2] = (r >> 44) % 100000;
		buf.w[3] &= 1;
	}
	switch ((r >> 50) % 32) {
	case 0:
		arg = NULL;
		break;
	case 1:
		arg = (void *)(uintptr_t)0x1000;
		break;
	case 2:
		/* The size readable, the rest on a PROT_NONE page. */
		memcpy(edge + PG - 4, &buf, 4);
		arg = edge + PG - 4;
		break;
	default:
		break;
	}
	if (ioctl(fd, cmd, arg) == 0 && arg == (void *)&buf && type == CELL_IOC_MAGIC &&
	    (nr == _IOC_NR(CELL_IOC_RING_CREATE) || nr == _IOC_NR(CELL_IOC_RING_OPEN))) {
		int nfd = nr == _IOC_NR(CELL_IOC_RING_CREATE) ? buf.s[4] : buf.s[2];
		int k = (int)(rnd(s) % SLOTS);

		put_slot(nr == _IOC_NR(CELL_IOC_RING_CREATE) ? &prod_slot[k] : &cons_slot[k], nfd);
	}
}

static void storm_mmap(uint64_t *s, int fd)
{
	uint64_t r = rnd(s);
	static const int prots[] = { PROT_READ, PROT_READ | PROT_WRITE, PROT_WRITE, PROT_NONE,
				     PROT_READ | PROT_EXEC };
	size_t off = ((r >> 4) % 24) * PG;
	size_t len = (1 + (r >> 12) % 24) * PG;
	int flags = (r >> 20) % 8 ? MAP_SHARED : MAP_PRIVATE;
	void *p = mmap(NULL, len, prots[(r >> 24) % 5], flags, fd, (off_t)off);

	if (p == MAP_FAILED)
		return;
	if ((r >> 32) % 4 == 0)
		mprotect(p, len, PROT_READ | PROT_WRITE);
	munmap(p, len);
}

static void *stormer(void *arg)
{
	uint64_t s = (uintptr_t)arg * 0xd1b54a32d192ed03ULL + 7;
	long budget = (long)(uintptr_t)arg >> 8;
	long n;

	for (n = 0; n < budget; n++) {
		uint64_t r = rnd(&s);
		int k = (int)(r % SLOTS);
		int fd = (r >> 8) % 8 == 0 ? dev_fd
			 : (r >> 11) & 1   ? atomic_load(&prod_slot[k])
					   : atomic_load(&cons_slot[k]);

		if (fd < 0)
			fd = dev_fd;
		switch ((r >> 16) % 16) {
		case 0:
			storm_mmap(&s, fd);
			break;
		case 1:
			if ((r >> 20) % 16 == 0)
				put_slot((r >> 24) & 1 ? &prod_slot[k] : &cons_slot[k], -1);
			else
				storm_ioctl(&s, fd);
			break;
		default:
			storm_ioctl(&s, fd);
			break;
		}
	}
	return NULL;
}

TEST_F_TIMEOUT(race, storm, 290)
{
	long total = env_long("STORM_CALLS", 1000000);
	long each = total / 2 + 1;
	uint64_t t0 = now_ns();
	pthread_t t[2];
	int i;

	edge = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, edge);
	ASSERT_EQ(0, mprotect(edge + PG, PG, PROT_NONE));
	/* Each thread's budget rides in the upper bits of its argument. */
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, stormer,
					    (void *)(uintptr_t)((each << 8) | (i + 1))));
	for (i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	TH_LOG("%ld random calls in %.1f s", each * 2, (double)(now_ns() - t0) / 1e9);
	check_slab(_metadata, self->slab0);
}

TEST_HARNESS_MAIN
