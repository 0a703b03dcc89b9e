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

/* ---------------------------------------------------------------------
 * Modification times. Parsed by hand: strptime and mktime depend on the
 * locale and the process's time zone, and both systems send UTC offsets. */

/* Exactly n ASCII digits (isdigit() would consult the locale). Stops at
 * the first non-digit, so it never reads past the terminating NUL. */
static int take_digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		char c = (*p)[i];

		if (c < '0' || c > '9')
			return -1;
		v = v * 10 + (c - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

static int take_char(const char **p, char c)
{
	if (**p != c)
		return -1;
	(*p)++;
	return 0;
}

static int is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
				    30, 31 };

	return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar
 * (H. Hinnant's days_from_civil: eras of 400 years, March-based years so
 * that the leap day comes last). */
static long long days_from_civil(int y, int m, int d)
{
	long long era;
	int yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (int)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* YYYY-MM-DD, range checked; returns days since the epoch. */
static int parse_date(const char **p, long long *days)
{
	int y, m, d;

	if (take_digits(p, 4, &y) || take_char(p, '-') ||
	    take_digits(p, 2, &m) || take_char(p, '-') ||
	    take_digits(p, 2, &d))
		return -1;
	if (m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
		return -1;
	*days = days_from_civil(y, m, d);
	return 0;
}

/* hh:mm:ss, range checked; returns seconds into the day. */
static int parse_clock(const char **p, long long *secs)
{
	int h, mi, s;

	if (take_digits(p, 2, &h) || take_char(p, ':') ||
	    take_digits(p, 2, &mi) || take_char(p, ':') ||
	    take_digits(p, 2, &s))
		return -1;
	if (h > 23 || mi > 59 || s > 59)
		return -1;
	*secs = h * 3600LL + mi * 60LL + s;
	return 0;
}

/* An optional '.' and one or more digits; milliseconds, truncated. */
static int parse_fraction(const char **p, int *ms)
{
	static const int scale[] = { 100, 10, 1 };
	int n = 0;

	*ms = 0;
	if (**p != '.')
		return 0;
	(*p)++;
	for (; **p >= '0' && **p <= '9'; (*p)++, n++)
		if (n < 3)
			*ms += (**p - '0') * scale[n];
	return n ? 0 : -1;
}

/* 'Z', ±hh:mm or ±hh; returns the offset east of UTC in seconds. */
static int parse_offset(const char **p, long long *secs)
{
	int sign, h, m = 0;

	if (**p == 'Z') {
		(*p)++;
		*secs = 0;
		return 0;
	}
	if (**p != '+' && **p != '-')
		return -1;
	sign = **p == '-' ? -1 : 1;
	(*p)++;
	if (take_digits(p, 2, &h))
		return -1;
	if (**p == ':') {
		(*p)++;
		if (take_digits(p, 2, &m))
			return -1;
	}
	if (h > 23 || m > 59)
		return -1;
	*secs = sign * (h * 3600LL + m * 60LL);
	return 0;
}

int merge_parse_time(const char *s, long long *ms_since_epoch)
{
	long long days, secs, off;
	int ms;

	if (!s || parse_date(&s, &days) || (*s != 'T' && *s != ' '))
		return CS_EINVAL;
	s++;
	if (parse_clock(&s, &secs) || parse_fraction(&s, &ms) ||
	    parse_offset(&s, &off) || *s)
		return CS_EINVAL;
	*ms_since_epoch = (days * 86400 + secs - off) * 1000 + ms;
	return CS_OK;
}

enum merge_newer merge_newer_by_time(const char *local_modified,
				     const char *remote_modified,
				     long long tolerance_ms)
{
	long long l, r;

	if (merge_parse_time(local_modified, &l) ||
	    merge_parse_time(remote_modified, &r))
		return MERGE_NEWER_UNKNOWN;
	if (tolerance_ms < 0)
		tolerance_ms = 0;
	/* Years 0000-9999 keep both well inside 2^62: no overflow. */
	if (l - r > tolerance_ms)
		return MERGE_NEWER_LOCAL;
	if (r - l > tolerance_ms)
		return MERGE_NEWER_REMOTE;
	return MERGE_NEWER_UNKNOWN;
}

/* ---------------------------------------------------------------------
 * Record presence. */

int merge_side_changed(const struct record *base,
		       const struct record *side_rec, enum side side)
{
	enum side other = side == SIDE_LOCAL ? SIDE_REMOTE : SIDE_LOCAL;
	const struct map_entity *e;

	if (!side_rec)
		return 0;
	if (!base)
		return 1;
	e = side_rec->ent;
	for (size_t i = 0; i < e->nfields; i++)
		if (mapping_field_flows_to(&e->fields[i], other) &&
		    !record_field_equal(base, side_rec, i))
			return 1;
	return 0;
}

enum merge_action merge_presence(const struct record *base, int base_deleted,
				 const struct record *local,
				 const struct record *remote)
{
	if (local && remote)
		return MA_MERGE;
	if (base_deleted || !base) {
		/* No live agreed version, so nothing agreed can be lost: what
		 * one side holds, the other gets. */
		if (remote)
			return MA_CREATE_LOCAL;
		return local ? MA_CREATE_REMOTE : MA_NOTHING;
	}
	if (!local && !remote)
		return MA_SETTLE_DELETED;
	/* One side deleted the agreed record: follow it only when the other
	 * side has nothing since base that the deletion would throw away. */
	if (!local)
		return merge_side_changed(base, remote, SIDE_REMOTE) ?
			MA_CONFLICT_DELETED_LOCAL : MA_DELETE_REMOTE;
	return merge_side_changed(base, local, SIDE_LOCAL) ?
		MA_CONFLICT_DELETED_REMOTE : MA_DELETE_LOCAL;
}

const char *merge_action_name(enum merge_action a)
{
	static const char *const names[] = {
		"nothing", "merge", "create_local", "create_remote",
		"delete_local", "delete_remote", "settle_deleted",
		"conflict_deleted_remote", "conflict_deleted_local",
	};

	return (unsigned)a < CS_ARRAY_LEN(names) ? names[a] : "?";
}
