// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * The log callback (cell/log.h).  The callback and its context are
 * published together through one atomic pointer to a pair, so a logging
 * thread never sees a new function with an old context.
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>

#include <cell/log.h>
#include "rpc_internal.h"

struct log_sink {
	cell_log_fn fn;
	void *ctx;
};

static struct log_sink sinks[2];
static _Atomic(struct log_sink *) sink;
static atomic_uint flip;

void cell_log_set(cell_log_fn fn, void *ctx)
{
	struct log_sink *s = &sinks[atomic_fetch_add(&flip, 1) & 1];

	s->fn = fn;
	s->ctx = ctx;
	atomic_store_explicit(&sink, fn ? s : NULL, memory_order_release);
}

void cell_log(enum cell_log_level level, const char *fmt, ...)
{
	struct log_sink *s = atomic_load_explicit(&sink, memory_order_acquire);
	char line[512];
	va_list ap;

	if (!s)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	s->fn(level, line, s->ctx);
}
