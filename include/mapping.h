/* mapping.h - declarative mapping files -> an immutable mapping model.
 *
 * Two kinds of file live under mappings.dir:
 *
 *   model.json          the canonical model: code lists (canonical codes are
 *                       the DfE Children-in-Need census codes) and entities
 *                       with their fields' types, code lists, default owner
 *                       and default conflict policy.
 *   NAME/ *.json        a mapping set: how one council profile and one
 *                       provider store represent the canonical entities.
 *
 * Files are JSON, parsed strictly (duplicate keys rejected). Loading is
 * all-or-nothing: every problem is reported as FILE:LINE: PATH: message
 * (PATH the JSON Pointer of the offending key), and a set with any error is
 * not returned. Lossy mappings (a field mapped both ways that cannot
 * round-trip) are warnings. See docs/mapping.md for the format. */
#ifndef CASESYNC_MAPPING_H
#define CASESYNC_MAPPING_H

#include <stddef.h>
#include "common.h"
#include "diag.h"

#define MAPPING_MAX_FIELDS 256
#define MAPPING_MAX_ENTITIES 64
#define MAPPING_MAX_KEYS 8
#define MAPPING_MODEL_FILE "model.json"

enum field_type { FT_STRING, FT_INT, FT_BOOL, FT_DATE, FT_DATETIME, FT_CODE };
/* pull: council -> provider only; push: provider -> council only. */
enum field_dir { DIR_BOTH, DIR_PULL, DIR_PUSH };
enum side { SIDE_LOCAL, SIDE_REMOTE };
enum merge_policy { POLICY_OWNER, POLICY_NEWEST, POLICY_MANUAL };
enum codec_kind { CODEC_JSON, CODEC_XML };
enum text_case { CASE_KEEP, CASE_UPPER, CASE_LOWER };
/* Which part of a split value a field holds: before the first separator,
 * after it, before the last separator, after it. */
enum split_part { PART_NONE, PART_FIRST, PART_REST, PART_INIT, PART_LAST };
/* Extra validation of an identifier's canonical form. */
enum value_check { CHECK_NONE, CHECK_NHS_NUMBER, CHECK_UPN };

/* A canonical code list from the model. */
struct codelist {
	char *name;
	char **codes;		/* canonical codes, in model order */
	char **labels;		/* descriptions, same order */
	size_t n;
	int line;
};

/* How one side represents a field's value. Applied when decoding (side ->
 * canonical) and inverted when encoding (canonical -> side). */
struct map_xform {
	int trim;		/* strip surrounding white space on decode */
	enum text_case tcase;	/* fold case on decode */
	char *date_format;	/* strftime-like (%Y %y %m %d %H %M %S %%); NULL: ISO 8601 */
	char *split_sep;	/* with split_part: one part of a joined value */
	enum split_part split_part;
	/* Code translation for FT_CODE fields: codes[i] is this side's value
	 * for codelist->codes[i], or NULL where the side uses the canonical
	 * code itself. NULL array: identity. */
	char **codes;
};

struct map_field {
	char *name;		/* canonical field name */
	char *note;		/* for reviewers; may be NULL */
	int line;		/* of the field's key in the mapping file */
	enum field_type type;	/* from the model */
	int multiple;		/* a set of codes (or values); canonical form is
				 * sorted, unique, joined with "," */
	const struct codelist *codelist;	/* FT_CODE only */
	enum value_check check;	/* from the model */
	char *local_col;	/* column of the entity's local table */
	struct map_xform local_x;
	char *remote_loc;	/* JSON Pointer (json codec) or XPath (xml) */
	struct map_xform remote_x;
	void *remote_xpath;	/* compiled XPath (xml codec), opaque */
	enum field_dir dir;
	enum side owner;
	enum merge_policy policy;
};

struct map_entity {
	char *name;
	char *note;
	char *file;		/* mapping file it came from */
	int line;
	enum codec_kind codec;

	/* Provider side. */
	char *local_table;	/* schema.table */
	char *local_key;	/* key column (text-comparable) */
	char *local_parent_col;	/* child entities: column holding the parent's key */
	/* Column holding the row's last-modified time, for the newest
	 * policy (top-level entities only); NULL when not mapped. */
	char *local_modified_col;

	/* Council side (top-level entities). */
	char *remote_collection;	/* collection name used in path templates */
	char *path_item;	/* template, e.g. "persons/{id}" */
	char *path_create;	/* template, e.g. "persons" */
	char *path_changes;	/* template with {since} and {limit} */
	char *remote_id_loc;	/* where the council's id is in a record */
	char *remote_version_loc;
	char *remote_deleted_loc;
	/* Where a record carries its last-modified time, for the newest
	 * policy (top-level entities only; NULL when not mapped): a JSON
	 * Pointer (json codec) or an XPath relative to the record element
	 * (xml codec), compiled into remote_modified_xpath. */
	char *remote_modified_loc;
	void *remote_modified_xpath;
	char *feed_items_ptr;	/* change feed page: JSON Pointers */
	char *feed_next_ptr;
	char *feed_more_ptr;
	char *records_loc;	/* xml: XPath selecting record elements */
	char *xml_root;		/* xml: element name of one record */
	char *xsd;		/* xml: schema file to validate against, or NULL */
	/* xml: element order per parent element name, for elements created
	 * by the encoder: order_parent[i] lists order_children[i]. */
	char **order_parent;
	char ***order_children;
	size_t norder;

	/* Nested collections: a child entity lives inside its parent's
	 * council record at items_loc (relative to the parent record). */
	char *parent_name;
	int parent_line;
	struct map_entity *parent;
	char *items_loc;
	void *items_xpath;	/* compiled, xml codec */
	struct map_entity **children;
	size_t nchildren;

	/* How records match across systems: canonical fields forming a
	 * natural (possibly composite) key, unique within the parent. */
	size_t match[MAPPING_MAX_KEYS];
	size_t nmatch;

	struct map_field *fields;
	size_t nfields;
};

struct mapping_set {
	char *name;
	char *dir;
	struct codelist *codelists;	/* the model's */
	size_t ncodelists;
	struct map_entity *entities;
	size_t nentities;
	void *model;		/* parsed model (opaque) */
};

/* Loads mappings_dir/model.json and mappings_dir/name/ *.json in name
 * order. Errors and warnings go to d; NULL when there is any error.
 * Caller frees with mapping_set_free(). */
struct mapping_set *mapping_set_load(const char *mappings_dir,
				     const char *name, struct diag *d);
void mapping_set_free(struct mapping_set *s);

const struct map_entity *mapping_find_entity(const struct mapping_set *s,
					     const char *name);
const struct codelist *mapping_find_codelist(const struct mapping_set *s,
					     const char *name);
/* Index of a field by canonical name, or -1. */
int mapping_field_index(const struct map_entity *e, const char *name);
/* Index of a code in a code list, or -1. */
int mapping_code_index(const struct codelist *cl, const char *code);

/* Whether a value may flow to the given side for this field. */
int mapping_field_flows_to(const struct map_field *f, enum side to);

const char *mapping_type_name(enum field_type t);
const char *mapping_side_name(enum side s);
const char *mapping_dir_name(enum field_dir d);
const char *mapping_policy_name(enum merge_policy p);

/* True for a plain SQL identifier, optionally schema-qualified when
 * allow_schema: [a-z_][a-z0-9_]* ("." [a-z_][a-z0-9_]*)? */
int mapping_valid_sql_ident(const char *s, int allow_schema);
/* True for a syntactically valid JSON Pointer ("" or "/a/b~1c"). */
int mapping_valid_json_pointer(const char *s);

/* True when every top-level entity of the set has a web-service
 * collection (what remote.transport = http needs); otherwise 0 with the
 * first entity without one named in err. */
int mapping_has_web_service(const struct mapping_set *m, char *err,
			    size_t errsz);

#endif
