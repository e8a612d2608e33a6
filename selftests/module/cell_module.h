/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Helpers of the cell.ko selftests (run inside the VM by tools/vm/run.sh,
 * built statically on the host).  Each returns a negative errno on failure
 * so that tests compare errors directly.
 */
#ifndef CELL_SELFTESTS_MODULE_H
#define CELL_SELFTESTS_MODULE_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <linux/cell.h>

#define DEV_CELL  "/dev/cell"
#define PARAM_DIR "/sys/module/cell/parameters/"
#define PG	  4096UL

static inline int cell_dev(void)
{
	int fd = open(DEV_CELL, O_RDWR | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

static inline int ring_create_flags(int dev, uint64_t size, uint32_t flags, uint64_t *id)
{
	struct cell_ring_create c = { .size = sizeof(c), .flags = flags, .data_size = size };

	if (ioctl(dev, CELL_IOC_RING_CREATE, &c) < 0)
		return -errno;
	if (id)
		*id = c.ring_id;
	return c.fd;
}

static inline int ring_create(int dev, uint64_t size, uint64_t *id)
{
	return ring_create_flags(dev, size, CELL_RING_CREATE_CLOEXEC, id);
}

static inline int ring_open(int pfd)
{
	struct cell_ring_open o = { .size = sizeof(o), .flags = CELL_RING_CREATE_CLOEXEC };

	if (ioctl(pfd, CELL_IOC_RING_OPEN, &o) < 0)
		return -errno;
	return o.fd;
}

static inline int ring_wait(int fd, uint32_t word, uint32_t expected, uint64_t timeout_ns,
			    uint32_t flags)
{
	struct cell_ring_wait w = {
		.size = sizeof(w),
		.word = word,
		.expected = expected,
		.flags = flags,
		.timeout_ns = timeout_ns,
	};

	return ioctl(fd, CELL_IOC_RING_WAIT, &w) < 0 ? -errno : 0;
}

static inline int ring_wake(int fd, uint32_t word, uint32_t count, uint32_t *woken)
{
	struct cell_ring_wake w = { .size = sizeof(w), .word = word, .count = count };

	if (ioctl(fd, CELL_IOC_RING_WAKE, &w) < 0)
		return -errno;
	if (woken)
		*woken = w.woken;
	return 0;
}

static inline int ring_info(int fd, struct cell_ring_info *info)
{
	memset(info, 0, sizeof(*info));
	info->size = sizeof(*info);
	return ioctl(fd, CELL_IOC_RING_INFO, info) < 0 ? -errno : 0;
}

/* mmap() returning the mapping or NULL with errno set. */
static inline void *ring_map(int fd, size_t off, size_t len, int prot)
{
	void *p = mmap(NULL, len, prot, MAP_SHARED, fd, (off_t)off);

	return p == MAP_FAILED ? NULL : p;
}

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Read or write a module parameter; -errno on failure. */
static inline long param_get(const char *name)
{
	char path[128], buf[32] = "";
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), PARAM_DIR "%s", name);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	if (fgets(buf, sizeof(buf), f))
		v = strtol(buf, NULL, 10);
	fclose(f);
	return v;
}

static inline int param_set(const char *name, long v)
{
	char path[128];
	FILE *f;
	int rc;

	snprintf(path, sizeof(path), PARAM_DIR "%s", name);
	f = fopen(path, "w");
	if (!f)
		return -errno;
	rc = fprintf(f, "%ld\n", v) < 0 ? -EIO : 0;
	if (fclose(f))
		rc = -errno;
	return rc;
}

/* SUnreclaim of /proc/meminfo in KiB (slab that a leak would grow). */
static inline long slab_unreclaimable_kib(void)
{
	char line[128];
	long v = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "SUnreclaim: %ld kB", &v) == 1)
			break;
	}
	fclose(f);
	return v;
}

#endif /* CELL_SELFTESTS_MODULE_H */
