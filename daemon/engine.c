/* engine.c - the route of a record: pull, merge, apply, push, audit. */
#include "engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/rand.h>

#include "audit.h"
#include "exporter.h"
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

/* A council record we have never seen: create it in the provider store. */
static int pull_create(struct engine *en, const struct map_entity *e,
		       struct codec_item *it, struct engine_counts *c)
{
	struct audit_entry a;
	char *key = NULL;
	int rc;

	rc = store_local_insert(en->store, e, it->rec, &key);
	if (rc == CS_OK)
		rc = store_crosswalk_put(en->store, e->name, key, it->remote_id);
	if (rc == CS_OK)
		rc = store_base_put(en->store, e, key, it->rec, it->version);
	if (rc == CS_OK) {
		audit_fill(en, &a, e, "create_local", key, it->remote_id,
			   SIDE_REMOTE, it->version, "applied");
		a.new_rec = it->rec;
		rc = audit_write(en->store, &a);
	}
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

static int pull_item(struct engine *en, const struct map_entity *e,
		     struct codec_item *it, struct engine_counts *c)
{
	struct record *base = NULL, *local = NULL;
	struct merge_result m = { 0 };
	struct audit_entry a;
	char *key = NULL, *base_ver = NULL;
	int rc;

	if (it->deleted) {
		/* Tombstones are settled by the conflict machinery; until then
		 * a council deletion is reported and nothing is removed. */
		log_warn("remote_delete_held", "entity=%s remote_id=%s", e->name,
			 it->remote_id);
		c->skipped++;
		return CS_OK;
	}
	rc = store_crosswalk_by_remote(en->store, e->name, it->remote_id, &key);
	if (rc)
		return rc;
	if (!key && en->nested) {
		int many = 0;

		/* The provider may know the record already (say, from the web
		 * service): link it rather than create it again. */
		if ((rc = store_local_find(en->store, e, it->rec, &key, &many)))
			return rc;
		if (many) {
			log_warn("record_ambiguous", "entity=%s remote_id=%s "
				 "problem=\"several provider records share its "
				 "match keys\"", e->name, it->remote_id);
			return CS_EINVAL;
		}
		if (key && (rc = store_crosswalk_put(en->store, e->name, key,
						     it->remote_id))) {
			free(key);
			return rc;
		}
	}
	if (!key)
		return pull_create(en, e, it, c);
	rc = store_base_get(en->store, e, key, &base, &base_ver);
	if (rc)
		goto out;
	if (base_ver && it->version && !strcmp(base_ver, it->version)) {
		c->skipped++;	/* our own push coming back, or a replay */
		ecount(en, e)->unchanged++;
		goto out;
	}
	rc = store_local_read(en->store, e, key, &local);
	if (rc == CS_ENOTFOUND) {
		log_warn("local_record_missing", "entity=%s local_key=%s", e->name,
			 key);
		c->skipped++;
		rc = CS_OK;
		goto out;
	}
	if (rc || (rc = merge_records(base, local, it->rec, MERGE_NEWER_UNKNOWN, &m)))
		goto out;
	if (m.manual) {
		log_warn("record_conflict", "entity=%s local_key=%s fields=%zu",
			 e->name, key, m.manual);
		c->conflicts++;
		ecount(en, e)->conflicts++;
		goto out;
	}
	if (m.to_local) {
		rc = store_local_update(en->store, e, key, local, m.merged);
		if (rc)
			goto out;
		audit_fill(en, &a, e, "update_local", key, it->remote_id,
			   SIDE_REMOTE, it->version,
			   m.conflicts ? "applied_by_policy" : "applied");
		a.old_rec = local;
		a.new_rec = m.merged;
		if ((rc = audit_write(en->store, &a)))
			goto out;
		c->pulled++;
		ecount(en, e)->updated++;
		log_info("record_updated", "entity=%s direction=to_provider "
			 "local_key=%s fields=%zu", e->name, key, m.to_local);
	} else {
		c->skipped++;
		ecount(en, e)->unchanged++;
	}
	/* The council's values are now agreed; local-only edits still differ
	 * from this base and are pushed by the push phase. An unchanged base
	 * is not written again. */
	if (!base || !record_tree_equal(base, it->rec) ||
	    (it->version && (!base_ver || strcmp(base_ver, it->version))))
		rc = store_base_put(en->store, e, key, it->rec, it->version);
	if (rc == CS_OK && en->nested)
		rc = apply_children(en, e, key, it->rec, it->version, c);
out:
	merge_result_clear(&m);
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
 * the council record no longer lists are left alone: deletions travel as
 * tombstones (issue 6). */
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
	if (store_cursor_set(en->store, cursor_name, p->next) ||
	    store_commit(en->store))
		goto fail;
	return CS_OK;
fail:
	store_rollback(en->store);
	return CS_EIO;
}

static int pull_entity(struct engine *en, const struct map_entity *e,
		       struct engine_counts *c)
{
	char cursor_name[160];
	int rc = CS_OK;

	snprintf(cursor_name, sizeof(cursor_name), "remote:%s", e->name);
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
		c->rejected += (long)p.rejected;
		more = p.more;
		rc = pull_page(en, e, cursor_name, &p, c);
		remote_page_clear(&p);
		if (rc || !more)
			break;
	}
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

/* Commits what a push settled: crosswalk (new records), local corrections,
 * base, audit and the consumed change-log rows, in one transaction. */
static int push_commit(struct engine *en, const struct map_entity *e,
		       const struct local_change *ch, const char *remote_id,
		       int created, const struct record *local,
		       const struct record *before, const struct codec_item *out)
{
	struct record *agreed = NULL;
	struct audit_entry a;
	int rc;

	if (store_begin(en->store, 1))
		return CS_EIO;
	rc = created ? store_crosswalk_put(en->store, e->name, ch->local_key,
					   remote_id) : CS_OK;
	if (rc == CS_OK)
		rc = settle_local(en, e, ch->local_key, remote_id, local, out->rec,
				  out->version, &agreed);
	if (rc == CS_OK)
		rc = store_base_put(en->store, e, ch->local_key, agreed, out->version);
	if (rc == CS_OK) {
		audit_fill(en, &a, e, created ? "create_remote" : "update_remote",
			   ch->local_key, remote_id, SIDE_LOCAL, out->version,
			   "pushed");
		a.old_rec = before;
		a.new_rec = agreed;
		rc = audit_write(en->store, &a);
	}
	if (rc == CS_OK)
		rc = store_changes_consume(en->store, e->name, ch->local_key,
					   ch->last_id);
	record_free(agreed);
	if (rc == CS_OK)
		rc = store_commit(en->store);
	if (rc)
		store_rollback(en->store);
	return rc;
}

/* One pending local change on its way to the council. */
enum push_state { PUSH_CREATE, PUSH_UPDATE, PUSH_DONE };

struct push_item {
	const struct local_change *ch;
	struct record *local;
	struct record *base;
	char *remote_id;
	char *base_ver;
	struct codec_item cur;		/* the council's current record */
	struct record *merged;		/* what an update sends */
	char idem[33];
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
	memset(p, 0, sizeof(*p));
}

static void push_done(struct push_item *p, int rc)
{
	p->state = PUSH_DONE;
	p->rc = rc;
}

/* Reads what the store knows of one change: the row, the crosswalk, the
 * base. */
static void push_load(struct engine *en, const struct map_entity *e,
		      struct push_item *p, struct engine_counts *c)
{
	int rc = store_local_read(en->store, e, p->ch->local_key, &p->local);

	if (rc == CS_ENOTFOUND) {
		/* Deletions travel as tombstones with the conflict machinery;
		 * until then the change stays queued, nothing is lost. */
		log_warn("local_delete_held", "entity=%s local_key=%s", e->name,
			 p->ch->local_key);
		c->skipped++;
		push_done(p, CS_OK);
		return;
	}
	if (rc == CS_OK)
		rc = store_crosswalk_by_local(en->store, e->name,
					      p->ch->local_key, &p->remote_id);
	if (rc == CS_OK)
		rc = store_base_get(en->store, e, p->ch->local_key, &p->base,
				    &p->base_ver);
	if (rc)
		push_done(p, rc);
	else
		p->state = p->remote_id ? PUSH_UPDATE : PUSH_CREATE;
}

/* Merges an update against the council's current record: a conflict for
 * a person, nothing to send (settled at once), or p->merged to send. */
static void push_merge(struct engine *en, const struct map_entity *e,
		       struct push_item *p, struct engine_counts *c)
{
	struct merge_result m;
	int rc = merge_records(p->base, p->local, p->cur.rec,
			       MERGE_NEWER_UNKNOWN, &m);

	if (rc) {
		push_done(p, rc);
		return;
	}
	if (m.manual) {
		log_warn("record_conflict", "entity=%s local_key=%s fields=%zu",
			 e->name, p->ch->local_key, m.manual);
		c->conflicts++;
		push_done(p, CS_OK);
	} else if (m.to_remote == 0) {
		/* Already in agreement: settle without a request. */
		rc = push_commit(en, e, p->ch, p->remote_id, 0, p->local,
				 p->cur.rec, &p->cur);
		c->skipped += rc == CS_OK;
		push_done(p, rc);
	} else if ((rc = new_idempotency_key(p->idem)) != CS_OK) {
		push_done(p, rc);
	} else {
		p->merged = m.merged;
		m.merged = NULL;
	}
	merge_result_clear(&m);
}

/* Settles one answered write in the store. */
static void push_answered(struct engine *en, const struct map_entity *e,
			  struct push_item *p, struct remote_op *op,
			  struct engine_counts *c)
{
	int created = p->state == PUSH_CREATE, rc = op->rc;

	if (rc == CS_ECONFLICT && !created) {
		/* The council's version moved: read and merge again. */
		log_info("remote_version_moved", "entity=%s remote_id=%s",
			 e->name, p->remote_id);
		codec_item_clear(&p->cur);
		record_free(p->merged);
		p->merged = NULL;
		p->rc = CS_ECONFLICT;
		return;
	}
	if (rc == CS_OK)
		rc = push_commit(en, e, p->ch, created ? op->out.remote_id :
				 p->remote_id, created, p->local,
				 created ? NULL : p->cur.rec, &op->out);
	if (rc == CS_OK) {
		c->pushed++;
		if (created) {
			c->created_remote++;
			log_info("record_created", "entity=%s direction=to_council "
				 "local_key=%s remote_id=%s", e->name,
				 p->ch->local_key, op->out.remote_id);
		} else {
			log_info("record_updated", "entity=%s direction=to_council "
				 "local_key=%s", e->name, p->ch->local_key);
		}
	}
	push_done(p, rc);
}

/* Pushes a window of changes: the store is read for all of them, the
 * council's current records are fetched together, the merged results are
 * sent together (up to remote.max_concurrent requests in flight), and
 * each answer is committed in its own transaction. A 412 reads and
 * merges that record again, up to MAX_412_RETRIES times. */
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
	for (int attempt = 0; attempt < MAX_412_RETRIES; attempt++) {
		size_t k = 0;

		/* The council's current record of every update. */
		for (size_t i = 0; i < n; i++)
			if (items[i].state == PUSH_UPDATE) {
				ops[k] = (struct remote_op){ .kind = REMOTE_GET,
					.e = e, .id = items[i].remote_id };
				idx[k++] = i;
			}
		if (k && remote_run(en->remote, ops, k) != CS_OK)
			for (size_t j = 0; j < k; j++)
				ops[j].rc = ops[j].rc ? ops[j].rc : CS_ENOMEM;
		for (size_t j = 0; j < k; j++) {
			struct push_item *p = &items[idx[j]];

			if (ops[j].rc) {
				codec_item_clear(&ops[j].out);
				push_done(p, ops[j].rc);
				continue;
			}
			p->cur = ops[j].out;
			push_merge(en, e, p, c);
		}
		/* The writes. */
		k = 0;
		for (size_t i = 0; i < n; i++) {
			struct push_item *p = &items[i];

			if (p->state == PUSH_CREATE && attempt == 0) {
				if (new_idempotency_key(p->idem)) {
					push_done(p, CS_ERR);
					continue;
				}
				ops[k] = (struct remote_op){ .kind = REMOTE_CREATE,
					.e = e, .rec = p->local,
					.idempotency_key = p->idem };
			} else if (p->state == PUSH_UPDATE && p->merged) {
				ops[k] = (struct remote_op){ .kind = REMOTE_UPDATE,
					.e = e, .id = p->remote_id,
					.if_match = p->cur.version, .rec = p->merged,
					.cur = &p->cur, .idempotency_key = p->idem };
			} else {
				continue;
			}
			idx[k++] = i;
		}
		if (k && remote_run(en->remote, ops, k) != CS_OK)
			for (size_t j = 0; j < k; j++)
				ops[j].rc = ops[j].rc ? ops[j].rc : CS_ENOMEM;
		for (size_t j = 0; j < k; j++) {
			push_answered(en, e, &items[idx[j]], &ops[j], c);
			codec_item_clear(&ops[j].out);
		}
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

static int push_entity(struct engine *en, const struct map_entity *e,
		       struct engine_counts *c)
{
	struct local_change *ch = NULL;
	struct push_item *items = NULL;
	size_t n = 0, window;
	long held = 0;
	int rc = store_changes_held(en->store, e->name, &held);

	if (rc == CS_OK && held)
		/* Deletions travel as tombstones with the conflict machinery;
		 * until then they stay queued, nothing is lost. */
		log_info("local_deletes_held", "entity=%s count=%ld", e->name, held);
	if (rc == CS_OK)
		rc = store_changes_pending(en->store, e->name, MAX_PUSH_PER_CYCLE,
					   &ch, &n);
	if (rc)
		return rc;
	/* Enough records per window to keep every connection busy. */
	window = (size_t)en->cfg->remote_max_concurrent * 8;
	if (window < 8)
		window = 8;
	if (n && !(items = calloc(window, sizeof(*items)))) {
		store_changes_free(ch, n);
		return CS_ENOMEM;
	}
	for (size_t start = 0; start < n; start += window) {
		size_t w = n - start < window ? n - start : window;

		for (size_t i = 0; i < w; i++) {
			memset(&items[i], 0, sizeof(items[i]));
			items[i].ch = &ch[start + i];
		}
		push_window(en, e, items, w, c);
		for (size_t i = 0; i < w; i++) {
			int irc = items[i].rc;
			const char *key = items[i].ch->local_key;

			push_item_clear(&items[i]);
			if (irc == CS_OK)
				continue;
			if (irc == CS_EINVAL) {
				log_warn("record_rejected", "entity=%s local_key=%s "
					 "direction=to_council", e->name, key);
				c->rejected++;
			} else {
				log_warn("record_push_failed", "entity=%s "
					 "local_key=%s", e->name, key);
				c->errors++;
			}
		}
		if (PQstatus(en->store->conn) != CONNECTION_OK) {
			rc = CS_EIO;
			break;
		}
	}
	free(items);
	store_changes_free(ch, n);
	return rc;
}

int engine_cycle_start(struct engine *en)
{
	const char *p[] = { en->actor };
	PGresult *r = store_exec(en->store, "cycle_start",
				 "INSERT INTO casesync.cycles (instance) VALUES ($1) "
				 "RETURNING id", 1, p);

	if (!r)
		return CS_EIO;
	if (cs_parse_int64(PQgetvalue(r, 0, 0), 1, 9223372036854775807LL,
			   &en->cycle_id))
		en->cycle_id = 0;
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

		/* Nested collections travel inside their parent's record and
		 * XML entities through extract files: neither is synced by this
		 * loop (docs/ARCHITECTURE.md). */
		if (!engine_syncs(e))
			continue;
		rc = pull_entity(en, e, c);
		if (rc == CS_OK)
			rc = push_entity(en, e, c);
	}
	if (PQstatus(en->store->conn) == CONNECTION_OK)
		if (engine_cycle_finish(en, c, rc == CS_OK))
			log_warn("cycle_not_recorded", "cycle=%lld", en->cycle_id);
	log_info("cycle_done", "cycle=%lld status=%s pulled=%ld pushed=%ld "
		 "created_local=%ld created_remote=%ld skipped=%ld conflicts=%ld "
		 "rejected=%ld errors=%ld", en->cycle_id, rc ? "failed" : "ok",
		 c->pulled, c->pushed, c->created_local, c->created_remote,
		 c->skipped, c->conflicts, c->rejected, c->errors);
	return rc;
}
