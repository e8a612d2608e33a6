// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Cell's rows: a server with one handler that echoes the request payload
 * (cell_reply_send()), served by cell_server_run(srv, 1) on the peer, and
 * cell_client_call() of a 32-byte request on the measuring side.
 *
 *  4. SHM spin: memfd rings, default (adaptive) spin budget on both sides.
 *  5. SHM blocking: memfd rings, spin_ns = CELL_SPIN_NONE on both sides.
 *  6. unix: backend CELL_RING_BACKEND_NONE on both sides (frames on the
 *     SOCK_SEQPACKET socket).
 *
 * The backend is chosen through the options (not CELL_RING_BACKEND), so
 * the environment cannot move a row to another path; the path a
 * connection took is checked and printed.  Each row binds its socket in
 * a private runtime directory under /tmp.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cell/rpc.h>
#include <cell/time.h>

#include "fastpath.h"

#define CELL_BENCH_NAME	       "bench"
#define CELL_BENCH_METHOD      1
#define CELL_BENCH_FINGERPRINT 0xbe9c4fa57a7110ddULL

struct cell_ctx {
	int id; /* row 4, 5 or 6 */
	char dir[32];
	/* Set by the peer before it says ready (thread mode reads it). */
	struct cell_server *srv;
	struct cell_client *cli;
	unsigned char req[BENCH_PAYLOAD];
	unsigned char resp[BENCH_PAYLOAD];
};

static enum cell_ring_backend backend_of(int id)
{
	return id == 6 ? CELL_RING_BACKEND_NONE : CELL_RING_BACKEND_MEMFD;
}

static uint64_t spin_of(int id)
{
	return id == 5 ? CELL_SPIN_NONE : 0;
}

static void *cell_prepare(int id)
{
	struct cell_ctx *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->id = id;
	snprintf(c->dir, sizeof(c->dir), "/tmp/cell-bench-XXXXXX");
	if (!mkdtemp(c->dir)) {
		perror("bench: mkdtemp");
		free(c);
		return NULL;
	}
	for (unsigned int i = 0; i < sizeof(c->req); i++)
		c->req[i] = (unsigned char)(i * 7 + 1);
	return c;
}

static void *prepare_spin(enum bench_mode mode)
{
	(void)mode;
	return cell_prepare(4);
}

static void *prepare_block(enum bench_mode mode)
{
	(void)mode;
	return cell_prepare(5);
}

static void *prepare_unix(enum bench_mode mode)
{
	(void)mode;
	return cell_prepare(6);
}

static enum cell_status echo(const struct cell_vesicle *req, struct cell_reply *reply, void *ctx)
{
	(void)ctx;
	if (!reply)
		return CELL_STATUS_OK;
	return cell_reply_send(reply, req->data, req->len) ? CELL_STATUS_INTERNAL : CELL_STATUS_OK;
}

/* The forked peer's server, for its SIGTERM handler. */
static struct cell_server *peer_srv;

static void on_sigterm(int sig)
{
	(void)sig;
	if (peer_srv)
		cell_server_stop(peer_srv);
}

/* A SIGTERM that comes after the free must not reach on_sigterm(). */
static void free_peer_server(struct cell_server *srv)
{
	sigset_t term;

	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigprocmask(SIG_BLOCK, &term, NULL);
	peer_srv = NULL;
	cell_server_free(srv);
}

static int cell_serve(void *ctx, enum bench_mode mode, int ready_fd)
{
	struct cell_ctx *c = ctx;
	struct cell_server_opts so = {
		.sz = sizeof(so),
		.fingerprint = CELL_BENCH_FINGERPRINT,
		.runtime_dir = c->dir,
		.backend = backend_of(c->id),
		.spin_ns = spin_of(c->id),
	};
	struct cell_server *srv;
	int err;

	srv = cell_server_new(CELL_BENCH_NAME, &so);
	if (!srv) {
		fprintf(stderr, "bench: cell_server_new: %s (%s)\n", strerror(errno),
			cell_last_error(NULL));
		return -1;
	}
	err = cell_server_handle(srv, CELL_BENCH_METHOD, echo, NULL);
	if (err) {
		fprintf(stderr, "bench: cell_server_handle: %s\n", strerror(-err));
		cell_server_free(srv);
		return -1;
	}
	if (mode == BENCH_PROCESSES) {
		struct sigaction sa = { .sa_handler = on_sigterm };

		peer_srv = srv;
		sigemptyset(&sa.sa_mask);
		if (sigaction(SIGTERM, &sa, NULL)) {
			perror("bench: sigaction");
			cell_server_free(srv);
			return -1;
		}
	}
	c->srv = srv;
	if (bench_ready(ready_fd)) {
		if (mode == BENCH_PROCESSES)
			free_peer_server(srv);
		return -1;
	}
	err = cell_server_run(srv, 1);
	if (err)
		fprintf(stderr, "bench: cell_server_run: %s (%s)\n", strerror(-err),
			cell_last_error(NULL));
	/* A thread's server is freed by cell_destroy(), after the join. */
	if (mode == BENCH_PROCESSES)
		free_peer_server(srv);
	return err ? -1 : 0;
}

static int cell_roundtrip(void *ctx)
{
	struct cell_ctx *c = ctx;
	enum cell_status st;
	uint32_t len = 0;

	st = cell_client_call(c->cli, CELL_BENCH_METHOD, c->req, sizeof(c->req), c->resp,
			      sizeof(c->resp), &len, CELL_DEADLINE_NONE);
	if (st != CELL_STATUS_OK || len != sizeof(c->req)) {
		fprintf(stderr, "bench: cell_client_call: status %d, %u bytes (%s)\n", (int)st, len,
			cell_last_error(NULL));
		return -1;
	}
	return 0;
}

static int cell_connect(struct bench_link *l)
{
	struct cell_ctx *c = l->ctx;
	struct cell_client_opts co = {
		.sz = sizeof(co),
		.fingerprint = CELL_BENCH_FINGERPRINT,
		.runtime_dir = c->dir,
		.backend = backend_of(c->id),
		.spin_ns = spin_of(c->id),
	};

	c->cli = cell_client_connect(CELL_BENCH_NAME, &co);
	if (!c->cli) {
		fprintf(stderr, "bench: cell_client_connect: %s (%s)\n", strerror(errno),
			cell_last_error(NULL));
		return -1;
	}
	/* The echo must really come back before anything is timed. */
	if (cell_roundtrip(c))
		return -1;
	if (memcmp(c->req, c->resp, sizeof(c->req))) {
		fprintf(stderr, "bench: the echo came back different\n");
		return -1;
	}
	return 0;
}

static const char *cell_path(void *ctx)
{
	struct cell_ctx *c = ctx;

	return cell_client_path(c->cli);
}

static bool cell_path_ok(void *ctx)
{
	struct cell_ctx *c = ctx;
	enum cell_path p = cell_client_path_kind(c->cli);

	return c->id == 6 ? p == CELL_PATH_UNIX : p == CELL_PATH_SHM_MEMFD;
}

static void cell_stop(struct bench_link *l)
{
	struct cell_ctx *c = l->ctx;

	cell_client_free(c->cli);
	c->cli = NULL;
	if (l->mode == BENCH_PROCESSES)
		kill(l->pid, SIGTERM);
	else if (c->srv)
		cell_server_stop(c->srv);
}

static void cell_destroy(struct bench_link *l)
{
	struct cell_ctx *c = l->ctx;
	char sock[64];

	cell_client_free(c->cli);
	if (l->mode == BENCH_THREADS)
		cell_server_free(c->srv);
	/* Left behind only if the peer died without freeing its server. */
	snprintf(sock, sizeof(sock), "%s/%s.sock", c->dir, CELL_BENCH_NAME);
	unlink(sock);
	if (rmdir(c->dir))
		fprintf(stderr, "bench: rmdir %s: %s\n", c->dir, strerror(errno));
	free(c);
}

const struct bench_row bench_cell_rows[] = {
	{
		.id = 4,
		.name = "Cell SHM spin",
		.prepare = prepare_spin,
		.serve = cell_serve,
		.connect = cell_connect,
		.roundtrip = cell_roundtrip,
		.path = cell_path,
		.path_ok = cell_path_ok,
		.stop = cell_stop,
		.destroy = cell_destroy,
	},
	{
		.id = 5,
		.name = "Cell SHM blocking (no spin)",
		.sleeping = true,
		.prepare = prepare_block,
		.serve = cell_serve,
		.connect = cell_connect,
		.roundtrip = cell_roundtrip,
		.path = cell_path,
		.path_ok = cell_path_ok,
		.stop = cell_stop,
		.destroy = cell_destroy,
	},
	{
		.id = 6,
		.name = "Cell unix",
		.sleeping = true,
		.prepare = prepare_unix,
		.serve = cell_serve,
		.connect = cell_connect,
		.roundtrip = cell_roundtrip,
		.path = cell_path,
		.path_ok = cell_path_ok,
		.stop = cell_stop,
		.destroy = cell_destroy,
	},
};

const unsigned int bench_cell_rows_n = sizeof(bench_cell_rows) / sizeof(bench_cell_rows[0]);
