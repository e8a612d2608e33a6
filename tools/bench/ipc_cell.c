// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Cell's cases: a server whose handler echoes the request with
 * cell_reply_send(), served by cell_server_run(srv, 1), and a client that
 * calls with cell_client_call() (one call) or, for calls/s, begins and
 * submits ipc_depth() calls before waiting for each (pipelined on one
 * connection).  Default limits; rings of the default size, or larger for
 * a message that would not fit a ring record (half a ring): sized for the
 * largest message, as the iceoryx case's mempools are (ring_for()).
 *
 *  cell-shm-spin    memfd rings, default (adaptive) spin on both sides
 *  cell-shm-block   memfd rings, spin_ns = CELL_SPIN_NONE on both sides
 *  cell-unix        backend NONE: frames on the SOCK_SEQPACKET socket
 *  cell-shm-module  rings from /dev/cell (cell.ko; in the VM)
 *  cell-stream      memfd rings, one-way cell_client_send() of each
 *                   message, then one two-way call that also says whether
 *                   the server saw every message in order
 *  cell-stream-batch  the same with cell_client_send_batch() of up to 64
 *                   messages (batch_of()): the server is woken once per batch
 *
 * The backend is set through the options, so CELL_RING_BACKEND in the
 * environment cannot move a case, and the path taken is printed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cell/rpc.h>
#include <cell/time.h>

#include "ipc.h"

#define NAME	    "ipcbench"
#define M_ECHO	    1
#define M_ONEWAY    2
#define M_SYNC	    3
#define FINGERPRINT 0x1bc0be9c4fa57a71ULL

enum cell_kind {
	SPIN,
	BLOCK,
	UNIX,
	MODULE,
	STREAM,
	BATCH
};

struct cctx {
	enum cell_kind kind;
	size_t size;
	char dir[32];
	struct cell_client *cli;
	unsigned char *req, *resp, *batch;
	uint64_t seq;
	/* server: the next one-way sequence number expected, and whether one was wrong */
	uint64_t expect;
	int bad;
};

static enum cell_ring_backend backend_of(enum cell_kind k)
{
	return k == UNIX     ? CELL_RING_BACKEND_NONE
	       : k == MODULE ? CELL_RING_BACKEND_MODULE
			     : CELL_RING_BACKEND_MEMFD;
}

static void *prepare(size_t size, enum cell_kind kind)
{
	struct cctx *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->kind = kind;
	c->size = size;
	snprintf(c->dir, sizeof(c->dir), "/tmp/cell-ipc-XXXXXX");
	if (!mkdtemp(c->dir)) {
		perror("bench: mkdtemp");
		free(c);
		return NULL;
	}
	return c;
}

static void *prep_spin(size_t size)
{
	return prepare(size, SPIN);
}

static void *prep_block(size_t size)
{
	return prepare(size, BLOCK);
}

static void *prep_unix(size_t size)
{
	return prepare(size, UNIX);
}

static void *prep_module(size_t size)
{
	return prepare(size, MODULE);
}

static void *prep_stream(size_t size)
{
	return prepare(size, STREAM);
}

static void *prep_batch(size_t size)
{
	return prepare(size, BATCH);
}

/* Messages per cell_client_send_batch(): 64, fewer above 4 KiB (256 KiB a batch). */
static unsigned int batch_of(size_t size)
{
	size_t n = (256U << 10) / (size ? size : 1);

	return n < 1 ? 1 : n > 64 ? 64 : (unsigned int)n;
}

static int module_avail(size_t size, char *why, size_t cap)
{
	struct stat st;

	(void)size;
	if (stat("/dev/cell", &st)) {
		snprintf(why, cap, "/dev/cell absent (cell.ko; the module ring runs in the VM)");
		return -1;
	}
	return 0;
}

static enum cell_status echo(const struct cell_vesicle *req, struct cell_reply *reply, void *ctx)
{
	(void)ctx;
	if (!reply)
		return CELL_STATUS_OK;
	return cell_reply_send(reply, req->data, req->len) ? CELL_STATUS_INTERNAL : CELL_STATUS_OK;
}

static enum cell_status oneway(const struct cell_vesicle *req, struct cell_reply *reply, void *ctx)
{
	struct cctx *c = ctx;

	(void)reply;
	if (req->len != c->size || ipc_seq_of(req->data) != ++c->expect)
		c->bad = 1;
	return CELL_STATUS_OK;
}

static enum cell_status sync_call(const struct cell_vesicle *req, struct cell_reply *reply,
				  void *ctx)
{
	struct cctx *c = ctx;

	(void)req;
	(void)reply;
	return c->bad ? CELL_STATUS_INTERNAL : CELL_STATUS_OK;
}

static struct cell_server *srv_of_process;

static void on_term(void *ctx)
{
	(void)ctx;
	if (srv_of_process)
		cell_server_stop(srv_of_process);
}

static uint64_t spin_of(enum cell_kind k)
{
	return k == BLOCK ? CELL_SPIN_NONE : 0;
}

/* Ring bytes for messages of @size: the default, or a ring whose records hold them. */
static uint64_t ring_for(size_t size)
{
	uint64_t ring = CELL_RPC_DEFAULT_RING;

	while (ring / 2 < size + 4096)
		ring *= 2;
	return ring;
}

static int serve(void *ctx, int ready_fd)
{
	struct cctx *c = ctx;
	struct cell_server_opts so = {
		.sz = sizeof(so),
		.fingerprint = FINGERPRINT,
		.runtime_dir = c->dir,
		.backend = backend_of(c->kind),
		.spin_ns = spin_of(c->kind),
		.max_ring = ring_for(c->size),
	};
	struct cell_server *srv;
	int err;

	srv = cell_server_new(NAME, &so);
	if (!srv) {
		fprintf(stderr, "bench: cell_server_new: %s (%s)\n", strerror(errno),
			cell_last_error(NULL));
		return -1;
	}
	err = cell_server_handle(srv, M_ECHO, echo, c);
	if (!err)
		err = cell_server_handle(srv, M_ONEWAY, oneway, c);
	if (!err)
		err = cell_server_handle(srv, M_SYNC, sync_call, c);
	if (err) {
		fprintf(stderr, "bench: cell_server_handle: %s\n", strerror(-err));
		cell_server_free(srv);
		return -1;
	}
	srv_of_process = srv;
	if (ipc_stopping || ipc_ready(ready_fd)) {
		cell_server_free(srv);
		return ipc_stopping ? 0 : -1;
	}
	err = cell_server_run(srv, 1);
	if (err)
		fprintf(stderr, "bench: cell_server_run: %s (%s)\n", strerror(-err),
			cell_last_error(NULL));
	srv_of_process = NULL;
	cell_server_free(srv);
	return err ? -1 : 0;
}

static int call(void *ctx)
{
	struct cctx *c = ctx;
	enum cell_status st;
	uint32_t len = 0;

	ipc_fill(c->req, c->size, ++c->seq);
	st = cell_client_call(c->cli, M_ECHO, c->req, (uint32_t)c->size, c->resp, (uint32_t)c->size,
			      &len, CELL_DEADLINE_NONE);
	if (st != CELL_STATUS_OK) {
		fprintf(stderr, "bench: cell_client_call: status %d (%s)\n", (int)st,
			cell_last_error(NULL));
		return -1;
	}
	return ipc_check(c->resp, len, c->size, c->seq, "cell");
}

static int cconnect(void *ctx)
{
	struct cctx *c = ctx;
	struct cell_client_opts co = {
		.sz = sizeof(co),
		.fingerprint = FINGERPRINT,
		.runtime_dir = c->dir,
		.backend = backend_of(c->kind),
		.spin_ns = spin_of(c->kind),
		.request_ring = ring_for(c->size),
		.response_ring = ring_for(c->size),
	};

	c->req = malloc(c->size);
	c->resp = malloc(c->size);
	if (c->kind == BATCH)
		c->batch = malloc(batch_of(c->size) * c->size);
	if (!c->req || !c->resp || (c->kind == BATCH && !c->batch)) {
		perror("bench");
		return -1;
	}
	memset(c->req, 0x5a, c->size);
	c->cli = cell_client_connect(NAME, &co);
	if (!c->cli) {
		fprintf(stderr, "bench: cell_client_connect: %s (%s)\n", strerror(errno),
			cell_last_error(NULL));
		return -1;
	}
	return c->kind == STREAM || c->kind == BATCH ? 0 : call(c);
}

/* Pipelined: begin and submit a depth of calls, then wait for each. */
static int burst(void *ctx, unsigned int n)
{
	struct cctx *c = ctx;
	unsigned int depth = ipc_depth(c->size);
	struct cell_call *calls[16];

	for (unsigned int i = 0; i < n; i += depth) {
		uint64_t first = c->seq + 1;
		enum cell_status st;

		for (unsigned int k = 0; k < depth; k++) {
			void *buf;

			st = cell_call_begin(c->cli, M_ECHO, (uint32_t)c->size, 0,
					     CELL_DEADLINE_NONE, &calls[k], &buf);
			if (st == CELL_STATUS_OK) {
				ipc_fill(c->req, c->size, ++c->seq);
				memcpy(buf, c->req, c->size);
				st = cell_call_submit(calls[k], (uint32_t)c->size);
				if (st != CELL_STATUS_OK)
					cell_call_end(calls[k]);
			}
			if (st != CELL_STATUS_OK) {
				fprintf(stderr, "bench: cell call %u of %u: status %d (%s)\n",
					k + 1, depth, (int)st, cell_last_error(NULL));
				while (k--)
					cell_call_end(calls[k]);
				return -1;
			}
		}
		for (unsigned int k = 0; k < depth; k++) {
			struct cell_response r;
			int bad;

			st = cell_call_wait(calls[k], &r);
			bad = st != CELL_STATUS_OK ||
			      ipc_check(r.data, r.len, c->size, first + k, "cell pipelined");
			if (st != CELL_STATUS_OK)
				fprintf(stderr, "bench: cell_call_wait: status %d\n", (int)st);
			cell_call_end(calls[k]);
			if (bad) {
				while (++k < depth)
					cell_call_end(calls[k]);
				return -1;
			}
		}
	}
	return 0;
}

/* The end of a stream: a call that says whether the server saw every message in order. */
static int stream_check(struct cctx *c)
{
	enum cell_status st;

	st = cell_client_call(c->cli, M_SYNC, NULL, 0, NULL, 0, NULL, CELL_DEADLINE_NONE);
	if (st != CELL_STATUS_OK) {
		fprintf(stderr, "bench: cell stream: status %d (%s)\n", (int)st,
			st == CELL_STATUS_INTERNAL ? "the server saw a message out of order"
						   : cell_last_error(NULL));
		return -1;
	}
	return 0;
}

/* Streaming: @n one-way messages, then a call that checks them all. */
static int stream(void *ctx, unsigned int n)
{
	struct cctx *c = ctx;
	enum cell_status st;

	for (unsigned int i = 0; i < n; i++) {
		ipc_fill(c->req, c->size, ++c->seq);
		st = cell_client_send(c->cli, M_ONEWAY, c->req, (uint32_t)c->size,
				      CELL_DEADLINE_NONE);
		if (st != CELL_STATUS_OK) {
			fprintf(stderr, "bench: cell_client_send: status %d (%s)\n", (int)st,
				cell_last_error(NULL));
			return -1;
		}
	}
	return stream_check(c);
}

/* Batched streaming: @n one-way messages in batches of batch_of(), then the check. */
static int stream_batch(void *ctx, unsigned int n)
{
	struct cctx *c = ctx;
	unsigned int per = batch_of(c->size), sent;
	struct cell_msg msgs[64];
	enum cell_status st;

	for (unsigned int i = 0; i < n; i += per) {
		unsigned int k = n - i < per ? n - i : per;

		for (unsigned int j = 0; j < k; j++) {
			unsigned char *m = c->batch + (size_t)j * c->size;

			ipc_fill(m, c->size, ++c->seq);
			msgs[j] = (struct cell_msg){ m, (uint32_t)c->size };
		}
		st = cell_client_send_batch(c->cli, M_ONEWAY, msgs, k, &sent, CELL_DEADLINE_NONE);
		if (st != CELL_STATUS_OK) {
			fprintf(stderr, "bench: cell_client_send_batch: status %d after %u (%s)\n",
				(int)st, sent, cell_last_error(NULL));
			return -1;
		}
	}
	return stream_check(c);
}

static const char *path(void *ctx)
{
	struct cctx *c = ctx;

	return cell_client_path(c->cli);
}

static void disconnect(void *ctx)
{
	struct cctx *c = ctx;

	cell_client_free(c->cli);
	c->cli = NULL;
}

static void destroy(void *ctx)
{
	struct cctx *c = ctx;
	char sock[64];

	/* Left behind only if the server died without cell_server_free(). */
	snprintf(sock, sizeof(sock), "%s/%s.sock", c->dir, NAME);
	unlink(sock);
	if (rmdir(c->dir))
		fprintf(stderr, "bench: rmdir %s: %s\n", c->dir, strerror(errno));
	free(c->req);
	free(c->resp);
	free(c->batch);
	free(c);
}

#define CELL_CASE(k, n, p)                                                             \
	{                                                                              \
		.key = k, .name = n, .kind = "cell", .prepare = p, .serve = serve,     \
		.on_term = on_term, .connect = cconnect, .call = call, .burst = burst, \
		.path = path, .disconnect = disconnect, .destroy = destroy,            \
	}

static const struct ipc_case cell_cases[] = {
	CELL_CASE("cell-shm-spin", "Cell SHM spin", prep_spin),
	CELL_CASE("cell-shm-block", "Cell SHM blocking", prep_block),
	CELL_CASE("cell-unix", "Cell unix path", prep_unix),
	{
		.key = "cell-shm-module",
		.name = "Cell module ring",
		.kind = "cell",
		.avail = module_avail,
		.prepare = prep_module,
		.serve = serve,
		.on_term = on_term,
		.connect = cconnect,
		.call = call,
		.burst = burst,
		.path = path,
		.disconnect = disconnect,
		.destroy = destroy,
	},
	{
		.key = "cell-stream",
		.name = "Cell one-way stream",
		.kind = "cell",
		.flags = IPC_STREAM,
		.prepare = prep_stream,
		.serve = serve,
		.on_term = on_term,
		.connect = cconnect,
		.burst = stream,
		.path = path,
		.disconnect = disconnect,
		.destroy = destroy,
	},
	{
		.key = "cell-stream-batch",
		.name = "Cell one-way stream, batched",
		.kind = "cell",
		.flags = IPC_STREAM,
		.prepare = prep_batch,
		.serve = serve,
		.on_term = on_term,
		.connect = cconnect,
		.burst = stream_batch,
		.path = path,
		.disconnect = disconnect,
		.destroy = destroy,
	},
};

const struct ipc_case_list ipc_cell_cases = {
	.system = "Cell",
	.cases = cell_cases,
	.n = sizeof(cell_cases) / sizeof(cell_cases[0]),
};
