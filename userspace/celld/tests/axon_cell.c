// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * axon_cell: the two sides of the axon tests (axon_test.sh).
 *   axon_cell serve NAME TAG [unix]   a cell whose method 0 answers TAG
 *                                     (unix: no shared-memory rings)
 *   axon_cell call NAME [N]           connect by name (libcell picks the
 *                                     path), N calls of method 0; prints
 *                                     "path=P answer=TAG ok=K" and libcell's
 *                                     log lines ("log: ...")
 * Environment as for any cell (CELL_RUNTIME_DIR, CELL_STATE_DIR).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cell/log.h>
#include <cell/rpc.h>
#include <cell/time.h>

#define FP 0x61786f6e74657374ULL /* "axontest" */

static const char *tag;
static struct cell_server *srv;

static enum cell_status answer(const struct cell_vesicle *v, struct cell_reply *reply, void *ctx)
{
	(void)v;
	(void)ctx;
	if (reply && cell_reply_send(reply, tag, (uint32_t)strlen(tag)))
		return CELL_STATUS_UNAVAILABLE;
	return CELL_STATUS_OK;
}

static void on_term(int sig)
{
	(void)sig;
	cell_server_stop(srv);
}

static void on_log(enum cell_log_level level, const char *line, void *ctx)
{
	(void)level;
	(void)ctx;
	printf("log: %s\n", line);
}

int main(int argc, char **argv)
{
	if (argc >= 4 && !strcmp(argv[1], "serve")) {
		struct cell_server_opts o = { .sz = sizeof(o), .fingerprint = FP };
		sigset_t set;

		tag = argv[3];
		if (argc > 4 && !strcmp(argv[4], "unix"))
			o.backend = CELL_RING_BACKEND_NONE;
		sigemptyset(&set);
		sigaddset(&set, SIGTERM);
		pthread_sigmask(SIG_BLOCK, &set, NULL);
		srv = cell_server_new(argv[2], &o);
		if (!srv || cell_server_handle(srv, 0, answer, NULL)) {
			fprintf(stderr, "serve: %s\n", cell_last_error(NULL));
			return 1;
		}
		signal(SIGTERM, on_term);
		pthread_sigmask(SIG_UNBLOCK, &set, NULL);
		printf("serving %s\n", argv[2]);
		fflush(stdout);
		if (cell_server_run(srv, 1))
			return 1;
		pthread_sigmask(SIG_BLOCK, &set, NULL);
		cell_server_free(srv);
		return 0;
	}
	if (argc >= 3 && !strcmp(argv[1], "call")) {
		struct cell_client_opts o = { .sz = sizeof(o), .fingerprint = FP };
		unsigned n = argc > 3 ? (unsigned)atoi(argv[3]) : 1, ok = 0;
		char buf[256] = "";
		uint32_t len = 0;
		struct cell_client *c;

		setvbuf(stdout, NULL, _IOLBF, 0);
		cell_log_set(on_log, NULL);
		o.connect_deadline = cell_deadline_in_ns(3000000000ULL);
		c = cell_client_connect(argv[2], &o);
		if (!c) {
			printf("connect: %s (%s)\n", strerror(errno), cell_last_error(NULL));
			return 2;
		}
		for (unsigned i = 0; i < n; i++) {
			enum cell_status st = cell_client_call(c, 0, NULL, 0, buf, sizeof(buf) - 1,
							       &len,
							       cell_deadline_in_ns(2000000000ULL));

			if (st == CELL_STATUS_OK)
				ok++;
			else
				printf("call %u: %s\n", i, cell_last_error(NULL));
		}
		buf[len < sizeof(buf) ? len : sizeof(buf) - 1] = '\0';
		printf("path=%s answer=%s ok=%u\n", cell_client_path(c), buf, ok);
		cell_client_free(c);
		return ok == n ? 0 : 3;
	}
	fprintf(stderr, "usage: axon_cell serve NAME TAG [unix] | call NAME [N]\n");
	return 64;
}
