// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/* The instances of a cell name in a runtime directory (instances.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "instances.h"

#define SOCK_SUFFIX ".sock"

bool cell_instance_parse(const char *name, const char *file, unsigned int *number)
{
	size_t len = strlen(name), digits;
	const char *p = file + len;

	if (strncmp(file, name, len))
		return false;
	*number = 0;
	if (*p == '@') {
		p++;
		digits = strspn(p, "0123456789");
		if (digits < 1 || digits > CELL_INSTANCE_DIGITS || *p == '0')
			return false;
		*number = (unsigned int)strtoul(p, NULL, 10);
		p += digits;
	}
	return strcmp(p, SOCK_SUFFIX) == 0;
}

/* A socket, or a symlink to one: the identity of the socket in *@st. */
static bool socket_at(int dirfd, const struct dirent *de, struct stat *st)
{
	if (de->d_type != DT_UNKNOWN && de->d_type != DT_SOCK && de->d_type != DT_LNK)
		return false;
	return fstatat(dirfd, de->d_name, st, 0) == 0 && S_ISSOCK(st->st_mode);
}

static int compare_numbers(const void *a, const void *b)
{
	unsigned int x = ((const struct cell_instance_file *)a)->number;
	unsigned int y = ((const struct cell_instance_file *)b)->number;

	return x < y ? -1 : x > y;
}

int cell_instances_scan(const char *dir, const char *name, struct cell_instance_file **out,
			size_t *count)
{
	struct cell_instance_file *files = NULL;
	DIR *d = opendir(dir);
	size_t n = 0, cap = 0;
	unsigned int number;
	struct dirent *de;
	struct stat st;

	*out = NULL;
	*count = 0;
	if (!d)
		return errno == ENOENT ? 0 : -errno; /* no directory: no instance */
	while ((de = readdir(d))) {
		if (!cell_instance_parse(name, de->d_name, &number) ||
		    !socket_at(dirfd(d), de, &st))
			continue;
		if (n == cap) {
			struct cell_instance_file *grown =
				realloc(files, (cap = cap ? 2 * cap : 8) * sizeof(*files));

			if (!grown) {
				free(files);
				closedir(d);
				return -ENOMEM;
			}
			files = grown;
		}
		files[n++] = (struct cell_instance_file){
			.number = number,
			.dev = st.st_dev,
			.ino = st.st_ino,
			.ctime_ns = (uint64_t)st.st_ctim.tv_sec * 1000000000u +
				    (uint64_t)st.st_ctim.tv_nsec,
		};
	}
	closedir(d);
	if (n)
		qsort(files, n, sizeof(*files), compare_numbers);
	*out = files;
	*count = n;
	return 0;
}
