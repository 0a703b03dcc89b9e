/* diag.h - a list of problems found in a config or mapping file, each
 * "FILE:LINE: message". Messages name files, lines, keys and record keys,
 * never the values found there (a value may be personal data). */
#ifndef CASESYNC_DIAG_H
#define CASESYNC_DIAG_H

#include <stdio.h>
#include "common.h"

#define DIAG_MAX 200	/* more problems than this are counted, not kept */

struct diag {
	char *msgs[DIAG_MAX];
	int n;		/* messages kept */
	int total;	/* errors found */
	int warnings;	/* warnings found (kept alongside, "warning: ...") */
};

void diag_init(struct diag *d);
/* line <= 0 means "no line". */
void diag_add(struct diag *d, const char *file, int line, const char *fmt, ...)
	CS_PRINTF(4, 5);
/* A warning: reported, but does not make the file invalid. */
void diag_warn(struct diag *d, const char *file, int line, const char *fmt, ...)
	CS_PRINTF(4, 5);
void diag_print(const struct diag *d, FILE *f);
/* First message or "" when none. */
const char *diag_first(const struct diag *d);
void diag_free(struct diag *d);

#endif
