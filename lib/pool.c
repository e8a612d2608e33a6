// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Pool (cell/pool.h): N clients of one target, round-robin.
 *
 * The members are fixed at connect and never replaced (each reconnects
 * itself); the only shared word is the round-robin cursor, an atomic
 * counter.  Whether a member is usable is read without a lock: a member
 * that turns unusable right after the check is still a valid client, its
 * call then reconnects or fails with a status.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>

#include <cell/pool.h>
#include <cell/resilience.h>
#include "opts.h"
#include "rpc_internal.h"

struct cell_pool {
	uint32_t size;
	atomic_uint next;
	struct cell_client *members[];
};

struct cell_pool *cell_pool_connect(const char *name, const struct cell_client_opts *copts,
				    const struct cell_pool_opts *popts)
{
	struct cell_pool_opts o = { 0 };
	struct cell_pool *p;
	uint32_t n, i;
	int err;

	if (cell_opts_copy(&o, sizeof(o), popts, "cell_pool_opts"))
		return errno = EINVAL, NULL;
	n = o.size ? o.size : CELL_POOL_DEFAULT_SIZE;
	if (n > CELL_POOL_MAX_SIZE) {
		cell_fail(CELL_STATUS_INVALID_ARGUMENT, "pool of %u connections (at most %u)", n,
			  CELL_POOL_MAX_SIZE);
		return errno = EINVAL, NULL;
	}
	p = calloc(1, sizeof(*p) + n * sizeof(p->members[0]));
	if (!p)
		return errno = ENOMEM, NULL;
	p->size = n;
	for (i = 0; i < n; i++) {
		p->members[i] = cell_client_connect(name, copts);
		if (!p->members[i]) {
			err = errno;
			cell_pool_free(p);
			errno = err;
			return NULL;
		}
	}
	return p;
}

void cell_pool_free(struct cell_pool *p)
{
	if (!p)
		return;
	for (uint32_t i = 0; i < p->size; i++)
		cell_client_free(p->members[i]);
	free(p);
}

uint32_t cell_pool_size(const struct cell_pool *p)
{
	return p->size;
}

struct cell_client *cell_pool_member(struct cell_pool *p, uint32_t i)
{
	return p && i < p->size ? p->members[i] : NULL;
}

static bool usable(struct cell_client *c)
{
	struct cell_resilience *r = cell_client_resilience(c);

	if (r && cell_resilience_state(r) == CELL_BREAKER_OPEN)
		return false;
	return cell_client_connected(c);
}

struct cell_client *cell_pool_get(struct cell_pool *p)
{
	uint32_t start = atomic_fetch_add(&p->next, 1), i;

	for (i = 0; i < p->size; i++) {
		struct cell_client *c = p->members[(start + i) % p->size];

		if (usable(c))
			return c;
	}
	return p->members[start % p->size];
}

enum cell_status cell_pool_call(struct cell_pool *p, uint16_t method, const void *req,
				uint32_t req_len, void *resp, uint32_t cap, uint32_t *resp_len,
				uint64_t deadline)
{
	if (!p)
		return cell_fail(CELL_STATUS_INVALID_ARGUMENT, "no pool");
	return cell_client_call(cell_pool_get(p), method, req, req_len, resp, cap, resp_len,
				deadline);
}
