/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * The example application: handlers of sensor.cell as cellc --mcu
 * generates their signatures.  The same file is built into the qemu
 * firmware (mcu/firmware/) and, for the host tests, into selftests/mcu/.
 */
#ifndef SENSOR_APP_H
#define SENSOR_APP_H

#include "sensor.mcu.h"

struct sensor_app {
	struct sensor_mcu mcu;
	uint8_t leds[8];
	uint32_t led_changes;
};

/* Serve sensor.cell on @uart (then feed the RX interrupt, run the loop). */
void sensor_app_init(struct sensor_app *app, const struct cell_mcu_uart *uart);

#endif /* SENSOR_APP_H */
