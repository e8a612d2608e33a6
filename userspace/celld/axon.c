// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * The axon module of celld: QUIC links between nodes (Documentation/celld.rst,
 * "Axons: cells across machines over QUIC").
 *
 * Export: with -o axon=on every local cell gets a QUIC port of its own
 * (axon.port, axon.port+1, ... up to axon.ports of them).  A proxy server
 * with the cell's name and fingerprint listens there, presenting the node
 * key (state_dir/node.key) and trusting the known peers of discovery
 * (-o peers=FILE, -o tofu=1); each call it receives is forwarded to the
 * local cell and its answer sent back.  Discovery announces the port with
 * the cell (an IPv4 endpoint 0.0.0.0:PORT, "the address this datagram
 * came from").  Each proxy runs on a thread of its own: a slow cell must
 * not stall celld's loop.  The thread touches only its server and its
 * client, never the registry or the loop.
 *
 * Import: whenever discovery learns a remote cell with a quic:// endpoint,
 * RUNTIME_DIR/axon/NAME gets one line "quic://HOST:PORT FINGERPRINT NODE
 * RTT_US" for the nearest node announcing NAME (lowest Vivaldi estimate);
 * the file goes when no node announces it any more.  libcell reads it when
 * no local instance answers (lib/client.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <cell/quic.h>
#include <cell/rpc.h>

#include "axon.h"
#include "celld.h"
#include "discovery.h"
#include "identity.h"
#include "nucleus.cell.h"

#define AXON_MAX_PROXIES 256

struct proxy {
	bool used;
	char name[CELL_NAME_MAX];
	uint64_t fingerprint;
	unsigned port;
	struct cell_server *srv;
	struct cell_client *local; /* to the local cell; the proxy thread's alone */
	char *schema;		   /* the cell's schema text (method 0), owned; may be NULL */
	pthread_t thread;
	bool running;
	struct celld_axon *ax;
};

struct celld_axon {
	struct celld *d;
	bool export;
	char bind[64];
	unsigned base_port, nports;
	uint32_t timeout_ms;
	char peers[4096];
	int tofu;
	char proxy_dir[4200];
	char import_dir[sizeof(((struct celld_config *)0)->runtime_dir) + 8];
	struct proxy proxies[AXON_MAX_PROXIES];
	uint64_t forwarded, forward_errors;
	bool stopped;
	char rl_dev[64]; /* axon.ratelimit: the device the limiter is on */
	char rl_tool[4096];
};

static struct celld_axon the_axon;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* ---- export: one proxy per local cell --------------------------------- */

static enum cell_status forward(const struct cell_vesicle *v, struct cell_reply *reply, void *ctx)
{
	struct proxy *p = ctx;
	uint64_t deadline = now_ns() + (uint64_t)p->ax->timeout_ms * 1000000ULL;
	struct cell_response resp;
	struct cell_call *call;
	enum cell_status st;
	void *buf;

	if (!p->local) {
		struct cell_client_opts o = { .sz = sizeof(o),
					      .fingerprint = p->fingerprint,
					      .runtime_dir = p->ax->d->cfg.runtime_dir,
					      .reconnect = 1,
					      .connect_deadline = deadline };

		p->local = cell_client_connect(p->name, &o);
		if (!p->local) {
			if (reply)
				(void)!cell_reply_error(reply, CELL_STATUS_UNAVAILABLE,
							"axon: the local cell does not answer");
			return CELL_STATUS_UNAVAILABLE;
		}
	}
	st = cell_call_begin(p->local, v->method, v->len, reply ? 0 : CELL_CALL_ONEWAY, deadline,
			     &call, &buf);
	if (st != CELL_STATUS_OK)
		goto out;
	if (v->len)
		memcpy(buf, v->data, v->len);
	st = cell_call_finish(call, v->len, &resp);
	if (st == CELL_STATUS_OK && reply) {
		if (resp.status == CELL_STATUS_OK) {
			if (cell_reply_send(reply, resp.data, resp.len))
				st = CELL_STATUS_UNAVAILABLE;
		} else {
			char detail[1024];
			uint32_t n = resp.detail_len < sizeof(detail) - 1 ? resp.detail_len
									  : sizeof(detail) - 1;

			if (n)
				memcpy(detail, resp.detail, n);
			detail[n] = '\0';
			st = resp.status;
			(void)!cell_reply_error(reply, st, n ? detail : NULL);
		}
	}
	cell_call_end(call);
out:
	if (st == CELL_STATUS_OK)
		__atomic_add_fetch(&p->ax->forwarded, 1, __ATOMIC_RELAXED);
	else
		__atomic_add_fetch(&p->ax->forward_errors, 1, __ATOMIC_RELAXED);
	return st;
}

static void *proxy_main(void *arg)
{
	struct proxy *p = arg;

	if (cell_server_run(p->srv, 1))
		celld_log("axon: %s: serving stopped: %s", p->name, cell_last_error(NULL));
	return NULL;
}

static bool port_taken(const struct celld_axon *ax, unsigned port)
{
	for (unsigned i = 0; i < AXON_MAX_PROXIES; i++)
		if (ax->proxies[i].used && ax->proxies[i].port == port)
			return true;
	return false;
}

static struct proxy *find_proxy(struct celld_axon *ax, const char *name)
{
	for (unsigned i = 0; i < AXON_MAX_PROXIES; i++)
		if (ax->proxies[i].used && !strcmp(ax->proxies[i].name, name))
			return &ax->proxies[i];
	return NULL;
}

static void proxy_stop(struct proxy *p)
{
	if (p->running) {
		cell_server_stop(p->srv);
		pthread_join(p->thread, NULL);
	}
	cell_server_free(p->srv);
	cell_client_free(p->local);
	free(p->schema);
	memset(p, 0, sizeof(*p));
}

static void proxy_start(struct celld_axon *ax, const struct celld_entry *e)
{
	struct cell_server_opts so = { .sz = sizeof(so),
				       .fingerprint = e->fingerprint,
				       .runtime_dir = ax->proxy_dir,
				       .max_connections = 64,
				       .no_register = 1 };
	struct cell_quic_opts q = { .sz = sizeof(q),
				    .identity = ax->d->identity->sk,
				    .known_peers = ax->peers[0] ? ax->peers : NULL,
				    .tofu = ax->tofu };
	struct proxy *p = find_proxy(ax, e->name);
	char addr[96];
	unsigned port = 0;
	int rc;

	/*
	 * Never the nucleus: the proxy's local client would be celld itself to
	 * access.c (a host caller: spawn, stop, swap...), not CALLER_REMOTE.
	 * Enroll refuses the name (registration.c); this holds if that changes.
	 */
	if (!strcmp(e->name, "nucleus") || e->fingerprint == NUCLEUS_FINGERPRINT)
		return;
	if (p && p->fingerprint == e->fingerprint)
		return;
	if (p)
		proxy_stop(p);
	for (p = NULL, rc = 0; rc < AXON_MAX_PROXIES && !p; rc++)
		if (!ax->proxies[rc].used)
			p = &ax->proxies[rc];
	if (ax->base_port) {
		for (unsigned i = 0; i < ax->nports && !port; i++)
			if (!port_taken(ax, ax->base_port + i))
				port = ax->base_port + i;
		if (!port)
			p = NULL;
	}
	if (!p) {
		celld_log("axon: %s not exported: all %u ports in use", e->name, ax->nports);
		return;
	}
	memset(p, 0, sizeof(*p));
	p->ax = ax;
	snprintf(p->name, sizeof(p->name), "%s", e->name);
	p->fingerprint = e->fingerprint;
	/*
	 * Method 0 is answered by the proxy's server itself (not forwarded):
	 * with the registered text, copied, since the server keeps the pointer
	 * and the registry entry may change while the proxy thread serves.
	 */
	p->schema = e->schema ? strdup(e->schema) : NULL;
	so.schema = p->schema;
	p->srv = cell_server_new(e->name, &so);
	if (!p->srv) {
		celld_log("axon: %s not exported: %s", e->name, cell_last_error(NULL));
		goto fail;
	}
	for (unsigned m = 0; m < AXON_FORWARDED_METHODS; m++)
		if (cell_server_handle(p->srv, (uint16_t)m, forward, p))
			goto fail;
	snprintf(addr, sizeof(addr), "%s:%u", ax->bind, port);
	rc = cell_server_listen_quic(p->srv, addr, &q);
	if (rc) {
		celld_log("axon: %s not exported: QUIC on %s: %s", e->name, addr,
			  cell_last_error(NULL));
		goto fail;
	}
	p->port = cell_server_quic_port(p->srv);
	p->used = true;
	if (pthread_create(&p->thread, NULL, proxy_main, p)) {
		celld_log("axon: %s not exported: no thread", e->name);
		goto fail;
	}
	p->running = true;
	celld_log("axon: %s exported on quic://%s:%u", e->name, ax->bind, p->port);
	if (ax->d->discovery)
		celld_discovery_kick(ax->d->discovery);
	return;
fail:
	cell_server_free(p->srv);
	free(p->schema);
	memset(p, 0, sizeof(*p));
}

/* Discovery asks for the endpoints of local cell @name. */
static unsigned endpoints_of(void *ctx, const char *name, uint64_t fingerprint,
			     struct cell_endpoint *eps, unsigned max)
{
	struct celld_axon *ax = ctx;
	const struct proxy *p = find_proxy(ax, name);
	struct in_addr a = { 0 };

	if (!p || p->fingerprint != fingerprint || !max)
		return 0;
	memset(&eps[0], 0, sizeof(eps[0]));
	eps[0].family = CELL_EP_IPV4;
	eps[0].transport = CELL_EP_QUIC;
	eps[0].port = (uint16_t)p->port; /* little-endian on every machine we build for */
	if (inet_pton(AF_INET, ax->bind, &a) == 1)
		memcpy(eps[0].addr, &a, 4); /* 0.0.0.0: the receiver takes the source address */
	return 1;
}

/* ---- import: RUNTIME_DIR/axon/NAME for remote cells ------------------- */

struct best {
	const char *name;
	const struct celld_entry *skip; /* being removed */
	const struct celld_entry *e;
	const char *uri;
};

static const char *quic_uri(const struct celld_entry *e)
{
	for (uint32_t i = 0; i < e->nendpoints; i++)
		if (e->endpoints[i] && !strncmp(e->endpoints[i], "quic://", 7))
			return e->endpoints[i];
	return NULL;
}

static void pick(const struct celld_entry *e, void *ctx)
{
	struct best *b = ctx;
	const char *uri;

	if (e == b->skip || !e->node[0] || strcmp(e->name, b->name) || !(uri = quic_uri(e)))
		return;
	/* The nearest by the Vivaldi estimate (0: unknown, last); ties by node id. */
	if (b->e) {
		uint64_t r = e->rtt_us ? e->rtt_us : UINT64_MAX;
		uint64_t rb = b->e->rtt_us ? b->e->rtt_us : UINT64_MAX;

		if (r > rb || (r == rb && strcmp(e->node, b->e->node) > 0))
			return;
	}
	b->e = e;
	b->uri = uri;
}

static void import_update(struct celld_axon *ax, const char *name, const struct celld_entry *skip)
{
	struct best b = { .name = name, .skip = skip };
	char path[sizeof(ax->import_dir) + CELL_NAME_MAX + 8], tmp[sizeof(path) + 8];
	FILE *f;

	if (snprintf(path, sizeof(path), "%s/%s", ax->import_dir, name) >= (int)sizeof(path))
		return;
	celld_registry_foreach(ax->d->registry, pick, &b);
	if (!b.e) {
		if (!unlink(path))
			celld_log("axon: no node announces %s any more", name);
		return;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "we");
	if (!f) {
		celld_log("axon: %s: %s", tmp, strerror(errno));
		return;
	}
	fprintf(f, "%s %016" PRIx64 " %s %u\n", b.uri, b.e->fingerprint, b.e->node, b.e->rtt_us);
	if (fclose(f) || rename(tmp, path)) {
		celld_log("axon: %s: %s", path, strerror(errno));
		unlink(tmp);
	}
}

static void on_registry(enum celld_event ev, const struct celld_entry *e, void *ctx)
{
	struct celld_axon *ax = ctx;

	if (ax->stopped)
		return;
	if (e->node[0]) {
		import_update(ax, e->name, ev == CELLD_EVENT_REMOVED ? e : NULL);
		return;
	}
	if (!ax->export)
		return;
	if (ev == CELLD_EVENT_REMOVED || !celld_entry_serving(e)) { /* also: a capsid not ready */
		struct proxy *p = find_proxy(ax, e->name);

		if (p && p->fingerprint == e->fingerprint) {
			proxy_stop(p);
			celld_log("axon: %s no longer exported", e->name);
		}
	} else {
		proxy_start(ax, e);
	}
}

static void export_existing(const struct celld_entry *e, void *ctx)
{
	if (!e->node[0] && celld_entry_serving(e))
		proxy_start(ctx, e);
	else
		import_update(ctx, e->name, NULL);
}

static unsigned opt_num(struct celld *d, const char *key, unsigned def, unsigned max);

extern char **environ;

/* Run the limiter tool with @argv (argv[0] = the tool): 0 or -1 (logged). */
static int run_tool(char **argv)
{
	pid_t pid;
	int rc = posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ), status;

	if (rc) {
		celld_log("axon: %s: %s", argv[0], strerror(rc));
		return -1;
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		celld_log("axon: %s %s %s failed (status 0x%x)", argv[0], argv[1], argv[2], status);
		return -1;
	}
	return 0;
}

/*
 * -o axon.ratelimit=DEV: cell-ratelimit's per-IP limiter on DEV, for the
 * exported ports only (its port set), before any QUIC packet is parsed.
 */
static int ratelimit_attach(struct celld_axon *ax)
{
	char rate[16], burst[16], ports[AXON_MAX_PROXIES][8];
	char *argv[12 + 2 * AXON_MAX_PROXIES];
	int n = 0;

	snprintf(rate, sizeof(rate), "%u", opt_num(ax->d, "axon.ratelimit.rate", 1000, 100000000));
	snprintf(burst, sizeof(burst), "%u", opt_num(ax->d, "axon.ratelimit.burst", 200, 1000000));
	argv[n++] = ax->rl_tool;
	argv[n++] = "attach";
	argv[n++] = ax->rl_dev;
	argv[n++] = "--rate";
	argv[n++] = rate;
	argv[n++] = "--burst";
	argv[n++] = burst;
	argv[n++] = "--mode";
	argv[n++] = (char *)celld_option(ax->d, "axon.ratelimit.mode", "xdp");
	for (unsigned i = 0; i < ax->nports && i < AXON_MAX_PROXIES; i++) {
		snprintf(ports[i], sizeof(ports[i]), "%u", ax->base_port + i);
		argv[n++] = "--port";
		argv[n++] = ports[i];
	}
	argv[n] = NULL;
	if (run_tool(argv))
		return -EIO;
	celld_log("axon: rate limiter on %s: %s packets/s, burst %s per source address, UDP ports "
		  "%u..%u",
		  ax->rl_dev, rate, burst, ax->base_port, ax->base_port + ax->nports - 1);
	return 0;
}

static void ratelimit_detach(struct celld_axon *ax)
{
	char *argv[] = { ax->rl_tool, "detach", ax->rl_dev, NULL };

	if (ax->rl_dev[0] && !run_tool(argv))
		celld_log("axon: rate limiter on %s detached", ax->rl_dev);
}

static unsigned opt_num(struct celld *d, const char *key, unsigned def, unsigned max)
{
	const char *v = celld_option(d, key, NULL);
	char *end;
	unsigned long x;

	if (!v)
		return def;
	errno = 0;
	x = strtoul(v, &end, 10);
	if (errno || *end || end == v || x > max) {
		celld_log("axon: -o %s=%s is not a number up to %u; using %u", key, v, max, def);
		return def;
	}
	return (unsigned)x;
}

int celld_axon_start(struct celld *d)
{
	struct celld_axon *ax = &the_axon;
	const char *mode = celld_option(d, "axon", "off");
	const char *v;
	int rc;

	memset(ax, 0, sizeof(*ax));
	ax->d = d;
	if (!strcmp(mode, "off") && !celld_option(d, "axon.import", NULL))
		return 0;
	ax->export = !strcmp(mode, "on");
	if (!ax->export && strcmp(mode, "off")) {
		celld_log("axon: -o axon=%s: on or off", mode);
		return -EINVAL;
	}
	snprintf(ax->bind, sizeof(ax->bind), "%s", celld_option(d, "axon.addr", "0.0.0.0"));
	ax->base_port = opt_num(d, "axon.port", 4433, 65535);
	ax->nports = opt_num(d, "axon.ports", 32, AXON_MAX_PROXIES);
	if (ax->base_port && ax->base_port + ax->nports > 65536)
		ax->nports = 65536 - ax->base_port;
	ax->timeout_ms = opt_num(d, "axon.timeout_ms", 5000, 3600000);
	v = celld_option(d, "peers", "");
	snprintf(ax->peers, sizeof(ax->peers), "%s", v);
	ax->tofu = !strcmp(celld_option(d, "tofu", ax->peers[0] ? "0" : "1"), "1");
	snprintf(ax->proxy_dir, sizeof(ax->proxy_dir), "%s/axon", d->cfg.state_dir);
	snprintf(ax->import_dir, sizeof(ax->import_dir), "%s/axon", d->cfg.runtime_dir);
	if (ax->export && !d->identity) {
		celld_log("axon: no node identity");
		return -EINVAL;
	}
	if ((mkdir(ax->proxy_dir, 0700) && errno != EEXIST) ||
	    (mkdir(ax->import_dir, 0755) && errno != EEXIST)) {
		rc = -errno;
		celld_log("axon: mkdir: %s", strerror(errno));
		return rc;
	}
	snprintf(ax->rl_dev, sizeof(ax->rl_dev), "%s", celld_option(d, "axon.ratelimit", ""));
	snprintf(ax->rl_tool, sizeof(ax->rl_tool), "%s",
		 celld_option(d, "axon.ratelimit.tool", "cell-ratelimit"));
	if (ax->rl_dev[0]) {
		if (!ax->export || !ax->base_port || ax->nports > 64) {
			celld_log("axon: -o axon.ratelimit needs axon=on and a port range "
				  "(axon.port > 0, axon.ports <= 64)");
			return -EINVAL;
		}
		rc = ratelimit_attach(ax);
		if (rc)
			return rc;
	}
	rc = celld_registry_listen(d->registry, on_registry, ax);
	if (rc) {
		celld_log("axon: no registry listener left");
		return rc;
	}
	if (d->discovery && ax->export)
		celld_discovery_set_endpoints(d->discovery, endpoints_of, ax);
	if (ax->export)
		celld_log("axon: exporting local cells on %s ports %u..%u", ax->bind, ax->base_port,
			  ax->base_port ? ax->base_port + ax->nports - 1 : 0);
	celld_registry_foreach(d->registry, export_existing, ax);
	d->axon = ax;
	return 0;
}

void celld_axon_stop(struct celld *d)
{
	struct celld_axon *ax = d->axon;

	if (!ax)
		return;
	ax->export = false; /* the listener stays registered: it must do nothing now */
	ax->stopped = true;
	if (d->discovery)
		celld_discovery_set_endpoints(d->discovery, NULL, NULL);
	for (unsigned i = 0; i < AXON_MAX_PROXIES; i++)
		if (ax->proxies[i].used)
			proxy_stop(&ax->proxies[i]);
	ratelimit_detach(ax);
	d->axon = NULL;
}

void celld_axon_ports(const struct celld *d, unsigned *first, unsigned *count)
{
	const struct celld_axon *ax = d->axon;

	*first = ax && ax->export ? ax->base_port : 0;
	*count = ax && ax->export ? ax->nports : 0;
}
