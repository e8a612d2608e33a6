// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * cellc --lang=python: <schema>_cell.py for the Python runtime in
 * bindings/python/cell (Documentation/bindings.rst).  One dataclass per
 * struct with type hints, its layout as cellc computed it (offsets, sizes,
 * alignments: the Python side never lays anything out itself), the
 * canonical text and fingerprint, a client class with a typed stub per
 * method and a handler class for the Python server.
 */
#include <ctype.h>
#include <string.h>

#include "cellc.h"

static FILE *o;

__attribute__((format(printf, 1, 2))) static void out(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(o, fmt, ap);
	va_end(ap);
}

static const char *const py_keywords[] = {
	"False", "None",     "True",   "and",	 "as",	  "assert", "async",  "await",	  "break",
	"class", "continue", "def",    "del",	 "elif",  "else",   "except", "finally",  "for",
	"from",	 "global",   "if",     "import", "in",	  "is",	    "lambda", "nonlocal", "not",
	"or",	 "pass",     "raise",  "return", "try",	  "while",  "with",   "yield",	  "match",
	"case",	 "self",     "encode", "decode", "field",
};

/* A field or method name as a Python identifier: keywords get a trailing "_". */
static const char *py_name(const char *s)
{
	static char bufs[4][CELLC_MAX_IDENT + 2];
	static int next;
	char *b = bufs[next++ % 4];

	for (size_t i = 0; i < sizeof(py_keywords) / sizeof(py_keywords[0]); i++)
		if (!strcmp(s, py_keywords[i])) {
			snprintf(b, CELLC_MAX_IDENT + 2, "%s_", s);
			return b;
		}
	return s;
}

/* A struct or service name in CamelCase: "sensor_reading" -> "SensorReading". */
static const char *camel(const char *s)
{
	static char bufs[4][CELLC_MAX_IDENT + 1];
	static int next;
	char *b = bufs[next++ % 4];
	size_t n = 0;
	int upper = 1;

	for (; *s && n < CELLC_MAX_IDENT; s++) {
		if (*s == '_') {
			upper = 1;
			continue;
		}
		b[n++] = upper ? (char)toupper((unsigned char)*s) : *s;
		upper = 0;
	}
	b[n] = 0;
	return b;
}

static const char *elem_hint(const struct field *f)
{
	switch (f->kind) {
	case TY_BOOL:
		return "bool";
	case TY_STRING:
		return "str";
	case TY_BYTES:
		return "bytes";
	case TY_STRUCT:
		return camel(f->st->name);
	default:
		return "int";
	}
}

static void emit_field(const struct field *f)
{
	const char *hint = elem_hint(f);

	if (f->arr == ARR_VECTOR) {
		out("    %s: List[%s] = field(default_factory=list)\n", py_name(f->name), hint);
	} else if (f->arr == ARR_FIXED) {
		out("    %s: List[%s] = field(default_factory=lambda: ", py_name(f->name), hint);
		if (f->kind == TY_STRUCT)
			out("[%s() for _ in range(%llu)])\n", hint, (unsigned long long)f->count);
		else
			out("[%s] * %llu)\n", f->kind == TY_BOOL ? "False" : "0",
			    (unsigned long long)f->count);
	} else if (f->kind == TY_STRUCT) {
		out("    %s: %s = field(default_factory=%s)\n", py_name(f->name), hint, hint);
	} else {
		out("    %s: %s = %s\n", py_name(f->name), hint,
		    f->kind == TY_BOOL	   ? "False"
		    : f->kind == TY_STRING ? "\"\""
		    : f->kind == TY_BYTES  ? "b\"\""
					   : "0");
	}
}

static void emit_struct(const struct schema *s, const struct cstruct *st)
{
	char cls[CELLC_MAX_IDENT + 1];

	snprintf(cls, sizeof(cls), "%s", camel(st->name));
	out("\n\n@dataclass\nclass %s:\n", cls);
	out("    \"\"\"struct %s: fixed part %u bytes, alignment %u.\"\"\"\n\n", st->name, st->size,
	    st->align);
	for (int i = 0; i < st->nfields; i++)
		emit_field(&st->fields[i]);
	out("\n    def encode(self) -> bytes:\n        return _codec.encode(self)\n\n");
	out("    @classmethod\n    def decode(cls, buf) -> \"%s\":\n", cls);
	out("        \"\"\"Validate and read a message; BadMessage says which field is "
	    "wrong.\"\"\"\n");
	out("        return _codec.decode(cls, buf)\n\n\n");
	out("_codec.layout(%s, \"%s_%s\", %u, %u, [\n", cls, s->name, st->name, st->size,
	    st->align);
	for (int i = 0; i < st->nfields; i++) {
		const struct field *f = &st->fields[i];

		out("    _codec.Field(\"%s\", \"%s\", \"%s\", %u", py_name(f->name), f->name,
		    f->kind == TY_STRUCT ? "struct" : type_name(f->kind), f->offset);
		if (f->arr == ARR_FIXED)
			out(", arr=\"fixed\", count=%llu", (unsigned long long)f->count);
		else if (f->arr == ARR_VECTOR)
			out(", arr=\"vector\"");
		if (f->kind == TY_STRUCT)
			out(", struct=%s", camel(f->st->name));
		out("),\n");
	}
	out("])\n");
}

static void emit_py_string(const char *t)
{
	out("(\n");
	while (*t) {
		const char *nl = strchr(t, '\n');
		size_t n = nl ? (size_t)(nl - t) : strlen(t);

		out("    \"");
		for (size_t i = 0; i < n; i++) {
			if (t[i] == '"' || t[i] == '\\')
				out("\\");
			out("%c", t[i]);
		}
		out("%s\"\n", nl ? "\\n" : "");
		t += n + (nl ? 1 : 0);
	}
	out(")\n");
}

/* A name for a generated class that no struct's class takes. */
static const char *class_name(const struct schema *s, const char *base, const char *suffix)
{
	static char bufs[2][2 * CELLC_MAX_IDENT + 16];
	static int next;
	char *b = bufs[next++ % 2];

	snprintf(b, sizeof(bufs[0]), "%s%s", camel(base), suffix);
	for (int i = 0; i < s->nstructs; i++)
		if (!strcmp(camel(s->structs[i]->name), b)) {
			strcat(b, "_");
			i = -1;
		}
	return b;
}

static void emit_service(const struct schema *s)
{
	const char *client = class_name(s, s->service, "Client");
	const char *handler = class_name(s, s->service, "Handler");

	for (int i = 0; i < s->nmethods; i++)
		out("METHOD_%s = %llu\n", py_name(s->methods[i].name),
		    (unsigned long long)s->methods[i].id);
	out("\n\nclass %s(_stub.ClientBase):\n", client);
	out("    \"\"\"Client of service %s: one typed stub per method.\n\n"
	    "    %s(name, *, path=None, transport=\"auto\", timeout=5.0); a context manager.\n"
	    "    Calls raise cell.CellError carrying the cell status.\n    \"\"\"\n\n",
	    s->service, client);
	out("    FINGERPRINT = FINGERPRINT\n    SCHEMA_TEXT = SCHEMA_TEXT\n");
	out("    DEFAULT_NAME = \"%s\"\n", s->name);
	for (int i = 0; i < s->nmethods; i++) {
		const struct method *m = &s->methods[i];
		const char *req = camel(m->req->name);

		if (m->resp) {
			out("\n    def %s(self, req: %s, *, timeout: Optional[float] = None) -> "
			    "%s:\n",
			    py_name(m->name), req, camel(m->resp->name));
			out("        return %s.decode(self.conn.call(%llu, req.encode(), "
			    "timeout))\n",
			    camel(m->resp->name), (unsigned long long)m->id);
		} else {
			out("\n    def %s(self, req: %s, *, timeout: Optional[float] = None) -> "
			    "None:\n",
			    py_name(m->name), req);
			out("        \"\"\"One-way: no response comes.\"\"\"\n");
			out("        self.conn.send(%llu, req.encode(), timeout)\n",
			    (unsigned long long)m->id);
		}
	}
	out("\n\nclass %s(_stub.HandlerBase):\n", handler);
	out("    \"\"\"Server side of service %s: subclass, override the methods, serve with\n"
	    "    cell.server.Server(name, handler).  Raise cell.CellError to answer a status.\n"
	    "    \"\"\"\n\n",
	    s->service);
	out("    FINGERPRINT = FINGERPRINT\n    SCHEMA_TEXT = SCHEMA_TEXT\n");
	out("    METHODS = {\n");
	for (int i = 0; i < s->nmethods; i++) {
		const struct method *m = &s->methods[i];

		out("        %llu: (\"%s\", %s, %s),\n", (unsigned long long)m->id,
		    py_name(m->name), camel(m->req->name), m->resp ? camel(m->resp->name) : "None");
	}
	out("    }\n");
	for (int i = 0; i < s->nmethods; i++) {
		const struct method *m = &s->methods[i];

		out("\n    def %s(self, req: %s) -> %s:\n", py_name(m->name), camel(m->req->name),
		    m->resp ? camel(m->resp->name) : "None");
		out("        raise CellError(Status.UNKNOWN_METHOD, \"%s is not implemented\")\n",
		    m->name);
	}
}

void emit_python(const struct schema *s, const char *src_name, FILE *f)
{
	struct buf text = { 0 };

	o = f;
	canonical_text(s, &text);
	out("# Generated by cellc --lang=python from %s: do not edit.\n", src_name);
	out("\"\"\"Cell schema %s: types, validators, encoders, typed stubs, fingerprint.\"\"\"\n",
	    s->name);
	out("from __future__ import annotations\n\n");
	out("from dataclasses import dataclass, field\nfrom typing import List, Optional\n\n");
	out("from cell import codec as _codec\nfrom cell import stub as _stub\n");
	out("from cell.wire import CellError, Status\n\n");
	out("SCHEMA = \"%s\"\nSCHEMA_TEXT = ", s->name);
	emit_py_string(text.p);
	out("FINGERPRINT = 0x%016llx\n", (unsigned long long)fnv1a64(text.p, text.len));
	for (int i = 0; i < s->nstructs; i++)
		emit_struct(s, s->sorted[i]);
	out("\n\n");
	if (s->service)
		emit_service(s);
	buf_release(&text);
}
