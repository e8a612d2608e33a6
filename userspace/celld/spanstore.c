// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * celld's span collector: every -o collect.spans_ms (default 1000; 0:
 * only when asked) it asks the next -o collect.batch (64) local cells of
 * its registry, round robin, for their spans
 * (CELL_METHOD_SPANS, collect.c) and keeps the new ones in a bounded store
 * of its own (-o collect.store=N spans, default 16384; the oldest go
 * first, counted as dropped), so a trace outlives the cells that made it
 * and their rings wrapping.  The nucleus method "spans" (nucleus.cell)
 * collects once more, then answers the store's spans of one trace;
 * `cell trace` asks it.
 *
 * New spans: a cell answers its ring oldest first; celld remembers per
 * cell (name and pid) the id of the newest span it took and takes what
 * follows it (everything, when that span has left the ring since).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "celld.h"
#include "collect.h"
#include "nucleus.cell.h"
#include "spanstore.h"

struct cursor {
	char name[CELL_NAME_MAX];
	pid_t pid;
	uint8_t last[8]; /* newest span id taken */
	bool have;
	bool seen; /* in this round's registry walk */
	/* Health: PINGs missed in a row (at most 3); ticks to skip before the next. */
	uint8_t misses, wait;
};

struct celld_collect {
	struct celld *d;
	size_t batch;  /* cells asked per tick at most (round robin) */
	size_t next;   /* where the next tick starts in the registry walk */
	size_t walked; /* entries passed in the current walk */
	size_t limit;  /* SIZE_MAX: every cell (a nucleus call) */
	uv_timer_t timer;
	bool timer_on;
	unsigned int timeout_ms;
	struct cell_span *store;
	size_t cap;
	uint64_t written; /* spans ever stored */
	struct cursor *cursors;
	size_t ncursors, capcursors;
	uint32_t asked, failed; /* of the last round */
};

static struct cursor *cursor_of(struct celld_collect *c, const struct celld_entry *e)
{
	for (size_t i = 0; i < c->ncursors; i++)
		if (c->cursors[i].pid == e->pid && !strcmp(c->cursors[i].name, e->name))
			return &c->cursors[i];
	if (c->ncursors == c->capcursors) {
		size_t cap = c->capcursors ? c->capcursors * 2 : 16;
		struct cursor *p = realloc(c->cursors, cap * sizeof(*p));

		if (!p)
			return NULL;
		c->cursors = p;
		c->capcursors = cap;
	}
	c->cursors[c->ncursors] = (struct cursor){ .pid = e->pid };
	memcpy(c->cursors[c->ncursors].name, e->name, CELL_NAME_MAX);
	return &c->cursors[c->ncursors++];
}

static void store(struct celld_collect *c, const struct cell_span *s)
{
	c->store[c->written % c->cap] = *s;
	c->written++;
}

static void take(struct celld_collect *c, struct cursor *cur, const struct cell_span *spans,
		 size_t n)
{
	size_t from = 0;

	if (cur->have)
		for (size_t i = n; i > 0; i--)
			if (!memcmp(spans[i - 1].span_id, cur->last, 8)) {
				from = i;
				break;
			}
	for (size_t i = from; i < n; i++)
		store(c, &spans[i]);
	if (n) {
		memcpy(cur->last, spans[n - 1].span_id, 8);
		cur->have = true;
	}
}

/* A cell worth asking: local, not celld itself, its socket there. */
static bool askable(const struct celld_entry *e)
{
	struct stat st;

	return !e->node[0] && strcmp(e->name, "nucleus") && e->path && !stat(e->path, &st) &&
	       S_ISSOCK(st.st_mode);
}

static void collect_one(const struct celld_entry *e, void *ctx)
{
	struct celld_collect *c = ctx;
	struct cell_span *spans;
	struct cursor *cur;
	char err[256];
	size_t n, at = c->walked++;

	/* A tick takes the next @batch entries of the walk (all of them when limit says so). */
	if (c->limit != SIZE_MAX && (at < c->next || at >= c->next + c->limit))
		return;
	if (!askable(e))
		return;
	cur = cursor_of(c, e);
	if (!cur)
		return;
	cur->seen = true;
	c->asked++;
	/*
	 * Health of the cell in the registry (`cell ps`): a PING in every
	 * tick's batch (not in the nucleus call's round, to keep `cell trace`
	 * quick), unreachable when it does not answer within
	 * collect.timeout_ms (then no SPANS either), ok again when it does.
	 * A cell that does not answer costs the loop up to that timeout, so
	 * after 1, 2, 3+ misses in a row it is skipped for 1, 3, 7 ticks, and
	 * the nucleus call's round skips it.
	 */
	if (cur->misses && (c->limit == SIZE_MAX || cur->wait)) {
		if (c->limit != SIZE_MAX)
			cur->wait--;
		c->failed++;
		return;
	}
	if (c->limit != SIZE_MAX) {
		uint32_t rtt_us;
		int up = collect_ping(c->d->cfg.runtime_dir, e->name, e->fingerprint, c->timeout_ms,
				      &rtt_us, err, sizeof(err));
		uint8_t health = up ? CELLD_HEALTH_OK : CELLD_HEALTH_UNREACHABLE;

		if (health != e->health && c->d->cfg.verbose)
			celld_log("collect: %s is %s%s%s", e->name, up ? "healthy" : "unreachable",
				  up ? "" : ": ", up ? "" : err);
		/* The entry stays valid: set_health changes fields, not the table. */
		celld_registry_set_health(c->d->registry, "", e->name, health,
					  up ? rtt_us : e->rtt_us);
		if (!up) {
			if (cur->misses < 3)
				cur->misses++;
			cur->wait = (uint8_t)((1u << cur->misses) - 1);
			c->failed++;
			return;
		}
		cur->misses = 0;
	}
	if (collect_spans(c->d->cfg.runtime_dir, e->name, e->fingerprint, NULL, c->timeout_ms,
			  &spans, &n, err, sizeof(err)) != CELL_STATUS_OK) {
		c->failed++; /* counted (cells_failed), not logged: it may be every tick */
		return;
	}
	take(c, cur, spans, n);
	free(spans);
}

/*
 * A round: every cell (@all, for a nucleus call) or the next batch of the
 * registry walk (a tick).  Cursors of cells that left the registry are
 * dropped after a full walk.
 */
static void collect_round(struct celld_collect *c, bool all)
{
	size_t kept = 0, total = celld_registry_count(c->d->registry);
	bool full;

	c->asked = c->failed = 0;
	c->walked = 0;
	c->limit = all ? SIZE_MAX : c->batch;
	if (c->next >= total)
		c->next = 0;
	full = all || c->next == 0;
	if (full)
		for (size_t i = 0; i < c->ncursors; i++)
			c->cursors[i].seen = false;
	celld_registry_foreach(c->d->registry, collect_one, c);
	if (!all)
		c->next += c->batch;
	if (!full)
		return;
	for (size_t i = 0; i < c->ncursors; i++)
		if (c->cursors[i].seen)
			c->cursors[kept++] = c->cursors[i];
	c->ncursors = kept;
}

static void on_timer(uv_timer_t *t)
{
	collect_round(t->data, false);
}

/* ---- nucleus "spans" -------------------------------------------------- */

static bool wanted(const struct cell_span *s, const uint8_t *id)
{
	return !id || !memcmp(s->trace_id, id, 16);
}

static void put_span(struct cellc_builder *b, struct nucleus_span_info *info,
		     const struct cell_span *s)
{
	char hex[CELL_TRACE_ID_HEX + 1];

	info->start_ns = s->start_ns;
	info->duration_ns = s->duration_ns;
	info->method = s->method;
	info->status = s->status;
	cell_trace_id_format(s->trace_id, 16, hex);
	(void)nucleus_span_info_set_trace_id_str(b, info, hex);
	cell_trace_id_format(s->span_id, 8, hex);
	(void)nucleus_span_info_set_span_id_str(b, info, hex);
	cell_trace_id_format(s->parent_id, 8, hex);
	(void)nucleus_span_info_set_parent_id_str(b, info, hex);
	(void)nucleus_span_info_set_cell_str(b, info, s->cell);
	(void)nucleus_span_info_set_node_str(b, info, "");
}

static enum cell_status refuse(struct cell_reply *reply, enum cell_status st, const char *why)
{
	return cell_reply_error(reply, st, why) ? CELL_STATUS_INTERNAL : st;
}

/* Bytes of one span_info with its strings (each string rounded up generously). */
#define SPAN_INFO_BYTES (NUCLEUS_SPAN_INFO_SIZE + 32 + 16 + 16 + CELL_NAME_MAX + 5 * 8)

static enum cell_status on_spans(const struct cell_vesicle *v, struct cell_reply *reply, void *ctx)
{
	struct celld *d = ctx;
	struct celld_collect *c = d->collect;
	struct nucleus_span_info *infos;
	struct nucleus_span_list *list;
	struct cellc_builder b;
	const char *why = "invalid request", *hex;
	char idbuf[CELL_TRACE_ID_HEX + 1];
	uint8_t id[16];
	uint64_t first;
	uint32_t len, n = 0, k = 0;

	if (nucleus_trace_query_validate(v->data, v->len, &why))
		return refuse(reply, CELL_STATUS_BAD_MESSAGE, why);
	if (!reply)
		return CELL_STATUS_INVALID_ARGUMENT;
	if (!c)
		return refuse(reply, CELL_STATUS_UNAVAILABLE, "celld is stopping");
	hex = nucleus_trace_query_trace_id(v->data, &len);
	if (len && len != CELL_TRACE_ID_HEX)
		return refuse(reply, CELL_STATUS_INVALID_ARGUMENT,
			      "trace_id: 32 hex digits or \"\"");
	memcpy(idbuf, hex, len);
	idbuf[len] = '\0';
	if (len && cell_trace_id_parse(idbuf, id, sizeof(id)))
		return refuse(reply, CELL_STATUS_INVALID_ARGUMENT, "trace_id is not hex");
	collect_round(c, true);
	first = c->written > c->cap ? c->written - c->cap : 0;
	for (uint64_t i = first; i < c->written; i++)
		n += wanted(&c->store[i % c->cap], len ? id : NULL);
	list = nucleus_span_list_reply_begin(
		reply, NUCLEUS_SPAN_LIST_SIZE + 8 + (uint64_t)n * SPAN_INFO_BYTES, &b);
	if (!list)
		return CELL_STATUS_RESOURCE_EXHAUSTED;
	list->cells_asked = c->asked;
	list->cells_failed = c->failed;
	list->dropped = first;
	infos = nucleus_span_list_alloc_spans(&b, list, n);
	for (uint64_t i = first; infos && i < c->written; i++)
		if (wanted(&c->store[i % c->cap], len ? id : NULL))
			put_span(&b, &infos[k++], &c->store[i % c->cap]);
	return cellc_reply_finish(reply, &b) ? CELL_STATUS_INTERNAL : CELL_STATUS_OK;
}

/* ---- module ----------------------------------------------------------- */

int celld_collect_start(struct celld *d)
{
	struct celld_collect *c = calloc(1, sizeof(*c));
	unsigned long every = strtoul(celld_option(d, "collect.spans_ms", "1000"), NULL, 10);
	int err;

	if (!c)
		return -ENOMEM;
	c->d = d;
	c->cap = strtoul(celld_option(d, "collect.store", "16384"), NULL, 10);
	if (c->cap < 16 || c->cap > (1u << 22))
		c->cap = 16384;
	c->timeout_ms =
		(unsigned int)strtoul(celld_option(d, "collect.timeout_ms", "500"), NULL, 10);
	c->batch = strtoul(celld_option(d, "collect.batch", "64"), NULL, 10);
	if (!c->batch)
		c->batch = 64;
	if (!c->timeout_ms)
		c->timeout_ms = 500;
	c->store = calloc(c->cap, sizeof(*c->store));
	if (!c->store) {
		free(c);
		return -ENOMEM;
	}
	err = cell_server_handle(d->nucleus, NUCLEUS_METHOD_SPANS, on_spans, d);
	if (err) {
		free(c->store);
		free(c);
		return err;
	}
	d->collect = c;
	if (every) {
		uv_timer_init(d->loop, &c->timer);
		c->timer.data = c;
		c->timer_on = true;
		uv_timer_start(&c->timer, on_timer, every, every);
	}
	return 0;
}

static void free_collect(uv_handle_t *h)
{
	struct celld_collect *c = h->data;

	free(c->store);
	free(c->cursors);
	free(c);
}

void celld_collect_stop(struct celld *d)
{
	struct celld_collect *c = d->collect;

	if (!c)
		return;
	d->collect = NULL; /* a last nucleus call finds no store, not a freed one */
	if (c->timer_on) {
		uv_timer_stop(&c->timer);
		uv_close((uv_handle_t *)&c->timer, free_collect);
		return;
	}
	free(c->store);
	free(c->cursors);
	free(c);
}
