#include "reqlog.h"

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

void reqlog_init(struct reqlog *l)
{
	memset(l, 0, sizeof *l);
	l->next_n = 1;
}

int reqlog_hash(const char *body, size_t len, char out[REQLOG_HASH_HEX + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	unsigned int i;

	out[0] = '\0';
	if (EVP_Digest(len > 0 ? body : "", len, md, &n, EVP_sha256(), NULL) != 1 ||
	    n * 2 != REQLOG_HASH_HEX)
		return -1;
	for (i = 0; i < n; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 0xf];
	}
	out[REQLOG_HASH_HEX] = '\0';
	return 0;
}

/* Copies at most size - 1 bytes, masking anything but printable ASCII so
 * the JSON rendering always has valid UTF-8. */
static void copy_masked(char *dst, size_t size, const char *src)
{
	size_t i;

	for (i = 0; i + 1 < size && src[i] != '\0'; i++) {
		unsigned char ch = (unsigned char)src[i];

		dst[i] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
	}
	dst[i] = '\0';
}

void reqlog_add(struct reqlog *l, const char *method, const char *path,
		const char *key, const char *body_sha256, size_t body_len,
		unsigned int status, const char *fault)
{
	struct reqlog_entry *e;

	if (l->count < REQLOG_MAX) {
		e = &l->entries[(l->first + l->count) % REQLOG_MAX];
		l->count++;
	} else {
		e = &l->entries[l->first];
		l->first = (l->first + 1) % REQLOG_MAX;
	}
	memset(e, 0, sizeof *e);
	e->n = l->next_n++;
	copy_masked(e->method, sizeof e->method, method);
	copy_masked(e->path, sizeof e->path, path);
	e->has_key = key != NULL;
	if (key != NULL)
		copy_masked(e->key, sizeof e->key, key);
	e->body_read = body_sha256 != NULL;
	if (body_sha256 != NULL)
		copy_masked(e->body_sha256, sizeof e->body_sha256, body_sha256);
	e->body_len = body_len;
	e->status = status;
	e->fault = fault;
}

static json_t *opt_string(bool present, const char *s)
{
	return present ? json_string(s) : json_null();
}

json_t *reqlog_render(const struct reqlog *l)
{
	json_t *list = json_array();
	size_t i;

	if (list == NULL)
		return NULL;
	for (i = 0; i < l->count; i++) {
		const struct reqlog_entry *e =
			&l->entries[(l->first + i) % REQLOG_MAX];
		json_t *one;

		one = json_pack("{s:I,s:s,s:s,s:o,s:o,s:o,s:o,s:o}",
				"n", (json_int_t)e->n,
				"method", e->method,
				"path", e->path,
				"idempotency_key", opt_string(e->has_key, e->key),
				"body_sha256",
				opt_string(e->body_read, e->body_sha256),
				"body_bytes",
				e->body_read ? json_integer((json_int_t)e->body_len)
					     : json_null(),
				"status",
				e->status != 0 ? json_integer((json_int_t)e->status)
					       : json_null(),
				"fault", opt_string(e->fault != NULL,
						    e->fault != NULL ? e->fault : ""));
		/* json_array_append_new takes one, also when it fails. */
		if (one == NULL || json_array_append_new(list, one) != 0) {
			json_decref(list);
			return NULL;
		}
	}
	return json_pack("{s:o}", "requests", list);
}
