/* test_codec_xml_stream.c - reading XML files one record at a time: the
 * records path, line numbers, XPaths relative to a streamed record, the
 * parser rules (DOCTYPE, external entities, billion laughs, entity
 * references, nesting, malformed input) and XSD validation as the file
 * streams (the DfE CIN census schema when ../shared/data/cin is present).
 * Error messages are checked never to carry document text. */
#include "testutil.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include "codec_xml.h"

#define CIN_DIR "../shared/data/cin"
#define CIN_SAMPLE CIN_DIR "/cin-2022.xml"
#define CIN_XSD CIN_DIR "/CIN_schema_2024.xsd"
#define RECORDS "/Message/Children/Child"

static int cin_absent(void)
{
	if (access(CIN_SAMPLE, R_OK) == 0 && access(CIN_XSD, R_OK) == 0)
		return 0;
	print_message("SKIPPED: ../shared/data/cin absent\n");
	return 1;
}

/* Streams path; returns the number of records read before the end or the
 * first error, the ids (ChildIdentifiers/LAchildID) joined by ',' in ids,
 * the lines in lines, and the final status in *rc (0 or CS_EINVAL). A file
 * refused at open counts as no records with *rc CS_EINVAL. */
static int stream_all(const char *path, const char *xsd, char *ids,
		      size_t idsz, int *lines, int *rc, char *err, size_t errsz)
{
	char oerr[256] = "";
	struct codec_xml_stream *s = codec_xml_stream_open(path, RECORDS, xsd,
							   oerr, sizeof(oerr));
	void *idx = codec_xml_xpath_compile("ChildIdentifiers/LAchildID", oerr,
					    sizeof(oerr));
	xmlNodePtr rec;
	int n = 0, line, r;

	assert_non_null(idx);
	if (!s) {
		snprintf(err, errsz, "%s", oerr);
		codec_xml_xpath_free(idx);
		*rc = CS_EINVAL;
		return 0;
	}
	ids[0] = '\0';
	err[0] = '\0';
	while ((r = codec_xml_stream_next(s, &rec, &line, err, errsz)) == 1) {
		char **vals;
		size_t nv;

		assert_int_equal(codec_xml_get(rec, idx, &vals, &nv, oerr,
					       sizeof(oerr)), 0);
		if (n)
			strncat(ids, ",", idsz - strlen(ids) - 1);
		strncat(ids, nv ? vals[0] : "-", idsz - strlen(ids) - 1);
		codec_xml_vals_free(vals, nv);
		if (lines)
			lines[n] = line;
		n++;
	}
	*rc = r;
	/* After the end or an error, it stays at the end. */
	assert_int_equal(codec_xml_stream_next(s, &rec, &line, oerr,
					       sizeof(oerr)), 0);
	assert_null(rec);
	codec_xml_stream_close(s);
	codec_xml_xpath_free(idx);
	return n;
}

static const char three[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	"<Message>\n"
	"  <Header><Child><ChildIdentifiers><LAchildID>NOT-A-RECORD"
	"</LAchildID></ChildIdentifiers></Child></Header>\n"
	"  <Children>\n"
	"    <Child>\n"
	"      <ChildIdentifiers><LAchildID>C1</LAchildID></ChildIdentifiers>\n"
	"    </Child>\n"
	"    <Child><ChildIdentifiers><LAchildID>C2</LAchildID></ChildIdentifiers></Child>\n"
	"    <Other><Child><ChildIdentifiers><LAchildID>NESTED</LAchildID>"
	"</ChildIdentifiers></Child></Other>\n"
	"    <Child>\n"
	"      <ChildIdentifiers><LAchildID>C3</LAchildID></ChildIdentifiers>\n"
	"    </Child>\n"
	"  </Children>\n"
	"</Message>\n";

static void test_records_on_the_path_only(void **state)
{
	char path[TU_PATH_MAX], ids[256], err[256];
	int lines[8], rc;

	(void)state;
	tu_temp_file(path, three);
	assert_int_equal(stream_all(path, NULL, ids, sizeof(ids), lines, &rc,
				    err, sizeof(err)), 3);
	assert_int_equal(rc, 0);
	assert_string_equal(ids, "C1,C2,C3");
	assert_int_equal(lines[0], 5);
	assert_int_equal(lines[1], 8);
	assert_int_equal(lines[2], 10);
	unlink(path);
}

/* At most max_records come out before the error: the parser reads ahead,
 * so an error can surface before earlier records are handed out. */
static void expect_rejected(const char *doc, int max_records,
			    const char *want_err)
{
	char path[TU_PATH_MAX], ids[256], err[256];
	int rc;

	tu_temp_file(path, doc);
	assert_true(stream_all(path, NULL, ids, sizeof(ids), NULL, &rc,
			       err, sizeof(err)) <= max_records);
	assert_int_equal(rc, CS_EINVAL);
	if (!strstr(err, want_err))
		fail_msg("error '%s' does not say '%s'", err, want_err);
	/* Never the document's text. */
	assert_null(strstr(err, "secret"));
	assert_null(strstr(err, "lol"));
	unlink(path);
}

static void test_doctype_and_entities_rejected(void **state)
{
	char secret[TU_PATH_MAX], doc[1024];

	(void)state;
	tu_temp_file(secret, "secret\n");
	/* External entity (XXE): rejected at the DOCTYPE, file never read. */
	snprintf(doc, sizeof(doc),
		 "<?xml version=\"1.0\"?>\n"
		 "<!DOCTYPE Message [<!ENTITY x SYSTEM \"file://%s\">]>\n"
		 "<Message><Children><Child><ChildIdentifiers><LAchildID>&x;"
		 "</LAchildID></ChildIdentifiers></Child></Children></Message>\n",
		 secret);
	expect_rejected(doc, 0, "DOCTYPE not allowed");
	/* Billion laughs. */
	expect_rejected("<?xml version=\"1.0\"?>\n<!DOCTYPE Message [\n"
			"<!ENTITY a \"lollollollollollollollollollol\">\n"
			"<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">\n"
			"<!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">\n"
			"<!ENTITY d \"&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;\">\n"
			"<!ENTITY e \"&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;\">\n"
			"<!ENTITY f \"&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;\">\n"
			"<!ENTITY g \"&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;\">\n"
			"<!ENTITY h \"&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;\">\n"
			"]>\n<Message><Children><Child><ChildIdentifiers>"
			"<LAchildID>&h;</LAchildID></ChildIdentifiers></Child>"
			"</Children></Message>\n", 0, "DOCTYPE not allowed");
	/* An entity reference without a DOCTYPE is not well-formed. */
	expect_rejected("<Message><Children><Child><ChildIdentifiers><LAchildID>"
			"&x;</LAchildID></ChildIdentifiers></Child></Children>"
			"</Message>\n", 0, "line 1: XML error");
	/* A DOCTYPE after a comment and a processing instruction. */
	expect_rejected("<?xml version=\"1.0\"?>\n<!-- a > comment -->\n"
			"<?pi x?>\n<!DOCTYPE Message SYSTEM \"http://x/secret\">\n"
			"<Message/>\n", 0, "DOCTYPE not allowed");
	unlink(secret);
}

static void test_malformed_after_good_records(void **state)
{
	(void)state;
	/* At most the two good records come out; then the error, with its
	 * line. */
	expect_rejected("<Message>\n<Children>\n"
			"<Child><ChildIdentifiers><LAchildID>A</LAchildID>"
			"</ChildIdentifiers></Child>\n"
			"<Child><ChildIdentifiers><LAchildID>B</LAchildID>"
			"</ChildIdentifiers></Child>\n"
			"<Child><ChildIdentifiers><LAchildID>secret</Oops>\n"
			"</Children>\n</Message>\n", 2, "line 5: XML error");
	/* Truncated. */
	expect_rejected("<Message><Children><Child><ChildIdentifiers>"
			"<LAchildID>A</LAchildID>", 0, "XML error");
}

static void test_nesting_limit(void **state)
{
	char *doc = malloc(64 * 1024), *p;

	(void)state;
	assert_non_null(doc);
	p = doc + sprintf(doc, "<Message><Children><Child>");
	for (int i = 0; i < CODEC_XML_MAX_DEPTH + 5; i++)
		p += sprintf(p, "<a>");
	for (int i = 0; i < CODEC_XML_MAX_DEPTH + 5; i++)
		p += sprintf(p, "</a>");
	sprintf(p, "</Child></Children></Message>\n");
	expect_rejected(doc, 0, "nesting too deep");
	free(doc);
}

static void test_open_refusals(void **state)
{
	char err[256] = "";

	(void)state;
	assert_null(codec_xml_stream_open("/nonexistent/file.xml", RECORDS,
					  NULL, err, sizeof(err)));
	assert_string_equal(err, "cannot be opened");
	assert_null(codec_xml_stream_open("/dev/null", "Children/Child", NULL,
					  err, sizeof(err)));
	assert_non_null(strstr(err, "plain absolute element path"));
	assert_null(codec_xml_stream_open("/dev/null", "/Message//Child", NULL,
					  err, sizeof(err)));
	assert_null(codec_xml_stream_open("/dev/null", "/Message/Child[1]",
					  NULL, err, sizeof(err)));
}

static void test_census_sample_validates_as_it_streams(void **state)
{
	char ids[512], err[256];
	int rc, n;

	(void)state;
	if (cin_absent()) {
		skip();
		return;
	}
	n = stream_all(CIN_SAMPLE, CIN_XSD, ids, sizeof(ids), NULL, &rc, err,
		       sizeof(err));
	assert_int_equal(rc, 0);
	assert_true(n >= 1);
	assert_non_null(strstr(ids, "DfEX0000001"));
}

/* The sample with one element made invalid at a known line: the stream
 * ends in a schema error naming that line. */
static void test_census_schema_error_names_the_line(void **state)
{
	char path[TU_PATH_MAX], ids[512], err[256], *text, *at;
	FILE *f;
	long sz;
	int rc, line = 1;

	(void)state;
	if (cin_absent()) {
		skip();
		return;
	}
	f = fopen(CIN_SAMPLE, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	sz = ftell(f);
	rewind(f);
	text = calloc(1, (size_t)sz + 64);
	assert_non_null(text);
	assert_int_equal(fread(text, 1, (size_t)sz, f), (size_t)sz);
	fclose(f);
	at = strstr(text, "<GenderCurrent>1</GenderCurrent>");
	assert_non_null(at);
	at[15] = '7';	/* not a census gender code */
	for (char *c = text; c < at; c++)
		line += *c == '\n';
	tu_temp_file(path, text);
	stream_all(path, CIN_XSD, ids, sizeof(ids), NULL, &rc, err,
		   sizeof(err));
	assert_int_equal(rc, CS_EINVAL);
	{
		char want[64];

		snprintf(want, sizeof(want), "line %d: schema error", line);
		if (!strstr(err, want))
			fail_msg("'%s' does not say '%s'", err, want);
	}
	free(text);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_records_on_the_path_only),
		cmocka_unit_test(test_doctype_and_entities_rejected),
		cmocka_unit_test(test_malformed_after_good_records),
		cmocka_unit_test(test_nesting_limit),
		cmocka_unit_test(test_open_refusals),
		cmocka_unit_test(test_census_sample_validates_as_it_streams),
		cmocka_unit_test(test_census_schema_error_names_the_line),
	};

	return cmocka_run_group_tests_name("codec_xml streaming", tests, NULL,
					   NULL);
}
