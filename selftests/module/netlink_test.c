// SPDX-License-Identifier: GPL-2.0-only
/*
 * cell.ko's generic netlink family: the dump lists exactly the live rings
 * with their attributes, others' rings show no details, and the "events"
 * group reports creation, peer death and destruction.  Plain netlink
 * sockets (the test is static; userspace/cell uses libnl-genl).
 */
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>

#include "cell_module.h"
#include "kselftest_harness.h"

#define SZ (16 * 1024UL)

struct ring_msg {
	uint8_t cmd;
	bool has[CELL_ATTR_MAX + 1];
	uint64_t v[CELL_ATTR_MAX + 1];
};

static int nl_socket(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	return fd;
}

static int nl_send(int fd, uint16_t type, uint16_t flags, uint8_t cmd, const void *attrs,
		   size_t alen)
{
	struct {
		struct nlmsghdr n;
		struct genlmsghdr g;
		uint8_t a[256];
	} req = { 0 };

	req.n.nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN + alen);
	req.n.nlmsg_type = type;
	req.n.nlmsg_flags = NLM_F_REQUEST | flags;
	req.n.nlmsg_seq = 1;
	req.g.cmd = cmd;
	req.g.version = 1;
	memcpy(req.a, attrs, alen);
	return send(fd, &req, req.n.nlmsg_len, 0) < 0 ? -errno : 0;
}

/* Family id and the events group id of "cell". */
static int resolve(int fd, uint16_t *family, uint32_t *group)
{
	uint8_t attrs[64] = { 0 }, buf[8192];
	struct nlattr *na = (struct nlattr *)attrs;
	struct nlmsghdr *n;
	ssize_t len;

	na->nla_type = CTRL_ATTR_FAMILY_NAME;
	na->nla_len = NLA_HDRLEN + sizeof(CELL_GENL_NAME);
	memcpy(attrs + NLA_HDRLEN, CELL_GENL_NAME, sizeof(CELL_GENL_NAME));
	if (nl_send(fd, GENL_ID_CTRL, 0, CTRL_CMD_GETFAMILY, attrs, NLA_ALIGN(na->nla_len)))
		return -1;
	len = recv(fd, buf, sizeof(buf), 0);
	n = (struct nlmsghdr *)buf;
	if (len <= 0 || !NLMSG_OK(n, len) || n->nlmsg_type == NLMSG_ERROR)
		return -1;
	*family = 0;
	*group = 0;
	{
		uint8_t *p = (uint8_t *)NLMSG_DATA(n) + GENL_HDRLEN;
		uint8_t *end = (uint8_t *)n + n->nlmsg_len;

		while (p + NLA_HDRLEN <= end) {
			struct nlattr *a = (struct nlattr *)p;

			if (a->nla_len < NLA_HDRLEN)
				break;
			if (a->nla_type == CTRL_ATTR_FAMILY_ID)
				*family = *(uint16_t *)(p + NLA_HDRLEN);
			if ((a->nla_type & NLA_TYPE_MASK) == CTRL_ATTR_MCAST_GROUPS) {
				uint8_t *g = p + NLA_HDRLEN, *gend = p + a->nla_len;

				while (g + NLA_HDRLEN <= gend) {
					struct nlattr *ga = (struct nlattr *)g;
					uint8_t *q = g + NLA_HDRLEN, *qend = g + ga->nla_len;
					uint32_t id = 0;
					bool events = false;

					if (ga->nla_len < NLA_HDRLEN)
						break;
					while (q + NLA_HDRLEN <= qend) {
						struct nlattr *qa = (struct nlattr *)q;

						if (qa->nla_len < NLA_HDRLEN)
							break;
						if (qa->nla_type == CTRL_ATTR_MCAST_GRP_ID)
							id = *(uint32_t *)(q + NLA_HDRLEN);
						if (qa->nla_type == CTRL_ATTR_MCAST_GRP_NAME &&
						    !strcmp((char *)q + NLA_HDRLEN,
							    CELL_GENL_MCGRP_EVENTS))
							events = true;
						q += NLA_ALIGN(qa->nla_len);
					}
					if (events)
						*group = id;
					g += NLA_ALIGN(ga->nla_len);
				}
			}
			p += NLA_ALIGN(a->nla_len);
		}
	}
	return *family && *group ? 0 : -1;
}

static void parse_ring(struct nlmsghdr *n, struct ring_msg *m)
{
	struct genlmsghdr *g = NLMSG_DATA(n);
	uint8_t *p = (uint8_t *)g + GENL_HDRLEN, *end = (uint8_t *)n + n->nlmsg_len;

	memset(m, 0, sizeof(*m));
	m->cmd = g->cmd;
	while (p + NLA_HDRLEN <= end) {
		struct nlattr *a = (struct nlattr *)p;
		int t = a->nla_type & NLA_TYPE_MASK;

		if (a->nla_len < NLA_HDRLEN)
			break;
		if (t > 0 && t <= CELL_ATTR_MAX) {
			m->has[t] = true;
			if (a->nla_len - NLA_HDRLEN == 8)
				memcpy(&m->v[t], p + NLA_HDRLEN, 8);
			else if (a->nla_len - NLA_HDRLEN == 4)
				m->v[t] = *(uint32_t *)(p + NLA_HDRLEN);
		}
		p += NLA_ALIGN(a->nla_len);
	}
}

/* Dump every ring into @out (at most @max); returns the count or -1. */
static int dump(uint16_t family, struct ring_msg *out, int max)
{
	uint8_t buf[32768];
	int fd = nl_socket(), count = 0;

	if (fd < 0 || nl_send(fd, family, NLM_F_DUMP, CELL_CMD_RING_GET, NULL, 0))
		return -1;
	for (;;) {
		ssize_t len = recv(fd, buf, sizeof(buf), 0);
		struct nlmsghdr *n = (struct nlmsghdr *)buf;

		if (len <= 0)
			break;
		for (; NLMSG_OK(n, len); n = NLMSG_NEXT(n, len)) {
			if (n->nlmsg_type == NLMSG_DONE) {
				close(fd);
				return count;
			}
			if (n->nlmsg_type == NLMSG_ERROR)
				goto fail;
			if (count < max)
				parse_ring(n, &out[count]);
			count++;
		}
	}
fail:
	close(fd);
	return -1;
}

/* Next event on @fd within @ms, or -1. */
static int next_event(int fd, struct ring_msg *m, int ms)
{
	uint8_t buf[8192];
	struct pollfd pf = { .fd = fd, .events = POLLIN };
	struct nlmsghdr *n = (struct nlmsghdr *)buf;
	ssize_t len;

	if (poll(&pf, 1, ms) != 1)
		return -1;
	len = recv(fd, buf, sizeof(buf), 0);
	if (len <= 0 || !NLMSG_OK(n, len))
		return -1;
	parse_ring(n, m);
	return 0;
}

static const struct ring_msg *find(const struct ring_msg *m, int n, uint64_t id)
{
	int i;

	for (i = 0; i < n; i++)
		if (m[i].v[CELL_ATTR_RING_ID] == id)
			return &m[i];
	return NULL;
}

FIXTURE(nl)
{
	int dev;
	uint16_t family;
	uint32_t group;
};

FIXTURE_SETUP(nl)
{
	int fd;

	self->dev = cell_dev();
	if (self->dev < 0)
		SKIP(return, "no " DEV_CELL ": %s", strerror(-self->dev));
	fd = nl_socket();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, resolve(fd, &self->family, &self->group));
	close(fd);
}

FIXTURE_TEARDOWN(nl)
{
	if (self->dev >= 0)
		close(self->dev);
}

TEST_F(nl, dump_lists_exactly_the_live_rings)
{
	struct ring_msg m[16];
	const struct ring_msg *r;
	uint64_t id[3];
	int p[3], c, n, i;

	n = dump(self->family, m, 16);
	ASSERT_EQ(0, n) TH_LOG("rings left over from earlier tests");
	for (i = 0; i < 3; i++) {
		p[i] = ring_create(self->dev, SZ << i, &id[i]);
		ASSERT_LE(0, p[i]);
	}
	c = ring_open(p[1]);
	ASSERT_LE(0, c);
	{
		struct cell_ring_producer *pp = ring_map(p[1], PG, PG, PROT_READ | PROT_WRITE);

		ASSERT_NE(NULL, pp);
		pp->position = 80;
		munmap(pp, PG);
	}
	n = dump(self->family, m, 16);
	ASSERT_EQ(3, n);
	for (i = 0; i < 3; i++) {
		r = find(m, n, id[i]);
		ASSERT_NE(NULL, r);
		EXPECT_EQ(CELL_CMD_RING_GET, r->cmd);
		EXPECT_EQ(SZ << i, r->v[CELL_ATTR_DATA_SIZE]);
		EXPECT_EQ((uint64_t)getpid(), r->v[CELL_ATTR_PRODUCER_PID]);
		EXPECT_TRUE(r->has[CELL_ATTR_PRODUCER_UID]);
		EXPECT_EQ(0, r->v[CELL_ATTR_PRODUCER_UID]);
		EXPECT_EQ(1, r->v[CELL_ATTR_PRODUCER_OPEN]);
		EXPECT_TRUE(r->has[CELL_ATTR_CREATED_NS]);
		EXPECT_TRUE(r->has[CELL_ATTR_HEAD]);
		EXPECT_TRUE(r->has[CELL_ATTR_WAITS]);
		EXPECT_TRUE(r->has[CELL_ATTR_WAKEUPS]);
	}
	r = find(m, n, id[1]);
	EXPECT_EQ(1, r->v[CELL_ATTR_CONSUMER_OPEN]);
	EXPECT_EQ((uint64_t)getpid(), r->v[CELL_ATTR_CONSUMER_PID]);
	EXPECT_EQ(80, r->v[CELL_ATTR_TAIL]);
	EXPECT_EQ(0, r->v[CELL_ATTR_HEAD]);
	r = find(m, n, id[0]);
	EXPECT_FALSE(r->has[CELL_ATTR_CONSUMER_PID]);
	EXPECT_EQ(0, r->v[CELL_ATTR_CONSUMER_OPEN]);

	/* Waits and wakeups are counted. */
	EXPECT_EQ(-ETIMEDOUT, ring_wait(c, CELL_WORD_PRODUCER, 0, 1000, 0));
	n = dump(self->family, m, 16);
	r = find(m, n, id[1]);
	ASSERT_NE(NULL, r);
	EXPECT_EQ(1, r->v[CELL_ATTR_WAITS]);

	close(p[0]);
	n = dump(self->family, m, 16);
	EXPECT_EQ(2, n);
	EXPECT_EQ(NULL, find(m, n, id[0]));
	close(p[1]); /* the consumer keeps ring 1 */
	n = dump(self->family, m, 16);
	EXPECT_EQ(2, n);
	r = find(m, n, id[1]);
	ASSERT_NE(NULL, r);
	EXPECT_EQ(0, r->v[CELL_ATTR_PRODUCER_OPEN]);
	close(c);
	close(p[2]);
	EXPECT_EQ(0, dump(self->family, m, 16));
}

TEST_F(nl, others_see_no_details)
{
	int p = ring_create(self->dev, SZ, NULL), status;
	pid_t pid;

	ASSERT_LE(0, p);
	pid = fork();
	if (pid == 0) {
		struct ring_msg m[4];
		int n;

		if (setuid(65534))
			_exit(10);
		n = dump(self->family, m, 4);
		if (n != 1)
			_exit(11);
		if (!m[0].has[CELL_ATTR_RING_ID] || !m[0].has[CELL_ATTR_DATA_SIZE])
			_exit(12);
		if (m[0].has[CELL_ATTR_PRODUCER_PID] || m[0].has[CELL_ATTR_PRODUCER_UID] ||
		    m[0].has[CELL_ATTR_TAIL] || m[0].has[CELL_ATTR_WAITS])
			_exit(13);
		/* Its own ring it sees in full. */
		{
			int mine = ring_create(self->dev, SZ, NULL);

			n = dump(self->family, m, 4);
			if (mine < 0 || n != 2 || !m[1].has[CELL_ATTR_PRODUCER_PID])
				_exit(14);
		}
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	close(p);
}

TEST_F(nl, events)
{
	int fd = nl_socket(), p, c;
	struct ring_msg m;
	uint64_t id;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &self->group,
				sizeof(self->group)));
	p = ring_create(self->dev, SZ, &id);
	ASSERT_LE(0, p);
	ASSERT_EQ(0, next_event(fd, &m, 5000));
	EXPECT_EQ(CELL_CMD_RING_CREATED, m.cmd);
	EXPECT_EQ(id, m.v[CELL_ATTR_RING_ID]);
	EXPECT_EQ(SZ, m.v[CELL_ATTR_DATA_SIZE]);
	EXPECT_FALSE(m.has[CELL_ATTR_PRODUCER_PID]); /* details only in dumps */

	c = ring_open(p);
	ASSERT_LE(0, c);
	close(c);
	ASSERT_EQ(0, next_event(fd, &m, 5000));
	EXPECT_EQ(CELL_CMD_RING_PEER_DEAD, m.cmd);
	EXPECT_EQ(id, m.v[CELL_ATTR_RING_ID]);
	EXPECT_EQ(0, m.v[CELL_ATTR_CONSUMER_OPEN]);
	EXPECT_EQ(1, m.v[CELL_ATTR_PRODUCER_OPEN]);

	close(p);
	ASSERT_EQ(0, next_event(fd, &m, 5000));
	EXPECT_EQ(CELL_CMD_RING_DESTROYED, m.cmd);
	EXPECT_EQ(id, m.v[CELL_ATTR_RING_ID]);
	EXPECT_EQ(-1, next_event(fd, &m, 200));
	close(fd);
}

TEST_HARNESS_MAIN
