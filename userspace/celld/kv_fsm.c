// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * libraft's state-machine interface over kv.c (kv.h).  Runs on the loop
 * that drives struct raft; no threads.
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

static int fsm_apply(struct raft_fsm *fsm, const struct raft_buffer *buf, void **result)
{
	struct kv_state *s = fsm->data;
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

static int fsm_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
	struct raft_buffer *b = malloc(sizeof(*b));
	uint8_t *data;
	size_t len;

	if (!b)
		return RAFT_NOMEM;
	if (kv_state_snapshot(fsm->data, &data, &len)) {
		free(b);
		return RAFT_NOMEM;
	}
	b->base = data;
	b->len = len;
	*bufs = b;
	*n_bufs = 1;
	return 0;
}

/* Version 2: we own what fsm_snapshot() handed out. */
static int fsm_snapshot_finalize(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
	(void)fsm;
	for (unsigned int i = 0; i < *n_bufs; i++)
		free((*bufs)[i].base);
	free(*bufs);
	*bufs = NULL;
	*n_bufs = 0;
	return 0;
}

/* On success the buffer is ours (libraft's snapshotRestore() says so). */
static int fsm_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
	const char *why = NULL;
	int err = kv_state_restore(fsm->data, buf->base, buf->len, &why);

	if (err == -ENOMEM)
		return RAFT_NOMEM;
	if (err)
		return RAFT_CORRUPT;
	raft_free(buf->base);
	return 0;
}

void kv_fsm_init(struct raft_fsm *fsm, struct kv_state *s)
{
	memset(fsm, 0, sizeof(*fsm));
	fsm->version = 2;
	fsm->data = s;
	fsm->apply = fsm_apply;
	fsm->snapshot = fsm_snapshot;
	fsm->restore = fsm_restore;
	fsm->snapshot_finalize = fsm_snapshot_finalize;
}
