// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * make bench, part two: Cell beside its floors and its peers, one run.
 *
 *   ipc [-r ROUNDS] [-s SIZES] [-n MAX_SAMPLES] [-L LAT_MS] [-T TPUT_MS]
 *       [-k KEYS] [-o DIR] [-u 'SYSTEM: reason']...
 *
 * For each round (default 5), each case and each size (default 64, 1024,
 * 65536, 1048576 bytes), in that order, so that the machine's drifting
 * noise falls on every case alike: a fresh server process pinned to
 * CPU 1, a fresh client process pinned to CPU 0; the client warms up
 * (up to 2000 calls or 100 ms), times up to MAX_SAMPLES calls (default
 * 20000) one by one or for LAT_MS (default 400), whichever ends first,
 * then counts calls completed in TPUT_MS (default 300), pipelined
 * ipc_depth(size) deep where the case can.  A round gives p50, p99,
 * p99.9, mean and calls/s; the table shows the median over the rounds and
 * the spread of the rounds' p50s (p99 only from 100 samples per round, p99.9
 * from 1000).  Ratios are paired: the median over the
 * rounds of (row / baseline) within the same round.
 *
 * Writes DIR/ipc.md (the tables, as printed), DIR/ipc.csv and
 * DIR/ipc-plot.dat (p50 by size per case, for tools/bench/ipc.gp).
 * -k picks cases by key (comma-separated prefixes); -u names a system
 * that was not built and why, printed as "SYSTEM: not available on this
 * machine: reason".
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ipc.h"
#include "ticks.h"

#define CPU_CLIENT  0
#define CPU_SERVER  1
#define MAX_ROUNDS  15
#define MAX_SIZES   8
#define MAX_UNAVAIL 16

volatile sig_atomic_t ipc_stopping;

/* Median of @n values (sorts a copy); NAN for none. */
static double median_of(const double *src, unsigned int n)
{
	double v[MAX_ROUNDS];

	if (!n)
		return NAN;
	memcpy(v, src, n * sizeof(v[0]));
	qsort(v, n, sizeof(v[0]), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- helpers for the cases ------------------------------------------------ */

unsigned int ipc_depth(size_t size)
{
	size_t d = (128U << 10) / (size ? size : 1);

	return d < 1 ? 1 : d > 16 ? 16 : (unsigned int)d;
}

int ipc_ready(int fd)
{
	char b = 'r';

	if (write(fd, &b, 1) != 1) {
		perror("bench: ready");
		return -1;
	}
	return 0;
}

void ipc_fill(void *buf, size_t size, uint64_t seq)
{
	unsigned char *p = buf;

	if (size >= 8)
		memcpy(p, &seq, 8);
	else
		memcpy(p, &seq, size);
}

uint64_t ipc_seq_of(const void *buf)
{
	uint64_t seq;

	memcpy(&seq, buf, sizeof(seq));
	return seq;
}

int ipc_check(const void *buf, size_t len, size_t size, uint64_t seq, const char *who)
{
	if (len != size) {
		fprintf(stderr, "bench: %s: echo of %zu bytes, sent %zu\n", who, len, size);
		return -1;
	}
	if (ipc_seq_of(buf) != seq) {
		fprintf(stderr, "bench: %s: echo of call %llu, sent call %llu\n", who,
			(unsigned long long)ipc_seq_of(buf), (unsigned long long)seq);
		return -1;
	}
	return 0;
}

/* ---- options and results -------------------------------------------------- */

struct opts {
	unsigned int rounds;
	size_t sizes[MAX_SIZES];
	unsigned int nsizes;
	unsigned int max_samples;
	unsigned int lat_ms, tput_ms;
	const char *keys;
	const char *dir;
	const char *unavail[MAX_UNAVAIL];
	unsigned int nunavail;
};

/* What a client process reports (shared memory). */
struct shared_res {
	int ok;
	unsigned int samples;
	double p50, p99, p999, mean; /* ns */
	double cps;		     /* calls (or messages) per second */
	unsigned int depth;
	char path[32];
};

/* One case at one size over the rounds. */
struct cell {
	const struct ipc_case *c;
	size_t size;
	bool skip; /* not available here: why */
	char why[160];
	bool failed;
	unsigned int rounds;
	unsigned int samples;
	unsigned int depth;
	char path[32];
	double p50[MAX_ROUNDS], p99[MAX_ROUNDS], p999[MAX_ROUNDS], mean[MAX_ROUNDS];
	double cps[MAX_ROUNDS];
};

static const char *size_name(size_t size, char *buf, size_t cap)
{
	if (size >= (1U << 20) && !(size % (1U << 20)))
		snprintf(buf, cap, "%zu MiB", size >> 20);
	else if (size >= 1024 && !(size % 1024))
		snprintf(buf, cap, "%zu KiB", size >> 10);
	else
		snprintf(buf, cap, "%zu B", size);
	return buf;
}

/* ---- the processes -------------------------------------------------------- */

static int pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set)) {
		fprintf(stderr, "bench: pin to CPU %d: %s\n", cpu, strerror(errno));
		return -1;
	}
	return 0;
}

static const struct ipc_case *term_case;
static void *term_ctx;

static void on_sigterm(int sig)
{
	(void)sig;
	ipc_stopping = 1;
	if (term_case && term_case->on_term)
		term_case->on_term(term_ctx);
}

static void child_common(int cpu)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		_exit(1);
	if (pin(cpu))
		_exit(1);
}

static pid_t start_server(const struct ipc_case *c, void *ctx, int ready_fd, int other_fd)
{
	pid_t pid = fork();

	if (pid < 0) {
		perror("bench: fork");
		return -1;
	}
	if (pid == 0) {
		struct sigaction sa = { .sa_handler = on_sigterm };
		int rc;

		close(other_fd);
		child_common(CPU_SERVER);
		term_case = c;
		term_ctx = ctx;
		sigemptyset(&sa.sa_mask);
		/* No SA_RESTART: blocking reads and waits return EINTR. */
		sigaction(SIGTERM, &sa, NULL);
		rc = c->serve(ctx, ready_fd);
		fflush(NULL);
		_exit(rc ? 1 : 0);
	}
	return pid;
}

static uint64_t *samples;

static int client_run(const struct ipc_case *c, void *ctx, size_t size, const struct opts *o,
		      struct shared_res *res)
{
	unsigned int depth = c->burst ? ipc_depth(size) : 1;
	unsigned int n = 0, chunk;
	uint64_t t0, t1, end, calls = 0;
	long double sum = 0;

	if (c->connect(ctx))
		return -1;
	if (c->path)
		snprintf(res->path, sizeof(res->path), "%s", c->path(ctx));
	else
		snprintf(res->path, sizeof(res->path), "-");

	/* Calls per burst: about 4 MiB of payload, at least one depth. */
	chunk = (unsigned int)((4U << 20) / size);
	chunk = chunk > 4096 ? 4096 : chunk;
	chunk = chunk < depth ? depth : chunk - chunk % depth;

	/* Warm-up. */
	end = mono_ns() + 100000000ULL;
	if (c->call) {
		for (unsigned int i = 0; i < 2000 && mono_ns() < end; i++)
			if (c->call(ctx))
				return -1;
		/* Latency: one call per sample. */
		end = mono_ns() + (uint64_t)o->lat_ms * 1000000ULL;
		while (n < o->max_samples && (n < 10 || mono_ns() < end)) {
			t0 = ticks_begin();
			if (c->call(ctx))
				return -1;
			samples[n++] = ticks_end() - t0;
		}
		for (unsigned int i = 0; i < n; i++)
			sum += samples[i];
		qsort(samples, n, sizeof(samples[0]), cmp_u64);
		res->samples = n;
		res->p50 = (double)samples[n / 2] * ns_per_tick;
		res->p99 = (double)samples[(uint64_t)n * 99 / 100] * ns_per_tick;
		res->p999 = (double)samples[(uint64_t)n * 999 / 1000] * ns_per_tick;
		res->mean = (double)(sum / n) * ns_per_tick;
	} else {
		for (unsigned int i = 0; i < 4 && mono_ns() < end; i++)
			if (c->burst(ctx, chunk))
				return -1;
	}

	/* Sustained calls/s. */
	t0 = mono_ns();
	end = t0 + (uint64_t)o->tput_ms * 1000000ULL;
	do {
		if (c->burst) {
			if (c->burst(ctx, chunk))
				return -1;
			calls += chunk;
		} else {
			if (c->call(ctx))
				return -1;
			calls++;
		}
		t1 = mono_ns();
	} while (t1 < end);
	res->cps = (double)calls * 1e9 / (double)(t1 - t0);
	res->depth = depth;
	if (c->disconnect)
		c->disconnect(ctx);
	return 0;
}

static pid_t start_client(const struct ipc_case *c, void *ctx, size_t size, const struct opts *o,
			  struct shared_res *res)
{
	pid_t pid = fork();

	if (pid < 0) {
		perror("bench: fork");
		return -1;
	}
	if (pid == 0) {
		int rc;

		child_common(CPU_CLIENT);
		rc = client_run(c, ctx, size, o, res);
		res->ok = rc == 0;
		fflush(NULL);
		_exit(rc ? 1 : 0);
	}
	return pid;
}

/* Wait for @pid up to @ms milliseconds; then SIGKILL it.  Return its status. */
static int reap(pid_t pid, unsigned int ms)
{
	int status = 0;

	for (unsigned int i = 0; i < ms / 10; i++) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return status;
		if (r < 0 && errno != EINTR)
			return -1;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return status ? status : -1;
}

/* One run of a case at a size: 0, or -1 (printed). */
static int run_one(struct cell *e, const struct opts *o, struct shared_res *res)
{
	const struct ipc_case *c = e->c;
	int pfd[2], st_srv, st_cli, rc = -1;
	pid_t srv, cli;
	void *ctx;
	char b;

	memset(res, 0, sizeof(*res));
	fflush(NULL);
	ctx = c->prepare(e->size);
	if (!ctx)
		return -1;
	if (pipe2(pfd, O_CLOEXEC)) {
		perror("bench: pipe");
		c->destroy(ctx);
		return -1;
	}
	srv = start_server(c, ctx, pfd[1], pfd[0]);
	close(pfd[1]);
	if (srv < 0)
		goto out;
	if (read(pfd[0], &b, 1) != 1) {
		fprintf(stderr, "bench: %s: the server failed to start\n", c->key);
		kill(srv, SIGTERM);
		reap(srv, 5000);
		goto out;
	}
	cli = start_client(c, ctx, e->size, o, res);
	if (cli < 0) {
		kill(srv, SIGTERM);
		reap(srv, 5000);
		goto out;
	}
	/* A client that hangs (a peer lost a message) is ended after 60 s. */
	st_cli = reap(cli, 60000);
	kill(srv, SIGTERM);
	st_srv = reap(srv, 5000);
	if (st_cli || !res->ok)
		fprintf(stderr, "bench: %s %zu B: the client failed (status 0x%x)\n", c->key,
			e->size, st_cli);
	else if (st_srv)
		fprintf(stderr, "bench: %s %zu B: the server failed (status 0x%x)\n", c->key,
			e->size, st_srv);
	else
		rc = 0;
out:
	close(pfd[0]);
	c->destroy(ctx);
	return rc;
}

/* ---- output --------------------------------------------------------------- */

static FILE *md; /* DIR/ipc.md: everything the tables print */

static void out(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	if (md) {
		va_start(ap, fmt);
		vfprintf(md, fmt, ap);
		va_end(ap);
	}
}

static struct cell *cells;
static unsigned int ncells;

static struct cell *find(const char *key, size_t size)
{
	for (unsigned int i = 0; i < ncells; i++)
		if (!strcmp(cells[i].c->key, key) && cells[i].size == size)
			return &cells[i];
	return NULL;
}

static bool usable(const struct cell *e)
{
	return e && !e->skip && !e->failed && e->rounds;
}

/* Median over the rounds of a->p50 / b->p50 (or calls/s), same round. */
static double paired(const struct cell *a, const struct cell *b, bool cps)
{
	double v[MAX_ROUNDS];
	unsigned int n = a->rounds < b->rounds ? a->rounds : b->rounds;

	for (unsigned int k = 0; k < n; k++)
		v[k] = cps ? a->cps[k] / b->cps[k] : a->p50[k] / b->p50[k];
	return median_of(v, n);
}

static void fmt_ns(char *buf, size_t cap, double ns)
{
	if (ns >= 1e6)
		snprintf(buf, cap, "%.2f ms", ns / 1e6);
	else if (ns >= 1e4)
		snprintf(buf, cap, "%.1f us", ns / 1e3);
	else
		snprintf(buf, cap, "%.0f ns", ns);
}

static void fmt_rate(char *buf, size_t cap, double r)
{
	if (r >= 1e6)
		snprintf(buf, cap, "%.2f M/s", r / 1e6);
	else if (r >= 1e3)
		snprintf(buf, cap, "%.1f k/s", r / 1e3);
	else
		snprintf(buf, cap, "%.0f /s", r);
}

/* The floor a case's p50 is compared with at each size. */
#define FLOOR_KEY  "floor-shm-spin"
#define STREAM_KEY "floor-spsc-ring"
#define CELL_KEY   "cell-shm-spin"

static void print_tables(const struct opts *o)
{
	char a[32], b[32], c3[32], d[32], lo[32], hi[32], sz[32], ratio[32];

	out("\n## Round trips and sustained calls/s (medians over %u rounds)\n\n", o->rounds);
	out("| case | kind | size | path | samples | p50 | p99 | p99.9 | p50 min-max | calls/s "
	    "(depth) | p50 / shm floor |\n");
	out("|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|\n");
	for (unsigned int i = 0; i < ncells; i++) {
		struct cell *e = &cells[i];
		const struct cell *f = find(FLOOR_KEY, e->size);
		double v[MAX_ROUNDS];

		size_name(e->size, sz, sizeof(sz));
		if (e->skip) {
			out("| %s | %s | %s | | | not measured: %s | | | | | |\n", e->c->name,
			    e->c->kind, sz, e->why);
			continue;
		}
		if (e->failed || !e->rounds) {
			out("| %s | %s | %s | %s | | FAILED (see the errors above) | | | | | |\n",
			    e->c->name, e->c->kind, sz, e->path);
			continue;
		}
		fmt_rate(d, sizeof(d), median_of(e->cps, e->rounds));
		if (e->c->flags & IPC_STREAM) {
			const struct cell *s = find(STREAM_KEY, e->size);

			snprintf(ratio, sizeof(ratio), "-");
			if (usable(s) && s != e)
				snprintf(ratio, sizeof(ratio), "rate %.2fx spsc ring",
					 paired(e, s, true));
			out("| %s | %s | %s | %s | one-way | - | - | - | - | %s (stream) | %s |\n",
			    e->c->name, e->c->kind, sz, e->path, d, ratio);
			continue;
		}
		fmt_ns(a, sizeof(a), median_of(e->p50, e->rounds));
		/* A tail percentile needs enough samples behind it. */
		if (e->samples >= 100)
			fmt_ns(b, sizeof(b), median_of(e->p99, e->rounds));
		else
			snprintf(b, sizeof(b), "(few samples)");
		if (e->samples >= 1000)
			fmt_ns(c3, sizeof(c3), median_of(e->p999, e->rounds));
		else
			snprintf(c3, sizeof(c3), "(few samples)");
		memcpy(v, e->p50, e->rounds * sizeof(v[0]));
		qsort(v, e->rounds, sizeof(v[0]), cmp_double);
		fmt_ns(lo, sizeof(lo), v[0]);
		fmt_ns(hi, sizeof(hi), v[e->rounds - 1]);
		if (usable(f))
			snprintf(ratio, sizeof(ratio), "%.2f", paired(e, f, false));
		else
			snprintf(ratio, sizeof(ratio), "-");
		out("| %s | %s | %s | %s | %u | %s | %s | %s | %s - %s | %s (%u) | %s |\n",
		    e->c->name, e->c->kind, sz, e->path, e->samples, a, b, c3, lo, hi, d, e->depth,
		    ratio);
	}

	/* Cell SHM spin against every other round-trip case, per size. */
	out("\n## Cell SHM spin against each case: other p50 / Cell p50 (paired, >1: Cell "
	    "faster)\n\n| case |");
	for (unsigned int s = 0; s < o->nsizes; s++)
		out(" %s |", size_name(o->sizes[s], sz, sizeof(sz)));
	out("\n|---|");
	for (unsigned int s = 0; s < o->nsizes; s++)
		out("---:|");
	out("\n");
	for (unsigned int i = 0; i < ncells; i++) {
		struct cell *e = &cells[i];

		if (e->size != o->sizes[0] || (e->c->flags & IPC_STREAM) ||
		    !strcmp(e->c->key, CELL_KEY))
			continue;
		out("| %s |", e->c->name);
		for (unsigned int s = 0; s < o->nsizes; s++) {
			const struct cell *x = find(e->c->key, o->sizes[s]);
			const struct cell *y = find(CELL_KEY, o->sizes[s]);

			if (usable(x) && usable(y))
				out(" %.2f |", paired(x, y, false));
			else
				out(" - |");
		}
		out("\n");
	}
}

struct target {
	const char *what;
	const char *a, *b; /* ratio a/b of p50 (or of calls/s when cps) */
	bool cps;
	bool at_least; /* met when the ratio >= limit (else <=) */
	double limit;
};

static const struct target targets[] = {
	{ "Cell SHM spin p50 <= 1.25x shm floor", CELL_KEY, FLOOR_KEY, false, false, 1.25 },
	{ "Cell SHM spin p50 <= 0.5x iceoryx polling", CELL_KEY, "iceoryx-rr-poll", false, false,
	  0.5 },
	{ "Cell SHM spin p50 <= 0.5x iceoryx WaitSet", CELL_KEY, "iceoryx-rr-waitset", false, false,
	  0.5 },
	{ "gRPC uds p50 >= 30x Cell SHM spin", "grpc-uds", CELL_KEY, false, true, 30 },
	{ "ZeroMQ ipc p50 >= 20x Cell SHM spin", "zeromq-ipc", CELL_KEY, false, true, 20 },
	{ "Cell stream >= 0.8x raw SPSC ring rate", "cell-stream", STREAM_KEY, true, true, 0.8 },
	{ "Cell batched stream >= 0.8x raw SPSC ring rate", "cell-stream-batch", STREAM_KEY, true,
	  true, 0.8 },
};

static void print_targets(const struct opts *o)
{
	char sz[32];

	out("\n## Targets (paired ratios, per size; the issue states them for small messages)\n\n");
	out("| target | size | ratio | verdict |\n|---|---|---:|---|\n");
	for (unsigned int t = 0; t < sizeof(targets) / sizeof(targets[0]); t++) {
		for (unsigned int s = 0; s < o->nsizes; s++) {
			const struct cell *a = find(targets[t].a, o->sizes[s]);
			const struct cell *b = find(targets[t].b, o->sizes[s]);
			double r;

			size_name(o->sizes[s], sz, sizeof(sz));
			if (!a || !b)
				continue; /* a case not selected (-k) */
			if (!usable(a) || !usable(b)) {
				out("| %s | %s | - | no verdict: %s not measured |\n",
				    targets[t].what, sz, usable(a) ? b->c->name : a->c->name);
				continue;
			}
			r = paired(a, b, targets[t].cps);
			out("| %s | %s | %.2f | %s |\n", targets[t].what, sz, r,
			    (targets[t].at_least ? r >= targets[t].limit : r <= targets[t].limit)
				    ? "met"
				    : "not met");
		}
	}
}

static int write_csv(const char *path, const struct opts *o)
{
	FILE *f = fopen(path, "w");

	if (!f) {
		fprintf(stderr, "bench: %s: %s\n", path, strerror(errno));
		return -1;
	}
	fprintf(f, "key,case,kind,size,status,path,rounds,samples_per_round,p50_ns,p99_ns,"
		   "p999_ns,mean_ns,p50_min_ns,p50_max_ns,calls_per_s,calls_per_s_min,"
		   "calls_per_s_max,depth,ratio_p50_to_shm_floor,round_p50s_ns\n");
	for (unsigned int i = 0; i < ncells; i++) {
		struct cell *e = &cells[i];
		const struct cell *fl = find(FLOOR_KEY, e->size);
		double v[MAX_ROUNDS], w[MAX_ROUNDS];
		bool stream = e->c->flags & IPC_STREAM;

		fprintf(f, "%s,%s,%s,%zu,", e->c->key, e->c->name, e->c->kind, e->size);
		if (e->skip) {
			/* The reason may hold commas: quote it. */
			fprintf(f, "\"not measured: %s\",,,,,,,,,,,,,,,\n", e->why);
			continue;
		}
		if (e->failed || !e->rounds) {
			fprintf(f, "failed,%s,,,,,,,,,,,,,,\n", e->path);
			continue;
		}
		memcpy(v, e->p50, e->rounds * sizeof(v[0]));
		qsort(v, e->rounds, sizeof(v[0]), cmp_double);
		memcpy(w, e->cps, e->rounds * sizeof(w[0]));
		qsort(w, e->rounds, sizeof(w[0]), cmp_double);
		fprintf(f, "ok,%s,%u,", e->path, e->rounds);
		if (stream)
			fprintf(f, ",,,,,,,");
		else
			fprintf(f, "%u,%.1f,%.1f,%.1f,%.1f,%.1f,%.1f,", e->samples,
				median_of(e->p50, e->rounds), median_of(e->p99, e->rounds),
				median_of(e->p999, e->rounds), median_of(e->mean, e->rounds), v[0],
				v[e->rounds - 1]);
		fprintf(f, "%.0f,%.0f,%.0f,%u,", median_of(e->cps, e->rounds), w[0],
			w[e->rounds - 1], e->depth);
		if (!stream && usable(fl))
			fprintf(f, "%.4f,", paired(e, fl, false));
		else
			fprintf(f, ",");
		for (unsigned int k = 0; !stream && k < e->rounds; k++)
			fprintf(f, "%s%.0f", k ? ";" : "", e->p50[k]);
		fprintf(f, "\n");
	}
	/* Systems that were not built: one line each, no size. */
	for (unsigned int i = 0; i < o->nunavail; i++) {
		const char *colon = strchr(o->unavail[i], ':');
		int n = colon ? (int)(colon - o->unavail[i]) : (int)strlen(o->unavail[i]);

		fprintf(f, "%.*s,%.*s,peer,,\"not available on this machine:%s\",,,,,,,,,,,,,,,\n",
			n, o->unavail[i], n, o->unavail[i], colon ? colon + 1 : "");
	}
	if (fclose(f)) {
		fprintf(stderr, "bench: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * p50 by size, one block per round-trip case, for gnuplot (index N), and
 * @styles: a line type per block (floors dashed, Cell thick, peers thin).
 */
static int write_plot_data(const char *path, const char *styles, const struct opts *o)
{
	static const char *const floor_rgb[] = { "#555555", "#888888", "#aaaaaa", "#333333" };
	static const char *const cell_rgb[] = { "#d62728", "#ff7f0e", "#8c564b", "#e377c2" };
	static const char *const peer_rgb[] = { "#1f77b4", "#2ca02c", "#9467bd", "#17becf",
						"#bcbd22", "#0b3d91", "#006400" };
	unsigned int nf = 0, nc = 0, np = 0, block = 0;
	FILE *f = fopen(path, "w"), *st = fopen(styles, "w");
	bool first = true;

	if (!f || !st) {
		fprintf(stderr, "bench: %s: %s\n", f ? styles : path, strerror(errno));
		if (f)
			fclose(f);
		if (st)
			fclose(st);
		return -1;
	}
	for (unsigned int i = 0; i < ncells; i++) {
		const struct cell *e = &cells[i];
		bool any = false;

		if (e->size != o->sizes[0] || (e->c->flags & IPC_STREAM))
			continue;
		for (unsigned int s = 0; s < o->nsizes; s++)
			any |= usable(find(e->c->key, o->sizes[s]));
		if (!any)
			continue;
		fprintf(f, "%s\"%s\" p50_ns p99_ns\n", first ? "" : "\n\n", e->c->name);
		first = false;
		block++;
		if (!strcmp(e->c->kind, "floor")) {
			fprintf(st, "set linetype %u lc rgb '%s' dt 2 lw 1.5 pt %u\n", block,
				floor_rgb[nf % 4], 4 + nf % 4);
			nf++;
		} else if (!strcmp(e->c->kind, "cell")) {
			fprintf(st, "set linetype %u lc rgb '%s' dt 1 lw 3 pt %u\n", block,
				cell_rgb[nc % 4], 5 + 2 * (nc % 4));
			nc++;
		} else {
			fprintf(st, "set linetype %u lc rgb '%s' dt 1 lw 1.5 pt %u\n", block,
				peer_rgb[np % 7], 1 + np % 3);
			np++;
		}
		for (unsigned int s = 0; s < o->nsizes; s++) {
			const struct cell *x = find(e->c->key, o->sizes[s]);

			if (usable(x))
				fprintf(f, "%zu %.1f %.1f\n", x->size, median_of(x->p50, x->rounds),
					median_of(x->p99, x->rounds));
		}
	}
	if (fclose(st)) {
		fprintf(stderr, "bench: %s: %s\n", styles, strerror(errno));
		fclose(f);
		return -1;
	}
	if (fclose(f)) {
		fprintf(stderr, "bench: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* ---- main ----------------------------------------------------------------- */

static void usage(void)
{
	fprintf(stderr, "usage: ipc [-r ROUNDS] [-s SIZE,...] [-n MAX_SAMPLES] [-L LAT_MS] "
			"[-T TPUT_MS]\n"
			"           [-k KEY,...] [-o DIR] [-u 'SYSTEM: reason']...\n");
	exit(2);
}

static unsigned long parse_ul(const char *s, unsigned long min, unsigned long max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < min || v > max)
		usage();
	return v;
}

static bool selected(const struct opts *o, const char *key)
{
	char buf[256], *tok, *save;

	if (!o->keys)
		return true;
	snprintf(buf, sizeof(buf), "%s", o->keys);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		if (!strncmp(key, tok, strlen(tok)))
			return true;
	return false;
}

int main(int argc, char **argv)
{
	const struct ipc_case_list *lists[] = {
		&ipc_raw_cases,	 &ipc_cell_cases, &ipc_iox_cases,
		&ipc_grpc_cases, &ipc_zmq_cases,  &ipc_nng_cases,
	};
	const unsigned int nlists = sizeof(lists) / sizeof(lists[0]);
	bool list_ok[sizeof(lists) / sizeof(lists[0])];
	char list_why[sizeof(lists) / sizeof(lists[0])][160];
	struct opts o = {
		.rounds = 5,
		.sizes = { 64, 1024, 65536, 1048576 },
		.nsizes = 4,
		.max_samples = 20000,
		.lat_ms = 400,
		.tput_ms = 300,
		.dir = ".",
	};
	struct shared_res *res;
	char path[4096], styles[4096], *tok, *save;
	struct utsname u;
	unsigned int ntotal = 0;
	double loads[3] = { 0 };
	int c, rc = 0;
	FILE *lf;

	while ((c = getopt(argc, argv, "r:s:n:L:T:k:o:u:")) != -1) {
		switch (c) {
		case 'r':
			o.rounds = (unsigned int)parse_ul(optarg, 1, MAX_ROUNDS);
			break;
		case 's':
			o.nsizes = 0;
			for (tok = strtok_r(optarg, ",", &save); tok && o.nsizes < MAX_SIZES;
			     tok = strtok_r(NULL, ",", &save))
				o.sizes[o.nsizes++] = parse_ul(tok, 8, 64UL << 20);
			if (!o.nsizes)
				usage();
			break;
		case 'n':
			o.max_samples = (unsigned int)parse_ul(optarg, 10, 10000000);
			break;
		case 'L':
			o.lat_ms = (unsigned int)parse_ul(optarg, 1, 600000);
			break;
		case 'T':
			o.tput_ms = (unsigned int)parse_ul(optarg, 1, 600000);
			break;
		case 'k':
			o.keys = optarg;
			break;
		case 'o':
			o.dir = optarg;
			break;
		case 'u':
			if (o.nunavail < MAX_UNAVAIL)
				o.unavail[o.nunavail++] = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2) {
		fprintf(stderr, "bench: needs CPUs %d and %d\n", CPU_CLIENT, CPU_SERVER);
		return 4;
	}
	mkdir(o.dir, 0755);
	snprintf(path, sizeof(path), "%s/ipc.md", o.dir);
	md = fopen(path, "w");
	if (!md) {
		fprintf(stderr, "bench: %s: %s\n", path, strerror(errno));
		return 1;
	}
	samples = calloc(o.max_samples, sizeof(*samples));
	res = mmap(NULL, sizeof(*res), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (!samples || res == MAP_FAILED) {
		perror("bench");
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	calibrate();
	uname(&u);
	lf = fopen("/proc/loadavg", "r");
	if (lf) {
		if (fscanf(lf, "%lf %lf %lf", &loads[0], &loads[1], &loads[2]) != 3)
			loads[0] = loads[1] = loads[2] = NAN;
		fclose(lf);
	}

	out("# ipc: Cell, its floors and its peers, one run\n\n");
	out("%s %s, %ld CPUs online, load average %.2f %.2f %.2f at start; client on CPU %d, "
	    "server on CPU %d, separate processes.\n",
	    u.sysname, u.release, sysconf(_SC_NPROCESSORS_ONLN), loads[0], loads[1], loads[2],
	    CPU_CLIENT, CPU_SERVER);
	out("Timer %s (%.4f ns/tick), included in every sample. %u rounds; per run: warm-up "
	    "(<= 2000 calls or 100 ms), up to %u timed calls or %u ms, then calls/s over %u "
	    "ms.\n\n",
	    TIMER_NAME, ns_per_tick, o.rounds, o.max_samples, o.lat_ms, o.tput_ms);

	/* Systems that were not built, then those whose setup fails. */
	for (unsigned int i = 0; i < o.nunavail; i++) {
		const char *colon = strchr(o.unavail[i], ':');

		if (colon)
			out("%.*s: not available on this machine:%s\n", (int)(colon - o.unavail[i]),
			    o.unavail[i], colon + 1);
		else
			out("%s: not available on this machine\n", o.unavail[i]);
	}
	for (unsigned int l = 0; l < nlists; l++) {
		list_ok[l] = lists[l] != NULL && lists[l]->n > 0;
		list_why[l][0] = 0;
		if (!list_ok[l])
			continue;
		for (unsigned int k = 0; k < lists[l]->n; k++)
			if (selected(&o, lists[l]->cases[k].key))
				ntotal++;
	}
	cells = calloc((size_t)ntotal * o.nsizes, sizeof(*cells));
	if (!cells) {
		perror("bench");
		return 1;
	}
	for (unsigned int l = 0; l < nlists; l++) {
		bool any = false;

		if (!list_ok[l])
			continue;
		for (unsigned int k = 0; k < lists[l]->n; k++)
			any |= selected(&o, lists[l]->cases[k].key);
		if (!any)
			continue;
		if (lists[l]->setup && lists[l]->setup(list_why[l], sizeof(list_why[l]))) {
			list_ok[l] = false;
			out("%s: not available on this machine: %s\n", lists[l]->system,
			    list_why[l]);
		}
		for (unsigned int k = 0; k < lists[l]->n; k++) {
			const struct ipc_case *cs = &lists[l]->cases[k];

			if (!selected(&o, cs->key))
				continue;
			for (unsigned int s = 0; s < o.nsizes; s++) {
				struct cell *e = &cells[ncells++];

				e->c = cs;
				e->size = o.sizes[s];
				snprintf(e->path, sizeof(e->path), "-");
				if (!list_ok[l]) {
					e->skip = true;
					snprintf(e->why, sizeof(e->why), "%.150s", list_why[l]);
				} else if (cs->avail &&
					   cs->avail(e->size, e->why, sizeof(e->why))) {
					e->skip = true;
				}
			}
		}
	}

	for (unsigned int r = 0; r < o.rounds; r++) {
		uint64_t t0 = mono_ns();

		for (unsigned int i = 0; i < ncells; i++) {
			struct cell *e = &cells[i];

			if (e->skip || e->failed)
				continue;
			if (run_one(e, &o, res)) {
				fprintf(stderr, "bench: %s %zu B: round %u failed\n", e->c->key,
					e->size, r + 1);
				e->failed = true;
				rc = 1;
				continue;
			}
			e->p50[e->rounds] = res->p50;
			e->p99[e->rounds] = res->p99;
			e->p999[e->rounds] = res->p999;
			e->mean[e->rounds] = res->mean;
			e->cps[e->rounds] = res->cps;
			e->samples = res->samples;
			e->depth = res->depth;
			snprintf(e->path, sizeof(e->path), "%s", res->path);
			e->rounds++;
		}
		fprintf(stderr, "  ipc round %u/%u done (%.1f s)\n", r + 1, o.rounds,
			(double)(mono_ns() - t0) / 1e9);
	}
	for (unsigned int l = 0; l < nlists; l++)
		if (list_ok[l] && lists[l]->teardown)
			lists[l]->teardown();

	lf = fopen("/proc/loadavg", "r");
	if (lf) {
		if (fscanf(lf, "%lf %lf %lf", &loads[0], &loads[1], &loads[2]) != 3)
			loads[0] = loads[1] = loads[2] = NAN;
		fclose(lf);
	}
	print_tables(&o);
	print_targets(&o);
	out("\nload average at the end: %.2f %.2f %.2f\n", loads[0], loads[1], loads[2]);
	snprintf(path, sizeof(path), "%s/ipc.csv", o.dir);
	if (write_csv(path, &o))
		rc = 1;
	snprintf(path, sizeof(path), "%s/ipc-plot.dat", o.dir);
	snprintf(styles, sizeof(styles), "%s/ipc-plot.styles", o.dir);
	if (write_plot_data(path, styles, &o))
		rc = 1;
	printf("\ntable: %s/ipc.md, csv: %s/ipc.csv, plot data: %s/ipc-plot.dat\n", o.dir, o.dir,
	       o.dir);
	fclose(md);
	free(cells);
	free(samples);
	return rc;
}
