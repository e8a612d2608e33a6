// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Fuzz target for the handshake parsers (lib/handshake.c): the server
 * parses a HELLO from a process it does not trust yet, the client parses
 * the server's WELCOME or refusal.  The input is taken twice:
 *
 *  - as a frame, fed to cell_hs_parse_hello() and cell_hs_parse_welcome().
 *    Besides "no crash, no read past the input", what they accept must be
 *    exactly the canonical encoding of what they return (so no byte of an
 *    accepted frame is ignored), every field within the ABI's rules, and
 *    a refusal must carry a known status and a reason (an error answer's
 *    detail lying inside the input);
 *  - as field values (features, max_inflight, ring sizes, fingerprint),
 *    encoded with cell_hs_encode_hello()/_welcome() and parsed back: the
 *    parser must accept them exactly when the rules allow and then
 *    return the same values.
 *
 * And the listener hand-over's parsers (cell_listener_parse() of the
 * request a server gets instead of a HELLO, cell_listener_parse_answer()
 * of its answer) on the same input: an accepted request is exactly the
 * canonical encoding of what it returns, with a known op; no frame is
 * both a HELLO and a LISTENER request; a refusal has a known status, a
 * reason, and any detail inside the input.
 *
 * A violated property aborts.  Seed corpus: selftests/fuzz/corpus/hello/.
 */
#include <stdlib.h>
#include <string.h>

#include <cell/wire.h>

#include "rpc_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool ring_ok(uint64_t n)
{
	return n == 0 || (n >= CELL_RING_MIN_DATA && n <= CELL_RING_MAX_DATA && !(n & (n - 1)));
}

static bool fields_ok(const struct cell_hs *hs)
{
	return !(hs->features & ~(uint32_t)CELL_FEAT_ALL) && ring_ok(hs->request_ring) &&
	       ring_ok(hs->response_ring) && hs->max_inflight;
}

static bool same(const struct cell_hs *a, const struct cell_hs *b)
{
	return a->features == b->features && a->max_inflight == b->max_inflight &&
	       a->request_ring == b->request_ring && a->response_ring == b->response_ring &&
	       a->fingerprint == b->fingerprint;
}

static void refusal_ok(enum cell_status st, const char *why)
{
	if (st == CELL_STATUS_OK || st >= CELL_STATUS_MAX || !why || !*why)
		abort();
}

static void as_frame(const uint8_t *data, size_t size)
{
	uint8_t again[CELL_HS_FRAME_SIZE];
	struct cell_hs hs, ws;
	const char *why = NULL, *detail = NULL;
	uint32_t detail_len = 0;
	uint64_t server_fp = 0;
	enum cell_status hst, wst;

	hst = cell_hs_parse_hello(data, size, &hs, &why);
	if (hst == CELL_STATUS_OK) {
		if (size != CELL_HS_FRAME_SIZE || !fields_ok(&hs))
			abort();
		cell_hs_encode_hello(&hs, again);
		if (memcmp(again, data, size))
			abort();
	} else {
		refusal_ok(hst, why);
	}

	why = NULL;
	wst = cell_hs_parse_welcome(data, size, &ws, &why, &server_fp, &detail, &detail_len);
	if (wst == CELL_STATUS_OK) {
		if (size != CELL_HS_FRAME_SIZE || !fields_ok(&ws) || detail || detail_len ||
		    server_fp != ws.fingerprint)
			abort();
		cell_hs_encode_welcome(&ws, again);
		if (memcmp(again, data, size))
			abort();
		/* A HELLO is a request, a WELCOME a response: never both. */
		if (hst == CELL_STATUS_OK)
			abort();
	} else {
		refusal_ok(wst, why);
		if (detail && ((const uint8_t *)detail < data ||
			       (const uint8_t *)detail + detail_len > data + size))
			abort();
		if (!detail && detail_len)
			abort();
	}
}

static void listener_frame(const uint8_t *data, size_t size)
{
	uint8_t again[CELL_LISTENER_FRAME_SIZE];
	struct cell_listener_req req;
	struct cell_hs hs;
	const char *why = NULL, *detail = NULL;
	uint32_t detail_len = 0;
	enum cell_status st;

	st = cell_listener_parse(data, size, &req, &why);
	if (st == CELL_STATUS_OK) {
		if (size != CELL_LISTENER_FRAME_SIZE || !cell_listener_frame(data, size) ||
		    (req.op != CELL_LISTENER_GIVE && req.op != CELL_LISTENER_TAKE))
			abort();
		cell_listener_encode(&req, again);
		if (memcmp(again, data, size))
			abort();
		if (cell_hs_parse_hello(data, size, &hs, &why) == CELL_STATUS_OK)
			abort();
	} else {
		refusal_ok(st, why);
	}
	why = NULL;
	st = cell_listener_parse_answer(data, size, &why, &detail, &detail_len);
	if (st == CELL_STATUS_OK) {
		if (size != CELL_HDR_SIZE || detail || detail_len)
			abort();
	} else {
		refusal_ok(st, why);
		if (detail && ((const uint8_t *)detail < data ||
			       (const uint8_t *)detail + detail_len > data + size))
			abort();
		if (!detail && detail_len)
			abort();
	}
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* Ring sizes near the interesting values more often than uniformly. */
static uint64_t ring_from(const uint8_t *p)
{
	uint64_t raw = get64(p);

	switch (p[0] & 3) {
	case 0:
		return raw;
	case 1:
		return 1ULL << (p[1] % 64);
	case 2:
		return (1ULL << (p[1] % 64)) + (uint64_t)(int8_t)p[2];
	default:
		return 0;
	}
}

static void as_fields(const uint8_t *data, size_t size)
{
	uint8_t frame[CELL_HS_FRAME_SIZE];
	struct cell_hs in, out;
	const char *why = NULL, *detail;
	uint32_t detail_len;
	uint64_t server_fp;
	enum cell_status st;
	bool valid;

	if (size < 36)
		return;
	in.features = get32(data);
	in.max_inflight = get32(data + 4);
	in.request_ring = ring_from(data + 8);
	in.response_ring = ring_from(data + 16);
	in.fingerprint = get64(data + 24);
	valid = fields_ok(&in);

	cell_hs_encode_hello(&in, frame);
	st = cell_hs_parse_hello(frame, sizeof(frame), &out, &why);
	if ((st == CELL_STATUS_OK) != valid || (valid && !same(&in, &out)))
		abort();
	if (!valid)
		refusal_ok(st, why);

	cell_hs_encode_welcome(&in, frame);
	st = cell_hs_parse_welcome(frame, sizeof(frame), &out, &why, &server_fp, &detail,
				   &detail_len);
	if ((st == CELL_STATUS_OK) != valid || (valid && !same(&in, &out)) ||
	    server_fp != in.fingerprint)
		abort();
	/* Neither parser takes the other's frame. */
	if (cell_hs_parse_hello(frame, sizeof(frame), &out, &why) == CELL_STATUS_OK)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	as_frame(data, size);
	as_fields(data, size);
	listener_frame(data, size);
	return 0;
}
