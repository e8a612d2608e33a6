// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * The Unix SOCK_SEQPACKET transport: one message per frame, message
 * boundaries kept by the kernel, fds passed with SCM_RIGHTS.  Used for the
 * handshake, the control channel, attachments and, when no ring can be
 * shared, for every call (the "unix" path).
 *
 * Sockets are non-blocking after connect/accept; a send that finds the
 * buffer full waits with poll() until the caller's deadline, so a peer
 * that stops reading can delay a sender only as long as it allowed.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "rpc_internal.h"

static int make_addr(const char *path, struct sockaddr_un *addr)
{
	size_t len = strlen(path);

	if (len >= sizeof(addr->sun_path))
		return -ENAMETOOLONG;
	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	memcpy(addr->sun_path, path, len + 1);
	return 0;
}

/* A socket file nobody accepts on is left over from a dead server. */
static int remove_if_stale(const struct sockaddr_un *addr)
{
	struct stat st;
	int fd, rc;

	if (lstat(addr->sun_path, &st))
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	/* Non-blocking: a live server with a full backlog says EAGAIN. */
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	rc = connect(fd, (const struct sockaddr *)addr, sizeof(*addr));
	close(fd);
	if (rc == 0 || errno == EAGAIN)
		return -EADDRINUSE;
	if (errno == ENOENT)
		return 0;
	if (errno != ECONNREFUSED)
		return -errno;
	return unlink(addr->sun_path) && errno != ENOENT ? -errno : 0;
}

int cell_ux_listen(const char *path)
{
	struct sockaddr_un addr;
	int fd, err;

	err = make_addr(path, &addr);
	if (err)
		return err;
	err = remove_if_stale(&addr);
	if (err)
		return err;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (const struct sockaddr *)&addr, sizeof(addr)) || listen(fd, 128)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int cell_ux_connect(const char *path)
{
	return cell_ux_connect_by(path, CELL_DEADLINE_NONE); /* SO_SNDTIMEO 0: no bound */
}

int cell_ux_connect_by(const char *path, uint64_t deadline)
{
	struct sockaddr_un addr;
	struct timeval tv = { 0 };
	uint64_t now, left;
	int fd, err;

	err = make_addr(path, &addr);
	if (err)
		return err;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	for (;;) {
		/* A full backlog: connect(2) waits SO_SNDTIMEO at most, then EAGAIN. */
		now = cell_now_ns();
		if (deadline != CELL_DEADLINE_NONE) {
			left = deadline > now ? deadline - now : 0;
			tv.tv_sec = (time_t)(left / CELL_NSEC_PER_SEC);
			tv.tv_usec = (suseconds_t)(left % CELL_NSEC_PER_SEC / 1000);
			if (!tv.tv_sec && !tv.tv_usec)
				tv.tv_usec = 1; /* 0 would wait for good */
		}
		if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv))) {
			err = -errno;
			break;
		}
		if (!connect(fd, (const struct sockaddr *)&addr, sizeof(addr))) {
			err = 0;
			break;
		}
		err = -errno;
		if (err != -EINTR)
			break;
	}
	if (err == -EAGAIN)
		err = -ETIMEDOUT;
	tv = (struct timeval){ 0 };
	if (!err && (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) ||
		     fcntl(fd, F_SETFL, O_NONBLOCK | O_RDWR)))
		err = -errno;
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

static int poll_deadline(int fd, short events, uint64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	uint64_t now = cell_now_ns();
	int timeout, rc;

	for (;;) {
		if (deadline == CELL_DEADLINE_NONE)
			timeout = -1;
		else if (now >= deadline)
			return 0;
		else
			timeout = (int)((deadline - now + CELL_NSEC_PER_MSEC - 1) /
					CELL_NSEC_PER_MSEC);
		rc = poll(&pfd, 1, timeout);
		if (rc > 0)
			return 1;
		if (rc < 0 && errno != EINTR)
			return -errno;
		now = cell_now_ns();
	}
}

int cell_ux_wait_readable(int fd, uint64_t deadline)
{
	return poll_deadline(fd, POLLIN, deadline);
}

int cell_ux_send(int fd, const struct iovec *iov, int iovcnt, const int *fds, int nfds,
		 uint64_t deadline)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * CELL_HS_MAX_FDS)];
		struct cmsghdr align;
	} ctl;
	struct msghdr msg = { .msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt };
	struct cmsghdr *cmsg;
	int rc;

	if (nfds < 0 || nfds > CELL_HS_MAX_FDS)
		return -EINVAL;
	if (nfds) {
		memset(&ctl, 0, sizeof(ctl));
		msg.msg_control = ctl.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
		memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * (size_t)nfds);
	}
	for (;;) {
		if (sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) >= 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno == ECONNRESET || errno == ENOTCONN)
			return -EPIPE;
		if (errno != EAGAIN)
			return -errno;
		rc = poll_deadline(fd, POLLOUT, deadline);
		if (rc < 0)
			return rc;
		if (rc == 0)
			return -ETIMEDOUT;
	}
}

static void take_fds(struct msghdr *msg, int *fds, int max_fds, int *nfds)
{
	*nfds = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		size_t n;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (*nfds < max_fds)
				fds[(*nfds)++] = fd;
			else
				close(fd);
		}
	}
}

static void close_fds(int *fds, int *nfds)
{
	for (int i = 0; i < *nfds; i++)
		close(fds[i]);
	*nfds = 0;
}

ssize_t cell_ux_recv(int fd, void *buf, size_t cap, int *fds, int max_fds, int *nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * CELL_HS_MAX_FDS)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = buf, .iov_len = cap };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = ctl.buf,
		.msg_controllen = sizeof(ctl.buf),
	};
	int dummy;
	ssize_t n;

	if (!nfds)
		nfds = &dummy;
	*nfds = 0;
	do
		n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC | MSG_TRUNC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == ECONNRESET ? -EPIPE : -errno;
	take_fds(&msg, fds, fds ? max_fds : 0, nfds);
	if (n == 0)
		return close_fds(fds, nfds), -EPIPE;
	if ((size_t)n > cap || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)))
		return close_fds(fds, nfds), -EMSGSIZE;
	return n;
}

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77 /* Linux 6.5; the C library's headers may be older */
#endif

int cell_ux_peerpidfd(int fd)
{
	int pidfd = -1;
	socklen_t len = sizeof(pidfd);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) || len != sizeof(pidfd))
		return -1;
	return pidfd;
}

int cell_ux_peercred(int fd, pid_t *pid, uid_t *uid, gid_t *gid)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len))
		return -errno;
	*pid = cred.pid;
	*uid = cred.uid;
	*gid = cred.gid;
	return 0;
}
