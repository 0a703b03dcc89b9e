/* transport_http.c - hardened libcurl requests with bounded retries. */
#include "transport_http.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <arpa/inet.h>
#include <curl/curl.h>

#include "log.h"

#define BACKOFF_BASE_MS 200
#define BACKOFF_CAP_MS 30000

struct http_client {
	CURL *easy;
	char *ca_file;
	char *client_cert;
	char *client_key;
	long connect_timeout_ms;
	long timeout_ms;
	size_t max_response;
	int max_retries;
	int allow_http;
	unsigned int seed;
};

struct http_client *http_client_new(const struct config *c, char *err,
				    size_t errsz)
{
	struct http_client *h;
	int is_http = strncmp(c->remote_url, "http://", 7) == 0;

	if (is_http && !(c->remote_allow_http_loopback &&
			 http_url_is_loopback(c->remote_url))) {
		snprintf(err, errsz, "remote.url: plain http is allowed only for "
			 "a loopback endpoint with remote.allow_http_loopback");
		return NULL;
	}
	if (!is_http && strncmp(c->remote_url, "https://", 8) != 0) {
		snprintf(err, errsz, "remote.url: expected an https:// URL");
		return NULL;
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->easy = curl_easy_init();
	h->ca_file = cs_strdup(c->remote_ca_file);
	h->client_cert = cs_strdup(c->remote_client_cert);
	h->client_key = cs_strdup(c->remote_client_key);
	if (!h->easy || !h->ca_file || !h->client_cert || !h->client_key) {
		http_client_free(h);
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	h->connect_timeout_ms = (long)c->remote_connect_timeout_ms;
	h->timeout_ms = (long)c->remote_timeout_ms;
	h->max_response = (size_t)c->remote_max_response_bytes;
	h->max_retries = (int)c->remote_max_retries;
	h->allow_http = is_http;
	h->seed = (unsigned int)time(NULL) ^ (unsigned int)(size_t)h;
	return h;
}

void http_client_free(struct http_client *h)
{
	if (!h)
		return;
	if (h->easy)
		curl_easy_cleanup(h->easy);
	free(h->ca_file);
	free(h->client_cert);
	free(h->client_key);
	free(h);
}

int http_status_retryable(long status)
{
	return status == 408 || status == 429 || status == 502 ||
	       status == 503 || status == 504;
}

static int curl_code_retryable(CURLcode rc)
{
	return rc == CURLE_COULDNT_CONNECT || rc == CURLE_OPERATION_TIMEDOUT ||
	       rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_SEND_ERROR ||
	       rc == CURLE_RECV_ERROR || rc == CURLE_GOT_NOTHING ||
	       rc == CURLE_PARTIAL_FILE;
}

long http_backoff_ms(int attempt, long base_ms, long cap_ms,
		     long retry_after_ms, double rnd)
{
	long ceiling = base_ms;

	if (retry_after_ms >= 0)
		return retry_after_ms > cap_ms ? cap_ms : retry_after_ms;
	for (int i = 1; i < attempt && ceiling < cap_ms; i++)
		ceiling = ceiling > cap_ms / 2 ? cap_ms : ceiling * 2;
	if (ceiling > cap_ms)
		ceiling = cap_ms;
	return (long)(rnd * ((double)ceiling + 1.0));
}

int http_url_is_loopback(const char *url)
{
	CURLU *u = curl_url();
	char *host = NULL;
	int yes = 0;

	if (!u)
		return 0;
	if ((strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0) &&
	    curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
		struct in_addr a4;

		/* 127.0.0.0/8 only as a numeric address: "127.x.example" is a
		 * name anyone can register. */
		yes = !strcmp(host, "localhost") || !strcmp(host, "[::1]") ||
		      (inet_pton(AF_INET, host, &a4) == 1 &&
		       (ntohl(a4.s_addr) >> 24) == 127);
	}
	curl_free(host);
	curl_url_cleanup(u);
	return yes;
}

char *http_escape_segment(const char *s)
{
	char *e = curl_easy_escape(NULL, s, 0);
	char *copy = e ? cs_strdup(e) : NULL;

	curl_free(e);
	return copy;
}

struct sink {
	struct http_response *resp;
	int over;
	long retry_after_s;	/* -1: absent, invalid or in the past */
};

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	struct sink *s = ud;
	size_t len = size * n;

	if (buf_append(&s->resp->body, p, len)) {
		s->over = 1;
		return 0;	/* aborts the transfer */
	}
	return len;
}

static void copy_header_value(char *dst, size_t dstsz, const char *p, size_t n)
{
	while (n && (*p == ' ' || *p == '\t')) {
		p++;
		n--;
	}
	while (n && (p[n - 1] == '\r' || p[n - 1] == '\n' || p[n - 1] == ' '))
		n--;
	if (n >= dstsz)
		n = dstsz - 1;
	memcpy(dst, p, n);
	dst[n] = '\0';
}

/* Retry-After is delay-seconds (digits only) or an HTTP-date; anything
 * else ("-5", "soon", "") counts as absent. libcurl's CURLINFO_RETRY_AFTER
 * cannot tell those apart: it gives 0 for an absent or invalid header,
 * which would mean "retry at once", and parses "5x" as 5. */
static long parse_retry_after(const char *p, size_t n)
{
	char v[64];
	long secs = 0;
	time_t t, now = time(NULL);

	copy_header_value(v, sizeof(v), p, n);
	if (!*v)
		return -1;
	if (strspn(v, "0123456789") == strlen(v)) {
		for (const char *d = v; *d; d++)	/* saturates */
			secs = secs > 86400 ? secs : secs * 10 + (*d - '0');
		return secs;
	}
	t = curl_getdate(v, NULL);
	if (t == -1 || t < now)
		return -1;
	return t - now > 86400 ? 86400 : (long)(t - now);
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	struct sink *s = ud;
	size_t len = size * n;

	if (len > 5 && !strncmp(p, "HTTP/", 5))
		s->retry_after_s = -1;	/* a new response (e.g. after 100) */
	else if (len > 12 && !strncasecmp(p, "Retry-After:", 12))
		s->retry_after_s = parse_retry_after(p + 12, len - 12);
	else if (len > 5 && !strncasecmp(p, "ETag:", 5))
		copy_header_value(s->resp->etag, sizeof(s->resp->etag), p + 5,
				  len - 5);
	else if (len > 9 && !strncasecmp(p, "Location:", 9))
		copy_header_value(s->resp->location, sizeof(s->resp->location),
				  p + 9, len - 9);
	else if (len > 20 && !strncasecmp(p, "Idempotent-Replayed:", 20))
		s->resp->replayed = 1;
	return len;
}

static void setup(struct http_client *h, const char *method, const char *url,
		  struct curl_slist *hdrs, const char *body, size_t len,
		  struct sink *sink)
{
	CURL *c = h->easy;

	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, h->allow_http ? "http" : "https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (*h->ca_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, h->ca_file);
	if (*h->client_cert)
		curl_easy_setopt(c, CURLOPT_SSLCERT, h->client_cert);
	if (*h->client_key)
		curl_easy_setopt(c, CURLOPT_SSLKEY, h->client_key);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, h->connect_timeout_ms);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, h->timeout_ms);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 30L);
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE,
			 (curl_off_t)h->max_response);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, sink);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, sink);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "casesync/" CASESYNC_VERSION);
	if (!strcmp(method, "GET")) {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	} else {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	}
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0)
		;
}

int http_request(struct http_client *h, const char *method, const char *url,
		 const char *const *headers, const char *body, size_t len,
		 struct http_response *resp)
{
	struct curl_slist *hdrs = NULL, *tmp;
	struct sink sink = { resp, 0, -1 };
	int rc = CS_EIO;

	memset(resp, 0, sizeof(*resp));
	buf_init(&resp->body, h->max_response);
	for (size_t i = 0; headers && headers[i]; i++) {
		tmp = curl_slist_append(hdrs, headers[i]);
		if (!tmp)
			goto out;
		hdrs = tmp;
	}
	for (int attempt = 1;; attempt++) {
		CURLcode cc;
		long retry_after = -1;
		long delay;

		buf_reset(&resp->body);
		resp->etag[0] = resp->location[0] = '\0';
		resp->status = 0;
		resp->attempts = attempt;
		sink.over = 0;
		sink.retry_after_s = -1;
		setup(h, method, url, hdrs, body, len, &sink);
		cc = curl_easy_perform(h->easy);
		if (sink.over || cc == CURLE_FILESIZE_EXCEEDED) {
			log_warn("http_response_too_large", "method=%s limit=%zu",
				 method, h->max_response);
			rc = CS_ELIMIT;
			goto out;
		}
		if (cc == CURLE_OK) {
			curl_easy_getinfo(h->easy, CURLINFO_RESPONSE_CODE,
					  &resp->status);
			if (!http_status_retryable(resp->status)) {
				rc = CS_OK;
				goto out;
			}
			retry_after = sink.retry_after_s;
		} else if (!curl_code_retryable(cc)) {
			/* curl's fixed text for the code: no URL, no data. */
			log_warn("http_failed", "method=%s curl_code=%d reason=\"%s\"",
				 method, (int)cc, curl_easy_strerror(cc));
			goto out;
		}
		if (attempt > h->max_retries) {
			rc = cc == CURLE_OK ? CS_OK : CS_EIO;
			log_warn("http_retries_exhausted", "method=%s attempts=%d "
				 "status=%ld curl_code=%d reason=\"%s\"", method,
				 attempt, resp->status, (int)cc,
				 cc == CURLE_OK ? "retryable status" :
				 curl_easy_strerror(cc));
			goto out;
		}
		/* No usable Retry-After (-1): jittered backoff; else clamped. */
		delay = http_backoff_ms(attempt, BACKOFF_BASE_MS, BACKOFF_CAP_MS,
					retry_after >= 0 ?
					(retry_after > 3600 ? 3600 : retry_after) * 1000 : -1,
					(double)rand_r(&h->seed) / ((double)RAND_MAX + 1.0));
		log_info("http_retry", "method=%s attempt=%d status=%ld "
			 "curl_code=%d delay_ms=%ld", method, attempt,
			 resp->status, (int)cc, delay);
		sleep_ms(delay);
	}
out:
	curl_slist_free_all(hdrs);
	return rc;
}

void http_response_clear(struct http_response *r)
{
	buf_free(&r->body);
}
