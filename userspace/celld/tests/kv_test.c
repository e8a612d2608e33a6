// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * The replicated state machine (kv.c) and its libraft glue (kv_fsm.c):
 * command codec rules, deterministic application with per-client
 * deduplication, snapshots that refuse corruption, and whole clusters
 * under libraft's deterministic fixture (raft_fixture: simulated network,
 * disk and time, so a run replays exactly from its seed).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <raft.h>
#include <raft/fixture.h>
#include <sodium.h>

#include "kv.h"
#include "kselftest_harness.h"

static size_t put_cmd(uint8_t *buf, uint8_t op, uint64_t client, uint64_t req, const char *key,
		      const char *expect, const char *value)
{
	struct kv_cmd c = {
		.op = op,
		.table = KV_TABLE_KV,
		.client = client,
		.request = req,
		.key = (const uint8_t *)key,
		.key_len = (uint16_t)strlen(key),
		.expect = (const uint8_t *)expect,
		.expect_len = expect ? (uint32_t)strlen(expect) : 0,
		.value = (const uint8_t *)value,
		.value_len = value ? (uint32_t)strlen(value) : 0,
	};

	return kv_cmd_encode(&c, buf, KV_CMD_MAX);
}

static int apply(struct kv_state *s, const uint8_t *buf, size_t len, struct kv_result *res)
{
	struct kv_cmd c;

	if (kv_cmd_decode(buf, len, &c, NULL))
		return -EBADMSG;
	return kv_state_apply(s, &c, kv_state_applied(s) + 1, res);
}

static int value_is(struct kv_state *s, const char *key, const char *want)
{
	uint32_t len;
	const uint8_t *v = kv_state_get(s, KV_TABLE_KV, (const uint8_t *)key, (uint16_t)strlen(key),
					&len, NULL);

	if (!want)
		return v == NULL;
	return v && len == strlen(want) && !memcmp(v, want, len);
}

TEST(codec_round_trip_and_rules)
{
	static uint8_t buf[KV_CMD_MAX];
	struct kv_cmd c;
	const char *why = NULL;
	size_t len = put_cmd(buf, KV_OP_CAS, 7, 1, "k", "old", "new");

	ASSERT_EQ(KV_CMD_HDR + 8, len); /* 7 bytes padded to 8 */
	ASSERT_EQ(0, kv_cmd_decode(buf, len, &c, &why));
	EXPECT_EQ(KV_OP_CAS, c.op);
	EXPECT_EQ(7, c.client);
	EXPECT_EQ(0, memcmp(c.expect, "old", 3));
	EXPECT_EQ(0, memcmp(c.value, "new", 3));
	/* Every single-byte truncation and extension is refused. */
	for (size_t n = 0; n < len; n++)
		EXPECT_EQ(-EBADMSG, kv_cmd_decode(buf, n, &c, &why));
	EXPECT_EQ(-EBADMSG, kv_cmd_decode(buf, len + 1, &c, &why));
	buf[len - 1] = 1;
	EXPECT_EQ(-EBADMSG, kv_cmd_decode(buf, len, &c, &why));
	EXPECT_STREQ("padding not zero", why);
	buf[len - 1] = 0;
	buf[0] = 2;
	EXPECT_EQ(-EBADMSG, kv_cmd_decode(buf, len, &c, &why));
	EXPECT_STREQ("unknown command version", why);
	buf[0] = KV_CMD_VERSION;
	buf[22] = 1;
	EXPECT_EQ(-EBADMSG, kv_cmd_decode(buf, len, &c, &why));
	buf[22] = 0;
	buf[1] = 9;
	EXPECT_EQ(-EBADMSG, kv_cmd_decode(buf, len, &c, &why));
	EXPECT_STREQ("unknown op", why);
	/* Encoder refuses what the decoder would. */
	EXPECT_EQ(0, put_cmd(buf, KV_OP_PUT, 0, 1, "k", NULL, "v"));
	EXPECT_EQ(0, put_cmd(buf, KV_OP_PUT, 1, 1, "", NULL, "v"));
	EXPECT_EQ(0, put_cmd(buf, KV_OP_DEL, 1, 1, "k", NULL, "v"));
}

TEST(apply_put_cas_del_and_dedup)
{
	struct kv_state *s = kv_state_new(NULL);
	static uint8_t buf[KV_CMD_MAX];
	struct kv_result r, again;
	size_t len;

	ASSERT_NE(NULL, s);
	len = put_cmd(buf, KV_OP_PUT, 1, 1, "a", NULL, "1");
	ASSERT_EQ(0, apply(s, buf, len, &r));
	EXPECT_EQ(KV_DONE, r.outcome);
	EXPECT_EQ(1, r.revision);
	EXPECT_TRUE(value_is(s, "a", "1"));

	/* The same request committed twice: one effect, the same answer. */
	len = put_cmd(buf, KV_OP_CAS, 2, 1, "a", "1", "2");
	ASSERT_EQ(0, apply(s, buf, len, &r));
	EXPECT_EQ(KV_DONE, r.outcome);
	ASSERT_EQ(0, apply(s, buf, len, &again));
	EXPECT_EQ(KV_DONE, again.outcome);
	EXPECT_EQ(r.revision, again.revision);
	EXPECT_TRUE(value_is(s, "a", "2"));

	/* A cas that does not match changes nothing. */
	len = put_cmd(buf, KV_OP_CAS, 2, 2, "a", "1", "3");
	ASSERT_EQ(0, apply(s, buf, len, &r));
	EXPECT_EQ(KV_CAS_MISMATCH, r.outcome);
	EXPECT_TRUE(value_is(s, "a", "2"));

	/* An older request of the same client is stale, not applied. */
	len = put_cmd(buf, KV_OP_PUT, 2, 1, "b", NULL, "x");
	ASSERT_EQ(0, apply(s, buf, len, &r));
	EXPECT_TRUE(value_is(s, "b", NULL));

	len = put_cmd(buf, KV_OP_DEL, 3, 1, "a", NULL, NULL);
	ASSERT_EQ(0, apply(s, buf, len, &r));
	EXPECT_EQ(KV_DONE, r.outcome);
	EXPECT_TRUE(value_is(s, "a", NULL));
	len = put_cmd(buf, KV_OP_DEL, 3, 2, "a", NULL, NULL);
	ASSERT_EQ(0, apply(s, buf, len, &r));
	EXPECT_EQ(KV_ABSENT, r.outcome);
	kv_state_free(s);
}

TEST(limits_refuse_with_full)
{
	struct kv_limits lim = { .max_keys = 2, .max_bytes = 1024 };
	struct kv_state *s = kv_state_new(&lim);
	static uint8_t buf[KV_CMD_MAX];
	static char big[2000];
	struct kv_result r;
	size_t len;

	ASSERT_NE(NULL, s);
	ASSERT_EQ(0, apply(s, buf, put_cmd(buf, KV_OP_PUT, 1, 1, "a", NULL, "1"), &r));
	ASSERT_EQ(0, apply(s, buf, put_cmd(buf, KV_OP_PUT, 1, 2, "b", NULL, "1"), &r));
	ASSERT_EQ(0, apply(s, buf, put_cmd(buf, KV_OP_PUT, 1, 3, "c", NULL, "1"), &r));
	EXPECT_EQ(KV_FULL, r.outcome);
	EXPECT_EQ(2, kv_state_count(s, KV_TABLE_KV));
	memset(big, 'x', sizeof(big) - 1);
	len = put_cmd(buf, KV_OP_PUT, 1, 4, "a", NULL, big);
	ASSERT_EQ(0, apply(s, buf, len, &r));
	EXPECT_EQ(KV_FULL, r.outcome);
	EXPECT_TRUE(value_is(s, "a", "1"));
	kv_state_free(s);
}

TEST(snapshot_round_trip_and_every_corruption_refused)
{
	struct kv_state *s = kv_state_new(NULL), *t = kv_state_new(NULL);
	static uint8_t buf[KV_CMD_MAX];
	struct kv_result r;
	uint8_t *snap;
	size_t len;
	const char *why;
	char key[16], val[16];

	ASSERT_NE(NULL, s);
	ASSERT_NE(NULL, t);
	for (int i = 0; i < 50; i++) {
		snprintf(key, sizeof(key), "k%02d", i);
		snprintf(val, sizeof(val), "v%d", i * 7);
		ASSERT_EQ(0,
			  apply(s, buf,
				put_cmd(buf, KV_OP_PUT, 1 + i % 5, 1 + i / 5, key, NULL, val), &r));
	}
	ASSERT_EQ(0, kv_state_snapshot(s, &snap, &len));
	ASSERT_EQ(0, kv_state_restore(t, snap, len, &why));
	EXPECT_EQ(kv_state_digest(s), kv_state_digest(t));
	EXPECT_EQ(kv_state_applied(s), kv_state_applied(t));
	EXPECT_TRUE(value_is(t, "k49", "v343"));
	/* Dedup state travels too: a retried request is still a duplicate. */
	ASSERT_EQ(0, apply(t, buf, put_cmd(buf, KV_OP_PUT, 5, 10, "k49", NULL, "changed"), &r));
	EXPECT_TRUE(value_is(t, "k49", "v343"));

	/* Each flipped byte and each truncation: refused, state unchanged. */
	uint64_t before = kv_state_digest(t);

	for (size_t i = 0; i < len; i += 7) {
		snap[i] ^= 0x40;
		why = NULL;
		EXPECT_EQ(-EBADMSG, kv_state_restore(t, snap, len, &why));
		EXPECT_NE(NULL, why);
		snap[i] ^= 0x40;
	}
	for (size_t n = 0; n < len; n += 13)
		EXPECT_EQ(-EBADMSG, kv_state_restore(t, snap, n, &why));
	EXPECT_EQ(before, kv_state_digest(t));

	/* Written as CELLKV02 (CRC-32C); CELLKV01 (BLAKE2b, older celld) still reads. */
	EXPECT_EQ(0, memcmp(snap, "CELLKV02", 8));
	memcpy(snap, "CELLKV01", 8);
	EXPECT_EQ(-EBADMSG, kv_state_restore(t, snap, len, &why)); /* CRC trailer */
	crypto_generichash(snap + len - 16, 16, snap, len - 16, NULL, 0);
	ASSERT_EQ(0, kv_state_restore(t, snap, len, &why));
	EXPECT_EQ(kv_state_digest(s), kv_state_digest(t));
	snap[20] ^= 1;
	EXPECT_EQ(-EBADMSG, kv_state_restore(t, snap, len, &why));
	memcpy(snap, "CELLKV03", 8);
	EXPECT_EQ(-EBADMSG, kv_state_restore(t, snap, len, &why));
	EXPECT_STREQ("not a cell kv snapshot (magic)", why);
	free(snap);
	kv_state_free(s);
	kv_state_free(t);
}

static void fill(struct kv_state *s, uint64_t client, int n, const char *tag)
{
	static uint8_t buf[KV_CMD_MAX];
	struct kv_result r;
	char key[16], val[32];

	for (int i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "k%03d", i);
		snprintf(val, sizeof(val), "%s-%d", tag, i);
		if (apply(s, buf,
			  put_cmd(buf, KV_OP_PUT, client, kv_state_applied(s) + 1, key, NULL, val),
			  &r))
			abort();
	}
}

static bool same_bytes(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	return alen == blen && !memcmp(a, b, alen);
}

/* What the state is frozen at is what the view's snapshot says, whatever follows. */
TEST(frozen_view_keeps_its_bytes_while_the_state_moves_on)
{
	struct kv_state *s = kv_state_new(NULL), *t = kv_state_new(NULL);
	static uint8_t buf[KV_CMD_MAX];
	uint8_t *want, *got, *other;
	size_t want_len, got_len, other_len;
	struct kv_result r;
	struct kv_view *v, *w;
	const char *why;

	ASSERT_NE(NULL, s);
	ASSERT_NE(NULL, t);
	fill(s, 1, 200, "old");
	ASSERT_EQ(0, kv_state_snapshot(s, &want, &want_len));
	v = kv_state_freeze(s);
	ASSERT_NE(NULL, v);
	EXPECT_EQ(kv_state_applied(s), kv_view_applied(v));
	/* Replace, delete and add keys, then replace everything by a restore. */
	fill(s, 2, 300, "new");
	ASSERT_EQ(0, apply(s, buf, put_cmd(buf, KV_OP_DEL, 3, 1, "k007", NULL, NULL), &r));
	EXPECT_EQ(KV_DONE, r.outcome);
	w = kv_state_freeze(s); /* a second view, thawed first */
	ASSERT_NE(NULL, w);
	ASSERT_EQ(0, kv_view_snapshot(w, &other, &other_len));
	fill(t, 4, 50, "restored");
	ASSERT_EQ(0, kv_state_snapshot(t, &got, &got_len));
	ASSERT_EQ(0, kv_state_restore(s, got, got_len, &why));
	free(got);
	kv_state_thaw(s, w);
	ASSERT_EQ(0, kv_view_snapshot(v, &got, &got_len));
	EXPECT_TRUE(same_bytes(want, want_len, got, got_len));
	EXPECT_FALSE(same_bytes(want, want_len, other, other_len));
	/* The view's bytes restore to the state it was frozen from. */
	ASSERT_EQ(0, kv_state_restore(t, got, got_len, &why));
	EXPECT_TRUE(value_is(t, "k007", "old-7"));
	EXPECT_EQ(200, kv_state_count(t, KV_TABLE_KV));
	free(got);
	kv_state_thaw(s, v);
	EXPECT_TRUE(value_is(s, "k049", "restored-49"));
	EXPECT_EQ(50, kv_state_count(s, KV_TABLE_KV));
	free(want);
	free(other);
	kv_state_free(s);
	kv_state_free(t);
}

struct serializer {
	struct kv_view *v;
	int rounds, bad;
	const uint8_t *want;
	size_t want_len;
};

static void *serialize_repeatedly(void *arg)
{
	struct serializer *z = arg;
	uint8_t *got;
	size_t len;

	for (int i = 0; i < z->rounds; i++) {
		if (kv_view_snapshot(z->v, &got, &len)) {
			z->bad++;
			continue;
		}
		z->bad += !same_bytes(z->want, z->want_len, got, len);
		free(got);
	}
	return NULL;
}

/* Another thread serializes the view while this one keeps applying (TSan, ASan). */
TEST(view_serialized_on_another_thread_during_applies)
{
	struct kv_state *s = kv_state_new(NULL);
	struct serializer z = { .rounds = 20 };
	uint8_t *want;
	size_t want_len;
	pthread_t th;

	ASSERT_NE(NULL, s);
	fill(s, 1, 500, "frozen");
	ASSERT_EQ(0, kv_state_snapshot(s, &want, &want_len));
	z.want = want;
	z.want_len = want_len;
	z.v = kv_state_freeze(s);
	ASSERT_NE(NULL, z.v);
	ASSERT_EQ(0, pthread_create(&th, NULL, serialize_repeatedly, &z));
	for (int round = 0; round < 20; round++)
		fill(s, 2 + (uint64_t)round, 500, round & 1 ? "odd" : "even");
	ASSERT_EQ(0, pthread_join(th, NULL));
	EXPECT_EQ(0, z.bad);
	kv_state_thaw(s, z.v);
	EXPECT_TRUE(value_is(s, "k499", "odd-499"));
	free(want);
	kv_state_free(s);
}

/* ---- clusters under raft_fixture ---------------------------------------- */

#define N 5

struct cluster {
	struct raft_fixture f;
	struct kv_fsm fsm[N];
	struct kv_state *state[N];
	unsigned int n;
};

/*
 * @async: snapshots through snapshot_async, which raft_fixture runs as
 * "work" completing a few simulated milliseconds later while the loop
 * applies on; enabled after raft_init() (see kv_fsm_set_async()).
 */
static void cluster_start_with(struct __test_metadata *_metadata, struct cluster *c, unsigned int n,
			       unsigned int snapshot_threshold, bool async)
{
	struct raft_configuration conf;

	c->n = n;
	ASSERT_EQ(0, raft_fixture_initialize(&c->f));
	for (unsigned int i = 0; i < n; i++) {
		c->state[i] = kv_state_new(NULL);
		ASSERT_NE(NULL, c->state[i]);
		kv_fsm_init(&c->fsm[i], c->state[i], false);
		ASSERT_EQ(0, raft_fixture_grow(&c->f, &c->fsm[i].fsm));
		kv_fsm_set_async(&c->fsm[i], async);
		if (snapshot_threshold) {
			raft_set_snapshot_threshold(raft_fixture_get(&c->f, i), snapshot_threshold);
			raft_set_snapshot_trailing(raft_fixture_get(&c->f, i), 2);
		}
		raft_set_pre_vote(raft_fixture_get(&c->f, i), true);
	}
	ASSERT_EQ(0, raft_fixture_configuration(&c->f, n, &conf));
	ASSERT_EQ(0, raft_fixture_bootstrap(&c->f, &conf));
	raft_configuration_close(&conf);
	ASSERT_EQ(0, raft_fixture_start(&c->f));
	ASSERT_TRUE(raft_fixture_step_until_has_leader(&c->f, 10000));
}

static void cluster_start(struct __test_metadata *_metadata, struct cluster *c, unsigned int n,
			  unsigned int snapshot_threshold)
{
	cluster_start_with(_metadata, c, n, snapshot_threshold, false);
}

static void cluster_stop(struct cluster *c)
{
	raft_fixture_close(&c->f);
	for (unsigned int i = 0; i < c->n; i++) {
		kv_fsm_close(&c->fsm[i]);
		kv_state_free(c->state[i]);
	}
}

struct pending {
	struct raft_apply req;
	int done, status;
	struct kv_result res;
};

static void applied(struct raft_apply *req, int status, void *result)
{
	struct pending *p = req->data;

	p->done = 1;
	p->status = status;
	if (!status)
		kv_fsm_result(result, &p->res);
}

/* Propose a put on server @l; 0 if proposed. */
static int propose_on(struct cluster *c, unsigned int l, struct pending *p, uint64_t client,
		      uint64_t req, const char *key, const char *value)
{
	struct raft_buffer b;
	uint8_t tmp[512];
	size_t len = put_cmd(tmp, KV_OP_PUT, client, req, key, NULL, value);
	int rv;

	if (l >= c->n || !len)
		return -1;
	b.len = len;
	b.base = raft_malloc(len);
	memcpy(b.base, tmp, len);
	memset(p, 0, sizeof(*p));
	p->req.data = p;
	rv = raft_apply(raft_fixture_get(&c->f, l), &p->req, &b, 1, applied);
	if (rv)
		raft_free(b.base);
	return rv;
}

/* Propose a put on the leader the whole cluster agrees on. */
static int propose(struct cluster *c, struct pending *p, uint64_t client, uint64_t req,
		   const char *key, const char *value)
{
	return propose_on(c, raft_fixture_leader_index(&c->f), p, client, req, key, value);
}

struct side {
	struct cluster *c;
	unsigned int a, b; /* the two servers cut off */
	unsigned int leader;
};

/* A leader among the servers other than a and b. */
static bool majority_has_leader(struct raft_fixture *f, void *arg)
{
	struct side *sd = arg;

	for (unsigned int i = 0; i < sd->c->n; i++) {
		if (i == sd->a || i == sd->b)
			continue;
		if (raft_state(raft_fixture_get(f, i)) == RAFT_LEADER) {
			sd->leader = i;
			return true;
		}
	}
	return false;
}

static bool all_done(struct raft_fixture *f, void *arg)
{
	struct pending *p = arg;

	(void)f;
	return p->done;
}

static bool digests_equal(struct cluster *c, unsigned int skip)
{
	uint64_t d = 0;
	bool first = true;

	for (unsigned int i = 0; i < c->n; i++) {
		if (i == skip)
			continue;
		if (first)
			d = kv_state_digest(c->state[i]);
		else if (d != kv_state_digest(c->state[i]))
			return false;
		first = false;
	}
	return true;
}

static bool converged(struct raft_fixture *f, void *arg)
{
	struct cluster *c = arg;
	raft_index last = 0;

	(void)f;
	for (unsigned int i = 0; i < c->n; i++)
		if (raft_fixture_alive(&c->f, i) &&
		    raft_last_applied(raft_fixture_get(&c->f, i)) > last)
			last = raft_last_applied(raft_fixture_get(&c->f, i));
	for (unsigned int i = 0; i < c->n; i++)
		if (raft_last_applied(raft_fixture_get(&c->f, i)) != last)
			return false;
	return digests_equal(c, c->n);
}

TEST(three_nodes_replicate_and_survive_a_leader_kill)
{
	struct cluster c;
	struct pending p;
	unsigned int old;
	char key[16];

	cluster_start(_metadata, &c, 3, 0);
	for (int i = 1; i <= 20; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		ASSERT_EQ(0, propose(&c, &p, 1, (uint64_t)i, key, "v"));
		ASSERT_TRUE(raft_fixture_step_until(&c.f, all_done, &p, 5000));
		EXPECT_EQ(0, p.status);
		EXPECT_EQ(KV_DONE, p.res.outcome);
	}
	ASSERT_TRUE(raft_fixture_step_until(&c.f, converged, &c, 5000));
	old = raft_fixture_leader_index(&c.f);
	raft_fixture_kill(&c.f, old);
	ASSERT_TRUE(raft_fixture_step_until_has_no_leader(&c.f, 10000) ||
		    raft_fixture_leader_index(&c.f) != old);
	ASSERT_TRUE(raft_fixture_step_until_has_leader(&c.f, 20000));
	ASSERT_NE(old, raft_fixture_leader_index(&c.f));
	/* The new leader has every acknowledged write, and takes more. */
	for (int i = 1; i <= 20; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		EXPECT_TRUE(value_is(c.state[raft_fixture_leader_index(&c.f)], key, "v"));
	}
	ASSERT_EQ(0, propose(&c, &p, 2, 1, "after", "kill"));
	ASSERT_TRUE(raft_fixture_step_until(&c.f, all_done, &p, 5000));
	EXPECT_EQ(KV_DONE, p.res.outcome);
	raft_fixture_revive(&c.f, old);
	ASSERT_TRUE(raft_fixture_step_until(&c.f, converged, &c, 20000));
	EXPECT_TRUE(value_is(c.state[old], "after", "kill"));
	cluster_stop(&c);
}

TEST(snapshots_compact_and_a_lagging_node_catches_up_by_install)
{
	struct cluster c;
	struct pending p;
	unsigned int lag;
	char key[16];

	cluster_start(_metadata, &c, 3, 16);
	lag = (raft_fixture_leader_index(&c.f) + 1) % 3;
	raft_fixture_kill(&c.f, lag);
	for (int i = 1; i <= 100; i++) {
		snprintf(key, sizeof(key), "k%d", i % 10);
		ASSERT_EQ(0, propose(&c, &p, 3, (uint64_t)i, key, key));
		ASSERT_TRUE(raft_fixture_step_until(&c.f, all_done, &p, 5000));
		ASSERT_EQ(KV_DONE, p.res.outcome);
	}
	raft_fixture_revive(&c.f, lag);
	ASSERT_TRUE(raft_fixture_step_until(&c.f, converged, &c, 30000));
	EXPECT_EQ(10, kv_state_count(c.state[lag], KV_TABLE_KV));
	EXPECT_TRUE(digests_equal(&c, c.n));
	cluster_stop(&c);
}

/*
 * Asynchronous snapshots: writes go on while one is serialized, the
 * snapshot a lagging node installs holds exactly the entries up to its
 * index (the node then converges to the same digest).  raft_fixture runs
 * the snapshot_async work 200 simulated ms after it is queued.
 */
TEST(async_snapshots_compact_while_writes_continue_and_install)
{
	struct cluster c;
	struct pending p;
	unsigned int lag, l;
	uint64_t made = 0, overlapped = 0;
	char key[16], val[16];

	cluster_start_with(_metadata, &c, 3, 16, true);
	lag = (raft_fixture_leader_index(&c.f) + 1) % 3;
	raft_fixture_kill(&c.f, lag);
	for (int i = 1; i <= 200; i++) {
		snprintf(key, sizeof(key), "k%d", i % 13);
		snprintf(val, sizeof(val), "v%d", i);
		ASSERT_EQ(0, propose(&c, &p, 3, (uint64_t)i, key, val));
		ASSERT_TRUE(raft_fixture_step_until(&c.f, all_done, &p, 5000));
		ASSERT_EQ(KV_DONE, p.res.outcome);
	}
	l = raft_fixture_leader_index(&c.f);
	for (unsigned int i = 0; i < c.n; i++) {
		made += c.fsm[i].async_snapshots;
		overlapped += c.fsm[i].overlapped;
	}
	EXPECT_LE(4, c.fsm[l].async_snapshots);
	EXPECT_LT(0, overlapped); /* commands applied while a view was out */
	raft_fixture_revive(&c.f, lag);
	ASSERT_TRUE(raft_fixture_step_until(&c.f, converged, &c, 30000));
	EXPECT_EQ(13, kv_state_count(c.state[lag], KV_TABLE_KV));
	EXPECT_TRUE(value_is(c.state[lag], "k5", "v200"));
	EXPECT_TRUE(digests_equal(&c, c.n));
	EXPECT_LT(0, made);
	cluster_stop(&c);
}

/* A minority side cannot commit; after healing, nothing acknowledged is lost. */
TEST(five_nodes_partition_minority_commits_nothing)
{
	struct cluster c;
	struct pending p;
	unsigned int l, a, b;
	char key[16];

	cluster_start(_metadata, &c, 5, 0);
	l = raft_fixture_leader_index(&c.f);
	ASSERT_EQ(0, propose(&c, &p, 4, 1, "before", "split"));
	ASSERT_TRUE(raft_fixture_step_until(&c.f, all_done, &p, 5000));
	/* Cut the leader and one follower off from the other three. */
	a = l;
	b = (l + 1) % 5;
	for (unsigned int i = 0; i < 5; i++) {
		if (i == a || i == b)
			continue;
		raft_fixture_disconnect(&c.f, a, i);
		raft_fixture_disconnect(&c.f, i, a);
		raft_fixture_disconnect(&c.f, b, i);
		raft_fixture_disconnect(&c.f, i, b);
	}
	/* The old leader still takes the proposal but must never apply it. */
	ASSERT_EQ(0, propose(&c, &p, 4, 2, "minority", "lost"));
	raft_fixture_step_until_elapsed(&c.f, 10000);
	EXPECT_FALSE(p.done && p.status == 0 && p.res.outcome == KV_DONE);
	for (unsigned int i = 0; i < 5; i++)
		EXPECT_TRUE(value_is(c.state[i], "minority", NULL));
	/* The majority elects its own leader and commits. */
	{
		struct side sd = { .c = &c, .a = a, .b = b };
		struct pending q;

		ASSERT_TRUE(raft_fixture_step_until(&c.f, majority_has_leader, &sd, 20000));
		l = sd.leader;
		snprintf(key, sizeof(key), "majority");
		ASSERT_EQ(0, propose_on(&c, l, &q, 5, 1, key, "kept"));
		ASSERT_TRUE(raft_fixture_step_until(&c.f, all_done, &q, 10000));
		EXPECT_EQ(KV_DONE, q.res.outcome);
	}
	for (unsigned int i = 0; i < 5; i++) {
		if (i == a || i == b)
			continue;
		raft_fixture_reconnect(&c.f, a, i);
		raft_fixture_reconnect(&c.f, i, a);
		raft_fixture_reconnect(&c.f, b, i);
		raft_fixture_reconnect(&c.f, i, b);
	}
	ASSERT_TRUE(raft_fixture_step_until(&c.f, converged, &c, 30000));
	for (unsigned int i = 0; i < 5; i++) {
		EXPECT_TRUE(value_is(c.state[i], "before", "split"));
		EXPECT_TRUE(value_is(c.state[i], "majority", "kept"));
		EXPECT_TRUE(value_is(c.state[i], "minority", NULL));
	}
	cluster_stop(&c);
}

TEST_HARNESS_MAIN
