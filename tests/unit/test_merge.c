/* test_merge.c - the three-way merge: the full merge_field truth table for
 * every direction and policy, merge_records on a hand-built entity,
 * modification times (merge_parse_time, merge_newer_by_time), and record
 * presence (merge_presence) for every combination of agreed state and what
 * each side did, with the field merge of every both-present cell. */
#include "testutil.h"

#include "merge.h"

/* ---- merge_field: value shapes ---- */

/* What happened to a field since the base, whatever the values are. */
enum shape { SH_SAME, SH_LOCAL, SH_REMOTE, SH_BOTH };

struct values {
	int has_base;
	const char *base, *local, *remote;
	enum shape shape;
};

/* Every combination of has_base and equal/different values, with NULL
 * (absent) standing in as a value of its own. */
static const struct values value_cases[] = {
	/* nobody changed anything, or both made the same change */
	{ 1, "A", "A", "A", SH_SAME },
	{ 1, "A", "B", "B", SH_SAME },
	{ 1, NULL, NULL, NULL, SH_SAME },
	{ 1, "A", NULL, NULL, SH_SAME },
	{ 1, NULL, "B", "B", SH_SAME },
	{ 0, NULL, "A", "A", SH_SAME },
	{ 0, NULL, NULL, NULL, SH_SAME },
	/* only the provider changed it */
	{ 1, "A", "B", "A", SH_LOCAL },
	{ 1, "A", NULL, "A", SH_LOCAL },
	{ 1, NULL, "B", NULL, SH_LOCAL },
	{ 1, "", "B", "", SH_LOCAL },
	{ 1, NULL, "", NULL, SH_LOCAL },
	/* only the council changed it */
	{ 1, "A", "A", "B", SH_REMOTE },
	{ 1, "A", "A", NULL, SH_REMOTE },
	{ 1, NULL, NULL, "B", SH_REMOTE },
	{ 1, NULL, NULL, "", SH_REMOTE },
	/* both changed it, differently */
	{ 1, "A", "B", "C", SH_BOTH },
	{ 1, "A", "B", NULL, SH_BOTH },
	{ 1, "A", NULL, "C", SH_BOTH },
	{ 1, NULL, "B", "C", SH_BOTH },
	{ 1, NULL, "", "C", SH_BOTH },
	/* no base: any difference is a change on both sides */
	{ 0, NULL, "A", "B", SH_BOTH },
	{ 0, NULL, NULL, "B", SH_BOTH },
	{ 0, NULL, "A", NULL, SH_BOTH },
	{ 0, NULL, "", NULL, SH_BOTH },
	/* without has_base a base value must be ignored */
	{ 0, "A", "A", "B", SH_BOTH },
	{ 0, "B", "A", "B", SH_BOTH },
};

/* ---- merge_field: what each field setting decides ---- */

static const enum merge_policy policies[] = { POLICY_OWNER, POLICY_NEWEST,
					      POLICY_MANUAL };
static const enum side owners[] = { SIDE_LOCAL, SIDE_REMOTE };
static const enum merge_newer newers[] = { MERGE_NEWER_UNKNOWN,
					   MERGE_NEWER_LOCAL,
					   MERGE_NEWER_REMOTE };

static const enum field_dir dirs[] = { DIR_BOTH, DIR_PULL,
				       DIR_PUSH };

#define N_SETTINGS (CS_ARRAY_LEN(dirs) * CS_ARRAY_LEN(policies) * \
		    CS_ARRAY_LEN(owners) * CS_ARRAY_LEN(newers))

/* Setting number k (0 <= k < N_SETTINGS): one combination of direction,
 * policy, owner and merge_newer. */
static void setting(size_t k, struct map_field *f, enum merge_newer *newer)
{
	memset(f, 0, sizeof(*f));
	f->name = "f";
	*newer = newers[k % CS_ARRAY_LEN(newers)];
	k /= CS_ARRAY_LEN(newers);
	f->owner = owners[k % CS_ARRAY_LEN(owners)];
	k /= CS_ARRAY_LEN(owners);
	f->policy = policies[k % CS_ARRAY_LEN(policies)];
	k /= CS_ARRAY_LEN(policies);
	f->dir = dirs[k];
}

/* dir = both, both sides changed: the policy decides. */
static const struct {
	enum merge_policy policy;
	enum side owner;
	enum merge_newer newer;
	enum merge_decision want;
} both_dir_conflicts[] = {
	{ POLICY_OWNER, SIDE_LOCAL, MERGE_NEWER_UNKNOWN, MD_OWNER_LOCAL },
	{ POLICY_OWNER, SIDE_LOCAL, MERGE_NEWER_LOCAL, MD_OWNER_LOCAL },
	{ POLICY_OWNER, SIDE_LOCAL, MERGE_NEWER_REMOTE, MD_OWNER_LOCAL },
	{ POLICY_OWNER, SIDE_REMOTE, MERGE_NEWER_UNKNOWN, MD_OWNER_REMOTE },
	{ POLICY_OWNER, SIDE_REMOTE, MERGE_NEWER_LOCAL, MD_OWNER_REMOTE },
	{ POLICY_OWNER, SIDE_REMOTE, MERGE_NEWER_REMOTE, MD_OWNER_REMOTE },
	{ POLICY_NEWEST, SIDE_LOCAL, MERGE_NEWER_UNKNOWN, MD_MANUAL },
	{ POLICY_NEWEST, SIDE_LOCAL, MERGE_NEWER_LOCAL, MD_NEWEST_LOCAL },
	{ POLICY_NEWEST, SIDE_LOCAL, MERGE_NEWER_REMOTE, MD_NEWEST_REMOTE },
	{ POLICY_NEWEST, SIDE_REMOTE, MERGE_NEWER_UNKNOWN, MD_MANUAL },
	{ POLICY_NEWEST, SIDE_REMOTE, MERGE_NEWER_LOCAL, MD_NEWEST_LOCAL },
	{ POLICY_NEWEST, SIDE_REMOTE, MERGE_NEWER_REMOTE, MD_NEWEST_REMOTE },
	{ POLICY_MANUAL, SIDE_LOCAL, MERGE_NEWER_UNKNOWN, MD_MANUAL },
	{ POLICY_MANUAL, SIDE_LOCAL, MERGE_NEWER_LOCAL, MD_MANUAL },
	{ POLICY_MANUAL, SIDE_LOCAL, MERGE_NEWER_REMOTE, MD_MANUAL },
	{ POLICY_MANUAL, SIDE_REMOTE, MERGE_NEWER_UNKNOWN, MD_MANUAL },
	{ POLICY_MANUAL, SIDE_REMOTE, MERGE_NEWER_LOCAL, MD_MANUAL },
	{ POLICY_MANUAL, SIDE_REMOTE, MERGE_NEWER_REMOTE, MD_MANUAL },
};

/* One-directional fields: the writing side wins whatever the policy. */
static const struct {
	enum field_dir dir;
	enum merge_decision local_only, remote_only, both;
} one_way[] = {
	/* to-local: the council writes; a provider change is reverted */
	{ DIR_PULL, MD_TAKE_REMOTE, MD_TAKE_REMOTE, MD_OWNER_REMOTE },
	/* to-remote: the provider writes; a council change is overwritten */
	{ DIR_PUSH, MD_TAKE_LOCAL, MD_TAKE_LOCAL, MD_OWNER_LOCAL },
};

/* Runs every value case through f and checks the decision per shape. */
static void check_field(const struct map_field *f, enum merge_newer newer,
			enum merge_decision local_only,
			enum merge_decision remote_only,
			enum merge_decision both)
{
	for (size_t i = 0; i < CS_ARRAY_LEN(value_cases); i++) {
		const struct values *v = &value_cases[i];
		const enum merge_decision want[] = {
			[SH_SAME] = MD_SAME, [SH_LOCAL] = local_only,
			[SH_REMOTE] = remote_only, [SH_BOTH] = both,
		};
		enum merge_decision got = merge_field(f, v->has_base, v->base,
						      v->local, v->remote, newer);

		if (got != want[v->shape])
			fail_msg("dir %d policy %d owner %d newer %d, value case "
				 "%zu: got %s, expected %s", f->dir, f->policy,
				 f->owner, newer, i, merge_decision_name(got),
				 merge_decision_name(want[v->shape]));
	}
}

static void test_field_both_directions(void **state)
{
	(void)state;
	for (size_t i = 0; i < CS_ARRAY_LEN(both_dir_conflicts); i++) {
		struct map_field f = {
			.name = "f", .dir = DIR_BOTH,
			.policy = both_dir_conflicts[i].policy,
			.owner = both_dir_conflicts[i].owner,
		};

		check_field(&f, both_dir_conflicts[i].newer, MD_TAKE_LOCAL,
			    MD_TAKE_REMOTE, both_dir_conflicts[i].want);
	}
}

static void test_field_one_way(void **state)
{
	(void)state;
	for (size_t k = 0; k < N_SETTINGS; k++) {
		struct map_field f;
		enum merge_newer newer;

		setting(k, &f, &newer);
		for (size_t d = 0; d < CS_ARRAY_LEN(one_way); d++)
			if (f.dir == one_way[d].dir)
				check_field(&f, newer, one_way[d].local_only,
					    one_way[d].remote_only,
					    one_way[d].both);
	}
}

/* Independently of the tables: across every setting and value case, a
 * to-local field never keeps a provider value the council does not hold,
 * a to-remote field never keeps a council value the provider does not hold,
 * and the decision is a conflict exactly when both sides changed. */
static void test_field_invariants(void **state)
{
	(void)state;
	for (size_t k = 0; k < N_SETTINGS; k++) {
		struct map_field f;
		enum merge_newer newer;

		setting(k, &f, &newer);
		for (size_t i = 0; i < CS_ARRAY_LEN(value_cases); i++) {
			const struct values *v = &value_cases[i];
			enum merge_decision md = merge_field(&f, v->has_base,
							     v->base, v->local,
							     v->remote, newer);
			enum side w = merge_winner(md);
			int differ = !cs_streq(v->local, v->remote);

			if (f.dir == DIR_PULL && differ && w != SIDE_REMOTE)
				fail_msg("to-local field took the provider's "
					 "value (setting %zu, case %zu)", k, i);
			if (f.dir == DIR_PUSH && differ && w != SIDE_LOCAL)
				fail_msg("to-remote field took the council's "
					 "value (setting %zu, case %zu)", k, i);
			if (!!merge_is_conflict(md) != (v->shape == SH_BOTH))
				fail_msg("conflict flag wrong for %s (setting "
					 "%zu, case %zu)",
					 merge_decision_name(md), k, i);
			if (md == MD_MANUAL && f.dir != DIR_BOTH)
				fail_msg("one-way field asked for a person "
					 "(setting %zu, case %zu)", k, i);
		}
	}
}

static void test_decision_properties(void **state)
{
	static const struct {
		enum merge_decision d;
		const char *name;
		enum side winner;
		int conflict;
	} cases[] = {
		{ MD_SAME, "same", SIDE_LOCAL, 0 },
		{ MD_TAKE_LOCAL, "take_local", SIDE_LOCAL, 0 },
		{ MD_TAKE_REMOTE, "take_remote", SIDE_REMOTE, 0 },
		{ MD_OWNER_LOCAL, "owner_local", SIDE_LOCAL, 1 },
		{ MD_OWNER_REMOTE, "owner_remote", SIDE_REMOTE, 1 },
		{ MD_NEWEST_LOCAL, "newest_local", SIDE_LOCAL, 1 },
		{ MD_NEWEST_REMOTE, "newest_remote", SIDE_REMOTE, 1 },
		{ MD_MANUAL, "manual", SIDE_LOCAL, 1 },
	};

	(void)state;
	for (size_t i = 0; i < CS_ARRAY_LEN(cases); i++) {
		tu_assert_str_case(i, merge_decision_name(cases[i].d),
				   cases[i].name);
		tu_assert_int_case(i, merge_winner(cases[i].d), cases[i].winner);
		tu_assert_int_case(i, !!merge_is_conflict(cases[i].d),
				   cases[i].conflict);
	}
	assert_string_equal(merge_decision_name((enum merge_decision)99), "?");
}

/* ---- merge_records on a hand-built entity ---- */

enum { F_REF, F_NAME, F_NOTE, F_PHONE, F_FLAG, F_CODE, F_SAME, NFIELDS };

static struct map_field ent_fields[NFIELDS] = {
	[F_REF] = { .name = "ref", .dir = DIR_PULL, .owner = SIDE_REMOTE },
	[F_NAME] = { .name = "name", .dir = DIR_BOTH, .owner = SIDE_REMOTE,
		     .policy = POLICY_OWNER },
	[F_NOTE] = { .name = "note", .dir = DIR_BOTH, .owner = SIDE_LOCAL,
		     .policy = POLICY_OWNER },
	[F_PHONE] = { .name = "phone", .dir = DIR_BOTH, .policy = POLICY_NEWEST },
	[F_FLAG] = { .name = "flag", .dir = DIR_BOTH, .policy = POLICY_MANUAL },
	[F_CODE] = { .name = "code", .dir = DIR_PUSH },
	[F_SAME] = { .name = "same", .dir = DIR_BOTH },
};
static const struct map_entity ent = {
	.name = "thing", .fields = ent_fields, .nfields = NFIELDS,
};

/* The scenario: ref changed by the council, name by the provider, note,
 * phone and flag by both, code (to-remote) by the council only. */
static const char *const base_vals[NFIELDS] = {
	"r0", "Ann", "n0", "p0", "f0", "c0", "s" };
static const char *const local_vals[NFIELDS] = {
	"r0", "Anne", "n1", "p1", "fL", "c0", "s" };
static const char *const remote_vals[NFIELDS] = {
	"r2", "Ann", "n2", "p2", "fR", "cR", "s" };

static struct record *make(const char *const vals[NFIELDS])
{
	struct record *r = record_new(&ent);

	assert_non_null(r);
	for (size_t i = 0; i < NFIELDS; i++)
		assert_int_equal(record_set(r, i, vals[i]), CS_OK);
	return r;
}

struct expected_merge {
	enum merge_decision d[NFIELDS];
	const char *merged[NFIELDS];
	size_t conflicts, manual, to_local, to_remote;
};

/* Merges the scenario (with or without its base) and checks everything. */
static void check_merge(int with_base, enum merge_newer newer,
			const struct expected_merge *x)
{
	struct record *b = make(base_vals), *l = make(local_vals),
		      *r = make(remote_vals);
	struct merge_result res;

	assert_int_equal(merge_records(with_base ? b : NULL, l, r, newer, &res),
			 CS_OK);
	for (size_t i = 0; i < NFIELDS; i++) {
		if (res.decisions[i] != x->d[i])
			fail_msg("field %s: got %s, expected %s",
				 ent_fields[i].name,
				 merge_decision_name(res.decisions[i]),
				 merge_decision_name(x->d[i]));
		tu_assert_str_case(i, record_get(res.merged, i), x->merged[i]);
	}
	assert_int_equal(res.conflicts, x->conflicts);
	assert_int_equal(res.manual, x->manual);
	assert_int_equal(res.to_local, x->to_local);
	assert_int_equal(res.to_remote, x->to_remote);
	/* The inputs are left alone. */
	assert_string_equal(record_get(l, F_NAME), "Anne");
	assert_string_equal(record_get(r, F_REF), "r2");
	merge_result_clear(&res);
	assert_null(res.merged);
	assert_null(res.decisions);
	assert_int_equal(res.conflicts, 0);
	record_free(b);
	record_free(l);
	record_free(r);
}

static void test_records_with_base_newer_remote(void **state)
{
	static const struct expected_merge x = {
		.d = { MD_TAKE_REMOTE, MD_TAKE_LOCAL, MD_OWNER_LOCAL,
		       MD_NEWEST_REMOTE, MD_MANUAL, MD_TAKE_LOCAL, MD_SAME },
		.merged = { "r2", "Anne", "n1", "p2", "fL", "c0", "s" },
		.conflicts = 3, .manual = 1,
		.to_local = 2,		/* ref, phone */
		.to_remote = 3,		/* name, note, code */
	};

	(void)state;
	check_merge(1, MERGE_NEWER_REMOTE, &x);
}

static void test_records_with_base_newer_unknown(void **state)
{
	static const struct expected_merge x = {
		.d = { MD_TAKE_REMOTE, MD_TAKE_LOCAL, MD_OWNER_LOCAL, MD_MANUAL,
		       MD_MANUAL, MD_TAKE_LOCAL, MD_SAME },
		.merged = { "r2", "Anne", "n1", "p1", "fL", "c0", "s" },
		.conflicts = 3, .manual = 2,
		.to_local = 1,		/* ref */
		.to_remote = 3,		/* name, note, code */
	};

	(void)state;
	check_merge(1, MERGE_NEWER_UNKNOWN, &x);
}

static void test_records_without_base(void **state)
{
	/* Every difference is a conflict; the one-way fields and owners win. */
	static const struct expected_merge x = {
		.d = { MD_OWNER_REMOTE, MD_OWNER_REMOTE, MD_OWNER_LOCAL,
		       MD_NEWEST_LOCAL, MD_MANUAL, MD_OWNER_LOCAL, MD_SAME },
		.merged = { "r2", "Ann", "n1", "p1", "fL", "c0", "s" },
		.conflicts = 6, .manual = 1,
		.to_local = 2,		/* ref, name */
		.to_remote = 3,		/* note, phone, code */
	};

	(void)state;
	check_merge(0, MERGE_NEWER_LOCAL, &x);
}

static void test_records_identical(void **state)
{
	struct record *a = make(local_vals), *b = make(local_vals);
	struct merge_result res;

	(void)state;
	assert_int_equal(merge_records(NULL, a, b, MERGE_NEWER_UNKNOWN, &res),
			 CS_OK);
	for (size_t i = 0; i < NFIELDS; i++)
		tu_assert_int_case(i, res.decisions[i], MD_SAME);
	assert_true(record_equal(res.merged, a));
	assert_int_equal(res.conflicts + res.manual + res.to_local +
			 res.to_remote, 0);
	merge_result_clear(&res);
	record_free(a);
	record_free(b);
}

static void test_records_manual_keeps_local_null(void **state)
{
	static const char *const bv[NFIELDS] = { NULL, NULL, NULL, NULL, "f0",
						 NULL, NULL };
	static const char *const lv[NFIELDS] = { NULL, NULL, NULL, NULL, NULL,
						 NULL, NULL };
	static const char *const rv[NFIELDS] = { NULL, NULL, NULL, NULL, "fR",
						 NULL, NULL };
	struct record *b = make(bv), *l = make(lv), *r = make(rv);
	struct merge_result res;

	(void)state;
	assert_int_equal(merge_records(b, l, r, MERGE_NEWER_REMOTE, &res), CS_OK);
	assert_int_equal(res.decisions[F_FLAG], MD_MANUAL);
	assert_null(record_get(res.merged, F_FLAG));
	assert_int_equal(res.conflicts, 1);
	assert_int_equal(res.manual, 1);
	assert_int_equal(res.to_local, 0);
	assert_int_equal(res.to_remote, 0);
	merge_result_clear(&res);
	record_free(b);
	record_free(l);
	record_free(r);
}

/* ---- merge_parse_time ---- */

/* Expected values computed outside this code (Python's datetime). */
static const struct {
	const char *s;
	long long ms;
} good_times[] = {
	{ "1970-01-01T00:00:00Z", 0 },
	{ "1970-01-01 00:00:00+00", 0 },
	{ "1969-12-31T23:59:59.999Z", -1 },
	/* the council's form and PostgreSQL's text form of one instant */
	{ "2026-11-24T10:15:30.123Z", 1795515330123LL },
	{ "2026-11-24 10:15:30.123+00", 1795515330123LL },
	{ "2026-11-24T10:15:30.123+00:00", 1795515330123LL },
	{ "2026-11-24T10:15:30.123-00:00", 1795515330123LL },
	{ "2026-11-24T11:15:30.123+01:00", 1795515330123LL },
	{ "2026-11-24 11:15:30.123+01", 1795515330123LL },
	{ "2026-11-24T15:45:30.123+05:30", 1795515330123LL },
	{ "2026-11-24T04:45:30.123-05:30", 1795515330123LL },
	{ "2026-11-24 05:15:30.123-05", 1795515330123LL },
	/* fractions: any number of digits, milliseconds kept, truncated */
	{ "2026-11-24T10:15:30Z", 1795515330000LL },
	{ "2026-11-24T10:15:30.1Z", 1795515330100LL },
	{ "2026-11-24T10:15:30.12Z", 1795515330120LL },
	{ "2026-11-24T10:15:30.000Z", 1795515330000LL },
	{ "2026-11-24T10:15:30.123456Z", 1795515330123LL },
	{ "2026-11-24T10:15:30.999999999Z", 1795515330999LL },
	{ "2026-11-24T10:15:30.0009Z", 1795515330000LL },
	/* offsets that move the date */
	{ "2026-11-24T00:30:00+01:00", 1795476600000LL },
	{ "2026-12-31T23:30:00-01:00", 1798763400000LL },
	{ "2026-11-24T10:15:30+23:59", 1795428990000LL },
	{ "2026-11-24T10:15:30-23:59", 1795601670000LL },
	/* leap years: by 4, by 400, not by 100; year 0 is a leap year */
	{ "2024-02-29T00:00:00Z", 1709164800000LL },
	{ "2024-12-31T00:00:00Z", 1735603200000LL },
	{ "2000-02-29T12:00:00Z", 951825600000LL },
	{ "1600-02-29T00:00:00Z", -11670998400000LL },
	{ "1900-02-28T00:00:00Z", -2203977600000LL },
	{ "1900-03-01T00:00:00Z", -2203891200000LL },
	{ "2026-02-28T23:59:59Z", 1772323199000LL },
	{ "2026-03-01T00:00:00Z", 1772323200000LL },
	/* the whole range */
	{ "0000-01-01T00:00:00Z", -62167219200000LL },
	{ "0000-02-29T00:00:00Z", -62162121600000LL },
	{ "0001-01-01T00:00:00Z", -62135596800000LL },
	{ "9999-12-31T23:59:59.999Z", 253402300799999LL },
};

static const char *const bad_times[] = {
	"", "2026-11-24", "2026-11-24T", "2026-11-24T10:15:30",	/* no offset */
	"2026-11-24T10:15Z", "2026-11-24T10Z",			/* no seconds */
	"2026-11-24X10:15:30Z", "2026-11-24t10:15:30Z", "2026-11-24T10:15:30z",
	"2026-11-24  10:15:30Z", " 2026-11-24T10:15:30Z", "2026-11-24T10:15:30Z ",
	"2026-11-24T10:15:30Zx", "2026-11-24T10:15:30Z+00",
	"2026-11-24T10:15:30.Z", "2026-11-24T10:15:30,5Z", "2026-11-24T10:15:30.5.5Z",
	"2026-11-24T10:15:30.123 +00",
	/* fields out of range */
	"2026-00-10T10:15:30Z", "2026-13-10T10:15:30Z", "2026-11-00T10:15:30Z",
	"2026-11-31T10:15:30Z", "2026-04-31T10:15:30Z", "2026-01-32T10:15:30Z",
	"2023-02-29T10:15:30Z", "1900-02-29T10:15:30Z", "2100-02-29T10:15:30Z",
	"2024-02-30T10:15:30Z", "2026-11-24T24:00:00Z", "2026-11-24T10:60:00Z",
	"2026-11-24T10:15:60Z", "2026-11-24T23:59:60Z",
	"2026-11-24T10:15:30+24:00", "2026-11-24T10:15:30+01:60",
	"2026-11-24T10:15:30+24",
	/* malformed numbers and offsets */
	"26-11-24T10:15:30Z", "12026-11-24T10:15:30Z", "-2026-11-24T10:15:30Z",
	"2026-1-24T10:15:30Z", "2026-11-4T10:15:30Z", "2026-11-24T1:15:30Z",
	"2026-11-24T10:5:30Z", "2026-11-24T10:15:3Z", "2026/11/24T10:15:30Z",
	"20261124T101530Z", "2026-11-24T10.15.30Z", "2026-11-24T1a:15:30Z",
	"2026-11-24T10:15:30+0100", "2026-11-24T10:15:30+1",
	"2026-11-24T10:15:30+01:", "2026-11-24T10:15:30+01:0",
	"2026-11-24T10:15:30+01:00:00", "2026-11-24T10:15:30 +01:00",
	"2026-11-24T10:15:30UTC", "2026-11-24T10:15:30GMT",
	"2026-11-24 10:15:30+00 BC", "\xd9\xa2" "026-11-24T10:15:30Z",
	"2026-11-24T10:15:30.123+00\n",
};

static void test_parse_time_valid(void **state)
{
	(void)state;
	for (size_t i = 0; i < CS_ARRAY_LEN(good_times); i++) {
		long long got = 42;

		if (merge_parse_time(good_times[i].s, &got) != CS_OK)
			fail_msg("case %zu (%s) refused", i, good_times[i].s);
		if (got != good_times[i].ms)
			fail_msg("case %zu (%s): got %lld, expected %lld", i,
				 good_times[i].s, got, good_times[i].ms);
	}
}

static void test_parse_time_invalid(void **state)
{
	(void)state;
	for (size_t i = 0; i < CS_ARRAY_LEN(bad_times); i++) {
		long long got = 42;

		if (merge_parse_time(bad_times[i], &got) != CS_EINVAL)
			fail_msg("case %zu (\"%s\") accepted as %lld", i,
				 bad_times[i], got);
		/* A failure leaves the output alone. */
		tu_assert_int_case(i, got, 42);
	}
	{
		long long got = 42;

		assert_int_equal(merge_parse_time(NULL, &got), CS_EINVAL);
		assert_int_equal(got, 42);
	}
}

/* ---- merge_newer_by_time ---- */

static void test_newer_by_time(void **state)
{
	/* T and T + 1000 ms, written in different forms. */
	static const char *const t0 = "2026-11-24T10:15:30.123Z";
	static const char *const t0_pg = "2026-11-24 11:15:30.123+01";
	static const char *const t1 = "2026-11-24 10:15:31.123+00";
	static const char *const t1_ms = "2026-11-24T10:15:30.124Z";
	static const struct {
		const char *l, *r;
		long long tol;
		enum merge_newer want;
	} cases[] = {
		/* later by more than the tolerance */
		{ t1, t0, 0, MERGE_NEWER_LOCAL },
		{ t1, t0, 999, MERGE_NEWER_LOCAL },
		{ t0, t1, 999, MERGE_NEWER_REMOTE },
		/* exactly the tolerance apart, or closer: no order */
		{ t1, t0, 1000, MERGE_NEWER_UNKNOWN },
		{ t0, t1, 1000, MERGE_NEWER_UNKNOWN },
		{ t1, t0, 1001, MERGE_NEWER_UNKNOWN },
		{ t0, t1, 60000, MERGE_NEWER_UNKNOWN },
		/* one millisecond apart */
		{ t1_ms, t0, 0, MERGE_NEWER_LOCAL },
		{ t0, t1_ms, 0, MERGE_NEWER_REMOTE },
		{ t1_ms, t0, 1, MERGE_NEWER_UNKNOWN },
		/* the same instant in two forms */
		{ t0_pg, t0, 0, MERGE_NEWER_UNKNOWN },
		{ t0, t0, 0, MERGE_NEWER_UNKNOWN },
		/* a negative tolerance is 0 */
		{ t0, t0, -5, MERGE_NEWER_UNKNOWN },
		{ t1_ms, t0, -5, MERGE_NEWER_LOCAL },
		{ t0, t1_ms, -1000, MERGE_NEWER_REMOTE },
		/* a missing or unreadable time orders nothing */
		{ NULL, t0, 0, MERGE_NEWER_UNKNOWN },
		{ t1, NULL, 0, MERGE_NEWER_UNKNOWN },
		{ NULL, NULL, 0, MERGE_NEWER_UNKNOWN },
		{ "yesterday", t0, 0, MERGE_NEWER_UNKNOWN },
		{ "9999-12-31T23:59:59.999Z", "2026-11-24T10:15:30", 0,
		  MERGE_NEWER_UNKNOWN },
		{ "2026-11-24T10:15:30", "0000-01-01T00:00:00Z", 0,
		  MERGE_NEWER_UNKNOWN },
		/* the extremes of the range, either way */
		{ "9999-12-31T23:59:59.999Z", "0000-01-01T00:00:00Z", 0,
		  MERGE_NEWER_LOCAL },
		{ "0000-01-01T00:00:00Z", "9999-12-31T23:59:59.999Z", 0,
		  MERGE_NEWER_REMOTE },
	};

	(void)state;
	for (size_t i = 0; i < CS_ARRAY_LEN(cases); i++)
		tu_assert_int_case(i, merge_newer_by_time(cases[i].l, cases[i].r,
							  cases[i].tol),
				   cases[i].want);
}

/* ---- record presence ---- */

/* A two-field entity: "k" (both ways, never changed) and "v", whose
 * direction each test sets. */
enum { P_K, P_V, P_NFIELDS };

static struct map_field pres_fields[P_NFIELDS] = {
	[P_K] = { .name = "k", .dir = DIR_BOTH },
	[P_V] = { .name = "v", .dir = DIR_BOTH },
};
static const struct map_entity pres_ent = {
	.name = "pres", .fields = pres_fields, .nfields = P_NFIELDS,
};

/* The agreed state; what a side did since. */
enum agreed { AG_NONE, AG_LIVE, AG_DELETED };
enum did { GONE, SAME, CHG };

/* Action per direction of "v": both, pull (council to provider only),
 * push (provider to council only). Spelled out by hand from the rules in
 * merge.h, not computed. */
static const struct {
	enum agreed ag;
	enum did l, r;
	enum merge_action want[3];
} presence_cases[] = {
#define ALL3(a) { a, a, a }
	/* never agreed: what one side has, the other gets */
	{ AG_NONE, GONE, GONE, ALL3(MA_NOTHING) },
	{ AG_NONE, GONE, SAME, ALL3(MA_CREATE_LOCAL) },
	{ AG_NONE, GONE, CHG, ALL3(MA_CREATE_LOCAL) },
	{ AG_NONE, SAME, GONE, ALL3(MA_CREATE_REMOTE) },
	{ AG_NONE, CHG, GONE, ALL3(MA_CREATE_REMOTE) },
	{ AG_NONE, SAME, SAME, ALL3(MA_MERGE) },
	{ AG_NONE, SAME, CHG, ALL3(MA_MERGE) },
	{ AG_NONE, CHG, SAME, ALL3(MA_MERGE) },
	{ AG_NONE, CHG, CHG, ALL3(MA_MERGE) },
	/* agreed and live: a deletion wins only over no change */
	{ AG_LIVE, GONE, GONE, ALL3(MA_SETTLE_DELETED) },
	{ AG_LIVE, GONE, SAME, ALL3(MA_DELETE_REMOTE) },
	/* the council's change to a push field would never be taken */
	{ AG_LIVE, GONE, CHG, { MA_CONFLICT_DELETED_LOCAL,
				 MA_CONFLICT_DELETED_LOCAL,
				 MA_DELETE_REMOTE } },
	{ AG_LIVE, SAME, GONE, ALL3(MA_DELETE_LOCAL) },
	/* the provider's change to a pull field would never be taken */
	{ AG_LIVE, CHG, GONE, { MA_CONFLICT_DELETED_REMOTE, MA_DELETE_LOCAL,
				 MA_CONFLICT_DELETED_REMOTE } },
	{ AG_LIVE, SAME, SAME, ALL3(MA_MERGE) },
	{ AG_LIVE, SAME, CHG, ALL3(MA_MERGE) },
	{ AG_LIVE, CHG, SAME, ALL3(MA_MERGE) },
	{ AG_LIVE, CHG, CHG, ALL3(MA_MERGE) },
	/* agreed deleted on both: a side that has it again restored it */
	{ AG_DELETED, GONE, GONE, ALL3(MA_NOTHING) },
	{ AG_DELETED, GONE, SAME, ALL3(MA_CREATE_LOCAL) },
	{ AG_DELETED, GONE, CHG, ALL3(MA_CREATE_LOCAL) },
	{ AG_DELETED, SAME, GONE, ALL3(MA_CREATE_REMOTE) },
	{ AG_DELETED, CHG, GONE, ALL3(MA_CREATE_REMOTE) },
	{ AG_DELETED, SAME, SAME, ALL3(MA_MERGE) },
	{ AG_DELETED, SAME, CHG, ALL3(MA_MERGE) },
	{ AG_DELETED, CHG, SAME, ALL3(MA_MERGE) },
	{ AG_DELETED, CHG, CHG, ALL3(MA_MERGE) },
#undef ALL3
};

static const enum field_dir pres_dirs[3] = { DIR_BOTH, DIR_PULL, DIR_PUSH };

/* The record a side holds after doing `did` to the base {"k", "b"}; NULL
 * when it deleted it. changed is that side's value of "v". */
static struct record *pres_rec(enum did did, const char *changed)
{
	const char *vals[P_NFIELDS] = { "k", did == CHG ? changed : "b" };

	return did == GONE ? NULL : tu_record_make(&pres_ent, vals);
}

static void test_presence_table(void **state)
{
	static const char *const agreed[P_NFIELDS] = { "k", "b" };
	struct record *base = tu_record_make(&pres_ent, agreed);

	(void)state;
	/* Every cell is listed once. */
	assert_int_equal(CS_ARRAY_LEN(presence_cases), 3 * 3 * 3);
	for (size_t d = 0; d < CS_ARRAY_LEN(pres_dirs); d++) {
		pres_fields[P_V].dir = pres_dirs[d];
		for (size_t i = 0; i < CS_ARRAY_LEN(presence_cases); i++) {
			struct record *l = pres_rec(presence_cases[i].l, "l");
			struct record *r = pres_rec(presence_cases[i].r, "r");
			enum agreed ag = presence_cases[i].ag;
			enum merge_action want = presence_cases[i].want[d];
			/* A tombstone's values (if any) play no part. */
			const struct record *bases[2] = {
				ag == AG_LIVE ? base : NULL,
				ag == AG_NONE ? NULL : base,
			};

			for (size_t b = 0; b < 2; b++) {
				enum merge_action got = merge_presence(
					bases[b], ag == AG_DELETED, l, r);

				if (got != want)
					fail_msg("dir %s, case %zu, base %s: got %s, "
						 "expected %s",
						 mapping_dir_name(pres_dirs[d]), i,
						 bases[b] ? "given" : "NULL",
						 merge_action_name(got),
						 merge_action_name(want));
			}
			record_free(l);
			record_free(r);
		}
	}
	pres_fields[P_V].dir = DIR_BOTH;
	record_free(base);
}

/* ---- the field merge of every both-present cell ---- */

/* The policies a field may have, each with the merge_newer it is merged
 * under. Owner and manual are given a newer side that must not matter. */
enum pol { OWN_L, OWN_R, NEW_L, NEW_R, NEW_U, MAN, NPOL };

/* Modification times for the newest variants: 1377 ms apart (local newer
 * for NEW_L, remote for NEW_R), and 777 ms apart for NEW_U, all under a
 * tolerance of 1000 ms. */
#define TOLERANCE_MS 1000
static const struct {
	enum merge_policy policy;
	enum side owner;
	const char *lmod, *rmod;	/* NULL: newer is given directly */
	enum merge_newer newer;
} pols[NPOL] = {
	[OWN_L] = { POLICY_OWNER, SIDE_LOCAL, NULL, NULL, MERGE_NEWER_REMOTE },
	[OWN_R] = { POLICY_OWNER, SIDE_REMOTE, NULL, NULL, MERGE_NEWER_LOCAL },
	[NEW_L] = { POLICY_NEWEST, SIDE_REMOTE, "2026-11-24 10:15:31.5+00",
		    "2026-11-24T10:15:30.123Z", MERGE_NEWER_LOCAL },
	[NEW_R] = { POLICY_NEWEST, SIDE_LOCAL, "2026-11-24 10:15:30.123+00",
		    "2026-11-24T11:15:31.500+01:00", MERGE_NEWER_REMOTE },
	[NEW_U] = { POLICY_NEWEST, SIDE_LOCAL, "2026-11-24 10:15:30.900+00",
		    "2026-11-24T10:15:30.123Z", MERGE_NEWER_UNKNOWN },
	[MAN] = { POLICY_MANUAL, SIDE_REMOTE, NULL, NULL, MERGE_NEWER_LOCAL },
};

/* Outcome codes for field "v", per direction (both, pull, push), each six
 * letters in the order OWN_L OWN_R NEW_L NEW_R NEW_U MAN:
 *   S  both already hold the same value: nothing to send
 *   L  the provider's value is kept: the council must change
 *   R  the council's value is kept: the provider must change
 *   M  held for a person: the provider's value stays, nothing is sent */
static const struct {
	enum agreed ag;
	enum did l, r;
	const char *want[3];
} both_present[] = {
	/* against the agreed base */
	{ AG_LIVE, SAME, SAME, { "SSSSSS", "SSSSSS", "SSSSSS" } },
	{ AG_LIVE, CHG, SAME, { "LLLLLL", "RRRRRR", "LLLLLL" } },
	{ AG_LIVE, SAME, CHG, { "RRRRRR", "RRRRRR", "LLLLLL" } },
	{ AG_LIVE, CHG, CHG, { "LRLRMM", "RRRRRR", "LLLLLL" } },
	/* no base (never agreed, or restored on both after a deletion):
	 * any difference is a conflict for the policy */
	{ AG_NONE, SAME, SAME, { "SSSSSS", "SSSSSS", "SSSSSS" } },
	{ AG_NONE, CHG, SAME, { "LRLRMM", "RRRRRR", "LLLLLL" } },
	{ AG_NONE, SAME, CHG, { "LRLRMM", "RRRRRR", "LLLLLL" } },
	{ AG_NONE, CHG, CHG, { "LRLRMM", "RRRRRR", "LLLLLL" } },
	{ AG_DELETED, SAME, SAME, { "SSSSSS", "SSSSSS", "SSSSSS" } },
	{ AG_DELETED, CHG, SAME, { "LRLRMM", "RRRRRR", "LLLLLL" } },
	{ AG_DELETED, SAME, CHG, { "LRLRMM", "RRRRRR", "LLLLLL" } },
	{ AG_DELETED, CHG, CHG, { "LRLRMM", "RRRRRR", "LLLLLL" } },
};

/* The newer side a policy variant merges under; the newest ones get it from
 * their modification times, which must give the intended answer. */
static enum merge_newer pol_newer(enum pol p)
{
	enum merge_newer n = pols[p].newer;

	if (pols[p].lmod &&
	    merge_newer_by_time(pols[p].lmod, pols[p].rmod, TOLERANCE_MS) != n)
		fail_msg("policy variant %d: the times do not give newer %d",
			 (int)p, (int)n);
	return n;
}

/* Checks one merge against outcome code c. */
static void check_outcome(const char *where, char c, const struct record *l,
			  const struct record *r, const struct merge_result *m)
{
	const char *lv = record_get(l, P_V), *rv = record_get(r, P_V);
	const char *want = c == 'R' ? rv : lv;
	size_t to_local = c == 'R', to_remote = c == 'L', manual = c == 'M';

	if (!cs_streq(record_get(m->merged, P_V), want) ||
	    !cs_streq(record_get(m->merged, P_K), "k") ||
	    m->to_local != to_local || m->to_remote != to_remote ||
	    m->manual != manual)
		fail_msg("%s (%c): merged v=%s k=%s, to_local %zu, to_remote %zu, "
			 "manual %zu; expected v=%s, %zu, %zu, %zu", where, c,
			 record_get(m->merged, P_V), record_get(m->merged, P_K),
			 m->to_local, m->to_remote, m->manual, want, to_local,
			 to_remote, manual);
}

static void test_both_present_merge(void **state)
{
	static const char *const agreed[P_NFIELDS] = { "k", "b" };
	struct record *base = tu_record_make(&pres_ent, agreed);

	(void)state;
	for (size_t i = 0; i < CS_ARRAY_LEN(both_present); i++) {
		struct record *l = pres_rec(both_present[i].l, "l");
		struct record *r = pres_rec(both_present[i].r, "r");
		enum agreed ag = both_present[i].ag;
		/* As merge.h says: against base only when it is live. */
		const struct record *b = ag == AG_LIVE ? base : NULL;

		assert_int_equal(merge_presence(ag == AG_NONE ? NULL : base,
						ag == AG_DELETED, l, r), MA_MERGE);
		for (size_t d = 0; d < CS_ARRAY_LEN(pres_dirs); d++) {
			assert_int_equal(strlen(both_present[i].want[d]), NPOL);
			for (int p = 0; p < NPOL; p++) {
				struct merge_result m;
				char where[96];

				pres_fields[P_V].dir = pres_dirs[d];
				pres_fields[P_V].policy = pols[p].policy;
				pres_fields[P_V].owner = pols[p].owner;
				assert_int_equal(merge_records(b, l, r,
					pol_newer((enum pol)p), &m), CS_OK);
				snprintf(where, sizeof(where), "case %zu, dir %s, "
					 "policy variant %d", i,
					 mapping_dir_name(pres_dirs[d]), p);
				check_outcome(where, both_present[i].want[d][p],
					      l, r, &m);
				merge_result_clear(&m);
			}
		}
		record_free(l);
		record_free(r);
	}
	pres_fields[P_V].dir = DIR_BOTH;
	pres_fields[P_V].policy = POLICY_OWNER;
	pres_fields[P_V].owner = SIDE_LOCAL;
	record_free(base);
}

/* ---- merge_side_changed ---- */

enum { C_BOTH, C_PULL, C_PUSH, C_NFIELDS };

static struct map_field chg_fields[C_NFIELDS] = {
	[C_BOTH] = { .name = "both", .dir = DIR_BOTH },
	[C_PULL] = { .name = "pull", .dir = DIR_PULL },
	[C_PUSH] = { .name = "push", .dir = DIR_PUSH },
};
static const struct map_entity chg_ent = {
	.name = "chg", .fields = chg_fields, .nfields = C_NFIELDS,
};

static void test_side_changed(void **state)
{
	static const char *const agreed[C_NFIELDS] = { "b", NULL, "p" };
	/* One field changed at a time (-1: none), and whether that is a
	 * change for the provider (local) and for the council (remote). */
	static const struct {
		int field;
		const char *to;
		int local, remote;
	} cases[] = {
		{ -1, NULL, 0, 0 },
		{ C_BOTH, "x", 1, 1 },
		{ C_BOTH, NULL, 1, 1 },		/* cleared */
		{ C_BOTH, "", 1, 1 },		/* empty is not absent */
		{ C_PULL, "x", 0, 1 },		/* only the council writes it */
		{ C_PULL, "", 0, 1 },		/* NULL -> "" */
		{ C_PUSH, "x", 1, 0 },		/* only the provider writes it */
		{ C_PUSH, NULL, 1, 0 },
	};
	struct record *base = tu_record_make(&chg_ent, agreed);

	(void)state;
	for (size_t i = 0; i < CS_ARRAY_LEN(cases); i++) {
		const char *vals[C_NFIELDS] = { "b", NULL, "p" };
		struct record *rec;

		if (cases[i].field >= 0)
			vals[cases[i].field] = cases[i].to;
		rec = tu_record_make(&chg_ent, vals);
		tu_assert_int_case(i, !!merge_side_changed(base, rec, SIDE_LOCAL),
				   cases[i].local);
		tu_assert_int_case(i, !!merge_side_changed(base, rec, SIDE_REMOTE),
				   cases[i].remote);
		/* No base: present counts as changed, on either side. */
		tu_assert_int_case(i, !!merge_side_changed(NULL, rec, SIDE_LOCAL), 1);
		tu_assert_int_case(i, !!merge_side_changed(NULL, rec, SIDE_REMOTE), 1);
		record_free(rec);
	}
	/* A deleted side has nothing changed. */
	assert_false(merge_side_changed(base, NULL, SIDE_LOCAL));
	assert_false(merge_side_changed(base, NULL, SIDE_REMOTE));
	assert_false(merge_side_changed(NULL, NULL, SIDE_LOCAL));
	record_free(base);
}

/* Two fields changed on the deleting side's partner: one change the
 * partner may not make does not hide another it may. */
static void test_presence_any_field(void **state)
{
	static const char *const agreed[C_NFIELDS] = { "b", "q", "p" };
	static const char *const council_vals[C_NFIELDS] = { "b", "q2", "p2" };
	static const char *const provider_vals[C_NFIELDS] = { "b2", "q2", "p" };
	struct record *base = tu_record_make(&chg_ent, agreed);
	struct record *council = tu_record_make(&chg_ent, council_vals);
	struct record *provider = tu_record_make(&chg_ent, provider_vals);

	(void)state;
	/* The council changed pull (counts) and push (does not). */
	assert_int_equal(merge_presence(base, 0, NULL, council),
			 MA_CONFLICT_DELETED_LOCAL);
	/* The provider changed both (counts) and pull (does not). */
	assert_int_equal(merge_presence(base, 0, provider, NULL),
			 MA_CONFLICT_DELETED_REMOTE);
	record_free(base);
	record_free(council);
	record_free(provider);
}

static void test_action_names(void **state)
{
	static const struct {
		enum merge_action a;
		const char *name;
	} cases[] = {
		{ MA_NOTHING, "nothing" },
		{ MA_MERGE, "merge" },
		{ MA_CREATE_LOCAL, "create_local" },
		{ MA_CREATE_REMOTE, "create_remote" },
		{ MA_DELETE_LOCAL, "delete_local" },
		{ MA_DELETE_REMOTE, "delete_remote" },
		{ MA_SETTLE_DELETED, "settle_deleted" },
		{ MA_CONFLICT_DELETED_REMOTE, "conflict_deleted_remote" },
		{ MA_CONFLICT_DELETED_LOCAL, "conflict_deleted_local" },
	};

	(void)state;
	for (size_t i = 0; i < CS_ARRAY_LEN(cases); i++)
		tu_assert_str_case(i, merge_action_name(cases[i].a),
				   cases[i].name);
	assert_string_equal(merge_action_name((enum merge_action)99), "?");
	assert_string_equal(merge_action_name((enum merge_action)-1), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_field_both_directions),
		cmocka_unit_test(test_field_one_way),
		cmocka_unit_test(test_field_invariants),
		cmocka_unit_test(test_decision_properties),
		cmocka_unit_test(test_records_with_base_newer_remote),
		cmocka_unit_test(test_records_with_base_newer_unknown),
		cmocka_unit_test(test_records_without_base),
		cmocka_unit_test(test_records_identical),
		cmocka_unit_test(test_records_manual_keeps_local_null),
		cmocka_unit_test(test_parse_time_valid),
		cmocka_unit_test(test_parse_time_invalid),
		cmocka_unit_test(test_newer_by_time),
		cmocka_unit_test(test_presence_table),
		cmocka_unit_test(test_both_present_merge),
		cmocka_unit_test(test_side_changed),
		cmocka_unit_test(test_presence_any_field),
		cmocka_unit_test(test_action_names),
	};

	return cmocka_run_group_tests_name("merge", tests, NULL, NULL);
}
