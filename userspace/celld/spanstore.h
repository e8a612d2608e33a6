/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/*
 * celld's span collector (spanstore.c): collects every local cell's spans
 * into a bounded store and serves them as the nucleus method "spans".
 * Options: collect.spans_ms (1000; 0 only on demand), collect.store
 * (16384 spans), collect.timeout_ms (500).
 */
#ifndef CELLD_SPANSTORE_H
#define CELLD_SPANSTORE_H

struct celld;

int celld_collect_start(struct celld *d);
void celld_collect_stop(struct celld *d);

#endif /* CELLD_SPANSTORE_H */
