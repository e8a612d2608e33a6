// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Attachments: a payload too large for a ring travels as a sealed memfd.
 *
 * The sender writes the payload in place in a mapping of a fresh memfd,
 * unmaps it and seals it (SHRINK, GROW, WRITE, SEAL); the receiver checks
 * those seals before mapping it read-only, so the sender can neither
 * change the bytes after the receiver validated them nor truncate the file
 * under the receiver's mapping (which would fault with SIGBUS).  It also
 * refuses a file with holes in the payload: reading a hole allocates a
 * page on the reader's account, so a sparse 1 GiB attachment would cost
 * the receiver 1 GiB and the sender nothing.  The sender fills the holes
 * its caller left with zeros before sealing.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rpc_internal.h"

#define ATT_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL)

int cell_att_create(struct cell_att *att, uint32_t len)
{
	int err;

	att->map = NULL;
	att->len = len;
	att->map_len = len ? len : 1;
	att->fd = memfd_create("cell-attachment", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (att->fd < 0)
		return -errno;
	if (ftruncate(att->fd, (off_t)att->map_len))
		goto out_errno;
	att->map = mmap(NULL, att->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, att->fd, 0);
	if (att->map == MAP_FAILED)
		goto out_errno;
	return 0;
out_errno:
	err = -errno;
	close(att->fd);
	att->fd = -1;
	att->map = NULL;
	return err;
}

/*
 * Fill the holes of the first @len bytes with zeros (what they read as
 * anyway): a receiver refuses attachments with holes, because reading a
 * hole of a memfd allocates memory on the reader's account.
 */
static int fill_holes(struct cell_att *att, uint32_t len)
{
	off_t pos = 0, hole, data;

	while (pos < (off_t)len) {
		hole = lseek(att->fd, pos, SEEK_HOLE);
		if (hole < 0)
			return -errno;
		if (hole >= (off_t)len)
			break;
		data = lseek(att->fd, hole, SEEK_DATA);
		if (data < 0 && errno != ENXIO)
			return -errno;
		if (data < 0 || data > (off_t)len)
			data = len;
		memset((uint8_t *)att->map + hole, 0, (size_t)(data - hole));
		pos = data;
	}
	return 0;
}

int cell_att_seal(struct cell_att *att, uint32_t len)
{
	int err;

	if (len > att->len)
		return -EINVAL;
	err = fill_holes(att, len);
	if (err)
		return err;
	munmap(att->map, att->map_len);
	att->map = NULL;
	att->len = len;
	att->map_len = len ? len : 1;
	if (ftruncate(att->fd, (off_t)att->map_len) || fcntl(att->fd, F_ADD_SEALS, ATT_SEALS))
		return -errno;
	return 0;
}

int cell_att_open(struct cell_att *att, int fd, uint32_t len)
{
	struct stat st;
	int seals;

	att->fd = fd;
	att->map = NULL;
	att->len = len;
	att->map_len = len ? len : 1;
	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0 || (seals & ATT_SEALS) != ATT_SEALS || fstat(fd, &st) ||
	    !S_ISREG(st.st_mode) || (uint64_t)st.st_size < att->map_len ||
	    (len && lseek(fd, 0, SEEK_HOLE) < (off_t)len)) {
		close(fd);
		att->fd = -1;
		return -EBADMSG;
	}
	att->map = mmap(NULL, att->map_len, PROT_READ, MAP_SHARED, fd, 0);
	if (att->map == MAP_FAILED) {
		int err = -errno;

		close(fd);
		att->fd = -1;
		att->map = NULL;
		return err;
	}
	return 0;
}

void cell_att_close(struct cell_att *att)
{
	if (att->map)
		munmap(att->map, att->map_len);
	if (att->fd >= 0)
		close(att->fd);
	att->map = NULL;
	att->fd = -1;
}
