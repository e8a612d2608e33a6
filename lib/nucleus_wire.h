/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * The one request libcell sends to celld (register.c): "enroll" of
 * userspace/celld/nucleus.cell, laid out by hand so that libcell builds
 * from its own sources alone (tools/vm/run.sh compiles them without
 * CMake or cellc).  userspace/celld/registration.c checks every constant
 * here against cellc's output at compile time: after an edit of
 * nucleus.cell, the build says what to update.
 */
#ifndef CELL_NUCLEUS_WIRE_H
#define CELL_NUCLEUS_WIRE_H

#include <stddef.h>
#include <stdint.h>

/* NUCLEUS_FINGERPRINT of the generated nucleus.cell.h. */
#define CELL_NUCLEUS_FINGERPRINT       0x47ae1ff914105e33ULL
#define CELL_NUCLEUS_METHOD_ENROLL     1
#define CELL_NUCLEUS_REGISTRATION_SIZE 48U
#define CELL_NUCLEUS_ENDPOINT_SIZE     8U

struct cell_nucleus_span {
	uint32_t off; /* from the start of the message */
	uint32_t len;
};

/* struct registration of nucleus.cell. */
struct cell_nucleus_registration {
	struct cell_nucleus_span name;
	uint64_t fingerprint;
	struct cell_nucleus_span path;
	struct cell_nucleus_span schema_text;
	struct cell_nucleus_span endpoints; /* struct cell_nucleus_endpoint[] */
	uint32_t flags;
	uint8_t pad[4];
};

/* struct endpoint of nucleus.cell. */
struct cell_nucleus_endpoint {
	struct cell_nucleus_span uri;
};

_Static_assert(sizeof(struct cell_nucleus_registration) == CELL_NUCLEUS_REGISTRATION_SIZE, "registr"
											   "ation: "
											   "size");
_Static_assert(offsetof(struct cell_nucleus_registration, fingerprint) == 8, "fingerprint");
_Static_assert(offsetof(struct cell_nucleus_registration, path) == 16, "path");
_Static_assert(offsetof(struct cell_nucleus_registration, schema_text) == 24, "schema_text");
_Static_assert(offsetof(struct cell_nucleus_registration, endpoints) == 32, "endpoints");
_Static_assert(offsetof(struct cell_nucleus_registration, flags) == 40, "flags");
_Static_assert(sizeof(struct cell_nucleus_endpoint) == CELL_NUCLEUS_ENDPOINT_SIZE, "endpoint");

#endif /* CELL_NUCLEUS_WIRE_H */
