/* test_transform.c - value transforms: canonical forms of every type (leap
 * years, UTC offsets, NHS numbers, UPNs, code lists, lists), decode and
 * encode through trim, case, date formats and code translations, split and
 * join, lossiness, and error messages that never repeat the value. */
#include "testutil.h"

#include "transform.h"

#define ERRSZ 256

/* ---- fixtures ---- */

static char *need_codes[] = { "N1", "N2", "N3", "N4" };
static const struct codelist need_list = {
	.name = "category_of_need", .codes = need_codes, .n = 4,
};

static struct map_field field(const char *name, enum field_type t)
{
	struct map_field f;

	memset(&f, 0, sizeof(f));
	f.name = (char *)name;
	f.type = t;
	if (t == FT_CODE)
		f.codelist = &need_list;
	return f;
}

/* A side's code translation: N2 kept as the canonical code. */
static char *need_side[] = { "abuse", NULL, "disability", "illness" };

/* ---- helpers ---- */

/* The error must name the field and must not repeat the value (values
 * shorter than three bytes could match by accident and are not checked). */
static void assert_err_clean(const struct map_field *f, const char *err,
			     const char *in, const char *needle, size_t i)
{
	char prefix[128];

	snprintf(prefix, sizeof(prefix), "field %s: ", f->name);
	if (strncmp(err, prefix, strlen(prefix)))
		fail_msg("case %zu: error \"%s\" does not start with \"%s\"",
			 i, err, prefix);
	if (needle && !strstr(err, needle))
		fail_msg("case %zu: error \"%s\" lacks \"%s\"", i, err, needle);
	if (in && strlen(in) >= 3 && strstr(err, in))
		fail_msg("case %zu: error \"%s\" repeats the value", i, err);
}

static void canon_ok(const struct map_field *f, const char *in,
		     const char *want, size_t i)
{
	char err[ERRSZ] = "", *out = NULL;
	int rc = xform_canon(f, in, &out, err, sizeof(err));

	if (rc != CS_OK)
		fail_msg("case %zu: rc %d (%s)", i, rc, err);
	tu_assert_str_case(i, out, want);
	free(out);
}

static void canon_bad(const struct map_field *f, const char *in,
		      const char *needle, size_t i)
{
	char err[ERRSZ] = "", *out = (char *)"sentinel";
	int rc = xform_canon(f, in, &out, err, sizeof(err));

	if (rc != CS_EINVAL) {
		fail_msg("case %zu: rc %d, output \"%s\"", i, rc,
			 rc == CS_OK && out ? out : "");
	}
	assert_null(out);
	assert_err_clean(f, err, in, needle, i);
}

static void decode_ok(const struct map_field *f, const struct map_xform *x,
		      const char *raw, const char *want, size_t i)
{
	char err[ERRSZ] = "", *out = NULL;
	int rc = xform_decode(f, x, raw, &out, err, sizeof(err));

	if (rc != CS_OK)
		fail_msg("case %zu: rc %d (%s)", i, rc, err);
	tu_assert_str_case(i, out, want);
	free(out);
}

static void decode_bad(const struct map_field *f, const struct map_xform *x,
		       const char *raw, const char *needle, size_t i)
{
	char err[ERRSZ] = "", *out = (char *)"sentinel";
	int rc = xform_decode(f, x, raw, &out, err, sizeof(err));

	tu_assert_int_case(i, rc, CS_EINVAL);
	assert_null(out);
	assert_err_clean(f, err, raw, needle, i);
}

static void encode_ok(const struct map_field *f, const struct map_xform *x,
		      const char *canon, const char *want, size_t i)
{
	char err[ERRSZ] = "", *out = NULL;
	int rc = xform_encode(f, x, canon, &out, err, sizeof(err));

	if (rc != CS_OK)
		fail_msg("case %zu: rc %d (%s)", i, rc, err);
	tu_assert_str_case(i, out, want);
	free(out);
}

static void encode_bad(const struct map_field *f, const struct map_xform *x,
		       const char *canon, const char *needle, size_t i)
{
	char err[ERRSZ] = "", *out = (char *)"sentinel";
	int rc = xform_encode(f, x, canon, &out, err, sizeof(err));

	tu_assert_int_case(i, rc, CS_EINVAL);
	assert_null(out);
	assert_err_clean(f, err, canon, needle, i);
}

struct good {
	const char *in, *want;
};

struct bad {
	const char *in, *needle;
};

static void run_good(const struct map_field *f, const struct good *c,
		     size_t n)
{
	for (size_t i = 0; i < n; i++)
		canon_ok(f, c[i].in, c[i].want, i);
}

static void run_bad(const struct map_field *f, const struct bad *c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		canon_bad(f, c[i].in, c[i].needle, i);
}

/* ---- scalar types ---- */

static void test_string(void **state)
{
	static const struct good good[] = {
		{ "", "" },
		{ "Jane Smith", "Jane Smith" },
		{ "  spaces kept  ", "  spaces kept  " },
		{ "Zo\xc3\xab \xe2\x82\xac \xf0\x9f\x98\x80", /* ë € emoji */
		  "Zo\xc3\xab \xe2\x82\xac \xf0\x9f\x98\x80" },
		{ "\xef\xbf\xbf\xf4\x8f\xbf\xbf", /* U+FFFF, U+10FFFF */
		  "\xef\xbf\xbf\xf4\x8f\xbf\xbf" },
	};
	static const struct bad bad[] = {
		{ "abc\xc3", "not valid UTF-8" },		/* truncated */
		{ "abc\xc3(", "not valid UTF-8" },		/* bad continuation */
		{ "abc\x80xyz", "not valid UTF-8" },		/* lone continuation */
		{ "abc\xc0\xaf", "not valid UTF-8" },		/* overlong '/' */
		{ "abc\xe0\x80\xaf", "not valid UTF-8" },	/* overlong */
		{ "abc\xf0\x80\x80\xaf", "not valid UTF-8" },	/* overlong */
		{ "abc\xed\xa0\x80", "not valid UTF-8" },	/* surrogate */
		{ "abc\xf4\x90\x80\x80", "not valid UTF-8" },	/* > U+10FFFF */
		{ "abc\xff", "not valid UTF-8" },
		{ "abc\xf5\x80\x80\x80", "not valid UTF-8" },
	};
	struct map_field f = field("notes", FT_STRING);

	(void)state;
	run_good(&f, good, CS_ARRAY_LEN(good));
	run_bad(&f, bad, CS_ARRAY_LEN(bad));
}

static void test_int(void **state)
{
	static const struct good good[] = {
		{ "0", "0" },
		{ "-0", "0" },
		{ "007", "7" },
		{ "-42", "-42" },
		{ "9223372036854775807", "9223372036854775807" },
		{ "-9223372036854775808", "-9223372036854775808" },
	};
	static const struct bad bad[] = {
		{ "9223372036854775808", "not a 64-bit decimal integer" },
		{ "-9223372036854775809", "not a 64-bit decimal integer" },
		{ "+17", "integer" },
		{ " 17", "integer" },
		{ "17 ", "integer" },
		{ "1.50", "integer" },
		{ "0x10", "integer" },
		{ "12a", "integer" },
		{ "", "integer" },
		{ "-", "integer" },
	};
	struct map_field f = field("age", FT_INT);

	(void)state;
	run_good(&f, good, CS_ARRAY_LEN(good));
	run_bad(&f, bad, CS_ARRAY_LEN(bad));
}

static void test_bool(void **state)
{
	static const struct good good[] = {
		{ "true", "true" },
		{ "false", "false" },
		{ "1", "true" },
		{ "0", "false" },
		{ "TRUE", "true" },
		{ "False", "false" },
		{ "t", "true" },
		{ "f", "false" },
	};
	static const struct bad bad[] = {
		{ "yes", "not a boolean" },
		{ "T", "not a boolean" },
		{ "", "not a boolean" },
		{ "truex", "not a boolean" },
		{ "01", "not a boolean" },
	};
	struct map_field f = field("disabled", FT_BOOL);

	(void)state;
	run_good(&f, good, CS_ARRAY_LEN(good));
	run_bad(&f, bad, CS_ARRAY_LEN(bad));
}

static void test_date(void **state)
{
	static const struct good good[] = {
		{ "2024-01-05", "2024-01-05" },
		{ "2024-02-29", "2024-02-29" },	/* leap year */
		{ "2000-02-29", "2000-02-29" },	/* divisible by 400 */
		{ "2023-02-28", "2023-02-28" },
		{ "2024-04-30", "2024-04-30" },
		{ "2024-12-31", "2024-12-31" },
		{ "1000-01-01", "1000-01-01" },
		{ "9999-12-31", "9999-12-31" },
	};
	static const struct bad bad[] = {
		{ "2023-02-29", "not a calendar date" },
		{ "1900-02-29", "not a calendar date" },	/* century */
		{ "2024-02-30", "not a calendar date" },
		{ "2024-13-01", "not a calendar date" },
		{ "2024-00-10", "not a calendar date" },
		{ "2024-04-31", "not a calendar date" },
		{ "2024-01-00", "not a calendar date" },
		{ "2024-01-32", "not a calendar date" },
		{ "0999-12-31", "year out of range" },
		{ "2024-1-05", "not a date" },
		{ "2024/01/05", "not a date" },
		{ "20240105", "not a date" },
		{ "2024-01-05 ", "not a date" },
		{ "2024-01-05T00:00:00Z", "not a date" },
		{ "05/01/2024", "not a date" },
		{ "", "not a date" },
	};
	struct map_field f = field("birth_date", FT_DATE);

	(void)state;
	run_good(&f, good, CS_ARRAY_LEN(good));
	run_bad(&f, bad, CS_ARRAY_LEN(bad));
}

static void test_datetime(void **state)
{
	static const struct good good[] = {
		{ "2024-01-05T10:00:00Z", "2024-01-05T10:00:00Z" },
		{ "2024-01-05 10:00:00", "2024-01-05T10:00:00Z" },
		{ "2024-01-05T10:00:00", "2024-01-05T10:00:00Z" },
		{ "2024-01-05T10:00:00.123456Z", "2024-01-05T10:00:00Z" },
		{ "2024-01-05T10:00:00,5", "2024-01-05T10:00:00Z" },
		/* PostgreSQL's timestamptz text */
		{ "2024-01-05 10:00:00.5+00", "2024-01-05T10:00:00Z" },
		{ "2024-07-05 10:00:00+01", "2024-07-05T09:00:00Z" },
		{ "2024-07-05T10:00:00+0100", "2024-07-05T09:00:00Z" },
		{ "2024-07-05T10:00:00+01:00", "2024-07-05T09:00:00Z" },
		{ "2024-07-05T10:00:00-00:00", "2024-07-05T10:00:00Z" },
		/* across midnight, month and year ends, leap days */
		{ "2024-07-05T00:30:00+01:00", "2024-07-04T23:30:00Z" },
		{ "2024-08-01T00:30:00+01:00", "2024-07-31T23:30:00Z" },
		{ "2024-01-01T00:30:00+01:00", "2023-12-31T23:30:00Z" },
		{ "2024-03-01T00:15:00+0100", "2024-02-29T23:15:00Z" },
		{ "2023-03-01T00:15:00+01", "2023-02-28T23:15:00Z" },
		{ "2024-02-29T23:30:00-01:00", "2024-03-01T00:30:00Z" },
		{ "2023-12-31T23:00:00-05:30", "2024-01-01T04:30:00Z" },
		{ "2024-06-30T23:59:59-00:01", "2024-07-01T00:00:59Z" },
		{ "2024-05-01T05:00:00+05:45", "2024-04-30T23:15:00Z" },
		{ "2024-04-30T20:00:00-04:00", "2024-05-01T00:00:00Z" },
	};
	static const struct bad bad[] = {
		{ "2024-01-05T24:00:00Z", "not a time of day" },
		{ "2024-01-05T10:60:00Z", "not a time of day" },
		{ "2024-01-05T10:00:60Z", "not a time of day" },
		{ "2023-02-29T10:00:00Z", "not a calendar date" },
		{ "2024-13-05T10:00:00Z", "not a calendar date" },
		{ "2024-01-05T10:00Z", "not a date and time" },
		{ "2024-01-05", "not a date and time" },
		{ "2024-01-05x10:00:00Z", "not a date and time" },
		{ "2024-01-05T10-00-00Z", "not a date and time" },
		{ "2024-01-05T10:00:00.Z", "fraction" },
		{ "2024-01-05T10:00:00+1", "UTC offset" },
		{ "2024-01-05T10:00:00+01:", "UTC offset" },
		{ "2024-01-05T10:00:00+01:0", "UTC offset" },
		{ "2024-01-05T10:00:00+010", "UTC offset" },
		{ "2024-01-05T10:00:00+24:00", "UTC offset" },
		{ "2024-01-05T10:00:00+01:60", "UTC offset" },
		{ "2024-01-05T10:00:00ZZ", "UTC offset" },
		{ "2024-01-05T10:00:00 +01:00", "UTC offset" },
		{ "0999-01-05T10:00:00Z", "year out of range" },
		{ "9999-12-31T23:30:00-01:00", "year out of range" },
		{ "1000-01-01T00:30:00+01:00", "year out of range" },
	};
	struct map_field f = field("recorded_at", FT_DATETIME);

	(void)state;
	run_good(&f, good, CS_ARRAY_LEN(good));
	run_bad(&f, bad, CS_ARRAY_LEN(bad));
}

static void test_code(void **state)
{
	static const struct good good[] = {
		{ "N1", "N1" },
		{ "N4", "N4" },
	};
	static const struct bad bad[] = {
		{ "N99", "unknown code for code list category_of_need" },
		{ "n1", "unknown code for code list category_of_need" },
		{ "", "unknown code for code list category_of_need" },
		{ "N1 ", "unknown code for code list category_of_need" },
	};
	struct map_field f = field("need", FT_CODE);

	(void)state;
	run_good(&f, good, CS_ARRAY_LEN(good));
	run_bad(&f, bad, CS_ARRAY_LEN(bad));
	f.codelist = NULL;
	canon_bad(&f, "N1", "without a code list", 0);
}

static void test_null_input(void **state)
{
	struct map_field f = field("notes", FT_STRING);
	char err[ERRSZ], *out = (char *)"sentinel";

	(void)state;
	assert_int_equal(xform_canon(&f, NULL, &out, err, sizeof(err)),
			 CS_EINVAL);
	assert_null(out);
	f.multiple = 1;
	out = (char *)"sentinel";
	assert_int_equal(xform_canon(&f, NULL, &out, err, sizeof(err)),
			 CS_EINVAL);
	assert_null(out);
	out = (char *)"sentinel";
	assert_int_equal(xform_decode(&f, &f.local_x, NULL, &out, err,
				      sizeof(err)), CS_EINVAL);
	assert_null(out);
}

/* ---- identifier checks ---- */

static void test_nhs_number(void **state)
{
	static const struct good good[] = {
		{ "9434765919", "9434765919" },
		{ "4010232137", "4010232137" },
		{ "943 476 5919", "9434765919" },
		{ "943-476-5919", "9434765919" },
		{ "401 023-2137", "4010232137" },
		{ "1000000060", "1000000060" },	/* 11 - 0 -> check digit 0 */
	};
	static const struct bad bad[] = {
		{ "9434765918", "check digit does not match" },
		{ "4010232138", "check digit does not match" },
		{ "943 476 5910", "check digit does not match" },
		{ "1000000010", "check digit does not match" },	/* check 10 */
		{ "1000000011", "check digit does not match" },
		{ "943476591", "10 digits" },
		{ "94347659190", "10 digits" },
		{ "943476591X", "10 digits" },
		{ " 9434765919", "10 digits" },
		{ "9434765919 ", "10 digits" },
		{ "943  476 5919", "10 digits" },
		{ "943 -476 5919", "10 digits" },
		{ "943.476.5919", "10 digits" },
		{ "", "10 digits" },
	};
	struct map_field f = field("nhs_number", FT_STRING);
	char err[ERRSZ], *out = NULL;

	(void)state;
	f.check = CHECK_NHS_NUMBER;
	run_good(&f, good, CS_ARRAY_LEN(good));
	run_bad(&f, bad, CS_ARRAY_LEN(bad));
	/* The message as the daemon logs it. */
	assert_int_equal(xform_canon(&f, "9434765918", &out, err, sizeof(err)),
			 CS_EINVAL);
	assert_string_equal(err, "field nhs_number: check digit does not match");
	/* Stored as an integer column the check still applies. */
	f.type = FT_INT;
	canon_ok(&f, "9434765919", "9434765919", 0);
	canon_bad(&f, "9434765918", "check digit does not match", 1);
}

static void test_upn(void **state)
{
	static const struct good good[] = {
		{ "A123456789012", "A123456789012" },
		{ "a123456789012", "A123456789012" },
		{ "Z12345678901B", "Z12345678901B" },
		{ "z12345678901b", "Z12345678901B" },
	};
	static const struct bad bad[] = {
		{ "1123456789012", "UPN" },
		{ "A12345678901", "UPN" },
		{ "A1234567890123", "UPN" },
		{ "A12345678901BC", "UPN" },
		{ "A1234567890B2", "UPN" },
		{ "AB23456789012", "UPN" },
		{ "A12345678901-", "UPN" },
		{ "A 23456789012", "UPN" },
		{ "\xc3\x81" "12345678901", "UPN" },	/* non-ASCII letter */
		{ "", "UPN" },
	};
	struct map_field f = field("upn", FT_STRING);

	(void)state;
	f.check = CHECK_UPN;
	run_good(&f, good, CS_ARRAY_LEN(good));
	run_bad(&f, bad, CS_ARRAY_LEN(bad));
}

/* ---- multiple values ---- */

static void test_multiple(void **state)
{
	static const struct good codes[] = {
		{ "", "" },
		{ "N1", "N1" },
		{ "N3,N1,N2", "N1,N2,N3" },
		{ "N3,N1,N3,N1", "N1,N3" },
		{ "N4,N4", "N4" },
	};
	static const struct bad bad_codes[] = {
		{ "N1,N99", "unknown code" },
		{ "N1,,N2", "empty item" },
		{ "N1,", "empty item" },
		{ ",N1", "empty item" },
		{ ",", "empty item" },
		{ "N1, N2", "unknown code" },
	};
	/* Items are canonicalised before sorting, and sorted by bytes. */
	static const struct good ints[] = {
		{ "10,9,010", "10,9" },
		{ "-1,2,-1", "-1,2" },
	};
	static const struct good bools[] = {
		{ "1,true,0", "false,true" },
	};
	static const struct good dates[] = {
		{ "2024-02-29,2023-12-31,2024-02-29", "2023-12-31,2024-02-29" },
	};
	struct map_field f = field("needs", FT_CODE);

	(void)state;
	f.multiple = 1;
	run_good(&f, codes, CS_ARRAY_LEN(codes));
	run_bad(&f, bad_codes, CS_ARRAY_LEN(bad_codes));
	f = field("counts", FT_INT);
	f.multiple = 1;
	run_good(&f, ints, CS_ARRAY_LEN(ints));
	f = field("flags", FT_BOOL);
	f.multiple = 1;
	run_good(&f, bools, CS_ARRAY_LEN(bools));
	f = field("dates", FT_DATE);
	f.multiple = 1;
	run_good(&f, dates, CS_ARRAY_LEN(dates));
	canon_bad(&f, "2024-02-29,2023-02-29", "not a calendar date", 0);
	/* A single-valued field keeps commas in strings and rejects them in
	 * codes. */
	f = field("notes", FT_STRING);
	canon_ok(&f, "b,a,a", "b,a,a", 0);
	f.multiple = 1;
	canon_ok(&f, "b,a,a", "a,b", 1);
	f = field("need", FT_CODE);
	canon_bad(&f, "N1,N2", "unknown code", 2);
}

static void test_list_split(void **state)
{
	static const struct {
		const char *in;
		size_t n;
		const char *items[3];
	} cases[] = {
		{ "", 0, { NULL } },
		{ NULL, 0, { NULL } },
		{ "N1", 1, { "N1" } },
		{ "N1,N2,N3", 3, { "N1", "N2", "N3" } },
		{ "a,,b", 3, { "a", "", "b" } },
		{ ",", 2, { "", "" } },
	};

	(void)state;
	for (size_t i = 0; i < CS_ARRAY_LEN(cases); i++) {
		char *dummy = NULL, **items = &dummy;
		size_t n = 99;

		assert_int_equal(xform_list_split(cases[i].in, &items, &n), CS_OK);
		tu_assert_int_case(i, n, cases[i].n);
		if (n == 0)
			assert_null(items);
		for (size_t k = 0; k < n; k++)
			tu_assert_str_case(i, items[k], cases[i].items[k]);
		xform_list_free(items, n);
	}
	xform_list_free(NULL, 0);
}

/* ---- decode and encode ---- */

static void test_decode_trim_case(void **state)
{
	struct map_field f = field("age", FT_INT);
	struct map_xform x = { 0 };

	(void)state;
	decode_bad(&f, &x, " 42 ", "integer", 0);
	x.trim = 1;
	decode_ok(&f, &x, " \t42\r\n", "42", 1);
	decode_ok(&f, &x, "42", "42", 2);
	decode_bad(&f, &x, " 4 2 ", "integer", 3);
	decode_bad(&f, &x, " \t ", "integer", 4);

	f = field("disabled", FT_BOOL);
	memset(&x, 0, sizeof(x));
	decode_bad(&f, &x, "YES", "boolean", 0);
	x.tcase = CASE_LOWER;
	decode_ok(&f, &x, "TRUE", "true", 1);
	decode_ok(&f, &x, "False", "false", 2);

	f = field("surname", FT_STRING);
	x.tcase = CASE_UPPER;
	x.trim = 1;
	/* ASCII only: non-ASCII letters are left alone. */
	decode_ok(&f, &x, "  o'brien-\xc3\xa9z\n", "O'BRIEN-\xc3\xa9Z", 0);
	x.tcase = CASE_LOWER;
	decode_ok(&f, &x, "\xc3\x89MILE", "\xc3\x89mile", 1);
	decode_ok(&f, &x, "   ", "", 2);
	decode_bad(&f, &x, " bad \xff ", "UTF-8", 3);

	/* Without a transform decode is xform_canon_scalar. */
	decode_ok(&f, NULL, " x ", " x ", 4);

	/* NHS number with white space around it. */
	f = field("nhs_number", FT_STRING);
	f.check = CHECK_NHS_NUMBER;
	memset(&x, 0, sizeof(x));
	x.trim = 1;
	decode_ok(&f, &x, " 943 476 5919\n", "9434765919", 0);
	decode_bad(&f, &x, " 943 476 5918\n", "check digit does not match", 1);

	f = field("upn", FT_STRING);
	f.check = CHECK_UPN;
	x.tcase = CASE_UPPER;
	decode_ok(&f, &x, "a12345678901b ", "A12345678901B", 0);
}

static void test_code_translation(void **state)
{
	struct map_field f = field("need", FT_CODE);
	struct map_xform x = { .codes = need_side };
	static const struct good decode[] = {
		{ "abuse", "N1" },
		{ "N2", "N2" },		/* NULL entry: the canonical code */
		{ "disability", "N3" },
		{ "illness", "N4" },
	};
	static const struct bad decode_bad_cases[] = {
		{ "N1", "unknown code for code list category_of_need" },
		{ "N3", "unknown code for code list category_of_need" },
		{ "neglect", "unknown code for code list category_of_need" },
		{ "Abuse", "unknown code for code list category_of_need" },
		{ "", "unknown code for code list category_of_need" },
	};

	(void)state;
	for (size_t i = 0; i < CS_ARRAY_LEN(decode); i++) {
		decode_ok(&f, &x, decode[i].in, decode[i].want, i);
		/* and back */
		encode_ok(&f, &x, decode[i].want, decode[i].in, i);
	}
	for (size_t i = 0; i < CS_ARRAY_LEN(decode_bad_cases); i++)
		decode_bad(&f, &x, decode_bad_cases[i].in,
			   decode_bad_cases[i].needle, i);
	encode_bad(&f, &x, "abuse", "unknown code", 0);
	encode_bad(&f, &x, "N99", "unknown code", 1);

	/* Trim and case fold come before the translation. */
	x.trim = 1;
	x.tcase = CASE_LOWER;
	decode_ok(&f, &x, "  ABUSE\n", "N1", 0);
	decode_bad(&f, &x, " N2 ", "unknown code", 1);	/* folded to n2 */
	x.tcase = CASE_UPPER;
	decode_ok(&f, &x, " n2 ", "N2", 2);

	/* Identity translation. */
	memset(&x, 0, sizeof(x));
	decode_ok(&f, &x, "N3", "N3", 0);
	encode_ok(&f, &x, "N3", "N3", 0);
	decode_bad(&f, &x, "abuse", "unknown code", 1);

	/* A translation without a code list. */
	x.codes = need_side;
	f.codelist = NULL;
	decode_bad(&f, &x, "abuse", "without a code list", 0);
}

static void test_date_format(void **state)
{
	struct map_field f = field("birth_date", FT_DATE);
	struct map_xform x = { .date_format = "%d/%m/%Y" };
	static const struct good round[] = {
		{ "05/01/2024", "2024-01-05" },
		{ "29/02/2024", "2024-02-29" },
		{ "31/12/1999", "1999-12-31" },
	};

	(void)state;
	for (size_t i = 0; i < CS_ARRAY_LEN(round); i++) {
		decode_ok(&f, &x, round[i].in, round[i].want, i);
		encode_ok(&f, &x, round[i].want, round[i].in, i);
	}
	decode_bad(&f, &x, "29/02/2023", "not a calendar date", 0);
	decode_bad(&f, &x, "01/13/2024", "not a calendar date", 1);
	decode_bad(&f, &x, "5/1/2024", "does not match the date format", 2);
	decode_bad(&f, &x, "05/01/2024x", "does not match the date format", 3);
	decode_bad(&f, &x, "05-01-2024", "does not match the date format", 4);
	decode_bad(&f, &x, "05/01/24", "does not match the date format", 5);
	decode_bad(&f, &x, "2024-01-05", "does not match the date format", 6);
	decode_bad(&f, &x, "01/01/0999", "year out of range", 7);
	encode_bad(&f, &x, "2023-02-29", "not a calendar date", 0);
	encode_bad(&f, &x, "2024-13-01", "not a calendar date", 1);
	encode_bad(&f, &x, "05/01/2024", "not a date", 2);

	/* Trim comes first. */
	x.trim = 1;
	decode_ok(&f, &x, " 05/01/2024 ", "2024-01-05", 0);
	x.trim = 0;

	/* %y: 00-68 are 20xx, 69-99 19xx. */
	x.date_format = "%d.%m.%y";
	decode_ok(&f, &x, "05.01.24", "2024-01-05", 0);
	decode_ok(&f, &x, "05.01.68", "2068-01-05", 1);
	decode_ok(&f, &x, "05.01.69", "1969-01-05", 2);
	decode_ok(&f, &x, "31.12.99", "1999-12-31", 3);
	decode_ok(&f, &x, "29.02.00", "2000-02-29", 4);
	encode_ok(&f, &x, "1969-01-05", "05.01.69", 0);
	encode_ok(&f, &x, "2005-11-30", "30.11.05", 1);

	/* Other layouts: compact, literal percent, month and year only. */
	x.date_format = "%Y%m%d";
	decode_ok(&f, &x, "20240229", "2024-02-29", 0);
	encode_ok(&f, &x, "2024-02-29", "20240229", 0);
	x.date_format = "%Y %% %m %% %d";
	decode_ok(&f, &x, "2024 % 02 % 29", "2024-02-29", 0);
	encode_ok(&f, &x, "2024-02-29", "2024 % 02 % 29", 0);
	x.date_format = "%m/%Y";
	decode_ok(&f, &x, "02/2024", "2024-02-01", 0);
	encode_ok(&f, &x, "2024-02-29", "02/2024", 0);
	/* A part given twice must agree. */
	x.date_format = "%Y-%m-%d (%y)";
	decode_ok(&f, &x, "2024-02-29 (24)", "2024-02-29", 0);
	decode_bad(&f, &x, "2024-02-29 (23)", "does not match", 1);
	encode_ok(&f, &x, "2024-02-29", "2024-02-29 (24)", 0);
	x.date_format = "%d %d/%m/%Y";
	decode_bad(&f, &x, "05 06/01/2024", "does not match", 0);
	/* A format without a year cannot be decoded; an invalid format
	 * cannot be used either way. */
	x.date_format = "%d/%m";
	decode_bad(&f, &x, "05/01", "no year", 0);
	x.date_format = "%d/%m/%Y %H";
	decode_bad(&f, &x, "05/01/2024 10", "invalid date format", 0);
	encode_bad(&f, &x, "2024-01-05", "invalid date format", 0);
	/* Case folding before the format (literal letters). */
	x.date_format = "D%dM%mY%Y";
	x.tcase = CASE_UPPER;
	decode_ok(&f, &x, "d05m01y2024", "2024-01-05", 0);
}

static void test_datetime_format(void **state)
{
	struct map_field f = field("recorded_at", FT_DATETIME);
	struct map_xform x = { .date_format = "%d/%m/%Y %H:%M:%S" };

	(void)state;
	decode_ok(&f, &x, "05/01/2024 10:30:59", "2024-01-05T10:30:59Z", 0);
	encode_ok(&f, &x, "2024-01-05T10:30:59Z", "05/01/2024 10:30:59", 0);
	/* Encoding writes UTC. */
	encode_ok(&f, &x, "2024-01-01T00:30:00+01:00", "31/12/2023 23:30:00", 1);
	decode_bad(&f, &x, "05/01/2024 24:00:00", "not a time of day", 0);
	decode_bad(&f, &x, "05/01/2024 10:30", "does not match", 1);
	decode_bad(&f, &x, "30/02/2024 10:30:00", "not a calendar date", 2);
	encode_bad(&f, &x, "2024-01-05T10:61:00Z", "not a time of day", 0);

	/* Minutes only: seconds are dropped going out, zero coming in. */
	x.date_format = "%Y-%m-%d %H:%M";
	decode_ok(&f, &x, "2024-01-05 10:30", "2024-01-05T10:30:00Z", 0);
	encode_ok(&f, &x, "2024-01-05T10:30:59Z", "2024-01-05 10:30", 0);
	x.date_format = "%Y%m%dT%H%M%SZ";
	decode_ok(&f, &x, "20240105T103059Z", "2024-01-05T10:30:59Z", 0);
	encode_ok(&f, &x, "2024-01-05T10:30:59Z", "20240105T103059Z", 0);
	/* The format is ignored by other types. */
	f = field("age", FT_INT);
	decode_ok(&f, &x, "42", "42", 0);
	encode_ok(&f, &x, "42", "42", 0);
}

static void test_date_format_valid(void **state)
{
	static const struct {
		const char *fmt;
		int date, datetime;
	} cases[] = {
		{ "%Y-%m-%d", 1, 1 },
		{ "%d/%m/%y", 1, 1 },
		{ "%Y-%m-%d %H:%M:%S", 0, 1 },
		{ "%H", 0, 1 },
		{ "%%Y", 1, 1 },
		{ "literal only", 1, 1 },
		{ "%Y%", 0, 0 },
		{ "%", 0, 0 },
		{ "%b %Y", 0, 0 },
		{ "%e/%m/%Y", 0, 0 },
		{ "%s", 0, 0 },
		{ "%Y-%m-%d\t", 0, 0 },
		{ "%Y-%m-%d \xc3\xa9", 0, 0 },
	};

	(void)state;
	for (size_t i = 0; i < CS_ARRAY_LEN(cases); i++) {
		tu_assert_int_case(i, !!xform_date_format_valid(cases[i].fmt,
								FT_DATE),
				   cases[i].date);
		tu_assert_int_case(i, !!xform_date_format_valid(cases[i].fmt,
								FT_DATETIME),
				   cases[i].datetime);
		tu_assert_int_case(i, xform_date_format_valid(cases[i].fmt,
							      FT_STRING), 0);
	}
	assert_false(xform_date_format_valid(NULL, FT_DATE));
}

static void test_encode_plain(void **state)
{
	struct map_field f = field("disabled", FT_BOOL);
	struct map_xform x = { 0 };

	(void)state;
	encode_ok(&f, &x, "true", "true", 0);
	encode_ok(&f, NULL, "false", "false", 1);
	encode_bad(&f, &x, "maybe", "boolean", 0);
	f = field("recorded_at", FT_DATETIME);
	encode_ok(&f, &x, "2024-01-05T10:00:00Z", "2024-01-05T10:00:00Z", 0);
	encode_bad(&f, &x, "2023-02-29T10:00:00Z", "not a calendar date", 0);
	f = field("nhs_number", FT_STRING);
	f.check = CHECK_NHS_NUMBER;
	encode_ok(&f, &x, "9434765919", "9434765919", 0);
	encode_bad(&f, &x, "9434765918", "check digit", 0);
	f = field("notes", FT_STRING);
	/* Trim and case apply only when decoding. */
	x.trim = 1;
	x.tcase = CASE_UPPER;
	encode_ok(&f, &x, " mixed Case ", " mixed Case ", 0);
}

/* ---- split and join ---- */

static void test_split(void **state)
{
	static const struct {
		const char *whole, *sep;
		const char *first, *rest, *init, *last;
	} cases[] = {
		{ "Jane Mary Smith", " ", "Jane", "Mary Smith", "Jane Mary", "Smith" },
		{ "Jane Smith", " ", "Jane", "Smith", "Jane", "Smith" },
		{ "Cher", " ", "Cher", "", "", "Cher" },	/* no separator */
		{ "", " ", "", "", "", "" },
		{ "Smith, Jane, Mary", ", ", "Smith", "Jane, Mary",
		  "Smith, Jane", "Mary" },
		{ "a--b--c", "--", "a", "b--c", "a--b", "c" },
		{ "Jane ", " ", "Jane", "", "Jane", "" },
		{ " Smith", " ", "", "Smith", "", "Smith" },
		{ "Jane Smith", "", "Jane Smith", "", "", "Jane Smith" },
		{ "Jane Smith", NULL, "Jane Smith", "", "", "Jane Smith" },
	};

	(void)state;
	for (size_t i = 0; i < CS_ARRAY_LEN(cases); i++) {
		const char *want[] = { cases[i].whole, cases[i].first,
				       cases[i].rest, cases[i].init,
				       cases[i].last };
		static const enum split_part parts[] = {
			PART_NONE, PART_FIRST, PART_REST, PART_INIT, PART_LAST
		};

		for (size_t p = 0; p < CS_ARRAY_LEN(parts); p++) {
			char *out = NULL;

			assert_int_equal(xform_split(cases[i].whole, cases[i].sep,
						     parts[p], &out), CS_OK);
			tu_assert_str_case(i * 10 + p, out, want[p]);
			free(out);
		}
	}
	{
		char *out = (char *)"sentinel";

		assert_int_equal(xform_split(NULL, " ", PART_FIRST, &out),
				 CS_EINVAL);
		assert_null(out);
	}
}

static void test_join(void **state)
{
	static const struct {
		const char *a, *b, *sep, *want;
	} cases[] = {
		{ "Jane", "Smith", " ", "Jane Smith" },
		{ "Smith", "Jane", ", ", "Smith, Jane" },
		{ "Jane", "", " ", "Jane" },
		{ "", "Smith", " ", "Smith" },
		{ NULL, "Smith", " ", "Smith" },
		{ "Jane", NULL, " ", "Jane" },
		{ NULL, NULL, " ", "" },
		{ "", "", " ", "" },
		{ "Jane", "Smith", NULL, "JaneSmith" },
	};
	/* Well-formed values split and join back to themselves. */
	static const char *const round[] = { "Jane Smith", "Jane Mary Smith",
					     "Cher", "" };

	(void)state;
	for (size_t i = 0; i < CS_ARRAY_LEN(cases); i++) {
		char *out = NULL;

		assert_int_equal(xform_join(cases[i].a, cases[i].b,
					    cases[i].sep, &out), CS_OK);
		tu_assert_str_case(i, out, cases[i].want);
		free(out);
	}
	for (size_t i = 0; i < CS_ARRAY_LEN(round); i++) {
		char *a, *b, *out;

		assert_int_equal(xform_split(round[i], " ", PART_FIRST, &a), CS_OK);
		assert_int_equal(xform_split(round[i], " ", PART_REST, &b), CS_OK);
		assert_int_equal(xform_join(a, b, " ", &out), CS_OK);
		tu_assert_str_case(i, out, round[i]);
		free(a);
		free(b);
		free(out);
		assert_int_equal(xform_split(round[i], " ", PART_INIT, &a), CS_OK);
		assert_int_equal(xform_split(round[i], " ", PART_LAST, &b), CS_OK);
		assert_int_equal(xform_join(a, b, " ", &out), CS_OK);
		tu_assert_str_case(i, out, round[i]);
		free(a);
		free(b);
		free(out);
	}
}

/* ---- lossiness ---- */

static void test_lossy(void **state)
{
	static char *one_to_one[] = { "abuse", "N1", NULL, "illness" };
	static char *same_side[] = { "abuse", "abuse", NULL, NULL };
	static char *clash[] = { "N2", NULL, NULL, NULL };	/* N1 -> "N2" */
	struct map_field code = field("need", FT_CODE);
	struct map_field str = field("notes", FT_STRING);
	struct map_field date = field("birth_date", FT_DATE);
	struct map_field dt = field("recorded_at", FT_DATETIME);
	struct map_field num = field("age", FT_INT);
	struct map_xform x = { 0 };

	(void)state;
	/* Faithful transforms. */
	assert_null(xform_lossy(&str, NULL));
	assert_null(xform_lossy(&str, &x));
	assert_null(xform_lossy(&code, &x));
	x.codes = need_side;
	assert_null(xform_lossy(&code, &x));
	x.codes = one_to_one;	/* N2's side value is the code N1 */
	assert_null(xform_lossy(&code, &x));
	x.tcase = CASE_UPPER;	/* codes may be folded */
	x.trim = 1;
	assert_null(xform_lossy(&code, &x));
	memset(&x, 0, sizeof(x));
	x.trim = 1;		/* trimming a non-string loses nothing */
	assert_null(xform_lossy(&num, &x));
	assert_null(xform_lossy(&date, &x));
	memset(&x, 0, sizeof(x));
	x.date_format = "%d/%m/%Y";
	assert_null(xform_lossy(&date, &x));
	x.date_format = "%Y-%m-%d (%y)";
	assert_null(xform_lossy(&date, &x));
	x.date_format = "%d/%m/%Y %H:%M:%S";
	assert_null(xform_lossy(&dt, &x));
	/* A date format on another type is not used. */
	x.date_format = "%y";
	assert_null(xform_lossy(&str, &x));

	/* Code translations that are not one-to-one. */
	memset(&x, 0, sizeof(x));
	x.codes = same_side;
	assert_string_equal(xform_lossy(&code, &x),
			    "code list translation is not one-to-one");
	x.codes = clash;
	assert_string_equal(xform_lossy(&code, &x),
			    "code list translation is not one-to-one");

	/* Date formats that drop information. */
	memset(&x, 0, sizeof(x));
	x.date_format = "%d/%m/%y";
	assert_string_equal(xform_lossy(&date, &x),
			    "date format drops information");
	x.date_format = "%m/%Y";
	assert_string_equal(xform_lossy(&date, &x),
			    "date format drops information");
	x.date_format = "%d/%m";
	assert_string_equal(xform_lossy(&date, &x),
			    "date format drops information");
	x.date_format = "%Y-%d";
	assert_string_equal(xform_lossy(&date, &x),
			    "date format drops information");
	x.date_format = "%Y-%m-%d";
	assert_string_equal(xform_lossy(&dt, &x),
			    "date format drops information");
	x.date_format = "%Y-%m-%d %H:%M";
	assert_string_equal(xform_lossy(&dt, &x),
			    "date format drops information");
	x.date_format = "%Y-%m-%d %M:%S";
	assert_string_equal(xform_lossy(&dt, &x),
			    "date format drops information");

	/* Case folding, trimming, splitting. */
	memset(&x, 0, sizeof(x));
	x.tcase = CASE_UPPER;
	assert_string_equal(xform_lossy(&str, &x), "case folding");
	x.tcase = CASE_LOWER;
	assert_string_equal(xform_lossy(&date, &x), "case folding");
	memset(&x, 0, sizeof(x));
	x.trim = 1;
	assert_string_equal(xform_lossy(&str, &x), "trimming");
	memset(&x, 0, sizeof(x));
	x.split_sep = " ";
	x.split_part = PART_LAST;
	assert_string_equal(xform_lossy(&str, &x), "splitting free text");
	x.split_part = PART_FIRST;
	assert_string_equal(xform_lossy(&str, &x), "splitting free text");
}

/* ---- error messages ---- */

static void test_error_buffer(void **state)
{
	struct map_field f = field("nhs_number", FT_STRING);
	char small[8], *out = (char *)"sentinel";

	(void)state;
	f.check = CHECK_NHS_NUMBER;
	/* A short buffer is truncated and terminated; none at all is fine. */
	memset(small, 'x', sizeof(small));
	assert_int_equal(xform_canon(&f, "9434765918", &out, small,
				     sizeof(small)), CS_EINVAL);
	assert_string_equal(small, "field n");
	assert_null(out);
	out = (char *)"sentinel";
	assert_int_equal(xform_canon(&f, "9434765918", &out, NULL, 0),
			 CS_EINVAL);
	assert_null(out);
	out = (char *)"sentinel";
	assert_int_equal(xform_decode(&f, NULL, "x", &out, NULL, 0), CS_EINVAL);
	assert_null(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_string),
		cmocka_unit_test(test_int),
		cmocka_unit_test(test_bool),
		cmocka_unit_test(test_date),
		cmocka_unit_test(test_datetime),
		cmocka_unit_test(test_code),
		cmocka_unit_test(test_null_input),
		cmocka_unit_test(test_nhs_number),
		cmocka_unit_test(test_upn),
		cmocka_unit_test(test_multiple),
		cmocka_unit_test(test_list_split),
		cmocka_unit_test(test_decode_trim_case),
		cmocka_unit_test(test_code_translation),
		cmocka_unit_test(test_date_format),
		cmocka_unit_test(test_datetime_format),
		cmocka_unit_test(test_date_format_valid),
		cmocka_unit_test(test_encode_plain),
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_join),
		cmocka_unit_test(test_lossy),
		cmocka_unit_test(test_error_buffer),
	};

	return cmocka_run_group_tests_name("transform", tests, NULL, NULL);
}
