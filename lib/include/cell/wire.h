/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * The wire layer: the 20-byte frame header, error payloads and the schema
 * fingerprint.  Byte layout: Documentation/wire-format.rst.
 *
 * struct cell_hdr (from <linux/cell.h>) holds host-order values here; the
 * encode and decode functions convert to and from the little-endian wire.
 * Nothing in this layer allocates, blocks or keeps state.
 */
#ifndef CELL_WIRE_H
#define CELL_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <linux/cell.h>
#include <cell/api.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Why a frame was refused.  0 means accepted. */
enum cell_wire_error {
	CELL_WIRE_OK = 0,
	CELL_WIRE_TRUNCATED,	   /* fewer bytes than a header */
	CELL_WIRE_BAD_VERSION,	   /* version is not CELL_WIRE_VERSION */
	CELL_WIRE_RESERVED_FLAG,   /* flag bit 7 is set */
	CELL_WIRE_BAD_KIND,	   /* not exactly one of REQUEST/RESPONSE/CANCEL */
	CELL_WIRE_BAD_FLAGS,	   /* a modifier that the kind does not allow */
	CELL_WIRE_BAD_CORRELATION, /* 0 where an id is needed, or set on ONEWAY */
	CELL_WIRE_TOO_LONG,	   /* payload longer than the receiver allows */
	CELL_WIRE_LENGTH_MISMATCH, /* bytes present differ from header + len */
	CELL_WIRE_CANCEL_PAYLOAD,  /* a CANCEL frame carries a payload */
	CELL_WIRE_BAD_ERROR,	   /* ERROR payload malformed */
	CELL_WIRE_TRACE_TRUNCATED, /* TRACE set, payload shorter than the trailer */
	CELL_WIRE_BAD_TRACE,	   /* trace trailer malformed */
	CELL_WIRE_ERROR_MAX,
};

/**
 * cell_hdr_encode() - write @hdr as 20 little-endian bytes at @buf.
 * Does not validate: encode what cell_hdr_check() accepts.
 */
LIBCELL_API void cell_hdr_encode(const struct cell_hdr *hdr, void *buf);

/**
 * cell_hdr_decode() - read and validate a header from the first 20 of @n
 * bytes at @buf into @hdr (host order).  Checks version, flags, correlation
 * and that len <= @max_payload; does not look at what follows the header.
 * Return: CELL_WIRE_OK, or why the header is refused (@hdr then undefined).
 */
LIBCELL_API CELL_MUST_CHECK enum cell_wire_error
cell_hdr_decode(const void *buf, size_t n, uint32_t max_payload, struct cell_hdr *hdr);

/**
 * cell_hdr_check() - validate a header already in host order (the same
 * rules as cell_hdr_decode()).
 */
LIBCELL_API CELL_MUST_CHECK enum cell_wire_error cell_hdr_check(const struct cell_hdr *hdr,
								uint32_t max_payload);

/**
 * cell_frame_decode() - validate a whole frame: a header and exactly
 * hdr.len payload bytes, @n in all.  An ERROR frame's payload must also
 * be a well-formed struct cell_error.  On success *@payload points into
 * @buf (no copy).
 */
LIBCELL_API CELL_MUST_CHECK enum cell_wire_error cell_frame_decode(const void *buf, size_t n,
								   uint32_t max_payload,
								   struct cell_hdr *hdr,
								   const void **payload);

/*
 * Decode options.  CELL_WIRE_ACCEPT_TRACE: the receiver granted
 * CELL_FEAT_TRACE, so bit 7 is CELL_F_TRACE (allowed on a REQUEST whose
 * len holds the trailer) instead of the reserved bit.
 */
#define CELL_WIRE_ACCEPT_TRACE 0x1u

/* cell_hdr_check() with decode options (CELL_WIRE_ACCEPT_TRACE). */
LIBCELL_API CELL_MUST_CHECK enum cell_wire_error
cell_hdr_check_opts(const struct cell_hdr *hdr, uint32_t max_payload, unsigned int opts);

/* cell_hdr_decode() with decode options (CELL_WIRE_ACCEPT_TRACE). */
LIBCELL_API CELL_MUST_CHECK enum cell_wire_error cell_hdr_decode_opts(const void *buf, size_t n,
								      uint32_t max_payload,
								      unsigned int opts,
								      struct cell_hdr *hdr);

/*
 * cell_frame_decode() with decode options; a TRACE frame's trailer is not
 * looked at (cell_frame_decode_traced() does that).
 */
LIBCELL_API CELL_MUST_CHECK enum cell_wire_error
cell_frame_decode_opts(const void *buf, size_t n, uint32_t max_payload, unsigned int opts,
		       struct cell_hdr *hdr, const void **payload);

/* A trace context as the trailer carries it (host view). */
struct cell_trace_ctx {
	uint8_t trace_id[16]; /* not all zero */
	uint8_t span_id[8];   /* the calling span; not all zero */
	uint8_t flags;	      /* CELL_TRACE_F_* */
};

/**
 * cell_trace_trailer_encode() - write @ctx as the 32-byte trailer at @buf.
 * Does not validate: encode what cell_trace_trailer_decode() accepts.
 */
LIBCELL_API void cell_trace_trailer_encode(const struct cell_trace_ctx *ctx, void *buf);

/**
 * cell_trace_trailer_decode() - parse the trailer: exactly
 * CELL_TRACE_TRAILER_SIZE bytes at @buf (@n), from an untrusted peer.
 * Checks magic, version, reserved bytes, flags and that neither id is all
 * zero.
 * Return: CELL_WIRE_OK, CELL_WIRE_TRACE_TRUNCATED (@n too small) or
 * CELL_WIRE_BAD_TRACE; *@why (may be NULL) says which rule failed.
 */
LIBCELL_API CELL_MUST_CHECK enum cell_wire_error
cell_trace_trailer_decode(const void *buf, size_t n, struct cell_trace_ctx *ctx, const char **why);

/**
 * cell_frame_decode_traced() - cell_frame_decode() for a receiver that
 * granted CELL_FEAT_TRACE.  With CELL_F_TRACE set the trailer is checked
 * and returned in *@trace, and *@payload_len excludes it; without it
 * *@trace is zeroed and *@payload_len is hdr->len.
 */
LIBCELL_API CELL_MUST_CHECK enum cell_wire_error
cell_frame_decode_traced(const void *buf, size_t n, uint32_t max_payload, struct cell_hdr *hdr,
			 const void **payload, uint32_t *payload_len, struct cell_trace_ctx *trace);

/**
 * cell_error_encode() - write an ERROR payload (struct cell_error then
 * @detail_len bytes of @detail) into @buf of @cap bytes.
 * Return: bytes written, or 0 if @cap is too small or @status is OK or
 * unknown.
 */
LIBCELL_API size_t cell_error_encode(void *buf, size_t cap, uint16_t status, const char *detail,
				     uint32_t detail_len);

/**
 * cell_error_decode() - parse an ERROR payload.  *@detail points into
 * @payload (not NUL-terminated).
 */
LIBCELL_API CELL_MUST_CHECK enum cell_wire_error cell_error_decode(const void *payload, size_t len,
								   uint16_t *status,
								   const char **detail,
								   uint32_t *detail_len);

/* Short stable name of a wire error ("bad_version"), as in the vectors. */
LIBCELL_API const char *cell_wire_error_name(enum cell_wire_error err);

/* One-line English description of a wire error. */
LIBCELL_API const char *cell_wire_strerror(enum cell_wire_error err);

/* The status a receiver reports for a frame it refused for @err. */
LIBCELL_API enum cell_status cell_wire_error_status(enum cell_wire_error err);

/* Stable upper-case name of a status ("FINGERPRINT_MISMATCH"). */
LIBCELL_API const char *cell_status_name(enum cell_status status);

/**
 * cell_fingerprint() - the 64-bit schema fingerprint of a canonical schema
 * text: FNV-1a 64 (offset basis 0xcbf29ce484222325, prime 0x100000001b3)
 * over its bytes.  Identical on every platform and in the MCU port.
 */
LIBCELL_API uint64_t cell_fingerprint(const void *text, size_t len);

static inline uint64_t cell_hdr_fingerprint(const struct cell_hdr *hdr)
{
	return (uint64_t)hdr->fingerprint_hi << 32 | hdr->fingerprint_lo;
}

static inline void cell_hdr_set_fingerprint(struct cell_hdr *hdr, uint64_t fp)
{
	hdr->fingerprint_lo = (uint32_t)fp;
	hdr->fingerprint_hi = (uint32_t)(fp >> 32);
}

#ifdef __cplusplus
}
#endif

#endif /* CELL_WIRE_H */
