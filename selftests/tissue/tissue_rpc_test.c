// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Tissue over real instances: three server processes "inst", "inst@1",
 * "inst@2" that answer with their own number.  Round-robin spreads calls,
 * failover survives a kill -9, broadcast gets every instance's answer.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cell/rpc.h>
#include <cell/tissue.h>

#include "kselftest_harness.h"

#define FP    0x7155e7155e7155eULL
#define M_WHO 1
#define NINST 3

static enum cell_status who(const struct cell_vesicle *req, struct cell_reply *reply, void *ctx)
{
	uint32_t n = (uint32_t)(uintptr_t)ctx;

	(void)req;
	return cell_reply_send(reply, &n, sizeof(n)) ? CELL_STATUS_INTERNAL : CELL_STATUS_OK;
}

static pid_t start_instance(const char *dir, unsigned int n)
{
	struct cell_server_opts o = { .sz = sizeof(o), .fingerprint = FP, .runtime_dir = dir };
	char name[32];
	int pfd[2];
	pid_t pid;
	char ok;

	if (n)
		snprintf(name, sizeof(name), "inst@%u", n);
	else
		snprintf(name, sizeof(name), "inst");
	if (pipe(pfd))
		return -1;
	pid = fork();
	if (pid == 0) {
		struct cell_server *srv = cell_server_new(name, &o);

		if (!srv || cell_server_handle(srv, M_WHO, who, (void *)(uintptr_t)n) ||
		    write(pfd[1], "k", 1) != 1)
			_exit(1);
		_exit(cell_server_run(srv, 1) ? 1 : 0);
	}
	close(pfd[1]);
	if (read(pfd[0], &ok, 1) != 1)
		pid = -1;
	close(pfd[0]);
	return pid;
}

FIXTURE(tissue)
{
	char dir[64];
	pid_t pids[NINST];
	struct cell_tissue *t;
};

FIXTURE_SETUP(tissue)
{
	struct cell_client_opts co = { .sz = sizeof(co), .fingerprint = FP };
	struct cell_tissue_opts to = { .sz = sizeof(to), .client = &co };

	strcpy(self->dir, "/tmp/cell-tissue-XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	for (unsigned int i = 0; i < NINST; i++) {
		self->pids[i] = start_instance(self->dir, i);
		ASSERT_LT(0, self->pids[i]);
	}
	to.runtime_dir = self->dir;
	self->t = cell_tissue_open("inst", &to);
	ASSERT_NE(NULL, self->t);
}

FIXTURE_TEARDOWN(tissue)
{
	char path[128];

	cell_tissue_close(self->t);
	for (unsigned int i = 0; i < NINST; i++) {
		if (self->pids[i] > 0) {
			kill(self->pids[i], SIGKILL);
			waitpid(self->pids[i], NULL, 0);
		}
		if (i)
			snprintf(path, sizeof(path), "%s/inst@%u.sock", self->dir, i);
		else
			snprintf(path, sizeof(path), "%s/inst.sock", self->dir);
		unlink(path);
	}
	rmdir(self->dir);
}

static int call_who(struct cell_tissue *t, uint32_t *n)
{
	struct cell_tissue_reply r;
	enum cell_status st;

	st = cell_tissue_call(t, M_WHO, NULL, 0, cell_deadline_in_ms(5000), &r);
	if (st != CELL_STATUS_OK || r.len != sizeof(*n))
		return -1;
	memcpy(n, r.data, sizeof(*n));
	return 0;
}

TEST_F(tissue, round_robin_reaches_every_instance)
{
	unsigned int seen[NINST] = { 0 };
	uint32_t n;

	ASSERT_EQ(NINST, cell_tissue_rescan(self->t));
	for (int i = 0; i < 30; i++) {
		ASSERT_EQ(0, call_who(self->t, &n));
		ASSERT_LT(n, NINST);
		seen[n]++;
	}
	for (unsigned int i = 0; i < NINST; i++)
		EXPECT_EQ(10, seen[i]);
}

TEST_F(tissue, failover_after_kill)
{
	unsigned int seen[NINST] = { 0 };
	uint32_t n;

	ASSERT_EQ(0, call_who(self->t, &n)); /* connections are open */
	ASSERT_EQ(0, call_who(self->t, &n));
	ASSERT_EQ(0, call_who(self->t, &n));
	kill(self->pids[1], SIGKILL);
	waitpid(self->pids[1], NULL, 0);
	self->pids[1] = -1;
	for (int i = 0; i < 20; i++) {
		ASSERT_EQ(0, call_who(self->t, &n));
		seen[n]++;
	}
	EXPECT_EQ(0, seen[1]);
	EXPECT_EQ(20, seen[0] + seen[2]);
	EXPECT_LT(0, seen[0]);
	EXPECT_LT(0, seen[2]);
}

TEST_F(tissue, broadcast_returns_each_reply)
{
	const struct cell_tissue_reply *r;
	uint32_t n;
	int count;

	count = cell_tissue_broadcast(self->t, M_WHO, NULL, 0, cell_deadline_in_ms(5000), &r);
	ASSERT_EQ(NINST, count);
	for (int i = 0; i < count; i++) {
		ASSERT_EQ(CELL_STATUS_OK, r[i].status);
		ASSERT_EQ(sizeof(n), r[i].len);
		memcpy(&n, r[i].data, sizeof(n));
		EXPECT_EQ((uint32_t)i, n);
	}
	kill(self->pids[2], SIGKILL);
	waitpid(self->pids[2], NULL, 0);
	self->pids[2] = -1;
	count = cell_tissue_broadcast(self->t, M_WHO, NULL, 0, cell_deadline_in_ms(5000), &r);
	/* The dead instance's socket file is still there: it answers UNAVAILABLE. */
	ASSERT_EQ(NINST, count);
	EXPECT_EQ(CELL_STATUS_OK, r[0].status);
	EXPECT_EQ(CELL_STATUS_OK, r[1].status);
	EXPECT_EQ(CELL_STATUS_UNAVAILABLE, r[2].status);
	EXPECT_STREQ("inst@2", r[2].instance);
}

TEST_HARNESS_MAIN
