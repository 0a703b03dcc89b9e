/* transport_http.c - hardened libcurl requests with bounded retries. */
#include "transport_http.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <arpa/inet.h>
#include <curl/curl.h>

#include "codec_json.h"
#include "log.h"

#define BACKOFF_BASE_MS 200
#define BACKOFF_CAP_MS 30000
#define TOKEN_MAX_BYTES 65536
#define SECRET_MAX_BYTES 4096

enum call_state { CALL_WAITING, CALL_RUNNING, CALL_DONE };

/* Per-transfer state, one per pooled easy handle. */
struct sink {
	struct http_call *call;
	int over;
	long retry_after_s;	/* -1: absent, invalid or in the past */
};

struct slot {
	CURL *easy;
	struct curl_slist *hdrs;
	struct sink sink;
	int busy;
	unsigned long token_gen;	/* of the token the request carried */
};

struct http_client {
	CURLM *multi;
	struct slot *slots;
	size_t nslots;
	char *ca_file;
	char *client_cert;
	char *client_key;
	long connect_timeout_ms;
	long timeout_ms;
	size_t max_response;
	int max_retries;
	int allow_http;
	unsigned int seed;
	volatile sig_atomic_t *cancel;
	/* OAuth2 client credentials; token_url NULL when not used. */
	char *token_url;
	char *client_id;
	char *client_secret;
	char *scope;
	long refresh_margin_s;
	char *token;		/* "Authorization: Bearer ..." header line */
	long long token_refresh_ms;	/* monotonic time to fetch a new one */
	unsigned long token_gen;	/* goes up with every new token */
	struct http_oauth_stats oauth;
};

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void free_secret(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

/* http:// is allowed only when configured and only to a loopback host. */
static int url_allowed(const char *key, const char *url, int allow_loopback,
		       int *is_http, char *err, size_t errsz)
{
	*is_http = strncmp(url, "http://", 7) == 0;
	if (*is_http && !(allow_loopback && http_url_is_loopback(url))) {
		snprintf(err, errsz, "%s: plain http is allowed only for a "
			 "loopback endpoint with remote.allow_http_loopback", key);
		return 0;
	}
	if (!*is_http && strncmp(url, "https://", 8) != 0) {
		snprintf(err, errsz, "%s: expected an https:// URL", key);
		return 0;
	}
	return 1;
}

/* Reads the client secret: the first line of the file, a relative name
 * taken from $CREDENTIALS_DIRECTORY. Messages name the file, never the
 * content. */
static char *read_secret(const char *name, char *err, size_t errsz)
{
	char path[4096], *buf = NULL;
	size_t len = 0;
	FILE *f;
	int c;

	if (cs_credential_path("remote.oauth_client_secret_file", name, path,
			       sizeof(path), err, errsz))
		return NULL;
	f = fopen(path, "re");
	if (!f) {
		snprintf(err, errsz, "remote.oauth_client_secret_file: cannot "
			 "open %s", path);
		return NULL;
	}
	buf = calloc(1, SECRET_MAX_BYTES + 1);
	while (buf && (c = getc(f)) != EOF && c != '\n' && len < SECRET_MAX_BYTES)
		buf[len++] = (char)c;
	fclose(f);
	while (buf && len && (buf[len - 1] == '\r' || buf[len - 1] == ' '))
		buf[--len] = '\0';
	if (buf && !len) {
		snprintf(err, errsz, "remote.oauth_client_secret_file: %s is "
			 "empty", path);
		free_secret(buf);
		return NULL;
	}
	if (!buf)
		snprintf(err, errsz, "out of memory");
	return buf;
}

struct http_client *http_client_new(const struct config *c, char *err,
				    size_t errsz)
{
	struct http_client *h;
	int is_http, tok_http = 0;

	if (!url_allowed("remote.url", c->remote_url,
			 c->remote_allow_http_loopback, &is_http, err, errsz))
		return NULL;
	if (*c->remote_oauth_token_url &&
	    !url_allowed("remote.oauth_token_url", c->remote_oauth_token_url,
			 c->remote_allow_http_loopback, &tok_http, err, errsz))
		return NULL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->nslots = c->remote_max_concurrent > 0 ?
		    (size_t)c->remote_max_concurrent : 1;
	h->multi = curl_multi_init();
	h->slots = calloc(h->nslots, sizeof(*h->slots));
	h->ca_file = cs_strdup(c->remote_ca_file);
	h->client_cert = cs_strdup(c->remote_client_cert);
	h->client_key = cs_strdup(c->remote_client_key);
	if (!h->multi || !h->slots || !h->ca_file || !h->client_cert ||
	    !h->client_key)
		goto nomem;
	for (size_t i = 0; i < h->nslots; i++)
		if (!(h->slots[i].easy = curl_easy_init()))
			goto nomem;
	/* One connection per concurrent request, kept alive between them. */
	curl_multi_setopt(h->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
			  (long)h->nslots);
	curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS, (long)h->nslots);
	if (*c->remote_oauth_token_url) {
		h->token_url = cs_strdup(c->remote_oauth_token_url);
		h->client_id = cs_strdup(c->remote_oauth_client_id);
		h->scope = cs_strdup(c->remote_oauth_scope);
		if (!h->token_url || !h->client_id || !h->scope)
			goto nomem;
		h->client_secret = read_secret(c->remote_oauth_client_secret_file,
					       err, errsz);
		if (!h->client_secret) {
			http_client_free(h);
			return NULL;
		}
		h->refresh_margin_s = (long)c->remote_oauth_refresh_margin_s;
	}
	h->connect_timeout_ms = (long)c->remote_connect_timeout_ms;
	h->timeout_ms = (long)c->remote_timeout_ms;
	h->max_response = (size_t)c->remote_max_response_bytes;
	h->max_retries = (int)c->remote_max_retries;
	h->allow_http = is_http || tok_http;
	h->seed = (unsigned int)time(NULL) ^ (unsigned int)(size_t)h;
	return h;
nomem:
	http_client_free(h);
	snprintf(err, errsz, "out of memory");
	return NULL;
}

void http_client_free(struct http_client *h)
{
	if (!h)
		return;
	for (size_t i = 0; h->slots && i < h->nslots; i++) {
		if (h->slots[i].easy)
			curl_easy_cleanup(h->slots[i].easy);
		curl_slist_free_all(h->slots[i].hdrs);
	}
	if (h->multi)
		curl_multi_cleanup(h->multi);
	free(h->slots);
	free(h->ca_file);
	free(h->client_cert);
	free(h->client_key);
	free(h->token_url);
	free(h->client_id);
	free(h->scope);
	free_secret(h->client_secret);
	free_secret(h->token);
	free(h);
}

void http_client_set_cancel(struct http_client *h,
			    volatile sig_atomic_t *flag)
{
	h->cancel = flag;
}

void http_oauth_get_stats(const struct http_client *h,
			  struct http_oauth_stats *out)
{
	*out = h->oauth;
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

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	struct sink *s = ud;
	size_t len = size * n;

	if (buf_append(&s->call->resp.body, p, len)) {
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
		copy_header_value(s->call->resp.etag, sizeof(s->call->resp.etag), p + 5,
				  len - 5);
	else if (len > 9 && !strncasecmp(p, "Location:", 9))
		copy_header_value(s->call->resp.location,
				  sizeof(s->call->resp.location),
				  p + 9, len - 9);
	else if (len > 20 && !strncasecmp(p, "Idempotent-Replayed:", 20))
		s->call->resp.replayed = 1;
	else if (len > 5 && !strncasecmp(p, "Date:", 5)) {
		/* The council's clock, for the clock-skew alarm. */
		char v[64];
		time_t t;

		copy_header_value(v, sizeof(v), p + 5, len - 5);
		t = curl_getdate(v, NULL);
		s->call->resp.date = t > 0 ? (long long)t : 0;
		s->call->resp.received = (long long)time(NULL);
	}
	return len;
}

/* The settings every request shares: TLS always verified, timeouts,
 * size cap, no signals. */
static void setup_common(struct http_client *h, CURL *c, const char *url)
{
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, h->allow_http ? "http,https" : "https");
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
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "casesync/" CASESYNC_VERSION);
}

static void setup(struct http_client *h, struct slot *sl,
		  struct http_call *call)
{
	CURL *c = sl->easy;

	setup_common(h, c, call->url);
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE,
			 (curl_off_t)h->max_response);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, sl->hdrs);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &sl->sink);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &sl->sink);
	curl_easy_setopt(c, CURLOPT_PRIVATE, (void *)sl);
	if (!strcmp(call->method, "GET")) {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	} else {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, call->method);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, call->body ? call->body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)call->len);
	}
}

/* ---- OAuth2 client credentials ---- */

struct token_sink {
	struct buf body;
};

static size_t on_token_body(char *p, size_t size, size_t n, void *ud)
{
	struct token_sink *t = ud;

	return buf_append(&t->body, p, size * n) ? 0 : size * n;
}

/* The "error" member of a token error answer (RFC 6749 section 5.2) when
 * it is a short lower-case code, so it can be logged; else "-". */
static const char *oauth_error_code(json_t *doc)
{
	const char *e = json_string_value(json_object_get(doc, "error"));

	if (!e || !*e || strlen(e) > 40 || strspn(e, "abcdefghijklmnopqrstuvwxyz_") != strlen(e))
		return "-";
	return e;
}

/* Fetches a token (one attempt; the calls waiting for it carry the
 * retries). Returns CS_OK or CS_EIO, having logged why without data. */
static int oauth_fetch(struct http_client *h)
{
	CURL *c = curl_easy_init();
	struct token_sink t;
	struct buf form;
	char *id = NULL, *secret = NULL, *scope = NULL, err[160];
	json_t *doc = NULL, *tok, *ttl;
	long status = 0;
	long long expires;
	int rc = CS_EIO;
	CURLcode cc;

	buf_init(&t.body, TOKEN_MAX_BYTES);
	buf_init(&form, 8192);
	if (!c)
		goto out;
	/* RFC 6749 section 2.3.1: id and secret form-encoded, then Basic. */
	id = curl_easy_escape(c, h->client_id, 0);
	secret = curl_easy_escape(c, h->client_secret, 0);
	scope = *h->scope ? curl_easy_escape(c, h->scope, 0) : NULL;
	if (!id || !secret || (*h->scope && !scope) ||
	    buf_appends(&form, "grant_type=client_credentials") ||
	    (scope && buf_printf(&form, "&scope=%s", scope)))
		goto out;
	setup_common(h, c, h->token_url);
	curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
	curl_easy_setopt(c, CURLOPT_USERNAME, id);
	curl_easy_setopt(c, CURLOPT_PASSWORD, secret);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, form.data);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)form.len);
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)TOKEN_MAX_BYTES);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_token_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
	cc = curl_easy_perform(c);
	if (cc != CURLE_OK) {
		log_warn("oauth_token_failed", "curl_code=%d reason=\"%s\"",
			 (int)cc, curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	doc = codec_json_parse(t.body.data ? t.body.data : "", t.body.len,
			       TOKEN_MAX_BYTES, err, sizeof(err));
	if (status != 200) {
		log_warn("oauth_token_failed", "status=%ld error=%s", status,
			 doc ? oauth_error_code(doc) : "-");
		goto out;
	}
	tok = json_object_get(doc, "access_token");
	ttl = json_object_get(doc, "expires_in");
	if (!json_is_string(tok) || !json_string_length(tok) ||
	    json_string_length(tok) > 8192 ||
	    strcspn(json_string_value(tok), "\r\n") != json_string_length(tok) ||
	    !json_is_string(json_object_get(doc, "token_type")) ||
	    strcasecmp(json_string_value(json_object_get(doc, "token_type")),
		       "Bearer") != 0 ||
	    (ttl && !(json_is_integer(ttl) && json_integer_value(ttl) > 0))) {
		log_warn("oauth_token_failed", "status=200 problem=\"%s\"",
			 doc ? "not a bearer token answer" : "answer is not JSON");
		goto out;
	}
	/* Without expires_in, assume an hour and rely on a 401. */
	expires = ttl ? (long long)json_integer_value(ttl) : 3600;
	{
		long long lead = expires / 2 < h->refresh_margin_s ?
				 expires / 2 : h->refresh_margin_s;
		struct buf line;

		buf_init(&line, 16384);
		if (buf_printf(&line, "Authorization: Bearer %s",
			       json_string_value(tok))) {
			buf_free(&line);
			goto out;
		}
		free_secret(h->token);
		h->token = cs_strdup(line.data);
		explicit_bzero(line.data, line.len);
		buf_free(&line);
		if (!h->token)
			goto out;
		h->token_refresh_ms = mono_ms() + (expires - lead) * 1000;
		h->token_gen++;
		log_info("oauth_token", "expires_in_s=%lld refresh_in_s=%lld",
			 expires, expires - lead);
	}
	h->oauth.fetched++;
	rc = CS_OK;
out:
	if (rc)
		h->oauth.failed++;
	if (doc)
		json_decref(doc);
	if (secret) {
		explicit_bzero(secret, strlen(secret));
		curl_free(secret);
	}
	curl_free(id);
	curl_free(scope);
	if (t.body.data)
		explicit_bzero(t.body.data, t.body.len);
	buf_free(&t.body);
	buf_free(&form);
	if (c)
		curl_easy_cleanup(c);
	return rc;
}

static int oauth_ready(struct http_client *h)
{
	if (!h->token_url)
		return CS_OK;
	if (h->token && mono_ms() < h->token_refresh_ms)
		return CS_OK;
	return oauth_fetch(h);
}

/* ---- batches over curl multi ---- */

static void call_done(struct http_call *call, int rc)
{
	call->rc = rc;
	call->state = CALL_DONE;
}

static int start_call(struct http_client *h, struct slot *sl,
		      struct http_call *call)
{
	struct curl_slist *tmp;

	curl_slist_free_all(sl->hdrs);
	sl->hdrs = NULL;
	for (size_t i = 0; call->headers && call->headers[i]; i++) {
		if (!(tmp = curl_slist_append(sl->hdrs, call->headers[i])))
			return CS_ENOMEM;
		sl->hdrs = tmp;
	}
	if (h->token) {
		if (!(tmp = curl_slist_append(sl->hdrs, h->token)))
			return CS_ENOMEM;
		sl->hdrs = tmp;
	}
	buf_reset(&call->resp.body);
	call->resp.etag[0] = call->resp.location[0] = '\0';
	call->resp.status = 0;
	call->resp.replayed = 0;
	call->resp.date = 0;
	call->resp.attempts++;
	sl->sink.call = call;
	sl->token_gen = h->token_gen;
	sl->sink.over = 0;
	sl->sink.retry_after_s = -1;
	setup(h, sl, call);
	if (curl_multi_add_handle(h->multi, sl->easy) != CURLM_OK)
		return CS_ENOMEM;
	sl->busy = 1;
	call->priv = sl;
	call->state = CALL_RUNNING;
	return CS_OK;
}

/* Decides what a finished transfer means: done, or another attempt
 * after a delay. */
static void finish_attempt(struct http_client *h, struct slot *sl,
			   CURLcode cc)
{
	struct http_call *call = sl->sink.call;
	const char *method = call->method;
	int attempt = call->resp.attempts;
	long retry_after = -1, delay;

	if (sl->sink.over || cc == CURLE_FILESIZE_EXCEEDED) {
		log_warn("http_response_too_large", "method=%s limit=%zu",
			 method, h->max_response);
		call_done(call, CS_ELIMIT);
		return;
	}
	if (cc == CURLE_OK) {
		curl_easy_getinfo(sl->easy, CURLINFO_RESPONSE_CODE,
				  &call->resp.status);
		if (call->resp.status == 401 && h->token_url &&
		    !call->auth_retried) {
			/* The token was revoked or expired early: fetch a new
			 * one (once per request) and send again. */
			call->auth_retried = 1;
			if (sl->token_gen == h->token_gen) {
				h->oauth.rejected++;
				h->token_refresh_ms = 0;
				log_info("oauth_token_rejected", "method=%s", method);
			}
			call->state = CALL_WAITING;
			call->due_ms = mono_ms();
			call->resp.attempts--;
			return;
		}
		if (!http_status_retryable(call->resp.status)) {
			call_done(call, CS_OK);
			return;
		}
		retry_after = sl->sink.retry_after_s;
	} else if (!curl_code_retryable(cc)) {
		/* curl's fixed text for the code: no URL, no data. */
		log_warn("http_failed", "method=%s curl_code=%d reason=\"%s\"",
			 method, (int)cc, curl_easy_strerror(cc));
		call_done(call, CS_EIO);
		return;
	}
	if (attempt > h->max_retries) {
		log_warn("http_retries_exhausted", "method=%s attempts=%d "
			 "status=%ld curl_code=%d reason=\"%s\"", method,
			 attempt, call->resp.status, (int)cc,
			 cc == CURLE_OK ? "retryable status" :
			 curl_easy_strerror(cc));
		call_done(call, cc == CURLE_OK ? CS_OK : CS_EIO);
		return;
	}
	/* No usable Retry-After (-1): jittered backoff; else clamped. */
	delay = http_backoff_ms(attempt, BACKOFF_BASE_MS, BACKOFF_CAP_MS,
				retry_after >= 0 ?
				(retry_after > 3600 ? 3600 : retry_after) * 1000 : -1,
				(double)rand_r(&h->seed) / ((double)RAND_MAX + 1.0));
	log_info("http_retry", "method=%s attempt=%d status=%ld "
		 "curl_code=%d delay_ms=%ld", method, attempt,
		 call->resp.status, (int)cc, delay);
	call->state = CALL_WAITING;
	call->due_ms = mono_ms() + delay;
}

static struct slot *free_slot(struct http_client *h)
{
	for (size_t i = 0; i < h->nslots; i++)
		if (!h->slots[i].busy)
			return &h->slots[i];
	return NULL;
}

static void release(struct http_client *h, struct slot *sl)
{
	curl_multi_remove_handle(h->multi, sl->easy);
	sl->busy = 0;
	sl->sink.call->priv = NULL;
}

int http_request_many(struct http_client *h, struct http_call *calls,
		      size_t n)
{
	size_t left = n;
	long long start = mono_ms();
	int auth_failed = 0;	/* no token this batch: the rest fail too */

	for (size_t i = 0; i < n; i++) {
		memset(&calls[i].resp, 0, sizeof(calls[i].resp));
		buf_init(&calls[i].resp.body, h->max_response);
		calls[i].rc = CS_EIO;
		calls[i].state = CALL_WAITING;
		calls[i].auth_retried = 0;
		calls[i].due_ms = start;
		calls[i].priv = NULL;
	}
	while (left) {
		long long now = mono_ms(), next_due = -1;
		int running = 0, freed, cancelled = h->cancel && *h->cancel;
		struct CURLMsg *msg;
		int queued;

		for (size_t i = 0; i < n; i++) {
			struct http_call *call = &calls[i];
			struct slot *sl;

			if (call->state != CALL_WAITING)
				continue;
			if (cancelled) {
				call_done(call, CS_EIO);
				left--;
				continue;
			}
			if (call->due_ms > now) {
				if (next_due < 0 || call->due_ms < next_due)
					next_due = call->due_ms;
				continue;
			}
			if (!(sl = free_slot(h)))
				break;
			if (auth_failed || oauth_ready(h) != CS_OK) {
				auth_failed = 1;
				call_done(call, CS_EIO);
				left--;
				continue;
			}
			if (start_call(h, sl, call) != CS_OK) {
				call_done(call, CS_ENOMEM);
				left--;
			}
		}
		if (cancelled) {
			for (size_t i = 0; i < h->nslots; i++)
				if (h->slots[i].busy) {
					call_done(h->slots[i].sink.call, CS_EIO);
					release(h, &h->slots[i]);
					left--;
				}
			log_warn("http_cancelled", "requests=%zu", n);
			break;
		}
		if (!left)
			break;
		curl_multi_perform(h->multi, &running);
		freed = 0;
		while ((msg = curl_multi_info_read(h->multi, &queued))) {
			struct slot *sl = NULL;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
					  (char **)(void *)&sl);
			if (!sl)
				continue;
			finish_attempt(h, sl, msg->data.result);
			if (sl->sink.call->state == CALL_DONE)
				left--;
			release(h, sl);
			freed++;
		}
		/* A slot just came free: start the next waiting request at once
		 * rather than sleep with nothing in flight to wake us. */
		if (left && !freed) {
			/* Until a transfer needs attention or the next retry is
			 * due; at most a second, so a stop request is seen. */
			long wait = 1000;

			now = mono_ms();
			if (next_due >= 0 && free_slot(h))
				wait = next_due <= now ? 0 :
				       next_due - now < 1000 ? (long)(next_due - now) : 1000;
			if (wait > 0)
				curl_multi_poll(h->multi, NULL, 0, (int)wait, NULL);
		}
	}
	return CS_OK;
}

int http_request(struct http_client *h, const char *method, const char *url,
		 const char *const *headers, const char *body, size_t len,
		 struct http_response *resp)
{
	struct http_call call;

	memset(&call, 0, sizeof(call));
	call.method = method;
	call.url = url;
	call.headers = headers;
	call.body = body;
	call.len = len;
	if (http_request_many(h, &call, 1)) {
		http_response_clear(&call.resp);
		memset(resp, 0, sizeof(*resp));
		return CS_ENOMEM;
	}
	*resp = call.resp;
	return call.rc;
}

void http_response_clear(struct http_response *r)
{
	buf_free(&r->body);
}
