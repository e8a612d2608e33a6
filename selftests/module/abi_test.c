// SPDX-License-Identifier: GPL-2.0-only
/*
 * cell.ko ABI: create, map and close in every role; read-only mappings
 * fault on write (in a forked child); mprotect() cannot upgrade; the size
 * never changes; limits; every ioctl's argument checks and errors.
 */
#include <signal.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "cell_module.h"
#include "kselftest_harness.h"

#define SZ     (16 * 1024UL) /* data bytes of the rings here */
#define MAPLEN (3 * PG + SZ)

/* Whether writing one byte at @p kills a forked child with SIGSEGV. */
static bool write_faults(volatile uint8_t *p)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		*p = 0x5a;
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return false;
	return WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV;
}

FIXTURE(rings)
{
	int dev;
	int prod;
	int cons;
	uint64_t id;
};

FIXTURE_SETUP(rings)
{
	self->dev = cell_dev();
	if (self->dev < 0)
		SKIP(return, "no " DEV_CELL " (cell.ko not loaded): %s", strerror(-self->dev));
	self->prod = ring_create(self->dev, SZ, &self->id);
	ASSERT_LE(0, self->prod);
	self->cons = ring_open(self->prod);
	ASSERT_LE(0, self->cons);
}

FIXTURE_TEARDOWN(rings)
{
	if (self->dev < 0)
		return;
	close(self->cons);
	close(self->prod);
	close(self->dev);
}

TEST_F(rings, geometry)
{
	const struct cell_ring_geometry *g = ring_map(self->cons, 0, PG, PROT_READ);
	const uint64_t *w;
	int i;

	ASSERT_NE(NULL, g);
	EXPECT_EQ(CELL_RING_MAGIC, g->magic);
	EXPECT_EQ(CELL_ABI_VERSION, g->abi_version);
	EXPECT_EQ(sizeof(*g), g->geometry_size);
	EXPECT_EQ(CELL_RING_GEOM_MODULE, g->flags);
	EXPECT_EQ(CELL_RING_PAGE, g->page_size);
	EXPECT_EQ(SZ, g->data_size);
	EXPECT_EQ(CELL_RING_OFF_PRODUCER, g->producer_offset);
	EXPECT_EQ(CELL_RING_OFF_CONSUMER, g->consumer_offset);
	EXPECT_EQ(CELL_RING_OFF_DATA, g->data_offset);
	EXPECT_EQ(self->id, g->ring_id);
	for (i = 0; i < 8; i++)
		EXPECT_EQ(0, g->reserved[i]);
	/* The rest of the page and the side pages start zeroed. */
	w = (const uint64_t *)g;
	for (i = sizeof(*g) / 8; i < (int)(PG / 8); i++)
		ASSERT_EQ(0, w[i]);
	munmap((void *)g, PG);
}

TEST_F(rings, info)
{
	struct cell_ring_info info;

	ASSERT_EQ(0, ring_info(self->prod, &info));
	EXPECT_EQ(CELL_ROLE_PRODUCER, info.role);
	EXPECT_EQ(self->id, info.ring_id);
	EXPECT_EQ(SZ, info.data_size);
	EXPECT_EQ(MAPLEN, info.map_size);
	EXPECT_EQ(1, info.peer_alive);
	ASSERT_EQ(0, ring_info(self->cons, &info));
	EXPECT_EQ(CELL_ROLE_CONSUMER, info.role);
	EXPECT_EQ(1, info.peer_alive);
	close(self->cons);
	self->cons = ring_open(self->prod); /* the side is dead: no new consumer */
	EXPECT_EQ(-EPIPE, self->cons);
	ASSERT_EQ(0, ring_info(self->prod, &info));
	EXPECT_EQ(0, info.peer_alive);
	self->cons = -1;
}

/* What each role may map writable, page by page. */
TEST_F(rings, role_mappings)
{
	static const struct {
		size_t off, len;
		bool prod_rw, cons_rw;
	} cases[] = {
		{ 0, PG, false, false },	   /* geometry */
		{ PG, PG, true, false },	   /* producer page */
		{ 2 * PG, PG, false, true },	   /* consumer page */
		{ 3 * PG, SZ, true, false },	   /* data */
		{ 3 * PG + PG, PG, true, false },  /* one data page */
		{ 0, MAPLEN, false, false },	   /* everything */
		{ PG, 2 * PG, false, false },	   /* both side pages */
		{ 2 * PG, PG + SZ, false, false }, /* consumer page and data */
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int fds[2] = { self->prod, self->cons };
		bool rw[2] = { cases[i].prod_rw, cases[i].cons_rw };
		int r;

		for (r = 0; r < 2; r++) {
			void *p = ring_map(fds[r], cases[i].off, cases[i].len, PROT_READ);

			ASSERT_NE(NULL, p) TH_LOG("case %zu role %d read-only", i, r + 1);
			munmap(p, cases[i].len);
			p = ring_map(fds[r], cases[i].off, cases[i].len, PROT_READ | PROT_WRITE);
			if (rw[r]) {
				ASSERT_NE(NULL, p) TH_LOG("case %zu role %d rw", i, r + 1);
				munmap(p, cases[i].len);
			} else {
				ASSERT_EQ(NULL, p) TH_LOG("case %zu role %d rw allowed", i, r + 1);
				ASSERT_EQ(EACCES, errno);
			}
		}
	}
}

TEST_F(rings, bad_mappings)
{
	EXPECT_EQ(NULL, ring_map(self->prod, MAPLEN, PG, PROT_READ));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(NULL, ring_map(self->prod, 0, MAPLEN + PG, PROT_READ));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(NULL, ring_map(self->prod, 3 * PG, SZ + PG, PROT_READ));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, PG, PROT_READ, MAP_PRIVATE, self->prod, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(NULL, ring_map(self->prod, PG, PG, PROT_READ | PROT_EXEC));
	EXPECT_EQ(EACCES, errno);
	/* /dev/cell itself maps nothing. */
	EXPECT_EQ(NULL, ring_map(self->dev, 0, PG, PROT_READ));
}

TEST_F(rings, shared_and_faulting)
{
	uint8_t *pd = ring_map(self->prod, 3 * PG, SZ, PROT_READ | PROT_WRITE);
	uint8_t *cd = ring_map(self->cons, 3 * PG, SZ, PROT_READ);
	struct cell_ring_producer *pp = ring_map(self->prod, PG, PG, PROT_READ | PROT_WRITE);
	struct cell_ring_consumer *cc = ring_map(self->cons, 2 * PG, PG, PROT_READ | PROT_WRITE);
	uint8_t *all_p = ring_map(self->prod, 0, MAPLEN, PROT_READ);
	uint8_t *all_c = ring_map(self->cons, 0, MAPLEN, PROT_READ);

	ASSERT_NE(NULL, pd);
	ASSERT_NE(NULL, cd);
	ASSERT_NE(NULL, pp);
	ASSERT_NE(NULL, cc);
	ASSERT_NE(NULL, all_p);
	ASSERT_NE(NULL, all_c);
	memset(pd, 0xab, SZ);
	pp->position = 4096;
	cc->position = 1024;
	EXPECT_EQ(0xab, cd[SZ - 1]);
	EXPECT_EQ(4096, ((struct cell_ring_producer *)(all_c + PG))->position);
	EXPECT_EQ(1024, ((struct cell_ring_consumer *)(all_p + 2 * PG))->position);
	/* Read-only views fault on write; the writable ones do not. */
	EXPECT_TRUE(write_faults(cd));
	EXPECT_TRUE(write_faults(all_c + PG));
	EXPECT_TRUE(write_faults(all_p + 2 * PG));
	EXPECT_TRUE(write_faults(all_p));
	EXPECT_TRUE(write_faults(all_c));
	EXPECT_FALSE(write_faults(pd));
	EXPECT_FALSE(write_faults((uint8_t *)cc + 64));
	munmap(pd, SZ);
	munmap(cd, SZ);
	munmap(pp, PG);
	munmap(cc, PG);
	munmap(all_p, MAPLEN);
	munmap(all_c, MAPLEN);
}

TEST_F(rings, mprotect_cannot_upgrade)
{
	uint8_t *cd = ring_map(self->cons, 3 * PG, SZ, PROT_READ);
	uint8_t *g = ring_map(self->prod, 0, PG, PROT_READ);
	uint8_t *all = ring_map(self->prod, 0, MAPLEN, PROT_READ);
	uint8_t *pd = ring_map(self->prod, 3 * PG, SZ, PROT_READ);

	ASSERT_NE(NULL, cd);
	ASSERT_NE(NULL, g);
	ASSERT_NE(NULL, all);
	ASSERT_NE(NULL, pd);
	EXPECT_EQ(-1, mprotect(cd, SZ, PROT_READ | PROT_WRITE));
	EXPECT_EQ(EACCES, errno);
	EXPECT_EQ(-1, mprotect(g, PG, PROT_READ | PROT_WRITE));
	EXPECT_EQ(EACCES, errno);
	/* Not even the producer's own data inside a mapping that covers geometry. */
	EXPECT_EQ(-1, mprotect(all + 3 * PG, SZ, PROT_READ | PROT_WRITE));
	EXPECT_EQ(EACCES, errno);
	EXPECT_EQ(-1, mprotect(cd, SZ, PROT_READ | PROT_EXEC));
	/* A read-only view of memory the role may write can be upgraded. */
	EXPECT_EQ(0, mprotect(pd, SZ, PROT_READ | PROT_WRITE));
	EXPECT_TRUE(write_faults(cd));
	munmap(cd, SZ);
	munmap(g, PG);
	munmap(all, MAPLEN);
	munmap(pd, SZ);
}

TEST_F(rings, size_is_immutable)
{
	struct cell_ring_info info;
	uint8_t *p = ring_map(self->prod, 3 * PG, SZ, PROT_READ | PROT_WRITE);
	void *q;

	ASSERT_NE(NULL, p);
	EXPECT_NE(0, ftruncate(self->prod, 0));
	EXPECT_NE(0, ftruncate(self->prod, MAPLEN * 2));
	EXPECT_NE(0, fallocate(self->prod, 0, 0, MAPLEN * 2));
	/* A mapping cannot grow over pages of another role or past the end. */
	q = mremap(p, SZ, SZ + PG, MREMAP_MAYMOVE);
	EXPECT_EQ(MAP_FAILED, q);
	ASSERT_EQ(0, ring_info(self->prod, &info));
	EXPECT_EQ(SZ, info.data_size);
	EXPECT_EQ(MAPLEN, info.map_size);
	/* Moving is fine: the pages stay what they are. */
	q = mremap(p, SZ, SZ, MREMAP_MAYMOVE | MREMAP_FIXED, (uint8_t *)p + 64 * PG);
	if (q != MAP_FAILED) {
		((uint8_t *)q)[0] = 1;
		munmap(q, SZ);
	} else {
		munmap(p, SZ);
	}
}

TEST_F(rings, close_in_every_order)
{
	int i;

	for (i = 0; i < 4; i++) {
		int p = ring_create(self->dev, SZ, NULL);
		int c = ring_open(p);
		void *mp = ring_map(p, 0, MAPLEN, PROT_READ);
		void *mc = ring_map(c, 2 * PG, PG, PROT_READ | PROT_WRITE);

		ASSERT_LE(0, p);
		ASSERT_LE(0, c);
		ASSERT_NE(NULL, mp);
		ASSERT_NE(NULL, mc);
		/* Closing the fd keeps the mapping usable: it holds the file. */
		if (i & 1) {
			close(p);
			close(c);
		} else {
			close(c);
			close(p);
		}
		if (i & 2) {
			((volatile uint8_t *)mc)[8] = 1;
			EXPECT_EQ(CELL_RING_MAGIC, ((struct cell_ring_geometry *)mp)->magic);
		}
		munmap(mp, MAPLEN);
		munmap(mc, PG);
	}
}

/* ---- argument checks -------------------------------------------------- */

FIXTURE(args)
{
	int dev;
};

FIXTURE_SETUP(args)
{
	self->dev = cell_dev();
	if (self->dev < 0)
		SKIP(return, "no " DEV_CELL ": %s", strerror(-self->dev));
}

FIXTURE_TEARDOWN(args)
{
	if (self->dev >= 0)
		close(self->dev);
}

/* An ioctl with an oversized argument: 0, or -errno. */
static int ioctl_big(int fd, unsigned long cmd, const void *arg, size_t len, size_t total,
		     uint8_t tail)
{
	uint8_t buf[8192] = { 0 };

	memcpy(buf, arg, len);
	*(uint32_t *)buf = (uint32_t)total;
	if (total > len)
		buf[total - 1] = tail;
	return ioctl(fd, cmd, buf) < 0 ? -errno : 0;
}

TEST_F(args, version)
{
	struct cell_version v = { .size = sizeof(v) };

	ASSERT_EQ(0, ioctl(self->dev, CELL_IOC_VERSION, &v));
	EXPECT_EQ(CELL_ABI_VERSION, v.abi_version);
	EXPECT_EQ(0, v.features);
	v.size = sizeof(v) - 1;
	EXPECT_EQ(-1, ioctl(self->dev, CELL_IOC_VERSION, &v));
	EXPECT_EQ(EINVAL, errno);
	v.size = 0;
	EXPECT_EQ(-1, ioctl(self->dev, CELL_IOC_VERSION, &v));
	EXPECT_EQ(EINVAL, errno);
	v.size = sizeof(v);
	v.reserved[1] = 1;
	EXPECT_EQ(-1, ioctl(self->dev, CELL_IOC_VERSION, &v));
	EXPECT_EQ(EINVAL, errno);
	v.reserved[1] = 0;
	/* Newer, longer structures: zero tail accepted, anything else -E2BIG. */
	EXPECT_EQ(0, ioctl_big(self->dev, CELL_IOC_VERSION, &v, sizeof(v), sizeof(v) + 16, 0));
	EXPECT_EQ(-E2BIG, ioctl_big(self->dev, CELL_IOC_VERSION, &v, sizeof(v), sizeof(v) + 16, 1));
	EXPECT_EQ(-E2BIG, ioctl_big(self->dev, CELL_IOC_VERSION, &v, sizeof(v), 4097, 0));
	EXPECT_EQ(-1, ioctl(self->dev, CELL_IOC_VERSION, NULL));
	EXPECT_EQ(EFAULT, errno);
	/* The command's size bits are not what counts: only type and number. */
	EXPECT_EQ(0, ioctl(self->dev, _IOWR(CELL_IOC_MAGIC, 0x00, uint64_t), &v));
}

TEST_F(args, unknown_commands)
{
	uint8_t buf[256] = { 0 };
	unsigned int nr;

	*(uint32_t *)buf = 64;
	for (nr = 0x06; nr < 0x100; nr++) {
		EXPECT_EQ(-1, ioctl(self->dev, _IOWR(CELL_IOC_MAGIC, nr, uint64_t), buf));
		EXPECT_EQ(ENOTTY, errno);
	}
	EXPECT_EQ(-1, ioctl(self->dev, _IOWR('D', 0x00, struct cell_version), buf));
	EXPECT_EQ(ENOTTY, errno);
	/* Ring commands on /dev/cell, device commands on a ring fd. */
	EXPECT_EQ(-1, ioctl(self->dev, CELL_IOC_RING_OPEN, buf));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(self->dev, CELL_IOC_RING_WAIT, buf));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(self->dev, CELL_IOC_RING_INFO, buf));
	EXPECT_EQ(ENOTTY, errno);
	{
		int p = ring_create(self->dev, SZ, NULL);

		ASSERT_LE(0, p);
		EXPECT_EQ(-1, ioctl(p, CELL_IOC_RING_CREATE, buf));
		EXPECT_EQ(ENOTTY, errno);
		EXPECT_EQ(-1, ioctl(p, CELL_IOC_VERSION, buf));
		EXPECT_EQ(ENOTTY, errno);
		for (nr = 0x06; nr < 0x100; nr++) {
			EXPECT_EQ(-1, ioctl(p, _IOWR(CELL_IOC_MAGIC, nr, uint64_t), buf));
			EXPECT_EQ(ENOTTY, errno);
		}
		close(p);
	}
}

TEST_F(args, create)
{
	static const uint64_t bad_sizes[] = {
		0, 1, 4095, 4097, 3 * 4096, 2048, (1ULL << 31), (1ULL << 40), ~0ULL, 12288 + 8,
	};
	struct cell_ring_create c;
	uint64_t id1, id2;
	size_t i;
	int fd;

	for (i = 0; i < sizeof(bad_sizes) / sizeof(bad_sizes[0]); i++)
		EXPECT_EQ(-EINVAL, ring_create(self->dev, bad_sizes[i], NULL))
	TH_LOG("size %llu", (unsigned long long)bad_sizes[i]);
	EXPECT_EQ(-EINVAL, ring_create_flags(self->dev, SZ, 0x2, NULL));
	EXPECT_EQ(-EINVAL, ring_create_flags(self->dev, SZ, 0x80000000, NULL));

	memset(&c, 0, sizeof(c));
	c.size = sizeof(c);
	c.data_size = SZ;
	c.reserved0 = 1;
	EXPECT_EQ(-1, ioctl(self->dev, CELL_IOC_RING_CREATE, &c));
	EXPECT_EQ(EINVAL, errno);
	c.reserved0 = 0;
	c.reserved[1] = 1;
	EXPECT_EQ(-1, ioctl(self->dev, CELL_IOC_RING_CREATE, &c));
	EXPECT_EQ(EINVAL, errno);
	c.reserved[1] = 0;
	c.size = sizeof(c) - 8;
	EXPECT_EQ(-1, ioctl(self->dev, CELL_IOC_RING_CREATE, &c));
	EXPECT_EQ(EINVAL, errno);
	c.size = sizeof(c);
	EXPECT_EQ(-E2BIG, ioctl_big(self->dev, CELL_IOC_RING_CREATE, &c, sizeof(c), 200, 7));
	c.fd = 12345; /* out fields are ignored on the way in */
	ASSERT_EQ(0, ioctl(self->dev, CELL_IOC_RING_CREATE, &c));
	EXPECT_NE(12345, c.fd);
	EXPECT_EQ(0, fcntl(c.fd, F_GETFD) & FD_CLOEXEC);
	close(c.fd);

	fd = ring_create_flags(self->dev, SZ, CELL_RING_CREATE_CLOEXEC, &id1);
	ASSERT_LE(0, fd);
	EXPECT_EQ(FD_CLOEXEC, fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);
	fd = ring_create(self->dev, CELL_RING_MIN_DATA, &id2);
	ASSERT_LE(0, fd);
	EXPECT_LT(id1, id2);
	close(fd);
}

TEST_F(args, ring_ioctls)
{
	int p = ring_create(self->dev, SZ, NULL), c;
	struct cell_ring_open o = { .size = sizeof(o) };
	struct cell_ring_wait w = { .size = sizeof(w), .word = 1, .timeout_ns = 0 };
	struct cell_ring_wake k = { .size = sizeof(k), .word = 1 };
	struct cell_ring_info info = { .size = sizeof(info) };

	ASSERT_LE(0, p);
	/* open */
	o.flags = 2;
	EXPECT_EQ(-1, ioctl(p, CELL_IOC_RING_OPEN, &o));
	EXPECT_EQ(EINVAL, errno);
	o.flags = 0;
	o.reserved0 = 1;
	EXPECT_EQ(-1, ioctl(p, CELL_IOC_RING_OPEN, &o));
	EXPECT_EQ(EINVAL, errno);
	o.reserved0 = 0;
	o.reserved[0] = 1;
	EXPECT_EQ(-1, ioctl(p, CELL_IOC_RING_OPEN, &o));
	EXPECT_EQ(EINVAL, errno);
	o.reserved[0] = 0;
	o.size = 8;
	EXPECT_EQ(-1, ioctl(p, CELL_IOC_RING_OPEN, &o));
	EXPECT_EQ(EINVAL, errno);
	o.size = sizeof(o);
	EXPECT_EQ(-E2BIG, ioctl_big(p, CELL_IOC_RING_OPEN, &o, sizeof(o), 64, 1));
	ASSERT_EQ(0, ioctl(p, CELL_IOC_RING_OPEN, &o));
	c = o.fd;
	EXPECT_EQ(0, fcntl(c, F_GETFD) & FD_CLOEXEC);
	EXPECT_EQ(-EPERM, ring_open(c));
	/* wait */
	w.word = 0;
	EXPECT_EQ(-1, ioctl(c, CELL_IOC_RING_WAIT, &w));
	EXPECT_EQ(EINVAL, errno);
	w.word = 3;
	EXPECT_EQ(-1, ioctl(c, CELL_IOC_RING_WAIT, &w));
	EXPECT_EQ(EINVAL, errno);
	w.word = 1;
	w.flags = 2;
	EXPECT_EQ(-1, ioctl(c, CELL_IOC_RING_WAIT, &w));
	EXPECT_EQ(EINVAL, errno);
	w.flags = 0;
	w.reserved = 1;
	EXPECT_EQ(-1, ioctl(c, CELL_IOC_RING_WAIT, &w));
	EXPECT_EQ(EINVAL, errno);
	w.reserved = 0;
	w.flags = CELL_WAIT_ABSOLUTE;
	w.timeout_ns = 1ULL << 63;
	EXPECT_EQ(-1, ioctl(c, CELL_IOC_RING_WAIT, &w));
	EXPECT_EQ(EINVAL, errno);
	w.flags = 0;
	w.timeout_ns = 0;
	w.size = 16;
	EXPECT_EQ(-1, ioctl(c, CELL_IOC_RING_WAIT, &w));
	EXPECT_EQ(EINVAL, errno);
	w.size = sizeof(w);
	EXPECT_EQ(-E2BIG, ioctl_big(c, CELL_IOC_RING_WAIT, &w, sizeof(w), 40, 1));
	EXPECT_EQ(-ETIMEDOUT, ioctl_big(c, CELL_IOC_RING_WAIT, &w, sizeof(w), 40, 0));
	/* wake */
	k.word = 0;
	EXPECT_EQ(-1, ioctl(p, CELL_IOC_RING_WAKE, &k));
	EXPECT_EQ(EINVAL, errno);
	k.word = 5;
	EXPECT_EQ(-1, ioctl(p, CELL_IOC_RING_WAKE, &k));
	EXPECT_EQ(EINVAL, errno);
	k.word = 2;
	k.reserved = 1;
	EXPECT_EQ(-1, ioctl(p, CELL_IOC_RING_WAKE, &k));
	EXPECT_EQ(EINVAL, errno);
	k.reserved = 0;
	k.size = 4;
	EXPECT_EQ(-1, ioctl(p, CELL_IOC_RING_WAKE, &k));
	EXPECT_EQ(EINVAL, errno);
	k.size = sizeof(k);
	k.woken = 99;
	EXPECT_EQ(0, ioctl(p, CELL_IOC_RING_WAKE, &k));
	EXPECT_EQ(0, k.woken);
	/* info */
	info.reserved0 = 1;
	EXPECT_EQ(-1, ioctl(p, CELL_IOC_RING_INFO, &info));
	EXPECT_EQ(EINVAL, errno);
	info.reserved0 = 0;
	info.reserved[1] = 1;
	EXPECT_EQ(-1, ioctl(p, CELL_IOC_RING_INFO, &info));
	EXPECT_EQ(EINVAL, errno);
	info.reserved[1] = 0;
	info.size = sizeof(info) - 8;
	EXPECT_EQ(-1, ioctl(p, CELL_IOC_RING_INFO, &info));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(p, CELL_IOC_RING_INFO, (void *)8));
	EXPECT_EQ(EFAULT, errno);
	close(c);
	close(p);
}

/* ---- limits ------------------------------------------------------------ */

struct saved_params {
	long rings, bytes, size;
};

static int save_params(struct saved_params *s)
{
	s->rings = param_get("max_rings_per_user");
	s->bytes = param_get("max_bytes_per_user");
	s->size = param_get("max_ring_size");
	return s->rings < 0 || s->bytes < 0 || s->size < 0 ? -1 : 0;
}

static void restore_params(const struct saved_params *s)
{
	param_set("max_rings_per_user", s->rings);
	param_set("max_bytes_per_user", s->bytes);
	param_set("max_ring_size", s->size);
}

TEST_F(args, limits)
{
	struct saved_params saved;
	int fds[8], i, fd;

	if (save_params(&saved))
		SKIP(return, "no module parameters in " PARAM_DIR);

	ASSERT_EQ(0, param_set("max_rings_per_user", 4));
	for (i = 0; i < 4; i++) {
		fds[i] = ring_create(self->dev, CELL_RING_MIN_DATA, NULL);
		ASSERT_LE(0, fds[i]);
	}
	EXPECT_EQ(-ENOSPC, ring_create(self->dev, CELL_RING_MIN_DATA, NULL));
	/* A consumer fd is not another ring. */
	fd = ring_open(fds[0]);
	EXPECT_LE(0, fd);
	close(fd);
	/* Another user has its own count. */
	{
		pid_t pid = fork();
		int status;

		if (pid == 0) {
			if (setuid(65534))
				_exit(2);
			fd = ring_create(self->dev, CELL_RING_MIN_DATA, NULL);
			_exit(fd >= 0 ? 0 : 1);
		}
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	close(fds[3]);
	fds[3] = ring_create(self->dev, CELL_RING_MIN_DATA, NULL);
	EXPECT_LE(0, fds[3]);
	for (i = 0; i < 4; i++)
		close(fds[i]);

	/* Bytes: a 16 KiB ring costs 28 KiB with its three header pages. */
	ASSERT_EQ(0, param_set("max_bytes_per_user", 64 * 1024));
	fds[0] = ring_create(self->dev, SZ, NULL);
	fds[1] = ring_create(self->dev, SZ, NULL);
	ASSERT_LE(0, fds[0]);
	ASSERT_LE(0, fds[1]);
	EXPECT_EQ(-EDQUOT, ring_create(self->dev, SZ, NULL));
	/* 56 KiB used: a 4 KiB ring costs 16 KiB, more than the 8 KiB left. */
	EXPECT_EQ(-EDQUOT, ring_create(self->dev, CELL_RING_MIN_DATA, NULL));
	close(fds[0]);
	fds[0] = ring_create(self->dev, SZ, NULL);
	EXPECT_LE(0, fds[0]);
	for (i = 0; i < 2; i++)
		if (fds[i] >= 0)
			close(fds[i]);

	/* One ring's size. */
	restore_params(&saved);
	ASSERT_EQ(0, param_set("max_ring_size", 64 * 1024));
	EXPECT_EQ(-EFBIG, ring_create(self->dev, 128 * 1024, NULL));
	fd = ring_create(self->dev, 64 * 1024, NULL);
	EXPECT_LE(0, fd);
	close(fd);
	restore_params(&saved);
}

/* ---- memory cgroup ------------------------------------------------------ */

#define CG "/sys/fs/cgroup/"

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY), rc = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, text, strlen(text)) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

static long read_long(const char *path)
{
	char buf[64] = "";
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? strtol(buf, NULL, 10) : -1;
}

/* Child in cgroup "cell": 0 when the ring was charged and uncharged, else a step number. */
static int charge_child(int dev)
{
	char pid[32];
	long before, during, after;
	int fd;

	snprintf(pid, sizeof(pid), "%d\n", getpid());
	if (write_file(CG "cell/cgroup.procs", pid))
		return 1;
	before = read_long(CG "cell/memory.current");
	fd = ring_create(dev, 4 << 20, NULL);
	if (fd < 0)
		return 2;
	during = read_long(CG "cell/memory.current");
	close(fd);
	usleep(200 * 1000);
	after = read_long(CG "cell/memory.current");
	fprintf(stderr, "# memory.current: %ld before, %ld with a 4 MiB ring, %ld after\n", before,
		during, after);
	if (during - before < (4 << 20))
		return 3;
	if (after - before > (1 << 20))
		return 4;
	/* Over the group's limit, creation fails instead of charging someone else. */
	if (write_file(CG "cell/memory.max", "2097152"))
		return 5;
	fd = ring_create(dev, 4 << 20, NULL);
	if (fd >= 0)
		return 6;
	return 0;
}

TEST_F_TIMEOUT(args, memcg_charge, 60)
{
	int status;
	pid_t pid;

	if (access(CG "cgroup.controllers", R_OK))
		SKIP(return, "no cgroup2 at " CG);
	if (write_file(CG "cgroup.subtree_control", "+memory"))
		SKIP(return, "no memory controller in cgroup2");
	rmdir(CG "cell");
	ASSERT_EQ(0, mkdir(CG "cell", 0755));
	pid = fork();
	if (pid == 0)
		_exit(charge_child(self->dev));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(0, rmdir(CG "cell"));
}

TEST_HARNESS_MAIN
