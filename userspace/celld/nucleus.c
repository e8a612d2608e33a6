// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * The nucleus cell: celld's API (nucleus.cell) served with libcell's
 * server.  Handlers are registered raw with cell_server_handle() so that
 * refusals carry a detail text.
 *
 * To add a method: add it to nucleus.cell, write a handler here (or in
 * the module's own file, registered from its start function with
 * cell_server_handle(d->nucleus, NUCLEUS_METHOD_X, fn, d)).
 *
 * Threads, and how a call reaches the loop.  The socket is served by
 * nucleus.threads threads (cell_server_run() on a thread of its own: the
 * "serving threads"), so that a handler that waits holds one of them and
 * not celld's loop (review-6 R7: a kv call waits for its Raft commit, a
 * forwarded one for the leader, seconds when there is no quorum).  The
 * admission check (access.c) and every handler but the blocking ones
 * (celld_nucleus_handle_blocking(): cluster.c's) still run on the loop
 * thread: the serving thread queues a struct hop on its own stack, wakes
 * the loop (uv_async) and sleeps on hops.cond until the loop marks it
 * done.  A loop handler's call costs that hand-over; a blocking handler's
 * only the admission's.  libcell's control methods (PING, SCHEMA,
 * METRICS, SPANS) are answered on the serving thread after their
 * admission.
 *
 * Locking and memory ordering: hops.lock protects the queue, each hop's
 * done flag and hops.served_out.  Between queueing a hop and seeing it
 * done, only the loop thread touches the hop, its vesicle and its reply
 * (the server's objects, which live on the serving thread's stack while
 * it sleeps); taking hops.lock on both sides orders those accesses.  The
 * method table is written before the threads start (cell_server_run()
 * refuses later registrations) and only read afterwards.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cell/rpc.h>

#include "access.h"
#include "celld.h"
#include "nucleus.cell.h"
#include "probe.h"
#include "registration.h"

/* Modules' registrations go through celld_nucleus_handle(); here, libcell's. */
#undef cell_server_handle

#define NUCLEUS_METHODS	 64 /* method ids below this (nucleus.cell's are 1..13) */
#define DEFAULT_THREADS	 16
#define MIN_THREADS	 5 /* cluster.c keeps 4 free of kv calls */
#define MAX_THREADS	 64
#define ADMIT_DETAIL_MAX 1024

static enum cell_status refuse(struct cell_reply *reply, enum cell_status st, const char *why)
{
	if (reply && cell_reply_error(reply, st, why))
		return CELL_STATUS_INTERNAL;
	return st;
}

static enum cell_status status_of(int rc)
{
	switch (rc) {
	case -EPERM:
		return CELL_STATUS_PERMISSION_DENIED;
	case -EADDRINUSE:
		return CELL_STATUS_INVALID_ARGUMENT;
	case -EBADMSG:
		return CELL_STATUS_BAD_MESSAGE;
	case -ENOMEM:
	case -EMFILE:
	case -ENFILE:
		return CELL_STATUS_RESOURCE_EXHAUSTED;
	case -ESRCH:
	case -ENOENT:
		return CELL_STATUS_NOT_FOUND;
	default:
		return CELL_STATUS_INVALID_ARGUMENT;
	}
}

/* ---- enroll / withdraw ------------------------------------------------ */

/*
 * A registration may not name a socket another process serves (else `cell
 * ps` would point at someone else's cell).  A path nobody listens on is
 * accepted: the entry still goes with the registering process.
 */
static int check_path(const struct celld_registration *r, pid_t peer, char *err, size_t cap)
{
	pid_t pid;
	uid_t uid;

	if (cell_probe_peer(r->path, &pid, &uid) || pid == peer)
		return 0;
	snprintf(err, cap, "%s is served by pid %d, not by the registering pid %d", r->path,
		 (int)pid, (int)peer);
	return -EADDRINUSE;
}

static enum cell_status on_enroll(const struct cell_vesicle *v, struct cell_reply *reply, void *ctx)
{
	struct celld *d = ctx;
	struct celld_registration r;
	const struct celld_entry *kept;
	struct nucleus_registered *resp;
	struct celld_entry e;
	char err[256];
	int rc;

	rc = celld_registration_parse(v->data, v->len, &r, err, sizeof(err));
	if (rc)
		return refuse(reply, status_of(rc), err);
	rc = check_path(&r, v->peer_pid, err, sizeof(err));
	if (rc)
		return refuse(reply, status_of(rc), err);
	if (celld_registration_entry(&r, &e))
		return refuse(reply, CELL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
	celld_capsid_enroll_name(e.path, e.name, sizeof(e.name)); /* NAME@K, for an instance */
	e.pid = v->peer_pid; /* what the kernel says, not the request */
	e.uid = v->peer_uid;
	rc = celld_registry_add(d->registry, &e, err, sizeof(err), &kept);
	celld_entry_strings_free(&e);
	if (rc) {
		if (d->cfg.verbose)
			celld_log("enroll %s refused: %s", r.name, err);
		return refuse(reply, status_of(rc), err);
	}
	if (d->cfg.verbose)
		celld_log("enroll %s pid %d uid %u", kept->name, (int)kept->pid,
			  (unsigned int)kept->uid);
	if (!reply)
		return CELL_STATUS_OK;
	resp = cell_reply_reserve(reply, NUCLEUS_REGISTERED_SIZE);
	if (!resp)
		return CELL_STATUS_RESOURCE_EXHAUSTED;
	memset(resp, 0, NUCLEUS_REGISTERED_SIZE);
	resp->id = kept->id;
	resp->count = (uint32_t)celld_registry_count(d->registry);
	return cell_reply_commit(reply, NUCLEUS_REGISTERED_SIZE) ? CELL_STATUS_UNAVAILABLE
								 : CELL_STATUS_OK;
}

/* Copies the name of a struct name request; NULL after answering an error. */
static const char *request_name(const struct cell_vesicle *v, struct cell_reply *reply,
				char name[CELL_NAME_MAX])
{
	const char *why = "invalid request";
	const char *s;
	uint32_t n;

	if (nucleus_name_validate(v->data, v->len, &why)) {
		refuse(reply, CELL_STATUS_BAD_MESSAGE, why);
		return NULL;
	}
	s = nucleus_name_name((const struct nucleus_name *)v->data, &n);
	if (n >= CELL_NAME_MAX || memchr(s, '\0', n)) {
		refuse(reply, CELL_STATUS_INVALID_ARGUMENT, "bad cell name");
		return NULL;
	}
	memcpy(name, s, n);
	name[n] = '\0';
	return name;
}

static enum cell_status on_withdraw(const struct cell_vesicle *v, struct cell_reply *reply,
				    void *ctx)
{
	struct celld *d = ctx;
	const struct celld_entry *e;
	char name[CELL_NAME_MAX], err[160];

	if (!request_name(v, reply, name))
		return CELL_STATUS_BAD_MESSAGE;
	e = celld_registry_find(d->registry, "", name);
	if (!e)
		return refuse(reply, CELL_STATUS_NOT_FOUND, "no such cell");
	if (e->uid != v->peer_uid && v->peer_uid != 0) {
		snprintf(err, sizeof(err), "cell '%s' belongs to uid %u", name,
			 (unsigned int)e->uid);
		return refuse(reply, CELL_STATUS_PERMISSION_DENIED, err);
	}
	/*
	 * Instance NAME@K of a supervised cell withdraws its server's name,
	 * NAME, at exit: that entry is another instance's, kept by the
	 * supervisor (which updates NAME@K's own at the exit).
	 */
	if (e->sup_state && e->pid && e->pid != v->peer_pid && celld_access_sandboxed(d, v))
		e = NULL;
	if (e && celld_registry_remove(d->registry, "", name))
		return refuse(reply, CELL_STATUS_NOT_FOUND, "no such cell");
	if (!reply)
		return CELL_STATUS_OK;
	return cell_reply_send(reply, (const uint8_t[8]){ 0 }, NUCLEUS_EMPTY_SIZE)
		       ? CELL_STATUS_UNAVAILABLE
		       : CELL_STATUS_OK;
}

/* ---- list / lookup ---------------------------------------------------- */

struct selection {
	char name[CELL_NAME_MAX];
	uint32_t flags;
	const struct celld_entry **items;
	size_t n, cap;
	uint64_t bytes; /* upper bound of the response */
	int err;
	const struct cell_vesicle *caller; /* a sandboxed cell sees only its peers (access.c) */
	const struct celld *d;
};

static uint64_t info_bytes(const struct celld_entry *e)
{
	uint64_t n = NUCLEUS_CELL_INFO_SIZE + strlen(e->name) + strlen(e->node) + 3 * 8;

	if (e->path)
		n += strlen(e->path);
	n += 8 + strlen(celld_sup_state_name(e->sup_state));
	n += cellc_span_max(e->nendpoints, NUCLEUS_ENDPOINT_SIZE);
	for (uint32_t i = 0; i < e->nendpoints; i++)
		n += strlen(e->endpoints[i]);
	return n;
}

static void select_one(const struct celld_entry *e, void *ctx)
{
	struct selection *s = ctx;
	bool local = !e->node[0];

	if (s->err || (s->name[0] && strcmp(s->name, e->name)))
		return;
	if (!celld_access_may_see(s->d, s->caller, e->name))
		return;
	if ((s->flags & 1) && !(s->flags & 2) && !local)
		return;
	if ((s->flags & 2) && !(s->flags & 1) && local)
		return;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		const struct celld_entry **p = realloc(s->items, cap * sizeof(*p));

		if (!p) {
			s->err = -ENOMEM;
			return;
		}
		s->items = p;
		s->cap = cap;
	}
	s->items[s->n++] = e;
	s->bytes += info_bytes(e);
}

/* Writes @e into @info, a struct inside the message @b builds. */
static void put_info(struct cellc_builder *b, struct nucleus_cell_info *info,
		     const struct celld_entry *e)
{
	struct nucleus_endpoint *ep;

	info->fingerprint = e->fingerprint;
	info->id = e->id;
	info->pid = e->pid;
	info->uid = e->uid;
	info->rtt_us = e->rtt_us;
	info->health = e->health;
	info->origin = e->origin;
	(void)nucleus_cell_info_set_name_str(b, info, e->name);
	(void)nucleus_cell_info_set_node_str(b, info, e->node);
	if (e->path)
		(void)nucleus_cell_info_set_path_str(b, info, e->path);
	ep = nucleus_cell_info_alloc_endpoints(b, info, e->nendpoints);
	for (uint32_t i = 0; ep && i < e->nendpoints; i++)
		(void)nucleus_endpoint_set_uri_str(b, &ep[i], e->endpoints[i]);
	/* A supervised cell's state (supervisor.c); "" for the others. */
	(void)nucleus_cell_info_set_state_str(b, info, celld_sup_state_name(e->sup_state));
	info->restarts = e->sup_restarts;
	if (e->sup_started_ns)
		info->uptime_ms = (cell_now_ns() - e->sup_started_ns) / 1000000;
}

static enum cell_status on_list(const struct cell_vesicle *v, struct cell_reply *reply, void *ctx)
{
	struct celld *d = ctx;
	const struct nucleus_query *q = v->data;
	struct selection s = { .bytes = NUCLEUS_CELL_LIST_SIZE + 8, .caller = v, .d = d };
	struct nucleus_cell_list *list;
	struct nucleus_cell_info *cells;
	struct cellc_builder b;
	const char *why = "invalid request", *name;
	uint32_t n;

	if (nucleus_query_validate(v->data, v->len, &why))
		return refuse(reply, CELL_STATUS_BAD_MESSAGE, why);
	if (!reply)
		return CELL_STATUS_INVALID_ARGUMENT;
	name = nucleus_query_name(q, &n);
	if (n >= CELL_NAME_MAX)
		return refuse(reply, CELL_STATUS_INVALID_ARGUMENT, "name filter too long");
	memcpy(s.name, name, n);
	s.flags = q->flags;
	celld_registry_foreach(d->registry, select_one, &s);
	if (s.err) {
		free(s.items);
		return refuse(reply, CELL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
	}
	list = nucleus_cell_list_reply_begin(reply, s.bytes, &b);
	if (!list) {
		free(s.items);
		return CELL_STATUS_RESOURCE_EXHAUSTED;
	}
	list->total = celld_access_sandboxed(d, v) ? (uint32_t)s.n
						   : (uint32_t)celld_registry_count(d->registry);
	cells = nucleus_cell_list_alloc_cells(&b, list, (uint32_t)s.n);
	for (size_t i = 0; cells && i < s.n; i++)
		put_info(&b, &cells[i], s.items[i]);
	free(s.items);
	return cellc_reply_finish(reply, &b) ? CELL_STATUS_INTERNAL : CELL_STATUS_OK;
}

static enum cell_status on_lookup(const struct cell_vesicle *v, struct cell_reply *reply, void *ctx)
{
	struct celld *d = ctx;
	struct nucleus_cell_detail *det;
	const struct celld_entry *e;
	struct cellc_builder b;
	char name[CELL_NAME_MAX];
	uint64_t bytes;

	if (!request_name(v, reply, name))
		return CELL_STATUS_BAD_MESSAGE;
	if (!reply)
		return CELL_STATUS_INVALID_ARGUMENT;
	e = celld_registry_find(d->registry, "", name);
	if (!e)
		return refuse(reply, CELL_STATUS_NOT_FOUND, "no such cell");
	bytes = NUCLEUS_CELL_DETAIL_SIZE + info_bytes(e) + 8 + (e->schema ? strlen(e->schema) : 0);
	det = nucleus_cell_detail_reply_begin(reply, bytes, &b);
	if (!det)
		return CELL_STATUS_RESOURCE_EXHAUSTED;
	put_info(&b, &det->info, e);
	if (e->schema)
		(void)nucleus_cell_detail_set_schema_text_str(&b, det, e->schema);
	return cellc_reply_finish(reply, &b) ? CELL_STATUS_INTERNAL : CELL_STATUS_OK;
}

/* ---- the server in the loop ------------------------------------------- */

/* Every local user may register and list: ownership is checked per name. */
static int authorize_all(pid_t pid, uid_t uid, gid_t gid, void *ctx)
{
	(void)pid;
	(void)uid;
	(void)gid;
	(void)ctx;
	return 1;
}

/* ---- the serving threads and the hand-over to the loop --------------- */

struct method {
	cell_handler_fn fn; /* NULL: none registered through celld */
	void *ctx;
	bool blocking; /* runs on the serving thread (celld_nucleus_handle_blocking()) */
};

/* One call handed to the loop: admission only (fn NULL), or admission and handler. */
struct hop {
	struct hop *next;
	const struct cell_vesicle *v;
	struct cell_reply *reply;
	const struct method *m;
	char *why; /* admission only: the refusal's detail */
	size_t cap;
	enum cell_status st;
	bool done;
};

static struct {
	struct celld *d;
	struct cell_server *srv;
	struct method methods[NUCLEUS_METHODS];
	unsigned int threads;
	pthread_t thread; /* runs cell_server_run() */
	bool serving;	  /* that thread was started (loop thread only) */
	uv_async_t wake;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* a hop done, a hop queued, served_out */
	struct hop *head, **tail;
	bool served_out; /* cell_server_run() returned */
	bool failed;	 /* ... with an error: the loop stops celld */
} hops = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.cond = PTHREAD_COND_INITIALIZER,
	.tail = &hops.head,
};

/* On the loop: what the serving thread would have done itself. */
static void run_hop(struct hop *h)
{
	char why[ADMIT_DETAIL_MAX];

	if (!h->m) {
		h->st = celld_access_admit(h->v, h->why, h->cap, hops.d);
		return;
	}
	why[0] = '\0';
	h->st = celld_access_admit(h->v, why, sizeof(why), hops.d);
	if (h->st != CELL_STATUS_OK) {
		/* As libcell's server answers a refused admission. */
		if (h->reply && cell_reply_error(h->reply, h->st, why[0] ? why : NULL))
			h->st = CELL_STATUS_INTERNAL;
		return;
	}
	h->st = h->m->fn(h->v, h->reply, h->m->ctx);
}

/* Run every queued hop on this thread (the loop, or the quiescing main thread). */
static void run_hops(void)
{
	struct hop *list, *h, *next;

	pthread_mutex_lock(&hops.lock);
	list = hops.head;
	hops.head = NULL;
	hops.tail = &hops.head;
	pthread_mutex_unlock(&hops.lock);
	for (h = list; h; h = next) {
		next = h->next; /* @h is gone once its thread sees it done */
		run_hop(h);
		pthread_mutex_lock(&hops.lock);
		h->done = true;
		pthread_cond_broadcast(&hops.cond);
		pthread_mutex_unlock(&hops.lock);
	}
}

static void on_hops(uv_async_t *a)
{
	bool failed;

	(void)a;
	run_hops();
	pthread_mutex_lock(&hops.lock);
	failed = hops.failed;
	pthread_mutex_unlock(&hops.lock);
	if (failed)
		celld_stop(hops.d, 1);
}

/* On a serving thread: hand @h to the loop and sleep until it ran. */
static enum cell_status hand_over(struct hop *h)
{
	pthread_mutex_lock(&hops.lock);
	*hops.tail = h;
	hops.tail = &h->next;
	pthread_cond_broadcast(&hops.cond); /* for celld_nucleus_quiesce() */
	pthread_mutex_unlock(&hops.lock);
	uv_async_send(&hops.wake);
	pthread_mutex_lock(&hops.lock);
	while (!h->done)
		pthread_cond_wait(&hops.cond, &hops.lock);
	pthread_mutex_unlock(&hops.lock);
	return h->st;
}

static const struct method *method_of(uint16_t method)
{
	return method < NUCLEUS_METHODS && hops.methods[method].fn ? &hops.methods[method] : NULL;
}

/*
 * The server's admission check, on the serving thread.  A loop handler's
 * call is admitted on the loop with its handler (one hand-over, in
 * on_call()); the others (blocking handlers, control methods, methods
 * nobody serves) are admitted on the loop here.
 */
static enum cell_status admit(const struct cell_vesicle *v, char *why, size_t cap, void *ctx)
{
	const struct method *m = method_of(v->method);
	struct hop h = { .v = v, .why = why, .cap = cap };

	(void)ctx;
	if (m && !m->blocking)
		return CELL_STATUS_OK;
	return hand_over(&h);
}

/* The handler libcell calls for a loop handler's method: hand it over. */
static enum cell_status on_call(const struct cell_vesicle *v, struct cell_reply *reply, void *ctx)
{
	struct hop h = { .v = v, .reply = reply, .m = ctx };

	return hand_over(&h);
}

int celld_nucleus_handle(struct cell_server *srv, uint16_t method, cell_handler_fn fn, void *ctx)
{
	if (!srv || srv != hops.srv)
		return cell_server_handle(srv, method, fn, ctx);
	if (method >= NUCLEUS_METHODS || !fn)
		return -EINVAL;
	hops.methods[method] = (struct method){ .fn = fn, .ctx = ctx };
	return cell_server_handle(srv, method, on_call, &hops.methods[method]);
}

int celld_nucleus_handle_blocking(struct celld *d, uint16_t method, cell_handler_fn fn, void *ctx)
{
	if (!d->nucleus || d->nucleus != hops.srv || method >= NUCLEUS_METHODS || !fn)
		return -EINVAL;
	hops.methods[method] = (struct method){ .fn = fn, .ctx = ctx, .blocking = true };
	return cell_server_handle(d->nucleus, method, fn, ctx);
}

unsigned int celld_nucleus_threads(const struct celld *d)
{
	const char *opt = celld_option(d, "nucleus.threads", NULL);
	unsigned long n = opt ? strtoul(opt, NULL, 10) : 0;

	if (n < MIN_THREADS)
		n = n ? MIN_THREADS : DEFAULT_THREADS;
	return n > MAX_THREADS ? MAX_THREADS : (unsigned int)n;
}

static void *serve_nucleus(void *arg)
{
	int rc;

	(void)arg;
	rc = cell_server_run(hops.srv, hops.threads);
	if (rc)
		celld_log("nucleus: %s", strerror(-rc));
	pthread_mutex_lock(&hops.lock);
	hops.served_out = true;
	hops.failed = rc != 0;
	pthread_cond_broadcast(&hops.cond);
	pthread_mutex_unlock(&hops.lock);
	if (rc)
		uv_async_send(&hops.wake); /* celld_stop() is the loop's */
	return NULL;
}

int celld_nucleus_serve(struct celld *d)
{
	int rc;

	if (!d->nucleus)
		return -EINVAL;
	rc = pthread_create(&hops.thread, NULL, serve_nucleus, NULL);
	if (rc) {
		celld_log("nucleus: no thread to serve it: %s", strerror(rc));
		return -rc;
	}
	hops.serving = true;
	return 0;
}

void celld_nucleus_quiesce(struct celld *d)
{
	if (!hops.serving)
		return;
	cell_server_stop(d->nucleus);
	/* A serving thread may be handing a call over: run it here, the modules still live. */
	pthread_mutex_lock(&hops.lock);
	while (!hops.served_out) {
		if (hops.head) {
			pthread_mutex_unlock(&hops.lock);
			run_hops();
			pthread_mutex_lock(&hops.lock);
			continue;
		}
		pthread_cond_wait(&hops.cond, &hops.lock);
	}
	pthread_mutex_unlock(&hops.lock);
	pthread_join(hops.thread, NULL);
	hops.serving = false;
}

int celld_nucleus_start(struct celld *d)
{
	struct cell_server_opts opts = nucleus_server_opts();
	static const struct {
		uint16_t method;
		cell_handler_fn fn;
	} methods[] = {
		{ NUCLEUS_METHOD_ENROLL, on_enroll },
		{ NUCLEUS_METHOD_WITHDRAW, on_withdraw },
		{ NUCLEUS_METHOD_LIST, on_list },
		{ NUCLEUS_METHOD_LOOKUP, on_lookup },
	};
	int rc;

	opts.runtime_dir = d->cfg.runtime_dir;
	opts.authorize = authorize_all;
	opts.admit = admit; /* per call, on the loop: sandboxed cells' rights, rate limits */
	opts.admit_ctx = d;
	opts.backend = CELL_RING_BACKEND_NONE; /* short calls: the socket is enough */
	opts.max_connections = 4096;
	if (d->cfg.listen_fd > 0)
		opts.listen_fd = d->cfg.listen_fd; /* socket activation (celld.socket) */
	d->nucleus = cell_server_new("nucleus", &opts);
	if (!d->nucleus) {
		celld_log("cannot serve the nucleus: %s", cell_last_error(NULL));
		return -errno;
	}
	hops.d = d;
	hops.srv = d->nucleus;
	hops.threads = celld_nucleus_threads(d);
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		rc = celld_nucleus_handle(d->nucleus, methods[i].method, methods[i].fn, d);
		if (rc)
			return rc;
	}
	/* Any local user may register a cell (ownership is checked per name). */
	if (chmod(cell_server_path(d->nucleus), 0666))
		celld_log("chmod %s: %s", cell_server_path(d->nucleus), strerror(errno));
	/*
	 * Not served yet: other modules may still add nucleus methods from
	 * their start() (cell_server_handle() refuses once serving began).
	 * main.c calls celld_nucleus_serve() when they all started.
	 */
	rc = uv_async_init(d->loop, &hops.wake, on_hops);
	if (rc)
		hops.srv = NULL;
	return rc;
}

void celld_nucleus_stop(struct celld *d)
{
	if (!d->nucleus || !hops.srv)
		return;
	celld_nucleus_quiesce(d); /* if main.c did not */
	uv_close((uv_handle_t *)&hops.wake, NULL);
	hops.srv = NULL;
}
