/* reconcile.c - casesync reconcile: both sides compared record by record,
 * streamed (see reconcile.h). Read-only on both sides, apart from one
 * temporary table of the session. */
#include "reconcile.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "cli.h"
#include "codec.h"
#include "engine.h"
#include "log.h"
#include "mapping.h"
#include "record.h"
#include "remote.h"
#include "store.h"

#define FETCH_ROWS "1000"	/* provider-only rows per FETCH */
#define MAX_FEED_PAGES 10000000L
#define SQL_MAX (1024 * 1024)
#define IDS_MAX (64 * 1024 * 1024)

enum rstatus {
	ST_IN_SYNC, ST_DIFFERS, ST_MISSING_LOCAL, ST_MISSING_REMOTE,
	ST_CONFLICT, ST_UNREADABLE, ST_DELETED, ST_N
};

static const char *const status_names[ST_N] = {
	"in_sync", "differs", "missing_local", "missing_remote", "conflict",
	"unreadable", "deleted",
};

enum rformat { FMT_TEXT, FMT_CSV, FMT_JSON, FMT_HTML };

struct rcounts {
	long n[ST_N];
	long examined;
};

/* One record's verdict, as output. */
struct verdict {
	const struct map_entity *e;
	const char *local_key;		/* NULL: the provider has none linked */
	const char *remote_id;		/* NULL: the council has none known */
	enum rstatus st;
	const char *reason;		/* unreadable: why (fields, never values) */
	const struct record *local;	/* differs */
	const struct record *remote;	/* differs */
	const unsigned char *diff;	/* differs: one flag per field */
};

struct rrun {
	const struct config *cfg;
	const struct mapping_set *maps;
	struct store *s;
	struct remote *remote;
	FILE *out;
	enum rformat fmt;
	int all;
	int show_values;
	long listed;			/* records written */
	struct rcounts *counts;		/* per entity of maps */
	struct rcounts total;
};

/* Per entity: the SQL built once from the mapping. */
struct rentity {
	const struct map_entity *e;
	struct rcounts *counts;
	long pages;
};

/* ---- output ------------------------------------------------------------ */

/* A value for the text format: quoted, with quotes, backslashes and
 * control characters escaped; "absent" for none. */
static void text_value(FILE *f, const char *v)
{
	if (!v) {
		fputs("absent", f);
		return;
	}
	putc('"', f);
	for (const unsigned char *c = (const unsigned char *)v; *c; c++) {
		if (*c == '"' || *c == '\\')
			fprintf(f, "\\%c", *c);
		else if (*c == '\n')
			fputs("\\n", f);
		else if (*c == '\t')
			fputs("\\t", f);
		else if (*c < 0x20 || *c == 0x7f)
			fprintf(f, "\\x%02x", *c);
		else
			putc(*c, f);
	}
	putc('"', f);
}

static void html_text(FILE *f, const char *v)
{
	for (const char *c = v ? v : ""; *c; c++) {
		switch (*c) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default: putc(*c, f);
		}
	}
}

/* The differing fields' values of one side as a JSON object. */
static json_t *side_values(const struct verdict *v, enum side side)
{
	json_t *o = json_object();
	const struct record *r = side == SIDE_LOCAL ? v->local : v->remote;

	for (size_t i = 0; o && i < v->e->nfields; i++) {
		const char *val = r ? record_get(r, i) : NULL;

		if (v->diff && v->diff[i] &&
		    json_object_set_new(o, v->e->fields[i].name,
					val ? json_string(val) : json_null())) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

/* The differing fields' names joined with sep (a new string). */
static char *field_names(const struct verdict *v, const char *sep)
{
	struct buf b;
	int rc = 0, first = 1;

	buf_init(&b, SQL_MAX);
	rc |= buf_appends(&b, "");
	for (size_t i = 0; v->diff && i < v->e->nfields; i++) {
		if (!v->diff[i])
			continue;
		if (!first)
			rc |= buf_appends(&b, sep);
		rc |= buf_appends(&b, v->e->fields[i].name);
		first = 0;
	}
	if (rc) {
		buf_free(&b);
		return NULL;
	}
	return buf_take(&b);
}

static const char *or_dash(const char *s)
{
	return s ? s : "-";
}

static void emit_text(struct rrun *run, const struct verdict *v)
{
	FILE *f = run->out;
	int first = 1;

	if (run->listed == 0)
		fprintf(f, "%-14s %-12s %-12s %-14s %s\n", "ENTITY", "LOCAL_KEY",
			"REMOTE_ID", "STATUS", "FIELDS");
	fprintf(f, "%-14s %-12s %-12s %s", v->e->name, or_dash(v->local_key),
		or_dash(v->remote_id), status_names[v->st]);
	if (v->reason || v->diff)
		fprintf(f, "%*s", 14 - (int)strlen(status_names[v->st]), "");
	if (v->reason)
		fprintf(f, " %s", v->reason);
	for (size_t i = 0; v->diff && i < v->e->nfields; i++) {
		if (!v->diff[i])
			continue;
		fprintf(f, "%s%s", first ? " " : run->show_values ? "; " : ", ",
			v->e->fields[i].name);
		if (run->show_values) {
			fputs(": local ", f);
			text_value(f, v->local ? record_get(v->local, i) : NULL);
			fputs(" council ", f);
			text_value(f, v->remote ? record_get(v->remote, i) : NULL);
		}
		first = 0;
	}
	putc('\n', f);
}

static int emit_csv(struct rrun *run, const struct verdict *v)
{
	FILE *f = run->out;
	char *names = field_names(v, ";"), *lv = NULL, *rv = NULL;

	if (!names)
		return CS_ENOMEM;
	if (run->show_values && v->diff) {
		json_t *l = side_values(v, SIDE_LOCAL), *r = side_values(v, SIDE_REMOTE);

		lv = l ? json_dumps(l, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
		rv = r ? json_dumps(r, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
		json_decref(l);
		json_decref(r);
		if (!lv || !rv) {
			free(names);
			free(lv);
			free(rv);
			return CS_ENOMEM;
		}
	}
	cli_csv_field(f, v->e->name, 0);
	cli_csv_field(f, v->local_key, 0);
	cli_csv_field(f, v->remote_id, 0);
	cli_csv_field(f, status_names[v->st], 0);
	cli_csv_field(f, names, 0);
	cli_csv_field(f, v->reason, 0);
	cli_csv_field(f, lv, 0);
	cli_csv_field(f, rv, 1);
	free(names);
	free(lv);
	free(rv);
	return CS_OK;
}

static json_t *jstr_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static int emit_json(struct rrun *run, const struct verdict *v)
{
	json_t *o = json_object(), *fields = json_array();
	char *text;
	int rc = o && fields ? 0 : -1;

	for (size_t i = 0; rc == 0 && v->diff && i < v->e->nfields; i++)
		if (v->diff[i])
			rc |= json_array_append_new(fields,
						    json_string(v->e->fields[i].name));
	if (rc == 0) {
		rc |= json_object_set_new(o, "entity", json_string(v->e->name));
		rc |= json_object_set_new(o, "local_key", jstr_or_null(v->local_key));
		rc |= json_object_set_new(o, "remote_id", jstr_or_null(v->remote_id));
		rc |= json_object_set_new(o, "status",
					  json_string(status_names[v->st]));
		rc |= json_object_set(o, "fields", fields);
		if (v->reason)
			rc |= json_object_set_new(o, "reason", json_string(v->reason));
	}
	if (rc == 0 && run->show_values && v->diff) {
		json_t *vals = json_object();

		for (size_t i = 0; vals && i < v->e->nfields; i++) {
			const char *l = v->local ? record_get(v->local, i) : NULL;
			const char *r = v->remote ? record_get(v->remote, i) : NULL;

			if (v->diff[i])
				rc |= json_object_set_new(vals, v->e->fields[i].name,
							  json_pack("{s:o,s:o}",
								    "local", jstr_or_null(l),
								    "remote", jstr_or_null(r)));
		}
		rc |= vals ? json_object_set_new(o, "values", vals) : -1;
	}
	text = rc == 0 ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(fields);
	json_decref(o);
	if (!text)
		return CS_ENOMEM;
	fprintf(run->out, "%s\n  %s", run->listed ? "," : "", text);
	free(text);
	return CS_OK;
}

static int emit_html(struct rrun *run, const struct verdict *v)
{
	FILE *f = run->out;
	char *names = field_names(v, ", ");

	if (!names)
		return CS_ENOMEM;
	fputs("<tr><td>", f);
	html_text(f, v->e->name);
	fputs("</td><td>", f);
	html_text(f, or_dash(v->local_key));
	fputs("</td><td>", f);
	html_text(f, or_dash(v->remote_id));
	fprintf(f, "</td><td class=\"%s\">%s</td><td>", status_names[v->st],
		status_names[v->st]);
	html_text(f, v->reason ? v->reason : names);
	fputs("</td>", f);
	if (run->show_values) {
		fputs("<td>", f);
		for (size_t i = 0; v->diff && i < v->e->nfields; i++) {
			const char *l = v->local ? record_get(v->local, i) : NULL;
			const char *r = v->remote ? record_get(v->remote, i) : NULL;

			if (!v->diff[i])
				continue;
			fputs("<div>", f);
			html_text(f, v->e->fields[i].name);
			fputs(": local <q>", f);
			html_text(f, l ? l : "(absent)");
			fputs("</q> council <q>", f);
			html_text(f, r ? r : "(absent)");
			fputs("</q></div>", f);
		}
		fputs("</td>", f);
	}
	fputs("</tr>\n", f);
	free(names);
	return CS_OK;
}

/* Counts one verdict and writes it when it is to be listed. */
static int emit(struct rrun *run, struct rentity *re, const struct verdict *v)
{
	int rc = CS_OK;

	re->counts->n[v->st]++;
	re->counts->examined++;
	run->total.n[v->st]++;
	run->total.examined++;
	if (!run->all && (v->st == ST_IN_SYNC || v->st == ST_DELETED))
		return CS_OK;
	switch (run->fmt) {
	case FMT_TEXT:
		emit_text(run, v);
		break;
	case FMT_CSV:
		rc = emit_csv(run, v);
		break;
	case FMT_JSON:
		rc = emit_json(run, v);
		break;
	case FMT_HTML:
		rc = emit_html(run, v);
		break;
	}
	run->listed++;
	return rc;
}

static void out_begin(struct rrun *run)
{
	FILE *f = run->out;

	switch (run->fmt) {
	case FMT_TEXT:
		break;
	case FMT_CSV:
		fputs("entity,local_key,remote_id,status,fields,reason,"
		      "local_values,remote_values\r\n", f);
		break;
	case FMT_JSON:
		fputs("{\"records\": [", f);
		break;
	case FMT_HTML:
		fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
		      "<title>casesync reconcile</title>\n<style>body{font-family:"
		      "sans-serif}table{border-collapse:collapse}td,th{border:1px "
		      "solid #999;padding:2px 6px;text-align:left}"
		      "td.in_sync,td.deleted{color:#070}</style></head><body>\n"
		      "<h1>casesync reconcile</h1>\n<table><thead><tr><th>entity</th>"
		      "<th>local key</th><th>council id</th><th>status</th>"
		      "<th>fields</th>", f);
		if (run->show_values)
			fputs("<th>values</th>", f);
		fputs("</tr></thead><tbody>\n", f);
		break;
	}
}

static const char *const count_names[] = {
	"examined", "in_sync", "differs", "missing_local", "missing_remote",
	"conflict", "unreadable", "deleted",
};

static long count_of(const struct rcounts *c, size_t k)
{
	return k == 0 ? c->examined : c->n[k - 1];
}

static json_t *counts_json(const struct rcounts *c)
{
	json_t *o = json_object();

	for (size_t k = 0; o && k < CS_ARRAY_LEN(count_names); k++)
		if (json_object_set_new(o, count_names[k],
					json_integer(count_of(c, k)))) {
			json_decref(o);
			return NULL;
		}
	return o;
}

static long not_in_sync(const struct rcounts *c)
{
	return c->examined - c->n[ST_IN_SYNC] - c->n[ST_DELETED];
}

static void text_counts(FILE *f, const char *name, const struct rcounts *c)
{
	fprintf(f, "%-14s", name);
	for (size_t k = 0; k < CS_ARRAY_LEN(count_names); k++)
		fprintf(f, " %*ld", (int)strlen(count_names[k]), count_of(c, k));
	putc('\n', f);
}

static void html_counts(FILE *f, const char *name, const struct rcounts *c)
{
	fputs("<tr><td>", f);
	html_text(f, name);
	fputs("</td>", f);
	for (size_t k = 0; k < CS_ARRAY_LEN(count_names); k++)
		fprintf(f, "<td>%ld</td>", count_of(c, k));
	fputs("</tr>\n", f);
}

/* The summary: per entity compared and in total. CSV holds records only:
 * its summary goes to standard error, as text. */
static int out_end(struct rrun *run, const struct rentity *ents, size_t n)
{
	FILE *f = run->fmt == FMT_CSV ? stderr : run->out;
	long bad = not_in_sync(&run->total);

	switch (run->fmt) {
	case FMT_TEXT:
	case FMT_CSV:
		if (run->fmt == FMT_TEXT && run->listed)
			putc('\n', f);
		fprintf(f, "%-14s", "SUMMARY");
		for (size_t k = 0; k < CS_ARRAY_LEN(count_names); k++)
			fprintf(f, " %s", count_names[k]);
		putc('\n', f);
		for (size_t i = 0; i < n; i++)
			text_counts(f, ents[i].e->name, ents[i].counts);
		text_counts(f, "total", &run->total);
		if (bad)
			fprintf(f, "%ld record%s not in sync\n", bad,
				bad == 1 ? "" : "s");
		else
			fprintf(f, "all records in sync\n");
		break;
	case FMT_JSON: {
		json_t *sum = json_object(), *per = json_object(),
			*tot = counts_json(&run->total);
		int rc = sum && per && tot ? 0 : -1;
		char *text;

		for (size_t i = 0; rc == 0 && i < n; i++) {
			json_t *c = counts_json(ents[i].counts);

			rc |= c ? json_object_set_new(per, ents[i].e->name, c) : -1;
		}
		if (rc == 0) {
			rc |= json_object_set(sum, "entities", per);
			rc |= json_object_set(sum, "total", tot);
			rc |= json_object_set_new(sum, "in_sync",
						  json_boolean(bad == 0));
		}
		text = rc == 0 ? json_dumps(sum, JSON_COMPACT | JSON_PRESERVE_ORDER)
			       : NULL;
		json_decref(sum);
		json_decref(per);
		json_decref(tot);
		if (!text)
			return CS_ENOMEM;
		fprintf(f, "%s],\n\"summary\": %s}\n", run->listed ? "\n" : "", text);
		free(text);
		break;
	}
	case FMT_HTML:
		fputs("</tbody></table>\n<h2>Summary</h2>\n<table><thead><tr>"
		      "<th>entity</th>", f);
		for (size_t k = 0; k < CS_ARRAY_LEN(count_names); k++)
			fprintf(f, "<th>%s</th>", count_names[k]);
		fputs("</tr></thead><tbody>\n", f);
		for (size_t i = 0; i < n; i++)
			html_counts(f, ents[i].e->name, ents[i].counts);
		html_counts(f, "total", &run->total);
		fprintf(f, "</tbody></table>\n<p>%ld record%s not in sync.</p>\n"
			"</body></html>\n", bad, bad == 1 ? "" : "s");
		break;
	}
	return CS_OK;
}

/* ---- SQL built from the mapping ------------------------------------------ */

/* Appends one element (NULL for none) to a PostgreSQL array literal: a
 * parameter, never SQL text. */
static int array_add(struct buf *b, const char *v, int *first)
{
	int rc = buf_appends(b, *first ? "" : ",");

	*first = 0;
	if (!v)
		return rc | buf_appends(b, "NULL");
	rc |= buf_appends(b, "\"");
	for (const char *c = v; *c; c++) {
		if (*c == '"' || *c == '\\')
			rc |= buf_appends(b, "\\");
		rc |= buf_append(b, c, 1);
	}
	return rc | buf_appends(b, "\"");
}

/* SELECT key, mapped columns FROM table WHERE key = ANY($1): the provider's
 * rows of one page, by key (the key's own type, so its index serves). */
static int rows_sql(struct store *s, const struct map_entity *e,
		    struct buf *sql)
{
	int rc;

	buf_init(sql, SQL_MAX);
	rc = buf_appends(sql, "SELECT ") | store_append_ident(s, sql, e->local_key) |
	     buf_appends(sql, "::text");
	for (size_t i = 0; i < e->nfields; i++)
		rc |= buf_appends(sql, ", ") |
		      store_append_ident(s, sql, e->fields[i].local_col) |
		      buf_appends(sql, "::text");
	rc |= buf_appends(sql, " FROM ") | store_append_ident(s, sql, e->local_table) |
	      buf_appends(sql, " WHERE ") | store_append_ident(s, sql, e->local_key) |
	      buf_appends(sql, " = ANY ($1)");
	return rc ? CS_ENOMEM : CS_OK;
}

/* t."key" */
static int key_expr(struct store *s, const struct map_entity *e,
		    struct buf *sql)
{
	return buf_appends(sql, "t.") | store_append_ident(s, sql, e->local_key);
}

/* The provider's records no council record matched (not in the session's
 * table of matched keys), with their crosswalk link and whether a conflict
 * is unsettled, in key order. */
static int rest_sql(struct store *s, const struct map_entity *e,
		    struct buf *sql)
{
	int rc;

	buf_init(sql, SQL_MAX);
	rc = buf_appends(sql, "DECLARE casesync_reconcile_rest NO SCROLL CURSOR "
			 "WITH HOLD FOR SELECT ") | key_expr(s, e, sql) |
	     buf_appends(sql, "::text, c.remote_id, EXISTS (SELECT 1 FROM "
			 "casesync.conflicts x WHERE x.entity = $1 AND "
			 "x.local_key = ") | key_expr(s, e, sql) |
	     buf_appends(sql, "::text AND x.status IN ('open', 'resolved')) "
			 "FROM ") | store_append_ident(s, sql, e->local_table) |
	     buf_appends(sql, " t LEFT JOIN casesync.crosswalk c ON "
			 "c.entity = $1 AND c.local_key = ") | key_expr(s, e, sql) |
	     buf_appends(sql, "::text WHERE ") | key_expr(s, e, sql) |
	     buf_appends(sql, " IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "
			 "pg_temp.casesync_reconcile_seen m WHERE m.entity = $1 "
			 "AND m.local_key = ") | key_expr(s, e, sql) |
	     buf_appends(sql, "::text) ORDER BY ") | key_expr(s, e, sql);
	return rc ? CS_ENOMEM : CS_OK;
}

/* ---- comparing one page --------------------------------------------------- */

/* Whether field i differs. A field that flows one way only and that the
 * receiving side does not hold yet is not counted: the daemon sends it
 * with the record's next change (a council record never changed by the
 * provider has no provider id at the council, for example). */
static int field_differs(const struct map_field *f, const char *local,
			 const char *remote)
{
	if (cs_streq(local, remote))
		return 0;
	if (f->dir == DIR_PUSH && !remote)
		return 0;
	if (f->dir == DIR_PULL && !local)
		return 0;
	return 1;
}

struct keyrow {
	const char *key;
	int row;
};

static int keyrow_cmp(const void *a, const void *b)
{
	return strcmp(((const struct keyrow *)a)->key,
		      ((const struct keyrow *)b)->key);
}

/* The provider's row of key in r (sorted index kr of n), or -1. */
static int find_row(const struct keyrow *kr, size_t n, const char *key)
{
	struct keyrow want = { key, -1 };
	const struct keyrow *hit;

	if (!key || !n)
		return -1;
	hit = bsearch(&want, kr, n, sizeof(*kr), keyrow_cmp);
	return hit ? hit->row : -1;
}

/* Decodes row `row` of r (key, then the entity's fields) into a canonical
 * record; a value that does not decode stays absent and is flagged 1 in
 * bad. */
static int decode_row(const struct map_entity *e, PGresult *r, int row,
		      struct record **out, unsigned char *bad)
{
	*out = record_new(e);
	if (!*out)
		return CS_ENOMEM;
	for (size_t i = 0; i < e->nfields; i++) {
		char *raw, err[256];
		int rc;

		bad[i] = 0;
		if (PQgetisnull(r, row, 1 + (int)i))
			continue;
		raw = PQgetvalue(r, row, 1 + (int)i);
		rc = codec_value_decode(&e->fields[i], SIDE_LOCAL, &raw, 1,
					&(*out)->vals[i], err, sizeof(err));
		if (rc == CS_ENOMEM)
			return rc;
		if (rc) {
			log_warn("local_value_invalid", "entity=%s key=%s "
				 "problem=\"%s\"", e->name, PQgetvalue(r, row, 0),
				 err);
			bad[i] = 1;
		}
	}
	return CS_OK;
}

/* The verdict on one council record (it NULL for a rejected one) whose
 * crosswalk row is `row` of ra, and emits it. */
static int judge_item(struct rrun *run, struct rentity *re, PGresult *ra,
		      int row, PGresult *rb, const struct keyrow *kr,
		      size_t nkr, const struct codec_item *it,
		      const struct remote_reject *rej, unsigned char *diff)
{
	const struct map_entity *e = re->e;
	struct verdict v = { .e = e };
	struct record *local = NULL;
	int lrow, rc;

	v.local_key = PQgetisnull(ra, row, 1) ? NULL : PQgetvalue(ra, row, 1);
	v.remote_id = it ? it->remote_id : rej->remote_id;
	lrow = find_row(kr, nkr, v.local_key);
	if (v.local_key && PQgetvalue(ra, row, 3)[0] == 't') {
		v.st = ST_CONFLICT;
	} else if (!it) {
		v.st = ST_UNREADABLE;
		v.reason = rej->reason ? rej->reason : "did not decode";
	} else if (it->deleted) {
		/* Gone at the council: in sync when gone here too. */
		v.st = lrow < 0 || PQgetvalue(ra, row, 2)[0] == 't' ? ST_DELETED :
		       ST_MISSING_REMOTE;
	} else if (lrow < 0) {
		v.st = ST_MISSING_LOCAL;
	} else {
		size_t ndiff = 0;

		if ((rc = decode_row(e, rb, lrow, &local, diff))) {
			record_free(local);
			return rc;
		}
		for (size_t i = 0; i < e->nfields; i++) {
			diff[i] |= field_differs(&e->fields[i], record_get(local, i),
						 record_get(it->rec, i));
			ndiff += diff[i];
		}
		v.st = ndiff ? ST_DIFFERS : ST_IN_SYNC;
		if (ndiff) {
			v.diff = diff;
			v.local = local;
			v.remote = it->rec;
		}
	}
	rc = emit(run, re, &v);
	record_free(local);
	return rc;
}

/* One feed page: the crosswalk, base and conflicts of its ids in one
 * query (which also records the matched provider keys in the session's
 * table), the provider's rows in another, then each record judged. */
static int compare_page(struct rrun *run, struct rentity *re,
			const struct remote_page *p)
{
	const struct map_entity *e = re->e;
	size_t n = p->n + p->rejected, nkr = 0;
	struct buf ids, keys;
	PGresult *ra = NULL, *rb = NULL;
	struct keyrow *kr = NULL;
	unsigned char *diff = NULL;
	int first = 1, kfirst = 1, rc;

	if (n == 0)
		return CS_OK;
	buf_init(&ids, IDS_MAX);
	buf_init(&keys, IDS_MAX);
	rc = buf_appends(&ids, "{");
	for (size_t i = 0; i < p->n; i++)
		rc |= array_add(&ids, p->items[i].remote_id, &first);
	for (size_t i = 0; i < p->rejected; i++)
		rc |= array_add(&ids, p->rejects[i].remote_id, &first);
	rc |= buf_appends(&ids, "}");
	if (rc) {
		rc = CS_ENOMEM;
		goto out;
	}
	{
		const char *prm[] = { e->name, ids.data };

		ra = store_exec(run->s, "reconcile_links",
			"WITH x AS (SELECT u.remote_id, u.ord FROM "
			"  unnest($2::text[]) WITH ORDINALITY AS u(remote_id, ord)), "
			"l AS (SELECT x.ord, c.local_key FROM x LEFT JOIN "
			"  casesync.crosswalk c ON c.entity = $1 "
			"  AND c.remote_id = x.remote_id), "
			"m AS (INSERT INTO pg_temp.casesync_reconcile_seen "
			"  (entity, local_key) SELECT $1, l.local_key FROM l "
			"  WHERE l.local_key IS NOT NULL ON CONFLICT DO NOTHING) "
			"SELECT l.ord, l.local_key, coalesce(b.deleted, false), "
			"  l.local_key IS NOT NULL AND EXISTS (SELECT 1 FROM "
			"  casesync.conflicts k WHERE k.entity = $1 AND "
			"  k.local_key = l.local_key AND k.status IN "
			"  ('open', 'resolved')) "
			"FROM l LEFT JOIN casesync.base b ON b.entity = $1 "
			"  AND b.local_key = l.local_key ORDER BY l.ord", 2, prm);
	}
	rc = CS_EIO;
	if (!ra || (size_t)PQntuples(ra) != n)
		goto out;
	rc = buf_appends(&keys, "{");
	for (size_t i = 0; i < n; i++)
		if (!PQgetisnull(ra, (int)i, 1))
			rc |= array_add(&keys, PQgetvalue(ra, (int)i, 1), &kfirst);
	rc |= buf_appends(&keys, "}");
	if (rc) {
		rc = CS_ENOMEM;
		goto out;
	}
	if (!kfirst) {
		const char *prm[] = { keys.data };
		struct buf sql;

		/* Built again for each page: microseconds beside the query. */
		rc = rows_sql(run->s, e, &sql);
		rb = rc ? NULL : store_exec(run->s, "reconcile_rows", sql.data, 1,
					    prm);
		buf_free(&sql);
		rc = rc ? rc : CS_EIO;
		if (!rb)
			goto out;
		rc = CS_ENOMEM;
		kr = calloc((size_t)PQntuples(rb) + 1, sizeof(*kr));
		if (!kr)
			goto out;
		for (int i = 0; i < PQntuples(rb); i++)
			kr[nkr++] = (struct keyrow){ PQgetvalue(rb, i, 0), i };
		qsort(kr, nkr, sizeof(*kr), keyrow_cmp);
	}
	rc = CS_ENOMEM;
	diff = calloc(e->nfields + 1, 1);
	if (!diff)
		goto out;
	rc = CS_OK;
	for (size_t i = 0; i < n && rc == CS_OK; i++) {
		memset(diff, 0, e->nfields + 1);
		rc = judge_item(run, re, ra, (int)i, rb, kr, nkr,
				i < p->n ? &p->items[i] : NULL,
				i < p->n ? NULL : &p->rejects[i - p->n], diff);
	}
out:
	free(diff);
	free(kr);
	PQclear(ra);
	PQclear(rb);
	buf_free(&ids);
	buf_free(&keys);
	return rc;
}

/* ---- one entity ------------------------------------------------------------ */

/* The council's whole collection, page by page from the start of its
 * feed: never more than one page in memory. */
static int council_side(struct rrun *run, struct rentity *re)
{
	char *since = NULL;
	int rc = CS_OK;

	for (long page_no = 0; page_no < MAX_FEED_PAGES; page_no++) {
		struct remote_page p;
		int more;

		rc = remote_changes(run->remote, re->e, since,
				    (long)run->cfg->remote_page_size, &p);
		if (rc) {
			fprintf(stderr, "casesync reconcile: cannot read the council's "
				"records of entity %s (the log line above says why)\n",
				re->e->name);
			rc = CS_EIO;
			break;
		}
		re->pages++;
		more = p.more;
		if (more && (p.n + p.rejected == 0 || !p.next ||
			     (since && !strcmp(since, p.next)))) {
			log_error("reconcile_feed_stuck", "entity=%s page=%ld",
				  re->e->name, page_no + 1);
			fprintf(stderr, "casesync reconcile: the council's feed of "
				"entity %s does not move on\n", re->e->name);
			remote_page_clear(&p);
			rc = CS_EIO;
			break;
		}
		rc = compare_page(run, re, &p);
		free(since);
		since = p.next;
		p.next = NULL;
		remote_page_clear(&p);
		if (rc) {
			if (rc != CS_ENOMEM)
				fprintf(stderr, "casesync reconcile: the database failed "
					"(the log line above says why)\n");
			break;
		}
		if (!more)
			break;
	}
	free(since);
	return rc;
}

/* The provider's records no council record matched: streamed from a
 * cursor, FETCH_ROWS at a time. The cursor is holdable: its rows are kept
 * by the server (on disk when large) once its read-only transaction
 * commits, so no transaction stays open while a slow reader of the output
 * holds the writes up. */
static int provider_side(struct rrun *run, struct rentity *re, long *rest)
{
	const char *prm[] = { re->e->name };
	struct buf sql;
	int rc = CS_EIO;

	*rest = 0;
	if (rest_sql(run->s, re->e, &sql)) {
		buf_free(&sql);
		return CS_ENOMEM;
	}
	if (store_run(run->s, "reconcile_begin", "BEGIN READ ONLY", 0, NULL)) {
		buf_free(&sql);
		goto fail;
	}
	rc = store_run(run->s, "reconcile_declare", sql.data, 1, prm);
	buf_free(&sql);
	if (rc || store_commit(run->s)) {
		rc = CS_EIO;
		goto fail;
	}
	for (;;) {
		PGresult *r = store_exec(run->s, "reconcile_fetch",
					 "FETCH FORWARD " FETCH_ROWS
					 " FROM casesync_reconcile_rest", 0, NULL);
		int n;

		if (!r)
			goto fail;
		n = PQntuples(r);
		for (int i = 0; i < n; i++) {
			struct verdict v = { .e = re->e };

			v.local_key = PQgetvalue(r, i, 0);
			v.remote_id = PQgetisnull(r, i, 1) ? NULL : PQgetvalue(r, i, 1);
			v.st = PQgetvalue(r, i, 2)[0] == 't' ? ST_CONFLICT :
			       ST_MISSING_REMOTE;
			if ((rc = emit(run, re, &v))) {
				PQclear(r);
				goto fail;
			}
			(*rest)++;
		}
		PQclear(r);
		if (n == 0)
			break;
	}
	if (store_run(run->s, "reconcile_close",
		      "CLOSE casesync_reconcile_rest", 0, NULL))
		goto fail;
	return CS_OK;
fail:
	if (PQtransactionStatus(run->s->conn) != PQTRANS_IDLE)
		store_rollback(run->s);
	if (rc != CS_ENOMEM)
		fprintf(stderr, "casesync reconcile: the database failed (the log "
			"line above says why)\n");
	return rc == CS_ENOMEM ? rc : CS_EIO;
}

static int reconcile_entity(struct rrun *run, struct rentity *re)
{
	long rest = 0, council;
	int rc = council_side(run, re);

	council = re->counts->examined;
	if (rc == CS_OK)
		rc = provider_side(run, re, &rest);
	if (rc == CS_OK)
		fprintf(stderr, "casesync reconcile: %s: %ld council record%s in "
			"%ld page%s, %ld provider record%s not matched by one\n",
			re->e->name, council, council == 1 ? "" : "s", re->pages,
			re->pages == 1 ? "" : "s", rest, rest == 1 ? "" : "s");
	return rc;
}

/* ---- the command -------------------------------------------------------------- */

static int usage(FILE *f, int rc)
{
	fprintf(f,
		"usage: casesync reconcile [--entity NAME] [--mapping NAME]\n"
		"                          [--format text|csv|json|html] [--output FILE]\n"
		"                          [--all] [--show-values]\n\n"
		"Compares every record of each entity the daemon syncs, field by\n"
		"field, between the provider store and the council's web service\n"
		"(read from the start of its change feed, one page at a time).\n"
		"Writes nothing to either side. Lists the records that are not in\n"
		"sync (every record with --all): differs (with the fields named),\n"
		"missing_local, missing_remote, conflict, unreadable; then counts\n"
		"per entity. Values are personal data: they are shown only with\n"
		"--show-values. CSV holds the records only (its summary goes to\n"
		"standard error). --output writes FILE (mode 0600) only when the\n"
		"comparison completes.\n"
		"Exit 0 when everything is in sync, 1 when not, 2 on a usage error\n"
		"or when the database or the council could not be read.\n");
	return rc;
}

struct ropts {
	const char *entity;
	const char *mapping;
	const char *output;
	enum rformat fmt;
	int all;
	int show_values;
};

static int parse_args(int argc, char **argv, struct ropts *ro)
{
	memset(ro, 0, sizeof(*ro));
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		const char **slot = !strcmp(a, "--entity") ? &ro->entity :
			!strcmp(a, "--mapping") ? &ro->mapping :
			!strcmp(a, "--output") ? &ro->output : NULL;

		if (slot) {
			if (i + 1 >= argc)
				return -1;
			*slot = argv[++i];
		} else if (!strcmp(a, "--format")) {
			const char *v = i + 1 < argc ? argv[++i] : "";

			if (!strcmp(v, "text"))
				ro->fmt = FMT_TEXT;
			else if (!strcmp(v, "csv"))
				ro->fmt = FMT_CSV;
			else if (!strcmp(v, "json"))
				ro->fmt = FMT_JSON;
			else if (!strcmp(v, "html"))
				ro->fmt = FMT_HTML;
			else
				return -1;
		} else if (!strcmp(a, "--all")) {
			ro->all = 1;
		} else if (!strcmp(a, "--show-values")) {
			ro->show_values = 1;
		} else {
			fprintf(stderr, "casesync reconcile: unexpected argument '%s'\n",
				a);
			return -1;
		}
	}
	return 0;
}

/* The output: standard output, or a private temporary file next to FILE
 * that replaces FILE once complete. */
static FILE *out_open(const char *path, char **tmp)
{
	FILE *f;
	int fd;

	*tmp = NULL;
	if (!path || !strcmp(path, "-"))
		return stdout;
	if (asprintf(tmp, "%s.XXXXXX", path) < 0) {
		*tmp = NULL;
		return NULL;
	}
	fd = mkstemp(*tmp);	/* mode 0600: the report may hold personal data */
	if (fd < 0) {
		free(*tmp);
		*tmp = NULL;
		return NULL;
	}
	f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		unlink(*tmp);
		free(*tmp);
		*tmp = NULL;
	}
	return f;
}

static int out_close(FILE *f, const char *path, char *tmp, int keep)
{
	int rc = CS_OK;

	if (fflush(f) || ferror(f))
		rc = CS_EIO;
	if (f == stdout) {
		free(tmp);
		return rc;
	}
	if (rc == CS_OK && keep && fsync(fileno(f)))
		rc = CS_EIO;
	if (fclose(f))
		rc = CS_EIO;
	if (rc == CS_OK && keep && rename(tmp, path))
		rc = CS_EIO;
	if (rc || !keep)
		unlink(tmp);
	free(tmp);
	return rc;
}

/* The entities to compare: every one the daemon syncs, or the one named. */
static int pick_entities(const struct mapping_set *set, const char *name,
			 struct rentity *ents, size_t *n)
{
	*n = 0;
	for (size_t i = 0; i < set->nentities; i++) {
		const struct map_entity *e = &set->entities[i];

		if (name && strcmp(name, e->name))
			continue;
		if (!engine_syncs(e)) {
			if (!name)
				continue;
			if (e->parent)
				fprintf(stderr, "casesync reconcile: entity %s travels "
					"inside its parent's record: reconcile %s\n",
					e->name, e->parent->name);
			else
				fprintf(stderr, "casesync reconcile: entity %s has no "
					"web-service collection\n", e->name);
			return -1;
		}
		ents[(*n)++].e = e;
	}
	if (name && *n == 0) {
		fprintf(stderr, "casesync reconcile: mapping set %s has no entity "
			"'%s'\n", set->name, name);
		return -1;
	}
	return 0;
}

static int run_all(struct rrun *run, struct rentity *ents, size_t n)
{
	int rc = CS_OK;

	for (size_t i = 0; i < n && rc == CS_OK; i++) {
		ents[i].counts = &run->counts[ents[i].e - run->maps->entities];
	}
	if (rc == CS_OK)
		out_begin(run);
	for (size_t i = 0; i < n && rc == CS_OK; i++)
		rc = reconcile_entity(run, &ents[i]);
	if (rc == CS_OK)
		rc = out_end(run, ents, n);
	if (rc == CS_ENOMEM)
		fprintf(stderr, "casesync reconcile: out of memory\n");
	return rc;
}

/* Connects with the session the comparison needs: schema current, and the
 * temporary table of matched keys. */
static struct store *open_store(const struct config *cfg)
{
	struct store *s = cli_open_store(cfg, "casesync reconcile");

	if (!s)
		return NULL;
	if (store_run(s, "reconcile_temp",
		      "CREATE TEMPORARY TABLE casesync_reconcile_seen ("
		      "entity text NOT NULL, local_key text NOT NULL, "
		      "PRIMARY KEY (entity, local_key))", 0, NULL)) {
		fprintf(stderr, "casesync reconcile: cannot create a temporary "
			"table (the role needs TEMPORARY on the database)\n");
		store_close(s);
		return NULL;
	}
	return s;
}

static struct mapping_set *load_set(const struct config *cfg, const char *name)
{
	struct mapping_set *set;
	struct diag d;

	if (!*name) {
		fprintf(stderr, "casesync reconcile: no mapping set (set mappings.use "
			"or give --mapping NAME)\n");
		return NULL;
	}
	diag_init(&d);
	set = mapping_set_load(cfg->mappings_dir, name, &d);
	if (!set)
		diag_print(&d, stderr);
	diag_free(&d);
	return set;
}

int cmd_reconcile(const struct options *o, int argc, char **argv)
{
	struct ropts ro;
	struct config *cfg = NULL;
	struct mapping_set *set = NULL;
	struct rentity *ents = NULL;
	struct rrun run;
	enum log_level lv;
	char err[512], *tmp = NULL;
	size_t n = 0;
	int rc = RECONCILE_EXIT_TROUBLE, curl = 0;

	memset(&run, 0, sizeof(run));
	for (int i = 0; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return usage(stdout, 0);
	if (parse_args(argc, argv, &ro))
		return usage(stderr, RECONCILE_EXIT_TROUBLE);
	cfg = options_load_config(o);
	if (!cfg)
		return RECONCILE_EXIT_TROUBLE;
	if (log_parse_level(cfg->daemon_log_level, &lv) == CS_OK)
		log_set_level(lv);
	if (cfg->remote_transport == TRANSPORT_FILES) {
		fprintf(stderr, "casesync reconcile: remote.transport is files: there "
			"is no live council to read, only the extract files it sends "
			"(casesync import takes them in). Nothing compared.\n");
		goto out;
	}
	if (!*cfg->remote_url) {
		fprintf(stderr, "casesync reconcile: remote.url is not set\n");
		goto out;
	}
	set = load_set(cfg, ro.mapping ? ro.mapping : cfg->mappings_use);
	if (!set)
		goto out;
	ents = calloc(set->nentities + 1, sizeof(*ents));
	run.counts = calloc(set->nentities + 1, sizeof(*run.counts));
	if (!ents || !run.counts)
		goto out;
	if (pick_entities(set, ro.entity, ents, &n))
		goto out;
	if (n == 0) {
		fprintf(stderr, "casesync reconcile: mapping set %s has no entity "
			"with a web-service collection\n", set->name);
		goto out;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		goto out;
	curl = 1;
	run.remote = remote_new(cfg, err, sizeof(err));
	if (!run.remote) {
		fprintf(stderr, "casesync reconcile: %s\n", err);
		goto out;
	}
	run.s = open_store(cfg);
	if (!run.s)
		goto out;
	run.out = out_open(ro.output, &tmp);
	if (!run.out) {
		fprintf(stderr, "casesync reconcile: %s: cannot be written: %s\n",
			ro.output, strerror(errno));
		goto out;
	}
	run.cfg = cfg;
	run.maps = set;
	run.fmt = ro.fmt;
	run.all = ro.all;
	run.show_values = ro.show_values;
	{
		int rrc = run_all(&run, ents, n);

		if (out_close(run.out, ro.output, tmp, rrc == CS_OK) && rrc == CS_OK) {
			fprintf(stderr, "casesync reconcile: %s: cannot be written\n",
				ro.output ? ro.output : "standard output");
			rrc = CS_EIO;
		}
		if (rrc == CS_OK)
			rc = not_in_sync(&run.total) ? RECONCILE_EXIT_DIFFER :
						       RECONCILE_EXIT_SAME;
	}
out:
	for (size_t i = 0; ents && i < n; i++) {
	}
	free(ents);
	free(run.counts);
	store_close(run.s);
	remote_free(run.remote);
	if (curl)
		curl_global_cleanup();
	mapping_set_free(set);
	config_free(cfg);
	return rc;
}
