// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Instances of one name with different fingerprints, side by side: "svc"
 * (RUNTIME_DIR/svc.sock, fingerprint A) and "svc@1" (a symlink into
 * RUNTIME_DIR/capsid/..., fingerprint B), as celld lays out an old and a
 * new version.  A client with a fingerprint reaches the instance that has
 * it, also when reconnecting; with none matching the error names every
 * instance tried; fingerprint 0 keeps to svc.sock; a tissue uses only its
 * own fingerprint's instances and counts the others.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cell/log.h>
#include <cell/rpc.h>
#include <cell/tissue.h>

#include "kselftest_harness.h"
#include "server_child.h"

#define FP_A  0xa1a1a1a1a1a1a1a1ULL
#define FP_B  0xb2b2b2b2b2b2b2b2ULL
#define FP_C  0xc3c3c3c3c3c3c3c3ULL
#define M_WHO 1
#define NSRV  3

struct spec {
	char dir[192]; /* where the server binds */
	char name[32];
	uint64_t fp;
	uint32_t tag; /* what M_WHO answers */
};

static enum cell_status who(const struct cell_vesicle *req, struct cell_reply *reply, void *ctx)
{
	uint32_t tag = (uint32_t)(uintptr_t)ctx;

	(void)req;
	return cell_reply_send(reply, &tag, sizeof(tag)) ? CELL_STATUS_INTERNAL : CELL_STATUS_OK;
}

static struct cell_server *make_server(void *arg)
{
	const struct spec *s = arg;
	struct cell_server_opts o = { .sz = sizeof(o),
				      .fingerprint = s->fp,
				      .runtime_dir = s->dir };
	struct cell_server *srv = cell_server_new(s->name, &o);

	if (srv && cell_server_handle(srv, M_WHO, who, (void *)(uintptr_t)s->tag)) {
		cell_server_free(srv);
		return NULL;
	}
	return srv;
}

FIXTURE(pick)
{
	char dir[64];
	char capsid[128];
	struct spec spec[NSRV];
	pid_t pid[NSRV];
};

/* Server @i: bound in the runtime directory, or in a capsid directory and linked as @name. */
static pid_t start(struct _test_data_pick *self, int i, const char *name, uint64_t fp, uint32_t tag,
		   bool linked)
{
	struct spec *s = &self->spec[i];
	char link[192], target[256];

	memcpy(s->dir, self->dir, sizeof(self->dir));
	snprintf(s->name, sizeof(s->name), "%s", linked ? "svc" : name);
	s->fp = fp;
	s->tag = tag;
	if (linked) {
		snprintf(s->dir, sizeof(s->dir), "%s/%d", self->capsid, i);
		if (mkdir(s->dir, 0700) && errno != EEXIST)
			return -1;
		snprintf(target, sizeof(target), "%s/svc.sock", s->dir);
		snprintf(link, sizeof(link), "%s/%s.sock", self->dir, name);
		unlink(link);
		if (symlink(target, link))
			return -1;
	}
	self->pid[i] = fork_server(make_server, s, 1);
	return self->pid[i];
}

static void stop(struct _test_data_pick *self, int i)
{
	if (self->pid[i] <= 0)
		return;
	kill(self->pid[i], SIGKILL);
	waitpid(self->pid[i], NULL, 0);
	self->pid[i] = 0;
}

FIXTURE_SETUP(pick)
{
	strcpy(self->dir, "/tmp/cell-pick-XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	snprintf(self->capsid, sizeof(self->capsid), "%s/capsid", self->dir);
	ASSERT_EQ(0, mkdir(self->capsid, 0700));
	ASSERT_LT(0, start(self, 0, "svc", FP_A, 0xa, false));
	ASSERT_LT(0, start(self, 1, "svc@1", FP_B, 0xb, true));
}

FIXTURE_TEARDOWN(pick)
{
	char cmd[128];

	for (int i = 0; i < NSRV; i++)
		stop(self, i);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", self->dir);
	if (system(cmd))
		TH_LOG("could not remove %s", self->dir);
}

static struct cell_client *connect_fp(const char *dir, const char *name, uint64_t fp, int reconnect)
{
	struct cell_client_opts o = {
		.sz = sizeof(o),
		.fingerprint = fp,
		.runtime_dir = dir,
		.reconnect = reconnect,
		.connect_deadline = cell_deadline_in_ms(5000),
	};

	return cell_client_connect(name, &o);
}

/* The tag of the server @c reaches, or -1. */
static long who_is(struct cell_client *c)
{
	uint32_t tag = 0, len = 0;

	if (cell_client_call(c, M_WHO, NULL, 0, &tag, sizeof(tag), &len,
			     cell_deadline_in_ms(5000)) != CELL_STATUS_OK ||
	    len != sizeof(tag))
		return -1;
	return tag;
}

TEST_F(pick, each_client_reaches_the_instance_with_its_fingerprint)
{
	struct cell_client *a = connect_fp(self->dir, "svc", FP_A, 0);
	struct cell_client *b = connect_fp(self->dir, "svc", FP_B, 0);

	ASSERT_NE(NULL, a) TH_LOG("%s", cell_last_error(NULL));
	ASSERT_NE(NULL, b) TH_LOG("%s", cell_last_error(NULL));
	/* Both at once: the old and the new version served side by side. */
	EXPECT_EQ(0xa, who_is(a));
	EXPECT_EQ(0xb, who_is(b));
	EXPECT_EQ(0xa, who_is(a));
	EXPECT_EQ(FP_A, cell_client_server_fingerprint(a));
	EXPECT_EQ(FP_B, cell_client_server_fingerprint(b));
	cell_client_free(a);
	cell_client_free(b);
}

TEST_F(pick, no_matching_instance_fails_naming_each_instance_and_fingerprint)
{
	struct cell_client *c = connect_fp(self->dir, "svc", FP_C, 0);
	enum cell_status st;
	const char *text;

	ASSERT_EQ(NULL, c);
	EXPECT_EQ(EPROTO, errno);
	text = cell_last_error(&st);
	EXPECT_EQ(CELL_STATUS_FINGERPRINT_MISMATCH, st);
	EXPECT_STREQ("fingerprint mismatch: client 0xc3c3c3c3c3c3c3c3, no instance of svc has it: "
		     "svc 0xa1a1a1a1a1a1a1a1, svc@1 0xb2b2b2b2b2b2b2b2",
		     text);
}

TEST_F(pick, fingerprint_zero_keeps_to_the_names_own_socket)
{
	struct cell_client *c = connect_fp(self->dir, "svc", 0, 0);
	enum cell_status st;

	ASSERT_EQ(NULL, c);
	EXPECT_EQ(EPROTO, errno);
	/* Today's text, which celld's probe and cellc --from-running parse. */
	EXPECT_STREQ("fingerprint mismatch: client 0x0000000000000000, server 0xa1a1a1a1a1a1a1a1",
		     cell_last_error(&st));
	EXPECT_EQ(CELL_STATUS_FINGERPRINT_MISMATCH, st);
}

TEST_F(pick, an_instance_asked_by_number_is_never_replaced)
{
	struct cell_client *c = connect_fp(self->dir, "svc@1", FP_A, 0);
	enum cell_status st;

	ASSERT_EQ(NULL, c);
	EXPECT_STREQ("fingerprint mismatch: client 0xa1a1a1a1a1a1a1a1, server 0xb2b2b2b2b2b2b2b2",
		     cell_last_error(&st));
	c = connect_fp(self->dir, "svc@1", FP_B, 0);
	ASSERT_NE(NULL, c);
	EXPECT_EQ(0xb, who_is(c));
	cell_client_free(c);
}

TEST_F(pick, no_bare_instance_still_finds_a_numbered_one)
{
	struct cell_client *c;

	stop(self, 0);
	c = connect_fp(self->dir, "svc", FP_B, 0);
	ASSERT_NE(NULL, c) TH_LOG("%s", cell_last_error(NULL));
	EXPECT_EQ(0xb, who_is(c));
	cell_client_free(c);
	/* Nothing matches and svc.sock is gone: "no server" (retryable), every instance named. */
	c = connect_fp(self->dir, "svc", FP_A, 0);
	ASSERT_EQ(NULL, c);
	EXPECT_TRUE(errno == ENOENT || errno == ECONNREFUSED);
	EXPECT_NE(NULL, strstr(cell_last_error(NULL), "svc@1 0xb2b2b2b2b2b2b2b2"))
	TH_LOG("%s", cell_last_error(NULL));
}

TEST_F(pick, reconnect_keeps_to_an_instance_with_the_fingerprint)
{
	struct cell_client *b = connect_fp(self->dir, "svc", FP_B, 1);
	char link[192];

	ASSERT_NE(NULL, b) TH_LOG("%s", cell_last_error(NULL));
	ASSERT_EQ(0xb, who_is(b));
	/* Restarted in place: the next call reconnects to it. */
	stop(self, 1);
	ASSERT_LT(0, start(self, 1, "svc@1", FP_B, 0xb1, true));
	EXPECT_EQ(0xb1, who_is(b)) TH_LOG("%s", cell_last_error(NULL));
	/* Gone, and back as svc@2: found again by fingerprint, never svc (A). */
	stop(self, 1);
	snprintf(link, sizeof(link), "%s/svc@1.sock", self->dir);
	ASSERT_EQ(0, unlink(link));
	ASSERT_LT(0, start(self, 2, "svc@2", FP_B, 0xb2, true));
	EXPECT_EQ(0xb2, who_is(b)) TH_LOG("%s", cell_last_error(NULL));
	EXPECT_EQ(FP_B, cell_client_server_fingerprint(b));
	cell_client_free(b);
}

static struct cell_tissue *tissue_fp(const char *dir, uint64_t fp)
{
	struct cell_client_opts co = { .sz = sizeof(co), .fingerprint = fp };
	struct cell_tissue_opts to = { .sz = sizeof(to), .client = &co, .runtime_dir = dir };

	return cell_tissue_open("svc", &to);
}

TEST_F(pick, tissue_calls_only_instances_of_its_fingerprint)
{
	struct cell_tissue_stats stats = { .sz = sizeof(stats) };
	const struct cell_tissue_reply *r;
	struct cell_tissue_reply one;
	unsigned int seen_a = 0, seen_a2 = 0;
	struct cell_tissue *t;
	uint32_t tag;

	ASSERT_LT(0, start(self, 2, "svc@2", FP_A, 0xa2, false));
	t = tissue_fp(self->dir, FP_A);
	ASSERT_NE(NULL, t);
	for (int i = 0; i < 20; i++) {
		ASSERT_EQ(CELL_STATUS_OK,
			  cell_tissue_call(t, M_WHO, NULL, 0, cell_deadline_in_ms(5000), &one));
		ASSERT_EQ(sizeof(tag), one.len);
		memcpy(&tag, one.data, sizeof(tag));
		ASSERT_TRUE(tag == 0xa || tag == 0xa2) TH_LOG("reached 0x%x", tag);
		seen_a += tag == 0xa;
		seen_a2 += tag == 0xa2;
	}
	EXPECT_EQ(10, seen_a);
	EXPECT_EQ(10, seen_a2);
	ASSERT_EQ(0, cell_tissue_stats(t, &stats));
	EXPECT_EQ(sizeof(stats), stats.sz);
	EXPECT_EQ(3, stats.instances);
	EXPECT_EQ(1, stats.mismatched);
	EXPECT_EQ(1, stats.mismatch_refusals); /* remembered: not asked again */
	/* A broadcast leaves svc@1 out. */
	ASSERT_EQ(2, cell_tissue_broadcast(t, M_WHO, NULL, 0, cell_deadline_in_ms(5000), &r));
	EXPECT_STREQ("svc", r[0].instance);
	EXPECT_STREQ("svc@2", r[1].instance);
	EXPECT_EQ(CELL_STATUS_OK, r[0].status);
	EXPECT_EQ(CELL_STATUS_OK, r[1].status);
	cell_tissue_close(t);

	t = tissue_fp(self->dir, FP_B);
	ASSERT_NE(NULL, t);
	for (int i = 0; i < 4; i++) {
		ASSERT_EQ(CELL_STATUS_OK,
			  cell_tissue_call(t, M_WHO, NULL, 0, cell_deadline_in_ms(5000), &one));
		memcpy(&tag, one.data, sizeof(tag));
		EXPECT_EQ(0xb, tag);
	}
	ASSERT_EQ(0, cell_tissue_stats(t, &stats));
	EXPECT_EQ(2, stats.mismatched);
	cell_tissue_close(t);

	t = tissue_fp(self->dir, FP_C);
	ASSERT_NE(NULL, t);
	EXPECT_EQ(CELL_STATUS_FINGERPRINT_MISMATCH,
		  cell_tissue_call(t, M_WHO, NULL, 0, cell_deadline_in_ms(5000), &one));
	cell_tissue_close(t);
}

TEST_F(pick, tissue_looks_again_when_a_new_server_binds_the_instance)
{
	struct cell_tissue_stats stats = { .sz = sizeof(stats) };
	struct cell_tissue_reply one;
	struct cell_tissue *t = tissue_fp(self->dir, FP_A);
	char path[192];
	uint32_t tag;

	ASSERT_NE(NULL, t);
	for (int i = 0; i < 2; i++)
		ASSERT_EQ(CELL_STATUS_OK,
			  cell_tissue_call(t, M_WHO, NULL, 0, cell_deadline_in_ms(5000), &one));
	ASSERT_EQ(0, cell_tissue_stats(t, &stats));
	ASSERT_EQ(1, stats.mismatched);
	/* svc@1 is upgraded to fingerprint A: a new socket, seen at the rescan. */
	stop(self, 1);
	snprintf(path, sizeof(path), "%s/1/svc.sock", self->capsid);
	unlink(path);
	ASSERT_LT(0, start(self, 1, "svc@1", FP_A, 0xa1, true));
	ASSERT_EQ(2, cell_tissue_rescan(t));
	ASSERT_EQ(0, cell_tissue_stats(t, &stats));
	EXPECT_EQ(0, stats.mismatched);
	for (int i = 0, got = 0; i < 4 && !got; i++) {
		ASSERT_EQ(CELL_STATUS_OK,
			  cell_tissue_call(t, M_WHO, NULL, 0, cell_deadline_in_ms(5000), &one));
		memcpy(&tag, one.data, sizeof(tag));
		got = tag == 0xa1;
		if (i == 3)
			EXPECT_TRUE(got);
	}
	cell_tissue_close(t);
}

TEST_HARNESS_MAIN
