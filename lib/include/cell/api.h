/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * Export and checking attributes shared by every public libcell header.
 */
#ifndef CELL_API_H
#define CELL_API_H

#ifndef LIBCELL_API
#define LIBCELL_API __attribute__((visibility("default")))
#endif

/* Results that can fail must be looked at. */
#define CELL_MUST_CHECK __attribute__((warn_unused_result))

#endif /* CELL_API_H */
