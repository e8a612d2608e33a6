// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Fuzz target for `cell call`'s parsers of foreign bytes: the JSON parser
 * (json.c: the user's request) and the schema-driven codec (codec.c: the
 * request built from that JSON, and responses from a cell, which may be
 * anything).  The first byte picks: even - the rest is JSON, built into
 * every struct of the schema below, and each message built is printed
 * back (a built message must always print); odd - the rest is a message,
 * printed as each struct (it may be refused, never read out of bounds).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char schema_text[] = "schema fz;\n"
				  "struct inner { i16 a; bool b; string s; }\n"
				  "struct all { u8 u8v; u16 u16v; u32 u32v; u64 u64v; i8 i8v; i32 "
				  "i32v; i64 i64v; "
				  "bool flag; string name; bytes raw; inner one; inner fixed[2]; "
				  "inner many[]; "
				  "u32 nums[]; u16 three[3]; }\n"
				  "service fz { 1: go(all) -> all; }\n";

static struct schema s;
static bool loaded;

static void load(void)
{
	diag.file = "fuzz schema";
	if (parse_schema(schema_text, sizeof(schema_text) - 1, &s) || check_schema(&s))
		abort();
	loaded = true;
}

static void json_case(const uint8_t *data, size_t size)
{
	char err[300];
	struct json *v = json_parse((const char *)data, size, err, sizeof(err));

	if (!v) {
		if (!err[0])
			abort(); /* every refusal says why */
		return;
	}
	for (int i = 0; i < s.nstructs; i++) {
		uint8_t *msg;
		uint32_t len;
		FILE *null = fopen("/dev/null", "w");

		if (!codec_encode(s.structs[i], v, &msg, &len, err, sizeof(err))) {
			if (codec_print(null, s.structs[i], msg, len, false, err, sizeof(err)))
				abort(); /* what we build, we must read */
			free(msg);
		}
		fclose(null);
	}
	json_free(v);
}

static void message_case(const uint8_t *data, size_t size)
{
	uint8_t *buf = malloc(size ? size : 1);
	FILE *null = fopen("/dev/null", "w");
	char err[300];

	memcpy(buf, data, size);
	for (int i = 0; i < s.nstructs; i++)
		(void)codec_print(null, s.structs[i], buf, (uint32_t)size, i & 1, err, sizeof(err));
	fclose(null);
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!loaded)
		load();
	if (!size || size > (1U << 20))
		return 0;
	if (data[0] & 1)
		message_case(data + 1, size - 1);
	else
		json_case(data + 1, size - 1);
	return 0;
}
