// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Tissue (lib/tissue.c) over a minimal SOCK_SEQPACKET transport plugged in
 * through struct cell_tissue_ops: instance servers run in child processes,
 * get killed, die mid-call or answer slowly, and every call must still be
 * answered exactly once.  This exercises discovery, round-robin, failover
 * and broadcast independently of the RPC stack (tissue_test.c runs the same
 * scenarios over the real RPC client and server).
 */
#include <errno.h>
#include <stddef.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cell/tissue.h>

#include "kselftest_harness.h"

#define MAX_INSTANCES 8

enum op {
	OP_ECHO = 0,   /* answer OK */
	OP_DIE_IF = 1, /* the instance numbered @arg exits without answering */
	OP_FAIL = 2,   /* answer INVALID_ARGUMENT */
	OP_SLOW = 3,   /* answer OK after @arg milliseconds */
};

struct request {
	uint32_t call_id;
	uint16_t op;
	uint16_t arg;
};

struct answer {
	uint8_t status;
	uint8_t pad[3];
	uint32_t instance; /* the answering instance's number */
	uint32_t call_id;
};

/* ---- the instance server (child process) ----------------------------- */

static void answer(int fd, const struct request *req, unsigned int number)
{
	struct answer a = { .instance = number, .call_id = req->call_id };

	if (req->op == OP_DIE_IF && req->arg == number)
		_exit(0);
	if (req->op == OP_FAIL)
		a.status = CELL_STATUS_INVALID_ARGUMENT;
	if (req->op == OP_SLOW)
		usleep(req->arg * 1000u);
	(void)send(fd, &a, sizeof(a), MSG_NOSIGNAL);
}

static void serve(const char *path, unsigned int number, int ready)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct pollfd fds[32];
	int nfds = 1;

	fds[0].fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	fds[0].events = POLLIN;
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	unlink(path);
	if (fds[0].fd < 0 || bind(fds[0].fd, (struct sockaddr *)&addr, sizeof(addr)) ||
	    listen(fds[0].fd, 16) || write(ready, "r", 1) != 1)
		_exit(1);
	for (;;) {
		if (poll(fds, (nfds_t)nfds, -1) < 0)
			_exit(1);
		for (int i = nfds - 1; i >= 1; i--) {
			struct request req;
			ssize_t n;

			if (!fds[i].revents)
				continue;
			n = recv(fds[i].fd, &req, sizeof(req), 0);
			if (n == (ssize_t)sizeof(req)) {
				answer(fds[i].fd, &req, number);
				continue;
			}
			close(fds[i].fd);
			fds[i] = fds[--nfds];
		}
		if ((fds[0].revents & POLLIN) && nfds < 32) {
			fds[nfds].fd = accept(fds[0].fd, NULL, NULL);
			fds[nfds].events = POLLIN;
			nfds += fds[nfds].fd >= 0;
		}
	}
}

/* ---- the transport the tissue uses ----------------------------------- */

struct raw_conn {
	int fd;
	uint32_t call_id; /* of the started call */
	struct answer last;
};

/* Contract checks: every started call is released exactly once. */
struct raw_stats {
	int connects, starts, releases, closes;
	const char *foreign; /* an instance that "serves another schema" */
};

static void *raw_connect(const char *dir, const char *instance, void *ctx)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct raw_stats *stats = ctx;
	struct raw_conn *c;

	if (stats->foreign && !strcmp(instance, stats->foreign)) {
		errno = EPROTONOSUPPORT; /* the ops' way to say "another fingerprint" */
		return NULL;
	}
	c = calloc(1, sizeof(*c));

	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/%s.sock", dir, instance);
	c->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&addr, sizeof(addr))) {
		if (c->fd >= 0)
			close(c->fd);
		free(c);
		return NULL;
	}
	stats->connects++;
	return c;
}

static enum cell_status raw_start(void *conn, uint16_t method, const void *req, size_t len,
				  uint64_t deadline, void *ctx)
{
	struct raw_conn *c = conn;
	struct raw_stats *stats = ctx;

	(void)method;
	(void)deadline;
	if (len != sizeof(struct request))
		return CELL_STATUS_INVALID_ARGUMENT;
	c->call_id = ((const struct request *)req)->call_id;
	if (send(c->fd, req, len, MSG_NOSIGNAL) != (ssize_t)len)
		return CELL_STATUS_UNAVAILABLE;
	stats->starts++;
	return CELL_STATUS_OK;
}

static uint64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static enum cell_status raw_wait(void *conn, uint64_t deadline, const void **resp, size_t *resp_len,
				 void *ctx)
{
	struct raw_conn *c = conn;
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
	ssize_t n;

	(void)ctx;
	for (;;) {
		uint64_t now = monotonic_ns();
		int timeout = deadline == CELL_DEADLINE_NONE ? -1
			      : deadline <= now		     ? 0
						: (int)((deadline - now) / 1000000 + 1);

		if (poll(&pfd, 1, timeout) == 0)
			return CELL_STATUS_DEADLINE_EXCEEDED;
		n = recv(c->fd, &c->last, sizeof(c->last), 0);
		if (n <= 0)
			return CELL_STATUS_UNAVAILABLE;
		if (c->last.call_id == c->call_id) /* skip late answers */
			break;
	}
	*resp = &c->last;
	*resp_len = sizeof(c->last);
	return (enum cell_status)c->last.status;
}

static void raw_release(void *conn, void *ctx)
{
	struct raw_stats *stats = ctx;

	(void)conn;
	stats->releases++;
}

static void raw_close(void *conn, void *ctx)
{
	struct raw_conn *c = conn;
	struct raw_stats *stats = ctx;

	close(c->fd);
	free(c);
	stats->closes++;
}

static const struct cell_tissue_ops raw_ops = {
	.sz = sizeof(raw_ops),
	.connect = raw_connect,
	.start = raw_start,
	.wait = raw_wait,
	.release = raw_release,
	.close = raw_close,
};

/* ---- fixture ---------------------------------------------------------- */

FIXTURE(tissue)
{
	char dir[64];
	pid_t pid[MAX_INSTANCES]; /* by instance number */
	struct raw_stats stats;
	struct cell_tissue *t;
	uint32_t next_call;
};

FIXTURE_SETUP(tissue)
{
	struct cell_tissue_opts opts = {
		.sz = sizeof(opts),
		.ops = &raw_ops,
		.ops_ctx = &self->stats,
		.down_ns = 50 * CELL_NSEC_PER_MSEC,
	};

	memset(self->pid, 0, sizeof(self->pid));
	memset(&self->stats, 0, sizeof(self->stats));
	snprintf(self->dir, sizeof(self->dir), "/tmp/cell-tissue-XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	opts.runtime_dir = self->dir;
	self->t = cell_tissue_open("orders", &opts);
	ASSERT_NE(NULL, self->t);
	self->next_call = 1;
}

static void stop_instance(struct __test_metadata *_metadata, FIXTURE_DATA(tissue) * self,
			  unsigned int number)
{
	ASSERT_NE(0, self->pid[number]);
	kill(self->pid[number], SIGKILL);
	waitpid(self->pid[number], NULL, 0);
	self->pid[number] = 0;
}

FIXTURE_TEARDOWN(tissue)
{
	char path[128];

	cell_tissue_close(self->t);
	EXPECT_EQ(self->stats.starts, self->stats.releases);
	EXPECT_EQ(self->stats.connects, self->stats.closes);
	for (unsigned int i = 0; i < MAX_INSTANCES; i++) {
		if (self->pid[i]) {
			kill(self->pid[i], SIGKILL);
			waitpid(self->pid[i], NULL, 0);
		}
		snprintf(path, sizeof(path), "%s/orders%s%.0u.sock", self->dir, i ? "@" : "", i);
		unlink(path);
	}
	rmdir(self->dir);
}

static void start_instance(struct __test_metadata *_metadata, FIXTURE_DATA(tissue) * self,
			   unsigned int number)
{
	char path[96], byte;
	int ready[2];
	pid_t pid;

	if (number)
		snprintf(path, sizeof(path), "%s/orders@%u.sock", self->dir, number);
	else
		snprintf(path, sizeof(path), "%s/orders.sock", self->dir);
	ASSERT_EQ(0, pipe(ready));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(ready[0]);
		serve(path, number, ready[1]);
	}
	close(ready[1]);
	ASSERT_EQ(1, read(ready[0], &byte, 1));
	close(ready[0]);
	self->pid[number] = pid;
}

static uint64_t cell_test_deadline(unsigned int ms)
{
	return monotonic_ns() + ms * CELL_NSEC_PER_MSEC;
}

/* One call; checks the answer is this call's and returns who answered. */
static int call(struct __test_metadata *_metadata, FIXTURE_DATA(tissue) * self, uint16_t op,
		uint16_t arg, enum cell_status *status_out)
{
	struct request req = { .call_id = self->next_call++, .op = op, .arg = arg };
	struct cell_tissue_reply reply;
	const struct answer *a;
	enum cell_status status;
	char name[32];

	status = cell_tissue_call(self->t, 1, &req, sizeof(req), cell_test_deadline(2000), &reply);
	if (status_out)
		*status_out = status;
	if (status != CELL_STATUS_OK && status != CELL_STATUS_INVALID_ARGUMENT)
		return -1;
	EXPECT_EQ(sizeof(*a), reply.len);
	a = reply.data;
	EXPECT_EQ(req.call_id, a->call_id);
	snprintf(name, sizeof(name), a->instance ? "orders@%u" : "orders", a->instance);
	EXPECT_STREQ(name, reply.instance);
	return (int)a->instance;
}

TEST_F(tissue, finds_instances_by_socket_name_rules)
{
	static const char *const decoys[] = {
		"orders@01.sock", "orders@0.sock",  "orders@x.sock", "orders@1234567.sock",
		"orders@.sock",	  "ordersx.sock",   "other.sock",    "orders@2.sock.old",
		"orders.socket",  "orders@3.sockx", ".orders.sock",
	};
	char path[128];
	FILE *f;

	start_instance(_metadata, self, 0);
	start_instance(_metadata, self, 1);
	start_instance(_metadata, self, 7);
	for (size_t i = 0; i < sizeof(decoys) / sizeof(decoys[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", self->dir, decoys[i]);
		f = fopen(path, "w");
		ASSERT_NE(NULL, f);
		fclose(f);
	}
	/* A regular file with an instance's name is not an instance. */
	snprintf(path, sizeof(path), "%s/orders@2.sock", self->dir);
	f = fopen(path, "w");
	ASSERT_NE(NULL, f);
	fclose(f);

	ASSERT_EQ(3, cell_tissue_rescan(self->t));
	ASSERT_EQ(3, cell_tissue_count(self->t));
	ASSERT_STREQ("orders", cell_tissue_instance(self->t, 0));
	ASSERT_STREQ("orders@1", cell_tissue_instance(self->t, 1));
	ASSERT_STREQ("orders@7", cell_tissue_instance(self->t, 2));
	ASSERT_EQ(NULL, cell_tissue_instance(self->t, 3));
	for (size_t i = 0; i < sizeof(decoys) / sizeof(decoys[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", self->dir, decoys[i]);
		unlink(path);
	}
}

TEST_F(tissue, symlinked_instances_count_and_dangling_links_do_not)
{
	char path[128], target[128];
	int via_link = 0;

	start_instance(_metadata, self, 1);
	/* celld publishes instances as links into capsid directories. */
	snprintf(target, sizeof(target), "%s/orders@1.sock", self->dir);
	snprintf(path, sizeof(path), "%s/orders@5.sock", self->dir);
	ASSERT_EQ(0, symlink(target, path));
	snprintf(path, sizeof(path), "%s/orders@6.sock", self->dir);
	ASSERT_EQ(0, symlink("/nonexistent/orders.sock", path));
	ASSERT_EQ(2, cell_tissue_rescan(self->t));
	ASSERT_STREQ("orders@1", cell_tissue_instance(self->t, 0));
	ASSERT_STREQ("orders@5", cell_tissue_instance(self->t, 1));
	/* Both names reach server 1: round robin goes through the link too. */
	for (int i = 0; i < 4; i++) {
		struct request req = { .call_id = self->next_call++, .op = OP_ECHO };
		struct cell_tissue_reply reply;

		ASSERT_EQ(CELL_STATUS_OK, cell_tissue_call(self->t, 1, &req, sizeof(req),
							   cell_test_deadline(2000), &reply));
		EXPECT_EQ(1, ((const struct answer *)reply.data)->instance);
		via_link += !strcmp(reply.instance, "orders@5");
	}
	EXPECT_EQ(2, via_link);
}

TEST_F(tissue, instance_of_another_fingerprint_is_skipped_and_counted)
{
	struct cell_tissue_stats st = { .sz = sizeof(st) };
	int answered[MAX_INSTANCES] = { 0 };
	const struct cell_tissue_reply *r;
	struct request req = { .op = OP_ECHO };

	start_instance(_metadata, self, 0);
	start_instance(_metadata, self, 1);
	start_instance(_metadata, self, 2);
	self->stats.foreign = "orders@1";
	for (int i = 0; i < 30; i++) {
		int who = call(_metadata, self, OP_ECHO, 0, NULL);

		ASSERT_LE(0, who);
		answered[who]++;
	}
	EXPECT_EQ(15, answered[0]);
	EXPECT_EQ(0, answered[1]);
	EXPECT_EQ(15, answered[2]);
	ASSERT_EQ(0, cell_tissue_stats(self->t, &st));
	EXPECT_EQ(3, st.instances);
	EXPECT_EQ(1, st.mismatched);
	EXPECT_EQ(1, st.mismatch_refusals);
	req.call_id = self->next_call++;
	ASSERT_EQ(2, cell_tissue_broadcast(self->t, 1, &req, sizeof(req), cell_test_deadline(2000),
					   &r));
	EXPECT_STREQ("orders", r[0].instance);
	EXPECT_STREQ("orders@2", r[1].instance);
	/* Stats of an older, smaller struct: only its fields are filled. */
	st = (struct cell_tissue_stats){ .sz = offsetof(struct cell_tissue_stats, mismatched) };
	ASSERT_EQ(0, cell_tissue_stats(self->t, &st));
	EXPECT_EQ(3, st.instances);
	EXPECT_EQ(0, st.mismatched);
	st.sz = 1;
	EXPECT_EQ(-EINVAL, cell_tissue_stats(self->t, &st));
}

TEST_F(tissue, round_robin_spreads_calls_evenly)
{
	int answered[MAX_INSTANCES] = { 0 };

	start_instance(_metadata, self, 0);
	start_instance(_metadata, self, 1);
	start_instance(_metadata, self, 2);
	for (int i = 0; i < 300; i++) {
		int who = call(_metadata, self, OP_ECHO, 0, NULL);

		ASSERT_LE(0, who);
		answered[who]++;
	}
	ASSERT_EQ(100, answered[0]);
	ASSERT_EQ(100, answered[1]);
	ASSERT_EQ(100, answered[2]);
	/* One connection per instance, reused. */
	ASSERT_EQ(3, self->stats.connects);
}

TEST_F(tissue, killed_instance_fails_over_without_losing_a_call)
{
	int answered[MAX_INSTANCES] = { 0 }, after_kill[MAX_INSTANCES] = { 0 };

	start_instance(_metadata, self, 1);
	start_instance(_metadata, self, 2);
	start_instance(_metadata, self, 3);
	for (int i = 0; i < 300; i++) {
		int who;

		if (i == 100)
			stop_instance(_metadata, self, 2); /* its socket file stays */
		who = call(_metadata, self, OP_ECHO, 0, NULL);
		ASSERT_LE(1, who) TH_LOG("call %d was not answered", i);
		answered[who]++;
		if (i >= 100)
			after_kill[who]++;
	}
	ASSERT_EQ(300, answered[1] + answered[2] + answered[3]);
	ASSERT_EQ(0, after_kill[2]);
	ASSERT_LE(33, answered[2]); /* it took its share before */
	ASSERT_EQ(200, after_kill[1] + after_kill[3]);
	ASSERT_LE(90, after_kill[1]); /* the survivors share the load */
	ASSERT_LE(90, after_kill[3]);
}

TEST_F(tissue, instance_dying_mid_call_is_answered_by_the_next_once)
{
	int answered[MAX_INSTANCES] = { 0 };

	start_instance(_metadata, self, 1);
	start_instance(_metadata, self, 2);
	start_instance(_metadata, self, 3);
	/* Instance 2 exits on receiving any of these, without answering. */
	for (int i = 0; i < 30; i++) {
		int who = call(_metadata, self, OP_DIE_IF, 2, NULL);

		ASSERT_LE(1, who) TH_LOG("call %d was not answered", i);
		ASSERT_NE(2, who);
		answered[who]++;
	}
	ASSERT_EQ(30, answered[1] + answered[3]);
	ASSERT_EQ(self->pid[2], waitpid(self->pid[2], NULL, 0));
	self->pid[2] = 0;
}

TEST_F(tissue, broadcast_returns_every_reply_and_reports_dead_instances)
{
	const struct cell_tissue_reply *replies;
	struct request req = { .call_id = 77, .op = OP_ECHO };
	const struct answer *a[4];

	start_instance(_metadata, self, 0);
	start_instance(_metadata, self, 1);
	start_instance(_metadata, self, 2);
	start_instance(_metadata, self, 3);
	stop_instance(_metadata, self, 2);

	ASSERT_EQ(4, cell_tissue_broadcast(self->t, 1, &req, sizeof(req), cell_test_deadline(2000),
					   &replies));
	ASSERT_STREQ("orders", replies[0].instance);
	ASSERT_STREQ("orders@1", replies[1].instance);
	ASSERT_STREQ("orders@2", replies[2].instance);
	ASSERT_STREQ("orders@3", replies[3].instance);
	ASSERT_EQ(CELL_STATUS_UNAVAILABLE, replies[2].status);
	ASSERT_EQ(NULL, replies[2].data);
	for (int i = 0; i < 4; i++) {
		if (i == 2)
			continue;
		ASSERT_EQ(CELL_STATUS_OK, replies[i].status);
		ASSERT_EQ(sizeof(struct answer), replies[i].len);
		a[i] = replies[i].data;
		/* Every view is valid at once and is its own instance's. */
		ASSERT_EQ((uint32_t)i, a[i]->instance);
		ASSERT_EQ(77, a[i]->call_id);
	}
	/* Unicast afterwards still works and skips the dead one. */
	for (int i = 0; i < 12; i++)
		ASSERT_NE(2, call(_metadata, self, OP_ECHO, 0, NULL));
}

TEST_F(tissue, broadcast_waits_for_instances_in_parallel)
{
	const struct cell_tissue_reply *replies;
	struct request req = { .call_id = 5, .op = OP_SLOW, .arg = 300 };
	uint64_t start;

	start_instance(_metadata, self, 1);
	start_instance(_metadata, self, 2);
	start_instance(_metadata, self, 3);
	start = monotonic_ns();
	ASSERT_EQ(3, cell_tissue_broadcast(self->t, 1, &req, sizeof(req), cell_test_deadline(5000),
					   &replies));
	for (int i = 0; i < 3; i++)
		ASSERT_EQ(CELL_STATUS_OK, replies[i].status);
	/* Three 300 ms answers in parallel: well under the 900 ms in series. */
	ASSERT_GT(800 * CELL_NSEC_PER_MSEC, monotonic_ns() - start);
}

TEST_F(tissue, no_instance_is_not_found_and_all_dead_is_unavailable)
{
	const struct cell_tissue_reply *replies;
	enum cell_status status;

	ASSERT_EQ(-1, call(_metadata, self, OP_ECHO, 0, &status));
	ASSERT_EQ(CELL_STATUS_NOT_FOUND, status);
	ASSERT_EQ(0, cell_tissue_broadcast(self->t, 1, NULL, 0, CELL_DEADLINE_NONE, &replies));
	start_instance(_metadata, self, 1);
	start_instance(_metadata, self, 2);
	stop_instance(_metadata, self, 1);
	stop_instance(_metadata, self, 2);
	ASSERT_EQ(-1, call(_metadata, self, OP_ECHO, 0, &status));
	ASSERT_EQ(CELL_STATUS_UNAVAILABLE, status);
}

TEST_F(tissue, new_instance_joins_after_rescan_and_restarted_one_returns)
{
	int answered[MAX_INSTANCES] = { 0 };

	start_instance(_metadata, self, 1);
	ASSERT_EQ(1, call(_metadata, self, OP_ECHO, 0, NULL));
	start_instance(_metadata, self, 4);
	ASSERT_EQ(2, cell_tissue_rescan(self->t));
	for (int i = 0; i < 10; i++)
		answered[call(_metadata, self, OP_ECHO, 0, NULL)]++;
	ASSERT_EQ(5, answered[1]);
	ASSERT_EQ(5, answered[4]);

	/* Instance 1 dies, then comes back (new process, same socket name). */
	stop_instance(_metadata, self, 1);
	for (int i = 0; i < 4; i++)
		ASSERT_EQ(4, call(_metadata, self, OP_ECHO, 0, NULL));
	start_instance(_metadata, self, 1);
	usleep(60 * 1000); /* past down_ns */
	memset(answered, 0, sizeof(answered));
	for (int i = 0; i < 10; i++)
		answered[call(_metadata, self, OP_ECHO, 0, NULL)]++;
	ASSERT_EQ(5, answered[1]);
	ASSERT_EQ(5, answered[4]);
}

TEST_F(tissue, error_answer_is_returned_without_failover)
{
	enum cell_status status;

	start_instance(_metadata, self, 1);
	start_instance(_metadata, self, 2);
	ASSERT_EQ(1, call(_metadata, self, OP_FAIL, 0, &status));
	ASSERT_EQ(CELL_STATUS_INVALID_ARGUMENT, status);
	ASSERT_EQ(1, self->stats.starts); /* sent once, not retried */
	ASSERT_EQ(2, call(_metadata, self, OP_ECHO, 0, &status));
}

TEST_F(tissue, deadline_exceeded_then_late_answer_is_not_mistaken)
{
	struct request req = { .call_id = 900, .op = OP_SLOW, .arg = 200 };
	struct cell_tissue_reply reply;

	start_instance(_metadata, self, 1);
	ASSERT_EQ(CELL_STATUS_DEADLINE_EXCEEDED,
		  cell_tissue_call(self->t, 1, &req, sizeof(req), cell_test_deadline(50), &reply));
	ASSERT_STREQ("orders@1", reply.instance);
	/* Not failed over: the instance is alive, only slow. */
	ASSERT_EQ(1, self->stats.starts);
	ASSERT_EQ(1, call(_metadata, self, OP_ECHO, 0, NULL));
	/* A deadline already past fails before sending anything. */
	ASSERT_EQ(CELL_STATUS_DEADLINE_EXCEEDED,
		  cell_tissue_call(self->t, 1, &req, sizeof(req), 1, &reply));
}

TEST(open_rejects_bad_names_and_options)
{
	struct cell_tissue_ops incomplete = raw_ops;
	struct cell_tissue_opts opts = { .sz = sizeof(opts),
					 .runtime_dir = "/tmp",
					 .ops = &raw_ops };
	char long_dir[200];

	ASSERT_EQ(NULL, cell_tissue_open("Orders", &opts));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(NULL, cell_tissue_open("", &opts));
	ASSERT_EQ(NULL, cell_tissue_open(".hidden", &opts));
	ASSERT_EQ(NULL, cell_tissue_open("a@1", &opts));
	ASSERT_EQ(NULL, cell_tissue_open("a/b", &opts));
	ASSERT_EQ(NULL, cell_tissue_open("abcdefghijklmnopqrstuvwxy", &opts)); /* 25 bytes */
	ASSERT_EQ(EINVAL, errno);
	memset(long_dir, 'd', sizeof(long_dir) - 1);
	long_dir[0] = '/';
	long_dir[sizeof(long_dir) - 1] = '\0';
	opts.runtime_dir = long_dir;
	ASSERT_EQ(NULL, cell_tissue_open("orders", &opts));
	ASSERT_EQ(ENAMETOOLONG, errno);
	opts.runtime_dir = "/tmp";
	incomplete.wait = NULL;
	opts.ops = &incomplete;
	ASSERT_EQ(NULL, cell_tissue_open("orders", &opts));
	ASSERT_EQ(EINVAL, errno);
	opts.ops = &raw_ops;
	struct cell_tissue *t = cell_tissue_open("abcdefghijklmnopqrstuvwx", &opts);

	ASSERT_NE(NULL, t);
	cell_tissue_close(t);
	cell_tissue_close(NULL);
}

TEST_HARNESS_MAIN
