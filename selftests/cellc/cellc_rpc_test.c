// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Generated stubs and dispatch of all.cell end to end: a server process
 * serving all_serve() handlers, this process calling through the stubs,
 * on the ring path (memfd) and on the unix path.  Copy form, zero-copy
 * both ways (small and attachment-sized), one-way, handler errors, and
 * requests the generated validators refuse before a handler runs.
 */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cell/rpc.h>

#include "all_util.h"
#include "kselftest_harness.h"

#define NAME "cellctest"

struct shared {
	_Atomic uint64_t notes;
	_Atomic uint64_t note_hash;
	_Atomic uint64_t handled;
};

static struct shared *shared;

static enum cell_status on_echo(const struct all_everything *req, struct cell_reply *reply,
				const struct cell_vesicle *v, void *ctx)
{
	struct cellc_builder b;
	struct all_everything *m;

	(void)ctx;
	atomic_fetch_add(&shared->handled, 1);
	/* A copy is never longer than the request plus padding per span. */
	m = all_everything_reply_begin(reply, (uint64_t)v->len * 2 + 64, &b);
	if (!m)
		return CELL_STATUS_RESOURCE_EXHAUSTED;
	copy_everything_into(&b, m, req);
	return cellc_reply_finish(reply, &b) ? CELL_STATUS_INTERNAL : CELL_STATUS_OK;
}

static enum cell_status on_add(const struct all_scalars *req, struct all_scalars *resp,
			       const struct cell_vesicle *v, void *ctx)
{
	(void)v;
	atomic_fetch_add(&shared->handled, 1);
	if (ctx != (void *)shared)
		return CELL_STATUS_INTERNAL;
	if (req->a == 0)
		return CELL_STATUS_INVALID_ARGUMENT;
	resp->a = (uint8_t)(req->a + 1);
	resp->b = (uint16_t)(req->b + 1);
	resp->c = req->c + 1;
	resp->d = req->d + 1;
	resp->e = (int8_t)(req->e + 1);
	resp->f = (int16_t)(req->f + 1);
	resp->g = req->g + 1;
	resp->h = req->h + 1;
	resp->t = !req->t;
	return CELL_STATUS_OK;
}

static enum cell_status on_note(const struct all_named *req, const struct cell_vesicle *v,
				void *ctx)
{
	(void)ctx;
	atomic_fetch_add(&shared->handled, 1);
	atomic_store(&shared->note_hash, hash_named(0, v->data, req));
	atomic_fetch_add(&shared->notes, 1);
	return CELL_STATUS_OK;
}

static enum cell_status on_describe(const struct all_scalars *req, struct cell_reply *reply,
				    const struct cell_vesicle *v, void *ctx)
{
	struct cellc_builder b;
	struct all_named *m;
	char text[64];

	(void)v;
	(void)ctx;
	atomic_fetch_add(&shared->handled, 1);
	if (req->a == 0) {
		if (cell_reply_error(reply, CELL_STATUS_NOT_FOUND, "nothing at a=0"))
			return CELL_STATUS_INTERNAL;
		return CELL_STATUS_NOT_FOUND;
	}
	snprintf(text, sizeof(text), "a=%u c=%u", req->a, req->c);
	m = all_named_reply_begin(reply, ALL_NAMED_SIZE + 64 + 8 + 16, &b);
	if (!m)
		return CELL_STATUS_RESOURCE_EXHAUSTED;
	all_named_set_name_str(&b, m, text);
	all_named_set_data(&b, m, &req->d, sizeof(req->d));
	m->on = req->t;
	return cellc_reply_finish(reply, &b) ? CELL_STATUS_INTERNAL : CELL_STATUS_OK;
}

/* count is deliberately left unserved: UNKNOWN_METHOD. */
static const struct all_handlers handlers = {
	.echo = on_echo,
	.add = on_add,
	.note = on_note,
	.describe = on_describe,
};

static pid_t start_server(const char *dir, enum cell_ring_backend backend)
{
	pid_t parent = getpid(), pid;
	int pfd[2];
	char ok;

	if (pipe(pfd))
		return -1;
	pid = fork();
	if (pid == 0) {
		struct cell_server_opts o = all_server_opts();
		struct cell_server *srv;

		/* Never outlive the test (a failed one would leave us holding its output). */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		o.runtime_dir = dir;
		o.backend = backend;
		o.max_ring = 1U << 20;
		srv = cell_server_new(NAME, &o);
		close(pfd[0]);
		if (!srv || all_serve(srv, &handlers, shared))
			_exit(1);
		if (write(pfd[1], "k", 1) != 1)
			_exit(1);
		close(pfd[1]);
		_exit(cell_server_run(srv, 2) ? 1 : 0);
	}
	close(pfd[1]);
	if (read(pfd[0], &ok, 1) != 1)
		pid = -1;
	close(pfd[0]);
	return pid;
}

static uint64_t deadline(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec + 10000000000ULL;
}

FIXTURE(stubs)
{
	char dir[64];
	pid_t server;
	struct cell_client *c;
};

FIXTURE_VARIANT(stubs)
{
	enum cell_ring_backend backend;
};

FIXTURE_VARIANT_ADD(stubs, memfd){
	.backend = CELL_RING_BACKEND_MEMFD,
};

FIXTURE_VARIANT_ADD(stubs, unix_socket){
	.backend = CELL_RING_BACKEND_NONE,
};

FIXTURE_SETUP(stubs)
{
	struct cell_client_opts o = all_client_opts();

	shared = mmap(NULL, sizeof(*shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1,
		      0);
	ASSERT_NE(MAP_FAILED, shared);
	strcpy(self->dir, "/tmp/cellc-rpc-XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	self->server = start_server(self->dir, variant->backend);
	ASSERT_LT(0, self->server);
	o.runtime_dir = self->dir;
	o.backend = variant->backend;
	o.request_ring = 1U << 20;
	o.response_ring = 1U << 20;
	self->c = cell_client_connect(NAME, &o);
	ASSERT_NE(NULL, self->c) TH_LOG("connect: %s", cell_last_error(NULL));
}

FIXTURE_TEARDOWN(stubs)
{
	char path[128];

	cell_client_free(self->c);
	if (self->server > 0) {
		kill(self->server, SIGKILL);
		waitpid(self->server, NULL, 0);
	}
	snprintf(path, sizeof(path), "%s/" NAME ".sock", self->dir);
	unlink(path);
	rmdir(self->dir);
	munmap(shared, sizeof(*shared));
}

TEST_F(stubs, fingerprint_is_the_schemas)
{
	ASSERT_EQ(ALL_FINGERPRINT, cell_client_server_fingerprint(self->c));
}

TEST_F(stubs, copy_form)
{
	struct all_scalars req, resp;

	memset(&req, 0, sizeof(req));
	sample_scalars(&req, 4);
	ASSERT_EQ(CELL_STATUS_OK, all_add(self->c, &req, &resp, deadline()));
	ASSERT_EQ(req.a + 1, resp.a);
	ASSERT_EQ(req.b + 1, resp.b);
	ASSERT_EQ(req.d + 1, resp.d);
	ASSERT_EQ(req.h + 1, resp.h);
	ASSERT_EQ(!req.t, resp.t);
	/* A handler's status comes back as the call's. */
	req.a = 0;
	ASSERT_EQ(CELL_STATUS_INVALID_ARGUMENT, all_add(self->c, &req, &resp, deadline()));
}

static void echo_round_trip(struct __test_metadata *_metadata, struct cell_client *c,
			    uint32_t nitems, uint32_t nwide)
{
	static _Alignas(8) uint8_t local[1 << 20];
	struct cellc_builder lb, b;
	const struct all_everything *resp;
	struct all_everything *req;
	struct cell_response raw;
	struct cell_call *call;
	uint32_t len;

	cellc_builder_init(&lb, local, sizeof(local));
	len = sample_everything(&lb, nitems, nwide);
	ASSERT_NE(0, len);
	ASSERT_EQ(CELL_STATUS_OK, all_echo_begin(c, len, deadline(), &call, &b, &req));
	ASSERT_NE(NULL, req);
	ASSERT_EQ(len, fill_everything(&b, req, nitems, nwide));
	ASSERT_EQ(CELL_STATUS_OK, all_echo_finish(call, &b, &resp, &raw));
	ASSERT_NE(NULL, resp);
	ASSERT_EQ(len, raw.len);
	ASSERT_EQ(hash_everything(local), hash_everything(resp));
	ASSERT_EQ(0, memcmp(local, resp, len));
	cell_call_end(call);
}

TEST_F(stubs, zero_copy_both_ways)
{
	echo_round_trip(_metadata, self->c, 0, 0);
	echo_round_trip(_metadata, self->c, 3, 5);
}

TEST_F(stubs, zero_copy_larger_than_a_socket_frame)
{
	/* About 150 KiB: an attachment on the unix path. */
	echo_round_trip(_metadata, self->c, 4000, 6000);
}

TEST_F(stubs, variable_response_to_a_fixed_request)
{
	struct cellc_builder b;
	struct all_scalars *req;
	const struct all_named *resp;
	struct cell_response raw;
	struct cell_call *call;
	const char *name;
	const uint8_t *data;
	uint64_t d;
	uint32_t n;

	ASSERT_EQ(CELL_STATUS_OK, all_describe_begin(self->c, 0, deadline(), &call, &b, &req));
	sample_scalars(req, 5);
	req->c = 42;
	ASSERT_EQ(CELL_STATUS_OK, all_describe_finish(call, &b, &resp, &raw));
	name = all_named_name(resp, &n);
	ASSERT_EQ(strlen("a=165 c=42"), n);
	ASSERT_EQ(0, memcmp(name, "a=165 c=42", n));
	data = all_named_data(resp, &n);
	ASSERT_EQ(8, n);
	memcpy(&d, data, sizeof(d)); /* bytes have no alignment */
	ASSERT_EQ(0xd0d0d0d0d0d0d0d5ULL, d);
	ASSERT_EQ(1, resp->on);
	cell_call_end(call);

	/* An error with a detail reaches the caller. */
	ASSERT_EQ(CELL_STATUS_OK, all_describe_begin(self->c, 0, deadline(), &call, &b, &req));
	req->a = 0;
	ASSERT_EQ(CELL_STATUS_NOT_FOUND, all_describe_finish(call, &b, &resp, &raw));
	ASSERT_EQ(NULL, resp);
	ASSERT_EQ(CELL_STATUS_NOT_FOUND, raw.status);
	ASSERT_EQ(strlen("nothing at a=0"), raw.detail_len);
	ASSERT_EQ(0, memcmp(raw.detail, "nothing at a=0", raw.detail_len));
	cell_call_end(call);
}

TEST_F(stubs, one_way)
{
	static _Alignas(8) uint8_t local[256];
	struct cellc_builder b, lb;
	struct all_named *req, *want;
	struct cell_call *call;

	for (int i = 0; i < 10; i++) {
		ASSERT_EQ(CELL_STATUS_OK, all_note_begin(self->c, 64, deadline(), &call, &b, &req));
		all_named_set_name_str(&b, req, "note");
		all_named_set_data(&b, req, &i, sizeof(i));
		ASSERT_EQ(CELL_STATUS_OK, all_note_finish(call, &b));
		cell_call_end(call);
	}
	for (int t = 0; t < 1000 && atomic_load(&shared->notes) < 10; t++)
		usleep(2000);
	ASSERT_EQ(10, atomic_load(&shared->notes));
	cellc_builder_init(&lb, local, sizeof(local));
	want = all_named_start(&lb);
	all_named_set_name_str(&lb, want, "note");
	{
		int nine = 9;

		all_named_set_data(&lb, want, &nine, sizeof(nine));
	}
	ASSERT_EQ(hash_named(0, local, want), atomic_load(&shared->note_hash));
}

TEST_F(stubs, builder_overflow_is_never_sent)
{
	uint64_t before = atomic_load(&shared->handled);
	const struct all_everything *resp;
	struct all_scalars sreq, sresp;
	struct all_everything *req;
	struct cell_response raw;
	struct cellc_builder b;
	struct cell_call *call;

	/* Room for the fixed part only: the string does not fit. */
	ASSERT_EQ(CELL_STATUS_OK, all_echo_begin(self->c, 0, deadline(), &call, &b, &req));
	ASSERT_EQ(-EMSGSIZE, all_everything_set_text_str(&b, req, "does not fit"));
	ASSERT_EQ(CELL_STATUS_TOO_LARGE, all_echo_finish(call, &b, &resp, &raw));
	ASSERT_EQ(NULL, resp);
	cell_call_end(call);
	/* The connection is fine and the server saw nothing of it. */
	memset(&sreq, 0, sizeof(sreq));
	sreq.a = 1;
	ASSERT_EQ(CELL_STATUS_OK, all_add(self->c, &sreq, &sresp, deadline()));
	ASSERT_EQ(before + 1, atomic_load(&shared->handled));
}

TEST_F(stubs, method_without_handler)
{
	struct all_scalars req, resp;

	memset(&req, 0, sizeof(req));
	ASSERT_EQ(CELL_STATUS_UNKNOWN_METHOD, all_count(self->c, &req, &resp, deadline()));
}

TEST_F(stubs, invalid_requests_never_reach_a_handler)
{
	static _Alignas(8) uint8_t msg[1024];
	struct all_scalars req, resp;
	enum cell_status st;
	uint64_t before = atomic_load(&shared->handled);
	struct cellc_builder b;
	struct all_everything *m;
	uint32_t len, n = 0;

	/* A bad bool through the copy stub. */
	memset(&req, 0, sizeof(req));
	req.a = 1;
	req.t = 2;
	ASSERT_EQ(CELL_STATUS_BAD_MESSAGE, all_add(self->c, &req, &resp, deadline()));
	ASSERT_NE(NULL, strstr(cell_last_error(NULL), "all_scalars.t: bool is not 0 or 1"))
	TH_LOG("detail: %s", cell_last_error(NULL));

	/* Too short for the fixed part. */
	st = cell_client_call(self->c, ALL_METHOD_ECHO, msg, 8, msg, sizeof(msg), &n, deadline());
	ASSERT_EQ(CELL_STATUS_BAD_MESSAGE, st);
	ASSERT_NE(NULL, strstr(cell_last_error(NULL), "all_everything: shorter than its fixed "
						      "part"));

	/* A span past the end. */
	cellc_builder_init(&b, msg, sizeof(msg));
	len = sample_everything(&b, 2, 2);
	ASSERT_NE(0, len);
	m = (struct all_everything *)msg;
	m->text.len = len;
	st = cell_client_call(self->c, ALL_METHOD_ECHO, msg, len, msg, sizeof(msg), &n, deadline());
	ASSERT_EQ(CELL_STATUS_BAD_MESSAGE, st);
	ASSERT_NE(NULL, strstr(cell_last_error(NULL), "all_everything.text: offset or length"));

	/* Bad UTF-8 in a one-way request: dropped, never handled. */
	cellc_builder_init(&b, msg, sizeof(msg));
	{
		struct all_named *nm = all_named_start(&b);
		char *s = all_named_alloc_name(&b, nm, 2);

		s[0] = (char)0xc0;
		s[1] = (char)0x80;
	}
	len = cellc_builder_finish(&b);
	ASSERT_EQ(CELL_STATUS_OK, cell_client_send(self->c, ALL_METHOD_NOTE, msg, len, deadline()));

	/* A good call after them is served; the bad ones never were. */
	req.t = 1;
	ASSERT_EQ(CELL_STATUS_OK, all_add(self->c, &req, &resp, deadline()));
	ASSERT_EQ(before + 1, atomic_load(&shared->handled));
	ASSERT_EQ(0, atomic_load(&shared->notes));
}

TEST_HARNESS_MAIN
