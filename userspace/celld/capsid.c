// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * capsid: start a cell under bubblewrap with a libseccomp filter, rlimits
 * and, where cgroup v2 is writable, a cgroup (capsid.h).
 *
 * The sandbox: every namespace bwrap can unshare (the network one too
 * unless the cell asks for the host's), --die-with-parent, --new-session,
 * --cap-drop ALL, a read-only /usr (and the /lib, /bin symlinks of a
 * merged-/usr system), ld.so.cache, a new /proc and /dev, a private /tmp,
 * read-only the paths the spec names (its binary's tree), read-only the
 * sockets of the cells it may call, writable only its socket and data
 * directories.  Nothing else of the host is there: not /etc/shadow, not
 * /home, not /root, not other cells' sockets.  When celld is root the cell
 * runs as an unprivileged uid (65534 unless configured), so that
 * RLIMIT_NPROC counts its processes and no file of root's is its own.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/capability.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>
#include <grp.h>
#include <linux/sockios.h>
#include <linux/cell.h>

#include "capsid.h"

/* By its absolute path: celld's PATH must not choose what runs the cells. */
#define BWRAP "/usr/bin/bwrap"

static int failf(char *why, size_t len, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return -err;
}

/*
 * What a cell may call: file and socket I/O, memory, threads and futexes,
 * signals, time, processes (not new namespaces), memfd and sealing, epoll.
 * Everything else fails with EPERM: ptrace, mount, unshare, setns, bpf,
 * kexec, modules, keyctl, userfaultfd, perf_event_open, io_uring,
 * process_vm_*, setuid and friends, reboot, swap, clock setting, ...
 */
static const char *const allowed[] = {
	"read",
	"write",
	"readv",
	"writev",
	"pread64",
	"pwrite64",
	"preadv",
	"pwritev",
	"preadv2",
	"pwritev2",
	"open",
	"openat",
	"openat2",
	"close",
	"close_range",
	"creat",
	"stat",
	"fstat",
	"lstat",
	"newfstatat",
	"statx",
	"statfs",
	"fstatfs",
	"access",
	"faccessat",
	"faccessat2",
	"lseek",
	"getdents",
	"getdents64",
	"getcwd",
	"chdir",
	"fchdir",
	"rename",
	"renameat",
	"renameat2",
	"mkdir",
	"mkdirat",
	"rmdir",
	"link",
	"linkat",
	"unlink",
	"unlinkat",
	"symlink",
	"symlinkat",
	"readlink",
	"readlinkat",
	"umask",
	"truncate",
	"ftruncate",
	"fallocate",
	"fsync",
	"fdatasync",
	"sync_file_range",
	"flock",
	"fcntl",
	"dup",
	"dup2",
	"dup3",
	"pipe",
	"pipe2",
	"utimensat",
	"fadvise64",
	"poll",
	"ppoll",
	"select",
	"pselect6",
	"epoll_create",
	"epoll_create1",
	"epoll_ctl",
	"epoll_wait",
	"epoll_pwait",
	"epoll_pwait2",
	"eventfd",
	"eventfd2",
	"timerfd_create",
	"timerfd_settime",
	"timerfd_gettime",
	"signalfd",
	"signalfd4",
	"inotify_init1",
	"inotify_add_watch",
	"inotify_rm_watch",
	"mmap",
	"munmap",
	"mprotect",
	"mremap",
	"madvise",
	"msync",
	"mincore",
	"brk",
	"memfd_create",
	"membarrier",
	"futex",
	"futex_waitv",
	"set_robust_list",
	"get_robust_list",
	"set_tid_address",
	"rseq",
	"arch_prctl",
	"getrandom",
	"rt_sigaction",
	"rt_sigprocmask",
	"rt_sigreturn",
	"rt_sigsuspend",
	"rt_sigpending",
	"rt_sigtimedwait",
	"rt_sigqueueinfo",
	"rt_tgsigqueueinfo",
	"sigaltstack",
	"kill",
	"tkill",
	"tgkill",
	"pause",
	"alarm",
	"getitimer",
	"setitimer",
	"nanosleep",
	"clock_nanosleep",
	"clock_gettime",
	"clock_getres",
	"gettimeofday",
	"time",
	"times",
	"sched_yield",
	"sched_getaffinity",
	"sched_setaffinity",
	"sched_getparam",
	"sched_getscheduler",
	"sched_get_priority_max",
	"sched_get_priority_min",
	"getpriority",
	"getpid",
	"getppid",
	"gettid",
	"getuid",
	"geteuid",
	"getgid",
	"getegid",
	"getgroups",
	"getresuid",
	"getresgid",
	"getpgrp",
	"getpgid",
	"getsid",
	"setsid",
	"setpgid",
	"uname",
	"sysinfo",
	"getrlimit",
	"prlimit64",
	"getrusage",
	"capget",
	"fork",
	"vfork",
	"execve",
	"execveat",
	"wait4",
	"waitid",
	"exit",
	"exit_group",
	"pidfd_open",
	"restart_syscall",
	"socketpair",
	"connect",
	"accept",
	"accept4",
	"bind",
	"listen",
	"getsockname",
	"getpeername",
	"sendto",
	"recvfrom",
	"sendmsg",
	"recvmsg",
	"sendmmsg",
	"recvmmsg",
	"shutdown",
	"setsockopt",
	"getsockopt",
};

/*
 * The ioctl commands a cell may issue: non-blocking and close-on-exec
 * switches (libuv), readiness counts, isatty and the window size (stdio),
 * interface lookups (QUIC and CAN paths), and /dev/cell's own.
 */
static const unsigned long allowed_ioctls[] = {
	FIONBIO,	  FIONREAD,	     FIOCLEX,		 FIONCLEX,
	TCGETS,		  TIOCGWINSZ,	     TIOCGPGRP,		 SIOCGIFINDEX,
	SIOCGIFNAME,	  SIOCGIFMTU,	     SIOCGIFFLAGS,	 CELL_IOC_VERSION,
	CELL_IOC_RING_CREATE, CELL_IOC_RING_OPEN, CELL_IOC_RING_WAIT, CELL_IOC_RING_WAKE,
	CELL_IOC_RING_INFO,
};

static const char *const no_splice[] = { "sendfile", "splice", "tee", "vmsplice",
					 "copy_file_range" };

static const unsigned long allowed_prctls[] = {
	PR_SET_PDEATHSIG,  PR_GET_PDEATHSIG,   PR_GET_DUMPABLE,	   PR_SET_NAME,
	PR_GET_NAME,	   PR_GET_SECCOMP,     PR_CAPBSET_READ,	   PR_GET_SECUREBITS,
	PR_SET_TIMERSLACK, PR_GET_TIMERSLACK,  PR_SET_NO_NEW_PRIVS, PR_GET_NO_NEW_PRIVS,
	PR_GET_THP_DISABLE, PR_SET_VMA,
};

static int add(scmp_filter_ctx ctx, const char *name, unsigned int n, const struct scmp_arg_cmp *c)
{
	int nr = seccomp_syscall_resolve_name(name);

	if (nr == __NR_SCMP_ERROR)
		return 0; /* not on this architecture */
	return seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, n, c);
}

static int build(scmp_filter_ctx ctx, bool share_net)
{
	const uint64_t ns = CLONE_NEWNS | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET |
			    CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP | CLONE_NEWTIME;
	struct scmp_arg_cmp c[2];
	int rc = 0;

	for (size_t i = 0; !rc && i < sizeof(allowed) / sizeof(allowed[0]); i++)
		rc = add(ctx, allowed[i], 0, NULL);
	/* Threads and processes, never in new namespaces. */
	c[0] = SCMP_A0(SCMP_CMP_MASKED_EQ, ns, 0);
	if (!rc)
		rc = add(ctx, "clone", 1, c);
	/* clone3 passes its flags in memory a filter cannot read: ENOSYS makes libc use clone. */
	if (!rc && seccomp_syscall_resolve_name("clone3") != __NR_SCMP_ERROR)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS),
				      seccomp_syscall_resolve_name("clone3"), 0);
	/* chmod and friends, but never a setuid or setgid bit (a trap in its data dir for the host). */
	c[0] = SCMP_A1(SCMP_CMP_MASKED_EQ, S_ISUID | S_ISGID, 0);
	if (!rc)
		rc = add(ctx, "chmod", 1, c);
	if (!rc)
		rc = add(ctx, "fchmod", 1, c);
	c[0] = SCMP_A2(SCMP_CMP_MASKED_EQ, S_ISUID | S_ISGID, 0);
	if (!rc)
		rc = add(ctx, "fchmodat", 1, c);
	/*
	 * Pipe splicing is not for cells (splice is the Dirty Pipe primitive):
	 * ENOSYS, on which programs fall back to read and write.
	 */
	for (size_t i = 0; !rc && i < sizeof(no_splice) / sizeof(no_splice[0]); i++) {
		int nr = seccomp_syscall_resolve_name(no_splice[i]);

		if (nr != __NR_SCMP_ERROR)
			rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), nr, 0);
	}
	/* prctl: the options libc, libuv and cells use, no others (PR_SET_PTRACER, PR_SET_DUMPABLE...). */
	for (size_t i = 0; !rc && i < sizeof(allowed_prctls) / sizeof(allowed_prctls[0]); i++) {
		c[0] = SCMP_A0(SCMP_CMP_EQ, allowed_prctls[i]);
		rc = add(ctx, "prctl", 1, c);
	}
	/*
	 * ioctl: only the commands cells use, each compared on all 64 bits (the
	 * kernel reads 32, so a command with upper bits set would otherwise be
	 * another way to TIOCSTI).  libseccomp refuses a deny beside an allow
	 * of the same syscall, so "all but TIOCSTI" cannot be said.
	 */
	for (size_t i = 0; !rc && i < sizeof(allowed_ioctls) / sizeof(allowed_ioctls[0]); i++) {
		c[0] = SCMP_A1(SCMP_CMP_EQ, allowed_ioctls[i]);
		rc = add(ctx, "ioctl", 1, c);
	}
	/* Sockets: Unix ones; stream and datagram inet ones when the network is shared. */
	c[0] = SCMP_A0(SCMP_CMP_EQ, AF_UNIX);
	if (!rc)
		rc = add(ctx, "socket", 1, c);
	for (int fam = 0; share_net && !rc && fam < 2; fam++) {
		int types[] = { SOCK_STREAM, SOCK_DGRAM };

		for (int t = 0; !rc && t < 2; t++) {
			c[0] = SCMP_A0(SCMP_CMP_EQ, fam ? AF_INET6 : AF_INET);
			c[1] = SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf, types[t]);
			rc = add(ctx, "socket", 2, c);
		}
	}
	return rc;
}

int capsid_seccomp_fd(bool share_net, char *why, size_t whylen)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
	int fd, rc;

	if (!ctx)
		return failf(why, whylen, ENOMEM, "seccomp_init failed");
	/* A binary tree, not ~200 comparisons in a row on every system call. */
	rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	if (!rc)
		rc = build(ctx, share_net);
	if (rc) {
		seccomp_release(ctx);
		return failf(why, whylen, -rc, "seccomp rule: %s", strerror(-rc));
	}
	/* close-on-exec: only bwrap gets it (capsid_spawn()'s child clears the flag) */
	fd = memfd_create("capsid-seccomp", MFD_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		seccomp_release(ctx);
		return failf(why, whylen, -rc, "memfd_create: %s", strerror(-rc));
	}
	rc = seccomp_export_bpf(ctx, fd);
	seccomp_release(ctx);
	if (rc || lseek(fd, 0, SEEK_SET) != 0) {
		close(fd);
		return failf(why, whylen, rc ? -rc : errno, "seccomp_export_bpf: %s",
			     strerror(rc ? -rc : errno));
	}
	return fd;
}

struct argv {
	const char *a[160];
	int n;
	bool full;
};

static void arg(struct argv *v, const char *s)
{
	if (v->n < (int)(sizeof(v->a) / sizeof(v->a[0])) - 1)
		v->a[v->n++] = s;
	else
		v->full = true;
}

static void arg2(struct argv *v, const char *opt, const char *a, const char *b)
{
	arg(v, opt);
	arg(v, a);
	if (b)
		arg(v, b);
}

static uint64_t or_default(uint64_t v, uint64_t d)
{
	return v ? v : d;
}

/* The child, before exec: cgroup, rlimits, uid.  Return: 0 or an errno. */
static int confine(const struct capsid_spec *s, char *cg, size_t cglen)
{
	struct rlimit as = { or_default(s->memory_max, 1ull << 30),
			     or_default(s->memory_max, 1ull << 30) };
	struct rlimit np = { or_default(s->pids_max, 64), or_default(s->pids_max, 64) };
	struct rlimit nf = { or_default(s->nofile_max, 1024), or_default(s->nofile_max, 1024) };
	uid_t uid = s->uid ? s->uid : 65534;
	gid_t gid = s->gid ? s->gid : 65534;

	if (s->cgroup_parent && cglen) {
		char f[4200], v[32];
		int fd;

		snprintf(cg, cglen, "%s/cell-%s-%d", s->cgroup_parent, s->name, (int)getpid());
		if (mkdir(cg, 0755) && errno != EEXIST)
			return errno;
		snprintf(f, sizeof(f), "%s/memory.max", cg);
		snprintf(v, sizeof(v), "%llu", (unsigned long long)as.rlim_max);
		fd = open(f, O_WRONLY);
		if (fd < 0 || write(fd, v, strlen(v)) < 0)
			return errno;
		close(fd);
		snprintf(f, sizeof(f), "%s/pids.max", cg);
		snprintf(v, sizeof(v), "%llu", (unsigned long long)np.rlim_max);
		fd = open(f, O_WRONLY);
		if (fd < 0 || write(fd, v, strlen(v)) < 0)
			return errno;
		close(fd);
		snprintf(f, sizeof(f), "%s/cgroup.procs", cg);
		fd = open(f, O_WRONLY);
		if (fd < 0 || write(fd, "0", 1) < 0)
			return errno;
		close(fd);
	}
	if (setrlimit(RLIMIT_AS, &as) || setrlimit(RLIMIT_NOFILE, &nf) ||
	    setrlimit(RLIMIT_CORE, &(struct rlimit){ 0, 0 }))
		return errno;
	if (geteuid() == 0) {
		if (setgroups(0, NULL) || setresgid(gid, gid, gid) || setresuid(uid, uid, uid))
			return errno;
	}
	/* After the uid: RLIMIT_NPROC counts the processes of the real uid. */
	if (setrlimit(RLIMIT_NPROC, &np))
		return errno;
	return 0;
}

/* Root may hand the cell another uid only with these (celld may have dropped them). */
static bool may_switch_uid(void)
{
	static const cap_value_t need[] = { CAP_SETUID, CAP_SETGID, CAP_CHOWN };
	cap_t now = cap_get_proc();
	bool ok = now != NULL;

	for (size_t i = 0; ok && i < sizeof(need) / sizeof(need[0]); i++) {
		cap_flag_value_t v = CAP_CLEAR;

		ok = !cap_get_flag(now, need[i], CAP_EFFECTIVE, &v) && v == CAP_SET;
	}
	cap_free(now);
	return ok;
}

/* chown a directory the cell will own, never what a symlink there points to. */
static int chown_dir(const char *path, uid_t uid, gid_t gid)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return -1;
	rc = fchown(fd, uid, gid);
	close(fd);
	return rc;
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/*
 * In the child, before exec: close every descriptor but 0-2 and @keep (bwrap
 * passes whatever it inherits on to the cell; a directory fd of celld's would
 * be a way out of the mount namespace).
 */
static int close_other_fds(int *keep, int nkeep)
{
	unsigned int from = 3;

	qsort(keep, nkeep, sizeof(*keep), cmp_int);
	for (int i = 0; i < nkeep; i++) {
		if (keep[i] < (int)from)
			continue;
		if (keep[i] > (int)from && close_range(from, keep[i] - 1, 0))
			return errno;
		from = keep[i] + 1;
	}
	return close_range(from, ~0U, 0) ? errno : 0;
}

/*
 * What to bind for peer socket @sock: a socket alone is pinned by its inode,
 * so once the peer restarts (a new socket at the same path) the caller could
 * never reach it again.  Where the socket is the only thing of its own
 * directory by the capsid layout (DIR/NAME/NAME.sock: each supervised cell's
 * socket directory, or DIR/NAME@K/NAME.sock: an instance's), the directory
 * is bound, read-only, and the peer's new socket appears in it.  Any other
 * socket is bound alone.
 */
static const char *peer_bind_path(const char *sock, char *dir, size_t cap)
{
	const char *slash = strrchr(sock, '/'), *prev, *at;
	size_t dlen, nlen;

	if (!slash || slash == sock)
		return sock;
	dlen = (size_t)(slash - sock);
	for (prev = slash - 1; prev > sock && *prev != '/'; prev--)
		;
	if (*prev != '/')
		return sock;
	nlen = (size_t)(slash - prev - 1); /* the directory's own name */
	at = memchr(prev + 1, '@', nlen);
	if (at && (at[1] < '1' || at[1] > '9' ||
		   strspn(at + 1, "0123456789") != (size_t)(slash - at - 1)))
		return sock; /* NAME@K: K from 1, digits only */
	if (at)
		nlen = (size_t)(at - prev - 1); /* an instance's: NAME@K/NAME.sock */
	if (!nlen || strlen(slash + 1) != nlen + 5 || strncmp(slash + 1, prev + 1, nlen) ||
	    strcmp(slash + 1 + nlen, ".sock") || dlen >= cap)
		return sock;
	memcpy(dir, sock, dlen);
	dir[dlen] = '\0';
	return dir;
}

pid_t capsid_spawn(const struct capsid_spec *s, char *why, size_t whylen)
{
	char peer_dirs[CAPSID_MAX_PATHS][512];
	struct argv v = { .n = 0 };
	char fdstr[16], keystr[16], cg[4200] = "", nucleus_at[4200];
	int sfd, err_pipe[2], rc;
	uid_t uid = s->uid ? s->uid : 65534;
	gid_t gid = s->gid ? s->gid : 65534;
	const char *sock_host = s->socket_dir_host ? s->socket_dir_host : s->socket_dir;
	pid_t pid;
	ssize_t n;

	if (!s->name || !s->argv || !s->argv[0] || s->argv[0][0] != '/' || !s->socket_dir ||
	    !s->data_dir)
		return failf(why, whylen, EINVAL,
			     "capsid: a name, an absolute program path and both dirs are needed");
	if (geteuid() == 0 && !may_switch_uid())
		return failf(why, whylen, EPERM,
			     "capsid %s: celld is root without cap_setuid, cap_setgid and "
			     "cap_chown: "
			     "the cell would run as root; not started",
			     s->name);
	if (geteuid() == 0 && (chown_dir(sock_host, uid, gid) || chown_dir(s->data_dir, uid, gid)))
		return failf(why, whylen, errno, "capsid %s: chown of its dirs: %s", s->name,
			     strerror(errno));
	sfd = capsid_seccomp_fd(s->share_net, why, whylen);
	if (sfd < 0)
		return sfd;
	snprintf(fdstr, sizeof(fdstr), "%d", sfd);
	arg(&v, BWRAP);
	arg(&v, "--clearenv"); /* celld's environment is not the cell's business */
	arg(&v, "--unshare-all");
	if (s->share_net)
		arg(&v, "--share-net");
	arg(&v, "--die-with-parent");
	arg(&v, "--new-session");
	arg2(&v, "--cap-drop", "ALL", NULL);
	arg2(&v, "--ro-bind", "/usr", "/usr");
	arg2(&v, "--symlink", "usr/lib", "/lib");
	arg2(&v, "--symlink", "usr/lib64", "/lib64");
	arg2(&v, "--symlink", "usr/bin", "/bin");
	arg2(&v, "--symlink", "usr/sbin", "/sbin");
	arg2(&v, "--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache");
	arg2(&v, "--ro-bind-try", "/etc/localtime", "/etc/localtime");
	arg2(&v, "--proc", "/proc", NULL);
	arg2(&v, "--dev", "/dev", NULL);
	/* cell.ko's rings where the module is loaded: the peer may be untrusted. */
	arg2(&v, "--dev-bind-try", "/dev/cell", "/dev/cell");
	arg2(&v, "--tmpfs", "/tmp", NULL);
	for (int i = 0; i < CAPSID_MAX_PATHS && s->ro_paths[i]; i++)
		arg2(&v, "--ro-bind", s->ro_paths[i], s->ro_paths[i]);
	for (int i = 0; i < CAPSID_MAX_PATHS && s->peer_sockets[i]; i++) {
		const char *bind = peer_bind_path(s->peer_sockets[i], peer_dirs[i], sizeof(peer_dirs[i]));

		arg2(&v, "--ro-bind", bind, bind);
	}
	arg2(&v, "--bind", sock_host, s->socket_dir);
	if (s->nucleus_socket) { /* where libcell looks for it: $CELL_RUNTIME_DIR/nucleus.sock */
		snprintf(nucleus_at, sizeof(nucleus_at), "%s/nucleus.sock", s->socket_dir);
		arg2(&v, "--ro-bind", s->nucleus_socket, nucleus_at);
	}
	arg2(&v, "--bind", s->data_dir, s->data_dir);
	arg2(&v, "--chdir", s->data_dir, NULL);
	arg2(&v, "--setenv", "CELL_RUNTIME_DIR", s->socket_dir);
	arg2(&v, "--setenv", "PATH", "/usr/bin:/bin");
	arg2(&v, "--setenv", "HOME", s->data_dir);
	if (s->listener_key_fd > 2) { /* the fd's number, not the key: argv is public */
		snprintf(keystr, sizeof(keystr), "%d", s->listener_key_fd);
		arg2(&v, "--setenv", "CELL_LISTENER_KEY_FD", keystr);
	}
	arg2(&v, "--seccomp", fdstr, NULL);
	arg(&v, "--");
	for (int i = 0; s->argv[i]; i++)
		arg(&v, s->argv[i]);
	v.a[v.n] = NULL;
	if (v.full) {
		close(sfd);
		return failf(why, whylen, E2BIG, "capsid %s: too many arguments", s->name);
	}
	if (pipe2(err_pipe, O_CLOEXEC)) {
		close(sfd);
		return failf(why, whylen, errno, "pipe: %s", strerror(errno));
	}
	pid = fork();
	if (pid < 0) {
		rc = errno;
		close(sfd);
		close(err_pipe[0]);
		close(err_pipe[1]);
		return failf(why, whylen, rc, "fork: %s", strerror(rc));
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		close(err_pipe[0]);
		/* celld ignores SIGPIPE: a cell gets the default back (exec keeps SIG_IGN). */
		signal(SIGPIPE, SIG_DFL);
		setpgid(0, 0);
		dup2(null, 0);
		dup2(s->stdout_fd >= 0 ? s->stdout_fd : null, 1);
		dup2(s->stderr_fd >= 0 ? s->stderr_fd : null, 2);
		rc = confine(s, cg, s->cgroup_parent ? sizeof(cg) : 0);
		if (!rc) {
			int keep[] = { sfd, err_pipe[1], s->listener_key_fd };
			sigset_t none;

			/* celld's blocked signals are not the cell's (exec keeps the mask). */
			sigemptyset(&none);
			sigprocmask(SIG_SETMASK, &none, NULL);
			rc = close_other_fds(keep, s->listener_key_fd > 2 ? 3 : 2);
			if (!rc && fcntl(sfd, F_SETFD, 0)) /* bwrap --seccomp reads it */
				rc = errno;
			/* bwrap passes it on to the cell, which keeps it: not close-on-exec */
			if (!rc && s->listener_key_fd > 2 && fcntl(s->listener_key_fd, F_SETFD, 0))
				rc = errno;
		}
		if (!rc) {
			execv(BWRAP, (char *const *)v.a);
			rc = errno;
		}
		if (write(err_pipe[1], &rc, sizeof(rc)) < 0)
			_exit(127);
		_exit(127);
	}
	close(sfd);
	close(err_pipe[1]);
	n = read(err_pipe[0], &rc, sizeof(rc));
	close(err_pipe[0]);
	if (n == (ssize_t)sizeof(rc)) {
		waitpid(pid, NULL, 0);
		capsid_reap(s, pid);
		return failf(why, whylen, rc, "capsid %s: %s: %s", s->name,
			     rc == ENOENT ? "bwrap not found (tools/deps.sh: bubblewrap)"
					  : "cannot confine or start bwrap",
			     strerror(rc));
	}
	return pid;
}

void capsid_reap(const struct capsid_spec *s, pid_t pid)
{
	char cg[4200];
	struct stat st;

	/* bwrap made an empty file to mount the nucleus socket on: not a socket of the cell's. */
	snprintf(cg, sizeof(cg), "%s/nucleus.sock",
		 s->socket_dir_host ? s->socket_dir_host
		 : s->socket_dir    ? s->socket_dir
				    : "");
	if (s->nucleus_socket && !lstat(cg, &st) && S_ISREG(st.st_mode) && st.st_size == 0)
		unlink(cg);

	if (!s->cgroup_parent)
		return;
	snprintf(cg, sizeof(cg), "%s/cell-%s-%d", s->cgroup_parent, s->name, (int)pid);
	rmdir(cg);
}

bool capsid_available(char *why, size_t whylen)
{
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return failf(why, whylen, errno, "fork: %s", strerror(errno)), false;
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(null, 1);
		dup2(null, 2);
		/* As the cells will run: root's bwrap would need CAP_SYS_ADMIN, which celld drops. */
		if (geteuid() == 0 && (setgroups(0, NULL) || setresgid(65534, 65534, 65534) ||
				       setresuid(65534, 65534, 65534)))
			_exit(126);
		execl(BWRAP, BWRAP, "--ro-bind", "/", "/", "--unshare-all", "--die-with-parent",
		       "--cap-drop", "ALL", "--", "/bin/true", (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st)) {
		snprintf(why, whylen, "%s",
			 WIFEXITED(st) && WEXITSTATUS(st) == 127   ? "no bwrap (tools/deps.sh "
								     "installs bubblewrap)"
			 : WIFEXITED(st) && WEXITSTATUS(st) == 126 ? "cannot become uid 65534 "
								     "(no cap_setuid/cap_setgid)"
								   : "bwrap cannot make namespaces "
								     "here");
		return false;
	}
	return true;
}
