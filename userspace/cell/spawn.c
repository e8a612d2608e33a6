// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * cell spawn NAME [--share-net] [--restart=POLICY] [-o KEY=VALUE]... [--wait[=MS]] -- BIN ARGS
 * cell stop NAME [--timeout MS]
 * cell swap [--wait=MS] NAME [--] BIN ARGS
 *
 * spawn asks celld (the nucleus's "spawn" method) to start BIN in a capsid
 * under its supervisor, as a cell of -o capsid.dir would be; the -o keys
 * are those of a conf file (Documentation/capsid.rst: ro=, peer=,
 * ready_timeout_ms=, stop_timeout_ms=, max_restarts=, ...).  BIN is made
 * absolute here (a bare name is looked up in PATH).  --wait waits until
 * `cell ps` says ready (exit 1 if it is failed or the wait ends first).
 * Spawned while NAME runs another program, it starts beside it as NAME@K
 * (evolution: Documentation/capsid.rst), and that is the name printed.
 *
 * stop asks for SIGTERM, then SIGKILL after MS (default: the cell's
 * stop_timeout_ms), and waits until the cell is stopped.
 *
 * swap asks for a hot swap (the nucleus's "swap" method): BIN ARGS replace
 * the cell's program, with the same fingerprint, without a lost call; it
 * waits (default SWAP_WAIT_MS) until the old program has drained and
 * exited, and exits 1 unless the swap was made ("refused: ...", "failed:
 * ...": the reason).
 *
 * rollout starts BIN ARGS (or the binary `cell build DIR` makes) as a
 * canary NAME@K beside NAME (the swap method with canary=1), lets both
 * serve for --window MS, compares the canary's error rate and p99 with
 * NAME's from their metrics (CELL_METHOD_METRICS, collect.c), then
 * promotes it (a swap of NAME to BIN ARGS, the canary stopped) or rolls it
 * back (the canary stopped).  Exit 0 when promoted, 1 when rolled back.
 *
 * -j prints {"name", "pid", "state"} as JSON.  Exit status: 0, 1 for a
 * refusal or a failure (the reason on stderr), 2 for a usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/stat.h>

#include <cell/metrics.h>
#include <cell/rpc.h>
#include <cell/time.h>
#include <cell/wire.h>

#include "cell.h"
#include "collect.h"
#include "jsonout.h"
#include "nucleus.cell.h"
#ifdef CELL_CLI_RIBOSOME
#include "ribosome.h"
#endif

#define CALL_TIMEOUT_MS 5000
#define READY_WAIT_MS	15000
#define MAX_OPTIONS	64
#define STOP_MARGIN_MS	5000
#define SWAP_WAIT_MS	30000

static struct cell_client *nucleus(const char *cmd)
{
	struct cell_client_opts co = nucleus_client_opts();
	struct cell_client *c;

	co.backend = CELL_RING_BACKEND_NONE;
	co.spin_ns = CELL_SPIN_NONE;
	co.connect_deadline = cell_deadline_in_ms(CALL_TIMEOUT_MS);
	c = cell_client_connect("nucleus", &co);
	if (!c)
		fprintf(stderr, "cell %s: cannot reach celld: %s (is celld running?)\n", cmd,
			cell_last_error(NULL));
	return c;
}

static int failed(const char *cmd, enum cell_status st, const struct cell_response *raw)
{
	fprintf(stderr, "cell %s: %s%s%.*s\n", cmd, cell_status_name(st),
		raw->detail_len ? ": " : "", (int)raw->detail_len, raw->detail ? raw->detail : "");
	return 1;
}

/* The supervised state and pid of local cell @name from `list`; 0, or -ENOENT. */
static int state_of(struct cell_client *c, const char *name, char *state, size_t cap, int *pid)
{
	const struct nucleus_cell_list *resp;
	const struct nucleus_cell_info *cells;
	struct cell_response raw = { 0 };
	struct nucleus_query *req;
	struct cell_call *call = NULL;
	struct cellc_builder b;
	enum cell_status st;
	uint32_t count, n;
	int rc = -ENOENT;

	st = nucleus_list_begin(c, NUCLEUS_QUERY_SIZE + 48, cell_deadline_in_ms(CALL_TIMEOUT_MS),
				&call, &b, &req);
	if (st != CELL_STATUS_OK)
		return -EIO;
	req->flags = 1; /* local */
	(void)nucleus_query_set_name_str(&b, req, name);
	st = nucleus_list_finish(call, &b, &resp, &raw);
	if (st == CELL_STATUS_OK) {
		cells = nucleus_cell_list_cells(resp, &count);
		for (uint32_t i = 0; i < count; i++) {
			const char *s = nucleus_cell_info_name_at(resp, &cells[i], &n);

			if (n != strlen(name) || memcmp(s, name, n))
				continue; /* the query also lists NAME's instances NAME@K */
			s = nucleus_cell_info_state_at(resp, &cells[i], &n);
			if (!n)
				continue; /* not supervised */
			snprintf(state, cap, "%.*s", (int)n, s);
			*pid = cells[i].pid;
			rc = 0;
		}
	} else {
		rc = -EIO;
	}
	cell_call_end(call);
	return rc;
}

/* Polls until the state is one of @want (space-separated); 0, or 1 with a message. */
static int wait_state(struct cell_client *c, const char *cmd, const char *name, const char *want,
		      unsigned int ms, char *state, size_t cap, int *pid)
{
	uint64_t end = cell_deadline_in_ms(ms);
	char padded[32];

	for (;;) {
		int rc = state_of(c, name, state, cap, pid);

		if (rc == -EIO) {
			fprintf(stderr, "cell %s: celld stopped answering\n", cmd);
			return 1;
		}
		snprintf(padded, sizeof(padded), " %s ", rc ? "gone" : state);
		if (strstr(want, padded))
			return 0;
		if (cell_now_ns() >= end) {
			fprintf(stderr, "cell %s: %s is still %s after %u ms\n", cmd, name,
				rc ? "unknown" : state, ms);
			return 1;
		}
		nanosleep(&(struct timespec){ 0, 20 * 1000 * 1000 }, NULL);
	}
}

static void print_result(bool json, const char *name, int pid, const char *state)
{
	if (!json) {
		printf("%s: pid %d, %s\n", name, pid, state);
		return;
	}
	fputs("{\"name\":", stdout);
	json_put_string(stdout, name, (uint32_t)strlen(name));
	printf(",\"pid\":%d,\"state\":", pid);
	json_put_string(stdout, state, (uint32_t)strlen(state));
	puts("}");
}

/* BIN as an absolute path: as given, resolved, or found in PATH. */
static int absolute(const char *bin, char *out, size_t cap)
{
	const char *path = getenv("PATH");
	char buf[PATH_MAX];

	if (bin[0] == '/')
		return snprintf(out, cap, "%s", bin) < (int)cap ? 0 : -ENAMETOOLONG;
	if (strchr(bin, '/'))
		return realpath(bin, out) ? 0 : -errno; /* out is PATH_MAX bytes */
	for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
		size_t n = strcspn(p, ":");

		snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, p, bin);
		if (n && buf[0] == '/' && !access(buf, X_OK))
			return snprintf(out, cap, "%s", buf) < (int)cap ? 0 : -ENAMETOOLONG;
		p += n + (p[n] == ':');
	}
	return -ENOENT;
}

static int spawn_usage(FILE *out)
{
	fputs("usage: cell spawn [-j] NAME [--share-net] [--restart=never|on-failure|always]\n"
	      "                  [-o KEY=VALUE]... [--wait[=MS]] -- BIN [ARGS...]\n"
	      "  -o  a key of a capsid conf file (ro=PATH, peer=SOCKET, ready_timeout_ms=MS,\n"
	      "      stop_timeout_ms=MS, max_restarts=N, ...: Documentation/capsid.rst)\n",
	      out);
	return out == stdout ? 0 : 2;
}

struct spawn_args {
	const char *name;
	const char *options[MAX_OPTIONS + 2];
	char restart[64];
	int noptions;
	char **argv; /* BIN ARGS */
	int argc;
	char bin[PATH_MAX];
};

static enum cell_status send_spawn(struct cell_client *c, const struct spawn_args *a,
				   const struct nucleus_spawned **resp, struct cell_response *raw,
				   struct cell_call **call)
{
	struct nucleus_spawn_request *req;
	struct nucleus_conf_arg *args, *opts;
	struct cellc_builder b;
	uint64_t len = NUCLEUS_SPAWN_REQUEST_SIZE + strlen(a->name) + 64;
	enum cell_status st;

	for (int i = 0; i < a->argc; i++)
		len += NUCLEUS_CONF_ARG_SIZE + strlen(a->argv[i]) + 16;
	for (int i = 0; i < a->noptions; i++)
		len += NUCLEUS_CONF_ARG_SIZE + strlen(a->options[i]) + 16;
	len += strlen(a->bin) + 16;
	st = nucleus_spawn_begin(c, len, cell_deadline_in_ms(CALL_TIMEOUT_MS), call, &b, &req);
	if (st != CELL_STATUS_OK)
		return st;
	(void)nucleus_spawn_request_set_name_str(&b, req, a->name);
	args = nucleus_spawn_request_alloc_argv(&b, req, (uint32_t)a->argc);
	for (int i = 0; args && i < a->argc; i++)
		(void)nucleus_conf_arg_set_value_str(&b, &args[i], i ? a->argv[i] : a->bin);
	opts = nucleus_spawn_request_alloc_options(&b, req, (uint32_t)a->noptions);
	for (int i = 0; opts && i < a->noptions; i++)
		(void)nucleus_conf_arg_set_value_str(&b, &opts[i], a->options[i]);
	return nucleus_spawn_finish(*call, &b, resp, raw);
}

static int parse_spawn(int argc, char **argv, struct spawn_args *a, bool *json, int *wait_ms)
{
	static const struct option longopts[] = { { "share-net", no_argument, NULL, 'n' },
						  { "restart", required_argument, NULL, 'R' },
						  { "wait", optional_argument, NULL, 'w' },
						  { "json", no_argument, NULL, 'j' },
						  { "help", no_argument, NULL, 'h' },
						  { 0 } };
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "+jo:h", longopts, NULL)) != -1 || optind < argc) {
		if (opt == -1) { /* NAME among the options */
			if (!strcmp(argv[optind - 1], "--"))
				break;
			if (a->name)
				return spawn_usage(stderr);
			a->name = argv[optind++];
			continue;
		}
		switch (opt) {
		case 'n':
			a->options[a->noptions++] = "net=1";
			break;
		case 'R':
			snprintf(a->restart, sizeof(a->restart), "restart=%s", optarg);
			a->options[a->noptions++] = a->restart;
			break;
		case 'w':
			*wait_ms = optarg ? atoi(optarg) : READY_WAIT_MS;
			break;
		case 'j':
			*json = true;
			break;
		case 'o':
			if (a->noptions == MAX_OPTIONS || !strchr(optarg, '='))
				return spawn_usage(stderr);
			a->options[a->noptions++] = optarg;
			break;
		case 'h':
			return spawn_usage(stdout) ? 2 : 1;
		default:
			return spawn_usage(stderr);
		}
	}
	if (!a->name || optind >= argc || strcmp(argv[optind - 1], "--"))
		return spawn_usage(stderr);
	a->argv = argv + optind;
	a->argc = argc - optind;
	return 0;
}

int cell_cmd_spawn(int argc, char **argv)
{
	static struct spawn_args a;
	const struct nucleus_spawned *resp;
	struct cell_response raw = { 0 };
	struct cell_call *call = NULL;
	struct cell_client *c;
	enum cell_status st;
	bool json = false;
	int wait_ms = 0, pid, rc;
	char state[CELL_NAME_MAX + 32], inst[CELL_NAME_MAX + 1], *as;
	uint32_t n;
	const char *s;

	rc = parse_spawn(argc, argv, &a, &json, &wait_ms);
	if (rc)
		return rc == 1 ? 0 : rc;
	rc = absolute(a.argv[0], a.bin, sizeof(a.bin));
	if (rc) {
		fprintf(stderr, "cell spawn: %s: %s\n", a.argv[0], strerror(-rc));
		return 1;
	}
	c = nucleus("spawn");
	if (!c)
		return 1;
	st = send_spawn(c, &a, &resp, &raw, &call);
	if (st != CELL_STATUS_OK) {
		rc = failed("spawn", st, &raw);
		goto out;
	}
	pid = resp->pid;
	s = nucleus_spawned_state(resp, &n);
	snprintf(state, sizeof(state), "%.*s", (int)n, s);
	/* "starting as NAME@K": started beside a running NAME, as that instance. */
	as = strstr(state, " as ");
	if (as) {
		snprintf(inst, sizeof(inst), "%s", as + 4);
		*as = '\0';
		a.name = inst;
	}
	if (wait_ms > 0) {
		rc = wait_state(c, "spawn", a.name, " ready failed stopped ", (unsigned int)wait_ms,
				state, sizeof(state), &pid);
		if (!rc && strcmp(state, "ready")) {
			fprintf(stderr, "cell spawn: %s is %s (celld's log says why)\n", a.name,
				state);
			rc = 1;
		}
	}
	print_result(json, a.name, pid, state);
out:
	if (call)
		cell_call_end(call);
	cell_client_free(c);
	return rc;
}

static int stop_usage(FILE *out)
{
	fputs("usage: cell stop [-j] NAME [--timeout MS]\n"
	      "  SIGTERM, then SIGKILL after MS (default: the cell's stop_timeout_ms)\n",
	      out);
	return out == stdout ? 0 : 2;
}

int cell_cmd_stop(int argc, char **argv)
{
	static const struct option longopts[] = { { "timeout", required_argument, NULL, 't' },
						  { "json", no_argument, NULL, 'j' },
						  { "help", no_argument, NULL, 'h' },
						  { 0 } };
	const struct nucleus_spawned *resp;
	struct nucleus_stop_request *req;
	struct cell_response raw = { 0 };
	struct cell_call *call = NULL;
	struct cellc_builder b;
	struct cell_client *c;
	unsigned int timeout_ms = 0;
	enum cell_status st;
	bool json = false;
	char state[32];
	int opt, rc = 0, pid = 0;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "jt:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 't':
			timeout_ms = (unsigned int)strtoul(optarg, NULL, 10);
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			return stop_usage(stdout);
		default:
			return stop_usage(stderr);
		}
	}
	if (argc - optind != 1)
		return stop_usage(stderr);
	c = nucleus("stop");
	if (!c)
		return 1;
	st = nucleus_stop_begin(c, NUCLEUS_STOP_REQUEST_SIZE + strlen(argv[optind]) + 16,
				cell_deadline_in_ms(CALL_TIMEOUT_MS), &call, &b, &req);
	if (st == CELL_STATUS_OK) {
		req->timeout_ms = timeout_ms;
		(void)nucleus_stop_request_set_name_str(&b, req, argv[optind]);
		st = nucleus_stop_finish(call, &b, &resp, &raw);
	}
	if (st != CELL_STATUS_OK)
		rc = failed("stop", st, &raw);
	else
		rc = wait_state(c, "stop", argv[optind], " stopped failed ",
				(timeout_ms ? timeout_ms : 60000) + STOP_MARGIN_MS, state,
				sizeof(state), &pid);
	if (!rc)
		print_result(json, argv[optind], pid, state);
	if (call)
		cell_call_end(call);
	cell_client_free(c);
	return rc;
}

static int swap_usage(FILE *out)
{
	fputs("usage: cell swap [-j] [--wait=MS] [-o ro=PATH] NAME [--] BIN [ARGS...]\n"
	      "  replace the program of supervised cell NAME by BIN (the same fingerprint)\n"
	      "  without a lost call; waits (default 30000 ms) until the old one has drained\n",
	      out);
	return out == stdout ? 0 : 2;
}

/* "ro=PATH" for the swap requests of this command (cell swap -o, a rollout's build), or "". */
static char swap_ro[PATH_MAX + 8];

/*
 * One swap request (@argc 0: how the last swap went; @canary: start BIN as a
 * canary beside NAME instead); its answer's pid and text.
 */
static int swap_request(struct cell_client *c, const char *name, int argc, char **argv,
			const char *bin, bool canary, int *pid, char *text, size_t cap)
{
	const struct nucleus_spawned *resp;
	struct nucleus_spawn_request *req;
	struct cell_response raw = { 0 };
	struct nucleus_conf_arg *args;
	struct cell_call *call = NULL;
	struct cellc_builder b;
	uint64_t len =
		NUCLEUS_SPAWN_REQUEST_SIZE + strlen(name) + strlen(bin) + 128 + strlen(swap_ro);
	uint32_t nopts = (canary ? 1 : 0) + (swap_ro[0] && argc ? 1 : 0), k = 0;
	struct nucleus_conf_arg *opts;
	enum cell_status st;
	const char *s;
	uint32_t n;
	int rc = 0;

	for (int i = 0; i < argc; i++)
		len += NUCLEUS_CONF_ARG_SIZE + strlen(argv[i]) + 16;
	st = nucleus_swap_begin(c, len, cell_deadline_in_ms(CALL_TIMEOUT_MS), &call, &b, &req);
	if (st == CELL_STATUS_OK) {
		(void)nucleus_spawn_request_set_name_str(&b, req, name);
		args = nucleus_spawn_request_alloc_argv(&b, req, (uint32_t)argc);
		for (int i = 0; args && i < argc; i++)
			(void)nucleus_conf_arg_set_value_str(&b, &args[i], i ? argv[i] : bin);
		opts = nopts ? nucleus_spawn_request_alloc_options(&b, req, nopts) : NULL;
		if (opts && canary)
			(void)nucleus_conf_arg_set_value_str(&b, &opts[k++], "canary=1");
		if (opts && k < nopts)
			(void)nucleus_conf_arg_set_value_str(&b, &opts[k], swap_ro);
		st = nucleus_swap_finish(call, &b, &resp, &raw);
	}
	if (st != CELL_STATUS_OK) {
		rc = failed(canary ? "rollout" : "swap", st, &raw);
	} else {
		*pid = resp->pid;
		s = nucleus_spawned_state(resp, &n);
		snprintf(text, cap, "%.*s", (int)n, s);
	}
	if (call)
		cell_call_end(call);
	return rc;
}

/*
 * A swap of @name to @bin, waited for (@wait_ms) until the old program has
 * exited.  Return: 0 swapped, 1 not (refused, failed, still going; @text
 * says), 2 the request failed (said on stderr).
 */
static int swap_and_wait(struct cell_client *c, const char *cmd, const char *name, int argc,
			 char **argv, const char *bin, unsigned int wait_ms, int *pid, char *text,
			 size_t cap)
{
	uint64_t end = cell_deadline_in_ms(wait_ms);

	if (swap_request(c, name, argc, argv, bin, false, pid, text, cap))
		return 2;
	while (!strncmp(text, "swapping", 8) || !strncmp(text, "draining", 8)) {
		if (cell_now_ns() >= end) {
			fprintf(stderr, "cell %s: %s: still %s after %u ms\n", cmd, name, text,
				wait_ms);
			return 1;
		}
		nanosleep(&(struct timespec){ 0, 20 * 1000 * 1000 }, NULL);
		if (swap_request(c, name, 0, NULL, "", false, pid, text, cap))
			return 2;
	}
	return strncmp(text, "swapped", 7) ? 1 : 0;
}

int cell_cmd_swap(int argc, char **argv)
{
	static const struct option longopts[] = { { "wait", required_argument, NULL, 'w' },
						  { "json", no_argument, NULL, 'j' },
						  { "help", no_argument, NULL, 'h' },
						  { 0 } };
	static char bin[PATH_MAX];
	unsigned int wait_ms = SWAP_WAIT_MS;
	struct cell_client *c;
	const char *name;
	bool json = false;
	char text[256];
	int opt, rc, pid = 0;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "+jw:o:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'w':
			wait_ms = (unsigned int)strtoul(optarg, NULL, 10);
			break;
		case 'o': /* one ro=PATH: a path the new program needs, added to the cell's */
			if (strncmp(optarg, "ro=/", 4) || swap_ro[0]) {
				fprintf(stderr, "cell swap: -o takes one ro=/ABSOLUTE/PATH\n");
				return 2;
			}
			snprintf(swap_ro, sizeof(swap_ro), "%s", optarg);
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			return swap_usage(stdout);
		default:
			return swap_usage(stderr);
		}
	}
	if (argc - optind < 2)
		return swap_usage(stderr);
	name = argv[optind++];
	if (!strcmp(argv[optind], "--") && ++optind == argc)
		return swap_usage(stderr);
	rc = absolute(argv[optind], bin, sizeof(bin));
	if (rc) {
		fprintf(stderr, "cell swap: %s: %s\n", argv[optind], strerror(-rc));
		return 1;
	}
	c = nucleus("swap");
	if (!c)
		return 1;
	rc = swap_and_wait(c, "swap", name, argc - optind, argv + optind, bin, wait_ms, &pid, text,
			   sizeof(text));
	if (rc != 2)
		print_result(json, name, pid, text);
	cell_client_free(c);
	return rc ? 1 : 0;
}

/* ---- cell rollout ------------------------------------------------------ */

#define ROLLOUT_WINDOW_MS  3000
#define ROLLOUT_MIN_CALLS  100
#define ROLLOUT_TIMEOUT_MS 1000

struct rollout_opts {
	unsigned int window_ms, min_calls;
	double max_error_rate; /* the canary's may exceed the old one's by this (fraction) */
	double max_p99_ratio;  /* the canary's p99 may be this many times the old one's */
	uint64_t p99_floor_ns; /* differences below this are noise */
};

/* What one instance's schema methods did: calls, errors, p99 (the worst method's). */
struct load_seen {
	uint64_t calls, errors, p99_ns;
	bool have;
};

static void seen_of(const struct cell_metrics_snapshot *snap, struct load_seen *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; snap && i < cell_metrics_snapshot_count(snap); i++) {
		const struct cell_method_stats *m = cell_metrics_snapshot_method(snap, i);
		uint64_t q;

		if (cell_method_stats_method(m) >= CELL_METHOD_CONTROL_BASE)
			continue;
		out->calls += cell_method_stats_calls(m);
		out->errors += cell_method_stats_errors(m);
		q = cell_hist_quantile(cell_method_stats_latency(m), 0.99);
		if (q > out->p99_ns)
			out->p99_ns = q;
	}
	out->have = snap != NULL;
}

/* The metrics of local cell @inst (fingerprint @fp); 0, or -1 with @err (-2: it keeps none). */
static int seen_now(const char *inst, uint64_t fp, struct load_seen *out, char *err, size_t cap)
{
	struct collect_result r;

	memset(&r, 0, sizeof(r));
	collect_metrics(NULL, inst, fp, ROLLOUT_TIMEOUT_MS, &r);
	if (!r.up || !r.snap) {
		snprintf(err, cap, "%s: no metrics: %s", inst, r.error[0] ? r.error : "none kept");
		cell_metrics_snapshot_free(r.snap);
		return r.up && r.metrics_status == CELL_STATUS_NOT_FOUND ? -2 : -1;
	}
	seen_of(r.snap, out);
	cell_metrics_snapshot_free(r.snap);
	return 0;
}

/* The fingerprint celld lists for local cell @inst, 0 if none. */
static uint64_t fingerprint_of(const char *inst)
{
	struct collect_cell *cells = NULL;
	uint64_t fp = 0;
	char err[160];
	size_t n = 0;

	if (collect_list_local(NULL, ROLLOUT_TIMEOUT_MS, &cells, &n, err, sizeof(err)))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(cells[i].name, inst))
			fp = cells[i].fingerprint;
	free(cells);
	return fp;
}

static double rate(const struct load_seen *s)
{
	return s->calls ? (double)s->errors / (double)s->calls : 0.0;
}

/* Why the canary @k loses against @old (into @why), or NULL: it may be promoted. */
static const char *verdict(const struct rollout_opts *o, const struct load_seen *old,
			   const struct load_seen *k, char *why, size_t cap)
{
	if (k->calls < o->min_calls) {
		snprintf(why, cap, "too few calls reached the canary (%llu, at least %u wanted)",
			 (unsigned long long)k->calls, o->min_calls);
		return why;
	}
	if (rate(k) > rate(old) + o->max_error_rate) {
		snprintf(why, cap, "canary error rate %.2f%% against %.2f%% (more than +%.2f%%)",
			 100 * rate(k), 100 * rate(old), 100 * o->max_error_rate);
		return why;
	}
	if (k->p99_ns > o->p99_floor_ns + (uint64_t)(o->max_p99_ratio * (double)old->p99_ns)) {
		snprintf(why, cap, "canary p99 %.1f us against %.1f us (more than %.1fx)",
			 (double)k->p99_ns / 1000, (double)old->p99_ns / 1000, o->max_p99_ratio);
		return why;
	}
	return NULL;
}

static void print_seen(const char *what, const char *inst, const struct load_seen *s)
{
	printf("  %-7s %-12s %8llu calls %6llu errors (%.2f%%)  p99 %.1f us\n", what, inst,
	       (unsigned long long)s->calls, (unsigned long long)s->errors, 100 * rate(s),
	       (double)s->p99_ns / 1000);
}

/* `cell stop` of @inst, without waiting; 0 or 1 (said). */
static int stop_quietly(struct cell_client *c, const char *inst)
{
	const struct nucleus_spawned *resp;
	struct nucleus_stop_request *req;
	struct cell_response raw = { 0 };
	struct cell_call *call = NULL;
	struct cellc_builder b;
	enum cell_status st;
	char state[64];
	int pid = 0, rc;

	st = nucleus_stop_begin(c, NUCLEUS_STOP_REQUEST_SIZE + strlen(inst) + 16,
				cell_deadline_in_ms(CALL_TIMEOUT_MS), &call, &b, &req);
	if (st == CELL_STATUS_OK) {
		(void)nucleus_stop_request_set_name_str(&b, req, inst);
		st = nucleus_stop_finish(call, &b, &resp, &raw);
	}
	rc = st != CELL_STATUS_OK ? failed("rollout", st, &raw) : 0;
	if (call)
		cell_call_end(call);
	if (!rc)
		rc = wait_state(c, "rollout", inst, " stopped failed gone ", 60000 + STOP_MARGIN_MS,
				state, sizeof(state), &pid);
	return rc;
}

static int rollout_usage(FILE *out)
{
	fputs("usage: cell rollout [--window=MS] [--min-calls=N] [--max-error-rate=F]\n"
	      "                    [--max-p99-ratio=F] NAME [--] BIN|DIR [ARGS...]\n"
	      "  a canary NAME@K of BIN beside NAME for MS (default 3000); promoted (swapped in)\n"
	      "  unless its error rate exceeds NAME's by F (default 0.01) or its p99 is more than\n"
	      "  F times NAME's (default 2) plus 1 ms; else rolled back.  Exit 0 promoted, 1 not\n",
	      out);
	return out == stdout ? 0 : 2;
}

static int rollout_parse(int argc, char **argv, struct rollout_opts *o)
{
	static const struct option longopts[] = {
		{ "window", required_argument, NULL, 'w' },
		{ "min-calls", required_argument, NULL, 'n' },
		{ "max-error-rate", required_argument, NULL, 'e' },
		{ "max-p99-ratio", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int opt;

	*o = (struct rollout_opts){ ROLLOUT_WINDOW_MS, ROLLOUT_MIN_CALLS, 0.01, 2.0, 1000000 };
	optind = 1;
	while ((opt = getopt_long(argc, argv, "+w:n:e:p:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'w':
			o->window_ms = (unsigned int)strtoul(optarg, NULL, 10);
			break;
		case 'n':
			o->min_calls = (unsigned int)strtoul(optarg, NULL, 10);
			break;
		case 'e':
			o->max_error_rate = strtod(optarg, NULL);
			break;
		case 'p':
			o->max_p99_ratio = strtod(optarg, NULL);
			break;
		case 'h':
			return -1;
		default:
			return -2;
		}
	}
	if (argc - optind < 2)
		return -2;
	if (!strcmp(argv[optind + 1], "--") && optind + 2 == argc)
		return -2;
	return 0;
}

/* BIN as an absolute path, or the binary `cell build DIR` makes of a directory. */
static int rollout_binary(const char *arg, char *bin, size_t cap)
{
	struct stat st;
	int rc;

	if (!stat(arg, &st) && S_ISDIR(st.st_mode)) {
#ifdef CELL_CLI_RIBOSOME
		static struct dna d;
		char cache[4096];
		bool hit = false;

		if (ribosome_dir("rollout", NULL, cache, sizeof(cache)))
			return -1;
		rc = ribosome_build("rollout", cache, arg, &d, bin, cap, &hit);
		dna_release(&d);
		if (!rc) {
			/* The build's DNA directory must be visible in the capsid. */
			snprintf(swap_ro, sizeof(swap_ro), "ro=%.*s",
				 (int)(strrchr(bin, '/') - bin), bin);
			printf("rollout: %s built into %s%s\n", arg, bin, hit ? " (cached)" : "");
		}
		return rc ? -1 : 0;
#else
		fprintf(stderr, "cell rollout: %s: a directory needs the ribosome (cell build)\n",
			arg);
		return -1;
#endif
	}
	rc = absolute(arg, bin, cap);
	if (rc)
		fprintf(stderr, "cell rollout: %s: %s\n", arg, strerror(-rc));
	return rc ? -1 : 0;
}

/* The canary's life: started, ready, measured against @name, judged.  *@promote: the verdict. */
static int rollout_judge(struct cell_client *c, const struct rollout_opts *o, const char *name,
			 const char *inst, bool *promote)
{
	struct load_seen old0, old1, k, old;
	uint64_t fp = fingerprint_of(name), kfp;
	char state[64], why[256], err[200];
	const char *lose;
	int pid = 0, rc;

	*promote = false;
	if (wait_state(c, "rollout", inst, " ready failed stopped ", READY_WAIT_MS, state,
		       sizeof(state), &pid) ||
	    strcmp(state, "ready")) {
		printf("rollout %s: rolled back: the canary %s did not get ready (%s)\n", name,
		       inst, state);
		return 0;
	}
	kfp = fingerprint_of(inst);
	if (!fp || kfp != fp) {
		printf("rollout %s: rolled back: the canary serves fingerprint 0x%016llx, %s "
		       "0x%016llx (a side-by-side version, not a rollout)\n",
		       name, (unsigned long long)kfp, name, (unsigned long long)fp);
		return 0;
	}
	rc = seen_now(name, fp, &old0, err, sizeof(err));
	if (rc == -2 && !o->min_calls) {
		/* Nothing to compare, and no calls were asked for: readiness is the test. */
		printf("rollout %s: %s; --min-calls=0: judged on the canary's readiness alone\n",
		       name, err);
		*promote = true;
		return 0;
	}
	if (rc) {
		printf("rollout %s: rolled back: %s\n", name, err);
		return 0;
	}
	printf("rollout %s: canary %s (pid %d) ready; comparing for %u ms\n", name, inst, pid,
	       o->window_ms);
	fflush(stdout);
	nanosleep(&(struct timespec){ o->window_ms / 1000, (long)(o->window_ms % 1000) * 1000000 },
		  NULL);
	if (seen_now(name, fp, &old1, err, sizeof(err)) ||
	    seen_now(inst, fp, &k, err, sizeof(err))) {
		printf("rollout %s: rolled back: %s\n", name, err);
		return 0;
	}
	/* The old one's counts over the window; its p99 is that of its whole run. */
	old = old1;
	old.calls = old1.calls - old0.calls;
	old.errors = old1.errors - old0.errors;
	print_seen("old", name, &old);
	print_seen("canary", inst, &k);
	lose = verdict(o, &old, &k, why, sizeof(why));
	if (lose)
		printf("rollout %s: rolled back: %s\n", name, lose);
	*promote = !lose;
	return 0;
}

int cell_cmd_rollout(int argc, char **argv)
{
	static char bin[PATH_MAX];
	struct rollout_opts o;
	char text[256], inst[CELL_NAME_MAX] = "";
	struct cell_client *c;
	const char *name;
	bool promote = false;
	int rc, pid = 0;

	rc = rollout_parse(argc, argv, &o);
	if (rc)
		return rollout_usage(rc == -1 ? stdout : stderr);
	name = argv[optind++];
	if (!strcmp(argv[optind], "--"))
		optind++;
	if (rollout_binary(argv[optind], bin, sizeof(bin)))
		return 1;
	c = nucleus("rollout");
	if (!c)
		return 1;
	rc = swap_request(c, name, argc - optind, argv + optind, bin, true, &pid, text,
			  sizeof(text));
	if (rc || sscanf(text, "canary %31s", inst) != 1) {
		if (!rc)
			fprintf(stderr, "cell rollout: celld answered \"%s\"\n", text);
		cell_client_free(c);
		return 1;
	}
	rc = rollout_judge(c, &o, name, inst, &promote);
	if (!rc && promote) {
		rc = swap_and_wait(c, "rollout", name, argc - optind, argv + optind, bin,
				   SWAP_WAIT_MS, &pid, text, sizeof(text));
		printf("rollout %s: %s: %s\n", name, rc ? "not promoted" : "promoted", text);
	}
	if (stop_quietly(c, inst))
		rc = 1;
	else
		printf("rollout %s: canary %s stopped\n", name, inst);
	cell_client_free(c);
	return rc || !promote ? 1 : 0;
}
