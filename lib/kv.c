// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * cell_kv_*: the cluster's key-value store through celld's nucleus (method
 * kv of userspace/celld/nucleus.cell, laid out by hand in nucleus_wire.h:
 * libcell builds without cellc).  <cell/kv.h> says what the calls promise;
 * here is how: one request per call, its client id and request number
 * fixed before the first attempt, then attempts until the deadline:
 *
 *   NOT_LEADER naming a unix: endpoint -> connect there and send again;
 *   NOT_LEADER with no leader known, UNAVAILABLE (connection lost, outcome
 *   unknown, node stopping), DEADLINE_EXCEEDED from the node (its commit
 *   wait ran out, ours did not) -> back off, start again from the home
 *   node;
 *   anything else -> the caller's answer.
 *
 * The answer and the leader hint are foreign bytes: cell_kv_parse_answer()
 * and cell_kv_parse_hint() check them (fuzz_cell_kv_answer).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <cell/kv.h>
#include <cell/rpc.h>

#include "kv_internal.h"
#include "nucleus_wire.h"
#include "rpc_internal.h"

#define KV_HOPS_MAX	  8 /* redirects in a row before backing off */
#define KV_BACKOFF_MIN_MS 20
#define KV_BACKOFF_MAX_MS 400
#define KV_CONNECT_MAX_MS 1000

struct cell_kv {
	char home[256]; /* "" : cell_runtime_dir() */
	char target[256];
	struct cell_client *c; /* connected to target, or NULL */
	uint64_t client;
	uint64_t next_request;
};

struct cell_kv *cell_kv_open(const char *runtime_dir)
{
	struct cell_kv *kv;

	if (runtime_dir && strlen(runtime_dir) >= sizeof(kv->home)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	kv = calloc(1, sizeof(*kv));
	if (!kv)
		return NULL;
	if (getrandom(&kv->client, sizeof(kv->client), 0) != sizeof(kv->client)) {
		free(kv);
		return NULL;
	}
	kv->client |= 1; /* nonzero */
	kv->next_request = 1;
	if (runtime_dir)
		strcpy(kv->home, runtime_dir);
	strcpy(kv->target, kv->home);
	return kv;
}

void cell_kv_close(struct cell_kv *kv)
{
	if (!kv)
		return;
	cell_client_free(kv->c);
	free(kv);
}

int cell_kv_parse_answer(const void *data, uint32_t len, struct cell_kv_answer_view *a)
{
	const struct cell_nucleus_kv_answer *m = data;

	if (!data || len < CELL_NUCLEUS_KV_ANSWER_SIZE || ((uintptr_t)data & 7))
		return -EBADMSG;
	if (m->outcome > CELL_KV_STALE || m->found > 1)
		return -EBADMSG;
	if (m->value.len && (m->value.off < CELL_NUCLEUS_KV_ANSWER_SIZE ||
			     (uint64_t)m->value.off + m->value.len > len))
		return -EBADMSG;
	if (m->value.len > CELL_KV_VALUE_MAX)
		return -EBADMSG;
	a->outcome = m->outcome;
	a->found = m->found;
	a->revision = m->revision;
	a->value = m->value.len ? (const uint8_t *)data + m->value.off : NULL;
	a->value_len = m->value.len;
	return 0;
}

int cell_kv_parse_hint(const char *detail, uint32_t len, char *dir, size_t cap)
{
	static const char sock[] = "/nucleus.sock";
	const char *p, *end = detail + len, *ep = NULL;
	size_t n;

	/* "leader ID RAFT_ADDRESS ENDPOINT": the endpoint is the last word. */
	if (!detail || len < 7 || memcmp(detail, "leader ", 7))
		return -EBADMSG;
	for (p = detail; p < end; p++) {
		if (*p == '\0')
			return -EBADMSG;
		if (*p == ' ')
			ep = p + 1;
	}
	if (!ep || (size_t)(end - ep) < 5 || memcmp(ep, "unix:", 5))
		return -ENOENT; /* no leader known, or not reachable from here */
	ep += 5;
	n = (size_t)(end - ep);
	if (n <= sizeof(sock) - 1 || memcmp(end - (sizeof(sock) - 1), sock, sizeof(sock) - 1) ||
	    *ep != '/')
		return -ENOENT;
	n -= sizeof(sock) - 1;
	if (n >= cap)
		return -ENAMETOOLONG;
	memcpy(dir, ep, n);
	dir[n] = '\0';
	return 0;
}

struct kv_call {
	uint8_t op, expect_absent;
	const void *key, *expect, *value;
	size_t key_len, expect_len, value_len;
	void *buf;
	size_t cap;
	uint64_t request;
};

static void nap_ms(unsigned int ms, uint64_t deadline)
{
	uint64_t now = cell_now_ns();
	uint64_t ns = (uint64_t)ms * 1000000u;
	struct timespec ts;

	if (now + ns > deadline)
		ns = deadline > now ? deadline - now : 0;
	ts.tv_sec = (time_t)(ns / 1000000000u);
	ts.tv_nsec = (long)(ns % 1000000000u);
	nanosleep(&ts, NULL);
}

static enum cell_status connect_target(struct cell_kv *kv, uint64_t deadline)
{
	struct cell_client_opts co = {
		.sz = sizeof(co),
		.fingerprint = CELL_NUCLEUS_FINGERPRINT,
		.runtime_dir = kv->target[0] ? kv->target : NULL,
		.backend = CELL_RING_BACKEND_NONE,
		.spin_ns = CELL_SPIN_NONE,
	};
	uint64_t cap = cell_deadline_in_ms(KV_CONNECT_MAX_MS);

	if (kv->c)
		return CELL_STATUS_OK;
	co.connect_deadline = deadline < cap ? deadline : cap;
	kv->c = cell_client_connect("nucleus", &co);
	if (!kv->c) {
		enum cell_status st = CELL_STATUS_UNAVAILABLE;

		cell_last_error(&st);
		return st == CELL_STATUS_OK ? CELL_STATUS_UNAVAILABLE : st;
	}
	return CELL_STATUS_OK;
}

static void put_span(uint8_t *base, uint32_t *at, struct cell_nucleus_span *s, const void *p,
		     size_t n)
{
	if (!n)
		return;
	memcpy(base + *at, p, n);
	s->off = *at;
	s->len = (uint32_t)n;
	*at += (uint32_t)n;
}

/* One attempt at the current target; *@hint_dir set on NOT_LEADER with a usable hint. */
static enum cell_status attempt(struct cell_kv *kv, const struct kv_call *k, uint64_t deadline,
				struct cell_kv_result *res, char *hint_dir, size_t hint_cap,
				bool *hinted)
{
	uint32_t max = CELL_NUCLEUS_KV_REQUEST_SIZE + (uint32_t)k->key_len +
		       (uint32_t)k->expect_len + (uint32_t)k->value_len + 8;
	struct cell_nucleus_kv_request *req;
	struct cell_kv_answer_view a;
	struct cell_response r;
	struct cell_call *call;
	enum cell_status st;
	uint32_t at = CELL_NUCLEUS_KV_REQUEST_SIZE;
	void *buf;

	*hinted = false;
	st = connect_target(kv, deadline);
	if (st != CELL_STATUS_OK)
		return st;
	st = cell_call_begin(kv->c, CELL_NUCLEUS_METHOD_KV, max, 0, deadline, &call, &buf);
	if (st != CELL_STATUS_OK)
		return st;
	memset(buf, 0, max);
	req = buf;
	req->op = k->op;
	req->expect_absent = k->expect_absent;
	req->client = k->op ? kv->client : 0;
	req->request = k->op ? k->request : 0;
	put_span(buf, &at, &req->key, k->key, k->key_len);
	put_span(buf, &at, &req->expect, k->expect, k->expect_len);
	put_span(buf, &at, &req->value, k->value, k->value_len);
	st = cell_call_finish(call, at, &r);
	if (st == CELL_STATUS_NOT_LEADER) {
		*hinted = r.detail &&
			  !cell_kv_parse_hint(r.detail, r.detail_len, hint_dir, hint_cap);
		cell_fail(st, "%.*s", (int)r.detail_len, r.detail ? r.detail : "");
	} else if (st != CELL_STATUS_OK) {
		cell_fail(st, "nucleus kv: %.*s", (int)r.detail_len, r.detail ? r.detail : "");
	} else if (cell_kv_parse_answer(r.data, r.len, &a)) {
		st = cell_fail(CELL_STATUS_BAD_MESSAGE, "nucleus kv: malformed answer");
	} else {
		res->outcome = (enum cell_kv_outcome)a.outcome;
		res->revision = a.revision;
		res->value_len = a.value_len;
		if (k->op == 0 && a.found && a.value_len > k->cap) {
			st = cell_fail(CELL_STATUS_TOO_LARGE, "value of %u bytes, room for %zu",
				       a.value_len, k->cap);
		} else if (k->op == 0 && a.found && a.value_len) {
			memcpy(k->buf, a.value, a.value_len);
		}
		if (k->op == 0 && !a.found)
			res->outcome = CELL_KV_ABSENT;
	}
	cell_call_end(call);
	return st;
}

static bool deadline_passed(uint64_t deadline)
{
	return cell_now_ns() >= deadline;
}

static enum cell_status run(struct cell_kv *kv, struct kv_call *k, struct cell_kv_result *res,
			    uint64_t deadline)
{
	struct cell_kv_result local;
	unsigned int backoff = KV_BACKOFF_MIN_MS, hops = 0;
	enum cell_status st;
	char hint[256];
	bool hinted;

	if (!res)
		res = &local;
	memset(res, 0, sizeof(*res));
	if (!kv || !k->key || !k->key_len || k->key_len > CELL_KV_KEY_MAX ||
	    k->value_len > CELL_KV_VALUE_MAX || k->expect_len > CELL_KV_VALUE_MAX ||
	    (k->value_len && !k->value) || (k->expect_len && !k->expect))
		return cell_fail(CELL_STATUS_INVALID_ARGUMENT,
				 "cell_kv: key must be 1..%d bytes, values up to %u",
				 CELL_KV_KEY_MAX, CELL_KV_VALUE_MAX);
	if (k->op)
		k->request = kv->next_request++; /* the same for every attempt */
	for (;;) {
		st = attempt(kv, k, deadline, res, hint, sizeof(hint), &hinted);
		if (st == CELL_STATUS_OK)
			return st;
		if (st != CELL_STATUS_NOT_LEADER && st != CELL_STATUS_UNAVAILABLE &&
		    st != CELL_STATUS_DEADLINE_EXCEEDED)
			return st;
		if (deadline_passed(deadline))
			return st == CELL_STATUS_NOT_LEADER
				       ? st
				       : cell_fail(CELL_STATUS_DEADLINE_EXCEEDED,
						   "cell_kv: no answer by the deadline (%s)%s",
						   cell_status_name(st),
						   k->op ? ": the write may still commit" : "");
		cell_client_free(kv->c);
		kv->c = NULL;
		res->retries++;
		if (st == CELL_STATUS_NOT_LEADER && hinted && hops < KV_HOPS_MAX &&
		    strcmp(hint, kv->target)) {
			hops++;
			res->redirects++;
			strcpy(kv->target, hint);
			continue;
		}
		/* No leader known, the node went away, or redirects went round. */
		hops = 0;
		nap_ms(backoff, deadline);
		backoff = backoff * 2 > KV_BACKOFF_MAX_MS ? KV_BACKOFF_MAX_MS : backoff * 2;
		if (st != CELL_STATUS_NOT_LEADER || !hinted)
			strcpy(kv->target, kv->home);
		else
			strcpy(kv->target, hint);
	}
}

enum cell_status cell_kv_get(struct cell_kv *kv, const void *key, size_t key_len, void *buf,
			     size_t cap, struct cell_kv_result *res, uint64_t deadline)
{
	struct kv_call k = { .op = 0, .key = key, .key_len = key_len, .buf = buf, .cap = cap };

	return run(kv, &k, res, deadline);
}

enum cell_status cell_kv_put(struct cell_kv *kv, const void *key, size_t key_len, const void *value,
			     size_t value_len, struct cell_kv_result *res, uint64_t deadline)
{
	struct kv_call k = {
		.op = 1, .key = key, .key_len = key_len, .value = value, .value_len = value_len
	};

	return run(kv, &k, res, deadline);
}

enum cell_status cell_kv_cas(struct cell_kv *kv, const void *key, size_t key_len,
			     const void *expect, size_t expect_len, const void *value,
			     size_t value_len, struct cell_kv_result *res, uint64_t deadline)
{
	struct kv_call k = { .op = 3,
			     .expect_absent = expect == NULL,
			     .key = key,
			     .key_len = key_len,
			     .expect = expect,
			     .expect_len = expect ? expect_len : 0,
			     .value = value,
			     .value_len = value_len };

	return run(kv, &k, res, deadline);
}

enum cell_status cell_kv_del(struct cell_kv *kv, const void *key, size_t key_len,
			     struct cell_kv_result *res, uint64_t deadline)
{
	struct kv_call k = { .op = 2, .key = key, .key_len = key_len };

	return run(kv, &k, res, deadline);
}
