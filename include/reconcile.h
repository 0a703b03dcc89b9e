/* reconcile.h - casesync reconcile: a full comparison of the provider's
 * records with the council's, for every entity the daemon syncs.
 *
 * The council's side is read from its change feed from the start (every
 * record once, in its latest state, tombstones included), one page at a
 * time; each page is matched to the provider's rows through the crosswalk
 * in a few queries, and the provider keys it matched are remembered in a
 * temporary table, not in memory. The provider's records that no council
 * record matched are then streamed through a cursor. Memory stays flat
 * whatever the number of records. Nothing is written to either side.
 *
 * Statuses: in_sync, differs (the fields named; values only with
 * --show-values), missing_local, missing_remote, conflict (an unsettled
 * row in casesync.conflicts), unreadable (the council's record does not
 * decode through the mapping), and deleted (a council tombstone with no
 * provider record left: in sync, listed with --all only). docs/reconcile.md
 * explains them for data leads. */
#ifndef CASESYNC_RECONCILE_H
#define CASESYNC_RECONCILE_H

#include "options.h"

/* Exit statuses: like diff(1), 2 means no answer (a usage error, or the
 * database or the council could not be read). */
#define RECONCILE_EXIT_SAME 0
#define RECONCILE_EXIT_DIFFER 1
#define RECONCILE_EXIT_TROUBLE 2

/* casesync reconcile [--entity NAME] [--format text|csv|json|html]
 * [--output FILE] [--all] [--show-values]; argv holds what follows the
 * command name. */
int cmd_reconcile(const struct options *o, int argc, char **argv);

#endif
