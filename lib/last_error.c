// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * The detail of the last failure, per thread (cell_last_error()).  The
 * library never prints; this is how a caller learns, for instance, both
 * fingerprints of a mismatch.
 */
#include <errno.h>
#include <stdio.h>

#include "rpc_internal.h"

#define LAST_ERROR_MAX 512

static _Thread_local char last_text[LAST_ERROR_MAX];
static _Thread_local enum cell_status last_status;

enum cell_status cell_fail(enum cell_status status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_text, sizeof(last_text), fmt, ap);
	va_end(ap);
	last_status = status;
	return status;
}

void cell_clear_error(void)
{
	last_text[0] = '\0';
	last_status = CELL_STATUS_OK;
}

const char *cell_last_error(enum cell_status *status)
{
	if (status)
		*status = last_status;
	return last_text;
}

enum cell_status cell_errno_status(int err)
{
	switch (err < 0 ? -err : err) {
	case 0:
		return CELL_STATUS_OK;
	case ENOMEM:
	case EAGAIN:
	case ENOSPC:
	case EMFILE:
	case ENFILE:
		return CELL_STATUS_RESOURCE_EXHAUSTED;
	case ETIMEDOUT:
		return CELL_STATUS_DEADLINE_EXCEEDED;
	case EPIPE:
	case ECONNRESET:
	case ECONNREFUSED:
	case ENOENT:
	case ENOTCONN:
		return CELL_STATUS_UNAVAILABLE;
	case EMSGSIZE:
	case E2BIG:
		return CELL_STATUS_TOO_LARGE;
	case EINVAL:
		return CELL_STATUS_INVALID_ARGUMENT;
	case EACCES:
	case EPERM:
		return CELL_STATUS_PERMISSION_DENIED;
	case EPROTO:
	case EBADMSG:
		return CELL_STATUS_BAD_MESSAGE;
	default:
		return CELL_STATUS_INTERNAL;
	}
}
