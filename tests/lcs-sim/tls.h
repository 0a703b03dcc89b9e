/* HTTPS for the council simulator: certificate files and client
 * certificate checks, on top of libmicrohttpd's GnuTLS support. */
#ifndef LCS_SIM_TLS_H
#define LCS_SIM_TLS_H

#include <stdbool.h>

#include <microhttpd.h>

/* Upper bound for each PEM file; a large CA bundle still fits. */
#define TLS_MAX_PEM ((size_t)1 << 20)

struct tls_config {
	char *cert;      /* PEM text: certificate, then any intermediates */
	char *key;       /* PEM text: unencrypted private key */
	char *client_ca; /* PEM text, or NULL when no client certificate is asked for */
};

/* Reads the files (client_ca_path may be NULL), checks that they hold
 * what they should and that the key belongs to the certificate, and gets
 * the client certificate checks ready. Problems are reported on stderr,
 * naming the option and file but never quoting the content. 0 or -1. */
int tls_config_load(struct tls_config *tc, const char *cert_path,
		    const char *key_path, const char *client_ca_path);
/* Wipes the key and frees everything. */
void tls_config_free(struct tls_config *tc);

/* For MHD_OPTION_NOTIFY_CONNECTION with a client CA: makes the handshake
 * of a new connection demand a client certificate and verify it against
 * the client CA, so a client without one never gets to send a request. */
void tls_require_client_cert(struct MHD_Connection *conn);

/* Whether the peer of a TLS connection presented a certificate that
 * verifies against the client CA. */
bool tls_client_verified(struct MHD_Connection *conn);

#endif
