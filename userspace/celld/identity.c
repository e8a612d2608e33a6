// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* The identity module of celld (identity.h). */
#include <errno.h>
#include <stdlib.h>

#include <sodium.h>

#include "celld.h"
#include "identity.h"

int celld_identity_start(struct celld *d)
{
	struct celld_identity *id;
	char err[512];
	int rc;

	if (sodium_init() < 0) {
		celld_log("identity: libsodium cannot initialise");
		return -EIO;
	}
	id = sodium_malloc(sizeof(*id)); /* guarded pages, zeroed when freed */
	if (!id)
		return -ENOMEM;
	rc = celld_identity_load(d->cfg.state_dir, id, err, sizeof(err));
	if (rc) {
		celld_log("identity: %s", err);
		sodium_free(id);
		return rc;
	}
	d->identity = id;
	if (d->cfg.verbose)
		celld_log("identity: node %s", id->hex);
	return 0;
}

void celld_identity_stop(struct celld *d)
{
	if (d->identity)
		sodium_free(d->identity); /* zeroes the secret key */
	d->identity = NULL;
}
