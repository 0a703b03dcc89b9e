/* codec_xml.c - XML payloads: safe parsing, XPath reads, ordered writes,
 * XSD validation and serialisation, on libxml2 2.9.14 (Debian 12).
 *
 * Parsing. Options are XML_PARSE_NONET | NOERROR | NOWARNING | NOBLANKS |
 * NOCDATA, nothing else. NOBLANKS drops the whitespace-only text between
 * elements (a leaf's own whitespace, "<a> </a>", is kept), so that elements
 * the encoder inserts are indented like the rest when serialised; NOCDATA
 * turns CDATA sections into plain text. The SAX internalSubset and
 * externalSubset callbacks are replaced by one that flags the DOCTYPE and
 * stops the parser, so no declaration is ever read; the startElementNs
 * callback stops the parser past CODEC_XML_MAX_DEPTH (below libxml2's own
 * limit of 256), and the finished tree is walked again for both. The
 * encoding is the one the document declares (UTF-8 by default, so also
 * e.g. ISO-8859-1 when declared); bytes that are not valid in it are a
 * fatal error in libxml2.
 *
 * Errors. Every entry point installs a structured handler that keeps the
 * first error's line, domain and code, and silences libxml2's generic
 * channel; both are restored afterwards (they are per-thread in libxml2).
 * No libxml2 message text is ever copied: it quotes names and values.
 *
 * Quirks of 2.9.14 handled here: xmlXPathCompile() without a context has no
 * recursion limit (a deeply nested expression overflows the stack) and
 * reports through the generic channel, so expressions are compiled with
 * xmlXPathCtxtCompile() on a throwaway context, which the result does not
 * refer to. xmlSchemaNewParserCtxt(path) reads the file through the external
 * entity loader, which codec_xml_init() makes deny everything, so the XSD is
 * read here and given to xmlSchemaNewMemParserCtxt() (includes and imports
 * in it are denied). xmlNodeSetContent() parses entity references in its
 * argument, so text is set as a new text node instead. The XPath compiler
 * accepts a function call left open ("count(", "concat('a',"), so brackets
 * and quotes are checked first. */
#include "codec_xml.h"

#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/SAX2.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlreader.h>
#include <libxml/xmlschemas.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#define PARSE_OPTIONS (XML_PARSE_NONET | XML_PARSE_NOERROR |		\
		       XML_PARSE_NOWARNING | XML_PARSE_NOBLANKS |	\
		       XML_PARSE_NOCDATA)
#define XSD_MAX_BYTES (16u * 1024 * 1024)
#define XPATH_OP_LIMIT 10000000UL	/* evaluation steps per expression */
#define NAME_MAX_SHOWN 64		/* element names in schema errors */

static void seterr(char *err, size_t errsz, const char *fmt, ...)
	CS_PRINTF(3, 4);

static void seterr(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errsz)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
}

/* ---- error capture ---- */

struct xml_errs {
	int n;				/* error-level reports seen */
	int line, domain, code;		/* the first one's */
	char elem[NAME_MAX_SHOWN + 1];	/* its element, when one is known */
};

/* Keeps the element's name only when it is short plain ASCII: a name is not
 * personal data, but an untrusted document's names are bounded here. */
static void note_element(struct xml_errs *st, xmlNodePtr node)
{
	const xmlChar *name;
	size_t len;

	st->elem[0] = '\0';
	if (node && node->type == XML_ATTRIBUTE_NODE)
		node = node->parent;
	if (!node || node->type != XML_ELEMENT_NODE || !node->name)
		return;
	name = node->name;
	len = strlen((const char *)name);
	if (len == 0 || len > NAME_MAX_SHOWN ||
	    strspn((const char *)name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		   "abcdefghijklmnopqrstuvwxyz0123456789._-") != len)
		return;
	memcpy(st->elem, name, len + 1);
}

static void on_error(void *ud, xmlErrorPtr e)
{
	struct xml_errs *st = ud;

	if (!st || !e || e->level < XML_ERR_ERROR)
		return;
	if (st->n++ == 0) {
		st->line = e->line;
		st->domain = e->domain;
		st->code = e->code;
		note_element(st, e->node);
	}
}

static void discard_generic(void *ctx, const char *msg, ...)
{
	(void)ctx;
	(void)msg;
}

/* The handlers in force before an entry point installed its own. */
struct saved_handlers {
	xmlStructuredErrorFunc sfn;
	void *sctx;
	xmlGenericErrorFunc gfn;
	void *gctx;
};

static void handlers_push(struct saved_handlers *s, struct xml_errs *st)
{
	s->sfn = xmlStructuredError;
	s->sctx = xmlStructuredErrorContext;
	s->gfn = xmlGenericError;
	s->gctx = xmlGenericErrorContext;
	xmlSetStructuredErrorFunc(st, on_error);
	xmlSetGenericErrorFunc(NULL, discard_generic);
}

static void handlers_pop(const struct saved_handlers *s)
{
	xmlSetStructuredErrorFunc(s->sctx, s->sfn);
	xmlSetGenericErrorFunc(s->gctx, s->gfn);
}

/* ---- setup ---- */

static xmlParserInputPtr deny_entity(const char *url, const char *id,
				     xmlParserCtxtPtr ctxt)
{
	(void)url;
	(void)id;
	(void)ctxt;
	return NULL;
}

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void init_libxml(void)
{
	xmlInitParser();
	xmlSetExternalEntityLoader(deny_entity);
}

void codec_xml_init(void)
{
	pthread_once(&init_once, init_libxml);
}

/* ---- parsing ---- */

struct parse_state {
	struct xml_errs errs;
	int doctype;
	int too_deep;
};

static void on_doctype(void *ctx, const xmlChar *name, const xmlChar *eid,
		       const xmlChar *sid)
{
	xmlParserCtxtPtr ctxt = ctx;
	struct parse_state *ps = ctxt->_private;

	(void)name;
	(void)eid;
	(void)sid;
	ps->doctype = 1;
	xmlStopParser(ctxt);
}

static void on_start(void *ctx, const xmlChar *localname,
		     const xmlChar *prefix, const xmlChar *uri, int nb_ns,
		     const xmlChar **ns, int nb_attrs, int nb_defaulted,
		     const xmlChar **attrs)
{
	xmlParserCtxtPtr ctxt = ctx;
	struct parse_state *ps = ctxt->_private;

	/* nameNr counts the open ancestors of the element starting here. */
	if (ctxt->nameNr >= CODEC_XML_MAX_DEPTH) {
		ps->too_deep = 1;
		xmlStopParser(ctxt);
		return;
	}
	xmlSAX2StartElementNs(ctx, localname, prefix, uri, nb_ns, ns,
			      nb_attrs, nb_defaulted, attrs);
}

/* Deepest element nesting under root (root itself is 1), without recursion;
 * stops counting once past limit. */
static int tree_too_deep(xmlNodePtr root, int limit)
{
	xmlNodePtr cur = root, next;
	int depth = 1;

	while (cur) {
		if (depth > limit)
			return 1;
		next = xmlFirstElementChild(cur);
		if (next) {
			cur = next;
			depth++;
			continue;
		}
		while (cur != root && !xmlNextElementSibling(cur)) {
			cur = cur->parent;
			depth--;
		}
		if (cur == root)
			break;
		cur = xmlNextElementSibling(cur);
	}
	return 0;
}

xmlDocPtr codec_xml_parse(const char *data, size_t len, size_t max,
			  char *err, size_t errsz)
{
	struct parse_state ps;
	struct saved_handlers saved;
	xmlParserCtxtPtr ctxt;
	xmlDocPtr doc;
	int well_formed;

	codec_xml_init();
	if (len > max || len > INT_MAX) {
		seterr(err, errsz, "document too large");
		return NULL;
	}
	if (!data || len == 0) {
		seterr(err, errsz, "empty document");
		return NULL;
	}
	memset(&ps, 0, sizeof(ps));
	handlers_push(&saved, &ps.errs);
	ctxt = xmlCreateMemoryParserCtxt(data, (int)len);
	if (!ctxt) {
		handlers_pop(&saved);
		seterr(err, errsz, "out of memory");
		return NULL;
	}
	xmlCtxtUseOptions(ctxt, PARSE_OPTIONS);
	ctxt->_private = &ps;
	ctxt->sax->internalSubset = on_doctype;
	ctxt->sax->externalSubset = on_doctype;
	ctxt->sax->startElementNs = on_start;
	xmlParseDocument(ctxt);
	well_formed = ctxt->wellFormed && ctxt->nsWellFormed;
	doc = ctxt->myDoc;
	ctxt->myDoc = NULL;
	xmlFreeParserCtxt(ctxt);
	handlers_pop(&saved);

	if (ps.doctype || (doc && (doc->intSubset || doc->extSubset))) {
		seterr(err, errsz, "DOCTYPE not allowed");
	} else if (ps.too_deep || (doc && tree_too_deep(xmlDocGetRootElement(doc),
						       CODEC_XML_MAX_DEPTH))) {
		seterr(err, errsz, "nesting too deep");
	} else if (ps.errs.n) {
		seterr(err, errsz, "line %d: XML error (domain %d, code %d)",
		       ps.errs.line, ps.errs.domain, ps.errs.code);
	} else if (!well_formed || !doc || !xmlDocGetRootElement(doc)) {
		seterr(err, errsz, "XML error (not well-formed)");
	} else {
		return doc;
	}
	xmlFreeDoc(doc);
	return NULL;
}

/* ---- XPath ---- */

/* Brackets and quotes pair up. libxml2 2.9.14 compiles a function call
 * left open after "(" or "," ("count(", "concat('a',"), failing only when
 * evaluated; this catches those at compile time. XPath 1.0 literals have no
 * escapes, so a quote ends at the next one of its kind. */
static int xpath_balanced(const char *s)
{
	char stack[256];
	size_t top = 0;

	for (; *s; s++) {
		if (*s == '\'' || *s == '"') {
			s = strchr(s + 1, *s);
			if (!s)
				return 0;
		} else if (*s == '(' || *s == '[') {
			if (top == sizeof(stack))
				return 0;
			stack[top++] = *s == '(' ? ')' : ']';
		} else if (*s == ')' || *s == ']') {
			if (top == 0 || stack[--top] != *s)
				return 0;
		}
	}
	return top == 0;
}

void *codec_xml_xpath_compile(const char *expr, char *err, size_t errsz)
{
	struct xml_errs st;
	struct saved_handlers saved;
	xmlXPathContextPtr ctx;
	xmlXPathCompExprPtr comp = NULL;

	codec_xml_init();
	if (!expr || !*expr) {
		seterr(err, errsz, "empty XPath expression");
		return NULL;
	}
	if (!xpath_balanced(expr)) {
		seterr(err, errsz, "XPath does not compile (unbalanced brackets "
		       "or quotes, or nested more than 256 deep)");
		return NULL;
	}
	memset(&st, 0, sizeof(st));
	handlers_push(&saved, &st);
	ctx = xmlXPathNewContext(NULL);
	if (ctx) {
		ctx->error = on_error;
		ctx->userData = &st;
		comp = xmlXPathCtxtCompile(ctx, (const xmlChar *)expr);
		xmlXPathFreeContext(ctx);
	}
	handlers_pop(&saved);
	if (!comp) {
		if (!ctx)
			seterr(err, errsz, "out of memory");
		else
			seterr(err, errsz, "XPath does not compile "
			       "(domain %d, code %d)", st.domain, st.code);
	}
	return comp;
}

void codec_xml_xpath_free(void *comp)
{
	xmlXPathFreeCompExpr(comp);
}

/* Evaluates comp at node with the namespace prefixes in scope there. */
static xmlXPathObjectPtr eval_at(xmlNodePtr node, void *comp, char *err,
				 size_t errsz)
{
	struct xml_errs st;
	struct saved_handlers saved;
	xmlXPathContextPtr ctx;
	xmlXPathObjectPtr obj = NULL;
	xmlNsPtr *nsl = NULL;
	int oom = 0;

	codec_xml_init();
	if (!node || !comp) {
		seterr(err, errsz, "no node or no expression");
		return NULL;
	}
	memset(&st, 0, sizeof(st));
	handlers_push(&saved, &st);
	ctx = xmlXPathNewContext(node->doc);
	if (!ctx) {
		oom = 1;
		goto out;
	}
	ctx->node = node;
	ctx->error = on_error;
	ctx->userData = &st;
	ctx->opLimit = XPATH_OP_LIMIT;
	nsl = xmlGetNsList(node->doc, node);
	for (size_t i = 0; nsl && nsl[i]; i++)
		if (nsl[i]->prefix &&
		    xmlXPathRegisterNs(ctx, nsl[i]->prefix, nsl[i]->href)) {
			oom = 1;
			goto out;
		}
	obj = xmlXPathCompiledEval(comp, ctx);
	if (obj && st.n) {
		xmlXPathFreeObject(obj);
		obj = NULL;
	}
out:
	xmlFree(nsl);
	xmlXPathFreeContext(ctx);
	handlers_pop(&saved);
	if (oom)
		seterr(err, errsz, "out of memory");
	else if (!obj)
		seterr(err, errsz, "XPath evaluation failed (domain %d, code %d)",
		       st.domain, st.code);
	return obj;
}

void codec_xml_vals_free(char **vals, size_t n)
{
	if (!vals)
		return;
	for (size_t i = 0; i < n; i++)
		free(vals[i]);
	free(vals);
}

/* A malloc'd copy of an xmlChar string (NULL as ""), freeing the original. */
static char *take_xml_string(xmlChar *s)
{
	char *c = cs_strdup(s ? (const char *)s : "");

	xmlFree(s);
	return c;
}

int codec_xml_get(xmlNodePtr node, void *comp, char ***vals, size_t *n,
		  char *err, size_t errsz)
{
	xmlXPathObjectPtr obj;
	char **out = NULL;
	size_t cnt = 0;

	*vals = NULL;
	*n = 0;
	obj = eval_at(node, comp, err, errsz);
	if (!obj)
		return CS_EINVAL;
	switch (obj->type) {
	case XPATH_NODESET: {
		xmlNodeSetPtr set = obj->nodesetval;

		if (set && set->nodeNr > 0) {
			xmlXPathNodeSetSort(set);
			cnt = (size_t)set->nodeNr;
		}
		out = calloc(cnt + 1, sizeof(*out));
		if (!out)
			goto oom;
		for (size_t i = 0; i < cnt; i++) {
			out[i] = take_xml_string(xmlNodeGetContent(set->nodeTab[i]));
			if (!out[i]) {
				codec_xml_vals_free(out, i);
				goto oom;
			}
		}
		break;
	}
	case XPATH_STRING:
	case XPATH_NUMBER:
	case XPATH_BOOLEAN: {
		char *s = take_xml_string(xmlXPathCastToString(obj));

		out = calloc(2, sizeof(*out));
		if (!s || !out) {
			free(s);
			free(out);
			goto oom;
		}
		if (*s) {
			out[0] = s;
			cnt = 1;
		} else {
			free(s);
		}
		break;
	}
	default:
		seterr(err, errsz, "XPath result of unsupported type %d",
		       (int)obj->type);
		xmlXPathFreeObject(obj);
		return CS_EINVAL;
	}
	xmlXPathFreeObject(obj);
	*vals = out;
	*n = cnt;
	return CS_OK;
oom:
	xmlXPathFreeObject(obj);
	seterr(err, errsz, "out of memory");
	return CS_ENOMEM;
}

int codec_xml_items(xmlNodePtr node, void *comp, xmlNodePtr **nodes,
		    size_t *n, char *err, size_t errsz)
{
	xmlXPathObjectPtr obj;
	xmlNodeSetPtr set;
	size_t cnt;

	*nodes = NULL;
	*n = 0;
	obj = eval_at(node, comp, err, errsz);
	if (!obj)
		return CS_EINVAL;
	if (obj->type != XPATH_NODESET) {
		xmlXPathFreeObject(obj);
		seterr(err, errsz, "XPath does not select nodes");
		return CS_EINVAL;
	}
	set = obj->nodesetval;
	cnt = set && set->nodeNr > 0 ? (size_t)set->nodeNr : 0;
	for (size_t i = 0; i < cnt; i++)
		if (set->nodeTab[i]->type != XML_ELEMENT_NODE) {
			xmlXPathFreeObject(obj);
			seterr(err, errsz, "XPath selects a node that is not "
			       "an element");
			return CS_EINVAL;
		}
	if (cnt) {
		xmlXPathNodeSetSort(set);
		*nodes = malloc(cnt * sizeof(**nodes));
		if (!*nodes) {
			xmlXPathFreeObject(obj);
			seterr(err, errsz, "out of memory");
			return CS_ENOMEM;
		}
		memcpy(*nodes, set->nodeTab, cnt * sizeof(**nodes));
	}
	*n = cnt;
	xmlXPathFreeObject(obj);
	return CS_OK;
}

/* ---- writable paths ---- */

enum step_kind { STEP_ELEM, STEP_ATTR, STEP_TEXT };

struct step {
	const char *prefix;	/* NULL: no namespace */
	const char *local;
	enum step_kind kind;
};

/* A parsed writable path; n == 0 is ".". The steps point into buf. */
struct wpath {
	char *buf;
	size_t n;
	struct step s[CODEC_XML_MAX_DEPTH];
};

static int ncname_ok(const char *s)
{
	return *s && xmlValidateNCName((const xmlChar *)s, 0) == 0;
}

/* Splits s ("name" or "prefix:name") into st in place. */
static int qname_split(char *s, struct step *st)
{
	char *colon = strchr(s, ':');

	st->prefix = NULL;
	st->local = s;
	if (colon) {
		*colon = '\0';
		st->prefix = s;
		st->local = colon + 1;
		if (!ncname_ok(st->prefix))
			return -1;
	}
	return ncname_ok(st->local) ? 0 : -1;
}

static int wpath_parse(const char *expr, struct wpath *wp)
{
	char *p;

	memset(wp, 0, sizeof(*wp));
	if (!expr || !*expr)
		return CS_EINVAL;
	if (!strcmp(expr, "."))
		return CS_OK;
	wp->buf = cs_strdup(expr);
	if (!wp->buf)
		return CS_ENOMEM;
	p = wp->buf;
	for (;;) {
		char *slash = strchr(p, '/');
		struct step *st;
		int last = slash == NULL;

		if (wp->n == CODEC_XML_MAX_DEPTH)
			goto bad;
		if (slash)
			*slash = '\0';
		st = &wp->s[wp->n++];
		if (last && !strcmp(p, "text()")) {
			st->kind = STEP_TEXT;
		} else if (last && *p == '@') {
			st->kind = STEP_ATTR;
			if (qname_split(p + 1, st))
				goto bad;
			/* "@xmlns" would be written as a declaration. */
			if (!st->prefix && !strcmp(st->local, "xmlns"))
				goto bad;
		} else {
			st->kind = STEP_ELEM;
			if (qname_split(p, st))
				goto bad;
		}
		if (st->prefix && !strcmp(st->prefix, "xmlns"))
			goto bad;
		if (last)
			return CS_OK;
		p = slash + 1;
	}
bad:
	free(wp->buf);
	wp->buf = NULL;
	return CS_EINVAL;
}

int codec_xml_path_writable(const char *expr)
{
	struct wpath wp;

	if (wpath_parse(expr, &wp))
		return 0;
	free(wp.buf);
	return 1;
}

/* ---- writing ---- */

/* Valid UTF-8 made only of XML 1.0 Chars. */
static int xml_text_ok(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		unsigned int c = *p, min;
		int extra;

		if (c < 0x80) {
			if (c < 0x20 && c != 0x9 && c != 0xA && c != 0xD)
				return 0;
			p++;
			continue;
		}
		if ((c & 0xE0) == 0xC0) {
			c &= 0x1F, extra = 1, min = 0x80;
		} else if ((c & 0xF0) == 0xE0) {
			c &= 0x0F, extra = 2, min = 0x800;
		} else if ((c & 0xF8) == 0xF0) {
			c &= 0x07, extra = 3, min = 0x10000;
		} else {
			return 0;
		}
		p++;
		for (int i = 0; i < extra; i++, p++) {
			if ((*p & 0xC0) != 0x80)
				return 0;
			c = (c << 6) | (*p & 0x3F);
		}
		if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF) ||
		    c == 0xFFFE || c == 0xFFFF)
			return 0;
	}
	return 1;
}

static int step_matches(xmlNodePtr c, const struct step *st,
			const xmlChar *href)
{
	if (c->type != XML_ELEMENT_NODE ||
	    !xmlStrEqual(c->name, (const xmlChar *)st->local))
		return 0;
	if (!st->prefix)
		return c->ns == NULL;
	return href && c->ns && xmlStrEqual(c->ns->href, href);
}

static xmlNodePtr next_match(xmlNodePtr c, const struct step *st,
			     const xmlChar *href)
{
	for (; c; c = c->next)
		if (step_matches(c, st, href))
			return c;
	return NULL;
}

/* The namespace a step's prefix names at el; *ns NULL when it has no prefix.
 * -1 when the prefix is not declared there. */
static int step_ns(xmlNodePtr el, const struct step *st, xmlNsPtr *ns)
{
	*ns = NULL;
	if (!st->prefix)
		return 0;
	*ns = xmlSearchNs(el->doc, el, (const xmlChar *)st->prefix);
	return *ns ? 0 : -1;
}

static char **order_list(const struct codec_xml_order *o,
			 const xmlChar *parent)
{
	if (!o)
		return NULL;
	for (size_t i = 0; i < o->n; i++)
		if (o->parent[i] && o->children[i] &&
		    xmlStrEqual((const xmlChar *)o->parent[i], parent))
			return o->children[i];
	return NULL;
}

static long order_index(char **list, const xmlChar *name)
{
	for (long i = 0; list[i]; i++)
		if (xmlStrEqual((const xmlChar *)list[i], name))
			return i;
	return -1;
}

/* Links the new element el under parent: before the first element sibling
 * that parent's ordered list puts later than el, otherwise last (also when
 * parent or el is not listed). Names compare as local names. */
static xmlNodePtr insert_ordered(xmlNodePtr parent, xmlNodePtr el,
				 const struct codec_xml_order *order)
{
	char **list = order_list(order, parent->name);
	long idx = list ? order_index(list, el->name) : -1;

	if (idx >= 0)
		for (xmlNodePtr c = xmlFirstElementChild(parent); c;
		     c = xmlNextElementSibling(c))
			if (order_index(list, c->name) > idx)
				return xmlAddPrevSibling(c, el);
	return xmlAddChild(parent, el);
}

/* A new element for st under parent, linked in order (after prev when
 * given); NULL on allocation failure or an undeclared prefix. */
static xmlNodePtr new_child(xmlNodePtr parent, const struct step *st,
			    xmlNodePtr prev, const struct codec_xml_order *order)
{
	xmlNsPtr ns;
	xmlNodePtr el;

	if (step_ns(parent, st, &ns))
		return NULL;
	el = xmlNewDocNode(parent->doc, ns, (const xmlChar *)st->local, NULL);
	if (!el)
		return NULL;
	if (!(prev ? xmlAddNextSibling(prev, el) : insert_ordered(parent, el, order))) {
		xmlFreeNode(el);
		return NULL;
	}
	return el;
}

/* Follows the first count steps (all elements) from node: the first
 * matching child at each, created when missing and create is set. *out is
 * NULL when a step is missing and create is not set. */
static int walk(xmlNodePtr node, const struct wpath *wp, size_t count,
		int create, const struct codec_xml_order *order,
		xmlNodePtr *out, char *err, size_t errsz)
{
	xmlNodePtr cur = node;

	*out = NULL;
	for (size_t i = 0; i < count; i++) {
		const struct step *st = &wp->s[i];
		xmlNsPtr ns;
		xmlNodePtr c;

		if (step_ns(cur, st, &ns)) {
			if (!create)
				return CS_OK;
			seterr(err, errsz, "namespace prefix of step %zu not "
			       "declared", i + 1);
			return CS_EINVAL;
		}
		c = next_match(cur->children, st, ns ? ns->href : NULL);
		if (!c) {
			if (!create)
				return CS_OK;
			c = new_child(cur, st, NULL, order);
			if (!c) {
				seterr(err, errsz, "out of memory");
				return CS_ENOMEM;
			}
		}
		cur = c;
	}
	*out = cur;
	return CS_OK;
}

static void remove_text(xmlNodePtr el)
{
	xmlNodePtr c = el->children, next;

	for (; c; c = next) {
		next = c->next;
		if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) {
			xmlUnlinkNode(c);
			xmlFreeNode(c);
		}
	}
}

/* Replaces el's text children (all its children when all is set) with val,
 * taken literally: the serialiser escapes it. */
static int put_text(xmlNodePtr el, const char *val, int all)
{
	xmlNodePtr t;

	if (all) {
		xmlNodePtr c = el->children, next;

		for (; c; c = next) {
			next = c->next;
			xmlUnlinkNode(c);
			xmlFreeNode(c);
		}
	} else {
		remove_text(el);
	}
	if (!*val)
		return CS_OK;
	t = xmlNewDocText(el->doc, (const xmlChar *)val);
	if (!t)
		return CS_ENOMEM;
	if (!(el->children ? xmlAddPrevSibling(el->children, t) : xmlAddChild(el, t))) {
		xmlFreeNode(t);
		return CS_ENOMEM;
	}
	return CS_OK;
}

/* Sets the elements st names under parent to vals: existing ones reused in
 * document order, missing ones created after them, extra ones removed. */
static int put_elements(xmlNodePtr parent, const struct step *st,
			const struct codec_xml_order *order,
			char *const *vals, size_t n, char *err, size_t errsz)
{
	xmlNsPtr ns;
	xmlNodePtr cur, prev = NULL, next;

	if (step_ns(parent, st, &ns)) {
		if (n == 0)
			return CS_OK;
		seterr(err, errsz, "namespace prefix of the last step not "
		       "declared");
		return CS_EINVAL;
	}
	cur = next_match(parent->children, st, ns ? ns->href : NULL);
	for (size_t i = 0; i < n; i++) {
		xmlNodePtr el = cur;

		if (cur)
			cur = next_match(cur->next, st, ns ? ns->href : NULL);
		else if (!(el = new_child(parent, st, prev, order)))
			goto oom;
		if (put_text(el, vals[i], 1))
			goto oom;
		prev = el;
	}
	for (; cur; cur = next) {
		next = next_match(cur->next, st, ns ? ns->href : NULL);
		xmlUnlinkNode(cur);
		xmlFreeNode(cur);
	}
	return CS_OK;
oom:
	seterr(err, errsz, "out of memory");
	return CS_ENOMEM;
}

static int put_attribute(xmlNodePtr el, const struct step *st,
			 const char *val, char *err, size_t errsz)
{
	xmlNsPtr ns;
	xmlAttrPtr a;

	if (step_ns(el, st, &ns)) {
		if (!val)
			return CS_OK;
		seterr(err, errsz, "namespace prefix of the attribute not "
		       "declared");
		return CS_EINVAL;
	}
	if (!val) {
		a = xmlHasNsProp(el, (const xmlChar *)st->local,
				 ns ? ns->href : NULL);
		if (a && a->type == XML_ATTRIBUTE_NODE)
			xmlRemoveProp(a);
		return CS_OK;
	}
	/* xmlSetNsProp stores the value as a text node, unparsed. */
	if (!xmlSetNsProp(el, ns, (const xmlChar *)st->local,
			  (const xmlChar *)val)) {
		seterr(err, errsz, "out of memory");
		return CS_ENOMEM;
	}
	return CS_OK;
}

static int set_values(xmlNodePtr node, const char *path,
		      const struct codec_xml_order *order, char *const *vals,
		      size_t n, char *err, size_t errsz)
{
	struct wpath wp;
	const struct step *last;
	xmlNodePtr parent;
	int rc;

	rc = wpath_parse(path, &wp);
	if (rc) {
		seterr(err, errsz, rc == CS_ENOMEM ? "out of memory" :
		       "path is not writable");
		return rc;
	}
	last = wp.n ? &wp.s[wp.n - 1] : NULL;
	if (!node || node->type != XML_ELEMENT_NODE) {
		seterr(err, errsz, "not an element");
		rc = CS_EINVAL;
		goto out;
	}
	if (n > 1 && (!last || last->kind != STEP_ELEM)) {
		seterr(err, errsz, "path takes one value, not %zu", n);
		rc = CS_EINVAL;
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		if (!vals[i] || !xml_text_ok(vals[i])) {
			seterr(err, errsz, "value %zu is not valid XML text", i + 1);
			rc = CS_EINVAL;
			goto out;
		}
	rc = walk(node, &wp, wp.n ? wp.n - 1 : 0, n > 0, order, &parent,
		  err, errsz);
	if (rc || !parent)
		goto out;
	if (!last || last->kind == STEP_TEXT) {
		if (n == 0)
			remove_text(parent);
		else if ((rc = put_text(parent, vals[0], 0)))
			seterr(err, errsz, "out of memory");
	} else if (last->kind == STEP_ATTR) {
		rc = put_attribute(parent, last, n ? vals[0] : NULL, err, errsz);
	} else {
		rc = put_elements(parent, last, order, vals, n, err, errsz);
	}
out:
	free(wp.buf);
	return rc;
}

int codec_xml_set(xmlNodePtr node, const char *path,
		  const struct codec_xml_order *order, char *const *vals,
		  size_t n, char *err, size_t errsz)
{
	return set_values(node, path, order, vals, n, err, errsz);
}

xmlNodePtr codec_xml_add_item(xmlNodePtr node, const char *path,
			      const struct codec_xml_order *order)
{
	struct wpath wp;
	xmlNodePtr parent, el = NULL;

	if (!node || node->type != XML_ELEMENT_NODE || wpath_parse(path, &wp))
		return NULL;
	for (size_t i = 0; i < wp.n; i++)
		if (wp.s[i].kind != STEP_ELEM)
			goto out;
	if (wp.n && !walk(node, &wp, wp.n - 1, 1, order, &parent, NULL, 0))
		el = new_child(parent, &wp.s[wp.n - 1], NULL, order);
out:
	free(wp.buf);
	return el;
}

void codec_xml_remove_items(xmlNodePtr node, const char *path)
{
	if (path && strcmp(path, ".") != 0)
		set_values(node, path, NULL, NULL, 0, NULL, 0);
}

/* ---- validation ---- */

static int read_file(const char *path, char **buf, size_t *len)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 65536, n = 0;
	char *b = NULL;

	*buf = NULL;
	*len = 0;
	if (!f)
		return CS_EIO;
	for (;;) {
		size_t got;

		if (!b || n == cap) {
			char *nb;

			if (b)
				cap *= 2;
			if (cap > XSD_MAX_BYTES + 1)
				cap = XSD_MAX_BYTES + 1;
			nb = realloc(b, cap);
			if (!nb) {
				free(b);
				fclose(f);
				return CS_ENOMEM;
			}
			b = nb;
		}
		got = fread(b + n, 1, cap - n, f);
		n += got;
		if (got == 0 || n > XSD_MAX_BYTES)
			break;
	}
	if (ferror(f) || n > XSD_MAX_BYTES || n == 0) {
		free(b);
		fclose(f);
		return CS_EIO;
	}
	fclose(f);
	*buf = b;
	*len = n;
	return CS_OK;
}

/* Loads an XSD file without network or file access beyond the file itself
 * (includes and imports are denied). */
static int load_schema(const char *xsd_path, xmlSchemaPtr *out, char *err,
		       size_t errsz)
{
	struct xml_errs st;
	struct saved_handlers saved;
	xmlSchemaParserCtxtPtr pctx;
	char *xsd;
	size_t xsdlen;
	int rc;

	*out = NULL;
	rc = read_file(xsd_path, &xsd, &xsdlen);
	if (rc) {
		seterr(err, errsz, "schema %s: %s", xsd_path, rc == CS_ENOMEM ?
		       "out of memory" : "cannot be read (or empty or too large)");
		return rc;
	}
	memset(&st, 0, sizeof(st));
	handlers_push(&saved, &st);
	pctx = xmlSchemaNewMemParserCtxt(xsd, (int)xsdlen);
	if (pctx)
		xmlSchemaSetParserStructuredErrors(pctx, on_error, &st);
	*out = pctx ? xmlSchemaParse(pctx) : NULL;
	xmlSchemaFreeParserCtxt(pctx);
	handlers_pop(&saved);
	free(xsd);
	if (!*out) {
		seterr(err, errsz, "schema %s does not load: line %d: schema "
		       "error (domain %d, code %d)", xsd_path, st.line,
		       st.domain, st.code);
		return CS_ERR;
	}
	return CS_OK;
}

static void schema_error_text(const struct xml_errs *st, int rc, char *err,
			      size_t errsz)
{
	if (!st->n)
		seterr(err, errsz, "schema validation failed (result %d)", rc);
	else if (st->elem[0])
		seterr(err, errsz, "line %d: schema error (domain %d, code %d) "
		       "at element %s", st->line, st->domain, st->code, st->elem);
	else
		seterr(err, errsz, "line %d: schema error (domain %d, code %d)",
		       st->line, st->domain, st->code);
}

int codec_xml_validate(xmlDocPtr doc, const char *xsd_path, int *nproblems,
		       char *err, size_t errsz)
{
	struct xml_errs st;
	struct saved_handlers saved;
	xmlSchemaValidCtxtPtr vctx;
	xmlSchemaPtr schema;
	int rc;

	codec_xml_init();
	if (nproblems)
		*nproblems = 0;
	if (!doc || !xsd_path) {
		seterr(err, errsz, "no document or no schema");
		return CS_EINVAL;
	}
	rc = load_schema(xsd_path, &schema, err, errsz);
	if (rc)
		return rc;
	memset(&st, 0, sizeof(st));
	handlers_push(&saved, &st);
	rc = -1;
	vctx = xmlSchemaNewValidCtxt(schema);
	if (vctx) {
		xmlSchemaSetValidStructuredErrors(vctx, on_error, &st);
		/* 0 valid; > 0 an error code; -1 an internal error. */
		rc = xmlSchemaValidateDoc(vctx, doc);
		xmlSchemaFreeValidCtxt(vctx);
	}
	xmlSchemaFree(schema);
	handlers_pop(&saved);
	if (!vctx) {
		seterr(err, errsz, "out of memory");
		return CS_ENOMEM;
	}
	if (rc == 0 && st.n == 0)
		return CS_OK;
	if (nproblems)
		*nproblems = st.n ? st.n : 1;
	schema_error_text(&st, rc, err, errsz);
	return CS_EINVAL;
}

/* ---- output ---- */

int codec_xml_serialise(xmlNodePtr node, char **out, size_t *len)
{
	xmlDocPtr doc;
	xmlNodePtr copy;
	xmlChar *buf = NULL;
	int size = 0;

	*out = NULL;
	*len = 0;
	if (!node || node->type != XML_ELEMENT_NODE)
		return CS_EINVAL;
	codec_xml_init();
	doc = xmlNewDoc((const xmlChar *)"1.0");
	if (!doc)
		return CS_ENOMEM;
	/* The copy declares the namespaces it uses from node's ancestors. */
	copy = xmlDocCopyNode(node, doc, 1);
	if (!copy) {
		xmlFreeDoc(doc);
		return CS_ENOMEM;
	}
	xmlDocSetRootElement(doc, copy);
	xmlDocDumpFormatMemoryEnc(doc, &buf, &size, "UTF-8", 1);
	xmlFreeDoc(doc);
	if (!buf || size < 0) {
		xmlFree(buf);
		return CS_ENOMEM;
	}
	*out = (char *)buf;
	*len = (size_t)size;
	return CS_OK;
}

/* ---- streaming ---- */

#define STREAM_MAX_STEPS 16

struct codec_xml_stream {
	int fd;
	xmlTextReaderPtr reader;
	xmlSchemaPtr schema;
	struct xml_errs errs;
	char *steps[STREAM_MAX_STEPS];	/* the records path, one name each */
	int nsteps;
	int open_depth;			/* ancestors matched so far */
	int on_record;			/* the reader sits on a returned record */
	int done;
};

/* Splits "/A/B/C" into names; only plain absolute element paths stream. */
static int stream_steps(struct codec_xml_stream *s, const char *path)
{
	const char *p = path;

	if (!p || *p != '/')
		return CS_EINVAL;
	while (*p == '/') {
		const char *e = ++p;
		size_t n;

		while (*e && *e != '/')
			e++;
		n = (size_t)(e - p);
		if (n == 0 || s->nsteps == STREAM_MAX_STEPS ||
		    strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			   "0123456789._-") < n)
			return CS_EINVAL;
		s->steps[s->nsteps] = strndup(p, n);
		if (!s->steps[s->nsteps])
			return CS_ENOMEM;
		s->nsteps++;
		p = e;
	}
	return s->nsteps ? CS_OK : CS_EINVAL;
}

/* The prolog (before the first element) is read here first: a DOCTYPE can
 * only stand there, and the reader parses a DOCTYPE's internal subset
 * before it reports the node. 1 when one is found; 0 when the first
 * element starts first (or the prolog is not plain ASCII-compatible text:
 * the reader's own node check then applies). */
static int prolog_has_doctype(int fd)
{
	char buf[8192];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	char *p = buf, *end;

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	end = buf + n;
	if ((unsigned char)p[0] == 0xEF && (unsigned char)p[1] == 0xBB &&
	    (unsigned char)p[2] == 0xBF)
		p += 3;
	while (p < end) {
		char *close;

		p += strspn(p, " \t\r\n");
		if (*p != '<')
			return 0;
		if (!strncmp(p, "<!DOCTYPE", 9))
			return 1;
		if (!strncmp(p, "<?", 2))
			close = strstr(p, "?>");
		else if (!strncmp(p, "<!--", 4))
			close = strstr(p, "-->");
		else
			return 0;	/* an element: the prolog is over */
		if (!close)
			return 1;	/* a prolog longer than we read: refuse */
		p = close + 2 + (p[1] == '!');
	}
	return 1;
}

struct codec_xml_stream *codec_xml_stream_open(const char *path,
					       const char *records_path,
					       const char *xsd_path, char *err,
					       size_t errsz)
{
	struct codec_xml_stream *s;
	int rc;

	codec_xml_init();
	s = calloc(1, sizeof(*s));
	if (!s) {
		seterr(err, errsz, "out of memory");
		return NULL;
	}
	s->fd = -1;
	rc = stream_steps(s, records_path);
	if (rc) {
		seterr(err, errsz, rc == CS_ENOMEM ? "out of memory" :
		       "records must be a plain absolute element path to be "
		       "read as a stream");
		goto fail;
	}
	if (xsd_path && load_schema(xsd_path, &s->schema, err, errsz))
		goto fail;
	/* The file is opened here: the reader's own file loading would go
	 * through the external entity loader, which denies everything. */
	s->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (s->fd < 0) {
		seterr(err, errsz, "cannot be opened");
		goto fail;
	}
	if (prolog_has_doctype(s->fd)) {
		seterr(err, errsz, "DOCTYPE not allowed");
		goto fail;
	}
	s->reader = xmlReaderForFd(s->fd, NULL, NULL, PARSE_OPTIONS);
	if (!s->reader) {
		seterr(err, errsz, "out of memory");
		goto fail;
	}
	if (s->schema && xmlTextReaderSetSchema(s->reader, s->schema) != 0) {
		seterr(err, errsz, "schema cannot be used for streaming");
		goto fail;
	}
	xmlTextReaderSetStructuredErrorHandler(s->reader, on_error, &s->errs);
	return s;
fail:
	codec_xml_stream_close(s);
	return NULL;
}

static int stream_fail(struct codec_xml_stream *s, char *err, size_t errsz,
		       const char *what)
{
	s->done = 1;
	if (what)
		seterr(err, errsz, "%s", what);
	else if (s->errs.n && s->schema && s->errs.domain == XML_FROM_SCHEMASV)
		schema_error_text(&s->errs, 1, err, errsz);
	else if (s->errs.n)
		seterr(err, errsz, "line %d: XML error (domain %d, code %d)",
		       s->errs.line, s->errs.domain, s->errs.code);
	else
		seterr(err, errsz, "XML error (not well-formed)");
	return CS_EINVAL;
}

int codec_xml_stream_next(struct codec_xml_stream *s, xmlNodePtr *rec,
			  int *line, char *err, size_t errsz)
{
	struct saved_handlers saved;
	struct xml_errs ignored;
	int rc = 0;

	*rec = NULL;
	if (s->done)
		return 0;
	memset(&ignored, 0, sizeof(ignored));
	handlers_push(&saved, &ignored);
	for (;;) {
		int r, type, depth;
		const xmlChar *name;

		/* Past a returned record: skip its subtree (still parsed, and
		 * validated, but freed as the reader moves on). */
		if (s->on_record) {
			s->on_record = 0;
			r = xmlTextReaderNext(s->reader);
		} else {
			r = xmlTextReaderRead(s->reader);
		}
		if (s->errs.n || r < 0) {
			rc = stream_fail(s, err, errsz, NULL);
			break;
		}
		if (r == 0) {
			/* The end: every error, schema ones included, is in. */
			s->done = 1;
			if (s->schema && xmlTextReaderIsValid(s->reader) != 1)
				rc = stream_fail(s, err, errsz, s->errs.n ? NULL :
						 "schema validation failed");
			break;
		}
		type = xmlTextReaderNodeType(s->reader);
		if (type == XML_READER_TYPE_DOCUMENT_TYPE) {
			rc = stream_fail(s, err, errsz, "DOCTYPE not allowed");
			break;
		}
		if (type == XML_READER_TYPE_ENTITY_REFERENCE) {
			rc = stream_fail(s, err, errsz, "entity references not allowed");
			break;
		}
		depth = xmlTextReaderDepth(s->reader);
		if (depth >= CODEC_XML_MAX_DEPTH) {
			rc = stream_fail(s, err, errsz, "nesting too deep");
			break;
		}
		if (type != XML_READER_TYPE_ELEMENT)
			continue;
		/* Ancestors matched so far: only elements on the path count. */
		if (depth < s->open_depth)
			s->open_depth = depth;
		name = xmlTextReaderConstLocalName(s->reader);
		if (depth != s->open_depth || depth >= s->nsteps || !name ||
		    strcmp((const char *)name, s->steps[depth]))
			continue;
		if (depth + 1 < s->nsteps) {
			s->open_depth = depth + 1;
			continue;
		}
		*rec = xmlTextReaderExpand(s->reader);
		if (!*rec || s->errs.n) {
			*rec = NULL;
			rc = stream_fail(s, err, errsz, NULL);
			break;
		}
		if (tree_too_deep(*rec, CODEC_XML_MAX_DEPTH - depth)) {
			*rec = NULL;
			rc = stream_fail(s, err, errsz, "nesting too deep");
			break;
		}
		if (line)
			*line = xmlGetLineNo(*rec) > 0 ? (int)xmlGetLineNo(*rec) :
				xmlTextReaderGetParserLineNumber(s->reader);
		s->on_record = 1;
		rc = 1;
		break;
	}
	handlers_pop(&saved);
	return rc;
}

void codec_xml_stream_close(struct codec_xml_stream *s)
{
	if (!s)
		return;
	if (s->reader)
		xmlFreeTextReader(s->reader);
	if (s->schema)
		xmlSchemaFree(s->schema);
	if (s->fd >= 0)
		close(s->fd);
	for (int i = 0; i < s->nsteps; i++)
		free(s->steps[i]);
	free(s);
}
