/* test_codec_json.c - strict JSON parsing, RFC 6901 pointers, and decoding
 * and encoding council records through the real person mapping. */
#include <stdarg.h>

#include "testutil.h"

#include "codec_json.h"

/* Test fixtures are built with plain jansson, not with the code under test. */
static json_t *J(const char *text)
{
	json_error_t je;
	json_t *j = json_loads(text, JSON_DECODE_ANY, &je);

	if (!j)
		fail_msg("fixture JSON invalid: %s", je.text);
	return j;
}

/* ---- codec_json_parse ---- */

static json_t *parse(const char *text, size_t max, char *err, size_t errsz)
{
	return codec_json_parse(text, strlen(text), max, err, errsz);
}

static void test_parse_accepts_objects_and_arrays(void **state)
{
	static const char *const good[] = {
		"{}", "[]", "{\"a\": 1}", " [1, \"two\", null] \n",
		"{\"a\": {\"a\": 1}}", "{\"s\": \"caf\\u00e9\"}",
	};
	char err[128];

	(void)state;
	for (size_t i = 0; i < CS_ARRAY_LEN(good); i++) {
		json_t *j = parse(good[i], 1024, err, sizeof(err));

		if (!j)
			fail_msg("case %zu rejected: %s", i, err);
		json_decref(j);
	}
}

static void test_parse_rejects(void **state)
{
	static const char *const bad[] = {
		"{\"a\": 1, \"a\": 2}",		/* duplicate key */
		"{\"o\": {\"k\": 1, \"k\": 1}}",	/* duplicate, nested */
		"42", "\"x\"", "null", "true",	/* bare scalars */
		"{\"a\": \"x\\u0000y\"}",	/* NUL escape */
		"{\"a\": }", "{", "", "   ", "[1,]", "{\"a\": 1}}",
		"{'a': 1}", "{\"a\": 01}", "{\"a\": NaN}", "[1] [2]",
		"{\"a\": \"\xff\"}",		/* not UTF-8 */
	};

	(void)state;
	for (size_t i = 0; i < CS_ARRAY_LEN(bad); i++) {
		char err[128] = "";
		json_t *j = parse(bad[i], 1024, err, sizeof(err));

		if (j) {
			json_decref(j);
			fail_msg("case %zu accepted", i);
		}
		if (!strstr(err, "line ") || !strstr(err, "column "))
			fail_msg("case %zu: message without position: %s", i, err);
	}
}

static void test_parse_size_cap(void **state)
{
	const char *text = "{\"a\": 1}";	/* 8 bytes */
	char err[128] = "";
	json_t *j;

	(void)state;
	j = parse(text, 8, err, sizeof(err));
	assert_non_null(j);
	json_decref(j);
	assert_null(parse(text, 7, err, sizeof(err)));
	assert_non_null(strstr(err, "larger than 7 bytes"));
	assert_null(parse(text, 0, NULL, 0));	/* err is optional */
}

static void test_parse_reads_only_len_bytes(void **state)
{
	const char *text = "{\"a\": 1}garbage";
	char err[128];
	json_t *j = codec_json_parse(text, 8, 1024, err, sizeof(err));

	(void)state;
	assert_non_null(j);
	assert_int_equal(json_integer_value(json_object_get(j, "a")), 1);
	json_decref(j);
}

static void test_parse_error_has_position_not_input(void **state)
{
	char err[256] = "";

	(void)state;
	assert_null(parse("{\"name\": \"SECRETNAME\", }", 1024, err, sizeof(err)));
	assert_non_null(strstr(err, "line 1 column"));
	assert_null(strstr(err, "SECRETNAME"));

	assert_null(parse("{\n  \"a\": 1,\n  \"b\": SECRET\n}", 1024, err,
			  sizeof(err)));
	assert_non_null(strstr(err, "line 3 column"));
	assert_null(strstr(err, "SECRET"));

	/* A duplicate key names neither the key nor the values. */
	assert_null(parse("{\"SECRETKEY\": 1, \"SECRETKEY\": 2}", 1024, err,
			  sizeof(err)));
	assert_null(strstr(err, "SECRETKEY"));
}

/* ---- JSON Pointer ---- */

static const char *const ptr_doc =
	"{\"a\": {\"b\": [10, 20, {\"c\": \"x\"}]}, \"m~n\": 1, \"s/t\": 2,"
	" \"\": 3, \"01\": 4, \"n\": null, \"x y\": 5}";

static void test_pointer_get(void **state)
{
	static const struct {
		const char *ptr;
		const char *want;	/* compact JSON, NULL = absent */
	} cases[] = {
		{ "/a/b/0", "10" }, { "/a/b/1", "20" }, { "/a/b/2/c", "\"x\"" },
		{ "/a/b/2", "{\"c\": \"x\"}" },
		{ "/m~0n", "1" }, { "/s~1t", "2" }, { "/", "3" }, { "/01", "4" },
		{ "/x y", "5" }, { "/n", "null" },
		{ "/a/b/01", NULL }, { "/a/b/00", NULL }, { "/a/b/3", NULL },
		{ "/a/b/-1", NULL }, { "/a/b/-", NULL }, { "/a/b/1x", NULL },
		{ "/a/b/+1", NULL }, { "/a/b/ 1", NULL }, { "/a/b/-0", NULL },
		{ "/a/b/", NULL }, { "/a/x", NULL }, { "/a/b/0/x", NULL },
		{ "/m~n", NULL }, { "/s/t", NULL }, { "/a~2", NULL },
		{ "/a~", NULL }, { "a", NULL }, { "#/a", NULL },
		{ "/a/b/99999999999999999999", NULL },
	};
	json_t *doc = J(ptr_doc);

	(void)state;
	assert_ptr_equal(codec_json_pointer_get(doc, ""), doc);
	for (size_t i = 0; i < CS_ARRAY_LEN(cases); i++) {
		json_t *got = codec_json_pointer_get(doc, cases[i].ptr);

		if (!cases[i].want) {
			if (got)
				fail_msg("case %zu (%s): expected absent", i,
					 cases[i].ptr);
			continue;
		}
		{
			json_t *want = J(cases[i].want);

			if (!got || !json_equal(got, want))
				fail_msg("case %zu (%s): wrong value", i,
					 cases[i].ptr);
			json_decref(want);
		}
	}
	json_decref(doc);
}

/* Builds {"a": {"a": ... {"a": "leaf"}}} with depth levels, and the pointer
 * "/a/a/.../a" with n segments. */
static json_t *deep_doc(int depth)
{
	json_t *j = json_string("leaf");

	for (int i = 0; i < depth; i++)
		j = json_pack("{s:o}", "a", j);
	assert_non_null(j);
	return j;
}

static void deep_ptr(char *buf, size_t sz, int n)
{
	buf[0] = '\0';
	for (int i = 0; i < n; i++)
		strncat(buf, "/a", sz - strlen(buf) - 1);
}

static void test_pointer_depth_limit(void **state)
{
	json_t *doc = deep_doc(CODEC_JSON_MAX_DEPTH + 5);
	char ptr[256];

	(void)state;
	deep_ptr(ptr, sizeof(ptr), CODEC_JSON_MAX_DEPTH);
	assert_non_null(codec_json_pointer_get(doc, ptr));
	deep_ptr(ptr, sizeof(ptr), CODEC_JSON_MAX_DEPTH + 1);
	assert_null(codec_json_pointer_get(doc, ptr));

	deep_ptr(ptr, sizeof(ptr), CODEC_JSON_MAX_DEPTH);
	assert_int_equal(codec_json_pointer_set(doc, ptr, json_integer(1)), CS_OK);
	deep_ptr(ptr, sizeof(ptr), CODEC_JSON_MAX_DEPTH + 1);
	assert_int_equal(codec_json_pointer_set(doc, ptr, json_integer(1)),
			 CS_EINVAL);
	json_decref(doc);
}

/* Sets ptr to val (steals it) in a document parsed from before, and checks
 * the return code and the resulting document. */
static void check_set(const char *before, const char *ptr, json_t *val,
		      int want_rc, const char *after)
{
	json_t *doc = J(before), *want = J(after);
	int rc = codec_json_pointer_set(doc, ptr, val);

	if (rc != want_rc)
		fail_msg("set %s: rc %d, expected %d", ptr, rc, want_rc);
	if (!json_equal(doc, want)) {
		char *got = json_dumps(doc, JSON_SORT_KEYS);

		print_message("set %s: got %s, expected %s\n", ptr, got, after);
		free(got);
		fail();
	}
	json_decref(doc);
	json_decref(want);
}

static void test_pointer_set(void **state)
{
	(void)state;
	check_set("{}", "/x", json_integer(1), CS_OK, "{\"x\": 1}");
	check_set("{}", "/a/b/c", json_integer(1), CS_OK,
		  "{\"a\": {\"b\": {\"c\": 1}}}");
	check_set("{\"a\": {\"keep\": true, \"b\": 0}}", "/a/b", json_string("v"),
		  CS_OK, "{\"a\": {\"keep\": true, \"b\": \"v\"}}");
	check_set("{\"a\": null}", "/a/b", json_null(), CS_OK,
		  "{\"a\": {\"b\": null}}");
	check_set("{}", "/m~0n/s~1t", json_true(), CS_OK,
		  "{\"m~n\": {\"s/t\": true}}");
	check_set("{}", "/", json_integer(3), CS_OK, "{\"\": 3}");
	/* Failures leave the document as it was (and free val). */
	check_set("{\"a\": \"str\"}", "/a/b", json_integer(1), CS_EINVAL,
		  "{\"a\": \"str\"}");
	check_set("{\"a\": [1]}", "/a/0", json_integer(2), CS_EINVAL,
		  "{\"a\": [1]}");
	check_set("{}", "", json_integer(1), CS_EINVAL, "{}");
	check_set("{}", "x", json_integer(1), CS_EINVAL, "{}");
	check_set("{}", "/a~2", json_integer(1), CS_EINVAL, "{}");
	check_set("{}", "/x", NULL, CS_ENOMEM, "{}");
}

/* ---- decode and encode with the real person mapping ---- */

static struct mapping_set *person_set;

static int person_setup(void **state)
{
	struct diag d;

	diag_init(&d);
	person_set = mapping_set_load("mappings", "lcs-rest", &d);
	if (!person_set) {
		diag_print(&d, stderr);
		diag_free(&d);
		return -1;
	}
	diag_free(&d);
	*state = (void *)mapping_find_entity(person_set, "person");
	return 0;
}

static int person_teardown(void **state)
{
	(void)state;
	mapping_set_free(person_set);
	return 0;
}

static const char *const person_json =
	"{\"id\": \"C1\", \"version\": \"v3\","
	" \"name\": {\"forename\": \"Ann\", \"surname\": \"Lee\"},"
	" \"dateOfBirth\": \"2015-03-01\", \"gender\": \"F\","
	" \"identifiers\": {\"upn\": \"Z801200000001\", \"nhsNumber\": \"9434765919\"},"
	" \"disabilities\": [\"HEAR\", \"AUT\"],"
	" \"referrals\": [{\"referralDate\": \"2024-01-02\"}],"
	" \"address\": {\"postcode\": \"ZZ99 3AA\"}}";

/* Value of the named field in a decoded record. */
static const char *field(const struct map_entity *e, const struct record *r,
			 const char *name)
{
	int i = mapping_field_index(e, name);

	assert_true(i >= 0);
	return record_get(r, (size_t)i);
}

static void test_decode_person(void **state)
{
	const struct map_entity *e = *state;
	json_t *obj = J(person_json);
	struct codec_item it;
	char err[256] = "";

	assert_int_equal(codec_json_decode(e, obj, &it, err, sizeof(err)), CS_OK);
	assert_string_equal(it.remote_id, "C1");
	assert_string_equal(it.version, "v3");
	assert_int_equal(it.deleted, 0);
	assert_ptr_equal(it.doc, obj);
	assert_non_null(it.rec);
	assert_string_equal(field(e, it.rec, "la_child_id"), "C1");
	assert_string_equal(field(e, it.rec, "given_name"), "Ann");
	assert_string_equal(field(e, it.rec, "family_name"), "Lee");
	assert_string_equal(field(e, it.rec, "date_of_birth"), "2015-03-01");
	/* Translated from the council's letter to the census code. */
	assert_string_equal(field(e, it.rec, "gender"), "2");
	assert_string_equal(field(e, it.rec, "upn"), "Z801200000001");
	assert_string_equal(field(e, it.rec, "nhs_number"), "9434765919");
	/* A set of codes, in canonical order. */
	assert_string_equal(field(e, it.rec, "disabilities"), "AUT,HEAR");
	/* The nested collection comes along. */
	assert_int_equal(it.rec->kids[0].n, 1);
	codec_item_clear(&it);
	assert_null(it.doc);
	assert_null(it.rec);
	json_decref(obj);
}

static void test_decode_missing_and_null_are_null(void **state)
{
	const struct map_entity *e = *state;
	json_t *obj = J("{\"id\": \"C2\", \"name\": {\"forename\": \"Bo\"},"
			" \"gender\": null, \"identifiers\": {\"upn\": null}}");
	struct codec_item it;
	char err[256];

	assert_int_equal(codec_json_decode(e, obj, &it, err, sizeof(err)), CS_OK);
	assert_null(it.version);
	assert_string_equal(field(e, it.rec, "given_name"), "Bo");
	assert_null(field(e, it.rec, "family_name"));
	assert_null(field(e, it.rec, "date_of_birth"));
	assert_null(field(e, it.rec, "gender"));
	assert_null(field(e, it.rec, "upn"));
	assert_null(field(e, it.rec, "nhs_number"));
	codec_item_clear(&it);
	json_decref(obj);
}

struct bad_payload {
	const char *json;
	const char *names;	/* must appear in err */
	const char *secret;	/* must not appear in err (NULL: none) */
};

static const struct bad_payload bad_payloads[] = {
	/* A real number never re-renders exactly: refused even for strings. */
	{ "{\"id\": \"C1\", \"gender\": 9876.54}", "field gender: expected a "
	  "JSON string", "9876" },
	{ "{\"id\": \"C1\", \"gender\": true}", "field gender: expected a "
	  "JSON string", NULL },
	/* Dates travel as strings only. */
	{ "{\"id\": \"C1\", \"dateOfBirth\": 20150301}", "field date_of_birth: "
	  "expected a JSON string", "20150301" },
	{ "{\"id\": \"C1\", \"dateOfBirth\": \"2015-02-30\"}", "field "
	  "date_of_birth: not a", "2015-02-30" },
	{ "{\"id\": \"C1\", \"gender\": \"Q\"}", "field gender: unknown code",
	  NULL },
	{ "{\"id\": \"C1\", \"identifiers\": {\"nhsNumber\": \"9434765918\"}}",
	  "field nhs_number: check digit", "9434765918" },
	{ "{\"id\": \"C1\", \"disabilities\": [\"HEAR\", 1.5]}", "field disabilities",
	  NULL },
	{ "{\"id\": \"C1\", \"gender\": [\"F\"]}", "field gender: an array",
	  NULL },
	{ "{\"id\": \"C1\", \"referrals\": [{\"referralDate\": \"SECRET\"}]}",
	  "field referral_date", "SECRET" },
	{ "{\"id\": \"C1\", \"referrals\": {\"referralDate\": \"2024-01-01\"}}",
	  "referral: expected an array at /referrals", NULL },
	{ "{\"id\": \"C1\", \"name\": {\"forename\": true}}", "field given_name",
	  NULL },
	{ "{\"id\": \"C1\", \"name\": {\"surname\": [\"SECRETLEE\"]}}",
	  "field family_name", "SECRETLEE" },
	{ "{\"id\": \"C1\", \"identifiers\": {\"upn\": {\"v\": \"SECRETUPN\"}}}",
	  "field upn", "SECRETUPN" },
	{ "{\"name\": {\"forename\": \"SECRETANN\"}}", "no usable id at /id",
	  "SECRETANN" },
	{ "{\"id\": \"\"}", "no usable id", NULL },
	{ "{\"id\": null}", "no usable id", NULL },
	{ "{\"id\": {\"v\": 1}}", "no usable id", NULL },
	{ "{\"id\": 1.5}", "no usable id", NULL },
	{ "{\"id\": \"C1\", \"version\": {\"v\": 1}}", "version is neither", NULL },
	{ "[{\"id\": \"C1\"}]", "not a JSON object", NULL },
};

static void test_decode_rejects(void **state)
{
	const struct map_entity *e = *state;

	for (size_t i = 0; i < CS_ARRAY_LEN(bad_payloads); i++) {
		const struct bad_payload *b = &bad_payloads[i];
		json_t *obj = J(b->json);
		struct codec_item it;
		char err[256] = "";
		int rc = codec_json_decode(e, obj, &it, err, sizeof(err));
		/* Nothing may be left half-filled on failure. */
		int leftovers = it.remote_id || it.version || it.rec || it.doc;
		size_t refs = obj->refcount;

		codec_item_clear(&it);
		json_decref(obj);
		tu_assert_int_case(i, rc, CS_EINVAL);
		tu_assert_int_case(i, leftovers, 0);
		tu_assert_int_case(i, refs, 1);	/* caller's reference untouched */
		if (!strstr(err, b->names))
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err, b->names);
		if (b->secret && strstr(err, b->secret))
			fail_msg("case %zu: \"%s\" quotes the value", i, err);
	}
}

static void test_decode_integer_id_and_version(void **state)
{
	const struct map_entity *e = *state;
	json_t *obj = J("{\"id\": 123, \"version\": 7,"
			" \"name\": {\"forename\": \"Ann\"}}");
	struct codec_item it;
	char err[256] = "";
	int rc = codec_json_decode(e, obj, &it, err, sizeof(err));

	if (rc) {
		json_decref(obj);	/* keep the leak checker quiet */
		fail_msg("integer id rejected: %s", err);
	}
	assert_string_equal(it.remote_id, "123");
	assert_string_equal(it.version, "7");
	assert_string_equal(field(e, it.rec, "given_name"), "Ann");
	/* String fields take JSON integers in decimal: la_child_id is read
	 * from /id and must hold the same id as remote_id. */
	assert_string_equal(field(e, it.rec, "la_child_id"), "123");
	codec_item_clear(&it);
	json_decref(obj);
}

static void test_decode_tombstone(void **state)
{
	const struct map_entity *e = *state;
	/* A tombstone's other members are not decoded (nor checked). */
	json_t *obj = J("{\"id\": \"C9\", \"version\": \"v4\", \"deleted\": true,"
			" \"dateOfBirth\": \"not a date\"}");
	json_t *live = J("{\"id\": \"C9\", \"deleted\": false}");
	struct codec_item it;
	char err[256];

	assert_int_equal(codec_json_decode(e, obj, &it, err, sizeof(err)), CS_OK);
	assert_int_equal(it.deleted, 1);
	assert_null(it.rec);
	assert_string_equal(it.remote_id, "C9");
	assert_string_equal(it.version, "v4");
	codec_item_clear(&it);

	assert_int_equal(codec_json_decode(e, live, &it, err, sizeof(err)), CS_OK);
	assert_int_equal(it.deleted, 0);
	assert_non_null(it.rec);
	codec_item_clear(&it);
	json_decref(obj);
	json_decref(live);
}

/* The council's modification time comes back as written, whatever else the
 * payload holds; anything but a string is no time at all, never an error. */
static void test_decode_modified(void **state)
{
	const struct map_entity *e = *state;
	static const struct {
		const char *json;
		const char *want;
	} cases[] = {
		{ "{\"id\": \"C1\", \"modified\": \"2026-11-24T10:15:30.123Z\"}",
		  "2026-11-24T10:15:30.123Z" },
		/* unparsed: the engine compares, the codec only carries */
		{ "{\"id\": \"C1\", \"modified\": \"last Tuesday\"}", "last Tuesday" },
		{ "{\"id\": \"C1\", \"modified\": \"\"}", "" },
		/* a tombstone carries its time too */
		{ "{\"id\": \"C1\", \"deleted\": true, \"modified\": "
		  "\"2026-11-24T10:15:31Z\"}", "2026-11-24T10:15:31Z" },
		{ "{\"id\": \"C1\"}", NULL },
		{ "{\"id\": \"C1\", \"modified\": null}", NULL },
		{ "{\"id\": \"C1\", \"modified\": 1795515330123}", NULL },
		{ "{\"id\": \"C1\", \"modified\": 1.5}", NULL },
		{ "{\"id\": \"C1\", \"modified\": true}", NULL },
		{ "{\"id\": \"C1\", \"modified\": [\"2026-11-24T10:15:30Z\"]}", NULL },
		{ "{\"id\": \"C1\", \"modified\": {\"at\": \"2026-11-24T10:15:30Z\"}}",
		  NULL },
	};

	assert_string_equal(e->remote_modified_loc, "/modified");
	for (size_t i = 0; i < CS_ARRAY_LEN(cases); i++) {
		json_t *obj = J(cases[i].json);
		struct codec_item it;
		char err[256] = "";

		if (codec_json_decode(e, obj, &it, err, sizeof(err)) != CS_OK)
			fail_msg("case %zu refused: %s", i, err);
		tu_assert_str_case(i, it.modified, cases[i].want);
		codec_item_clear(&it);
		assert_null(it.modified);
		json_decref(obj);
	}
}

/* A string with a NUL cannot be carried as C text: no time. */
static void test_decode_modified_with_nul(void **state)
{
	const struct map_entity *e = *state;
	json_t *obj = J("{\"id\": \"C1\"}");
	struct codec_item it;
	char err[256] = "";

	assert_int_equal(json_object_set_new(obj, "modified",
					     json_stringn("2026\0x", 6)), 0);
	assert_int_equal(codec_json_decode(e, obj, &it, err, sizeof(err)), CS_OK);
	assert_null(it.modified);
	codec_item_clear(&it);
	json_decref(obj);
}

/* A person record from name/value pairs, ended by NULL. */
static struct record *person_rec(const struct map_entity *e, ...)
{
	struct record *r = record_new(e);
	const char *name;
	va_list ap;

	assert_non_null(r);
	va_start(ap, e);
	while ((name = va_arg(ap, const char *))) {
		const char *v = va_arg(ap, const char *);
		int i = mapping_field_index(e, name);
		assert_true(i >= 0);
		assert_int_equal(record_set(r, (size_t)i, v), CS_OK);
	}
	va_end(ap);
	return r;
}

static const char *str_at(const json_t *doc, const char *ptr)
{
	return json_string_value(codec_json_pointer_get(doc, ptr));
}

static void test_encode_on_template(void **state)
{
	const struct map_entity *e = *state;
	json_t *tmpl = J(person_json), *copy = json_deep_copy(tmpl);
	struct record *r = person_rec(e, "la_child_id", "SHOULD-NOT-BE-WRITTEN",
				      "given_name", "New", "date_of_birth",
				      "2015-03-01", "gender", "1", "upn",
				      "Z801200000009", "disabilities", "AUT,HEAR",
				      NULL);
	json_t *got = codec_json_encode(e, r, tmpl);

	assert_non_null(got);
	assert_string_equal(str_at(got, "/id"), "C1");	/* pull-only */
	assert_string_equal(str_at(got, "/version"), "v3");
	assert_string_equal(str_at(got, "/name/forename"), "New");
	assert_true(json_is_null(codec_json_pointer_get(got, "/name/surname")));
	assert_string_equal(str_at(got, "/gender"), "M");	/* translated */
	assert_string_equal(str_at(got, "/identifiers/upn"), "Z801200000009");
	assert_string_equal(str_at(got, "/disabilities/0"), "AUT");
	assert_string_equal(str_at(got, "/disabilities/1"), "HEAR");
	/* Unmapped members and nested collections survive untouched. */
	assert_string_equal(str_at(got, "/address/postcode"), "ZZ99 3AA");
	assert_string_equal(str_at(got, "/referrals/0/referralDate"), "2024-01-02");
	/* The template itself is not modified. */
	assert_true(json_equal(tmpl, copy));
	json_decref(got);
	json_decref(tmpl);
	json_decref(copy);
	record_free(r);
}

static void test_encode_without_template(void **state)
{
	const struct map_entity *e = *state;
	struct record *r = person_rec(e, "la_child_id", "C7", "given_name",
				      "Ann", "family_name", "Lee", NULL);
	json_t *got = codec_json_encode(e, r, NULL);

	assert_non_null(got);
	/* Nested objects are created; the council's id is never written. */
	assert_null(json_object_get(got, "id"));
	assert_string_equal(str_at(got, "/name/forename"), "Ann");
	assert_true(json_is_null(codec_json_pointer_get(got, "/dateOfBirth")));
	assert_true(json_is_null(codec_json_pointer_get(got,
					"/identifiers/nhsNumber")));
	json_decref(got);
	record_free(r);
}

static void test_encode_decode_round_trip(void **state)
{
	const struct map_entity *e = *state;
	json_t *tmpl = J("{\"id\": \"C1\", \"version\": \"v1\"}");
	struct record *r = person_rec(e, "la_child_id", "C1", "given_name",
				      "\xc3\x89lodie \"Jo\"", "family_name",
				      "O'Neil", "date_of_birth", "2016-02-29",
				      "upn", "Z801200000001", "nhs_number",
				      "4010232137", "gender", "9", "ethnicity",
				      "WBRI", "disabilities", "HEAR", NULL);
	json_t *doc = codec_json_encode(e, r, tmpl);
	struct codec_item it;
	char err[256] = "";

	assert_non_null(doc);
	if (codec_json_decode(e, doc, &it, err, sizeof(err)))
		fail_msg("round trip decode failed: %s", err);
	assert_int_equal(record_diff_count(r, it.rec), 0);
	codec_item_clear(&it);
	json_decref(doc);
	json_decref(tmpl);
	record_free(r);
}

/* ---- int and bool fields (a hand-built entity) ---- */

static struct map_field typed_fields[] = {
	{ .name = "n", .local_col = "n", .remote_loc = "/n", .type = FT_INT },
	{ .name = "b", .local_col = "b", .remote_loc = "/b", .type = FT_BOOL },
};
static const struct map_entity typed = {
	.name = "typed", .fields = typed_fields, .nfields = 2,
	.remote_id_loc = "/id", .remote_version_loc = "/version",
	.remote_deleted_loc = "/deleted",
};

static void test_typed_fields(void **state)
{
	static const struct {
		const char *json;
		int rc;
		const char *n, *b;
	} cases[] = {
		{ "{\"id\": \"1\", \"n\": 42, \"b\": true}", CS_OK, "42", "true" },
		{ "{\"id\": \"1\", \"n\": \"007\", \"b\": \"f\"}", CS_OK, "7",
		  "false" },
		{ "{\"id\": \"1\", \"n\": -3, \"b\": false}", CS_OK, "-3", "false" },
		{ "{\"id\": \"1\", \"n\": 1.5}", CS_EINVAL, NULL, NULL },
		{ "{\"id\": \"1\", \"n\": true}", CS_EINVAL, NULL, NULL },
		{ "{\"id\": \"1\", \"n\": 9007199254740992}", CS_EINVAL, NULL, NULL },
		{ "{\"id\": \"1\", \"b\": 1}", CS_EINVAL, NULL, NULL },
		{ "{\"id\": \"1\", \"b\": \"yes\"}", CS_EINVAL, NULL, NULL },
		/* no remote.modified mapped: a "modified" member is not read */
		{ "{\"id\": \"1\", \"modified\": \"2026-11-24T10:15:30Z\"}", CS_OK,
		  NULL, NULL },
	};

	(void)state;
	for (size_t i = 0; i < CS_ARRAY_LEN(cases); i++) {
		json_t *obj = J(cases[i].json);
		struct codec_item it;
		char err[256];

		tu_assert_int_case(i, codec_json_decode(&typed, obj, &it, err,
							sizeof(err)), cases[i].rc);
		if (cases[i].rc == CS_OK) {
			tu_assert_str_case(i, record_get(it.rec, 0), cases[i].n);
			tu_assert_str_case(i, record_get(it.rec, 1), cases[i].b);
			tu_assert_str_case(i, it.modified, NULL);
		}
		codec_item_clear(&it);
		json_decref(obj);
	}
}

static void test_typed_encode(void **state)
{
	struct record *r = record_new(&typed);
	json_t *got, *want;

	(void)state;
	assert_non_null(r);
	assert_int_equal(record_set(r, 0, "42"), CS_OK);
	assert_int_equal(record_set(r, 1, "false"), CS_OK);
	got = codec_json_encode(&typed, r, NULL);
	want = J("{\"n\": 42, \"b\": false}");
	assert_true(json_equal(got, want));
	json_decref(got);
	json_decref(want);

	assert_int_equal(record_set(r, 0, NULL), CS_OK);
	assert_int_equal(record_set(r, 1, "true"), CS_OK);
	got = codec_json_encode(&typed, r, NULL);
	want = J("{\"n\": null, \"b\": true}");
	assert_true(json_equal(got, want));
	json_decref(got);
	json_decref(want);
	record_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_accepts_objects_and_arrays),
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_parse_size_cap),
		cmocka_unit_test(test_parse_reads_only_len_bytes),
		cmocka_unit_test(test_parse_error_has_position_not_input),
		cmocka_unit_test(test_pointer_get),
		cmocka_unit_test(test_pointer_depth_limit),
		cmocka_unit_test(test_pointer_set),
		cmocka_unit_test_setup_teardown(test_decode_person,
						person_setup, person_teardown),
		cmocka_unit_test_setup_teardown(test_decode_missing_and_null_are_null,
						person_setup, person_teardown),
		cmocka_unit_test_setup_teardown(test_decode_rejects,
						person_setup, person_teardown),
		cmocka_unit_test_setup_teardown(test_decode_integer_id_and_version,
						person_setup, person_teardown),
		cmocka_unit_test_setup_teardown(test_decode_tombstone,
						person_setup, person_teardown),
		cmocka_unit_test_setup_teardown(test_decode_modified,
						person_setup, person_teardown),
		cmocka_unit_test_setup_teardown(test_decode_modified_with_nul,
						person_setup, person_teardown),
		cmocka_unit_test_setup_teardown(test_encode_on_template,
						person_setup, person_teardown),
		cmocka_unit_test_setup_teardown(test_encode_without_template,
						person_setup, person_teardown),
		cmocka_unit_test_setup_teardown(test_encode_decode_round_trip,
						person_setup, person_teardown),
		cmocka_unit_test(test_typed_fields),
		cmocka_unit_test(test_typed_encode),
	};

	return cmocka_run_group_tests_name("codec_json", tests, NULL, NULL);
}
