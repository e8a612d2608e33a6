// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * A guard between libraft and its raft_io (kv.h, Documentation/raft.rst):
 * it enforces Raft's follower rules that libraft 0.15 gets wrong when a
 * follower still holds a tail of entries from an older term.
 *
 * libraft 0.15 (0.18 too) has a follower
 *   - commit min(leaderCommit, last_stored) on an AppendEntries, where the
 *     Raft paper says min(leaderCommit, index of the last new entry): a
 *     follower whose log goes on past the leader's with entries of an older
 *     term applies those entries as committed (its state machine diverges);
 *   - answer a successful AppendEntries with last_log_index = last_stored,
 *     which the leader, capped at its own last index, takes as the
 *     follower's match index: the leader counts the follower for entries it
 *     does not hold (it may commit what only a minority stores) and ignores
 *     its later rejections as stale, so the follower never catches up.
 * The seeded nemesis (tests/kv_fixture_nemesis.c) found both: two nodes
 * applying different entries at one index, and followers stuck for good.
 *
 * The guard keeps, per term, the highest index up to which this node's log
 * is known to equal the leader's ("verified": the previous entry of an
 * accepted AppendEntries matched, so every entry up to prev + n is the
 * leader's; an InstallSnapshot sets it to the snapshot's index), then
 *   - lowers leader_commit of an incoming AppendEntries to that index, and
 *   - lowers last_log_index of an outgoing successful AppendEntriesResult
 *     to it.
 * Both only make the node more cautious: it commits and reports what the
 * paper's rules allow, no more.  Runs on the loop that drives struct raft.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "kv.h"

#define GUARDS_MAX 16 /* raft_io instances guarded in one process */

static struct raft_guard *guards[GUARDS_MAX];

static struct raft_guard *guard_of(struct raft_io *io)
{
	for (unsigned int i = 0; i < GUARDS_MAX; i++)
		if (guards[i] && guards[i]->io == io)
			return guards[i];
	return NULL;
}

static raft_term term_at(const struct raft *r, raft_index at)
{
	const struct raft_log *l = &r->log;

	if (at == 0)
		return 0;
	if (at == l->snapshot.last_index)
		return l->snapshot.last_term;
	if (at <= l->offset || at > raft_last_index((struct raft *)r))
		return 0;
	return l->entries[(l->front + (at - l->offset - 1)) % l->size].term;
}

/* Whether the entry before an AppendEntries' new ones is ours too. */
static bool prev_matches(const struct raft *r, const struct raft_append_entries *ae)
{
	if (ae->prev_log_index == 0)
		return true;
	if (ae->prev_log_index <= r->commit_index)
		return true; /* committed entries are the leader's (with the guard) */
	return term_at(r, ae->prev_log_index) == ae->prev_log_term;
}

static void guard_recv(struct raft_io *io, struct raft_message *m)
{
	struct raft_guard *g = guard_of(io);
	const struct raft *r = g->r;

	if (m->type == RAFT_IO_APPEND_ENTRIES) {
		struct raft_append_entries *ae = &m->append_entries;

		if (ae->term > g->term) {
			g->term = ae->term;
			g->verified = 0;
		}
		if (ae->term == g->term && prev_matches(r, ae)) {
			raft_index upto = ae->prev_log_index + ae->n_entries;

			if (upto > g->verified)
				g->verified = upto;
		}
		if (ae->term != g->term || ae->leader_commit > g->verified) {
			raft_index keep = ae->term == g->term ? g->verified : r->commit_index;

			if (ae->leader_commit > keep) {
				ae->leader_commit = keep;
				g->commits_lowered++;
			}
		}
	} else if (m->type == RAFT_IO_INSTALL_SNAPSHOT) {
		const struct raft_install_snapshot *is = &m->install_snapshot;

		if (is->term > g->term) {
			g->term = is->term;
			g->verified = 0;
		}
		if (is->term == g->term && is->last_index > g->verified)
			g->verified = is->last_index;
	}
	g->recv(io, m);
}

static int guard_send(struct raft_io *io, struct raft_io_send *req, const struct raft_message *m,
		      raft_io_send_cb cb)
{
	struct raft_guard *g = guard_of(io);
	struct raft_message copy;

	if (m->type != RAFT_IO_APPEND_ENTRIES_RESULT || m->append_entries_result.rejected ||
	    m->append_entries_result.last_log_index <= g->verified)
		return g->send(io, req, m, cb);
	/* Both raft_uv and raft_fixture copy the message before returning. */
	copy = *m;
	copy.append_entries_result.last_log_index =
		g->verified > g->r->commit_index ? g->verified : g->r->commit_index;
	if (copy.append_entries_result.last_log_index < m->append_entries_result.last_log_index)
		g->reports_lowered++;
	else
		copy.append_entries_result.last_log_index = m->append_entries_result.last_log_index;
	return g->send(io, req, &copy, cb);
}

static int guard_start(struct raft_io *io, unsigned msecs, raft_io_tick_cb tick,
		       raft_io_recv_cb recv)
{
	struct raft_guard *g = guard_of(io);

	g->recv = recv;
	return g->start(io, msecs, tick, guard_recv);
}

int raft_guard_install(struct raft_guard *g, struct raft_io *io, const struct raft *r)
{
	unsigned int slot;

	for (slot = 0; slot < GUARDS_MAX && guards[slot]; slot++)
		;
	if (slot == GUARDS_MAX)
		return -ENOSPC;
	memset(g, 0, sizeof(*g));
	g->io = io;
	g->r = r;
	g->start = io->start;
	g->send = io->send;
	io->start = guard_start;
	io->send = guard_send;
	guards[slot] = g;
	return 0;
}

void raft_guard_remove(struct raft_guard *g)
{
	for (unsigned int i = 0; i < GUARDS_MAX; i++)
		if (guards[i] == g)
			guards[i] = NULL;
	if (g->io && g->io->start == guard_start) {
		g->io->start = g->start;
		g->io->send = g->send;
	}
}
