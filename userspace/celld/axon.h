/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/*
 * The axon module of celld (axon.c): local cells exported over QUIC, remote
 * cells' QUIC endpoints published for libcell.  Documentation/axon.rst.
 */
#ifndef CELLD_AXON_H
#define CELLD_AXON_H

struct celld;

/* Methods 0..N-1 are forwarded by an export proxy (schemas use small ids). */
#define AXON_FORWARDED_METHODS 256

int celld_axon_start(struct celld *d);
void celld_axon_stop(struct celld *d);

/* The exported QUIC ports: @first..@first+@count-1 (0, 0: none or any). */
void celld_axon_ports(const struct celld *d, unsigned *first, unsigned *count);

#endif /* CELLD_AXON_H */
