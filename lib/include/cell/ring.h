/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * Rings: one producer, one consumer, shared memory laid out as in
 * <linux/cell.h> (geometry page, producer page, consumer page, data).
 *
 * The producer writes a record in place (cell_ring_reserve(), then
 * cell_ring_commit()); the consumer reads it in place (cell_ring_read())
 * and gives the bytes back (cell_ring_release()).  Neither side trusts the
 * other: the consumer checks each record's length, sequence and bounds
 * and the producer's position before reading a byte, and the producer
 * checks the consumer's position, so a peer that scribbles over the shared
 * pages gets -EBADMSG on this side, never a crash, a hang or a read out of
 * bounds.
 *
 * Waiting: a side that finds the ring empty (consumer) or full (producer)
 * spins for a bounded, adaptive time, then sets its @waiting flag and
 * sleeps on the other side's @wake word with futex(2), in slices so that a
 * caller-given liveness check runs at least every CELL_RING_WAIT_SLICE_NS.
 * The other side pays a wake system call only when it sees the flag.  A
 * side may instead be woken through an eventfd (cell_ring_set_wake_fd()),
 * for a server that sleeps in epoll over many rings.
 *
 * A struct cell_ring is one side's private view: the producer's from one
 * thread at a time, the consumer's from one thread at a time (callers
 * lock).  The two sides may be in different processes.
 */
#ifndef CELL_RING_H
#define CELL_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/cell.h>
#include <cell/api.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Longest futex sleep between two liveness checks. */
#define CELL_RING_WAIT_SLICE_NS (20ULL * 1000 * 1000)

/*
 * Spin budgets of the waits (struct cell_ring @spin_ns): attach starts at
 * the default; each wait grows the budget when spinning found what it
 * waited for and shrinks it when it had to sleep, within MIN..MAX.
 * CELL_RING_SPIN_NONE (== CELL_SPIN_NONE of <cell/rpc.h>) never spins and
 * never adapts; 0 restarts from the default.
 */
#define CELL_RING_SPIN_DEFAULT_NS (20ULL * 1000)
#define CELL_RING_SPIN_MIN_NS	  (1ULL * 1000)
#define CELL_RING_SPIN_MAX_NS	  (200ULL * 1000)
#define CELL_RING_SPIN_NONE	  UINT64_MAX

/* Largest record payload a ring of @data_size bytes can carry. */
#define CELL_RING_RECORD_MAX(data_size) \
	((uint32_t)((data_size) / 2 - sizeof(struct cell_ring_record)))

struct cell_ring {
	/* Shared (mapped) memory: trust nothing read from it. */
	const struct cell_ring_geometry *geometry;
	struct cell_ring_producer *producer;
	struct cell_ring_consumer *consumer;
	uint8_t *data;
	void *map;
	size_t map_len;
	/* Private, validated at map time. */
	uint64_t size; /* data bytes, a power of two */
	uint64_t mask;
	int role;    /* CELL_ROLE_PRODUCER or CELL_ROLE_CONSUMER */
	int fd;	     /* the ring's file (owned), -1 if closed */
	int wake_fd; /* eventfd to signal instead of futex-waking the peer, -1: none */
	/* Producer: own tail, last seen head, the open reservation. */
	uint64_t tail;
	uint64_t head_cache;
	uint64_t reserved_at;  /* position of the reserved record */
	uint32_t reserved_len; /* 0: no reservation */
	/* Consumer: next record to read, bytes released so far. */
	uint64_t read_pos;
	uint64_t released;
	uint64_t published; /* head last stored in the consumer page */
	/*
	 * Consumer: publish released bytes lazily (set after attach).  Every
	 * store of the head moves the consumer's cache line, which the
	 * producer reads on every commit (the @waiting flag): deferring it
	 * saves a cache miss per record on each side.  The head then goes out
	 * once an eighth of the ring is pending, when the producer waits for
	 * room, before this side sleeps, at cell_ring_flush() and at detach.
	 * A producer that polls cell_ring_reserve() without waiting may see
	 * the room late: use it with waiting producers.
	 */
	bool lazy_release;
	/* Adaptive spin budget (ns) before sleeping. */
	uint64_t spin_ns;
	bool broken;	 /* the peer broke the protocol: every call fails -EBADMSG */
	bool wake_futex; /* with wake_fd: futex-wake the peer as well */
	bool module;	 /* a /dev/cell ring: wait and wake through its ioctls */
	/* Producer: records committed by cell_ring_commit_more() not yet kicked. */
	bool unkicked;
};

/* A record read in place. */
struct cell_ring_view {
	const void *data; /* 8-byte aligned */
	uint32_t len;
	uint64_t end; /* pass to cell_ring_release() */
};

/**
 * cell_ring_create_memfd() - a new ring in a sealed memfd (SHRINK, GROW,
 * SEAL), initialised (geometry written, positions zero).
 * @data_size: power of two, CELL_RING_MIN_DATA..CELL_RING_MAX_DATA.
 * Return: the fd (close-on-exec), or a negative errno.
 */
LIBCELL_API CELL_MUST_CHECK int cell_ring_create_memfd(uint64_t data_size);

/**
 * cell_ring_attach() - map the ring in @fd as @role (CELL_ROLE_PRODUCER or
 * CELL_ROLE_CONSUMER), after checking the file: a memfd sealed against
 * shrinking and growing (or a /dev/cell ring fd), large enough for its
 * geometry, and a geometry that matches the ABI.  Takes ownership of @fd
 * on success only.
 * @expect_size: data size the handshake agreed on, or 0 for any.
 * Return: 0, -EBADMSG (bad geometry or seals), or a negative errno.
 */
LIBCELL_API CELL_MUST_CHECK int cell_ring_attach(struct cell_ring *r, int fd, int role,
						 uint64_t expect_size);

/**
 * cell_ring_attach_mem() - cell_ring_attach() over @len bytes at @map that
 * the caller mapped (shared with the peer) and keeps: cell_ring_detach()
 * neither unmaps nor closes anything.  Checks the geometry and positions
 * as cell_ring_attach() does (not the seals: the caller vouches for the
 * mapping's size).  For both sides of a ring in one mapping, and for tests
 * and fuzzers that build a ring image by hand.  @map must be page aligned.
 * Return: 0, -EBADMSG (bad geometry or positions), -EINVAL (bad @role).
 */
LIBCELL_API CELL_MUST_CHECK int cell_ring_attach_mem(struct cell_ring *r, void *map, size_t len,
						     int role, uint64_t expect_size);

/* cell_ring_detach() - unmap and close.  Safe on a zeroed or detached ring. */
LIBCELL_API void cell_ring_detach(struct cell_ring *r);

/**
 * cell_ring_set_wake_fd() - wake this ring's peer through @efd (an
 * eventfd: write 1) instead of futex(2) (as well as futex(2) if
 * r->wake_futex is set, for a peer that sleeps either way).  The peer sleeps in poll/epoll
 * on its copy of @efd and sets its @waiting flag first, as with a futex.
 */
LIBCELL_API void cell_ring_set_wake_fd(struct cell_ring *r, int efd);

/**
 * cell_ring_has_room() - producer: whether a record of @len bytes fits now
 * (without reserving it).  A broken ring says true, so that the caller's
 * next reserve reports -EBADMSG.
 */
LIBCELL_API bool cell_ring_has_room(struct cell_ring *r, uint32_t len);

/**
 * cell_ring_prepare_sleep_room() - producer: set the @waiting flag before
 * sleeping elsewhere (epoll on the wake eventfd) until the consumer frees
 * room for a record of @len bytes.  Clear it with cell_ring_end_sleep().
 * Return: true if there is still no room (sleep), false if room came
 * meanwhile (the flag is cleared again).
 */
LIBCELL_API bool cell_ring_prepare_sleep_room(struct cell_ring *r, uint32_t len);

/* ---- producer --------------------------------------------------------- */

/**
 * cell_ring_reserve() - room for a record of @len bytes, without waiting.
 * Return: a pointer to @len writable bytes (8-byte aligned) in the ring,
 * or NULL with errno: EAGAIN (not enough free space now), EMSGSIZE (@len
 * above CELL_RING_RECORD_MAX), EBUSY (a reservation is open), EBADMSG
 * (the consumer's position is impossible).
 */
LIBCELL_API void *cell_ring_reserve(struct cell_ring *r, uint32_t len);

/**
 * cell_ring_reserve_wait() - cell_ring_reserve(), waiting while the ring
 * is full (spin, then sleep) until @deadline (CLOCK_MONOTONIC ns).
 * @alive: called at least every CELL_RING_WAIT_SLICE_NS while asleep;
 *	   returning false ends the wait with EPIPE.  May be NULL.
 * Return: as cell_ring_reserve(), plus ETIMEDOUT and EPIPE.
 */
LIBCELL_API void *cell_ring_reserve_wait(struct cell_ring *r, uint32_t len, uint64_t deadline,
					 bool (*alive)(void *ctx), void *ctx);

/**
 * cell_ring_commit() - publish the first @len bytes (at most those
 * reserved) of the open reservation, and wake the consumer if it sleeps.
 * Return: 0, or -EINVAL (no reservation, @len too long).
 */
LIBCELL_API CELL_MUST_CHECK int cell_ring_commit(struct cell_ring *r, uint32_t len);

/**
 * cell_ring_commit_more() - cell_ring_commit() for a batch: the record is
 * written but the tail is not published and the consumer not woken (no
 * store to the producer's line, no fence, no look at the consumer's flag
 * per record).  The next cell_ring_commit() or cell_ring_kick() publishes
 * every record of the batch at once.  A wait for room
 * (cell_ring_reserve_wait(), cell_ring_prepare_sleep_room()),
 * cell_ring_flush() and cell_ring_detach() kick first, so a batch larger
 * than the ring cannot deadlock.
 * Return: as cell_ring_commit().
 */
LIBCELL_API CELL_MUST_CHECK int cell_ring_commit_more(struct cell_ring *r, uint32_t len);

/**
 * cell_ring_kick() - producer: after cell_ring_commit_more(), publish the
 * tail and wake the consumer if it sleeps (once for the whole batch).  A
 * no-op when nothing was committed with cell_ring_commit_more() since.
 */
LIBCELL_API void cell_ring_kick(struct cell_ring *r);

/* cell_ring_abort() - drop the open reservation (nothing is published). */
LIBCELL_API void cell_ring_abort(struct cell_ring *r);

/* ---- consumer --------------------------------------------------------- */

/**
 * cell_ring_read() - the next record after the last one read, in place,
 * without waiting.  Records stay readable until released.
 * Return: 0 with *@v set, -EAGAIN (nothing new), -EBADMSG (a torn, stale,
 * out-of-bounds record or an impossible producer position: the ring is
 * then broken for good).
 */
LIBCELL_API CELL_MUST_CHECK int cell_ring_read(struct cell_ring *r, struct cell_ring_view *v);

/**
 * cell_ring_read_wait() - cell_ring_read(), waiting until a record comes
 * or @deadline; @alive as for cell_ring_reserve_wait().
 * Return: as cell_ring_read(), plus -ETIMEDOUT and -EPIPE.
 */
LIBCELL_API CELL_MUST_CHECK int cell_ring_read_wait(struct cell_ring *r, struct cell_ring_view *v,
						    uint64_t deadline, bool (*alive)(void *ctx),
						    void *ctx);

/**
 * cell_ring_release() - give back every byte up to @end (a view's end) to
 * the producer, waking it if it waits for space.  Records are released in
 * the order they were read; releasing an earlier end again is a no-op.
 */
LIBCELL_API void cell_ring_release(struct cell_ring *r, uint64_t end);

/**
 * cell_ring_sleep() - sleep while *@word (one of the ring's two @wake
 * words) equals @seen, until woken or the absolute CLOCK_MONOTONIC time
 * @abs_ns: futex(2) on a memfd ring, the wait ioctl on a /dev/cell ring.
 * Return: 0 (woken, maybe spuriously, or the word differs), -ETIMEDOUT,
 * -EINTR, -EPIPE (module rings: the peer closed its side).
 */
LIBCELL_API int cell_ring_sleep(struct cell_ring *r, uint32_t *word, uint32_t seen,
				uint64_t abs_ns);

/*
 * cell_ring_flush() - consumer: publish every released byte now; producer:
 * publish the tail and kick (cell_ring_kick()).
 */
LIBCELL_API void cell_ring_flush(struct cell_ring *r);

/* ---- sleeping without reading (servers over many rings) --------------- */

/**
 * cell_ring_prepare_sleep() - consumer: set the @waiting flag before
 * sleeping elsewhere (epoll on the wake eventfd).
 * Return: true if the ring is still empty (sleep), false if a record came
 * meanwhile (the flag is cleared again: read it).
 */
LIBCELL_API bool cell_ring_prepare_sleep(struct cell_ring *r);

/* cell_ring_end_sleep() - clear this side's @waiting flag after waking. */
LIBCELL_API void cell_ring_end_sleep(struct cell_ring *r);

/* cell_ring_pending() - consumer: whether a record is ready to read. */
LIBCELL_API bool cell_ring_pending(const struct cell_ring *r);

/**
 * cell_ring_wake_all() - wake every sleeper on both words of @r, whatever
 * the flags say (after peer death, so local waiters notice it).
 */
LIBCELL_API void cell_ring_wake_all(struct cell_ring *r);

#ifdef __cplusplus
}
#endif

#endif /* CELL_RING_H */
