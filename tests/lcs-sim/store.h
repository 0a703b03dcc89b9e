/* In-memory record store of the council simulator: collections of
 * versioned JSON records and, apart from them, collections of versioned
 * XML records, plus one global change sequence and one id counter for
 * both. Not thread-safe; callers serialise access. */
#ifndef LCS_SIM_STORE_H
#define LCS_SIM_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>
#include <libxml/tree.h>

#include "simclock.h"

#define STORE_MAX_ID_LEN 200

struct collection;
struct store;
struct xmlrec_owned;

/* JSON and XML collections are separate: a name may exist in both. */
enum store_kind {
	STORE_JSON,
	STORE_XML,
};

struct record {
	char *id;
	json_t *payload; /* JSON: no "id"/"version" members; NULL once deleted */
	/* XML: a document whose root is the record element, without the
	 * simulator's attributes; once deleted, just an empty element of the
	 * same name. NULL for JSON records. */
	xmlDocPtr xml;
	long long version;
	unsigned long long seq;
	/* The simulator's clock (ms since the epoch) at the last change:
	 * create, update or delete. */
	long long modified_ms;
	bool deleted;
	struct collection *coll;
	size_t idx; /* position in the collection, i.e. insertion order */
};

/* Changes are stamped with clock's time; clock must outlive the store. */
struct store *store_new(struct simclock *clock);
void store_free(struct store *s);
/* Drops every record and collection and restarts the counters. */
void store_clear(struct store *s);

bool store_valid_collection_name(const char *name);
bool store_valid_id(const char *id);

/* Returns the record, including tombstones, or NULL. */
struct record *store_find(const struct store *s, enum store_kind kind,
			  const char *coll, const char *id);
/* The payload reference is stolen in every case. NULL means out of memory
 * or an exhausted id space. */
struct record *store_create(struct store *s, const char *coll,
			    json_t *payload);
/* The same for an XML collection; takes doc in every case. */
struct record *store_create_xml(struct store *s, const char *coll,
				xmlDocPtr doc);
/* Adds an XML record under a given id that must not exist yet in the
 * collection; takes doc in every case. NULL means out of memory. */
struct record *store_insert_xml(struct store *s, const char *coll,
				const char *id, xmlDocPtr doc,
				long long version);
/* All return 0, or -1 when the version cannot be bumped any further (or
 * memory ran out). store_replace steals the payload reference and
 * store_replace_xml takes doc in every case; store_replace_xml also
 * brings a deleted record back. */
int store_replace(struct store *s, struct record *r, json_t *payload);
int store_replace_xml(struct store *s, struct record *r, xmlDocPtr doc);
int store_delete(struct store *s, struct record *r);

/* A JSON record as the API shows it. */
json_t *store_render(const struct record *r);
/* The simulator's attributes of an XML record, for xmlrec; modified is
 * the buffer own->modified points into. */
void store_xml_owned(const struct record *r, struct xmlrec_owned *own,
		     char modified[SIMCLOCK_TEXT_SIZE]);

/* Calls fn for each record of the collection changed after since, in seq
 * order, each once in its latest state (tombstones included), at most
 * limit of them (0: no limit). *next is the seq of the last one visited
 * (since when none), *more whether further ones exist. 0, or the first
 * nonzero value fn returned. */
typedef int (*store_visit_fn)(void *arg, const struct record *r);
int store_each_change(const struct store *s, enum store_kind kind,
		      const char *coll, unsigned long long since, size_t limit,
		      store_visit_fn fn, void *arg, unsigned long long *next,
		      bool *more);

json_t *store_changes(const struct store *s, const char *coll,
		      unsigned long long since, size_t limit);
/* {"collections":{...}, "xml_collections":{...}, "seq":"N"} */
json_t *store_dump(const struct store *s);
/* Records of both kinds, tombstones included. */
size_t store_record_count(const struct store *s);
unsigned long long store_seq(const struct store *s);

/* Validates and loads a decoded fixture. On failure err describes the
 * problem without quoting record data, and the store may hold a partial
 * load (callers clear or discard it). */
int store_load_fixture(struct store *s, json_t *fixture, char *err,
		       size_t errlen);

#endif
