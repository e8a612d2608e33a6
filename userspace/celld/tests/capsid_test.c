// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * capsid_test: the escape suite.  Starts capsid_escape (beside this
 * program) in a capsid with 256 MiB and 32 processes, one peer socket
 * given and one not, and re-emits its TAP: every escape attempt must be
 * denied and the sandbox must still be usable.  SKIPs (visibly) where bwrap
 * cannot run.
 *
 *   capsid_test [ESCAPE_BINARY]
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "capsid.h"

static int tests, failed;

static void tap(bool ok, const char *what)
{
	printf("%s %d - %s\n", ok ? "ok" : "not ok", ++tests, what);
	failed += !ok;
}

static int listen_at(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 8) ||
	    chmod(path, 0777))
		return -1;
	return fd;
}

static void remove_tree(const char *dir)
{
	char cmd[4200];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd))
		fprintf(stderr, "capsid_test: could not remove %s\n", dir);
}

int main(int argc, char **argv)
{
	char base[] = "/tmp/capsid-test.XXXXXX", esc[PATH_MAX], escdir[PATH_MAX];
	char sock[PATH_MAX + 8], data[PATH_MAX + 8], peer[PATH_MAX + 16], forbidden[PATH_MAX + 16];
	char host[PATH_MAX + 16], why[256], line[512], buf[8192];
	char *cargv[8];
	struct capsid_spec s = { .name = "escape", .stdout_fd = -1, .stderr_fd = -1 };
	int out[2], st = 0, lfd, ffd, got_summary = 0;
	size_t have = 0;
	time_t until;
	pid_t pid;
	FILE *f;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("TAP version 13\n");
	if (!capsid_available(why, sizeof(why))) {
		printf("1..0 # SKIP capsid: %s\n", why);
		return 0;
	}
	if (argc > 1)
		snprintf(esc, sizeof(esc), "%s", argv[1]);
	else if (!realpath("/proc/self/exe", esc) ||
		 snprintf(escdir, sizeof(escdir), "%s", esc) < 0 ||
		 snprintf(esc, sizeof(esc), "%s/capsid_escape", dirname(escdir)) < 0)
		return 1;
	if (!realpath(esc, escdir)) {
		printf("1..0 # SKIP capsid: no %s\n", esc);
		return 0;
	}
	snprintf(esc, sizeof(esc), "%s", escdir);
	dirname(escdir);
	if (!mkdtemp(base) || chmod(base, 0755))
		return perror("mkdtemp"), 1;
	snprintf(sock, sizeof(sock), "%s/sock", base);
	snprintf(data, sizeof(data), "%s/data", base);
	snprintf(peer, sizeof(peer), "%s/peer.sock", base);
	snprintf(forbidden, sizeof(forbidden), "%s/other/forbidden.sock", base);
	snprintf(host, sizeof(host), "%s/host.txt", base);
	mkdir(sock, 0700);
	mkdir(data, 0700);
	snprintf(line, sizeof(line), "%s/other", base);
	mkdir(line, 0755);
	f = fopen(host, "w");
	if (f) {
		fputs("a host file\n", f);
		fclose(f);
	}
	chmod(host, 0644); /* readable by anyone on the host: only the mounts hide it */
	lfd = listen_at(peer);
	ffd = listen_at(forbidden);
	if (lfd < 0 || ffd < 0) {
		printf("not ok 1 - peer sockets: %s\n1..1\n", strerror(errno));
		remove_tree(base);
		return 1;
	}
	cargv[0] = esc;
	cargv[1] = sock;
	cargv[2] = data;
	cargv[3] = peer;
	cargv[4] = forbidden;
	cargv[5] = host;
	cargv[6] = NULL;
	s.argv = cargv;
	s.socket_dir = sock;
	s.data_dir = data;
	s.ro_paths[0] = escdir;
	s.peer_sockets[0] = peer;
	s.memory_max = 256u << 20;
	s.pids_max = 32;
	if (access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0 &&
	    access("/sys/fs/cgroup", W_OK) == 0)
		s.cgroup_parent = "/sys/fs/cgroup";
	else
		printf("# cgroup v2 is not writable here: processes and memory are bounded "
		       "by RLIMIT_NPROC and RLIMIT_AS only\n");
	if (pipe2(out, O_CLOEXEC))
		return perror("pipe"), 1;
	s.stdout_fd = out[1];
	/* Bait for the escape suite: a directory fd without O_CLOEXEC, a secret in the environment. */
	if (open("/", O_RDONLY | O_DIRECTORY) < 0 || setenv("CAPSID_TEST_SECRET", "hunter2", 1))
		return perror("bait"), 1;
	pid = capsid_spawn(&s, why, sizeof(why));
	close(out[1]);
	if (pid < 0) {
		printf("not ok 1 - capsid_spawn: %s\n1..1\n", why);
		remove_tree(base);
		return 1;
	}
	/* Read the cell's TAP, 60 s at most. */
	until = time(NULL) + 60;
	for (;;) {
		struct pollfd p = { .fd = out[0], .events = POLLIN };
		ssize_t n;

		if (time(NULL) >= until) {
			kill(pid, SIGKILL);
			tap(false, "the escape program finished within 60 s");
			break;
		}
		if (poll(&p, 1, 1000) <= 0)
			continue;
		n = read(out[0], buf + have, sizeof(buf) - 1 - have);
		if (n <= 0)
			break;
		have += (size_t)n;
		buf[have] = '\0';
		for (char *nl; (nl = strchr(buf, '\n'));) {
			int k;

			*nl = '\0';
			if (!strncmp(buf, "ok ", 3) || !strncmp(buf, "not ok ", 7)) {
				char *dash = strstr(buf, " - ");

				tap(buf[0] == 'o', dash ? dash + 3 : buf);
			} else if (buf[0] == '#') {
				printf("%s\n", buf);
				if (strstr(buf, "attempts,") && sscanf(buf, "# %d", &k) == 1)
					got_summary = 1;
			}
			memmove(buf, nl + 1, have - (size_t)(nl + 1 - buf) + 1);
			have -= (size_t)(nl + 1 - buf);
		}
		if (have == sizeof(buf) - 1)
			have = 0;
	}
	close(out[0]);
	waitpid(pid, &st, 0);
	capsid_reap(&s, pid);
	tap(got_summary, "the escape program reported its summary");
	{
		char esc_copy[PATH_MAX + 32], text[64] = "";
		FILE *h = fopen(host, "r");

		if (h) {
			if (!fgets(text, sizeof(text), h))
				text[0] = '\0';
			fclose(h);
		}
		snprintf(esc_copy, sizeof(esc_copy), "%s.escape", host);
		tap(!strcmp(text, "a host file\n") && access(esc_copy, F_OK) != 0,
		    "the host's files are unchanged (host.txt as written, no host.txt.escape)");
	}
	tap(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the escape program exited 0 (all denied, all "
						   "usable)");
	close(lfd);
	close(ffd);
	remove_tree(base);
	printf("1..%d\n", tests);
	return failed ? 1 : 0;
}
