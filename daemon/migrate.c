/* migrate.c - apply the embedded migrations in order. */
#include "migrate.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"

/* Any 64-bit constant shared by all casesync processes. */
#define MIGRATE_LOCK "7263656173796e63"

static const char bootstrap_sql[] =
	"CREATE SCHEMA IF NOT EXISTS casesync;"
	"CREATE TABLE IF NOT EXISTS casesync.schema_version ("
	" component text NOT NULL, version integer NOT NULL,"
	" name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(),"
	" PRIMARY KEY (component, version))";

int migrate_known_version(const char *component)
{
	int v = 0;

	for (const struct migration *m = migrations; m->component; m++)
		if (!strcmp(m->component, component) && m->version > v)
			v = m->version;
	return v;
}

int migrate_installed_version(struct store *s, const char *component)
{
	const char *p[] = { component };
	PGresult *r;
	long long v = 0;

	r = store_exec(s, "schema_version",
		       "SELECT coalesce(max(version), 0) FROM casesync.schema_version "
		       "WHERE component = $1", 1, p);
	if (!r)
		return CS_EIO;
	if (cs_parse_int64(PQgetvalue(r, 0, 0), 0, 1000000, &v))
		v = CS_EIO;
	PQclear(r);
	return (int)v;
}

static int schema_version_exists(struct store *s)
{
	PGresult *r = store_exec(s, "schema_version_exists",
				 "SELECT to_regclass('casesync.schema_version') "
				 "IS NOT NULL", 0, NULL);
	int yes;

	if (!r)
		return CS_EIO;
	yes = PQgetvalue(r, 0, 0)[0] == 't';
	PQclear(r);
	return yes;
}

static int apply_one(struct store *s, const struct migration *m, FILE *out)
{
	char ver[16];
	const char *p[] = { m->component, ver, m->name };
	PGresult *r;

	snprintf(ver, sizeof(ver), "%d", m->version);
	if (store_begin(s, 0))
		return CS_EIO;
	if (store_run(s, "migrate_lock",
		      "SELECT pg_advisory_xact_lock(x'" MIGRATE_LOCK "'::bigint)",
		      0, NULL))
		goto fail;
	/* Another process may have applied it while we waited for the lock. */
	r = store_exec(s, "migrate_recheck",
		       "SELECT 1 FROM casesync.schema_version WHERE component = $1 "
		       "AND version = $2", 2, p);
	if (!r)
		goto fail;
	if (PQntuples(r) > 0) {
		PQclear(r);
		store_rollback(s);
		return CS_OK;
	}
	PQclear(r);
	/* Embedded migration text, not data: the one place for PQexec. */
	r = PQexec(s->conn, m->sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK &&
	    PQresultStatus(r) != PGRES_TUPLES_OK) {
		const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);

		log_error("migrate_failed", "component=%s version=%d sqlstate=%s",
			  m->component, m->version, state ? state : "none");
		if (out)
			fprintf(out, "migration %s/%s failed: %s", m->component,
				m->name, PQresultErrorMessage(r));
		PQclear(r);
		goto fail;
	}
	PQclear(r);
	if (store_run(s, "migrate_record",
		      "INSERT INTO casesync.schema_version (component, version, name) "
		      "VALUES ($1, $2, $3)", 3, p) || store_commit(s))
		goto fail;
	if (out)
		fprintf(out, "applied %s migration %s\n", m->component, m->name);
	return CS_OK;
fail:
	store_rollback(s);
	return CS_EIO;
}

int migrate_component(struct store *s, const char *component, FILE *out)
{
	int known = migrate_known_version(component), have;

	if (store_begin(s, 0) ||
	    store_run(s, "migrate_lock",
		      "SELECT pg_advisory_xact_lock(x'" MIGRATE_LOCK "'::bigint)",
		      0, NULL)) {
		store_rollback(s);
		return CS_EIO;
	}
	/* The bootstrap statements are idempotent literals. */
	{
		PGresult *r = PQexec(s->conn, bootstrap_sql);
		int ok = PQresultStatus(r) == PGRES_COMMAND_OK;

		PQclear(r);
		if (!ok || store_commit(s)) {
			log_error("migrate_failed", "component=bootstrap");
			store_rollback(s);
			return CS_EIO;
		}
	}
	have = migrate_installed_version(s, component);
	if (have < 0)
		return CS_EIO;
	if (have > known) {
		log_error("schema_too_new", "component=%s installed=%d known=%d",
			  component, have, known);
		if (out)
			fprintf(out, "schema %s is at version %d but this casesync "
				"knows only up to %d: upgrade casesync first\n",
				component, have, known);
		return CS_EINVAL;
	}
	for (const struct migration *m = migrations; m->component; m++) {
		if (strcmp(m->component, component) || m->version <= have)
			continue;
		if (apply_one(s, m, out))
			return CS_EIO;
	}
	if (out && have == known)
		fprintf(out, "schema %s is up to date (version %d)\n", component,
			known);
	return CS_OK;
}

int migrate_check_current(struct store *s, char *err, size_t errsz)
{
	int known = migrate_known_version("casesync"), have;
	int exists = schema_version_exists(s);

	if (exists < 0) {
		snprintf(err, errsz, "cannot read the schema version");
		return CS_EIO;
	}
	have = exists ? migrate_installed_version(s, "casesync") : 0;
	if (have < 0) {
		snprintf(err, errsz, "cannot read the schema version");
		return CS_EIO;
	}
	if (have > known) {
		snprintf(err, errsz, "schema casesync is at version %d but this "
			 "casesync knows only up to %d: upgrade casesync", have,
			 known);
		return CS_EINVAL;
	}
	if (have < known) {
		snprintf(err, errsz, "schema casesync is at version %d, this "
			 "casesync needs %d: run 'casesync migrate'", have, known);
		return CS_EINVAL;
	}
	return CS_OK;
}
