// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * The drain (cell_server_drain(), Documentation/capsid.rst "Hot swap"), in
 * one process on the memfd and unix paths: server A serves NAME, a
 * reconnecting client has a call held in A's handler, server B binds in a
 * staging directory and its socket is renamed over A's, then A drains.
 * The held call is answered by A; the calls after it go to B; A stops by
 * itself once the client has left (well before its 60 s drain timeout);
 * no call fails; A leaves the socket file (now B's) in place.  A client
 * calling back to back holds back neither a newcomer nor the drain.  And a
 * server that drains with no client stops at once.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cell/rpc.h>
#include <cell/time.h>

#include "kselftest_harness.h"

#define FP    0xd7a1dd7a1d0000d7ULL
#define M_TAG 1 /* request: u32 hold (1: wait until released); answer: u32 the server's tag */
#define NAME  "draintest"
#define WORK  2 /* hold: 20 us of work before the answer */
#define TRIES 1000 /* calls of 10 ms apart at most, waiting for A to stop */

struct tagged {
	struct cell_server *srv;
	uint32_t tag;
	unsigned int threads; /* of its cell_server_run() (0: 2) */
	uint64_t spin_ns;     /* its opts.spin_ns (0: the default) */
	int run_rc;
	atomic_bool stopped; /* its cell_server_run() returned */
	pthread_t thread;
};

static atomic_bool held, release;

static enum cell_status tag_of(const struct cell_vesicle *req, struct cell_reply *reply, void *ctx)
{
	const struct tagged *t = ctx;
	uint32_t hold;

	if (req->len != sizeof(hold))
		return CELL_STATUS_INVALID_ARGUMENT;
	memcpy(&hold, req->data, sizeof(hold));
	if (hold == WORK) {
		uint64_t end = cell_now_ns() + 20 * CELL_NSEC_PER_USEC;

		while (cell_now_ns() < end)
			;
	} else if (hold) {
		atomic_store(&held, true);
		while (!atomic_load(&release))
			usleep(1000);
	}
	return cell_reply_send(reply, &t->tag, sizeof(t->tag)) ? CELL_STATUS_INTERNAL
							       : CELL_STATUS_OK;
}

static void *serve(void *arg)
{
	struct tagged *t = arg;

	t->run_rc = cell_server_run(t->srv, t->threads ? t->threads : 2);
	atomic_store(&t->stopped, true);
	return NULL;
}

static int start(struct tagged *t, const char *dir, uint32_t tag, enum cell_ring_backend backend)
{
	struct cell_server_opts o = {
		.sz = sizeof(o),
		.fingerprint = FP,
		.runtime_dir = dir,
		.backend = backend,
		.no_register = 1,
		.spin_ns = t->spin_ns,
	};

	t->tag = tag;
	atomic_store(&t->stopped, false);
	t->srv = cell_server_new(NAME, &o);
	if (!t->srv || cell_server_handle(t->srv, M_TAG, tag_of, t))
		return -1;
	return pthread_create(&t->thread, NULL, serve, t) ? -1 : 0;
}

struct caller {
	struct cell_client *c;
	uint32_t hold, tag;
	enum cell_status st;
	pthread_t thread;
};

static void *call_once(void *arg)
{
	struct caller *k = arg;

	k->st = cell_client_call(k->c, M_TAG, &k->hold, sizeof(k->hold), &k->tag, sizeof(k->tag),
				 NULL, cell_deadline_in_ms(30000));
	return NULL;
}

FIXTURE(drain)
{
	char dir[64], next[80];
	struct tagged a, b;
	struct cell_client *c;
};

FIXTURE_VARIANT(drain)
{
	enum cell_ring_backend backend;
};

FIXTURE_VARIANT_ADD(drain, memfd){
	.backend = CELL_RING_BACKEND_MEMFD,
};

FIXTURE_VARIANT_ADD(drain, unix){
	.backend = CELL_RING_BACKEND_NONE,
};

FIXTURE_SETUP(drain)
{
	struct cell_client_opts o = {
		.sz = sizeof(o),
		.fingerprint = FP,
		.runtime_dir = self->dir,
		.backend = variant->backend,
		.reconnect = 1,
	};

	snprintf(self->dir, sizeof(self->dir), "/tmp/cell-draintest-%d", getpid());
	snprintf(self->next, sizeof(self->next), "%s/next", self->dir);
	ASSERT_EQ(0, mkdir(self->dir, 0700));
	ASSERT_EQ(0, mkdir(self->next, 0700));
	atomic_store(&held, false);
	atomic_store(&release, false);
	ASSERT_EQ(0, start(&self->a, self->dir, 'A', variant->backend));
	self->c = cell_client_connect(NAME, &o);
	ASSERT_NE(NULL, self->c);
}

FIXTURE_TEARDOWN(drain)
{
	char path[160];

	atomic_store(&release, true);
	cell_client_free(self->c);
	for (int i = 0; i < 2; i++) {
		struct tagged *t = i ? &self->b : &self->a;

		if (!t->srv)
			continue;
		cell_server_stop(t->srv);
		pthread_join(t->thread, NULL);
		cell_server_free(t->srv);
	}
	snprintf(path, sizeof(path), "%s/%s.sock", self->dir, NAME);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%s.sock", self->next, NAME);
	unlink(path);
	rmdir(self->next);
	rmdir(self->dir);
}

TEST_F(drain, held_call_answered_by_the_old_server_then_calls_go_to_the_new_one)
{
	struct caller x = { .c = self->c, .hold = 1 }, y = { .c = self->c };
	char from[160], to[160];
	struct stat st;
	int tries = 0, on_b = 0;

	ASSERT_EQ(0, pthread_create(&x.thread, NULL, call_once, &x));
	while (!atomic_load(&held))
		usleep(1000);
	ASSERT_EQ(0, start(&self->b, self->next, 'B', variant->backend));
	snprintf(from, sizeof(from), "%s/%s.sock", self->next, NAME);
	snprintf(to, sizeof(to), "%s/%s.sock", self->dir, NAME);
	ASSERT_EQ(0, rename(from, to));
	cell_server_drain(self->a.srv, 60000);
	/* A second caller meanwhile: it waits for the held call or goes on on A; either is fine. */
	ASSERT_EQ(0, pthread_create(&y.thread, NULL, call_once, &y));
	usleep(20 * 1000);
	atomic_store(&release, true);
	pthread_join(x.thread, NULL);
	pthread_join(y.thread, NULL);
	EXPECT_EQ(CELL_STATUS_OK, x.st);
	EXPECT_EQ('A', x.tag);
	EXPECT_EQ(CELL_STATUS_OK, y.st);
	on_b = y.tag == 'B';
	/*
	 * Calls until A has stopped: each answered, and once the client left A,
	 * by B.  A stops only once the client has left it, which a call after
	 * the GOODBYE does: so some call, Y or one of these, was B's.
	 */
	while (!atomic_load(&self->a.stopped) && tries++ < TRIES) {
		struct caller z = { .c = self->c };

		call_once(&z);
		ASSERT_EQ(CELL_STATUS_OK, z.st);
		on_b += z.tag == 'B';
		usleep(10 * 1000);
	}
	EXPECT_TRUE(atomic_load(&self->a.stopped));
	EXPECT_LT(0, on_b);
	/* A left the socket file alone: it is B's, and B answers there. */
	EXPECT_EQ(0, stat(to, &st));
	{
		struct caller z = { .c = self->c };

		call_once(&z);
		EXPECT_EQ(CELL_STATUS_OK, z.st);
		EXPECT_EQ('B', z.tag);
	}
}

struct hammer {
	struct cell_client *c;
	atomic_bool stop;
	atomic_uint calls, failed, on_b;
	pthread_t thread[2];
};

/* Calls back to back on the shared client until told to stop. */
static void *hammer(void *arg)
{
	struct hammer *h = arg;

	while (!atomic_load(&h->stop)) {
		struct caller k = { .c = h->c, .hold = WORK };

		call_once(&k);
		if (k.st != CELL_STATUS_OK)
			atomic_fetch_add(&h->failed, 1);
		else if (k.tag == 'B')
			atomic_fetch_add(&h->on_b, 1);
		atomic_fetch_add(&h->calls, 1);
	}
	return NULL;
}

/*
 * A reconnecting client whose two threads call back to back keeps A's one
 * worker busy: it spins up to 1 s for the next request (opts.spin_ns), and
 * the next one always comes sooner.  A newcomer is served all the
 * same, and A's drain still happens: A stops once the client has moved to
 * B, no call failing.  Before the worker's time slice neither happened on
 * the memfd path: a connection kept its worker until its ring stayed dry
 * for spin_ns (50 us by default: a busy enough client held it for good).
 */
TEST_F(drain, a_busy_client_holds_back_neither_a_newcomer_nor_the_drain)
{
	struct hammer h = { 0 };
	struct caller z = { 0 };
	struct cell_client_opts o = {
		.sz = sizeof(o),
		.fingerprint = FP,
		.runtime_dir = self->dir,
		.backend = variant->backend,
	};
	char from[160], to[160];
	int tries = 0;

	/* A again, with one worker; the set-up's client is the hammer's. */
	cell_server_stop(self->a.srv);
	pthread_join(self->a.thread, NULL);
	cell_server_free(self->a.srv);
	self->a.threads = 1;
	self->a.spin_ns = CELL_NSEC_PER_SEC; /* a worker waits that long for the next request */
	ASSERT_EQ(0, start(&self->a, self->dir, 'A', variant->backend));
	h.c = self->c;
	for (int i = 0; i < 2; i++)
		ASSERT_EQ(0, pthread_create(&h.thread[i], NULL, hammer, &h));
	while (atomic_load(&h.calls) < 2000 && tries++ < TRIES)
		usleep(10 * 1000);
	z.c = cell_client_connect(NAME, &o);
	EXPECT_NE(NULL, z.c);
	if (z.c) {
		call_once(&z);
		EXPECT_EQ(CELL_STATUS_OK, z.st);
		EXPECT_EQ('A', z.tag);
		cell_client_free(z.c);
	}
	ASSERT_EQ(0, start(&self->b, self->next, 'B', variant->backend));
	snprintf(from, sizeof(from), "%s/%s.sock", self->next, NAME);
	snprintf(to, sizeof(to), "%s/%s.sock", self->dir, NAME);
	ASSERT_EQ(0, rename(from, to));
	cell_server_drain(self->a.srv, 60000);
	for (tries = 0; tries < TRIES && !atomic_load(&self->a.stopped); tries++)
		usleep(10 * 1000);
	EXPECT_TRUE(atomic_load(&self->a.stopped));
	atomic_store(&h.stop, true);
	for (int i = 0; i < 2; i++)
		pthread_join(h.thread[i], NULL);
	EXPECT_EQ(0, atomic_load(&h.failed));
	EXPECT_LT(0, atomic_load(&h.on_b));
}

TEST_F(drain, a_server_without_clients_stops_at_once)
{
	cell_client_free(self->c);
	self->c = NULL;
	cell_server_drain(self->a.srv, 60000);
	for (int i = 0; i < TRIES && !atomic_load(&self->a.stopped); i++)
		usleep(10 * 1000);
	EXPECT_TRUE(atomic_load(&self->a.stopped));
}

TEST_HARNESS_MAIN
