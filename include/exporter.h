/* exporter.h - provider changes to the council as import files.
 *
 * For the files transport: the provider records with pending changes of
 * each top-level XML entity are read (with their nested collections),
 * encoded through the mapping into one file shaped by the mapping's
 * records path (for the census set, <Message><Children><Child>...), and
 * written atomically to remote.outbox. Its name carries a hash of its
 * content, so a file written again after a crash replaces itself. Then, in
 * one transaction, each record's pending change is settled, its base set
 * to what was sent, and an audit row written. Deleted records are not
 * written to import files: their changes wait in change_pending. */
#ifndef CASESYNC_EXPORTER_H
#define CASESYNC_EXPORTER_H

#include "common.h"
#include "engine.h"

/* Writes at most one file per entity per call; *files counts them. */
int export_pending(struct engine *en, struct engine_counts *c, int *files)
	CS_MUST_CHECK;

#endif
