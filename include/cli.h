/* cli.h - what the casesync subcommands share: opening the database the
 * same way, dispatching sub-subcommands, writing CSV. */
#ifndef CASESYNC_CLI_H
#define CASESYNC_CLI_H

#include <stdio.h>
#include "config.h"
#include "options.h"
#include "store.h"

/* Connects as the config says and checks the schema is current; on
 * failure prints "casesync CMD: ..." and returns NULL. */
struct store *cli_open_store(const struct config *cfg, const char *cmd);

/* One RFC 4180 field, quoted when it holds a comma, quote, CR or LF, or
 * starts or ends with white space; then a comma, or the line end (CRLF)
 * when last. NULL is an empty field. */
void cli_csv_field(FILE *f, const char *v, int last);

struct cli_sub {
	const char *name;
	int (*run)(const struct options *o, int argc, char **argv);
};

/* `casesync CMD SUB ARGS`: --help anywhere prints usage; an unknown or
 * missing SUB is a usage error (2). Returns the exit status. */
int cli_dispatch(const char *cmd, const struct cli_sub *subs,
		 void (*usage)(FILE *f), const struct options *o, int argc,
		 char **argv);

#endif
