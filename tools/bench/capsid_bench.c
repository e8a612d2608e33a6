// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * capsid_bench: the two sides of `make bench-capsid` (capsid_bench.sh).
 *
 *   capsid_bench serve NAME [CPU]
 *	an echo cell (one method, 32-byte payloads) on memfd rings with the
 *	default adaptive spin, one serving thread pinned to CPU (if given),
 *	until SIGTERM.  Run once plain and once under `cell spawn`.
 *   capsid_bench client DIR NAME CALLS [CPU]
 *	connects to NAME in DIR over shared memory (the path is checked:
 *	shm-memfd), makes 2000 warm-up calls, then CALLS timed calls, and
 *	prints "median_ns M p99_ns P path shm-memfd".
 *
 * Each round trip is one cell_client_call() of 32 bytes, timed with
 * CLOCK_MONOTONIC around it; the server's echo is cell_reply_send().
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cell/rpc.h>
#include <cell/time.h>
#include <cell/wire.h>

#define BENCH_FINGERPRINT 0xca95d1be7c4a0001ULL
#define BENCH_METHOD	  1
#define BENCH_PAYLOAD	  32
#define BENCH_WARMUP	  2000

static struct cell_server *server;

static void on_sigterm(int sig)
{
	(void)sig;
	if (server)
		cell_server_stop(server);
}

static int pin(const char *cpu)
{
	cpu_set_t set;

	if (!cpu)
		return 0;
	CPU_ZERO(&set);
	CPU_SET(atoi(cpu), &set);
	if (sched_setaffinity(0, sizeof(set), &set)) {
		perror("capsid_bench: sched_setaffinity");
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

static int serve(const char *name, const char *cpu)
{
	struct cell_server_opts so = {
		.sz = sizeof(so),
		.fingerprint = BENCH_FINGERPRINT,
		.backend = CELL_RING_BACKEND_MEMFD,
	};
	struct sigaction sa = { .sa_handler = on_sigterm };
	sigset_t term;
	int err;

	if (pin(cpu))
		return 1;
	server = cell_server_new(name, &so);
	if (!server || cell_server_handle(server, BENCH_METHOD, echo, NULL)) {
		fprintf(stderr, "capsid_bench: serve %s: %s\n", name, cell_last_error(NULL));
		return 1;
	}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	printf("capsid_bench: serving %s at %s\n", name, cell_server_path(server));
	fflush(stdout);
	err = cell_server_run(server, 1);
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigaddset(&term, SIGINT);
	sigprocmask(SIG_BLOCK, &term, NULL);
	cell_server_free(server);
	return err ? 1 : 0;
}

static int by_value(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int call(struct cell_client *c, const unsigned char *req, unsigned char *resp)
{
	uint32_t len = 0;
	enum cell_status st = cell_client_call(c, BENCH_METHOD, req, BENCH_PAYLOAD, resp,
					       BENCH_PAYLOAD, &len, cell_deadline_in_ms(5000));

	if (st != CELL_STATUS_OK || len != BENCH_PAYLOAD || memcmp(req, resp, BENCH_PAYLOAD)) {
		fprintf(stderr, "capsid_bench: call: %s (%u bytes) %s\n", cell_status_name(st),
			len, cell_last_error(NULL));
		return -1;
	}
	return 0;
}

static int client(const char *dir, const char *name, long calls, const char *cpu)
{
	struct cell_client_opts co = {
		.sz = sizeof(co),
		.fingerprint = BENCH_FINGERPRINT,
		.runtime_dir = dir,
		.backend = CELL_RING_BACKEND_MEMFD,
		.connect_deadline = cell_deadline_in_ms(5000),
	};
	unsigned char req[BENCH_PAYLOAD], resp[BENCH_PAYLOAD];
	struct cell_client *c;
	uint64_t *rtt;
	int rc = 1;

	if (calls < 100 || pin(cpu))
		return 2;
	for (int i = 0; i < BENCH_PAYLOAD; i++)
		req[i] = (unsigned char)(i * 7 + 1);
	rtt = calloc((size_t)calls, sizeof(*rtt));
	c = rtt ? cell_client_connect(name, &co) : NULL;
	if (!c) {
		fprintf(stderr, "capsid_bench: connect %s/%s: %s\n", dir, name,
			cell_last_error(NULL));
		free(rtt);
		return 1;
	}
	if (strcmp(cell_client_path(c), "shm-memfd")) {
		fprintf(stderr, "capsid_bench: path %s, not shm-memfd\n", cell_client_path(c));
		goto out;
	}
	for (int i = 0; i < BENCH_WARMUP; i++)
		if (call(c, req, resp))
			goto out;
	for (long i = 0; i < calls; i++) {
		uint64_t t0 = cell_now_ns();

		req[0] = (unsigned char)i;
		if (call(c, req, resp))
			goto out;
		rtt[i] = cell_now_ns() - t0;
	}
	qsort(rtt, (size_t)calls, sizeof(*rtt), by_value);
	printf("median_ns %llu p99_ns %llu path %s\n", (unsigned long long)rtt[calls / 2],
	       (unsigned long long)rtt[calls * 99 / 100], cell_client_path(c));
	rc = 0;
out:
	cell_client_free(c);
	free(rtt);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[1], "serve"))
		return serve(argv[2], argc > 3 ? argv[3] : NULL);
	if (argc >= 5 && !strcmp(argv[1], "client"))
		return client(argv[2], argv[3], strtol(argv[4], NULL, 10),
			      argc > 5 ? argv[5] : NULL);
	fprintf(stderr, "usage: capsid_bench serve NAME [CPU]\n"
			"       capsid_bench client DIR NAME CALLS [CPU]\n");
	return 2;
}
