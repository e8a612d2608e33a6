// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* <linux/cell.h> as BPF programs see it: compiled with clang -target bpf. */
#include <linux/cell.h>

_Static_assert(sizeof(struct cell_hdr) == 20, "");
_Static_assert(sizeof(struct cell_pheromone) == 256, "");

int cell_uapi_bpf_magic(const struct cell_pheromone *p)
{
	return p->magic == CELL_PHEROMONE_MAGIC;
}
