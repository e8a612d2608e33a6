// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Registration with celld: when a server starts, libcell tells the nucleus
 * cell of the same runtime directory (nucleus.sock, served by celld) its
 * name, fingerprint, socket path, schema text and endpoints, in one
 * "enroll" call (userspace/celld/nucleus.cell).  Best effort and bounded:
 * without celld (no nucleus.sock) it costs one stat(); a celld that does
 * not answer costs at most REGISTER_TIMEOUT_MS; any failure is ignored and
 * the server starts all the same.  celld learns of the cell's death from
 * the process itself (pidfd), so nothing is sent at exit.
 *
 * Opt out: cell_server_opts.no_register, or CELL_NO_REGISTER=1 in the
 * environment.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "nucleus.cell.h"
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

static uint64_t request_bytes(const char *name, const char *path, const char *schema,
			      const char *uri)
{
	return NUCLEUS_REGISTRATION_SIZE + strlen(name) + strlen(path) + strlen(uri) +
	       (schema ? strlen(schema) : 0) + cellc_span_max(1, NUCLEUS_ENDPOINT_SIZE) + 8;
}

static enum cell_status enroll(struct cell_client *c, const char *name, const char *path,
			       const struct cell_server_opts *o)
{
	const char *schema = o->schema;
	const struct nucleus_registered *resp;
	struct nucleus_registration *req;
	struct nucleus_endpoint *ep;
	struct cellc_builder b;
	struct cell_call *call;
	enum cell_status st;
	char uri[sizeof("unix:") + 108];

	/* A schema text that is not the fingerprint's would be refused: leave it out. */
	if (schema && cell_fingerprint(schema, strlen(schema)) != o->fingerprint)
		schema = NULL;
	strcpy(uri, "unix:");
	strncat(uri, path, sizeof(uri) - sizeof("unix:"));
	st = nucleus_enroll_begin(c, request_bytes(name, path, schema, uri),
				  cell_deadline_in_ms(REGISTER_TIMEOUT_MS), &call, &b, &req);
	if (st != CELL_STATUS_OK)
		return st;
	req->fingerprint = o->fingerprint;
	(void)nucleus_registration_set_name_str(&b, req, name);
	(void)nucleus_registration_set_path_str(&b, req, path);
	if (schema)
		(void)nucleus_registration_set_schema_text_str(&b, req, schema);
	ep = nucleus_registration_alloc_endpoints(&b, req, 1);
	if (ep)
		(void)nucleus_endpoint_set_uri_str(&b, ep, uri);
	st = nucleus_enroll_finish(call, &b, &resp, NULL);
	cell_call_end(call);
	return st;
}

enum cell_status cell_register_server(const char *name, const char *dir, const char *path,
				      const struct cell_server_opts *o)
{
	struct cell_client_opts co = nucleus_client_opts();
	char nucleus[128];
	struct cell_client *c;
	enum cell_status st;
	struct stat sb;

	if (!wanted(name, o))
		return CELL_STATUS_OK;
	if (cell_socket_path(dir, "nucleus", nucleus, sizeof(nucleus)) || stat(nucleus, &sb))
		return CELL_STATUS_UNAVAILABLE; /* no celld: the usual case in tests */
	co.runtime_dir = dir;
	co.backend = CELL_RING_BACKEND_NONE;
	co.connect_deadline = cell_deadline_in_ms(REGISTER_TIMEOUT_MS);
	co.spin_ns = CELL_SPIN_NONE;
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
