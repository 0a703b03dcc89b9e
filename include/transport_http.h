/* transport_http.h - bytes to and from the council over HTTPS (libcurl).
 *
 * https only (plain http only when the config allows it and the host is a
 * loopback address), redirects off, peer and host verification always on,
 * TLS 1.2 minimum, timeouts, a response-size cap counted as bytes arrive,
 * and retries only for connect errors, timeouts, a connection lost before a
 * complete answer (send or receive error, empty reply, partial body: safe
 * because a retried write carries the same Idempotency-Key), and 408, 429,
 * 502, 503 and 504, with capped exponential backoff and full jitter, or the
 * server's Retry-After (delay-seconds or an HTTP date; anything else counts
 * as absent) clamped to the cap. A retried request sends the identical body
 * and headers (so the same Idempotency-Key). Nothing here logs a body, a
 * token or a query string. */
#ifndef CASESYNC_TRANSPORT_HTTP_H
#define CASESYNC_TRANSPORT_HTTP_H

#include <stddef.h>
#include "buf.h"
#include "common.h"
#include "config.h"

struct http_client;

struct http_response {
	long status;
	struct buf body;
	char etag[128];
	char location[512];
	int attempts;
	int replayed;		/* Idempotent-Replayed: true */
};

/* Creates a client from the [remote] settings; NULL with a message in err
 * when the URL is not allowed (e.g. http to a non-loopback host). */
struct http_client *http_client_new(const struct config *c, char *err,
				    size_t errsz);
void http_client_free(struct http_client *h);

/* Performs one request, retrying as described above. headers is a
 * NULL-terminated list of "Name: value" lines. Returns 0 when an HTTP answer
 * arrived (any status: look at resp->status), CS_EIO when none did after the
 * retries, CS_ELIMIT when the answer exceeded the size cap. resp must be
 * cleared with http_response_clear(). */
int http_request(struct http_client *h, const char *method, const char *url,
		 const char *const *headers, const char *body, size_t len,
		 struct http_response *resp) CS_MUST_CHECK;
void http_response_clear(struct http_response *r);

/* Policy pieces, exposed for tests. */
int http_status_retryable(long status);
/* Delay before retry number attempt (1-based): a uniform draw in
 * [0, min(cap, base * 2^(attempt-1))], or retry_after_ms clamped to cap when
 * the server sent one (>= 0). rnd is a uniform value in [0, 1). */
long http_backoff_ms(int attempt, long base_ms, long cap_ms,
		     long retry_after_ms, double rnd);
/* True when url is http(s) to 127.0.0.0/8, ::1 or localhost. */
int http_url_is_loopback(const char *url);

/* Escapes one path segment (record ids); caller frees. */
char *http_escape_segment(const char *s);

#endif
