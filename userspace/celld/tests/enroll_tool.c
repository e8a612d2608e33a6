// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * enroll_tool: registers names with celld the way libcell does, for the
 * tests (10,000 registrations, ownership refusal).
 *
 *   enroll_tool PREFIX [COUNT [HOLD_SECONDS [PATH]]]
 *
 * COUNT 1 (default) registers PREFIX itself, more register PREFIX-00000 ...
 * over one connection.  Prints "enrolled N in T ms" and stays alive
 * HOLD_SECONDS (default 0) so that the entries live that long.  PATH is
 * the socket path claimed (default <runtime dir>/<name>.sock).  A refusal
 * prints "refused NAME: STATUS: detail" and exits 1.
 *
 *   enroll_tool --withdraw NAME   withdraw (prints "withdrawn" or the refusal)
 *   enroll_tool --lookup NAME     lookup: "pid PID fingerprint 0x... schema BYTES"
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cell/rpc.h>
#include <cell/time.h>

#include "nucleus.cell.h"
#include "probe.h"

static const char *claimed_path;

static enum cell_status enroll(struct cell_client *c, const char *name, const char *dir)
{
	struct nucleus_registration *req;
	const struct nucleus_registered *resp;
	struct cell_response raw = { 0 };
	struct cellc_builder b;
	struct cell_call *call;
	enum cell_status st;
	char path[320];

	if (claimed_path)
		snprintf(path, sizeof(path), "%s", claimed_path);
	else
		snprintf(path, sizeof(path), "%s/%s.sock", dir, name);
	st = nucleus_enroll_begin(c, 512, cell_deadline_in_ms(5000), &call, &b, &req);
	if (st != CELL_STATUS_OK)
		return st;
	(void)nucleus_registration_set_name_str(&b, req, name);
	(void)nucleus_registration_set_path_str(&b, req, path);
	req->fingerprint = 0x1234;
	st = nucleus_enroll_finish(call, &b, &resp, &raw);
	if (st != CELL_STATUS_OK)
		printf("refused %s: %s: %.*s\n", name, cell_status_name(st), (int)raw.detail_len,
		       raw.detail ? raw.detail : "");
	cell_call_end(call);
	return st;
}

static int refused(const char *what, enum cell_status st, const struct cell_response *raw)
{
	printf("refused %s: %s: %.*s\n", what, cell_status_name(st), (int)raw->detail_len,
	       raw->detail ? raw->detail : "");
	return 1;
}

static int withdraw(struct cell_client *c, const char *name)
{
	struct cell_response raw = { 0 };
	const struct nucleus_empty *resp;
	struct nucleus_name *req;
	struct cellc_builder b;
	struct cell_call *call;
	enum cell_status st;

	st = nucleus_withdraw_begin(c, 64, cell_deadline_in_ms(5000), &call, &b, &req);
	if (st != CELL_STATUS_OK)
		return refused(name, st, &raw);
	(void)nucleus_name_set_name_str(&b, req, name);
	st = nucleus_withdraw_finish(call, &b, &resp, &raw);
	if (st == CELL_STATUS_OK)
		puts("withdrawn");
	else
		refused(name, st, &raw);
	cell_call_end(call);
	return st != CELL_STATUS_OK;
}

static int lookup(struct cell_client *c, const char *name)
{
	struct cell_response raw = { 0 };
	const struct nucleus_cell_detail *resp;
	struct nucleus_name *req;
	struct cellc_builder b;
	struct cell_call *call;
	enum cell_status st;
	uint32_t n = 0;

	st = nucleus_lookup_begin(c, 64, cell_deadline_in_ms(5000), &call, &b, &req);
	if (st != CELL_STATUS_OK)
		return refused(name, st, &raw);
	(void)nucleus_name_set_name_str(&b, req, name);
	st = nucleus_lookup_finish(call, &b, &resp, &raw);
	if (st == CELL_STATUS_OK) {
		(void)nucleus_cell_detail_schema_text(resp, &n);
		printf("pid %d fingerprint 0x%016llx schema %u\n", (int)resp->info.pid,
		       (unsigned long long)resp->info.fingerprint, n);
	} else {
		refused(name, st, &raw);
	}
	cell_call_end(call);
	return st != CELL_STATUS_OK;
}

/* --withdraw NAME / --lookup NAME. */
static int query(const char *op, const char *name)
{
	struct cell_client_opts co = nucleus_client_opts();
	struct cell_client *c;
	int rc;

	co.backend = CELL_RING_BACKEND_NONE;
	c = cell_client_connect("nucleus", &co);
	if (!c) {
		printf("cannot reach celld: %s\n", cell_last_error(NULL));
		return 1;
	}
	rc = !strcmp(op, "--withdraw") ? withdraw(c, name) : lookup(c, name);
	cell_client_free(c);
	return rc;
}

int main(int argc, char **argv)
{
	struct cell_client_opts co = nucleus_client_opts();
	long count = argc > 2 ? atol(argv[2]) : 1, hold = argc > 3 ? atol(argv[3]) : 0;
	char dir[256], name[CELL_NAME_MAX];
	struct cell_client *c;
	uint64_t t0;

	if (argc == 3 && (!strcmp(argv[1], "--withdraw") || !strcmp(argv[1], "--lookup")))
		return query(argv[1], argv[2]);
	if (argc < 2 || count < 1 || cell_runtime_dir(dir, sizeof(dir))) {
		fputs("usage: enroll_tool PREFIX [COUNT [HOLD_SECONDS [PATH]]]\n", stderr);
		return 2;
	}
	claimed_path = argc > 4 ? argv[4] : NULL;
	co.backend = CELL_RING_BACKEND_NONE;
	c = cell_client_connect("nucleus", &co);
	if (!c) {
		printf("cannot reach celld: %s\n", cell_last_error(NULL));
		return 1;
	}
	t0 = cell_now_ns();
	for (long i = 0; i < count; i++) {
		if (count == 1)
			snprintf(name, sizeof(name), "%s", argv[1]);
		else
			snprintf(name, sizeof(name), "%.20s-%05d", argv[1], (int)(i % 100000));
		if (enroll(c, name, dir) != CELL_STATUS_OK) {
			cell_client_free(c);
			return 1;
		}
	}
	printf("enrolled %ld in %.1f ms\n", count, (double)(cell_now_ns() - t0) / 1e6);
	fflush(stdout);
	cell_client_free(c);
	if (hold > 0)
		sleep((unsigned int)hold);
	return 0;
}
