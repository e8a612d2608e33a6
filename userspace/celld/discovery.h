/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/*
 * Pheromone discovery (Documentation/discovery.rst): every node announces
 * its cells in struct cell_pheromone datagrams (<linux/cell.h>) over UDP
 * multicast, signed with its node key (identity.h); receivers check the
 * bytes (cell_pheromone_check's code), verify the signature, drop replays
 * (sequence per node), keep the cells until their TTL runs out.  Peers are
 * the keys of a known-peers file, or learnt on first use (TOFU).  Memory
 * is bounded: max_peers nodes of max_cells cells each; what does not fit
 * is refused and counted.  Vivaldi coordinates (vivaldi.h) come from
 * celld-to-celld UDP pings on a second port.
 *
 * The core here needs no celld: it runs on a uv loop and reports cells
 * through callbacks (the celld module, discovery_mod.c, puts them in the
 * registry).  celld_discovery_input() is the receiver of one datagram,
 * callable without sockets (unit test, fuzz target).
 */
#ifndef CELLD_DISCOVERY_H
#define CELLD_DISCOVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include <uv.h>

#include <linux/cell.h>
#include <cell/pheromone.h>

#include "identity.h"
#include "vivaldi.h"

enum celld_trust {
	CELLD_TRUST_KNOWN = 0, /* only the keys of the peers file */
	CELLD_TRUST_TOFU = 1,  /* the file's keys, and any new key (appended to it) */
};

struct celld_discovery_config {
	uint16_t port;		/* pheromones; default CELL_PHEROMONE_PORT */
	uint16_t ping_port;	/* Vivaldi pings; default port + 1; 0 no pings */
	char group4[64];	/* "" = off; default 239.255.70.77 */
	char group6[64];	/* "" = off; default ff02::7946 */
	char iface4[64];	/* local IPv4 address for IP_MULTICAST_IF, "" any */
	char iface6[32];	/* interface name for IPv6, "" default */
	unsigned interval_ms;	/* between announcements (default 2000) */
	unsigned ttl_s;		/* announced TTL (default 10) */
	unsigned ping_ms;	/* between pings (default 1000) */
	unsigned ping_rate;	/* ping datagrams per second per source address (default
				* 100, burst the same; 0 no limit) */
	unsigned ping_window_s; /* a ping's timestamp within this of our clock (default
				 * 60; 0 no timestamp check, the per-node floor stays) */
	unsigned max_peers;	/* nodes kept (default 64) */
	unsigned max_cells;	/* cells kept per node (default 64) */
	unsigned max_announce;	/* local cells announced per interval (default 256) */
	int trust;		/* enum celld_trust */
	char peers_file[1024];	/* "" none */
	char relay[64];		/* test hook: IPv4:PORT all IPv4 pings go through */
	char stats_file[1024];	/* "" none: counters and RTTs written every interval */
	bool no_bpf;		/* do not attach the BPF filter */
};

/* Defaults for every field. */
void celld_discovery_config_init(struct celld_discovery_config *cfg);

/* Why a datagram was dropped (after the verdicts of cell_pheromone_check). */
enum celld_drop {
	CELLD_DROP_CHECK = 0,	  /* malformed: see check[] for the verdict */
	CELLD_DROP_SELF,	  /* our own datagram looped back (not an error) */
	CELLD_DROP_UNKNOWN_KEY,	  /* key not in the known-peers file */
	CELLD_DROP_BAD_SIGNATURE, /* Ed25519 signature does not verify */
	CELLD_DROP_REPLAY,	  /* sequence not above the last one of that node */
	CELLD_DROP_PEERS_FULL,	  /* max_peers reached */
	CELLD_DROP_CELLS_FULL,	  /* max_cells of that node reached */
	CELLD_DROP_BAD_VIVALDI,	  /* coordinate out of range */
	CELLD_DROP_NAME_TOO_LONG, /* 32-byte name (the registry keeps 31) */
	CELLD_NR_DROPS,
};

/* Why a datagram of the ping port was dropped (each also counts in pings_bad). */
enum celld_ping_drop {
	CELLD_PING_MALFORMED = 0, /* length, magic, type, reserved bytes, address family */
	CELLD_PING_UNKNOWN_PEER,  /* key of no node whose pheromones we accepted */
	CELLD_PING_BAD_SIGNATURE, /* Ed25519 signature by that key does not verify */
	CELLD_PING_BAD_VIVALDI,	  /* coordinate out of range */
	CELLD_PING_STALE,	  /* a pong whose nonce is not the outstanding ping's */
	CELLD_PING_REPLAY,	  /* a ping whose stamp is not above the last one of that node */
	CELLD_PING_CLOCK_SKEW,	  /* a ping whose stamp is outside ping_window_s of our clock */
	CELLD_PING_RATE_LIMITED,  /* over ping_rate for its source (before any signature work) */
	CELLD_NR_PING_DROPS,
};

/*
 * A ping or pong (Documentation/discovery.rst): 144 bytes, little-endian.
 * 0 magic "CELV", 4 type (1 ping, 2 pong), 5..7 zero in a ping, in a pong
 * how long its sender held the ping (us, u24, saturating), 8 nonce (a ping's:
 * ms since 2025-01-01 UTC << 12 | counter, rising per sender; a pong
 * echoes it), 16 Vivaldi
 * coordinate (4 x i32 as in the pheromone), 32 error x 1e6, 36 sender key,
 * 68 relay fields (test hook, not signed), 80 Ed25519 signature of bytes
 * 0..67 by the sender key.
 */
#define CELLD_PING_SIZE 144

struct celld_discovery_counters {
	uint64_t received; /* datagrams read */
	uint64_t accepted; /* passed every check */
	uint64_t sent;	   /* datagrams sent */
	uint64_t send_errors;
	uint64_t check[CELL_PHEROMONE_NR_VERDICTS]; /* by cell_pheromone_check verdict */
	uint64_t drop[CELLD_NR_DROPS];
	uint64_t expired; /* cells removed by TTL */
	uint64_t pings_sent, pongs_received, pings_bad;
	uint64_t pings_answered;		 /* pongs sent */
	uint64_t ping_drop[CELLD_NR_PING_DROPS]; /* pings_bad by reason */
	uint64_t bpf_drops;			 /* dropped in the kernel by the BPF filter (sum) */
	/* ping port datagrams: time from the kernel's receive stamp to our read */
	uint64_t ping_rx_wait_us, ping_rx_wait_max_us;
	uint64_t pong_hold_us; /* what peers said they held our pings (taken off samples) */
	bool bpf;	       /* BPF filter attached */
	uint32_t peers, cells; /* now */
};

/* A cell another node announces. */
struct celld_remote_cell {
	char name[CELL_NAME_MAX];  /* NUL-terminated (<= 31 bytes) */
	char node[CELLD_NODE_HEX]; /* hex of the node's key */
	uint64_t fingerprint;
	uint8_t flags; /* CELL_PHEROMONE_F_LEADER */
	uint8_t nendpoints;
	struct cell_endpoint endpoints[CELL_PHEROMONE_ENDPOINTS]; /* as received (LE port) */
	char from[64];						  /* address it came from */
	uint32_t rtt_us;					  /* Vivaldi estimate, 0 unknown */
};

struct celld_discovery;

struct celld_discovery_ops {
	/* A remote cell appeared or changed; then it vanished (TTL, withdraw). */
	void (*added)(void *ctx, const struct celld_remote_cell *c);
	void (*removed)(void *ctx, const struct celld_remote_cell *c);
	/* Time to announce: call celld_discovery_announce() for each local cell. */
	void (*local)(void *ctx, struct celld_discovery *disc);
};

struct celld_discovery;

/*
 * celld_discovery_new() - the state, no sockets yet (reads the peers file).
 * @id must outlive it.  NULL with a message in @err.
 */
struct celld_discovery *celld_discovery_new(uv_loop_t *loop, const struct celld_identity *id,
					    const struct celld_discovery_config *cfg,
					    const struct celld_discovery_ops *ops, void *ctx,
					    char *err, size_t cap);

/* celld_discovery_open() - sockets, BPF filter, timers.  0 or -errno (@err). */
int celld_discovery_open(struct celld_discovery *disc, char *err, size_t cap);

/*
 * celld_discovery_input() - one received datagram from @from (may be
 * NULL) at @now_ms (CLOCK_MONOTONIC): counted, and accepted or dropped.
 * Return: 0 accepted, or the enum celld_drop + 1 (CHECK for malformed).
 */
int celld_discovery_input(struct celld_discovery *disc, const void *buf, size_t len,
			  const struct sockaddr *from, uint64_t now_ms);

/*
 * celld_discovery_ping_input() - one datagram of the ping port
 * (CELLD_PING_SIZE bytes, signed by a known peer: a ping is answered with
 * a pong, a pong with the nonce outstanding is an RTT sample); others are
 * counted in pings_bad and ping_drop[].  Return: 0, or the enum
 * celld_ping_drop + 1.
 */
int celld_discovery_ping_input(struct celld_discovery *disc, const void *buf, size_t len,
			       const struct sockaddr *from);
/*
 * celld_discovery_ping_input_at() - the same for a datagram that arrived at
 * @rx_ns (uv_hrtime() clock; the loop passes the kernel's receive stamp):
 * a pong's RTT sample ends there, not when the loop got to it.
 */
int celld_discovery_ping_input_at(struct celld_discovery *disc, const void *buf, size_t len,
				  const struct sockaddr *from, uint64_t rx_ns);

/*
 * Test hook: pings and pongs go to @fn instead of the sockets (unit test,
 * fuzz target).  celld_discovery_ping_peer() pings the peer of key @pk now
 * (to @to, or to the address its pheromones came from): 0, or -ENOENT.
 */
typedef void (*celld_discovery_tx_fn)(void *ctx, const void *buf, size_t len,
				      const struct sockaddr *to);
void celld_discovery_set_tx_hook(struct celld_discovery *disc, celld_discovery_tx_fn fn, void *ctx);
int celld_discovery_ping_peer(struct celld_discovery *disc, const uint8_t pk[CELLD_PUBKEY_BYTES]);

/*
 * Test hook: the clock of the ping stamps, the replay window and the rate
 * limit (ns; both CLOCK_REALTIME and CLOCK_MONOTONIC are replaced by it).
 * NULL restores the real clocks.
 */
typedef uint64_t (*celld_discovery_clock_fn)(void *ctx);
void celld_discovery_set_clock(struct celld_discovery *disc, celld_discovery_clock_fn fn,
			       void *ctx);

/* celld_discovery_expire() - remove cells whose TTL has run out by @now_ms. */
void celld_discovery_expire(struct celld_discovery *disc, uint64_t now_ms);

/*
 * celld_discovery_build() - the signed datagram announcing (@name,
 * @fingerprint) with the next sequence.  0 or -EINVAL (bad name).
 */
int celld_discovery_build(struct celld_discovery *disc, const char *name, uint64_t fingerprint,
			  uint8_t flags, struct cell_pheromone *out);

/* From ops->local: announce one local cell now (on every open family). */
void celld_discovery_announce(struct celld_discovery *disc, const char *name, uint64_t fingerprint);
/* Announce a withdrawal of a local cell; announce soon (registry changed). */
/*
 * celld_discovery_set_endpoints() - @fn fills up to @max endpoints of the
 * local cell @name in each announcement (axon.c: its QUIC endpoint) and
 * returns how many; an IPv4 address 0.0.0.0 means "the address this
 * datagram comes from".  NULL: announcements carry none.
 */
typedef unsigned (*celld_discovery_endpoints_fn)(void *ctx, const char *name, uint64_t fingerprint,
						 struct cell_endpoint *eps, unsigned max);
void celld_discovery_set_endpoints(struct celld_discovery *disc, celld_discovery_endpoints_fn fn,
				   void *ctx);
void celld_discovery_withdraw(struct celld_discovery *disc, const char *name, uint64_t fingerprint);
void celld_discovery_kick(struct celld_discovery *disc);

void celld_discovery_foreach(struct celld_discovery *disc,
			     void (*fn)(const struct celld_remote_cell *c, void *ctx), void *ctx);
void celld_discovery_get_counters(struct celld_discovery *disc,
				  struct celld_discovery_counters *out);
const char *celld_drop_name(int drop);
const char *celld_ping_drop_name(int drop);

/*
 * celld_discovery_foreach_counter() - every counter as (name, value), the
 * names of the stats file ("received", "drop_replay", "check_bad_length",
 * "ping_bad_signature", ...); the nucleus method and `cell peers` use it.
 */
void celld_discovery_foreach_counter(struct celld_discovery *disc,
				     void (*fn)(const char *name, uint64_t value, void *ctx),
				     void *ctx);

/*
 * celld_discovery_prometheus() - the counters, gauges and per-peer RTTs
 * as Prometheus text exposition (0.0.4) families celld_discovery_* on @f
 * (celld's /metrics, http.c).
 */
void celld_discovery_prometheus(struct celld_discovery *disc, FILE *f);

/* Per remote node: estimated (Vivaldi) and measured (median of pings) RTT. */
struct celld_peer_rtt {
	char node[CELLD_NODE_HEX];
	char from[64];
	uint32_t est_us, measured_us, samples;
	uint32_t min_us; /* the smallest of the last 16 samples */
};
void celld_discovery_foreach_peer(struct celld_discovery *disc,
				  void (*fn)(const struct celld_peer_rtt *p, void *ctx), void *ctx);
/* This node's coordinate. */
const struct vivaldi_coord *celld_discovery_coord(const struct celld_discovery *disc);

/* Write counters and per-peer RTTs to @path (atomically). 0 or -errno. */
int celld_discovery_write_stats(struct celld_discovery *disc, const char *path);

/* Close the sockets and timers; the state is freed once the handles closed. */
void celld_discovery_close(struct celld_discovery *disc);
/* Free a discovery that was never opened. */
void celld_discovery_free(struct celld_discovery *disc);

#endif /* CELLD_DISCOVERY_H */
