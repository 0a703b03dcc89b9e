/* test_model_census.c - mappings/model.json against its own rules, the CIN
 * census 2024 schema and docs/canonical-model.md.
 *
 * Standalone: only jansson, libxml2, cmocka and libc, no project code, so
 * that it checks the model file itself and not the loader's reading of it.
 * Run with the repository root as the working directory. The census tests
 * need ../shared/data/cin (present in CI, absent in a user's clone) and are
 * skipped without it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#define MODEL_PATH "mappings/model.json"
#define DOC_PATH "docs/canonical-model.md"
#define CIN_DIR "../shared/data/cin"
#define XSD_PATH CIN_DIR "/CIN_schema_2024.xsd"
#define XS_NS "http://www.w3.org/2001/XMLSchema"

/* Each census code list and the schema element whose type defines it. */
static const struct {
	const char *codelist;
	const char *element;
} census_lists[] = {
	{ "ethnicity", "Ethnicity" },
	{ "gender", "GenderCurrent" },
	{ "referral_source", "ReferralSource" },
	{ "primary_need", "PrimaryNeedCode" },
	{ "reason_for_closure", "ReasonForClosure" },
	{ "assessment_factor", "AssessmentFactors" },
	{ "category_of_abuse", "InitialCategoryOfAbuse" },
	{ "disability", "Disability" },
	{ "upn_unknown", "UPNunknown" },
};
#define N_CENSUS_LISTS (sizeof census_lists / sizeof census_lists[0])

static const char *const field_types[] = {
	"string", "int", "bool", "date", "datetime", "code", NULL
};
static const char *const field_keys[] = {
	"type", "codelist", "multiple", "check", "owner", "policy", "census",
	"note", NULL
};

static int str_eq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

static int in_list(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(s, *list) == 0)
			return 1;
	return 0;
}

/* ---- model.json ---- */

/* Parsed once per test by the setup, which never fails: a model that does
 * not parse fails each test (as a failure cmocka counts, not a setup
 * error), with the parser's message. */
struct model_state {
	json_t *model;
	json_error_t err;
};

static json_t *get_model(void **state)
{
	struct model_state *ms = *state;

	if (!ms->model)
		fail_msg("%s:%d: %s", MODEL_PATH, ms->err.line, ms->err.text);
	return ms->model;
}

static const char *str_member(json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

/* Calls fn for every field of every entity. fn either fails the test at
 * once (fail_msg) or counts problems in arg and carries on. */
typedef void (*field_fn)(json_t *model, const char *entity,
			 const char *field, json_t *f, void *arg);

static void each_field(json_t *model, field_fn fn, void *arg)
{
	json_t *entities = json_object_get(model, "entities"), *e;
	const char *ename;

	assert_true(json_is_object(entities));
	json_object_foreach(entities, ename, e) {
		json_t *fields = json_object_get(e, "fields"), *f;
		const char *fname;

		if (!json_is_object(fields) || json_object_size(fields) == 0)
			fail_msg("entity %s: no \"fields\" object", ename);
		json_object_foreach(fields, fname, f) {
			if (!json_is_object(f))
				fail_msg("%s.%s: not an object", ename, fname);
			fn(model, ename, fname, f, arg);
		}
	}
}

static int setup_model(void **state)
{
	struct model_state *ms = calloc(1, sizeof *ms);

	if (!ms)
		return -1;
	ms->model = json_load_file(MODEL_PATH, JSON_REJECT_DUPLICATES,
				   &ms->err);
	*state = ms;
	return 0;
}

static int teardown_model(void **state)
{
	struct model_state *ms = *state;

	json_decref(ms->model);
	free(ms);
	return 0;
}

static void test_model_parses_strictly(void **state)
{
	json_error_t err;
	json_t *dup;

	get_model(state);
	/* The flag does reject what it should in this jansson. */
	dup = json_loads("{\"a\": 1, \"a\": 2}", JSON_REJECT_DUPLICATES, &err);
	assert_null(dup);
}

static void test_model_top_level(void **state)
{
	json_t *m = get_model(state), *cls, *cl, *ents, *e;
	const char *name;

	assert_string_equal(str_member(m, "format"), "casesync-model/1");
	assert_non_null(str_member(m, "note"));
	/* format, note, codelists, entities and the editors' $schema. */
	assert_string_equal(str_member(m, "$schema"), "model.schema.json");
	assert_int_equal(json_object_size(m), 5);

	cls = json_object_get(m, "codelists");
	assert_true(json_is_object(cls));
	json_object_foreach(cls, name, cl) {
		json_t *codes = json_object_get(cl, "codes"), *label;
		const char *code;

		if (!str_member(cl, "note"))
			fail_msg("codelist %s: no note", name);
		if (!json_is_object(codes) || json_object_size(codes) == 0)
			fail_msg("codelist %s: no codes", name);
		json_object_foreach(codes, code, label) {
			const char *l = json_string_value(label);

			if (!*code || strchr(code, ',') || !l || !*l)
				fail_msg("codelist %s: bad code or label for \"%s\"",
					 name, code);
		}
	}

	ents = json_object_get(m, "entities");
	assert_true(json_is_object(ents));
	json_object_foreach(ents, name, e) {
		if (!str_member(e, "note"))
			fail_msg("entity %s: no note", name);
	}
}

static void check_field_type(json_t *model, const char *entity,
			     const char *field, json_t *f, void *arg)
{
	const char *type = str_member(f, "type"), *key;
	json_t *v;

	(void)model;
	(void)arg;
	if (!type || !in_list(type, field_types))
		fail_msg("%s.%s: type %s is not a field type", entity, field,
			 type ? type : "(missing)");
	json_object_foreach(f, key, v) {
		if (!in_list(key, field_keys))
			fail_msg("%s.%s: unknown key \"%s\"", entity, field, key);
	}
	if (!str_member(f, "note"))
		fail_msg("%s.%s: no note", entity, field);
}

static void test_field_types(void **state)
{
	each_field(get_model(state), check_field_type, NULL);
}

static void check_field_codelist(json_t *model, const char *entity,
				 const char *field, json_t *f, void *arg)
{
	const char *type = str_member(f, "type");
	json_t *cl = json_object_get(f, "codelist");
	json_t *multiple = json_object_get(f, "multiple");
	int is_code = type && strcmp(type, "code") == 0;

	(void)arg;
	if (is_code) {
		const char *name = json_string_value(cl);

		if (!name)
			fail_msg("%s.%s: code field without a codelist", entity,
				 field);
		if (!json_object_get(json_object_get(model, "codelists"), name))
			fail_msg("%s.%s: codelist %s does not exist", entity,
				 field, name);
	} else if (cl) {
		fail_msg("%s.%s: %s field with a codelist", entity, field,
			 type ? type : "(untyped)");
	}
	if (multiple && !(is_code && json_is_true(multiple)))
		fail_msg("%s.%s: \"multiple\" is only true, on code fields",
			 entity, field);
}

static void test_field_codelists(void **state)
{
	each_field(get_model(state), check_field_codelist, NULL);
}

static void check_field_attrs(json_t *model, const char *entity,
			      const char *field, json_t *f, void *arg)
{
	static const char *const owners[] = { "council", "provider", NULL };
	static const char *const policies[] = { "owner", "newest", "manual",
						NULL };
	static const char *const checks[] = { "nhs-number", "upn", NULL };
	const char *owner = str_member(f, "owner");
	json_t *policy = json_object_get(f, "policy");
	json_t *check = json_object_get(f, "check");
	json_t *census = json_object_get(f, "census");

	(void)model;
	(void)arg;
	if (!owner || !in_list(owner, owners))
		fail_msg("%s.%s: owner must be council or provider", entity,
			 field);
	if (policy && !(json_is_string(policy) &&
			in_list(json_string_value(policy), policies)))
		fail_msg("%s.%s: bad policy", entity, field);
	if (check && !(json_is_string(check) &&
		       in_list(json_string_value(check), checks) &&
		       str_eq(str_member(f, "type"), "string")))
		fail_msg("%s.%s: a check is nhs-number or upn, on a string",
			 entity, field);
	if (census && !(json_is_string(census) && *json_string_value(census)))
		fail_msg("%s.%s: census must name an element", entity, field);
}

static void test_field_attributes(void **state)
{
	each_field(get_model(state), check_field_attrs, NULL);
}

/* ---- the CIN census schema ---- */

struct xsd {
	xmlDocPtr doc;
	xmlXPathContextPtr ctx;
};

/* Skips the calling test when the shared census data is not there. Call
 * before acquiring anything: skip() does not return. */
static void require_cin_dir(void)
{
	if (access(CIN_DIR, F_OK) != 0) {
		printf("SKIPPED: " CIN_DIR " absent\n");
		skip();
	}
}

static void xsd_open(struct xsd *x)
{
	x->doc = xmlReadFile(XSD_PATH, NULL, XML_PARSE_NONET);
	if (!x->doc)
		fail_msg("%s: not well-formed XML", XSD_PATH);
	x->ctx = xmlXPathNewContext(x->doc);
	assert_non_null(x->ctx);
	assert_int_equal(xmlXPathRegisterNs(x->ctx, BAD_CAST "xs",
					    BAD_CAST XS_NS), 0);
}

static void xsd_close(struct xsd *x)
{
	xmlXPathFreeContext(x->ctx);
	xmlFreeDoc(x->doc);
}

/* Schema names used in XPath literals: letters, digits, '_', '-', '.'. */
static int plain_name(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '-' ||
		      *s == '.'))
			return 0;
	return 1;
}

/* Evaluates fmt with name in it; NULL when name is not a plain name. */
/* Evaluates head + name + tail (name checked to be a plain name). */
static xmlXPathObjectPtr xsd_eval(struct xsd *x, const char *head,
				  const char *name, const char *tail)
{
	char expr[256];
	xmlXPathObjectPtr o;

	if (!plain_name(name))
		return NULL;
	assert_true(snprintf(expr, sizeof expr, "%s%s%s", head, name, tail) <
		    (int)sizeof expr);
	o = xmlXPathEvalExpression(BAD_CAST expr, x->ctx);
	assert_non_null(o);
	assert_int_equal(o->type, XPATH_NODESET);
	return o;
}

static int node_count(xmlXPathObjectPtr o)
{
	return o && o->nodesetval ? o->nodesetval->nodeNr : 0;
}

static int xsd_has_element(struct xsd *x, const char *element)
{
	xmlXPathObjectPtr o = xsd_eval(x, "//xs:element[@name='", element, "']");
	int n = node_count(o);

	xmlXPathFreeObject(o);
	return n > 0;
}

/* The type that every declaration of element names, or NULL (reported)
 * when it is undeclared, untyped or declared with different types. */
static xmlChar *xsd_element_type(struct xsd *x, const char *element)
{
	xmlXPathObjectPtr decl = xsd_eval(x, "//xs:element[@name='",
					  element, "']");
	xmlChar *type = NULL;
	int i, n = node_count(decl);

	for (i = 0; i < n; i++) {
		xmlChar *t = xmlGetProp(decl->nodesetval->nodeTab[i],
					BAD_CAST "type");

		if (!t || (type && xmlStrcmp(t, type) != 0)) {
			print_error("element %s: declared without a type or "
				    "with different types\n", element);
			xmlFree(t);
			xmlFree(type);
			type = NULL;
			break;
		}
		if (type)
			xmlFree(t);
		else
			type = t;
	}
	if (n == 0)
		print_error("element %s: not declared in %s\n", element,
			    XSD_PATH);
	xmlXPathFreeObject(decl);
	return type;
}

/* The enumeration values of the simple type that element uses, as a JSON
 * array of strings (caller decrefs), or NULL (reported) when the element
 * has no such type: it must be declared, every declaration must name the
 * same type, and that must be a simpleType of this schema with
 * enumerations. */
static json_t *xsd_element_enums(struct xsd *x, const char *element)
{
	xmlXPathObjectPtr en;
	xmlChar *type = xsd_element_type(x, element);
	json_t *values;
	int i;

	if (!type)
		return NULL;
	en = xsd_eval(x, "//xs:simpleType[@name='", (const char *)type,
		      "']/xs:restriction/xs:enumeration/@value");
	values = json_array();
	for (i = 0; i < node_count(en); i++) {
		xmlChar *v = xmlNodeGetContent(en->nodesetval->nodeTab[i]);

		json_array_append_new(values, json_string((const char *)v));
		xmlFree(v);
	}
	xmlXPathFreeObject(en);
	if (json_array_size(values) == 0) {
		print_error("element %s: its type %s is not an enumerated "
			    "simpleType of the schema\n", element,
			    (const char *)type);
		json_decref(values);
		values = NULL;
	}
	xmlFree(type);
	return values;
}

/* Compares a code list's codes with the schema's values as sets and
 * reports every difference; returns the number of differences. */
static int compare_codes(const char *codelist, const char *element,
			 json_t *codes, json_t *values)
{
	json_t *seen = json_object(), *v;
	const char *code;
	size_t i;
	int diffs = 0;

	json_array_foreach(values, i, v) {
		const char *s = json_string_value(v);

		if (json_object_get(seen, s)) {
			print_error("%s: schema lists %s twice\n", element, s);
			diffs++;
		}
		json_object_set_new(seen, s, json_true());
		if (!json_object_get(codes, s)) {
			print_error("%s: schema code %s (%s) is missing\n",
				    codelist, s, element);
			diffs++;
		}
	}
	json_object_foreach(codes, code, v) {
		if (!json_object_get(seen, code)) {
			print_error("%s: code %s is not in the schema (%s)\n",
				    codelist, code, element);
			diffs++;
		}
	}
	json_decref(seen);
	return diffs;
}

struct census_walk {
	struct xsd *x;
	int diffs;
	int used[N_CENSUS_LISTS];
};

static void check_census_field(json_t *model, const char *entity,
			       const char *field, json_t *f, void *arg)
{
	struct census_walk *w = arg;
	const char *census = str_member(f, "census");
	const char *cl = str_member(f, "codelist");
	json_t *codes, *values;
	size_t i;

	if (!census || !cl)
		return;
	for (i = 0; i < N_CENSUS_LISTS; i++)
		if (strcmp(census_lists[i].codelist, cl) == 0)
			w->used[i] = 1;
	codes = json_object_get(json_object_get(json_object_get(model,
				"codelists"), cl), "codes");
	values = xsd_element_enums(w->x, census);
	if (!values || compare_codes(cl, census, codes, values)) {
		print_error("  (field %s.%s)\n", entity, field);
		w->diffs++;
	}
	json_decref(values);
}

static void test_census_codelists(void **state)
{
	json_t *m = get_model(state);
	struct census_walk w;
	struct xsd x;
	size_t i;
	int bad = 0;

	require_cin_dir();
	xsd_open(&x);
	memset(&w, 0, sizeof w);
	w.x = &x;

	/* Each census list against the element that defines it. */
	for (i = 0; i < N_CENSUS_LISTS; i++) {
		json_t *cl = json_object_get(json_object_get(m, "codelists"),
					     census_lists[i].codelist);
		json_t *values;

		if (!cl) {
			print_error("codelist %s missing from the model\n",
				    census_lists[i].codelist);
			bad++;
			continue;
		}
		values = xsd_element_enums(&x, census_lists[i].element);
		if (!values)
			bad++;
		else
			bad += compare_codes(census_lists[i].codelist,
					     census_lists[i].element,
					     json_object_get(cl, "codes"),
					     values);
		json_decref(values);
	}

	/* Every code field that is a census element, against its own element
	 * (catches a field pointing at the wrong list). */
	each_field(m, check_census_field, &w);
	for (i = 0; i < N_CENSUS_LISTS; i++) {
		if (!w.used[i]) {
			print_error("codelist %s: no census field uses it\n",
				    census_lists[i].codelist);
			bad++;
		}
	}
	xsd_close(&x);
	if (bad || w.diffs)
		fail_msg("census code lists differ from %s", XSD_PATH);
}

struct element_walk {
	struct xsd *x;
	int missing;
	int count;
};

static void check_census_element(json_t *model, const char *entity,
				 const char *field, json_t *f, void *arg)
{
	struct element_walk *w = arg;
	const char *census = str_member(f, "census");

	(void)model;
	if (!census)
		return;
	w->count++;
	if (!xsd_has_element(w->x, census)) {
		print_error("%s.%s: census element %s is not declared in %s\n",
			    entity, field, census, XSD_PATH);
		w->missing++;
	}
}

static void test_census_elements(void **state)
{
	json_t *m = get_model(state);
	struct element_walk w = { 0 };
	struct xsd x;

	require_cin_dir();
	xsd_open(&x);
	w.x = &x;
	each_field(m, check_census_element, &w);
	xsd_close(&x);
	assert_int_equal(w.missing, 0);
	assert_true(w.count > 0);
}

/* ---- docs/canonical-model.md ---- */

static char *read_text(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *text = NULL;
	long len;

	if (!fp)
		fail_msg("%s: cannot open", path);
	if (fseek(fp, 0, SEEK_END) == 0 && (len = ftell(fp)) >= 0 &&
	    fseek(fp, 0, SEEK_SET) == 0) {
		text = malloc((size_t)len + 1);
		if (text && fread(text, 1, (size_t)len, fp) == (size_t)len)
			text[len] = '\0';
		else {
			free(text);
			text = NULL;
		}
	}
	fclose(fp);
	if (!text)
		fail_msg("%s: cannot read", path);
	return text;
}

static int word_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '_';
}

/* Whether name occurs in text as a whole word (not inside a longer name). */
static int mentions(const char *text, const char *name)
{
	size_t n = strlen(name);
	const char *p;

	for (p = strstr(text, name); p; p = strstr(p + 1, name))
		if ((p == text || !word_char(p[-1])) && !word_char(p[n]))
			return 1;
	return 0;
}

struct doc_walk {
	const char *text;
	int missing;
};

static void check_doc_field(json_t *model, const char *entity,
			    const char *field, json_t *f, void *arg)
{
	struct doc_walk *w = arg;

	(void)model;
	(void)f;
	if (!mentions(w->text, field)) {
		print_error("%s: field %s.%s not mentioned\n", DOC_PATH,
			    entity, field);
		w->missing++;
	}
}

static void test_doc_mentions_model(void **state)
{
	json_t *m = get_model(state), *v;
	struct doc_walk w = { NULL, 0 };
	const char *name;
	char *text = read_text(DOC_PATH);

	w.text = text;
	json_object_foreach(json_object_get(m, "entities"), name, v) {
		if (!mentions(text, name)) {
			print_error("%s: entity %s not mentioned\n", DOC_PATH,
				    name);
			w.missing++;
		}
	}
	json_object_foreach(json_object_get(m, "codelists"), name, v) {
		if (!mentions(text, name)) {
			print_error("%s: codelist %s not mentioned\n",
				    DOC_PATH, name);
			w.missing++;
		}
	}
	each_field(m, check_doc_field, &w);
	free(text);
	assert_int_equal(w.missing, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_model_parses_strictly,
						setup_model, teardown_model),
		cmocka_unit_test_setup_teardown(test_model_top_level,
						setup_model, teardown_model),
		cmocka_unit_test_setup_teardown(test_field_types,
						setup_model, teardown_model),
		cmocka_unit_test_setup_teardown(test_field_codelists,
						setup_model, teardown_model),
		cmocka_unit_test_setup_teardown(test_field_attributes,
						setup_model, teardown_model),
		cmocka_unit_test_setup_teardown(test_census_codelists,
						setup_model, teardown_model),
		cmocka_unit_test_setup_teardown(test_census_elements,
						setup_model, teardown_model),
		cmocka_unit_test_setup_teardown(test_doc_mentions_model,
						setup_model, teardown_model),
	};
	int rc;

	xmlInitParser();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	xmlCleanupParser();
	return rc;
}
