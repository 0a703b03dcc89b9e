/* cli_conflicts.h - `casesync conflicts`: list, show and resolve the
 * records held for a person (daemon/cli_conflicts.c). */
#ifndef CASESYNC_CLI_CONFLICTS_H
#define CASESYNC_CLI_CONFLICTS_H

#include "options.h"

/* argv[0] is the subcommand. Returns the exit status. */
int cmd_conflicts(const struct options *o, int argc, char **argv);

#endif
