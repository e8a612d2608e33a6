/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/*
 * celld: the nucleus daemon.  One struct celld per process, created by
 * main.c, shared by every module (nucleus.c, scan.c, and the modules of
 * discovery and observation).  Everything runs on one libuv loop, but for
 * the threads that serve the nucleus socket (nucleus.c: they hand every
 * call to the loop, except the blocking ones a module asks for), Raft's
 * (cluster.c) and the axon's proxies.  /work/notes/celld-api.md and
 * Documentation/celld.rst describe how a module hooks in.
 */
#ifndef CELLD_H
#define CELLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/un.h>

#include <uv.h>

#include <cell/rpc.h>

#include "registry.h"

#define CELLD_MAX_OPTIONS 64

struct cell_server;

struct celld_config {
	/* Where cells' sockets are (and nucleus.sock): -r, else cell_runtime_dir(). */
	char runtime_dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	/* Persistent state (keys, peers): -s, else /var/lib/cell or $XDG_STATE_HOME/cell. */
	char state_dir[4096];
	bool scan;    /* scan the runtime directory for sockets (default on; -S off) */
	bool verbose; /* -v: log every registration */
	/* Socket activation: the nucleus socket passed in (LISTEN_FDS), else -1. */
	int listen_fd;
	/* -o KEY=VALUE options, for modules: read with celld_option(). */
	const char *options[CELLD_MAX_OPTIONS];
	int noptions;
};

/*
 * celld_listen_fd() - socket activation (activation.c): the fd of
 * LISTEN_FDS named @want (or the only one), -1 if none was passed to this
 * process, -errno for bad variables (@err says which).  Unsets them.
 */
int celld_listen_fd(const char *want, char *err, size_t cap);

struct celld_identity;
struct celld_discovery;
struct celld_http;
struct celld_collect;
struct celld_scan;
struct celld_cluster;
struct celld_axon;

struct celld {
	uv_loop_t *loop;
	struct celld_registry *registry;
	struct celld_config cfg;
	/* The nucleus cell (nucleus.c), served by threads of its own. */
	struct cell_server *nucleus;
	struct celld_scan *scan;
	/* Modules of other parts keep their state here (NULL until started). */
	struct celld_identity *identity;
	struct celld_discovery *discovery;
	struct celld_http *http;
	struct celld_collect *collect;
	struct celld_cluster *cluster; /* cluster.c: the Raft group, NULL if none */
	struct celld_axon *axon;       /* axon.c: QUIC export/import, NULL if off */
	int exit_code;		       /* set by celld_stop() */
};

/*
 * A module: start() runs in this order at startup (main.c's table), stop()
 * in reverse order at shutdown.  start returns 0 or a negative errno (celld
 * then exits); a module that is not configured returns 0 and does nothing.
 */
struct celld_module {
	const char *name;
	int (*start)(struct celld *d);
	void (*stop)(struct celld *d);
};

/* celld_option() - the VALUE of -o KEY=VALUE (the last one given), or @def. */
const char *celld_option(const struct celld *d, const char *key, const char *def);

/* celld_stop() - leave the loop and exit with @code (from any callback). */
void celld_stop(struct celld *d, int code);

/* celld_log() - one line on stderr, "celld: ..." (journald keeps it). */
__attribute__((format(printf, 1, 2))) void celld_log(const char *fmt, ...);

/* identity.c, discovery_mod.c (discovery helper). */
int celld_identity_start(struct celld *d);
void celld_identity_stop(struct celld *d);
int celld_discovery_start(struct celld *d);
void celld_discovery_stop(struct celld *d);

/* nucleus.c: serve the nucleus cell on d->loop. */
int celld_nucleus_start(struct celld *d);
void celld_nucleus_stop(struct celld *d);

/*
 * The nucleus's threads (nucleus.c).  libcell's server serves the nucleus
 * socket on -o nucleus.threads threads (cell_server_run()), and a handler
 * registered with cell_server_handle(d->nucleus, ...) still runs on celld's
 * loop: the serving thread hands the call over and sleeps until the loop
 * has run it, so modules keep their single-threaded state.  The macro
 * below routes every module's cell_server_handle() through
 * celld_nucleus_handle(), which does that for d->nucleus and passes any
 * other server through.
 *
 * A handler that may wait long (cluster.c: a kv call until its commit)
 * registers with celld_nucleus_handle_blocking() instead: it runs on the
 * serving thread after the admission check ran on the loop, touches no
 * loop state, and holds one of those threads instead of the loop.  Such
 * handlers must bound how many of them wait at once, below
 * celld_nucleus_threads() - 1, so that other calls always find a thread.
 */
int celld_nucleus_handle(struct cell_server *srv, uint16_t method, cell_handler_fn fn, void *ctx);
int celld_nucleus_handle_blocking(struct celld *d, uint16_t method, cell_handler_fn fn, void *ctx);
/* The number of threads serving the nucleus (-o nucleus.threads, default 16). */
unsigned int celld_nucleus_threads(const struct celld *d);
/* Start them (main.c, once every module has registered its methods). */
int celld_nucleus_serve(struct celld *d);
/*
 * After the loop ended, before the modules stop: stop serving, run the
 * calls the threads still hand over, join them.
 */
void celld_nucleus_quiesce(struct celld *d);
#define cell_server_handle(srv, method, fn, ctx) celld_nucleus_handle(srv, method, fn, ctx)

/* scan.c: find sockets in the runtime directory, now and as they appear. */
int celld_scan_start(struct celld *d);
void celld_scan_stop(struct celld *d);

int celld_cluster_start(struct celld *d);
void celld_cluster_stop(struct celld *d);

/* can_bus.c: CAN-FD nodes from their announcements (-o can.ifaces=...). */
int celld_can_start(struct celld *d);
void celld_can_stop(struct celld *d);

/*
 * caps.c: keep only the capabilities the configured modules need (libcap),
 * drop every other one from every set, log and record what was kept.
 * Called once, before the modules start.  Return: 0 or -errno.
 */
int celld_caps_drop(struct celld *d);
/* celld_caps_have() - whether capability @cap is in celld's effective set. */
bool celld_caps_have(int cap);
/*
 * celld_caps_need() - 0 if celld has every capability of @caps (or is not
 * root), else -EPERM with @why: "@feature needs cap_x ..., which celld does
 * not keep ...".
 */
int celld_caps_need(const char *feature, const int *caps, size_t ncaps, char *why, size_t cap);

#endif /* CELLD_H */
