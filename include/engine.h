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
	long deleted_local;	/* council deletions applied to the provider */
	long deleted_remote;	/* provider deletions sent to the council */
	long held;		/* changes waiting behind an unsettled conflict */
	long resolved;		/* conflict resolutions applied and synced */
};

/* Per entity, what applying council records did to the provider store. */
struct engine_entity_counts {
	long created;
	long updated;
	long unchanged;
	long rejected;
	long conflicts;
};

struct engine {
	const struct config *cfg;
	const struct mapping_set *maps;
	struct store *store;
	struct remote *remote;
	const char *actor;	/* daemon instance name, for the audit trail */
	long long cycle_id;
	/* Extract-file imports: nested collections are applied too (matched
	 * by the mapping's match keys), and a council record not yet in the
	 * crosswalk is linked to the provider record with the same match
	 * keys instead of being created again. */
	int nested;
	struct engine_entity_counts *per_entity;	/* maps->nentities, or NULL */
	/* The clocks, for the newest policy: the database's clock minus
	 * ours at the start of the cycle, and whether the council's clock
	 * (its Date header) is off by more than sync.max_clock_skew_s. */
	long long db_clock_offset;
	int db_clock_known;
	int skew_alarm;
	long long skew_s;
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

/* A row in casesync.cycles: started (en->cycle_id set), then finished
 * with the counts. engine_cycle uses them; so does an import. */
int engine_cycle_start(struct engine *en) CS_MUST_CHECK;
int engine_cycle_finish(struct engine *en, const struct engine_counts *c,
			int ok) CS_MUST_CHECK;

/* Applies one council record to the provider store inside the caller's
 * transaction (with echo suppression): crosswalk, base, three-way merge,
 * tombstones, conflicts, audit, and with en->nested its nested
 * collections. */
int engine_apply_remote(struct engine *en, const struct map_entity *e,
			struct codec_item *it, struct engine_counts *c)
	CS_MUST_CHECK;

/* Quarantines a council record that could not be taken in, inside the
 * caller's transaction: a casesync.quarantine row (entity, the council's
 * id when known, where it came from, the reason: fields and kinds of
 * problem, never values) and a reject_input audit row. */
int engine_quarantine(struct engine *en, const struct map_entity *e,
		      const char *remote_id, const char *where,
		      const char *reason) CS_MUST_CHECK;

#endif
