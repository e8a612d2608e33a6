// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Shared-memory SPSC ring (cell/ring.h; layout in <linux/cell.h>).
 *
 * Memory ordering
 * ---------------
 * Every word the two sides share (positions, @wake, @waiting, record
 * headers) is accessed with __atomic builtins; the payload bytes are plain
 * memory handed over by the positions:
 *
 * - The producer writes a record's payload and header, then publishes its
 *   tail with a RELEASE store.  The consumer reads the tail with an ACQUIRE
 *   load before it reads any header or payload below it, so it sees them
 *   whole.  A batch (cell_ring_commit_more()) writes several records and
 *   publishes the tail once, at the kick; the release covers them all.
 * - The consumer finishes with a record, then publishes its head with a
 *   RELEASE store.  The producer reads the head with an ACQUIRE load before
 *   it writes into the bytes freed, so it never writes under a reader.
 *
 * Sleeping is Dekker's pattern with a seq_cst fence on each side:
 *
 *   sleeper                               waker
 *   seen = peer.wake                      store position (release)
 *   own.waiting = 1                       fence(seq_cst)
 *   fence(seq_cst)                        if (peer.waiting)
 *   re-check position                             own.wake++, FUTEX_WAKE
 *   futex_wait(&peer.wake, seen)
 *
 * The fences order each side's store before its load, so at least one of
 * them sees the other's store: either the sleeper's re-check sees the new
 * position (it does not sleep), or the waker sees @waiting and bumps
 * @wake, which makes the FUTEX_WAIT fail with EAGAIN (bumped before it
 * went to sleep: @seen is stale) or wakes it.  A wake is never missed; a
 * spurious one costs a loop.  @waiting is cleared when the wait ends, so
 * the other side pays the wake system call only while somebody sleeps.
 *
 * Trust
 * -----
 * The shared pages are writable by the peer, so each side reads every
 * shared word once into a local, checks it, and uses only the local:
 * the geometry is copied and checked at attach (size, offsets), the
 * producer's tail must be 8-aligned, not behind the tail seen before and
 * at most one ring size ahead of the read position; a record header must
 * carry seq == low 32 bits of its position, a length within
 * CELL_RING_RECORD_MAX, and fit before the end of the data area and
 * before the tail; a WRAP record cannot sit at offset 0 and must be
 * followed by a record.  The producer checks the consumer's head the same
 * way (8-aligned, not going back, head <= tail, tail - head <= size).  The
 * first violation marks the ring broken for good (-EBADMSG).  A hostile
 * peer can still change payload bytes under a reader: readers of the
 * payload (the wire decoder) must check what they read.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <cell/ring.h>
#include <cell/time.h>

#include "cpu_relax.h"
#include "futex.h"
#include "ring_module.h"

#define HDR sizeof(struct cell_ring_record)

#define LOAD_ACQ(p)	__atomic_load_n((p), __ATOMIC_ACQUIRE)
#define LOAD_RLX(p)	__atomic_load_n((p), __ATOMIC_RELAXED)
#define STORE_REL(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define STORE_RLX(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)

_Static_assert(sizeof(struct cell_ring_record) == CELL_RING_ALIGN, "record header is one unit");
_Static_assert(CELL_RING_OFF_DATA % CELL_RING_PAGE == 0, "data is page aligned");

/* GCC warns that TSan does not model fences; the Dekker pair is not a data race. */
#if defined(__SANITIZE_THREAD__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wtsan"
#endif
static inline void full_fence(void)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}
#if defined(__SANITIZE_THREAD__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

/* The cache line the read side prefetches by (x86-64 and arm64). */
#define LINE 64

static inline uint64_t align_up(uint64_t n)
{
	return (n + CELL_RING_ALIGN - 1) & ~(uint64_t)(CELL_RING_ALIGN - 1);
}

/* Bytes a record of @len payload bytes takes in the ring. */
static inline uint64_t record_total(uint32_t len)
{
	return HDR + align_up(len);
}

static inline struct cell_ring_record *record_at(const struct cell_ring *r, uint64_t pos)
{
	return (struct cell_ring_record *)(r->data + (pos & r->mask));
}

static bool data_size_ok(uint64_t n)
{
	return n >= CELL_RING_MIN_DATA && n <= CELL_RING_MAX_DATA && !(n & (n - 1));
}

static void ring_break(struct cell_ring *r)
{
	r->broken = true;
}

/* ---- setup ------------------------------------------------------------- */

int cell_ring_create_memfd(uint64_t data_size)
{
	struct cell_ring_geometry g = {
		.magic = CELL_RING_MAGIC,
		.abi_version = CELL_ABI_VERSION,
		.geometry_size = sizeof(struct cell_ring_geometry),
		.page_size = CELL_RING_PAGE,
		.data_size = data_size,
		.producer_offset = CELL_RING_OFF_PRODUCER,
		.consumer_offset = CELL_RING_OFF_CONSUMER,
		.data_offset = CELL_RING_OFF_DATA,
	};
	int fd, err;

	if (!data_size_ok(data_size))
		return -EINVAL;
	fd = memfd_create("cell-ring", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)(CELL_RING_OFF_DATA + data_size)) < 0)
		goto fail;
	if (pwrite(fd, &g, sizeof(g), CELL_RING_OFF_GEOMETRY) != (ssize_t)sizeof(g)) {
		if (errno == 0)
			errno = EIO;
		goto fail;
	}
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		goto fail;
	return fd;
fail:
	err = errno;
	close(fd);
	return -err;
}

/* Whether a geometry (a private copy) describes a ring this ABI can use. */
static bool geometry_ok(const struct cell_ring_geometry *g, uint64_t expect_size)
{
	if (g->magic != CELL_RING_MAGIC || g->abi_version != CELL_ABI_VERSION ||
	    g->geometry_size != sizeof(*g) || g->page_size != CELL_RING_PAGE)
		return false;
	if (g->flags & ~(uint32_t)CELL_RING_GEOM_MODULE)
		return false;
	for (size_t i = 0; i < sizeof(g->reserved) / sizeof(g->reserved[0]); i++)
		if (g->reserved[i])
			return false;
	if (!data_size_ok(g->data_size) || (expect_size && g->data_size != expect_size))
		return false;
	return g->producer_offset == CELL_RING_OFF_PRODUCER &&
	       g->consumer_offset == CELL_RING_OFF_CONSUMER && g->data_offset == CELL_RING_OFF_DATA;
}

int cell_ring_attach_mem(struct cell_ring *r, void *map, size_t len, int role, uint64_t expect_size)
{
	struct cell_ring_geometry g;
	struct cell_ring_producer *prod;
	struct cell_ring_consumer *cons;
	uint64_t tail, head;

	if (role != CELL_ROLE_PRODUCER && role != CELL_ROLE_CONSUMER)
		return -EINVAL;
	if (!map || len < CELL_RING_OFF_DATA + CELL_RING_MIN_DATA)
		return -EBADMSG;
	/* One copy; the shared page may change under us, the copy does not. */
	memcpy(&g, (const uint8_t *)map + CELL_RING_OFF_GEOMETRY, sizeof(g));
	if (!geometry_ok(&g, expect_size) || len - CELL_RING_OFF_DATA < g.data_size)
		return -EBADMSG;

	prod = (struct cell_ring_producer *)((uint8_t *)map + CELL_RING_OFF_PRODUCER);
	cons = (struct cell_ring_consumer *)((uint8_t *)map + CELL_RING_OFF_CONSUMER);
	tail = LOAD_ACQ(&prod->position);
	head = LOAD_ACQ(&cons->position);
	if ((tail | head) & (CELL_RING_ALIGN - 1) || head > tail || tail - head > g.data_size)
		return -EBADMSG;

	memset(r, 0, sizeof(*r));
	r->geometry = (const struct cell_ring_geometry *)map;
	r->producer = prod;
	r->consumer = cons;
	r->data = (uint8_t *)map + CELL_RING_OFF_DATA;
	r->map = map;
	r->map_len = len;
	r->size = g.data_size;
	r->mask = g.data_size - 1;
	r->role = role;
	r->fd = -1;
	r->wake_fd = -1;
	r->spin_ns = CELL_RING_SPIN_DEFAULT_NS;
	if (role == CELL_ROLE_PRODUCER) {
		r->tail = tail;
		r->head_cache = head;
		/* A producer that died asleep left its flag behind. */
		STORE_RLX(&prod->waiting, 0);
	} else {
		r->read_pos = head;
		r->released = head;
		r->published = head;
		r->tail = tail; /* the consumer's last seen producer position */
		STORE_RLX(&cons->waiting, 0);
	}
	return 0;
}

int cell_ring_attach(struct cell_ring *r, int fd, int role, uint64_t expect_size)
{
	struct stat st;
	size_t len;
	void *map;
	int seals, rc;

	if (role != CELL_ROLE_PRODUCER && role != CELL_ROLE_CONSUMER)
		return -EINVAL;
	if (fstat(fd, &st) < 0)
		return -errno;
	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0) {
		struct cell_ring_geometry g;

		/* Not a memfd: only a /dev/cell ring will do. */
		if (cell_ring_module_is_ring(fd) > 0)
			return cell_ring_module_attach(r, fd, role, expect_size);
		if (!S_ISCHR(st.st_mode))
			return -EBADMSG;
		/* Its size is in its geometry, not in st_size. */
		map = mmap(NULL, CELL_RING_OFF_DATA, PROT_READ, MAP_SHARED, fd, 0);
		if (map == MAP_FAILED)
			return -errno;
		memcpy(&g, map, sizeof(g));
		munmap(map, CELL_RING_OFF_DATA);
		if (!geometry_ok(&g, expect_size))
			return -EBADMSG;
		len = CELL_RING_OFF_DATA + g.data_size;
	} else {
		/* Unsealed, the peer could shrink the file and fault us (SIGBUS). */
		if ((seals & (F_SEAL_SHRINK | F_SEAL_GROW)) != (F_SEAL_SHRINK | F_SEAL_GROW))
			return -EBADMSG;
		if (!S_ISREG(st.st_mode) || st.st_size < CELL_RING_OFF_DATA + CELL_RING_MIN_DATA ||
		    st.st_size > (off_t)CELL_RING_OFF_DATA + CELL_RING_MAX_DATA)
			return -EBADMSG;
		len = (size_t)st.st_size;
	}
	map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		return -errno;
	rc = cell_ring_attach_mem(r, map, len, role, expect_size);
	if (rc) {
		munmap(map, len);
		return rc;
	}
	r->fd = fd;
	return 0;
}

void cell_ring_detach(struct cell_ring *r)
{
	cell_ring_flush(r);
	if (r->map && r->fd >= 0) {
		munmap(r->map, r->map_len);
		close(r->fd);
	}
	memset(r, 0, sizeof(*r));
	r->fd = -1;
	r->wake_fd = -1;
}

void cell_ring_set_wake_fd(struct cell_ring *r, int efd)
{
	r->wake_fd = efd;
}

/* ---- waking and waiting ------------------------------------------------ */

/*
 * After publishing a position: wake the peer if it sleeps.  @peer_waiting
 * is the peer's flag, @own_wake the word it sleeps on.
 */
static void wake_peer(struct cell_ring *r, uint32_t *peer_waiting, uint32_t *own_wake)
{
	full_fence();
	if (!LOAD_RLX(peer_waiting))
		return;
	__atomic_fetch_add(own_wake, 1, __ATOMIC_RELEASE);
	if (r->wake_fd >= 0) {
		uint64_t one = 1;

		/* EAGAIN: the counter is saturated, the peer is awake anyway. */
		if (write(r->wake_fd, &one, sizeof(one)) < 0 && !r->wake_futex)
			return;
	}
	if (r->wake_fd >= 0 && !r->wake_futex)
		return;
	if (r->module)
		cell_ring_module_wake(r, own_wake);
	else
		cell_futex_wake(own_wake, INT_MAX);
}

/* Store the released head and wake a producer waiting for room. */
static void publish_head(struct cell_ring *r)
{
	if (r->published == r->released)
		return;
	r->published = r->released;
	STORE_REL(&r->consumer->position, r->released);
	wake_peer(r, &r->producer->waiting, &r->consumer->wake);
}

int cell_ring_sleep(struct cell_ring *r, uint32_t *word, uint32_t seen, uint64_t abs_ns)
{
	if (r->module)
		return cell_ring_module_wait(r, word, seen, abs_ns);
	return cell_futex_wait(word, seen, abs_ns);
}

void cell_ring_wake_all(struct cell_ring *r)
{
	if (!r->map)
		return;
	if (r->module) {
		/* The other side's page is read-only here. */
		cell_ring_module_wake_all(r);
		return;
	}
	__atomic_fetch_add(&r->producer->wake, 1, __ATOMIC_RELEASE);
	__atomic_fetch_add(&r->consumer->wake, 1, __ATOMIC_RELEASE);
	cell_futex_wake(&r->producer->wake, INT_MAX);
	cell_futex_wake(&r->consumer->wake, INT_MAX);
}

/* One attempt of a wait: 0 not yet, 1 done (success or a hard error). */
typedef int (*try_fn)(struct cell_ring *r, void *arg);

/*
 * Spin up to r->spin_ns (and @deadline) calling @try; adapt the budget.
 * Return: true if @try finished.
 */
static bool spin(struct cell_ring *r, try_fn try, void *arg, uint64_t deadline)
{
	uint64_t budget = r->spin_ns, start;

	if (budget == CELL_RING_SPIN_NONE)
		return false;
	if (budget == 0)
		budget = CELL_RING_SPIN_DEFAULT_NS;
	start = cell_now_ns();
	for (unsigned int i = 1;; i++) {
		if (try(r, arg)) {
			budget += budget / 8;
			r->spin_ns = budget > CELL_RING_SPIN_MAX_NS ? CELL_RING_SPIN_MAX_NS
								    : budget;
			return true;
		}
		cell_cpu_relax();
		if (!(i % 64)) {
			uint64_t now = cell_now_ns();

			if (now - start >= budget || now >= deadline)
				break;
		}
	}
	budget /= 2;
	r->spin_ns = budget < CELL_RING_SPIN_MIN_NS ? CELL_RING_SPIN_MIN_NS : budget;
	return false;
}

/*
 * Wait until @try finishes: spin, then sleep on @wake (the peer's word)
 * with @waiting (own flag) set, in slices, checking @alive.
 * Return: 0 (@try finished), -ETIMEDOUT or -EPIPE.
 */
static int wait_for(struct cell_ring *r, try_fn try, void *arg, uint32_t *wake, uint32_t *waiting,
		    uint64_t deadline, bool (*alive)(void *ctx), void *ctx)
{
	int rc;

	/* The consumer we wait for may sleep on records it was not woken for. */
	if (r->role == CELL_ROLE_PRODUCER)
		cell_ring_kick(r);
	if (spin(r, try, arg, deadline))
		return 0;
	if (r->role == CELL_ROLE_CONSUMER)
		publish_head(r); /* a producer may be waiting for that room */
	for (;;) {
		uint32_t seen = LOAD_ACQ(wake);
		uint64_t now, until;

		STORE_RLX(waiting, 1);
		full_fence();
		if (try(r, arg)) {
			rc = 0;
			break;
		}
		now = cell_now_ns();
		if (now >= deadline) {
			rc = -ETIMEDOUT;
			break;
		}
		/* Before every sleep: a wake that found nothing may mean the peer died. */
		if (alive && !alive(ctx)) {
			rc = -EPIPE;
			break;
		}
		until = deadline - now > CELL_RING_WAIT_SLICE_NS ? now + CELL_RING_WAIT_SLICE_NS
								 : deadline;
		if (cell_ring_sleep(r, wake, seen, until) == -EPIPE) {
			rc = -EPIPE;
			break;
		}
	}
	STORE_RLX(waiting, 0);
	return rc;
}

/* ---- producer ---------------------------------------------------------- */

void *cell_ring_reserve(struct cell_ring *r, uint32_t len)
{
	uint64_t total, tail, off, to_end, at, need;

	if (r->role != CELL_ROLE_PRODUCER) {
		errno = EINVAL;
		return NULL;
	}
	if (r->broken) {
		errno = EBADMSG;
		return NULL;
	}
	if (r->reserved_len) {
		errno = EBUSY;
		return NULL;
	}
	if (len > CELL_RING_RECORD_MAX(r->size)) {
		errno = EMSGSIZE;
		return NULL;
	}
	total = record_total(len);
	tail = r->tail;
	off = tail & r->mask;
	to_end = r->size - off;
	at = tail;
	need = total;
	if (total > to_end) {
		/* Never split: a WRAP record fills the rest of this lap. */
		at = tail + to_end;
		need = to_end + total;
	}
	if (tail + need - r->head_cache > r->size) {
		uint64_t head = LOAD_ACQ(&r->consumer->position);

		if (head & (CELL_RING_ALIGN - 1) || head < r->head_cache || head > tail ||
		    tail - head > r->size) {
			ring_break(r);
			errno = EBADMSG;
			return NULL;
		}
		r->head_cache = head;
		if (tail + need - head > r->size) {
			errno = EAGAIN;
			return NULL;
		}
	}
	if (at != tail) {
		struct cell_ring_record *wrap = record_at(r, tail);

		STORE_RLX(&wrap->len, CELL_RECORD_WRAP);
		STORE_RLX(&wrap->seq, (uint32_t)tail);
	}
	r->reserved_at = at;
	r->reserved_len = (uint32_t)(HDR + len); /* never 0: 0 means none */
	return record_at(r, at) + 1;
}

struct reserve_try {
	uint32_t len;
	int err;
	void *p;
};

static int try_reserve(struct cell_ring *r, void *arg)
{
	struct reserve_try *t = arg;

	t->p = cell_ring_reserve(r, t->len);
	if (t->p)
		return 1;
	t->err = errno;
	return t->err != EAGAIN;
}

void *cell_ring_reserve_wait(struct cell_ring *r, uint32_t len, uint64_t deadline,
			     bool (*alive)(void *ctx), void *ctx)
{
	struct reserve_try t = { .len = len };
	int rc;

	if (try_reserve(r, &t)) {
		errno = t.err;
		return t.p;
	}
	rc = wait_for(r, try_reserve, &t, &r->consumer->wake, &r->producer->waiting, deadline,
		      alive, ctx);
	if (rc) {
		errno = -rc;
		return NULL;
	}
	if (!t.p)
		errno = t.err;
	return t.p;
}

static int commit(struct cell_ring *r, uint32_t len, bool more)
{
	struct cell_ring_record *rec;
	uint64_t pos, tail;

	if (r->role != CELL_ROLE_PRODUCER || !r->reserved_len || len > r->reserved_len - HDR)
		return -EINVAL;
	pos = r->reserved_at;
	rec = record_at(r, pos);
	STORE_RLX(&rec->len, len);
	STORE_RLX(&rec->seq, (uint32_t)pos);
	tail = pos + record_total(len);
	r->tail = tail;
	r->reserved_len = 0;
	r->unkicked = more;
	if (more)
		return 0; /* published by the kick that ends the batch */
	STORE_REL(&r->producer->position, tail);
	wake_peer(r, &r->consumer->waiting, &r->producer->wake);
	return 0;
}

int cell_ring_commit(struct cell_ring *r, uint32_t len)
{
	return commit(r, len, false);
}

int cell_ring_commit_more(struct cell_ring *r, uint32_t len)
{
	return commit(r, len, true);
}

void cell_ring_kick(struct cell_ring *r)
{
	if (r->role != CELL_ROLE_PRODUCER || !r->unkicked)
		return;
	r->unkicked = false;
	STORE_REL(&r->producer->position, r->tail);
	wake_peer(r, &r->consumer->waiting, &r->producer->wake);
}

void cell_ring_abort(struct cell_ring *r)
{
	r->reserved_len = 0;
}

/* ---- consumer ---------------------------------------------------------- */

int cell_ring_read(struct cell_ring *r, struct cell_ring_view *v)
{
	uint64_t tail, pos, max;

	if (r->role != CELL_ROLE_CONSUMER)
		return -EINVAL;
	if (r->broken)
		return -EBADMSG;
	tail = LOAD_ACQ(&r->producer->position);
	pos = r->read_pos;
	if (tail & (CELL_RING_ALIGN - 1) || tail < r->tail || tail - pos > r->size)
		goto broken;
	r->tail = tail;
	if (tail == pos)
		return -EAGAIN;
	max = CELL_RING_RECORD_MAX(r->size);
	for (;;) {
		uint64_t off = pos & r->mask, total;
		struct cell_ring_record *rec = record_at(r, pos);
		uint32_t len, seq;

		/*
		 * Published bytes past this cache line: ask for the next line
		 * now, beside the header's, not once the header has told the
		 * length (two misses in series; a 32-byte traced request or a
		 * 64-byte one).  Never a line that is not published yet.
		 */
		if (tail - pos > LINE - (off & (LINE - 1)) && off + LINE < r->size)
			__builtin_prefetch((const char *)rec + LINE);
		len = LOAD_RLX(&rec->len);
		seq = LOAD_RLX(&rec->seq);

		if (seq != (uint32_t)pos)
			goto broken; /* torn, stale (an earlier lap) or forged */
		if (len == CELL_RECORD_WRAP) {
			/* At offset 0 nothing needs wrapping: this also stops a second WRAP. */
			if (off == 0)
				goto broken;
			pos += r->size - off;
			if (pos >= tail)
				goto broken; /* a WRAP is only published with its record */
			continue;
		}
		total = record_total(len);
		if (len > max || total > r->size - off || total > tail - pos)
			goto broken;
		/* The end too (a trace trailer is read first), while the rest streams. */
		if (len > LINE)
			__builtin_prefetch((const char *)(rec + 1) + len - 1);
		v->data = rec + 1;
		v->len = len;
		v->end = pos + total;
		r->read_pos = v->end;
		return 0;
	}
broken:
	ring_break(r);
	return -EBADMSG;
}

static int try_read(struct cell_ring *r, void *arg)
{
	int rc = cell_ring_read(r, arg);

	return rc != -EAGAIN;
}

int cell_ring_read_wait(struct cell_ring *r, struct cell_ring_view *v, uint64_t deadline,
			bool (*alive)(void *ctx), void *ctx)
{
	int rc = cell_ring_read(r, v);

	if (rc != -EAGAIN)
		return rc;
	/* try_read() keeps no code: it finished with a record or broke the ring. */
	rc = wait_for(r, try_read, v, &r->producer->wake, &r->consumer->waiting, deadline, alive,
		      ctx);
	if (rc)
		return rc;
	return r->broken ? -EBADMSG : 0;
}

void cell_ring_release(struct cell_ring *r, uint64_t end)
{
	/* Ends not handed out by cell_ring_read() (ahead of it, unaligned) are ignored. */
	if (r->role != CELL_ROLE_CONSUMER || end <= r->released || end > r->read_pos ||
	    end & (CELL_RING_ALIGN - 1))
		return;
	r->released = end;
	/* Lazily (see cell/ring.h): only when it matters to the producer. */
	if (r->lazy_release && end - r->published < r->size / 8 && !LOAD_RLX(&r->producer->waiting))
		return;
	publish_head(r);
}

void cell_ring_flush(struct cell_ring *r)
{
	if (r->role == CELL_ROLE_CONSUMER && r->map && !r->broken)
		publish_head(r);
	else if (r->role == CELL_ROLE_PRODUCER && r->map && !r->broken)
		cell_ring_kick(r);
}

/* ---- sleeping elsewhere ------------------------------------------------ */

bool cell_ring_pending(const struct cell_ring *r)
{
	if (r->role != CELL_ROLE_CONSUMER)
		return false;
	/* A broken ring is "pending" so the caller reads and gets -EBADMSG. */
	return r->broken || LOAD_ACQ(&r->producer->position) != r->read_pos;
}

bool cell_ring_prepare_sleep(struct cell_ring *r)
{
	if (r->role != CELL_ROLE_CONSUMER)
		return false;
	publish_head(r);
	STORE_RLX(&r->consumer->waiting, 1);
	full_fence();
	if (cell_ring_pending(r)) {
		STORE_RLX(&r->consumer->waiting, 0);
		return false;
	}
	return true;
}

void cell_ring_end_sleep(struct cell_ring *r)
{
	if (r->role == CELL_ROLE_CONSUMER)
		STORE_RLX(&r->consumer->waiting, 0);
	else if (r->role == CELL_ROLE_PRODUCER)
		STORE_RLX(&r->producer->waiting, 0);
}

bool cell_ring_has_room(struct cell_ring *r, uint32_t len)
{
	uint64_t total, off, need, head;

	if (r->role != CELL_ROLE_PRODUCER || r->broken)
		return true;
	if (len > CELL_RING_RECORD_MAX(r->size))
		return false;
	total = record_total(len);
	off = r->tail & r->mask;
	need = total > r->size - off ? r->size - off + total : total;
	if (r->tail + need - r->head_cache <= r->size)
		return true;
	head = LOAD_ACQ(&r->consumer->position);
	/* An impossible head is left for cell_ring_reserve() to report. */
	if (head & (CELL_RING_ALIGN - 1) || head < r->head_cache || head > r->tail ||
	    r->tail - head > r->size)
		return true;
	r->head_cache = head;
	return r->tail + need - head <= r->size;
}

bool cell_ring_prepare_sleep_room(struct cell_ring *r, uint32_t len)
{
	if (r->role != CELL_ROLE_PRODUCER)
		return false;
	cell_ring_kick(r);
	STORE_RLX(&r->producer->waiting, 1);
	full_fence();
	if (cell_ring_has_room(r, len)) {
		STORE_RLX(&r->producer->waiting, 0);
		return false;
	}
	return true;
}
