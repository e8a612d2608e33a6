// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Frame header encode/decode and validation, error payloads, fingerprint.
 *
 * Every byte here may come from a hostile peer: decode reads exactly the
 * bytes it was given, assembles little-endian fields byte by byte (so the
 * code is the same on any host) and checks every rule of
 * Documentation/wire-format.rst before returning CELL_WIRE_OK.
 */
#include <stdbool.h>
#include <string.h>

#include <cell/wire.h>

static uint16_t get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

void cell_hdr_encode(const struct cell_hdr *hdr, void *buf)
{
	uint8_t *p = buf;

	p[0] = hdr->version;
	p[1] = hdr->flags;
	put_le16(p + 2, hdr->method);
	put_le32(p + 4, hdr->correlation);
	put_le32(p + 8, hdr->len);
	put_le32(p + 12, hdr->fingerprint_lo);
	put_le32(p + 16, hdr->fingerprint_hi);
}

/* Modifiers each kind allows. */
static uint8_t allowed_modifiers(uint8_t kind)
{
	switch (kind) {
	case CELL_F_REQUEST:
		return CELL_F_ONEWAY | CELL_F_MORE;
	case CELL_F_RESPONSE:
		return CELL_F_ERROR | CELL_F_LEADER_HINT | CELL_F_MORE;
	default: /* CELL_F_CANCEL */
		return 0;
	}
}

static enum cell_wire_error check_flags(uint8_t flags, unsigned int opts)
{
	uint8_t kind = flags & CELL_F_KIND_MASK;
	uint8_t modifiers = flags & ~(CELL_F_KIND_MASK | CELL_F_RESERVED);

	if ((flags & CELL_F_RESERVED) && !(opts & CELL_WIRE_ACCEPT_TRACE))
		return CELL_WIRE_RESERVED_FLAG;
	if (kind != CELL_F_REQUEST && kind != CELL_F_RESPONSE && kind != CELL_F_CANCEL)
		return CELL_WIRE_BAD_KIND;
	if (modifiers & ~allowed_modifiers(kind))
		return CELL_WIRE_BAD_FLAGS;
	/* An error ends a message; a leader hint only explains an error. */
	if ((flags & CELL_F_ERROR) && (flags & CELL_F_MORE))
		return CELL_WIRE_BAD_FLAGS;
	if ((flags & CELL_F_LEADER_HINT) && !(flags & CELL_F_ERROR))
		return CELL_WIRE_BAD_FLAGS;
	/* A trace context travels with a call, not with its answer. */
	if ((flags & CELL_F_TRACE) && kind != CELL_F_REQUEST)
		return CELL_WIRE_BAD_FLAGS;
	return CELL_WIRE_OK;
}

enum cell_wire_error cell_hdr_check(const struct cell_hdr *hdr, uint32_t max_payload)
{
	return cell_hdr_check_opts(hdr, max_payload, 0);
}

enum cell_wire_error cell_hdr_check_opts(const struct cell_hdr *hdr, uint32_t max_payload,
					 unsigned int opts)
{
	enum cell_wire_error err;
	int oneway = !!(hdr->flags & CELL_F_ONEWAY);

	if (hdr->version != CELL_WIRE_VERSION)
		return CELL_WIRE_BAD_VERSION;
	err = check_flags(hdr->flags, opts);
	if (err)
		return err;
	if ((hdr->correlation == 0) != oneway)
		return CELL_WIRE_BAD_CORRELATION;
	if ((hdr->flags & CELL_F_CANCEL) && hdr->len)
		return CELL_WIRE_CANCEL_PAYLOAD;
	if (hdr->len > max_payload || hdr->len > CELL_MAX_PAYLOAD)
		return CELL_WIRE_TOO_LONG;
	if ((hdr->flags & CELL_F_TRACE) && hdr->len < CELL_TRACE_TRAILER_SIZE)
		return CELL_WIRE_TRACE_TRUNCATED;
	return CELL_WIRE_OK;
}

enum cell_wire_error cell_hdr_decode(const void *buf, size_t n, uint32_t max_payload,
				     struct cell_hdr *hdr)
{
	return cell_hdr_decode_opts(buf, n, max_payload, 0, hdr);
}

enum cell_wire_error cell_hdr_decode_opts(const void *buf, size_t n, uint32_t max_payload,
					  unsigned int opts, struct cell_hdr *hdr)
{
	const uint8_t *p = buf;

	if (n < CELL_HDR_SIZE)
		return CELL_WIRE_TRUNCATED;
	hdr->version = p[0];
	hdr->flags = p[1];
	hdr->method = get_le16(p + 2);
	hdr->correlation = get_le32(p + 4);
	hdr->len = get_le32(p + 8);
	hdr->fingerprint_lo = get_le32(p + 12);
	hdr->fingerprint_hi = get_le32(p + 16);
	return cell_hdr_check_opts(hdr, max_payload, opts);
}

void cell_trace_trailer_encode(const struct cell_trace_ctx *ctx, void *buf)
{
	uint8_t *p = buf;

	memcpy(p, ctx->trace_id, 16);
	memcpy(p + 16, ctx->span_id, 8);
	p[24] = CELL_TRACE_VERSION;
	p[25] = ctx->flags;
	put_le16(p + 26, 0);
	put_le32(p + 28, CELL_TRACE_MAGIC);
}

static bool all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return !acc;
}

enum cell_wire_error cell_trace_trailer_decode(const void *buf, size_t n,
					       struct cell_trace_ctx *ctx, const char **why)
{
	const uint8_t *p = buf;
	const char *bad = NULL;

	if (n < CELL_TRACE_TRAILER_SIZE)
		bad = "trace trailer shorter than 32 bytes";
	else if (n > CELL_TRACE_TRAILER_SIZE)
		bad = "trace trailer longer than 32 bytes";
	else if (get_le32(p + 28) != CELL_TRACE_MAGIC)
		bad = "trace trailer magic is not \"CTRC\"";
	else if (p[24] != CELL_TRACE_VERSION)
		bad = "trace trailer version is not 1";
	else if (p[25] & ~CELL_TRACE_FLAGS)
		bad = "unknown trace flag";
	else if (get_le16(p + 26))
		bad = "trace trailer reserved bytes not zero";
	else if (all_zero(p, 16))
		bad = "trace id is all zero";
	else if (all_zero(p + 16, 8))
		bad = "span id is all zero";
	if (why)
		*why = bad;
	if (bad)
		return n < CELL_TRACE_TRAILER_SIZE ? CELL_WIRE_TRACE_TRUNCATED
						   : CELL_WIRE_BAD_TRACE;
	memcpy(ctx->trace_id, p, 16);
	memcpy(ctx->span_id, p + 16, 8);
	ctx->flags = p[25];
	return CELL_WIRE_OK;
}

enum cell_wire_error cell_frame_decode_opts(const void *buf, size_t n, uint32_t max_payload,
					    unsigned int opts, struct cell_hdr *hdr,
					    const void **payload)
{
	const uint8_t *p = buf;
	enum cell_wire_error err;
	uint16_t status;
	const char *detail;
	uint32_t detail_len;

	err = cell_hdr_decode_opts(buf, n, max_payload, opts, hdr);
	if (err)
		return err;
	if (n - CELL_HDR_SIZE != hdr->len)
		return CELL_WIRE_LENGTH_MISMATCH;
	if (hdr->flags & CELL_F_ERROR) {
		err = cell_error_decode(p + CELL_HDR_SIZE, hdr->len, &status, &detail, &detail_len);
		if (err)
			return err;
	}
	*payload = p + CELL_HDR_SIZE;
	return CELL_WIRE_OK;
}

enum cell_wire_error cell_frame_decode(const void *buf, size_t n, uint32_t max_payload,
				       struct cell_hdr *hdr, const void **payload)
{
	return cell_frame_decode_opts(buf, n, max_payload, 0, hdr, payload);
}

enum cell_wire_error cell_frame_decode_traced(const void *buf, size_t n, uint32_t max_payload,
					      struct cell_hdr *hdr, const void **payload,
					      uint32_t *payload_len, struct cell_trace_ctx *trace)
{
	enum cell_wire_error err;
	const uint8_t *at;

	memset(trace, 0, sizeof(*trace));
	err = cell_frame_decode_opts(buf, n, max_payload, CELL_WIRE_ACCEPT_TRACE, hdr, payload);
	if (err)
		return err;
	*payload_len = hdr->len;
	if (!(hdr->flags & CELL_F_TRACE))
		return CELL_WIRE_OK;
	*payload_len = hdr->len - CELL_TRACE_TRAILER_SIZE;
	at = (const uint8_t *)*payload + *payload_len;
	return cell_trace_trailer_decode(at, CELL_TRACE_TRAILER_SIZE, trace, NULL);
}

size_t cell_error_encode(void *buf, size_t cap, uint16_t status, const char *detail,
			 uint32_t detail_len)
{
	uint8_t *p = buf;
	size_t need = sizeof(struct cell_error) + (size_t)detail_len;

	if (status == CELL_STATUS_OK || status >= CELL_STATUS_MAX || cap < need)
		return 0;
	put_le16(p, status);
	put_le16(p + 2, 0);
	put_le32(p + 4, detail_len);
	if (detail_len)
		memcpy(p + sizeof(struct cell_error), detail, detail_len);
	return need;
}

enum cell_wire_error cell_error_decode(const void *payload, size_t len, uint16_t *status,
				       const char **detail, uint32_t *detail_len)
{
	const uint8_t *p = payload;
	uint32_t dlen;

	if (len < sizeof(struct cell_error))
		return CELL_WIRE_BAD_ERROR;
	dlen = get_le32(p + 4);
	/* Unknown codes are refused: a peer that invents one is broken. */
	if (get_le16(p) == CELL_STATUS_OK || get_le16(p) >= CELL_STATUS_MAX ||
	    get_le16(p + 2) != 0 || dlen != len - sizeof(struct cell_error))
		return CELL_WIRE_BAD_ERROR;
	*status = get_le16(p);
	*detail = (const char *)p + sizeof(struct cell_error);
	*detail_len = dlen;
	return CELL_WIRE_OK;
}

static const struct {
	const char *name;
	const char *text;
	enum cell_status status;
} wire_errors[CELL_WIRE_ERROR_MAX] = {
	[CELL_WIRE_OK] = { "ok", "accepted", CELL_STATUS_OK },
	[CELL_WIRE_TRUNCATED] = { "truncated", "frame shorter than the 20-byte header",
				  CELL_STATUS_BAD_MESSAGE },
	[CELL_WIRE_BAD_VERSION] = { "bad_version", "unsupported wire version",
				    CELL_STATUS_UNSUPPORTED_VERSION },
	[CELL_WIRE_RESERVED_FLAG] = { "reserved_flag", "reserved flag bit set",
				      CELL_STATUS_BAD_MESSAGE },
	[CELL_WIRE_BAD_KIND] = { "bad_kind", "not exactly one of request, response, cancel",
				 CELL_STATUS_BAD_MESSAGE },
	[CELL_WIRE_BAD_FLAGS] = { "bad_flags", "flag combination not allowed",
				  CELL_STATUS_BAD_MESSAGE },
	[CELL_WIRE_BAD_CORRELATION] = { "bad_correlation",
					"correlation id 0 without one-way, or set with one-way",
					CELL_STATUS_BAD_MESSAGE },
	[CELL_WIRE_TOO_LONG] = { "too_long", "payload longer than the receiver accepts",
				 CELL_STATUS_TOO_LARGE },
	[CELL_WIRE_LENGTH_MISMATCH] = { "length_mismatch",
					"frame size differs from header plus payload length",
					CELL_STATUS_BAD_MESSAGE },
	[CELL_WIRE_CANCEL_PAYLOAD] = { "cancel_payload", "cancel frame with a payload",
				       CELL_STATUS_BAD_MESSAGE },
	[CELL_WIRE_BAD_ERROR] = { "bad_error", "malformed error payload", CELL_STATUS_BAD_MESSAGE },
	[CELL_WIRE_TRACE_TRUNCATED] = { "trace_truncated",
					"trace flag set, payload shorter than the 32-byte trailer",
					CELL_STATUS_BAD_MESSAGE },
	[CELL_WIRE_BAD_TRACE] = { "bad_trace",
				  "malformed trace trailer (magic, version, flags, zero id)",
				  CELL_STATUS_BAD_MESSAGE },
};

const char *cell_wire_error_name(enum cell_wire_error err)
{
	if ((unsigned int)err >= CELL_WIRE_ERROR_MAX)
		return "unknown";
	return wire_errors[err].name;
}

const char *cell_wire_strerror(enum cell_wire_error err)
{
	if ((unsigned int)err >= CELL_WIRE_ERROR_MAX)
		return "unknown wire error";
	return wire_errors[err].text;
}

enum cell_status cell_wire_error_status(enum cell_wire_error err)
{
	if ((unsigned int)err >= CELL_WIRE_ERROR_MAX)
		return CELL_STATUS_INTERNAL;
	return wire_errors[err].status;
}

static const char *const status_names[CELL_STATUS_MAX] = {
	[CELL_STATUS_OK] = "OK",
	[CELL_STATUS_CANCELLED] = "CANCELLED",
	[CELL_STATUS_UNKNOWN_METHOD] = "UNKNOWN_METHOD",
	[CELL_STATUS_BAD_MESSAGE] = "BAD_MESSAGE",
	[CELL_STATUS_FINGERPRINT_MISMATCH] = "FINGERPRINT_MISMATCH",
	[CELL_STATUS_DEADLINE_EXCEEDED] = "DEADLINE_EXCEEDED",
	[CELL_STATUS_RESOURCE_EXHAUSTED] = "RESOURCE_EXHAUSTED",
	[CELL_STATUS_UNAVAILABLE] = "UNAVAILABLE",
	[CELL_STATUS_NOT_LEADER] = "NOT_LEADER",
	[CELL_STATUS_PERMISSION_DENIED] = "PERMISSION_DENIED",
	[CELL_STATUS_INTERNAL] = "INTERNAL",
	[CELL_STATUS_UNSUPPORTED_VERSION] = "UNSUPPORTED_VERSION",
	[CELL_STATUS_INVALID_ARGUMENT] = "INVALID_ARGUMENT",
	[CELL_STATUS_NOT_FOUND] = "NOT_FOUND",
	[CELL_STATUS_TOO_LARGE] = "TOO_LARGE",
};

const char *cell_status_name(enum cell_status status)
{
	if ((unsigned int)status >= CELL_STATUS_MAX)
		return "UNKNOWN_STATUS";
	return status_names[status];
}

uint64_t cell_fingerprint(const void *text, size_t len)
{
	const uint8_t *p = text;
	uint64_t hash = 0xcbf29ce484222325ULL;

	while (len--) {
		hash ^= *p++;
		hash *= 0x100000001b3ULL;
	}
	return hash;
}
