// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Pool (cell/pool.h): N connections run N calls at once on a server with
 * N threads (one connection runs them one after the other); members
 * whose breaker is open are skipped; every member reconnects after the
 * server restarts; bad options are refused.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cell/pool.h>
#include <cell/resilience.h>
#include <cell/rpc.h>
#include <cell/time.h>

#include "server_child.h"

#include "kselftest_harness.h"

#define FP	0x9001900190019001ULL
#define M_SLEEP 1 /* sleeps 20 ms, answers empty */
#define M_ECHO	2
#define NAME	"pooltest"
#define THREADS 8
#define CALLS	5

static enum cell_status sleep20(const struct cell_vesicle *req, struct cell_reply *reply, void *ctx)
{
	(void)req;
	(void)reply;
	(void)ctx;
	usleep(20 * 1000);
	return CELL_STATUS_OK;
}

static enum cell_status echo(const struct cell_vesicle *req, struct cell_reply *reply, void *ctx)
{
	(void)ctx;
	return echo_in_place(req, reply);
}

static struct cell_server *make_server(void *arg)
{
	struct cell_server_opts o = {
		.sz = sizeof(o),
		.fingerprint = FP,
		.runtime_dir = arg,
		.no_register = 1,
	};
	struct cell_server *srv = cell_server_new(NAME, &o);

	if (!srv)
		return NULL;
	if (cell_server_handle(srv, M_SLEEP, sleep20, NULL) ||
	    cell_server_handle(srv, M_ECHO, echo, NULL)) {
		cell_server_free(srv);
		return NULL;
	}
	return srv;
}

FIXTURE(pool)
{
	char dir[64];
	pid_t server;
	struct cell_client_opts copts;
	struct cell_resilience_opts ro;
};

FIXTURE_SETUP(pool)
{
	snprintf(self->dir, sizeof(self->dir), "/tmp/cell-pooltest-%d", getpid());
	ASSERT_EQ(0, mkdir(self->dir, 0700));
	self->server = fork_server(make_server, self->dir, 4);
	ASSERT_LT(0, self->server);
	self->ro = (struct cell_resilience_opts){ .sz = sizeof(self->ro), .max_retries = 3 };
	self->copts = (struct cell_client_opts){
		.sz = sizeof(self->copts),
		.fingerprint = FP,
		.runtime_dir = self->dir,
		.resilience = &self->ro,
	};
}

FIXTURE_TEARDOWN(pool)
{
	char path[128];

	if (self->server > 0) {
		kill(self->server, SIGKILL);
		waitpid(self->server, NULL, 0);
	}
	snprintf(path, sizeof(path), "%s/%s.sock", self->dir, NAME);
	unlink(path);
	rmdir(self->dir);
}

struct load {
	struct cell_pool *p;
	int failed;
};

static void *calls(void *arg)
{
	struct load *l = arg;

	for (int i = 0; i < CALLS; i++)
		if (cell_pool_call(l->p, M_SLEEP, NULL, 0, NULL, 0, NULL,
				   cell_deadline_in_ms(5000)) != CELL_STATUS_OK)
			__atomic_add_fetch(&l->failed, 1, __ATOMIC_RELAXED);
	return NULL;
}

/* Wall time of THREADS x CALLS 20 ms calls through a pool of @size. */
static uint64_t timed_load(struct _test_data_pool *self, uint32_t size, int *failed)
{
	struct cell_pool_opts po = { .sz = sizeof(po), .size = size };
	struct load l = { .p = cell_pool_connect(NAME, &self->copts, &po) };
	pthread_t t[THREADS];
	uint64_t t0;
	int i;

	if (!l.p)
		return 0;
	t0 = cell_now_ns();
	for (i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, calls, &l);
	for (i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	t0 = cell_now_ns() - t0;
	*failed = l.failed;
	cell_pool_free(l.p);
	return t0;
}

TEST_F(pool, four_connections_run_four_calls_at_once)
{
	int failed1 = -1, failed4 = -1;
	uint64_t one = timed_load(self, 1, &failed1);
	uint64_t four = timed_load(self, 4, &failed4);

	TH_LOG("%d x %d calls of 20 ms on a 4-thread server: 1 connection %llu ms, 4 connections "
	       "%llu ms",
	       THREADS, CALLS, (unsigned long long)(one / CELL_NSEC_PER_MSEC),
	       (unsigned long long)(four / CELL_NSEC_PER_MSEC));
	ASSERT_NE(0, one);
	ASSERT_NE(0, four);
	EXPECT_EQ(0, failed1);
	EXPECT_EQ(0, failed4);
	/* Ideally 800 ms and 200 ms. */
	EXPECT_GE(one, 780 * CELL_NSEC_PER_MSEC);
	EXPECT_LT(four * 10, one * 6);
}

TEST_F(pool, members_with_an_open_breaker_are_skipped)
{
	struct cell_pool_opts po = { .sz = sizeof(po), .size = 3 };
	struct cell_pool *p;
	int hits[3] = { 0 }, i, j;

	self->ro.breaker_threshold = 2;
	p = cell_pool_connect(NAME, &self->copts, &po);
	ASSERT_NE(NULL, p);
	ASSERT_EQ(3, cell_pool_size(p));
	EXPECT_EQ(NULL, cell_pool_member(p, 3));
	cell_resilience_record(cell_client_resilience(cell_pool_member(p, 1)), 0);
	cell_resilience_record(cell_client_resilience(cell_pool_member(p, 1)), 0);
	ASSERT_EQ(CELL_BREAKER_OPEN,
		  cell_resilience_state(cell_client_resilience(cell_pool_member(p, 1))));
	for (i = 0; i < 30; i++) {
		struct cell_client *c = cell_pool_get(p);

		for (j = 0; j < 3; j++)
			hits[j] += c == cell_pool_member(p, j);
	}
	EXPECT_EQ(0, hits[1]);
	EXPECT_GE(hits[0], 10);
	EXPECT_GE(hits[2], 10);
	/* All open: still a member (its calls fail fast). */
	for (j = 0; j < 3; j += 2) {
		cell_resilience_record(cell_client_resilience(cell_pool_member(p, j)), 0);
		cell_resilience_record(cell_client_resilience(cell_pool_member(p, j)), 0);
	}
	EXPECT_NE(NULL, cell_pool_get(p));
	EXPECT_EQ(CELL_STATUS_UNAVAILABLE,
		  cell_pool_call(p, M_ECHO, "x", 1, NULL, 0, NULL, cell_deadline_in_ms(1000)));
	cell_pool_free(p);
}

TEST_F(pool, every_member_reconnects_after_the_server_restarts)
{
	struct cell_pool_opts po = { .sz = sizeof(po), .size = 3 };
	struct cell_pool *p = cell_pool_connect(NAME, &self->copts, &po);
	char out[8];
	int i;

	ASSERT_NE(NULL, p);
	kill(self->server, SIGKILL);
	waitpid(self->server, NULL, 0);
	self->server = fork_server(make_server, self->dir, 4);
	ASSERT_LT(0, self->server);
	for (i = 0; i < 9; i++)
		EXPECT_EQ(CELL_STATUS_OK, cell_pool_call(p, M_ECHO, "hello", 5, out, sizeof(out),
							 NULL, cell_deadline_in_ms(2000)))
	TH_LOG("%s", cell_last_error(NULL));
	for (i = 0; i < 3; i++)
		EXPECT_TRUE(cell_client_connected(cell_pool_member(p, i)));
	cell_pool_free(p);
}

TEST_F(pool, bad_options_are_refused)
{
	struct cell_pool_opts po = { .sz = sizeof(po), .size = CELL_POOL_MAX_SIZE + 1 };

	EXPECT_EQ(NULL, cell_pool_connect(NAME, &self->copts, &po));
	EXPECT_EQ(EINVAL, errno);
	po.sz = 0;
	EXPECT_EQ(NULL, cell_pool_connect(NAME, &self->copts, &po));
	EXPECT_EQ(EINVAL, errno);
	self->ro.sz = 0; /* the members' resilience options */
	po = (struct cell_pool_opts){ .sz = sizeof(po), .size = 2 };
	EXPECT_EQ(NULL, cell_pool_connect(NAME, &self->copts, &po));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(NULL, cell_pool_connect("no-such-cell", NULL, NULL));
}

TEST_HARNESS_MAIN
