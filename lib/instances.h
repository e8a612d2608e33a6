/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * The instances of a cell name in a runtime directory: NAME.sock (number
 * 0) and NAME@K.sock (K from 1, no leading zero, at most
 * CELL_INSTANCE_DIGITS digits).  Each may be a socket or a symlink to one
 * (celld links instances that live in RUNTIME_DIR/capsid/...): symlinks
 * are followed.  Used by the client's pick by fingerprint and by tissue.
 */
#ifndef CELL_LIB_INSTANCES_H
#define CELL_LIB_INSTANCES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CELL_INSTANCE_DIGITS 6 /* "name@999999" */

struct cell_instance_file {
	unsigned int number; /* 0 for NAME, K for NAME@K */
	/* The socket itself (symlinks followed): a new bind changes one of them. */
	dev_t dev;
	ino_t ino;
	uint64_t ctime_ns;
};

/*
 * If @file is "<name>.sock" or "<name>@<K>.sock", store its number in
 * *@number and return true.
 */
bool cell_instance_parse(const char *name, const char *file, unsigned int *number);

/*
 * The instances of @name in @dir, sorted by number, in a new array the
 * caller frees (*@out is NULL when there are none).  Entries that are not
 * sockets (after following symlinks: dangling links are left out) are
 * skipped.  A missing directory holds no instance.
 * Return: 0, or a negative errno (ENOMEM, or opendir's).
 */
int cell_instances_scan(const char *dir, const char *name, struct cell_instance_file **out,
			size_t *count);

#endif
