/* test_mapping.c - the mapping loader: the shipped sets, every class of
 * problem with its exact FILE:LINE: POINTER: message, warnings for mappings
 * that cannot round-trip, all-or-nothing loading, and the validators. */
#include "testutil.h"

#include <sys/stat.h>

#include "mapping.h"

/* A small canonical model for the error tests. */
static const char model_json[] =
	"{\n"
	"  \"format\": \"casesync-model/1\",\n"
	"  \"codelists\": {\n"
	"    \"colour\": {\"codes\": {\"R\": \"red\", \"G\": \"green\", \"B\": \"blue\"}}\n"
	"  },\n"
	"  \"entities\": {\n"
	"    \"thing\": {\"fields\": {\n"
	"      \"a\": {\"type\": \"string\", \"owner\": \"council\"},\n"
	"      \"b\": {\"type\": \"string\", \"owner\": \"council\"},\n"
	"      \"d\": {\"type\": \"date\", \"owner\": \"council\"},\n"
	"      \"n\": {\"type\": \"int\", \"owner\": \"provider\"},\n"
	"      \"c\": {\"type\": \"code\", \"codelist\": \"colour\", \"owner\": \"council\"},\n"
	"      \"w\": {\"type\": \"string\", \"owner\": \"council\", \"policy\": \"newest\"}\n"
	"    }},\n"
	"    \"part\": {\"fields\": {\n"
	"      \"p\": {\"type\": \"string\", \"owner\": \"provider\"}\n"
	"    }}\n"
	"  }\n"
	"}\n";

/* The valid set file the cases vary, one line at a time (1-based). */
static const char *const base_lines[] = {
	"{",
	"  \"format\": \"casesync-mapping/1\",",
	"  \"entities\": {",
	"    \"thing\": {",
	"      \"local\": {\"table\": \"s.thing\", \"key\": \"id\"},",
	"      \"remote\": {\"collection\": \"things\"},",
	"      \"match\": [\"a\"],",
	"      \"fields\": {",
	"        \"a\": {\"local\": \"a\", \"remote\": \"/a\"},",
	"        \"d\": {\"local\": \"d\", \"remote\": \"/d\"}",
	"      }",
	"    }",
	"  }",
	"}",
};

struct scratch {
	char dir[TU_PATH_MAX / 2];
	char set[TU_PATH_MAX];
};

static int scratch_setup(void **state)
{
	struct scratch *s = calloc(1, sizeof(*s));
	char path[TU_PATH_MAX];

	if (!s)
		return -1;
	snprintf(s->dir, sizeof(s->dir), "/tmp/casesync-test-XXXXXX");
	if (!mkdtemp(s->dir)) {
		free(s);
		return -1;
	}
	snprintf(s->set, sizeof(s->set), "%s/s", s->dir);
	if (mkdir(s->set, 0700))
		return -1;
	tu_write_in_dir(s->dir, "model.json", model_json, path);
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

/* The base file with line `line` replaced (0: unchanged). */
static void variant(char *out, size_t outsz, int line, const char *repl)
{
	out[0] = '\0';
	for (size_t i = 0; i < CS_ARRAY_LEN(base_lines); i++) {
		strncat(out, (int)i + 1 == line ? repl : base_lines[i],
			outsz - strlen(out) - 1);
		strncat(out, "\n", outsz - strlen(out) - 1);
	}
}

static struct mapping_set *load_text(struct scratch *s, const char *text,
				     struct diag *d, char path[TU_PATH_MAX])
{
	tu_write_in_dir(s->set, "t.json", text, path);
	diag_init(d);
	return mapping_set_load(s->dir, "s", d);
}

/* ---- the shipped sets ---- */

static void test_shipped_lcs_rest(void **state)
{
	struct diag d;
	struct mapping_set *set;
	const struct map_entity *p, *r, *cp;
	const struct map_field *f;
	int i;

	(void)state;
	diag_init(&d);
	set = mapping_set_load("mappings", "lcs-rest", &d);
	if (!set)
		diag_print(&d, stderr);
	assert_non_null(set);
	assert_int_equal(d.total, 0);
	assert_int_equal(d.warnings, 0);
	assert_int_equal(set->nentities, 13);

	p = mapping_find_entity(set, "person");
	assert_non_null(p);
	assert_null(p->parent);
	assert_int_equal(p->codec, CODEC_JSON);
	assert_string_equal(p->local_table, "casestore.person");
	assert_string_equal(p->remote_collection, "persons");
	assert_string_equal(p->path_item, "persons/{id}");
	assert_string_equal(p->remote_id_loc, "/id");
	assert_string_equal(p->feed_items_ptr, "/items");	/* default */
	assert_int_equal(p->nmatch, 1);
	assert_string_equal(p->fields[p->match[0]].name, "la_child_id");
	assert_int_equal(p->nchildren, 4);	/* referral, notes, allocations, outcomes */
	/* Modification times, for the newest policy. */
	assert_string_equal(p->local_modified_col, "updated_at");
	assert_string_equal(p->remote_modified_loc, "/modified");
	assert_null(p->remote_modified_xpath);	/* json: not compiled */
	for (i = 0; i < 2; i++) {
		const struct map_entity *t = mapping_find_entity(set, i ? "family" :
								 "worker");
		assert_string_equal(t->local_modified_col, "updated_at");
		assert_string_equal(t->remote_modified_loc, "/modified");
	}

	i = mapping_field_index(p, "la_child_id");
	assert_true(i >= 0);
	assert_int_equal(p->fields[i].dir, DIR_PULL);
	assert_int_equal(p->fields[i].owner, SIDE_REMOTE);
	i = mapping_field_index(p, "gender");
	f = &p->fields[i];
	assert_int_equal(f->type, FT_CODE);
	assert_string_equal(f->codelist->name, "gender");
	assert_non_null(f->remote_x.codes);	/* translated to letters */
	assert_string_equal(f->remote_x.codes[mapping_code_index(f->codelist, "2")], "F");
	assert_null(f->local_x.codes);		/* census codes locally */
	i = mapping_field_index(p, "disabilities");
	assert_true(p->fields[i].multiple);
	i = mapping_field_index(p, "nhs_number");
	assert_int_equal(p->fields[i].check, CHECK_NHS_NUMBER);

	r = mapping_find_entity(set, "referral");
	assert_ptr_equal(r->parent, p);
	assert_null(r->local_modified_col);	/* top-level entities only */
	assert_null(r->remote_modified_loc);
	assert_string_equal(r->items_loc, "/referrals");
	assert_string_equal(r->local_parent_col, "person_id");
	assert_int_equal(r->nchildren, 4);
	cp = mapping_find_entity(set, "cp_plan");
	assert_ptr_equal(cp->parent, r);
	assert_int_equal(cp->nchildren, 1);
	assert_string_equal(cp->children[0]->name, "cp_review");
	/* The provider owns its practitioners' notes; free text is manual. */
	f = &mapping_find_entity(set, "case_note")->fields[
		mapping_field_index(mapping_find_entity(set, "case_note"), "summary")];
	assert_int_equal(f->owner, SIDE_LOCAL);
	assert_int_equal(f->policy, POLICY_MANUAL);
	mapping_set_free(set);
	diag_free(&d);
}

static void test_shipped_cin_census(void **state)
{
	struct diag d;
	struct mapping_set *set;
	const struct map_entity *p, *rv;

	(void)state;
	diag_init(&d);
	set = mapping_set_load("mappings", "cin-census", &d);
	if (!set)
		diag_print(&d, stderr);
	assert_non_null(set);
	assert_int_equal(d.warnings, 0);
	assert_int_equal(set->nentities, 7);
	p = mapping_find_entity(set, "person");
	assert_int_equal(p->codec, CODEC_XML);
	assert_string_equal(p->records_loc, "/Message/Children/Child");
	assert_string_equal(p->xml_root, "Child");
	assert_true(p->norder >= 3);
	assert_non_null(p->fields[0].remote_xpath);	/* compiled */
	rv = mapping_find_entity(set, "cp_review");
	assert_string_equal(rv->items_loc, "Reviews/CPPreviewDate");
	assert_string_equal(rv->fields[0].remote_loc, ".");
	mapping_set_free(set);
	diag_free(&d);
}

static void test_shipped_lcs_xml(void **state)
{
	struct diag d;
	struct mapping_set *set;
	const struct map_entity *p;

	(void)state;
	diag_init(&d);
	set = mapping_set_load("mappings", "lcs-xml", &d);
	if (!set)
		diag_print(&d, stderr);
	assert_non_null(set);
	assert_int_equal(d.warnings, 0);
	p = mapping_find_entity(set, "person");
	assert_int_equal(p->codec, CODEC_XML);
	assert_string_equal(p->local_modified_col, "updated_at");
	assert_string_equal(p->remote_modified_loc, "@modified");
	assert_non_null(p->remote_modified_xpath);	/* compiled */
	mapping_set_free(set);
	diag_free(&d);
}

/* ---- every class of problem ---- */

struct bad_case {
	int line;
	const char *repl;
	const char *msg;	/* exact, after "DIR/s/" */
	int prefix;		/* msg is a prefix only */
};

static const struct bad_case bad_cases[] = {
	/* unknown key */
	{ 9, "        \"a\": {\"local\": \"a\", \"remote\": \"/a\", \"colour\": 1},",
	  "t.json:9: /entities/thing/fields/a/colour: unknown key 'colour'", 0 },
	{ 2, "  \"format\": \"casesync-mapping/1\", \"extra\": true,",
	  "t.json:2: /extra: unknown key 'extra'", 0 },
	/* missing required key */
	{ 9, "        \"a\": {\"local\": \"a\"},",
	  "t.json:9: /entities/thing/fields/a: missing required key 'remote'", 0 },
	{ 5, "      \"local\": {\"table\": \"s.thing\"},",
	  "t.json:5: /entities/thing/local: missing required key 'key'", 0 },
	{ 6, "      \"remote\": {},",
	  "t.json:6: /entities/thing/remote: missing required key 'collection'", 0 },
	{ 7, "",
	  "t.json:4: /entities/thing: missing required key 'match' (the fields "
	  "that identify a record on both sides)", 0 },
	/* wrong type */
	{ 9, "        \"a\": {\"local\": 5, \"remote\": \"/a\"},",
	  "t.json:9: /entities/thing/fields/a/local: must be a string (a column) "
	  "or an object", 0 },
	{ 7, "      \"match\": \"a\",",
	  "t.json:7: /entities/thing/match: 'match' must be an array of 1 to 8 "
	  "field names", 0 },
	{ 5, "      \"local\": [\"s.thing\"],",
	  "t.json:5: /entities/thing/local: 'local' must be an object", 0 },
	{ 5, "      \"local\": {\"table\": \"s.thing\", \"key\": true},",
	  "t.json:5: /entities/thing/local/key: 'key' must be a string", 0 },
	/* a bad value of an enumerated key */
	{ 9, "        \"a\": {\"local\": \"a\", \"remote\": \"/a\", \"direction\": \"sideways\"},",
	  "t.json:9: /entities/thing/fields/a/direction: 'direction' must be one "
	  "of: both, pull, push", 0 },
	/* unknown code */
	{ 2, "  \"format\": \"casesync-mapping/1\", \"codelists\": {\"colour\": "
	     "{\"remote\": {\"P\": \"purple\"}}},",
	  "t.json:2: /codelists/colour/remote/P: unknown code 'P' in code list "
	  "'colour'", 0 },
	{ 2, "  \"format\": \"casesync-mapping/1\", \"codelists\": {\"shade\": {}},",
	  "t.json:2: /codelists/shade: unknown code list 'shade' (not in the "
	  "canonical model)", 0 },
	/* a JSON Pointer that does not compile */
	{ 9, "        \"a\": {\"local\": \"a\", \"remote\": \"a\"},",
	  "t.json:9: /entities/thing/fields/a/remote: not a valid JSON Pointer "
	  "(RFC 6901, starting with '/')", 0 },
	{ 9, "        \"a\": {\"local\": \"a\", \"remote\": \"/a~2\"},",
	  "t.json:9: /entities/thing/fields/a/remote: not a valid JSON Pointer "
	  "(RFC 6901, starting with '/')", 0 },
	/* an XPath that does not compile */
	{ 6, "      \"codec\": \"xml\", \"remote\": {\"records\": \"/r/t\", "
	     "\"element\": \"t\", \"id\": \"a[\"},",
	  "t.json:6: /entities/thing/remote/id: XPath does not compile", 1 },
	/* a field mapped twice */
	{ 10, "        \"d\": {\"local\": \"a\", \"remote\": \"/d\"}",
	  "t.json:10: /entities/thing/fields/d: column 'a' is already mapped by "
	  "field 'a'", 0 },
	{ 10, "        \"d\": {\"local\": \"d\", \"remote\": \"/a\"}",
	  "t.json:10: /entities/thing/fields/d: location '/a' is already mapped "
	  "by field 'a'", 0 },
	{ 10, "        \"a\": {\"local\": \"d\", \"remote\": \"/d\"}",
	  "t.json:10: invalid JSON: duplicate object key", 1 },
	/* a key field not mapped */
	{ 7, "      \"match\": [\"n\"],",
	  "t.json:7: /entities/thing/match/0: match key 'n' is not a mapped "
	  "field", 0 },
	{ 7, "      \"match\": [\"a\", \"a\"],",
	  "t.json:7: /entities/thing/match/1: match key 'a' is listed twice", 0 },
	{ 2, "  \"format\": \"casesync-mapping/1\", \"$schema\": 5,",
	  "t.json:2: /$schema: '$schema' must be a string", 0 },
	{ 9, "        \"a\": {\"local\": \"a\", \"remote\": \"/a/0\"},",
	  "t.json:9: /entities/thing/fields/a/remote: a location written to "
	  "the council cannot address an array element", 0 },
	{ 10, "        \"d\": {\"local\": \"d\", \"remote\": \"/a/d\"}",
	  "t.json:9: /entities/thing/fields/a: location '/a' contains field "
	  "'d''s location '/a/d'", 0 },
	/* names not in the canonical model */
	{ 4, "    \"widget\": {",
	  "t.json:4: /entities/widget: unknown entity 'widget' (not in the "
	  "canonical model)", 0 },
	{ 10, "        \"z\": {\"local\": \"z\", \"remote\": \"/z\"}",
	  "t.json:10: /entities/thing/fields/z: unknown field 'z' for entity "
	  "'thing' (not in the canonical model)", 0 },
	/* transforms */
	{ 9, "        \"a\": {\"local\": \"a\", \"remote\": {\"path\": \"/a\", "
	     "\"date_format\": \"%d/%m/%Y\"}},",
	  "t.json:9: /entities/thing/fields/a/remote/date_format: 'date_format' "
	  "applies only to date and datetime fields", 0 },
	{ 10, "        \"d\": {\"local\": \"d\", \"remote\": {\"path\": \"/d\", "
	      "\"date_format\": \"%d/%q/%Y\"}}",
	  "t.json:10: /entities/thing/fields/d/remote/date_format: invalid date "
	  "format (use %Y %y %m %d %H %M %S %% and literal text)", 0 },
	{ 9, "        \"a\": {\"local\": \"a\", \"remote\": {\"path\": \"/a\", "
	     "\"split\": {\"separator\": \" \", \"part\": \"first\"}}},",
	  "t.json:9: /entities/thing/fields/a: a split needs its other part "
	  "mapped to the same location", 0 },
	/* the file as a whole */
	{ 2, "  \"format\": \"casesync-mapping/9\",",
	  "t.json:2: /format: unsupported format 'casesync-mapping/9' (this build "
	  "reads 'casesync-mapping/1')", 0 },
	{ 13, "  },",
	  "t.json:14: invalid JSON:", 1 },
	/* SQL names */
	{ 5, "      \"local\": {\"table\": \"s.thing; drop\", \"key\": \"id\"},",
	  "t.json:5: /entities/thing/local: table must be [schema.]name in lower "
	  "case", 0 },
	/* path templates */
	{ 6, "      \"remote\": {\"collection\": \"things\", \"paths\": {\"item\": "
	     "\"things/{uid}\"}},",
	  "t.json:6: /entities/thing/remote/paths/item: unknown placeholder in "
	  "path template (use {collection}, {id}, {since}, {limit})", 0 },
	/* nesting */
	{ 5, "      \"parent\": \"nothing\", \"local\": {\"table\": \"s.thing\", "
	     "\"key\": \"id\", \"parent_key\": \"p\"},",
	  "t.json:6: /entities/thing/remote/collection: unknown key 'collection'", 0 },
	{ 5, "      \"parent\": \"thing\", \"local\": {\"table\": \"s.thing\", "
	     "\"key\": \"id\"},",
	  "t.json:5: /entities/thing/local: a child entity needs 'parent_key' "
	  "(the column holding the parent's key)", 0 },
	/* modification times */
	{ 9, "        \"a\": {\"local\": \"a\", \"remote\": \"/a\", \"policy\": \"newest\"},",
	  "t.json:9: /entities/thing/fields/a/policy: policy newest needs the "
	  "entity's local.modified and remote.modified", 0 },
	{ 10, "        \"w\": {\"local\": \"w\", \"remote\": \"/w\"}",
	  "t.json:10: /entities/thing/fields/w: policy newest needs the "
	  "entity's local.modified and remote.modified", 0 },
	{ 5, "      \"local\": {\"table\": \"s.thing\", \"key\": \"id\", "
	     "\"modified\": \"Updated At\"},",
	  "t.json:5: /entities/thing/local/modified: modified must be a plain "
	  "column name", 0 },
	{ 5, "      \"local\": {\"table\": \"s.thing\", \"key\": \"id\", "
	     "\"modified\": 5},",
	  "t.json:5: /entities/thing/local/modified: 'modified' must be a "
	  "string", 0 },
	{ 6, "      \"remote\": {\"collection\": \"things\", \"modified\": "
	     "\"modified\"},",
	  "t.json:6: /entities/thing/remote/modified: not a valid JSON Pointer "
	  "(RFC 6901, starting with '/')", 0 },
	{ 6, "      \"codec\": \"xml\", \"remote\": {\"records\": \"/r/t\", "
	     "\"element\": \"t\", \"id\": \"@id\", \"modified\": \"@m[\"},",
	  "t.json:6: /entities/thing/remote/modified: XPath does not compile", 1 },
	{ 5, "      \"parent\": \"thing\", \"local\": {\"table\": \"s.thing\", "
	     "\"key\": \"id\", \"parent_key\": \"p\", \"modified\": \"updated_at\"},",
	  "t.json:5: /entities/thing/local/modified: 'modified' applies only to "
	  "top-level entities", 0 },
};

static void test_every_problem_class(void **state)
{
	struct scratch *s = *state;

	for (size_t i = 0; i < CS_ARRAY_LEN(bad_cases); i++) {
		const struct bad_case *c = &bad_cases[i];
		char text[4096], path[TU_PATH_MAX], want[2048];
		struct diag d;
		struct mapping_set *set;

		variant(text, sizeof(text), c->line, c->repl);
		set = load_text(s, text, &d, path);
		snprintf(want, sizeof(want), "%s/%s", s->set, c->msg);
		if (set || d.total == 0 ||
		    (c->prefix ? strncmp(diag_first(&d), want, strlen(want))
			       : strcmp(diag_first(&d), want))) {
			fprintf(stderr, "case %zu: got \"%s\" (%d problems)\n"
				"   want \"%s\"\n", i, diag_first(&d), d.total, want);
			fail();
		}
		mapping_set_free(set);	/* NULL: nothing half-loaded */
		diag_free(&d);
	}
}

static void test_base_is_valid(void **state)
{
	struct scratch *s = *state;
	char text[4096], path[TU_PATH_MAX];
	struct diag d;
	struct mapping_set *set;
	const struct map_entity *e;

	variant(text, sizeof(text), 0, NULL);
	set = load_text(s, text, &d, path);
	assert_non_null(set);
	assert_int_equal(d.total + d.warnings, 0);
	e = mapping_find_entity(set, "thing");
	assert_int_equal(e->nfields, 2);
	assert_int_equal(e->fields[0].line, 9);
	assert_int_equal(e->fields[1].type, FT_DATE);	/* from the model */
	assert_int_equal(e->fields[1].owner, SIDE_REMOTE);
	assert_string_equal(e->remote_id_loc, "/id");
	mapping_set_free(set);
	diag_free(&d);
}

static void test_every_problem_listed(void **state)
{
	struct scratch *s = *state;
	static const char text[] =
		"{\n"
		"  \"format\": \"casesync-mapping/1\",\n"
		"  \"entities\": {\n"
		"    \"thing\": {\n"
		"      \"local\": {\"table\": \"s.thing\", \"key\": \"id\", \"x\": 1},\n"
		"      \"remote\": {\"collection\": \"things\"},\n"
		"      \"match\": [\"b\"],\n"
		"      \"fields\": {\n"
		"        \"a\": {\"local\": \"a\", \"remote\": \"nope\"},\n"
		"        \"z\": {\"local\": \"z\", \"remote\": \"/z\"}\n"
		"      }\n"
		"    }\n"
		"  }\n"
		"}\n";
	char path[TU_PATH_MAX];
	struct diag d;
	struct mapping_set *set = load_text(s, text, &d, path);

	assert_null(set);
	assert_int_equal(d.total, 4);
	assert_true(tu_diag_at(&d, path, 5, ""));	/* unknown key x */
	assert_true(tu_diag_at(&d, path, 9, ""));	/* pointer */
	assert_true(tu_diag_at(&d, path, 10, ""));	/* unknown field */
	assert_true(tu_diag_at(&d, path, 7, ""));	/* match key b */
	diag_free(&d);
}

/* An entity naming its modification times, in the json and xml codecs,
 * with newest fields from the mapping and from the model. */
static void test_modified_times(void **state)
{
	struct scratch *s = *state;
	static const char json_text[] =
		"{\n"
		"  \"format\": \"casesync-mapping/1\",\n"
		"  \"entities\": {\n"
		"    \"thing\": {\n"
		"      \"local\": {\"table\": \"s.thing\", \"key\": \"id\", \"modified\": \"updated_at\"},\n"
		"      \"remote\": {\"collection\": \"things\", \"modified\": \"/meta/modified\"},\n"
		"      \"match\": [\"a\"],\n"
		"      \"fields\": {\n"
		"        \"a\": {\"local\": \"a\", \"remote\": \"/a\", \"policy\": \"newest\"},\n"
		"        \"w\": {\"local\": \"w\", \"remote\": \"/w\"}\n"
		"      }\n"
		"    }\n"
		"  }\n"
		"}\n";
	static const char xml_text[] =
		"{\n"
		"  \"format\": \"casesync-mapping/1\",\n"
		"  \"codec\": \"xml\",\n"
		"  \"entities\": {\n"
		"    \"thing\": {\n"
		"      \"local\": {\"table\": \"s.thing\", \"key\": \"id\", \"modified\": \"changed_at\"},\n"
		"      \"remote\": {\"records\": \"/r/t\", \"element\": \"t\", \"id\": \"@id\",\n"
		"                 \"modified\": \"Meta/@modified\"},\n"
		"      \"match\": [\"a\"],\n"
		"      \"fields\": {\n"
		"        \"a\": {\"local\": \"a\", \"remote\": \"A\"},\n"
		"        \"w\": {\"local\": \"w\", \"remote\": \"W\"}\n"
		"      }\n"
		"    }\n"
		"  }\n"
		"}\n";
	char path[TU_PATH_MAX];
	struct diag d;
	struct mapping_set *set;
	const struct map_entity *e;

	set = load_text(s, json_text, &d, path);
	if (!set)
		tu_diag_dump(&d);
	assert_non_null(set);
	assert_int_equal(d.total + d.warnings, 0);
	e = mapping_find_entity(set, "thing");
	assert_string_equal(e->local_modified_col, "updated_at");
	assert_string_equal(e->remote_modified_loc, "/meta/modified");
	assert_null(e->remote_modified_xpath);
	assert_int_equal(e->fields[0].policy, POLICY_NEWEST);
	assert_int_equal(e->fields[1].policy, POLICY_NEWEST);	/* the model's */
	mapping_set_free(set);
	diag_free(&d);

	set = load_text(s, xml_text, &d, path);
	if (!set)
		tu_diag_dump(&d);
	assert_non_null(set);
	e = mapping_find_entity(set, "thing");
	assert_string_equal(e->local_modified_col, "changed_at");
	assert_string_equal(e->remote_modified_loc, "Meta/@modified");
	assert_non_null(e->remote_modified_xpath);
	mapping_set_free(set);	/* frees the compiled XPath (leak checker) */
	diag_free(&d);

	/* Without remote.modified, both newest fields are reported, and the
	 * whole set is refused. */
	{
		static const char cut[] = ", \"modified\": \"/meta/modified\"";
		char text[sizeof(json_text)];
		char *p;

		cs_strlcpy(text, json_text, sizeof(text));
		p = strstr(text, cut);
		assert_non_null(p);
		memmove(p, p + strlen(cut), strlen(p + strlen(cut)) + 1);
		set = load_text(s, text, &d, path);
	}
	assert_null(set);
	assert_int_equal(d.total, 2);
	tu_assert_diag_at(&d, path, 9, "/entities/thing/fields/a/policy: policy "
			  "newest needs the entity's local.modified and "
			  "remote.modified");
	tu_assert_diag_at(&d, path, 10, "/entities/thing/fields/w: policy "
			  "newest needs the entity's local.modified and "
			  "remote.modified");
	diag_free(&d);
}

/* A one-way field never reaches its policy, so newest needs no times. */
static void test_newest_one_way_needs_no_times(void **state)
{
	struct scratch *s = *state;
	char text[4096], path[TU_PATH_MAX];
	struct diag d;
	struct mapping_set *set;

	variant(text, sizeof(text), 10, "        \"w\": {\"local\": \"w\", "
		"\"remote\": \"/w\", \"direction\": \"push\"}");
	set = load_text(s, text, &d, path);
	if (!set)
		tu_diag_dump(&d);
	assert_non_null(set);
	assert_int_equal(mapping_find_entity(set, "thing")->fields[1].policy,
			 POLICY_NEWEST);
	mapping_set_free(set);
	diag_free(&d);
	variant(text, sizeof(text), 9, "        \"a\": {\"local\": \"a\", "
		"\"remote\": \"/a\", \"policy\": \"newest\", \"direction\": "
		"\"pull\"},");
	set = load_text(s, text, &d, path);
	assert_non_null(set);
	mapping_set_free(set);
	diag_free(&d);
}

/* A child entity is merged with its top-level record: it has no
 * modification times of its own, and so no newest fields. */
static void test_child_has_no_times(void **state)
{
	struct scratch *s = *state;
	static const char text[] =
		"{\n"
		"  \"format\": \"casesync-mapping/1\",\n"
		"  \"entities\": {\n"
		"    \"part\": {\n"
		"      \"parent\": \"thing\",\n"
		"      \"local\": {\"table\": \"s.part\", \"key\": \"id\", \"parent_key\": \"thing_id\"},\n"
		"      \"remote\": {\"items\": \"/parts\", \"modified\": \"/m\"},\n"
		"      \"match\": [\"p\"],\n"
		"      \"fields\": {\"p\": {\"local\": \"p\", \"remote\": \"/p\", \"policy\": \"newest\"}}\n"
		"    }\n"
		"  }\n"
		"}\n";
	char path[TU_PATH_MAX], base[4096], tpath[TU_PATH_MAX];
	struct diag d;
	struct mapping_set *set;

	variant(base, sizeof(base), 0, NULL);
	tu_write_in_dir(s->set, "p.json", text, path);
	set = load_text(s, base, &d, tpath);
	assert_null(set);
	assert_int_equal(d.total, 2);
	tu_assert_diag_at(&d, path, 7, "/entities/part/remote/modified: "
			  "'modified' applies only to top-level entities");
	tu_assert_diag_at(&d, path, 9, "/entities/part/fields/p/policy: policy "
			  "newest needs modification times, which only top-level "
			  "entities have (local.modified, remote.modified)");
	diag_free(&d);
	unlink(path);
}

static void test_entity_mapped_in_two_files(void **state)
{
	struct scratch *s = *state;
	char text[4096], path[TU_PATH_MAX], other[TU_PATH_MAX], want[2048];
	struct diag d;
	struct mapping_set *set;

	variant(text, sizeof(text), 0, NULL);
	tu_write_in_dir(s->set, "u.json", text, other);
	set = load_text(s, text, &d, path);
	assert_null(set);
	snprintf(want, sizeof(want), "%s/u.json:4: /entities/thing: entity "
		 "'thing' is already mapped in %s/t.json:4", s->set, s->set);
	assert_string_equal(diag_first(&d), want);
	unlink(other);
	diag_free(&d);
}

static void test_parent_resolution(void **state)
{
	struct scratch *s = *state;
	static const char text[] =
		"{\n"
		"  \"format\": \"casesync-mapping/1\",\n"
		"  \"entities\": {\n"
		"    \"part\": {\n"
		"      \"parent\": \"thing\",\n"
		"      \"local\": {\"table\": \"s.part\", \"key\": \"id\", \"parent_key\": \"thing_id\"},\n"
		"      \"remote\": {\"items\": \"/parts\"},\n"
		"      \"match\": [\"p\"],\n"
		"      \"fields\": {\"p\": {\"local\": \"p\", \"remote\": \"/p\"}}\n"
		"    }\n"
		"  }\n"
		"}\n";
	char path[TU_PATH_MAX], base[4096], tpath[TU_PATH_MAX], want[2048];
	struct diag d;
	struct mapping_set *set;

	/* Alone, the parent is missing. */
	tu_write_in_dir(s->set, "t.json", "{\"format\": \"casesync-mapping/1\"}",
			tpath);
	tu_write_in_dir(s->set, "p.json", text, path);
	diag_init(&d);
	set = mapping_set_load(s->dir, "s", &d);
	assert_null(set);
	snprintf(want, sizeof(want), "%s/p.json:5: /entities/part/parent: "
		 "parent entity 'thing' is not mapped in this set", s->set);
	assert_string_equal(diag_first(&d), want);
	diag_free(&d);

	/* With the parent in another file (read later), it links up. */
	variant(base, sizeof(base), 0, NULL);
	set = load_text(s, base, &d, tpath);
	assert_non_null(set);
	{
		const struct map_entity *t = mapping_find_entity(set, "thing");
		const struct map_entity *p = mapping_find_entity(set, "part");
		assert_ptr_equal(p->parent, t);
		assert_int_equal(t->nchildren, 1);
		assert_ptr_equal(t->children[0], p);
	}
	mapping_set_free(set);
	diag_free(&d);
	unlink(path);
}

struct warn_case {
	int line;
	const char *repl;
	const char *msg;
};

static const struct warn_case warn_cases[] = {
	{ 9, "        \"a\": {\"local\": \"a\", \"remote\": {\"path\": \"/a\", \"case\": \"upper\"}},",
	  "t.json:9: warning: /entities/thing/fields/a: field 'a' cannot "
	  "round-trip (council side): case folding" },
	{ 9, "        \"a\": {\"local\": {\"column\": \"a\", \"trim\": true}, \"remote\": \"/a\"},",
	  "t.json:9: warning: /entities/thing/fields/a: field 'a' cannot "
	  "round-trip (provider side): trimming" },
	{ 10, "        \"d\": {\"local\": \"d\", \"remote\": {\"path\": \"/d\", \"date_format\": \"%d/%m/%y\"}}",
	  "t.json:10: warning: /entities/thing/fields/d: field 'd' cannot "
	  "round-trip (council side): date format drops information" },
	{ 2, "  \"format\": \"casesync-mapping/1\", \"codelists\": {\"colour\": "
	     "{\"remote\": {\"R\": \"x\", \"G\": \"x\"}}},",
	  NULL /* checked below: needs field c mapped */ },
};

static void test_lossy_mappings_warn(void **state)
{
	struct scratch *s = *state;

	for (size_t i = 0; i < CS_ARRAY_LEN(warn_cases); i++) {
		const struct warn_case *c = &warn_cases[i];
		char text[4096], path[TU_PATH_MAX], want[2048];
		struct diag d;
		struct mapping_set *set;

		if (!c->msg)
			continue;
		variant(text, sizeof(text), c->line, c->repl);
		set = load_text(s, text, &d, path);
		assert_non_null(set);	/* a warning does not invalidate */
		snprintf(want, sizeof(want), "%s/%s", s->set, c->msg);
		tu_assert_int_case(i, d.warnings, 1);
		assert_string_equal(diag_first(&d), want);
		mapping_set_free(set);
		diag_free(&d);
	}
}

static void test_code_list_not_one_to_one_warns(void **state)
{
	struct scratch *s = *state;
	static const char text[] =
		"{\n"
		"  \"format\": \"casesync-mapping/1\",\n"
		"  \"codelists\": {\"colour\": {\"remote\": {\"R\": \"x\", \"G\": \"x\"}}},\n"
		"  \"entities\": {\n"
		"    \"thing\": {\n"
		"      \"local\": {\"table\": \"s.thing\", \"key\": \"id\"},\n"
		"      \"remote\": {\"collection\": \"things\"},\n"
		"      \"match\": [\"a\"],\n"
		"      \"fields\": {\n"
		"        \"a\": {\"local\": \"a\", \"remote\": \"/a\"},\n"
		"        \"c\": {\"local\": \"c\", \"remote\": \"/c\"},\n"
		"        \"b\": {\"local\": \"b\", \"remote\": \"/b\", \"direction\": \"pull\", \"owner\": \"provider\"}\n"
		"      }\n"
		"    }\n"
		"  }\n"
		"}\n";
	char path[TU_PATH_MAX], want[2048];
	struct diag d;
	struct mapping_set *set = load_text(s, text, &d, path);
	const struct map_entity *e;

	assert_non_null(set);
	assert_int_equal(d.warnings, 1);
	snprintf(want, sizeof(want), "%s/t.json:11: warning: /entities/thing/"
		 "fields/c: field 'c' cannot round-trip (council side): code list "
		 "translation is not one-to-one", s->set);
	assert_string_equal(diag_first(&d), want);
	/* Overrides of the model's defaults. */
	e = mapping_find_entity(set, "thing");
	assert_int_equal(e->fields[2].dir, DIR_PULL);
	assert_int_equal(e->fields[2].owner, SIDE_LOCAL);
	assert_int_equal(e->fields[0].owner, SIDE_REMOTE);
	mapping_set_free(set);
	diag_free(&d);
}

/* Problems that need the whole set, and inputs that once hung the loader. */
static void test_set_wide_checks(void **state)
{
	struct scratch *s = *state;
	static const char entity[] =
		"{\n"
		"  \"format\": \"casesync-mapping/1\",\n"
		"  \"entities\": {\n"
		"    \"thing\": {\n"
		"      \"local\": {\"table\": \"s.thing\", \"key\": \"id\"},\n"
		"      \"remote\": {\"collection\": \"things\"},\n"
		"      \"match\": [\"a\"],\n"
		"      \"fields\": {\n"
		"        \"a\": {\"local\": \"full\", \"remote\": {\"path\": \"/n\", \"split\": {\"separator\": \" \", \"part\": \"first\"}}},\n"
		"        \"b\": {\"local\": \"b\", \"remote\": {\"path\": \"/n\", \"split\": {\"separator\": \" \", \"part\": \"rest\"}}, \"direction\": \"push\"},\n"
		"        \"c\": {\"local\": \"c\", \"remote\": {\"path\": \"/c\", \"case\": \"lower\"}}\n"
		"      }\n"
		"    }\n"
		"  }\n"
		"}\n";
	char path[TU_PATH_MAX], later[TU_PATH_MAX], deep[8192];
	struct diag d;
	struct mapping_set *set;

	/* A translation in a file read after the entity's still binds. */
	tu_write_in_dir(s->set, "u.json", "{\"format\": \"casesync-mapping/1\", "
			"\"codelists\": {\"colour\": {\"remote\": {\"R\": \"rot\"}}}}",
			later);
	set = load_text(s, entity, &d, path);
	assert_null(set);
	/* Split halves with different directions; lower-casing codes "R". */
	assert_true(tu_diag_at(&d, path, 10, "the two parts of a split (with "
			       "field 'a') must have the same direction"));
	diag_free(&d);
	{
		char fixed[sizeof(entity) + 16];
		char *p;
		cs_strlcpy(fixed, entity, sizeof(fixed));
		p = strstr(fixed, ", \"direction\": \"push\"");
		memmove(p, p + 21, strlen(p + 21) + 1);
		set = load_text(s, fixed, &d, path);
	}
	assert_null(set);
	assert_true(tu_diag_at(&d, path, 11, "case folding (council side) makes "
			       "code 'G' unreadable"));
	diag_free(&d);
	unlink(later);

	/* A provider-side code with ',' would break lists of codes. */
	variant(deep, sizeof(deep), 2, "  \"format\": \"casesync-mapping/1\", "
		"\"codelists\": {\"colour\": {\"local\": {\"R\": \"r,ed\"}}},");
	set = load_text(s, deep, &d, path);
	assert_null(set);
	assert_true(tu_diag_at(&d, path, 2, "a provider-side code cannot contain"));
	diag_free(&d);

	/* Nesting far deeper than positions are kept for: an error, promptly. */
	{
		char *p = deep;
		p += sprintf(p, "{\"format\": \"casesync-mapping/1\", \"note\": ");
		for (int i = 0; i < 300; i++)
			*p++ = i % 2 ? '[' : '[';
		*p++ = '1';
		for (int i = 0; i < 300; i++)
			*p++ = ']';
		strcpy(p, "}\n");
	}
	set = load_text(s, deep, &d, path);
	assert_null(set);
	assert_true(tu_diag_has(&d, "'note' must be a string"));
	diag_free(&d);
}

static void test_bad_model(void **state)
{
	struct scratch *s = *state;
	char path[TU_PATH_MAX], want[2048];
	struct diag d;
	struct mapping_set *set;
	char dir[TU_PATH_MAX];

	(void)s;
	snprintf(dir, sizeof(dir), "/tmp/casesync-model-XXXXXX");
	assert_non_null(mkdtemp(dir));
	tu_write_in_dir(dir, "model.json",
			"{\"format\": \"casesync-model/1\", \"codelists\": {},\n"
			" \"entities\": {\"t\": {\"fields\": {\"x\": {\"type\": \"code\", "
			"\"codelist\": \"none\", \"owner\": \"council\"}}}}}\n", path);
	diag_init(&d);
	set = mapping_set_load(dir, "s", &d);
	assert_null(set);
	snprintf(want, sizeof(want), "%s:2: /entities/t/fields/x/codelist: "
		 "unknown code list 'none'", path);
	assert_string_equal(diag_first(&d), want);
	diag_free(&d);
	tu_remove_dir(dir);
}

static void test_missing_set(void **state)
{
	struct scratch *s = *state;
	struct diag d;

	diag_init(&d);
	assert_null(mapping_set_load(s->dir, "nope", &d));
	assert_true(tu_diag_has(&d, "mapping set directory cannot be opened"));
	diag_free(&d);
	diag_init(&d);
	assert_null(mapping_set_load("/nonexistent", "s", &d));
	assert_true(tu_diag_has(&d, "model.json: cannot be opened"));
	diag_free(&d);
}

/* ---- small validators ---- */

static void test_valid_json_pointer(void **state)
{
	(void)state;
	assert_true(mapping_valid_json_pointer(""));
	assert_true(mapping_valid_json_pointer("/a"));
	assert_true(mapping_valid_json_pointer("/a~0b/c~1d"));
	assert_false(mapping_valid_json_pointer("a"));
	assert_false(mapping_valid_json_pointer("/a~2"));
	assert_false(mapping_valid_json_pointer("/a~"));
	assert_false(mapping_valid_json_pointer("/a\nb"));
}

static void test_valid_sql_ident(void **state)
{
	(void)state;
	assert_true(mapping_valid_sql_ident("person", 0));
	assert_true(mapping_valid_sql_ident("casestore.person", 1));
	assert_false(mapping_valid_sql_ident("casestore.person", 0));
	assert_false(mapping_valid_sql_ident("Person", 0));
	assert_false(mapping_valid_sql_ident("1x", 0));
	assert_false(mapping_valid_sql_ident("a;b", 0));
	assert_false(mapping_valid_sql_ident("a.b.c", 1));
}

static void test_flows_to(void **state)
{
	struct map_field f = { 0 };

	(void)state;
	f.dir = DIR_BOTH;
	assert_true(mapping_field_flows_to(&f, SIDE_LOCAL));
	assert_true(mapping_field_flows_to(&f, SIDE_REMOTE));
	f.dir = DIR_PULL;
	assert_true(mapping_field_flows_to(&f, SIDE_LOCAL));
	assert_false(mapping_field_flows_to(&f, SIDE_REMOTE));
	f.dir = DIR_PUSH;
	assert_false(mapping_field_flows_to(&f, SIDE_LOCAL));
	assert_true(mapping_field_flows_to(&f, SIDE_REMOTE));
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(mapping_type_name(FT_DATETIME), "datetime");
	assert_string_equal(mapping_type_name(FT_CODE), "code");
	assert_string_equal(mapping_side_name(SIDE_LOCAL), "provider");
	assert_string_equal(mapping_dir_name(DIR_PULL), "pull");
	assert_string_equal(mapping_policy_name(POLICY_MANUAL), "manual");
}

int main(void)
{
	const struct CMUnitTest shipped[] = {
		cmocka_unit_test(test_shipped_lcs_rest),
		cmocka_unit_test(test_shipped_cin_census),
		cmocka_unit_test(test_shipped_lcs_xml),
	};
	const struct CMUnitTest loader[] = {
		cmocka_unit_test(test_base_is_valid),
		cmocka_unit_test(test_every_problem_class),
		cmocka_unit_test(test_every_problem_listed),
		cmocka_unit_test(test_modified_times),
		cmocka_unit_test(test_newest_one_way_needs_no_times),
		cmocka_unit_test(test_child_has_no_times),
		cmocka_unit_test(test_entity_mapped_in_two_files),
		cmocka_unit_test(test_parent_resolution),
		cmocka_unit_test(test_lossy_mappings_warn),
		cmocka_unit_test(test_code_list_not_one_to_one_warns),
		cmocka_unit_test(test_set_wide_checks),
		cmocka_unit_test(test_bad_model),
		cmocka_unit_test(test_missing_set),
	};
	const struct CMUnitTest small[] = {
		cmocka_unit_test(test_valid_json_pointer),
		cmocka_unit_test(test_valid_sql_ident),
		cmocka_unit_test(test_flows_to),
		cmocka_unit_test(test_names),
	};
	int rc = cmocka_run_group_tests_name("shipped mappings", shipped, NULL, NULL);

	rc += cmocka_run_group_tests_name("mapping loader", loader, scratch_setup,
					  scratch_teardown);
	rc += cmocka_run_group_tests_name("validators", small, NULL, NULL);
	return rc;
}
