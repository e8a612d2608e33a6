// SPDX-License-Identifier: GPL-2.0-only
/*
 * libcell's module rings (lib/ring_module.c) against cell.ko: pairs,
 * role-checked attach, records through lib/ring.c over the module's
 * pages, the other side's page read-only in the library's own mapping,
 * and a blocking ping-pong through the wait/wake ioctls (with the time it
 * took next to the same over futex(2) on memfd rings, for the log only).
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ring_module.h"
#include "cell_module.h"
#include "kselftest_harness.h"

#define SZ    (64 * 1024UL)
#define ROUND 2000

FIXTURE(lib)
{
	int fds[2];
};

FIXTURE_SETUP(lib)
{
	int err = cell_ring_module_present();

	if (err)
		SKIP(return, "no usable " DEV_CELL ": %s", strerror(-err));
	ASSERT_EQ(0, cell_ring_module_pair(SZ, self->fds));
}

FIXTURE_TEARDOWN(lib)
{
}

TEST_F(lib, pair_and_roles)
{
	struct cell_ring p, c;

	EXPECT_EQ(CELL_ROLE_PRODUCER, cell_ring_module_is_ring(self->fds[0]));
	EXPECT_EQ(CELL_ROLE_CONSUMER, cell_ring_module_is_ring(self->fds[1]));
	EXPECT_GT(0, cell_ring_module_is_ring(0)); /* stdin: not a ring */
	/* Wrong role or size: refused, fd still ours. */
	EXPECT_EQ(-EBADMSG, cell_ring_module_attach(&p, self->fds[1], CELL_ROLE_PRODUCER, 0));
	EXPECT_EQ(-EBADMSG, cell_ring_module_attach(&p, self->fds[0], CELL_ROLE_PRODUCER, SZ * 2));
	ASSERT_EQ(0, cell_ring_module_attach(&p, self->fds[0], CELL_ROLE_PRODUCER, SZ));
	ASSERT_EQ(0, cell_ring_module_attach(&c, self->fds[1], CELL_ROLE_CONSUMER, SZ));
	EXPECT_EQ(SZ, p.size);
	EXPECT_EQ(CELL_RING_GEOM_MODULE, p.geometry->flags);
	cell_ring_detach(&p);
	cell_ring_detach(&c);
	/* Both fds are closed now: a memfd-style fd is refused. */
	EXPECT_EQ(-EBADMSG, cell_ring_module_attach(&p, self->fds[0], CELL_ROLE_PRODUCER, 0));
}

TEST_F(lib, records_through_the_module)
{
	struct cell_ring p, c;
	struct cell_ring_view v;
	int i, status;
	pid_t pid;

	ASSERT_EQ(0, cell_ring_module_attach(&p, self->fds[0], CELL_ROLE_PRODUCER, SZ));
	ASSERT_EQ(0, cell_ring_module_attach(&c, self->fds[1], CELL_ROLE_CONSUMER, SZ));
	for (i = 0; i < 5000; i++) {
		uint32_t len = 8 + (uint32_t)(i * 37) % 2000;
		uint8_t *w = cell_ring_reserve(&p, len);

		ASSERT_NE(NULL, w);
		memset(w, (uint8_t)i, len);
		ASSERT_EQ(0, cell_ring_commit(&p, len));
		ASSERT_EQ(0, cell_ring_read(&c, &v));
		ASSERT_EQ(len, v.len);
		ASSERT_EQ((uint8_t)i, ((const uint8_t *)v.data)[len - 1]);
		cell_ring_release(&c, v.end);
	}
	/* The library's own mappings are role-protected. */
	pid = fork();
	if (pid == 0) {
		((volatile struct cell_ring_consumer *)p.consumer)->position = 0;
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV);
	pid = fork();
	if (pid == 0) {
		((volatile uint8_t *)c.data)[0] = 1;
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV);
	cell_ring_detach(&p);
	cell_ring_detach(&c);
}

/* ---- blocking ping-pong ------------------------------------------------ */

struct pingpong {
	struct cell_ring req_p, req_c, resp_p, resp_c;
	bool module;
	int rc;
};

static void wake_word(struct cell_ring *r, uint32_t *word, uint32_t *peer_waiting, bool module)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!__atomic_load_n(peer_waiting, __ATOMIC_RELAXED))
		return;
	__atomic_fetch_add(word, 1, __ATOMIC_RELEASE);
	if (module)
		cell_ring_module_wake(r, word);
	else
		syscall(SYS_futex, word, 1 /* FUTEX_WAKE */, 1, NULL, NULL, 0);
}

/* Read one record, sleeping (never spinning) until it comes. */
static int read_blocking(struct cell_ring *c, struct cell_ring_view *v, bool module)
{
	for (;;) {
		uint32_t seen = __atomic_load_n(&c->producer->wake, __ATOMIC_ACQUIRE);
		int rc;

		__atomic_store_n(&c->consumer->waiting, 1, __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		rc = cell_ring_read(c, v);
		if (rc != -EAGAIN) {
			__atomic_store_n(&c->consumer->waiting, 0, __ATOMIC_RELAXED);
			return rc;
		}
		if (module)
			rc = cell_ring_module_wait(c, &c->producer->wake, seen, UINT64_MAX);
		else
			rc = syscall(SYS_futex, &c->producer->wake, 0 /* FUTEX_WAIT */, seen, NULL,
				     NULL, 0) < 0 &&
					     errno != EAGAIN
				     ? -errno
				     : 0;
		if (rc && rc != -EINTR)
			return rc;
	}
}

static int send_one(struct cell_ring *p, uint32_t val, bool module)
{
	uint32_t *w = cell_ring_reserve(p, sizeof(val));

	if (!w)
		return -errno;
	*w = val;
	if (cell_ring_commit(p, sizeof(val)))
		return -EINVAL;
	wake_word(p, &p->producer->wake, &p->consumer->waiting, module);
	return 0;
}

static void *echo_main(void *arg)
{
	struct pingpong *pp = arg;
	struct cell_ring_view v;
	int i;

	for (i = 0; i < ROUND; i++) {
		uint32_t val;

		pp->rc = read_blocking(&pp->req_c, &v, pp->module);
		if (pp->rc)
			return NULL;
		memcpy(&val, v.data, sizeof(val));
		cell_ring_release(&pp->req_c, v.end);
		pp->rc = send_one(&pp->resp_p, val + 1, pp->module);
		if (pp->rc)
			return NULL;
	}
	return NULL;
}

static uint64_t pingpong_ns(struct __test_metadata *_metadata, struct pingpong *pp)
{
	struct cell_ring_view v;
	uint64_t t0;
	pthread_t t;
	int i;

	pp->req_c.spin_ns = CELL_RING_SPIN_NONE;
	ASSERT_EQ(0, pthread_create(&t, NULL, echo_main, pp));
	t0 = now_ns();
	for (i = 0; i < ROUND; i++) {
		uint32_t val;

		ASSERT_EQ(0, send_one(&pp->req_p, (uint32_t)i, pp->module));
		ASSERT_EQ(0, read_blocking(&pp->resp_c, &v, pp->module));
		memcpy(&val, v.data, sizeof(val));
		ASSERT_EQ((uint32_t)i + 1, val);
		cell_ring_release(&pp->resp_c, v.end);
	}
	t0 = now_ns() - t0;
	pthread_join(t, NULL);
	EXPECT_EQ(0, pp->rc);
	return t0;
}

TEST_F_TIMEOUT(lib, blocking_pingpong, 120)
{
	struct pingpong m = { .module = true }, f = { .module = false };
	int fds[2], mfd;
	uint64_t tm, tf;

	ASSERT_EQ(0, cell_ring_module_attach(&m.req_p, self->fds[0], CELL_ROLE_PRODUCER, SZ));
	ASSERT_EQ(0, cell_ring_module_attach(&m.req_c, self->fds[1], CELL_ROLE_CONSUMER, SZ));
	ASSERT_EQ(0, cell_ring_module_pair(SZ, fds));
	ASSERT_EQ(0, cell_ring_module_attach(&m.resp_p, fds[0], CELL_ROLE_PRODUCER, SZ));
	ASSERT_EQ(0, cell_ring_module_attach(&m.resp_c, fds[1], CELL_ROLE_CONSUMER, SZ));
	tm = pingpong_ns(_metadata, &m);

	/* The same over futex(2) on memfd rings (both sides map the same file). */
	mfd = cell_ring_create_memfd(SZ);
	ASSERT_LE(0, mfd);
	ASSERT_EQ(0, cell_ring_attach(&f.req_p, dup(mfd), CELL_ROLE_PRODUCER, SZ));
	ASSERT_EQ(0, cell_ring_attach(&f.req_c, mfd, CELL_ROLE_CONSUMER, SZ));
	mfd = cell_ring_create_memfd(SZ);
	ASSERT_LE(0, mfd);
	ASSERT_EQ(0, cell_ring_attach(&f.resp_p, dup(mfd), CELL_ROLE_PRODUCER, SZ));
	ASSERT_EQ(0, cell_ring_attach(&f.resp_c, mfd, CELL_ROLE_CONSUMER, SZ));
	tf = pingpong_ns(_metadata, &f);
	TH_LOG("blocking round trip (VM, emulated): module %.1f us, futex %.1f us, ratio %.2f",
	       (double)tm / ROUND / 1e3, (double)tf / ROUND / 1e3, (double)tm / (double)tf);

	cell_ring_detach(&m.req_p);
	cell_ring_detach(&m.req_c);
	cell_ring_detach(&m.resp_p);
	cell_ring_detach(&m.resp_c);
	cell_ring_detach(&f.req_p);
	cell_ring_detach(&f.req_c);
	cell_ring_detach(&f.resp_p);
	cell_ring_detach(&f.resp_c);
}

TEST_HARNESS_MAIN
