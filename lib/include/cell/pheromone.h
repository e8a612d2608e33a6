/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * Pheromone filter: keep malformed and unwanted discovery datagrams
 * (struct cell_pheromone, <linux/cell.h>) away from the discovery socket.
 *
 * cell_pheromone_filter_attach() loads the BPF socket filter of
 * bpf/pheromone.bpf.c and attaches it to a UDP socket (SO_ATTACH_BPF).
 * From then on the socket receives only datagrams that are exactly
 * CELL_PHEROMONE_SIZE bytes, pass cell_pheromone_check() and advertise a
 * subscribed cell; the kernel drops the rest and counts each drop by
 * reason.  The subscribed set starts empty (everything is dropped) and is
 * changed at any time with cell_pheromone_filter_subscribe():
 *   name and fingerprint   that cell built from that schema
 *   name, fingerprint 0     that cell, any schema
 *   NULL, fingerprint       any cell built from that schema
 *   NULL, 0                 every well-formed datagram
 * The signature is not checked by the filter: the daemon verifies it.
 *
 * Needs CAP_BPF (or root) to load; the library is built with it only when
 * libbpf is available (not in CELL_RPC_ONLY builds).  Conventions as in
 * cell/rpc.h: statuses, cell_last_error() (cell/rpc.h) for the detail, NULL and errno
 * for pointers.  A filter may be used from one thread at a time.
 */
#ifndef CELL_PHEROMONE_H
#define CELL_PHEROMONE_H

#include <stddef.h>
#include <stdint.h>
#include <linux/cell.h>
#include <cell/api.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What the filter decided; the order is the order of the checks. */
enum cell_pheromone_verdict {
	CELL_PHEROMONE_PASS = 0,
	CELL_PHEROMONE_MALFORMED = 1,	 /* IP or UDP header unreadable or inconsistent */
	CELL_PHEROMONE_BAD_LENGTH = 2,	 /* not exactly CELL_PHEROMONE_SIZE bytes */
	CELL_PHEROMONE_BAD_MAGIC = 3,	 /* magic is not CELL_PHEROMONE_MAGIC */
	CELL_PHEROMONE_BAD_VERSION = 4,	 /* version is not CELL_PHEROMONE_VERSION */
	CELL_PHEROMONE_BAD_FLAGS = 5,	 /* a flag outside CELL_PHEROMONE_FLAGS */
	CELL_PHEROMONE_BAD_RESERVED = 6, /* a reserved field is not zero */
	CELL_PHEROMONE_BAD_TTL = 7,	 /* ttl not in 1..CELL_PHEROMONE_TTL_MAX */
	/* endpoint_count above CELL_PHEROMONE_ENDPOINTS; a used endpoint with
	 * an unknown family or transport or port 0; an unused one not NONE */
	CELL_PHEROMONE_BAD_ENDPOINTS = 8,
	/* empty, a byte outside [a-z0-9_.@-], or bytes after the NUL padding */
	CELL_PHEROMONE_BAD_NAME = 9,
	CELL_PHEROMONE_UNSUBSCRIBED = 10, /* well-formed, but not subscribed */
	CELL_PHEROMONE_NR_VERDICTS = 11,
};

/*
 * The checks of the BPF filter on a datagram's payload, in userspace (the
 * same code): a verdict from BAD_LENGTH to BAD_NAME, or PASS.  Never
 * MALFORMED (no IP header here) nor UNSUBSCRIBED.
 */
LIBCELL_API enum cell_pheromone_verdict cell_pheromone_check(const void *buf, size_t len);

/* "pass", "malformed", "bad_length", ... ; "unknown" out of range. */
LIBCELL_API const char *cell_pheromone_verdict_name(int verdict);

struct cell_pheromone_filter;

/* Load the filter and attach it to UDP socket @fd; NULL and errno. */
LIBCELL_API struct cell_pheromone_filter *cell_pheromone_filter_attach(int fd);

/* Add or remove a subscription; @name is NULL or up to CELL_NAME_MAX
 * bytes of [a-z0-9_.@-]. */
LIBCELL_API CELL_MUST_CHECK enum cell_status
cell_pheromone_filter_subscribe(struct cell_pheromone_filter *f, const char *name,
				uint64_t fingerprint);
LIBCELL_API CELL_MUST_CHECK enum cell_status
cell_pheromone_filter_unsubscribe(struct cell_pheromone_filter *f, const char *name,
				  uint64_t fingerprint);

/* Datagrams judged since attach, by verdict (summed over CPUs). */
LIBCELL_API CELL_MUST_CHECK enum cell_status
cell_pheromone_filter_stats(struct cell_pheromone_filter *f,
			    uint64_t counts[CELL_PHEROMONE_NR_VERDICTS]);

/* Detach from the socket (if it is still open) and free; NULL is fine. */
LIBCELL_API void cell_pheromone_filter_free(struct cell_pheromone_filter *f);

#ifdef __cplusplus
}
#endif

#endif /* CELL_PHEROMONE_H */
