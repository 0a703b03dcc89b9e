/* cli_audit.c - `casesync audit trace | export | verify | checkpoint |
 * erase`: the audit trail read back for auditors (a record's history, the
 * whole trail for their own tools), checked against its chain and signed
 * checkpoints, signed now, and its values erased at the end of their
 * retention. trace, export and verify work with the grants of
 * casesync_auditor. */
#include "cli_audit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "audit.h"
#include "cli.h"
#include "store.h"

#define FETCH_ROWS "1000"

/* The columns both commands read, in this order. */
#define AUDIT_COLUMNS "seq, to_char(at AT TIME ZONE 'UTC', " \
	AUDIT_TIME_SQL "), coalesce(cycle_id::text, ''), " \
	"actor, action, entity, coalesce(local_key, ''), " \
	"coalesce(remote_id, ''), source, coalesce(version, ''), outcome, " \
	"changes::text, coalesce(to_char(erased_at AT TIME ZONE 'UTC', " \
	AUDIT_TIME_SQL "), ''), coalesce(hash, '')"

enum col { C_SEQ, C_AT, C_CYCLE, C_ACTOR, C_ACTION, C_ENTITY, C_LOCAL,
	   C_REMOTE, C_SOURCE, C_VERSION, C_OUTCOME, C_CHANGES, C_ERASED,
	   C_HASH, C_N };

static const char *const col_names[C_N] = {
	"seq", "at", "cycle_id", "actor", "action", "entity", "local_key",
	"remote_id", "source", "version", "outcome", "changes", "erased_at",
	"hash",
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
		const char *none = *PQgetvalue(r, i, C_ERASED) ? "(erased)" : "(none)";

		if (old || new)
			printf("    %s: %s -> %s\n", k,
			       json_is_string(old) ? json_string_value(old) : none,
			       json_is_string(new) ? json_string_value(new) : none);
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

/* ---- verify ---- */

#define MAX_CHECKPOINT_FILES 64

struct cp_ref {
	struct audit_checkpoint cp;
	char from[300];		/* the file, or "the database" */
	int unchecked;		/* stored, signed by a key not configured */
};

struct verify {
	struct cp_ref *cps;
	int ncps, cap, unchecked;
	long long entries, values, erased;
	long long nokey, nokey_first;	/* entries whose key is not configured */
	char nokey_what[512];
	char prev[AUDIT_HASH_HEX];
};

static struct cp_ref *cp_add(struct verify *v)
{
	if (v->ncps == v->cap) {
		int cap = v->cap ? v->cap * 2 : 16;
		struct cp_ref *n = realloc(v->cps, (size_t)cap * sizeof(*n));

		if (!n)
			return NULL;
		v->cps = n;
		v->cap = cap;
	}
	memset(&v->cps[v->ncps], 0, sizeof(v->cps[0]));
	return &v->cps[v->ncps++];
}

/* Reports the first bad entry and gives exit status 1. */
static int bad(long long entry, const char *what)
{
	printf("audit trail NOT intact: first bad entry %lld: %s\n", entry, what);
	return 1;
}

static int load_stored_checkpoints(struct store *s, struct verify *v)
{
	PGresult *r = store_exec(s, "audit_checkpoints",
		"SELECT entries, head, to_char(made_at AT TIME ZONE 'UTC', "
		AUDIT_TIME_SQL "), key_id, signature "
		"FROM casesync.audit_checkpoints ORDER BY entries", 0, NULL);

	if (!r)
		return CS_EIO;
	for (int i = 0; i < PQntuples(r); i++) {
		struct cp_ref *c = cp_add(v);

		if (!c) {
			PQclear(r);
			return CS_ENOMEM;
		}
		if (cs_parse_int64(PQgetvalue(r, i, 0), 1, (long long)1 << 62,
				   &c->cp.entries)) {
			v->ncps--;
			continue;
		}
		cs_strlcpy(c->cp.head, PQgetvalue(r, i, 1), sizeof(c->cp.head));
		cs_strlcpy(c->cp.at, PQgetvalue(r, i, 2), sizeof(c->cp.at));
		cs_strlcpy(c->cp.key_id, PQgetvalue(r, i, 3), sizeof(c->cp.key_id));
		cs_strlcpy(c->cp.signature, PQgetvalue(r, i, 4),
			   sizeof(c->cp.signature));
		snprintf(c->from, sizeof(c->from), "the database");
	}
	PQclear(r);
	return CS_OK;
}

/* The checkpoints that cover entry n: each must name its hash. */
static int check_checkpoints_at(const struct verify *v, long long n,
				const char *hash)
{
	for (int i = 0; i < v->ncps; i++) {
		const struct cp_ref *c = &v->cps[i];
		char what[512];

		if (c->cp.entries != n || c->unchecked || !strcmp(c->cp.head, hash))
			continue;
		snprintf(what, sizeof(what), "the trail up to entry %lld is not "
			 "the one signed at %s (checkpoint from %s): it was altered "
			 "since", n, c->cp.at, c->from);
		return bad(n, what);
	}
	return 0;
}

/* One entry: in its place, its values matching their digests, its hash
 * matching its contents and the entry before it. 0, 1 (bad) or 2. */
static int verify_entry(struct verify *v, const struct audit_keys *keys,
			PGresult *r, int i)
{
	enum { V_SEQ, V_AT, V_CYCLE, V_ACTOR, V_ACTION, V_ENTITY, V_LOCAL,
	       V_REMOTE, V_SOURCE, V_VERSION, V_OUTCOME, V_KEY, V_HASH,
	       V_CHANGES, V_DIGESTS, V_ERASED };
	long long want = v->entries + 1, seq;
	struct audit_row row;
	char hash[AUDIT_HASH_HEX], what[512];
	json_t *changes, *digests;
	int rc;

#define COL(c) (PQgetisnull(r, i, c) ? NULL : PQgetvalue(r, i, c))
	if (cs_parse_int64(COL(V_SEQ), 1, (long long)1 << 62, &seq))
		return bad(want, "an entry has no valid sequence number");
	if (seq != want) {
		snprintf(what, sizeof(what), "entry %lld is missing (the next one "
			 "is %lld): deleted", want, seq);
		return bad(want, what);
	}
	if (!COL(V_HASH) || !COL(V_DIGESTS))
		return bad(seq, "it is not chained");
	/* The chain first: it needs no key, so an altered key id cannot
	 * hide an entry from it. */
	digests = json_loads(PQgetvalue(r, i, V_DIGESTS), 0, NULL);
	audit_row_from_result(r, i, &row);
	row.key_id = COL(V_KEY);
	row.digests = digests;
	rc = digests ? audit_row_hash(v->prev, &row, hash) : CS_EINVAL;
	if (rc || strcmp(hash, PQgetvalue(r, i, V_HASH))) {
		json_decref(digests);
		return bad(seq, "its hash does not match its contents and "
			   "the entry before it (altered, moved or inserted)");
	}
	/* Then the values against their digests. */
	changes = json_loads(PQgetvalue(r, i, V_CHANGES), 0, NULL);
	rc = audit_check_values(keys, COL(V_KEY), COL(V_SEQ), changes, digests,
				PQgetvalue(r, i, V_ERASED)[0] == 't', what,
				sizeof(what));
	json_decref(changes);
	json_decref(digests);
	if (rc == CS_EINVAL) {
		/* A key not configured: the chain goes on; the values of this
		 * entry stay unchecked, and verify cannot say "intact". */
		if (!v->nokey_first) {
			v->nokey_first = seq;
			cs_strlcpy(v->nokey_what, what, sizeof(v->nokey_what));
		}
		v->nokey++;
	} else if (rc) {
		char edited[600];

		snprintf(edited, sizeof(edited), "%s (edited)", what);
		return bad(seq, edited);
	}
#undef COL
	if (check_checkpoints_at(v, seq, hash))
		return 1;
	memcpy(v->prev, hash, sizeof(v->prev));
	v->entries = seq;
	if (rc == CS_EINVAL)
		return 0;
	v->values++;
	if (PQgetvalue(r, i, V_ERASED)[0] == 't')
		v->erased++;
	return 0;
}

static int cmd_verify(const struct options *o, int argc, char **argv)
{
	struct verify *v = calloc(1, sizeof(*v));
	struct config *cfg = NULL;
	struct store *s = NULL;
	struct audit_keys *keys = NULL;
	struct audit_signkey *pub = NULL;
	const char *files[MAX_CHECKPOINT_FILES];
	int nfiles = 0, rc = 2, stored_from;
	char err[512] = "out of memory";
	long long head_entries = -1;
	char head_hash[AUDIT_HASH_HEX] = "";

	if (!v)
		return 2;
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--checkpoint") && i + 1 < argc &&
		    nfiles < MAX_CHECKPOINT_FILES) {
			files[nfiles++] = argv[++i];
		} else {
			fprintf(stderr, "usage: casesync audit verify "
				"[--checkpoint FILE]...\n");
			free(v);
			return 2;
		}
	}
	if (!(cfg = options_load_config(o)))
		goto out;
	if (audit_keys_load(cfg, &keys, err, sizeof(err))) {
		fprintf(stderr, "casesync audit verify: %s\n", err);
		goto out;
	}
	if (*cfg->audit_public_key_file || *cfg->audit_signing_key_file) {
		int pubrc = *cfg->audit_public_key_file ?
			audit_signkey_load("audit.public_key_file",
					   cfg->audit_public_key_file, 0, &pub, err,
					   sizeof(err)) :
			audit_signkey_load("audit.signing_key_file",
					   cfg->audit_signing_key_file, 1, &pub, err,
					   sizeof(err));

		if (pubrc) {
			fprintf(stderr, "casesync audit verify: %s\n", err);
			goto out;
		}
	}
	for (int i = 0; i < nfiles; i++) {
		struct cp_ref *c = cp_add(v);

		if (!c || audit_checkpoint_read(files[i], &c->cp, err, sizeof(err))) {
			fprintf(stderr, "casesync audit verify: %s\n", err);
			goto out;
		}
		snprintf(c->from, sizeof(c->from), "%s", files[i]);
	}
	if (nfiles && !pub) {
		fprintf(stderr, "casesync audit verify: checking a checkpoint needs "
			"audit.public_key_file\n");
		goto out;
	}
	if (!(s = cli_open_store(cfg, "casesync audit verify")))
		goto out;
	/* One snapshot for the head, the checkpoints and every entry. */
	if (store_run(s, "verify_begin",
		      "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL))
		goto dberr;
	stored_from = v->ncps;
	if (load_stored_checkpoints(s, v))
		goto dberr;
	for (int i = 0; i < v->ncps; i++) {
		struct cp_ref *c = &v->cps[i];

		if (!pub)
			continue;
		/* One stored by a key verify was not given (an earlier signing
		 * key): not evidence either way. A file given is always checked. */
		if (i >= stored_from && strcmp(c->cp.key_id, audit_signkey_id(pub))) {
			c->unchecked = 1;
			v->unchecked++;
			continue;
		}
		if (audit_checkpoint_verify(pub, &c->cp)) {
			printf("audit trail NOT intact: the checkpoint from %s (entries "
			       "%lld) does not carry a good signature by key %s\n",
			       c->from, c->cp.entries, audit_signkey_id(pub));
			rc = 1;
			goto done;
		}
	}
	if (!pub)
		v->ncps = stored_from;	/* unsigned-for-us ones are not used */
	{
		PGresult *h = store_exec(s, "verify_head",
					 "SELECT entries, coalesce(hash, '') FROM "
					 "casesync.audit_head", 0, NULL);

		if (!h)
			goto dberr;
		if (PQntuples(h) == 1 &&
		    !cs_parse_int64(PQgetvalue(h, 0, 0), 0, (long long)1 << 62,
				    &head_entries))
			cs_strlcpy(head_hash, PQgetvalue(h, 0, 1), sizeof(head_hash));
		PQclear(h);
	}
	if (store_run(s, "verify_declare",
		      "DECLARE casesync_audit_verify NO SCROLL CURSOR FOR "
		      "SELECT " AUDIT_ROW_SQL ", a.key_id, a.hash, "
		      "a.changes::text, a.digests::text, a.erased_at IS NOT NULL "
		      "FROM casesync.audit a ORDER BY a.seq",
		      0, NULL))
		goto dberr;
	for (;;) {
		PGresult *r = store_exec(s, "verify_fetch", "FETCH FORWARD "
					 FETCH_ROWS " FROM casesync_audit_verify",
					 0, NULL);
		int n;

		if (!r)
			goto dberr;
		n = PQntuples(r);
		for (int i = 0; i < n; i++) {
			rc = verify_entry(v, keys, r, i);
			if (rc) {
				PQclear(r);
				goto done;
			}
		}
		PQclear(r);
		if (n == 0)
			break;
	}
	for (int i = 0; i < v->ncps; i++) {
		const struct cp_ref *c = &v->cps[i];
		char what[1024];

		if (c->cp.entries <= v->entries || c->unchecked)
			continue;
		snprintf(what, sizeof(what), "the trail ends at entry %lld but the "
			 "checkpoint from %s (signed at %s) covers %lld entries: the "
			 "entries after %lld were removed (truncated)", v->entries,
			 c->from, c->cp.at, c->cp.entries, v->entries);
		rc = bad(v->entries + 1, what);
		goto done;
	}
	if (head_entries != v->entries ||
	    (v->entries && strcmp(head_hash, v->prev))) {
		char what[256];

		snprintf(what, sizeof(what), "the trail's head says %lld entries "
			 "but the trail has %lld, or another last hash (entries "
			 "removed or added)", head_entries, v->entries);
		rc = bad(v->entries < head_entries ? v->entries + 1 : v->entries,
			 what);
		goto done;
	}
	if (v->nokey) {
		printf("audit trail chain intact up to entry %lld, but the values of "
		       "%lld entr%s could not be checked, from entry %lld: %s\n",
		       v->entries, v->nokey, v->nokey == 1 ? "y" : "ies",
		       v->nokey_first, v->nokey_what);
		rc = 2;
		goto done;
	}
	printf("audit trail intact: %lld entr%s, head %s\n", v->entries,
	       v->entries == 1 ? "y" : "ies", v->entries ? v->prev : "(none)");
	printf("values checked against their digests in %lld entr%s; %lld "
	       "entr%s erased after retention\n", v->values - v->erased,
	       v->values - v->erased == 1 ? "y" : "ies", v->erased,
	       v->erased == 1 ? "y has its values" : "ies have their values");
	if (!pub) {
		printf("checkpoints: not checked (no audit.public_key_file)\n");
	} else {
		long long latest = 0;

		for (int i = 0; i < v->ncps; i++)
			if (!v->cps[i].unchecked && v->cps[i].cp.entries > latest)
				latest = v->cps[i].cp.entries;
		printf("checkpoints: %d verified (%d from files), signed by key "
		       "%s; the latest covers %lld of %lld entries\n",
		       v->ncps - v->unchecked, nfiles, audit_signkey_id(pub), latest,
		       v->entries);
		if (v->unchecked)
			printf("checkpoints: %d stored ones signed by another key, "
			       "not checked (give it as audit.public_key_file)\n",
			       v->unchecked);
	}
	rc = 0;
done:
	store_rollback(s);
	goto out;
dberr:
	store_rollback(s);
	fprintf(stderr, "casesync: cannot read the audit trail (is this role a "
		"member of casesync_auditor?)\n");
	rc = 2;
out:
	store_close(s);
	audit_signkey_free(pub);
	audit_keys_free(keys);
	config_free(cfg);
	free(v->cps);
	free(v);
	return rc;
}

/* ---- checkpoint ---- */

static int cmd_checkpoint(const struct options *o, int argc, char **argv)
{
	const char *output = NULL;
	struct config *cfg = NULL;
	struct store *s = NULL;
	struct audit_signkey *k = NULL;
	struct audit_checkpoint cp;
	char err[512] = "out of memory";
	int rc = 1, made = 0, mrc;
	FILE *f;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--output") && i + 1 < argc) {
			output = argv[++i];
		} else {
			fprintf(stderr, "usage: casesync audit checkpoint "
				"[--output FILE]\n");
			return 2;
		}
	}
	if (!(cfg = options_load_config(o)))
		goto out;
	if (!*cfg->audit_signing_key_file) {
		fprintf(stderr, "casesync audit checkpoint: audit.signing_key_file "
			"is not set\n");
		goto out;
	}
	if (audit_signkey_load("audit.signing_key_file",
			       cfg->audit_signing_key_file, 1, &k, err,
			       sizeof(err))) {
		fprintf(stderr, "casesync audit checkpoint: %s\n", err);
		goto out;
	}
	if (!(s = cli_open_store(cfg, "casesync audit checkpoint")))
		goto out;
	mrc = audit_checkpoint_make(s, k, NULL, cfg->audit_checkpoint_dir, &cp,
				    &made);
	if (mrc == CS_ENOTFOUND) {
		fprintf(stderr, "casesync audit checkpoint: the trail has no "
			"chained entries yet\n");
		goto out;
	}
	if (mrc) {
		fprintf(stderr, "casesync audit checkpoint: cannot store the "
			"checkpoint (is this role a member of casesync_daemon?)\n");
		goto out;
	}
	f = output ? fopen(output, "we") : stdout;
	if (!f || audit_checkpoint_write(&cp, f) || (output && fclose(f))) {
		if (f && output)
			fclose(f);
		fprintf(stderr, "casesync audit checkpoint: cannot write %s\n",
			output ? output : "the checkpoint");
		goto out;
	}
	fprintf(stderr, "%s checkpoint: %lld entries, head %s\n",
		made ? "signed a new" : "the head is signed already; exported its",
		cp.entries, cp.head);
	rc = 0;
out:
	store_close(s);
	audit_signkey_free(k);
	config_free(cfg);
	return rc;
}

/* ---- erase ---- */

static int cmd_erase(const struct options *o, int argc, char **argv)
{
	const char *before = NULL;
	struct config *cfg = NULL;
	struct store *s = NULL;
	PGresult *r = NULL;
	int rc = 1, dry = 0;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--before") && i + 1 < argc) {
			before = argv[++i];
		} else if (!strcmp(argv[i], "--dry-run")) {
			dry = 1;
		} else {
			before = NULL;
			break;
		}
	}
	if (!before) {
		fprintf(stderr, "usage: casesync audit erase --before T "
			"[--dry-run]\n");
		return 2;
	}
	if (!(s = open_store(o, &cfg)))
		goto out;
	{
		const char *p[] = { before };

		if (store_begin(s, 0))
			goto out;
		r = store_exec(s, "audit_erase",
			       "WITH e AS (UPDATE casesync.audit SET changes = "
			       "casesync.audit_erased(changes), erased_at = now() "
			       "WHERE at < $1::timestamptz AND $1::timestamptz <= now() "
			       "AND erased_at IS NULL AND changes <> '{}'::jsonb "
			       "RETURNING 1) SELECT count(*) FROM e", 1, p);
		if (!r || (dry ? (store_rollback(s), 0) : store_commit(s))) {
			store_rollback(s);
			fprintf(stderr, "casesync audit erase: nothing erased (is T a "
				"time in the past, such as 2019-04-01, and is this role "
				"the owner of schema casesync?)\n");
			goto out;
		}
	}
	printf("%s the values of %s entr%s written before %s; their digests "
	       "stay, so the trail still verifies\n", dry ? "would erase" : "erased",
	       PQgetvalue(r, 0, 0), strcmp(PQgetvalue(r, 0, 0), "1") ? "ies" : "y",
	       before);
	rc = 0;
out:
	PQclear(r);
	store_close(s);
	config_free(cfg);
	return rc;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: casesync audit trace ENTITY KEY [--format text|json]\n"
		"       casesync audit export --format jsonl|csv [--from T] [--to T] "
		"[--redact]\n"
		"       casesync audit verify [--checkpoint FILE]...\n"
		"       casesync audit checkpoint [--output FILE]\n"
		"       casesync audit erase --before T [--dry-run]\n\n"
		"trace: a record's history on both systems in time order (KEY is\n"
		"the provider's key or the council's id), with each field's old\n"
		"and new value. export: the whole trail (or the part from --from\n"
		"up to --to) for an auditor's own tools, as JSON lines or CSV\n"
		"(RFC 4180); --redact replaces every value by a marker, keeping\n"
		"which fields changed. Run them as a member of casesync_auditor.\n"
		"verify: checks every entry against its chain and its values\n"
		"against their digests (audit.key_file), and the trail against\n"
		"the signed checkpoints stored and given (audit.public_key_file);\n"
		"exit 0 when intact, 1 naming the first bad entry, 2 when it\n"
		"cannot be checked. checkpoint: signs the trail's head now\n"
		"(audit.signing_key_file) and writes the checkpoint to keep\n"
		"elsewhere. erase: replaces the values of entries older than T\n"
		"by null at the end of their retention (as the schema's owner).\n"
		"trace and export: exit 0, 1 when the trail cannot be read, 2 on\n"
		"a usage error. docs/audit.md.\n");
}

int cmd_audit(const struct options *o, int argc, char **argv)
{
	static const struct cli_sub subs[] = {
		{ "trace", cmd_trace }, { "export", cmd_export },
		{ "verify", cmd_verify }, { "checkpoint", cmd_checkpoint },
		{ "erase", cmd_erase }, { NULL, NULL },
	};

	return cli_dispatch("audit", subs, usage, o, argc, argv);
}
