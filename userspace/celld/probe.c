// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* Probing a running cell (probe.h). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cell/time.h>

#include "probe.h"

int cell_probe_peer(const char *path, pid_t *pid, uid_t *uid)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int fd, rc = 0;

	if (strlen(path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len))
		rc = -errno;
	close(fd);
	if (!rc) {
		*pid = cred.pid;
		*uid = cred.uid;
	}
	return rc;
}

/* Who listens at @path: a connect, SO_PEERCRED, close (no HELLO). */
static int peer_of(const char *path, struct cell_probe *p)
{
	int rc = cell_probe_peer(path, &p->pid, &p->uid);

	if (rc)
		snprintf(p->error, sizeof(p->error), "%s: %s", path, strerror(-rc));
	return rc;
}

struct cell_client *cell_probe_connect(const char *dir, const char *name, uint64_t fingerprint,
				       unsigned int timeout_ms)
{
	struct cell_client_opts o = {
		.sz = sizeof(o),
		.fingerprint = fingerprint,
		.runtime_dir = dir,
		.backend = CELL_RING_BACKEND_NONE,
		.connect_deadline = cell_deadline_in_ms(timeout_ms),
		.spin_ns = CELL_SPIN_NONE,
	};

	return cell_client_connect(name, &o);
}

/*
 * The server's fingerprint: a HELLO with 0 is refused with FINGERPRINT_MISMATCH
 * and libcell's text names the server's ("..., server 0x...").
 */
static int fingerprint_of(const char *dir, const char *name, unsigned int timeout_ms,
			  struct cell_probe *p)
{
	struct cell_client *c = cell_probe_connect(dir, name, 0, timeout_ms);
	enum cell_status st = CELL_STATUS_OK;
	const char *text, *at;
	int rc = -errno;

	if (c) {
		p->fingerprint = 0;
		cell_client_free(c);
		return 0;
	}
	text = cell_last_error(&st);
	at = strstr(text, "server 0x");
	if (st == CELL_STATUS_FINGERPRINT_MISMATCH && at) {
		p->fingerprint = strtoull(at + 9, NULL, 16);
		return 0;
	}
	snprintf(p->error, sizeof(p->error), "%s: %s", name, text[0] ? text : strerror(-rc));
	return rc ? rc : -EPROTO;
}

static int schema_of(struct cell_client *c, unsigned int timeout_ms, struct cell_probe *p)
{
	struct cell_response r;
	struct cell_call *call;
	enum cell_status st;
	void *buf;

	st = cell_call_begin(c, CELL_METHOD_SCHEMA, 0, 0, cell_deadline_in_ms(timeout_ms), &call,
			     &buf);
	if (st == CELL_STATUS_OK) {
		st = cell_call_finish(call, 0, &r);
		if (st == CELL_STATUS_OK) {
			p->schema = strndup(r.data ? r.data : "", r.len);
			if (!p->schema)
				st = CELL_STATUS_RESOURCE_EXHAUSTED;
		}
		cell_call_end(call);
	}
	if (st == CELL_STATUS_OK || st == CELL_STATUS_NOT_FOUND)
		return 0; /* NOT_FOUND: the cell serves no schema text */
	snprintf(p->error, sizeof(p->error), "schema: %s", cell_status_name(st));
	return -EPROTO;
}

static void ping(struct cell_client *c, unsigned int timeout_ms, struct cell_probe *p)
{
	uint64_t t0 = cell_now_ns();
	uint32_t n = 0;

	if (cell_client_call(c, CELL_METHOD_PING, NULL, 0, NULL, 0, &n,
			     cell_deadline_in_ms(timeout_ms)) == CELL_STATUS_OK)
		p->rtt_us = (uint32_t)((cell_now_ns() - t0 + 999) / 1000);
}

int cell_probe_run(const char *dir, const char *name, unsigned int timeout_ms, struct cell_probe *p)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct cell_client *c;
	int rc;

	memset(p, 0, sizeof(*p));
	rc = cell_socket_path(dir, name, path, sizeof(path));
	if (rc) {
		snprintf(p->error, sizeof(p->error), "bad cell name '%s'", name);
		return rc;
	}
	rc = peer_of(path, p);
	if (!rc)
		rc = fingerprint_of(dir, name, timeout_ms, p);
	if (rc)
		return rc;
	c = cell_probe_connect(dir, name, p->fingerprint, timeout_ms);
	if (!c) {
		rc = -errno;
		snprintf(p->error, sizeof(p->error), "%s: %s", name, cell_last_error(NULL));
		return rc ? rc : -EPROTO;
	}
	rc = schema_of(c, timeout_ms, p);
	if (!rc)
		ping(c, timeout_ms, p);
	cell_client_free(c);
	return rc;
}

void cell_probe_release(struct cell_probe *p)
{
	free(p->schema);
	p->schema = NULL;
}
