/* inifile.h - a strict INI reader used for casesync.conf.
 *
 * Grammar: "[section]" lines, "key = value" lines, blank lines, and comment
 * lines starting with '#' or ';'. Values run to the end of the line, trimmed;
 * there are no inline comments (a value may contain '#') and no continuation
 * lines. Written here rather than taken from libinih because every callback
 * needs the line number, so that each problem names FILE:LINE. */
#ifndef CASESYNC_INIFILE_H
#define CASESYNC_INIFILE_H

#include <stddef.h>
#include "common.h"
#include "diag.h"

#define INIFILE_MAX_SIZE (1024 * 1024)
#define INIFILE_MAX_LINE 4096

/* Called for a section header (key == NULL, value == NULL) and for every
 * key = value line (section may be "" before the first header). Reports
 * problems into d itself; returning non-zero stops the parse. */
typedef int (*inifile_cb)(void *ud, const char *section, const char *key,
			  const char *value, const char *file, int line,
			  struct diag *d);

/* Syntax errors are added to d. Returns 0 when the file was read (look at
 * d->total for problems), CS_EIO when it cannot be read. */
int inifile_parse_file(const char *path, inifile_cb cb, void *ud,
		       struct diag *d) CS_MUST_CHECK;
int inifile_parse_string(const char *name, const char *text, size_t len,
			 inifile_cb cb, void *ud, struct diag *d) CS_MUST_CHECK;

#endif
