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

#include <signal.h>
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
	long long date;		/* the server's Date header (epoch s), 0 if none */
	long long received;	/* our clock when the headers arrived */
};

/* One request of a batch (http_request_many). The caller sets the first
 * six members and zeroes the rest; the client fills resp and rc. */
struct http_call {
	const char *method;
	const char *url;
	const char *const *headers;	/* NULL-terminated, or NULL */
	const char *body;
	size_t len;
	void *user;		/* for the caller */
	struct http_response resp;
	int rc;			/* as http_request returns */
	/* Private to the client. */
	int state;
	int auth_retried;
	long long due_ms;
	void *priv;
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

/* Performs n requests with up to remote.max_concurrent of them in flight
 * at once (curl multi; connections are kept alive and reused), each with
 * its own retries as http_request. Returns CS_OK once every call has
 * finished (look at each call's rc and resp), CS_ENOMEM when the batch
 * could not be started. Each resp must be cleared. */
int http_request_many(struct http_client *h, struct http_call *calls,
		      size_t n) CS_MUST_CHECK;

/* With remote.oauth_token_url set, every request carries a bearer token
 * from the OAuth2 client credentials grant (RFC 6749 section 4.4), the
 * client authenticated with HTTP Basic. The token is kept in memory only,
 * fetched again remote.oauth_refresh_margin_s before it expires (at half
 * its lifetime when that is sooner), and once more when the council
 * answers 401. Nothing logs the token or the secret. */
struct http_oauth_stats {
	unsigned long fetched;	/* tokens obtained */
	unsigned long failed;	/* token requests that failed */
	unsigned long rejected;	/* 401 answers that led to a new token */
};
void http_oauth_get_stats(const struct http_client *h,
			  struct http_oauth_stats *out);

/* While *flag is non-zero, waits end early and calls not yet sent fail
 * with CS_EIO (used by the daemon's stop signal). */
void http_client_set_cancel(struct http_client *h,
			    volatile sig_atomic_t *flag);

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
