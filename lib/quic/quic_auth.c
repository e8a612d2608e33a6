// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Identities of the QUIC transport: the node's Ed25519 key (celld's
 * node.key, a libsodium secret key: 32-byte seed then 32-byte public key)
 * becomes a self-signed X.509 certificate made at start; the peer's
 * certificate is not trusted for its signature or names, only for the key
 * in it, which TLS 1.3's CertificateVerify proves the peer holds.  That
 * key is then looked up in the known peers (celld's discovery format).
 * Why certificates and not raw public keys: Documentation/axon.rst.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>

#include "../rpc_internal.h"
#include "quic_internal.h"

#define PEERS_MAX (1U << 16)

void cell_hex(const uint8_t *b, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = '\0';
}

static int unhex(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* ---- identity --------------------------------------------------------- */

static int state_dir(char *buf, size_t cap)
{
	const char *env = getenv("CELL_STATE_DIR"), *xdg = getenv("XDG_STATE_HOME");
	const char *home = getenv("HOME");
	int n;

	if (env && *env)
		n = snprintf(buf, cap, "%s", env);
	else if (geteuid() == 0)
		n = snprintf(buf, cap, "/var/lib/cell");
	else if (xdg && *xdg)
		n = snprintf(buf, cap, "%s/cell", xdg);
	else if (home && *home)
		n = snprintf(buf, cap, "%s/.local/state/cell", home);
	else
		return -ENOENT;
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

static int read_key_file(const char *path, uint8_t sk[CELL_QUIC_SECKEY_BYTES])
{
	struct stat st;
	ssize_t n;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		err = -errno;
	} else if (st.st_size != CELL_QUIC_SECKEY_BYTES || (st.st_mode & 077) ||
		   st.st_uid != geteuid()) {
		cell_fail(CELL_STATUS_PERMISSION_DENIED,
			  "%s: a key file must be %d bytes, mode 0600 and ours", path,
			  CELL_QUIC_SECKEY_BYTES);
		err = -EACCES;
	} else {
		n = read(fd, sk, CELL_QUIC_SECKEY_BYTES);
		if (n != CELL_QUIC_SECKEY_BYTES)
			err = n < 0 ? -errno : -EIO;
	}
	close(fd);
	return err;
}

int cell_qauth_load_key(const struct cell_quic_opts *o, uint8_t sk[CELL_QUIC_SECKEY_BYTES],
			bool *ephemeral)
{
	char path[4096];
	gnutls_privkey_t key;
	gnutls_datum_t x = { 0 }, k = { 0 };
	gnutls_ecc_curve_t curve;
	int err;

	*ephemeral = false;
	if (o && o->identity) {
		memcpy(sk, o->identity, CELL_QUIC_SECKEY_BYTES);
		return 0;
	}
	if (o && o->identity_file)
		return read_key_file(o->identity_file, sk);
	if (state_dir(path, sizeof(path) - 16) == 0) {
		strcat(path, "/node.key");
		err = read_key_file(path, sk);
		if (err != -ENOENT)
			return err;
	}
	/* No node key: one for this process only. */
	if (gnutls_privkey_init(&key))
		return -ENOMEM;
	err = gnutls_privkey_generate(key, GNUTLS_PK_EDDSA_ED25519, 256, 0) ||
	      gnutls_privkey_export_ecc_raw(key, &curve, &x, NULL, &k);
	if (!err && (x.size != 32 || k.size != 32))
		err = 1;
	if (!err) {
		memcpy(sk, k.data, 32);
		memcpy(sk + 32, x.data, 32);
		*ephemeral = true;
	}
	gnutls_free(x.data);
	gnutls_free(k.data);
	gnutls_privkey_deinit(key);
	return err ? -EIO : 0;
}

/* A self-signed certificate of @sk's key into @cred. */
static int make_cert(gnutls_certificate_credentials_t cred, const uint8_t *sk, const char *cn)
{
	gnutls_datum_t x = { (unsigned char *)sk + 32, 32 }, k = { (unsigned char *)sk, 32 };
	gnutls_privkey_t key = NULL;
	gnutls_pubkey_t pub = NULL;
	gnutls_x509_crt_t crt = NULL;
	gnutls_pcert_st pcert;
	unsigned char serial[8];
	time_t now = time(NULL);
	int rc;

	rc = gnutls_privkey_init(&key);
	if (!rc)
		rc = gnutls_privkey_import_ecc_raw(key, GNUTLS_ECC_CURVE_ED25519, &x, NULL, &k);
	if (!rc)
		rc = gnutls_pubkey_init(&pub);
	if (!rc)
		rc = gnutls_pubkey_import_privkey(pub, key, 0, 0);
	if (!rc)
		rc = gnutls_x509_crt_init(&crt);
	if (!rc)
		rc = gnutls_x509_crt_set_pubkey(crt, pub);
	if (!rc)
		rc = gnutls_x509_crt_set_version(crt, 3);
	if (!rc)
		rc = gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof(serial));
	serial[0] &= 0x7f;
	if (!rc)
		rc = gnutls_x509_crt_set_serial(crt, serial, sizeof(serial));
	if (!rc)
		rc = gnutls_x509_crt_set_activation_time(crt, now - 86400);
	if (!rc)
		rc = gnutls_x509_crt_set_expiration_time(crt, now + 10 * 365 * 86400L);
	if (!rc)
		rc = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn,
						   (unsigned int)strlen(cn));
	if (!rc)
		rc = gnutls_x509_crt_privkey_sign(crt, crt, key, GNUTLS_DIG_SHA512, 0);
	if (!rc)
		rc = gnutls_pcert_import_x509(&pcert, crt, 0);
	if (!rc) {
		rc = gnutls_certificate_set_key(cred, NULL, 0, &pcert, 1, key);
		if (!rc)
			key = NULL; /* the credentials own it and the pcert now */
		else
			gnutls_pcert_deinit(&pcert);
	}
	if (crt)
		gnutls_x509_crt_deinit(crt);
	if (pub)
		gnutls_pubkey_deinit(pub);
	if (key)
		gnutls_privkey_deinit(key);
	if (rc)
		cell_fail(CELL_STATUS_INTERNAL, "certificate from the identity key: %s",
			  gnutls_strerror(rc));
	return rc ? -EIO : 0;
}

/* ---- known peers ------------------------------------------------------ */

static int add_key(struct cell_qauth *a, const uint8_t *pk)
{
	if (a->nknown == a->capknown) {
		size_t cap = a->capknown ? 2 * a->capknown : 16;
		void *p;

		if (cap > PEERS_MAX)
			return -ENOSPC;
		p = realloc(a->known, cap * sizeof(*a->known));
		if (!p)
			return -ENOMEM;
		a->known = p;
		a->capknown = cap;
	}
	memcpy(a->known[a->nknown++], pk, CELL_QUIC_PUBKEY_BYTES);
	return 0;
}

/* One line: blank, a comment, or 64 hex digits then nothing or a space and words. */
static int parse_line(struct cell_qauth *a, const char *s, size_t n)
{
	uint8_t pk[CELL_QUIC_PUBKEY_BYTES];
	size_t i = 0;

	while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r'))
		i++;
	if (i == n || s[i] == '#')
		return 0;
	if (n - i < 64)
		return -EINVAL;
	for (size_t j = 0; j < 32; j++) {
		int hi = unhex(s[i + 2 * j]), lo = unhex(s[i + 2 * j + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		pk[j] = (uint8_t)(hi << 4 | lo);
	}
	i += 64;
	if (i < n && s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '#')
		return -EINVAL;
	return add_key(a, pk);
}

int cell_qauth_parse_peers(struct cell_qauth *a, const char *text, size_t n, unsigned int *line)
{
	size_t start = 0;
	int err;

	a->nknown = 0;
	*line = 0;
	while (start < n) {
		const char *nl = memchr(text + start, '\n', n - start);
		size_t end = nl ? (size_t)(nl - text) : n;

		++*line;
		if (memchr(text + start, '\0', end - start))
			return -EINVAL;
		err = parse_line(a, text + start, end - start);
		if (err)
			return err;
		start = end + 1;
	}
	return 0;
}

static int load_peers(struct cell_qauth *a, const char *path)
{
	unsigned int line;
	char *text = NULL;
	size_t cap = 0, n = 0;
	FILE *f;
	int err;

	f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT && a->tofu)
			return 0; /* TOFU fills it */
		cell_fail(CELL_STATUS_INVALID_ARGUMENT, "known peers %s: %s", path,
			  strerror(errno));
		return -errno;
	}
	for (;;) {
		if (n == cap) {
			char *p = cap < (64U << 20) ? realloc(text, cap ? 2 * cap : 4096) : NULL;

			if (!p) {
				err = -ENOMEM;
				goto out;
			}
			text = p;
			cap = cap ? 2 * cap : 4096;
		}
		size_t got = fread(text + n, 1, cap - n, f);

		n += got;
		if (!got)
			break;
	}
	err = cell_qauth_parse_peers(a, text, n, &line);
	if (err)
		cell_fail(CELL_STATUS_INVALID_ARGUMENT,
			  "known peers %s: line %u is not a 64-hex-digit key (then words)", path,
			  line);
out:
	free(text);
	fclose(f);
	return err;
}

bool cell_qauth_admit(struct cell_qauth *a, const uint8_t pk[CELL_QUIC_PUBKEY_BYTES],
		      const char *addr)
{
	char hex[2 * CELL_QUIC_PUBKEY_BYTES + 1];
	bool ok = false;
	FILE *f;

	cell_hex(pk, CELL_QUIC_PUBKEY_BYTES, hex);
	pthread_mutex_lock(&a->lock);
	for (size_t i = 0; i < a->nknown && !ok; i++)
		ok = !memcmp(a->known[i], pk, CELL_QUIC_PUBKEY_BYTES);
	if (!ok && a->tofu && add_key(a, pk) == 0) {
		ok = true;
		cell_log(CELL_LOG_NOTICE, "quic: trusting new peer key %s (%s) on first use", hex,
			 addr);
		f = a->peers_path ? fopen(a->peers_path, "ae") : NULL;
		if (f) {
			fprintf(f, "%s tofu %s\n", hex, addr);
			fclose(f);
		}
	}
	pthread_mutex_unlock(&a->lock);
	if (!ok)
		cell_log(CELL_LOG_WARNING, "quic: refused peer %s with unknown key %s", addr, hex);
	return ok;
}

int cell_qauth_init(struct cell_qauth *a, const struct cell_quic_opts *o, bool server)
{
	uint8_t sk[CELL_QUIC_SECKEY_BYTES];
	gnutls_certificate_credentials_t cred;
	const char *peers = o && o->known_peers ? o->known_peers : getenv("CELL_KNOWN_PEERS");
	bool ephemeral;
	int err;

	memset(a, 0, sizeof(*a));
	pthread_mutex_init(&a->lock, NULL);
	err = cell_qauth_load_key(o, sk, &ephemeral);
	if (err) {
		if (err != -EACCES)
			cell_fail(cell_errno_status(err), "identity key: %s", strerror(-err));
		return err;
	}
	memcpy(a->pk, sk + 32, sizeof(a->pk));
	cell_hex(a->pk, sizeof(a->pk), a->hex);
	if (ephemeral)
		cell_log(CELL_LOG_NOTICE, "quic: no node key, using the process key %s", a->hex);
	a->tofu = !peers || !*peers || (o && o->tofu);
	if (peers && *peers) {
		a->peers_path = strdup(peers);
		if (!a->peers_path)
			return -ENOMEM;
		err = load_peers(a, peers);
		if (err)
			return err;
	}
	if (gnutls_certificate_allocate_credentials(&cred))
		return -ENOMEM;
	a->cred = cred;
	err = make_cert(cred, sk, a->hex);
	memset(sk, 0, sizeof(sk));
	(void)server;
	return err;
}

void cell_qauth_fini(struct cell_qauth *a)
{
	if (a->cred)
		gnutls_certificate_free_credentials(a->cred);
	free(a->known);
	free(a->peers_path);
	pthread_mutex_destroy(&a->lock);
	memset(a, 0, sizeof(*a));
}
