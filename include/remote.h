/* remote.h - the council as the engine sees it: changes since a cursor, get,
 * create and update, whatever the transport and codec underneath.
 * Web services exchanging JSON (the mapping's JSON Pointers) or XML (its
 * XPaths), chosen by the mapping's codec. */
#ifndef CASESYNC_REMOTE_H
#define CASESYNC_REMOTE_H

#include <signal.h>

#include "codec_json.h"
#include "common.h"
#include "config.h"
#include "mapping.h"

struct remote;

/* A feed item that failed to decode: its id (NULL when it had none) and
 * why, naming fields and the kind of problem, never a value. */
struct remote_reject {
	char *remote_id;
	char *reason;
};

struct remote_page {
	struct codec_item *items;
	size_t n;
	size_t rejected;	/* items that failed to decode (logged by key) */
	struct remote_reject *rejects;	/* rejected of them, in feed order */
	char *next;		/* cursor to store once the page is applied */
	int more;
};

struct remote *remote_new(const struct config *c, char *err, size_t errsz);
void remote_free(struct remote *r);

/* One page of changes after cursor `since` (NULL or "" = from the start). */
int remote_changes(struct remote *r, const struct map_entity *e,
		   const char *since, long limit, struct remote_page *page)
	CS_MUST_CHECK;
void remote_page_clear(struct remote_page *p);

/* CS_ENOTFOUND when the council has no such record. */
int remote_get(struct remote *r, const struct map_entity *e, const char *id,
	       struct codec_item *out) CS_MUST_CHECK;

/* Creates a record; out receives the council's stored version. */
int remote_create(struct remote *r, const struct map_entity *e,
		  const struct record *rec, const char *idempotency_key,
		  struct codec_item *out) CS_MUST_CHECK;

/* Updates record id if its version is still if_match. CS_ECONFLICT on 412.
 * cur is the council's current record as remote_get returned it: the
 * update is written on top of its payload, so unmapped members, elements
 * and attributes survive. */
int remote_update(struct remote *r, const struct map_entity *e,
		  const char *id, const char *if_match,
		  const struct record *rec, const struct codec_item *cur,
		  const char *idempotency_key, struct codec_item *out)
	CS_MUST_CHECK;

/* Several reads and writes at once, up to remote.max_concurrent in flight
 * (each with its own retries). The caller fills the first members of each
 * op; remote_run sets rc (as the single calls above return) and out (to
 * be cleared with codec_item_clear). Returns CS_OK, or CS_ENOMEM when the
 * batch could not be started (every op then carries an error). */
enum remote_op_kind { REMOTE_GET, REMOTE_CREATE, REMOTE_UPDATE, REMOTE_DELETE };
struct remote_op {
	enum remote_op_kind kind;
	const struct map_entity *e;
	const char *id;			/* GET, UPDATE */
	const char *if_match;		/* UPDATE: the version read */
	const struct record *rec;	/* CREATE, UPDATE */
	const struct codec_item *cur;	/* UPDATE: as remote_update */
	const char *idempotency_key;	/* CREATE, UPDATE, DELETE */
	const char *body;		/* CREATE, UPDATE: bytes from remote_encode
					 * (the outbox), sent as they are */
	struct codec_item out;		/* DELETE: empty */
	int rc;
};
int remote_run(struct remote *r, struct remote_op *ops, size_t n)
	CS_MUST_CHECK;

/* The exact body a CREATE or UPDATE op sends ("" for a DELETE), to be
 * stored in the outbox before the first send and passed back as op->body
 * on every attempt. CS_EINVAL when the record cannot be encoded. */
int remote_encode(struct remote *r, const struct remote_op *op, char **body)
	CS_MUST_CHECK;

/* The council's clock minus ours, in seconds, from the Date header of the
 * last answer; returns 0 while no answer carried one. */
int remote_clock_offset(const struct remote *r, long long *secs);

/* Requests in progress or waiting to be retried end early (CS_EIO) once
 * *flag is set: the daemon passes its stop flag. */
void remote_set_cancel(struct remote *r, volatile sig_atomic_t *flag);

/* Counters for the cycle report. */
struct remote_stats {
	unsigned long requests;
	unsigned long retries;
	unsigned long replays;
};
void remote_get_stats(const struct remote *r, struct remote_stats *out);

#endif
