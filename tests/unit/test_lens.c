/* test_lens.c - the lens laws for every shipped mapping set, on generated
 * records:
 *
 *   local -> remote -> local   gives back every field mapped both ways;
 *   remote -> local -> remote  likewise;
 *
 * each side serialised to text and parsed back on the way (JSON rows, JSON
 * payloads, XML elements), child collections included. Then: a lossy
 * transform really breaks the law (so the law can fail and check-config is
 * right to warn), and census records built by the cin-census mapping
 * validate against the DfE schema.
 *
 * The generator is seeded (CASESYNC_LENS_SEED overrides the default). */
#include "testutil.h"

#include <stdint.h>
#include <libxml/tree.h>

#include "codec.h"
#include "codec_json.h"
#include "codec_xml.h"
#include "mapping.h"
#include "record.h"
#include "render.h"
#include "transform.h"

#define RECORDS_PER_ENTITY 150
#define CIN_XSD "../shared/data/cin/CIN_schema_2024.xsd"
#define CIN_SAMPLE "../shared/data/cin/cin-2022.xml"

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

static unsigned pick(unsigned n)
{
	return (unsigned)(rnd() % n);
}

static void seed(void)
{
	const char *s = getenv("CASESYNC_LENS_SEED");

	rng_state = s ? strtoull(s, NULL, 10) : 20261124ULL;
	if (!rng_state)
		rng_state = 1;
}

/* ---- generating canonical values ---- */

static void gen_nhs(char out[11])
{
	for (;;) {
		int sum = 0, check;
		for (int i = 0; i < 9; i++) {
			out[i] = (char)('0' + pick(10));
			sum += (out[i] - '0') * (10 - i);
		}
		check = 11 - sum % 11;
		if (check == 11)
			check = 0;
		if (check == 10)
			continue;
		out[9] = (char)('0' + check);
		out[10] = '\0';
		return;
	}
}

static void gen_upn(char out[14])
{
	static const char letters[] = "ABCDEFGHJKLMNPQRTUVWXYZ";

	out[0] = letters[pick(sizeof(letters) - 1)];
	for (int i = 1; i < 12; i++)
		out[i] = (char)('0' + pick(10));
	out[12] = pick(2) ? letters[pick(sizeof(letters) - 1)]
			  : (char)('0' + pick(10));
	out[13] = '\0';
}

/* Free text that exercises escaping on every side: quotes, markup
 * characters, commas, non-ASCII letters. Starts and ends with a letter. */
static void gen_text(char *out, size_t outsz)
{
	static const char *const bits[] = { "a", "b", "Z", "é", "ł", "ß", " ",
		"'", "\"", "<", ">", "&", ",", "-", "\\", "/", "7", "Ω", "\t" };
	size_t n = 1 + pick(24);

	snprintf(out, outsz, "%c", 'A' + pick(26));
	for (size_t i = 0; i < n && strlen(out) + 8 < outsz; i++)
		strcat(out, bits[pick(CS_ARRAY_LEN(bits))]);
	strcat(out, "x");
}

static void gen_date(char *out, size_t outsz)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y = 1990 + (int)pick(40), m = 1 + (int)pick(12);
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	int d = 1 + (int)pick((unsigned)(mdays[m - 1] + (m == 2 && leap)));

	snprintf(out, outsz, "%04d-%02d-%02d", y, m, d);
}

static char *gen_value(const struct map_field *f)
{
	char buf[256];

	switch (f->type) {
	case FT_STRING:
		if (f->check == CHECK_NHS_NUMBER)
			gen_nhs(buf);
		else if (f->check == CHECK_UPN)
			gen_upn(buf);
		else
			gen_text(buf, sizeof(buf));
		break;
	case FT_INT:
		/* Positive: the census's NumberOfPreviousCPP is positiveInteger. */
		snprintf(buf, sizeof(buf), "%u", 1 + pick(500));
		break;
	case FT_BOOL:
		snprintf(buf, sizeof(buf), "%s", pick(2) ? "true" : "false");
		break;
	case FT_DATE:
		gen_date(buf, sizeof(buf));
		break;
	case FT_DATETIME: {
		char d[16];
		gen_date(d, sizeof(d));
		snprintf(buf, sizeof(buf), "%sT%02u:%02u:%02uZ", d, pick(24),
			 pick(60), pick(60));
		break;
	}
	case FT_CODE:
		if (!f->multiple) {
			snprintf(buf, sizeof(buf), "%s",
				 f->codelist->codes[pick((unsigned)f->codelist->n)]);
		} else {
			/* A random non-empty subset, canonicalised. */
			char list[1024] = "", *canon = NULL, err[200];
			size_t k = 1 + pick(4);
			for (size_t i = 0; i < k; i++) {
				if (i)
					strcat(list, ",");
				strcat(list, f->codelist->codes[
					pick((unsigned)f->codelist->n)]);
			}
			assert_int_equal(xform_canon(f, list, &canon, err,
						     sizeof(err)), CS_OK);
			return canon;
		}
		break;
	}
	{
		char *canon = NULL, err[200];
		if (xform_canon(f, buf, &canon, err, sizeof(err)))
			fail_msg("generator made an invalid %s: %s", f->name, err);
		return canon;
	}
}

/* A record with every field filled when complete, else ~70% of them, and
 * up to 2 children per collection (at least 1 when complete). */
static struct record *gen_record(const struct map_entity *e, int complete,
				 int depth)
{
	struct record *r = record_new(e);

	assert_non_null(r);
	for (size_t i = 0; i < e->nfields; i++) {
		if (!complete && pick(10) < 3)
			continue;
		r->vals[i] = gen_value(&e->fields[i]);
	}
	for (size_t ci = 0; ci < e->nchildren && depth < 6; ci++) {
		unsigned n = complete ? 1 + pick(2) : pick(3);
		for (unsigned k = 0; k < n; k++)
			assert_int_equal(record_add_child(r, ci,
				gen_record(e->children[ci], complete, depth + 1)), 0);
	}
	return r;
}

/* ---- the trips ---- */

static struct record *through_local(const struct record *r, int all)
{
	json_t *row = codec_local_encode(r, all);
	char *text = json_dumps(row, JSON_COMPACT), err[256];
	struct record *back = NULL;

	assert_non_null(text);
	json_decref(row);
	if (render_parse(r->ent, SIDE_LOCAL, text, strlen(text), &back, err,
			 sizeof(err)))
		fail_msg("local row of %s does not read back: %s", r->ent->name, err);
	free(text);
	return back;
}

static struct record *through_remote(const struct record *r, int all)
{
	char *text = NULL, err[256];
	struct record *back = NULL;

	if (render_emit(r, SIDE_REMOTE, all, &text, err, sizeof(err)))
		fail_msg("%s does not encode for the council: %s", r->ent->name, err);
	if (render_parse(r->ent, SIDE_REMOTE, text, strlen(text), &back, err,
			 sizeof(err)))
		fail_msg("%s payload does not decode: %s\n%s", r->ent->name, err, text);
	free(text);
	return back;
}

/* Compares fields mapped both ways, recursively; returns the number of
 * differences and counts the values compared. The first difference names
 * the field in *what. */
static size_t both_way_diffs(const struct record *a, const struct record *b,
			     size_t *compared, const char **what)
{
	const struct map_entity *e = a->ent;
	size_t diffs = 0;

	for (size_t i = 0; i < e->nfields; i++) {
		if (e->fields[i].dir != DIR_BOTH)
			continue;
		(*compared)++;
		if (!cs_streq(record_get(a, i), record_get(b, i))) {
			if (!diffs && !*what)
				*what = e->fields[i].name;
			diffs++;
		}
	}
	for (size_t ci = 0; ci < e->nchildren; ci++) {
		if (a->kids[ci].n != b->kids[ci].n) {
			if (!*what)
				*what = e->children[ci]->name;
			diffs++;
			continue;
		}
		for (size_t k = 0; k < a->kids[ci].n; k++)
			diffs += both_way_diffs(a->kids[ci].v[k], b->kids[ci].v[k],
						compared, what);
	}
	return diffs;
}

/* Runs both laws on n generated records of e; returns differences. */
static size_t run_laws(const struct map_entity *e, int n, size_t *compared,
		       const char **what)
{
	size_t diffs = 0;

	for (int k = 0; k < n; k++) {
		struct record *r = gen_record(e, k % 3 == 0, 0);
		/* local -> remote -> local */
		struct record *l1 = through_local(r, 1);
		struct record *rem = through_remote(l1, 0);
		struct record *l2 = through_local(rem, 0);
		/* remote -> local -> remote */
		struct record *r1 = through_remote(r, 1);
		struct record *loc = through_local(r1, 0);
		struct record *r2 = through_remote(loc, 0);

		diffs += both_way_diffs(l1, rem, compared, what);
		diffs += both_way_diffs(l1, l2, compared, what);
		diffs += both_way_diffs(r1, loc, compared, what);
		diffs += both_way_diffs(r1, r2, compared, what);
		record_free(r);
		record_free(l1);
		record_free(rem);
		record_free(l2);
		record_free(r1);
		record_free(loc);
		record_free(r2);
	}
	return diffs;
}

static struct mapping_set *load(const char *name)
{
	struct diag d;
	struct mapping_set *s;

	diag_init(&d);
	s = mapping_set_load("mappings", name, &d);
	if (!s)
		diag_print(&d, stderr);
	assert_non_null(s);
	/* A shipped mapping may not be lossy: check-config would warn. */
	if (d.warnings)
		diag_print(&d, stderr);
	assert_int_equal(d.warnings, 0);
	diag_free(&d);
	return s;
}

static void laws_for_set(const char *name)
{
	struct mapping_set *s = load(name);
	size_t compared = 0, entities = 0;

	seed();
	for (size_t i = 0; i < s->nentities; i++) {
		const struct map_entity *e = &s->entities[i];
		const char *what = NULL;
		size_t diffs;

		/* Every entity, on its own and (children) inside its parents. */
		diffs = run_laws(e, RECORDS_PER_ENTITY, &compared, &what);
		if (diffs)
			fail_msg("set %s entity %s: %zu values did not round-trip "
				 "(first: %s; seed %llu)", name, e->name, diffs,
				 what, (unsigned long long)rng_state);
		entities++;
	}
	print_message("lens laws: set %s, %zu entities, %zu both-way values "
		      "compared, all equal\n", name, entities, compared);
	assert_true(compared > 1000);
	mapping_set_free(s);
}

static void test_laws_lcs_rest(void **state)
{
	(void)state;
	laws_for_set("lcs-rest");
}

static void test_laws_cin_census(void **state)
{
	(void)state;
	laws_for_set("cin-census");
}

/* A lossy transform breaks the law, and the loader's check says why. */
static void test_lossy_transform_breaks_the_law(void **state)
{
	struct mapping_set *s = load("lcs-rest");
	struct map_entity *e = (struct map_entity *)mapping_find_entity(s, "person");
	struct map_field *f = &e->fields[mapping_field_index(e, "given_name")];
	size_t compared = 0;
	const char *what = NULL;

	(void)state;
	seed();
	assert_null(xform_lossy(f, &f->remote_x));
	f->remote_x.tcase = CASE_UPPER;
	assert_non_null(xform_lossy(f, &f->remote_x));
	assert_true(run_laws(e, 20, &compared, &what) > 0);
	assert_string_equal(what, "given_name");
	f->remote_x.tcase = CASE_KEEP;
	mapping_set_free(s);
}

/* A code translation that is not one-to-one loses a code. */
static void test_many_to_one_codes_break_the_law(void **state)
{
	struct mapping_set *s = load("lcs-rest");
	struct map_entity *e = (struct map_entity *)mapping_find_entity(s, "person");
	struct map_field *f = &e->fields[mapping_field_index(e, "gender")];
	const struct codelist *cl = f->codelist;
	char *saved = f->remote_x.codes[mapping_code_index(cl, "9")];
	struct record *r = record_new(e), *back;

	(void)state;
	/* "not specified" sent as "U" like "not known". */
	f->remote_x.codes[mapping_code_index(cl, "9")] = (char *)"U";
	assert_non_null(xform_lossy(f, &f->remote_x));
	assert_int_equal(record_set(r, (size_t)mapping_field_index(e, "gender"),
				    "9"), 0);
	back = through_remote(r, 0);
	assert_string_equal(record_get(back, (size_t)mapping_field_index(e,
					"gender")), "0");
	f->remote_x.codes[mapping_code_index(cl, "9")] = saved;
	record_free(back);
	record_free(r);
	mapping_set_free(s);
}

/* ---- the census shape ---- */

static int have_cin(void)
{
	if (access(CIN_XSD, R_OK) == 0 && access(CIN_SAMPLE, R_OK) == 0)
		return 1;
	print_message("SKIPPED: ../shared/data/cin absent\n");
	return 0;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = malloc(1 << 20);

	assert_non_null(f);
	assert_non_null(buf);
	*len = fread(buf, 1, (1 << 20) - 1, f);
	buf[*len] = '\0';
	fclose(f);
	return buf;
}

/* Replaces the sample's children with the given records, serialised by the
 * mapping, and validates the message against the 2024 schema. */
static int validate_children(const struct map_entity *e, struct record **recs,
			     size_t n, char *err, size_t errsz)
{
	size_t len;
	char *sample = slurp(CIN_SAMPLE, &len);
	xmlDocPtr doc = codec_xml_parse(sample, len, 1 << 20, err, errsz);
	xmlNodePtr msg, children, c, next;
	int rc, problems = 0;

	free(sample);
	assert_non_null(doc);
	msg = xmlDocGetRootElement(doc);
	for (children = msg->children; children; children = children->next)
		if (children->type == XML_ELEMENT_NODE &&
		    !strcmp((const char *)children->name, "Children"))
			break;
	assert_non_null(children);
	for (c = children->children; c; c = next) {
		next = c->next;
		xmlUnlinkNode(c);
		xmlFreeNode(c);
	}
	for (size_t i = 0; i < n; i++) {
		xmlNodePtr child = xmlNewChild(children, NULL, BAD_CAST "Child", NULL);
		assert_non_null(child);
		assert_int_equal(codec_xml_encode_record(recs[i], child, 0, err,
							 errsz), 0);
	}
	(void)e;
	rc = codec_xml_validate(doc, CIN_XSD, &problems, err, errsz);
	xmlFreeDoc(doc);
	return rc;
}

static void test_census_sample_round_trip_validates(void **state)
{
	struct mapping_set *s;
	const struct map_entity *e;
	size_t len;
	char *text, err[512], *local = NULL;
	struct record *r = NULL, *back = NULL;

	(void)state;
	if (!have_cin()) {
		skip();
		return;
	}
	s = load("cin-census");
	e = mapping_find_entity(s, "person");
	text = slurp(CIN_SAMPLE, &len);
	assert_int_equal(render_parse(e, SIDE_REMOTE, text, len, &r, err,
				      sizeof(err)), 0);
	/* The whole tree came through: 1 referral with one of each below. */
	assert_int_equal(r->kids[0].n, 1);
	/* Through the provider's rows and back. */
	assert_int_equal(render_emit(r, SIDE_LOCAL, 0, &local, err, sizeof(err)), 0);
	assert_int_equal(render_parse(e, SIDE_LOCAL, local, strlen(local), &back,
				      err, sizeof(err)), 0);
	assert_true(record_tree_equal(r, back));
	if (validate_children(e, &back, 1, err, sizeof(err)))
		fail_msg("re-encoded sample does not validate: %s", err);
	free(local);
	free(text);
	record_free(r);
	record_free(back);
	mapping_set_free(s);
}

static void test_generated_census_records_validate(void **state)
{
	struct mapping_set *s;
	const struct map_entity *e;
	struct record *recs[40];
	char err[512];

	(void)state;
	if (!have_cin()) {
		skip();
		return;
	}
	s = load("cin-census");
	e = mapping_find_entity(s, "person");
	seed();
	for (size_t i = 0; i < CS_ARRAY_LEN(recs); i++)
		recs[i] = gen_record(e, 1, 0);
	if (validate_children(e, recs, CS_ARRAY_LEN(recs), err, sizeof(err)))
		fail_msg("generated census records do not validate: %s", err);
	print_message("40 generated children, every element filled, validate "
		      "against CIN_schema_2024.xsd\n");
	/* And a record missing a required element does not. */
	assert_int_equal(record_set(recs[0], (size_t)mapping_field_index(e,
					"gender"), NULL), 0);
	assert_int_not_equal(validate_children(e, recs, 1, err, sizeof(err)), 0);
	for (size_t i = 0; i < CS_ARRAY_LEN(recs); i++)
		record_free(recs[i]);
	mapping_set_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_laws_lcs_rest),
		cmocka_unit_test(test_laws_cin_census),
		cmocka_unit_test(test_lossy_transform_breaks_the_law),
		cmocka_unit_test(test_many_to_one_codes_break_the_law),
		cmocka_unit_test(test_census_sample_round_trip_validates),
		cmocka_unit_test(test_generated_census_records_validate),
	};

	return cmocka_run_group_tests_name("lens laws", tests, NULL, NULL);
}
