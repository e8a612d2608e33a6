/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * <linux/types.h> for BPF programs: vmlinux.h already defines __u8 .. __u64
 * and the endian types, so <linux/cell.h> and cell_bpf.h need nothing more.
 */
#ifndef CELL_BPF_LINUX_TYPES_H
#define CELL_BPF_LINUX_TYPES_H
#endif
