// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* `cell logs` output: one record as text or JSON (logs_fmt.h). */
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "jsonout.h"
#include "logs_fmt.h"

static const char *stream_name(uint8_t stream)
{
	return stream == 2 ? "stderr" : "stdout";
}

static void put_time(char *buf, size_t cap, uint64_t ns)
{
	time_t s = (time_t)(ns / 1000000000u);
	struct tm tm;
	size_t n = 0;

	if (gmtime_r(&s, &tm))
		n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!n)
		n = (size_t)snprintf(buf, cap, "@%llu", (unsigned long long)s); /* no date */
	if (n < cap)
		snprintf(buf + n, cap - n, ".%06uZ", (unsigned int)(ns % 1000000000u / 1000u));
}

static void print_text(FILE *out, const struct nucleus_log_record *r, const char *line,
		       uint32_t len)
{
	char when[48];

	put_time(when, sizeof(when), r->time_ns);
	fprintf(out, "%s %s%s ", when, stream_name(r->stream), r->flags & 1 ? "+" : "");
	for (uint32_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)line[i];

		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			fprintf(out, "\\x%02x", ch);
		else
			fputc(ch, out);
	}
	fputc('\n', out);
}

static void print_json(FILE *out, const struct nucleus_log_record *r, const char *line,
		       uint32_t len)
{
	char when[48];

	put_time(when, sizeof(when), r->time_ns);
	fprintf(out, "{\"seq\":%" PRIu64 ",\"time\":\"%s\",\"time_ns\":%" PRIu64, r->seq, when,
		r->time_ns);
	fprintf(out, ",\"stream\":\"%s\",\"pid\":%d,\"instance\":%u", stream_name(r->stream),
		r->pid, r->instance);
	fprintf(out, ",\"split\":%s,\"eol\":%s,\"line\":", r->flags & 1 ? "true" : "false",
		r->flags & 3 ? "false" : "true");
	json_put_string(out, line, len);
	fputs("}\n", out);
}

void cell_logs_print(FILE *out, bool json, const struct nucleus_log_batch *b,
		     const struct nucleus_log_record *r)
{
	uint32_t len;
	const char *line = (const char *)nucleus_log_record_line_at(b, r, &len);

	if (json)
		print_json(out, r, line, len);
	else
		print_text(out, r, line, len);
}
