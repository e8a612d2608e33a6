/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * Axons: RPC between machines over QUIC (ngtcp2 + GnuTLS), behind the
 * client and server API of cell/rpc.h.  Documentation/axon.rst.
 *
 * A client reaches a remote server with an explicit target:
 * cell_client_connect("quic://host:port", &opts) (IPv6: quic://[::1]:port);
 * cell_client_path() then says "quic".  A server also listens on a UDP
 * address with cell_server_listen_quic(); its QUIC connections are served by
 * the same cell_server_run() / cell_server_dispatch() loop (no thread of
 * their own).  Each call travels on its own bidirectional stream: the same
 * 20-byte header and payload as on the local paths, then FIN; the response
 * likewise.  Cancelling a call resets its stream (RESET_STREAM and
 * STOP_SENDING).
 *
 * Both sides prove an Ed25519 identity (the node key celld makes) in the
 * TLS 1.3 handshake: each presents a self-signed X.509 certificate made at
 * start from its identity key, and the other pins the key, not the
 * certificate.  Unknown keys are refused with PERMISSION_DENIED (and a log
 * line naming the key, cell/log.h) unless trust-on-first-use is on.
 */
#ifndef CELL_QUIC_H
#define CELL_QUIC_H

#include <stddef.h>
#include <stdint.h>
#include <cell/api.h>

#ifdef __cplusplus
extern "C" {
#endif

struct cell_server;

/* Bytes of an Ed25519 public key, and of a libsodium secret key (seed + public key). */
#define CELL_QUIC_PUBKEY_BYTES 32
#define CELL_QUIC_SECKEY_BYTES 64

struct cell_quic_opts {
	size_t sz; /* sizeof(struct cell_quic_opts) */
	/*
	 * This side's identity: a libsodium Ed25519 secret key (seed, then
	 * public key), or NULL to read @identity_file, or if that is NULL
	 * too, celld's node.key in $CELL_STATE_DIR, $XDG_STATE_HOME/cell,
	 * ~/.local/state/cell or (root) /var/lib/cell.  A file must be 64
	 * bytes, mode 0600 and ours.  With no key file anywhere a fresh key
	 * is made for this process (logged: peers can then only TOFU it).
	 */
	const uint8_t *identity;
	const char *identity_file;
	/*
	 * Known peers (the format of celld's discovery: one 64-hex-digit key
	 * per line, then optional words; '#' starts a comment).  NULL:
	 * $CELL_KNOWN_PEERS if set, else none.  With a file, only its keys
	 * are accepted unless @tofu; without one, every key is (TOFU).
	 */
	const char *known_peers;
	/* Non-zero: accept an unknown key and append "KEY tofu ADDRESS" to the file. */
	int tofu;
	/* Connection flow-control window, bytes; 0: 16 MiB.  At least the largest message. */
	uint64_t max_data;
	/* Stream flow-control window, bytes; 0: max_data. */
	uint64_t max_stream_data;
	/* Idle timeout (peer death is noticed after it), ms; 0: 10000.  Keep-alives at a third. */
	uint32_t idle_timeout_ms;
	/*
	 * Client: non-zero makes a call past max_inflight wait for a free slot
	 * (until its deadline) instead of failing with RESOURCE_EXHAUSTED.
	 */
	int block_when_full;
	/* Server: QUIC connections at once; more are refused.  0: 256. */
	uint32_t max_connections;
};

/**
 * cell_server_listen_quic() - also serve @srv's calls on UDP @addr
 * ("host:port", "[v6]:port"; port 0 picks one, see cell_server_quic_port()).
 * Call before cell_server_run() / the first cell_server_dispatch().
 * @opts: may be NULL (defaults).
 * Return: 0, or a negative errno (-EINVAL bad address or opts, -EBUSY
 * already listening, -ENOTSUP libcell built without QUIC, -EACCES bad key
 * file, the socket's errno); cell_last_error() says more.
 */
LIBCELL_API CELL_MUST_CHECK int cell_server_listen_quic(struct cell_server *srv, const char *addr,
							const struct cell_quic_opts *opts);

/* cell_server_quic_port() - the UDP port listened on, 0 if none. */
LIBCELL_API unsigned int cell_server_quic_port(const struct cell_server *srv);

/**
 * cell_quic_public_key() - the Ed25519 public key @opts name (the identity
 * a server or client with these opts presents), in lower-case hex.
 * @hex: receives 65 bytes.  Return: 0 or a negative errno.
 */
LIBCELL_API CELL_MUST_CHECK int cell_quic_public_key(const struct cell_quic_opts *opts,
						     char hex[2 * CELL_QUIC_PUBKEY_BYTES + 1]);

#ifdef __cplusplus
}
#endif

#endif /* CELL_QUIC_H */
