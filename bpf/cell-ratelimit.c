// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * cell-ratelimit: attach and steer the per-peer rate limiter
 * (ratelimit.bpf.c).  Run through tools/cell-ratelimit; see
 * Documentation/bpf.rst.
 *
 * The maps are pinned under the pin directory (default
 * /sys/fs/bpf/cell-ratelimit, mounting bpffs if needed), shared by every
 * device the limiter is attached to, so a later process (set, allow, deny,
 * stats) and bpftool see them.  Each attachment is pinned there too:
 * xdp-<dev> (the XDP link), tc-<dev> / tcq-<dev> (the TC program; tcq when
 * the clsact qdisc was created by us and goes with the detach).
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
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/if_link.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "cell_bpf.h"
#include "ratelimit.skel.h"

#define BPFFS	      "/sys/fs/bpf"
#define BPFFS_MAGIC   0xcafe4a11
#define DEFAULT_PIN   BPFFS "/cell-ratelimit"
#define DEFAULT_RATE  1000
#define DEFAULT_BURST 100
#define TC_HANDLE     0xce11
#define TC_PRIORITY   1
#define NSEC_PER_SEC  1000000000ULL
#define NR_MAPS	      5
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define PRIV_HINT     "needs root (CAP_BPF and CAP_NET_ADMIN)"

static const char *const map_names[NR_MAPS] = {
	"crl_config", "crl_buckets", "crl_rules", "crl_ports", "crl_stats",
};

enum {
	M_CONFIG,
	M_BUCKETS,
	M_RULES,
	M_PORTS,
	M_STATS
};

static const char *pin_dir = DEFAULT_PIN;

struct options {
	long long rate, burst, max_peers, top;
	const char *mode;
	const char *peer;
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
	      "             [--max-peers N]\n"
	      "  set [--rate PPS] [--burst N] [--port P]... [--all-ports]\n"
	      "  allow ADDR[/PREFIX] [--rate PPS] [--burst N]   (no --rate: no limit)\n"
	      "  deny ADDR[/PREFIX]\n"
	      "  unlist ADDR[/PREFIX]                           (forget an allow or deny)\n"
	      "  stats [-j] [--top N | --all] [--peer ADDR]\n"
	      "  detach DEV\n"
	      "PPS 0 means no limit.\n",
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

static void ensure_bpffs(void)
{
	struct statfs fs;

	if (statfs(BPFFS, &fs) == 0 && (unsigned long)fs.f_type == BPFFS_MAGIC)
		goto mkpin;
	if (mkdir(BPFFS, 0700) < 0 && errno != EEXIST)
		die("mkdir " BPFFS ": %s", strerror(errno));
	if (mount("bpf", BPFFS, "bpf", 0, "mode=0700") < 0)
		die("cannot mount bpffs on " BPFFS ": %s%s", strerror(errno), err_hint(errno));
mkpin:
	if (mkdir(pin_dir, 0700) < 0 && errno != EEXIST)
		die("mkdir %s: %s%s", pin_dir, strerror(errno), err_hint(errno));
}

static bool pinned(const char *name)
{
	char path[PATH_MAX];

	pin_path(path, sizeof(path), name);
	return access(path, F_OK) == 0;
}

/* The pinned maps of an attached limiter, for the commands after attach. */
static void open_maps(int fds[NR_MAPS])
{
	char path[PATH_MAX];
	int i;

	for (i = 0; i < NR_MAPS; i++) {
		pin_path(path, sizeof(path), map_names[i]);
		fds[i] = bpf_obj_get(path);
		if (fds[i] < 0) {
			if (errno == ENOENT)
				die("not attached: nothing pinned under %s", pin_dir);
			die("%s: %s%s", path, strerror(errno), err_hint(errno));
		}
	}
}

static void close_maps(int fds[NR_MAPS])
{
	int i;

	for (i = 0; i < NR_MAPS; i++)
		close(fds[i]);
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
	}
	if (o->rate >= 0)
		cfg.rate = (__u32)o->rate;
	if (o->burst >= 0)
		cfg.burst = (__u32)o->burst;
	if (cfg.burst < 1)
		cfg.burst = 1;
	rate_to(cfg.rate, cfg.burst, &cfg.interval_ns, &cfg.burst_ns);
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

static void check_not_attached(const char *dev)
{
	static const char *const kinds[] = { "xdp-", "tc-", "tcq-" };
	char name[64];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(kinds); i++) {
		snprintf(name, sizeof(name), "%s%s", kinds[i], dev);
		if (pinned(name))
			die("already attached to %s (cell-ratelimit detach %s first)", dev, dev);
	}
}

static int cmd_attach(const char *dev, const struct options *o)
{
	const char *mode = o->mode ? o->mode : "xdp";
	bool tc = !strcmp(mode, "tc"), fresh;
	struct ratelimit_bpf *skel;
	char path[PATH_MAX], name[64];
	struct bpf_map *maps[NR_MAPS];
	int ifindex, err, i, prog_fd;

	if (strcmp(mode, "xdp") && strcmp(mode, "skb") && !tc)
		die("bad --mode '%s' (xdp, skb or tc)", mode);
	ifindex = (int)if_nametoindex(dev);
	if (!ifindex)
		die("no device '%s' in this network namespace", dev);
	if (geteuid() != 0 && access(BPFFS, W_OK) != 0)
		die("attach %s: " PRIV_HINT, dev);
	ensure_bpffs();
	check_not_attached(dev);
	if (!tc) {
		LIBBPF_OPTS(bpf_xdp_query_opts, q);

		if (bpf_xdp_query(ifindex, 0, &q) == 0 && q.prog_id)
			die("%s already has an XDP program (id %u): not ours, left in place", dev,
			    q.prog_id);
	}

	skel = ratelimit_bpf__open();
	if (!skel)
		die("open BPF object: %s", strerror(errno));
	maps[M_CONFIG] = skel->maps.crl_config;
	maps[M_BUCKETS] = skel->maps.crl_buckets;
	maps[M_RULES] = skel->maps.crl_rules;
	maps[M_PORTS] = skel->maps.crl_ports;
	maps[M_STATS] = skel->maps.crl_stats;
	fresh = !pinned(map_names[M_CONFIG]);
	if (fresh) {
		if (o->max_peers >= 0 &&
		    bpf_map__set_max_entries(skel->maps.crl_buckets, (__u32)o->max_peers))
			die("--max-peers: %s", strerror(errno));
	} else {
		if (o->max_peers >= 0)
			fprintf(stderr,
				"cell-ratelimit: --max-peers ignored: maps exist under %s\n",
				pin_dir);
		for (i = 0; i < NR_MAPS; i++) {
			int fd;

			pin_path(path, sizeof(path), map_names[i]);
			fd = bpf_obj_get(path);
			if (fd < 0 || bpf_map__reuse_fd(maps[i], fd))
				die("reuse %s: %s%s", path, strerror(errno), err_hint(errno));
			close(fd);
		}
	}
	bpf_program__set_autoload(skel->progs.crl_xdp, !tc);
	bpf_program__set_autoload(skel->progs.crl_tc, tc);
	err = ratelimit_bpf__load(skel);
	if (err)
		die("load BPF program: %s%s", strerror(-err), err_hint(err));
	if (fresh) {
		for (i = 0; i < NR_MAPS; i++) {
			pin_path(path, sizeof(path), map_names[i]);
			err = bpf_map__pin(maps[i], path);
			if (err)
				die("pin %s: %s", path, strerror(-err));
		}
	}
	if (fresh || o->rate >= 0 || o->burst >= 0 || o->nports)
		apply_config(bpf_map__fd(skel->maps.crl_config), bpf_map__fd(skel->maps.crl_ports),
			     o, fresh);

	if (!tc) {
		LIBBPF_OPTS(bpf_link_create_opts, lo);
		int link;

		lo.flags = !strcmp(mode, "skb") ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
		prog_fd = bpf_program__fd(skel->progs.crl_xdp);
		link = bpf_link_create(prog_fd, ifindex, BPF_XDP, &lo);
		if (link < 0) {
			err = errno;
			if (err == EBUSY || err == EEXIST)
				die("%s already has an XDP program", dev);
			if (err == EOPNOTSUPP && lo.flags == XDP_FLAGS_DRV_MODE)
				die("%s has no native XDP: use --mode skb", dev);
			die("attach XDP to %s: %s%s", dev, strerror(err), err_hint(err));
		}
		snprintf(name, sizeof(name), "xdp-%s", dev);
		pin_path(path, sizeof(path), name);
		if (bpf_obj_pin(link, path))
			die("pin %s: %s", path, strerror(errno));
		close(link);
	} else {
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
		LIBBPF_OPTS(bpf_tc_opts, to, .handle = TC_HANDLE, .priority = TC_PRIORITY);
		bool created;

		err = bpf_tc_hook_create(&hook);
		if (err && err != -EEXIST)
			die("create clsact on %s: %s%s", dev, strerror(-err), err_hint(err));
		created = !err;
		prog_fd = bpf_program__fd(skel->progs.crl_tc);
		to.prog_fd = prog_fd;
		err = bpf_tc_attach(&hook, &to);
		if (err) {
			if (created) {
				hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
				bpf_tc_hook_destroy(&hook);
			}
			if (err == -EEXIST)
				die("%s already has a TC filter at handle 0x%x priority %d", dev,
				    TC_HANDLE, TC_PRIORITY);
			die("attach TC to %s: %s%s", dev, strerror(-err), err_hint(err));
		}
		snprintf(name, sizeof(name), "%s-%s", created ? "tcq" : "tc", dev);
		pin_path(path, sizeof(path), name);
		if (bpf_obj_pin(prog_fd, path))
			die("pin %s: %s", path, strerror(errno));
	}
	{
		struct crl_config cfg;
		__u32 zero = 0;

		bpf_map_lookup_elem(bpf_map__fd(skel->maps.crl_config), &zero, &cfg);
		printf("attached to %s (%s): rate %u pps, burst %u, peers up to %u%s\n", dev, mode,
		       cfg.rate, cfg.burst, bpf_map__max_entries(skel->maps.crl_buckets),
		       cfg.flags & CRL_F_PORTS ? ", listed ports only" : "");
	}
	ratelimit_bpf__destroy(skel);
	return 0;
}

/* Whether any pin other than the maps is left: an attachment. */
static bool any_attachment(void)
{
	struct dirent *d;
	bool any = false;
	DIR *dir = opendir(pin_dir);
	int i;

	if (!dir)
		return false;
	while (!any && (d = readdir(dir))) {
		bool is_map = false;

		if (d->d_name[0] == '.')
			continue;
		for (i = 0; i < NR_MAPS; i++)
			is_map |= !strcmp(d->d_name, map_names[i]);
		any = !is_map;
	}
	closedir(dir);
	return any;
}

static int cmd_detach(const char *dev)
{
	char path[PATH_MAX], name[64];
	int ifindex = (int)if_nametoindex(dev);
	bool found = false;
	int fd;

	snprintf(name, sizeof(name), "xdp-%s", dev);
	pin_path(path, sizeof(path), name);
	fd = bpf_obj_get(path);
	if (fd >= 0) {
		found = true;
		bpf_link_detach(fd);
		close(fd);
		if (unlink(path))
			die("unlink %s: %s", path, strerror(errno));
	} else if (errno != ENOENT) {
		die("%s: %s%s", path, strerror(errno), err_hint(errno));
	}
	for (int created = 0; created < 2; created++) {
		snprintf(name, sizeof(name), "%s-%s", created ? "tcq" : "tc", dev);
		pin_path(path, sizeof(path), name);
		if (access(path, F_OK))
			continue;
		found = true;
		if (ifindex) {
			LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
				    .attach_point = BPF_TC_INGRESS);
			LIBBPF_OPTS(bpf_tc_opts, to, .handle = TC_HANDLE, .priority = TC_PRIORITY);
			int err = bpf_tc_detach(&hook, &to);

			if (err && err != -ENOENT)
				die("detach TC from %s: %s%s", dev, strerror(-err), err_hint(err));
			if (created) {
				hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
				bpf_tc_hook_destroy(&hook);
			}
		}
		if (unlink(path))
			die("unlink %s: %s", path, strerror(errno));
	}
	if (!found)
		die("not attached to %s (nothing pinned under %s)", dev, pin_dir);
	if (!any_attachment()) {
		for (int i = 0; i < NR_MAPS; i++) {
			pin_path(path, sizeof(path), map_names[i]);
			unlink(path);
		}
		rmdir(pin_dir);
	}
	printf("detached from %s%s\n", dev, ifindex ? "" : " (device gone)");
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

	if (o->rate < 0 && o->burst < 0 && !o->nports && !o->all_ports)
		die("set: nothing to set (--rate, --burst, --port, --all-ports)");
	open_maps(fds);
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
	open_maps(fds);
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

	open_maps(fds);
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
		printf("{\"pin\":\"%s\",\"config\":{\"rate\":%u,\"burst\":%u,\"ports\":[", pin_dir,
		       cfg.rate, cfg.burst);
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
		printf("config: rate %u pps, burst %u, %s\n", cfg.rate, cfg.burst,
		       cfg.flags & CRL_F_PORTS ? "listed ports only" : "all ports");
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
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct options o = { .rate = -1, .burst = -1, .max_peers = -1, .top = 10 };
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
