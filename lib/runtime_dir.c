// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Where local cells put their sockets, how a cell name becomes a path, and
 * which ring backend a process asked for (CELL_RING_BACKEND).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ring_module.h"
#include "rpc_internal.h"

static int put_path(char *buf, size_t cap, const char *a, const char *b)
{
	int n = snprintf(buf, cap, "%s%s", a, b);

	if (n < 0)
		return -EINVAL;
	return (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

int cell_runtime_dir(char *buf, size_t cap)
{
	const char *env = getenv("CELL_RUNTIME_DIR");
	char tmp[64];

	if (env) {
		if (env[0] != '/')
			return -EINVAL;
		return put_path(buf, cap, env, "");
	}
	env = getenv("XDG_RUNTIME_DIR");
	if (env) {
		if (env[0] != '/')
			return -EINVAL;
		return put_path(buf, cap, env, "/cell");
	}
	if (geteuid() == 0)
		return put_path(buf, cap, "/run/cell", "");
	snprintf(tmp, sizeof(tmp), "/tmp/cell-%u", (unsigned int)geteuid());
	return put_path(buf, cap, tmp, "");
}

static bool name_char_ok(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' ||
	       ch == '@' || ch == '-';
}

int cell_socket_path(const char *dir, const char *name, char *buf, size_t cap)
{
	char rdir[256];
	size_t len;
	int n;

	if (!name || name[0] == '\0' || name[0] == '.')
		return -EINVAL;
	len = strnlen(name, CELL_NAME_MAX);
	if (len >= CELL_NAME_MAX)
		return -EINVAL;
	for (size_t i = 0; i < len; i++)
		if (!name_char_ok(name[i]))
			return -EINVAL;
	if (!dir) {
		int err = cell_runtime_dir(rdir, sizeof(rdir));

		if (err)
			return err;
		dir = rdir;
	}
	n = snprintf(buf, cap, "%s/%s.sock", dir, name);
	if (n < 0)
		return -EINVAL;
	return (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

/*
 * Create the runtime directory (and its parent for the XDG and /tmp
 * cases).  A directory in /tmp must be ours and private, or anybody could
 * plant sockets in it.
 */
int cell_runtime_dir_create(const char *dir)
{
	mode_t mode = strcmp(dir, "/run/cell") == 0 ? 0755 : 0700;
	char own_tmp[32];
	bool shared_tmp;
	struct stat st;

	snprintf(own_tmp, sizeof(own_tmp), "/tmp/cell-%u", (unsigned int)geteuid());
	shared_tmp = strcmp(dir, own_tmp) == 0;
	if (mkdir(dir, mode) && errno != EEXIST)
		return -errno;
	if (lstat(dir, &st))
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if (shared_tmp && (st.st_uid != geteuid() || (st.st_mode & 0077)))
		return -EPERM;
	return 0;
}

const char *cell_path_name(enum cell_path path)
{
	switch (path) {
	case CELL_PATH_SHM_MEMFD:
		return "shm-memfd";
	case CELL_PATH_SHM_MODULE:
		return "shm-module";
	case CELL_PATH_QUIC:
		return "quic";
	default:
		return "unix";
	}
}

/*
 * AUTO is the module when /dev/cell works, else memfd.  An explicit
 * "module" without a usable /dev/cell is an error the caller sees, never a
 * quiet fallback to memfd.
 */
int cell_backend_resolve(enum cell_ring_backend asked, enum cell_ring_backend *out)
{
	const char *env = getenv("CELL_RING_BACKEND");
	int err;

	if (asked == CELL_RING_BACKEND_AUTO && env && env[0]) {
		if (!strcmp(env, "memfd"))
			asked = CELL_RING_BACKEND_MEMFD;
		else if (!strcmp(env, "module"))
			asked = CELL_RING_BACKEND_MODULE;
		else if (!strcmp(env, "unix") || !strcmp(env, "none"))
			asked = CELL_RING_BACKEND_NONE;
		else
			return cell_fail(CELL_STATUS_INVALID_ARGUMENT,
					 "CELL_RING_BACKEND=%s: expected memfd, module or unix",
					 env),
			       -EINVAL;
	}
	switch (asked) {
	case CELL_RING_BACKEND_AUTO:
		*out = cell_ring_module_present() ? CELL_RING_BACKEND_MEMFD
						  : CELL_RING_BACKEND_MODULE;
		return 0;
	case CELL_RING_BACKEND_MEMFD:
	case CELL_RING_BACKEND_NONE:
		*out = asked;
		return 0;
	case CELL_RING_BACKEND_MODULE:
		err = cell_ring_module_present();
		if (err) {
			cell_fail(CELL_STATUS_UNAVAILABLE,
				  "module backend not available: " CELL_DEV_PATH ": %s",
				  strerror(-err));
			return err == -ENOENT ? -ENODEV : err;
		}
		*out = CELL_RING_BACKEND_MODULE;
		return 0;
	default:
		cell_fail(CELL_STATUS_INVALID_ARGUMENT, "unknown ring backend %d", (int)asked);
		return -EINVAL;
	}
}

bool cell_backend_module_by_name(enum cell_ring_backend asked)
{
	const char *env = getenv("CELL_RING_BACKEND");

	return asked == CELL_RING_BACKEND_MODULE ||
	       (asked == CELL_RING_BACKEND_AUTO && env && !strcmp(env, "module"));
}
