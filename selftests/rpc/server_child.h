/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/*
 * Test servers in a child process, shared by the RPC tests.
 */
#ifndef CELL_TEST_SERVER_CHILD_H
#define CELL_TEST_SERVER_CHILD_H

#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cell/rpc.h>

/*
 * fork_server() - run a server in a child process: @make builds it there
 * (options, handlers), then it serves on @threads threads until it is
 * killed; it dies with its parent (PR_SET_PDEATHSIG).
 * Return: the child's pid once the server accepts connections, or -1.
 */
static inline pid_t fork_server(struct cell_server *(*make)(void *arg), void *arg,
				unsigned int threads)
{
	int pfd[2];
	pid_t pid;
	char ok;

	if (pipe(pfd))
		return -1;
	pid = fork();
	if (pid == 0) {
		struct cell_server *srv;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(pfd[0]);
		srv = make(arg);
		if (!srv || write(pfd[1], "k", 1) != 1)
			_exit(1);
		close(pfd[1]);
		_exit(cell_server_run(srv, threads) ? 1 : 0);
	}
	close(pfd[1]);
	/* The 'k', then end of file: the child closed its end (fd counts are stable). */
	if (pid < 0 || read(pfd[0], &ok, 1) != 1 || read(pfd[0], &ok, 1) != 0) {
		if (pid > 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
		}
		pid = -1;
	}
	close(pfd[0]);
	return pid;
}

/* Echo the request, built in place in the response. */
static inline enum cell_status echo_in_place(const struct cell_vesicle *req,
					     struct cell_reply *reply)
{
	void *p = cell_reply_reserve(reply, req->len);

	if (!p)
		return CELL_STATUS_RESOURCE_EXHAUSTED;
	memcpy(p, req->data, req->len);
	return cell_reply_commit(reply, req->len) ? CELL_STATUS_UNAVAILABLE : CELL_STATUS_OK;
}

#endif /* CELL_TEST_SERVER_CHILD_H */
