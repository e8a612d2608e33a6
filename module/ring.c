// SPDX-License-Identifier: GPL-2.0-only
/*
 * cell.ko rings: memory, role-based mappings, futex-style wait and wake,
 * poll and peer death.
 *
 * A ring is CELL_RING_HDR_PAGES pages (geometry, producer, consumer) and
 * its data pages, allocated once at creation and charged to the creator's
 * memory cgroup; the size never changes.  A ring lives as long as a file
 * of either side: the producer file from CELL_IOC_RING_CREATE, consumer
 * files from CELL_IOC_RING_OPEN, and every mapping (a mapping holds its
 * file).  When the last file of one side goes, that side is dead: sleepers
 * and pollers on the other side see -EPIPE and EPOLLHUP.
 *
 * The shared words are written by userspace without the kernel's help;
 * the kernel only reads them (the wait's comparison, poll's readiness and
 * netlink's cursors) and never trusts them.
 */
#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/hrtimer.h>
#include <linux/mm.h>
#include <linux/pid.h>
#include <linux/poll.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>
#include <linux/uaccess.h>

#include "cell.h"

struct cell_ring_file {
	struct cell_ring *ring;
	int side;     /* CELL_SIDE_* */
	bool counted; /* included in ring->open[side] */
};

/* A task asleep in CELL_IOC_RING_WAIT, on ring->sleepers[word]. */
struct cell_sleeper {
	struct list_head node;
	struct task_struct *task;
	bool woken; /* set under ring->lock by the wake ioctl */
};

static const struct file_operations cell_ring_fops;

static inline int cell_peer(int side)
{
	return side == CELL_SIDE_PRODUCER ? CELL_SIDE_CONSUMER : CELL_SIDE_PRODUCER;
}

bool cell_is_ring_file(struct file *file)
{
	return file->f_op == &cell_ring_fops;
}

/* ---- memory ------------------------------------------------------------ */

static void cell_ring_free_pages(struct cell_ring *ring)
{
	unsigned long i;

	for (i = 0; i < ring->npages; i++) {
		if (ring->pages[i])
			__free_page(ring->pages[i]);
	}
	kvfree(ring->pages);
}

static int cell_ring_alloc_pages(struct cell_ring *ring)
{
	const gfp_t gfp = GFP_KERNEL_ACCOUNT | __GFP_ZERO | __GFP_NOWARN | __GFP_RETRY_MAYFAIL;
	unsigned long i;

	ring->pages = kvcalloc(ring->npages, sizeof(*ring->pages), GFP_KERNEL_ACCOUNT);
	if (!ring->pages)
		return -ENOMEM;
	for (i = 0; i < ring->npages; i++) {
		ring->pages[i] = alloc_page(gfp);
		if (!ring->pages[i])
			return -ENOMEM;
		if (fatal_signal_pending(current))
			return -EINTR;
		cond_resched();
	}
	return 0;
}

static void cell_ring_init_geometry(struct cell_ring *ring)
{
	struct cell_ring_geometry *g = page_address(ring->pages[0]);

	g->magic = CELL_RING_MAGIC;
	g->abi_version = CELL_ABI_VERSION;
	g->geometry_size = sizeof(*g);
	g->flags = CELL_RING_GEOM_MODULE;
	g->page_size = CELL_RING_PAGE;
	g->data_size = ring->data_size;
	g->producer_offset = CELL_RING_OFF_PRODUCER;
	g->consumer_offset = CELL_RING_OFF_CONSUMER;
	g->data_offset = CELL_RING_OFF_DATA;
	g->ring_id = ring->id;
	ring->prod = page_address(ring->pages[1]);
	ring->cons = page_address(ring->pages[2]);
}

static void cell_ring_free(struct cell_ring *ring)
{
	int i;

	if (ring->pages)
		cell_ring_free_pages(ring);
	for (i = 0; i < CELL_SIDES; i++)
		put_pid(ring->owner_pid[i]);
	if (ring->user)
		cell_unaccount(ring->user, ring->npages << PAGE_SHIFT);
	kfree(ring);
}

static void cell_ring_destroy(struct cell_ring *ring)
{
	mutex_lock(&cell_mutex);
	list_del(&ring->node);
	mutex_unlock(&cell_mutex);
	cell_genl_event(ring, CELL_CMD_RING_DESTROYED);
	cell_ring_free(ring);
}

/* Remember who uses a side now (the consumer fd travels to its peer). */
static void cell_ring_set_owner(struct cell_ring *ring, int side)
{
	struct pid *pid = task_tgid(current);
	struct pid *old = NULL;
	kuid_t uid = current_uid();

	if (READ_ONCE(ring->owner_pid[side]) == pid)
		return;
	get_pid(pid);
	spin_lock(&ring->lock);
	old = ring->owner_pid[side];
	ring->owner_pid[side] = pid;
	ring->owner_uid[side] = uid;
	spin_unlock(&ring->lock);
	put_pid(old);
}

void cell_ring_snapshot_owners(struct cell_ring *ring, pid_t *pids, kuid_t *uids,
			       unsigned int *open)
{
	int i;

	spin_lock(&ring->lock);
	for (i = 0; i < CELL_SIDES; i++) {
		pids[i] = ring->owner_pid[i] ? pid_vnr(ring->owner_pid[i]) : 0;
		uids[i] = ring->owner_uid[i];
		open[i] = ring->open[i];
	}
	spin_unlock(&ring->lock);
}

/* ---- files ------------------------------------------------------------- */

static struct file *cell_ring_new_file(struct cell_ring *ring, int side, int flags)
{
	struct cell_ring_file *cf;
	struct file *file;

	cf = kzalloc(sizeof(*cf), GFP_KERNEL_ACCOUNT);
	if (!cf)
		return ERR_PTR(-ENOMEM);
	cf->ring = ring;
	cf->side = side;
	file = anon_inode_getfile("[cell-ring]", &cell_ring_fops, cf, O_RDWR | flags);
	if (IS_ERR(file))
		kfree(cf);
	return file;
}

/* The last file of @side closed (or a file of it): wake, announce, free. */
static void cell_side_put(struct cell_ring *ring, int side)
{
	struct cell_sleeper *s;
	bool last, gone;
	int w;

	spin_lock(&ring->lock);
	last = --ring->open[side] == 0;
	if (last) {
		WRITE_ONCE(ring->dead[side], true);
		for (w = 0; w < CELL_WORDS; w++) {
			for (s = list_first_entry(&ring->sleepers[w], struct cell_sleeper, node);
			     !list_entry_is_head(s, &ring->sleepers[w], node);
			     s = list_next_entry(s, node))
				wake_up_process(s->task);
		}
	}
	gone = !ring->open[CELL_SIDE_PRODUCER] && !ring->open[CELL_SIDE_CONSUMER];
	spin_unlock(&ring->lock);

	if (gone) {
		cell_ring_destroy(ring);
		return;
	}
	if (last) {
		wake_up_all(&ring->pollwq);
		cell_genl_event(ring, CELL_CMD_RING_PEER_DEAD);
	}
}

/* Create a ring of @data_size bytes; returns its producer file. */
struct file *cell_ring_create(u64 data_size, int flags)
{
	struct cell_ring_file *cf;
	struct cell_ring *ring;
	struct file *file;
	int err, i;

	ring = kzalloc(sizeof(*ring), GFP_KERNEL_ACCOUNT);
	if (!ring)
		return ERR_PTR(-ENOMEM);
	ring->data_size = data_size;
	ring->npages = CELL_RING_HDR_PAGES + (data_size >> PAGE_SHIFT);
	spin_lock_init(&ring->lock);
	for (i = 0; i < CELL_WORDS; i++)
		INIT_LIST_HEAD(&ring->sleepers[i]);
	init_waitqueue_head(&ring->pollwq);
	INIT_LIST_HEAD(&ring->node);

	err = cell_account(current_uid(), ring->npages << PAGE_SHIFT, &ring->user, &ring->id);
	if (err)
		goto fail;
	err = cell_ring_alloc_pages(ring);
	if (err)
		goto fail;
	cell_ring_init_geometry(ring);
	ring->created_ns = ktime_get_boottime_ns();
	ring->owner_pid[CELL_SIDE_PRODUCER] = get_pid(task_tgid(current));
	ring->owner_uid[CELL_SIDE_PRODUCER] = current_uid();
	ring->owner_uid[CELL_SIDE_CONSUMER] = INVALID_UID;

	file = cell_ring_new_file(ring, CELL_SIDE_PRODUCER, flags);
	if (IS_ERR(file)) {
		err = PTR_ERR(file);
		goto fail;
	}
	cf = file->private_data;
	ring->open[CELL_SIDE_PRODUCER] = 1;
	cf->counted = true;

	mutex_lock(&cell_mutex);
	list_add_tail(&ring->node, &cell_rings);
	mutex_unlock(&cell_mutex);
	cell_genl_event(ring, CELL_CMD_RING_CREATED);
	return file;

fail:
	cell_ring_free(ring);
	return ERR_PTR(err);
}

u64 cell_ring_file_id(struct file *file)
{
	struct cell_ring_file *cf = file->private_data;

	return cf->ring->id;
}

static int cell_ring_release(struct inode *inode, struct file *file)
{
	struct cell_ring_file *cf = file->private_data;

	if (cf->counted)
		cell_side_put(cf->ring, cf->side);
	kfree(cf);
	return 0;
}

/* ---- mmap -------------------------------------------------------------- */

static bool cell_range_writable(int side, unsigned long first, unsigned long last)
{
	if (first == 0)
		return false; /* geometry */
	if (side == CELL_SIDE_CONSUMER)
		return first == 2 && last == 2;
	return !(first <= 2 && last >= 2);
}

static vm_fault_t cell_ring_fault(struct vm_fault *vmf)
{
	struct cell_ring *ring = vmf->vma->vm_private_data;
	struct page *page;

	if (vmf->pgoff >= ring->npages)
		return VM_FAULT_SIGBUS;
	page = ring->pages[vmf->pgoff];
	get_page(page);
	vmf->page = page;
	return 0;
}

static const struct vm_operations_struct cell_ring_vm_ops = {
	.fault = cell_ring_fault,
};

static inline void cell_vma_flags(struct vm_area_struct *vma, vm_flags_t set, vm_flags_t clear)
{
#ifdef CELL_HAVE_VM_FLAGS_MOD /* Linux 6.3 and later (module/Kbuild) */
	vm_flags_mod(vma, set, clear);
#else
	vma->vm_flags = (vma->vm_flags | set) & ~clear;
#endif
}

/*
 * Producer: data and producer page writable.  Consumer: consumer page
 * writable.  Everything else (the geometry page always) read-only, and
 * mprotect() cannot upgrade a mapping that covers any read-only page.
 */
static int cell_ring_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct cell_ring_file *cf = file->private_data;
	struct cell_ring *ring = cf->ring;
	unsigned long first = vma->vm_pgoff, count = vma_pages(vma);

	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	if (first >= ring->npages || count == 0 || count > ring->npages - first)
		return -EINVAL;
	if (vma->vm_flags & VM_EXEC)
		return -EACCES;
	if (!cell_range_writable(cf->side, first, first + count - 1)) {
		if (vma->vm_flags & VM_WRITE)
			return -EACCES;
		cell_vma_flags(vma, 0, VM_MAYWRITE);
	}
	/* Never grows (mremap) into pages of another role, never executes. */
	cell_vma_flags(vma, VM_DONTEXPAND, VM_MAYEXEC);
	vma->vm_ops = &cell_ring_vm_ops;
	vma->vm_private_data = ring;
	cell_ring_set_owner(ring, cf->side);
	return 0;
}

/* ---- wait, wake, poll -------------------------------------------------- */

static u32 *cell_word(struct cell_ring *ring, u32 word)
{
	return word == CELL_WORD_PRODUCER ? &ring->prod->wake : &ring->cons->wake;
}

static int cell_ring_wait(struct cell_ring_file *cf, void __user *uarg)
{
	struct cell_ring *ring = cf->ring;
	int peer = cell_peer(cf->side);
	struct cell_sleeper me = { .task = current };
	struct cell_ring_wait req;
	bool forever = false, expired = false;
	ktime_t expires = 0;
	u32 *word;
	int err;

	err = cell_copy_arg(&req, sizeof(req), uarg);
	if (err)
		return err;
	if (req.word != CELL_WORD_PRODUCER && req.word != CELL_WORD_CONSUMER)
		return -EINVAL;
	if ((req.flags & ~CELL_WAIT_FLAGS) || req.reserved)
		return -EINVAL;
	if (req.timeout_ns == CELL_WAIT_FOREVER) {
		forever = true;
	} else if (req.flags & CELL_WAIT_ABSOLUTE) {
		if (req.timeout_ns > KTIME_MAX)
			return -EINVAL;
		expires = (ktime_t)req.timeout_ns;
	} else {
		expires =
			ktime_add_safe(ktime_get(), (ktime_t)min_t(u64, req.timeout_ns, KTIME_MAX));
	}
	word = cell_word(ring, req.word);
	cell_ring_set_owner(ring, cf->side);

	spin_lock(&ring->lock);
	if (READ_ONCE(*word) != req.expected) {
		spin_unlock(&ring->lock);
		return 0;
	}
	if (ring->dead[peer]) {
		spin_unlock(&ring->lock);
		return -EPIPE;
	}
	list_add_tail(&me.node, &ring->sleepers[req.word - 1]);
	ring->waits++;
	spin_unlock(&ring->lock);

	for (;;) {
		set_current_state(TASK_INTERRUPTIBLE);
		if (READ_ONCE(me.woken)) {
			err = 0;
			break;
		}
		if (READ_ONCE(ring->dead[peer])) {
			err = -EPIPE;
			break;
		}
		if (signal_pending(current)) {
			err = -EINTR;
			break;
		}
		if (expired) {
			err = -ETIMEDOUT;
			break;
		}
		if (forever)
			schedule();
		else if (!schedule_hrtimeout_range(&expires, current->timer_slack_ns,
						   HRTIMER_MODE_ABS))
			expired = true;
	}
	__set_current_state(TASK_RUNNING);

	/* The waker holds the lock while it touches @me: wait it out. */
	spin_lock(&ring->lock);
	if (me.woken)
		err = 0;
	else
		list_del(&me.node);
	spin_unlock(&ring->lock);
	return err;
}

static int cell_ring_wake(struct cell_ring_file *cf, void __user *uarg)
{
	struct cell_ring *ring = cf->ring;
	struct cell_sleeper *s;
	struct cell_ring_wake req;
	u32 woken = 0;
	int err;

	err = cell_copy_arg(&req, sizeof(req), uarg);
	if (err)
		return err;
	if (req.word != CELL_WORD_PRODUCER && req.word != CELL_WORD_CONSUMER)
		return -EINVAL;
	if (req.reserved)
		return -EINVAL;

	spin_lock(&ring->lock);
	while (!list_empty(&ring->sleepers[req.word - 1])) {
		if (req.count && woken == req.count)
			break;
		s = list_first_entry(&ring->sleepers[req.word - 1], struct cell_sleeper, node);
		list_del(&s->node);
		WRITE_ONCE(s->woken, true);
		wake_up_process(s->task);
		woken++;
	}
	ring->wakeups += woken;
	spin_unlock(&ring->lock);

	/* Pollers learn about new data or space from the same call. */
	if (wq_has_sleeper(&ring->pollwq))
		wake_up_interruptible_all(&ring->pollwq);

	req.woken = woken;
	if (copy_to_user(uarg, &req, sizeof(req)))
		return -EFAULT;
	return 0;
}

static __poll_t cell_ring_poll(struct file *file, struct poll_table_struct *pt)
{
	struct cell_ring_file *cf = file->private_data;
	struct cell_ring *ring = cf->ring;
	__poll_t mask = 0;
	u64 head, tail;

	poll_wait(file, &ring->pollwq, pt);
	/*
	 * Acquire pairs with the sides' release stores of their positions
	 * (Documentation/ring.rst); the values are only compared, never used
	 * to reach memory.
	 */
	tail = smp_load_acquire(&ring->prod->position);
	/* As above, for the consumer's release of its head. */
	head = smp_load_acquire(&ring->cons->position);
	if (cf->side == CELL_SIDE_CONSUMER && tail != head)
		mask |= EPOLLIN | EPOLLRDNORM;
	if (cf->side == CELL_SIDE_PRODUCER && tail - head < ring->data_size)
		mask |= EPOLLOUT | EPOLLWRNORM;
	if (READ_ONCE(ring->dead[cell_peer(cf->side)]))
		mask |= EPOLLHUP;
	return mask;
}

/* ---- ioctls on a ring fd ----------------------------------------------- */

static int cell_ring_open_consumer(struct cell_ring_file *cf, void __user *uarg)
{
	struct cell_ring *ring = cf->ring;
	struct cell_ring_file *ncf;
	struct cell_ring_open req;
	struct file *file;
	int err, fd;

	err = cell_copy_arg(&req, sizeof(req), uarg);
	if (err)
		return err;
	if ((req.flags & ~CELL_RING_CREATE_CLOEXEC) || req.reserved0 || req.reserved[0] ||
	    req.reserved[1])
		return -EINVAL;
	if (cf->side != CELL_SIDE_PRODUCER)
		return -EPERM;

	fd = get_unused_fd_flags(req.flags & CELL_RING_CREATE_CLOEXEC ? O_CLOEXEC : 0);
	if (fd < 0)
		return fd;
	file = cell_ring_new_file(ring, CELL_SIDE_CONSUMER, 0);
	if (IS_ERR(file)) {
		put_unused_fd(fd);
		return PTR_ERR(file);
	}
	/* Copy out first: a failure after counting would kill the side. */
	req.fd = fd;
	if (copy_to_user(uarg, &req, sizeof(req))) {
		err = -EFAULT;
		goto fail;
	}
	ncf = file->private_data;
	spin_lock(&ring->lock);
	if (ring->dead[CELL_SIDE_CONSUMER]) {
		err = -EPIPE;
	} else {
		if (!ring->open[CELL_SIDE_CONSUMER]++ && !ring->owner_pid[CELL_SIDE_CONSUMER]) {
			ring->owner_pid[CELL_SIDE_CONSUMER] = get_pid(task_tgid(current));
			ring->owner_uid[CELL_SIDE_CONSUMER] = current_uid();
		}
		ncf->counted = true;
	}
	spin_unlock(&ring->lock);
	if (err)
		goto fail;
	fd_install(fd, file);
	return 0;

fail:
	put_unused_fd(fd);
	fput(file);
	return err;
}

static int cell_ring_info(struct cell_ring_file *cf, void __user *uarg)
{
	struct cell_ring *ring = cf->ring;
	struct cell_ring_info req;
	int err;

	err = cell_copy_arg(&req, sizeof(req), uarg);
	if (err)
		return err;
	if (req.reserved0 || req.reserved[0] || req.reserved[1])
		return -EINVAL;
	req.role = cf->side + 1;
	req.ring_id = ring->id;
	req.data_size = ring->data_size;
	req.map_size = (u64)ring->npages << PAGE_SHIFT;
	spin_lock(&ring->lock);
	req.peer_alive = ring->open[cell_peer(cf->side)] > 0;
	spin_unlock(&ring->lock);
	if (copy_to_user(uarg, &req, sizeof(req)))
		return -EFAULT;
	return 0;
}

static long cell_ring_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct cell_ring_file *cf = file->private_data;
	void __user *uarg = (void __user *)arg;

	if (_IOC_TYPE(cmd) != CELL_IOC_MAGIC)
		return -ENOTTY;
	switch (_IOC_NR(cmd)) {
	case _IOC_NR(CELL_IOC_RING_OPEN):
		return cell_ring_open_consumer(cf, uarg);
	case _IOC_NR(CELL_IOC_RING_WAIT):
		return cell_ring_wait(cf, uarg);
	case _IOC_NR(CELL_IOC_RING_WAKE):
		return cell_ring_wake(cf, uarg);
	case _IOC_NR(CELL_IOC_RING_INFO):
		return cell_ring_info(cf, uarg);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations cell_ring_fops = {
	.owner = THIS_MODULE,
	.release = cell_ring_release,
	.mmap = cell_ring_mmap,
	.poll = cell_ring_poll,
	.unlocked_ioctl = cell_ring_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};
