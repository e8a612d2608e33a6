// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Rings from cell.ko (ring_module.h; the module in module/, its ABI in
 * <linux/cell.h>, Documentation/module.rst).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ring_module.h"

static int dev_open(void)
{
	int fd = open(CELL_DEV_PATH, O_RDWR | O_CLOEXEC);

	if (fd >= 0)
		return fd;
	return errno == ENOENT || errno == ENXIO ? -ENODEV : -errno;
}

int cell_ring_module_present(void)
{
	struct cell_version v = { .size = sizeof(v) };
	int fd = dev_open(), err = 0;

	if (fd < 0)
		return fd;
	if (ioctl(fd, CELL_IOC_VERSION, &v) < 0)
		err = errno == ENOTTY ? -ENODEV : -errno;
	else if (v.abi_version != CELL_ABI_VERSION)
		err = -EPROTO;
	close(fd);
	return err;
}

int cell_ring_module_pair(uint64_t data_size, int fds[2])
{
	struct cell_ring_create c = {
		.size = sizeof(c),
		.flags = CELL_RING_CREATE_CLOEXEC,
		.data_size = data_size,
	};
	struct cell_ring_open o = { .size = sizeof(o), .flags = CELL_RING_CREATE_CLOEXEC };
	int dev = dev_open(), err;

	if (dev < 0)
		return dev;
	err = ioctl(dev, CELL_IOC_RING_CREATE, &c) < 0 ? -errno : 0;
	close(dev);
	if (err)
		return err;
	if (ioctl(c.fd, CELL_IOC_RING_OPEN, &o) < 0) {
		err = -errno;
		close(c.fd);
		return err;
	}
	fds[0] = c.fd;
	fds[1] = o.fd;
	return 0;
}

static int ring_info(int fd, struct cell_ring_info *info)
{
	memset(info, 0, sizeof(*info));
	info->size = sizeof(*info);
	return ioctl(fd, CELL_IOC_RING_INFO, info) < 0 ? -errno : 0;
}

int cell_ring_module_is_ring(int fd)
{
	struct cell_ring_info info;
	int err = ring_info(fd, &info);

	if (err)
		return err == -EINVAL || err == -EFAULT ? -ENOTTY : err;
	if (info.role != CELL_ROLE_PRODUCER && info.role != CELL_ROLE_CONSUMER)
		return -ENOTTY;
	return (int)info.role;
}

/* Map [off, off + len) of @fd at @at (inside a reserved range). */
static int map_at(uint8_t *at, size_t len, bool writable, int fd, size_t off)
{
	int prot = PROT_READ | (writable ? PROT_WRITE : 0);
	void *p = mmap(at, len, prot, MAP_SHARED | MAP_FIXED, fd, (off_t)off);

	return p == MAP_FAILED ? -errno : 0;
}

int cell_ring_module_attach(struct cell_ring *r, int fd, int role, uint64_t expect_size)
{
	struct cell_ring_info info;
	bool prod = role == CELL_ROLE_PRODUCER;
	uint8_t *map;
	size_t len;
	int err;

	if (role != CELL_ROLE_PRODUCER && role != CELL_ROLE_CONSUMER)
		return -EINVAL;
	if (ring_info(fd, &info))
		return -EBADMSG; /* not a /dev/cell ring */
	if (info.role != (uint32_t)role || (expect_size && info.data_size != expect_size) ||
	    info.data_size < CELL_RING_MIN_DATA || info.data_size > CELL_RING_MAX_DATA ||
	    info.map_size != CELL_RING_OFF_DATA + info.data_size)
		return -EBADMSG;
	len = (size_t)info.map_size;

	/* One range, so that the ring is contiguous as on the memfd path. */
	map = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED)
		return -errno;
	err = map_at(map, CELL_RING_PAGE, false, fd, CELL_RING_OFF_GEOMETRY);
	if (!err)
		err = map_at(map + CELL_RING_OFF_PRODUCER, CELL_RING_PAGE, prod, fd,
			     CELL_RING_OFF_PRODUCER);
	if (!err)
		err = map_at(map + CELL_RING_OFF_CONSUMER, CELL_RING_PAGE, !prod, fd,
			     CELL_RING_OFF_CONSUMER);
	if (!err)
		err = map_at(map + CELL_RING_OFF_DATA, len - CELL_RING_OFF_DATA, prod, fd,
			     CELL_RING_OFF_DATA);
	if (!err)
		err = cell_ring_attach_mem(r, map, len, role, expect_size);
	if (err) {
		munmap(map, len);
		return err;
	}
	r->fd = fd;
	r->module = true;
	return 0;
}

static uint32_t word_id(const struct cell_ring *r, const uint32_t *word)
{
	if (word == &r->producer->wake)
		return CELL_WORD_PRODUCER;
	if (word == &r->consumer->wake)
		return CELL_WORD_CONSUMER;
	return 0;
}

int cell_ring_module_wait(const struct cell_ring *r, const uint32_t *word, uint32_t seen,
			  uint64_t abs_ns)
{
	struct cell_ring_wait w = {
		.size = sizeof(w),
		.word = word_id(r, word),
		.expected = seen,
		.flags = CELL_WAIT_ABSOLUTE,
		.timeout_ns = abs_ns,
	};

	if (!w.word)
		return -EINVAL;
	if (abs_ns > INT64_MAX)
		w.timeout_ns = CELL_WAIT_FOREVER;
	return ioctl(r->fd, CELL_IOC_RING_WAIT, &w) < 0 ? -errno : 0;
}

int cell_ring_module_wake(const struct cell_ring *r, const uint32_t *word)
{
	struct cell_ring_wake w = { .size = sizeof(w), .word = word_id(r, word) };

	if (!w.word)
		return -EINVAL;
	if (ioctl(r->fd, CELL_IOC_RING_WAKE, &w) < 0)
		return -errno;
	return (int)w.woken;
}

void cell_ring_module_wake_all(struct cell_ring *r)
{
	if (!r->map)
		return;
	if (r->role == CELL_ROLE_PRODUCER)
		__atomic_fetch_add(&r->producer->wake, 1, __ATOMIC_RELEASE);
	else
		__atomic_fetch_add(&r->consumer->wake, 1, __ATOMIC_RELEASE);
	cell_ring_module_wake(r, &r->producer->wake);
	cell_ring_module_wake(r, &r->consumer->wake);
}
