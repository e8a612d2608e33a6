// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Fuzz target for the nucleus's admission check (access.c): the bytes a
 * sandboxed cell can send, seen by celld_access_admit() before any
 * handler.  Input: byte 0 picks the method, byte 1 the grants, the rest is
 * the payload.  The caller is this process, made a supervised cell "self"
 * whose conf gives it the peer "friend" (celld_capsid_access() below).
 * Besides "no crash, no read outside the input": the answer is OK,
 * PERMISSION_DENIED or RESOURCE_EXHAUSTED with a terminated detail, and a
 * call admitted without a grant is one a cell is entitled to; a violated
 * property aborts.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "access.h"
#include "celld.h"
#include "nucleus.cell.h"
#include "registration.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct celld d;
static struct celld_access_conf conf;
static const char *const peers[] = { "/run/cell/friend.sock", NULL };

struct celld_access_conf *celld_capsid_access(pid_t pid, const char **name, const char *const **p)
{
	if (pid != getpid())
		return NULL;
	*name = "self";
	*p = peers;
	return &conf;
}

const char *celld_option(const struct celld *dd, const char *key, const char *def)
{
	(void)dd;
	(void)key;
	return def;
}

void celld_log(const char *fmt, ...)
{
	(void)fmt;
}

static const uint16_t methods[] = {
	NUCLEUS_METHOD_ENROLL,
	NUCLEUS_METHOD_WITHDRAW,
	NUCLEUS_METHOD_LIST,
	NUCLEUS_METHOD_LOOKUP,
	NUCLEUS_METHOD_SPANS,
	NUCLEUS_METHOD_DISCOVERY,
	NUCLEUS_METHOD_KV,
	NUCLEUS_METHOD_CLUSTER,
	NUCLEUS_METHOD_CLUSTER_CHANGE,
	10,
	11,
	12,
	40,
	CELL_METHOD_PING,
	CELL_METHOD_SCHEMA,
	CELL_METHOD_METRICS,
};

/* The name of a valid struct name request, or NULL. */
static const char *name_of(const void *buf, uint32_t len, char *out, size_t cap)
{
	const char *why, *s;
	uint32_t n;

	if (nucleus_name_validate(buf, len, &why))
		return NULL;
	s = nucleus_name_name(buf, &n);
	if (n >= cap || memchr(s, '\0', n))
		return NULL;
	memcpy(out, s, n);
	out[n] = '\0';
	return out;
}

static void check_entitled(uint16_t m, const void *buf, uint32_t len)
{
	struct celld_registration r;
	char err[256], name[CELL_NAME_MAX];

	switch (m) {
	case CELL_METHOD_PING:
	case CELL_METHOD_SCHEMA:
	case NUCLEUS_METHOD_LIST: /* filtered by the handler, checked by name below */
		return;
	case NUCLEUS_METHOD_ENROLL:
		if (!celld_registration_parse(buf, len, &r, err, sizeof(err)) &&
		    strcmp(r.name, "self"))
			abort();
		return;
	case NUCLEUS_METHOD_WITHDRAW:
		if (name_of(buf, len, name, sizeof(name)) && name[0] && strcmp(name, "self"))
			abort();
		return;
	case NUCLEUS_METHOD_LOOKUP:
		if (name_of(buf, len, name, sizeof(name)) && name[0] && strcmp(name, "self") &&
		    strcmp(name, "friend"))
			abort();
		return;
	default:
		abort(); /* not granted: must have been refused */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint64_t payload[8192];
	struct cell_vesicle v = { .peer_conn = 1, .peer_pidfd = -1, .peer_uid = 65534 };
	enum cell_status st;
	char why[256];
	uint16_t m;

	if (size < 2 || size - 2 > sizeof(payload))
		return 0;
	if (!conf.rate) {
		celld_access_conf_init(&conf);
		conf.rate = conf.burst = 1000000; /* the limit is not what is fuzzed */
	}
	m = methods[data[0] % (sizeof(methods) / sizeof(methods[0]))];
	conf.grants = 0;
	if (data[1] & 1)
		conf.grants |= 1ull << NUCLEUS_METHOD_LIST;
	if (data[1] & 2)
		conf.grants |= 1ull << NUCLEUS_METHOD_KV;
	if (data[1] & 4)
		conf.grants |= 1ull << NUCLEUS_METHOD_LOOKUP;
	memcpy(payload, data + 2, size - 2);
	v.method = m;
	v.data = payload;
	v.len = (uint32_t)(size - 2);
	v.peer_pid = getpid();
	memset(why, 0x55, sizeof(why));
	st = celld_access_admit(&v, why, sizeof(why), &d);
	if (st != CELL_STATUS_OK && st != CELL_STATUS_PERMISSION_DENIED &&
	    st != CELL_STATUS_RESOURCE_EXHAUSTED)
		abort();
	if (st != CELL_STATUS_OK && !memchr(why, '\0', sizeof(why)))
		abort();
	if (st == CELL_STATUS_OK && !(m < 64 && (conf.grants & (1ull << m))))
		check_entitled(m, payload, v.len);
	if (!celld_access_sandboxed(&d, &v)) /* this process is the cell "self" */
		abort();
	if (celld_access_may_see(&d, &v, "victim") != !!(data[1] & 1))
		abort();
	return 0;
}
