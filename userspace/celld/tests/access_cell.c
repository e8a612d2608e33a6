// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * access_cell: a cell that calls the nucleus from inside its capsid, for
 * access_test.sh.  It writes what it saw to a file in its data directory
 * (its working directory), which the test reads from the host.
 *
 *   access_cell probe SELF PEER VICTIM RUNTIME_DIR   -> probe.out
 *	one "what=STATUS[: detail]" line per call: enroll itself / another
 *	name, withdraw VICTIM, lookup itself / PEER / VICTIM, list (the names
 *	it was answered), list VICTIM, kv, cluster, discovery, spans, ping,
 *	and connect() to RUNTIME_DIR/VICTIM.sock, a socket it was not given.
 *   access_cell flood SELF SECONDS                   -> flood.out
 *	enroll of itself, then lookup of itself as fast as it is answered, for SECONDS; counts by
 *	status and the wall-clock interval (CLOCK_REALTIME ns).
 *   access_cell polite SELF COUNT DELAY_MS            -> polite.out
 *	after 500 ms, COUNT lookups of itself DELAY_MS apart.
 *   access_cell handoff NAME                          -> handoff.out
 *	a child connects, forks and exits; the grandchild looks NAME up.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cell/rpc.h>
#include <cell/time.h>
#include <cell/wire.h>

#include "nucleus.cell.h"

static FILE *out;

static uint64_t wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void report(const char *what, enum cell_status st, const struct cell_response *raw)
{
	fprintf(out, "%s=%s", what, cell_status_name(st));
	if (st != CELL_STATUS_OK && raw && raw->detail_len)
		fprintf(out, ": %.*s", (int)raw->detail_len, raw->detail);
	fputc('\n', out);
	fflush(out);
}

/* A call of @method with @len zero bytes as its payload (an empty struct). */
static enum cell_status raw_call(struct cell_client *c, const char *what, uint16_t method,
				 uint32_t len)
{
	struct cell_response raw = { 0 };
	struct cell_call *call;
	enum cell_status st;
	void *buf;

	st = cell_call_begin(c, method, len, 0, cell_deadline_in_ms(5000), &call, &buf);
	if (st == CELL_STATUS_OK) {
		memset(buf, 0, len);
		st = cell_call_finish(call, len, &raw);
	}
	if (what)
		report(what, st, &raw);
	if (call)
		cell_call_end(call);
	return st;
}

static enum cell_status enroll(struct cell_client *c, const char *what, const char *name,
			       const char *dir)
{
	struct nucleus_registration *req;
	const struct nucleus_registered *resp;
	struct cell_response raw = { 0 };
	struct cellc_builder b;
	struct cell_call *call;
	enum cell_status st;
	char path[300];

	snprintf(path, sizeof(path), "%s/%s.sock", dir, name);
	st = nucleus_enroll_begin(c, 512, cell_deadline_in_ms(5000), &call, &b, &req);
	if (st != CELL_STATUS_OK) {
		report(what, st, NULL);
		return st;
	}
	(void)nucleus_registration_set_name_str(&b, req, name);
	(void)nucleus_registration_set_path_str(&b, req, path);
	st = nucleus_enroll_finish(call, &b, &resp, &raw);
	report(what, st, &raw);
	cell_call_end(call);
	return st;
}

/* withdraw (method 2) or lookup (4) of @name; @what NULL: no line. */
static enum cell_status by_name(struct cell_client *c, const char *what, uint16_t method,
				const char *name)
{
	const struct nucleus_cell_detail *detail;
	const struct nucleus_empty *empty;
	struct cell_response raw = { 0 };
	struct nucleus_name *req;
	struct cellc_builder b;
	struct cell_call *call;
	enum cell_status st;
	uint64_t dl = cell_deadline_in_ms(5000);

	st = method == NUCLEUS_METHOD_WITHDRAW ? nucleus_withdraw_begin(c, 128, dl, &call, &b, &req)
					       : nucleus_lookup_begin(c, 128, dl, &call, &b, &req);
	if (st != CELL_STATUS_OK) {
		if (what)
			report(what, st, NULL);
		return st;
	}
	(void)nucleus_name_set_name_str(&b, req, name);
	st = method == NUCLEUS_METHOD_WITHDRAW ? nucleus_withdraw_finish(call, &b, &empty, &raw)
					       : nucleus_lookup_finish(call, &b, &detail, &raw);
	if (what)
		report(what, st, &raw);
	cell_call_end(call);
	return st;
}

static void list(struct cell_client *c, const char *what, const char *name)
{
	const struct nucleus_cell_list *resp;
	struct cell_response raw = { 0 };
	struct nucleus_query *req;
	struct cellc_builder b;
	struct cell_call *call;
	enum cell_status st;
	uint32_t n = 0;

	st = nucleus_list_begin(c, 128, cell_deadline_in_ms(5000), &call, &b, &req);
	if (st != CELL_STATUS_OK) {
		report(what, st, NULL);
		return;
	}
	(void)nucleus_query_set_name_str(&b, req, name);
	st = nucleus_list_finish(call, &b, &resp, &raw);
	if (st != CELL_STATUS_OK) {
		report(what, st, &raw);
	} else {
		const struct nucleus_cell_info *cells = nucleus_cell_list_cells(resp, &n);

		fprintf(out, "%s=OK total %u names", what, resp->total);
		for (uint32_t i = 0; i < n; i++) {
			uint32_t len;
			const char *s = nucleus_cell_info_name_at(resp, &cells[i], &len);

			fprintf(out, " %.*s", (int)len, s);
		}
		fputc('\n', out);
	}
	cell_call_end(call);
}

static void connect_to(const char *what, const char *dir, const char *name)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0), rc;

	snprintf(a.sun_path, sizeof(a.sun_path), "%s/%s.sock", dir, name);
	rc = connect(fd, (struct sockaddr *)&a, sizeof(a));
	fprintf(out, "%s=%s\n", what, rc ? strerror(errno) : "connected");
	close(fd);
}

static int probe(struct cell_client *c, char **argv)
{
	const char *self = argv[2], *peer = argv[3], *victim = argv[4], *rundir = argv[5];
	char dir[256];

	if (cell_runtime_dir(dir, sizeof(dir)))
		return 1;
	enroll(c, "enroll_self", self, dir);
	enroll(c, "enroll_other", victim, dir);
	by_name(c, "withdraw_victim", NUCLEUS_METHOD_WITHDRAW, victim);
	by_name(c, "lookup_self", NUCLEUS_METHOD_LOOKUP, self);
	by_name(c, "lookup_peer", NUCLEUS_METHOD_LOOKUP, peer);
	by_name(c, "lookup_victim", NUCLEUS_METHOD_LOOKUP, victim);
	list(c, "list_all", "");
	list(c, "list_victim", victim);
	raw_call(c, "kv", NUCLEUS_METHOD_KV, NUCLEUS_KV_REQUEST_SIZE);
	raw_call(c, "cluster", NUCLEUS_METHOD_CLUSTER, NUCLEUS_EMPTY_SIZE);
	raw_call(c, "discovery", NUCLEUS_METHOD_DISCOVERY, NUCLEUS_EMPTY_SIZE);
	raw_call(c, "spans", NUCLEUS_METHOD_SPANS, NUCLEUS_TRACE_QUERY_SIZE);
	raw_call(c, "ping", CELL_METHOD_PING, 0);
	by_name(c, "withdraw_self", NUCLEUS_METHOD_WITHDRAW, self);
	connect_to("open_victim_socket", rundir, victim);
	return 0;
}

/* Enrolled, so that its lookups of itself are answered (host side: by the registry). */
static int enroll_self(struct cell_client *c, const char *self)
{
	char dir[256];

	if (cell_runtime_dir(dir, sizeof(dir)))
		return -1;
	return enroll(c, "enroll_self", self, dir) == CELL_STATUS_OK ? 0 : -1;
}

static int flood(struct cell_client *c, const char *self, long seconds)
{
	uint64_t t0 = wall_ns(), until = cell_now_ns() + (uint64_t)seconds * 1000000000ull;
	unsigned long ok = 0, exhausted = 0, other = 0;
	FILE *f;

	if (enroll_self(c, self))
		return 1;
	f = fopen("flood.started", "w");
	if (f)
		fclose(f);
	while (cell_now_ns() < until) {
		enum cell_status st = by_name(c, NULL, NUCLEUS_METHOD_LOOKUP, self);

		if (st == CELL_STATUS_OK)
			ok++;
		else if (st == CELL_STATUS_RESOURCE_EXHAUSTED)
			exhausted++;
		else
			other++;
	}
	fprintf(out, "ok=%lu exhausted=%lu other=%lu start=%llu end=%llu seconds=%ld\n", ok,
		exhausted, other, (unsigned long long)t0, (unsigned long long)wall_ns(), seconds);
	return 0;
}

static int polite(struct cell_client *c, const char *self, long count, long delay_ms)
{
	unsigned long ok = 0, other = 0;
	uint64_t t0;

	if (enroll_self(c, self))
		return 1;
	usleep(500000);
	t0 = wall_ns();
	for (long i = 0; i < count; i++) {
		if (by_name(c, NULL, NUCLEUS_METHOD_LOOKUP, self) == CELL_STATUS_OK)
			ok++;
		else
			other++;
		usleep((useconds_t)delay_ms * 1000);
	}
	fprintf(out, "ok=%lu other=%lu start=%llu end=%llu\n", ok, other, (unsigned long long)t0,
		(unsigned long long)wall_ns());
	return 0;
}

/*
 * A child connects, hands the connection to its own child and exits before
 * any call: the nucleus first hears of the connection when the grandchild
 * calls, after the process that connected is gone.  This process stays (in
 * a capsid it is the cell: its exit would end the sandbox) until the
 * grandchild is done.
 */
static int handoff(const char *name)
{
	int done[2];
	pid_t a;
	char x;

	fflush(out);
	if (pipe(done))
		return 1;
	a = fork();
	if (a < 0)
		return 1;
	if (a == 0) {
		struct cell_client_opts co = nucleus_client_opts();
		struct cell_client *c;
		pid_t b, a_pid;

		close(done[0]);
		co.backend = CELL_RING_BACKEND_NONE;
		c = cell_client_connect("nucleus", &co);
		a_pid = getpid();
		b = c ? fork() : -1;
		if (b != 0)
			_exit(b < 0); /* the connecting process leaves */
		for (int i = 0; i < 500 && getppid() == a_pid; i++) /* until reparented */
			usleep(10000);
		usleep(100000); /* reaped by now */
		by_name(c, "handoff_lookup", NUCLEUS_METHOD_LOOKUP, name);
		fflush(out);
		_exit(0); /* done[1] closes */
	}
	close(done[1]);
	waitpid(a, NULL, 0);
	if (read(done[0], &x, 1) < 0) /* end of file: the grandchild is done */
		return 1;
	close(done[0]);
	return 0;
}

int main(int argc, char **argv)
{
	struct cell_client_opts co = nucleus_client_opts();
	struct cell_client *c;
	char file[64];
	int rc = 2;

	if (argc < 3 || (strcmp(argv[1], "probe") && strcmp(argv[1], "flood") &&
			 strcmp(argv[1], "polite") && strcmp(argv[1], "handoff"))) {
		fputs("usage: access_cell probe|flood|polite|handoff SELF ...\n", stderr);
		return 2;
	}
	snprintf(file, sizeof(file), "%s.out", argv[1]);
	out = fopen(file, "w");
	if (!out)
		return 1;
	co.backend = CELL_RING_BACKEND_NONE;
	c = cell_client_connect("nucleus", &co);
	if (!c) {
		fprintf(out, "connect=%s\n", cell_last_error(NULL));
		fclose(out);
		return 1;
	}
	if (!strcmp(argv[1], "probe") && argc == 6)
		rc = probe(c, argv);
	else if (!strcmp(argv[1], "flood") && argc == 4)
		rc = flood(c, argv[2], atol(argv[3]));
	else if (!strcmp(argv[1], "polite") && argc == 5)
		rc = polite(c, argv[2], atol(argv[3]), atol(argv[4]));
	else if (!strcmp(argv[1], "handoff") && argc == 3)
		rc = handoff(argv[2]);
	cell_client_free(c);
	fprintf(out, "done\n");
	fclose(out);
	return rc;
}
