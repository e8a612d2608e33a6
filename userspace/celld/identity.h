/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/*
 * celld's node identity: one Ed25519 key pair (libsodium) per state
 * directory, made on first start.  STATE_DIR/node.key holds the 64-byte
 * libsodium secret key (seed followed by the public key), mode 0600, owned
 * by celld's user; STATE_DIR/node.pub the 32-byte public key (0644) for
 * `cell id`.  A key file of another mode, size or owner is refused with a
 * clear error, never repaired silently.  Documentation/discovery.rst.
 */
#ifndef CELLD_IDENTITY_H
#define CELLD_IDENTITY_H

#include <stddef.h>
#include <stdint.h>

#define CELLD_KEY_FILE	   "node.key"
#define CELLD_PUB_FILE	   "node.pub"
#define CELLD_PUBKEY_BYTES 32
#define CELLD_SECKEY_BYTES 64
#define CELLD_SIG_BYTES	   64
#define CELLD_NODE_HEX	   (2 * CELLD_PUBKEY_BYTES + 1)

struct celld_identity {
	uint8_t pk[CELLD_PUBKEY_BYTES];
	uint8_t sk[CELLD_SECKEY_BYTES];
	char hex[CELLD_NODE_HEX]; /* the public key in lower-case hex: the node id */
};

/*
 * celld_identity_load() - read DIR/node.key, or make it (and node.pub) if
 * it does not exist.  Return: 0, or -errno with a message in @err.
 */
int celld_identity_load(const char *dir, struct celld_identity *id, char *err, size_t cap);

/* Sign @len bytes into @sig; verify a signature by @pk (0 good, -1 bad). */
void celld_identity_sign(const struct celld_identity *id, const void *msg, size_t len,
			 uint8_t sig[CELLD_SIG_BYTES]);
int celld_identity_verify(const uint8_t pk[CELLD_PUBKEY_BYTES], const void *msg, size_t len,
			  const uint8_t sig[CELLD_SIG_BYTES]);

/* Lower-case hex of a public key (CELLD_NODE_HEX bytes with the NUL). */
void celld_key_hex(const uint8_t pk[CELLD_PUBKEY_BYTES], char out[CELLD_NODE_HEX]);
/* Parse 64 hex digits; 0 or -1. */
int celld_key_parse(const char *hex, uint8_t pk[CELLD_PUBKEY_BYTES]);

struct celld;
/* The celld module: loads the identity into d->identity (always on). */
int celld_identity_start(struct celld *d);
void celld_identity_stop(struct celld *d);

#endif /* CELLD_IDENTITY_H */
