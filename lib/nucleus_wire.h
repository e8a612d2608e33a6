/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * The requests libcell sends to celld: "enroll" (register.c) and "kv"
 * (kv.c) of userspace/celld/nucleus.cell, laid out by hand so that libcell builds
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
#define CELL_NUCLEUS_FINGERPRINT       0x5b417708a88bcef3ULL
#define CELL_NUCLEUS_METHOD_ENROLL     1
#define CELL_NUCLEUS_REGISTRATION_SIZE 48U
#define CELL_NUCLEUS_ENDPOINT_SIZE     8U
#define CELL_NUCLEUS_METHOD_KV	       7
#define CELL_NUCLEUS_KV_REQUEST_SIZE   48U
#define CELL_NUCLEUS_KV_ANSWER_SIZE    24U

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

/* struct kv_request of nucleus.cell. */
struct cell_nucleus_kv_request {
	uint8_t op; /* 0 get, 1 put, 2 del, 3 cas */
	uint8_t expect_absent;
	uint8_t pad0[2];
	struct cell_nucleus_span key;
	struct cell_nucleus_span expect;
	struct cell_nucleus_span value;
	uint8_t pad1[4];
	uint64_t client;
	uint64_t request;
};

/* struct kv_answer of nucleus.cell. */
struct cell_nucleus_kv_answer {
	uint8_t outcome;
	uint8_t found;
	uint8_t pad0[6];
	uint64_t revision;
	struct cell_nucleus_span value;
};

_Static_assert(sizeof(struct cell_nucleus_kv_request) == CELL_NUCLEUS_KV_REQUEST_SIZE, "kv_"
										       "request");
_Static_assert(offsetof(struct cell_nucleus_kv_request, key) == 4, "kv_request.key");
_Static_assert(offsetof(struct cell_nucleus_kv_request, client) == 32, "kv_request.client");
_Static_assert(sizeof(struct cell_nucleus_kv_answer) == CELL_NUCLEUS_KV_ANSWER_SIZE, "kv_answer");
_Static_assert(offsetof(struct cell_nucleus_kv_answer, value) == 16, "kv_answer.value");

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
