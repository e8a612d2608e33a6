/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/*
 * `cell logs` output (logs.c; fuzzed by fuzz_cell_logs_answer): a record of
 * a validated log_batch as "TIME STREAM LINE" (control bytes but tab as
 * \xNN, STREAM with "+" when the line goes on in the next record) or as
 * one JSON object {"seq", "time", "time_ns", "stream", "pid", "instance",
 * "split", "eol", "line"}.  Documentation/cell.rst, "cell logs".
 */
#ifndef CELL_LOGS_FMT_H
#define CELL_LOGS_FMT_H

#include <stdbool.h>
#include <stdio.h>

#include "nucleus.cell.h"

/* Prints @r, a record of @b (which nucleus_log_batch_validate() accepted), on @out. */
void cell_logs_print(FILE *out, bool json, const struct nucleus_log_batch *b,
		     const struct nucleus_log_record *r);

#endif /* CELL_LOGS_FMT_H */
