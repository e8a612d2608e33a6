// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Unit tests of the MCU port on the host: COBS against the paper's
 * examples, CRC-32 check value, the incremental decoder's errors and
 * resynchronisation, and the server over a simulated UART: every answer
 * and refusal the qemu test sees, plus the two-buffer RX stall.
 */
#include <stdlib.h>
#include <string.h>

#include "cell_mcu.h"
#include "sim_uart.h"

#include "kselftest_harness.h"

#define FP 0x0123456789abcdefULL

static void cobs_case(struct __test_metadata *_metadata, const uint8_t *in, size_t n,
		      const uint8_t *want, size_t wn)
{
	uint8_t enc[600], dec[600];
	struct cell_mcu_cobs_rx rx;
	size_t len = cell_mcu_cobs_encode(enc, sizeof(enc), in, n);
	int r = 0;

	ASSERT_EQ(wn, len);
	ASSERT_EQ(0, memcmp(enc, want, wn));
	cell_mcu_cobs_rx_init(&rx, dec, sizeof(dec));
	for (size_t i = 0; i < len; i++)
		ASSERT_EQ(0, cell_mcu_cobs_rx_byte(&rx, enc[i]));
	r = cell_mcu_cobs_rx_byte(&rx, 0);
	if (n == 0) {
		ASSERT_EQ(0, r); /* an empty frame is skipped */
	} else {
		ASSERT_EQ((int)n, r);
		ASSERT_EQ(0, memcmp(dec, in, n));
	}
}

/* The examples of Cheshire and Baker's paper, as Wikipedia lists them. */
TEST(cobs_examples)
{
	uint8_t in[300], want[300];

	cobs_case(_metadata, (const uint8_t[]){ 0x00 }, 1, (const uint8_t[]){ 0x01, 0x01 }, 2);
	cobs_case(_metadata, (const uint8_t[]){ 0x00, 0x00 }, 2,
		  (const uint8_t[]){ 0x01, 0x01, 0x01 }, 3);
	cobs_case(_metadata, (const uint8_t[]){ 0x00, 0x11, 0x00 }, 3,
		  (const uint8_t[]){ 0x01, 0x02, 0x11, 0x01 }, 4);
	cobs_case(_metadata, (const uint8_t[]){ 0x11, 0x22, 0x00, 0x33 }, 4,
		  (const uint8_t[]){ 0x03, 0x11, 0x22, 0x02, 0x33 }, 5);
	cobs_case(_metadata, (const uint8_t[]){ 0x11, 0x22, 0x33, 0x44 }, 4,
		  (const uint8_t[]){ 0x05, 0x11, 0x22, 0x33, 0x44 }, 5);
	cobs_case(_metadata, (const uint8_t[]){ 0x11, 0x00, 0x00, 0x00 }, 4,
		  (const uint8_t[]){ 0x02, 0x11, 0x01, 0x01, 0x01 }, 5);
	cobs_case(_metadata, NULL, 0, (const uint8_t[]){ 0x01 }, 1);
	/* 01..fe: one full block, no trailing code. */
	for (int i = 0; i < 254; i++)
		in[i] = want[i + 1] = (uint8_t)(i + 1);
	want[0] = 0xff;
	cobs_case(_metadata, in, 254, want, 255);
	/* 00 01..fe */
	in[0] = 0;
	for (int i = 0; i < 254; i++)
		in[i + 1] = want[i + 2] = (uint8_t)(i + 1);
	want[0] = 0x01;
	want[1] = 0xff;
	cobs_case(_metadata, in, 255, want, 256);
	/* 01..ff */
	for (int i = 0; i < 255; i++)
		in[i] = (uint8_t)(i + 1);
	want[0] = 0xff;
	for (int i = 0; i < 254; i++)
		want[i + 1] = (uint8_t)(i + 1);
	want[255] = 0x02;
	want[256] = 0xff;
	cobs_case(_metadata, in, 255, want, 257);
	/* 02..ff 00 */
	for (int i = 0; i < 254; i++)
		in[i] = want[i + 1] = (uint8_t)(i + 2);
	in[254] = 0;
	want[0] = 0xff;
	want[255] = 0x01;
	want[256] = 0x01;
	cobs_case(_metadata, in, 255, want, 257);
	/* 03..ff 00 01 */
	for (int i = 0; i < 253; i++)
		in[i] = want[i + 1] = (uint8_t)(i + 3);
	in[253] = 0;
	in[254] = 1;
	want[0] = 0xfe;
	want[254] = 0x02;
	want[255] = 0x01;
	cobs_case(_metadata, in, 255, want, 256);
}

TEST(cobs_encode_too_small)
{
	uint8_t in[10] = { 1, 2, 0, 3 }, out[16];

	ASSERT_EQ(11, cell_mcu_cobs_encode(out, sizeof(out), in, sizeof(in)));
	for (size_t cap = 0; cap < 11; cap++)
		ASSERT_EQ(0, cell_mcu_cobs_encode(out, cap, in, sizeof(in)));
}

TEST(crc32_check_value)
{
	ASSERT_EQ(0xcbf43926U, cell_mcu_crc32(0, "123456789", 9));
	/* Continued in two pieces gives the same. */
	ASSERT_EQ(0xcbf43926U, cell_mcu_crc32(cell_mcu_crc32(0, "1234", 4), "56789", 5));
	ASSERT_EQ(0U, cell_mcu_crc32(0, "", 0));
}

TEST(decoder_errors_and_resync)
{
	uint8_t buf[8];
	struct cell_mcu_cobs_rx rx;

	cell_mcu_cobs_rx_init(&rx, buf, sizeof(buf));
	/* Repeated delimiters are empty frames: skipped. */
	ASSERT_EQ(0, cell_mcu_cobs_rx_byte(&rx, 0));
	ASSERT_EQ(0, cell_mcu_cobs_rx_byte(&rx, 0));
	/* A block announcing 4 bytes, cut after 2. */
	ASSERT_EQ(0, cell_mcu_cobs_rx_byte(&rx, 5));
	ASSERT_EQ(0, cell_mcu_cobs_rx_byte(&rx, 'a'));
	ASSERT_EQ(0, cell_mcu_cobs_rx_byte(&rx, 'b'));
	ASSERT_EQ(-CELL_MCU_E_COBS, cell_mcu_cobs_rx_byte(&rx, 0));
	/* Too long for the buffer: refused once, the rest skipped. */
	ASSERT_EQ(0, cell_mcu_cobs_rx_byte(&rx, 0xff));
	for (int i = 0; i < 8; i++)
		ASSERT_EQ(0, cell_mcu_cobs_rx_byte(&rx, 'x'));
	ASSERT_EQ(-CELL_MCU_E_OVERFLOW, cell_mcu_cobs_rx_byte(&rx, 'x'));
	for (int i = 0; i < 100; i++)
		ASSERT_EQ(0, cell_mcu_cobs_rx_byte(&rx, 'y'));
	ASSERT_EQ(0, cell_mcu_cobs_rx_byte(&rx, 0));
	/* An implied zero that no longer fits also overflows. */
	ASSERT_EQ(0, cell_mcu_cobs_rx_byte(&rx, 9));
	for (int i = 0; i < 8; i++)
		ASSERT_EQ(0, cell_mcu_cobs_rx_byte(&rx, 'z'));
	ASSERT_EQ(-CELL_MCU_E_OVERFLOW, cell_mcu_cobs_rx_byte(&rx, 1));
	ASSERT_EQ(0, cell_mcu_cobs_rx_byte(&rx, 0));
	/* Then a good frame decodes. */
	ASSERT_EQ(0, cell_mcu_cobs_rx_byte(&rx, 3));
	ASSERT_EQ(0, cell_mcu_cobs_rx_byte(&rx, 'o'));
	ASSERT_EQ(0, cell_mcu_cobs_rx_byte(&rx, 'k'));
	ASSERT_EQ(0, cell_mcu_cobs_rx_byte(&rx, 1));
	ASSERT_EQ(3, cell_mcu_cobs_rx_byte(&rx, 0));
	ASSERT_EQ(0, memcmp(buf, "ok\0", 3));
	ASSERT_EQ(1U, rx.frames);
	ASSERT_EQ(3U, rx.errors);
}

/* ---- the server over a simulated UART ---------------------------------- */

struct pair {
	int32_t a, b;
};

static int validate_pair(const void *buf, uint32_t len, const char **why)
{
	if (len != sizeof(struct pair)) {
		*why = "pair: wrong size";
		return -1;
	}
	return 0;
}

static enum cell_status do_add(struct cell_mcu_call *call, void *ctx)
{
	const struct pair *p = call->req;
	int32_t sum = p->a + p->b;

	(void)ctx;
	if (p->a == 99) {
		call->detail = "a may not be 99";
		return CELL_STATUS_INVALID_ARGUMENT;
	}
	memcpy(call->resp, &sum, 4);
	call->resp_len = 4;
	return CELL_STATUS_OK;
}

static enum cell_status do_echo(struct cell_mcu_call *call, void *ctx)
{
	(void)ctx;
	memcpy(call->resp, call->req, call->req_len);
	call->resp_len = call->req_len;
	return CELL_STATUS_OK;
}

static int notes;

static enum cell_status do_note(struct cell_mcu_call *call, void *ctx)
{
	(void)ctx;
	notes += (int)call->req_len;
	return CELL_STATUS_OK;
}

static const struct cell_mcu_method methods[] = {
	{ 1, 0, validate_pair, do_add },
	{ 2, 0, NULL, do_echo },
	{ 3, CELL_MCU_M_ONEWAY, NULL, do_note },
};

struct answer {
	struct cell_hdr hdr;
	uint8_t payload[CELL_MCU_MAX_PAYLOAD + 8];
	uint16_t status;
	char detail[CELL_MCU_MAX_PAYLOAD];
};

FIXTURE(srv)
{
	struct sim_uart *u;
	struct cell_mcu_server *s;
	size_t rd; /* TX bytes already read back */
};

FIXTURE_SETUP(srv)
{
	self->u = calloc(1, sizeof(*self->u));
	self->s = calloc(1, sizeof(*self->s));
	ASSERT_NE(NULL, self->u);
	ASSERT_NE(NULL, self->s);
	sim_init(self->u);
	cell_mcu_server_init(self->s, &self->u->ops, FP, methods, 3, NULL);
	self->s->schema = "schema t;\n";
	self->s->schema_len = 10;
	self->rd = 0;
	notes = 0;
}

FIXTURE_TEARDOWN(srv)
{
	free(self->u);
	free(self->s);
}

static void feed(struct cell_mcu_server *s, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		cell_mcu_server_rx_byte(s, b[i]);
}

static void call(struct cell_mcu_server *s, uint8_t flags, uint16_t method, uint32_t corr,
		 uint64_t fp, const void *p, uint32_t len)
{
	static uint8_t enc[4096];
	size_t n = sim_frame(enc, sizeof(enc), flags, method, corr, fp, p, len);

	feed(s, enc, n);
	while (cell_mcu_server_serve(s))
		;
}

/* The next answer on the TX side, checked as libcell would: 1, or 0 if none. */
static int next_answer(FIXTURE_DATA(srv) * self, struct answer *a)
{
	static uint8_t dec[CELL_MCU_MAX_FRAME];
	struct cell_mcu_cobs_rx rx;
	int r;

	cell_mcu_cobs_rx_init(&rx, dec, sizeof(dec));
	while (self->rd < self->u->tx_len) {
		r = cell_mcu_cobs_rx_byte(&rx, self->u->tx[self->rd++]);
		if (r < 0)
			return -1;
		if (r == 0)
			continue;
		if (cell_mcu_uart_frame_check(dec, (size_t)r, CELL_MCU_MAX_PAYLOAD, &a->hdr))
			return -1;
		memcpy(a->payload, dec + CELL_HDR_SIZE, a->hdr.len);
		a->status = 0;
		a->detail[0] = 0;
		if (a->hdr.flags & CELL_F_ERROR) {
			uint32_t dlen = (uint32_t)a->payload[4] | (uint32_t)a->payload[5] << 8;

			a->status = (uint16_t)(a->payload[0] | a->payload[1] << 8);
			memcpy(a->detail, a->payload + 8, dlen);
			a->detail[dlen] = 0;
		}
		return 1;
	}
	return 0;
}

TEST_F(srv, add_and_errors)
{
	struct pair p = { 2, 3 }, bad = { 99, 1 };
	struct answer a;
	int32_t sum;

	call(self->s, CELL_F_REQUEST, 1, 7, FP, &p, sizeof(p));
	ASSERT_EQ(1, next_answer(self, &a));
	ASSERT_EQ(CELL_F_RESPONSE, a.hdr.flags);
	ASSERT_EQ(7U, a.hdr.correlation);
	ASSERT_EQ(1, a.hdr.method);
	ASSERT_EQ(FP, cell_mcu_hdr_fingerprint(&a.hdr));
	ASSERT_EQ(4U, a.hdr.len);
	memcpy(&sum, a.payload, 4);
	ASSERT_EQ(5, sum);

	/* The handler's own refusal, with its detail. */
	call(self->s, CELL_F_REQUEST, 1, 8, FP, &bad, sizeof(bad));
	ASSERT_EQ(1, next_answer(self, &a));
	ASSERT_EQ(CELL_F_RESPONSE | CELL_F_ERROR, a.hdr.flags);
	ASSERT_EQ(CELL_STATUS_INVALID_ARGUMENT, a.status);
	ASSERT_STREQ("a may not be 99", a.detail);

	/* The validator's refusal: the handler does not run. */
	call(self->s, CELL_F_REQUEST, 1, 9, FP, &p, 4);
	ASSERT_EQ(1, next_answer(self, &a));
	ASSERT_EQ(CELL_STATUS_BAD_MESSAGE, a.status);
	ASSERT_STREQ("pair: wrong size", a.detail);
	ASSERT_EQ(1U, self->s->stats.bad_request);

	call(self->s, CELL_F_REQUEST, 42, 10, FP, &p, sizeof(p));
	ASSERT_EQ(1, next_answer(self, &a));
	ASSERT_EQ(CELL_STATUS_UNKNOWN_METHOD, a.status);
	ASSERT_EQ(10U, a.hdr.correlation);

	call(self->s, CELL_F_REQUEST, 1, 11, FP ^ 1, &p, sizeof(p));
	ASSERT_EQ(1, next_answer(self, &a));
	ASSERT_EQ(CELL_STATUS_FINGERPRINT_MISMATCH, a.status);
	ASSERT_STREQ("mcu fingerprint 0x0123456789abcdef", a.detail);
	ASSERT_EQ(FP, cell_mcu_hdr_fingerprint(&a.hdr));

	/* One-way method called two-way, and the other way round. */
	call(self->s, CELL_F_REQUEST, 3, 12, FP, "abc", 3);
	ASSERT_EQ(1, next_answer(self, &a));
	ASSERT_EQ(CELL_STATUS_INVALID_ARGUMENT, a.status);
	call(self->s, CELL_F_REQUEST | CELL_F_ONEWAY, 2, 0, FP, "abc", 3);
	call(self->s, CELL_F_REQUEST | CELL_F_ONEWAY, 3, 0, FP, "abcd", 4);
	ASSERT_EQ(0, next_answer(self, &a));
	ASSERT_EQ(4, notes);

	/* Control methods. */
	call(self->s, CELL_F_REQUEST, CELL_METHOD_PING, 13, FP, NULL, 0);
	ASSERT_EQ(1, next_answer(self, &a));
	ASSERT_EQ(CELL_F_RESPONSE, a.hdr.flags);
	ASSERT_EQ(0U, a.hdr.len);
	call(self->s, CELL_F_REQUEST, CELL_METHOD_SCHEMA, 14, FP, NULL, 0);
	ASSERT_EQ(1, next_answer(self, &a));
	ASSERT_EQ(10U, a.hdr.len);
	ASSERT_EQ(0, memcmp(a.payload, "schema t;\n", 10));
	call(self->s, CELL_F_REQUEST | CELL_F_MORE, 2, 15, FP, "x", 1);
	ASSERT_EQ(1, next_answer(self, &a));
	ASSERT_EQ(CELL_STATUS_TOO_LARGE, a.status);

	/* Responses and cancels are not answered. */
	call(self->s, CELL_F_RESPONSE, 1, 16, FP, NULL, 0);
	call(self->s, CELL_F_CANCEL, 1, 16, FP, NULL, 0);
	ASSERT_EQ(0, next_answer(self, &a));
}

TEST_F(srv, broken_frames)
{
	uint8_t enc[1024], big[CELL_MCU_MAX_PAYLOAD + 1];
	struct pair p = { 2, 3 };
	struct answer a;
	size_t n;

	/* A flipped payload bit: CRC refused, answered if the header names a call. */
	sim_crc_xor = 0x00010000;
	n = sim_frame(enc, sizeof(enc), CELL_F_REQUEST, 1, 20, FP, &p, sizeof(p));
	feed(self->s, enc, n);
	ASSERT_EQ(1, cell_mcu_server_serve(self->s));
	ASSERT_EQ(1, next_answer(self, &a));
	ASSERT_EQ(20U, a.hdr.correlation);
	ASSERT_EQ(CELL_STATUS_BAD_MESSAGE, a.status);
	ASSERT_STREQ("crc", a.detail);
	ASSERT_EQ(1U, self->s->stats.bad_crc);

	/*
	 * A frame cut short (a delimiter instead of its 11th byte): dropped
	 * and counted, by the decoder (cut inside a block) or the frame check
	 * (too short for a header and a CRC); never answered.
	 */
	n = sim_frame(enc, sizeof(enc), CELL_F_REQUEST, 1, 21, FP, &p, sizeof(p));
	enc[10] = 0;
	feed(self->s, enc, 11);
	cell_mcu_server_serve(self->s);
	ASSERT_EQ(0, next_answer(self, &a));
	ASSERT_EQ(2U, self->s->rx.errors + self->s->stats.bad_frames);
	memset(enc, 0, sizeof(enc));

	/* A header promising more than is there: CRC fine, length refused. */
	{
		uint8_t f[CELL_HDR_SIZE + 8 + 4];
		struct cell_hdr h = { CELL_WIRE_VERSION, CELL_F_REQUEST,      1, 22, 16,
				      (uint32_t)FP,	 (uint32_t)(FP >> 32) };
		uint32_t crc;

		cell_mcu_hdr_encode(&h, f);
		memcpy(f + CELL_HDR_SIZE, &p, 8);
		crc = cell_mcu_crc32(0, f, CELL_HDR_SIZE + 8);
		memcpy(f + CELL_HDR_SIZE + 8, &crc, 4);
		n = cell_mcu_cobs_encode(enc, sizeof(enc), f, sizeof(f));
		enc[n++] = 0;
		feed(self->s, enc, n);
		ASSERT_EQ(1, cell_mcu_server_serve(self->s));
		ASSERT_EQ(1, next_answer(self, &a));
		ASSERT_EQ(22U, a.hdr.correlation);
		ASSERT_EQ(CELL_STATUS_BAD_MESSAGE, a.status);
		ASSERT_STREQ("length_mismatch", a.detail);
	}

	/* Larger than the board's buffer: TOO_LARGE from the header kept. */
	memset(big, 0x5a, sizeof(big));
	n = sim_frame(enc, sizeof(enc), CELL_F_REQUEST, 2, 23, FP, big, sizeof(big));
	feed(self->s, enc, n);
	ASSERT_EQ(1, cell_mcu_server_serve(self->s));
	ASSERT_EQ(1, next_answer(self, &a));
	ASSERT_EQ(23U, a.hdr.correlation);
	ASSERT_EQ(CELL_STATUS_TOO_LARGE, a.status);

	/* Garbage without delimiter, then one: then calls work again. */
	for (int i = 1; i < 200; i++)
		cell_mcu_server_rx_byte(self->s, (uint8_t)i);
	cell_mcu_server_rx_byte(self->s, 0);
	while (cell_mcu_server_serve(self->s))
		;
	while (next_answer(self, &a) == 1)
		;
	call(self->s, CELL_F_REQUEST, 1, 24, FP, &p, sizeof(p));
	ASSERT_EQ(1, next_answer(self, &a));
	ASSERT_EQ(24U, a.hdr.correlation);
	ASSERT_EQ(0, a.status);
}

/* Three frames arrive before the loop serves: the interrupt masks itself. */
TEST_F(srv, stall_when_both_buffers_full)
{
	uint8_t enc[3][512];
	size_t n[3];
	struct answer a;
	int32_t sum;

	for (int i = 0; i < 3; i++) {
		struct pair p = { i, 100 };

		n[i] = sim_frame(enc[i], sizeof(enc[i]), CELL_F_REQUEST, 1, 30 + i, FP, &p,
				 sizeof(p));
	}
	feed(self->s, enc[0], n[0]);
	ASSERT_EQ(1, self->u->irq_on);
	feed(self->s, enc[1], n[1]);
	ASSERT_EQ(0, self->u->irq_on); /* both buffers full */
	ASSERT_EQ(1U, self->s->stats.stalls);
	/* The loop serves the first; the interrupt comes back. */
	ASSERT_EQ(1, cell_mcu_server_serve(self->s));
	ASSERT_EQ(1, self->u->irq_on);
	feed(self->s, enc[2], n[2]);
	ASSERT_EQ(0, self->u->irq_on);
	ASSERT_EQ(1, cell_mcu_server_serve(self->s));
	ASSERT_EQ(1, cell_mcu_server_serve(self->s));
	ASSERT_EQ(0, cell_mcu_server_serve(self->s));
	ASSERT_EQ(1, self->u->irq_on);
	for (int i = 0; i < 3; i++) {
		ASSERT_EQ(1, next_answer(self, &a));
		ASSERT_EQ(30U + i, a.hdr.correlation); /* in order */
		memcpy(&sum, a.payload, 4);
		ASSERT_EQ(100 + i, sum);
	}
}

/* Polled mode: getc drains a queue; frames are served as they complete. */
static const uint8_t *poll_src;
static size_t poll_len, poll_pos;

static int poll_getc(void *hw)
{
	(void)hw;
	return poll_pos < poll_len ? poll_src[poll_pos++] : -1;
}

TEST_F(srv, polled)
{
	static uint8_t enc[8 * 64];
	struct answer a;
	size_t n = 0;

	for (int i = 0; i < 8; i++) {
		struct pair p = { i, i };

		n += sim_frame(enc + n, sizeof(enc) - n, CELL_F_REQUEST, 1, 40 + i, FP, &p,
			       sizeof(p));
	}
	self->u->ops.getc = poll_getc;
	self->u->ops.rx_irq = NULL;
	poll_src = enc;
	poll_len = n;
	poll_pos = 0;
	ASSERT_EQ(8, cell_mcu_server_poll(self->s));
	for (int i = 0; i < 8; i++) {
		ASSERT_EQ(1, next_answer(self, &a));
		ASSERT_EQ(40U + i, a.hdr.correlation);
	}
	ASSERT_EQ(0U, self->s->stats.stalls);
}

TEST_HARNESS_MAIN
