/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * Tissue: one client over every live instance of a name.
 *
 * Instances of "orders" are the sockets "orders.sock", "orders@1.sock",
 * "orders@2.sock", ... in the runtime directory ($CELL_RUNTIME_DIR, else
 * $XDG_RUNTIME_DIR/cell, else /run/cell for root).  A tissue finds them by
 * scanning that directory, connects to each lazily, and offers
 *
 *  - unicast (cell_tissue_call()): round-robin over the instances; when one
 *    answers UNAVAILABLE (cannot connect, or died during the call) the same
 *    call goes to the next instance, so the caller gets exactly one answer
 *    per call while any instance lives;
 *  - broadcast (cell_tissue_broadcast()): the call goes to every instance
 *    and each one's answer (status and response view) comes back, dead
 *    instances as UNAVAILABLE.
 *
 * Fingerprints: with a client fingerprint (cell_tissue_opts.client), a
 * tissue uses only the instances that serve it.  An instance whose server
 * refuses the fingerprint at the handshake is skipped by calls and left out
 * of broadcasts until a new server binds its socket (seen at a rescan);
 * cell_tissue_stats() counts them.  Old and new versions of a cell can so
 * run side by side, each tissue calling its own.
 *
 * Delivery: a call retried after its instance died during the call may have
 * run there before it died (at-least-once execution); an answered call is
 * answered once.  Methods that must not run twice should be idempotent.
 *
 * A tissue is used by one thread at a time.  It starts no threads and does
 * I/O only inside its calls.
 */
#ifndef CELL_TISSUE_H
#define CELL_TISSUE_H

#include <stddef.h>
#include <stdint.h>
#include <linux/cell.h>
#include <cell/api.h>
#include <cell/rpc.h>
#include <cell/time.h>

#ifdef __cplusplus
extern "C" {
#endif

struct cell_tissue;

/* One instance's answer. */
struct cell_tissue_reply {
	const char *instance;	 /* "orders@2": owned by the tissue */
	enum cell_status status; /* OK, an error from the instance, or UNAVAILABLE */
	const void *data;	 /* response payload (OK) or error detail; a view */
	size_t len;
};

/*
 * How a tissue reaches one instance.  The default (ops = NULL) is libcell's
 * RPC client (cell/rpc.h); tests and other transports plug in here.  @ctx
 * is cell_tissue_opts.ops_ctx.  A connection has at most one call at a
 * time: start(), then wait() once, then release() once (release() is not
 * called when start() failed).
 */
struct cell_tissue_ops {
	size_t sz; /* sizeof(struct cell_tissue_ops) */
	/*
	 * Connect to instance @instance in @dir; NULL with errno on failure:
	 * EPROTONOSUPPORT when it serves another schema (fingerprint), which
	 * makes the tissue skip it (see cell_tissue_stats()).
	 */
	void *(*connect)(const char *dir, const char *instance, void *ctx);
	/* Send a request of @len bytes; do not wait for the answer. */
	enum cell_status (*start)(void *conn, uint16_t method, const void *req, size_t len,
				  uint64_t deadline, void *ctx);
	/*
	 * Wait for the answer of the started call until @deadline.  Sets
	 * *@resp and *@resp_len to a view (the payload, or the error detail)
	 * valid until release().  UNAVAILABLE, from start() or wait(), means
	 * the instance is gone: the tissue closes @conn and goes elsewhere.
	 */
	enum cell_status (*wait)(void *conn, uint64_t deadline, const void **resp, size_t *resp_len,
				 void *ctx);
	/* End the started call (its view; an unanswered call is cancelled). */
	void (*release)(void *conn, void *ctx);
	void (*close)(void *conn, void *ctx);
};

struct cell_tissue_opts {
	size_t sz;		 /* sizeof(struct cell_tissue_opts) */
	const char *runtime_dir; /* NULL: cell_runtime_dir() */
	/*
	 * Options of each instance's client (default ops): fingerprint,
	 * rings, backend, metrics...  runtime_dir and reconnect are set by
	 * the tissue.  NULL: defaults.
	 */
	const struct cell_client_opts *client;
	const struct cell_tissue_ops *ops; /* NULL: the RPC client */
	void *ops_ctx;
	/* Rescan the directory for new instances this often (0: 1 s). */
	uint64_t rescan_ns;
	/* Skip an instance this long after it failed (0: 100 ms). */
	uint64_t down_ns;
};

/*
 * Longest name a tissue accepts, leaving room for "@<instance>" (instance
 * numbers 1 to 999999) within a cell name (CELL_NAME_MAX - 1 bytes).
 */
#define CELL_TISSUE_NAME_MAX 24

/**
 * cell_tissue_open() - a tissue over the instances of @name ([a-z0-9_.-],
 * 1 to CELL_TISSUE_NAME_MAX bytes, not starting with '.').  Does not connect yet; @opts may be
 * NULL.  Instances may come and go at any time.
 * Return: the tissue, or NULL with errno (EINVAL for a bad name or options,
 * ENAMETOOLONG if the socket paths would not fit, ENOMEM).
 */
LIBCELL_API struct cell_tissue *cell_tissue_open(const char *name,
						 const struct cell_tissue_opts *opts);

/* cell_tissue_close() - close every connection and free @t (NULL: no-op). */
LIBCELL_API void cell_tissue_close(struct cell_tissue *t);

/**
 * cell_tissue_rescan() - read the runtime directory again now.  Known
 * instances keep their connections; vanished socket files are dropped.
 * Return: the number of instances found, or a negative errno.
 */
LIBCELL_API CELL_MUST_CHECK int cell_tissue_rescan(struct cell_tissue *t);

/* Number of instances found by the last scan. */
LIBCELL_API size_t cell_tissue_count(const struct cell_tissue *t);

/* Name of instance @i ("orders@2"), NULL if out of range. */
LIBCELL_API const char *cell_tissue_instance(const struct cell_tissue *t, size_t i);

/**
 * cell_tissue_call() - send one call to the next instance in turn, failing
 * over to the following ones on UNAVAILABLE until one answers or
 * @deadline passes (cell/time.h: absolute CLOCK_MONOTONIC ns, or
 * CELL_DEADLINE_NONE).  @reply (filled on
 * every return) stays valid until the next call, broadcast, rescan or close
 * on @t.
 * Return: the answer's status; NOT_FOUND when no instance of the name
 * exists, FINGERPRINT_MISMATCH when every one serves another fingerprint,
 * UNAVAILABLE when none could be reached, DEADLINE_EXCEEDED,
 * RESOURCE_EXHAUSTED on ENOMEM.
 */
LIBCELL_API enum cell_status cell_tissue_call(struct cell_tissue *t, uint16_t method,
					      const void *req, size_t req_len, uint64_t deadline,
					      struct cell_tissue_reply *reply);

/**
 * cell_tissue_broadcast() - send the call to every instance (after a
 * rescan), all at once, then collect one reply each, in instance order;
 * instances that cannot be reached report UNAVAILABLE, those still silent
 * at @deadline DEADLINE_EXCEEDED; instances of another fingerprint get no
 * call and no reply.  *@replies is an array owned by @t, valid until the
 * next call, broadcast, rescan or close on @t.
 * Return: the number of replies (0 if no instance exists), or a negative
 * errno (ENOMEM).
 */
LIBCELL_API CELL_MUST_CHECK int cell_tissue_broadcast(struct cell_tissue *t, uint16_t method,
						      const void *req, size_t req_len,
						      uint64_t deadline,
						      const struct cell_tissue_reply **replies);

/* What a tissue found and left out (cell_tissue_stats()). */
struct cell_tissue_stats {
	size_t sz;		    /* sizeof(struct cell_tissue_stats), set by the caller */
	uint64_t instances;	    /* found by the last scan (cell_tissue_count()) */
	uint64_t mismatched;	    /* of those, skipped: they serve another fingerprint */
	uint64_t mismatch_refusals; /* handshakes refused for the fingerprint, since open */
};

/**
 * cell_tissue_stats() - fill @out (its first @out->sz bytes; @out->sz
 * becomes the bytes filled).
 * Return: 0, or -EINVAL for a NULL @t or @out, or an @out->sz below a size_t.
 */
LIBCELL_API CELL_MUST_CHECK int cell_tissue_stats(const struct cell_tissue *t,
						  struct cell_tissue_stats *out);

#ifdef __cplusplus
}
#endif

#endif /* CELL_TISSUE_H */
