// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * demo_server: the server cell of `make demo`.  Serves the echo schema
 * (demo.cell) under the name given (default "demo") on two threads until
 * SIGINT or SIGTERM, then says how many calls it answered.
 *
 *   demo_server [name]
 *
 * With CELL_DEMO_QUIC=host:port (port 0: any) it also serves over QUIC
 * (cell/quic.h, default identity and trust) and says on which port.
 */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cell/quic.h>
#include <cell/rpc.h>

#include "demo.cell.h"

static struct cell_server *server;
static atomic_uint_least64_t calls, bytes;

static void on_signal(int sig)
{
	(void)sig;
	cell_server_stop(server); /* async-signal-safe */
}

/* The response is built in the response ring, the payload copied once. */
static enum cell_status echo(const struct demo_blob *req, struct cell_reply *reply,
			     const struct cell_vesicle *v, void *ctx)
{
	struct cellc_builder b;
	struct demo_blob *resp;
	const uint8_t *data;
	uint8_t *out;
	uint32_t len;

	(void)ctx;
	data = demo_blob_data(req, &len);
	resp = demo_blob_reply_begin(reply, (uint64_t)v->len + 16, &b);
	if (!resp)
		return CELL_STATUS_RESOURCE_EXHAUSTED;
	resp->seq = req->seq;
	out = demo_blob_alloc_data(&b, resp, len);
	if (out && len)
		memcpy(out, data, len);
	atomic_fetch_add(&calls, 1);
	atomic_fetch_add(&bytes, len);
	return cellc_reply_finish(reply, &b) ? CELL_STATUS_INTERNAL : CELL_STATUS_OK;
}

static enum cell_status stats(const struct demo_empty *req, struct demo_count *resp,
			      const struct cell_vesicle *v, void *ctx)
{
	(void)req;
	(void)v;
	(void)ctx;
	resp->calls = atomic_load(&calls);
	resp->bytes = atomic_load(&bytes);
	return CELL_STATUS_OK;
}

int main(int argc, char **argv)
{
	const char *name = argc > 1 ? argv[1] : "demo";
	struct cell_server_opts opts = demo_server_opts();
	struct demo_handlers handlers = { .echo = echo, .stats = stats };
	struct sigaction sa = { .sa_handler = on_signal };
	int err;

	server = cell_server_new(name, &opts);
	if (!server) {
		fprintf(stderr, "demo_server: %s\n", cell_last_error(NULL));
		return 1;
	}
	if (demo_serve(server, &handlers, NULL)) {
		fprintf(stderr, "demo_server: cannot register the handlers\n");
		cell_server_free(server);
		return 1;
	}
	if (getenv("CELL_DEMO_QUIC")) {
		if (cell_server_listen_quic(server, getenv("CELL_DEMO_QUIC"), NULL)) {
			fprintf(stderr, "demo_server: %s\n", cell_last_error(NULL));
			cell_server_free(server);
			return 1;
		}
		printf("server: quic port %u\n", cell_server_quic_port(server));
	}
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGINT);
	sigaddset(&sa.sa_mask, SIGTERM);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	printf("server: listening on %s (schema fingerprint 0x%016llx)\n", cell_server_path(server),
	       (unsigned long long)DEMO_FINGERPRINT);
	fflush(stdout);
	err = cell_server_run(server, 2);
	printf("server: stopped after %llu calls\n", (unsigned long long)atomic_load(&calls));
	/* A second SIGTERM must not reach on_signal() once server is freed. */
	sigprocmask(SIG_BLOCK, &sa.sa_mask, NULL);
	cell_server_free(server);
	return err ? 1 : 0;
}
