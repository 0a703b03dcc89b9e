/* cli_audit.h - `casesync audit`: the audit trail read back for auditors
 * (daemon/cli_audit.c). */
#ifndef CASESYNC_CLI_AUDIT_H
#define CASESYNC_CLI_AUDIT_H

#include "options.h"

/* argv[0] is the subcommand. Returns the exit status. */
int cmd_audit(const struct options *o, int argc, char **argv);

#endif
