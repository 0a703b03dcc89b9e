/* engine.c - the route of a record: pull, merge, apply, push, audit. */
#include "engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/rand.h>

#include "audit.h"
#include "exporter.h"
#include "failpoint.h"
#include "importer.h"
#include "transport_files.h"
#include "log.h"
#include "merge.h"

#define MAX_PAGES_PER_CYCLE 100000
#define MAX_PUSH_PER_CYCLE 10000
#define MAX_412_RETRIES 3

static int new_idempotency_key(char out[33])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[16];

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return CS_ERR;
	for (int i = 0; i < 16; i++) {
		out[2 * i] = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 15];
	}
	out[32] = '\0';
	return CS_OK;
}

static void audit_fill(struct engine *en, struct audit_entry *a,
		       const struct map_entity *e, const char *action,
		       const char *local_key, const char *remote_id,
		       enum side source, const char *version,
		       const char *outcome)
{
	memset(a, 0, sizeof(*a));
	a->cycle_id = en->cycle_id;
	a->actor = en->actor;
	a->action = action;
	a->entity = e;
	a->local_key = local_key;
	a->remote_id = remote_id;
	a->source = source;
	a->version = version;
	a->outcome = outcome;
}

static struct engine_entity_counts *ecount(struct engine *en,
					   const struct map_entity *e)
{
	static struct engine_entity_counts sink;

	if (!en->per_entity || e < en->maps->entities ||
	    e >= en->maps->entities + en->maps->nentities)
		return &sink;
	return &en->per_entity[e - en->maps->entities];
}

static int apply_children(struct engine *en, const struct map_entity *e,
			  const char *key, const struct record *rec,
			  const char *version, struct engine_counts *c);

/* Whether a council record lacks a value only the provider assigns (a
 * field flowing to the council and not back). */
static int lacks_provider_values(const struct map_entity *e,
				 const struct record *rec)
{
	for (size_t i = 0; i < e->nfields; i++)
		if (!mapping_field_flows_to(&e->fields[i], SIDE_LOCAL) &&
		    mapping_field_flows_to(&e->fields[i], SIDE_REMOTE) &&
		    !record_get(rec, i))
			return 1;
	return 0;
}

/* A council record we have never seen: create it in the provider store. */
static int pull_create(struct engine *en, const struct map_entity *e,
		       struct codec_item *it, int relink,
		       struct engine_counts *c)
{
	struct audit_entry a;
	char *key = NULL;
	int rc;

	rc = store_local_insert(en->store, e, it->rec, &key);
	if (rc == CS_OK)
		rc = relink ? store_crosswalk_relink(en->store, e->name, key,
						     it->remote_id) :
			store_crosswalk_put(en->store, e->name, key, it->remote_id);
	if (rc == CS_OK)
		rc = store_base_put(en->store, e, key, it->rec, it->version);
	if (rc == CS_OK) {
		audit_fill(en, &a, e, "create_local", key, it->remote_id,
			   SIDE_REMOTE, it->version, "applied");
		a.new_rec = it->rec;
		rc = audit_write(en->store, &a);
	}
	if (rc == CS_OK && !e->parent && lacks_provider_values(e, it->rec))
		/* The council is told the provider's own values (its key, say)
		 * by the push phase; until then its record differs from the
		 * provider's in them. */
		rc = store_change_enqueue(en->store, e->name, key);
	if (rc == CS_OK) {
		c->created_local++;
		c->pulled++;
		ecount(en, e)->created++;
		log_info("record_created", "entity=%s direction=to_provider "
			 "local_key=%s remote_id=%s", e->name, key, it->remote_id);
	}
	if (rc == CS_OK && en->nested)
		rc = apply_children(en, e, key, it->rec, it->version, c);
	free(key);
	return rc;
}

/* ---- the clocks and the newest policy ---- */

/* Whether the council's clock (from its Date header) is off from the
 * database's by more than sync.max_clock_skew_s. Then the newest policy
 * cannot be trusted and falls back to a person; the alarm is logged once
 * per cycle. */
static void check_clock(struct engine *en)
{
	long long remote_off, skew;

	if (!en->db_clock_known || !remote_clock_offset(en->remote, &remote_off))
		return;
	skew = remote_off - en->db_clock_offset;
	en->skew_s = skew < 0 ? -skew : skew;
	if (en->skew_s > en->cfg->sync_max_clock_skew_s && !en->skew_alarm) {
		en->skew_alarm = 1;
		log_error("clock_skew", "seconds=%lld bound=%lld action=\"newest "
			  "policy held for a person\"", skew,
			  en->cfg->sync_max_clock_skew_s);
	}
}

/* Which side changed the record last, when a newest field needs it. */
static enum merge_newer newer_of(struct engine *en, const struct map_entity *e,
				 const char *key, const struct codec_item *cur)
{
	enum merge_newer n;
	char *lm = NULL;

	check_clock(en);
	if (en->skew_alarm || !cur->modified || !e->local_modified_col)
		return MERGE_NEWER_UNKNOWN;
	if (store_local_modified(en->store, e, key, &lm))
		return MERGE_NEWER_UNKNOWN;
	/* Within the measured skew the two clocks cannot order the changes.
	 * The Date header counts whole seconds, so a skew of one second may
	 * be none; a second of margin stays either way. */
	n = merge_newer_by_time(lm, cur->modified,
				(en->skew_s > 1 ? en->skew_s : 1) * 1000);
	free(lm);
	return n;
}

static int needs_newest(const struct map_entity *e, const struct merge_result *m)
{
	for (size_t i = 0; i < e->nfields; i++)
		if (m->decisions[i] == MD_MANUAL &&
		    e->fields[i].policy == POLICY_NEWEST)
			return 1;
	return 0;
}

/* The three-way merge, with the modification times consulted only when a
 * field's newest policy needs them. */
static int merge3(struct engine *en, const struct map_entity *e,
		  const char *key, const struct record *base,
		  const struct record *local, const struct codec_item *cur,
		  struct merge_result *m)
{
	enum merge_newer newer;
	int rc = merge_records(base, local, cur->rec, MERGE_NEWER_UNKNOWN, m);

	if (rc || !m->manual || !needs_newest(e, m))
		return rc;
	newer = newer_of(en, e, key, cur);
	if (newer == MERGE_NEWER_UNKNOWN)
		return CS_OK;
	merge_result_clear(m);
	return merge_records(base, local, cur->rec, newer, m);
}

/* ---- the conflict queue ---- */

static json_t *jstr(const char *v)
{
	return v ? json_string(v) : json_null();
}

/* {"field": {"base": v, "local": v, "remote": v}} for the fields a person
 * must decide (dec given: the manual ones), or for a delete-versus-modify
 * every field the surviving side changed since the base. */
static json_t *conflict_fields(const struct map_entity *e,
			       const struct record *base,
			       const struct record *local,
			       const struct record *remote,
			       const enum merge_decision *dec)
{
	const struct record *alive = local ? local : remote;
	json_t *o = json_object();

	for (size_t i = 0; o && i < e->nfields; i++) {
		const char *b = base ? record_get(base, i) : NULL;
		json_t *f;

		if (dec ? dec[i] != MD_MANUAL :
		    (!alive || (base && cs_streq(b, record_get(alive, i)))))
			continue;
		f = json_pack("{s:o,s:o,s:o}", "base", jstr(b),
			      "local", jstr(local ? record_get(local, i) : NULL),
			      "remote", jstr(remote ? record_get(remote, i) : NULL));
		if (!f || json_object_set_new(o, e->fields[i].name, f)) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

/* Holds a record for a person, inside the caller's transaction: one row in
 * casesync.conflicts (unless one is already unsettled) and its audit row.
 * Only this record waits; everything else keeps flowing. */
static int conflict_open(struct engine *en, const struct map_entity *e,
			 const char *kind, const char *key,
			 const char *remote_id, const struct record *base,
			 const struct record *local, const struct codec_item *cur,
			 const enum merge_decision *dec, const char *base_ver,
			 struct engine_counts *c)
{
	const struct record *remote = cur && !cur->deleted ? cur->rec : NULL;
	json_t *f = conflict_fields(e, base, local, remote, dec);
	char *text = f ? json_dumps(f, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	char cycle[32];
	const char *p[] = { e->name, key, remote_id, text, kind, base_ver,
			    cur ? cur->version : NULL, cycle };
	struct audit_entry a;
	PGresult *r;
	int rc = CS_ENOMEM, opened;

	json_decref(f);
	if (!text)
		return rc;
	snprintf(cycle, sizeof(cycle), "%lld", en->cycle_id);
	r = store_exec(en->store, "conflict_open",
		       "INSERT INTO casesync.conflicts (entity, local_key, remote_id, "
		       "fields, kind, base_version, remote_version, opened_cycle) "
		       "VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, "
		       "nullif($8, '0')::bigint) ON CONFLICT (entity, local_key) "
		       "WHERE status IN ('open', 'resolved') DO NOTHING RETURNING id",
		       8, p);
	free(text);
	if (!r)
		return CS_EIO;
	opened = PQntuples(r) == 1;
	if (opened)
		log_warn("record_conflict", "entity=%s local_key=%s remote_id=%s "
			 "conflict=%s kind=%s", e->name, key,
			 remote_id ? remote_id : "-", PQgetvalue(r, 0, 0), kind);
	PQclear(r);
	c->conflicts++;
	ecount(en, e)->conflicts++;
	if (!opened)
		return CS_OK;
	audit_fill(en, &a, e, "conflict_open", key, remote_id, SIDE_REMOTE,
		   cur ? cur->version : NULL, "held");
	a.old_rec = local;
	a.new_rec = remote;
	rc = audit_write(en->store, &a);
	return rc;
}

/* Whether a record waits for a person (an open conflict, or a resolution
 * the daemon has not applied yet). */
static int is_held(struct engine *en, const struct map_entity *e,
		   const char *key, int *held)
{
	const char *p[] = { e->name, key };
	PGresult *r = store_exec(en->store, "conflict_held",
				 "SELECT 1 FROM casesync.conflicts WHERE entity = $1 "
				 "AND local_key = $2 AND status IN ('open', 'resolved')",
				 2, p);

	if (!r)
		return CS_EIO;
	*held = PQntuples(r) > 0;
	PQclear(r);
	return CS_OK;
}

/* A feed item at or behind the agreed version: our own push coming back,
 * a replay, or an old page read again after a crash. */
static int stale_version(const char *base_ver, const char *v)
{
	long long a, b;

	if (!base_ver || !v)
		return 0;
	if (!strcmp(base_ver, v))
		return 1;
	if (cs_parse_int64(base_ver, 0, 9223372036854775807LL, &a) == CS_OK &&
	    cs_parse_int64(v, 0, 9223372036854775807LL, &b) == CS_OK)
		return b < a;
	return 0;
}

/* A council deletion the provider had not changed: the provider's record
 * goes too, and the base becomes a tombstone. */
static int pull_delete(struct engine *en, const struct map_entity *e,
		       const char *key, const struct record *local,
		       struct codec_item *it, struct engine_counts *c)
{
	struct audit_entry a;
	int rc = store_local_delete(en->store, e, key);

	if (rc == CS_OK)
		rc = store_base_tombstone(en->store, e, key, it->version);
	if (rc == CS_OK) {
		audit_fill(en, &a, e, "delete_local", key, it->remote_id,
			   SIDE_REMOTE, it->version, "applied");
		a.old_rec = local;
		rc = audit_write(en->store, &a);
	}
	if (rc == CS_OK) {
		c->pulled++;
		c->deleted_local++;
		ecount(en, e)->updated++;
		log_info("record_deleted", "entity=%s direction=to_provider "
			 "local_key=%s remote_id=%s", e->name, key, it->remote_id);
	}
	return rc;
}

/* Both sides merged field by field; a field a person must decide holds
 * the whole record. */
static int pull_merge(struct engine *en, const struct map_entity *e,
		      const char *key, const struct record *base,
		      const char *base_ver, const struct record *local,
		      struct codec_item *it, struct engine_counts *c)
{
	struct merge_result m = { 0 };
	struct audit_entry a;
	int rc = merge3(en, e, key, base, local, it, &m);

	if (rc)
		return rc;
	if (m.manual) {
		rc = conflict_open(en, e, "fields", key, it->remote_id, base, local,
				   it, m.decisions, base_ver, c);
		merge_result_clear(&m);
		return rc;
	}
	if (m.to_local) {
		rc = store_local_update(en->store, e, key, local, m.merged);
		if (rc == CS_OK) {
			audit_fill(en, &a, e, "update_local", key, it->remote_id,
				   SIDE_REMOTE, it->version,
				   m.conflicts ? "applied_by_policy" : "applied");
			a.old_rec = local;
			a.new_rec = m.merged;
			rc = audit_write(en->store, &a);
		}
		if (rc == CS_OK) {
			c->pulled++;
			ecount(en, e)->updated++;
			log_info("record_updated", "entity=%s direction=to_provider "
				 "local_key=%s fields=%zu", e->name, key, m.to_local);
		}
	} else {
		c->skipped++;
		ecount(en, e)->unchanged++;
	}
	/* The council's values are now agreed; provider-only edits still
	 * differ from this base and are pushed by the push phase. An
	 * unchanged base is not written again. */
	if (rc == CS_OK && (!base || !record_tree_equal(base, it->rec) ||
			    (it->version && (!base_ver ||
					     strcmp(base_ver, it->version)))))
		rc = store_base_put(en->store, e, key, it->rec, it->version);
	if (rc == CS_OK && en->nested)
		rc = apply_children(en, e, key, it->rec, it->version, c);
	merge_result_clear(&m);
	return rc;
}

/* The crosswalk's provider key of a council record, linking an extract
 * file's record to a provider record with the same match keys. */
static int pull_key(struct engine *en, const struct map_entity *e,
		    struct codec_item *it, char **key)
{
	int rc = store_crosswalk_by_remote(en->store, e->name, it->remote_id, key);
	int many = 0;

	if (rc || *key || !en->nested || it->deleted)
		return rc;
	/* The provider may know the record already (say, from the web
	 * service): link it rather than create it again. */
	if ((rc = store_local_find(en->store, e, it->rec, key, &many)))
		return rc;
	if (many) {
		log_warn("record_ambiguous", "entity=%s remote_id=%s "
			 "problem=\"several provider records share its "
			 "match keys\"", e->name, it->remote_id);
		return CS_EINVAL;
	}
	if (*key && (rc = store_crosswalk_put(en->store, e->name, *key,
					      it->remote_id))) {
		free(*key);
		*key = NULL;
	}
	return rc;
}

static int pull_item(struct engine *en, const struct map_entity *e,
		     struct codec_item *it, struct engine_counts *c)
{
	struct record *base = NULL, *local = NULL;
	char *key = NULL, *base_ver = NULL;
	int rc, bdel = 0, held = 0;

	if ((rc = pull_key(en, e, it, &key)))
		return rc;
	if (!key) {
		if (it->deleted) {
			c->skipped++;	/* never known here: nothing to do */
			return CS_OK;
		}
		return pull_create(en, e, it, 0, c);
	}
	/* Another daemon settling the same record waits for this one. */
	rc = store_xact_lock(en->store, e->name, key);
	if (rc == CS_OK)
		rc = store_base_get_ex(en->store, e, key, &base, &base_ver, &bdel);
	if (rc)
		goto out;
	if (stale_version(base_ver, it->version)) {
		c->skipped++;	/* inbound dedupe: remote id + version */
		ecount(en, e)->unchanged++;
		goto out;
	}
	if ((rc = is_held(en, e, key, &held)))
		goto out;
	if (held) {
		/* The person's decision is applied to the council's state of
		 * the moment, read again then. */
		c->held++;
		c->skipped++;
		goto out;
	}
	rc = store_local_read(en->store, e, key, &local);
	if (rc == CS_ENOTFOUND)
		rc = CS_OK;
	if (rc)
		goto out;
	switch (merge_presence(bdel ? NULL : base, bdel, local,
			       it->deleted ? NULL : it->rec)) {
	case MA_MERGE:
		rc = pull_merge(en, e, key, bdel ? NULL : base, base_ver, local,
				it, c);
		break;
	case MA_DELETE_LOCAL:
		rc = pull_delete(en, e, key, local, it, c);
		break;
	case MA_SETTLE_DELETED:
		rc = store_base_tombstone(en->store, e, key, it->version);
		c->skipped++;
		break;
	case MA_CONFLICT_DELETED_REMOTE:
		rc = conflict_open(en, e, "deleted_remote", key, it->remote_id,
				   base, local, it, NULL, base_ver, c);
		break;
	case MA_CONFLICT_DELETED_LOCAL:
		rc = conflict_open(en, e, "deleted_local", key, it->remote_id,
				   base, NULL, it, NULL, base_ver, c);
		break;
	case MA_CREATE_LOCAL:
		/* Restored by the council after an agreed deletion: the
		 * provider gets it back under a new key. */
		rc = store_base_forget(en->store, e->name, key);
		if (rc == CS_OK)
			rc = pull_create(en, e, it, 1, c);
		break;
	default:
		/* The provider deleted it and the council has not changed it:
		 * the push phase sends the deletion. */
		c->skipped++;
		break;
	}
out:
	record_free(base);
	record_free(local);
	free(key);
	free(base_ver);
	return rc;
}

/* True when a and b agree on every match key of their entity (all
 * present). */
static int same_match_keys(const struct map_entity *e, const struct record *a,
			   const struct record *b)
{
	if (e->nmatch == 0)
		return 0;
	for (size_t k = 0; k < e->nmatch; k++) {
		const char *x = record_get(a, e->match[k]);

		if (!x || !record_field_equal(a, b, e->match[k]))
			return 0;
	}
	return 1;
}

/* One nested item: an existing provider row (matched) is merged against its
 * base, a new one is inserted under the parent. Then its own children. */
static int apply_child(struct engine *en, const struct map_entity *ce,
		       const char *parent_key, struct local_row *match,
		       const struct record *in, const char *version,
		       struct engine_counts *c)
{
	struct record *base = NULL;
	struct merge_result m = { 0 };
	struct audit_entry a;
	char *key = NULL, *base_ver = NULL;
	int rc;

	if (!match) {
		rc = store_local_insert_under(en->store, ce, parent_key, in, &key);
		if (rc == CS_OK)
			rc = store_base_put(en->store, ce, key, in, version);
		if (rc == CS_OK) {
			audit_fill(en, &a, ce, "create_local", key, NULL,
				   SIDE_REMOTE, version, "applied");
			a.new_rec = in;
			rc = audit_write(en->store, &a);
		}
		if (rc == CS_OK) {
			c->created_local++;
			ecount(en, ce)->created++;
			rc = apply_children(en, ce, key, in, version, c);
		}
		free(key);
		return rc;
	}
	rc = store_base_get(en->store, ce, match->key, &base, &base_ver);
	if (rc == CS_OK)
		rc = merge_records(base, match->rec, in, MERGE_NEWER_UNKNOWN, &m);
	if (rc)
		goto out;
	if (m.manual) {
		log_warn("record_conflict", "entity=%s local_key=%s fields=%zu",
			 ce->name, match->key, m.manual);
		c->conflicts++;
		ecount(en, ce)->conflicts++;
		goto out;
	}
	if (m.to_local) {
		rc = store_local_update(en->store, ce, match->key, match->rec,
					m.merged);
		if (rc == CS_OK) {
			audit_fill(en, &a, ce, "update_local", match->key, NULL,
				   SIDE_REMOTE, version,
				   m.conflicts ? "applied_by_policy" : "applied");
			a.old_rec = match->rec;
			a.new_rec = m.merged;
			rc = audit_write(en->store, &a);
		}
		if (rc)
			goto out;
		ecount(en, ce)->updated++;
	} else {
		ecount(en, ce)->unchanged++;
	}
	if (!base || !record_tree_equal(base, in))
		rc = store_base_put(en->store, ce, match->key, in, version);
	if (rc == CS_OK)
		rc = apply_children(en, ce, match->key, in, version, c);
out:
	merge_result_clear(&m);
	record_free(base);
	free(base_ver);
	return rc;
}

/* Nested collections of a council record, matched to the provider's rows
 * under the same parent by the child entity's match keys. Provider rows
 * the council record no longer lists are left alone: a nested row has no
 * base of its own to tell a deletion from a row the council never had. */
static int apply_children(struct engine *en, const struct map_entity *e,
			  const char *key, const struct record *rec,
			  const char *version, struct engine_counts *c)
{
	for (size_t ci = 0; ci < e->nchildren; ci++) {
		const struct map_entity *ce = e->children[ci];
		const struct record_list *in = &rec->kids[ci];
		struct local_row *rows = NULL;
		size_t nrows = 0;
		unsigned char *used;
		int rc;

		if (in->n == 0 || !ce->local_parent_col)
			continue;
		if ((rc = store_local_children(en->store, ce, key, &rows, &nrows)))
			return rc;
		used = calloc(nrows + 1, 1);
		if (!used) {
			store_local_rows_free(rows, nrows);
			return CS_ENOMEM;
		}
		for (size_t i = 0; i < in->n && rc == CS_OK; i++) {
			struct local_row *match = NULL;

			for (size_t j = 0; j < nrows && !match; j++)
				if (!used[j] && same_match_keys(ce, rows[j].rec,
								in->v[i])) {
					used[j] = 1;
					match = &rows[j];
				}
			rc = apply_child(en, ce, key, match, in->v[i], version, c);
		}
		free(used);
		store_local_rows_free(rows, nrows);
		if (rc)
			return rc;
	}
	return CS_OK;
}

int engine_apply_remote(struct engine *en, const struct map_entity *e,
			struct codec_item *it, struct engine_counts *c)
{
	return pull_item(en, e, it, c);
}

int engine_quarantine(struct engine *en, const struct map_entity *e,
		      const char *remote_id, const char *where,
		      const char *reason)
{
	char cycle[32];
	const char *p[] = { e->name, remote_id, where, reason, cycle };
	struct audit_entry a;

	snprintf(cycle, sizeof(cycle), "%lld", en->cycle_id);
	log_warn("record_quarantined", "entity=%s remote_id=%s source=\"%s\" "
		 "problem=\"%s\"", e->name, remote_id ? remote_id : "-", where,
		 reason);
	if (store_run(en->store, "quarantine",
		      "INSERT INTO casesync.quarantine (entity, remote_id, source, "
		      "reason, cycle_id) VALUES ($1, $2, $3, $4, "
		      "nullif($5, '0')::bigint)", 5, p))
		return CS_EIO;
	audit_fill(en, &a, e, "reject_input", NULL, remote_id, SIDE_REMOTE, NULL,
		   "quarantined");
	return audit_write(en->store, &a);
}

static int pull_page(struct engine *en, const struct map_entity *e,
		     const char *cursor_name, struct remote_page *p,
		     struct engine_counts *c)
{
	if (store_begin(en->store, 1))
		return CS_EIO;
	for (size_t i = 0; i < p->n; i++) {
		int rc;

		if (store_savepoint(en->store))
			goto fail;
		rc = pull_item(en, e, &p->items[i], c);
		if (rc == CS_EIO && PQstatus(en->store->conn) != CONNECTION_OK)
			goto fail;
		if (rc) {
			store_rollback_to(en->store);
			c->rejected++;
			if (engine_quarantine(en, e, p->items[i].remote_id,
					      "feed", rc == CS_EINVAL ?
					      "not applied: ambiguous or invalid "
					      "for the provider store" :
					      "not applied: the provider store "
					      "refused it"))
				goto fail;
		}
		if (store_release(en->store))
			goto fail;
	}
	/* Items that did not decode: held back with the reason, so the
	 * cursor can move on without losing sight of them. */
	for (size_t i = 0; i < p->rejected; i++)
		if (engine_quarantine(en, e, p->rejects[i].remote_id, "feed",
				      p->rejects[i].reason ?
				      p->rejects[i].reason : "did not decode"))
			goto fail;
	if (store_cursor_set(en->store, cursor_name, p->next))
		goto fail;
	FAILPOINT("pull.before_commit");
	if (store_commit(en->store))
		goto fail;
	FAILPOINT("pull.after_commit");
	return CS_OK;
fail:
	store_rollback(en->store);
	return CS_EIO;
}

static int pull_feed(struct engine *en, const struct map_entity *e,
		     const char *cursor_name, struct engine_counts *c)
{
	int rc = CS_OK;

	for (int page_no = 0; page_no < MAX_PAGES_PER_CYCLE; page_no++) {
		struct remote_page p;
		char *since = NULL;
		int more;

		if ((rc = store_cursor_get(en->store, cursor_name, &since)))
			return rc;
		rc = remote_changes(en->remote, e, since, (long)en->cfg->remote_page_size,
				    &p);
		free(since);
		if (rc) {
			c->errors++;
			return rc == CS_EINVAL ? CS_EIO : rc;
		}
		FAILPOINT("pull.after_fetch");
		c->rejected += (long)p.rejected;
		more = p.more;
		rc = pull_page(en, e, cursor_name, &p, c);
		remote_page_clear(&p);
		if (rc || !more)
			break;
	}
	return rc;
}

/* Whether a create stored in the outbox within the last hour is still
 * unsettled. An older one no longer holds the feed up: it is logged, and
 * its record may come back as a new one (better than no feed at all). */
static int creates_unsettled(struct engine *en, const struct map_entity *e,
			     int *any)
{
	const char *p[] = { e->name };
	PGresult *r = store_exec(en->store, "outbox_creates",
				 "SELECT count(*) FILTER (WHERE created_at > now() - "
				 "interval '1 hour'), count(*) FROM casesync.outbox "
				 "WHERE entity = $1 AND status = 'pending' AND "
				 "op = 'create'", 1, p);

	*any = 0;
	if (!r)
		return CS_EIO;
	*any = strcmp(PQgetvalue(r, 0, 0), "0") != 0;
	if (!*any && strcmp(PQgetvalue(r, 0, 1), "0"))
		log_error("outbox_stuck", "entity=%s creates=%s problem=\"creates "
			  "unanswered for over an hour\"", e->name,
			  PQgetvalue(r, 0, 1));
	PQclear(r);
	return CS_OK;
}

static int pull_entity(struct engine *en, const struct map_entity *e,
		       struct engine_counts *c)
{
	char cursor_name[160];
	int rc, got = 0;

	snprintf(cursor_name, sizeof(cursor_name), "remote:%s", e->name);
	/* One daemon reads an entity's feed at a time; the others push. */
	if (store_try_lock(en->store, "casesync.pull", e->name, &got))
		return CS_EIO;
	if (!got) {
		log_debug("pull_skipped", "entity=%s reason=\"another daemon is "
			  "reading its feed\"", e->name);
		return CS_OK;
	}
	/* A create another daemon stored and may have sent, not settled yet
	 * (it died in between: its claim lapses and the write is settled
	 * first): the feed would show the new council record as unknown. */
	rc = creates_unsettled(en, e, &got);
	if (rc == CS_OK && got)
		log_warn("pull_deferred", "entity=%s reason=\"a record created at "
			 "the council is not settled yet\"", e->name);
	else if (rc == CS_OK)
		rc = pull_feed(en, e, cursor_name, c);
	store_unlock(en->store, "casesync.pull", e->name);
	return rc;
}

/* Copies the council's answer into the provider where it may flow (for
 * example the id the council assigned), returning the agreed record. */
static int settle_local(struct engine *en, const struct map_entity *e,
			const char *key, const char *remote_id,
			const struct record *local, const struct record *remote,
			const char *version, struct record **agreed)
{
	struct merge_result m;
	struct audit_entry a;
	int rc = merge_records(local, local, remote, MERGE_NEWER_UNKNOWN, &m);

	*agreed = NULL;
	if (rc)
		return rc;
	if (m.to_local) {
		rc = store_local_update(en->store, e, key, local, m.merged);
		if (rc == CS_OK) {
			audit_fill(en, &a, e, "update_local", key, remote_id,
				   SIDE_REMOTE, version, "applied");
			a.old_rec = local;
			a.new_rec = m.merged;
			rc = audit_write(en->store, &a);
		}
	}
	if (rc == CS_OK)
		*agreed = record_dup(m.merged);
	if (rc == CS_OK && !*agreed)
		rc = CS_ENOMEM;
	merge_result_clear(&m);
	return rc;
}

/* Ends a settling transaction: the outbox row goes, the change is
 * consumed (unless a newer one arrived), and it commits. */
static int settle_finish(struct engine *en, const struct map_entity *e,
			 const struct local_change *ch, int rc)
{
	if (rc == CS_OK)
		rc = store_outbox_done(en->store, e->name, ch->local_key, 0);
	if (rc == CS_OK && ch->last_id)
		rc = store_changes_consume(en->store, e->name, ch->local_key,
					   ch->last_id);
	if (rc == CS_OK) {
		FAILPOINT("push.before_commit");
		rc = store_commit(en->store);
	}
	if (rc) {
		store_rollback(en->store);
		return rc;
	}
	FAILPOINT("push.after_commit");
	return CS_OK;
}

static int settle_begin(struct engine *en, const struct map_entity *e,
			const char *key)
{
	if (store_begin(en->store, 1))
		return CS_EIO;
	if (store_xact_lock(en->store, e->name, key)) {
		store_rollback(en->store);
		return CS_EIO;
	}
	return CS_OK;
}

/* Commits what a push settled: crosswalk (new records), local corrections,
 * base, audit, the outbox row and the consumed change, in one
 * transaction. */
static int push_commit(struct engine *en, const struct map_entity *e,
		       const struct local_change *ch, const char *remote_id,
		       int created, const struct record *local,
		       const struct record *before, const struct codec_item *out,
		       const char *outcome)
{
	struct record *agreed = NULL;
	struct audit_entry a;
	int rc;

	if (settle_begin(en, e, ch->local_key))
		return CS_EIO;
	rc = created ? store_crosswalk_relink(en->store, e->name, ch->local_key,
					      remote_id) : CS_OK;
	if (rc == CS_OK)
		rc = settle_local(en, e, ch->local_key, remote_id, local, out->rec,
				  out->version, &agreed);
	if (rc == CS_OK)
		rc = store_base_put(en->store, e, ch->local_key, agreed, out->version);
	if (rc == CS_OK && outcome) {
		audit_fill(en, &a, e, created ? "create_remote" : "update_remote",
			   ch->local_key, remote_id, SIDE_LOCAL, out->version,
			   outcome);
		a.old_rec = before;
		a.new_rec = agreed;
		rc = audit_write(en->store, &a);
	}
	record_free(agreed);
	return settle_finish(en, e, ch, rc);
}

/* A deletion the council has taken (or had already): the base becomes a
 * tombstone. */
static int push_commit_delete(struct engine *en, const struct map_entity *e,
			      const struct local_change *ch,
			      const char *remote_id, const struct record *before,
			      const char *version, int sent)
{
	struct audit_entry a;
	int rc;

	if (settle_begin(en, e, ch->local_key))
		return CS_EIO;
	rc = store_base_tombstone(en->store, e, ch->local_key, version);
	if (rc == CS_OK && sent) {
		audit_fill(en, &a, e, "delete_remote", ch->local_key, remote_id,
			   SIDE_LOCAL, version, "pushed");
		a.old_rec = before;
		rc = audit_write(en->store, &a);
	}
	return settle_finish(en, e, ch, rc);
}

/* One pending local change on its way to the council. */
enum push_state { PUSH_CREATE, PUSH_UPDATE, PUSH_DELETE, PUSH_DONE };

struct push_item {
	const struct local_change *ch;
	struct record *local;
	struct record *base;
	char *remote_id;
	char *base_ver;
	int base_deleted;
	struct codec_item cur;		/* the council's current record */
	int cur_gone;			/* the council has no live record */
	struct record *merged;		/* what an update sends */
	int send;			/* a write is due: kind below */
	enum remote_op_kind kind;
	struct outbox_row ob;		/* the write: key and exact bytes */
	enum push_state state;
	int rc;
};

static void push_item_clear(struct push_item *p)
{
	record_free(p->local);
	record_free(p->base);
	free(p->remote_id);
	free(p->base_ver);
	codec_item_clear(&p->cur);
	record_free(p->merged);
	store_outbox_row_clear(&p->ob);
	memset(p, 0, sizeof(*p));
}

static void push_done(struct push_item *p, int rc)
{
	p->state = PUSH_DONE;
	p->rc = rc;
}

/* Settles a change with nothing to send: only the change is consumed. */
static int consume_only(struct engine *en, const struct map_entity *e,
			const struct local_change *ch)
{
	if (settle_begin(en, e, ch->local_key))
		return CS_EIO;
	return settle_finish(en, e, ch, CS_OK);
}

/* Opens a conflict for a pushed change, in a transaction of its own. */
static int push_conflict(struct engine *en, const struct map_entity *e,
			 struct push_item *p, const char *kind,
			 const enum merge_decision *dec, struct engine_counts *c)
{
	int rc;

	if (settle_begin(en, e, p->ch->local_key))
		return CS_EIO;
	rc = conflict_open(en, e, kind, p->ch->local_key, p->remote_id,
			   p->base_deleted ? NULL : p->base, p->local,
			   p->cur_gone ? NULL : &p->cur, dec, p->base_ver, c);
	if (rc == CS_OK)
		rc = store_commit(en->store);
	if (rc)
		store_rollback(en->store);
	return rc;
}

static enum remote_op_kind outbox_kind(const char *op)
{
	return !strcmp(op, "create") ? REMOTE_CREATE :
	       !strcmp(op, "delete") ? REMOTE_DELETE : REMOTE_UPDATE;
}

/* After a resent write: the council's answer goes into the provider's
 * fields that have not changed since the request was made (the provider's
 * record as read then, kept in the outbox, is the base of that merge), so
 * values the request took from the council, and what the council
 * assigned, reach the provider; a provider edit made since stays and is
 * pushed as usual. */
static int resend_settle_local(struct engine *en, const struct map_entity *e,
			       const char *key, const struct outbox_row *o,
			       const struct codec_item *out)
{
	struct record *sent = NULL, *local = NULL;
	struct merge_result m = { 0 };
	struct audit_entry a;
	json_t *j = o->local_snapshot ?
		json_loads(o->local_snapshot, JSON_REJECT_DUPLICATES, NULL) : NULL;
	int rc = j ? record_from_json(e, j, &sent) : CS_EINVAL;

	json_decref(j);
	if (rc)
		return CS_OK;	/* nothing known of the request: left as is */
	rc = store_local_read(en->store, e, key, &local);
	if (rc == CS_ENOTFOUND) {
		rc = CS_OK;	/* deleted since: the deletion follows */
		goto out;
	}
	if (rc || (rc = merge_records(sent, local, out->rec, MERGE_NEWER_UNKNOWN,
				      &m)))
		goto out;
	if (m.to_local) {
		/* A field both changed stays the provider's (manual keeps
		 * local); the next merge decides it against the new base. */
		rc = store_local_update(en->store, e, key, local, m.merged);
		if (rc == CS_OK) {
			audit_fill(en, &a, e, "update_local", key, out->remote_id,
				   SIDE_REMOTE, out->version, "applied");
			a.old_rec = local;
			a.new_rec = m.merged;
			rc = audit_write(en->store, &a);
		}
	}
out:
	merge_result_clear(&m);
	record_free(sent);
	record_free(local);
	return rc;
}

/* A write stored in the outbox by an earlier run that may or may not have
 * reached the council (the daemon stopped in between): sent again with
 * the same key, If-Match and bytes, so the council applies it once, and
 * settled. The change itself is then merged as usual. */
static int push_resend(struct engine *en, const struct map_entity *e,
		       struct push_item *p, struct engine_counts *c)
{
	struct outbox_row *o = &p->ob;
	enum remote_op_kind kind = outbox_kind(o->op);
	struct remote_op op = { .kind = kind, .e = e, .id = o->remote_id,
				.if_match = o->if_match,
				.idempotency_key = o->idem, .body = o->body };
	struct local_change ch = { .local_key = p->ch->local_key };
	struct audit_entry a;
	int rc;

	log_info("outbox_resend", "entity=%s local_key=%s op=%s", e->name,
		 p->ch->local_key, o->op);
	if (remote_run(en->remote, &op, 1) && !op.rc)
		op.rc = CS_ENOMEM;
	FAILPOINT("push.after_send");
	rc = op.rc;
	if (rc == CS_ECONFLICT || rc == CS_ENOTFOUND || rc == CS_EINVAL) {
		/* Not applied: the record moved on (412), went (404), or the
		 * request was refused; a fresh merge decides what to send. */
		codec_item_clear(&op.out);
		if (settle_begin(en, e, ch.local_key))
			return CS_EIO;
		return settle_finish(en, e, &ch, store_outbox_done(en->store,
			e->name, ch.local_key, rc == CS_EINVAL));
	}
	if (rc) {
		codec_item_clear(&op.out);
		return rc;	/* still unanswered: next cycle, same bytes */
	}
	if (settle_begin(en, e, ch.local_key)) {
		codec_item_clear(&op.out);
		return CS_EIO;
	}
	if (kind == REMOTE_DELETE) {
		rc = store_base_tombstone(en->store, e, ch.local_key, NULL);
	} else {
		rc = resend_settle_local(en, e, ch.local_key, o, &op.out);
		if (rc == CS_OK && kind == REMOTE_CREATE)
			rc = store_crosswalk_relink(en->store, e->name,
						    ch.local_key, op.out.remote_id);
		if (rc == CS_OK)
			rc = store_base_put(en->store, e, ch.local_key, op.out.rec,
					    op.out.version);
	}
	if (rc == CS_OK) {
		audit_fill(en, &a, e, kind == REMOTE_CREATE ? "create_remote" :
			   kind == REMOTE_DELETE ? "delete_remote" : "update_remote",
			   ch.local_key, kind == REMOTE_CREATE ? op.out.remote_id :
			   o->remote_id, SIDE_LOCAL, op.out.version, "pushed");
		a.new_rec = op.out.rec;
		rc = audit_write(en->store, &a);
	}
	if (rc == CS_OK) {
		c->pushed++;
		c->created_remote += kind == REMOTE_CREATE;
		c->deleted_remote += kind == REMOTE_DELETE;
	}
	codec_item_clear(&op.out);
	return settle_finish(en, e, &ch, rc);
}

/* Reads what the store knows of one change: an unfinished write, the
 * row, the crosswalk, the base. */
static void push_load(struct engine *en, const struct map_entity *e,
		      struct push_item *p, struct engine_counts *c)
{
	const char *key = p->ch->local_key;
	int found = 0;
	int rc = store_outbox_get(en->store, e->name, key, &p->ob, &found);

	if (rc == CS_OK && found) {
		rc = push_resend(en, e, p, c);
		store_outbox_row_clear(&p->ob);
	}
	if (rc == CS_OK) {
		rc = store_local_read(en->store, e, key, &p->local);
		if (rc == CS_ENOTFOUND)
			rc = CS_OK;	/* deleted by the provider */
	}
	if (rc == CS_OK)
		rc = store_crosswalk_by_local(en->store, e->name, key,
					      &p->remote_id);
	if (rc == CS_OK)
		rc = store_base_get_ex(en->store, e, key, &p->base, &p->base_ver,
				       &p->base_deleted);
	if (rc) {
		push_done(p, rc);
		return;
	}
	if (p->local) {
		p->state = p->remote_id && !p->base_deleted ? PUSH_UPDATE :
			   PUSH_CREATE;
		if (p->state == PUSH_CREATE && p->remote_id &&
		    (rc = store_base_forget(en->store, e->name, key)) == CS_OK) {
			/* Recreated by the provider after an agreed deletion:
			 * a new council record. */
			free(p->remote_id);
			p->remote_id = NULL;
		}
		if (rc)
			push_done(p, rc);
	} else if (p->remote_id && !p->base_deleted) {
		p->state = PUSH_DELETE;
	} else {
		/* Never sent, or already deleted on both sides. */
		c->skipped++;
		push_done(p, consume_only(en, e, p->ch));
	}
}

/* Decides an update or deletion against the council's current record. */
static void push_decide(struct engine *en, const struct map_entity *e,
			struct push_item *p, struct engine_counts *c)
{
	const struct record *remote = p->cur_gone ? NULL : p->cur.rec;
	struct merge_result m;
	int rc;

	switch (merge_presence(p->base_deleted ? NULL : p->base, p->base_deleted,
			       p->local, remote)) {
	case MA_MERGE:
		break;
	case MA_DELETE_REMOTE:
		p->send = 1;
		p->kind = REMOTE_DELETE;
		return;
	case MA_SETTLE_DELETED:
		push_done(p, push_commit_delete(en, e, p->ch, p->remote_id,
						p->base, NULL, 0));
		c->skipped++;
		return;
	case MA_DELETE_LOCAL:
		/* The council deleted it and the provider's pending change
		 * changed nothing it may send: the pull applies the
		 * deletion; the change is settled. */
		c->skipped++;
		push_done(p, consume_only(en, e, p->ch));
		return;
	case MA_CONFLICT_DELETED_REMOTE:
		push_done(p, push_conflict(en, e, p, "deleted_remote", NULL, c));
		return;
	case MA_CONFLICT_DELETED_LOCAL:
		push_done(p, push_conflict(en, e, p, "deleted_local", NULL, c));
		return;
	default:
		c->skipped++;
		push_done(p, consume_only(en, e, p->ch));
		return;
	}
	rc = merge3(en, e, p->ch->local_key, p->base, p->local, &p->cur, &m);
	if (rc) {
		push_done(p, rc);
		return;
	}
	if (m.manual) {
		push_done(p, push_conflict(en, e, p, "fields", m.decisions, c));
	} else if (m.to_remote == 0) {
		/* Already in agreement: settle without a request. */
		rc = push_commit(en, e, p->ch, p->remote_id, 0, p->local,
				 p->cur.rec, &p->cur, NULL);
		c->skipped += rc == CS_OK;
		push_done(p, rc);
	} else {
		p->merged = m.merged;
		m.merged = NULL;
		p->send = 1;
		p->kind = REMOTE_UPDATE;
	}
	merge_result_clear(&m);
}

/* The provider's record as JSON text, for the outbox; NULL for none. */
static char *snapshot(const struct record *local, int *rc)
{
	json_t *j;
	char *t;

	*rc = CS_OK;
	if (!local)
		return NULL;
	j = record_to_json(local);
	t = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(j);
	if (!t)
		*rc = CS_ENOMEM;
	return t;
}

static int new_request(struct engine *en, struct push_item *p, const char *op,
		       const char *remote_id, const char *if_match,
		       const struct record *local)
{
	char idem[33];
	int rc;

	store_outbox_row_clear(&p->ob);
	if (new_idempotency_key(idem))
		return CS_ERR;
	p->ob.op = cs_strdup(op);
	p->ob.idem = cs_strdup(idem);
	p->ob.owner = cs_strdup(en->actor);
	p->ob.local_snapshot = snapshot(local, &rc);
	if (rc)
		return rc;
	p->ob.remote_id = remote_id ? cs_strdup(remote_id) : NULL;
	p->ob.if_match = if_match ? cs_strdup(if_match) : NULL;
	if (!p->ob.op || !p->ob.idem || !p->ob.owner ||
	    (remote_id && !p->ob.remote_id) ||
	    (if_match && !p->ob.if_match))
		return CS_ENOMEM;
	return CS_OK;
}

/* The write of each item that has one, encoded and stored in the outbox
 * with a fresh idempotency key, all in one transaction committed before
 * anything is sent. */
static int push_prepare(struct engine *en, const struct map_entity *e,
			struct push_item *items, size_t n,
			struct remote_op *ops, size_t *idx, size_t *k)
{
	*k = 0;
	for (size_t i = 0; i < n; i++) {
		struct push_item *p = &items[i];
		struct remote_op *op = &ops[*k];
		int rc;

		if (p->state == PUSH_DONE || !p->send)
			continue;
		*op = (struct remote_op){ .kind = p->kind, .e = e };
		if (p->kind == REMOTE_CREATE) {
			op->rec = p->local;
			rc = new_request(en, p, "create", NULL, NULL, p->local);
		} else if (p->kind == REMOTE_UPDATE) {
			op->id = p->remote_id;
			op->rec = p->merged;
			op->cur = &p->cur;
			op->if_match = p->cur.version;
			rc = new_request(en, p, "update", p->remote_id, p->cur.version,
					 p->local);
		} else {
			op->id = p->remote_id;
			op->if_match = p->cur.version;
			rc = new_request(en, p, "delete", p->remote_id, p->cur.version,
					 NULL);
		}
		if (rc == CS_OK)
			rc = remote_encode(en->remote, op, &p->ob.body);
		if (rc) {
			push_done(p, rc);
			continue;
		}
		op->idempotency_key = p->ob.idem;
		op->body = p->ob.body;
		idx[(*k)++] = i;
	}
	if (!*k)
		return CS_OK;
	if (store_begin(en->store, 1))
		return CS_EIO;
	for (size_t j = 0; j < *k; j++) {
		struct push_item *p = &items[idx[j]];

		if (store_outbox_put(en->store, e->name, p->ch->local_key, &p->ob)) {
			store_rollback(en->store);
			return CS_EIO;
		}
	}
	if (store_commit(en->store)) {
		store_rollback(en->store);
		return CS_EIO;
	}
	FAILPOINT("push.outbox_committed");
	return CS_OK;
}

/* Settles one answered write in the store. */
static void push_answered(struct engine *en, const struct map_entity *e,
			  struct push_item *p, struct remote_op *op,
			  struct engine_counts *c)
{
	int rc = op->rc;

	p->send = 0;
	if (rc == CS_ECONFLICT && p->kind != REMOTE_CREATE) {
		/* The council's version moved: read and decide again. The
		 * outbox row is replaced by the next request. */
		log_info("remote_version_moved", "entity=%s remote_id=%s",
			 e->name, p->remote_id);
		codec_item_clear(&p->cur);
		record_free(p->merged);
		p->merged = NULL;
		p->rc = CS_ECONFLICT;
		return;
	}
	if (rc == CS_ENOTFOUND && p->kind == REMOTE_DELETE)
		rc = CS_OK;	/* deleted meanwhile: the same outcome */
	if (rc == CS_EINVAL) {
		/* Refused for good: kept in the outbox as failed. */
		if (settle_begin(en, e, p->ch->local_key) == CS_OK) {
			if (store_outbox_done(en->store, e->name, p->ch->local_key,
					      1) || store_commit(en->store))
				store_rollback(en->store);
		}
		push_done(p, CS_EINVAL);
		return;
	}
	if (rc) {
		push_done(p, rc);	/* unanswered: resent next cycle */
		return;
	}
	if (p->kind == REMOTE_DELETE) {
		rc = push_commit_delete(en, e, p->ch, p->remote_id, p->base,
					NULL, 1);
		if (rc == CS_OK) {
			c->pushed++;
			c->deleted_remote++;
			log_info("record_deleted", "entity=%s direction=to_council "
				 "local_key=%s", e->name, p->ch->local_key);
		}
	} else {
		int created = p->kind == REMOTE_CREATE;

		rc = push_commit(en, e, p->ch, created ? op->out.remote_id :
				 p->remote_id, created, p->local,
				 created ? NULL : p->cur.rec, &op->out, "pushed");
		if (rc == CS_OK) {
			c->pushed++;
			c->created_remote += created;
			log_info(created ? "record_created" : "record_updated",
				 "entity=%s direction=to_council local_key=%s",
				 e->name, p->ch->local_key);
		}
	}
	push_done(p, rc);
}

/* Pushes a window of changes: the store is read for all of them, the
 * council's current records are fetched together, the writes are stored
 * in the outbox and then sent together (up to remote.max_concurrent
 * requests in flight), and each answer is committed in its own
 * transaction. A 412 reads and decides that record again, up to
 * MAX_412_RETRIES times. */
static void push_window(struct engine *en, const struct map_entity *e,
			struct push_item *items, size_t n,
			struct engine_counts *c)
{
	struct remote_op *ops = calloc(n, sizeof(*ops));
	size_t *idx = calloc(n, sizeof(*idx));

	if (!ops || !idx) {
		for (size_t i = 0; i < n; i++)
			push_done(&items[i], CS_ENOMEM);
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		push_load(en, e, &items[i], c);
	FAILPOINT("push.after_read");
	for (int attempt = 0; attempt < MAX_412_RETRIES; attempt++) {
		size_t k = 0;
		int creating;

		/* The council's current record of every update and deletion. */
		for (size_t i = 0; i < n; i++)
			if (items[i].state == PUSH_UPDATE ||
			    items[i].state == PUSH_DELETE) {
				ops[k] = (struct remote_op){ .kind = REMOTE_GET,
					.e = e, .id = items[i].remote_id };
				idx[k++] = i;
			}
		if (k && remote_run(en->remote, ops, k) != CS_OK)
			for (size_t j = 0; j < k; j++)
				ops[j].rc = ops[j].rc ? ops[j].rc : CS_ENOMEM;
		if (k)
			FAILPOINT("push.after_get");
		for (size_t j = 0; j < k; j++) {
			struct push_item *p = &items[idx[j]];

			p->cur_gone = ops[j].rc == CS_ENOTFOUND;
			if (ops[j].rc && !p->cur_gone) {
				codec_item_clear(&ops[j].out);
				push_done(p, ops[j].rc);
				continue;
			}
			p->cur = ops[j].out;
			if (p->cur.deleted)
				p->cur_gone = 1;
			push_decide(en, e, p, c);
		}
		for (size_t i = 0; i < n; i++)
			if (items[i].state == PUSH_CREATE && attempt == 0) {
				items[i].send = 1;
				items[i].kind = REMOTE_CREATE;
			}
		/* The writes: stored, then sent. While creates are in flight
		 * no other daemon reads this entity's feed (it would take the
		 * new council records for records of its own). */
		creating = 0;
		for (size_t i = 0; i < n; i++)
			creating |= items[i].send && items[i].kind == REMOTE_CREATE &&
				    items[i].state != PUSH_DONE;
		if (creating && store_lock_shared(en->store, "casesync.pull",
						  e->name)) {
			for (size_t i = 0; i < n; i++)
				if (items[i].state != PUSH_DONE)
					push_done(&items[i], CS_EIO);
			break;
		}
		if (push_prepare(en, e, items, n, ops, idx, &k)) {
			for (size_t j = 0; j < k; j++)
				push_done(&items[idx[j]], CS_EIO);
			if (creating)
				store_unlock_shared(en->store, "casesync.pull", e->name);
			break;
		}
		if (k && remote_run(en->remote, ops, k) != CS_OK)
			for (size_t j = 0; j < k; j++)
				ops[j].rc = ops[j].rc ? ops[j].rc : CS_ENOMEM;
		if (k)
			FAILPOINT("push.after_send");
		for (size_t j = 0; j < k; j++) {
			push_answered(en, e, &items[idx[j]], &ops[j], c);
			codec_item_clear(&ops[j].out);
		}
		if (creating)
			store_unlock_shared(en->store, "casesync.pull", e->name);
		k = 0;
		for (size_t i = 0; i < n; i++)
			k += items[i].state != PUSH_DONE;
		if (!k)
			break;
	}
	for (size_t i = 0; i < n; i++)
		if (items[i].state != PUSH_DONE)
			push_done(&items[i], CS_ECONFLICT);
out:
	free(ops);
	free(idx);
}

/* Whether conflict id still waits to be applied. */
static int is_resolved(struct engine *en, long long id, int *still)
{
	char idt[32];
	const char *p[] = { idt };
	PGresult *r;

	snprintf(idt, sizeof(idt), "%lld", id);
	r = store_exec(en->store, "conflict_status",
		       "SELECT 1 FROM casesync.conflicts WHERE id = $1 AND "
		       "status = 'resolved'", 1, p);
	if (!r)
		return CS_EIO;
	*still = PQntuples(r) == 1;
	PQclear(r);
	return CS_OK;
}

/* ---- applying a person's resolution ---- */

struct resolution {
	long long id;
	char *key;
	const char *take;		/* "local", "remote" or NULL */
	json_t *values;			/* {"field": "canonical value"} or NULL */
	json_t *doc;
};

/* Marks the conflict applied inside the settling transaction. */
static int conflict_applied(struct engine *en, long long id)
{
	char idt[32], cycle[32];
	const char *p[] = { idt, cycle };

	snprintf(idt, sizeof(idt), "%lld", id);
	snprintf(cycle, sizeof(cycle), "%lld", en->cycle_id);
	return store_run(en->store, "conflict_applied",
			 "UPDATE casesync.conflicts SET status = 'applied', "
			 "applied_at = now(), applied_cycle = nullif($2, '0')::bigint "
			 "WHERE id = $1 AND status = 'resolved'", 2, p);
}

/* The resolved record: the merge of the moment, with every field a person
 * had to decide set as the resolution says. CS_EINVAL when a field still
 * needs a decision the resolution does not give. */
static int resolved_record(const struct map_entity *e,
			   const struct resolution *rs,
			   const struct record *local, const struct record *remote,
			   struct merge_result *m)
{
	for (size_t i = 0; i < e->nfields; i++) {
		json_t *v = rs->values ? json_object_get(rs->values,
							 e->fields[i].name) : NULL;
		const char *val;

		if (v)
			val = json_is_string(v) ? json_string_value(v) : NULL;
		else if (m->decisions[i] != MD_MANUAL)
			continue;
		else if (rs->take && !strcmp(rs->take, "local"))
			val = record_get(local, i);
		else if (rs->take && !strcmp(rs->take, "remote"))
			val = record_get(remote, i);
		else
			return CS_EINVAL;
		if (record_set(m->merged, i, val))
			return CS_ENOMEM;
		m->decisions[i] = MD_SAME;
	}
	return CS_OK;
}

/* Sends one request through the outbox (stored with its key before it is
 * sent) and returns the answer. */
static int resolve_send(struct engine *en, const struct map_entity *e,
			const char *key, const struct record *local,
			struct remote_op *op, struct codec_item *out)
{
	struct push_item p = { 0 };
	int rc, found = 0;

	memset(out, 0, sizeof(*out));
	/* A create stored by an earlier attempt that may have reached the
	 * council goes again as it was (same key, same bytes): the council
	 * answers with the record it made then. */
	rc = store_outbox_get(en->store, e->name, key, &p.ob, &found);
	if (rc == CS_OK && found && op->kind == REMOTE_CREATE &&
	    !strcmp(p.ob.op, "create")) {
		op->idempotency_key = p.ob.idem;
		op->body = p.ob.body;
		goto send;
	}
	if (rc == CS_OK)
		rc = new_request(en, &p, op->kind == REMOTE_CREATE ? "create" :
				 op->kind == REMOTE_DELETE ? "delete" : "update",
				 op->id, op->if_match, local);
	if (rc == CS_OK)
		rc = remote_encode(en->remote, op, &p.ob.body);
	if (rc == CS_OK && (rc = settle_begin(en, e, key)) == CS_OK) {
		rc = store_outbox_put(en->store, e->name, key, &p.ob);
		if (rc == CS_OK)
			rc = store_commit(en->store);
		if (rc)
			store_rollback(en->store);
	}
	if (rc == CS_OK) {
		op->idempotency_key = p.ob.idem;
		op->body = p.ob.body;
send:
		if (op->kind == REMOTE_CREATE &&
		    store_lock_shared(en->store, "casesync.pull", e->name)) {
			store_outbox_row_clear(&p.ob);
			return CS_EIO;
		}
		if (remote_run(en->remote, op, 1) && !op->rc)
			op->rc = CS_ENOMEM;
		FAILPOINT("resolve.after_send");
		rc = op->rc;
		*out = op->out;
	}
	store_outbox_row_clear(&p.ob);
	return rc;
}

static int resolve_finish(struct engine *en, const struct map_entity *e,
			  const struct resolution *rs, const char *action,
			  const char *remote_id, const struct record *old_rec,
			  const struct record *new_rec, const char *version,
			  enum side source, const struct local_change *ch, int rc)
{
	struct audit_entry a;

	if (rc == CS_OK && action) {
		audit_fill(en, &a, e, action, ch->local_key, remote_id, source,
			   version, "resolved");
		a.old_rec = old_rec;
		a.new_rec = new_rec;
		rc = audit_write(en->store, &a);
	}
	if (rc == CS_OK)
		rc = conflict_applied(en, rs->id);
	return settle_finish(en, e, ch, rc);
}

/* Both sides hold the record: the merged and resolved values go to both. */
static int resolve_fields(struct engine *en, const struct map_entity *e,
			  const struct resolution *rs, struct push_item *p,
			  struct engine_counts *c)
{
	struct merge_result m = { 0 };
	struct codec_item out = { 0 };
	const struct codec_item *agreed = &p->cur;
	int rc = merge3(en, e, p->ch->local_key, p->base, p->local, &p->cur, &m);

	if (rc == CS_OK)
		rc = resolved_record(e, rs, p->local, p->cur.rec, &m);
	if (rc == CS_EINVAL) {
		log_warn("resolution_incomplete", "entity=%s local_key=%s "
			 "conflict=%lld problem=\"a field changed again and "
			 "needs a decision\"", e->name, p->ch->local_key, rs->id);
		merge_result_clear(&m);
		return rc;
	}
	for (size_t i = 0; rc == CS_OK && i < e->nfields; i++)
		if (mapping_field_flows_to(&e->fields[i], SIDE_REMOTE) &&
		    !cs_streq(record_get(m.merged, i), record_get(p->cur.rec, i))) {
			struct remote_op op = { .kind = REMOTE_UPDATE, .e = e,
						.id = p->remote_id,
						.if_match = p->cur.version,
						.rec = m.merged, .cur = &p->cur };

			rc = resolve_send(en, e, p->ch->local_key, p->local, &op,
					 &out);
			agreed = &out;
			break;
		}
	if (rc == CS_OK && (rc = settle_begin(en, e, p->ch->local_key)) == CS_OK) {
		struct record *settled = NULL;

		/* The provider takes the resolved values (and what the council
		 * added), then everything is agreed. */
		rc = settle_local(en, e, p->ch->local_key, p->remote_id, p->local,
				  m.merged, agreed->version, &settled);
		if (rc == CS_OK)
			rc = store_base_put(en->store, e, p->ch->local_key,
					    agreed->rec, agreed->version);
		rc = resolve_finish(en, e, rs, agreed == &out ? "update_remote" :
				    NULL, p->remote_id, p->cur.rec, agreed->rec,
				    agreed->version, SIDE_LOCAL, p->ch, rc);
		record_free(settled);
	}
	codec_item_clear(&out);
	merge_result_clear(&m);
	c->resolved += rc == CS_OK;
	return rc;
}

/* One side deleted the record and the other changed it: the person chose
 * which. */
static int resolve_presence(struct engine *en, const struct map_entity *e,
			    const struct resolution *rs, struct push_item *p,
			    struct engine_counts *c)
{
	int keep_local = rs->take && !strcmp(rs->take, "local");
	struct codec_item out = { 0 };
	const char *key = p->ch->local_key;
	char *new_key = NULL;
	int rc = CS_OK;

	if (!rs->take)
		return CS_EINVAL;	/* values cannot settle a deletion */
	if (p->local && (!keep_local || p->cur_gone)) {
		struct remote_op op = { .kind = REMOTE_CREATE, .e = e,
					.rec = p->local };

		if (!keep_local) {
			/* The council's deletion stands. */
			if ((rc = settle_begin(en, e, key)))
				return rc;
			rc = store_local_delete(en->store, e, key);
			if (rc == CS_OK)
				rc = store_base_tombstone(en->store, e, key, NULL);
			rc = resolve_finish(en, e, rs, "delete_local", p->remote_id,
					    p->local, NULL, NULL, SIDE_REMOTE, p->ch,
					    rc);
		} else if ((rc = resolve_send(en, e, key, p->local, &op,
					       &out)) == CS_OK &&
			   (rc = settle_begin(en, e, key)) == CS_OK) {
			/* The provider's record goes back to the council as a
			 * new record; what the council assigned (its id) comes
			 * back to the provider. */
			struct record *agreed = NULL;

			rc = store_crosswalk_relink(en->store, e->name, key,
						    out.remote_id);
			if (rc == CS_OK)
				rc = settle_local(en, e, key, out.remote_id, p->local,
						  out.rec, out.version, &agreed);
			if (rc == CS_OK)
				rc = store_base_put(en->store, e, key, agreed,
						    out.version);
			rc = resolve_finish(en, e, rs, "create_remote",
					    out.remote_id, NULL, agreed,
					    out.version, SIDE_LOCAL, p->ch, rc);
			record_free(agreed);
		}
		if (keep_local)	/* the create's hold on the feed (resolve_send) */
			store_unlock_shared(en->store, "casesync.pull", e->name);
	} else if (!p->local && !p->cur_gone) {
		if (keep_local) {
			/* The provider's deletion stands. */
			struct remote_op op = { .kind = REMOTE_DELETE, .e = e,
						.id = p->remote_id,
						.if_match = p->cur.version };

			rc = resolve_send(en, e, key, NULL, &op, &out);
			if (rc == CS_ENOTFOUND)
				rc = CS_OK;
			if (rc == CS_OK && (rc = settle_begin(en, e, key)) == CS_OK) {
				rc = store_base_tombstone(en->store, e, key, NULL);
				rc = resolve_finish(en, e, rs, "delete_remote",
						    p->remote_id, p->cur.rec, NULL,
						    NULL, SIDE_LOCAL, p->ch, rc);
			}
		} else if ((rc = settle_begin(en, e, key)) == CS_OK) {
			/* The council's record comes back to the provider under
			 * a new key. */
			rc = store_local_insert(en->store, e, p->cur.rec, &new_key);
			if (rc == CS_OK)
				rc = store_crosswalk_relink(en->store, e->name,
							    new_key, p->remote_id);
			if (rc == CS_OK)
				rc = store_base_forget(en->store, e->name, key);
			if (rc == CS_OK)
				rc = store_base_put(en->store, e, new_key,
						    p->cur.rec, p->cur.version);
			if (rc == CS_OK && lacks_provider_values(e, p->cur.rec))
				rc = store_change_enqueue(en->store, e->name,
							  new_key);
			rc = resolve_finish(en, e, rs, "create_local",
					    p->remote_id, NULL, p->cur.rec,
					    p->cur.version, SIDE_REMOTE, p->ch, rc);
		}
	} else if ((rc = settle_begin(en, e, key)) == CS_OK) {
		/* Gone from both by now. */
		rc = store_base_tombstone(en->store, e, key, NULL);
		rc = resolve_finish(en, e, rs, NULL, p->remote_id, NULL, NULL, NULL,
				    SIDE_LOCAL, p->ch, rc);
	}
	free(new_key);
	codec_item_clear(&out);
	c->resolved += rc == CS_OK;
	return rc;
}

/* Applies one resolution to both systems as they are now. */
static int resolve_one(struct engine *en, const struct map_entity *e,
		       const struct resolution *rs, struct engine_counts *c)
{
	struct local_change ch = { .local_key = rs->key };
	struct push_item p = { .ch = &ch };
	int rc = store_change_seq(en->store, e->name, rs->key, &ch.last_id);

	if (rc == CS_OK) {
		rc = store_local_read(en->store, e, rs->key, &p.local);
		if (rc == CS_ENOTFOUND)
			rc = CS_OK;
	}
	if (rc == CS_OK)
		rc = store_crosswalk_by_local(en->store, e->name, rs->key,
					      &p.remote_id);
	if (rc == CS_OK)
		rc = store_base_get_ex(en->store, e, rs->key, &p.base, &p.base_ver,
				       &p.base_deleted);
	if (rc == CS_OK && p.remote_id) {
		rc = remote_get(en->remote, e, p.remote_id, &p.cur);
		if (rc == CS_ENOTFOUND || (rc == CS_OK && p.cur.deleted)) {
			p.cur_gone = 1;
			rc = CS_OK;
		}
	} else {
		p.cur_gone = 1;
	}
	if (rc == CS_OK)
		rc = p.local && !p.cur_gone ? resolve_fields(en, e, rs, &p, c) :
		     resolve_presence(en, e, rs, &p, c);
	if (rc == CS_OK)
		log_info("conflict_applied", "entity=%s local_key=%s conflict=%lld",
			 e->name, rs->key, rs->id);
	else if (rc != CS_ECONFLICT)
		log_warn("conflict_not_applied", "entity=%s local_key=%s "
			 "conflict=%lld", e->name, rs->key, rs->id);
	push_item_clear(&p);
	return rc;
}

/* The resolutions data leads recorded (`casesync conflicts resolve`),
 * each applied once: an advisory lock per conflict keeps a second daemon
 * off it, and the status is checked again under the lock. */
static int apply_resolutions(struct engine *en, const struct map_entity *e,
			     struct engine_counts *c)
{
	const char *p[] = { e->name };
	PGresult *r = store_exec(en->store, "resolutions",
				 "SELECT id, local_key, resolution::text "
				 "FROM casesync.conflicts WHERE entity = $1 AND "
				 "status = 'resolved' ORDER BY id LIMIT 1000", 1, p);

	if (!r)
		return CS_EIO;
	for (int i = 0; i < PQntuples(r); i++) {
		struct resolution rs = { 0 };
		int got = 0;

		if (cs_parse_int64(PQgetvalue(r, i, 0), 1, 9223372036854775807LL,
				   &rs.id))
			continue;
		rs.key = PQgetvalue(r, i, 1);
		rs.doc = json_loads(PQgetvalue(r, i, 2), JSON_REJECT_DUPLICATES,
				    NULL);
		if (json_is_object(rs.doc)) {
			json_t *t = json_object_get(rs.doc, "take");

			rs.take = json_is_string(t) ? json_string_value(t) : NULL;
			rs.values = json_object_get(rs.doc, "values");
			if (!json_is_object(rs.values))
				rs.values = NULL;
		}
		if (store_try_lock(en->store, "casesync.resolve", PQgetvalue(r, i, 0),
				   &got) == CS_OK && got) {
			int still = 0;

			if (is_resolved(en, rs.id, &still) == CS_OK && still)
				(void)resolve_one(en, e, &rs, c);
			store_unlock(en->store, "casesync.resolve",
				     PQgetvalue(r, i, 0));
		}
		json_decref(rs.doc);
		if (PQstatus(en->store->conn) != CONNECTION_OK)
			break;
	}
	PQclear(r);
	return PQstatus(en->store->conn) == CONNECTION_OK ? CS_OK : CS_EIO;
}

/* Writes stored in the outbox by a run that stopped before settling them
 * (this instance's, or another's older than a claim lease): sent again and
 * settled before the feed is read, so that a record this daemon created at
 * the council is linked to its provider record, not taken for a new one.
 * *unsettled is set when a create could not be settled: the feed then
 * waits for a later cycle. */
static int recover_outbox(struct engine *en, const struct map_entity *e,
			  int *unsettled, struct engine_counts *c)
{
	char lease[32];
	const char *p[] = { e->name, en->actor, lease };
	PGresult *r;

	*unsettled = 0;
	snprintf(lease, sizeof(lease), "%lld", en->cfg->sync_claim_lease_s);
	r = store_exec(en->store, "outbox_recover",
		       "SELECT local_key, op = 'create' FROM casesync.outbox "
		       "WHERE entity = $1 AND status = 'pending' AND (claimed_by = $2 "
		       "OR claimed_by IS NULL OR created_at < now() - $3 * "
		       "interval '1 second') ORDER BY id LIMIT 10000", 3, p);
	if (!r)
		return CS_EIO;
	for (int i = 0; i < PQntuples(r); i++) {
		struct local_change ch = { .local_key = PQgetvalue(r, i, 0) };
		struct push_item it = { .ch = &ch };
		int found = 0, rc;

		rc = store_outbox_get(en->store, e->name, ch.local_key, &it.ob,
				      &found);
		if (rc == CS_OK && found)
			rc = push_resend(en, e, &it, c);
		store_outbox_row_clear(&it.ob);
		if (rc && PQgetvalue(r, i, 1)[0] == 't')
			*unsettled = 1;
		if (PQstatus(en->store->conn) != CONNECTION_OK)
			break;
	}
	PQclear(r);
	return PQstatus(en->store->conn) == CONNECTION_OK ? CS_OK : CS_EIO;
}

static int push_entity(struct engine *en, const struct map_entity *e,
		       struct engine_counts *c)
{
	struct push_item *items;
	size_t window, total = 0, failed;
	int rc = CS_OK;

	/* Enough records per window to keep every connection busy. */
	window = (size_t)en->cfg->remote_max_concurrent * 8;
	if (window < 8)
		window = 8;
	if (!(items = calloc(window, sizeof(*items))))
		return CS_ENOMEM;
	while (total < MAX_PUSH_PER_CYCLE && rc == CS_OK) {
		struct local_change *ch = NULL;
		size_t n = 0;

		/* Claimed a window at a time, so that other daemons on the
		 * same database share the backlog. */
		rc = store_changes_claim(en->store, e->name, en->actor,
					 en->cycle_id, (long)window,
					 (long)en->cfg->sync_claim_lease_s, &ch, &n);
		if (rc || n == 0) {
			store_changes_free(ch, n);
			break;
		}
		total += n;
		for (size_t i = 0; i < n; i++) {
			memset(&items[i], 0, sizeof(items[i]));
			items[i].ch = &ch[i];
		}
		push_window(en, e, items, n, c);
		failed = 0;
		for (size_t i = 0; i < n; i++) {
			int irc = items[i].rc;
			const char *key = items[i].ch->local_key;

			failed += irc == CS_EIO;
			if (irc == CS_EINVAL) {
				log_warn("record_rejected", "entity=%s local_key=%s "
					 "direction=to_council", e->name, key);
				c->rejected++;
			} else if (irc) {
				log_warn("record_push_failed", "entity=%s "
					 "local_key=%s", e->name, key);
				c->errors++;
			}
			push_item_clear(&items[i]);
		}
		store_changes_free(ch, n);
		if (PQstatus(en->store->conn) != CONNECTION_OK)
			rc = CS_EIO;
		else if (failed == n)
			/* The council is not answering: the rest waits for the
			 * next cycle rather than fail one by one. */
			break;
	}
	free(items);
	return rc;
}

int engine_cycle_start(struct engine *en)
{
	char now[32];
	const char *p[] = { en->actor, now };
	PGresult *r;

	snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
	r = store_exec(en->store, "cycle_start",
		       "INSERT INTO casesync.cycles (instance) VALUES ($1) "
		       "RETURNING id, (extract(epoch FROM clock_timestamp()) "
		       "- $2::bigint)::bigint", 2, p);
	if (!r)
		return CS_EIO;
	if (cs_parse_int64(PQgetvalue(r, 0, 0), 1, 9223372036854775807LL,
			   &en->cycle_id))
		en->cycle_id = 0;
	/* The database's clock against ours: the provider's modification
	 * times come from it. */
	en->db_clock_known = cs_parse_int64(PQgetvalue(r, 0, 1),
					    -9223372036854775807LL,
					    9223372036854775807LL,
					    &en->db_clock_offset) == CS_OK;
	en->skew_alarm = 0;
	en->skew_s = 0;
	PQclear(r);
	return en->cycle_id ? CS_OK : CS_EIO;
}

int engine_cycle_finish(struct engine *en, const struct engine_counts *c,
			int ok)
{
	char v[9][32];
	const char *p[9];
	long vals[] = { c->pulled, c->pushed, c->created_local, c->created_remote,
			c->conflicts, c->rejected, c->errors };

	snprintf(v[0], sizeof(v[0]), "%lld", en->cycle_id);
	snprintf(v[1], sizeof(v[1]), "%s", ok ? "ok" : "failed");
	for (int i = 0; i < 7; i++)
		snprintf(v[i + 2], sizeof(v[i + 2]), "%ld", vals[i]);
	for (int i = 0; i < 9; i++)
		p[i] = v[i];
	return store_run(en->store, "cycle_finish",
			 "UPDATE casesync.cycles SET finished_at = now(), status = $2, "
			 "pulled = $3, pushed = $4, created_local = $5, "
			 "created_remote = $6, conflicts = $7, rejected = $8, "
			 "errors = $9 WHERE id = $1", 9, p);
}

/* What an earlier cycle did with this (name, content): "processed",
 * "rejected", or NULL when it is new. */
static int inbox_status(struct engine *en, const char *name,
			const char *sha256, char **status)
{
	const char *p[] = { name, sha256 };
	PGresult *r = store_exec(en->store, "inbox_status",
				 "SELECT status FROM casesync.inbox_files "
				 "WHERE name = $1 AND sha256 = $2", 2, p);

	*status = NULL;
	if (!r)
		return CS_EIO;
	if (PQntuples(r) == 1 && !(*status = cs_strdup(PQgetvalue(r, 0, 0)))) {
		PQclear(r);
		return CS_ENOMEM;
	}
	PQclear(r);
	return CS_OK;
}

/* The files transport: every ready extract file in the inbox is imported
 * (importer.c) and moved to processed/ or rejected/ (with a reason file).
 * A file whose name and content were taken before is moved without being
 * read again: after a crash between the import's commit and the move, it
 * is not applied twice. */
static int inbox_cycle(struct engine *en, struct engine_counts *c)
{
	struct files_inbox *ib = NULL;
	char **names = NULL;
	size_t n = 0;
	int rc = files_inbox_open(en->cfg, &ib);

	if (rc == CS_OK)
		rc = files_inbox_list(ib, &names, &n);
	if (rc) {
		log_error("inbox_unreadable", "problem=\"cannot list remote.inbox\"");
		files_inbox_close(ib);
		c->errors++;
		return CS_EIO;
	}
	for (size_t i = 0; i < n && rc == CS_OK; i++) {
		char sha[FILES_SHA256_HEX], err[1024], *status = NULL;
		struct import_result res;
		const char *path = NULL, *sub = NULL, *reason = NULL;
		int frc = files_inbox_fetch(ib, names[i], &path);

		if (frc == CS_ECONFLICT)
			continue;	/* written to again: a later cycle */
		if (frc || files_sha256(path, sha)) {
			log_warn("inbox_file_unreadable", "file=\"%s\"", names[i]);
			c->errors++;
			continue;
		}
		if ((rc = inbox_status(en, names[i], sha, &status)))
			break;
		if (status) {
			sub = !strcmp(status, "processed") ? "processed" : "rejected";
			reason = "the same file (name and content) was taken before";
			log_info("inbox_file_seen", "file=\"%s\" status=%s", names[i],
				 status);
		} else {
			rc = import_file(en, path, names[i], NULL, sha, c, &res, err,
					 sizeof(err));
			if (rc == CS_OK) {
				sub = "processed";
				c->pulled += res.applied;
				log_info("inbox_file_processed", "file=\"%s\" records=%ld "
					 "applied=%ld quarantined=%ld", names[i],
					 res.records, res.applied, res.quarantined);
			} else if (rc == CS_EINVAL) {
				sub = "rejected";
				reason = err;
				log_warn("inbox_file_rejected", "file=\"%s\" problem=\"%s\"",
					 names[i], err);
				c->rejected++;
				rc = import_inbox_rejected(en, names[i], sha, err);
			}
		}
		free(status);
		files_inbox_release(ib);
		if (rc == CS_OK && files_inbox_move(ib, names[i], sub, reason)) {
			log_error("inbox_file_not_moved", "file=\"%s\" to=%s",
				  names[i], sub);
			c->errors++;
		}
	}
	files_names_free(names, n);
	files_inbox_close(ib);
	return rc;
}

int engine_syncs(const struct map_entity *e)
{
	return !e->parent && e->remote_collection;
}

int engine_cycle(struct engine *en, struct engine_counts *c)
{
	int rc = CS_OK;

	memset(c, 0, sizeof(*c));
	if (engine_cycle_start(en))
		return CS_EIO;
	/* Capture switched off or altered behind the daemon's back would
	 * lose local changes silently: no cycle runs until it is mended. */
	for (size_t i = 0; i < en->maps->nentities && rc == CS_OK; i++) {
		char err[512];

		if (store_capture_check(en->store, &en->maps->entities[i], err,
					sizeof(err))) {
			log_error("capture_not_ready", "problem=\"%s\"", err);
			rc = CS_EINVAL;
		}
	}
	if (rc == CS_OK) {
		long folded = 0;

		/* Captured statements become one pending row per key. */
		if (store_changes_collect(en->store, &folded))
			rc = CS_EIO;
		else if (folded)
			log_debug("changes_collected", "rows=%ld", folded);
		FAILPOINT("collect.after");
	}
	if (rc == CS_OK && en->cfg->remote_transport == TRANSPORT_FILES) {
		int files = 0;

		/* Extract files in, then the provider's changes out as import
		 * files. */
		rc = inbox_cycle(en, c);
		if (rc == CS_OK)
			rc = export_pending(en, c, &files);
	}
	for (size_t i = 0; i < en->maps->nentities && rc == CS_OK &&
	     en->cfg->remote_transport == TRANSPORT_HTTP; i++) {
		const struct map_entity *e = &en->maps->entities[i];
		int unsettled = 0;

		/* Nested collections travel inside their parent's record and
		 * XML entities through extract files: neither is synced by this
		 * loop (docs/ARCHITECTURE.md). */
		if (!engine_syncs(e))
			continue;
		rc = recover_outbox(en, e, &unsettled, c);
		if (rc == CS_OK && unsettled)
			log_warn("pull_deferred", "entity=%s reason=\"a record "
				 "created at the council is not settled yet\"",
				 e->name);
		else if (rc == CS_OK)
			rc = pull_entity(en, e, c);
		if (rc == CS_OK)
			rc = apply_resolutions(en, e, c);
		if (rc == CS_OK)
			rc = push_entity(en, e, c);
	}
	if (PQstatus(en->store->conn) == CONNECTION_OK)
		if (engine_cycle_finish(en, c, rc == CS_OK))
			log_warn("cycle_not_recorded", "cycle=%lld", en->cycle_id);
	log_info("cycle_done", "cycle=%lld status=%s pulled=%ld pushed=%ld "
		 "created_local=%ld created_remote=%ld deleted_local=%ld "
		 "deleted_remote=%ld skipped=%ld conflicts=%ld held=%ld "
		 "resolved=%ld rejected=%ld errors=%ld", en->cycle_id,
		 rc ? "failed" : "ok", c->pulled, c->pushed, c->created_local,
		 c->created_remote, c->deleted_local, c->deleted_remote,
		 c->skipped, c->conflicts, c->held, c->resolved, c->rejected,
		 c->errors);
	return rc;
}
