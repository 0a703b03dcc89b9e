#include "api.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "idem.h"
#include "oauth.h"
#include "park.h"
#include "reqlog.h"
#include "store.h"
#include "xmlrec.h"

#define DEFAULT_LIMIT 100
#define MAX_LIMIT 1000
#define MAX_SEGMENTS 4
#define MIN_STATUS 100
#define MAX_STATUS 599
#define XML_TYPE "application/xml"
#define TOKEN_PATH "/oauth/token"
#define BEARER_CHALLENGE "Bearer error=\"invalid_token\""
#define BASIC_CHALLENGE "Basic realm=\"lcs-sim\""

static const char *const known_methods[] = {
	"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS",
};
#define N_KNOWN_METHODS (sizeof known_methods / sizeof known_methods[0])

struct stats {
	unsigned long long requests;
	unsigned long long writes; /* POST, PUT, PATCH, DELETE outside /_sim/ */
	unsigned long long replays;
	unsigned long long by_status[MAX_STATUS + 1];
	/* Last slot counts every method not listed in known_methods. */
	unsigned long long by_method[N_KNOWN_METHODS + 1];
	unsigned long long tokens_issued;
	unsigned long long unauthorized; /* refused for want of a valid token */
	unsigned long long max_inflight;
	/* Creates, updates and deletes that changed stored data. */
	unsigned long long created;
	unsigned long long updated;
	unsigned long long deleted;
};

struct api {
	pthread_mutex_t lock;
	struct store *store;
	json_t *fixture;
	struct cin_batch cin; /* the XML fixture's records */
	const char *extract_dir;
	const char *import_dir;
	bool oauth_on;
	struct oauth oauth;
	struct idem_table idem;
	struct stats stats;
	unsigned long long inflight; /* /api/ and /xml/ requests in progress */
	struct fault_table faults;
	struct reqlog reqlog;
	struct simclock clock;
	long long clock_offset_start; /* --clock-offset, restored by reset */
};

struct route {
	char *buf;
	const char *seg[MAX_SEGMENTS];
	size_t nseg; /* MAX_SEGMENTS + 1 when the path has more */
};

static bool streq(const char *a, const char *b)
{
	return strcmp(a, b) == 0;
}

void api_reply_free(struct api_reply *reply)
{
	free(reply->body);
	free(reply->etag);
	free(reply->location);
	reply->body = NULL;
	reply->etag = NULL;
	reply->location = NULL;
}

/* Steals value. Falls back to a bodiless 500 when it cannot be encoded. */
static void reply_json(struct api_reply *reply, unsigned int status,
		       json_t *value)
{
	free(reply->body);
	reply->body = value != NULL ? json_dumps(value, JSON_COMPACT) : NULL;
	reply->status = reply->body != NULL ? status : 500;
	json_decref(value);
}

/* Error messages are fixed strings, never request data. */
static void reply_error(struct api_reply *reply, unsigned int status,
			const char *message)
{
	reply_json(reply, status, json_pack("{s:s}", "error", message));
}

static char *format_etag(long long version)
{
	char buf[32];
	size_t n;
	char *etag;

	snprintf(buf, sizeof buf, "\"%lld\"", version);
	n = strlen(buf) + 1;
	etag = malloc(n);
	if (etag != NULL)
		memcpy(etag, buf, n);
	return etag;
}

/* An XML record as a document; a bodiless 500 when it cannot be made. */
static void reply_xml_record(struct api_reply *reply, unsigned int status,
			     const struct record *r)
{
	struct xmlrec_owned own;
	char modified[SIMCLOCK_TEXT_SIZE];

	store_xml_owned(r, &own, modified);
	free(reply->body);
	reply->body = xmlrec_render_record(&own, r->xml, true, NULL);
	reply->status = reply->body != NULL ? status : 500;
	if (reply->body != NULL)
		reply->content_type = XML_TYPE;
}

static void reply_record(struct api_reply *reply, unsigned int status,
			 const struct record *r)
{
	if (r->xml != NULL)
		reply_xml_record(reply, status, r);
	else
		reply_json(reply, status, store_render(r));
	if (reply->status != status)
		return;
	reply->etag = format_etag(r->version);
	if (reply->etag == NULL) {
		api_reply_free(reply);
		reply->status = 500;
	}
}

static void reply_precondition_failed(struct api_reply *reply,
				      const struct record *r)
{
	char version[32];

	snprintf(version, sizeof version, "%lld", r->version);
	reply_json(reply, 412,
		   json_pack("{s:s,s:s}", "error", "precondition failed",
			     "version", version));
	if (reply->status == 412)
		reply->etag = format_etag(r->version);
}

static void reply_method_not_allowed(struct api_reply *reply,
				     const char *allow)
{
	reply_error(reply, 405, "method not allowed");
	reply->allow = allow;
}

/* If-Match is "*" or a comma-separated list of entity tags; only a strong
 * tag equal to the current ETag matches (RFC 9110, section 13.1.1). */
static bool if_match_ok(const char *header, long long version)
{
	char want[32];
	size_t want_len;
	const char *p = header;

	snprintf(want, sizeof want, "\"%lld\"", version);
	want_len = strlen(want);
	while (*p != '\0') {
		const char *start;
		const char *end;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		start = p;
		while (*p != '\0' && *p != ',')
			p++;
		end = p;
		while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		if ((end - start == 1 && *start == '*') ||
		    ((size_t)(end - start) == want_len &&
		     memcmp(start, want, want_len) == 0))
			return true;
	}
	return false;
}

static json_t *parse_body(const struct api_request *req,
			  struct api_reply *reply)
{
	json_error_t jerr;
	json_t *body;

	body = json_loadb(req->body != NULL ? req->body : "", req->body_len,
			  JSON_REJECT_DUPLICATES, &jerr);
	if (body == NULL) {
		reply_error(reply, 400,
			    json_error_code(&jerr) == json_error_duplicate_key
				    ? "duplicate member in request body"
				    : "request body is not valid JSON");
		return NULL;
	}
	if (!json_is_object(body)) {
		json_decref(body);
		reply_error(reply, 400, "request body must be a JSON object");
		return NULL;
	}
	return body;
}

/* The request body as an XML record: the document, with the simulator's
 * attributes still to be stripped by the store. */
static xmlDocPtr parse_xml_body(const struct api_request *req,
				struct api_reply *reply)
{
	struct xmlrec_error xerr;
	xmlDocPtr doc = NULL;

	switch (xmlrec_parse_memory(req->body, req->body_len, &doc, &xerr)) {
	case XMLREC_OK:
		return doc;
	case XMLREC_DOCTYPE:
		reply_error(reply, 400, "DOCTYPE not allowed");
		break;
	case XMLREC_NOMEM:
		reply_error(reply, 500, "out of memory");
		break;
	default:
		reply_error(reply, 400, "request body is not well-formed XML");
		break;
	}
	return NULL;
}

/* The request's payload for a collection of that kind: a JSON object or
 * an XML document. false when the reply is already an error. */
struct payload {
	json_t *json;
	xmlDocPtr xml;
};

static bool parse_payload(enum store_kind kind, const struct api_request *req,
			  struct api_reply *reply, struct payload *p)
{
	p->json = NULL;
	p->xml = NULL;
	if (kind == STORE_XML)
		p->xml = parse_xml_body(req, reply);
	else
		p->json = parse_body(req, reply);
	return p->json != NULL || p->xml != NULL;
}

static void payload_free(struct payload *p)
{
	json_decref(p->json);
	xmlFreeDoc(p->xml);
	p->json = NULL;
	p->xml = NULL;
}

static char *format_location(enum store_kind kind, const char *coll,
			     const char *id)
{
	const char *base = kind == STORE_XML ? "/xml/v1" : "/api/v1";
	size_t n = strlen(base) + strlen(coll) + strlen(id) + 3;
	char *loc = malloc(n);

	if (loc != NULL)
		snprintf(loc, n, "%s/%s/%s", base, coll, id);
	return loc;
}

static void handle_create(struct api *api, const struct api_request *req,
			  enum store_kind kind, const char *coll,
			  struct api_reply *reply)
{
	struct payload p;
	struct record *r;

	if (!parse_payload(kind, req, reply, &p))
		return;
	if (kind == STORE_XML)
		r = store_create_xml(api->store, coll, p.xml);
	else
		r = store_create(api->store, coll, p.json);
	if (r == NULL) {
		reply_error(reply, 500, "cannot create record");
		return;
	}
	api->stats.created++;
	reply_record(reply, 201, r);
	if (reply->status != 201)
		return;
	reply->location = format_location(kind, coll, r->id);
	if (reply->location == NULL) {
		api_reply_free(reply);
		reply->status = 500;
	}
}

/* Finds a live record and checks If-Match; answers 404/412 itself. */
static struct record *writable_record(struct api *api,
				      const struct api_request *req,
				      enum store_kind kind, const char *coll,
				      const char *id, struct api_reply *reply)
{
	struct record *r = store_find(api->store, kind, coll, id);

	if (r == NULL || r->deleted) {
		reply_error(reply, 404, "record not found");
		return NULL;
	}
	if (req->if_match != NULL && !if_match_ok(req->if_match, r->version)) {
		reply_precondition_failed(reply, r);
		return NULL;
	}
	return r;
}

static void handle_replace(struct api *api, const struct api_request *req,
			   enum store_kind kind, const char *coll,
			   const char *id, struct api_reply *reply)
{
	struct payload p;
	struct record *r;
	int rc;

	if (!parse_payload(kind, req, reply, &p))
		return;
	r = writable_record(api, req, kind, coll, id, reply);
	if (r == NULL) {
		payload_free(&p);
		return;
	}
	if (kind == STORE_XML)
		rc = store_replace_xml(api->store, r, p.xml);
	else
		rc = store_replace(api->store, r, p.json);
	if (rc != 0) {
		reply_error(reply, 500, "cannot update record");
		return;
	}
	api->stats.updated++;
	reply_record(reply, 200, r);
}

static void handle_delete(struct api *api, const struct api_request *req,
			  enum store_kind kind, const char *coll,
			  const char *id, struct api_reply *reply)
{
	struct record *r = writable_record(api, req, kind, coll, id, reply);

	if (r == NULL)
		return;
	if (store_delete(api->store, r) != 0) {
		reply_error(reply, 500, "cannot delete record");
		return;
	}
	api->stats.deleted++;
	reply->status = 204;
}

static void perform_write(struct api *api, const struct api_request *req,
			  enum store_kind kind, const char *coll,
			  const char *id, struct api_reply *reply)
{
	if (id == NULL)
		handle_create(api, req, kind, coll, reply);
	else if (streq(req->method, "PUT"))
		handle_replace(api, req, kind, coll, id, reply);
	else
		handle_delete(api, req, kind, coll, id, reply);
}

/* Outcomes of request validation (400) and server trouble (5xx) are not
 * remembered, so a corrected or retried request can still go through. */
static bool worth_remembering(unsigned int status)
{
	return status != 400 && status < 500;
}

/* POST (id == NULL), PUT or DELETE, with Idempotency-Key handling. */
static void handle_write(struct api *api, const struct api_request *req,
			 enum store_kind kind, const char *coll,
			 const char *id, struct api_reply *reply)
{
	const char *key = req->idem_key;
	struct idem_fingerprint fp;

	if (key == NULL) {
		perform_write(api, req, kind, coll, id, reply);
		return;
	}
	if (key[0] == '\0' || strlen(key) > IDEM_MAX_KEY_LEN) {
		reply_error(reply, 400, "invalid Idempotency-Key");
		return;
	}
	if (idem_fingerprint(&fp, req->method, req->path, req->body,
			     req->body_len) != 0) {
		reply_error(reply, 500, "cannot hash request body");
		return;
	}
	switch (idem_lookup(&api->idem, key, &fp, reply)) {
	case IDEM_REPLAY:
		api->stats.replays++;
		return;
	case IDEM_MISMATCH:
		reply_error(reply, 422,
			    "idempotency key reused with a different request");
		return;
	case IDEM_NEW:
		break;
	}
	perform_write(api, req, kind, coll, id, reply);
	/* The write has happened; failing to remember it only loses replay
	 * protection, which is no reason to report the write as failed. */
	if (worth_remembering(reply->status))
		(void)idem_remember(&api->idem, key, &fp, reply);
}

static void handle_get(struct api *api, enum store_kind kind,
		       const char *coll, const char *id,
		       struct api_reply *reply)
{
	const struct record *r = store_find(api->store, kind, coll, id);

	if (r == NULL || r->deleted)
		reply_error(reply, 404, "record not found");
	else
		reply_record(reply, 200, r);
}

/* Accepts only plain decimal digits; overflow is reported as ERANGE. */
static int parse_decimal(const char *text, unsigned long long *out)
{
	size_t i;
	char *end;

	for (i = 0; text[i] != '\0'; i++) {
		if (text[i] < '0' || text[i] > '9')
			return EINVAL;
	}
	if (i == 0)
		return EINVAL;
	errno = 0;
	*out = strtoull(text, &end, 10);
	if (errno == ERANGE)
		return ERANGE;
	return errno != 0 || *end != '\0' ? EINVAL : 0;
}

static int parse_feed_args(const struct api_request *req,
			   unsigned long long *since, size_t *limit)
{
	unsigned long long lim = DEFAULT_LIMIT;
	int rc;

	*since = 0;
	if (req->since != NULL && parse_decimal(req->since, since) != 0)
		return -1;
	if (req->limit != NULL) {
		rc = parse_decimal(req->limit, &lim);
		if (rc == ERANGE)
			lim = MAX_LIMIT;
		else if (rc != 0 || lim == 0)
			return -1;
	}
	*limit = lim > MAX_LIMIT ? MAX_LIMIT : (size_t)lim;
	return 0;
}

static int add_xml_item(void *arg, const struct record *r)
{
	struct xmlrec_owned own;
	char modified[SIMCLOCK_TEXT_SIZE];

	store_xml_owned(r, &own, modified);
	return xmlrec_feed_add(arg, &own, r->xml);
}

/* <changes next="N" more="..."> and the records, as XML. */
static void reply_xml_changes(struct api *api, const char *coll,
			      unsigned long long since, size_t limit,
			      struct api_reply *reply)
{
	xmlDocPtr feed = xmlrec_feed_new();
	unsigned long long next;
	bool more;
	char next_str[32];

	if (feed == NULL ||
	    store_each_change(api->store, STORE_XML, coll, since, limit,
			      add_xml_item, feed, &next, &more) != 0) {
		if (feed != NULL)
			xmlFreeDoc(feed);
		reply_error(reply, 500, "out of memory");
		return;
	}
	snprintf(next_str, sizeof next_str, "%llu", next);
	reply->body = xmlrec_feed_finish(feed, next_str, more, NULL);
	if (reply->body == NULL) {
		reply_error(reply, 500, "out of memory");
		return;
	}
	reply->status = 200;
	reply->content_type = XML_TYPE;
}

static void handle_changes(struct api *api, const struct api_request *req,
			   enum store_kind kind, const char *coll,
			   struct api_reply *reply)
{
	unsigned long long since;
	size_t limit;

	if (parse_feed_args(req, &since, &limit) != 0) {
		reply_error(reply, 400, "invalid since or limit");
		return;
	}
	if (kind == STORE_XML)
		reply_xml_changes(api, coll, since, limit, reply);
	else
		reply_json(reply, 200,
			   store_changes(api->store, coll, since, limit));
}

static void collection_route(struct api *api, const struct api_request *req,
			     enum store_kind kind, const struct route *rt,
			     struct api_reply *reply)
{
	const char *coll = rt->seg[2];
	const char *method = req->method;

	if (rt->nseg == 3) {
		if (streq(method, "POST"))
			handle_write(api, req, kind, coll, NULL, reply);
		else
			reply_method_not_allowed(reply, "POST");
	} else if (streq(rt->seg[3], "changes")) {
		if (streq(method, "GET"))
			handle_changes(api, req, kind, coll, reply);
		else
			reply_method_not_allowed(reply, "GET");
	} else if (!store_valid_id(rt->seg[3])) {
		reply_error(reply, 404, "not found");
	} else if (streq(method, "GET")) {
		handle_get(api, kind, coll, rt->seg[3], reply);
	} else if (streq(method, "PUT") || streq(method, "DELETE")) {
		handle_write(api, req, kind, coll, rt->seg[3], reply);
	} else {
		reply_method_not_allowed(reply, "GET, PUT, DELETE");
	}
}

static size_t method_slot(const char *method)
{
	size_t i;

	for (i = 0; i < N_KNOWN_METHODS; i++) {
		if (streq(method, known_methods[i]))
			break;
	}
	return i;
}

static json_t *stats_json(const struct api *api)
{
	const struct stats *st = &api->stats;
	json_t *by_status = json_object();
	json_t *by_method = json_object();
	json_t *out = NULL;
	char key[16];
	size_t i;

	if (by_status == NULL || by_method == NULL)
		goto out;
	for (i = MIN_STATUS; i <= MAX_STATUS; i++) {
		if (st->by_status[i] == 0)
			continue;
		snprintf(key, sizeof key, "%zu", i);
		if (json_object_set_new(by_status, key,
					json_integer((json_int_t)st->by_status[i])))
			goto out;
	}
	for (i = 0; i <= N_KNOWN_METHODS; i++) {
		if (st->by_method[i] != 0 &&
		    json_object_set_new(by_method,
					i < N_KNOWN_METHODS ? known_methods[i]
							    : "OTHER",
					json_integer((json_int_t)st->by_method[i])))
			goto out;
	}
	out = json_pack("{s:I,s:I,s:O,s:O,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}",
			"requests", (json_int_t)st->requests, "writes",
			(json_int_t)st->writes, "by_status", by_status,
			"by_method", by_method, "replays",
			(json_int_t)st->replays, "records",
			(json_int_t)store_record_count(api->store),
			"tokens_issued", (json_int_t)st->tokens_issued,
			"unauthorized", (json_int_t)st->unauthorized,
			"max_inflight", (json_int_t)st->max_inflight,
			"created", (json_int_t)st->created, "updated",
			(json_int_t)st->updated, "deleted",
			(json_int_t)st->deleted);
out:
	json_decref(by_status);
	json_decref(by_method);
	return out;
}

/* The JSON fixture, then the XML one. */
static int load_fixture(struct api *api, char *err, size_t errlen)
{
	if (api->fixture != NULL &&
	    store_load_fixture(api->store, api->fixture, err, errlen) != 0)
		return -1;
	if (cin_load(api->store, &api->cin) != 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

static void handle_reset(struct api *api, struct api_reply *reply)
{
	char err[256];

	store_clear(api->store);
	idem_clear(&api->idem);
	memset(&api->stats, 0, sizeof api->stats);
	/* Requests in progress right now still count. */
	api->stats.max_inflight = api->inflight;
	fault_table_clear(&api->faults);
	reqlog_init(&api->reqlog);
	simclock_set_offset(&api->clock, api->clock_offset_start);
	/* The fixture was validated at start-up, so only memory can run out. */
	if (load_fixture(api, err, sizeof err) != 0) {
		store_clear(api->store);
		reply_error(reply, 500, "cannot reload fixture");
		return;
	}
	reply->status = 204;
}

static void reply_clock(struct api *api, struct api_reply *reply)
{
	reply_json(reply, 200,
		   json_pack("{s:I}", "offset",
			     (json_int_t)simclock_offset(&api->clock)));
}

/* {"offset": N}: N whole seconds within SIMCLOCK_MAX_OFFSET, nothing
 * else. */
static void handle_set_clock(struct api *api, const struct api_request *req,
			     struct api_reply *reply)
{
	json_t *doc = parse_body(req, reply);
	json_t *v;

	if (doc == NULL)
		return;
	v = json_object_get(doc, "offset");
	if (json_object_size(doc) != 1 || !json_is_integer(v) ||
	    !simclock_valid_offset(json_integer_value(v))) {
		reply_error(reply, 400, "invalid clock offset");
	} else {
		simclock_set_offset(&api->clock, json_integer_value(v));
		reply_clock(api, reply);
	}
	json_decref(doc);
}

static void clock_route(struct api *api, const struct api_request *req,
			struct api_reply *reply)
{
	if (streq(req->method, "GET"))
		reply_clock(api, reply);
	else if (streq(req->method, "POST"))
		handle_set_clock(api, req, reply);
	else
		reply_method_not_allowed(reply, "GET, POST");
}

static void handle_set_faults(struct api *api, const struct api_request *req,
			      struct api_reply *reply)
{
	json_t *doc = parse_body(req, reply);
	const char *problem;
	long index;

	if (doc == NULL)
		return;
	if (fault_table_set(&api->faults, doc, &problem, &index) != 0)
		reply_json(reply, 400,
			   json_pack("{s:s,s:s,s:I}", "error", "invalid fault rules",
				     "problem", problem, "rule", (json_int_t)index));
	else
		reply_json(reply, 200, fault_table_render(&api->faults));
	json_decref(doc);
}

static void faults_route(struct api *api, const struct api_request *req,
			 struct api_reply *reply)
{
	if (streq(req->method, "GET")) {
		reply_json(reply, 200, fault_table_render(&api->faults));
	} else if (streq(req->method, "POST")) {
		handle_set_faults(api, req, reply);
	} else if (streq(req->method, "DELETE")) {
		fault_table_clear(&api->faults);
		reply->status = 204;
	} else {
		reply_method_not_allowed(reply, "GET, POST, DELETE");
	}
}

static void requests_route(struct api *api, const struct api_request *req,
			   struct api_reply *reply)
{
	if (streq(req->method, "GET")) {
		reply_json(reply, 200, reqlog_render(&api->reqlog));
	} else if (streq(req->method, "DELETE")) {
		reqlog_init(&api->reqlog);
		reply->status = 204;
	} else {
		reply_method_not_allowed(reply, "GET, DELETE");
	}
}

/* A decimal string or a non-negative integer; absent means 0. */
static int json_seq(const json_t *v, unsigned long long *out)
{
	*out = 0;
	if (v == NULL)
		return 0;
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		*out = (unsigned long long)json_integer_value(v);
		return 0;
	}
	if (json_is_string(v) &&
	    strlen(json_string_value(v)) == json_string_length(v))
		return parse_decimal(json_string_value(v), out);
	return -1;
}

static void handle_extract(struct api *api, const struct api_request *req,
			   struct api_reply *reply)
{
	static const char *const known[] = { "collection", "name", "since" };
	struct cin_extract_result res;
	char problem[CIN_PROBLEM_MAX + 64];
	char name[64];
	char seq[32];
	const char *coll, *file;
	unsigned long long since;
	json_t *doc = parse_body(req, reply);
	json_t *v;
	const char *key;
	size_t i;

	if (doc == NULL)
		return;
	json_object_foreach(doc, key, v) {
		for (i = 0; i < sizeof known / sizeof known[0]; i++) {
			if (streq(key, known[i]))
				break;
		}
		if (i == sizeof known / sizeof known[0]) {
			reply_error(reply, 400, "unknown member in request");
			goto out;
		}
	}
	v = json_object_get(doc, "collection");
	coll = json_string_value(v);
	if (coll == NULL || strlen(coll) != json_string_length(v) ||
	    !store_valid_collection_name(coll)) {
		reply_error(reply, 400, "invalid or missing collection");
		goto out;
	}
	v = json_object_get(doc, "name");
	file = json_string_value(v);
	if (v != NULL && (file == NULL || strlen(file) != json_string_length(v) ||
			  !cin_valid_file_name(file))) {
		reply_error(reply, 400, "invalid file name");
		goto out;
	}
	if (json_seq(json_object_get(doc, "since"), &since) != 0) {
		reply_error(reply, 400, "invalid since");
		goto out;
	}
	if (file == NULL) {
		snprintf(name, sizeof name, "cin-extract-%llu.xml",
			 store_seq(api->store));
		file = name;
	}
	if (cin_extract(api->store, api->extract_dir, file, coll, since, &res,
			problem, sizeof problem) != 0) {
		reply_error(reply, 500, "cannot write the extract file");
		goto out;
	}
	snprintf(seq, sizeof seq, "%llu", res.seq);
	reply_json(reply, 200,
		   json_pack("{s:s,s:I,s:s}", "file", file, "records",
			     (json_int_t)res.records, "seq", seq));
out:
	json_decref(doc);
}

static void handle_import(struct api *api, struct api_reply *reply)
{
	struct cin_import_result res;
	char problem[CIN_PROBLEM_MAX + 64];
	int rc = cin_import(api->store, api->import_dir, &res, problem,
			    sizeof problem);

	/* Files taken before a failure stay imported. */
	api->stats.created += res.created;
	api->stats.updated += res.updated;
	if (rc != 0) {
		reply_json(reply, 500,
			   json_pack("{s:s,s:I,s:I,s:I}", "error",
				     "import stopped: a file could not be read "
				     "or moved",
				     "files", (json_int_t)res.files,
				     "records", (json_int_t)res.records,
				     "rejected", (json_int_t)res.rejected));
		return;
	}
	reply_json(reply, 200,
		   json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}", "files",
			     (json_int_t)res.files, "records",
			     (json_int_t)res.records, "rejected",
			     (json_int_t)res.rejected, "created",
			     (json_int_t)res.created, "updated",
			     (json_int_t)res.updated, "unchanged",
			     (json_int_t)res.unchanged));
}

static void admin_route(struct api *api, const struct api_request *req,
			const char *name, struct api_reply *reply)
{
	bool is_get = streq(req->method, "GET");
	bool is_post = streq(req->method, "POST");

	if (streq(name, "dump")) {
		if (is_get)
			reply_json(reply, 200, store_dump(api->store));
		else
			reply_method_not_allowed(reply, "GET");
	} else if (streq(name, "stats")) {
		if (is_get)
			reply_json(reply, 200, stats_json(api));
		else
			reply_method_not_allowed(reply, "GET");
	} else if (streq(name, "reset")) {
		if (streq(req->method, "POST"))
			handle_reset(api, reply);
		else
			reply_method_not_allowed(reply, "POST");
	} else if (streq(name, "faults")) {
		faults_route(api, req, reply);
	} else if (streq(name, "clock")) {
		clock_route(api, req, reply);
	} else if (streq(name, "requests")) {
		requests_route(api, req, reply);
	} else if (streq(name, "extract") && api->extract_dir != NULL) {
		if (is_post)
			handle_extract(api, req, reply);
		else
			reply_method_not_allowed(reply, "POST");
	} else if (streq(name, "import") && api->import_dir != NULL) {
		if (is_post)
			handle_import(api, reply);
		else
			reply_method_not_allowed(reply, "POST");
	} else {
		reply_error(reply, 404, "not found");
	}
}

static void handle_token(struct api *api, const struct api_request *req,
			 struct api_reply *reply)
{
	struct oauth_answer ans;

	if (!streq(req->method, "POST")) {
		reply_method_not_allowed(reply, "POST");
		return;
	}
	oauth_token_request(&api->oauth, req->authorization, req->body,
			    req->body_len, park_now_ms(), &ans);
	if (ans.status == 200) {
		reply_json(reply, 200,
			   json_pack("{s:s,s:s,s:I}", "access_token",
				     ans.token, "token_type", "Bearer",
				     "expires_in", (json_int_t)ans.expires_in));
		OPENSSL_cleanse(ans.token, sizeof ans.token);
		if (reply->status == 200)
			api->stats.tokens_issued++;
	} else {
		reply_error(reply, ans.status, ans.error);
		if (ans.challenge_basic)
			reply->www_authenticate = BASIC_CHALLENGE;
	}
	reply->no_store = true;
}

static void oauth_admin_route(struct api *api, const struct api_request *req,
			      const char *name, struct api_reply *reply)
{
	if (!streq(name, "expire")) {
		reply_error(reply, 404, "not found");
	} else if (streq(req->method, "POST")) {
		oauth_expire_all(&api->oauth);
		reply->status = 204;
	} else {
		reply_method_not_allowed(reply, "POST");
	}
}

/* Splits "/a/b/c" into segments; empty segments are kept (and never
 * match a route). */
static int split_path(const char *path, struct route *rt)
{
	size_t n;
	char *p;

	memset(rt, 0, sizeof *rt);
	if (path[0] != '/')
		return 0;
	n = strlen(path);
	rt->buf = malloc(n);
	if (rt->buf == NULL)
		return -1;
	memcpy(rt->buf, path + 1, n);
	p = rt->buf;
	for (;;) {
		char *slash = strchr(p, '/');

		if (rt->nseg == MAX_SEGMENTS) {
			rt->nseg++;
			break;
		}
		rt->seg[rt->nseg++] = p;
		if (slash == NULL)
			break;
		*slash = '\0';
		p = slash + 1;
	}
	return 0;
}

static void dispatch(struct api *api, const struct api_request *req,
		     struct api_reply *reply)
{
	struct route rt;

	if (split_path(req->path, &rt) != 0) {
		reply_error(reply, 500, "out of memory");
		return;
	}
	if (rt.nseg == 2 && streq(rt.seg[0], "_sim"))
		admin_route(api, req, rt.seg[1], reply);
	else if (api->oauth_on && rt.nseg == 3 && streq(rt.seg[0], "_sim") &&
		 streq(rt.seg[1], "oauth"))
		oauth_admin_route(api, req, rt.seg[2], reply);
	else if (api->oauth_on && streq(req->path, TOKEN_PATH))
		handle_token(api, req, reply);
	else if ((rt.nseg == 3 || rt.nseg == 4) &&
		 (streq(rt.seg[0], "api") || streq(rt.seg[0], "xml")) &&
		 streq(rt.seg[1], "v1") && store_valid_collection_name(rt.seg[2]))
		collection_route(api, req,
				 streq(rt.seg[0], "xml") ? STORE_XML : STORE_JSON,
				 &rt, reply);
	else
		reply_error(reply, 404, "not found");
	free(rt.buf);
}

/* Whatever came with a body to change data: a test can tell from a zero
 * that nothing was sent, whether or not the write succeeded. A token
 * request changes no data. */
static bool is_write(const struct api_request *req)
{
	const char *m = req->method;

	return (streq(m, "POST") || streq(m, "PUT") || streq(m, "PATCH") ||
		streq(m, "DELETE")) &&
	       strncmp(req->path, "/_sim/", 6) != 0 &&
	       !streq(req->path, TOKEN_PATH);
}

static bool is_sim_path(const char *path)
{
	return strncmp(path, "/_sim/", 6) == 0;
}

static void count_request(struct api *api, const struct api_request *req,
			  unsigned int status)
{
	struct stats *st = &api->stats;

	/* Reading the stats, and the test controls for faults, the request
	 * log and the clock, do not change them. */
	if (streq(req->path, "/_sim/stats") || streq(req->path, "/_sim/faults") ||
	    streq(req->path, "/_sim/requests") || streq(req->path, "/_sim/clock"))
		return;
	st->requests++;
	if (is_write(req))
		st->writes++;
	if (status >= MIN_STATUS && status <= MAX_STATUS)
		st->by_status[status]++;
	st->by_method[method_slot(req->method)]++;
}

/* The body's hash, computed outside the lock: NULL for /_sim/ requests
 * (never recorded), for bodies that were not read whole, and for the
 * token endpoint, whose body may hold the client secret. */
static const char *body_hash(const struct api_request *req,
			     char hash[REQLOG_HASH_HEX + 1])
{
	if (is_sim_path(req->path) || streq(req->path, TOKEN_PATH) ||
	    req->body_unread ||
	    req->body_too_large || req->out_of_memory ||
	    reqlog_hash(req->body, req->body_len, hash) != 0)
		return NULL;
	return hash;
}

/* Caller holds the lock. */
static void record_request(struct api *api, const struct api_request *req,
			   unsigned int status, const char *hash)
{
	count_request(api, req, status);
	if (!is_sim_path(req->path))
		reqlog_add(&api->reqlog, req->method, req->path, req->idem_key,
			   hash, hash != NULL ? req->body_len : 0, status,
			   req->fault);
}

/* With --oauth-client, the council API paths need a bearer token. */
static bool needs_token(const struct api *api, const char *path)
{
	return api->oauth_on && (strncmp(path, "/api/v1/", 8) == 0 ||
				 strncmp(path, "/xml/v1/", 8) == 0);
}

static void refuse_token(struct api *api, struct api_reply *reply)
{
	reply_error(reply, 401, "invalid_token");
	reply->www_authenticate = BEARER_CHALLENGE;
	api->stats.unauthorized++;
}

void api_handle(struct api *api, const struct api_request *req,
		struct api_reply *reply)
{
	char buf[REQLOG_HASH_HEX + 1];
	const char *hash = body_hash(req, buf);

	memset(reply, 0, sizeof *reply);
	pthread_mutex_lock(&api->lock);
	if (req->out_of_memory)
		reply_error(reply, 500, "out of memory");
	else if (needs_token(api, req->path) &&
		 !oauth_bearer_ok(&api->oauth, req->authorization,
				  park_now_ms()))
		refuse_token(api, reply);
	else if (req->body_too_large)
		reply_error(reply, 413, "request body too large");
	else
		dispatch(api, req, reply);
	record_request(api, req, reply->status, hash);
	pthread_mutex_unlock(&api->lock);
}

void api_note(struct api *api, const struct api_request *req,
	      unsigned int status)
{
	char buf[REQLOG_HASH_HEX + 1];
	const char *hash = body_hash(req, buf);

	pthread_mutex_lock(&api->lock);
	record_request(api, req, status, hash);
	pthread_mutex_unlock(&api->lock);
}

void api_take_fault(struct api *api, const char *method, const char *path,
		    struct fault *out)
{
	pthread_mutex_lock(&api->lock);
	(void)fault_table_take(&api->faults, method, path, out);
	pthread_mutex_unlock(&api->lock);
}

void api_http_date(struct api *api, char out[SIMCLOCK_TEXT_SIZE])
{
	simclock_http_date(simclock_now_ms(&api->clock), out);
}

bool api_counts_inflight(const char *path)
{
	return strncmp(path, "/api/", 5) == 0 || strncmp(path, "/xml/", 5) == 0;
}

void api_inflight_begin(struct api *api)
{
	pthread_mutex_lock(&api->lock);
	api->inflight++;
	if (api->inflight > api->stats.max_inflight)
		api->stats.max_inflight = api->inflight;
	pthread_mutex_unlock(&api->lock);
}

void api_inflight_end(struct api *api)
{
	pthread_mutex_lock(&api->lock);
	if (api->inflight > 0)
		api->inflight--;
	pthread_mutex_unlock(&api->lock);
}

struct api *api_new(struct api_config *cfg, char *err, size_t errlen)
{
	struct api *api = calloc(1, sizeof *api);
	bool bad;

	err[0] = '\0';
	if (api == NULL) {
		json_decref(cfg->fixture);
		cin_batch_free(&cfg->cin);
		return NULL;
	}
	api->fixture = cfg->fixture;
	api->cin = cfg->cin;
	memset(&cfg->cin, 0, sizeof cfg->cin);
	api->extract_dir = cfg->extract_dir;
	api->import_dir = cfg->import_dir;
	api->clock_offset_start = cfg->clock_offset_s;
	simclock_set_offset(&api->clock, cfg->clock_offset_s);
	idem_init(&api->idem);
	fault_table_init(&api->faults);
	reqlog_init(&api->reqlog);
	if (pthread_mutex_init(&api->lock, NULL) != 0) {
		json_decref(api->fixture);
		cin_batch_free(&api->cin);
		free(api);
		return NULL;
	}
	if (cfg->oauth_client != NULL) {
		if (oauth_init(&api->oauth, cfg->oauth_client, cfg->oauth_ttl_s,
			       &bad) != 0) {
			if (bad)
				snprintf(err, errlen, "--oauth-client must be "
					 "ID:SECRET, both non-empty");
			api_free(api);
			return NULL;
		}
		api->oauth_on = true;
	}
	api->store = store_new(&api->clock);
	if (api->store == NULL || load_fixture(api, err, errlen) != 0) {
		api_free(api);
		return NULL;
	}
	return api;
}

void api_free(struct api *api)
{
	if (api == NULL)
		return;
	store_free(api->store);
	idem_clear(&api->idem);
	fault_table_clear(&api->faults);
	json_decref(api->fixture);
	cin_batch_free(&api->cin);
	if (api->oauth_on)
		oauth_free(&api->oauth);
	pthread_mutex_destroy(&api->lock);
	free(api);
}
