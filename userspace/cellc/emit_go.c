// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * cellc --lang=go: <schema>_cell.go for the Go runtime in bindings/go
 * (module cell.dev/cell, Documentation/bindings.rst).  One Go struct per
 * schema struct (fixed arrays as Go arrays, vectors as slices), its encoder
 * and validating decoder with every offset as cellc's layout pass computed
 * it (the Go side never lays anything out itself), the canonical text and
 * fingerprint, method ids, a client type with a typed stub per method, and a
 * handler interface with Serve<Service> for the runtime's cell.Server.
 * The output is gofmt-clean (bindings' go test checks it).
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

/* "sensor_reading" -> "SensorReading": an exported Go name. */
static const char *camel(const char *s)
{
	static char bufs[6][CELLC_MAX_IDENT + 2];
	static int next;
	char *b = bufs[next++ % 6];
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
	if (n == 0 || isdigit((unsigned char)b[0])) { /* "_" or "_1": keep it exported */
		memmove(b + 1, b, n);
		b[0] = 'X';
		n++;
	}
	b[n] = 0;
	return b;
}

/* A field's Go name; the generated methods' names get a trailing "_". */
static const char *field_name(const char *s)
{
	static char bufs[2][CELLC_MAX_IDENT + 3];
	static int next;
	char *b = bufs[next++ % 2];

	snprintf(b, CELLC_MAX_IDENT + 3, "%s", camel(s));
	if (!strcmp(b, "Encode"))
		strcat(b, "_");
	return b;
}

/* A stub's Go name: not one of the client's own methods. */
static const char *stub_name(const char *s)
{
	static char b[CELLC_MAX_IDENT + 3];

	snprintf(b, sizeof(b), "%s", camel(s));
	if (!strcmp(b, "Close") || !strcmp(b, "Kind") || !strcmp(b, "Schema"))
		strcat(b, "_");
	return b;
}

static const char *const go_keywords[] = {
	"break",  "case",	 "chan", "const",   "continue", "default", "defer",
	"else",	  "fallthrough", "for",	 "func",    "go",	"goto",	   "if",
	"import", "interface",	 "map",	 "package", "range",	"return",  "select",
	"struct", "switch",	 "type", "var",	    "cell",	"context",
};

static const char *package_name(const char *s)
{
	static char b[CELLC_MAX_IDENT + 6];

	snprintf(b, sizeof(b), "%s", s);
	for (size_t i = 0; i < sizeof(go_keywords) / sizeof(go_keywords[0]); i++)
		if (!strcmp(s, go_keywords[i]))
			strcat(b, "_cell");
	return b;
}

/* Go type and codec suffix of a scalar ("U16" for d.U16, e.PutU16). */
static const char *go_scalar(enum type_kind k, const char **codec)
{
	static const char *const types[] = { "uint8", "uint16", "uint32", "uint64",
					     "int8",  "int16",	"int32",  "int64" };
	static const char *const codecs[] = { "U8", "U16", "U32", "U64", "I8", "I16", "I32", "I64" };

	*codec = codecs[k];
	return types[k];
}

static void elem_type(const struct field *f, char *b, size_t cap)
{
	const char *codec;

	switch (f->kind) {
	case TY_BOOL:
		snprintf(b, cap, "bool");
		break;
	case TY_STRING:
		snprintf(b, cap, "string");
		break;
	case TY_BYTES:
		snprintf(b, cap, "[]byte");
		break;
	case TY_STRUCT:
		snprintf(b, cap, "%s", camel(f->st->name));
		break;
	default:
		snprintf(b, cap, "%s", go_scalar(f->kind, &codec));
	}
}

/* Size and alignment of one element of a span or array. */
static void elem_layout(const struct field *f, unsigned *size, unsigned *align)
{
	static const unsigned scalar[] = { 1, 2, 4, 8, 1, 2, 4, 8, 1 };

	if (f->kind == TY_STRUCT) {
		*size = f->st->size;
		*align = f->st->align;
	} else if (f->kind == TY_STRING || f->kind == TY_BYTES) {
		*size = *align = 1;
	} else {
		*size = *align = scalar[f->kind];
	}
}

static void emit_type(const struct cstruct *st)
{
	char t[2 * CELLC_MAX_IDENT + 16];
	int width = 0;

	out("\n// %s is struct %s: fixed part %u bytes, alignment %u.\n", camel(st->name), st->name,
	    st->size, st->align);
	out("type %s struct {\n", camel(st->name));
	for (int i = 0; i < st->nfields; i++) { /* gofmt aligns the types */
		int n = (int)strlen(field_name(st->fields[i].name));

		width = n > width ? n : width;
	}
	for (int i = 0; i < st->nfields; i++) {
		const struct field *f = &st->fields[i];

		elem_type(f, t, sizeof(t));
		out("\t%-*s ", width, field_name(f->name));
		if (f->arr == ARR_FIXED)
			out("[%llu]%s\n", (unsigned long long)f->count, t);
		else if (f->arr == ARR_VECTOR)
			out("[]%s\n", t);
		else
			out("%s\n", t);
	}
	out("}\n");
}

static void emit_check(void)
{
	out("\t\treturn err\n\t}\n");
}

/* Encode one element (a scalar, bool or struct) held at @expr into @at. */
static void put_elem(const struct field *f, const char *expr, const char *at, const char *ind)
{
	const char *codec;

	if (f->kind == TY_STRUCT) {
		out("%sif err = %s.put(e, %s); err != nil {\n%s\treturn err\n%s}\n", ind, expr, at,
		    ind, ind);
	} else if (f->kind == TY_BOOL) {
		out("%se.PutBool(%s, %s)\n", ind, at, expr);
	} else {
		go_scalar(f->kind, &codec);
		out("%se.Put%s(%s, %s)\n", ind, codec, at, expr);
	}
}

static void get_elem(const struct field *f, const char *prefix, const char *expr, const char *at,
		     const char *ind)
{
	const char *codec;

	if (f->kind == TY_STRUCT) {
		out("%sif err = %s.get(d, %s); err != nil {\n%s\treturn err\n%s}\n", ind, expr, at,
		    ind, ind);
	} else if (f->kind == TY_BOOL) {
		out("%sif %s, err = d.Bool(%s, \"%s.%s\"); err != nil {\n%s\treturn err\n%s}\n",
		    ind, expr, at, prefix, f->name, ind, ind);
	} else {
		go_scalar(f->kind, &codec);
		out("%s%s = d.%s(", ind, expr, codec);
		for (; *at; at++) /* a lone argument: gofmt spaces its "+" */
			out(*at == '+' ? " + " : "%c", *at);
		out(")\n");
	}
}

static void emit_put(const struct schema *s, const struct cstruct *st)
{
	char expr[CELLC_MAX_IDENT + 16], at[64];
	char T[CELLC_MAX_IDENT + 2];

	snprintf(T, sizeof(T), "%s", camel(st->name));
	out("\nfunc (m *%s) put(e *cell.Encoder, at int) error {\n\tvar err error\n", T);
	for (int i = 0; i < st->nfields; i++) {
		const struct field *f = &st->fields[i];
		const char *F = field_name(f->name);
		unsigned size, align;

		elem_layout(f, &size, &align);
		if (f->kind == TY_STRING || f->kind == TY_BYTES) {
			out("\tif err = e.Put%s(at+%u, m.%s, \"%s_%s.%s\"); err != nil {\n",
			    f->kind == TY_STRING ? "String" : "Bytes", f->offset, F, s->name,
			    st->name, f->name);
			emit_check();
		} else if (f->arr == ARR_VECTOR) {
			out("\tif off, err := e.PutVector(at+%u, len(m.%s), %u, %u, \"%s_%s.%s\"); "
			    "err != nil {\n\t\treturn err\n\t} else {\n",
			    f->offset, F, size, align, s->name, st->name, f->name);
			out("\t\tfor i := range m.%s {\n", F);
			snprintf(expr, sizeof(expr), "m.%s[i]", F);
			snprintf(at, sizeof(at), "off+i*%u", size);
			put_elem(f, expr, at, "\t\t\t");
			out("\t\t}\n\t}\n");
		} else if (f->arr == ARR_FIXED) {
			out("\tfor i := range m.%s {\n", F);
			snprintf(expr, sizeof(expr), "m.%s[i]", F);
			snprintf(at, sizeof(at), "at+%u+i*%u", f->offset, size);
			put_elem(f, expr, at, "\t\t");
			out("\t}\n");
		} else {
			snprintf(expr, sizeof(expr), "m.%s", F);
			snprintf(at, sizeof(at), "at+%u", f->offset);
			put_elem(f, expr, at, "\t");
		}
	}
	out("\treturn err\n}\n");
}

static void emit_get(const struct schema *s, const struct cstruct *st)
{
	char expr[CELLC_MAX_IDENT + 16], at[64], prefix[2 * CELLC_MAX_IDENT + 2], t[80];
	char T[CELLC_MAX_IDENT + 2];

	snprintf(T, sizeof(T), "%s", camel(st->name));
	snprintf(prefix, sizeof(prefix), "%s_%s", s->name, st->name);
	out("\nfunc (m *%s) get(d *cell.Decoder, at int) error {\n\tvar err error\n", T);
	for (int i = 0; i < st->nfields; i++) {
		const struct field *f = &st->fields[i];
		const char *F = field_name(f->name);
		unsigned size, align;

		elem_layout(f, &size, &align);
		if (f->kind == TY_STRING || f->kind == TY_BYTES) {
			out("\tif m.%s, err = d.%s(at+%u, \"%s.%s\"); err != nil {\n", F,
			    f->kind == TY_STRING ? "String" : "Bytes", f->offset, prefix, f->name);
			emit_check();
		} else if (f->arr == ARR_VECTOR) {
			elem_type(f, t, sizeof(t));
			out("\tif off, n, err := d.Span(at+%u, %u, %u, \"%s.%s\"); err != nil {\n"
			    "\t\treturn err\n\t} else {\n",
			    f->offset, size, align, prefix, f->name);
			out("\t\tm.%s = make([]%s, n)\n\t\tfor i := range m.%s {\n", F, t, F);
			snprintf(expr, sizeof(expr), "m.%s[i]", F);
			snprintf(at, sizeof(at), "off+i*%u", size);
			get_elem(f, prefix, expr, at, "\t\t\t");
			out("\t\t}\n\t}\n");
		} else if (f->arr == ARR_FIXED) {
			out("\tfor i := range m.%s {\n", F);
			snprintf(expr, sizeof(expr), "m.%s[i]", F);
			snprintf(at, sizeof(at), "at+%u+i*%u", f->offset, size);
			get_elem(f, prefix, expr, at, "\t\t");
			out("\t}\n");
		} else {
			snprintf(expr, sizeof(expr), "m.%s", F);
			snprintf(at, sizeof(at), "at+%u", f->offset);
			get_elem(f, prefix, expr, at, "\t");
		}
	}
	out("\treturn err\n}\n");
}

static void emit_struct(const struct schema *s, const struct cstruct *st)
{
	char T[CELLC_MAX_IDENT + 2];

	snprintf(T, sizeof(T), "%s", camel(st->name));
	emit_type(st);
	out("\n// Encode is the message bytes of m (cellc's fixed layout).\n");
	out("func (m *%s) Encode() ([]byte, error) {\n", T);
	out("\te := cell.NewEncoder(%u)\n\tif err := m.put(e, 0); err != nil {\n", st->size);
	out("\t\treturn nil, err\n\t}\n\treturn e.Bytes(), nil\n}\n");
	out("\n// Decode%s validates b as a message of struct %s and reads it; the error\n"
	    "// is a *cell.StatusError (BAD_MESSAGE) naming the field, as the C validator.\n",
	    T, st->name);
	out("func Decode%s(b []byte) (*%s, error) {\n", T, T);
	out("\td, err := cell.NewDecoder(b, %u, \"%s_%s\")\n", st->size, s->name, st->name);
	out("\tif err != nil {\n\t\treturn nil, err\n\t}\n");
	out("\tm := new(%s)\n\tif err := m.get(d, 0); err != nil {\n", T);
	out("\t\treturn nil, err\n\t}\n\treturn m, nil\n}\n");
	out("\n// Validate%s is nil if b is a valid message of struct %s.\n", T, st->name);
	out("func Validate%s(b []byte) error {\n\t_, err := Decode%s(b)\n\treturn err\n}\n", T, T);
	emit_put(s, st);
	emit_get(s, st);
}

static void emit_go_string(const char *t)
{
	int first = 1;

	while (*t) {
		const char *nl = strchr(t, '\n');
		size_t n = nl ? (size_t)(nl - t) + 1 : strlen(t);

		out(first ? "\"" : " +\n\t\"");
		first = 0;
		for (size_t i = 0; i < n; i++) {
			unsigned char c = (unsigned char)t[i];

			if (c == '"' || c == '\\')
				out("\\%c", c);
			else if (c == '\n')
				out("\\n");
			else if (c < 0x20 || c >= 0x7f)
				out("\\x%02x", c);
			else
				out("%c", c);
		}
		out("\"");
		t += n;
	}
	if (first)
		out("\"\"");
	out("\n");
}

/* A name for a generated type that no struct's type takes. */
static const char *type_name_free(const struct schema *s, const char *base, const char *suffix)
{
	static char b[2 * CELLC_MAX_IDENT + 16];

	snprintf(b, sizeof(b), "%s%s", camel(base), suffix);
	for (int i = 0; i < s->nstructs; i++)
		if (!strcmp(camel(s->structs[i]->name), b)) {
			strcat(b, "_");
			i = -1;
		}
	return b;
}

static void emit_service(const struct schema *s)
{
	char client[2 * CELLC_MAX_IDENT + 16];
	int width = 0;

	snprintf(client, sizeof(client), "%s", type_name_free(s, s->service, "Client"));
	out("\n// Method ids of service %s.\nconst (\n", s->service);
	for (int i = 0; i < s->nmethods; i++) {
		int n = (int)strlen(camel(s->methods[i].name));

		width = n > width ? n : width;
	}
	for (int i = 0; i < s->nmethods; i++)
		out("\tMethod%-*s uint16 = %llu\n", width, camel(s->methods[i].name),
		    (unsigned long long)s->methods[i].id);
	out(")\n");
	out("\n// %s is a client of service %s: one typed stub per method.  Calls\n"
	    "// return a *cell.StatusError carrying the cell status.\n",
	    client, s->service);
	out("type %s struct {\n\tConn *cell.Conn\n}\n", client);
	out("\n// Dial%s connects to the cell name (\"\" for \"%s\") serving schema %s;\n"
	    "// opts may be nil.\n",
	    camel(s->service), s->name, s->name);
	out("func Dial%s(ctx context.Context, name string, opts *cell.Options) (*%s, error) {\n",
	    camel(s->service), client);
	out("\tif name == \"\" && (opts == nil || opts.Path == \"\") {\n\t\tname = "
	    "DefaultName\n\t}\n");
	out("\tc, err := cell.Dial(ctx, name, Fingerprint, opts)\n");
	out("\tif err != nil {\n\t\treturn nil, err\n\t}\n\treturn &%s{Conn: c}, nil\n}\n", client);
	out("\n// Kind is the path the connection took: \"shm-memfd\" or \"unix\".\n");
	out("func (c *%s) Kind() string { return c.Conn.Kind() }\n", client);
	out("\n// Schema is the server's canonical schema text.\n");
	out("func (c *%s) Schema(ctx context.Context) (string, error) { return c.Conn.Schema(ctx) "
	    "}\n",
	    client);
	out("\n// Close ends the connection.\n");
	out("func (c *%s) Close() error { return c.Conn.Close() }\n", client);
	for (int i = 0; i < s->nmethods; i++) {
		const struct method *m = &s->methods[i];
		char req[CELLC_MAX_IDENT + 2];

		snprintf(req, sizeof(req), "%s", camel(m->req->name));

		if (m->resp) {
			out("\n// %s calls method %llu, %s(%s) -> %s.\n", stub_name(m->name),
			    (unsigned long long)m->id, m->name, m->req->name, m->resp->name);
			out("func (c *%s) %s(ctx context.Context, req *%s) (*%s, error) {\n",
			    client, stub_name(m->name), req, camel(m->resp->name));
			out("\tp, err := req.Encode()\n\tif err != nil {\n\t\treturn nil, "
			    "err\n\t}\n");
			out("\tr, err := c.Conn.Call(ctx, Method%s, p)\n", camel(m->name));
			out("\tif err != nil {\n\t\treturn nil, err\n\t}\n");
			out("\treturn Decode%s(r)\n}\n", camel(m->resp->name));
		} else {
			out("\n// %s sends method %llu, %s(%s), one-way: no response comes.\n",
			    stub_name(m->name), (unsigned long long)m->id, m->name, m->req->name);
			out("func (c *%s) %s(ctx context.Context, req *%s) error {\n", client,
			    stub_name(m->name), req);
			out("\tp, err := req.Encode()\n\tif err != nil {\n\t\treturn err\n\t}\n");
			out("\treturn c.Conn.Send(ctx, Method%s, p)\n}\n", camel(m->name));
		}
	}
}

/* The handler interface and Serve<Service>, for the runtime's cell.Server. */
static void emit_server(const struct schema *s)
{
	char handler[2 * CELLC_MAX_IDENT + 16];

	snprintf(handler, sizeof(handler), "%s", type_name_free(s, s->service, "Handler"));
	out("\n// %s is a Go cell of service %s: one method per schema method, each\n"
	    "// given a validated request.  An error that is a *cell.StatusError\n"
	    "// travels with its status; any other is INTERNAL.\n",
	    handler, s->service);
	out("type %s interface {\n", handler);
	for (int i = 0; i < s->nmethods; i++) {
		const struct method *m = &s->methods[i];

		if (m->resp)
			out("\t%s(ctx context.Context, req *%s) (*%s, error)\n", stub_name(m->name),
			    camel(m->req->name), camel(m->resp->name));
		else
			out("\t%s(ctx context.Context, req *%s) error\n", stub_name(m->name),
			    camel(m->req->name));
	}
	out("}\n");
	out("\n// Serve%s binds the cell name (\"\" for \"%s\") in dir (\"\" for the\n"
	    "// runtime dir) on the unix path, served by h once Serve runs.\n",
	    camel(s->service), s->name);
	out("func Serve%s(name, dir string, h %s) (*cell.Server, error) {\n", camel(s->service),
	    handler);
	out("\tif name == \"\" {\n\t\tname = DefaultName\n\t}\n");
	out("\treturn cell.NewServer(name, dir, Fingerprint, SchemaText, "
	    "map[uint16]cell.MethodFunc{\n");
	for (int i = 0; i < s->nmethods; i++) {
		const struct method *m = &s->methods[i];

		out("\t\tMethod%s: func(ctx context.Context, b []byte) ([]byte, error) {\n",
		    camel(m->name));
		out("\t\t\treq, err := Decode%s(b)\n", camel(m->req->name));
		out("\t\t\tif err != nil {\n\t\t\t\treturn nil, err\n\t\t\t}\n");
		if (m->resp) {
			out("\t\t\tresp, err := h.%s(ctx, req)\n", stub_name(m->name));
			out("\t\t\tif err != nil {\n\t\t\t\treturn nil, err\n\t\t\t}\n");
			out("\t\t\treturn resp.Encode()\n");
		} else {
			out("\t\t\treturn nil, h.%s(ctx, req)\n", stub_name(m->name));
		}
		out("\t\t},\n");
	}
	out("\t})\n}\n");
}

void emit_go(const struct schema *s, const char *src_name, FILE *f)
{
	struct buf text = { 0 };

	o = f;
	canonical_text(s, &text);
	out("// Code generated by cellc --lang=go from %s; DO NOT EDIT.\n\n", src_name);
	out("// Package %s is Cell schema %s: types, validators, encoders, typed stubs\n"
	    "// and the fingerprint, for the Go runtime cell.dev/cell.\n",
	    package_name(s->name), s->name);
	out("package %s\n\nimport (\n", package_name(s->name));
	if (s->service)
		out("\t\"context\"\n\n");
	out("\t\"cell.dev/cell\"\n)\n\n");
	out("// SchemaName is the schema's name, the default cell name.\n");
	out("const SchemaName = \"%s\"\n\n", s->name);
	out("// DefaultName is the cell name Dial uses when given none.\n");
	out("const DefaultName = SchemaName\n\n");
	out("// SchemaText is the canonical text of the schema.\nconst SchemaText = ");
	emit_go_string(text.p);
	out("\n// Fingerprint is FNV-1a 64 of SchemaText.\n");
	out("const Fingerprint uint64 = 0x%016llx\n",
	    (unsigned long long)fnv1a64(text.p, text.len));
	for (int i = 0; i < s->nstructs; i++)
		emit_struct(s, s->sorted[i]);
	if (s->service) {
		emit_service(s);
		emit_server(s);
	}
	buf_release(&text);
}
