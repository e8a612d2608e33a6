/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * The cluster's replicated key-value store (celld's Raft group,
 * Documentation/raft.rst), through the nucleus of a runtime directory.
 *
 * A node that does not lead answers NOT_LEADER with the leader's nucleus
 * endpoint; these calls go there (unix: endpoints only, i.e. nodes on this
 * machine or sharing its runtime directories) and, after a lost answer, a
 * restarted node or a leader change, send the same request again until the
 * caller's deadline.  Every write of a handle carries its client id and a
 * request number, both kept across those retries, so the cluster applies it
 * once however often it arrives.  OK means committed and applied; any
 * other status of a write means its effect is not known to have happened
 * (DEADLINE_EXCEEDED and UNAVAILABLE: it may still commit), never that it
 * was acknowledged.  Reads are linearizable (a barrier through the
 * leader).
 *
 * A handle is used by one thread at a time.
 */
#ifndef CELL_KV_H
#define CELL_KV_H

#include <stddef.h>
#include <stdint.h>

#include <cell/api.h>
#include <linux/cell.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CELL_KV_KEY_MAX	  256	      /* bytes of a key, 1.. */
#define CELL_KV_VALUE_MAX (64u << 10) /* bytes of a value */

/* What a call did (the state machine's answer), when the status is OK. */
enum cell_kv_outcome {
	CELL_KV_DONE = 0,	  /* put, del, cas that matched, get that found */
	CELL_KV_CAS_MISMATCH = 1, /* cas: the key held something else (or existed, for absent) */
	CELL_KV_ABSENT = 2,	  /* get, del or cas of a key that does not exist */
	CELL_KV_FULL = 3,	  /* the store's key or byte limit refused the write */
	CELL_KV_STALE = 4,	  /* an older request of this handle: ignored */
};

struct cell_kv_result {
	enum cell_kv_outcome outcome;
	uint64_t revision;	/* the key's revision (after a write) */
	size_t value_len;	/* get: the value's full length (copied: up to cap) */
	unsigned int redirects; /* NOT_LEADER answers followed */
	unsigned int retries;	/* attempts after the first */
};

struct cell_kv;

/*
 * cell_kv_open() - a handle on the store through the nucleus of
 * @runtime_dir (NULL: cell_runtime_dir()), with a fresh random client id.
 * Nothing is connected yet.  Return: the handle, or NULL (errno).
 */
LIBCELL_API struct cell_kv *cell_kv_open(const char *runtime_dir);
LIBCELL_API void cell_kv_close(struct cell_kv *kv);

/*
 * cell_kv_get() - the value of @key: copied into @buf (up to @cap bytes),
 * its length in @res->value_len; outcome ABSENT if there is none.
 * Return: OK, TOO_LARGE (@cap too small: nothing copied, value_len set),
 * DEADLINE_EXCEEDED, UNAVAILABLE (no node reachable), INVALID_ARGUMENT,
 * or another status of the nucleus (cell_last_error() has its detail).
 */
LIBCELL_API enum cell_status cell_kv_get(struct cell_kv *kv, const void *key, size_t key_len,
					 void *buf, size_t cap, struct cell_kv_result *res,
					 uint64_t deadline);

/* cell_kv_put() - set @key to @value. */
LIBCELL_API enum cell_status cell_kv_put(struct cell_kv *kv, const void *key, size_t key_len,
					 const void *value, size_t value_len,
					 struct cell_kv_result *res, uint64_t deadline);

/*
 * cell_kv_cas() - set @key to @value if it holds @expect (@expect NULL: if
 * it does not exist); else outcome CAS_MISMATCH or ABSENT.
 */
LIBCELL_API enum cell_status cell_kv_cas(struct cell_kv *kv, const void *key, size_t key_len,
					 const void *expect, size_t expect_len, const void *value,
					 size_t value_len, struct cell_kv_result *res,
					 uint64_t deadline);

/* cell_kv_del() - remove @key (outcome ABSENT if it did not exist). */
LIBCELL_API enum cell_status cell_kv_del(struct cell_kv *kv, const void *key, size_t key_len,
					 struct cell_kv_result *res, uint64_t deadline);

#ifdef __cplusplus
}
#endif

#endif /* CELL_KV_H */
