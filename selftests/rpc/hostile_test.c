// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Hostile clients against a live server (forked, 2 threads, echo handler),
 * while well-behaved clients (one on the ring path, one on the unix path)
 * keep calling echo with checked payloads: every one of their calls must
 * return OK with the right bytes, and the server process must stay alive.
 *
 *  - ring_scribbler: a client that did a real handshake by hand writes
 *    garbage into the shared request ring (random producer page, forged,
 *    unaligned and backward positions, torn/forged/oversized records,
 *    stray WRAPs, well-formed frames the ring must not carry) and into the
 *    response ring's consumer page, interleaved with valid records.  Each
 *    violation must get its connection closed within 1 s, and the valid
 *    records committed just before the garbage must still be answered.
 *    Scribbling what the server does not read (the geometry page, reserved
 *    words) must change nothing.
 *  - socket_garbage: before and after HELLO, random datagrams, truncated
 *    and oversized frames, bad HELLO fields (each refused with the right
 *    status), wrong fingerprints, ATTACHMENT frames without an fd or with
 *    a pipe, /dev/null, unsealed or short memfds, CANCEL floods.
 *  - stalled_client / stallers_on_every_thread: clients that never give
 *    response ring space back delay the others only for a bounded time
 *    and are dropped.
 *  - silent_connections: clients that never say HELLO do not stop others.
 *
 * Every test also checks that the server's fd count comes back to where
 * it was once the hostile connections are gone (no leaked fds).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cell/ring.h>
#include <cell/rpc.h>
#include <cell/wire.h>

#include "rpc_internal.h"

#include "kselftest_harness.h"
#include "server_child.h"

#define FP	   0x686f7374696c6521ULL
#define OTHER_FP   0x0badf00d0badf00dULL
#define NAME	   "hostile"
#define M_ECHO	   1
#define M_NOP	   2
#define MAX_RING   (1U << 16)
#define FRAME_HEAD 24 /* [u32 pad][struct cell_hdr] */

/* ---- the server ------------------------------------------------------- */

static enum cell_status echo(const struct cell_vesicle *req, struct cell_reply *reply, void *ctx)
{
	(void)ctx;
	return echo_in_place(req, reply);
}

static enum cell_status nop(const struct cell_vesicle *req, struct cell_reply *reply, void *ctx)
{
	(void)req;
	(void)reply;
	(void)ctx;
	return CELL_STATUS_OK;
}

static struct cell_server *make_server(void *arg)
{
	struct cell_server_opts o = {
		.sz = sizeof(o),
		.fingerprint = FP,
		.runtime_dir = arg,
		.backend = CELL_RING_BACKEND_MEMFD,
		.max_ring = MAX_RING,
	};
	struct cell_server *srv = cell_server_new(NAME, &o);

	if (srv && (cell_server_handle(srv, M_ECHO, echo, NULL) ||
		    cell_server_handle(srv, M_NOP, nop, NULL)))
		return NULL;
	return srv;
}

/* Fork a 2-thread server on the memfd backend; its pid once it accepts. */
static pid_t start_server(const char *dir)
{
	return fork_server(make_server, (void *)dir, 2);
}

/* 0 while @pid runs; else its wait status (or -1). */
static int server_exit_status(pid_t pid)
{
	int st = 0;
	pid_t rc = waitpid(pid, &st, WNOHANG);

	if (rc == 0)
		return 0;
	return rc == pid ? (st ? st : -1) : -1;
}

static int count_fds(pid_t pid)
{
	char path[64];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* Wait up to @ms for the server's fd count to come back to @want. */
static int fds_settle(pid_t pid, int want, int ms)
{
	uint64_t end = cell_deadline_in_ms((uint64_t)ms);
	int n;

	for (;;) {
		n = count_fds(pid);
		if (n == want || cell_now_ns() >= end)
			return n;
		usleep(2000);
	}
}

/* ---- randomness (fixed seed: a failure reproduces) --------------------- */

struct rng {
	uint64_t s;
};

static uint64_t rnd(struct rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545f4914f6cdd1dULL;
}

static void rnd_fill(struct rng *r, void *p, size_t n)
{
	uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)rnd(r);
}

static void pattern(uint8_t *p, uint32_t len, uint32_t seed)
{
	for (uint32_t i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 131 + seed * 7 + (i >> 8));
}

/* ---- well-behaved clients --------------------------------------------- */

struct good {
	const char *dir;
	enum cell_ring_backend backend;
	pthread_t thread;
	atomic_bool stop;
	atomic_ulong calls;
	unsigned long failures;
	enum cell_status first_status;
	char first_error[256];
	_Atomic uint64_t max_ns;
	bool started;
};

static void *good_run(void *arg)
{
	struct good *g = arg;
	struct cell_client_opts o = {
		.sz = sizeof(o),
		.fingerprint = FP,
		.runtime_dir = g->dir,
		.backend = g->backend,
	};
	struct cell_client *c = cell_client_connect(NAME, &o);
	uint8_t *req = malloc(80000), *resp = malloc(80000);
	struct rng r = { 0x1234567ULL + (uint64_t)g->backend };

	if (!c || !req || !resp) {
		g->failures++;
		snprintf(g->first_error, sizeof(g->first_error), "connect: %s",
			 cell_last_error(NULL));
		goto out;
	}
	for (uint32_t i = 0; !atomic_load(&g->stop); i++) {
		/* Mostly ring-sized payloads, now and then an attachment. */
		uint32_t len = i % 64 == 63 ? 70000 + i % 5000 : (uint32_t)(rnd(&r) % 2048);
		uint32_t got = 0;
		uint64_t t0 = cell_now_ns(), dt;
		enum cell_status st;

		pattern(req, len, i);
		st = cell_client_call(c, M_ECHO, req, len, resp, 80000, &got,
				      cell_deadline_in_ms(20000));
		dt = cell_now_ns() - t0;
		if (dt > atomic_load(&g->max_ns))
			atomic_store(&g->max_ns, dt);
		if (st != CELL_STATUS_OK || got != len || memcmp(req, resp, len)) {
			g->failures++;
			g->first_status = st;
			snprintf(g->first_error, sizeof(g->first_error),
				 "call %u (%u bytes): %s, got %u bytes: %s", i, len,
				 cell_status_name(st), got, cell_last_error(NULL));
			break;
		}
		atomic_fetch_add(&g->calls, 1);
	}
out:
	cell_client_free(c);
	free(req);
	free(resp);
	return NULL;
}

static int good_start(struct good *g, const char *dir, enum cell_ring_backend backend)
{
	memset(g, 0, sizeof(*g));
	g->dir = dir;
	g->backend = backend;
	if (pthread_create(&g->thread, NULL, good_run, g))
		return -1;
	g->started = true;
	/* Wait for the first call, so the client is connected before the attack. */
	for (int i = 0; i < 5000 && !atomic_load(&g->calls) && !g->failures; i++)
		usleep(1000);
	return atomic_load(&g->calls) ? 0 : -1;
}

static void good_stop(struct good *g)
{
	if (!g->started)
		return;
	atomic_store(&g->stop, true);
	pthread_join(g->thread, NULL);
	g->started = false;
}

/* ---- raw protocol ------------------------------------------------------ */

struct raw {
	int sock;
	int doorbell;
	bool shm;
	struct cell_hs welcome;
	struct cell_ring tx; /* request ring, we produce */
	struct cell_ring rx; /* response ring, we consume */
	uint32_t next_id;
	/*
	 * Ring the doorbell after giving response ring bytes back, besides
	 * the futex wake <linux/cell.h> asks for (a server may sleep in epoll
	 * waiting for room).  Off: strictly what the uapi header describes.
	 */
	bool kick_on_release;
};

static void raw_init(struct raw *r)
{
	memset(r, 0, sizeof(*r));
	r->sock = -1;
	r->doorbell = -1;
	r->tx.fd = r->rx.fd = -1;
	r->tx.wake_fd = r->rx.wake_fd = -1;
	r->next_id = 1;
	r->kick_on_release = true;
}

static void raw_close(struct raw *r)
{
	cell_ring_detach(&r->tx);
	cell_ring_detach(&r->rx);
	if (r->doorbell >= 0)
		close(r->doorbell);
	if (r->sock >= 0)
		close(r->sock);
	raw_init(r);
}

static struct cell_hs default_hello(bool shm)
{
	struct cell_hs hs = {
		.features = CELL_FEAT_ATTACHMENTS | CELL_FEAT_CANCEL,
		.max_inflight = 64,
		.request_ring = 4096,
		.response_ring = 4096,
		.fingerprint = FP,
	};

	if (shm)
		hs.features |= CELL_FEAT_SHM_MEMFD;
	return hs;
}

static int send_bytes(int sock, const void *buf, size_t len, const int *fds, int nfds)
{
	struct iovec iov = { (void *)buf, len };

	return cell_ux_send(sock, &iov, 1, fds, nfds, cell_deadline_in_ms(1000));
}

/*
 * Receive one message within @ms.  Returns its length, -ETIMEDOUT, -EPIPE
 * (end of stream) or another negative errno.  Fds that came with it are
 * closed unless @fds is given.
 */
static ssize_t recv_msg(int sock, void *buf, size_t cap, int *fds, int *nfds, int ms)
{
	uint64_t end = cell_deadline_in_ms((uint64_t)ms);
	int dummy;

	for (;;) {
		ssize_t n = cell_ux_recv(sock, buf, cap, fds, fds ? CELL_HS_MAX_FDS : 0,
					 nfds ? nfds : &dummy);
		int rc;

		if (n != -EAGAIN)
			return n;
		rc = cell_ux_wait_readable(sock, end);
		if (rc < 0)
			return rc;
		if (rc == 0)
			return -ETIMEDOUT;
	}
}

/*
 * Send @hs as a HELLO (or @frame verbatim if not NULL) on a fresh
 * connection and parse the answer.  On WELCOME with rings, map them.
 * Return: the answer's status; *@io is set to a negative errno if the
 * exchange itself failed (then the status is UNAVAILABLE).
 */
static enum cell_status raw_hello_frame(struct raw *r, const char *path, const void *frame,
					size_t len, const int *fds, int nfds, int *io)
{
	uint8_t buf[CELL_HS_FRAME_SIZE + 2048];
	int rfds[CELL_HS_MAX_FDS], nr = 0, err;
	const char *why, *detail;
	uint32_t detail_len;
	uint64_t server_fp;
	enum cell_status st;
	ssize_t n;

	*io = 0;
	r->sock = cell_ux_connect(path);
	if (r->sock < 0) {
		*io = r->sock;
		r->sock = -1;
		return CELL_STATUS_UNAVAILABLE;
	}
	err = send_bytes(r->sock, frame, len, fds, nfds);
	if (err) {
		*io = err;
		return CELL_STATUS_UNAVAILABLE;
	}
	n = recv_msg(r->sock, buf, sizeof(buf), rfds, &nr, 2000);
	if (n < 0) {
		*io = (int)n;
		return CELL_STATUS_UNAVAILABLE;
	}
	st = cell_hs_parse_welcome(buf, (size_t)n, &r->welcome, &why, &server_fp, &detail,
				   &detail_len);
	if (st == CELL_STATUS_OK && (r->welcome.features & CELL_FEAT_SHM_MEMFD)) {
		if (nr != 3 ||
		    cell_ring_attach(&r->tx, rfds[0], CELL_ROLE_PRODUCER,
				     r->welcome.request_ring) ||
		    (rfds[0] = -1, cell_ring_attach(&r->rx, rfds[1], CELL_ROLE_CONSUMER,
						    r->welcome.response_ring))) {
			*io = -EPROTO;
			st = CELL_STATUS_UNAVAILABLE;
		} else {
			rfds[1] = -1;
			r->doorbell = rfds[2];
			rfds[2] = -1;
			cell_ring_set_wake_fd(&r->tx, r->doorbell);
			r->shm = true;
		}
	}
	for (int i = 0; i < nr; i++)
		if (rfds[i] >= 0)
			close(rfds[i]);
	return st;
}

static enum cell_status raw_hello(struct raw *r, const char *path, const struct cell_hs *hs,
				  int *io)
{
	uint8_t frame[CELL_HS_FRAME_SIZE];

	cell_hs_encode_hello(hs, frame);
	return raw_hello_frame(r, path, frame, sizeof(frame), NULL, 0, io);
}

/* [u32 pad][hdr][payload] at @out; returns FRAME_HEAD + @len. */
static uint32_t put_frame(uint8_t *out, uint8_t flags, uint16_t method, uint32_t corr, uint64_t fp,
			  const void *payload, uint32_t len)
{
	struct cell_hdr h = {
		.version = CELL_WIRE_VERSION,
		.flags = flags,
		.method = method,
		.correlation = corr,
		.len = len,
	};

	memset(out, 0, 4);
	cell_hdr_set_fingerprint(&h, fp);
	cell_hdr_encode(&h, out + 4);
	if (len && payload)
		memcpy(out + FRAME_HEAD, payload, len);
	return FRAME_HEAD + len;
}

/* Send a frame on the socket (no pad), with optional fds. */
static int sock_frame(struct raw *r, uint8_t flags, uint16_t method, uint32_t corr, uint64_t fp,
		      const void *payload, uint32_t len, const int *fds, int nfds)
{
	uint8_t *buf = malloc(FRAME_HEAD + (size_t)len);
	int err;

	if (!buf)
		return -ENOMEM;
	put_frame(buf, flags, method, corr, fp, payload, len);
	err = send_bytes(r->sock, buf + 4, CELL_HDR_SIZE + (size_t)len, fds, nfds);
	free(buf);
	return err;
}

/* Commit one record holding a frame to the request ring (waits for space). */
static int ring_frame(struct raw *r, uint8_t flags, uint16_t method, uint32_t corr, uint64_t fp,
		      const void *payload, uint32_t len)
{
	uint8_t *p = cell_ring_reserve_wait(&r->tx, FRAME_HEAD + len, cell_deadline_in_ms(1000),
					    NULL, NULL);

	if (!p)
		return -errno;
	put_frame(p, flags, method, corr, fp, payload, len);
	return cell_ring_commit(&r->tx, FRAME_HEAD + len);
}

/* The next response from the ring (shm) or the socket; payload copied to @out. */
static int raw_response(struct raw *r, struct cell_hdr *hdr, uint8_t *out, uint32_t cap,
			uint32_t *len, int ms)
{
	const void *payload;
	int rc;

	if (r->shm) {
		struct cell_ring_view v;

		rc = cell_ring_read_wait(&r->rx, &v, cell_deadline_in_ms((uint64_t)ms), NULL, NULL);
		if (rc)
			return rc;
		if (v.len < FRAME_HEAD ||
		    cell_frame_decode((const uint8_t *)v.data + 4, v.len - 4, cap, hdr, &payload))
			return -EBADMSG;
		memcpy(out, payload, hdr->len);
		*len = hdr->len;
		cell_ring_release(&r->rx, v.end);
		if (r->kick_on_release)
			(void)!write(r->doorbell, &(uint64_t){ 1 }, 8);
		return 0;
	}
	{
		static uint8_t buf[CELL_HDR_SIZE + (64U << 10)];
		ssize_t n = recv_msg(r->sock, buf, sizeof(buf), NULL, NULL, ms);

		if (n < 0)
			return (int)n;
		if (cell_frame_decode(buf, (size_t)n, cap, hdr, &payload))
			return -EBADMSG;
		memcpy(out, payload, hdr->len);
		*len = hdr->len;
		return 0;
	}
}

/* Expect the response to call @id: an OK echo of @len bytes of pattern @seed. */
static const char *expect_echo(struct raw *r, uint32_t id, uint32_t len, uint32_t seed)
{
	static uint8_t got[4096], want[4096];
	struct cell_hdr hdr;
	uint32_t n = 0;
	int rc = raw_response(r, &hdr, got, sizeof(got), &n, 2000);

	if (rc)
		return "no response";
	if (hdr.flags != CELL_F_RESPONSE || hdr.correlation != id || hdr.method != M_ECHO)
		return "response header wrong";
	pattern(want, len, seed);
	if (n != len || memcmp(got, want, len))
		return "response payload wrong";
	return NULL;
}

/* A whole echo call over the raw connection; NULL if it worked. */
static const char *raw_echo(struct raw *r, uint32_t len, uint32_t seed)
{
	uint8_t payload[2048];
	uint32_t id = r->next_id++;
	int err;

	if (len > sizeof(payload))
		return "raw_echo: too long";
	pattern(payload, len, seed);
	if (r->shm)
		err = ring_frame(r, CELL_F_REQUEST, M_ECHO, id, FP, payload, len);
	else
		err = sock_frame(r, CELL_F_REQUEST, M_ECHO, id, FP, payload, len, NULL, 0);
	if (err)
		return "request not sent";
	return expect_echo(r, id, len, seed);
}

/*
 * Wait up to @ms for the server to close @sock (end of stream), discarding
 * what it sent before.  Return: ms it took, or -1.
 */
static int wait_dropped(int sock, int ms)
{
	uint64_t t0 = cell_now_ns(), end = t0 + (uint64_t)ms * CELL_NSEC_PER_MSEC;
	static uint8_t buf[4096];

	for (;;) {
		ssize_t n = recv(sock, buf, sizeof(buf), MSG_DONTWAIT);

		if (n == 0 || (n < 0 && (errno == ECONNRESET || errno == EPIPE)))
			return (int)((cell_now_ns() - t0) / CELL_NSEC_PER_MSEC);
		if (n > 0)
			continue;
		if (errno != EAGAIN && errno != EINTR)
			return -1;
		if (cell_ux_wait_readable(sock, end) <= 0)
			return -1;
	}
}

static void kick(struct raw *r)
{
	(void)!write(r->doorbell, &(uint64_t){ 1 }, 8);
}

/* ---- fixture ----------------------------------------------------------- */

FIXTURE(hostile)
{
	char dir[64];
	char path[128];
	pid_t server;
	int base_fds;
	struct good ring_client, unix_client;
	struct rng rng;
};

FIXTURE_SETUP(hostile)
{
	strcpy(self->dir, "/tmp/cell-hostile-XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	snprintf(self->path, sizeof(self->path), "%s/%s.sock", self->dir, NAME);
	self->server = start_server(self->dir);
	ASSERT_LT(0, self->server);
	self->base_fds = count_fds(self->server);
	ASSERT_LT(0, self->base_fds);
	self->rng.s = 0x5eed0fba11ULL;
	ASSERT_EQ(0, good_start(&self->ring_client, self->dir, CELL_RING_BACKEND_MEMFD))
	TH_LOG("ring client: %s", self->ring_client.first_error);
	ASSERT_EQ(0, good_start(&self->unix_client, self->dir, CELL_RING_BACKEND_NONE))
	TH_LOG("unix client: %s", self->unix_client.first_error);
}

FIXTURE_TEARDOWN(hostile)
{
	good_stop(&self->ring_client);
	good_stop(&self->unix_client);
	if (self->server > 0) {
		kill(self->server, SIGKILL);
		waitpid(self->server, NULL, 0);
	}
	unlink(self->path);
	rmdir(self->dir);
}

/* The good clients never failed; the server lives; its fds came back. */
static void check_others(struct __test_metadata *_metadata, FIXTURE_DATA(hostile) * self)
{
	struct good *gs[] = { &self->ring_client, &self->unix_client };
	int st;

	good_stop(&self->ring_client);
	good_stop(&self->unix_client);
	for (int i = 0; i < 2; i++) {
		EXPECT_EQ(0, gs[i]->failures)
		TH_LOG("%s client: %s", i ? "unix" : "ring", gs[i]->first_error);
		EXPECT_LT(0, atomic_load(&gs[i]->calls));
	}
	st = server_exit_status(self->server);
	ASSERT_EQ(0, st) TH_LOG("server died: wait status 0x%x", st);
	EXPECT_EQ(self->base_fds, fds_settle(self->server, self->base_fds, 2000));
	TH_LOG("good clients: ring %lu calls (max %llu us), unix %lu calls (max %llu us)",
	       atomic_load(&self->ring_client.calls),
	       (unsigned long long)atomic_load(&self->ring_client.max_ns) / 1000,
	       atomic_load(&self->unix_client.calls),
	       (unsigned long long)atomic_load(&self->unix_client.max_ns) / 1000);
}

/* ---- (a) the ring scribbler -------------------------------------------- */

static void store_pos(struct cell_ring *tx, uint64_t pos)
{
	__atomic_store_n(&tx->producer->position, pos, __ATOMIC_RELEASE);
}

/*
 * Where the next record goes: the producer's tail, or the start of the
 * next lap (behind a proper WRAP record) when @need bytes do not fit
 * before the end of the data area.
 */
static uint64_t record_slot(struct cell_ring *tx, uint32_t need)
{
	uint64_t tail = tx->tail, off = tail & tx->mask;
	struct cell_ring_record *wrap;

	if (tx->size - off >= need)
		return tail;
	wrap = (struct cell_ring_record *)(tx->data + off);
	wrap->len = CELL_RECORD_WRAP;
	wrap->seq = (uint32_t)tail;
	return tail + (tx->size - off);
}

static struct cell_ring_record *rec_at(struct cell_ring *tx, uint64_t pos)
{
	return (struct cell_ring_record *)(tx->data + (pos & tx->mask));
}

/* A record of @len bytes at @pos (header right), committed up to @commit_len. */
static uint8_t *forge_record(struct cell_ring *tx, uint64_t pos, uint32_t len)
{
	struct cell_ring_record *rec = rec_at(tx, pos);

	rec->len = len;
	rec->seq = (uint32_t)pos;
	return (uint8_t *)(rec + 1);
}

static uint64_t rec_end(uint64_t pos, uint32_t len)
{
	return pos + sizeof(struct cell_ring_record) + ((len + 7ULL) & ~7ULL);
}

enum scribble_kind {
	S_RECORD,   /* garbage record after valid ones: those must be answered */
	S_POSITION, /* a bad producer position */
	S_RESPONSE, /* the response ring's consumer page */
};

struct scribble {
	const char *name;
	enum scribble_kind kind;
	void (*fn)(struct raw *r, struct rng *g);
};

static void s_random_bytes(struct raw *r, struct rng *g)
{
	uint32_t k = 8 * (1 + (uint32_t)(rnd(g) % 32));
	uint64_t pos = record_slot(&r->tx, k);
	struct cell_ring_record *rec = rec_at(&r->tx, pos);

	rnd_fill(g, rec, k);
	if (rec->seq == (uint32_t)pos)
		rec->seq ^= 1;
	store_pos(&r->tx, pos + k);
}

static void s_bad_version(struct raw *r, struct rng *g)
{
	uint32_t len = FRAME_HEAD + (uint32_t)(rnd(g) % 200);
	uint64_t pos = record_slot(&r->tx, len + 8);
	uint8_t *p = forge_record(&r->tx, pos, len);

	rnd_fill(g, p, len);
	p[4] = 0xee; /* the wire version byte */
	store_pos(&r->tx, rec_end(pos, len));
}

static void s_len_too_big(struct raw *r, struct rng *g)
{
	static const uint32_t lens[] = { 2041, 4096, 1U << 20, 0x7fffffffU, 0xfffffffeU };
	uint64_t pos = record_slot(&r->tx, 64);

	forge_record(&r->tx, pos, lens[rnd(g) % 5]);
	store_pos(&r->tx, pos + 64);
}

static void s_len_past_tail(struct raw *r, struct rng *g)
{
	uint64_t pos = record_slot(&r->tx, 256);

	forge_record(&r->tx, pos, 200 + (uint32_t)(rnd(g) % 40));
	store_pos(&r->tx, pos + 16);
}

static void s_lone_wrap(struct raw *r, struct rng *g)
{
	uint64_t pos = record_slot(&r->tx, 16);

	(void)g;
	forge_record(&r->tx, pos, CELL_RECORD_WRAP);
	store_pos(&r->tx, pos + 8);
}

static void s_short_record(struct raw *r, struct rng *g)
{
	uint32_t len = (uint32_t)(rnd(g) % FRAME_HEAD);
	uint64_t pos = record_slot(&r->tx, 32);
	uint8_t *p = forge_record(&r->tx, pos, len);

	rnd_fill(g, p, len);
	store_pos(&r->tx, rec_end(pos, len));
}

/* A well-formed frame the ring must not carry, committed properly. */
static void forged_frame(struct raw *r, uint8_t flags, uint16_t method, uint32_t corr, uint64_t fp,
			 const void *payload, uint32_t len, uint32_t hdr_len)
{
	uint64_t pos = record_slot(&r->tx, FRAME_HEAD + len + 8);
	uint8_t *p = forge_record(&r->tx, pos, FRAME_HEAD + len);

	put_frame(p, flags, method, corr, fp, payload, len);
	if (hdr_len != len) {
		struct cell_hdr h = { .version = CELL_WIRE_VERSION,
				      .flags = flags,
				      .method = method,
				      .correlation = corr,
				      .len = hdr_len };

		cell_hdr_set_fingerprint(&h, fp);
		cell_hdr_encode(&h, p + 4);
	}
	store_pos(&r->tx, rec_end(pos, FRAME_HEAD + len));
}

static void s_hello_in_ring(struct raw *r, struct rng *g)
{
	uint8_t hello[CELL_HS_FRAME_SIZE];
	struct cell_hs hs = default_hello(true);

	(void)g;
	cell_hs_encode_hello(&hs, hello);
	forged_frame(r, CELL_F_REQUEST, CELL_METHOD_HELLO, 1, FP, hello + CELL_HDR_SIZE, 48, 48);
}

static void s_response_in_ring(struct raw *r, struct rng *g)
{
	uint8_t payload[16];

	rnd_fill(g, payload, sizeof(payload));
	forged_frame(r, CELL_F_RESPONSE, M_ECHO, 77, FP, payload, sizeof(payload), sizeof(payload));
}

static void s_cancel_in_ring(struct raw *r, struct rng *g)
{
	forged_frame(r, CELL_F_CANCEL, M_ECHO, 1 + (uint32_t)(rnd(g) % 1000), FP, NULL, 0, 0);
}

static void s_hdr_len_mismatch(struct raw *r, struct rng *g)
{
	uint8_t payload[64];

	rnd_fill(g, payload, sizeof(payload));
	forged_frame(r, CELL_F_REQUEST, M_ECHO, 900, FP, payload, sizeof(payload),
		     sizeof(payload) - 8 * (1 + (uint32_t)(rnd(g) % 4)));
}

static void s_wrong_fingerprint(struct raw *r, struct rng *g)
{
	uint8_t payload[32];

	rnd_fill(g, payload, sizeof(payload));
	forged_frame(r, CELL_F_REQUEST, M_ECHO, 901, OTHER_FP, payload, sizeof(payload),
		     sizeof(payload));
}

static void s_marker_without_fd(struct raw *r, struct rng *g)
{
	struct cell_hdr inner = {
		.version = CELL_WIRE_VERSION,
		.flags = CELL_F_REQUEST,
		.method = M_ECHO,
		.correlation = 902,
		.len = 100 + (uint32_t)(rnd(g) % 1000),
	};
	uint8_t bytes[CELL_HDR_SIZE];

	cell_hdr_set_fingerprint(&inner, FP);
	cell_hdr_encode(&inner, bytes);
	forged_frame(r, CELL_F_REQUEST, CELL_METHOD_ATTACHMENT, 902, FP, bytes, sizeof(bytes),
		     sizeof(bytes));
}

static void s_control_method(struct raw *r, struct rng *g)
{
	static const uint16_t methods[] = { CELL_METHOD_CONTROL_BASE, CELL_METHOD_GOODBYE, 0xff77,
					    0xffff };

	forged_frame(r, CELL_F_REQUEST, methods[rnd(g) % 4], 903, FP, NULL, 0, 0);
}

static void s_producer_page(struct raw *r, struct rng *g)
{
	uint64_t pos, tail = r->tx.tail;

	rnd_fill(g, r->tx.producer, CELL_RING_PAGE);
	pos = r->tx.producer->position;
	if (!(pos & 7) && pos >= tail && pos - tail <= r->tx.size)
		pos ^= 1ULL << 63;
	store_pos(&r->tx, pos);
}

static void s_far_ahead(struct raw *r, struct rng *g)
{
	store_pos(&r->tx, r->tx.tail + r->tx.size + 8 * (1 + rnd(g) % 1000));
}

static void s_unaligned(struct raw *r, struct rng *g)
{
	store_pos(&r->tx, r->tx.tail + 1 + rnd(g) % 7);
}

static void s_backwards(struct raw *r, struct rng *g)
{
	uint64_t tail = r->tx.tail;

	store_pos(&r->tx, tail - 8 * (1 + rnd(g) % (tail / 8)));
}

/* Zero the whole request ring under the server (a memfd hole reads as zeros). */
static void s_punch_hole(struct raw *r, struct rng *g)
{
	(void)g;
	if (fallocate(r->tx.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
		      (off_t)r->tx.map_len))
		store_pos(&r->tx, r->tx.tail + 1); /* not allowed: break it another way */
}

/* The response ring's head moved where it cannot be; then make the server look. */
static void s_response_head(struct raw *r, struct rng *g)
{
	struct cell_ring_consumer *cons = r->rx.consumer;
	uint64_t head = cons->position;
	uint8_t payload[1000];

	/*
	 * Unaligned, or past anything the server can have produced by the
	 * time it looks (at most a ring ahead of the real head).  Going back
	 * is not detectable unless the server saw the newer head.
	 */
	if (rnd(g) % 2)
		head += 1 + rnd(g) % 7;
	else
		head = r->rx.tail + r->rx.size + 8 * (1 + rnd(g) % 8);
	__atomic_store_n(&cons->position, head, __ATOMIC_RELEASE);
	pattern(payload, sizeof(payload), 5);
	/* Responses that need the space: the server reads the head. */
	for (int i = 0; i < 6; i++) {
		if (ring_frame(r, CELL_F_REQUEST, M_ECHO, r->next_id++, FP, payload,
			       sizeof(payload)))
			break;
		kick(r);
	}
}

static const struct scribble scribbles[] = {
	{ "random bytes as a record", S_RECORD, s_random_bytes },
	{ "bad wire version", S_RECORD, s_bad_version },
	{ "record length too big", S_RECORD, s_len_too_big },
	{ "record past the tail", S_RECORD, s_len_past_tail },
	{ "WRAP with nothing after it", S_RECORD, s_lone_wrap },
	{ "record shorter than a frame header", S_RECORD, s_short_record },
	{ "HELLO in the ring", S_RECORD, s_hello_in_ring },
	{ "RESPONSE in the request ring", S_RECORD, s_response_in_ring },
	{ "CANCEL in the ring", S_RECORD, s_cancel_in_ring },
	{ "header length differs from the record", S_RECORD, s_hdr_len_mismatch },
	{ "wrong fingerprint", S_RECORD, s_wrong_fingerprint },
	{ "ATTACHMENT marker without an fd", S_RECORD, s_marker_without_fd },
	{ "control method as data", S_RECORD, s_control_method },
	{ "random producer page", S_POSITION, s_producer_page },
	{ "position a lap ahead", S_POSITION, s_far_ahead },
	{ "unaligned position", S_POSITION, s_unaligned },
	{ "position going back", S_POSITION, s_backwards },
	{ "hole punched in the ring file", S_POSITION, s_punch_hole },
	{ "response ring head", S_RESPONSE, s_response_head },
};

#define NSCRIBBLES (sizeof(scribbles) / sizeof(scribbles[0]))

/* Scribble where the server must not look; the connection keeps working. */
static const char *harmless_scribble(struct raw *r, struct rng *g)
{
	struct cell_ring *rings[] = { &r->tx, &r->rx };
	const char *why;

	/* The server sealed the ring files: they cannot shrink (SIGBUS) nor grow. */
	for (int i = 0; i < 2; i++) {
		if (!ftruncate(rings[i]->fd, CELL_RING_PAGE) || errno != EPERM)
			return "ring file could be shrunk";
		if (!ftruncate(rings[i]->fd, (off_t)rings[i]->map_len * 2) || errno != EPERM)
			return "ring file could be grown";
		if (fcntl(rings[i]->fd, F_ADD_SEALS, F_SEAL_WRITE) == 0 || errno != EPERM)
			return "ring file seals not sealed";
	}
	/* Doorbell storm: wakeups for nothing. */
	for (int i = 0; i < 10000; i++)
		kick(r);
	rnd_fill(g, &r->tx.consumer->wake, sizeof(r->tx.consumer->wake));
	rnd_fill(g, (void *)r->tx.geometry, CELL_RING_PAGE);
	rnd_fill(g, (void *)r->rx.geometry, CELL_RING_PAGE);
	rnd_fill(g, r->tx.producer->reserved, sizeof(r->tx.producer->reserved));
	rnd_fill(g, r->rx.consumer->reserved, sizeof(r->rx.consumer->reserved));
	for (uint32_t i = 0; i < 4; i++) {
		why = raw_echo(r, (uint32_t)(rnd(g) % 1500), i);
		if (why)
			return why;
	}
	return NULL;
}

TEST_F_TIMEOUT(hostile, ring_scribbler, 60)
{
	unsigned int done[NSCRIBBLES] = { 0 };
	uint64_t end = cell_deadline_in_ms(2000);
	unsigned int iter, worst_ms = 0;

	for (iter = 0; cell_now_ns() < end || iter < 2 * NSCRIBBLES; iter++) {
		const struct scribble *s = &scribbles[iter % NSCRIBBLES];
		uint32_t nvalid = 1 + (uint32_t)(rnd(&self->rng) % 3), pending = 0;
		uint32_t first_pending = 0, lens[3];
		struct cell_hs hs = default_hello(true);
		struct raw r;
		const char *why;
		int io, ms;

		raw_init(&r);
		ASSERT_EQ(CELL_STATUS_OK, raw_hello(&r, self->path, &hs, &io))
		TH_LOG("iteration %u: handshake failed (%d)", iter, io);
		ASSERT_TRUE(r.shm);
		for (uint32_t i = 0; i < nvalid; i++) {
			why = raw_echo(&r, (uint32_t)(rnd(&self->rng) % 1200), iter + i);
			ASSERT_EQ(NULL, why) TH_LOG("iteration %u: valid echo: %s", iter, why);
		}
		if (iter % 4 == 3) {
			why = harmless_scribble(&r, &self->rng);
			ASSERT_EQ(NULL, why) TH_LOG("after a harmless scribble: %s", why);
		}
		if (s->kind == S_RECORD) {
			/* Valid records right before the garbage, not yet read. */
			first_pending = r.next_id;
			pending = (uint32_t)(rnd(&self->rng) % 3);
			for (uint32_t i = 0; i < pending; i++) {
				uint8_t payload[300];

				lens[i] = (uint32_t)(rnd(&self->rng) % sizeof(payload));
				pattern(payload, lens[i], 1000 + i);
				ASSERT_EQ(0, ring_frame(&r, CELL_F_REQUEST, M_ECHO, r.next_id++, FP,
							payload, lens[i]));
			}
		}
		s->fn(&r, &self->rng);
		kick(&r);
		ms = wait_dropped(r.sock, 1000);
		ASSERT_LE(0, ms)
		TH_LOG("\"%s\" (iteration %u): not dropped within 1 s", s->name, iter);
		if ((unsigned int)ms > worst_ms)
			worst_ms = (unsigned int)ms;
		for (uint32_t i = 0; i < pending; i++) {
			why = expect_echo(&r, first_pending + i, lens[i], 1000 + i);
			EXPECT_EQ(NULL, why)
			TH_LOG("\"%s\": valid record %u before it: %s", s->name, i, why);
		}
		done[iter % NSCRIBBLES]++;
		raw_close(&r);
		ASSERT_EQ(0, server_exit_status(self->server));
	}
	TH_LOG("%u scribbling connections, %zu kinds, each dropped within %u ms", iter, NSCRIBBLES,
	       worst_ms);
	for (size_t i = 0; i < NSCRIBBLES; i++)
		EXPECT_LE(2, done[i]);
	check_others(_metadata, self);
}

/* ---- (b) garbage on the socket ----------------------------------------- */

static int memfd_with(uint32_t size, unsigned int seals, const void *data, uint32_t len)
{
	int fd = memfd_create("hostile", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0)
		return -1;
	if (ftruncate(fd, size) || (len && pwrite(fd, data, len, 0) != (ssize_t)len) ||
	    (seals && fcntl(fd, F_ADD_SEALS, seals))) {
		close(fd);
		return -1;
	}
	return fd;
}

#define ALL_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL)

/* An ATTACHMENT frame announcing an echo of @len bytes, with @fd (if >= 0). */
static int send_attachment(struct raw *r, uint32_t id, uint32_t len, uint16_t method,
			   uint64_t inner_fp, int fd)
{
	struct cell_hdr inner = {
		.version = CELL_WIRE_VERSION,
		.flags = CELL_F_REQUEST,
		.method = method,
		.correlation = id,
		.len = len,
	};
	uint8_t bytes[CELL_HDR_SIZE];
	int err;

	cell_hdr_set_fingerprint(&inner, inner_fp);
	cell_hdr_encode(&inner, bytes);
	err = sock_frame(r, CELL_F_REQUEST, CELL_METHOD_ATTACHMENT, id, FP, bytes, sizeof(bytes),
			 fd >= 0 ? &fd : NULL, fd >= 0 ? 1 : 0);
	if (fd >= 0)
		close(fd);
	return err;
}

/* What a case expects: the server closes, or the connection keeps working. */
enum outcome {
	DROP,
	KEEP,
};

struct gcase {
	const char *name;
	int stage; /* 0: before HELLO, 1: after HELLO on the unix path, 2: on the ring path */
	enum outcome outcome;
	/* Does the garbage; NULL or why it could not. */
	const char *(*fn)(struct raw *r, struct rng *g, const char *path);
};

static const char *g_random_datagram(struct raw *r, struct rng *g, const char *path)
{
	uint8_t buf[512];
	size_t n = 1 + rnd(g) % sizeof(buf);

	(void)path;
	rnd_fill(g, buf, n);
	return send_bytes(r->sock, buf, n, NULL, 0) ? "send" : NULL;
}

static const char *g_empty_datagram(struct raw *r, struct rng *g, const char *path)
{
	(void)g;
	(void)path;
	return send_bytes(r->sock, "", 0, NULL, 0) ? "send" : NULL;
}

static const char *g_short_datagram(struct raw *r, struct rng *g, const char *path)
{
	uint8_t buf[FRAME_HEAD];
	size_t n = 1 + rnd(g) % (CELL_HDR_SIZE - 1);

	(void)path;
	put_frame(buf, CELL_F_REQUEST, M_ECHO, 5, FP, NULL, 0);
	rnd_fill(g, buf + 4, n / 2);
	return send_bytes(r->sock, buf + 4, n, NULL, 0) ? "send" : NULL;
}

static const char *g_huge_datagram(struct raw *r, struct rng *g, const char *path)
{
	size_t n = (64U << 10) + CELL_HDR_SIZE + 1 + rnd(g) % 30000;
	uint8_t *buf = calloc(1, n + 4);
	int err;

	(void)path;
	if (!buf)
		return "calloc";
	put_frame(buf, CELL_F_REQUEST, M_ECHO, 5, FP, NULL, (uint32_t)(n - CELL_HDR_SIZE));
	err = send_bytes(r->sock, buf + 4, n, NULL, 0);
	free(buf);
	return err ? "send" : NULL;
}

static const char *g_len_lies(struct raw *r, struct rng *g, const char *path)
{
	static const uint32_t lies[] = { 11,	     1000, 65536, 0x7fffffffU, CELL_MAX_PAYLOAD + 1,
					 0xffffffffU };
	uint8_t buf[FRAME_HEAD + 10];
	struct cell_hdr h = {
		.version = CELL_WIRE_VERSION,
		.flags = CELL_F_REQUEST,
		.method = M_ECHO,
		.correlation = 6,
		.len = lies[rnd(g) % 6],
	};

	(void)path;
	memset(buf, 0x5a, sizeof(buf));
	cell_hdr_set_fingerprint(&h, FP);
	cell_hdr_encode(&h, buf);
	return send_bytes(r->sock, buf, CELL_HDR_SIZE + 10, NULL, 0) ? "send" : NULL;
}

static const char *g_wrong_fingerprint(struct raw *r, struct rng *g, const char *path)
{
	(void)g;
	(void)path;
	return sock_frame(r, CELL_F_REQUEST, M_ECHO, 7, OTHER_FP, "abcdefgh", 8, NULL, 0) ? "send"
											  : NULL;
}

static const char *g_response_frame(struct raw *r, struct rng *g, const char *path)
{
	(void)g;
	(void)path;
	return sock_frame(r, CELL_F_RESPONSE, M_ECHO, 7, FP, "abcdefgh", 8, NULL, 0) ? "send"
										     : NULL;
}

static const char *g_second_hello(struct raw *r, struct rng *g, const char *path)
{
	uint8_t hello[CELL_HS_FRAME_SIZE];
	struct cell_hs hs = default_hello(r->shm);

	(void)g;
	(void)path;
	cell_hs_encode_hello(&hs, hello);
	return send_bytes(r->sock, hello, sizeof(hello), NULL, 0) ? "send" : NULL;
}

static const char *g_control_method(struct raw *r, struct rng *g, const char *path)
{
	(void)path;
	return sock_frame(r, CELL_F_REQUEST, (uint16_t)(0xff06 + rnd(g) % 0xf9), 8, FP, NULL, 0,
			  NULL, 0)
		       ? "send"
		       : NULL;
}

static const char *g_att_no_fd(struct raw *r, struct rng *g, const char *path)
{
	(void)g;
	(void)path;
	return send_attachment(r, 9, 100, M_ECHO, FP, -1) ? "send" : NULL;
}

static const char *g_att_pipe(struct raw *r, struct rng *g, const char *path)
{
	int p[2];

	(void)g;
	(void)path;
	if (pipe(p))
		return "pipe";
	close(p[0]);
	return send_attachment(r, 9, 100, M_ECHO, FP, p[1]) ? "send" : NULL;
}

static const char *g_att_devnull(struct raw *r, struct rng *g, const char *path)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	(void)g;
	(void)path;
	if (fd < 0)
		return "open /dev/null";
	return send_attachment(r, 9, 100, M_ECHO, FP, fd) ? "send" : NULL;
}

static const char *g_att_unsealed(struct raw *r, struct rng *g, const char *path)
{
	uint8_t data[100];
	int fd;

	(void)path;
	rnd_fill(g, data, sizeof(data));
	fd = memfd_with(sizeof(data), 0, data, sizeof(data));
	if (fd < 0)
		return "memfd";
	return send_attachment(r, 9, sizeof(data), M_ECHO, FP, fd) ? "send" : NULL;
}

static const char *g_att_no_write_seal(struct raw *r, struct rng *g, const char *path)
{
	uint8_t data[100];
	int fd;

	(void)path;
	rnd_fill(g, data, sizeof(data));
	fd = memfd_with(sizeof(data), F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL, data,
			sizeof(data));
	if (fd < 0)
		return "memfd";
	return send_attachment(r, 9, sizeof(data), M_ECHO, FP, fd) ? "send" : NULL;
}

static const char *g_att_short(struct raw *r, struct rng *g, const char *path)
{
	uint8_t data[100];
	int fd;

	(void)path;
	rnd_fill(g, data, sizeof(data));
	fd = memfd_with(sizeof(data), ALL_SEALS, data, sizeof(data));
	if (fd < 0)
		return "memfd";
	return send_attachment(r, 9, 100000 + (uint32_t)(rnd(g) % 1000000), M_ECHO, FP, fd) ? "send"
											    : NULL;
}

static const char *g_att_inner_fingerprint(struct raw *r, struct rng *g, const char *path)
{
	uint8_t data[100];
	int fd;

	(void)path;
	rnd_fill(g, data, sizeof(data));
	fd = memfd_with(sizeof(data), ALL_SEALS, data, sizeof(data));
	if (fd < 0)
		return "memfd";
	return send_attachment(r, 9, sizeof(data), M_ECHO, OTHER_FP, fd) ? "send" : NULL;
}

static const char *g_att_inner_control(struct raw *r, struct rng *g, const char *path)
{
	uint8_t data[100];
	int fd;

	(void)path;
	rnd_fill(g, data, sizeof(data));
	fd = memfd_with(sizeof(data), ALL_SEALS, data, sizeof(data));
	if (fd < 0)
		return "memfd";
	return send_attachment(r, 9, sizeof(data), CELL_METHOD_HELLO, FP, fd) ? "send" : NULL;
}

/* A correct attachment: the echo comes back. */
static const char *g_att_valid(struct raw *r, struct rng *g, const char *path)
{
	uint8_t data[1000];
	uint32_t id = r->next_id++, len = 1 + (uint32_t)(rnd(g) % sizeof(data));
	int fd;

	(void)path;
	pattern(data, len, 77);
	fd = memfd_with(len, ALL_SEALS, data, len);
	if (fd < 0)
		return "memfd";
	if (send_attachment(r, id, len, M_ECHO, FP, fd))
		return "send";
	return expect_echo(r, id, len, 77);
}

static const char *g_cancel_flood(struct raw *r, struct rng *g, const char *path)
{
	(void)path;
	for (int i = 0; i < 3000; i++)
		if (sock_frame(r, CELL_F_CANCEL, M_ECHO, 1 + (uint32_t)(rnd(g) % 100000), FP, NULL,
			       0, NULL, 0))
			return "CANCEL not sent within 1 s: the server stopped reading";
	return NULL;
}

static const char *g_cancel_with_fd(struct raw *r, struct rng *g, const char *path)
{
	int p[2], err;

	(void)g;
	(void)path;
	if (pipe(p))
		return "pipe";
	err = sock_frame(r, CELL_F_CANCEL, M_ECHO, 3, FP, NULL, 0, &p[0], 1);
	close(p[0]);
	close(p[1]);
	return err ? "send" : NULL;
}

static const char *g_goodbye(struct raw *r, struct rng *g, const char *path)
{
	(void)g;
	(void)path;
	return sock_frame(r, CELL_F_REQUEST | CELL_F_ONEWAY, CELL_METHOD_GOODBYE, 0, FP, NULL, 0,
			  NULL, 0)
		       ? "send"
		       : NULL;
}

/* Calls that are legal but unusual: answered (or not) as they should be. */
static const char *g_odd_calls(struct raw *r, struct rng *g, const char *path)
{
	uint8_t buf[256];
	struct cell_hdr hdr;
	uint32_t n, id, dlen;
	uint16_t status;
	const char *detail;

	(void)g;
	(void)path;
	/* One-way to a method nobody handles: no answer at all. */
	if (sock_frame(r, CELL_F_REQUEST | CELL_F_ONEWAY, 99, 0, FP, "x", 1, NULL, 0))
		return "send";
	id = r->next_id++;
	if (sock_frame(r, CELL_F_REQUEST, 99, id, FP, NULL, 0, NULL, 0))
		return "send";
	if (raw_response(r, &hdr, buf, sizeof(buf), &n, 2000))
		return "no answer to an unknown method";
	if (hdr.correlation != id || !(hdr.flags & CELL_F_ERROR) ||
	    cell_error_decode(buf, n, &status, &detail, &dlen) ||
	    status != CELL_STATUS_UNKNOWN_METHOD)
		return "unknown method not answered with UNKNOWN_METHOD";
	id = r->next_id++;
	if (sock_frame(r, CELL_F_REQUEST, CELL_METHOD_PING, id, FP, NULL, 0, NULL, 0))
		return "send";
	if (raw_response(r, &hdr, buf, sizeof(buf), &n, 2000) || hdr.correlation != id ||
	    hdr.flags != CELL_F_RESPONSE || n)
		return "PING not answered with an empty OK";
	return NULL;
}

/* Ring path: a data frame on the socket instead of the ring. */
static const char *g_data_on_socket(struct raw *r, struct rng *g, const char *path)
{
	(void)g;
	(void)path;
	return sock_frame(r, CELL_F_REQUEST, M_ECHO, r->next_id++, FP, "abcd", 4, NULL, 0) ? "send"
											   : NULL;
}

/* Ring path: more attachment fds than the server queues ahead of markers. */
static const char *g_fd_hoard(struct raw *r, struct rng *g, const char *path)
{
	uint8_t data[64];

	(void)path;
	rnd_fill(g, data, sizeof(data));
	/* More than the queue holds: one per call in flight, and CELL_ATT_QUEUE. */
	for (unsigned int i = 0; i < CELL_RPC_DEFAULT_INFLIGHT + CELL_ATT_QUEUE + 1; i++) {
		int fd = memfd_with(sizeof(data), ALL_SEALS, data, sizeof(data));

		if (fd < 0)
			return "memfd";
		if (send_attachment(r, 50 + (uint32_t)i, sizeof(data), M_ECHO, FP, fd))
			return NULL; /* already dropped */
	}
	return NULL;
}

/* Ring path: a pipe as the attachment, then its marker in the ring. */
static const char *g_pipe_then_marker(struct raw *r, struct rng *g, const char *path)
{
	int p[2];

	(void)path;
	if (pipe(p))
		return "pipe";
	close(p[0]);
	if (send_attachment(r, 60, 100, M_ECHO, FP, p[1]))
		return "send";
	s_marker_without_fd(r, g);
	kick(r);
	return NULL;
}

/* Before HELLO: a HELLO with an fd attached (the fd is ignored). */
static const char *g_hello_with_fd(struct raw *r, struct rng *g, const char *path)
{
	uint8_t frame[CELL_HS_FRAME_SIZE];
	struct cell_hs hs = default_hello(false);
	int p[2], io;
	enum cell_status st;

	(void)g;
	if (pipe(p))
		return "pipe";
	cell_hs_encode_hello(&hs, frame);
	close(r->sock);
	r->sock = -1;
	st = raw_hello_frame(r, path, frame, sizeof(frame), &p[0], 1, &io);
	close(p[0]);
	close(p[1]);
	return st == CELL_STATUS_OK ? NULL : "HELLO with an fd not welcomed";
}

/* Fields the server clamps: huge rings, huge max_inflight, module feature. */
static const char *g_hello_clamped(struct raw *r, struct rng *g, const char *path)
{
	struct cell_hs hs = default_hello(true);
	int io;

	close(r->sock);
	r->sock = -1;
	hs.request_ring = CELL_RING_MAX_DATA;
	hs.response_ring = CELL_RING_MAX_DATA >> (rnd(g) % 10);
	hs.max_inflight = 0xffffffffU;
	hs.features |= CELL_FEAT_SHM_MODULE;
	if (raw_hello(r, path, &hs, &io) != CELL_STATUS_OK)
		return "HELLO asking for too much not welcomed";
	if (r->welcome.request_ring != MAX_RING || r->welcome.response_ring != MAX_RING)
		return "ring sizes not clamped to max_ring";
	if (r->welcome.max_inflight != CELL_RPC_DEFAULT_INFLIGHT)
		return "max_inflight not clamped";
	if (r->welcome.features & CELL_FEAT_SHM_MODULE)
		return "module backend granted by a memfd server";
	return raw_echo(r, 500, 3);
}

static const struct gcase gcases[] = {
	{ "random datagram before HELLO", 0, DROP, g_random_datagram },
	{ "empty datagram before HELLO", 0, DROP, g_empty_datagram },
	{ "huge datagram before HELLO", 0, DROP, g_huge_datagram },
	{ "CANCEL with an fd before HELLO", 0, DROP, g_cancel_with_fd },
	{ "HELLO carrying an fd", 0, KEEP, g_hello_with_fd },
	{ "HELLO asking too much", 0, KEEP, g_hello_clamped },
	{ "random datagram", 1, DROP, g_random_datagram },
	{ "empty datagram", 1, DROP, g_empty_datagram },
	{ "truncated header", 1, DROP, g_short_datagram },
	{ "datagram above the frame limit", 1, DROP, g_huge_datagram },
	{ "header length lies", 1, DROP, g_len_lies },
	{ "wrong fingerprint", 1, DROP, g_wrong_fingerprint },
	{ "RESPONSE from a client", 1, DROP, g_response_frame },
	{ "second HELLO", 1, DROP, g_second_hello },
	{ "unknown control method", 1, DROP, g_control_method },
	{ "ATTACHMENT without an fd", 1, DROP, g_att_no_fd },
	{ "ATTACHMENT with a pipe", 1, DROP, g_att_pipe },
	{ "ATTACHMENT with /dev/null", 1, DROP, g_att_devnull },
	{ "ATTACHMENT with an unsealed memfd", 1, DROP, g_att_unsealed },
	{ "ATTACHMENT with a writable memfd", 1, DROP, g_att_no_write_seal },
	{ "ATTACHMENT longer than its memfd", 1, DROP, g_att_short },
	{ "ATTACHMENT with a foreign inner header", 1, DROP, g_att_inner_fingerprint },
	{ "ATTACHMENT of a control method", 1, DROP, g_att_inner_control },
	{ "CANCEL carrying an fd", 1, DROP, g_cancel_with_fd },
	{ "GOODBYE", 1, DROP, g_goodbye },
	{ "valid ATTACHMENT", 1, KEEP, g_att_valid },
	{ "CANCEL flood", 1, KEEP, g_cancel_flood },
	{ "unknown methods and PING", 1, KEEP, g_odd_calls },
	{ "random datagram", 2, DROP, g_random_datagram },
	{ "data frame on the socket", 2, DROP, g_data_on_socket },
	{ "second HELLO", 2, DROP, g_second_hello },
	{ "attachment fds hoarded", 2, DROP, g_fd_hoard },
	{ "pipe attachment then its marker", 2, DROP, g_pipe_then_marker },
	{ "ATTACHMENT without an fd", 2, DROP, g_att_no_fd },
	{ "CANCEL carrying an fd", 2, DROP, g_cancel_with_fd },
	{ "CANCEL flood", 2, KEEP, g_cancel_flood },
};

#define NGCASES (sizeof(gcases) / sizeof(gcases[0]))

TEST_F_TIMEOUT(hostile, socket_garbage, 60)
{
	uint64_t end = cell_deadline_in_ms(2000);
	unsigned int round = 0, worst_ms = 0;

	do {
		for (size_t i = 0; i < NGCASES; i++) {
			const struct gcase *gc = &gcases[i];
			struct cell_hs hs = default_hello(gc->stage == 2);
			struct raw r;
			const char *why;
			int io = 0, ms;

			raw_init(&r);
			if (gc->stage == 0) {
				r.sock = cell_ux_connect(self->path);
				ASSERT_LE(0, r.sock);
			} else {
				ASSERT_EQ(CELL_STATUS_OK, raw_hello(&r, self->path, &hs, &io))
				TH_LOG("%s: handshake (%d)", gc->name, io);
				ASSERT_EQ(gc->stage == 2, r.shm);
			}
			why = gc->fn(&r, &self->rng, self->path);
			ASSERT_EQ(NULL, why)
			TH_LOG("\"%s\" (stage %d): %s", gc->name, gc->stage, why);
			if (gc->outcome == DROP) {
				ms = wait_dropped(r.sock, 1000);
				ASSERT_LE(0, ms)
				TH_LOG("\"%s\" (stage %d): not dropped within 1 s", gc->name,
				       gc->stage);
				if ((unsigned int)ms > worst_ms)
					worst_ms = (unsigned int)ms;
			} else {
				why = raw_echo(&r, (uint32_t)(rnd(&self->rng) % 1500), 4);
				ASSERT_EQ(NULL, why)
				TH_LOG("\"%s\" (stage %d): connection broken after it: %s",
				       gc->name, gc->stage, why);
			}
			raw_close(&r);
			ASSERT_EQ(0, server_exit_status(self->server))
			TH_LOG("after \"%s\"", gc->name);
		}
		round++;
	} while (cell_now_ns() < end);
	TH_LOG("%u rounds of %zu cases; drops within %u ms", round, NGCASES, worst_ms);
	check_others(_metadata, self);
}

/* Each refused HELLO is answered with an error frame giving the right status. */
TEST_F(hostile, bad_hellos_refused_with_status)
{
	static const struct {
		const char *name;
		int field; /* which mutation */
		enum cell_status want;
	} cases[] = {
		{ "bad magic", 0, CELL_STATUS_BAD_MESSAGE },
		{ "ABI version 2", 1, CELL_STATUS_UNSUPPORTED_VERSION },
		{ "reserved0 set", 2, CELL_STATUS_BAD_MESSAGE },
		{ "reserved1 set", 3, CELL_STATUS_BAD_MESSAGE },
		{ "unknown feature", 4, CELL_STATUS_BAD_MESSAGE },
		{ "ring not a power of two", 5, CELL_STATUS_BAD_MESSAGE },
		{ "ring below the minimum", 6, CELL_STATUS_BAD_MESSAGE },
		{ "ring above the maximum", 7, CELL_STATUS_BAD_MESSAGE },
		{ "header and payload fingerprints differ", 8, CELL_STATUS_BAD_MESSAGE },
		{ "max_inflight 0", 9, CELL_STATUS_BAD_MESSAGE },
		{ "wire version 2", 10, CELL_STATUS_UNSUPPORTED_VERSION },
		{ "RESPONSE flag", 11, CELL_STATUS_BAD_MESSAGE },
		{ "correlation 2", 12, CELL_STATUS_BAD_MESSAGE },
		{ "truncated", 13, CELL_STATUS_BAD_MESSAGE },
		{ "trailing bytes", 14, CELL_STATUS_BAD_MESSAGE },
		{ "other fingerprint", 15, CELL_STATUS_FINGERPRINT_MISMATCH },
		{ "method PING", 16, CELL_STATUS_BAD_MESSAGE },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t frame[CELL_HS_FRAME_SIZE + 16];
		struct cell_hs hs = default_hello(true);
		size_t len = CELL_HS_FRAME_SIZE;
		uint8_t *p = frame + CELL_HDR_SIZE;
		enum cell_status st;
		struct raw r;
		int io;

		if (cases[i].field == 15)
			hs.fingerprint = OTHER_FP;
		cell_hs_encode_hello(&hs, frame);
		memset(frame + CELL_HS_FRAME_SIZE, 0, 16);
		switch (cases[i].field) {
		case 0:
			p[0] ^= 1;
			break;
		case 1:
			p[4] = 2;
			break;
		case 2:
			p[6] = 1;
			break;
		case 3:
			p[47] = 0x80;
			break;
		case 4:
			p[8] |= (uint8_t)(CELL_FEAT_ALL + 1); /* the lowest bit not assigned */
			break;
		case 5:
			p[17] = 0x30;
			break; /* 0x3000 */
		case 6:
			p[16] = 0;
			p[17] = 0x08;
			break; /* 2048 */
		case 7:
			p[20] = 0x01;
			p[17] = 0;
			break; /* 2^32 */
		case 8:
			p[32] ^= 0xff;
			break;
		case 9:
			memset(p + 12, 0, 4);
			break;
		case 10:
			frame[0] = 2;
			break;
		case 11:
			frame[1] = CELL_F_RESPONSE;
			break;
		case 12:
			frame[4] = 2;
			break;
		case 13:
			len = CELL_HS_FRAME_SIZE - 1 - i;
			break;
		case 14:
			len = CELL_HS_FRAME_SIZE + 8;
			break;
		case 16:
			frame[2] = 0x02;
			break;
		default:
			break;
		}
		raw_init(&r);
		st = raw_hello_frame(&r, self->path, frame, len, NULL, 0, &io);
		EXPECT_EQ(cases[i].want, st)
		TH_LOG("%s: got %s (io %d)", cases[i].name, cell_status_name(st), io);
		EXPECT_LE(0, wait_dropped(r.sock, 1000)) TH_LOG("%s: not dropped", cases[i].name);
		raw_close(&r);
	}
	ASSERT_EQ(0, server_exit_status(self->server));
	check_others(_metadata, self);
}

/*
 * Traced requests from a raw peer, on the ring and the unix path: a
 * well-formed trailer is stripped before the handler (the echo comes back
 * without it) where the server granted CELL_FEAT_TRACE; bit 7 without
 * that grant, a malformed trailer, or TRACE on a response drop that
 * connection only.
 */
static int traced_request(struct raw *r, uint32_t id, const uint8_t *payload, uint32_t len,
			  const uint8_t trailer[CELL_TRACE_TRAILER_SIZE], uint8_t flags)
{
	uint8_t buf[2048 + CELL_TRACE_TRAILER_SIZE];

	memcpy(buf, payload, len);
	memcpy(buf + len, trailer, CELL_TRACE_TRAILER_SIZE);
	len += CELL_TRACE_TRAILER_SIZE;
	if (r->shm)
		return ring_frame(r, flags, M_ECHO, id, FP, buf, len);
	return sock_frame(r, flags, M_ECHO, id, FP, buf, len, NULL, 0);
}

TEST_F(hostile, traced_requests_stripped_or_refused)
{
	static const struct {
		const char *name;
		int offer; /* offer CELL_FEAT_TRACE in HELLO */
		int byte;  /* trailer byte to break, -1: none */
		uint8_t value;
		uint8_t flags;
		int dropped;
	} cases[] = {
		{ "well-formed", 1, -1, 0, CELL_F_REQUEST | CELL_F_TRACE, 0 },
		{ "not agreed on", 0, -1, 0, CELL_F_REQUEST | CELL_F_TRACE, 1 },
		{ "bad magic", 1, 31, 'X', CELL_F_REQUEST | CELL_F_TRACE, 1 },
		{ "trailer version 2", 1, 24, 2, CELL_F_REQUEST | CELL_F_TRACE, 1 },
		{ "unknown trace flag", 1, 25, 0x80, CELL_F_REQUEST | CELL_F_TRACE, 1 },
		{ "zero trace id", 1, 0, 0, CELL_F_REQUEST | CELL_F_TRACE, 1 },
		{ "TRACE on a response", 1, -1, 0, CELL_F_RESPONSE | CELL_F_TRACE, 1 },
	};
	struct cell_trace_ctx ctx = { .trace_id = { 1 }, .span_id = { 2 }, .flags = 0 };
	uint8_t trailer[CELL_TRACE_TRAILER_SIZE], payload[100];

	pattern(payload, sizeof(payload), 9);
	for (int shm = 0; shm < 2; shm++)
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			struct cell_hs hs = default_hello(shm);
			uint32_t id;
			const char *why;
			struct raw r;
			int io = 0;

			if (cases[i].offer)
				hs.features |= CELL_FEAT_TRACE;
			raw_init(&r);
			ASSERT_EQ(CELL_STATUS_OK, raw_hello(&r, self->path, &hs, &io))
			TH_LOG("%s: handshake (%d)", cases[i].name, io);
			ASSERT_EQ(!!cases[i].offer, !!(r.welcome.features & CELL_FEAT_TRACE));
			cell_trace_trailer_encode(&ctx, trailer);
			if (cases[i].byte >= 0)
				trailer[cases[i].byte] = cases[i].value;
			id = r.next_id++;
			ASSERT_EQ(0, traced_request(&r, id, payload, sizeof(payload), trailer,
						    cases[i].flags));
			if (shm)
				kick(&r);
			if (cases[i].dropped) {
				EXPECT_LE(0, wait_dropped(r.sock, 1000))
				TH_LOG("%s (%s): not dropped", cases[i].name,
				       shm ? "ring" : "unix");
			} else {
				why = expect_echo(&r, id, sizeof(payload), 9);
				EXPECT_EQ(NULL, why)
				TH_LOG("%s (%s): %s", cases[i].name, shm ? "ring" : "unix", why);
			}
			raw_close(&r);
			ASSERT_EQ(0, server_exit_status(self->server))
			TH_LOG("after %s", cases[i].name);
		}
	check_others(_metadata, self);
}

/* ---- (c) clients that stop taking responses ---------------------------- */

struct staller {
	const char *path;
	pthread_t thread;
	unsigned int sent;  /* requests committed */
	int dropped_ms;	    /* from the last request to end of file, -1: not dropped */
	unsigned int later; /* answers received once it gave the ring back */
	const char *why;
};

/*
 * Handshake for small rings, send echo requests whose answers do not all
 * fit the 4 KiB response ring, and neither read nor release that ring for
 * 6 s: the server cannot send the rest.  It may drop this client, or park
 * it without holding a thread; parked, it must answer the rest once the
 * client takes its responses.
 */
static void *staller_run(void *arg)
{
	struct staller *s = arg;
	struct cell_hs hs = default_hello(true);
	uint8_t payload[1000];
	struct raw r;
	int io;

	raw_init(&r);
	s->dropped_ms = -1;
	if (raw_hello(&r, s->path, &hs, &io) != CELL_STATUS_OK || !r.shm) {
		s->why = "handshake";
		goto out;
	}
	pattern(payload, sizeof(payload), 3);
	for (s->sent = 0; s->sent < 8; s->sent++)
		if (ring_frame(&r, CELL_F_REQUEST, M_ECHO, 1 + s->sent, FP, payload,
			       sizeof(payload)))
			break;
	s->dropped_ms = wait_dropped(r.sock, 6000);
	if (s->dropped_ms >= 0)
		goto out;
	for (s->later = 0; s->later < s->sent; s->later++)
		if (expect_echo(&r, 1 + s->later, sizeof(payload), 3))
			break;
out:
	raw_close(&r);
	return NULL;
}

static void stall_check(struct __test_metadata *_metadata, FIXTURE_DATA(hostile) * self,
			int nstallers, uint64_t max_good_ns)
{
	struct staller s[2];

	atomic_store(&self->ring_client.max_ns, 0);
	atomic_store(&self->unix_client.max_ns, 0);
	for (int i = 0; i < nstallers; i++) {
		memset(&s[i], 0, sizeof(s[i]));
		s[i].path = self->path;
		ASSERT_EQ(0, pthread_create(&s[i].thread, NULL, staller_run, &s[i]));
	}
	for (int i = 0; i < nstallers; i++) {
		pthread_join(s[i].thread, NULL);
		EXPECT_EQ(NULL, s[i].why) TH_LOG("staller %d: %s", i, s[i].why);
		/* 4 answers of 1032 ring bytes cannot all be in a 4 KiB ring. */
		EXPECT_LE(4, s[i].sent);
		/* Dropped, or parked and answering all once the ring is given back. */
		EXPECT_TRUE(s[i].dropped_ms >= 0 || s[i].later == s[i].sent)
		TH_LOG("staller %d: neither dropped within 6 s nor answered after (%u of %u)", i,
		       s[i].later, s[i].sent);
		TH_LOG("staller %d: %u requests; dropped after %d ms; %u answered later", i,
		       s[i].sent, s[i].dropped_ms, s[i].later);
	}
	EXPECT_GT(max_good_ns, atomic_load(&self->ring_client.max_ns))
	TH_LOG("ring client waited %llu ms",
	       (unsigned long long)atomic_load(&self->ring_client.max_ns) / 1000000);
	EXPECT_GT(max_good_ns, atomic_load(&self->unix_client.max_ns))
	TH_LOG("unix client waited %llu ms",
	       (unsigned long long)atomic_load(&self->unix_client.max_ns) / 1000000);
	check_others(_metadata, self);
}

/* One staller holds one of the two server threads: the others barely notice. */
TEST_F_TIMEOUT(hostile, stalled_client, 60)
{
	stall_check(_metadata, self, 1, CELL_NSEC_PER_SEC);
}

/* A staller on each server thread: the others wait, but a bounded time. */
TEST_F_TIMEOUT(hostile, stallers_on_every_thread, 60)
{
	stall_check(_metadata, self, 2, 15 * CELL_NSEC_PER_SEC);
}

/*
 * Not hostile: a client that follows <linux/cell.h> to the letter (after
 * releasing response ring bytes it wakes the server through the futex
 * word, and rings the doorbell only for requests) and keeps its response
 * ring small and busy.  Every call must be answered.
 */
TEST_F(hostile, uapi_client_small_response_ring)
{
	struct cell_hs hs = default_hello(true);
	const char *why = NULL;
	struct raw r;
	int io, i;

	raw_init(&r);
	r.kick_on_release = false;
	ASSERT_EQ(CELL_STATUS_OK, raw_hello(&r, self->path, &hs, &io));
	ASSERT_TRUE(r.shm);
	for (i = 0; i < 300 && !why; i++)
		why = raw_echo(&r, 500 + (uint32_t)(rnd(&self->rng) % 1500), (uint32_t)i);
	EXPECT_EQ(NULL, why) TH_LOG("call %d: %s", i - 1, why);
	raw_close(&r);
	check_others(_metadata, self);
}

/* ---- (d) clients that never say HELLO ---------------------------------- */

TEST_F_TIMEOUT(hostile, silent_connections, 60)
{
	enum {
		NSILENT = 40
	};
	int socks[NSILENT];
	struct cell_client_opts o = {
		.sz = sizeof(o),
		.fingerprint = FP,
		.runtime_dir = self->dir,
	};
	struct cell_client *c;
	uint8_t req[100], resp[100];
	uint32_t got = 0;
	uint64_t t0;

	for (int i = 0; i < NSILENT; i++) {
		socks[i] = cell_ux_connect(self->path);
		ASSERT_LE(0, socks[i]);
		if (i % 8 == 7)
			shutdown(socks[i], SHUT_WR); /* EOF before HELLO */
	}
	usleep(200 * 1000);
	t0 = cell_now_ns();
	c = cell_client_connect(NAME, &o);
	ASSERT_NE(NULL, c) TH_LOG("%s", cell_last_error(NULL));
	pattern(req, sizeof(req), 1);
	EXPECT_EQ(CELL_STATUS_OK, cell_client_call(c, M_ECHO, req, sizeof(req), resp, sizeof(resp),
						   &got, cell_deadline_in_ms(5000)));
	EXPECT_EQ(0, memcmp(req, resp, sizeof(req)));
	EXPECT_GT(CELL_NSEC_PER_SEC, cell_now_ns() - t0);
	cell_client_free(c);
	/* A silent connection may still say HELLO later and be served. */
	{
		struct cell_hs hs = default_hello(true);
		uint8_t frame[CELL_HS_FRAME_SIZE], buf[256];
		int fds[CELL_HS_MAX_FDS], nfds = 0;
		ssize_t n;

		cell_hs_encode_hello(&hs, frame);
		ASSERT_EQ(0, send_bytes(socks[0], frame, sizeof(frame), NULL, 0));
		n = recv_msg(socks[0], buf, sizeof(buf), fds, &nfds, 2000);
		EXPECT_EQ(CELL_HS_FRAME_SIZE, n);
		EXPECT_EQ(3, nfds);
		for (int i = 0; i < nfds; i++)
			close(fds[i]);
	}
	for (int i = 0; i < NSILENT; i++)
		close(socks[i]);
	check_others(_metadata, self);
}

TEST_HARNESS_MAIN
