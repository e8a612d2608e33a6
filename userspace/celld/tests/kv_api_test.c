// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * libcell's cell_kv_* against three celld in one Raft group on loopback
 * ports (Documentation/raft.rst): a handle homed at a follower follows
 * NOT_LEADER to the leader; put/get/cas/del outcomes; argument refusals;
 * a value larger than the caller's buffer; kill -9 of the leader during a
 * stream of writes (each either acknowledged and then readable, or
 * reported failed: never acknowledged and lost); a lone node (no quorum)
 * makes a write fail at the caller's deadline, not acknowledge it.
 *
 * usage: celld_kv_api_test CELLD_BINARY.  Prints TAP.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cell/kv.h>
#include <cell/rpc.h>
#include <cell/wire.h>

#define NODES 3

static const char *celld;
static char base[64];
static int port0;
static pid_t pids[NODES + 1];
static char runs[NODES + 1][128];
static int tests, failed;

static void ok(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ok(int cond, const char *fmt, ...)
{
	va_list ap;

	tests++;
	failed += !cond;
	printf("%s %d ", cond ? "ok" : "not ok", tests);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	if (!cond)
		printf("# last error: %s\n", cell_last_error(NULL));
	fflush(stdout);
}

static void start(int i)
{
	char peers[1024] = "", opt[7][1200], log[200];
	int n = 0;

	for (int j = 1; j <= NODES; j++)
		n += snprintf(peers + n, sizeof(peers) - (size_t)n,
			      "%s%d@127.0.0.1:%d=unix:%s/nucleus.sock", j > 1 ? "," : "", j,
			      port0 + j, runs[j]);
	snprintf(opt[0], sizeof(opt[0]), "cluster.id=%d", i);
	snprintf(opt[1], sizeof(opt[1]), "cluster.address=127.0.0.1:%d", port0 + i);
	snprintf(opt[2], sizeof(opt[2]), "cluster.peers=%s", peers);
	snprintf(opt[3], sizeof(opt[3]), "%s/state%d", base, i);
	snprintf(log, sizeof(log), "%s/n%d.log", base, i);
	pids[i] = fork();
	if (pids[i] == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execl(celld, celld, "-r", runs[i], "-s", opt[3], "-S", "-o", "discovery=off", "-o",
		      opt[0], "-o", opt[1], "-o", opt[2], "-o", "cluster.election_ms=300", "-o",
		      "cluster.timeout_ms=1500", (char *)NULL);
		_exit(127);
	}
}

static void kill9(int i)
{
	if (pids[i] > 0) {
		kill(pids[i], SIGKILL);
		waitpid(pids[i], NULL, 0);
		pids[i] = 0;
	}
}

static void cleanup(void)
{
	char cmd[128];

	for (int i = 1; i <= NODES; i++)
		kill9(i);
	if (!getenv("KEEP")) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
		if (system(cmd))
			fprintf(stderr, "# could not remove %s\n", base);
	}
}

static bool sock_exists(int i)
{
	char p[200];
	struct stat sb;

	snprintf(p, sizeof(p), "%s/nucleus.sock", runs[i]);
	return stat(p, &sb) == 0;
}

/* The node whose fresh handle reaches the leader without a redirect. */
static int find_leader(void)
{
	for (int i = 1; i <= NODES; i++) {
		struct cell_kv *h = cell_kv_open(runs[i]);
		struct cell_kv_result r;
		enum cell_status st;
		char v[16];

		if (!pids[i] || !h) {
			cell_kv_close(h);
			continue;
		}
		st = cell_kv_get(h, "probe", 5, v, sizeof(v), &r, cell_deadline_in_ms(3000));
		cell_kv_close(h);
		if (st == CELL_STATUS_OK && !r.redirects && !r.retries)
			return i;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct cell_kv *h[NODES + 1] = { 0 };
	struct cell_kv_result r;
	enum cell_status st;
	char v[64], big[300];
	int L, F, acked = 0, failed_w = 0, lost = 0;
	uint64_t t0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s CELLD\n", argv[0]);
		return 2;
	}
	celld = argv[1];
	printf("TAP version 13\n1..15\n");
	snprintf(base, sizeof(base), "/tmp/kvapi.XXXXXX");
	if (!mkdtemp(base)) {
		perror("mkdtemp");
		return 1;
	}
	srand((unsigned int)getpid());
	port0 = 21000 + rand() % 20000;
	for (int i = 1; i <= NODES; i++) {
		snprintf(runs[i], sizeof(runs[i]), "%s/run%d", base, i);
		mkdir(runs[i], 0700);
	}
	for (int i = 1; i <= NODES; i++)
		start(i);
	for (int t = 0; t < 100; t++) {
		bool all = true;

		for (int i = 1; i <= NODES; i++)
			all &= sock_exists(i);
		if (all)
			break;
		usleep(50000);
	}
	for (int i = 1; i <= NODES; i++)
		h[i] = cell_kv_open(runs[i]);
	st = cell_kv_put(h[1], "color", 5, "blue", 4, &r, cell_deadline_in_ms(10000));
	ok(st == CELL_STATUS_OK && r.outcome == CELL_KV_DONE, "a put commits once a leader exists");
	L = find_leader();
	F = L % NODES + 1;
	ok(L != 0, "one node answers without a redirect: the leader (%d)", L);
	if (!L) {
		cleanup();
		return 1;
	}
	cell_kv_close(h[F]);
	h[F] = cell_kv_open(runs[F]);
	st = cell_kv_put(h[F], "color", 5, "green", 5, &r, cell_deadline_in_ms(5000));
	ok(st == CELL_STATUS_OK && r.outcome == CELL_KV_DONE && r.redirects == 1,
	   "a put on a handle homed at follower %d follows NOT_LEADER to the leader (%u redirect)",
	   F, r.redirects);
	st = cell_kv_put(h[F], "color", 5, "green", 5, &r, cell_deadline_in_ms(5000));
	ok(st == CELL_STATUS_OK && r.redirects == 0, "the handle stays with the leader: the next "
						     "put needs no redirect");
	memset(v, 0, sizeof(v));
	st = cell_kv_get(h[F], "color", 5, v, sizeof(v), &r, cell_deadline_in_ms(5000));
	ok(st == CELL_STATUS_OK && r.outcome == CELL_KV_DONE && r.value_len == 5 &&
		   !memcmp(v, "green", 5),
	   "a get through the follower reads it (linearizable)");
	st = cell_kv_cas(h[F], "color", 5, "red", 3, "x", 1, &r, cell_deadline_in_ms(5000));
	ok(st == CELL_STATUS_OK && r.outcome == CELL_KV_CAS_MISMATCH, "cas with a wrong old value: "
								      "CAS_MISMATCH");
	st = cell_kv_cas(h[F], "color", 5, "green", 5, "red", 3, &r, cell_deadline_in_ms(5000));
	ok(st == CELL_STATUS_OK && r.outcome == CELL_KV_DONE, "cas with the right old value: DONE");
	st = cell_kv_cas(h[L], "color", 5, NULL, 0, "y", 1, &r, cell_deadline_in_ms(5000));
	ok(st == CELL_STATUS_OK && r.outcome == CELL_KV_CAS_MISMATCH, "cas expecting absent on an "
								      "existing key: CAS_MISMATCH");
	st = cell_kv_del(h[F], "color", 5, &r, cell_deadline_in_ms(5000));
	ok(st == CELL_STATUS_OK && r.outcome == CELL_KV_DONE, "del: DONE");
	st = cell_kv_get(h[F], "color", 5, v, sizeof(v), &r, cell_deadline_in_ms(5000));
	ok(st == CELL_STATUS_OK && r.outcome == CELL_KV_ABSENT, "get after del: ABSENT");
	memset(big, 'k', sizeof(big));
	ok(cell_kv_put(h[F], big, 257, "v", 1, &r, cell_deadline_in_ms(1000)) ==
			   CELL_STATUS_INVALID_ARGUMENT &&
		   cell_kv_put(h[F], "", 0, "v", 1, &r, cell_deadline_in_ms(1000)) ==
			   CELL_STATUS_INVALID_ARGUMENT,
	   "a key of 257 bytes or of none: INVALID_ARGUMENT, nothing sent");
	(void)cell_kv_put(h[F], "long", 4, big, sizeof(big), &r, cell_deadline_in_ms(5000));
	st = cell_kv_get(h[F], "long", 4, v, sizeof(v), &r, cell_deadline_in_ms(5000));
	ok(st == CELL_STATUS_TOO_LARGE && r.value_len == sizeof(big),
	   "a value larger than the buffer: TOO_LARGE with its length (%zu)", r.value_len);

	/* kill -9 of the leader in the middle of writes through a follower. */
	for (int k = 0; k < 40; k++) {
		char key[16];

		if (k == 10)
			kill9(L);
		snprintf(key, sizeof(key), "w%d", k);
		st = cell_kv_put(h[F], key, strlen(key), key, strlen(key), &r,
				 cell_deadline_in_ms(6000));
		if (st == CELL_STATUS_OK)
			acked++;
		else
			failed_w++;
	}
	for (int k = 0; k < 40; k++) {
		char key[16];
		int other = 6 - L - F; /* the third node */

		snprintf(key, sizeof(key), "w%d", k);
		st = cell_kv_get(h[other], key, strlen(key), v, sizeof(v), &r,
				 cell_deadline_in_ms(6000));
		if (st != CELL_STATUS_OK || r.outcome != CELL_KV_DONE)
			lost++;
	}
	ok(acked == 40 && lost == 0,
	   "kill -9 of leader %d during 40 writes: %d acknowledged within the deadline (%d "
	   "failed), "
	   "%d of them missing on the third node",
	   L, acked, failed_w, lost);

	/* One node left: no quorum, a write must not be acknowledged. */
	kill9(6 - L - F);
	t0 = cell_now_ns();
	st = cell_kv_put(h[F], "alone", 5, "x", 1, &r, cell_deadline_in_ms(1500));
	ok(st != CELL_STATUS_OK && cell_now_ns() - t0 < 3000000000ull,
	   "a lone node does not acknowledge a write: %s after %.1f s (%u retries)",
	   cell_status_name(st), (double)(cell_now_ns() - t0) / 1e9, r.retries);
	/* The others come back: the handle gets through again. */
	start(L);
	start(6 - L - F);
	st = cell_kv_put(h[F], "back", 4, "y", 1, &r, cell_deadline_in_ms(10000));
	ok(st == CELL_STATUS_OK && r.outcome == CELL_KV_DONE,
	   "after the restarts a put commits again (%u retries, %u redirects)", r.retries,
	   r.redirects);
	for (int i = 1; i <= NODES; i++)
		cell_kv_close(h[i]);
	cleanup();
	return failed ? 1 : 0;
}
