// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * The discovery announcement on a CAN bus (cell_mcu_can.h): a node's
 * name, schema fingerprint, payload limit and receive buffers in one
 * CAN-FD frame.  Decoding is for whoever lists the nodes (libcell); a
 * board only encodes, and the linker drops the rest.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cell_mcu_can.h"

#define ANNOUNCE_HDR 16

static int name_ok(const char *name, uint8_t n)
{
	uint8_t i;
	char c;

	if (!n || n > CELL_MCU_CAN_NAME_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

uint8_t cell_mcu_can_announce_encode(const struct cell_mcu_can_announce *a, uint8_t *out)
{
	uint8_t i, len;

	if (!a->slots || !name_ok(a->name, a->name_len))
		return 0;
	len = cell_mcu_can_dlc_round((uint8_t)(ANNOUNCE_HDR + a->name_len));
	memset(out, CELL_MCU_CAN_PAD_BYTE, len);
	out[0] = CELL_MCU_CAN_ANNOUNCE_MAGIC;
	out[1] = CELL_MCU_CAN_ANNOUNCE_VERSION;
	out[2] = a->slots;
	out[3] = a->name_len;
	for (i = 0; i < 8; i++)
		out[4 + i] = (uint8_t)(a->fingerprint >> (8 * i));
	out[12] = (uint8_t)a->max_payload;
	out[13] = (uint8_t)(a->max_payload >> 8);
	out[14] = 0;
	out[15] = 0;
	memcpy(out + ANNOUNCE_HDR, a->name, a->name_len);
	return len;
}

enum cell_mcu_can_err cell_mcu_can_announce_decode(const uint8_t *d, uint8_t len,
						   struct cell_mcu_can_announce *a)
{
	uint8_t i, n;

	if (len < ANNOUNCE_HDR + 1 || len > CELL_MCU_CAN_MTU ||
	    d[0] != CELL_MCU_CAN_ANNOUNCE_MAGIC || d[1] != CELL_MCU_CAN_ANNOUNCE_VERSION || !d[2] ||
	    d[14] || d[15])
		return CELL_MCU_CAN_E_ANNOUNCE;
	n = d[3];
	if (n > CELL_MCU_CAN_NAME_MAX ||
	    len != cell_mcu_can_dlc_round((uint8_t)(ANNOUNCE_HDR + n)) ||
	    !name_ok((const char *)d + ANNOUNCE_HDR, n))
		return CELL_MCU_CAN_E_ANNOUNCE;
	memset(a, 0, sizeof(*a));
	for (i = 0; i < 8; i++)
		a->fingerprint |= (uint64_t)d[4 + i] << (8 * i);
	a->max_payload = (uint16_t)(d[12] | d[13] << 8);
	a->slots = d[2];
	a->name_len = n;
	memcpy(a->name, d + ANNOUNCE_HDR, n);
	return CELL_MCU_CAN_OK;
}
