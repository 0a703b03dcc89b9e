/* remote.c - the REST/JSON council adapter over transport_http. */
#include "remote.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"
#include "transport_http.h"

struct remote {
	struct http_client *http;
	char *base;		/* remote.url without a trailing slash */
	size_t max_response;
	struct remote_stats stats;
};

struct remote *remote_new(const struct config *c, char *err, size_t errsz)
{
	struct remote *r = calloc(1, sizeof(*r));
	size_t n;

	if (!r)
		return NULL;
	r->http = http_client_new(c, err, errsz);
	r->base = cs_strdup(c->remote_url);
	if (!r->http || !r->base) {
		remote_free(r);
		return NULL;
	}
	n = strlen(r->base);
	while (n && r->base[n - 1] == '/')
		r->base[--n] = '\0';
	r->max_response = (size_t)c->remote_max_response_bytes;
	return r;
}

void remote_free(struct remote *r)
{
	if (!r)
		return;
	http_client_free(r->http);
	free(r->base);
	free(r);
}

void remote_get_stats(const struct remote *r, struct remote_stats *out)
{
	*out = r->stats;
}

static int do_request(struct remote *r, const char *method, const char *url,
		      const char *const *headers, const char *body,
		      struct http_response *resp)
{
	int rc = http_request(r->http, method, url, headers, body,
			      body ? strlen(body) : 0, resp);

	r->stats.requests++;
	r->stats.retries += resp->attempts > 1 ? (unsigned long)resp->attempts - 1 : 0;
	r->stats.replays += (unsigned long)resp->replayed;
	return rc;
}

/* Parses a response body as one JSON object. */
static json_t *parse_body(struct remote *r, const struct http_response *resp,
			  const char *what)
{
	char err[160];
	json_t *doc = codec_json_parse(resp->body.data ? resp->body.data : "",
				       resp->body.len, r->max_response, err,
				       sizeof(err));

	if (!doc) {
		log_warn("remote_bad_payload", "what=%s problem=\"%s\"", what, err);
		return NULL;
	}
	if (!json_is_object(doc)) {
		log_warn("remote_bad_payload", "what=%s problem=\"not an object\"",
			 what);
		json_decref(doc);
		return NULL;
	}
	return doc;
}

static int decode_one(const struct map_entity *e, json_t *doc,
		      struct codec_item *out)
{
	char err[256];

	if (codec_json_decode(e, doc, out, err, sizeof(err))) {
		log_warn("remote_record_rejected", "entity=%s problem=\"%s\"",
			 e->name, err);
		return CS_EINVAL;
	}
	return CS_OK;
}

static int status_error(const char *what, const char *entity, long status)
{
	log_warn("remote_http_status", "what=%s entity=%s status=%ld", what,
		 entity, status);
	if (status == 404 || status == 410)
		return CS_ENOTFOUND;
	if (status == 412)
		return CS_ECONFLICT;
	return status >= 400 && status < 500 ? CS_EINVAL : CS_EIO;
}

/* base + "/" + the entity's path template with {id}, {since}, {limit}
 * filled in (values escaped as path segments); without a template, the
 * default layout under the collection name. */
static int expand_path(struct remote *r, const struct map_entity *e,
		       const char *tpl, const char *deflt, const char *id,
		       const char *since, long limit, struct buf *url)
{
	char lim[32];
	const char *t = tpl ? tpl : deflt;

	snprintf(lim, sizeof(lim), "%ld", limit);
	if (buf_printf(url, "%s/", r->base))
		return CS_ENOMEM;
	while (*t) {
		const char *val = NULL;
		size_t skip = 0;

		if (!strncmp(t, "{collection}", 12))
			val = e->remote_collection, skip = 12;
		else if (!strncmp(t, "{id}", 4))
			val = id, skip = 4;
		else if (!strncmp(t, "{since}", 7))
			val = since, skip = 7;
		else if (!strncmp(t, "{limit}", 7))
			val = lim, skip = 7;
		if (skip) {
			char *esc = http_escape_segment(val ? val : "");
			int rc = esc ? buf_appends(url, esc) : CS_ENOMEM;
			free(esc);
			if (rc)
				return CS_ENOMEM;
			t += skip;
		} else {
			if (buf_append(url, t, 1))
				return CS_ENOMEM;
			t++;
		}
	}
	return CS_OK;
}

int remote_changes(struct remote *r, const struct map_entity *e,
		   const char *since, long limit, struct remote_page *page)
{
	static const char *const hdrs[] = { "Accept: application/json", NULL };
	struct http_response resp;
	struct buf url;
	json_t *doc = NULL, *items, *v;
	int rc;

	memset(page, 0, sizeof(*page));
	buf_init(&url, 8192);
	if (expand_path(r, e, e->path_changes,
			"{collection}/changes?since={since}&limit={limit}", NULL,
			since && *since ? since : "0", limit, &url)) {
		buf_free(&url);
		return CS_ENOMEM;
	}
	rc = do_request(r, "GET", url.data, hdrs, NULL, &resp);
	buf_free(&url);
	if (rc)
		goto out;
	if (resp.status != 200) {
		rc = status_error("changes", e->name, resp.status);
		goto out;
	}
	rc = CS_EINVAL;
	doc = parse_body(r, &resp, "changes");
	if (!doc)
		goto out;
	items = codec_json_pointer_get(doc, e->feed_items_ptr);
	v = codec_json_pointer_get(doc, e->feed_next_ptr);
	if (!json_is_array(items) || !(json_is_string(v) || json_is_integer(v))) {
		log_warn("remote_bad_payload", "what=changes entity=%s "
			 "problem=\"feed without items array or next cursor\"",
			 e->name);
		goto out;
	}
	page->next = json_is_string(v) ? cs_strdup(json_string_value(v)) : NULL;
	if (json_is_integer(v)) {
		char tmp[32];

		snprintf(tmp, sizeof(tmp), "%lld", (long long)json_integer_value(v));
		page->next = cs_strdup(tmp);
	}
	page->more = json_is_true(codec_json_pointer_get(doc, e->feed_more_ptr));
	page->items = calloc(json_array_size(items) + 1, sizeof(*page->items));
	if (!page->items || !page->next) {
		rc = CS_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < json_array_size(items); i++) {
		if (decode_one(e, json_array_get(items, i), &page->items[page->n]))
			page->rejected++;
		else
			page->n++;
	}
	rc = CS_OK;
out:
	json_decref(doc);
	http_response_clear(&resp);
	if (rc)
		remote_page_clear(page);
	return rc;
}

void remote_page_clear(struct remote_page *p)
{
	for (size_t i = 0; i < p->n; i++)
		codec_item_clear(&p->items[i]);
	free(p->items);
	free(p->next);
	memset(p, 0, sizeof(*p));
}

static int record_url(struct remote *r, const struct map_entity *e,
		      const char *id, struct buf *url)
{
	buf_init(url, 8192);
	return id ? expand_path(r, e, e->path_item, "{collection}/{id}", id,
				NULL, 0, url)
		  : expand_path(r, e, e->path_create, "{collection}", NULL, NULL,
				0, url);
}

/* Handles a 200/201 answer carrying the stored record. */
static int finish_record(struct remote *r, const struct map_entity *e,
			 struct http_response *resp, const char *what,
			 struct codec_item *out)
{
	json_t *doc = parse_body(r, resp, what);
	int rc;

	if (!doc)
		return CS_EINVAL;
	rc = decode_one(e, doc, out);
	json_decref(doc);
	if (rc == CS_OK && !out->version && resp->etag[0]) {
		/* Fall back to the ETag, without its quotes and W/ prefix. */
		const char *t = resp->etag;
		size_t n;

		if (!strncmp(t, "W/", 2))
			t += 2;
		n = strlen(t);
		if (n >= 2 && t[0] == '"' && t[n - 1] == '"')
			out->version = cs_strndup(t + 1, n - 2);
		else
			out->version = cs_strdup(t);
	}
	return rc;
}

int remote_get(struct remote *r, const struct map_entity *e, const char *id,
	       struct codec_item *out)
{
	static const char *const hdrs[] = { "Accept: application/json", NULL };
	struct http_response resp;
	struct buf url;
	int rc;

	memset(out, 0, sizeof(*out));
	if (record_url(r, e, id, &url)) {
		buf_free(&url);
		return CS_ENOMEM;
	}
	rc = do_request(r, "GET", url.data, hdrs, NULL, &resp);
	buf_free(&url);
	if (rc == CS_OK)
		rc = resp.status == 200 ? finish_record(r, e, &resp, "get", out)
					: status_error("get", e->name, resp.status);
	http_response_clear(&resp);
	return rc;
}

static int send_record(struct remote *r, const struct map_entity *e,
		       const char *method, const char *id, const char *if_match,
		       const struct record *rec, const json_t *template,
		       const char *idem, struct codec_item *out)
{
	char h_idem[300], h_match[200];
	const char *hdrs[5];
	struct http_response resp;
	struct buf url;
	json_t *doc;
	char *body = NULL;
	int n = 0, rc = CS_ENOMEM;

	memset(out, 0, sizeof(*out));
	memset(&resp, 0, sizeof(resp));
	buf_init(&url, 8192);
	doc = codec_json_encode(e, rec, template);
	if (!doc)
		goto out;
	/* Sorted keys and compact output: a retry sends identical bytes. */
	body = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(doc);
	if (!body || record_url(r, e, id, &url))
		goto out;
	hdrs[n++] = "Content-Type: application/json";
	hdrs[n++] = "Accept: application/json";
	snprintf(h_idem, sizeof(h_idem), "Idempotency-Key: %s", idem);
	hdrs[n++] = h_idem;
	if (if_match) {
		snprintf(h_match, sizeof(h_match), "If-Match: \"%s\"", if_match);
		hdrs[n++] = h_match;
	}
	hdrs[n] = NULL;
	rc = do_request(r, method, url.data, hdrs, body, &resp);
	if (rc)
		goto out;
	if (resp.status == 200 || resp.status == 201)
		rc = finish_record(r, e, &resp, method, out);
	else
		rc = status_error(method, e->name, resp.status);
out:
	free(body);
	buf_free(&url);
	http_response_clear(&resp);
	return rc;
}

int remote_create(struct remote *r, const struct map_entity *e,
		  const struct record *rec, const char *idempotency_key,
		  struct codec_item *out)
{
	return send_record(r, e, "POST", NULL, NULL, rec, NULL,
			   idempotency_key, out);
}

int remote_update(struct remote *r, const struct map_entity *e,
		  const char *id, const char *if_match,
		  const struct record *rec, const json_t *template,
		  const char *idempotency_key, struct codec_item *out)
{
	return send_record(r, e, "PUT", id, if_match, rec, template,
			   idempotency_key, out);
}
