// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Fuzz target for celld's enroll request parser (registration.c): the
 * bytes any local user can send to the nucleus.  Besides "no crash, no
 * read outside the input", every accepted request must hold what celld
 * relies on afterwards; a violated property aborts.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cell/wire.h>

#include "registration.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int inside(const void *p, uint32_t len, const uint8_t *buf, size_t size)
{
	const uint8_t *q = p;

	return q >= buf && q + len <= buf + size;
}

static void check_accepted(const struct celld_registration *r, const uint8_t *buf, size_t size)
{
	struct celld_entry e;

	if (!celld_name_valid(r->name) || r->path[0] != '/' || strlen(r->path) >= sizeof(r->path))
		abort();
	if (r->schema && (!inside(r->schema, r->schema_len, buf, size) ||
			  cell_fingerprint(r->schema, r->schema_len) != r->fingerprint))
		abort();
	if (r->nendpoints > CELLD_ENDPOINTS_MAX || r->flags & ~CELLD_REG_FLAGS_KNOWN)
		abort();
	for (uint32_t i = 0; i < r->nendpoints; i++)
		if (!r->endpoints[i].len || r->endpoints[i].len >= CELLD_URI_MAX ||
		    !inside(r->endpoints[i].uri, r->endpoints[i].len, buf, size) ||
		    memchr(r->endpoints[i].uri, '\0', r->endpoints[i].len))
			abort();
	if (celld_registration_entry(r, &e))
		return;
	if (strcmp(e.name, r->name) || strcmp(e.path, r->path) || e.nendpoints != r->nendpoints)
		abort();
	celld_entry_strings_free(&e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct celld_registration r;
	char err[256];
	uint8_t *buf;
	int rc;

	if (size > (1U << 24))
		return 0;
	/* Handlers get 8-byte aligned payloads; malloc gives at least that. */
	buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	err[0] = '\0';
	rc = celld_registration_parse(buf, (uint32_t)size, &r, err, sizeof(err));
	if (rc == 0)
		check_accepted(&r, buf, size);
	else if ((rc != -EBADMSG && rc != -EINVAL) || !err[0])
		abort(); /* every refusal says why */
	free(buf);
	return 0;
}
