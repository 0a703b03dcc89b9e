/* codec_json.c - JSON Pointer walk and typed field conversion. */
#include "codec_json.h"

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

/* Converts one payload value to canonical text per the field type. */
static int value_to_text(const struct map_field *f, const json_t *v,
			 char **out, char *err, size_t errsz)
{
	char tmp[32];
	int rc;

	*out = NULL;
	if (!v || json_is_null(v))
		return CS_OK;
	if (json_is_string(v)) {
		if (strlen(json_string_value(v)) != json_string_length(v)) {
			snprintf(err, errsz, "field %s: NUL in string", f->name);
			return CS_EINVAL;
		}
		rc = record_normalise(f->type, json_string_value(v), out);
	} else if (json_is_integer(v) &&
		   (f->type == FT_INT || f->type == FT_STRING)) {
		/* An integer re-renders exactly (numeric council ids); reals
		 * never do, so they are refused below. */
		snprintf(tmp, sizeof(tmp), "%lld", (long long)json_integer_value(v));
		rc = record_normalise(f->type, tmp, out);
	} else if (json_is_boolean(v) && f->type == FT_BOOL) {
		*out = cs_strdup(json_is_true(v) ? "true" : "false");
		rc = *out ? CS_OK : CS_ENOMEM;
	} else {
		snprintf(err, errsz, "field %s: expected a %s", f->name,
			 f->type == FT_STRING || f->type == FT_DATE ?
			 "JSON string" : mapping_type_name(f->type));
		return CS_EINVAL;
	}
	if (rc == CS_EINVAL)
		snprintf(err, errsz, "field %s: not a valid %s", f->name,
			 mapping_type_name(f->type));
	else if (rc == CS_ELIMIT)
		snprintf(err, errsz, "field %s: value longer than %d bytes",
			 f->name, RECORD_MAX_VALUE);
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

int codec_json_decode(const struct map_entity *e, json_t *obj,
		      struct codec_item *out, char *err, size_t errsz)
{
	const json_t *v;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(obj)) {
		snprintf(err, errsz, "record is not a JSON object");
		return CS_EINVAL;
	}
	out->remote_id = scalar_text(codec_json_pointer_get(obj, e->remote_id_ptr));
	if (!out->remote_id) {
		snprintf(err, errsz, "record has no usable id at %s",
			 e->remote_id_ptr);
		return CS_EINVAL;
	}
	v = codec_json_pointer_get(obj, e->remote_version_ptr);
	if (v && !(out->version = scalar_text(v))) {
		snprintf(err, errsz, "record %s: version is neither string nor "
			 "integer", out->remote_id);
		goto fail;
	}
	v = codec_json_pointer_get(obj, e->remote_deleted_ptr);
	out->deleted = v && json_is_true(v);
	out->doc = json_incref(obj);
	if (out->deleted)
		return CS_OK;
	out->rec = record_new(e);
	if (!out->rec)
		goto fail;
	for (size_t i = 0; i < e->nfields; i++) {
		char *text, fe[200];

		if (value_to_text(&e->fields[i],
				  codec_json_pointer_get(obj, e->fields[i].remote_ptr),
				  &text, fe, sizeof(fe))) {
			snprintf(err, errsz, "record %s: %s", out->remote_id, fe);
			goto fail;
		}
		out->rec->vals[i] = text;
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
	record_free(it->rec);
	json_decref(it->doc);
	memset(it, 0, sizeof(*it));
}

static json_t *text_to_value(const struct map_field *f, const char *v)
{
	long long n;

	if (!v)
		return json_null();
	if (f->type == FT_INT && !cs_parse_int64(v, -9007199254740991LL,
						 9007199254740991LL, &n))
		return json_integer(n);
	if (f->type == FT_BOOL)
		return json_boolean(!strcmp(v, "true"));
	return json_string(v);
}

json_t *codec_json_encode(const struct map_entity *e, const struct record *r,
			  const json_t *template)
{
	json_t *doc = template ? json_deep_copy(template) : json_object();

	if (!doc)
		return NULL;
	for (size_t i = 0; i < e->nfields; i++) {
		const struct map_field *f = &e->fields[i];

		if (!mapping_field_flows_to(f, SIDE_REMOTE))
			continue;
		if (codec_json_pointer_set(doc, f->remote_ptr,
					   text_to_value(f, record_get(r, i)))) {
			json_decref(doc);
			return NULL;
		}
	}
	return doc;
}
