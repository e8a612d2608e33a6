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
 *
 * The same with the listening socket handed over by SCM_RIGHTS
 * (cell_listener_request() from A, cell_listener_send() to B, the key in
 * CELL_LISTENER_KEY_FD) instead of the rename: no call fails, the socket
 * file keeps its inode and stays after A is freed (drained or not), B
 * answers there.  A
 * wrong key, a wrong fingerprint, a server with no key, a TAKE without a
 * socket or of a socket that is not listening: each refused, and A serves
 * on.  A request to a socket whose backlog is full gives up at its timeout.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
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
static const uint8_t KEY[CELL_LISTENER_KEY_SIZE] = "draintest-key-1";

/* The servers of this process get KEY (CELL_LISTENER_KEY_FD), as celld's cells do theirs. */
static int give_key(void)
{
	int fd = memfd_create("cell-listener-key", MFD_CLOEXEC);
	char num[16];

	if (fd < 0 || write(fd, KEY, sizeof(KEY)) != (ssize_t)sizeof(KEY))
		return -1;
	snprintf(num, sizeof(num), "%d", fd);
	return setenv("CELL_LISTENER_KEY_FD", num, 1);
}

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
	ASSERT_EQ(0, give_key());
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

/* A's listening socket to B by SCM_RIGHTS, as `cell swap` hands it over. */
static int hand_over(const char *from, const char *to)
{
	int fd = -1, err = cell_listener_request(from, FP, KEY, 1000, &fd);

	if (err)
		return err;
	err = cell_listener_send(to, FP, KEY, fd, 1000);
	close(fd);
	return err;
}

TEST_F(drain, listener_handed_over_by_scm_rights_then_the_old_drains)
{
	struct hammer h = { 0 };
	struct caller z = { 0 };
	struct cell_client_opts o = {
		.sz = sizeof(o),
		.fingerprint = FP,
		.runtime_dir = self->dir,
		.backend = variant->backend,
	};
	char own[160], path[160];
	struct stat before, after;
	int tries = 0;

	snprintf(path, sizeof(path), "%s/%s.sock", self->dir, NAME);
	snprintf(own, sizeof(own), "%s/%s.sock", self->next, NAME);
	ASSERT_EQ(0, stat(path, &before));
	h.c = self->c;
	for (int i = 0; i < 2; i++)
		ASSERT_EQ(0, pthread_create(&h.thread[i], NULL, hammer, &h));
	while (atomic_load(&h.calls) < 500 && tries++ < TRIES)
		usleep(10 * 1000);
	ASSERT_EQ(0, start(&self->b, self->next, 'B', variant->backend));
	EXPECT_EQ(0, hand_over(path, own)) TH_LOG("%s", cell_last_error(NULL));
	cell_server_drain(self->a.srv, 60000);
	for (tries = 0; tries < TRIES && !atomic_load(&self->a.stopped); tries++)
		usleep(10 * 1000);
	EXPECT_TRUE(atomic_load(&self->a.stopped));
	atomic_store(&h.stop, true);
	for (int i = 0; i < 2; i++)
		pthread_join(h.thread[i], NULL);
	EXPECT_EQ(0, atomic_load(&h.failed));
	EXPECT_LT(0, atomic_load(&h.on_b));
	/* A freed: it left the socket file, the same one, and B answers a newcomer there. */
	pthread_join(self->a.thread, NULL);
	cell_server_free(self->a.srv);
	self->a.srv = NULL;
	ASSERT_EQ(0, stat(path, &after));
	EXPECT_EQ(before.st_ino, after.st_ino);
	z.c = cell_client_connect(NAME, &o);
	ASSERT_NE(NULL, z.c);
	call_once(&z);
	EXPECT_EQ(CELL_STATUS_OK, z.st);
	EXPECT_EQ('B', z.tag);
	cell_client_free(z.c);
}

/* A program that gave its socket away and stops without a drain leaves the file to B. */
TEST_F(drain, a_server_that_handed_over_and_did_not_drain_leaves_the_socket_file)
{
	struct caller z = { 0 };
	struct cell_client_opts o = {
		.sz = sizeof(o),
		.fingerprint = FP,
		.runtime_dir = self->dir,
		.backend = variant->backend,
	};
	char own[160], path[160];
	struct stat before, after;

	snprintf(path, sizeof(path), "%s/%s.sock", self->dir, NAME);
	snprintf(own, sizeof(own), "%s/%s.sock", self->next, NAME);
	ASSERT_EQ(0, stat(path, &before));
	ASSERT_EQ(0, start(&self->b, self->next, 'B', variant->backend));
	ASSERT_EQ(0, hand_over(path, own)) TH_LOG("%s", cell_last_error(NULL));
	cell_client_free(self->c);
	self->c = NULL;
	cell_server_stop(self->a.srv);
	pthread_join(self->a.thread, NULL);
	cell_server_free(self->a.srv);
	self->a.srv = NULL;
	ASSERT_EQ(0, stat(path, &after));
	EXPECT_EQ(before.st_ino, after.st_ino);
	z.c = cell_client_connect(NAME, &o);
	ASSERT_NE(NULL, z.c);
	call_once(&z);
	EXPECT_EQ(CELL_STATUS_OK, z.st);
	EXPECT_EQ('B', z.tag);
	cell_client_free(z.c);
}

/* A raw LISTENER TAKE request with @fd (or none) to @path: the status of the answer. */
static enum cell_status raw_take(const char *path, int fd)
{
	uint8_t frame[20 + sizeof(struct cell_listener)] = { 0 }, ans[256];
	struct cell_listener *l = (struct cell_listener *)(frame + 20);
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { frame, sizeof(frame) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cell_hdr hdr = {
		.version = CELL_WIRE_VERSION,
		.flags = CELL_F_REQUEST,
		.method = CELL_METHOD_LISTENER,
		.correlation = 1,
		.len = sizeof(*l),
		.fingerprint_lo = (uint32_t)FP,
		.fingerprint_hi = (uint32_t)(FP >> 32),
	};
	int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	uint16_t st = 0xffff;
	ssize_t n;

	memcpy(frame, &hdr, sizeof(hdr)); /* the ABI is little-endian; so is this machine */
	l->magic = CELL_LISTENER_MAGIC;
	l->op = CELL_LISTENER_TAKE;
	memcpy(l->key, KEY, sizeof(KEY));
	if (fd >= 0) {
		struct cmsghdr *c;

		m.msg_control = cbuf;
		m.msg_controllen = sizeof(cbuf);
		c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)) || sendmsg(s, &m, 0) < 0)
		goto out;
	n = recv(s, ans, sizeof(ans), 0);
	if (n >= 20 + 2 && (ans[1] & CELL_F_ERROR))
		memcpy(&st, ans + 20, sizeof(st));
	else if (n >= 20)
		st = CELL_STATUS_OK;
out:
	if (s >= 0)
		close(s);
	return (enum cell_status)st;
}

TEST_F(drain, listener_hand_over_refused_without_the_key_or_a_listening_socket)
{
	static const uint8_t wrong[CELL_LISTENER_KEY_SIZE] = "not-the-key----";
	struct tagged c = { 0 };
	char path[160], other[160];
	int fd = -1, pair[2];

	snprintf(path, sizeof(path), "%s/%s.sock", self->dir, NAME);
	snprintf(other, sizeof(other), "%s/%s.sock", self->next, NAME);
	EXPECT_EQ(-EACCES, cell_listener_request(path, FP, wrong, 1000, &fd));
	EXPECT_NE(NULL, strstr(cell_last_error(NULL), "wrong key"));
	EXPECT_GT(0, cell_listener_request(path, FP ^ 1, KEY, 1000, &fd));
	EXPECT_NE(NULL, strstr(cell_last_error(NULL), "fingerprint"));
	EXPECT_EQ(-1, fd);
	/* A server started without CELL_LISTENER_KEY_FD gives nothing away. */
	ASSERT_EQ(0, unsetenv("CELL_LISTENER_KEY_FD"));
	ASSERT_EQ(0, start(&c, self->next, 'C', variant->backend));
	EXPECT_EQ(-EACCES, cell_listener_request(other, FP, KEY, 1000, &fd));
	EXPECT_NE(NULL, strstr(cell_last_error(NULL), "no key"));
	cell_server_stop(c.srv);
	pthread_join(c.thread, NULL);
	cell_server_free(c.srv);
	/* TAKE with no socket, or with a socket that does not listen. */
	EXPECT_EQ(CELL_STATUS_BAD_MESSAGE, raw_take(path, -1));
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair));
	EXPECT_EQ(CELL_STATUS_INVALID_ARGUMENT, raw_take(path, pair[0]));
	EXPECT_EQ(-EINVAL, cell_listener_send(path, FP, KEY, -1, 1000));
	close(pair[0]);
	close(pair[1]);
	/* A serves on, on its own socket. */
	{
		struct caller z = { .c = self->c };

		call_once(&z);
		EXPECT_EQ(CELL_STATUS_OK, z.st);
		EXPECT_EQ('A', z.tag);
	}
}

/*
 * A hand-over request to a program that accepts nothing (its backlog full:
 * a program wedged in its handlers, `cell swap`'s usual reason) gives up at
 * its timeout: celld asks it on its loop.  The child's alarm stands for a
 * connect(2) that waits for room in the backlog for good.
 */
TEST(listener_request_to_a_full_backlog_gives_up)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	char dir[64];
	int l, status = 0, socks[64], n = 0;
	pid_t pid;

	snprintf(dir, sizeof(dir), "/tmp/cell-draintest-full-%d", getpid());
	ASSERT_EQ(0, mkdir(dir, 0700));
	snprintf(a.sun_path, sizeof(a.sun_path), "%s/%s.sock", dir, NAME);
	l = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	ASSERT_LE(0, l);
	ASSERT_EQ(0, bind(l, (struct sockaddr *)&a, sizeof(a)));
	ASSERT_EQ(0, listen(l, 0));
	for (int i = 0; i < 64; i++) { /* fill the backlog: a non-blocking connect then fails */
		int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

		ASSERT_LE(0, s);
		if (connect(s, (struct sockaddr *)&a, sizeof(a))) {
			EXPECT_EQ(EAGAIN, errno);
			close(s);
			break;
		}
		socks[n++] = s;
	}
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		int fd = -1, err;

		alarm(20);
		err = cell_listener_request(a.sun_path, FP, KEY, 200, &fd);
		_exit(err == -ETIMEDOUT && fd == -1 ? 0 : 1);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status))
	TH_LOG("killed by signal %d: the request waited for good",
	       WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	EXPECT_EQ(0, WEXITSTATUS(status));
	while (n)
		close(socks[--n]);
	close(l);
	unlink(a.sun_path);
	rmdir(dir);
}

TEST_HARNESS_MAIN
