/* OAuth2 client credentials for the council simulator (--oauth-client):
 * the token endpoint and bearer token checks. Tokens are kept only as
 * their SHA-256; neither tokens nor the client secret are ever logged or
 * echoed. Not thread-safe (the API lock serialises access). */
#ifndef LCS_SIM_OAUTH_H
#define LCS_SIM_OAUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strmap.h"

#define OAUTH_DEFAULT_TTL 3600u
#define OAUTH_MAX_TTL 2147483647u
#define OAUTH_TOKEN_BYTES 32
#define OAUTH_HASH_HEX 64

struct oauth_token {
	char hash[OAUTH_HASH_HEX + 1]; /* hex SHA-256 of the token */
	uint64_t expires_ms;	       /* park_now_ms() clock */
};

struct oauth {
	char *client_id;
	char *client_secret;
	unsigned int ttl_s;
	struct oauth_token **tokens;
	size_t len;
	size_t cap;
	struct strmap by_hash;
};

/* "ID:SECRET", split at the first colon; both parts non-empty. 0, or -1
 * for a bad value or no memory (*bad tells which). */
int oauth_init(struct oauth *o, const char *client, unsigned int ttl_s,
	       bool *bad);
/* Wipes the secret and forgets every token. */
void oauth_free(struct oauth *o);

/* The answer to POST /oauth/token. */
struct oauth_answer {
	unsigned int status;
	const char *error;	  /* body {"error":...} when not NULL */
	char token[OAUTH_TOKEN_BYTES * 2 + 1]; /* on 200 */
	unsigned int expires_in;
	bool challenge_basic;	  /* add WWW-Authenticate: Basic ... */
};

void oauth_token_request(struct oauth *o, const char *authorization,
			 const char *body, size_t len, uint64_t now_ms,
			 struct oauth_answer *ans);
/* Whether the Authorization header carries a bearer token that was
 * issued and has not expired. */
bool oauth_bearer_ok(const struct oauth *o, const char *authorization,
		     uint64_t now_ms);
/* Every issued token is expired from now on. */
void oauth_expire_all(struct oauth *o);

#endif
