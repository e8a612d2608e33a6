// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Socket activation (sd_listen_fds(3) semantics, without libsystemd): the
 * service manager passes LISTEN_FDS sockets from fd 3 on to the process
 * whose pid is LISTEN_PID, optionally named by LISTEN_FDNAMES (colon
 * separated, FileDescriptorName= of the socket unit).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "celld.h"

#define LISTEN_FDS_START 3
#define LISTEN_FDS_MAX	 64

static int parse_uint(const char *s, unsigned long *out)
{
	char *end;

	if (!s || !*s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return errno || *end ? -EINVAL : 0;
}

/* The fd named @want (or the only one); -1: not activated; -errno: bad variables (@err). */
int celld_listen_fd(const char *want, char *err, size_t cap)
{
	const char *spid = getenv("LISTEN_PID"), *sfds = getenv("LISTEN_FDS");
	const char *names = getenv("LISTEN_FDNAMES");
	unsigned long pid, nfds;
	int fd = -1;

	if (!spid && !sfds)
		return -1;
	if (parse_uint(spid, &pid) || parse_uint(sfds, &nfds) || nfds > LISTEN_FDS_MAX) {
		snprintf(err, cap, "LISTEN_PID=%s LISTEN_FDS=%s: not numbers (at most %d fds)",
			 spid ? spid : "(unset)", sfds ? sfds : "(unset)", LISTEN_FDS_MAX);
		fd = -EINVAL;
		goto out;
	}
	if (pid != (unsigned long)getpid() || !nfds)
		goto out; /* meant for another process (or none): bind as usual */
	for (unsigned long i = 0; i < nfds; i++) {
		int f = LISTEN_FDS_START + (int)i;

		if (fcntl(f, F_SETFD, FD_CLOEXEC)) {
			snprintf(err, cap, "LISTEN_FDS=%lu: fd %d: %s", nfds, f, strerror(errno));
			fd = -EBADF;
			goto out;
		}
	}
	if (nfds == 1 && !names) {
		fd = LISTEN_FDS_START;
		goto out;
	}
	if (names) {
		const char *p = names;

		for (unsigned long i = 0; i < nfds && p; i++) {
			const char *colon = strchr(p, ':');
			size_t len = colon ? (size_t)(colon - p) : strlen(p);

			if (len == strlen(want) && !memcmp(p, want, len)) {
				fd = LISTEN_FDS_START + (int)i;
				goto out;
			}
			p = colon ? colon + 1 : NULL;
		}
		if (nfds == 1) {
			fd = LISTEN_FDS_START; /* one socket, named otherwise: still ours */
			goto out;
		}
	}
	snprintf(err, cap, "LISTEN_FDS=%lu and none named \"%s\" in LISTEN_FDNAMES=%s", nfds, want,
		 names ? names : "(unset)");
	fd = -EINVAL;
out:
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return fd;
}
