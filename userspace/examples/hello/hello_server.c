// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * hello_server [NAME]: the ribosome's example cell (hello.cell), built by
 * `cell build` from this directory (cell.conf) and started by `cell run`,
 * which passes the cell's name.  greet({name}) answers "hello, NAME".
 * Serves on one thread until SIGINT or SIGTERM.
 */
#define _POSIX_C_SOURCE 200809L /* sigaction under -std=c11 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <cell/rpc.h>

#include "hello.cell.h"

static struct cell_server *server;

static void on_signal(int sig)
{
	(void)sig;
	cell_server_stop(server); /* async-signal-safe */
}

static enum cell_status greet(const struct hello_who *req, struct cell_reply *reply,
			      const struct cell_vesicle *v, void *ctx)
{
	struct hello_greeting *resp;
	struct cellc_builder b;
	char text[300];
	const char *name;
	uint32_t len;

	(void)v;
	(void)ctx;
	name = hello_who_name(req, &len);
	snprintf(text, sizeof(text), "hello, %.*s", len > 256 ? 256 : (int)len, name);
	resp = hello_greeting_reply_begin(reply, strlen(text) + 32, &b);
	if (!resp || hello_greeting_set_text_str(&b, resp, text))
		return CELL_STATUS_RESOURCE_EXHAUSTED;
	return cellc_reply_finish(reply, &b) ? CELL_STATUS_INTERNAL : CELL_STATUS_OK;
}

int main(int argc, char **argv)
{
	struct cell_server_opts opts = hello_server_opts();
	struct hello_handlers handlers = { .greet = greet };
	struct sigaction sa = { .sa_handler = on_signal };
	int err;

	server = cell_server_new(argc > 1 ? argv[1] : "hello", &opts);
	if (!server || hello_serve(server, &handlers, NULL)) {
		fprintf(stderr, "hello_server: %s\n", cell_last_error(NULL));
		if (server)
			cell_server_free(server);
		return 1;
	}
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGINT);
	sigaddset(&sa.sa_mask, SIGTERM);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	printf("hello: listening on %s\n", cell_server_path(server));
	fflush(stdout);
	err = cell_server_run(server, 1);
	/* A second SIGTERM must not reach on_signal() once server is freed. */
	sigprocmask(SIG_BLOCK, &sa.sa_mask, NULL);
	cell_server_free(server);
	return err ? 1 : 0;
}
