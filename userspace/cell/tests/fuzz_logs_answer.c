// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Fuzz target of what `cell logs` does with celld's answer: the generated
 * validator of log_batch (nucleus.cell), then each record printed as text
 * and as JSON (logs_fmt.c).  Beyond "no crash, no read outside the
 * input": every accepted record's line lies inside the message, the JSON
 * of each record parses (json.c, strict) as an object with the record's
 * "seq" and a string "line"; the text of a record is one line.
 */
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "logs_fmt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char out[64 << 10];

static void check_json(const struct nucleus_log_record *r, size_t n)
{
	char err[128];
	struct json *v = json_parse(out, n, err, sizeof(err));
	const struct json *seq, *line;

	if (!v || v->type != JSON_OBJECT)
		abort();
	seq = json_get(v, "seq");
	line = json_get(v, "line");
	if (!seq || !seq->is_int || seq->u != r->seq || !line || line->type != JSON_STRING)
		abort();
	json_free(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint64_t buf[(64u << 10) / 8];
	const struct nucleus_log_record *recs;
	const struct nucleus_log_batch *b = (const void *)buf;
	uint32_t count;

	if (size > sizeof(buf))
		return 0;
	memcpy(buf, data, size);
	if (nucleus_log_batch_validate(buf, (uint32_t)size, NULL))
		return 0;
	recs = nucleus_log_batch_records(b, &count);
	for (uint32_t i = 0; i < count; i++) {
		uint32_t len;
		const uint8_t *line = nucleus_log_record_line_at(b, &recs[i], &len);
		FILE *f;
		size_t n;

		if (len && (line < (const uint8_t *)buf || line + len > (const uint8_t *)buf + size))
			abort();
		/* A line of 4096 bytes is at most 6 bytes each in JSON: it fits. */
		if (len > 8192)
			continue;
		f = fmemopen(out, sizeof(out), "w");
		if (!f)
			abort();
		cell_logs_print(f, true, b, &recs[i]);
		n = (size_t)ftell(f);
		fclose(f);
		if (!n || out[n - 1] != '\n')
			abort();
		check_json(&recs[i], n - 1);
		f = fmemopen(out, sizeof(out), "w");
		if (!f)
			abort();
		cell_logs_print(f, false, b, &recs[i]);
		n = (size_t)ftell(f);
		fclose(f);
		if (!n || memchr(out, '\n', n) != out + n - 1)
			abort();
	}
	return 0;
}
