/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * cell.ko internals: rings, their files, accounting and introspection.
 *
 * Locking, outermost first:
 *   cell_mutex   the list of rings, ring ids, per-user accounting
 *   ring->lock   a ring's open counts, owners, sleepers (a spinlock: the
 *                wait/wake paths take it, never sleep under it)
 */
#ifndef CELL_MODULE_CELL_H
#define CELL_MODULE_CELL_H

#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/uidgid.h>
#include <linux/wait.h>
#include <linux/cell.h>

struct page;
struct pid;
struct file;

/* Index of a side in per-side arrays (CELL_ROLE_* - 1). */
#define CELL_SIDE_PRODUCER 0
#define CELL_SIDE_CONSUMER 1
#define CELL_SIDES	   2

/* Index of a word in per-word arrays (CELL_WORD_* - 1). */
#define CELL_WORDS 2

/* Pages before the data area: geometry, producer, consumer. */
#define CELL_RING_HDR_PAGES (CELL_RING_OFF_DATA / CELL_RING_PAGE)

struct cell_user;

struct cell_ring {
	u64 id;
	u64 data_size;
	unsigned long npages; /* CELL_RING_HDR_PAGES + data pages */
	struct page **pages;
	/* Kernel views of the shared words (the direct map). */
	struct cell_ring_producer *prod;
	struct cell_ring_consumer *cons;
	u64 created_ns; /* CLOCK_BOOTTIME */
	struct cell_user *user;
	struct list_head node; /* cell_rings, under cell_mutex */

	spinlock_t lock;	       /* guards the fields below */
	unsigned int open[CELL_SIDES]; /* open files of each side */
	bool dead[CELL_SIDES];	       /* the side had files and closed them all */
	struct pid *owner_pid[CELL_SIDES];
	kuid_t owner_uid[CELL_SIDES];
	struct list_head sleepers[CELL_WORDS]; /* struct cell_sleeper */
	u64 waits;			       /* wait ioctls that slept */
	u64 wakeups;			       /* sleepers woken by the wake ioctl */
	wait_queue_head_t pollwq;
};

/* Per-user accounting (module parameters bound rings and bytes). */
struct cell_user {
	struct list_head node;
	kuid_t uid;
	unsigned int rings;
	u64 bytes;
};

extern struct mutex cell_mutex;
extern struct list_head cell_rings;

/* ring.c */
struct file *cell_ring_create(u64 data_size, int flags);
u64 cell_ring_file_id(struct file *file);
bool cell_is_ring_file(struct file *file);
void cell_ring_snapshot_owners(struct cell_ring *ring, pid_t *pids, kuid_t *uids,
			       unsigned int *open);

/* main.c */
int cell_account(kuid_t uid, u64 bytes, struct cell_user **user, u64 *id);
void cell_unaccount(struct cell_user *user, u64 bytes);
int cell_copy_arg(void *dst, size_t ksize, const void __user *src);

/* netlink.c */
int cell_genl_init(void);
void cell_genl_exit(void);
void cell_genl_event(struct cell_ring *ring, u8 cmd);

#endif /* CELL_MODULE_CELL_H */
