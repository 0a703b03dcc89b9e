/* mapping.h - declarative mapping files -> an immutable mapping model.
 *
 * A mapping set is a directory (mappings.dir/NAME/) holding one "*.map" file
 * per entity. Each file is INI:
 *
 *   [entity]                 name, codec, local.table, local.key,
 *                            remote.collection, remote.id, remote.version,
 *                            remote.deleted, remote.feed.items,
 *                            remote.feed.next, remote.feed.more
 *   [field NAME]             local, remote, type, owner, policy, direction
 *
 * Remote locations are JSON Pointers (RFC 6901). Nothing about a council's
 * field layout is compiled into casesync. Every problem is reported as
 * FILE:LINE. */
#ifndef CASESYNC_MAPPING_H
#define CASESYNC_MAPPING_H

#include <stddef.h>
#include "common.h"
#include "diag.h"

#define MAPPING_MAX_FIELDS 256
#define MAPPING_MAX_ENTITIES 64

enum field_type { FT_STRING, FT_DATE, FT_INT, FT_BOOL };
enum field_dir { DIR_BOTH, DIR_TO_LOCAL, DIR_TO_REMOTE };
enum side { SIDE_LOCAL, SIDE_REMOTE };
enum merge_policy { POLICY_OWNER, POLICY_NEWEST, POLICY_MANUAL };

struct map_field {
	char *name;		/* canonical field name */
	char *local_col;	/* column in local.table */
	char *remote_ptr;	/* JSON Pointer in the council's record */
	enum field_type type;
	enum field_dir dir;
	enum side owner;
	enum merge_policy policy;
	int line;
};

struct map_entity {
	char *name;
	char *file;
	char *codec;		/* "json" */
	char *local_table;	/* schema.table */
	char *local_key;	/* key column */
	char *remote_collection;
	char *remote_id_ptr;
	char *remote_version_ptr;
	char *remote_deleted_ptr;
	char *feed_items_ptr;
	char *feed_next_ptr;
	char *feed_more_ptr;
	struct map_field *fields;
	size_t nfields;
};

struct mapping_set {
	char *name;
	char *dir;
	struct map_entity *entities;
	size_t nentities;
};

/* Loads mappings_dir/name/ *.map in name order. Problems go to d; NULL when
 * there are any. Caller frees with mapping_set_free(). */
struct mapping_set *mapping_set_load(const char *mappings_dir,
				     const char *name, struct diag *d);
/* Loads one .map file (used by the set loader and by tests). */
int mapping_entity_load(const char *path, struct map_entity *out,
			struct diag *d) CS_MUST_CHECK;
void mapping_entity_clear(struct map_entity *e);
void mapping_set_free(struct mapping_set *s);

const struct map_entity *mapping_find_entity(const struct mapping_set *s,
					     const char *name);
/* Index of a field by canonical name, or -1. */
int mapping_field_index(const struct map_entity *e, const char *name);

/* Whether a value may flow to the given side for this field. */
int mapping_field_flows_to(const struct map_field *f, enum side to);

const char *mapping_type_name(enum field_type t);
const char *mapping_side_name(enum side s);

/* True for a plain SQL identifier, optionally schema-qualified when
 * allow_schema: [a-z_][a-z0-9_]* ("." [a-z_][a-z0-9_]*)? */
int mapping_valid_sql_ident(const char *s, int allow_schema);
/* True for a syntactically valid JSON Pointer ("" or "/a/b~1c"). */
int mapping_valid_json_pointer(const char *s);

#endif
