/* cli_conflicts.c - `casesync conflicts list | show | resolve`: the data
 * leads' side of the conflict queue.
 *
 * A resolution is recorded here (who, why, what was chosen) with its audit
 * row in one transaction; the daemon applies it to both systems at its next
 * cycle. The person is the database role the command connects as. */
#include "cli_conflicts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "cli.h"
#include "diag.h"
#include "mapping.h"
#include "store.h"
#include "transform.h"

#define MAX_VALUES 64

struct cx {
	struct config *cfg;
	struct store *s;
	struct mapping_set *set;
};


static int cx_open(struct cx *x, const struct options *o, int with_mappings)
{
	memset(x, 0, sizeof(*x));
	if (!(x->cfg = options_load_config(o)))
		return 1;
	if (with_mappings) {
		struct diag d;

		diag_init(&d);
		x->set = mapping_set_load(x->cfg->mappings_dir, x->cfg->mappings_use,
					  &d);
		if (!x->set)
			diag_print(&d, stderr);
		diag_free(&d);
		if (!x->set)
			return 1;
	}
	return (x->s = cli_open_store(x->cfg, "casesync conflicts")) ? 0 : 1;
}

static void cx_close(struct cx *x)
{
	store_close(x->s);
	mapping_set_free(x->set);
	config_free(x->cfg);
}

/* "3d 4h", "5h 2m", "7m", "12s": an age a person reads at a glance. */
static void age_text(long long secs, char *out, size_t n)
{
	if (secs >= 86400)
		snprintf(out, n, "%lldd %lldh", secs / 86400, secs % 86400 / 3600);
	else if (secs >= 3600)
		snprintf(out, n, "%lldh %lldm", secs / 3600, secs % 3600 / 60);
	else if (secs >= 60)
		snprintf(out, n, "%lldm", secs / 60);
	else
		snprintf(out, n, "%llds", secs < 0 ? 0 : secs);
}

static int parse_format(const char *v, int *json)
{
	if (!strcmp(v, "text"))
		*json = 0;
	else if (!strcmp(v, "json"))
		*json = 1;
	else
		return -1;
	return 0;
}

static const char *const status_names[] = { "open", "resolved", "applied",
					    "all", NULL };

static int cmd_list(const struct options *o, int argc, char **argv)
{
	const char *entity = NULL, *status = "open";
	int json = 0, rc = 1, known = 0;
	struct cx x;
	PGresult *r;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--entity") && i + 1 < argc)
			entity = argv[++i];
		else if (!strcmp(argv[i], "--status") && i + 1 < argc)
			status = argv[++i];
		else if (!strcmp(argv[i], "--format") && i + 1 < argc &&
			 !parse_format(argv[i + 1], &json))
			i++;
		else {
			fprintf(stderr, "casesync conflicts list: unexpected argument "
				"'%s'\n", argv[i]);
			return 2;
		}
	}
	for (const char *const *n = status_names; *n; n++)
		known |= !strcmp(*n, status);
	if (!known) {
		fprintf(stderr, "casesync conflicts list: --status is open, "
			"resolved, applied or all\n");
		return 2;
	}
	if (cx_open(&x, o, 0))
		goto out;
	{
		const char *p[] = { entity, status };

		r = store_exec(x.s, "conflicts_list",
			       "SELECT id, entity, local_key, coalesce(remote_id, ''), "
			       "kind, status, extract(epoch FROM now() - opened_at)"
			       "::bigint, (SELECT coalesce(string_agg(k, ',' ORDER BY k), "
			       "'') FROM jsonb_object_keys(fields) AS k), "
			       "to_char(opened_at AT TIME ZONE 'UTC', "
			       "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
			       "FROM casesync.conflicts WHERE ($1::text IS NULL OR "
			       "entity = $1) AND ($2 = 'all' OR status = $2) "
			       "ORDER BY id", 2, p);
	}
	if (!r) {
		fprintf(stderr, "casesync: cannot read the conflict queue (is this "
			"role a member of casesync_datalead?)\n");
		goto out;
	}
	if (json) {
		json_t *a = json_array();

		for (int i = 0; a && i < PQntuples(r); i++)
			json_array_append_new(a, json_pack(
				"{s:I,s:s,s:s,s:s?,s:s,s:s,s:I,s:s,s:s}",
				"id", (json_int_t)atoll(PQgetvalue(r, i, 0)),
				"entity", PQgetvalue(r, i, 1),
				"local_key", PQgetvalue(r, i, 2),
				"remote_id", *PQgetvalue(r, i, 3) ?
					PQgetvalue(r, i, 3) : NULL,
				"kind", PQgetvalue(r, i, 4),
				"status", PQgetvalue(r, i, 5),
				"age_s", (json_int_t)atoll(PQgetvalue(r, i, 6)),
				"fields", PQgetvalue(r, i, 7),
				"opened_at", PQgetvalue(r, i, 8)));
		if (a)
			json_dumpf(a, stdout, JSON_INDENT(2));
		printf("\n");
		json_decref(a);
	} else {
		printf("%-6s %-12s %-12s %-12s %-15s %-9s %-8s %s\n", "ID", "ENTITY",
		       "LOCAL_KEY", "REMOTE_ID", "KIND", "STATUS", "AGE", "FIELDS");
		for (int i = 0; i < PQntuples(r); i++) {
			char age[32];

			age_text(atoll(PQgetvalue(r, i, 6)), age, sizeof(age));
			printf("%-6s %-12s %-12s %-12s %-15s %-9s %-8s %s\n",
			       PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
			       PQgetvalue(r, i, 2), *PQgetvalue(r, i, 3) ?
			       PQgetvalue(r, i, 3) : "-", PQgetvalue(r, i, 4),
			       PQgetvalue(r, i, 5), age, PQgetvalue(r, i, 7));
		}
		printf("%d conflict%s\n", PQntuples(r), PQntuples(r) == 1 ? "" : "s");
	}
	PQclear(r);
	rc = 0;
out:
	cx_close(&x);
	return rc;
}

/* One conflict row: id, entity, local_key, remote_id, kind, status,
 * fields, opened_at, resolved_by, reason, resolution, applied_at,
 * resolved_at. */
static PGresult *read_conflict(struct store *s, const char *id)
{
	const char *p[] = { id };

	return store_exec(s, "conflict_read",
			  "SELECT id, entity, local_key, coalesce(remote_id, ''), "
			  "kind, status, fields::text, "
			  "to_char(opened_at AT TIME ZONE 'UTC', "
			  "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), coalesce(resolved_by, ''), "
			  "coalesce(reason, ''), coalesce(resolution::text, ''), "
			  "coalesce(to_char(applied_at AT TIME ZONE 'UTC', "
			  "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), ''), "
			  "coalesce(to_char(resolved_at AT TIME ZONE 'UTC', "
			  "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '') "
			  "FROM casesync.conflicts WHERE id = $1::bigint", 1, p);
}

/* The conflict row of id (read_conflict), or NULL with the reason
 * printed. */
static PGresult *conflict_row(struct store *s, const char *id)
{
	PGresult *r = read_conflict(s, id);

	if (!r) {
		fprintf(stderr, "casesync: cannot read the conflict queue\n");
		return NULL;
	}
	if (PQntuples(r) != 1) {
		fprintf(stderr, "casesync: no conflict %s\n", id);
		PQclear(r);
		return NULL;
	}
	return r;
}

static int valid_id(const char *v)
{
	long long id;

	return cs_parse_int64(v, 1, 9223372036854775807LL, &id) == CS_OK;
}

static const char *jv(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_string(v) ? json_string_value(v) : "(none)";
}

static int cmd_show(const struct options *o, int argc, char **argv)
{
	const char *id = NULL;
	int json = 0, rc = 1;
	struct cx x;
	PGresult *r = NULL;
	json_t *fields = NULL;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--format") && i + 1 < argc &&
		    !parse_format(argv[i + 1], &json))
			i++;
		else if (!id && valid_id(argv[i]))
			id = argv[i];
		else {
			fprintf(stderr, "casesync conflicts show: unexpected argument "
				"'%s'\n", argv[i]);
			return 2;
		}
	}
	if (!id) {
		fprintf(stderr, "usage: casesync conflicts show ID [--format "
			"text|json]\n");
		return 2;
	}
	if (cx_open(&x, o, 0))
		goto out;
	if (!(r = conflict_row(x.s, id)))
		goto out;
	fields = json_loads(PQgetvalue(r, 0, 6), 0, NULL);
	if (json) {
		json_t *res = *PQgetvalue(r, 0, 10) ?
			json_loads(PQgetvalue(r, 0, 10), 0, NULL) : NULL;
		json_t *doc = json_pack("{s:I,s:s,s:s,s:s?,s:s,s:s,s:O?,s:s,s:s?,"
					"s:s?,s:o?,s:s?,s:s?}",
			"id", (json_int_t)atoll(id), "entity", PQgetvalue(r, 0, 1),
			"local_key", PQgetvalue(r, 0, 2),
			"remote_id", *PQgetvalue(r, 0, 3) ? PQgetvalue(r, 0, 3) : NULL,
			"kind", PQgetvalue(r, 0, 4), "status", PQgetvalue(r, 0, 5),
			"fields", fields, "opened_at", PQgetvalue(r, 0, 7),
			"resolved_by", *PQgetvalue(r, 0, 8) ? PQgetvalue(r, 0, 8) : NULL,
			"reason", *PQgetvalue(r, 0, 9) ? PQgetvalue(r, 0, 9) : NULL,
			"resolution", res,
			"resolved_at", *PQgetvalue(r, 0, 12) ? PQgetvalue(r, 0, 12) : NULL,
			"applied_at", *PQgetvalue(r, 0, 11) ? PQgetvalue(r, 0, 11) : NULL);

		if (doc)
			json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
		printf("\n");
		json_decref(doc);
	} else {
		const char *k;
		json_t *f;

		printf("conflict %s: %s %s (council id %s)\n", id,
		       PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2),
		       *PQgetvalue(r, 0, 3) ? PQgetvalue(r, 0, 3) : "-");
		printf("kind:     %s\nstatus:   %s\nopened:   %s\n",
		       !strcmp(PQgetvalue(r, 0, 4), "deleted_remote") ?
		       "the council deleted the record; the provider changed it" :
		       !strcmp(PQgetvalue(r, 0, 4), "deleted_local") ?
		       "the provider deleted the record; the council changed it" :
		       "both systems changed the same fields differently",
		       PQgetvalue(r, 0, 5), PQgetvalue(r, 0, 7));
		if (*PQgetvalue(r, 0, 8))
			printf("resolved: %s by %s: %s\n", PQgetvalue(r, 0, 12),
			       PQgetvalue(r, 0, 8), PQgetvalue(r, 0, 9));
		if (*PQgetvalue(r, 0, 11))
			printf("applied:  %s\n", PQgetvalue(r, 0, 11));
		printf("\n%-24s %-24s %-24s %s\n", "FIELD", "LAST AGREED", "PROVIDER",
		       "COUNCIL");
		json_object_foreach(fields, k, f)
			printf("%-24s %-24s %-24s %s\n", k, jv(f, "base"),
			       jv(f, "local"), jv(f, "remote"));
	}
	rc = 0;
out:
	json_decref(fields);
	PQclear(r);
	cx_close(&x);
	return rc;
}

/* --value FIELD=VALUE: the field must be one the conflict holds and the
 * value must be valid for its type and code list (stored canonical). */
static int add_value(const struct map_entity *e, json_t *fields, json_t *values,
		     const char *arg, const char *id)
{
	const char *eq = strchr(arg, '=');
	char name[128], err[256], *canon = NULL;
	int fi;

	if (!eq || eq == arg || (size_t)(eq - arg) >= sizeof(name)) {
		fprintf(stderr, "casesync conflicts resolve: --value takes "
			"FIELD=VALUE\n");
		return 2;
	}
	memcpy(name, arg, (size_t)(eq - arg));
	name[eq - arg] = '\0';
	if (!json_object_get(fields, name) ||
	    (fi = mapping_field_index(e, name)) < 0) {
		fprintf(stderr, "casesync: conflict %s does not hold field %s\n", id,
			name);
		return 1;
	}
	if (eq[1] && xform_canon(&e->fields[fi], eq + 1, &canon, err,
				 sizeof(err))) {
		/* err names the field and the problem, not the value. */
		fprintf(stderr, "casesync: --value %s: %s\n", name, err);
		return 1;
	}
	json_object_set_new(values, name, canon ? json_string(canon) : json_null());
	free(canon);
	return 0;
}

/* The audit row of a resolution: per field, the two sides' values and the
 * one chosen. */
static json_t *resolution_changes(json_t *fields, const char *take,
				  json_t *values)
{
	json_t *out = json_object(), *f;
	const char *k;

	json_object_foreach(fields, k, f) {
		json_t *chosen = json_object_get(values, k);

		if (!chosen && take)
			chosen = json_object_get(f, take);
		json_object_set_new(out, k, json_pack("{s:O?,s:O?,s:O?}",
			"local", json_object_get(f, "local"),
			"remote", json_object_get(f, "remote"),
			"chosen", chosen ? chosen : json_null()));
	}
	return out;
}

static int resolve_usage(void)
{
	fprintf(stderr, "usage: casesync conflicts resolve ID (--take local|remote "
		"| --value FIELD=VALUE...) --reason TEXT\n");
	return 2;
}

static int cmd_resolve(const struct options *o, int argc, char **argv)
{
	const char *id = NULL, *take = NULL, *reason = NULL;
	const char *vals[MAX_VALUES];
	int nvals = 0, rc = 1;
	struct cx x;
	PGresult *r = NULL;
	json_t *fields = NULL, *values = json_object(), *res = NULL, *chg = NULL;
	char *res_text = NULL;
	struct audit_keys *keys = NULL;
	const struct map_entity *e;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--take") && i + 1 < argc &&
		    (!strcmp(argv[i + 1], "local") || !strcmp(argv[i + 1], "remote")))
			take = argv[++i];
		else if (!strcmp(argv[i], "--value") && i + 1 < argc &&
			 nvals < MAX_VALUES)
			vals[nvals++] = argv[++i];
		else if (!strcmp(argv[i], "--reason") && i + 1 < argc)
			reason = argv[++i];
		else if (!id && valid_id(argv[i]))
			id = argv[i];
		else {
			json_decref(values);
			fprintf(stderr, "casesync conflicts resolve: unexpected "
				"argument '%s'\n", argv[i]);
			return resolve_usage();
		}
	}
	if (!id || (!take && !nvals) || !reason || !*reason) {
		json_decref(values);
		return resolve_usage();
	}
	if (cx_open(&x, o, 1))
		goto out;
	if (!(r = conflict_row(x.s, id)))
		goto out;
	if (strcmp(PQgetvalue(r, 0, 5), "open")) {
		fprintf(stderr, "casesync: conflict %s is %s, not open\n", id,
			PQgetvalue(r, 0, 5));
		goto out;
	}
	if (!(e = mapping_find_entity(x.set, PQgetvalue(r, 0, 1)))) {
		fprintf(stderr, "casesync: conflict %s is about entity %s, which "
			"mappings.use does not map\n", id, PQgetvalue(r, 0, 1));
		goto out;
	}
	if (nvals && strcmp(PQgetvalue(r, 0, 4), "fields")) {
		fprintf(stderr, "casesync: conflict %s is about a deleted record: "
			"resolve it with --take local or --take remote\n", id);
		goto out;
	}
	fields = json_loads(PQgetvalue(r, 0, 6), 0, NULL);
	for (int i = 0; i < nvals; i++)
		if ((rc = add_value(e, fields, values, vals[i], id)))
			goto out;
	rc = 1;
	if (!take) {
		const char *k;
		json_t *f;

		json_object_foreach(fields, k, f)
			if (!json_object_get(values, k)) {
				fprintf(stderr, "casesync: conflict %s also needs a "
					"decision for field %s (--value %s=... or "
					"--take)\n", id, k, k);
				goto out;
			}
	}
	res = json_pack("{s:s?,s:O}", "take", take, "values", values);
	chg = resolution_changes(fields, take, values);
	res_text = res ? json_dumps(res, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	if (!res_text || !chg)
		goto out;
	{
		const char *p[] = { id, res_text, reason };
		struct audit_entry a = {
			.action = "resolve_conflict", .entity_name = PQgetvalue(r, 0, 1),
			.local_key = PQgetvalue(r, 0, 2),
			.remote_id = *PQgetvalue(r, 0, 3) ? PQgetvalue(r, 0, 3) : NULL,
			.changes = chg, .source_name = "person", .outcome = "resolved",
		};
		char err[512] = "out of memory";
		PGresult *u;

		if (audit_keys_load(x.cfg, &keys, err, sizeof(err)) ||
		    audit_attach(x.s, keys)) {
			fprintf(stderr, "casesync: %s\n", err);
			goto out;
		}
		/* The decision and its audit entry, together or not at all. */
		if (store_begin(x.s, 0))
			goto out;
		u = store_exec(x.s, "conflict_resolve",
			       "UPDATE casesync.conflicts SET status = 'resolved', "
			       "resolution = $2::jsonb, reason = $3, "
			       "resolved_by = session_user, resolved_at = now() "
			       "WHERE id = $1::bigint AND status = 'open' RETURNING id",
			       3, p);
		if (!u || PQntuples(u) != 1 || audit_write(x.s, &a) ||
		    store_commit(x.s)) {
			PQclear(u);
			store_rollback(x.s);
			fprintf(stderr, "casesync: conflict %s was not resolved (is "
				"this role a member of casesync_datalead, and is the "
				"conflict still open?)\n", id);
			goto out;
		}
		PQclear(u);
	}
	printf("conflict %s resolved; the daemon applies it to both systems at "
	       "its next cycle\n", id);
	rc = 0;
out:
	free(res_text);
	json_decref(res);
	json_decref(chg);
	json_decref(values);
	json_decref(fields);
	PQclear(r);
	cx_close(&x);
	audit_keys_free(keys);
	return rc;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: casesync conflicts list [--entity E] [--status "
		"open|resolved|applied|all] [--format text|json]\n"
		"       casesync conflicts show ID [--format text|json]\n"
		"       casesync conflicts resolve ID (--take local|remote | "
		"--value FIELD=VALUE...) --reason TEXT\n\n"
		"The records both systems changed in ways a person must decide.\n"
		"list shows the queue (open ones by default), show one conflict\n"
		"with the last agreed, provider and council values of each field.\n"
		"resolve records the decision: --take keeps one side's values,\n"
		"--value sets a field (several may be given; with --take, the\n"
		"fields not named take that side). Who resolved it (the database\n"
		"role) and --reason go into the audit trail; the daemon applies\n"
		"the decision to both systems at its next cycle. A conflict about\n"
		"a deleted record takes --take only: local keeps the provider's\n"
		"side (its record, or its deletion), remote the council's.\n"
		"Exit 0 on success, 1 when the conflict is missing, not open or a\n"
		"value is invalid, 2 on a usage error.\n");
}

int cmd_conflicts(const struct options *o, int argc, char **argv)
{
	static const struct cli_sub subs[] = {
		{ "list", cmd_list }, { "show", cmd_show },
		{ "resolve", cmd_resolve }, { NULL, NULL },
	};

	return cli_dispatch("conflicts", subs, usage, o, argc, argv);
}
