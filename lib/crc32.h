/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * CRC-32 (IEEE 802.3, reflected, as zlib and the MCU port compute it) of
 * the UART and CAN-FD framings.  Internal to libcell.
 */
#ifndef CELL_CRC32_H
#define CELL_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* CRC-32 of @n bytes at @p ("123456789" gives 0xcbf43926). */
uint32_t cell_crc32(const void *p, size_t n);

#endif /* CELL_CRC32_H */
