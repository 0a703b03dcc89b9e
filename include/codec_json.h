/* codec_json.h - council JSON payloads <-> canonical records, through the
 * mapping's JSON Pointers.
 *
 * Parsing is strict: duplicate keys, bare scalars and NUL escapes are
 * rejected, input size is capped before parsing, and dates and decimals
 * travel as strings (a JSON integer is accepted for int and string fields,
 * a real number never). Errors
 * name the field and position, never the value. */
#ifndef CASESYNC_CODEC_JSON_H
#define CASESYNC_CODEC_JSON_H

#include <jansson.h>
#include <libxml/tree.h>
#include "common.h"
#include "mapping.h"
#include "record.h"

#define CODEC_JSON_MAX_DEPTH 32	/* pointer segments followed */

/* Parses a JSON object or array of at most max bytes. On failure returns
 * NULL and, when err is non-NULL, writes a message with line and column. */
json_t *codec_json_parse(const char *data, size_t len, size_t max,
			 char *err, size_t errsz);

/* RFC 6901 lookup; NULL when absent or the pointer is malformed. */
json_t *codec_json_pointer_get(const json_t *doc, const char *ptr);
/* Sets the member at ptr (steals val), creating intermediate objects. */
int codec_json_pointer_set(json_t *doc, const char *ptr, json_t *val)
	CS_MUST_CHECK;

/* One council record decoded. */
struct codec_item {
	char *remote_id;
	char *version;		/* NULL when the payload carries none */
	/* The record's last-modified time as the council wrote it (at
	 * e->remote_modified_loc), unparsed; NULL when the entity maps none
	 * or the payload has no string there. See merge_newer_by_time(). */
	char *modified;
	int deleted;
	struct record *rec;	/* NULL for a deletion */
	json_t *doc;		/* the payload, kept to re-encode updates */
	xmlDocPtr xdoc;		/* the same for an XML record (web service) */
};

/* Decodes the fields and child collections of one council record object
 * (no id or version). err names the failing field. */
int codec_json_decode_record(const struct map_entity *e, const json_t *obj,
			     struct record **out, char *err, size_t errsz)
	CS_MUST_CHECK;
/* Writes r's fields that may flow to the council (all when all_fields)
 * into doc, and replaces its child collections. */
int codec_json_encode_into(const struct record *r, json_t *doc,
			   int all_fields, char *err, size_t errsz)
	CS_MUST_CHECK;

/* Decodes one council record object, tombstones included (id, version,
 * modified and the deleted flag; no record). err names the failing field.
 * A missing or malformed modification time is never an error: it only
 * leaves out->modified NULL. */
int codec_json_decode(const struct map_entity *e, json_t *obj,
		      struct codec_item *out, char *err, size_t errsz)
	CS_MUST_CHECK;
void codec_item_clear(struct codec_item *it);

/* Encodes the fields of r that may flow to the council, on top of a copy of
 * template (the council's current payload, so unmapped members and nested
 * collections survive) or of an empty object. Returns a new reference or
 * NULL. */
json_t *codec_json_encode(const struct map_entity *e, const struct record *r,
			  const json_t *template);

#endif
