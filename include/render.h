/* render.h - one sample record through a mapping, without touching either
 * system: what `casesync mapping render` prints and what the lens-law
 * tests drive. */
#ifndef CASESYNC_RENDER_H
#define CASESYNC_RENDER_H

#include <stddef.h>
#include "common.h"
#include "mapping.h"
#include "record.h"

#define RENDER_INPUT_MAX (16 * 1024 * 1024)

/* Parses one record as the given side holds it: from SIDE_LOCAL a JSON row
 * (columns, child collections as arrays of rows); from SIDE_REMOTE the
 * entity's payload (a JSON object, or an XML record element or a document
 * whose records XPath selects at least one: the first is taken). */
int render_parse(const struct map_entity *e, enum side from,
		 const char *data, size_t len, struct record **out,
		 char *err, size_t errsz) CS_MUST_CHECK;

/* Writes r as side `to` holds it (fields that may flow there; all when
 * all_fields): a JSON row, a JSON payload or an XML element. Caller frees
 * *out. */
int render_emit(const struct record *r, enum side to, int all_fields,
		char **out, char *err, size_t errsz) CS_MUST_CHECK;

/* The canonical JSON form of r, indented. Caller frees. */
char *render_canonical(const struct record *r);

#endif
