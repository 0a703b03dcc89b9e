/* transform.h - value transforms between a side's representation and the
 * canonical one: code lists, date formats, trimming, case, split and join.
 *
 * Pure functions: no I/O, no clock, no global state. Errors name the field
 * and the kind of problem, never the value (it may be personal data).
 *
 * Canonical forms (see docs/canonical-model.md):
 *   string    any UTF-8 text without NUL
 *   int       decimal, optional '-', no leading zeros, fits int64
 *   bool      "true" | "false"
 *   date      YYYY-MM-DD (a real calendar date)
 *   datetime  YYYY-MM-DDTHH:MM:SSZ (UTC)
 *   code      one of the field's code list's canonical codes
 *   multiple  the canonical forms of the values, sorted (byte order),
 *             duplicates removed, joined with ","
 */
#ifndef CASESYNC_TRANSFORM_H
#define CASESYNC_TRANSFORM_H

#include <stddef.h>
#include "common.h"
#include "mapping.h"

/* Checks one scalar value (not a list) against a field's type and code list
 * and writes its canonical form (caller frees). Accepts for bool
 * true/false in any case, "1"/"0" and "t"/"f"; for datetime ISO 8601 with 'T' or ' ', optional fraction (dropped),
 * and Z, +HH, +HHMM or +HH:MM (converted to UTC; none means UTC).
 * CS_EINVAL with a message in err when it does not conform. */
int xform_canon_scalar(const struct map_field *f, const char *in, char **out,
		       char *err, size_t errsz) CS_MUST_CHECK;

/* Canonical form of a whole field value. For multiple fields the input is
 * a ","-joined list; each item is checked as a scalar. */
int xform_canon(const struct map_field *f, const char *in, char **out,
		char *err, size_t errsz) CS_MUST_CHECK;

/* Side -> canonical for one scalar value found on a side: trim, case,
 * date format, code translation (a side value not in the translation is
 * an error "unknown code"), then xform_canon_scalar. Split is not applied
 * here (see xform_split). */
int xform_decode(const struct map_field *f, const struct map_xform *x,
		 const char *raw, char **out, char *err, size_t errsz)
	CS_MUST_CHECK;

/* Canonical scalar -> the side's representation: code translation, date
 * format. (Trim and case apply only when decoding.) */
int xform_encode(const struct map_field *f, const struct map_xform *x,
		 const char *canon, char **out, char *err, size_t errsz)
	CS_MUST_CHECK;

/* The part of whole a field holds (PART_FIRST..PART_LAST). When whole has
 * no separator, FIRST and LAST get all of it and REST and INIT get "". */
int xform_split(const char *whole, const char *sep, enum split_part part,
		char **out) CS_MUST_CHECK;
/* Joins the two parts of a split value: a (FIRST or INIT) sep b (REST or
 * LAST). An empty or NULL part is left out with its separator. */
int xform_join(const char *a, const char *b, const char *sep, char **out)
	CS_MUST_CHECK;

/* Whether a date format string is valid for the type (FT_DATE or
 * FT_DATETIME): only %Y %y %m %d %H %M %S %% and literal ASCII. */
int xform_date_format_valid(const char *fmt, enum field_type t);

/* Why this side's transform cannot round-trip canonical values (NULL when
 * it can): a code translation that is not one-to-one, a date format that
 * drops information (%y, a missing part), case folding, trimming or
 * splitting of free text. A static string. */
const char *xform_lossy(const struct map_field *f, const struct map_xform *x);

/* Splits a canonical multiple value into its items (caller frees each and
 * the array). "" or NULL gives zero items. */
int xform_list_split(const char *canon, char ***items, size_t *n)
	CS_MUST_CHECK;
void xform_list_free(char **items, size_t n);

#endif
