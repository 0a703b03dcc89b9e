/* status.h - casesync status: what the daemon holds and has still to do,
 * per entity and overall, read from schema casesync only (never a case
 * record). Read-only; runs with the grants of casesync_datalead or
 * casesync_daemon. A table the role may not read is reported as unknown
 * (null in JSON), not as zero. */
#ifndef CASESYNC_STATUS_H
#define CASESYNC_STATUS_H

#include "options.h"

/* casesync status [--format text|json]; argv holds what follows the
 * command name. Exit 0, 1 when the database cannot be read, 2 on a usage
 * error. */
int cmd_status(const struct options *o, int argc, char **argv);

#endif
