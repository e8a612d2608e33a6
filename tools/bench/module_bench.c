// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * module_bench: /dev/cell rings against memfd rings, run inside the VM by
 * `make bench-vm` (tools/vm/run.sh with VM_SOURCES=this file), where
 * cell.ko is loaded.  Two processes, one echo server (one thread) and one
 * client making 32-byte cell_client_call()s; every row is run ROUNDS
 * times, the rows taking turns, and the table gives the median over the
 * rounds of each round's median RTT.  Rows:
 *
 *   memfd-spin     memfd rings, default spin          (baseline of module-spin)
 *   module-spin    /dev/cell rings, default spin      target <= 1.05x memfd-spin
 *   futex-raw      two processes, FUTEX_WAIT/WAKE ping-pong on shared words
 *   module-block   /dev/cell rings, spin_ns = CELL_SPIN_NONE   target <= 1.1x futex-raw
 *   memfd-block    memfd rings, spin_ns = CELL_SPIN_NONE      (for comparison)
 *
 * The guest is emulated (TCG): absolute times say little, the ratios of
 * rows measured side by side in one run are what this is for.  Output is
 * TAP (one "ok" per ratio measured) with the table as comments.
 */
#include <errno.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cell/rpc.h>
#include <cell/time.h>

#define FP	0x6d6f64756c65ULL
#define ROUNDS	5
#define SPIN_N	4000
#define BLOCK_N 1000
#define NROWS	5

struct row {
	const char *name;
	enum cell_ring_backend backend; /* AUTO: the raw futex row */
	uint64_t spin_ns;
	int n;
	uint64_t p50[ROUNDS];
};

static struct row rows[NROWS] = {
	{ .name = "memfd-spin", .backend = CELL_RING_BACKEND_MEMFD, .spin_ns = 0, .n = SPIN_N },
	{ .name = "module-spin", .backend = CELL_RING_BACKEND_MODULE, .spin_ns = 0, .n = SPIN_N },
	{ .name = "futex-raw", .backend = CELL_RING_BACKEND_AUTO, .spin_ns = 0, .n = BLOCK_N },
	{ .name = "module-block",
	  .backend = CELL_RING_BACKEND_MODULE,
	  .spin_ns = CELL_SPIN_NONE,
	  .n = BLOCK_N },
	{ .name = "memfd-block",
	  .backend = CELL_RING_BACKEND_MEMFD,
	  .spin_ns = CELL_SPIN_NONE,
	  .n = BLOCK_N },
};

static int cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t median(uint64_t *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp);
	return v[n / 2];
}

static enum cell_status echo(const struct cell_vesicle *req, struct cell_reply *reply, void *ctx)
{
	(void)ctx;
	return cell_reply_send(reply, req->data, req->len) ? CELL_STATUS_INTERNAL : CELL_STATUS_OK;
}

static uint64_t cell_row(const struct row *r)
{
	struct cell_server_opts so = {
		.sz = sizeof(so),
		.fingerprint = FP,
		.runtime_dir = "/tmp",
		.backend = r->backend,
		.spin_ns = r->spin_ns,
	};
	struct cell_client_opts co = {
		.sz = sizeof(co),
		.fingerprint = FP,
		.runtime_dir = "/tmp",
		.backend = r->backend,
		.spin_ns = r->spin_ns,
	};
	uint64_t *t = calloc((size_t)r->n, sizeof(*t)), result = 0;
	uint8_t req[32] = { 1 }, resp[32];
	struct cell_client *c = NULL;
	int pfd[2];
	pid_t pid;
	char ok;

	if (!t || pipe(pfd))
		return 0;
	pid = fork();
	if (pid == 0) {
		struct cell_server *srv = cell_server_new("modbench", &so);

		if (!srv || cell_server_handle(srv, 1, echo, NULL) || write(pfd[1], "k", 1) != 1)
			_exit(1);
		_exit(cell_server_run(srv, 1) ? 1 : 0);
	}
	close(pfd[1]);
	if (read(pfd[0], &ok, 1) == 1)
		c = cell_client_connect("modbench", &co);
	close(pfd[0]);
	if (c && strcmp(cell_client_path(c),
			r->backend == CELL_RING_BACKEND_MODULE ? "shm-module" : "shm-memfd") == 0) {
		for (int i = 0; i < r->n / 10; i++) /* warm up */
			(void)cell_client_call(c, 1, req, sizeof(req), resp, sizeof(resp), NULL,
					       CELL_DEADLINE_NONE);
		for (int i = 0; i < r->n; i++) {
			uint64_t t0 = cell_now_ns();

			if (cell_client_call(c, 1, req, sizeof(req), resp, sizeof(resp), NULL,
					     CELL_DEADLINE_NONE))
				break;
			t[i] = cell_now_ns() - t0;
			if (i == r->n - 1)
				result = median(t, r->n);
		}
	} else {
		printf("# %s: %s\n", r->name, c ? cell_client_path(c) : cell_last_error(NULL));
	}
	cell_client_free(c);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	free(t);
	return result;
}

static void futex_wait(_Atomic uint32_t *w, uint32_t v)
{
	syscall(SYS_futex, w, FUTEX_WAIT, v, NULL, NULL, 0);
}

static void futex_wake(_Atomic uint32_t *w)
{
	syscall(SYS_futex, w, FUTEX_WAKE, 1, NULL, NULL, 0);
}

/* Two processes hand a token back and forth, always sleeping in between. */
static uint64_t futex_row(const struct row *r)
{
	_Atomic uint32_t *w =
		mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	uint64_t *t = calloc((size_t)r->n, sizeof(*t)), result;
	int total = r->n + r->n / 10;
	pid_t pid;

	if (w == MAP_FAILED || !t)
		return 0;
	w[0] = 0; /* even: the client's turn; odd: the server's */
	pid = fork();
	if (pid == 0) {
		for (uint32_t k = 1; k < 2U * (uint32_t)total; k += 2) {
			while (atomic_load(&w[0]) != k)
				futex_wait(&w[0], k - 1);
			atomic_store(&w[0], k + 1);
			futex_wake(&w[0]);
		}
		_exit(0);
	}
	for (int i = 0; i < total; i++) {
		uint32_t k = 2U * (uint32_t)i;
		uint64_t t0 = cell_now_ns();

		atomic_store(&w[0], k + 1);
		futex_wake(&w[0]);
		while (atomic_load(&w[0]) != k + 2)
			futex_wait(&w[0], k + 1);
		if (i >= r->n / 10 && i - r->n / 10 < r->n)
			t[i - r->n / 10] = cell_now_ns() - t0;
	}
	waitpid(pid, NULL, 0);
	result = median(t, r->n);
	free(t);
	munmap((void *)w, 4096);
	return result;
}

static void ratio(int tap, const char *what, int num, int den, double target)
{
	uint64_t a, b;
	double q;

	a = median(rows[num].p50, ROUNDS);
	b = median(rows[den].p50, ROUNDS);
	q = b ? (double)a / (double)b : 0;
	printf("# %-13s / %-11s = %5.2f   target <= %.2f: %s\n", rows[num].name, rows[den].name, q,
	       target, q && q <= target ? "met" : "not met");
	printf("ok %d %s ratio measured (%s)\n", tap, what, q ? "see table" : "no data");
}

int main(void)
{
	printf("TAP version 13\n1..2\n");
	for (int round = 0; round < ROUNDS; round++)
		for (int i = 0; i < NROWS; i++)
			rows[i].p50[round] = rows[i].backend == CELL_RING_BACKEND_AUTO
						     ? futex_row(&rows[i])
						     : cell_row(&rows[i]);
	printf("# %-13s %8s %12s   (median over %d rounds of each round's median)\n", "row",
	       "calls", "RTT ns", ROUNDS);
	for (int i = 0; i < NROWS; i++) {
		uint64_t p[ROUNDS];

		memcpy(p, rows[i].p50, sizeof(p));
		printf("# %-13s %8d %12llu\n", rows[i].name, rows[i].n,
		       (unsigned long long)median(p, ROUNDS));
	}
	ratio(1, "module ring vs memfd ring", 1, 0, 1.05);
	ratio(2, "module blocking vs raw futex", 3, 2, 1.10);
	return 0;
}
