// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * cell call [-j] [-t MS] NAME METHOD [JSON]: one call of METHOD (its name
 * or id) of the running cell NAME.  The schema comes from the cell itself
 * (method 0), is parsed with cellc's own front end and must give the
 * fingerprint the cell has; the request is built from JSON (default {})
 * through it (codec.h) and the response printed as JSON.  An error is
 * printed as its status name and detail; with -j also on stdout as
 * {"status": ..., "detail": ...}.
 * Exit status: 0, 1 (the call failed or was refused, bad JSON), 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cell/rpc.h>
#include <cell/time.h>

#include "cell.h"
#include "cellc.h"
#include "codec.h"
#include "json.h"
#include "jsonout.h"
#include "probe.h"

#define CALL_TIMEOUT_MS 5000
#define CALL_MAX_JSON	(16U << 20)

struct call_args {
	const char *name, *method, *json;
	bool compact;
	unsigned int timeout_ms;
};

static int call_usage(FILE *out)
{
	fputs("usage: cell call [-j] [-t MS] NAME METHOD [JSON]\n"
	      "  METHOD  a method's name or id; JSON the request (default {})\n"
	      "  -j      compact JSON, errors as JSON too   -t MS  deadline (default 5000)\n",
	      out);
	return out == stdout ? 0 : 2;
}

static int report(const struct call_args *a, enum cell_status st, const char *detail,
		  size_t detail_len)
{
	const char *sname = cell_status_name(st);

	fprintf(stderr, "cell call: %s.%s: %s%s%.*s\n", a->name, a->method, sname,
		detail_len ? ": " : "", (int)detail_len, detail ? detail : "");
	if (a->compact) {
		printf("{\"status\":\"%s\",\"detail\":", sname);
		json_put_string(stdout, detail ? detail : "", detail_len);
		puts("}");
	}
	return 1;
}

static int report_text(const struct call_args *a, enum cell_status st, const char *text)
{
	return report(a, st, text, strlen(text));
}

static const struct method *find_method(const struct schema *s, const char *m)
{
	char *end;
	unsigned long id = strtoul(m, &end, 0);

	for (int i = 0; i < s->nmethods; i++)
		if ((!*end && end != m && s->methods[i].id == id) || !strcmp(s->methods[i].name, m))
			return &s->methods[i];
	return NULL;
}

/* The cell's schema text parsed and checked against its fingerprint. */
static int load_schema(const struct call_args *a, const struct cell_probe *p, struct schema *s)
{
	struct buf canon = { 0 };
	char why[160];
	uint64_t fp;

	if (!p->schema)
		return report_text(a, CELL_STATUS_NOT_FOUND,
				   "the cell serves no schema text: no request can be built");
	diag.file = "schema served by the cell";
	if (parse_schema(p->schema, strlen(p->schema), s) || check_schema(s))
		return report_text(a, CELL_STATUS_BAD_MESSAGE, "its schema text does not parse");
	canonical_text(s, &canon);
	fp = fnv1a64(canon.p, canon.len);
	buf_release(&canon);
	if (fp != p->fingerprint) {
		snprintf(why, sizeof(why),
			 "its schema text gives fingerprint 0x%016" PRIx64 ", it has 0x%016" PRIx64,
			 fp, p->fingerprint);
		return report_text(a, CELL_STATUS_FINGERPRINT_MISMATCH, why);
	}
	return 0;
}

static int do_call(const struct call_args *a, const struct cell_probe *p, const struct method *m,
		   const uint8_t *req, uint32_t len)
{
	struct cell_client *c = cell_probe_connect(NULL, a->name, p->fingerprint, a->timeout_ms);
	struct cell_response r = { 0 };
	struct cell_call *call;
	enum cell_status st;
	char err[256];
	void *buf;
	int rc = 0;

	if (!c)
		return report_text(a, CELL_STATUS_UNAVAILABLE, cell_last_error(NULL));
	st = cell_call_begin(c, (uint16_t)m->id, len, m->resp ? 0 : CELL_CALL_ONEWAY,
			     cell_deadline_in_ms(a->timeout_ms), &call, &buf);
	if (st != CELL_STATUS_OK) {
		rc = report_text(a, st, cell_last_error(NULL));
		goto out;
	}
	memcpy(buf, req, len);
	st = cell_call_finish(call, len, &r);
	if (st != CELL_STATUS_OK)
		rc = report(a, st, r.detail, r.detail_len);
	else if (m->resp &&
		 codec_print(stdout, m->resp, r.data, r.len, !a->compact, err, sizeof(err)))
		rc = report_text(a, CELL_STATUS_BAD_MESSAGE, err);
	cell_call_end(call);
out:
	cell_client_free(c);
	return rc;
}

static int run(const struct call_args *a)
{
	const struct method *m;
	struct cell_probe p;
	struct schema s = { 0 };
	struct json *v = NULL;
	uint8_t *req = NULL;
	uint32_t len = 0;
	char err[300];
	int rc;

	if (strlen(a->json) > CALL_MAX_JSON)
		return report_text(a, CELL_STATUS_TOO_LARGE, "request JSON larger than 16 MiB");
	v = json_parse(a->json, strlen(a->json), err, sizeof(err));
	if (!v) {
		fprintf(stderr, "cell call: bad JSON: %s\n", err);
		return 1;
	}
	rc = cell_probe_run(NULL, a->name, a->timeout_ms, &p);
	if (rc) {
		rc = report_text(a,
				 rc == -ENOENT || rc == -ECONNREFUSED ? CELL_STATUS_UNAVAILABLE
								      : CELL_STATUS_INTERNAL,
				 p.error);
		goto out;
	}
	rc = load_schema(a, &p, &s);
	if (rc)
		goto out;
	m = find_method(&s, a->method);
	if (!m) {
		rc = report_text(a, CELL_STATUS_UNKNOWN_METHOD, "no such method in its schema");
		goto out;
	}
	rc = codec_encode(m->req, v, &req, &len, err, sizeof(err));
	if (rc) {
		rc = report_text(a, CELL_STATUS_INVALID_ARGUMENT, err);
		goto out;
	}
	rc = do_call(a, &p, m, req, len);
out:
	free(req);
	json_free(v);
	cell_probe_release(&p);
	arena_free();
	return rc;
}

int cell_cmd_call(int argc, char **argv)
{
	static const struct option longopts[] = { { "json", no_argument, NULL, 'j' },
						  { "timeout", required_argument, NULL, 't' },
						  { "help", no_argument, NULL, 'h' },
						  { 0 } };
	struct call_args a = { .json = "{}", .timeout_ms = CALL_TIMEOUT_MS };
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "jt:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			a.compact = true;
			break;
		case 't':
			a.timeout_ms = (unsigned int)strtoul(optarg, NULL, 10);
			if (!a.timeout_ms)
				return call_usage(stderr);
			break;
		case 'h':
			return call_usage(stdout);
		default:
			return call_usage(stderr);
		}
	}
	if (argc - optind < 2 || argc - optind > 3)
		return call_usage(stderr);
	a.name = argv[optind];
	a.method = argv[optind + 1];
	if (argc - optind == 3)
		a.json = argv[optind + 2];
	return run(&a);
}
