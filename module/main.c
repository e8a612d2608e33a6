// SPDX-License-Identifier: GPL-2.0-only
/*
 * cell.ko: /dev/cell, a misc device that hands out sealed shared-memory
 * rings for Cell's IPC (see Documentation/module.rst and <linux/cell.h>).
 *
 * On /dev/cell: CELL_IOC_VERSION and CELL_IOC_RING_CREATE.  Everything
 * else happens on the ring fds (ring.c).  Module parameters bound what one
 * user may hold; the generic netlink family "cell" (netlink.c) lists rings.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cred.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/init.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "cell.h"

static unsigned int max_rings_per_user = 256;
module_param(max_rings_per_user, uint, 0644);
MODULE_PARM_DESC(max_rings_per_user, "Rings one user may hold (default 256)");

static unsigned long max_bytes_per_user = 256UL << 20;
module_param(max_bytes_per_user, ulong, 0644);
MODULE_PARM_DESC(max_bytes_per_user, "Ring bytes per user, headers included (256 MiB)");

static unsigned long max_ring_size = 64UL << 20;
module_param(max_ring_size, ulong, 0644);
MODULE_PARM_DESC(max_ring_size, "Largest data area of one ring in bytes (default 64 MiB)");

/* Guards cell_rings, cell_users and cell_next_id (see cell.h). */
DEFINE_MUTEX(cell_mutex);
LIST_HEAD(cell_rings);
static LIST_HEAD(cell_users);
static u64 cell_next_id;

/*
 * Charge @bytes and one ring to @uid and hand out the ring's id.
 * Return: 0, -ENOSPC (too many rings), -EDQUOT (too many bytes), -ENOMEM.
 */
int cell_account(kuid_t uid, u64 bytes, struct cell_user **user, u64 *id)
{
	struct cell_user *u, *fresh;
	int err = 0;

	fresh = kzalloc(sizeof(*fresh), GFP_KERNEL);
	if (!fresh)
		return -ENOMEM;
	mutex_lock(&cell_mutex);
	for (u = list_first_entry(&cell_users, struct cell_user, node);
	     !list_entry_is_head(u, &cell_users, node); u = list_next_entry(u, node)) {
		if (uid_eq(u->uid, uid))
			goto found;
	}
	u = fresh;
	fresh = NULL;
	u->uid = uid;
	list_add(&u->node, &cell_users);
found:
	if (u->rings >= READ_ONCE(max_rings_per_user))
		err = -ENOSPC;
	else if (bytes > READ_ONCE(max_bytes_per_user) - min_t(u64, u->bytes, max_bytes_per_user))
		err = -EDQUOT;
	if (!err) {
		u->rings++;
		u->bytes += bytes;
		*user = u;
		*id = ++cell_next_id;
	} else if (!u->rings) {
		list_del(&u->node);
		kfree(u);
	}
	mutex_unlock(&cell_mutex);
	kfree(fresh);
	return err;
}

void cell_unaccount(struct cell_user *user, u64 bytes)
{
	mutex_lock(&cell_mutex);
	user->bytes -= bytes;
	if (!--user->rings) {
		list_del(&user->node);
		kfree(user);
	}
	mutex_unlock(&cell_mutex);
}

/*
 * Copy an ioctl argument that starts with its own size.  Shorter than this
 * module's structure: -EINVAL (there is no older version); longer: the
 * extra bytes must be zero (-E2BIG otherwise), at most a page.
 */
int cell_copy_arg(void *dst, size_t ksize, const void __user *src)
{
	u32 usize;

	if (get_user(usize, (const u32 __user *)src))
		return -EFAULT;
	if (usize < ksize)
		return -EINVAL;
	if (usize > PAGE_SIZE)
		return -E2BIG;
	return copy_struct_from_user(dst, ksize, src, usize);
}

static int cell_dev_version(void __user *uarg)
{
	struct cell_version req;
	int err;

	err = cell_copy_arg(&req, sizeof(req), uarg);
	if (err)
		return err;
	if (req.reserved[0] || req.reserved[1])
		return -EINVAL;
	req.abi_version = CELL_ABI_VERSION;
	req.features = 0;
	if (copy_to_user(uarg, &req, sizeof(req)))
		return -EFAULT;
	return 0;
}

static int cell_dev_ring_create(void __user *uarg)
{
	struct cell_ring_create req;
	struct file *file;
	int err, fd;

	err = cell_copy_arg(&req, sizeof(req), uarg);
	if (err)
		return err;
	if ((req.flags & ~CELL_RING_CREATE_FLAGS) || req.reserved0 || req.reserved[0] ||
	    req.reserved[1])
		return -EINVAL;
	if (req.data_size < CELL_RING_MIN_DATA || req.data_size > CELL_RING_MAX_DATA ||
	    (req.data_size & (req.data_size - 1)))
		return -EINVAL;
	if (req.data_size > READ_ONCE(max_ring_size))
		return -EFBIG;

	fd = get_unused_fd_flags(req.flags & CELL_RING_CREATE_CLOEXEC ? O_CLOEXEC : 0);
	if (fd < 0)
		return fd;
	file = cell_ring_create(req.data_size, 0);
	if (IS_ERR(file)) {
		put_unused_fd(fd);
		return PTR_ERR(file);
	}
	req.fd = fd;
	req.ring_id = cell_ring_file_id(file);
	if (copy_to_user(uarg, &req, sizeof(req))) {
		put_unused_fd(fd);
		fput(file);
		return -EFAULT;
	}
	fd_install(fd, file);
	return 0;
}

/* The command's size bits are not checked: the size is the argument's first field. */
static long cell_dev_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *uarg = (void __user *)arg;

	if (_IOC_TYPE(cmd) != CELL_IOC_MAGIC)
		return -ENOTTY;
	switch (_IOC_NR(cmd)) {
	case _IOC_NR(CELL_IOC_VERSION):
		return cell_dev_version(uarg);
	case _IOC_NR(CELL_IOC_RING_CREATE):
		return cell_dev_ring_create(uarg);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations cell_dev_fops = {
	.owner = THIS_MODULE,
	.open = nonseekable_open,
	.unlocked_ioctl = cell_dev_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = no_llseek,
};

static struct miscdevice cell_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "cell",
	.fops = &cell_dev_fops,
	.mode = 0666,
};

static int __init cell_init(void)
{
	int err;

	BUILD_BUG_ON(PAGE_SIZE != CELL_RING_PAGE);

	err = cell_genl_init();
	if (err)
		return err;
	err = misc_register(&cell_misc);
	if (err) {
		cell_genl_exit();
		return err;
	}
	pr_info("ABI %d, /dev/cell ready\n", CELL_ABI_VERSION);
	return 0;
}

static void __exit cell_exit(void)
{
	misc_deregister(&cell_misc);
	cell_genl_exit();
}

module_init(cell_init);
module_exit(cell_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("Cell developers");
MODULE_DESCRIPTION("Cell IPC: sealed shared-memory rings with futex-style waits");
