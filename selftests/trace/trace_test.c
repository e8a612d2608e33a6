// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Distributed tracing across cells, in one process: cells A, B and C each
 * serve on a thread of their own; A's handler calls B, B's calls C.  A
 * traced call into A must give three spans of one trace whose parent links
 * form the chain root -> A -> B -> C; an unsampled context must stay with
 * the caller and leave no span; an untraced call must see no context and no trailer.
 * Also the span ring's bound, the SPANS and METRICS control methods and
 * their encodings.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cell/metrics.h>
#include <cell/rpc.h>
#include <cell/trace.h>
#include "kselftest_harness.h"

#define FP	 0x7e57ace0ULL
#define M_CHAIN	 1
#define M_ECHO	 2
#define M_BLIND	 3 /* chain, without the handler reading its context */
#define DEADLINE (cell_deadline_in_ms(5000))
#define ECHO_MAX (1u << 20)

static const char *const names[3] = { "trace-a", "trace-b", "trace-c" };

/*
 * What each cell's handler saw, written by the server threads.  The calls'
 * answers order those writes before the test reads them, but through
 * shared-memory rings and futexes TSan cannot follow: a mutex says so.
 */
static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;

struct seen {
	int had_ctx;
	struct cell_trace_ctx ctx;
	uint32_t len;
};

struct cellsrv {
	struct cell_server *srv;
	struct cell_metrics *metrics;
	struct cell_client *next; /* the cell this one calls, or NULL */
	pthread_t thread;
	struct seen seen;
};

/* Calls the next cell (if any) with @method, then answers with one 'x' more. */
static enum cell_status call_on(struct cellsrv *cs, uint16_t method, const struct cell_vesicle *req,
				struct cell_reply *reply)
{
	uint8_t out[64];
	uint32_t n = 0;
	enum cell_status st;

	if (cs->next) {
		st = cell_client_call(cs->next, method, req->data, req->len, out, sizeof(out) - 1,
				      &n, DEADLINE);
		if (st)
			return st;
	}
	out[n++] = 'x';
	return cell_reply_send(reply, out, n) ? CELL_STATUS_INTERNAL : CELL_STATUS_OK;
}

static enum cell_status chain(const struct cell_vesicle *req, struct cell_reply *reply, void *ctx)
{
	struct cellsrv *cs = ctx;

	pthread_mutex_lock(&seen_lock);
	cs->seen.had_ctx = cell_trace_current(&cs->seen.ctx);
	cs->seen.len = req->len;
	pthread_mutex_unlock(&seen_lock);
	return call_on(cs, M_CHAIN, req, reply);
}

/*
 * As chain(), but calling on without ever reading the trace context: the
 * span id is made lazily, and the call must still make one for the child's
 * parent link.
 */
static enum cell_status chain_blind(const struct cell_vesicle *req, struct cell_reply *reply,
				    void *ctx)
{
	return call_on(ctx, M_BLIND, req, reply);
}

static enum cell_status echo(const struct cell_vesicle *req, struct cell_reply *reply, void *ctx)
{
	struct cellsrv *cs = ctx;

	pthread_mutex_lock(&seen_lock);
	cs->seen.len = req->len;
	pthread_mutex_unlock(&seen_lock);
	return cell_reply_send(reply, req->data, req->len) ? CELL_STATUS_INTERNAL : CELL_STATUS_OK;
}

/* A copy of what cell @cs saw, taken under the lock. */
static struct seen seen_of(struct cellsrv *cs)
{
	struct seen s;

	pthread_mutex_lock(&seen_lock);
	s = cs->seen;
	pthread_mutex_unlock(&seen_lock);
	return s;
}

static void *serve(void *arg)
{
	struct cellsrv *cs = arg;

	return (void *)(intptr_t)cell_server_run(cs->srv, 1);
}

FIXTURE(trace)
{
	char dir[64];
	struct cellsrv cell[3];
	struct cell_client *to[3]; /* the test's own clients of A, B, C */
};

FIXTURE_VARIANT(trace)
{
	enum cell_ring_backend backend;
};

FIXTURE_VARIANT_ADD(trace, memfd){
	.backend = CELL_RING_BACKEND_MEMFD,
};

FIXTURE_VARIANT_ADD(trace, unix_socket){
	.backend = CELL_RING_BACKEND_NONE,
};

static struct cell_client *connect_to(const char *dir, const char *name,
				      enum cell_ring_backend backend)
{
	struct cell_client_opts o = {
		.sz = sizeof(o),
		.fingerprint = FP,
		.runtime_dir = dir,
		.backend = backend,
		.response_ring = ECHO_MAX * 4,
		.request_ring = ECHO_MAX * 4,
	};

	return cell_client_connect(name, &o);
}

FIXTURE_SETUP(trace)
{
	strcpy(self->dir, "/tmp/cell-trace-XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	for (int i = 0; i < 3; i++) {
		struct cell_server_opts o = {
			.sz = sizeof(o),
			.fingerprint = FP,
			.runtime_dir = self->dir,
			.backend = variant->backend,
			.max_ring = ECHO_MAX * 4,
		};

		self->cell[i].metrics = cell_metrics_new(NULL);
		ASSERT_NE(NULL, self->cell[i].metrics);
		o.metrics = i == 2 ? NULL : self->cell[i].metrics; /* C keeps none */
		self->cell[i].srv = cell_server_new(names[i], &o);
		ASSERT_NE(NULL, self->cell[i].srv) TH_LOG("%s", cell_last_error(NULL));
		ASSERT_EQ(0, cell_server_handle(self->cell[i].srv, M_CHAIN, chain, &self->cell[i]));
		ASSERT_EQ(0, cell_server_handle(self->cell[i].srv, M_ECHO, echo, &self->cell[i]));
		ASSERT_EQ(0,
			  cell_server_handle(self->cell[i].srv, M_BLIND, chain_blind, &self->cell[i]));
	}
	for (int i = 0; i < 3; i++)
		ASSERT_EQ(0, pthread_create(&self->cell[i].thread, NULL, serve, &self->cell[i]));
	for (int i = 0; i < 2; i++) {
		self->cell[i].next = connect_to(self->dir, names[i + 1], variant->backend);
		ASSERT_NE(NULL, self->cell[i].next) TH_LOG("%s", cell_last_error(NULL));
	}
	for (int i = 0; i < 3; i++) {
		self->to[i] = connect_to(self->dir, names[i], variant->backend);
		ASSERT_NE(NULL, self->to[i]) TH_LOG("%s", cell_last_error(NULL));
	}
	cell_spans_clear();
}

FIXTURE_TEARDOWN(trace)
{
	for (int i = 0; i < 3; i++)
		cell_client_free(self->to[i]);
	for (int i = 0; i < 3; i++)
		cell_server_stop(self->cell[i].srv);
	for (int i = 0; i < 3; i++) {
		pthread_join(self->cell[i].thread, NULL);
		cell_client_free(self->cell[i].next);
		cell_server_free(self->cell[i].srv);
		cell_metrics_free(self->cell[i].metrics);
	}
	rmdir(self->dir);
}

/* Exactly one span of @trace_id from cell @i, through the SPANS control method. */
static int one_span(struct cell_client *c, const uint8_t *trace_id, struct cell_span *out)
{
	struct cell_span *spans;
	size_t n;
	enum cell_status st = cell_client_spans(c, trace_id, &spans, &n, DEADLINE);

	if (st)
		return -(int)st;
	if (n == 1)
		*out = spans[0];
	free(spans);
	return (int)n;
}

TEST_F(trace, three_cells_form_one_tree_with_parent_links)
{
	struct cell_trace_ctx root;
	struct cell_span s[3];
	uint8_t resp[8];
	uint32_t n = 0;

	cell_trace_start(CELL_TRACE_F_SAMPLED, &root);
	ASSERT_EQ(CELL_STATUS_OK, cell_client_call(self->to[0], M_CHAIN, "hi", 2, resp,
						   sizeof(resp), &n, DEADLINE));
	cell_trace_set(NULL);
	ASSERT_EQ(3, n);
	ASSERT_EQ(0, memcmp(resp, "xxx", 3));
	for (int i = 0; i < 3; i++) {
		ASSERT_EQ(1, one_span(self->to[i], root.trace_id, &s[i]))
		TH_LOG("cell %s", names[i]);
		EXPECT_EQ(0, memcmp(s[i].trace_id, root.trace_id, 16));
		EXPECT_STREQ(names[i], s[i].cell);
		EXPECT_EQ(M_CHAIN, s[i].method);
		EXPECT_EQ(CELL_STATUS_OK, s[i].status);
		/* The payload the handler saw excludes the trailer. */
		EXPECT_EQ(2, seen_of(&self->cell[i]).len);
		EXPECT_EQ(1, seen_of(&self->cell[i]).had_ctx);
		EXPECT_EQ(0, memcmp(seen_of(&self->cell[i]).ctx.span_id, s[i].span_id, 8));
	}
	EXPECT_EQ(0, memcmp(s[0].parent_id, root.span_id, 8));
	EXPECT_EQ(0, memcmp(s[1].parent_id, s[0].span_id, 8));
	EXPECT_EQ(0, memcmp(s[2].parent_id, s[1].span_id, 8));
	EXPECT_NE(0, memcmp(s[0].span_id, s[1].span_id, 8));
	/*
	 * Children start within their parents.  (Their ends may not nest: a
	 * span ends once its answer is out, and the parent may finish before
	 * the child's thread takes the clock again.)
	 */
	EXPECT_LE(s[0].start_ns, s[1].start_ns);
	EXPECT_LE(s[1].start_ns, s[2].start_ns);
	EXPECT_LT(s[1].start_ns, s[0].start_ns + s[0].duration_ns);
	EXPECT_LT(s[2].start_ns, s[1].start_ns + s[1].duration_ns);
	/* The caller's context is its own again; the servers' threads have none left. */
	EXPECT_EQ(0, cell_trace_current(&root));
}

/*
 * An unsampled context records nothing anywhere, so libcell keeps it on
 * the caller's thread (for its logs) and sends no trailer: such a call
 * costs what an untraced one does.
 */
static bool zero_id(const uint8_t id[8])
{
	static const uint8_t zero[8];

	return !memcmp(id, zero, 8);
}

TEST_F(trace, handlers_that_never_read_the_context_still_link_spans)
{
	struct cell_trace_ctx root;
	struct cell_span s[3];
	uint8_t resp[8];
	uint32_t n = 0;

	cell_trace_start(CELL_TRACE_F_SAMPLED, &root);
	ASSERT_EQ(CELL_STATUS_OK, cell_client_call(self->to[0], M_BLIND, "hi", 2, resp,
						   sizeof(resp), &n, DEADLINE));
	cell_trace_set(NULL);
	ASSERT_EQ(3, n);
	for (int i = 0; i < 3; i++) {
		ASSERT_EQ(1, one_span(self->to[i], root.trace_id, &s[i]))
		TH_LOG("cell %s", names[i]);
		/* Every span has an id of its own, also the last one, whose handler called nobody. */
		EXPECT_FALSE(zero_id(s[i].span_id)) TH_LOG("cell %s", names[i]);
		EXPECT_NE(0, memcmp(s[i].span_id, root.span_id, 8));
		for (int j = 0; j < i; j++)
			EXPECT_NE(0, memcmp(s[i].span_id, s[j].span_id, 8));
	}
	EXPECT_EQ(0, memcmp(s[0].parent_id, root.span_id, 8));
	EXPECT_EQ(0, memcmp(s[1].parent_id, s[0].span_id, 8));
	EXPECT_EQ(0, memcmp(s[2].parent_id, s[1].span_id, 8));
}

TEST_F(trace, unsampled_context_stays_with_the_caller)
{
	struct cell_trace_ctx root, now;
	struct cell_span *spans;
	uint8_t resp[8];
	uint32_t n;
	size_t count;

	cell_trace_start(0, &root);
	ASSERT_EQ(CELL_STATUS_OK, cell_client_call(self->to[0], M_CHAIN, "hi", 2, resp,
						   sizeof(resp), &n, DEADLINE));
	ASSERT_EQ(1, cell_trace_current(&now));
	EXPECT_EQ(0, memcmp(&root, &now, sizeof(now)));
	cell_trace_set(NULL);
	for (int i = 0; i < 3; i++) {
		EXPECT_EQ(0, seen_of(&self->cell[i]).had_ctx);
		EXPECT_EQ(2, seen_of(&self->cell[i]).len);
		ASSERT_EQ(CELL_STATUS_OK,
			  cell_client_spans(self->to[i], NULL, &spans, &count, DEADLINE));
		EXPECT_EQ(0, count);
		free(spans);
	}
}

TEST_F(trace, untraced_call_carries_no_context)
{
	uint8_t resp[8];
	uint32_t n;

	ASSERT_EQ(CELL_STATUS_OK, cell_client_call(self->to[0], M_CHAIN, "hey", 3, resp,
						   sizeof(resp), &n, DEADLINE));
	for (int i = 0; i < 3; i++) {
		EXPECT_EQ(0, seen_of(&self->cell[i]).had_ctx);
		EXPECT_EQ(3, seen_of(&self->cell[i]).len);
	}
	EXPECT_EQ(0, cell_spans_collect(NULL, 0, NULL, NULL, NULL));
}

TEST_F(trace, trailer_never_reaches_the_payload)
{
	static const uint32_t sizes[] = { 0, 1, 31, 32, 33, 4096, 65536, ECHO_MAX - 64 };
	uint8_t *req = malloc(ECHO_MAX), *resp = malloc(ECHO_MAX);

	ASSERT_NE(NULL, req);
	ASSERT_NE(NULL, resp);
	for (uint32_t i = 0; i < ECHO_MAX; i++)
		req[i] = (uint8_t)(i * 7 + 3);
	cell_trace_start(CELL_TRACE_F_SAMPLED, NULL);
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		uint32_t n = 0;

		ASSERT_EQ(CELL_STATUS_OK, cell_client_call(self->to[1], M_ECHO, req, sizes[k], resp,
							   ECHO_MAX, &n, DEADLINE))
		TH_LOG("size %u: %s", sizes[k], cell_last_error(NULL));
		EXPECT_EQ(sizes[k], n);
		EXPECT_EQ(sizes[k], seen_of(&self->cell[1]).len);
		EXPECT_EQ(0, memcmp(req, resp, n));
	}
	cell_trace_set(NULL);
	/* The last span is recorded once its answer is out: give it a moment. */
	for (int i = 0; i < 1000 && cell_spans_collect(NULL, 0, NULL, names[1], NULL) <
					    sizeof(sizes) / sizeof(sizes[0]);
	     i++)
		usleep(1000);
	EXPECT_EQ(sizeof(sizes) / sizeof(sizes[0]),
		  cell_spans_collect(NULL, 0, NULL, names[1], NULL));
	free(req);
	free(resp);
}

TEST_F(trace, metrics_control_method_returns_the_servers_counts)
{
	struct cell_metrics_snapshot *snap;
	const struct cell_method_stats *st;
	uint8_t resp[8];
	uint32_t n;

	for (int i = 0; i < 5; i++)
		ASSERT_EQ(CELL_STATUS_OK, cell_client_call(self->to[0], M_CHAIN, "a", 1, resp,
							   sizeof(resp), &n, DEADLINE));
	ASSERT_EQ(CELL_STATUS_OK, cell_client_metrics(self->to[0], &snap, DEADLINE))
	TH_LOG("%s", cell_last_error(NULL));
	st = cell_metrics_snapshot_find(snap, M_CHAIN);
	ASSERT_NE(NULL, st);
	EXPECT_EQ(5, cell_method_stats_calls(st));
	EXPECT_EQ(0, cell_method_stats_errors(st));
	EXPECT_EQ(5, cell_hist_count(cell_method_stats_latency(st)));
	EXPECT_LT(0, cell_hist_quantile(cell_method_stats_latency(st), 0.5));
	cell_metrics_snapshot_free(snap);
	/* C keeps no metrics: a clear NOT_FOUND, the connection stays. */
	EXPECT_EQ(CELL_STATUS_NOT_FOUND, cell_client_metrics(self->to[2], &snap, DEADLINE));
	EXPECT_EQ(NULL, snap);
	EXPECT_EQ(CELL_STATUS_OK,
		  cell_client_call(self->to[2], M_CHAIN, "a", 1, resp, sizeof(resp), &n, DEADLINE));
}

TEST_F(trace, control_calls_refuse_what_they_do_not_know)
{
	void *resp;
	uint32_t len;

	EXPECT_EQ(CELL_STATUS_INVALID_ARGUMENT,
		  cell_client_control(self->to[0], CELL_METHOD_HELLO, NULL, 0, &resp, &len,
				      DEADLINE));
	EXPECT_EQ(CELL_STATUS_OK, cell_client_control(self->to[0], CELL_METHOD_PING, NULL, 0, &resp,
						      &len, DEADLINE));
	EXPECT_EQ(NULL, resp);
	/* A SPANS request of the wrong size is an error answer, not a dropped connection. */
	EXPECT_EQ(CELL_STATUS_INVALID_ARGUMENT,
		  cell_client_control(self->to[0], CELL_METHOD_SPANS, "abc", 3, &resp, &len,
				      DEADLINE));
	EXPECT_EQ(CELL_STATUS_OK, cell_client_control(self->to[0], CELL_METHOD_PING, NULL, 0, &resp,
						      &len, DEADLINE));
}

TEST(span_ring_is_bounded_and_keeps_the_newest)
{
	struct cell_span s = { .trace_id = { 1 }, .span_id = { 1 }, .cell = "ring" };
	struct cell_span out[32];
	uint64_t dropped;

	/* A fresh process (the harness forks): the ring is sized on first use. */
	setenv("CELL_TRACE_SPANS", "16", 1);
	for (uint64_t i = 0; i < 100; i++) {
		s.start_ns = i;
		cell_span_record(&s);
	}
	ASSERT_EQ(16, cell_spans_collect(out, 32, NULL, NULL, &dropped));
	EXPECT_EQ(84, dropped);
	for (int i = 0; i < 16; i++)
		EXPECT_EQ(84 + i, out[i].start_ns);
	/* Fewer slots than matches: the newest ones. */
	ASSERT_EQ(16, cell_spans_collect(out, 4, NULL, "ring", NULL));
	EXPECT_EQ(96, out[0].start_ns);
	EXPECT_EQ(99, out[3].start_ns);
	EXPECT_EQ(0, cell_spans_collect(out, 4, NULL, "other", NULL));
}

TEST(spans_encoding_round_trips_and_refuses_bad_bytes)
{
	struct cell_span in[2] = {
		{ .trace_id = { 9, 8 },
		  .span_id = { 7 },
		  .parent_id = { 6 },
		  .start_ns = 5,
		  .duration_ns = 4,
		  .method = 3,
		  .status = CELL_STATUS_NOT_FOUND,
		  .cell = "a.b" },
		{ .trace_id = { 1 }, .span_id = { 2 }, .cell = "c" },
	};
	uint8_t buf[256], bad[256];
	struct cell_span *out;
	const char *why;
	size_t n, len;
	uint32_t dropped;

	len = cell_spans_encode(in, 2, 77, buf, sizeof(buf));
	ASSERT_EQ(cell_spans_wire_size(2), len);
	ASSERT_EQ(0, cell_spans_decode(buf, len, &out, &n, &dropped, &why));
	ASSERT_EQ(2, n);
	EXPECT_EQ(77, dropped);
	EXPECT_EQ(0, memcmp(&in[0], &out[0], sizeof(in[0])));
	EXPECT_STREQ("c", out[1].cell);
	free(out);
	EXPECT_EQ(0, cell_spans_encode(in, 2, 0, buf, len - 1));
	/* Each rule, one broken byte at a time. */
	struct {
		size_t off;
		uint8_t val;
		const char *why;
	} cases[] = {
		{ 0, 'X', "magic" },	   { 4, 2, "version" },	       { 6, 1, "reserved" },
		{ 8, 3, "count" },	   { 16 + 0, 0, "trace id" },  { 16 + 16, 0, "span id" },
		{ 16 + 50, 99, "status" }, { 16 + 52, 1, "reserved" }, { 16 + 56, 'A', "name" },
		{ 16 + 56, 0, "name" },	   { 16 + 87, 'z', "name" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memcpy(bad, buf, len);
		if (cases[i].off == 16)
			bad[16] = 0, bad[17] = 0; /* in[0] trace id is 09 08 00... */
		bad[cases[i].off] = cases[i].val;
		EXPECT_EQ(-EBADMSG, cell_spans_decode(bad, len, &out, &n, NULL, &why))
		TH_LOG("case %zu (%s)", i, cases[i].why);
		EXPECT_NE(NULL, why);
		EXPECT_EQ(NULL, out);
	}
	EXPECT_EQ(-EBADMSG, cell_spans_decode(buf, len - 1, &out, &n, NULL, &why));
	EXPECT_EQ(-EBADMSG, cell_spans_decode(buf, 15, &out, &n, NULL, &why));
}

TEST(trace_ids_parse_and_format)
{
	uint8_t id[16];
	char hex[33];

	ASSERT_EQ(0, cell_trace_id_parse("0123456789abcdefFEDCBA9876543210", id, 16));
	cell_trace_id_format(id, 16, hex);
	EXPECT_STREQ("0123456789abcdeffedcba9876543210", hex);
	EXPECT_EQ(-EINVAL, cell_trace_id_parse("0123", id, 16));
	EXPECT_EQ(-EINVAL, cell_trace_id_parse("0123456789abcdefFEDCBA987654321g", id, 16));
	EXPECT_EQ(-EINVAL, cell_trace_id_parse("00000000000000000000000000000000", id, 16));
	EXPECT_EQ(-EINVAL, cell_trace_id_parse(NULL, id, 16));
}

TEST_HARNESS_MAIN
