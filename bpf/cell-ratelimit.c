// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * cell-ratelimit: attach and steer the per-peer rate limiter
 * (ratelimit.bpf.c).  Run through tools/cell-ratelimit; see
 * Documentation/bpf.rst.
 *
 * The attachment is held by the kernel, not by a pin or a process: XDP
 * attached through netlink, or a TC filter on the clsact qdisc.  Both stay
 * until detach (or the device goes), whatever mount namespace the tool ran
 * in: `ip netns exec` gives it a private /sys whose bpffs, and every pin in
 * it, vanishes when the command exits.  Later commands therefore find the
 * limiter by the interface: its program (named crl_xdp or crl_tc) and,
 * through the program's map ids, its maps.  The TC filter's handle says
 * whether the clsact qdisc was there before (TC_HANDLE_KEEP) or created by
 * the attach, and so goes with the detach (TC_HANDLE_OWN).
 *
 * Where a bpffs is mounted (the pin directory, default
 * /sys/fs/bpf/cell-ratelimit, is on one), the maps are pinned there too,
 * shared by every device the limiter is attached to, so bpftool and a
 * process in another network namespace (stats from the host) see them.
 * They are unpinned when no program uses them any more.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/if_link.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "cell_bpf.h"
#include "ratelimit.skel.h"

#define BPFFS		  "/sys/fs/bpf"
#define BPFFS_MAGIC	  0xcafe4a11
#define DEFAULT_PIN	  BPFFS "/cell-ratelimit"
#define DEFAULT_RATE	  1000
#define DEFAULT_BURST	  100
#define TC_HANDLE_KEEP	  0xce11 /* clsact was there before: detach keeps it */
#define TC_HANDLE_OWN	  0xce12 /* clsact created by attach: detach removes it */
#define XDP_PROG_NAME	  "crl_xdp"
#define TC_PROG_NAME	  "crl_tc"
#define MAX_PROG_MAPS	  16
#define DEFAULT_NEW_PEERS 100
#define TC_PRIORITY	  1
#define NSEC_PER_SEC	  1000000000ULL
#define NR_MAPS		  6
#define ARRAY_SIZE(a)	  (sizeof(a) / sizeof((a)[0]))
#define PRIV_HINT	  "needs root (CAP_BPF and CAP_NET_ADMIN)"

static const char *const map_names[NR_MAPS] = {
	"crl_config", "crl_buckets", "crl_rules", "crl_ports", "crl_stats", "crl_newpeers",
};

enum {
	M_CONFIG,
	M_BUCKETS,
	M_RULES,
	M_PORTS,
	M_STATS,
	M_NEWPEERS
};

/* Where on a device the limiter is attached. */
enum hook {
	HOOK_NONE,
	HOOK_XDP,
	HOOK_TC_KEEP, /* TC filter, clsact was there before */
	HOOK_TC_OWN,  /* TC filter on a clsact the attach created */
};

struct attachment {
	enum hook hook;
	__u32 prog_id;
	__u32 xdp_flags;   /* XDP_FLAGS_DRV_MODE or _SKB_MODE it runs in */
	__u32 foreign_xdp; /* id of an XDP program that is not ours, or 0 */
};

static const char *pin_dir = DEFAULT_PIN;

struct options {
	long long rate, burst, max_peers, top, new_peers;
	const char *mode;
	const char *peer;
	const char *dev;
	int ports[CRL_MAX_PORTS];
	int nports;
	bool all_ports, json, all;
};

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("cell-ratelimit: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static const char *err_hint(int err)
{
	err = err < 0 ? -err : err;
	return err == EPERM || err == EACCES ? " (" PRIV_HINT ")" : "";
}

static int silent_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_WARN && getenv("CELL_RATELIMIT_DEBUG"))
		return vfprintf(stderr, fmt, ap);
	return 0;
}

static void print_usage(FILE *f)
{
	fputs("usage: cell-ratelimit [--pin DIR] COMMAND ...\n"
	      "  attach DEV [--rate PPS] [--burst N] [--mode xdp|skb|tc] [--port P]...\n"
	      "             [--max-peers N] [--new-peers N]\n"
	      "  set [--rate PPS] [--burst N] [--port P]... [--all-ports] [--new-peers N]\n"
	      "  allow ADDR[/PREFIX] [--rate PPS] [--burst N]   (no --rate: no limit)\n"
	      "  deny ADDR[/PREFIX]\n"
	      "  unlist ADDR[/PREFIX]                           (forget an allow or deny)\n"
	      "  stats [-j] [--top N | --all] [--peer ADDR]\n"
	      "  detach DEV\n"
	      "set, allow, deny, unlist, stats take --dev DEV: the limiter on DEV\n"
	      "(default: the pinned maps, else any device of this network namespace).\n"
	      "PPS 0 means no limit.  --new-peers: new peers per second that start\n"
	      "with a full burst (default 100; 0: every new peer starts empty).\n",
	      f);
	fprintf(f, "Pin directory: %s (--pin DIR, $CELL_RATELIMIT_PIN)\n", DEFAULT_PIN);
}

static long long parse_num(const char *s, const char *what, long long max)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < 0 || v > max)
		die("bad %s '%s' (0..%lld)", what, s, max);
	return v;
}

static void pin_path(char *buf, size_t n, const char *name)
{
	if ((size_t)snprintf(buf, n, "%s/%s", pin_dir, name) >= n)
		die("pin path too long: %s/%s", pin_dir, name);
}

/* Whether the pin directory is (or would be) on a bpffs in this mount namespace. */
static bool pins_usable(void)
{
	char parent[PATH_MAX], *slash;
	struct statfs fs;

	if (statfs(pin_dir, &fs) == 0)
		return (unsigned long)fs.f_type == BPFFS_MAGIC;
	snprintf(parent, sizeof(parent), "%s", pin_dir);
	slash = strrchr(parent, '/');
	if (!slash || slash == parent)
		return false;
	*slash = '\0';
	return statfs(parent, &fs) == 0 && (unsigned long)fs.f_type == BPFFS_MAGIC;
}

static void close_fds(int *fds, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

/* The ids of the maps program @prog_fd uses, @cap at most; -1 on error. */
static int prog_map_ids(int prog_fd, __u32 *ids, __u32 cap, char *name, size_t name_cap)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	info.nr_map_ids = cap;
	info.map_ids = (__u64)(unsigned long)ids;
	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len))
		return -1;
	if (name)
		snprintf(name, name_cap, "%s", info.name);
	return (int)(info.nr_map_ids < cap ? info.nr_map_ids : cap);
}

/* Whether program @id exists and is named @want. */
static bool prog_named(__u32 id, const char *want)
{
	char name[BPF_OBJ_NAME_LEN] = "";
	__u32 ids[MAX_PROG_MAPS];
	int fd = bpf_prog_get_fd_by_id(id);
	bool yes;

	if (fd < 0)
		return false;
	yes = prog_map_ids(fd, ids, MAX_PROG_MAPS, name, sizeof(name)) >= 0 && !strcmp(name, want);
	close(fd);
	return yes;
}

static const __u32 tc_handles[] = { TC_HANDLE_KEEP, TC_HANDLE_OWN };

/* What of the limiter is attached to @ifindex (hook HOOK_NONE: nothing). */
static struct attachment find_attachment(int ifindex)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	struct attachment a = {};
	size_t i;

	if (bpf_xdp_query(ifindex, 0, &q) == 0) {
		if (q.drv_prog_id && prog_named(q.drv_prog_id, XDP_PROG_NAME)) {
			a.hook = HOOK_XDP;
			a.prog_id = q.drv_prog_id;
			a.xdp_flags = XDP_FLAGS_DRV_MODE;
		} else if (q.skb_prog_id && prog_named(q.skb_prog_id, XDP_PROG_NAME)) {
			a.hook = HOOK_XDP;
			a.prog_id = q.skb_prog_id;
			a.xdp_flags = XDP_FLAGS_SKB_MODE;
		} else {
			a.foreign_xdp = q.drv_prog_id	? q.drv_prog_id
					: q.skb_prog_id ? q.skb_prog_id
							: q.hw_prog_id;
		}
		if (a.hook)
			return a;
	}
	for (i = 0; i < ARRAY_SIZE(tc_handles); i++) {
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
		LIBBPF_OPTS(bpf_tc_opts, to, .handle = tc_handles[i], .priority = TC_PRIORITY);

		if (bpf_tc_query(&hook, &to) == 0 && prog_named(to.prog_id, TC_PROG_NAME)) {
			a.hook = i ? HOOK_TC_OWN : HOOK_TC_KEEP;
			a.prog_id = to.prog_id;
			return a;
		}
	}
	return a;
}

/* Which of map_names map @fd is, or -1. */
static int map_index(int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	int k;

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -1;
	for (k = 0; k < NR_MAPS; k++)
		if (!strcmp(info.name, map_names[k]))
			return k;
	return -1;
}

/* The limiter's maps, found through the program @prog_id: 0 or -ENOENT. */
static int maps_of_prog(__u32 prog_id, int fds[NR_MAPS])
{
	__u32 ids[MAX_PROG_MAPS];
	int prog_fd, n, i, k, found = 0;

	for (k = 0; k < NR_MAPS; k++)
		fds[k] = -1;
	prog_fd = bpf_prog_get_fd_by_id(prog_id);
	if (prog_fd < 0)
		return -ENOENT;
	n = prog_map_ids(prog_fd, ids, MAX_PROG_MAPS, NULL, 0);
	close(prog_fd);
	for (i = 0; i < n; i++) {
		int fd = bpf_map_get_fd_by_id(ids[i]);

		if (fd < 0)
			continue;
		k = map_index(fd);
		if (k >= 0 && fds[k] < 0) {
			fds[k] = fd;
			found++;
		} else {
			close(fd);
		}
	}
	if (found == NR_MAPS)
		return 0;
	close_fds(fds, NR_MAPS);
	return -ENOENT;
}

/* The first device of this network namespace carrying the limiter. */
static __u32 find_in_netns(int skip_ifindex, char *dev, size_t cap)
{
	struct if_nameindex *ifs = if_nameindex(), *i;
	__u32 id = 0;

	if (!ifs)
		return 0;
	for (i = ifs; i->if_index && !id; i++) {
		struct attachment a;

		if ((int)i->if_index == skip_ifindex)
			continue;
		a = find_attachment((int)i->if_index);
		if (a.hook) {
			id = a.prog_id;
			snprintf(dev, cap, "%s", i->if_name);
		}
	}
	if_freenameindex(ifs);
	return id;
}

/* The pinned maps: 0, or -ENOENT when nothing is pinned (other errors die). */
static int open_pinned(int fds[NR_MAPS])
{
	char path[PATH_MAX];
	int i;

	for (i = 0; i < NR_MAPS; i++) {
		pin_path(path, sizeof(path), map_names[i]);
		fds[i] = bpf_obj_get(path);
		if (fds[i] >= 0)
			continue;
		if (errno != ENOENT && errno != ENOTDIR)
			die("%s: %s%s", path, strerror(errno), err_hint(errno));
		if (i)
			die("%s: maps of an older cell-ratelimit (no %s): detach and attach again",
			    pin_dir, map_names[i]);
		close_fds(fds, i);
		return -ENOENT;
	}
	return 0;
}

/*
 * The maps of an attached limiter, for the commands after attach: those of
 * the limiter on @dev if given, else the pinned ones, else those of any
 * device in this network namespace that carries it.
 */
static void open_maps(int fds[NR_MAPS], const char *dev)
{
	char found[IF_NAMESIZE];
	__u32 id;

	if (dev) {
		int ifindex = (int)if_nametoindex(dev);
		struct attachment a;

		if (!ifindex)
			die("no device '%s' in this network namespace", dev);
		if (geteuid() != 0)
			die("%s: " PRIV_HINT, dev);
		a = find_attachment(ifindex);
		if (!a.hook)
			die("not attached to %s", dev);
		if (maps_of_prog(a.prog_id, fds))
			die("%s: the limiter's maps are gone", dev);
		return;
	}
	if (open_pinned(fds) == 0)
		return;
	if (geteuid() != 0)
		die(PRIV_HINT);
	id = find_in_netns(0, found, sizeof(found));
	if (!id || maps_of_prog(id, fds))
		die("not attached: nothing pinned under %s, no device here carries it", pin_dir);
}

static void close_maps(int fds[NR_MAPS])
{
	close_fds(fds, NR_MAPS);
}

static void rate_to(long long rate, long long burst, __u64 *interval, __u64 *burst_ns)
{
	if (rate == 0) {
		*interval = 0;
		*burst_ns = 0;
		return;
	}
	if (burst < 1)
		burst = 1;
	*interval = NSEC_PER_SEC / (unsigned long long)rate;
	*burst_ns = *interval * (unsigned long long)burst;
}

/* Apply --rate, --burst, --port, --all-ports to the config and port maps. */
static void apply_config(int cfg_fd, int ports_fd, const struct options *o, bool fresh)
{
	struct crl_config cfg = {};
	__u32 zero = 0;
	__u8 one = 1;
	int i;

	if (!fresh && bpf_map_lookup_elem(cfg_fd, &zero, &cfg))
		die("read config: %s%s", strerror(errno), err_hint(errno));
	if (fresh) {
		cfg.rate = DEFAULT_RATE;
		cfg.burst = DEFAULT_BURST;
		cfg.new_peers = DEFAULT_NEW_PEERS;
	}
	if (o->rate >= 0)
		cfg.rate = (__u32)o->rate;
	if (o->burst >= 0)
		cfg.burst = (__u32)o->burst;
	if (o->new_peers >= 0)
		cfg.new_peers = (__u32)o->new_peers;
	if (cfg.burst < 1)
		cfg.burst = 1;
	rate_to(cfg.rate, cfg.burst, &cfg.interval_ns, &cfg.burst_ns);
	/* An allowance of one second's worth of new peers at once. */
	rate_to(cfg.new_peers, cfg.new_peers, &cfg.new_interval_ns, &cfg.new_burst_ns);
	if (o->all_ports) {
		__u16 key, next;

		cfg.flags &= ~CRL_F_PORTS;
		while (bpf_map_get_next_key(ports_fd, NULL, &next) == 0) {
			key = next;
			bpf_map_delete_elem(ports_fd, &key);
		}
	}
	for (i = 0; i < o->nports; i++) {
		__u16 port = (__u16)o->ports[i];

		if (bpf_map_update_elem(ports_fd, &port, &one, BPF_ANY))
			die("add port %u: %s", port, strerror(errno));
		cfg.flags |= CRL_F_PORTS;
	}
	if (bpf_map_update_elem(cfg_fd, &zero, &cfg, BPF_ANY))
		die("write config: %s%s", strerror(errno), err_hint(errno));
}

/*
 * Maps for a new attachment: the pinned ones, else those of another device
 * of this network namespace carrying the limiter, else
 * none (fresh: created by the load).  Returns whether they are fresh.
 */
static bool reuse_maps(struct bpf_map *maps[NR_MAPS], int ifindex, const struct options *o)
{
	char other[IF_NAMESIZE] = "";
	int fds[NR_MAPS], i;
	__u32 id;

	if (open_pinned(fds) != 0) {
		id = find_in_netns(ifindex, other, sizeof(other));
		if (!id || maps_of_prog(id, fds))
			return true;
	}
	if (o->max_peers >= 0)
		fprintf(stderr, "cell-ratelimit: --max-peers ignored: the maps exist (%s%s)\n",
			other[0] ? "those of " : "pinned under ", other[0] ? other : pin_dir);
	for (i = 0; i < NR_MAPS; i++)
		if (bpf_map__reuse_fd(maps[i], fds[i]))
			die("reuse map %s: %s (left by another version? detach everywhere first)",
			    map_names[i], strerror(errno));
	close_fds(fds, NR_MAPS);
	return false;
}

static void pin_maps(struct bpf_map *maps[NR_MAPS])
{
	char path[PATH_MAX];
	int i, err;

	if (mkdir(pin_dir, 0700) < 0 && errno != EEXIST)
		die("mkdir %s: %s%s", pin_dir, strerror(errno), err_hint(errno));
	for (i = 0; i < NR_MAPS; i++) {
		pin_path(path, sizeof(path), map_names[i]);
		err = bpf_map__pin(maps[i], path);
		if (err)
			die("pin %s: %s", path, strerror(-err));
	}
}

/* XDP through netlink: the kernel keeps it with the device, no pin needed. */
static void attach_xdp(const char *dev, int ifindex, int prog_fd, const char *mode)
{
	__u32 flags = XDP_FLAGS_UPDATE_IF_NOEXIST;
	int err;

	flags |= !strcmp(mode, "skb") ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
	err = bpf_xdp_attach(ifindex, prog_fd, flags, NULL);
	if (!err)
		return;
	if (err == -EBUSY || err == -EEXIST)
		die("%s already has an XDP program", dev);
	if (err == -EOPNOTSUPP && (flags & XDP_FLAGS_DRV_MODE))
		die("%s has no native XDP: use --mode skb", dev);
	die("attach XDP to %s: %s%s", dev, strerror(-err), err_hint(err));
}

/* A TC ingress filter; its handle records whether we created the clsact. */
static void attach_tc(const char *dev, int ifindex, int prog_fd)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, to, .priority = TC_PRIORITY, .prog_fd = prog_fd);
	bool created;
	int err;

	err = bpf_tc_hook_create(&hook);
	if (err && err != -EEXIST)
		die("create clsact on %s: %s%s", dev, strerror(-err), err_hint(err));
	created = !err;
	to.handle = created ? TC_HANDLE_OWN : TC_HANDLE_KEEP;
	err = bpf_tc_attach(&hook, &to);
	if (!err)
		return;
	if (created) {
		hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		bpf_tc_hook_destroy(&hook);
	}
	if (err == -EEXIST)
		die("%s already has a TC filter at handle 0x%x priority %d", dev, to.handle,
		    TC_PRIORITY);
	die("attach TC to %s: %s%s", dev, strerror(-err), err_hint(err));
}

static int cmd_attach(const char *dev, const struct options *o)
{
	const char *mode = o->mode ? o->mode : "xdp";
	bool tc = !strcmp(mode, "tc"), fresh, pins;
	struct ratelimit_bpf *skel;
	struct bpf_map *maps[NR_MAPS];
	struct attachment a;
	struct crl_config cfg = {};
	__u32 zero = 0;
	int ifindex, err;

	if (strcmp(mode, "xdp") && strcmp(mode, "skb") && !tc)
		die("bad --mode '%s' (xdp, skb or tc)", mode);
	ifindex = (int)if_nametoindex(dev);
	if (!ifindex)
		die("no device '%s' in this network namespace", dev);
	if (geteuid() != 0)
		die("attach %s: " PRIV_HINT, dev);
	a = find_attachment(ifindex);
	if (a.hook)
		die("already attached to %s (cell-ratelimit detach %s first)", dev, dev);
	if (!tc && a.foreign_xdp)
		die("%s already has an XDP program (id %u): not ours, left in place", dev,
		    a.foreign_xdp);

	skel = ratelimit_bpf__open();
	if (!skel)
		die("open BPF object: %s", strerror(errno));
	maps[M_CONFIG] = skel->maps.crl_config;
	maps[M_BUCKETS] = skel->maps.crl_buckets;
	maps[M_RULES] = skel->maps.crl_rules;
	maps[M_PORTS] = skel->maps.crl_ports;
	maps[M_STATS] = skel->maps.crl_stats;
	maps[M_NEWPEERS] = skel->maps.crl_newpeers;
	pins = pins_usable();
	fresh = reuse_maps(maps, ifindex, o);
	if (fresh && o->max_peers >= 0 &&
	    bpf_map__set_max_entries(skel->maps.crl_buckets, (__u32)o->max_peers))
		die("--max-peers: %s", strerror(errno));
	bpf_program__set_autoload(skel->progs.crl_xdp, !tc);
	bpf_program__set_autoload(skel->progs.crl_tc, tc);
	err = ratelimit_bpf__load(skel);
	if (err)
		die("load BPF program: %s%s", strerror(-err), err_hint(err));
	if (fresh && pins)
		pin_maps(maps);
	if (fresh || o->rate >= 0 || o->burst >= 0 || o->nports || o->new_peers >= 0)
		apply_config(bpf_map__fd(skel->maps.crl_config), bpf_map__fd(skel->maps.crl_ports),
			     o, fresh);
	if (tc)
		attach_tc(dev, ifindex, bpf_program__fd(skel->progs.crl_tc));
	else
		attach_xdp(dev, ifindex, bpf_program__fd(skel->progs.crl_xdp), mode);

	bpf_map_lookup_elem(bpf_map__fd(skel->maps.crl_config), &zero, &cfg);
	printf("attached to %s (%s): rate %u pps, burst %u, peers up to %u%s%s\n", dev, mode,
	       cfg.rate, cfg.burst, bpf_map__max_entries(skel->maps.crl_buckets),
	       cfg.flags & CRL_F_PORTS ? ", listed ports only" : "",
	       pins ? "" : "; maps not pinned (no bpffs here), found by the interface");
	ratelimit_bpf__destroy(skel);
	return 0;
}

/* Whether a program other than @skip_id uses map @map_id. */
static bool map_in_use(__u32 map_id, __u32 skip_id)
{
	__u32 id = 0, ids[MAX_PROG_MAPS];
	bool used = false;
	int fd, n, i;

	while (!used && bpf_prog_get_next_id(id, &id) == 0) {
		if (id == skip_id)
			continue;
		fd = bpf_prog_get_fd_by_id(id);
		if (fd < 0)
			continue;
		n = prog_map_ids(fd, ids, MAX_PROG_MAPS, NULL, 0);
		for (i = 0; i < n; i++)
			used |= ids[i] == map_id;
		close(fd);
	}
	return used;
}

/* Unpin the maps once no program but @detached_id uses them. */
static void unpin_unused(__u32 detached_id)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	int fd, i;

	pin_path(path, sizeof(path), map_names[M_CONFIG]);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return;
	if (bpf_obj_get_info_by_fd(fd, &info, &len) || map_in_use(info.id, detached_id)) {
		close(fd);
		return;
	}
	close(fd);
	for (i = 0; i < NR_MAPS; i++) {
		pin_path(path, sizeof(path), map_names[i]);
		unlink(path);
	}
	rmdir(pin_dir);
}

/*
 * Detach an XDP bpf_link of @prog_id on @ifindex: what tools of before
 * the netlink attach made (pinned as xdp-DEV).  0, or -ENOENT if none.
 */
static int detach_xdp_link(int ifindex, __u32 prog_id)
{
	__u32 id = 0;
	int fd, err = -ENOENT;

	while (err == -ENOENT && bpf_link_get_next_id(id, &id) == 0) {
		struct bpf_link_info info = {};
		__u32 len = sizeof(info);

		fd = bpf_link_get_fd_by_id(id);
		if (fd < 0)
			continue;
		if (!bpf_obj_get_info_by_fd(fd, &info, &len) && info.type == BPF_LINK_TYPE_XDP &&
		    info.prog_id == prog_id && (int)info.xdp.ifindex == ifindex)
			err = bpf_link_detach(fd) ? -errno : 0;
		close(fd);
	}
	return err;
}

static void detach_xdp(const char *dev, int ifindex, const struct attachment *a)
{
	LIBBPF_OPTS(bpf_xdp_attach_opts, xo);
	char path[PATH_MAX], name[64];
	int fd = bpf_prog_get_fd_by_id(a->prog_id), err;

	if (fd < 0)
		die("detach XDP from %s: %s", dev, strerror(errno));
	xo.old_prog_fd = fd; /* only ours: fails if it was replaced meanwhile */
	err = bpf_xdp_detach(ifindex, a->xdp_flags, &xo);
	close(fd);
	if (err == -EBUSY) {
		/* Held by a link (an older tool's attach): detach that link. */
		err = detach_xdp_link(ifindex, a->prog_id);
		snprintf(name, sizeof(name), "xdp-%s", dev);
		pin_path(path, sizeof(path), name);
		if (!err)
			unlink(path);
	}
	if (err)
		die("detach XDP from %s: %s%s", dev, strerror(-err), err_hint(err));
}

static void detach_tc(const char *dev, int ifindex, const struct attachment *a)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, to, .priority = TC_PRIORITY);
	int err;

	char path[PATH_MAX], name[64];
	bool own = a->hook == HOOK_TC_OWN;

	/* An older tool recorded a clsact it created as a tcq-DEV pin. */
	snprintf(name, sizeof(name), "tcq-%s", dev);
	pin_path(path, sizeof(path), name);
	if (!unlink(path))
		own = true;
	snprintf(name, sizeof(name), "tc-%s", dev);
	pin_path(path, sizeof(path), name);
	unlink(path);
	to.handle = a->hook == HOOK_TC_OWN ? TC_HANDLE_OWN : TC_HANDLE_KEEP;
	err = bpf_tc_detach(&hook, &to);
	if (err && err != -ENOENT)
		die("detach TC from %s: %s%s", dev, strerror(-err), err_hint(err));
	if (own) {
		hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		bpf_tc_hook_destroy(&hook);
	}
}

static int cmd_detach(const char *dev)
{
	int ifindex = (int)if_nametoindex(dev);
	struct attachment a;

	if (!ifindex)
		die("no device '%s' in this network namespace", dev);
	if (geteuid() != 0)
		die("detach %s: " PRIV_HINT, dev);
	a = find_attachment(ifindex);
	if (!a.hook)
		die("not attached to %s (no limiter on it in this network namespace)", dev);
	if (a.hook == HOOK_XDP)
		detach_xdp(dev, ifindex, &a);
	else
		detach_tc(dev, ifindex, &a);
	unpin_unused(a.prog_id);
	printf("detached from %s\n", dev);
	return 0;
}

/* ADDR[/PREFIX] into an LPM key (prefixlen counts the 32 family bits). */
static void parse_prefix(const char *arg, struct crl_rule_key *key)
{
	char buf[INET6_ADDRSTRLEN + 8];
	char *slash;
	long long plen = -1;
	int max;

	memset(key, 0, sizeof(*key));
	if (strlen(arg) >= sizeof(buf))
		die("bad address '%s'", arg);
	strcpy(buf, arg);
	slash = strchr(buf, '/');
	if (slash) {
		*slash = '\0';
		plen = parse_num(slash + 1, "prefix length", 128);
	}
	if (inet_pton(AF_INET, buf, key->addr) == 1) {
		key->family = CRL_FAMILY_V4;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, key->addr) == 1) {
		key->family = CRL_FAMILY_V6;
		max = 128;
	} else {
		die("bad address '%s' (IPv4 or IPv6, optional /PREFIX)", arg);
	}
	if (plen < 0)
		plen = max;
	if (plen > max)
		die("prefix /%lld too long for '%s'", plen, buf);
	key->prefixlen = 32 + (__u32)plen;
}

static void format_addr(__u32 family, const __u8 *addr, char *buf, size_t n)
{
	if (!inet_ntop(family == CRL_FAMILY_V4 ? AF_INET : AF_INET6, addr, buf, (socklen_t)n))
		snprintf(buf, n, "?");
}

static int cmd_set(const struct options *o)
{
	int fds[NR_MAPS];

	if (o->rate < 0 && o->burst < 0 && !o->nports && !o->all_ports && o->new_peers < 0)
		die("set: nothing to set (--rate, --burst, --port, --all-ports, --new-peers)");
	open_maps(fds, o->dev);
	apply_config(fds[M_CONFIG], fds[M_PORTS], o, false);
	close_maps(fds);
	return 0;
}

static int cmd_rule(const char *cmd, const char *arg, const struct options *o)
{
	struct crl_rule_key key;
	struct crl_rule rule = {};
	int fds[NR_MAPS];

	parse_prefix(arg, &key);
	open_maps(fds, o->dev);
	if (!strcmp(cmd, "unlist")) {
		if (bpf_map_delete_elem(fds[M_RULES], &key))
			die("unlist %s: %s", arg,
			    errno == ENOENT ? "not on the allow or deny list" : strerror(errno));
	} else {
		if (!strcmp(cmd, "deny")) {
			rule.action = CRL_ACT_DENY;
		} else if (o->rate > 0) {
			rule.action = CRL_ACT_RATE;
			rule.rate = (__u32)o->rate;
			rule.burst = o->burst > 0 ? (__u32)o->burst : DEFAULT_BURST;
			rate_to(rule.rate, rule.burst, &rule.interval_ns, &rule.burst_ns);
		} else {
			rule.action = CRL_ACT_PASS;
		}
		if (bpf_map_update_elem(fds[M_RULES], &key, &rule, BPF_ANY))
			die("%s %s: %s%s", cmd, arg, strerror(errno),
			    errno == E2BIG || errno == ENOSPC ? " (rule table full)" : "");
	}
	close_maps(fds);
	return 0;
}

struct peer {
	struct crl_addr addr;
	struct crl_bucket b;
};

static int by_traffic(const void *a, const void *b)
{
	const struct peer *x = a, *y = b;
	__u64 tx = x->b.passed_pkts + x->b.dropped_pkts;
	__u64 ty = y->b.passed_pkts + y->b.dropped_pkts;

	return tx < ty ? 1 : tx > ty ? -1 : 0;
}

static long long fd_memlock(int fd)
{
	char path[64], line[256];
	long long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %lld", &v) == 1)
			break;
	fclose(f);
	return v;
}

static void print_peer_line(const char *addr, const struct crl_bucket *b)
{
	printf("peer %s", addr);
	printf(" passed_pkts %llu passed_bytes %llu", (unsigned long long)b->passed_pkts,
	       (unsigned long long)b->passed_bytes);
	printf(" dropped_pkts %llu dropped_bytes %llu\n", (unsigned long long)b->dropped_pkts,
	       (unsigned long long)b->dropped_bytes);
}

static void print_peer_json(const char *addr, const struct crl_bucket *b, bool first)
{
	printf("%s{\"addr\":\"%s\",", first ? "" : ",", addr);
	printf("\"passed_pkts\":%llu,\"passed_bytes\":%llu,", (unsigned long long)b->passed_pkts,
	       (unsigned long long)b->passed_bytes);
	printf("\"dropped_pkts\":%llu,\"dropped_bytes\":%llu}", (unsigned long long)b->dropped_pkts,
	       (unsigned long long)b->dropped_bytes);
}

static const char *const stat_names[CRL_STAT_NR] = {
	"passed", "dropped", "denied", "allowed", "exempt",
};

static int cmd_stats(const struct options *o)
{
	struct crl_counter totals[CRL_STAT_NR] = {};
	struct peer *peers = NULL;
	struct crl_config cfg = {};
	struct bpf_map_info info = {};
	__u32 info_len = sizeof(info), zero = 0, i;
	size_t npeers = 0, cap = 0, shown, p;
	int fds[NR_MAPS], ncpu = libbpf_num_possible_cpus(), c;
	struct crl_counter *pc;
	struct crl_addr key, next, *prev = NULL;
	struct crl_rule_key rkey, rnext, *rprev = NULL;
	char addr[INET6_ADDRSTRLEN];
	long long memlock;

	open_maps(fds, o->dev);
	if (bpf_map_lookup_elem(fds[M_CONFIG], &zero, &cfg))
		die("read config: %s", strerror(errno));
	if (bpf_obj_get_info_by_fd(fds[M_BUCKETS], &info, &info_len))
		die("map info: %s", strerror(errno));
	memlock = fd_memlock(fds[M_BUCKETS]);
	pc = calloc((size_t)ncpu, sizeof(*pc));
	if (!pc)
		die("out of memory");
	for (i = 0; i < CRL_STAT_NR; i++) {
		if (bpf_map_lookup_elem(fds[M_STATS], &i, pc))
			die("read stats: %s", strerror(errno));
		for (c = 0; c < ncpu; c++) {
			totals[i].pkts += pc[c].pkts;
			totals[i].bytes += pc[c].bytes;
		}
	}
	free(pc);
	while (bpf_map_get_next_key(fds[M_BUCKETS], prev, &next) == 0) {
		key = next;
		prev = &key;
		if (npeers == cap) {
			cap = cap ? cap * 2 : 1024;
			peers = realloc(peers, cap * sizeof(*peers));
			if (!peers)
				die("out of memory");
		}
		if (bpf_map_lookup_elem(fds[M_BUCKETS], &key, &peers[npeers].b))
			continue; /* evicted meanwhile */
		peers[npeers++].addr = key;
	}
	if (npeers)
		qsort(peers, npeers, sizeof(*peers), by_traffic);

	if (o->peer) {
		struct crl_rule_key want;

		parse_prefix(o->peer, &want);
		for (p = 0; p < npeers; p++) {
			if (peers[p].addr.family != want.family ||
			    memcmp(peers[p].addr.addr, want.addr, 16))
				continue;
			print_peer_line(o->peer, &peers[p].b);
			break;
		}
		if (p == npeers)
			if (p == npeers) {
				struct crl_bucket none = {};

				print_peer_line(o->peer, &none);
			}
		free(peers);
		close_maps(fds);
		return 0;
	}

	shown = o->all ? npeers : (size_t)o->top < npeers ? (size_t)o->top : npeers;
	if (o->json) {
		printf("{\"pin\":\"%s\",\"config\":{\"rate\":%u,\"burst\":%u,", pin_dir, cfg.rate,
		       cfg.burst);
		printf("\"new_peers\":%u,\"ports\":[", cfg.new_peers);
		{
			__u16 pk, pn, *pp = NULL;
			bool first = true;

			while (bpf_map_get_next_key(fds[M_PORTS], pp, &pn) == 0) {
				pk = pn;
				pp = &pk;
				printf("%s%u", first ? "" : ",", pk);
				first = false;
			}
		}
		printf("],\"listed_ports_only\":%s},\"totals\":{",
		       cfg.flags & CRL_F_PORTS ? "true" : "false");
		for (i = 0; i < CRL_STAT_NR; i++)
			printf("%s\"%s\":{\"pkts\":%llu,\"bytes\":%llu}", i ? "," : "",
			       stat_names[i], (unsigned long long)totals[i].pkts,
			       (unsigned long long)totals[i].bytes);
		printf("},\"peer_count\":%zu,\"max_peers\":%u,\"buckets_memlock\":%lld,\"rules\":[",
		       npeers, info.max_entries, memlock);
		while (bpf_map_get_next_key(fds[M_RULES], rprev, &rnext) == 0) {
			struct crl_rule r;

			rkey = rnext;
			if (bpf_map_lookup_elem(fds[M_RULES], &rkey, &r))
				continue;
			format_addr(rkey.family, rkey.addr, addr, sizeof(addr));
			printf("%s{\"prefix\":\"%s/%u\",", rprev ? "," : "", addr,
			       rkey.prefixlen - 32);
			printf("\"action\":\"%s\",\"rate\":%u,\"burst\":%u}",
			       r.action == CRL_ACT_DENY ? "deny" : "allow", r.rate, r.burst);
			rprev = &rkey;
		}
		printf("],\"peers\":[");
		for (p = 0; p < shown; p++) {
			format_addr(peers[p].addr.family, peers[p].addr.addr, addr, sizeof(addr));
			print_peer_json(addr, &peers[p].b, p == 0);
		}
		printf("]}\n");
	} else {
		printf("config: rate %u pps, burst %u, %s, new peers %u/s with a burst\n", cfg.rate,
		       cfg.burst, cfg.flags & CRL_F_PORTS ? "listed ports only" : "all ports",
		       cfg.new_peers);
		for (i = 0; i < CRL_STAT_NR; i++)
			printf("total %-8s %12llu pkts %14llu bytes\n", stat_names[i],
			       (unsigned long long)totals[i].pkts,
			       (unsigned long long)totals[i].bytes);
		printf("peers %zu of %u (buckets memlock %lld bytes)\n", npeers, info.max_entries,
		       memlock);
		while (bpf_map_get_next_key(fds[M_RULES], rprev, &rnext) == 0) {
			struct crl_rule r;

			rkey = rnext;
			rprev = &rkey;
			if (bpf_map_lookup_elem(fds[M_RULES], &rkey, &r))
				continue;
			format_addr(rkey.family, rkey.addr, addr, sizeof(addr));
			if (r.action == CRL_ACT_DENY)
				printf("rule %s/%u deny\n", addr, rkey.prefixlen - 32);
			else if (r.action == CRL_ACT_PASS)
				printf("rule %s/%u allow (no limit)\n", addr, rkey.prefixlen - 32);
			else
				printf("rule %s/%u allow rate %u pps burst %u\n", addr,
				       rkey.prefixlen - 32, r.rate, r.burst);
		}
		if (shown)
			printf("%-40s %12s %14s %12s %14s\n", "top talkers", "passed", "bytes",
			       "dropped", "bytes");
		for (p = 0; p < shown; p++) {
			format_addr(peers[p].addr.family, peers[p].addr.addr, addr, sizeof(addr));
			printf("%-40s %12llu %14llu %12llu %14llu\n", addr,
			       (unsigned long long)peers[p].b.passed_pkts,
			       (unsigned long long)peers[p].b.passed_bytes,
			       (unsigned long long)peers[p].b.dropped_pkts,
			       (unsigned long long)peers[p].b.dropped_bytes);
		}
	}
	free(peers);
	close_maps(fds);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "rate", required_argument, NULL, 'r' },
		{ "burst", required_argument, NULL, 'b' },
		{ "mode", required_argument, NULL, 'm' },
		{ "port", required_argument, NULL, 'p' },
		{ "all-ports", no_argument, NULL, 'A' },
		{ "max-peers", required_argument, NULL, 'M' },
		{ "top", required_argument, NULL, 't' },
		{ "all", no_argument, NULL, 'a' },
		{ "peer", required_argument, NULL, 'P' },
		{ "json", no_argument, NULL, 'j' },
		{ "pin", required_argument, NULL, 'd' },
		{ "dev", required_argument, NULL, 'D' },
		{ "new-peers", required_argument, NULL, 'N' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct options o = { .rate = -1, .burst = -1, .max_peers = -1, .top = 10, .new_peers = -1 };
	const char *cmd, *arg = NULL;
	int c;

	if (getenv("CELL_RATELIMIT_PIN"))
		pin_dir = getenv("CELL_RATELIMIT_PIN");
	while ((c = getopt_long(argc, argv, "+jh", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			pin_dir = optarg;
			break;
		case 'h':
			print_usage(stdout);
			return 0;
		default:
			print_usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		print_usage(stderr);
		return 2;
	}
	cmd = argv[optind++];
	/* Options may come before or after the command's argument. */
	while (optind < argc) {
		c = getopt_long(argc, argv, "jh", longopts, NULL);
		if (c == -1) {
			if (arg)
				die("%s: unexpected argument '%s'", cmd, argv[optind]);
			arg = argv[optind++];
			continue;
		}
		switch (c) {
		case 'r':
			o.rate = parse_num(optarg, "rate", UINT32_MAX);
			break;
		case 'b':
			o.burst = parse_num(optarg, "burst", UINT32_MAX);
			break;
		case 'm':
			o.mode = optarg;
			break;
		case 'p':
			if (o.nports == CRL_MAX_PORTS)
				die("at most %d ports", CRL_MAX_PORTS);
			o.ports[o.nports++] = (int)parse_num(optarg, "port", 65535);
			break;
		case 'A':
			o.all_ports = true;
			break;
		case 'M':
			o.max_peers = parse_num(optarg, "max peers", 1 << 24);
			if (o.max_peers < 1)
				die("--max-peers must be at least 1");
			break;
		case 't':
			o.top = parse_num(optarg, "top", INT_MAX);
			break;
		case 'a':
			o.all = true;
			break;
		case 'P':
			o.peer = optarg;
			break;
		case 'D':
			o.dev = optarg;
			break;
		case 'N':
			o.new_peers = parse_num(optarg, "new peers", UINT32_MAX);
			break;
		case 'j':
			o.json = true;
			break;
		case 'd':
			pin_dir = optarg;
			break;
		case 'h':
			print_usage(stdout);
			return 0;
		default:
			print_usage(stderr);
			return 2;
		}
	}
	libbpf_set_print(silent_print);

	if (!strcmp(cmd, "attach") || !strcmp(cmd, "detach") || !strcmp(cmd, "allow") ||
	    !strcmp(cmd, "deny") || !strcmp(cmd, "unlist")) {
		if (!arg)
			die("%s: needs %s", cmd,
			    strstr("attach detach", cmd) ? "a device" : "ADDR[/PREFIX]");
	} else if (arg) {
		die("%s: unexpected argument '%s'", cmd, arg);
	}
	if (!strcmp(cmd, "attach"))
		return cmd_attach(arg, &o);
	if (!strcmp(cmd, "detach"))
		return cmd_detach(arg);
	if (!strcmp(cmd, "set"))
		return cmd_set(&o);
	if (!strcmp(cmd, "allow") || !strcmp(cmd, "deny") || !strcmp(cmd, "unlist"))
		return cmd_rule(cmd, arg, &o);
	if (!strcmp(cmd, "stats"))
		return cmd_stats(&o);
	fprintf(stderr, "cell-ratelimit: unknown command '%s'\n", cmd);
	print_usage(stderr);
	return 2;
}
