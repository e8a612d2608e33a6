// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * The example firmware: serves sensor.cell on UART0.  The RX interrupt
 * feeds the server byte by byte; this loop serves frames and sleeps.  A
 * GOODBYE from the peer ends the qemu test run: the counters go to the
 * semihosting console and qemu exits (0 if no call was refused as a bug
 * would be: a handler overrun shows as INTERNAL, counted nowhere else).
 */
#include "board.h"
#include "sensor_app.h"

static struct sensor_app app;

static void stat(const char *name, uint32_t v)
{
	board_puts(" ");
	board_puts(name);
	board_puts("=");
	board_put_u32(v);
}

int main(void)
{
	struct cell_mcu_server *srv = &app.mcu.srv;

	board_uart0_init();
	sensor_app_init(&app, &board_uart0);
	board_uart0_server = srv;
	board_puts("cell-mcu: serving sensor ");
	board_put_hex64(SENSOR_FINGERPRINT);
	board_puts(" on UART0, max payload ");
	board_put_u32(CELL_MCU_MAX_PAYLOAD);
	board_puts("\n");
	board_uart0.rx_irq(board_uart0.hw, 1);
	while (!srv->stats.goodbyes) {
		if (!cell_mcu_server_serve(srv))
			board_idle(&srv->full[srv->serve]);
	}
	board_puts("cell-mcu: goodbye;");
	stat("frames", srv->stats.frames);
	stat("calls", srv->stats.calls);
	stat("bad_frames", srv->stats.bad_frames);
	stat("bad_crc", srv->stats.bad_crc);
	stat("bad_fingerprint", srv->stats.bad_fingerprint);
	stat("unknown_method", srv->stats.unknown_method);
	stat("bad_request", srv->stats.bad_request);
	stat("stalls", srv->stats.stalls);
	stat("cobs_errors", srv->rx.errors);
	board_puts("\n");
	return 0;
}
