/* test_codec_xml.c - safe XML parsing (DOCTYPE, entities, XInclude, bad
 * UTF-8, size and depth caps), XPath reads, the writable-path subset and
 * ordered writes, XSD validation (the DfE CIN census schema when
 * ../shared/data/cin is present) and serialisation. Error messages are
 * checked never to carry document text. */
#include "testutil.h"

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/tree.h>

#include "codec_xml.h"

#define CIN_DIR "../shared/data/cin"
#define CIN_SAMPLE CIN_DIR "/cin-2022.xml"
#define CIN_XSD CIN_DIR "/CIN_schema_2024.xsd"
#define MAX_DOC (1024 * 1024)

/* ---- helpers ---- */

static int cin_absent(void)
{
	if (access(CIN_SAMPLE, R_OK) == 0 && access(CIN_XSD, R_OK) == 0)
		return 0;
	print_message("SKIPPED: ../shared/data/cin absent\n");
	return 1;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long sz;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	sz = ftell(f);
	assert_true(sz > 0);
	rewind(f);
	buf = malloc((size_t)sz + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)sz, f), (size_t)sz);
	buf[sz] = '\0';
	fclose(f);
	*len = (size_t)sz;
	return buf;
}

static xmlDocPtr P(const char *text)
{
	char err[256] = "";
	xmlDocPtr doc = codec_xml_parse(text, strlen(text), MAX_DOC, err,
					sizeof(err));

	if (!doc)
		fail_msg("fixture rejected: %s", err);
	return doc;
}

/* Parses text expecting failure; err receives the message. */
static void reject(const char *text, char *err, size_t errsz)
{
	xmlDocPtr doc;

	err[0] = '\0';
	doc = codec_xml_parse(text, strlen(text), MAX_DOC, err, errsz);
	if (doc) {
		xmlFreeDoc(doc);
		fail_msg("accepted: %.60s", text);
	}
	assert_true(err[0] != '\0');
}

static xmlNodePtr root(xmlDocPtr doc)
{
	xmlNodePtr r = xmlDocGetRootElement(doc);

	assert_non_null(r);
	return r;
}

/* The first element at a writable-style path of element names. */
static xmlNodePtr el(xmlNodePtr node, const char *path)
{
	xmlNodePtr *nodes;
	size_t n;
	char err[128];
	void *comp = codec_xml_xpath_compile(path, err, sizeof(err));

	assert_non_null(comp);
	assert_int_equal(codec_xml_items(node, comp, &nodes, &n, err,
					 sizeof(err)), CS_OK);
	codec_xml_xpath_free(comp);
	if (n == 0)
		fail_msg("no element at %s", path);
	node = nodes[0];
	free(nodes);
	return node;
}

/* Evaluates expr at node and compares the values joined with "|". */
static void check_get(xmlNodePtr node, const char *expr, size_t want_n,
		      const char *want)
{
	char err[256] = "", joined[1024] = "";
	char **vals = NULL;
	size_t n = 99;
	void *comp = codec_xml_xpath_compile(expr, err, sizeof(err));

	if (!comp)
		fail_msg("%s does not compile: %s", expr, err);
	if (codec_xml_get(node, comp, &vals, &n, err, sizeof(err)) != CS_OK)
		fail_msg("%s: %s", expr, err);
	codec_xml_xpath_free(comp);
	assert_non_null(vals);
	assert_null(vals[n]);
	for (size_t i = 0; i < n; i++) {
		if (i)
			strcat(joined, "|");
		strncat(joined, vals[i], sizeof(joined) - strlen(joined) - 2);
	}
	codec_xml_vals_free(vals, n);
	if (n != want_n || strcmp(joined, want))
		fail_msg("%s: got %zu \"%s\", expected %zu \"%s\"", expr, n,
			 joined, want_n, want);
}

static char *serialise(xmlNodePtr node)
{
	char *out, *copy;
	size_t len;

	assert_int_equal(codec_xml_serialise(node, &out, &len), CS_OK);
	assert_int_equal(strlen(out), len);
	copy = cs_strdup(out);
	xmlFree(out);
	assert_non_null(copy);
	return copy;
}

static void set1(xmlNodePtr node, const char *path,
		 const struct codec_xml_order *order, const char *val)
{
	char err[256] = "";
	char *vals[1];

	vals[0] = (char *)val;
	if (codec_xml_set(node, path, order, vals, 1, err, sizeof(err)))
		fail_msg("set %s: %s", path, err);
}

/* The CIN census order of the elements the tests create (schema facts). */
static char *child_order[] = { "ChildIdentifiers", "ChildCharacteristics",
			       "CINdetails", NULL };
static char *ids_order[] = { "LAchildID", "UPN", "FormerUPN", "UPNunknown",
			     "PersonBirthDate", "ExpectedPersonBirthDate",
			     "GenderCurrent", "PersonDeathDate", NULL };
static char *chars_order[] = { "Ethnicity", "Disabilities", NULL };
static char *dis_order[] = { "Disability", NULL };
static char *order_parents[] = { "Child", "ChildIdentifiers",
				 "ChildCharacteristics", "Disabilities" };
static char **order_children[] = { child_order, ids_order, chars_order,
				   dis_order };
static const struct codec_xml_order cin_order = {
	order_parents, order_children, CS_ARRAY_LEN(order_parents)
};

/* A CIN-shaped fixture; CANARY marks text that must never reach a message. */
static const char *const child_doc =
	"<Message>\n"
	"  <Children>\n"
	"    <Child>\n"
	"      <ChildIdentifiers>\n"
	"        <LAchildID>CANARY-LA-0001</LAchildID>\n"
	"        <UPN>A123456789012</UPN>\n"
	"        <PersonBirthDate>2015-04-01</PersonBirthDate>\n"
	"        <GenderCurrent>2</GenderCurrent>\n"
	"      </ChildIdentifiers>\n"
	"      <ChildCharacteristics>\n"
	"        <Ethnicity>WBRI</Ethnicity>\n"
	"        <Disabilities>\n"
	"          <Disability>HAND</Disability>\n"
	"          <Disability>HEAR</Disability>\n"
	"        </Disabilities>\n"
	"      </ChildCharacteristics>\n"
	"      <CINdetails>\n"
	"        <CINreferralDate>2021-06-01</CINreferralDate>\n"
	"      </CINdetails>\n"
	"      <CINdetails>\n"
	"        <CINreferralDate>2022-01-15</CINreferralDate>\n"
	"      </CINdetails>\n"
	"    </Child>\n"
	"  </Children>\n"
	"</Message>\n";

static const char *const ns_doc =
	"<r xmlns:p=\"urn:example:p\" id=\"R1\">"
	"<p:a kind=\"x\" p:flag=\"y\">1</p:a><b>two</b></r>";

/* ---- setup ---- */

static void quiet(void *ctx, xmlErrorPtr e)
{
	(void)ctx;
	(void)e;
}

static void test_init_idempotent_denies_entities(void **state)
{
	xmlParserCtxtPtr ctxt;
	xmlParserInputPtr in;

	(void)state;
	codec_xml_init();
	codec_xml_init();
	xmlSetStructuredErrorFunc(NULL, quiet);
	ctxt = xmlNewParserCtxt();
	assert_non_null(ctxt);
	in = xmlLoadExternalEntity("/etc/passwd", NULL, ctxt);
	if (in)
		xmlFreeInputStream(in);
	assert_null(in);
	in = xmlLoadExternalEntity("file:///etc/passwd", NULL, ctxt);
	assert_null(in);
	xmlFreeParserCtxt(ctxt);
	xmlSetStructuredErrorFunc(NULL, NULL);
}

/* ---- parsing ---- */

static void test_parse_accepts(void **state)
{
	static const char *const good[] = {
		"<r/>",
		"<?xml version=\"1.0\"?><r/>",
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<r>caf\xc3\xa9</r>",
		"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><r>caf\xe9</r>",
		"\xef\xbb\xbf<r/>",				/* BOM */
		"<r a=\"1\"><![CDATA[<x>]]></r>",
		"<r xmlns=\"urn:x\" xmlns:p=\"urn:p\"><p:a/></r>",
		"<!-- c --><?pi x?><r/>",
	};

	(void)state;
	for (size_t i = 0; i < CS_ARRAY_LEN(good); i++) {
		xmlDocPtr doc = P(good[i]);

		xmlFreeDoc(doc);
	}
}

static void test_parse_keeps_text_drops_blanks(void **state)
{
	xmlDocPtr doc = P("<r>\n  <a> </a>\n  <b><![CDATA[<&>]]></b>\n</r>");
	xmlNodePtr r = root(doc);

	(void)state;
	/* Whitespace between elements is gone, a leaf's own is kept, CDATA
	 * is plain text. */
	assert_int_equal(xmlChildElementCount(r), 2);
	assert_int_equal(r->children->type, XML_ELEMENT_NODE);
	check_get(r, "a", 1, " ");
	check_get(r, "b", 1, "<&>");
	assert_int_equal(el(r, "b")->children->type, XML_TEXT_NODE);
	xmlFreeDoc(doc);
}

static void test_parse_rejects_xxe(void **state)
{
	static const char *const xxe[] = {
		"<?xml version=\"1.0\"?>\n"
		"<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>\n"
		"<r>&x;</r>",
		"<!DOCTYPE r [<!ENTITY x SYSTEM \"/etc/passwd\">]><r>&x;</r>",
		"<!DOCTYPE r [<!ENTITY % p SYSTEM \"file:///etc/passwd\"> %p;]>"
		"<r/>",
		"<!DOCTYPE r [<!ENTITY x SYSTEM \"http://127.0.0.1:9/x\">]>"
		"<r>&x;</r>",
	};
	char err[256];

	(void)state;
	for (size_t i = 0; i < CS_ARRAY_LEN(xxe); i++) {
		reject(xxe[i], err, sizeof(err));
		tu_assert_str_case(i, err, "DOCTYPE not allowed");
		assert_null(strstr(err, "root:"));
		assert_null(strstr(err, "passwd"));
	}
}

static void test_parse_rejects_billion_laughs(void **state)
{
	char text[4096], err[256];
	size_t o;

	(void)state;
	o = (size_t)snprintf(text, sizeof(text),
			     "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n"
			     "<!ENTITY lol0 \"lol\">\n");
	for (int i = 1; i < 10; i++) {
		o += (size_t)snprintf(text + o, sizeof(text) - o,
				      "<!ENTITY lol%d \"", i);
		for (int j = 0; j < 10; j++)
			o += (size_t)snprintf(text + o, sizeof(text) - o,
					      "&lol%d;", i - 1);
		o += (size_t)snprintf(text + o, sizeof(text) - o, "\">\n");
	}
	snprintf(text + o, sizeof(text) - o, "]>\n<lolz>&lol9;</lolz>\n");
	assert_true(strlen(text) < sizeof(text) - 1);
	reject(text, err, sizeof(err));
	assert_string_equal(err, "DOCTYPE not allowed");
	assert_null(strstr(err, "lol"));
}

static void test_parse_rejects_any_doctype(void **state)
{
	static const char *const dt[] = {
		"<!DOCTYPE r><r/>",
		"<!DOCTYPE r []><r/>",
		"<?xml version=\"1.0\"?>\n<!DOCTYPE r [\n<!ELEMENT r ANY>\n]>\n<r/>",
		"<!DOCTYPE r [<!ATTLIST r a CDATA \"CANARY\">]><r/>",
		/* external DTDs: never fetched, never read */
		"<!DOCTYPE r SYSTEM \"file:///etc/passwd\"><r/>",
		"<!DOCTYPE r SYSTEM \"/etc/passwd\"><r/>",
		("<!DOCTYPE r PUBLIC \"-//X//DTD X//EN\" "
		 "\"http://127.0.0.1:9/x.dtd\"><r/>"),
	};
	char err[256];

	(void)state;
	for (size_t i = 0; i < CS_ARRAY_LEN(dt); i++) {
		reject(dt[i], err, sizeof(err));
		tu_assert_str_case(i, err, "DOCTYPE not allowed");
	}
}

static void test_parse_leaves_xinclude_unexpanded(void **state)
{
	xmlDocPtr doc = P("<r xmlns:xi=\"http://www.w3.org/2001/XInclude\">"
			  "<xi:include href=\"file:///etc/passwd\" "
			  "parse=\"text\"/></r>");
	xmlNodePtr r = root(doc);
	char *out;

	(void)state;
	check_get(r, "count(xi:include)", 1, "1");
	check_get(r, "xi:include/@href", 1, "file:///etc/passwd");
	check_get(r, "string(.)", 0, "");
	out = serialise(r);
	assert_non_null(strstr(out, "<xi:include"));
	assert_null(strstr(out, "root:"));
	free(out);
	xmlFreeDoc(doc);
}

static void test_parse_rejects_invalid_utf8(void **state)
{
	static const char *const bad[] = {
		"<r>\xff\xfe</r>",
		"<r>\xc3\x28</r>",			/* bad continuation */
		"<r>\xc0\xaf</r>",			/* overlong "/" */
		"<r>\xed\xa0\x80</r>",			/* surrogate */
		"<r>caf\xe9</r>",			/* Latin-1, undeclared */
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?><r>caf\xe9</r>",
		"<r a=\"\xff\"/>",
		"<r\xff/>",
	};
	char err[256];

	(void)state;
	for (size_t i = 0; i < CS_ARRAY_LEN(bad); i++) {
		reject(bad[i], err, sizeof(err));
		if (!strstr(err, "XML error (domain "))
			fail_msg("case %zu: %s", i, err);
	}
}

static void test_parse_size_cap(void **state)
{
	const char *text = "<r>1</r>";	/* 8 bytes */
	char err[128] = "";
	xmlDocPtr doc;

	(void)state;
	doc = codec_xml_parse(text, 8, 8, err, sizeof(err));
	assert_non_null(doc);
	xmlFreeDoc(doc);
	assert_null(codec_xml_parse(text, 8, 7, err, sizeof(err)));
	assert_string_equal(err, "document too large");
	assert_null(codec_xml_parse(text, 8, 7, NULL, 0));	/* err optional */
	/* Only len bytes are read. */
	doc = codec_xml_parse("<r/>garbage", 4, 100, err, sizeof(err));
	assert_non_null(doc);
	xmlFreeDoc(doc);
	assert_null(codec_xml_parse("", 0, 100, err, sizeof(err)));
}

static char *nested(int depth)
{
	size_t len = (size_t)depth * 7 + 1, o = 0;
	char *s = malloc(len);

	assert_non_null(s);
	for (int i = 0; i < depth; i++)
		o += (size_t)sprintf(s + o, "<a>");
	for (int i = 0; i < depth; i++)
		o += (size_t)sprintf(s + o, "</a>");
	return s;
}

static void test_parse_depth_cap(void **state)
{
	static const int deep[] = { CODEC_XML_MAX_DEPTH + 1, 255, 300, 5000 };
	char err[128];
	char *s = nested(CODEC_XML_MAX_DEPTH);
	xmlDocPtr doc = P(s);

	(void)state;
	xmlFreeDoc(doc);
	free(s);
	for (size_t i = 0; i < CS_ARRAY_LEN(deep); i++) {
		s = nested(deep[i]);
		reject(s, err, sizeof(err));
		tu_assert_str_case(i, err, "nesting too deep");
		free(s);
	}
}

static void test_parse_error_names_line_not_content(void **state)
{
	static const struct {
		const char *text;
		int line;
	} bad[] = {
		{ "<r><a>CANARY</b></r>", 1 },
		{ "<r>\n<a>\nCANARY</b></r>", 3 },
		{ "<r>&CANARY;</r>", 1 },		/* undefined entity */
		{ "<r a=\"1\" a=\"CANARY\"/>", 1 },
		{ "<r CANARY=\"1\" CANARY=\"2\"/>", 1 },
		{ "<r>\n\n<CANARY:a/></r>", 3 },	/* undeclared prefix */
		{ "<r>CANARY\xff</r>", 1 },
		{ "<r>CANARY", 1 },
		{ "CANARY", 1 },
	};
	char err[256], want[64];

	(void)state;
	for (size_t i = 0; i < CS_ARRAY_LEN(bad); i++) {
		reject(bad[i].text, err, sizeof(err));
		snprintf(want, sizeof(want), "line %d: XML error (domain ",
			 bad[i].line);
		if (strncmp(err, want, strlen(want)) || !strstr(err, ", code "))
			fail_msg("case %zu: %s", i, err);
		if (strstr(err, "CANARY"))
			fail_msg("case %zu echoes the document: %s", i, err);
	}
}

/* ---- XPath ---- */

static void test_xpath_compile_errors(void **state)
{
	static const char *const bad[] = {
		"ChildIdentifiers/[", "a[", "@@x", ")", "a/", "//", "a b",
		"'unterminated", "a[1)", "\"a",
		/* libxml2 2.9.14 itself compiles these two */
		"count(", "concat('a',",
	};
	char err[256];
	size_t n = 100000;
	char *deep = malloc(2 * n + 2);
	void *comp;

	(void)state;
	for (size_t i = 0; i < CS_ARRAY_LEN(bad); i++) {
		err[0] = '\0';
		assert_null(codec_xml_xpath_compile(bad[i], err, sizeof(err)));
		if (strncmp(err, "XPath does not compile (", 24))
			fail_msg("case %zu: %s", i, err);
	}
	/* Brackets inside literals do not count. */
	comp = codec_xml_xpath_compile("concat('(', \"[\", ']')", err,
				       sizeof(err));
	assert_non_null(comp);
	codec_xml_xpath_free(comp);
	assert_null(codec_xml_xpath_compile("", err, sizeof(err)));
	assert_null(codec_xml_xpath_compile(NULL, NULL, 0));
	/* Deep nesting is refused before it can reach the stack. */
	assert_non_null(deep);
	memset(deep, '(', n);
	deep[n] = '1';
	memset(deep + n + 1, ')', n);
	deep[2 * n + 1] = '\0';
	assert_null(codec_xml_xpath_compile(deep, err, sizeof(err)));
	free(deep);
	codec_xml_xpath_free(NULL);
}

static void test_get_values(void **state)
{
	xmlDocPtr doc = P(child_doc);
	xmlNodePtr child = el(root(doc), "Children/Child");

	(void)state;
	check_get(child, "ChildIdentifiers/UPN", 1, "A123456789012");
	check_get(child, "ChildCharacteristics/Disabilities/Disability", 2,
		  "HAND|HEAR");
	check_get(child, "CINdetails/CINreferralDate", 2,
		  "2021-06-01|2022-01-15");
	check_get(child, "CINdetails[2]/CINreferralDate", 1, "2022-01-15");
	check_get(child, "ChildIdentifiers/UPN/text()", 1, "A123456789012");
	check_get(child, "ChildIdentifiers/FormerUPN", 0, "");
	check_get(child, "count(ChildCharacteristics/Disabilities/Disability)",
		  1, "2");
	check_get(child, "count(ChildIdentifiers/FormerUPN)", 1, "0");
	check_get(child, "string(ChildIdentifiers/GenderCurrent)", 1, "2");
	check_get(child, "string(ChildIdentifiers/FormerUPN)", 0, "");
	check_get(child, "boolean(CINdetails)", 1, "true");
	check_get(child, "boolean(Nothing)", 1, "false");
	check_get(child, "concat(ChildIdentifiers/UPN, '-', "
		  "ChildIdentifiers/GenderCurrent)", 1, "A123456789012-2");
	check_get(child, "name(*[last()])", 1, "CINdetails");
	check_get(child, "/Message/Children/Child/ChildCharacteristics/"
		  "Ethnicity", 1, "WBRI");
	check_get(el(child, "ChildIdentifiers/UPN"), ".", 1, "A123456789012");
	check_get(el(child, "ChildIdentifiers/UPN"), "../GenderCurrent", 1, "2");
	check_get(child, "ChildCharacteristics/Disabilities/Disability | "
		  "ChildCharacteristics/Ethnicity", 3, "WBRI|HAND|HEAR");
	check_get(child, "1 div 0", 1, "Infinity");
	xmlFreeDoc(doc);
}

static void test_get_attributes_and_namespaces(void **state)
{
	xmlDocPtr doc = P(ns_doc);
	xmlNodePtr r = root(doc);

	(void)state;
	check_get(r, "@id", 1, "R1");
	check_get(r, "@missing", 0, "");
	check_get(r, "p:a", 1, "1");
	check_get(r, "p:a/@kind", 1, "x");
	check_get(r, "p:a/@p:flag", 1, "y");
	check_get(r, "b", 1, "two");
	check_get(r, "a", 0, "");		/* no namespace: not p:a */
	check_get(r, "*", 2, "1|two");
	check_get(el(r, "p:a"), "../@id", 1, "R1");
	xmlFreeDoc(doc);
}

static void test_get_eval_errors(void **state)
{
	static const char *const bad[] = {
		"q:a", "nosuchfunction()", "$undefined", "count(1)",
	};
	xmlDocPtr doc = P(child_doc);
	xmlNodePtr r = root(doc);
	char err[256];

	(void)state;
	for (size_t i = 0; i < CS_ARRAY_LEN(bad); i++) {
		void *comp = codec_xml_xpath_compile(bad[i], err, sizeof(err));
		char **vals = (char **)1;
		size_t n = 1;

		if (!comp)
			fail_msg("case %zu does not compile: %s", i, err);
		err[0] = '\0';
		assert_int_equal(codec_xml_get(r, comp, &vals, &n, err,
					       sizeof(err)), CS_EINVAL);
		assert_null(vals);
		assert_int_equal(n, 0);
		if (!strstr(err, "XPath evaluation failed (domain "))
			fail_msg("case %zu: %s", i, err);
		codec_xml_xpath_free(comp);
	}
	xmlFreeDoc(doc);
}

static void test_items(void **state)
{
	xmlDocPtr doc = P(child_doc);
	xmlNodePtr child = el(root(doc), "Children/Child");
	xmlNodePtr *nodes;
	size_t n;
	char err[256];
	void *comp;

	(void)state;
	comp = codec_xml_xpath_compile("CINdetails", err, sizeof(err));
	assert_int_equal(codec_xml_items(child, comp, &nodes, &n, err,
					 sizeof(err)), CS_OK);
	assert_int_equal(n, 2);
	assert_string_equal((const char *)nodes[0]->name, "CINdetails");
	check_get(nodes[0], "CINreferralDate", 1, "2021-06-01");
	check_get(nodes[1], "CINreferralDate", 1, "2022-01-15");
	free(nodes);
	codec_xml_xpath_free(comp);

	/* A union comes back in document order. */
	comp = codec_xml_xpath_compile("CINdetails | ChildIdentifiers", err,
				       sizeof(err));
	assert_int_equal(codec_xml_items(child, comp, &nodes, &n, err,
					 sizeof(err)), CS_OK);
	assert_int_equal(n, 3);
	assert_string_equal((const char *)nodes[0]->name, "ChildIdentifiers");
	free(nodes);
	codec_xml_xpath_free(comp);

	comp = codec_xml_xpath_compile("Nothing", err, sizeof(err));
	assert_int_equal(codec_xml_items(child, comp, &nodes, &n, err,
					 sizeof(err)), CS_OK);
	assert_int_equal(n, 0);
	free(nodes);
	codec_xml_xpath_free(comp);

	static const char *const bad[] = {
		"CINdetails/CINreferralDate/text()", "@x | CINdetails",
		"count(CINdetails)", "string(CINdetails)",
	};
	xmlSetProp(child, (const xmlChar *)"x", (const xmlChar *)"1");
	for (size_t i = 0; i < CS_ARRAY_LEN(bad); i++) {
		comp = codec_xml_xpath_compile(bad[i], err, sizeof(err));
		assert_non_null(comp);
		tu_assert_int_case(i, codec_xml_items(child, comp, &nodes, &n,
						      err, sizeof(err)),
				   CS_EINVAL);
		assert_null(nodes);
		codec_xml_xpath_free(comp);
	}
	xmlFreeDoc(doc);
}

/* ---- writing ---- */

static void test_path_writable(void **state)
{
	static const char *const good[] = {
		".", "a", "a/b", "a/@x", "@x", "a/text()", "text()",
		"ChildIdentifiers/LAchildID", "p:a/p:b/@p:c", "a-b.c_d",
		"caf\xc3\xa9", "a/b/c/d/e/f",
	};
	static const char *const bad[] = {
		"", "/a", "a//b", "//a", "a[1]", "..", "*", "a/../b", "a/",
		"a/./b", "./a", "a/.", "@x/a", "a/@x/b", "text()/a", "a/@*",
		"a/*", "p:*", "a b", " a", "1a", "a:b:c", ":a", "a:",
		"a/node()", "a/comment()", "a|b", "a/@", "@", "a/text( )",
		"count(a)", "$v", "a/b[@c]", "@xmlns", "a/@xmlns:p",
		"xmlns:a", NULL,
	};

	(void)state;
	for (size_t i = 0; i < CS_ARRAY_LEN(good); i++)
		tu_assert_int_case(i, codec_xml_path_writable(good[i]), 1);
	for (size_t i = 0; i < CS_ARRAY_LEN(bad); i++)
		tu_assert_int_case(i, codec_xml_path_writable(bad[i]), 0);
}

static void test_set_creates_in_schema_order(void **state)
{
	static const char *const want =
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<Child>\n"
		"  <ChildIdentifiers>\n"
		"    <LAchildID>LA0001</LAchildID>\n"
		"    <UPN>A123456789012</UPN>\n"
		"    <FormerUPN>B123456789012</FormerUPN>\n"
		"    <PersonBirthDate>2015-04-01</PersonBirthDate>\n"
		"    <GenderCurrent>1</GenderCurrent>\n"
		"    <PersonDeathDate>2020-01-01</PersonDeathDate>\n"
		"    <Unlisted>u</Unlisted>\n"
		"  </ChildIdentifiers>\n"
		"  <ChildCharacteristics>\n"
		"    <Ethnicity>WBRI</Ethnicity>\n"
		"    <Disabilities>\n"
		"      <Disability>HAND</Disability>\n"
		"      <Disability>HEAR</Disability>\n"
		"    </Disabilities>\n"
		"  </ChildCharacteristics>\n"
		"  <Zeta>z</Zeta>\n"
		"  <CINdetails>\n"
		"    <CINreferralDate>2021-06-01</CINreferralDate>\n"
		"  </CINdetails>\n"
		"</Child>\n";
	char *dis[] = { "HAND", "HEAR" };
	char err[256];
	xmlDocPtr doc = P("<Child/>");
	xmlNodePtr child = root(doc);
	char *out;

	(void)state;
	assert_int_equal(codec_xml_set(child, "ChildCharacteristics/"
				       "Disabilities/Disability", &cin_order,
				       dis, 2, err, sizeof(err)), CS_OK);
	set1(child, "ChildIdentifiers/GenderCurrent", &cin_order, "1");
	set1(child, "Zeta", &cin_order, "z");
	set1(child, "ChildIdentifiers/PersonDeathDate", &cin_order, "2020-01-01");
	set1(child, "ChildCharacteristics/Ethnicity", &cin_order, "WBRI");
	set1(child, "ChildIdentifiers/Unlisted", &cin_order, "u");
	set1(child, "ChildIdentifiers/UPN", &cin_order, "A123456789012");
	/* CINdetails is listed: it goes before nothing later, so last. */
	set1(child, "CINdetails/CINreferralDate", &cin_order, "2021-06-01");
	set1(child, "ChildIdentifiers/PersonBirthDate", &cin_order, "2015-04-01");
	set1(child, "ChildIdentifiers/LAchildID", &cin_order, "LA0001");
	set1(child, "ChildIdentifiers/FormerUPN", &cin_order, "B123456789012");
	out = serialise(child);
	if (strcmp(out, want))
		fail_msg("got:\n%s", out);
	free(out);

	/* Without an order, new elements are appended. */
	xmlFreeDoc(doc);
	doc = P("<Child/>");
	child = root(doc);
	set1(child, "ChildIdentifiers/UPN", NULL, "1");
	set1(child, "ChildIdentifiers/LAchildID", NULL, "2");
	check_get(child, "ChildIdentifiers/*", 2, "1|2");
	xmlFreeDoc(doc);
}

static void test_set_repeats_replaces_removes(void **state)
{
	char *three[] = { "MOB", "HAND", "VIS" }, *one[] = { "NONE" };
	char err[256];
	xmlDocPtr doc = P(child_doc);
	xmlNodePtr child = el(root(doc), "Children/Child");
	const char *dpath = "ChildCharacteristics/Disabilities/Disability";

	(void)state;
	assert_int_equal(codec_xml_set(child, dpath, &cin_order, three, 3,
				       err, sizeof(err)), CS_OK);
	check_get(child, dpath, 3, "MOB|HAND|VIS");
	check_get(child, "count(ChildCharacteristics/Disabilities)", 1, "1");
	check_get(child, "name(ChildCharacteristics/Disabilities/"
		  "following-sibling::*)", 0, "");
	assert_int_equal(codec_xml_set(child, dpath, &cin_order, one, 1,
				       err, sizeof(err)), CS_OK);
	check_get(child, dpath, 1, "NONE");
	assert_int_equal(codec_xml_set(child, dpath, &cin_order, NULL, 0,
				       err, sizeof(err)), CS_OK);
	check_get(child, dpath, 0, "");
	check_get(child, "count(ChildCharacteristics/Disabilities)", 1, "1");

	/* Replacing keeps the element (and its attributes). */
	set1(child, "ChildIdentifiers/UPN/@checked", NULL, "yes");
	set1(child, "ChildIdentifiers/UPN", &cin_order, "X000000000001");
	check_get(child, "ChildIdentifiers/UPN", 1, "X000000000001");
	check_get(child, "ChildIdentifiers/UPN/@checked", 1, "yes");
	check_get(child, "count(ChildIdentifiers/UPN)", 1, "1");

	/* n == 0 removes the final node; missing intermediates stay missing. */
	assert_int_equal(codec_xml_set(child, "ChildIdentifiers/UPN", NULL,
				       NULL, 0, err, sizeof(err)), CS_OK);
	check_get(child, "count(ChildIdentifiers/UPN)", 1, "0");
	check_get(child, "ChildIdentifiers/LAchildID", 1, "CANARY-LA-0001");
	assert_int_equal(codec_xml_set(child, "Nope/Deeper", NULL, NULL, 0,
				       err, sizeof(err)), CS_OK);
	assert_int_equal(codec_xml_set(child, "Nope/@x", NULL, NULL, 0,
				       err, sizeof(err)), CS_OK);
	check_get(child, "count(Nope)", 1, "0");

	/* Only element steps repeat. */
	assert_int_equal(codec_xml_set(child, "ChildIdentifiers/@x", NULL,
				       three, 2, err, sizeof(err)), CS_EINVAL);
	assert_int_equal(codec_xml_set(child, ".", NULL, three, 2, err,
				       sizeof(err)), CS_EINVAL);
	assert_int_equal(codec_xml_set(child, "a/text()", NULL, three, 2, err,
				       sizeof(err)), CS_EINVAL);
	check_get(child, "count(a)", 1, "0");

	/* Unwritable paths and non-elements. */
	assert_int_equal(codec_xml_set(child, "a[1]", NULL, one, 1, err,
				       sizeof(err)), CS_EINVAL);
	assert_string_equal(err, "path is not writable");
	assert_int_equal(codec_xml_set(NULL, "a", NULL, one, 1, err,
				       sizeof(err)), CS_EINVAL);
	xmlFreeDoc(doc);
}

static void test_set_own_text_text_and_attributes(void **state)
{
	xmlDocPtr doc = P(child_doc);
	xmlNodePtr child = el(root(doc), "Children/Child");
	xmlNodePtr upn = el(child, "ChildIdentifiers/UPN");
	char err[256];

	(void)state;
	set1(upn, ".", NULL, "U1");
	check_get(child, "ChildIdentifiers/UPN", 1, "U1");
	assert_int_equal(codec_xml_set(upn, ".", NULL, NULL, 0, err,
				       sizeof(err)), CS_OK);
	check_get(child, "string(ChildIdentifiers/UPN)", 0, "");
	check_get(child, "count(ChildIdentifiers/UPN)", 1, "1");

	set1(child, "Note/text()", NULL, "hello");
	check_get(child, "Note", 1, "hello");
	set1(child, "Note/@by", NULL, "sw");
	set1(child, "Note/text()", NULL, "again");
	check_get(child, "Note", 1, "again");
	check_get(child, "Note/@by", 1, "sw");
	assert_int_equal(codec_xml_set(child, "Note/text()", NULL, NULL, 0,
				       err, sizeof(err)), CS_OK);
	check_get(child, "count(Note)", 1, "1");
	check_get(child, "string(Note)", 0, "");
	check_get(child, "Note/@by", 1, "sw");
	assert_int_equal(codec_xml_set(child, "Note/@by", NULL, NULL, 0,
				       err, sizeof(err)), CS_OK);
	check_get(child, "Note/@by", 0, "");

	set1(child, "@status", NULL, "open");
	check_get(child, "@status", 1, "open");
	set1(child, "@status", NULL, "closed");
	check_get(child, "@status", 1, "closed");
	xmlFreeDoc(doc);

	/* Prefixed steps use the namespaces in scope. */
	doc = P(ns_doc);
	set1(root(doc), "p:c/@p:d", NULL, "v");
	check_get(root(doc), "p:c/@p:d", 1, "v");
	set1(root(doc), "p:a", NULL, "2");
	check_get(root(doc), "p:a", 1, "2");
	check_get(root(doc), "count(p:a)", 1, "1");
	assert_int_equal(codec_xml_set(root(doc), "q:a", NULL,
				       (char *[]){ "1" }, 1, err, sizeof(err)),
			 CS_EINVAL);
	assert_int_equal(codec_xml_set(root(doc), "q:a", NULL, NULL, 0, err,
				       sizeof(err)), CS_OK);
	xmlFreeDoc(doc);
}

static void test_add_item_in_order(void **state)
{
	static const char *const want =
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<Child>\n"
		"  <ChildIdentifiers>\n"
		"    <LAchildID>1</LAchildID>\n"
		"  </ChildIdentifiers>\n"
		"  <ChildCharacteristics>\n"
		"    <Disabilities>\n"
		"      <Disability>HAND</Disability>\n"
		"      <Disability>HEAR</Disability>\n"
		"    </Disabilities>\n"
		"  </ChildCharacteristics>\n"
		"  <CINdetails>\n"
		"    <CINreferralDate>2021-06-01</CINreferralDate>\n"
		"  </CINdetails>\n"
		"  <Extra/>\n"
		"  <After/>\n"
		"  <CINdetails>\n"
		"    <CINreferralDate>2022-01-15</CINreferralDate>\n"
		"  </CINdetails>\n"
		"  <Extra/>\n"
		"</Child>\n";
	static const char *const bad[] = {
		".", "a/@x", "a/text()", "a[1]", "/a", "a//b", "", NULL,
	};
	xmlDocPtr doc = P("<Child><ChildIdentifiers><LAchildID>1</LAchildID>"
			  "</ChildIdentifiers><CINdetails><CINreferralDate>"
			  "2021-06-01</CINreferralDate></CINdetails>"
			  "<Extra/><After/></Child>");
	xmlNodePtr child = root(doc), it;
	char *out;

	(void)state;
	/* Nothing listed comes after CINdetails, and Extra is not listed:
	 * both are appended. */
	it = codec_xml_add_item(child, "CINdetails", &cin_order);
	assert_non_null(it);
	set1(it, "CINreferralDate", NULL, "2022-01-15");
	it = codec_xml_add_item(child, "ChildCharacteristics/Disabilities/"
				"Disability", &cin_order);
	assert_non_null(it);
	set1(it, ".", NULL, "HAND");
	it = codec_xml_add_item(child, "ChildCharacteristics/Disabilities/"
				"Disability", &cin_order);
	set1(it, ".", NULL, "HEAR");
	assert_non_null(codec_xml_add_item(child, "Extra", &cin_order));
	out = serialise(child);
	if (strcmp(out, want))
		fail_msg("got:\n%s", out);
	free(out);
	for (size_t i = 0; i < CS_ARRAY_LEN(bad); i++)
		if (codec_xml_add_item(child, bad[i], &cin_order))
			fail_msg("case %zu accepted", i);
	assert_null(codec_xml_add_item(NULL, "a", NULL));
	xmlFreeDoc(doc);
}

static void test_remove_items(void **state)
{
	xmlDocPtr doc = P(child_doc);
	xmlNodePtr child = el(root(doc), "Children/Child");

	(void)state;
	codec_xml_remove_items(child, "ChildCharacteristics/Disabilities/"
			       "Disability");
	check_get(child, "count(ChildCharacteristics/Disabilities/*)", 1, "0");
	check_get(child, "count(ChildCharacteristics/Disabilities)", 1, "1");
	codec_xml_remove_items(child, "CINdetails");
	check_get(child, "count(CINdetails)", 1, "0");
	codec_xml_remove_items(child, "Nope/Disability");
	check_get(child, "count(Nope)", 1, "0");
	codec_xml_remove_items(child, ".");
	codec_xml_remove_items(child, "ChildIdentifiers[1]");
	codec_xml_remove_items(child, NULL);
	codec_xml_remove_items(NULL, "a");
	check_get(child, "ChildIdentifiers/UPN", 1, "A123456789012");
	check_get(child, "ChildCharacteristics/Ethnicity", 1, "WBRI");
	xmlFreeDoc(doc);
}

static void test_escaping_round_trips(void **state)
{
	static const char *const vals[] = {
		"<&>", "a & b < c > d \"q\" 'a'", "&amp;", "&lt;x&gt;",
		"]]>", "tab\there\nline\r\n", "caf\xc3\xa9 \xf0\x9f\x98\x80",
	};
	xmlDocPtr doc = P("<r/>"), again;
	xmlNodePtr r = root(doc);
	char *out;

	(void)state;
	for (size_t i = 0; i < CS_ARRAY_LEN(vals); i++) {
		char path[32], apath[32];

		snprintf(path, sizeof(path), "v%zu", i);
		snprintf(apath, sizeof(apath), "v%zu/@a", i);
		set1(r, path, NULL, vals[i]);
		set1(r, apath, NULL, vals[i]);
		check_get(r, path, 1, vals[i]);
		check_get(r, apath, 1, vals[i]);
		out = serialise(r);
		again = P(out);
		check_get(root(again), path, 1, vals[i]);
		check_get(root(again), apath, 1, vals[i]);
		if (i == 0)
			assert_non_null(strstr(out, "<v0 a=\"&lt;&amp;&gt;\">"
						    "&lt;&amp;&gt;</v0>"));
		free(out);
		xmlFreeDoc(again);
	}
	xmlFreeDoc(doc);
}

static void test_set_rejects_bad_values_without_echo(void **state)
{
	static const char *const bad[] = {
		"CANARY\x01", "CANARY\xff", "CANARY\xc0\xaf", "CANARY\xed\xa0\x80",
		"CANARY\xef\xbf\xbe", "CANARY\xf4\x90\x80\x80", "CANARY\xe2\x82",
		"CANARY\x1b[0m",
	};
	xmlDocPtr doc = P("<r><v>keep</v></r>");
	xmlNodePtr r = root(doc);
	char err[256];

	(void)state;
	for (size_t i = 0; i < CS_ARRAY_LEN(bad); i++) {
		char *v[] = { "ok", (char *)bad[i] };

		err[0] = '\0';
		tu_assert_int_case(i, codec_xml_set(r, "v", NULL, v, 2, err,
						    sizeof(err)), CS_EINVAL);
		tu_assert_int_case(i, codec_xml_set(r, "@a", NULL, v + 1, 1,
						    err, sizeof(err)), CS_EINVAL);
		assert_string_equal(err, "value 1 is not valid XML text");
		assert_null(strstr(err, "CANARY"));
	}
	/* Nothing was changed. */
	check_get(r, "v", 1, "keep");
	check_get(r, "@a", 0, "");
	assert_int_equal(codec_xml_set(r, "v", NULL, (char *[]){ NULL }, 1,
				       err, sizeof(err)), CS_EINVAL);
	xmlFreeDoc(doc);
}

static void test_serialise(void **state)
{
	xmlDocPtr doc = P(ns_doc);
	xmlNodePtr a = el(root(doc), "p:a");
	char *out, *raw;
	size_t len;

	(void)state;
	out = serialise(a);
	assert_string_equal(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
			    "<p:a xmlns:p=\"urn:example:p\" kind=\"x\" "
			    "p:flag=\"y\">1</p:a>\n");
	free(out);
	/* The original is untouched. */
	check_get(root(doc), "p:a", 1, "1");
	assert_int_equal(codec_xml_serialise((xmlNodePtr)a->properties, &raw,
					     &len), CS_EINVAL);
	assert_null(raw);
	assert_int_equal(codec_xml_serialise(NULL, &raw, &len), CS_EINVAL);
	xmlFreeDoc(doc);
}

/* ---- validation ---- */

static const char *const small_xsd =
	"<xs:schema xmlns:xs=\"http://www.w3.org/2001/XMLSchema\">\n"
	"  <xs:element name=\"r\">\n"
	"    <xs:complexType><xs:sequence>\n"
	"      <xs:element name=\"d\" type=\"xs:date\" maxOccurs=\"unbounded\"/>\n"
	"    </xs:sequence></xs:complexType>\n"
	"  </xs:element>\n"
	"</xs:schema>\n";

static void test_validate_small_schema(void **state)
{
	char xsd[TU_PATH_MAX], err[256];
	xmlDocPtr doc;
	int np = -1;

	(void)state;
	tu_temp_file(xsd, small_xsd);
	doc = P("<r><d>2020-01-01</d></r>");
	assert_int_equal(codec_xml_validate(doc, xsd, &np, err, sizeof(err)),
			 CS_OK);
	assert_int_equal(np, 0);
	xmlFreeDoc(doc);

	doc = P("<r>\n<d>2020-01-01</d>\n<d>CANARY-1</d>\n<d>CANARY-2</d>\n</r>");
	assert_int_equal(codec_xml_validate(doc, xsd, &np, err, sizeof(err)),
			 CS_EINVAL);
	assert_int_equal(np, 2);
	if (strncmp(err, "line 3: schema error (domain ", 29) ||
	    !strstr(err, " at element d"))
		fail_msg("%s", err);
	assert_null(strstr(err, "CANARY"));
	assert_int_equal(codec_xml_validate(doc, xsd, NULL, err, sizeof(err)),
			 CS_EINVAL);
	xmlFreeDoc(doc);

	doc = P("<CANARY/>");
	assert_int_equal(codec_xml_validate(doc, xsd, &np, err, sizeof(err)),
			 CS_EINVAL);
	assert_int_equal(np, 1);
	xmlFreeDoc(doc);

	/* A document built in memory validates too (line 0). */
	doc = P("<r/>");
	set1(root(doc), "d", NULL, "2021-02-03");
	assert_int_equal(codec_xml_validate(doc, xsd, &np, err, sizeof(err)),
			 CS_OK);
	set1(root(doc), "d", NULL, "CANARY");
	assert_int_equal(codec_xml_validate(doc, xsd, &np, err, sizeof(err)),
			 CS_EINVAL);
	assert_null(strstr(err, "CANARY"));
	assert_int_equal(unlink(xsd), 0);

	/* A missing schema is an error, not a pass. */
	assert_int_not_equal(codec_xml_validate(doc, xsd, &np, err, sizeof(err)),
			     CS_OK);
	assert_non_null(strstr(err, "cannot be read"));
	xmlFreeDoc(doc);
}

static void test_validate_schema_include_denied(void **state)
{
	char xsd[TU_PATH_MAX], err[256];
	xmlDocPtr doc = P("<r/>");

	(void)state;
	tu_temp_file(xsd, "<xs:schema xmlns:xs=\"http://www.w3.org/2001/"
		     "XMLSchema\"><xs:include schemaLocation=\"file:///etc/"
		     "passwd\"/><xs:element name=\"r\"/></xs:schema>");
	assert_int_equal(codec_xml_validate(doc, xsd, NULL, err, sizeof(err)),
			 CS_ERR);
	assert_non_null(strstr(err, "does not load"));
	assert_null(strstr(err, "root:"));
	assert_int_equal(unlink(xsd), 0);
	xmlFreeDoc(doc);
}

static xmlDocPtr cin_sample(void)
{
	char err[256] = "";
	size_t len;
	char *text = slurp(CIN_SAMPLE, &len);
	xmlDocPtr doc = codec_xml_parse(text, len, MAX_DOC, err, sizeof(err));

	free(text);
	if (!doc)
		fail_msg("sample rejected: %s", err);
	return doc;
}

static void test_cin_sample_validates(void **state)
{
	xmlDocPtr doc;
	xmlNodePtr child;
	char err[256] = "";
	int np = -1;

	(void)state;
	if (cin_absent()) {
		skip();
		return;
	}
	doc = cin_sample();
	if (codec_xml_validate(doc, CIN_XSD, &np, err, sizeof(err)))
		fail_msg("sample invalid: %s", err);
	assert_int_equal(np, 0);
	child = el(root(doc), "Children/Child");
	check_get(child, "ChildIdentifiers/LAchildID", 1, "DfEX0000001");
	check_get(child, "ChildCharacteristics/Disabilities/Disability", 2,
		  "HAND|HEAR");
	check_get(child, "count(CINdetails)", 1, "1");
	check_get(root(doc), "string(Header/CollectionDetails/Year)", 1, "2022");
	xmlFreeDoc(doc);
}

static void test_cin_missing_required_fails(void **state)
{
	xmlDocPtr doc;
	xmlNodePtr child;
	char err[256] = "";
	int np = 0;

	(void)state;
	if (cin_absent()) {
		skip();
		return;
	}
	doc = cin_sample();
	child = el(root(doc), "Children/Child");
	codec_xml_remove_items(child, "ChildIdentifiers/LAchildID");
	check_get(child, "ChildIdentifiers/LAchildID", 0, "");
	assert_int_equal(codec_xml_validate(doc, CIN_XSD, &np, err,
					    sizeof(err)), CS_EINVAL);
	assert_true(np >= 1);
	if (!strstr(err, ": schema error (domain ") || strncmp(err, "line ", 5))
		fail_msg("%s", err);
	xmlFreeDoc(doc);

	/* A value that breaks its type is reported without the value. */
	doc = cin_sample();
	child = el(root(doc), "Children/Child");
	set1(child, "ChildIdentifiers/PersonBirthDate", &cin_order, "CANARY-1966");
	set1(child, "ChildIdentifiers/UPN", &cin_order, "CANARY");
	np = 0;
	assert_int_equal(codec_xml_validate(doc, CIN_XSD, &np, err,
					    sizeof(err)), CS_EINVAL);
	assert_int_equal(np, 2);
	assert_null(strstr(err, "CANARY"));
	assert_non_null(strstr(err, "at element UPN"));
	xmlFreeDoc(doc);
}

/* Rebuilds the sample's ChildIdentifiers from scratch in scrambled order:
 * the ordered writes must give a document the schema accepts. */
static void test_cin_rebuilt_in_order_validates(void **state)
{
	static const char *const fields[] = {
		"GenderCurrent", "PersonDeathDate", "UPNunknown", "LAchildID",
		"ExpectedPersonBirthDate", "FormerUPN", "PersonBirthDate", "UPN",
	};
	char *vals[CS_ARRAY_LEN(fields)];
	xmlDocPtr doc;
	xmlNodePtr child;
	char err[256] = "", path[128];
	int np = -1;

	(void)state;
	if (cin_absent()) {
		skip();
		return;
	}
	doc = cin_sample();
	child = el(root(doc), "Children/Child");
	for (size_t i = 0; i < CS_ARRAY_LEN(fields); i++) {
		char **v;
		size_t n;
		void *comp;

		snprintf(path, sizeof(path), "ChildIdentifiers/%s", fields[i]);
		comp = codec_xml_xpath_compile(path, err, sizeof(err));
		assert_int_equal(codec_xml_get(child, comp, &v, &n, err,
					       sizeof(err)), CS_OK);
		assert_int_equal(n, 1);
		vals[i] = cs_strdup(v[0]);
		codec_xml_vals_free(v, n);
		codec_xml_xpath_free(comp);
	}
	codec_xml_remove_items(child, "ChildIdentifiers");
	check_get(child, "count(ChildIdentifiers)", 1, "0");
	for (size_t i = 0; i < CS_ARRAY_LEN(fields); i++) {
		snprintf(path, sizeof(path), "ChildIdentifiers/%s", fields[i]);
		set1(child, path, &cin_order, vals[i]);
		free(vals[i]);
	}
	check_get(child, "name(*[1])", 1, "ChildIdentifiers");
	check_get(child, "ChildIdentifiers/*[1]", 1, "DfEX0000001");
	if (codec_xml_validate(doc, CIN_XSD, &np, err, sizeof(err)))
		fail_msg("rebuilt sample invalid: %s", err);
	xmlFreeDoc(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_idempotent_denies_entities),
		cmocka_unit_test(test_parse_accepts),
		cmocka_unit_test(test_parse_keeps_text_drops_blanks),
		cmocka_unit_test(test_parse_rejects_xxe),
		cmocka_unit_test(test_parse_rejects_billion_laughs),
		cmocka_unit_test(test_parse_rejects_any_doctype),
		cmocka_unit_test(test_parse_leaves_xinclude_unexpanded),
		cmocka_unit_test(test_parse_rejects_invalid_utf8),
		cmocka_unit_test(test_parse_size_cap),
		cmocka_unit_test(test_parse_depth_cap),
		cmocka_unit_test(test_parse_error_names_line_not_content),
		cmocka_unit_test(test_xpath_compile_errors),
		cmocka_unit_test(test_get_values),
		cmocka_unit_test(test_get_attributes_and_namespaces),
		cmocka_unit_test(test_get_eval_errors),
		cmocka_unit_test(test_items),
		cmocka_unit_test(test_path_writable),
		cmocka_unit_test(test_set_creates_in_schema_order),
		cmocka_unit_test(test_set_repeats_replaces_removes),
		cmocka_unit_test(test_set_own_text_text_and_attributes),
		cmocka_unit_test(test_add_item_in_order),
		cmocka_unit_test(test_remove_items),
		cmocka_unit_test(test_escaping_round_trips),
		cmocka_unit_test(test_set_rejects_bad_values_without_echo),
		cmocka_unit_test(test_serialise),
		cmocka_unit_test(test_validate_small_schema),
		cmocka_unit_test(test_validate_schema_include_denied),
		cmocka_unit_test(test_cin_sample_validates),
		cmocka_unit_test(test_cin_missing_required_fails),
		cmocka_unit_test(test_cin_rebuilt_in_order_validates),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);

	xmlCleanupParser();
	return rc;
}
