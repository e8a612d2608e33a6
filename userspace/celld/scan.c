// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * The runtime directory scan: at startup every <name>.sock there is probed
 * (probe.h) and entered with origin SCAN, so cells that started before
 * celld (or while it was restarting) are listed without registering
 * again.  A uv_fs_event watch then sees sockets appear (probed after a
 * grace period, unless the cell registered itself meanwhile) and vanish
 * (their entry goes: a server that cell_server_free()d in a live process).
 *
 * Probes block for at most PROBE_TIMEOUT_MS each; a few run per timer tick
 * so the nucleus keeps answering while a large directory is scanned.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "celld.h"
#include "probe.h"

#define PROBE_TIMEOUT_MS 200
#define PROBES_PER_TICK	 32
#define GRACE_MS	 300 /* a new socket's cell usually registers within this */

struct pending {
	char name[CELL_NAME_MAX];
	uint64_t due_ms; /* uv_now() from which it may be probed */
	struct pending *next;
};

struct celld_scan {
	struct celld *d;
	uv_fs_event_t watch;
	uv_timer_t timer;
	struct pending *head, *tail;
	unsigned long probed, failed;
};

/* "<name>.sock" -> name; false for other files and nucleus.sock. */
static bool socket_name(const char *file, char name[CELL_NAME_MAX])
{
	size_t n = strlen(file);

	if (n <= 5 || strcmp(file + n - 5, ".sock") || n - 5 >= CELL_NAME_MAX)
		return false;
	memcpy(name, file, n - 5);
	name[n - 5] = '\0';
	return celld_name_valid(name) && strcmp(name, "nucleus");
}

static void on_tick(uv_timer_t *t);

static void enqueue(struct celld_scan *s, const char *name, uint64_t delay_ms)
{
	struct pending *p = calloc(1, sizeof(*p));

	if (!p)
		return;
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->due_ms = uv_now(s->d->loop) + delay_ms;
	if (s->tail)
		s->tail->next = p;
	else
		s->head = p;
	s->tail = p;
	if (!uv_is_active((uv_handle_t *)&s->timer))
		uv_timer_start(&s->timer, on_tick, delay_ms, 0);
}

static void add_probed(struct celld_scan *s, const char *name, struct cell_probe *p)
{
	struct celld_entry e = { .origin = CELLD_ORIGIN_SCAN, .health = CELLD_HEALTH_OK };
	char path[sizeof(s->d->cfg.runtime_dir) + CELL_NAME_MAX + 8], uri[sizeof(path) + 8];
	char err[256];

	snprintf(e.name, sizeof(e.name), "%s", name);
	snprintf(path, sizeof(path), "%s/%s.sock", s->d->cfg.runtime_dir, name);
	snprintf(uri, sizeof(uri), "unix:%s", path);
	e.fingerprint = p->fingerprint;
	e.pid = p->pid;
	e.uid = p->uid;
	e.path = path;
	e.schema = p->schema;
	e.endpoints[0] = uri;
	e.nendpoints = 1;
	e.rtt_us = p->rtt_us;
	if (celld_registry_add(s->d->registry, &e, err, sizeof(err), NULL))
		celld_log("scan: %s: %s", name, err);
	else if (s->d->cfg.verbose)
		celld_log("scan: found %s (pid %d)", name, (int)p->pid);
}

static void probe_one(struct celld_scan *s, const char *name)
{
	struct cell_probe p;

	if (celld_registry_find(s->d->registry, "", name))
		return; /* registered itself (or already found) */
	s->probed++;
	if (cell_probe_run(s->d->cfg.runtime_dir, name, PROBE_TIMEOUT_MS, &p)) {
		s->failed++;
		if (s->d->cfg.verbose)
			celld_log("scan: %s: %s", name, p.error);
	} else {
		add_probed(s, name, &p);
	}
	cell_probe_release(&p);
}

static void on_tick(uv_timer_t *t)
{
	struct celld_scan *s = t->data;
	uint64_t now = uv_now(s->d->loop);
	int n = 0;

	while (s->head && s->head->due_ms <= now && n++ < PROBES_PER_TICK) {
		struct pending *p = s->head;

		s->head = p->next;
		if (!s->head)
			s->tail = NULL;
		probe_one(s, p->name);
		free(p);
	}
	if (s->head) {
		now = uv_now(s->d->loop);
		uv_timer_start(&s->timer, on_tick,
			       s->head->due_ms > now ? s->head->due_ms - now : 1, 0);
	}
}

static void scan_dir(struct celld_scan *s)
{
	char name[CELL_NAME_MAX];
	struct dirent *de;
	DIR *dir = opendir(s->d->cfg.runtime_dir);

	if (!dir) {
		celld_log("scan: %s: %s", s->d->cfg.runtime_dir, strerror(errno));
		return;
	}
	while ((de = readdir(dir)))
		if ((de->d_type == DT_SOCK || de->d_type == DT_UNKNOWN) &&
		    socket_name(de->d_name, name))
			enqueue(s, name, 0);
	closedir(dir);
}

static void on_dir_event(uv_fs_event_t *h, const char *file, int events, int status)
{
	struct celld_scan *s = h->data;
	char name[CELL_NAME_MAX], path[sizeof(s->d->cfg.runtime_dir) + CELL_NAME_MAX + 8];
	struct stat st;

	if (status || !file || !(events & UV_RENAME) || !socket_name(file, name))
		return;
	snprintf(path, sizeof(path), "%s/%s", s->d->cfg.runtime_dir, file);
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		enqueue(s, name, GRACE_MS);
	else
		(void)celld_registry_remove_path(s->d->registry, path);
}

int celld_scan_start(struct celld *d)
{
	struct celld_scan *s;
	int rc;

	if (!d->cfg.scan)
		return 0;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->d = d;
	d->scan = s;
	uv_timer_init(d->loop, &s->timer);
	s->timer.data = s;
	uv_fs_event_init(d->loop, &s->watch);
	s->watch.data = s;
	rc = uv_fs_event_start(&s->watch, on_dir_event, d->cfg.runtime_dir, 0);
	if (rc)
		celld_log("scan: cannot watch %s: %s (startup scan only)", d->cfg.runtime_dir,
			  uv_strerror(rc));
	scan_dir(s);
	return 0;
}

static void scan_closed(uv_handle_t *h)
{
	/* Closed after the watch: callbacks run in closing order. */
	free(h->data);
}

void celld_scan_stop(struct celld *d)
{
	struct celld_scan *s = d->scan;

	if (!s)
		return;
	while (s->head) {
		struct pending *p = s->head;

		s->head = p->next;
		free(p);
	}
	uv_close((uv_handle_t *)&s->watch, NULL);
	uv_close((uv_handle_t *)&s->timer, scan_closed);
	d->scan = NULL;
}
