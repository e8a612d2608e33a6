// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * make bench: round-trip time (RTT) of Cell's fast paths and of the raw
 * mechanisms under them, on two pinned threads and on two pinned
 * processes, with the ratios against the targets.
 *
 *   fastpath [-r RUNS] [-n SPIN_SAMPLES] [-s SLEEP_SAMPLES] [-o CSV]
 *	      [-m threads|processes] [-x ROWS] [-C REASON]
 *
 * Each row is measured RUNS times (default 11), round-robin over the rows;
 * a run starts the peer afresh, does a warm-up of 10% then the samples
 * (default 200000 for spin rows, 10000 for sleeping rows), each sample one
 * round trip timed on its own (rdtsc on x86-64, calibrated against
 * CLOCK_MONOTONIC; clock_gettime elsewhere).  A run gives p50, p99 and
 * mean; the table shows the median over the runs of each, and the spread
 * of the runs' p50s.  -x picks rows (e.g. -x 1,4), -m one mode, -C says
 * why the Cell rows were not built.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fastpath.h"
#include "ticks.h"

struct opts {
	unsigned int runs;
	unsigned int spin_samples;
	unsigned int sleep_samples;
	const char *csv;
	int modes;     /* bit per enum bench_mode */
	unsigned rows; /* bit per row id */
	const char *cell_missing;
};

/* One row in one mode: the medians over the runs. */
#define MAX_RUNS 101

struct result {
	const struct bench_row *row;
	enum bench_mode mode;
	bool ok; /* every run so far worked */
	char path[32];
	bool path_ok;
	unsigned int runs;
	unsigned int samples;
	double run_p50[MAX_RUNS], run_p99[MAX_RUNS], run_mean[MAX_RUNS]; /* ns */
	double run_slept[MAX_RUNS]; /* row->slept, if it has one */
	double p50, p99, mean;	    /* ns, median over the runs */
	double slept;
	double p50_min, p50_max;
};

static const char *const mode_name[] = { "threads", "processes" };

static double median(double *v, unsigned int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Cost of the timer itself: the median of back-to-back reads, ns. */
static double timer_overhead(void)
{
	enum {
		N = 10001
	};
	static uint64_t s[N];

	for (unsigned int i = 0; i < N; i++) {
		uint64_t t0 = ticks_begin();

		s[i] = ticks_end() - t0;
	}
	qsort(s, N, sizeof(s[0]), cmp_u64);
	return (double)s[N / 2] * ns_per_tick;
}

#ifndef BENCH_CELL
/* This binary was built without libcell's RPC client and server. */
const struct bench_row bench_cell_rows[1];
const unsigned int bench_cell_rows_n;
#endif

/* ---- pinning and the peer ------------------------------------------------- */

static int pin(int cpu)
{
	cpu_set_t set;
	int err;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	err = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	if (err) {
		fprintf(stderr, "bench: pin to CPU %d: %s\n", cpu, strerror(err));
		return -1;
	}
	return 0;
}

int bench_ready(int fd)
{
	char b = 'r';

	if (write(fd, &b, 1) != 1) {
		perror("bench: ready");
		return -1;
	}
	return 0;
}

struct peer_arg {
	const struct bench_row *row;
	void *ctx;
	int ready_fd;
	int rc;
};

static void *peer_thread(void *p)
{
	struct peer_arg *a = p;

	a->rc = pin(BENCH_CPU_PONG);
	if (!a->rc)
		a->rc = a->row->serve(a->ctx, BENCH_THREADS, a->ready_fd);
	close(a->ready_fd);
	return NULL;
}

/* ---- one row -------------------------------------------------------------- */

static uint64_t *samples;

static void run_stats(uint64_t *s, unsigned int n, double *p50, double *p99, double *mean)
{
	long double sum = 0;

	for (unsigned int i = 0; i < n; i++)
		sum += s[i];
	qsort(s, n, sizeof(s[0]), cmp_u64);
	*p50 = (double)s[n / 2] * ns_per_tick;
	*p99 = (double)s[(uint64_t)n * 99 / 100] * ns_per_tick;
	*mean = (double)(sum / n) * ns_per_tick;
}

/* One run: a warm-up, then the timed samples. */
static int measure(const struct bench_row *row, void *ctx, const struct opts *o, struct result *res)
{
	unsigned int n = row->sleeping ? o->sleep_samples : o->spin_samples;
	unsigned int warm = n / 10 ? n / 10 : 1;
	unsigned int r = res->runs;

	for (unsigned int i = 0; i < warm; i++)
		if (row->roundtrip(ctx))
			return -1;
	for (unsigned int i = 0; i < n; i++) {
		uint64_t t0 = ticks_begin();

		if (row->roundtrip(ctx))
			return -1;
		samples[i] = ticks_end() - t0;
	}
	run_stats(samples, n, &res->run_p50[r], &res->run_p99[r], &res->run_mean[r]);
	if (row->slept)
		res->run_slept[r] = row->slept(ctx);
	res->samples = n;
	res->runs++;
	return 0;
}

/* The medians over the runs. */
static void summarize(struct result *res)
{
	double v[MAX_RUNS];
	unsigned int n = res->runs;

	if (!n) {
		res->ok = false;
		return;
	}
	res->p50_min = res->p50_max = res->run_p50[0];
	for (unsigned int r = 1; r < n; r++) {
		res->p50_min = fmin(res->p50_min, res->run_p50[r]);
		res->p50_max = fmax(res->p50_max, res->run_p50[r]);
	}
	memcpy(v, res->run_p50, n * sizeof(v[0]));
	res->p50 = median(v, n);
	memcpy(v, res->run_p99, n * sizeof(v[0]));
	res->p99 = median(v, n);
	memcpy(v, res->run_mean, n * sizeof(v[0]));
	res->mean = median(v, n);
	memcpy(v, res->run_slept, n * sizeof(v[0]));
	res->slept = median(v, n);
}

/* One run of @row in @mode: start the peer, measure, stop it.  Return 0 or -1. */
static int bench_run(const struct bench_row *row, enum bench_mode mode, const struct opts *o,
		     struct result *res)
{
	struct bench_link l = { .mode = mode, .pid = -1 };
	struct peer_arg arg = { .row = row };
	int pfd[2], status = 0, rc = -1;
	char b;

	fflush(stdout);
	fflush(stderr);

	l.ctx = row->prepare(mode);
	if (!l.ctx)
		return -1;
	if (pipe2(pfd, O_CLOEXEC)) {
		perror("bench: pipe");
		goto out_destroy;
	}
	if (mode == BENCH_THREADS) {
		arg.ctx = l.ctx;
		arg.ready_fd = pfd[1];
		if ((errno = pthread_create(&l.thread, NULL, peer_thread, &arg))) {
			perror("bench: pthread_create");
			close(pfd[1]);
			goto out_pipe;
		}
	} else {
		l.pid = fork();
		if (l.pid < 0) {
			perror("bench: fork");
			close(pfd[1]);
			goto out_pipe;
		}
		if (l.pid == 0) {
			close(pfd[0]);
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() == 1)
				_exit(1);
			rc = pin(BENCH_CPU_PONG);
			if (!rc)
				rc = row->serve(l.ctx, mode, pfd[1]);
			fflush(NULL);
			_exit(rc ? 1 : 0);
		}
		close(pfd[1]);
	}

	if (read(pfd[0], &b, 1) != 1) {
		fprintf(stderr, "bench: row %d (%s): the peer failed to start\n", row->id,
			mode_name[mode]);
		goto out_stop;
	}
	if (row->connect(&l))
		goto out_stop;
	snprintf(res->path, sizeof(res->path), "%s", row->path(l.ctx));
	/* Every run must take the row's path. */
	res->path_ok = row->path_ok(l.ctx) && (res->runs == 0 || res->path_ok);
	rc = measure(row, l.ctx, o, res);

out_stop:
	row->stop(&l);
	if (mode == BENCH_THREADS) {
		pthread_join(l.thread, NULL);
		if (arg.rc)
			rc = -1;
	} else {
		while (waitpid(l.pid, &status, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(status) || WEXITSTATUS(status)) {
			fprintf(stderr,
				"bench: row %d (processes): the peer failed (status 0x%x)\n",
				row->id, status);
			rc = -1;
		}
	}
out_pipe:
	close(pfd[0]);
out_destroy:
	row->destroy(&l);
	return rc;
}

/* ---- output --------------------------------------------------------------- */

struct target {
	int row, base;
	double max;
	const char *what;
};

static const struct target targets[] = {
	{ 4, 1, 1.25, "SHM spin p50 <= 1.25x cache-line floor" },
	{ 5, 2, 1.10, "SHM blocking p50 <= 1.1x raw futex" },
	{ 6, 3, 1.10, "unix p50 <= 1.1x raw socket" },
};

static const struct result *find(const struct result *r, unsigned int n, enum bench_mode mode,
				 int id)
{
	for (unsigned int i = 0; i < n; i++)
		if (r[i].mode == mode && r[i].row->id == id)
			return &r[i];
	return NULL;
}

static const struct target *target_of(int id)
{
	for (unsigned int i = 0; i < sizeof(targets) / sizeof(targets[0]); i++)
		if (targets[i].row == id)
			return &targets[i];
	return NULL;
}

/* Median over the rounds of r's p50 / b's p50 in the same round (runs alternate). */
static double paired(const struct result *r, const struct result *b)
{
	double v[MAX_RUNS];
	unsigned int n = r->runs < b->runs ? r->runs : b->runs;

	for (unsigned int k = 0; k < n; k++)
		v[k] = r->run_p50[k] / b->run_p50[k];
	return n ? median(v, n) : NAN;
}

/*
 * "met", "not met", or why there is no verdict; *ratio (the paired ratio
 * of p50s) < 0 when there is none.
 */
static const char *verdict(const struct result *all, unsigned int n, const struct result *r,
			   double *ratio)
{
	const struct target *t = target_of(r->row->id);
	const struct result *b;

	*ratio = -1;
	if (!t)
		return "";
	b = find(all, n, r->mode, t->base);
	if (!r->ok)
		return "failed";
	if (!r->path_ok)
		return "wrong path";
	if (!b || !b->ok)
		return "no baseline";
	*ratio = paired(r, b);
	return *ratio <= t->max ? "met" : "not met";
}

static void print_table(const struct result *all, unsigned int n, const struct opts *o)
{
	printf("\n%-9s %-2s %-30s %-9s %7s %9s %9s %9s %17s %6s\n", "mode", "#", "row", "path",
	       "samples", "p50 ns", "p99 ns", "mean ns", "p50 runs min-max", "slept");
	for (unsigned int i = 0; i < n; i++) {
		const struct result *r = &all[i];

		if (!r->ok) {
			printf("%-9s %-2d %-30s %-9s FAILED (see the errors above)\n",
			       mode_name[r->mode], r->row->id, r->row->name, r->path);
			continue;
		}
		printf("%-9s %-2d %-30s %-9s %7u %9.0f %9.0f %9.0f %8.0f-%-8.0f",
		       mode_name[r->mode], r->row->id, r->row->name, r->path, r->samples, r->p50,
		       r->p99, r->mean, r->p50_min, r->p50_max);
		if (r->row->slept)
			printf(" %5.1f%%\n", 100 * r->slept);
		else
			printf(" %6s\n", "-");
	}
	if (!bench_cell_rows_n) {
		printf("\ncell rows: not built yet (%s)\n",
		       o->cell_missing ? o->cell_missing : "built without libcell");
		return;
	}
	printf("\n%-9s %-5s %-40s %7s  %-8s %9s %9s\n", "mode", "ratio", "target", "p50 *",
	       "verdict", "p50/p50", "mean/mean");
	for (unsigned int i = 0; i < n; i++) {
		const struct result *r = &all[i];
		const struct target *t = target_of(r->row->id);
		const struct result *b;
		const char *v;
		double ratio;

		if (!t)
			continue;
		v = verdict(all, n, r, &ratio);
		if (ratio < 0) {
			printf("%-9s %d/%-3d %-40s %7s  %s\n", mode_name[r->mode], t->row, t->base,
			       t->what, "-", v);
			continue;
		}
		b = find(all, n, r->mode, t->base);
		printf("%-9s %d/%-3d %-40s %7.3f  %-8s %9.3f %9.3f\n", mode_name[r->mode], t->row,
		       t->base, t->what, ratio, v, r->p50 / b->p50, r->mean / b->mean);
	}
	printf("  * the verdict's ratio: the median over the rounds of (row p50 / baseline p50),\n"
	       "    both p50s from the same round; for information, p50/p50 divides the table's\n"
	       "    medians and mean/mean the medians of the means\n");
}

static int write_csv(const char *path, const struct result *all, unsigned int n)
{
	FILE *f = fopen(path, "w");

	if (!f) {
		fprintf(stderr, "bench: %s: %s\n", path, strerror(errno));
		return -1;
	}
	fprintf(f, "mode,row,name,path,runs,samples_per_run,p50_ns,p99_ns,mean_ns,"
		   "p50_min_ns,p50_max_ns,slept_share,baseline_row,ratio_p50_paired,target_max,"
		   "verdict,"
		   "ratio_p50_medians,"
		   "run_p50s_ns\n");
	for (unsigned int i = 0; i < n; i++) {
		const struct result *r = &all[i];
		const struct target *t = target_of(r->row->id);
		const char *v;
		double ratio;

		if (!r->ok)
			continue;
		v = verdict(all, n, r, &ratio);
		fprintf(f, "%s,%d,%s,%s,%u,%u,%.1f,%.1f,%.1f,%.1f,%.1f,", mode_name[r->mode],
			r->row->id, r->row->name, r->path, r->runs, r->samples, r->p50, r->p99,
			r->mean, r->p50_min, r->p50_max);
		if (r->row->slept)
			fprintf(f, "%.4f,", r->slept);
		else
			fprintf(f, ",");
		if (t && ratio >= 0)
			fprintf(f, "%d,%.4f,%.2f,%s,%.4f,", t->base, ratio, t->max, v,
				r->p50 / find(all, n, r->mode, t->base)->p50);
		else if (t)
			fprintf(f, "%d,,%.2f,%s,,", t->base, t->max, v);
		else
			fprintf(f, ",,,,,");
		for (unsigned int k = 0; k < r->runs; k++)
			fprintf(f, "%s%.0f", k ? ";" : "", r->run_p50[k]);
		fprintf(f, "\n");
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
	fprintf(stderr, "usage: fastpath [-r RUNS] [-n SPIN_SAMPLES] [-s SLEEP_SAMPLES] [-o CSV]\n"
			"                [-m threads|processes] [-x ROW,...] [-C REASON]\n");
	exit(2);
}

static unsigned int parse_uint(const char *s, unsigned int min, unsigned int max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < min || v > max)
		usage();
	return (unsigned int)v;
}

int main(int argc, char **argv)
{
	struct opts o = {
		.runs = 11,
		.spin_samples = 200000,
		.sleep_samples = 10000,
		.modes = 3,
		.rows = 0x7e,
	};
	const struct bench_row *rows[6];
	unsigned int nrows = 0, nres = 0, max_samples;
	struct result *res;
	struct utsname u;
	int c, rc = 0;
	char *tok;

	while ((c = getopt(argc, argv, "r:n:s:o:m:x:C:")) != -1) {
		switch (c) {
		case 'r':
			o.runs = parse_uint(optarg, 1, MAX_RUNS);
			break;
		case 'n':
			o.spin_samples = parse_uint(optarg, 100, 100000000);
			break;
		case 's':
			o.sleep_samples = parse_uint(optarg, 100, 100000000);
			break;
		case 'o':
			o.csv = optarg;
			break;
		case 'm':
			if (!strcmp(optarg, "threads"))
				o.modes = 1 << BENCH_THREADS;
			else if (!strcmp(optarg, "processes"))
				o.modes = 1 << BENCH_PROCESSES;
			else
				usage();
			break;
		case 'x':
			o.rows = 0;
			for (tok = strtok(optarg, ","); tok; tok = strtok(NULL, ","))
				o.rows |= 1U << parse_uint(tok, 1, 6);
			break;
		case 'C':
			o.cell_missing = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();

	for (unsigned int i = 0; i < 3; i++)
		if (o.rows & 1U << bench_raw_rows[i].id)
			rows[nrows++] = &bench_raw_rows[i];
	for (unsigned int i = 0; i < bench_cell_rows_n; i++)
		if (o.rows & 1U << bench_cell_rows[i].id)
			rows[nrows++] = &bench_cell_rows[i];

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2 || pin(BENCH_CPU_PING)) {
		fprintf(stderr, "bench: needs CPUs %d and %d\n", BENCH_CPU_PING, BENCH_CPU_PONG);
		return 4;
	}
	max_samples = o.spin_samples > o.sleep_samples ? o.spin_samples : o.sleep_samples;
	samples = calloc(max_samples, sizeof(*samples));
	res = calloc(2 * 6, sizeof(*res));
	if (!samples || !res) {
		perror("bench");
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* A peer that dies must not kill the measuring side with SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	calibrate();
	uname(&u);
	printf("fastpath: round-trip time, %u-byte payload where there is one, CPU %d <-> CPU %d\n",
	       BENCH_PAYLOAD, BENCH_CPU_PING, BENCH_CPU_PONG);
	printf("  %s %s, %ld CPUs online; timer %s (%.4f ns/tick, %.1f ns per read pair, "
	       "included in every sample)\n",
	       u.sysname, u.release, sysconf(_SC_NPROCESSORS_ONLN), TIMER_NAME, ns_per_tick,
	       timer_overhead());
	printf("  %u runs per row; per run: a warm-up of 10%%, then %u samples (spin rows) or %u "
	       "(sleeping rows);\n  columns are the median over the runs of each run's figure\n",
	       o.runs, o.spin_samples, o.sleep_samples);

	for (int mode = 0; mode < 2; mode++) {
		if (!(o.modes & 1 << mode))
			continue;
		for (unsigned int i = 0; i < nrows; i++) {
			struct result *r = &res[nres++];

			r->row = rows[i];
			r->mode = mode;
			r->ok = true;
			snprintf(r->path, sizeof(r->path), "-");
		}
	}
	/*
	 * Round-robin: run 1 of every row, then run 2 of every row...  so
	 * that the machine's noise, which drifts, falls on every row alike.
	 */
	for (unsigned int run = 0; run < o.runs; run++) {
		uint64_t t0 = mono_ns();

		for (unsigned int i = 0; i < nres; i++) {
			struct result *r = &res[i];

			if (!r->ok)
				continue;
			if (bench_run(r->row, r->mode, &o, r)) {
				fprintf(stderr, "bench: %s row %d (%s): run %u failed\n",
					mode_name[r->mode], r->row->id, r->row->name, run + 1);
				r->ok = false;
				rc = 1;
			}
		}
		fprintf(stderr, "  run %u/%u done (%.1f s)\n", run + 1, o.runs,
			(double)(mono_ns() - t0) / 1e9);
	}
	for (unsigned int i = 0; i < nres; i++)
		summarize(&res[i]);
	print_table(res, nres, &o);
	if (o.csv) {
		if (write_csv(o.csv, res, nres))
			rc = 1;
		else
			printf("\ncsv: %s\n", o.csv);
	}
	free(samples);
	free(res);
	return rc;
}
