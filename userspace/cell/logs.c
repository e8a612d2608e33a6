// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * cell logs NAME [-f] [-n N] [-j]: what a supervised cell wrote to its
 * stdout and stderr, from the log ring celld keeps for it (its nucleus
 * method "logs"; Documentation/capsid.rst, "Logs").
 *
 * Text: one line per record, "TIME STREAM LINE", TIME in UTC to the
 * microsecond, STREAM stdout or stderr ("stdout+" when the line was cut
 * at the ring's line limit and goes on in the next record), control bytes
 * of the line but tab as \xNN.  -j: one JSON object per record and line.
 * -n N: only the newest N.  -f: then the records that come, asking celld
 * every FOLLOW_MS for those after the last one seen, until SIGINT or
 * SIGTERM (exit 0).  Records lost because the ring wrapped are said on
 * stderr.  Exit status: 0; 1 when celld cannot be asked or does not
 * supervise NAME; 2 for a usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h> /* nanosleep */

#include <cell/rpc.h>
#include <cell/wire.h>

#include "cell.h"
#include "logs_fmt.h"
#include "nucleus.cell.h"

#define LOGS_TIMEOUT_MS 2000
#define FOLLOW_MS	200

static volatile sig_atomic_t stop_asked;

static void on_stop_signal(int sig)
{
	(void)sig;
	stop_asked = 1;
}

struct follow {
	const char *name;
	bool json, follow;
	uint32_t last;	 /* -n; 0: every record kept */
	uint64_t cursor; /* the last seq printed (or skipped) */
	uint64_t end;	 /* without -f: stop once cursor + 1 reaches it (0: not known yet) */
	bool none_old;	 /* -n 0: start after the newest record */
	bool told_dropped;
};

static int logs_usage(FILE *out)
{
	fputs("usage: cell logs NAME [-f] [-n N] [-j]\n"
	      "  -f    follow: print records as they come, until interrupted\n"
	      "  -n N  only the newest N records\n"
	      "  -j    one JSON object per record\n",
	      out);
	return out == stdout ? 0 : 2;
}

/* Print one answer.  Return: true when there is more to ask for now. */
static bool print_batch(struct follow *f, const struct nucleus_log_batch *b)
{
	const struct nucleus_log_record *recs;
	uint32_t count;

	if (!f->end)
		f->end = b->next_seq;
	if (f->none_old) {
		f->none_old = false;
		f->told_dropped = true;
		f->cursor = b->next_seq - 1;
		return false;
	}
	if (!f->told_dropped && !f->last && b->dropped && b->first_seq > f->cursor + 1) {
		fprintf(stderr, "cell logs: %s: %" PRIu64 " older records", f->name, b->dropped);
		fprintf(stderr, " (%" PRIu64 " bytes) were dropped: the ring (%u bytes) wrapped\n",
			b->dropped_bytes, b->size);
		f->told_dropped = true;
	}
	recs = nucleus_log_batch_records(b, &count);
	for (uint32_t i = 0; i < count; i++) {
		if (!f->follow && recs[i].seq >= f->end)
			return false;
		if (f->cursor && recs[i].seq > f->cursor + 1)
			fprintf(stderr,
				"cell logs: %s: %" PRIu64 " records lost: the ring wrapped\n",
				f->name, recs[i].seq - f->cursor - 1);
		cell_logs_print(stdout, f->json, b, &recs[i]);
		f->cursor = recs[i].seq;
	}
	f->told_dropped = true;
	return b->more && (f->follow || f->cursor + 1 < f->end);
}

/* One call.  Return: 0, or 1 after saying why on stderr; *@again: ask again at once. */
static int ask(struct cell_client *c, struct follow *f, bool *again)
{
	const struct nucleus_log_batch *resp;
	struct cell_response raw = { 0 };
	struct nucleus_log_query *req;
	struct cellc_builder b;
	struct cell_call *call = NULL;
	enum cell_status st;

	st = nucleus_logs_begin(c, NUCLEUS_LOG_QUERY_SIZE + strlen(f->name) + 8,
				cell_deadline_in_ms(LOGS_TIMEOUT_MS), &call, &b, &req);
	if (st == CELL_STATUS_OK) {
		req->after_seq = f->none_old ? UINT64_MAX - 1 : f->cursor;
		req->last = f->cursor ? 0 : f->last; /* -n applies to the first answer */
		if (nucleus_log_query_set_name_str(&b, req, f->name))
			st = CELL_STATUS_INVALID_ARGUMENT;
	}
	if (st == CELL_STATUS_OK)
		st = nucleus_logs_finish(call, &b, &resp, &raw);
	if (st != CELL_STATUS_OK) {
		fprintf(stderr, "cell logs: %s: %s%s%.*s\n", f->name, cell_status_name(st),
			raw.detail_len ? ": " : "", (int)raw.detail_len,
			raw.detail ? raw.detail : "");
		if (call)
			cell_call_end(call);
		return 1;
	}
	*again = print_batch(f, resp);
	cell_call_end(call);
	return 0;
}

static void catch_stop_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal; /* no SA_RESTART: the sleep ends at once */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

static int parse_args(int argc, char **argv, struct follow *f)
{
	static const struct option longopts[] = { { "follow", no_argument, NULL, 'f' },
						  { "lines", required_argument, NULL, 'n' },
						  { "json", no_argument, NULL, 'j' },
						  { "help", no_argument, NULL, 'h' },
						  { 0 } };
	unsigned long n;
	char *end;
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "fn:jh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'f':
			f->follow = true;
			break;
		case 'n':
			errno = 0;
			n = strtoul(optarg, &end, 10);
			if (*optarg < '0' || *optarg > '9' || *end || errno || n > UINT32_MAX) {
				fprintf(stderr, "cell logs: -n %s: a number of records\n", optarg);
				return 2;
			}
			f->last = (uint32_t)n;
			f->none_old = !n;
			break;
		case 'j':
			f->json = true;
			break;
		case 'h':
			return logs_usage(stdout) ? 2 : -1;
		default:
			return logs_usage(stderr);
		}
	}
	if (optind + 1 != argc)
		return logs_usage(stderr);
	f->name = argv[optind];
	return 0;
}

int cell_cmd_logs(int argc, char **argv)
{
	struct cell_client_opts co = nucleus_client_opts();
	struct follow f = { 0 };
	struct cell_client *c;
	bool again = true;
	int rc = parse_args(argc, argv, &f);

	if (rc)
		return rc < 0 ? 0 : rc;
	if (f.follow)
		catch_stop_signals();
	co.backend = CELL_RING_BACKEND_NONE;
	co.spin_ns = CELL_SPIN_NONE;
	co.connect_deadline = cell_deadline_in_ms(LOGS_TIMEOUT_MS);
	c = cell_client_connect("nucleus", &co);
	if (!c) {
		fprintf(stderr, "cell logs: cannot reach celld: %s (is celld running?)\n",
			cell_last_error(NULL));
		return 1;
	}
	while (!rc && !stop_asked && (f.follow || again)) {
		if (!again) {
			struct timespec ts = { 0, FOLLOW_MS * 1000000L };

			if (fflush(stdout) && errno == EPIPE)
				break; /* the reader went away: done */
			nanosleep(&ts, NULL);
			if (stop_asked)
				break;
		}
		again = false;
		rc = ask(c, &f, &again);
	}
	cell_client_free(c);
	if (fflush(stdout) && errno != EPIPE)
		rc = 1;
	return rc;
}
