/* migrate.h - versioned, transactional, idempotent schema migrations.
 *
 * The SQL under sql/<component>/NNNN_name.sql is compiled into the binaries
 * (tools/embed-sql). Each migration runs in its own transaction under an
 * advisory lock and is recorded in casesync.schema_version. A database at a
 * newer version than this build knows is refused with a clear message. */
#ifndef CASESYNC_MIGRATE_H
#define CASESYNC_MIGRATE_H

#include <stdio.h>
#include "common.h"
#include "mapping.h"
#include "store.h"

struct migration {
	const char *component;	/* "casesync" or "casestore" */
	int version;
	const char *name;
	const char *sql;
};

extern const struct migration migrations[];	/* ends with a NULL component */

/* Highest version this build knows for component (0 if none). */
int migrate_known_version(const char *component);
/* Installed version, 0 when none; negative on error. */
int migrate_installed_version(struct store *s, const char *component);

/* Brings component up to date; prints one line per step to out (may be
 * NULL). CS_EINVAL when the database is newer than this build. */
int migrate_component(struct store *s, const char *component, FILE *out)
	CS_MUST_CHECK;

/* Refuses to run (CS_EINVAL, logged) unless schema casesync is exactly at
 * the version this build knows. For the daemon and reporting commands. */
int migrate_check_current(struct store *s, char *err, size_t errsz)
	CS_MUST_CHECK;

#endif
