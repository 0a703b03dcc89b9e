/* audit.c - write audit rows inside the caller's transaction. */
#include "audit.h"

#include <stdio.h>
#include <stdlib.h>

json_t *audit_changes_json(const struct record *old_rec,
			   const struct record *new_rec)
{
	const struct map_entity *e;
	json_t *o = json_object();

	/* No record at all (a rejected input): no field changed. */
	if (!o || (!new_rec && !old_rec))
		return o;
	if (!new_rec) {
		/* A removal: every old value goes. */
		e = old_rec->ent;
		for (size_t i = 0; i < e->nfields; i++) {
			const char *ov = record_get(old_rec, i);
			json_t *pair;

			if (!ov)
				continue;
			pair = json_pack("{s:s,s:n}", "old", ov, "new");
			if (!pair || json_object_set_new(o, e->fields[i].name, pair)) {
				json_decref(o);
				return NULL;
			}
		}
		return o;
	}
	e = new_rec->ent;
	for (size_t i = 0; i < e->nfields; i++) {
		const char *ov = old_rec ? record_get(old_rec, i) : NULL;
		const char *nv = record_get(new_rec, i);
		json_t *pair;

		if (old_rec && cs_streq(ov, nv))
			continue;
		if (!old_rec && !nv)
			continue;
		pair = json_pack("{s:o,s:o}", "old", ov ? json_string(ov) : json_null(),
				 "new", nv ? json_string(nv) : json_null());
		if (!pair || json_object_set_new(o, e->fields[i].name, pair)) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

int audit_write(struct store *s, const struct audit_entry *a)
{
	char cycle[32];
	json_t *ch = audit_changes_json(a->old_rec, a->new_rec);
	char *text = ch ? json_dumps(ch, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	const char *p[] = {
		a->cycle_id ? cycle : NULL, a->actor, a->action, a->entity->name,
		a->local_key, a->remote_id, text,
		a->source == SIDE_LOCAL ? "provider" : "council", a->version,
		a->outcome,
	};
	int rc;

	json_decref(ch);
	if (!text)
		return CS_ENOMEM;
	snprintf(cycle, sizeof(cycle), "%lld", a->cycle_id);
	rc = store_run(s, "audit_write",
		       "INSERT INTO casesync.audit (cycle_id, actor, action, entity, "
		       "local_key, remote_id, changes, source, version, outcome) "
		       "VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10)",
		       10, p);
	free(text);
	return rc;
}
