// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * libFuzzer target: arbitrary UART bytes into the MCU port's RX path.
 *
 * The bytes go (1) through a bare COBS decoder whose buffer is a heap
 * block of exactly its capacity (ASan sees any write past it), checking
 * every frame it completes, and (2) into a server over a simulated UART,
 * served after every byte.  Every byte the server sends must be a
 * well-formed COBS frame whose CRC and header libcell accepts, answering
 * a request.  Then a delimiter and a PING must be answered: the decoder
 * resynchronises after any garbage.  Memory is bounded by the structures'
 * fixed sizes: nothing here grows with the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cell/wire.h>
#include "cell_mcu.h"
#include "sim_uart.h"

#define FP 0x0123456789abcdefULL

static enum cell_status echo(struct cell_mcu_call *call, void *ctx)
{
	(void)ctx;
	memcpy(call->resp, call->req, call->req_len);
	call->resp_len = call->req_len;
	return CELL_STATUS_OK;
}

static enum cell_status note(struct cell_mcu_call *call, void *ctx)
{
	(void)ctx;
	if (call->resp || call->resp_cap)
		abort(); /* one-way calls get no response buffer */
	return CELL_STATUS_OK;
}

static int small(const void *buf, uint32_t len, const char **why)
{
	(void)buf;
	*why = "too long";
	return len > 16;
}

static const struct cell_mcu_method methods[] = {
	{ 1, 0, small, echo },
	{ 2, 0, NULL, echo },
	{ 3, CELL_MCU_M_ONEWAY, NULL, note },
};

static struct sim_uart uart;
static struct cell_mcu_server srv;

/* Check every frame the server sent; return how many answered @corr. */
static int check_tx(uint32_t corr)
{
	static uint8_t dec[CELL_MCU_MAX_FRAME];
	struct cell_mcu_cobs_rx rx;
	struct cell_hdr hdr;
	const void *payload;
	int found = 0;

	cell_mcu_cobs_rx_init(&rx, dec, sizeof(dec));
	for (size_t i = 0; i < uart.tx_len; i++) {
		int r = cell_mcu_cobs_rx_byte(&rx, uart.tx[i]);

		if (r < 0)
			abort();
		if (r == 0)
			continue;
		if (cell_mcu_uart_frame_check(dec, (size_t)r, CELL_MCU_MAX_PAYLOAD, &hdr))
			abort();
		if (cell_frame_decode(dec, (size_t)r - 4, CELL_MCU_MAX_PAYLOAD, &hdr, &payload))
			abort();
		if (!(hdr.flags & CELL_F_RESPONSE) || cell_mcu_hdr_fingerprint(&hdr) != FP)
			abort();
		if (hdr.correlation == corr)
			found++;
	}
	if (uart.tx_len && uart.tx[uart.tx_len - 1] != 0)
		abort(); /* every frame sent ends with its delimiter */
	return found;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf = malloc(64), ping[64];
	struct cell_mcu_cobs_rx rx;
	struct cell_hdr hdr;
	size_t n;

	if (!buf)
		return 0;
	cell_mcu_cobs_rx_init(&rx, buf, 64);
	for (size_t i = 0; i < size; i++) {
		int r = cell_mcu_cobs_rx_byte(&rx, data[i]);

		if (r > 64 || r < -(int)CELL_MCU_E_MAX)
			abort();
		if (r > 0) {
			if (data[i] != 0)
				abort(); /* only a delimiter ends a frame */
			(void)cell_mcu_uart_frame_check(buf, (size_t)r, 65536, &hdr);
		}
	}
	free(buf);

	sim_init(&uart);
	cell_mcu_server_init(&srv, &uart.ops, FP, methods, 3, NULL);
	for (size_t i = 0; i < size; i++) {
		cell_mcu_server_rx_byte(&srv, data[i]);
		while (cell_mcu_server_serve(&srv))
			;
	}
	if (srv.fill > 1 || !uart.irq_on)
		abort(); /* served after every byte: never stalled */
	n = sim_frame(ping, sizeof(ping), CELL_F_REQUEST, CELL_METHOD_PING, 0xc0ffee, FP, NULL, 0);
	cell_mcu_server_rx_byte(&srv, 0);
	for (size_t i = 0; i < n; i++) {
		cell_mcu_server_rx_byte(&srv, ping[i]);
		while (cell_mcu_server_serve(&srv))
			;
	}
	if (check_tx(0xc0ffee) < 1)
		abort();
	return 0;
}
