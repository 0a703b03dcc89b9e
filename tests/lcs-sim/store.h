/* In-memory record store of the council simulator: collections of
 * versioned JSON records plus a global change sequence.
 * Not thread-safe; callers serialise access. */
#ifndef LCS_SIM_STORE_H
#define LCS_SIM_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#define STORE_MAX_ID_LEN 200

struct collection;
struct store;

struct record {
	char *id;
	json_t *payload; /* no "id"/"version" members; NULL once deleted */
	long long version;
	unsigned long long seq;
	bool deleted;
	struct collection *coll;
	size_t idx; /* position in the collection, i.e. insertion order */
};

struct store *store_new(void);
void store_free(struct store *s);
/* Drops every record and collection and restarts the counters. */
void store_clear(struct store *s);

bool store_valid_collection_name(const char *name);
bool store_valid_id(const char *id);

/* Returns the record, including tombstones, or NULL. */
struct record *store_find(const struct store *s, const char *coll,
			  const char *id);
/* The payload reference is stolen in every case. NULL means out of memory
 * or an exhausted id space. */
struct record *store_create(struct store *s, const char *coll,
			    json_t *payload);
/* Both return 0, or -1 when the version cannot be bumped any further.
 * store_replace steals the payload reference in every case. */
int store_replace(struct store *s, struct record *r, json_t *payload);
int store_delete(struct store *s, struct record *r);

json_t *store_render(const struct record *r);
json_t *store_changes(const struct store *s, const char *coll,
		      unsigned long long since, size_t limit);
json_t *store_dump(const struct store *s);
size_t store_record_count(const struct store *s);

/* Validates and loads a decoded fixture. On failure err describes the
 * problem without quoting record data, and the store may hold a partial
 * load (callers clear or discard it). */
int store_load_fixture(struct store *s, json_t *fixture, char *err,
		       size_t errlen);

#endif
