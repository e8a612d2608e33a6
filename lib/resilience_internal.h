/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * The hooks between resilience.c (the policy) and client.c (where calls
 * and connections happen).  Not exported.
 */
#ifndef CELL_RESILIENCE_INTERNAL_H
#define CELL_RESILIENCE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>

#include <cell/resilience.h>
#include <cell/rpc.h>

/* How far one attempt of a call got (cell_client_call_once()). */
enum cell_call_phase {
	CELL_PHASE_REFUSED,  /* the breaker is open: nothing tried */
	CELL_PHASE_NOT_SENT, /* failed before the request was committed */
	CELL_PHASE_SENT,     /* committed (or maybe): no response came */
	CELL_PHASE_ANSWERED, /* the server answered (any status) */
};

/* One attempt of cell_client_call() (client.c); *@phase says how far it got. */
enum cell_status cell_client_call_once(struct cell_client *c, uint16_t method, const void *req,
				       uint32_t req_len, void *resp, uint32_t cap,
				       uint32_t *resp_len, uint64_t deadline,
				       enum cell_call_phase *phase);

/* cell_client_call() under the policy: the retry loop (resilience.c). */
enum cell_status cell_resilience_call(struct cell_client *c, struct cell_resilience *r,
				      uint16_t method, const void *req, uint32_t req_len,
				      void *resp, uint32_t cap, uint32_t *resp_len,
				      uint64_t deadline);

/*
 * Wait, with @held (locked by the caller) unlocked meanwhile, until a
 * connection attempt may start: at once, or at cell_resilience_next_attempt().
 * Return: OK, or UNAVAILABLE (with the error text set) when that is past
 * @deadline.
 */
enum cell_status cell_resilience_wait_turn(struct cell_resilience *r, pthread_mutex_t *held,
					   uint64_t deadline);

/* Record a finished call: answered is a success, a local UNAVAILABLE or deadline a failure. */
void cell_resilience_outcome(struct cell_resilience *r, bool answered, enum cell_status st);

/* The policy's retry budget (max_retries) and its sleep. */
uint32_t cell_resilience_retries(const struct cell_resilience *r);
void cell_resilience_sleep_until(struct cell_resilience *r, uint64_t until);

#endif /* CELL_RESILIENCE_INTERNAL_H */
