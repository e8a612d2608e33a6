// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * codec_test: `cell call`'s JSON codec (codec.c) agrees with cellc's
 * generated code on every kind of field (kinds.cell): what the codec
 * builds from JSON passes the generated validator and reads back through
 * the generated accessors; what the generated builders write prints as the
 * expected JSON; bad values and messages are refused with the field named.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "kinds.cell.h"

static int n, failed;

static void ok(int cond, const char *what)
{
	printf("%sok %d %s\n", cond ? "" : "not ", ++n, what);
	if (!cond)
		failed = 1;
}

static const char full[] =
	"{\"u8v\":255,\"u16v\":65535,\"u32v\":4294967295,\"u64v\":18446744073709551615,"
	"\"i8v\":-128,\"i32v\":-2147483648,\"i64v\":-9223372036854775808,\"flag\":true,"
	"\"name\":\"h\\u00e9llo\",\"raw\":[0,255,7],\"one\":{\"a\":-3,\"b\":true,\"s\":\"x\"},"
	"\"fixed\":[{\"a\":1,\"b\":false,\"s\":\"\"},{\"a\":2,\"b\":false,\"s\":\"second\"}],"
	"\"many\":[{\"a\":10,\"b\":false,\"s\":\"m0\"},{\"a\":11,\"b\":true,\"s\":\"\"}],"
	"\"nums\":[1,2,3],\"three\":[7,8,9]}";

static struct cstruct *find(struct schema *s, const char *name)
{
	for (int i = 0; i < s->nstructs; i++)
		if (!strcmp(s->structs[i]->name, name))
			return s->structs[i];
	return NULL;
}

static char *print(const struct cstruct *st, const void *msg, uint32_t len, char *err)
{
	char *out = NULL;
	size_t olen = 0;
	FILE *f = open_memstream(&out, &olen);
	int rc = codec_print(f, st, msg, len, false, err, 256);

	fclose(f);
	if (rc) {
		free(out);
		return NULL;
	}
	out[strcspn(out, "\n")] = '\0';
	return out;
}

static void encode_reads_back(const struct cstruct *all)
{
	const struct kinds_all *m;
	const struct kinds_inner *many;
	const uint32_t *nums;
	const char *why = NULL, *s;
	struct json *v = json_parse(full, sizeof(full) - 1, (char[256]){ 0 }, 256);
	char err[256], *again, *expect, *at;
	uint8_t *msg;
	uint32_t len, cnt, slen;

	ok(v && !codec_encode(all, v, &msg, &len, err, sizeof(err)), "codec builds the full JSON");
	ok(!kinds_all_validate(msg, len, &why), "the generated validator accepts it");
	m = (const struct kinds_all *)msg;
	ok(m->u8v == 255 && m->u64v == UINT64_MAX && m->i8v == -128 && m->i64v == INT64_MIN &&
		   m->flag == 1 && m->three[2] == 9,
	   "scalars and fixed arrays read back through the generated struct");
	s = kinds_all_name(m, &slen);
	ok(slen == 6 && !memcmp(s, "h\xc3\xa9llo", 6), "a string with an escape reads back");
	many = kinds_all_many(m, &cnt);
	s = kinds_inner_s_at(m, &many[0], &slen);
	ok(cnt == 2 && many[1].a == 11 && slen == 2 && !memcmp(s, "m0", 2), "a vector of structs "
									    "with strings inside "
									    "reads back");
	nums = kinds_all_nums(m, &cnt);
	s = kinds_inner_s_at(m, &m->fixed[1], &slen);
	ok(cnt == 3 && nums[2] == 3 && slen == 6 && m->one.a == -3, "scalar vectors, nested and "
								    "fixed-array structs read "
								    "back");
	again = print(all, msg, len, err);
	/* The same text, but for the \u00e9 escape printed as the UTF-8 it stands for. */
	expect = strdup(full);
	at = strstr(expect, "\\u00e9");
	memcpy(at, "\xc3\xa9", 2);
	memmove(at + 2, at + 6, strlen(at + 6) + 1);
	ok(again && !strcmp(again, expect), "printing it gives the same JSON");
	free(expect);
	free(again);
	free(msg);
	json_free(v);
}

static void builders_print(const struct cstruct *all)
{
	_Alignas(8) uint8_t buf[512];
	struct cellc_builder b;
	struct kinds_all *m;
	struct kinds_inner *in;
	char err[256], *out;

	cellc_builder_init(&b, buf, sizeof(buf));
	m = kinds_all_start(&b);
	m->u16v = 513;
	m->i32v = -7;
	(void)kinds_all_set_name_str(&b, m, "gen");
	in = kinds_all_alloc_many(&b, m, 1);
	in->b = 1;
	(void)kinds_inner_set_s_str(&b, in, "v");
	(void)kinds_inner_set_s_str(&b, &m->one, "o");
	out = print(all, buf, cellc_builder_finish(&b), err);
	ok(out && strstr(out, "\"u16v\":513,") && strstr(out, "\"i32v\":-7,") &&
		   strstr(out, "\"name\":\"gen\"") &&
		   strstr(out, "\"many\":[{\"a\":0,\"b\":true,\"s\":\"v\"}]") &&
		   strstr(out, "\"one\":{\"a\":0,\"b\":false,\"s\":\"o\"}"),
	   "a message from the generated builders prints as JSON");
	free(out);
	buf[offsetof(struct kinds_all, flag)] = 2;
	out = print(all, buf, cellc_builder_finish(&b), err);
	ok(!out && strstr(err, "all.flag: bool is not 0 or 1"), "a bool of 2 is refused");
	buf[offsetof(struct kinds_all, flag)] = 0;
	m->name.len = 1000;
	out = print(all, buf, cellc_builder_finish(&b), err);
	ok(!out && strstr(err, "all.name: offset or length out of bounds"), "a span past the end "
									    "is refused");
	out = print(all, buf, 10, err);
	ok(!out && strstr(err, "shorter than its fixed part"), "a short message is refused");
}

static void bad_values(const struct cstruct *all)
{
	static const struct {
		const char *json, *err;
	} cases[] = {
		{ "{\"u8v\":256}", "u8v: 256 does not fit u8" },
		{ "{\"i8v\":-129}", "i8v: -129 does not fit i8" },
		{ "{\"u64v\":18446744073709551616}", "is not an integer of 64 bits" },
		{ "{\"u32v\":1.5}", "u32v: 1.5 is not an integer" },
		{ "{\"flag\":1}", "flag: expected true or false" },
		{ "{\"three\":[1,2,3,4]}", "three: 4 items for an array of 3" },
		{ "{\"many\":[{\"zz\":1}]}", "many[0]: struct inner has no field \"zz\"" },
		{ "{\"raw\":[256]}", "raw: byte 0 is not an integer 0..255" },
		{ "{\"one\":[]}", "one: expected an object (struct inner), found array" },
	};
	char err[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct json *v = json_parse(cases[i].json, strlen(cases[i].json), err, sizeof(err));
		uint8_t *msg = NULL;
		uint32_t len;
		char what[160];
		int rc = v ? codec_encode(all, v, &msg, &len, err, sizeof(err)) : 0;

		snprintf(what, sizeof(what), "%s is refused: %s", cases[i].json, cases[i].err);
		ok(v && rc && strstr(err, cases[i].err), what);
		if (!rc)
			free(msg);
		json_free(v);
	}
}

int main(void)
{
	struct schema s = { 0 };
	struct cstruct *all;

	printf("TAP version 13\n1..20\n");
	diag.file = "kinds.cell";
	if (parse_schema(KINDS_SCHEMA_TEXT, strlen(KINDS_SCHEMA_TEXT), &s) || check_schema(&s) ||
	    !(all = find(&s, "all")) || all->size != KINDS_ALL_SIZE) {
		printf("Bail out! the schema does not parse or its layout differs\n");
		return 1;
	}
	encode_reads_back(all);
	builders_print(all);
	bad_values(all);
	arena_free();
	return failed;
}
