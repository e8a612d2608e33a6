/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/* Options structs: one validation policy (opts.c). */
#ifndef CELL_LIB_OPTS_H
#define CELL_LIB_OPTS_H

#include <stddef.h>

/*
 * Copy the caller's options struct @src (NULL: keep @dst's defaults) into
 * @dst, which holds the defaults and is @dst_sz bytes: the one policy of
 * libbpf's OPTS_VALID (a .sz below a size_t is refused; fields past .sz keep
 * their defaults; a larger .sz is accepted only if the unknown tail is all
 * zero).  @dst's .sz becomes @dst_sz.  Returns 0 or -EINVAL with the reason
 * in cell_last_error() naming @type.
 *
 * Growing a struct: append fields, never into the old struct's trailing
 * padding (a caller's padding bytes are not guaranteed zero, and an older
 * caller's .sz covers them).
 */
int cell_opts_copy(void *dst, size_t dst_sz, const void *src, const char *type);

#endif
