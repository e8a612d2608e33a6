// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * The wire header on the MCU: encode, decode and validate exactly as
 * libcell's lib/wire.c does (selftests/mcu/ checks both against
 * selftests/vectors/), and the FNV-1a 64 schema fingerprint.  Bytes are
 * assembled one by one: no unaligned access, any endianness.
 */
#include <stddef.h>
#include <string.h>

#include "cell_mcu.h"

/* The wire layouts this file reads and writes byte by byte. */
#define CELL_MCU_ASSERT(cond, what) typedef char cell_mcu_assert_##what[(cond) ? 1 : -1]
CELL_MCU_ASSERT(sizeof(struct cell_hdr) == CELL_HDR_SIZE, hdr_size);
CELL_MCU_ASSERT(offsetof(struct cell_hdr, version) == 0, hdr_version);
CELL_MCU_ASSERT(offsetof(struct cell_hdr, flags) == 1, hdr_flags);
CELL_MCU_ASSERT(offsetof(struct cell_hdr, method) == 2, hdr_method);
CELL_MCU_ASSERT(offsetof(struct cell_hdr, correlation) == 4, hdr_correlation);
CELL_MCU_ASSERT(offsetof(struct cell_hdr, len) == 8, hdr_len);
CELL_MCU_ASSERT(offsetof(struct cell_hdr, fingerprint_lo) == 12, hdr_fp_lo);
CELL_MCU_ASSERT(offsetof(struct cell_hdr, fingerprint_hi) == 16, hdr_fp_hi);
CELL_MCU_ASSERT(sizeof(struct cell_error) == 8, error_size);
CELL_MCU_ASSERT(offsetof(struct cell_error, status) == 0, error_status);
CELL_MCU_ASSERT(offsetof(struct cell_error, reserved) == 2, error_reserved);
CELL_MCU_ASSERT(offsetof(struct cell_error, detail_len) == 4, error_detail_len);
CELL_MCU_ASSERT(CELL_MCU_E_BAD_ERROR == 10, err_numbers_match_libcell);

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

/*
 * On a little-endian target struct cell_hdr in memory is the wire layout
 * (the asserts above pin every offset): one copy does it.
 */
#ifndef CELL_MCU_LE /* the host tests also build the byte-by-byte path with 0 */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define CELL_MCU_LE 1
#else
#define CELL_MCU_LE 0
#endif
#endif

void cell_mcu_hdr_encode(const struct cell_hdr *hdr, uint8_t *p)
{
	if (CELL_MCU_LE) {
		memcpy(p, hdr, CELL_HDR_SIZE);
		return;
	}
	p[0] = hdr->version;
	p[1] = hdr->flags;
	put_le16(p + 2, hdr->method);
	put_le32(p + 4, hdr->correlation);
	put_le32(p + 8, hdr->len);
	put_le32(p + 12, hdr->fingerprint_lo);
	put_le32(p + 16, hdr->fingerprint_hi);
}

static enum cell_mcu_err check_flags(uint8_t flags)
{
	uint8_t kind = flags & CELL_F_KIND_MASK;
	uint8_t mods = flags & (uint8_t) ~(CELL_F_KIND_MASK | CELL_F_RESERVED);
	uint8_t allowed;

	if (flags & CELL_F_RESERVED)
		return CELL_MCU_E_RESERVED_FLAG;
	if (kind == CELL_F_REQUEST)
		allowed = CELL_F_ONEWAY | CELL_F_MORE;
	else if (kind == CELL_F_RESPONSE)
		allowed = CELL_F_ERROR | CELL_F_LEADER_HINT | CELL_F_MORE;
	else if (kind == CELL_F_CANCEL)
		allowed = 0;
	else
		return CELL_MCU_E_BAD_KIND;
	if (mods & (uint8_t)~allowed)
		return CELL_MCU_E_BAD_FLAGS;
	/* An error ends a message; a leader hint only explains an error. */
	if ((flags & CELL_F_ERROR) && (flags & CELL_F_MORE))
		return CELL_MCU_E_BAD_FLAGS;
	if ((flags & CELL_F_LEADER_HINT) && !(flags & CELL_F_ERROR))
		return CELL_MCU_E_BAD_FLAGS;
	return CELL_MCU_OK;
}

enum cell_mcu_err cell_mcu_hdr_check(const struct cell_hdr *hdr, uint32_t max_payload)
{
	enum cell_mcu_err err;
	int oneway = !!(hdr->flags & CELL_F_ONEWAY);

	if (hdr->version != CELL_WIRE_VERSION)
		return CELL_MCU_E_BAD_VERSION;
	err = check_flags(hdr->flags);
	if (err)
		return err;
	if ((hdr->correlation == 0) != oneway)
		return CELL_MCU_E_BAD_CORRELATION;
	if ((hdr->flags & CELL_F_CANCEL) && hdr->len)
		return CELL_MCU_E_CANCEL_PAYLOAD;
	if (hdr->len > max_payload || hdr->len > CELL_MAX_PAYLOAD)
		return CELL_MCU_E_TOO_LONG;
	return CELL_MCU_OK;
}

enum cell_mcu_err cell_mcu_hdr_decode(const uint8_t *p, size_t n, uint32_t max_payload,
				      struct cell_hdr *hdr)
{
	if (n < CELL_HDR_SIZE)
		return CELL_MCU_E_TRUNCATED;
	if (CELL_MCU_LE) {
		memcpy(hdr, p, CELL_HDR_SIZE);
		return cell_mcu_hdr_check(hdr, max_payload);
	}
	hdr->version = p[0];
	hdr->flags = p[1];
	hdr->method = get_le16(p + 2);
	hdr->correlation = get_le32(p + 4);
	hdr->len = get_le32(p + 8);
	hdr->fingerprint_lo = get_le32(p + 12);
	hdr->fingerprint_hi = get_le32(p + 16);
	return cell_mcu_hdr_check(hdr, max_payload);
}

enum cell_mcu_err cell_mcu_frame_decode(const uint8_t *p, size_t n, uint32_t max_payload,
					struct cell_hdr *hdr)
{
	enum cell_mcu_err err = cell_mcu_hdr_decode(p, n, max_payload, hdr);
	const uint8_t *e = p + CELL_HDR_SIZE;
	uint16_t status;

	if (err)
		return err;
	if (n - CELL_HDR_SIZE != hdr->len)
		return CELL_MCU_E_LENGTH_MISMATCH;
	if (hdr->flags & CELL_F_ERROR) {
		if (hdr->len < sizeof(struct cell_error))
			return CELL_MCU_E_BAD_ERROR;
		status = get_le16(e);
		/* Unknown codes are refused: a peer that invents one is broken. */
		if (status == CELL_STATUS_OK || status >= CELL_STATUS_MAX || get_le16(e + 2) ||
		    get_le32(e + 4) != hdr->len - sizeof(struct cell_error))
			return CELL_MCU_E_BAD_ERROR;
	}
	return CELL_MCU_OK;
}

size_t cell_mcu_error_encode(uint8_t *p, size_t cap, uint16_t status, const char *detail,
			     uint32_t detail_len)
{
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

uint64_t cell_mcu_fingerprint(const void *text, size_t len)
{
	const uint8_t *p = text;
	uint64_t hash = 0xcbf29ce484222325ULL;

	while (len--) {
		hash ^= *p++;
		hash *= 0x100000001b3ULL;
	}
	return hash;
}
