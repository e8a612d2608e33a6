// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * libcell built without /dev/cell support (CELL_WITH_MODULE=OFF): the module
 * is never there, so AUTO picks memfd rings and an explicit "module" backend
 * fails with -ENODEV, as on a machine without cell.ko.
 */
#include <errno.h>

#include "ring_module.h"

int cell_ring_module_present(void)
{
	return -ENODEV;
}

int cell_ring_module_pair(uint64_t data_size, int fds[2])
{
	(void)data_size;
	(void)fds;
	return -ENODEV;
}

int cell_ring_module_is_ring(int fd)
{
	(void)fd;
	return -ENOTTY;
}

int cell_ring_module_attach(struct cell_ring *r, int fd, int role, uint64_t expect_size)
{
	(void)r;
	(void)fd;
	(void)role;
	(void)expect_size;
	return -ENODEV;
}

int cell_ring_module_wait(const struct cell_ring *r, const uint32_t *word, uint32_t seen,
			  uint64_t abs_ns)
{
	(void)r;
	(void)word;
	(void)seen;
	(void)abs_ns;
	return -ENODEV;
}

int cell_ring_module_wake(const struct cell_ring *r, const uint32_t *word)
{
	(void)r;
	(void)word;
	return -ENODEV;
}

void cell_ring_module_wake_all(struct cell_ring *r)
{
	(void)r;
}
