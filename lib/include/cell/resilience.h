/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * Resilience: one policy for reaching a remote target, the same for every
 * transport (shm, unix, and the others behind struct cell_client).
 *
 *  - Reconnect on peer death, with exponential backoff and jitter: the
 *    first attempt after a loss is immediate, each failed one pushes the
 *    next back (initial, 2x, 4x ... up to a cap), jittered uniformly in
 *    [d/2, d] so that many clients of one restarted server do not come
 *    back in lockstep.
 *  - A circuit breaker per target: closed (calls go through) -> open after
 *    @breaker_threshold consecutive failures (calls fail fast with
 *    UNAVAILABLE, no connection attempt) -> half-open after
 *    @breaker_cooldown_ns (one probe goes through; its success closes the
 *    breaker, its failure opens it again for another cool-down).
 *  - Retries that never deliver a call twice: cell_client_call() retries
 *    a call only when it provably was not sent (the request never left
 *    this process: no connection, or the connection failed before the
 *    request was committed), or when the caller marked its method
 *    idempotent (@idempotent).  A call that may have reached the server
 *    and got no answer (server killed mid-call) is otherwise reported
 *    UNAVAILABLE, never resent.  cell_client_send() retries a one-way
 *    message that was not sent yet.
 *
 * A failure is what the transport decides locally: no connection, a lost
 * connection (UNAVAILABLE without a response), a missed deadline.  Any
 * response from the server, error statuses included, is a success: the
 * target is alive.
 *
 * Give a struct cell_client_opts a .resilience to use it (cell/rpc.h);
 * transports or tissues of their own can use struct cell_resilience
 * directly.  Thread-safe: one mutex per struct cell_resilience.
 *
 * Documentation/resilience.rst has the rest.
 */
#ifndef CELL_RESILIENCE_H
#define CELL_RESILIENCE_H

#include <stddef.h>
#include <stdint.h>
#include <cell/api.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Defaults of the zero fields of struct cell_resilience_opts. */
#define CELL_RESILIENCE_BACKOFF_INITIAL_NS  (10ULL * 1000 * 1000)   /* 10 ms */
#define CELL_RESILIENCE_BACKOFF_MAX_NS	    (1000ULL * 1000 * 1000) /* 1 s */
#define CELL_RESILIENCE_BREAKER_THRESHOLD   5U
#define CELL_RESILIENCE_BREAKER_COOLDOWN_NS (1000ULL * 1000 * 1000) /* 1 s */
/* breaker_threshold value that means: never open. */
#define CELL_RESILIENCE_BREAKER_OFF UINT32_MAX

/* Whether calls of @method may be delivered more than once. */
typedef int (*cell_idempotent_fn)(uint16_t method, void *ctx);

/* A clock in ns (CLOCK_MONOTONIC by default), and a sleep until a time on it. */
typedef uint64_t (*cell_clock_fn)(void *ctx);
typedef void (*cell_sleep_until_fn)(uint64_t until_ns, void *ctx);

struct cell_resilience_opts {
	size_t sz; /* sizeof(struct cell_resilience_opts) */
	/*
	 * Attempts after the first for one cell_client_call(): of calls not
	 * sent, and of idempotent calls that failed.  0: no retries.
	 */
	uint32_t max_retries;
	/* Backoff: initial delay and cap (ns); 0: the defaults above. */
	uint64_t backoff_initial_ns;
	uint64_t backoff_max_ns;
	/* Consecutive failures that open the breaker; 0: 5; _OFF: never. */
	uint32_t breaker_threshold;
	/* Open -> half-open after this long (ns); 0: 1 s. */
	uint64_t breaker_cooldown_ns;
	/* Methods whose calls may be retried after they were sent; NULL: none. */
	cell_idempotent_fn idempotent;
	void *idempotent_ctx;
	/* For tests: the clock and the sleep; NULL: CLOCK_MONOTONIC, nanosleep. */
	cell_clock_fn clock;
	cell_sleep_until_fn sleep_until;
	void *clock_ctx;
	/* Seed of the jitter; 0: from the clock. */
	uint64_t seed;
};

enum cell_breaker_state {
	CELL_BREAKER_CLOSED = 0,
	CELL_BREAKER_OPEN = 1,
	CELL_BREAKER_HALF_OPEN = 2,
};

struct cell_resilience;

/**
 * cell_resilience_new() - the policy state of one target.
 * @opts: may be NULL (defaults, no retries).
 * Return: the state (free with cell_resilience_free()), or NULL with errno
 * EINVAL (bad opts: .sz unset, unknown fields set, cap below the initial
 * delay) or ENOMEM.
 */
LIBCELL_API struct cell_resilience *cell_resilience_new(const struct cell_resilience_opts *opts);

/* cell_resilience_free() - NULL is a no-op. */
LIBCELL_API void cell_resilience_free(struct cell_resilience *r);

/**
 * cell_resilience_admit() - may an attempt go to the target now?  Closed:
 * yes.  Open: no, until the cool-down is over; then the breaker turns
 * half-open and this caller's attempt is the probe (others are refused
 * until the probe's outcome is recorded, or for one more cool-down if it
 * never is).
 * Return: 0, or -EAGAIN (open: fail fast).
 */
LIBCELL_API CELL_MUST_CHECK int cell_resilience_admit(struct cell_resilience *r);

/**
 * cell_resilience_record() - the outcome of an attempt: @ok non-zero for
 * a success (resets the failure count, closes a half-open breaker), zero
 * for a failure (counts towards the threshold, re-opens a half-open
 * breaker, and sets when the next connection attempt may start).
 */
LIBCELL_API void cell_resilience_record(struct cell_resilience *r, int ok);

/* cell_resilience_state() - the breaker's state now (an open one past its cool-down: HALF_OPEN). */
LIBCELL_API enum cell_breaker_state cell_resilience_state(struct cell_resilience *r);

/* "closed", "open", "half-open". */
LIBCELL_API const char *cell_breaker_state_name(enum cell_breaker_state state);

/* cell_resilience_failures() - consecutive failures recorded so far. */
LIBCELL_API uint32_t cell_resilience_failures(struct cell_resilience *r);

/**
 * cell_resilience_backoff_ns() - a jittered delay before retry @attempt
 * (1: the first retry): uniform in [d/2, d] with d = min(cap, initial x
 * 2^(attempt - 1)).  0 for attempt 0.
 */
LIBCELL_API uint64_t cell_resilience_backoff_ns(struct cell_resilience *r, unsigned int attempt);

/**
 * cell_resilience_next_attempt() - the earliest time (on the policy's
 * clock) a connection attempt may start: 0 when at once; after n
 * consecutive failures, the time of the last one plus backoff(n).
 */
LIBCELL_API uint64_t cell_resilience_next_attempt(struct cell_resilience *r);

/* cell_resilience_now() - the policy's clock. */
LIBCELL_API uint64_t cell_resilience_now(struct cell_resilience *r);

struct cell_client; /* cell/rpc.h */

/**
 * cell_client_resilience() - the policy state of a client connected with
 * a .resilience in its options (one per client, i.e. per target), or NULL.
 * Owned by the client.
 */
LIBCELL_API struct cell_resilience *cell_client_resilience(struct cell_client *c);

#ifdef __cplusplus
}
#endif

#endif /* CELL_RESILIENCE_H */
