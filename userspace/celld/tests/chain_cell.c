// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * A test cell for the observation tests (trace_test.sh, metrics_test.sh,
 * top_test.sh): a server with metrics whose method 1 calls method 1 of the
 * next cell (if it has one) and answers, method 2 fails with NOT_FOUND.
 *
 *   chain_cell serve NAME [NEXT]      serve until killed (registers with celld)
 *   chain_cell call NAME COUNT [-t]   COUNT calls of method 1 of NAME; with -t
 *                                     in one new sampled trace, whose id is
 *                                     printed; 2 calls of method 2 too
 *
 * The runtime directory is $CELL_RUNTIME_DIR, as for every cell.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cell/metrics.h>
#include <cell/rpc.h>
#include <cell/trace.h>

#define FP 0xc4a17ce11ULL

static struct cell_client *next_cell;

static enum cell_status hop(const struct cell_vesicle *req, struct cell_reply *reply, void *ctx)
{
	uint8_t out[256];
	uint32_t n = 0;
	enum cell_status st;

	(void)ctx;
	if (next_cell) {
		st = cell_client_call(next_cell, 1, req->data, req->len, out, sizeof(out) - 1, &n,
				      cell_deadline_in_ms(2000));
		if (st)
			return st;
	}
	out[n++] = '.';
	return reply && cell_reply_send(reply, out, n) ? CELL_STATUS_INTERNAL : CELL_STATUS_OK;
}

static enum cell_status missing(const struct cell_vesicle *req, struct cell_reply *reply, void *ctx)
{
	(void)req;
	(void)reply;
	(void)ctx;
	return CELL_STATUS_NOT_FOUND;
}

static struct cell_client *connect_to(const char *name)
{
	struct cell_client_opts o = { .sz = sizeof(o), .fingerprint = FP, .reconnect = 1 };
	struct cell_client *c = cell_client_connect(name, &o);

	if (!c)
		fprintf(stderr, "chain_cell: connect %s: %s\n", name, cell_last_error(NULL));
	return c;
}

static int serve(const char *name, const char *next)
{
	struct cell_metrics *m = cell_metrics_new(NULL);
	struct cell_server_opts o = { .sz = sizeof(o), .fingerprint = FP, .metrics = m };
	struct cell_server *srv;

	if (next) {
		next_cell = connect_to(next);
		if (!next_cell)
			return 1;
	}
	srv = cell_server_new(name, &o);
	if (!srv || cell_server_handle(srv, 1, hop, NULL) ||
	    cell_server_handle(srv, 2, missing, NULL)) {
		fprintf(stderr, "chain_cell: serve %s: %s\n", name, cell_last_error(NULL));
		return 1;
	}
	return cell_server_run(srv, 1) ? 1 : 0;
}

static int call(const char *name, long count, bool traced)
{
	struct cell_client *c = connect_to(name);
	struct cell_trace_ctx ctx;
	char hex[CELL_TRACE_ID_HEX + 1];
	uint8_t out[256];
	uint32_t n;

	if (!c)
		return 1;
	if (traced) {
		cell_trace_start(CELL_TRACE_F_SAMPLED, &ctx);
		cell_trace_id_format(ctx.trace_id, 16, hex);
		printf("%s\n", hex);
	}
	for (long i = 0; i < count; i++)
		if (cell_client_call(c, 1, "go", 2, out, sizeof(out), &n,
				     cell_deadline_in_ms(2000)) != CELL_STATUS_OK) {
			fprintf(stderr, "chain_cell: call %s: %s\n", name, cell_last_error(NULL));
			return 1;
		}
	for (int i = 0; i < 2; i++)
		if (cell_client_call(c, 2, NULL, 0, out, sizeof(out), &n,
				     cell_deadline_in_ms(2000)) != CELL_STATUS_NOT_FOUND)
			return 1;
	cell_client_free(c);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[1], "serve"))
		return serve(argv[2], argc > 3 ? argv[3] : NULL);
	if (argc >= 4 && !strcmp(argv[1], "call"))
		return call(argv[2], strtol(argv[3], NULL, 10), argc > 4 && !strcmp(argv[4], "-t"));
	fprintf(stderr, "usage: chain_cell serve NAME [NEXT] | call NAME COUNT [-t]\n");
	return 2;
}
