// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * NNG (libnng from Debian): req0/rep0 over ipc://.  The rep0 server
 * echoes each request by sending the received nng_msg back.  One call is
 * nng_send + nng_recv on the req0 socket; calls/s pipelines through
 * ipc_depth() req0 contexts (nng_ctx), each with its own aio: send on
 * every context, then receive on each.
 */
#include <errno.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipc.h"

struct nctx {
	size_t size;
	char dir[32];
	char url[64];
	nng_socket sock;
	nng_ctx ctxs[16];
	nng_aio *aios[16];
	unsigned int nctx;
	unsigned char *buf;
	uint64_t seq;
};

static void *nprepare(size_t size)
{
	struct nctx *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->size = size;
	snprintf(c->dir, sizeof(c->dir), "/tmp/cell-nng-XXXXXX");
	if (!mkdtemp(c->dir)) {
		perror("bench: mkdtemp");
		free(c);
		return NULL;
	}
	snprintf(c->url, sizeof(c->url), "ipc://%s/rep", c->dir);
	return c;
}

static int nserve(void *ctx, int ready_fd)
{
	struct nctx *c = ctx;
	nng_socket s;
	nng_msg *m;
	int rv;

	rv = nng_rep0_open(&s);
	if (!rv)
		rv = nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 100);
	if (!rv)
		rv = nng_socket_set_size(s, NNG_OPT_RECVMAXSZ, 0);
	if (!rv)
		rv = nng_listen(s, c->url, NULL, 0);
	if (rv) {
		fprintf(stderr, "bench: nng rep0 on %s: %s\n", c->url, nng_strerror(rv));
		return -1;
	}
	if (ipc_ready(ready_fd)) {
		nng_close(s);
		return -1;
	}
	for (;;) {
		rv = nng_recvmsg(s, &m, 0);
		if (rv == NNG_ETIMEDOUT || rv == NNG_EINTR) {
			if (ipc_stopping)
				break;
			continue;
		}
		if (rv) {
			fprintf(stderr, "bench: nng_recvmsg: %s\n", nng_strerror(rv));
			break;
		}
		rv = nng_sendmsg(s, m, 0);
		if (rv) {
			nng_msg_free(m);
			fprintf(stderr, "bench: nng_sendmsg: %s\n", nng_strerror(rv));
			break;
		}
	}
	nng_close(s);
	return ipc_stopping ? 0 : -1;
}

static int nconnect(void *ctx)
{
	struct nctx *c = ctx;
	int rv;

	c->buf = malloc(c->size);
	if (!c->buf) {
		perror("bench");
		return -1;
	}
	memset(c->buf, 0x5a, c->size);
	rv = nng_req0_open(&c->sock);
	if (!rv)
		rv = nng_socket_set_size(c->sock, NNG_OPT_RECVMAXSZ, 0);
	if (!rv)
		rv = nng_dial(c->sock, c->url, NULL, 0);
	for (c->nctx = 0; !rv && c->nctx < ipc_depth(c->size); c->nctx++) {
		rv = nng_ctx_open(&c->ctxs[c->nctx], c->sock);
		if (!rv)
			rv = nng_aio_alloc(&c->aios[c->nctx], NULL, NULL);
	}
	if (rv) {
		fprintf(stderr, "bench: nng req0 to %s: %s\n", c->url, nng_strerror(rv));
		return -1;
	}
	return 0;
}

static int ncall(void *ctx)
{
	struct nctx *c = ctx;
	size_t len = c->size;
	int rv;

	ipc_fill(c->buf, c->size, ++c->seq);
	rv = nng_send(c->sock, c->buf, c->size, 0);
	if (!rv)
		rv = nng_recv(c->sock, c->buf, &len, 0);
	if (rv) {
		fprintf(stderr, "bench: nng call: %s\n", nng_strerror(rv));
		return -1;
	}
	return ipc_check(c->buf, len, c->size, c->seq, "nng");
}

static int nburst(void *ctx, unsigned int n)
{
	struct nctx *c = ctx;
	unsigned int depth = c->nctx;
	int rv;

	for (unsigned int i = 0; i < n; i += depth) {
		uint64_t first = c->seq + 1;

		for (unsigned int k = 0; k < depth; k++) {
			nng_msg *m;

			rv = nng_msg_alloc(&m, c->size);
			if (rv) {
				fprintf(stderr, "bench: nng_msg_alloc: %s\n", nng_strerror(rv));
				return -1;
			}
			ipc_fill(c->buf, c->size, ++c->seq);
			memcpy(nng_msg_body(m), c->buf, c->size);
			nng_aio_set_msg(c->aios[k], m);
			nng_ctx_send(c->ctxs[k], c->aios[k]);
			nng_aio_wait(c->aios[k]);
			rv = nng_aio_result(c->aios[k]);
			if (rv) {
				nng_msg_free(m);
				fprintf(stderr, "bench: nng_ctx_send: %s\n", nng_strerror(rv));
				return -1;
			}
		}
		for (unsigned int k = 0; k < depth; k++) {
			nng_msg *m;
			int bad;

			nng_ctx_recv(c->ctxs[k], c->aios[k]);
			nng_aio_wait(c->aios[k]);
			rv = nng_aio_result(c->aios[k]);
			if (rv) {
				fprintf(stderr, "bench: nng_ctx_recv: %s\n", nng_strerror(rv));
				return -1;
			}
			m = nng_aio_get_msg(c->aios[k]);
			memcpy(c->buf, nng_msg_body(m),
			       nng_msg_len(m) < c->size ? nng_msg_len(m) : c->size);
			bad = ipc_check(c->buf, nng_msg_len(m), c->size, first + k, "nng ctx");
			nng_msg_free(m);
			if (bad)
				return -1;
		}
	}
	return 0;
}

static const char *npath(void *ctx)
{
	(void)ctx;
	return "ipc";
}

static void ndisconnect(void *ctx)
{
	struct nctx *c = ctx;

	for (unsigned int k = 0; k < c->nctx; k++) {
		nng_ctx_close(c->ctxs[k]);
		nng_aio_free(c->aios[k]);
	}
	nng_close(c->sock);
}

static void ndestroy(void *ctx)
{
	struct nctx *c = ctx;

	unlink(c->url + strlen("ipc://"));
	if (rmdir(c->dir))
		fprintf(stderr, "bench: rmdir %s: %s\n", c->dir, strerror(errno));
	free(c->buf);
	free(c);
}

static const struct ipc_case nng_cases[] = {
	{
		.key = "nng-ipc",
		.name = "NNG req0/rep0 ipc://",
		.kind = "peer",
		.prepare = nprepare,
		.serve = nserve,
		.connect = nconnect,
		.call = ncall,
		.burst = nburst,
		.path = npath,
		.disconnect = ndisconnect,
		.destroy = ndestroy,
	},
};

const struct ipc_case_list ipc_nng_cases = {
	.system = "NNG",
	.cases = nng_cases,
	.n = 1,
};
