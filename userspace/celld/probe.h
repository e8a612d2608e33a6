/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/*
 * Probing a running cell without knowing its schema: who serves the socket
 * (SO_PEERCRED), its fingerprint (a HELLO with fingerprint 0 is refused
 * with the server's), its schema text (method 0, CELL_METHOD_SCHEMA) and a
 * PING round trip.  Used by celld's scan and by `cell schema` / `cell call`.
 * Blocking, bounded by @timeout_ms for each step.
 */
#ifndef CELL_PROBE_H
#define CELL_PROBE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cell/rpc.h>
#include <cell/wire.h>

struct cell_probe {
	pid_t pid;
	uid_t uid;
	uint64_t fingerprint;
	char *schema;	 /* malloc'd, NUL-terminated; NULL if the cell serves none */
	uint32_t rtt_us; /* PING round trip */
	char error[256]; /* why the probe failed */
};

/**
 * cell_probe_run() - probe cell @name in @dir (NULL: cell_runtime_dir()).
 * Return: 0, or a negative errno with @p->error saying why (-ENOENT: no
 * such socket, -ECONNREFUSED: nobody serves it, -EACCES: the server refused
 * us, -ETIMEDOUT, -EPROTO).
 */
int cell_probe_run(const char *dir, const char *name, unsigned int timeout_ms,
		   struct cell_probe *p);

/*
 * cell_probe_peer() - the pid and uid of the process listening at socket
 * @path (a non-blocking connect and SO_PEERCRED, no handshake).
 * Return: 0 or a negative errno (-ECONNREFUSED: nobody listens).
 */
int cell_probe_peer(const char *path, pid_t *pid, uid_t *uid);

/* cell_probe_connect() - a client of @name with the probed fingerprint. */
struct cell_client *cell_probe_connect(const char *dir, const char *name, uint64_t fingerprint,
				       unsigned int timeout_ms);

void cell_probe_release(struct cell_probe *p);

#endif /* CELL_PROBE_H */
