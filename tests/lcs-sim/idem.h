/* Idempotency-Key memory: key -> request fingerprint and stored reply. */
#ifndef LCS_SIM_IDEM_H
#define LCS_SIM_IDEM_H

#include <stdbool.h>
#include <stddef.h>

#include "api.h"
#include "strmap.h"

#define IDEM_MAX_KEY_LEN 200
#define IDEM_HASH_LEN 32

struct idem_fingerprint {
	const char *method;
	const char *path;
	unsigned char hash[IDEM_HASH_LEN]; /* SHA-256 of the request body */
};

struct idem_table {
	struct strmap map;
};

enum idem_match {
	IDEM_NEW,
	IDEM_REPLAY,
	IDEM_MISMATCH,
};

void idem_init(struct idem_table *t);
void idem_clear(struct idem_table *t);
int idem_fingerprint(struct idem_fingerprint *fp, const char *method,
		     const char *path, const char *body, size_t body_len);
/* On IDEM_REPLAY the stored reply is copied into *reply (replayed set). */
enum idem_match idem_lookup(const struct idem_table *t, const char *key,
			    const struct idem_fingerprint *fp,
			    struct api_reply *reply);
int idem_remember(struct idem_table *t, const char *key,
		  const struct idem_fingerprint *fp,
		  const struct api_reply *reply);

#endif
