// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Backpressure: a client that produces much faster than the server's
 * handler consumes, over small rings (4 and 16 KiB) and over the socket.
 *
 *  - oneway_flood: one-way calls as fast as the client can for ~2 s
 *    against a handler that spins 50 us per message.  Every message
 *    carries a sequence number; the server logs them in shared memory.
 *    The client must block, never fail: a call may only end OK or, with
 *    the short deadline given to every 8th call, DEADLINE_EXCEEDED.  The
 *    server's log must be exactly the accepted calls, in order: nothing
 *    lost, nothing duplicated, no refused call delivered.  The resident
 *    memory of both processes stays flat.
 *  - pipelined_threads: 4 client threads keep 4 calls each in flight
 *    against a slow echo handler; every response must match its request,
 *    and the server must have handled exactly the calls made.
 *  - held_response_*: responses kept while other calls go on (a caller
 *    that holds a response view; a caller that waits for pipelined calls
 *    in reverse order).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cell/rpc.h>
#include <cell/wire.h>

#include "kselftest_harness.h"
#include "server_child.h"

#define FP	    0x6261636b70726573ULL
#define NAME	    "backpressure"
#define M_SEQ	    1 /* one-way: u64 seq, then pattern bytes; logged */
#define M_SYNC	    2 /* answers the number of logged messages */
#define M_ECHO_SLOW 3 /* echo after a spin; counted */
#define M_ECHO	    4 /* echo at once */

#define SEQ_COST_NS  (50 * CELL_NSEC_PER_USEC)
#define ECHO_COST_NS (20 * CELL_NSEC_PER_USEC)
#define LOG_CAP	     (1U << 19)

/* Shared between the test and the server process. */
struct shared {
	_Atomic uint64_t n;	  /* messages logged */
	_Atomic uint64_t handled; /* slow echoes handled */
	_Atomic uint64_t corrupt; /* messages whose bytes were wrong */
	_Atomic uint64_t overflow;
	uint64_t log[LOG_CAP];
};

static struct shared *shm;

static void spin_for(uint64_t ns)
{
	uint64_t end = cell_now_ns() + ns;

	while (cell_now_ns() < end)
		;
}

static uint8_t byte_of(uint64_t key, uint32_t i)
{
	return (uint8_t)(key * 0x9e3779b1U + i * 131 + (i >> 7));
}

static void fill(uint8_t *p, uint32_t len, uint64_t key)
{
	for (uint32_t i = 0; i < len; i++)
		p[i] = byte_of(key, i);
}

static bool check(const uint8_t *p, uint32_t len, uint64_t key)
{
	for (uint32_t i = 0; i < len; i++)
		if (p[i] != byte_of(key, i))
			return false;
	return true;
}

static enum cell_status seq_handler(const struct cell_vesicle *req, struct cell_reply *reply,
				    void *ctx)
{
	uint64_t seq, i;

	(void)ctx;
	if (reply || req->len < sizeof(seq)) {
		atomic_fetch_add(&shm->corrupt, 1);
		return CELL_STATUS_INVALID_ARGUMENT;
	}
	memcpy(&seq, req->data, sizeof(seq));
	if (!check((const uint8_t *)req->data + sizeof(seq), req->len - sizeof(seq), seq))
		atomic_fetch_add(&shm->corrupt, 1);
	spin_for(SEQ_COST_NS);
	i = atomic_fetch_add(&shm->n, 1);
	if (i < LOG_CAP)
		shm->log[i] = seq;
	else
		atomic_fetch_add(&shm->overflow, 1);
	return CELL_STATUS_OK;
}

static enum cell_status sync_handler(const struct cell_vesicle *req, struct cell_reply *reply,
				     void *ctx)
{
	uint64_t n = atomic_load(&shm->n);

	(void)req;
	(void)ctx;
	return cell_reply_send(reply, &n, sizeof(n)) ? CELL_STATUS_INTERNAL : CELL_STATUS_OK;
}

static enum cell_status echo_handler(const struct cell_vesicle *req, struct cell_reply *reply,
				     void *ctx)
{
	if (ctx) {
		spin_for(ECHO_COST_NS);
		atomic_fetch_add(&shm->handled, 1);
	}
	return echo_in_place(req, reply);
}

struct server_args {
	const char *dir;
	enum cell_ring_backend backend;
	uint64_t max_ring;
};

static struct cell_server *make_server(void *arg)
{
	const struct server_args *a = arg;
	struct cell_server_opts o = {
		.sz = sizeof(o),
		.fingerprint = FP,
		.runtime_dir = a->dir,
		.backend = a->backend,
		.max_ring = a->max_ring,
	};
	struct cell_server *srv;

	/* Fault the whole log in now: its pages must not count as growth. */
	memset(shm->log, 0, sizeof(shm->log));
	srv = cell_server_new(NAME, &o);
	if (srv && (cell_server_handle(srv, M_SEQ, seq_handler, NULL) ||
		    cell_server_handle(srv, M_SYNC, sync_handler, NULL) ||
		    cell_server_handle(srv, M_ECHO_SLOW, echo_handler, srv) ||
		    cell_server_handle(srv, M_ECHO, echo_handler, NULL)))
		return NULL;
	return srv;
}

static pid_t start_server(const char *dir, enum cell_ring_backend backend, uint64_t max_ring)
{
	struct server_args a = { .dir = dir, .backend = backend, .max_ring = max_ring };

	return fork_server(make_server, &a, 2);
}

/* Resident bytes of @pid (0: this process). */
static long rss_of(pid_t pid)
{
	char path[64];
	long size = 0, resident = -1;
	FILE *f;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
	else
		snprintf(path, sizeof(path), "/proc/self/statm");
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%ld %ld", &size, &resident) != 2)
		resident = -1;
	fclose(f);
	return resident < 0 ? -1 : resident * sysconf(_SC_PAGESIZE);
}

FIXTURE(bp)
{
	char dir[64];
	pid_t server;
	struct cell_client *c;
};

FIXTURE_VARIANT(bp)
{
	enum cell_ring_backend backend;
	uint64_t ring;
};

FIXTURE_VARIANT_ADD(bp, memfd_4k){
	.backend = CELL_RING_BACKEND_MEMFD,
	.ring = 4096,
};

FIXTURE_VARIANT_ADD(bp, memfd_16k){
	.backend = CELL_RING_BACKEND_MEMFD,
	.ring = 16384,
};

FIXTURE_VARIANT_ADD(bp, unix_socket){
	.backend = CELL_RING_BACKEND_NONE,
	.ring = 16384,
};

static struct cell_client *connect_to(const char *dir, enum cell_ring_backend backend,
				      uint64_t ring)
{
	struct cell_client_opts o = {
		.sz = sizeof(o),
		.fingerprint = FP,
		.runtime_dir = dir,
		.backend = backend,
		.request_ring = ring,
		.response_ring = ring,
	};

	return cell_client_connect(NAME, &o);
}

FIXTURE_SETUP(bp)
{
	shm = mmap(NULL, sizeof(*shm), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, shm);
	strcpy(self->dir, "/tmp/cell-bp-XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	/* The server grants no more than the variant's ring. */
	self->server = start_server(self->dir, variant->backend, variant->ring);
	ASSERT_LT(0, self->server);
	self->c = connect_to(self->dir, variant->backend, 0);
	ASSERT_NE(NULL, self->c) TH_LOG("connect: %s", cell_last_error(NULL));
}

FIXTURE_TEARDOWN(bp)
{
	char path[128];

	cell_client_free(self->c);
	if (self->server > 0) {
		kill(self->server, SIGKILL);
		waitpid(self->server, NULL, 0);
	}
	snprintf(path, sizeof(path), "%s/%s.sock", self->dir, NAME);
	unlink(path);
	rmdir(self->dir);
	munmap(shm, sizeof(*shm));
}

static bool server_alive(pid_t pid)
{
	return waitpid(pid, NULL, WNOHANG) == 0;
}

TEST_F_TIMEOUT(bp, oneway_flood, 60)
{
	uint64_t *accepted = malloc(LOG_CAP * sizeof(uint64_t));
	uint64_t next = 0, naccepted = 0, nrefused = 0, nlogged = 0, t0, end, warm;
	long client_rss0 = -1, server_rss0 = -1, client_rss1, server_rss1;
	uint8_t buf[sizeof(uint64_t) + 256];
	enum cell_status st = CELL_STATUS_OK;
	uint32_t got = 0;
	uint64_t bad = 0;

	ASSERT_NE(NULL, accepted);
	memset(accepted, 0, LOG_CAP * sizeof(uint64_t)); /* resident from the start */
	t0 = cell_now_ns();
	warm = t0 + 300 * CELL_NSEC_PER_MSEC;
	end = t0 + 2 * CELL_NSEC_PER_SEC;
	while (cell_now_ns() < end && naccepted < LOG_CAP) {
		uint64_t seq = next++;
		uint32_t len = sizeof(seq) + (uint32_t)(seq % 200);
		/* Every 8th call may wait 20 us at most: refused while the ring is full. */
		uint64_t deadline = seq % 8 == 7 ? cell_deadline_in_ns(20 * CELL_NSEC_PER_USEC)
						 : cell_deadline_in_ms(5000);

		memcpy(buf, &seq, sizeof(seq));
		fill(buf + sizeof(seq), len - sizeof(seq), seq);
		st = cell_client_send(self->c, M_SEQ, buf, len, deadline);
		if (st == CELL_STATUS_OK)
			accepted[naccepted++] = seq;
		else if (st == CELL_STATUS_DEADLINE_EXCEEDED && seq % 8 == 7)
			nrefused++;
		else
			break;
		if (client_rss0 < 0 && cell_now_ns() >= warm) {
			client_rss0 = rss_of(0);
			server_rss0 = rss_of(self->server);
		}
	}
	ASSERT_EQ(CELL_STATUS_OK, st == CELL_STATUS_DEADLINE_EXCEEDED ? CELL_STATUS_OK : st)
	TH_LOG("call %llu: %s: %s", (unsigned long long)next - 1, cell_status_name(st),
	       cell_last_error(NULL));
	/* One-way calls of a connection are handled in order: this one comes last. */
	ASSERT_EQ(CELL_STATUS_OK,
		  cell_client_call(self->c, M_SYNC, NULL, 0, &nlogged, sizeof(nlogged), &got,
				   cell_deadline_in_ms(20000)))
	TH_LOG("%s", cell_last_error(NULL));
	client_rss1 = rss_of(0);
	server_rss1 = rss_of(self->server);
	ASSERT_TRUE(server_alive(self->server));
	EXPECT_EQ(0, atomic_load(&shm->overflow));
	EXPECT_EQ(0, atomic_load(&shm->corrupt));
	EXPECT_EQ(naccepted, nlogged);
	for (uint64_t i = 0; i < naccepted && i < nlogged; i++) {
		if (shm->log[i] != accepted[i]) {
			if (!bad++)
				TH_LOG("log[%llu] = %llu, accepted %llu", (unsigned long long)i,
				       (unsigned long long)shm->log[i],
				       (unsigned long long)accepted[i]);
		}
	}
	EXPECT_EQ(0, bad);
	/*
	 * The client was held to the handler's pace (at most one message per
	 * SEQ_COST_NS, plus what the ring or socket buffer holds), far below
	 * its own.  On the ring path the flood kept the ring full, so calls
	 * with short deadlines were refused.
	 */
	EXPECT_GT((cell_now_ns() - t0) / SEQ_COST_NS + 4000, next);
	if (variant->backend != CELL_RING_BACKEND_NONE)
		EXPECT_LT(0, nrefused);
	TH_LOG("%s: %llu calls, %llu accepted, %llu refused (deadline); server %.0f/s",
	       cell_client_path(self->c), (unsigned long long)next, (unsigned long long)naccepted,
	       (unsigned long long)nrefused,
	       (double)naccepted * 1e9 / (double)(cell_now_ns() - t0));
	ASSERT_LT(0, client_rss0);
	ASSERT_LT(0, server_rss0);
	TH_LOG("RSS client %ld -> %ld KiB, server %ld -> %ld KiB", client_rss0 >> 10,
	       client_rss1 >> 10, server_rss0 >> 10, server_rss1 >> 10);
	EXPECT_GT(client_rss0 + (512L << 10), client_rss1);
	EXPECT_GT(server_rss0 + (512L << 10), server_rss1);
	free(accepted);
}

/* ---- pipelined calls from several threads ------------------------------ */

#define THREADS	 4
#define PIPELINE 4

struct worker {
	struct cell_client *c;
	uint32_t id;
	uint64_t end;
	uint64_t calls;
	uint64_t failures;
	char why[256];
};

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	static _Thread_local uint8_t want[512];
	uint32_t seq = 0;

	while (cell_now_ns() < w->end && !w->failures) {
		struct cell_call *calls[PIPELINE];
		uint32_t lens[PIPELINE];
		uint64_t keys[PIPELINE];
		int n;

		for (n = 0; n < PIPELINE; n++) {
			enum cell_status st;
			void *buf;

			lens[n] = sizeof(uint64_t) + (seq * 37) % 480;
			keys[n] = (uint64_t)w->id << 32 | seq++;
			st = cell_call_begin(w->c, M_ECHO_SLOW, lens[n], 0,
					     cell_deadline_in_ms(10000), &calls[n], &buf);
			if (st) {
				w->failures++;
				snprintf(w->why, sizeof(w->why), "begin: %s: %s",
					 cell_status_name(st), cell_last_error(NULL));
				break;
			}
			memcpy(buf, &keys[n], sizeof(keys[n]));
			fill((uint8_t *)buf + sizeof(uint64_t), lens[n] - sizeof(uint64_t),
			     keys[n]);
			st = cell_call_submit(calls[n], lens[n]);
			if (st) {
				w->failures++;
				snprintf(w->why, sizeof(w->why), "submit: %s: %s",
					 cell_status_name(st), cell_last_error(NULL));
				cell_call_end(calls[n]);
				break;
			}
		}
		for (int i = 0; i < n; i++) {
			struct cell_response r;
			enum cell_status st = cell_call_wait(calls[i], &r);

			memcpy(want, &keys[i], sizeof(keys[i]));
			fill(want + sizeof(uint64_t), lens[i] - sizeof(uint64_t), keys[i]);
			if (st || r.len != lens[i] || memcmp(r.data, want, lens[i])) {
				if (!w->failures++)
					snprintf(w->why, sizeof(w->why),
						 "call %llx: %s, %u bytes (want %u): %s",
						 (unsigned long long)keys[i], cell_status_name(st),
						 r.len, lens[i], cell_last_error(NULL));
			} else {
				w->calls++;
			}
			cell_call_end(calls[i]);
		}
	}
	return NULL;
}

TEST_F_TIMEOUT(bp, pipelined_threads, 60)
{
	struct worker w[THREADS];
	pthread_t t[THREADS];
	uint64_t total = 0, end = cell_deadline_in_ms(1500);
	long rss0 = rss_of(0), srss0 = rss_of(self->server);

	for (uint32_t i = 0; i < THREADS; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].c = self->c;
		w[i].id = i + 1;
		w[i].end = end;
		ASSERT_EQ(0, pthread_create(&t[i], NULL, worker_run, &w[i]));
	}
	for (uint32_t i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		EXPECT_EQ(0, w[i].failures) TH_LOG("thread %u: %s", i, w[i].why);
		EXPECT_LT(0, w[i].calls);
		total += w[i].calls;
	}
	ASSERT_TRUE(server_alive(self->server));
	EXPECT_EQ(total, atomic_load(&shm->handled));
	TH_LOG("%s: %llu calls from %d threads, %d in flight each; RSS client %ld -> %ld KiB, "
	       "server %ld -> %ld KiB",
	       cell_client_path(self->c), (unsigned long long)total, THREADS, PIPELINE, rss0 >> 10,
	       rss_of(0) >> 10, srss0 >> 10, rss_of(self->server) >> 10);
}

/*
 * A caller keeps one response view (its ring bytes cannot be given back,
 * nor those of the responses after it) while the same client makes
 * hundreds of calls: they must all work while the ring has room.
 */
TEST(held_response_view)
{
	char dir[64] = "/tmp/cell-held-XXXXXX", path[128];
	uint8_t req[16], resp[16], want[16];
	struct cell_response r;
	struct cell_client *c;
	struct cell_call *held;
	uint32_t got = 0;
	void *buf;
	pid_t srv;
	int i;

	shm = mmap(NULL, sizeof(*shm), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, shm);
	ASSERT_NE(NULL, mkdtemp(dir));
	srv = start_server(dir, CELL_RING_BACKEND_MEMFD, 256U << 10);
	ASSERT_LT(0, srv);
	c = connect_to(dir, CELL_RING_BACKEND_MEMFD, 256U << 10);
	ASSERT_NE(NULL, c) TH_LOG("%s", cell_last_error(NULL));
	ASSERT_EQ(CELL_STATUS_OK,
		  cell_call_begin(c, M_ECHO, 16, 0, cell_deadline_in_ms(5000), &held, &buf));
	fill(buf, 16, 99);
	ASSERT_EQ(CELL_STATUS_OK, cell_call_finish(held, 16, &r));
	/* 300 responses of 48 ring bytes: far more than calls in flight, within the ring. */
	for (i = 0; i < 300; i++) {
		enum cell_status st;

		fill(req, sizeof(req), (uint64_t)i);
		st = cell_client_call(c, M_ECHO, req, sizeof(req), resp, sizeof(resp), &got,
				      cell_deadline_in_ms(10000));
		if (st || got != sizeof(req) || memcmp(req, resp, sizeof(req))) {
			TH_LOG("call %d: %s: %s", i, cell_status_name(st), cell_last_error(NULL));
			break;
		}
	}
	EXPECT_EQ(300, i);
	fill(want, sizeof(want), 99);
	EXPECT_EQ(16, r.len);
	EXPECT_EQ(0, memcmp(r.data, want, sizeof(want)));
	cell_call_end(held);
	EXPECT_EQ(CELL_STATUS_OK, cell_client_call(c, M_ECHO, req, sizeof(req), resp, sizeof(resp),
						   &got, cell_deadline_in_ms(5000)));
	cell_client_free(c);
	kill(srv, SIGKILL);
	waitpid(srv, NULL, 0);
	snprintf(path, sizeof(path), "%s/%s.sock", dir, NAME);
	unlink(path);
	rmdir(dir);
	munmap(shm, sizeof(*shm));
}

TEST_HARNESS_MAIN
