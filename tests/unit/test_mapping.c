/* test_mapping.c - mapping files: the real person mapping, every reported
 * problem with FILE:LINE, mapping sets, and the small validators. */
#include "testutil.h"

#include "mapping.h"

/* The group's scratch directory (group state). */
struct scratch {
	char dir[TU_PATH_MAX];
};

static int scratch_setup(void **state)
{
	struct scratch *s = calloc(1, sizeof(*s));

	if (!s)
		return -1;
	snprintf(s->dir, sizeof(s->dir), "/tmp/casesync-test-XXXXXX");
	if (!mkdtemp(s->dir)) {
		free(s);
		return -1;
	}
	*state = s;
	return 0;
}

static int scratch_teardown(void **state)
{
	struct scratch *s = *state;

	tu_remove_dir(s->dir);
	free(s);
	return 0;
}

/* A valid [entity] section: 5 lines. */
#define ENTITY_HEAD                     \
	"[entity]\n"                    \
	"name = thing\n"                \
	"local.table = store.thing\n"   \
	"local.key = id\n"              \
	"remote.collection = things\n"
/* A valid field: lines 6 to 8 after ENTITY_HEAD. */
#define FIELD_A "[field a]\nlocal = a\nremote = /a\n"

/* Writes text as dir/t.map and loads it. */
static int load_map(const char *dir, const char *text, struct map_entity *e,
		    struct diag *d, char path[TU_PATH_MAX])
{
	tu_write_in_dir(dir, "t.map", text, path);
	diag_init(d);
	return mapping_entity_load(path, e, d);
}

/* ---- the real mapping ---- */

static void test_real_person_map(void **state)
{
	struct map_entity e;
	struct diag d;
	int i;

	(void)state;
	diag_init(&d);
	assert_int_equal(mapping_entity_load("mappings/lcs-rest/person.map", &e,
					     &d), CS_OK);
	assert_int_equal(d.total, 0);
	assert_string_equal(e.name, "person");
	assert_string_equal(e.file, "mappings/lcs-rest/person.map");
	assert_string_equal(e.codec, "json");
	assert_string_equal(e.local_table, "casestore.person");
	assert_string_equal(e.local_key, "id");
	assert_string_equal(e.remote_collection, "persons");
	assert_string_equal(e.remote_id_ptr, "/id");
	assert_string_equal(e.remote_version_ptr, "/version");
	/* Keys the file leaves out take their defaults. */
	assert_string_equal(e.remote_deleted_ptr, "/deleted");
	assert_string_equal(e.feed_items_ptr, "/items");
	assert_string_equal(e.feed_next_ptr, "/next");
	assert_string_equal(e.feed_more_ptr, "/more");
	assert_int_equal(e.nfields, 7);

	i = mapping_field_index(&e, "la_child_id");
	assert_int_equal(i, 0);
	assert_string_equal(e.fields[i].local_col, "la_child_id");
	assert_string_equal(e.fields[i].remote_ptr, "/id");
	assert_int_equal(e.fields[i].dir, DIR_TO_LOCAL);
	assert_int_equal(e.fields[i].owner, SIDE_REMOTE);
	assert_int_equal(e.fields[i].type, FT_STRING);
	assert_int_equal(e.fields[i].line, 15);

	i = mapping_field_index(&e, "given_name");
	assert_true(i > 0);
	assert_string_equal(e.fields[i].remote_ptr, "/name/forename");
	assert_int_equal(e.fields[i].dir, DIR_BOTH);
	assert_int_equal(e.fields[i].policy, POLICY_OWNER);

	i = mapping_field_index(&e, "date_of_birth");
	assert_true(i > 0);
	assert_int_equal(e.fields[i].type, FT_DATE);
	assert_string_equal(e.fields[i].remote_ptr, "/dateOfBirth");

	assert_int_equal(mapping_field_index(&e, "nhs_number"), 6);
	assert_int_equal(mapping_field_index(&e, "address"), -1);
	mapping_entity_clear(&e);
	diag_free(&d);
}

static void test_real_set_loads(void **state)
{
	struct diag d;
	struct mapping_set *s;
	const struct map_entity *e;

	(void)state;
	diag_init(&d);
	s = mapping_set_load("mappings", "lcs-rest", &d);
	if (!s)
		tu_diag_dump(&d);
	assert_non_null(s);
	assert_int_equal(d.total, 0);
	assert_string_equal(s->name, "lcs-rest");
	assert_string_equal(s->dir, "mappings/lcs-rest");
	assert_int_equal(s->nentities, 1);
	e = mapping_find_entity(s, "person");
	assert_ptr_equal(e, &s->entities[0]);
	assert_int_equal(e->nfields, 7);
	assert_null(mapping_find_entity(s, "case"));
	mapping_set_free(s);
	diag_free(&d);
}

/* ---- one problem per file, each at FILE:LINE ---- */

struct bad_map {
	const char *what;
	const char *text;
	int line;		/* 0: reported without a line */
	const char *needle;
};

static const struct bad_map bad_maps[] = {
	{ "unknown key in field", ENTITY_HEAD FIELD_A "colour = red\n", 9,
	  "unknown key 'colour' in [field a]" },
	{ "duplicate field", ENTITY_HEAD FIELD_A "[field a]\nlocal = b\n"
	  "remote = /b\n", 9, "field 'a' defined twice" },
	{ "field without local", ENTITY_HEAD "[field a]\nremote = /a\n", 6,
	  "[field a] needs 'local'" },
	{ "field without remote", ENTITY_HEAD "[field a]\nlocal = a\n", 6,
	  "[field a] needs 'remote'" },
	{ "pointer without slash", ENTITY_HEAD "[field a]\nlocal = a\n"
	  "remote = name/forename\n", 8, "remote: not a JSON Pointer" },
	{ "pointer bad escape", ENTITY_HEAD "[field a]\nlocal = a\n"
	  "remote = /a~2b\n", 8, "remote: not a JSON Pointer" },
	{ "pointer trailing tilde", ENTITY_HEAD "[field a]\nlocal = a\n"
	  "remote = /a~\n", 8, "remote: not a JSON Pointer" },
	{ "empty pointer (whole document)", ENTITY_HEAD "[field a]\nlocal = a\n"
	  "remote =\n", 8, "remote: not a JSON Pointer" },
	{ "bad type", ENTITY_HEAD FIELD_A "type = text\n", 9,
	  "type: expected string, date, int or bool" },
	{ "bad owner", ENTITY_HEAD FIELD_A "owner = county\n", 9,
	  "owner: expected council or provider" },
	{ "bad policy", ENTITY_HEAD FIELD_A "policy = vote\n", 9,
	  "policy: expected owner, newest or manual" },
	{ "bad direction", ENTITY_HEAD FIELD_A "direction = sideways\n", 9,
	  "direction: expected both, to-local or to-remote" },
	{ "words are case sensitive", ENTITY_HEAD FIELD_A "type = String\n", 9,
	  "type: expected" },
	{ "SQL injection in local.table", "[entity]\nname = thing\n"
	  "local.table = casestore.person; drop table x\nlocal.key = id\n"
	  "remote.collection = things\n" FIELD_A, 3,
	  "local.table must be [schema.]table" },
	{ "three-part table", "[entity]\nname = thing\nlocal.table = a.b.c\n"
	  "local.key = id\nremote.collection = things\n" FIELD_A, 3,
	  "local.table must be" },
	{ "upper-case table", "[entity]\nname = thing\n"
	  "local.table = Store.Thing\nlocal.key = id\n"
	  "remote.collection = things\n" FIELD_A, 3, "local.table must be" },
	{ "bad local.key", "[entity]\nname = thing\nlocal.table = s.t\n"
	  "local.key = s.id\nremote.collection = things\n" FIELD_A, 4,
	  "local.key must be a column name" },
	{ "bad remote.collection", "[entity]\nname = thing\nlocal.table = s.t\n"
	  "local.key = id\nremote.collection = ../admin\n" FIELD_A, 5,
	  "remote.collection must match" },
	{ "bad entity name", "[entity]\nname = Thing\nlocal.table = s.t\n"
	  "local.key = id\nremote.collection = things\n" FIELD_A, 2,
	  "name must match" },
	{ "bad column", ENTITY_HEAD "[field a]\nlocal = a; drop\nremote = /a\n",
	  7, "is not a column name" },
	{ "bad field name", ENTITY_HEAD FIELD_A "[field A-1]\nlocal = b\n"
	  "remote = /b\n", 9, "field name 'A-1' must match" },
	{ "bad remote.id pointer", ENTITY_HEAD "remote.id = id\n" FIELD_A, 6,
	  "remote.id: not a JSON Pointer" },
	{ "codec", ENTITY_HEAD "codec = xml\n" FIELD_A, 6,
	  "codec: only 'json'" },
	{ "entity key twice", ENTITY_HEAD "name = other\n" FIELD_A, 6,
	  "'name' set twice (first on line 2)" },
	{ "unknown entity key", ENTITY_HEAD "remote.ids = /id\n" FIELD_A, 6,
	  "unknown key 'remote.ids' in [entity]" },
	{ "two fields, one column", ENTITY_HEAD FIELD_A
	  "[field b]\nlocal = a\nremote = /b\n", 9,
	  "[field b] maps column 'a' already mapped by [field a]" },
	{ "unknown section", ENTITY_HEAD FIELD_A "[fields b]\n", 9,
	  "unknown section [fields b]" },
	{ "key outside section", "name = thing\n" ENTITY_HEAD FIELD_A, 1,
	  "key 'name' outside any section" },
	{ "entity twice", ENTITY_HEAD FIELD_A "[entity]\n", 9,
	  "[entity] appears twice" },
	{ "missing name", "[entity]\nlocal.table = s.t\nlocal.key = id\n"
	  "remote.collection = things\n" FIELD_A, 0, "[entity] needs 'name'" },
	{ "missing local.table", "[entity]\nname = thing\nlocal.key = id\n"
	  "remote.collection = things\n" FIELD_A, 0,
	  "[entity] needs 'local.table'" },
	{ "missing local.key", "[entity]\nname = thing\nlocal.table = s.t\n"
	  "remote.collection = things\n" FIELD_A, 0,
	  "[entity] needs 'local.key'" },
	{ "missing remote.collection", "[entity]\nname = thing\n"
	  "local.table = s.t\nlocal.key = id\n" FIELD_A, 0,
	  "[entity] needs 'remote.collection'" },
	{ "no fields", ENTITY_HEAD, 0, "no [field NAME] sections" },
};

static void test_bad_maps(void **state)
{
	struct scratch *s = *state;

	for (size_t i = 0; i < CS_ARRAY_LEN(bad_maps); i++) {
		const struct bad_map *b = &bad_maps[i];
		char path[TU_PATH_MAX];
		struct map_entity e;
		struct diag d;
		int rc = load_map(s->dir, b->text, &e, &d, path);

		if (rc != CS_EINVAL || d.total != 1 ||
		    !tu_diag_at(&d, path, b->line, b->needle)) {
			tu_diag_dump(&d);
			fail_msg("case %zu (%s): rc %d, %d problems; expected one "
				 "at line %d: %s", i, b->what, rc, d.total,
				 b->line, b->needle);
		}
		mapping_entity_clear(&e);
		diag_free(&d);
	}
}

static void test_good_map_with_every_word(void **state)
{
	struct scratch *s = *state;
	char path[TU_PATH_MAX];
	struct map_entity e;
	struct diag d;
	int rc = load_map(s->dir, ENTITY_HEAD
			  "[field a]\nlocal = a\nremote = /x/a~1b~0c\n"
			  "type = int\ndirection = to-remote\nowner = provider\n"
			  "policy = newest\n"
			  "[field b]\nlocal = b\nremote = /b\ntype = bool\n"
			  "policy = manual\ndirection = both\nowner = council\n"
			  "[field c]\nlocal = c\nremote = /c\ntype = date\n",
			  &e, &d, path);

	(void)state;
	if (rc)
		tu_diag_dump(&d);
	assert_int_equal(rc, CS_OK);
	assert_int_equal(e.nfields, 3);
	assert_string_equal(e.fields[0].remote_ptr, "/x/a~1b~0c");
	assert_int_equal(e.fields[0].type, FT_INT);
	assert_int_equal(e.fields[0].dir, DIR_TO_REMOTE);
	assert_int_equal(e.fields[0].owner, SIDE_LOCAL);
	assert_int_equal(e.fields[0].policy, POLICY_NEWEST);
	assert_int_equal(e.fields[0].line, 6);
	assert_int_equal(e.fields[1].type, FT_BOOL);
	assert_int_equal(e.fields[1].policy, POLICY_MANUAL);
	assert_int_equal(e.fields[1].owner, SIDE_REMOTE);
	assert_int_equal(e.fields[2].type, FT_DATE);
	/* Defaults for a field that names only local and remote. */
	assert_int_equal(e.fields[2].dir, DIR_BOTH);
	assert_int_equal(e.fields[2].owner, SIDE_REMOTE);
	assert_int_equal(e.fields[2].policy, POLICY_OWNER);
	mapping_entity_clear(&e);
	diag_free(&d);
}

static void test_missing_map_file(void **state)
{
	struct map_entity e;
	struct diag d;

	(void)state;
	diag_init(&d);
	assert_int_equal(mapping_entity_load("/nonexistent/x.map", &e, &d),
			 CS_EIO);
	tu_assert_diag_at(&d, "/nonexistent/x.map", 0, "cannot open");
	mapping_entity_clear(&e);
	diag_free(&d);
}

/* ---- mapping sets ---- */

/* Splits a scratch directory into its parent and its base name. */
static void split_dir(const char *dir, char parent[TU_PATH_MAX],
		      const char **base)
{
	const char *slash = strrchr(dir, '/');

	assert_non_null(slash);
	memcpy(parent, dir, (size_t)(slash - dir));
	parent[slash - dir] = '\0';
	*base = slash + 1;
}

static void test_set_empty_dir(void **state)
{
	char dir[TU_PATH_MAX], parent[TU_PATH_MAX];
	const char *base;
	struct diag d;

	(void)state;
	tu_temp_dir(dir);
	/* Only *.map files count. */
	tu_write_in_dir(dir, "README", "not a mapping\n", NULL);
	tu_write_in_dir(dir, "person.map.bak", ENTITY_HEAD FIELD_A, NULL);
	tu_write_in_dir(dir, ".hidden.map", ENTITY_HEAD FIELD_A, NULL);
	split_dir(dir, parent, &base);
	diag_init(&d);
	assert_null(mapping_set_load(parent, base, &d));
	assert_int_equal(d.total, 1);
	tu_assert_diag_at(&d, dir, 0, "no *.map files");
	diag_free(&d);
	tu_remove_dir(dir);
}

static void test_set_bad_names(void **state)
{
	static const char *const names[] = {
		"a/b", "..", "../lcs-rest", "lcs-rest/..", ".", ".hidden", "",
		"/etc",
	};

	(void)state;
	for (size_t i = 0; i < CS_ARRAY_LEN(names); i++) {
		struct diag d;
		struct mapping_set *s;

		diag_init(&d);
		s = mapping_set_load("mappings", names[i], &d);
		tu_assert_int_case(i, s == NULL, 1);
		tu_assert_int_case(i, tu_diag_at(&d, "mappings.use", 0,
				   "must be a plain directory name"), 1);
		diag_free(&d);
	}
}

static void test_set_missing_dir(void **state)
{
	struct diag d;

	(void)state;
	diag_init(&d);
	assert_null(mapping_set_load("mappings", "no-such-set", &d));
	tu_assert_diag_at(&d, "mappings/no-such-set", 0, "cannot be opened");
	diag_free(&d);
}

static void test_set_sorted_and_checked(void **state)
{
	char dir[TU_PATH_MAX], parent[TU_PATH_MAX], bpath[TU_PATH_MAX];
	const char *base;
	struct diag d;
	struct mapping_set *s;

	(void)state;
	tu_temp_dir(dir);
	split_dir(dir, parent, &base);
	tu_write_in_dir(dir, "b.map", "[entity]\nname = beta\nlocal.table = s.b\n"
			"local.key = id\nremote.collection = betas\n" FIELD_A,
			bpath);
	tu_write_in_dir(dir, "a.map", "[entity]\nname = alpha\nlocal.table = s.a\n"
			"local.key = id\nremote.collection = alphas\n" FIELD_A,
			NULL);
	diag_init(&d);
	s = mapping_set_load(parent, base, &d);
	assert_non_null(s);
	assert_int_equal(s->nentities, 2);
	assert_string_equal(s->entities[0].name, "alpha");
	assert_string_equal(s->entities[1].name, "beta");
	assert_ptr_equal(mapping_find_entity(s, "beta"), &s->entities[1]);
	mapping_set_free(s);

	/* One bad file fails the whole set and is named. */
	tu_write_in_dir(dir, "b.map", "[entity]\nname = beta\nlocal.table = s.b\n"
			"local.key = id\nremote.collection = betas\n" FIELD_A
			"type = float\n", NULL);
	assert_null(mapping_set_load(parent, base, &d));
	tu_assert_diag_at(&d, bpath, 9, "type: expected");
	diag_free(&d);

	/* Two files may not define the same entity. */
	tu_write_in_dir(dir, "b.map", "[entity]\nname = alpha\nlocal.table = s.b\n"
			"local.key = id\nremote.collection = betas\n" FIELD_A,
			NULL);
	diag_init(&d);
	assert_null(mapping_set_load(parent, base, &d));
	assert_int_equal(d.total, 1);
	tu_assert_diag_at(&d, bpath, 0, "entity 'alpha' also defined in");
	diag_free(&d);
	tu_remove_dir(dir);
}

/* ---- validators ---- */

static void test_valid_json_pointer(void **state)
{
	static const struct {
		const char *ptr;
		int ok;
	} cases[] = {
		{ "", 1 }, { "/", 1 }, { "/a", 1 }, { "/a/b", 1 }, { "//", 1 },
		{ "/a~0b", 1 }, { "/a~1b", 1 }, { "/~0~1", 1 }, { "/a b", 1 },
		{ "/0", 1 }, { "/caf\xc3\xa9", 1 },
		{ "a", 0 }, { "a/b", 0 }, { "#/a", 0 }, { "/a~", 0 },
		{ "/a~2", 0 }, { "/~", 0 }, { "/~a", 0 }, { "/a\tb", 0 },
		{ "/a\nb", 0 }, { " /a", 0 },
	};

	(void)state;
	for (size_t i = 0; i < CS_ARRAY_LEN(cases); i++)
		tu_assert_int_case(i, !!mapping_valid_json_pointer(cases[i].ptr),
				   cases[i].ok);
}

static void test_valid_sql_ident(void **state)
{
	static const struct {
		const char *s;
		int allow_schema;
		int ok;
	} cases[] = {
		{ "person", 0, 1 }, { "_x9", 0, 1 }, { "a", 0, 1 },
		{ "casestore.person", 1, 1 }, { "_s._t", 1, 1 },
		{ "", 0, 0 }, { "", 1, 0 }, { "9x", 0, 0 }, { "Person", 0, 0 },
		{ "a.b", 0, 0 }, { "a.", 1, 0 }, { ".b", 1, 0 }, { "a.b.c", 1, 0 },
		{ "a b", 0, 0 }, { "a;", 0, 0 }, { "a-b", 0, 0 }, { "a\"b", 0, 0 },
		{ "caf\xc3\xa9", 0, 0 }, { "a.9b", 1, 0 },
		{ "casestore.person; drop table x", 1, 0 },
	};
	char max[64], over[65], qualified[128];

	(void)state;
	for (size_t i = 0; i < CS_ARRAY_LEN(cases); i++)
		tu_assert_int_case(i, !!mapping_valid_sql_ident(cases[i].s,
						cases[i].allow_schema), cases[i].ok);
	/* PostgreSQL truncates identifiers at 63 bytes: longer are refused. */
	memset(max, 'a', 63);
	max[63] = '\0';
	memset(over, 'a', 64);
	over[64] = '\0';
	assert_true(mapping_valid_sql_ident(max, 0));
	assert_false(mapping_valid_sql_ident(over, 0));
	snprintf(qualified, sizeof(qualified), "%s.%s", max, max);
	assert_true(mapping_valid_sql_ident(qualified, 1));
	snprintf(qualified, sizeof(qualified), "s.%s", over);
	assert_false(mapping_valid_sql_ident(qualified, 1));
}

static void test_flows_to(void **state)
{
	static const struct {
		enum field_dir dir;
		int to_local, to_remote;
	} cases[] = {
		{ DIR_BOTH, 1, 1 },
		{ DIR_TO_LOCAL, 1, 0 },
		{ DIR_TO_REMOTE, 0, 1 },
	};

	(void)state;
	for (size_t i = 0; i < CS_ARRAY_LEN(cases); i++) {
		struct map_field f = { .dir = cases[i].dir };

		tu_assert_int_case(i, !!mapping_field_flows_to(&f, SIDE_LOCAL),
				   cases[i].to_local);
		tu_assert_int_case(i, !!mapping_field_flows_to(&f, SIDE_REMOTE),
				   cases[i].to_remote);
	}
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(mapping_type_name(FT_STRING), "string");
	assert_string_equal(mapping_type_name(FT_DATE), "date");
	assert_string_equal(mapping_type_name(FT_INT), "int");
	assert_string_equal(mapping_type_name(FT_BOOL), "bool");
	assert_string_equal(mapping_side_name(SIDE_LOCAL), "provider");
	assert_string_equal(mapping_side_name(SIDE_REMOTE), "council");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real_person_map),
		cmocka_unit_test(test_real_set_loads),
		cmocka_unit_test(test_bad_maps),
		cmocka_unit_test(test_good_map_with_every_word),
		cmocka_unit_test(test_missing_map_file),
		cmocka_unit_test(test_set_empty_dir),
		cmocka_unit_test(test_set_bad_names),
		cmocka_unit_test(test_set_missing_dir),
		cmocka_unit_test(test_set_sorted_and_checked),
		cmocka_unit_test(test_valid_json_pointer),
		cmocka_unit_test(test_valid_sql_ident),
		cmocka_unit_test(test_flows_to),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests_name("mapping", tests, scratch_setup,
					   scratch_teardown);
}
