// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Resilience (cell/resilience.h): the policy alone on a fake clock
 * (backoff bounds, breaker closed -> open -> half-open -> closed, a probe
 * that never reports, option checks), then with a server in a child
 * process on the memfd and unix paths: reconnect after the server
 * restarts, fail fast while the breaker is open and recover after the
 * cool-down, retries of calls that were not sent, and no call delivered
 * twice while the server is killed mid-call over and over (unless its
 * method is marked idempotent).  On a quic:// target too: the breaker
 * opens on remote failures, fails fast, and closes once the restarted
 * server answers the probe (on the reconnected QUIC connection).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cell/quic.h>
#include <cell/resilience.h>
#include <cell/rpc.h>
#include <cell/time.h>
#include <cell/wire.h>

#include "server_child.h"

#include "kselftest_harness.h"

#define FP	 0x5e5111e9ce5e5111ULL
#define M_RECORD 1 /* payload: struct record_req; counts deliveries of its id */
#define M_IDEM	 2 /* the same, but marked idempotent by the client */
#define M_NOTE	 3 /* one-way: counts deliveries of its id */
#define MAX_IDS	 65536
#define MS	 CELL_NSEC_PER_MSEC
#define NAME	 "restest"

struct record_req {
	uint32_t id;
	uint32_t sleep_ms; /* before answering, on the first delivery only */
};

/* Deliveries per id, shared with every server child (MAP_SHARED). */
static _Atomic uint32_t *deliveries;

/* ---- a fake clock ------------------------------------------------------ */

struct fake_clock {
	_Atomic uint64_t now;
};

static uint64_t fake_now(void *ctx)
{
	return atomic_load(&((struct fake_clock *)ctx)->now);
}

/* Sleeping on the fake clock moves it: time passes only when someone waits. */
static void fake_sleep_until(uint64_t until, void *ctx)
{
	struct fake_clock *fc = ctx;
	uint64_t now = atomic_load(&fc->now);

	while (now < until && !atomic_compare_exchange_weak(&fc->now, &now, until))
		;
}

static struct cell_resilience *fake_policy(struct fake_clock *fc, uint32_t threshold,
					   uint64_t cooldown)
{
	struct cell_resilience_opts o = {
		.sz = sizeof(o),
		.backoff_initial_ns = 10 * MS,
		.backoff_max_ns = 80 * MS,
		.breaker_threshold = threshold,
		.breaker_cooldown_ns = cooldown,
		.clock = fake_now,
		.sleep_until = fake_sleep_until,
		.clock_ctx = fc,
		.seed = 42,
	};

	atomic_store(&fc->now, 1000 * CELL_NSEC_PER_SEC);
	return cell_resilience_new(&o);
}

TEST(backoff_doubles_within_jitter_bounds_up_to_the_cap)
{
	static const uint64_t ceiling[] = { 0, 10, 20, 40, 80, 80, 80, 80 };
	struct fake_clock fc;
	struct cell_resilience *r = fake_policy(&fc, 0, 0);
	unsigned int a, i;

	ASSERT_NE(NULL, r);
	EXPECT_EQ(0, cell_resilience_backoff_ns(r, 0));
	for (a = 1; a < sizeof(ceiling) / sizeof(ceiling[0]); a++) {
		uint64_t lo = UINT64_MAX, hi = 0, d = ceiling[a] * MS;

		for (i = 0; i < 2000; i++) {
			uint64_t b = cell_resilience_backoff_ns(r, a);

			lo = b < lo ? b : lo;
			hi = b > hi ? b : hi;
		}
		TH_LOG("attempt %u: %.2f .. %.2f ms (bounds %.1f .. %.1f)", a, lo / 1e6, hi / 1e6,
		       d / 2e6, d / 1e6);
		EXPECT_GE(lo, d / 2);
		EXPECT_LE(hi, d);
		/* Jittered: the samples spread over most of the range. */
		EXPECT_LT(lo, d / 2 + d / 10);
		EXPECT_GT(hi, d - d / 10);
	}
	EXPECT_LE(cell_resilience_backoff_ns(r, 1000), 80 * MS); /* no overflow */
	cell_resilience_free(r);
}

TEST(breaker_opens_after_threshold_and_half_opens_after_cooldown)
{
	struct fake_clock fc;
	struct cell_resilience *r = fake_policy(&fc, 3, 100 * MS);
	uint64_t t0, next;

	ASSERT_NE(NULL, r);
	EXPECT_EQ(CELL_BREAKER_CLOSED, cell_resilience_state(r));
	EXPECT_EQ(0, cell_resilience_next_attempt(r));
	cell_resilience_record(r, 0);
	cell_resilience_record(r, 0);
	EXPECT_EQ(2, cell_resilience_failures(r));
	EXPECT_EQ(CELL_BREAKER_CLOSED, cell_resilience_state(r));
	EXPECT_EQ(0, cell_resilience_admit(r));
	/* After 2 failures the next attempt waits backoff(2) in [10, 20] ms. */
	next = cell_resilience_next_attempt(r) - cell_resilience_now(r);
	EXPECT_GE(next, 10 * MS);
	EXPECT_LE(next, 20 * MS);

	cell_resilience_record(r, 0);
	t0 = cell_resilience_now(r);
	EXPECT_EQ(CELL_BREAKER_OPEN, cell_resilience_state(r));
	EXPECT_EQ(-EAGAIN, cell_resilience_admit(r));
	fake_sleep_until(t0 + 99 * MS, &fc);
	EXPECT_EQ(CELL_BREAKER_OPEN, cell_resilience_state(r));
	EXPECT_EQ(-EAGAIN, cell_resilience_admit(r));
	fake_sleep_until(t0 + 100 * MS, &fc);
	EXPECT_EQ(CELL_BREAKER_HALF_OPEN, cell_resilience_state(r));
	EXPECT_STREQ("half-open", cell_breaker_state_name(cell_resilience_state(r)));
	EXPECT_EQ(0, cell_resilience_admit(r));	      /* the probe */
	EXPECT_EQ(-EAGAIN, cell_resilience_admit(r)); /* one at a time */

	/* The probe fails: open again for a whole cool-down. */
	cell_resilience_record(r, 0);
	t0 = cell_resilience_now(r);
	EXPECT_EQ(CELL_BREAKER_OPEN, cell_resilience_state(r));
	fake_sleep_until(t0 + 50 * MS, &fc);
	EXPECT_EQ(-EAGAIN, cell_resilience_admit(r));
	fake_sleep_until(t0 + 100 * MS, &fc);
	EXPECT_EQ(0, cell_resilience_admit(r));

	/* The probe succeeds: closed, the count and the backoff forgotten. */
	cell_resilience_record(r, 1);
	EXPECT_EQ(CELL_BREAKER_CLOSED, cell_resilience_state(r));
	EXPECT_EQ(0, cell_resilience_failures(r));
	EXPECT_EQ(0, cell_resilience_next_attempt(r));
	EXPECT_EQ(0, cell_resilience_admit(r));
	EXPECT_EQ(0, cell_resilience_admit(r));
	cell_resilience_free(r);
}

TEST(half_open_probe_that_never_reports_expires)
{
	struct fake_clock fc;
	struct cell_resilience *r = fake_policy(&fc, 1, 100 * MS);

	ASSERT_NE(NULL, r);
	cell_resilience_record(r, 0);
	EXPECT_EQ(CELL_BREAKER_OPEN, cell_resilience_state(r));
	fake_sleep_until(cell_resilience_now(r) + 100 * MS, &fc);
	EXPECT_EQ(0, cell_resilience_admit(r));
	EXPECT_EQ(-EAGAIN, cell_resilience_admit(r));
	fake_sleep_until(cell_resilience_now(r) + 100 * MS, &fc);
	EXPECT_EQ(0, cell_resilience_admit(r)); /* a new probe */
	cell_resilience_free(r);
}

TEST(breaker_off_never_opens)
{
	struct fake_clock fc;
	struct cell_resilience *r = fake_policy(&fc, CELL_RESILIENCE_BREAKER_OFF, 0);
	int i;

	ASSERT_NE(NULL, r);
	for (i = 0; i < 100; i++)
		cell_resilience_record(r, 0);
	EXPECT_EQ(CELL_BREAKER_CLOSED, cell_resilience_state(r));
	EXPECT_EQ(0, cell_resilience_admit(r));
	/* The backoff still grows, to the cap. */
	EXPECT_LE(cell_resilience_next_attempt(r) - cell_resilience_now(r), 80 * MS);
	EXPECT_GE(cell_resilience_next_attempt(r) - cell_resilience_now(r), 40 * MS);
	cell_resilience_free(r);
}

TEST(bad_options_are_refused)
{
	struct {
		struct cell_resilience_opts o;
		uint64_t future_field;
	} big = { .o = { .sz = sizeof(big) }, .future_field = 1 };
	struct cell_resilience_opts o = { .sz = 0 };
	struct cell_resilience *r;

	errno = 0;
	EXPECT_EQ(NULL, cell_resilience_new(&o));
	EXPECT_EQ(EINVAL, errno);
	o.sz = sizeof(o);
	o.backoff_initial_ns = 100 * MS;
	o.backoff_max_ns = 10 * MS;
	EXPECT_EQ(NULL, cell_resilience_new(&o));
	EXPECT_EQ(EINVAL, errno);
	o.backoff_max_ns = 0;
	o.clock = fake_now;
	EXPECT_EQ(NULL, cell_resilience_new(&o)) TH_LOG("a clock needs a sleep");
	EXPECT_EQ(NULL, cell_resilience_new(&big.o));
	EXPECT_EQ(EINVAL, errno);
	big.future_field = 0;
	r = cell_resilience_new(&big.o);
	EXPECT_NE(NULL, r);
	cell_resilience_free(r);
	r = cell_resilience_new(NULL);
	EXPECT_NE(NULL, r);
	cell_resilience_free(r);
}

/* ---- with a server ------------------------------------------------------ */

static enum cell_status record(const struct cell_vesicle *req, struct cell_reply *reply, void *ctx)
{
	struct record_req r;
	uint32_t n;

	(void)ctx;
	if (req->len != sizeof(r))
		return CELL_STATUS_INVALID_ARGUMENT;
	memcpy(&r, req->data, sizeof(r));
	if (r.id >= MAX_IDS)
		return CELL_STATUS_INVALID_ARGUMENT;
	n = atomic_fetch_add(&deliveries[r.id], 1) + 1;
	if (n == 1 && r.sleep_ms)
		usleep(r.sleep_ms * 1000);
	return cell_reply_send(reply, &n, sizeof(n)) ? CELL_STATUS_INTERNAL : CELL_STATUS_OK;
}

static enum cell_status note(const struct cell_vesicle *req, struct cell_reply *reply, void *ctx)
{
	struct record_req r;

	(void)ctx;
	if (reply || req->len != sizeof(r))
		return CELL_STATUS_INVALID_ARGUMENT;
	memcpy(&r, req->data, sizeof(r));
	if (r.id < MAX_IDS)
		atomic_fetch_add(&deliveries[r.id], 1);
	return CELL_STATUS_OK;
}

struct server_args {
	const char *dir;
	enum cell_ring_backend backend;
};

static struct cell_server *make_server(void *arg)
{
	const struct server_args *a = arg;
	struct cell_server_opts o = {
		.sz = sizeof(o),
		.fingerprint = FP,
		.runtime_dir = a->dir,
		.backend = a->backend,
		.no_register = 1,
	};
	struct cell_server *srv = cell_server_new(NAME, &o);

	if (!srv)
		return NULL;
	if (cell_server_handle(srv, M_RECORD, record, NULL) ||
	    cell_server_handle(srv, M_IDEM, record, NULL) ||
	    cell_server_handle(srv, M_NOTE, note, NULL)) {
		cell_server_free(srv);
		return NULL;
	}
	return srv;
}

static int idem(uint16_t method, void *ctx)
{
	(void)ctx;
	return method == M_IDEM;
}

FIXTURE(live)
{
	char dir[64];
	struct server_args args;
	_Atomic pid_t server;
	struct cell_client *c;
};

FIXTURE_VARIANT(live)
{
	enum cell_ring_backend backend;
	const char *path;
};

FIXTURE_VARIANT_ADD(live, memfd){
	.backend = CELL_RING_BACKEND_MEMFD,
	.path = "shm-memfd",
};

FIXTURE_VARIANT_ADD(live, unix){
	.backend = CELL_RING_BACKEND_NONE,
	.path = "unix",
};

static pid_t start(struct _test_data_live *self)
{
	pid_t pid = fork_server(make_server, &self->args, 2);

	atomic_store(&self->server, pid);
	return pid;
}

static void stop(struct _test_data_live *self)
{
	pid_t pid = atomic_exchange(&self->server, -1);

	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
}

static struct cell_client *connect_policy(struct _test_data_live *self,
					  const FIXTURE_VARIANT(live) * v,
					  const struct cell_resilience_opts *ro)
{
	struct cell_client_opts o = {
		.sz = sizeof(o),
		.fingerprint = FP,
		.runtime_dir = self->dir,
		.backend = v->backend,
		.resilience = ro,
	};

	return cell_client_connect(NAME, &o);
}

FIXTURE_SETUP(live)
{
	snprintf(self->dir, sizeof(self->dir), "/tmp/cell-restest-%d", getpid());
	ASSERT_EQ(0, mkdir(self->dir, 0700));
	deliveries = mmap(NULL, MAX_IDS * sizeof(*deliveries), PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, deliveries);
	self->args.dir = self->dir;
	self->args.backend = variant->backend;
	self->c = NULL;
	ASSERT_LT(0, start(self));
}

FIXTURE_TEARDOWN(live)
{
	char path[128];

	cell_client_free(self->c);
	stop(self);
	snprintf(path, sizeof(path), "%s/%s.sock", self->dir, NAME);
	unlink(path);
	rmdir(self->dir);
	munmap(deliveries, MAX_IDS * sizeof(*deliveries));
}

static enum cell_status record_call(struct cell_client *c, uint16_t method, uint32_t id,
				    uint32_t sleep_ms, uint64_t deadline)
{
	struct record_req r = { .id = id, .sleep_ms = sleep_ms };
	uint32_t n = 0;

	return cell_client_call(c, method, &r, sizeof(r), &n, sizeof(n), NULL, deadline);
}

TEST_F(live, reconnects_after_the_server_restarts)
{
	struct cell_resilience_opts ro = { .sz = sizeof(ro), .max_retries = 3 };
	struct cell_resilience *r;

	self->c = connect_policy(self, variant, &ro);
	ASSERT_NE(NULL, self->c) TH_LOG("%s", cell_last_error(NULL));
	r = cell_client_resilience(self->c);
	ASSERT_NE(NULL, r);
	EXPECT_EQ(CELL_STATUS_OK, record_call(self->c, M_RECORD, 1, 0, cell_deadline_in_ms(2000)));
	stop(self);
	ASSERT_LT(0, start(self));
	EXPECT_EQ(CELL_STATUS_OK, record_call(self->c, M_RECORD, 2, 0, cell_deadline_in_ms(2000)))
	TH_LOG("%s", cell_last_error(NULL));
	EXPECT_TRUE(cell_client_connected(self->c));
	EXPECT_STREQ(variant->path, cell_client_path(self->c));
	EXPECT_EQ(CELL_BREAKER_CLOSED, cell_resilience_state(r));
	EXPECT_EQ(1, deliveries[1]);
	EXPECT_EQ(1, deliveries[2]);
}

TEST_F(live, open_breaker_fails_fast_then_recovers_after_cooldown)
{
	struct cell_resilience_opts ro = {
		.sz = sizeof(ro),
		.backoff_initial_ns = 5 * MS,
		.backoff_max_ns = 20 * MS,
		.breaker_threshold = 3,
		.breaker_cooldown_ns = 300 * MS,
	};
	struct cell_resilience *r;
	enum cell_status st;
	uint64_t t0, dt;
	int i;

	self->c = connect_policy(self, variant, &ro);
	ASSERT_NE(NULL, self->c);
	r = cell_client_resilience(self->c);
	stop(self);
	/* Each call: one reconnect attempt (after its backoff), refused. */
	for (i = 0; i < 3; i++) {
		st = record_call(self->c, M_RECORD, 10 + i, 0, cell_deadline_in_ms(1000));
		EXPECT_EQ(CELL_STATUS_UNAVAILABLE, st) TH_LOG("%s", cell_last_error(NULL));
	}
	EXPECT_EQ(CELL_BREAKER_OPEN, cell_resilience_state(r));
	ASSERT_LT(0, start(self)); /* back, but the breaker does not know yet */
	t0 = cell_now_ns();
	st = record_call(self->c, M_RECORD, 20, 0, cell_deadline_in_ms(1000));
	dt = cell_now_ns() - t0;
	EXPECT_EQ(CELL_STATUS_UNAVAILABLE, st);
	EXPECT_NE(NULL, strstr(cell_last_error(NULL), "circuit breaker open"))
	TH_LOG("%s", cell_last_error(NULL));
	EXPECT_LT(dt, 5 * MS) TH_LOG("fail fast took %llu us", (unsigned long long)dt / 1000);
	EXPECT_EQ(0, deliveries[20]);
	usleep(310 * 1000);
	EXPECT_EQ(CELL_BREAKER_HALF_OPEN, cell_resilience_state(r));
	st = record_call(self->c, M_RECORD, 21, 0, cell_deadline_in_ms(2000));
	EXPECT_EQ(CELL_STATUS_OK, st) TH_LOG("%s", cell_last_error(NULL));
	EXPECT_EQ(CELL_BREAKER_CLOSED, cell_resilience_state(r));
	EXPECT_EQ(1, deliveries[21]);
	for (i = 10; i < 13; i++)
		EXPECT_EQ(0, deliveries[i]);
}

/*
 * Calls run in a thread, the kills and restarts in the test's main thread:
 * PR_SET_PDEATHSIG kills a server child when the thread that forked it
 * ends, so servers are forked by the thread that outlives them.
 */
struct caller {
	struct cell_client *c;
	uint16_t method;
	uint32_t id, sleep_ms;
	enum cell_status st;
	/* the stress loop: ids from @id on until @stop; counts */
	bool loop;
	_Atomic int stop;
	uint32_t ok, lost, twice, missing, other;
};

static void *call_in_thread(void *arg)
{
	struct caller *k = arg;
	uint32_t id;

	if (!k->loop && k->method == M_NOTE) {
		struct record_req r = { .id = k->id };

		k->st = cell_client_send(k->c, M_NOTE, &r, sizeof(r), cell_deadline_in_ms(3000));
		return NULL;
	}
	if (!k->loop) {
		k->st = record_call(k->c, k->method, k->id, k->sleep_ms, cell_deadline_in_ms(3000));
		return NULL;
	}
	for (id = k->id; id < MAX_IDS && !atomic_load(&k->stop); id++) {
		/* Every 8th call lingers 20 ms in the handler: often cut by a kill. */
		enum cell_status st =
			record_call(k->c, M_RECORD, id, id % 8 ? 0 : 20, cell_deadline_in_ms(2000));

		if (st == CELL_STATUS_OK) {
			k->ok++;
			k->missing += deliveries[id] != 1;
		} else if (st == CELL_STATUS_UNAVAILABLE) {
			k->lost++;
		} else {
			k->other++;
		}
		k->twice += deliveries[id] > 1;
	}
	return NULL;
}

static void restart_after(struct _test_data_live *self, unsigned int ms)
{
	usleep(ms * 1000);
	stop(self);
	start(self);
}

TEST_F(live, call_not_sent_is_retried_until_the_server_is_back)
{
	struct cell_resilience_opts ro = {
		.sz = sizeof(ro),
		.max_retries = 50,
		.backoff_initial_ns = 10 * MS,
		.backoff_max_ns = 40 * MS,
		.breaker_threshold = CELL_RESILIENCE_BREAKER_OFF,
	};
	struct caller k = { .method = M_RECORD, .id = 30 };
	pthread_t t;

	self->c = k.c = connect_policy(self, variant, &ro);
	ASSERT_NE(NULL, self->c);
	stop(self);
	ASSERT_EQ(0, pthread_create(&t, NULL, call_in_thread, &k));
	restart_after(self, 150);
	pthread_join(t, NULL);
	EXPECT_LT(0, self->server);
	EXPECT_EQ(CELL_STATUS_OK, k.st) TH_LOG("%s", cell_last_error(NULL));
	EXPECT_EQ(1, deliveries[30]);
}

TEST_F(live, one_way_message_not_sent_is_retried_until_the_server_is_back)
{
	struct cell_resilience_opts ro = {
		.sz = sizeof(ro),
		.max_retries = 50,
		.backoff_initial_ns = 10 * MS,
		.backoff_max_ns = 40 * MS,
		.breaker_threshold = CELL_RESILIENCE_BREAKER_OFF,
	};
	struct caller k = { .method = M_NOTE, .id = 35 };
	int i;
	pthread_t t;

	self->c = k.c = connect_policy(self, variant, &ro);
	ASSERT_NE(NULL, self->c);
	stop(self);
	ASSERT_EQ(0, pthread_create(&t, NULL, call_in_thread, &k));
	restart_after(self, 150);
	pthread_join(t, NULL);
	EXPECT_EQ(CELL_STATUS_OK, k.st) TH_LOG("%s", cell_last_error(NULL));
	/* One-way: it arrives when the server gets to it. */
	for (i = 0; i < 200 && !deliveries[35]; i++)
		usleep(5000);
	EXPECT_EQ(1, deliveries[35]);
}

TEST_F(live, server_killed_mid_call_is_not_retried_unless_idempotent)
{
	struct cell_resilience_opts ro = {
		.sz = sizeof(ro),
		.max_retries = 5,
		.backoff_initial_ns = 5 * MS,
		.backoff_max_ns = 20 * MS,
		.idempotent = idem,
	};
	struct caller k = { .method = M_RECORD, .id = 40, .sleep_ms = 400 };
	pthread_t t;

	self->c = k.c = connect_policy(self, variant, &ro);
	ASSERT_NE(NULL, self->c);
	/* Killed 100 ms into a 400 ms handler: delivered, never answered. */
	ASSERT_EQ(0, pthread_create(&t, NULL, call_in_thread, &k));
	restart_after(self, 100);
	pthread_join(t, NULL);
	EXPECT_EQ(CELL_STATUS_UNAVAILABLE, k.st);
	EXPECT_EQ(1, deliveries[40]);
	/* The next call reconnects. */
	EXPECT_EQ(CELL_STATUS_OK, record_call(self->c, M_RECORD, 41, 0, cell_deadline_in_ms(2000)))
	TH_LOG("%s", cell_last_error(NULL));
	EXPECT_EQ(1, deliveries[41]);

	/* Marked idempotent: resent to the new server, which answers at once. */
	k.method = M_IDEM;
	k.id = 42;
	ASSERT_EQ(0, pthread_create(&t, NULL, call_in_thread, &k));
	restart_after(self, 100);
	pthread_join(t, NULL);
	EXPECT_EQ(CELL_STATUS_OK, k.st);
	EXPECT_EQ(2, deliveries[42]);
}

TEST_F(live, no_call_delivered_twice_while_the_server_dies_over_and_over)
{
	struct cell_resilience_opts ro = {
		.sz = sizeof(ro),
		.max_retries = 20,
		.backoff_initial_ns = 1 * MS,
		.backoff_max_ns = 10 * MS,
		.breaker_threshold = CELL_RESILIENCE_BREAKER_OFF,
	};
	struct caller k = { .id = 100, .loop = true };
	pthread_t t;
	int i;

	self->c = k.c = connect_policy(self, variant, &ro);
	ASSERT_NE(NULL, self->c);
	ASSERT_EQ(0, pthread_create(&t, NULL, call_in_thread, &k));
	for (i = 0; i < 15; i++)
		restart_after(self, 60);
	usleep(50 * 1000);
	atomic_store(&k.stop, 1);
	pthread_join(t, NULL);
	TH_LOG("%s: %u calls OK, %u UNAVAILABLE (killed mid-call), %u other, through 15 kills",
	       variant->path, k.ok, k.lost, k.other);
	EXPECT_EQ(0, k.twice);
	EXPECT_EQ(0, k.missing);
	EXPECT_EQ(0, k.other);
	EXPECT_GT(k.ok, 100);
	EXPECT_GT(k.lost, 0);
}

/* ---- a remote (quic://) target ----------------------------------------- */

static unsigned int quic_port;

static struct cell_server *make_quic_server(void *arg)
{
	struct cell_quic_opts q = { .sz = sizeof(q), .idle_timeout_ms = 300 };
	struct cell_server *srv = make_server(arg);
	char addr[32];

	snprintf(addr, sizeof(addr), "127.0.0.1:%u", quic_port);
	if (srv && cell_server_listen_quic(srv, addr, &q)) {
		cell_server_free(srv);
		return NULL;
	}
	return srv;
}

TEST(quic_target_breaker_opens_fails_fast_and_recovers)
{
	struct cell_resilience_opts ro = {
		.sz = sizeof(ro),
		.backoff_initial_ns = 5 * MS,
		.backoff_max_ns = 20 * MS,
		.breaker_threshold = 3,
		.breaker_cooldown_ns = 300 * MS,
	};
	struct cell_quic_opts q = { .sz = sizeof(q), .idle_timeout_ms = 300 };
	struct cell_client_opts o = {
		.sz = sizeof(o), .fingerprint = FP, .resilience = &ro, .quic = &q
	};
	char dir[64], target[64], path[128];
	struct server_args args = { .dir = dir, .backend = CELL_RING_BACKEND_NONE };
	struct cell_resilience *r;
	struct cell_client *c;
	enum cell_status st = CELL_STATUS_OK;
	uint64_t t0, dt = 0;
	pid_t pid;
	int i, failed = 0;

	/* No node key and no known peers: each side makes a key, both TOFU. */
	setenv("CELL_STATE_DIR", "/nonexistent/cell-restest", 1);
	unsetenv("CELL_KNOWN_PEERS");
	snprintf(dir, sizeof(dir), "/tmp/cell-restest-q%d", getpid());
	ASSERT_EQ(0, mkdir(dir, 0700));
	snprintf(path, sizeof(path), "%s/%s.sock", dir, NAME);
	deliveries = mmap(NULL, MAX_IDS * sizeof(*deliveries), PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, deliveries);
	quic_port = 20000 + (unsigned int)getpid() % 20000;
	pid = fork_server(make_quic_server, &args, 2);
	if (pid < 0) {
		rmdir(dir);
		SKIP(return, "no QUIC server (libcell without QUIC, or port %u taken)", quic_port);
	}
	snprintf(target, sizeof(target), "quic://127.0.0.1:%u", quic_port);
	c = cell_client_connect(target, &o);
	ASSERT_NE(NULL, c) TH_LOG("%s", cell_last_error(NULL));
	EXPECT_STREQ("quic", cell_client_path(c));
	r = cell_client_resilience(c);
	ASSERT_NE(NULL, r);
	EXPECT_EQ(CELL_STATUS_OK, record_call(c, M_RECORD, 1, 0, cell_deadline_in_ms(2000)));
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	unlink(path);
	/* Failures (deadline or connection lost) until the breaker opens. */
	for (i = 0; i < 10 && cell_resilience_state(r) != CELL_BREAKER_OPEN; i++) {
		st = record_call(c, M_RECORD, 10 + i, 0, cell_deadline_in_ms(150));
		failed += st != CELL_STATUS_OK;
	}
	EXPECT_EQ(CELL_BREAKER_OPEN, cell_resilience_state(r)) TH_LOG("after %d calls", i);
	EXPECT_EQ(i, failed);
	TH_LOG("breaker open after %d failed remote calls (last: %s)", i, cell_status_name(st));
	pid = fork_server(make_quic_server, &args, 2);
	ASSERT_LT(0, pid);
	t0 = cell_now_ns();
	st = record_call(c, M_RECORD, 30, 0, cell_deadline_in_ms(1000));
	dt = cell_now_ns() - t0;
	EXPECT_EQ(CELL_STATUS_UNAVAILABLE, st);
	EXPECT_NE(NULL, strstr(cell_last_error(NULL), "circuit breaker open"))
	TH_LOG("%s", cell_last_error(NULL));
	EXPECT_LT(dt, 5 * MS) TH_LOG("fail fast took %llu us", (unsigned long long)dt / 1000);
	EXPECT_EQ(0, deliveries[30]);
	usleep(320 * 1000); /* the cool-down; the dead connection's idle timeout too */
	EXPECT_EQ(CELL_BREAKER_HALF_OPEN, cell_resilience_state(r));
	t0 = cell_now_ns();
	st = record_call(c, M_RECORD, 31, 0, cell_deadline_in_ms(3000));
	dt = cell_now_ns() - t0;
	EXPECT_EQ(CELL_STATUS_OK, st) TH_LOG("%s", cell_last_error(NULL));
	EXPECT_EQ(CELL_BREAKER_CLOSED, cell_resilience_state(r));
	EXPECT_EQ(1, deliveries[31]);
	TH_LOG("probe over a new QUIC connection answered in %llu ms",
	       (unsigned long long)dt / 1000000);
	for (i = 10; i < 20; i++)
		EXPECT_GE(1, deliveries[i]);
	cell_client_free(c);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	unlink(path);
	rmdir(dir);
	munmap(deliveries, MAX_IDS * sizeof(*deliveries));
}

TEST_HARNESS_MAIN
