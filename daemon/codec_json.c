/* codec_json.c - JSON Pointer walk and typed field conversion. */
#include "codec_json.h"
#include "codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t *codec_json_parse(const char *data, size_t len, size_t max,
			 char *err, size_t errsz)
{
	json_error_t je;
	json_t *doc;

	if (len > max) {
		if (err)
			snprintf(err, errsz, "JSON larger than %zu bytes", max);
		return NULL;
	}
	/* No JSON_DECODE_ANY and no JSON_ALLOW_NUL: objects and arrays only,
	 * and "\u0000" is refused. */
	doc = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
	if (!doc) {
		/* je.text may quote the input: report position only. */
		if (err)
			snprintf(err, errsz, "invalid JSON at line %d column %d "
				 "(code %d)", je.line, je.column,
				 (int)json_error_code(&je));
		return NULL;
	}
	return doc;
}

/* Copies the next unescaped segment of ptr into seg; advances *p. */
static int next_segment(const char **p, char *seg, size_t segsz)
{
	const char *s = *p;
	size_t o = 0;

	if (*s != '/')
		return -1;
	s++;
	while (*s && *s != '/') {
		char c = *s++;

		if (c == '~') {
			if (*s == '0')
				c = '~';
			else if (*s == '1')
				c = '/';
			else
				return -1;
			s++;
		}
		if (o + 1 >= segsz)
			return -1;
		seg[o++] = c;
	}
	seg[o] = '\0';
	*p = s;
	return 0;
}

static int array_index(const char *seg, size_t size, size_t *idx)
{
	long long v;

	/* RFC 6901: "0" or digits without a leading zero, nothing else. */
	if (!seg[0] || (seg[0] == '0' && seg[1]) || strspn(seg, "0123456789") != strlen(seg))
		return -1;
	if (cs_parse_int64(seg, 0, (long long)size - 1, &v))
		return -1;
	*idx = (size_t)v;
	return 0;
}

json_t *codec_json_pointer_get(const json_t *doc, const char *ptr)
{
	json_t *cur = (json_t *)doc;
	char seg[256];
	int depth = 0;

	while (*ptr) {
		if (++depth > CODEC_JSON_MAX_DEPTH ||
		    next_segment(&ptr, seg, sizeof(seg)))
			return NULL;
		if (json_is_object(cur)) {
			cur = json_object_get(cur, seg);
		} else if (json_is_array(cur)) {
			size_t idx;

			if (array_index(seg, json_array_size(cur), &idx))
				return NULL;
			cur = json_array_get(cur, idx);
		} else {
			return NULL;
		}
		if (!cur)
			return NULL;
	}
	return cur;
}

int codec_json_pointer_set(json_t *doc, const char *ptr, json_t *val)
{
	json_t *cur = doc;
	char seg[256];
	int depth = 0;

	if (!val)
		return CS_ENOMEM;
	while (*ptr) {
		json_t *next;

		if (++depth > CODEC_JSON_MAX_DEPTH ||
		    next_segment(&ptr, seg, sizeof(seg)) || !json_is_object(cur))
			goto bad;
		if (!*ptr)
			return json_object_set_new(cur, seg, val) ? CS_ENOMEM : CS_OK;
		next = json_object_get(cur, seg);
		if (!next || json_is_null(next)) {
			next = json_object();
			if (!next || json_object_set_new(cur, seg, next))
				goto bad;
		}
		cur = next;
	}
bad:
	json_decref(val);
	return CS_EINVAL;
}

/* The raw text values of one payload member: a string, an integer
 * (rendered in decimal; reals never re-render exactly and are refused), a
 * boolean, or for multiple fields an array of those. */
static int raw_one(const struct map_field *f, const json_t *v, char **out,
		   char *err, size_t errsz)
{
	char tmp[32];

	if (json_is_string(v)) {
		if (strlen(json_string_value(v)) != json_string_length(v)) {
			snprintf(err, errsz, "field %s: NUL in string", f->name);
			return CS_EINVAL;
		}
		if (json_string_length(v) > RECORD_MAX_VALUE) {
			snprintf(err, errsz, "field %s: value longer than %d "
				 "bytes", f->name, RECORD_MAX_VALUE);
			return CS_ELIMIT;
		}
		*out = cs_strdup(json_string_value(v));
	} else if (json_is_integer(v) && (f->type == FT_INT ||
					  f->type == FT_STRING ||
					  f->type == FT_CODE)) {
		json_int_t n = json_integer_value(v);
		if (n > 9007199254740991LL || n < -9007199254740991LL) {
			snprintf(err, errsz, "field %s: integer beyond 2^53 does "
				 "not travel exactly in JSON", f->name);
			return CS_EINVAL;
		}
		snprintf(tmp, sizeof(tmp), "%lld", (long long)json_integer_value(v));
		*out = cs_strdup(tmp);
	} else if (json_is_boolean(v) && f->type == FT_BOOL) {
		*out = cs_strdup(json_is_true(v) ? "true" : "false");
	} else {
		snprintf(err, errsz, "field %s: expected a %s", f->name,
			 f->type == FT_BOOL ? "JSON boolean or string" :
			 f->type == FT_INT ? "JSON integer or string" :
			 f->multiple ? "JSON array of strings" : "JSON string");
		return CS_EINVAL;
	}
	return *out ? CS_OK : CS_ENOMEM;
}

static int value_to_text(const struct map_field *f, const json_t *v,
			 char **out, char *err, size_t errsz)
{
	char **raw = NULL;
	size_t n = 0;
	int rc = CS_OK;

	*out = NULL;
	if (!v || json_is_null(v))
		return CS_OK;
	if (json_is_array(v)) {
		size_t i;
		const json_t *item;
		if (!f->multiple) {
			snprintf(err, errsz, "field %s: an array where one value "
				 "is expected", f->name);
			return CS_EINVAL;
		}
		raw = calloc(json_array_size(v) + 1, sizeof(*raw));
		if (!raw)
			return CS_ENOMEM;
		json_array_foreach(v, i, item) {
			if ((rc = raw_one(f, item, &raw[n], err, errsz)))
				break;
			n++;
		}
	} else {
		raw = calloc(2, sizeof(*raw));
		if (!raw)
			return CS_ENOMEM;
		if (!(rc = raw_one(f, v, &raw[0], err, errsz)))
			n = 1;
	}
	if (!rc)
		rc = codec_value_decode(f, SIDE_REMOTE, raw, n, out, err, errsz);
	codec_vals_free(raw, n);
	return rc;
}

/* Identifiers and versions: strings, or integers (rendered in decimal). */
static char *scalar_text(const json_t *v)
{
	char tmp[32];

	if (json_is_string(v) && json_string_length(v) > 0 &&
	    json_string_length(v) <= 200 &&
	    strlen(json_string_value(v)) == json_string_length(v))
		return cs_strdup(json_string_value(v));
	if (json_is_integer(v)) {
		snprintf(tmp, sizeof(tmp), "%lld", (long long)json_integer_value(v));
		return cs_strdup(tmp);
	}
	return NULL;
}

/* The modification time as found: a string without NUL, else NULL. It is
 * only ever compared (merge_newer_by_time), and an unusable time merely
 * leaves the newest policy to a person, so nothing here is an error, not
 * even running out of memory. */
static char *modified_text(const struct map_entity *e, const json_t *obj)
{
	const json_t *v;

	if (!e->remote_modified_loc)
		return NULL;
	v = codec_json_pointer_get(obj, e->remote_modified_loc);
	if (!json_is_string(v) ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return NULL;
	return cs_strdup(json_string_value(v));
}

int codec_json_decode_record(const struct map_entity *e, const json_t *obj,
			     struct record **out, char *err, size_t errsz)
{
	struct record *r = record_new(e);
	int rc = CS_OK;

	*out = NULL;
	if (!r)
		return CS_ENOMEM;
	for (size_t i = 0; i < e->nfields && !rc; i++)
		rc = value_to_text(&e->fields[i],
				   codec_json_pointer_get(obj, e->fields[i].remote_loc),
				   &r->vals[i], err, errsz);
	for (size_t ci = 0; ci < e->nchildren && !rc; ci++) {
		const struct map_entity *ce = e->children[ci];
		const json_t *a = codec_json_pointer_get(obj, ce->items_loc);
		const json_t *item;
		size_t k;

		if (!a || json_is_null(a))
			continue;
		if (!json_is_array(a)) {
			snprintf(err, errsz, "%s: expected an array at %s",
				 ce->name, ce->items_loc);
			rc = CS_EINVAL;
			break;
		}
		json_array_foreach(a, k, item) {
			struct record *c;
			if (!json_is_object(item)) {
				snprintf(err, errsz, "%s item %zu: not a JSON "
					 "object", ce->name, k);
				rc = CS_EINVAL;
				break;
			}
			rc = codec_json_decode_record(ce, item, &c, err, errsz);
			if (!rc)
				rc = record_add_child(r, ci, c);
			if (rc)
				break;
		}
	}
	if (rc) {
		record_free(r);
		return rc;
	}
	*out = r;
	return CS_OK;
}

int codec_json_decode(const struct map_entity *e, json_t *obj,
		      struct codec_item *out, char *err, size_t errsz)
{
	const json_t *v;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(obj)) {
		snprintf(err, errsz, "record is not a JSON object");
		return CS_EINVAL;
	}
	out->remote_id = scalar_text(codec_json_pointer_get(obj, e->remote_id_loc));
	if (!out->remote_id) {
		snprintf(err, errsz, "record has no usable id at %s",
			 e->remote_id_loc);
		return CS_EINVAL;
	}
	v = codec_json_pointer_get(obj, e->remote_version_loc);
	if (v && !(out->version = scalar_text(v))) {
		snprintf(err, errsz, "record %s: version is neither string nor "
			 "integer", out->remote_id);
		goto fail;
	}
	out->modified = modified_text(e, obj);
	v = codec_json_pointer_get(obj, e->remote_deleted_loc);
	out->deleted = v && json_is_true(v);
	out->doc = json_incref(obj);
	if (out->deleted)
		return CS_OK;
	{
		char fe[200];
		if (codec_json_decode_record(e, obj, &out->rec, fe, sizeof(fe))) {
			snprintf(err, errsz, "record %s: %s", out->remote_id, fe);
			goto fail;
		}
	}
	return CS_OK;
fail:
	codec_item_clear(out);
	return CS_EINVAL;
}

void codec_item_clear(struct codec_item *it)
{
	free(it->remote_id);
	free(it->version);
	free(it->modified);
	record_free(it->rec);
	json_decref(it->doc);
	if (it->xdoc)
		xmlFreeDoc(it->xdoc);
	memset(it, 0, sizeof(*it));
}

static json_t *scalar_value(const struct map_field *f, const char *v)
{
	long long n;

	if (f->type == FT_INT && !cs_parse_int64(v, -9007199254740991LL,
						 9007199254740991LL, &n))
		return json_integer(n);
	if (f->type == FT_BOOL && (!strcmp(v, "true") || !strcmp(v, "false")))
		return json_boolean(!strcmp(v, "true"));
	return json_string(v);
}

static json_t *vals_to_json(const struct map_field *f, char **vals, size_t n)
{
	json_t *a;

	if (!f->multiple)
		return n ? scalar_value(f, vals[0]) : json_null();
	if (!n)
		return json_null();
	a = json_array();
	for (size_t i = 0; a && i < n; i++)
		if (json_array_append_new(a, scalar_value(f, vals[i]))) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static int encode_into(const struct record *r, json_t *doc, int all_fields,
		       int with_children, char *err, size_t errsz)
{
	const struct map_entity *e = r->ent;

	for (size_t i = 0; i < e->nfields; i++) {
		const struct map_field *f = &e->fields[i];
		char **vals;
		size_t n;
		int skip, rc;

		if (!all_fields && !mapping_field_flows_to(f, SIDE_REMOTE))
			continue;
		rc = codec_value_encode_joined(r, i, SIDE_REMOTE, &vals, &n,
					       &skip, err, errsz);
		if (rc)
			return rc;
		if (!skip && codec_json_pointer_set(doc, f->remote_loc,
						    vals_to_json(f, vals, n))) {
			codec_vals_free(vals, n);
			snprintf(err, errsz, "field %s: cannot write at %s",
				 f->name, f->remote_loc);
			return CS_EINVAL;
		}
		codec_vals_free(vals, n);
	}
	for (size_t ci = 0; with_children && ci < e->nchildren; ci++) {
		const struct map_entity *ce = e->children[ci];
		json_t *a = json_array();
		int rc;

		if (!a)
			return CS_ENOMEM;
		for (size_t k = 0; k < r->kids[ci].n; k++) {
			json_t *item = json_object();
			if (!item || json_array_append_new(a, item)) {
				json_decref(a);
				return CS_ENOMEM;
			}
			rc = encode_into(r->kids[ci].v[k], item, all_fields, 1,
					 err, errsz);
			if (rc) {
				json_decref(a);
				return rc;
			}
		}
		if (codec_json_pointer_set(doc, ce->items_loc, a)) {
			snprintf(err, errsz, "%s: cannot write at %s", ce->name,
				 ce->items_loc);
			return CS_EINVAL;
		}
	}
	return CS_OK;
}

int codec_json_encode_into(const struct record *r, json_t *doc,
			   int all_fields, char *err, size_t errsz)
{
	return encode_into(r, doc, all_fields, 1, err, errsz);
}

json_t *codec_json_encode(const struct map_entity *e, const struct record *r,
			  const json_t *template)
{
	json_t *doc = template ? json_deep_copy(template) : json_object();
	char err[200];

	(void)e;
	if (!doc)
		return NULL;
	/* The engine syncs the record's own fields: nested collections in the
	 * template are left as the council has them. */
	if (encode_into(r, doc, 0, 0, err, sizeof(err))) {
		json_decref(doc);
		return NULL;
	}
	return doc;
}
