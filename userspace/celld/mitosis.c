// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Mitosis decisions (mitosis.h).  "Above target": the average in-flight
 * calls per instance exceed scale_target_inflight, or the p99 exceeds
 * scale_target_p99_us.  "Below": both are under half their target (a
 * hysteresis band, so a load right at the target does not make instances
 * come and go).  A state must hold for its *_after_ms to act.
 */
#include "mitosis.h"

static int above(const struct capsid_conf *cf, const struct mitosis_sample *s)
{
	uint64_t n = s->instances ? s->instances : 1;

	if (cf->scale_target_inflight && s->inflight_sum > n * cf->scale_target_inflight)
		return 1;
	if (cf->scale_target_p99_us && s->p99_us > cf->scale_target_p99_us)
		return 1;
	return 0;
}

static int below(const struct capsid_conf *cf, const struct mitosis_sample *s)
{
	uint64_t n = s->instances ? s->instances : 1;

	if (cf->scale_target_inflight && 2 * s->inflight_sum >= n * cf->scale_target_inflight)
		return 0;
	if (cf->scale_target_p99_us && 2ull * s->p99_us >= cf->scale_target_p99_us)
		return 0;
	return 1;
}

int mitosis_step(struct mitosis *m, const struct capsid_conf *cf, uint64_t now_ms,
		 const struct mitosis_sample *s)
{
	if (cf->inst_max <= cf->inst_min)
		return 0;
	if (s->instances < cf->inst_min)
		return 1; /* the supervisor starts MIN anyway; say so */
	if (above(cf, s)) {
		m->below_since = 0;
		if (!m->above_since)
			m->above_since = now_ms ? now_ms : 1;
		if (s->instances < cf->inst_max &&
		    now_ms - m->above_since >= cf->scale_up_after_ms) {
			m->above_since = m->last_change = now_ms;
			return 1;
		}
		return 0;
	}
	m->above_since = 0;
	if (!below(cf, s)) {
		m->below_since = 0;
		return 0;
	}
	if (!m->below_since)
		m->below_since = now_ms ? now_ms : 1;
	if (s->instances > cf->inst_min && now_ms - m->below_since >= cf->scale_down_after_ms) {
		m->below_since = m->last_change = now_ms;
		return -1;
	}
	return 0;
}
