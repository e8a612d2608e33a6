// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * One policy for every options struct (libbpf's OPTS_VALID).
 *
 * A struct passed in from a caller begins with its own size.  The caller
 * may have been built against an older or a newer libcell:
 *  - older (sz smaller than ours): the fields it does not know keep their
 *    defaults;
 *  - newer (sz larger than ours): accepted only if every byte past the end
 *    of our struct is zero, i.e. the caller left the fields we do not know
 *    unset; a set unknown field is refused, never silently ignored;
 *  - sz smaller than the size field itself: refused (sz was not set).
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "opts.h"
#include "rpc_internal.h"

int cell_opts_copy(void *dst, size_t dst_sz, const void *src, const char *type)
{
	const unsigned char *tail;
	size_t sz;

	if (!src)
		return 0;
	memcpy(&sz, src, sizeof(sz));
	if (sz < sizeof(size_t)) {
		cell_fail(CELL_STATUS_INVALID_ARGUMENT, "%s: .sz not set (%zu)", type, sz);
		return -EINVAL;
	}
	if (sz > dst_sz) {
		tail = (const unsigned char *)src + dst_sz;
		for (size_t i = 0; i < sz - dst_sz; i++) {
			if (tail[i]) {
				cell_fail(CELL_STATUS_INVALID_ARGUMENT,
					  "%s: a field this libcell does not know is set (byte %zu "
					  "of %zu; "
					  "struct is %zu bytes here)",
					  type, dst_sz + i, sz, dst_sz);
				return -EINVAL;
			}
		}
		sz = dst_sz;
	}
	memcpy(dst, src, sz);
	memcpy(dst, &dst_sz, sizeof(dst_sz));
	return 0;
}
