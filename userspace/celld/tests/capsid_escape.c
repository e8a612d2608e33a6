// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * capsid_escape: run inside a capsid (capsid_test starts it); tries every
 * way out the capsid issue names and prints a TAP line per attempt, "ok"
 * when the attempt was denied, "not ok" when it worked.  Then checks that
 * the sandbox is still usable (its own dirs, memfd seals, a Unix socket to
 * the peer it was given), so a profile that denies everything fails too.
 *
 *   capsid_escape SOCKET_DIR DATA_DIR ALLOWED_PEER FORBIDDEN_PEER HOST_FILE
 *
 * HOST_FILE is a file of the host outside every path given to the cell.
 * Last line: "# N attempts, D denied"; exit 0 only if all were denied and
 * the usable checks passed.
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

static int n, denied, usable_failed;

/* @rc < 0 means the attempt failed: denied. */
static void attempt(const char *what, long rc)
{
	int e = errno;

	n++;
	if (rc < 0) {
		denied++;
		printf("ok %d - %s: denied (%s)\n", n, what, strerror(e));
	} else {
		printf("not ok %d - %s: SUCCEEDED\n", n, what);
	}
	fflush(stdout);
}

static void usable(const char *what, bool ok)
{
	n++;
	printf("%s %d - usable: %s\n", ok ? "ok" : "not ok", n, what);
	if (!ok)
		usable_failed++;
	fflush(stdout);
}

static long connect_to(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	long rc;

	if (fd < 0)
		return -1;
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	rc = connect(fd, (struct sockaddr *)&a, sizeof(a));
	close(fd);
	return rc;
}

static long open_rd(const char *path)
{
	int fd = open(path, O_RDONLY);
	char c;
	long rc;

	if (fd < 0)
		return -1;
	rc = read(fd, &c, 1);
	close(fd);
	return rc;
}

static long write_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	long rc;

	if (fd < 0)
		return -1;
	rc = write(fd, "x", 1);
	close(fd);
	return rc;
}

/* Fork until it fails; -1 (denied) if it stopped below @limit children. */
static long fork_bomb(int limit)
{
	pid_t kids[4096];
	int k = 0;
	long rc = 0;

	while (k < limit && k < 4096) {
		pid_t p = fork();

		if (p == 0) {
			pause();
			_exit(0);
		}
		if (p < 0)
			break;
		kids[k++] = p;
	}
	if (k >= limit)
		rc = 1;
	else
		errno = EAGAIN;
	printf("# fork bomb: %d children before fork failed\n", k);
	for (int i = 0; i < k; i++)
		kill(kids[i], SIGKILL);
	for (int i = 0; i < k; i++)
		waitpid(kids[i], NULL, 0);
	return rc ? 0 : -1;
}

/* Touch @bytes of fresh memory; -1 if the allocation was refused first. */
static long memory_bomb(size_t bytes)
{
	size_t chunk = 16u << 20, got = 0;
	long rc = 0;

	while (got < bytes) {
		char *p = mmap(NULL, chunk, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
			       0);

		if (p == MAP_FAILED) {
			rc = -1;
			break;
		}
		memset(p, 1, chunk);
		got += chunk;
	}
	printf("# memory bomb: %zu MiB mapped before it was refused\n", got >> 20);
	return rc;
}

/* Under a seccomp filter with no_new_privs (a capsid), else refuse to run. */
static bool confined(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	int nnp = 0, sec = 0;

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		sscanf(line, "NoNewPrivs: %d", &nnp);
		sscanf(line, "Seccomp: %d", &sec);
	}
	fclose(f);
	return nnp == 1 && sec == 2;
}

/* Run the setuid-root mount(8): 0 if it mounted (the setuid bit worked). */
static long setuid_mount(void)
{
	pid_t p = fork();
	int st = 0;

	if (p == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 1);
		dup2(null, 2);
		execl("/usr/bin/mount", "mount", "-t", "tmpfs", "none", "/tmp/m", (char *)NULL);
		_exit(126);
	}
	if (p < 0 || waitpid(p, &st, 0) != p)
		return -1;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	errno = EPERM;
	return -1;
}

/* A descriptor the cell did not open itself (capsid_test leaves one of "/"). */
static long inherited_fd(void)
{
	for (int fd = 3; fd < 1024; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			return fd;
	errno = EBADF;
	return -1;
}

static long environment_secret(void)
{
	if (getenv("CAPSID_TEST_SECRET"))
		return 0;
	errno = ENOENT;
	return -1;
}

/*
 * Push a byte into a terminal's input: TIOCSTI, with @high in the upper 32
 * bits of the command.  On its own controlling tty, so the kernel would allow
 * it (dev.tty.legacy_tiocsti=1): only the filter stands in the way.
 */
static long tiocsti(unsigned long high)
{
	int m = open("/dev/ptmx", O_RDWR | O_NOCTTY), s = -1, e;
	char c = 'x';
	long rc = -1;

	signal(SIGHUP, SIG_IGN); /* the hangup when the master closes */
	if (getpid() != getsid(0))
		setsid(); /* a session of its own, whose controlling tty the pty becomes */
	if (m >= 0 && grantpt(m) == 0 && unlockpt(m) == 0 && ptsname(m))
		s = open(ptsname(m), O_RDWR); /* its controlling tty (bwrap made a session): no CAP_SYS_ADMIN needed */
	if (s >= 0)
		rc = syscall(SYS_ioctl, s, high << 32 | TIOCSTI, &c);
	e = errno;
	if (s >= 0)
		close(s);
	if (m >= 0)
		close(m);
	errno = e;
	return rc;
}

/* A setuid bit on a file of its own data dir (@dir/suid). */
static long setuid_bit(const char *dir)
{
	char path[4200];
	int fd;

	snprintf(path, sizeof(path), "%s/suid", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	if (fd < 0)
		return -1;
	close(fd);
	return chmod(path, 04755);
}

/* splice(2) between two pipes (the Dirty Pipe primitive). */
static long splice_pipes(void)
{
	int a[2], b[2];
	long rc;

	if (pipe(a) || pipe(b) || write(a[1], "x", 1) != 1)
		return -1;
	rc = splice(a[0], NULL, b[1], NULL, 1, 0);
	close(a[0]);
	close(a[1]);
	close(b[0]);
	close(b[1]);
	return rc;
}

int main(int argc, char **argv)
{
	char path[4200];

	if (argc != 6) {
		fprintf(stderr, "usage: capsid_escape SOCKET_DIR DATA_DIR ALLOWED_PEER "
				"FORBIDDEN_PEER HOST_FILE\n");
		return 2;
	}
	/* Outside a sandbox the attempts would work: a ptrace of the shell, a fork bomb. */
	if (!confined()) {
		fprintf(stderr, "capsid_escape: not in a capsid (no seccomp filter): refusing\n");
		return 2;
	}
	printf("TAP version 13\n");
	attempt("use a descriptor inherited from celld", inherited_fd());
	attempt("read celld's environment", environment_secret());
	attempt("TIOCSTI into a terminal", tiocsti(0));
	attempt("TIOCSTI with bit 32 of the command set", tiocsti(1));
	attempt("chmod u+s of a file in its data dir", setuid_bit(argv[2]));
	attempt("splice between two pipes", splice_pipes());
	attempt("prctl(PR_SET_DUMPABLE)", prctl(PR_SET_DUMPABLE, 1, 0, 0, 0));
	attempt("ptrace(PTRACE_ATTACH) of the parent", ptrace(PTRACE_ATTACH, getppid(), 0, 0));
	attempt("ptrace(PTRACE_TRACEME)", ptrace(PTRACE_TRACEME, 0, 0, 0));
	mkdir("/tmp/m", 0755);
	attempt("mount tmpfs", mount("none", "/tmp/m", "tmpfs", 0, NULL));
	attempt("unshare(CLONE_NEWUSER) to regain capabilities", unshare(CLONE_NEWUSER));
	attempt("unshare(CLONE_NEWNS)", unshare(CLONE_NEWNS));
	attempt("clone(CLONE_NEWUSER)", syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0));
	attempt("chroot", chroot("/tmp"));
	{
		union bpf_attr a;
		struct bpf_insn prog[] = {
			{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 0 },
			{ .code = BPF_JMP | BPF_EXIT },
		};

		memset(&a, 0, sizeof(a));
		a.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
		a.insns = (unsigned long)prog;
		a.insn_cnt = 2;
		a.license = (unsigned long)"GPL";
		attempt("bpf(BPF_PROG_LOAD)", syscall(SYS_bpf, BPF_PROG_LOAD, &a, sizeof(a)));
	}
	attempt("init_module", syscall(SYS_init_module, "", 0, ""));
	attempt("finit_module", syscall(SYS_finit_module, 0, "", 0));
	attempt("kexec_load", syscall(SYS_kexec_load, 0, 0, NULL, 0));
	attempt("keyctl(KEYCTL_GET_KEYRING_ID)",
		syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0));
	attempt("add_key",
		syscall(SYS_add_key, "user", "capsid", "x", 1, KEY_SPEC_PROCESS_KEYRING));
	attempt("userfaultfd", syscall(SYS_userfaultfd, 0));
	{
		struct perf_event_attr pa = { .type = PERF_TYPE_SOFTWARE,
					      .size = sizeof(pa),
					      .config = PERF_COUNT_SW_CPU_CLOCK };

		attempt("perf_event_open", syscall(SYS_perf_event_open, &pa, 0, -1, -1, 0));
	}
	attempt("io_uring_setup", syscall(SYS_io_uring_setup, 1, calloc(1, 256)));
	attempt("write under /usr", write_file("/usr/capsid-escape"));
	attempt("write /proc/sys/vm/drop_caches", write_file("/proc/sys/vm/drop_caches"));
	{
		int fd = open(argv[5], O_WRONLY | O_APPEND);

		attempt("write a host file outside its dirs",
			fd < 0 ? -1 : write(fd, "escaped\n", 8));
	}
	/* Lands in its private /tmp: capsid_test checks the host has no such file. */
	snprintf(path, sizeof(path), "%s.escape", argv[5]);
	if (write_file(path) == 1)
		printf("# wrote %s (its private /tmp)\n", path);
	attempt("read /etc/shadow", open_rd("/etc/shadow"));
	attempt("read a host file outside its dirs", open_rd(argv[5]));
	attempt("read the host's /root",
		open_rd("/root/.bashrc") < 0 && open("/root", O_RDONLY) < 0 ? -1 : 0);
	attempt("connect to a cell's socket it was not given", connect_to(argv[4]));
	attempt("raw socket (AF_PACKET)", socket(AF_PACKET, SOCK_RAW, 0));
	attempt("raw socket (AF_INET, SOCK_RAW)", socket(AF_INET, SOCK_RAW, 1));
	attempt("network when not shared (AF_INET stream socket)", socket(AF_INET, SOCK_STREAM, 0));
	attempt("netlink socket", socket(AF_NETLINK, SOCK_RAW, 0));
	attempt("setuid binary (mount is setuid root): mount tmpfs", setuid_mount());
	attempt("setuid (to 0)", setuid(0) == 0 && geteuid() == 0 ? 0 : -1);
	attempt("fork bomb (1000 processes)", fork_bomb(1000));
	attempt("memory bomb (2 GiB)", memory_bomb(2ull << 30));

	snprintf(path, sizeof(path), "%s/file", argv[2]);
	usable("write in its data dir", write_file(path) == 1);
	usable("chmod 0600 of it, and prctl(PR_SET_NAME)",
	       chmod(path, 0600) == 0 && prctl(PR_SET_NAME, "capsid", 0, 0, 0) == 0);
	usable("connect to the peer it was given", connect_to(argv[3]) == 0);
	{
		int fd = memfd_create("capsid", MFD_ALLOW_SEALING);

		usable("memfd_create + seals",
		       fd >= 0 && ftruncate(fd, 4096) == 0 &&
			       fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) == 0);
	}
	{
		struct sockaddr_un a = { .sun_family = AF_UNIX };
		int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);

		snprintf(a.sun_path, sizeof(a.sun_path), "%s/own.sock", argv[1]);
		usable("listen on a socket in its socket dir",
		       fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
			       listen(fd, 1) == 0);
	}
	printf("1..%d\n# %d attempts, %d denied\n", n, n - 5, denied);
	return denied == n - 5 && !usable_failed ? 0 : 1;
}
