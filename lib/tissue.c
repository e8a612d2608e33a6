// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Tissue: round-robin unicast with failover, and broadcast, over every
 * instance of a name (name.sock, name@1.sock, ... in the runtime directory).
 *
 * A tissue is single-threaded (one caller at a time) and owns all its
 * state; there is no locking.  Instances are kept sorted by instance number
 * (the bare name is number 0) so round-robin order is stable across scans.
 * Each instance has at most one connection, opened on first use and closed
 * when a call on it reports UNAVAILABLE or its socket file disappears.  An
 * instance that failed is skipped for down_ns, unless every other instance
 * failed too.  Response views are released (ops->release) at the start of
 * the next call, broadcast, rescan or close, which is what makes the
 * replies valid until then.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cell/tissue.h>

#include "instances.h"
#include "opts.h"
#include "rpc_internal.h"

#define DEFAULT_RESCAN_NS 1000000000ull
#define DEFAULT_DOWN_NS	  100000000ull
#define SOCK_SUFFIX	  ".sock"
#define SUN_PATH_MAX	  (sizeof(((struct sockaddr_un *)0)->sun_path) - 1)

struct instance {
	char name[CELL_TISSUE_NAME_MAX + 12]; /* "<name>@<uint>" */
	unsigned int number;		      /* 0 for "name", N for "name@N" */
	void *conn;			      /* NULL until connected */
	bool started;			      /* a call was started on conn and not released */
	bool mismatched;		      /* serves another fingerprint: skipped */
	dev_t dev;			      /* the socket's identity at the last scan */
	ino_t ino;
	uint64_t ctime_ns;
	uint64_t down_until; /* skip until this time (CLOCK_MONOTONIC ns) */
};

struct cell_tissue {
	char name[CELL_TISSUE_NAME_MAX + 1];
	char dir[SUN_PATH_MAX + 1];
	struct cell_tissue_ops ops;
	void *ctx;
	struct cell_client_opts client; /* for the default (RPC client) ops */
	uint64_t rescan_ns, down_ns, next_scan;
	struct instance *inst; /* sorted by number */
	size_t count;
	size_t next; /* round-robin position */
	struct cell_tissue_reply *replies;
	size_t replies_cap;
	uint64_t mismatch_refusals; /* connects refused for the fingerprint */
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static bool valid_name(const char *name)
{
	size_t len = strlen(name);

	if (len < 1 || len > CELL_TISSUE_NAME_MAX)
		return false;
	return name[0] != '.' && strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_.-") == len;
}

/* ---- the default ops: libcell's RPC client ---------------------------- */

/* One instance's connection: its client and the call in progress. */
struct rpc_conn {
	struct cell_client *client;
	struct cell_call *call;
	struct cell_response resp;
};

static void *rpc_connect(const char *dir, const char *instance, void *ctx)
{
	struct cell_tissue *t = ctx;
	struct cell_client_opts o = t->client;
	struct rpc_conn *rc = calloc(1, sizeof(*rc));

	if (!rc)
		return NULL;
	o.runtime_dir = dir;
	o.reconnect = 0; /* the tissue fails over instead */
	/* This very instance: the tissue itself picks among them. */
	rc->client = cell_client_connect_exact(instance, &o);
	if (!rc->client) {
		enum cell_status st;
		int err = errno;

		(void)cell_last_error(&st);
		free(rc);
		errno = st == CELL_STATUS_FINGERPRINT_MISMATCH ? EPROTONOSUPPORT : err;
		return NULL;
	}
	return rc;
}

static enum cell_status rpc_start(void *conn, uint16_t method, const void *req, size_t len,
				  uint64_t deadline, void *ctx)
{
	struct rpc_conn *rc = conn;
	enum cell_status st;
	void *buf;

	(void)ctx;
	if (len > CELL_MAX_PAYLOAD)
		return CELL_STATUS_TOO_LARGE;
	st = cell_call_begin(rc->client, method, (uint32_t)len, 0, deadline, &rc->call, &buf);
	if (st)
		return st;
	if (len)
		memcpy(buf, req, len);
	st = cell_call_submit(rc->call, (uint32_t)len);
	if (st) {
		cell_call_end(rc->call);
		rc->call = NULL;
	}
	return st;
}

static enum cell_status rpc_wait(void *conn, uint64_t deadline, const void **resp, size_t *len,
				 void *ctx)
{
	struct rpc_conn *rc = conn;
	enum cell_status st;

	(void)ctx;
	(void)deadline; /* the call's own deadline, given at start */
	st = cell_call_wait(rc->call, &rc->resp);
	if (st == CELL_STATUS_OK) {
		*resp = rc->resp.data;
		*len = rc->resp.len;
	} else {
		*resp = rc->resp.detail;
		*len = rc->resp.detail_len;
	}
	return st;
}

static void rpc_release(void *conn, void *ctx)
{
	struct rpc_conn *rc = conn;

	(void)ctx;
	cell_call_end(rc->call);
	rc->call = NULL;
}

static void rpc_close(void *conn, void *ctx)
{
	struct rpc_conn *rc = conn;

	(void)ctx;
	if (rc->call)
		cell_call_end(rc->call);
	cell_client_free(rc->client);
	free(rc);
}

static const struct cell_tissue_ops rpc_ops = {
	.sz = sizeof(rpc_ops),
	.connect = rpc_connect,
	.start = rpc_start,
	.wait = rpc_wait,
	.release = rpc_release,
	.close = rpc_close,
};

static int copy_ops(struct cell_tissue *t, const struct cell_tissue_opts *opts)
{
	const struct cell_tissue_ops *ops = opts ? opts->ops : NULL;

	if (!ops) {
		t->ops = rpc_ops;
		t->ctx = t;
		return 0;
	}
	if (cell_opts_copy(&t->ops, sizeof(t->ops), ops, "cell_tissue_ops"))
		return -EINVAL;
	if (!t->ops.connect || !t->ops.start || !t->ops.wait || !t->ops.release || !t->ops.close)
		return -EINVAL;
	t->ctx = opts->ops_ctx;
	return 0;
}

/* Copy the fields of @opts the caller's version knows; defaults for others. */
static int setup(struct cell_tissue *t, const char *name, const struct cell_tissue_opts *in)
{
	struct cell_tissue_opts opts = { .sz = sizeof(opts) };
	int err;

	if (cell_opts_copy(&opts, sizeof(opts), in, "cell_tissue_opts"))
		return -EINVAL;
	if (!name || !valid_name(name))
		return -EINVAL;
	strcpy(t->name, name);
	if (opts.runtime_dir) {
		if (strlen(opts.runtime_dir) >= sizeof(t->dir))
			return -ENAMETOOLONG;
		strcpy(t->dir, opts.runtime_dir);
	} else {
		err = cell_runtime_dir(t->dir, sizeof(t->dir));
		if (err)
			return err;
	}
	/* "<dir>/<name>@<digits>.sock" must fit a sockaddr_un. */
	if (strlen(t->dir) + 1 + CELL_NAME_MAX + strlen(SOCK_SUFFIX) > SUN_PATH_MAX)
		return -ENAMETOOLONG;
	if (cell_opts_copy(&t->client, sizeof(t->client), opts.client, "cell_client_opts"))
		return -EINVAL;
	t->client.sz = sizeof(t->client);
	t->rescan_ns = opts.rescan_ns ? opts.rescan_ns : DEFAULT_RESCAN_NS;
	t->down_ns = opts.down_ns ? opts.down_ns : DEFAULT_DOWN_NS;
	return copy_ops(t, &opts);
}

struct cell_tissue *cell_tissue_open(const char *name, const struct cell_tissue_opts *opts)
{
	struct cell_tissue *t = calloc(1, sizeof(*t));
	int err;

	if (!t) {
		errno = ENOMEM;
		return NULL;
	}
	err = setup(t, name, opts);
	if (err) {
		free(t);
		errno = -err;
		return NULL;
	}
	return t;
}

static void release_views(struct cell_tissue *t)
{
	for (size_t i = 0; i < t->count; i++) {
		struct instance *in = &t->inst[i];

		if (in->started)
			t->ops.release(in->conn, t->ctx);
		in->started = false;
	}
}

static void disconnect(struct cell_tissue *t, struct instance *in)
{
	if (!in->conn)
		return;
	if (in->started)
		t->ops.release(in->conn, t->ctx);
	t->ops.close(in->conn, t->ctx);
	in->conn = NULL;
	in->started = false;
}

void cell_tissue_close(struct cell_tissue *t)
{
	if (!t)
		return;
	release_views(t);
	for (size_t i = 0; i < t->count; i++)
		disconnect(t, &t->inst[i]);
	free(t->inst);
	free(t->replies);
	free(t);
}

static void instance_init(struct instance *in, const char *name, const struct cell_instance_file *f)
{
	memset(in, 0, sizeof(*in));
	in->number = f->number;
	in->dev = f->dev;
	in->ino = f->ino;
	in->ctime_ns = f->ctime_ns;
	if (f->number)
		snprintf(in->name, sizeof(in->name), "%s@%u", name, f->number);
	else
		snprintf(in->name, sizeof(in->name), "%s", name);
}

/*
 * An instance seen again.  One that served another fingerprint is given
 * another look when its socket is a new one (a new server bound the name).
 */
static void instance_keep(struct instance *in, const struct cell_instance_file *f)
{
	if (in->dev != f->dev || in->ino != f->ino || in->ctime_ns != f->ctime_ns)
		in->mismatched = false;
	in->dev = f->dev;
	in->ino = f->ino;
	in->ctime_ns = f->ctime_ns;
}

int cell_tissue_rescan(struct cell_tissue *t)
{
	struct cell_instance_file *files;
	struct instance *fresh;
	size_t n, old = 0;
	int err;

	release_views(t);
	err = cell_instances_scan(t->dir, t->name, &files, &n);
	if (err)
		return err;
	fresh = calloc(n ? n : 1, sizeof(*fresh));
	if (!fresh) {
		free(files);
		return -ENOMEM;
	}
	/* Both lists are sorted: keep the state of instances still present. */
	for (size_t i = 0; i < n; i++) {
		while (old < t->count && t->inst[old].number < files[i].number)
			disconnect(t, &t->inst[old++]);
		if (old < t->count && t->inst[old].number == files[i].number) {
			fresh[i] = t->inst[old++];
			instance_keep(&fresh[i], &files[i]);
		} else {
			instance_init(&fresh[i], t->name, &files[i]);
		}
	}
	while (old < t->count)
		disconnect(t, &t->inst[old++]);
	free(files);
	free(t->inst);
	t->inst = fresh;
	t->count = n;
	t->next_scan = now_ns() + t->rescan_ns;
	return (int)n;
}

size_t cell_tissue_count(const struct cell_tissue *t)
{
	return t->count;
}

const char *cell_tissue_instance(const struct cell_tissue *t, size_t i)
{
	return i < t->count ? t->inst[i].name : NULL;
}

static void mark_down(struct cell_tissue *t, struct instance *in)
{
	disconnect(t, in);
	in->down_until = now_ns() + t->down_ns;
}

/* Start a call on instance @in, connecting first if needed. */
static enum cell_status instance_start(struct cell_tissue *t, struct instance *in, uint16_t method,
				       const void *req, size_t req_len, uint64_t deadline)
{
	enum cell_status status;

	if (!in->conn) {
		errno = 0;
		in->conn = t->ops.connect(t->dir, in->name, t->ctx);
		if (!in->conn && errno == EPROTONOSUPPORT) {
			/* Another schema: not ours to call until a new server binds there. */
			in->mismatched = true;
			t->mismatch_refusals++;
			return CELL_STATUS_FINGERPRINT_MISMATCH;
		}
		if (!in->conn) {
			mark_down(t, in);
			return CELL_STATUS_UNAVAILABLE;
		}
	}
	status = t->ops.start(in->conn, method, req, req_len, deadline, t->ctx);
	if (status == CELL_STATUS_UNAVAILABLE)
		mark_down(t, in);
	else if (status == CELL_STATUS_OK)
		in->started = true;
	return status;
}

/* Wait for the call started on @in; its reply view stays until release. */
static enum cell_status instance_wait(struct cell_tissue *t, struct instance *in, uint64_t deadline,
				      struct cell_tissue_reply *reply)
{
	enum cell_status status;

	status = t->ops.wait(in->conn, deadline, &reply->data, &reply->len, t->ctx);
	if (status == CELL_STATUS_UNAVAILABLE) {
		mark_down(t, in); /* releases the call and closes */
		reply->data = NULL;
		reply->len = 0;
	} else {
		in->down_until = 0;
	}
	return reply->status = status;
}

/* One whole call on instance @in; UNAVAILABLE if it cannot be reached. */
static enum cell_status instance_call(struct cell_tissue *t, struct instance *in, uint16_t method,
				      const void *req, size_t req_len, uint64_t deadline,
				      struct cell_tissue_reply *reply)
{
	enum cell_status status;

	*reply = (struct cell_tissue_reply){ .instance = in->name };
	status = instance_start(t, in, method, req, req_len, deadline);
	if (status != CELL_STATUS_OK)
		return reply->status = status;
	return instance_wait(t, in, deadline, reply);
}

static bool past(uint64_t deadline)
{
	return deadline != CELL_DEADLINE_NONE && now_ns() >= deadline;
}

/*
 * One round over the instances from the round-robin position; @skip_down
 * passes over instances that failed recently.  Return: the first answer
 * that is not UNAVAILABLE, else UNAVAILABLE (or DEADLINE_EXCEEDED).
 */
static enum cell_status call_round(struct cell_tissue *t, bool skip_down, uint16_t method,
				   const void *req, size_t req_len, uint64_t deadline,
				   struct cell_tissue_reply *reply)
{
	size_t n = t->count, start = n ? t->next++ % n : 0;
	uint64_t now = now_ns();
	enum cell_status status;

	for (size_t i = 0; i < n; i++) {
		struct instance *in = &t->inst[(start + i) % n];

		if (in->mismatched || (skip_down && in->down_until > now))
			continue;
		if (past(deadline))
			return reply->status = CELL_STATUS_DEADLINE_EXCEEDED;
		status = instance_call(t, in, method, req, req_len, deadline, reply);
		if (status != CELL_STATUS_UNAVAILABLE && !in->mismatched) {
			/* Continue after this one, so skipped instances' turns spread evenly. */
			t->next = (start + i) % n + 1;
			return status;
		}
	}
	return CELL_STATUS_UNAVAILABLE;
}

static bool every_instance_mismatched(const struct cell_tissue *t)
{
	for (size_t i = 0; i < t->count; i++)
		if (!t->inst[i].mismatched)
			return false;
	return t->count > 0;
}

enum cell_status cell_tissue_call(struct cell_tissue *t, uint16_t method, const void *req,
				  size_t req_len, uint64_t deadline,
				  struct cell_tissue_reply *reply)
{
	enum cell_status status;

	*reply = (struct cell_tissue_reply){ .status = CELL_STATUS_UNAVAILABLE };
	release_views(t);
	if ((!t->count || now_ns() >= t->next_scan) && cell_tissue_rescan(t) < 0)
		return reply->status = CELL_STATUS_UNAVAILABLE;
	if (!t->count)
		return reply->status = CELL_STATUS_NOT_FOUND;
	status = call_round(t, true, method, req, req_len, deadline, reply);
	if (status != CELL_STATUS_UNAVAILABLE)
		return status;
	/* Every instance failed or is down: look again, then try them all. */
	if (cell_tissue_rescan(t) < 0)
		return reply->status = CELL_STATUS_UNAVAILABLE;
	if (!t->count)
		return reply->status = CELL_STATUS_NOT_FOUND;
	status = call_round(t, false, method, req, req_len, deadline, reply);
	if (status == CELL_STATUS_UNAVAILABLE)
		*reply = (struct cell_tissue_reply){ .status = status };
	if (status == CELL_STATUS_UNAVAILABLE && every_instance_mismatched(t))
		return reply->status = CELL_STATUS_FINGERPRINT_MISMATCH;
	return status;
}

static int replies_reserve(struct cell_tissue *t)
{
	struct cell_tissue_reply *grown;

	if (t->count <= t->replies_cap)
		return 0;
	grown = realloc(t->replies, t->count * sizeof(*t->replies));
	if (!grown)
		return -ENOMEM;
	t->replies = grown;
	t->replies_cap = t->count;
	return 0;
}

int cell_tissue_broadcast(struct cell_tissue *t, uint16_t method, const void *req, size_t req_len,
			  uint64_t deadline, const struct cell_tissue_reply **replies)
{
	int err = cell_tissue_rescan(t);
	size_t n = 0;

	*replies = NULL;
	if (err < 0)
		return err;
	err = replies_reserve(t);
	if (err)
		return err;
	/* Send everywhere first, so the instances work in parallel. */
	for (size_t i = 0; i < t->count; i++) {
		struct cell_tissue_reply *r = &t->replies[i];

		*r = (struct cell_tissue_reply){ .instance = t->inst[i].name };
		if (t->inst[i].mismatched)
			continue;
		r->status = past(deadline) ? CELL_STATUS_DEADLINE_EXCEEDED
					   : instance_start(t, &t->inst[i], method, req, req_len,
							    deadline);
	}
	for (size_t i = 0; i < t->count; i++)
		if (t->replies[i].status == CELL_STATUS_OK && !t->inst[i].mismatched)
			instance_wait(t, &t->inst[i], deadline, &t->replies[i]);
	/* Instances of another fingerprint are no part of this tissue: left out. */
	for (size_t i = 0; i < t->count; i++)
		if (!t->inst[i].mismatched)
			t->replies[n++] = t->replies[i];
	*replies = t->replies;
	return (int)n;
}

int cell_tissue_stats(const struct cell_tissue *t, struct cell_tissue_stats *out)
{
	struct cell_tissue_stats st = { .sz = sizeof(st) };
	size_t sz;

	if (!t || !out || out->sz < sizeof(out->sz))
		return -EINVAL;
	sz = out->sz < sizeof(st) ? out->sz : sizeof(st);
	st.instances = t->count;
	for (size_t i = 0; i < t->count; i++)
		st.mismatched += t->inst[i].mismatched;
	st.mismatch_refusals = t->mismatch_refusals;
	memcpy(out, &st, sz);
	out->sz = sz;
	return 0;
}
