/* merge.h - field-by-field three-way merge against the last agreed base.
 * Pure functions: no I/O, no clock. */
#ifndef CASESYNC_MERGE_H
#define CASESYNC_MERGE_H

#include "common.h"
#include "mapping.h"
#include "record.h"

enum merge_decision {
	MD_SAME,		/* both sides already hold the same value */
	MD_TAKE_LOCAL,		/* only the provider changed it */
	MD_TAKE_REMOTE,		/* only the council changed it */
	MD_OWNER_LOCAL,		/* both changed; provider owns the field */
	MD_OWNER_REMOTE,	/* both changed; council owns the field */
	MD_NEWEST_LOCAL,	/* both changed; provider's change is newer */
	MD_NEWEST_REMOTE,	/* both changed; council's change is newer */
	MD_MANUAL		/* both changed; a person must decide */
};

/* Which side's change is the newer one, by the systems' own versions or
 * modification times; MERGE_NEWER_UNKNOWN when they cannot be compared or
 * the clocks disagree by more than the configured bound. */
enum merge_newer { MERGE_NEWER_UNKNOWN = -1, MERGE_NEWER_LOCAL = SIDE_LOCAL,
		   MERGE_NEWER_REMOTE = SIDE_REMOTE };

/* Decides one field. base is NULL-able (has_base == 0 means no agreed
 * version exists yet: any difference counts as a change on both sides). */
enum merge_decision merge_field(const struct map_field *f, int has_base,
				const char *base, const char *local,
				const char *remote, enum merge_newer newer);

/* Which side's value a decision keeps. MD_SAME and MD_MANUAL keep local. */
enum side merge_winner(enum merge_decision d);
int merge_is_conflict(enum merge_decision d);

struct merge_result {
	struct record *merged;		/* the agreed values (owned) */
	enum merge_decision *decisions;	/* one per field (owned) */
	size_t conflicts;		/* both sides changed differently */
	size_t manual;			/* of which need a person */
	size_t to_local;		/* fields the provider store must change */
	size_t to_remote;		/* fields the council must change */
};

/* Merges local and remote against base (NULL when none). On success
 * res holds owned results; release with merge_result_clear(). */
int merge_records(const struct record *base, const struct record *local,
		  const struct record *remote, enum merge_newer newer,
		  struct merge_result *res) CS_MUST_CHECK;
void merge_result_clear(struct merge_result *res);

const char *merge_decision_name(enum merge_decision d);

#endif
