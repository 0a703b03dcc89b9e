/* codec.c - field values, provider rows and XML record elements through
 * the mapping. */
#include "codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec_xml.h"
#include "transform.h"

static const struct map_xform *side_x(const struct map_field *f,
				      enum side side)
{
	return side == SIDE_LOCAL ? &f->local_x : &f->remote_x;
}

void codec_vals_free(char **vals, size_t n)
{
	if (!vals)
		return;
	for (size_t i = 0; i < n; i++)
		free(vals[i]);
	free(vals);
}

static int join_list(char **items, size_t n, char **out)
{
	size_t len = 1, o = 0;
	char *s;

	for (size_t i = 0; i < n; i++)
		len += strlen(items[i]) + 1;
	s = malloc(len);
	if (!s)
		return CS_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		size_t k = strlen(items[i]);
		if (i)
			s[o++] = ',';
		memcpy(s + o, items[i], k);
		o += k;
	}
	s[o] = '\0';
	*out = s;
	return CS_OK;
}

int codec_value_decode(const struct map_field *f, enum side side,
		       char *const *raw, size_t n, char **canon,
		       char *err, size_t errsz)
{
	const struct map_xform *x = side_x(f, side);
	char **items = NULL, **parts = NULL;
	size_t nitems = 0;
	char *whole = NULL;
	int rc = CS_OK;

	*canon = NULL;
	if (n == 0)
		return CS_OK;
	for (size_t i = 0; i < n; i++)
		if (strlen(raw[i]) > RECORD_MAX_VALUE) {
			snprintf(err, errsz, "field %s: value longer than %d "
				 "bytes", f->name, RECORD_MAX_VALUE);
			return CS_ELIMIT;
		}
	if (!f->multiple && n > 1) {
		snprintf(err, errsz, "field %s: %zu values where one is expected",
			 f->name, n);
		return CS_EINVAL;
	}
	if (x->split_part != PART_NONE) {
		rc = xform_split(raw[0], x->split_sep, x->split_part, &whole);
		if (rc)
			return rc;
		if (!*whole) {
			free(whole);
			return CS_OK;
		}
		raw = &whole;
	}
	if (f->multiple && side == SIDE_LOCAL) {
		/* One ","-joined column value. */
		rc = xform_list_split(raw[0], &parts, &n);
		if (rc)
			goto out;
		raw = parts;
	}
	if (!f->multiple) {
		if (f->type != FT_STRING && !*raw[0])
			goto out;
		rc = xform_decode(f, x, raw[0], canon, err, errsz);
		goto out;
	}
	items = calloc(n + 1, sizeof(*items));
	if (!items) {
		rc = CS_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (!*raw[i])
			continue;
		rc = xform_decode(f, x, raw[i], &items[nitems], err, errsz);
		if (rc)
			goto out;
		nitems++;
	}
	if (nitems) {
		char *joined;
		rc = join_list(items, nitems, &joined);
		if (!rc) {
			rc = xform_canon(f, joined, canon, err, errsz);
			free(joined);
		}
	}
out:
	codec_vals_free(items, nitems);
	if (parts)
		xform_list_free(parts, n);
	free(whole);
	return rc;
}

int codec_value_encode(const struct map_field *f, enum side side,
		       const char *canon, char ***vals, size_t *n,
		       char *err, size_t errsz)
{
	const struct map_xform *x = side_x(f, side);
	char **items = NULL, **out = NULL;
	size_t nitems = 0, k = 0;
	int rc;

	*vals = NULL;
	*n = 0;
	if (!canon) {
		*vals = calloc(1, sizeof(char *));
		return *vals ? CS_OK : CS_ENOMEM;
	}
	if (f->multiple) {
		rc = xform_list_split(canon, &items, &nitems);
		if (rc)
			return rc;
	} else {
		items = calloc(2, sizeof(*items));
		if (!items || !(items[0] = cs_strdup(canon))) {
			free(items);
			return CS_ENOMEM;
		}
		nitems = 1;
	}
	out = calloc(nitems + 1, sizeof(*out));
	if (!out) {
		rc = CS_ENOMEM;
		goto fail;
	}
	for (k = 0; k < nitems; k++) {
		rc = xform_encode(f, x, items[k], &out[k], err, errsz);
		if (rc)
			goto fail;
	}
	xform_list_free(items, nitems);
	if (f->multiple && side == SIDE_LOCAL) {
		char *joined = NULL;
		rc = nitems ? join_list(out, nitems, &joined) : CS_OK;
		codec_vals_free(out, nitems);
		if (rc)
			return rc;
		out = calloc(2, sizeof(*out));
		if (!out) {
			free(joined);
			return CS_ENOMEM;
		}
		out[0] = joined;
		nitems = joined ? 1 : 0;
	}
	*vals = out;
	*n = nitems;
	return CS_OK;
fail:
	codec_vals_free(out, k);
	xform_list_free(items, nitems);
	return rc;
}

/* The other half of a split location, or -1. */
static int split_partner(const struct map_entity *e, size_t i, enum side side)
{
	const struct map_field *f = &e->fields[i];
	const char *loc = side == SIDE_LOCAL ? f->local_col : f->remote_loc;

	for (size_t j = 0; j < e->nfields; j++) {
		const struct map_field *g = &e->fields[j];
		const char *gl = side == SIDE_LOCAL ? g->local_col : g->remote_loc;
		if (j != i && gl && !strcmp(gl, loc) &&
		    side_x(g, side)->split_part != PART_NONE)
			return (int)j;
	}
	return -1;
}

int codec_value_encode_joined(const struct record *r, size_t i,
			      enum side side, char ***vals, size_t *n,
			      int *skip, char *err, size_t errsz)
{
	const struct map_entity *e = r->ent;
	const struct map_field *f = &e->fields[i];
	enum split_part part = side_x(f, side)->split_part;
	char **a = NULL, **b = NULL;
	size_t na = 0, nb = 0;
	char *joined = NULL;
	int j, rc;

	*skip = 0;
	if (part == PART_NONE)
		return codec_value_encode(f, side, record_get(r, i), vals, n,
					  err, errsz);
	j = split_partner(e, i, side);
	if (part == PART_REST || part == PART_LAST) {
		*skip = j >= 0;
		if (*skip) {
			*vals = NULL;
			*n = 0;
			return CS_OK;
		}
	}
	rc = codec_value_encode(f, side, record_get(r, i), &a, &na, err, errsz);
	if (!rc && j >= 0)
		rc = codec_value_encode(&e->fields[j], side,
					record_get(r, (size_t)j), &b, &nb, err,
					errsz);
	if (!rc && (na || nb))
		rc = xform_join(na ? a[0] : NULL, nb ? b[0] : NULL,
				side_x(f, side)->split_sep, &joined);
	codec_vals_free(a, na);
	codec_vals_free(b, nb);
	if (rc) {
		free(joined);
		return rc;
	}
	*vals = calloc(2, sizeof(char *));
	if (!*vals) {
		free(joined);
		return CS_ENOMEM;
	}
	(*vals)[0] = joined;
	*n = joined ? 1 : 0;
	return CS_OK;
}

/* ---------------------------------------------------------------------
 * Provider rows. */

int codec_local_decode(const struct map_entity *e, const json_t *row,
		       struct record **out, char *err, size_t errsz)
{
	struct record *r;
	int rc = CS_OK;

	*out = NULL;
	if (!json_is_object(row)) {
		snprintf(err, errsz, "entity %s: a row must be a JSON object",
			 e->name);
		return CS_EINVAL;
	}
	r = record_new(e);
	if (!r)
		return CS_ENOMEM;
	for (size_t i = 0; i < e->nfields && !rc; i++) {
		const struct map_field *f = &e->fields[i];
		const json_t *v = json_object_get(row, f->local_col);
		char tmp[32], *raw;

		if (!v || json_is_null(v))
			continue;
		if (json_is_string(v)) {
			raw = (char *)json_string_value(v);
		} else if (json_is_integer(v)) {
			snprintf(tmp, sizeof(tmp), "%lld",
				 (long long)json_integer_value(v));
			raw = tmp;
		} else if (json_is_boolean(v)) {
			raw = json_is_true(v) ? "true" : "false";
		} else {
			snprintf(err, errsz, "entity %s field %s: column %s must "
				 "be a string, integer, boolean or null", e->name,
				 f->name, f->local_col);
			rc = CS_EINVAL;
			break;
		}
		rc = codec_value_decode(f, SIDE_LOCAL, &raw, 1, &r->vals[i], err,
					errsz);
	}
	for (size_t ci = 0; ci < e->nchildren && !rc; ci++) {
		const struct map_entity *ce = e->children[ci];
		const json_t *a = json_object_get(row, ce->name);
		const json_t *item;
		size_t k;

		if (!a || json_is_null(a))
			continue;
		if (!json_is_array(a)) {
			snprintf(err, errsz, "entity %s: '%s' must be an array of "
				 "rows", e->name, ce->name);
			rc = CS_EINVAL;
			break;
		}
		json_array_foreach(a, k, item) {
			struct record *c;
			rc = codec_local_decode(ce, item, &c, err, errsz);
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

json_t *codec_local_encode(const struct record *r, int all_fields)
{
	const struct map_entity *e = r->ent;
	json_t *o = json_object();
	char err[200];

	if (!o)
		return NULL;
	for (size_t i = 0; i < e->nfields; i++) {
		const struct map_field *f = &e->fields[i];
		char **vals;
		size_t n;
		int skip;

		if (!all_fields && !mapping_field_flows_to(f, SIDE_LOCAL))
			continue;
		if (codec_value_encode_joined(r, i, SIDE_LOCAL, &vals, &n, &skip,
					      err, sizeof(err)))
			goto fail;
		if (!skip && json_object_set_new(o, f->local_col, n ?
						 json_string(vals[0]) : json_null())) {
			codec_vals_free(vals, n);
			goto fail;
		}
		codec_vals_free(vals, n);
	}
	for (size_t ci = 0; ci < e->nchildren; ci++) {
		json_t *a = json_array();
		if (!a || json_object_set_new(o, e->children[ci]->name, a))
			goto fail;
		for (size_t k = 0; k < r->kids[ci].n; k++)
			if (json_array_append_new(a, codec_local_encode(
					r->kids[ci].v[k], all_fields)))
				goto fail;
	}
	return o;
fail:
	json_decref(o);
	return NULL;
}

/* ---------------------------------------------------------------------
 * XML record elements. */

static void entity_order(const struct map_entity *e,
			 struct codec_xml_order *o)
{
	while (e && e->norder == 0)
		e = e->parent;
	o->parent = e ? e->order_parent : NULL;
	o->children = e ? e->order_children : NULL;
	o->n = e ? e->norder : 0;
}

int codec_xml_decode_record(const struct map_entity *e, xmlNodePtr node,
			    struct record **out, char *err, size_t errsz)
{
	struct record *r = record_new(e);
	int rc = CS_OK;

	*out = NULL;
	if (!r)
		return CS_ENOMEM;
	for (size_t i = 0; i < e->nfields && !rc; i++) {
		const struct map_field *f = &e->fields[i];
		char **vals = NULL;
		size_t n = 0;

		rc = codec_xml_get(node, f->remote_xpath, &vals, &n, err, errsz);
		if (!rc)
			rc = codec_value_decode(f, SIDE_REMOTE, vals, n,
						&r->vals[i], err, errsz);
		codec_xml_vals_free(vals, n);
	}
	for (size_t ci = 0; ci < e->nchildren && !rc; ci++) {
		const struct map_entity *ce = e->children[ci];
		xmlNodePtr *items = NULL;
		size_t n = 0;

		rc = codec_xml_items(node, ce->items_xpath, &items, &n, err,
				     errsz);
		for (size_t k = 0; k < n && !rc; k++) {
			struct record *c;
			rc = codec_xml_decode_record(ce, items[k], &c, err, errsz);
			if (!rc)
				rc = record_add_child(r, ci, c);
		}
		free(items);
	}
	if (rc) {
		record_free(r);
		return rc;
	}
	*out = r;
	return CS_OK;
}

int codec_xml_encode_record(const struct record *r, xmlNodePtr node,
			    int all_fields, char *err, size_t errsz)
{
	const struct map_entity *e = r->ent;
	struct codec_xml_order order;
	int rc = CS_OK;

	entity_order(e, &order);
	for (size_t i = 0; i < e->nfields && !rc; i++) {
		const struct map_field *f = &e->fields[i];
		char **vals;
		size_t n;
		int skip;

		if (!all_fields && !mapping_field_flows_to(f, SIDE_REMOTE))
			continue;
		rc = codec_value_encode_joined(r, i, SIDE_REMOTE, &vals, &n,
					       &skip, err, errsz);
		if (rc)
			break;
		if (!skip)
			rc = codec_xml_set(node, f->remote_loc, &order, vals, n,
					   err, errsz);
		codec_vals_free(vals, n);
	}
	for (size_t ci = 0; ci < e->nchildren && !rc; ci++) {
		const struct map_entity *ce = e->children[ci];

		codec_xml_remove_items(node, ce->items_loc);
		for (size_t k = 0; k < r->kids[ci].n && !rc; k++) {
			xmlNodePtr item = codec_xml_add_item(node, ce->items_loc,
							     &order);
			if (!item) {
				snprintf(err, errsz, "entity %s: cannot create "
					 "an element for %s", e->name, ce->name);
				rc = CS_ENOMEM;
				break;
			}
			rc = codec_xml_encode_record(r->kids[ci].v[k], item,
						     all_fields, err, errsz);
		}
	}
	return rc;
}

xmlDocPtr codec_xml_new_record_doc(const struct map_entity *e,
				   xmlNodePtr *root)
{
	xmlDocPtr doc;
	const char *name = e->xml_root;

	if (!name && e->items_loc) {
		/* A child alone: its element is the last step of its path. */
		name = strrchr(e->items_loc, '/');
		name = name ? name + 1 : e->items_loc;
	}
	if (!name)
		name = e->name;
	doc = xmlNewDoc(BAD_CAST "1.0");
	if (!doc)
		return NULL;
	*root = xmlNewDocNode(doc, NULL, BAD_CAST name, NULL);
	if (!*root) {
		xmlFreeDoc(doc);
		return NULL;
	}
	xmlDocSetRootElement(doc, *root);
	return doc;
}
