// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * The discovery module of celld: discovery.c on celld's loop, with its
 * options (-o discovery.*) and the registry as the place remote cells go.
 * Documentation/discovery.rst, Documentation/celld.rst (Module options).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cell/rpc.h>

#include "celld.h"
#include "discovery.h"
#include "identity.h"
#include "nucleus.cell.h"

struct celld_discovery_mod {
	struct celld *d;
	struct celld_discovery *disc;
};

static struct celld_discovery_mod the_mod; /* one celld, one discovery */
static struct celld_discovery_mod *mod;

/* @from: the sender's "ip:port", for an IPv4 endpoint 0.0.0.0 ("my address"). */
static void endpoint_uri(const struct cell_endpoint *ep, const char *from, char *out, size_t cap)
{
	char ip[64] = "?";
	unsigned port = (unsigned)(ep->port & 0xff) | (unsigned)(ep->port >> 8 & 0xff) << 8;
	const char *tr = ep->transport == CELL_EP_QUIC ? "quic" : "udp";
	const char *colon = strrchr(from, ':');

	if (ep->family == CELL_EP_IPV4 &&
	    !(ep->addr[0] | ep->addr[1] | ep->addr[2] | ep->addr[3]) && colon && from[0] != '[' &&
	    (size_t)(colon - from) < sizeof(ip))
		snprintf(ip, sizeof(ip), "%.*s", (int)(colon - from), from);
	else if (ep->family == CELL_EP_IPV4)
		snprintf(ip, sizeof(ip), "%u.%u.%u.%u", ep->addr[0], ep->addr[1], ep->addr[2],
			 ep->addr[3]);
	else if (ep->family == CELL_EP_IPV6) {
		char *p = ip + 1;

		ip[0] = '[';
		for (int i = 0; i < 16; i += 2)
			p += snprintf(p, (size_t)(ip + sizeof(ip) - p), "%s%x", i ? ":" : "",
				      ep->addr[i] << 8 | ep->addr[i + 1]);
		snprintf(p, (size_t)(ip + sizeof(ip) - p), "]");
	}
	snprintf(out, cap, "%s://%s:%u", tr, ip, port);
}

static void on_added(void *ctx, const struct celld_remote_cell *c)
{
	struct celld_discovery_mod *m = ctx;
	struct celld_entry e;
	char uris[CELL_PHEROMONE_ENDPOINTS][96];
	char err[256];
	int rc;

	memset(&e, 0, sizeof(e));
	snprintf(e.name, sizeof(e.name), "%s", c->name);
	snprintf(e.node, sizeof(e.node), "%s", c->node);
	e.fingerprint = c->fingerprint;
	e.origin = CELLD_ORIGIN_LAN;
	e.rtt_us = c->rtt_us;
	for (unsigned i = 0; i < c->nendpoints && i < CELL_PHEROMONE_ENDPOINTS; i++) {
		endpoint_uri(&c->endpoints[i], c->from, uris[i], sizeof(uris[i]));
		e.endpoints[e.nendpoints++] = uris[i];
	}
	rc = celld_registry_add(m->d->registry, &e, err, sizeof(err), NULL);
	if (rc)
		celld_log("discovery: %s@%.16s not registered: %s", c->name, c->node, err);
	else if (m->d->cfg.verbose)
		celld_log("discovery: %s on node %.16s (%s)", c->name, c->node, c->from);
}

static void on_removed(void *ctx, const struct celld_remote_cell *c)
{
	struct celld_discovery_mod *m = ctx;

	celld_registry_remove(m->d->registry, c->node, c->name);
	if (m->d->cfg.verbose)
		celld_log("discovery: %s on node %.16s gone", c->name, c->node);
}

struct announce_ctx {
	struct celld_discovery *disc;
};

static void announce_entry(const struct celld_entry *e, void *ctx)
{
	struct announce_ctx *a = ctx;

	if (!e->node[0] && celld_entry_serving(e))
		celld_discovery_announce(a->disc, e->name, e->fingerprint);
}

static void refresh_rtt(const struct celld_remote_cell *c, void *ctx)
{
	struct celld_discovery_mod *m = ctx;
	const struct celld_entry *e = celld_registry_find(m->d->registry, c->node, c->name);

	if (e && e->rtt_us != c->rtt_us)
		celld_registry_set_health(m->d->registry, c->node, c->name, e->health, c->rtt_us);
}

static void on_local(void *ctx, struct celld_discovery *disc)
{
	struct celld_discovery_mod *m = ctx;
	struct announce_ctx a = { disc };

	/* The nucleus stands for the node itself: every node has one. */
	celld_discovery_announce(disc, "nucleus", NUCLEUS_FINGERPRINT);
	celld_registry_foreach(m->d->registry, announce_entry, &a);
	celld_discovery_foreach(disc, refresh_rtt, m);
}

static void on_registry(enum celld_event ev, const struct celld_entry *e, void *ctx)
{
	struct celld_discovery_mod *m = ctx;

	if (e->node[0] || !m->disc)
		return;
	if (ev == CELLD_EVENT_REMOVED || !celld_entry_serving(e)) /* a supervised cell not ready */
		celld_discovery_withdraw(m->disc, e->name, e->fingerprint);
	else
		celld_discovery_kick(m->disc);
}

static unsigned opt_uint(struct celld *d, const char *key, unsigned def)
{
	const char *v = celld_option(d, key, NULL);
	char *end;
	unsigned long x;

	if (!v)
		return def;
	errno = 0;
	x = strtoul(v, &end, 10);
	if (errno || *end || end == v || x > 0xffffffffUL) {
		celld_log("discovery: -o %s=%s is not a number; using %u", key, v, def);
		return def;
	}
	return (unsigned)x;
}

static void opt_str(struct celld *d, const char *key, char *dst, size_t cap)
{
	const char *v = celld_option(d, key, NULL);

	if (v)
		snprintf(dst, cap, "%s", strcmp(v, "off") ? v : "");
}

/* ---- nucleus method 6: discovery (counters and per-peer RTTs) ------------ */

struct stats_ctx {
	struct cellc_builder *b;
	struct nucleus_stat_counter *counters;
	struct nucleus_peer_rtt *rtts;
	uint32_t n, cap;
	uint64_t bytes;
};

static void count_counter(const char *name, uint64_t value, void *ctx)
{
	struct stats_ctx *s = ctx;

	(void)value;
	s->n++;
	s->bytes += NUCLEUS_STAT_COUNTER_SIZE + strlen(name) + 8;
}

static void count_peer(const struct celld_peer_rtt *p, void *ctx)
{
	struct stats_ctx *s = ctx;

	s->n++;
	s->bytes += NUCLEUS_PEER_RTT_SIZE + strlen(p->node) + strlen(p->from) + 16;
}

static void put_counter(const char *name, uint64_t value, void *ctx)
{
	struct stats_ctx *s = ctx;

	if (!s->counters || s->n == s->cap)
		return;
	s->counters[s->n].value = value;
	(void)nucleus_stat_counter_set_name_str(s->b, &s->counters[s->n], name);
	s->n++;
}

static void put_peer(const struct celld_peer_rtt *p, void *ctx)
{
	struct stats_ctx *s = ctx;
	struct nucleus_peer_rtt *r;

	if (!s->rtts || s->n == s->cap)
		return;
	r = &s->rtts[s->n++];
	r->est_us = p->est_us;
	r->measured_us = p->measured_us;
	r->samples = p->samples;
	(void)nucleus_peer_rtt_set_node_str(s->b, r, p->node);
	(void)nucleus_peer_rtt_set_addr_str(s->b, r, p->from);
}

static enum cell_status on_discovery(const struct cell_vesicle *v, struct cell_reply *reply,
				     void *ctx)
{
	struct celld *d = ctx;
	struct celld_discovery *disc = d->discovery;
	struct stats_ctx sc = { 0 }, pc = { 0 };
	struct nucleus_discovery_stats *st;
	struct celld_discovery_counters n;
	struct cellc_builder b;
	const char *why = "invalid request";

	if (nucleus_empty_validate(v->data, v->len, &why)) {
		if (reply && cell_reply_error(reply, CELL_STATUS_BAD_MESSAGE, why))
			return CELL_STATUS_INTERNAL;
		return CELL_STATUS_BAD_MESSAGE;
	}
	if (!reply)
		return CELL_STATUS_INVALID_ARGUMENT;
	if (disc) {
		celld_discovery_foreach_counter(disc, count_counter, &sc);
		celld_discovery_foreach_peer(disc, count_peer, &pc);
	}
	st = nucleus_discovery_stats_reply_begin(
		reply, NUCLEUS_DISCOVERY_STATS_SIZE + 3 * 8 + CELLD_NODE_HEX + sc.bytes + pc.bytes,
		&b);
	if (!st)
		return CELL_STATUS_RESOURCE_EXHAUSTED;
	if (d->identity)
		(void)nucleus_discovery_stats_set_node_str(&b, st, d->identity->hex);
	if (disc) {
		celld_discovery_get_counters(disc, &n);
		st->enabled = 1;
		st->bpf = n.bpf;
		st->peers = n.peers;
		st->cells = n.cells;
		sc.b = pc.b = &b;
		sc.cap = sc.n;
		sc.n = 0;
		sc.counters = nucleus_discovery_stats_alloc_counters(&b, st, sc.cap);
		celld_discovery_foreach_counter(disc, put_counter, &sc);
		pc.cap = pc.n;
		pc.n = 0;
		pc.rtts = nucleus_discovery_stats_alloc_rtts(&b, st, pc.cap);
		celld_discovery_foreach_peer(disc, put_peer, &pc);
	}
	return cellc_reply_finish(reply, &b) ? CELL_STATUS_INTERNAL : CELL_STATUS_OK;
}

int celld_discovery_start(struct celld *d)
{
	const char *mode = celld_option(d, "discovery", "auto");
	struct celld_discovery_config cfg;
	struct celld_discovery_ops ops = { on_added, on_removed, on_local };
	struct celld_discovery_mod *m;
	const char *trust;
	char err[512];
	int rc;

	/* Served with discovery off too (enabled = 0). */
	if (d->nucleus && cell_server_handle(d->nucleus, NUCLEUS_METHOD_DISCOVERY, on_discovery, d))
		celld_log("discovery: nucleus method discovery not served: %s",
			  cell_last_error(NULL));
	if (!strcmp(mode, "off"))
		return 0;
	if (strcmp(mode, "on") && strcmp(mode, "auto")) {
		celld_log("discovery: -o discovery=%s: want on, off or auto", mode);
		return -EINVAL;
	}
	if (!d->identity) {
		celld_log("discovery: no node identity");
		return -EINVAL;
	}
	celld_discovery_config_init(&cfg);
	cfg.port = (uint16_t)opt_uint(d, "discovery.port", cfg.port);
	cfg.ping_port = (uint16_t)opt_uint(d, "discovery.ping_port", cfg.port + 1U);
	opt_str(d, "discovery.group4", cfg.group4, sizeof(cfg.group4));
	opt_str(d, "discovery.group6", cfg.group6, sizeof(cfg.group6));
	opt_str(d, "discovery.iface4", cfg.iface4, sizeof(cfg.iface4));
	opt_str(d, "discovery.iface6", cfg.iface6, sizeof(cfg.iface6));
	cfg.interval_ms = opt_uint(d, "discovery.interval_ms", cfg.interval_ms);
	cfg.ttl_s = opt_uint(d, "discovery.ttl", cfg.ttl_s);
	cfg.ping_ms = opt_uint(d, "discovery.ping_ms", cfg.ping_ms);
	cfg.ping_rate = opt_uint(d, "discovery.ping_rate", cfg.ping_rate);
	cfg.ping_window_s = opt_uint(d, "discovery.ping_window_s", cfg.ping_window_s);
	cfg.max_peers = opt_uint(d, "discovery.max_peers", cfg.max_peers);
	cfg.max_cells = opt_uint(d, "discovery.max_cells", cfg.max_cells);
	opt_str(d, "peers", cfg.peers_file, sizeof(cfg.peers_file));
	opt_str(d, "discovery.relay", cfg.relay, sizeof(cfg.relay));
	opt_str(d, "discovery.stats", cfg.stats_file, sizeof(cfg.stats_file));
	cfg.no_bpf = !strcmp(celld_option(d, "discovery.bpf", "on"), "off");
	/* With a peers file only its keys count, unless tofu=1. */
	trust = celld_option(d, "tofu", cfg.peers_file[0] ? "0" : "1");
	cfg.trust = strcmp(trust, "1") ? CELLD_TRUST_KNOWN : CELLD_TRUST_TOFU;

	m = &the_mod;
	memset(m, 0, sizeof(*m));
	m->d = d;
	m->disc = celld_discovery_new(d->loop, d->identity, &cfg, &ops, m, err, sizeof(err));
	if (!m->disc) {
		celld_log("discovery: %s", err);
		return -EINVAL;
	}
	rc = celld_discovery_open(m->disc, err, sizeof(err));
	if (rc) {
		celld_discovery_close(m->disc);
		m->disc = NULL;
		if (!strcmp(mode, "auto")) {
			celld_log("discovery: off: %s (-o discovery=on makes this fatal)", err);
			return 0;
		}
		celld_log("discovery: %s", err);
		return rc < 0 ? rc : -EIO;
	}
	if (celld_registry_listen(d->registry, on_registry, m))
		celld_log("discovery: cannot follow the registry (announcing every interval only)");
	mod = m;
	d->discovery = m->disc;
	{
		struct celld_discovery_counters n;

		celld_discovery_get_counters(m->disc, &n);
		celld_log("discovery: node %.16s... on port %u (%s%s%s), trust %s, BPF filter %s",
			  d->identity->hex, cfg.port, cfg.group4,
			  cfg.group4[0] && cfg.group6[0] ? " " : "", cfg.group6,
			  cfg.trust == CELLD_TRUST_TOFU ? "tofu" : "known peers",
			  n.bpf ? "attached" : "NOT attached (userspace checks only)");
	}
	return 0;
}

void celld_discovery_stop(struct celld *d)
{
	if (!mod)
		return;
	if (celld_option(d, "discovery.stats", NULL))
		celld_discovery_write_stats(mod->disc, celld_option(d, "discovery.stats", NULL));
	celld_discovery_close(mod->disc);
	d->discovery = NULL;
	/* The registry may still call on_registry until it is freed: keep m, disc NULL. */
	mod->disc = NULL;
	mod = NULL;
}
