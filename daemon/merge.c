/* merge.c - three-way field merge and the owner/newest/manual policies. */
#include "merge.h"

#include <stdlib.h>
#include <string.h>

static enum merge_decision both_changed(const struct map_field *f,
					enum merge_newer newer)
{
	/* A side that may not write the field cannot win it. */
	if (!mapping_field_flows_to(f, SIDE_LOCAL))
		return MD_OWNER_LOCAL;
	if (!mapping_field_flows_to(f, SIDE_REMOTE))
		return MD_OWNER_REMOTE;
	switch (f->policy) {
	case POLICY_OWNER:
		return f->owner == SIDE_LOCAL ? MD_OWNER_LOCAL : MD_OWNER_REMOTE;
	case POLICY_NEWEST:
		if (newer == MERGE_NEWER_LOCAL)
			return MD_NEWEST_LOCAL;
		if (newer == MERGE_NEWER_REMOTE)
			return MD_NEWEST_REMOTE;
		return MD_MANUAL;
	case POLICY_MANUAL:
		return MD_MANUAL;
	}
	return MD_MANUAL;
}

enum merge_decision merge_field(const struct map_field *f, int has_base,
				const char *base, const char *local,
				const char *remote, enum merge_newer newer)
{
	int lchg, rchg;

	if (cs_streq(local, remote))
		return MD_SAME;
	lchg = !has_base || !cs_streq(base, local);
	rchg = !has_base || !cs_streq(base, remote);
	/* A change from a side that may not write the field is not taken. */
	if (lchg && !rchg)
		return mapping_field_flows_to(f, SIDE_REMOTE) ? MD_TAKE_LOCAL :
			MD_TAKE_REMOTE;
	if (rchg && !lchg)
		return mapping_field_flows_to(f, SIDE_LOCAL) ? MD_TAKE_REMOTE :
			MD_TAKE_LOCAL;
	return both_changed(f, newer);
}

enum side merge_winner(enum merge_decision d)
{
	switch (d) {
	case MD_TAKE_REMOTE:
	case MD_OWNER_REMOTE:
	case MD_NEWEST_REMOTE:
		return SIDE_REMOTE;
	default:
		return SIDE_LOCAL;
	}
}

int merge_is_conflict(enum merge_decision d)
{
	return d >= MD_OWNER_LOCAL;
}

int merge_records(const struct record *base, const struct record *local,
		  const struct record *remote, enum merge_newer newer,
		  struct merge_result *res)
{
	const struct map_entity *e = local->ent;

	memset(res, 0, sizeof(*res));
	res->merged = record_new(e);
	res->decisions = calloc(e->nfields ? e->nfields : 1,
				sizeof(*res->decisions));
	if (!res->merged || !res->decisions)
		goto nomem;
	for (size_t i = 0; i < e->nfields; i++) {
		const char *l = record_get(local, i), *r = record_get(remote, i);
		enum merge_decision d = merge_field(&e->fields[i], base != NULL,
						    base ? record_get(base, i) : NULL,
						    l, r, newer);
		const char *v = merge_winner(d) == SIDE_REMOTE ? r : l;

		res->decisions[i] = d;
		if (merge_is_conflict(d))
			res->conflicts++;
		if (d == MD_MANUAL) {
			res->manual++;
			v = l;
		}
		if (record_set(res->merged, i, v))
			goto nomem;
		if (d != MD_MANUAL && !cs_streq(v, l))
			res->to_local++;
		if (d != MD_MANUAL && !cs_streq(v, r))
			res->to_remote++;
	}
	return CS_OK;
nomem:
	merge_result_clear(res);
	return CS_ENOMEM;
}

void merge_result_clear(struct merge_result *res)
{
	record_free(res->merged);
	free(res->decisions);
	memset(res, 0, sizeof(*res));
}

const char *merge_decision_name(enum merge_decision d)
{
	static const char *const names[] = {
		"same", "take_local", "take_remote", "owner_local",
		"owner_remote", "newest_local", "newest_remote", "manual",
	};

	return (unsigned)d < CS_ARRAY_LEN(names) ? names[d] : "?";
}
