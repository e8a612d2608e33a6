// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * ZeroMQ (libzmq from Debian): REQ/REP over ipc://, the pattern a user
 * picks for request/response.  The REP server echoes each request by
 * sending the received zmq_msg_t back (no copy on its side).  One call is
 * zmq_send + zmq_recv on a REQ socket; REQ allows one request in flight,
 * so calls/s pipelines on a DEALER socket connected to the same REP
 * server (empty delimiter frame, then the payload), ipc_depth() deep.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "ipc.h"

struct zctx {
	size_t size;
	char dir[32];
	char ep[64];
	void *zc, *req, *dealer;
	unsigned char *buf;
	uint64_t seq;
};

static void *zprepare(size_t size)
{
	struct zctx *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->size = size;
	snprintf(c->dir, sizeof(c->dir), "/tmp/cell-zmq-XXXXXX");
	if (!mkdtemp(c->dir)) {
		perror("bench: mkdtemp");
		free(c);
		return NULL;
	}
	snprintf(c->ep, sizeof(c->ep), "ipc://%s/rep", c->dir);
	return c;
}

static int zserve(void *ctx, int ready_fd)
{
	struct zctx *c = ctx;
	void *zc = zmq_ctx_new(), *rep;
	int timeout = 100, rc = -1;
	zmq_msg_t m;

	if (!zc) {
		perror("bench: zmq_ctx_new");
		return -1;
	}
	rep = zmq_socket(zc, ZMQ_REP);
	if (!rep || zmq_setsockopt(rep, ZMQ_RCVTIMEO, &timeout, sizeof(timeout)) ||
	    zmq_bind(rep, c->ep)) {
		fprintf(stderr, "bench: zmq REP on %s: %s\n", c->ep, zmq_strerror(zmq_errno()));
		goto out;
	}
	if (ipc_ready(ready_fd))
		goto out;
	zmq_msg_init(&m);
	for (;;) {
		if (zmq_msg_recv(&m, rep, 0) < 0) {
			if ((zmq_errno() == EAGAIN || zmq_errno() == EINTR) && !ipc_stopping)
				continue;
			if (ipc_stopping)
				rc = 0;
			else
				fprintf(stderr, "bench: zmq_msg_recv: %s\n",
					zmq_strerror(zmq_errno()));
			break;
		}
		/* Sending moves the message out; m is empty again after it. */
		if (zmq_msg_send(&m, rep, 0) < 0) {
			fprintf(stderr, "bench: zmq_msg_send: %s\n", zmq_strerror(zmq_errno()));
			break;
		}
	}
	zmq_msg_close(&m);
out:
	if (rep) {
		int linger = 0;

		zmq_setsockopt(rep, ZMQ_LINGER, &linger, sizeof(linger));
		zmq_close(rep);
	}
	zmq_ctx_term(zc);
	return rc;
}

static int zconnect(void *ctx)
{
	struct zctx *c = ctx;

	c->buf = malloc(c->size);
	c->zc = zmq_ctx_new();
	if (!c->buf || !c->zc) {
		perror("bench: zmq client");
		return -1;
	}
	memset(c->buf, 0x5a, c->size);
	c->req = zmq_socket(c->zc, ZMQ_REQ);
	c->dealer = zmq_socket(c->zc, ZMQ_DEALER);
	if (!c->req || !c->dealer || zmq_connect(c->req, c->ep) || zmq_connect(c->dealer, c->ep)) {
		fprintf(stderr, "bench: zmq connect %s: %s\n", c->ep, zmq_strerror(zmq_errno()));
		return -1;
	}
	return 0;
}

static int zcall(void *ctx)
{
	struct zctx *c = ctx;
	int n;

	ipc_fill(c->buf, c->size, ++c->seq);
	if (zmq_send(c->req, c->buf, c->size, 0) != (int)c->size) {
		fprintf(stderr, "bench: zmq_send: %s\n", zmq_strerror(zmq_errno()));
		return -1;
	}
	n = zmq_recv(c->req, c->buf, c->size, 0);
	if (n < 0) {
		fprintf(stderr, "bench: zmq_recv: %s\n", zmq_strerror(zmq_errno()));
		return -1;
	}
	return ipc_check(c->buf, (size_t)n, c->size, c->seq, "zeromq");
}

static int zburst(void *ctx, unsigned int n)
{
	struct zctx *c = ctx;
	unsigned int depth = ipc_depth(c->size);

	for (unsigned int i = 0; i < n; i += depth) {
		uint64_t first = c->seq + 1;

		for (unsigned int k = 0; k < depth; k++) {
			ipc_fill(c->buf, c->size, ++c->seq);
			if (zmq_send(c->dealer, "", 0, ZMQ_SNDMORE) != 0 ||
			    zmq_send(c->dealer, c->buf, c->size, 0) != (int)c->size) {
				fprintf(stderr, "bench: zmq_send (dealer): %s\n",
					zmq_strerror(zmq_errno()));
				return -1;
			}
		}
		for (unsigned int k = 0; k < depth; k++) {
			char empty[1];
			int m;

			if (zmq_recv(c->dealer, empty, sizeof(empty), 0) != 0) {
				fprintf(stderr, "bench: zmq dealer: no empty delimiter (%s)\n",
					zmq_strerror(zmq_errno()));
				return -1;
			}
			m = zmq_recv(c->dealer, c->buf, c->size, 0);
			if (m < 0) {
				fprintf(stderr, "bench: zmq_recv (dealer): %s\n",
					zmq_strerror(zmq_errno()));
				return -1;
			}
			if (ipc_check(c->buf, (size_t)m, c->size, first + k, "zeromq dealer"))
				return -1;
		}
	}
	return 0;
}

static const char *zpath(void *ctx)
{
	(void)ctx;
	return "ipc";
}

static void zdisconnect(void *ctx)
{
	struct zctx *c = ctx;
	int linger = 0;

	zmq_setsockopt(c->req, ZMQ_LINGER, &linger, sizeof(linger));
	zmq_setsockopt(c->dealer, ZMQ_LINGER, &linger, sizeof(linger));
	zmq_close(c->req);
	zmq_close(c->dealer);
	zmq_ctx_term(c->zc);
}

static void zdestroy(void *ctx)
{
	struct zctx *c = ctx;

	unlink(c->ep + strlen("ipc://"));
	if (rmdir(c->dir))
		fprintf(stderr, "bench: rmdir %s: %s\n", c->dir, strerror(errno));
	free(c->buf);
	free(c);
}

static const struct ipc_case zmq_cases[] = {
	{
		.key = "zeromq-ipc",
		.name = "ZeroMQ REQ/REP ipc://",
		.kind = "peer",
		.prepare = zprepare,
		.serve = zserve,
		.connect = zconnect,
		.call = zcall,
		.burst = zburst,
		.path = zpath,
		.disconnect = zdisconnect,
		.destroy = zdestroy,
	},
};

const struct ipc_case_list ipc_zmq_cases = {
	.system = "ZeroMQ",
	.cases = zmq_cases,
	.n = 1,
};
