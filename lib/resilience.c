// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Resilience (cell/resilience.h): backoff, circuit breaker, retries.
 *
 * Locking: every field below @lock is protected by it; the options are
 * written once by cell_resilience_new().  The clock and the sleep are
 * called without it (a test's fake clock may take locks of its own).
 * client.c calls in with its own c->lock held (admit, record, outcome:
 * order c->lock, then r->lock); cell_resilience_wait_turn() drops the
 * client's lock while it sleeps.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cell/time.h>
#include "opts.h"
#include "resilience_internal.h"
#include "rpc_internal.h"

struct cell_resilience {
	struct cell_resilience_opts o;
	pthread_mutex_t lock;
	enum cell_breaker_state state; /* as last decided; OPEN may be past its cool-down */
	uint32_t failures;	       /* consecutive */
	uint64_t opened_at;	       /* when it last opened */
	uint64_t probe_at;	       /* half-open: when the probe was let through, 0: none */
	uint64_t next_attempt;	       /* earliest next connection attempt, 0: at once */
	uint64_t rng;		       /* jitter state (splitmix64) */
};

static uint64_t mono_clock(void *ctx)
{
	(void)ctx;
	return cell_now_ns();
}

static void mono_sleep_until(uint64_t until, void *ctx)
{
	struct timespec ts = { .tv_sec = (time_t)(until / CELL_NSEC_PER_SEC),
			       .tv_nsec = (long)(until % CELL_NSEC_PER_SEC) };

	(void)ctx;
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static uint64_t now_of(struct cell_resilience *r)
{
	return r->o.clock(r->o.clock_ctx);
}

static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

struct cell_resilience *cell_resilience_new(const struct cell_resilience_opts *opts)
{
	struct cell_resilience *r = calloc(1, sizeof(*r));

	if (!r)
		return errno = ENOMEM, NULL;
	if (cell_opts_copy(&r->o, sizeof(r->o), opts, "cell_resilience_opts"))
		goto invalid;
	r->o.sz = sizeof(r->o);
	if (!r->o.backoff_initial_ns)
		r->o.backoff_initial_ns = CELL_RESILIENCE_BACKOFF_INITIAL_NS;
	if (!r->o.backoff_max_ns)
		r->o.backoff_max_ns = r->o.backoff_initial_ns > CELL_RESILIENCE_BACKOFF_MAX_NS
					      ? r->o.backoff_initial_ns
					      : CELL_RESILIENCE_BACKOFF_MAX_NS;
	if (r->o.backoff_max_ns < r->o.backoff_initial_ns) {
		cell_fail(CELL_STATUS_INVALID_ARGUMENT,
			  "cell_resilience_opts: backoff cap %llu ns below the initial %llu ns",
			  (unsigned long long)r->o.backoff_max_ns,
			  (unsigned long long)r->o.backoff_initial_ns);
		goto invalid;
	}
	if (!r->o.breaker_threshold)
		r->o.breaker_threshold = CELL_RESILIENCE_BREAKER_THRESHOLD;
	if (!r->o.breaker_cooldown_ns)
		r->o.breaker_cooldown_ns = CELL_RESILIENCE_BREAKER_COOLDOWN_NS;
	if (!r->o.clock) {
		r->o.clock = mono_clock;
		if (!r->o.sleep_until)
			r->o.sleep_until = mono_sleep_until;
	}
	if (!r->o.sleep_until) {
		cell_fail(CELL_STATUS_INVALID_ARGUMENT, "cell_resilience_opts: a clock without a "
							"sleep_until");
		goto invalid;
	}
	r->rng = r->o.seed ? r->o.seed : now_of(r);
	pthread_mutex_init(&r->lock, NULL);
	return r;
invalid:
	free(r);
	errno = EINVAL;
	return NULL;
}

void cell_resilience_free(struct cell_resilience *r)
{
	if (!r)
		return;
	pthread_mutex_destroy(&r->lock);
	free(r);
}

/* d = min(cap, initial * 2^(attempt - 1)), without overflow. */
static uint64_t backoff_ceiling(const struct cell_resilience *r, unsigned int attempt)
{
	uint64_t d = r->o.backoff_initial_ns;

	while (--attempt && d < r->o.backoff_max_ns)
		d = d > r->o.backoff_max_ns / 2 ? r->o.backoff_max_ns : d * 2;
	return d < r->o.backoff_max_ns ? d : r->o.backoff_max_ns;
}

/* Uniform in [d/2, d] (r->lock held). */
static uint64_t backoff_locked(struct cell_resilience *r, unsigned int attempt)
{
	uint64_t d, half;

	if (!attempt)
		return 0;
	d = backoff_ceiling(r, attempt);
	half = d / 2;
	return half + splitmix64(&r->rng) % (d - half + 1);
}

uint64_t cell_resilience_backoff_ns(struct cell_resilience *r, unsigned int attempt)
{
	uint64_t d;

	pthread_mutex_lock(&r->lock);
	d = backoff_locked(r, attempt);
	pthread_mutex_unlock(&r->lock);
	return d;
}

int cell_resilience_admit(struct cell_resilience *r)
{
	uint64_t now = now_of(r);
	int err = 0;

	pthread_mutex_lock(&r->lock);
	switch (r->state) {
	case CELL_BREAKER_CLOSED:
		break;
	case CELL_BREAKER_OPEN:
		if (now - r->opened_at < r->o.breaker_cooldown_ns) {
			err = -EAGAIN;
			break;
		}
		r->state = CELL_BREAKER_HALF_OPEN;
		r->probe_at = now;
		break;
	case CELL_BREAKER_HALF_OPEN:
		/* One probe at a time; one whose outcome never came expires. */
		if (r->probe_at && now - r->probe_at < r->o.breaker_cooldown_ns)
			err = -EAGAIN;
		else
			r->probe_at = now;
		break;
	}
	pthread_mutex_unlock(&r->lock);
	return err;
}

void cell_resilience_record(struct cell_resilience *r, int ok)
{
	uint64_t now = now_of(r);

	pthread_mutex_lock(&r->lock);
	if (ok) {
		r->failures = 0;
		r->next_attempt = 0;
		r->state = CELL_BREAKER_CLOSED;
		r->probe_at = 0;
		pthread_mutex_unlock(&r->lock);
		return;
	}
	if (r->failures < UINT32_MAX)
		r->failures++;
	r->next_attempt = now + backoff_locked(r, r->failures);
	if (r->state == CELL_BREAKER_HALF_OPEN ||
	    (r->state == CELL_BREAKER_CLOSED &&
	     r->o.breaker_threshold != CELL_RESILIENCE_BREAKER_OFF &&
	     r->failures >= r->o.breaker_threshold)) {
		r->state = CELL_BREAKER_OPEN;
		r->opened_at = now;
		r->probe_at = 0;
	}
	pthread_mutex_unlock(&r->lock);
}

enum cell_breaker_state cell_resilience_state(struct cell_resilience *r)
{
	uint64_t now = now_of(r);
	enum cell_breaker_state st;

	pthread_mutex_lock(&r->lock);
	st = r->state;
	if (st == CELL_BREAKER_OPEN && now - r->opened_at >= r->o.breaker_cooldown_ns)
		st = CELL_BREAKER_HALF_OPEN;
	pthread_mutex_unlock(&r->lock);
	return st;
}

const char *cell_breaker_state_name(enum cell_breaker_state state)
{
	switch (state) {
	case CELL_BREAKER_CLOSED:
		return "closed";
	case CELL_BREAKER_OPEN:
		return "open";
	case CELL_BREAKER_HALF_OPEN:
		return "half-open";
	}
	return "?";
}

uint32_t cell_resilience_failures(struct cell_resilience *r)
{
	uint32_t n;

	pthread_mutex_lock(&r->lock);
	n = r->failures;
	pthread_mutex_unlock(&r->lock);
	return n;
}

uint64_t cell_resilience_next_attempt(struct cell_resilience *r)
{
	uint64_t t;

	pthread_mutex_lock(&r->lock);
	t = r->next_attempt;
	pthread_mutex_unlock(&r->lock);
	return t;
}

uint64_t cell_resilience_now(struct cell_resilience *r)
{
	return now_of(r);
}

/* ---- hooks for client.c ----------------------------------------------- */

uint32_t cell_resilience_retries(const struct cell_resilience *r)
{
	return r->o.max_retries;
}

void cell_resilience_sleep_until(struct cell_resilience *r, uint64_t until)
{
	r->o.sleep_until(until, r->o.clock_ctx);
}

enum cell_status cell_resilience_wait_turn(struct cell_resilience *r, pthread_mutex_t *held,
					   uint64_t deadline)
{
	uint64_t at = cell_resilience_next_attempt(r), now = now_of(r);

	if (at <= now)
		return CELL_STATUS_OK;
	if (at >= deadline)
		return cell_fail(CELL_STATUS_UNAVAILABLE,
				 "reconnect backoff: next attempt in %llu ms, past the deadline",
				 (unsigned long long)((at - now) / CELL_NSEC_PER_MSEC));
	pthread_mutex_unlock(held);
	cell_resilience_sleep_until(r, at);
	pthread_mutex_lock(held);
	return CELL_STATUS_OK;
}

void cell_resilience_outcome(struct cell_resilience *r, bool answered, enum cell_status st)
{
	if (answered)
		cell_resilience_record(r, 1);
	else if (st == CELL_STATUS_UNAVAILABLE || st == CELL_STATUS_DEADLINE_EXCEEDED)
		cell_resilience_record(r, 0);
}

static bool may_retry(struct cell_resilience *r, uint16_t method, enum cell_status st,
		      enum cell_call_phase phase)
{
	if (st != CELL_STATUS_UNAVAILABLE || phase == CELL_PHASE_REFUSED)
		return false;
	if (phase == CELL_PHASE_NOT_SENT)
		return true;
	return r->o.idempotent && r->o.idempotent(method, r->o.idempotent_ctx);
}

enum cell_status cell_resilience_call(struct cell_client *c, struct cell_resilience *r,
				      uint16_t method, const void *req, uint32_t req_len,
				      void *resp, uint32_t cap, uint32_t *resp_len,
				      uint64_t deadline)
{
	enum cell_call_phase phase;
	enum cell_status st;
	unsigned int attempt;
	uint64_t at;

	for (attempt = 0;; attempt++) {
		st = cell_client_call_once(c, method, req, req_len, resp, cap, resp_len, deadline,
					   &phase);
		if (st == CELL_STATUS_OK || attempt >= r->o.max_retries ||
		    !may_retry(r, method, st, phase))
			return st;
		/*
		 * A lost connection paces itself: the next attempt's reconnect
		 * waits for cell_resilience_next_attempt().  A server that
		 * answered UNAVAILABLE is still connected: pace it here.
		 */
		if (phase != CELL_PHASE_ANSWERED)
			continue;
		at = now_of(r) + cell_resilience_backoff_ns(r, attempt + 1);
		if (at >= deadline)
			return st;
		cell_resilience_sleep_until(r, at);
	}
}
