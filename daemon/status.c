/* status.c - casesync status: counts per entity, the backlog and the last
 * cycles, from schema casesync (see status.h). */
#include "status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "log.h"
#include "mapping.h"
#include "store.h"

/* The tables status reads; each is checked for SELECT first. */
enum table { T_CROSSWALK, T_BASE, T_PENDING, T_LOG, T_CONFLICTS,
	     T_QUARANTINE, T_OUTBOX, T_CYCLES, T_N };

/* read_privileges() passes them as $1..$8. */
_Static_assert(T_N == 8, "read_privileges lists eight tables");
static const char *const table_names[T_N] = {
	"casesync.crosswalk", "casesync.base", "casesync.change_pending",
	"casesync.change_log", "casesync.conflicts", "casesync.quarantine",
	"casesync.outbox", "casesync.cycles",
};

/* Per-entity counts. */
enum metric { M_LINKED, M_TOMBSTONES, M_PENDING, M_OPEN, M_RESOLVED,
	      M_QUARANTINED, M_OUTBOX_PENDING, M_OUTBOX_FAILED, M_N };

static const char *const metric_names[M_N] = {
	"linked", "tombstones", "pending_changes", "open_conflicts",
	"resolved_conflicts", "quarantined", "outbox_pending", "outbox_failed",
};

/* Each query returns entity and up to two counts, for metrics m[]. */
struct query {
	enum table table;
	int ncounts;
	enum metric m[2];
	const char *sql;
};

static const struct query queries[] = {
	{ T_CROSSWALK, 1, { M_LINKED },
	  "SELECT entity, count(*) FROM casesync.crosswalk GROUP BY 1" },
	{ T_BASE, 1, { M_TOMBSTONES },
	  "SELECT entity, count(*) FROM casesync.base WHERE deleted GROUP BY 1" },
	{ T_CONFLICTS, 2, { M_OPEN, M_RESOLVED },
	  "SELECT entity, count(*) FILTER (WHERE status = 'open'), "
	  "count(*) FILTER (WHERE status = 'resolved') FROM casesync.conflicts "
	  "WHERE status IN ('open', 'resolved') GROUP BY 1" },
	{ T_QUARANTINE, 1, { M_QUARANTINED },
	  "SELECT entity, count(*) FROM casesync.quarantine "
	  "WHERE released_at IS NULL GROUP BY 1" },
	{ T_OUTBOX, 2, { M_OUTBOX_PENDING, M_OUTBOX_FAILED },
	  "SELECT entity, count(*) FILTER (WHERE status = 'pending'), "
	  "count(*) FILTER (WHERE status = 'failed') FROM casesync.outbox "
	  "WHERE status IN ('pending', 'failed') GROUP BY 1" },
};

/* Records with changes waiting: folded ones, and with the change log
 * readable the keys not folded yet (each record once). */
static const char pending_sql[] =
	"SELECT entity, count(*) FROM casesync.change_pending GROUP BY 1";
static const char pending_log_sql[] =
	"SELECT entity, count(*) FROM (SELECT entity, local_key "
	"FROM casesync.change_pending UNION SELECT l.entity, k.key "
	"FROM casesync.change_log l CROSS JOIN LATERAL unnest(l.keys) AS k(key) "
	"WHERE l.op <> 'T') x GROUP BY 1";

struct ent_row {
	char *name;
	long long v[M_N];
};

struct status {
	int readable[T_N];
	int known[M_N];		/* the metric's table is readable */
	struct ent_row *ents;
	size_t n, cap;
	long long total[M_N];
	int have_oldest;
	long long oldest_s;	/* age of the oldest pending change */
	PGresult *last;		/* last cycle, 0 or 1 row */
	PGresult *last_ok;	/* last successful cycle, 0 or 1 row */
};

static struct ent_row *entity_row(struct status *st, const char *name)
{
	for (size_t i = 0; i < st->n; i++)
		if (!strcmp(st->ents[i].name, name))
			return &st->ents[i];
	if (st->n == st->cap) {
		size_t cap = st->cap ? st->cap * 2 : 32;
		struct ent_row *p = realloc(st->ents, cap * sizeof(*p));

		if (!p)
			return NULL;
		st->ents = p;
		st->cap = cap;
	}
	memset(&st->ents[st->n], 0, sizeof(st->ents[st->n]));
	st->ents[st->n].name = cs_strdup(name);
	if (!st->ents[st->n].name)
		return NULL;
	return &st->ents[st->n++];
}

static void status_free(struct status *st)
{
	for (size_t i = 0; i < st->n; i++)
		free(st->ents[i].name);
	free(st->ents);
	PQclear(st->last);
	PQclear(st->last_ok);
}

static int read_privileges(struct store *s, struct status *st)
{
	PGresult *r;

	/* One row per table, in table_names order. */
	r = store_exec(s, "status_privileges",
		       "SELECT has_table_privilege(t, 'SELECT') FROM unnest("
		       "ARRAY[$1, $2, $3, $4, $5, $6, $7, $8]) WITH ORDINALITY "
		       "AS u(t, o) ORDER BY o", T_N, table_names);
	if (!r)
		return CS_EIO;
	if (PQntuples(r) != T_N) {
		PQclear(r);
		return CS_EIO;
	}
	for (int t = 0; t < T_N; t++)
		st->readable[t] = PQgetvalue(r, t, 0)[0] == 't';
	PQclear(r);
	return CS_OK;
}

/* Runs one per-entity count query into metrics m[0..k). */
static int count_into(struct store *s, struct status *st, const char *sql,
		      int k, const enum metric *m)
{
	PGresult *r = store_exec(s, "status_counts", sql, 0, NULL);

	if (!r)
		return CS_EIO;
	for (int i = 0; i < PQntuples(r); i++) {
		struct ent_row *e = entity_row(st, PQgetvalue(r, i, 0));

		if (!e) {
			PQclear(r);
			return CS_ENOMEM;
		}
		for (int j = 0; j < k; j++) {
			long long v = 0;

			if (cs_parse_int64(PQgetvalue(r, i, 1 + j), 0,
					   9223372036854775807LL, &v)) {
				PQclear(r);
				return CS_EIO;
			}
			e->v[m[j]] = v;
			st->total[m[j]] += v;
		}
	}
	PQclear(r);
	return CS_OK;
}

static int read_counts(struct store *s, struct status *st)
{
	static const enum metric pend[] = { M_PENDING };
	int rc;

	for (size_t q = 0; q < CS_ARRAY_LEN(queries); q++) {
		if (!st->readable[queries[q].table])
			continue;
		rc = count_into(s, st, queries[q].sql, queries[q].ncounts,
				queries[q].m);
		if (rc)
			return rc;
		for (int j = 0; j < queries[q].ncounts; j++)
			st->known[queries[q].m[j]] = 1;
	}
	if (st->readable[T_PENDING]) {
		rc = count_into(s, st, st->readable[T_LOG] ? pending_log_sql :
				pending_sql, 1, pend);
		if (rc)
			return rc;
		st->known[M_PENDING] = 1;
	}
	return CS_OK;
}

static int read_overall(struct store *s, struct status *st)
{
	PGresult *r;

	if (st->readable[T_PENDING]) {
		if (st->readable[T_LOG])
			r = store_exec(s, "status_oldest",
				       "SELECT extract(epoch FROM now() - min(t))::bigint "
				       "FROM (SELECT min(first_at) AS t FROM "
				       "casesync.change_pending UNION ALL SELECT "
				       "min(captured_at) FROM casesync.change_log) x",
				       0, NULL);
		else
			r = store_exec(s, "status_oldest",
				       "SELECT extract(epoch FROM now() - "
				       "min(first_at))::bigint FROM "
				       "casesync.change_pending", 0, NULL);
		if (!r)
			return CS_EIO;
		if (!PQgetisnull(r, 0, 0) &&
		    cs_parse_int64(PQgetvalue(r, 0, 0), -9223372036854775807LL,
				   9223372036854775807LL, &st->oldest_s) == CS_OK)
			st->have_oldest = 1;
		PQclear(r);
	}
	if (!st->readable[T_CYCLES])
		return CS_OK;
	st->last = store_exec(s, "status_last_cycle",
		"SELECT id, instance, to_char(started_at AT TIME ZONE 'UTC', "
		"'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), to_char(finished_at AT TIME ZONE "
		"'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), status, pulled, pushed, "
		"conflicts, rejected, errors FROM casesync.cycles "
		"ORDER BY id DESC LIMIT 1", 0, NULL);
	if (!st->last)
		return CS_EIO;
	st->last_ok = store_exec(s, "status_last_ok",
		"SELECT id, to_char(finished_at AT TIME ZONE 'UTC', "
		"'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
		"extract(epoch FROM now() - finished_at)::bigint "
		"FROM casesync.cycles WHERE status = 'ok' "
		"ORDER BY finished_at DESC NULLS LAST, id DESC LIMIT 1", 0, NULL);
	return st->last_ok ? CS_OK : CS_EIO;
}

/* Entities of the mapping set first (in its order, even when they hold
 * nothing yet), then any other the tables name. */
static int add_mapped_entities(const struct config *cfg, struct status *st)
{
	struct mapping_set *set;
	struct diag d;

	if (!*cfg->mappings_use)
		return CS_OK;
	diag_init(&d);
	set = mapping_set_load(cfg->mappings_dir, cfg->mappings_use, &d);
	if (!set) {
		fprintf(stderr, "casesync status: warning: mapping set %s does not "
			"load (casesync check-config says why); showing the entities "
			"the database names\n", cfg->mappings_use);
	}
	diag_free(&d);
	for (size_t i = 0; set && i < set->nentities; i++)
		if (!entity_row(st, set->entities[i].name)) {
			mapping_set_free(set);
			return CS_ENOMEM;
		}
	mapping_set_free(set);
	return CS_OK;
}

static const char *age_text(long long s, char *buf, size_t n)
{
	if (s < 0)
		s = 0;
	if (s < 60)
		snprintf(buf, n, "%llds", s);
	else if (s < 3600)
		snprintf(buf, n, "%lldm%02llds", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, n, "%lldh%02lldm", s / 3600, s % 3600 / 60);
	else
		snprintf(buf, n, "%lldd%02lldh", s / 86400, s % 86400 / 3600);
	return buf;
}

static void text_row(FILE *f, const struct status *st, const char *name,
		     const long long *v)
{
	fprintf(f, "%-14s", name);
	for (int m = 0; m < M_N; m++) {
		int w = (int)strlen(metric_names[m]);

		if (st->known[m])
			fprintf(f, " %*lld", w, v[m]);
		else
			fprintf(f, " %*s", w, "-");
	}
	putc('\n', f);
}

static void print_text(FILE *f, const struct status *st)
{
	char age[32];

	fprintf(f, "%-14s", "ENTITY");
	for (int m = 0; m < M_N; m++)
		fprintf(f, " %s", metric_names[m]);
	putc('\n', f);
	for (size_t i = 0; i < st->n; i++)
		text_row(f, st, st->ents[i].name, st->ents[i].v);
	text_row(f, st, "total", st->total);
	for (int t = 0; t < T_N; t++)
		if (!st->readable[t] && t != T_LOG)
			fprintf(f, "(-: this role may not read %s)\n", table_names[t]);
	putc('\n', f);
	if (!st->known[M_PENDING]) {
		fprintf(f, "backlog: unknown\n");
	} else {
		fprintf(f, "backlog: %lld record%s with changes waiting",
			st->total[M_PENDING], st->total[M_PENDING] == 1 ? "" : "s");
		if (st->have_oldest)
			fprintf(f, ", the oldest waiting %s",
				age_text(st->oldest_s, age, sizeof(age)));
		putc('\n', f);
		if (!st->readable[T_LOG])
			fprintf(f, "  (changes not folded yet are not counted: this "
				"role may not read casesync.change_log)\n");
	}
	if (!st->readable[T_CYCLES]) {
		fprintf(f, "last cycle: unknown\n");
		return;
	}
	if (PQntuples(st->last) == 0) {
		fprintf(f, "last cycle: none yet\n");
	} else {
		PGresult *r = st->last;

		fprintf(f, "last cycle: %s by %s, started %s, ", PQgetvalue(r, 0, 0),
			PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2));
		if (PQgetisnull(r, 0, 3))
			fprintf(f, "not finished");
		else
			fprintf(f, "finished %s", PQgetvalue(r, 0, 3));
		fprintf(f, ": %s, pulled %s, pushed %s, conflicts %s, rejected %s, "
			"errors %s\n", PQgetvalue(r, 0, 4), PQgetvalue(r, 0, 5),
			PQgetvalue(r, 0, 6), PQgetvalue(r, 0, 7), PQgetvalue(r, 0, 8),
			PQgetvalue(r, 0, 9));
	}
	if (PQntuples(st->last_ok) == 0) {
		fprintf(f, "last successful cycle: none yet\n");
	} else {
		long long s = 0;

		if (cs_parse_int64(PQgetvalue(st->last_ok, 0, 2),
				   -9223372036854775807LL, 9223372036854775807LL,
				   &s))
			s = 0;
		fprintf(f, "last successful cycle: %s, finished %s (%s ago)\n",
			PQgetvalue(st->last_ok, 0, 0), PQgetvalue(st->last_ok, 0, 1),
			age_text(s, age, sizeof(age)));
	}
}

static json_t *metrics_json(const struct status *st, const long long *v)
{
	json_t *o = json_object();

	for (int m = 0; o && m < M_N; m++)
		if (json_object_set_new(o, metric_names[m], st->known[m] ?
					json_integer(v[m]) : json_null())) {
			json_decref(o);
			return NULL;
		}
	return o;
}

/* A numeric column as a JSON integer (null when NULL). */
static json_t *jnum(PGresult *r, int col)
{
	long long v;

	if (PQgetisnull(r, 0, col) ||
	    cs_parse_int64(PQgetvalue(r, 0, col), -9223372036854775807LL,
			   9223372036854775807LL, &v))
		return json_null();
	return json_integer(v);
}

static json_t *jtext(PGresult *r, int col)
{
	return PQgetisnull(r, 0, col) ? json_null() :
	       json_string(PQgetvalue(r, 0, col));
}

static json_t *cycles_json(const struct status *st, json_t **last_ok)
{
	*last_ok = json_null();
	if (!st->readable[T_CYCLES] || PQntuples(st->last) == 0)
		return json_null();
	if (PQntuples(st->last_ok) == 1) {
		json_decref(*last_ok);
		*last_ok = json_pack("{s:o,s:o,s:o}", "id", jnum(st->last_ok, 0),
				     "finished", jtext(st->last_ok, 1),
				     "age_s", jnum(st->last_ok, 2));
	}
	return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}",
			 "id", jnum(st->last, 0), "instance", jtext(st->last, 1),
			 "started", jtext(st->last, 2),
			 "finished", jtext(st->last, 3),
			 "status", jtext(st->last, 4), "pulled", jnum(st->last, 5),
			 "pushed", jnum(st->last, 6),
			 "conflicts", jnum(st->last, 7),
			 "rejected", jnum(st->last, 8), "errors", jnum(st->last, 9));
}

static int print_json(FILE *f, const struct status *st)
{
	json_t *doc, *ents = json_object(), *last_ok = NULL, *last;
	int rc = ents ? 0 : -1;

	for (size_t i = 0; rc == 0 && i < st->n; i++) {
		json_t *m = metrics_json(st, st->ents[i].v);

		rc |= m ? json_object_set_new(ents, st->ents[i].name, m) : -1;
	}
	last = cycles_json(st, &last_ok);
	doc = rc == 0 ? json_pack("{s:O,s:o,s:o,s:b,s:o,s:O,s:O}",
				  "entities", ents,
				  "total", metrics_json(st, st->total),
				  "backlog", st->known[M_PENDING] ?
				  json_integer(st->total[M_PENDING]) : json_null(),
				  "backlog_complete",
				  st->known[M_PENDING] && st->readable[T_LOG],
				  "oldest_pending_age_s", st->have_oldest ?
				  json_integer(st->oldest_s) : json_null(),
				  "last_cycle", last, "last_ok_cycle", last_ok)
		      : NULL;
	json_decref(ents);
	json_decref(last);
	json_decref(last_ok);
	if (!doc || json_dumpf(doc, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER)) {
		json_decref(doc);
		return CS_ENOMEM;
	}
	putc('\n', f);
	json_decref(doc);
	return CS_OK;
}

static int usage(FILE *f, int rc)
{
	fprintf(f,
		"usage: casesync status [--format text|json]\n\n"
		"Shows, per entity: records linked to the council (crosswalk),\n"
		"tombstones, records with provider changes waiting, open and\n"
		"resolved-but-not-applied conflicts, quarantined council records,\n"
		"and outbox writes pending or failed; then the backlog, the age of\n"
		"the oldest waiting change, the last cycle and the last successful\n"
		"one. Reads schema casesync only, never a case record; run it as a\n"
		"data lead or as the daemon's role. A count this role may not read\n"
		"shows as - (null in JSON).\n"
		"Exit 0, 1 when the database cannot be read, 2 on a usage error.\n");
	return rc;
}

/* Reads everything in one read-only snapshot. */
static int status_read(const struct config *cfg, struct store *s,
		       struct status *st)
{
	int rc;

	if (store_run(s, "status_begin",
		      "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL))
		return CS_EIO;
	rc = add_mapped_entities(cfg, st);
	if (rc == CS_OK)
		rc = read_privileges(s, st);
	if (rc == CS_OK)
		rc = read_counts(s, st);
	if (rc == CS_OK)
		rc = read_overall(s, st);
	store_rollback(s);
	return rc;
}

int cmd_status(const struct options *o, int argc, char **argv)
{
	struct config *cfg;
	struct store *s = NULL;
	struct status st;
	enum log_level lv;
	int json = 0, rc = 1;

	for (int i = 0; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return usage(stdout, 0);
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--format") && i + 1 < argc &&
		    (!strcmp(argv[i + 1], "json") || !strcmp(argv[i + 1], "text"))) {
			json = !strcmp(argv[++i], "json");
		} else {
			fprintf(stderr, "casesync status: unexpected argument '%s'\n",
				argv[i]);
			return usage(stderr, 2);
		}
	}
	memset(&st, 0, sizeof(st));
	cfg = options_load_config(o);
	if (!cfg)
		return 1;
	if (log_parse_level(cfg->daemon_log_level, &lv) == CS_OK)
		log_set_level(lv);
	if (!(s = cli_open_store(cfg, "casesync status")))
		goto out;
	if (status_read(cfg, s, &st)) {
		fprintf(stderr, "casesync status: the database could not be read "
			"(the log line above says why)\n");
		goto out;
	}
	if (json) {
		if (print_json(stdout, &st))
			goto out;
	} else {
		print_text(stdout, &st);
	}
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "casesync status: cannot write the report\n");
		goto out;
	}
	rc = 0;
out:
	status_free(&st);
	store_close(s);
	config_free(cfg);
	return rc;
}
