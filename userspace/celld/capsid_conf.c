// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * A supervised cell's configuration from a conf file or a spawn request
 * (capsid_conf.h).  Every value is checked; a refused one says why.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capsid_conf.h"
#include "celld.h"
#include "logring.h"
#include "nucleus.cell.h"

const char *const capsid_restart_names[3] = { "never", "on-failure", "always" };

int (*capsid_conf_extra_key)(struct capsid_conf *cf, const char *where, const char *key,
			     const char *value);

static bool valid_name(const char *s)
{
	/*
	 * The registry's rules (lowercase, digits, - _ .); "nucleus" is celld's,
	 * and NAME@K is the name of an instance the supervisor numbers itself.
	 */
	return celld_name_valid(s) && strcmp(s, "nucleus") && !strchr(s, '@');
}

void capsid_complain(struct capsid_why *w, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (w->where)
		celld_log("capsid: %s: %s", w->where, msg);
	if (!w->bad)
		snprintf(w->text, sizeof(w->text), "%s", msg);
	w->bad = true;
}

void capsid_conf_defaults(struct capsid_conf *cf)
{
	memset(cf, 0, sizeof(*cf));
	cf->restart = CAPSID_RESTART_ON_FAILURE;
	cf->max_restarts = 5;
	cf->window_s = 60;
	cf->backoff_ms = 100;
	cf->backoff_max_ms = 10000;
	cf->ready_ping = true;
	cf->ready_timeout_ms = 10000;
	cf->stop_timeout_ms = 5000;
	cf->inst_min = cf->inst_max = 1;
	cf->scale_interval_ms = 250;
	cf->scale_up_after_ms = 500;
	cf->scale_down_after_ms = 2000;
	if (capsid_conf_extra_key)
		(void)capsid_conf_extra_key(cf, NULL, NULL, NULL); /* its defaults */
}

/* A decimal number from 0 to @max (digits only: no sign, no space). */
static uint64_t number_max(const char *key, const char *v, uint64_t max, struct capsid_why *w)
{
	unsigned long long n;
	char *end;

	errno = 0;
	n = strtoull(v, &end, 10);
	if (*v < '0' || *v > '9' || *end || errno || n > max) {
		capsid_complain(w, "%s=%s is not a number from 0 to %llu", key, v,
				(unsigned long long)max);
		return 0;
	}
	return n;
}

static unsigned int number(const char *key, const char *v, struct capsid_why *w)
{
	return (unsigned int)number_max(key, v, 1000000000u, w);
}

static void add_arg(struct capsid_conf *cf, const char *s, struct capsid_why *w)
{
	size_t n = strlen(s) + 1;

	if (cf->nargs == CAPSID_CONF_MAX_ARGS || cf->args_used + n > sizeof(cf->args)) {
		capsid_complain(w, "more than %d arguments or %d bytes of them",
				CAPSID_CONF_MAX_ARGS, CAPSID_CONF_ARGS_BYTES);
		return;
	}
	memcpy(cf->args + cf->args_used, s, n);
	cf->argoff[cf->nargs++] = (uint16_t)cf->args_used;
	cf->args_used += (unsigned int)n;
}

static void add_path(char (*list)[CAPSID_CONF_PATH_BYTES], unsigned int *n, const char *key,
		     const char *v, struct capsid_why *w)
{
	if (v[0] != '/' || strlen(v) >= CAPSID_CONF_PATH_BYTES)
		capsid_complain(w, "%s=%s: an absolute path is needed", key, v);
	else if (*n == CAPSID_CONF_MAX_PATHS)
		capsid_complain(w, "more than %d %s= paths", CAPSID_CONF_MAX_PATHS, key);
	else
		snprintf(list[(*n)++], CAPSID_CONF_PATH_BYTES, "%s", v);
}

static void set_restart(struct capsid_conf *cf, const char *v, struct capsid_why *w)
{
	for (int i = 0; i < 3; i++)
		if (!strcmp(v, capsid_restart_names[i])) {
			cf->restart = (enum capsid_restart)i;
			return;
		}
	capsid_complain(w, "restart=%s (never, on-failure, always)", v);
}

/* One KEY=VALUE of a conf file or a spawn request. */
/* instances=N or instances=MIN..MAX, 1 <= MIN <= MAX <= CAPSID_CONF_MAX_INSTANCES. */
static void set_instances(struct capsid_conf *cf, const char *v, struct capsid_why *w)
{
	char lo[16], *dots = strstr(v, "..");
	size_t n = dots ? (size_t)(dots - v) : strlen(v);

	if (n >= sizeof(lo) || !n) {
		capsid_complain(w, "instances=%s: N or MIN..MAX", v);
		return;
	}
	memcpy(lo, v, n);
	lo[n] = '\0';
	cf->inst_min = (unsigned int)number_max("instances", lo, CAPSID_CONF_MAX_INSTANCES, w);
	cf->inst_max = dots ? (unsigned int)number_max("instances", dots + 2,
							CAPSID_CONF_MAX_INSTANCES, w)
			    : cf->inst_min;
	if (!cf->inst_min || cf->inst_min > cf->inst_max)
		capsid_complain(w, "instances=%s: 1 <= MIN <= MAX <= %d", v,
				CAPSID_CONF_MAX_INSTANCES);
}

void capsid_conf_set(struct capsid_conf *cf, const char *key, const char *v, struct capsid_why *w)
{
	int extra;
	static const struct {
		const char *key;
		size_t off;
	} numbers[] = {
		{ "max_restarts", offsetof(struct capsid_conf, max_restarts) },
		{ "window_s", offsetof(struct capsid_conf, window_s) },
		{ "backoff_ms", offsetof(struct capsid_conf, backoff_ms) },
		{ "backoff_max_ms", offsetof(struct capsid_conf, backoff_max_ms) },
		{ "ready_timeout_ms", offsetof(struct capsid_conf, ready_timeout_ms) },
		{ "stop_timeout_ms", offsetof(struct capsid_conf, stop_timeout_ms) },
		{ "scale_target_inflight", offsetof(struct capsid_conf, scale_target_inflight) },
		{ "scale_target_p99_us", offsetof(struct capsid_conf, scale_target_p99_us) },
		{ "scale_interval_ms", offsetof(struct capsid_conf, scale_interval_ms) },
		{ "scale_up_after_ms", offsetof(struct capsid_conf, scale_up_after_ms) },
		{ "scale_down_after_ms", offsetof(struct capsid_conf, scale_down_after_ms) },
		{ "retire_idle_s", offsetof(struct capsid_conf, retire_idle_s) },
	};

	for (size_t i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++)
		if (!strcmp(key, numbers[i].key)) {
			*(unsigned int *)((char *)cf + numbers[i].off) = number(key, v, w);
			return;
		}
	if (!strcmp(key, "name")) {
		snprintf(cf->name, sizeof(cf->name), "%s", v);
	} else if (!strcmp(key, "exec")) {
		char line[1024], *save = NULL;

		snprintf(line, sizeof(line), "%s", v);
		cf->nargs = cf->args_used = 0;
		for (char *tok = strtok_r(line, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
			add_arg(cf, tok, w);
	} else if (!strcmp(key, "instances")) {
		set_instances(cf, v, w);
	} else if (!strcmp(key, "restart")) {
		set_restart(cf, v, w);
	} else if (!strcmp(key, "memory_max")) {
		cf->memory_max = number_max(key, v, 1ull << 48, w); /* bytes */
	} else if (!strcmp(key, "pids_max")) {
		cf->pids_max = number(key, v, w);
	} else if (!strcmp(key, "log_size")) {
		if (logring_parse_size(v, &cf->log_size))
			capsid_complain(w, "log_size=%s: a size from %uk to %uM", v,
					LOGRING_MIN_SIZE >> 10, LOGRING_MAX_SIZE >> 20);
	} else if (!strcmp(key, "net")) {
		cf->share_net = !strcmp(v, "1");
	} else if (!strcmp(key, "ready")) {
		if (strcmp(v, "ping") && strcmp(v, "none"))
			capsid_complain(w, "ready=%s (ping, none)", v);
		cf->ready_ping = !strcmp(v, "ping");
	} else if (!strcmp(key, "ro")) {
		add_path(cf->ro, &cf->nro, key, v, w);
	} else if (!strcmp(key, "peer")) {
		add_path(cf->peer, &cf->npeer, key, v, w);
	} else if (capsid_conf_extra_key &&
		   (extra = capsid_conf_extra_key(cf, w->where, key, v)) != 0) {
		if (extra < 0 && w->where)
			w->bad = true; /* logged by its module */
		else if (extra < 0)
			capsid_complain(w, "%s=%s: a bad value (celld's log says why)", key, v);
	} else {
		capsid_complain(w, "unknown key %s", key);
	}
}

void capsid_conf_check(struct capsid_conf *cf, struct capsid_why *w)
{
	if (!valid_name(cf->name))
		capsid_complain(w, "name= missing or not a cell name");
	if (!cf->nargs || cf->args[0] != '/')
		capsid_complain(w, "exec= needs an absolute program path");
	if (cf->inst_max > cf->inst_min && !cf->scale_target_inflight &&
	    !cf->scale_target_p99_us)
		capsid_complain(w, "instances=%u..%u needs scale_target_inflight= or "
				   "scale_target_p99_us=",
				cf->inst_min, cf->inst_max);
	if (cf->inst_max > cf->inst_min && cf->scale_interval_ms < 10)
		capsid_complain(w, "scale_interval_ms=%u: at least 10", cf->scale_interval_ms);
	if (!cf->max_restarts && cf->restart != CAPSID_RESTART_NEVER)
		cf->max_restarts = 1;
}

/* Parse @path into @cf; false (each reason logged) if it is not a valid cell. */
bool capsid_conf_read(struct capsid_conf *cf, const char *path)
{
	struct capsid_why w = { .where = path };
	FILE *f = fopen(path, "re");
	char buf[1100];

	if (!f) {
		celld_log("capsid: %s: %s", path, strerror(errno));
		return false;
	}
	capsid_conf_defaults(cf);
	while (fgets(buf, sizeof(buf), f)) {
		char *eq;

		buf[strcspn(buf, "\n")] = '\0';
		if (!buf[0] || buf[0] == '#')
			continue;
		eq = strchr(buf, '=');
		if (!eq) {
			capsid_complain(&w, "not KEY=VALUE: %s", buf);
			continue;
		}
		*eq = '\0';
		capsid_conf_set(cf, buf, eq + 1, &w);
	}
	fclose(f);
	capsid_conf_check(cf, &w);
	return !w.bad;
}

/* A span of the request as a NUL-terminated string; false if it holds a NUL. */
static bool span_text(const char *s, uint32_t n, char *buf, size_t cap)
{
	if (n >= cap || (n && memchr(s, '\0', n)))
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return true;
}

/* The request's argv and options into @cf; false with @w saying why. */
bool capsid_conf_from_spawn(const void *msg, struct capsid_conf *cf, struct capsid_why *w)
{
	const struct nucleus_spawn_request *req = msg;
	const struct nucleus_conf_arg *a;
	char text[CAPSID_CONF_PATH_BYTES + 64];
	uint32_t count, n;
	const char *s;

	capsid_conf_defaults(cf);
	s = nucleus_spawn_request_name(req, &n);
	if (!span_text(s, n, cf->name, sizeof(cf->name)))
		capsid_complain(w, "bad cell name");
	a = nucleus_spawn_request_argv(req, &count);
	for (uint32_t i = 0; i < count && !w->bad; i++) {
		s = nucleus_conf_arg_value_at(msg, &a[i], &n);
		if (!span_text(s, n, text, sizeof(text)))
			capsid_complain(w, "argument %u: too long or holds a NUL", i);
		else
			add_arg(cf, text, w);
	}
	a = nucleus_spawn_request_options(req, &count);
	for (uint32_t i = 0; i < count && !w->bad; i++) {
		char *eq;

		s = nucleus_conf_arg_value_at(msg, &a[i], &n);
		if (!span_text(s, n, text, sizeof(text)) || !(eq = strchr(text, '='))) {
			capsid_complain(w, "option %u: not KEY=VALUE", i);
			break;
		}
		*eq = '\0';
		if (!strcmp(text, "name") || !strcmp(text, "exec"))
			capsid_complain(w, "option %s: the name and program are given apart", text);
		else
			capsid_conf_set(cf, text, eq + 1, w);
	}
	if (!w->bad)
		capsid_conf_check(cf, w);
	return !w->bad;
}

/* The request's argv alone into @cf. */
static bool argv_of(const struct nucleus_spawn_request *req, struct capsid_conf *cf,
		    struct capsid_why *w)
{
	const struct nucleus_conf_arg *a = nucleus_spawn_request_argv(req, &(uint32_t){ 0 });
	uint32_t count, n;
	const char *s;

	(void)nucleus_spawn_request_argv(req, &count);
	memset(cf, 0, sizeof(*cf));
	for (uint32_t i = 0; i < count; i++) {
		s = nucleus_conf_arg_value_at(req, &a[i], &n);
		if (i == CAPSID_CONF_MAX_ARGS || cf->args_used + n + 1 > sizeof(cf->args) ||
		    memchr(s, '\0', n)) {
			capsid_complain(w, "argument %u: too long, too many or holds a NUL", i);
			return false;
		}
		memcpy(cf->args + cf->args_used, s, n);
		cf->args[cf->args_used + n] = '\0';
		cf->argoff[cf->nargs++] = (uint16_t)cf->args_used;
		cf->args_used += n + 1;
	}
	if (!cf->nargs || cf->args[0] != '/') {
		capsid_complain(w, "the program must be an absolute path");
		return false;
	}
	return true;
}

/*
 * The swap request's options into @args (after argv_of()): "canary=1",
 * and "ro=PATH" (repeatable: read-only paths added to the cell's, e.g. a
 * new build's DNA directory).  False with @w saying why.
 */
static bool swap_options(const struct nucleus_spawn_request *req, struct capsid_conf *args,
			 bool *canary, struct capsid_why *w)
{
	const struct nucleus_conf_arg *a;
	uint32_t count, n;
	const char *s;

	*canary = false;
	a = nucleus_spawn_request_options(req, &count);
	for (uint32_t i = 0; i < count; i++) {
		s = nucleus_conf_arg_value_at(req, &a[i], &n);
		if (n == 8 && !memcmp(s, "canary=1", 8)) {
			*canary = true;
		} else if (n > 4 && !memcmp(s, "ro=/", 4) && n - 3 < CAPSID_CONF_PATH_BYTES &&
			   !memchr(s, '\0', n) && args->nro < CAPSID_CONF_MAX_PATHS) {
			memcpy(args->ro[args->nro], s + 3, n - 3);
			args->ro[args->nro++][n - 3] = '\0';
		} else {
			capsid_complain(w,
					"option %u: a swap keeps the cell's options; only canary=1 "
					"and ro=/ABSOLUTE/PATH may be given",
					i);
			return false;
		}
	}
	return true;
}

bool capsid_conf_from_swap(const void *msg, struct capsid_conf *args, bool *canary,
			   struct capsid_why *w)
{
	return argv_of(msg, args, w) && swap_options(msg, args, canary, w);
}
