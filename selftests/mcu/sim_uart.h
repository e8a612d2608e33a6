/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/*
 * A simulated UART for host tests of the MCU server: TX bytes land in a
 * buffer, RX bytes are fed through cell_mcu_server_rx_byte() as an
 * interrupt handler would, the RX interrupt mask is recorded.
 */
#ifndef SIM_UART_H
#define SIM_UART_H

#include <stdint.h>
#include <string.h>

#include "cell_mcu.h"

struct sim_uart {
	uint8_t tx[1 << 16];
	size_t tx_len;
	int irq_on;
	int irq_offs;
	struct cell_mcu_uart ops;
};

static void sim_putc(void *hw, uint8_t b)
{
	struct sim_uart *u = hw;

	if (u->tx_len < sizeof(u->tx))
		u->tx[u->tx_len++] = b;
}

static void sim_rx_irq(void *hw, int on)
{
	struct sim_uart *u = hw;

	u->irq_on = on;
	if (!on)
		u->irq_offs++;
}

static inline void sim_init(struct sim_uart *u)
{
	memset(u, 0, sizeof(*u));
	u->irq_on = 1;
	u->ops.putc = sim_putc;
	u->ops.rx_irq = sim_rx_irq;
	u->ops.hw = u;
}

/* XORed into the next frame's CRC by sim_frame() (then reset): a corrupt frame. */
static uint32_t sim_crc_xor;

/* Build a frame (header + payload + CRC), COBS-encode it with a delimiter. */
static inline size_t sim_frame(uint8_t *out, size_t cap, uint8_t flags, uint16_t method,
			       uint32_t corr, uint64_t fp, const void *payload, uint32_t len)
{
	static uint8_t f[CELL_HDR_SIZE + 70000];
	struct cell_hdr h = {
		.version = CELL_WIRE_VERSION,
		.flags = flags,
		.method = method,
		.correlation = corr,
		.len = len,
		.fingerprint_lo = (uint32_t)fp,
		.fingerprint_hi = (uint32_t)(fp >> 32),
	};
	uint32_t crc;
	size_t n;

	cell_mcu_hdr_encode(&h, f);
	if (len)
		memcpy(f + CELL_HDR_SIZE, payload, len);
	crc = cell_mcu_crc32(0, f, CELL_HDR_SIZE + len) ^ sim_crc_xor;
	sim_crc_xor = 0;
	for (int i = 0; i < 4; i++)
		f[CELL_HDR_SIZE + len + i] = (uint8_t)(crc >> (8 * i));
	n = cell_mcu_cobs_encode(out, cap - 1, f, CELL_HDR_SIZE + len + 4);
	if (!n)
		return 0;
	out[n] = 0;
	return n + 1;
}

#endif /* SIM_UART_H */
