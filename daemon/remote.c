/* remote.c - the council's web service (JSON or XML records, as the
 * mapping's codec says) over transport_http. */
#include "remote.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "codec.h"
#include "codec_xml.h"
#include "log.h"
#include "transport_http.h"

struct remote {
	struct http_client *http;
	char *base;		/* remote.url without a trailing slash */
	size_t max_response;
	struct remote_stats stats;
	long long clock_offset;	/* council's Date minus our clock, seconds */
	int clock_known;
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

void remote_set_cancel(struct remote *r, volatile sig_atomic_t *flag)
{
	http_client_set_cancel(r->http, flag);
}

void remote_get_stats(const struct remote *r, struct remote_stats *out)
{
	*out = r->stats;
}

int remote_clock_offset(const struct remote *r, long long *secs)
{
	*secs = r->clock_offset;
	return r->clock_known;
}


static void note_clock(struct remote *r, const struct http_response *resp)
{
	if (resp->date > 0 && resp->received > 0) {
		r->clock_offset = resp->date - resp->received;
		r->clock_known = 1;
	}
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
	if (rc == CS_OK)
		note_clock(r, resp);
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

/* Keeps a rejected feed item's id and reason for the quarantine. */
static void page_reject(struct remote_page *page, size_t cap, const char *id,
			const char *reason)
{
	if (page->rejected < cap && page->rejects) {
		struct remote_reject *rj = &page->rejects[page->rejected];

		rj->remote_id = id && *id && strlen(id) <= 200 ? cs_strdup(id) : NULL;
		rj->reason = cs_strdup(reason);
	}
	page->rejected++;
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

static const char *const accept_json[] = { "Accept: application/json", NULL };
static const char *const accept_xml[] = { "Accept: application/xml", NULL };

static int is_xml(const struct map_entity *e)
{
	return e->codec == CODEC_XML;
}

static xmlDocPtr parse_xml_body(struct remote *r,
				const struct http_response *resp,
				const char *what)
{
	char err[200];
	xmlDocPtr d = codec_xml_parse(resp->body.data ? resp->body.data : "",
				      resp->body.len, r->max_response, err,
				      sizeof(err));

	if (!d)
		log_warn("remote_bad_payload", "what=%s problem=\"%s\"", what,
			 err);
	return d;
}

/* The single value of XPath expr relative to node (*out NULL when there
 * is none); more than one is an error. */
static int xml_value(xmlNodePtr node, const char *expr, char **out,
		     char *err, size_t errsz)
{
	void *comp;
	char **vals = NULL;
	size_t n = 0;
	int rc;

	*out = NULL;
	if (!expr)
		return CS_OK;
	if (!(comp = codec_xml_xpath_compile(expr, err, errsz)))
		return CS_EINVAL;
	rc = codec_xml_get(node, comp, &vals, &n, err, errsz);
	codec_xml_xpath_free(comp);
	if (rc)
		return rc;
	if (n > 1) {
		snprintf(err, errsz, "more than one value at %s", expr);
		rc = CS_EINVAL;
	} else if (n == 1) {
		*out = vals[0];
		vals[0] = NULL;
	}
	codec_xml_vals_free(vals, n);
	return rc;
}

/* One council record element; with keep, a copy of it is kept in
 * out->xdoc to write an update on top of. */
static int decode_xml_item(const struct map_entity *e, xmlNodePtr node,
			   int keep, struct codec_item *out, char *err,
			   size_t errsz)
{
	char *del = NULL, fe[200];

	memset(out, 0, sizeof(*out));
	if (xml_value(node, e->remote_id_loc, &out->remote_id, err, errsz))
		goto fail;
	if (!out->remote_id || !*out->remote_id) {
		snprintf(err, errsz, "record has no usable id at %s",
			 e->remote_id_loc);
		goto fail;
	}
	if (xml_value(node, e->remote_version_loc, &out->version, fe,
		      sizeof(fe)) ||
	    xml_value(node, e->remote_deleted_loc, &del, fe, sizeof(fe))) {
		snprintf(err, errsz, "record %s: %s", out->remote_id, fe);
		goto fail;
	}
	out->deleted = del && (!strcmp(del, "true") || !strcmp(del, "1"));
	free(del);
	/* A modification time that does not read is only absent. */
	if (xml_value(node, e->remote_modified_loc, &out->modified, fe,
		      sizeof(fe)))
		out->modified = NULL;
	if (keep) {
		xmlNodePtr copy;

		out->xdoc = xmlNewDoc((const xmlChar *)"1.0");
		copy = out->xdoc ? xmlDocCopyNode(node, out->xdoc, 1) : NULL;
		if (!copy) {
			snprintf(err, errsz, "out of memory");
			goto fail;
		}
		xmlDocSetRootElement(out->xdoc, copy);
	}
	if (!out->deleted &&
	    codec_xml_decode_record(e, node, &out->rec, fe, sizeof(fe))) {
		snprintf(err, errsz, "record %s: %s", out->remote_id, fe);
		goto fail;
	}
	return CS_OK;
fail:
	codec_item_clear(out);
	return CS_EINVAL;
}

/* The XML change feed: record elements at feed/items, the cursor at
 * feed/next, "true" or "1" at feed/more. */
static int xml_page(struct remote *r, const struct map_entity *e,
		    const struct http_response *resp, struct remote_page *page)
{
	xmlDocPtr doc = parse_xml_body(r, resp, "changes");
	xmlNodePtr root, *nodes = NULL;
	char err[256], *more = NULL;
	void *comp = NULL;
	size_t n = 0;
	int rc = CS_EINVAL;

	if (!doc)
		return CS_EINVAL;
	root = xmlDocGetRootElement(doc);
	if (!(comp = codec_xml_xpath_compile(e->feed_items_ptr, err, sizeof(err))) ||
	    codec_xml_items(root, comp, &nodes, &n, err, sizeof(err)) ||
	    xml_value(root, e->feed_next_ptr, &page->next, err, sizeof(err)) ||
	    xml_value(root, e->feed_more_ptr, &more, err, sizeof(err))) {
		log_warn("remote_bad_payload", "what=changes entity=%s "
			 "problem=\"%s\"", e->name, err);
		goto out;
	}
	if (!page->next) {
		log_warn("remote_bad_payload", "what=changes entity=%s "
			 "problem=\"feed without a next cursor\"", e->name);
		goto out;
	}
	page->more = more && (!strcmp(more, "true") || !strcmp(more, "1"));
	page->items = calloc(n + 1, sizeof(*page->items));
	page->rejects = calloc(n + 1, sizeof(*page->rejects));
	if (!page->items || !page->rejects) {
		rc = CS_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (decode_xml_item(e, nodes[i], 0, &page->items[page->n], err,
				    sizeof(err))) {
			char *id = NULL, ierr[64];

			if (xml_value(nodes[i], e->remote_id_loc, &id, ierr,
				      sizeof(ierr)))
				id = NULL;
			log_warn("remote_record_rejected", "entity=%s problem=\"%s\"",
				 e->name, err);
			page_reject(page, n, id, err);
			free(id);
		} else {
			page->n++;
		}
	}
	rc = CS_OK;
out:
	free(more);
	free(nodes);
	codec_xml_xpath_free(comp);
	xmlFreeDoc(doc);
	return rc;
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
	rc = do_request(r, "GET", url.data, is_xml(e) ? accept_xml : accept_json,
			NULL, &resp);
	buf_free(&url);
	if (rc)
		goto out;
	if (resp.status != 200) {
		rc = status_error("changes", e->name, resp.status);
		goto out;
	}
	if (is_xml(e)) {
		rc = xml_page(r, e, &resp, page);
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
	page->rejects = calloc(json_array_size(items) + 1, sizeof(*page->rejects));
	if (!page->rejects) {
		rc = CS_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < json_array_size(items); i++) {
		json_t *it = json_array_get(items, i);
		char err[256];

		if (codec_json_decode(e, it, &page->items[page->n], err,
				      sizeof(err)) == CS_OK) {
			page->n++;
			continue;
		}
		{
			json_t *idv = json_is_object(it) ?
				      codec_json_pointer_get(it, e->remote_id_loc) : NULL;
			char idbuf[32];
			const char *id = json_string_value(idv);

			if (json_is_integer(idv)) {
				snprintf(idbuf, sizeof(idbuf), "%lld",
					 (long long)json_integer_value(idv));
				id = idbuf;
			}
			log_warn("remote_record_rejected", "entity=%s problem=\"%s\"",
				 e->name, err);
			page_reject(page, json_array_size(items), id, err);
		}
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
	for (size_t i = 0; p->rejects && i < p->rejected; i++) {
		free(p->rejects[i].remote_id);
		free(p->rejects[i].reason);
	}
	free(p->rejects);
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
	int rc;

	if (is_xml(e)) {
		xmlDocPtr d = parse_xml_body(r, resp, what);
		char err[256];

		if (!d)
			return CS_EINVAL;
		rc = decode_xml_item(e, xmlDocGetRootElement(d), 1, out, err,
				     sizeof(err));
		if (rc)
			log_warn("remote_record_rejected", "entity=%s "
				 "problem=\"%s\"", e->name, err);
		xmlFreeDoc(d);
	} else {
		json_t *doc = parse_body(r, resp, what);

		if (!doc)
			return CS_EINVAL;
		rc = decode_one(e, doc, out);
		json_decref(doc);
	}
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

/* The XML body of a create (a new record element) or an update (written
 * on top of the council's current element). NULL with err set. */
static char *encode_xml(const struct map_entity *e, const struct record *rec,
			const struct codec_item *cur, char *err, size_t errsz)
{
	xmlDocPtr d;
	xmlNodePtr root = NULL;
	char *x = NULL, *body = NULL;
	size_t len = 0;

	if (cur && cur->xdoc) {
		d = xmlCopyDoc(cur->xdoc, 1);
		root = d ? xmlDocGetRootElement(d) : NULL;
	} else {
		d = codec_xml_new_record_doc(e, &root);
	}
	if (!d || !root) {
		snprintf(err, errsz, "out of memory");
	} else if (codec_xml_encode_record(rec, root, 0, err, errsz) == CS_OK) {
		if (codec_xml_serialise(root, &x, &len) == CS_OK) {
			body = cs_strndup(x, len);
			xmlFree(x);
		}
		if (!body)
			snprintf(err, errsz, "out of memory");
	}
	if (d)
		xmlFreeDoc(d);
	return body;
}

static int encode_body(const struct map_entity *e, const struct remote_op *op,
		       char **body);

/* One operation made ready to send. */
struct prepared {
	struct buf url;
	char *body;
	char h_idem[300];
	char h_match[200];
	const char *hdrs[5];
};

static int prepare(struct remote *r, const struct remote_op *op,
		   struct prepared *pr)
{
	const struct map_entity *e = op->e;
	int n = 0, xml = is_xml(e);

	if (record_url(r, e, op->kind == REMOTE_CREATE ? NULL : op->id, &pr->url))
		return CS_ENOMEM;
	if (op->kind == REMOTE_GET) {
		pr->hdrs[n++] = xml ? accept_xml[0] : accept_json[0];
		pr->hdrs[n] = NULL;
		return CS_OK;
	}
	if (op->kind == REMOTE_DELETE) {
		pr->hdrs[n++] = xml ? accept_xml[0] : accept_json[0];
	} else if (op->body) {
		/* Stored in the outbox before the first send: the same bytes
		 * every time. */
		if (!(pr->body = cs_strdup(op->body)))
			return CS_ENOMEM;
	} else if (encode_body(e, op, &pr->body)) {
		return CS_EINVAL;
	}
	if (op->kind != REMOTE_DELETE) {
		pr->hdrs[n++] = xml ? "Content-Type: application/xml"
				    : "Content-Type: application/json";
		pr->hdrs[n++] = xml ? accept_xml[0] : accept_json[0];
	}
	snprintf(pr->h_idem, sizeof(pr->h_idem), "Idempotency-Key: %s",
		 op->idempotency_key);
	pr->hdrs[n++] = pr->h_idem;
	if (op->kind != REMOTE_CREATE && op->if_match) {
		snprintf(pr->h_match, sizeof(pr->h_match), "If-Match: \"%s\"",
			 op->if_match);
		pr->hdrs[n++] = pr->h_match;
	}
	pr->hdrs[n] = NULL;
	return CS_OK;
}

/* The body of a create or an update, as prepare() would send it. */
static int encode_body(const struct map_entity *e, const struct remote_op *op,
		       char **body)
{
	*body = NULL;
	if (is_xml(e)) {
		char err[256];

		if (!(*body = encode_xml(e, op->rec, op->cur, err,
					 sizeof(err)))) {
			log_warn("remote_encode_failed", "entity=%s problem=\"%s\"",
				 e->name, err);
			return CS_EINVAL;
		}
	} else {
		json_t *doc = codec_json_encode(e, op->rec,
						op->cur ? op->cur->doc : NULL);

		if (!doc)
			return CS_ENOMEM;
		/* Sorted keys, compact: a retry sends identical bytes. */
		*body = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
		json_decref(doc);
		if (!*body)
			return CS_ENOMEM;
	}
	return CS_OK;
}

int remote_encode(struct remote *r, const struct remote_op *op, char **body)
{
	(void)r;
	*body = NULL;
	if (op->kind == REMOTE_DELETE)
		return (*body = cs_strdup("")) ? CS_OK : CS_ENOMEM;
	if (op->kind == REMOTE_GET)
		return CS_EINVAL;
	return encode_body(op->e, op, body);
}

static const char *const op_names[] = { "get", "POST", "PUT", "DELETE" };
static const char *const methods[] = { "GET", "POST", "PUT", "DELETE" };

int remote_run(struct remote *r, struct remote_op *ops, size_t n)
{
	struct prepared *pr = calloc(n ? n : 1, sizeof(*pr));
	struct http_call *calls = calloc(n ? n : 1, sizeof(*calls));
	size_t m = 0;
	int rc = CS_OK;

	if (!pr || !calls) {
		rc = CS_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct remote_op *op = &ops[i];

		memset(&op->out, 0, sizeof(op->out));
		buf_init(&pr[i].url, 8192);
		op->rc = prepare(r, op, &pr[i]);
		if (op->rc)
			continue;
		calls[m].method = methods[op->kind];
		calls[m].url = pr[i].url.data;
		calls[m].headers = pr[i].hdrs;
		calls[m].body = pr[i].body;
		calls[m].len = pr[i].body ? strlen(pr[i].body) : 0;
		calls[m].user = op;
		m++;
	}
	if (m && http_request_many(r->http, calls, m)) {
		rc = CS_ENOMEM;
		m = 0;
	}
	for (size_t j = 0; j < m; j++) {
		struct http_call *c = &calls[j];
		struct remote_op *op = c->user;
		const char *what = op_names[op->kind];

		r->stats.requests++;
		r->stats.retries += c->resp.attempts > 1 ?
				    (unsigned long)c->resp.attempts - 1 : 0;
		r->stats.replays += (unsigned long)c->resp.replayed;
		if (c->rc == CS_OK)
			note_clock(r, &c->resp);
		if (c->rc)
			op->rc = c->rc;
		else if (op->kind == REMOTE_DELETE)
			op->rc = c->resp.status == 200 || c->resp.status == 204 ?
				 CS_OK : status_error(what, op->e->name,
						      c->resp.status);
		else if (c->resp.status == 200 ||
			 (op->kind != REMOTE_GET && c->resp.status == 201))
			op->rc = finish_record(r, op->e, &c->resp, what, &op->out);
		else
			op->rc = status_error(what, op->e->name, c->resp.status);
		http_response_clear(&c->resp);
	}
out:
	for (size_t i = 0; pr && i < n; i++) {
		buf_free(&pr[i].url);
		free(pr[i].body);
	}
	if (rc)
		for (size_t i = 0; i < n; i++)
			ops[i].rc = ops[i].rc ? ops[i].rc : rc;
	free(pr);
	free(calls);
	return rc;
}

static int run_one(struct remote *r, struct remote_op *op,
		   struct codec_item *out)
{
	int rc = remote_run(r, op, 1);

	*out = op->out;
	return rc ? rc : op->rc;
}

int remote_get(struct remote *r, const struct map_entity *e, const char *id,
	       struct codec_item *out)
{
	struct remote_op op = { .kind = REMOTE_GET, .e = e, .id = id };

	return run_one(r, &op, out);
}

int remote_create(struct remote *r, const struct map_entity *e,
		  const struct record *rec, const char *idempotency_key,
		  struct codec_item *out)
{
	struct remote_op op = { .kind = REMOTE_CREATE, .e = e, .rec = rec,
				.idempotency_key = idempotency_key };

	return run_one(r, &op, out);
}

int remote_update(struct remote *r, const struct map_entity *e,
		  const char *id, const char *if_match,
		  const struct record *rec, const struct codec_item *cur,
		  const char *idempotency_key, struct codec_item *out)
{
	struct remote_op op = { .kind = REMOTE_UPDATE, .e = e, .id = id,
				.if_match = if_match, .rec = rec, .cur = cur,
				.idempotency_key = idempotency_key };

	return run_one(r, &op, out);
}
