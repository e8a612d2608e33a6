/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * Pool: several connections to one target, used as one.
 *
 * A server serves each connection on one thread at a time, so one client
 * connection runs its calls one after the other however many threads
 * call through it; a pool of N connections lets N calls run in parallel
 * on a multi-threaded server (and, over a network, spreads calls over N
 * links).  Each member is an ordinary struct cell_client made with the
 * pool's client options, so a .resilience in them gives every member its
 * reconnect with backoff, breaker and retries (cell/resilience.h).
 *
 * cell_pool_get() hands out members round-robin, skipping those that are
 * disconnected or whose breaker is open while another one is usable.
 * Thread-safe: any number of threads may call through one pool.
 */
#ifndef CELL_POOL_H
#define CELL_POOL_H

#include <stddef.h>
#include <stdint.h>
#include <cell/api.h>
#include <cell/rpc.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Members of a pool when struct cell_pool_opts.size is 0, and at most. */
#define CELL_POOL_DEFAULT_SIZE 4U
#define CELL_POOL_MAX_SIZE     64U

struct cell_pool_opts {
	size_t sz; /* sizeof(struct cell_pool_opts) */
	/* Connections; 0: CELL_POOL_DEFAULT_SIZE, at most CELL_POOL_MAX_SIZE. */
	uint32_t size;
};

struct cell_pool;

/**
 * cell_pool_connect() - connect @popts->size clients to cell @name, each
 * with @copts (may be NULL: defaults).
 * Return: the pool (free with cell_pool_free()), or NULL with errno: that
 * of the first cell_client_connect() that failed (no member is kept
 * then), EINVAL for bad options, ENOMEM.
 */
LIBCELL_API struct cell_pool *cell_pool_connect(const char *name,
						const struct cell_client_opts *copts,
						const struct cell_pool_opts *popts);

/* cell_pool_free() - free every member.  No call may be in flight.  NULL is a no-op. */
LIBCELL_API void cell_pool_free(struct cell_pool *p);

/* cell_pool_size() - the number of members. */
LIBCELL_API uint32_t cell_pool_size(const struct cell_pool *p);

/* cell_pool_member() - member @i (0 .. size - 1), owned by the pool; NULL if out of range. */
LIBCELL_API struct cell_client *cell_pool_member(struct cell_pool *p, uint32_t i);

/**
 * cell_pool_get() - the next member to call through: round-robin over the
 * connected members whose breaker is not open; if there is none, the next
 * one anyway (its call then reconnects, or fails fast).  Never NULL.
 */
LIBCELL_API struct cell_client *cell_pool_get(struct cell_pool *p);

/* cell_pool_call() - cell_client_call() through cell_pool_get(). */
LIBCELL_API enum cell_status cell_pool_call(struct cell_pool *p, uint16_t method, const void *req,
					    uint32_t req_len, void *resp, uint32_t cap,
					    uint32_t *resp_len, uint64_t deadline);

#ifdef __cplusplus
}
#endif

#endif /* CELL_POOL_H */
