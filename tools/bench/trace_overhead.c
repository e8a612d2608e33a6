// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * make bench-trace: what tracing costs on the SHM spin round trip.
 *
 * One echo server (memfd rings, default adaptive spin) in a forked
 * process pinned to CPU 1; the client in this process pinned to CPU 0
 * makes 32-byte calls in three modes, interleaved round by round so
 * drift and noise hit all three alike:
 *
 *   untraced   the thread has no trace context (the path everyone pays)
 *   unsampled  a context without CELL_TRACE_F_SAMPLED: it stays on the
 *              caller's thread, no trailer travels, nothing is recorded
 *   sampled    a sampled context: the server times the call and records
 *              a span in its ring
 *
 * Per round and mode the exact p50 of the per-call RTT is taken; the figures
 * printed are the medians over rounds of those p50s and of the per-round
 * ratios to untraced.  Goals (issue 12): sampled <= 1.05, unsampled 1.00
 * (taken as <= 1.02: the paired runs' noise on this machine).  The verdict
 * is printed ("met" / "not met"); the exit status is non-zero only when
 * the measurement itself failed.  An unsampled context sends no trailer
 * (cell/trace.h), so it should cost what an untraced call does.
 *
 *   trace_overhead [-r ROUNDS] [-n CALLS_PER_ROUND] [-s REQUEST_BYTES (32)]
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cell/rpc.h>
#include <cell/trace.h>

#define FP	    0xbe9c4fa57a7110deULL
#define METHOD	    1
#define PAYLOAD_MAX 4096
#define MODES	    3

static const char *const mode_names[MODES] = { "untraced", "unsampled", "sampled" };

static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu % (int)sysconf(_SC_NPROCESSORS_ONLN), &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		perror("trace_overhead: pin");
}

static enum cell_status echo(const struct cell_vesicle *req, struct cell_reply *reply, void *ctx)
{
	(void)ctx;
	return cell_reply_send(reply, req->data, req->len) ? CELL_STATUS_INTERNAL : CELL_STATUS_OK;
}

static pid_t start_server(const char *dir)
{
	int pfd[2];
	pid_t pid;
	char c;

	if (pipe(pfd))
		return -1;
	pid = fork();
	if (pid == 0) {
		struct cell_server_opts o = {
			.sz = sizeof(o),
			.fingerprint = FP,
			.runtime_dir = dir,
			.backend = CELL_RING_BACKEND_MEMFD,
		};
		struct cell_server *srv;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		pin(1);
		srv = cell_server_new("tracebench", &o);
		if (!srv || cell_server_handle(srv, METHOD, echo, NULL) ||
		    write(pfd[1], "k", 1) != 1)
			_exit(1);
		_exit(cell_server_run(srv, 1) ? 1 : 0);
	}
	close(pfd[1]);
	if (pid < 0 || read(pfd[0], &c, 1) != 1) {
		close(pfd[0]);
		return -1;
	}
	close(pfd[0]);
	return pid;
}

static uint32_t payload = 32;

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Exact p50 of @n calls, ns (@lat holds @n samples); 0 on failure. */
static uint64_t run_mode(struct cell_client *c, int mode, unsigned int n, uint64_t *lat)
{
	uint8_t req[PAYLOAD_MAX] = { 1, 2, 3 }, resp[PAYLOAD_MAX];
	uint32_t len;

	if (mode == 0)
		cell_trace_set(NULL);
	else
		cell_trace_start(mode == 2 ? CELL_TRACE_F_SAMPLED : 0, NULL);
	for (unsigned int i = 0; i < n; i++) {
		uint64_t t0 = cell_now_ns();

		if (cell_client_call(c, METHOD, req, payload, resp, sizeof(resp), &len,
				     CELL_DEADLINE_NONE) != CELL_STATUS_OK) {
			fprintf(stderr, "trace_overhead: call: %s\n", cell_last_error(NULL));
			return 0;
		}
		lat[i] = cell_now_ns() - t0;
	}
	cell_trace_set(NULL);
	qsort(lat, n, sizeof(*lat), cmp_u64);
	return lat[n / 2] ? lat[n / 2] : 1;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, unsigned int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* 64-byte lines a ring record of a @len-byte request spans from a line start. */
static const char *lines(uint32_t len)
{
	static char buf[2][16];
	static int k;
	/* record header 8, frame pad 4, frame header 20, payload, padded to 8 */
	uint32_t rec = (8 + 4 + 20 + len + 7) & ~7u;

	k ^= 1;
	snprintf(buf[k], sizeof(buf[k]), "%u", (rec + 63) / 64);
	return buf[k];
}

static int report(double p50[MODES][256], unsigned int rounds)
{
	double ratio[MODES][256], med[MODES], rmed[MODES];

	for (unsigned int r = 0; r < rounds; r++)
		for (int m = 0; m < MODES; m++)
			ratio[m][r] = p50[m][r] / p50[0][r];
	for (int m = 0; m < MODES; m++) {
		rmed[m] = median(ratio[m], rounds);
		med[m] = median(p50[m], rounds);
	}
	printf("  %-10s %12s %10s\n", "mode", "p50 RTT ns", "ratio");
	for (int m = 0; m < MODES; m++)
		printf("  %-10s %12.0f %10.3f\n", mode_names[m], med[m], rmed[m]);
	printf("verdict: sampled/untraced %.3f (goal <= 1.05): %s; unsampled/untraced %.3f "
	       "(goal 1.00, taken as <= 1.02 for noise): %s\n",
	       rmed[2], rmed[2] <= 1.05 ? "met" : "not met", rmed[1],
	       rmed[1] <= 1.02 ? "met" : "not met");
	printf("  (a sampled call carries a 32-byte trailer: a request of %u B then fills %s "
	       "cache line(s) of the ring instead of %s)\n",
	       payload, lines(payload + 32), lines(payload));
	return 0;
}

int main(int argc, char **argv)
{
	struct cell_client_opts co = { .sz = sizeof(co), .fingerprint = FP };
	static double p50[MODES][256];
	unsigned int rounds = 15, calls = 20000;
	char dir[] = "/tmp/cell-tracebench-XXXXXX";
	struct cell_client *c = NULL;
	uint64_t *h;
	pid_t server;
	int opt, rc = 2;

	while ((opt = getopt(argc, argv, "r:n:s:h")) != -1) {
		if (opt == 's')
			payload = (uint32_t)strtoul(optarg, NULL, 10);
		else if (opt == 'r')
			rounds = (unsigned int)strtoul(optarg, NULL, 10);
		else if (opt == 'n')
			calls = (unsigned int)strtoul(optarg, NULL, 10);
		else {
			fprintf(stderr, "usage: %s [-r ROUNDS (1-256)] [-n CALLS]\n", argv[0]);
			return 2;
		}
	}
	if (!rounds || rounds > 256 || !calls || payload > PAYLOAD_MAX) {
		fprintf(stderr, "trace_overhead: rounds 1-256, calls > 0, size <= 4096\n");
		return 2;
	}
	if (!mkdtemp(dir) || !(h = calloc(calls, sizeof(*h))))
		return 2;
	server = start_server(dir);
	co.runtime_dir = dir;
	co.backend = CELL_RING_BACKEND_MEMFD;
	pin(0);
	if (server > 0)
		c = cell_client_connect("tracebench", &co);
	if (!c) {
		fprintf(stderr, "trace_overhead: no server: %s\n", cell_last_error(NULL));
		goto out;
	}
	printf("make bench-trace: tracing overhead on the SHM spin RTT (%s), %u B requests, %u "
	       "rounds x "
	       "%u calls per mode, modes interleaved, 2 pinned processes\n",
	       cell_client_path(c), payload, rounds, calls);
	(void)run_mode(c, 0, calls, h); /* warm-up */
	for (unsigned int r = 0; r < rounds; r++)
		for (int k = 0; k < MODES; k++) {
			int m = (int)(k + r) % MODES; /* rotate the order per round */

			p50[m][r] = (double)run_mode(c, m, calls, h);
			if (!p50[m][r])
				goto out;
		}
	rc = report(p50, rounds);
out:
	cell_client_free(c);
	if (server > 0) {
		kill(server, SIGKILL);
		waitpid(server, NULL, 0);
	}
	{
		char sock[64];

		snprintf(sock, sizeof(sock), "%s/tracebench.sock", dir);
		unlink(sock);
		rmdir(dir);
	}
	free(h);
	return rc;
}
