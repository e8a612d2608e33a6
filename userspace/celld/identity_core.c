// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * The node key pair (identity.h): load or make, sign, verify.  No libuv,
 * no celld: the unit test and `cell id` link it alone.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <sodium.h>

#include "identity.h"

_Static_assert(CELLD_PUBKEY_BYTES == crypto_sign_PUBLICKEYBYTES, "pk size");
_Static_assert(CELLD_SECKEY_BYTES == crypto_sign_SECRETKEYBYTES, "sk size");
_Static_assert(CELLD_SIG_BYTES == crypto_sign_BYTES, "sig size");

void celld_key_hex(const uint8_t pk[CELLD_PUBKEY_BYTES], char out[CELLD_NODE_HEX])
{
	sodium_bin2hex(out, CELLD_NODE_HEX, pk, CELLD_PUBKEY_BYTES);
}

int celld_key_parse(const char *hex, uint8_t pk[CELLD_PUBKEY_BYTES])
{
	size_t n = 0;
	const char *end = NULL;

	if (strlen(hex) != 2 * CELLD_PUBKEY_BYTES)
		return -1;
	if (sodium_hex2bin(pk, CELLD_PUBKEY_BYTES, hex, strlen(hex), NULL, &n, &end) != 0 ||
	    n != CELLD_PUBKEY_BYTES || *end)
		return -1;
	return 0;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Write @path atomically (temp file + rename) with @mode. */
static int write_file(const char *path, const void *buf, size_t len, mode_t mode)
{
	char tmp[4200];
	int fd, rc;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return -errno;
	rc = fchmod(fd, mode) ? -errno : 0; /* not narrowed by the umask */
	if (!rc)
		rc = write_all(fd, buf, len);
	if (!rc && fsync(fd))
		rc = -errno;
	close(fd);
	if (!rc && rename(tmp, path))
		rc = -errno;
	if (rc)
		unlink(tmp);
	return rc;
}

static int make_key(const char *kpath, struct celld_identity *id, char *err, size_t cap)
{
	int rc;

	crypto_sign_keypair(id->pk, id->sk);
	rc = write_file(kpath, id->sk, sizeof(id->sk), 0600);
	if (rc) {
		snprintf(err, cap, "cannot write %s: %s", kpath, strerror(-rc));
		return rc;
	}
	return 0;
}

static int read_key(const char *kpath, struct celld_identity *id, char *err, size_t cap)
{
	struct stat st;
	uint8_t pk[CELLD_PUBKEY_BYTES];
	ssize_t n;
	int fd, rc = 0;

	fd = open(kpath, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, cap, "cannot open %s: %s", kpath, strerror(errno));
		return rc;
	}
	if (fstat(fd, &st)) {
		rc = -errno;
		snprintf(err, cap, "%s: %s", kpath, strerror(errno));
	} else if (!S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		snprintf(err, cap, "%s is not a regular file", kpath);
	} else if ((st.st_mode & 07777) != 0600) {
		rc = -EPERM;
		snprintf(err, cap, "%s has mode %04o, want 0600 (chmod 600 it if it is yours)",
			 kpath, (unsigned)(st.st_mode & 07777));
	} else if (st.st_uid != geteuid()) {
		rc = -EPERM;
		snprintf(err, cap, "%s is owned by uid %u, not by celld's uid %u", kpath,
			 (unsigned)st.st_uid, (unsigned)geteuid());
	} else if (st.st_size != CELLD_SECKEY_BYTES) {
		rc = -EINVAL;
		snprintf(err, cap, "%s has %lld bytes, want %d (an Ed25519 secret key)", kpath,
			 (long long)st.st_size, CELLD_SECKEY_BYTES);
	} else {
		n = read(fd, id->sk, sizeof(id->sk));
		if (n != (ssize_t)sizeof(id->sk)) {
			rc = -EIO;
			snprintf(err, cap, "%s: short read", kpath);
		}
	}
	close(fd);
	if (rc)
		return rc;
	/* The public half must be the one the seed makes. */
	crypto_sign_ed25519_sk_to_pk(id->pk, id->sk);
	{
		uint8_t seed[32], sk2[CELLD_SECKEY_BYTES];

		crypto_sign_ed25519_sk_to_seed(seed, id->sk);
		crypto_sign_seed_keypair(pk, sk2, seed);
		sodium_memzero(seed, sizeof(seed));
		sodium_memzero(sk2, sizeof(sk2));
	}
	if (memcmp(pk, id->pk, sizeof(pk))) {
		snprintf(err, cap, "%s is corrupt (its public half does not match its seed)",
			 kpath);
		return -EINVAL;
	}
	return 0;
}

int celld_identity_load(const char *dir, struct celld_identity *id, char *err, size_t cap)
{
	char kpath[4096], ppath[4096];
	int rc;

	if (sodium_init() < 0) {
		snprintf(err, cap, "libsodium cannot initialise");
		return -EIO;
	}
	memset(id, 0, sizeof(*id));
	if (snprintf(kpath, sizeof(kpath), "%s/%s", dir, CELLD_KEY_FILE) >= (int)sizeof(kpath) ||
	    snprintf(ppath, sizeof(ppath), "%s/%s", dir, CELLD_PUB_FILE) >= (int)sizeof(ppath)) {
		snprintf(err, cap, "state directory path too long");
		return -ENAMETOOLONG;
	}
	if (access(kpath, F_OK) == 0 || errno != ENOENT)
		rc = read_key(kpath, id, err, cap);
	else
		rc = make_key(kpath, id, err, cap);
	if (rc)
		return rc;
	celld_key_hex(id->pk, id->hex);
	/* node.pub is a convenience copy for `cell id`; rewritten every start. */
	rc = write_file(ppath, id->pk, sizeof(id->pk), 0644);
	if (rc) {
		snprintf(err, cap, "cannot write %s: %s", ppath, strerror(-rc));
		return rc;
	}
	return 0;
}

void celld_identity_sign(const struct celld_identity *id, const void *msg, size_t len,
			 uint8_t sig[CELLD_SIG_BYTES])
{
	crypto_sign_detached(sig, NULL, msg, len, id->sk);
}

int celld_identity_verify(const uint8_t pk[CELLD_PUBKEY_BYTES], const void *msg, size_t len,
			  const uint8_t sig[CELLD_SIG_BYTES])
{
	return crypto_sign_verify_detached(sig, msg, len, pk) == 0 ? 0 : -1;
}
