/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * futex(2) on words in shared mappings (not FUTEX_PRIVATE_FLAG: the
 * waiter and the waker may be different processes).
 */
#ifndef CELL_FUTEX_H
#define CELL_FUTEX_H

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>
#include <linux/futex.h>
#include <sys/syscall.h>

#include <cell/time.h>

/*
 * cell_futex_wait() - sleep while *@word == @val, until woken or the
 * absolute CLOCK_MONOTONIC time @abs_ns (FUTEX_WAIT_BITSET without
 * FUTEX_CLOCK_REALTIME takes an absolute monotonic timeout).
 * Return: 0 (woken, maybe spuriously), or -EAGAIN (*@word != @val),
 * -ETIMEDOUT, -EINTR.
 */
static inline int cell_futex_wait(uint32_t *word, uint32_t val, uint64_t abs_ns)
{
	struct timespec ts = {
		.tv_sec = (time_t)(abs_ns / CELL_NSEC_PER_SEC),
		.tv_nsec = (long)(abs_ns % CELL_NSEC_PER_SEC),
	};

	if (syscall(SYS_futex, word, FUTEX_WAIT_BITSET, val, &ts, NULL, FUTEX_BITSET_MATCH_ANY) < 0)
		return -errno;
	return 0;
}

/* cell_futex_wake() - wake up to @n sleepers on @word; returns how many. */
static inline int cell_futex_wake(uint32_t *word, int n)
{
	long woken = syscall(SYS_futex, word, FUTEX_WAKE, n, NULL, NULL, 0);

	return woken < 0 ? -errno : (int)woken;
}

#endif /* CELL_FUTEX_H */
