/* codec.h - one record between a side's representation and the canonical
 * one, through the mapping: field values (transforms, code lists, lists of
 * codes, split names), the provider's row shape, and XML record elements.
 * JSON payloads are in codec_json.h.
 *
 * Errors name the entity, the field and the kind of problem, never the
 * value. */
#ifndef CASESYNC_CODEC_H
#define CASESYNC_CODEC_H

#include <stddef.h>
#include <jansson.h>
#include <libxml/tree.h>
#include "common.h"
#include "mapping.h"
#include "record.h"

/* Canonical value of field f from the n raw values found on one side (n 0:
 * absent; an empty value of a non-string field is absent too). On the
 * provider side a multiple field is one ","-joined value. For a split
 * field raw[0] is the whole joined value and f's part is taken from it. */
int codec_value_decode(const struct map_field *f, enum side side,
		       char *const *raw, size_t n, char **canon,
		       char *err, size_t errsz) CS_MUST_CHECK;

/* The side's raw values for a canonical value (NULL: none). *vals is a
 * NULL-terminated array; free with codec_vals_free. A split field gives
 * its own part only (see codec_value_encode_joined). */
int codec_value_encode(const struct map_field *f, enum side side,
		       const char *canon, char ***vals, size_t *n,
		       char *err, size_t errsz) CS_MUST_CHECK;
void codec_vals_free(char **vals, size_t n);

/* Encodes field i of r for a side, joining the two halves of a split
 * location. *skip is set when the field is the second half of a split
 * (its partner writes the location). */
int codec_value_encode_joined(const struct record *r, size_t i,
			      enum side side, char ***vals, size_t *n,
			      int *skip, char *err, size_t errsz) CS_MUST_CHECK;

/* The provider's row shape as JSON: {"column": "text" | null, ...,
 * "child_entity": [rows...]}, used by `casesync mapping render` and the
 * lens-law tests. Columns not mapped are ignored on decode. Only fields
 * that may flow to the provider are written on encode (all when
 * all_fields). */
int codec_local_decode(const struct map_entity *e, const json_t *row,
		       struct record **out, char *err, size_t errsz)
	CS_MUST_CHECK;
json_t *codec_local_encode(const struct record *r, int all_fields);

/* An XML record element <-> record, through the mapping's XPaths. decode
 * reads every field and child collection under node. encode writes the
 * fields that may flow to the council (all when all_fields) and rebuilds
 * the child collections under node, creating elements in the mapping's
 * element order. */
int codec_xml_decode_record(const struct map_entity *e, xmlNodePtr node,
			    struct record **out, char *err, size_t errsz)
	CS_MUST_CHECK;
int codec_xml_encode_record(const struct record *r, xmlNodePtr node,
			    int all_fields, char *err, size_t errsz)
	CS_MUST_CHECK;
/* A new document holding one empty record element (e->xml_root); the
 * element is returned through root. */
xmlDocPtr codec_xml_new_record_doc(const struct map_entity *e,
				   xmlNodePtr *root);

#endif
