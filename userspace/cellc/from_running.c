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
 *
 * NAME@NODE with NODE another node's id (or a unique prefix of it, as
 * `cell ps` prints it): the local celld's nucleus is asked (list, REMOTE)
 * which node with such an id announces NAME, with which fingerprint and
 * which quic:// endpoints (its axon proxy); the quic:// steps then run
 * against that endpoint, trusting only that node's key (its id is its
 * Ed25519 key), and the fingerprint must be the announced one too.
 */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cell/quic.h>
#include <cell/rpc.h>
#include <cell/time.h>

#include "cellc.h"
#include "probe.h"
#include "remote_list.h"

#define STEP_TIMEOUT_MS 2000
#define MAX_PULLED	(1U << 20) /* a canonical schema text is a few KiB */

static char label[256];
/* NAME@NODE: the quic:// steps trust only NODE's key (pin_node()). */
static struct cell_quic_opts node_quic;
static bool node_pinned;

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

/*
 * An instance number of lib/tissue.c (1 to 999999, no leading zero).  A
 * node id prefix of 1 to 6 decimal digits therefore reads as one: give 7.
 */
static bool instance_number(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > 6 || *s == '0')
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/*
 * NAME[@node]: the cell's name in @name, and *@node NULL for this machine
 * (no @, "local", "localhost", this host's name) or the other node's name.
 * NAME@N with an instance number is instance N of NAME, a local cell.
 */
static int split_spec(const char *spec, char *name, size_t cap, const char **node)
{
	const char *at = strchr(spec, '@');
	char host[256] = "";

	*node = NULL;
	if (!at || instance_number(at + 1)) {
		if (strlen(spec) >= cap)
			return fail("cell name '%s' too long", spec);
		strcpy(name, spec);
		return 0;
	}
	if ((size_t)(at - spec) >= cap || at == spec || !at[1])
		return fail("bad cell name in '%s'", spec);
	memcpy(name, spec, at - spec);
	name[at - spec] = 0;
	if (gethostname(host, sizeof(host) - 1))
		host[0] = 0;
	if (strcmp(at + 1, "local") && strcmp(at + 1, "localhost") &&
	    (!host[0] || strcmp(at + 1, host)))
		*node = at + 1;
	return 0;
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
	if (node_pinned)
		o.quic = &node_quic;
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

/* ---- NAME@NODE through celld ----------------------------------------- */

/* One answer of celld's list, copied: the rows point into @msg. */
struct listing {
	void *msg;
	struct remote_row *rows;
	uint32_t n;
};

/* What celld says of NAME on the node NODE resolved to. */
struct placement {
	char node[REMOTE_NODE_MAX + 1];
	uint64_t fingerprint;
	unsigned nquic;
	char quic[REMOTE_ENDPOINTS_MAX][REMOTE_URI_MAX + 1];
};

static bool text_is(struct remote_text t, const char *s)
{
	return strlen(s) == t.len && !memcmp(t.p, s, t.len);
}

static bool text_starts(struct remote_text t, const char *prefix)
{
	size_t n = strlen(prefix);

	return n <= t.len && !memcmp(t.p, prefix, n);
}

/* The local celld's nucleus, or NULL after saying why not. */
static struct cell_client *nucleus_connect(void)
{
	struct cell_client_opts o = {
		.sz = sizeof(o),
		.fingerprint = REMOTE_NUCLEUS_FINGERPRINT,
		.connect_deadline = cell_deadline_in_ms(STEP_TIMEOUT_MS),
		.spin_ns = CELL_SPIN_NONE,
	};
	char dir[256], path[512];
	struct cell_client *c;
	struct stat st;

	if (cell_runtime_dir(dir, sizeof(dir)) ||
	    cell_socket_path(NULL, "nucleus", path, sizeof(path))) {
		fail("no runtime directory to find celld in");
		return NULL;
	}
	if (stat(path, &st)) {
		fail("no celld: %s does not exist (runtime dir %s; NAME@NODE asks the local "
		     "celld which node serves NAME; set CELL_RUNTIME_DIR to use another)",
		     path, dir);
		return NULL;
	}
	c = cell_client_connect("nucleus", &o);
	if (!c)
		fail("no celld answers on %s: %s", path, cell_last_error(NULL));
	return c;
}

/* celld's cells of other nodes named @name ("" every one), in @l. */
static int ask_list(struct cell_client *c, const char *name, struct listing *l)
{
	const uint32_t cap = REMOTE_QUERY_SIZE + REMOTE_NAME_MAX;
	struct cell_response r = { 0 };
	struct cell_call *call;
	enum cell_status st;
	const char *why;
	size_t qlen;
	void *buf;
	int rc = -1;

	st = cell_call_begin(c, REMOTE_METHOD_LIST, cap, 0, cell_deadline_in_ms(STEP_TIMEOUT_MS),
			     &call, &buf);
	if (st != CELL_STATUS_OK)
		return fail("celld: list: %s", cell_status_name(st));
	qlen = remote_query_encode(buf, cap, name, REMOTE_QUERY_REMOTE);
	st = qlen ? cell_call_finish(call, (uint32_t)qlen, &r) : CELL_STATUS_INVALID_ARGUMENT;
	if (st == CELL_STATUS_OK) {
		l->msg = xalloc(r.len ? r.len : 1);
		if (r.len)
			memcpy(l->msg, r.data, r.len);
		rc = remote_list_decode(l->msg, r.len, &l->rows, &l->n, &why);
		if (rc == -EBADMSG)
			fail("celld answered list with a malformed cell_list: %s", why);
		else if (rc)
			fail("celld's answer to list: %s", strerror(-rc));
	} else {
		uint32_t dlen = r.detail ? r.detail_len : 0;

		fail("celld: list: %s%s%.*s", cell_status_name(st), dlen ? ": " : "",
		     (int)(dlen < 200 ? dlen : 199), r.detail ? r.detail : "");
	}
	cell_call_end(call);
	return rc;
}

/*
 * The rows (of cell @name; NULL: any) of nodes whose id starts with
 * @prefix: *@first the first, *@other one of another node (or UINT32_MAX).
 * Return: how many match (0, 1 node, 2 for two or more nodes).
 */
static unsigned match_nodes(const struct listing *l, const char *name, const char *prefix,
			    uint32_t *first, uint32_t *other)
{
	*first = *other = UINT32_MAX;
	for (uint32_t i = 0; i < l->n && *other == UINT32_MAX; i++) {
		const struct remote_row *row = &l->rows[i];

		if (!row->node.len || !text_starts(row->node, prefix) ||
		    (name && !text_is(row->name, name)))
			continue;
		if (*first == UINT32_MAX)
			*first = i;
		else if (row->node.len != l->rows[*first].node.len ||
			 memcmp(row->node.p, l->rows[*first].node.p, row->node.len))
			*other = i;
	}
	return *first == UINT32_MAX ? 0 : *other == UINT32_MAX ? 1 : 2;
}

/* Up to @max distinct node ids of @l (@node: only that one's cell names). */
static void describe(const struct listing *l, const struct remote_text *node, unsigned max,
		     struct buf *out)
{
	struct remote_text seen[8];
	unsigned nseen = 0, more = 0;

	for (uint32_t i = 0; i < l->n; i++) {
		struct remote_text t = node ? l->rows[i].name : l->rows[i].node;
		bool dup = false;

		if (node && (l->rows[i].node.len != node->len ||
			     memcmp(l->rows[i].node.p, node->p, node->len)))
			continue;
		for (unsigned k = 0; k < nseen && !dup; k++)
			dup = seen[k].len == t.len && !memcmp(seen[k].p, t.p, t.len);
		if (dup)
			continue;
		if (nseen == max || nseen == 8) {
			more++;
			continue;
		}
		seen[nseen++] = t;
		buf_printf(out, "%s%.*s", nseen > 1 ? ", " : "", (int)t.len, t.p);
	}
	if (more)
		buf_printf(out, " and %u more", more);
	if (!nseen)
		buf_puts(out, "none");
}

/* NAME on no node matching @prefix: why, from every remote cell celld knows. */
static int explain_absence(struct cell_client *c, const char *name, const char *node,
			   const char *prefix)
{
	struct listing all = { 0 };
	struct buf what = { 0 };
	uint32_t first, other;
	unsigned m;

	if (ask_list(c, "", &all))
		return -1;
	m = match_nodes(&all, NULL, prefix, &first, &other);
	if (m) {
		describe(&all, &all.rows[first].node, 8, &what);
		fail("%s@%s: node %.*s%s does not announce a cell '%s' (it announces: %s)", name,
		     node, (int)all.rows[first].node.len, all.rows[first].node.p,
		     m > 1 ? " (and other nodes matching)" : "", name, what.p);
	} else {
		describe(&all, NULL, 4, &what);
		fail("%s@%s: no such node '%s': no node celld knows of has an id starting with it "
		     "(nodes known: %s; a node is named by its id as `cell ps` and `cell peers` "
		     "print it, or any unique prefix of it)",
		     name, node, node, what.p);
	}
	buf_release(&what);
	free(all.rows);
	return -1;
}

/*
 * This node's id as celld's discovery knows it, in @self ("" when discovery
 * is off or celld does not say).  Only a malformed answer is an error.
 */
static int own_node(struct cell_client *c, char *self, size_t cap)
{
	struct cell_response r = { 0 };
	struct remote_text id;
	struct cell_call *call;
	const char *why;
	void *buf;
	int rc = 0;

	self[0] = 0;
	if (cell_call_begin(c, REMOTE_METHOD_DISCOVERY, REMOTE_EMPTY_SIZE, 0,
			    cell_deadline_in_ms(STEP_TIMEOUT_MS), &call, &buf) != CELL_STATUS_OK)
		return 0;
	memset(buf, 0, REMOTE_EMPTY_SIZE);
	if (cell_call_finish(call, REMOTE_EMPTY_SIZE, &r) == CELL_STATUS_OK) {
		rc = remote_stats_node(r.data, r.len, &id, &why);
		if (rc)
			fail("celld answered discovery with a malformed discovery_stats: %s", why);
		else
			snprintf(self, cap, "%.*s", (int)id.len, id.p ? id.p : "");
	}
	cell_call_end(call);
	return rc;
}

/* @row's node, fingerprint and quic:// endpoints, copied into @pl: 0. */
static int place(const struct remote_row *row, struct placement *pl)
{
	snprintf(pl->node, sizeof(pl->node), "%.*s", (int)row->node.len, row->node.p);
	pl->fingerprint = row->fingerprint;
	for (uint32_t k = 0; k < row->nendpoints; k++)
		if (text_starts(row->uri[k], "quic://"))
			snprintf(pl->quic[pl->nquic++], sizeof(pl->quic[0]), "%.*s",
				 (int)row->uri[k].len, row->uri[k].p);
	return 0;
}

/*
 * Which node NODE is, and what it announces of NAME, from the local celld.
 * Return: 0 another node (@pl filled), 1 this node, -1 after saying why.
 */
static int resolve_node(const char *name, const char *node, struct placement *pl)
{
	char prefix[REMOTE_NODE_MAX + 1], self[REMOTE_NODE_MAX + 1];
	struct listing l = { 0 };
	struct cell_client *c;
	uint32_t first, other;
	size_t i, n = strlen(node);
	unsigned m;
	bool me;
	int rc = -1;

	for (i = 0; i < n && i < REMOTE_NODE_MAX && isxdigit((unsigned char)node[i]); i++)
		prefix[i] = (char)tolower((unsigned char)node[i]);
	prefix[i] = 0;
	if (i < n)
		return fail("%s@%s: no such node '%s': not this machine's host name, and not a "
			    "node id (hex digits, as `cell ps` and `cell peers` print it)",
			    name, node, node);
	if (strlen(name) > REMOTE_NAME_MAX)
		return fail("cell name '%s' too long", name);
	c = nucleus_connect();
	if (!c || own_node(c, self, sizeof(self)) || ask_list(c, name, &l))
		goto out_free;
	m = match_nodes(&l, name, prefix, &first, &other);
	me = self[0] && !strncmp(self, prefix, strlen(prefix));
	if (me && m)
		fail("%s@%s: node '%s' is ambiguous: this node (%s) and node %.*s both have ids "
		     "starting with it: give more digits",
		     name, node, node, self, (int)l.rows[first].node.len, l.rows[first].node.p);
	else if (me)
		rc = 1;
	else if (m == 1)
		rc = place(&l.rows[first], pl);
	else if (m)
		fail("%s@%s: node '%s' is ambiguous: nodes %.*s and %.*s both serve '%s': give "
		     "more digits",
		     name, node, node, (int)l.rows[first].node.len, l.rows[first].node.p,
		     (int)l.rows[other].node.len, l.rows[other].node.p, name);
	else
		rc = explain_absence(c, name, node, prefix);
out_free:
	free(l.rows);
	if (c)
		cell_client_free(c);
	return rc;
}

/*
 * The quic:// steps trust only @node's key: a known-peers file holding it
 * alone (a memfd, named by its /proc path; open until cellc exits).
 */
static int pin_node(const char *node)
{
	static char path[64];
	int fd;

	if (strlen(node) != 2 * CELL_QUIC_PUBKEY_BYTES)
		return fail("node %s: its id is not a %d-hex-digit key, cannot trust its QUIC "
			    "endpoint",
			    node, 2 * CELL_QUIC_PUBKEY_BYTES);
	fd = memfd_create("cellc-node-key", MFD_CLOEXEC);
	if (fd < 0 || dprintf(fd, "%s\n", node) < 0)
		return fail("memfd for node %s's key: %s", node, strerror(errno));
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	node_quic = (struct cell_quic_opts){ .sz = sizeof(node_quic), .known_peers = path };
	node_pinned = true;
	return 0;
}

/*
 * NAME@NODE: resolved, pinned, then the quic:// steps on the first endpoint
 * that answers; @target receives it.  The server's fingerprint must be the
 * announced one.  Return: 0, 1 when NODE is this node, -1 after an error.
 */
static int from_node(const char *name, const char *node, const char *pin, uint64_t pinned,
		     char *target, size_t cap, uint64_t *fp)
{
	struct placement pl = { 0 };
	unsigned i;
	int rc = resolve_node(name, node, &pl);

	if (rc)
		return rc; /* -1, or 1: this node */
	if (pin && pl.fingerprint != pinned)
		return fail("cell '%s' on node %s has fingerprint 0x%016" PRIx64 ", pinned "
			    "0x%016" PRIx64 ": its schema changed, refusing to generate",
			    name, pl.node, pl.fingerprint, pinned);
	if (!pl.nquic)
		return fail("cell '%s' on node %s has no quic:// endpoint: that node's celld does "
			    "not export it (celld -o axon=on)",
			    name, pl.node);
	if (pin_node(pl.node))
		return -1;
	for (i = 0; i < pl.nquic; i++) {
		snprintf(target, cap, "%s", pl.quic[i]);
		if (!remote_fingerprint(target, fp))
			break;
	}
	if (i == pl.nquic)
		return fail("cell '%s' on node %s: none of its %u quic:// endpoints answered", name,
			    pl.node, pl.nquic);
	if (*fp != pl.fingerprint)
		return fail("cell '%s' on node %s: %s answers with fingerprint 0x%016" PRIx64
			    ", but the node announces 0x%016" PRIx64 ": refusing to generate "
			    "(ask again once discovery has caught up)",
			    name, pl.node, target, *fp, pl.fingerprint);
	return 0;
}

int from_running(const char *spec, const char *pin, struct schema *s, const char **src_name)
{
	struct cell_probe p = { 0 };
	char name[REMOTE_URI_MAX + 1], target[REMOTE_URI_MAX + 1], *end, *text = NULL;
	const char *node;
	uint64_t pinned = 0;
	size_t len = 0;
	int rc = 0;

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
	} else if (split_spec(spec, name, sizeof(name), &node)) {
		return -1;
	} else if (node && !(rc = from_node(name, node, pin, pinned, target, sizeof(target),
					    &p.fingerprint))) {
		strcpy(name, target); /* the quic:// steps below */
	} else if (rc < 0) {
		return -1;
	} else { /* this machine, also by its node id */
		if (probe(name, &p))
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
