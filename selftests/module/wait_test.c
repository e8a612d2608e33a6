// SPDX-License-Identifier: GPL-2.0-only
/*
 * cell.ko wait and wake: value changed, timeouts (relative, absolute),
 * wake counts, signals, peer death (-EPIPE), poll readiness and POLLHUP.
 */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>

#include "cell_module.h"
#include "kselftest_harness.h"

#define SZ (16 * 1024UL)
#define MS 1000000ULL

struct waiter {
	pthread_t thread;
	int fd;
	uint32_t word, expected;
	uint64_t timeout_ns;
	uint32_t flags;
	atomic_int started;
	atomic_int done;
	int rc;
	uint64_t took_ns;
};

static void *waiter_main(void *arg)
{
	struct waiter *w = arg;
	uint64_t t0 = now_ns();

	atomic_store(&w->started, 1);
	w->rc = ring_wait(w->fd, w->word, w->expected, w->timeout_ns, w->flags);
	w->took_ns = now_ns() - t0;
	atomic_store(&w->done, 1);
	return NULL;
}

static void start_waiter(struct waiter *w, int fd, uint32_t word, uint32_t expected)
{
	memset(w, 0, sizeof(*w));
	w->fd = fd;
	w->word = word;
	w->expected = expected;
	w->timeout_ns = CELL_WAIT_FOREVER;
	pthread_create(&w->thread, NULL, waiter_main, w);
	while (!atomic_load(&w->started))
		usleep(100);
	usleep(50 * 1000); /* let it reach the sleep (there is no way to see it from here) */
}

static void on_signal(int sig)
{
	(void)sig;
}

FIXTURE(wait)
{
	int dev, prod, cons;
	struct cell_ring_producer *pp; /* producer page, producer's writable view */
	struct cell_ring_consumer *cc; /* consumer page, consumer's writable view */
};

FIXTURE_SETUP(wait)
{
	self->dev = cell_dev();
	if (self->dev < 0)
		SKIP(return, "no " DEV_CELL ": %s", strerror(-self->dev));
	self->prod = ring_create(self->dev, SZ, NULL);
	ASSERT_LE(0, self->prod);
	self->cons = ring_open(self->prod);
	ASSERT_LE(0, self->cons);
	self->pp = ring_map(self->prod, PG, PG, PROT_READ | PROT_WRITE);
	self->cc = ring_map(self->cons, 2 * PG, PG, PROT_READ | PROT_WRITE);
	ASSERT_NE(NULL, self->pp);
	ASSERT_NE(NULL, self->cc);
}

FIXTURE_TEARDOWN(wait)
{
	if (self->dev < 0)
		return;
	munmap(self->pp, PG);
	munmap(self->cc, PG);
	if (self->cons >= 0)
		close(self->cons);
	if (self->prod >= 0)
		close(self->prod);
	close(self->dev);
}

TEST_F(wait, value_differs)
{
	self->pp->wake = 7;
	EXPECT_EQ(0, ring_wait(self->cons, CELL_WORD_PRODUCER, 6, CELL_WAIT_FOREVER, 0));
	self->cc->wake = 3;
	EXPECT_EQ(0, ring_wait(self->prod, CELL_WORD_CONSUMER, 0, CELL_WAIT_FOREVER, 0));
}

TEST_F(wait, timeouts)
{
	uint64_t t0 = now_ns();

	EXPECT_EQ(-ETIMEDOUT, ring_wait(self->cons, CELL_WORD_PRODUCER, 0, 0, 0));
	t0 = now_ns();
	EXPECT_EQ(-ETIMEDOUT, ring_wait(self->cons, CELL_WORD_PRODUCER, 0, 50 * MS, 0));
	EXPECT_LE(50 * MS, now_ns() - t0);
	t0 = now_ns();
	EXPECT_EQ(-ETIMEDOUT,
		  ring_wait(self->cons, CELL_WORD_PRODUCER, 0, t0 + 30 * MS, CELL_WAIT_ABSOLUTE));
	EXPECT_LE(30 * MS, now_ns() - t0);
	/* An absolute time in the past. */
	EXPECT_EQ(-ETIMEDOUT, ring_wait(self->prod, CELL_WORD_CONSUMER, 0, 1, CELL_WAIT_ABSOLUTE));
	/* Huge relative timeouts are not an error (they saturate). */
	self->pp->wake = 1;
	EXPECT_EQ(0, ring_wait(self->cons, CELL_WORD_PRODUCER, 0, ~0ULL - 1, 0));
}

TEST_F(wait, wake_one_and_all)
{
	struct waiter w[3];
	uint32_t woken = 99;
	int i;

	EXPECT_EQ(0, ring_wake(self->prod, CELL_WORD_PRODUCER, 0, &woken));
	EXPECT_EQ(0, woken);
	for (i = 0; i < 3; i++)
		start_waiter(&w[i], self->cons, CELL_WORD_PRODUCER, 0);
	/* A wake on the other word wakes nobody here. */
	EXPECT_EQ(0, ring_wake(self->prod, CELL_WORD_CONSUMER, 0, &woken));
	EXPECT_EQ(0, woken);
	self->pp->wake = 1;
	EXPECT_EQ(0, ring_wake(self->prod, CELL_WORD_PRODUCER, 1, &woken));
	EXPECT_EQ(1, woken);
	EXPECT_EQ(0, ring_wake(self->prod, CELL_WORD_PRODUCER, 0, &woken));
	EXPECT_EQ(2, woken);
	for (i = 0; i < 3; i++) {
		pthread_join(w[i].thread, NULL);
		EXPECT_EQ(0, w[i].rc);
	}
	/* A wake is an event even if the word did not change (futex semantics). */
	self->pp->wake = 0;
	start_waiter(&w[0], self->cons, CELL_WORD_PRODUCER, 0);
	EXPECT_EQ(0, ring_wake(self->cons, CELL_WORD_PRODUCER, 0, &woken));
	EXPECT_EQ(1, woken);
	pthread_join(w[0].thread, NULL);
	EXPECT_EQ(0, w[0].rc);
}

TEST_F(wait, signal_interrupts)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct waiter w;

	sigaction(SIGUSR1, &sa, NULL); /* no SA_RESTART */
	start_waiter(&w, self->prod, CELL_WORD_CONSUMER, 0);
	pthread_kill(w.thread, SIGUSR1);
	pthread_join(w.thread, NULL);
	EXPECT_EQ(-EINTR, w.rc);
}

TEST_F(wait, producer_death_wakes_consumer)
{
	struct waiter w;

	start_waiter(&w, self->cons, CELL_WORD_PRODUCER, 0);
	/* The producer's mapping holds its file: the side is alive until it goes. */
	close(self->prod);
	self->prod = -1;
	usleep(50 * 1000);
	EXPECT_EQ(0, atomic_load(&w.done)); /* still asleep */
	munmap(self->pp, PG);
	self->pp = NULL;
	pthread_join(w.thread, NULL);
	EXPECT_EQ(-EPIPE, w.rc);
	/* And from then on, at once. */
	EXPECT_EQ(-EPIPE, ring_wait(self->cons, CELL_WORD_PRODUCER, 0, CELL_WAIT_FOREVER, 0));
	EXPECT_EQ(-EPIPE, ring_wait(self->cons, CELL_WORD_CONSUMER, 0, CELL_WAIT_FOREVER, 0));
}

TEST_F(wait, consumer_death_wakes_producer)
{
	struct waiter w;
	struct cell_ring_info info;

	start_waiter(&w, self->prod, CELL_WORD_CONSUMER, 0);
	munmap(self->cc, PG);
	self->cc = NULL;
	close(self->cons);
	self->cons = -1;
	pthread_join(w.thread, NULL);
	EXPECT_EQ(-EPIPE, w.rc);
	ASSERT_EQ(0, ring_info(self->prod, &info));
	EXPECT_EQ(0, info.peer_alive);
	EXPECT_EQ(-EPIPE, ring_open(self->prod));
}

/* A process's death closes its side too. */
TEST_F(wait, peer_process_death)
{
	struct waiter w;
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		close(self->cons);
		pause();
		_exit(0);
	}
	close(self->prod);
	self->prod = -1;
	munmap(self->pp, PG);
	self->pp = NULL;
	start_waiter(&w, self->cons, CELL_WORD_PRODUCER, 0);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	pthread_join(w.thread, NULL);
	EXPECT_EQ(-EPIPE, w.rc);
}

TEST_F(wait, poll_readiness)
{
	struct pollfd pc = { .fd = self->cons, .events = POLLIN };
	struct pollfd pp = { .fd = self->prod, .events = POLLOUT };

	EXPECT_EQ(0, poll(&pc, 1, 0));
	EXPECT_EQ(1, poll(&pp, 1, 0));
	EXPECT_EQ(POLLOUT, pp.revents);
	/* Data committed: readable. */
	self->pp->position = 64;
	EXPECT_EQ(1, poll(&pc, 1, 0));
	EXPECT_EQ(POLLIN, pc.revents);
	/* Full: not writable until the consumer releases. */
	self->pp->position = SZ;
	EXPECT_EQ(0, poll(&pp, 1, 0));
	self->cc->position = 64;
	EXPECT_EQ(1, poll(&pp, 1, 0));
	self->cc->position = SZ;
	EXPECT_EQ(0, poll(&pc, 1, 0));
}

struct poller {
	int fd;
	short events;
	int rc;
	short revents;
	uint64_t took_ns;
};

static void *poller_main(void *arg)
{
	struct poller *p = arg;
	struct pollfd pfd = { .fd = p->fd, .events = p->events };
	uint64_t t0 = now_ns();

	p->rc = poll(&pfd, 1, 10000);
	p->revents = pfd.revents;
	p->took_ns = now_ns() - t0;
	return NULL;
}

TEST_F(wait, poll_wakes_on_wake_and_hangup)
{
	struct poller p = { .fd = self->cons, .events = POLLIN };
	pthread_t t;

	pthread_create(&t, NULL, poller_main, &p);
	usleep(100 * 1000);
	self->pp->position = 8;
	EXPECT_EQ(0, ring_wake(self->prod, CELL_WORD_PRODUCER, 0, NULL));
	pthread_join(t, NULL);
	EXPECT_EQ(1, p.rc);
	EXPECT_EQ(POLLIN, p.revents);
	EXPECT_GT(5000 * MS, p.took_ns);

	self->cc->position = 8;
	p = (struct poller){ .fd = self->cons, .events = POLLIN };
	pthread_create(&t, NULL, poller_main, &p);
	usleep(100 * 1000);
	close(self->prod);
	self->prod = -1;
	munmap(self->pp, PG);
	self->pp = NULL;
	pthread_join(t, NULL);
	EXPECT_EQ(1, p.rc);
	EXPECT_EQ(POLLHUP, p.revents);
	EXPECT_GT(5000 * MS, p.took_ns);
}

TEST_HARNESS_MAIN
