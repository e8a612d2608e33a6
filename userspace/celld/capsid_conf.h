/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/*
 * The configuration of a supervised cell (supervisor.c): the KEY=VALUE
 * lines of a capsid.dir/ *.conf file, or a nucleus spawn request (argv and
 * KEY=VALUE options).  Both are parsed here, apart from the supervisor, so
 * that the spawn request's parser has a fuzz target of its own
 * (tests/fuzz_spawn_conf.c).  The keys: supervisor.c's head comment and
 * Documentation/capsid.rst.
 */
#ifndef CELLD_CAPSID_CONF_H
#define CELLD_CAPSID_CONF_H

#include <stdbool.h>
#include <stdint.h>

#include <linux/cell.h>

#include "access.h"

#define CAPSID_CONF_MAX_ARGS   32
#define CAPSID_CONF_ARGS_BYTES 4096
#define CAPSID_CONF_PATH_BYTES 512
#define CAPSID_CONF_MAX_PATHS  16 /* CAPSID_MAX_PATHS of capsid.h */

enum capsid_restart {
	CAPSID_RESTART_NEVER,
	CAPSID_RESTART_ON_FAILURE,
	CAPSID_RESTART_ALWAYS
};

/* "never", "on-failure", "always". */
extern const char *const capsid_restart_names[3];

/* What a conf file or a spawn request says; no pointers, so it may be copied. */
struct capsid_conf {
	char name[CELL_NAME_MAX];
	char args[CAPSID_CONF_ARGS_BYTES]; /* the argv strings, each NUL-terminated */
	uint16_t argoff[CAPSID_CONF_MAX_ARGS];
	unsigned int nargs, args_used;
	char ro[CAPSID_CONF_MAX_PATHS][CAPSID_CONF_PATH_BYTES];
	char peer[CAPSID_CONF_MAX_PATHS][CAPSID_CONF_PATH_BYTES];
	unsigned int nro, npeer;
	bool share_net, ready_ping;
	uint64_t memory_max, pids_max;
	enum capsid_restart restart;
	unsigned int max_restarts, window_s, backoff_ms, backoff_max_ms;
	unsigned int ready_timeout_ms, stop_timeout_ms;
	uint32_t log_size;		 /* its log ring's bytes (logs.c), 0: the default */
	struct celld_access_conf access; /* its rights on the nucleus (access.c) */
	/* mitosis (mitosis.h): instances=MIN..MAX and its scale_* keys; 1..1: not scaled */
	unsigned int inst_min, inst_max;
	unsigned int scale_target_inflight;	 /* average in-flight calls per instance, 0: none */
	unsigned int scale_target_p99_us;	 /* p99 latency, 0: none */
	unsigned int scale_interval_ms;		 /* how often the metrics are polled */
	unsigned int scale_up_after_ms;		 /* above target this long: one more instance */
	unsigned int scale_down_after_ms;	 /* below target this long: one fewer */
	/* evolution: an older fingerprint of the name, beside this one, is stopped once no
	 * client has been connected to it for this long (0: it is kept) */
	unsigned int retire_idle_s;
};

#define CAPSID_CONF_MAX_INSTANCES 16

/*
 * Keys another module reads (access.c: nucleus=, grant=, nucleus_rate=,
 * nucleus_burst=), set by the supervisor; NULL (the fuzz target): none.
 * Called with @key NULL by capsid_conf_defaults(): set your defaults.
 * Return: 1 taken, 0 not its key, -1 a bad value (it logged why).
 */
extern int (*capsid_conf_extra_key)(struct capsid_conf *cf, const char *where, const char *key,
				    const char *value);

/* Why a configuration was refused. */
struct capsid_why {
	const char *where; /* a conf file's path: each reason is also logged (celld_log) */
	char text[512];	   /* the first reason */
	bool bad;
};

__attribute__((format(printf, 2, 3))) void capsid_complain(struct capsid_why *w, const char *fmt,
							   ...);

/* The defaults (on-failure, 5 restarts in 60 s, 100 ms doubled to 10 s, ready by PING in 10 s, stop 5 s). */
void capsid_conf_defaults(struct capsid_conf *cf);

/* One KEY=VALUE; a bad one is a reason in @w. */
void capsid_conf_set(struct capsid_conf *cf, const char *key, const char *value,
		     struct capsid_why *w);

/* The checks of a whole configuration (a name, an absolute program). */
void capsid_conf_check(struct capsid_conf *cf, struct capsid_why *w);

/* Parse the conf file @path into @cf; false (each reason logged) if it is not a valid cell. */
bool capsid_conf_read(struct capsid_conf *cf, const char *path);

/*
 * capsid_conf_from_spawn() - @msg, a nucleus spawn_request that passed
 * nucleus_spawn_request_validate(), into @cf.  "name" and "exec" are
 * refused as options (the request names them apart).
 * Return: true, or false with @w saying why.
 */
bool capsid_conf_from_spawn(const void *msg, struct capsid_conf *cf, struct capsid_why *w);

/*
 * capsid_conf_from_swap() - @msg, a nucleus spawn_request (validated) of
 * the swap method, into @args: its argv (an absolute program), and of
 * options only "canary=1" (@canary) and "ro=/PATH" (repeatable, into
 * @args's ro= paths); a swap keeps the cell's other options.
 * Return: true, or false with @w saying why.
 */
bool capsid_conf_from_swap(const void *msg, struct capsid_conf *args, bool *canary,
			   struct capsid_why *w);

#endif /* CELLD_CAPSID_CONF_H */
