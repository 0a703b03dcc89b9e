/* test_audit.c - the "changes" document of an audit row
 * (audit_changes_json; audit_write needs a database and is not tested here). */
#include "testutil.h"

#include "audit.h"

static struct map_field fields[] = {
	{ .name = "given_name", .local_col = "given_name", .remote_loc = "/g" },
	{ .name = "family_name", .local_col = "family_name", .remote_loc = "/f" },
	{ .name = "upn", .local_col = "upn", .remote_loc = "/u" },
	{ .name = "gender", .local_col = "gender", .remote_loc = "/x" },
};
static const struct map_entity ent = {
	.name = "person", .fields = fields, .nfields = CS_ARRAY_LEN(fields),
};
#define NF CS_ARRAY_LEN(fields)

static struct record *make(const char *const vals[NF])
{
	return tu_record_make(&ent, vals);
}

struct audit_case {
	const char *what;
	int has_old;
	const char *old_vals[NF];
	const char *new_vals[NF];
	const char *want;	/* expected JSON */
};

/* Checks audit_changes_json for each case of a table. */
static void check_cases(const struct audit_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct audit_case *c = &cases[i];
		struct record *o = c->has_old ? make(c->old_vals) : NULL;
		struct record *nw = make(c->new_vals);
		json_t *got = audit_changes_json(o, nw);
		json_t *want = json_loads(c->want, 0, NULL);
		int same = got && want && json_equal(got, want);

		if (!same) {
			char *s = got ? json_dumps(got, JSON_SORT_KEYS) : NULL;

			print_message("case %zu (%s): got %s\n", i, c->what,
				      s ? s : "NULL");
			free(s);
		}
		json_decref(got);
		json_decref(want);
		record_free(o);
		record_free(nw);
		if (!same)
			fail_msg("case %zu (%s): wrong changes", i, c->what);
	}
}

static void test_only_differing_fields(void **state)
{
	static const struct audit_case cases[] = {
		{ "two fields changed", 1,
		  { "Ann", "Lee", "U1", "F" }, { "Anne", "Lee", "U2", "F" },
		  "{\"given_name\": {\"old\": \"Ann\", \"new\": \"Anne\"},"
		  " \"upn\": {\"old\": \"U1\", \"new\": \"U2\"}}" },
		{ "every field changed", 1,
		  { "a", "b", "c", "d" }, { "A", "B", "C", "D" },
		  "{\"given_name\": {\"old\": \"a\", \"new\": \"A\"},"
		  " \"family_name\": {\"old\": \"b\", \"new\": \"B\"},"
		  " \"upn\": {\"old\": \"c\", \"new\": \"C\"},"
		  " \"gender\": {\"old\": \"d\", \"new\": \"D\"}}" },
		{ "nothing changed", 1,
		  { "Ann", NULL, "U1", "" }, { "Ann", NULL, "U1", "" }, "{}" },
	};

	(void)state;
	check_cases(cases, CS_ARRAY_LEN(cases));
}

static void test_null_values(void **state)
{
	static const struct audit_case cases[] = {
		{ "value set and value cleared", 1,
		  { NULL, "Lee", NULL, NULL }, { "Ann", NULL, NULL, NULL },
		  "{\"given_name\": {\"old\": null, \"new\": \"Ann\"},"
		  " \"family_name\": {\"old\": \"Lee\", \"new\": null}}" },
		{ "empty string is not null", 1,
		  { "", NULL, NULL, NULL }, { NULL, "", NULL, NULL },
		  "{\"given_name\": {\"old\": \"\", \"new\": null},"
		  " \"family_name\": {\"old\": null, \"new\": \"\"}}" },
	};

	(void)state;
	check_cases(cases, CS_ARRAY_LEN(cases));
}

static void test_creation(void **state)
{
	static const struct audit_case cases[] = {
		{ "every non-null field, old null", 0,
		  { NULL, NULL, NULL, NULL }, { "Ann", NULL, "U1", "" },
		  "{\"given_name\": {\"old\": null, \"new\": \"Ann\"},"
		  " \"upn\": {\"old\": null, \"new\": \"U1\"},"
		  " \"gender\": {\"old\": null, \"new\": \"\"}}" },
		{ "an empty record", 0,
		  { NULL, NULL, NULL, NULL }, { NULL, NULL, NULL, NULL }, "{}" },
	};

	(void)state;
	check_cases(cases, CS_ARRAY_LEN(cases));
}

/* A rejected input has no record: no field changed. A removal has only
 * the old record: every value it had goes. */
static void test_no_record_and_removal(void **state)
{
	const char *vals[NF] = { "Fay", NULL, "A123", "2" };
	struct record *o = make(vals);
	json_t *got = audit_changes_json(NULL, NULL);
	json_t *want = json_loads("{}", 0, NULL);

	(void)state;
	assert_non_null(got);
	assert_true(json_equal(got, want));
	json_decref(got);
	json_decref(want);
	got = audit_changes_json(o, NULL);
	want = json_loads("{\"given_name\": {\"old\": \"Fay\", \"new\": null},"
			  " \"upn\": {\"old\": \"A123\", \"new\": null},"
			  " \"gender\": {\"old\": \"2\", \"new\": null}}", 0, NULL);
	assert_non_null(got);
	assert_true(json_equal(got, want));
	json_decref(got);
	json_decref(want);
	record_free(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_only_differing_fields),
		cmocka_unit_test(test_null_values),
		cmocka_unit_test(test_creation),
		cmocka_unit_test(test_no_record_and_removal),
	};

	return cmocka_run_group_tests_name("audit", tests, NULL, NULL);
}
