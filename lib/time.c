// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * CLOCK_MONOTONIC in nanoseconds and absolute deadlines (cell/time.h).
 */
#include <time.h>

#include <cell/time.h>

uint64_t cell_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * CELL_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

uint64_t cell_deadline_in_ns(uint64_t ns)
{
	uint64_t now = cell_now_ns();

	return ns >= CELL_DEADLINE_NONE - now ? CELL_DEADLINE_NONE : now + ns;
}

uint64_t cell_deadline_in_ms(uint64_t ms)
{
	if (ms >= CELL_DEADLINE_NONE / CELL_NSEC_PER_MSEC)
		return CELL_DEADLINE_NONE;
	return cell_deadline_in_ns(ms * CELL_NSEC_PER_MSEC);
}
