// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * libraft's state-machine interface over kv.c (kv.h).  Everything runs on
 * the loop that drives struct raft, except fsm_snapshot_async(), which
 * libraft runs on its threadpool (uv_queue_work: the queueing and the
 * after-work callback order it against the loop): it reads only the frozen
 * view that fsm_snapshot() made, and writes only the buffers it returns.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <raft.h>

#include "kv.h"

/* A result travels as a pointer-sized value: revision << 3 | outcome. */
static void *pack(const struct kv_result *res)
{
	return (void *)(uintptr_t)(res->revision << 3 | res->outcome);
}

void kv_fsm_result(void *result, struct kv_result *res)
{
	uintptr_t v = (uintptr_t)result;

	res->outcome = v & 7;
	res->revision = v >> 3;
}

static struct kv_fsm *kv_fsm_of(struct raft_fsm *fsm)
{
	return fsm->data;
}

static int fsm_apply(struct raft_fsm *fsm, const struct raft_buffer *buf, void **result)
{
	struct kv_state *s = kv_fsm_of(fsm)->state;
	struct kv_result res = { .outcome = KV_INVALID };
	struct kv_cmd cmd;
	int err;

	if (kv_cmd_decode(buf->base, buf->len, &cmd, NULL) == 0) {
		err = kv_state_apply(s, &cmd, kv_state_applied(s) + 1, &res);
		if (err)
			return RAFT_NOMEM;
	}
	*result = pack(&res);
	return 0;
}

/* One malloc'd buffer holding the snapshot of @v, or of @s if @v is NULL. */
static int serialize(const struct kv_view *v, const struct kv_state *s, struct raft_buffer *bufs[],
		     unsigned *n_bufs)
{
	struct raft_buffer *b = malloc(sizeof(*b));
	uint8_t *data;
	size_t len;

	if (!b)
		return RAFT_NOMEM;
	if (v ? kv_view_snapshot(v, &data, &len) : kv_state_snapshot(s, &data, &len)) {
		free(b);
		return RAFT_NOMEM;
	}
	b->base = data;
	b->len = len;
	*bufs = b;
	*n_bufs = 1;
	return 0;
}

/*
 * On the loop, at the index libraft records for this snapshot.  Async: only
 * freeze (libraft then runs fsm_snapshot_async()); libraft does not
 * finalize a failure here, so a failure leaves nothing behind.  Sync: the
 * bytes, made here.
 */
static int fsm_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
	struct kv_fsm *f = kv_fsm_of(fsm);

	*bufs = NULL;
	*n_bufs = 0;
	if (!fsm->snapshot_async)
		return serialize(NULL, f->state, bufs, n_bufs);
	if (f->view)
		return RAFT_BUSY; /* libraft takes one at a time; retried later */
	f->view = kv_state_freeze(f->state);
	return f->view ? 0 : RAFT_NOMEM;
}

/* On libraft's threadpool: the bytes of the view fsm_snapshot() froze. */
static int fsm_snapshot_async(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
	struct kv_fsm *f = kv_fsm_of(fsm);

	*bufs = NULL;
	*n_bufs = 0;
	/* snapshot_async set without a frozen view: kv_fsm_set_async() misused */
	if (!f->view)
		return RAFT_INVALID;
	f->async_snapshots++; /* read on the loop after finalize: ordered by uv */
	return serialize(f->view, NULL, bufs, n_bufs);
}

/* On the loop, after the snapshot was written (or failed): all ours. */
static int fsm_snapshot_finalize(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
	struct kv_fsm *f = kv_fsm_of(fsm);

	for (unsigned int i = 0; *bufs && i < *n_bufs; i++)
		free((*bufs)[i].base);
	free(*bufs);
	*bufs = NULL;
	*n_bufs = 0;
	if (f->view && kv_view_applied(f->view) != kv_state_applied(f->state))
		f->overlapped++;
	kv_state_thaw(f->state, f->view);
	f->view = NULL;
	return 0;
}

/* On success the buffer is ours (libraft's snapshotRestore() says so). */
static int fsm_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
	const char *why = NULL;
	int err = kv_state_restore(kv_fsm_of(fsm)->state, buf->base, buf->len, &why);

	if (err == -ENOMEM)
		return RAFT_NOMEM;
	if (err)
		return RAFT_CORRUPT;
	raft_free(buf->base);
	return 0;
}

void kv_fsm_set_async(struct kv_fsm *f, bool async)
{
	f->fsm.snapshot_async = async ? fsm_snapshot_async : NULL;
}

void kv_fsm_init(struct kv_fsm *f, struct kv_state *s, bool async)
{
	memset(f, 0, sizeof(*f));
	f->state = s;
	f->fsm.version = 3;
	f->fsm.data = f;
	f->fsm.apply = fsm_apply;
	f->fsm.snapshot = fsm_snapshot;
	f->fsm.restore = fsm_restore;
	f->fsm.snapshot_finalize = fsm_snapshot_finalize;
	kv_fsm_set_async(f, async);
}

void kv_fsm_close(struct kv_fsm *f)
{
	kv_state_thaw(f->state, f->view);
	f->view = NULL;
}
