/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR MIT) */
/*
 * The MCU port's stand-in for the kernel's <linux/types.h>: only the fixed
 * size types <linux/cell.h> uses.  Spelled as the kernel spells them
 * (asm-generic/int-ll64.h) so that a host test may see both headers; the
 * sizes are checked below for the target at hand.
 */
#ifndef _CELL_MCU_LINUX_TYPES_H
#define _CELL_MCU_LINUX_TYPES_H

typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;
typedef signed char __s8;
typedef signed short __s16;
typedef signed int __s32;
typedef signed long long __s64;

typedef char __cell_mcu_u16_is_2[sizeof(__u16) == 2 ? 1 : -1];
typedef char __cell_mcu_u32_is_4[sizeof(__u32) == 4 ? 1 : -1];
typedef char __cell_mcu_u64_is_8[sizeof(__u64) == 8 ? 1 : -1];

#endif /* _CELL_MCU_LINUX_TYPES_H */
