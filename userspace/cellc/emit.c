// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Writes <schema>.cell.h.  Everything in it is static inline: a program
 * includes the header where it needs it and links libcell for the stubs
 * and dispatch.  The API is described in Documentation/cellc.rst; the
 * comments written into the header say the same in brief.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "cellc.h"

extern const unsigned char cellc_runtime[];
extern const size_t cellc_runtime_len;

static FILE *o;
static int mcu;	      /* writing the --mcu flavour (no libcell, no heap) */
static const char *P; /* schema name: prefix of every identifier */
static char U[CELLC_MAX_IDENT + 1];

__attribute__((format(printf, 1, 2))) static void out(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(o, fmt, ap);
	va_end(ap);
}

static const char *up(const char *s)
{
	static char bufs[4][CELLC_MAX_IDENT + 1];
	static int next;
	char *b = bufs[next++ % 4];
	size_t i;

	for (i = 0; s[i] && i < CELLC_MAX_IDENT; i++)
		b[i] = (char)toupper((unsigned char)s[i]);
	b[i] = 0;
	return b;
}

static int is_var(const struct field *f)
{
	return f->arr == ARR_VECTOR || f->kind == TY_STRING || f->kind == TY_BYTES;
}

/* The C type of one element of @f (a scalar or a struct). */
static const char *ctype(const struct field *f, char *buf, size_t cap)
{
	static const char *const scalars[] = {
		[TY_U8] = "uint8_t",   [TY_U16] = "uint16_t",  [TY_U32] = "uint32_t",
		[TY_U64] = "uint64_t", [TY_I8] = "int8_t",     [TY_I16] = "int16_t",
		[TY_I32] = "int32_t",  [TY_I64] = "int64_t",   [TY_BOOL] = "uint8_t",
		[TY_STRING] = "char",  [TY_BYTES] = "uint8_t",
	};

	if (f->kind == TY_STRUCT) {
		snprintf(buf, cap, "struct %s_%s", P, f->st->name);
		return buf;
	}
	return scalars[f->kind];
}

/* Size and alignment of one element of a vector / string / bytes @f. */
static void elem_layout(const struct field *f, char *size, char *align, size_t cap)
{
	if (f->kind == TY_STRUCT) {
		snprintf(size, cap, "%s_%s_SIZE", U, up(f->st->name));
		snprintf(align, cap, "%s_%s_ALIGN", U, up(f->st->name));
	} else if (f->kind == TY_STRING || f->kind == TY_BYTES) {
		snprintf(size, cap, "1");
		snprintf(align, cap, "1");
	} else {
		snprintf(size, cap, "%u", f->kind == TY_BOOL ? 1 : 1U << (f->kind % 4));
		snprintf(align, cap, "%s", size);
	}
}

/* Whether a value of @st can be invalid: a bool or a span somewhere inside. */
static int needs_check(const struct cstruct *st)
{
	for (int i = 0; i < st->nfields; i++) {
		const struct field *f = &st->fields[i];

		if (is_var(f) || f->kind == TY_BOOL || (f->kind == TY_STRUCT && needs_check(f->st)))
			return 1;
	}
	return 0;
}

static void emit_c_string(const char *s)
{
	out("\"");
	for (; *s; s++) {
		if (*s == '\n') {
			out("\\n\"");
			if (s[1])
				out("\t\\\n\t\"");
			else
				return;
		} else if (*s == '"' || *s == '\\') {
			out("\\%c", *s);
		} else {
			out("%c", *s);
		}
	}
	out("\"");
}

static void emit_struct_type(const struct cstruct *st)
{
	uint32_t at = 0;
	int pad = 0;
	char tmp[160];

	out("/* struct %s: fixed part %u bytes, alignment %u */\n", st->name, st->size, st->align);
	out("struct %s_%s {\n", P, st->name);
	for (int i = 0; i < st->nfields; i++) {
		const struct field *f = &st->fields[i];

		if (f->offset > at)
			out("\tuint8_t _pad%d[%u];\n", pad++, f->offset - at);
		if (is_var(f)) {
			out("\tstruct cellc_span %s; /* %s%s */\n", f->name, f->type_name,
			    f->arr == ARR_VECTOR ? "[]" : "");
		} else {
			out("\t%s %s", ctype(f, tmp, sizeof(tmp)), f->name);
			if (f->arr == ARR_FIXED)
				out("[%llu]", (unsigned long long)f->count);
			out(";%s\n", f->kind == TY_BOOL ? " /* bool: 0 or 1 */" : "");
		}
		at = f->offset + f->size;
	}
	if (st->size > at)
		out("\tuint8_t _pad%d[%u];\n", pad, st->size - at);
	out("};\n\n");
	out("#define %s_%s_SIZE  %uU\n", U, up(st->name), st->size);
	out("#define %s_%s_ALIGN %uU\n", U, up(st->name), st->align);
	out("CELLC_STATIC_ASSERT(sizeof(struct %s_%s) == %u, \"%s_%s: size\");\n", P, st->name,
	    st->size, P, st->name);
	for (int i = 0; i < st->nfields; i++)
		out("CELLC_STATIC_ASSERT(offsetof(struct %s_%s, %s) == %u, \"%s_%s.%s: "
		    "offset\");\n",
		    P, st->name, st->fields[i].name, st->fields[i].offset, P, st->name,
		    st->fields[i].name);
	out("\n");
}

static void emit_check(const struct cstruct *st)
{
	int need_i = 0, need_e = 0;
	const char *S = st->name;
	char tmp[160], size[160], align[160];

	for (int i = 0; i < st->nfields; i++) {
		const struct field *f = &st->fields[i];
		int deep = f->kind == TY_STRUCT && needs_check(f->st);

		if ((f->arr == ARR_FIXED && (deep || f->kind == TY_BOOL)) ||
		    (f->arr == ARR_VECTOR && (deep || f->kind == TY_BOOL)))
			need_i = 1;
		if (is_var(f) || deep)
			need_e = 1;
	}
	out("/* Checks the fixed part @m of a message of @len bytes at @base whose tail starts at "
	    "@tail. */\n");
	out("static inline int %s_%s_check_(const uint8_t *base, uint64_t len, uint32_t tail,\n"
	    "\t\t\t\t const struct %s_%s *m, uint64_t *budget, const char **why)\n{\n",
	    P, S, P, S);
	if (need_i)
		out("\tuint32_t i;\n");
	if (need_e)
		out("\tint e;\n");
	if (need_i || need_e)
		out("\n");
	out("\t(void)base;\n\t(void)len;\n\t(void)tail;\n\t(void)m;\n\t(void)budget;\n\t(void)why;"
	    "\n");
	for (int i = 0; i < st->nfields; i++) {
		const struct field *f = &st->fields[i];
		const char *F = f->name;
		int deep = f->kind == TY_STRUCT && needs_check(f->st);

		if (!is_var(f)) {
			const char *idx = f->arr == ARR_FIXED ? "[i]" : "";

			if (f->kind != TY_BOOL && !deep)
				continue;
			if (f->arr == ARR_FIXED)
				out("\tfor (i = 0; i < %llu; i++) {\n",
				    (unsigned long long)f->count);
			else
				out("\t{\n");
			if (f->kind == TY_BOOL)
				out("\t\tif (m->%s%s > 1)\n\t\t\treturn cellc_fail(why, "
				    "\"%s_%s.%s: bool is not 0 or 1\");\n",
				    F, idx, P, S, F);
			else
				out("\t\te = %s_%s_check_(base, len, tail, &m->%s%s, budget, "
				    "why);\n\t\tif (e)\n\t\t\treturn e;\n",
				    P, f->st->name, F, idx);
			out("\t}\n");
			continue;
		}
		elem_layout(f, size, align, sizeof(size));
		out("\te = cellc_span_check(&m->%s, len, tail, %s, %s, budget);\n", F, size, align);
		out("\tif (e)\n\t\treturn cellc_span_fail(why, e, CELLC_SPAN_WHY(\"%s_%s.%s\"));\n",
		    P, S, F);
		if (f->kind == TY_STRING && f->arr == ARR_NONE)
			out("\tif (!cellc_utf8_valid(base + m->%s.off, m->%s.len))\n"
			    "\t\treturn cellc_fail(why, \"%s_%s.%s: not UTF-8\");\n",
			    F, F, P, S, F);
		if (f->arr == ARR_VECTOR && f->kind == TY_BOOL)
			out("\tfor (i = 0; i < m->%s.len; i++)\n\t\tif (base[m->%s.off + i] > 1)\n"
			    "\t\t\treturn cellc_fail(why, \"%s_%s.%s: bool is not 0 or 1\");\n",
			    F, F, P, S, F);
		if (f->arr == ARR_VECTOR && deep) {
			out("\tfor (i = 0; i < m->%s.len; i++) {\n", F);
			out("\t\tconst %s *v = (const %s *)(const void *)(base + m->%s.off);\n\n",
			    ctype(f, tmp, sizeof(tmp)), tmp, F);
			out("\t\te = %s_%s_check_(base, len, tail, &v[i], budget, why);\n\t\tif "
			    "(e)\n\t\t\treturn e;\n\t}\n",
			    P, f->st->name);
		}
	}
	out("\treturn 0;\n}\n\n");

	out("/*\n * %s_%s_validate() - check a whole message before reading it: every span\n"
	    " * in bounds, aligned and within the message, bools 0 or 1, strings UTF-8.\n"
	    " * @buf must be 8-byte aligned.  Return: 0, or -EBADMSG with *@why (if\n"
	    " * not NULL) naming the field.\n */\n",
	    P, S);
	out("static inline int %s_%s_validate(const void *buf, uint32_t len, const char **why)\n{\n"
	    "\tuint64_t budget;\n\n",
	    P, S);
	out("\tif (len < %s_%s_SIZE)\n\t\treturn cellc_fail(why, \"%s_%s: shorter than its fixed "
	    "part\");\n",
	    U, up(S), P, S);
	out("\tif (!buf || ((uintptr_t)buf & 7))\n\t\treturn cellc_fail(why, \"%s_%s: buffer not "
	    "8-byte aligned\");\n",
	    P, S);
	out("\tbudget = len - %s_%s_SIZE;\n", U, up(S));
	out("\treturn %s_%s_check_((const uint8_t *)buf, len, %s_%s_SIZE, (const struct %s_%s "
	    "*)buf,\n"
	    "\t\t\t\t&budget, why);\n}\n\n",
	    P, S, U, up(S), P, S);
}

static void emit_access(const struct cstruct *st)
{
	const char *S = st->name;
	char tmp[160], size[160], align[160];

	out("static inline struct %s_%s *%s_%s_start(struct cellc_builder *b)\n{\n"
	    "\treturn (struct %s_%s *)cellc_builder_start_(b, %s_%s_SIZE);\n}\n\n",
	    P, S, P, S, P, S, U, up(S));
	if (mcu)
		goto spans;
	out("/* Reserves the response of a handler (at least the fixed part) and starts it. */\n");
	out("static inline struct %s_%s *%s_%s_reply_begin(struct cell_reply *reply, uint64_t "
	    "max_len,\n"
	    "\t\t\t\t\t\tstruct cellc_builder *b)\n{\n\tvoid *buf;\n\n",
	    P, S, P, S);
	out("\tif (max_len < %s_%s_SIZE)\n\t\tmax_len = %s_%s_SIZE;\n", U, up(S), U, up(S));
	out("\tbuf = max_len > CELL_MAX_PAYLOAD ? NULL : cell_reply_reserve(reply, "
	    "(uint32_t)max_len);\n");
	out("\tcellc_builder_init(b, buf, buf ? (uint32_t)max_len : 0);\n");
	out("\tif (!buf)\n\t\tb->err = -EMSGSIZE;\n");
	out("\treturn %s_%s_start(b);\n}\n\n", P, S);

spans:
	for (int i = 0; i < st->nfields; i++) {
		const struct field *f = &st->fields[i];
		const char *F = f->name;
		const char *n = f->arr == ARR_VECTOR ? "count" : "len";
		const char *et;

		if (!is_var(f))
			continue;
		et = ctype(f, tmp, sizeof(tmp));
		elem_layout(f, size, align, sizeof(size));
		out("/* %s.%s: a view into the message @msg (@m may be nested in it). */\n", S, F);
		out("static inline const %s *%s_%s_%s_at(const void *msg, const struct %s_%s *m,\n"
		    "\t\t\t\t\tuint32_t *%s)\n{\n",
		    et, P, S, F, P, S, n);
		out("\tif (%s)\n\t\t*%s = m->%s.len;\n", n, n, F);
		out("\treturn (const %s *)(const void *)((const uint8_t *)msg + m->%s.off);\n}\n\n",
		    et, F);
		out("/* %s.%s when @m is the whole message. */\n", S, F);
		out("static inline const %s *%s_%s_%s(const struct %s_%s *m, uint32_t *%s)\n{\n"
		    "\treturn %s_%s_%s_at(m, m, %s);\n}\n\n",
		    et, P, S, F, P, S, n, P, S, F, n);
		out("/* Appends room for %s.%s (zeroed) and points the field at it. */\n", S, F);
		out("static inline %s *%s_%s_alloc_%s(struct cellc_builder *b, struct %s_%s *m, "
		    "uint32_t %s)\n{\n"
		    "\treturn (%s *)cellc_builder_span_(b, &m->%s, %s, %s, %s);\n}\n\n",
		    et, P, S, F, P, S, n, et, F, n, size, align);
		if (f->kind == TY_STRUCT)
			continue;
		out("/* Appends a copy of %s.%s.  Return: 0 or the builder's error. */\n", S, F);
		out("static inline int %s_%s_set_%s(struct cellc_builder *b, struct %s_%s *m,\n"
		    "\t\t\t\t const %s *v, uint32_t %s)\n{\n\t%s *p;\n\n",
		    P, S, F, P, S, f->kind == TY_BYTES ? "void" : et, n, et);
		if (f->kind == TY_STRING)
			out("\tif (!b->err && len && !cellc_utf8_valid((const uint8_t *)v, len))\n"
			    "\t\tb->err = -EILSEQ;\n");
		out("\tp = %s_%s_alloc_%s(b, m, %s);\n\tif (!p)\n\t\treturn b->err;\n", P, S, F, n);
		out("\tif (%s)\n\t\tmemcpy(p, v, (size_t)%s * sizeof(*p));\n\treturn 0;\n}\n\n", n,
		    n);
		if (f->kind != TY_STRING)
			continue;
		if (mcu) { /* 32-bit size_t: no string is longer than UINT32_MAX */
			out("static inline int %s_%s_set_%s_str(struct cellc_builder *b, struct "
			    "%s_%s "
			    "*m, const char *s)\n{\n"
			    "\treturn %s_%s_set_%s(b, m, s, (uint32_t)strlen(s));\n}\n\n",
			    P, S, F, P, S, P, S, F);
			continue;
		}
		out("static inline int %s_%s_set_%s_str(struct cellc_builder *b, struct %s_%s *m, "
		    "const char *s)\n{\n"
		    "\tsize_t n = strlen(s);\n\n"
		    "\tif ((uint64_t)n > UINT32_MAX) {\n\t\tif (!b->err)\n\t\t\tb->err = "
		    "-EMSGSIZE;\n\t\treturn b->err;\n\t}\n"
		    "\treturn %s_%s_set_%s(b, m, s, (uint32_t)n);\n}\n\n",
		    P, S, F, P, S, P, S, F);
	}
}

static int copy_form(const struct method *m)
{
	return !m->req->has_var && (!m->resp || !m->resp->has_var);
}

static void emit_client(const struct method *m)
{
	const char *M = m->name, *R = m->req->name;

	out("/* ---- %llu: %s(%s) %s%s ---- */\n\n", (unsigned long long)m->id, M, R,
	    m->resp ? "-> " : "oneway", m->resp ? m->resp->name : "");
	if (copy_form(m) && !m->resp) {
		out("static inline enum cell_status %s_%s(struct cell_client *c, const struct "
		    "%s_%s *req,\n"
		    "\t\t\t\t\t uint64_t deadline)\n{\n"
		    "\treturn cell_client_send(c, %s_METHOD_%s, req, %s_%s_SIZE, deadline);\n}\n\n",
		    P, M, P, R, U, up(M), U, up(R));
	} else if (copy_form(m)) {
		const char *S = m->resp->name;

		out("/* A call with copies; *@resp is validated before OK is returned. */\n");
		out("static inline enum cell_status %s_%s(struct cell_client *c, const struct "
		    "%s_%s *req,\n"
		    "\t\t\t\t\t struct %s_%s *resp, uint64_t deadline)\n{\n"
		    "\tuint64_t budget = 0;\n\tuint32_t n = 0;\n\tenum cell_status st;\n\n",
		    P, M, P, R, P, S);
		out("\tst = cell_client_call(c, %s_METHOD_%s, req, %s_%s_SIZE, resp, %s_%s_SIZE, "
		    "&n, deadline);\n",
		    U, up(M), U, up(R), U, up(S));
		out("\tif (st != CELL_STATUS_OK)\n\t\treturn st;\n");
		out("\tif (n < %s_%s_SIZE ||\n\t    %s_%s_check_((const uint8_t *)resp, n, "
		    "%s_%s_SIZE, resp, &budget, NULL))\n"
		    "\t\treturn CELL_STATUS_BAD_MESSAGE;\n\treturn CELL_STATUS_OK;\n}\n\n",
		    U, up(S), P, S, U, up(S));
	}
	out("/*\n * Zero-copy: begin a call with room for @max_len request bytes (at least\n"
	    " * the fixed part), build *@req with @b, then %s_%s_finish().  On OK,\n"
	    " * cell_call_end(*@call) once done with the call.\n */\n",
	    P, M);
	out("static inline enum cell_status %s_%s_begin(struct cell_client *c, uint64_t max_len,\n"
	    "\t\t\t\t\t       uint64_t deadline, struct cell_call **call,\n"
	    "\t\t\t\t\t       struct cellc_builder *b, struct %s_%s **req)\n{\n"
	    "\tvoid *buf = NULL;\n\tenum cell_status st;\n\n",
	    P, M, P, R);
	out("\t*req = NULL;\n\t*call = NULL;\n\tcellc_builder_init(b, NULL, 0);\n");
	out("\tif (max_len < %s_%s_SIZE)\n\t\tmax_len = %s_%s_SIZE;\n", U, up(R), U, up(R));
	out("\tif (max_len > CELL_MAX_PAYLOAD)\n\t\treturn CELL_STATUS_TOO_LARGE;\n");
	out("\tst = cell_call_begin(c, %s_METHOD_%s, (uint32_t)max_len, %s, deadline, call, "
	    "&buf);\n",
	    U, up(M), m->resp ? "0" : "CELL_CALL_ONEWAY");
	out("\tif (st != CELL_STATUS_OK)\n\t\treturn st;\n");
	out("\tcellc_builder_init(b, buf, (uint32_t)max_len);\n\t*req = %s_%s_start(b);\n", P, R);
	out("\tif (!*req) {\n\t\tcell_call_end(*call);\n\t\t*call = NULL;\n\t\treturn "
	    "CELL_STATUS_INTERNAL;\n\t}\n");
	out("\treturn CELL_STATUS_OK;\n}\n\n");
	if (m->resp) {
		const char *S = m->resp->name;

		out("/*\n * Sends the request built in @b and waits.  On OK *@resp is the "
		    "validated\n"
		    " * response, valid until cell_call_end(); @raw (may be NULL) receives the\n"
		    " * raw response (status, error detail).\n */\n");
		out("static inline enum cell_status %s_%s_finish(struct cell_call *call,\n"
		    "\t\t\t\t\t\tconst struct cellc_builder *b,\n"
		    "\t\t\t\t\t\tconst struct %s_%s **resp,\n"
		    "\t\t\t\t\t\tstruct cell_response *raw)\n{\n"
		    "\tuint32_t n = cellc_builder_finish(b);\n\tstruct cell_response r;\n\tenum "
		    "cell_status st;\n\n",
		    P, M, P, S);
		out("\t*resp = NULL;\n\tmemset(&r, 0, sizeof(r));\n\tif (raw)\n\t\t*raw = r;\n");
		out("\tif (!n)\n\t\treturn b->err == -EMSGSIZE ? CELL_STATUS_TOO_LARGE : "
		    "CELL_STATUS_INVALID_ARGUMENT;\n");
		out("\tst = cell_call_finish(call, n, &r);\n\tif (raw)\n\t\t*raw = r;\n");
		out("\tif (st != CELL_STATUS_OK)\n\t\treturn st;\n");
		out("\tif (%s_%s_validate(r.data, r.len, NULL))\n\t\treturn "
		    "CELL_STATUS_BAD_MESSAGE;\n",
		    P, S);
		out("\t*resp = (const struct %s_%s *)r.data;\n\treturn CELL_STATUS_OK;\n}\n\n", P,
		    S);
	} else {
		out("/* Sends the one-way request built in @b. */\n");
		out("static inline enum cell_status %s_%s_finish(struct cell_call *call,\n"
		    "\t\t\t\t\t\tconst struct cellc_builder *b)\n{\n"
		    "\tuint32_t n = cellc_builder_finish(b);\n\n"
		    "\tif (!n)\n\t\treturn b->err == -EMSGSIZE ? CELL_STATUS_TOO_LARGE : "
		    "CELL_STATUS_INVALID_ARGUMENT;\n"
		    "\treturn cell_call_finish(call, n, NULL);\n}\n\n",
		    P, M);
	}
}

/*
 * The fields of a handlers struct, one per method: the request, then the
 * response built in place (fixed size) or @build_arg (variable), then
 * @call_arg and the context.
 */
static void emit_handler_fields(const struct schema *s, const char *call_arg, const char *build_arg)
{
	for (int i = 0; i < s->nmethods; i++) {
		const struct method *m = &s->methods[i];
		char resp[160];

		out("\t/* %llu: %s(%s) %s%s */\n", (unsigned long long)m->id, m->name, m->req->name,
		    m->resp ? "-> " : "oneway", m->resp ? m->resp->name : "");
		if (!m->resp)
			resp[0] = '\0';
		else if (!m->resp->has_var)
			snprintf(resp, sizeof(resp), " struct %s_%s *resp,", P, m->resp->name);
		else
			snprintf(resp, sizeof(resp), " %s,", build_arg);
		out("\tenum cell_status (*%s)(const struct %s_%s *req,%s\n\t\t\t\t  %s, void "
		    "*ctx);\n",
		    m->name, P, m->req->name, resp, call_arg);
	}
}

static void emit_server(const struct schema *s)
{
	out("/* ---- server ---- */\n\n");
	out("/*\n * One handler per method; NULL: not served (UNKNOWN_METHOD).  Each gets a\n"
	    " * validated request.  Fixed-size responses are built in place in *resp\n"
	    " * (zeroed); variable ones with <schema>_<type>_reply_begin() and\n"
	    " * cellc_reply_finish() on @reply.  A status other than OK is sent as an\n"
	    " * error response.\n */\n");
	out("struct %s_handlers {\n", P);
	emit_handler_fields(s, "const struct cell_vesicle *v", "struct cell_reply *reply");
	out("};\n\n");
	out("struct %s_binding_ {\n\tstruct %s_handlers h;\n\tvoid *ctx;\n\tstruct %s_binding_ "
	    "*next;\n};\n\n",
	    P, P, P);
	out("/* Every binding stays reachable from here, for the life of the process. */\n");
	out("static inline struct %s_binding_ **%s_bindings_(void)\n{\n"
	    "\tstatic struct %s_binding_ *head;\n\n\treturn &head;\n}\n\n",
	    P, P, P);
	for (int i = 0; i < s->nmethods; i++) {
		const struct method *m = &s->methods[i];
		const char *M = m->name, *R = m->req->name;

		out("static inline enum cell_status %s_%s_tramp_(const struct cell_vesicle *v,\n"
		    "\t\t\t\t\t\tstruct cell_reply *reply, void *ctx)\n{\n"
		    "\tconst struct %s_binding_ *bd = (const struct %s_binding_ *)ctx;\n"
		    "\tconst char *why = \"invalid request\";\n\tenum cell_status st;\n\tint r;\n",
		    P, M, P, P);
		if (m->resp && !m->resp->has_var)
			out("\tstruct %s_%s *resp;\n", P, m->resp->name);
		out("\n\tif (%s_%s_validate(v->data, v->len, &why)) {\n"
		    "\t\tif (reply) {\n\t\t\tr = cell_reply_error(reply, CELL_STATUS_BAD_MESSAGE, "
		    "why);\n\t\t\t(void)r;\n\t\t}\n"
		    "\t\treturn CELL_STATUS_BAD_MESSAGE;\n\t}\n",
		    P, R);
		if (!m->resp) {
			out("\tst = bd->h.%s((const struct %s_%s *)v->data, v, bd->ctx);\n", M, P,
			    R);
		} else {
			out("\tif (!reply)\n\t\treturn CELL_STATUS_INVALID_ARGUMENT; /* called "
			    "one-way */\n");
			if (m->resp->has_var) {
				out("\tst = bd->h.%s((const struct %s_%s *)v->data, reply, v, "
				    "bd->ctx);\n",
				    M, P, R);
			} else {
				const char *S = m->resp->name;

				out("\tresp = (struct %s_%s *)cell_reply_reserve(reply, "
				    "%s_%s_SIZE);\n",
				    P, S, U, up(S));
				out("\tif (!resp)\n\t\treturn cellc_errno_status(errno);\n");
				out("\tmemset(resp, 0, %s_%s_SIZE);\n", U, up(S));
				out("\tst = bd->h.%s((const struct %s_%s *)v->data, resp, v, "
				    "bd->ctx);\n",
				    M, P, R);
				out("\tif (st == CELL_STATUS_OK) {\n"
				    "\t\tr = cell_reply_commit(reply, %s_%s_SIZE);\n"
				    "\t\treturn r ? CELL_STATUS_UNAVAILABLE : "
				    "CELL_STATUS_OK;\n\t}\n",
				    U, up(S));
				out("\tif ((unsigned int)st >= CELL_STATUS_MAX)\n\t\tst = "
				    "CELL_STATUS_INTERNAL;\n");
				out("\tr = cell_reply_error(reply, st, NULL);\n");
			}
		}
		out("\t(void)r;\n\treturn st;\n}\n\n");
	}
	out("/*\n * %s_serve() - route every method with a handler in @h to it, with @ctx.\n"
	    " * @h is copied.  Call once per server, before it runs: the copy stays\n"
	    " * allocated for the life of the process.\n"
	    " * Return: 0, -EINVAL, -ENOMEM, or an error of cell_server_handle().\n */\n",
	    P);
	out("static inline int %s_serve(struct cell_server *srv, const struct %s_handlers *h, void "
	    "*ctx)\n{\n"
	    "\tstruct %s_binding_ **head = %s_bindings_();\n\tstruct %s_binding_ *bd;\n\tint e = "
	    "0;\n\n",
	    P, P, P, P, P);
	out("\tif (!srv || !h)\n\t\treturn -EINVAL;\n");
	out("\tbd = (struct %s_binding_ *)calloc(1, sizeof(*bd));\n\tif (!bd)\n\t\treturn "
	    "-ENOMEM;\n",
	    P);
	out("\tbd->h = *h;\n\tbd->ctx = ctx;\n\tbd->next = __atomic_load_n(head, "
	    "__ATOMIC_RELAXED);\n"
	    "\twhile (!__atomic_compare_exchange_n(head, &bd->next, bd, 1, __ATOMIC_RELEASE,\n"
	    "\t\t\t\t\t    __ATOMIC_RELAXED)) {\n\t}\n");
	for (int i = 0; i < s->nmethods; i++) {
		const struct method *m = &s->methods[i];

		out("\tif (!e && h->%s)\n\t\te = cell_server_handle(srv, %s_METHOD_%s, "
		    "%s_%s_tramp_, bd);\n",
		    m->name, U, up(m->name), P, m->name);
	}
	out("\treturn e;\n}\n\n");
}

void emit_header(const struct schema *s, const char *src_name, FILE *f)
{
	struct buf text = { 0 };

	mcu = 0;
	const char *base = strrchr(src_name, '/');

	o = f;
	P = s->name;
	snprintf(U, sizeof(U), "%s", up(s->name));
	canonical_text(s, &text);

	out("/* Generated by cellc from %s: do not edit.  API: Documentation/cellc.rst */\n",
	    base ? base + 1 : src_name);
	out("#ifndef CELLC_%s_CELL_H\n#define CELLC_%s_CELL_H\n\n", U, U);
	out("#include <errno.h>\n#include <stddef.h>\n#include <stdint.h>\n#include <stdlib.h>\n"
	    "#include <string.h>\n\n#include <cell/rpc.h>\n\n");
	out("#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__\n"
	    "#error \"Cell messages are little-endian in memory: this host is not\"\n#endif\n\n");
	out("#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n");
	fwrite(cellc_runtime, 1, cellc_runtime_len, o);
	out("\n/* FNV-1a 64 of %s_SCHEMA_TEXT: equal to cell_fingerprint() of it. */\n", U);
	out("#define %s_FINGERPRINT 0x%016llxULL\n", U,
	    (unsigned long long)fnv1a64(text.p, text.len));
	out("#define %s_SCHEMA_TEXT \\\n\t", U);
	emit_c_string(text.p);
	out("\n\n");
	buf_release(&text);
	for (int i = 0; i < s->nmethods; i++)
		out("#define %s_METHOD_%s %llu\n", U, up(s->methods[i].name),
		    (unsigned long long)s->methods[i].id);
	if (s->nmethods)
		out("\n");
	for (int i = 0; i < s->nstructs; i++) {
		emit_struct_type(s->sorted[i]);
		emit_check(s->sorted[i]);
		emit_access(s->sorted[i]);
	}
	out("/* Options with this schema's fingerprint and text filled in. */\n");
	out("static inline struct cell_server_opts %s_server_opts(void)\n{\n"
	    "\tstruct cell_server_opts opts;\n\n\tmemset(&opts, 0, sizeof(opts));\n"
	    "\topts.sz = sizeof(opts);\n\topts.fingerprint = %s_FINGERPRINT;\n"
	    "\topts.schema = %s_SCHEMA_TEXT;\n\treturn opts;\n}\n\n",
	    P, U, U);
	out("static inline struct cell_client_opts %s_client_opts(void)\n{\n"
	    "\tstruct cell_client_opts opts;\n\n\tmemset(&opts, 0, sizeof(opts));\n"
	    "\topts.sz = sizeof(opts);\n\topts.fingerprint = %s_FINGERPRINT;\n\treturn "
	    "opts;\n}\n\n",
	    P, U);
	for (int i = 0; i < s->nmethods; i++)
		emit_client(&s->methods[i]);
	if (s->nmethods)
		emit_server(s);
	out("#ifdef __cplusplus\n}\n#endif\n\n#endif /* CELLC_%s_CELL_H */\n", U);
}

/* ---- cellc --mcu ------------------------------------------------------- */

/*
 * The part of the runtime that needs neither libcell nor the heap: up to
 * cellc_errno_status(), without the CELLC_RUNTIME_1 guard lines.
 */
static void emit_mcu_runtime(void)
{
	static const char guard[] = "#define CELLC_RUNTIME_1\n";
	static const char cut[] = "static inline enum cell_status cellc_errno_status";
	const char *p = (const char *)cellc_runtime, *end = p + cellc_runtime_len;
	const char *from = NULL, *to = NULL;

	for (const char *q = p; q < end; q++) {
		if (!from && (size_t)(end - q) >= sizeof(guard) - 1 &&
		    !memcmp(q, guard, sizeof(guard) - 1))
			from = q + sizeof(guard) - 1;
		if (from && (size_t)(end - q) >= sizeof(cut) - 1 &&
		    !memcmp(q, cut, sizeof(cut) - 1)) {
			to = q;
			break;
		}
	}
	if (!from || !to) {
		fprintf(stderr, "cellc: runtime.h.in lacks the --mcu cut\n");
		exit(2);
	}
	out("#ifndef CELLC_MCU_RUNTIME_1\n#define CELLC_MCU_RUNTIME_1\n");
	fwrite(from, 1, (size_t)(to - from), o);
	out("#endif /* CELLC_MCU_RUNTIME_1 */\n");
}

static void emit_mcu_dispatch(const struct schema *s)
{
	out("/* ---- MCU dispatch (mcu/include/cell_mcu.h) ---- */\n\n");
	for (int i = 0; i < s->nmethods; i++) {
		const struct method *m = &s->methods[i];

		if (m->req->has_var)
			continue;
		out("CELLC_STATIC_ASSERT(%s_%s_SIZE <= CELL_MCU_MAX_PAYLOAD,\n"
		    "\t\t    \"%s: request larger than CELL_MCU_MAX_PAYLOAD\");\n",
		    U, up(m->req->name), m->name);
		if (m->resp && !m->resp->has_var)
			out("CELLC_STATIC_ASSERT(%s_%s_SIZE <= CELL_MCU_MAX_PAYLOAD,\n"
			    "\t\t    \"%s: response larger than CELL_MCU_MAX_PAYLOAD\");\n",
			    U, up(m->resp->name), m->name);
	}
	out("\n/*\n * One handler per method; NULL: not served (UNKNOWN_METHOD).  Each gets a\n"
	    " * request its validator accepted.  Fixed-size responses are built in\n"
	    " * place in *resp (zeroed); variable ones with the builder @b, set over\n"
	    " * the board's response buffer (CELL_MCU_MAX_PAYLOAD bytes).  A status\n"
	    " * other than OK is sent as an error response (call->detail: its text).\n */\n");
	out("struct %s_mcu_handlers {\n", P);
	emit_handler_fields(s, "struct cell_mcu_call *call", "struct cellc_builder *b");
	out("};\n\n");
	out("/* A board's server of schema %s: embed one (static storage), then\n"
	    " * %s_mcu_init(). */\n",
	    P, P);
	out("struct %s_mcu {\n\tstruct cell_mcu_server srv;\n\tconst struct %s_mcu_handlers *h;\n"
	    "\tvoid *ctx;\n\tstruct cell_mcu_method methods[%d];\n};\n\n",
	    P, P, s->nmethods ? s->nmethods : 1);
	for (int i = 0; i < s->nmethods; i++) {
		const struct method *m = &s->methods[i];
		const char *M = m->name, *R = m->req->name;

		out("static inline enum cell_status %s_%s_mcu_tramp_(struct cell_mcu_call *call, "
		    "void *p)\n{\n"
		    "\tconst struct %s_mcu *d = (const struct %s_mcu *)p;\n",
		    P, M, P, P);
		if (!m->resp) {
			out("\n\treturn d->h->%s((const struct %s_%s *)call->req, call, d->ctx);\n"
			    "}\n\n",
			    M, P, R);
		} else if (!m->resp->has_var) {
			const char *S = m->resp->name;

			out("\tenum cell_status st;\n\n\tmemset(call->resp, 0, %s_%s_SIZE);\n", U,
			    up(S));
			out("\tst = d->h->%s((const struct %s_%s *)call->req, (struct %s_%s "
			    "*)call->resp, call,\n\t\t\td->ctx);\n",
			    M, P, R, P, S);
			out("\tif (st == CELL_STATUS_OK)\n\t\tcall->resp_len = %s_%s_SIZE;\n"
			    "\treturn st;\n}\n\n",
			    U, up(S));
		} else {
			out("\tstruct cellc_builder b;\n\tenum cell_status st;\n\n"
			    "\tcellc_builder_init(&b, call->resp, call->resp_cap);\n");
			out("\tst = d->h->%s((const struct %s_%s *)call->req, &b, call, d->ctx);\n",
			    M, P, R);
			out("\tif (st != CELL_STATUS_OK)\n\t\treturn st;\n"
			    "\tcall->resp_len = cellc_builder_finish(&b);\n"
			    "\tif (!call->resp_len) {\n"
			    "\t\tcall->detail = b.err == -EMSGSIZE ? \"response larger than "
			    "CELL_MCU_MAX_PAYLOAD\"\n"
			    "\t\t\t\t\t\t: \"response builder failed\";\n"
			    "\t\treturn b.err == -EMSGSIZE ? CELL_STATUS_TOO_LARGE : "
			    "CELL_STATUS_INTERNAL;\n\t}\n\treturn CELL_STATUS_OK;\n}\n\n");
		}
	}
	out("/*\n * %s_mcu_init() - serve every method with a handler in @h (kept by\n"
	    " * pointer, as is @ctx) on @uart; PING and SCHEMA are answered too.  Then\n"
	    " * feed cell_mcu_server_rx_byte(&d->srv, b) from the RX interrupt and call\n"
	    " * cell_mcu_server_serve(&d->srv) from the main loop.\n */\n",
	    P);
	out("static inline void %s_mcu_init(struct %s_mcu *d, const struct cell_mcu_uart *uart,\n"
	    "\t\t\t\t const struct %s_mcu_handlers *h, void *ctx)\n{\n\tuint16_t n = 0;\n\n",
	    P, P, P);
	for (int i = 0; i < s->nmethods; i++) {
		const struct method *m = &s->methods[i];

		out("\tif (h->%s) {\n\t\td->methods[n].id = %s_METHOD_%s;\n"
		    "\t\td->methods[n].flags = %s;\n"
		    "\t\td->methods[n].validate = %s_%s_validate;\n"
		    "\t\td->methods[n].fn = %s_%s_mcu_tramp_;\n\t\tn++;\n\t}\n",
		    m->name, U, up(m->name), m->resp ? "0" : "CELL_MCU_M_ONEWAY", P, m->req->name,
		    P, m->name);
	}
	out("\tcell_mcu_server_init(&d->srv, uart, %s_FINGERPRINT, d->methods, n, d);\n", U);
	out("\td->srv.schema = %s_SCHEMA_TEXT;\n"
	    "\td->srv.schema_len = (uint32_t)sizeof(%s_SCHEMA_TEXT) - 1;\n"
	    "\td->h = h;\n\td->ctx = ctx;\n}\n\n",
	    U, U);
}

void emit_mcu_header(const struct schema *s, const char *src_name, FILE *f)
{
	struct buf text = { 0 };
	const char *base = strrchr(src_name, '/');

	o = f;
	mcu = 1;
	P = s->name;
	snprintf(U, sizeof(U), "%s", up(s->name));
	canonical_text(s, &text);

	out("/* Generated by cellc --mcu from %s: do not edit.  API: Documentation/mcu.rst */\n",
	    base ? base + 1 : src_name);
	out("#ifndef CELLC_%s_MCU_H\n#define CELLC_%s_MCU_H\n\n", U, U);
	out("/* Freestanding: no heap, nothing from libc but these. */\n");
	out("#include <stddef.h>\n#include <stdint.h>\n#include <string.h>\n\n"
	    "#include \"cell_mcu.h\"\n\n");
	out("#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__\n"
	    "#error \"Cell messages are little-endian in memory: this target is not\"\n#endif\n\n");
	out("/* The validators' and builders' error codes, as Linux numbers them. */\n");
	out("#ifndef EBADMSG\n#define EBADMSG 74\n#endif\n#ifndef EMSGSIZE\n#define EMSGSIZE 90\n"
	    "#endif\n#ifndef EINVAL\n#define EINVAL 22\n#endif\n#ifndef EILSEQ\n#define EILSEQ 84\n"
	    "#endif\n\n");
	out("#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n");
	emit_mcu_runtime();
	out("\n/* FNV-1a 64 of %s_SCHEMA_TEXT: equal to cell_fingerprint() of it. */\n", U);
	out("#define %s_FINGERPRINT 0x%016llxULL\n", U,
	    (unsigned long long)fnv1a64(text.p, text.len));
	out("#define %s_SCHEMA_TEXT \\\n\t", U);
	emit_c_string(text.p);
	out("\n\n");
	buf_release(&text);
	for (int i = 0; i < s->nmethods; i++)
		out("#define %s_METHOD_%s %llu\n", U, up(s->methods[i].name),
		    (unsigned long long)s->methods[i].id);
	if (s->nmethods)
		out("\n");
	for (int i = 0; i < s->nstructs; i++) {
		emit_struct_type(s->sorted[i]);
		emit_check(s->sorted[i]);
		emit_access(s->sorted[i]);
	}
	if (s->nmethods)
		emit_mcu_dispatch(s);
	out("#ifdef __cplusplus\n}\n#endif\n\n#endif /* CELLC_%s_MCU_H */\n", U);
	mcu = 0;
}
