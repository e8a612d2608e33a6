/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/*
 * The replicated state of a celld cluster (Documentation/raft.rst): a small
 * key-value store for cells and the cluster-wide registry (which cell runs
 * on which node, with its fingerprint), changed only by commands that Raft
 * has committed, applied in log order on every node.
 *
 * Commands carry the client's id and a per-client request number: the
 * state machine remembers the last request and its result per client, so a
 * command committed twice (a client retrying after a lost answer or a
 * leader change) takes effect once and answers the same both times.
 *
 * Everything here is deterministic (no clocks, no randomness, no pointers
 * in results): every node that applies the same commands holds the same
 * state, and kv_state_digest() says so.
 *
 * Threads: one thread (the raft loop) owns a struct kv_state.  The only
 * thing another thread may touch is a frozen view (kv_state_freeze()):
 * kv_view_snapshot() reads it, and nothing else, while the owner keeps
 * applying commands.  That is safe because entries are immutable (a put
 * makes a new one) and an entry dropped while a view exists is kept in a
 * graveyard until the last view is thawed; the view has its own copies of
 * the entry arrays and the sessions.  The hand-over of a view to the other
 * thread and back must be ordered by the caller (libraft's uv_queue_work).
 */
#ifndef CELLD_KV_H
#define CELLD_KV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <raft.h>

#define KV_CMD_VERSION	 1
#define KV_KEY_MAX	 256	     /* bytes of a key (1..KV_KEY_MAX) */
#define KV_VALUE_MAX	 (64u << 10) /* bytes of a value */
#define KV_CMD_HDR	 32	     /* fixed part of an encoded command */
#define KV_CMD_MAX	 (KV_CMD_HDR + KV_KEY_MAX + 2 * KV_VALUE_MAX + 8)
#define KV_SESSIONS_MAX	 4096 /* clients remembered for deduplication */
#define KV_DEFAULT_KEYS	 65536
#define KV_DEFAULT_BYTES (64u << 20)

enum kv_table {
	KV_TABLE_KV = 0,       /* cell_kv_* / `cell kv` */
	KV_TABLE_REGISTRY = 1, /* key "node/name", value a kv_reg record */
	KV_TABLE_COUNT,
};

enum kv_op {
	KV_OP_PUT = 1, /* set key to value */
	KV_OP_DEL = 2, /* remove key (NOT_FOUND if absent) */
	KV_OP_CAS = 3, /* set key to value if it holds expect (absent: expect_len 0 + flag) */
};

/* Flags of a command. */
#define KV_F_EXPECT_ABSENT 0x01 /* CAS: succeed only if the key does not exist */

/* A decoded command: pointers into the buffer it was decoded from. */
struct kv_cmd {
	uint8_t op;	  /* enum kv_op */
	uint8_t table;	  /* enum kv_table */
	uint8_t flags;	  /* KV_F_* */
	uint64_t client;  /* a client's id, nonzero */
	uint64_t request; /* that client's request number, increasing from 1 */
	const uint8_t *key;
	uint16_t key_len;
	const uint8_t *expect;
	uint32_t expect_len;
	const uint8_t *value;
	uint32_t value_len;
};

/* What a command did; the same answer for a duplicate. */
enum kv_outcome {
	KV_DONE = 0,	     /* put, del, or cas that matched */
	KV_CAS_MISMATCH = 1, /* cas: the key held something else */
	KV_ABSENT = 2,	     /* del or cas of a key that does not exist */
	KV_FULL = 3,	     /* the store's key or byte limit refused it */
	KV_STALE = 4,	     /* request older than the client's last: ignored */
	KV_INVALID = 5,	     /* the command did not decode (never from a sound leader) */
};

struct kv_result {
	uint8_t outcome;   /* enum kv_outcome */
	uint64_t revision; /* the key's revision after the command (0: none) */
};

/*
 * kv_cmd_encode() - write @cmd into @buf (@cap bytes), zero-padded to a
 * multiple of 8 bytes (libraft's entries must be); returns the length, or 0
 * if @cmd is invalid or does not fit.
 */
size_t kv_cmd_encode(const struct kv_cmd *cmd, uint8_t *buf, size_t cap);

/*
 * kv_cmd_decode() - parse @len bytes at @buf into @cmd (pointing into
 * @buf).  Every field is checked: version, op, table, flags, lengths against
 * the limits and against @len exactly (padding to 8 bytes included, and
 * zero), client nonzero, key nonempty.
 * Return: 0, or -EBADMSG with a reason in @why (static text) if not NULL.
 */
int kv_cmd_decode(const uint8_t *buf, size_t len, struct kv_cmd *cmd, const char **why);

struct kv_state;

struct kv_limits {
	uint32_t max_keys;  /* per table; 0: KV_DEFAULT_KEYS */
	uint64_t max_bytes; /* keys + values, all tables; 0: KV_DEFAULT_BYTES */
};

struct kv_state *kv_state_new(const struct kv_limits *limits);
void kv_state_free(struct kv_state *s);

/*
 * kv_state_apply() - apply a decoded command committed at log @index.
 * Return: 0 with *@res filled (the outcome says what happened), -ENOMEM.
 */
int kv_state_apply(struct kv_state *s, const struct kv_cmd *cmd, uint64_t index,
		   struct kv_result *res);

/*
 * kv_state_get() - the value of @key in @table: a pointer valid until the
 * next change, its length and revision; NULL if absent.
 */
const uint8_t *kv_state_get(const struct kv_state *s, uint8_t table, const uint8_t *key,
			    uint16_t key_len, uint32_t *len, uint64_t *revision);

/* kv_state_count() - keys in @table. */
uint32_t kv_state_count(const struct kv_state *s, uint8_t table);

/*
 * kv_state_foreach() - call @fn for every key of @table in key order with
 * keys starting with @prefix (@prefix_len 0: all); stops when @fn returns
 * nonzero and returns that.
 */
int kv_state_foreach(const struct kv_state *s, uint8_t table, const uint8_t *prefix,
		     uint16_t prefix_len,
		     int (*fn)(const uint8_t *key, uint16_t key_len, const uint8_t *value,
			       uint32_t value_len, uint64_t revision, void *ctx),
		     void *ctx);

/* kv_state_applied() - the log index of the last command applied (or restored). */
uint64_t kv_state_applied(const struct kv_state *s);

/*
 * kv_state_digest() - a 64-bit digest of the whole state (tables, revisions,
 * sessions, applied index): equal on nodes that applied the same commands.
 */
uint64_t kv_state_digest(const struct kv_state *s);

/*
 * kv_state_snapshot() - the whole state as one malloc'd buffer (*@buf,
 * *@len; free() it): magic, version, every table in key order, the
 * sessions, a BLAKE2b-128 checksum over it all.
 * Return: 0 or -ENOMEM.
 */
int kv_state_snapshot(const struct kv_state *s, uint8_t **buf, size_t *len);

/*
 * kv_state_restore() - replace the state of @s with the snapshot at @buf.
 * The snapshot is checked whole first (checksum, magic, version, every length,
 * key order, limits); on any error @s is unchanged.
 * Return: 0, -EBADMSG with the reason in @why, or -ENOMEM.
 */
int kv_state_restore(struct kv_state *s, const uint8_t *buf, size_t len, const char **why);

struct kv_view;

/*
 * kv_state_freeze() - a read-only view of @s as it is now (same bytes as
 * kv_state_snapshot() would give now, whatever @s does afterwards).  Costs
 * a copy of the entry pointers and the sessions (O(keys), no keys or values
 * copied).  Owner's thread.  Return: the view (kv_state_thaw() it), or NULL
 * with errno ENOMEM.
 */
struct kv_view *kv_state_freeze(struct kv_state *s);

/*
 * kv_view_snapshot() - kv_state_snapshot() of a frozen view; may run on any
 * thread while the owner of the state applies commands.  Return: 0 or
 * -ENOMEM.
 */
int kv_view_snapshot(const struct kv_view *v, uint8_t **buf, size_t *len);

/* kv_view_applied() - the applied index the view was frozen at. */
uint64_t kv_view_applied(const struct kv_view *v);

/*
 * kv_state_thaw() - release @v (NULL: nothing), frozen from @s; the last
 * view's thaw frees the entries dropped meanwhile.  Owner's thread, and
 * never while kv_view_snapshot() of @v runs.
 */
void kv_state_thaw(struct kv_state *s, struct kv_view *v);

/* ---- the Raft glue (kv_fsm.c) ------------------------------------------ */

/* libraft's state machine over a struct kv_state. */
struct kv_fsm {
	struct raft_fsm fsm; /* give &fsm to raft_init() */
	struct kv_state *state;
	struct kv_view *view;	  /* the snapshot being taken, or NULL */
	uint64_t async_snapshots; /* made by snapshot_async (read on the loop) */
	uint64_t overlapped;	  /* snapshots during which commands were applied */
};

/*
 * kv_fsm_init() - fill @f (libraft's struct raft_fsm, version 3) to apply
 * commands to @s: apply decodes and applies (a command that does not decode
 * is applied as KV_INVALID, never an error that would stall the log),
 * restore uses kv_state_restore().  The revision of a command is its
 * sequence number among applied commands.
 *
 * Snapshots: with @async, snapshot() only freezes the state (on the raft
 * loop, at the applied index libraft records for the snapshot),
 * snapshot_async() serializes the view on libraft's threadpool while the
 * loop goes on applying, snapshot_finalize() frees the bytes and thaws the
 * view.  libraft runs snapshot_async only when its raft_io says version
 * >= 2 (libraft 0.15's raft_uv says 1 though it has async_work: see
 * cluster.c).  Without @async, snapshot() serializes on the loop.
 */
void kv_fsm_init(struct kv_fsm *f, struct kv_state *s, bool async);

/*
 * kv_fsm_set_async() - switch snapshot_async on or off after raft_init()
 * (which refuses an async fsm for I/O below version 2, as libraft 0.15's
 * raft_fixture is).  Between snapshots only.
 */
void kv_fsm_set_async(struct kv_fsm *f, bool async);

/*
 * kv_fsm_close() - thaw a view a snapshot left (raft closed before its
 * finalize ran, as raft_fixture_close() does).  After raft is closed,
 * before kv_state_free().
 */
void kv_fsm_close(struct kv_fsm *f);

/* The result an apply callback receives, unpacked (no memory behind it). */
void kv_fsm_result(void *result, struct kv_result *res);

/* ---- the follower-rule guard (raft_guard.c) ------------------------------ */

/*
 * Raft's follower rules that libraft 0.15 breaks when a follower holds a
 * tail of entries from an older term (it commits min(leaderCommit,
 * last_stored) and reports last_stored as its match): see raft_guard.c.
 */
struct raft_guard {
	struct raft_io *io;
	const struct raft *r;
	int (*start)(struct raft_io *io, unsigned msecs, raft_io_tick_cb tick,
		     raft_io_recv_cb recv);
	int (*send)(struct raft_io *io, struct raft_io_send *req,
		    const struct raft_message *message, raft_io_send_cb cb);
	raft_io_recv_cb recv;
	raft_term term;		  /* of the newest AppendEntries/InstallSnapshot seen */
	raft_index verified;	  /* our log equals the leader's up to here (this term) */
	uint64_t commits_lowered; /* AppendEntries whose leader_commit was lowered */
	uint64_t reports_lowered; /* results whose last_log_index was lowered */
};

/*
 * raft_guard_install() - put @g between @r (after raft_init(), before
 * raft_start()) and its I/O @io: wraps io->start (to see received
 * messages) and io->send.  Return: 0, or -ENOSPC past 16 guards a process.
 */
int raft_guard_install(struct raft_guard *g, struct raft_io *io, const struct raft *r);

/* raft_guard_remove() - undo raft_guard_install(), after raft is closed. */
void raft_guard_remove(struct raft_guard *g);

#endif /* CELLD_KV_H */
