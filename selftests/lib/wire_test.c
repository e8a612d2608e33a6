// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Unit tests of the wire layer (lib/wire.c): every validation rule, one
 * test each, plus round trips and the error payload.
 */
#include <string.h>

#include <cell/wire.h>

#include "kselftest_harness.h"

static struct cell_hdr request(void)
{
	struct cell_hdr hdr = {
		.version = CELL_WIRE_VERSION,
		.flags = CELL_F_REQUEST,
		.method = 1,
		.correlation = 7,
		.len = 8,
	};

	cell_hdr_set_fingerprint(&hdr, 0x0123456789abcdefULL);
	return hdr;
}

static enum cell_wire_error check(struct cell_hdr hdr)
{
	uint8_t buf[CELL_HDR_SIZE];
	struct cell_hdr out;

	cell_hdr_encode(&hdr, buf);
	return cell_hdr_decode(buf, sizeof(buf), 65536, &out);
}

TEST(layout)
{
	struct cell_hdr hdr = request();
	uint8_t buf[CELL_HDR_SIZE];
	static const uint8_t want[CELL_HDR_SIZE] = { 0x01, 0x01, 0x01, 0x00, 0x07, 0x00, 0x00,
						     0x00, 0x08, 0x00, 0x00, 0x00, 0xef, 0xcd,
						     0xab, 0x89, 0x67, 0x45, 0x23, 0x01 };

	ASSERT_EQ(20, sizeof(struct cell_hdr));
	ASSERT_EQ(8, sizeof(struct cell_error));
	ASSERT_EQ(48, sizeof(struct cell_hello));
	ASSERT_EQ(256, sizeof(struct cell_pheromone));
	cell_hdr_encode(&hdr, buf);
	ASSERT_EQ(0, memcmp(buf, want, sizeof(want)));
}

TEST(round_trip_every_valid_flag_combination)
{
	int valid = 0;

	for (int flags = 0; flags < 256; flags++) {
		struct cell_hdr hdr = request(), out;
		uint8_t buf[CELL_HDR_SIZE];

		hdr.flags = (uint8_t)flags;
		hdr.correlation = (flags & CELL_F_ONEWAY) ? 0 : 9;
		hdr.len = (flags & CELL_F_CANCEL) ? 0 : 8;
		cell_hdr_encode(&hdr, buf);
		if (cell_hdr_decode(buf, sizeof(buf), 65536, &out))
			continue;
		valid++;
		EXPECT_EQ(0, memcmp(&hdr, &out, sizeof(hdr)));
	}
	/*
	 * request: {-, ONEWAY, MORE, ONEWAY|MORE} = 4; response: {-, MORE,
	 * ERROR, ERROR|HINT} = 4; cancel: 1.
	 */
	ASSERT_EQ(9, valid);
}

TEST(truncated)
{
	uint8_t buf[CELL_HDR_SIZE] = { 0 };
	struct cell_hdr out;

	for (size_t n = 0; n < CELL_HDR_SIZE; n++)
		EXPECT_EQ(CELL_WIRE_TRUNCATED, cell_hdr_decode(buf, n, 65536, &out));
}

TEST(version)
{
	struct cell_hdr hdr = request();

	for (int v = 0; v < 256; v++) {
		hdr.version = (uint8_t)v;
		EXPECT_EQ(v == CELL_WIRE_VERSION ? CELL_WIRE_OK : CELL_WIRE_BAD_VERSION,
			  check(hdr));
	}
}

TEST(reserved_flag_wins_over_other_faults)
{
	struct cell_hdr hdr = request();

	hdr.flags = CELL_F_RESERVED | CELL_F_REQUEST | CELL_F_RESPONSE;
	EXPECT_EQ(CELL_WIRE_RESERVED_FLAG, check(hdr));
}

TEST(kind)
{
	struct cell_hdr hdr = request();

	hdr.flags = 0;
	EXPECT_EQ(CELL_WIRE_BAD_KIND, check(hdr));
	hdr.flags = CELL_F_ERROR;
	EXPECT_EQ(CELL_WIRE_BAD_KIND, check(hdr));
	hdr.flags = CELL_F_REQUEST | CELL_F_CANCEL;
	EXPECT_EQ(CELL_WIRE_BAD_KIND, check(hdr));
	hdr.flags = CELL_F_KIND_MASK;
	EXPECT_EQ(CELL_WIRE_BAD_KIND, check(hdr));
}

TEST(modifiers)
{
	struct cell_hdr hdr = request();

	hdr.flags = CELL_F_REQUEST | CELL_F_ERROR;
	EXPECT_EQ(CELL_WIRE_BAD_FLAGS, check(hdr));
	hdr.flags = CELL_F_REQUEST | CELL_F_LEADER_HINT;
	EXPECT_EQ(CELL_WIRE_BAD_FLAGS, check(hdr));
	hdr.flags = CELL_F_RESPONSE | CELL_F_ONEWAY;
	EXPECT_EQ(CELL_WIRE_BAD_FLAGS, check(hdr));
	hdr.flags = CELL_F_RESPONSE | CELL_F_ERROR | CELL_F_MORE;
	EXPECT_EQ(CELL_WIRE_BAD_FLAGS, check(hdr));
	hdr.flags = CELL_F_RESPONSE | CELL_F_LEADER_HINT;
	EXPECT_EQ(CELL_WIRE_BAD_FLAGS, check(hdr));
	hdr.len = 0;
	hdr.flags = CELL_F_CANCEL | CELL_F_MORE;
	EXPECT_EQ(CELL_WIRE_BAD_FLAGS, check(hdr));
}

TEST(correlation)
{
	struct cell_hdr hdr = request();

	hdr.correlation = 0;
	EXPECT_EQ(CELL_WIRE_BAD_CORRELATION, check(hdr));
	hdr.flags = CELL_F_REQUEST | CELL_F_ONEWAY;
	EXPECT_EQ(CELL_WIRE_OK, check(hdr));
	hdr.correlation = 1;
	EXPECT_EQ(CELL_WIRE_BAD_CORRELATION, check(hdr));
	hdr.flags = CELL_F_RESPONSE;
	hdr.correlation = 0;
	EXPECT_EQ(CELL_WIRE_BAD_CORRELATION, check(hdr));
}

TEST(length_bounds)
{
	struct cell_hdr hdr = request(), out;
	uint8_t buf[CELL_HDR_SIZE];

	hdr.len = 65536;
	EXPECT_EQ(CELL_WIRE_OK, check(hdr));
	hdr.len = 65537;
	EXPECT_EQ(CELL_WIRE_TOO_LONG, check(hdr));
	/* The receiver's limit can never exceed the wire's. */
	hdr.len = CELL_MAX_PAYLOAD + 1;
	cell_hdr_encode(&hdr, buf);
	EXPECT_EQ(CELL_WIRE_TOO_LONG, cell_hdr_decode(buf, sizeof(buf), UINT32_MAX, &out));
	hdr.len = CELL_MAX_PAYLOAD;
	cell_hdr_encode(&hdr, buf);
	EXPECT_EQ(CELL_WIRE_OK, cell_hdr_decode(buf, sizeof(buf), UINT32_MAX, &out));
	hdr.flags = CELL_F_CANCEL;
	hdr.len = 1;
	EXPECT_EQ(CELL_WIRE_CANCEL_PAYLOAD, check(hdr));
}

TEST(frame_length_must_match)
{
	struct cell_hdr hdr = request(), out;
	uint8_t buf[CELL_HDR_SIZE + 9] = { 0 };
	const void *payload = NULL;

	cell_hdr_encode(&hdr, buf);
	EXPECT_EQ(CELL_WIRE_OK, cell_frame_decode(buf, CELL_HDR_SIZE + 8, 65536, &out, &payload));
	EXPECT_EQ(buf + CELL_HDR_SIZE, payload);
	EXPECT_EQ(CELL_WIRE_LENGTH_MISMATCH,
		  cell_frame_decode(buf, CELL_HDR_SIZE + 7, 65536, &out, &payload));
	EXPECT_EQ(CELL_WIRE_LENGTH_MISMATCH,
		  cell_frame_decode(buf, CELL_HDR_SIZE + 9, 65536, &out, &payload));
}

TEST(error_payload)
{
	uint8_t buf[64];
	const char *detail;
	uint32_t detail_len;
	uint16_t status;
	size_t n;

	n = cell_error_encode(buf, sizeof(buf), CELL_STATUS_NOT_LEADER, "node-2", 6);
	ASSERT_EQ(14, n);
	ASSERT_EQ(CELL_WIRE_OK, cell_error_decode(buf, n, &status, &detail, &detail_len));
	EXPECT_EQ(CELL_STATUS_NOT_LEADER, status);
	EXPECT_EQ(6, detail_len);
	EXPECT_EQ(0, memcmp(detail, "node-2", 6));
	/* No room, status OK, unknown status: nothing written. */
	EXPECT_EQ(0, cell_error_encode(buf, 13, CELL_STATUS_NOT_LEADER, "node-2", 6));
	EXPECT_EQ(0, cell_error_encode(buf, sizeof(buf), CELL_STATUS_OK, NULL, 0));
	EXPECT_EQ(0, cell_error_encode(buf, sizeof(buf), CELL_STATUS_MAX, NULL, 0));
	/* Every shorter or longer payload is refused. */
	for (size_t len = 0; len < n; len++)
		EXPECT_EQ(CELL_WIRE_BAD_ERROR,
			  cell_error_decode(buf, len, &status, &detail, &detail_len));
	EXPECT_EQ(CELL_WIRE_BAD_ERROR,
		  cell_error_decode(buf, n + 1, &status, &detail, &detail_len));
	buf[2] = 1; /* reserved */
	EXPECT_EQ(CELL_WIRE_BAD_ERROR, cell_error_decode(buf, n, &status, &detail, &detail_len));
}

TEST(names_cover_every_code)
{
	for (int e = 0; e < CELL_WIRE_ERROR_MAX; e++) {
		EXPECT_NE(NULL, cell_wire_error_name(e));
		EXPECT_STRNE("unknown", cell_wire_error_name(e));
		EXPECT_STRNE("unknown wire error", cell_wire_strerror(e));
	}
	EXPECT_STREQ("unknown", cell_wire_error_name(CELL_WIRE_ERROR_MAX));
	for (int s = 0; s < CELL_STATUS_MAX; s++)
		EXPECT_STRNE("UNKNOWN_STATUS", cell_status_name(s));
	EXPECT_STREQ("FINGERPRINT_MISMATCH", cell_status_name(CELL_STATUS_FINGERPRINT_MISMATCH));
	EXPECT_STREQ("UNKNOWN_STATUS", cell_status_name(CELL_STATUS_MAX));
	EXPECT_EQ(CELL_STATUS_UNSUPPORTED_VERSION, cell_wire_error_status(CELL_WIRE_BAD_VERSION));
	EXPECT_EQ(CELL_STATUS_TOO_LARGE, cell_wire_error_status(CELL_WIRE_TOO_LONG));
}

TEST(fingerprint)
{
	struct cell_hdr hdr = { 0 };

	EXPECT_EQ(0xcbf29ce484222325ULL, cell_fingerprint("", 0));
	EXPECT_EQ(0x85944171f73967e8ULL, cell_fingerprint("foobar", 6));
	cell_hdr_set_fingerprint(&hdr, 0x0123456789abcdefULL);
	EXPECT_EQ(0x89abcdefU, hdr.fingerprint_lo);
	EXPECT_EQ(0x01234567U, hdr.fingerprint_hi);
	EXPECT_EQ(0x0123456789abcdefULL, cell_hdr_fingerprint(&hdr));
}

TEST_HARNESS_MAIN
