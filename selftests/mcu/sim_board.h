/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/*
 * The example board simulated on the host: the firmware's application
 * (mcu/example/sensor_app.c, compiled for the host) behind a Unix stream
 * socket that stands for the UART.  A thread feeds every received byte to
 * the server as the RX interrupt would and serves frames as they complete.
 */
#ifndef SIM_BOARD_H
#define SIM_BOARD_H

#include <stdint.h>

/* Listen on @path; the board thread serves one connection until GOODBYE or EOF. */
int sim_board_start(const char *path);
/* Wait for the board thread; its counters, and 0 if it ended after GOODBYE. */
int sim_board_join(uint32_t *frames, uint32_t *stalls);

#endif /* SIM_BOARD_H */
