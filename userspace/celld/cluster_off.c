// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * celld without libraft (CELL_WITH_RAFT=OFF or libraft missing): -o
 * cluster.* is refused with the reason instead of being ignored, and the
 * kv/cluster methods answer UNIMPLEMENTED (no handler).
 */
#include <errno.h>

#include "celld.h"

int celld_cluster_start(struct celld *d)
{
	if (!celld_option(d, "cluster.id", NULL))
		return 0;
	celld_log("cluster: celld was built without libraft (CELL_WITH_RAFT; tools/deps.sh build)");
	return -ENOTSUP;
}

void celld_cluster_stop(struct celld *d)
{
	(void)d;
}
