// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * celld's capabilities (libcap).  Before any module starts, celld works out
 * which capabilities the modules and options it was given need (the table
 * below), keeps those in its effective and permitted sets, and drops every
 * other one from every set: effective, permitted, inheritable, ambient and
 * the bounding set (so no program it runs as root, bwrap or cell-ratelimit,
 * gets one back).  One log line says what was kept and why; the same list
 * goes to STATE_DIR/capabilities for `cell id -j`.  A feature whose
 * capability was dropped (-o caps.deny=...) refuses with a message naming
 * it (celld_caps_need()).  Documentation/capsid.rst, "celld's capabilities".
 *
 * What needs what (checked on Linux 6.x):
 *   capsid.dir or capsid.spawn=1 (sandboxed cells as uid 65534): CAP_SETUID and CAP_SETGID to
 *     become it, CAP_CHOWN to give it its dirs, CAP_KILL to signal its
 *     processes, CAP_DAC_OVERRIDE to reach into its 0700 dirs (its socket,
 *     for the enroll check and probes).  bwrap itself runs unprivileged (a
 *     user namespace): no CAP_SYS_ADMIN.
 *   the discovery BPF filter: CAP_BPF and CAP_PERFMON (the verifier allows
 *     its pointer arithmetic only with it), when
 *     kernel.unprivileged_bpf_disabled is set.
 *   axon.ratelimit (cell-ratelimit attaches XDP/TC programs): CAP_BPF and
 *     CAP_NET_ADMIN to attach, CAP_SYS_ADMIN to detach (it finds its program
 *     by id: BPF_PROG_GET_FD_BY_ID wants it; it covers CAP_PERFMON too).
 *   a port below net.ipv4.ip_unprivileged_port_start (http, axon.port,
 *     cluster addresses, discovery.port): CAP_NET_BIND_SERVICE.
 *   can.ifaces: nothing (CAN_RAW sockets are unprivileged; tools/vm/can.sh
 *     passes with none kept).
 * -o caps.keep=cap_x,... adds capabilities, -o caps.deny=cap_x,... removes
 * them (the feature needing one then refuses).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/capability.h>

#include "celld.h"

#define MAX_CAP 64

struct need {
	uint64_t caps;
	char why[MAX_CAP][48]; /* the feature that wants each cap, "" if none */
};

static uint64_t bit(cap_value_t c)
{
	return 1ull << c;
}

static void want(struct need *n, cap_value_t c, const char *feature)
{
	if (c < 0 || c >= MAX_CAP)
		return;
	if (!(n->caps & bit(c)))
		snprintf(n->why[c], sizeof(n->why[c]), "%s", feature);
	n->caps |= bit(c);
}

static long sysctl_num(const char *path, long def)
{
	char buf[32];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t len;

	if (fd < 0)
		return def;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return def;
	buf[len] = '\0';
	return strtol(buf, NULL, 10);
}

/* Every port in @s ("H:P", "[::1]:P", "ID@H:P=EP,..." or a bare number) below @lim? */
static bool low_port_in(const char *s, long lim)
{
	if (!s)
		return false;
	for (const char *p = s; *p; p++) {
		char *end;
		long port;

		if (*p != ':' && p != s)
			continue;
		port = strtol(*p == ':' ? p + 1 : p, &end, 10);
		if (end != (*p == ':' ? p + 1 : p) && port > 0 && port < lim &&
		    (*end == '\0' || *end == ',' || *end == '=' || *end == ' '))
			return true;
	}
	return false;
}

static void want_ports(const struct celld *d, struct need *n)
{
	long lim = sysctl_num("/proc/sys/net/ipv4/ip_unprivileged_port_start", 1024);
	static const char *const keys[] = { "http", "cluster.address", "cluster.peers",
					    "discovery.port", "discovery.ping_port" };
	const char *axon = celld_option(d, "axon", "off");

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (low_port_in(celld_option(d, keys[i], NULL), lim))
			want(n, CAP_NET_BIND_SERVICE, keys[i]);
	if (strcmp(axon, "off") && atol(celld_option(d, "axon.port", "4433")) < lim)
		want(n, CAP_NET_BIND_SERVICE, "axon.port");
}

static void parse_list(const char *list, struct need *n, bool add, const char *feature)
{
	char buf[512], *save = NULL;

	if (!list)
		return;
	snprintf(buf, sizeof(buf), "%s", list);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		cap_value_t c;

		if (cap_from_name(t, &c) || c >= MAX_CAP) {
			celld_log("caps: %s: %s is not a capability name (cap_net_admin, ...)",
				  feature, t);
			continue;
		}
		if (add)
			want(n, c, feature);
		else
			n->caps &= ~bit(c);
	}
}

/* What the options ask for (the table in the comment at the top). */
static void needs_of(const struct celld *d, struct need *n)
{
	const char *disc = celld_option(d, "discovery", "auto");

	if (celld_option(d, "capsid.dir", NULL) || /* and cells of `cell spawn` (supervisor.c) */
	    !strcmp(celld_option(d, "capsid.spawn", "0"), "1")) {
		static const cap_value_t capsid[] = { CAP_SETUID, CAP_SETGID, CAP_CHOWN, CAP_KILL,
						      CAP_DAC_OVERRIDE };

		for (size_t i = 0; i < sizeof(capsid) / sizeof(capsid[0]); i++)
			want(n, capsid[i], "capsid");
	}
	if (strcmp(disc, "off") && strcmp(celld_option(d, "discovery.bpf", "on"), "off") &&
	    sysctl_num("/proc/sys/kernel/unprivileged_bpf_disabled", 1) != 0) {
		/* CAP_PERFMON too: the verifier refuses its packet-pointer arithmetic without. */
		want(n, CAP_BPF, "discovery BPF filter");
		want(n, CAP_PERFMON, "discovery BPF filter");
	}
	if (celld_option(d, "axon.ratelimit", NULL)) {
		want(n, CAP_BPF, "axon.ratelimit");
		want(n, CAP_NET_ADMIN, "axon.ratelimit");
		want(n, CAP_SYS_ADMIN, "axon.ratelimit");
	}
	want_ports(d, n);
	parse_list(celld_option(d, "caps.keep", NULL), n, true, "caps.keep");
	parse_list(celld_option(d, "caps.deny", NULL), n, false, "caps.deny");
}

/* "cap_a (why), cap_b (why)" of @caps into @buf; "none" if empty. */
static void describe(const struct need *n, uint64_t caps, char *buf, size_t cap, bool reasons)
{
	size_t len = 0;

	buf[0] = '\0';
	for (cap_value_t c = 0; c < MAX_CAP && len < cap; c++) {
		char *name;

		if (!(caps & bit(c)))
			continue;
		name = cap_to_name(c);
		len += (size_t)snprintf(buf + len, cap - len, "%s%s%s%s%s",
					len ? (reasons ? ", " : ",") : "", name ? name : "?",
					reasons ? " (" : "", reasons ? n->why[c] : "",
					reasons ? ")" : "");
		cap_free(name);
	}
	if (!buf[0])
		snprintf(buf, cap, "none");
}

static void write_state(const struct celld *d, const struct need *n, uint64_t kept)
{
	char path[4200], list[1024];
	FILE *f;

	describe(n, kept, list, sizeof(list), false);
	snprintf(path, sizeof(path), "%s/capabilities", d->cfg.state_dir);
	f = fopen(path, "we");
	if (!f)
		return;
	fprintf(f, "pid %d\nkept %s\n", (int)getpid(), list);
	if (fclose(f))
		celld_log("caps: %s: %s", path, strerror(errno));
}

/* Apply: bounding set first (that needs CAP_SETPCAP), then ambient, then the rest. */
static int apply(uint64_t kept, bool *bounded)
{
	cap_t now = cap_get_proc(), next = cap_init();
	cap_flag_value_t setpcap = CAP_CLEAR, have;
	int rc = 0;

	if (!now || !next) {
		rc = -errno;
		goto out;
	}
	(void)cap_get_flag(now, CAP_SETPCAP, CAP_EFFECTIVE, &setpcap);
	*bounded = setpcap == CAP_SET;
	for (cap_value_t c = 0; *bounded && c <= CAP_LAST_CAP && c < MAX_CAP; c++)
		if (!(kept & bit(c)) && CAP_IS_SUPPORTED(c) && cap_drop_bound(c)) {
			rc = -errno;
			goto out;
		}
	if (CAP_AMBIENT_SUPPORTED() && cap_reset_ambient()) {
		rc = -errno;
		goto out;
	}
	for (cap_value_t c = 0; c < MAX_CAP; c++) {
		if (!(kept & bit(c)) || cap_get_flag(now, c, CAP_PERMITTED, &have) ||
		    have != CAP_SET)
			continue;
		if (cap_set_flag(next, CAP_PERMITTED, 1, &c, CAP_SET) ||
		    cap_set_flag(next, CAP_EFFECTIVE, 1, &c, CAP_SET)) {
			rc = -errno;
			goto out;
		}
	}
	if (cap_set_proc(next))
		rc = -errno;
out:
	cap_free(now);
	cap_free(next);
	return rc;
}

int celld_caps_drop(struct celld *d)
{
	struct need n = { 0 };
	char kept[1024];
	bool bounded = false;
	int rc;

	needs_of(d, &n);
	rc = apply(n.caps, &bounded);
	if (rc) {
		celld_log("caps: dropping capabilities failed: %s", strerror(-rc));
		return rc;
	}
	describe(&n, n.caps, kept, sizeof(kept), true);
	if (geteuid() != 0 && !bounded)
		celld_log("capabilities: kept none (not root; wanted: %s)", kept);
	else
		celld_log("capabilities: kept %s; every other one dropped from the effective, "
			  "permitted, inheritable, ambient and bounding sets",
			  kept);
	write_state(d, &n, geteuid() == 0 || bounded ? n.caps : 0);
	return 0;
}

bool celld_caps_have(int c)
{
	cap_t now = cap_get_proc();
	cap_flag_value_t v = CAP_CLEAR;

	if (now)
		(void)cap_get_flag(now, (cap_value_t)c, CAP_EFFECTIVE, &v);
	cap_free(now);
	return v == CAP_SET;
}

int celld_caps_need(const char *feature, const int *caps, size_t ncaps, char *why, size_t cap)
{
	size_t len = 0;

	if (geteuid() != 0)
		return 0; /* unprivileged: the feature works without, or fails on its own */
	for (size_t i = 0; i < ncaps; i++) {
		char *name;

		if (celld_caps_have(caps[i]))
			continue;
		name = cap_to_name((cap_value_t)caps[i]);
		if (!len)
			len = (size_t)snprintf(why, cap, "%s needs", feature);
		if (len < cap)
			len += (size_t)snprintf(why + len, cap - len, " %s", name ? name : "?");
		cap_free(name);
	}
	if (!len)
		return 0;
	if (len < cap)
		snprintf(why + len, cap - len,
			 ", which celld does not keep (dropped at start: -o caps.deny, or "
			 "the module was not configured)");
	return -EPERM;
}
