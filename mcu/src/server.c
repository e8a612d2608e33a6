// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Method dispatch over a UART.  The RX interrupt feeds the COBS decoder
 * byte by byte into one of two frame buffers; the main loop serves the
 * other: checks CRC and header, the fingerprint, finds the method,
 * validates the request, runs the handler and writes the response
 * COBS-encoded straight to the UART.  When both buffers hold frames the
 * interrupt masks itself: bytes wait in the UART's FIFO (and the sender
 * waits for the FIFO) instead of being lost.
 */
#include <stddef.h>
#include <string.h>

#include "cell_mcu.h"

#define TX_FRAME(srv)	((srv)->tx + CELL_MCU_FRAME_PAD)
#define TX_PAYLOAD(srv) (TX_FRAME(srv) + CELL_HDR_SIZE)
/* full[] value of a buffer whose frame overflowed it: only its start is there. */
#define CELL_MCU_FULL_OVERFLOW 0xffff

/*
 * Error details are short static texts; CELL_MCU_NO_DETAILS leaves them
 * out (and the error-name table with them) for the smallest build.
 */
#ifdef CELL_MCU_NO_DETAILS
#define DETAIL(text) ((const char *)0)
#else
#define DETAIL(text) (text)
#endif

static void set_fp(struct cell_hdr *hdr, uint64_t fp)
{
	hdr->fingerprint_lo = (uint32_t)fp;
	hdr->fingerprint_hi = (uint32_t)(fp >> 32);
}

void cell_mcu_server_init(struct cell_mcu_server *srv, const struct cell_mcu_uart *uart,
			  uint64_t fingerprint, const struct cell_mcu_method *methods, uint16_t n,
			  void *ctx)
{
	memset(srv, 0, sizeof(*srv));
	srv->uart = uart;
	srv->methods = methods;
	srv->nmethods = n;
	srv->fingerprint = fingerprint;
	srv->ctx = ctx;
	cell_mcu_cobs_rx_init(&srv->rx, srv->buf[0] + CELL_MCU_FRAME_PAD, CELL_MCU_MAX_FRAME);
}

static void rx_irq(struct cell_mcu_server *srv, int on)
{
	if (srv->uart->rx_irq)
		srv->uart->rx_irq(srv->uart->hw, on);
}

void cell_mcu_server_rx_byte(struct cell_mcu_server *srv, uint8_t b)
{
	uint8_t cur = srv->fill, next;
	int n;

	if (cur > 1)
		return; /* stalled: only reached if a board ignores rx_irq(0) */
	n = cell_mcu_cobs_rx_byte(&srv->rx, b);
	if (n == -CELL_MCU_E_OVERFLOW)
		n = CELL_MCU_FULL_OVERFLOW; /* the buffer still holds its header */
	if (n <= 0)
		return; /* more to come, or a bad frame counted in rx.errors */
	srv->full[cur] = (uint16_t)n;
	next = cur ^ 1;
	if (srv->full[next]) {
		srv->fill = 2; /* both full: wait for the loop */
		srv->stats.stalls++;
		rx_irq(srv, 0);
		return;
	}
	srv->fill = next;
	srv->rx.buf = srv->buf[next] + CELL_MCU_FRAME_PAD;
}

/* The frame in TX_FRAME: header, then @len payload bytes already in place. */
static void send_tx(struct cell_mcu_server *srv, struct cell_hdr *hdr, uint32_t len)
{
	uint8_t *f = TX_FRAME(srv), *c = TX_PAYLOAD(srv) + len;
	uint32_t crc;

	hdr->version = CELL_WIRE_VERSION;
	hdr->len = len;
	cell_mcu_hdr_encode(hdr, f);
	crc = cell_mcu_crc32(0, f, CELL_HDR_SIZE + len);
	c[0] = (uint8_t)crc;
	c[1] = (uint8_t)(crc >> 8);
	c[2] = (uint8_t)(crc >> 16);
	c[3] = (uint8_t)(crc >> 24);
	if (srv->tx_frame)
		srv->tx_frame(srv, f, CELL_HDR_SIZE + len + CELL_MCU_CRC_SIZE);
	else
		cell_mcu_cobs_write(f, CELL_HDR_SIZE + len + CELL_MCU_CRC_SIZE, srv->uart->putc,
				    srv->uart->hw);
}

enum cell_mcu_err cell_mcu_server_send(struct cell_mcu_server *srv, struct cell_hdr *hdr,
				       const void *payload, uint32_t len)
{
	if (len > CELL_MCU_MAX_PAYLOAD)
		return CELL_MCU_E_TOO_LONG;
	if (len && payload != TX_PAYLOAD(srv))
		memmove(TX_PAYLOAD(srv), payload, len);
	send_tx(srv, hdr, len);
	return CELL_MCU_OK;
}

static size_t strlen_max(const char *s, size_t max)
{
	size_t n = 0;

	while (n < max && s[n])
		n++;
	return n;
}

/* Answer call @req with @status and a detail text (truncated to fit). */
static void reply_error(struct cell_mcu_server *srv, const struct cell_hdr *req, uint16_t status,
			const char *detail)
{
	struct cell_hdr h = *req;
	uint32_t dlen = detail ? (uint32_t)strlen_max(detail, CELL_MCU_MAX_PAYLOAD - 8) : 0;
	size_t n;

	h.flags = CELL_F_RESPONSE | CELL_F_ERROR;
	set_fp(&h, srv->fingerprint);
	n = cell_mcu_error_encode(TX_PAYLOAD(srv), CELL_MCU_MAX_PAYLOAD, status, detail, dlen);
	if (n)
		send_tx(srv, &h, (uint32_t)n);
}

#ifndef CELL_MCU_NO_DETAILS
/* "mcu fingerprint 0x0123456789abcdef" */
static const char *fp_detail(const struct cell_mcu_server *srv)
{
	static char buf[40];
	static const char hex[] = "0123456789abcdef";
	static const char pre[] = "mcu fingerprint 0x";
	int i;

	memcpy(buf, pre, sizeof(pre) - 1);
	for (i = 0; i < 16; i++)
		buf[sizeof(pre) - 1 + i] = hex[(srv->fingerprint >> (60 - 4 * i)) & 0xf];
	buf[sizeof(pre) - 1 + 16] = 0;
	return buf;
}
#endif

static const struct cell_mcu_method *find(const struct cell_mcu_server *srv, uint16_t id)
{
	uint16_t i;

	for (i = 0; i < srv->nmethods; i++)
		if (srv->methods[i].id == id)
			return &srv->methods[i];
	return NULL;
}

static void serve_request(struct cell_mcu_server *srv, const struct cell_hdr *hdr,
			  const uint8_t *payload)
{
	int oneway = !!(hdr->flags & CELL_F_ONEWAY);
	const struct cell_mcu_method *m;
	struct cell_mcu_call call;
	struct cell_hdr rh;
	enum cell_status st;

	if (cell_mcu_hdr_fingerprint(hdr) != srv->fingerprint) {
		srv->stats.bad_fingerprint++;
		if (!oneway)
			reply_error(srv, hdr, CELL_STATUS_FINGERPRINT_MISMATCH,
				    DETAIL(fp_detail(srv)));
		return;
	}
	if (hdr->flags & CELL_F_MORE) {
		if (!oneway)
			reply_error(srv, hdr, CELL_STATUS_TOO_LARGE,
				    DETAIL("multi-frame messages not supported"));
		return;
	}
	memset(&call, 0, sizeof(call));
	call.method = hdr->method;
	call.flags = hdr->flags;
	call.correlation = hdr->correlation;
	call.req = payload;
	call.req_len = hdr->len;
	call.resp = oneway ? NULL : TX_PAYLOAD(srv);
	call.resp_cap = oneway ? 0 : CELL_MCU_MAX_PAYLOAD;
	if (hdr->method == CELL_METHOD_PING) {
		st = CELL_STATUS_OK;
	} else if (hdr->method == CELL_METHOD_GOODBYE) {
		srv->stats.goodbyes++;
		st = CELL_STATUS_OK;
	} else if (hdr->method == CELL_METHOD_SCHEMA && srv->schema) {
		st = CELL_STATUS_TOO_LARGE;
		if (!oneway && srv->schema_len <= CELL_MCU_MAX_PAYLOAD) {
			memcpy(call.resp, srv->schema, srv->schema_len);
			call.resp_len = srv->schema_len;
			st = CELL_STATUS_OK;
		}
	} else {
		m = find(srv, hdr->method);
		if (!m) {
			srv->stats.unknown_method++;
			st = CELL_STATUS_UNKNOWN_METHOD;
			call.detail = DETAIL("no such method");
		} else if (!(m->flags & CELL_MCU_M_ONEWAY) != !oneway) {
			st = CELL_STATUS_INVALID_ARGUMENT;
			call.detail = oneway ? DETAIL("two-way method called one-way")
					     : DETAIL("one-way method called two-way");
		} else if (m->validate && m->validate(payload, hdr->len, &call.detail)) {
			srv->stats.bad_request++;
			st = CELL_STATUS_BAD_MESSAGE;
		} else {
			srv->stats.calls++;
			call.detail = NULL;
			st = m->fn(&call, srv->ctx);
			if (st == CELL_STATUS_OK && call.resp_len > call.resp_cap) {
				st = CELL_STATUS_INTERNAL;
				call.detail = DETAIL("handler overran the response buffer");
			}
		}
	}
	if (oneway)
		return;
	if (st != CELL_STATUS_OK) {
		reply_error(srv, hdr, (uint16_t)st, call.detail);
		return;
	}
	rh = *hdr;
	rh.flags = CELL_F_RESPONSE;
	set_fp(&rh, srv->fingerprint);
	send_tx(srv, &rh, call.resp_len);
}

void cell_mcu_server_frame(struct cell_mcu_server *srv, const uint8_t *f, size_t n)
{
	struct cell_hdr hdr;
	enum cell_mcu_err err;

	if (n == CELL_MCU_FULL_OVERFLOW) {
		err = CELL_MCU_E_OVERFLOW;
		n = CELL_MCU_MAX_FRAME;
	} else {
		err = cell_mcu_uart_frame_check(f, n, CELL_MCU_MAX_PAYLOAD, &hdr);
	}
	if (err) {
		srv->stats.bad_frames++;
		if (err == CELL_MCU_E_CRC)
			srv->stats.bad_crc++;
		/*
		 * Refuse a broken call if its header still names one: a
		 * two-way request with an id (which the CRC cannot vouch for:
		 * a caller ignores an answer to an id it did not use).
		 */
		if (err == CELL_MCU_E_SHORT ||
		    cell_mcu_hdr_decode(f, n, 0xffffffffU, &hdr) == CELL_MCU_E_BAD_VERSION ||
		    (hdr.flags & (CELL_F_KIND_MASK | CELL_F_ONEWAY)) != CELL_F_REQUEST ||
		    !hdr.correlation)
			return;
		reply_error(srv, &hdr, (uint16_t)cell_mcu_err_status(err),
			    DETAIL(cell_mcu_err_name(err)));
		return;
	}
	srv->stats.frames++;
	if ((hdr.flags & CELL_F_KIND_MASK) == CELL_F_REQUEST)
		serve_request(srv, &hdr, f + CELL_HDR_SIZE);
	/* Responses and CANCELs: the MCU calls no one and runs calls to the end. */
}

int cell_mcu_server_serve(struct cell_mcu_server *srv)
{
	uint8_t i = srv->serve;
	uint16_t n = srv->full[i];

	if (!n)
		return 0;
	cell_mcu_server_frame(srv, srv->buf[i] + CELL_MCU_FRAME_PAD, n);
	srv->serve = i ^ 1;
	srv->full[i] = 0;
	__asm__ __volatile__("" ::: "memory");
	if (srv->fill > 1) {
		/* The interrupt is masked while stalled: nothing races here. */
		srv->rx.buf = srv->buf[i] + CELL_MCU_FRAME_PAD;
		__asm__ __volatile__("" ::: "memory"); /* the buffer before it is announced */
		srv->fill = i;
		rx_irq(srv, 1);
	}
	return 1;
}

int cell_mcu_server_poll(struct cell_mcu_server *srv)
{
	int c, served = 0;

	while ((c = srv->uart->getc(srv->uart->hw)) >= 0) {
		cell_mcu_server_rx_byte(srv, (uint8_t)c);
		served += cell_mcu_server_serve(srv);
	}
	return served;
}
