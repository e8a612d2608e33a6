// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * swap_cell: the cell of the hot swap and rollout tests (swap_test.sh).
 * Serves the demo schema's echo (userspace/examples/demo.cell) under NAME
 * on two threads.  SIGTERM drains (cell_server_drain(): every client is
 * told GOODBYE and served until it leaves), SIGINT stops at once.  At the
 * exit it says how many echo calls it answered, so that the test can add
 * up every process's share and compare the sum with the load's.
 *
 *   swap_cell NAME [--no-drain] [--no-key] [--fail-every=N] [--drain-ms=MS]
 *
 * --no-drain: SIGTERM stops at once too (what the test runs to show that
 * without the drain calls fail).  --no-key: its server has no listener
 * hand-over key (CELL_LISTENER_KEY_FD dropped), as a program whose server
 * knows no hand-over: a swap of it renames the new socket over its own.  --fail-every=N: every Nth echo is
 * answered INTERNAL (a bad canary, for `cell rollout`).
 */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cell/metrics.h>
#include <cell/rpc.h>

#include "demo.cell.h"

static struct cell_server *server;
static atomic_uint_least64_t calls;
static unsigned long fail_every;
static unsigned int drain_ms = 3000;
static int drain = 1;

static void on_signal(int sig)
{
	if (sig == SIGTERM && drain)
		cell_server_drain(server, drain_ms); /* async-signal-safe */
	else
		cell_server_stop(server);
}

static enum cell_status echo(const struct demo_blob *req, struct cell_reply *reply,
			     const struct cell_vesicle *v, void *ctx)
{
	uint64_t n = atomic_fetch_add(&calls, 1) + 1;
	struct cellc_builder b;
	struct demo_blob *resp;
	const uint8_t *data;
	uint8_t *out;
	uint32_t len;

	(void)ctx;
	if (fail_every && n % fail_every == 0)
		return CELL_STATUS_INTERNAL;
	data = demo_blob_data(req, &len);
	resp = demo_blob_reply_begin(reply, (uint64_t)v->len + 16, &b);
	if (!resp)
		return CELL_STATUS_RESOURCE_EXHAUSTED;
	resp->seq = req->seq;
	out = demo_blob_alloc_data(&b, resp, len);
	if (out && len)
		memcpy(out, data, len);
	return cellc_reply_finish(reply, &b) ? CELL_STATUS_INTERNAL : CELL_STATUS_OK;
}

int main(int argc, char **argv)
{
	struct cell_server_opts opts = demo_server_opts();
	struct demo_handlers handlers = { .echo = echo };
	struct sigaction sa = { .sa_handler = on_signal };
	struct cell_metrics *m;
	int err;

	if (argc < 2) {
		fprintf(stderr, "usage: swap_cell NAME [--no-drain] [--no-key] [--fail-every=N] "
				"[--drain-ms=MS]\n");
		return 2;
	}
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--no-drain"))
			drain = 0;
		else if (!strcmp(argv[i], "--no-key"))
			unsetenv("CELL_LISTENER_KEY_FD"); /* as a server that knows no hand-over */
		else if (!strncmp(argv[i], "--fail-every=", 13))
			fail_every = strtoul(argv[i] + 13, NULL, 10);
		else if (!strncmp(argv[i], "--drain-ms=", 11))
			drain_ms = (unsigned int)strtoul(argv[i] + 11, NULL, 10);
	}
	m = cell_metrics_new(NULL);
	opts.metrics = m; /* what `cell rollout` compares (CELL_METHOD_METRICS) */
	server = cell_server_new(argv[1], &opts);
	if (!server) {
		fprintf(stderr, "swap_cell: %s\n", cell_last_error(NULL));
		return 1;
	}
	if (demo_serve(server, &handlers, NULL)) {
		fprintf(stderr, "swap_cell: cannot register the handlers\n");
		cell_server_free(server);
		return 1;
	}
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGINT);
	sigaddset(&sa.sa_mask, SIGTERM);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	printf("swap_cell: serving %s (drain %s)\n", cell_server_path(server),
	       drain ? "on" : "off");
	fflush(stdout);
	err = cell_server_run(server, 2);
	sigprocmask(SIG_BLOCK, &sa.sa_mask, NULL);
	printf("swap_cell: answered %llu calls\n", (unsigned long long)atomic_load(&calls));
	fflush(stdout);
	cell_server_free(server);
	cell_metrics_free(m);
	return err ? 1 : 0;
}
