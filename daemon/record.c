/* record.c - canonical records: values, child collections, hashing. */
#include "record.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

struct record *record_new(const struct map_entity *ent)
{
	struct record *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->ent = ent;
	r->vals = calloc(ent->nfields ? ent->nfields : 1, sizeof(*r->vals));
	r->kids = calloc(ent->nchildren ? ent->nchildren : 1, sizeof(*r->kids));
	if (!r->vals || !r->kids) {
		free(r->vals);
		free(r->kids);
		free(r);
		return NULL;
	}
	return r;
}

int record_add_child(struct record *r, size_t ci, struct record *child)
{
	struct record_list *l = &r->kids[ci];

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 4;
		struct record **v = realloc(l->v, cap * sizeof(*v));
		if (!v) {
			record_free(child);
			return CS_ENOMEM;
		}
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = child;
	return CS_OK;
}

struct record *record_dup(const struct record *r)
{
	struct record *c = record_new(r->ent);

	if (!c)
		return NULL;
	for (size_t i = 0; i < r->ent->nfields; i++) {
		if (record_set(c, i, r->vals[i])) {
			record_free(c);
			return NULL;
		}
	}
	for (size_t ci = 0; ci < r->ent->nchildren; ci++)
		for (size_t k = 0; k < r->kids[ci].n; k++) {
			struct record *d = record_dup(r->kids[ci].v[k]);
			if (!d || record_add_child(c, ci, d)) {
				record_free(c);
				return NULL;
			}
		}
	return c;
}

void record_free(struct record *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->ent->nfields; i++)
		free(r->vals[i]);
	for (size_t ci = 0; ci < r->ent->nchildren; ci++) {
		for (size_t k = 0; k < r->kids[ci].n; k++)
			record_free(r->kids[ci].v[k]);
		free(r->kids[ci].v);
	}
	free(r->kids);
	free(r->vals);
	free(r);
}

int record_set(struct record *r, size_t i, const char *v)
{
	char *copy = NULL;

	if (v) {
		copy = cs_strdup(v);
		if (!copy)
			return CS_ENOMEM;
	}
	free(r->vals[i]);
	r->vals[i] = copy;
	return CS_OK;
}

const char *record_get(const struct record *r, size_t i)
{
	return r->vals[i];
}

int record_field_equal(const struct record *a, const struct record *b, size_t i)
{
	return cs_streq(a->vals[i], b->vals[i]);
}

int record_equal(const struct record *a, const struct record *b)
{
	return record_diff_count(a, b) == 0;
}

int record_tree_equal(const struct record *a, const struct record *b)
{
	if (a->ent != b->ent || !record_equal(a, b))
		return 0;
	for (size_t ci = 0; ci < a->ent->nchildren; ci++) {
		if (a->kids[ci].n != b->kids[ci].n)
			return 0;
		for (size_t k = 0; k < a->kids[ci].n; k++)
			if (!record_tree_equal(a->kids[ci].v[k], b->kids[ci].v[k]))
				return 0;
	}
	return 1;
}

size_t record_diff_count(const struct record *a, const struct record *b)
{
	size_t n = 0;

	for (size_t i = 0; i < a->ent->nfields; i++)
		n += !record_field_equal(a, b, i);
	return n;
}

static void hash_bytes(EVP_MD_CTX *ctx, const void *p, size_t n)
{
	uint8_t len[8];

	for (int i = 0; i < 8; i++)
		len[i] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
	EVP_DigestUpdate(ctx, len, sizeof(len));
	EVP_DigestUpdate(ctx, p, n);
}

void record_hash(const struct record *r, char out[RECORD_HASH_HEX])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	out[0] = '\0';
	if (!ctx)
		return;
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	for (size_t i = 0; i < r->ent->nfields; i++) {
		const char *v = r->vals[i];

		hash_bytes(ctx, r->ent->fields[i].name,
			   strlen(r->ent->fields[i].name));
		EVP_DigestUpdate(ctx, v ? "V" : "N", 1);
		if (v)
			hash_bytes(ctx, v, strlen(v));
	}
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	EVP_MD_CTX_free(ctx);
	for (unsigned int i = 0; i < mdlen && i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
}

json_t *record_to_json(const struct record *r)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	for (size_t i = 0; i < r->ent->nfields; i++) {
		json_t *v = r->vals[i] ? json_string(r->vals[i]) : json_null();

		if (!v || json_object_set_new(o, r->ent->fields[i].name, v)) {
			json_decref(o);
			return NULL;
		}
	}
	for (size_t ci = 0; ci < r->ent->nchildren; ci++) {
		json_t *a = json_array();

		if (!a || json_object_set_new(o, r->ent->children[ci]->name, a)) {
			json_decref(o);
			return NULL;
		}
		for (size_t k = 0; k < r->kids[ci].n; k++)
			if (json_array_append_new(a, record_to_json(r->kids[ci].v[k]))) {
				json_decref(o);
				return NULL;
			}
	}
	return o;
}

int record_from_json(const struct map_entity *ent, const json_t *obj,
		     struct record **out)
{
	struct record *r;

	*out = NULL;
	if (!json_is_object(obj))
		return CS_EINVAL;
	r = record_new(ent);
	if (!r)
		return CS_ENOMEM;
	for (size_t i = 0; i < ent->nfields; i++) {
		const json_t *v = json_object_get(obj, ent->fields[i].name);

		if (!v || json_is_null(v))
			continue;
		if (!json_is_string(v) ||
		    record_set(r, i, json_string_value(v))) {
			record_free(r);
			return CS_EINVAL;
		}
	}
	for (size_t ci = 0; ci < ent->nchildren; ci++) {
		const json_t *a = json_object_get(obj, ent->children[ci]->name);
		size_t k;
		const json_t *item;

		if (!a)
			continue;
		if (!json_is_array(a)) {
			record_free(r);
			return CS_EINVAL;
		}
		json_array_foreach(a, k, item) {
			struct record *c;
			int rc = record_from_json(ent->children[ci], item, &c);
			if (rc || (rc = record_add_child(r, ci, c))) {
				record_free(r);
				return rc;
			}
		}
	}
	*out = r;
	return CS_OK;
}
