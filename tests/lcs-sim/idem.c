#include "idem.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

struct idem_entry {
	char *key;
	char *method;
	char *path;
	unsigned char hash[IDEM_HASH_LEN];
	struct api_reply reply;
};

/* Copies s, or yields NULL for NULL; *ok drops to false on failure. */
static char *dup_opt(const char *s, bool *ok)
{
	size_t n;
	char *p;

	if (s == NULL)
		return NULL;
	n = strlen(s) + 1;
	p = malloc(n);
	if (p == NULL) {
		*ok = false;
		return NULL;
	}
	memcpy(p, s, n);
	return p;
}

static void entry_free(void *value)
{
	struct idem_entry *e = value;

	free(e->key);
	free(e->method);
	free(e->path);
	api_reply_free(&e->reply);
	free(e);
}

void idem_init(struct idem_table *t)
{
	strmap_init(&t->map);
}

void idem_clear(struct idem_table *t)
{
	strmap_each(&t->map, entry_free);
	strmap_free(&t->map);
}

int idem_fingerprint(struct idem_fingerprint *fp, const char *method,
		     const char *path, const char *body, size_t body_len)
{
	unsigned int len = 0;

	fp->method = method;
	fp->path = path;
	if (EVP_Digest(body_len > 0 ? body : "", body_len, fp->hash, &len,
		       EVP_sha256(), NULL) != 1 ||
	    len != IDEM_HASH_LEN)
		return -1;
	return 0;
}

static bool copy_reply(struct api_reply *dst, const struct api_reply *src)
{
	bool ok = true;

	dst->status = src->status;
	dst->allow = src->allow;
	dst->content_type = src->content_type;
	dst->www_authenticate = src->www_authenticate;
	dst->no_store = src->no_store;
	dst->replayed = false;
	dst->body = dup_opt(src->body, &ok);
	dst->etag = dup_opt(src->etag, &ok);
	dst->location = dup_opt(src->location, &ok);
	if (!ok)
		api_reply_free(dst);
	return ok;
}

enum idem_match idem_lookup(const struct idem_table *t, const char *key,
			    const struct idem_fingerprint *fp,
			    struct api_reply *reply)
{
	const struct idem_entry *e = strmap_get(&t->map, key);

	if (e == NULL)
		return IDEM_NEW;
	if (strcmp(e->method, fp->method) != 0 ||
	    strcmp(e->path, fp->path) != 0 ||
	    memcmp(e->hash, fp->hash, IDEM_HASH_LEN) != 0)
		return IDEM_MISMATCH;
	if (!copy_reply(reply, &e->reply)) {
		reply->status = 500;
		return IDEM_REPLAY;
	}
	reply->replayed = true;
	return IDEM_REPLAY;
}

int idem_remember(struct idem_table *t, const char *key,
		  const struct idem_fingerprint *fp,
		  const struct api_reply *reply)
{
	struct idem_entry *e = calloc(1, sizeof *e);
	bool ok = true;

	if (e == NULL)
		return -1;
	e->key = dup_opt(key, &ok);
	e->method = dup_opt(fp->method, &ok);
	e->path = dup_opt(fp->path, &ok);
	memcpy(e->hash, fp->hash, IDEM_HASH_LEN);
	if (!ok || !copy_reply(&e->reply, reply) ||
	    strmap_put(&t->map, e->key, e) != 0) {
		entry_free(e);
		return -1;
	}
	return 0;
}
