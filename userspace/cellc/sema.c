// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Checks a parsed schema and computes the wire layout.
 *
 * Names: the schema and struct names are [a-z][a-z0-9_]* (they become
 * C prefixes and upper-case macros), field and method names
 * [A-Za-z][A-Za-z0-9_]*, none with "__", none a C or C++ keyword.
 * Layout: each field at its natural alignment in declaration order; a
 * string, bytes or vector is a {u32 off, u32 len} span (alignment 4); a
 * struct's alignment is its largest field's, its size a multiple of it.
 * Finally every identifier the header will define is checked for clashes.
 */
#include <ctype.h>
#include <string.h>

#include "cellc.h"

static const char *const keywords[] = {
	/* C11 */
	"auto",
	"break",
	"case",
	"char",
	"const",
	"continue",
	"default",
	"do",
	"double",
	"else",
	"enum",
	"extern",
	"float",
	"for",
	"goto",
	"if",
	"inline",
	"int",
	"long",
	"register",
	"restrict",
	"return",
	"short",
	"signed",
	"sizeof",
	"static",
	"struct",
	"switch",
	"typedef",
	"union",
	"unsigned",
	"void",
	"volatile",
	"while",
	"_Alignas",
	"_Alignof",
	"_Atomic",
	"_Bool",
	"_Complex",
	"_Generic",
	"_Imaginary",
	"_Noreturn",
	"_Static_assert",
	"_Thread_local",
	/* C++17 */
	"alignas",
	"alignof",
	"and",
	"and_eq",
	"asm",
	"bitand",
	"bitor",
	"bool",
	"catch",
	"char16_t",
	"char32_t",
	"class",
	"compl",
	"constexpr",
	"const_cast",
	"decltype",
	"delete",
	"dynamic_cast",
	"explicit",
	"export",
	"false",
	"friend",
	"mutable",
	"namespace",
	"new",
	"noexcept",
	"not",
	"not_eq",
	"nullptr",
	"operator",
	"or",
	"or_eq",
	"private",
	"protected",
	"public",
	"reinterpret_cast",
	"static_assert",
	"static_cast",
	"template",
	"this",
	"thread_local",
	"throw",
	"true",
	"try",
	"typeid",
	"typename",
	"using",
	"virtual",
	"wchar_t",
	"xor",
	"xor_eq",
	/* macros every generated header sees */
	"errno",
	"offsetof",
	"NULL",
};

static const struct {
	const char *name;
	enum type_kind kind;
	uint32_t size;
} builtins[] = {
	{ "u8", TY_U8, 1 },	    { "u16", TY_U16, 2 },     { "u32", TY_U32, 4 },
	{ "u64", TY_U64, 8 },	    { "i8", TY_I8, 1 },	      { "i16", TY_I16, 2 },
	{ "i32", TY_I32, 4 },	    { "i64", TY_I64, 8 },     { "bool", TY_BOOL, 1 },
	{ "string", TY_STRING, 8 }, { "bytes", TY_BYTES, 8 },
};

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static int is_keyword(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(keywords); i++)
		if (!strcmp(name, keywords[i]))
			return 1;
	return 0;
}

static int builtin(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(builtins); i++)
		if (!strcmp(name, builtins[i].name))
			return (int)i;
	return -1;
}

/* Checks an identifier; @lower: only [a-z0-9_]. */
static void check_name(const char *what, const char *name, struct loc at, int lower)
{
	const char *p;

	if (!(islower((unsigned char)name[0]) || (!lower && isupper((unsigned char)name[0])))) {
		error_at(at, "%s '%s' must start with a %sletter", what, name,
			 lower ? "lower-case " : "");
		return;
	}
	for (p = name; *p; p++) {
		if (lower && isupper((unsigned char)*p)) {
			error_at(at, "%s '%s' must be lower case", what, name);
			return;
		}
	}
	if (strstr(name, "__"))
		error_at(at, "%s '%s' contains '__' (reserved in C and C++)", what, name);
	else if (is_keyword(name))
		error_at(at, "%s '%s' is a C or C++ keyword", what, name);
}

static struct cstruct *find_struct(const struct schema *s, const char *name)
{
	for (int i = 0; i < s->nstructs; i++)
		if (!strcmp(s->structs[i]->name, name))
			return s->structs[i];
	return NULL;
}

static void resolve_field(const struct schema *s, struct cstruct *st, struct field *f)
{
	int b = builtin(f->type_name);

	check_name("field", f->name, f->at, 0);
	for (struct field *g = st->fields; g < f; g++) {
		if (!strcmp(g->name, f->name)) {
			error_at(f->at, "duplicate field '%s' in struct '%s' (first at %d:%d)",
				 f->name, st->name, g->at.line, g->at.col);
			break;
		}
	}
	if (b >= 0) {
		f->kind = builtins[b].kind;
	} else {
		f->kind = TY_STRUCT;
		f->st = find_struct(s, f->type_name);
		if (!f->st) {
			error_at(f->type_at, "unknown type '%s'", f->type_name);
			return;
		}
	}
	if (f->arr != ARR_NONE && (f->kind == TY_STRING || f->kind == TY_BYTES)) {
		error_at(f->type_at, "'%s' cannot be an array element (wrap it in a struct)",
			 f->type_name);
		return;
	}
	if (f->arr == ARR_FIXED && (f->count == 0 || f->count > CELLC_MAX_ARRAY)) {
		error_at(f->count_at, "array size %llu out of range (1 to %u)",
			 (unsigned long long)f->count, CELLC_MAX_ARRAY);
		f->count = 1; /* lay out the rest without a second error */
	}
}

/*
 * Lays out @st after the structs it contains (depth first), detecting
 * cycles: @path holds the structs being laid out, @npath of them.
 */
static void lay_out(struct schema *s, struct cstruct *st, struct cstruct **path, int npath)
{
	uint64_t off = 0;
	uint32_t align = 1;

	if (st->laid_out)
		return;
	st->laid_out = 1;
	path[npath++] = st;
	st->depth = 1;
	for (int i = 0; i < st->nfields; i++) {
		struct field *f = &st->fields[i];
		uint64_t esize;
		uint32_t ealign;

		if (f->kind == TY_STRUCT && f->st) {
			if (f->st->laid_out == 1) {
				struct buf cycle = { 0 };
				int k = 0;

				while (path[k] != f->st)
					k++;
				for (; k < npath; k++)
					buf_printf(&cycle, "%s -> ", path[k]->name);
				buf_puts(&cycle, f->st->name);
				error_at(f->type_at, "recursive struct: %s", cycle.p);
				buf_release(&cycle);
				f->st = NULL;
				continue;
			}
			lay_out(s, f->st, path, npath);
			if (f->st->depth + 1 > st->depth)
				st->depth = f->st->depth + 1;
			if (f->st->has_var)
				st->has_var = 1;
		}
		if (f->arr == ARR_VECTOR || f->kind == TY_STRING || f->kind == TY_BYTES) {
			st->has_var = 1;
			f->size = 8;
			f->align = 4;
		} else {
			if (f->kind == TY_STRUCT) {
				if (!f->st)
					continue;
				esize = f->st->size;
				ealign = f->st->align;
			} else {
				esize = builtins[f->kind].size;
				ealign = builtins[f->kind].size;
			}
			if (f->arr == ARR_FIXED)
				esize *= f->count;
			if (esize > CELLC_MAX_FIXED) {
				error_at(f->at, "field '%s' is larger than %u bytes", f->name,
					 CELLC_MAX_FIXED);
				esize = 1;
			}
			f->size = (uint32_t)esize;
			f->align = ealign;
		}
		off = (off + f->align - 1) & ~(uint64_t)(f->align - 1);
		f->offset = (uint32_t)(off > CELLC_MAX_FIXED ? 0 : off);
		off += f->size;
		if (f->align > align)
			align = f->align;
	}
	off = (off + align - 1) & ~(uint64_t)(align - 1);
	if (off > CELLC_MAX_FIXED) {
		error_at(st->at, "struct '%s' has a fixed part larger than %u bytes", st->name,
			 CELLC_MAX_FIXED);
		off = align;
	}
	st->size = (uint32_t)off;
	st->align = align;
	if (st->depth == CELLC_MAX_DEPTH + 1)
		error_at(st->at, "struct '%s' nests %d levels deep (limit %d)", st->name, st->depth,
			 CELLC_MAX_DEPTH);
	st->laid_out = 2;
	for (int i = 0; i < s->nstructs; i++) {
		if (!s->sorted[i]) {
			s->sorted[i] = st;
			break;
		}
	}
}

static struct cstruct *method_type(const struct schema *s, const char *name, struct loc at,
				   const char *what)
{
	struct cstruct *st;

	if (builtin(name) >= 0) {
		error_at(at, "%s type '%s' is not a struct", what, name);
		return NULL;
	}
	st = find_struct(s, name);
	if (!st)
		error_at(at, "unknown type '%s'", name);
	return st;
}

static void check_methods(struct schema *s)
{
	if (s->service)
		check_name("service", s->service, s->service_at, 0);
	for (int i = 0; i < s->nmethods; i++) {
		struct method *m = &s->methods[i];

		check_name("method", m->name, m->at, 0);
		if (m->id >= CELLC_METHOD_RESERVED && m->id <= 0xffff)
			error_at(m->id_at,
				 "method id %llu is reserved (ids from 0xff00 belong to Cell)",
				 (unsigned long long)m->id);
		else if (m->id > 0xffff)
			error_at(m->id_at, "method id %llu does not fit 16 bits",
				 (unsigned long long)m->id);
		for (int j = 0; j < i; j++) {
			if (s->methods[j].id == m->id)
				error_at(m->id_at, "duplicate method id %llu (first used by '%s')",
					 (unsigned long long)m->id, s->methods[j].name);
			if (!strcmp(s->methods[j].name, m->name))
				error_at(m->at, "duplicate method '%s'", m->name);
		}
		m->req = method_type(s, m->req_name, m->req_at, "request");
		if (m->resp_name)
			m->resp = method_type(s, m->resp_name, m->resp_at, "response");
	}
}

/* ---- clashes between generated identifiers ---- */

struct gen_name {
	char *name;
	struct loc at;
};

struct names {
	struct gen_name *v;
	int n;
	int cap;
	const char *prefix;
	const char *upper;
};

static void add_name(struct names *ns, struct loc at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void add_name(struct names *ns, struct loc at, const char *fmt, ...)
{
	va_list ap;
	int n;
	char *p;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	p = xalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	for (int i = 0; i < ns->n; i++) {
		if (!strcmp(ns->v[i].name, p)) {
			error_at(at, "generated name '%s' clashes with the one from %d:%d", p,
				 ns->v[i].at.line, ns->v[i].at.col);
			return;
		}
	}
	if (ns->n == ns->cap) {
		struct gen_name *grown;

		ns->cap = ns->cap ? ns->cap * 2 : 64;
		grown = xalloc(sizeof(*grown) * (size_t)ns->cap);
		if (ns->n)
			memcpy(grown, ns->v, sizeof(*grown) * (size_t)ns->n);
		ns->v = grown;
	}
	ns->v[ns->n].name = p;
	ns->v[ns->n].at = at;
	ns->n++;
}

static char *upper(const char *s)
{
	char *u = xstrndup(s, strlen(s));

	for (char *p = u; *p; p++)
		*p = (char)toupper((unsigned char)*p);
	return u;
}

static void check_clashes(const struct schema *s)
{
	struct names ns = { 0 };
	const char *p = s->name;
	const char *u = upper(s->name);

	add_name(&ns, s->at, "%s_FINGERPRINT", u);
	add_name(&ns, s->at, "%s_SCHEMA_TEXT", u);
	add_name(&ns, s->at, "%s_serve", p);
	add_name(&ns, s->at, "%s_server_opts", p);
	add_name(&ns, s->at, "%s_client_opts", p);
	add_name(&ns, s->at, "struct %s_handlers", p);
	add_name(&ns, s->at, "struct %s_binding_", p);
	add_name(&ns, s->at, "%s_bindings_", p);
	for (int i = 0; i < s->nstructs; i++) {
		const struct cstruct *st = s->structs[i];
		const char *su = upper(st->name);

		add_name(&ns, st->at, "struct %s_%s", p, st->name);
		add_name(&ns, st->at, "%s_%s_SIZE", u, su);
		add_name(&ns, st->at, "%s_%s_ALIGN", u, su);
		add_name(&ns, st->at, "%s_%s_check_", p, st->name);
		add_name(&ns, st->at, "%s_%s_validate", p, st->name);
		add_name(&ns, st->at, "%s_%s_start", p, st->name);
		add_name(&ns, st->at, "%s_%s_reply_begin", p, st->name);
		for (int j = 0; j < st->nfields; j++) {
			const struct field *f = &st->fields[j];

			if (f->arr != ARR_VECTOR && f->kind != TY_STRING && f->kind != TY_BYTES)
				continue;
			add_name(&ns, f->at, "%s_%s_%s", p, st->name, f->name);
			add_name(&ns, f->at, "%s_%s_%s_at", p, st->name, f->name);
			add_name(&ns, f->at, "%s_%s_alloc_%s", p, st->name, f->name);
			if (f->kind != TY_STRUCT)
				add_name(&ns, f->at, "%s_%s_set_%s", p, st->name, f->name);
			if (f->kind == TY_STRING)
				add_name(&ns, f->at, "%s_%s_set_%s_str", p, st->name, f->name);
		}
	}
	for (int i = 0; i < s->nmethods; i++) {
		const struct method *m = &s->methods[i];

		add_name(&ns, m->at, "%s_METHOD_%s", u, upper(m->name));
		add_name(&ns, m->at, "%s_%s", p, m->name);
		add_name(&ns, m->at, "%s_%s_begin", p, m->name);
		add_name(&ns, m->at, "%s_%s_finish", p, m->name);
		add_name(&ns, m->at, "%s_%s_tramp_", p, m->name);
	}
}

int check_schema(struct schema *s)
{
	struct cstruct **path;

	check_name("schema", s->name, s->at, 1);
	for (int i = 0; i < s->nstructs; i++) {
		struct cstruct *st = s->structs[i];

		check_name("struct", st->name, st->at, 1);
		if (builtin(st->name) >= 0)
			error_at(st->at, "'%s' is a built-in type", st->name);
		for (int j = 0; j < i; j++) {
			if (!strcmp(s->structs[j]->name, st->name)) {
				error_at(st->at, "duplicate struct '%s' (first at %d:%d)", st->name,
					 s->structs[j]->at.line, s->structs[j]->at.col);
				break;
			}
		}
		if (!st->nfields)
			error_at(st->at, "struct '%s' has no fields", st->name);
		for (int j = 0; j < st->nfields; j++)
			resolve_field(s, st, &st->fields[j]);
	}
	s->sorted = xalloc(sizeof(*s->sorted) * (size_t)(s->nstructs + 1));
	path = xalloc(sizeof(*path) * (size_t)(s->nstructs + 1));
	for (int i = 0; i < s->nstructs; i++)
		lay_out(s, s->structs[i], path, 0);
	check_methods(s);
	if (!diag.errors)
		check_clashes(s);
	return diag.errors ? -1 : 0;
}
