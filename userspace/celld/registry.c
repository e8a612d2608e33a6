// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * The registry (registry.h): a chained hash table of entries keyed by
 * (node, name), and one pidfd watcher per local process.  A watcher lists
 * the entries of its process (doubly linked), so a process with 10,000
 * cells costs one fd, and its death removes them all in one pass.
 *
 * Everything runs on celld's loop thread: no locks.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cell/time.h>

#include "probe.h"
#include "registry.h"

#define MAX_LISTENERS 8
#define WATCH_BUCKETS 1024

struct watch;

struct rentry {
	struct celld_entry pub;
	uint64_t hash;
	struct rentry *next; /* hash chain */
	struct watch *watch; /* NULL: not watched */
	struct rentry *wprev, *wnext;
};

struct watch {
	struct celld_registry *reg;
	pid_t pid;
	int pidfd;
	uv_poll_t poll;
	struct rentry *entries;
	struct watch *next; /* bucket chain */
};

struct celld_registry {
	uv_loop_t *loop;
	struct rentry **buckets;
	size_t nbuckets; /* power of two */
	size_t count;
	uint64_t next_id;
	struct watch *watches[WATCH_BUCKETS];
	struct {
		celld_registry_listener_fn fn;
		void *ctx;
	} listeners[MAX_LISTENERS];
	int nlisteners;
};

static uint64_t key_hash(const char *node, const char *name)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (const char *p = node; *p; p++)
		h = (h ^ (uint8_t)*p) * 0x100000001b3ULL;
	h = (h ^ 0xff) * 0x100000001b3ULL; /* separator no name byte can be */
	for (const char *p = name; *p; p++)
		h = (h ^ (uint8_t)*p) * 0x100000001b3ULL;
	return h;
}

struct celld_registry *celld_registry_new(uv_loop_t *loop)
{
	struct celld_registry *reg = calloc(1, sizeof(*reg));

	if (!reg)
		return NULL;
	reg->loop = loop;
	reg->nbuckets = 64;
	reg->next_id = 1;
	reg->buckets = calloc(reg->nbuckets, sizeof(*reg->buckets));
	if (!reg->buckets) {
		free(reg);
		errno = ENOMEM;
		return NULL;
	}
	return reg;
}

static void notify(struct celld_registry *reg, enum celld_event ev, const struct rentry *e)
{
	for (int i = 0; i < reg->nlisteners; i++)
		reg->listeners[i].fn(ev, &e->pub, reg->listeners[i].ctx);
}

int celld_registry_listen(struct celld_registry *reg, celld_registry_listener_fn fn, void *ctx)
{
	if (reg->nlisteners == MAX_LISTENERS)
		return -ENOSPC;
	reg->listeners[reg->nlisteners].fn = fn;
	reg->listeners[reg->nlisteners].ctx = ctx;
	reg->nlisteners++;
	return 0;
}

/* ---- pidfd watchers --------------------------------------------------- */

static void watch_closed(uv_handle_t *h)
{
	struct watch *w = h->data;

	close(w->pidfd);
	free(w);
}

static void watch_unlink(struct watch *w)
{
	struct watch **pp = &w->reg->watches[(unsigned int)w->pid % WATCH_BUCKETS];

	while (*pp && *pp != w)
		pp = &(*pp)->next;
	if (*pp)
		*pp = w->next;
	uv_close((uv_handle_t *)&w->poll, watch_closed);
}

static void entry_free(struct rentry *e)
{
	free(e->pub.path);
	free(e->pub.schema);
	for (uint32_t i = 0; i < e->pub.nendpoints; i++)
		free(e->pub.endpoints[i]);
	free(e);
}

/* Takes @e out of the table and its watcher, tells the listeners, frees it. */
static void entry_drop(struct celld_registry *reg, struct rentry *e)
{
	struct rentry **pp = &reg->buckets[e->hash & (reg->nbuckets - 1)];
	struct watch *w = e->watch;

	while (*pp && *pp != e)
		pp = &(*pp)->next;
	if (*pp)
		*pp = e->next;
	reg->count--;
	if (w) {
		if (e->wprev)
			e->wprev->wnext = e->wnext;
		else
			w->entries = e->wnext;
		if (e->wnext)
			e->wnext->wprev = e->wprev;
		if (!w->entries)
			watch_unlink(w);
	}
	notify(reg, CELLD_EVENT_REMOVED, e);
	entry_free(e);
}

static void on_pid_exit(uv_poll_t *h, int status, int events)
{
	struct watch *w = h->data;

	(void)status;
	(void)events;
	/* The last entry's drop closes (and later frees) the watcher. */
	while (w->entries)
		entry_drop(w->reg, w->entries);
}

static struct watch *watch_get(struct celld_registry *reg, pid_t pid, int *err)
{
	struct watch **head = &reg->watches[(unsigned int)pid % WATCH_BUCKETS];
	struct watch *w;
	int fd;

	for (w = *head; w; w = w->next)
		if (w->pid == pid && !uv_is_closing((uv_handle_t *)&w->poll))
			return w;
	fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0) {
		*err = -errno;
		return NULL;
	}
	w = calloc(1, sizeof(*w));
	if (!w) {
		close(fd);
		*err = -ENOMEM;
		return NULL;
	}
	w->reg = reg;
	w->pid = pid;
	w->pidfd = fd;
	if (uv_poll_init(reg->loop, &w->poll, fd)) {
		close(fd);
		free(w);
		*err = -ENOMEM;
		return NULL;
	}
	w->poll.data = w;
	uv_poll_start(&w->poll, UV_READABLE, on_pid_exit);
	w->next = *head;
	*head = w;
	return w;
}

/* Whether the process behind @w is gone (its pidfd readable) already. */
static bool watch_dead(const struct watch *w)
{
	struct pollfd p = { .fd = w->pidfd, .events = POLLIN };

	return poll(&p, 1, 0) == 1;
}

/* ---- table ------------------------------------------------------------ */

static struct rentry *lookup(const struct celld_registry *reg, const char *node, const char *name,
			     uint64_t h)
{
	for (struct rentry *e = reg->buckets[h & (reg->nbuckets - 1)]; e; e = e->next)
		if (e->hash == h && !strcmp(e->pub.name, name) && !strcmp(e->pub.node, node))
			return e;
	return NULL;
}

static void grow(struct celld_registry *reg)
{
	size_t n = reg->nbuckets * 2;
	struct rentry **b = calloc(n, sizeof(*b));

	if (!b)
		return; /* longer chains, still correct */
	for (size_t i = 0; i < reg->nbuckets; i++) {
		struct rentry *e = reg->buckets[i], *next;

		for (; e; e = next) {
			next = e->next;
			e->next = b[e->hash & (n - 1)];
			b[e->hash & (n - 1)] = e;
		}
	}
	free(reg->buckets);
	reg->buckets = b;
	reg->nbuckets = n;
}

static char *dup_checked(const char *s, size_t max, int *err)
{
	char *p;

	if (!s)
		return NULL;
	if (strnlen(s, max) >= max) {
		*err = -EINVAL;
		return NULL;
	}
	p = strdup(s);
	if (!p)
		*err = -ENOMEM;
	return p;
}

/* A private copy of @src's strings; NULL with *err on failure. */
static struct rentry *entry_copy(const struct celld_entry *src, int *err)
{
	struct rentry *e = calloc(1, sizeof(*e));

	*err = 0;
	if (!e) {
		*err = -ENOMEM;
		return NULL;
	}
	e->pub = *src;
	e->pub.path = dup_checked(src->path, 4096, err);
	e->pub.schema = dup_checked(src->schema, CELLD_SCHEMA_MAX, err);
	for (uint32_t i = 0; i < src->nendpoints; i++)
		e->pub.endpoints[i] = dup_checked(src->endpoints[i], CELLD_URI_MAX, err);
	if (*err) {
		entry_free(e);
		return NULL;
	}
	return e;
}

/* Whether @old's process still serves @old's socket (so the name is in use). */
static bool still_served(const struct rentry *old)
{
	pid_t pid;
	uid_t uid;

	return old->pub.path && !cell_probe_peer(old->pub.path, &pid, &uid) && pid == old->pub.pid;
}

/*
 * Refuses a local name a live process of another uid holds, and one that
 * another live process of the same uid still serves (a second enroll of a
 * live cell's name must not steal its entry); a dead holder's entry goes.
 */
static int check_owner(struct celld_registry *reg, struct rentry *old, const struct celld_entry *e,
		       char *err, size_t cap)
{
	if (!old || old->pub.node[0])
		return 0;
	/*
	 * The supervisor updating its own cell's entry knows the pid: after a
	 * hot swap's hand-over, SO_PEERCRED on the socket still names the
	 * process that called listen(), which may be alive and draining.
	 */
	if (old->pub.origin == CELLD_ORIGIN_CAPSID && e->origin == CELLD_ORIGIN_CAPSID)
		return 0;
	if (old->pub.sup_state && !e->sup_state) {
		if (old->pub.uid == e->uid)
			return 0; /* the supervised cell enrolling itself: see keep_supervision() */
		snprintf(err, cap, "cell name '%s' is a cell celld supervises", old->pub.name);
		return -EADDRINUSE;
	}
	if (old->watch && watch_dead(old->watch)) {
		entry_drop(reg, old);
		return 0;
	}
	if (old->pub.uid == e->uid) {
		if (old->pub.pid == e->pid || !old->pub.pid || !still_served(old))
			return 0;
		snprintf(err, cap, "cell name '%s' is served by pid %d, which is alive",
			 old->pub.name, (int)old->pub.pid);
		return -EADDRINUSE;
	}
	snprintf(err, cap,
		 "cell name '%s' is registered by uid %u (pid %d): uid %u may not take it",
		 old->pub.name, (unsigned int)old->pub.uid, (int)old->pub.pid,
		 (unsigned int)e->uid);
	return -EPERM;
}

static int check_entry(const struct celld_entry *e, char *err, size_t cap)
{
	if (!celld_name_valid(e->name)) {
		snprintf(err, cap, "bad cell name '%.*s'", CELL_NAME_MAX, e->name);
		return -EINVAL;
	}
	if (strnlen(e->node, CELLD_NODE_MAX) >= CELLD_NODE_MAX) {
		snprintf(err, cap, "node id too long");
		return -EINVAL;
	}
	if (e->nendpoints > CELLD_ENDPOINTS_MAX) {
		snprintf(err, cap, "more than %d endpoints", CELLD_ENDPOINTS_MAX);
		return -EINVAL;
	}
	return 0;
}

static int attach_watch(struct celld_registry *reg, struct rentry *e, char *err, size_t cap)
{
	struct watch *w;
	int rc = 0;

	if (e->pub.node[0] || e->pub.pid <= 0 || e->pub.sup_state)
		return 0; /* a supervised cell: the supervisor watches it */
	w = watch_get(reg, e->pub.pid, &rc);
	if (!w) {
		snprintf(err, cap, "pid %d: %s", (int)e->pub.pid,
			 rc == -ESRCH ? "no such process" : strerror(-rc));
		return rc;
	}
	e->watch = w;
	e->wnext = w->entries;
	if (w->entries)
		w->entries->wprev = e;
	w->entries = e;
	return 0;
}

/*
 * A supervised cell that enrolls itself (libcell in the capsid: access.c
 * lets a cell enroll its own name only) stays supervised: its entry keeps
 * the supervisor's state and is not watched here.
 */
static void keep_supervision(const struct rentry *old, struct rentry *e)
{
	if (!old || !old->pub.sup_state || e->pub.sup_state)
		return;
	e->pub.sup_state = old->pub.sup_state;
	e->pub.sup_restarts = old->pub.sup_restarts;
	e->pub.sup_started_ns = old->pub.sup_started_ns;
	e->pub.origin = old->pub.origin;
	e->pub.health = old->pub.health;
	e->pub.rtt_us = old->pub.rtt_us;
}

int celld_registry_add(struct celld_registry *reg, const struct celld_entry *src, char *err,
		       size_t cap, const struct celld_entry **out)
{
	uint64_t h = key_hash(src->node, src->name);
	struct rentry *old, *e;
	enum celld_event ev = CELLD_EVENT_ADDED;
	int rc;

	rc = check_entry(src, err, cap);
	if (rc)
		return rc;
	old = lookup(reg, src->node, src->name, h);
	rc = check_owner(reg, old, src, err, cap);
	if (rc)
		return rc;
	old = lookup(reg, src->node, src->name, h); /* check_owner may drop it */
	e = entry_copy(src, &rc);
	if (!e) {
		snprintf(err, cap, "%s", rc == -EINVAL ? "string too long" : strerror(-rc));
		return rc;
	}
	e->hash = h;
	e->pub.added_ns = cell_now_ns();
	keep_supervision(old, e);
	rc = attach_watch(reg, e, err, cap);
	if (rc) {
		entry_free(e);
		return rc;
	}
	if (old) {
		e->pub.id = old->pub.pid == e->pub.pid ? old->pub.id : reg->next_id++;
		ev = CELLD_EVENT_REPLACED;
		/* Quietly: the listeners hear REPLACED, not REMOVED + ADDED. */
		int n = reg->nlisteners;

		reg->nlisteners = 0;
		entry_drop(reg, old);
		reg->nlisteners = n;
	} else {
		e->pub.id = reg->next_id++;
	}
	if (reg->count + 1 > reg->nbuckets)
		grow(reg);
	e->next = reg->buckets[h & (reg->nbuckets - 1)];
	reg->buckets[h & (reg->nbuckets - 1)] = e;
	reg->count++;
	notify(reg, ev, e);
	if (out)
		*out = &e->pub;
	return 0;
}

int celld_registry_remove(struct celld_registry *reg, const char *node, const char *name)
{
	struct rentry *e = lookup(reg, node, name, key_hash(node, name));

	if (!e)
		return -ENOENT;
	entry_drop(reg, e);
	return 0;
}

int celld_registry_remove_path(struct celld_registry *reg, const char *path)
{
	for (size_t i = 0; i < reg->nbuckets; i++)
		for (struct rentry *e = reg->buckets[i]; e; e = e->next)
			if (!e->pub.node[0] && e->pub.path && !strcmp(e->pub.path, path)) {
				entry_drop(reg, e);
				return 0;
			}
	return -ENOENT;
}

const struct celld_entry *celld_registry_find(const struct celld_registry *reg, const char *node,
					      const char *name)
{
	struct rentry *e = lookup(reg, node, name, key_hash(node, name));

	return e ? &e->pub : NULL;
}

int celld_registry_set_health(struct celld_registry *reg, const char *node, const char *name,
			      uint8_t health, uint32_t rtt_us)
{
	struct rentry *e = lookup(reg, node, name, key_hash(node, name));

	if (!e)
		return -ENOENT;
	e->pub.health = health;
	e->pub.rtt_us = rtt_us;
	return 0;
}

void celld_registry_foreach(const struct celld_registry *reg,
			    void (*fn)(const struct celld_entry *e, void *ctx), void *ctx)
{
	for (size_t i = 0; i < reg->nbuckets; i++)
		for (struct rentry *e = reg->buckets[i]; e; e = e->next)
			fn(&e->pub, ctx);
}

size_t celld_registry_count(const struct celld_registry *reg)
{
	return reg->count;
}

void celld_registry_free(struct celld_registry *reg)
{
	if (!reg)
		return;
	reg->nlisteners = 0;
	for (size_t i = 0; i < reg->nbuckets; i++)
		while (reg->buckets[i])
			entry_drop(reg, reg->buckets[i]);
	free(reg->buckets);
	free(reg);
}
