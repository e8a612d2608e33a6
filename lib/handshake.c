// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * HELLO and WELCOME: the first frame each side sends on the control socket.
 *
 * The server parses a HELLO from a process it does not trust yet, so the
 * parser reads only the bytes it was given, field by field in
 * little-endian, and refuses anything the ABI does not define: wrong magic
 * or version, non-zero reserved fields, unknown feature bits, ring sizes
 * that are not 0 or a power of two within the ring limits, a header whose
 * fingerprint differs from the payload's.  Fuzzed by
 * selftests/rpc/fuzz_hello.c.
 */
#include <string.h>

#include "rpc_internal.h"

#define HS_PAYLOAD 48

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

/* Both payloads share one layout (struct cell_hello / cell_welcome). */
static void encode(uint8_t *out, uint8_t flags, uint32_t magic, const struct cell_hs *hs)
{
	struct cell_hdr hdr = {
		.version = CELL_WIRE_VERSION,
		.flags = flags,
		.method = CELL_METHOD_HELLO,
		.correlation = 1,
		.len = HS_PAYLOAD,
	};
	uint8_t *p = out + CELL_HDR_SIZE;

	cell_hdr_set_fingerprint(&hdr, hs->fingerprint);
	cell_hdr_encode(&hdr, out);
	memset(p, 0, HS_PAYLOAD);
	put32(p, magic);
	put16(p + 4, CELL_ABI_VERSION);
	put32(p + 8, hs->features);
	put32(p + 12, hs->max_inflight);
	put64(p + 16, hs->request_ring);
	put64(p + 24, hs->response_ring);
	put64(p + 32, hs->fingerprint);
}

void cell_hs_encode_hello(const struct cell_hs *hs, uint8_t out[CELL_HS_FRAME_SIZE])
{
	encode(out, CELL_F_REQUEST, CELL_HELLO_MAGIC, hs);
}

void cell_hs_encode_welcome(const struct cell_hs *hs, uint8_t out[CELL_HS_FRAME_SIZE])
{
	encode(out, CELL_F_RESPONSE, CELL_WELCOME_MAGIC, hs);
}

static bool ring_size_ok(uint64_t n)
{
	return n == 0 || (n >= CELL_RING_MIN_DATA && n <= CELL_RING_MAX_DATA && !(n & (n - 1)));
}

static enum cell_status refuse(const char **why, enum cell_status st, const char *text)
{
	*why = text;
	return st;
}

/* The payload rules HELLO and WELCOME share. */
static enum cell_status parse_payload(const uint8_t *p, uint32_t magic, const struct cell_hdr *hdr,
				      struct cell_hs *hs, const char **why)
{
	if (get32(p) != magic)
		return refuse(why, CELL_STATUS_BAD_MESSAGE, "bad magic");
	if (get16(p + 4) != CELL_ABI_VERSION)
		return refuse(why, CELL_STATUS_UNSUPPORTED_VERSION, "unsupported ABI version");
	if (get16(p + 6) || get64(p + 40))
		return refuse(why, CELL_STATUS_BAD_MESSAGE, "reserved field not zero");
	hs->features = get32(p + 8);
	hs->max_inflight = get32(p + 12);
	hs->request_ring = get64(p + 16);
	hs->response_ring = get64(p + 24);
	hs->fingerprint = get64(p + 32);
	if (hs->features & ~(uint32_t)CELL_FEAT_ALL)
		return refuse(why, CELL_STATUS_BAD_MESSAGE, "unknown feature bits");
	if (!ring_size_ok(hs->request_ring) || !ring_size_ok(hs->response_ring))
		return refuse(why, CELL_STATUS_BAD_MESSAGE, "bad ring size");
	if (hs->fingerprint != cell_hdr_fingerprint(hdr))
		return refuse(why, CELL_STATUS_BAD_MESSAGE,
			      "header and payload fingerprints differ");
	if (hs->max_inflight == 0)
		return refuse(why, CELL_STATUS_BAD_MESSAGE, "max_inflight is 0");
	return CELL_STATUS_OK;
}

enum cell_status cell_hs_parse_hello(const void *frame, size_t n, struct cell_hs *hs,
				     const char **why)
{
	struct cell_hdr hdr;
	const void *payload;
	enum cell_wire_error err;

	err = cell_frame_decode(frame, n, HS_PAYLOAD, &hdr, &payload);
	if (err)
		return refuse(why, cell_wire_error_status(err), cell_wire_strerror(err));
	if (hdr.flags != CELL_F_REQUEST || hdr.method != CELL_METHOD_HELLO ||
	    hdr.correlation != 1 || hdr.len != HS_PAYLOAD)
		return refuse(why, CELL_STATUS_BAD_MESSAGE, "not a HELLO frame");
	return parse_payload(payload, CELL_HELLO_MAGIC, &hdr, hs, why);
}

enum cell_status cell_hs_parse_welcome(const void *frame, size_t n, struct cell_hs *hs,
				       const char **why, uint64_t *server_fp, const char **detail,
				       uint32_t *detail_len)
{
	struct cell_hdr hdr;
	const void *payload;
	enum cell_wire_error err;
	uint16_t status;

	*detail = NULL;
	*detail_len = 0;
	err = cell_frame_decode(frame, n, 4096, &hdr, &payload);
	if (err)
		return refuse(why, cell_wire_error_status(err), cell_wire_strerror(err));
	*server_fp = cell_hdr_fingerprint(&hdr);
	if (hdr.method != CELL_METHOD_HELLO || hdr.correlation != 1 ||
	    (hdr.flags & CELL_F_KIND_MASK) != CELL_F_RESPONSE)
		return refuse(why, CELL_STATUS_BAD_MESSAGE, "not an answer to HELLO");
	if (hdr.flags & CELL_F_ERROR) {
		if (cell_error_decode(payload, hdr.len, &status, detail, detail_len))
			return refuse(why, CELL_STATUS_BAD_MESSAGE, "bad error payload");
		return refuse(why, (enum cell_status)status, "refused by the server");
	}
	if (hdr.flags != CELL_F_RESPONSE || hdr.len != HS_PAYLOAD)
		return refuse(why, CELL_STATUS_BAD_MESSAGE, "not a WELCOME frame");
	return parse_payload(payload, CELL_WELCOME_MAGIC, &hdr, hs, why);
}

/* ---- listener hand-over (struct cell_listener) ------------------------- */

#define LISTENER_PAYLOAD ((uint32_t)sizeof(struct cell_listener))

void cell_listener_encode(const struct cell_listener_req *req,
			  uint8_t out[CELL_LISTENER_FRAME_SIZE])
{
	struct cell_hdr hdr = {
		.version = CELL_WIRE_VERSION,
		.flags = CELL_F_REQUEST,
		.method = CELL_METHOD_LISTENER,
		.correlation = 1,
		.len = LISTENER_PAYLOAD,
	};
	uint8_t *p = out + CELL_HDR_SIZE;

	cell_hdr_set_fingerprint(&hdr, req->fingerprint);
	cell_hdr_encode(&hdr, out);
	memset(p, 0, LISTENER_PAYLOAD);
	put32(p, CELL_LISTENER_MAGIC);
	put16(p + 4, req->op);
	memcpy(p + 8, req->key, CELL_LISTENER_KEY_SIZE);
}

bool cell_listener_frame(const void *frame, size_t n)
{
	const uint8_t *p = frame;

	return n >= CELL_HDR_SIZE && get16(p + 2) == CELL_METHOD_LISTENER;
}

enum cell_status cell_listener_parse(const void *frame, size_t n, struct cell_listener_req *req,
				     const char **why)
{
	struct cell_hdr hdr;
	const uint8_t *p;
	const void *payload;
	enum cell_wire_error err;

	err = cell_frame_decode(frame, n, LISTENER_PAYLOAD, &hdr, &payload);
	if (err)
		return refuse(why, cell_wire_error_status(err), cell_wire_strerror(err));
	if (hdr.flags != CELL_F_REQUEST || hdr.method != CELL_METHOD_LISTENER ||
	    hdr.correlation != 1 || hdr.len != LISTENER_PAYLOAD)
		return refuse(why, CELL_STATUS_BAD_MESSAGE, "not a LISTENER request frame");
	p = payload;
	if (get32(p) != CELL_LISTENER_MAGIC)
		return refuse(why, CELL_STATUS_BAD_MESSAGE, "bad magic");
	if (get16(p + 6))
		return refuse(why, CELL_STATUS_BAD_MESSAGE, "reserved field not zero");
	req->op = get16(p + 4);
	if (req->op != CELL_LISTENER_GIVE && req->op != CELL_LISTENER_TAKE)
		return refuse(why, CELL_STATUS_BAD_MESSAGE, "unknown LISTENER op");
	memcpy(req->key, p + 8, CELL_LISTENER_KEY_SIZE);
	req->fingerprint = cell_hdr_fingerprint(&hdr);
	return CELL_STATUS_OK;
}

enum cell_status cell_listener_parse_answer(const void *frame, size_t n, const char **why,
					    const char **detail, uint32_t *detail_len)
{
	struct cell_hdr hdr;
	const void *payload;
	enum cell_wire_error err;
	uint16_t status;

	*detail = NULL;
	*detail_len = 0;
	err = cell_frame_decode(frame, n, 4096, &hdr, &payload);
	if (err)
		return refuse(why, cell_wire_error_status(err), cell_wire_strerror(err));
	/* A server that knows no hand-over answers as to a bad HELLO. */
	if ((hdr.method != CELL_METHOD_LISTENER && hdr.method != CELL_METHOD_HELLO) ||
	    hdr.correlation != 1 || (hdr.flags & CELL_F_KIND_MASK) != CELL_F_RESPONSE)
		return refuse(why, CELL_STATUS_BAD_MESSAGE, "not an answer to LISTENER");
	if (hdr.flags & CELL_F_ERROR) {
		if (cell_error_decode(payload, hdr.len, &status, detail, detail_len) ||
		    status == CELL_STATUS_OK)
			return refuse(why, CELL_STATUS_BAD_MESSAGE, "bad error payload");
		return refuse(why, (enum cell_status)status, "refused by the server");
	}
	if (hdr.flags != CELL_F_RESPONSE || hdr.method != CELL_METHOD_LISTENER || hdr.len)
		return refuse(why, CELL_STATUS_BAD_MESSAGE, "not an answer to LISTENER");
	return CELL_STATUS_OK;
}
