/* The last requests that reached the simulator outside /_sim/, for tests:
 * method, path, Idempotency-Key, SHA-256 of the body (never the body) and
 * the status answered. Not thread-safe (the API lock serialises access). */
#ifndef LCS_SIM_REQLOG_H
#define LCS_SIM_REQLOG_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#define REQLOG_MAX 100
#define REQLOG_HASH_HEX 64

struct reqlog_entry {
	unsigned long long n;	/* 1, 2, ... since start or reset */
	char method[16];
	char path[257];
	bool has_key;
	char key[201];
	bool body_read;		/* false: closed before the body was read */
	size_t body_len;
	char body_sha256[REQLOG_HASH_HEX + 1];
	unsigned int status;	/* 0: no answer was sent */
	const char *fault;	/* static name, or NULL */
};

struct reqlog {
	struct reqlog_entry entries[REQLOG_MAX];
	size_t first; /* oldest entry */
	size_t count;
	unsigned long long next_n;
};

void reqlog_init(struct reqlog *l);
/* Hex SHA-256 of body into out; 0, or -1 when hashing failed. */
int reqlog_hash(const char *body, size_t len, char out[REQLOG_HASH_HEX + 1]);
/* key may be NULL (no header), body_sha256 NULL (body not read), fault
 * NULL (none). Overwrites the oldest entry once REQLOG_MAX are held. */
void reqlog_add(struct reqlog *l, const char *method, const char *path,
		const char *key, const char *body_sha256, size_t body_len,
		unsigned int status, const char *fault);
/* {"requests":[...]}, oldest first. */
json_t *reqlog_render(const struct reqlog *l);

#endif
