/* audit.h - the reconciliation audit trail.
 *
 * One row per change the daemon applies or pushes, written by the caller's
 * open transaction so that the row commits with the change or not at all.
 * Hash chaining, HMAC of values and signed checkpoints arrive with the
 * audit issue; the row shape already carries what they need. */
#ifndef CASESYNC_AUDIT_H
#define CASESYNC_AUDIT_H

#include "common.h"
#include "mapping.h"
#include "record.h"
#include "store.h"

struct audit_entry {
	long long cycle_id;	/* 0 = none */
	const char *actor;	/* daemon instance or person */
	const char *action;	/* create_local, update_local, create_remote, ... */
	const struct map_entity *entity;
	const char *local_key;
	const char *remote_id;
	const struct record *old_rec;	/* NULL for a creation */
	const struct record *new_rec;
	enum side source;	/* the system the change came from */
	const char *version;	/* council version after the change */
	const char *outcome;	/* "applied", "pushed", "rejected", ... */
};

/* {"field": {"old": v, "new": v}} for each field that differs (new NULL:
 * every old value; both NULL: none); NULL on allocation failure. */
json_t *audit_changes_json(const struct record *old_rec,
			   const struct record *new_rec);

int audit_write(struct store *s, const struct audit_entry *a) CS_MUST_CHECK;

#endif
