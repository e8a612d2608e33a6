/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * Logging: libcell never prints; what it has to say (a refused peer, a
 * path chosen) goes to a callback the application installs.
 */
#ifndef CELL_LOG_H
#define CELL_LOG_H

#include <cell/api.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Levels, as syslog(3) numbers them. */
enum cell_log_level {
	CELL_LOG_ERR = 3,
	CELL_LOG_WARNING = 4,
	CELL_LOG_NOTICE = 5,
	CELL_LOG_INFO = 6,
	CELL_LOG_DEBUG = 7,
};

/*
 * typedef cell_log_fn - receives one line (no trailing newline) at @level.
 * Called from whichever thread logs, possibly several at once.
 */
typedef void (*cell_log_fn)(enum cell_log_level level, const char *line, void *ctx);

/**
 * cell_log_set() - send libcell's log lines to @fn (NULL: drop them, the
 * default).  Set it before other libcell calls; @ctx is passed through.
 */
LIBCELL_API void cell_log_set(cell_log_fn fn, void *ctx);

#ifdef __cplusplus
}
#endif

#endif /* CELL_LOG_H */
