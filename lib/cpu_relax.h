/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * The pause of a busy-wait loop (ring waits, the client's and the server's
 * spins): tells the CPU this is a spin, so a sibling thread gets the core.
 */
#ifndef CELL_CPU_RELAX_H
#define CELL_CPU_RELAX_H

static inline void cell_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
	__asm__ __volatile__("yield" ::: "memory");
#endif
}

#endif /* CELL_CPU_RELAX_H */
