// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Names and statuses of cell_mcu errors: a table a board links only if it
 * prints or answers them (the server uses cell_mcu_err_status()).
 */
#include "cell_mcu.h"

static const char *const names[CELL_MCU_E_MAX] = {
	[CELL_MCU_OK] = "ok",
	[CELL_MCU_E_TRUNCATED] = "truncated",
	[CELL_MCU_E_BAD_VERSION] = "bad_version",
	[CELL_MCU_E_RESERVED_FLAG] = "reserved_flag",
	[CELL_MCU_E_BAD_KIND] = "bad_kind",
	[CELL_MCU_E_BAD_FLAGS] = "bad_flags",
	[CELL_MCU_E_BAD_CORRELATION] = "bad_correlation",
	[CELL_MCU_E_TOO_LONG] = "too_long",
	[CELL_MCU_E_LENGTH_MISMATCH] = "length_mismatch",
	[CELL_MCU_E_CANCEL_PAYLOAD] = "cancel_payload",
	[CELL_MCU_E_BAD_ERROR] = "bad_error",
	[CELL_MCU_E_COBS] = "cobs",
	[CELL_MCU_E_OVERFLOW] = "overflow",
	[CELL_MCU_E_SHORT] = "short",
	[CELL_MCU_E_CRC] = "crc",
};

const char *cell_mcu_err_name(enum cell_mcu_err err)
{
	if ((unsigned int)err >= CELL_MCU_E_MAX)
		return "unknown";
	return names[err];
}

enum cell_status cell_mcu_err_status(enum cell_mcu_err err)
{
	switch (err) {
	case CELL_MCU_OK:
		return CELL_STATUS_OK;
	case CELL_MCU_E_BAD_VERSION:
		return CELL_STATUS_UNSUPPORTED_VERSION;
	case CELL_MCU_E_TOO_LONG:
	case CELL_MCU_E_OVERFLOW:
		return CELL_STATUS_TOO_LARGE;
	default:
		return CELL_STATUS_BAD_MESSAGE;
	}
}
