// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * One client shared by several threads against a server running on two
 * threads, all in this process so ThreadSanitizer sees both sides: every
 * call gets its own answer (the leader/follower reader hands responses to
 * the right waiter), with blocking and spinning waits, on both paths.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cell/rpc.h>
#include <cell/wire.h>

#include "kselftest_harness.h"

#define FP	0xabad1deaULL
#define M_ECHO	1
#define THREADS 4

static unsigned int calls_per_thread(void)
{
	const char *env = getenv("CELL_TEST_CALLS");

	return env ? (unsigned int)atoi(env) : 3000;
}

static enum cell_status echo(const struct cell_vesicle *req, struct cell_reply *reply, void *ctx)
{
	(void)ctx;
	return cell_reply_send(reply, req->data, req->len) ? CELL_STATUS_INTERNAL : CELL_STATUS_OK;
}

struct worker {
	struct cell_client *c;
	unsigned int id;
	unsigned int bad;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	uint8_t req[600], resp[600];
	unsigned int n = calls_per_thread();

	for (unsigned int i = 0; i < n; i++) {
		uint32_t len = 8 + (i * 37 + w->id * 11) % 500, got = 0;

		for (uint32_t j = 0; j < len; j++)
			req[j] = (uint8_t)(w->id * 7 + i + j);
		enum cell_status st = cell_client_call(w->c, M_ECHO, req, len, resp, sizeof(resp),
						       &got, cell_deadline_in_ms(10000));

		if (st != CELL_STATUS_OK || got != len || memcmp(req, resp, len)) {
			if (!w->bad++)
				fprintf(stderr, "# thread %u call %u: %s (%s), %u of %u bytes\n",
					w->id, i, cell_status_name(st), cell_last_error(NULL), got,
					len);
		}
	}
	return NULL;
}

static void *serve(void *arg)
{
	return (void *)(intptr_t)cell_server_run(arg, 2);
}

FIXTURE(threads)
{
	char dir[64];
	struct cell_server *srv;
	pthread_t server;
};

FIXTURE_VARIANT(threads)
{
	enum cell_ring_backend backend;
	uint64_t spin_ns;
};

FIXTURE_VARIANT_ADD(threads, memfd_spin){
	.backend = CELL_RING_BACKEND_MEMFD,
};

FIXTURE_VARIANT_ADD(threads, memfd_blocking){
	.backend = CELL_RING_BACKEND_MEMFD,
	.spin_ns = CELL_SPIN_NONE,
};

FIXTURE_VARIANT_ADD(threads, unix_socket){
	.backend = CELL_RING_BACKEND_NONE,
};

FIXTURE_SETUP(threads)
{
	struct cell_server_opts o = {
		.sz = sizeof(o),
		.fingerprint = FP,
		.backend = variant->backend,
		.spin_ns = variant->spin_ns,
	};

	strcpy(self->dir, "/tmp/cell-threads-XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	o.runtime_dir = self->dir;
	self->srv = cell_server_new("threads", &o);
	ASSERT_NE(NULL, self->srv);
	ASSERT_EQ(0, cell_server_handle(self->srv, M_ECHO, echo, NULL));
	ASSERT_EQ(0, pthread_create(&self->server, NULL, serve, self->srv));
}

FIXTURE_TEARDOWN(threads)
{
	cell_server_stop(self->srv);
	pthread_join(self->server, NULL);
	cell_server_free(self->srv);
	rmdir(self->dir);
}

TEST_F(threads, shared_client_every_answer_to_its_caller)
{
	struct cell_client_opts o = {
		.sz = sizeof(o),
		.fingerprint = FP,
		.runtime_dir = self->dir,
		.backend = variant->backend,
		.spin_ns = variant->spin_ns,
	};
	struct worker w[THREADS];
	pthread_t t[THREADS];
	struct cell_client *c = cell_client_connect("threads", &o);

	ASSERT_NE(NULL, c) TH_LOG("%s", cell_last_error(NULL));
	for (unsigned int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){ .c = c, .id = i };
		ASSERT_EQ(0, pthread_create(&t[i], NULL, work, &w[i]));
	}
	for (unsigned int i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		EXPECT_EQ(0, w[i].bad) TH_LOG("thread %u: %u bad calls", i, w[i].bad);
	}
	cell_client_free(c);
}

TEST_F(threads, many_clients_at_once)
{
	struct cell_client_opts o = {
		.sz = sizeof(o),
		.fingerprint = FP,
		.runtime_dir = self->dir,
		.backend = variant->backend,
		.spin_ns = variant->spin_ns,
	};
	struct worker w[THREADS];
	pthread_t t[THREADS];

	for (unsigned int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){ .c = cell_client_connect("threads", &o), .id = i };
		ASSERT_NE(NULL, w[i].c);
		ASSERT_EQ(0, pthread_create(&t[i], NULL, work, &w[i]));
	}
	for (unsigned int i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		EXPECT_EQ(0, w[i].bad);
		cell_client_free(w[i].c);
	}
}

TEST_HARNESS_MAIN
