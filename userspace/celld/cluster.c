// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * The "cluster" module of celld: a Raft group (canonical raft, libraft's
 * uv I/O and TCP transport) replicating the state of kv.c, and the nucleus
 * methods kv and cluster (nucleus.cell).  Documentation/raft.rst.
 *
 * Threads: raft runs on a uv loop of its own in one thread of celld's.
 * The methods kv, cluster and cluster_change are blocking nucleus handlers
 * (celld_nucleus_handle_blocking()): they run on one of the threads that
 * serve the nucleus socket, never on celld's loop.  A call hands a request
 * to the raft thread (a locked queue and a uv_async) and waits for its
 * answer (a condition variable, bounded by cluster.timeout_ms); one to a
 * follower with a quic:// leader waits for the leader's answer instead.
 * At most cluster.max_waiting such calls wait at once (wait_slot()); more
 * are refused with RESOURCE_EXHAUSTED, so that other nucleus calls always
 * find a serving thread.  Only the raft thread touches struct raft and the
 * state; the handler gets copies.  The forwarding link is shared by the
 * serving threads (struct fwd_link, under fwd_lock).
 *
 * Options (-o):
 *   cluster.id=N            this node's Raft id (1..); unset: no cluster
 *   cluster.address=H:P     where this node's Raft transport listens
 *   cluster.peers=LIST      the initial voters, "ID@HOST:PORT[=ENDPOINT],..."
 *                           (this node included); used to bootstrap an
 *                           empty data directory only.  ENDPOINT is where
 *                           that node's nucleus answers (a hint for clients)
 *   cluster.join=1          do not bootstrap: wait to be added by the
 *                           leader (`cell cluster add`); cluster.peers is
 *                           then only a list of endpoint hints
 *   cluster.dir=PATH        data directory (default <state dir>/raft)
 *   cluster.timeout_ms=N    how long a kv call waits for its commit (5000)
 *   cluster.max_waiting=N   kv and cluster change calls waiting at once, at
 *                           most (default and ceiling: nucleus.threads - 4;
 *                           besides, 2 cluster status calls)
 *   cluster.snapshot_every=N  entries between snapshots (1024)
 *   cluster.snapshot_async=0  serialize snapshots on the raft loop (the
 *                           default, 1, does it on libraft's threadpool
 *                           from a frozen view: the loop only freezes)
 *   cluster.election_ms=N   election timeout (1000); heartbeats at a tenth
 *   cluster.quic=HOST:PORT  the nucleus also answers on QUIC there, for the
 *                           other nodes only: -o peers=FILE (their keys; no
 *                           TOFU) is required, and a remote caller may call
 *                           kv and cluster status, nothing else (access.c).
 *                           Refused with -o tofu=1 and with a FILE holding a
 *                           key learned by TOFU ("KEY tofu ADDRESS", what
 *                           discovery and axon append): every key of FILE
 *                           may write the cluster's kv (tofu_line())
 *
 * Across machines.  A node's ENDPOINT may be quic://HOST:PORT (its
 * cluster.quic).  A kv call from a local client to a follower whose leader
 * has such an endpoint is forwarded there by the follower (one hop, with
 * this node's key; a forwarded call is never forwarded again) and the
 * leader's answer returned, so clients need not reach other machines or
 * hold keys.  The request keeps its client id and request number, so a
 * retry after a lost answer is applied once.  A unix: endpoint is still
 * handed to the client (NOT_LEADER), which goes there itself.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <time.h>

#include <raft.h>
#include <raft/uv.h>

#include <cell/quic.h>
#include <cell/rpc.h>
#include <cell/time.h>

#include "celld.h"
#include "identity.h"
#include "kv.h"
#include "nucleus.cell.h"

#define MAX_PEERS    9
#define MAX_MEMBERS  16
#define EP_PREFIX    "endpoint/" /* registry key of a node's client endpoint */
#define ADDR_MAX     64
#define ENDPOINT_MAX 256
/* Status calls waiting for the raft thread at once, besides cluster.max_waiting. */
#define STATUS_WAITING 2

struct peer {
	raft_id id;
	char address[ADDR_MAX];
	char endpoint[ENDPOINT_MAX];
};

enum req_kind {
	REQ_APPLY,
	REQ_READ,
	REQ_STATUS,
	REQ_CHANGE
};

enum change_op {
	CHANGE_ADD = 1,
	CHANGE_ASSIGN = 2,
	CHANGE_REMOVE = 3,
	CHANGE_TRANSFER = 4,
};

struct member_copy {
	raft_id id;
	int role;
	char address[ADDR_MAX];
	char endpoint[ENDPOINT_MAX];
};

/* One kv call between the handler and the raft thread. */
struct req {
	enum req_kind kind;
	struct req *next;
	/* in */
	struct raft_buffer cmd; /* REQ_APPLY: raft_malloc'd, given to raft */
	uint8_t key[KV_KEY_MAX];
	uint16_t key_len;
	/* out */
	int done;
	enum cell_status status;
	char detail[400];
	struct kv_result res;
	uint8_t *value; /* REQ_READ: malloc'd copy */
	uint32_t value_len;
	bool found;
	struct nucleus_status_copy {
		int state;
		raft_id leader;
		char leader_address[ADDR_MAX];
		uint64_t term, commit, applied;
		uint32_t keys;
		unsigned int nmembers;
		struct member_copy members[MAX_MEMBERS];
	} st;
	struct {
		uint8_t op, role;
		raft_id id;
		char address[ADDR_MAX];
		char endpoint[ENDPOINT_MAX];
	} ch;	  /* REQ_CHANGE */
	int refs; /* handler + raft thread; under cl->lock */
	union {
		struct raft_apply apply;
		struct raft_barrier barrier;
		struct raft_change change;
		struct raft_transfer transfer;
	} r;
	struct celld_cluster *cl;
};

/*
 * The QUIC connection to a quic:// leader, shared by the serving threads:
 * the fields under celld_cluster.fwd_lock; @c is used without it by each
 * of its @users (libcell clients take calls from any thread).
 */
struct fwd_link {
	struct cell_client *c;
	char endpoint[ENDPOINT_MAX];
	unsigned int users;
	bool broken; /* connection lost: freed by its last user, never used again */
};

struct celld_cluster {
	struct celld *d;
	pthread_t thread;
	uv_loop_t loop;
	uv_async_t wake;
	struct raft raft;
	struct raft_io io;
	struct raft_uv_transport transport;
	struct kv_fsm fsm;
	struct raft_guard guard; /* Raft's follower rules libraft 0.15 breaks */
	struct kv_state *state;
	raft_id id;
	char address[ADDR_MAX];
	char dir[4096];
	struct peer peers[MAX_PEERS];
	unsigned int npeers;
	unsigned int timeout_ms;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct req *queue; /* LIFO is fine: each request stands alone */
	bool stopping, started, join;
	int start_err;
	uint32_t own_requests; /* registry writes of this node in this term */
	raft_term own_term;
	/*
	 * Calls waiting on serving threads now (wait_slot()): kv and
	 * cluster_change ones, at most max_waiting; status ones, at most
	 * STATUS_WAITING (they wait for the raft thread only, and an operator
	 * must see the state while kv calls wait).
	 */
	atomic_uint waiting, status_waiting;
	unsigned int max_waiting;
	atomic_ullong waits_refused;
	/* Forwarding to a quic:// leader. */
	const char *known_peers; /* -o peers=FILE */
	pthread_mutex_t fwd_lock;
	struct fwd_link *fwd;		    /* the current link, or NULL; under fwd_lock */
	uint64_t forwarded, forward_errors; /* under fwd_lock */
};

static const struct peer *peer_by_id(const struct celld_cluster *cl, raft_id id)
{
	for (unsigned int i = 0; i < cl->npeers; i++)
		if (cl->peers[i].id == id)
			return &cl->peers[i];
	return NULL;
}

/*
 * Where node @id's nucleus answers: the replicated registry entry written
 * when it was added, else cluster.peers; "" if neither.  Raft thread only.
 */
static const char *endpoint_of(const struct celld_cluster *cl, raft_id id)
{
	char key[32];
	const uint8_t *v;
	uint32_t len;
	uint64_t rev;
	const struct peer *p;
	static char buf[ENDPOINT_MAX];

	snprintf(key, sizeof(key), EP_PREFIX "%llu", (unsigned long long)id);
	v = kv_state_get(cl->state, KV_TABLE_REGISTRY, (const uint8_t *)key, (uint16_t)strlen(key),
			 &len, &rev);
	if (v && len && len < sizeof(buf)) {
		memcpy(buf, v, len);
		buf[len] = '\0';
		return buf;
	}
	p = peer_by_id(cl, id);
	return p ? p->endpoint : "";
}

static const char *state_name(int s)
{
	switch (s) {
	case RAFT_FOLLOWER:
		return "follower";
	case RAFT_CANDIDATE:
		return "candidate";
	case RAFT_LEADER:
		return "leader";
	default:
		return "unavailable";
	}
}

/* ---- raft thread -------------------------------------------------------- */

static void req_put(struct req *q)
{
	struct celld_cluster *cl = q->cl;
	int left;

	pthread_mutex_lock(&cl->lock);
	left = --q->refs;
	pthread_mutex_unlock(&cl->lock);
	if (!left) {
		free(q->value);
		free(q);
	}
}

static void complete(struct req *q)
{
	struct celld_cluster *cl = q->cl;

	if (q->cmd.base) { /* never reached raft_apply(), or refused there */
		raft_free(q->cmd.base);
		q->cmd.base = NULL;
	}
	pthread_mutex_lock(&cl->lock);
	q->done = 1;
	pthread_cond_broadcast(&cl->cond);
	pthread_mutex_unlock(&cl->lock);
	req_put(q);
}

static void not_leader(struct celld_cluster *cl, struct req *q)
{
	raft_id lid = 0;
	const char *laddr = NULL;
	const char *ep;

	raft_leader(&cl->raft, &lid, &laddr);
	ep = lid ? endpoint_of(cl, lid) : "";
	q->status = CELL_STATUS_NOT_LEADER;
	snprintf(q->detail, sizeof(q->detail), "leader %llu %s %s", (unsigned long long)lid,
		 laddr && *laddr ? laddr : "-", *ep ? ep : "-");
}

/* ---- membership changes and leadership transfer ---------------------------- */

static void change_failed(struct req *q, int rv, const char *what)
{
	struct celld_cluster *cl = q->cl;

	if (rv == RAFT_NOTLEADER || rv == RAFT_LEADERSHIPLOST) {
		not_leader(cl, q);
	} else {
		q->status = rv == RAFT_NOTFOUND || rv == RAFT_BADID || rv == RAFT_DUPLICATEID ||
					    rv == RAFT_DUPLICATEADDRESS || rv == RAFT_BADROLE
				    ? CELL_STATUS_INVALID_ARGUMENT
				    : CELL_STATUS_UNAVAILABLE;
		snprintf(q->detail, sizeof(q->detail), "%s of node %llu: %s", what,
			 (unsigned long long)q->ch.id,
			 raft_errmsg(&cl->raft)[0] ? raft_errmsg(&cl->raft) : raft_strerror(rv));
	}
	complete(q);
}

static void on_changed(struct raft_change *c, int status)
{
	struct req *q = c->data;

	if (status) {
		q->status = CELL_STATUS_UNAVAILABLE;
		snprintf(q->detail, sizeof(q->detail),
			 "configuration change not committed: %s (check `cell cluster`)",
			 raft_strerror(status));
	} else {
		q->status = CELL_STATUS_OK;
	}
	complete(q);
}

/* The add committed (the node is a spare): give it its role. */
static void on_added(struct raft_change *c, int status)
{
	struct req *q = c->data;
	int rv;

	if (status || q->ch.role == RAFT_SPARE) {
		on_changed(c, status);
		return;
	}
	q->r.change.data = q;
	rv = raft_assign(&q->cl->raft, &q->r.change, q->ch.id, q->ch.role, on_changed);
	if (rv)
		change_failed(q, rv, "added as spare, but the role");
}

static void start_add(struct req *q)
{
	int rv;

	q->r.change.data = q;
	rv = raft_add(&q->cl->raft, &q->r.change, q->ch.id, q->ch.address, on_added);
	if (rv)
		change_failed(q, rv, "add");
}

/* The new node's endpoint is in the registry: add the node itself. */
static void on_endpoint(struct raft_apply *a, int status, void *result)
{
	struct req *q = a->data;

	(void)result;
	if (status) {
		q->status = CELL_STATUS_UNAVAILABLE;
		snprintf(q->detail, sizeof(q->detail), "endpoint not committed: %s",
			 raft_strerror(status));
		complete(q);
		return;
	}
	start_add(q);
}

static void on_transferred(struct raft_transfer *t)
{
	struct req *q = t->data;
	raft_id lid = 0;
	const char *laddr = NULL;

	raft_leader(&q->cl->raft, &lid, &laddr);
	if (lid && lid != q->cl->id && (!q->ch.id || lid == q->ch.id)) {
		q->status = CELL_STATUS_OK;
	} else {
		q->status = CELL_STATUS_UNAVAILABLE;
		snprintf(q->detail, sizeof(q->detail),
			 "transfer to %llu did not complete within the election timeout "
			 "(leader now %llu)",
			 (unsigned long long)q->ch.id, (unsigned long long)lid);
	}
	complete(q);
}

static void run_change(struct celld_cluster *cl, struct req *q)
{
	struct raft_buffer cmd;
	int rv = 0;

	switch (q->ch.op) {
	case CHANGE_ADD:
		if (q->ch.endpoint[0]) {
			char key[32];
			struct kv_cmd c = {
				.op = KV_OP_PUT,
				.table = KV_TABLE_REGISTRY,
				.client = (1ull << 63) | cl->id,
				.key = (const uint8_t *)key,
				.value = (const uint8_t *)q->ch.endpoint,
				.value_len = (uint32_t)strlen(q->ch.endpoint),
			};
			size_t len;

			/* Increasing across terms and restarts: the term only grows. */
			if (cl->own_term != cl->raft.current_term) {
				cl->own_term = cl->raft.current_term;
				cl->own_requests = 0;
			}
			c.request = (uint64_t)cl->own_term << 24 | ++cl->own_requests;
			c.key_len = (uint16_t)snprintf(key, sizeof(key), EP_PREFIX "%llu",
						       (unsigned long long)q->ch.id);
			len = (KV_CMD_HDR + c.key_len + c.value_len + 7) & ~(size_t)7;
			q->cmd.base = raft_malloc(len);
			q->cmd.len = q->cmd.base ? kv_cmd_encode(&c, q->cmd.base, len) : 0;
			if (!q->cmd.len) {
				q->status = CELL_STATUS_INTERNAL;
				snprintf(q->detail, sizeof(q->detail), "endpoint record");
				complete(q);
				return;
			}
			q->r.apply.data = q;
			/* A copy: libraft copies the buffer (base is then its), and GCC's
			 * -Wstringop-overread misreads &q->cmd under ASan's inlining. */
			cmd = q->cmd;
			rv = raft_apply(&cl->raft, &q->r.apply, &cmd, 1, on_endpoint);
			if (!rv) {
				q->cmd.base = NULL;
				return;
			}
			change_failed(q, rv, "endpoint record");
			return;
		}
		start_add(q);
		return;
	case CHANGE_ASSIGN:
		q->r.change.data = q;
		rv = raft_assign(&cl->raft, &q->r.change, q->ch.id, q->ch.role, on_changed);
		break;
	case CHANGE_REMOVE:
		q->r.change.data = q;
		rv = raft_remove(&cl->raft, &q->r.change, q->ch.id, on_changed);
		break;
	case CHANGE_TRANSFER:
		q->r.transfer.data = q;
		rv = raft_transfer(&cl->raft, &q->r.transfer, q->ch.id, on_transferred);
		break;
	}
	if (rv)
		change_failed(q, rv, q->ch.op == CHANGE_TRANSFER ? "transfer" : "change");
}

static void on_applied(struct raft_apply *a, int status, void *result)
{
	struct req *q = a->data;

	if (status) {
		/* Lost leadership or shutting down: the command may still commit. */
		q->status = CELL_STATUS_UNAVAILABLE;
		snprintf(q->detail, sizeof(q->detail),
			 "outcome unknown: %s (retry with the same request number)",
			 raft_strerror(status));
	} else {
		kv_fsm_result(result, &q->res);
		q->status = CELL_STATUS_OK;
	}
	complete(q);
}

static void on_barrier(struct raft_barrier *b, int status)
{
	struct req *q = b->data;
	const uint8_t *v;

	if (status) {
		q->status = CELL_STATUS_UNAVAILABLE;
		snprintf(q->detail, sizeof(q->detail), "read barrier: %s", raft_strerror(status));
		complete(q);
		return;
	}
	/* Everything committed before the read was asked is applied here. */
	v = kv_state_get(q->cl->state, KV_TABLE_KV, q->key, q->key_len, &q->value_len,
			 &q->res.revision);
	q->found = v != NULL;
	if (v && q->value_len) {
		q->value = malloc(q->value_len);
		if (!q->value) {
			q->status = CELL_STATUS_RESOURCE_EXHAUSTED;
			complete(q);
			return;
		}
		memcpy(q->value, v, q->value_len);
	}
	q->res.outcome = v ? KV_DONE : KV_ABSENT;
	q->status = CELL_STATUS_OK;
	complete(q);
}

static void run_one(struct celld_cluster *cl, struct req *q)
{
	int rv;

	if (q->kind == REQ_STATUS) {
		raft_id lid = 0;
		const char *laddr = NULL;

		raft_leader(&cl->raft, &lid, &laddr);
		q->st.state = raft_state(&cl->raft);
		q->st.leader = lid;
		snprintf(q->st.leader_address, sizeof(q->st.leader_address), "%s",
			 laddr ? laddr : "");
		q->st.term = cl->raft.current_term;
		q->st.commit = cl->raft.commit_index;
		q->st.applied = raft_last_applied(&cl->raft);
		q->st.keys = kv_state_count(cl->state, KV_TABLE_KV);
		for (unsigned int i = 0; i < cl->raft.configuration.n && i < MAX_MEMBERS; i++) {
			const struct raft_server *s = &cl->raft.configuration.servers[i];
			struct member_copy *mc = &q->st.members[q->st.nmembers++];

			mc->id = s->id;
			mc->role = s->role;
			snprintf(mc->address, sizeof(mc->address), "%s", s->address);
			snprintf(mc->endpoint, sizeof(mc->endpoint), "%s", endpoint_of(cl, s->id));
		}
		q->status = CELL_STATUS_OK;
		complete(q);
		return;
	}
	if (cl->stopping) {
		q->status = CELL_STATUS_UNAVAILABLE;
		snprintf(q->detail, sizeof(q->detail), "celld is stopping");
		complete(q);
		return;
	}
	if (raft_state(&cl->raft) != RAFT_LEADER) {
		not_leader(cl, q);
		complete(q);
		return;
	}
	if (q->kind == REQ_CHANGE) {
		run_change(cl, q);
		return;
	}
	if (q->kind == REQ_APPLY) {
		q->r.apply.data = q;
		rv = raft_apply(&cl->raft, &q->r.apply, &q->cmd, 1, on_applied);
		if (!rv) {
			q->cmd.base = NULL; /* raft's now */
			return;
		}
	} else {
		q->r.barrier.data = q;
		rv = raft_barrier(&cl->raft, &q->r.barrier, on_barrier);
		if (!rv)
			return;
	}
	if (rv == RAFT_NOTLEADER || rv == RAFT_LEADERSHIPLOST) {
		not_leader(cl, q);
	} else {
		q->status = CELL_STATUS_UNAVAILABLE;
		snprintf(q->detail, sizeof(q->detail), "raft: %s", raft_errmsg(&cl->raft));
	}
	complete(q);
}

static void on_closed(struct raft *r)
{
	struct celld_cluster *cl = r->data;

	raft_uv_close(&cl->io);
	raft_uv_tcp_close(&cl->transport);
	uv_close((uv_handle_t *)&cl->wake, NULL);
}

static void on_wake(uv_async_t *h)
{
	struct celld_cluster *cl = h->data;
	struct req *list, *q;
	bool stop;

	pthread_mutex_lock(&cl->lock);
	list = cl->queue;
	cl->queue = NULL;
	stop = cl->stopping;
	pthread_mutex_unlock(&cl->lock);
	while ((q = list)) {
		list = q->next;
		run_one(cl, q);
	}
	if (stop && cl->started) {
		cl->started = false;
		raft_close(&cl->raft, on_closed);
	}
}

/*
 * Check every snapshot in the data directory before libraft loads one: a
 * damaged snapshot must stop the node with its file named (libraft 0.15
 * says "LZ4F_decompress ERROR" for flipped bytes in a compressed one and
 * did not return from raft_start() for one truncated to half).  Snapshots
 * are written uncompressed (raft_setup()), so the file is the state
 * machine's own bytes with their BLAKE2b checksum: restore it into a
 * scratch state.  An LZ4 frame (written by an older celld) is left to
 * libraft.  Return: 0, or -EBADMSG / -errno after logging the file.
 */
static int check_snapshots(struct celld_cluster *cl)
{
	static const uint8_t lz4[4] = { 0x04, 0x22, 0x4d, 0x18 };
	DIR *dir = opendir(cl->dir);
	struct dirent *e;
	int rc = 0;

	if (!dir)
		return errno == ENOENT ? 0 : -errno;
	while (!rc && (e = readdir(dir))) {
		char path[4400], meta[4410];
		struct kv_state *scratch;
		const char *why = NULL;
		struct stat sb;
		uint8_t *buf;
		size_t len = strlen(e->d_name);
		FILE *f;

		if (strncmp(e->d_name, "snapshot-", 9) ||
		    (len > 5 && !strcmp(e->d_name + len - 5, ".meta")))
			continue;
		snprintf(path, sizeof(path), "%s/%s", cl->dir, e->d_name);
		snprintf(meta, sizeof(meta), "%s.meta", path);
		if (stat(meta, &sb))
			continue; /* no metadata: libraft ignores the file too */
		f = fopen(path, "rb");
		if (!f || fstat(fileno(f), &sb)) {
			rc = -errno;
			celld_log("cluster: cannot read snapshot %s: %s", path, strerror(errno));
			if (f)
				fclose(f);
			break;
		}
		buf = malloc(sb.st_size ? (size_t)sb.st_size : 1);
		if (!buf || fread(buf, 1, (size_t)sb.st_size, f) != (size_t)sb.st_size) {
			rc = buf ? -EIO : -ENOMEM;
			celld_log("cluster: cannot read snapshot %s", path);
			free(buf);
			fclose(f);
			break;
		}
		fclose(f);
		if (sb.st_size >= 4 && !memcmp(buf, lz4, 4)) {
			free(buf);
			continue;
		}
		scratch = kv_state_new(NULL);
		if (!scratch) {
			free(buf);
			rc = -ENOMEM;
			break;
		}
		rc = kv_state_restore(scratch, buf, (size_t)sb.st_size, &why);
		if (rc)
			celld_log("cluster: refusing to start: snapshot %s (%lld bytes) is "
				  "damaged: %s; "
				  "the node does not join with it (Documentation/raft.rst)",
				  path, (long long)sb.st_size, why ? why : strerror(-rc));
		kv_state_free(scratch);
		free(buf);
	}
	closedir(dir);
	return rc;
}

static int raft_setup(struct celld_cluster *cl)
{
	struct raft_configuration conf;
	int rv;
	unsigned int every, election;

	rv = raft_uv_tcp_init(&cl->transport, &cl->loop);
	if (rv)
		return rv;
	rv = raft_uv_init(&cl->io, &cl->loop, cl->dir, &cl->transport);
	if (rv)
		return rv;
	/*
	 * libraft 0.15's raft_uv implements async_work but says version 1, and
	 * raft_init() refuses an fsm with snapshot_async for I/O below version
	 * 2 (upstream set 2 in 0.17, commit 269e541 "uv: set io version to 2").
	 */
	if (cl->fsm.fsm.snapshot_async && cl->io.version < 2 && cl->io.async_work)
		cl->io.version = 2;
	/* A damaged log or snapshot stops the node (named in the log), never truncated away. */
	raft_uv_set_auto_recovery(&cl->io, false);
	/* Uncompressed: check_snapshots() can verify the state machine's checksum. */
	raft_uv_set_snapshot_compression(&cl->io, false);
	rv = check_snapshots(cl);
	if (rv)
		return rv;
	rv = raft_init(&cl->raft, &cl->io, &cl->fsm.fsm, cl->id, cl->address);
	if (rv) {
		celld_log("cluster: raft_init: %s", raft_errmsg(&cl->raft));
		return rv;
	}
	cl->raft.data = cl;
	rv = raft_guard_install(&cl->guard, &cl->io, &cl->raft);
	if (rv) {
		celld_log("cluster: raft guard: %s", strerror(-rv));
		return RAFT_INVALID;
	}
	every = (unsigned int)strtoul(celld_option(cl->d, "cluster.snapshot_every", "1024"), NULL,
				      10);
	election =
		(unsigned int)strtoul(celld_option(cl->d, "cluster.election_ms", "1000"), NULL, 10);
	raft_set_snapshot_threshold(&cl->raft, every ? every : 1024);
	raft_set_snapshot_trailing(
		&cl->raft, (unsigned int)strtoul(celld_option(cl->d, "cluster.snapshot_trailing",
							      every ? "" : "512"),
						 NULL, 10)
				   ?: (every ? every / 2 + 1 : 512));
	raft_set_pre_vote(&cl->raft, true);
	if (election >= 100) {
		raft_set_election_timeout(&cl->raft, election);
		raft_set_heartbeat_timeout(&cl->raft, election / 10);
	}
	if (cl->join)
		goto start; /* an empty configuration: the leader adds this node */
	raft_configuration_init(&conf);
	for (unsigned int i = 0; i < cl->npeers; i++) {
		rv = raft_configuration_add(&conf, cl->peers[i].id, cl->peers[i].address,
					    RAFT_VOTER);
		if (rv) {
			raft_configuration_close(&conf);
			return rv;
		}
	}
	rv = raft_bootstrap(&cl->raft, &conf);
	raft_configuration_close(&conf);
	if (rv && rv != RAFT_CANTBOOTSTRAP) {
		celld_log("cluster: bootstrap: %s", raft_errmsg(&cl->raft));
		return rv;
	}
start:
	rv = raft_start(&cl->raft);
	if (rv) {
		/* A corrupt or truncated log or snapshot ends here: say which. */
		celld_log("cluster: cannot start from %s: %s", cl->dir, raft_errmsg(&cl->raft));
		return rv;
	}
	cl->started = true;
	return 0;
}

static void *raft_thread(void *arg)
{
	struct celld_cluster *cl = arg;
	int rv = raft_setup(cl);

	pthread_mutex_lock(&cl->lock);
	cl->start_err = rv ? rv : 1;
	pthread_cond_broadcast(&cl->cond);
	pthread_mutex_unlock(&cl->lock);
	if (rv) {
		uv_close((uv_handle_t *)&cl->wake, NULL);
		uv_run(&cl->loop, UV_RUN_DEFAULT);
		return NULL;
	}
	uv_run(&cl->loop, UV_RUN_DEFAULT);
	return NULL;
}

/* ---- handler side ------------------------------------------------------- */

static struct req *req_new(struct celld_cluster *cl, enum req_kind kind)
{
	struct req *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	q->kind = kind;
	q->cl = cl;
	q->refs = 2;
	return q;
}

/* Hand @q to the raft thread and wait for it; false on timeout. */
static bool submit_wait(struct celld_cluster *cl, struct req *q)
{
	struct timespec until;
	bool done;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += cl->timeout_ms / 1000;
	until.tv_nsec += (long)(cl->timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&cl->lock);
	q->next = cl->queue;
	cl->queue = q;
	pthread_mutex_unlock(&cl->lock);
	uv_async_send(&cl->wake);
	pthread_mutex_lock(&cl->lock);
	while (!q->done)
		if (pthread_cond_timedwait(&cl->cond, &cl->lock, &until) == ETIMEDOUT)
			break;
	done = q->done;
	pthread_mutex_unlock(&cl->lock);
	return done;
}

static enum cell_status refuse(struct cell_reply *reply, enum cell_status st, const char *why)
{
	if (reply && cell_reply_error(reply, st, why))
		return CELL_STATUS_INTERNAL;
	return st;
}

static enum cell_status answer(struct cell_reply *reply, const struct req *q)
{
	struct cellc_builder b;
	struct nucleus_kv_answer *m;
	size_t need = NUCLEUS_KV_ANSWER_SIZE + q->value_len + 8;
	uint8_t *buf;
	enum cell_status st = CELL_STATUS_OK;

	if (!reply)
		return CELL_STATUS_OK;
	buf = calloc(1, need);
	if (!buf)
		return refuse(reply, CELL_STATUS_RESOURCE_EXHAUSTED, "no memory for the answer");
	cellc_builder_init(&b, buf, need);
	m = nucleus_kv_answer_start(&b);
	if (!m || nucleus_kv_answer_set_value(&b, m, q->value, q->value_len)) {
		free(buf);
		return refuse(reply, CELL_STATUS_INTERNAL, "answer does not fit");
	}
	m->outcome = q->res.outcome;
	m->found = q->found;
	m->revision = q->res.revision;
	if (!cellc_builder_finish(&b)) {
		free(buf);
		return refuse(reply, CELL_STATUS_INTERNAL, "answer does not fit");
	}
	if (cell_reply_send(reply, buf, cellc_builder_finish(&b)))
		st = CELL_STATUS_UNAVAILABLE;
	free(buf);
	return st;
}

/* A call that came over QUIC (another node): no process credentials. */
static bool remote_caller(const struct cell_vesicle *v)
{
	return v->peer_conn == 0 && v->peer_pid == 0;
}

/* The quic:// endpoint of a NOT_LEADER detail ("leader ID ADDRESS ENDPOINT"), or NULL. */
static const char *quic_leader(const char *detail)
{
	const char *ep = strrchr(detail, ' ');

	return ep && !strncmp(ep + 1, "quic://", 7) ? ep + 1 : NULL;
}

static void fwd_free(struct fwd_link *l)
{
	cell_client_free(l->c);
	free(l);
}

/*
 * A link to the leader at @ep, with a use taken (give it back with
 * fwd_put()); NULL if it cannot be reached (@why says so).  A connection is
 * made under fwd_lock: the serving threads that forward meanwhile wait for
 * it (each one holds a wait slot), bounded by cluster.timeout_ms.
 */
static struct fwd_link *fwd_get(struct celld_cluster *cl, const char *ep, char *why, size_t cap)
{
	struct cell_quic_opts q = {
		.sz = sizeof(q),
		.identity = cl->d->identity->sk,
		.known_peers = cl->known_peers,
	};
	struct cell_client_opts o = {
		.sz = sizeof(o),
		.fingerprint = NUCLEUS_FINGERPRINT,
		.quic = &q,
		.connect_deadline = cell_deadline_in_ms(cl->timeout_ms),
	};
	struct fwd_link *l;

	pthread_mutex_lock(&cl->fwd_lock);
	l = cl->fwd;
	if (l && (l->broken || strcmp(l->endpoint, ep))) {
		cl->fwd = NULL;
		l->broken = true;
		if (!l->users)
			fwd_free(l);
		l = NULL;
	}
	if (!l) {
		l = calloc(1, sizeof(*l));
		if (l)
			l->c = cell_client_connect(ep, &o);
		if (!l || !l->c) {
			cl->forward_errors++;
			snprintf(why, cap, "the leader at %s is not reachable: %s", ep,
				 l ? cell_last_error(NULL) : "no memory");
			free(l);
			pthread_mutex_unlock(&cl->fwd_lock);
			return NULL;
		}
		snprintf(l->endpoint, sizeof(l->endpoint), "%s", ep);
		cl->fwd = l;
	}
	l->users++;
	pthread_mutex_unlock(&cl->fwd_lock);
	return l;
}

/* Give back a use of @l; @st is its call's status (UNAVAILABLE: the connection is lost). */
static void fwd_put(struct celld_cluster *cl, struct fwd_link *l, enum cell_status st)
{
	pthread_mutex_lock(&cl->fwd_lock);
	if (st == CELL_STATUS_OK)
		cl->forwarded++;
	else
		cl->forward_errors++;
	if (st == CELL_STATUS_UNAVAILABLE) /* a new connection next time */
		l->broken = true;
	if (!--l->users && l->broken) {
		if (cl->fwd == l)
			cl->fwd = NULL;
		fwd_free(l);
	}
	pthread_mutex_unlock(&cl->fwd_lock);
}

/*
 * Send the kv request of @v to the leader at @ep and answer with its
 * answer.  @not_leader: this node's NOT_LEADER detail, given back when the
 * leader says it is not one any more (the client then starts again).
 */
static enum cell_status forward(struct celld_cluster *cl, const char *ep,
				const struct cell_vesicle *v, const char *not_leader,
				struct cell_reply *reply)
{
	uint32_t cap = NUCLEUS_KV_ANSWER_SIZE + KV_VALUE_MAX + 64, got = 0;
	struct fwd_link *l;
	enum cell_status st;
	char why[300];
	void *buf = malloc(cap);

	if (!buf)
		return refuse(reply, CELL_STATUS_RESOURCE_EXHAUSTED, "no memory");
	l = fwd_get(cl, ep, why, sizeof(why));
	if (!l) {
		free(buf);
		return refuse(reply, CELL_STATUS_UNAVAILABLE, why);
	}
	st = cell_client_call(l->c, NUCLEUS_METHOD_KV, v->data, v->len, buf, cap, &got,
			      cell_deadline_in_ms(cl->timeout_ms));
	if (st != CELL_STATUS_OK)
		snprintf(why, sizeof(why), "forwarded to the leader at %s: %s", ep,
			 cell_last_error(NULL));
	fwd_put(cl, l, st);
	if (st == CELL_STATUS_OK)
		st = cell_reply_send(reply, buf, got) ? CELL_STATUS_UNAVAILABLE : CELL_STATUS_OK;
	else if (st == CELL_STATUS_NOT_LEADER)
		st = refuse(reply, st, not_leader);
	else
		st = refuse(reply, st, why);
	free(buf);
	return st;
}

/*
 * The first line of the known-peers file @path whose key was learned on
 * first use ("KEY tofu ADDRESS": discovery.c and quic_auth.c append them
 * with -o tofu=1), 0 if none, -1 if it cannot be read.  The cluster's QUIC
 * listener trusts every key of that file with the cluster's kv, so a key
 * any sender of a datagram could have had added is not one of its peers.
 */
static int tofu_line(const char *path)
{
	char line[512];
	int n = 0, found = 0;
	FILE *f = fopen(path, "re");

	if (!f)
		return -1;
	while (!found && fgets(line, sizeof(line), f)) {
		const char *p = line + strspn(line, " \t");

		n++;
		if (*p == '#' || strlen(p) < 64)
			continue;
		p += 64;
		p += strspn(p, " \t");
		if (!strncmp(p, "tofu", 4) && (!p[4] || strchr(" \t\r\n#", p[4])))
			found = n;
	}
	fclose(f);
	return found;
}

/*
 * One more call may wait on a serving thread (@count of them wait, @most
 * may): false, and the call refused with @what in the detail, when @most
 * wait already.  Give the slot back with wait_done().
 */
static bool wait_slot(struct celld_cluster *cl, atomic_uint *count, unsigned int most,
		      const char *what, struct cell_reply *reply, enum cell_status *st)
{
	char why[200];

	if (atomic_fetch_add(count, 1) < most)
		return true;
	atomic_fetch_sub(count, 1);
	atomic_fetch_add(&cl->waits_refused, 1);
	snprintf(why, sizeof(why), "%u %s wait on this node already: try again later", most, what);
	*st = refuse(reply, CELL_STATUS_RESOURCE_EXHAUSTED, why);
	return false;
}

static void wait_done(atomic_uint *count)
{
	atomic_fetch_sub(count, 1);
}

#define KV_WAITING_WHAT "kv and cluster change calls (cluster.max_waiting)"

static enum cell_status serve_kv(struct celld_cluster *cl, const struct cell_vesicle *v,
				 struct cell_reply *reply)
{
	const struct nucleus_kv_request *m = v->data;
	const char *why = "invalid request";
	const uint8_t *key, *expect, *value;
	uint32_t klen, elen, vlen;
	struct req *q;
	enum cell_status st;

	if (nucleus_kv_request_validate(v->data, v->len, &why))
		return refuse(reply, CELL_STATUS_BAD_MESSAGE, why);
	key = (const uint8_t *)nucleus_kv_request_key(m, &klen);
	expect = (const uint8_t *)nucleus_kv_request_expect(m, &elen);
	value = (const uint8_t *)nucleus_kv_request_value(m, &vlen);
	if (!klen || klen > KV_KEY_MAX)
		return refuse(reply, CELL_STATUS_INVALID_ARGUMENT, "key must be 1..256 bytes");
	if (m->op == 0) {
		q = req_new(cl, REQ_READ);
		if (!q)
			return refuse(reply, CELL_STATUS_RESOURCE_EXHAUSTED, "no memory");
		memcpy(q->key, key, klen);
		q->key_len = (uint16_t)klen;
	} else {
		struct kv_cmd c = {
			.op = m->op,
			.table = KV_TABLE_KV,
			.flags = m->expect_absent ? KV_F_EXPECT_ABSENT : 0,
			.client = m->client,
			.request = m->request,
			.key = key,
			.key_len = (uint16_t)klen,
			.expect = expect,
			.expect_len = elen,
			.value = value,
			.value_len = vlen,
		};
		size_t len = (KV_CMD_HDR + (size_t)klen + elen + vlen + 7) & ~(size_t)7;

		if (m->op > KV_OP_CAS)
			return refuse(reply, CELL_STATUS_INVALID_ARGUMENT, "op must be 0..3");
		q = req_new(cl, REQ_APPLY);
		if (!q)
			return refuse(reply, CELL_STATUS_RESOURCE_EXHAUSTED, "no memory");
		q->cmd.base = raft_malloc(len);
		q->cmd.len = q->cmd.base ? kv_cmd_encode(&c, q->cmd.base, len) : 0;
		if (!q->cmd.len) {
			raft_free(q->cmd.base);
			free(q);
			return refuse(reply, CELL_STATUS_INVALID_ARGUMENT,
				      "not a valid command (client and request nonzero, value <= "
				      "64 KiB, "
				      "del without value, put without expect)");
		}
	}
	if (!submit_wait(cl, q)) {
		req_put(q);
		return refuse(reply, CELL_STATUS_DEADLINE_EXCEEDED,
			      "no commit within cluster.timeout_ms: outcome unknown, retry with "
			      "the "
			      "same request number");
	}
	if (q->status == CELL_STATUS_NOT_LEADER && quic_leader(q->detail) && !remote_caller(v)) {
		char detail[sizeof(q->detail)], ep[ENDPOINT_MAX];

		memcpy(detail, q->detail, sizeof(detail));
		snprintf(ep, sizeof(ep), "%s", quic_leader(q->detail));
		req_put(q);
		return forward(cl, ep, v, detail, reply);
	}
	if (q->status) {
		st = refuse(reply, q->status, q->detail);
	} else {
		st = answer(reply, q);
	}
	req_put(q);
	return st;
}

/* On a serving thread of the nucleus, not on celld's loop (blocking handler). */
static enum cell_status on_kv(const struct cell_vesicle *v, struct cell_reply *reply, void *ctx)
{
	struct celld *d = ctx;
	struct celld_cluster *cl = d->cluster;
	enum cell_status st;

	if (!cl)
		return refuse(reply, CELL_STATUS_UNAVAILABLE,
			      "this celld runs no cluster (-o cluster.id=...)");
	if (!wait_slot(cl, &cl->waiting, cl->max_waiting, KV_WAITING_WHAT, reply, &st))
		return st;
	st = serve_kv(cl, v, reply);
	wait_done(&cl->waiting);
	return st;
}

#define STATUS_BUF (2048 * sizeof(uint64_t))

static enum cell_status serve_status(struct celld_cluster *cl, struct cell_reply *reply,
				     uint64_t *buf)
{
	struct cellc_builder b;
	struct nucleus_cluster_status *m;
	struct nucleus_member *mem;
	struct req *q = NULL;
	enum cell_status st = CELL_STATUS_OK;

	cellc_builder_init(&b, buf, STATUS_BUF);
	m = nucleus_cluster_status_start(&b);
	if (!m)
		return refuse(reply, CELL_STATUS_INTERNAL, "status does not fit");
	if (cl) {
		q = req_new(cl, REQ_STATUS);
		if (!q)
			return refuse(reply, CELL_STATUS_RESOURCE_EXHAUSTED, "no memory");
		if (!submit_wait(cl, q)) {
			req_put(q);
			return refuse(reply, CELL_STATUS_DEADLINE_EXCEEDED, "raft thread busy");
		}
		m->enabled = 1;
		m->id = cl->id;
		m->leader_id = q->st.leader;
		m->term = q->st.term;
		m->commit_index = q->st.commit;
		m->applied_index = q->st.applied;
		m->keys = q->st.keys;
		if (nucleus_cluster_status_set_address_str(&b, m, cl->address) ||
		    nucleus_cluster_status_set_state_str(&b, m, state_name(q->st.state)) ||
		    nucleus_cluster_status_set_leader_address_str(&b, m, q->st.leader_address))
			st = CELL_STATUS_INTERNAL;
		mem = nucleus_cluster_status_alloc_members(&b, m, q->st.nmembers);
		if (!mem && q->st.nmembers)
			st = CELL_STATUS_INTERNAL;
		for (unsigned int i = 0; mem && i < q->st.nmembers; i++) {
			const struct member_copy *mc = &q->st.members[i];

			mem[i].id = mc->id;
			mem[i].voter = mc->role == RAFT_VOTER;
			mem[i].role = (uint8_t)mc->role;
			if (nucleus_member_set_address_str(&b, &mem[i], mc->address) ||
			    nucleus_member_set_endpoint_str(&b, &mem[i], mc->endpoint))
				st = CELL_STATUS_INTERNAL;
		}
		req_put(q);
	}
	if (st || !cellc_builder_finish(&b))
		return refuse(reply, CELL_STATUS_INTERNAL, "status does not fit");
	if (reply && cell_reply_send(reply, buf, cellc_builder_finish(&b)))
		return CELL_STATUS_UNAVAILABLE;
	return CELL_STATUS_OK;
}

/* On a serving thread (blocking handler): the raft thread answers, or timeout_ms passes. */
static enum cell_status on_cluster(const struct cell_vesicle *v, struct cell_reply *reply,
				   void *ctx)
{
	struct celld *d = ctx;
	struct celld_cluster *cl = d->cluster;
	uint64_t *buf = malloc(STATUS_BUF); /* 8-byte aligned, as the builder wants */
	enum cell_status st;

	(void)v;
	if (!buf)
		return refuse(reply, CELL_STATUS_RESOURCE_EXHAUSTED, "no memory");
	if (!cl || wait_slot(cl, &cl->status_waiting, STATUS_WAITING, "cluster status calls", reply,
			     &st)) {
		st = serve_status(cl, reply, buf);
		if (cl)
			wait_done(&cl->status_waiting);
	}
	free(buf);
	return st;
}

static enum cell_status serve_change(struct celld_cluster *cl, const struct cell_vesicle *v,
				     struct cell_reply *reply)
{
	const struct nucleus_member_change *m = v->data;
	const char *why = "invalid request";
	const char *addr, *ep;
	uint32_t alen, elen;
	struct req *q;
	enum cell_status st;

	if (nucleus_member_change_validate(v->data, v->len, &why))
		return refuse(reply, CELL_STATUS_BAD_MESSAGE, why);
	addr = nucleus_member_change_address(m, &alen);
	ep = nucleus_member_change_endpoint(m, &elen);
	if (m->op < CHANGE_ADD || m->op > CHANGE_TRANSFER)
		return refuse(reply, CELL_STATUS_INVALID_ARGUMENT,
			      "op must be 1 add, 2 assign, 3 remove, 4 transfer");
	if (m->role > RAFT_SPARE)
		return refuse(reply, CELL_STATUS_INVALID_ARGUMENT,
			      "role must be 0 standby, 1 voter, 2 spare");
	if (!m->id && m->op != CHANGE_TRANSFER)
		return refuse(reply, CELL_STATUS_INVALID_ARGUMENT, "id must be >= 1");
	if (m->op == CHANGE_ADD &&
	    (!alen || alen >= ADDR_MAX || memchr(addr, '\0', alen) || !memchr(addr, ':', alen)))
		return refuse(reply, CELL_STATUS_INVALID_ARGUMENT,
			      "add needs the node's Raft address HOST:PORT");
	if (elen >= ENDPOINT_MAX || (elen && memchr(ep, '\0', elen)))
		return refuse(reply, CELL_STATUS_INVALID_ARGUMENT, "endpoint too long");
	q = req_new(cl, REQ_CHANGE);
	if (!q)
		return refuse(reply, CELL_STATUS_RESOURCE_EXHAUSTED, "no memory");
	q->ch.op = m->op;
	q->ch.role = m->role;
	q->ch.id = m->id;
	memcpy(q->ch.address, addr, alen);
	memcpy(q->ch.endpoint, ep, elen);
	if (!submit_wait(cl, q)) {
		req_put(q);
		return refuse(reply, CELL_STATUS_DEADLINE_EXCEEDED,
			      "not committed within cluster.timeout_ms: check `cell cluster`");
	}
	if (q->status)
		st = refuse(reply, q->status, q->detail);
	else if (reply && cell_reply_send(reply, (const uint8_t[8]){ 0 }, NUCLEUS_EMPTY_SIZE))
		st = CELL_STATUS_UNAVAILABLE;
	else
		st = CELL_STATUS_OK;
	req_put(q);
	return st;
}

/* On a serving thread (blocking handler): waits for the change's commit. */
static enum cell_status on_cluster_change(const struct cell_vesicle *v, struct cell_reply *reply,
					  void *ctx)
{
	struct celld *d = ctx;
	struct celld_cluster *cl = d->cluster;
	enum cell_status st;

	if (!cl)
		return refuse(reply, CELL_STATUS_UNAVAILABLE,
			      "this celld runs no cluster (-o cluster.id=...)");
	if (!wait_slot(cl, &cl->waiting, cl->max_waiting, KV_WAITING_WHAT, reply, &st))
		return st;
	st = serve_change(cl, v, reply);
	wait_done(&cl->waiting);
	return st;
}

/* ---- start / stop --------------------------------------------------------- */

/* "ID@HOST:PORT[=ENDPOINT],..." */
static int parse_peers(struct celld_cluster *cl, const char *list)
{
	char buf[4096], *save = NULL, *tok;

	if (strlen(list) >= sizeof(buf))
		return -E2BIG;
	strcpy(buf, list);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		struct peer *p = &cl->peers[cl->npeers];
		char *at = strchr(tok, '@'), *eq, *end;

		if (cl->npeers == MAX_PEERS || !at)
			return -EINVAL;
		*at = '\0';
		p->id = strtoull(tok, &end, 10);
		if (!p->id || *end)
			return -EINVAL;
		eq = strchr(at + 1, '=');
		if (eq) {
			*eq = '\0';
			if (strlen(eq + 1) >= sizeof(p->endpoint))
				return -EINVAL;
			strcpy(p->endpoint, eq + 1);
		}
		if (!at[1] || strlen(at + 1) >= sizeof(p->address))
			return -EINVAL;
		strcpy(p->address, at + 1);
		for (unsigned int i = 0; i < cl->npeers; i++)
			if (cl->peers[i].id == p->id)
				return -EINVAL;
		cl->npeers++;
	}
	return 0;
}

int celld_cluster_start(struct celld *d)
{
	const char *id = celld_option(d, "cluster.id", NULL);
	const char *peers, *dir;
	struct celld_cluster *cl;
	char *end;
	int rc;

	/* The methods answer "no cluster" when there is none. */
	/* They wait for the raft thread or the leader: never on celld's loop. */
	rc = celld_nucleus_handle_blocking(d, NUCLEUS_METHOD_KV, on_kv, d);
	if (!rc)
		rc = celld_nucleus_handle_blocking(d, NUCLEUS_METHOD_CLUSTER, on_cluster, d);
	if (!rc)
		rc = celld_nucleus_handle_blocking(d, NUCLEUS_METHOD_CLUSTER_CHANGE,
						   on_cluster_change, d);
	if (rc || !id)
		return rc;
	cl = calloc(1, sizeof(*cl));
	if (!cl)
		return -ENOMEM;
	cl->d = d;
	cl->id = strtoull(id, &end, 10);
	peers = celld_option(d, "cluster.peers", "");
	snprintf(cl->address, sizeof(cl->address), "%s",
		 celld_option(d, "cluster.address", "127.0.0.1:7380"));
	cl->timeout_ms =
		(unsigned int)strtoul(celld_option(d, "cluster.timeout_ms", "5000"), NULL, 10);
	if (!cl->timeout_ms)
		cl->timeout_ms = 5000;
	{
		/* Two serving threads stay free of waiting calls. */
		unsigned int most = celld_nucleus_threads(d) - 2 - STATUS_WAITING;
		unsigned long n = strtoul(celld_option(d, "cluster.max_waiting", "0"), NULL, 10);

		cl->max_waiting = n && n < most ? (unsigned int)n : most;
	}
	cl->join = strcmp(celld_option(d, "cluster.join", "0"), "0") != 0;
	if (!cl->id || *end || parse_peers(cl, peers) || (!cl->join && !peer_by_id(cl, cl->id))) {
		celld_log("cluster: need cluster.id=N (N >= 1) and "
			  "cluster.peers=ID@HOST:PORT[=ENDPOINT],... "
			  "naming this node (or cluster.join=1)");
		free(cl);
		return -EINVAL;
	}
	if (celld_option(d, "cluster.quic", NULL)) {
		const char *qaddr = celld_option(d, "cluster.quic", NULL);
		struct cell_quic_opts qo = { .sz = sizeof(qo) };
		int line;

		cl->known_peers = celld_option(d, "peers", NULL);
		if (!cl->known_peers || !d->identity) {
			celld_log("cluster: cluster.quic=%s needs -o peers=FILE with the other "
				  "nodes' keys (no TOFU for the cluster) and a node identity",
				  qaddr);
			free(cl);
			return -EINVAL;
		}
		line = strcmp(celld_option(d, "tofu", "0"), "0") ? -2 : tofu_line(cl->known_peers);
		if (line) {
			if (line == -2)
				celld_log("cluster: cluster.quic=%s: not with -o tofu=1 (discovery "
					  "and "
					  "axon would add a stranger's key to %s, and every key "
					  "there "
					  "may write the cluster's kv)",
					  qaddr, cl->known_peers);
			else if (line < 0)
				celld_log("cluster: cluster.quic=%s: peers %s: %s", qaddr,
					  cl->known_peers, strerror(errno));
			else
				celld_log("cluster: cluster.quic=%s: peers %s line %d holds a key "
					  "learned by TOFU ('KEY tofu ADDRESS'): the cluster "
					  "trusts "
					  "only keys put there by hand (remove the line, or keep "
					  "the "
					  "key without the word tofu if it is a node's)",
					  qaddr, cl->known_peers, line);
			free(cl);
			return -EINVAL;
		}
		qo.identity = d->identity->sk;
		qo.known_peers = cl->known_peers;
		rc = cell_server_listen_quic(d->nucleus, qaddr, &qo);
		if (rc) {
			celld_log("cluster: nucleus on QUIC %s: %s", qaddr, cell_last_error(NULL));
			free(cl);
			return rc;
		}
		celld_log("cluster: the nucleus answers the other nodes on QUIC %s (kv and "
			  "cluster status only)",
			  qaddr);
	}
	dir = celld_option(d, "cluster.dir", NULL);
	if (dir)
		snprintf(cl->dir, sizeof(cl->dir), "%s", dir);
	else if ((size_t)snprintf(cl->dir, sizeof(cl->dir), "%.4000s/raft", d->cfg.state_dir) >=
		 sizeof(cl->dir))
		cl->dir[0] = '\0';
	if (mkdir(cl->dir, 0700) && errno != EEXIST) {
		rc = -errno;
		celld_log("cluster: mkdir %s: %s", cl->dir, strerror(errno));
		free(cl);
		return rc;
	}
	cl->state = kv_state_new(NULL);
	if (!cl->state) {
		free(cl);
		return -ENOMEM;
	}
	kv_fsm_init(&cl->fsm, cl->state,
		    strcmp(celld_option(d, "cluster.snapshot_async", "1"), "0") != 0);
	pthread_mutex_init(&cl->lock, NULL);
	pthread_mutex_init(&cl->fwd_lock, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&cl->cond, &ca);
		pthread_condattr_destroy(&ca);
	}
	rc = uv_loop_init(&cl->loop);
	if (!rc)
		rc = uv_async_init(&cl->loop, &cl->wake, on_wake);
	if (rc) {
		kv_state_free(cl->state);
		free(cl);
		return rc;
	}
	cl->wake.data = cl;
	rc = pthread_create(&cl->thread, NULL, raft_thread, cl);
	if (rc) {
		kv_state_free(cl->state);
		free(cl);
		return -rc;
	}
	pthread_mutex_lock(&cl->lock);
	while (!cl->start_err)
		pthread_cond_wait(&cl->cond, &cl->lock);
	rc = cl->start_err == 1 ? 0 : -EIO;
	pthread_mutex_unlock(&cl->lock);
	if (rc) {
		pthread_join(cl->thread, NULL);
		uv_loop_close(&cl->loop);
		raft_guard_remove(&cl->guard);
		kv_state_free(cl->state);
		free(cl);
		return rc;
	}
	d->cluster = cl;
	celld_log("cluster: node %llu at %s, %s, data in %s", (unsigned long long)cl->id,
		  cl->address,
		  cl->join ? "joining (waits for `cell cluster add`)" : "a founding voter",
		  cl->dir);
	return 0;
}

void celld_cluster_stop(struct celld *d)
{
	struct celld_cluster *cl = d->cluster;

	if (!cl)
		return;
	pthread_mutex_lock(&cl->lock);
	cl->stopping = true;
	pthread_mutex_unlock(&cl->lock);
	uv_async_send(&cl->wake);
	pthread_join(cl->thread, NULL);
	uv_loop_close(&cl->loop);
	if (cl->guard.commits_lowered || cl->guard.reports_lowered)
		celld_log("cluster: the raft guard lowered %llu leader commits and %llu match "
			  "reports (a log tail of an older term; Documentation/raft.rst)",
			  (unsigned long long)cl->guard.commits_lowered,
			  (unsigned long long)cl->guard.reports_lowered);
	raft_guard_remove(&cl->guard);
	if (cl->forwarded || cl->forward_errors)
		celld_log("cluster: %llu kv calls forwarded to the leader, %llu failed",
			  (unsigned long long)cl->forwarded,
			  (unsigned long long)cl->forward_errors);
	if (atomic_load(&cl->waits_refused))
		celld_log("cluster: %llu kv and cluster calls refused: too many were waiting "
			  "(cluster.max_waiting=%u)",
			  (unsigned long long)atomic_load(&cl->waits_refused), cl->max_waiting);
	if (cl->fwd) /* the serving threads are joined: no users */
		fwd_free(cl->fwd);
	pthread_mutex_destroy(&cl->fwd_lock);
	kv_fsm_close(&cl->fsm);
	kv_state_free(cl->state);
	pthread_mutex_destroy(&cl->lock);
	pthread_cond_destroy(&cl->cond);
	free(cl);
	d->cluster = NULL;
}
