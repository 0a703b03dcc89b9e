/* audit.h - the tamper-evident audit trail.
 *
 * Writing. audit_write() queues an entry on the store; store_commit() hands
 * the queue to audit_flush() as the last thing before COMMIT, which locks
 * the chain's head row, numbers the entries, digests their values, chains
 * them and inserts them, so an entry commits with the change it records or
 * not at all. A savepoint rolled back drops the entries queued since it.
 *
 * The chain. Each value v of field f (part "old", "new", ...) of entry n is
 * committed as HMAC-SHA-256(key, n, f, part, v); the entry's hash is
 * SHA-256 over the previous entry's hash and the entry with digests in
 * place of values. Values can then be erased at the end of their retention
 * and the chain still verifies; without the key a digest says nothing
 * about a value (a date of birth cannot be guessed from it).
 *
 * Checkpoints. (entries, head hash, time) signed with Ed25519, stored in
 * casesync.audit_checkpoints and exported as small text files.
 * docs/audit.md says all of this for auditors. */
#ifndef CASESYNC_AUDIT_H
#define CASESYNC_AUDIT_H

#include <jansson.h>

#include "common.h"
#include "config.h"
#include "mapping.h"
#include "record.h"
#include "store.h"

#define AUDIT_HASH_HEX 65	/* 64 hex digits and NUL */
#define AUDIT_KEY_ID 17		/* 16 hex digits and NUL */
#define AUDIT_TIME 32		/* 2026-11-24T10:00:00.123456Z */

struct audit_entry {
	long long cycle_id;	/* 0 = none */
	const char *actor;	/* daemon instance; NULL: the session's role */
	const char *action;	/* create_local, update_local, create_remote, ... */
	const struct map_entity *entity;
	const char *entity_name; /* when entity is NULL ("config", "inbox") */
	const char *local_key;
	const char *remote_id;
	const struct record *old_rec;	/* NULL for a creation */
	const struct record *new_rec;
	json_t *changes;	/* used as given when both records are NULL */
	enum side source;	/* the system the change came from */
	const char *source_name; /* instead of source: "person" */
	const char *version;	/* council version after the change */
	const char *outcome;	/* "applied", "pushed", "rejected", ... */
};

/* {"field": {"old": v, "new": v}} for each field that differs (new NULL:
 * every old value; both NULL: none); NULL on allocation failure. */
json_t *audit_changes_json(const struct record *old_rec,
			   const struct record *new_rec);

/* --- keys ------------------------------------------------------------ */

/* The HMAC keys: the current one (audit.key_file) and older ones
 * (audit.previous_key_files), each known by its id. */
struct audit_keys;

/* Reads the key files. A key is at least 32 bytes of a file nobody else
 * may read; messages name the file, never the content. */
int audit_keys_load(const struct config *c, struct audit_keys **out,
		    char *err, size_t errsz) CS_MUST_CHECK;
/* Same from one file (tests, tools). */
int audit_keys_from_file(const char *path, struct audit_keys **out, char *err,
			 size_t errsz) CS_MUST_CHECK;
void audit_keys_free(struct audit_keys *k);
const char *audit_keys_current_id(const struct audit_keys *k);

/* --- writing ---------------------------------------------------------- */

/* From now on, entries queued on s are written with the current key of k
 * (which must outlive s, or be detached with audit_detach). */
int audit_attach(struct store *s, const struct audit_keys *k) CS_MUST_CHECK;
void audit_detach(struct store *s);

/* Queues an entry in s's open transaction. CS_EINVAL when no key is
 * attached or the changes are not {"field": {"part": string|null}}. */
int audit_write(struct store *s, const struct audit_entry *a) CS_MUST_CHECK;

/* Called by store.c: flush before COMMIT; mark at a savepoint; unwind at
 * ROLLBACK TO it; discard at ROLLBACK. */
int audit_flush(struct store *s) CS_MUST_CHECK;
void audit_mark(struct store *s);
void audit_unwind(struct store *s);
void audit_discard(struct store *s);

/* --- the chain ------------------------------------------------------- */

/* The text form of a time in the chain: written and verified alike, or
 * no hash would match. */
#define AUDIT_TIME_SQL "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'"

/* The hashed columns of casesync.audit a, in the order of struct
 * audit_row (seq to outcome), for audit_row_from_result. */
#define AUDIT_ROW_SQL "a.seq::text, to_char(a.at AT TIME ZONE 'UTC', " \
	AUDIT_TIME_SQL "), a.cycle_id::text, a.actor, a.action, a.entity, " \
	"a.local_key, a.remote_id, a.source, a.version, a.outcome"

/* One entry as it is hashed: text columns as stored (NULL for SQL NULL),
 * at in the form 2026-11-24T10:00:00.123456Z, digests as stored. */
struct audit_row {
	const char *seq, *at, *cycle_id, *actor, *action, *entity, *local_key;
	const char *remote_id, *source, *version, *outcome, *key_id;
	json_t *digests;
};

/* Fills seq to outcome from row i of r, selected with AUDIT_ROW_SQL first;
 * key_id and digests are the caller's. */
void audit_row_from_result(const PGresult *r, int i, struct audit_row *row);

/* The digests of changes for entry seq with key id (NULL: current). */
int audit_digest_changes(const struct audit_keys *k, const char *key_id,
			 const char *seq, json_t *changes, json_t **out)
	CS_MUST_CHECK;

/* 0 when every value of changes matches its digest and both have the same
 * fields and parts; a null value where the digest is not null passes only
 * when erased. 1 on a mismatch, naming field and part in what; CS_EINVAL
 * when key_id is not among k (what names it). */
int audit_check_values(const struct audit_keys *k, const char *key_id,
		       const char *seq, json_t *changes, json_t *digests,
		       int erased, char *what, size_t whatsz) CS_MUST_CHECK;

/* hash = SHA-256(prev, row); prev NULL or "" for the first entry. */
int audit_row_hash(const char *prev, const struct audit_row *row,
		   char hash[AUDIT_HASH_HEX]) CS_MUST_CHECK;

/* Chains entries written before version 5 of the schema (hash NULL), in
 * order, with the current key; run by `casesync migrate` as the owner.
 * Prints what it did to out. */
int audit_seal_legacy(struct store *s, const struct audit_keys *k, FILE *out)
	CS_MUST_CHECK;

/* --- checkpoints ------------------------------------------------------ */

struct audit_checkpoint {
	long long entries;
	char head[AUDIT_HASH_HEX];
	char at[AUDIT_TIME];
	char key_id[AUDIT_KEY_ID];
	char signature[128];	/* base64 of the 64-byte Ed25519 signature */
};

/* An Ed25519 key from a PEM file: private (can sign) or public. */
struct audit_signkey;
int audit_signkey_load(const char *key, const char *name, int need_private,
		       struct audit_signkey **out, char *err, size_t errsz)
	CS_MUST_CHECK;
void audit_signkey_free(struct audit_signkey *k);
const char *audit_signkey_id(const struct audit_signkey *k);

/* The bytes that are signed. */
int audit_checkpoint_message(const struct audit_checkpoint *cp, char *out,
			     size_t size) CS_MUST_CHECK;
int audit_checkpoint_sign(const struct audit_signkey *k,
			  struct audit_checkpoint *cp) CS_MUST_CHECK;
/* 0 when the signature is good and made by k; 1 when not. */
int audit_checkpoint_verify(const struct audit_signkey *k,
			    const struct audit_checkpoint *cp);
/* The exported file: the message and a "signature:" line. */
int audit_checkpoint_write(const struct audit_checkpoint *cp, FILE *f)
	CS_MUST_CHECK;
/* Parses an exported file; CS_EINVAL with err naming the line. */
int audit_checkpoint_read(const char *path, struct audit_checkpoint *cp,
			  char *err, size_t errsz) CS_MUST_CHECK;

/* Signs the head as it is now (if it moved since the last checkpoint),
 * stores the checkpoint and, with dir, writes it there as
 * checkpoint-<entries>.txt. *made is 1 when a new one was made. */
int audit_checkpoint_make(struct store *s, const struct audit_signkey *k,
			  const char *actor, const char *dir,
			  struct audit_checkpoint *cp, int *made) CS_MUST_CHECK;

#endif
