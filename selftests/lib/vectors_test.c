// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Reads every frame of selftests/vectors/frames.tsv through libcell's
 * decoder, every traced frame of trace.tsv through the decoder of a
 * receiver that granted CELL_FEAT_TRACE, and every fingerprint of
 * fingerprints.tsv through cell_fingerprint(); one TAP line per vector.
 *
 *   vectors_test VECTORS_DIR
 *
 * A valid frame must decode to exactly the listed fields and re-encode to
 * the same header bytes; an invalid one must be refused with exactly the
 * listed error.  The two frame files together must hold at least one
 * vector of every error kind, so a new kind cannot be added without a
 * vector.  Every frames.tsv vector without bit 7 must also decode the
 * same way for a tracing receiver (tracing changes nothing else).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cell/wire.h>
#include "../vectors/tsv.h"

#define MAX_FIELDS 8
#define MAX_FRAME  4096

static int test_number;
static int failures;
static int seen[CELL_WIRE_ERROR_MAX]; /* vectors of each kind, both frame files */

static void result(int ok, const char *fmt, const char *name, const char *why)
{
	test_number++;
	printf("%s %d %s %s%s%s\n", ok ? "ok" : "not ok", test_number, fmt, name, why ? ": " : "",
	       why ? why : "");
	if (!ok)
		failures++;
}

/* Look up "key=value" in a space-separated field list. */
static const char *field(const char *fields, const char *key, char *buf, size_t cap)
{
	size_t klen = strlen(key);
	const char *p = fields;

	while (p && *p) {
		if (!strncmp(p, key, klen) && p[klen] == '=') {
			size_t vlen = strcspn(p + klen + 1, " ");

			if (vlen >= cap)
				return NULL;
			memcpy(buf, p + klen + 1, vlen);
			buf[vlen] = '\0';
			return buf;
		}
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	return NULL;
}

static int field_u64(const char *fields, const char *key, uint64_t *v)
{
	char buf[64];
	char *end;

	if (!field(fields, key, buf, sizeof(buf)))
		return -ENOENT;
	*v = strtoull(buf, &end, 0);
	return *end ? -EINVAL : 0;
}

/* The decoded header against the fields column; it must re-encode alike. */
static const char *check_header(const struct cell_hdr *hdrp, const uint8_t *bytes,
				const void *payload, const char *fields)
{
	static const char *const keys[] = { "version",	   "flags", "method",
					    "correlation", "len",   "fingerprint" };
	static char why[160];
	struct cell_hdr hdr = *hdrp;
	uint8_t again[CELL_HDR_SIZE];
	uint64_t want[6], got[6];

	got[0] = hdr.version;
	got[1] = hdr.flags;
	got[2] = hdr.method;
	got[3] = hdr.correlation;
	got[4] = hdr.len;
	got[5] = cell_hdr_fingerprint(&hdr);
	for (int i = 0; i < 6; i++) {
		if (field_u64(fields, keys[i], &want[i]))
			return "fields column lacks a header field";
		if (want[i] != got[i]) {
			snprintf(why, sizeof(why), "%s is 0x%" PRIx64 ", want 0x%" PRIx64, keys[i],
				 got[i], want[i]);
			return why;
		}
	}
	if (payload != bytes + CELL_HDR_SIZE)
		return "payload does not point just past the header";
	cell_hdr_encode(&hdr, again);
	if (memcmp(again, bytes, CELL_HDR_SIZE))
		return "re-encoded header differs from the vector";
	return NULL;
}

static const char *check_valid(const uint8_t *bytes, size_t n, const char *fields)
{
	static char why[160];
	const void *payload;
	struct cell_hdr hdr;
	enum cell_wire_error err;
	const char *bad;

	err = cell_frame_decode(bytes, n, 65536, &hdr, &payload);
	if (err) {
		snprintf(why, sizeof(why), "refused as %s", cell_wire_error_name(err));
		return why;
	}
	bad = check_header(&hdr, bytes, payload, fields);
	if (bad)
		return bad;
	if (hdr.flags & CELL_F_ERROR) {
		uint64_t status;
		uint16_t got_status;
		const char *detail;
		uint32_t detail_len;
		char want_detail[128];
		uint8_t rebuilt[256];
		size_t len;

		if (field_u64(fields, "status", &status) ||
		    !field(fields, "detail", want_detail, sizeof(want_detail)))
			return "error vector lacks status= or detail=";
		if (cell_error_decode(payload, hdr.len, &got_status, &detail, &detail_len))
			return "error payload refused";
		if (got_status != status || detail_len != strlen(want_detail) ||
		    memcmp(detail, want_detail, detail_len))
			return "error status or detail differs";
		len = cell_error_encode(rebuilt, sizeof(rebuilt), got_status, detail, detail_len);
		if (len != hdr.len || memcmp(rebuilt, payload, len))
			return "re-encoded error payload differs";
	}
	return NULL;
}

/* A frame without bit 7 decodes alike for a receiver that traces. */
static void same_when_tracing(const uint8_t *bytes, size_t n, const char *name)
{
	struct cell_hdr a, b;
	const void *pa, *pb;
	struct cell_trace_ctx trace;
	uint32_t plen;
	enum cell_wire_error plain = cell_frame_decode(bytes, n, 65536, &a, &pa);
	enum cell_wire_error traced =
		cell_frame_decode_traced(bytes, n, 65536, &b, &pb, &plen, &trace);

	result(plain == traced && (plain || (!memcmp(&a, &b, sizeof(a)) && plen == a.len)),
	       "untraced-frame-when-tracing", name,
	       plain == traced ? NULL : "a tracing receiver decodes it differently");
}

static int field_hex(const char *fields, const char *key, uint8_t *out, size_t n)
{
	char buf[64];
	size_t got;

	if (!field(fields, key, buf, sizeof(buf)) || parse_hex(buf, out, n, &got) || got != n)
		return -EINVAL;
	return 0;
}

/* A valid traced frame: header fields, the payload length and the context. */
static const char *check_traced(const uint8_t *bytes, size_t n, const char *fields)
{
	static char why[160];
	struct cell_trace_ctx trace, want = { 0 };
	uint8_t again[CELL_TRACE_TRAILER_SIZE];
	uint64_t plen_want, tflags;
	const void *payload;
	struct cell_hdr hdr;
	uint32_t plen;
	enum cell_wire_error err;
	const char *base;

	err = cell_frame_decode_traced(bytes, n, 65536, &hdr, &payload, &plen, &trace);
	if (err) {
		snprintf(why, sizeof(why), "refused as %s", cell_wire_error_name(err));
		return why;
	}
	/* The header's fields, as for frames.tsv, with bit 7 accepted. */
	base = check_header(&hdr, bytes, payload, fields);
	if (base)
		return base;
	if (field_u64(fields, "payload_len", &plen_want) || plen_want != plen)
		return "payload_len differs";
	if (!(hdr.flags & CELL_F_TRACE)) {
		uint8_t zero[sizeof(trace)] = { 0 };

		return memcmp(&trace, zero, sizeof(trace)) ? "context set on an untraced frame"
							   : NULL;
	}
	if (field_hex(fields, "trace_id", want.trace_id, 16) ||
	    field_hex(fields, "span_id", want.span_id, 8) ||
	    field_u64(fields, "trace_flags", &tflags))
		return "fields column lacks trace_id=, span_id= or trace_flags=";
	want.flags = (uint8_t)tflags;
	if (memcmp(want.trace_id, trace.trace_id, 16) || memcmp(want.span_id, trace.span_id, 8) ||
	    want.flags != trace.flags)
		return "trace context differs";
	cell_trace_trailer_encode(&trace, again);
	if (memcmp(again, (const uint8_t *)payload + plen, sizeof(again)))
		return "re-encoded trailer differs from the vector";
	return NULL;
}

static int run_traced(const char *dir)
{
	char path[4096], line[4 * MAX_FRAME];
	FILE *f;

	snprintf(path, sizeof(path), "%s/trace.tsv", dir);
	f = fopen(path, "r");
	if (!f) {
		result(0, "open", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		char *cols[5], why[128];
		uint8_t bytes[MAX_FRAME];
		struct cell_trace_ctx trace;
		const void *payload;
		struct cell_hdr hdr;
		enum cell_wire_error err;
		uint32_t plen;
		size_t n;

		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (split_tabs(line, cols, 5) != 5 ||
		    parse_hex(cols[2], bytes, sizeof(bytes), &n)) {
			result(0, "traced", cols[0], "malformed vector line");
			continue;
		}
		if (!strcmp(cols[1], "ok")) {
			const char *bad = check_traced(bytes, n, cols[3]);

			seen[CELL_WIRE_OK]++;
			result(!bad, "traced", cols[0], bad);
			continue;
		}
		err = cell_frame_decode_traced(bytes, n, 65536, &hdr, &payload, &plen, &trace);
		if ((unsigned int)err < CELL_WIRE_ERROR_MAX)
			seen[err]++;
		snprintf(why, sizeof(why), "decoded as %s, want %s", cell_wire_error_name(err),
			 cols[1]);
		result(!strcmp(cell_wire_error_name(err), cols[1]), "traced", cols[0],
		       strcmp(cell_wire_error_name(err), cols[1]) ? why : NULL);
	}
	fclose(f);
	return 0;
}

static void coverage(void)
{
	for (int e = 0; e < CELL_WIRE_ERROR_MAX; e++)
		result(seen[e] > 0, "coverage", cell_wire_error_name(e),
		       seen[e] ? NULL : "no vector of this kind");
}

static int run_frames(const char *dir)
{
	char path[4096], line[4 * MAX_FRAME];
	FILE *f;

	snprintf(path, sizeof(path), "%s/frames.tsv", dir);
	f = fopen(path, "r");
	if (!f) {
		result(0, "open", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		char *cols[5];
		uint8_t bytes[MAX_FRAME];
		size_t n;
		int ncols;

		if (line[0] == '#' || line[0] == '\n')
			continue;
		ncols = split_tabs(line, cols, 5);
		if (ncols != 5 || parse_hex(cols[2], bytes, sizeof(bytes), &n)) {
			result(0, "frame", cols[0], "malformed vector line");
			continue;
		}
		if (!strcmp(cols[1], "ok")) {
			const char *why = check_valid(bytes, n, cols[3]);

			seen[CELL_WIRE_OK]++;
			result(!why, "frame", cols[0], why);
		} else {
			struct cell_hdr hdr;
			const void *payload;
			enum cell_wire_error err =
				cell_frame_decode(bytes, n, 65536, &hdr, &payload);
			char why[128];

			if ((unsigned int)err < CELL_WIRE_ERROR_MAX)
				seen[err]++;
			snprintf(why, sizeof(why), "decoded as %s, want %s",
				 cell_wire_error_name(err), cols[1]);
			result(!strcmp(cell_wire_error_name(err), cols[1]), "frame", cols[0],
			       strcmp(cell_wire_error_name(err), cols[1]) ? why : NULL);
		}
		if (n >= 2 && !(bytes[1] & CELL_F_TRACE))
			same_when_tracing(bytes, n, cols[0]);
	}
	fclose(f);
	return 0;
}

/* fingerprints.tsv: text with \n \t \\ escapes, then the hash in hex. */
static int run_fingerprints(const char *dir)
{
	char path[4096], line[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/fingerprints.tsv", dir);
	f = fopen(path, "r");
	if (!f) {
		result(0, "open", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		char *cols[3], text[4096], why[128];
		size_t len = 0;
		uint64_t want, got;

		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (split_tabs(line, cols, 3) != 3) {
			result(0, "fingerprint", line, "malformed vector line");
			continue;
		}
		for (const char *p = cols[1]; *p; p++) {
			if (*p == '\\' && p[1]) {
				p++;
				text[len++] = *p == 'n' ? '\n' : *p == 't' ? '\t' : *p;
			} else {
				text[len++] = *p;
			}
		}
		want = strtoull(cols[2], NULL, 16);
		got = cell_fingerprint(text, len);
		snprintf(why, sizeof(why), "got 0x%016" PRIx64 ", want 0x%016" PRIx64, got, want);
		result(got == want, "fingerprint", cols[0], got == want ? NULL : why);
	}
	fclose(f);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s VECTORS_DIR\n", argv[0]);
		return 2;
	}
	printf("TAP version 13\n");
	run_frames(argv[1]);
	run_traced(argv[1]);
	coverage();
	run_fingerprints(argv[1]);
	printf("1..%d\n", test_number);
	printf("# %d vectors, %d failed\n", test_number, failures);
	return failures ? 1 : 0;
}
