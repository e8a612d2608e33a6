/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/*
 * The enroll request (nucleus.cell: struct registration), checked beyond
 * what the generated validator does: the name is a cell name, the path an
 * absolute socket path, the schema text (if any) is the one of the
 * fingerprint, the endpoints are few and short, no unknown flag is set.
 * This is the parser of foreign bytes celld exposes to every local user;
 * selftests/fuzz/celld_registration.c fuzzes it.
 */
#ifndef CELLD_REGISTRATION_H
#define CELLD_REGISTRATION_H

#include <stddef.h>
#include <stdint.h>

#include "registry.h"

/* Flags of struct registration (none defined yet: all must be zero). */
#define CELLD_REG_FLAGS_KNOWN 0U

/* A parsed request: views into the message (valid as long as it). */
struct celld_registration {
	char name[CELL_NAME_MAX];
	char path[108]; /* sizeof(sun_path) */
	uint64_t fingerprint;
	const char *schema; /* may be NULL */
	uint32_t schema_len;
	struct {
		const char *uri;
		uint32_t len;
	} endpoints[CELLD_ENDPOINTS_MAX];
	uint32_t nendpoints;
	uint32_t flags;
};

/**
 * celld_registration_parse() - check and view an enroll request.
 * @buf: the payload, 8-byte aligned (as libcell hands it to handlers).
 * @err: receives why it was refused (@cap bytes).
 * Return: 0 or -EBADMSG (malformed: BAD_MESSAGE) or -EINVAL (well formed
 * but refused: INVALID_ARGUMENT).
 */
int celld_registration_parse(const void *buf, uint32_t len, struct celld_registration *out,
			     char *err, size_t cap);

/**
 * celld_registration_entry() - fill @e (zeroed first) from @r, with
 * strings allocated here; free them with celld_entry_strings_free().
 * Return: 0 or -ENOMEM.
 */
int celld_registration_entry(const struct celld_registration *r, struct celld_entry *e);

void celld_entry_strings_free(struct celld_entry *e);

#endif /* CELLD_REGISTRATION_H */
