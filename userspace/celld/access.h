/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/*
 * Access control on the nucleus (access.c): who is calling, what it may
 * call, how often.  A caller is a sandboxed cell when its process descends
 * from the bwrap of a cell celld supervises (the connection's SO_PEERCRED
 * pid, confirmed alive by its SO_PEERPIDFD); every other local process is a
 * host caller, checked by uid as before.  Documentation/capsid.rst, "Access
 * control on the nucleus".
 */
#ifndef CELLD_ACCESS_H
#define CELLD_ACCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cell/rpc.h>

struct celld;

/* A sandboxed cell's rights on the nucleus: from its conf (celld_access_conf_key()). */
struct celld_access_conf {
	bool nucleus;	 /* nucleus=0|1: nucleus.sock in its socket directory (default 1) */
	uint64_t grants; /* grant=: bit m, nucleus method m callable without restriction */
	uint32_t rate;	 /* nucleus_rate=: calls per second (default 100) */
	uint32_t burst;	 /* nucleus_burst=: the bucket's depth (default 50) */
	/* The token bucket and its counters (access.c; celld's loop thread only). */
	double tokens;
	uint64_t refilled_ns;
	uint64_t served, limited, denied;   /* since the cell's conf was read */
	uint64_t logged_ns, logged_limited; /* the last summary line */
	uint64_t logged_denied;
};

/* The defaults: nucleus given, nothing granted, 100 calls/s, burst 50. */
void celld_access_conf_init(struct celld_access_conf *a);

/*
 * celld_access_conf_key() - @key=@val of a cell's conf, if it is one of
 * access's (nucleus, grant, nucleus_rate, nucleus_burst).  Return: 1 taken,
 * 0 not an access key, -1 a bad value (logged, with @file).
 */
int celld_access_conf_key(struct celld_access_conf *a, const char *file, const char *key,
			  const char *val);

/*
 * The supervised cell whose bwrap process is @pid (supervisor.c): its
 * access conf, its name in @name and the sockets it was given (a NULL-ended
 * list) in @peers.  NULL if @pid is no running cell's bwrap.
 */
struct celld_access_conf *celld_capsid_access(pid_t pid, const char **name,
					      const char *const **peers);

/*
 * A supervised cell enrolling itself as @name (its server's name) at socket
 * @path: when that is instance NAME@K's socket (supervisor.c), @name
 * becomes "NAME@K", so that it updates its own entry, not NAME's.
 */
void celld_capsid_enroll_name(const char *path, char *name, size_t cap);

/* cell_server_opts.admit of the nucleus: @ctx is struct celld. */
enum cell_status celld_access_admit(const struct cell_vesicle *v, char *why, size_t cap, void *ctx);

/* Whether the caller of @v may see cell @name (list): any, for host callers. */
bool celld_access_may_see(const struct celld *d, const struct cell_vesicle *v, const char *name);

/* Whether the caller of @v is a sandboxed cell (its list answers are filtered). */
bool celld_access_sandboxed(const struct celld *d, const struct cell_vesicle *v);

#endif /* CELLD_ACCESS_H */
