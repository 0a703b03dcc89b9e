/* record.c - canonical records, hashing, value normalisation. */
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
	if (!r->vals) {
		free(r);
		return NULL;
	}
	return r;
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
	return c;
}

void record_free(struct record *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->ent->nfields; i++)
		free(r->vals[i]);
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

static int is_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

static int valid_date(const char *s)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y, m, d, leap;

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-' || !is_digits(s, 4) ||
	    !is_digits(s + 5, 2) || !is_digits(s + 8, 2))
		return 0;
	y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
	m = (s[5] - '0') * 10 + (s[6] - '0');
	d = (s[8] - '0') * 10 + (s[9] - '0');
	if (y < 1800 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
		return 0;
	leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return !(m == 2 && d == 29 && !leap);
}

int record_normalise(enum field_type t, const char *in, char **out)
{
	long long v;
	char tmp[32];

	*out = NULL;
	if (strlen(in) > RECORD_MAX_VALUE)
		return CS_ELIMIT;
	switch (t) {
	case FT_STRING:
		*out = cs_strdup(in);
		break;
	case FT_DATE:
		if (!valid_date(in))
			return CS_EINVAL;
		*out = cs_strdup(in);
		break;
	case FT_INT:
		if (cs_parse_int64(in, -9007199254740991LL, 9007199254740991LL, &v))
			return CS_EINVAL;
		snprintf(tmp, sizeof(tmp), "%lld", v);
		*out = cs_strdup(tmp);
		break;
	case FT_BOOL:
		if (!strcmp(in, "true") || !strcmp(in, "t"))
			*out = cs_strdup("true");
		else if (!strcmp(in, "false") || !strcmp(in, "f"))
			*out = cs_strdup("false");
		else
			return CS_EINVAL;
		break;
	}
	return *out ? CS_OK : CS_ENOMEM;
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
	*out = r;
	return CS_OK;
}
