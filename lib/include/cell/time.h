/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * Time and deadlines.  Every blocking libcell call takes an absolute
 * deadline in nanoseconds of CLOCK_MONOTONIC, so a deadline survives being
 * passed down through layers without each one restarting a relative timer.
 */
#ifndef CELL_TIME_H
#define CELL_TIME_H

#include <stdint.h>
#include <cell/api.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A deadline that never passes. */
#define CELL_DEADLINE_NONE UINT64_MAX

#define CELL_NSEC_PER_USEC 1000ULL
#define CELL_NSEC_PER_MSEC 1000000ULL
#define CELL_NSEC_PER_SEC  1000000000ULL

/* cell_now_ns() - the current CLOCK_MONOTONIC time in nanoseconds. */
LIBCELL_API uint64_t cell_now_ns(void);

/**
 * cell_deadline_in_ns() - the absolute deadline @ns nanoseconds from now.
 * Saturates at CELL_DEADLINE_NONE instead of wrapping.
 */
LIBCELL_API uint64_t cell_deadline_in_ns(uint64_t ns);

/* cell_deadline_in_ms() - the absolute deadline @ms milliseconds from now. */
LIBCELL_API uint64_t cell_deadline_in_ms(uint64_t ms);

#ifdef __cplusplus
}
#endif

#endif /* CELL_TIME_H */
