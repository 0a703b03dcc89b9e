/* test_record.c - canonical records: values, comparison, hashing,
 * normalisation and the JSON shape stored as the merge base. */
#include "testutil.h"

#include "record.h"

/* A small entity built by hand: one field of each type. */
static struct map_field fields[] = {
	{ .name = "name", .local_col = "name", .remote_loc = "/name",
	  .type = FT_STRING },
	{ .name = "dob", .local_col = "dob", .remote_loc = "/dob",
	  .type = FT_DATE },
	{ .name = "count", .local_col = "count", .remote_loc = "/count",
	  .type = FT_INT },
	{ .name = "active", .local_col = "active", .remote_loc = "/active",
	  .type = FT_BOOL },
};
static const struct map_entity ent = {
	.name = "thing", .fields = fields, .nfields = CS_ARRAY_LEN(fields),
};
#define NF CS_ARRAY_LEN(fields)

static struct record *make(const char *const vals[NF])
{
	return tu_record_make(&ent, vals);
}

static void hash_of(const char *const vals[NF], char out[RECORD_HASH_HEX])
{
	struct record *r = make(vals);

	record_hash(r, out);
	record_free(r);
}

/* ---- values ---- */

static void test_new_is_all_null(void **state)
{
	struct record *r = record_new(&ent);

	(void)state;
	assert_non_null(r);
	assert_ptr_equal(r->ent, &ent);
	for (size_t i = 0; i < NF; i++)
		assert_null(record_get(r, i));
	record_free(r);
}

static void test_set_get_copies(void **state)
{
	struct record *r = record_new(&ent);
	char src[] = "Ann";

	(void)state;
	assert_int_equal(record_set(r, 0, src), CS_OK);
	src[0] = 'X';	/* the record holds its own copy */
	assert_string_equal(record_get(r, 0), "Ann");
	assert_int_equal(record_set(r, 0, "Bea"), CS_OK);
	assert_string_equal(record_get(r, 0), "Bea");
	assert_int_equal(record_set(r, 0, ""), CS_OK);
	assert_string_equal(record_get(r, 0), "");
	assert_int_equal(record_set(r, 0, NULL), CS_OK);
	assert_null(record_get(r, 0));
	assert_null(record_get(r, 1));
	record_free(r);
}

static void test_dup_is_equal_and_independent(void **state)
{
	static const char *const v[NF] = { "Ann", NULL, "3", "true" };
	struct record *a = make(v), *b = record_dup(a);

	(void)state;
	assert_non_null(b);
	assert_ptr_equal(b->ent, &ent);
	assert_true(record_equal(a, b));
	for (size_t i = 0; i < NF; i++) {
		if (v[i])
			assert_ptr_not_equal(record_get(a, i), record_get(b, i));
		assert_true(cs_streq(record_get(b, i), v[i]));
	}
	assert_int_equal(record_set(b, 0, "Bea"), CS_OK);
	assert_string_equal(record_get(a, 0), "Ann");
	assert_false(record_equal(a, b));
	record_free(a);
	record_free(b);
}

struct cmp_case {
	const char *a[NF];
	const char *b[NF];
	size_t diffs;
};

static const struct cmp_case cmp_cases[] = {
	{ { NULL, NULL, NULL, NULL }, { NULL, NULL, NULL, NULL }, 0 },
	{ { "a", "2015-01-01", "1", "true" }, { "a", "2015-01-01", "1", "true" }, 0 },
	{ { "a", NULL, NULL, NULL }, { "b", NULL, NULL, NULL }, 1 },
	{ { NULL, NULL, NULL, NULL }, { "", NULL, NULL, NULL }, 1 },
	{ { "a", "x", NULL, NULL }, { "a", NULL, "1", NULL }, 2 },
	{ { "a", "b", "c", "d" }, { "A", "B", "C", "D" }, 4 },
	{ { "a", NULL, NULL, NULL }, { "a ", NULL, NULL, NULL }, 1 },
};

static void test_equal_and_diff_count(void **state)
{
	(void)state;
	for (size_t i = 0; i < CS_ARRAY_LEN(cmp_cases); i++) {
		const struct cmp_case *c = &cmp_cases[i];
		struct record *a = make(c->a), *b = make(c->b);
		size_t fe = 0;

		tu_assert_int_case(i, record_diff_count(a, b), c->diffs);
		tu_assert_int_case(i, record_diff_count(b, a), c->diffs);
		tu_assert_int_case(i, !!record_equal(a, b), c->diffs == 0);
		for (size_t f = 0; f < NF; f++)
			fe += !record_field_equal(a, b, f);
		tu_assert_int_case(i, fe, c->diffs);
		record_free(a);
		record_free(b);
	}
}

/* ---- hashing ---- */

static void test_hash_shape_and_stability(void **state)
{
	static const char *const v[NF] = { "Ann", "2015-01-01", "3", NULL };
	char h1[RECORD_HASH_HEX], h2[RECORD_HASH_HEX];
	struct record *r = make(v), *d;

	(void)state;
	record_hash(r, h1);
	assert_int_equal(strlen(h1), 64);
	assert_int_equal(strspn(h1, "0123456789abcdef"), 64);
	/* Same values, separately built or duplicated: same hash. */
	hash_of(v, h2);
	assert_string_equal(h1, h2);
	d = record_dup(r);
	record_hash(d, h2);
	assert_string_equal(h1, h2);
	record_free(d);
	record_free(r);
}

static void test_hash_changes_with_any_value(void **state)
{
	static const char *const v[NF] = { "Ann", "2015-01-01", "3", "true" };
	char base[RECORD_HASH_HEX], h[RECORD_HASH_HEX];

	(void)state;
	hash_of(v, base);
	for (size_t i = 0; i < NF; i++) {
		const char *w[NF];

		memcpy(w, v, sizeof(w));
		w[i] = "changed";
		hash_of(w, h);
		if (!strcmp(h, base))
			fail_msg("changing field %zu kept the hash", i);
		w[i] = NULL;
		hash_of(w, h);
		if (!strcmp(h, base))
			fail_msg("clearing field %zu kept the hash", i);
	}
}

/* Pairs of different records that must hash differently, though a naive
 * concatenation of the values would make them collide. */
static const struct {
	const char *a[NF];
	const char *b[NF];
} hash_pairs[] = {
	{ { NULL, NULL, NULL, NULL }, { "", NULL, NULL, NULL } },
	{ { NULL, NULL, NULL, NULL }, { "", "", "", "" } },
	{ { "ab", "", NULL, NULL }, { "a", "b", NULL, NULL } },
	{ { "a", "bc", NULL, NULL }, { "ab", "c", NULL, NULL } },
	{ { "ab", NULL, NULL, NULL }, { "a", "b", NULL, NULL } },
	{ { NULL, "x", NULL, NULL }, { "x", NULL, NULL, NULL } },
	{ { "V", NULL, NULL, NULL }, { "", NULL, NULL, NULL } },
	{ { "N", "", NULL, NULL }, { NULL, "N", NULL, NULL } },
	/* A value equal to the next field's name, moved across an absent
	 * field: only the present/absent marker tells these apart. */
	{ { NULL, "dob", NULL, NULL }, { "dob", NULL, NULL, NULL } },
	{ { "x", NULL, "active", NULL }, { "x", NULL, NULL, "active" } },
};

static void test_hash_distinguishes(void **state)
{
	(void)state;
	for (size_t i = 0; i < CS_ARRAY_LEN(hash_pairs); i++) {
		char ha[RECORD_HASH_HEX], hb[RECORD_HASH_HEX];

		hash_of(hash_pairs[i].a, ha);
		hash_of(hash_pairs[i].b, hb);
		if (!strcmp(ha, hb))
			fail_msg("case %zu: different records, same hash", i);
	}
}

static void test_hash_covers_field_names(void **state)
{
	static struct map_field other_fields[] = {
		{ .name = "nam", .type = FT_STRING },
		{ .name = "edob", .type = FT_DATE },
		{ .name = "count", .type = FT_INT },
		{ .name = "active", .type = FT_BOOL },
	};
	static const struct map_entity other = {
		.name = "thing", .fields = other_fields, .nfields = 4,
	};
	static const char *const v[NF] = { "Ann", "2015-01-01", "3", "true" };
	char ha[RECORD_HASH_HEX], hb[RECORD_HASH_HEX];
	struct record *b = record_new(&other);

	(void)state;
	assert_non_null(b);
	for (size_t i = 0; i < NF; i++)
		assert_int_equal(record_set(b, i, v[i]), CS_OK);
	hash_of(v, ha);
	record_hash(b, hb);
	assert_string_not_equal(ha, hb);
	record_free(b);
}

/* ---- normalisation ---- */


/* ---- JSON ---- */

static void test_to_json_shape(void **state)
{
	static const char *const v[NF] = { "Ann", NULL, "3", "" };
	struct record *r = make(v);
	json_t *got = record_to_json(r);
	json_t *want = json_pack("{s:s, s:n, s:s, s:s}", "name", "Ann", "dob",
				 "count", "3", "active", "");

	(void)state;
	assert_non_null(got);
	assert_non_null(want);
	assert_true(json_equal(got, want));
	json_decref(got);
	json_decref(want);
	record_free(r);
}

static void test_json_round_trip(void **state)
{
	static const char *const cases[][NF] = {
		{ "Ann", "2015-01-01", "3", "true" },
		{ NULL, NULL, NULL, NULL },
		{ "", NULL, "", NULL },
		{ "caf\xc3\xa9 \"quoted\"\n", "2016-02-29", NULL, "false" },
	};

	(void)state;
	for (size_t i = 0; i < CS_ARRAY_LEN(cases); i++) {
		struct record *r = make(cases[i]), *back = NULL;
		json_t *j = record_to_json(r);

		assert_non_null(j);
		tu_assert_int_case(i, record_from_json(&ent, j, &back), CS_OK);
		assert_non_null(back);
		tu_assert_int_case(i, record_diff_count(r, back), 0);
		for (size_t f = 0; f < NF; f++)
			tu_assert_str_case(i, record_get(back, f), cases[i][f]);
		json_decref(j);
		record_free(r);
		record_free(back);
	}
}

static void test_from_json_missing_and_extra(void **state)
{
	json_t *j = json_pack("{s:s, s:s}", "dob", "2015-01-01", "unmapped", "x");
	struct record *r = NULL;

	(void)state;
	assert_int_equal(record_from_json(&ent, j, &r), CS_OK);
	assert_null(record_get(r, 0));
	assert_string_equal(record_get(r, 1), "2015-01-01");
	assert_null(record_get(r, 2));
	assert_null(record_get(r, 3));
	record_free(r);
	json_decref(j);
}

static void test_from_json_rejects(void **state)
{
	json_t *bad[] = {
		json_pack("{s:i}", "count", 3),
		json_pack("{s:b}", "active", 1),
		json_pack("{s:f}", "name", 1.5),
		json_pack("{s:{s:s}}", "name", "first", "Ann"),
		json_pack("{s:[s]}", "name", "Ann"),
		json_pack("{s:s, s:i}", "name", "Ann", "dob", 20150101),
		json_pack("[s]", "Ann"),
		json_string("Ann"),
	};

	(void)state;
	for (size_t i = 0; i < CS_ARRAY_LEN(bad); i++) {
		static struct record dummy;
		struct record *r = &dummy;	/* must be reset to NULL */

		assert_non_null(bad[i]);
		tu_assert_int_case(i, record_from_json(&ent, bad[i], &r),
				   CS_EINVAL);
		assert_null(r);
		json_decref(bad[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_is_all_null),
		cmocka_unit_test(test_set_get_copies),
		cmocka_unit_test(test_dup_is_equal_and_independent),
		cmocka_unit_test(test_equal_and_diff_count),
		cmocka_unit_test(test_hash_shape_and_stability),
		cmocka_unit_test(test_hash_changes_with_any_value),
		cmocka_unit_test(test_hash_distinguishes),
		cmocka_unit_test(test_hash_covers_field_names),
		
		
		cmocka_unit_test(test_to_json_shape),
		cmocka_unit_test(test_json_round_trip),
		cmocka_unit_test(test_from_json_missing_and_extra),
		cmocka_unit_test(test_from_json_rejects),
	};

	return cmocka_run_group_tests_name("record", tests, NULL, NULL);
}
