/* engine.h - one sync cycle: pull council changes, push local changes,
 * merging each touched record field by field against its base.
 *
 * Each pulled page commits with its cursor; each pushed record commits its
 * base, crosswalk, local corrections, audit rows and change-log consumption
 * in one transaction. A record that fails is counted and left for the next
 * cycle; the others keep flowing. */
#ifndef CASESYNC_ENGINE_H
#define CASESYNC_ENGINE_H

#include "common.h"
#include "config.h"
#include "mapping.h"
#include "remote.h"
#include "store.h"

struct engine_counts {
	long pulled;		/* council changes applied to the provider */
	long pushed;		/* provider changes sent to the council */
	long created_local;
	long created_remote;
	long skipped;		/* already in agreement (echoes, duplicates) */
	long conflicts;		/* records held for a person to decide */
	long rejected;		/* records that failed validation */
	long errors;
};

struct engine {
	const struct config *cfg;
	const struct mapping_set *maps;
	struct store *store;
	struct remote *remote;
	const char *actor;	/* daemon instance name, for the audit trail */
	long long cycle_id;
};

/* Runs one full cycle over every entity of the mapping set and records it
 * in casesync.cycles. Returns 0 when the cycle completed (records may still
 * have been rejected: see counts), CS_EIO when the database or council
 * could not be reached. */
/* Whether the cycle syncs this entity directly (a top-level entity of a
 * web-service mapping). */
int engine_syncs(const struct map_entity *e);

int engine_cycle(struct engine *en, struct engine_counts *counts)
	CS_MUST_CHECK;

#endif
