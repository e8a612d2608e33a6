/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/*
 * capsid: a cell started in a sandbox.  bubblewrap makes the namespaces
 * and the mounts, libseccomp the system-call filter, setrlimit(2) and
 * (where cgroup v2 is writable) a cgroup bound its resources.  celld's
 * supervisor and `cell spawn` build on capsid_spawn().
 * Documentation/capsid.rst has the profile and what is not built yet.
 */
#ifndef CELLD_CAPSID_H
#define CELLD_CAPSID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CAPSID_MAX_PATHS 16

struct capsid_spec {
	const char *name;	/* the cell's name, for messages and the cgroup */
	char *const *argv;	/* the program (an absolute path) and its arguments */
	const char *socket_dir; /* writable inside: the cell's socket directory */
	/*
	 * NULL: socket_dir is the host's own; else the host directory bound at
	 * socket_dir inside (a hot swap's staging directory: supervisor.c)
	 */
	const char *socket_dir_host;
	const char *data_dir;	/* writable inside: its own data; the working directory */
	const char *ro_paths[CAPSID_MAX_PATHS]; /* also visible, read-only (its binary's tree) */
	const char *peer_sockets[CAPSID_MAX_PATHS]; /* sockets of the cells it may call */
	/* celld's nucleus socket, bound at socket_dir/nucleus.sock (read-only), or NULL */
	const char *nucleus_socket;
	bool share_net; /* keep the host's network (else only loopback of its own) */
	uid_t uid;	/* runs as (when celld is root); 0: 65534 */
	gid_t gid;
	uint64_t memory_max;	   /* bytes: RLIMIT_AS and memory.max (0: 1 GiB) */
	uint64_t pids_max;	   /* RLIMIT_NPROC and pids.max (0: 64) */
	uint64_t nofile_max;	   /* RLIMIT_NOFILE (0: 1024) */
	const char *cgroup_parent; /* a writable cgroup v2 directory, or NULL */
	int stdout_fd, stderr_fd;  /* given to the cell; -1: /dev/null */
	/*
	 * > 2: a sealed memfd holding the cell's listener hand-over key, given
	 * to it as CELL_LISTENER_KEY_FD (<linux/cell.h> struct cell_listener;
	 * supervisor.c's hot swap); else none.
	 */
	int listener_key_fd;
};

/*
 * The cell profile as a seccomp BPF program in a file descriptor for
 * bwrap --seccomp, close-on-exec (capsid_spawn() hands it to bwrap
 * alone).  Default action EPERM; the allow list is in capsid.c and
 * Documentation/capsid.rst.  Return: the fd, or -errno with @why filled.
 */
int capsid_seccomp_fd(bool share_net, char *why, size_t whylen);

/*
 * Start @spec's program in its sandbox.  Return: the pid of the bwrap
 * process (the cell dies with it: --die-with-parent, and it is the cell's
 * parent), or -errno with @why filled.  The cgroup, if made, is
 * @spec->cgroup_parent/cell-NAME-PID, removed by capsid_reap().
 */
pid_t capsid_spawn(const struct capsid_spec *spec, char *why, size_t whylen);

/* After the cell's bwrap was reaped: remove its cgroup, if any. */
void capsid_reap(const struct capsid_spec *spec, pid_t pid);

/* Whether this machine can run capsids (bwrap runs); @why says why not. */
bool capsid_available(char *why, size_t whylen);

#endif /* CELLD_CAPSID_H */
