// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Registration with celld: when a server starts, libcell tells the nucleus
 * cell of the same runtime directory (nucleus.sock, served by celld) its
 * name, fingerprint, socket path, schema text and endpoints, in one
 * "enroll" call (userspace/celld/nucleus.cell; the layout is in
 * nucleus_wire.h).  Best effort and bounded: without celld (no
 * nucleus.sock) it costs one stat(); a celld that does not answer costs at
 * most REGISTER_TIMEOUT_MS per step; any failure is ignored and the server
 * starts all the same.  celld learns of the cell's death from the process
 * itself (pidfd), so nothing is sent at exit.
 *
 * Opt out: cell_server_opts.no_register, or CELL_NO_REGISTER=1 in the
 * environment.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "nucleus_wire.h"
#include "register.h"
#include "rpc_internal.h"

#define REGISTER_TIMEOUT_MS 250

static bool wanted(const char *name, const struct cell_server_opts *o)
{
	const char *env = getenv("CELL_NO_REGISTER");

	if (o->no_register || (env && env[0] && strcmp(env, "0")))
		return false;
	return strcmp(name, "nucleus") != 0;
}

/* A request being written in place: the fixed part, then the tail. */
struct msg {
	uint8_t *p;
	uint32_t len;
};

static void put_text(struct msg *m, struct cell_nucleus_span *s, const char *text)
{
	uint32_t n = (uint32_t)strlen(text);

	if (!n)
		return;
	memcpy(m->p + m->len, text, n);
	s->off = m->len;
	s->len = n;
	m->len += n;
}

static uint32_t request_bytes(const char *name, const char *path, const char *schema,
			      const char *uri)
{
	return CELL_NUCLEUS_REGISTRATION_SIZE + (uint32_t)strlen(name) + (uint32_t)strlen(path) +
	       (uint32_t)strlen(uri) + (uint32_t)(schema ? strlen(schema) : 0) +
	       CELL_NUCLEUS_ENDPOINT_SIZE + 8;
}

/* Writes the enroll request into @buf (zeroed, 8-byte aligned); its length. */
static uint32_t build(void *buf, const char *name, const char *path, const char *schema,
		      const char *uri, uint64_t fingerprint)
{
	struct msg m = { buf, CELL_NUCLEUS_REGISTRATION_SIZE };
	struct cell_nucleus_registration *r = buf;
	struct cell_nucleus_endpoint *ep;

	r->fingerprint = fingerprint;
	put_text(&m, &r->name, name);
	put_text(&m, &r->path, path);
	if (schema)
		put_text(&m, &r->schema_text, schema);
	m.len = (m.len + 3) & ~3U; /* endpoint[]: 4-aligned */
	ep = (struct cell_nucleus_endpoint *)(m.p + m.len);
	r->endpoints.off = m.len;
	r->endpoints.len = 1;
	m.len += CELL_NUCLEUS_ENDPOINT_SIZE;
	put_text(&m, &ep->uri, uri);
	return m.len;
}

static enum cell_status enroll(struct cell_client *c, const char *name, const char *path,
			       const struct cell_server_opts *o)
{
	const char *schema = o->schema;
	char uri[sizeof("unix:") + 108];
	struct cell_response r;
	struct cell_call *call;
	enum cell_status st;
	uint32_t max, len;
	void *buf;

	/* A schema text that is not the fingerprint's would be refused: leave it out. */
	if (schema && cell_fingerprint(schema, strlen(schema)) != o->fingerprint)
		schema = NULL;
	strcpy(uri, "unix:");
	strncat(uri, path, sizeof(uri) - sizeof("unix:"));
	max = request_bytes(name, path, schema, uri);
	st = cell_call_begin(c, CELL_NUCLEUS_METHOD_ENROLL, max, 0,
			     cell_deadline_in_ms(REGISTER_TIMEOUT_MS), &call, &buf);
	if (st != CELL_STATUS_OK)
		return st;
	memset(buf, 0, max);
	len = build(buf, name, path, schema, uri, o->fingerprint);
	st = cell_call_finish(call, len, &r);
	cell_call_end(call);
	return st;
}

enum cell_status cell_register_server(const char *name, const char *dir, const char *path,
				      const struct cell_server_opts *o)
{
	struct cell_client_opts co = {
		.sz = sizeof(co),
		.fingerprint = CELL_NUCLEUS_FINGERPRINT,
		.runtime_dir = dir,
		.backend = CELL_RING_BACKEND_NONE,
		.spin_ns = CELL_SPIN_NONE,
	};
	char nucleus[128];
	struct cell_client *c;
	enum cell_status st;
	struct stat sb;

	if (!wanted(name, o))
		return CELL_STATUS_OK;
	if (cell_socket_path(dir, "nucleus", nucleus, sizeof(nucleus)) || stat(nucleus, &sb))
		return CELL_STATUS_UNAVAILABLE; /* no celld: the usual case in tests */
	co.connect_deadline = cell_deadline_in_ms(REGISTER_TIMEOUT_MS);
	c = cell_client_connect("nucleus", &co);
	if (!c) {
		cell_clear_error();
		return CELL_STATUS_UNAVAILABLE;
	}
	st = enroll(c, name, path, o);
	cell_client_free(c);
	cell_clear_error(); /* the server started: its caller sees no failure */
	return st;
}
