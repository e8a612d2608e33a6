/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/*
 * Mitosis: when a supervised cell with instances=MIN..MAX gets one more
 * instance or one fewer.  Only the decision, from figures the supervisor
 * polls (each instance's in-flight calls and p99 from its metrics); no
 * I/O, so that it is unit-tested (tests/mitosis_test.c).  supervisor.c
 * samples and acts (scale()); Documentation/capsid.rst, "Mitosis".
 */
#ifndef CELLD_MITOSIS_H
#define CELLD_MITOSIS_H

#include <stdint.h>

#include "capsid_conf.h"

struct mitosis {
	uint64_t above_since, below_since; /* ms; 0: not above / below now */
	uint64_t last_change;		   /* ms of the last spawn or retire */
};

/* One sample of the whole group of instances. */
struct mitosis_sample {
	unsigned int instances;	  /* ready instances now */
	uint64_t inflight_sum;	  /* in-flight calls summed over them */
	uint32_t p99_us;	  /* the worst instance's p99, 0: unknown */
};

/*
 * mitosis_step() - feed one sample taken at @now_ms.
 * Return: +1 spawn one instance, -1 retire the newest, 0 keep.  Never
 * below cf->inst_min or above cf->inst_max; after a change, waits
 * scale_up_after_ms (or scale_down_after_ms) again before the next one.
 */
int mitosis_step(struct mitosis *m, const struct capsid_conf *cf, uint64_t now_ms,
		 const struct mitosis_sample *s);

#endif /* CELLD_MITOSIS_H */
