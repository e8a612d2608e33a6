// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Fuzz target for the spawn request's parsers (capsid_conf.c): the argv and
 * KEY=VALUE options `cell spawn` sends to the nucleus, after the generated
 * validator, and the same bytes as a swap request (capsid_conf_from_swap()).  Besides "no crash, no read outside the input", an accepted
 * request must give what the supervisor relies on (a cell name, an
 * absolute program, NUL-terminated strings inside their buffers, absolute
 * paths), and a refused one must say why; a violated property aborts.
 */
#include <stdlib.h>
#include <string.h>

#include "capsid_conf.h"
#include "nucleus.cell.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* capsid_conf.c logs the reasons of a conf file only: never called here. */
void celld_log(const char *fmt, ...)
{
	(void)fmt;
	abort();
}

static void check_paths(char (*p)[CAPSID_CONF_PATH_BYTES], unsigned int n)
{
	if (n > CAPSID_CONF_MAX_PATHS)
		abort();
	for (unsigned int i = 0; i < n; i++)
		if (p[i][0] != '/' || !memchr(p[i], '\0', CAPSID_CONF_PATH_BYTES))
			abort();
}

static void check_accepted(struct capsid_conf *cf)
{
	size_t len = strnlen(cf->name, sizeof(cf->name));

	if (!len || len >= sizeof(cf->name) || !strcmp(cf->name, "nucleus"))
		abort();
	if (!cf->nargs || cf->nargs > CAPSID_CONF_MAX_ARGS || cf->args[0] != '/' ||
	    cf->args_used > sizeof(cf->args))
		abort();
	for (unsigned int i = 0; i < cf->nargs; i++)
		if (cf->argoff[i] >= cf->args_used ||
		    !memchr(cf->args + cf->argoff[i], '\0', cf->args_used - cf->argoff[i]))
			abort();
	check_paths(cf->ro, cf->nro);
	check_paths(cf->peer, cf->npeer);
	if (cf->restart > CAPSID_RESTART_ALWAYS ||
	    (cf->restart != CAPSID_RESTART_NEVER && !cf->max_restarts))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct capsid_conf cf;
	struct capsid_why w = { .where = NULL };
	const char *why = NULL;
	void *msg;

	if (size > 1u << 20)
		return 0;
	/* The server hands handlers 8-byte aligned payloads. */
	msg = aligned_alloc(8, (size + 7) & ~(size_t)7);
	if (!msg)
		return 0;
	memcpy(msg, data, size);
	if (!nucleus_spawn_request_validate(msg, (uint32_t)size, &why)) {
		bool canary;

		if (capsid_conf_from_spawn(msg, &cf, &w))
			check_accepted(&cf);
		else if (!w.bad || !w.text[0])
			abort();
		/* The same bytes as a swap request (argv, canary=1 and ro= only). */
		memset(&w, 0, sizeof(w));
		if (capsid_conf_from_swap(msg, &cf, &canary, &w)) {
			if (!cf.nargs || cf.nargs > CAPSID_CONF_MAX_ARGS || cf.args[0] != '/' ||
			    cf.args_used > sizeof(cf.args))
				abort();
			check_paths(cf.ro, cf.nro);
		} else if (!w.bad || !w.text[0]) {
			abort();
		}
	}
	free(msg);
	return 0;
}
