#include "oauth.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#define MAX_FIELD 4096
#define MAX_BEARER 512

static const char hexdigits[] = "0123456789abcdef";

static void to_hex(const unsigned char *in, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hexdigits[in[i] >> 4];
		out[2 * i + 1] = hexdigits[in[i] & 0xf];
	}
	out[2 * n] = '\0';
}

static int hash_token(const char *token, size_t n,
		      char out[OAUTH_HASH_HEX + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	if (EVP_Digest(token, n, md, &len, EVP_sha256(), NULL) != 1 ||
	    len * 2 != OAUTH_HASH_HEX)
		return -1;
	to_hex(md, len, out);
	return 0;
}

static char *dup_n(const char *s, size_t n)
{
	char *p = malloc(n + 1);

	if (p != NULL) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

static void wipe_free(char *s)
{
	if (s != NULL) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

int oauth_init(struct oauth *o, const char *client, unsigned int ttl_s,
	       bool *bad)
{
	const char *colon = strchr(client, ':');

	memset(o, 0, sizeof *o);
	strmap_init(&o->by_hash);
	*bad = colon == NULL || colon == client || colon[1] == '\0';
	if (*bad)
		return -1;
	o->ttl_s = ttl_s;
	o->client_id = dup_n(client, (size_t)(colon - client));
	o->client_secret = dup_n(colon + 1, strlen(colon + 1));
	if (o->client_id == NULL || o->client_secret == NULL) {
		oauth_free(o);
		return -1;
	}
	return 0;
}

static void forget_tokens(struct oauth *o)
{
	size_t i;

	for (i = 0; i < o->len; i++)
		free(o->tokens[i]);
	o->len = 0;
	strmap_free(&o->by_hash);
}

void oauth_free(struct oauth *o)
{
	forget_tokens(o);
	free(o->tokens);
	wipe_free(o->client_id);
	wipe_free(o->client_secret);
	memset(o, 0, sizeof *o);
}

void oauth_expire_all(struct oauth *o)
{
	forget_tokens(o);
}

/* --- decoding ------------------------------------------------------------ */

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* application/x-www-form-urlencoded value: '+' is a space, %XX a byte.
 * NULL for a bad escape, a NUL byte or no memory. */
static char *form_decode(const char *s, size_t n)
{
	char *out;
	size_t i, k = 0;

	if (n > MAX_FIELD)
		return NULL;
	out = malloc(n + 1);
	if (out == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			int hi = i + 2 < n ? hex_value(s[i + 1]) : -1;
			int lo = i + 2 < n ? hex_value(s[i + 2]) : -1;

			if (hi < 0 || lo < 0) {
				out[k] = '\0';
				wipe_free(out);
				return NULL;
			}
			c = (char)(hi * 16 + lo);
			i += 2;
		}
		if (c == '\0') {
			out[k] = '\0';
			wipe_free(out);
			return NULL;
		}
		out[k++] = c;
	}
	out[k] = '\0';
	return out;
}

static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Standard base64, padding optional; NULL when invalid, when it decodes
 * to a NUL byte, or without memory. */
static char *b64_decode(const char *s, size_t n)
{
	char *out;
	size_t i, k = 0;
	unsigned int acc = 0;
	int bits = 0;

	while (n > 0 && s[n - 1] == '=')
		n--;
	if (n % 4 == 1 || n > MAX_FIELD * 2)
		return NULL;
	out = malloc(n + 1);
	if (out == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		int v = b64_value(s[i]);

		if (v < 0)
			goto bad;
		acc = (acc << 6) | (unsigned int)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[k] = (char)((acc >> bits) & 0xff);
			if (out[k] == '\0')
				goto bad;
			k++;
		}
	}
	out[k] = '\0';
	return out;
bad:
	out[k] = '\0';
	wipe_free(out);
	return NULL;
}

/* The credentials of an Authorization: Basic header (RFC 6749, section
 * 2.3.1: each part form-encoded, then "id:secret" in base64). 0 when the
 * header is absent or of another scheme, 1 with *id and *secret set, -1
 * when it is Basic but cannot be decoded. */
static int parse_basic(const char *auth, char **id, char **secret)
{
	const char *p, *end, *colon;
	char *plain;

	*id = NULL;
	*secret = NULL;
	if (auth == NULL || strncasecmp(auth, "Basic", 5) != 0 ||
	    (auth[5] != ' ' && auth[5] != '\t'))
		return 0;
	p = auth + 5;
	while (*p == ' ' || *p == '\t')
		p++;
	end = p + strlen(p);
	while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	plain = b64_decode(p, (size_t)(end - p));
	if (plain == NULL)
		return -1;
	colon = strchr(plain, ':');
	if (colon != NULL) {
		*id = form_decode(plain, (size_t)(colon - plain));
		*secret = form_decode(colon + 1, strlen(colon + 1));
	}
	wipe_free(plain);
	if (*id == NULL || *secret == NULL) {
		wipe_free(*id);
		wipe_free(*secret);
		*id = NULL;
		*secret = NULL;
		return -1;
	}
	return 1;
}

enum { F_GRANT, F_SCOPE, F_ID, F_SECRET, N_FIELDS };
static const char *const field_names[N_FIELDS] = {
	"grant_type", "scope", "client_id", "client_secret",
};

/* The token request's form fields; -1 for a malformed body or a field
 * given twice (RFC 6749, section 3.2). Other fields are ignored. */
static int parse_form(const char *body, size_t len, char *fields[N_FIELDS])
{
	size_t pos = 0;

	memset(fields, 0, N_FIELDS * sizeof fields[0]);
	while (pos < len) {
		const char *pair = body + pos;
		const char *amp = memchr(pair, '&', len - pos);
		size_t n = amp != NULL ? (size_t)(amp - pair) : len - pos;
		const char *eq = memchr(pair, '=', n);
		size_t name_len = eq != NULL ? (size_t)(eq - pair) : n;
		char *name;
		size_t f;

		pos += n + 1;
		if (n == 0)
			continue;
		name = form_decode(pair, name_len);
		if (name == NULL)
			return -1;
		for (f = 0; f < N_FIELDS; f++) {
			if (strcmp(name, field_names[f]) == 0)
				break;
		}
		free(name);
		if (f == N_FIELDS)
			continue;
		if (fields[f] != NULL)
			return -1;
		fields[f] = eq != NULL ? form_decode(eq + 1, n - name_len - 1)
				       : form_decode("", 0);
		if (fields[f] == NULL)
			return -1;
	}
	return 0;
}

static bool same_secret(const char *a, const char *b)
{
	size_t n = strlen(a);

	return n == strlen(b) && CRYPTO_memcmp(a, b, n) == 0;
}

/* --- tokens ------------------------------------------------------------- */

/* Drops expired tokens; the hash map is rebuilt (it cannot delete). */
static void purge_expired(struct oauth *o, uint64_t now_ms)
{
	size_t i, kept = 0;

	strmap_free(&o->by_hash);
	for (i = 0; i < o->len; i++) {
		struct oauth_token *t = o->tokens[i];

		if (t->expires_ms > now_ms &&
		    strmap_put(&o->by_hash, t->hash, t) == 0)
			o->tokens[kept++] = t;
		else
			free(t);
	}
	o->len = kept;
}

static int remember(struct oauth *o, const char *token, uint64_t now_ms)
{
	struct oauth_token *t;

	if (o->len == o->cap)
		purge_expired(o, now_ms);
	if (o->len == o->cap) {
		size_t cap = o->cap == 0 ? 16 : o->cap * 2;
		struct oauth_token **arr = realloc(o->tokens, cap * sizeof *arr);

		if (arr == NULL)
			return -1;
		o->tokens = arr;
		o->cap = cap;
	}
	t = calloc(1, sizeof *t);
	if (t == NULL)
		return -1;
	if (hash_token(token, strlen(token), t->hash) != 0 ||
	    strmap_put(&o->by_hash, t->hash, t) != 0) {
		free(t);
		return -1;
	}
	t->expires_ms = now_ms + (uint64_t)o->ttl_s * 1000u;
	o->tokens[o->len++] = t;
	return 0;
}

static void answer_error(struct oauth_answer *ans, unsigned int status,
			 const char *error)
{
	ans->status = status;
	ans->error = error;
	ans->challenge_basic = status == 401;
}

/* Which client authenticated: 1 yes, 0 no (401), -1 malformed (400). */
static int authenticate(const struct oauth *o, const char *authorization,
			char *fields[N_FIELDS])
{
	char *id = NULL, *secret = NULL;
	int basic = parse_basic(authorization, &id, &secret);
	int ok;

	if (basic < 0)
		return 0;
	if (basic > 0) {
		/* One authentication method per request (RFC 6749, section
		 * 2.3); a client_id field must name the same client. */
		if (fields[F_SECRET] != NULL) {
			ok = -1;
		} else {
			ok = same_secret(id, o->client_id) &&
			     same_secret(secret, o->client_secret) &&
			     (fields[F_ID] == NULL ||
			      strcmp(fields[F_ID], id) == 0);
		}
		wipe_free(id);
		wipe_free(secret);
		return ok;
	}
	return fields[F_ID] != NULL && fields[F_SECRET] != NULL &&
	       same_secret(fields[F_ID], o->client_id) &&
	       same_secret(fields[F_SECRET], o->client_secret);
}

void oauth_token_request(struct oauth *o, const char *authorization,
			 const char *body, size_t len, uint64_t now_ms,
			 struct oauth_answer *ans)
{
	char *fields[N_FIELDS];
	unsigned char raw[OAUTH_TOKEN_BYTES];
	int who;
	size_t i;

	memset(ans, 0, sizeof *ans);
	if (parse_form(body != NULL ? body : "", len, fields) != 0) {
		answer_error(ans, 400, "invalid_request");
		goto out;
	}
	who = authenticate(o, authorization, fields);
	if (who < 0) {
		answer_error(ans, 400, "invalid_request");
		goto out;
	}
	if (who == 0) {
		answer_error(ans, 401, "invalid_client");
		goto out;
	}
	if (fields[F_GRANT] == NULL) {
		answer_error(ans, 400, "invalid_request");
		goto out;
	}
	if (strcmp(fields[F_GRANT], "client_credentials") != 0) {
		answer_error(ans, 400, "unsupported_grant_type");
		goto out;
	}
	if (RAND_bytes(raw, sizeof raw) != 1) {
		answer_error(ans, 500, "server_error");
		goto out;
	}
	to_hex(raw, sizeof raw, ans->token);
	OPENSSL_cleanse(raw, sizeof raw);
	if (remember(o, ans->token, now_ms) != 0) {
		OPENSSL_cleanse(ans->token, sizeof ans->token);
		answer_error(ans, 500, "server_error");
		goto out;
	}
	ans->status = 200;
	ans->expires_in = o->ttl_s;
out:
	for (i = 0; i < N_FIELDS; i++)
		wipe_free(fields[i]);
}

bool oauth_bearer_ok(const struct oauth *o, const char *authorization,
		     uint64_t now_ms)
{
	const struct oauth_token *t;
	char hash[OAUTH_HASH_HEX + 1];
	const char *p, *end;

	if (authorization == NULL || strncasecmp(authorization, "Bearer", 6) ||
	    (authorization[6] != ' ' && authorization[6] != '\t'))
		return false;
	p = authorization + 6;
	while (*p == ' ' || *p == '\t')
		p++;
	end = p + strlen(p);
	while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (end == p || end - p > MAX_BEARER ||
	    hash_token(p, (size_t)(end - p), hash) != 0)
		return false;
	t = strmap_get(&o->by_hash, hash);
	return t != NULL && now_ms < t->expires_ms;
}
