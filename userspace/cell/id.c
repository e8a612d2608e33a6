// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * cell id [-j] [-s STATE_DIR]: this node's public key (its node id), read
 * from STATE_DIR/node.pub, which celld writes next to its secret key at
 * every start (userspace/celld/identity.h).  The state directory is the
 * one celld uses: -s, else /var/lib/cell as root, else $XDG_STATE_HOME/cell
 * or ~/.local/state/cell.  With -j it also says which capabilities celld
 * kept at its last start (STATE_DIR/capabilities).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "cell.h"

static int state_dir(char *buf, size_t cap)
{
	const char *x = getenv("XDG_STATE_HOME"), *home = getenv("HOME");

	if (geteuid() == 0)
		return snprintf(buf, cap, "/var/lib/cell") >= (int)cap ? -1 : 0;
	if (x && x[0] == '/')
		return snprintf(buf, cap, "%s/cell", x) >= (int)cap ? -1 : 0;
	if (home && home[0] == '/')
		return snprintf(buf, cap, "%s/.local/state/cell", home) >= (int)cap ? -1 : 0;
	return -1;
}

/*
 * ,"celld_pid":N,"capabilities":["cap_x",...] from STATE_DIR/capabilities,
 * which celld writes at start (userspace/celld/caps.c): what it kept.
 * Nothing if the file is missing or not "pid N\nkept LIST\n".
 */
static void print_caps(const char *dir)
{
	char path[4200], list[1024];
	FILE *f;
	int pid;

	snprintf(path, sizeof(path), "%s/capabilities", dir);
	f = fopen(path, "re");
	if (!f)
		return;
	if (fscanf(f, "pid %d kept %1023s", &pid, list) == 2 && pid > 0) {
		printf(",\"celld_pid\":%d,\"capabilities\":[", pid);
		if (strcmp(list, "none")) {
			char *save = NULL;
			int i = 0;

			for (char *t = strtok_r(list, ",", &save); t;
			     t = strtok_r(NULL, ",", &save))
				if (strspn(t, "abcdefghijklmnopqrstuvwxyz_0123456789") == strlen(t))
					printf("%s\"%s\"", i++ ? "," : "", t);
		}
		printf("]");
	}
	fclose(f);
}

int cell_cmd_id(int argc, char **argv)
{
	char dir[4096] = "", path[4200], hex[65];
	unsigned char pk[33];
	struct stat st;
	int json = 0, c, fd;
	ssize_t n;

	optind = 1;
	while ((c = getopt(argc, argv, "js:h")) != -1) {
		switch (c) {
		case 'j':
			json = 1;
			break;
		case 's':
			snprintf(dir, sizeof(dir), "%s", optarg);
			break;
		default:
			fprintf(stderr, "usage: cell id [-j] [-s STATE_DIR]\n");
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "usage: cell id [-j] [-s STATE_DIR]\n");
		return 2;
	}
	if (!dir[0] && state_dir(dir, sizeof(dir))) {
		fprintf(stderr, "cell id: no state directory (give -s DIR)\n");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/node.pub", dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "cell id: %s: %s%s\n", path, strerror(errno),
			errno == ENOENT ? " (celld makes the node key on its first start)" : "");
		return 1;
	}
	if (fstat(fd, &st) || st.st_size != 32 || (n = read(fd, pk, sizeof(pk))) != 32) {
		fprintf(stderr, "cell id: %s is not a 32-byte Ed25519 public key\n", path);
		close(fd);
		return 1;
	}
	close(fd);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", pk[i]);
	if (json) {
		printf("{\"node\":\"%s\",\"key\":\"ed25519\"", hex);
		print_caps(dir);
		printf("}\n");
	} else {
		printf("%s\n", hex);
	}
	return 0;
}
