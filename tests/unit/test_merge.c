/* test_merge.c - the three-way merge: the full merge_field truth table for
 * every direction and policy, and merge_records on a hand-built entity. */
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
	};

	return cmocka_run_group_tests_name("merge", tests, NULL, NULL);
}
