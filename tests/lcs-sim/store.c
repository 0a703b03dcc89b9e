#include "store.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strmap.h"
#include "xmlrec.h"

#define FIRST_NEW_ID 900001ULL
#define MAX_COLLECTION_NAME 64

/* One entry per change. An entry is stale once its record has changed
 * again, which is detected by comparing sequence numbers, so the log
 * stays sorted by seq and the feed can binary-search it. */
struct change {
	unsigned long long seq;
	size_t idx;
};

struct collection {
	char *name;
	enum store_kind kind;
	struct record **recs;
	size_t len;
	size_t cap;
	struct strmap by_id;
	struct change *log;
	size_t log_len;
	size_t log_cap;
};

struct store {
	struct collection **colls;
	size_t len;
	size_t cap;
	struct strmap by_name;	   /* JSON collections */
	struct strmap by_xml_name; /* XML collections */
	unsigned long long seq;
	unsigned long long next_id;
	size_t records;
	struct simclock *clock;
};

static char *dup_str(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = malloc(n);

	if (p != NULL)
		memcpy(p, s, n);
	return p;
}

/* Returns arr grown to hold at least need elements (possibly moved), or
 * NULL with arr untouched on failure. */
static void *grow_array(void *arr, size_t *cap, size_t need, size_t elem)
{
	size_t new_cap;
	void *p;

	if (need <= *cap)
		return arr;
	new_cap = *cap == 0 ? 16 : *cap;
	while (new_cap < need) {
		if (new_cap > SIZE_MAX / 2)
			return NULL;
		new_cap *= 2;
	}
	if (new_cap > SIZE_MAX / elem)
		return NULL;
	p = realloc(arr, new_cap * elem);
	if (p != NULL)
		*cap = new_cap;
	return p;
}

static void record_free(struct record *r)
{
	if (r == NULL)
		return;
	json_decref(r->payload);
	xmlFreeDoc(r->xml);
	free(r->id);
	free(r);
}

static void collection_free(struct collection *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->len; i++)
		record_free(c->recs[i]);
	free(c->recs);
	strmap_free(&c->by_id);
	free(c->log);
	free(c->name);
	free(c);
}

struct store *store_new(struct simclock *clock)
{
	struct store *s = calloc(1, sizeof *s);

	if (s == NULL)
		return NULL;
	s->clock = clock;
	strmap_init(&s->by_name);
	strmap_init(&s->by_xml_name);
	s->next_id = FIRST_NEW_ID;
	return s;
}

void store_clear(struct store *s)
{
	size_t i;

	for (i = 0; i < s->len; i++)
		collection_free(s->colls[i]);
	free(s->colls);
	strmap_free(&s->by_name);
	strmap_free(&s->by_xml_name);
	s->colls = NULL;
	s->len = 0;
	s->cap = 0;
	s->seq = 0;
	s->next_id = FIRST_NEW_ID;
	s->records = 0;
}

void store_free(struct store *s)
{
	if (s == NULL)
		return;
	store_clear(s);
	free(s);
}

bool store_valid_collection_name(const char *name)
{
	size_t i;

	if (name[0] < 'a' || name[0] > 'z')
		return false;
	for (i = 1; name[i] != '\0'; i++) {
		char ch = name[i];

		if (i >= MAX_COLLECTION_NAME)
			return false;
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		      ch == '_' || ch == '-'))
			return false;
	}
	return true;
}

bool store_valid_id(const char *id)
{
	size_t i;

	for (i = 0; id[i] != '\0'; i++) {
		unsigned char ch = (unsigned char)id[i];

		if (i >= STORE_MAX_ID_LEN || ch < 0x20 || ch == 0x7f ||
		    ch == '/')
			return false;
	}
	/* "changes" is the feed's path segment, so such a record could not
	 * be addressed. */
	return i > 0 && strcmp(id, "changes") != 0;
}

static const struct strmap *names_of(const struct store *s,
				     enum store_kind kind)
{
	return kind == STORE_XML ? &s->by_xml_name : &s->by_name;
}

static struct collection *find_collection(const struct store *s,
					  enum store_kind kind,
					  const char *name)
{
	return strmap_get(names_of(s, kind), name);
}

static struct collection *get_collection(struct store *s,
					 enum store_kind kind,
					 const char *name)
{
	struct collection *c = find_collection(s, kind, name);
	struct strmap *names = kind == STORE_XML ? &s->by_xml_name
						 : &s->by_name;
	struct collection **colls;

	if (c != NULL)
		return c;
	colls = grow_array(s->colls, &s->cap, s->len + 1, sizeof *colls);
	if (colls == NULL)
		return NULL;
	s->colls = colls;
	c = calloc(1, sizeof *c);
	if (c == NULL)
		return NULL;
	strmap_init(&c->by_id);
	c->kind = kind;
	c->name = dup_str(name);
	if (c->name == NULL || strmap_put(names, c->name, c) != 0) {
		collection_free(c);
		return NULL;
	}
	s->colls[s->len++] = c;
	return c;
}

struct record *store_find(const struct store *s, enum store_kind kind,
			  const char *coll, const char *id)
{
	struct collection *c = find_collection(s, kind, coll);

	return c != NULL ? strmap_get(&c->by_id, id) : NULL;
}

static void compact_log(struct collection *c)
{
	size_t i;
	size_t out = 0;

	for (i = 0; i < c->log_len; i++) {
		if (c->recs[c->log[i].idx]->seq == c->log[i].seq)
			c->log[out++] = c->log[i];
	}
	c->log_len = out;
}

/* Makes room for one more log entry, preferring to drop stale entries
 * over growing once at least half of the log is stale. */
static int reserve_log(struct collection *c)
{
	struct change *log;

	if (c->log_len < c->log_cap)
		return 0;
	if (c->log_len > 0 && c->log_len - c->len >= c->log_len / 2) {
		compact_log(c);
		if (c->log_len < c->log_cap)
			return 0;
	}
	log = grow_array(c->log, &c->log_cap, c->log_len + 1, sizeof *log);
	if (log == NULL)
		return -1;
	c->log = log;
	return 0;
}

/* Callers reserve log room first, so this cannot fail. Every create,
 * update and delete goes through here. */
static void log_change(struct store *s, struct record *r)
{
	struct collection *c = r->coll;

	r->seq = ++s->seq;
	r->modified_ms = simclock_now_ms(s->clock);
	c->log[c->log_len].seq = r->seq;
	c->log[c->log_len].idx = r->idx;
	c->log_len++;
}

/* Steals payload. Returns NULL on allocation failure. */
static int reserve_record(struct collection *c)
{
	struct record **recs;

	recs = grow_array(c->recs, &c->cap, c->len + 1, sizeof *recs);
	if (recs == NULL)
		return -1;
	c->recs = recs;
	return 0;
}

/* Steals payload and doc (one of them is NULL). */
static struct record *insert_record(struct store *s, struct collection *c,
				    const char *id, json_t *payload,
				    xmlDocPtr doc, long long version)
{
	struct record *r = calloc(1, sizeof *r);

	if (r == NULL) {
		json_decref(payload);
		xmlFreeDoc(doc);
		return NULL;
	}
	r->payload = payload;
	r->xml = doc;
	r->id = dup_str(id);
	r->version = version;
	r->coll = c;
	r->idx = c->len;
	if (r->id == NULL || reserve_record(c) != 0 || reserve_log(c) != 0 ||
	    strmap_put(&c->by_id, r->id, r) != 0) {
		record_free(r);
		return NULL;
	}
	c->recs[c->len++] = r;
	s->records++;
	log_change(s, r);
	return r;
}

static void strip_owned_members(json_t *payload)
{
	json_object_del(payload, "id");
	json_object_del(payload, "version");
	json_object_del(payload, "modified");
}

/* The next id from the global counter not used in c; -1 when exhausted. */
static int next_free_id(struct store *s, const struct collection *c,
			char id[32])
{
	if (s->seq == ULLONG_MAX)
		return -1;
	for (;;) {
		if (s->next_id == ULLONG_MAX)
			return -1;
		snprintf(id, 32, "%llu", s->next_id++);
		if (strmap_get(&c->by_id, id) == NULL)
			return 0;
	}
}

struct record *store_create(struct store *s, const char *coll,
			    json_t *payload)
{
	struct collection *c = get_collection(s, STORE_JSON, coll);
	char id[32];

	if (c == NULL || next_free_id(s, c, id) != 0) {
		json_decref(payload);
		return NULL;
	}
	strip_owned_members(payload);
	return insert_record(s, c, id, payload, NULL, 1);
}

struct record *store_create_xml(struct store *s, const char *coll,
				xmlDocPtr doc)
{
	struct collection *c = get_collection(s, STORE_XML, coll);
	char id[32];

	if (c == NULL || next_free_id(s, c, id) != 0) {
		xmlFreeDoc(doc);
		return NULL;
	}
	xmlrec_strip(doc);
	return insert_record(s, c, id, NULL, doc, 1);
}

struct record *store_insert_xml(struct store *s, const char *coll,
				const char *id, xmlDocPtr doc,
				long long version)
{
	struct collection *c = get_collection(s, STORE_XML, coll);

	if (c == NULL || s->seq == ULLONG_MAX ||
	    strmap_get(&c->by_id, id) != NULL) {
		xmlFreeDoc(doc);
		return NULL;
	}
	xmlrec_strip(doc);
	return insert_record(s, c, id, NULL, doc, version);
}

static int bump(struct store *s, struct record *r)
{
	if (r->version == LLONG_MAX || s->seq == ULLONG_MAX ||
	    reserve_log(r->coll) != 0)
		return -1;
	r->version++;
	log_change(s, r);
	return 0;
}

int store_replace(struct store *s, struct record *r, json_t *payload)
{
	strip_owned_members(payload);
	if (bump(s, r) != 0) {
		json_decref(payload);
		return -1;
	}
	json_decref(r->payload);
	r->payload = payload;
	return 0;
}

int store_replace_xml(struct store *s, struct record *r, xmlDocPtr doc)
{
	xmlrec_strip(doc);
	if (bump(s, r) != 0) {
		xmlFreeDoc(doc);
		return -1;
	}
	xmlFreeDoc(r->xml);
	r->xml = doc;
	r->deleted = false;
	return 0;
}

int store_delete(struct store *s, struct record *r)
{
	xmlDocPtr tomb = NULL;

	if (r->xml != NULL) {
		/* Made first, so a failure changes nothing. */
		tomb = xmlrec_tombstone(r->xml);
		if (tomb == NULL)
			return -1;
	}
	if (bump(s, r) != 0) {
		xmlFreeDoc(tomb);
		return -1;
	}
	r->deleted = true;
	json_decref(r->payload);
	r->payload = NULL;
	if (tomb != NULL) {
		xmlFreeDoc(r->xml);
		r->xml = tomb;
	}
	return 0;
}

json_t *store_render(const struct record *r)
{
	json_t *o = json_object();
	char version[32];
	char modified[SIMCLOCK_TEXT_SIZE];

	if (o == NULL)
		return NULL;
	snprintf(version, sizeof version, "%lld", r->version);
	simclock_rfc3339(r->modified_ms, modified);
	if (json_object_set_new(o, "id", json_string(r->id)) != 0 ||
	    json_object_set_new(o, "version", json_string(version)) != 0 ||
	    json_object_set_new(o, "modified", json_string(modified)) != 0)
		goto fail;
	if (r->deleted) {
		if (json_object_set_new(o, "deleted", json_true()) != 0)
			goto fail;
	} else if (json_object_update(o, r->payload) != 0) {
		goto fail;
	}
	return o;
fail:
	json_decref(o);
	return NULL;
}

/* Index of the first log entry with a sequence number above since. */
static size_t log_lower_bound(const struct collection *c,
			      unsigned long long since)
{
	size_t lo = 0;
	size_t hi = c->log_len;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (c->log[mid].seq <= since)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool is_live_entry(const struct collection *c, size_t i)
{
	return c->recs[c->log[i].idx]->seq == c->log[i].seq;
}

int store_each_change(const struct store *s, enum store_kind kind,
		      const char *coll, unsigned long long since, size_t limit,
		      store_visit_fn fn, void *arg, unsigned long long *next,
		      bool *more)
{
	const struct collection *c = find_collection(s, kind, coll);
	size_t i;
	size_t n = 0;
	int rc;

	*next = since;
	*more = false;
	if (c == NULL)
		return 0;
	for (i = log_lower_bound(c, since); i < c->log_len; i++) {
		const struct record *r;

		if (!is_live_entry(c, i))
			continue;
		if (limit != 0 && n == limit) {
			*more = true;
			break;
		}
		r = c->recs[c->log[i].idx];
		rc = fn(arg, r);
		if (rc != 0)
			return rc;
		n++;
		*next = r->seq;
	}
	return 0;
}

static int add_json_item(void *arg, const struct record *r)
{
	return json_array_append_new(arg, store_render(r)) != 0 ? -1 : 0;
}

json_t *store_changes(const struct store *s, const char *coll,
		      unsigned long long since, size_t limit)
{
	json_t *items = json_array();
	json_t *out = NULL;
	unsigned long long next = since;
	bool more = false;
	char next_str[32];

	if (items == NULL)
		goto out;
	if (store_each_change(s, STORE_JSON, coll, since, limit, add_json_item,
			      items, &next, &more) != 0)
		goto out;
	snprintf(next_str, sizeof next_str, "%llu", next);
	out = json_pack("{s:O,s:s,s:b}", "items", items, "next", next_str,
			"more", more);
out:
	json_decref(items);
	return out;
}

void store_xml_owned(const struct record *r, struct xmlrec_owned *own,
		     char modified[SIMCLOCK_TEXT_SIZE])
{
	simclock_rfc3339(r->modified_ms, modified);
	own->id = r->id;
	own->version = r->version;
	own->modified = modified;
	own->deleted = r->deleted;
}

/* {"id","version","modified","deleted","xml"}, the element as GET shows
 * it. */
static json_t *render_xml_entry(const struct record *r)
{
	struct xmlrec_owned own;
	char version[32];
	char modified[SIMCLOCK_TEXT_SIZE];
	size_t len = 0;
	char *text;
	json_t *o;

	store_xml_owned(r, &own, modified);
	text = xmlrec_render_record(&own, r->xml, false, &len);
	if (text == NULL)
		return NULL;
	snprintf(version, sizeof version, "%lld", r->version);
	o = json_pack("{s:s,s:s,s:s,s:b,s:s%}", "id", r->id, "version",
		      version, "modified", modified, "deleted", r->deleted,
		      "xml", text, len);
	free(text);
	return o;
}

static json_t *dump_collection(const struct collection *c)
{
	json_t *arr = json_array();
	size_t i;

	if (arr == NULL)
		return NULL;
	for (i = 0; i < c->len; i++) {
		json_t *one = c->kind == STORE_XML
				      ? render_xml_entry(c->recs[i])
				      : store_render(c->recs[i]);

		if (json_array_append_new(arr, one) != 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

json_t *store_dump(const struct store *s)
{
	json_t *colls = json_object();
	json_t *xml_colls = json_object();
	json_t *out = NULL;
	char seq[32];
	size_t i;

	if (colls == NULL || xml_colls == NULL)
		goto out;
	for (i = 0; i < s->len; i++) {
		const struct collection *c = s->colls[i];

		if (json_object_set_new(c->kind == STORE_XML ? xml_colls : colls,
					c->name, dump_collection(c)) != 0)
			goto out;
	}
	snprintf(seq, sizeof seq, "%llu", s->seq);
	out = json_pack("{s:O,s:O,s:s}", "collections", colls,
			"xml_collections", xml_colls, "seq", seq);
out:
	json_decref(colls);
	json_decref(xml_colls);
	return out;
}

size_t store_record_count(const struct store *s)
{
	return s->records;
}

unsigned long long store_seq(const struct store *s)
{
	return s->seq;
}

/* Fixture versions are decimal strings of at most 18 digits, at least 1. */
static int parse_version(const char *text, long long *out)
{
	size_t i;
	char *end;
	long long v;

	for (i = 0; text[i] != '\0'; i++) {
		if (text[i] < '0' || text[i] > '9' || i >= 18)
			return -1;
	}
	if (i == 0)
		return -1;
	errno = 0;
	v = strtoll(text, &end, 10);
	if (errno != 0 || *end != '\0' || v < 1)
		return -1;
	*out = v;
	return 0;
}

static int load_fixture_record(struct store *s, struct collection *c,
			       json_t *obj, size_t index, char *err,
			       size_t errlen)
{
	json_t *id = json_object_get(obj, "id");
	json_t *ver = json_object_get(obj, "version");
	long long version = 1;
	const char *problem = NULL;
	json_t *payload;

	if (!json_is_string(id))
		problem = "missing string \"id\"";
	else if (strlen(json_string_value(id)) != json_string_length(id) ||
		 !store_valid_id(json_string_value(id)))
		problem = "invalid \"id\"";
	else if (strmap_get(&c->by_id, json_string_value(id)) != NULL)
		problem = "duplicate \"id\"";
	else if (ver != NULL && (!json_is_string(ver) ||
				 parse_version(json_string_value(ver),
					       &version) != 0))
		problem = "\"version\" is not a positive decimal string";
	if (problem != NULL) {
		snprintf(err, errlen, "collection \"%s\" index %zu: %s",
			 c->name, index, problem);
		return -1;
	}
	payload = json_copy(obj);
	if (payload != NULL)
		strip_owned_members(payload);
	if (payload == NULL ||
	    insert_record(s, c, json_string_value(id), payload, NULL,
			  version) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

static int load_fixture_collection(struct store *s, const char *name,
				   json_t *arr, char *err, size_t errlen)
{
	struct collection *c;
	size_t i;
	json_t *obj;

	if (!json_is_array(arr)) {
		snprintf(err, errlen, "collection \"%s\" is not an array",
			 name);
		return -1;
	}
	c = get_collection(s, STORE_JSON, name);
	if (c == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	json_array_foreach(arr, i, obj) {
		if (!json_is_object(obj)) {
			snprintf(err, errlen,
				 "collection \"%s\" index %zu: not an object",
				 name, i);
			return -1;
		}
		if (load_fixture_record(s, c, obj, i, err, errlen) != 0)
			return -1;
	}
	return 0;
}

int store_load_fixture(struct store *s, json_t *fixture, char *err,
		       size_t errlen)
{
	const char *name;
	json_t *arr;
	size_t member = 0;

	if (!json_is_object(fixture)) {
		snprintf(err, errlen, "top level is not a JSON object");
		return -1;
	}
	json_object_foreach(fixture, name, arr) {
		/* Invalid names are identified by position only, since the
		 * name itself may be arbitrary text. */
		if (!store_valid_collection_name(name)) {
			snprintf(err, errlen,
				 "member %zu: invalid collection name", member);
			return -1;
		}
		if (load_fixture_collection(s, name, arr, err, errlen) != 0)
			return -1;
		member++;
	}
	return 0;
}
