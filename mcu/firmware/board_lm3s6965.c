// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * qemu's lm3s6965evb: vector table, reset, UART0 registers, semihosting.
 * This file is the whole board support a Cell firmware needs.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "board.h"

#define UART0_BASE 0x4000c000U
#define UART_DR	   (*(volatile uint32_t *)(UART0_BASE + 0x000))
#define UART_FR	   (*(volatile uint32_t *)(UART0_BASE + 0x018))
#define UART_IBRD  (*(volatile uint32_t *)(UART0_BASE + 0x024))
#define UART_FBRD  (*(volatile uint32_t *)(UART0_BASE + 0x028))
#define UART_LCRH  (*(volatile uint32_t *)(UART0_BASE + 0x02c))
#define UART_CR	   (*(volatile uint32_t *)(UART0_BASE + 0x030))
#define UART_IMSC  (*(volatile uint32_t *)(UART0_BASE + 0x038))
#define UART_ICR   (*(volatile uint32_t *)(UART0_BASE + 0x044))
#define FR_RXFE	   (1U << 4)
#define FR_TXFF	   (1U << 5)
#define IM_RX	   (1U << 4)
#define IM_RT	   (1U << 6)
#define UART0_IRQ  5
#define NVIC_ISER0 (*(volatile uint32_t *)0xe000e100U)
#define NVIC_ISPR0 (*(volatile uint32_t *)0xe000e200U)

struct cell_mcu_server *board_uart0_server;

static void uart_putc(void *hw, uint8_t b)
{
	(void)hw;
	while (UART_FR & FR_TXFF)
		;
	UART_DR = b;
}

static int uart_getc(void *hw)
{
	(void)hw;
	if (UART_FR & FR_RXFE)
		return -1;
	return (int)(UART_DR & 0xff);
}

static void uart_rx_irq(void *hw, int on)
{
	(void)hw;
	/*
	 * Unmasking also pends the interrupt once: bytes that arrived while
	 * it was masked (or before UART_ICR cleared the RX flag at init)
	 * would otherwise sit in the FIFO with no interrupt to drain them.
	 */
	if (on) {
		UART_IMSC |= IM_RX | IM_RT;
		NVIC_ISPR0 = 1U << UART0_IRQ;
	} else {
		UART_IMSC &= ~(IM_RX | IM_RT);
	}
}

const struct cell_mcu_uart board_uart0 = {
	.putc = uart_putc,
	.getc = uart_getc,
	.rx_irq = uart_rx_irq,
	.hw = NULL,
};

void board_uart0_init(void)
{
	UART_CR = 0;
	UART_IBRD = 27; /* 115200 baud from 50 MHz (qemu ignores the rate) */
	UART_FBRD = 8;
	UART_LCRH = 3U << 5; /* 8 data bits, no parity, 1 stop bit, FIFO off */
	UART_ICR = 0x7ff;
	UART_IMSC = 0;
	UART_CR = (1U << 0) | (1U << 8) | (1U << 9); /* UARTEN, TXE, RXE */
	NVIC_ISER0 = 1U << UART0_IRQ;
}

static void uart0_handler(void)
{
	struct cell_mcu_server *srv = board_uart0_server;

	/* Stop reading when the server stalls: bytes wait in the UART. */
	while (srv && srv->fill <= 1 && !(UART_FR & FR_RXFE))
		cell_mcu_server_rx_byte(srv, (uint8_t)UART_DR);
	if (!srv) {
		while (!(UART_FR & FR_RXFE))
			(void)UART_DR;
	}
}

void board_idle(const volatile uint16_t *busy)
{
	__asm__ __volatile__("cpsid i" ::: "memory");
	if (!*busy)
		__asm__ __volatile__("wfi" ::: "memory"); /* a pending IRQ still wakes it */
	__asm__ __volatile__("cpsie i" ::: "memory");
}

/* ---- semihosting --------------------------------------------------------- */

static int semihost(int op, const void *arg)
{
	register int r0 __asm__("r0") = op;
	register const void *r1 __asm__("r1") = arg;

	__asm__ __volatile__("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
	return r0;
}

void board_puts(const char *s)
{
	semihost(0x04, s); /* SYS_WRITE0 */
}

void board_put_u32(uint32_t v)
{
	char buf[11], *p = buf + sizeof(buf) - 1;

	*p = 0;
	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	board_puts(p);
}

void board_put_hex64(uint64_t v)
{
	static const char hex[] = "0123456789abcdef";
	char buf[19];
	int i;

	buf[0] = '0';
	buf[1] = 'x';
	for (i = 0; i < 16; i++)
		buf[2 + i] = hex[(v >> (60 - 4 * i)) & 0xf];
	buf[18] = 0;
	board_puts(buf);
}

void board_exit(int failed)
{
	/* SYS_EXIT: ADP_Stopped_ApplicationExit makes qemu exit 0, anything else 1. */
	for (;;)
		semihost(0x18, (const void *)(uintptr_t)(failed ? 0x20024 : 0x20026));
}

/* ---- reset and vectors ----------------------------------------------------- */

extern uint32_t __data_start, __data_end, __data_load, __bss_start, __bss_end, __stack_top;
int main(void);

__attribute__((noreturn)) void reset_handler(void)
{
	memcpy(&__data_start, &__data_load,
	       (size_t)((uint8_t *)&__data_end - (uint8_t *)&__data_start));
	memset(&__bss_start, 0, (size_t)((uint8_t *)&__bss_end - (uint8_t *)&__bss_start));
	board_exit(main());
}

static void fault_handler(void)
{
	board_puts("cell-mcu: fault\n");
	board_exit(1);
}

__attribute__((section(".vectors"), used)) static void (*const vectors[16 + 8])(void) = {
	[0] = (void (*)(void)) & __stack_top,
	[1] = reset_handler,
	[2] = fault_handler, /* NMI */
	[3] = fault_handler, /* HardFault */
	[4] = fault_handler, /* MemManage */
	[5] = fault_handler, /* BusFault */
	[6] = fault_handler, /* UsageFault */
	[16 + UART0_IRQ] = uart0_handler,
};
