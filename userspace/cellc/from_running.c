// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * cellc --from-running NAME[@node] [--pin 0xFP]: the schema of a live cell
 * instead of a file (Documentation/cellc.rst, "Schema from a running cell").
 *
 * The cell's fingerprint comes from its refused HELLO (probe.c), then a
 * second HELLO with that fingerprint must be WELCOMEd with the same one;
 * method 0 (CELL_METHOD_SCHEMA) then gives the canonical text.  The text is
 * another process's bytes: it is bounded, must be UTF-8 without NUL, and
 * the fingerprint cellc recomputes from it must be the one WELCOME claimed
 * (and the pinned one, if any) before anything is generated from it.
 *
 * quic://host:port is a cell on another machine (cell/quic.h): there is no
 * HELLO there, each request carries the fingerprint, so a first method-0
 * call with fingerprint 0 is refused with the server's in its detail, and
 * a second connection with that one asks for the text.  Identity and
 * trust are libcell's defaults (node.key, $CELL_KNOWN_PEERS; without a
 * known-peers file every key is accepted).
 */
#include <errno.h>
#include <stdbool.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cell/rpc.h>
#include <cell/time.h>

#include "cellc.h"
#include "probe.h"

#define STEP_TIMEOUT_MS 2000
#define MAX_PULLED	(1U << 20) /* a canonical schema text is a few KiB */

static char label[256];

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int fail(const char *fmt, ...)
{
	va_list ap;

	fputs("cellc: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -1;
}

/* Where the first byte that is not UTF-8 (or a NUL) is; len if none. */
static size_t bad_utf8_at(const unsigned char *p, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = p[i];
		size_t n = c < 0x80		   ? 0
			   : c >= 0xc2 && c < 0xe0 ? 1
			   : (c & 0xf0) == 0xe0	   ? 2
			   : c >= 0xf0 && c < 0xf5 ? 3
						   : (size_t)-1;
		if (c == 0 || n == (size_t)-1 || n >= len - i)
			return i;
		for (size_t k = 1; k <= n; k++)
			if ((p[i + k] & 0xc0) != 0x80)
				return i;
		if ((c == 0xe0 && p[i + 1] < 0xa0) || (c == 0xed && p[i + 1] >= 0xa0) ||
		    (c == 0xf0 && p[i + 1] < 0x90) || (c == 0xf4 && p[i + 1] >= 0x90))
			return i; /* overlong, surrogate, beyond U+10FFFF */
		i += n + 1;
	}
	return len;
}

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/*
 * NAME@node: only this machine's name is served by name (celld routes no
 * name to another node yet; quic://host:port reaches one).  NAME@N with a
 * number is instance N of NAME (lib/tissue.c), a local cell name.
 */
static int local_name(const char *spec, char *name, size_t cap)
{
	const char *at = strchr(spec, '@');
	char host[256] = "";

	if (!at || all_digits(at + 1)) {
		if (strlen(spec) >= cap)
			return fail("cell name '%s' too long", spec);
		strcpy(name, spec);
		return 0;
	}
	if ((size_t)(at - spec) >= cap || at == spec)
		return fail("bad cell name in '%s'", spec);
	memcpy(name, spec, at - spec);
	name[at - spec] = 0;
	if (gethostname(host, sizeof(host) - 1))
		host[0] = 0;
	if (!strcmp(at + 1, "local") || !strcmp(at + 1, "localhost") ||
	    (host[0] && !strcmp(at + 1, host)))
		return 0;
	return fail("%s: node '%s' is not this machine ('%s'); celld does not route cell "
		    "names to other nodes yet: name the remote cell by its QUIC address, "
		    "--from-running quic://HOST:PORT",
		    spec, at + 1, host);
}

/* The probe (pid, fingerprint of the refused HELLO), with a clear absence. */
static int probe(const char *name, struct cell_probe *p)
{
	char dir[256], path[512];
	struct stat st;
	int rc;

	if (cell_runtime_dir(dir, sizeof(dir)) || cell_socket_path(NULL, name, path, sizeof(path)))
		return fail("bad cell name '%s'", name);
	if (stat(path, &st))
		return fail("no running cell '%s': %s does not exist (runtime dir %s; set "
			    "CELL_RUNTIME_DIR to search another)",
			    name, path, dir);
	rc = cell_probe_run(NULL, name, STEP_TIMEOUT_MS, p);
	if (rc == -ECONNREFUSED)
		return fail("no running cell '%s': nobody serves %s (runtime dir %s)", name, path,
			    dir);
	if (rc && !strncmp(p->error, "schema: ", 8))
		return fail("cell '%s': method 0 (SCHEMA) failed: %s", name, p->error + 8);
	if (rc)
		return fail("cell '%s': %s", name, p->error);
	return 0;
}

static bool is_quic(const char *spec)
{
	return !strncmp(spec, "quic://", 7);
}

/* A client of @name (a local cell, or a quic:// target) sending @fp. */
static struct cell_client *connect_to(const char *name, uint64_t fp)
{
	struct cell_client_opts o = {
		.sz = sizeof(o),
		.fingerprint = fp,
		.connect_deadline = cell_deadline_in_ms(STEP_TIMEOUT_MS),
		.spin_ns = CELL_SPIN_NONE,
	};

	if (!is_quic(name))
		return cell_probe_connect(NULL, name, fp, STEP_TIMEOUT_MS);
	return cell_client_connect(name, &o);
}

/*
 * A remote cell's fingerprint: its refusal of a method-0 call sent with
 * fingerprint 0 names it ("..., server 0x...").  A server whose
 * fingerprint is 0 answers instead; that is its fingerprint too.
 */
static int remote_fingerprint(const char *target, uint64_t *fp)
{
	struct cell_client *c = connect_to(target, 0);
	struct cell_response r = { 0 };
	struct cell_call *call;
	enum cell_status st;
	char detail[256] = "";
	const char *at;
	void *buf;

	if (!c)
		return fail("cannot reach the cell at %s: %s", target, cell_last_error(NULL));
	st = cell_call_begin(c, CELL_METHOD_SCHEMA, 0, 0, cell_deadline_in_ms(STEP_TIMEOUT_MS),
			     &call, &buf);
	if (st == CELL_STATUS_OK) {
		st = cell_call_finish(call, 0, &r);
		if (r.detail && r.detail_len)
			snprintf(detail, sizeof(detail), "%.*s",
				 (int)(r.detail_len < sizeof(detail) ? r.detail_len
								     : sizeof(detail) - 1),
				 r.detail);
		cell_call_end(call);
	}
	cell_client_free(c);
	*fp = 0;
	if (st == CELL_STATUS_OK)
		return 0;
	at = strstr(detail, "server 0x");
	if (st == CELL_STATUS_FINGERPRINT_MISMATCH && at) {
		char *end;

		errno = 0;
		*fp = strtoull(at + 9, &end, 16);
		if (!errno && end != at + 9)
			return 0;
	}
	if (st == CELL_STATUS_FINGERPRINT_MISMATCH)
		return fail("cell at %s refused fingerprint 0 without naming its own ('%s')",
			    target, detail);
	return fail("cell at %s: method 0 (SCHEMA) failed: %s%s%s", target, cell_status_name(st),
		    detail[0] ? ": " : "", detail);
}

/* Method 0 over a connection WELCOMEd with @fp: the text, length kept. */
static int schema_call(const char *name, uint64_t fp, char **text, size_t *len)
{
	struct cell_client *c = connect_to(name, fp);
	enum cell_status st;
	struct cell_response r;
	struct cell_call *call;
	void *buf;
	int rc = -1;

	if (!c)
		return fail("cell '%s': %s", name, cell_last_error(NULL));
	if (cell_client_server_fingerprint(c) != fp) {
		fail("cell '%s': WELCOME claims fingerprint 0x%016" PRIx64 ", its refusal claimed "
		     "0x%016" PRIx64,
		     name, cell_client_server_fingerprint(c), fp);
		goto out_free;
	}
	st = cell_call_begin(c, CELL_METHOD_SCHEMA, 0, 0, cell_deadline_in_ms(STEP_TIMEOUT_MS),
			     &call, &buf);
	if (st == CELL_STATUS_OK) {
		st = cell_call_finish(call, 0, &r);
		if (st == CELL_STATUS_OK && r.len > MAX_PULLED) {
			fail("cell '%s': schema text of %" PRIu32 " bytes, more than %u", name,
			     r.len, MAX_PULLED);
		} else if (st == CELL_STATUS_OK) {
			*text = xalloc((size_t)r.len + 1);
			memcpy(*text, r.data ? r.data : "", r.len);
			*len = r.len;
			rc = 0;
		}
		cell_call_end(call);
	}
	if (st == CELL_STATUS_NOT_FOUND)
		fail("cell '%s' serves no schema text (method 0 answered NOT_FOUND)", name);
	else if (st != CELL_STATUS_OK)
		fail("cell '%s': method 0 (SCHEMA) failed: %s", name, cell_status_name(st));
out_free:
	cell_client_free(c);
	return rc;
}

/* Parse, check, recompute: @text must be a schema whose fingerprint is @fp. */
static int verify(const char *name, const char *text, size_t len, uint64_t fp, struct schema *s)
{
	struct buf canon = { 0 };
	size_t bad = bad_utf8_at((const unsigned char *)text, len);
	uint64_t mine;

	if (bad < len)
		return fail("cell '%s': schema text is not UTF-8 (byte %zu is 0x%02x)", name, bad,
			    (unsigned char)text[bad]);
	snprintf(label, sizeof(label), "schema of running cell %s", name);
	diag.file = label;
	if (parse_schema(text, len, s) || check_schema(s))
		return fail("cell '%s' answered method 0 with text that is not a valid schema",
			    name);
	canonical_text(s, &canon);
	mine = fnv1a64(canon.p, canon.len);
	buf_release(&canon);
	if (mine != fp)
		return fail("cell '%s': its schema text has fingerprint 0x%016" PRIx64
			    ", but it claims 0x%016" PRIx64 " %s: refusing to generate",
			    name, mine, fp,
			    is_quic(name) ? "in its refusal of fingerprint 0" : "in WELCOME");
	return 0;
}

int from_running(const char *spec, const char *pin, struct schema *s, const char **src_name)
{
	struct cell_probe p;
	char name[128], *end, *text = NULL;
	uint64_t pinned = 0;
	size_t len = 0;
	int rc;

	if (pin) {
		errno = 0;
		pinned = strtoull(pin, &end, 16);
		if (errno || end == pin || *end || strncmp(pin, "0x", 2))
			return fail("--pin %s: not a fingerprint (0x followed by hex digits)", pin);
	}
	if (is_quic(spec)) {
		if (strlen(spec) >= sizeof(name))
			return fail("target '%s' too long", spec);
		strcpy(name, spec);
		memset(&p, 0, sizeof(p));
		if (remote_fingerprint(name, &p.fingerprint))
			return -1;
		if (pin && p.fingerprint != pinned)
			return fail("cell at %s has fingerprint 0x%016" PRIx64 ", pinned "
				    "0x%016" PRIx64 ": its schema changed, refusing to generate",
				    name, p.fingerprint, pinned);
	} else {
		if (local_name(spec, name, sizeof(name)) || probe(name, &p))
			return -1;
		cell_probe_release(&p);
		if (pin && p.fingerprint != pinned)
			return fail("cell '%s' (pid %d) has fingerprint 0x%016" PRIx64
				    ", pinned 0x%016" PRIx64 ": its schema changed, refusing to "
				    "generate",
				    name, (int)p.pid, p.fingerprint, pinned);
	}
	rc = schema_call(name, p.fingerprint, &text, &len);
	if (!rc)
		rc = verify(name, text, len, p.fingerprint, s);
	if (rc)
		return -1;
	snprintf(label, sizeof(label), "%s.cell", s->name);
	*src_name = label;
	return 0;
}
