// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * The server's gauges in its METRICS answer: a call whose handler is
 * still running counts as in flight, each connected client as a client;
 * Cell's own methods (the METRICS call itself) are no load.  A decoder of
 * version 1 (empty request) still gets a version 1 answer.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cell/metrics.h>
#include <cell/rpc.h>

#include "kselftest_harness.h"
#include "server_child.h"

#define FP	  0x6a06e6a06e6a06eULL
#define M_BLOCK	  1 /* returns once M_RELEASE came (or after 10 s) */
#define M_RELEASE 2

static atomic_int released;

static enum cell_status block(const struct cell_vesicle *req, struct cell_reply *reply, void *ctx)
{
	struct timespec pause = { 0, 1000000 };

	(void)req;
	(void)reply;
	(void)ctx;
	for (int i = 0; i < 10000 && !atomic_load(&released); i++)
		nanosleep(&pause, NULL);
	return CELL_STATUS_OK;
}

static enum cell_status release(const struct cell_vesicle *req, struct cell_reply *reply, void *ctx)
{
	(void)req;
	(void)reply;
	(void)ctx;
	atomic_store(&released, 1);
	return CELL_STATUS_OK;
}

static struct cell_server *make_server(void *arg)
{
	struct cell_server_opts o = {
		.sz = sizeof(o),
		.fingerprint = FP,
		.runtime_dir = arg,
		.metrics = cell_metrics_new(NULL),
	};
	struct cell_server *srv = o.metrics ? cell_server_new("gauge", &o) : NULL;

	if (srv && (cell_server_handle(srv, M_BLOCK, block, NULL) ||
		    cell_server_handle(srv, M_RELEASE, release, NULL))) {
		cell_server_free(srv);
		return NULL;
	}
	return srv;
}

FIXTURE(gauge)
{
	char dir[64];
	pid_t pid;
	struct cell_client *a, *b;
};

static struct cell_client *connect_to(const char *dir)
{
	struct cell_client_opts o = { .sz = sizeof(o), .fingerprint = FP, .runtime_dir = dir };

	return cell_client_connect("gauge", &o);
}

FIXTURE_SETUP(gauge)
{
	strcpy(self->dir, "/tmp/cell-gauge-XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	/* Two threads: one may sit in M_BLOCK while the other answers. */
	self->pid = fork_server(make_server, self->dir, 2);
	ASSERT_LT(0, self->pid);
	self->a = connect_to(self->dir);
	self->b = connect_to(self->dir);
	ASSERT_NE(NULL, self->a);
	ASSERT_NE(NULL, self->b);
}

FIXTURE_TEARDOWN(gauge)
{
	char path[128];

	cell_client_free(self->a);
	cell_client_free(self->b);
	if (self->pid > 0) {
		kill(self->pid, SIGKILL);
		waitpid(self->pid, NULL, 0);
	}
	snprintf(path, sizeof(path), "%s/gauge.sock", self->dir);
	unlink(path);
	rmdir(self->dir);
}

/* Both gauges of @c's server; -1 if the answer had none. */
static int gauges(struct cell_client *c, uint64_t *inflight, uint64_t *clients)
{
	struct cell_metrics_snapshot *snap;
	int rc = -1;

	if (cell_client_metrics(c, &snap, cell_deadline_in_ms(5000)) != CELL_STATUS_OK)
		return -1;
	if (!cell_metrics_snapshot_gauge(snap, CELL_METRICS_INFLIGHT, inflight) &&
	    !cell_metrics_snapshot_gauge(snap, CELL_METRICS_CLIENTS, clients))
		rc = 0;
	cell_metrics_snapshot_free(snap);
	return rc;
}

TEST_F(gauge, a_running_call_is_in_flight_and_each_connection_a_client)
{
	uint64_t inflight = 0, clients = 0;
	struct cell_response r;
	struct cell_call *call;
	void *buf;
	int polls;

	ASSERT_EQ(0, gauges(self->b, &inflight, &clients));
	EXPECT_EQ(0, inflight); /* b's METRICS call is not counted */
	EXPECT_EQ(2, clients);
	ASSERT_EQ(CELL_STATUS_OK,
		  cell_call_begin(self->a, M_BLOCK, 0, 0, cell_deadline_in_ms(20000), &call, &buf));
	ASSERT_EQ(CELL_STATUS_OK, cell_call_submit(call, 0));
	/* Until the server has read the request: poll, no fixed wait. */
	for (polls = 0; polls < 5000; polls++) {
		ASSERT_EQ(0, gauges(self->b, &inflight, &clients));
		if (inflight)
			break;
	}
	EXPECT_EQ(1, inflight);
	EXPECT_EQ(2, clients);
	ASSERT_EQ(CELL_STATUS_OK, cell_client_call(self->b, M_RELEASE, NULL, 0, NULL, 0, NULL,
						   cell_deadline_in_ms(5000)));
	EXPECT_EQ(CELL_STATUS_OK, cell_call_wait(call, &r));
	cell_call_end(call);
	/* A handler that sent its answer itself may still be returning: poll. */
	for (polls = 0; polls < 5000 && inflight; polls++)
		ASSERT_EQ(0, gauges(self->b, &inflight, &clients));
	EXPECT_EQ(0, inflight);
	cell_client_free(self->a);
	self->a = NULL;
	/* a's goodbye is served before the METRICS below only eventually: poll. */
	for (polls = 0; polls < 5000 && clients != 1; polls++)
		ASSERT_EQ(0, gauges(self->b, &inflight, &clients));
	EXPECT_EQ(1, clients);
}

TEST_F(gauge, an_empty_request_gets_the_version_1_answer)
{
	uint8_t bad[3] = { 2, 0, 0 }, want[8] = { 2, 0, 0, 0, 1, 0, 0, 0 };
	struct cell_metrics_snapshot *snap;
	uint32_t len = 0;
	void *resp = NULL;
	uint64_t v;

	ASSERT_EQ(CELL_STATUS_OK, cell_client_control(self->b, CELL_METHOD_METRICS, NULL, 0, &resp,
						      &len, cell_deadline_in_ms(5000)));
	ASSERT_LE(sizeof(struct cell_metrics_wire), len);
	EXPECT_EQ(CELL_METRICS_WIRE_VERSION, ((uint8_t *)resp)[4]);
	ASSERT_EQ(0, cell_metrics_decode(resp, len, &snap, NULL));
	EXPECT_EQ(-ENODATA, cell_metrics_snapshot_gauge(snap, CELL_METRICS_CLIENTS, &v));
	cell_metrics_snapshot_free(snap);
	free(resp);
	/* Anything but nothing or struct cell_metrics_request is refused. */
	EXPECT_EQ(CELL_STATUS_INVALID_ARGUMENT,
		  cell_client_control(self->b, CELL_METHOD_METRICS, bad, sizeof(bad), &resp, &len,
				      cell_deadline_in_ms(5000)));
	EXPECT_EQ(CELL_STATUS_INVALID_ARGUMENT,
		  cell_client_control(self->b, CELL_METHOD_METRICS, want, sizeof(want), &resp, &len,
				      cell_deadline_in_ms(5000)));
}

TEST_HARNESS_MAIN
