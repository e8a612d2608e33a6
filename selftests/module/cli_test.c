// SPDX-License-Identifier: GPL-2.0-only
/*
 * `cell rings` (userspace/cell, built statically into the VM as /bin/cell)
 * against cell.ko: the listing and its JSON show the live rings, --watch
 * prints their events.
 */
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "cell_module.h"
#include "kselftest_harness.h"

#define CELL_BIN "/bin/cell"

/* Run @cmd, its stdout into @out; returns the exit status or -1. */
static int run(const char *cmd, char *out, size_t size)
{
	FILE *f = popen(cmd, "r");
	size_t n;
	int st;

	if (!f)
		return -1;
	n = fread(out, 1, size - 1, f);
	out[n] = 0;
	st = pclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

FIXTURE(cli)
{
	int dev;
};

FIXTURE_SETUP(cli)
{
	self->dev = cell_dev();
	if (self->dev < 0)
		SKIP(return, "no " DEV_CELL ": %s", strerror(-self->dev));
	if (access(CELL_BIN, X_OK))
		SKIP(return, "no " CELL_BIN " (libnl-genl static libraries missing on the host?)");
}

FIXTURE_TEARDOWN(cli)
{
	if (self->dev >= 0)
		close(self->dev);
}

TEST_F(cli, list_and_json)
{
	static char out[65536];
	char want[64];
	uint64_t id = 0;
	int p = ring_create(self->dev, 8192, &id), c;

	ASSERT_LE(0, p);
	c = ring_open(p);
	ASSERT_LE(0, c);
	ASSERT_EQ(0, run(CELL_BIN " rings", out, sizeof(out)));
	EXPECT_NE(NULL, strstr(out, "PRODUCER"));
	snprintf(want, sizeof(want), "%6llu %10d", (unsigned long long)id, 8192);
	EXPECT_NE(NULL, strstr(out, want)) TH_LOG("%s", out);
	ASSERT_EQ(0, run(CELL_BIN " rings -j", out, sizeof(out)));
	snprintf(want, sizeof(want), "{\"id\":%llu,\"size\":8192,\"producer_pid\":%d",
		 (unsigned long long)id, getpid());
	EXPECT_NE(NULL, strstr(out, want)) TH_LOG("%s", out);
	EXPECT_EQ('[', out[0]);
	close(c);
	close(p);
	ASSERT_EQ(0, run(CELL_BIN " rings -j", out, sizeof(out)));
	EXPECT_STREQ("[]\n", out);
}

TEST_F(cli, watch)
{
	char line[512], want[64];
	int pipefd[2], p, c;
	uint64_t id = 0;
	FILE *f;
	pid_t pid;

	ASSERT_EQ(0, pipe(pipefd));
	pid = fork();
	if (pid == 0) {
		dup2(pipefd[1], 1);
		close(pipefd[0]);
		execl(CELL_BIN, "cell", "rings", "--watch", "-j", (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	f = fdopen(pipefd[0], "r");
	usleep(500 * 1000); /* let it join the group */
	p = ring_create(self->dev, 4096, &id);
	ASSERT_LE(0, p);
	c = ring_open(p);
	close(c);
	close(p);
	snprintf(want, sizeof(want), "\"id\":%llu,", (unsigned long long)id);
	ASSERT_NE(NULL, fgets(line, sizeof(line), f));
	EXPECT_NE(NULL, strstr(line, "\"event\":\"created\"")) TH_LOG("%s", line);
	EXPECT_NE(NULL, strstr(line, want));
	ASSERT_NE(NULL, fgets(line, sizeof(line), f));
	EXPECT_NE(NULL, strstr(line, "\"event\":\"peer-dead\"")) TH_LOG("%s", line);
	ASSERT_NE(NULL, fgets(line, sizeof(line), f));
	EXPECT_NE(NULL, strstr(line, "\"event\":\"destroyed\"")) TH_LOG("%s", line);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	fclose(f);
}

TEST_HARNESS_MAIN
