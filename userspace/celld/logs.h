/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/*
 * celld module "logs": every supervised cell's stdout and stderr go
 * through pipes read on celld's loop into the cell's log ring (logring.h),
 * which the nucleus method 12 "logs" serves (`cell logs`).
 * Documentation/capsid.rst, "Logs".
 *
 * Use by the supervisor, per start of a cell:
 *   celld_cell_log_pipes(log, &out, &err)  before the spawn: the ends to
 *                                          give the child as fds 1 and 2
 *   celld_cell_log_started(log, pid)       after it (pid <= 0: it failed)
 */
#ifndef CELLD_LOGS_H
#define CELLD_LOGS_H

#include <stdint.h>
#include <sys/types.h>

struct celld;
struct celld_cell_log;

/*
 * celld_cell_log_open() - the log ring of cell @name (@size bytes, 0: the
 * default), made on the first call for a name and kept (with its records)
 * until celld exits, whatever happens to the cell.  A later call with the
 * same name returns the same ring.  Return: NULL with errno set on failure.
 */
struct celld_cell_log *celld_cell_log_open(struct celld *d, const char *name, uint32_t size);

/*
 * celld_cell_log_pipes() - two new pipes; *@out_fd and *@err_fd are their
 * write ends (close-on-exec: dup2 them into the child), owned by @log
 * until celld_cell_log_started().  Return: 0 or -errno.
 */
__attribute__((warn_unused_result)) int celld_cell_log_pipes(struct celld_cell_log *log,
							     int *out_fd, int *err_fd);

/*
 * celld_cell_log_started() - closes the write ends and, if @pid > 0,
 * reads the pipes into the ring as the next instance of the cell (records
 * carry @pid); else discards them.  A pipe is read until its end, also
 * after the process exited (what was buffered is kept).
 */
void celld_cell_log_started(struct celld_cell_log *log, pid_t pid);

int celld_logs_start(struct celld *d);
void celld_logs_stop(struct celld *d);

#endif /* CELLD_LOGS_H */
