// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * capsid_run: start one program in a capsid and wait for it (the tests'
 * stand-in for celld's supervisor; SIGTERM and SIGINT are passed on).
 *
 *   capsid_run [-n] [-r PATH]... [-p SOCKET]... NAME SOCKET_DIR DATA_DIR -- PROGRAM ARGS
 *
 * -n shares the host's network, -r makes PATH visible read-only, -p gives
 * the cell a peer's socket.  Exits with the program's status; 125 if the
 * capsid could not start (the reason on stderr).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "capsid.h"

static volatile sig_atomic_t child;

static void forward(int sig)
{
	if (child > 0)
		kill(child, sig);
}

int main(int argc, char **argv)
{
	struct capsid_spec s = { .stdout_fd = 1, .stderr_fd = 2 };
	struct sigaction sa = { .sa_handler = forward };
	int nro = 0, npeer = 0, opt, st;
	char why[256];
	pid_t pid;

	while ((opt = getopt(argc, argv, "+nr:p:")) != -1) {
		if (opt == 'n')
			s.share_net = true;
		else if (opt == 'r' && nro < CAPSID_MAX_PATHS)
			s.ro_paths[nro++] = optarg;
		else if (opt == 'p' && npeer < CAPSID_MAX_PATHS)
			s.peer_sockets[npeer++] = optarg;
		else
			goto usage;
	}
	if (argc - optind < 5 || strcmp(argv[optind + 3], "--"))
		goto usage;
	s.name = argv[optind];
	s.socket_dir = argv[optind + 1];
	s.data_dir = argv[optind + 2];
	s.argv = argv + optind + 4;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	pid = capsid_spawn(&s, why, sizeof(why));
	if (pid < 0) {
		fprintf(stderr, "capsid_run: %s\n", why);
		return 125;
	}
	child = pid;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return 125;
	capsid_reap(&s, pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
usage:
	fprintf(stderr, "usage: capsid_run [-n] [-r PATH]... [-p SOCKET]... NAME SOCKET_DIR "
			"DATA_DIR -- PROGRAM ARGS\n");
	return 125;
}
