// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * cell top [-j] [-a] [-i MS] [-n COUNT]: live per-method figures of every
 * local cell, refreshed every second on an ANSI screen (no curses).
 *
 *   CELL  METHOD  RATE/S  P50_US  P99_US  CALLS  ERRORS
 *
 * Every interval it asks celld for the local cells and each cell for its
 * metrics (CELL_METHOD_METRICS, collect.c).  RATE, P50 and P99 are of the
 * last interval: the difference of two snapshots, bucket by bucket, so a
 * quantile is that of the calls made in the interval (within the
 * histograms' 1/32); CALLS and ERRORS are totals.  Cell's own methods
 * (PING, METRICS, ...; top's own questions are among them) are left out
 * unless -a.  Cells without metrics are listed as such.
 *
 * -j: one-shot JSON, two snapshots one interval apart: {"interval_ms",
 * "cells": [{"name", "pid", "up", "ping_us", "metrics", "methods":
 * [{"method", "rate", "p50_ns", "p99_ns", "calls", "errors"}]}]}.
 * -n COUNT: stop after COUNT screens.  q, or Ctrl-C, quits.
 */
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cell.h"
#include "collect.h"
#include "jsonout.h"

#define TOP_TIMEOUT_MS 1000

struct seen_cell {
	struct collect_cell id;
	struct collect_result r;
	uint64_t at_ns; /* when its metrics were taken */
};

struct round {
	struct seen_cell *cells;
	size_t n;
};

static volatile sig_atomic_t quit;

static void on_signal(int sig)
{
	(void)sig;
	quit = 1;
}

static int top_usage(FILE *out)
{
	fputs("usage: cell top [-j] [-a] [-i INTERVAL_MS] [-n COUNT]\n"
	      "  -j  one-shot JSON   -a  Cell's own methods too   -i  refresh (1000 ms)\n"
	      "  -n  stop after COUNT screens   q or Ctrl-C quits\n",
	      out);
	return out == stdout ? 0 : 2;
}

static void round_free(struct round *r)
{
	for (size_t i = 0; r->cells && i < r->n; i++)
		cell_metrics_snapshot_free(r->cells[i].r.snap);
	free(r->cells);
	r->cells = NULL;
	r->n = 0;
}

static int take_round(struct round *r, char *err, size_t cap)
{
	struct collect_cell *cells;
	size_t n;

	if (collect_list_local(NULL, TOP_TIMEOUT_MS, &cells, &n, err, cap))
		return -1;
	r->cells = calloc(n ? n : 1, sizeof(*r->cells));
	if (!r->cells) {
		free(cells);
		snprintf(err, cap, "out of memory");
		return -1;
	}
	r->n = n;
	for (size_t i = 0; i < n; i++) {
		r->cells[i].id = cells[i];
		collect_metrics(NULL, cells[i].name, cells[i].fingerprint, TOP_TIMEOUT_MS,
				&r->cells[i].r);
		r->cells[i].at_ns = cell_now_ns();
	}
	free(cells);
	return 0;
}

static const struct seen_cell *find_cell(const struct round *r, const struct collect_cell *id)
{
	for (size_t i = 0; r && i < r->n; i++)
		if (r->cells[i].id.pid == id->pid && !strcmp(r->cells[i].id.name, id->name))
			return &r->cells[i];
	return NULL;
}

/* The @q quantile of the values recorded between @prev (may be NULL) and @cur. */
static uint64_t delta_quantile(const struct cell_hist *cur, const struct cell_hist *prev, double q,
			       uint64_t *total)
{
	unsigned int nb = cell_hist_bucket_count();
	uint64_t lo, hi, rank, seen = 0, plo, phi;

	*total = 0;
	for (unsigned int i = 0; i < nb; i++) {
		uint64_t c = cell_hist_bucket(cur, i, &lo, &hi);
		uint64_t p = prev ? cell_hist_bucket(prev, i, &plo, &phi) : 0;

		*total += c > p ? c - p : 0;
	}
	if (!*total)
		return 0;
	rank = (uint64_t)ceil(q * (double)*total);
	rank = rank ? rank : 1;
	for (unsigned int i = 0; i < nb; i++) {
		uint64_t c = cell_hist_bucket(cur, i, &lo, &hi);
		uint64_t p = prev ? cell_hist_bucket(prev, i, &plo, &phi) : 0;

		seen += c > p ? c - p : 0;
		if (seen >= rank)
			return hi == UINT64_MAX ? lo : lo + (hi - lo) / 2;
	}
	return 0;
}

/* One method's figures over the interval. */
struct figures {
	double rate;
	uint64_t p50, p99, calls, errors;
};

static void figures_of(const struct cell_method_stats *st, const struct seen_cell *now,
		       const struct seen_cell *before, struct figures *f)
{
	const struct cell_method_stats *old = NULL;
	uint64_t total;
	double dt;

	if (before && before->r.snap)
		old = cell_metrics_snapshot_find(before->r.snap, cell_method_stats_method(st));
	f->calls = cell_method_stats_calls(st);
	f->errors = cell_method_stats_errors(st);
	f->p50 = delta_quantile(cell_method_stats_latency(st),
				old ? cell_method_stats_latency(old) : NULL, 0.5, &total);
	f->p99 = delta_quantile(cell_method_stats_latency(st),
				old ? cell_method_stats_latency(old) : NULL, 0.99, &total);
	dt = before ? (double)(now->at_ns - before->at_ns) / 1e9 : 0;
	f->rate = dt > 0 ? (double)total / dt : -1;
}

static bool shown(const struct cell_method_stats *st, bool all)
{
	return all || cell_method_stats_method(st) < CELL_METHOD_CONTROL_BASE;
}

static void draw(const struct round *now, const struct round *before, bool all,
		 unsigned int interval_ms)
{
	char when[32], mbuf[8];
	time_t t = time(NULL);

	strftime(when, sizeof(when), "%H:%M:%S", localtime(&t));
	/* Home, clear: the whole screen is redrawn each time. */
	printf("\x1b[H\x1b[2J\x1b[1mcell top\x1b[0m  %zu cells  %s  every %u ms  (q quits)\r\n\r\n",
	       now->n, when, interval_ms);
	printf("\x1b[7m%-24s %-10s %10s %10s %10s %12s %8s\x1b[0m\r\n", "CELL", "METHOD", "RATE/S",
	       "P50_US", "P99_US", "CALLS", "ERRORS");
	for (size_t i = 0; i < now->n; i++) {
		const struct seen_cell *c = &now->cells[i];
		const struct seen_cell *b = find_cell(before, &c->id);
		size_t rows = 0;

		for (size_t m = 0; c->r.snap && m < cell_metrics_snapshot_count(c->r.snap); m++) {
			const struct cell_method_stats *st =
				cell_metrics_snapshot_method(c->r.snap, m);
			struct figures f;

			if (!shown(st, all))
				continue;
			figures_of(st, c, b, &f);
			if (f.rate < 0)
				printf("%-24s %-10s %10s", c->id.name,
				       collect_method_name(cell_method_stats_method(st), mbuf),
				       "-");
			else
				printf("%-24s %-10s %10.1f", c->id.name,
				       collect_method_name(cell_method_stats_method(st), mbuf),
				       f.rate);
			printf(" %10.1f %10.1f %12" PRIu64 " %8" PRIu64 "\r\n", f.p50 / 1e3,
			       f.p99 / 1e3, f.calls, f.errors);
			rows++;
		}
		if (!rows)
			printf("%-24s %-10s %s\r\n", c->id.name, "-",
			       !c->r.up					      ? "down"
			       : c->r.snap				      ? "no calls yet"
			       : c->r.metrics_status == CELL_STATUS_NOT_FOUND ? "keeps no metrics"
									      : "metrics failed");
	}
	fflush(stdout);
}

static void print_json(const struct round *now, const struct round *before, bool all,
		       unsigned int interval_ms)
{
	printf("{\"interval_ms\":%u,\"cells\":[", interval_ms);
	for (size_t i = 0; i < now->n; i++) {
		const struct seen_cell *c = &now->cells[i];
		const struct seen_cell *b = find_cell(before, &c->id);
		bool first = true;
		uint64_t g[2];

		printf("%s{\"name\":", i ? "," : "");
		json_put_cstr(stdout, c->id.name);
		printf(",\"pid\":%d,\"up\":%s,\"ping_us\":%u,\"metrics\":%s", (int)c->id.pid,
		       c->r.up ? "true" : "false", c->r.ping_us, c->r.snap ? "true" : "false");
		/* The gauges, from cells whose libcell answers METRICS version 2. */
		if (c->r.snap &&
		    !cell_metrics_snapshot_gauge(c->r.snap, CELL_METRICS_INFLIGHT, &g[0]) &&
		    !cell_metrics_snapshot_gauge(c->r.snap, CELL_METRICS_CLIENTS, &g[1]))
			printf(",\"inflight\":%" PRIu64 ",\"clients\":%" PRIu64, g[0], g[1]);
		fputs(",\"methods\":[", stdout);
		for (size_t m = 0; c->r.snap && m < cell_metrics_snapshot_count(c->r.snap); m++) {
			const struct cell_method_stats *st =
				cell_metrics_snapshot_method(c->r.snap, m);
			struct figures f;

			if (!shown(st, all))
				continue;
			figures_of(st, c, b, &f);
			printf("%s{\"method\":%u,\"rate\":%.3f,\"p50_ns\":%" PRIu64 ",\"p99_ns\":"
			       "%" PRIu64 ",\"calls\":%" PRIu64 ",\"errors\":%" PRIu64 "}",
			       first ? "" : ",", cell_method_stats_method(st),
			       f.rate < 0 ? 0 : f.rate, f.p50, f.p99, f.calls, f.errors);
			first = false;
		}
		fputs("]}", stdout);
	}
	puts("]}");
}

/* Sleep up to @ms; true if 'q' was typed (stdin a terminal in raw mode). */
static bool wait_key(unsigned int ms, bool tty)
{
	struct pollfd p = { .fd = 0, .events = POLLIN };
	char ch;

	if (!tty) {
		struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

		nanosleep(&ts, NULL);
		return false;
	}
	if (poll(&p, 1, (int)ms) > 0 && read(0, &ch, 1) == 1)
		return ch == 'q' || ch == 'Q';
	return false;
}

static int run_screen(bool all, unsigned int interval_ms, long count)
{
	struct round before = { 0 }, now = { 0 };
	struct termios saved, raw;
	bool tty = isatty(0) && !tcgetattr(0, &saved);
	char err[256];
	int rc = 0;

	if (tty) {
		raw = saved;
		raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		tcsetattr(0, TCSANOW, &raw);
	}
	printf("\x1b[?25l"); /* no cursor */
	for (long i = 0; !quit && (count <= 0 || i < count); i++) {
		if (take_round(&now, err, sizeof(err))) {
			printf("\x1b[H\x1b[2Jcell top: %s\r\n", err);
			fflush(stdout);
			rc = 1;
		} else {
			draw(&now, before.cells ? &before : NULL, all, interval_ms);
			round_free(&before);
			before = now;
			now = (struct round){ 0 };
		}
		if ((count <= 0 || i + 1 < count) && wait_key(interval_ms, tty))
			break;
	}
	round_free(&before);
	printf("\x1b[?25h\r\n");
	if (tty)
		tcsetattr(0, TCSANOW, &saved);
	return rc;
}

int cell_cmd_top(int argc, char **argv)
{
	struct round before = { 0 }, now = { 0 };
	unsigned int interval_ms = 1000;
	bool json = false, all = false;
	struct sigaction sa = { .sa_handler = on_signal };
	long count = 0;
	char err[256];
	char *end;
	int opt;

	optind = 1;
	while ((opt = getopt(argc, argv, "jai:n:h")) != -1) {
		switch (opt) {
		case 'j':
			json = true;
			break;
		case 'a':
			all = true;
			break;
		case 'i':
			interval_ms = (unsigned int)strtoul(optarg, &end, 10);
			if (*end || interval_ms < 10 || interval_ms > 60000)
				return top_usage(stderr);
			break;
		case 'n':
			count = strtol(optarg, &end, 10);
			if (*end || count <= 0)
				return top_usage(stderr);
			break;
		default:
			return top_usage(opt == 'h' ? stdout : stderr);
		}
	}
	if (optind != argc)
		return top_usage(stderr);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (!json)
		return run_screen(all, interval_ms, count);
	if (take_round(&before, err, sizeof(err))) {
		fprintf(stderr, "cell top: %s\n", err);
		return 1;
	}
	wait_key(interval_ms, false);
	if (take_round(&now, err, sizeof(err))) {
		fprintf(stderr, "cell top: %s\n", err);
		round_free(&before);
		return 1;
	}
	print_json(&now, &before, all, interval_ms);
	round_free(&before);
	round_free(&now);
	return 0;
}
