/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/* Registration of a starting server with celld (register.c). */
#ifndef CELL_REGISTER_H
#define CELL_REGISTER_H

#include <cell/rpc.h>

/*
 * cell_register_server() - tell the nucleus of @dir (if one runs) that
 * cell @name serves at @path.  Best effort, at most a few hundred ms.
 * Return: OK, UNAVAILABLE (no celld), or the nucleus's refusal.
 */
enum cell_status cell_register_server(const char *name, const char *dir, const char *path,
				      const struct cell_server_opts *o);

#endif /* CELL_REGISTER_H */
