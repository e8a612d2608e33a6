// SPDX-License-Identifier: GPL-2.0-only
/*
 * Generic netlink family "cell": CELL_CMD_RING_GET dumps every ring, and
 * the "events" multicast group announces creation, destruction and peer
 * death.
 *
 * Who sees what: a ring's owners, cursors and counters go only to a caller
 * whose uid is one of the ring's sides' or who has CAP_SYS_ADMIN; anyone
 * else gets its id, size and creation time.  Events carry those public
 * fields and the open counts only: a listener that wants the rest dumps.
 */
#include <linux/capability.h>
#include <linux/uidgid.h>
#include <net/genetlink.h>
#include <net/netlink.h>
#include <net/sock.h>

#include "cell.h"

static const struct nla_policy cell_genl_policy[CELL_ATTR_MAX + 1] = {
	[CELL_ATTR_RING_ID] = { .type = NLA_U64 },
};

static int cell_genl_dump(struct sk_buff *skb, struct netlink_callback *cb);

static const struct genl_small_ops cell_genl_ops[] = {
	{
		.cmd = CELL_CMD_RING_GET,
		.dumpit = cell_genl_dump,
	},
};

static const struct genl_multicast_group cell_genl_mcgrps[] = {
	{ .name = CELL_GENL_MCGRP_EVENTS },
};

static struct genl_family cell_genl_family __ro_after_init = {
	.name = CELL_GENL_NAME,
	.version = CELL_GENL_VERSION,
	.maxattr = CELL_ATTR_MAX,
	.policy = cell_genl_policy,
	.module = THIS_MODULE,
	.small_ops = cell_genl_ops,
	.n_small_ops = ARRAY_SIZE(cell_genl_ops),
	.mcgrps = cell_genl_mcgrps,
	.n_mcgrps = ARRAY_SIZE(cell_genl_mcgrps),
};

static int cell_put_public(struct sk_buff *skb, struct cell_ring *ring)
{
	if (nla_put_u64_64bit(skb, CELL_ATTR_RING_ID, ring->id, CELL_ATTR_PAD) ||
	    nla_put_u64_64bit(skb, CELL_ATTR_DATA_SIZE, ring->data_size, CELL_ATTR_PAD) ||
	    nla_put_u64_64bit(skb, CELL_ATTR_CREATED_NS, ring->created_ns, CELL_ATTR_PAD))
		return -EMSGSIZE;
	return 0;
}

/* Called with cell_mutex held: @ring cannot go away. */
static int cell_put_ring(struct sk_buff *skb, struct cell_ring *ring, bool details)
{
	struct user_namespace *ns = sk_user_ns(skb->sk);
	unsigned int open[CELL_SIDES];
	kuid_t uids[CELL_SIDES];
	pid_t pids[CELL_SIDES];
	u64 waits, wakeups;

	if (cell_put_public(skb, ring))
		return -EMSGSIZE;
	if (!details)
		return 0;
	cell_ring_snapshot_owners(ring, pids, uids, open);
	spin_lock(&ring->lock);
	waits = ring->waits;
	wakeups = ring->wakeups;
	spin_unlock(&ring->lock);
	if (nla_put_u32(skb, CELL_ATTR_PRODUCER_PID, pids[CELL_SIDE_PRODUCER]) ||
	    nla_put_u32(skb, CELL_ATTR_PRODUCER_UID,
			from_kuid_munged(ns, uids[CELL_SIDE_PRODUCER])) ||
	    nla_put_u32(skb, CELL_ATTR_PRODUCER_OPEN, open[CELL_SIDE_PRODUCER]) ||
	    nla_put_u32(skb, CELL_ATTR_CONSUMER_OPEN, open[CELL_SIDE_CONSUMER]) ||
	    nla_put_u64_64bit(skb, CELL_ATTR_HEAD, READ_ONCE(ring->cons->position),
			      CELL_ATTR_PAD) ||
	    nla_put_u64_64bit(skb, CELL_ATTR_TAIL, READ_ONCE(ring->prod->position),
			      CELL_ATTR_PAD) ||
	    nla_put_u64_64bit(skb, CELL_ATTR_WAITS, waits, CELL_ATTR_PAD) ||
	    nla_put_u64_64bit(skb, CELL_ATTR_WAKEUPS, wakeups, CELL_ATTR_PAD))
		return -EMSGSIZE;
	/* No consumer yet: leave its owner out rather than report pid 0. */
	if (pids[CELL_SIDE_CONSUMER] || uid_valid(uids[CELL_SIDE_CONSUMER])) {
		if (nla_put_u32(skb, CELL_ATTR_CONSUMER_PID, pids[CELL_SIDE_CONSUMER]) ||
		    nla_put_u32(skb, CELL_ATTR_CONSUMER_UID,
				from_kuid_munged(ns, uids[CELL_SIDE_CONSUMER])))
			return -EMSGSIZE;
	}
	return 0;
}

static bool cell_may_see(struct sk_buff *skb, struct cell_ring *ring)
{
	kuid_t uid = NETLINK_CB(skb).creds.uid;
	bool ok;

	if (netlink_capable(skb, CAP_SYS_ADMIN))
		return true;
	spin_lock(&ring->lock);
	ok = uid_eq(uid, ring->owner_uid[CELL_SIDE_PRODUCER]) ||
	     uid_eq(uid, ring->owner_uid[CELL_SIDE_CONSUMER]);
	spin_unlock(&ring->lock);
	return ok;
}

/* cb->args[0]: id of the last ring sent (ids only grow, the list is in id order). */
static int cell_genl_dump(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct cell_ring *ring;
	void *hdr;

	mutex_lock(&cell_mutex);
	for (ring = list_first_entry(&cell_rings, struct cell_ring, node);
	     !list_entry_is_head(ring, &cell_rings, node); ring = list_next_entry(ring, node)) {
		if (ring->id <= cb->args[0])
			continue;
		hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq,
				  &cell_genl_family, NLM_F_MULTI, CELL_CMD_RING_GET);
		if (!hdr)
			break;
		if (cell_put_ring(skb, ring, cell_may_see(cb->skb, ring))) {
			genlmsg_cancel(skb, hdr);
			break;
		}
		genlmsg_end(skb, hdr);
		cb->args[0] = ring->id;
	}
	mutex_unlock(&cell_mutex);
	return skb->len;
}

void cell_genl_event(struct cell_ring *ring, u8 cmd)
{
	struct sk_buff *skb;
	void *hdr;

	if (!genl_has_listeners(&cell_genl_family, &init_net, 0))
		return;
	skb = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!skb)
		return;
	hdr = genlmsg_put(skb, 0, 0, &cell_genl_family, 0, cmd);
	if (!hdr)
		goto fail;
	if (cell_put_public(skb, ring) ||
	    nla_put_u32(skb, CELL_ATTR_PRODUCER_OPEN, READ_ONCE(ring->open[CELL_SIDE_PRODUCER])) ||
	    nla_put_u32(skb, CELL_ATTR_CONSUMER_OPEN, READ_ONCE(ring->open[CELL_SIDE_CONSUMER])))
		goto fail;
	genlmsg_end(skb, hdr);
	genlmsg_multicast(&cell_genl_family, skb, 0, 0, GFP_KERNEL);
	return;
fail:
	nlmsg_free(skb);
}

int __init cell_genl_init(void)
{
	return genl_register_family(&cell_genl_family);
}

void cell_genl_exit(void)
{
	genl_unregister_family(&cell_genl_family);
}
