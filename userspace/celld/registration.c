// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* The enroll request's parser (registration.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cell/wire.h>

#include "nucleus.cell.h"
#include "nucleus_wire.h" /* lib/: libcell's hand-made copy of the enroll layout */
#include "registration.h"

/* libcell encodes enroll by hand: its constants must be cellc's. */
_Static_assert(CELL_NUCLEUS_FINGERPRINT == NUCLEUS_FINGERPRINT, "nucleus.cell changed: set "
								"CELL_NUCLEUS_FINGERPRINT in "
								"lib/nucleus_wire.h to "
								"NUCLEUS_FINGERPRINT of the "
								"generated nucleus.cell.h");
_Static_assert(CELL_NUCLEUS_METHOD_ENROLL == NUCLEUS_METHOD_ENROLL, "lib/nucleus_wire.h: enroll "
								    "id");
_Static_assert(CELL_NUCLEUS_REGISTRATION_SIZE == NUCLEUS_REGISTRATION_SIZE &&
		       offsetof(struct cell_nucleus_registration, flags) ==
			       offsetof(struct nucleus_registration, flags) &&
		       offsetof(struct cell_nucleus_registration, endpoints) ==
			       offsetof(struct nucleus_registration, endpoints) &&
		       CELL_NUCLEUS_ENDPOINT_SIZE == NUCLEUS_ENDPOINT_SIZE,
	       "lib/nucleus_wire.h: the registration layout differs from nucleus.cell");
/* ... and kv (lib/kv.c, cell_kv_*). */
#define SAME_OFF(f) \
	(offsetof(struct cell_nucleus_kv_request, f) == offsetof(struct nucleus_kv_request, f))
#define SAME_AOFF(f) \
	(offsetof(struct cell_nucleus_kv_answer, f) == offsetof(struct nucleus_kv_answer, f))
_Static_assert(CELL_NUCLEUS_METHOD_KV == NUCLEUS_METHOD_KV &&
		       CELL_NUCLEUS_KV_REQUEST_SIZE == NUCLEUS_KV_REQUEST_SIZE &&
		       CELL_NUCLEUS_KV_ANSWER_SIZE == NUCLEUS_KV_ANSWER_SIZE && SAME_OFF(op) &&
		       SAME_OFF(expect_absent) && SAME_OFF(key) && SAME_OFF(expect) &&
		       SAME_OFF(value) && SAME_OFF(client) && SAME_OFF(request) &&
		       SAME_AOFF(outcome) && SAME_AOFF(found) && SAME_AOFF(revision) &&
		       SAME_AOFF(value),
	       "lib/nucleus_wire.h: the kv layout differs from nucleus.cell");
#undef SAME_OFF
#undef SAME_AOFF

bool celld_name_valid(const char *name)
{
	size_t len;

	if (!name || !name[0] || name[0] == '.')
		return false;
	len = strnlen(name, CELL_NAME_MAX);
	if (len >= CELL_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = name[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' ||
		      ch == '.' || ch == '@' || ch == '-'))
			return false;
	}
	return true;
}

/* Copies a span into a NUL-terminated buffer; refuses NULs and overlong text. */
static int copy_text(char *dst, size_t cap, const char *src, uint32_t len, const char *what,
		     char *err, size_t ecap)
{
	if (len >= cap) {
		snprintf(err, ecap, "%s longer than %zu bytes", what, cap - 1);
		return -EINVAL;
	}
	if (len && memchr(src, '\0', len)) {
		snprintf(err, ecap, "%s contains a NUL byte", what);
		return -EINVAL;
	}
	memcpy(dst, src, len);
	dst[len] = '\0';
	return 0;
}

static int parse_endpoints(const struct nucleus_registration *m, struct celld_registration *out,
			   char *err, size_t cap)
{
	const struct nucleus_endpoint *ep;
	uint32_t n;

	ep = nucleus_registration_endpoints(m, &n);
	if (n > CELLD_ENDPOINTS_MAX) {
		snprintf(err, cap, "%u endpoints: at most %d", n, CELLD_ENDPOINTS_MAX);
		return -EINVAL;
	}
	for (uint32_t i = 0; i < n; i++) {
		uint32_t len;
		const char *uri = nucleus_endpoint_uri_at(m, &ep[i], &len);

		if (!len || len >= CELLD_URI_MAX || memchr(uri, '\0', len)) {
			snprintf(err, cap, "endpoint %u: empty, too long or with a NUL byte", i);
			return -EINVAL;
		}
		out->endpoints[i].uri = uri;
		out->endpoints[i].len = len;
	}
	out->nendpoints = n;
	return 0;
}

static int parse_schema(const struct nucleus_registration *m, struct celld_registration *out,
			char *err, size_t cap)
{
	uint32_t len;
	const char *text = nucleus_registration_schema_text(m, &len);

	if (!len)
		return 0;
	if (len > CELLD_SCHEMA_MAX || memchr(text, '\0', len)) {
		snprintf(err, cap, "schema text longer than %u bytes or with a NUL byte",
			 CELLD_SCHEMA_MAX);
		return -EINVAL;
	}
	if (cell_fingerprint(text, len) != out->fingerprint) {
		snprintf(err, cap,
			 "schema text does not match the fingerprint 0x%016llx (its own is "
			 "0x%016llx)",
			 (unsigned long long)out->fingerprint,
			 (unsigned long long)cell_fingerprint(text, len));
		return -EINVAL;
	}
	out->schema = text;
	out->schema_len = len;
	return 0;
}

int celld_registration_parse(const void *buf, uint32_t len, struct celld_registration *out,
			     char *err, size_t cap)
{
	const struct nucleus_registration *m = buf;
	const char *why = "invalid registration";
	const char *s;
	uint32_t n;
	int rc;

	memset(out, 0, sizeof(*out));
	if (nucleus_registration_validate(buf, len, &why)) {
		snprintf(err, cap, "%s", why);
		return -EBADMSG;
	}
	s = nucleus_registration_name(m, &n);
	rc = copy_text(out->name, sizeof(out->name), s, n, "name", err, cap);
	if (rc)
		return rc;
	if (!celld_name_valid(out->name)) {
		snprintf(err, cap,
			 "bad cell name '%s': 1-%d bytes of [a-z0-9_.@-], not starting with '.'",
			 out->name, CELL_NAME_MAX - 1);
		return -EINVAL;
	}
	if (!strcmp(out->name, "nucleus")) {
		/*
		 * celld's own name: an entry of that name would be exported by the
		 * axon, whose proxy connects to RUNTIME_DIR/nucleus.sock, so a QUIC
		 * peer would call the real nucleus as celld itself (a host caller).
		 */
		snprintf(err, cap, "the name 'nucleus' is celld's own");
		return -EINVAL;
	}
	s = nucleus_registration_path(m, &n);
	rc = copy_text(out->path, sizeof(out->path), s, n, "path", err, cap);
	if (rc)
		return rc;
	if (out->path[0] != '/') {
		snprintf(err, cap, "path '%s' is not absolute", out->path);
		return -EINVAL;
	}
	if (m->flags & ~CELLD_REG_FLAGS_KNOWN) {
		snprintf(err, cap, "unknown flags 0x%x", m->flags & ~CELLD_REG_FLAGS_KNOWN);
		return -EINVAL;
	}
	out->flags = m->flags;
	out->fingerprint = m->fingerprint;
	rc = parse_schema(m, out, err, cap);
	return rc ? rc : parse_endpoints(m, out, err, cap);
}

void celld_entry_strings_free(struct celld_entry *e)
{
	free(e->path);
	free(e->schema);
	for (uint32_t i = 0; i < e->nendpoints; i++)
		free(e->endpoints[i]);
	e->path = e->schema = NULL;
	e->nendpoints = 0;
}

int celld_registration_entry(const struct celld_registration *r, struct celld_entry *e)
{
	memset(e, 0, sizeof(*e));
	memcpy(e->name, r->name, sizeof(e->name));
	e->fingerprint = r->fingerprint;
	e->origin = CELLD_ORIGIN_REGISTERED;
	e->health = CELLD_HEALTH_OK;
	e->path = strdup(r->path);
	if (r->schema)
		e->schema = strndup(r->schema, r->schema_len);
	for (uint32_t i = 0; i < r->nendpoints; i++) {
		e->endpoints[i] = strndup(r->endpoints[i].uri, r->endpoints[i].len);
		e->nendpoints = i + 1;
		if (!e->endpoints[i])
			goto fail;
	}
	if (!e->path || (r->schema && !e->schema))
		goto fail;
	return 0;
fail:
	celld_entry_strings_free(e);
	return -ENOMEM;
}
