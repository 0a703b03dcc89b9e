/* record.h - the canonical record: one value per mapped field, as text.
 *
 * Values are canonical strings (dates YYYY-MM-DD, integers in decimal,
 * booleans "true"/"false") or NULL for absent. A record points at the
 * entity it belongs to; it does not own it. Pure: no I/O. */
#ifndef CASESYNC_RECORD_H
#define CASESYNC_RECORD_H

#include <jansson.h>
#include "common.h"
#include "mapping.h"

#define RECORD_MAX_VALUE (64 * 1024)	/* bytes in one field value */
#define RECORD_HASH_HEX 65

struct record {
	const struct map_entity *ent;
	char **vals;	/* ent->nfields entries, each owned, NULL = absent */
};

struct record *record_new(const struct map_entity *ent);
struct record *record_dup(const struct record *r);
void record_free(struct record *r);

/* Copies v (NULL clears). CS_ENOMEM on allocation failure. */
int record_set(struct record *r, size_t i, const char *v) CS_MUST_CHECK;
const char *record_get(const struct record *r, size_t i);

int record_field_equal(const struct record *a, const struct record *b, size_t i);
int record_equal(const struct record *a, const struct record *b);
/* Number of fields whose values differ. */
size_t record_diff_count(const struct record *a, const struct record *b);

/* SHA-256 (hex) over field names and values, independent of any JSON
 * serialisation. */
void record_hash(const struct record *r, char out[RECORD_HASH_HEX]);

/* Checks a text value against a field type and writes its canonical form
 * (caller frees). CS_EINVAL when it does not conform. */
int record_normalise(enum field_type t, const char *in, char **out) CS_MUST_CHECK;

/* {"field": "value" | null, ...}: the shape stored in casesync.base. */
json_t *record_to_json(const struct record *r);
/* Inverse of record_to_json; fields missing from obj become NULL. */
int record_from_json(const struct map_entity *ent, const json_t *obj,
		     struct record **out) CS_MUST_CHECK;

#endif
