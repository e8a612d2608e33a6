/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * The qemu lm3s6965evb board: UART0 (a PL011 at 0x4000c000, IRQ 5) and
 * ARM semihosting for the test's console and exit code.
 */
#ifndef CELL_MCU_BOARD_H
#define CELL_MCU_BOARD_H

#include <stdint.h>

#include "cell_mcu.h"

/* UART0 as struct cell_mcu_uart: the board supplies only its registers. */
extern const struct cell_mcu_uart board_uart0;

/* Set up UART0 (8N1, no FIFO: one interrupt per byte); RX interrupt off. */
void board_uart0_init(void);

/* Called by the UART0 interrupt for each received byte; set by the firmware. */
extern struct cell_mcu_server *board_uart0_server;

/* Semihosting: a line on the host's stdout, and exit (0: success). */
void board_puts(const char *s);
void board_put_u32(uint32_t v);
void board_put_hex64(uint64_t v);
__attribute__((noreturn)) void board_exit(int failed);

/* Sleep until an interrupt unless @busy (read with interrupts masked). */
void board_idle(const volatile uint16_t *busy);

#endif /* CELL_MCU_BOARD_H */
