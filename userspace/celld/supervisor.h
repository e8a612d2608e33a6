/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/* celld module "capsid": cells of -o capsid.dir=DIR in capsids, restarted by policy (supervisor.c). */
#ifndef CELLD_SUPERVISOR_H
#define CELLD_SUPERVISOR_H

struct celld;

int celld_capsid_start(struct celld *d);
void celld_capsid_stop(struct celld *d);

#endif /* CELLD_SUPERVISOR_H */
