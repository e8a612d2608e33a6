/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/*
 * celld's registry: every cell celld knows, local (registered by libcell
 * or found by the runtime directory scan) and remote (learnt from the LAN
 * by discovery.c).  Keyed by (node, name): node "" is this machine.
 *
 * A local entry with a pid is watched through a pidfd (one per process,
 * shared by all its cells): when the process dies its entries go.  Nothing
 * expires by time here; remote entries are removed by whoever added them
 * (discovery, on TTL).  Single-threaded: everything runs on celld's loop.
 */
#ifndef CELLD_REGISTRY_H
#define CELLD_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <uv.h>

#include <linux/cell.h>

#define CELLD_NODE_MAX	    80 /* bytes of a node id, NUL included */
#define CELLD_ENDPOINTS_MAX 16 /* endpoints per entry */
#define CELLD_URI_MAX	    256
#define CELLD_SCHEMA_MAX    (1U << 20) /* bytes of schema text kept */

enum celld_origin {
	CELLD_ORIGIN_REGISTERED = 1, /* enroll call through libcell */
	CELLD_ORIGIN_SCAN = 2,	     /* socket found in the runtime directory */
	CELLD_ORIGIN_LAN = 3,	     /* discovery: another node announced it */
	CELLD_ORIGIN_CAN = 4,	     /* can_bus.c: a CAN-FD node announced it */
	CELLD_ORIGIN_CAPSID = 5,     /* supervisor.c: a cell celld started in a capsid */
};

/* The state of a supervised cell (supervisor.c, Documentation/capsid.rst). */
enum celld_sup_state {
	CELLD_SUP_NONE = 0, /* not supervised */
	CELLD_SUP_STARTING, /* started, not yet answering PING */
	CELLD_SUP_READY,
	CELLD_SUP_BACKOFF,  /* exited, restarted after a delay */
	CELLD_SUP_STOPPING, /* SIGTERM sent, SIGKILL at the deadline */
	CELLD_SUP_FAILED,   /* exited for good: too many restarts, or a failure not restarted */
	CELLD_SUP_STOPPED,  /* exited for good: stopped, or a success not restarted */
};

static inline const char *celld_sup_state_name(uint8_t s)
{
	static const char *const names[] = { "",	 "starting", "ready",  "backoff",
					     "stopping", "failed",   "stopped" };

	return s < sizeof(names) / sizeof(names[0]) ? names[s] : "unknown";
}

enum celld_health {
	CELLD_HEALTH_UNKNOWN = 0,
	CELLD_HEALTH_OK = 1,
	CELLD_HEALTH_UNREACHABLE = 2,
};

/*
 * One cell.  The registry owns the strings; callers of celld_registry_add()
 * pass a filled struct whose strings it copies.
 */
struct celld_entry {
	uint64_t id; /* assigned by the registry, never reused */
	char name[CELL_NAME_MAX];
	char node[CELLD_NODE_MAX]; /* "" for this machine */
	uint64_t fingerprint;
	pid_t pid; /* 0 if unknown (remote) */
	uid_t uid;
	char *path;   /* socket path; may be NULL for remote cells */
	char *schema; /* canonical schema text; may be NULL */
	char *endpoints[CELLD_ENDPOINTS_MAX];
	uint32_t nendpoints;
	uint32_t rtt_us;   /* estimated round trip (remote: Vivaldi), 0 unknown */
	uint8_t health;	   /* enum celld_health */
	uint8_t origin;	   /* enum celld_origin */
	uint64_t added_ns; /* CLOCK_MONOTONIC */
	/*
	 * Supervised cells only (origin CAPSID): enum celld_sup_state, the
	 * restarts in the current window, the start of the current run
	 * (CLOCK_MONOTONIC ns, 0 when not running).  The supervisor watches
	 * such a cell's process, not the registry.  Only it, or the
	 * cell enrolling itself (same uid; the entry then stays supervised),
	 * may replace the entry.
	 */
	uint8_t sup_state;
	uint32_t sup_restarts;
	uint64_t sup_started_ns;
};

/*
 * Whether @e can be called: any cell but a supervised one that is not
 * ready (starting, in backoff, stopping, failed, stopped).  Discovery
 * announces and axon exports only such cells.
 */
static inline bool celld_entry_serving(const struct celld_entry *e)
{
	return !e->sup_state || e->sup_state == CELLD_SUP_READY;
}

struct celld_registry;

/* What changed, for celld_registry_listen(). */
enum celld_event {
	CELLD_EVENT_ADDED = 1,
	CELLD_EVENT_REPLACED = 2, /* same key, new contents */
	CELLD_EVENT_REMOVED = 3,  /* the entry is freed after the callback */
};

typedef void (*celld_registry_listener_fn)(enum celld_event ev, const struct celld_entry *e,
					   void *ctx);

/* celld_registry_new() - an empty registry on @loop (NULL, errno ENOMEM). */
struct celld_registry *celld_registry_new(uv_loop_t *loop);

/*
 * celld_registry_free() - drop every entry and close the pidfd watchers.
 * The loop must run once more (uv_run NOWAIT) for the handles to close.
 */
void celld_registry_free(struct celld_registry *reg);

/**
 * celld_registry_add() - add or replace the entry (@e->node, @e->name).
 * A local entry with @e->pid > 0 is watched and removed when that process
 * dies.  A local name held by a live process of another uid is refused.
 * @err: receives a clear message on failure (@cap bytes).
 * @out: if not NULL, receives the entry kept (valid until it is removed).
 * A name whose live holder of the same uid still serves its socket is
 * refused too (-EADDRINUSE).
 * Return: 0, -EPERM (the name belongs to another uid), -EINVAL (bad name,
 * strings too long, too many endpoints), -ESRCH (@e->pid is not alive),
 * -ENOMEM, -EMFILE.
 */
int celld_registry_add(struct celld_registry *reg, const struct celld_entry *e, char *err,
		       size_t cap, const struct celld_entry **out);

/* celld_registry_remove() - drop (node, name).  Return: 0 or -ENOENT. */
int celld_registry_remove(struct celld_registry *reg, const char *node, const char *name);

/* celld_registry_remove_path() - drop the local entry bound at @path. */
int celld_registry_remove_path(struct celld_registry *reg, const char *path);

/* celld_registry_find() - the entry (node, name), or NULL. */
const struct celld_entry *celld_registry_find(const struct celld_registry *reg, const char *node,
					      const char *name);

/* celld_registry_set_health() - update health and RTT of an entry. */
int celld_registry_set_health(struct celld_registry *reg, const char *node, const char *name,
			      uint8_t health, uint32_t rtt_us);

/*
 * celld_registry_foreach() - call @fn for every entry, in no stable order.
 * @fn must not add or remove entries.
 */
void celld_registry_foreach(const struct celld_registry *reg,
			    void (*fn)(const struct celld_entry *e, void *ctx), void *ctx);

/* celld_registry_count() - entries now. */
size_t celld_registry_count(const struct celld_registry *reg);

/*
 * celld_registry_listen() - call @fn on every change (several listeners
 * may be set; at most 8).  Return: 0 or -ENOSPC.
 */
int celld_registry_listen(struct celld_registry *reg, celld_registry_listener_fn fn, void *ctx);

/* celld_name_valid() - whether @name is a valid cell name (cell_socket_path rules). */
bool celld_name_valid(const char *name);

#endif /* CELLD_REGISTRY_H */
