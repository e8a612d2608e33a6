// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Pheromone discovery and Vivaldi pings (discovery.h).  Everything runs on
 * one uv loop; no threads.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include <cell/pheromone.h>
#include <cell/rpc.h>

#include "discovery.h"
#include "pheromone_check.h"

#define KNOWN_MAX    1024
#define MEASURED     16 /* median of the last 16 samples: the "measured" RTT */
#define SIGNED_BYTES offsetof(struct cell_pheromone, signature)
#define EXPIRE_MS    250
#define VPING_MAGIC  0x56454c43 /* "CELV" */
#define VPING_SIZE   CELLD_PING_SIZE
#define VPING_SIGNED 68 /* magic .. key; then the relay's 12 bytes, then the signature */
#define VPING_SIG    80
#define VPING_PING   1
#define VPING_PONG   2
#define HOLD_MAX_US  0xffffff /* a pong's hold field saturates (16.7 s) */

_Static_assert(VPING_SIG + CELLD_SIG_BYTES == VPING_SIZE, "ping layout");
#define SEQ_EPOCH   1735689600 /* 2025-01-01: sequences start at 16/s since */
#define STAMP_SHIFT 12	       /* a ping's nonce: ms since SEQ_EPOCH << 12 | counter */
#define SRC_SLOTS   256	       /* rate-limited sources: 64 sets of 4 */
#define SRC_WAYS    4
#define SRC_IDLE_NS 10000000000ULL /* a verified source is kept while heard within 10 s */
#define RETIRED	    32		   /* ping floors of evicted peers, remembered */

_Static_assert(SIGNED_BYTES == CELL_PHEROMONE_SIZE - 64, "signature is last");

struct cell_rec {
	bool used;
	struct celld_remote_cell c;
	uint64_t expires_ms;
};

struct peer {
	bool used;
	uint8_t pk[CELLD_PUBKEY_BYTES];
	char hex[CELLD_NODE_HEX];
	uint32_t last_seq;
	uint64_t last_ms;
	struct sockaddr_storage addr;
	bool have_addr, have_coord;
	char from[64];
	struct vivaldi_coord coord;
	uint64_t ping_nonce, ping_sent_ns;
	uint64_t ping_floor;	      /* highest ping stamp accepted from this node */
	struct vivaldi_filter filter; /* what Vivaldi steps use */
	uint32_t measured[MEASURED];
	uint32_t nsamples;
	struct cell_rec *cells; /* max_cells, allocated on first cell */
	unsigned ncells;
};

/* A source address of pings (IPv4 mapped into IPv6) and its token bucket. */
struct src_slot {
	bool used, verified; /* verified: a datagram from it passed the signature check */
	uint8_t addr[16];
	double tokens;
	uint64_t last_ns;
};

struct celld_discovery {
	uv_loop_t *loop;
	const struct celld_identity *id;
	struct celld_discovery_config cfg;
	struct celld_discovery_ops ops;
	void *ctx;
	celld_discovery_endpoints_fn endpoints_fn; /* axon.c: the cell's QUIC endpoint */
	void *endpoints_ctx;
	struct peer *peers;
	unsigned npeers;
	uint8_t (*known)[CELLD_PUBKEY_BYTES];
	unsigned nknown;
	uint32_t seq;
	struct vivaldi_coord me;
	struct celld_discovery_counters n;
	/* sockets and timers */
	uv_udp_t udp4, udp6, ping, ping6;
	uv_timer_t announce_timer, expire_timer, ping_timer, kick_timer;
	bool open4, open6, open_ping, open_ping6, timers, closing;
	celld_discovery_tx_fn tx_hook;
	void *tx_ctx;
	int handles;
	struct sockaddr_in group4, relay;
	struct sockaddr_in6 group6;
	bool have_relay;
	unsigned announced; /* this interval */
	struct cell_pheromone_filter *filter4, *filter6;
	char rxbuf[512];
	bool rxbusy;
	bool warned6;
	/* ping replay window and rate limit */
	uint64_t ping_ctr;
	celld_discovery_clock_fn clock;
	void *clock_ctx;
	uint8_t src_key[crypto_shorthash_KEYBYTES];
	struct src_slot src[SRC_SLOTS];
	double new_tokens; /* shared by sources not yet verified */
	uint64_t new_ns;
	struct {
		uint8_t pk[CELLD_PUBKEY_BYTES];
		uint64_t floor;
	} retired[RETIRED];
	unsigned retired_next;
};

static const char *const drop_names[CELLD_NR_DROPS] = {
	[CELLD_DROP_CHECK] = "malformed",
	[CELLD_DROP_SELF] = "self",
	[CELLD_DROP_UNKNOWN_KEY] = "unknown_key",
	[CELLD_DROP_BAD_SIGNATURE] = "bad_signature",
	[CELLD_DROP_REPLAY] = "replay",
	[CELLD_DROP_PEERS_FULL] = "peers_full",
	[CELLD_DROP_CELLS_FULL] = "cells_full",
	[CELLD_DROP_BAD_VIVALDI] = "bad_vivaldi",
	[CELLD_DROP_NAME_TOO_LONG] = "name_too_long",
};

static const char *const ping_drop_names[CELLD_NR_PING_DROPS] = {
	[CELLD_PING_MALFORMED] = "malformed",
	[CELLD_PING_UNKNOWN_PEER] = "unknown_peer",
	[CELLD_PING_BAD_SIGNATURE] = "bad_signature",
	[CELLD_PING_BAD_VIVALDI] = "bad_vivaldi",
	[CELLD_PING_STALE] = "stale",
	[CELLD_PING_REPLAY] = "replay",
	[CELLD_PING_CLOCK_SKEW] = "clock_skew",
	[CELLD_PING_RATE_LIMITED] = "rate_limited",
};

static const char *const check_names[CELL_PHEROMONE_NR_VERDICTS] = {
	"pass",		"malformed", "bad_length",    "bad_magic", "bad_version",  "bad_flags",
	"bad_reserved", "bad_ttl",   "bad_endpoints", "bad_name",  "unsubscribed",
};

const char *celld_drop_name(int drop)
{
	if (drop < 0 || drop >= CELLD_NR_DROPS)
		return "unknown";
	return drop_names[drop];
}

void celld_discovery_config_init(struct celld_discovery_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->port = CELL_PHEROMONE_PORT;
	cfg->ping_port = CELL_PHEROMONE_PORT + 1;
	snprintf(cfg->group4, sizeof(cfg->group4), "239.255.70.77");
	snprintf(cfg->group6, sizeof(cfg->group6), "ff02::7946");
	cfg->interval_ms = 2000;
	cfg->ttl_s = 10;
	cfg->ping_ms = 1000;
	cfg->ping_rate = 100;
	cfg->ping_window_s = 60;
	cfg->max_peers = 64;
	cfg->max_cells = 64;
	cfg->max_announce = 256;
	cfg->trust = CELLD_TRUST_TOFU;
}

/* ---- the BPF filter, when libcell has it ---------------------------------- */

static void filter_free(struct cell_pheromone_filter *f)
{
#ifdef CELLD_HAVE_BPF_FILTER
	cell_pheromone_filter_free(f);
#else
	(void)f;
#endif
}

static int filter_stats(struct cell_pheromone_filter *f, uint64_t *c)
{
#ifdef CELLD_HAVE_BPF_FILTER
	return cell_pheromone_filter_stats(f, c) == CELL_STATUS_OK ? 0 : -1;
#else
	(void)f;
	(void)c;
	return -1;
#endif
}

/* ---- little-endian helpers --------------------------------------------- */

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}
static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
/* A pong's bytes 5..7: how long its sender held the ping (us, LE). */
static uint32_t get24(const uint8_t *p)
{
	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16;
}

static void put24(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}
static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}
static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}
static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

/* ---- known peers --------------------------------------------------------- */

static bool is_known(const struct celld_discovery *disc, const uint8_t *pk)
{
	for (unsigned i = 0; i < disc->nknown; i++)
		if (!memcmp(disc->known[i], pk, CELLD_PUBKEY_BYTES))
			return true;
	return false;
}

/* The peers file: one hex key per line, then optional words; '#' comments. */
static int read_peers(struct celld_discovery *disc, char *err, size_t cap)
{
	FILE *f = fopen(disc->cfg.peers_file, "re");
	char line[512];
	int lineno = 0;

	if (!f) {
		if (errno == ENOENT && disc->cfg.trust == CELLD_TRUST_TOFU)
			return 0; /* TOFU makes it */
		snprintf(err, cap, "peers file %s: %s", disc->cfg.peers_file, strerror(errno));
		return -errno;
	}
	while (fgets(line, sizeof(line), f)) {
		char *p = line, *end;
		uint8_t pk[CELLD_PUBKEY_BYTES];

		lineno++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p || *p == '#' || *p == '\n')
			continue;
		end = p + strcspn(p, " \t\n#");
		if (*end)
			*end = '\0';
		if (celld_key_parse(p, pk)) {
			snprintf(err, cap,
				 "peers file %s line %d: not a key (64 hex digits): %.80s",
				 disc->cfg.peers_file, lineno, p);
			fclose(f);
			return -EINVAL;
		}
		if (is_known(disc, pk))
			continue;
		if (disc->nknown == KNOWN_MAX) {
			snprintf(err, cap, "peers file %s: more than %d keys", disc->cfg.peers_file,
				 KNOWN_MAX);
			fclose(f);
			return -E2BIG;
		}
		memcpy(disc->known[disc->nknown++], pk, CELLD_PUBKEY_BYTES);
	}
	fclose(f);
	return 0;
}

static void learn_key(struct celld_discovery *disc, const uint8_t *pk, const char *from)
{
	char hex[CELLD_NODE_HEX];
	FILE *f;

	if (disc->nknown == KNOWN_MAX)
		return; /* still accepted while it has a peer slot; not remembered */
	memcpy(disc->known[disc->nknown++], pk, CELLD_PUBKEY_BYTES);
	if (!disc->cfg.peers_file[0])
		return;
	celld_key_hex(pk, hex);
	f = fopen(disc->cfg.peers_file, "ae");
	if (!f)
		return;
	fprintf(f, "%s tofu %s\n", hex, from);
	fclose(f);
}

/* ---- the peer table ------------------------------------------------------ */

static struct peer *find_peer(struct celld_discovery *disc, const uint8_t *pk)
{
	for (unsigned i = 0; i < disc->cfg.max_peers; i++)
		if (disc->peers[i].used && !memcmp(disc->peers[i].pk, pk, CELLD_PUBKEY_BYTES))
			return &disc->peers[i];
	return NULL;
}

static void free_peer(struct celld_discovery *disc, struct peer *p)
{
	if (p->ping_floor) {
		/* its pings stay refused as replays if it comes back */
		unsigned r = disc->retired_next++ % RETIRED;

		memcpy(disc->retired[r].pk, p->pk, CELLD_PUBKEY_BYTES);
		disc->retired[r].floor = p->ping_floor;
	}
	free(p->cells);
	memset(p, 0, sizeof(*p));
	disc->npeers--;
}

/*
 * A slot for a new peer: a free one, else the least recently heard peer
 * that has no live cell left (its replay state is forgotten), else none.
 */
static struct peer *new_peer(struct celld_discovery *disc, const uint8_t *pk)
{
	struct peer *victim = NULL;

	for (unsigned i = 0; i < disc->cfg.max_peers; i++) {
		struct peer *p = &disc->peers[i];

		if (!p->used) {
			victim = p;
			break;
		}
		if (!p->ncells && (!victim || p->last_ms < victim->last_ms))
			victim = p;
	}
	if (!victim)
		return NULL;
	if (victim->used)
		free_peer(disc, victim);
	victim->used = true;
	memcpy(victim->pk, pk, CELLD_PUBKEY_BYTES);
	celld_key_hex(pk, victim->hex);
	vivaldi_init(&victim->coord);
	for (unsigned r = 0; r < RETIRED; r++) {
		if (disc->retired[r].floor &&
		    !memcmp(disc->retired[r].pk, pk, CELLD_PUBKEY_BYTES)) {
			victim->ping_floor = disc->retired[r].floor;
			disc->retired[r].floor = 0;
		}
	}
	disc->npeers++;
	return victim;
}

static uint32_t peer_estimate(const struct celld_discovery *disc, const struct peer *p)
{
	double d;

	if (!p->have_coord || !disc->n.pongs_received)
		return 0;
	d = vivaldi_distance(&disc->me, &p->coord);
	if (d < 1)
		d = 1;
	return d > 4e9 ? UINT32_MAX : (uint32_t)(d + 0.5);
}

static void remove_cell(struct celld_discovery *disc, struct peer *p, struct cell_rec *r)
{
	r->c.rtt_us = peer_estimate(disc, p);
	if (disc->ops.removed)
		disc->ops.removed(disc->ctx, &r->c);
	r->used = false;
	p->ncells--;
	disc->n.cells--;
}

/* ---- receiving ----------------------------------------------------------- */

static void addr_string(const struct sockaddr *sa, char *out, size_t cap)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	out[0] = '\0';
	if (!sa)
		return;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
		snprintf(out, cap, "%s:%u", ip, ntohs(in->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

		char ifname[IF_NAMESIZE + 1] = "";

		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
		/* A link-local address means nothing without its interface. */
		if (in6->sin6_scope_id && !if_indextoname(in6->sin6_scope_id, ifname + 1))
			snprintf(ifname + 1, sizeof(ifname) - 1, "%u",
				 (unsigned)in6->sin6_scope_id);
		if (in6->sin6_scope_id)
			ifname[0] = '%';
		snprintf(out, cap, "[%s%s]:%u", ip, ifname, ntohs(in6->sin6_port));
	}
}

static int drop(struct celld_discovery *disc, int why)
{
	disc->n.drop[why]++;
	return why + 1;
}

int celld_discovery_input(struct celld_discovery *disc, const void *buf, size_t len,
			  const struct sockaddr *from, uint64_t now_ms)
{
	struct cell_pheromone ph;
	enum cell_pheromone_verdict v;
	struct cell_rec *r = NULL, *slot = NULL;
	struct celld_remote_cell c;
	struct vivaldi_coord coord;
	struct peer *p;
	uint32_t seq;
	int32_t viv[4];
	size_t namelen;
	bool changed;

	disc->n.received++;
	/* The very checks of the BPF filter (bpf/pheromone_check.h). */
	if (!buf || len != sizeof(ph)) {
		v = CELL_PHEROMONE_BAD_LENGTH;
	} else {
		memcpy(&ph, buf, sizeof(ph));
		v = (enum cell_pheromone_verdict)ph_check(&ph);
	}
	if (v != CELL_PHEROMONE_PASS) {
		if ((unsigned)v < CELL_PHEROMONE_NR_VERDICTS)
			disc->n.check[v]++;
		return drop(disc, CELLD_DROP_CHECK);
	}
	if (!memcmp(ph.identity_key, disc->id->pk, CELLD_PUBKEY_BYTES))
		return drop(disc, CELLD_DROP_SELF);
	p = find_peer(disc, ph.identity_key);
	/* Cheap refusals first: an unknown key costs no signature check. */
	if (!p && disc->cfg.trust == CELLD_TRUST_KNOWN && !is_known(disc, ph.identity_key))
		return drop(disc, CELLD_DROP_UNKNOWN_KEY);
	if (celld_identity_verify(ph.identity_key, &ph, SIGNED_BYTES, ph.signature))
		return drop(disc, CELLD_DROP_BAD_SIGNATURE);
	seq = get32((const uint8_t *)&ph.sequence);
	if (p && seq <= p->last_seq)
		return drop(disc, CELLD_DROP_REPLAY);
	namelen = strnlen((const char *)ph.name, CELL_NAME_MAX);
	if (namelen >= CELL_NAME_MAX)
		return drop(disc, CELLD_DROP_NAME_TOO_LONG);
	for (int i = 0; i < 4; i++)
		viv[i] = (int32_t)get32((const uint8_t *)&ph.vivaldi[i]);
	if (vivaldi_decode(viv, p ? p->coord.err : VIVALDI_ERROR_INIT, &coord))
		return drop(disc, CELLD_DROP_BAD_VIVALDI);
	if (!p) {
		p = new_peer(disc, ph.identity_key);
		if (!p)
			return drop(disc, CELLD_DROP_PEERS_FULL);
		/* A newcomer learns of us now, not one interval later. */
		celld_discovery_kick(disc);
		if (!is_known(disc, ph.identity_key)) {
			char a[64];

			addr_string(from, a, sizeof(a));
			learn_key(disc, ph.identity_key, a[0] ? a : "-");
		}
	}
	p->last_seq = seq;
	p->last_ms = now_ms;
	if (from && (from->sa_family == AF_INET || from->sa_family == AF_INET6)) {
		/*
		 * Pings go to the IPv4 address when the node announces on both
		 * families, else to its IPv6 one (with the scope of the link).
		 */
		if (!p->have_addr || from->sa_family == AF_INET || p->addr.ss_family != AF_INET) {
			memcpy(&p->addr, from,
			       from->sa_family == AF_INET ? sizeof(struct sockaddr_in)
							  : sizeof(struct sockaddr_in6));
			p->have_addr = true;
			addr_string(from, p->from, sizeof(p->from));
		}
	}
	p->coord.h = coord.h;
	memcpy(p->coord.v, coord.v, sizeof(coord.v));
	p->have_coord = true;
	disc->n.accepted++;

	if (!p->cells) {
		p->cells = calloc(disc->cfg.max_cells, sizeof(*p->cells));
		if (!p->cells)
			return drop(disc, CELLD_DROP_CELLS_FULL);
	}
	for (unsigned i = 0; i < disc->cfg.max_cells; i++) {
		if (p->cells[i].used &&
		    !strncmp(p->cells[i].c.name, (const char *)ph.name, CELL_NAME_MAX)) {
			r = &p->cells[i];
			break;
		}
		if (!p->cells[i].used && !slot)
			slot = &p->cells[i];
	}
	if (ph.flags & CELL_PHEROMONE_F_WITHDRAW) {
		if (r)
			remove_cell(disc, p, r);
		return 0;
	}
	memset(&c, 0, sizeof(c));
	memcpy(c.name, ph.name, namelen);
	memcpy(c.node, p->hex, sizeof(c.node));
	c.fingerprint = (uint64_t)get32((const uint8_t *)&ph.fingerprint_hi) << 32 |
			get32((const uint8_t *)&ph.fingerprint_lo);
	c.flags = ph.flags;
	c.nendpoints = ph.endpoint_count;
	memcpy(c.endpoints, ph.endpoints, sizeof(c.endpoints));
	snprintf(c.from, sizeof(c.from), "%s", p->from);
	c.rtt_us = peer_estimate(disc, p);
	if (!r) {
		if (!slot)
			return drop(disc, CELLD_DROP_CELLS_FULL);
		r = slot;
		r->used = true;
		p->ncells++;
		disc->n.cells++;
		changed = true;
	} else {
		changed = r->c.fingerprint != c.fingerprint || r->c.flags != c.flags ||
			  r->c.nendpoints != c.nendpoints ||
			  memcmp(r->c.endpoints, c.endpoints, sizeof(c.endpoints)) ||
			  strcmp(r->c.from, c.from);
	}
	r->c = c;
	r->expires_ms = now_ms + 1000ULL * get16((const uint8_t *)&ph.ttl);
	if (changed && disc->ops.added)
		disc->ops.added(disc->ctx, &r->c);
	return 0;
}

void celld_discovery_expire(struct celld_discovery *disc, uint64_t now_ms)
{
	for (unsigned i = 0; i < disc->cfg.max_peers; i++) {
		struct peer *p = &disc->peers[i];

		if (!p->used || !p->cells)
			continue;
		for (unsigned j = 0; j < disc->cfg.max_cells; j++) {
			if (p->cells[j].used && p->cells[j].expires_ms <= now_ms) {
				remove_cell(disc, p, &p->cells[j]);
				disc->n.expired++;
			}
		}
	}
}

/* ---- sending ------------------------------------------------------------- */

int celld_discovery_build(struct celld_discovery *disc, const char *name, uint64_t fingerprint,
			  uint8_t flags, struct cell_pheromone *out)
{
	size_t len = strlen(name);
	int32_t viv[4];

	if (!len || len > CELL_NAME_MAX || (flags & ~CELL_PHEROMONE_FLAGS))
		return -EINVAL;
	for (size_t i = 0; i < len; i++)
		if (!ph_name_byte_ok((uint8_t)name[i]))
			return -EINVAL;
	memset(out, 0, sizeof(*out));
	put32((uint8_t *)&out->magic, CELL_PHEROMONE_MAGIC);
	out->version = CELL_PHEROMONE_VERSION;
	out->flags = flags;
	put16((uint8_t *)&out->ttl, (uint16_t)disc->cfg.ttl_s);
	put32((uint8_t *)&out->sequence, ++disc->seq);
	put32((uint8_t *)&out->fingerprint_lo, (uint32_t)fingerprint);
	put32((uint8_t *)&out->fingerprint_hi, (uint32_t)(fingerprint >> 32));
	memcpy(out->name, name, len);
	vivaldi_encode(&disc->me, viv);
	for (int i = 0; i < 4; i++)
		put32((uint8_t *)&out->vivaldi[i], (uint32_t)viv[i]);
	if (disc->endpoints_fn && !(flags & CELL_PHEROMONE_F_WITHDRAW))
		out->endpoint_count = (uint8_t)disc->endpoints_fn(disc->endpoints_ctx, name,
								  fingerprint, out->endpoints,
								  CELL_PHEROMONE_ENDPOINTS);
	memcpy(out->identity_key, disc->id->pk, CELLD_PUBKEY_BYTES);
	celld_identity_sign(disc->id, out, SIGNED_BYTES, out->signature);
	return 0;
}

void celld_discovery_set_endpoints(struct celld_discovery *disc, celld_discovery_endpoints_fn fn,
				   void *ctx)
{
	disc->endpoints_fn = fn;
	disc->endpoints_ctx = ctx;
}

static void send_datagram(struct celld_discovery *disc, const struct cell_pheromone *ph)
{
	uv_buf_t b = uv_buf_init((char *)ph, sizeof(*ph));

	if (disc->open4) {
		if (uv_udp_try_send(&disc->udp4, &b, 1, (const struct sockaddr *)&disc->group4) ==
		    (int)sizeof(*ph))
			disc->n.sent++;
		else
			disc->n.send_errors++;
	}
	if (disc->open6) {
		int rc =
			uv_udp_try_send(&disc->udp6, &b, 1, (const struct sockaddr *)&disc->group6);

		if (rc == (int)sizeof(*ph)) {
			disc->n.sent++;
		} else {
			disc->n.send_errors++;
			if (!disc->warned6)
				fprintf(stderr, "celld: discovery: IPv6 send: %s\n",
					uv_strerror(rc));
			disc->warned6 = true;
		}
	}
}

static void announce_flags(struct celld_discovery *disc, const char *name, uint64_t fp,
			   uint8_t flags)
{
	struct cell_pheromone ph;

	if (strlen(name) >= CELL_NAME_MAX)
		return;
	if (celld_discovery_build(disc, name, fp, flags, &ph))
		return;
	send_datagram(disc, &ph);
}

void celld_discovery_announce(struct celld_discovery *disc, const char *name, uint64_t fingerprint)
{
	if (disc->announced >= disc->cfg.max_announce)
		return;
	disc->announced++;
	announce_flags(disc, name, fingerprint, 0);
}

void celld_discovery_withdraw(struct celld_discovery *disc, const char *name, uint64_t fingerprint)
{
	announce_flags(disc, name, fingerprint, CELL_PHEROMONE_F_WITHDRAW);
}

/* ---- Vivaldi pings ------------------------------------------------------- */

static uint64_t now_mono_ns(const struct celld_discovery *disc)
{
	return disc->clock ? disc->clock(disc->clock_ctx) : uv_hrtime();
}

/* ms since SEQ_EPOCH by the wall clock (0 before it) */
static uint64_t stamp_ms(const struct celld_discovery *disc)
{
	uint64_t ns;
	struct timespec ts;

	if (disc->clock) {
		ns = disc->clock(disc->clock_ctx);
	} else {
		clock_gettime(CLOCK_REALTIME, &ts);
		ns = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	}
	ns /= 1000000;
	return ns > SEQ_EPOCH * 1000ULL ? ns - SEQ_EPOCH * 1000ULL : 0;
}

void celld_discovery_set_clock(struct celld_discovery *disc, celld_discovery_clock_fn fn, void *ctx)
{
	disc->clock = fn;
	disc->clock_ctx = ctx;
}

static void refill(double *tokens, uint64_t *last_ns, uint64_t now, double rate)
{
	if (now > *last_ns)
		*tokens += (double)(now - *last_ns) * rate / 1e9;
	if (*tokens > rate)
		*tokens = rate; /* burst: one second's worth */
	*last_ns = now;
}

/* Which slot a new source takes: 3 free, 2 unverified, 1 verified but idle, 0 none. */
static int evict_rank(const struct src_slot *q, uint64_t now)
{
	if (!q)
		return -1;
	if (!q->used)
		return 3;
	if (!q->verified)
		return 2;
	return now - q->last_ns > SRC_IDLE_NS ? 1 : 0;
}

/*
 * The rate limit of the ping port, before any signature work: a token
 * bucket per source address (ping_rate per second, burst the same) in a
 * fixed table of SRC_SLOTS (keyed SipHash, so sets cannot be aimed at), and
 * for sources not yet verified a shared bucket of twice that, so a flood
 * from many (spoofed) addresses costs at most 2 x ping_rate verifies per
 * second and never evicts a verified source heard within 10 s.  Memory is
 * fixed.  Return: the slot (NULL: none free, judged by the shared bucket
 * alone), or the error pointer &disc->src[SRC_SLOTS] (drop).
 */
static struct src_slot *rate_take(struct celld_discovery *disc, const uint8_t addr[16])
{
	struct src_slot *drop = &disc->src[SRC_SLOTS], *s = NULL, *victim = NULL;
	double rate = disc->cfg.ping_rate;
	uint64_t now = now_mono_ns(disc), h;
	unsigned set;

	crypto_shorthash((unsigned char *)&h, addr, 16, disc->src_key);
	set = (unsigned)(h % (SRC_SLOTS / SRC_WAYS)) * SRC_WAYS;
	for (unsigned i = set; i < set + SRC_WAYS && !s; i++) {
		struct src_slot *q = &disc->src[i];

		if (q->used && !memcmp(q->addr, addr, 16))
			s = q;
		else if (evict_rank(q, now) > evict_rank(victim, now) ||
			 (victim && evict_rank(q, now) == evict_rank(victim, now) &&
			  q->last_ns < victim->last_ns))
			victim = q;
	}
	if (victim && !evict_rank(victim, now))
		victim = NULL; /* only verified sources heard lately: none is taken over */
	if (!s && victim) {
		s = victim;
		memset(s, 0, sizeof(*s));
		s->used = true;
		memcpy(s->addr, addr, 16);
		s->tokens = rate;
		s->last_ns = now;
	}
	if (s) {
		refill(&s->tokens, &s->last_ns, now, rate);
		if (s->tokens < 1)
			return drop;
	}
	if (!s || !s->verified) {
		refill(&disc->new_tokens, &disc->new_ns, now, 2 * rate);
		if (disc->new_tokens < 1)
			return drop;
		disc->new_tokens -= 1;
	}
	if (s)
		s->tokens -= 1;
	return s;
}

/* The source of a ping datagram: its address (the relay's sender field in tests). */
static void ping_source(const struct celld_discovery *disc, const uint8_t *b,
			const struct sockaddr *from, uint8_t addr[16])
{
	memset(addr, 0, 16);
	if (from->sa_family == AF_INET6) {
		memcpy(addr, &((const struct sockaddr_in6 *)from)->sin6_addr, 16);
		return;
	}
	addr[10] = addr[11] = 0xff;
	if (disc->have_relay && get32(b + 74))
		memcpy(addr + 12, b + 74, 4);
	else
		memcpy(addr + 12, &((const struct sockaddr_in *)from)->sin_addr, 4);
}

/* A signed ping or pong (CELLD_PING_SIZE): the relay fields stay zero. */
static void vping_build(struct celld_discovery *disc, uint8_t *b, int type, uint64_t nonce,
			uint32_t hold_us)
{
	int32_t viv[4];
	double e = disc->me.err * 1e6;

	memset(b, 0, VPING_SIZE);
	put32(b, VPING_MAGIC);
	b[4] = (uint8_t)type;
	put24(b + 5, hold_us > HOLD_MAX_US ? HOLD_MAX_US : hold_us);
	put64(b + 8, nonce);
	vivaldi_encode(&disc->me, viv);
	for (int i = 0; i < 4; i++)
		put32(b + 16 + 4 * i, (uint32_t)viv[i]);
	put32(b + 32, (uint32_t)(e < 0 ? 0 : e));
	memcpy(b + 36, disc->id->pk, CELLD_PUBKEY_BYTES);
	celld_identity_sign(disc->id, b, VPING_SIGNED, b + VPING_SIG);
}

/*
 * Send to @to (IPv4 or IPv6; a link-local IPv6 address keeps the scope of
 * the interface its pheromones came on), through the relay when there is
 * one (IPv4 only: dst/src fields).
 */
static void vping_send(struct celld_discovery *disc, uint8_t *b, const struct sockaddr *to)
{
	uv_buf_t buf = uv_buf_init((char *)b, VPING_SIZE);
	const struct sockaddr *dst = to;
	uv_udp_t *u = to->sa_family == AF_INET6 ? &disc->ping6 : &disc->ping;

	if (disc->have_relay && to->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)to;

		memcpy(b + 68, &in->sin_addr, 4);
		put16(b + 72, ntohs(in->sin_port));
		dst = (const struct sockaddr *)&disc->relay;
	}
	if (disc->tx_hook) {
		disc->tx_hook(disc->tx_ctx, b, VPING_SIZE, dst);
		return;
	}
	if (disc->closing || !(to->sa_family == AF_INET6 ? disc->open_ping6 : disc->open_ping))
		return; /* not opened (unit test, fuzz target), or no socket of that family */
	if (uv_udp_try_send(u, &buf, 1, dst) != VPING_SIZE)
		disc->n.send_errors++;
}

void celld_discovery_set_tx_hook(struct celld_discovery *disc, celld_discovery_tx_fn fn, void *ctx)
{
	disc->tx_hook = fn;
	disc->tx_ctx = ctx;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static uint32_t median(const uint32_t *v, uint32_t n)
{
	uint32_t tmp[MEASURED];

	if (!n)
		return 0;
	memcpy(tmp, v, n * sizeof(*v));
	qsort(tmp, n, sizeof(*tmp), cmp_u32);
	return tmp[n / 2];
}

static uint32_t smallest(const uint32_t *v, uint32_t n)
{
	uint32_t m = n ? v[0] : 0;

	for (uint32_t i = 1; i < n; i++)
		if (v[i] < m)
			m = v[i];
	return m;
}

static int ping_drop(struct celld_discovery *disc, int why)
{
	disc->n.pings_bad++;
	disc->n.ping_drop[why]++;
	return why + 1;
}

const char *celld_ping_drop_name(int drop)
{
	if (drop < 0 || drop >= CELLD_NR_PING_DROPS)
		return "unknown";
	return ping_drop_names[drop];
}

int celld_discovery_ping_input(struct celld_discovery *disc, const void *buf, size_t len,
			       const struct sockaddr *from)
{
	return celld_discovery_ping_input_at(disc, buf, len, from, uv_hrtime());
}

/*
 * A pong with the nonce outstanding (arrived at @rx_ns, its sender held the
 * ping @hold_us): an RTT sample and a Vivaldi step.  The hold comes off the
 * round trip unless it is not smaller (then the sample is the raw round
 * trip: a clock of the peer's that makes no sense is not believed).
 */
static void pong_sample(struct celld_discovery *disc, struct peer *p,
			const struct vivaldi_coord *other, uint64_t rx_ns, uint32_t hold_us)
{
	uint64_t ns = rx_ns > p->ping_sent_ns ? rx_ns - p->ping_sent_ns : 0;
	uint32_t us = ns / 1000 > UINT32_MAX ? UINT32_MAX : (uint32_t)(ns / 1000);

	if (hold_us < us) {
		us -= hold_us;
		disc->n.pong_hold_us += hold_us;
	}
	if (!us)
		us = 1;
	p->ping_nonce = 0;
	disc->n.pongs_received++;
	p->measured[p->nsamples % MEASURED] = us;
	p->nsamples++;
	p->coord = *other;
	p->have_coord = true;
	vivaldi_update(&disc->me, other, vivaldi_filter_push(&p->filter, us), randombytes_random());
}

/*
 * A verified ping of @p (arrived at @rx_ns): a pong, unless it is a replay.
 * The pong says how long the ping was held here, so our own wait for a CPU
 * is not in the peer's sample (the part after the stamp, the signature, is).
 */
static int answer_ping(struct celld_discovery *disc, struct peer *p, const uint8_t *b,
		       const struct sockaddr *from, uint64_t rx_ns)
{
	uint8_t out[VPING_SIZE];
	struct sockaddr_storage to;
	uint64_t nonce = get64(b + 8), ms = nonce >> STAMP_SHIFT, now = stamp_ms(disc),
		 win = disc->cfg.ping_window_s * 1000ULL, held = uv_hrtime();

	/* Replays get no pong: a stamp near our clock, above the node's last one. */
	if (win && (ms + win < now || ms > now + win))
		return ping_drop(disc, CELLD_PING_CLOCK_SKEW);
	if (nonce <= p->ping_floor)
		return ping_drop(disc, CELLD_PING_REPLAY);
	p->ping_floor = nonce;

	memset(&to, 0, sizeof(to));
	memcpy(&to, from,
	       from->sa_family == AF_INET ? sizeof(struct sockaddr_in)
					  : sizeof(struct sockaddr_in6));
	if (disc->have_relay && from->sa_family == AF_INET && get32(b + 74)) {
		/* the relay wrote the sender */
		struct sockaddr_in *in = (struct sockaddr_in *)&to;

		memcpy(&in->sin_addr, b + 74, 4);
		in->sin_port = htons(get16(b + 78));
	}
	held = held > rx_ns ? (held - rx_ns) / 1000 : 0;
	vping_build(disc, out, VPING_PONG, nonce,
		    held > HOLD_MAX_US ? HOLD_MAX_US : (uint32_t)held);
	vping_send(disc, out, (const struct sockaddr *)&to);
	disc->n.pings_answered++;
	return 0;
}

int celld_discovery_ping_input_at(struct celld_discovery *disc, const void *buf, size_t len,
				  const struct sockaddr *from, uint64_t rx_ns)
{
	const uint8_t *b = buf;
	struct peer *p;
	struct vivaldi_coord other;
	struct src_slot *src = NULL;
	uint8_t addr[16];
	int32_t viv[4];
	uint64_t nonce;

	if (!buf || len != VPING_SIZE || get32(b) != VPING_MAGIC ||
	    (b[4] != VPING_PING && b[4] != VPING_PONG) || (b[4] == VPING_PING && get24(b + 5)) ||
	    !from || (from->sa_family != AF_INET && from->sa_family != AF_INET6))
		return ping_drop(disc, CELLD_PING_MALFORMED);
	/* Only nodes whose signed pheromones we accepted: no signature work for others. */
	p = find_peer(disc, b + 36);
	if (!p)
		return ping_drop(disc, CELLD_PING_UNKNOWN_PEER);
	if (disc->cfg.ping_rate) {
		ping_source(disc, b, from, addr);
		src = rate_take(disc, addr);
		if (src == &disc->src[SRC_SLOTS])
			return ping_drop(disc, CELLD_PING_RATE_LIMITED);
	}
	if (celld_identity_verify(p->pk, b, VPING_SIGNED, b + VPING_SIG))
		return ping_drop(disc, CELLD_PING_BAD_SIGNATURE);
	if (src)
		src->verified = true;
	nonce = get64(b + 8);
	for (int i = 0; i < 4; i++)
		viv[i] = (int32_t)get32(b + 16 + 4 * i);
	if (vivaldi_decode(viv, get32(b + 32) / 1e6, &other))
		return ping_drop(disc, CELLD_PING_BAD_VIVALDI);
	if (b[4] == VPING_PING)
		return answer_ping(disc, p, b, from, rx_ns);
	if (!nonce || nonce != p->ping_nonce)
		return ping_drop(disc, CELLD_PING_STALE);
	pong_sample(disc, p, &other, rx_ns, get24(b + 5));
	return 0;
}

/* A peer can be pinged if it has an address of a family we have a ping socket (or hook) for. */
static bool pingable(const struct celld_discovery *disc, const struct peer *p)
{
	if (!p->used || !p->have_addr)
		return false;
	if (disc->tx_hook)
		return true;
	return p->addr.ss_family == AF_INET6 ? disc->open_ping6 : disc->open_ping;
}

static void ping_one(struct celld_discovery *disc, struct peer *p)
{
	uint8_t b[VPING_SIZE];
	struct sockaddr_storage to = p->addr;
	uint64_t base;

	if (to.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&to)->sin6_port = htons(disc->cfg.ping_port);
	else
		((struct sockaddr_in *)&to)->sin_port = htons(disc->cfg.ping_port);
	/* Stamp and counter: rises per sender, across restarts while the clock does. */
	base = stamp_ms(disc) << STAMP_SHIFT;
	disc->ping_ctr = disc->ping_ctr + 1 > base ? disc->ping_ctr + 1 : base;
	p->ping_nonce = disc->ping_ctr;
	vping_build(disc, b, VPING_PING, p->ping_nonce, 0);
	/* after the signature: a sample holds the round trip, not our own work */
	p->ping_sent_ns = uv_hrtime();
	vping_send(disc, b, (const struct sockaddr *)&to);
	disc->n.pings_sent++;
}

int celld_discovery_ping_peer(struct celld_discovery *disc, const uint8_t pk[CELLD_PUBKEY_BYTES])
{
	struct peer *p = find_peer(disc, pk);

	if (!p || !pingable(disc, p))
		return -ENOENT;
	ping_one(disc, p);
	return 0;
}

static void ping_tick(uv_timer_t *t)
{
	struct celld_discovery *disc = t->data;
	unsigned candidates = 0, pick;

	for (unsigned i = 0; i < disc->cfg.max_peers; i++)
		candidates += pingable(disc, &disc->peers[i]);
	if (!candidates)
		return;
	pick = randombytes_uniform(candidates);
	for (unsigned i = 0; i < disc->cfg.max_peers; i++) {
		struct peer *q = &disc->peers[i];

		if (pingable(disc, q) && !pick--) {
			ping_one(disc, q);
			break;
		}
	}
}

/* ---- the loop side ------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct celld_discovery *disc = h->data;

	(void)suggested;
	if (disc->rxbusy) {
		*buf = uv_buf_init(NULL, 0);
		return;
	}
	disc->rxbusy = true;
	*buf = uv_buf_init(disc->rxbuf, sizeof(disc->rxbuf));
}

/*
 * When the datagram just read arrived, by CLOCK_MONOTONIC (uv_hrtime): the
 * kernel's receive stamp of the socket's last datagram (SIOCGSTAMPNS,
 * CLOCK_REALTIME, turned into an age), so the time this loop waited for a
 * CPU or for other work is not part of an RTT sample.  Now when there is no
 * stamp (the kernel's answer for a datagram it did not stamp is its current
 * time) or the clock stepped.
 */
static uint64_t rx_time(uv_udp_t *h)
{
	struct celld_discovery *disc;
	uint64_t now = uv_hrtime();
	struct timespec stamp, real;
	int64_t age;
	uv_os_fd_t fd;

	if (uv_fileno((uv_handle_t *)h, &fd) || ioctl(fd, SIOCGSTAMPNS, &stamp) ||
	    clock_gettime(CLOCK_REALTIME, &real))
		return now;
	age = (int64_t)(real.tv_sec - stamp.tv_sec) * 1000000000LL + (real.tv_nsec - stamp.tv_nsec);
	if (age <= 0 || age > 10000000000LL || (uint64_t)age > now)
		return now;
	disc = h->data;
	disc->n.ping_rx_wait_us += (uint64_t)age / 1000;
	if ((uint64_t)age / 1000 > disc->n.ping_rx_wait_max_us)
		disc->n.ping_rx_wait_max_us = (uint64_t)age / 1000;
	return now - (uint64_t)age;
}

/*
 * The kernel stamps a socket's datagrams once asked for a stamp: the first
 * SIOCGSTAMPNS turns it on (and fails, nothing read yet).  No control
 * messages are involved (libuv reads without a control buffer).
 */
static void stamps_on(uv_udp_t *u)
{
	struct timespec ts;
	uv_os_fd_t fd;

	if (!uv_fileno((uv_handle_t *)u, &fd))
		(void)!ioctl(fd, SIOCGSTAMPNS, &ts);
}

static void on_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
		    unsigned flags)
{
	struct celld_discovery *disc = h->data;

	if (buf->base == disc->rxbuf)
		disc->rxbusy = false;
	if (nread < 0 || !addr || disc->closing)
		return;
	if (flags & UV_UDP_PARTIAL)
		nread = (ssize_t)sizeof(disc->rxbuf) + 1; /* too long: refused by length */
	if (h == &disc->ping || h == &disc->ping6) {
		celld_discovery_ping_input_at(disc, buf->base, (size_t)nread, addr, rx_time(h));
		return;
	}
	celld_discovery_input(disc, buf->base, (size_t)nread, addr, uv_now(disc->loop));
}

static void write_stats_maybe(struct celld_discovery *disc)
{
	if (disc->cfg.stats_file[0])
		celld_discovery_write_stats(disc, disc->cfg.stats_file);
}

static void announce_tick(uv_timer_t *t)
{
	struct celld_discovery *disc = t->data;

	disc->announced = 0;
	if (disc->ops.local)
		disc->ops.local(disc->ctx, disc);
	write_stats_maybe(disc);
}

static void expire_tick(uv_timer_t *t)
{
	struct celld_discovery *disc = t->data;

	celld_discovery_expire(disc, uv_now(disc->loop));
}

void celld_discovery_kick(struct celld_discovery *disc)
{
	if (disc->timers && !disc->closing)
		uv_timer_start(&disc->kick_timer, announce_tick, 20, 0);
}

static int open_udp(struct celld_discovery *disc, uv_udp_t *u, const struct sockaddr *bind_to,
		    unsigned flags, char *err, size_t cap, const char *what)
{
	int rc = uv_udp_init(disc->loop, u);

	if (rc) {
		snprintf(err, cap, "%s: %s", what, uv_strerror(rc));
		return rc;
	}
	u->data = disc;
	disc->handles++;
	rc = uv_udp_bind(u, bind_to, flags);
	if (rc)
		snprintf(err, cap, "%s: bind: %s", what, uv_strerror(rc));
	return rc;
}

static struct cell_pheromone_filter *attach_filter(struct celld_discovery *disc, uv_udp_t *u,
						   const char *what)
{
	struct cell_pheromone_filter *f;
	uv_os_fd_t fd;

	if (disc->cfg.no_bpf || uv_fileno((uv_handle_t *)u, &fd))
		return NULL;
#ifndef CELLD_HAVE_BPF_FILTER
	(void)f;
	fprintf(stderr,
		"celld: discovery: libcell was built without the BPF pheromone filter (no libbpf): "
		"the %s socket is checked in userspace only\n",
		what);
	return NULL;
#else
	f = cell_pheromone_filter_attach(fd);
	if (!f) {
		fprintf(stderr,
			"celld: discovery: BPF pheromone filter not attached to the %s socket "
			"(%s): "
			"checking in userspace only\n",
			what, strerror(errno));
		return NULL;
	}
	if (cell_pheromone_filter_subscribe(f, NULL, 0) != CELL_STATUS_OK) {
		fprintf(stderr, "celld: discovery: BPF filter subscription failed: %s\n",
			cell_last_error(NULL));
		cell_pheromone_filter_free(f);
		return NULL;
	}
	return f;
#endif
}

int celld_discovery_open(struct celld_discovery *disc, char *err, size_t cap)
{
	const struct celld_discovery_config *cfg = &disc->cfg;
	int rc;

	if (cfg->relay[0]) {
		char host[64];
		char *colon;

		snprintf(host, sizeof(host), "%s", cfg->relay);
		colon = strrchr(host, ':');
		if (!colon || (*colon = '\0', uv_ip4_addr(host, atoi(colon + 1), &disc->relay))) {
			snprintf(err, cap, "relay %s: want IPv4:PORT", cfg->relay);
			return -EINVAL;
		}
		disc->have_relay = true;
	}
	if (cfg->group4[0]) {
		struct sockaddr_in any;

		if (uv_ip4_addr(cfg->group4, cfg->port, &disc->group4) ||
		    !IN_MULTICAST(ntohl(disc->group4.sin_addr.s_addr))) {
			snprintf(err, cap, "group4 %s is not an IPv4 multicast address",
				 cfg->group4);
			return -EINVAL;
		}
		uv_ip4_addr("0.0.0.0", cfg->port, &any);
		rc = open_udp(disc, &disc->udp4, (const struct sockaddr *)&any, UV_UDP_REUSEADDR,
			      err, cap, "IPv4 socket");
		if (rc)
			return rc;
		disc->open4 = true;
		rc = uv_udp_set_membership(&disc->udp4, cfg->group4,
					   cfg->iface4[0] ? cfg->iface4 : NULL, UV_JOIN_GROUP);
		if (!rc && cfg->iface4[0])
			rc = uv_udp_set_multicast_interface(&disc->udp4, cfg->iface4);
		if (!rc)
			rc = uv_udp_set_multicast_ttl(&disc->udp4, 1);
		if (!rc)
			rc = uv_udp_set_multicast_loop(&disc->udp4, 1);
		if (rc) {
			snprintf(err, cap, "IPv4 multicast group %s: %s", cfg->group4,
				 uv_strerror(rc));
			return rc;
		}
		disc->filter4 = attach_filter(disc, &disc->udp4, "IPv4");
		rc = uv_udp_recv_start(&disc->udp4, on_alloc, on_recv);
		if (rc) {
			snprintf(err, cap, "IPv4 receive: %s", uv_strerror(rc));
			return rc;
		}
	}
	if (cfg->group6[0]) {
		struct sockaddr_in6 any;
		char group[96], iface[64] = "";

		if (cfg->iface6[0])
			snprintf(iface, sizeof(iface), "::%%%s", cfg->iface6);
		snprintf(group, sizeof(group), "%s%s%s", cfg->group6, cfg->iface6[0] ? "%" : "",
			 cfg->iface6);
		if (uv_ip6_addr(group, cfg->port, &disc->group6) ||
		    disc->group6.sin6_addr.s6_addr[0] != 0xff) {
			snprintf(err, cap, "group6 %s is not an IPv6 multicast address", group);
			return -EINVAL;
		}
		uv_ip6_addr("::", cfg->port, &any);
		rc = open_udp(disc, &disc->udp6, (const struct sockaddr *)&any,
			      UV_UDP_REUSEADDR | UV_UDP_IPV6ONLY, err, cap, "IPv6 socket");
		if (!rc)
			rc = uv_udp_set_membership(&disc->udp6, cfg->group6,
						   iface[0] ? iface : NULL, UV_JOIN_GROUP);
		if (rc) {
			/* IPv6 is optional (no IPv6, or no route): say so, go on with IPv4. */
			fprintf(stderr, "celld: discovery: IPv6 group %s not joined: %s\n", group,
				uv_strerror(rc));
		} else {
			disc->open6 = true;
			if (iface[0])
				uv_udp_set_multicast_interface(&disc->udp6, iface);
			uv_udp_set_multicast_ttl(&disc->udp6, 1);
			uv_udp_set_multicast_loop(&disc->udp6, 1);
			disc->filter6 = attach_filter(disc, &disc->udp6, "IPv6");
			uv_udp_recv_start(&disc->udp6, on_alloc, on_recv);
		}
	}
	if (!disc->open4 && !disc->open6) {
		snprintf(err, cap, "neither IPv4 nor IPv6 multicast is configured");
		return -EINVAL;
	}
	if (cfg->ping_port) {
		struct sockaddr_in any;

		uv_ip4_addr("0.0.0.0", cfg->ping_port, &any);
		rc = open_udp(disc, &disc->ping, (const struct sockaddr *)&any, UV_UDP_REUSEADDR,
			      err, cap, "ping socket");
		if (rc)
			return rc;
		disc->open_ping = true;
		stamps_on(&disc->ping);
		uv_udp_recv_start(&disc->ping, on_alloc, on_recv);
	}
	if (cfg->ping_port && disc->open6) {
		struct sockaddr_in6 any6;

		/* IPv6 pings are optional like the IPv6 group: a failure is logged. */
		uv_ip6_addr("::", cfg->ping_port, &any6);
		rc = open_udp(disc, &disc->ping6, (const struct sockaddr *)&any6,
			      UV_UDP_REUSEADDR | UV_UDP_IPV6ONLY, err, cap, "IPv6 ping socket");
		if (rc) {
			fprintf(stderr, "celld: discovery: %s (no RTT to IPv6-only peers)\n", err);
			err[0] = '\0';
		} else {
			disc->open_ping6 = true;
			stamps_on(&disc->ping6);
			uv_udp_recv_start(&disc->ping6, on_alloc, on_recv);
		}
	}
	disc->n.bpf = (!disc->open4 || disc->filter4) && (!disc->open6 || disc->filter6);
	uv_timer_init(disc->loop, &disc->announce_timer);
	uv_timer_init(disc->loop, &disc->expire_timer);
	uv_timer_init(disc->loop, &disc->ping_timer);
	uv_timer_init(disc->loop, &disc->kick_timer);
	disc->announce_timer.data = disc->expire_timer.data = disc->ping_timer.data =
		disc->kick_timer.data = disc;
	disc->handles += 4;
	disc->timers = true;
	uv_timer_start(&disc->announce_timer, announce_tick, 10, cfg->interval_ms);
	uv_timer_start(&disc->expire_timer, expire_tick, EXPIRE_MS, EXPIRE_MS);
	if (cfg->ping_port)
		uv_timer_start(&disc->ping_timer, ping_tick, cfg->ping_ms, cfg->ping_ms);
	return 0;
}

struct celld_discovery *celld_discovery_new(uv_loop_t *loop, const struct celld_identity *id,
					    const struct celld_discovery_config *cfg,
					    const struct celld_discovery_ops *ops, void *ctx,
					    char *err, size_t cap)
{
	struct celld_discovery *disc;
	uint64_t t;

	if (sodium_init() < 0) {
		snprintf(err, cap, "libsodium cannot initialise");
		return NULL;
	}
	if (!cfg->max_peers || cfg->max_peers > 4096 || !cfg->max_cells || cfg->max_cells > 4096 ||
	    !cfg->ttl_s || cfg->ttl_s > CELL_PHEROMONE_TTL_MAX || cfg->interval_ms < 10 ||
	    (cfg->ping_port && cfg->ping_ms < 10) || cfg->ttl_s * 1000ULL < cfg->interval_ms ||
	    cfg->ping_rate > 1000000 || cfg->ping_window_s > 86400) {
		snprintf(err, cap,
			 "bad discovery limits (peers/cells 1..4096, ttl 1..%d s and not below the "
			 "interval, interval and ping >= 10 ms, ping_rate <= 1000000, "
			 "ping_window_s <= 86400)",
			 CELL_PHEROMONE_TTL_MAX);
		errno = EINVAL;
		return NULL;
	}
	disc = calloc(1, sizeof(*disc));
	if (!disc)
		goto nomem;
	disc->loop = loop;
	disc->id = id;
	disc->cfg = *cfg;
	if (ops)
		disc->ops = *ops;
	disc->ctx = ctx;
	disc->peers = calloc(cfg->max_peers, sizeof(*disc->peers));
	disc->known = calloc(KNOWN_MAX, sizeof(*disc->known));
	if (!disc->peers || !disc->known)
		goto nomem;
	vivaldi_init(&disc->me);
	crypto_shorthash_keygen(disc->src_key);
	/* Sequences survive restarts: they start from the clock (16 per second). */
	t = (uint64_t)time(NULL);
	disc->seq = t > SEQ_EPOCH ? (uint32_t)((t - SEQ_EPOCH) * 16) : 0;
	if (cfg->peers_file[0] && read_peers(disc, err, cap)) {
		celld_discovery_free(disc);
		errno = EINVAL;
		return NULL;
	}
	if (cfg->trust == CELLD_TRUST_KNOWN && !cfg->peers_file[0]) {
		snprintf(err, cap, "trust=known needs a peers file");
		celld_discovery_free(disc);
		errno = EINVAL;
		return NULL;
	}
	return disc;
nomem:
	snprintf(err, cap, "out of memory");
	celld_discovery_free(disc);
	errno = ENOMEM;
	return NULL;
}

void celld_discovery_free(struct celld_discovery *disc)
{
	if (!disc)
		return;
	if (disc->peers)
		for (unsigned i = 0; i < disc->cfg.max_peers; i++)
			free(disc->peers[i].cells);
	filter_free(disc->filter4);
	filter_free(disc->filter6);
	free(disc->peers);
	free(disc->known);
	free(disc);
}

static void on_closed(uv_handle_t *h)
{
	struct celld_discovery *disc = h->data;

	if (--disc->handles == 0)
		celld_discovery_free(disc);
}

void celld_discovery_close(struct celld_discovery *disc)
{
	uv_handle_t *hs[8];
	int n = 0;

	if (!disc)
		return;
	disc->closing = true;
	/* Detach the filters while the sockets are still open. */
	filter_free(disc->filter4);
	filter_free(disc->filter6);
	disc->filter4 = disc->filter6 = NULL;
	if (disc->handles == 0) {
		celld_discovery_free(disc);
		return;
	}
	if (disc->udp4.loop)
		hs[n++] = (uv_handle_t *)&disc->udp4;
	if (disc->udp6.loop)
		hs[n++] = (uv_handle_t *)&disc->udp6;
	if (disc->ping.loop)
		hs[n++] = (uv_handle_t *)&disc->ping;
	if (disc->ping6.loop)
		hs[n++] = (uv_handle_t *)&disc->ping6;
	if (disc->timers) {
		hs[n++] = (uv_handle_t *)&disc->announce_timer;
		hs[n++] = (uv_handle_t *)&disc->expire_timer;
		hs[n++] = (uv_handle_t *)&disc->ping_timer;
		hs[n++] = (uv_handle_t *)&disc->kick_timer;
	}
	for (int i = 0; i < n; i++)
		if (!uv_is_closing(hs[i]))
			uv_close(hs[i], on_closed);
}

/* ---- reading the state --------------------------------------------------- */

void celld_discovery_foreach(struct celld_discovery *disc,
			     void (*fn)(const struct celld_remote_cell *c, void *ctx), void *ctx)
{
	for (unsigned i = 0; i < disc->cfg.max_peers; i++) {
		struct peer *p = &disc->peers[i];

		if (!p->used || !p->cells)
			continue;
		for (unsigned j = 0; j < disc->cfg.max_cells; j++) {
			if (!p->cells[j].used)
				continue;
			p->cells[j].c.rtt_us = peer_estimate(disc, p);
			fn(&p->cells[j].c, ctx);
		}
	}
}

void celld_discovery_foreach_peer(struct celld_discovery *disc,
				  void (*fn)(const struct celld_peer_rtt *p, void *ctx), void *ctx)
{
	for (unsigned i = 0; i < disc->cfg.max_peers; i++) {
		struct peer *p = &disc->peers[i];
		struct celld_peer_rtt r;

		if (!p->used)
			continue;
		memset(&r, 0, sizeof(r));
		memcpy(r.node, p->hex, sizeof(r.node));
		snprintf(r.from, sizeof(r.from), "%s", p->from);
		r.est_us = peer_estimate(disc, p);
		r.samples = p->nsamples;
		r.measured_us =
			median(p->measured, p->nsamples < MEASURED ? p->nsamples : MEASURED);
		r.min_us = smallest(p->measured, p->nsamples < MEASURED ? p->nsamples : MEASURED);
		fn(&r, ctx);
	}
}

const struct vivaldi_coord *celld_discovery_coord(const struct celld_discovery *disc)
{
	return &disc->me;
}

void celld_discovery_get_counters(struct celld_discovery *disc,
				  struct celld_discovery_counters *out)
{
	disc->n.peers = disc->npeers;
	disc->n.bpf_drops = 0;
	for (int k = 0; k < 2; k++) {
		struct cell_pheromone_filter *f = k ? disc->filter6 : disc->filter4;
		uint64_t c[CELL_PHEROMONE_NR_VERDICTS];

		if (f && filter_stats(f, c) == 0)
			for (int i = 1; i < CELL_PHEROMONE_NR_VERDICTS; i++)
				disc->n.bpf_drops += c[i];
	}
	*out = disc->n;
}

static void stats_peer(const struct celld_peer_rtt *p, void *ctx)
{
	fprintf(ctx, "peer %s %s %u %u %u %u\n", p->node, p->from[0] ? p->from : "-", p->est_us,
		p->measured_us, p->samples, p->min_us);
}

int celld_discovery_write_stats(struct celld_discovery *disc, const char *path)
{
	struct celld_discovery_counters n;
	char tmp[1100];
	FILE *f;

	celld_discovery_get_counters(disc, &n);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "we");
	if (!f)
		return -errno;
	fprintf(f, "node %s\n", disc->id->hex);
	fprintf(f, "received %llu\naccepted %llu\nsent %llu\nsend_errors %llu\n",
		(unsigned long long)n.received, (unsigned long long)n.accepted,
		(unsigned long long)n.sent, (unsigned long long)n.send_errors);
	for (int i = 1; i < CELL_PHEROMONE_NR_VERDICTS; i++)
		fprintf(f, "check_%s %llu\n", check_names[i], (unsigned long long)n.check[i]);
	for (int i = 0; i < CELLD_NR_DROPS; i++)
		fprintf(f, "drop_%s %llu\n", drop_names[i], (unsigned long long)n.drop[i]);
	fprintf(f, "expired %llu\npings_sent %llu\npongs_received %llu\npings_bad %llu\n",
		(unsigned long long)n.expired, (unsigned long long)n.pings_sent,
		(unsigned long long)n.pongs_received, (unsigned long long)n.pings_bad);
	fprintf(f, "pings_answered %llu\n", (unsigned long long)n.pings_answered);
	fprintf(f, "ping_rx_wait_us %llu\nping_rx_wait_max_us %llu\npong_hold_us %llu\n",
		(unsigned long long)n.ping_rx_wait_us, (unsigned long long)n.ping_rx_wait_max_us,
		(unsigned long long)n.pong_hold_us);
	for (int i = 0; i < CELLD_NR_PING_DROPS; i++)
		fprintf(f, "ping_bad_%s %llu\n", ping_drop_names[i],
			(unsigned long long)n.ping_drop[i]);
	fprintf(f, "bpf %d\nbpf_drops %llu\npeers %u\ncells %u\n", n.bpf ? 1 : 0,
		(unsigned long long)n.bpf_drops, n.peers, n.cells);
	fprintf(f, "coord %.1f %.1f %.1f %.1f %.3f\n", disc->me.v[0], disc->me.v[1], disc->me.v[2],
		disc->me.h, disc->me.err);
	celld_discovery_foreach_peer(disc, stats_peer, f);
	if (fclose(f))
		return -errno;
	return rename(tmp, path) ? -errno : 0;
}

void celld_discovery_foreach_counter(struct celld_discovery *disc,
				     void (*fn)(const char *name, uint64_t value, void *ctx),
				     void *ctx)
{
	struct celld_discovery_counters n;
	char name[64];

	celld_discovery_get_counters(disc, &n);
	fn("received", n.received, ctx);
	fn("accepted", n.accepted, ctx);
	fn("sent", n.sent, ctx);
	fn("send_errors", n.send_errors, ctx);
	for (int i = 1; i < CELL_PHEROMONE_NR_VERDICTS; i++) {
		snprintf(name, sizeof(name), "check_%s", check_names[i]);
		fn(name, n.check[i], ctx);
	}
	for (int i = 0; i < CELLD_NR_DROPS; i++) {
		snprintf(name, sizeof(name), "drop_%s", drop_names[i]);
		fn(name, n.drop[i], ctx);
	}
	fn("expired", n.expired, ctx);
	fn("bpf_drops", n.bpf_drops, ctx);
	fn("pings_sent", n.pings_sent, ctx);
	fn("pings_answered", n.pings_answered, ctx);
	fn("pongs_received", n.pongs_received, ctx);
	fn("pings_bad", n.pings_bad, ctx);
	fn("ping_rx_wait_us", n.ping_rx_wait_us, ctx);
	fn("ping_rx_wait_max_us", n.ping_rx_wait_max_us, ctx);
	fn("pong_hold_us", n.pong_hold_us, ctx);
	for (int i = 0; i < CELLD_NR_PING_DROPS; i++) {
		snprintf(name, sizeof(name), "ping_bad_%s", ping_drop_names[i]);
		fn(name, n.ping_drop[i], ctx);
	}
}

/* ---- Prometheus ------------------------------------------------------------ */

static void prom_family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void prom_value(FILE *f, const char *name, uint64_t v)
{
	fprintf(f, "%s %llu\n", name, (unsigned long long)v);
}

static void prom_peer(const struct celld_peer_rtt *p, void *ctx)
{
	FILE *f = ctx;

	if (p->est_us)
		fprintf(f,
			"celld_discovery_peer_rtt_seconds{node=\"%s\",kind=\"estimated\"} %.6f\n",
			p->node, p->est_us / 1e6);
	if (p->samples) {
		fprintf(f, "celld_discovery_peer_rtt_seconds{node=\"%s\",kind=\"measured\"} %.6f\n",
			p->node, p->measured_us / 1e6);
		fprintf(f, "celld_discovery_peer_rtt_seconds{node=\"%s\",kind=\"minimum\"} %.6f\n",
			p->node, p->min_us / 1e6);
	}
}

static void prom_samples(const struct celld_peer_rtt *p, void *ctx)
{
	fprintf(ctx, "celld_discovery_peer_rtt_samples_total{node=\"%s\"} %u\n", p->node,
		p->samples);
}

void celld_discovery_prometheus(struct celld_discovery *disc, FILE *f)
{
	static const struct {
		const char *name, *help;
		size_t off;
	} plain[] = {
		{ "celld_discovery_received_total", "Pheromone datagrams read.",
		  offsetof(struct celld_discovery_counters, received) },
		{ "celld_discovery_accepted_total", "Pheromone datagrams that passed every check.",
		  offsetof(struct celld_discovery_counters, accepted) },
		{ "celld_discovery_sent_total", "Pheromone datagrams sent.",
		  offsetof(struct celld_discovery_counters, sent) },
		{ "celld_discovery_send_errors_total", "Datagrams (pheromones, pings) not sent.",
		  offsetof(struct celld_discovery_counters, send_errors) },
		{ "celld_discovery_expired_total", "Remote cells removed when their TTL ran out.",
		  offsetof(struct celld_discovery_counters, expired) },
		{ "celld_discovery_bpf_dropped_total",
		  "Datagrams the BPF pheromone filter dropped in the kernel.",
		  offsetof(struct celld_discovery_counters, bpf_drops) },
		{ "celld_discovery_pings_sent_total", "Vivaldi pings sent.",
		  offsetof(struct celld_discovery_counters, pings_sent) },
		{ "celld_discovery_pings_answered_total", "Vivaldi pings answered with a pong.",
		  offsetof(struct celld_discovery_counters, pings_answered) },
		{ "celld_discovery_pongs_received_total", "Pongs accepted as RTT samples.",
		  offsetof(struct celld_discovery_counters, pongs_received) },
	};
	struct celld_discovery_counters n;

	celld_discovery_get_counters(disc, &n);
	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
		uint64_t v;

		memcpy(&v, (const char *)&n + plain[i].off, sizeof(v));
		prom_family(f, plain[i].name, "counter", plain[i].help);
		prom_value(f, plain[i].name, v);
	}
	prom_family(f, "celld_discovery_dropped_total", "counter",
		    "Pheromone datagrams dropped in userspace, by reason.");
	for (int i = 0; i < CELLD_NR_DROPS; i++)
		fprintf(f, "celld_discovery_dropped_total{reason=\"%s\"} %llu\n", drop_names[i],
			(unsigned long long)n.drop[i]);
	prom_family(f, "celld_discovery_malformed_total", "counter",
		    "Malformed pheromone datagrams dropped in userspace, by check verdict.");
	for (int i = 1; i < CELL_PHEROMONE_NR_VERDICTS; i++)
		fprintf(f, "celld_discovery_malformed_total{verdict=\"%s\"} %llu\n", check_names[i],
			(unsigned long long)n.check[i]);
	prom_family(f, "celld_discovery_pings_dropped_total", "counter",
		    "Datagrams of the ping port dropped, by reason.");
	for (int i = 0; i < CELLD_NR_PING_DROPS; i++)
		fprintf(f, "celld_discovery_pings_dropped_total{reason=\"%s\"} %llu\n",
			ping_drop_names[i], (unsigned long long)n.ping_drop[i]);
	prom_family(f, "celld_discovery_ping_rx_wait_seconds_total", "counter",
		    "Time datagrams of the ping port waited between the kernel's receive stamp "
		    "and celld's read (not part of RTT samples).");
	fprintf(f, "celld_discovery_ping_rx_wait_seconds_total %.6f\n", n.ping_rx_wait_us / 1e6);
	prom_family(f, "celld_discovery_pong_hold_seconds_total", "counter",
		    "Time peers said they held our pings before their pongs (taken off the RTT "
		    "samples).");
	fprintf(f, "celld_discovery_pong_hold_seconds_total %.6f\n", n.pong_hold_us / 1e6);
	prom_family(f, "celld_discovery_peers", "gauge", "Remote nodes in the peer table.");
	prom_value(f, "celld_discovery_peers", n.peers);
	prom_family(f, "celld_discovery_cells", "gauge", "Remote cells known.");
	prom_value(f, "celld_discovery_cells", n.cells);
	prom_family(f, "celld_discovery_bpf_attached", "gauge",
		    "1 when the BPF pheromone filter is attached to every discovery socket.");
	prom_value(f, "celld_discovery_bpf_attached", n.bpf ? 1 : 0);
	prom_family(f, "celld_discovery_peer_rtt_seconds", "gauge",
		    "Round trip to a remote node: Vivaldi estimate, median and minimum of the "
		    "last 16 pings.");
	celld_discovery_foreach_peer(disc, prom_peer, f);
	prom_family(f, "celld_discovery_peer_rtt_samples_total", "counter",
		    "Pongs accepted from a remote node.");
	celld_discovery_foreach_peer(disc, prom_samples, f);
}
