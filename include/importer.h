/* importer.h - one extract file into the provider store.
 *
 * The file is read as a stream (codec_xml_stream), validated against the
 * XSD when one is given, and each record goes the daemon's way
 * (engine_apply_remote: crosswalk, base, three-way merge, audit, nested
 * collections by match keys), all in one transaction with echo
 * suppression. A record whose values break the mapping's types or code
 * lists is quarantined with a reason (casesync.quarantine, and an audit
 * row) and the rest proceeds; a file that is not well-formed XML, carries
 * a DOCTYPE or fails the XSD is rejected whole: nothing is written. */
#ifndef CASESYNC_IMPORTER_H
#define CASESYNC_IMPORTER_H

#include "common.h"
#include "engine.h"

struct import_result {
	long records;		/* records read */
	long applied;		/* taken in (created, updated or unchanged) */
	long quarantined;
};

/* en->store, en->maps, en->actor must be set; en->per_entity may be.
 * When en->cycle_id is 0 the import records a cycle of its own; otherwise
 * it counts into c (may be NULL) as part of the caller's cycle. source
 * names the file in quarantine rows and messages. With sha256 (an inbox
 * file), casesync.inbox_files records (source, sha256) as processed in the
 * same transaction. CS_EINVAL with the reason in err (naming the line,
 * never data) when the file is rejected; CS_EIO when the database failed.
 */
int import_file(struct engine *en, const char *path, const char *source,
		const char *xsd, const char *sha256, struct engine_counts *c,
		struct import_result *res, char *err, size_t errsz)
	CS_MUST_CHECK;

/* Records an inbox file as rejected (its own statement). */
int import_inbox_rejected(struct engine *en, const char *name,
			  const char *sha256, const char *reason) CS_MUST_CHECK;
/* Audits a file rejected whole by `casesync import` (nothing else of it is
 * written), by its name and the SHA-256 of the file at path. */
int import_audit_rejected(struct engine *en, const char *name,
			  const char *path) CS_MUST_CHECK;

#endif
