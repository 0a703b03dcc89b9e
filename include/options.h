/* options.h - the options both programs share: -c FILE, --set k=v. */
#ifndef CASESYNC_OPTIONS_H
#define CASESYNC_OPTIONS_H

#include "common.h"
#include "config.h"

#define OPTIONS_MAX_SET 64

struct options {
	const char *config_path;
	char *sets[OPTIONS_MAX_SET];
	int nsets;
};

/* Consumes a shared option at argv[*i] (advancing *i past its value).
 * Returns 1 when consumed, 0 when argv[*i] is not a shared option, and
 * -1 on a usage error (message printed). */
int options_take(struct options *o, int argc, char **argv, int *i);

/* Loads the config the options name, printing problems to stderr. */
struct config *options_load_config(const struct options *o);

#endif
