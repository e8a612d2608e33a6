// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * The replicated state machine of a celld cluster (kv.h): commands, their
 * deterministic application, snapshots.
 *
 * Command layout (little-endian, KV_CMD_HDR bytes then the bytes):
 *   0 u8 version (1)   1 u8 op   2 u8 table   3 u8 flags
 *   4 u64 client       12 u64 request
 *  20 u16 key_len      22 u16 reserved (0)
 *  24 u32 expect_len   28 u32 value_len
 *  32 key, expect, value, then zero bytes to a multiple of 8 (libraft
 *     stores entries in 8-byte units and counts on their length being one)
 *
 * Snapshot layout: "CELLKV02", u64 applied index, then for each table
 * u32 count and count x (u16 key_len, u32 value_len, u64 revision, key,
 * value) in strictly increasing key order, then u32 sessions and
 * sessions x (u64 client, u64 request, u64 index, u8 outcome, u64
 * revision) in increasing client order, zero bytes to make the whole a
 * multiple of 8, then 16 bytes: u32 CRC-32C (Castagnoli) over everything
 * before them and 12 zero bytes.  "CELLKV01" (written by celld before) is
 * the same with 16 bytes of BLAKE2b instead, still read.  The checksum is
 * there against damage (disk, truncation), not against forgery: CRC-32C
 * catches every error burst up to 32 bits and costs a tenth of BLAKE2b
 * (2 vs 17 ms for 16 MiB here), which every node pays per snapshot.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "kv.h"

#define SNAP_MAGIC    "CELLKV02"
#define SNAP_MAGIC_V1 "CELLKV01"
#define SNAP_SUM      16

/* ---- CRC-32C ------------------------------------------------------------- */

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_table_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
		crc_table[i] = c;
	}
}

static uint32_t crc32c_table(uint32_t crc, const uint8_t *p, size_t n)
{
	pthread_once(&crc_once, crc_table_init);
	while (n--)
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t crc32c_sse42(uint32_t crc, const uint8_t *p,
							       size_t n)
{
	uint64_t c = crc, w;

	for (; n >= 8; n -= 8, p += 8) {
		memcpy(&w, p, 8);
		c = __builtin_ia32_crc32di(c, w);
	}
	crc = (uint32_t)c;
	while (n--)
		crc = __builtin_ia32_crc32qi(crc, *p++);
	return crc;
}
#endif

static uint32_t crc32c(const uint8_t *p, size_t n)
{
#if defined(__x86_64__)
	if (__builtin_cpu_supports("sse4.2"))
		return ~crc32c_sse42(~0u, p, n);
#endif
	return ~crc32c_table(~0u, p, n);
}

/* The 16-byte trailer of a CELLKV02 snapshot over @len bytes at @buf. */
static void snap_sum(const uint8_t *buf, size_t len, uint8_t sum[SNAP_SUM])
{
	uint32_t c = crc32c(buf, len);

	memset(sum, 0, SNAP_SUM);
	for (int i = 0; i < 4; i++)
		sum[i] = (uint8_t)(c >> (8 * i));
}

/*
 * An entry never changes once made: a put makes a new one, so a frozen view
 * (struct kv_view) can read it from another thread while the state moves on.
 */
struct entry {
	uint64_t revision;
	struct entry *dead; /* next in kv_state.graveyard (loop thread only) */
	uint32_t value_len;
	uint16_t key_len;
	uint8_t bytes[]; /* key, then value */
};

struct table {
	struct entry **e; /* sorted by key */
	uint32_t n, cap;
};

struct session {
	uint64_t client;
	uint64_t request;
	uint64_t index; /* log index of its last request: eviction order */
	struct kv_result res;
};

struct kv_state {
	struct table t[KV_TABLE_COUNT];
	struct session *sess; /* sorted by client */
	uint32_t nsess;
	uint64_t applied;
	uint64_t bytes;
	struct kv_limits lim;
	uint32_t views;		 /* frozen views not yet thawed */
	struct entry *graveyard; /* entries dropped while views > 0 */
};

/*
 * What a snapshot is made of: the tables' entry arrays, the sessions and the
 * applied index.  kv_state_snapshot() points it into the state itself;
 * kv_state_freeze() gives it arrays of its own.
 */
struct kv_view {
	uint64_t applied;
	struct entry **e[KV_TABLE_COUNT];
	uint32_t n[KV_TABLE_COUNT];
	struct session *sess;
	uint32_t nsess;
};

/* ---- little-endian helpers ------------------------------------------ */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v;
	p[1] = v >> 8;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = v >> (8 * i);
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = v >> (8 * i);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* ---- commands ---------------------------------------------------------- */

static const char *cmd_invalid(const struct kv_cmd *c)
{
	if (c->op < KV_OP_PUT || c->op > KV_OP_CAS)
		return "unknown op";
	if (c->table >= KV_TABLE_COUNT)
		return "unknown table";
	if (c->flags & ~KV_F_EXPECT_ABSENT)
		return "unknown flags";
	if ((c->flags & KV_F_EXPECT_ABSENT) && (c->op != KV_OP_CAS || c->expect_len))
		return "expect-absent is for cas without an expected value";
	if (!c->client)
		return "client id 0";
	if (!c->request)
		return "request number 0";
	if (!c->key_len || c->key_len > KV_KEY_MAX)
		return "key length not 1..256";
	if (c->value_len > KV_VALUE_MAX || c->expect_len > KV_VALUE_MAX)
		return "value longer than 64 KiB";
	if (c->op == KV_OP_DEL && (c->value_len || c->expect_len))
		return "del carries no value";
	if (c->op == KV_OP_PUT && c->expect_len)
		return "put carries no expected value";
	return NULL;
}

#define PAD8(n) (((n) + 7) & ~(size_t)7)

size_t kv_cmd_encode(const struct kv_cmd *c, uint8_t *buf, size_t cap)
{
	size_t used = KV_CMD_HDR + (size_t)c->key_len + c->expect_len + c->value_len;
	size_t len = PAD8(used);

	if (cmd_invalid(c) || len > cap)
		return 0;
	memset(buf + used, 0, len - used);
	buf[0] = KV_CMD_VERSION;
	buf[1] = c->op;
	buf[2] = c->table;
	buf[3] = c->flags;
	put64(buf + 4, c->client);
	put64(buf + 12, c->request);
	put16(buf + 20, c->key_len);
	put16(buf + 22, 0);
	put32(buf + 24, c->expect_len);
	put32(buf + 28, c->value_len);
	memcpy(buf + KV_CMD_HDR, c->key, c->key_len);
	if (c->expect_len)
		memcpy(buf + KV_CMD_HDR + c->key_len, c->expect, c->expect_len);
	if (c->value_len)
		memcpy(buf + KV_CMD_HDR + c->key_len + c->expect_len, c->value, c->value_len);
	return len;
}

int kv_cmd_decode(const uint8_t *buf, size_t len, struct kv_cmd *c, const char **why)
{
	const char *bad = NULL;
	uint64_t used;

	memset(c, 0, sizeof(*c));
	if (len < KV_CMD_HDR) {
		bad = "shorter than a command header";
		goto fail;
	}
	if (buf[0] != KV_CMD_VERSION) {
		bad = "unknown command version";
		goto fail;
	}
	if (get16(buf + 22)) {
		bad = "reserved field set";
		goto fail;
	}
	c->op = buf[1];
	c->table = buf[2];
	c->flags = buf[3];
	c->client = get64(buf + 4);
	c->request = get64(buf + 12);
	c->key_len = get16(buf + 20);
	c->expect_len = get32(buf + 24);
	c->value_len = get32(buf + 28);
	bad = cmd_invalid(c);
	if (bad)
		goto fail;
	used = (uint64_t)KV_CMD_HDR + c->key_len + c->expect_len + c->value_len;
	if (PAD8(used) != len) {
		bad = "lengths do not add up to the command's size";
		goto fail;
	}
	for (uint64_t i = used; i < len; i++) {
		if (buf[i]) {
			bad = "padding not zero";
			goto fail;
		}
	}
	c->key = buf + KV_CMD_HDR;
	c->expect = c->key + c->key_len;
	c->value = c->expect + c->expect_len;
	return 0;
fail:
	memset(c, 0, sizeof(*c));
	if (why)
		*why = bad;
	return -EBADMSG;
}

/* ---- tables ------------------------------------------------------------- */

static int keycmp(const uint8_t *a, uint16_t alen, const uint8_t *b, uint16_t blen)
{
	int r = memcmp(a, b, alen < blen ? alen : blen);

	if (r)
		return r;
	return (alen > blen) - (alen < blen);
}

/* Index of @key in @t, or of where it would go (*found false). */
static uint32_t find(const struct table *t, const uint8_t *key, uint16_t len, bool *found)
{
	uint32_t lo = 0, hi = t->n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int r = keycmp(t->e[mid]->bytes, t->e[mid]->key_len, key, len);

		if (!r) {
			*found = true;
			return mid;
		}
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

static struct entry *entry_new(const uint8_t *key, uint16_t klen, const uint8_t *val, uint32_t vlen,
			       uint64_t rev)
{
	struct entry *e = malloc(sizeof(*e) + klen + vlen);

	if (!e)
		return NULL;
	e->revision = rev;
	e->key_len = klen;
	e->value_len = vlen;
	memcpy(e->bytes, key, klen);
	if (vlen)
		memcpy(e->bytes + klen, val, vlen);
	return e;
}

/*
 * Free @e, or keep it in the graveyard while a frozen view may still read
 * it: kv_state_thaw() of the last view frees the graveyard.
 */
static void entry_drop(struct kv_state *s, struct entry *e)
{
	if (!s->views) {
		free(e);
		return;
	}
	e->dead = s->graveyard;
	s->graveyard = e;
}

static void graveyard_free(struct kv_state *s)
{
	struct entry *e;

	while ((e = s->graveyard)) {
		s->graveyard = e->dead;
		free(e);
	}
}

static int table_reserve(struct table *t)
{
	struct entry **ne;
	uint32_t cap;

	if (t->n < t->cap)
		return 0;
	cap = t->cap ? t->cap * 2 : 16;
	ne = realloc(t->e, (size_t)cap * sizeof(*ne));
	if (!ne)
		return -ENOMEM;
	t->e = ne;
	t->cap = cap;
	return 0;
}

static void table_clear(struct kv_state *s, struct table *t)
{
	for (uint32_t i = 0; i < t->n; i++)
		entry_drop(s, t->e[i]);
	free(t->e);
	memset(t, 0, sizeof(*t));
}

struct kv_state *kv_state_new(const struct kv_limits *limits)
{
	struct kv_state *s;

	if (sodium_init() < 0)
		return errno = EIO, NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	if (limits)
		s->lim = *limits;
	if (!s->lim.max_keys)
		s->lim.max_keys = KV_DEFAULT_KEYS;
	if (!s->lim.max_bytes)
		s->lim.max_bytes = KV_DEFAULT_BYTES;
	return s;
}

static void state_clear(struct kv_state *s)
{
	for (int i = 0; i < KV_TABLE_COUNT; i++)
		table_clear(s, &s->t[i]);
	free(s->sess);
	s->sess = NULL;
	s->nsess = 0;
	s->applied = 0;
	s->bytes = 0;
}

void kv_state_free(struct kv_state *s)
{
	if (!s)
		return;
	s->views = 0; /* views not thawed by now are the caller's leak, not ours */
	state_clear(s);
	graveyard_free(s);
	free(s);
}

/* ---- sessions ---------------------------------------------------------- */

static uint32_t session_find(const struct kv_state *s, uint64_t client, bool *found)
{
	uint32_t lo = 0, hi = s->nsess;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (s->sess[mid].client == client) {
			*found = true;
			return mid;
		}
		if (s->sess[mid].client < client)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

/* Remember @res for @client's @request; evicts the least recent client when full. */
static int session_record(struct kv_state *s, uint64_t client, uint64_t request, uint64_t index,
			  const struct kv_result *res)
{
	struct session *ns;
	bool found;
	uint32_t at = session_find(s, client, &found);

	if (!found) {
		if (s->nsess == KV_SESSIONS_MAX) {
			uint32_t old = 0;

			for (uint32_t i = 1; i < s->nsess; i++)
				if (s->sess[i].index < s->sess[old].index)
					old = i;
			memmove(&s->sess[old], &s->sess[old + 1],
				(s->nsess - old - 1) * sizeof(*s->sess));
			s->nsess--;
			at = session_find(s, client, &found);
		} else {
			ns = realloc(s->sess, (size_t)(s->nsess + 1) * sizeof(*ns));
			if (!ns)
				return -ENOMEM;
			s->sess = ns;
		}
		memmove(&s->sess[at + 1], &s->sess[at], (s->nsess - at) * sizeof(*s->sess));
		s->nsess++;
		s->sess[at].client = client;
	}
	s->sess[at].request = request;
	s->sess[at].index = index;
	s->sess[at].res = *res;
	return 0;
}

/* ---- applying ------------------------------------------------------------ */

static int apply_change(struct kv_state *s, const struct kv_cmd *c, uint64_t index,
			struct kv_result *res)
{
	struct table *t = &s->t[c->table];
	struct entry *e = NULL, *ne;
	bool found;
	uint32_t at = find(t, c->key, c->key_len, &found);

	if (found)
		e = t->e[at];
	res->revision = e ? e->revision : 0;
	if (c->op == KV_OP_DEL) {
		if (!e) {
			res->outcome = KV_ABSENT;
			return 0;
		}
		s->bytes -= e->key_len + e->value_len;
		entry_drop(s, e);
		memmove(&t->e[at], &t->e[at + 1], (t->n - at - 1) * sizeof(*t->e));
		t->n--;
		res->outcome = KV_DONE;
		res->revision = 0;
		return 0;
	}
	if (c->op == KV_OP_CAS) {
		if (c->flags & KV_F_EXPECT_ABSENT) {
			if (e) {
				res->outcome = KV_CAS_MISMATCH;
				return 0;
			}
		} else if (!e) {
			res->outcome = KV_ABSENT;
			return 0;
		} else if (e->value_len != c->expect_len ||
			   memcmp(e->bytes + e->key_len, c->expect, c->expect_len)) {
			res->outcome = KV_CAS_MISMATCH;
			return 0;
		}
	}
	/* put, or a cas that matched */
	if ((!e && t->n >= s->lim.max_keys) ||
	    s->bytes - (e ? e->key_len + e->value_len : 0) + c->key_len + c->value_len >
		    s->lim.max_bytes) {
		res->outcome = KV_FULL;
		return 0;
	}
	ne = entry_new(c->key, c->key_len, c->value, c->value_len, index);
	if (!ne)
		return -ENOMEM;
	if (e) {
		s->bytes -= e->key_len + e->value_len;
		entry_drop(s, e);
		t->e[at] = ne;
	} else {
		if (table_reserve(t)) {
			free(ne);
			return -ENOMEM;
		}
		memmove(&t->e[at + 1], &t->e[at], (t->n - at) * sizeof(*t->e));
		t->e[at] = ne;
		t->n++;
	}
	s->bytes += c->key_len + c->value_len;
	res->outcome = KV_DONE;
	res->revision = index;
	return 0;
}

int kv_state_apply(struct kv_state *s, const struct kv_cmd *c, uint64_t index,
		   struct kv_result *res)
{
	bool found;
	uint32_t at = session_find(s, c->client, &found);
	int err;

	memset(res, 0, sizeof(*res));
	if (found && c->request <= s->sess[at].request) {
		if (c->request == s->sess[at].request)
			*res = s->sess[at].res; /* a duplicate: same answer, no effect */
		else
			res->outcome = KV_STALE;
		s->applied = index;
		return 0;
	}
	err = apply_change(s, c, index, res);
	if (err)
		return err;
	err = session_record(s, c->client, c->request, index, res);
	if (err)
		return err;
	s->applied = index;
	return 0;
}

const uint8_t *kv_state_get(const struct kv_state *s, uint8_t table, const uint8_t *key,
			    uint16_t key_len, uint32_t *len, uint64_t *revision)
{
	const struct entry *e;
	bool found;
	uint32_t at;

	if (table >= KV_TABLE_COUNT)
		return NULL;
	at = find(&s->t[table], key, key_len, &found);
	if (!found)
		return NULL;
	e = s->t[table].e[at];
	if (len)
		*len = e->value_len;
	if (revision)
		*revision = e->revision;
	return e->bytes + e->key_len;
}

uint32_t kv_state_count(const struct kv_state *s, uint8_t table)
{
	return table < KV_TABLE_COUNT ? s->t[table].n : 0;
}

int kv_state_foreach(const struct kv_state *s, uint8_t table, const uint8_t *prefix,
		     uint16_t prefix_len,
		     int (*fn)(const uint8_t *key, uint16_t key_len, const uint8_t *value,
			       uint32_t value_len, uint64_t revision, void *ctx),
		     void *ctx)
{
	const struct table *t;
	bool found;
	uint32_t i;
	int r;

	if (table >= KV_TABLE_COUNT)
		return 0;
	t = &s->t[table];
	i = prefix_len ? find(t, prefix, prefix_len, &found) : 0;
	for (; i < t->n; i++) {
		const struct entry *e = t->e[i];

		if (prefix_len && (e->key_len < prefix_len || memcmp(e->bytes, prefix, prefix_len)))
			break;
		r = fn(e->bytes, e->key_len, e->bytes + e->key_len, e->value_len, e->revision, ctx);
		if (r)
			return r;
	}
	return 0;
}

uint64_t kv_state_applied(const struct kv_state *s)
{
	return s->applied;
}

/* ---- snapshots ------------------------------------------------------------ */

#define ENTRY_HDR   14 /* u16 key_len, u32 value_len, u64 revision */
#define SESSION_LEN 33 /* u64 client, request, index, u8 outcome, u64 revision */

int kv_view_snapshot(const struct kv_view *s, uint8_t **out, size_t *out_len)
{
	size_t len = 8 + 8 + 4 + (size_t)s->nsess * SESSION_LEN + SNAP_SUM, pad;
	uint8_t *buf, *p;

	for (int i = 0; i < KV_TABLE_COUNT; i++) {
		len += 4;
		for (uint32_t j = 0; j < s->n[i]; j++)
			len += ENTRY_HDR + s->e[i][j]->key_len + s->e[i][j]->value_len;
	}
	pad = PAD8(len) - len;
	len += pad;
	buf = malloc(len);
	if (!buf)
		return -ENOMEM;
	p = buf;
	memcpy(p, SNAP_MAGIC, 8);
	put64(p + 8, s->applied);
	p += 16;
	for (int i = 0; i < KV_TABLE_COUNT; i++) {
		put32(p, s->n[i]);
		p += 4;
		for (uint32_t j = 0; j < s->n[i]; j++) {
			const struct entry *e = s->e[i][j];

			put16(p, e->key_len);
			put32(p + 2, e->value_len);
			put64(p + 6, e->revision);
			memcpy(p + ENTRY_HDR, e->bytes, e->key_len + e->value_len);
			p += ENTRY_HDR + e->key_len + e->value_len;
		}
	}
	put32(p, s->nsess);
	p += 4;
	for (uint32_t j = 0; j < s->nsess; j++) {
		const struct session *se = &s->sess[j];

		put64(p, se->client);
		put64(p + 8, se->request);
		put64(p + 16, se->index);
		p[24] = se->res.outcome;
		put64(p + 25, se->res.revision);
		p += SESSION_LEN;
	}
	memset(p, 0, pad);
	p += pad;
	snap_sum(buf, (size_t)(p - buf), p);
	*out = buf;
	*out_len = len;
	return 0;
}

/* A view of @s in place: valid until @s changes. */
static void view_of(const struct kv_state *s, struct kv_view *v)
{
	memset(v, 0, sizeof(*v));
	v->applied = s->applied;
	for (int i = 0; i < KV_TABLE_COUNT; i++) {
		v->e[i] = s->t[i].e;
		v->n[i] = s->t[i].n;
	}
	v->sess = s->sess;
	v->nsess = s->nsess;
}

int kv_state_snapshot(const struct kv_state *s, uint8_t **out, size_t *out_len)
{
	struct kv_view v;

	view_of(s, &v);
	return kv_view_snapshot(&v, out, out_len);
}

struct kv_view *kv_state_freeze(struct kv_state *s)
{
	struct kv_view *v = malloc(sizeof(*v));
	struct kv_view in;

	if (!v)
		return NULL;
	view_of(s, &in);
	memset(v, 0, sizeof(*v));
	v->applied = in.applied;
	for (int i = 0; i < KV_TABLE_COUNT; i++) {
		v->n[i] = in.n[i];
		v->e[i] = malloc((size_t)(in.n[i] ? in.n[i] : 1) * sizeof(*v->e[i]));
		if (!v->e[i])
			goto out_free;
		if (in.n[i])
			memcpy(v->e[i], in.e[i], (size_t)in.n[i] * sizeof(*v->e[i]));
	}
	v->nsess = in.nsess;
	v->sess = malloc((size_t)(in.nsess ? in.nsess : 1) * sizeof(*v->sess));
	if (!v->sess)
		goto out_free;
	if (in.nsess)
		memcpy(v->sess, in.sess, (size_t)in.nsess * sizeof(*v->sess));
	s->views++;
	return v;
out_free:
	for (int i = 0; i < KV_TABLE_COUNT; i++)
		free(v->e[i]);
	free(v);
	errno = ENOMEM;
	return NULL;
}

uint64_t kv_view_applied(const struct kv_view *v)
{
	return v->applied;
}

void kv_state_thaw(struct kv_state *s, struct kv_view *v)
{
	if (!v)
		return;
	for (int i = 0; i < KV_TABLE_COUNT; i++)
		free(v->e[i]);
	free(v->sess);
	free(v);
	if (s->views && !--s->views)
		graveyard_free(s);
}

int kv_state_restore(struct kv_state *s, const uint8_t *buf, size_t len, const char **why)
{
	struct kv_state n = { .lim = s->lim };
	const uint8_t *p = buf, *end;
	uint8_t sum[SNAP_SUM];
	const char *bad;
	uint32_t count;

#define NEED(k)                                        \
	do {                                           \
		if ((size_t)(end - p) < (size_t)(k)) { \
			bad = "truncated";             \
			goto fail;                     \
		}                                      \
	} while (0)

	if (len < 8 + 8 + 4 * KV_TABLE_COUNT + 4 + SNAP_SUM) {
		bad = "shorter than an empty snapshot";
		goto fail_early;
	}
	end = buf + len - SNAP_SUM;
	if (!memcmp(p, SNAP_MAGIC, 8)) {
		snap_sum(buf, len - SNAP_SUM, sum);
	} else if (!memcmp(p, SNAP_MAGIC_V1, 8)) {
		crypto_generichash(sum, SNAP_SUM, buf, len - SNAP_SUM, NULL, 0);
	} else {
		bad = "not a cell kv snapshot (magic)";
		goto fail_early;
	}
	if (memcmp(sum, end, SNAP_SUM)) {
		bad = "checksum mismatch (corrupt snapshot)";
		goto fail_early;
	}
	n.applied = get64(p + 8);
	p += 16;
	for (int i = 0; i < KV_TABLE_COUNT; i++) {
		struct table *t = &n.t[i];

		NEED(4);
		count = get32(p);
		p += 4;
		if (count > n.lim.max_keys) {
			bad = "more keys than the limit";
			goto fail;
		}
		for (uint32_t j = 0; j < count; j++) {
			uint16_t klen;
			uint32_t vlen;
			struct entry *e;

			NEED(ENTRY_HDR);
			klen = get16(p);
			vlen = get32(p + 2);
			if (!klen || klen > KV_KEY_MAX || vlen > KV_VALUE_MAX) {
				bad = "entry length out of range";
				goto fail;
			}
			NEED(ENTRY_HDR + (size_t)klen + vlen);
			if (t->n && keycmp(t->e[t->n - 1]->bytes, t->e[t->n - 1]->key_len,
					   p + ENTRY_HDR, klen) >= 0) {
				bad = "keys out of order or repeated";
				goto fail;
			}
			n.bytes += klen + vlen;
			if (n.bytes > n.lim.max_bytes) {
				bad = "more bytes than the limit";
				goto fail;
			}
			e = entry_new(p + ENTRY_HDR, klen, p + ENTRY_HDR + klen, vlen,
				      get64(p + 6));
			if (!e || table_reserve(t)) {
				free(e);
				state_clear(&n);
				return -ENOMEM;
			}
			t->e[t->n++] = e;
			p += ENTRY_HDR + klen + vlen;
		}
	}
	NEED(4);
	count = get32(p);
	p += 4;
	if (count > KV_SESSIONS_MAX) {
		bad = "more sessions than the limit";
		goto fail;
	}
	if ((size_t)(end - p) < (size_t)count * SESSION_LEN ||
	    (size_t)(end - p) - (size_t)count * SESSION_LEN >= 8 || len % 8) {
		bad = "session table does not end the snapshot";
		goto fail;
	}
	for (const uint8_t *z = p + (size_t)count * SESSION_LEN; z < end; z++) {
		if (*z) {
			bad = "padding not zero";
			goto fail;
		}
	}
	if (count) {
		n.sess = malloc((size_t)count * sizeof(*n.sess));
		if (!n.sess) {
			state_clear(&n);
			return -ENOMEM;
		}
	}
	for (uint32_t j = 0; j < count; j++, p += SESSION_LEN) {
		struct session *se = &n.sess[j];

		se->client = get64(p);
		se->request = get64(p + 8);
		se->index = get64(p + 16);
		se->res.outcome = p[24];
		se->res.revision = get64(p + 25);
		if (!se->client || (j && se->client <= n.sess[j - 1].client) ||
		    se->res.outcome > KV_INVALID) {
			n.nsess = j;
			bad = "bad session record";
			goto fail;
		}
		n.nsess = j + 1;
	}
	state_clear(s); /* entries a view still reads go to the graveyard */
	n.views = s->views;
	n.graveyard = s->graveyard;
	*s = n;
	return 0;
fail:
	state_clear(&n);
fail_early:
	if (why)
		*why = bad;
	return -EBADMSG;
#undef NEED
}

uint64_t kv_state_digest(const struct kv_state *s)
{
	uint8_t *buf;
	size_t len;
	uint64_t d;
	uint8_t sum[SNAP_SUM];

	if (kv_state_snapshot(s, &buf, &len))
		return 0;
	/* 64 bits of BLAKE2b, not the snapshot's 32-bit CRC: tests compare it. */
	crypto_generichash(sum, SNAP_SUM, buf, len - SNAP_SUM, NULL, 0);
	d = get64(sum);
	free(buf);
	return d;
}
