// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Access control on the nucleus (access.h): libcell asks celld_access_admit()
 * about every call before its handler runs (cell_server_opts.admit).
 *
 * Who calls.  The connection's SO_PEERCRED pid is the process that
 * connected; celld walks its parents in /proc (world-readable: no
 * capability needed) up to the bwrap of a supervised cell.  A sandboxed
 * process cannot leave its pid namespace, so every process of a cell
 * descends from that cell's bwrap and no host process does.  The walk is
 * trusted only if the connection's pidfd (SO_PEERPIDFD) still names a live
 * process afterwards: then peer_pid was not recycled meanwhile.  If that
 * process is gone (it handed the connection on and exited), a caller of the
 * cells' uid is not trusted; one of another uid cannot be a cell (the
 * credentials are the connect's) and stays a host caller.  When celld
 * is root and supervises cells (capsid.dir or capsid.spawn=1), a caller of the cells' uid
 * (65534) that is in no capsid is not trusted at all.  The answer is cached per connection (its number, never
 * reused), so a flood costs one walk.
 *
 * What it may call.  A host caller: everything, as before (the handlers
 * check ownership by uid).  A sandboxed cell: PING and SCHEMA; enroll and
 * withdraw of its own name; lookup of itself and of the cells whose sockets
 * its conf gives it (peer=); list, answered with those cells only; any
 * method its conf grants (grant=kv,cluster,...: then without restriction).
 * Anything else: PERMISSION_DENIED, with the reason.  Another node over
 * QUIC (the nucleus's cluster.quic listener; no connection number, no
 * pid): PING, SCHEMA, kv and cluster status only.
 *
 * How often.  A token bucket per sandboxed cell (nucleus_rate= calls/s,
 * nucleus_burst=), shared by all its processes and connections; and, with
 * -o nucleus.rate=N[,nucleus.burst=M], one per host uid.  An empty bucket
 * answers RESOURCE_EXHAUSTED at once: the flood costs the nucleus one
 * cheap refusal per call while other callers are served.  Refusals are
 * summed up in at most one log line per cell and second.
 *
 * Everything here runs on celld's loop thread (the nucleus is dispatched
 * there): no locking.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cell/time.h>

#include "access.h"
#include "celld.h"
#include "nucleus.cell.h"
#include "registration.h"

#define CACHE_SLOTS   256
#define MAX_DEPTH     64
#define CELLS_UID     65534
#define HOST_BUCKETS  64
#define LOG_PERIOD_NS 1000000000ull

enum caller_kind {
	CALLER_HOST,
	CALLER_CELL,
	CALLER_UNTRUSTED,
	CALLER_REMOTE /* another node over QUIC (cluster.quic): known by its key */
};

struct caller {
	uint64_t conn; /* 0: an empty slot */
	enum caller_kind kind;
	pid_t bwrap;  /* CALLER_CELL: its cell's bwrap */
	char why[96]; /* CALLER_UNTRUSTED: why */
};

static struct caller cache[CACHE_SLOTS];

struct host_bucket {
	uid_t uid;
	bool used;
	double tokens;
	uint64_t refilled_ns;
};

static struct host_bucket host_buckets[HOST_BUCKETS];

static const struct {
	const char *name;
	unsigned int method;
} method_names[] = {
	{ "enroll", NUCLEUS_METHOD_ENROLL },
	{ "withdraw", NUCLEUS_METHOD_WITHDRAW },
	{ "list", NUCLEUS_METHOD_LIST },
	{ "lookup", NUCLEUS_METHOD_LOOKUP },
	{ "spans", NUCLEUS_METHOD_SPANS },
	{ "discovery", NUCLEUS_METHOD_DISCOVERY },
	{ "kv", NUCLEUS_METHOD_KV },
	{ "cluster", NUCLEUS_METHOD_CLUSTER },
	{ "cluster_change", NUCLEUS_METHOD_CLUSTER_CHANGE },
#ifdef NUCLEUS_METHOD_SPAWN
	{ "spawn", NUCLEUS_METHOD_SPAWN },
#endif
#ifdef NUCLEUS_METHOD_STOP
	{ "stop", NUCLEUS_METHOD_STOP },
#endif
#ifdef NUCLEUS_METHOD_LOGS
	{ "logs", NUCLEUS_METHOD_LOGS },
#endif
#ifdef NUCLEUS_METHOD_SWAP
	{ "swap", NUCLEUS_METHOD_SWAP },
#endif
};

static const char *method_name(unsigned int m, char *buf, size_t cap)
{
	for (size_t i = 0; i < sizeof(method_names) / sizeof(method_names[0]); i++)
		if (method_names[i].method == m)
			return method_names[i].name;
	snprintf(buf, cap, "%u", m);
	return buf;
}

void celld_access_conf_init(struct celld_access_conf *a)
{
	memset(a, 0, sizeof(*a));
	a->nucleus = true;
	a->rate = 100;
	a->burst = 50;
	a->tokens = a->burst;
}

static int grant(struct celld_access_conf *a, const char *file, const char *val)
{
	char buf[512], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", val);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		char *end;
		unsigned long m = strtoul(t, &end, 10);
		bool found = *t && !*end && m >= 1 && m < 64;

		for (size_t i = 0; !found && i < sizeof(method_names) / sizeof(method_names[0]);
		     i++)
			if (!strcmp(t, method_names[i].name)) {
				m = method_names[i].method;
				found = true;
			}
		if (!found) {
			celld_log("capsid: %s: grant=%s: %s is no nucleus method (a name: kv, "
				  "cluster, ..., or a number 1-63)",
				  file, val, t);
			return -1;
		}
		a->grants |= 1ull << m;
	}
	return 1;
}

static int number(const char *file, const char *key, const char *val, uint32_t min, uint32_t *out)
{
	char *end;
	unsigned long n = strtoul(val, &end, 10);

	if (!*val || *end || n < min || n > 1000000) {
		celld_log("capsid: %s: %s=%s: a number from %u to 1000000 is expected", file, key,
			  val, min);
		return -1;
	}
	*out = (uint32_t)n;
	return 1;
}

int celld_access_conf_key(struct celld_access_conf *a, const char *file, const char *key,
			  const char *val)
{
	int rc;

	if (!strcmp(key, "nucleus")) {
		if (strcmp(val, "0") && strcmp(val, "1")) {
			celld_log("capsid: %s: nucleus=%s: 0 or 1", file, val);
			return -1;
		}
		a->nucleus = val[0] == '1';
		return 1;
	}
	if (!strcmp(key, "grant"))
		return grant(a, file, val);
	if (!strcmp(key, "nucleus_rate"))
		return number(file, key, val, 1, &a->rate);
	if (!strcmp(key, "nucleus_burst")) {
		rc = number(file, key, val, 1, &a->burst);
		a->tokens = a->burst;
		return rc;
	}
	return 0;
}

/* ---- who is calling ---------------------------------------------------- */

/* The parent of @pid from /proc/PID/stat ("pid (comm) state ppid ..."), or -1. */
static pid_t parent_of(pid_t pid)
{
	char path[32], buf[512], *close_paren;
	int fd, ppid;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	close_paren = strrchr(buf, ')'); /* comm may hold ')' itself */
	if (!close_paren || sscanf(close_paren + 1, " %*c %d", &ppid) != 1)
		return -1;
	return ppid;
}

/* Signal 0 checks only: ESRCH once the process is gone (EPERM: alive, of another uid). */
static bool pidfd_alive(int pidfd)
{
	return syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) == 0 || errno == EPERM;
}

/* Whether @uid is the one supervised cells run as (then a pid alone cannot be told apart). */
/* Whether celld runs sandboxed cells at all (-o capsid.dir, or cell spawn with capsid.spawn=1). */
static bool supervises(const struct celld *d)
{
	return celld_option(d, "capsid.dir", NULL) ||
	       !strcmp(celld_option(d, "capsid.spawn", "0"), "1");
}

static bool cells_uid(const struct celld *d, uid_t uid)
{
	if (!supervises(d))
		return false;
	return uid == (geteuid() == 0 ? CELLS_UID : geteuid());
}

/* The connecting process is gone: only a caller of the cells' uid could have been a cell. */
static void gone(const struct celld *d, const struct cell_vesicle *v, struct caller *c)
{
	c->kind = cells_uid(d, v->peer_uid) ? CALLER_UNTRUSTED : CALLER_HOST;
	c->bwrap = 0;
	snprintf(c->why, sizeof(c->why),
		 "the process that connected (pid %d, uid %u) is gone: its pid may be another's",
		 (int)v->peer_pid, (unsigned int)v->peer_uid);
}

static void classify(const struct celld *d, const struct cell_vesicle *v, struct caller *c)
{
	pid_t p = v->peer_pid;
	int depth = 0;

	c->kind = CALLER_HOST;
	c->bwrap = 0;
	c->why[0] = '\0';
	if (v->peer_conn == 0)
		return; /* not a local connection */
	for (; p > 1 && depth < MAX_DEPTH; depth++) {
		const char *name;
		const char *const *peers;
		pid_t parent;

		if (celld_capsid_access(p, &name, &peers)) {
			c->kind = CALLER_CELL;
			c->bwrap = p;
			break;
		}
		parent = parent_of(p);
		if (parent < 0 && depth == 0) {
			gone(d, v, c);
			return;
		}
		p = parent; /* an ancestor gone meanwhile ends the walk: a host caller */
	}
	if (v->peer_pidfd >= 0 && !pidfd_alive(v->peer_pidfd)) {
		gone(d, v, c);
		return;
	}
	if (c->kind == CALLER_HOST && geteuid() == 0 && v->peer_uid == CELLS_UID && supervises(d)) {
		c->kind = CALLER_UNTRUSTED;
		snprintf(c->why, sizeof(c->why),
			 "uid %u is the sandboxed cells' uid, and pid %d is in no capsid",
			 (unsigned int)CELLS_UID, (int)v->peer_pid);
	}
}

static const char *bwrap_pid_text(pid_t pid)
{
	static char buf[16];

	snprintf(buf, sizeof(buf), "%d", (int)pid);
	return buf;
}

static struct caller *caller_of(const struct celld *d, const struct cell_vesicle *v)
{
	static struct caller remote = { .kind = CALLER_REMOTE };
	static struct caller unknown = { .kind = CALLER_UNTRUSTED,
					 .why = "no connection number and no credentials" };
	struct caller *c = &cache[v->peer_conn % CACHE_SLOTS];

	if (v->peer_conn == 0)
		return v->peer_pid == 0 ? &remote : &unknown;
	if (c->conn != v->peer_conn) {
		c->conn = v->peer_conn;
		classify(d, v, c);
		if (d->cfg.verbose)
			celld_log("access: connection %llu (pid %d uid %u): %s%s%s",
				  (unsigned long long)v->peer_conn, (int)v->peer_pid,
				  (unsigned int)v->peer_uid,
				  c->kind == CALLER_CELL   ? "a cell's, bwrap pid "
				  : c->kind == CALLER_HOST ? "a host caller"
							   : "not trusted: ",
				  c->kind == CALLER_UNTRUSTED ? c->why : "",
				  c->kind == CALLER_CELL ? bwrap_pid_text(c->bwrap) : "");
	}
	return c;
}

/* The cell of a CALLER_CELL (NULL if it stopped since: the caller is then classified anew). */
static struct celld_access_conf *cell_of(const struct celld *d, const struct cell_vesicle *v,
					 struct caller *c, const char **name,
					 const char *const **peers)
{
	struct celld_access_conf *a = celld_capsid_access(c->bwrap, name, peers);

	if (!a) {
		classify(d, v, c);
		a = c->kind == CALLER_CELL ? celld_capsid_access(c->bwrap, name, peers) : NULL;
	}
	return a;
}

/* ---- what it may call -------------------------------------------------- */

/* Whether @want is @self or the cell of one of @peers (".../NAME.sock"). */
static bool names_cell(const char *self, const char *const *peers, const char *want)
{
	size_t n = strlen(want);

	if (!strcmp(self, want))
		return true;
	for (size_t i = 0; peers && peers[i]; i++) {
		const char *base = strrchr(peers[i], '/');

		base = base ? base + 1 : peers[i];
		if (!strncmp(base, want, n) && !strcmp(base + n, ".sock"))
			return true;
	}
	return false;
}

/* The name of a struct name request, "" if malformed (the handler refuses it). */
static void request_name(const struct cell_vesicle *v, char *out, size_t cap)
{
	const char *why, *s;
	uint32_t n;

	out[0] = '\0';
	if (nucleus_name_validate(v->data, v->len, &why))
		return;
	s = nucleus_name_name((const struct nucleus_name *)v->data, &n);
	if (n < cap && !memchr(s, '\0', n)) {
		memcpy(out, s, n);
		out[n] = '\0';
	}
}

static bool query_name(const struct cell_vesicle *v, char *out, size_t cap)
{
	const char *why, *s;
	uint32_t n;

	out[0] = '\0';
	if (nucleus_query_validate(v->data, v->len, &why))
		return false;
	s = nucleus_query_name((const struct nucleus_query *)v->data, &n);
	if (n >= cap || memchr(s, '\0', n))
		return false;
	memcpy(out, s, n);
	out[n] = '\0';
	return true;
}

static enum cell_status deny(char *why, size_t cap, const char *fmt, const char *a, const char *b)
{
	snprintf(why, cap, fmt, a, b);
	return CELL_STATUS_PERMISSION_DENIED;
}

/* A sandboxed cell @self's call @v: OK, or PERMISSION_DENIED with @why. */
static enum cell_status entitled(const struct cell_vesicle *v, const struct celld_access_conf *a,
				 const char *self, const char *const *peers, char *why, size_t cap)
{
	char name[CELL_NAME_MAX], buf[16];
	struct celld_registration r;

	if (v->method < 64 && (a->grants & (1ull << v->method)))
		return CELL_STATUS_OK;
	switch (v->method) {
	case CELL_METHOD_PING:
	case CELL_METHOD_SCHEMA:
		return CELL_STATUS_OK;
	case NUCLEUS_METHOD_ENROLL:
		if (celld_registration_parse(v->data, v->len, &r, why, cap))
			return CELL_STATUS_OK; /* malformed: the handler refuses it */
		if (strcmp(r.name, self))
			return deny(why, cap, "cell '%s' may enroll only itself, not '%s'", self,
				    r.name);
		return CELL_STATUS_OK;
	case NUCLEUS_METHOD_WITHDRAW:
		request_name(v, name, sizeof(name));
		if (name[0] && strcmp(name, self))
			return deny(why, cap, "cell '%s' may withdraw only itself, not '%s'", self,
				    name);
		return CELL_STATUS_OK;
	case NUCLEUS_METHOD_LOOKUP:
		request_name(v, name, sizeof(name));
		if (name[0] && !names_cell(self, peers, name))
			return deny(why, cap,
				    "cell '%s' may look up only itself and the cells its conf "
				    "gives it (peer=), not '%s'",
				    self, name);
		return CELL_STATUS_OK;
	case NUCLEUS_METHOD_LIST:
		if (query_name(v, name, sizeof(name)) && name[0] && !names_cell(self, peers, name))
			return deny(why, cap,
				    "cell '%s' may list only itself and the cells its conf gives "
				    "it (peer=), not '%s'",
				    self, name);
		return CELL_STATUS_OK; /* an empty name: the answer is filtered */
	default:
		return deny(why, cap,
			    "cell '%s' is not granted nucleus method %s (grant= in its conf)", self,
			    method_name(v->method, buf, sizeof(buf)));
	}
}

/* ---- how often --------------------------------------------------------- */

static bool take_token(double *tokens, uint64_t *refilled_ns, uint32_t rate, uint32_t burst)
{
	uint64_t now = cell_now_ns();

	if (*refilled_ns) {
		*tokens += (double)(now - *refilled_ns) * rate / 1e9;
		if (*tokens > burst)
			*tokens = burst;
	} else {
		*tokens = burst;
	}
	*refilled_ns = now;
	if (*tokens < 1)
		return false;
	*tokens -= 1;
	return true;
}

static void summarize(struct celld_access_conf *a, const char *self, bool force)
{
	uint64_t now = cell_now_ns();

	if (!force && now - a->logged_ns < LOG_PERIOD_NS)
		return;
	if (a->limited != a->logged_limited || a->denied != a->logged_denied)
		celld_log("access: cell %s: %llu call(s) over its nucleus rate (%u/s, burst %u) "
			  "and %llu denied since the last line; %llu served in all",
			  self, (unsigned long long)(a->limited - a->logged_limited), a->rate,
			  a->burst, (unsigned long long)(a->denied - a->logged_denied),
			  (unsigned long long)a->served);
	a->logged_ns = now;
	a->logged_limited = a->limited;
	a->logged_denied = a->denied;
}

static enum cell_status admit_cell(const struct cell_vesicle *v, struct celld_access_conf *a,
				   const char *self, const char *const *peers, char *why,
				   size_t cap)
{
	enum cell_status st;

	if (!take_token(&a->tokens, &a->refilled_ns, a->rate, a->burst)) {
		a->limited++;
		summarize(a, self, false);
		snprintf(why, cap,
			 "cell '%s' is over its nucleus rate limit (%u calls/s, burst %u)", self,
			 a->rate, a->burst);
		return CELL_STATUS_RESOURCE_EXHAUSTED;
	}
	st = entitled(v, a, self, peers, why, cap);
	if (st != CELL_STATUS_OK) {
		a->denied++;
		summarize(a, self, a->denied == 1);
		return st;
	}
	a->served++;
	return CELL_STATUS_OK;
}

static enum cell_status admit_host(const struct cell_vesicle *v, struct celld *d, char *why,
				   size_t cap)
{
	uint32_t rate = (uint32_t)strtoul(celld_option(d, "nucleus.rate", "0"), NULL, 10);
	uint32_t burst = (uint32_t)strtoul(celld_option(d, "nucleus.burst", "0"), NULL, 10);
	struct host_bucket *b = NULL;

	if (!rate || v->peer_conn == 0)
		return CELL_STATUS_OK;
	if (!burst)
		burst = rate;
	for (int i = 0; i < HOST_BUCKETS && !b; i++)
		if (host_buckets[i].used && host_buckets[i].uid == v->peer_uid)
			b = &host_buckets[i];
	for (int i = 0; i < HOST_BUCKETS && !b; i++)
		if (!host_buckets[i].used) {
			b = &host_buckets[i];
			b->used = true;
			b->uid = v->peer_uid;
		}
	if (!b)
		b = &host_buckets[v->peer_uid % HOST_BUCKETS]; /* shared past 64 uids */
	if (take_token(&b->tokens, &b->refilled_ns, rate, burst))
		return CELL_STATUS_OK;
	snprintf(why, cap, "uid %u is over the nucleus rate limit (%u calls/s, burst %u)",
		 (unsigned int)v->peer_uid, rate, burst);
	return CELL_STATUS_RESOURCE_EXHAUSTED;
}

enum cell_status celld_access_admit(const struct cell_vesicle *v, char *why, size_t cap, void *ctx)
{
	struct caller *c = caller_of(ctx, v);
	struct celld_access_conf *a;
	const char *const *peers;
	const char *self;

	switch (c->kind) {
	case CALLER_UNTRUSTED:
		snprintf(why, cap, "not trusted: %s", c->why);
		return CELL_STATUS_PERMISSION_DENIED;
	case CALLER_REMOTE: /* the QUIC server asked the known-peers file already */
		if (v->method == CELL_METHOD_PING || v->method == CELL_METHOD_SCHEMA ||
		    v->method == NUCLEUS_METHOD_KV || v->method == NUCLEUS_METHOD_CLUSTER)
			return CELL_STATUS_OK;
		snprintf(why, cap,
			 "a remote node may call only kv and cluster (status), not method %u",
			 (unsigned int)v->method);
		return CELL_STATUS_PERMISSION_DENIED;
	case CALLER_CELL:
		a = cell_of(ctx, v, c, &self, &peers);
		if (a)
			return admit_cell(v, a, self, peers, why, cap);
		if (c->kind == CALLER_UNTRUSTED) {
			snprintf(why, cap, "not trusted: %s", c->why);
			return CELL_STATUS_PERMISSION_DENIED;
		}
		return admit_host(v, ctx, why, cap); /* reclassified as a host caller */
	default:
		return admit_host(v, ctx, why, cap);
	}
}

bool celld_access_sandboxed(const struct celld *d, const struct cell_vesicle *v)
{
	return caller_of(d, v)->kind != CALLER_HOST;
}

bool celld_access_may_see(const struct celld *d, const struct cell_vesicle *v, const char *name)
{
	struct caller *c = caller_of(d, v);
	struct celld_access_conf *a;
	const char *const *peers;
	const char *self;

	if (c->kind == CALLER_HOST)
		return true;
	if (c->kind != CALLER_CELL)
		return false;
	a = celld_capsid_access(c->bwrap, &self, &peers);
	if (!a)
		return false;
	return (a->grants & (1ull << NUCLEUS_METHOD_LIST)) || names_cell(self, peers, name);
}
