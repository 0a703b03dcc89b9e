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

/* ---- modification times (the newest policy) ---- */

/* Parses an RFC 3339 / ISO 8601 timestamp into milliseconds since
 * 1970-01-01T00:00:00Z:
 *
 *     YYYY-MM-DD ('T' | ' ') hh:mm:ss [ '.' digits ] ( 'Z' | ±hh:mm | ±hh )
 *
 * so both the council's "2026-11-24T10:15:30.123Z" and PostgreSQL's text
 * form of a timestamptz, "2026-11-24 10:15:30.123+00", parse. The fraction
 * may have any number of digits; milliseconds are kept (further digits are
 * truncated, never rounded up into the next second). Fields are range
 * checked: year 0000-9999, a day that exists in its month (Gregorian leap
 * years), hour 00-23, minute and second 00-59 (a leap second, :60, is
 * refused: neither system emits one), offset hours 00-23 and minutes 00-59
 * ("-00:00" is UTC). A time without an offset is refused: it names no
 * instant. Nothing else is accepted, not even surrounding white space.
 * CS_EINVAL (and *ms_since_epoch untouched) for anything else or NULL.
 * No locale, no strptime, no time zone database. */
int merge_parse_time(const char *s, long long *ms_since_epoch) CS_MUST_CHECK;

/* Which side changed the record last, by the two systems' modification
 * times: MERGE_NEWER_LOCAL (or _REMOTE) when the provider's (council's)
 * time is later than the other by MORE than tolerance_ms;
 * MERGE_NEWER_UNKNOWN when either is NULL or does not parse
 * (merge_parse_time), or when they are within tolerance_ms of each other,
 * equal times included: two clocks that far apart cannot order the changes,
 * so the newest policy falls back to a person (MD_MANUAL). A negative
 * tolerance counts as 0. */
enum merge_newer merge_newer_by_time(const char *local_modified,
				     const char *remote_modified,
				     long long tolerance_ms);

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

/* ---- record presence: creations, deletions and tombstones ----
 *
 * Before merging fields the engine decides what to do with the record as a
 * whole, from which sides still hold it. The rule is that a deletion on one
 * side and a modification on the other is a conflict, never a silent loss:
 * a record is deleted on the other side only when that side has not changed
 * it since the last agreed version. */
enum merge_action {
	MA_NOTHING,		/* nothing to do (both gone, or nothing ever
				 * agreed and nothing to send) */
	MA_MERGE,		/* both present: merge field by field
				 * (merge_records) */
	MA_CREATE_LOCAL,	/* only the council has it and it was never
				 * agreed (or was agreed deleted and the council
				 * restored it) */
	MA_CREATE_REMOTE,	/* only the provider has it, never agreed (or
				 * agreed deleted and the provider restored it) */
	MA_DELETE_LOCAL,	/* council deleted it, provider unchanged since
				 * base: delete at provider */
	MA_DELETE_REMOTE,	/* provider deleted it, council unchanged since
				 * base: delete at council */
	MA_SETTLE_DELETED,	/* both deleted since base: record the tombstone,
				 * nothing to send */
	MA_CONFLICT_DELETED_REMOTE,	/* council deleted it, provider changed
					 * it since base */
	MA_CONFLICT_DELETED_LOCAL	/* provider deleted it, council changed
					 * it since base */
};

/* Whether side_rec, the record as `side` holds it now, changed since base,
 * the last agreed version: some field that may flow FROM that side
 * (mapping_field_flows_to(f, the other side)) differs from base. A change
 * to a field the side may not write is not a change: it would never be
 * taken. Own fields only; child collections are not compared. No base
 * (NULL) counts as changed when side_rec is present (conservative: a
 * conflict rather than a loss); a NULL side_rec (deleted) has no changes. */
int merge_side_changed(const struct record *base,
		       const struct record *side_rec, enum side side);

/* Decides what happens to one record. local and remote: the record on each
 * side, NULL when deleted or absent there. base: the last agreed version,
 * NULL when none was ever agreed. base_deleted: the agreed state is
 * "deleted on both" (a tombstone); base is then ignored. "changed" is
 * merge_side_changed() against base.
 *
 *   agreed      provider        council         action
 *   ----------  --------------  --------------  ---------------------------
 *   never       absent          absent          MA_NOTHING
 *   never       absent          present         MA_CREATE_LOCAL
 *   never       present         absent          MA_CREATE_REMOTE
 *   never       present         present         MA_MERGE (no base)
 *   live        deleted         deleted         MA_SETTLE_DELETED
 *   live        deleted         unchanged       MA_DELETE_REMOTE
 *   live        deleted         changed         MA_CONFLICT_DELETED_LOCAL
 *   live        unchanged       deleted         MA_DELETE_LOCAL
 *   live        changed         deleted         MA_CONFLICT_DELETED_REMOTE
 *   live        present         present         MA_MERGE (against base)
 *   deleted     absent          absent          MA_NOTHING
 *   deleted     absent          present         MA_CREATE_LOCAL
 *   deleted     present         absent          MA_CREATE_REMOTE
 *   deleted     present         present         MA_MERGE (no base)
 *
 * "never" is base NULL and !base_deleted, "live" base non-NULL and
 * !base_deleted. A record restored on one side after an agreed deletion is
 * created again on the other; restored on both, it is merged as if never
 * agreed (merge_records with base NULL: every difference is a conflict its
 * policy decides), since the tombstone holds no values to merge against. */
enum merge_action merge_presence(const struct record *base, int base_deleted,
				 const struct record *local,
				 const struct record *remote);
const char *merge_action_name(enum merge_action a);

#endif
