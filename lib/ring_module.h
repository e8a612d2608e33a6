/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * Rings from cell.ko (/dev/cell): creation, role-based mapping and the
 * futex-style wait/wake ioctls.  Internal to libcell (lib/ring_module.c).
 *
 * The module's pages cannot carry futex(2) (they belong to no file
 * mapping): a struct cell_ring attached here waits and wakes through
 * cell_ring_module_wait()/cell_ring_module_wake() instead of futex(2).
 * Each fd maps only what its role may write (producer: producer page and
 * data; consumer: consumer page), so a side never stores into the other
 * side's page: cell_ring_module_wake_all() replaces cell_ring_wake_all().
 */
#ifndef CELL_RING_MODULE_H
#define CELL_RING_MODULE_H

#include <stdbool.h>
#include <stdint.h>

#include <cell/ring.h>

#define CELL_DEV_PATH "/dev/cell"

/*
 * cell_ring_module_present() - whether /dev/cell opens and speaks this
 * ABI (CELL_IOC_VERSION).  Return: 0, -ENODEV (no device), -EPROTO
 * (another ABI version), or the open's negative errno (-EACCES, ...).
 */
int cell_ring_module_present(void);

/*
 * cell_ring_module_pair() - a new ring of @data_size bytes (power of two)
 * from /dev/cell: @fds[0] its producer fd, @fds[1] its consumer fd, both
 * close-on-exec.  Keep one, pass the other to the peer (SCM_RIGHTS).
 * Return: 0, -ENODEV, -EINVAL (size), -ENOSPC/-EDQUOT/-EFBIG (the
 * module's limits), or another negative errno.
 */
int cell_ring_module_pair(uint64_t data_size, int fds[2]);

/*
 * cell_ring_module_is_ring() - whether @fd is a /dev/cell ring fd.
 * Return: its role (CELL_ROLE_*), or a negative errno (-ENOTTY: not one).
 */
int cell_ring_module_is_ring(int fd);

/*
 * cell_ring_module_attach() - cell_ring_attach() for a /dev/cell ring fd:
 * checks that @fd's role is @role and its size @expect_size (0: any), maps
 * geometry, pages and data with the protections of the role in one
 * contiguous range, and checks geometry and positions as
 * cell_ring_attach_mem() does.  Takes ownership of @fd on success
 * (cell_ring_detach() unmaps the range and closes it).
 * Return: 0, -EBADMSG (not a ring of that role and size, bad geometry),
 * or a negative errno.
 */
int cell_ring_module_attach(struct cell_ring *r, int fd, int role, uint64_t expect_size);

/*
 * cell_ring_module_wait() - sleep while *@word (&r->producer->wake or
 * &r->consumer->wake) equals @seen, until woken, the absolute
 * CLOCK_MONOTONIC time @abs_ns, a signal or the peer's death.
 * Return: 0 (woken or the word differs), -ETIMEDOUT, -EINTR, -EPIPE (the
 * other side closed all its fds), -EINVAL (@word is neither).
 */
int cell_ring_module_wait(const struct cell_ring *r, const uint32_t *word, uint32_t seen,
			  uint64_t abs_ns);

/*
 * cell_ring_module_wake() - wake every sleeper on *@word (call after
 * bumping it, as with FUTEX_WAKE).  Also wakes poll()/epoll on the ring's
 * fds.  Return: sleepers woken, or a negative errno.
 */
int cell_ring_module_wake(const struct cell_ring *r, const uint32_t *word);

/*
 * cell_ring_module_wake_all() - cell_ring_wake_all() for a module ring:
 * bump this side's own wake word (the only one it may write) and wake
 * the sleepers on both words.
 */
void cell_ring_module_wake_all(struct cell_ring *r);

#endif /* CELL_RING_MODULE_H */
