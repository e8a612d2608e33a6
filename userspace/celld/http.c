// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * celld's HTTP module: Prometheus text exposition (format 0.0.4) of every
 * local cell's metrics at /metrics, and /healthz from each cell's PING.
 *
 * Enabled by -o http=ADDR:PORT (IPv4 "127.0.0.1:9464", IPv6
 * "[::1]:9464"; port 0 picks a free one, logged as "http: listening on").
 * libmicrohttpd runs without a thread of its own: MHD_USE_EPOLL gives one
 * epoll fd that sits in celld's libuv loop (uv_poll), and MHD_run() is
 * called when it turns readable or MHD's timeout passes.
 *
 * A scrape asks each cell at the moment of the request (collect.c:
 * PING, then METRICS), each step bounded by -o http.timeout_ms (default
 * 500), on the loop: a cell that hangs delays the scrape and the loop by
 * that much at most.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <microhttpd.h>

#include "celld.h"
#include "collect.h"
#include "discovery.h"
#include "http.h"

/* Prometheus `le` boundaries: 2^k ns for k = 10..36 (1.024 us .. 68.7 s), then +Inf. */
#define LE_MIN_EXP 10
#define LE_MAX_EXP 36

struct celld_http {
	struct celld *d;
	struct MHD_Daemon *mhd;
	uv_poll_t poll;
	uv_timer_t timer;
	unsigned int timeout_ms;
	bool polling, timing;
};

/* One cell's answers, for one scrape. */
struct scraped {
	char name[CELL_NAME_MAX];
	struct collect_result r;
};

struct scrape {
	struct celld_http *h;
	struct scraped *cells;
	size_t n, cap;
};

/* A growing text buffer; @failed sticks once an allocation fails. */
struct text {
	char *buf;
	size_t len, cap;
	bool failed;
};

__attribute__((format(printf, 2, 3))) static void put(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->failed)
		return;
	if (!t->buf) {
		t->buf = malloc(4096);
		if (!t->buf) {
			t->failed = true;
			return;
		}
		t->cap = 4096;
	}
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			t->failed = true;
			return;
		}
		if ((size_t)n < t->cap - t->len)
			break;
		{
			size_t cap = (t->cap + (size_t)n + 1) * 2;
			char *p = realloc(t->buf, cap);

			if (!p) {
				t->failed = true;
				return;
			}
			t->buf = p;
			t->cap = cap;
		}
	}
	t->len += (size_t)n;
}

static void scrape_one(const struct celld_entry *e, void *ctx)
{
	struct scrape *s = ctx;
	struct scraped *c;
	struct stat st;

	/* Remote cells are their own node's to expose; no socket, nobody to ask. */
	if (e->node[0] || s->n == s->cap || !e->path || stat(e->path, &st) || !S_ISSOCK(st.st_mode))
		return;
	c = &s->cells[s->n++];
	snprintf(c->name, sizeof(c->name), "%s", e->name);
	collect_metrics(s->h->d->cfg.runtime_dir, e->name, e->fingerprint, s->h->timeout_ms, &c->r);
}

static int scrape_all(struct celld_http *h, struct scrape *s)
{
	s->h = h;
	s->n = 0;
	s->cap = celld_registry_count(h->d->registry);
	s->cells = calloc(s->cap ? s->cap : 1, sizeof(*s->cells));
	if (!s->cells)
		return -ENOMEM;
	celld_registry_foreach(h->d->registry, scrape_one, s);
	return 0;
}

static void scrape_free(struct scrape *s)
{
	for (size_t i = 0; i < s->n; i++)
		cell_metrics_snapshot_free(s->cells[i].r.snap);
	free(s->cells);
}

/* Label value: cell names are [a-z0-9_.@-], method names [A-Z0-9]: no escaping needed. */
static void labels(struct text *t, const char *cell, uint16_t method)
{
	char mbuf[8];

	put(t, "{cell=\"%s\",method=\"%s\"", cell, collect_method_name(method, mbuf));
}

/* Values <= 2^k ns: native buckets whose upper bound is below 2^k (they align). */
static void put_histogram(struct text *t, const char *cell, const struct cell_method_stats *st)
{
	const struct cell_hist *hist = cell_method_stats_latency(st);
	unsigned int nb = cell_hist_bucket_count(), i = 0;
	uint64_t cum = 0, lo, hi, count;

	for (unsigned int k = LE_MIN_EXP; k <= LE_MAX_EXP; k++) {
		uint64_t le = UINT64_C(1) << k;

		for (; i < nb; i++) {
			count = cell_hist_bucket(hist, i, &lo, &hi);
			if (hi >= le)
				break;
			cum += count;
		}
		put(t, "cell_call_duration_seconds_bucket");
		labels(t, cell, cell_method_stats_method(st));
		put(t, ",le=\"%.9g\"} %" PRIu64 "\n", (double)le / 1e9, cum);
	}
	count = cell_hist_count(hist);
	put(t, "cell_call_duration_seconds_bucket");
	labels(t, cell, cell_method_stats_method(st));
	put(t, ",le=\"+Inf\"} %" PRIu64 "\n", count);
	put(t, "cell_call_duration_seconds_sum");
	labels(t, cell, cell_method_stats_method(st));
	put(t, "} %.9f\n", (double)cell_hist_sum(hist) / 1e9);
	put(t, "cell_call_duration_seconds_count");
	labels(t, cell, cell_method_stats_method(st));
	put(t, "} %" PRIu64 "\n", count);
}

/* One counter family over every cell's methods. */
static void put_counter(struct text *t, const struct scrape *s, const char *name, const char *help,
			bool errors)
{
	put(t, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
	for (size_t i = 0; i < s->n; i++) {
		const struct cell_metrics_snapshot *snap = s->cells[i].r.snap;

		for (size_t m = 0; snap && m < cell_metrics_snapshot_count(snap); m++) {
			const struct cell_method_stats *st = cell_metrics_snapshot_method(snap, m);

			put(t, "%s", name);
			labels(t, s->cells[i].name, cell_method_stats_method(st));
			put(t, "} %" PRIu64 "\n",
			    errors ? cell_method_stats_errors(st) : cell_method_stats_calls(st));
		}
	}
}

/* One gauge family: the cells whose METRICS answer had gauges (version 2). */
static void put_gauge(struct text *t, const struct scrape *s, const char *name, const char *help,
		      enum cell_metrics_gauge gauge)
{
	uint64_t v;

	put(t, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
	for (size_t i = 0; i < s->n; i++)
		if (s->cells[i].r.snap &&
		    !cell_metrics_snapshot_gauge(s->cells[i].r.snap, gauge, &v))
			put(t, "%s{cell=\"%s\"} %" PRIu64 "\n", name, s->cells[i].name, v);
}

/* The celld_discovery_* families (discovery.c), when discovery runs. */
static void put_discovery(struct text *t, struct celld_discovery *disc)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	if (!disc)
		return;
	f = open_memstream(&buf, &len);
	if (!f) {
		t->failed = true;
		return;
	}
	celld_discovery_prometheus(disc, f);
	if (fclose(f))
		t->failed = true;
	else
		put(t, "%.*s", (int)len, buf);
	free(buf);
}

static void render_metrics(struct text *t, const struct scrape *s)
{
	put(t, "# HELP cell_up Whether the cell answered a PING (1) or not (0).\n"
	       "# TYPE cell_up gauge\n");
	for (size_t i = 0; i < s->n; i++)
		put(t, "cell_up{cell=\"%s\"} %d\n", s->cells[i].name, s->cells[i].r.up);
	put(t, "# HELP cell_ping_seconds Round trip of the PING celld sent the cell.\n"
	       "# TYPE cell_ping_seconds gauge\n");
	for (size_t i = 0; i < s->n; i++)
		if (s->cells[i].r.up)
			put(t, "cell_ping_seconds{cell=\"%s\"} %.6f\n", s->cells[i].name,
			    s->cells[i].r.ping_us / 1e6);
	put_counter(t, s, "cell_calls_total", "Calls a cell handled, by method (every status).",
		    false);
	put_counter(t, s, "cell_errors_total",
		    "Calls a cell handled that ended with a status other than OK.", true);
	put_gauge(t, s, "cell_calls_in_flight", "Calls a cell has taken in and not finished.",
		  CELL_METRICS_INFLIGHT);
	put_gauge(t, s, "cell_clients_connected", "Local clients connected to a cell.",
		  CELL_METRICS_CLIENTS);
	put(t, "# HELP cell_call_duration_seconds Server-side time of a call, by method.\n"
	       "# TYPE cell_call_duration_seconds histogram\n");
	for (size_t i = 0; i < s->n; i++) {
		const struct cell_metrics_snapshot *snap = s->cells[i].r.snap;

		for (size_t m = 0; snap && m < cell_metrics_snapshot_count(snap); m++)
			put_histogram(t, s->cells[i].name, cell_metrics_snapshot_method(snap, m));
	}
	put_discovery(t, s->h->d->discovery);
}

/* /healthz: 200 when every local cell answers its PING, else 503; one line per cell. */
static unsigned int render_health(struct text *t, const struct scrape *s)
{
	unsigned int code = MHD_HTTP_OK;

	for (size_t i = 0; i < s->n; i++) {
		const struct collect_result *r = &s->cells[i].r;

		if (r->up) {
			put(t, "%s ok %uus\n", s->cells[i].name, r->ping_us);
		} else {
			put(t, "%s down %s\n", s->cells[i].name, r->error);
			code = MHD_HTTP_SERVICE_UNAVAILABLE;
		}
	}
	if (!s->n)
		put(t, "no local cells\n");
	return code;
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned int code, const char *type,
			     struct text *t)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(t->len, t->buf, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(t->buf);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	ret = MHD_queue_response(conn, code, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **req_cls)
{
	struct celld_http *h = cls;
	struct text t = { 0 };
	struct scrape s;
	unsigned int code = MHD_HTTP_OK;
	const char *type = "text/plain; version=0.0.4; charset=utf-8";

	(void)version;
	(void)upload;
	(void)upload_size;
	(void)req_cls;
	if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
		put(&t, "only GET\n");
		return t.failed ? MHD_NO : reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, type, &t);
	}
	if (strcmp(url, "/metrics") && strcmp(url, "/healthz")) {
		put(&t, "not found: /metrics and /healthz are served\n");
		return t.failed ? MHD_NO : reply(conn, MHD_HTTP_NOT_FOUND, type, &t);
	}
	if (scrape_all(h, &s))
		return MHD_NO;
	if (!strcmp(url, "/metrics"))
		render_metrics(&t, &s);
	else
		code = render_health(&t, &s);
	scrape_free(&s);
	if (t.failed) {
		free(t.buf);
		return MHD_NO;
	}
	put(&t, "%s", ""); /* an empty answer still has a buffer */
	if (t.failed) {
		free(t.buf);
		return MHD_NO;
	}
	return reply(conn, code, type, &t);
}

/* ---- libuv glue ------------------------------------------------------- */

static void arm_timer(struct celld_http *h);

static void drive(struct celld_http *h)
{
	MHD_run(h->mhd);
	arm_timer(h);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
	(void)status;
	(void)events;
	drive(p->data);
}

static void on_timer(uv_timer_t *t)
{
	drive(t->data);
}

static void arm_timer(struct celld_http *h)
{
	MHD_UNSIGNED_LONG_LONG ms;

	if (MHD_get_timeout(h->mhd, &ms) == MHD_YES)
		uv_timer_start(&h->timer, on_timer, ms, 0);
	else
		uv_timer_stop(&h->timer);
}

/* "ADDR:PORT" or "[ADDR6]:PORT" into @ss. */
static int parse_addr(const char *spec, struct sockaddr_storage *ss)
{
	char host[64];
	const char *colon = strrchr(spec, ':');
	unsigned long port;
	char *end;
	size_t hl;

	if (!colon || colon == spec)
		return -EINVAL;
	port = strtoul(colon + 1, &end, 10);
	if (*end || colon[1] == '\0' || port > 65535)
		return -EINVAL;
	hl = (size_t)(colon - spec);
	if (spec[0] == '[') {
		if (hl < 3 || spec[hl - 1] != ']' || hl - 2 >= sizeof(host))
			return -EINVAL;
		memcpy(host, spec + 1, hl - 2);
		host[hl - 2] = '\0';
	} else {
		if (hl >= sizeof(host))
			return -EINVAL;
		memcpy(host, spec, hl);
		host[hl] = '\0';
	}
	memset(ss, 0, sizeof(*ss));
	if (spec[0] == '[') {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		return inet_pton(AF_INET6, host, &a6->sin6_addr) == 1 ? 0 : -EINVAL;
	} else {
		struct sockaddr_in *a4 = (struct sockaddr_in *)ss;

		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		return inet_pton(AF_INET, host, &a4->sin_addr) == 1 ? 0 : -EINVAL;
	}
}

static void log_bound(struct celld_http *h, const char *spec)
{
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_BIND_PORT);

	celld_log("http: listening on %.*s:%u (/metrics, /healthz)",
		  (int)(strrchr(spec, ':') - spec), spec, info ? info->port : 0);
}

int celld_http_start(struct celld *d)
{
	const char *spec = celld_option(d, "http", NULL);
	const union MHD_DaemonInfo *info;
	struct sockaddr_storage ss;
	struct celld_http *h;
	unsigned int flags = MHD_USE_EPOLL;

	if (!spec || !*spec || !strcmp(spec, "off"))
		return 0;
	if (parse_addr(spec, &ss)) {
		celld_log("http: bad address \"%s\" (want ADDR:PORT or [ADDR6]:PORT)", spec);
		return -EINVAL;
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->d = d;
	h->timeout_ms = (unsigned int)strtoul(celld_option(d, "http.timeout_ms", "500"), NULL, 10);
	if (!h->timeout_ms)
		h->timeout_ms = 500;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	h->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR,
				  (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_TIMEOUT,
				  (unsigned int)10, MHD_OPTION_END);
	if (!h->mhd) {
		celld_log("http: cannot listen on %s: %s", spec, strerror(errno));
		free(h);
		return -EADDRNOTAVAIL;
	}
	info = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info || uv_poll_init(d->loop, &h->poll, info->epoll_fd)) {
		celld_log("http: no epoll fd from libmicrohttpd");
		MHD_stop_daemon(h->mhd);
		free(h);
		return -EIO;
	}
	uv_timer_init(d->loop, &h->timer);
	h->timer.data = h;
	h->timing = true;
	h->poll.data = h;
	h->polling = true;
	uv_poll_start(&h->poll, UV_READABLE, on_poll);
	arm_timer(h);
	d->http = h;
	log_bound(h, spec);
	return 0;
}

static void free_on_close(uv_handle_t *handle)
{
	struct celld_http *h = handle->data;

	if (handle == (uv_handle_t *)&h->poll)
		h->polling = false;
	else
		h->timing = false;
	if (!h->polling && !h->timing)
		free(h);
}

void celld_http_stop(struct celld *d)
{
	struct celld_http *h = d->http;

	if (!h)
		return;
	d->http = NULL;
	uv_poll_stop(&h->poll);
	uv_timer_stop(&h->timer);
	MHD_stop_daemon(h->mhd);
	uv_close((uv_handle_t *)&h->poll, free_on_close);
	uv_close((uv_handle_t *)&h->timer, free_on_close);
}
