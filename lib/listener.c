// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Listener hand-over, the asking side (cell/rpc.h cell_listener_request()
 * and cell_listener_send(); the server's side is in server.c).  One
 * connection per request: the LISTENER frame, then its answer, with the
 * listening socket in SCM_RIGHTS one way or the other.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "rpc_internal.h"

#define ANSWER_MAX 4096

static int exchange(const char *path, uint64_t fingerprint, const uint8_t *key, uint16_t op,
		    int give_fd, unsigned int timeout_ms, int *got_fd)
{
	struct cell_listener_req req = { .op = op, .fingerprint = fingerprint };
	uint8_t frame[CELL_LISTENER_FRAME_SIZE], answer[ANSWER_MAX];
	struct iovec iov = { frame, sizeof(frame) };
	uint64_t deadline = cell_deadline_in_ms(timeout_ms);
	int fds[CELL_HS_MAX_FDS], nfds = 0, sock, err;
	const char *why, *detail;
	uint32_t dlen;
	enum cell_status st;
	ssize_t n;

	memcpy(req.key, key, CELL_LISTENER_KEY_SIZE);
	cell_listener_encode(&req, frame);
	sock = cell_ux_connect_by(path, deadline);
	if (sock < 0) {
		cell_fail(cell_errno_status(sock), "%s: %s", path, strerror(-sock));
		return sock;
	}
	err = cell_ux_send(sock, &iov, 1, &give_fd, give_fd >= 0 ? 1 : 0, deadline);
	if (err) {
		cell_fail(cell_errno_status(err), "%s: sending the LISTENER request: %s", path,
			  strerror(-err));
		goto out;
	}
	for (;;) {
		n = cell_ux_recv(sock, answer, sizeof(answer), fds, CELL_HS_MAX_FDS, &nfds);
		if (n != -EAGAIN)
			break;
		err = cell_ux_wait_readable(sock, deadline);
		if (err <= 0) {
			err = err ? err : -ETIMEDOUT;
			cell_fail(cell_errno_status(err), "%s: no answer to LISTENER: %s", path,
				  strerror(-err));
			goto out;
		}
	}
	if (n < 0) {
		err = (int)n;
		cell_fail(cell_errno_status(err), "%s: reading the answer to LISTENER: %s", path,
			  strerror(-err));
		goto out;
	}
	st = cell_listener_parse_answer(answer, (size_t)n, &why, &detail, &dlen);
	if (st != CELL_STATUS_OK) {
		err = st == CELL_STATUS_PERMISSION_DENIED ? -EACCES : -EPROTO;
		if (detail)
			cell_fail(st, "%s: %s: %.*s", path, why, (int)dlen, detail);
		else
			cell_fail(st, "%s: %s", path, why);
		goto out;
	}
	err = 0;
	if (got_fd) {
		if (nfds != 1) {
			err = -EPROTO;
			cell_fail(CELL_STATUS_BAD_MESSAGE, "%s: the answer carries %d fds, not 1",
				  path, nfds);
			goto out;
		}
		*got_fd = fds[0];
		nfds = 0;
	}
out:
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	close(sock);
	return err;
}

int cell_listener_request(const char *path, uint64_t fingerprint,
			  const uint8_t key[CELL_LISTENER_KEY_SIZE], unsigned int timeout_ms,
			  int *fd)
{
	cell_clear_error();
	if (!path || !key || !fd)
		return -EINVAL;
	return exchange(path, fingerprint, key, CELL_LISTENER_GIVE, -1, timeout_ms, fd);
}

int cell_listener_send(const char *path, uint64_t fingerprint,
		       const uint8_t key[CELL_LISTENER_KEY_SIZE], int fd, unsigned int timeout_ms)
{
	cell_clear_error();
	if (!path || !key || fd < 0)
		return -EINVAL;
	return exchange(path, fingerprint, key, CELL_LISTENER_TAKE, fd, timeout_ms, NULL);
}
