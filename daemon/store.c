/* store.c - libpq access for the engine. */
#include "store.h"
#include "codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "buf.h"
#include "log.h"

struct store *store_connect(const char *conninfo, long long stmt_timeout_ms,
			    const char *application_name, char *err,
			    size_t errsz)
{
	const char *keys[] = { "dbname", "application_name", "options", NULL };
	char options[256];
	const char *vals[4];
	struct store *s;

	/* Timeouts travel as startup options so that they hold from the first
	 * statement; expand_dbname lets conninfo carry any other keyword. */
	snprintf(options, sizeof(options),
		 "-c statement_timeout=%lld -c lock_timeout=%lld "
		 "-c idle_in_transaction_session_timeout=%lld -c TimeZone=UTC "
		 "-c DateStyle=ISO,YMD -c client_encoding=UTF8 "
		 "-c client_min_messages=warning",
		 stmt_timeout_ms, stmt_timeout_ms, stmt_timeout_ms * 2);
	vals[0] = conninfo && *conninfo ? conninfo : NULL;
	vals[1] = application_name;
	vals[2] = options;
	vals[3] = NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->conn = PQconnectdbParams(keys, vals, 1);
	if (!s->conn || PQstatus(s->conn) != CONNECTION_OK) {
		/* libpq's text names host and database, not case data. */
		const char *m = s->conn ? PQerrorMessage(s->conn) : "out of memory";
		size_t n;

		snprintf(err, errsz, "%s", m);
		n = strlen(err);
		while (n && (err[n - 1] == '\n' || err[n - 1] == ' '))
			err[--n] = '\0';
		store_close(s);
		return NULL;
	}
	return s;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	audit_detach(s);
	if (s->conn)
		PQfinish(s->conn);
	free(s);
}

PGresult *store_exec(struct store *s, const char *what, const char *sql,
		     int n, const char *const *params)
{
	PGresult *r = PQexecParams(s->conn, sql, n, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(r);

	if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
		return r;
	{
		const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

		log_error("db_error", "what=%s sqlstate=%s connection=%s", what,
			  state ? state : "none",
			  PQstatus(s->conn) == CONNECTION_OK ? "ok" : "lost");
	}
	PQclear(r);
	return NULL;
}

int store_run(struct store *s, const char *what, const char *sql, int n,
	      const char *const *params)
{
	PGresult *r = store_exec(s, what, sql, n, params);

	if (!r)
		return CS_EIO;
	PQclear(r);
	return CS_OK;
}

int store_begin(struct store *s, int origin_remote)
{
	audit_discard(s);
	if (store_run(s, "begin", "BEGIN", 0, NULL))
		return CS_EIO;
	if (origin_remote &&
	    store_run(s, "set_origin",
		      "SELECT set_config('casesync.origin', 'remote', true)", 0,
		      NULL)) {
		store_rollback(s);
		return CS_EIO;
	}
	return CS_OK;
}

/* The audit entries of the transaction are chained and written last, so
 * the chain's lock is held only for that and the COMMIT. */
int store_commit(struct store *s)
{
	if (audit_flush(s)) {
		audit_discard(s);
		return CS_EIO;
	}
	return store_run(s, "commit", "COMMIT", 0, NULL);
}

void store_rollback(struct store *s)
{
	audit_discard(s);
	PQclear(PQexec(s->conn, "ROLLBACK"));
}

int store_savepoint(struct store *s)
{
	audit_mark(s);
	return store_run(s, "savepoint", "SAVEPOINT rec", 0, NULL);
}

int store_release(struct store *s)
{
	return store_run(s, "release", "RELEASE SAVEPOINT rec", 0, NULL);
}

void store_rollback_to(struct store *s)
{
	audit_unwind(s);
	PQclear(PQexec(s->conn, "ROLLBACK TO SAVEPOINT rec"));
}

/* Runs a query expected to give zero or one row of one column. */
static int get_one(struct store *s, const char *what, const char *sql, int n,
		   const char *const *params, char **out)
{
	PGresult *r = store_exec(s, what, sql, n, params);

	*out = NULL;
	if (!r)
		return CS_EIO;
	if (PQntuples(r) > 0 && !PQgetisnull(r, 0, 0)) {
		*out = cs_strdup(PQgetvalue(r, 0, 0));
		if (!*out) {
			PQclear(r);
			return CS_ENOMEM;
		}
	}
	PQclear(r);
	return CS_OK;
}

int store_cursor_get(struct store *s, const char *name, char **value)
{
	const char *p[] = { name };

	return get_one(s, "cursor_get",
		       "SELECT value FROM casesync.cursors WHERE name = $1", 1, p,
		       value);
}

int store_cursor_set(struct store *s, const char *name, const char *value)
{
	const char *p[] = { name, value };

	return store_run(s, "cursor_set",
			 "INSERT INTO casesync.cursors (name, value) VALUES ($1, $2) "
			 "ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, "
			 "updated_at = now()", 2, p);
}

int store_crosswalk_by_remote(struct store *s, const char *entity,
			      const char *remote_id, char **local_key)
{
	const char *p[] = { entity, remote_id };

	return get_one(s, "crosswalk_by_remote",
		       "SELECT local_key FROM casesync.crosswalk "
		       "WHERE entity = $1 AND remote_id = $2", 2, p, local_key);
}

int store_crosswalk_by_local(struct store *s, const char *entity,
			     const char *local_key, char **remote_id)
{
	const char *p[] = { entity, local_key };

	return get_one(s, "crosswalk_by_local",
		       "SELECT remote_id FROM casesync.crosswalk "
		       "WHERE entity = $1 AND local_key = $2", 2, p, remote_id);
}

int store_crosswalk_put(struct store *s, const char *entity,
			const char *local_key, const char *remote_id)
{
	const char *p[] = { entity, local_key, remote_id };

	return store_run(s, "crosswalk_put",
			 "INSERT INTO casesync.crosswalk (entity, local_key, remote_id) "
			 "VALUES ($1, $2, $3)", 3, p);
}

int store_base_get(struct store *s, const struct map_entity *e,
		   const char *local_key, struct record **base,
		   char **remote_version)
{
	return store_base_get_ex(s, e, local_key, base, remote_version, NULL);
}

int store_base_get_ex(struct store *s, const struct map_entity *e,
		      const char *local_key, struct record **base,
		      char **remote_version, int *deleted)
{
	const char *p[] = { e->name, local_key };
	PGresult *r;
	json_t *doc;
	int rc = CS_OK;

	*base = NULL;
	*remote_version = NULL;
	if (deleted)
		*deleted = 0;
	r = store_exec(s, "base_get",
		       "SELECT vals::text, remote_version, deleted FROM casesync.base "
		       "WHERE entity = $1 AND local_key = $2", 2, p);
	if (!r)
		return CS_EIO;
	if (PQntuples(r) == 0)
		goto out;
	if (deleted)
		*deleted = PQgetvalue(r, 0, 2)[0] == 't';
	doc = json_loads(PQgetvalue(r, 0, 0), JSON_REJECT_DUPLICATES, NULL);
	rc = doc ? record_from_json(e, doc, base) : CS_EINVAL;
	json_decref(doc);
	if (rc == CS_OK && !PQgetisnull(r, 0, 1)) {
		*remote_version = cs_strdup(PQgetvalue(r, 0, 1));
		if (!*remote_version)
			rc = CS_ENOMEM;
	}
out:
	PQclear(r);
	if (rc) {
		record_free(*base);
		*base = NULL;
	}
	return rc;
}

int store_base_put(struct store *s, const struct map_entity *e,
		   const char *local_key, const struct record *rec,
		   const char *remote_version)
{
	char hash[RECORD_HASH_HEX];
	json_t *doc = record_to_json(rec);
	char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	const char *p[] = { e->name, local_key, text, hash, remote_version };
	int rc = CS_ENOMEM;

	json_decref(doc);
	if (!text)
		return rc;
	record_hash(rec, hash);
	rc = store_run(s, "base_put",
		       "INSERT INTO casesync.base (entity, local_key, vals, hash, "
		       "remote_version) VALUES ($1, $2, $3::jsonb, $4, $5) "
		       "ON CONFLICT (entity, local_key) DO UPDATE SET "
		       "vals = EXCLUDED.vals, hash = EXCLUDED.hash, "
		       "remote_version = EXCLUDED.remote_version, deleted = false, "
		       "updated_at = now()",
		       5, p);
	free(text);
	return rc;
}

int store_base_tombstone(struct store *s, const struct map_entity *e,
			 const char *local_key, const char *remote_version)
{
	const char *p[] = { e->name, local_key, remote_version };

	/* The last agreed values stay (for the audit's "old" side and for a
	 * restore); only the flag and the version move. */
	return store_run(s, "base_tombstone",
			 "INSERT INTO casesync.base (entity, local_key, vals, hash, "
			 "remote_version, deleted) VALUES ($1, $2, '{}', '', $3, true) "
			 "ON CONFLICT (entity, local_key) DO UPDATE SET deleted = true, "
			 "remote_version = coalesce(EXCLUDED.remote_version, "
			 "casesync.base.remote_version), updated_at = now()", 3, p);
}

int store_base_forget(struct store *s, const char *entity,
		      const char *local_key)
{
	const char *p[] = { entity, local_key };

	return store_run(s, "base_forget",
			 "DELETE FROM casesync.base WHERE entity = $1 AND "
			 "local_key = $2", 2, p);
}

int store_crosswalk_relink(struct store *s, const char *entity,
			   const char *local_key, const char *remote_id)
{
	const char *p[] = { entity, local_key, remote_id };

	/* Either side's old pairing goes: a record recreated on one side
	 * pairs its survivor with the new copy. */
	if (store_run(s, "crosswalk_unlink",
		      "DELETE FROM casesync.crosswalk WHERE entity = $1 AND "
		      "(local_key = $2 OR remote_id = $3)", 3, p))
		return CS_EIO;
	return store_crosswalk_put(s, entity, local_key, remote_id);
}

/* Appends a quoted identifier; "schema.table" becomes "schema"."table". */
int store_append_ident(struct store *s, struct buf *b, const char *name)
{
	const char *dot = strchr(name, '.');
	char *q;
	int rc;

	if (dot) {
		char *schema = cs_strndup(name, (size_t)(dot - name));

		if (!schema)
			return CS_ENOMEM;
		rc = store_append_ident(s, b, schema);
		free(schema);
		if (rc || (rc = buf_appends(b, ".")))
			return rc;
		name = dot + 1;
	}
	q = PQescapeIdentifier(s->conn, name, strlen(name));
	if (!q)
		return CS_ENOMEM;
	rc = buf_appends(b, q);
	PQfreemem(q);
	return rc;
}

int store_local_read(struct store *s, const struct map_entity *e,
		     const char *local_key, struct record **out)
{
	struct buf sql;
	const char *p[] = { local_key };
	PGresult *r = NULL;
	int rc = CS_ENOMEM;

	*out = NULL;
	buf_init(&sql, 64 * 1024);
	if (buf_appends(&sql, "SELECT "))
		goto out;
	for (size_t i = 0; i < e->nfields; i++) {
		if ((i && buf_appends(&sql, ", ")) ||
		    store_append_ident(s, &sql, e->fields[i].local_col) ||
		    buf_appends(&sql, "::text"))
			goto out;
	}
	if (buf_appends(&sql, " FROM ") || store_append_ident(s, &sql, e->local_table) ||
	    buf_appends(&sql, " WHERE ") || store_append_ident(s, &sql, e->local_key) ||
	    buf_appends(&sql, " = $1"))
		goto out;
	rc = CS_EIO;
	r = store_exec(s, "local_read", sql.data, 1, p);
	if (!r)
		goto out;
	rc = CS_ENOTFOUND;
	if (PQntuples(r) != 1)
		goto out;
	rc = CS_ENOMEM;
	*out = record_new(e);
	if (!*out)
		goto out;
	for (size_t i = 0; i < e->nfields; i++) {
		char *raw, err[256];

		if (PQgetisnull(r, 0, (int)i))
			continue;
		raw = PQgetvalue(r, 0, (int)i);
		rc = codec_value_decode(&e->fields[i], SIDE_LOCAL, &raw, 1,
					&(*out)->vals[i], err, sizeof(err));
		if (rc) {
			log_warn("local_value_invalid", "entity=%s key=%s "
				 "problem=\"%s\"", e->name, local_key, err);
			goto out;
		}
	}
	rc = CS_OK;
out:
	if (rc) {
		record_free(*out);
		*out = NULL;
	}
	PQclear(r);
	buf_free(&sql);
	return rc;
}

/* The provider-side values of the fields that may flow there (when old is
 * non-NULL, only those that changed), one per column: codes translated,
 * dates formatted, lists and split names joined. */
struct local_vals {
	size_t field[MAPPING_MAX_FIELDS];
	char *val[MAPPING_MAX_FIELDS];
	int n;
};

static void local_vals_free(struct local_vals *lv)
{
	for (int i = 0; i < lv->n; i++)
		free(lv->val[i]);
	lv->n = 0;
}

static int local_vals(const struct map_entity *e, const struct record *old,
		      const struct record *rec, struct local_vals *lv)
{
	lv->n = 0;
	for (size_t i = 0; i < e->nfields; i++) {
		const struct map_field *f = &e->fields[i];
		char **vals, err[256];
		size_t n;
		int skip, rc, changed = !old || !record_field_equal(old, rec, i);

		if (!mapping_field_flows_to(f, SIDE_LOCAL))
			continue;
		if (f->local_x.split_part != PART_NONE && old)
			/* Either half changing rewrites the joined column. */
			for (size_t j = 0; j < e->nfields; j++)
				if (j != i && !strcmp(e->fields[j].local_col,
						      f->local_col))
					changed |= !record_field_equal(old, rec, j);
		if (!changed)
			continue;
		rc = codec_value_encode_joined(rec, i, SIDE_LOCAL, &vals, &n,
					       &skip, err, sizeof(err));
		if (rc) {
			log_warn("local_value_unencodable", "entity=%s "
				 "problem=\"%s\"", e->name, err);
			local_vals_free(lv);
			return rc;
		}
		if (!skip) {
			lv->field[lv->n] = i;
			lv->val[lv->n++] = n ? vals[0] : NULL;
			if (n)
				vals[0] = NULL;
		}
		codec_vals_free(vals, n);
	}
	return CS_OK;
}

int store_local_insert(struct store *s, const struct map_entity *e,
		       const struct record *rec, char **local_key)
{
	return store_local_insert_under(s, e, NULL, rec, local_key);
}

int store_local_insert_under(struct store *s, const struct map_entity *e,
			     const char *parent_key, const struct record *rec,
			     char **local_key)
{
	struct buf sql;
	const char *params[MAPPING_MAX_FIELDS + 1];
	struct local_vals lv;
	int n = 0, rc;

	*local_key = NULL;
	if ((rc = local_vals(e, NULL, rec, &lv)))
		return rc;
	rc = CS_ENOMEM;
	buf_init(&sql, 64 * 1024);
	if (buf_appends(&sql, "INSERT INTO ") ||
	    store_append_ident(s, &sql, e->local_table) || buf_appends(&sql, " ("))
		goto out;
	for (n = 0; n < lv.n; n++) {
		if ((n && buf_appends(&sql, ", ")) ||
		    store_append_ident(s, &sql, e->fields[lv.field[n]].local_col))
			goto out;
		params[n] = lv.val[n];
	}
	if (parent_key && e->local_parent_col) {
		if ((n && buf_appends(&sql, ", ")) ||
		    store_append_ident(s, &sql, e->local_parent_col))
			goto out;
		params[n++] = parent_key;
	}
	if (buf_appends(&sql, ") VALUES ("))
		goto out;
	for (int i = 0; i < n; i++)
		if ((i && buf_appends(&sql, ", ")) || buf_printf(&sql, "$%d", i + 1))
			goto out;
	if (buf_appends(&sql, ") RETURNING ") ||
	    store_append_ident(s, &sql, e->local_key) || buf_appends(&sql, "::text"))
		goto out;
	rc = get_one(s, "local_insert", sql.data, n, params, local_key);
	if (rc == CS_OK && !*local_key)
		rc = CS_EIO;
out:
	local_vals_free(&lv);
	buf_free(&sql);
	return rc;
}

/* Decodes row i of r (the entity's fields, in order, from column off) into
 * a record. */
static int row_record(const struct map_entity *e, PGresult *r, int row,
		      int off, struct record **out)
{
	*out = record_new(e);
	if (!*out)
		return CS_ENOMEM;
	for (size_t i = 0; i < e->nfields; i++) {
		char *raw, err[256];
		int rc;

		if (PQgetisnull(r, row, off + (int)i))
			continue;
		raw = PQgetvalue(r, row, off + (int)i);
		rc = codec_value_decode(&e->fields[i], SIDE_LOCAL, &raw, 1,
					&(*out)->vals[i], err, sizeof(err));
		if (rc) {
			log_warn("local_value_invalid", "entity=%s problem=\"%s\"",
				 e->name, err);
			record_free(*out);
			*out = NULL;
			return rc;
		}
	}
	return CS_OK;
}

int store_local_children(struct store *s, const struct map_entity *e,
			 const char *parent_key, struct local_row **out,
			 size_t *n)
{
	struct buf sql;
	const char *p[] = { parent_key };
	PGresult *r = NULL;
	int rc = CS_ENOMEM;

	*out = NULL;
	*n = 0;
	if (!e->local_parent_col)
		return CS_EINVAL;
	buf_init(&sql, 64 * 1024);
	if (buf_appends(&sql, "SELECT ") || store_append_ident(s, &sql, e->local_key) ||
	    buf_appends(&sql, "::text"))
		goto out;
	for (size_t i = 0; i < e->nfields; i++)
		if (buf_appends(&sql, ", ") ||
		    store_append_ident(s, &sql, e->fields[i].local_col) ||
		    buf_appends(&sql, "::text"))
			goto out;
	if (buf_appends(&sql, " FROM ") || store_append_ident(s, &sql, e->local_table) ||
	    buf_appends(&sql, " WHERE ") ||
	    store_append_ident(s, &sql, e->local_parent_col) ||
	    buf_appends(&sql, "::text = $1 ORDER BY ") ||
	    store_append_ident(s, &sql, e->local_key))
		goto out;
	rc = CS_EIO;
	r = store_exec(s, "local_children", sql.data, 1, p);
	if (!r)
		goto out;
	rc = CS_ENOMEM;
	*out = calloc((size_t)PQntuples(r) + 1, sizeof(**out));
	if (!*out)
		goto out;
	for (int i = 0; i < PQntuples(r); i++) {
		struct local_row *row = &(*out)[i];

		row->key = cs_strdup(PQgetvalue(r, i, 0));
		if (!row->key)
			goto out;
		(*n)++;
		if ((rc = row_record(e, r, i, 1, &row->rec)))
			goto out;
		rc = CS_ENOMEM;
	}
	rc = CS_OK;
out:
	if (rc) {
		store_local_rows_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	PQclear(r);
	buf_free(&sql);
	return rc;
}

void store_local_rows_free(struct local_row *rows, size_t n)
{
	for (size_t i = 0; rows && i < n; i++) {
		free(rows[i].key);
		record_free(rows[i].rec);
	}
	free(rows);
}

int store_local_find(struct store *s, const struct map_entity *e,
		     const struct record *rec, char **local_key, int *many)
{
	struct buf sql;
	const char *params[MAPPING_MAX_KEYS];
	char *own[MAPPING_MAX_KEYS] = { 0 };
	PGresult *r = NULL;
	int rc = CS_ENOMEM;

	*local_key = NULL;
	*many = 0;
	if (e->nmatch == 0)
		return CS_OK;
	buf_init(&sql, 64 * 1024);
	if (buf_appends(&sql, "SELECT ") || store_append_ident(s, &sql, e->local_key) ||
	    buf_appends(&sql, "::text FROM ") ||
	    store_append_ident(s, &sql, e->local_table) || buf_appends(&sql, " WHERE "))
		goto out;
	for (size_t k = 0; k < e->nmatch; k++) {
		size_t fi = e->match[k];
		char **vals, err[256];
		size_t nv;
		int skip;

		rc = codec_value_encode_joined(rec, fi, SIDE_LOCAL, &vals, &nv,
					       &skip, err, sizeof(err));
		if (rc)
			goto out;
		own[k] = nv ? vals[0] : NULL;
		if (nv)
			vals[0] = NULL;
		codec_vals_free(vals, nv);
		rc = CS_OK;
		if (!own[k])	/* an absent match key matches nothing */
			goto out;
		params[k] = own[k];
		rc = CS_ENOMEM;
		if ((k && buf_appends(&sql, " AND ")) ||
		    store_append_ident(s, &sql, e->fields[fi].local_col) ||
		    buf_printf(&sql, "::text = $%zu", k + 1))
			goto out;
	}
	if (buf_appends(&sql, " LIMIT 2"))
		goto out;
	rc = CS_EIO;
	r = store_exec(s, "local_find", sql.data, (int)e->nmatch, params);
	if (!r)
		goto out;
	rc = CS_OK;
	if (PQntuples(r) > 1)
		*many = 1;
	else if (PQntuples(r) == 1 && !(*local_key = cs_strdup(PQgetvalue(r, 0, 0))))
		rc = CS_ENOMEM;
out:
	for (size_t k = 0; k < e->nmatch; k++)
		free(own[k]);
	PQclear(r);
	buf_free(&sql);
	return rc;
}

int store_local_update(struct store *s, const struct map_entity *e,
		       const char *local_key, const struct record *old,
		       const struct record *rec)
{
	struct buf sql;
	const char *params[MAPPING_MAX_FIELDS + 1];
	struct local_vals lv;
	int n = 0, rc;

	if ((rc = local_vals(e, old, rec, &lv)))
		return rc;
	rc = CS_ENOMEM;
	buf_init(&sql, 64 * 1024);
	if (buf_appends(&sql, "UPDATE ") || store_append_ident(s, &sql, e->local_table) ||
	    buf_appends(&sql, " SET "))
		goto out;
	for (n = 0; n < lv.n; n++) {
		if ((n && buf_appends(&sql, ", ")) ||
		    store_append_ident(s, &sql, e->fields[lv.field[n]].local_col) ||
		    buf_printf(&sql, " = $%d", n + 1))
			goto out;
		params[n] = lv.val[n];
	}
	rc = CS_OK;
	if (n == 0)
		goto out;
	params[n] = local_key;
	if (buf_appends(&sql, " WHERE ") || store_append_ident(s, &sql, e->local_key) ||
	    buf_printf(&sql, " = $%d", n + 1)) {
		rc = CS_ENOMEM;
		goto out;
	}
	rc = store_run(s, "local_update", sql.data, n + 1, params);
out:
	local_vals_free(&lv);
	buf_free(&sql);
	return rc;
}

/* Deletes one provider row and, first, the rows of its nested collections
 * (children before parents, so foreign keys hold). */
int store_local_delete(struct store *s, const struct map_entity *e,
		       const char *local_key)
{
	struct buf sql;
	const char *p[] = { local_key };
	PGresult *r;
	int rc = CS_OK;

	for (size_t ci = 0; ci < e->nchildren && rc == CS_OK; ci++) {
		const struct map_entity *ce = e->children[ci];
		struct local_row *rows = NULL;
		size_t n = 0;

		if (!ce->local_parent_col)
			continue;
		rc = store_local_children(s, ce, local_key, &rows, &n);
		for (size_t i = 0; i < n && rc == CS_OK; i++)
			rc = store_local_delete(s, ce, rows[i].key);
		store_local_rows_free(rows, n);
	}
	if (rc)
		return rc;
	buf_init(&sql, 4096);
	rc = CS_ENOMEM;
	if (buf_appends(&sql, "DELETE FROM ") ||
	    store_append_ident(s, &sql, e->local_table) ||
	    buf_appends(&sql, " WHERE ") || store_append_ident(s, &sql, e->local_key) ||
	    buf_appends(&sql, "::text = $1"))
		goto out;
	rc = CS_EIO;
	r = store_exec(s, "local_delete", sql.data, 1, p);
	if (r) {
		rc = CS_OK;
		PQclear(r);
	}
out:
	buf_free(&sql);
	return rc;
}

int store_local_modified(struct store *s, const struct map_entity *e,
			 const char *local_key, char **ts)
{
	struct buf sql;
	const char *p[] = { local_key };
	int rc = CS_ENOMEM;

	*ts = NULL;
	if (!e->local_modified_col)
		return CS_OK;
	buf_init(&sql, 4096);
	if (buf_appends(&sql, "SELECT to_char(") ||
	    store_append_ident(s, &sql, e->local_modified_col) ||
	    buf_appends(&sql, " AT TIME ZONE 'UTC', "
			"'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') FROM ") ||
	    store_append_ident(s, &sql, e->local_table) ||
	    buf_appends(&sql, " WHERE ") || store_append_ident(s, &sql, e->local_key) ||
	    buf_appends(&sql, "::text = $1"))
		goto out;
	rc = get_one(s, "local_modified", sql.data, 1, p, ts);
out:
	buf_free(&sql);
	return rc;
}

int store_xact_lock(struct store *s, const char *entity, const char *local_key)
{
	const char *p[] = { entity, local_key };

	/* Two daemons never settle the same record at once. */
	return store_run(s, "record_lock",
			 "SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))",
			 2, p);
}

int store_try_lock(struct store *s, const char *space, const char *name,
		   int *got)
{
	const char *p[] = { space, name };
	PGresult *r = store_exec(s, "try_lock",
				 "SELECT pg_try_advisory_lock(hashtext($1), "
				 "hashtext($2))", 2, p);

	*got = 0;
	if (!r)
		return CS_EIO;
	*got = PQgetvalue(r, 0, 0)[0] == 't';
	PQclear(r);
	return CS_OK;
}

int store_lock_shared(struct store *s, const char *space, const char *name)
{
	const char *p[] = { space, name };

	return store_run(s, "lock_shared",
			 "SELECT pg_advisory_lock_shared(hashtext($1), hashtext($2))",
			 2, p);
}

void store_unlock_shared(struct store *s, const char *space, const char *name)
{
	const char *p[] = { space, name };

	PQclear(store_exec(s, "unlock_shared",
			   "SELECT pg_advisory_unlock_shared(hashtext($1), "
			   "hashtext($2))", 2, p));
}

void store_unlock(struct store *s, const char *space, const char *name)
{
	const char *p[] = { space, name };

	PQclear(store_exec(s, "unlock",
			   "SELECT pg_advisory_unlock(hashtext($1), hashtext($2))",
			   2, p));
}

/* Folding is done in slices of about COLLECT_KEYS keys, each in a short
 * transaction of its own; rows of transactions still open stay for the
 * next call. A slice that folds nothing (empty log, or another daemon
 * folding) ends the loop. */
#define COLLECT_KEYS "50000"
#define COLLECT_MAX_SLICES 200

int store_changes_collect(struct store *s, long *folded)
{
	*folded = 0;
	for (int i = 0; i < COLLECT_MAX_SLICES; i++) {
		PGresult *r = store_exec(s, "changes_collect",
					 "SELECT folded, array_to_string(truncated, ' ') "
					 "FROM casesync.collect_changes(" COLLECT_KEYS ")",
					 0, NULL);
		long long n = 0;

		if (!r)
			return CS_EIO;
		if (cs_parse_int64(PQgetvalue(r, 0, 0), 0, 1000000, &n)) {
			PQclear(r);
			return CS_EIO;
		}
		if (*PQgetvalue(r, 0, 1))
			/* Entity names come from the mappings, not from data. */
			log_warn("local_truncate", "entities=\"%s\" action=\"not sent "
				 "to the council; records stay there\"",
				 PQgetvalue(r, 0, 1));
		PQclear(r);
		*folded += (long)n;
		if (n == 0)
			break;
	}
	return CS_OK;
}

/* The changes of a query returning local_key, seq, op = 'D', first_seq
 * (r is cleared). */
static int changes_read(PGresult *r, struct local_change **out, size_t *n)
{
	int rc = CS_OK;

	*out = NULL;
	*n = 0;
	if (!r)
		return CS_EIO;
	*out = calloc((size_t)PQntuples(r) + 1, sizeof(**out));
	if (!*out) {
		PQclear(r);
		return CS_ENOMEM;
	}
	for (int i = 0; i < PQntuples(r); i++) {
		struct local_change *c = &(*out)[i];

		c->local_key = cs_strdup(PQgetvalue(r, i, 0));
		c->deleted = PQgetvalue(r, i, 2)[0] == 't';
		if (!c->local_key ||
		    cs_parse_int64(PQgetvalue(r, i, 1), 0, 9223372036854775807LL,
				   &c->last_id) ||
		    cs_parse_int64(PQgetvalue(r, i, 3), 0, 9223372036854775807LL,
				   &c->first_seq)) {
			free(c->local_key);
			rc = CS_ENOMEM;
			break;
		}
		(*n)++;
	}
	PQclear(r);
	if (rc) {
		store_changes_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

int store_changes_pending(struct store *s, const char *entity, long limit,
			  struct local_change **out, size_t *n)
{
	char lim[32];
	const char *p[] = { entity, lim };

	snprintf(lim, sizeof(lim), "%ld", limit);
	return changes_read(store_exec(s, "changes_pending",
				       "SELECT local_key, seq, op = 'D', first_seq "
				       "FROM casesync.change_pending WHERE entity = $1 "
				       "AND op <> 'D' ORDER BY first_seq LIMIT $2",
				       2, p), out, n);
}

void store_changes_free(struct local_change *c, size_t n)
{
	for (size_t i = 0; c && i < n; i++)
		free(c[i].local_key);
	free(c);
}

int store_changes_consume(struct store *s, const char *entity,
			  const char *local_key, long long last_id)
{
	char id[32];
	const char *p[] = { entity, local_key, id };

	snprintf(id, sizeof(id), "%lld", last_id);
	/* A change folded in after the key was read raised seq: it stays. */
	return store_run(s, "changes_consume",
			 "DELETE FROM casesync.change_pending WHERE entity = $1 "
			 "AND local_key = $2 AND seq <= $3", 3, p);
}

static int change_cmp(const void *a, const void *b)
{
	const struct local_change *x = a, *y = b;

	return (x->first_seq > y->first_seq) - (x->first_seq < y->first_seq);
}

int store_changes_claim(struct store *s, const char *entity,
			const char *instance, long long cycle, long limit,
			long lease_s, struct local_change **out, size_t *n)
{
	char lim[32], lease[32], cyc[32];
	const char *p[] = { entity, instance, lim, lease, cyc };
	PGresult *r;
	int rc = CS_OK;

	*out = NULL;
	*n = 0;
	snprintf(lim, sizeof(lim), "%ld", limit);
	snprintf(lease, sizeof(lease), "%ld", lease_s);
	snprintf(cyc, sizeof(cyc), "%lld", cycle);
	/* Rows nobody holds, rows whose holder's lease ran out, and this
	 * instance's own (after a restart); never a record held for a
	 * person. SKIP LOCKED: two claimers take disjoint rows at once. */
	r = store_exec(s, "changes_claim",
		       "WITH c AS (SELECT p.local_key FROM casesync.change_pending p "
		       "WHERE p.entity = $1 AND (p.claimed_until IS NULL OR "
		       "p.claimed_until < now() OR (p.claimed_by = $2 AND "
		       "p.claim_cycle IS DISTINCT FROM $5::bigint)) "
		       "AND NOT EXISTS (SELECT 1 FROM casesync.conflicts f "
		       "WHERE f.entity = p.entity AND f.local_key = p.local_key "
		       "AND f.status IN ('open', 'resolved')) "
		       "ORDER BY p.first_seq LIMIT $3 FOR UPDATE SKIP LOCKED) "
		       "UPDATE casesync.change_pending p SET claimed_by = $2, "
		       "claimed_until = now() + $4 * interval '1 second', "
		       "claim_cycle = $5::bigint FROM c "
		       "WHERE p.entity = $1 AND p.local_key = c.local_key "
		       "RETURNING p.local_key, p.seq, p.op = 'D', p.first_seq",
		       5, p);
	rc = changes_read(r, out, n);
	if (rc)
		return rc;
	qsort(*out, *n, sizeof(**out), change_cmp);
	return CS_OK;
}

int store_change_enqueue(struct store *s, const char *entity,
			 const char *local_key)
{
	const char *p[] = { entity, local_key };

	/* As capture would fold it: a pending update of the whole record. */
	return store_run(s, "change_enqueue",
			 "INSERT INTO casesync.change_pending AS p (entity, local_key, "
			 "op, columns, first_seq, seq, first_txid, first_at) VALUES "
			 "($1, $2, 'U', NULL, nextval('casesync.change_pending_seq'), "
			 "currval('casesync.change_pending_seq'), pg_current_xact_id(), "
			 "now()) ON CONFLICT (entity, local_key) DO UPDATE SET "
			 "columns = NULL, seq = EXCLUDED.seq", 2, p);
}

int store_change_seq(struct store *s, const char *entity, const char *local_key,
		     long long *seq)
{
	const char *p[] = { entity, local_key };
	char *v = NULL;
	int rc = get_one(s, "change_seq",
			 "SELECT seq FROM casesync.change_pending WHERE entity = $1 "
			 "AND local_key = $2", 2, p, &v);

	*seq = 0;
	if (rc == CS_OK && v &&
	    cs_parse_int64(v, 0, 9223372036854775807LL, seq))
		rc = CS_EIO;
	free(v);
	return rc;
}

void store_outbox_row_clear(struct outbox_row *o)
{
	free(o->op);
	free(o->remote_id);
	free(o->if_match);
	free(o->idem);
	free(o->body);
	free(o->owner);
	free(o->local_snapshot);
	memset(o, 0, sizeof(*o));
}

int store_outbox_get(struct store *s, const char *entity, const char *local_key,
		     struct outbox_row *o, int *found)
{
	const char *p[] = { entity, local_key };
	PGresult *r;
	char **slot[] = { &o->op, &o->remote_id, &o->if_match, &o->idem,
			  &o->body, &o->local_snapshot };

	memset(o, 0, sizeof(*o));
	*found = 0;
	r = store_exec(s, "outbox_get",
		       "SELECT op, remote_id, if_match, idempotency_key, body, "
		       "local_snapshot::text FROM casesync.outbox WHERE entity = $1 "
		       "AND local_key = $2 AND status = 'pending'", 2, p);
	if (!r)
		return CS_EIO;
	if (PQntuples(r) == 1) {
		*found = 1;
		for (int i = 0; i < 6; i++) {
			if (PQgetisnull(r, 0, i))
				continue;
			if (!(*slot[i] = cs_strdup(PQgetvalue(r, 0, i)))) {
				PQclear(r);
				store_outbox_row_clear(o);
				*found = 0;
				return CS_ENOMEM;
			}
		}
	}
	PQclear(r);
	return CS_OK;
}

int store_outbox_put(struct store *s, const char *entity, const char *local_key,
		     const struct outbox_row *o)
{
	const char *p[] = { entity, local_key, o->op, o->remote_id, o->if_match,
			    o->idem, o->body ? o->body : "", o->owner,
			    o->local_snapshot };

	/* One request in flight per record: a new one (after a 412, say)
	 * replaces the one that is known not to have been applied. */
	return store_run(s, "outbox_put",
			 "INSERT INTO casesync.outbox (entity, local_key, op, "
			 "remote_id, if_match, idempotency_key, body, claimed_by, "
			 "local_snapshot) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
			 "$9::jsonb) ON CONFLICT (entity, local_key) WHERE "
			 "status = 'pending' DO UPDATE SET op = EXCLUDED.op, "
			 "remote_id = EXCLUDED.remote_id, "
			 "if_match = EXCLUDED.if_match, "
			 "idempotency_key = EXCLUDED.idempotency_key, "
			 "body = EXCLUDED.body, claimed_by = EXCLUDED.claimed_by, "
			 "local_snapshot = EXCLUDED.local_snapshot, "
			 "attempts = 0, created_at = now()", 9, p);
}

int store_outbox_done(struct store *s, const char *entity,
		      const char *local_key, int failed)
{
	const char *p[] = { entity, local_key };

	return failed ?
		store_run(s, "outbox_failed",
			  "UPDATE casesync.outbox SET status = 'failed' WHERE "
			  "entity = $1 AND local_key = $2 AND status = 'pending'",
			  2, p) :
		store_run(s, "outbox_done",
			  "DELETE FROM casesync.outbox WHERE entity = $1 AND "
			  "local_key = $2 AND status = 'pending'", 2, p);
}

/* Appends one element to a PostgreSQL array literal, quoted. */
static int array_add(struct buf *b, const char *v, int *first)
{
	int rc = buf_appends(b, *first ? "\"" : ",\"");

	*first = 0;
	for (const char *c = v; *c; c++) {
		if (*c == '"' || *c == '\\')
			rc |= buf_appends(b, "\\");
		rc |= buf_append(b, c, 1);
	}
	return rc | buf_appends(b, "\"");
}

static char *array_end(struct buf *b, int rc)
{
	rc |= buf_appends(b, "}");
	if (rc) {
		buf_free(b);
		return NULL;
	}
	return buf_take(b);
}

/* Columns of an entity's table as a PostgreSQL array literal (a
 * parameter, never SQL text), each once, without the key: all mapped ones,
 * or only those the daemon writes (fields that flow to the provider, and
 * the parent key of a nested collection). */
static char *capture_columns(const struct map_entity *e, int writable)
{
	struct buf b;
	int first = 1, rc;

	buf_init(&b, 64 * 1024);
	rc = buf_appends(&b, "{");
	for (size_t i = 0; i <= e->nfields; i++) {
		const char *col = i < e->nfields ? e->fields[i].local_col :
						   e->local_parent_col;
		int seen = 0;

		if (!col || !strcmp(col, e->local_key))
			continue;
		if (writable && i < e->nfields && e->fields[i].dir == DIR_PUSH)
			continue;
		for (size_t j = 0; j < i && j < e->nfields; j++)
			if (e->fields[j].local_col &&
			    !strcmp(e->fields[j].local_col, col) &&
			    !(writable && e->fields[j].dir == DIR_PUSH))
				seen = 1;
		if (!seen)
			rc |= array_add(&b, col, &first);
	}
	return array_end(&b, rc);
}

/* What the daemon needs beyond the mapped columns: DELETE, for a council
 * deletion applied to the provider (tombstones), and reading the
 * modification time of a record for the newest policy (not compared by
 * capture: it moves with every write). */
static int grant_more(struct store *s, const struct map_entity *e)
{
	struct buf sql;
	int rc = CS_ENOMEM;

	buf_init(&sql, 4096);
	if (buf_appends(&sql, "GRANT DELETE ON ") ||
	    store_append_ident(s, &sql, e->local_table) ||
	    buf_appends(&sql, " TO casesync_daemon"))
		goto out;
	if ((rc = store_run(s, "grant_delete", sql.data, 0, NULL)) ||
	    !e->local_modified_col)
		goto out;
	buf_reset(&sql);
	rc = CS_ENOMEM;
	if (buf_appends(&sql, "GRANT SELECT (") ||
	    store_append_ident(s, &sql, e->local_modified_col) ||
	    buf_appends(&sql, ") ON ") || store_append_ident(s, &sql, e->local_table) ||
	    buf_appends(&sql, " TO casesync_daemon, casesync_datalead"))
		goto out;
	rc = store_run(s, "grant_modified", sql.data, 0, NULL);
out:
	buf_free(&sql);
	return rc;
}

int store_install_capture(struct store *s, const struct map_entity *e,
			  int *changed)
{
	char *cols = capture_columns(e, 0), *wr = capture_columns(e, 1);
	const char *p[] = { e->local_table, e->name, e->local_key, cols, wr };
	PGresult *r = NULL;

	if (cols && wr)
		r = store_exec(s, "install_capture",
			       "SELECT casesync.install_capture($1::regclass, $2, $3, "
			       "$4::text[], $5::text[])", 5, p);
	free(cols);
	free(wr);
	if (!r)
		return cols && wr ? CS_EIO : CS_ENOMEM;
	*changed = strcmp(PQgetvalue(r, 0, 0), "unchanged") != 0;
	PQclear(r);
	return grant_more(s, e);
}

int store_remove_capture(struct store *s, const char *table)
{
	const char *p[] = { table };

	return store_run(s, "remove_capture",
			 "SELECT casesync.remove_capture($1::regclass)", 1, p);
}

int store_captures_stale(struct store *s, const struct mapping_set *set,
			 struct capture_info **out, size_t *n)
{
	struct buf tb, eb;
	int tf = 1, ef = 1, rc;
	char *tables, *entities;
	PGresult *r;

	*out = NULL;
	*n = 0;
	buf_init(&tb, 1024 * 1024);
	buf_init(&eb, 1024 * 1024);
	rc = buf_appends(&tb, "{") | buf_appends(&eb, "{");
	for (size_t i = 0; i < set->nentities; i++) {
		rc |= array_add(&tb, set->entities[i].local_table, &tf);
		rc |= array_add(&eb, set->entities[i].name, &ef);
	}
	tables = array_end(&tb, rc);
	entities = array_end(&eb, rc);
	if (!tables || !entities) {
		free(tables);
		free(entities);
		return CS_ENOMEM;
	}
	{
		const char *p[] = { tables, entities };

		r = store_exec(s, "captures_stale",
			       "SELECT c.tbl::oid::text, c.entity, coalesce((SELECT "
			       "c.tbl::text FROM pg_catalog.pg_class k WHERE k.oid = "
			       "c.tbl), 'a dropped table') FROM casesync.capture c "
			       "WHERE NOT EXISTS (SELECT 1 FROM unnest($1::text[], "
			       "$2::text[]) AS m(t, e) WHERE to_regclass(m.t) = c.tbl "
			       "AND m.e = c.entity) ORDER BY 1", 2, p);
	}
	free(tables);
	free(entities);
	if (!r)
		return CS_EIO;
	*out = calloc((size_t)PQntuples(r) + 1, sizeof(**out));
	if (!*out) {
		PQclear(r);
		return CS_ENOMEM;
	}
	for (int i = 0; i < PQntuples(r); i++) {
		(*out)[i].table = cs_strdup(PQgetvalue(r, i, 0));
		(*out)[i].entity = cs_strdup(PQgetvalue(r, i, 1));
		(*out)[i].label = cs_strdup(PQgetvalue(r, i, 2));
		(*n)++;
		if (!(*out)[i].table || !(*out)[i].entity || !(*out)[i].label) {
			PQclear(r);
			store_captures_free(*out, *n);
			*out = NULL;
			*n = 0;
			return CS_ENOMEM;
		}
	}
	PQclear(r);
	return CS_OK;
}

void store_captures_free(struct capture_info *c, size_t n)
{
	for (size_t i = 0; c && i < n; i++) {
		free(c[i].table);
		free(c[i].entity);
		free(c[i].label);
	}
	free(c);
}

int store_capture_check(struct store *s, const struct map_entity *e,
			char *err, size_t errsz)
{
	char *cols = capture_columns(e, 0), *wr = capture_columns(e, 1);
	const char *p[] = { e->local_table, e->name, e->local_key, cols, wr };
	PGresult *r = NULL;
	int rc = CS_OK;

	/* Same table, entity, key and columns (as sets), and the four
	 * triggers present, firing (not disabled, not replica-only) and
	 * calling the registered function. */
	if (cols && wr)
		r = store_exec(s, "capture_check",
			       "SELECT to_regclass($1) IS NOT NULL, "
			       " EXISTS (SELECT 1 FROM casesync.capture c "
			       "  WHERE c.tbl = to_regclass($1) AND c.entity = $2 "
			       "  AND c.key_column = $3 "
			       "  AND c.columns @> $4::text[] AND c.columns <@ $4::text[] "
			       "  AND c.writable @> $5::text[] AND c.writable <@ $5::text[]), "
			       " (SELECT count(*) FROM pg_catalog.pg_trigger t "
			       "  JOIN casesync.capture c ON c.tbl = t.tgrelid "
			       "  WHERE t.tgrelid = to_regclass($1) AND NOT t.tgisinternal "
			       "  AND t.tgname LIKE 'casesync\\_capture\\_%' "
			       "  AND t.tgenabled IN ('O', 'A') "
			       "  AND t.tgfoid = to_regprocedure('casesync.' || "
			       "      quote_ident(c.function_name) || '()')) = 4",
			       5, p);
	free(cols);
	free(wr);
	if (!r)
		return cols && wr ? CS_EIO : CS_ENOMEM;
	if (PQgetvalue(r, 0, 0)[0] != 't') {
		snprintf(err, errsz, "table %s of entity %s does not exist",
			 e->local_table, e->name);
		rc = CS_EINVAL;
	} else if (PQgetvalue(r, 0, 1)[0] != 't') {
		snprintf(err, errsz, "change capture on %s is missing or was "
			 "installed for other mappings (entity %s): run "
			 "'casesync migrate'", e->local_table, e->name);
		rc = CS_EINVAL;
	} else if (PQgetvalue(r, 0, 2)[0] != 't') {
		snprintf(err, errsz, "change capture triggers on %s are missing "
			 "or disabled: run 'casesync migrate'", e->local_table);
		rc = CS_EINVAL;
	}
	PQclear(r);
	return rc;
}

int store_check_role(struct store *s, char *err, size_t errsz)
{
	/* Attributes are not inherited, privileges are: a member of a role
	 * that bypasses grants, or of an owner, is as powerful as it. */
	PGresult *r = store_exec(s, "check_role",
		"SELECT r.rolsuper, r.rolbypassrls, "
		" EXISTS (SELECT 1 FROM pg_catalog.pg_roles a "
		"  WHERE (a.rolsuper OR a.rolbypassrls) AND a.oid <> r.oid "
		"  AND pg_has_role(r.oid, a.oid, 'MEMBER')), "
		" EXISTS (SELECT 1 FROM pg_catalog.pg_roles a "
		"  WHERE a.rolname IN ('pg_read_all_data', 'pg_write_all_data') "
		"  AND pg_has_role(r.oid, a.oid, 'MEMBER')), "
		" pg_has_role(r.oid, n.nspowner, 'MEMBER') OR EXISTS (SELECT 1 "
		"  FROM casesync.capture c JOIN pg_catalog.pg_class k ON k.oid = c.tbl "
		"  WHERE pg_has_role(r.oid, k.relowner, 'MEMBER')), "
		" current_user "
		"FROM pg_catalog.pg_roles r, pg_catalog.pg_namespace n "
		"WHERE r.rolname = current_user AND n.nspname = 'casesync'", 0, NULL);
	const char *why = NULL;

	if (!r)
		return CS_EIO;
	if (PQntuples(r) != 1)
		why = "cannot be checked";
	else if (PQgetvalue(r, 0, 0)[0] == 't')
		why = "is a superuser";
	else if (PQgetvalue(r, 0, 1)[0] == 't')
		why = "may bypass row-level security";
	else if (PQgetvalue(r, 0, 2)[0] == 't')
		why = "is a member of a superuser or BYPASSRLS role";
	else if (PQgetvalue(r, 0, 3)[0] == 't')
		why = "is a member of pg_read_all_data or pg_write_all_data";
	else if (PQgetvalue(r, 0, 4)[0] == 't')
		why = "owns (or is a member of the owner of) schema casesync or a "
		      "mapped table";
	if (why)
		snprintf(err, errsz, "database role %s %s; casesyncd runs as a "
			 "member of casesync_daemon (docs/database.md)",
			 PQntuples(r) == 1 ? PQgetvalue(r, 0, 5) : "?", why);
	PQclear(r);
	return why ? CS_EINVAL : CS_OK;
}
