// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Attachments (lib/attachment.c): what a receiver accepts.  A sparse file
 * is refused (reading its holes would allocate memory on the receiver's
 * account); the sender fills the holes its caller left, so a payload
 * written only in part still travels, reading as zeros where unwritten.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "rpc_internal.h"

#include "kselftest_harness.h"

#define LEN	  (1U << 20)
#define ALL_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL)

TEST(partly_written_payload_travels_as_zeros)
{
	struct cell_att tx, rx;
	const uint8_t *p;
	int fd;

	ASSERT_EQ(0, cell_att_create(&tx, LEN));
	memset(tx.map, 0xab, 4096);			/* first page only */
	memset((uint8_t *)tx.map + LEN - 10, 0xcd, 10); /* and the last bytes */
	ASSERT_EQ(0, cell_att_seal(&tx, LEN));
	fd = dup(tx.fd);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, cell_att_open(&rx, fd, LEN));
	p = rx.map;
	EXPECT_EQ(0xab, p[0]);
	EXPECT_EQ(0xab, p[4095]);
	EXPECT_EQ(0, p[4096]);
	EXPECT_EQ(0, p[LEN / 2]);
	EXPECT_EQ(0xcd, p[LEN - 1]);
	cell_att_close(&rx);
	cell_att_close(&tx);
}

TEST(sparse_file_is_refused)
{
	struct cell_att rx;
	int fd = memfd_create("sparse", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ftruncate(fd, LEN));
	ASSERT_EQ(4096, pwrite(fd, (uint8_t[4096]){ 1 }, 4096, 0));
	ASSERT_EQ(0, fcntl(fd, F_ADD_SEALS, ALL_SEALS));
	EXPECT_EQ(-EBADMSG, cell_att_open(&rx, fd, LEN));
}

TEST(unsealed_or_short_is_refused)
{
	struct cell_att rx;
	int fd = memfd_create("open", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ftruncate(fd, 4096));
	ASSERT_EQ(4096, pwrite(fd, (uint8_t[4096]){ 1 }, 4096, 0));
	EXPECT_EQ(-EBADMSG, cell_att_open(&rx, dup(fd), 4096)); /* writable */
	ASSERT_EQ(0, fcntl(fd, F_ADD_SEALS, ALL_SEALS));
	EXPECT_EQ(-EBADMSG, cell_att_open(&rx, dup(fd), 8192)); /* too short */
	EXPECT_EQ(0, cell_att_open(&rx, fd, 4096));
	cell_att_close(&rx);
}

TEST_HARNESS_MAIN
