#include "tls.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#define PROG "lcs-sim"

/*
 * libmicrohttpd asks for a client certificate (GNUTLS_CERT_REQUEST) when
 * given a trust list, but neither insists on one nor verifies it: the
 * GnuTLS calls in tls_require_client_cert() and tls_client_verified()
 * close that gap (lcs-sim links GnuTLS for them).
 */

static void report(const char *option, const char *path, const char *problem)
{
	fprintf(stderr, PROG ": %s %s: %s\n", option, path, problem);
}

/* Reads a whole regular file of at most TLS_MAX_PEM bytes, as a string. */
static char *read_pem_file(const char *option, const char *path)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		report(option, path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		report(option, path, "not a regular file");
		goto fail;
	}
	buf = malloc(TLS_MAX_PEM + 1);
	if (buf == NULL) {
		report(option, path, "out of memory");
		goto fail;
	}
	while (len <= TLS_MAX_PEM) {
		ssize_t n = read(fd, buf + len, TLS_MAX_PEM + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			report(option, path, strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > TLS_MAX_PEM) {
		report(option, path, "larger than 1 MiB");
		goto fail;
	}
	/* libmicrohttpd takes the text as a C string. */
	if (memchr(buf, '\0', len) != NULL) {
		report(option, path, "contains a NUL byte, not PEM text");
		goto fail;
	}
	buf[len] = '\0';
	close(fd);
	return buf;
fail:
	if (buf != NULL) {
		explicit_bzero(buf, len);
		free(buf);
	}
	close(fd);
	return NULL;
}

/* Never prompts: an encrypted key is simply refused. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/* Number of PEM certificates in text; *first gets the first one if asked. */
static int count_certs(const char *text, X509 **first)
{
	BIO *bio = BIO_new_mem_buf(text, -1);
	X509 *x;
	int n = 0;

	if (bio == NULL)
		return 0;
	while ((x = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL)) != NULL) {
		if (n == 0 && first != NULL)
			*first = x;
		else
			X509_free(x);
		n++;
	}
	BIO_free(bio);
	ERR_clear_error();
	return n;
}

static EVP_PKEY *read_key(const char *text)
{
	BIO *bio = BIO_new_mem_buf(text, -1);
	EVP_PKEY *key = NULL;

	if (bio != NULL) {
		key = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
		BIO_free(bio);
	}
	ERR_clear_error();
	return key;
}

static int check_cert_and_key(const struct tls_config *tc,
			      const char *cert_path, const char *key_path)
{
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;
	int rc = -1;

	if (count_certs(tc->cert, &cert) == 0) {
		report("--tls-cert", cert_path, "no PEM certificate found");
		goto out;
	}
	key = read_key(tc->key);
	if (key == NULL) {
		report("--tls-key", key_path,
		       "no unencrypted PEM private key found");
		goto out;
	}
	if (X509_check_private_key(cert, key) != 1) {
		report("--tls-key", key_path,
		       "does not belong to the --tls-cert certificate");
		goto out;
	}
	rc = 0;
out:
	ERR_clear_error();
	EVP_PKEY_free(key);
	X509_free(cert);
	return rc;
}

int tls_config_load(struct tls_config *tc, const char *cert_path,
		    const char *key_path, const char *client_ca_path)
{
	memset(tc, 0, sizeof *tc);
	tc->cert = read_pem_file("--tls-cert", cert_path);
	if (tc->cert == NULL)
		goto fail;
	tc->key = read_pem_file("--tls-key", key_path);
	if (tc->key == NULL || check_cert_and_key(tc, cert_path, key_path))
		goto fail;
	if (client_ca_path == NULL)
		return 0;
	tc->client_ca = read_pem_file("--tls-client-ca", client_ca_path);
	if (tc->client_ca == NULL)
		goto fail;
	if (count_certs(tc->client_ca, NULL) == 0) {
		report("--tls-client-ca", client_ca_path,
		       "no PEM certificate found");
		goto fail;
	}
	return 0;
fail:
	tls_config_free(tc);
	return -1;
}

void tls_config_free(struct tls_config *tc)
{
	if (tc->key != NULL)
		explicit_bzero(tc->key, strlen(tc->key));
	free(tc->key);
	free(tc->cert);
	free(tc->client_ca);
	memset(tc, 0, sizeof *tc);
}

static gnutls_session_t session_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci;

	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	return ci != NULL ? ci->tls_session : NULL;
}

void tls_require_client_cert(struct MHD_Connection *conn)
{
	gnutls_session_t s = session_of(conn);

	/* Without a session tls_client_verified() still refuses requests. */
	if (s == NULL)
		return;
	gnutls_certificate_server_set_request(s, GNUTLS_CERT_REQUIRE);
	/* No host name: only the chain is checked, against the client CA. */
	gnutls_session_set_verify_cert(s, NULL, 0);
}

bool tls_client_verified(struct MHD_Connection *conn)
{
	gnutls_session_t s = session_of(conn);
	unsigned int status = 0;

	if (s == NULL)
		return false;
	/* Fails with GNUTLS_E_NO_CERTIFICATE_FOUND when none was sent. */
	return gnutls_certificate_verify_peers2(s, &status) == 0 && status == 0;
}
