/* audit.c - the audit trail: entries queued in the caller's transaction,
 * digested, chained and written just before it commits; checkpoints signed
 * with Ed25519. The scheme is described in audit.h and docs/audit.md. */
#include "audit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "buf.h"
#include "log.h"

#define KEY_MIN 32
#define KEY_MAX 4096
#define MAX_KEYS 16

static const char hexdig[] = "0123456789abcdef";

static void to_hex(const unsigned char *raw, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hexdig[raw[i] >> 4];
		out[2 * i + 1] = hexdig[raw[i] & 15];
	}
	out[2 * n] = '\0';
}

static int hex_val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* 64 lowercase hex digits to 32 bytes; CS_EINVAL otherwise. */
static int from_hex32(const char *hex, unsigned char out[32])
{
	if (!hex || strlen(hex) != 64)
		return CS_EINVAL;
	for (size_t i = 0; i < 32; i++) {
		int hi = hex_val(hex[2 * i]), lo = hex_val(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return CS_EINVAL;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return CS_OK;
}

json_t *audit_changes_json(const struct record *old_rec,
			   const struct record *new_rec)
{
	const struct map_entity *e;
	json_t *o = json_object();

	/* No record at all (a rejected input): no field changed. */
	if (!o || (!new_rec && !old_rec))
		return o;
	if (!new_rec) {
		/* A removal: every old value goes. */
		e = old_rec->ent;
		for (size_t i = 0; i < e->nfields; i++) {
			const char *ov = record_get(old_rec, i);
			json_t *pair;

			if (!ov)
				continue;
			pair = json_pack("{s:s,s:n}", "old", ov, "new");
			if (!pair || json_object_set_new(o, e->fields[i].name, pair)) {
				json_decref(o);
				return NULL;
			}
		}
		return o;
	}
	e = new_rec->ent;
	for (size_t i = 0; i < e->nfields; i++) {
		const char *ov = old_rec ? record_get(old_rec, i) : NULL;
		const char *nv = record_get(new_rec, i);
		json_t *pair;

		if (old_rec && cs_streq(ov, nv))
			continue;
		if (!old_rec && !nv)
			continue;
		pair = json_pack("{s:o,s:o}", "old", ov ? json_string(ov) : json_null(),
				 "new", nv ? json_string(nv) : json_null());
		if (!pair || json_object_set_new(o, e->fields[i].name, pair)) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

/* ---- keys ------------------------------------------------------------ */

struct audit_key {
	char id[AUDIT_KEY_ID];
	unsigned char *bytes;
	size_t len;
};

struct audit_keys {
	struct audit_key k[MAX_KEYS];
	size_t n;		/* k[0] is the current key */
};

void audit_keys_free(struct audit_keys *k)
{
	if (!k)
		return;
	for (size_t i = 0; i < k->n; i++) {
		OPENSSL_cleanse(k->k[i].bytes, k->k[i].len);
		free(k->k[i].bytes);
	}
	free(k);
}

const char *audit_keys_current_id(const struct audit_keys *k)
{
	return k && k->n ? k->k[0].id : NULL;
}

static const struct audit_key *key_by_id(const struct audit_keys *k,
					 const char *id)
{
	if (!id)
		return k->n ? &k->k[0] : NULL;
	for (size_t i = 0; i < k->n; i++)
		if (!strcmp(k->k[i].id, id))
			return &k->k[i];
	return NULL;
}

/* Reads one key file into the next slot of k. */
static int key_read(struct audit_keys *k, const char *cfgkey, const char *name,
		    char *err, size_t errsz)
{
	static const char label[] = "casesync-audit-key-id";
	char path[4096];
	unsigned char digest[32];
	struct audit_key *slot;
	struct stat st;
	size_t got;
	FILE *f;

	if (k->n >= MAX_KEYS) {
		snprintf(err, errsz, "%s: more than %d keys", cfgkey, MAX_KEYS);
		return CS_ELIMIT;
	}
	if (cs_credential_path(cfgkey, name, path, sizeof(path), err, errsz))
		return CS_EINVAL;
	f = fopen(path, "rbe");
	if (!f) {
		snprintf(err, errsz, "%s: cannot open %s: %s", cfgkey, path,
			 strerror(errno));
		return CS_EINVAL;
	}
	if (fstat(fileno(f), &st) == 0 && (st.st_mode & S_IRWXO)) {
		snprintf(err, errsz, "%s: %s may be read by any user (chmod o-rwx)",
			 cfgkey, path);
		fclose(f);
		return CS_EINVAL;
	}
	slot = &k->k[k->n];
	slot->bytes = malloc(KEY_MAX + 1);
	if (!slot->bytes) {
		fclose(f);
		snprintf(err, errsz, "out of memory");
		return CS_ENOMEM;
	}
	got = fread(slot->bytes, 1, KEY_MAX + 1, f);
	fclose(f);
	if (got < KEY_MIN || got > KEY_MAX) {
		snprintf(err, errsz, "%s: %s must hold between %d and %d bytes "
			 "(e.g. openssl rand -out FILE 32)", cfgkey, path, KEY_MIN,
			 KEY_MAX);
		OPENSSL_cleanse(slot->bytes, KEY_MAX + 1);
		free(slot->bytes);
		slot->bytes = NULL;
		return CS_EINVAL;
	}
	slot->len = got;
	{
		EVP_MD_CTX *ctx = EVP_MD_CTX_new();
		int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
			EVP_DigestUpdate(ctx, label, sizeof(label)) &&
			EVP_DigestUpdate(ctx, slot->bytes, got) &&
			EVP_DigestFinal_ex(ctx, digest, NULL);

		EVP_MD_CTX_free(ctx);
		if (!ok) {
			OPENSSL_cleanse(slot->bytes, KEY_MAX + 1);
			free(slot->bytes);
			slot->bytes = NULL;
			snprintf(err, errsz, "%s: cannot hash the key", cfgkey);
			return CS_ERR;
		}
	}
	to_hex(digest, 8, slot->id);
	for (size_t i = 0; i < k->n; i++)
		if (!strcmp(k->k[i].id, slot->id)) {
			OPENSSL_cleanse(slot->bytes, KEY_MAX + 1);
			free(slot->bytes);
			slot->bytes = NULL;
			return CS_OK;	/* the same key named twice */
		}
	k->n++;
	return CS_OK;
}

int audit_keys_from_file(const char *path, struct audit_keys **out, char *err,
			 size_t errsz)
{
	struct audit_keys *k = calloc(1, sizeof(*k));
	int rc;

	*out = NULL;
	if (!k)
		return CS_ENOMEM;
	rc = key_read(k, "audit.key_file", path, err, errsz);
	if (rc) {
		audit_keys_free(k);
		return rc;
	}
	*out = k;
	return CS_OK;
}

int audit_keys_load(const struct config *c, struct audit_keys **out,
		    char *err, size_t errsz)
{
	struct audit_keys *k;
	char *list, *p;
	int rc;

	*out = NULL;
	if (!*c->audit_key_file) {
		snprintf(err, errsz, "audit.key_file is not set: the audit trail "
			 "needs a key (docs/audit.md)");
		return CS_EINVAL;
	}
	rc = audit_keys_from_file(c->audit_key_file, &k, err, errsz);
	if (rc)
		return rc;
	list = cs_strdup(c->audit_previous_key_files);
	if (!list) {
		audit_keys_free(k);
		return CS_ENOMEM;
	}
	/* A list of names separated by commas or blanks. */
	for (p = list; *p;) {
		char *end = p + strcspn(p, ", \t");
		int last = *end == '\0';

		*end = '\0';
		if (*p && (rc = key_read(k, "audit.previous_key_files", p, err,
					 errsz))) {
			free(list);
			audit_keys_free(k);
			return rc;
		}
		p = last ? end : end + 1;
	}
	free(list);
	*out = k;
	return CS_OK;
}

/* ---- digests and hashes ------------------------------------------------ */

/* A text field in a hashed message: 0, or 1 and a 4-byte length and the
 * bytes, so that no two different rows give the same message. */
static int enc(struct buf *b, const char *s)
{
	unsigned char hdr[5];
	size_t n = s ? strlen(s) : 0;

	if (!s)
		return buf_append(b, "", 1);
	hdr[0] = 1;
	hdr[1] = (unsigned char)(n >> 24);
	hdr[2] = (unsigned char)(n >> 16);
	hdr[3] = (unsigned char)(n >> 8);
	hdr[4] = (unsigned char)n;
	if (buf_append(b, hdr, sizeof(hdr)))
		return CS_ENOMEM;
	return buf_append(b, s, n);
}

static int enc_count(struct buf *b, size_t n)
{
	unsigned char c[4] = { (unsigned char)(n >> 24), (unsigned char)(n >> 16),
			       (unsigned char)(n >> 8), (unsigned char)n };

	return buf_append(b, c, sizeof(c));
}

static int value_digest(const struct audit_key *key, const char *seq,
			const char *field, const char *part, const char *value,
			char out[AUDIT_HASH_HEX])
{
	static const char label[] = "casesync-audit-value-v1";
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	struct buf b;
	int rc;

	buf_init(&b, (size_t)1 << 30);
	rc = buf_append(&b, label, sizeof(label));
	if (!rc)
		rc = enc(&b, seq);
	if (!rc)
		rc = enc(&b, field);
	if (!rc)
		rc = enc(&b, part);
	if (!rc)
		rc = enc(&b, value);
	if (!rc && !HMAC(EVP_sha256(), key->bytes, (int)key->len,
			 (const unsigned char *)b.data, b.len, mac, &maclen))
		rc = CS_ERR;
	if (b.data)
		OPENSSL_cleanse(b.data, b.len);
	buf_free(&b);
	if (rc)
		return rc;
	to_hex(mac, 32, out);
	return CS_OK;
}

/* The shape every changes document has: {"field": {"part": leaf}}. */
static int changes_shape_ok(json_t *changes)
{
	const char *f, *p;
	json_t *fv, *pv;

	if (!json_is_object(changes))
		return 0;
	json_object_foreach(changes, f, fv) {
		if (!json_is_object(fv))
			return 0;
		json_object_foreach(fv, p, pv)
			if (!json_is_string(pv) && !json_is_null(pv))
				return 0;
	}
	return 1;
}

int audit_digest_changes(const struct audit_keys *k, const char *key_id,
			 const char *seq, json_t *changes, json_t **out)
{
	const struct audit_key *key = key_by_id(k, key_id);
	json_t *d = json_object();
	const char *f, *p;
	json_t *fv, *pv;

	*out = NULL;
	if (!d)
		return CS_ENOMEM;
	if (!key || !changes_shape_ok(changes)) {
		json_decref(d);
		return CS_EINVAL;
	}
	json_object_foreach(changes, f, fv) {
		json_t *dp = json_object();

		if (!dp || json_object_set_new(d, f, dp)) {
			json_decref(d);
			return CS_ENOMEM;
		}
		json_object_foreach(fv, p, pv) {
			char hex[AUDIT_HASH_HEX];
			json_t *leaf;

			if (json_is_null(pv)) {
				leaf = json_null();
			} else {
				if (value_digest(key, seq, f, p, json_string_value(pv),
						 hex)) {
					json_decref(d);
					return CS_ERR;
				}
				leaf = json_string(hex);
			}
			if (!leaf || json_object_set_new(dp, p, leaf)) {
				json_decref(d);
				return CS_ENOMEM;
			}
		}
	}
	*out = d;
	return CS_OK;
}

int audit_check_values(const struct audit_keys *k, const char *key_id,
		       const char *seq, json_t *changes, json_t *digests,
		       int erased, char *what, size_t whatsz)
{
	const struct audit_key *key = key_id ? key_by_id(k, key_id) : NULL;
	const char *f, *p;
	json_t *fv, *pv;

	if (!key) {
		snprintf(what, whatsz, "it was digested with audit key %s, which "
			 "is not among the configured keys", key_id ? key_id : "(none)");
		return CS_EINVAL;
	}
	if (!changes_shape_ok(changes) || !json_is_object(digests)) {
		snprintf(what, whatsz, "its changes or digests are malformed");
		return 1;
	}
	if (json_object_size(changes) != json_object_size(digests)) {
		snprintf(what, whatsz, "its changes and digests name different "
			 "fields");
		return 1;
	}
	json_object_foreach(changes, f, fv) {
		json_t *df = json_object_get(digests, f);

		if (!json_is_object(df) || json_object_size(df) != json_object_size(fv)) {
			snprintf(what, whatsz, "field %s is not the one digested", f);
			return 1;
		}
		json_object_foreach(fv, p, pv) {
			json_t *dv = json_object_get(df, p);
			char hex[AUDIT_HASH_HEX];

			if (!dv || (!json_is_null(dv) && !json_is_string(dv))) {
				snprintf(what, whatsz, "field %s (%s) is not the one "
					 "digested", f, p);
				return 1;
			}
			if (json_is_null(pv)) {
				if (json_is_null(dv) || erased)
					continue;
				snprintf(what, whatsz, "field %s (%s) lost its value "
					 "without being erased", f, p);
				return 1;
			}
			if (json_is_null(dv) ||
			    value_digest(key, seq, f, p, json_string_value(pv), hex) ||
			    strcmp(hex, json_string_value(dv))) {
				snprintf(what, whatsz, "the value of field %s (%s) does "
					 "not match its digest", f, p);
				return 1;
			}
		}
	}
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* An object's keys in byte order; NULL (and *n 0) for an empty one. */
static const char **sorted_keys(json_t *o, size_t *n, int *rc)
{
	const char **v;
	const char *k;
	json_t *x;
	size_t i = 0;

	*n = json_object_size(o);
	*rc = CS_OK;
	if (!*n)
		return NULL;
	v = malloc(*n * sizeof(*v));
	if (!v) {
		*rc = CS_ENOMEM;
		return NULL;
	}
	json_object_foreach(o, k, x)
		v[i++] = k;
	qsort(v, *n, sizeof(*v), cmp_str);
	return v;
}

static int enc_digests(struct buf *b, json_t *digests)
{
	size_t nf, np;
	const char **fields, **parts;
	int rc;

	if (!digests)
		return enc_count(b, 0);
	if (!json_is_object(digests))
		return CS_EINVAL;
	fields = sorted_keys(digests, &nf, &rc);
	if (rc)
		return rc;
	rc = enc_count(b, nf);
	for (size_t i = 0; !rc && i < nf; i++) {
		json_t *fv = json_object_get(digests, fields[i]);

		if (!json_is_object(fv)) {
			rc = CS_EINVAL;
			break;
		}
		parts = sorted_keys(fv, &np, &rc);
		if (!rc)
			rc = enc(b, fields[i]);
		if (!rc)
			rc = enc_count(b, np);
		for (size_t j = 0; !rc && j < np; j++) {
			json_t *dv = json_object_get(fv, parts[j]);

			if (!json_is_null(dv) && !json_is_string(dv))
				rc = CS_EINVAL;
			else
				rc = enc(b, parts[j]);
			if (!rc)
				rc = enc(b, json_string_value(dv));
		}
		free(parts);
	}
	free(fields);
	return rc;
}

int audit_row_hash(const char *prev, const struct audit_row *r,
		   char hash[AUDIT_HASH_HEX])
{
	static const char label[] = "casesync-audit-entry-v1";
	unsigned char prevraw[32] = { 0 }, out[32];
	const char *text[] = {
		r->seq, r->at, r->cycle_id, r->actor, r->action, r->entity,
		r->local_key, r->remote_id, r->source, r->version, r->outcome,
		r->key_id,
	};
	struct buf b;
	int rc;

	if (prev && *prev && from_hex32(prev, prevraw))
		return CS_EINVAL;
	buf_init(&b, (size_t)1 << 30);
	rc = buf_append(&b, label, sizeof(label));
	if (!rc)
		rc = buf_append(&b, prevraw, sizeof(prevraw));
	for (size_t i = 0; !rc && i < CS_ARRAY_LEN(text); i++)
		rc = enc(&b, text[i]);
	if (!rc)
		rc = enc_digests(&b, r->digests);
	if (!rc && !EVP_Digest(b.data, b.len, out, NULL, EVP_sha256(), NULL))
		rc = CS_ERR;
	buf_free(&b);
	if (rc)
		return rc;
	to_hex(out, sizeof(out), hash);
	return CS_OK;
}

/* ---- writing ------------------------------------------------------------ */

struct pending {
	char *cycle, *actor, *action, *entity, *local_key, *remote_id;
	char *source, *version, *outcome;
	json_t *changes;
};

struct audit_writer {
	const struct audit_keys *keys;
	struct pending *v;
	size_t n, cap, mark;
};

static void pending_free(struct pending *p)
{
	free(p->cycle);
	free(p->actor);
	free(p->action);
	free(p->entity);
	free(p->local_key);
	free(p->remote_id);
	free(p->source);
	free(p->version);
	free(p->outcome);
	json_decref(p->changes);
	memset(p, 0, sizeof(*p));
}

static void drop_from(struct audit_writer *w, size_t from)
{
	while (w->n > from)
		pending_free(&w->v[--w->n]);
}

int audit_attach(struct store *s, const struct audit_keys *k)
{
	if (!k || !k->n)
		return CS_EINVAL;
	if (!s->audit) {
		s->audit = calloc(1, sizeof(*s->audit));
		if (!s->audit)
			return CS_ENOMEM;
	}
	s->audit->keys = k;
	return CS_OK;
}

void audit_detach(struct store *s)
{
	if (!s || !s->audit)
		return;
	drop_from(s->audit, 0);
	free(s->audit->v);
	free(s->audit);
	s->audit = NULL;
}

void audit_mark(struct store *s)
{
	if (s->audit)
		s->audit->mark = s->audit->n;
}

void audit_unwind(struct store *s)
{
	if (s->audit && s->audit->mark <= s->audit->n)
		drop_from(s->audit, s->audit->mark);
}

void audit_discard(struct store *s)
{
	if (s->audit) {
		drop_from(s->audit, 0);
		s->audit->mark = 0;
	}
}

static int dup_opt(char **dst, const char *src)
{
	if (!src)
		return CS_OK;
	*dst = cs_strdup(src);
	return *dst ? CS_OK : CS_ENOMEM;
}

int audit_write(struct store *s, const struct audit_entry *a)
{
	struct audit_writer *w = s->audit;
	struct pending p = { 0 };
	char cycle[32];
	int rc = CS_OK;

	if (!w || !w->keys) {
		log_error("audit_key_missing", "action=%s", a->action);
		return CS_EINVAL;
	}
	if (a->old_rec || a->new_rec)
		p.changes = audit_changes_json(a->old_rec, a->new_rec);
	else if (a->changes)
		p.changes = json_deep_copy(a->changes);
	else
		p.changes = json_object();
	if (!p.changes)
		return CS_ENOMEM;
	if (!changes_shape_ok(p.changes)) {
		json_decref(p.changes);
		log_error("audit_bad_changes", "action=%s", a->action);
		return CS_EINVAL;
	}
	snprintf(cycle, sizeof(cycle), "%lld", a->cycle_id);
	if (a->cycle_id)
		rc = dup_opt(&p.cycle, cycle);
	if (!rc)
		rc = dup_opt(&p.actor, a->actor);
	if (!rc)
		rc = dup_opt(&p.action, a->action);
	if (!rc)
		rc = dup_opt(&p.entity, a->entity ? a->entity->name :
			     a->entity_name ? a->entity_name : "-");
	if (!rc)
		rc = dup_opt(&p.local_key, a->local_key);
	if (!rc)
		rc = dup_opt(&p.remote_id, a->remote_id);
	if (!rc)
		rc = dup_opt(&p.source, a->source_name ? a->source_name :
			     a->source == SIDE_LOCAL ? "provider" : "council");
	if (!rc)
		rc = dup_opt(&p.version, a->version);
	if (!rc)
		rc = dup_opt(&p.outcome, a->outcome);
	if (!rc && w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 16;
		struct pending *v = realloc(w->v, cap * sizeof(*v));

		if (!v)
			rc = CS_ENOMEM;
		else {
			w->v = v;
			w->cap = cap;
		}
	}
	if (rc) {
		pending_free(&p);
		return rc;
	}
	w->v[w->n++] = p;
	return CS_OK;
}

static json_t *jstr(const char *s)
{
	return s ? json_string(s) : json_null();
}

/* One entry as a row for jsonb_to_recordset, hashed onto prev. */
static json_t *entry_row(const struct audit_keys *k, const struct pending *p,
			 long long seqn, const char *at, const char *session_user,
			 char prev[AUDIT_HASH_HEX])
{
	char seq[32], hash[AUDIT_HASH_HEX];
	struct audit_row r;
	json_t *dig = NULL, *row;

	snprintf(seq, sizeof(seq), "%lld", seqn);
	if (audit_digest_changes(k, NULL, seq, p->changes, &dig))
		return NULL;
	memset(&r, 0, sizeof(r));
	r.seq = seq;
	r.at = at;
	r.cycle_id = p->cycle;
	r.actor = p->actor ? p->actor : session_user;
	r.action = p->action;
	r.entity = p->entity;
	r.local_key = p->local_key;
	r.remote_id = p->remote_id;
	r.source = p->source;
	r.version = p->version;
	r.outcome = p->outcome;
	r.key_id = audit_keys_current_id(k);
	r.digests = dig;
	if (audit_row_hash(prev, &r, hash)) {
		json_decref(dig);
		return NULL;
	}
	row = json_pack("{s:s,s:s,s:o,s:s,s:s,s:s,s:o,s:o,s:O,s:o,s:s,s:o,s:s,"
			"s:s,s:s}",
			"seq", seq, "at", at, "cycle_id", jstr(r.cycle_id),
			"actor", r.actor, "action", r.action, "entity", r.entity,
			"local_key", jstr(r.local_key), "remote_id",
			jstr(r.remote_id), "changes", p->changes, "digests", dig,
			"source", r.source, "version", jstr(r.version),
			"outcome", r.outcome, "key_id", r.key_id, "hash", hash);
	if (row)
		memcpy(prev, hash, AUDIT_HASH_HEX);
	return row;
}

int audit_flush(struct store *s)
{
	struct audit_writer *w = s->audit;
	PGresult *r;
	long long entries;
	char prev[AUDIT_HASH_HEX] = "", count[32], total[32];
	json_t *rows = NULL;
	char *text = NULL;
	int rc = CS_EIO;

	if (!w || !w->n)
		return CS_OK;
	/* The last thing before COMMIT: whoever holds this row waits on
	 * nothing else, so two writers cannot deadlock over it. */
	r = store_exec(s, "audit_head",
		       "SELECT entries, hash, session_user, "
		       "to_char(clock_timestamp() AT TIME ZONE 'UTC', " AUDIT_TIME_SQL ") "
		       "FROM casesync.audit_head FOR UPDATE", 0, NULL);
	if (!r)
		return CS_EIO;
	if (PQntuples(r) != 1 ||
	    cs_parse_int64(PQgetvalue(r, 0, 0), 0, (long long)1 << 62, &entries)) {
		log_error("audit_head_missing", "rows=%d", PQntuples(r));
		goto out;
	}
	if (entries > 0 && PQgetisnull(r, 0, 1)) {
		log_error("audit_unchained", "entries=%lld action=\"run casesync "
			  "migrate with audit.key_file set\"", entries);
		rc = CS_EINVAL;
		goto out;
	}
	if (!PQgetisnull(r, 0, 1))
		cs_strlcpy(prev, PQgetvalue(r, 0, 1), sizeof(prev));
	rows = json_array();
	for (size_t i = 0; rows && i < w->n; i++) {
		json_t *row = entry_row(w->keys, &w->v[i], entries + 1 + (long long)i,
					PQgetvalue(r, 0, 3), PQgetvalue(r, 0, 2),
					prev);

		if (!row || json_array_append_new(rows, row)) {
			log_error("audit_entry_failed", "action=%s", w->v[i].action);
			rc = CS_ERR;
			goto out;
		}
	}
	text = rows ? json_dumps(rows, JSON_COMPACT) : NULL;
	if (!text) {
		rc = CS_ENOMEM;
		goto out;
	}
	snprintf(count, sizeof(count), "%zu", w->n);
	snprintf(total, sizeof(total), "%lld", entries + (long long)w->n);
	{
		const char *p[] = { text, total, prev, count };
		PGresult *u = store_exec(s, "audit_insert",
			"WITH ins AS (INSERT INTO casesync.audit (seq, at, cycle_id, "
			"actor, action, entity, local_key, remote_id, changes, "
			"digests, source, version, outcome, key_id, hash) "
			"SELECT seq, at, cycle_id, actor, action, entity, local_key, "
			"remote_id, changes, digests, source, version, outcome, "
			"key_id, hash FROM jsonb_to_recordset($1::jsonb) AS x("
			"seq bigint, at timestamptz, cycle_id bigint, actor text, "
			"action text, entity text, local_key text, remote_id text, "
			"changes jsonb, digests jsonb, source text, version text, "
			"outcome text, key_id text, hash text) RETURNING 1) "
			"UPDATE casesync.audit_head SET entries = $2::bigint, "
			"hash = $3 WHERE (SELECT count(*) FROM ins) = $4::bigint",
			4, p);

		if (u && !strcmp(PQcmdTuples(u), "1"))
			rc = CS_OK;
		else if (u)
			log_error("audit_insert_short", "entries=%zu", w->n);
		PQclear(u);
	}
out:
	free(text);
	json_decref(rows);
	PQclear(r);
	drop_from(w, 0);
	w->mark = 0;
	return rc;
}

/* ---- entries written before the chain ---------------------------------- */

void audit_row_from_result(const PGresult *r, int i, struct audit_row *row)
{
	const char **cols[] = {
		&row->seq, &row->at, &row->cycle_id, &row->actor, &row->action,
		&row->entity, &row->local_key, &row->remote_id, &row->source,
		&row->version, &row->outcome,
	};

	memset(row, 0, sizeof(*row));
	for (int c = 0; c < (int)CS_ARRAY_LEN(cols); c++)
		*cols[c] = PQgetisnull(r, i, c) ? NULL : PQgetvalue(r, i, c);
}

int audit_seal_legacy(struct store *s, const struct audit_keys *k, FILE *out)
{
	char prev[AUDIT_HASH_HEX] = "";
	long long entries, done = 0;
	PGresult *h;
	int rc = CS_EIO;

	if (store_begin(s, 0))
		return CS_EIO;
	h = store_exec(s, "audit_seal_head",
		       "SELECT entries, hash IS NULL FROM casesync.audit_head "
		       "FOR UPDATE", 0, NULL);
	if (!h || PQntuples(h) != 1 ||
	    cs_parse_int64(PQgetvalue(h, 0, 0), 0, (long long)1 << 62, &entries))
		goto fail;
	if (entries == 0 || PQgetvalue(h, 0, 1)[0] != 't') {
		PQclear(h);
		store_rollback(s);
		return CS_OK;
	}
	PQclear(h);
	h = NULL;
	if (!k) {
		if (out)
			fprintf(out, "audit: %lld entries written before the chain "
				"wait for audit.key_file: set it and run casesync "
				"migrate again\n", entries);
		store_rollback(s);
		return CS_EINVAL;
	}
	while (done < entries) {
		char from[32];
		const char *p[] = { from };
		PGresult *r;

		snprintf(from, sizeof(from), "%lld", done);
		r = store_exec(s, "audit_seal_read",
			       "SELECT " AUDIT_ROW_SQL ", a.changes::text FROM "
			       "casesync.audit a "
			       "WHERE a.seq > $1::bigint ORDER BY a.seq LIMIT 1000",
			       1, p);
		if (!r)
			goto fail;
		if (PQntuples(r) == 0) {
			PQclear(r);
			goto fail;
		}
		for (int i = 0; i < PQntuples(r); i++) {
			struct audit_row row;
			json_t *ch, *dig = NULL;
			char hash[AUDIT_HASH_HEX], *dtext;
			long long seq;
#define COL(c) (PQgetisnull(r, i, c) ? NULL : PQgetvalue(r, i, c))
			if (cs_parse_int64(COL(0), 1, entries, &seq) || seq != done + 1) {
				if (out)
					fprintf(out, "audit: entry %lld is missing; the "
						"earlier entries cannot be chained\n",
						done + 1);
				PQclear(r);
				goto fail;
			}
			ch = json_loads(PQgetvalue(r, i, 11), 0, NULL);
			if (!ch || audit_digest_changes(k, NULL, COL(0), ch, &dig)) {
				if (out)
					fprintf(out, "audit: entry %lld has changes of "
						"an unknown shape\n", seq);
				json_decref(ch);
				PQclear(r);
				goto fail;
			}
			json_decref(ch);
			audit_row_from_result(r, i, &row);
			row.key_id = audit_keys_current_id(k);
			row.digests = dig;
#undef COL
			dtext = json_dumps(dig, JSON_COMPACT);
			if (!dtext || audit_row_hash(prev, &row, hash)) {
				if (out)
					fprintf(out, "audit: entry %lld cannot be "
						"chained\n", seq);
				json_decref(dig);
				free(dtext);
				PQclear(r);
				goto fail;
			}
			json_decref(dig);
			{
				const char *u[] = { row.seq, dtext, row.key_id, hash };

				if (store_run(s, "audit_seal_row",
					      "UPDATE casesync.audit SET digests = "
					      "$2::jsonb, key_id = $3, hash = $4 WHERE "
					      "seq = $1::bigint", 4, u)) {
					free(dtext);
					PQclear(r);
					goto fail;
				}
			}
			free(dtext);
			memcpy(prev, hash, sizeof(prev));
			done = seq;
		}
		PQclear(r);
	}
	{
		const char *p[] = { prev };

		if (store_run(s, "audit_seal_done",
			      "UPDATE casesync.audit_head SET hash = $1", 1, p) ||
		    store_commit(s))
			goto fail;
	}
	if (out)
		fprintf(out, "audit: chained the %lld entries written before "
			"version 5\n", entries);
	return CS_OK;
fail:
	PQclear(h);
	store_rollback(s);
	return rc;
}

/* ---- checkpoints ------------------------------------------------------- */

struct audit_signkey {
	EVP_PKEY *pkey;
	int has_private;
	char id[AUDIT_KEY_ID];
};

void audit_signkey_free(struct audit_signkey *k)
{
	if (!k)
		return;
	EVP_PKEY_free(k->pkey);
	free(k);
}

const char *audit_signkey_id(const struct audit_signkey *k)
{
	return k->id;
}

static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

int audit_signkey_load(const char *cfgkey, const char *name, int need_private,
		       struct audit_signkey **out, char *err, size_t errsz)
{
	char path[4096];
	unsigned char raw[64], digest[32];
	size_t rawlen = sizeof(raw);
	struct audit_signkey *k;
	FILE *f;

	*out = NULL;
	if (cs_credential_path(cfgkey, name, path, sizeof(path), err, errsz))
		return CS_EINVAL;
	f = fopen(path, "re");
	if (!f) {
		snprintf(err, errsz, "%s: cannot open %s: %s", cfgkey, path,
			 strerror(errno));
		return CS_EINVAL;
	}
	k = calloc(1, sizeof(*k));
	if (!k) {
		fclose(f);
		return CS_ENOMEM;
	}
	/* A passphrase is never asked for: the key must be usable unattended. */
	k->pkey = PEM_read_PrivateKey(f, NULL, no_passphrase, NULL);
	if (k->pkey) {
		struct stat st;

		if (fstat(fileno(f), &st) == 0 && (st.st_mode & S_IRWXO)) {
			snprintf(err, errsz, "%s: %s holds a private key any user "
				 "may read (chmod o-rwx)", cfgkey, path);
			fclose(f);
			audit_signkey_free(k);
			return CS_EINVAL;
		}
	}
	k->has_private = k->pkey != NULL;
	if (!k->pkey && !need_private) {
		rewind(f);
		k->pkey = PEM_read_PUBKEY(f, NULL, no_passphrase, NULL);
	}
	fclose(f);
	if (!k->pkey || EVP_PKEY_get_id(k->pkey) != EVP_PKEY_ED25519 ||
	    EVP_PKEY_get_raw_public_key(k->pkey, raw, &rawlen) != 1 ||
	    !EVP_Digest(raw, rawlen, digest, NULL, EVP_sha256(), NULL)) {
		snprintf(err, errsz, "%s: %s is not an Ed25519 %s key in PEM form "
			 "(openssl genpkey -algorithm ed25519)", cfgkey, path,
			 need_private ? "private" : "public or private");
		audit_signkey_free(k);
		return CS_EINVAL;
	}
	to_hex(digest, 8, k->id);
	*out = k;
	return CS_OK;
}

int audit_checkpoint_message(const struct audit_checkpoint *cp, char *out,
			     size_t size)
{
	int n = snprintf(out, size, "casesync audit checkpoint v1\n"
			 "entries: %lld\nhead: %s\nat: %s\nkey: %s\n",
			 cp->entries, cp->head, cp->at, cp->key_id);

	return n < 0 || (size_t)n >= size ? CS_ELIMIT : CS_OK;
}

int audit_checkpoint_sign(const struct audit_signkey *k,
			  struct audit_checkpoint *cp)
{
	char msg[512];
	unsigned char sig[64];
	size_t siglen = sizeof(sig);
	EVP_MD_CTX *ctx;
	int ok;

	if (!k->has_private)
		return CS_EINVAL;
	cs_strlcpy(cp->key_id, k->id, sizeof(cp->key_id));
	if (audit_checkpoint_message(cp, msg, sizeof(msg)))
		return CS_ELIMIT;
	ctx = EVP_MD_CTX_new();
	ok = ctx && EVP_DigestSignInit(ctx, NULL, NULL, NULL, k->pkey) == 1 &&
		EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *)msg,
			       strlen(msg)) == 1 && siglen == sizeof(sig);
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return CS_ERR;
	EVP_EncodeBlock((unsigned char *)cp->signature, sig, (int)siglen);
	return CS_OK;
}

int audit_checkpoint_verify(const struct audit_signkey *k,
			    const struct audit_checkpoint *cp)
{
	char msg[512];
	unsigned char sig[96];
	size_t len = strlen(cp->signature);
	EVP_MD_CTX *ctx;
	int n, ok;

	if (strcmp(cp->key_id, k->id) || len != 88 ||
	    audit_checkpoint_message(cp, msg, sizeof(msg)))
		return 1;
	n = EVP_DecodeBlock(sig, (const unsigned char *)cp->signature, (int)len);
	if (n != 66 || cp->signature[86] != '=' || cp->signature[87] != '=')
		return 1;
	ctx = EVP_MD_CTX_new();
	ok = ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, k->pkey) == 1 &&
		EVP_DigestVerify(ctx, sig, 64, (const unsigned char *)msg,
				 strlen(msg)) == 1;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : 1;
}

int audit_checkpoint_write(const struct audit_checkpoint *cp, FILE *f)
{
	char msg[512];

	if (audit_checkpoint_message(cp, msg, sizeof(msg)))
		return CS_ELIMIT;
	return fprintf(f, "%ssignature: %s\n", msg, cp->signature) < 0 ? CS_EIO :
		CS_OK;
}

static int is_hex(const char *s, size_t n)
{
	if (strlen(s) != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (hex_val(s[i]) < 0)
			return 0;
	return 1;
}

int audit_checkpoint_read(const char *path, struct audit_checkpoint *cp,
			  char *err, size_t errsz)
{
	static const char *const names[] = { "entries", "head", "at", "key",
					     "signature" };
	char line[256];
	int lineno = 0, seen = 0;
	FILE *f = fopen(path, "re");

	memset(cp, 0, sizeof(*cp));
	if (!f) {
		snprintf(err, errsz, "%s: cannot open: %s", path, strerror(errno));
		return CS_EINVAL;
	}
	while (fgets(line, sizeof(line), f)) {
		size_t n = strlen(line);
		const char *v;
		int which = -1;

		lineno++;
		if (n && line[n - 1] == '\n')
			line[--n] = '\0';
		else if (!feof(f))
			goto bad;
		if (lineno == 1) {
			if (strcmp(line, "casesync audit checkpoint v1"))
				goto bad;
			continue;
		}
		for (size_t i = 0; i < CS_ARRAY_LEN(names); i++) {
			size_t l = strlen(names[i]);

			if (!strncmp(line, names[i], l) && line[l] == ':' &&
			    line[l + 1] == ' ' && lineno == (int)i + 2)
				which = (int)i;
		}
		if (which < 0)
			goto bad;
		v = line + strlen(names[which]) + 2;
		switch (which) {
		case 0:
			if (cs_parse_int64(v, 1, (long long)1 << 62, &cp->entries))
				goto bad;
			break;
		case 1:
			if (!is_hex(v, 64))
				goto bad;
			memcpy(cp->head, v, 65);
			break;
		case 2:
			if (cs_strlcpy(cp->at, v, sizeof(cp->at)))
				goto bad;
			break;
		case 3:
			if (!is_hex(v, 16))
				goto bad;
			memcpy(cp->key_id, v, 17);
			break;
		default:
			if (cs_strlcpy(cp->signature, v, sizeof(cp->signature)))
				goto bad;
			break;
		}
		seen |= 1 << which;
	}
	fclose(f);
	if (seen != 31) {
		snprintf(err, errsz, "%s: not a whole casesync audit checkpoint "
			 "(%d lines)", path, lineno);
		return CS_EINVAL;
	}
	return CS_OK;
bad:
	fclose(f);
	snprintf(err, errsz, "%s:%d: not a line of a casesync audit checkpoint",
		 path, lineno);
	return CS_EINVAL;
}

/* Writes dir/checkpoint-N.txt through a temporary file, so a reader never
 * sees half of one. */
static int checkpoint_export(const struct audit_checkpoint *cp,
			     const char *dir)
{
	char path[4096], tmp[4200];
	FILE *f;
	int rc;

	snprintf(path, sizeof(path), "%s/checkpoint-%lld.txt", dir, cp->entries);
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	f = fopen(tmp, "wxe");
	if (!f) {
		log_error("checkpoint_export_failed", "dir=\"%s\" errno=%d", dir,
			  errno);
		return CS_EIO;
	}
	rc = audit_checkpoint_write(cp, f);
	if (fflush(f) || fsync(fileno(f)))
		rc = CS_EIO;
	if (fclose(f))
		rc = CS_EIO;
	if (!rc && rename(tmp, path))
		rc = CS_EIO;
	if (rc) {
		unlink(tmp);
		log_error("checkpoint_export_failed", "dir=\"%s\" errno=%d", dir,
			  errno);
	}
	return rc;
}

/* With dir, the checkpoint's file there, unless it is there already (an
 * export that failed before is tried again). A failed export is logged; the
 * checkpoint stays stored either way. */
static int export_if_missing(const struct audit_checkpoint *cp,
			     const char *dir)
{
	char path[4096];

	if (!dir || !*dir)
		return CS_OK;
	snprintf(path, sizeof(path), "%s/checkpoint-%lld.txt", dir, cp->entries);
	if (access(path, F_OK) == 0)
		return CS_OK;
	(void)checkpoint_export(cp, dir);
	return CS_OK;
}

int audit_checkpoint_make(struct store *s, const struct audit_signkey *k,
			  const char *actor, const char *dir,
			  struct audit_checkpoint *cp, int *made)
{
	PGresult *r;

	*made = 0;
	memset(cp, 0, sizeof(*cp));
	r = store_exec(s, "checkpoint_head",
		       "SELECT h.entries, h.hash, to_char(clock_timestamp() AT TIME "
		       "ZONE 'UTC', " AUDIT_TIME_SQL "), c.head, to_char(c.made_at AT "
		       "TIME ZONE 'UTC', " AUDIT_TIME_SQL "), c.key_id, c.signature "
		       "FROM casesync.audit_head h LEFT JOIN "
		       "casesync.audit_checkpoints c ON c.entries = h.entries "
		       "AND c.head = h.hash",
		       0, NULL);
	if (!r)
		return CS_EIO;
	if (PQntuples(r) != 1 ||
	    cs_parse_int64(PQgetvalue(r, 0, 0), 0, (long long)1 << 62,
			   &cp->entries)) {
		PQclear(r);
		return CS_EIO;
	}
	if (cp->entries == 0 || PQgetisnull(r, 0, 1)) {
		PQclear(r);
		return CS_ENOTFOUND;	/* nothing chained to sign yet */
	}
	cs_strlcpy(cp->head, PQgetvalue(r, 0, 1), sizeof(cp->head));
	if (!PQgetisnull(r, 0, 3)) {
		/* This head is signed already: give that checkpoint. */
		cs_strlcpy(cp->at, PQgetvalue(r, 0, 4), sizeof(cp->at));
		cs_strlcpy(cp->key_id, PQgetvalue(r, 0, 5), sizeof(cp->key_id));
		cs_strlcpy(cp->signature, PQgetvalue(r, 0, 6),
			   sizeof(cp->signature));
		PQclear(r);
		return export_if_missing(cp, dir);
	}
	cs_strlcpy(cp->at, PQgetvalue(r, 0, 2), sizeof(cp->at));
	PQclear(r);
	if (audit_checkpoint_sign(k, cp))
		return CS_ERR;
	{
		char n[32];
		const char *p[] = { n, cp->head, cp->at, cp->key_id, cp->signature,
				    actor };

		snprintf(n, sizeof(n), "%lld", cp->entries);
		r = store_exec(s, "checkpoint_insert",
			       "INSERT INTO casesync.audit_checkpoints (entries, head, "
			       "made_at, key_id, signature, made_by) VALUES "
			       "($1::bigint, $2, $3::timestamptz, $4, $5, "
			       "coalesce($6, session_user)) ON CONFLICT (entries) "
			       "DO NOTHING", 6, p);
		if (!r)
			return CS_EIO;
		*made = !strcmp(PQcmdTuples(r), "1");
		PQclear(r);
	}
	if (!*made) {
		/* Another checkpoint of the same count with another head: the
		 * trail or the table was tampered with; verify will say which. */
		log_warn("audit_checkpoint_conflict", "entries=%lld", cp->entries);
		return CS_OK;
	}
	return export_if_missing(cp, dir);
}
