/* cli_audit.c - `casesync audit trace | export`: the audit trail read back
 * for auditors, a record's history or the whole trail for their own tools.
 * Read-only; works with the grants of casesync_auditor. */
#include "cli_audit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "cli.h"
#include "store.h"

#define FETCH_ROWS "1000"

/* The columns both commands read, in this order. */
#define AUDIT_COLUMNS "seq, to_char(at AT TIME ZONE 'UTC', " \
	"'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), coalesce(cycle_id::text, ''), " \
	"actor, action, entity, coalesce(local_key, ''), " \
	"coalesce(remote_id, ''), source, coalesce(version, ''), outcome, " \
	"changes::text"

enum col { C_SEQ, C_AT, C_CYCLE, C_ACTOR, C_ACTION, C_ENTITY, C_LOCAL,
	   C_REMOTE, C_SOURCE, C_VERSION, C_OUTCOME, C_CHANGES, C_N };

static const char *const col_names[C_N] = {
	"seq", "at", "cycle_id", "actor", "action", "entity", "local_key",
	"remote_id", "source", "version", "outcome", "changes",
};

static struct store *open_store(const struct options *o, struct config **cfg)
{
	if (!(*cfg = options_load_config(o)))
		return NULL;
	return cli_open_store(*cfg, "casesync audit");
}

/* changes with every value replaced by a marker: which fields changed,
 * not what they held. */
static json_t *redacted(json_t *changes)
{
	json_t *out = json_object(), *v;
	const char *k;

	json_object_foreach(changes, k, v) {
		json_t *pair = json_object(), *x;
		const char *side;

		json_object_foreach(v, side, x)
			json_object_set_new(pair, side, json_is_null(x) ? json_null() :
					    json_string("[redacted]"));
		json_object_set_new(out, k, pair);
	}
	return out;
}

static json_t *row_json(PGresult *r, int i, int redact)
{
	json_t *o = json_object(), *ch;

	for (int c = 0; c < C_N; c++) {
		const char *v = PQgetvalue(r, i, c);

		if (c == C_CHANGES) {
			ch = json_loads(v, 0, NULL);
			if (ch && redact) {
				json_t *red = redacted(ch);

				json_decref(ch);
				ch = red;
			}
			json_object_set_new(o, col_names[c], ch ? ch : json_null());
		} else if (c == C_SEQ || (c == C_CYCLE && *v)) {
			json_object_set_new(o, col_names[c],
					    json_integer(atoll(v)));
		} else {
			json_object_set_new(o, col_names[c],
					    *v ? json_string(v) : json_null());
		}
	}
	return o;
}

static void row_csv(PGresult *r, int i, int redact)
{
	for (int c = 0; c < C_N; c++) {
		if (c == C_CHANGES && redact) {
			json_t *ch = json_loads(PQgetvalue(r, i, c), 0, NULL);
			json_t *red = ch ? redacted(ch) : NULL;
			char *t = red ? json_dumps(red, JSON_COMPACT | JSON_SORT_KEYS) :
				NULL;

			cli_csv_field(stdout, t ? t : "", 1);
			free(t);
			json_decref(ch);
			json_decref(red);
		} else {
			cli_csv_field(stdout, PQgetvalue(r, i, c), c == C_N - 1);
		}
	}
}

/* ---- trace ---- */

static const char *system_name(const char *source)
{
	return !strcmp(source, "council") ? "council" :
	       !strcmp(source, "provider") ? "provider" : "person";
}

static void trace_text(PGresult *r, int i)
{
	json_t *ch = json_loads(PQgetvalue(r, i, C_CHANGES), 0, NULL), *v;
	const char *k;

	printf("%s  #%s  %-8s %-15s by %s", PQgetvalue(r, i, C_AT),
	       PQgetvalue(r, i, C_SEQ), system_name(PQgetvalue(r, i, C_SOURCE)),
	       PQgetvalue(r, i, C_ACTION), PQgetvalue(r, i, C_ACTOR));
	if (*PQgetvalue(r, i, C_VERSION))
		printf(", council version %s", PQgetvalue(r, i, C_VERSION));
	printf(": %s (provider %s, council %s)\n", PQgetvalue(r, i, C_OUTCOME),
	       *PQgetvalue(r, i, C_LOCAL) ? PQgetvalue(r, i, C_LOCAL) : "-",
	       *PQgetvalue(r, i, C_REMOTE) ? PQgetvalue(r, i, C_REMOTE) : "-");
	json_object_foreach(ch, k, v) {
		json_t *old = json_object_get(v, "old"), *new = json_object_get(v, "new");

		if (old || new)
			printf("    %s: %s -> %s\n", k,
			       json_is_string(old) ? json_string_value(old) : "(none)",
			       json_is_string(new) ? json_string_value(new) : "(none)");
		else
			printf("    %s\n", k);
	}
	json_decref(ch);
}

static int cmd_trace(const struct options *o, int argc, char **argv)
{
	const char *entity = NULL, *key = NULL;
	int json = 0, rc = 1;
	struct config *cfg = NULL;
	struct store *s;
	PGresult *r;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--format") && i + 1 < argc &&
		    (!strcmp(argv[i + 1], "json") || !strcmp(argv[i + 1], "text")))
			json = !strcmp(argv[++i], "json");
		else if (!entity && argv[i][0] != '-')
			entity = argv[i];
		else if (!key && argv[i][0] != '-')
			key = argv[i];
		else {
			fprintf(stderr, "usage: casesync audit trace ENTITY KEY "
				"[--format text|json]\n");
			return 2;
		}
	}
	if (!entity || !key) {
		fprintf(stderr, "usage: casesync audit trace ENTITY KEY "
			"[--format text|json]\n");
		return 2;
	}
	if (!(s = open_store(o, &cfg)))
		goto out;
	{
		const char *p[] = { entity, key };

		/* KEY is either side's key; every key the record has had on
		 * either side (a record recreated after a deletion) counts. */
		r = store_exec(s, "audit_trace",
			       "WITH k AS (SELECT $2::text AS key UNION "
			       "SELECT remote_id FROM casesync.crosswalk WHERE "
			       "entity = $1 AND local_key = $2 UNION "
			       "SELECT local_key FROM casesync.crosswalk WHERE "
			       "entity = $1 AND remote_id = $2) "
			       "SELECT " AUDIT_COLUMNS " FROM casesync.audit a "
			       "WHERE a.entity = $1 AND (a.local_key IN (SELECT key "
			       "FROM k) OR a.remote_id IN (SELECT key FROM k)) "
			       "ORDER BY a.seq", 2, p);
	}
	if (!r) {
		fprintf(stderr, "casesync: cannot read the audit trail (is this role "
			"a member of casesync_auditor?)\n");
		goto out;
	}
	if (json) {
		json_t *a = json_array();

		for (int i = 0; i < PQntuples(r); i++)
			json_array_append_new(a, row_json(r, i, 0));
		json_dumpf(a, stdout, JSON_INDENT(2));
		printf("\n");
		json_decref(a);
	} else {
		for (int i = 0; i < PQntuples(r); i++)
			trace_text(r, i);
		printf("%d entr%s for %s %s\n", PQntuples(r),
		       PQntuples(r) == 1 ? "y" : "ies", entity, key);
	}
	PQclear(r);
	rc = 0;
out:
	store_close(s);
	config_free(cfg);
	return rc;
}

/* ---- export ---- */

static int cmd_export(const struct options *o, int argc, char **argv)
{
	const char *from = NULL, *to = NULL, *fmt = NULL;
	int redact = 0, rc = 1, csv;
	struct config *cfg = NULL;
	struct store *s;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--format") && i + 1 < argc)
			fmt = argv[++i];
		else if (!strcmp(argv[i], "--from") && i + 1 < argc)
			from = argv[++i];
		else if (!strcmp(argv[i], "--to") && i + 1 < argc)
			to = argv[++i];
		else if (!strcmp(argv[i], "--redact"))
			redact = 1;
		else
			fmt = "";
	}
	if (!fmt || (strcmp(fmt, "jsonl") && strcmp(fmt, "csv"))) {
		fprintf(stderr, "usage: casesync audit export --format jsonl|csv "
			"[--from T] [--to T] [--redact]\n");
		return 2;
	}
	csv = !strcmp(fmt, "csv");
	if (!(s = open_store(o, &cfg)))
		goto out;
	{
		const char *p[] = { from, to };

		/* A snapshot, read through a cursor: memory stays flat however
		 * long the trail. */
		if (store_run(s, "audit_begin",
			      "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0,
			      NULL))
			goto fail;
		if (store_run(s, "audit_declare",
			      "DECLARE casesync_audit_export NO SCROLL CURSOR FOR "
			      "SELECT " AUDIT_COLUMNS " FROM casesync.audit "
			      "WHERE ($1::timestamptz IS NULL OR at >= $1::timestamptz) "
			      "AND ($2::timestamptz IS NULL OR at < $2::timestamptz) "
			      "ORDER BY seq", 2, p)) {
			fprintf(stderr, "casesync: --from and --to take timestamps "
				"such as 2026-11-24 or 2026-11-24T10:00:00Z\n");
			goto fail;
		}
	}
	if (csv)
		for (int c = 0; c < C_N; c++)
			cli_csv_field(stdout, col_names[c], c == C_N - 1);
	for (;;) {
		PGresult *r = store_exec(s, "audit_fetch", "FETCH FORWARD " FETCH_ROWS
					 " FROM casesync_audit_export", 0, NULL);
		int n;

		if (!r)
			goto fail;
		n = PQntuples(r);
		for (int i = 0; i < n; i++) {
			if (csv) {
				row_csv(r, i, redact);
			} else {
				json_t *j = row_json(r, i, redact);

				json_dumpf(j, stdout, JSON_COMPACT | JSON_SORT_KEYS);
				putchar('\n');
				json_decref(j);
			}
		}
		PQclear(r);
		if (n == 0)
			break;
	}
	store_rollback(s);
	rc = fflush(stdout) ? 1 : 0;
	goto out;
fail:
	store_rollback(s);
	fprintf(stderr, "casesync: cannot read the audit trail\n");
out:
	store_close(s);
	config_free(cfg);
	return rc;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: casesync audit trace ENTITY KEY [--format text|json]\n"
		"       casesync audit export --format jsonl|csv [--from T] [--to T] "
		"[--redact]\n\n"
		"trace: a record's history on both systems in time order (KEY is\n"
		"the provider's key or the council's id), with each field's old\n"
		"and new value. export: the whole trail (or the part from --from\n"
		"up to --to) for an auditor's own tools, as JSON lines or CSV\n"
		"(RFC 4180); --redact replaces every value by a marker, keeping\n"
		"which fields changed. Run them as a member of casesync_auditor.\n"
		"Exit 0, 1 when the trail cannot be read, 2 on a usage error.\n");
}

int cmd_audit(const struct options *o, int argc, char **argv)
{
	static const struct cli_sub subs[] = {
		{ "trace", cmd_trace }, { "export", cmd_export }, { NULL, NULL },
	};

	return cli_dispatch("audit", subs, usage, o, argc, argv);
}
