/* record.h - the canonical record: one value per mapped field, as text,
 * plus its nested child collections (a child's referrals, a referral's
 * assessments...).
 *
 * Values are canonical strings (see transform.h and
 * docs/canonical-model.md) or NULL for absent. A record points at the
 * entity it belongs to; it does not own it. Pure: no I/O. */
#ifndef CASESYNC_RECORD_H
#define CASESYNC_RECORD_H

#include <jansson.h>
#include "common.h"
#include "mapping.h"

#define RECORD_MAX_VALUE (64 * 1024)	/* bytes in one field value */
#define RECORD_HASH_HEX 65

struct record;

struct record_list {
	struct record **v;
	size_t n, cap;
};

struct record {
	const struct map_entity *ent;
	char **vals;	/* ent->nfields entries, each owned, NULL = absent */
	struct record_list *kids;	/* ent->nchildren lists, owned */
};

struct record *record_new(const struct map_entity *ent);
/* Deep copy, children included. */
struct record *record_dup(const struct record *r);
void record_free(struct record *r);
/* Appends child (taking ownership) to collection ci of r. On failure the
 * child is freed. */
int record_add_child(struct record *r, size_t ci, struct record *child)
	CS_MUST_CHECK;

/* Copies v (NULL clears). CS_ENOMEM on allocation failure. */
int record_set(struct record *r, size_t i, const char *v) CS_MUST_CHECK;
const char *record_get(const struct record *r, size_t i);

int record_field_equal(const struct record *a, const struct record *b, size_t i);
/* Own fields only. */
int record_equal(const struct record *a, const struct record *b);
/* Own fields and every child collection, in order. */
int record_tree_equal(const struct record *a, const struct record *b);
/* Number of fields whose values differ. */
size_t record_diff_count(const struct record *a, const struct record *b);

/* SHA-256 (hex) over the own fields' names and values, independent of any
 * JSON serialisation. */
void record_hash(const struct record *r, char out[RECORD_HASH_HEX]);

/* {"field": "value" | null, ..., "child_entity": [{...}, ...]}: the
 * canonical JSON form (stored in casesync.base, shown by mapping render).
 * Child collections appear only when the entity has children. */
json_t *record_to_json(const struct record *r);
/* Inverse of record_to_json; fields missing from obj become NULL. Values
 * must be strings or null; they are stored as given (not validated). */
int record_from_json(const struct map_entity *ent, const json_t *obj,
		     struct record **out) CS_MUST_CHECK;

#endif
